/* Unit test of the shared ESP data path (daemon/espdp.c, espsel.c) in two private network
 * namespaces joined by a veth pair:
 *
 *	nsA "gateway": va 198.18.250.1/24, TUN gwtun 198.18.100.254/32, pool 198.18.100.0/24
 *	               routed into gwtun; UDP 198.18.250.1:4500
 *	nsB "client":  vb 198.18.250.2/24, TUN mntun 198.18.100.1/32 (the TIA), 198.18.0.0/16
 *	               routed into mntun; UDP 198.18.250.2:4500
 *
 * Two data path instances with hand-made struct ike_child_info pairs (fixed keys) carry an
 * ICMP echo from the client's TIA to the gateway's inner address and the reply back, for
 * AES-GCM-128/256, ChaCha20-Poly1305 and AES-CBC + HMAC-SHA2-256-128; then packets forged
 * with the same keys (esp/ API) check replay, tampering, unknown SPI, selector mismatch,
 * keepalives, IKE hand-off, invalid payloads, a NAT mapping change, rekeying (the newest SA
 * carries the traffic) and lifetimes (fake time). Needs root (skipped otherwise).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/netlink.h"
#include "common/sock.h"
#include "esp/esp.h"
#include "esp/esp_sa.h"
#include "daemon/espdp.h"
#include "daemon/espsel.h"
#include "tests/unit/netns.h"
#include "tests/unit/tap.h"

#define SPI_AB 0x0a0b0001u     /* carries A -> B (B's inbound) */
#define SPI_BA 0x0b0a0001u     /* carries B -> A (A's inbound) */

static int ns_a, ns_b;
static int tun_a, tun_b, udp_a, udp_b, ping_fd;
static struct espdp *dp_a, *dp_b;

/* What the callbacks saw. */
static int ike_calls;
static uint8_t ike_msg[64];
static size_t ike_len;
static struct sock_dgram_meta ike_meta;
static struct { uint32_t spi; bool hard; } expired[16];
static int nexpired;
static int activity_calls;
static int activity_ba;        /* of those, for A's inbound SPI_BA */

static void on_ike(void *user, const uint8_t *msg, size_t len, const struct sock_dgram_meta *m)
{
	(void)user;
	ike_calls++;
	ike_len = len < sizeof(ike_msg) ? len : sizeof(ike_msg);
	memcpy(ike_msg, msg, ike_len);
	ike_meta = *m;
}

static void on_expired(void *user, uint32_t spi_in, bool hard)
{
	(void)user;
	if (nexpired < 16) {
		expired[nexpired].spi = spi_in;
		expired[nexpired].hard = hard;
	}
	nexpired++;
}

static void on_activity(void *user, uint32_t spi_in, mm_time_ns now)
{
	(void)user;
	(void)now;
	activity_calls++;
	activity_ba += spi_in == SPI_BA;
}

static void enter(int fd)
{
	if (setns(fd, CLONE_NEWNET) < 0) {
		printf("Bail out! setns: %s\n", strerror(errno));
		exit(1);
	}
}

static int new_ns(void)
{
	int fd;

	enter_netns_with(true);
	fd = open("/proc/self/ns/net", O_RDONLY);   /* inherited by "ip" below */
	if (fd < 0) {
		printf("Bail out! /proc/self/ns/net: %s\n", strerror(errno));
		exit(1);
	}
	return fd;
}

static void must(int rc, const char *what)
{
	if (rc < 0) {
		printf("Bail out! %s: %s\n", what, strerror(-rc));
		exit(1);
	}
}

static void setup_net(void)
{
	char cmd[256];
	const char *what = "";
	struct in_addr pool = ip("198.18.100.0"), intra = ip("198.18.0.0");
	int idx;

	ns_a = new_ns();
	ns_b = new_ns();
	/* In nsB: the veth pair, one end moved to nsA. */
	snprintf(cmd, sizeof(cmd), "ip link add vb type veth peer name va && "
		 "ip link set va netns /proc/self/fd/%d", ns_a);
	if (system(cmd) != 0) {
		printf("Bail out! cannot create the veth pair\n");
		exit(1);
	}
	idx = nl_link_index("vb");
	must(idx, "vb");
	must(nl_addr4_add(idx, ip("198.18.250.2"), 24), "vb address");
	must(nl_link_set_up(idx, true), "vb up");
	tun_b = espdp_open_tun("mntun", 1400, ip("198.18.100.1"), &intra, 16, NULL, &idx,
			       &what);
	must(tun_b, what);
	udp_b = espdp_open_udp(ip("198.18.250.2"), 4500);
	must(udp_b, "udp B");
	ping_fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
	must(ping_fd < 0 ? -errno : 0, "raw ICMP socket");

	enter(ns_a);
	idx = nl_link_index("va");
	must(idx, "va");
	must(nl_addr4_add(idx, ip("198.18.250.1"), 24), "va address");
	must(nl_link_set_up(idx, true), "va up");
	tun_a = espdp_open_tun("gwtun", 1400, ip("198.18.100.254"), &pool, 24, NULL, &idx,
			       &what);
	must(tun_a, what);
	udp_a = espdp_open_udp(ip("198.18.250.1"), 4500);
	must(udp_a, "udp A");
}

