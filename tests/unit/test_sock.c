/* common/sock: address parsing, then UDP and raw sockets on loopback inside a private network
 * namespace (unshare(CLONE_NEWNET)): IP_PKTINFO on receive and send, truncation, batches,
 * SO_BINDTODEVICE, raw IP-in-IP. Addresses: 127.0.0.0/8 and 198.18.0.0/15 only. */
#include "common/sock.h"
#include "common/netlink.h"
#include "common/tun.h"
#include "tests/unit/tap.h"
#include "tests/unit/netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

static struct sockaddr_in sin4(const char *addr, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr = ip(addr);
	return sa;
}

static void enter_netns(void) { enter_netns_with(true); }


/* --- parsers ------------------------------------------------------------------------- */

static void test_addr4_parse(void)
{
	static const struct { const char *s; uint32_t host; } good[] = {
		{ "0.0.0.0", 0 },
		{ "255.255.255.255", 0xffffffffu },
		{ "1.2.3.4", 0x01020304u },
		{ "198.18.0.1", 0xc6120001u },
		{ "127.0.0.1", 0x7f000001u },
		{ "10.0.0.255", 0x0a0000ffu },
		{ "100.200.10.0", 0x64c80a00u },
	};
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "1.2.3.4 ", " 1.2.3.4",
		"01.2.3.4", "1.2.3.04", "1.2.3.00", "1..2.3", "1.2.3.", ".1.2.3", "a.b.c.d",
		"1.2.3.4/24", "-1.2.3.4", "+1.2.3.4", "0x1.2.3.4", "1.2.3.1000", "1.2.3.4\n",
		"1234.1.1.1", "1.2.3.-0", "1.2.3.4.", "1", "16909060", "1.2.3.4a", "1,2,3,4",
		"999.999.999.999",
	};
	int failures = 0;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct in_addr a = { 0 };
		CHECK_LOOP(addr4_parse(good[i].s, &a) == 0, failures);
		CHECK_LOOP(ntohl(a.s_addr) == good[i].host, failures);
	}
	CHECK_EQ_U64(failures, 0);

	failures = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct in_addr a = { .s_addr = 0x5a5a5a5a };
		int rc = addr4_parse(bad[i], &a);
		if (rc != -EINVAL || a.s_addr != 0x5a5a5a5a) {
			printf("# accepted or clobbered: \"%s\"\n", bad[i]);
			failures++;
		}
	}
	CHECK_EQ_U64(failures, 0);
	CHECK(addr4_parse(NULL, &(struct in_addr){ 0 }) == -EINVAL);
}

static void test_prefix4_parse(void)
{
	struct in_addr net = { 0 };
	unsigned plen = 99;

	CHECK(prefix4_parse("198.18.0.0/15", &net, &plen) == 0);
	CHECK_EQ_U64(ntohl(net.s_addr), 0xc6120000u);
	CHECK_EQ_U64(plen, 15);
	CHECK(prefix4_parse("0.0.0.0/0", &net, &plen) == 0 && net.s_addr == 0 && plen == 0);
	CHECK(prefix4_parse("127.0.0.1/32", &net, &plen) == 0 && plen == 32);
	/* Host bits set: reported (1), address kept as written. */
	CHECK(prefix4_parse("198.18.5.1/24", &net, &plen) == 1);
	CHECK_EQ_U64(ntohl(net.s_addr), 0xc6120501u);
	CHECK_EQ_U64(plen, 24);
	CHECK_EQ_U64(ntohl(prefix4_network(net, plen).s_addr), 0xc6120500u);
	CHECK(prefix4_parse("1.2.3.4/0", &net, &plen) == 1);

	static const char *const bad[] = {
		"1.2.3.4", "1.2.3.4/", "1.2.3.4/33", "1.2.3.4/024", "1.2.3.4/ 24", "1.2.3.4/24 ",
		"1.2.3.4/-1", "1.2.3.4//24", "/24", "1.2.3.4/3a", "1.2.3/24", "256.0.0.0/8",
		"1.2.3.4/100", "1.2.3.4/+8", "",
	};
	int failures = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct in_addr n = { .s_addr = 0x5a5a5a5a };
		unsigned l = 77;
		if (prefix4_parse(bad[i], &n, &l) != -EINVAL || n.s_addr != 0x5a5a5a5a || l != 77) {
			printf("# accepted or clobbered: \"%s\"\n", bad[i]);
			failures++;
		}
	}
	CHECK_EQ_U64(failures, 0);
}

