/* Unit tests for mip4/mn_engine.c: the mobile node's registration state machine, driven by
 * a fake monotonic clock and a fake wall clock, with a home agent played by the codec. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/sock.h"
#include "mip4/agent.h"
#include "mip4/ident.h"
#include "mip4/mn_engine.h"
#include "mip4/reg.h"
#include "tests/unit/tap.h"

/* 2024-01-01T00:00:00Z */
#define T2024 MM_SEC(1704067200)
/* Monotonic start: an arbitrary non-zero time. */
#define T0 MM_SEC(1000)

static const uint8_t secret[16] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
};
static const uint8_t wrong_secret[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };

static struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };

	if (addr4_parse(s, &a) < 0)
		abort();
	return a;
}

#define HOA  "198.18.1.100"
#define HA   "198.18.1.1"
#define COA1 "198.18.11.10"
#define COA2 "198.18.12.20"

struct fixture {
	struct fake_clock wall;
	struct mn_engine *mn;
	struct mn_engine_config cfg;
	struct mn_actions a;
	uint32_t rnd;
	mm_time_ns now;
};

static uint32_t fake_random(void *ctx)
{
	struct fixture *f = ctx;

	return f->rnd += 0x101;
}

static struct mn_engine_config base_config(void)
{
	struct mn_engine_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.home_addr = ip(HOA);
	cfg.home_agent = ip(HA);
	if (mip4_key_set(&cfg.key, 1000, secret, sizeof(secret)) < 0)
		abort();
	cfg.lifetime = 300;
	cfg.reverse_tunnel = true;
	cfg.udp = MN_UDP_AUTO;
	return cfg;
}

static void setup_cfg(struct fixture *f, const struct mn_engine_config *cfg)
{
	memset(f, 0, sizeof(*f));
	fake_clock_init(&f->wall, T2024);
	f->cfg = *cfg;
	f->cfg.wall = &f->wall.base;
	f->cfg.random = fake_random;
	f->cfg.random_ctx = f;
	f->now = T0;
	if (mn_engine_new(&f->cfg, &f->mn) < 0)
		abort();
}

static void setup(struct fixture *f)
{
	struct mn_engine_config cfg = base_config();

	setup_cfg(f, &cfg);
}

static void teardown(struct fixture *f)
{
	mn_engine_free(f->mn);
	mip4_key_wipe(&f->cfg.key);
}

/* Both clocks move together. */
static void advance(struct fixture *f, mm_time_ns d)
{
	f->now += d;
	fake_clock_advance(&f->wall, d);
}

static const struct mn_action *find(const struct mn_actions *a, enum mn_action_kind kind)
{
	for (unsigned i = 0; i < a->count; i++)
		if (a->act[i].kind == kind)
			return &a->act[i];
	return NULL;
}

static unsigned count_kind(const struct mn_actions *a, enum mn_action_kind kind)
{
	unsigned n = 0;

	for (unsigned i = 0; i < a->count; i++)
		n += a->act[i].kind == kind;
	return n;
}

static bool has_state_change(const struct mn_actions *a, enum mn_state from, enum mn_state to)
{
	for (unsigned i = 0; i < a->count; i++)
		if (a->act[i].kind == MN_ACT_STATE && a->act[i].old_state == from &&
		    a->act[i].new_state == to)
			return true;
	return false;
}

/* The request in the last batch, parsed and authenticated with our key. */
static bool sent_request(const struct fixture *f, struct mip4_reg_request *req)
{
	const struct mn_action *s = find(&f->a, MN_ACT_SEND);
	struct mip4_key key;
	bool ok;

	if (!s || mip4_request_parse(f->a.msg, f->a.msg_len, req) < 0)
		return false;
	mip4_key_set(&key, 1000, secret, sizeof(secret));
	ok = mip4_auth_verify_key(f->a.msg, f->a.msg_len, &req->mn_ha, &key) == 0;
	mip4_key_wipe(&key);
	return ok;
}

struct reply_opts {
	uint8_t code;
	uint16_t lifetime;
	uint64_t ident;
	bool udp;
	uint8_t udp_code;
	uint16_t keepalive;
	const uint8_t *key;      /* NULL: the right one */
	bool no_auth;            /* FA-style reply without MN-HA */
	const char *home_addr;   /* NULL: ours */
	bool tnc;                /* Trusted Networks Configured, before MN-HA (RFC 5265 §3.4) */
	const struct mip4_key *fa_key;  /* Mobile-Foreign Authentication appended with it */
};

static size_t build_reply(const struct reply_opts *o, uint8_t *buf, size_t cap)
{
	struct mip4_reg_reply rep;
	struct mip4_key key;
	struct writer w;
	int n;

	memset(&rep, 0, sizeof(rep));
	rep.code = o->code;
	rep.lifetime = o->lifetime;
	rep.home_addr = ip(o->home_addr ? o->home_addr : HOA);
	rep.home_agent = ip(HA);
	rep.ident = o->ident;
	if (o->udp) {
		rep.udp_reply.present = true;
		rep.udp_reply.code = o->udp_code;
		rep.udp_reply.keepalive = o->keepalive;
	}
	rep.tnc.present = o->tnc;
	mip4_key_set(&key, 1000, o->key ? o->key : secret, sizeof(secret));
	writer_init(&w, buf, cap);
	n = mip4_reply_encode(&w, &rep, o->no_auth ? NULL : &key, o->fa_key);
	mip4_key_wipe(&key);
	if (n < 0) {
		printf("# reply encode failed: %d\n", n);
		abort();
	}
	return (size_t)n;
}

static int deliver(struct fixture *f, const struct reply_opts *o)
{
	uint8_t buf[256];
	size_t n = build_reply(o, buf, sizeof(buf));

	return mn_engine_reply(f->mn, buf, n, ip(HA), f->now, &f->a);
}

/* Go away to coa and get registered with the given reply lifetime. Returns the request. */
static void register_at(struct fixture *f, const char *coa, uint16_t granted)
{
	struct mip4_reg_request req;
	struct reply_opts o = { .code = 0, .lifetime = granted };

	mn_engine_set_location(f->mn, false, ip(coa), f->now, &f->a);
	if (!sent_request(f, &req))
		abort();
	o.ident = req.ident;
	advance(f, MM_MSEC(20));
	if (deliver(f, &o) != 0)
		abort();
}

/* Captured log lines. */
static char logbuf[16384];
static FILE *logf_;

static void log_capture(void)
{
	memset(logbuf, 0, sizeof(logbuf));
	logf_ = fmemopen(logbuf, sizeof(logbuf) - 1, "w");
	setvbuf(logf_, NULL, _IONBF, 0);
	log_set_stream(logf_);
	log_set_format(LOG_FORMAT_JOURNAL);
}

static void log_release(void)
{
	log_set_stream(NULL);
	fclose(logf_);
	logf_ = NULL;
}

/* --- tests ---------------------------------------------------------------------------- */

static void test_names(void)
{
	int bad = 0;

	for (int s = 0; s < MN_STATE_COUNT; s++)
		CHECK_LOOP(strcmp(mn_state_name((enum mn_state)s), "?") != 0, bad);
	CHECK_EQ_U64(bad, 0);
	CHECK_STR(mn_state_name(MN_STATE_REGISTERED), "registered");
	CHECK_STR(mn_state_name(MN_STATE_AT_HOME), "home");
	CHECK_STR(mn_state_name(MN_STATE_COUNT), "?");
	CHECK_STR(mn_encap_name(MN_ENCAP_UDP), "udp");
	CHECK_STR(mn_udp_mode_name(MN_UDP_FORCE), "force");
}

static void test_config_checks(void)
{
	struct mn_engine_config cfg = base_config();
	struct mn_engine *mn = (struct mn_engine *)(uintptr_t)1;
	char long_nai[300];

	cfg.lifetime = 0;
	CHECK(mn_engine_new(&cfg, &mn) == -EINVAL);
	cfg = base_config();
	cfg.home_agent.s_addr = 0;
	CHECK(mn_engine_new(&cfg, &mn) == -EINVAL);
	cfg = base_config();
	cfg.key.spi = 255; /* reserved, RFC 5944 §1.6 */
	CHECK(mn_engine_new(&cfg, &mn) == -EINVAL);
	cfg = base_config();
	memset(long_nai, 'a', sizeof(long_nai) - 1);
	long_nai[sizeof(long_nai) - 1] = 0;
	cfg.nai = long_nai;
	CHECK(mn_engine_new(&cfg, &mn) == -EINVAL);
	/* Output untouched on failure. */
	CHECK(mn == (struct mn_engine *)(uintptr_t)1);
	mip4_key_wipe(&cfg.key);
}

