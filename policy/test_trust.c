/* Table-driven tests of policy/trust.c: the trust verdict and mode choice (RFC 5266 3.4,
 * 3.4.1, 3.4.2; RFC 5265 3.3, 4.1), the probe's schedule (RFC 5266 3.4, RFC 5944 3.6.3) and
 * the names.
 *
 * The verdict is checked twice, each time against a statement of the rules written apart
 * from trust.c's if-chain: first explicit rows for the named cases (expected values worked
 * out by hand from the rules in trust.h), then properties over the whole cross product of
 * the 9 facts x keep_vpn_when_trusted x fail_closed x prefer_fa (2^12 inputs), where each
 * mode is stated as its own full condition (no precedence), and the security property is
 * stated on its own: no input without an authenticated TNC reply (probe_trusted, or
 * fa_registered through a foreign agent) or the home link yields trusted or lets anything
 * out in the clear under fail-closed (RFC 5265 4.1). */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "policy/trust.h"
#include "tests/unit/tap.h"

/* --- names ------------------------------------------------------------------------------ */

static void test_names(void)
{
	static const char *const modes[] = { "offline", "detecting", "home", "c", "f", "mc",
					     "blocked" };

	CHECK_EQ_U64(sizeof(modes) / sizeof(modes[0]), POLICY_MODE_COUNT);
	CHECK_STR(policy_mode_name(POLICY_MODE_OFFLINE), "offline");
	CHECK_STR(policy_mode_name(POLICY_MODE_DETECTING), "detecting");
	CHECK_STR(policy_mode_name(POLICY_MODE_HOME), "home");
	CHECK_STR(policy_mode_name(POLICY_MODE_C), "c");
	CHECK_STR(policy_mode_name(POLICY_MODE_F), "f");
	CHECK_STR(policy_mode_name(POLICY_MODE_MC), "mc");
	CHECK_STR(policy_mode_name(POLICY_MODE_BLOCKED), "blocked");
	for (int i = 0; i < POLICY_MODE_COUNT; i++)
		CHECK_STR(policy_mode_name((enum policy_mode)i), modes[i]);
	CHECK_STR(policy_mode_name(POLICY_MODE_COUNT), "?");
	CHECK_STR(policy_mode_name((enum policy_mode)99), "?");
	CHECK_STR(policy_mode_name((enum policy_mode)-1), "?");
	CHECK_EQ_U64(POLICY_MODE_OFFLINE, 0);   /* "Zero is the state at start" */

	CHECK_STR(policy_trust_name(POLICY_TRUST_UNKNOWN), "unknown");
	CHECK_STR(policy_trust_name(POLICY_TRUST_TRUSTED), "trusted");
	CHECK_STR(policy_trust_name(POLICY_TRUST_UNTRUSTED), "untrusted");
	CHECK_STR(policy_trust_name((enum policy_trust)3), "?");
	CHECK_STR(policy_trust_name((enum policy_trust)-1), "?");
	CHECK_EQ_U64(POLICY_TRUST_UNKNOWN, 0);
}

/* --- configuration and the probe's schedule --------------------------------------------- */

static void test_config(void)
{
	struct policy_trust_config c;

	memset(&c, 0x5a, sizeof(c));
	policy_trust_config_default(&c);
	CHECK_EQ_U64(c.probe_retries, 2);
	CHECK_EQ_U64(c.probe_timeout_ms, 1000);
	CHECK(c.keep_vpn_when_trusted == true);
	CHECK(c.fail_closed == true);
	CHECK(c.prefer_fa == true);             /* RFC 5266 3.2 MAY, on by default */
	CHECK_EQ_U64(POLICY_PROBE_RETRIES_DEFAULT, 2);
	CHECK_EQ_U64(POLICY_PROBE_TIMEOUT_MS_DEFAULT, 1000);
	policy_trust_config_default(NULL);      /* must not crash */
}

struct expiry_case {
	unsigned timeout, retries;
	uint32_t want;                  /* worked out by hand: timeout * (2^(retries+1) - 1) */
};

