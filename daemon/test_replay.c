/* Handover replay: the ring (daemon/replay.h; the checks of ha/test_ha_pieces.c's
 * test_replay, on the shared copy) and the ESP data path's replay after a MOBIKE move
 * (daemon/espdp.h espdp_ike_replay) without root: a datagram socket pair stands in for the
 * TUN, the peers are UDP sockets on 127.0.0.1 (old and new address = two ports, ESP in UDP
 * goes to the mapping's port), and the peer's side of each Child SA is a separate esp/ SA
 * with the same keys, which decrypts what arrives and checks ESP anti-replay (RFC 4303
 * 3.4.3): a replayed packet must be a new ESP packet, not the old one sent again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/sock.h"
#include "daemon/espdp.h"
#include "daemon/replay.h"
#include "esp/esp.h"
#include "esp/esp_sa.h"
#include "tests/unit/tap.h"

static struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };

	if (inet_pton(AF_INET, s, &a) != 1) {
		printf("Bail out! bad address %s\n", s);
		exit(1);
	}
	return a;
}

/* --- the ring ------------------------------------------------------------------------ */

/* Window, per-key selection, byte budget (oldest win), oldest-first order, ring wrap, the
 * start estimate. */
static void test_ring(void)
{
	struct pkt_replay *rp = NULL;
	struct in_addr a = ip("198.18.1.100"), b = ip("198.18.1.101");
	uint8_t pkt[PKT_REPLAY_SLOT_DATA + 1];
	unsigned idx[16];
	size_t len = 0;
	const uint8_t *p;
	unsigned n;

	CHECK(pkt_replay_new(0, PKT_REPLAY_SLOT_DATA, &rp) == -EINVAL);
	CHECK(pkt_replay_new(8, 0, &rp) == -EINVAL);
	CHECK(pkt_replay_new(8, PKT_REPLAY_SLOT_DATA_MAX + 1, &rp) == -EINVAL && !rp);
	CHECK(pkt_replay_new(8, PKT_REPLAY_SLOT_DATA, &rp) == 0 && rp);
	CHECK_EQ_U64(pkt_replay_slots(rp), 8);
	CHECK_EQ_U64(pkt_replay_slot_data(rp), PKT_REPLAY_SLOT_DATA);
	CHECK(pkt_replay_select(rp, a, 0, 1 << 20, idx, 16) == 0);
	/* t = 1..6 ms: a, b, a, a, b, a with payload byte = t and length 100 * t */
	for (unsigned t = 1; t <= 6; t++) {
		memset(pkt, (int)t, sizeof(pkt));
		pkt_replay_record(rp, (t == 2 || t == 5) ? b : a, pkt, 100 * t, MM_MSEC(t));
	}
	pkt_replay_record(rp, a, pkt, sizeof(pkt), MM_MSEC(7));   /* too big: not kept */
	CHECK_EQ_U64(pkt_replay_too_big(rp), 1);
	n = pkt_replay_select(rp, a, MM_MSEC(3), 1 << 20, idx, 16);
	CHECK_EQ_U64(n, 3);                 /* t = 3, 4, 6 */
	p = pkt_replay_packet(rp, idx[0], &len);
	CHECK(p && p[0] == 3 && len == 300);
	p = pkt_replay_packet(rp, idx[2], &len);
	CHECK(p && p[0] == 6 && len == 600);
	/* budget 1000 bytes: the oldest (100), then 300 and 400 (t = 1, 3, 4); 600 no longer
	 * fits, and nothing after it is taken (no hole in what goes again) */
	n = pkt_replay_select(rp, a, 0, 1000, idx, 16);
	CHECK_EQ_U64(n, 3);
	p = pkt_replay_packet(rp, idx[0], &len);
	CHECK(p && p[0] == 1);
	p = n == 3 ? pkt_replay_packet(rp, idx[2], &len) : NULL;
	CHECK(p && p[0] == 4);
	/* budget 250 from t = 3: 300 does not fit, so nothing (not 400 or 600 after a hole) */
	CHECK_EQ_U64(pkt_replay_select(rp, a, MM_MSEC(3), 250, idx, 16), 0);
	/* max_out 1: only the oldest */
	n = pkt_replay_select(rp, a, 0, 1 << 20, idx, 1);
	p = n == 1 ? pkt_replay_packet(rp, idx[0], &len) : NULL;
	CHECK(p && p[0] == 1);
	n = pkt_replay_select(rp, b, 0, 1 << 20, idx, 16);
	CHECK_EQ_U64(n, 2);
	/* wrap: 8 more for b overwrite everything of a */
	for (unsigned t = 10; t < 18; t++) {
		memset(pkt, (int)t, 64);
		pkt_replay_record(rp, b, pkt, 64, MM_MSEC(t));
	}
	CHECK_EQ_U64(pkt_replay_select(rp, a, 0, 1 << 20, idx, 16), 0);
	n = pkt_replay_select(rp, b, 0, 1 << 20, idx, 16);
	CHECK_EQ_U64(n, 8);
	p = pkt_replay_packet(rp, idx[0], &len);
	CHECK(p && p[0] == 10);
	p = pkt_replay_packet(rp, idx[7], &len);
	CHECK(p && p[0] == 17);
	CHECK(pkt_replay_packet(rp, 99, &len) == NULL);
	/* start: the whole window without reverse traffic; one rtt before the last reverse
	 * packet otherwise, never before the window */
	CHECK_EQ_U64(pkt_replay_start(rp, a, MM_MSEC(2000), MM_MSEC(1000), MM_MSEC(150)),
		     MM_MSEC(1000));
	pkt_replay_note_reverse(rp, a, MM_MSEC(1900));
	CHECK_EQ_U64(pkt_replay_start(rp, a, MM_MSEC(2000), MM_MSEC(1000), MM_MSEC(150)),
		     MM_MSEC(1750));
	CHECK_EQ_U64(pkt_replay_start(rp, b, MM_MSEC(2000), MM_MSEC(1000), MM_MSEC(150)),
		     MM_MSEC(1000));
	CHECK_EQ_U64(pkt_replay_start(rp, a, MM_MSEC(2000), MM_MSEC(50), MM_MSEC(150)),
		     MM_MSEC(1950));
	/* the round trip to start from: the cap without a sample; a sample plus a quarter plus
	 * 2 ms, never above the cap */
	CHECK_EQ_U64(pkt_replay_rtt(0, MM_MSEC(150)), MM_MSEC(150));
	CHECK_EQ_U64(pkt_replay_rtt(MM_MSEC(20), MM_MSEC(150)), MM_MSEC(27));
	CHECK_EQ_U64(pkt_replay_rtt(MM_MSEC(118), MM_MSEC(150)), MM_MSEC(149) + MM_USEC(500));
	CHECK_EQ_U64(pkt_replay_rtt(MM_MSEC(119), MM_MSEC(150)), MM_MSEC(150));
	CHECK_EQ_U64(pkt_replay_rtt(MM_SEC(5), MM_MSEC(150)), MM_MSEC(150));
	pkt_replay_free(rp);

	/* A smaller slot: what does not fit is counted, what fits is kept whole. */
	CHECK(pkt_replay_new(2, 100, &rp) == 0);
	memset(pkt, 0x5a, 101);
	pkt_replay_record(rp, a, pkt, 101, MM_MSEC(1));
	pkt_replay_record(rp, a, pkt, 100, MM_MSEC(2));
	CHECK_EQ_U64(pkt_replay_too_big(rp), 1);
	n = pkt_replay_select(rp, a, 0, 1 << 20, idx, 16);
	p = n == 1 ? pkt_replay_packet(rp, idx[0], &len) : NULL;
	CHECK(p && len == 100 && p[99] == 0x5a);
	pkt_replay_free(rp);
}