static void setup_dp(void)
{
	struct espdp_config c;

	memset(&c, 0, sizeof(c));
	c.tun_fd = tun_a;
	c.udp_fd = udp_a;
	c.listen = ip("198.18.250.1");
	c.ike_input = on_ike;
	c.expired = on_expired;
	c.activity = on_activity;
	must(espdp_new(&c, &dp_a), "dp A");
	c.tun_fd = tun_b;
	c.udp_fd = udp_b;
	c.listen = ip("198.18.250.2");
	c.batch = 8;
	must(espdp_new(&c, &dp_b), "dp B");
}

/* Move packets between the two instances until nothing is readable for quiet_ms. */
static void pump(int quiet_ms)
{
	for (int rounds = 0; rounds < 1000; rounds++) {
		struct pollfd p[4] = {
			{ .fd = tun_a, .events = POLLIN }, { .fd = udp_a, .events = POLLIN },
			{ .fd = tun_b, .events = POLLIN }, { .fd = udp_b, .events = POLLIN },
		};
		mm_time_ns now = clock_now(clock_monotonic());

		if (poll(p, 4, quiet_ms) <= 0)
			return;
		if (p[0].revents & POLLIN)
			espdp_tun_readable(dp_a, now, 4);
		if (p[1].revents & POLLIN)
			espdp_udp_readable(dp_a, now, 4);
		if (p[2].revents & POLLIN)
			espdp_tun_readable(dp_b, now, 4);
		if (p[3].revents & POLLIN)
			espdp_udp_readable(dp_b, now, 4);
	}
}

/* --- packets ------------------------------------------------------------------------- */

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* IPv4 + ICMP echo request with 56 data bytes: 84 bytes (RFC 791, RFC 792). */
static size_t icmp_echo(uint8_t *buf, size_t cap, struct in_addr src, struct in_addr dst,
			uint16_t seq)
{
	struct writer w;
	size_t ck;

	writer_init(&w, buf, cap);
	writer_u8(&w, 0x45);
	writer_u8(&w, 0);
	writer_be16(&w, 84);
	writer_be16(&w, seq);
	writer_be16(&w, 0);
	writer_u8(&w, 64);
	writer_u8(&w, 1);
	writer_reserve(&w, 2, &ck);
	writer_bytes(&w, &src.s_addr, 4);
	writer_bytes(&w, &dst.s_addr, 4);
	writer_patch_be16(&w, ck, csum(buf, 20));
	writer_u8(&w, 8);
	writer_u8(&w, 0);
	writer_reserve(&w, 2, &ck);
	writer_be16(&w, 0x4242);
	writer_be16(&w, seq);
	for (int i = 0; i < 56; i++)
		writer_u8(&w, (uint8_t)i);
	writer_patch_be16(&w, ck, csum(buf + 20, 64));
	return writer_ok(&w) ? writer_len(&w) : 0;
}

/* Send an echo request from the client namespace's raw socket (the kernel adds the IP
 * header: source = the TIA, as the route into mntun says). */
