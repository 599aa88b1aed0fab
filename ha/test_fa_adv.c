/* Unit tests for ha/fa_adv.c (the foreign agent's advertisement scheduler: RFC 5944 §2.1,
 * §2.3, §2.3.2; RFC 1256 §4.1, §5.1) and the pure IPv4/UDP helpers of ha/fa_datapath.c.
 *
 * Known answers: the advertisement bytes are laid out by hand from RFC 5944 §2.1 (ICMP
 * Router Advertisement, RFC 1256 §3), §2.1.1 (Mobility Agent Advertisement extension, flag
 * bits R=0, F=3, T=7 of the 16-bit field), §2.1.2 (Prefix-Lengths) and §2.1.3 (one byte of
 * padding); their ICMP checksum and the IPv4/UDP datagram were computed by scapy 2.5.0
 * (scapy.utils.checksum; IP()/UDP()/Raw()), an independent implementation run here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <stdio.h>
#include <unistd.h>

#include "common/log.h"
#include "ha/conf.h"
#include "ha/fa_adv.h"
#include "ha/fa_datapath.h"
#include "tests/unit/tap.h"

static struct in_addr ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a;
}

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (h[0] && h[1] && n < cap) {
		char b[3] = { h[0], h[1], 0 };

		out[n++] = (uint8_t)strtoul(b, NULL, 16);
		h += 2;
	}
	return n;
}

static struct fa_adv_config base_cfg(void)
{
	struct fa_adv_config c;

	memset(&c, 0, sizeof(c));
	c.link_addr = ip("198.18.13.1");
	c.link_plen = 24;
	c.ncoa = 1;
	c.coa[0] = ip("198.18.13.1");
	c.interval_ms = 1000;
	c.reg_lifetime = 600;
	c.registration_required = true;
	c.reverse_tunnel = true;
	c.routes_common = true;
	c.prefix_lengths = true;
	return c;
}

#define T0 MM_SEC(1000)

static void test_init_checks(void)
{
	struct fa_adv s;
	struct fa_adv_config c = base_cfg();

	CHECK_EQ_U64(fa_adv_init(&s, &c, 1, T0), 0);
	c.ncoa = 0;
	CHECK(fa_adv_init(&s, &c, 1, T0) == -EINVAL);
	c = base_cfg();
	c.ncoa = FA_ADV_MAX_COA + 1;
	CHECK(fa_adv_init(&s, &c, 1, T0) == -EINVAL);
	c = base_cfg();
	c.interval_ms = FA_ADV_INTERVAL_MIN_MS - 1;
	CHECK(fa_adv_init(&s, &c, 1, T0) == -EINVAL);
	c.interval_ms = FA_ADV_INTERVAL_MAX_MS + 1;
	CHECK(fa_adv_init(&s, &c, 1, T0) == -EINVAL);
	c = base_cfg();
	c.link_plen = 33;
	CHECK(fa_adv_init(&s, &c, 1, T0) == -EINVAL);
	c = base_cfg();
	c.reg_lifetime = 0;
	CHECK(fa_adv_init(&s, &c, 1, T0) == -EINVAL);
	CHECK(fa_adv_init(NULL, &c, 1, T0) == -EINVAL);
}

/* The first advertisement, byte for byte (RFC 5944 §2.1 layout, checksum by scapy). */
static void test_known_answer(void)
{
	static const char *expect_hex =
		"0900816f" "01020003" "c6120d01" "00000000"   /* RFC 1256 §3: 1 entry, size 2, 3 s */
		"100a0000" "02589100" "c6120d01"              /* §2.1.1: seq 0, 600 s, R F T, CoA */
		"130118" "00";                                /* §2.1.2: /24; §2.1.3 padding */
	struct fa_adv_config c = base_cfg();
	uint8_t expect[64], out[FA_ADV_MSG_MAX], small[16];
	struct fa_adv s;
	struct writer w;
	size_t n = unhex(expect_hex, expect, sizeof(expect));
	int len;

	CHECK_EQ_U64(fa_adv_init(&s, &c, 42, T0), 0);
	CHECK(fa_adv_due(&s, T0));                    /* the first one at once */
	writer_init(&w, small, sizeof(small));
	CHECK(fa_adv_emit(&s, true, T0, &w) < 0);     /* does not fit: nothing consumed */
	CHECK_EQ_U64(s.seq, 0);
	CHECK(fa_adv_due(&s, T0));
	writer_init(&w, out, sizeof(out));
	len = fa_adv_emit(&s, true, T0, &w);
	CHECK_EQ_U64(len, n);
	CHECK(len == (int)n && memcmp(out, expect, n) == 0);
	CHECK_EQ_U64(s.seq, 1);
	CHECK(!fa_adv_due(&s, T0));
}