/* Marks: a numbered flow's packets after the peer's mark, from the window's start (not the
 * round-trip start); unnumbered packets and unmarked flows as before; the budget still
 * counts oldest first. */
static void test_marks(void)
{
	struct pkt_replay *rp = NULL;
	struct in_addr a = ip("198.18.1.100"), b = ip("198.18.1.101");
	const struct pkt_replay_mark m7 = { 7, 12 }, m9 = { 9, 3 }, both[2] = { { 7, 12 },
										   { 9, 3 } };
	uint8_t pkt[128];
	unsigned idx[16];
	size_t len = 0;
	const uint8_t *p;
	unsigned n;

	CHECK(pkt_replay_new(16, PKT_REPLAY_SLOT_DATA, &rp) == 0);
	/* t = 1..6 ms: flow 7 seq 10..15 (payload byte = seq), 100 bytes each, key a */
	for (unsigned t = 1; t <= 6; t++) {
		memset(pkt, (int)(9 + t), sizeof(pkt));
		pkt_replay_record_seq(rp, a, pkt, 50 + 10 * t, MM_MSEC(t), 7, 9 + t);
	}
	/* t = 7: flow 9 seq 4 (byte 0x94); t = 8: unnumbered (byte 0x80); t = 9: key b */
	memset(pkt, 0x94, sizeof(pkt));
	pkt_replay_record_seq(rp, a, pkt, 64, MM_MSEC(7), 9, 4);
	memset(pkt, 0x80, sizeof(pkt));
	pkt_replay_record(rp, a, pkt, 64, MM_MSEC(8));
	pkt_replay_record_seq(rp, b, pkt, 64, MM_MSEC(9), 7, 100);
	/* received up to 12 on flow 7: 13, 14, 15 although the round-trip start (5 ms) is
	 * later; flow 9 and the unnumbered one from since */
	n = pkt_replay_select_marked(rp, a, MM_MSEC(5), MM_MSEC(1), &m7, 1, 1 << 20, idx, 16);
	CHECK_EQ_U64(n, 5);
	p = pkt_replay_packet(rp, idx[0], &len);
	CHECK(p && p[0] == 13 && len == 90);
	p = n == 5 ? pkt_replay_packet(rp, idx[3], &len) : NULL;
	CHECK(p && p[0] == 0x94);
	/* both flows marked: flow 9 had 3, so 4 goes; the unnumbered one from since (8 ms:
	 * nothing of it before) */
	n = pkt_replay_select_marked(rp, a, MM_MSEC(8), MM_MSEC(1), both, 2, 1 << 20, idx, 16);
	CHECK_EQ_U64(n, 5);
	/* flow 9's mark at its last packet: nothing of it again */
	CHECK_EQ_U64(pkt_replay_select_marked(rp, a, MM_MSEC(9), 0, (struct pkt_replay_mark[]){
						      { 9, 4 } }, 1, 1 << 20, idx, 16), 0);
	/* the floor bounds marked flows: from 3 ms, seq 10 and 11 are too old anyway */
	n = pkt_replay_select_marked(rp, a, MM_MSEC(9), MM_MSEC(3), (struct pkt_replay_mark[]){
					     { 7, 0 } }, 1, 1 << 20, idx, 16);
	CHECK_EQ_U64(n, 4);                 /* 12, 13, 14, 15 */
	p = pkt_replay_packet(rp, idx[0], &len);
	CHECK(p && p[0] == 12);
	/* a budget: oldest after the mark first (90 + 100 = 190 fit, 110 does not) */
	n = pkt_replay_select_marked(rp, a, MM_MSEC(9), 0, &m7, 1, 200, idx, 16);
	CHECK_EQ_U64(n, 2);
	/* the mark of another key's flow number does not leak: b's packet is selected for b */
	CHECK_EQ_U64(pkt_replay_select_marked(rp, b, MM_MSEC(9), 0, &m9, 1, 1 << 20, idx, 16),
		     1);
	/* no marks: pkt_replay_select's answer, the floor ignored */
	CHECK_EQ_U64(pkt_replay_select_marked(rp, a, MM_MSEC(6), 0, NULL, 5, 1 << 20, idx, 16),
		     pkt_replay_select(rp, a, MM_MSEC(6), 1 << 20, idx, 16));
	pkt_replay_free(rp);
}