/* First registration: the request's fields, then the accepted reply. */
static void test_first_registration(void)
{
	struct fixture f;
	struct mip4_reg_request req;
	const struct mn_action *s, *up;

	setup(&f);
	CHECK(mn_engine_state(f.mn) == MN_STATE_IDLE);
	CHECK_EQ_U64(mn_engine_deadline(f.mn), MN_NEVER);
	CHECK(mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a) == 0);
	CHECK(has_state_change(&f.a, MN_STATE_IDLE, MN_STATE_REGISTERING));
	s = find(&f.a, MN_ACT_SEND);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ_U64(s->src.s_addr, ip(COA1).s_addr);
	CHECK_EQ_U64(s->dst.s_addr, ip(HA).s_addr);
	CHECK_EQ_U64(s->port, 434);
	CHECK(sent_request(&f, &req));
	/* RFC 5944 §3.6.1.2 D (co-located), RFC 3024 T; nothing else. */
	CHECK_EQ_U64(req.flags, MIP4_REQ_D | MIP4_REQ_T);
	CHECK_EQ_U64(req.lifetime, 300);
	CHECK_EQ_U64(req.home_addr.s_addr, ip(HOA).s_addr);
	CHECK_EQ_U64(req.home_agent.s_addr, ip(HA).s_addr);
	CHECK_EQ_U64(req.coa.s_addr, ip(COA1).s_addr);
	CHECK_EQ_U64(req.mn_ha.spi, 1000);
	/* RFC 3519 §3.1, mode auto: present, F clear, before MN-HA. */
	CHECK(req.udp_req.present);
	CHECK_EQ_U64(req.udp_req.flags, 0);
	CHECK_EQ_U64(req.udp_req.encap, MIP4_UDPT_ENCAP_IPIP);
	CHECK(req.udp_req.where == MIP4_EXT_BEFORE_MN_HA);
	CHECK(!req.nai.present);
	/* The Identification is the wall clock in NTP format (§5.7.1). */
	CHECK_EQ_U64(req.ident >> 32, mip4_ntp_from_unix_ns(T2024) >> 32);
	CHECK_EQ_U64(f.a.deadline, T0 + MN_RETRANS_INITIAL);

	/* The same location again (netlink repeats itself): nothing. */
	CHECK(mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a) == 0);
	CHECK_EQ_U64(f.a.count, 0);
	CHECK_EQ_U64(f.a.deadline, T0 + MN_RETRANS_INITIAL);

	advance(&f, MM_MSEC(30));
	struct reply_opts o = { .code = 0, .lifetime = 300, .ident = req.ident };
	CHECK(deliver(&f, &o) == 0);
	CHECK(has_state_change(&f.a, MN_STATE_REGISTERING, MN_STATE_REGISTERED));
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up != NULL);
	if (up) {
		CHECK_EQ_U64(up->binding.coa.s_addr, ip(COA1).s_addr);
		CHECK_EQ_U64(up->binding.lifetime, 300);
		CHECK(up->binding.encap == MN_ENCAP_IPIP);  /* no UDP Tunnel Reply: §4.4 */
		CHECK(!up->binding.renewal);
		/* §3.6.2.2: the lifetime counts from the request's send time. */
		CHECK_EQ_U64(up->binding.expires_at, T0 + MM_SEC(300));
	}
	CHECK(find(&f.a, MN_ACT_SEND) == NULL);
	/* Renewal at 75 % of 300 s from the send. */
	CHECK_EQ_U64(f.a.deadline, T0 + MM_SEC(225));

	struct mn_status st;
	mn_engine_status(f.mn, &st);
	CHECK(st.state == MN_STATE_REGISTERED);
	CHECK(st.bound);
	CHECK_EQ_U64(st.last_reply_code, 0);
	CHECK_EQ_U64(st.registrations, 1);
	CHECK_EQ_U64(st.registered_at, T0 + MM_MSEC(30));

	/* A duplicate of the same reply: nothing pending any more. */
	struct mn_actions keep = f.a;
	CHECK(deliver(&f, &o) == -ESRCH);
	CHECK_MEM(&keep, &f.a, sizeof(keep));
	teardown(&f);
}

/* No reply: 1, 2, 4, 8, 16, 32, 32 s between requests (§3.6.3), each with a new, larger
 * Identification; early timer calls do nothing. */
static void test_backoff(void)
{
	static const unsigned gaps_s[] = { 1, 2, 4, 8, 16, 32, 32, 32 };
	struct fixture f;
	struct mip4_reg_request req;
	uint64_t last_ident;
	int bad_ident = 0, bad_deadline = 0, bad_send = 0;

	setup(&f);
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	last_ident = req.ident;

	/* Early: nothing. */
	advance(&f, MM_MSEC(500));
	CHECK(mn_engine_timer(f.mn, f.now, &f.a) == 0);
	CHECK_EQ_U64(f.a.count, 0);
	CHECK_EQ_U64(f.a.deadline, T0 + MM_SEC(1));
	advance(&f, MM_MSEC(500));

	mm_time_ns t = T0;
	for (size_t i = 0; i < sizeof(gaps_s) / sizeof(gaps_s[0]); i++) {
		t += MM_SEC(gaps_s[i]);
		CHECK_LOOP(f.now == t, bad_deadline);
		CHECK_LOOP(mn_engine_timer(f.mn, f.now, &f.a) == 0, bad_send);
		CHECK_LOOP(count_kind(&f.a, MN_ACT_SEND) == 1, bad_send);
		CHECK_LOOP(sent_request(&f, &req), bad_send);
		CHECK_LOOP(mip4_ident_after(req.ident, last_ident), bad_ident);
		last_ident = req.ident;
		if (i + 1 < sizeof(gaps_s) / sizeof(gaps_s[0])) {
			CHECK_LOOP(f.a.deadline == t + MM_SEC(gaps_s[i + 1]), bad_deadline);
			advance(&f, f.a.deadline - f.now);
		}
	}
	CHECK_EQ_U64(bad_deadline, 0);
	CHECK_EQ_U64(bad_send, 0);
	CHECK_EQ_U64(bad_ident, 0);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERING);
	struct mn_engine_stats st;
	mn_engine_stats(f.mn, &st);
	CHECK_EQ_U64(st.requests, 9);
	CHECK_EQ_U64(st.retransmissions, 8);
	teardown(&f);
}

/* §3.6.3's maximum is no greater than the requested lifetime. */
static void test_backoff_capped_by_lifetime(void)
{
	struct mn_engine_config cfg = base_config();
	struct fixture f;

	cfg.lifetime = 5;
	setup_cfg(&f, &cfg);
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK_EQ_U64(f.a.deadline, T0 + MM_SEC(1));
	advance(&f, MM_SEC(1));
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(2));
	advance(&f, MM_SEC(2));
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(4));
	advance(&f, MM_SEC(4));
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(5));
	teardown(&f);
}

/* A reply to an older request (an earlier transmission) is ignored. */
static void test_old_reply_ignored(void)
{
	struct fixture f;
	struct mip4_reg_request first, second;
	struct mn_engine_stats st;

	setup(&f);
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &first));
	advance(&f, MM_SEC(1));
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK(sent_request(&f, &second));
	CHECK(first.ident != second.ident);

	advance(&f, MM_MSEC(10));
	struct reply_opts o = { .code = 0, .lifetime = 300, .ident = first.ident };
	struct mn_actions keep = f.a;
	CHECK(deliver(&f, &o) == -ESRCH);
	CHECK_MEM(&keep, &f.a, sizeof(keep));
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERING);
	mn_engine_stats(f.mn, &st);
	CHECK_EQ_U64(st.dropped_unmatched, 1);

	o.ident = second.ident;
	CHECK(deliver(&f, &o) == 0);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERED);
	/* The lifetime runs from the send of the request that was answered. */
	const struct mn_action *up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up && up->binding.expires_at == T0 + MM_SEC(1) + MM_SEC(300));
	teardown(&f);
}