static void test_prefix_helpers(void)
{
	char buf[ADDR4_STRLEN];

	CHECK_EQ_U64(ntohl(prefix4_mask(0).s_addr), 0);
	CHECK_EQ_U64(ntohl(prefix4_mask(1).s_addr), 0x80000000u);
	CHECK_EQ_U64(ntohl(prefix4_mask(15).s_addr), 0xfffe0000u);
	CHECK_EQ_U64(ntohl(prefix4_mask(32).s_addr), 0xffffffffu);
	CHECK(prefix4_contains(ip("198.18.0.0"), 15, ip("198.19.255.255")));
	CHECK(!prefix4_contains(ip("198.18.0.0"), 15, ip("198.20.0.0")));
	CHECK(!prefix4_contains(ip("198.18.0.0"), 15, ip("198.17.255.255")));
	CHECK(prefix4_contains(ip("0.0.0.0"), 0, ip("255.255.255.255")));
	CHECK(prefix4_contains(ip("198.18.0.1"), 32, ip("198.18.0.1")));
	CHECK(!prefix4_contains(ip("198.18.0.1"), 32, ip("198.18.0.2")));
	CHECK(prefix4_contains(ip("198.18.5.1"), 24, ip("198.18.5.200"))); /* host bits ignored */
	CHECK(!prefix4_contains(ip("198.18.0.1"), 33, ip("198.18.0.1")));
	CHECK_STR(addr4_str(ip("198.18.0.1"), buf), "198.18.0.1");
	CHECK_STR(addr4_str(ip("255.255.255.255"), buf), "255.255.255.255");
	CHECK_STR(addr4_str(ip("0.0.0.0"), buf), "0.0.0.0");
}

/* --- opening ------------------------------------------------------------------------- */

static void test_open(void)
{
	struct sockaddr_in any = sin4("0.0.0.0", 0), local;
	struct sockaddr_in v6ish = any;

	int fd = sock_udp4_open(&any, SOCK_F_REUSEADDR | SOCK_F_PKTINFO | SOCK_F_NO_PMTUD);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	memset(&local, 0, sizeof(local));
	CHECK(sock_local4(fd, &local) == 0);
	CHECK(local.sin_port != 0); /* ephemeral port chosen */
	close(fd);

	CHECK(sock_udp4_open(NULL, 1u << 30) == -EINVAL);
	CHECK(sock_udp4_open(NULL, SOCK_F_HDRINCL) == -EINVAL);
	v6ish.sin_family = AF_INET6;
	CHECK(sock_udp4_open(&v6ish, 0) == -EINVAL);
	CHECK(sock_raw4_open(IPPROTO_IPIP, SOCK_F_REUSEADDR) == -EINVAL);
	CHECK(sock_raw4_open(0, 0) == -EINVAL);

	/* 198.18.0.77 is not configured: only IP_FREEBIND lets a daemon bind it ahead of time. */
	struct sockaddr_in absent = sin4("198.18.0.77", 4500);
	CHECK(sock_udp4_open(&absent, 0) == -EADDRNOTAVAIL);
	fd = sock_udp4_open(&absent, SOCK_F_FREEBIND);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);

	/* Two sockets on the same port: refused, REUSEADDR does not allow it for UDP unicast
	 * either (that needs SO_REUSEPORT), so a second daemon instance cannot steal traffic. */
	struct sockaddr_in p = sin4("127.0.0.1", 0);
	int a = sock_udp4_open(&p, SOCK_F_REUSEADDR);
	CHECK(sock_local4(a, &p) == 0);
	int b = sock_udp4_open(&p, 0);
	CHECK(b == -EADDRINUSE);
	close(a);
}