static void send_ping(uint16_t seq)
{
	uint8_t pkt[128];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = ip("198.18.100.254") };
	size_t n = icmp_echo(pkt, sizeof(pkt), ip("198.18.100.1"), to.sin_addr, seq);

	if (sendto(ping_fd, pkt + 20, n - 20, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		printf("# sendto: %s\n", strerror(errno));
}

/* Echo replies with our identifier that reached the client's raw socket. */
static int replies(void)
{
	uint8_t buf[256];
	int n = 0;
	ssize_t r;

	while ((r = recv(ping_fd, buf, sizeof(buf), 0)) > 0) {
		struct reader rd;
		uint8_t vihl, type;
		uint16_t id;

		reader_init(&rd, buf, (size_t)r);
		if (reader_u8(&rd, &vihl) && reader_skip(&rd, (size_t)(vihl & 15) * 4 - 1) &&
		    reader_u8(&rd, &type) && reader_skip(&rd, 3) && reader_be16(&rd, &id) &&
		    type == 0 && id == 0x4242)
			n++;
	}
	return n;
}

/* --- SAs ----------------------------------------------------------------------------- */

static void fill_key(uint8_t *k, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		k[i] = (uint8_t)(seed + i * 7);
}

static struct ike_ts4 ts(const char *start, const char *end)
{
	struct ike_ts4 t = { .start = ip(start), .end = ip(end), .end_port = 65535 };

	return t;
}

/* A's and B's view of one Child SA pair: A is the responder (gateway). */
static void make_pair(struct ike_child_info *a, struct ike_child_info *b, uint16_t encr,
		      uint16_t bits, uint16_t integ, uint32_t spi_ab, uint32_t spi_ba,
		      uint32_t lifetime)
{
	uint8_t k_ab[IKE_KEY_MAX], k_ba[IKE_KEY_MAX], i_ab[IKE_KEY_MAX], i_ba[IKE_KEY_MAX];
	size_t klen = encr == 12 ? bits / 8 : (bits ? bits : 256) / 8 + 4;
	size_t ilen = integ ? 32 : 0;

	fill_key(k_ab, sizeof(k_ab), 0x10);
	fill_key(k_ba, sizeof(k_ba), 0x80);
	fill_key(i_ab, sizeof(i_ab), 0x33);
	fill_key(i_ba, sizeof(i_ba), 0xc3);
	memset(a, 0, sizeof(*a));
	a->ike_spi_i = 0x1111;
	a->ike_spi_r = 0x2222;
	a->suite.encr = encr;
	a->suite.encr_key_bits = bits;
	a->suite.integ = integ;
	a->key_len = klen;
	a->integ_len = ilen;
	a->udp_encap = true;
	a->lifetime_s = lifetime;
	*b = *a;
	a->spi_in = spi_ba;
	a->spi_out = spi_ab;
	memcpy(a->key_in, k_ba, klen);
	memcpy(a->key_out, k_ab, klen);
	memcpy(a->integ_in, i_ba, ilen);
	memcpy(a->integ_out, i_ab, ilen);
	a->ts_local.n = 1;
	a->ts_local.ts[0] = ts("198.18.0.0", "198.18.255.255");
	a->ts_remote.n = 1;
	a->ts_remote.ts[0] = ts("198.18.100.1", "198.18.100.1");
	a->local = (struct ike_endpoint){ ip("198.18.250.1"), 4500 };
	a->remote = (struct ike_endpoint){ ip("198.18.250.2"), 4500 };
	b->spi_in = spi_ab;
	b->spi_out = spi_ba;
	memcpy(b->key_in, k_ab, klen);
	memcpy(b->key_out, k_ba, klen);
	memcpy(b->integ_in, i_ab, ilen);
	memcpy(b->integ_out, i_ba, ilen);
	b->ts_local = a->ts_remote;
	b->ts_remote = a->ts_local;
	b->local = a->remote;
	b->remote = a->local;
}

/* ESP for A's inbound SA, made with the client's keys but by a separate esp/ SA (so its
 * sequence numbers start at 1 again unless resumed). */
static struct esp_sa *forger(const struct ike_child_info *b, uint64_t resume)
{
	uint8_t km[2 * IKE_KEY_MAX];
	struct esp_sa_config c;
	struct esp_sa *sa = NULL;

	memcpy(km, b->key_out, b->key_len);
	memcpy(km + b->key_len, b->integ_out, b->integ_len);
	memset(&c, 0, sizeof(c));
	c.spi = b->spi_out;
	c.dir = ESP_DIR_OUT;
	c.encr = b->suite.encr;
	c.key_bits = b->suite.encr_key_bits ? b->suite.encr_key_bits : 256;
	c.integ = b->suite.integ;
	c.keymat = km;
	c.keymat_len = b->key_len + b->integ_len;
	if (esp_sa_new(&c, 0, &sa) < 0) {
		printf("Bail out! forger SA\n");
		exit(1);
	}
	if (resume)
		esp_sa_resume_seq(sa, resume);
	return sa;
}

/* Encapsulate an echo request src -> 198.18.100.254 with sa and send it to A from udp_b
 * (from_port 0) or from a socket of its own on from_port. flip: XOR this byte of the
 * ciphertext (index from the end) to break the ICV. */
static void forge_send(struct esp_sa *sa, const char *src, uint16_t seq, int flip,
		       int fd)
{
	uint8_t buf[256];
	struct esp_pkt p = { .buf = buf, .cap = sizeof(buf), .off = ESP_HEADROOM_MAX };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(4500),
				  .sin_addr = ip("198.18.250.1") };
	struct in_addr from = ip("198.18.250.2");
	uint8_t *d;

	p.len = icmp_echo(buf + p.off, sizeof(buf) - p.off - ESP_TAILROOM_MAX, ip(src),
			  ip("198.18.100.254"), seq);
	if (esp_encap(sa, &p, ESP_NH_IPV4, 0) < 0 || esp_pkt_data(&p, &d) < 0) {
		printf("Bail out! forge encap\n");
		exit(1);
	}
	if (flip)
		d[p.len - (size_t)flip] ^= 0x01;
	sock_send4(fd, d, p.len, &to, &from, 0);
}

static void send_raw_to_a(const void *data, size_t len)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(4500),
				  .sin_addr = ip("198.18.250.1") };
	struct in_addr from = ip("198.18.250.2");

	sock_send4(udp_b, data, len, &to, &from, 0);
}

/* --- tests --------------------------------------------------------------------------- */

