/* Unit tests for mip4/fa_engine.c: the foreign agent's relay and visitor list (RFC 5944
 * §3.7, RFC 3024 §4.2), driven by a fake monotonic clock, with mobile nodes and home agents
 * played by the codec (mip4/reg.c).
 *
 * Known-answer vectors (the relayed bytes with the Foreign-Home and Mobile-Foreign
 * authenticators the engine appends) were computed independently here with the OpenSSL
 * command line over the hex messages below, e.g.
 *	echo -n "$R0""221400000200" | xxd -r -p | openssl dgst -md5 -hmac fa-ha-secret-16b
 * (RFC 5944 §3.5.1: the authenticator covers the message up to and including the SPI). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/sock.h"
#include "mip4/fa_engine.h"
#include "mip4/reg.h"
#include "tests/unit/hexvec.h"
#include "tests/unit/tap.h"

#define T0 MM_SEC(1000)

#define HA    "198.18.1.1"     /* shares FA-HA key "fa-ha-secret-16b", SPI 512 */
#define HA2   "198.18.2.1"     /* shares no key with us */
#define HOA   "198.18.1.100"   /* shares MN-FA key "mn-fa-secret-16b", SPI 768 */
#define HOA2  "198.18.2.100"
#define COA   "198.18.5.1"
#define LINK  "198.18.5.2"
#define OTHER "198.18.9.9"
#define SPI_MN_HA 256
#define SPI_FA_HA 512
#define SPI_MN_FA 768
#define MN_PORT 4321
#define IFINDEX 3

/* RFC 5944 §3.3 request: T set, lifetime 300, HoA 198.18.1.100, HA 198.18.1.1, CoA
 * 198.18.5.1, Identification 0xe900000000000001, MN-HA (SPI 256) with an authenticator the
 * FA never checks. */
#define R0 "0102012c c6120164 c6120101 c6120501 e900000000000001" \
	   "2014 00000100 00112233445566778899aabbccddeeff"
/* R0 + Encapsulating Delivery Style + Mobile-Foreign Authentication (SPI 768). */
#define R1 R0 "8200 2114 00000300 ef5f6d2c3460227f3e1c41255dc59cb7"
/* What the FA relays for both: R0 + Foreign-Home Authentication (SPI 512). */
#define R0_RELAYED R0 "2214 00000200 86fbd239c525b77c1e8dc3ff2a55b113"
/* §3.4 reply to it: code 0, lifetime 300, MN-HA, then the HA's FA-HA. */
#define P0 "0300012c c6120164 c6120101 e900000000000001" \
	   "2014 00000100 ffeeddccbbaa99887766554433221100"
#define P0_FROM_HA P0 "2214 00000200 8f9cb415af85d0446637e64b9b288522"
/* What the FA relays to the mobile node: P0 + Mobile-Foreign Authentication. */
#define P0_RELAYED P0 "2114 00000300 607bb2160f6695167457f0a653867784"

static const uint8_t MN_LL[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t MN_LL2[6] = { 0x02, 0, 0, 0, 0, 0x02 };

static struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };

	if (addr4_parse(s, &a) < 0)
		abort();
	return a;
}

static struct mip4_key mkkey(uint32_t spi, const char *secret)
{
	struct mip4_key k;

	if (mip4_key_set(&k, spi, secret, strlen(secret)) < 0)
		abort();
	return k;
}

static int mn_lookup(void *ctx, struct in_addr hoa, uint32_t spi, struct mip4_key *out)
{
	(void)ctx;
	if (hoa.s_addr != ip(HOA).s_addr || spi != SPI_MN_FA)
		return -ENOENT;
	*out = mkkey(SPI_MN_FA, "mn-fa-secret-16b");
	return 0;
}

static int ha_lookup(void *ctx, struct in_addr ha, struct mip4_key *out)
{
	(void)ctx;
	if (ha.s_addr != ip(HA).s_addr)
		return -ENOENT;
	*out = mkkey(SPI_FA_HA, "fa-ha-secret-16b");
	return 0;
}

struct fx {
	struct fake_clock clk;
	struct fa_engine_config cfg;
	struct fa_engine *fa;
	struct fa_actions a;
	uint64_t ident;
};

static struct fx F;

static void fx_cfg(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	fake_clock_init(&f->clk, T0);
	f->cfg.coa = ip(COA);
	f->cfg.link_addr = ip(LINK);
	f->cfg.link_net = ip("198.18.5.0");
	f->cfg.link_plen = 24;
	f->cfg.max_lifetime = 600;
	f->cfg.reverse = FA_RT_OFFER;
	f->cfg.encapsulating_delivery = true;
	f->cfg.mn_key = mn_lookup;
	f->cfg.ha_key = ha_lookup;
	f->cfg.clock = &f->clk.base;
	f->ident = UINT64_C(0xea00000000000000);
}

static void fx_start(struct fx *f)
{
	if (fa_engine_new(&f->cfg, &f->fa) < 0)
		abort();
}

static void fx_init(struct fx *f)
{
	fx_cfg(f);
	fx_start(f);
}

static void fx_done(struct fx *f)
{
	fa_engine_free(f->fa);
	f->fa = NULL;
}

static struct fa_req_meta rmeta(const char *hoa, const uint8_t ll[6])
{
	struct fa_req_meta m;

	memset(&m, 0, sizeof(m));
	m.src.sin_family = AF_INET;
	m.src.sin_addr = ip(hoa);
	m.src.sin_port = htons(MN_PORT);
	m.dst = ip(COA);
	memcpy(m.lladdr, ll, 6);
	m.ifindex = IFINDEX;
	m.ttl = 255;
	return m;
}

static struct fa_rep_meta pmeta(const char *from)
{
	struct fa_rep_meta m;

	memset(&m, 0, sizeof(m));
	m.src.sin_family = AF_INET;
	m.src.sin_addr = ip(from);
	m.src.sin_port = htons(MIP4_PORT);
	m.dst = ip(COA);
	return m;
}

struct rspec {
	const char *hoa, *ha, *coa;
	uint16_t life;
	uint8_t flags;
	uint64_t ident;
	bool eds, mn_fa;
};

/* A request as a mobile node encodes it (MN-HA with a key only the HA would check). */
static size_t mkreq(const struct rspec *s, uint8_t *buf, size_t cap)
{
	struct mip4_reg_request r;
	struct mip4_key mh = mkkey(SPI_MN_HA, "mn-ha-secret-16b");
	struct mip4_key mf = mkkey(SPI_MN_FA, "mn-fa-secret-16b");
	struct writer w;
	int n;

	memset(&r, 0, sizeof(r));
	r.flags = s->flags & (uint8_t)~MIP4_REQ_RESERVED;
	r.lifetime = s->life;
	r.home_addr = ip(s->hoa ? s->hoa : HOA);
	r.home_agent = ip(s->ha ? s->ha : HA);
	r.coa = ip(s->coa ? s->coa : COA);
	r.ident = s->ident;
	r.eds = s->eds;
	writer_init(&w, buf, cap);
	n = mip4_request_encode(&w, &r, &mh, s->mn_fa ? &mf : NULL);
	mip4_key_wipe(&mh);
	mip4_key_wipe(&mf);
	if (n < 0)
		abort();
	buf[1] = s->flags;   /* reserved bits too, when a test wants them */
	return (size_t)n;
}