/* --- single datagrams ---------------------------------------------------------------- */

struct pair {
	int srv, cli;
	struct sockaddr_in srv_addr; /* 0.0.0.0:port */
	struct sockaddr_in cli_addr;
};

static void pair_open(struct pair *p)
{
	struct sockaddr_in any = sin4("0.0.0.0", 0);

	p->srv = sock_udp4_open(&any, SOCK_F_PKTINFO | SOCK_F_REUSEADDR);
	p->cli = sock_udp4_open(&any, SOCK_F_PKTINFO);
	if (p->srv < 0 || p->cli < 0 || sock_local4(p->srv, &p->srv_addr) != 0 ||
	    sock_local4(p->cli, &p->cli_addr) != 0) {
		printf("Bail out! cannot open UDP sockets\n");
		exit(1);
	}
}

static void pair_close(struct pair *p)
{
	close(p->srv);
	close(p->cli);
}

static struct sockaddr_in at(const struct pair *p, const char *addr)
{
	return sin4(addr, ntohs(p->srv_addr.sin_port));
}

static void test_pktinfo(int lo)
{
	struct pair p;
	struct sock_dgram_meta m;
	uint8_t buf[256];
	char s[ADDR4_STRLEN];

	pair_open(&p);
	CHECK(sock_recv4(p.srv, buf, sizeof(buf), &m) == -EAGAIN);

	struct sockaddr_in to = at(&p, "127.0.0.1");
	CHECK(sock_send4(p.cli, "ping", 4, &to, NULL, 0) == 4);
	memset(&m, 0xa5, sizeof(m));
	CHECK(sock_recv4(p.srv, buf, sizeof(buf), &m) == 4);
	CHECK_MEM(buf, "ping", 4);
	CHECK_STR(addr4_str(m.peer.sin_addr, s), "127.0.0.1");
	CHECK_EQ_U64(ntohs(m.peer.sin_port), ntohs(p.cli_addr.sin_port));
	CHECK_STR(addr4_str(m.local, s), "127.0.0.1");
	CHECK_STR(addr4_str(m.dst, s), "127.0.0.1");
	CHECK_EQ_U64(m.ifindex, lo);

	/* To the second address: the server learns which of its addresses was used. */
	to = at(&p, "198.18.0.1");
	CHECK(sock_send4(p.cli, "two", 3, &to, NULL, 0) == 3);
	CHECK(sock_recv4(p.srv, buf, sizeof(buf), &m) == 3);
	CHECK_STR(addr4_str(m.local, s), "198.18.0.1");
	CHECK_STR(addr4_str(m.dst, s), "198.18.0.1");
	CHECK_EQ_U64(m.ifindex, lo);

	/* meta is optional */
	CHECK(sock_send4(p.cli, "x", 1, &to, NULL, 0) == 1);
	CHECK(sock_recv4(p.srv, buf, sizeof(buf), NULL) == 1);

	/* A zero-length datagram is a datagram. */
	CHECK(sock_send4(p.cli, "", 0, &to, NULL, 0) == 0);
	CHECK(sock_recv4(p.srv, buf, sizeof(buf), &m) == 0);
	pair_close(&p);
}