/* --- espdp --------------------------------------------------------------------------- */

/* The gateway's data path (127.0.0.1, ephemeral port) and its fake TUN; peer sockets. */
static struct espdp *dp;
static int tun_gw = -1, tun_kernel = -1, udp_gw = -1;
static int peer_x_old = -1, peer_x_new = -1, peer_y = -1;
static uint16_t gw_port, x_old_port, x_new_port, y_port;

#define SPI_X1_OUT 0x0000a001u   /* gateway -> X, Child SA 1 (X's TIA) */
#define SPI_X1_IN 0x0000a101u
#define SPI_X2_OUT 0x0000a002u   /* gateway -> X, Child SA 2 (the network behind X) */
#define SPI_X2_IN 0x0000a102u
#define SPI_Y_OUT 0x0000b001u
#define SPI_Y_IN 0x0000b101u
#define IKE_X_I 0x1111000011110000ull
#define IKE_X_R 0x2222000022220000ull
#define IKE_Y_I 0x3333000033330000ull
#define IKE_Y_R 0x4444000044440000ull
#define MTU 1400

static void must(int rc, const char *what)
{
	if (rc < 0) {
		printf("Bail out! %s: %s\n", what, strerror(-rc));
		exit(1);
	}
}

static int udp_on(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = ip("127.0.0.1") };
	socklen_t sl = sizeof(sa);
	int fd = sock_udp4_open(&sa, 0);

	must(fd, "UDP socket on 127.0.0.1");
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		must(-errno, "getsockname");
	*port = ntohs(sa.sin_port);
	return fd;
}

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

