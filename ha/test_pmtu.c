/* Tests for ha/pmtu.c: the RFC 2003 §5.1 decision, the ICMP "fragmentation needed" message
 * (RFC 792, RFC 1191 §4) checked field by field, against a known answer computed
 * independently (python3 struct + an RFC 1071 checksum, /tmp script reproduced in the
 * comment below) and against tshark's decoding of a pcap written here; the RFC 1122 §3.2.2
 * refusals; the per-endpoint cache with RFC 1191 §6.3 aging; the ICMP rate limit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "ha/pmtu.h"
#include "tests/unit/tap.h"

/* RFC 1071 checksum, written here again so the test does not trust the code under test. */
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

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* An IPv4 packet of total length len: header from the arguments (checksum computed), then
 * payload bytes pl[0..pl_len) and a pattern up to len. */
static void mkpkt(uint8_t *buf, size_t len, const char *src, const char *dst, uint8_t proto,
		  uint16_t frag, const uint8_t *pl, size_t pl_len)
{
	uint16_t c;

	memset(buf, 0, len);
	buf[0] = 0x45;
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	buf[4] = 0x12;
	buf[5] = 0x34;
	buf[6] = (uint8_t)(frag >> 8);
	buf[7] = (uint8_t)frag;
	buf[8] = 63;
	buf[9] = proto;
	inet_pton(AF_INET, src, buf + 12);
	inet_pton(AF_INET, dst, buf + 16);
	c = csum(buf, 20);
	buf[10] = (uint8_t)(c >> 8);
	buf[11] = (uint8_t)c;
	if (pl_len)
		memcpy(buf + 20, pl, pl_len);
	for (size_t i = 20 + pl_len; i < len; i++)
		buf[i] = (uint8_t)(i - 20 - pl_len);
}

/* The 1400-byte TCP segment 192.0.2.10:80 -> 198.18.1.5:40000 (DF, TTL 63, id 0x1234, seq 1,
 * ack 2, ACK|PSH, window 65535, checksum field 0xbeef) with payload bytes i & 0xff. */
static const uint8_t inner_hdr[40] = {
	0x45, 0x00, 0x05, 0x78, 0x12, 0x34, 0x40, 0x00, 0x3f, 0x06, 0x9b, 0x2a,
	0xc0, 0x00, 0x02, 0x0a, 0xc6, 0x12, 0x01, 0x05,
	0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
	0x50, 0x18, 0xff, 0xff, 0xbe, 0xef, 0x00, 0x00,
};

/* What the home agent 198.18.1.1 must send for it with Identification 0x0102 and a tunnel
 * PMTU of 1400 (Next-Hop MTU 1380), computed with python3:
 *   icmp = struct.pack('!BBHHH', 3, 4, 0, 0, 1380) + inner[:28]; checksum (RFC 1071)
 *   ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 56, 0x0102, 0, 64, 1, 0, ha, src); checksum */
static const uint8_t expected_icmp[56] = {
	0x45, 0x00, 0x00, 0x38, 0x01, 0x02, 0x00, 0x00, 0x40, 0x01, 0xf0, 0xa5,
	0xc6, 0x12, 0x01, 0x01, 0xc0, 0x00, 0x02, 0x0a,
	0x03, 0x04, 0x5b, 0x06, 0x00, 0x00, 0x05, 0x64,
	0x45, 0x00, 0x05, 0x78, 0x12, 0x34, 0x40, 0x00, 0x3f, 0x06, 0x9b, 0x2a,
	0xc0, 0x00, 0x02, 0x0a, 0xc6, 0x12, 0x01, 0x05,
	0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x01,
};

static uint8_t inner[1400];

static void make_inner(void)
{
	memcpy(inner, inner_hdr, sizeof(inner_hdr));
	for (size_t i = 40; i < sizeof(inner); i++)
		inner[i] = (uint8_t)((i - 40) & 0xff);
}

static struct in_addr addr(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a;
}

