/* Unit test of the fail-closed filter's pure half (mnd/failclosed.h): the ruleset text for
 * sample specs, line by line; bad names and addresses refused with the buffer untouched;
 * the counter text of nftables parsed. What the rules do to packets is
 * tests/race/test_failclosed.py's job (a real kernel, real packets, a capture). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mnd/failclosed.h"
#include "tests/unit/tap.h"

static struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };

	inet_pton(AF_INET, s, &a);
	return a;
}

static void sample(struct mnd_fc_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->table = "mnd_failclosed";
	s->interfaces = "wlan0, wwan0";
	s->home_addr = ip("198.18.1.100");
	s->home_agent = ip("198.18.2.1");
	s->gateway = ip("198.19.0.1");
	s->nintranet = 2;
	s->intranet[0].addr = ip("198.18.2.0");
	s->intranet[0].plen = 24;
	s->intranet[1].addr = ip("198.18.128.0");
	s->intranet[1].plen = 17;
}

/* Compare text with the expected lines, one CHECK per line plus one for the count. */
static void check_lines(const char *text, const char *const *want)
{
	const char *p = text;
	size_t n = 0, got = 0;

	while (want[n])
		n++;
	for (size_t i = 0; *p; i++) {
		const char *eol = strchr(p, '\n');
		char line[512];
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (i < n)
			CHECK_STR(line, want[i]);
		got++;
		p += len;
		if (*p)
			p++;
		else
			CHECK(eol != NULL);      /* the text ends with a newline */
	}
	CHECK_EQ_U64(got, n);
}

/* The rule list written from the design (failclosed.h's table), not from the code's output;
 * the race test proves nft takes it and that it drops what it should. */
static const char *const full_lines[] = {
	"add table inet mnd_failclosed",
	"add counter inet mnd_failclosed hoa_dropped",
	"add counter inet mnd_failclosed intranet_dropped",
	"add chain inet mnd_failclosed postrouting { type filter hook postrouting priority "
	"filter; policy accept; }",
	"flush chain inet mnd_failclosed postrouting",
	"add rule inet mnd_failclosed postrouting oifname != { \"wlan0\", \"wwan0\" } accept",
	"add rule inet mnd_failclosed postrouting ip saddr 198.18.1.100 counter name "
	"\"hoa_dropped\" drop",
	"add rule inet mnd_failclosed postrouting ip daddr 198.18.2.1 udp dport 434 @th,64,8 1 "
	"accept",
	"add rule inet mnd_failclosed postrouting ip daddr 198.19.0.1 udp dport { 500, 4500 } "
	"accept",
	"add rule inet mnd_failclosed postrouting udp sport 68 udp dport 67 accept",
	"add rule inet mnd_failclosed postrouting ip daddr 198.18.2.1 counter name "
	"\"intranet_dropped\" drop",
	"add rule inet mnd_failclosed postrouting ip daddr { 198.18.2.0/24, 198.18.128.0/17 } "
	"counter name \"intranet_dropped\" drop",
	NULL,
};

/* No gateway (no [vpn]), no intranet prefixes, one interface given twice. */
static const char *const bare_lines[] = {
	"add table inet fc-test.1",
	"add counter inet fc-test.1 hoa_dropped",
	"add counter inet fc-test.1 intranet_dropped",
	"add chain inet fc-test.1 postrouting { type filter hook postrouting priority filter; "
	"policy accept; }",
	"flush chain inet fc-test.1 postrouting",
	"add rule inet fc-test.1 postrouting oifname != { \"eth0\" } accept",
	"add rule inet fc-test.1 postrouting ip saddr 10.1.2.3 counter name \"hoa_dropped\" drop",
	"add rule inet fc-test.1 postrouting ip daddr 10.9.9.9 udp dport 434 @th,64,8 1 accept",
	"add rule inet fc-test.1 postrouting udp sport 68 udp dport 67 accept",
	"add rule inet fc-test.1 postrouting ip daddr 10.9.9.9 counter name "
	"\"intranet_dropped\" drop",
	NULL,
};