/* The gateway's view of a Child SA (AES-GCM-16 128, RFC 4106: 16 + 4 bytes of key). */
static struct ike_child_info child(uint64_t ike_i, uint64_t ike_r, uint32_t spi_out,
				   uint32_t spi_in, struct ike_ts4 remote, uint16_t peer_port)
{
	struct ike_child_info c;

	memset(&c, 0, sizeof(c));
	c.ike_spi_i = ike_i;
	c.ike_spi_r = ike_r;
	c.spi_in = spi_in;
	c.spi_out = spi_out;
	c.suite.encr = ESP_ENCR_AES_GCM_16;
	c.suite.encr_key_bits = 128;
	c.key_len = 20;
	fill_key(c.key_out, c.key_len, (uint8_t)spi_out);
	fill_key(c.key_in, c.key_len, (uint8_t)spi_in);
	c.ts_local.n = 1;
	c.ts_local.ts[0] = ts("198.18.0.0", "198.18.255.255");
	c.ts_remote.n = 1;
	c.ts_remote.ts[0] = remote;
	c.local = (struct ike_endpoint){ ip("127.0.0.1"), gw_port };
	c.remote = (struct ike_endpoint){ ip("127.0.0.1"), peer_port };
	c.udp_encap = true;
	return c;
}

/* The peer's SA for one direction of a Child SA: dir IN decrypts what the gateway sent on
 * spi (keys seeded by spi, as child() does). */
static struct esp_sa *peer_sa(uint32_t spi, enum esp_dir dir)
{
	uint8_t km[20];
	struct esp_sa_config c;
	struct esp_sa *sa = NULL;

	fill_key(km, sizeof(km), (uint8_t)spi);
	memset(&c, 0, sizeof(c));
	c.spi = spi;
	c.dir = dir;
	c.encr = ESP_ENCR_AES_GCM_16;
	c.key_bits = 128;
	c.keymat = km;
	c.keymat_len = sizeof(km);
	must(esp_sa_new(&c, 0, &sa), "peer SA");
	return sa;
}

/* IPv4 + UDP (RFC 768) src -> dst, IP ID = id, udp payload of `pad` bytes: the packet the
 * kernel routes into the TUN. */