/* A home agent's reply; with_faha appends Foreign-Home Authentication with our key. */
static size_t mkrep(const char *hoa, const char *ha, uint8_t code, uint16_t life,
		    uint64_t ident, bool with_faha, uint8_t *buf, size_t cap)
{
	struct mip4_reg_reply r;
	struct mip4_key mh = mkkey(SPI_MN_HA, "mn-ha-secret-16b");
	struct mip4_key fh = mkkey(SPI_FA_HA, "fa-ha-secret-16b");
	struct writer w;
	int n;

	memset(&r, 0, sizeof(r));
	r.code = code;
	r.lifetime = life;
	r.home_addr = ip(hoa);
	r.home_agent = ip(ha);
	r.ident = ident;
	writer_init(&w, buf, cap);
	n = mip4_reply_encode(&w, &r, &mh, NULL);
	if (n < 0 || (with_faha && mip4_auth_append(&w, 0, MIP4_EXT_FA_HA_AUTH, &fh) < 0))
		abort();
	mip4_key_wipe(&mh);
	mip4_key_wipe(&fh);
	return writer_len(&w);
}

static int request(struct fx *f, const struct rspec *s, const struct fa_req_meta *m)
{
	uint8_t buf[512];
	size_t n = mkreq(s, buf, sizeof(buf));

	return fa_engine_request(f->fa, buf, n, m, &f->a);
}

static int reply(struct fx *f, const char *hoa, const char *ha, uint8_t code, uint16_t life,
		 uint64_t ident, const char *from)
{
	uint8_t buf[512];
	size_t n = mkrep(hoa, ha, code, life, ident, ip(ha).s_addr == ip(HA).s_addr, buf,
			 sizeof(buf));
	struct fa_rep_meta m = pmeta(from);

	return fa_engine_reply(f->fa, buf, n, &m, &f->a);
}

/* Register hoa through ha (request + accepting reply); returns the Identification. */
static uint64_t register_mn(struct fx *f, const char *hoa, const char *ha, uint16_t life,
			    const uint8_t ll[6])
{
	struct rspec s = { .hoa = hoa, .ha = ha, .life = life, .flags = MIP4_REQ_T,
			   .ident = ++f->ident };
	struct fa_req_meta m = rmeta(hoa, ll);

	if (request(f, &s, &m) != 0 || f->a.nsends != 1 || f->a.sends[0].to_mn)
		return 0;
	if (reply(f, hoa, ha, MIP4_CODE_ACCEPTED, life, s.ident, ha) != 0)
		return 0;
	return s.ident;
}

/* The one message in f->a is our reply to the mobile node with code; parse it. */
static bool denial_is(const struct fx *f, uint8_t code, struct mip4_reg_reply *rep)
{
	const struct fa_send *s = &f->a.sends[0];

	return f->a.nsends == 1 && f->a.code == code && s->to_mn && !s->relayed &&
	       s->code == code && mip4_reply_parse(s->msg, s->len, rep) == 0 &&
	       rep->code == code;
}

/* --- tests ---------------------------------------------------------------------------- */

static void test_config(void)
{
	struct fa_engine *fa = NULL;
	struct fa_engine_config c;

	fx_cfg(&F);
	c = F.cfg;
	c.clock = NULL;
	CHECK_EQ_U64(fa_engine_new(&c, &fa), (uint64_t)-EINVAL);
	c = F.cfg;
	c.coa.s_addr = 0;
	CHECK_EQ_U64(fa_engine_new(&c, &fa), (uint64_t)-EINVAL);
	c = F.cfg;
	c.link_plen = 33;
	CHECK_EQ_U64(fa_engine_new(&c, &fa), (uint64_t)-EINVAL);
	c = F.cfg;
	c.reverse = (enum fa_reverse_tunnel)3;
	CHECK_EQ_U64(fa_engine_new(&c, &fa), (uint64_t)-EINVAL);
	c = F.cfg;
	c.max_visitors = 4;
	c.max_pending = 5;
	CHECK_EQ_U64(fa_engine_new(&c, &fa), (uint64_t)-EINVAL);
	c = F.cfg;
	c.max_visitors = FA_MAX_VISITORS_LIMIT + 1;
	CHECK_EQ_U64(fa_engine_new(&c, &fa), (uint64_t)-EINVAL);
	CHECK(fa == NULL);
	c = F.cfg;
	c.max_lifetime = 0;
	c.link_addr.s_addr = 0;
	c.max_visitors = 4;
	CHECK_EQ_U64(fa_engine_new(&c, &fa), 0);
	CHECK_EQ_U64(fa_engine_config(fa)->max_lifetime, FA_MAX_LIFETIME_DEFAULT);
	CHECK_EQ_U64(fa_engine_config(fa)->pending_timeout, FA_PENDING_TIMEOUT_DEFAULT);
	CHECK_EQ_U64(fa_engine_config(fa)->link_addr.s_addr, ip(COA).s_addr);
	CHECK_EQ_U64(fa_engine_config(fa)->max_pending, 4);
	CHECK_EQ_U64(fa_engine_next_deadline(fa), UINT64_MAX);
	fa_engine_free(fa);
}

/* §3.7.2.2: unchanged through MN-HA, FA-HA appended (known answer). */
static void test_relay_kat(void)
{
	uint8_t in[256], want[256];
	size_t n, wn;
	struct fa_req_meta m;
	const struct fa_send *s;
	struct mip4_reg_request parsed;

	fx_init(&F);
	m = rmeta(HOA, MN_LL);
	n = hexvec(R0, in, sizeof(in));
	wn = hexvec(R0_RELAYED, want, sizeof(want));
	CHECK_EQ_U64(fa_engine_request(F.fa, in, n, &m, &F.a), 0);
	s = &F.a.sends[0];
	CHECK_EQ_U64(F.a.nsends, 1);
	CHECK_EQ_U64((uint64_t)(int64_t)F.a.code, (uint64_t)(int64_t)-1);
	CHECK(!s->to_mn && s->relayed);
	CHECK_EQ_U64(s->len, wn);
	CHECK_MEM(s->msg, want, wn);
	CHECK_EQ_U64(s->dst.sin_addr.s_addr, ip(HA).s_addr);
	CHECK_EQ_U64(ntohs(s->dst.sin_port), MIP4_PORT);
	CHECK_EQ_U64(s->src.s_addr, ip(COA).s_addr);
	/* The home agent's parser takes it: FA-HA after MN-HA. */
	CHECK_EQ_U64(mip4_request_parse(s->msg, s->len, &parsed), 0);
	CHECK(parsed.fa_ha.present && parsed.fa_ha.spi == SPI_FA_HA);
	CHECK_EQ_U64(fa_engine_pending_count(F.fa), 1);
	CHECK_EQ_U64(fa_engine_visitor_count(F.fa), 0);
	CHECK(fa_engine_visitor(F.fa, ip(HOA)) == NULL);
	CHECK_EQ_U64(fa_engine_stats(F.fa)->relayed_requests, 1);
	/* The pending request times out after 7 s (§3.7.1). */
	CHECK_EQ_U64(fa_engine_next_deadline(F.fa), T0 + MM_SEC(7));
	fx_done(&F);
}

