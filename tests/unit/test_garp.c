/* common/garp: the gratuitous ARP encoding (RFC 5944 §4.6 over RFC 826), byte for byte; then,
 * in a private network namespace (unshare(CLONE_NEWNET)) on a TAP device created here, that
 * garp_announce() and garp_send() put exactly that frame on the link as an Ethernet broadcast
 * from the interface's own MAC. Addresses: 198.18.0.0/15 only. */
#include "common/garp.h"
#include "common/buf.h"
#include "common/netlink.h"
#include "common/sock.h"
#include "common/tun.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

static struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };
	if (addr4_parse(s, &a) != 0) {
		printf("Bail out! bad test address %s\n", s);
		exit(1);
	}
	return a;
}

static void test_encode(void)
{
	static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	static const uint8_t want[GARP_LEN] = {
		0x00, 0x01,                          /* hardware type: Ethernet (1) */
		0x08, 0x00,                          /* protocol type: IPv4 */
		6, 4,                                /* address lengths */
		0x00, 0x01,                          /* op: Request */
		0x02, 0x11, 0x22, 0x33, 0x44, 0x55,  /* sender hardware address */
		198, 18, 1, 100,                     /* sender protocol address */
		0, 0, 0, 0, 0, 0,                    /* target hardware address: unused */
		198, 18, 1, 100,                     /* target protocol address = sender's */
	};
	static const uint8_t mac2[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc };
	static const uint8_t want2[GARP_LEN] = {
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
		0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 198, 19, 255, 1,
		0, 0, 0, 0, 0, 0, 198, 19, 255, 1,
	};
	uint8_t buf[64];
	struct writer w;

	CHECK_EQ_U64(GARP_LEN, 28);

	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(garp_encode(&w, ip("198.18.1.100"), mac), GARP_LEN);
	CHECK_EQ_U64(writer_len(&w), GARP_LEN);
	CHECK(writer_ok(&w));
	CHECK_MEM(buf, want, GARP_LEN);

	writer_init(&w, buf, GARP_LEN);                      /* exactly enough room */
	CHECK_EQ_U64(garp_encode(&w, ip("198.19.255.1"), mac2), GARP_LEN);
	CHECK_MEM(buf, want2, GARP_LEN);

	/* After a prefix: appended, not at offset 0. */
	memset(buf, 0xee, sizeof(buf));
	writer_init(&w, buf, sizeof(buf));
	writer_u8(&w, 0x5a);
	CHECK_EQ_U64(garp_encode(&w, ip("198.18.1.100"), mac), GARP_LEN);
	CHECK_EQ_U64(writer_len(&w), 1 + GARP_LEN);
	CHECK(buf[0] == 0x5a);
	CHECK_MEM(buf + 1, want, GARP_LEN);

	/* Too little room: -ENOSPC, nothing written, writer still usable. */
	memset(buf, 0xee, sizeof(buf));
	writer_init(&w, buf, GARP_LEN - 1);
	CHECK_EQ_U64(garp_encode(&w, ip("198.18.1.100"), mac), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(writer_len(&w), 0);
	CHECK(writer_ok(&w));
	CHECK(buf[0] == 0xee);

	/* A failed writer stays failed. */
	writer_init(&w, buf, 2);
	writer_be32(&w, 1);
	CHECK(!writer_ok(&w));
	CHECK_EQ_U64(garp_encode(&w, ip("198.18.1.100"), mac), (uint64_t)-ENOSPC);
}

static void test_args(void)
{
	CHECK_EQ_U64(garp_open(0), (uint64_t)-EINVAL);
	CHECK_EQ_U64(garp_open(-1), (uint64_t)-EINVAL);
	CHECK_EQ_U64(garp_announce(NULL, ip("198.18.1.100")), (uint64_t)-EINVAL);
	CHECK_EQ_U64(garp_announce("", ip("198.18.1.100")), (uint64_t)-EINVAL);
	CHECK_EQ_U64(garp_announce("averyveryverylongname0", ip("198.18.1.100")), (uint64_t)-EINVAL);
}

static int tap_mac(int fd, uint8_t mac[6])
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

/* The next ARP frame the TAP receives (skipping IPv6 and other start-up noise), or -1. */
static ssize_t read_arp(int fd, uint8_t *frame, size_t cap)
{
	for (int tries = 0; tries < 100; tries++) {
		ssize_t n = read(fd, frame, cap);

		if (n >= 14 && frame[12] == 0x08 && frame[13] == 0x06)
			return n;
		if (n < 0)
			usleep(10000);
	}
	return -1;
}

static void check_frame(const uint8_t *frame, ssize_t n, const uint8_t src[6],
			struct in_addr a, const uint8_t mac[6])
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t want[GARP_LEN];
	struct writer w;

	CHECK(n >= 14 + GARP_LEN);
	if (n < 14 + GARP_LEN)
		return;
	writer_init(&w, want, sizeof(want));
	CHECK_EQ_U64(garp_encode(&w, a, mac), GARP_LEN);
	CHECK_MEM(frame, bcast, 6);                 /* §4.6: a local broadcast */
	CHECK_MEM(frame + 6, src, 6);
	CHECK(frame[12] == 0x08 && frame[13] == 0x06);
	CHECK_MEM(frame + 14, want, GARP_LEN);
}

static void test_netns(void)
{
	static const uint8_t other[6] = { 0x02, 0x00, 0x00, 0x12, 0x34, 0x56 };
	uint8_t mac[6], frame[256];
	int fd, gfd, ifindex;
	ssize_t n;

	if (unshare(CLONE_NEWNET) < 0) {
		printf("# SKIP namespace tests: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return;
	}
	/* Loopback is not Ethernet-like. */
	CHECK_EQ_U64(garp_announce("lo", ip("198.18.60.100")), (uint64_t)-EOPNOTSUPP);
	CHECK_EQ_U64(garp_announce("nosuchif0", ip("198.18.60.100")), (uint64_t)-ENODEV);

	fd = tun_open("garptap0", NULL, TUN_OPEN_TAP);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ_U64(tun_set_up("garptap0"), 0);
	ifindex = nl_link_index("garptap0");
	CHECK(ifindex > 0);
	CHECK_EQ_U64(tap_mac(fd, mac), 0);
	usleep(50000);
	while (read(fd, frame, sizeof(frame)) > 0)
		;

	/* garp_announce: the interface's own MAC, as sender and as Ethernet source. */
	CHECK_EQ_U64(garp_announce("garptap0", ip("198.18.60.100")), 0);
	n = read_arp(fd, frame, sizeof(frame));
	check_frame(frame, n, mac, ip("198.18.60.100"), mac);

	/* garp_open + garp_send: any MAC as the sender hardware address (the home agent
	 * announcing a mobile node's MAC); the Ethernet source is still the interface's. */
	gfd = garp_open(ifindex);
	CHECK(gfd >= 0);
	if (gfd >= 0) {
		CHECK_EQ_U64(garp_send(gfd, ifindex, ip("198.18.60.101"), other), 0);
		n = read_arp(fd, frame, sizeof(frame));
		check_frame(frame, n, mac, ip("198.18.60.101"), other);
		close(gfd);
	}
	close(fd);
}

int main(void)
{
	test_encode();
	test_args();
	test_netns();
	return tap_done();
}