static void test_contents(void)
{
	struct fa_adv_config c = base_cfg();
	struct mip4_agent_adv a;

	/* AdvertisementLifetime = 3 * Max, >= Max, <= 9000 (RFC 1256 §4.1). */
	CHECK_EQ_U64(fa_adv_lifetime(&c), 3);
	c.interval_ms = 600 * 1000;
	CHECK_EQ_U64(fa_adv_lifetime(&c), 1800);
	c.interval_ms = 1800 * 1000;
	CHECK_EQ_U64(fa_adv_lifetime(&c), 5400);
	c.interval_ms = 1500;                     /* rounded up to whole seconds */
	CHECK_EQ_U64(fa_adv_lifetime(&c), 6);

	c = base_cfg();
	c.home_agent = true;
	c.registration_required = false;
	c.reverse_tunnel = false;
	c.ncoa = 2;
	c.coa[1] = ip("198.18.213.2");
	fa_adv_fill(&c, 77, &a);
	CHECK_EQ_U64(a.flags, MIP4_ADV_F | MIP4_ADV_H);
	CHECK_EQ_U64(a.seq, 77);
	CHECK_EQ_U64(a.num_coa, 2);
	CHECK(a.coa[1].s_addr == ip("198.18.213.2").s_addr);
	CHECK_EQ_U64(a.code, MIP4_ADV_CODE_ROUTER);
	CHECK_EQ_U64(a.num_addrs, 1);
	CHECK(a.has_prefix_lengths && a.prefix_len[0] == 24);

	c.routes_common = false;                  /* Code 16, no router address */
	fa_adv_fill(&c, 0, &a);
	CHECK_EQ_U64(a.code, MIP4_ADV_CODE_NO_COMMON);
	CHECK_EQ_U64(a.num_addrs, 0);
	CHECK(!a.has_prefix_lengths);
	c = base_cfg();
	c.prefix_lengths = false;
	fa_adv_fill(&c, 0, &a);
	CHECK(!a.has_prefix_lengths);
	CHECK_EQ_U64(a.flags, MIP4_ADV_R | MIP4_ADV_F | MIP4_ADV_T);
}

/* RFC 5944 §2.3.2: 0 first, +1 for every advertisement, 0xffff followed by 256. */
static void test_sequence(void)
{
	struct fa_adv_config c = base_cfg();
	uint8_t out[FA_ADV_MSG_MAX];
	struct mip4_agent_adv parsed;
	struct fa_adv s;
	struct writer w;
	unsigned bad = 0;
	int len;

	fa_adv_init(&s, &c, 7, T0);
	for (unsigned i = 0; i < 300; i++) {
		writer_init(&w, out, sizeof(out));
		len = fa_adv_emit(&s, i % 3 == 0, T0 + MM_SEC(i), &w);
		CHECK_LOOP(len > 0 && mip4_adv_parse(out, (size_t)len, &parsed) == 0 &&
			   parsed.seq == i, bad);
	}
	CHECK_EQ_U64(bad, 0);
	s.seq = 0xfffe;
	writer_init(&w, out, sizeof(out));
	len = fa_adv_emit(&s, false, T0, &w);
	CHECK(len > 0 && mip4_adv_parse(out, (size_t)len, &parsed) == 0 && parsed.seq == 0xfffe);
	writer_init(&w, out, sizeof(out));
	len = fa_adv_emit(&s, false, T0, &w);
	CHECK(len > 0 && mip4_adv_parse(out, (size_t)len, &parsed) == 0 && parsed.seq == 0xffff);
	CHECK_EQ_U64(s.seq, 256);
	/* A restart begins at 0 again. */
	fa_adv_init(&s, &c, 7, T0);
	CHECK_EQ_U64(s.seq, 0);
}