static const struct expiry_case expiry_cases[] = {
	{ 1000, 0, 1000 },                      /* one request, one wait */
	{ 1000, 1, 3000 },                      /* 1000 + 2000 */
	{ 1000, 2, 7000 },                      /* 1000 + 2000 + 4000: the default */
	{ 1000, 3, 15000 },
	{ 250, 4, 7750 },                       /* 250 * 31 */
	{ 0, 2, 0 },                            /* no wait at all */
	{ 0, UINT_MAX, 0 },
	{ 1, 30, 2147483647u },                 /* 2^31 - 1 */
	{ 1, 31, 4294967295u },                 /* 2^32 - 1: exactly UINT32_MAX */
	{ 2, 30, 4294967294u },                 /* 2 * (2^31 - 1): one below */
	{ 3, 30, UINT32_MAX },                  /* 6442450941: saturated */
	{ 1, 32, UINT32_MAX },                  /* 2^33 - 1 */
	{ 1, 63, UINT32_MAX },                  /* a shift by 64 would be undefined */
	{ 1, 64, UINT32_MAX },
	{ 1000, 21, 4194303000u },              /* 1000 * (2^22 - 1): the last that fits */
	{ 1000, 22, UINT32_MAX },               /* 1000 * (2^23 - 1) = 8388607000 */
	{ 1000, UINT_MAX, UINT32_MAX },         /* retries + 1 overflows unsigned */
	{ UINT_MAX, 0, 4294967295u },
	{ UINT_MAX, 1, UINT32_MAX },
	{ 2147483648u, 0, 2147483648u },        /* 2^31 */
	{ 2147483648u, 1, UINT32_MAX },         /* 3 * 2^31 */
};

/* The same schedule simulated: each wait twice the previous (RFC 5944 3.6.3), summed with
 * a ceiling, an independent check of the closed form for every small input. */
static uint64_t simulate(unsigned timeout, unsigned retries)
{
	uint64_t sum = 0, wait = timeout;

	for (unsigned i = 0; i <= retries; i++) {
		sum += wait;
		if (sum >= UINT32_MAX)
			return UINT32_MAX;
		wait *= 2;
	}
	return sum;
}

static void test_expiry(void)
{
	static const unsigned timeouts[] = { 0, 1, 2, 3, 7, 100, 999, 1000, 1001, 65535, 65536,
					     1u << 20, 1u << 31, UINT_MAX - 1, UINT_MAX };
	struct policy_trust_config c;
	unsigned fails = 0, n = 0;

	policy_trust_config_default(&c);
	for (size_t i = 0; i < sizeof(expiry_cases) / sizeof(expiry_cases[0]); i++) {
		c.probe_timeout_ms = expiry_cases[i].timeout;
		c.probe_retries = expiry_cases[i].retries;
		CHECK_EQ_U64(policy_probe_expiry_ms(&c), expiry_cases[i].want);
	}
	for (size_t t = 0; t < sizeof(timeouts) / sizeof(timeouts[0]); t++)
		for (unsigned r = 0; r <= 40; r++, n++) {
			c.probe_timeout_ms = timeouts[t];
			c.probe_retries = r;
			CHECK_LOOP(policy_probe_expiry_ms(&c) == simulate(timeouts[t], r), fails);
		}
	CHECK(n == (sizeof(timeouts) / sizeof(timeouts[0])) * 41);
	CHECK_EQ_U64(fails, 0);

	/* The defaults, and NULL meaning the defaults. */
	policy_trust_config_default(&c);
	CHECK_EQ_U64(policy_probe_expiry_ms(&c), 7000);
	CHECK_EQ_U64(policy_probe_expiry_ms(NULL), 7000);
	/* The other knobs play no part. */
	c.keep_vpn_when_trusted = false;
	c.fail_closed = false;
	c.prefer_fa = false;
	CHECK_EQ_U64(policy_probe_expiry_ms(&c), 7000);
}

/* --- the verdict: named rows ------------------------------------------------------------ */

/* Facts as letters, so a row reads like the situation: A attached, H at_home, T probe
 * trusted, E probe expired, V vpn up, X vpn failed, B mc binding, F fa offered, R
 * registered through the foreign agent (fa_registered). */
static struct policy_trust_facts facts_of(const char *s)
{
	struct policy_trust_facts f;