static size_t inner(uint8_t *buf, size_t cap, const char *src, const char *dst, uint16_t id,
		    size_t pad)
{
	struct in_addr s = ip(src), d = ip(dst);
	struct writer w;
	uint32_t sum = 0;
	size_t ck;
	size_t total = 20 + 8 + pad;

	writer_init(&w, buf, cap);
	writer_u8(&w, 0x45);
	writer_u8(&w, 0);
	writer_be16(&w, (uint16_t)total);
	writer_be16(&w, id);
	writer_be16(&w, 0);
	writer_u8(&w, 64);
	writer_u8(&w, 17);
	writer_reserve(&w, 2, &ck);
	writer_bytes(&w, &s.s_addr, 4);
	writer_bytes(&w, &d.s_addr, 4);
	writer_be16(&w, 40000);
	writer_be16(&w, 5001);
	writer_be16(&w, (uint16_t)(8 + pad));
	writer_be16(&w, 0);                  /* no UDP checksum (RFC 768) */
	for (size_t i = 0; i < pad; i++)
		writer_u8(&w, (uint8_t)id);
	if (!writer_ok(&w))
		return 0;
	for (size_t i = 0; i < 20; i += 2)
		sum += (uint32_t)(buf[i] << 8 | buf[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	writer_patch_be16(&w, ck, (uint16_t)~sum);
	return writer_len(&w);
}

/* The kernel routes a packet into the TUN; the gateway reads it at `now`. */
static size_t to_tun(const char *dst, uint16_t id, size_t pad, mm_time_ns now)
{
	uint8_t buf[MTU];
	size_t n = inner(buf, sizeof(buf), "198.18.0.10", dst, id, pad);

	if (n == 0 || write(tun_kernel, buf, n) != (ssize_t)n)
		must(-EIO, "write into the fake TUN");
	espdp_tun_readable(dp, now, 1);
	return n;
}

/* Read every ESP datagram waiting on fd, decrypt it with the peer SAs (in[0..nin), by SPI)
 * and store the inner packets' IP IDs in ids[]. Returns how many decrypted; *bad counts
 * the datagrams that did not (anti-replay, ICV, unknown SPI). */
static int drain(int fd, struct esp_sa **in, const uint32_t *spis, int nin, uint16_t *ids,
		 int max, int *bad, uint32_t *last_spi)
{
	uint8_t buf[2048];
	int got = 0;
	ssize_t r;

	*bad = 0;
	while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct esp_pkt p = { .buf = buf, .cap = sizeof(buf), .off = 0, .len = (size_t)r };
		struct esp_sa *sa = NULL;
		uint32_t spi = 0;
		struct reader rd;
		uint8_t *d;
		uint16_t id;

		if (esp_peek_spi(buf, (size_t)r, &spi) == 0)
			for (int i = 0; i < nin; i++)
				if (spis[i] == spi)
					sa = in[i];
		if (!sa || esp_decap(sa, &p, 0) < 0 || esp_pkt_data(&p, &d) < 0) {
			(*bad)++;
			continue;
		}
		reader_init(&rd, d, p.len);
		if (!reader_skip(&rd, 4) || !reader_be16(&rd, &id)) {
			(*bad)++;
			continue;
		}
		if (got < max)
			ids[got] = id;
		if (last_spi)
			*last_spi = spi;
		got++;
	}
	return got;
}

/* X sends one packet to the gateway (Child SA 1) from `fd`; the gateway reads it at now. */
static void from_x(struct esp_sa *out, int fd, uint16_t id, mm_time_ns now)
{
	uint8_t buf[256], junk[2048];
	struct esp_pkt p = { .buf = buf, .cap = sizeof(buf), .off = ESP_HEADROOM_MAX };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(gw_port),
				  .sin_addr = ip("127.0.0.1") };
	uint8_t *d;

	p.len = inner(buf + p.off, sizeof(buf) - p.off - ESP_TAILROOM_MAX, "10.9.0.1",
		      "198.18.0.10", id, 16);
	if (esp_encap(out, &p, ESP_NH_IPV4, 0) < 0 || esp_pkt_data(&p, &d) < 0)
		must(-EINVAL, "peer encap");
	if (sendto(fd, d, p.len, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)p.len)
		must(-errno, "peer send");
	usleep(10000);
	espdp_udp_readable(dp, now, 1);
	while (read(tun_kernel, junk, sizeof(junk)) > 0)
		;                          /* the kernel's side of the TUN */
}

static void setup(void)
{
	struct espdp_config c;
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0)
		must(-errno, "socketpair");
	tun_gw = sp[0];
	tun_kernel = sp[1];
	udp_gw = espdp_open_udp(ip("127.0.0.1"), 0);
	must(udp_gw, "the gateway's UDP socket");
	{
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);

		if (getsockname(udp_gw, (struct sockaddr *)&sa, &sl) < 0)
			must(-errno, "getsockname");
		gw_port = ntohs(sa.sin_port);
	}
	peer_x_old = udp_on(&x_old_port);
	peer_x_new = udp_on(&x_new_port);
	peer_y = udp_on(&y_port);
	memset(&c, 0, sizeof(c));
	c.tun_fd = tun_gw;
	c.udp_fd = udp_gw;
	c.listen = ip("127.0.0.1");
	must(espdp_new(&c, &dp), "espdp_new");
}

static void teardown(void)
{
	espdp_free(dp);
	close(tun_gw);
	close(tun_kernel);
	close(udp_gw);
	close(peer_x_old);
	close(peer_x_new);
	close(peer_y);
}

/* X (IKE SA X: Child SA 1 for its TIA 10.9.0.1, Child SA 2 for 10.9.1.0/24 behind it) and Y
 * (10.9.0.2) get packets; X answers once from its old address at 1100 ms and once, as a
 * MOBIKE SA, from its new one at 1160 ms before its UPDATE_SA_ADDRESSES; X moves at
 * 1400 ms. Replay window 1000 ms, rtt 150 ms: from 1100 - 150 = 950 ms (the answer from
 * the new address must not count: it would make that 1010 ms).
 *
 *	 900 ms  X1 id 1, 2          (before the start: not again)
 *	1000 ms  X1 id 3, X2 id 4, Y id 50
 *	1200 ms  X1 id 5, 6
 *	1300 ms  X2 id 7, X1 id 8
 * -> X again, oldest first: 3 4 5 6 7 8 on the new address; Y nothing. */