static void ping_with(const char *name, uint16_t encr, uint16_t bits, uint16_t integ,
		      uint32_t spi_base)
{
	struct ike_child_info a, b;
	struct espdp_child va, vb;
	const struct espdp_stats *sa = espdp_stats(dp_a), *sb = espdp_stats(dp_b);
	uint64_t a_in = sa->in_packets, b_in = sb->in_packets;
	int got, act0 = activity_calls;

	printf("# ping through the tunnel with %s\n", name);
	make_pair(&a, &b, encr, bits, integ, spi_base + 1, spi_base + 2, 0);
	CHECK(espdp_child_add(dp_a, &a, clock_now(clock_monotonic())) == 0);
	CHECK(espdp_child_add(dp_b, &b, clock_now(clock_monotonic())) == 0);
	for (uint16_t s = 1; s <= 3; s++)
		send_ping(s);
	pump(200);
	got = replies();
	CHECK_EQ_U64(got, 3);
	/* Three packets each way within a second: the engine hears of each SA once. */
	CHECK_EQ_U64(activity_calls - act0, 2);
	CHECK_EQ_U64(sa->in_packets - a_in, 3);
	CHECK_EQ_U64(sb->in_packets - b_in, 3);
	CHECK(espdp_child_get(dp_a, spi_base + 2, &va) == 0);
	CHECK(espdp_child_get(dp_b, spi_base + 1, &vb) == 0);
	/* 84-byte packets (20 IP + 8 ICMP + 56) each way; sequence numbers 1..3. */
	CHECK(va.in.packets == 3 && va.in.bytes == 252 && va.in.seq == 3);
	CHECK(va.out.packets == 3 && va.out.bytes == 252 && va.out.seq == 3);
	CHECK(vb.in.packets == 3 && vb.out.packets == 3);
	CHECK(va.remote.addr.s_addr == ip("198.18.250.2").s_addr && va.remote.port == 4500);
	CHECK(espdp_child_del(dp_a, spi_base + 2) == 0);
	CHECK(espdp_child_del(dp_b, spi_base + 1) == 0);
	CHECK(espdp_child_del(dp_a, spi_base + 2) == -ENOENT);
}

static void test_suites(void)
{
	ping_with("AES-GCM-16 128 (RFC 4106)", 20, 128, 0, 0x100);
	ping_with("AES-GCM-16 256 (RFC 4106)", 20, 256, 0, 0x200);
	ping_with("ChaCha20-Poly1305 (RFC 7634)", 28, 0, 0, 0x300);
	ping_with("AES-CBC-128 + HMAC-SHA2-256-128 (RFC 3602, RFC 4868)", 12, 128, 12, 0x400);
	CHECK_EQ_U64(espdp_stats(dp_a)->children, 0);
}

static void test_drops(void)
{
	struct ike_child_info a, b;
	struct espdp_child va;
	const struct espdp_stats *s = espdp_stats(dp_a);
	struct esp_sa *f;
	uint64_t in0, replay0, auth0, unk0, ts0, moved0;
	int other;

	make_pair(&a, &b, 20, 128, 0, SPI_AB, SPI_BA, 0);
	CHECK(espdp_child_add(dp_a, &a, clock_now(clock_monotonic())) == 0);
	CHECK(espdp_child_add(dp_b, &b, clock_now(clock_monotonic())) == 0);
	send_ping(10);
	pump(100);
	CHECK_EQ_U64(replies(), 1);
	in0 = s->in_packets;
	replay0 = s->in_esp_drops[ESP_DROP_REPLAY];
	auth0 = s->in_esp_drops[ESP_DROP_AUTH];
	unk0 = s->in_unknown_spi;
	ts0 = s->in_ts_mismatch;
	moved0 = s->peer_moved;

	/* Replay: sequence number 1 was used by the real SA (RFC 4303 3.4.3). */
	f = forger(&b, 0);
	forge_send(f, "198.18.100.1", 11, 0, udp_b);
	pump(100);
	CHECK_EQ_U64(s->in_esp_drops[ESP_DROP_REPLAY] - replay0, 1);
	CHECK_EQ_U64(s->in_packets, in0);
	CHECK_EQ_U64(replies(), 0);
	esp_sa_free(f);

	/* Tampered: a fresh sequence number, one ciphertext bit flipped (RFC 4303 3.4.4). */
	f = forger(&b, 100);
	forge_send(f, "198.18.100.1", 12, 20, udp_b);
	pump(100);
	CHECK_EQ_U64(s->in_esp_drops[ESP_DROP_AUTH] - auth0, 1);
	CHECK_EQ_U64(s->in_packets, in0);
	/* The same sequence number, untouched, still goes through: a failed ICV did not move
	 * the window. */
	esp_sa_free(f);
	f = forger(&b, 100);
	forge_send(f, "198.18.100.1", 13, 0, udp_b);
	pump(100);
	CHECK_EQ_U64(s->in_packets - in0, 1);
	CHECK_EQ_U64(replies(), 1);

	/* Authentic, but the inner source is outside the SA's remote selector (RFC 4301 5.2). */
	forge_send(f, "198.18.100.77", 14, 0, udp_b);
	pump(100);
	CHECK_EQ_U64(s->in_ts_mismatch - ts0, 1);
	CHECK_EQ_U64(s->in_packets - in0, 1);
	CHECK(espdp_child_get(dp_a, SPI_BA, &va) == 0 && va.in_ts_mismatch == 1 &&
	      va.in_drops[ESP_DROP_REPLAY] == 1 && va.in_drops[ESP_DROP_AUTH] == 1);

	/* Unknown SPI. */
	{
		uint8_t esp[32] = { 0x00, 0x00, 0x99, 0x99, 0, 0, 0, 1 };

		send_raw_to_a(esp, sizeof(esp));
		pump(100);
		CHECK_EQ_U64(s->in_unknown_spi - unk0, 1);
	}
	/* NAT keepalive (RFC 3948 2.3), IKE behind the marker (2.2), and junk. */
	{
		uint8_t ka = 0xff, ike[] = { 0, 0, 0, 0, 'I', 'K', 'E', '!' }, junk[3] = { 1, 2, 3 };
		uint64_t k0 = s->keepalives, inv0 = s->in_invalid;

		send_raw_to_a(&ka, 1);
		send_raw_to_a(ike, sizeof(ike));
		send_raw_to_a(junk, sizeof(junk));
		pump(100);
		CHECK_EQ_U64(s->keepalives - k0, 1);
		CHECK_EQ_U64(ike_calls, 1);
		CHECK(ike_len == 4 && memcmp(ike_msg, "IKE!", 4) == 0);
		CHECK(ike_meta.peer.sin_addr.s_addr == ip("198.18.250.2").s_addr &&
		      ntohs(ike_meta.peer.sin_port) == 4500 &&
		      ike_meta.local.s_addr == ip("198.18.250.1").s_addr);
		CHECK_EQ_U64(s->in_invalid - inv0, 1);
	}
	/* IKE out on 4500 carries the marker. */
	{
		uint8_t buf[64];
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(4500),
					  .sin_addr = ip("198.18.250.2") };
		ssize_t n;

		CHECK(espdp_send_ike(dp_a, (const uint8_t *)"hello", 5, &to, ip("0.0.0.0")) == 0);
		CHECK(espdp_send_keepalive(dp_a, &to) == 0);
		enter(ns_b);
		CHECK(wait_readable(udp_b, 1000));
		n = sock_recv4(udp_b, buf, sizeof(buf), NULL);
		CHECK(n == 9 && memcmp(buf, "\0\0\0\0hello", 9) == 0);
		CHECK(wait_readable(udp_b, 1000));
		n = sock_recv4(udp_b, buf, sizeof(buf), NULL);
		CHECK(n == 1 && buf[0] == 0xff);
		enter(ns_a);
	}
	/* A NAT mapping change: authentic ESP from another port; replies follow it. */
	enter(ns_b);
	{
		struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(4501),
					   .sin_addr = ip("198.18.250.2") };

		other = sock_udp4_open(&any, 0);
	}
	enter(ns_a);
	CHECK(other >= 0);
	forge_send(f, "198.18.100.1", 15, 0, other);
	pump(100);
	CHECK_EQ_U64(s->peer_moved - moved0, 1);
	CHECK(espdp_child_get(dp_a, SPI_BA, &va) == 0 && va.remote.port == 4501);
	/* The reply went to port 4501, where nobody decapsulates it. */
	CHECK(wait_readable(other, 1000));
	CHECK_EQ_U64(replies(), 0);
	close(other);
	esp_sa_free(f);
	CHECK(espdp_child_del(dp_a, SPI_BA) == 0);
	CHECK(espdp_child_del(dp_b, SPI_AB) == 0);
}