	memset(&f, 0, sizeof(f));
	for (; *s; s++) {
		switch (*s) {
		case 'A': f.attached = true; break;
		case 'H': f.at_home = true; break;
		case 'T': f.probe_trusted = true; break;
		case 'E': f.probe_expired = true; break;
		case 'V': f.vpn_up = true; break;
		case 'X': f.vpn_failed = true; break;
		case 'B': f.mc_binding = true; break;
		case 'F': f.fa_offered = true; break;
		case 'R': f.fa_registered = true; break;
		}
	}
	return f;
}

#define U POLICY_TRUST_UNKNOWN
#define TR POLICY_TRUST_TRUSTED
#define UN POLICY_TRUST_UNTRUSTED

struct row {
	const char *name;
	const char *facts;
	bool keep, fail_closed;
	enum policy_trust trust;
	enum policy_mode mode;
	bool register_tia, want_vpn, block_clear;
	const char *reason;
	bool register_fa;       /* rows of issue 7; false in the older rows */
	bool no_prefer_fa;      /* prefer_fa off (default on) */
};

static const struct row rows[] = {
	/* Not attached (RFC 5266 3.4: nothing to detect on). */
	{ "start: nothing known", "", true, true, U, POLICY_MODE_OFFLINE, false, true, true,
	  "no access interface with an address and a route", false, false },
	{ "offline, fail-open", "", true, false, U, POLICY_MODE_OFFLINE, false, true, false,
	  "no access interface with an address and a route", false, false },
	{ "offline, stale facts of the last link ignored", "TVBEX", false, true, U,
	  POLICY_MODE_OFFLINE, false, true, true,
	  "no access interface with an address and a route", false, false },
	{ "offline, a home flag alone is not attachment", "H", true, true, U,
	  POLICY_MODE_OFFLINE, false, true, true,
	  "no access interface with an address and a route", false, false },
	/* On the home link. */
	{ "home, keep the VPN", "AH", true, true, TR, POLICY_MODE_HOME, false, true, false,
	  "attached to the home link", false, false },
	{ "home, tear the VPN down", "AH", false, true, TR, POLICY_MODE_HOME, false, false, false,
	  "attached to the home link", false, false },
	{ "home wins over a tunnel and an expired probe", "AHVEB", true, true, TR,
	  POLICY_MODE_HOME, false, true, false, "attached to the home link", false, false },
	/* Trusted: the i-HA's authenticated TNC reply (RFC 5265 3.3, 3.4, 4.1). */
	{ "c: the reply alone", "AT", true, true, TR, POLICY_MODE_C, false, true, false,
	  "authenticated reply with TNC from the home agent", false, false },
	{ "c: tear the VPN down (RFC 5266 3.4.1 step 2 MAY)", "AT", false, true, TR,
	  POLICY_MODE_C, false, false, false,
	  "authenticated reply with TNC from the home agent", false, false },
	{ "c: gateway unreachable from inside does not delay c", "ATX", true, true, TR,
	  POLICY_MODE_C, false, true, false,
	  "authenticated reply with TNC from the home agent", false, false },
	{ "c: reply after the VPN's answer still wins (RFC 5265 3.3)", "ATV", true, true, TR,
	  POLICY_MODE_C, false, true, false,
	  "authenticated reply with TNC from the home agent, preferred to the working tunnel", false, false },
	{ "c: late reply after the probe's expiry", "ATE", true, true, TR, POLICY_MODE_C, false,
	  true, false, "authenticated reply with TNC from the home agent", false, false },
	{ "c: an old mc binding does not make a TIA registration", "ATVB", false, true, TR,
	  POLICY_MODE_C, false, false, false,
	  "authenticated reply with TNC from the home agent, preferred to the working tunnel", false, false },
	{ "c: fail-open changes nothing when trusted", "AT", true, false, TR, POLICY_MODE_C,
	  false, true, false, "authenticated reply with TNC from the home agent", false, false },
	{ "c, not f: prefer_fa off (RFC 5266 3.2 MAY)", "ATF", true, true, TR, POLICY_MODE_C,
	  false, true, false, "authenticated reply with TNC from the home agent", false, true },
	/* Untrusted with a tunnel (RFC 5266 3.4, 3.4.2 step 4). */
	{ "mc: gateway answered, register the TIA", "AV", true, true, UN, POLICY_MODE_MC, true,
	  true, true, "gateway answered, home agent did not", false, false },
	{ "mc: at once, before the probe expires; keep knob irrelevant", "AV", false, true, UN,
	  POLICY_MODE_MC, true, true, true, "gateway answered, home agent did not", false, false },
	{ "mc: binding still valid (MOBIKE move), no new registration", "AVB", true, true, UN,
	  POLICY_MODE_MC, false, true, true,
	  "gateway answered, home agent did not; the binding through the tunnel is still valid", false, false },
	{ "mc: probe expired too", "AVE", true, true, UN, POLICY_MODE_MC, true, true, true,
	  "gateway answered, home agent did not", false, false },
	{ "mc: fail-open", "AVE", true, false, UN, POLICY_MODE_MC, true, true, false,
	  "gateway answered, home agent did not", false, false },
	{ "mc, not f: a foreign agent outside changes nothing", "AVF", true, true, UN,
	  POLICY_MODE_MC, true, true, true, "gateway answered, home agent did not", false, false },
	/* Untrusted without a tunnel. */
	{ "blocked: probe expired, tunnel pending", "AE", true, true, UN, POLICY_MODE_BLOCKED,
	  false, true, true, "home agent did not answer, no tunnel yet", false, false },
	{ "blocked: probe expired, gateway failed (home agent down and no VPN)", "AEX", false,
	  true, UN, POLICY_MODE_BLOCKED, false, true, true,
	  "home agent did not answer and the gateway failed", false, false },
	{ "blocked: a stale mc binding is no tunnel", "AEB", true, true, UN, POLICY_MODE_BLOCKED,
	  false, true, true, "home agent did not answer, no tunnel yet", false, false },
	{ "blocked, fail-open", "AE", true, false, UN, POLICY_MODE_BLOCKED, false, true, false,
	  "home agent did not answer, no tunnel yet", false, false },
	/* The race runs (RFC 5266 3.4.1, 3.4.2 steps 1 and 2). */
	{ "detecting: just attached", "A", true, true, U, POLICY_MODE_DETECTING, false, true,
	  true, "probing the home agent and the gateway", false, false },
	{ "detecting: a failed gateway is no verdict (may be inside)", "AX", true, true, U,
	  POLICY_MODE_DETECTING, false, true, true, "probing the home agent; the gateway failed", false, false },
	{ "detecting: stale binding, no tunnel", "AB", false, true, U, POLICY_MODE_DETECTING,
	  false, true, true, "probing the home agent and the gateway", false, false },
	{ "detecting, fail-open", "AF", true, false, U, POLICY_MODE_DETECTING, false, true, false,
	  "probing the home agent and the gateway", false, false },
	/* Mode f (issue 7; RFC 5266 3.1.2, 3.2; RFC 5265 4.1). */
	{ "f: trusted by the probe, an agent advertises: register through it", "ATF", true,
	  true, TR, POLICY_MODE_F, false, true, false,
	  "authenticated reply with TNC from the home agent; a foreign agent advertises: "
	  "registering through it", true, false },
	{ "f: registered through the agent, nothing more to do", "ATFR", true, true, TR,
	  POLICY_MODE_F, false, true, false,
	  "registered through the foreign agent: authenticated reply with TNC from the home "
	  "agent", false, false },
	{ "f: the agent's TNC reply alone is evidence, no direct probe needed", "AFR", false,
	  true, TR, POLICY_MODE_F, false, false, false,
	  "registered through the foreign agent: authenticated reply with TNC from the home "
	  "agent", false, false },
	{ "f: wins over a working tunnel, and over an expired probe", "AFRVEB", true, true, TR,
	  POLICY_MODE_F, false, true, false,
	  "registered through the foreign agent: authenticated reply with TNC from the home "
	  "agent", false, false },
	{ "f: probe trusted with a tunnel up, register through the agent", "ATVF", false, false,
	  TR, POLICY_MODE_F, false, false, false,
	  "authenticated reply with TNC from the home agent; a foreign agent advertises: "
	  "registering through it", true, false },
	{ "c: agent's TNC reply, but prefer_fa off", "AFR", true, true, TR, POLICY_MODE_C, false,
	  true, false, "authenticated reply with TNC through a foreign agent", false, true },
	{ "c: agent's TNC reply, the agent since lost", "AR", true, true, TR, POLICY_MODE_C,
	  false, true, false, "authenticated reply with TNC through a foreign agent", false,
	  false },
	{ "c: prefer_fa off, trusted by the probe and registered through the agent", "ATFR",
	  false, true, TR, POLICY_MODE_C, false, false, false,
	  "authenticated reply with TNC from the home agent", false, true },
	{ "detecting, not f: an agent alone proves nothing", "AF", true, true, U,
	  POLICY_MODE_DETECTING, false, true, true, "probing the home agent and the gateway",
	  false, false },
	{ "blocked, not f: an agent and an expired probe", "AEF", true, true, UN,
	  POLICY_MODE_BLOCKED, false, true, true, "home agent did not answer, no tunnel yet",
	  false, false },
	{ "home wins over an agent's registration", "AHFR", true, true, TR, POLICY_MODE_HOME,
	  false, true, false, "attached to the home link", false, false },
	{ "offline: a stale agent registration is forgotten", "FRT", true, true, U,
	  POLICY_MODE_OFFLINE, false, true, true,
	  "no access interface with an address and a route", false, false },
};