static void test_source_selection(int lo)
{
	struct pair p;
	struct sock_dgram_meta m;
	uint8_t buf[64];
	char s[ADDR4_STRLEN];
	struct sockaddr_in to;
	struct in_addr from;

	pair_open(&p);
	to = at(&p, "127.0.0.1");

	from = ip("198.18.0.1");
	CHECK(sock_send4(p.cli, "a", 1, &to, &from, 0) == 1);
	CHECK(sock_recv4(p.srv, buf, sizeof(buf), &m) == 1);
	CHECK_STR(addr4_str(m.peer.sin_addr, s), "198.18.0.1");
	CHECK_STR(addr4_str(m.local, s), "127.0.0.1");

	from = ip("127.0.0.1");
	CHECK(sock_send4(p.cli, "b", 1, &to, &from, lo) == 1);
	CHECK(sock_recv4(p.srv, buf, sizeof(buf), &m) == 1);
	CHECK_STR(addr4_str(m.peer.sin_addr, s), "127.0.0.1");

	/* Reply the way a daemon does: from the address the request was sent to. */
	to = at(&p, "198.18.0.1");
	CHECK(sock_send4(p.cli, "req", 3, &to, NULL, 0) == 3);
	CHECK(sock_recv4(p.srv, buf, sizeof(buf), &m) == 3);
	CHECK(sock_send4(p.srv, "rep", 3, &m.peer, &m.local, m.ifindex) == 3);
	struct sock_dgram_meta r;
	CHECK(sock_recv4(p.cli, buf, sizeof(buf), &r) == 3);
	CHECK_STR(addr4_str(r.peer.sin_addr, s), "198.18.0.1");
	CHECK_EQ_U64(ntohs(r.peer.sin_port), ntohs(p.srv_addr.sin_port));

	/* A source that is not ours is refused by the kernel (-ENETUNREACH from the route
	 * lookup; older kernels said -EINVAL). */
	from = ip("198.18.0.99");
	ssize_t rc = sock_send4(p.cli, "c", 1, &to, &from, 0);
	CHECK(rc == -ENETUNREACH || rc == -EINVAL);
	CHECK(sock_send4(p.cli, "c", 1, &to, NULL, -1) == -EINVAL);
	pair_close(&p);
}

static void test_truncation(void)
{
	struct pair p;
	uint8_t big[100], buf[100];
	struct sock_dgram_meta m = { .ifindex = 4242 };

	pair_open(&p);
	struct sockaddr_in to = at(&p, "127.0.0.1");
	memset(big, 0x42, sizeof(big));
	CHECK(sock_send4(p.cli, big, sizeof(big), &to, NULL, 0) == (ssize_t)sizeof(big));
	CHECK(sock_recv4(p.srv, buf, 50, &m) == -EMSGSIZE);
	CHECK_EQ_U64(m.ifindex, 4242); /* untouched on failure */
	/* The truncated datagram is gone, not left for a second, bigger read. */
	CHECK(sock_recv4(p.srv, buf, sizeof(buf), &m) == -EAGAIN);
	/* Exactly fitting is not truncation. */
	CHECK(sock_send4(p.cli, big, 50, &to, NULL, 0) == 50);
	CHECK(sock_recv4(p.srv, buf, 50, &m) == 50);
	pair_close(&p);
}

/* --- batches ------------------------------------------------------------------------- */

#define BATCH_BUF 256

static size_t dgram_len(unsigned i)
{
	return 8 + (i * 37) % 200;
}

static void dgram_fill(uint8_t *d, unsigned i)
{
	size_t n = dgram_len(i);
	for (size_t k = 0; k < n; k++)
		d[k] = (uint8_t)(i * 31 + k * 7);
	d[0] = (uint8_t)i; /* sequence, to match datagrams to slots */
}