/* RFC 1256 §5.1: each interval uniform in [0.75 Max, Max]; the first three at most 16 s. */
static void test_intervals(void)
{
	struct fa_adv_config c = base_cfg();
	uint8_t out[FA_ADV_MSG_MAX];
	mm_time_ns now = T0, min = UINT64_MAX, max = 0, prev = 0;
	unsigned outside = 0, distinct = 0;
	struct fa_adv s;
	struct writer w;

	c.interval_ms = 600 * 1000;
	fa_adv_init(&s, &c, 12345, now);
	for (unsigned i = 0; i < 3; i++) {
		writer_init(&w, out, sizeof(out));
		fa_adv_emit(&s, true, now, &w);
		CHECK(fa_adv_next(&s) - now == FA_ADV_INITIAL_INTERVAL);   /* 450..600 s capped */
		now = fa_adv_next(&s);
	}
	for (unsigned i = 0; i < 200; i++) {
		mm_time_ns iv;

		writer_init(&w, out, sizeof(out));
		fa_adv_emit(&s, true, now, &w);
		iv = fa_adv_next(&s) - now;
		CHECK_LOOP(iv >= MM_SEC(450) && iv <= MM_SEC(600), outside);
		if (iv < min)
			min = iv;
		if (iv > max)
			max = iv;
		if (iv != prev)
			distinct++;
		prev = iv;
		now += iv;
	}
	CHECK_EQ_U64(outside, 0);
	CHECK(distinct > 150);                        /* jitter, not a fixed period */
	CHECK(max - min > MM_SEC(100));               /* spread over most of the range */
	/* A unicast answer does not move the periodic timer. */
	{
		mm_time_ns next = fa_adv_next(&s);

		writer_init(&w, out, sizeof(out));
		fa_adv_emit(&s, false, now + MM_SEC(1), &w);
		CHECK(fa_adv_next(&s) == next);
	}
	/* With a 1 s interval: [0.75 s, 1 s]. */
	c.interval_ms = 1000;
	fa_adv_init(&s, &c, 99, T0);
	writer_init(&w, out, sizeof(out));
	fa_adv_emit(&s, true, T0, &w);
	CHECK(fa_adv_next(&s) >= T0 + MM_MSEC(750) && fa_adv_next(&s) <= T0 + MM_SEC(1));
}