/* Forged, unauthenticated, misaddressed and malformed replies change nothing. */
static void test_forged_replies(void)
{
	struct fixture f;
	struct mip4_reg_request req;
	struct mn_engine_stats st;
	struct mn_actions keep;
	uint8_t buf[256];
	size_t n;

	setup(&f);
	log_capture();
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	keep = f.a;

	struct reply_opts o = { .code = 0, .lifetime = 300, .ident = req.ident,
				.key = wrong_secret };
	CHECK(deliver(&f, &o) == -EACCES);
	/* A denial with a wrong authenticator must not make us back off either. */
	o.code = MIP4_CODE_HA_ADMIN_PROHIBITED;
	CHECK(deliver(&f, &o) == -EACCES);
	/* Nor a forged 133 move our clock. */
	o.code = MIP4_CODE_HA_IDENT_MISMATCH;
	o.ident = (UINT64_C(0x12345678) << 32) | (uint32_t)req.ident;
	CHECK(deliver(&f, &o) == -EACCES);
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident };

	/* Right key, but from somewhere else. */
	n = build_reply(&o, buf, sizeof(buf));
	CHECK(mn_engine_reply(f.mn, buf, n, ip("198.18.99.9"), f.now, &f.a) == -EPERM);
	/* Flip one byte of the lifetime: the authenticator no longer verifies. */
	buf[3] ^= 1;
	CHECK(mn_engine_reply(f.mn, buf, n, ip(HA), f.now, &f.a) == -EACCES);
	buf[3] ^= 1;
	/* Truncated: malformed. */
	CHECK(mn_engine_reply(f.mn, buf, n - 1, ip(HA), f.now, &f.a) == -EBADMSG);
	CHECK(mn_engine_reply(f.mn, buf, 0, ip(HA), f.now, &f.a) == -EBADMSG);
	/* A foreign agent's code without authentication: we register directly, drop it. */
	o.code = MIP4_CODE_FA_ADMIN_PROHIBITED;
	o.no_auth = true;
	CHECK(deliver(&f, &o) == -EPERM);
	/* An HA code without MN-HA cannot even be encoded by the codec (required); a reply
	 * for another home address: */
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident,
				 .home_addr = "198.18.1.101" };
	CHECK(deliver(&f, &o) == -EPERM);

	CHECK_MEM(&keep, &f.a, sizeof(keep));
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERING);
	mn_engine_stats(f.mn, &st);
	CHECK_EQ_U64(st.dropped_auth, 4);
	CHECK_EQ_U64(st.dropped_malformed, 2);
	CHECK_EQ_U64(st.dropped_unmatched, 3);
	CHECK_EQ_U64(st.denied, 0);
	CHECK_EQ_U64(st.resyncs, 0);
	CHECK(strstr(logbuf, "dropped: security exception") != NULL);
	CHECK(strstr(logbuf, "dropped: malformed Registration Reply") != NULL);

	/* The genuine reply still works afterwards. */
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident };
	CHECK(deliver(&f, &o) == 0);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERED);
	log_release();
	teardown(&f);
}

/* Renewal at 75 %, then a renewal that goes unanswered until the binding expires. */
static void test_renewal(void)
{
	struct fixture f;
	struct mip4_reg_request req;
	const struct mn_action *up, *down;

	setup(&f);
	register_at(&f, COA1, 300);
	CHECK_EQ_U64(f.a.deadline, T0 + MM_SEC(225));
	advance(&f, f.a.deadline - f.now - 1);
	CHECK(mn_engine_timer(f.mn, f.now, &f.a) == 0);
	CHECK_EQ_U64(f.a.count, 0);
	advance(&f, 1);
	CHECK(mn_engine_timer(f.mn, f.now, &f.a) == 0);
	CHECK(has_state_change(&f.a, MN_STATE_REGISTERED, MN_STATE_RENEWING));
	CHECK(sent_request(&f, &req));
	CHECK_EQ_U64(req.coa.s_addr, ip(COA1).s_addr);
	CHECK_EQ_U64(req.lifetime, 300);
	CHECK(find(&f.a, MN_ACT_BINDING_DOWN) == NULL); /* still bound while renewing */
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(1));
	mm_time_ns renew_sent = f.now;

	/* The HA shortens the lifetime to 60 s. */
	advance(&f, MM_MSEC(15));
	struct reply_opts o = { .code = 0, .lifetime = 60, .ident = req.ident };
	CHECK(deliver(&f, &o) == 0);
	CHECK(has_state_change(&f.a, MN_STATE_RENEWING, MN_STATE_REGISTERED));
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up && up->binding.renewal && up->binding.lifetime == 60);
	CHECK(up && up->binding.expires_at == renew_sent + MM_SEC(60));
	CHECK_EQ_U64(f.a.deadline, renew_sent + MM_SEC(45));

	/* Next renewal: no answers. Requests at +0, 1, 3, 7, 15 s; the binding expires at
	 * +15 s (60 - 45), before the fifth request would be answered. */
	advance(&f, f.a.deadline - f.now);
	mm_time_ns start = f.now;
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK(mn_engine_state(f.mn) == MN_STATE_RENEWING);
	unsigned sends = count_kind(&f.a, MN_ACT_SEND);
	while (f.a.deadline < start + MM_SEC(15)) {
		advance(&f, f.a.deadline - f.now);
		mn_engine_timer(f.mn, f.now, &f.a);
		sends += count_kind(&f.a, MN_ACT_SEND);
	}
	CHECK_EQ_U64(sends, 4);
	CHECK_EQ_U64(f.a.deadline, start + MM_SEC(15));
	advance(&f, f.a.deadline - f.now);
	CHECK(mn_engine_timer(f.mn, f.now, &f.a) == 0);
	down = find(&f.a, MN_ACT_BINDING_DOWN);
	CHECK(down && down->down_reason == MN_DOWN_EXPIRED);
	CHECK(has_state_change(&f.a, MN_STATE_RENEWING, MN_STATE_REGISTERING));
	/* The retransmission due at the same moment goes out too. */
	CHECK_EQ_U64(count_kind(&f.a, MN_ACT_SEND), 1);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERING);
	struct mn_engine_stats st;
	mn_engine_stats(f.mn, &st);
	CHECK_EQ_U64(st.expired, 1);

	/* And the next answer brings it back (not a renewal: the binding was lost). */
	CHECK(sent_request(&f, &req));
	o.ident = req.ident;
	o.lifetime = 300;
	CHECK(deliver(&f, &o) == 0);
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up && !up->binding.renewal);
	teardown(&f);
}

/* Code 133: resynchronise with the HA's clock and retry at once; a second 133 in a row
 * waits for the backoff. */
static void test_resync_133(void)
{
	struct fixture f;
	struct mip4_reg_request req, again;
	uint64_t ha_secs = (mip4_ntp_from_unix_ns(T2024) >> 32) + 100; /* HA 100 s ahead */

	setup(&f);
	log_capture();
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	advance(&f, MM_MSEC(10));
	struct reply_opts o = { .code = MIP4_CODE_HA_IDENT_MISMATCH, .lifetime = 0,
				.ident = (ha_secs << 32) | (uint32_t)req.ident };
	CHECK(deliver(&f, &o) == 0);
	CHECK(sent_request(&f, &again));
	CHECK_EQ_U64(again.ident >> 32, ha_secs);  /* the HA's clock now */
	CHECK(find(&f.a, MN_ACT_DENIED) == NULL);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERING);
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(1));
	CHECK(strstr(logbuf, "denied code=133 (") != NULL);

	/* Another 133 at once: no immediate retry, back off. */
	advance(&f, MM_MSEC(10));
	o.ident = (ha_secs << 32) | (uint32_t)again.ident;
	CHECK(deliver(&f, &o) == 0);
	CHECK_EQ_U64(count_kind(&f.a, MN_ACT_SEND), 0);
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(2));

	/* The timer's retry is accepted. */
	advance(&f, MM_SEC(2));
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	CHECK(mip4_ident_after(req.ident, again.ident));
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident };
	CHECK(deliver(&f, &o) == 0);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERED);
	struct mn_engine_stats st;
	mn_engine_stats(f.mn, &st);
	CHECK_EQ_U64(st.resyncs, 2);
	log_release();
	teardown(&f);
}

/* Any other denial: reported, logged, backed off; the state stays REGISTERING. */
static void test_denial(void)
{
	struct fixture f;
	struct mip4_reg_request req;
	const struct mn_action *d;

	setup(&f);
	log_capture();
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	advance(&f, MM_MSEC(10));
	struct reply_opts o = { .code = MIP4_CODE_HA_ADMIN_PROHIBITED, .ident = req.ident };
	CHECK(deliver(&f, &o) == 0);
	d = find(&f.a, MN_ACT_DENIED);
	CHECK(d && d->code == 129);
	CHECK(find(&f.a, MN_ACT_SEND) == NULL);
	CHECK(find(&f.a, MN_ACT_STATE) == NULL);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERING);
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(2));
	CHECK(strstr(logbuf, "denied code=129 (") != NULL);
	struct mn_status s;
	mn_engine_status(f.mn, &s);
	CHECK_EQ_U64(s.last_reply_code, 129);

	/* Next try after the backoff, denied again with 131: 4 s now. */
	advance(&f, MM_SEC(2));
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	o.ident = req.ident;
	o.code = MIP4_CODE_HA_MN_AUTH_FAILED;
	CHECK(deliver(&f, &o) == 0);
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(8));
	CHECK(strstr(logbuf, "denied code=131 (") != NULL);
	CHECK(strstr(logbuf, "security exception") != NULL);
	log_release();
	teardown(&f);
}