static void test_render(void)
{
	struct mnd_fc_spec s;
	char buf[MND_FC_RENDER_MAX];
	int n;

	sample(&s);
	n = mnd_fc_render(&s, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK_EQ_U64(n, strlen(buf));
	check_lines(buf, full_lines);
	CHECK_EQ_U64(mnd_fc_check(&s, NULL), 0);

	/* Exactly n + 1 bytes are enough; n are not, and the buffer is left alone. */
	{
		char small[MND_FC_RENDER_MAX];
		unsigned touched = 0, wrong = 0;

		for (size_t len = 0; len <= (size_t)n; len++) {
			memset(small, 'X', sizeof(small));
			CHECK_LOOP(mnd_fc_render(&s, small, len) == -ENOSPC, wrong);
			for (size_t i = 0; i < sizeof(small); i++)
				CHECK_LOOP(small[i] == 'X', touched);
		}
		CHECK_EQ_U64(wrong, 0);
		CHECK_EQ_U64(touched, 0);
		CHECK_EQ_U64(mnd_fc_render(&s, small, (size_t)n + 1), n);
		CHECK_STR(small, buf);
		CHECK_EQ_U64(mnd_fc_render(&s, NULL, 0), -ENOSPC);
	}

	memset(&s, 0, sizeof(s));
	s.table = "fc-test.1";
	s.interfaces = " eth0,eth0\t";
	s.home_addr = ip("10.1.2.3");
	s.home_agent = ip("10.9.9.9");
	n = mnd_fc_render(&s, buf, sizeof(buf));
	CHECK(n > 0);
	check_lines(buf, bare_lines);

	/* Merged duplicates: the two lists mnd has ([mobile-node] and [vpn]) may be joined. */
	sample(&s);
	s.interfaces = "wlan0,wwan0,wlan0 , wwan0";
	CHECK(mnd_fc_render(&s, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, " postrouting oifname != { \"wlan0\", \"wwan0\" } accept\n") != NULL);

	/* The largest spec fits in MND_FC_RENDER_MAX: 16 interfaces of 15 characters, 16
	 * prefixes with the longest text, a 63-character table name. */
	{
		char ifs[16 * 17], table[MND_FC_NAME_MAX + 1];
		size_t o = 0;

		for (int i = 0; i < 16; i++)
			o += (size_t)snprintf(ifs + o, sizeof(ifs) - o, "%sabcdefghijklm%02d",
					      i ? "," : "", i);
		memset(table, 'T', MND_FC_NAME_MAX);
		table[MND_FC_NAME_MAX] = '\0';
		sample(&s);
		s.table = table;
		s.interfaces = ifs;
		s.home_addr = ip("198.199.200.201");
		s.home_agent = ip("198.199.200.202");
		s.gateway = ip("198.199.200.203");
		s.nintranet = MND_FC_INTRANET_MAX;
		for (int i = 0; i < MND_FC_INTRANET_MAX; i++) {
			char a[32];

			snprintf(a, sizeof(a), "198.199.%d.255", 100 + i);
			s.intranet[i].addr = ip(a);
			s.intranet[i].plen = 32;
		}
		n = mnd_fc_render(&s, buf, sizeof(buf));
		CHECK(n > 0);
		CHECK(strstr(buf, "\"abcdefghijklm15\" } accept\n") != NULL);
		CHECK(strstr(buf, ", 198.199.115.255/32 } counter") != NULL);
	}
}

/* A spec that must be refused: -EINVAL, a reason, and nothing written. */
static void refused(const struct mnd_fc_spec *s, const char *what)
{
	char buf[MND_FC_RENDER_MAX], err[128];
	const char *why = NULL;
	bool untouched = true;
	int failed_before = tap_failed;

	memset(buf, 'X', sizeof(buf));
	CHECK_EQ_U64(mnd_fc_render(s, buf, sizeof(buf)), -EINVAL);
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i] != 'X')
			untouched = false;
	CHECK(untouched);
	CHECK_EQ_U64(mnd_fc_check(s, &why), -EINVAL);
	CHECK(why != NULL && why[0] != '\0');
	/* apply checks before it talks to the kernel: the same refusal, with the reason. */
	err[0] = '\0';
	CHECK_EQ_U64(mnd_fc_apply(NULL, s, err, sizeof(err)), -EINVAL);
	CHECK(why != NULL && !strcmp(err, why));
	if (tap_failed != failed_before)
		printf("# the spec above: %s\n", what);
}