static void test_solicitations(void)
{
	struct fa_adv_config c = base_cfg();
	uint8_t out[FA_ADV_MSG_MAX];
	struct fa_adv s;
	struct writer w;
	struct in_addr any = { 0 }, hoa = ip("198.18.1.100"), nb = ip("198.18.13.50");
	unsigned uni = 0, lim = 0;

	c.interval_ms = 60 * 1000;
	fa_adv_init(&s, &c, 5, T0);
	writer_init(&w, out, sizeof(out));
	fa_adv_emit(&s, true, T0, &w);                /* the first periodic one at T0 */

	/* Off-link (a home address) or 0.0.0.0: a multicast answer at once (the periodic one
	 * just before does not hold it back), then at most one answer per second. */
	CHECK_EQ_U64(fa_adv_solicited(&s, hoa, T0 + MM_MSEC(100)), FA_ANSWER_MULTICAST);
	writer_init(&w, out, sizeof(out));
	fa_adv_emit(&s, true, T0 + MM_MSEC(100), &w);
	/* The periodic timer restarted (an initial interval: capped at 16 s). */
	CHECK(fa_adv_next(&s) == T0 + MM_MSEC(100) + FA_ADV_INITIAL_INTERVAL);
	CHECK_EQ_U64(fa_adv_solicited(&s, hoa, T0 + MM_MSEC(200)), FA_ANSWER_DEFERRED);
	CHECK(fa_adv_next(&s) == T0 + MM_MSEC(1100));
	CHECK_EQ_U64(fa_adv_solicited(&s, any, T0 + MM_MSEC(300)), FA_ANSWER_DEFERRED);
	CHECK(fa_adv_next(&s) == T0 + MM_MSEC(1100));     /* one answers both */
	CHECK(!fa_adv_due(&s, T0 + MM_MSEC(1099)));
	CHECK(fa_adv_due(&s, T0 + MM_MSEC(1100)));
	writer_init(&w, out, sizeof(out));
	fa_adv_emit(&s, true, T0 + MM_MSEC(1100), &w);
	CHECK(!s.answer_pending);
	CHECK(fa_adv_next(&s) == T0 + MM_MSEC(1100) + FA_ADV_INITIAL_INTERVAL);
	/* The deferred answer counts as an answer: the next one waits a gap after it. */
	CHECK_EQ_U64(fa_adv_solicited(&s, hoa, T0 + MM_MSEC(1500)), FA_ANSWER_DEFERRED);
	CHECK(fa_adv_next(&s) == T0 + MM_MSEC(2100));
	/* A periodic advertisement covers a pending answer. */
	writer_init(&w, out, sizeof(out));
	fa_adv_emit(&s, true, T0 + MM_MSEC(1600), &w);
	CHECK(!s.answer_pending);
	CHECK_EQ_U64(fa_adv_solicited(&s, hoa, T0 + MM_MSEC(2700)), FA_ANSWER_MULTICAST);

	/* On-link: unicast at once, once per second per source. */
	CHECK_EQ_U64(fa_adv_solicited(&s, nb, T0 + MM_SEC(10)), FA_ANSWER_UNICAST);
	CHECK_EQ_U64(fa_adv_solicited(&s, nb, T0 + MM_SEC(10) + MM_MSEC(500)), FA_ANSWER_LIMITED);
	CHECK_EQ_U64(fa_adv_solicited(&s, nb, T0 + MM_SEC(11)), FA_ANSWER_UNICAST);
	CHECK_EQ_U64(s.limited, 1);
	/* Our own address is not a neighbour: multicast. */
	CHECK(fa_adv_solicited(&s, c.link_addr, T0 + MM_SEC(20)) != FA_ANSWER_UNICAST);

	/* FA_ADV_UNICAST_BURST per second in all. */
	for (unsigned i = 0; i < FA_ADV_UNICAST_BURST + 5; i++) {
		struct in_addr a = ip("198.18.13.100");

		a.s_addr = htonl(ntohl(a.s_addr) + i);
		if (fa_adv_solicited(&s, a, T0 + MM_SEC(30)) == FA_ANSWER_UNICAST)
			uni++;
		else
			lim++;
	}
	CHECK_EQ_U64(uni, FA_ADV_UNICAST_BURST);
	CHECK_EQ_U64(lim, 5);
	{
		struct in_addr a = ip("198.18.13.200");

		CHECK_EQ_U64(fa_adv_solicited(&s, a, T0 + MM_SEC(30) + MM_MSEC(150)),
			     FA_ANSWER_UNICAST);      /* one token back per 100 ms */
		/* A source held back by the overall limit was not answered: it may ask again
		 * at once when a token is back (the per-source gap counts answers). */
		a = ip("198.18.13.114");
		CHECK_EQ_U64(fa_adv_solicited(&s, a, T0 + MM_SEC(30) + MM_MSEC(250)),
			     FA_ANSWER_UNICAST);
	}
	/* More sources than remembered: the oldest makes room, still one per second each. */
	for (unsigned i = 0; i < FA_ADV_SOURCES + 4; i++) {
		struct in_addr a = ip("198.18.13.10");

		a.s_addr = htonl(ntohl(a.s_addr) + i);
		CHECK_LOOP(fa_adv_solicited(&s, a, T0 + MM_SEC(100) + MM_SEC(i)) ==
			   FA_ANSWER_UNICAST, lim);
	}
	CHECK_EQ_U64(lim, 5);
	CHECK_EQ_U64(s.nsrc, FA_ADV_SOURCES);
}