static void test_rows(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct policy_trust_config c;
		struct policy_trust_facts f = facts_of(r->facts);
		struct policy_verdict v;

		policy_trust_config_default(&c);
		c.keep_vpn_when_trusted = r->keep;
		c.fail_closed = r->fail_closed;
		c.prefer_fa = !r->no_prefer_fa;
		memset(&v, 0, sizeof(v));
		v.mode = POLICY_MODE_COUNT;             /* a value no row expects */
		v.trust = (enum policy_trust)7;
		v.register_fa = !r->register_fa;       /* must be overwritten */
		policy_trust_decide(&c, &f, &v);
		printf("# %s\n", r->name);
		CHECK_STR(policy_trust_name(v.trust), policy_trust_name(r->trust));
		CHECK_STR(policy_mode_name(v.mode), policy_mode_name(r->mode));
		CHECK(v.register_tia == r->register_tia);
		CHECK(v.register_fa == r->register_fa);
		CHECK(v.want_vpn == r->want_vpn);
		CHECK(v.block_clear == r->block_clear);
		CHECK_STR(v.reason, r->reason);
	}
}

/* --- the verdict: properties over every input ------------------------------------------- */

#define NFACTS 9
#define NINPUTS (1u << (NFACTS + 3))

static void input_of(unsigned bits, struct policy_trust_config *c, struct policy_trust_facts *f)
{
	policy_trust_config_default(c);
	memset(f, 0, sizeof(*f));
	f->attached = bits & 1u;
	f->at_home = bits & 2u;
	f->probe_trusted = bits & 4u;
	f->probe_expired = bits & 8u;
	f->vpn_up = bits & 16u;
	f->vpn_failed = bits & 32u;
	f->mc_binding = bits & 64u;
	f->fa_offered = bits & 128u;
	f->fa_registered = bits & 256u;
	c->keep_vpn_when_trusted = bits & 512u;
	c->fail_closed = bits & 1024u;
	c->prefer_fa = bits & 2048u;
}