static void test_batch(int lo)
{
	static uint8_t sbufs[SOCK_BATCH_MAX * BATCH_BUF], rbufs[SOCK_BATCH_MAX * BATCH_BUF];
	static struct sock_batch sb, rb;
	struct pair p;
	char s[ADDR4_STRLEN];

	CHECK(sock_batch_init(&sb, sbufs, 0, BATCH_BUF) == -EINVAL);
	CHECK(sock_batch_init(&sb, sbufs, SOCK_BATCH_MAX + 1, BATCH_BUF) == -EINVAL);
	CHECK(sock_batch_init(&sb, sbufs, 4, 0) == -EINVAL);
	CHECK(sock_batch_init(&sb, NULL, 4, BATCH_BUF) == -EINVAL);
	CHECK(sock_batch_init(&sb, sbufs, SOCK_BATCH_MAX, BATCH_BUF) == 0);
	CHECK(sock_batch_init(&rb, rbufs, SOCK_BATCH_MAX, BATCH_BUF) == 0);

	pair_open(&p);
	CHECK(sock_recv4_batch(p.srv, &rb) == -EAGAIN);

	/* 64 datagrams of different lengths and contents, even ones from 198.18.0.1. */
	struct in_addr alt = ip("198.18.0.1");
	for (unsigned i = 0; i < SOCK_BATCH_MAX; i++) {
		struct sock_batch_slot *sl = &sb.slot[i];
		dgram_fill(sl->data, i);
		sl->len = dgram_len(i);
		sl->meta.peer = at(&p, "127.0.0.1");
		sl->meta.local = (i % 2 == 0) ? alt : (struct in_addr){ 0 };
		sl->meta.ifindex = (i % 4 == 1) ? lo : 0;
	}
	sb.count = SOCK_BATCH_MAX;
	CHECK(sock_send4_batch(p.cli, &sb, SOCK_BATCH_MAX) == -EINVAL);
	unsigned sent = 0;
	while (sent < sb.count) {
		int n = sock_send4_batch(p.cli, &sb, sent);
		if (n <= 0)
			break;
		sent += (unsigned)n;
	}
	CHECK_EQ_U64(sent, SOCK_BATCH_MAX);

	unsigned got = 0, bad = 0, calls = 0;
	bool seen[SOCK_BATCH_MAX] = { false };
	while (got < SOCK_BATCH_MAX && calls++ < 100) {
		int n = sock_recv4_batch(p.srv, &rb);
		if (n == -EAGAIN && wait_readable(p.srv, 2000))
			continue;
		if (n <= 0)
			break;
		CHECK_LOOP((unsigned)n == rb.count, bad);
		for (unsigned k = 0; k < rb.count; k++) {
			const struct sock_batch_slot *sl = &rb.slot[k];
			uint8_t want[BATCH_BUF];
			unsigned i = sl->len ? sl->data[0] : 0;

			CHECK_LOOP(i < SOCK_BATCH_MAX && !seen[i], bad);
			if (i >= SOCK_BATCH_MAX)
				continue;
			seen[i] = true;
			dgram_fill(want, i);
			CHECK_LOOP(!sl->truncated, bad);
			CHECK_LOOP(sl->len == dgram_len(i), bad);
			CHECK_LOOP(memcmp(sl->data, want, dgram_len(i)) == 0, bad);
			CHECK_LOOP(sl->data == rbufs + (size_t)k * BATCH_BUF, bad);
			CHECK_LOOP(sl->meta.ifindex == lo, bad);
			CHECK_LOOP(sl->meta.local.s_addr == htonl(INADDR_LOOPBACK), bad);
			CHECK_LOOP(sl->meta.peer.sin_port == p.cli_addr.sin_port, bad);
			CHECK_LOOP(sl->meta.peer.sin_addr.s_addr ==
				   (i % 2 == 0 ? alt.s_addr : htonl(INADDR_LOOPBACK)), bad);
		}
		got += rb.count;
	}
	CHECK_EQ_U64(got, SOCK_BATCH_MAX);
	CHECK_EQ_U64(bad, 0);
	printf("# batch: 64 datagrams in %u recvmmsg calls\n", calls);
	CHECK_STR(addr4_str(rb.slot[0].meta.local, s), "127.0.0.1");

	/* Truncation inside a batch: flagged per slot, the others intact. */
	static uint8_t small[4 * 32];
	static struct sock_batch tb;
	CHECK(sock_batch_init(&tb, small, 4, 32) == 0);
	for (unsigned i = 0; i < 3; i++) {
		sb.slot[i].len = i == 1 ? 64 : 16;
		sb.slot[i].meta.local.s_addr = 0;
		sb.slot[i].meta.ifindex = 0;
	}
	sb.count = 3;
	CHECK(sock_send4_batch(p.cli, &sb, 0) == 3);
	CHECK(sock_recv4_batch(p.srv, &tb) == 3);
	CHECK(!tb.slot[0].truncated && tb.slot[0].len == 16);
	CHECK(tb.slot[1].truncated);
	CHECK(!tb.slot[2].truncated && tb.slot[2].len == 16);

	/* Resuming at `first`, and a slot pointing at the caller's own bytes. */
	sb.slot[2].data = (uint8_t *)"elsewhere";
	sb.slot[2].len = 9;
	CHECK(sock_send4_batch(p.cli, &sb, 2) == 1);
	CHECK(sock_recv4_batch(p.srv, &tb) == 1);
	CHECK(tb.slot[0].len == 9 && memcmp(tb.slot[0].data, "elsewhere", 9) == 0);

	/* A bad slot fails alone: the ones before it are sent, and the error is reported
	 * when the caller resumes at it. */
	sb.slot[1].meta.local = ip("198.18.0.99");
	sb.slot[0].len = sb.slot[1].len = sb.slot[2].len = 4;
	sb.count = 3;
	CHECK(sock_send4_batch(p.cli, &sb, 0) == 1);
	int rc = sock_send4_batch(p.cli, &sb, 1);
	CHECK(rc == -ENETUNREACH || rc == -EINVAL);
	CHECK(sock_send4_batch(p.cli, &sb, 2) == 1);
	CHECK(sock_recv4_batch(p.srv, &tb) == 2);
	pair_close(&p);
}