/* IPv4/UDP for the visited link: the datagram scapy builds for the same fields. */
static void test_udp4(void)
{
	static const char *expect_hex =
		"4500004812340000ff110ee7c6120d01c612016401b29c400034bfed0300012cc6120164c61201"
		"0200010203040506072014000010000000000102030405060708090a0b0c0d0e0f";
	static const char *odd_hex = "4500001d12340000ff110f12c6120d01c612016401b29c400009c45f03";
	uint8_t expect[128], out[128], payload[64], odd[64];
	size_t n = unhex(expect_hex, expect, sizeof(expect)), pl = n - 28, on;
	struct fa_udp4_info u;
	struct writer w;
	unsigned bad = 0;
	int len;

	memcpy(payload, expect + 28, pl);
	writer_init(&w, out, sizeof(out));
	len = fa_udp4_build(&w, ip("198.18.13.1"), ip("198.18.1.100"), 434, 40000, 255, 0x1234,
			    payload, pl);
	CHECK_EQ_U64(len, n);
	CHECK(len == (int)n && memcmp(out, expect, n) == 0);
	on = unhex(odd_hex, odd, sizeof(odd));        /* odd payload length */
	writer_init(&w, out, sizeof(out));
	len = fa_udp4_build(&w, ip("198.18.13.1"), ip("198.18.1.100"), 434, 40000, 255, 0x1234,
			    "\x03", 1);
	CHECK(len == (int)on && memcmp(out, odd, on) == 0);
	writer_init(&w, out, 40);
	CHECK(fa_udp4_build(&w, ip("1.2.3.4"), ip("5.6.7.8"), 1, 2, 64, 0, payload, pl) ==
	      -ENOSPC);
	CHECK(fa_udp4_build(&w, ip("1.2.3.4"), ip("5.6.7.8"), 1, 2, 0, 0, payload, 1) == -EINVAL);

	/* peek: the fields back; link padding ignored. */
	memset(&u, 0, sizeof(u));
	memcpy(out, expect, n);
	memset(out + n, 0xee, 6);
	CHECK_EQ_U64(fa_udp4_peek(out, n + 6, &u), 0);
	CHECK(u.src.s_addr == ip("198.18.13.1").s_addr && u.dst.s_addr == ip("198.18.1.100").s_addr);
	CHECK_EQ_U64(u.sport, 434);
	CHECK_EQ_U64(u.dport, 40000);
	CHECK_EQ_U64(u.ttl, 255);
	CHECK_EQ_U64(u.payload_off, 28);
	CHECK_EQ_U64(u.payload_len, pl);
	/* Every truncation fails, output untouched. */
	for (size_t cut = 0; cut < n; cut++) {
		struct fa_udp4_info v = { .sport = 7 };

		CHECK_LOOP(fa_udp4_peek(expect, cut, &v) < 0 && v.sport == 7, bad);
	}
	CHECK_EQ_U64(bad, 0);
	/* A header bit flip breaks the header checksum. */
	for (size_t i = 0; i < 20; i++) {
		memcpy(out, expect, n);
		out[i] ^= 0x01;
		CHECK_LOOP(fa_udp4_peek(out, n, &u) < 0, bad);
	}
	CHECK_EQ_U64(bad, 0);
	/* Not UDP; a fragment: -ENOMSG (header checksum fixed up by hand, RFC 1071). */
	{
		uint16_t c;

		memcpy(out, expect, n);
		out[9] = 6;
		out[10] = out[11] = 0;
		c = mip4_inet_checksum(out, 20);
		out[10] = (uint8_t)(c >> 8);
		out[11] = (uint8_t)c;
		CHECK(fa_udp4_peek(out, n, &u) == -ENOMSG);
		memcpy(out, expect, n);
		out[6] = 0x20;                        /* MF */
		out[10] = out[11] = 0;
		c = mip4_inet_checksum(out, 20);
		out[10] = (uint8_t)(c >> 8);
		out[11] = (uint8_t)c;
		CHECK(fa_udp4_peek(out, n, &u) == -ENOMSG);
	}
}