static void test_outbound_drops(void)
{
	struct ike_child_info a, b;
	const struct espdp_stats *sa = espdp_stats(dp_a), *sb = espdp_stats(dp_b);
	uint64_t nosa0 = sa->out_no_sa, ts0 = sb->out_ts_mismatch;
	int fd;

	make_pair(&a, &b, 20, 128, 0, SPI_AB, SPI_BA, 0);
	CHECK(espdp_child_add(dp_a, &a, clock_now(clock_monotonic())) == 0);
	CHECK(espdp_child_add(dp_b, &b, clock_now(clock_monotonic())) == 0);
	/* nsA: a pool address nobody has (routed into the TUN, no SA). */
	fd = sock_udp4_open(NULL, 0);
	{
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9),
					  .sin_addr = ip("198.18.100.50") };

		CHECK(sock_send4(fd, "x", 1, &to, NULL, 0) == 1);
	}
	close(fd);
	/* nsB: a source outside the client's local selector (its TIA only). */
	enter(ns_b);
	{
		struct sockaddr_in bind_to = { .sin_family = AF_INET,
					       .sin_addr = ip("198.18.250.2") };
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9),
					  .sin_addr = ip("198.18.1.1") };

		fd = sock_udp4_open(&bind_to, 0);
		CHECK(sock_send4(fd, "x", 1, &to, NULL, 0) == 1);
		close(fd);
	}
	enter(ns_a);
	pump(100);
	CHECK_EQ_U64(sa->out_no_sa - nosa0, 1);
	CHECK_EQ_U64(sb->out_ts_mismatch - ts0, 1);
	CHECK(espdp_child_del(dp_a, SPI_BA) == 0);
	CHECK(espdp_child_del(dp_b, SPI_AB) == 0);
}