/* MN-FA verified and removed with the EDS (RFC 3024 §3.3); the reply relayed with MN-FA
 * appended and FA-HA removed (§3.7.3.2); the visitor made (known answers). */
static void test_full_kat(void)
{
	uint8_t in[256], want[256], rin[256], rwant[256];
	size_t n, wn, rn, rwn;
	struct fa_req_meta m;
	struct fa_rep_meta pm;
	const struct fa_send *s;
	const struct fa_visitor *v;

	fx_init(&F);
	m = rmeta(HOA, MN_LL);
	n = hexvec(R1, in, sizeof(in));
	wn = hexvec(R0_RELAYED, want, sizeof(want));
	CHECK_EQ_U64(fa_engine_request(F.fa, in, n, &m, &F.a), 0);
	s = &F.a.sends[0];
	CHECK(F.a.nsends == 1 && s->len == wn);
	CHECK_MEM(s->msg, want, wn);

	fake_clock_advance(&F.clk, MM_SEC(1));
	pm = pmeta(HA);
	rn = hexvec(P0_FROM_HA, rin, sizeof(rin));
	rwn = hexvec(P0_RELAYED, rwant, sizeof(rwant));
	CHECK_EQ_U64(fa_engine_reply(F.fa, rin, rn, &pm, &F.a), 0);
	s = &F.a.sends[0];
	CHECK_EQ_U64(F.a.nsends, 1);
	CHECK(s->to_mn && s->relayed && s->code == 0);
	CHECK_EQ_U64(s->len, rwn);
	CHECK_MEM(s->msg, rwant, rwn);
	CHECK_EQ_U64(s->dst.sin_addr.s_addr, ip(HOA).s_addr);
	CHECK_EQ_U64(ntohs(s->dst.sin_port), MN_PORT);
	CHECK_EQ_U64(s->src.s_addr, ip(COA).s_addr);
	CHECK_MEM(s->lladdr, MN_LL, 6);
	CHECK_EQ_U64(s->ifindex, IFINDEX);
	CHECK_EQ_U64(F.a.nevents, 1);
	CHECK_EQ_U64(F.a.events[0].kind, FA_EV_VISITOR_ADDED);
	v = fa_engine_visitor(F.fa, ip(HOA));
	CHECK(v != NULL);
	if (v) {
		CHECK_EQ_U64(v->home_agent.s_addr, ip(HA).s_addr);
		CHECK_EQ_U64(v->lifetime, 300);
		CHECK(v->reverse_tunnel);
		CHECK(v->encapsulating_delivery);
		CHECK_MEM(v->lladdr, MN_LL, 6);
		CHECK_EQ_U64(v->src_port, MN_PORT);
		CHECK_EQ_U64(v->ident, UINT64_C(0xe900000000000001));
		/* §3.7.3.2: the lifetime runs from when the reply is relayed. */
		CHECK_EQ_U64(v->expires_at, T0 + MM_SEC(1) + MM_SEC(300));
		CHECK_EQ_U64(fa_engine_remaining(F.fa, v), 300);
	}
	CHECK_EQ_U64(fa_engine_pending_count(F.fa), 0);
	CHECK_EQ_U64(fa_engine_stats(F.fa)->relayed_replies, 1);
	/* The same reply again: nothing pending any more (a replay). */
	CHECK_EQ_U64(fa_engine_reply(F.fa, rin, rn, &pm, &F.a), (uint64_t)-ENOENT);
	CHECK_EQ_U64(fa_engine_stats(F.fa)->dropped_unmatched, 1);
	fx_done(&F);
}

/* §3.7.2.1: MN-FA required / wrong / unknown SPI -> 67. */
static void test_mn_fa(void)
{
	uint8_t in[256];
	size_t n;
	struct fa_req_meta m;
	struct mip4_reg_reply rep;
	struct mip4_key k = mkkey(SPI_MN_FA, "mn-fa-secret-16b");

	fx_init(&F);
	m = rmeta(HOA, MN_LL);
	n = hexvec(R1, in, sizeof(in));
	in[n - 1] ^= 0x01;  /* the Mobile-Foreign Authenticator's last bit */
	CHECK_EQ_U64(fa_engine_request(F.fa, in, n, &m, &F.a), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_MN_AUTH_FAILED, &rep));
	/* Our denial is authenticated with the association the request named. */
	CHECK(rep.mn_fa.present &&
	      mip4_auth_verify_key(F.a.sends[0].msg, F.a.sends[0].len, &rep.mn_fa, &k) == 0);
	CHECK_EQ_U64(rep.ident, UINT64_C(0xe900000000000001));
	CHECK_EQ_U64(fa_engine_pending_count(F.fa), 0);
	CHECK_EQ_U64(fa_engine_stats(F.fa)->mn_auth_failures, 1);

	/* An SPI we share nothing under -> 67, unauthenticated. */
	fake_clock_advance(&F.clk, MM_SEC(2));
	n = hexvec(R1, in, sizeof(in));
	in[n - 17] = 0x01;  /* SPI 0x301 */
	CHECK_EQ_U64(fa_engine_request(F.fa, in, n, &m, &F.a), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_MN_AUTH_FAILED, &rep));
	CHECK(!rep.mn_fa.present);
	fx_done(&F);

	/* Required but absent -> 67; present and right -> relayed. */
	fx_cfg(&F);
	F.cfg.require_mn_fa = true;
	fx_start(&F);
	m = rmeta(HOA, MN_LL);
	n = hexvec(R0, in, sizeof(in));
	CHECK_EQ_U64(fa_engine_request(F.fa, in, n, &m, &F.a), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_MN_AUTH_FAILED, &rep));
	n = hexvec(R1, in, sizeof(in));
	CHECK_EQ_U64(fa_engine_request(F.fa, in, n, &m, &F.a), 0);
	CHECK(F.a.nsends == 1 && !F.a.sends[0].to_mn && F.a.code == -1);
	fx_done(&F);
	mip4_key_wipe(&k);
}

struct deny_row {
	const char *what;
	struct rspec s;
	uint8_t ttl;                /* 0: 255 */
	enum fa_reverse_tunnel rt;  /* configuration */
	bool no_eds;                /* configuration: encapsulating delivery unsupported */
	uint8_t code;
	uint16_t reply_life;
};

/* §3.7.2.1, §3.7.2.3, RFC 3024 §3.4, §4.2.1: every denial code the checks give, with the
 * reply's fields copied from the request (§3.7.2.3). */
