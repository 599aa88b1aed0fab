/* Table-driven tests of policy/mobike.c: pair order (RFC 4555 3.5, 3.10), acceptance of a
 * peer's new address (3.5, 3.7, 3.9), prefixes. Expected values are worked out by hand from
 * the rules in mobike.h, one row per rule. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "policy/mobike.h"
#include "tests/unit/tap.h"

static struct in_addr A(const char *s)
{
	struct in_addr a = { 0 };

	if (s)
		inet_pton(AF_INET, s, &a);
	return a;
}

/* --- pairs ------------------------------------------------------------------------------ */

struct pairs_case {
	const char *name;
	const char *local[4];
	const char *peer[4];
	const char *failing[2];              /* local, remote; NULL: none */
	size_t max;
	const char *want[10][2];             /* expected pairs in order, ends at NULL */
};

static const struct pairs_case pairs_cases[] = {
	{ "one by one", { "192.0.2.2" }, { "192.0.2.1" }, { NULL }, 8,
	  { { "192.0.2.2", "192.0.2.1" } } },
	{ "interface preference first, then the peer's order",
	  { "198.51.100.2", "203.0.113.9" }, { "192.0.2.1", "192.0.2.7" }, { NULL }, 8,
	  { { "198.51.100.2", "192.0.2.1" }, { "198.51.100.2", "192.0.2.7" },
	    { "203.0.113.9", "192.0.2.1" }, { "203.0.113.9", "192.0.2.7" } } },
	{ "the failing pair last",
	  { "198.51.100.2", "203.0.113.9" }, { "192.0.2.1", "192.0.2.7" },
	  { "198.51.100.2", "192.0.2.1" }, 8,
	  { { "198.51.100.2", "192.0.2.7" }, { "203.0.113.9", "192.0.2.1" },
	    { "203.0.113.9", "192.0.2.7" }, { "198.51.100.2", "192.0.2.1" } } },
	{ "a failing pair not in the sets is not tried",
	  { "203.0.113.9" }, { "192.0.2.1" }, { "198.51.100.2", "192.0.2.1" }, 8,
	  { { "203.0.113.9", "192.0.2.1" } } },
	{ "unusable and repeated addresses skipped",
	  { "0.0.0.0", "127.0.0.1", "203.0.113.9", "203.0.113.9" },
	  { "224.0.0.5", "192.0.2.1", "255.255.255.255", "192.0.2.1" }, { NULL }, 8,
	  { { "203.0.113.9", "192.0.2.1" } } },
	{ "capped at max, the failing pair dropped first",
	  { "198.51.100.2", "203.0.113.9" }, { "192.0.2.1", "192.0.2.7" },
	  { "198.51.100.2", "192.0.2.1" }, 2,
	  { { "198.51.100.2", "192.0.2.7" }, { "203.0.113.9", "192.0.2.1" } } },
	{ "no local address: nothing", { NULL }, { "192.0.2.1" }, { NULL }, 8, { { NULL } } },
	{ "no peer address: nothing", { "192.0.2.2" }, { NULL }, { NULL }, 8, { { NULL } } },
};