static void test_rekey(void)
{
	struct ike_child_info a1, b1, a2, b2;
	struct espdp_child v1, v2;
	mm_time_ns now = clock_now(clock_monotonic());

	make_pair(&a1, &b1, 20, 128, 0, SPI_AB, SPI_BA, 0);
	make_pair(&a2, &b2, 28, 0, 0, SPI_AB + 1, SPI_BA + 1, 0);
	a2.replaces_spi_in = SPI_BA;
	b2.replaces_spi_in = SPI_AB;
	CHECK(espdp_child_add(dp_a, &a1, now) == 0);
	CHECK(espdp_child_add(dp_b, &b1, now) == 0);
	/* The new pair is installed while the old one still is (RFC 7296 2.8). */
	CHECK(espdp_child_add(dp_a, &a2, now) == 0);
	CHECK(espdp_child_add(dp_b, &b2, now) == 0);
	send_ping(20);
	pump(100);
	CHECK_EQ_U64(replies(), 1);
	CHECK(espdp_child_get(dp_a, SPI_BA, &v1) == 0 && espdp_child_get(dp_a, SPI_BA + 1,
									 &v2) == 0);
	CHECK(v1.out.packets == 0 && v2.out.packets == 1 && v2.in.packets == 1);
	/* The old SA leaves; the new one carries on. */
	CHECK(espdp_child_del(dp_a, SPI_BA) == 0);
	CHECK(espdp_child_del(dp_b, SPI_AB) == 0);
	send_ping(21);
	pump(100);
	CHECK_EQ_U64(replies(), 1);
	/* The new SA leaving last: the TIA has no SA any more. */
	CHECK(espdp_child_del(dp_a, SPI_BA + 1) == 0);
	CHECK(espdp_child_del(dp_b, SPI_AB + 1) == 0);
	send_ping(22);
	pump(100);
	CHECK_EQ_U64(replies(), 0);
}

static void test_children(void)
{
	struct ike_child_info a, b, x;
	struct espdp_child v;
	size_t cursor = 0, n = 0;
	mm_time_ns t0 = MM_SEC(1000);

	make_pair(&a, &b, 20, 256, 0, SPI_AB, SPI_BA, 100);
	CHECK(espdp_child_add(dp_a, &a, t0) == 0);
	CHECK(espdp_child_add(dp_a, &a, t0) == -EEXIST);
	/* Bad installs. */
	x = a;
	x.spi_in = 0x77;
	x.ts_remote.n = 0;
	CHECK(espdp_child_add(dp_a, &x, t0) == -EINVAL);
	x = a;
	x.spi_in = 0x77;
	x.ts_local.ts[0].start = ip("198.19.0.0");
	x.ts_local.ts[0].end = ip("198.18.0.0");
	CHECK(espdp_child_add(dp_a, &x, t0) == -EINVAL);
	x = a;
	x.spi_in = 0x77;
	x.key_len = 20;     /* AES-256-GCM takes 36 */
	CHECK(espdp_child_add(dp_a, &x, t0) == -EINVAL);
	x = a;
	x.spi_in = 0x77;
	x.suite.encr = 12;
	x.suite.integ = 13;  /* HMAC-SHA2-384: not in esp/ */
	CHECK(espdp_child_add(dp_a, &x, t0) == -EOPNOTSUPP);
	x = a;
	x.spi_in = 0;
	CHECK(espdp_child_add(dp_a, &x, t0) == -EINVAL);
	CHECK(espdp_child_add(NULL, &a, t0) == -EINVAL);

	/* A second SA of another IKE SA, and iteration. */
	x = a;
	x.spi_in = 0x5555;
	x.ike_spi_i = 0x3333;
	x.ts_remote.ts[0] = ts("198.18.100.2", "198.18.100.9");
	CHECK(espdp_child_add(dp_a, &x, t0) == 0);
	while (espdp_next_child(dp_a, &cursor, &v))
		n++;
	CHECK_EQ_U64(n, 2);
	CHECK_EQ_U64(espdp_stats(dp_a)->children, 2);
	CHECK(espdp_child_get(dp_a, SPI_BA, &v) == 0 && v.lifetime_s == 100 &&
	      v.added == t0 && v.soft_at == t0 + MM_SEC(100) && v.hard_at == t0 + MM_SEC(110) &&
	      v.suite.encr_key_bits == 256 && v.ike_spi_i == 0x1111 &&
	      v.state_in == ESP_SA_ACTIVE);

	/* Lifetimes on the caller's clock: soft once (rekey), then hard once. */
	nexpired = 0;
	espdp_poll(dp_a, t0 + MM_SEC(99));
	CHECK_EQ_U64(nexpired, 0);
	espdp_poll(dp_a, t0 + MM_SEC(100));
	CHECK(nexpired == 2 && !expired[0].hard && !expired[1].hard &&
	      expired[0].spi != expired[1].spi);
	espdp_poll(dp_a, t0 + MM_SEC(105));
	CHECK_EQ_U64(nexpired, 2);
	espdp_poll(dp_a, t0 + MM_SEC(110));
	CHECK(nexpired == 4 && expired[2].hard && expired[3].hard);
	espdp_poll(dp_a, t0 + MM_SEC(200));
	CHECK_EQ_U64(nexpired, 4);
	CHECK(espdp_child_get(dp_a, SPI_BA, &v) == 0 && v.state_in == ESP_SA_HARD_EXPIRED &&
	      v.state_out == ESP_SA_HARD_EXPIRED);

	/* IKE SA rekey moves children; SA_DOWN removes those left. */
	CHECK_EQ_U64(espdp_child_reparent(dp_a, 0x1111, 0x2222, 0x4444, 0x5555), 1);
	CHECK(espdp_child_get(dp_a, SPI_BA, &v) == 0 && v.ike_spi_i == 0x4444 &&
	      v.ike_spi_r == 0x5555);
	CHECK_EQ_U64(espdp_child_del_ike(dp_a, 0x1111, 0x2222), 0);
	CHECK_EQ_U64(espdp_child_del_ike(dp_a, 0x4444, 0x5555), 1);
	CHECK_EQ_U64(espdp_child_del_ike(dp_a, 0x3333, 0x2222), 1);
	CHECK_EQ_U64(espdp_stats(dp_a)->children, 0);
	cursor = 0;
	CHECK(!espdp_next_child(dp_a, &cursor, &v));
}