static void test_verdict(void)
{
	CHECK_EQ_U64(ha_pmtu_check(1400, true, 0, HA_PMTU_OVERHEAD_IPIP), HA_PMTU_FITS);
	CHECK_EQ_U64(ha_pmtu_check(1380, true, 1400, HA_PMTU_OVERHEAD_IPIP), HA_PMTU_FITS);
	CHECK_EQ_U64(ha_pmtu_check(1381, true, 1400, HA_PMTU_OVERHEAD_IPIP), HA_PMTU_TOO_BIG_DF);
	CHECK_EQ_U64(ha_pmtu_check(1381, false, 1400, HA_PMTU_OVERHEAD_IPIP), HA_PMTU_TOO_BIG);
	CHECK_EQ_U64(ha_pmtu_check(1368, true, 1400, HA_PMTU_OVERHEAD_UDP), HA_PMTU_FITS);
	CHECK_EQ_U64(ha_pmtu_check(1369, true, 1400, HA_PMTU_OVERHEAD_UDP), HA_PMTU_TOO_BIG_DF);
	CHECK_EQ_U64(HA_PMTU_OVERHEAD_UDP, 32);
	CHECK_EQ_U64(ha_pmtu_next_hop_mtu(1400, HA_PMTU_OVERHEAD_IPIP), 1380);
	CHECK_EQ_U64(ha_pmtu_next_hop_mtu(1400, HA_PMTU_OVERHEAD_UDP), 1368);
	CHECK_EQ_U64(ha_pmtu_next_hop_mtu(80, HA_PMTU_OVERHEAD_UDP), 68);
	CHECK_EQ_U64(ha_pmtu_next_hop_mtu(10, HA_PMTU_OVERHEAD_IPIP), 68);
}

static void test_fields(uint8_t *out, int *out_len)
{
	static const uint8_t ha_bytes[4] = { 198, 18, 1, 1 }, src_bytes[4] = { 192, 0, 2, 10 };
	uint8_t buf[HA_PMTU_ICMP_MAX + 8];
	struct writer w;
	int n;

	writer_init(&w, buf, sizeof(buf));
	n = ha_pmtu_frag_needed_build(&w, addr("198.18.1.1"), inner, sizeof(inner), 1380, 0x0102);
	CHECK_EQ_U64(n, 56);
	CHECK_EQ_U64(writer_len(&w), 56);
	if (n != 56)
		return;
	CHECK_EQ_U64(buf[0], 0x45);                        /* version 4, IHL 5 */
	CHECK_EQ_U64(buf[1], 0);                           /* TOS */
	CHECK_EQ_U64(be16(buf + 2), 56);                   /* total length */
	CHECK_EQ_U64(be16(buf + 4), 0x0102);               /* identification */
	CHECK_EQ_U64(be16(buf + 6), 0);                    /* no DF, no fragment */
	CHECK_EQ_U64(buf[8], 64);                          /* TTL */
	CHECK_EQ_U64(buf[9], 1);                           /* ICMP */
	CHECK_EQ_U64(csum(buf, 20), 0);                    /* header checksum verifies */
	CHECK_MEM(buf + 12, ha_bytes, 4);                 /* from the HA */
	CHECK_MEM(buf + 16, src_bytes, 4);                /* to the inner source */
	CHECK_EQ_U64(buf[20], 3);                          /* Destination Unreachable */
	CHECK_EQ_U64(buf[21], 4);                          /* fragmentation needed and DF set */
	CHECK_EQ_U64(csum(buf + 20, 36), 0);               /* ICMP checksum verifies */
	CHECK_EQ_U64(be16(buf + 24), 0);                   /* unused (RFC 1191 §4) */
	CHECK_EQ_U64(be16(buf + 26), 1380);                /* Next-Hop MTU */
	CHECK_MEM(buf + 28, inner, 28);                    /* header + 64 bits (RFC 792) */
	CHECK_MEM(buf, expected_icmp, sizeof(expected_icmp));
	memcpy(out, buf, 56);
	*out_len = n;
}

static void put32le(FILE *f, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	fwrite(b, 1, 4, f);
}

/* Wireshark must decode the message as Destination unreachable (Fragmentation needed) with
 * MTU 1380, good IP and ICMP checksums and no malformed or expert items. */