/* A move while a request is pending supersedes it; a move while registered takes the
 * binding down and registers the new CoA. */
static void test_move_while_pending(void)
{
	struct fixture f;
	struct mip4_reg_request a, b;
	const struct mn_action *down, *up;

	setup(&f);
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &a));
	advance(&f, MM_MSEC(700));
	CHECK(mn_engine_set_location(f.mn, false, ip(COA2), f.now, &f.a) == 0);
	CHECK(find(&f.a, MN_ACT_STATE) == NULL);  /* still registering */
	CHECK(sent_request(&f, &b));
	CHECK_EQ_U64(b.coa.s_addr, ip(COA2).s_addr);
	CHECK_EQ_U64(find(&f.a, MN_ACT_SEND)->src.s_addr, ip(COA2).s_addr);
	CHECK(mip4_ident_after(b.ident, a.ident));
	/* The backoff restarts: 1 s from now, not from the first request. */
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(1));

	/* The HA answers the old request: ignored. */
	struct reply_opts o = { .code = 0, .lifetime = 300, .ident = a.ident };
	CHECK(deliver(&f, &o) == -ESRCH);
	o.ident = b.ident;
	CHECK(deliver(&f, &o) == 0);
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up && up->binding.coa.s_addr == ip(COA2).s_addr);

	/* Move while registered. */
	advance(&f, MM_SEC(10));
	CHECK(mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a) == 0);
	down = find(&f.a, MN_ACT_BINDING_DOWN);
	CHECK(down && down->down_reason == MN_DOWN_MOVED);
	CHECK(has_state_change(&f.a, MN_STATE_REGISTERED, MN_STATE_REGISTERING));
	CHECK(sent_request(&f, &a));
	CHECK_EQ_U64(a.coa.s_addr, ip(COA1).s_addr);
	/* Actions come in order: binding down, then the state change, then the send. */
	CHECK(f.a.act[0].kind == MN_ACT_BINDING_DOWN);
	CHECK(f.a.act[f.a.count - 1].kind == MN_ACT_SEND);
	teardown(&f);
}

/* Back home: deregistration (CoA = home address, lifetime 0) from the home address;
 * answered, then unanswered (given up after 4 requests, 15 s). */
static void test_deregistration(void)
{
	struct fixture f;
	struct mip4_reg_request req;
	const struct mn_action *s, *down, *dr;

	setup(&f);
	log_capture();
	register_at(&f, COA1, 300);
	advance(&f, MM_SEC(5));
	CHECK(mn_engine_set_location(f.mn, true, ip("0.0.0.0"), f.now, &f.a) == 0);
	down = find(&f.a, MN_ACT_BINDING_DOWN);
	CHECK(down && down->down_reason == MN_DOWN_HOME);
	CHECK(has_state_change(&f.a, MN_STATE_REGISTERED, MN_STATE_DEREGISTERING));
	s = find(&f.a, MN_ACT_SEND);
	CHECK(s && s->src.s_addr == ip(HOA).s_addr && s->dst.s_addr == ip(HA).s_addr);
	CHECK(sent_request(&f, &req));
	CHECK_EQ_U64(req.lifetime, 0);
	CHECK_EQ_U64(req.coa.s_addr, ip(HOA).s_addr);
	CHECK_EQ_U64(req.flags, 0);
	CHECK(!req.udp_req.present);
	/* Again: nothing new. */
	CHECK(mn_engine_set_location(f.mn, true, ip("0.0.0.0"), f.now, &f.a) == 0);
	CHECK_EQ_U64(f.a.count, 0);

	struct reply_opts o = { .code = 0, .lifetime = 0, .ident = req.ident };
	CHECK(deliver(&f, &o) == 0);
	dr = find(&f.a, MN_ACT_DEREGISTERED);
	CHECK(dr && dr->answered);
	CHECK(has_state_change(&f.a, MN_STATE_DEREGISTERING, MN_STATE_AT_HOME));
	CHECK_EQ_U64(f.a.deadline, MN_NEVER);
	CHECK(strstr(logbuf, "deregistered") != NULL);

	/* Away and back home again, this time with the HA silent. */
	register_at(&f, COA2, 300);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERED);
	advance(&f, MM_SEC(1));
	mn_engine_set_location(f.mn, true, ip("0.0.0.0"), f.now, &f.a);
	mm_time_ns start = f.now;
	unsigned sends = count_kind(&f.a, MN_ACT_SEND);
	int guard = 0;
	while (mn_engine_state(f.mn) == MN_STATE_DEREGISTERING && guard++ < 10) {
		advance(&f, f.a.deadline - f.now);
		mn_engine_timer(f.mn, f.now, &f.a);
		sends += count_kind(&f.a, MN_ACT_SEND);
	}
	CHECK_EQ_U64(sends, MN_DEREG_TRIES);
	CHECK_EQ_U64(f.now - start, MM_SEC(15));
	dr = find(&f.a, MN_ACT_DEREGISTERED);
	CHECK(dr && !dr->answered);
	CHECK(mn_engine_state(f.mn) == MN_STATE_AT_HOME);
	struct mn_engine_stats st;
	mn_engine_stats(f.mn, &st);
	CHECK_EQ_U64(st.deregistered, 1);
	CHECK_EQ_U64(st.dereg_unanswered, 1);
	log_release();
	teardown(&f);
}

/* Starting at home deregisters too (the HA may hold a stale binding from before). Then
 * leaving home registers. */
static void test_start_at_home(void)
{
	struct fixture f;
	struct mip4_reg_request req;

	setup(&f);
	CHECK(mn_engine_set_location(f.mn, true, ip("0.0.0.0"), f.now, &f.a) == 0);
	CHECK(has_state_change(&f.a, MN_STATE_IDLE, MN_STATE_DEREGISTERING));
	CHECK(sent_request(&f, &req));
	CHECK_EQ_U64(req.lifetime, 0);
	/* Leave home before the answer: register, and the late dereg reply is ignored. */
	CHECK(mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a) == 0);
	CHECK(has_state_change(&f.a, MN_STATE_DEREGISTERING, MN_STATE_REGISTERING));
	struct reply_opts o = { .code = 0, .lifetime = 0, .ident = req.ident };
	CHECK(deliver(&f, &o) == -ESRCH);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERING);
	teardown(&f);
}

/* UDP tunnelling: the HA's assent selects UDP with its keepalive (0 -> ours); force sets
 * F; off leaves the extension out. */
static void test_udp_tunnel(void)
{
	struct mn_engine_config cfg = base_config();
	struct fixture f;
	struct mip4_reg_request req;
	const struct mn_action *up;

	setup(&f);
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	struct reply_opts o = { .code = 0, .lifetime = 300, .ident = req.ident, .udp = true,
				.udp_code = 0, .keepalive = 20 };
	CHECK(deliver(&f, &o) == 0);
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up && up->binding.encap == MN_ENCAP_UDP && up->binding.keepalive == 20);
	/* Move; the HA declines this time (no NAT seen). */
	mn_engine_set_location(f.mn, false, ip(COA2), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	o.ident = req.ident;
	o.udp_code = MIP4_UDPT_CODE_DECLINED;
	CHECK(deliver(&f, &o) == 0);
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up && up->binding.encap == MN_ENCAP_IPIP && up->binding.keepalive == 0);
	teardown(&f);

	cfg.udp = MN_UDP_FORCE;
	cfg.keepalive_default = 25;
	cfg.nai = "mn1@example.com";
	setup_cfg(&f, &cfg);
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	CHECK(req.udp_req.present && req.udp_req.flags == MIP4_UDPT_REQ_F);
	CHECK(req.nai.present && strcmp(req.nai.text, "mn1@example.com") == 0);
	CHECK(req.nai.where == MIP4_EXT_BEFORE_MN_HA);
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident, .udp = true,
				 .udp_code = 0, .keepalive = 0 };
	CHECK(deliver(&f, &o) == 0);
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up && up->binding.encap == MN_ENCAP_UDP && up->binding.keepalive == 25);
	teardown(&f);

	cfg = base_config();
	cfg.udp = MN_UDP_OFF;
	cfg.reverse_tunnel = false;
	setup_cfg(&f, &cfg);
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	CHECK(!req.udp_req.present);
	CHECK_EQ_U64(req.flags, MIP4_REQ_D);
	/* A UDP Tunnel Reply to a request without one is ignored: IP-in-IP. */
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident, .udp = true };
	CHECK(deliver(&f, &o) == 0);
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up && up->binding.encap == MN_ENCAP_IPIP);
	teardown(&f);
	mip4_key_wipe(&cfg.key);
}