static void test_refused(void)
{
	static const char *const bad_tables[] = {
		"", "1fc", "_fc", "fc x", "fc;flush ruleset", "fc\"", "fc{", "fc\n", "fc/x",
		"fc$x", "fc*",
		"T123456789012345678901234567890123456789012345678901234567890123",   /* 64 */
	};
	static const char *const bad_ifaces[] = {
		"", ",", "wlan0,", ",wlan0", "wlan0,,wwan0", "wlan0 wwan0", "wlan0;", "wl\"an0",
		"wlan*", "wlan0\n", "eth0}", "wlan0/1", "abcdefghijklmnop",          /* 16 chars */
		"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q",                                  /* 17 */
	};
	static const char *const bad_unicast[] = {
		"0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.1", "239.1.1.1", "240.0.0.1",
		"255.255.255.255",
	};
	struct mnd_fc_spec s;

	refused(NULL, "NULL spec");
	for (size_t i = 0; i < sizeof(bad_tables) / sizeof(bad_tables[0]); i++) {
		sample(&s);
		s.table = bad_tables[i];
		refused(&s, "table name");
	}
	sample(&s);
	s.table = NULL;
	refused(&s, "no table name");
	for (size_t i = 0; i < sizeof(bad_ifaces) / sizeof(bad_ifaces[0]); i++) {
		sample(&s);
		s.interfaces = bad_ifaces[i];
		refused(&s, "interface list");
	}
	sample(&s);
	s.interfaces = NULL;
	refused(&s, "no interface list");
	for (size_t i = 0; i < sizeof(bad_unicast) / sizeof(bad_unicast[0]); i++) {
		sample(&s);
		s.home_addr = ip(bad_unicast[i]);
		refused(&s, "home address");
		sample(&s);
		s.home_agent = ip(bad_unicast[i]);
		refused(&s, "home agent");
		if (strcmp(bad_unicast[i], "0.0.0.0")) {   /* 0.0.0.0 means "no gateway" */
			sample(&s);
			s.gateway = ip(bad_unicast[i]);
			refused(&s, "gateway");
		}
	}
	sample(&s);
	s.intranet[1].plen = 33;
	refused(&s, "prefix length 33");
	sample(&s);
	s.intranet[0].addr = ip("198.18.2.1");
	refused(&s, "host bits");
	sample(&s);
	s.intranet[1].addr = ip("198.18.192.0");   /* /17: bit 14 is a host bit */
	refused(&s, "host bits /17");
	sample(&s);
	s.nintranet = MND_FC_INTRANET_MAX + 1;
	refused(&s, "17 prefixes");

	/* The edges that are fine: 15-character names, 16 interfaces, /0 and /32, names with
	 * every allowed punctuation. */
	sample(&s);
	s.table = "a";
	s.interfaces = "abcdefghijklmno,x.y-z_0,a,b,c,d,e,f,g,h,i,j,k,l,m,n";
	s.intranet[0].addr = ip("0.0.0.0");
	s.intranet[0].plen = 0;
	s.intranet[1].addr = ip("198.18.2.77");
	s.intranet[1].plen = 32;
	CHECK_EQ_U64(mnd_fc_check(&s, NULL), 0);
	{
		char buf[MND_FC_RENDER_MAX];

		CHECK(mnd_fc_render(&s, buf, sizeof(buf)) > 0);
		CHECK(strstr(buf, "{ 0.0.0.0/0, 198.18.2.77/32 }") != NULL);
		CHECK(strstr(buf, "\"abcdefghijklmno\", \"x.y-z_0\", \"a\"") != NULL);
	}

	/* The table name is checked before any I/O in remove, open and dropped too. */
	{
		char err[64] = "";
		uint64_t pk = 77;

		CHECK_EQ_U64(mnd_fc_remove(NULL, "fc;flush ruleset", err, sizeof(err)), -EINVAL);
		CHECK(err[0] != '\0');
		CHECK_EQ_U64(mnd_fc_remove(NULL, NULL, NULL, 0), -EINVAL);
		CHECK_EQ_U64(mnd_fc_open(NULL, "fc flush", NULL, 0), -EINVAL);
		CHECK_EQ_U64(mnd_fc_open(NULL, NULL, NULL, 0), -EINVAL);
		CHECK_EQ_U64(mnd_fc_dropped(NULL, "x y", &pk), -EINVAL);
		CHECK_EQ_U64(pk, 77);
	}
}