static void test_tshark(const uint8_t *pkt, int len)
{
	char path[] = "/tmp/test_pmtu-XXXXXX";
	char cmd[256], line[512];
	int fd = mkstemp(path), type_ok = 0, mtu_ok = 0, good = 0, bad = 0, quoted = 0;
	FILE *f, *p;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "wb");
	/* pcap (libpcap format), LINKTYPE_RAW (101): the record is the IPv4 packet. */
	put32le(f, 0xa1b2c3d4);
	{
		static const uint8_t version[4] = { 2, 0, 4, 0 };   /* 2.4, little-endian */

		fwrite(version, 1, 4, f);
	}
	put32le(f, 0);
	put32le(f, 0);
	put32le(f, 65535);
	put32le(f, 101);
	put32le(f, 1);
	put32le(f, 0);
	put32le(f, (uint32_t)len);
	put32le(f, (uint32_t)len);
	fwrite(pkt, 1, (size_t)len, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "tshark -r %s -V -o ip.check_checksum:TRUE 2>&1", path);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	if (p) {
		while (fgets(line, sizeof(line), p)) {
			if (strstr(line, "Type: 3 (Destination unreachable)"))
				type_ok++;
			if (strstr(line, "Code: 4 (Fragmentation needed)"))
				type_ok++;
			if (strstr(line, "MTU of next hop: 1380"))
				mtu_ok++;
			if (strcasestr(line, "Checksum Status: Good"))
				good++;
			if (strstr(line, "Malformed") || strstr(line, "Expert Info") ||
			    strcasestr(line, "Checksum Status: Bad") || strstr(line, "incorrect"))
				bad++;
			if (strstr(line, "Source Port: 80") || strstr(line, "Destination Port: 40000"))
				quoted++;
			if (getenv("TEST_PMTU_VERBOSE"))
				printf("# %s", line);
		}
		CHECK_EQ_U64(pclose(p), 0);
	}
	CHECK_EQ_U64(type_ok, 2);
	CHECK_EQ_U64(mtu_ok, 1);
	CHECK_EQ_U64(good, 3);  /* outer IP, ICMP, the quoted IP header */
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(quoted, 2);
	unlink(path);
}

static int build(const uint8_t *pkt, size_t len)
{
	uint8_t buf[HA_PMTU_ICMP_MAX];
	struct writer w;

	writer_init(&w, buf, sizeof(buf));
	return ha_pmtu_frag_needed_build(&w, addr("198.18.1.1"), pkt, len, 1380, 1);
}