static void test_pairs(void)
{
	for (size_t c = 0; c < sizeof(pairs_cases) / sizeof(pairs_cases[0]); c++) {
		const struct pairs_case *t = &pairs_cases[c];
		struct in_addr l[4], p[4];
		struct policy_addr_pair f, out[POLICY_MOBIKE_MAX_PAIRS];
		size_t nl = 0, np = 0, nw = 0, n;
		bool same = true;

		for (; nl < 4 && t->local[nl]; nl++)
			l[nl] = A(t->local[nl]);
		for (; np < 4 && t->peer[np]; np++)
			p[np] = A(t->peer[np]);
		if (t->failing[0]) {
			f.local = A(t->failing[0]);
			f.remote = A(t->failing[1]);
		}
		n = policy_mobike_pairs(l, nl, p, np, t->failing[0] ? &f : NULL, out, t->max);
		while (nw < 10 && t->want[nw][0])
			nw++;
		for (size_t i = 0; i < n && i < nw; i++)
			same = same && out[i].local.s_addr == A(t->want[i][0]).s_addr &&
			       out[i].remote.s_addr == A(t->want[i][1]).s_addr;
		printf("# pairs: %s\n", t->name);
		CHECK_EQ_U64(n, nw);
		CHECK(same);
	}
	/* The largest sets fill exactly the largest output. */
	{
		struct in_addr l[POLICY_MOBIKE_MAX_ADDRS], p[POLICY_MOBIKE_MAX_ADDRS];
		struct policy_addr_pair out[POLICY_MOBIKE_MAX_PAIRS + 1];

		for (uint32_t i = 0; i < POLICY_MOBIKE_MAX_ADDRS; i++) {
			l[i].s_addr = htonl(0xc6336400u + i + 1);    /* 198.51.100.x */
			p[i].s_addr = htonl(0xc0000200u + i + 1);    /* 192.0.2.x */
		}
		CHECK_EQ_U64(policy_mobike_pairs(l, POLICY_MOBIKE_MAX_ADDRS, p,
						 POLICY_MOBIKE_MAX_ADDRS, NULL, out,
						 POLICY_MOBIKE_MAX_PAIRS + 1), POLICY_MOBIKE_MAX_PAIRS);
		CHECK(out[POLICY_MOBIKE_MAX_PAIRS - 1].local.s_addr == l[7].s_addr &&
		      out[POLICY_MOBIKE_MAX_PAIRS - 1].remote.s_addr == p[7].s_addr);
		CHECK_EQ_U64(policy_mobike_pairs(l, 1, p, 1, NULL, NULL, 4), 0);
	}
}

/* --- acceptance ------------------------------------------------------------------------- */

struct accept_case {
	const char *name;
	enum policy_mobike_rr rr;
	bool refuse_nat;
	const char *allowed[2];
	const char *old_addr;
	uint16_t old_port;
	const char *new_addr;
	uint16_t new_port;
	bool nat, no_nats;
	const char *verified[2];
	enum policy_mobike_verdict want;
	const char *reason_has;              /* a word the reason must contain */
};