/* Detach, re-register, stop. */
static void test_detach_and_stop(void)
{
	struct fixture f;
	struct mip4_reg_request req;
	const struct mn_action *down;

	setup(&f);
	register_at(&f, COA1, 300);
	CHECK(mn_engine_set_location(f.mn, false, ip("0.0.0.0"), f.now, &f.a) == 0);
	down = find(&f.a, MN_ACT_BINDING_DOWN);
	CHECK(down && down->down_reason == MN_DOWN_DETACHED);
	CHECK(has_state_change(&f.a, MN_STATE_REGISTERED, MN_STATE_IDLE));
	CHECK_EQ_U64(f.a.deadline, MN_NEVER);
	CHECK(mn_engine_reregister(f.mn, f.now, &f.a) == -EAGAIN);
	/* Our home address is never a care-of address. */
	CHECK(mn_engine_set_location(f.mn, false, ip(HOA), f.now, &f.a) == -EINVAL);

	register_at(&f, COA1, 300);
	/* RFC 3519 §4.10: re-register on NAT mapping loss. */
	CHECK(mn_engine_reregister(f.mn, f.now, &f.a) == 0);
	CHECK(has_state_change(&f.a, MN_STATE_REGISTERED, MN_STATE_RENEWING));
	CHECK(sent_request(&f, &req));
	struct reply_opts o = { .code = 0, .lifetime = 300, .ident = req.ident };
	CHECK(deliver(&f, &o) == 0);

	CHECK(mn_engine_stop(f.mn, f.now, &f.a) == 0);
	CHECK(sent_request(&f, &req));
	CHECK_EQ_U64(req.lifetime, 0);
	CHECK_EQ_U64(req.coa.s_addr, ip(COA1).s_addr);
	CHECK_EQ_U64(find(&f.a, MN_ACT_SEND)->src.s_addr, ip(COA1).s_addr);
	down = find(&f.a, MN_ACT_BINDING_DOWN);
	CHECK(down && down->down_reason == MN_DOWN_STOPPED);
	CHECK(mn_engine_state(f.mn) == MN_STATE_IDLE);
	CHECK_EQ_U64(f.a.deadline, MN_NEVER);
	teardown(&f);
}

/* An acceptance that grants lifetime 0 gives no binding; one that grants more than asked is
 * clamped; infinite lifetime needs no renewal. */
static void test_odd_lifetimes(void)
{
	struct mn_engine_config cfg = base_config();
	struct fixture f;
	struct mip4_reg_request req;
	const struct mn_action *up;

	setup(&f);
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	struct reply_opts o = { .code = 0, .lifetime = 0, .ident = req.ident };
	CHECK(deliver(&f, &o) == 0);
	CHECK(find(&f.a, MN_ACT_BINDING_UP) == NULL);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERING);
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(2));
	advance(&f, MM_SEC(2));
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	o.ident = req.ident;
	o.lifetime = 1000;
	CHECK(deliver(&f, &o) == 0);
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up && up->binding.lifetime == 300);
	teardown(&f);

	cfg.lifetime = MIP4_LIFETIME_INFINITE;
	setup_cfg(&f, &cfg);
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	o = (struct reply_opts){ .code = 1, .lifetime = MIP4_LIFETIME_INFINITE,
				 .ident = req.ident };
	CHECK(deliver(&f, &o) == 0);
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up && up->binding.expires_at == MN_NEVER);
	CHECK_EQ_U64(f.a.deadline, MN_NEVER);
	teardown(&f);
	mip4_key_wipe(&cfg.key);
}

/* Every single-bit flip and every truncation of a valid reply, and random garbage, is
 * refused and changes nothing: MN-HA covers every byte up to the authenticator, and the
 * authenticator itself (RFC 5944 §3.5.1). Then the genuine reply still registers. */
/* RFC 5265 §3.4, §4.1: the binding says whether the reply that granted it carried a TNC
 * covered by its authenticator; a reply that fails any check never reports one. */
static const uint8_t tnc_ext[] = { 149, 2, 0, 0 };

static const struct mn_action *deliver_raw(struct fixture *f, const uint8_t *buf, size_t n,
					   int *rc)
{
	*rc = mn_engine_reply(f->mn, buf, n, ip(HA), f->now, &f->a);
	return *rc == 0 ? find(&f->a, MN_ACT_BINDING_UP) : NULL;
}

static void test_tnc(void)
{
	struct fixture f;
	struct mip4_reg_request req;
	struct mn_status stt;
	struct mn_engine_stats st;
	const struct mn_action *up;
	struct mn_actions keep;
	uint8_t buf[256], forged[256];
	size_t n;
	int rc;

	setup(&f);
	log_capture();
	/* With the TNC under MN-HA: tnc. */
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	struct reply_opts o = { .code = 0, .lifetime = 300, .ident = req.ident, .tnc = true };
	n = build_reply(&o, buf, sizeof(buf));
	up = deliver_raw(&f, buf, n, &rc);
	CHECK(rc == 0 && up && up->binding.tnc);
	mn_engine_status(f.mn, &stt);
	CHECK(stt.bound && stt.binding.tnc);
	CHECK(strstr(logbuf, "registered coa=198.18.11.10 lifetime=300 encapsulation=ipip tnc")
	      != NULL);

	/* Per reply, not sticky: a renewal answered without one clears it. */
	mn_engine_reregister(f.mn, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident };
	n = build_reply(&o, buf, sizeof(buf));
	up = deliver_raw(&f, buf, n, &rc);
	CHECK(rc == 0 && up && up->binding.renewal && !up->binding.tnc);
	mn_engine_status(f.mn, &stt);
	CHECK(stt.bound && !stt.binding.tnc);

	/* A TNC after MN-HA (anyone on the path can append one to an authentic reply): the
	 * reply is accepted, the TNC does not count. */
	mn_engine_set_location(f.mn, false, ip(COA2), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident };
	n = build_reply(&o, buf, sizeof(buf));
	memcpy(buf + n, tnc_ext, sizeof(tnc_ext));
	up = deliver_raw(&f, buf, n + sizeof(tnc_ext), &rc);
	CHECK(rc == 0 && up && !up->binding.tnc);
	CHECK(strstr(logbuf, "ignoring a Trusted Networks Configured extension") != NULL);

	/* Replies that fail a check never get as far, TNC or not. */
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	keep = f.a;
	/* Inserting a TNC before MN-HA of an authentic reply breaks the authenticator. */
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident };
	n = build_reply(&o, buf, sizeof(buf));
	memcpy(forged, buf, MIP4_REPLY_FIXED_LEN);
	memcpy(forged + MIP4_REPLY_FIXED_LEN, tnc_ext, sizeof(tnc_ext));
	memcpy(forged + MIP4_REPLY_FIXED_LEN + sizeof(tnc_ext), buf + MIP4_REPLY_FIXED_LEN,
	       n - MIP4_REPLY_FIXED_LEN);
	CHECK(deliver_raw(&f, forged, n + sizeof(tnc_ext), &rc) == NULL && rc == -EACCES);
	/* Wrong key. */
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident, .tnc = true,
				 .key = wrong_secret };
	CHECK(deliver(&f, &o) == -EACCES);
	/* Not fresh: the Identification of an earlier request (replayed). */
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident - (1ull << 32) - 1,
				 .tnc = true };
	CHECK(deliver(&f, &o) == -ESRCH);
	/* From another address. */
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident, .tnc = true };
	n = build_reply(&o, buf, sizeof(buf));
	CHECK(mn_engine_reply(f.mn, buf, n, ip("198.18.99.9"), f.now, &f.a) == -EPERM);
	/* Truncated in the middle of the TNC. */
	CHECK(mn_engine_reply(f.mn, buf, MIP4_REPLY_FIXED_LEN + 3, ip(HA), f.now, &f.a) ==
	      -EBADMSG);
	CHECK_MEM(&keep, &f.a, sizeof(keep));
	mn_engine_status(f.mn, &stt);
	CHECK(!stt.bound && mn_engine_state(f.mn) == MN_STATE_REGISTERING);
	/* A denial carrying one (an i-HA answers trusted sources with it): no binding. */
	o = (struct reply_opts){ .code = MIP4_CODE_HA_ADMIN_PROHIBITED, .ident = req.ident,
				 .tnc = true };
	CHECK(deliver(&f, &o) == 0);
	CHECK(find(&f.a, MN_ACT_DENIED) && !find(&f.a, MN_ACT_BINDING_UP));
	/* And the genuine one, after all that. */
	advance(&f, f.a.deadline - f.now);
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident, .tnc = true };
	CHECK(deliver(&f, &o) == 0);
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up && up->binding.tnc && up->binding.coa.s_addr == ip(COA1).s_addr);
	mn_engine_stats(f.mn, &st);
	CHECK_EQ_U64(st.dropped_auth, 2);
	CHECK_EQ_U64(st.dropped_unmatched, 2);
	CHECK_EQ_U64(st.dropped_malformed, 1);
	log_release();
	teardown(&f);
}