static bool same_verdict(const struct policy_verdict *a, const struct policy_verdict *b,
			 bool with_reason)
{
	return a->trust == b->trust && a->mode == b->mode && a->register_tia == b->register_tia &&
	       a->register_fa == b->register_fa &&
	       a->want_vpn == b->want_vpn && a->block_clear == b->block_clear &&
	       (!with_reason || (a->reason && b->reason && strcmp(a->reason, b->reason) == 0));
}

/* Each property counts its failing inputs; one TAP line per property. */
enum prop {
	P_ONE_MODE,             /* the model's mode conditions are exclusive and exhaustive */
	P_OFFLINE, P_HOME, P_F, P_C, P_MC, P_BLOCKED, P_DETECTING,
	P_IN_RANGE,
	P_TRUSTED_MODES, P_UNTRUSTED_MODES, P_UNKNOWN_MODES,
	P_SECURITY_TRUST,       /* trusted needs attached && (probe_trusted || fa_registered ||
	                         * at_home) */
	P_SECURITY_CLEAR,       /* fail-closed and not trusted: always blocked */
	P_CLEAR_TRUSTED,        /* block_clear never in c, f or home */
	P_CLEAR_UNTRUSTED,      /* block_clear in every non-trusted mode iff fail_closed */
	P_REGISTER,             /* register_tia iff mc && !mc_binding */
	P_REGISTER_MC,          /* register_tia implies mc */
	P_REGISTER_FA,          /* register_fa iff f && !fa_registered */
	P_FA_UNTRUSTED,         /* never f, never register_fa without evidence (RFC 5266 3) */
	P_WANT_VPN,             /* trusted: the knob; otherwise always */
	P_REASON,               /* a non-empty static sentence */
	P_FA_IGNORED,           /* fa_offered changes nothing with prefer_fa off */
	P_VPN_FAILED_REASON,    /* vpn_failed changes nothing but the reason */
	P_TNC_WINS,             /* adding probe_trusted off the home link gives c or f */
	P_FA_TNC_WINS,          /* adding fa_registered off the home link gives c or f */
	P_DETERMINISTIC,
	P_NULL_CONFIG,          /* NULL config: the defaults */
	P_BOOLS,                /* every bool written as 0 or 1, whatever was in *out */
	P_COUNT,
};