static void test_espdp_replay(void)
{
	struct ike_child_info x1 = child(IKE_X_I, IKE_X_R, SPI_X1_OUT, SPI_X1_IN,
					 ts("10.9.0.1", "10.9.0.1"), x_old_port);
	struct ike_child_info x2 = child(IKE_X_I, IKE_X_R, SPI_X2_OUT, SPI_X2_IN,
					 ts("10.9.1.0", "10.9.1.255"), x_old_port);
	struct ike_child_info y = child(IKE_Y_I, IKE_Y_R, SPI_Y_OUT, SPI_Y_IN,
					ts("10.9.0.2", "10.9.0.2"), y_port);
	struct esp_sa *xin[2] = { peer_sa(SPI_X1_OUT, ESP_DIR_IN),
				  peer_sa(SPI_X2_OUT, ESP_DIR_IN) };
	struct esp_sa *yin = peer_sa(SPI_Y_OUT, ESP_DIR_IN);
	struct esp_sa *xout = peer_sa(SPI_X1_IN, ESP_DIR_OUT);
	const uint32_t xspis[2] = { SPI_X1_OUT, SPI_X2_OUT }, yspi = SPI_Y_OUT;
	const struct espdp_stats *st = espdp_stats(dp);
	struct ike_endpoint nl = { ip("127.0.0.1"), gw_port };
	struct ike_endpoint nr = { ip("127.0.0.1"), x_new_port };
	uint16_t ids[32];
	int bad = 0, got;
	size_t sizes[9] = { 0 }, expect_bytes = 0;
	uint64_t out0;

	CHECK(espdp_set_replay(NULL, MM_MSEC(1000), 0, 1, MTU) == -EINVAL);
	CHECK(espdp_set_replay(dp, MM_MSEC(1000), MM_MSEC(150), 1 << 20, 0) == -EINVAL);
	CHECK(espdp_set_replay(dp, MM_MSEC(1000), MM_MSEC(150), 1 << 20, MTU) == 0);
	CHECK(espdp_child_add(dp, &x1, MM_MSEC(1)) == 0);
	CHECK(espdp_child_add(dp, &x2, MM_MSEC(1)) == 0);
	CHECK(espdp_child_add(dp, &y, MM_MSEC(1)) == 0);
	CHECK_EQ_U64(espdp_ike_set_mobike(dp, IKE_X_I, IKE_X_R), 2);

	sizes[1] = to_tun("10.9.0.1", 1, 100, MM_MSEC(900));
	sizes[2] = to_tun("10.9.0.1", 2, 100, MM_MSEC(900));
	sizes[3] = to_tun("10.9.0.1", 3, 300, MM_MSEC(1000));
	sizes[4] = to_tun("10.9.1.5", 4, 400, MM_MSEC(1000));
	to_tun("10.9.0.2", 50, 100, MM_MSEC(1000));
	from_x(xout, peer_x_old, 1000, MM_MSEC(1100));
	from_x(xout, peer_x_new, 1001, MM_MSEC(1160));
	CHECK_EQ_U64(st->other_source, 1);
	sizes[5] = to_tun("10.9.0.1", 5, 500, MM_MSEC(1200));
	sizes[6] = to_tun("10.9.0.1", 6, 600, MM_MSEC(1200));
	sizes[7] = to_tun("10.9.1.7", 7, 700, MM_MSEC(1300));
	sizes[8] = to_tun("10.9.0.1", 8, 800, MM_MSEC(1300));
	usleep(20000);
	/* The originals: all eight reached X's old address (and were decrypted, so the
	 * peer's anti-replay windows have seen their sequence numbers). */
	got = drain(peer_x_old, xin, xspis, 2, ids, 32, &bad, NULL);
	CHECK_EQ_U64(got, 8);
	CHECK_EQ_U64(bad, 0);
	got = drain(peer_y, &yin, &yspi, 1, ids, 32, &bad, NULL);
	CHECK_EQ_U64(got, 1);

	/* The move, then the replay. */
	CHECK_EQ_U64(espdp_ike_move(dp, IKE_X_I, IKE_X_R, &nl, &nr, true, 0), 2);
	out0 = st->out_packets;
	CHECK_EQ_U64(espdp_ike_replay(dp, IKE_X_I, IKE_X_R, MM_MSEC(1400), 0, NULL, 0), 6);
	usleep(20000);
	got = drain(peer_x_new, xin, xspis, 2, ids, 32, &bad, NULL);
	CHECK_EQ_U64(got, 6);
	CHECK_EQ_U64(bad, 0);         /* new ESP packets: the peer's anti-replay takes them */
	CHECK(got == 6 && ids[0] == 3 && ids[1] == 4 && ids[2] == 5 && ids[3] == 6 &&
	      ids[4] == 7 && ids[5] == 8);
	CHECK_EQ_U64(drain(peer_x_old, xin, xspis, 2, ids, 32, &bad, NULL), 0);
	CHECK_EQ_U64(drain(peer_y, &yin, &yspi, 1, ids, 32, &bad, NULL), 0);
	for (int i = 3; i <= 8; i++)
		expect_bytes += sizes[i];
	CHECK_EQ_U64(st->replays, 1);
	CHECK_EQ_U64(st->replayed_packets, 6);
	CHECK_EQ_U64(st->replayed_bytes, expect_bytes);
	CHECK_EQ_U64(st->out_packets - out0, 6);
	CHECK_EQ_U64(st->replay_skipped, 0);

	/* Byte budget of exactly the two oldest packets of the window (3, then 4; 5 no longer
	 * fits): those two, in order. The ring is kept (same MTU). */
	CHECK(espdp_set_replay(dp, MM_MSEC(1000), MM_MSEC(150), sizes[3] + sizes[4], MTU) == 0);
	CHECK_EQ_U64(espdp_ike_replay(dp, IKE_X_I, IKE_X_R, MM_MSEC(1400), 0, NULL, 0), 2);
	usleep(20000);
	got = drain(peer_x_new, xin, xspis, 2, ids, 32, &bad, NULL);
	CHECK(got == 2 && bad == 0 && ids[0] == 3 && ids[1] == 4);

	/* The IKE SA's measured round trip, 60 ms: the start is 60 + 15 + 2 = 77 ms before the
	 * last packet back (1100), 1023 ms: 3 and 4 (1000 ms) had arrived, 5-8 go again. A
	 * sample above the configured 150 ms changes nothing. */
	CHECK(espdp_set_replay(dp, MM_MSEC(1000), MM_MSEC(150), 1 << 20, MTU) == 0);
	CHECK_EQ_U64(espdp_ike_replay(dp, IKE_X_I, IKE_X_R, MM_MSEC(1400), MM_MSEC(60), NULL, 0), 4);
	usleep(20000);
	got = drain(peer_x_new, xin, xspis, 2, ids, 32, &bad, NULL);
	CHECK(got == 4 && bad == 0 && ids[0] == 5 && ids[1] == 6 && ids[2] == 7 && ids[3] == 8);
	CHECK_EQ_U64(espdp_ike_replay(dp, IKE_X_I, IKE_X_R, MM_MSEC(1400), MM_MSEC(400), NULL, 0), 6);
	usleep(20000);
	CHECK_EQ_U64(drain(peer_x_new, xin, xspis, 2, ids, 32, &bad, NULL), 6);

	/* What the peer said it received (MM_ESP_RECEIVED, ike_move_info.received; the SPI is
	 * ours outbound): Child SA 1 up to its 4th packet (ids 1 2 3 5), so 6 and 8 go, from
	 * the whole window; Child SA 2 has no mark: from the round-trip start, 7. */
	{
		const struct ike_esp_received upto4 = { SPI_X1_OUT, 4 }, none = { SPI_X1_OUT, 0 };

		CHECK_EQ_U64(espdp_ike_replay(dp, IKE_X_I, IKE_X_R, MM_MSEC(1400), MM_MSEC(60),
					      &upto4, 1), 3);
		usleep(20000);
		got = drain(peer_x_new, xin, xspis, 2, ids, 32, &bad, NULL);
		CHECK(got == 3 && bad == 0 && ids[0] == 6 && ids[1] == 7 && ids[2] == 8);
		/* a mark of 0 (nothing received): all of Child SA 1 in the window */
		CHECK_EQ_U64(espdp_ike_replay(dp, IKE_X_I, IKE_X_R, MM_MSEC(1400), MM_MSEC(60),
					      &none, 1), 7);
		usleep(20000);
		got = drain(peer_x_new, xin, xspis, 2, ids, 32, &bad, NULL);
		CHECK(got == 7 && ids[0] == 1 && ids[3] == 5 && ids[5] == 7 && ids[6] == 8);
	}
	/* And what we received, for our own updates: Child SA 1 up to the peer's 2nd packet
	 * (the one from its new address counts: it is authentic), Child SA 2 nothing. */
	{
		struct ike_esp_received r[4];
		size_t n = espdp_ike_received(dp, IKE_X_I, r, 4);
		bool saw1 = false, saw2 = false;

		CHECK_EQ_U64(n, 2);
		for (size_t i = 0; i < n; i++) {
			saw1 = saw1 || (r[i].spi == SPI_X1_IN && r[i].seq == 2);
			saw2 = saw2 || (r[i].spi == SPI_X2_IN && r[i].seq == 0);
		}
		CHECK(saw1 && saw2);
		CHECK_EQ_U64(espdp_ike_received(dp, IKE_X_I, r, 1), 1);
		CHECK_EQ_U64(espdp_ike_received(dp, 0x77, r, 4), 0);
	}

	/* An IKE SA rekey (RFC 7296 2.18): the packets stay the peer's under the new SPIs; a
	 * Child SA gone since: its packets are skipped, the others still go. */
	CHECK(espdp_set_replay(dp, MM_MSEC(1000), MM_MSEC(150), 1 << 20, MTU) == 0);
	CHECK_EQ_U64(espdp_child_reparent(dp, IKE_X_I, IKE_X_R, IKE_X_I + 1, IKE_X_R + 1), 2);
	CHECK_EQ_U64(espdp_ike_replay(dp, IKE_X_I, IKE_X_R, MM_MSEC(1400), 0, NULL, 0), 0);
	CHECK(espdp_child_del(dp, SPI_X2_IN) == 0);
	CHECK_EQ_U64(espdp_ike_replay(dp, IKE_X_I + 1, IKE_X_R + 1, MM_MSEC(1400), 0, NULL, 0), 4);
	CHECK_EQ_U64(st->replay_skipped, 2);            /* 4 and 7: Child SA 2 is gone */
	usleep(20000);
	got = drain(peer_x_new, xin, xspis, 2, ids, 32, &bad, NULL);
	CHECK(got == 4 && bad == 0 && ids[0] == 3 && ids[1] == 5 && ids[2] == 6 &&
	      ids[3] == 8);

	/* Without reverse traffic (Y): the whole window. Y moves to X's old port. */
	nr.port = x_old_port;
	CHECK_EQ_U64(espdp_ike_move(dp, IKE_Y_I, IKE_Y_R, &nl, &nr, true, 0), 1);
	CHECK_EQ_U64(espdp_ike_replay(dp, IKE_Y_I, IKE_Y_R, MM_MSEC(1999), 0, NULL, 0), 1);
	CHECK_EQ_U64(espdp_ike_replay(dp, IKE_Y_I, IKE_Y_R, MM_MSEC(2001), 0, NULL, 0), 0);  /* too old */
	usleep(20000);
	got = drain(peer_x_old, &yin, &yspi, 1, ids, 32, &bad, NULL);
	CHECK(got == 1 && bad == 0 && ids[0] == 50);

	/* Packets longer than the ring's slots are never kept (a new MTU empties it). */
	CHECK(espdp_set_replay(dp, MM_MSEC(1000), MM_MSEC(150), 1 << 20, 200) == 0);
	CHECK_EQ_U64(espdp_ike_replay(dp, IKE_Y_I, IKE_Y_R, MM_MSEC(1999), 0, NULL, 0), 0);
	to_tun("10.9.0.2", 51, 100, MM_MSEC(2100));
	to_tun("10.9.0.2", 52, 300, MM_MSEC(2100));
	CHECK_EQ_U64(st->replay_too_big, 1);
	CHECK_EQ_U64(espdp_ike_replay(dp, IKE_Y_I, IKE_Y_R, MM_MSEC(2200), 0, NULL, 0), 1);

	/* Off: nothing kept, nothing sent, no counter moves. */
	CHECK(espdp_set_replay(dp, 0, 0, 0, 0) == 0);
	to_tun("10.9.0.2", 53, 100, MM_MSEC(2300));
	CHECK_EQ_U64(espdp_ike_replay(dp, IKE_Y_I, IKE_Y_R, MM_MSEC(2400), 0, NULL, 0), 0);
	CHECK_EQ_U64(st->replays, 12);
	usleep(20000);
	got = drain(peer_x_old, &yin, &yspi, 1, ids, 32, &bad, NULL);
	CHECK(got == 4 && bad == 0 && ids[3] == 53);    /* 51, 52, 51 again, 53 */
	/* An IKE SA the data path never saw. */
	CHECK(espdp_set_replay(dp, MM_MSEC(1000), MM_MSEC(150), 1 << 20, MTU) == 0);
	CHECK_EQ_U64(espdp_ike_replay(dp, 0x77, 0x88, MM_MSEC(2400), 0, NULL, 0), 0);

	esp_sa_free(xin[0]);
	esp_sa_free(xin[1]);
	esp_sa_free(yin);
	esp_sa_free(xout);
}

int main(void)
{
	test_ring();
	test_marks();
	setup();
	test_espdp_replay();
	teardown();
	return tap_done();
}