/* --- [foreign-agent] in the configuration file ----------------------------------------- */

static char conf_log[4096];

static int load(const char *text, struct ha_conf *out)
{
	char dir[] = "/tmp/test_fa_conf.XXXXXX", path[64];
	FILE *f, *log = tmpfile();
	size_t n;
	int rc;

	if (!mkdtemp(dir) || !log)
		abort();
	snprintf(path, sizeof(path), "%s/ha.conf", dir);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	log_set_stream(log);
	log_set_format(LOG_FORMAT_JOURNAL);
	log_set_level(LOG_LEVEL_INFO);
	memset(out, 0x5a, sizeof(*out));
	rc = ha_conf_load(path, out);
	fflush(log);
	rewind(log);
	n = fread(conf_log, 1, sizeof(conf_log) - 1, log);
	conf_log[n] = 0;
	log_set_stream(NULL);
	log_set_level(LOG_LEVEL_ERROR);
	fclose(log);
	unlink(path);
	rmdir(dir);
	return rc;
}

#define HA_GROUP "[home-agent]\naddress = 198.18.1.2\nhome-interface = eth0\n" \
		 "home-prefix = 198.18.1.0/24\nkeys-file = keys\n"
#define FA_GROUP "[foreign-agent]\ninterface = lan\ncare-of-address = 198.18.13.1\n"