static const struct accept_case accept_cases[] = {
	{ "default: a new address needs a return routability check", POLICY_MOBIKE_RR_NEW_ADDRESS,
	  false, { NULL }, "192.0.2.2", 4500, "198.51.100.2", 4500, false, false, { NULL },
	  POLICY_MOBIKE_ACCEPT_AFTER_RR, "new address" },
	{ "default: an address verified before is taken at once", POLICY_MOBIKE_RR_NEW_ADDRESS,
	  false, { NULL }, "192.0.2.2", 4500, "198.51.100.2", 4500, false, false,
	  { "203.0.113.1", "198.51.100.2" }, POLICY_MOBIKE_ACCEPT, "verified" },
	{ "default: the same address, another port (NAT rebinding)", POLICY_MOBIKE_RR_NEW_ADDRESS,
	  false, { NULL }, "198.51.100.7", 44500, "198.51.100.7", 45123, true, false, { NULL },
	  POLICY_MOBIKE_ACCEPT, "verified" },
	{ "no change at all", POLICY_MOBIKE_RR_ALWAYS, false, { NULL }, "192.0.2.2", 4500,
	  "192.0.2.2", 4500, false, false, { NULL }, POLICY_MOBIKE_ACCEPT, "same" },
	{ "always: even a known address", POLICY_MOBIKE_RR_ALWAYS, false, { NULL },
	  "192.0.2.2", 4500, "198.51.100.2", 4500, false, false, { "198.51.100.2" },
	  POLICY_MOBIKE_ACCEPT_AFTER_RR, "every change" },
	{ "never: a new address at once", POLICY_MOBIKE_RR_NEVER, false, { NULL }, "192.0.2.2",
	  4500, "198.51.100.2", 4500, false, false, { NULL }, POLICY_MOBIKE_ACCEPT, "off" },
	{ "behind a NAT: allowed by default", POLICY_MOBIKE_RR_NEVER, false, { NULL },
	  "192.0.2.2", 4500, "198.51.100.7", 44500, true, false, { NULL }, POLICY_MOBIKE_ACCEPT,
	  "off" },
	{ "behind a NAT: refused when configured", POLICY_MOBIKE_RR_NEVER, true, { NULL },
	  "192.0.2.2", 4500, "198.51.100.7", 44500, true, false, { NULL }, POLICY_MOBIKE_REFUSE,
	  "NATs are refused" },
	{ "refuse_nat without a NAT", POLICY_MOBIKE_RR_NEVER, true, { NULL }, "192.0.2.2", 4500,
	  "198.51.100.2", 4500, false, false, { NULL }, POLICY_MOBIKE_ACCEPT, "off" },
	{ "NO_NATS_ALLOWED and a NAT seen", POLICY_MOBIKE_RR_NEVER, false, { NULL },
	  "192.0.2.2", 4500, "198.51.100.2", 4500, true, true, { NULL }, POLICY_MOBIKE_REFUSE,
	  "NO_NATS_ALLOWED" },
	{ "NO_NATS_ALLOWED without a NAT", POLICY_MOBIKE_RR_NEVER, false, { NULL }, "192.0.2.2",
	  4500, "198.51.100.2", 4500, false, true, { NULL }, POLICY_MOBIKE_ACCEPT, "off" },
	{ "inside an allowed prefix", POLICY_MOBIKE_RR_NEVER, false,
	  { "203.0.113.0/24", "198.51.100.0/25" }, "192.0.2.2", 4500, "198.51.100.126", 4500,
	  false, false, { NULL }, POLICY_MOBIKE_ACCEPT, "off" },
	{ "outside every allowed prefix", POLICY_MOBIKE_RR_NEVER, false,
	  { "203.0.113.0/24", "198.51.100.0/25" }, "192.0.2.2", 4500, "198.51.100.128", 4500,
	  false, false, { NULL }, POLICY_MOBIKE_REFUSE, "prefixes" },
	{ "prefix refusal comes before the return routability check", POLICY_MOBIKE_RR_ALWAYS,
	  false, { "203.0.113.0/24" }, "203.0.113.5", 4500, "192.0.2.9", 4500, false, false,
	  { NULL }, POLICY_MOBIKE_REFUSE, "prefixes" },
	{ "multicast source", POLICY_MOBIKE_RR_NEVER, false, { NULL }, "192.0.2.2", 4500,
	  "224.0.0.1", 4500, false, false, { NULL }, POLICY_MOBIKE_REFUSE, "unicast" },
	{ "loopback source", POLICY_MOBIKE_RR_NEVER, false, { NULL }, "192.0.2.2", 4500,
	  "127.0.0.1", 4500, false, false, { NULL }, POLICY_MOBIKE_REFUSE, "unicast" },
	{ "0.0.0.0", POLICY_MOBIKE_RR_NEVER, false, { NULL }, "192.0.2.2", 4500, "0.0.0.0", 4500,
	  false, false, { NULL }, POLICY_MOBIKE_REFUSE, "unicast" },
};