static const char *const prop_names[P_COUNT] = {
	[P_ONE_MODE] = "model: exactly one mode condition holds for every input",
	[P_OFFLINE] = "offline iff !attached",
	[P_HOME] = "home iff attached && at_home",
	[P_F] = "f iff attached && !at_home && (probe_trusted || fa_reg) && fa_offered && prefer",
	[P_C] = "c iff attached && !at_home && (probe_trusted || fa_reg) && !(fa_offered && prefer)",
	[P_MC] = "mc iff attached && !at_home && !probe_trusted && !fa_reg && vpn_up",
	[P_BLOCKED] = "blocked iff attached && !at_home && no evidence && !vpn_up && exp",
	[P_DETECTING] = "detecting iff attached && !at_home && no evidence && !vpn_up && !exp",
	[P_IN_RANGE] = "mode and trust in range",
	[P_TRUSTED_MODES] = "trusted iff mode is c, f or home",
	[P_UNTRUSTED_MODES] = "untrusted iff mode is mc or blocked",
	[P_UNKNOWN_MODES] = "unknown iff mode is offline or detecting",
	[P_SECURITY_TRUST] = "trusted only with a TNC reply (direct or via FA) or the home link",
	[P_SECURITY_CLEAR] = "fail-closed: nothing in the clear unless trusted",
	[P_CLEAR_TRUSTED] = "block_clear never in c, f or home",
	[P_CLEAR_UNTRUSTED] = "block_clear in every non-trusted mode iff fail_closed",
	[P_REGISTER] = "register_tia iff mc && !mc_binding",
	[P_REGISTER_MC] = "register_tia implies mc",
	[P_REGISTER_FA] = "register_fa iff f && !fa_registered",
	[P_FA_UNTRUSTED] = "no evidence: never f, never register_fa",
	[P_WANT_VPN] = "want_vpn: keep_vpn_when_trusted when trusted, else always",
	[P_REASON] = "reason is a non-empty sentence",
	[P_FA_IGNORED] = "fa_offered changes nothing with prefer_fa off",
	[P_VPN_FAILED_REASON] = "vpn_failed changes nothing but the reason",
	[P_TNC_WINS] = "an authenticated TNC reply off the home link always gives c or f",
	[P_FA_TNC_WINS] = "a TNC reply through the agent off the home link gives c or f",
	[P_DETERMINISTIC] = "same input, same verdict",
	[P_NULL_CONFIG] = "NULL config decides as the defaults",
	[P_BOOLS] = "every bool of the verdict is 0 or 1",
};

static bool is_bool(const bool *b)
{
	unsigned char x;

	memcpy(&x, b, 1);
	return x == 0 || x == 1;
}