static void test_conf(void)
{
	struct ha_conf c;

	/* A foreign agent alone: no home-agent keys needed; the defaults. */
	CHECK_EQ_U64(load(FA_GROUP, &c), 0);
	CHECK(c.has_fa && !c.has_ha);
	CHECK_STR(c.fa.interface, "lan");
	CHECK(c.fa.coa.s_addr == ip("198.18.13.1").s_addr);
	CHECK_EQ_U64(c.fa.adv_interval, FA_ADV_INTERVAL_DEFAULT);
	CHECK_EQ_U64(c.fa.reg_lifetime, FA_MAX_LIFETIME_DEFAULT);
	CHECK(c.fa.registration_required && c.fa.prefix_lengths && !c.fa.mn_fa_required);
	CHECK_EQ_U64(c.fa.reverse, FA_RT_OFFER);
	CHECK(c.fa.fa_ha_keys_file == NULL && c.fa.mn_fa_keys_file == NULL);
	CHECK_STR(c.fa.tunnel_device, FA_TUNNEL_DEVICE_DEFAULT);
	CHECK_EQ_U64(c.fa.routing_table, FA_ROUTING_TABLE_DEFAULT);
	CHECK_STR(c.control_socket, HA_CONTROL_SOCKET_DEFAULT);
	CHECK(c.keys_file == NULL);
	ha_conf_clear(&c);

	CHECK_EQ_U64(load(FA_GROUP "advertisement-interval = 1\nregistration-lifetime = 65535\n"
			  "reverse-tunnelling = required\nmn-fa-required = yes\n"
			  "mn-fa-keys-file = mnfa.keys\nfa-ha-keys-file = /etc/faha.keys\n"
			  "routing-table = 1000\ncontrol-socket = /run/fa.sock\n", &c), 0);
	CHECK_EQ_U64(c.fa.adv_interval, 1);
	CHECK_EQ_U64(c.fa.reg_lifetime, 65535);
	CHECK_EQ_U64(c.fa.reverse, FA_RT_REQUIRE);
	CHECK(c.fa.mn_fa_required && c.fa.mn_fa_keys_file &&
	      strstr(c.fa.mn_fa_keys_file, "/mnfa.keys") != NULL);
	CHECK_STR(c.fa.fa_ha_keys_file, "/etc/faha.keys");
	CHECK_EQ_U64(c.fa.routing_table, 1000);
	CHECK_STR(c.control_socket, "/run/fa.sock");
	ha_conf_clear(&c);

	/* Both groups: one control socket, [home-agent]'s. */
	CHECK_EQ_U64(load(HA_GROUP FA_GROUP, &c), 0);
	CHECK(c.has_ha && c.has_fa);
	ha_conf_clear(&c);
	CHECK(load(HA_GROUP FA_GROUP "control-socket = /run/x.sock\n", &c) == -EINVAL);
	CHECK(strstr(conf_log, "[foreign-agent] control-socket: with [home-agent]") != NULL);
	CHECK(load(HA_GROUP FA_GROUP "tunnel-device = mipha0\n", &c) == -EINVAL);
	CHECK(strstr(conf_log, "[foreign-agent] tunnel-device: \"mipha0\" is [home-agent]'s") !=
	      NULL);

	/* Errors: one line naming the group and key. */
	CHECK(load("[foo]\nbar = 1\n", &c) == -EINVAL);
	CHECK(strstr(conf_log, "[home-agent]: missing (required, or [foreign-agent], or both)") !=
	      NULL);
	CHECK(load("[foreign-agent]\ncare-of-address = 198.18.13.1\n", &c) == -EINVAL);
	CHECK(strstr(conf_log, "[foreign-agent] interface: missing (required)") != NULL);
	CHECK(load("[foreign-agent]\ninterface = lan\n", &c) == -EINVAL);
	CHECK(strstr(conf_log, "[foreign-agent] care-of-address: missing (required)") != NULL);
	CHECK(load(FA_GROUP "mn-fa-required = yes\n", &c) == -EINVAL);
	CHECK(strstr(conf_log, "[foreign-agent] mn-fa-keys-file: missing (required)") != NULL);
	CHECK(load(FA_GROUP "reverse-tunnelling = maybe\n", &c) == -EINVAL);
	CHECK(strstr(conf_log, "reverse-tunnelling") != NULL);
	CHECK(load(FA_GROUP "advertisement-interval = 0\n", &c) == -EINVAL);
	CHECK(load(FA_GROUP "advertisement-interval = 1801\n", &c) == -EINVAL);
	CHECK(load(FA_GROUP "registration-lifetime = 0\n", &c) == -EINVAL);
	CHECK(load(FA_GROUP "routing-table = 254\n", &c) == -EINVAL);
	CHECK(strstr(conf_log, "routing-table: 254 is one of the kernel's own tables") != NULL);
	CHECK(load(FA_GROUP "tunnel-device = lan\n", &c) == -EINVAL);
	CHECK(strstr(conf_log, "[foreign-agent] tunnel-device: \"lan\" is the interface") !=
	      NULL);
	CHECK(load(FA_GROUP "care-of-addres = 1.2.3.4\n", &c) == 0);     /* a typo: warned */
	CHECK(strstr(conf_log, "care-of-addres: unknown key") != NULL);
	ha_conf_clear(&c);
}

int main(void)
{
	test_init_checks();
	test_known_answer();
	test_contents();
	test_sequence();
	test_intervals();
	test_solicitations();
	test_udp4();
	test_conf();
	return tap_done();
}