/* --- SO_BINDTODEVICE ----------------------------------------------------------------- */

static void test_bind_device(void)
{
	struct pair p;
	uint8_t buf[64];
	char tname[IFNAMSIZ];

	pair_open(&p);
	CHECK(sock_bind_device(p.srv, "lo") == 0);
	CHECK(sock_bind_device(p.srv, "nosuchdev0") == -ENODEV);
	CHECK(sock_bind_device(p.srv, "abcdefghijklmnopq") == -EINVAL);
	CHECK(sock_bind_device(p.srv, NULL) == 0);
	CHECK(sock_bind_device(p.srv, "") == 0);

	/* A server bound to another interface does not see what arrives on lo. */
	int tfd = tun_open("mmbind0", tname, 0);
	CHECK(tfd >= 0);
	CHECK(tun_set_up(tname) == 0);
	CHECK(sock_bind_device(p.srv, tname) == 0);
	struct sockaddr_in to = at(&p, "127.0.0.1");
	CHECK(sock_send4(p.cli, "hidden", 6, &to, NULL, 0) == 6);
	CHECK(!wait_readable(p.srv, 100));
	CHECK(sock_bind_device(p.srv, NULL) == 0);
	CHECK(sock_send4(p.cli, "seen", 4, &to, NULL, 0) == 4);
	CHECK(sock_recv4(p.srv, buf, sizeof(buf), NULL) == 4);

	/* A client bound to the TUN sends through it even to a destination the routing table
	 * puts elsewhere (198.18.0.1 is local, on lo): the device binding wins. */
	int ifx = nl_link_index(tname);
	CHECK(nl_addr4_add(ifx, ip("198.18.8.1"), 24) == 0);
	CHECK(sock_bind_device(p.cli, tname) == 0);
	to = sin4("198.18.0.1", 4500);
	CHECK(sock_send4(p.cli, "out", 3, &to, NULL, 0) == 3);
	uint8_t pkt[1500];
	ssize_t n = -1;
	for (int tries = 0; tries < 20 && wait_readable(tfd, 1000); tries++) {
		n = read(tfd, pkt, sizeof(pkt));
		if (n >= 20 && (pkt[0] >> 4) == 4 && pkt[9] == IPPROTO_UDP)
			break;
		n = -1; /* IPv6 autoconfiguration chatter on the new link */
	}
	CHECK(n == 20 + 8 + 3);
	CHECK(n > 20 && memcmp(pkt + 16, &to.sin_addr, 4) == 0);
	CHECK(sock_recv4(p.srv, buf, sizeof(buf), NULL) == -EAGAIN); /* not delivered locally */
	close(tfd);
	pair_close(&p);
}

/* --- raw IP-in-IP -------------------------------------------------------------------- */