static void test_reply_mutations(void)
{
	struct fixture f;
	struct mip4_reg_request req;
	struct mn_engine_stats st;
	uint8_t good[256], buf[256];
	size_t n;
	int bad_rc = 0, bad_state = 0, accepted = 0;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	setup(&f);
	log_set_level(LOG_LEVEL_ERROR);
	mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a);
	CHECK(sent_request(&f, &req));
	struct reply_opts o = { .code = 0, .lifetime = 300, .ident = req.ident, .udp = true,
				.keepalive = 30 };
	n = build_reply(&o, good, sizeof(good));
	for (size_t bit = 0; bit < n * 8; bit++) {
		memcpy(buf, good, n);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = mn_engine_reply(f.mn, buf, n, ip(HA), f.now, &f.a);

		CHECK_LOOP(rc < 0, bad_rc);
		accepted += rc == 0;
		CHECK_LOOP(mn_engine_state(f.mn) == MN_STATE_REGISTERING, bad_state);
	}
	for (size_t len = 0; len < n; len++) {
		CHECK_LOOP(mn_engine_reply(f.mn, good, len, ip(HA), f.now, &f.a) < 0, bad_rc);
		CHECK_LOOP(mn_engine_state(f.mn) == MN_STATE_REGISTERING, bad_state);
	}
	for (int i = 0; i < 20000; i++) {
		size_t len = 0;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = x % sizeof(buf);
		for (size_t k = 0; k < len; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[k] = (uint8_t)x;
		}
		if (len && i % 2)
			buf[0] = MIP4_MSG_REG_REPLY;
		CHECK_LOOP(mn_engine_reply(f.mn, buf, len, ip(HA), f.now, &f.a) < 0, bad_rc);
	}
	CHECK_EQ_U64(bad_rc, 0);
	CHECK_EQ_U64(bad_state, 0);
	CHECK_EQ_U64(accepted, 0);
	mn_engine_stats(f.mn, &st);
	CHECK_EQ_U64(st.accepted, 0);
	CHECK_EQ_U64(st.denied, 0);
	CHECK(mn_engine_reply(f.mn, good, n, ip(HA), f.now, &f.a) == 0);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERED);
	log_set_level(LOG_LEVEL_DEBUG);
	teardown(&f);
}

/* --- registration through a foreign agent (RFC 5944 §3.6.1, RFC 3024) ----------------- */

#define FA_ADDR "198.18.31.1"   /* the advertisement's IP source */
#define FA_COA  "198.18.31.2"   /* the care-of address it advertises */
#define FA2_ADDR "198.18.32.1"
#define FA2_COA  "198.18.32.1"

static const uint8_t fa_secret[16] = { 0xfa, 0xfa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
				       13, 14 };

static struct mn_fa_location fa_loc(const char *fa, const char *coa, uint16_t reg_lifetime,
				    uint16_t flags)
{
	struct mn_fa_location l;

	memset(&l, 0, sizeof(l));
	l.fa = ip(fa);
	l.coa = ip(coa);
	l.reg_lifetime = reg_lifetime;
	l.adv_flags = flags;
	return l;
}

static int deliver_from(struct fixture *f, const struct reply_opts *o, const char *src)
{
	uint8_t buf[256];
	size_t n = build_reply(o, buf, sizeof(buf));

	return mn_engine_reply(f->mn, buf, n, ip(src), f->now, &f->a);
}

/* The request's IP and registration fields (§3.6.1.1, §3.6.1.2, RFC 3024 §3.1, §4.1.1), the
 * reply from the agent, the binding. */
static void test_fa_registration(void)
{
	struct fixture f;
	struct mip4_reg_request req;
	struct mn_fa_location l = fa_loc(FA_ADDR, FA_COA, 120, MIP4_ADV_F | MIP4_ADV_T);
	const struct mn_action *s, *up;
	struct mn_status st;

	setup(&f);   /* lifetime 300, reverse tunnelling on, UDP auto */
	CHECK(mn_engine_set_location_fa(f.mn, &l, f.now, &f.a) == 0);
	CHECK(has_state_change(&f.a, MN_STATE_IDLE, MN_STATE_REGISTERING));
	s = find(&f.a, MN_ACT_SEND);
	CHECK(s != NULL);
	if (!s)
		return;
	/* §3.6.1.1: source the home address, destination the advertisement's source. */
	CHECK_EQ_U64(s->src.s_addr, ip(HOA).s_addr);
	CHECK_EQ_U64(s->dst.s_addr, ip(FA_ADDR).s_addr);
	CHECK_EQ_U64(s->port, 434);
	CHECK_EQ_U64(s->ttl, 255);          /* RFC 3024 §4.1.1 */
	CHECK(sent_request(&f, &req));
	/* §3.6.1.2: D clear; T because configured and offered; no UDP Tunnel Request. */
	CHECK_EQ_U64(req.flags, MIP4_REQ_T);
	CHECK_EQ_U64(req.coa.s_addr, ip(FA_COA).s_addr);
	CHECK_EQ_U64(req.home_agent.s_addr, ip(HA).s_addr);
	CHECK_EQ_U64(req.lifetime, 120);    /* min(300, the advertised 120) */
	CHECK(!req.udp_req.present);
	CHECK(!req.mn_fa.present);
	mn_engine_status(f.mn, &st);
	CHECK(st.via_fa && st.fa.s_addr == ip(FA_ADDR).s_addr);
	CHECK_EQ_U64(st.coa.s_addr, ip(FA_COA).s_addr);

	/* The same advertisement again: nothing. */
	CHECK(mn_engine_set_location_fa(f.mn, &l, f.now, &f.a) == 0);
	CHECK_EQ_U64(f.a.count, 0);

	/* The home agent's address is not where replies come from now. */
	advance(&f, MM_MSEC(20));
	struct reply_opts o = { .code = 0, .lifetime = 120, .ident = req.ident, .tnc = true };
	CHECK(deliver_from(&f, &o, HA) == -EPERM);
	CHECK(deliver_from(&f, &o, FA_ADDR) == 0);
	CHECK(has_state_change(&f.a, MN_STATE_REGISTERING, MN_STATE_REGISTERED));
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up != NULL);
	if (up) {
		CHECK(up->binding.via_fa);
		CHECK_EQ_U64(up->binding.fa.s_addr, ip(FA_ADDR).s_addr);
		CHECK_EQ_U64(up->binding.coa.s_addr, ip(FA_COA).s_addr);
		CHECK_EQ_U64(up->binding.lifetime, 120);
		CHECK(up->binding.tnc);          /* RFC 5265 §4.1: fa_registered evidence */
		CHECK_EQ_U64(up->binding.expires_at, T0 + MM_SEC(120));
	}
	CHECK_EQ_U64(f.a.deadline, T0 + MM_SEC(90));

	/* The agent now advertises 60 s: kept for the renewal, nothing sent now. */
	l.reg_lifetime = 60;
	CHECK(mn_engine_set_location_fa(f.mn, &l, f.now, &f.a) == 0);
	CHECK_EQ_U64(f.a.count, 0);
	advance(&f, f.a.deadline - f.now);
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK(has_state_change(&f.a, MN_STATE_REGISTERED, MN_STATE_RENEWING));
	CHECK(sent_request(&f, &req));
	CHECK_EQ_U64(req.lifetime, 60);
	CHECK_EQ_U64(find(&f.a, MN_ACT_SEND)->dst.s_addr, ip(FA_ADDR).s_addr);
	/* Granted more than asked: clamped (§3.8.3.1). */
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident };
	CHECK(deliver_from(&f, &o, FA_ADDR) == 0);
	up = find(&f.a, MN_ACT_BINDING_UP);
	CHECK(up && up->binding.renewal && up->binding.lifetime == 60 && !up->binding.tnc);
	teardown(&f);
}