static void test_denials(void)
{
	static const struct deny_row rows[] = {
		{ "reserved bit r", { .life = 300, .flags = MIP4_REQ_r }, 0, FA_RT_OFFER,
		  false, MIP4_CODE_FA_POORLY_FORMED_REQUEST, 300 },
		{ "reserved bit x", { .life = 300, .flags = MIP4_REQ_x }, 0, FA_RT_OFFER,
		  false, MIP4_CODE_FA_POORLY_FORMED_REQUEST, 300 },
		{ "home address 0", { .hoa = "0.0.0.0", .life = 300 }, 0, FA_RT_OFFER,
		  false, MIP4_CODE_FA_NONZERO_HOMEADDR_REQD, 300 },
		{ "home agent is us", { .ha = COA, .life = 300 }, 0, FA_RT_OFFER, false,
		  MIP4_CODE_FA_INVALID_HA_ADDRESS, 300 },
		{ "home agent is our link address", { .ha = LINK, .life = 300 }, 0,
		  FA_RT_OFFER, false, MIP4_CODE_FA_INVALID_HA_ADDRESS, 300 },
		{ "D bit", { .life = 300, .flags = MIP4_REQ_D }, 0, FA_RT_OFFER, false,
		  MIP4_CODE_FA_ADMIN_PROHIBITED, 300 },
		{ "care-of not ours", { .coa = OTHER, .life = 300 }, 0, FA_RT_OFFER, false,
		  MIP4_CODE_FA_INVALID_COA, 300 },
		{ "lifetime 601", { .life = 601 }, 0, FA_RT_OFFER, false,
		  MIP4_CODE_FA_LIFETIME_TOO_LONG, 600 },
		{ "lifetime infinite", { .life = 0xffff }, 0, FA_RT_OFFER, false,
		  MIP4_CODE_FA_LIFETIME_TOO_LONG, 600 },
		{ "minimal encapsulation", { .life = 300, .flags = MIP4_REQ_M }, 0,
		  FA_RT_OFFER, false, MIP4_CODE_FA_ENCAP_UNAVAILABLE, 300 },
		{ "GRE", { .life = 300, .flags = MIP4_REQ_G }, 0, FA_RT_OFFER, false,
		  MIP4_CODE_FA_ENCAP_UNAVAILABLE, 300 },
		{ "T, reverse tunnelling off", { .life = 300, .flags = MIP4_REQ_T }, 0,
		  FA_RT_OFF, false, MIP4_CODE_FA_REVERSE_TUNNEL_UNAVAILABLE, 300 },
		{ "no T, reverse tunnelling mandatory", { .life = 300 }, 0, FA_RT_REQUIRE,
		  false, MIP4_CODE_FA_REVERSE_TUNNEL_MANDATORY, 300 },
		{ "T with TTL 64", { .life = 300, .flags = MIP4_REQ_T }, 64, FA_RT_OFFER,
		  false, MIP4_CODE_FA_MN_TOO_DISTANT, 300 },
		{ "EDS unsupported", { .life = 300, .flags = MIP4_REQ_T, .eds = true }, 0,
		  FA_RT_OFFER, true, MIP4_CODE_FA_DELIVERY_STYLE_UNSUPPORTED, 300 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct deny_row *r = &rows[i];
		struct rspec s = r->s;
		struct fa_req_meta m;
		struct mip4_reg_reply rep;
		const char *hoa = s.hoa ? s.hoa : HOA;
		bool ok;

		fx_cfg(&F);
		F.cfg.reverse = r->rt;
		F.cfg.encapsulating_delivery = !r->no_eds;
		fx_start(&F);
		s.ident = UINT64_C(0xe9000000000000a0) + i;
		m = rmeta(hoa, MN_LL);
		if (r->ttl)
			m.ttl = r->ttl;
		ok = request(&F, &s, &m) == 0 && denial_is(&F, r->code, &rep);
		ok = ok && rep.home_addr.s_addr == ip(hoa).s_addr &&
		     rep.home_agent.s_addr == ip(s.ha ? s.ha : HA).s_addr &&
		     rep.ident == s.ident && rep.lifetime == r->reply_life &&
		     !rep.mn_ha.present;
		/* §3.7.2.3: to the home address (255.255.255.255 for 0.0.0.0), the request's
		 * source port, from the address it was sent to, on its link. */
		ok = ok && F.a.sends[0].dst.sin_addr.s_addr ==
			   (s.hoa && !strcmp(s.hoa, "0.0.0.0") ? INADDR_BROADCAST
							       : ip(hoa).s_addr) &&
		     ntohs(F.a.sends[0].dst.sin_port) == MN_PORT &&
		     F.a.sends[0].src.s_addr == ip(COA).s_addr &&
		     !memcmp(F.a.sends[0].lladdr, MN_LL, 6) && F.a.sends[0].ifindex == IFINDEX;
		ok = ok && fa_engine_pending_count(F.fa) == 0 &&
		     fa_engine_stats(F.fa)->denied_by_code[r->code] == 1;
		if (!ok)
			printf("# row: %s\n", r->what);
		CHECK(ok);
		fx_done(&F);
	}
}

/* Requests that are not good enough for a reply, or badly formed ones that still name
 * their mobile node (§1.8, §3.7.2.1). */
static void test_malformed_requests(void)
{
	uint8_t in[512];
	size_t n;
	struct fa_req_meta m;
	struct mip4_reg_reply rep;
	struct rspec s = { .life = 300, .ident = 77 };
	struct mip4_key fh = mkkey(SPI_FA_HA, "fa-ha-secret-16b");
	struct writer w;

	fx_init(&F);
	m = rmeta(HOA, MN_LL);
	/* Shorter than the fixed part: discarded, *out untouched. */
	n = hexvec(R0, in, sizeof(in));
	memset(&F.a, 0x5a, sizeof(F.a));
	CHECK_EQ_U64(fa_engine_request(F.fa, in, 23, &m, &F.a), (uint64_t)-EBADMSG);
	CHECK(F.a.nsends == 0x5a5a5a5au);
	/* A reply handed in as a request. */
	n = hexvec(P0, in, sizeof(in));
	CHECK_EQ_U64(fa_engine_request(F.fa, in, n, &m, &F.a), (uint64_t)-EBADMSG);
	/* Fixed part only: no MN-HA -> 70 naming the node. */
	n = hexvec(R0, in, sizeof(in));
	CHECK_EQ_U64(fa_engine_request(F.fa, in, 24, &m, &F.a), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_POORLY_FORMED_REQUEST, &rep) &&
	      rep.home_addr.s_addr == ip(HOA).s_addr);
	/* An extension cut short -> 70. */
	fake_clock_advance(&F.clk, MM_SEC(2));
	CHECK_EQ_U64(fa_engine_request(F.fa, in, n - 3, &m, &F.a), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_POORLY_FORMED_REQUEST, &rep));
	/* An unknown non-skippable extension (type 100) -> silently discarded. */
	n = hexvec(R0 "6400", in, sizeof(in));
	memset(&F.a, 0x5a, sizeof(F.a));
	CHECK_EQ_U64(fa_engine_request(F.fa, in, n, &m, &F.a), (uint64_t)-EOPNOTSUPP);
	CHECK(F.a.nsends == 0x5a5a5a5au);
	/* A Foreign-Home Authentication extension from a mobile node -> 70. */
	fake_clock_advance(&F.clk, MM_SEC(2));
	n = mkreq(&s, in, sizeof(in));
	writer_init_filled(&w, in, sizeof(in), n);
	CHECK_EQ_U64(mip4_auth_append(&w, 0, MIP4_EXT_FA_HA_AUTH, &fh), 0);
	CHECK_EQ_U64(fa_engine_request(F.fa, in, writer_len(&w), &m, &F.a), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_POORLY_FORMED_REQUEST, &rep));
	/* Skippable extensions we do not know, after MN-HA, are removed (§3.7.2.2). */
	n = hexvec(R0 "c8021234", in, sizeof(in));
	CHECK_EQ_U64(fa_engine_request(F.fa, in, n, &m, &F.a), 0);
	CHECK(F.a.nsends == 1 && !F.a.sends[0].to_mn && F.a.sends[0].len == 46 + 22);
	CHECK_EQ_U64(fa_engine_pending_count(F.fa), 1);
	mip4_key_wipe(&fh);
	fx_done(&F);
}