static void test_accept(void)
{
	for (size_t c = 0; c < sizeof(accept_cases) / sizeof(accept_cases[0]); c++) {
		const struct accept_case *t = &accept_cases[c];
		struct policy_mobike_cfg cfg;
		struct policy_mobike_update u;
		struct policy_mobike_decision d;
		struct in_addr ver[2];
		size_t nver = 0;

		memset(&cfg, 0, sizeof(cfg));
		cfg.rr = t->rr;
		cfg.refuse_nat = t->refuse_nat;
		for (size_t i = 0; i < 2 && t->allowed[i]; i++)
			CHECK(policy_prefix4_parse(t->allowed[i], &cfg.allowed[cfg.nallowed++]) == 0);
		for (; nver < 2 && t->verified[nver]; nver++)
			ver[nver] = A(t->verified[nver]);
		memset(&u, 0, sizeof(u));
		u.old_addr = A(t->old_addr);
		u.old_port = t->old_port;
		u.new_addr = A(t->new_addr);
		u.new_port = t->new_port;
		u.nat = t->nat;
		u.no_nats = t->no_nats;
		u.verified = nver ? ver : NULL;
		u.nverified = nver;
		d = policy_mobike_accept(&cfg, &u);
		printf("# accept: %s -> %s (%s)\n", t->name, policy_mobike_verdict_name(d.verdict),
		       d.reason ? d.reason : "?");
		CHECK_EQ_U64(d.verdict, t->want);
		CHECK(d.reason && strstr(d.reason, t->reason_has));
	}
	/* NULL configuration: the defaults (return routability for a new address). */
	{
		struct policy_mobike_update u;

		memset(&u, 0, sizeof(u));
		u.old_addr = A("192.0.2.2");
		u.new_addr = A("198.51.100.2");
		CHECK_EQ_U64(policy_mobike_accept(NULL, &u).verdict, POLICY_MOBIKE_ACCEPT_AFTER_RR);
		CHECK_EQ_U64(policy_mobike_accept(NULL, NULL).verdict, POLICY_MOBIKE_REFUSE);
	}
	CHECK_STR(policy_mobike_rr_name(POLICY_MOBIKE_RR_NEW_ADDRESS), "new-address");
	CHECK_STR(policy_mobike_rr_name(POLICY_MOBIKE_RR_NEVER), "never");
	CHECK_STR(policy_mobike_verdict_name(POLICY_MOBIKE_REFUSE), "refuse");
}

/* --- prefixes --------------------------------------------------------------------------- */

struct prefix_case {
	const char *text;
	int rc;
	const char *net;
	uint8_t len;
};

static const struct prefix_case prefix_cases[] = {
	{ "198.18.0.0/15", 0, "198.18.0.0", 15 },
	{ "192.0.2.7", 0, "192.0.2.7", 32 },
	{ "0.0.0.0/0", 0, "0.0.0.0", 0 },
	{ "10.1.2.3/32", 0, "10.1.2.3", 32 },
	{ "198.18.1.0/15", -EINVAL, NULL, 0 },    /* host bits set */
	{ "198.18.0.0/33", -EINVAL, NULL, 0 },
	{ "198.18.0.0/", -EINVAL, NULL, 0 },
	{ "198.18.0.0/1x", -EINVAL, NULL, 0 },
	{ "198.18.0.0/015", -EINVAL, NULL, 0 },   /* three digits */
	{ "/8", -EINVAL, NULL, 0 },
	{ "198.18.0", -EINVAL, NULL, 0 },
	{ "", -EINVAL, NULL, 0 },
};

static void test_prefixes(void)
{
	struct policy_prefix4 p;

	for (size_t c = 0; c < sizeof(prefix_cases) / sizeof(prefix_cases[0]); c++) {
		const struct prefix_case *t = &prefix_cases[c];
		int rc;

		memset(&p, 0xa5, sizeof(p));
		rc = policy_prefix4_parse(t->text, &p);
		printf("# prefix \"%s\"\n", t->text);
		CHECK_EQ_U64((uint64_t)(int64_t)rc, (uint64_t)(int64_t)t->rc);
		if (t->rc == 0)
			CHECK(p.net.s_addr == A(t->net).s_addr && p.len == t->len);
		else
			CHECK(p.len == 0xa5);        /* output untouched on failure */
	}
	CHECK(policy_prefix4_parse("198.18.0.0/15", &p) == 0);
	CHECK(policy_prefix4_contains(&p, A("198.19.255.255")));
	CHECK(!policy_prefix4_contains(&p, A("198.20.0.0")));
	CHECK(!policy_prefix4_contains(&p, A("198.17.255.255")));
	CHECK(policy_prefix4_parse("0.0.0.0/0", &p) == 0 && policy_prefix4_contains(&p, A("1.2.3.4")));
	CHECK(policy_prefix4_parse(NULL, &p) == -EINVAL);
	CHECK(policy_addr_usable(A("192.0.2.1")) && !policy_addr_usable(A("240.0.0.1")) &&
	      !policy_addr_usable(A("0.1.2.3")) && policy_addr_usable(A("223.255.255.254")));
}

int main(void)
{
	test_pairs();
	test_accept();
	test_prefixes();
	return tap_done();
}