/* `nft list counters table inet mnd_fc` as nftables 1.0.6 (Debian 12) printed it for a
 * table of this filter, before any packet and after some. */
static const char nft_idle[] =
	"table inet mnd_fc {\n"
	"\tcounter hoa_dropped {\n"
	"\t\tpackets 0 bytes 0\n"
	"\t}\n"
	"\tcounter intranet_dropped {\n"
	"\t\tpackets 0 bytes 0\n"
	"\t}\n"
	"}\n";

static const char nft_busy[] =
	"table inet mnd_fc {\n"
	"\tcounter hoa_dropped {\n"
	"\t\tpackets 3 bytes 252\n"
	"\t}\n"
	"\tcounter intranet_dropped {\n"
	"\t\tpackets 18446744073709551610 bytes 1000\n"
	"\t}\n"
	"}\n";

static void test_counters(void)
{
	uint64_t pk = 99;

	CHECK_EQ_U64(mnd_fc_parse_counters(nft_idle, &pk), 0);
	CHECK_EQ_U64(pk, 0);
	CHECK_EQ_U64(mnd_fc_parse_counters(nft_busy, &pk), 0);
	CHECK_EQ_U64(pk, 18446744073709551613u);
	/* Without a trailing newline. */
	CHECK_EQ_U64(mnd_fc_parse_counters("\t\tpackets 5 bytes 420", &pk), 0);
	CHECK_EQ_U64(pk, 5);

	pk = 99;
	CHECK_EQ_U64(mnd_fc_parse_counters("table inet mnd_fc {\n}\n", &pk), -EINVAL);
	CHECK_EQ_U64(mnd_fc_parse_counters("", &pk), -EINVAL);
	CHECK_EQ_U64(mnd_fc_parse_counters(NULL, &pk), -EINVAL);
	CHECK_EQ_U64(mnd_fc_parse_counters("\t\tpackets x bytes 0\n", &pk), -EINVAL);
	CHECK_EQ_U64(mnd_fc_parse_counters("\t\tpackets -1 bytes 0\n", &pk), -EINVAL);
	CHECK_EQ_U64(mnd_fc_parse_counters("\t\tpackets 5\n", &pk), -EINVAL);
	CHECK_EQ_U64(mnd_fc_parse_counters("\t\tpackets 5 bytes\n\t\tbytes 3\n", &pk), -EINVAL);
	/* 2^64 does not fit; nor does a sum past it. */
	CHECK_EQ_U64(mnd_fc_parse_counters("\t\tpackets 18446744073709551616 bytes 0\n", &pk),
		     -EINVAL);
	CHECK_EQ_U64(mnd_fc_parse_counters("\t\tpackets 18446744073709551615 bytes 0\n"
					   "\t\tpackets 1 bytes 0\n", &pk), -EINVAL);
	CHECK_EQ_U64(pk, 99);
}

int main(void)
{
	test_render();
	test_refused();
	test_counters();
	return tap_done();
}