/* Requests that pass: deregistration with a foreign care-of address, TTL unknown, the All
 * Mobility Agents address. */
static void test_accepts(void)
{
	struct rspec s = { .coa = OTHER, .life = 0, .ident = 5 };
	struct fa_req_meta m;
	struct mip4_reg_reply rep;

	fx_init(&F);
	m = rmeta(HOA, MN_LL);
	/* §3.7.2.1 asks for our care-of address only with a nonzero lifetime. No FA-HA on a
	 * deregistration (§3.7.2.2: "Lifetime != 0"). */
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK(F.a.nsends == 1 && !F.a.sends[0].to_mn && F.a.sends[0].len == 46);
	/* The pending deregistration waits 7 s, not its lifetime of 0. */
	CHECK_EQ_U64(fa_engine_next_deadline(F.fa), T0 + MM_SEC(7));
	fx_done(&F);

	fx_init(&F);
	m = rmeta(HOA2, MN_LL);
	m.ttl = 0;
	m.dst = ip("224.0.0.11");
	s = (struct rspec){ .hoa = HOA2, .ha = HA2, .life = 300, .flags = MIP4_REQ_T, .ident = 6 };
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK(F.a.nsends == 1 && !F.a.sends[0].to_mn && F.a.sends[0].len == 46);
	CHECK_EQ_U64(F.a.sends[0].dst.sin_addr.s_addr, ip(HA2).s_addr);
	/* The reply then comes from our link address, not the group (§3.7.2.3). */
	CHECK_EQ_U64(reply(&F, HOA2, HA2, 0, 300, 6, HA2), 0);
	CHECK_EQ_U64(F.a.sends[0].src.s_addr, ip(LINK).s_addr);
	/* A denial to a request sent to the group too. */
	m.ttl = 9;
	s.ident = 7;
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_MN_TOO_DISTANT, &rep));
	CHECK_EQ_U64(F.a.sends[0].src.s_addr, ip(LINK).s_addr);
	fx_done(&F);
}

/* §3.7.2: at most one denial per second to the same mobile node. */
static void test_denial_rate(void)
{
	struct rspec s = { .coa = OTHER, .life = 300, .ident = 1 };
	struct rspec s2 = { .hoa = HOA2, .coa = OTHER, .life = 300, .ident = 1 };
	struct fa_req_meta m, m2;

	fx_init(&F);
	m = rmeta(HOA, MN_LL);
	m2 = rmeta(HOA2, MN_LL2);
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK(F.a.nsends == 1 && F.a.code == MIP4_CODE_FA_INVALID_COA);
	fake_clock_advance(&F.clk, MM_MSEC(500));
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK(F.a.nsends == 0 && F.a.code == MIP4_CODE_FA_INVALID_COA);
	CHECK_EQ_U64(fa_engine_stats(F.fa)->denials_suppressed, 1);
	CHECK_EQ_U64(request(&F, &s2, &m2), 0);
	CHECK(F.a.nsends == 1);
	fake_clock_advance(&F.clk, MM_MSEC(500));
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK(F.a.nsends == 1);
	CHECK_EQ_U64(fa_engine_stats(F.fa)->denied, 4);
	fx_done(&F);
}

/* §3.7.1: limits on pending requests and visitors -> 66. */
static void test_resources(void)
{
	struct rspec s1 = { .hoa = HOA, .ha = HA2, .life = 300, .ident = 1 };
	struct rspec s2 = { .hoa = HOA2, .ha = HA2, .life = 300, .ident = 2 };
	struct rspec s3 = { .hoa = "198.18.3.100", .ha = HA2, .life = 300, .ident = 3 };
	struct fa_req_meta m;
	struct mip4_reg_reply rep;
	uint8_t big[2048];
	size_t n;

	fx_cfg(&F);
	F.cfg.max_visitors = 2;
	F.cfg.max_pending = 1;
	fx_start(&F);
	m = rmeta(HOA, MN_LL);
	CHECK_EQ_U64(request(&F, &s1, &m), 0);
	CHECK(!F.a.sends[0].to_mn);
	CHECK_EQ_U64(request(&F, &s2, &m), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_INSUFFICIENT_RESOURCES, &rep));
	/* A retransmission for the node already pending replaces it: no extra room. */
	s1.ident = 11;
	CHECK_EQ_U64(request(&F, &s1, &m), 0);
	CHECK(!F.a.sends[0].to_mn);
	CHECK_EQ_U64(fa_engine_pending_count(F.fa), 1);
	CHECK_EQ_U64(reply(&F, HOA, HA2, 0, 300, 11, HA2), 0);
	CHECK_EQ_U64(request(&F, &s2, &m), 0);
	CHECK(!F.a.sends[0].to_mn);
	CHECK_EQ_U64(reply(&F, HOA2, HA2, 0, 300, 2, HA2), 0);
	CHECK_EQ_U64(fa_engine_visitor_count(F.fa), 2);
	CHECK_EQ_U64(request(&F, &s3, &m), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_INSUFFICIENT_RESOURCES, &rep));
	fx_done(&F);

	/* A request that would relay to more than FA_MSG_MAX bytes: unknown skippable
	 * extensions before MN-HA, which the FA must not remove. */
	fx_init(&F);
	m = rmeta(HOA, MN_LL);
	n = hexvec("0102012c c6120164 c6120101 c6120501 e900000000000001", big, sizeof(big));
	/* Up to 1504 bytes, so that MN-HA makes 1526 (fits) and FA-HA 1548 (does not). */
	while (FA_MSG_MAX - 32 - n > 257) {
		big[n++] = 0xc8;
		big[n++] = 200;
		memset(big + n, 0, 200);
		n += 200;
	}
	big[n] = 0xc8;
	big[n + 1] = (uint8_t)(FA_MSG_MAX - 32 - n - 2);
	memset(big + n + 2, 0, big[n + 1]);
	n = FA_MSG_MAX - 32;
	n += hexvec("2014 00000100 00112233445566778899aabbccddeeff", big + n, sizeof(big) - n);
	CHECK(n <= FA_MSG_MAX && n + 22 > FA_MSG_MAX);
	CHECK_EQ_U64(fa_engine_request(F.fa, big, n, &m, &F.a), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_INSUFFICIENT_RESOURCES, &rep));
	fx_done(&F);
}

