/* common/tun: a TUN device in a private network namespace. Packets the kernel routes into it
 * come out of the fd as bare IPv4; packets written to the fd arrive at local sockets. */
#include "common/tun.h"
#include "common/netlink.h"
#include "common/sock.h"
#include "tests/unit/tap.h"
#include "tests/unit/netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void enter_netns(void) { enter_netns_with(true); }


/* SIOCGIF* query of one interface, independent of the code under test. */
static bool if_query(const char *name, unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	bool ok = fd >= 0 && ioctl(fd, req, ifr) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* RFC 1071 Internet checksum over the header (checksum field zero on input). */
static uint16_t ip_checksum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* IPv4 (20 bytes, no options) + UDP (checksum 0: "not computed", allowed over IPv4). */
static size_t build_udp4(uint8_t *pkt, struct in_addr src, uint16_t sport, struct in_addr dst,
			 uint16_t dport, const void *payload, size_t plen)
{
	size_t total = 20 + 8 + plen;

	memset(pkt, 0, 28);
	pkt[0] = 0x45;
	put16(pkt + 2, (uint16_t)total);
	put16(pkt + 4, 0x1234);         /* ID */
	put16(pkt + 6, 0x4000);         /* DF */
	pkt[8] = 64;                    /* TTL */
	pkt[9] = IPPROTO_UDP;
	memcpy(pkt + 12, &src, 4);
	memcpy(pkt + 16, &dst, 4);
	put16(pkt + 10, ip_checksum(pkt, 20));
	put16(pkt + 20, sport);
	put16(pkt + 22, dport);
	put16(pkt + 24, (uint16_t)(8 + plen));
	memcpy(pkt + 28, payload, plen);
	return total;
}

/* The next IPv4 packet from the TUN, skipping IPv6 (autoconfiguration on a new link).
 * Returns its length, or -1 on timeout. */
static ssize_t read_ipv4(int tfd, uint8_t *buf, size_t cap)
{
	for (int tries = 0; tries < 50 && wait_readable(tfd, 2000); tries++) {
		ssize_t n = read(tfd, buf, cap);
		if (n >= 20 && (buf[0] >> 4) == 4)
			return n;
	}
	return -1;
}

static void test_open_errors(void)
{
	char name[IFNAMSIZ];

	memcpy(name, "untouched", 10);
	CHECK(tun_open("abcdefghijklmnopq", name, 0) == -EINVAL);
	CHECK(tun_open(NULL, name, 1u << 7) == -EINVAL);
	CHECK_STR(name, "untouched");
	CHECK(tun_set_mtu("nosuchdev0", 1400) == -ENODEV);
	CHECK(tun_set_mtu("lo", 0) == -EINVAL);
	CHECK(tun_set_mtu(NULL, 1400) == -EINVAL);
	CHECK(tun_set_up("nosuchdev0") == -ENODEV);
	CHECK(tun_set_up("") == -EINVAL);

	/* Kernel-chosen name. */
	int fd = tun_open(NULL, name, 0);
	CHECK(fd >= 0);
	CHECK(strncmp(name, "tun", 3) == 0);
	printf("# kernel named it %s\n", name);
	close(fd);
}

static void test_multi_queue(void)
{
	char a[IFNAMSIZ], b[IFNAMSIZ];

	int q0 = tun_open("mmmq0", a, TUN_OPEN_MULTI_QUEUE);
	int q1 = tun_open("mmmq0", b, TUN_OPEN_MULTI_QUEUE);
	CHECK(q0 >= 0 && q1 >= 0);
	CHECK_STR(b, "mmmq0");
	/* A single-queue open of a multi-queue device is refused. */
	CHECK(tun_open("mmmq0", NULL, 0) == -EINVAL);
	CHECK(nl_link_index("mmmq0") > 0);
	close(q0);
	CHECK(nl_link_index("mmmq0") > 0); /* one queue left */
	close(q1);
	/* Not persistent: the device goes with its last fd. */
	CHECK(nl_link_index("mmmq0") == -ENODEV);
}

int main(void)
{
	char name[IFNAMSIZ];
	struct ifreq ifr;
	uint8_t pkt[2048];

	enter_netns();
	test_open_errors();
	test_multi_queue();

	int tfd = tun_open("mmtun0", name, 0);
	CHECK(tfd >= 0);
	CHECK_STR(name, "mmtun0");
	CHECK(fcntl(tfd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(tfd, F_GETFD) & FD_CLOEXEC);
	CHECK(tun_open("mmtun0", NULL, 0) == -EBUSY); /* single queue, already attached */
	CHECK(read(tfd, pkt, sizeof(pkt)) < 0 && errno == EAGAIN);

	CHECK(tun_set_mtu(name, 1400) == 0);
	CHECK(if_query(name, SIOCGIFMTU, &ifr) && ifr.ifr_mtu == 1400);
	CHECK(if_query(name, SIOCGIFFLAGS, &ifr) && !(ifr.ifr_flags & IFF_UP));
	short before = ifr.ifr_flags;
	CHECK(tun_set_up(name) == 0);
	CHECK(tun_set_up(name) == 0); /* idempotent */
	CHECK(if_query(name, SIOCGIFFLAGS, &ifr) && (ifr.ifr_flags & IFF_UP));
	CHECK_EQ_U64((unsigned short)(ifr.ifr_flags & ~(IFF_UP | IFF_RUNNING)),
		     (unsigned short)(before & ~IFF_RUNNING)); /* POINTOPOINT, NOARP kept */
	CHECK(ifr.ifr_flags & IFF_NOARP);

	int ifindex = nl_link_index(name);
	CHECK(ifindex > 0);
	CHECK(nl_addr4_add(ifindex, ip("198.18.5.1"), 24) == 0);

	/* Kernel -> TUN: a datagram routed to 198.18.5.2 comes out of the fd as IPv4. */
	struct sockaddr_in bind_addr = { .sin_family = AF_INET, .sin_addr = ip("198.18.5.1") };
	int us = sock_udp4_open(&bind_addr, SOCK_F_PKTINFO);
	CHECK(us >= 0);
	struct sockaddr_in local;
	CHECK(sock_local4(us, &local) == 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9999),
				  .sin_addr = ip("198.18.5.2") };
	CHECK(sock_send4(us, "hello tun", 9, &to, NULL, 0) == 9);
	ssize_t n = read_ipv4(tfd, pkt, sizeof(pkt));
	CHECK(n == 20 + 8 + 9);
	if (n == 20 + 8 + 9) {
		CHECK_EQ_U64(pkt[0] >> 4, 4);
		CHECK_EQ_U64(pkt[0] & 0xf, 5);
		CHECK_EQ_U64(pkt[9], IPPROTO_UDP);
		CHECK_EQ_U64(get16(pkt + 2), n);
		CHECK_MEM(pkt + 12, &bind_addr.sin_addr, 4);
		CHECK_MEM(pkt + 16, &to.sin_addr, 4);
		CHECK_EQ_U64(ip_checksum(pkt, 20), 0); /* a valid header sums to 0 */
		CHECK_EQ_U64(get16(pkt + 20), ntohs(local.sin_port));
		CHECK_EQ_U64(get16(pkt + 22), 9999);
		CHECK_MEM(pkt + 28, "hello tun", 9);
	}

	/* TUN -> kernel: a packet written to the fd is delivered to the socket. */
	struct in_addr peer = ip("198.18.5.2");
	size_t len = build_udp4(pkt, peer, 7777, bind_addr.sin_addr, ntohs(local.sin_port),
				"from the tunnel", 15);
	CHECK(write(tfd, pkt, len) == (ssize_t)len);
	CHECK(wait_readable(us, 2000));
	struct sock_dgram_meta m;
	uint8_t buf[64];
	CHECK(sock_recv4(us, buf, sizeof(buf), &m) == 15);
	CHECK_MEM(buf, "from the tunnel", 15);
	CHECK(m.peer.sin_addr.s_addr == peer.s_addr);
	CHECK_EQ_U64(ntohs(m.peer.sin_port), 7777);
	CHECK_EQ_U64(m.ifindex, ifindex);
	CHECK(m.local.s_addr == bind_addr.sin_addr.s_addr);

	/* The same packet with a broken header checksum is dropped by the kernel. */
	pkt[10] ^= 0x01;
	CHECK(write(tfd, pkt, len) == (ssize_t)len);
	CHECK(!wait_readable(us, 200));

	close(us);
	close(tfd);
	CHECK(nl_link_index("mmtun0") == -ENODEV);
	return tap_done();
}