/* RFC 3024 §3.1: no T towards an agent that does not offer it, unless it says it is
 * mandatory (75, §3.4): then one immediate retry with T. Code 69 (§3.6.2.3): one immediate
 * retry with the agent's maximum. Other denials by the agent back off. An agent's code
 * needs no MN-HA; a home agent's still does. */
static void test_fa_denials(void)
{
	struct fixture f;
	struct mip4_reg_request req;
	struct mn_fa_location l = fa_loc(FA_ADDR, FA_COA, 600, MIP4_ADV_F);
	const struct mn_action *d;

	setup(&f);
	log_capture();
	mn_engine_set_location_fa(f.mn, &l, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	CHECK_EQ_U64(req.flags, 0);          /* configured, but not offered */
	CHECK_EQ_U64(req.lifetime, 300);     /* min(300, 600) */
	CHECK(strstr(logbuf, "does not offer reverse tunnelling") != NULL);

	advance(&f, MM_MSEC(10));
	struct reply_opts o = { .code = MIP4_CODE_FA_REVERSE_TUNNEL_MANDATORY, .ident = req.ident,
				.no_auth = true };
	CHECK(deliver_from(&f, &o, FA_ADDR) == 0);
	d = find(&f.a, MN_ACT_DENIED);
	CHECK(d && d->code == 75 && d->by_fa);
	CHECK(sent_request(&f, &req));
	CHECK_EQ_U64(req.flags, MIP4_REQ_T);
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(1));

	/* 69 right after: the immediate retry was spent on 75, so this one waits (2 s) but
	 * already asks for the agent's maximum. */
	o = (struct reply_opts){ .code = MIP4_CODE_FA_LIFETIME_TOO_LONG, .lifetime = 30,
				 .ident = req.ident, .no_auth = true };
	CHECK(deliver_from(&f, &o, FA_ADDR) == 0);
	CHECK(find(&f.a, MN_ACT_SEND) == NULL);
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(2));
	advance(&f, MM_SEC(2));
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	CHECK_EQ_U64(req.lifetime, 30);
	CHECK_EQ_U64(req.flags, MIP4_REQ_T);

	/* 65 (administratively prohibited): reported, backed off, nothing sent. */
	o = (struct reply_opts){ .code = MIP4_CODE_FA_ADMIN_PROHIBITED, .ident = req.ident,
				 .no_auth = true };
	CHECK(deliver_from(&f, &o, FA_ADDR) == 0);
	d = find(&f.a, MN_ACT_DENIED);
	CHECK(d && d->code == 65 && d->by_fa);
	CHECK(find(&f.a, MN_ACT_SEND) == NULL);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERING);
	CHECK(strstr(logbuf, "denied by the foreign agent 198.18.31.1 code=65") != NULL);
	CHECK(strstr(logbuf, "(not authenticated)") != NULL);

	/* A home agent's code relayed by the agent: MN-HA required. */
	advance(&f, f.a.deadline - f.now);
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	o = (struct reply_opts){ .code = MIP4_CODE_HA_ADMIN_PROHIBITED, .ident = req.ident,
				 .key = wrong_secret };
	CHECK(deliver_from(&f, &o, FA_ADDR) == -EACCES);
	o.key = NULL;
	CHECK(deliver_from(&f, &o, FA_ADDR) == 0);
	d = find(&f.a, MN_ACT_DENIED);
	CHECK(d && d->code == 129 && !d->by_fa);
	/* An agent's code from elsewhere, or for the wrong Identification: dropped. */
	advance(&f, f.a.deadline - f.now);
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	o = (struct reply_opts){ .code = MIP4_CODE_FA_ADMIN_PROHIBITED, .ident = req.ident,
				 .no_auth = true };
	CHECK(deliver_from(&f, &o, "198.18.31.99") == -EPERM);
	o.ident = req.ident + 1;
	CHECK(deliver_from(&f, &o, FA_ADDR) == -ESRCH);
	/* Then accepted, with the shorter lifetime kept. */
	o = (struct reply_opts){ .code = 0, .lifetime = 30, .ident = req.ident };
	CHECK(deliver_from(&f, &o, FA_ADDR) == 0);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERED);
	struct mn_engine_stats st;
	mn_engine_stats(f.mn, &st);
	CHECK_EQ_U64(st.denied, 4);
	CHECK_EQ_U64(st.dropped_auth, 1);
	CHECK_EQ_U64(st.dropped_unmatched, 2);
	log_release();
	teardown(&f);
}

/* With an MN-FA key: MN-FA after MN-HA in the request (§3.6.1.3 e), and on every reply
 * (§3.6.2.1 a), the agent's own denials included. */
static void test_fa_mn_fa_auth(void)
{
	struct fixture f;
	struct mip4_reg_request req;
	struct mip4_key fk, wrong;
	struct mn_fa_location l = fa_loc(FA_ADDR, FA_COA, 300, MIP4_ADV_F | MIP4_ADV_T);
	uint8_t good[256], buf[256];
	size_t n;
	int bad = 0;

	mip4_key_set(&fk, 4000, fa_secret, sizeof(fa_secret));
	mip4_key_set(&wrong, 4000, wrong_secret, sizeof(wrong_secret));
	l.mn_fa = &fk;
	setup(&f);
	CHECK(mn_engine_set_location_fa(f.mn, &l, f.now, &f.a) == 0);
	CHECK(sent_request(&f, &req));
	CHECK(req.mn_fa.present && req.mn_fa.spi == 4000);
	CHECK(req.mn_fa.ext_off > req.mn_ha.auth_off);
	CHECK(mip4_auth_verify_key(f.a.msg, f.a.msg_len, &req.mn_fa, &fk) == 0);
	CHECK(mip4_auth_verify_key(f.a.msg, f.a.msg_len, &req.mn_fa, &wrong) == -EACCES);

	struct reply_opts o = { .code = 0, .lifetime = 300, .ident = req.ident };
	CHECK(deliver_from(&f, &o, FA_ADDR) == -EACCES);          /* no MN-FA */
	o.fa_key = &wrong;
	CHECK(deliver_from(&f, &o, FA_ADDR) == -EACCES);          /* wrong MN-FA */
	o = (struct reply_opts){ .code = MIP4_CODE_FA_ADMIN_PROHIBITED, .ident = req.ident,
				 .no_auth = true };
	CHECK(deliver_from(&f, &o, FA_ADDR) == -EACCES);          /* forged agent denial */
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERING);
	CHECK(find(&f.a, MN_ACT_SEND) != NULL);                   /* f.a untouched */

	/* Every bit flip and truncation of the genuine reply is refused. */
	o = (struct reply_opts){ .code = 0, .lifetime = 300, .ident = req.ident, .fa_key = &fk };
	n = build_reply(&o, good, sizeof(good));
	log_set_level(LOG_LEVEL_ERROR);
	for (size_t bit = 0; bit < n * 8; bit++) {
		memcpy(buf, good, n);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CHECK_LOOP(mn_engine_reply(f.mn, buf, n, ip(FA_ADDR), f.now, &f.a) < 0, bad);
	}
	for (size_t len = 0; len < n; len++)
		CHECK_LOOP(mn_engine_reply(f.mn, good, len, ip(FA_ADDR), f.now, &f.a) < 0, bad);
	log_set_level(LOG_LEVEL_DEBUG);
	CHECK_EQ_U64(bad, 0);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERING);
	CHECK(mn_engine_reply(f.mn, good, n, ip(FA_ADDR), f.now, &f.a) == 0);
	CHECK(mn_engine_state(f.mn) == MN_STATE_REGISTERED);

	/* The authenticated agent denial is taken. */
	mn_engine_reregister(f.mn, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	o = (struct reply_opts){ .code = MIP4_CODE_FA_INSUFFICIENT_RESOURCES, .ident = req.ident,
				 .no_auth = true, .fa_key = &fk };
	CHECK(deliver_from(&f, &o, FA_ADDR) == 0);
	CHECK(find(&f.a, MN_ACT_DENIED) != NULL);
	teardown(&f);
	mip4_key_wipe(&fk);
	mip4_key_wipe(&wrong);
}