/* §3.7.3.1: a reply must match the pending request exactly. */
static void test_reply_matching(void)
{
	struct rspec s = { .hoa = HOA2, .ha = HA2, .life = 300, .flags = MIP4_REQ_T,
			   .ident = UINT64_C(0xe900000012345678) };
	struct fa_req_meta m;
	uint8_t buf[256];
	size_t n;
	struct fa_rep_meta pm;

	fx_init(&F);
	m = rmeta(HOA2, MN_LL);
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	memset(&F.a, 0x5a, sizeof(F.a));
	/* From another source than the home agent the request went to. */
	CHECK_EQ_U64(reply(&F, HOA2, HA2, 0, 300, s.ident, OTHER), (uint64_t)-ENOENT);
	/* Naming another home agent. */
	CHECK_EQ_U64(reply(&F, HOA2, OTHER, 0, 300, s.ident, HA2), (uint64_t)-ENOENT);
	/* Another Identification (low 32 bits differ). */
	CHECK_EQ_U64(reply(&F, HOA2, HA2, 0, 300, s.ident + 1, HA2), (uint64_t)-ENOENT);
	/* Another home address. */
	CHECK_EQ_U64(reply(&F, "198.18.2.101", HA2, 0, 300, s.ident, HA2), (uint64_t)-ENOENT);
	/* Not a reply at all. */
	n = hexvec(R0, buf, sizeof(buf));
	pm = pmeta(HA2);
	CHECK_EQ_U64(fa_engine_reply(F.fa, buf, n, &pm, &F.a), (uint64_t)-EBADMSG);
	CHECK(F.a.nsends == 0x5a5a5a5au);
	CHECK_EQ_U64(fa_engine_stats(F.fa)->dropped_unmatched, 4);
	CHECK_EQ_U64(fa_engine_pending_count(F.fa), 1);
	/* A 133 carries the HA's time in the high 32 bits: the low 32 bits match (§5.7.1). */
	CHECK_EQ_U64(reply(&F, HOA2, HA2, MIP4_CODE_HA_IDENT_MISMATCH, 0,
			   UINT64_C(0xea00000012345678), HA2), 0);
	CHECK(F.a.nsends == 1 && F.a.sends[0].relayed && F.a.sends[0].code == 133);
	CHECK_EQ_U64(F.a.nevents, 0);
	CHECK_EQ_U64(fa_engine_pending_count(F.fa), 0);
	CHECK(fa_engine_visitor(F.fa, ip(HOA2)) == NULL);
	CHECK_EQ_U64(fa_engine_visitor_count(F.fa), 0);
	/* A replay of the accepting reply finds nothing pending. */
	CHECK_EQ_U64(reply(&F, HOA2, HA2, 0, 300, s.ident, HA2), (uint64_t)-ENOENT);
	/* A newer request replaces the pending one: a reply to the older is stale. */
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	s.ident++;
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK_EQ_U64(reply(&F, HOA2, HA2, 0, 300, s.ident - 1, HA2), (uint64_t)-ENOENT);
	CHECK_EQ_U64(reply(&F, HOA2, HA2, 0, 300, s.ident, HA2), 0);
	CHECK(fa_engine_visitor(F.fa, ip(HOA2)) != NULL);
	fx_done(&F);
}

/* §3.7.3.1: Foreign-Home Authentication on replies from a home agent we share a key with;
 * a malformed reply: 71 when nothing could authenticate it anyway. */
static void test_reply_auth(void)
{
	struct rspec s = { .life = 300, .ident = 900 };
	struct fa_req_meta m;
	struct fa_rep_meta pm = pmeta(HA);
	struct mip4_reg_reply rep;
	uint8_t buf[256];
	size_t n;

	fx_init(&F);
	m = rmeta(HOA, MN_LL);
	/* No FA-HA -> 68, pending gone. */
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	n = mkrep(HOA, HA, 0, 300, 900, false, buf, sizeof(buf));
	CHECK_EQ_U64(fa_engine_reply(F.fa, buf, n, &pm, &F.a), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_HA_AUTH_FAILED, &rep) && rep.ident == 900);
	CHECK_EQ_U64(fa_engine_pending_count(F.fa), 0);
	CHECK_EQ_U64(fa_engine_visitor_count(F.fa), 0);
	/* A wrong FA-HA -> 68. */
	fake_clock_advance(&F.clk, MM_SEC(2));
	s.ident = 901;
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	n = mkrep(HOA, HA, 0, 300, 901, true, buf, sizeof(buf));
	buf[n - 5] ^= 0x80;
	CHECK_EQ_U64(fa_engine_reply(F.fa, buf, n, &pm, &F.a), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_HA_AUTH_FAILED, &rep));
	CHECK_EQ_U64(fa_engine_stats(F.fa)->ha_auth_failures, 2);
	CHECK_EQ_U64(fa_engine_visitor_count(F.fa), 0);
	/* Malformed (cut short) from a keyed HA: dropped, still pending. */
	s.ident = 902;
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	n = mkrep(HOA, HA, 0, 300, 902, true, buf, sizeof(buf));
	CHECK_EQ_U64(fa_engine_reply(F.fa, buf, n - 1, &pm, &F.a), (uint64_t)-EBADMSG);
	CHECK_EQ_U64(fa_engine_pending_count(F.fa), 1);
	/* The right one then goes through. */
	CHECK_EQ_U64(fa_engine_reply(F.fa, buf, n, &pm, &F.a), 0);
	CHECK(F.a.nsends == 1 && F.a.sends[0].relayed && F.a.nevents == 1);
	/* FA-HA removed; MN-FA not added (the request had none). */
	CHECK_EQ_U64(F.a.sends[0].len, n - 22);
	fx_done(&F);

	/* Malformed from a home agent we share no key with -> 71. */
	fx_init(&F);
	s = (struct rspec){ .hoa = HOA2, .ha = HA2, .life = 300, .ident = 903 };
	m = rmeta(HOA2, MN_LL);
	pm = pmeta(HA2);
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	n = mkrep(HOA2, HA2, 0, 300, 903, false, buf, sizeof(buf));
	CHECK_EQ_U64(fa_engine_reply(F.fa, buf, n - 1, &pm, &F.a), 0);
	CHECK(denial_is(&F, MIP4_CODE_FA_POORLY_FORMED_REPLY, &rep) && rep.ident == 903);
	CHECK_EQ_U64(fa_engine_pending_count(F.fa), 0);
	/* A reply with FA-HA from a home agent we share nothing with: relayed without it. */
	s.ident = 904;
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	n = mkrep(HOA2, HA2, 0, 300, 904, false, buf, sizeof(buf));
	n += hexvec("2214 00000200 00000000000000000000000000000000", buf + n, sizeof(buf) - n);
	CHECK_EQ_U64(fa_engine_reply(F.fa, buf, n, &pm, &F.a), 0);
	CHECK(F.a.nsends == 1 && F.a.sends[0].relayed && F.a.sends[0].len == n - 22);
	fx_done(&F);
}