static void test_cross_product(void)
{
	unsigned fails[P_COUNT] = { 0 };
	unsigned seen_mode[POLICY_MODE_COUNT] = { 0 };
	unsigned n = 0;

	for (unsigned bits = 0; bits < NINPUTS; bits++, n++) {
		struct policy_trust_config c, d;
		struct policy_trust_facts f, g;
		struct policy_verdict v, w;
		bool A, H, T, E, V, B, F, R, P, off_home, evidence;
		bool m_off, m_home, m_f, m_c, m_mc, m_blocked, m_det;
		bool trusted;

		input_of(bits, &c, &f);
		A = f.attached;
		H = f.at_home;
		T = f.probe_trusted;
		E = f.probe_expired;
		V = f.vpn_up;
		B = f.mc_binding;
		F = f.fa_offered;
		R = f.fa_registered;
		P = c.prefer_fa;
		off_home = A && !H;
		evidence = T || R;

		memset(&v, 0xa5, sizeof(v));    /* garbage: every field must be written */
		policy_trust_decide(&c, &f, &v);
		CHECK_LOOP(is_bool(&v.register_tia) && is_bool(&v.register_fa) &&
			   is_bool(&v.want_vpn) && is_bool(&v.block_clear), fails[P_BOOLS]);
		if ((unsigned)v.mode < POLICY_MODE_COUNT)
			seen_mode[v.mode]++;

		/* Each mode as its own full condition. */
		m_off = !A;
		m_home = A && H;
		m_f = off_home && evidence && F && P;
		m_c = off_home && evidence && !(F && P);
		m_mc = off_home && !evidence && V;
		m_blocked = off_home && !evidence && !V && E;
		m_det = off_home && !evidence && !V && !E;
		CHECK_LOOP(m_off + m_home + m_f + m_c + m_mc + m_blocked + m_det == 1,
			   fails[P_ONE_MODE]);
		CHECK_LOOP((v.mode == POLICY_MODE_OFFLINE) == m_off, fails[P_OFFLINE]);
		CHECK_LOOP((v.mode == POLICY_MODE_HOME) == m_home, fails[P_HOME]);
		CHECK_LOOP((v.mode == POLICY_MODE_F) == m_f, fails[P_F]);
		CHECK_LOOP((v.mode == POLICY_MODE_C) == m_c, fails[P_C]);
		CHECK_LOOP((v.mode == POLICY_MODE_MC) == m_mc, fails[P_MC]);
		CHECK_LOOP((v.mode == POLICY_MODE_BLOCKED) == m_blocked, fails[P_BLOCKED]);
		CHECK_LOOP((v.mode == POLICY_MODE_DETECTING) == m_det, fails[P_DETECTING]);
		CHECK_LOOP((unsigned)v.mode < POLICY_MODE_COUNT && (unsigned)v.trust <= 2,
			   fails[P_IN_RANGE]);

		/* Trust follows the mode. */
		trusted = v.trust == POLICY_TRUST_TRUSTED;
		CHECK_LOOP(trusted == (v.mode == POLICY_MODE_C || v.mode == POLICY_MODE_F ||
				       v.mode == POLICY_MODE_HOME), fails[P_TRUSTED_MODES]);
		CHECK_LOOP((v.trust == POLICY_TRUST_UNTRUSTED) ==
			   (v.mode == POLICY_MODE_MC || v.mode == POLICY_MODE_BLOCKED),
			   fails[P_UNTRUSTED_MODES]);
		CHECK_LOOP((v.trust == POLICY_TRUST_UNKNOWN) ==
			   (v.mode == POLICY_MODE_OFFLINE || v.mode == POLICY_MODE_DETECTING),
			   fails[P_UNKNOWN_MODES]);

		/* The security property (RFC 5265 4.1; issue 6 item 4): only an authenticated
		 * TNC reply (direct, or through the foreign agent) or the home link can make
		 * the network trusted or open the filter. */
		CHECK_LOOP(!trusted || (A && (T || R || H)), fails[P_SECURITY_TRUST]);
		CHECK_LOOP(!c.fail_closed || trusted || v.block_clear, fails[P_SECURITY_CLEAR]);
		if (trusted)
			CHECK_LOOP(!v.block_clear, fails[P_CLEAR_TRUSTED]);
		else
			CHECK_LOOP(v.block_clear == c.fail_closed, fails[P_CLEAR_UNTRUSTED]);

		/* Registration of the TIA (RFC 5266 3.4.2 step 4). */
		CHECK_LOOP(v.register_tia == (m_mc && !B), fails[P_REGISTER]);
		CHECK_LOOP(!v.register_tia || v.mode == POLICY_MODE_MC, fails[P_REGISTER_MC]);
		CHECK_LOOP(v.register_fa == (m_f && !R), fails[P_REGISTER_FA]);
		/* RFC 5266 3: "MUST not use the foreign agent care-of address with the i-HA
		 * when attached to an untrusted access network". */
		if (!evidence || H || !A)
			CHECK_LOOP(v.mode != POLICY_MODE_F && !v.register_fa, fails[P_FA_UNTRUSTED]);
		CHECK_LOOP(v.want_vpn == (trusted ? c.keep_vpn_when_trusted : true),
			   fails[P_WANT_VPN]);
		CHECK_LOOP(v.reason && v.reason[0] && strlen(v.reason) < 120, fails[P_REASON]);

		/* Invariances. */
		if (!P) {
			g = f;
			g.fa_offered = !f.fa_offered;
			policy_trust_decide(&c, &g, &w);
			CHECK_LOOP(same_verdict(&v, &w, true), fails[P_FA_IGNORED]);
		}
		g = f;
		g.vpn_failed = !f.vpn_failed;
		policy_trust_decide(&c, &g, &w);
		CHECK_LOOP(same_verdict(&v, &w, false), fails[P_VPN_FAILED_REASON]);
		if (off_home) {
			g = f;
			g.probe_trusted = true;
			policy_trust_decide(&c, &g, &w);
			CHECK_LOOP((w.mode == POLICY_MODE_C || w.mode == POLICY_MODE_F) &&
				   w.trust == POLICY_TRUST_TRUSTED && !w.block_clear &&
				   !w.register_tia, fails[P_TNC_WINS]);
			g = f;
			g.fa_registered = true;
			policy_trust_decide(&c, &g, &w);
			CHECK_LOOP((w.mode == POLICY_MODE_C || w.mode == POLICY_MODE_F) &&
				   w.trust == POLICY_TRUST_TRUSTED && !w.block_clear &&
				   !w.register_tia && !w.register_fa, fails[P_FA_TNC_WINS]);
		}
		memset(&w, 0, sizeof(w));
		policy_trust_decide(&c, &f, &w);
		CHECK_LOOP(same_verdict(&v, &w, true), fails[P_DETERMINISTIC]);

		/* NULL config: the defaults (keep, fail-closed). */
		policy_trust_config_default(&d);
		policy_trust_decide(&d, &f, &v);
		policy_trust_decide(NULL, &f, &w);
		CHECK_LOOP(same_verdict(&v, &w, true), fails[P_NULL_CONFIG]);
	}
	CHECK_EQ_U64(n, 4096);
	for (int p = 0; p < P_COUNT; p++) {
		if (fails[p])
			printf("# %s: %u of %u inputs fail\n", prop_names[p], fails[p], n);
		tap_check_(fails[p] == 0, prop_names[p], __FILE__, __LINE__);
	}
	/* Every mode is reached; counts worked out from the model's conditions over the 2^12
	 * inputs (the other bits free where a mode leaves them free): offline 2048 (!A), home
	 * 1024 (A H); off the home link (1024): evidence T || R in 3/4 = 768, of which f
	 * (F && P) 1/4 = 192 and c 576; no evidence 256: mc (V) 128, blocked (!V E) 64,
	 * detecting 64. */
	CHECK_EQ_U64(seen_mode[POLICY_MODE_OFFLINE], 2048);
	CHECK_EQ_U64(seen_mode[POLICY_MODE_HOME], 1024);
	CHECK_EQ_U64(seen_mode[POLICY_MODE_F], 192);
	CHECK_EQ_U64(seen_mode[POLICY_MODE_C], 576);
	CHECK_EQ_U64(seen_mode[POLICY_MODE_MC], 128);
	CHECK_EQ_U64(seen_mode[POLICY_MODE_BLOCKED], 64);
	CHECK_EQ_U64(seen_mode[POLICY_MODE_DETECTING], 64);
}

static void test_null(void)
{
	struct policy_trust_config c;
	struct policy_trust_facts f = facts_of("AT");
	struct policy_verdict v;

	policy_trust_config_default(&c);
	memset(&v, 0, sizeof(v));
	v.mode = POLICY_MODE_C;
	policy_trust_decide(&c, NULL, &v);      /* no facts: not attached */
	CHECK(v.mode == POLICY_MODE_OFFLINE);
	CHECK(v.trust == POLICY_TRUST_UNKNOWN);
	CHECK(v.block_clear == true);
	policy_trust_decide(&c, &f, NULL);      /* nowhere to write: must not crash */
}

int main(void)
{
	test_names();
	test_config();
	test_expiry();
	test_rows();
	test_cross_product();
	test_null();
	return tap_done();
}