/* Moves between co-located, foreign agents and home; stop through the agent. */
static void test_fa_moves(void)
{
	struct fixture f;
	struct mip4_reg_request req;
	struct mn_fa_location l = fa_loc(FA_ADDR, FA_COA, 300, MIP4_ADV_F | MIP4_ADV_T);
	struct mn_fa_location l2 = fa_loc(FA2_ADDR, FA2_COA, 300, MIP4_ADV_F | MIP4_ADV_T);
	const struct mn_action *s, *down;

	setup(&f);
	register_at(&f, COA1, 300);
	CHECK(mn_engine_set_location_fa(f.mn, &l, f.now, &f.a) == 0);
	down = find(&f.a, MN_ACT_BINDING_DOWN);
	CHECK(down && down->down_reason == MN_DOWN_MOVED);
	CHECK(has_state_change(&f.a, MN_STATE_REGISTERED, MN_STATE_REGISTERING));
	s = find(&f.a, MN_ACT_SEND);
	CHECK(s && s->dst.s_addr == ip(FA_ADDR).s_addr && s->src.s_addr == ip(HOA).s_addr);
	CHECK(sent_request(&f, &req));
	struct reply_opts o = { .code = 0, .lifetime = 300, .ident = req.ident };
	CHECK(deliver_from(&f, &o, FA_ADDR) == 0);

	/* Another agent: a new registration there; the first agent's late answers dropped. */
	CHECK(mn_engine_set_location_fa(f.mn, &l2, f.now, &f.a) == 0);
	CHECK(sent_request(&f, &req));
	CHECK_EQ_U64(req.coa.s_addr, ip(FA2_COA).s_addr);
	CHECK_EQ_U64(find(&f.a, MN_ACT_SEND)->dst.s_addr, ip(FA2_ADDR).s_addr);
	o.ident = req.ident;
	CHECK(deliver_from(&f, &o, FA_ADDR) == -EPERM);
	CHECK(deliver_from(&f, &o, FA2_ADDR) == 0);

	/* Back to a co-located address: directly to the home agent again, D set. */
	CHECK(mn_engine_set_location(f.mn, false, ip(COA1), f.now, &f.a) == 0);
	s = find(&f.a, MN_ACT_SEND);
	CHECK(s && s->dst.s_addr == ip(HA).s_addr && s->src.s_addr == ip(COA1).s_addr &&
	      s->ttl == 0);
	CHECK(sent_request(&f, &req));
	CHECK(req.flags & MIP4_REQ_D);
	struct mn_status st;
	mn_engine_status(f.mn, &st);
	CHECK(!st.via_fa && st.fa.s_addr == 0);
	o.ident = req.ident;
	CHECK(deliver_from(&f, &o, HA) == 0);
	CHECK(!find(&f.a, MN_ACT_BINDING_UP)->binding.via_fa);

	/* Through an agent, then home: deregistration directly from the home address. */
	mn_engine_set_location_fa(f.mn, &l, f.now, &f.a);
	CHECK(mn_engine_set_location(f.mn, true, ip("0.0.0.0"), f.now, &f.a) == 0);
	s = find(&f.a, MN_ACT_SEND);
	CHECK(s && s->dst.s_addr == ip(HA).s_addr && s->src.s_addr == ip(HOA).s_addr &&
	      s->ttl == 0);
	CHECK(sent_request(&f, &req));
	CHECK_EQ_U64(req.coa.s_addr, ip(HOA).s_addr);
	CHECK_EQ_U64(req.lifetime, 0);

	/* Through an agent, registered, then stop: the deregistration goes to the agent. */
	mn_engine_set_location_fa(f.mn, &l, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	o.ident = req.ident;
	CHECK(deliver_from(&f, &o, FA_ADDR) == 0);
	CHECK(mn_engine_stop(f.mn, f.now, &f.a) == 0);
	s = find(&f.a, MN_ACT_SEND);
	CHECK(s && s->dst.s_addr == ip(FA_ADDR).s_addr && s->ttl == 255);
	CHECK(sent_request(&f, &req));
	CHECK_EQ_U64(req.lifetime, 0);
	CHECK_EQ_U64(req.coa.s_addr, ip(FA_COA).s_addr);
	CHECK(mn_engine_state(f.mn) == MN_STATE_IDLE);
	teardown(&f);
}

/* §2.4.4: the agent rebooted: register again at once, but never twice within 1 s. */
static void test_fa_rebooted(void)
{
	struct fixture f;
	struct mip4_reg_request req, again;
	struct mn_fa_location l = fa_loc(FA_ADDR, FA_COA, 300, MIP4_ADV_F);

	setup(&f);
	CHECK(mn_engine_fa_rebooted(f.mn, f.now, &f.a) == -EAGAIN);
	register_at(&f, COA1, 300);
	CHECK(mn_engine_fa_rebooted(f.mn, f.now, &f.a) == -EAGAIN);   /* co-located */

	mn_engine_set_location_fa(f.mn, &l, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	advance(&f, MM_SEC(5));
	struct reply_opts o = { .code = 0, .lifetime = 300, .ident = req.ident };
	CHECK(deliver_from(&f, &o, FA_ADDR) == 0);
	advance(&f, MM_SEC(10));
	CHECK(mn_engine_fa_rebooted(f.mn, f.now, &f.a) == 0);
	CHECK(has_state_change(&f.a, MN_STATE_REGISTERED, MN_STATE_RENEWING));
	CHECK(find(&f.a, MN_ACT_BINDING_DOWN) == NULL);
	CHECK(sent_request(&f, &again));
	CHECK(mip4_ident_after(again.ident, req.ident));
	CHECK_EQ_U64(find(&f.a, MN_ACT_SEND)->dst.s_addr, ip(FA_ADDR).s_addr);
	mm_time_ns sent = f.now;

	/* Another "reboot" 300 ms later: no request now, one at +1 s from the last. */
	advance(&f, MM_MSEC(300));
	CHECK(mn_engine_fa_rebooted(f.mn, f.now, &f.a) == 0);
	CHECK(find(&f.a, MN_ACT_SEND) == NULL);
	CHECK_EQ_U64(f.a.deadline, sent + MM_SEC(1));
	advance(&f, f.a.deadline - f.now);
	mn_engine_timer(f.mn, f.now, &f.a);
	CHECK(sent_request(&f, &req));
	CHECK(mip4_ident_after(req.ident, again.ident));
	CHECK_EQ_U64(f.a.deadline, f.now + MM_SEC(1));
	o.ident = req.ident;
	CHECK(deliver_from(&f, &o, FA_ADDR) == 0);
	CHECK(has_state_change(&f.a, MN_STATE_RENEWING, MN_STATE_REGISTERED));
	teardown(&f);
}

static void test_fa_bad_locations(void)
{
	struct fixture f;
	struct mip4_key bad;
	struct mn_fa_location l = fa_loc(FA_ADDR, FA_COA, 300, MIP4_ADV_F);
	struct mn_actions keep;

	setup(&f);
	memset(&f.a, 0x3c, sizeof(f.a));
	keep = f.a;
	l.reg_lifetime = 0;
	CHECK(mn_engine_set_location_fa(f.mn, &l, f.now, &f.a) == -EINVAL);
	l = fa_loc("0.0.0.0", FA_COA, 300, MIP4_ADV_F);
	CHECK(mn_engine_set_location_fa(f.mn, &l, f.now, &f.a) == -EINVAL);
	l = fa_loc(FA_ADDR, "0.0.0.0", 300, MIP4_ADV_F);
	CHECK(mn_engine_set_location_fa(f.mn, &l, f.now, &f.a) == -EINVAL);
	l = fa_loc(FA_ADDR, HOA, 300, MIP4_ADV_F);
	CHECK(mn_engine_set_location_fa(f.mn, &l, f.now, &f.a) == -EINVAL);
	l = fa_loc(FA_ADDR, FA_COA, 300, MIP4_ADV_F);
	memset(&bad, 0, sizeof(bad));
	bad.spi = 255;             /* reserved (RFC 5944 §1.6) */
	bad.len = 16;
	l.mn_fa = &bad;
	CHECK(mn_engine_set_location_fa(f.mn, &l, f.now, &f.a) == -EINVAL);
	CHECK(mn_engine_set_location_fa(f.mn, NULL, f.now, &f.a) == -EINVAL);
	CHECK_MEM(&keep, &f.a, sizeof(keep));
	CHECK(mn_engine_state(f.mn) == MN_STATE_IDLE);
	teardown(&f);
}

int main(void)
{
	log_set_level(LOG_LEVEL_DEBUG);
	test_names();
	test_config_checks();
	test_first_registration();
	test_backoff();
	test_backoff_capped_by_lifetime();
	test_old_reply_ignored();
	test_forged_replies();
	test_renewal();
	test_resync_133();
	test_denial();
	test_move_while_pending();
	test_deregistration();
	test_start_at_home();
	test_udp_tunnel();
	test_detach_and_stop();
	test_odd_lifetimes();
	test_reply_mutations();
	test_tnc();
	test_fa_registration();
	test_fa_denials();
	test_fa_mn_fa_auth();
	test_fa_moves();
	test_fa_rebooted();
	test_fa_bad_locations();
	return tap_done();
}