/* §3.4, §3.7.3.2: lifetimes; §3.7.2: a denial leaves the visitor as it was; updates. */
static void test_lifetimes(void)
{
	const struct fa_visitor *v;
	struct rspec s = { .life = 300, .flags = MIP4_REQ_T };
	struct fa_req_meta m;
	mm_time_ns exp;

	fx_init(&F);
	m = rmeta(HOA, MN_LL);
	/* The HA grants more than asked: the request's lifetime is used. */
	s.ident = 10;
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK_EQ_U64(reply(&F, HOA, HA, 0, 600, 10, HA), 0);
	v = fa_engine_visitor(F.fa, ip(HOA));
	CHECK(v && v->lifetime == 300);
	/* Less than asked: the reply's. From another link-layer address: UPDATED. */
	fake_clock_advance(&F.clk, MM_SEC(10));
	m = rmeta(HOA, MN_LL2);
	s.ident = 11;
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK_EQ_U64(reply(&F, HOA, HA, 1, 100, 11, HA), 0);
	CHECK(F.a.nevents == 1 && F.a.events[0].kind == FA_EV_VISITOR_UPDATED);
	v = fa_engine_visitor(F.fa, ip(HOA));
	CHECK(v && v->lifetime == 100 && !memcmp(v->lladdr, MN_LL2, 6));
	exp = v ? v->expires_at : 0;
	CHECK_EQ_U64(exp, T0 + MM_SEC(110));
	/* The HA denies a renewal: the visitor is not modified. */
	fake_clock_advance(&F.clk, MM_SEC(10));
	s.ident = 12;
	m = rmeta(HOA, MN_LL);
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK_EQ_U64(reply(&F, HOA, HA, MIP4_CODE_HA_ADMIN_PROHIBITED, 0, 12, HA), 0);
	CHECK(F.a.nsends == 1 && F.a.sends[0].code == 129 && F.a.nevents == 0);
	v = fa_engine_visitor(F.fa, ip(HOA));
	CHECK(v && v->expires_at == exp && !memcmp(v->lladdr, MN_LL2, 6));
	CHECK_EQ_U64(fa_engine_pending_count(F.fa), 0);
	/* Expiry (§3.7: no message). */
	CHECK_EQ_U64(fa_engine_next_deadline(F.fa), exp);
	CHECK_EQ_U64(fa_engine_timer(F.fa, exp - 1, &F.a), 0);
	CHECK(fa_engine_visitor(F.fa, ip(HOA)) != NULL);
	fake_clock_advance(&F.clk, exp - F.clk.now_ns);
	CHECK_EQ_U64(fa_engine_timer(F.fa, exp, &F.a), 1);
	CHECK(F.a.nsends == 0 && F.a.nevents == 1 &&
	      F.a.events[0].kind == FA_EV_VISITOR_REMOVED &&
	      F.a.events[0].reason == FA_REMOVED_EXPIRED &&
	      F.a.events[0].visitor.home_addr.s_addr == ip(HOA).s_addr);
	CHECK(fa_engine_visitor(F.fa, ip(HOA)) == NULL);
	CHECK_EQ_U64(fa_engine_stats(F.fa)->visitors_expired, 1);
	CHECK_EQ_U64(fa_engine_next_deadline(F.fa), UINT64_MAX);
	fx_done(&F);

	/* Infinite lifetime, when our maximum allows it. */
	fx_cfg(&F);
	F.cfg.max_lifetime = 0xffff;
	fx_start(&F);
	CHECK(register_mn(&F, HOA, HA, 0xffff, MN_LL) != 0);
	v = fa_engine_visitor(F.fa, ip(HOA));
	CHECK(v && v->expires_at == UINT64_MAX && fa_engine_remaining(F.fa, v) == 0xffff);
	CHECK_EQ_U64(fa_engine_next_deadline(F.fa), UINT64_MAX);
	fx_done(&F);
}

/* Deregistration: the visitor goes only on the HA's success (§3.7.2, §3.7.3.2). */
static void test_deregistration(void)
{
	struct rspec s = { .life = 0 };
	struct fa_req_meta m;

	fx_init(&F);
	m = rmeta(HOA, MN_LL);
	CHECK(register_mn(&F, HOA, HA, 300, MN_LL) != 0);
	s.ident = ++F.ident;
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK(F.a.nsends == 1 && F.a.sends[0].len == 46);  /* no FA-HA with lifetime 0 */
	CHECK(fa_engine_visitor(F.fa, ip(HOA)) != NULL);   /* not yet */
	CHECK_EQ_U64(reply(&F, HOA, HA, 0, 0, s.ident, HA), 0);
	CHECK(F.a.nevents == 1 && F.a.events[0].kind == FA_EV_VISITOR_REMOVED &&
	      F.a.events[0].reason == FA_REMOVED_DEREGISTERED);
	CHECK(fa_engine_visitor(F.fa, ip(HOA)) == NULL);
	CHECK_EQ_U64(fa_engine_stats(F.fa)->deregistrations, 1);
	CHECK_EQ_U64(fa_engine_next_deadline(F.fa), UINT64_MAX);
	fx_done(&F);
}

/* §3.7.1: a pending request times out -> 78; §3.7.2.2: no later than its lifetime. */
static void test_pending_timeout(void)
{
	struct rspec s = { .life = 3, .ident = 4242, .mn_fa = true };
	struct fa_req_meta m;
	struct mip4_reg_reply rep;
	struct mip4_key k = mkkey(SPI_MN_FA, "mn-fa-secret-16b");

	fx_init(&F);
	m = rmeta(HOA, MN_LL);
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK_EQ_U64(fa_engine_next_deadline(F.fa), T0 + MM_SEC(3));
	CHECK_EQ_U64(fa_engine_timer(F.fa, T0 + MM_SEC(2), &F.a), 0);
	CHECK_EQ_U64(F.a.nsends, 0);
	CHECK_EQ_U64(fa_engine_timer(F.fa, T0 + MM_SEC(3), &F.a), 1);
	memset(&rep, 0, sizeof(rep));
	CHECK(F.a.nsends == 1 && F.a.sends[0].to_mn && !F.a.sends[0].relayed &&
	      F.a.sends[0].code == MIP4_CODE_FA_REGISTRATION_TIMEOUT &&
	      mip4_reply_parse(F.a.sends[0].msg, F.a.sends[0].len, &rep) == 0);
	CHECK(rep.ident == 4242 && rep.code == MIP4_CODE_FA_REGISTRATION_TIMEOUT &&
	      rep.mn_fa.present &&
	      mip4_auth_verify_key(F.a.sends[0].msg, F.a.sends[0].len, &rep.mn_fa, &k) == 0);
	CHECK_EQ_U64(fa_engine_pending_count(F.fa), 0);
	CHECK_EQ_U64(fa_engine_stats(F.fa)->pending_timeouts, 1);
	/* Too late now. */
	CHECK_EQ_U64(reply(&F, HOA, HA, 0, 3, 4242, HA), (uint64_t)-ENOENT);
	/* A long lifetime waits the pending timeout (7 s). */
	s.life = 300;
	s.ident = 4243;
	fake_clock_advance(&F.clk, MM_SEC(5));
	CHECK_EQ_U64(request(&F, &s, &m), 0);
	CHECK_EQ_U64(fa_engine_next_deadline(F.fa), T0 + MM_SEC(5) + MM_SEC(7));
	fx_done(&F);
	mip4_key_wipe(&k);
}