static void test_selectors(void)
{
	uint8_t pkt[128];
	struct sel_pkt p;
	struct ike_ts4_list l = { .n = 1 };
	size_t n = icmp_echo(pkt, sizeof(pkt), ip("198.18.100.1"), ip("198.18.1.5"), 7);

	CHECK(sel_parse(pkt, n, &p) == 0 && p.proto == 1 && p.has_ports &&
	      p.sport == 0x0800 && p.src.s_addr == ip("198.18.100.1").s_addr);
	CHECK(sel_parse(pkt, n - 1, &p) == -EBADMSG);     /* Total Length says 84 */
	CHECK(sel_parse(pkt, 19, &p) == -EBADMSG);
	pkt[0] = 0x65;
	CHECK(sel_parse(pkt, n, &p) == -EBADMSG);         /* version 6 */
	pkt[0] = 0x44;
	CHECK(sel_parse(pkt, n, &p) == -EBADMSG);         /* IHL 4 */
	pkt[0] = 0x45;
	sel_parse(pkt, n, &p);
	/* ICMP echo request: "port" 8 << 8 | 0 (RFC 7296 3.13.1). */
	l.ts[0] = ts("198.18.1.0", "198.18.1.255");
	l.ts[0].ip_proto = 1;
	l.ts[0].start_port = l.ts[0].end_port = 0x0800;
	CHECK(sel_match(&l, p.dst, &p, p.dport));
	l.ts[0].start_port = l.ts[0].end_port = 0x0000;  /* echo reply only */
	CHECK(!sel_match(&l, p.dst, &p, p.dport));
	l.ts[0].start_port = 0;
	l.ts[0].end_port = 65535;
	l.ts[0].ip_proto = 6;                            /* TCP only */
	CHECK(!sel_match(&l, p.dst, &p, p.dport));
	l.ts[0].ip_proto = 0;
	CHECK(sel_match(&l, p.dst, &p, p.dport));
	CHECK(!sel_match(&l, ip("198.18.2.0"), &p, p.dport));
	CHECK(!sel_match(&l, ip("198.18.0.255"), &p, p.dport));
	/* A non-initial fragment has no ports: only a full port range matches. */
	pkt[6] = 0x00;
	pkt[7] = 0x10;
	CHECK(sel_parse(pkt, n, &p) == 0 && !p.has_ports);
	l.ts[0].start_port = l.ts[0].end_port = 0x0800;
	CHECK(!sel_match(&l, p.dst, &p, p.dport));
	l.ts[0].start_port = 0;
	l.ts[0].end_port = 65535;
	CHECK(sel_match(&l, p.dst, &p, p.dport));
}

/* MOBIKE (RFC 4555): an SA of a MOBIKE IKE SA does not follow ESP from a new source (3.8,
 * RFC 4621 5.2.6), nor counts it as liveness (3.12); espdp_ike_move() moves every Child SA
 * of the IKE SA at once (3.5); the mark goes to later Child SAs and across an IKE SA
 * rekey, and leaves with the IKE SA. */