static void test_raw(void)
{
	struct sock_dgram_meta m;
	uint8_t buf[256], inner[40];
	char s[ADDR4_STRLEN];

	int rx = sock_raw4_open(IPPROTO_IPIP, SOCK_F_PKTINFO);
	int tx = sock_raw4_open(IPPROTO_IPIP, 0);
	CHECK(rx >= 0 && tx >= 0);
	CHECK(fcntl(rx, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(rx, F_GETFD) & FD_CLOEXEC);

	for (size_t i = 0; i < sizeof(inner); i++)
		inner[i] = (uint8_t)(0x45 + i);
	struct sockaddr_in to = sin4("198.18.0.1", 0);
	CHECK(sock_send4(tx, inner, sizeof(inner), &to, NULL, 0) == (ssize_t)sizeof(inner));
	CHECK(wait_readable(rx, 2000));
	ssize_t n = sock_recv4(rx, buf, sizeof(buf), &m);
	CHECK(n == 20 + (ssize_t)sizeof(inner)); /* the outer header comes with it */
	CHECK_EQ_U64(buf[0], 0x45);
	CHECK_EQ_U64(buf[9], IPPROTO_IPIP);
	CHECK_MEM(buf + 16, &to.sin_addr, 4);
	CHECK_MEM(buf + 20, inner, sizeof(inner));
	CHECK_STR(addr4_str(m.local, s), "198.18.0.1");
	CHECK_EQ_U64(ntohs(m.peer.sin_port), 0);

	/* With IP_HDRINCL the caller writes the outer header (the kernel fills in total length,
	 * checksum and, when 0, the ID). */
	int htx = sock_raw4_open(IPPROTO_RAW, SOCK_F_HDRINCL);
	CHECK(htx >= 0);
	uint8_t pkt[20 + 8] = { 0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, IPPROTO_IPIP, 0, 0,
				127, 0, 0, 1, 198, 18, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8 };
	CHECK(sock_send4(htx, pkt, sizeof(pkt), &to, NULL, 0) == (ssize_t)sizeof(pkt));
	CHECK(wait_readable(rx, 2000));
	n = sock_recv4(rx, buf, sizeof(buf), &m);
	CHECK(n == (ssize_t)sizeof(pkt));
	CHECK_MEM(buf + 20, pkt + 20, 8);
	CHECK_STR(addr4_str(m.peer.sin_addr, s), "127.0.0.1");
	close(htx);
	close(rx);
	close(tx);
}

/* sock_set_buffers: as root the FORCE options go past net.core.rmem_max; the kernel
 * reports twice the requested size (socket(7)). 0 leaves a buffer alone. */
static void test_buffers(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = sock_udp4_open(&sa, 0), v = 0, before = 0;
	socklen_t l = sizeof(v);

	CHECK(fd >= 0);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &before, &l) == 0);
	CHECK(sock_set_buffers(fd, SOCK_DATAPATH_BUF, 0) == 0);
	l = sizeof(v);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l) == 0);
	CHECK_EQ_U64(v, 2 * SOCK_DATAPATH_BUF);
	l = sizeof(v);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l) == 0);
	CHECK_EQ_U64(v, before);
	CHECK(sock_set_buffers(fd, 0, 1 << 20) == 0);
	l = sizeof(v);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l) == 0);
	CHECK_EQ_U64(v, 2 << 20);
	CHECK(sock_set_buffers(-1, 1 << 20, 0) == -EBADF);
	close(fd);
}

int main(void)
{
	enter_netns(); /* first: a skip must come before any test line */
	test_addr4_parse();
	test_prefix4_parse();
	test_prefix_helpers();

	int lo = nl_link_index("lo");
	CHECK(lo > 0);
	CHECK(nl_addr4_add(lo, ip("198.18.0.1"), 32) == 0);

	test_open();
	test_pktinfo(lo);
	test_source_selection(lo);
	test_truncation();
	test_batch(lo);
	test_bind_device();
	test_raw();
	test_buffers();
	return tap_done();
}