/* §3.7.3: an ICMP error for a relayed request -> 80/81/82/88 to the mobile node. */
static void test_icmp(void)
{
	struct rspec s = { .life = 300, .ident = 555 };
	struct fa_req_meta m;
	struct mip4_reg_reply rep;
	uint8_t sent[FA_MSG_MAX];
	size_t n;
	static const struct { uint8_t type, code, want; } map[] = {
		{ 3, 0, 80 }, { 3, 1, 81 }, { 3, 3, 82 }, { 3, 13, 88 }, { 11, 0, 88 },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		bool ok;

		fx_init(&F);
		m = rmeta(HOA, MN_LL);
		ok = request(&F, &s, &m) == 0 && F.a.nsends == 1;
		n = F.a.sends[0].len;
		memcpy(sent, F.a.sends[0].msg, n);
		/* Another home agent, or another Identification: not ours. */
		ok = ok && fa_engine_icmp_error(F.fa, ip(HA2), map[i].type, map[i].code, sent, n,
						&F.a) == -ENOENT;
		sent[23] ^= 1;
		ok = ok && fa_engine_icmp_error(F.fa, ip(HA), map[i].type, map[i].code, sent, n,
						&F.a) == -ENOENT;
		sent[23] ^= 1;
		ok = ok && fa_engine_icmp_error(F.fa, ip(HA), map[i].type, map[i].code, sent, 20,
						&F.a) == -EBADMSG;
		ok = ok && fa_engine_icmp_error(F.fa, ip(HA), map[i].type, map[i].code, sent, 24,
						&F.a) == 0 && denial_is(&F, map[i].want, &rep) &&
		     rep.ident == 555 && fa_engine_pending_count(F.fa) == 0;
		if (!ok)
			printf("# ICMP type %u code %u\n", map[i].type, map[i].code);
		CHECK(ok);
		fx_done(&F);
	}
}

/* The visitor table under many visitors: lookups stay right through removals in any order
 * (backward-shift deletion), iteration sees each visitor once, the timer works in batches. */
static void test_many(void)
{
	enum { N = 300 };
	unsigned missing = 0, wrong = 0, seen = 0;
	const struct fa_visitor *v;
	size_t it = 0;
	int rc, calls = 0, total = 0;

	fx_cfg(&F);
	F.cfg.max_visitors = N;
	F.cfg.mn_key = NULL;
	fx_start(&F);
	for (unsigned i = 0; i < N; i++) {
		struct in_addr a = { htonl(0xc6140000u + i * 7919u % 65536u) };
		char h[ADDR4_STRLEN];

		/* Lifetimes 100..109 s: batches of expiries. */
		if (!register_mn(&F, addr4_str(a, h), HA2, (uint16_t)(100 + i % 10), MN_LL))
			missing++;
	}
	CHECK_EQ_U64(missing, 0);
	CHECK_EQ_U64(fa_engine_visitor_count(F.fa), N);
	while ((v = fa_engine_visitor_next(F.fa, &it)) != NULL)
		seen++;
	CHECK_EQ_U64(seen, N);
	/* Expire the ones with lifetime 100..104 (150), 16 events per call at most. */
	do {
		rc = fa_engine_timer(F.fa, T0 + MM_SEC(104), &F.a);
		CHECK_LOOP(rc >= 0 && F.a.nevents <= FA_EVENTS_MAX, wrong);
		total += rc > 0 ? rc : 0;
		calls++;
	} while (F.a.more && calls < 100);
	CHECK_EQ_U64(total, N / 2);
	CHECK(calls >= N / 2 / FA_EVENTS_MAX);
	for (unsigned i = 0; i < N; i++) {
		struct in_addr a = { htonl(0xc6140000u + i * 7919u % 65536u) };

		v = fa_engine_visitor(F.fa, a);
		CHECK_LOOP((i % 10 < 5) == (v == NULL), wrong);
		CHECK_LOOP(!v || v->home_addr.s_addr == a.s_addr, wrong);
	}
	CHECK_EQ_U64(wrong, 0);
	CHECK_EQ_U64(fa_engine_visitor_count(F.fa), N / 2);
	CHECK_EQ_U64(fa_engine_next_deadline(F.fa), T0 + MM_SEC(105));
	fx_done(&F);
}

/* The log lines fa_engine.h promises, through the common logger. */
static void test_log_lines(void)
{
	char *text = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&text, &size);
	struct rspec s = { .coa = OTHER, .life = 300, .ident = 1 };
	struct fa_req_meta m;

	if (!mem)
		abort();
	log_set_stream(mem);
	log_set_format(LOG_FORMAT_JOURNAL);
	log_set_level(LOG_LEVEL_INFO);
	fx_init(&F);
	m = rmeta(HOA, MN_LL);
	request(&F, &s, &m);                          /* 77 */
	request(&F, &s, &m);                          /* held back: one per second */
	register_mn(&F, HOA2, HA2, 300, MN_LL);
	reply(&F, HOA2, HA2, 0, 300, 12345, HA2);     /* matches nothing now */
	fake_clock_advance(&F.clk, MM_SEC(300));
	fa_engine_timer(F.fa, F.clk.now_ns, &F.a);
	fx_done(&F);
	log_set_stream(NULL);
	log_set_level(LOG_LEVEL_ERROR);
	fclose(mem);
	CHECK(strstr(text, "<4>fa[visitor 198.18.1.100]: denied code=77 "
			   "(fa_invalid_care_of_address): care-of address not offered") != NULL);
	CHECK(strstr(text, "<4>fa[visitor 198.18.1.100]: dropped: denial code=77 "
			   "(fa_invalid_care_of_address) not sent: one per second") != NULL);
	CHECK(strstr(text, "<6>fa[visitor 198.18.2.100]: relayed request hoa=198.18.2.100 "
			   "ha=198.18.2.1 lifetime=300 reverse-tunnel\n") != NULL);
	CHECK(strstr(text, "<6>fa[visitor 198.18.2.100]: relayed reply code=0 (accepted) "
			   "lifetime=300\n") != NULL);
	CHECK(strstr(text, "<5>fa[visitor 198.18.2.100]: visitor added: home agent "
			   "198.18.2.1, lifetime 300 s, reverse tunnel\n") != NULL);
	CHECK(strstr(text, "<4>fa[visitor 198.18.2.100]: dropped: Registration Reply from "
			   "198.18.2.1:434 (code 0, ident 0x0000000000003039) matches no pending "
			   "request\n") != NULL);
	CHECK(strstr(text, "<5>fa[visitor 198.18.2.100]: visitor removed: lifetime 300 s "
			   "expired\n") != NULL);
	if (tap_failed)
		printf("# log:\n%s", text);
	free(text);
}

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	test_config();
	test_relay_kat();
	test_full_kat();
	test_mn_fa();
	test_denials();
	test_malformed_requests();
	test_accepts();
	test_denial_rate();
	test_resources();
	test_reply_matching();
	test_reply_auth();
	test_lifetimes();
	test_deregistration();
	test_pending_timeout();
	test_icmp();
	test_many();
	test_log_lines();
	return tap_done();
}