static void test_mobike(void)
{
	struct ike_child_info a, b, a2, b2;
	struct espdp_child va;
	const struct espdp_stats *s = espdp_stats(dp_a);
	struct ike_endpoint local = { ip("198.18.250.1"), 4500 };
	struct ike_endpoint moved = { ip("198.18.250.2"), 4501 };
	mm_time_ns now = clock_now(clock_monotonic());
	uint64_t in0, moved0, other0, moves0;
	struct esp_sa *f;
	int other, act0;

	make_pair(&a, &b, 20, 128, 0, SPI_AB, SPI_BA, 0);
	CHECK(espdp_child_add(dp_a, &a, now) == 0);
	CHECK(espdp_child_add(dp_b, &b, now) == 0);
	CHECK(espdp_child_get(dp_a, SPI_BA, &va) == 0 && !va.mobike);
	CHECK_EQ_U64(espdp_ike_set_mobike(dp_a, 0x1111, 0x2222), 1);
	CHECK(espdp_child_get(dp_a, SPI_BA, &va) == 0 && va.mobike);
	send_ping(40);
	pump(100);
	CHECK_EQ_U64(replies(), 1);

	enter(ns_b);
	{
		struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(4501),
					   .sin_addr = ip("198.18.250.2") };

		other = sock_udp4_open(&any, 0);
	}
	enter(ns_a);
	CHECK(other >= 0);
	/* Authentic ESP from another port, more than a second after the last activity:
	 * delivered, but neither followed nor liveness. */
	usleep(1100 * 1000);
	in0 = s->in_packets;
	moved0 = s->peer_moved;
	other0 = s->other_source;
	act0 = activity_ba;
	f = forger(&b, 100);
	forge_send(f, "198.18.100.1", 41, 0, other);
	pump(100);
	CHECK_EQ_U64(s->in_packets - in0, 1);
	CHECK_EQ_U64(s->other_source - other0, 1);
	CHECK_EQ_U64(s->peer_moved, moved0);
	CHECK_EQ_U64(activity_ba, act0);
	CHECK(espdp_child_get(dp_a, SPI_BA, &va) == 0 && va.remote.port == 4500);
	/* The echo reply went to the current pair (B's 4500), which decapsulated it. */
	CHECK_EQ_U64(replies(), 1);
	/* From the current address it is liveness again. */
	forge_send(f, "198.18.100.1", 42, 0, udp_b);
	pump(100);
	CHECK_EQ_U64(activity_ba - act0, 1);
	CHECK_EQ_U64(replies(), 1);

	/* A Child SA created later in the same IKE SA is MOBIKE too; a move takes both. */
	make_pair(&a2, &b2, 20, 128, 0, SPI_AB + 7, SPI_BA + 7, 0);
	a2.ts_remote.ts[0] = ts("198.18.100.9", "198.18.100.9");
	CHECK(espdp_child_add(dp_a, &a2, now) == 0);
	CHECK(espdp_child_get(dp_a, SPI_BA + 7, &va) == 0 && va.mobike);
	moves0 = s->moves;
	CHECK_EQ_U64(espdp_ike_move(dp_a, 0x1111, 0x2222, &local, &moved, true, 0), 2);
	CHECK_EQ_U64(espdp_ike_move(dp_a, 0x9999, 0x2222, &local, &moved, true, 0), 0);
	CHECK_EQ_U64(s->moves - moves0, 2);
	CHECK(espdp_child_get(dp_a, SPI_BA, &va) == 0 && va.remote.port == 4501 &&
	      va.remote.addr.s_addr == moved.addr.s_addr && va.udp_encap);
	CHECK(espdp_child_get(dp_a, SPI_BA + 7, &va) == 0 && va.remote.port == 4501);
	/* Without UDP encapsulation ESP still goes to the peer's port 4500 (espdp.h). */
	CHECK_EQ_U64(espdp_ike_move(dp_a, 0x1111, 0x2222, &local, &moved, false, 0), 2);
	CHECK(espdp_child_get(dp_a, SPI_BA, &va) == 0 && va.remote.port == 4500);
	CHECK_EQ_U64(espdp_ike_move(dp_a, 0x1111, 0x2222, &local, &moved, true, 0), 2);
	/* Replies now go to 4501, where nobody decapsulates them. */
	send_ping(43);
	pump(100);
	CHECK_EQ_U64(replies(), 0);
	CHECK(wait_readable(other, 1000));

	/* IKE SA rekey (RFC 7296 2.18): the mark moves with the Child SAs. */
	CHECK_EQ_U64(espdp_child_reparent(dp_a, 0x1111, 0x2222, 0x3333, 0x4444), 2);
	CHECK(espdp_child_del(dp_a, SPI_BA + 7) == 0);
	a2.ike_spi_i = 0x3333;
	a2.ike_spi_r = 0x4444;
	CHECK(espdp_child_add(dp_a, &a2, now) == 0);
	CHECK(espdp_child_get(dp_a, SPI_BA + 7, &va) == 0 && va.mobike);
	/* The IKE SA goes: so does the mark (a new SA with that SPI is not MOBIKE). */
	CHECK_EQ_U64(espdp_child_del_ike(dp_a, 0x3333, 0x4444), 2);
	CHECK(espdp_child_add(dp_a, &a2, now) == 0);
	CHECK(espdp_child_get(dp_a, SPI_BA + 7, &va) == 0 && !va.mobike);
	CHECK(espdp_child_del(dp_a, SPI_BA + 7) == 0);
	CHECK(espdp_child_del(dp_b, SPI_AB) == 0);
	/* Keepalives from an address and interface of our choice (the current pair). */
	{
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(4501),
					  .sin_addr = ip("198.18.250.2") };
		uint8_t buf[8];

		while (sock_recv4(other, buf, sizeof(buf), NULL) >= 0)
			;
		CHECK(espdp_send_keepalive_via(dp_a, &to, ip("198.18.250.1"), 0) == 0);
		CHECK(espdp_send_keepalive_via(dp_a, &to, ip("198.18.250.1"), -1) == -EINVAL);
		CHECK(wait_readable(other, 1000));
		CHECK(sock_recv4(other, buf, sizeof(buf), NULL) == 1 && buf[0] == 0xff);
	}
	esp_sa_free(f);
	close(other);
}

int main(void)
{
	log_set_level(LOG_LEVEL_NOTICE);
	test_selectors();
	setup_net();
	setup_dp();
	test_suites();
	test_drops();
	test_mobike();
	test_outbound_drops();
	test_rekey();
	test_children();
	{
		const struct espdp_stats *s = espdp_stats(dp_a);

		printf("# A: out %llu in %llu no-sa %llu drops: replay %llu auth %llu\n",
		       (unsigned long long)s->out_packets, (unsigned long long)s->in_packets,
		       (unsigned long long)s->out_no_sa,
		       (unsigned long long)s->in_esp_drops[ESP_DROP_REPLAY],
		       (unsigned long long)s->in_esp_drops[ESP_DROP_AUTH]);
	}
	espdp_free(dp_a);
	espdp_free(dp_b);
	close(tun_a);
	close(tun_b);
	close(udp_a);
	close(udp_b);
	close(ping_fd);
	return tap_done();
}