static void test_refusals(void)
{
	uint8_t pkt[200], icmp[8] = {0};
	uint8_t buf[HA_PMTU_ICMP_MAX], small[55];
	static const char *bad_src[] = { "0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.5",
					 "239.1.2.3", "240.0.0.1", "255.255.255.255" };
	struct writer w;
	unsigned refused = 0;
	int n;

	/* ICMP errors are never answered (RFC 1122 §3.2.2): types 3, 4, 5, 11, 12. */
	static const uint8_t errors[] = { 3, 4, 5, 11, 12 };
	for (size_t i = 0; i < sizeof(errors); i++) {
		icmp[0] = errors[i];
		mkpkt(pkt, 100, "192.0.2.10", "198.18.1.5", 1, 0x4000, icmp, sizeof(icmp));
		if (build(pkt, 100) == -EPERM && ha_pmtu_may_answer(pkt, 100) == -EPERM)
			refused++;
	}
	CHECK_EQ_U64(refused, sizeof(errors));
	/* ICMP queries are: an Echo Request (8) gets its answer. */
	icmp[0] = 8;
	mkpkt(pkt, 100, "192.0.2.10", "198.18.1.5", 1, 0x4000, icmp, sizeof(icmp));
	CHECK_EQ_U64(build(pkt, 100), 56);
	CHECK_EQ_U64(ha_pmtu_may_answer(pkt, 100), 0);
	/* An ICMP message without even a type byte cannot be told from an error. */
	mkpkt(pkt, 20, "192.0.2.10", "198.18.1.5", 1, 0x4000, NULL, 0);
	CHECK_EQ_U64(build(pkt, 20), -EPERM);

	/* Fragments: the first (MF, offset 0) may be answered, later ones not. */
	mkpkt(pkt, 200, "192.0.2.10", "198.18.1.5", 17, 0x2000, NULL, 0);
	CHECK_EQ_U64(build(pkt, 200), 56);
	mkpkt(pkt, 200, "192.0.2.10", "198.18.1.5", 17, 0x2000 | 185, NULL, 0);
	CHECK_EQ_U64(build(pkt, 200), -EPERM);
	mkpkt(pkt, 200, "192.0.2.10", "198.18.1.5", 17, 0x0000 | 185, NULL, 0);
	CHECK_EQ_U64(build(pkt, 200), -EPERM);
	/* Even a non-first fragment of an ICMP message (its type is not visible). */
	mkpkt(pkt, 200, "192.0.2.10", "198.18.1.5", 1, 185, NULL, 0);
	CHECK_EQ_U64(ha_pmtu_may_answer(pkt, 200), -EPERM);

	/* Sources that are not one host; multicast and broadcast destinations. */
	refused = 0;
	for (size_t i = 0; i < sizeof(bad_src) / sizeof(bad_src[0]); i++) {
		mkpkt(pkt, 200, bad_src[i], "198.18.1.5", 6, 0x4000, NULL, 0);
		if (build(pkt, 200) == -EPERM)
			refused++;
	}
	CHECK_EQ_U64(refused, sizeof(bad_src) / sizeof(bad_src[0]));
	mkpkt(pkt, 200, "192.0.2.10", "224.0.0.251", 17, 0x4000, NULL, 0);
	CHECK_EQ_U64(build(pkt, 200), -EPERM);
	mkpkt(pkt, 200, "192.0.2.10", "255.255.255.255", 17, 0x4000, NULL, 0);
	CHECK_EQ_U64(build(pkt, 200), -EPERM);
	mkpkt(pkt, 200, "1.2.3.4", "198.18.1.5", 17, 0x4000, NULL, 0);
	CHECK_EQ_U64(build(pkt, 200), 56);

	/* Malformed: bad header checksum, length that does not match, not IPv4. */
	mkpkt(pkt, 200, "192.0.2.10", "198.18.1.5", 17, 0x4000, NULL, 0);
	pkt[10] ^= 1;
	CHECK_EQ_U64(build(pkt, 200), -EBADMSG);
	pkt[10] ^= 1;
	CHECK_EQ_U64(build(pkt, 199), -EBADMSG);
	CHECK_EQ_U64(build(pkt, 10), -EBADMSG);
	CHECK_EQ_U64(build(NULL, 200), -EINVAL);
	CHECK_EQ_U64(ha_pmtu_frag_needed_build(NULL, addr("1.1.1.1"), pkt, 200, 1380, 1),
		     -EINVAL);

	/* A payload shorter than 8 bytes is quoted whole. */
	mkpkt(pkt, 23, "192.0.2.10", "198.18.1.5", 253, 0x4000, (const uint8_t[]){1, 2, 3}, 3);
	writer_init(&w, buf, sizeof(buf));
	n = ha_pmtu_frag_needed_build(&w, addr("198.18.1.1"), pkt, 23, 1380, 1);
	CHECK_EQ_U64(n, 20 + 8 + 23);
	CHECK(n == 51 && memcmp(buf + 28, pkt, 23) == 0 && csum(buf + 20, 31) == 0);

	/* IPv4 options are quoted with the header (RFC 792: "Internet Header"). */
	mkpkt(pkt, 100, "192.0.2.10", "198.18.1.5", 17, 0x4000, NULL, 0);
	pkt[0] = 0x46;                  /* IHL 6: one NOP-padded option word */
	pkt[10] = pkt[11] = 0;
	memset(pkt + 20, 1, 4);         /* four NOPs */
	{
		uint16_t c = csum(pkt, 24);

		pkt[10] = (uint8_t)(c >> 8);
		pkt[11] = (uint8_t)c;
	}
	writer_init(&w, buf, sizeof(buf));
	n = ha_pmtu_frag_needed_build(&w, addr("198.18.1.1"), pkt, 100, 1380, 1);
	CHECK_EQ_U64(n, 20 + 8 + 24 + 8);
	CHECK(n == 60 && memcmp(buf + 28, pkt, 32) == 0 && be16(buf + 2) == 60);

	/* A writer one byte too small: -ENOSPC and nothing written. */
	writer_init(&w, small, sizeof(small));
	CHECK_EQ_U64(ha_pmtu_frag_needed_build(&w, addr("198.18.1.1"), inner, sizeof(inner),
					       1380, 1), -ENOSPC);
	CHECK_EQ_U64(writer_len(&w), 0);
}

static void test_cache(void)
{
	struct ha_pmtu_cache c;
	struct in_addr a = addr("198.18.100.1"), b = addr("198.18.100.2"), x;
	const mm_time_ns t0 = MM_SEC(1000);
	unsigned misses = 0;

	ha_pmtu_cache_init(&c);
	CHECK_EQ_U64(ha_pmtu_cache_get(&c, a, t0), 0);
	ha_pmtu_cache_learn(&c, a, 1400, t0);
	ha_pmtu_cache_learn(&c, b, 1300, t0 + 1);
	CHECK_EQ_U64(ha_pmtu_cache_get(&c, a, t0 + MM_SEC(10)), 1400);
	CHECK_EQ_U64(ha_pmtu_cache_get(&c, b, t0 + MM_SEC(10)), 1300);
	/* Refresh: lower again, timestamp moves. */
	ha_pmtu_cache_learn(&c, a, 1280, t0 + MM_SEC(300));
	CHECK_EQ_U64(c.n, 2);
	CHECK_EQ_U64(ha_pmtu_cache_get(&c, a, t0 + MM_SEC(599)), 1280);
	/* RFC 1191 §6.3: aged out after 10 minutes (b was learnt at t0 + 1 ns). */
	CHECK_EQ_U64(ha_pmtu_cache_get(&c, b, t0 + MM_SEC(600)), 1300);
	CHECK_EQ_U64(ha_pmtu_cache_get(&c, b, t0 + MM_SEC(600) + 1), 0);
	CHECK_EQ_U64(c.n, 1);
	CHECK_EQ_U64(ha_pmtu_cache_get(&c, a, t0 + MM_SEC(899)), 1280);
	CHECK_EQ_U64(ha_pmtu_cache_get(&c, a, t0 + MM_SEC(900)), 0);
	CHECK_EQ_U64(c.n, 0);
	/* Below the minimum: raised to 68. */
	ha_pmtu_cache_learn(&c, a, 20, t0);
	CHECK_EQ_U64(ha_pmtu_cache_get(&c, a, t0), 68);
	/* Full: the oldest entry (a, learnt at t0) makes room. */
	for (unsigned i = 1; i < HA_PMTU_CACHE_SLOTS; i++) {
		x.s_addr = htonl(0x0a000000u + i);
		ha_pmtu_cache_learn(&c, x, 1000 + i, t0 + i);
	}
	CHECK_EQ_U64(c.n, HA_PMTU_CACHE_SLOTS);
	ha_pmtu_cache_learn(&c, b, 1300, t0 + MM_SEC(1));
	CHECK_EQ_U64(c.n, HA_PMTU_CACHE_SLOTS);
	CHECK_EQ_U64(ha_pmtu_cache_get(&c, a, t0 + MM_SEC(1)), 0);
	CHECK_EQ_U64(ha_pmtu_cache_get(&c, b, t0 + MM_SEC(1)), 1300);
	for (unsigned i = 1; i < HA_PMTU_CACHE_SLOTS; i++) {
		x.s_addr = htonl(0x0a000000u + i);
		if (ha_pmtu_cache_get(&c, x, t0 + MM_SEC(1)) != 1000 + i)
			misses++;
	}
	CHECK_EQ_U64(misses, 0);
}

static void test_ratelimit(void)
{
	struct ha_pmtu_rl rl;
	const mm_time_ns t0 = MM_SEC(5);
	unsigned ok = 0;

	ha_pmtu_rl_init(&rl);
	for (unsigned i = 0; i < 250; i++)
		ok += ha_pmtu_rl_allow(&rl, t0);
	CHECK_EQ_U64(ok, HA_PMTU_ICMP_RATE);
	CHECK(!ha_pmtu_rl_allow(&rl, t0 + MM_MSEC(9)));
	CHECK(ha_pmtu_rl_allow(&rl, t0 + MM_MSEC(10)));
	CHECK(!ha_pmtu_rl_allow(&rl, t0 + MM_MSEC(15)));
	ok = 0;
	for (unsigned i = 0; i < 250; i++)
		ok += ha_pmtu_rl_allow(&rl, t0 + MM_SEC(10));
	CHECK_EQ_U64(ok, HA_PMTU_ICMP_RATE);
	/* 100/s sustained: over one second at 1 kHz, 100 (+1 rounding) go out. */
	ok = 0;
	for (unsigned i = 1; i <= 1000; i++)
		ok += ha_pmtu_rl_allow(&rl, t0 + MM_SEC(10) + MM_MSEC(i));
	CHECK(ok >= 99 && ok <= 101);
}

int main(void)
{
	uint8_t msg[56];
	int len = 0;

	make_inner();
	test_verdict();
	test_fields(msg, &len);
	if (len == 56)
		test_tshark(msg, len);
	else
		CHECK(!"no message to decode");
	test_refusals();
	test_cache();
	test_ratelimit();
	return tap_done();
}
