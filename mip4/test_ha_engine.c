/* Unit tests for mip4/ha_engine.c: the home agent's registration processing, driven by a
 * fake monotonic clock and a fake wall clock, with mobile nodes played by the codec. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/sock.h"
#include "mip4/fa_engine.h"
#include "mip4/ha_engine.h"
#include "mip4/ident.h"
#include "mip4/reg.h"
#include "tests/unit/hexvec.h"
#include "tests/unit/tap.h"

/* 2025-11-23T00:00:00Z */
#define TWALL MM_SEC(1763856000)
#define T0 MM_SEC(1000)

#define HA   "198.18.1.1"
#define HOA  "198.18.1.100"
#define HOA2 "198.18.1.101"
#define FAR  "198.19.9.9"      /* has a key, but is not in the home prefix */
#define COA1 "198.18.11.10"
#define COA2 "198.18.12.20"
#define NAT  "198.18.200.1"
#define PRIV "10.0.0.5"
#define MANY_BASE 0xc6122000u  /* 198.18.32.0/20: many mobile nodes */

static struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };

	if (addr4_parse(s, &a) < 0)
		abort();
	return a;
}

static void secret_for(struct in_addr hoa, uint8_t out[16])
{
	for (int i = 0; i < 16; i++)
		out[i] = (uint8_t)(ntohl(hoa.s_addr) * 31u + (unsigned)i * 7u);
}

static uint32_t spi_for(struct in_addr hoa)
{
	return 1000 + (ntohl(hoa.s_addr) & 0xffff);
}

/* Every mobile node in 198.18.1.0/24, 198.18.32.0/20 and FAR has a key. */
static int lookup(void *ctx, struct in_addr hoa, uint32_t spi, struct mip4_key *out)
{
	uint32_t h = ntohl(hoa.s_addr);
	uint8_t s[16];

	(void)ctx;
	if (!((h >> 8) == 0xc61201 || (h >> 12) == (MANY_BASE >> 12) ||
	      hoa.s_addr == ip(FAR).s_addr))
		return -ENOENT;
	if (spi != spi_for(hoa))
		return -ENOENT;
	secret_for(hoa, s);
	return mip4_key_set(out, spi, s, sizeof(s));
}

static struct mip4_key key_of(struct in_addr hoa)
{
	struct mip4_key k;
	uint8_t s[16];

	secret_for(hoa, s);
	mip4_key_set(&k, spi_for(hoa), s, sizeof(s));
	return k;
}

struct fx {
	struct fake_clock mono, wall;
	struct ha_engine *ha;
	struct ha_engine_config cfg;
	struct ha_actions a;
	uint64_t ident_ctr;
};

static void fx_init(struct fx *f, enum ha_udp_policy udp)
{
	memset(f, 0, sizeof(*f));
	fake_clock_init(&f->mono, T0);
	fake_clock_init(&f->wall, TWALL);
	f->cfg.address = ip(HA);
	f->cfg.home_net = ip("198.18.0.0");
	f->cfg.home_plen = 16;
	f->cfg.max_lifetime = 600;
	f->cfg.udp = udp;
	f->cfg.keepalive_interval = 110;
	f->cfg.key_lookup = lookup;
	f->cfg.clock = &f->mono.base;
	f->cfg.wall = &f->wall.base;
	if (ha_engine_new(&f->cfg, &f->ha) < 0)
		abort();
}

static void fx_advance(struct fx *f, mm_time_ns d)
{
	fake_clock_advance(&f->mono, d);
	fake_clock_advance(&f->wall, d);
}

/* A fresh Identification: the wall clock, increasing. */
static uint64_t fresh(struct fx *f)
{
	return mip4_ntp_from_unix_ns(f->wall.now_ns) + (++f->ident_ctr << 8);
}

struct rq_opts {
	const char *hoa, *coa, *ha;
	uint16_t lifetime;
	uint8_t flags;
	bool udp;
	uint8_t udp_flags, udp_encap;
	uint64_t ident;
	const char *nai;
};

static size_t build(const struct rq_opts *o, uint8_t *buf, size_t cap)
{
	struct mip4_reg_request r;
	struct mip4_key k;
	struct writer w;
	int n;

	memset(&r, 0, sizeof(r));
	r.flags = o->flags;
	r.lifetime = o->lifetime;
	r.home_addr = ip(o->hoa);
	r.home_agent = ip(o->ha ? o->ha : HA);
	r.coa = ip(o->coa);
	r.ident = o->ident;
	if (o->udp) {
		r.udp_req.present = true;
		r.udp_req.flags = o->udp_flags;
		r.udp_req.encap = o->udp_encap;
	}
	if (o->nai) {
		r.nai.present = true;
		r.nai.len = (uint8_t)strlen(o->nai);
		memcpy(r.nai.text, o->nai, r.nai.len);
	}
	k = key_of(r.home_addr);
	writer_init(&w, buf, cap);
	n = mip4_request_encode(&w, &r, &k, NULL);
	mip4_key_wipe(&k);
	if (n < 0)
		abort();
	return (size_t)n;
}

/* Recompute the MN-HA authenticator (the last 16 bytes) after editing a request. */
static void resign(uint8_t *buf, size_t n, const char *hoa)
{
	struct mip4_key k = key_of(ip(hoa));

	if (mip4_hmac_md5(k.key, k.len, buf, n - MIP4_HMAC_MD5_LEN, buf + n - MIP4_HMAC_MD5_LEN))
		abort();
	mip4_key_wipe(&k);
}

static struct ha_rx_meta meta(const char *src, uint16_t port)
{
	struct ha_rx_meta m;

	memset(&m, 0, sizeof(m));
	m.src.sin_family = AF_INET;
	m.src.sin_addr = ip(src);
	m.src.sin_port = htons(port);
	m.dst = ip(HA);
	return m;
}

static int handle(struct fx *f, const uint8_t *buf, size_t len, const struct ha_rx_meta *m)
{
	return ha_engine_request(f->ha, buf, len, m, &f->a);
}

/* Register (default options for the rest), from src:port. */
static int reg(struct fx *f, const char *hoa, const char *coa, uint16_t life, const char *src,
	       uint16_t port)
{
	struct rq_opts o = { .hoa = hoa, .coa = coa, .lifetime = life,
			     .flags = MIP4_REQ_D | MIP4_REQ_T, .ident = fresh(f) };
	uint8_t buf[512];
	size_t n = build(&o, buf, sizeof(buf));
	struct ha_rx_meta m = meta(src, port);

	return handle(f, buf, n, &m);
}

/* Parse and authenticate the reply in f->a with hoa's key. */
static bool reply_ok(const struct fx *f, const char *hoa, struct mip4_reg_reply *rep)
{
	struct mip4_key k = key_of(ip(hoa));
	bool ok;

	ok = f->a.send && mip4_reply_parse(f->a.reply, f->a.reply_len, rep) == 0 &&
	     rep->mn_ha.present &&
	     mip4_auth_verify_key(f->a.reply, f->a.reply_len, &rep->mn_ha, &k) == 0 &&
	     rep->home_addr.s_addr == ip(hoa).s_addr && rep->home_agent.s_addr == ip(HA).s_addr;
	mip4_key_wipe(&k);
	return ok;
}

static void test_config(void)
{
	struct fx f;
	struct ha_engine *ha = NULL;
	struct ha_engine_config c;

	fx_init(&f, HA_UDP_ALLOW);
	c = f.cfg;
	c.key_lookup = NULL;
	CHECK_EQ_U64(ha_engine_new(&c, &ha), (uint64_t)-EINVAL);
	c = f.cfg;
	c.address = ip("198.19.0.1");
	CHECK_EQ_U64(ha_engine_new(&c, &ha), (uint64_t)-EINVAL);
	c = f.cfg;
	c.home_plen = 31;
	CHECK_EQ_U64(ha_engine_new(&c, &ha), (uint64_t)-EINVAL);
	c = f.cfg;
	c.max_lifetime = 0xffff;
	CHECK_EQ_U64(ha_engine_new(&c, &ha), (uint64_t)-EINVAL);
	CHECK(ha == NULL);
	ha_engine_free(f.ha);
}

static void test_accept_renew_move_dereg(void)
{
	struct fx f;
	struct mip4_reg_reply rep;
	const struct mip4_binding *b;
	struct rq_opts o;
	uint8_t buf[512];
	size_t n;
	struct ha_rx_meta m;
	uint64_t id;

	fx_init(&f, HA_UDP_ALLOW);
	/* Accept. */
	o = (struct rq_opts){ .hoa = HOA, .coa = COA1, .lifetime = 300,
			      .flags = MIP4_REQ_D | MIP4_REQ_T, .ident = fresh(&f),
			      .nai = "mn@example.com" };
	id = o.ident;
	n = build(&o, buf, sizeof(buf));
	m = meta(COA1, 40000);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.send && f.a.code == 0 && f.a.state_changed && f.a.nevents == 1);
	CHECK(f.a.events[0].kind == HA_EV_ADDED);
	CHECK(f.a.reply_to.sin_addr.s_addr == ip(COA1).s_addr &&
	      ntohs(f.a.reply_to.sin_port) == 40000);
	CHECK(f.a.reply_from.s_addr == ip(HA).s_addr);
	CHECK(!f.a.reply_on_home_link);
	CHECK(reply_ok(&f, HOA, &rep));
	CHECK(rep.code == 0 && rep.lifetime == 300 && rep.ident == id);
	CHECK(rep.nai.present && strcmp(rep.nai.text, "mn@example.com") == 0);
	CHECK(!rep.udp_reply.present);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->encap == MIP4_ENCAP_IPIP && b->ep_addr.s_addr == ip(COA1).s_addr &&
	      b->ep_port == 0 && (b->req_flags & MIP4_REQ_T) && b->lifetime == 300 &&
	      b->ident == id && b->replay_ident == id && b->registrations == 1);
	CHECK(b && b->expires_at == T0 + MM_SEC(300));
	CHECK_EQ_U64(ha_engine_next_expiry(f.ha), T0 + MM_SEC(300));
	CHECK_EQ_U64(ha_engine_remaining(f.ha, b), 300);

	/* Renew 100 s later. */
	fx_advance(&f, MM_SEC(100));
	CHECK_EQ_U64(reg(&f, HOA, COA1, 300, COA1, 40000), 0);
	CHECK(f.a.code == 0 && f.a.nevents == 1 && f.a.events[0].kind == HA_EV_UPDATED &&
	      !f.a.events[0].moved);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->registrations == 2 && b->expires_at == T0 + MM_SEC(400));

	/* Move. */
	CHECK_EQ_U64(reg(&f, HOA, COA2, 300, COA2, 40001), 0);
	CHECK(f.a.code == 0 && f.a.events[0].kind == HA_EV_UPDATED && f.a.events[0].moved);
	CHECK(f.a.events[0].binding.ep_addr.s_addr == ip(COA2).s_addr);
	CHECK_EQ_U64(bcache_count(ha_engine_bcache(f.ha)), 1);

	/* Lifetime 0 with another care-of address: nothing to delete, still accepted. */
	CHECK_EQ_U64(reg(&f, HOA, COA1, 0, COA1, 40000), 0);
	CHECK(f.a.code == 0 && f.a.nevents == 0 && f.a.state_changed);
	CHECK(ha_engine_lookup(f.ha, ip(HOA)) != NULL);

	/* Deregistration from the home link: lifetime 0, care-of = home address. */
	o = (struct rq_opts){ .hoa = HOA, .coa = HOA, .lifetime = 0, .ident = fresh(&f) };
	n = build(&o, buf, sizeof(buf));
	m = meta(HOA, 434);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0 && f.a.nevents == 1 && f.a.events[0].kind == HA_EV_REMOVED &&
	      f.a.events[0].reason == HA_REMOVED_DEREGISTERED);
	CHECK(f.a.events[0].binding.coa.s_addr == ip(COA2).s_addr);
	CHECK(f.a.reply_on_home_link);
	CHECK(reply_ok(&f, HOA, &rep) && rep.lifetime == 0 && rep.code == 0);
	CHECK(ha_engine_lookup(f.ha, ip(HOA)) == NULL);
	CHECK_EQ_U64(ha_engine_next_expiry(f.ha), BCACHE_NEVER);

	/* The replay state survived: the first request again is a replay. */
	n = build(&(struct rq_opts){ .hoa = HOA, .coa = COA1, .lifetime = 300,
				     .flags = MIP4_REQ_D | MIP4_REQ_T, .ident = id,
				     .nai = "mn@example.com" }, buf, sizeof(buf));
	m = meta(COA1, 40000);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_IDENT_MISMATCH && f.a.nevents == 0 &&
	      !f.a.state_changed);
	CHECK(ha_engine_lookup(f.ha, ip(HOA)) == NULL);

	/* Care-of = home address with a nonzero lifetime also deregisters. */
	CHECK_EQ_U64(reg(&f, HOA, COA1, 300, COA1, 40000), 0);
	CHECK(f.a.events[0].kind == HA_EV_ADDED);
	CHECK_EQ_U64(reg(&f, HOA, HOA, 300, HOA, 434), 0);
	CHECK(f.a.code == 0 && f.a.events[0].kind == HA_EV_REMOVED);
	CHECK(reply_ok(&f, HOA, &rep) && rep.lifetime == 0);

	CHECK_EQ_U64(ha_engine_stats(f.ha)->accepted, 7);   /* 4 registrations, 3 deregistrations */
	CHECK_EQ_U64(ha_engine_stats(f.ha)->deregistrations, 3);
	/* 100 s old: outside the window before it is even compared with the last one. */
	CHECK_EQ_U64(ha_engine_stats(f.ha)->stale_ident, 1);
	ha_engine_free(f.ha);
}

static void test_lifetime_and_expiry(void)
{
	struct fx f;
	struct mip4_reg_reply rep;
	struct ha_actions a;

	fx_init(&f, HA_UDP_ALLOW);
	CHECK_EQ_U64(reg(&f, HOA, COA1, 0xffff, COA1, 434), 0);
	CHECK(reply_ok(&f, HOA, &rep) && rep.code == 0 && rep.lifetime == 600);
	CHECK_EQ_U64(reg(&f, HOA, COA1, 1000, COA1, 434), 0);
	CHECK(reply_ok(&f, HOA, &rep) && rep.lifetime == 600);
	CHECK_EQ_U64(reg(&f, HOA, COA1, 10, COA1, 434), 0);
	CHECK(reply_ok(&f, HOA, &rep) && rep.lifetime == 10);
	CHECK_EQ_U64(reg(&f, HOA2, COA2, 20, COA2, 434), 0);

	memset(&a, 0x5a, sizeof(a));
	fx_advance(&f, MM_SEC(9));
	CHECK_EQ_U64(ha_engine_expire(f.ha, f.mono.now_ns, &a), 0);
	CHECK(a.nevents == 0x5a5a5a5a);     /* untouched */
	fx_advance(&f, MM_SEC(1));
	CHECK_EQ_U64(ha_engine_expire(f.ha, f.mono.now_ns, &a), 1);
	CHECK(a.nevents == 1 && a.events[0].kind == HA_EV_REMOVED &&
	      a.events[0].reason == HA_REMOVED_EXPIRED && a.state_changed && !a.send);
	CHECK(a.events[0].binding.home_addr.s_addr == ip(HOA).s_addr);
	CHECK(ha_engine_lookup(f.ha, ip(HOA)) == NULL);
	CHECK(ha_engine_lookup(f.ha, ip(HOA2)) != NULL);
	CHECK_EQ_U64(ha_engine_next_expiry(f.ha), T0 + MM_SEC(20));
	fx_advance(&f, MM_SEC(10));
	CHECK_EQ_U64(ha_engine_expire(f.ha, f.mono.now_ns, &a), 1);
	CHECK_EQ_U64(ha_engine_stats(f.ha)->expired, 2);
	CHECK_EQ_U64(ha_engine_next_expiry(f.ha), BCACHE_NEVER);
	ha_engine_free(f.ha);
}

/* out must be untouched, nothing may change. */
static void expect_silent(struct fx *f, const uint8_t *buf, size_t len,
			  const struct ha_rx_meta *m, int want, unsigned *bad)
{
	size_t entries = bcache_entries(ha_engine_bcache(f->ha));
	const struct mip4_binding *b = ha_engine_lookup(f->ha, ip(HOA));
	struct mip4_binding before;
	int rc;

	if (b)
		before = *b;
	memset(&f->a, 0xa5, sizeof(f->a));
	rc = handle(f, buf, len, m);
	CHECK_LOOP(rc < 0 && (want == 0 || rc == want), *bad);
	CHECK_LOOP(f->a.nevents == 0xa5a5a5a5, *bad);
	CHECK_LOOP(bcache_entries(ha_engine_bcache(f->ha)) == entries, *bad);
	b = ha_engine_lookup(f->ha, ip(HOA));
	CHECK_LOOP(!b || memcmp(b, &before, sizeof(before)) == 0, *bad);
}

static void test_authentication(void)
{
	struct fx f;
	struct mip4_reg_reply rep;
	struct rq_opts o;
	uint8_t buf[512], copy[512];
	size_t n;
	struct ha_rx_meta m = meta(COA1, 434);
	const struct mip4_binding *b;
	struct mip4_binding before;
	unsigned bad = 0;

	fx_init(&f, HA_UDP_ALLOW);
	CHECK_EQ_U64(reg(&f, HOA, COA1, 300, COA1, 434), 0);
	before = *ha_engine_lookup(f.ha, ip(HOA));

	/* Wrong authenticator: 131, authenticated with the MN's key, nothing changes. */
	o = (struct rq_opts){ .hoa = HOA, .coa = COA2, .lifetime = 300, .flags = MIP4_REQ_D,
			      .ident = fresh(&f) };
	n = build(&o, buf, sizeof(buf));
	buf[n - 1] ^= 1;
	m = meta(COA2, 434);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_MN_AUTH_FAILED && f.a.nevents == 0 && !f.a.state_changed);
	CHECK(reply_ok(&f, HOA, &rep) && rep.code == 131 && rep.ident == o.ident);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && memcmp(b, &before, sizeof(before)) == 0);
	CHECK_EQ_U64(ha_engine_stats(f.ha)->auth_failures, 1);
	/* A tampered body (care-of address rewritten in flight): same. */
	n = build(&o, buf, sizeof(buf));
	buf[16] ^= 0x40;
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_MN_AUTH_FAILED && !f.a.state_changed);
	/* The correct request with the same Identification is still accepted afterwards:
	 * a failed authentication must not have recorded the Identification. */
	n = build(&o, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0 && f.a.events[0].moved);
	before = *ha_engine_lookup(f.ha, ip(HOA));

	/* Unknown SPI, or a key for another home address: silently discarded. */
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	memcpy(copy, buf, n);
	copy[n - 16 - 1] ^= 0x01;                 /* SPI low byte */
	expect_silent(&f, copy, n, &m, -EPERM, &bad);
	o.hoa = "198.18.7.7";                     /* no key at all */
	n = build(&o, buf, sizeof(buf));
	expect_silent(&f, buf, n, &m, -EPERM, &bad);
	CHECK_EQ_U64(ha_engine_stats(f.ha)->dropped_unknown_spi, 2);
	o.hoa = "10.1.2.3";                       /* not even in the home prefix */
	n = build(&o, buf, sizeof(buf));
	expect_silent(&f, buf, n, &m, -EPERM, &bad);

	/* No MN-HA extension at all: the fixed part alone. */
	o.hoa = HOA;
	n = build(&o, buf, sizeof(buf));
	expect_silent(&f, buf, MIP4_REQUEST_FIXED_LEN, &m, -ENOKEY, &bad);

	/* A Foreign-Home Authentication after MN-HA: no SA with any FA (§3.8.2.1 d). */
	{
		struct writer w;

		n = build(&o, buf, sizeof(buf));
		writer_init(&w, buf + n, sizeof(buf) - n);
		writer_u8(&w, MIP4_EXT_FA_HA_AUTH);
		writer_u8(&w, 20);
		writer_be32(&w, 5000);
		writer_zeros(&w, 16);
		expect_silent(&f, buf, n + writer_len(&w), &m, -EPERM, &bad);
	}
	CHECK_EQ_U64(bad, 0);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && memcmp(b, &before, sizeof(before)) == 0);
	ha_engine_free(f.ha);
}

static void test_identification(void)
{
	struct fx f;
	struct mip4_reg_reply rep;
	struct rq_opts o;
	uint8_t buf[512];
	size_t n;
	struct ha_rx_meta m = meta(COA1, 434);
	struct mip4_ident_mn mn;
	uint64_t stale;

	fx_init(&f, HA_UDP_ALLOW);
	o = (struct rq_opts){ .hoa = HOA, .coa = COA1, .lifetime = 300, .flags = MIP4_REQ_D,
			      .ident = fresh(&f) };
	n = build(&o, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0);
	/* The very same datagram again: a replay, 133, nothing changes. */
	fx_advance(&f, MM_SEC(1));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 133 && f.a.nevents == 0 && !f.a.state_changed);
	CHECK(reply_ok(&f, HOA, &rep) && (uint32_t)rep.ident == (uint32_t)o.ident);
	CHECK_EQ_U64(rep.ident >> 32, mip4_ntp_from_unix_ns(f.wall.now_ns) >> 32);
	CHECK(ha_engine_lookup(f.ha, ip(HOA))->registrations == 1);
	CHECK_EQ_U64(ha_engine_stats(f.ha)->replays, 1);

	/* A mobile node whose clock is a minute behind: 133, then it resynchronises from the
	 * reply (ident.h) and is accepted. */
	mip4_ident_mn_init(&mn);
	stale = mip4_ident_mn_next(&mn, f.wall.now_ns - MM_SEC(60), 0x123);
	o.ident = stale;
	o.coa = COA2;
	n = build(&o, buf, sizeof(buf));
	m = meta(COA2, 434);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 133 && !f.a.state_changed && f.a.nevents == 0);
	CHECK(reply_ok(&f, HOA, &rep));
	CHECK_EQ_U64(ha_engine_stats(f.ha)->stale_ident, 1);
	CHECK(ha_engine_lookup(f.ha, ip(HOA))->coa.s_addr == ip(COA1).s_addr);
	CHECK_EQ_U64(mip4_ident_mn_resync(&mn, stale, rep.ident, f.wall.now_ns - MM_SEC(60)), 0);
	o.ident = mip4_ident_mn_next(&mn, f.wall.now_ns - MM_SEC(60), 0x456);
	n = build(&o, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0 && f.a.events[0].moved);
	/* Ahead of our clock by a minute: stale too. */
	o.ident = mip4_ntp_from_unix_ns(f.wall.now_ns + MM_SEC(60));
	n = build(&o, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 133);
	ha_engine_free(f.ha);
}

static void test_checks(void)
{
	struct fx f;
	struct mip4_reg_reply rep;
	struct rq_opts o;
	uint8_t buf[512];
	size_t n;
	struct ha_rx_meta m = meta(COA1, 434);

	fx_init(&f, HA_UDP_ALLOW);
	/* Unknown home agent address: 136 with ours. */
	o = (struct rq_opts){ .hoa = HOA, .coa = COA1, .lifetime = 300, .flags = MIP4_REQ_D,
			      .ha = "198.18.1.2", .ident = fresh(&f) };
	n = build(&o, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_UNKNOWN_HA_ADDRESS && f.a.nevents == 0);
	CHECK(reply_ok(&f, HOA, &rep) && rep.home_agent.s_addr == ip(HA).s_addr);
	CHECK(ha_engine_lookup(f.ha, ip(HOA)) == NULL);
	/* Sent to the home network's directed broadcast: 136, from our unicast address. */
	o.ha = NULL;
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	m.dst = ip("198.18.255.255");
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 136 && f.a.reply_from.s_addr == ip(HA).s_addr);
	m.dst = ip(HA);

	/* Home address outside the home prefix: 129. */
	o.hoa = FAR;
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_ADMIN_PROHIBITED && f.a.nevents == 0);
	CHECK(reply_ok(&f, FAR, &rep));
	o.hoa = HOA;

	/* Reserved flag bits x and r: ignored on reception at the home agent (RFC 5944 section
	 * 3.3; only a foreign agent rejects them), and not recorded in the binding. */
	o.flags = MIP4_REQ_D;
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	buf[1] |= MIP4_REQ_RESERVED;      /* the encoder refuses to set them */
	resign(buf, n, HOA);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_ACCEPTED && f.a.nevents == 1);
	CHECK(ha_engine_lookup(f.ha, ip(HOA)) != NULL &&
	      (ha_engine_lookup(f.ha, ip(HOA))->req_flags & MIP4_REQ_RESERVED) == 0);

	/* Minimal encapsulation (M): 139 (RFC 3024 §4.3.1). */
	o.flags = MIP4_REQ_D | MIP4_REQ_M;
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_ENCAP_UNAVAILABLE);

	/* S and B: a single replacing binding, code 1. */
	o.flags = MIP4_REQ_D | MIP4_REQ_S | MIP4_REQ_B | MIP4_REQ_T;
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_ACCEPTED_NO_SIMULTANEOUS && f.a.nevents == 1);
	CHECK(reply_ok(&f, HOA, &rep) && rep.code == 1 && rep.lifetime == 300);
	CHECK_EQ_U64(ha_engine_stats(f.ha)->denied, 4);
	/* Every reply is counted once: accepted + denied = replies = requests here. */
	CHECK_EQ_U64(ha_engine_stats(f.ha)->accepted + ha_engine_stats(f.ha)->denied,
		     ha_engine_stats(f.ha)->requests);
	CHECK_EQ_U64(ha_engine_stats(f.ha)->denied_by_code[136], 2);
	ha_engine_free(f.ha);
}

static void test_udp(void)
{
	struct fx f;
	struct mip4_reg_reply rep;
	struct rq_opts o;
	uint8_t buf[512];
	size_t n;
	struct ha_rx_meta m;
	const struct mip4_binding *b;
	struct sockaddr_in ka;

	fx_init(&f, HA_UDP_ALLOW);
	/* NAT detected (source != care-of) with a UDP Tunnel Request: UDP to source:port. */
	o = (struct rq_opts){ .hoa = HOA, .coa = PRIV, .lifetime = 300,
			      .flags = MIP4_REQ_D | MIP4_REQ_T, .udp = true,
			      .udp_encap = MIP4_UDPT_ENCAP_IPIP, .ident = fresh(&f) };
	n = build(&o, buf, sizeof(buf));
	m = meta(NAT, 61000);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0 && f.a.nevents == 1);
	CHECK(reply_ok(&f, HOA, &rep) && rep.udp_reply.present && rep.udp_reply.code == 0 &&
	      rep.udp_reply.keepalive == 110 && !rep.udp_reply.forced);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->encap == MIP4_ENCAP_UDP && b->ep_addr.s_addr == ip(NAT).s_addr &&
	      b->ep_port == 61000 && b->coa.s_addr == ip(PRIV).s_addr);
	CHECK(f.a.reply_to.sin_addr.s_addr == ip(NAT).s_addr &&
	      ntohs(f.a.reply_to.sin_port) == 61000);

	/* Keepalives: from the endpoint -> answered; another port -> refused (§4.3). */
	memset(&ka, 0, sizeof(ka));
	ka.sin_family = AF_INET;
	ka.sin_addr = ip(NAT);
	ka.sin_port = htons(61000);
	memset(&f.a, 0, sizeof(f.a));
	CHECK_EQ_U64(ha_engine_keepalive(f.ha, &ka, ip(HOA), ip(HA), &f.a), 0);
	CHECK(f.a.nevents == 0 && !f.a.state_changed);
	ka.sin_port = htons(61001);
	CHECK_EQ_U64(ha_engine_keepalive(f.ha, &ka, ip(HOA), ip(HA), &f.a), (uint64_t)-EPERM);
	ka.sin_port = htons(61000);
	CHECK_EQ_U64(ha_engine_keepalive(f.ha, &ka, ip(HOA2), ip(HA), &f.a), (uint64_t)-ENOENT);
	CHECK_EQ_U64(ha_engine_keepalive(f.ha, &ka, ip(HOA), ip(COA1), &f.a),
		     (uint64_t)-ENOENT);

	/* No NAT, UDP Tunnel Request without F: declining reply, IP-in-IP. */
	o.coa = COA1;
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	m = meta(COA1, 434);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(reply_ok(&f, HOA, &rep) && rep.code == 0 && rep.udp_reply.present &&
	      rep.udp_reply.code == MIP4_UDPT_CODE_DECLINED);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->encap == MIP4_ENCAP_IPIP && b->ep_addr.s_addr == ip(COA1).s_addr);
	CHECK(f.a.events[0].moved);

	/* F flag: UDP although there is no NAT. */
	o.udp_flags = MIP4_UDPT_REQ_F;
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	m = meta(COA1, 5555);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(reply_ok(&f, HOA, &rep) && rep.code == 0 && rep.udp_reply.present &&
	      rep.udp_reply.code == 0 && rep.udp_reply.forced);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->encap == MIP4_ENCAP_UDP && b->ep_port == 5555 &&
	      (b->state & BCACHE_S_FORCED));

	/* NAT, but no UDP Tunnel Request, co-located care-of address: 129. */
	o.udp = false;
	o.udp_flags = 0;
	o.coa = PRIV;
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	m = meta(NAT, 61000);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_ADMIN_PROHIBITED && f.a.nevents == 0);
	/* ... while a foreign agent care-of address (no D) relayed from elsewhere is fine. */
	o.flags = MIP4_REQ_T;
	o.coa = COA2;
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	m = meta("198.18.12.1", 434);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->encap == MIP4_ENCAP_IPIP && b->ep_addr.s_addr == ip(COA2).s_addr);

	/* Encapsulation other than IP-in-UDP: 142. */
	o = (struct rq_opts){ .hoa = HOA, .coa = PRIV, .lifetime = 300,
			      .flags = MIP4_REQ_D | MIP4_REQ_T, .udp = true,
			      .udp_encap = MIP4_UDPT_ENCAP_GRE, .ident = fresh(&f) };
	n = build(&o, buf, sizeof(buf));
	m = meta(NAT, 61000);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_UDP_ENCAP_UNAVAILABLE);

	/* R flag: half bound until the first keepalive from the same address. */
	o.udp_encap = 0;
	o.udp_flags = MIP4_UDPT_REQ_R;
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->encap == MIP4_ENCAP_UDP && b->ep_port == 0);
	ka.sin_addr = ip("198.18.200.2");
	ka.sin_port = htons(7000);
	memset(&f.a, 0, sizeof(f.a));
	CHECK_EQ_U64(ha_engine_keepalive(f.ha, &ka, ip(HOA), ip(HA), &f.a), (uint64_t)-EPERM);
	ka.sin_addr = ip(NAT);
	CHECK_EQ_U64(ha_engine_keepalive(f.ha, &ka, ip(HOA), ip(HA), &f.a), 0);
	CHECK(f.a.nevents == 1 && f.a.events[0].kind == HA_EV_UPDATED && f.a.state_changed);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->ep_port == 7000);
	CHECK_EQ_U64(ha_engine_stats(f.ha)->keepalives, 2);
	ha_engine_free(f.ha);

	/* Policy deny: NAT -> 129; F -> 129; no NAT -> declining reply. */
	fx_init(&f, HA_UDP_DENY);
	o = (struct rq_opts){ .hoa = HOA, .coa = PRIV, .lifetime = 300,
			      .flags = MIP4_REQ_D | MIP4_REQ_T, .udp = true, .ident = fresh(&f) };
	n = build(&o, buf, sizeof(buf));
	m = meta(NAT, 61000);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_ADMIN_PROHIBITED && f.a.nevents == 0);
	o.coa = COA1;
	o.udp_flags = MIP4_UDPT_REQ_F;
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	m = meta(COA1, 434);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_ADMIN_PROHIBITED);
	o.udp_flags = 0;
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(reply_ok(&f, HOA, &rep) && rep.code == 0 && rep.udp_reply.present &&
	      rep.udp_reply.code >= 64);
	ha_engine_free(f.ha);
}

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_hostile(void)
{
	struct fx f;
	struct rq_opts o;
	uint8_t buf[512], mut[512];
	size_t n;
	struct ha_rx_meta m = meta(COA1, 434);
	struct mip4_binding before;
	const struct mip4_binding *b;
	unsigned bad = 0, replied = 0;

	fx_init(&f, HA_UDP_ALLOW);
	CHECK_EQ_U64(reg(&f, HOA, COA1, 300, COA1, 434), 0);
	before = *ha_engine_lookup(f.ha, ip(HOA));

	o = (struct rq_opts){ .hoa = HOA, .coa = COA2, .lifetime = 300,
			      .flags = MIP4_REQ_D | MIP4_REQ_T, .udp = true,
			      .nai = "x@y", .ident = fresh(&f) };
	n = build(&o, buf, sizeof(buf));
	/* Every truncation. */
	for (size_t len = 0; len < n; len++)
		expect_silent(&f, buf, len, &m, 0, &bad);
	/* Every single-bit flip: either discarded, or denied (131: the authenticator no
	 * longer matches), never a state change. */
	for (size_t i = 0; i < n * 8; i++) {
		int rc;

		memcpy(mut, buf, n);
		mut[i / 8] ^= (uint8_t)(1u << (i % 8));
		memset(&f.a, 0, sizeof(f.a));
		rc = handle(&f, mut, n, &m);
		CHECK_LOOP(rc < 0 || (f.a.code == 131 && f.a.nevents == 0 && !f.a.state_changed),
			   bad);
		if (rc == 0)
			replied++;
	}
	/* Random bytes, and random bytes behind a plausible header. */
	for (int r = 0; r < 20000; r++) {
		size_t len = rnd() % sizeof(mut);

		for (size_t i = 0; i < len; i++)
			mut[i] = (uint8_t)rnd();
		if (len && (r & 1))
			mut[0] = MIP4_MSG_REG_REQUEST;
		memset(&f.a, 0, sizeof(f.a));
		CHECK_LOOP(handle(&f, mut, len, &m) < 0 || (f.a.nevents == 0 && !f.a.state_changed),
			   bad);
	}
	CHECK_EQ_U64(bad, 0);
	printf("# %u of %zu bit flips answered 131\n", replied, n * 8);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && memcmp(b, &before, sizeof(before)) == 0);
	CHECK_EQ_U64(bcache_entries(ha_engine_bcache(f.ha)), 1);
	CHECK(ha_engine_stats(f.ha)->dropped_malformed > 0);
	CHECK(ha_engine_stats(f.ha)->log_suppressed > 0);   /* the drop log is rate limited */
	/* And the genuine request still works. */
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0);
	ha_engine_free(f.ha);
}

static void test_many_and_persist(void)
{
	enum { N = 1000 };
	struct fx f;
	struct ha_engine *ha2;
	unsigned bad = 0, removed = 0;
	struct ha_actions *a = malloc(sizeof(*a));
	uint8_t *state;
	size_t len, expired = 9;
	struct writer w;
	int rc;
	uint8_t buf[512];
	size_t n;
	struct rq_opts o;
	struct ha_rx_meta m;
	char hoa[ADDR4_STRLEN], coa[ADDR4_STRLEN];
	mm_time_ns t0;

	fx_init(&f, HA_UDP_ALLOW);
	t0 = clock_now(clock_monotonic());
	for (uint32_t i = 1; i <= N; i++) {
		struct in_addr h = { htonl(MANY_BASE + i) }, c = { htonl(0xc6140000u + i) };

		addr4_str(h, hoa);
		addr4_str(c, coa);
		CHECK_LOOP(reg(&f, hoa, coa, (uint16_t)(100 + i % 50), coa, 434) == 0 &&
			   f.a.code == 0 && f.a.events[0].kind == HA_EV_ADDED, bad);
	}
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(bcache_count(ha_engine_bcache(f.ha)), N);
	printf("# %d registrations (build request + engine + reply) in %.1f ms\n", N,
	       (double)(clock_now(clock_monotonic()) - t0) / 1e6);

	/* Save, and load into a fresh engine 30 s later. */
	len = ha_engine_save_len(f.ha);
	state = malloc(len);
	writer_init(&w, state, len);
	CHECK_EQ_U64(ha_engine_save(f.ha, &w), len);
	fx_advance(&f, MM_SEC(30));
	if (ha_engine_new(&f.cfg, &ha2) < 0)
		abort();
	CHECK_EQ_U64(ha_engine_load(ha2, state, len, &expired), 0);
	CHECK_EQ_U64(expired, 0);
	CHECK_EQ_U64(bcache_count(ha_engine_bcache(ha2)), N);
	CHECK_EQ_U64(ha_engine_next_expiry(ha2), ha_engine_next_expiry(f.ha));
	/* A corrupt file changes nothing. */
	state[len / 2] ^= 1;
	CHECK_EQ_U64(ha_engine_load(ha2, state, len, NULL), (uint64_t)-EBADMSG);
	CHECK_EQ_U64(bcache_count(ha_engine_bcache(ha2)), N);

	/* The last request of mobile node 1 is a replay for the restored engine too. */
	o = (struct rq_opts){ .hoa = "198.18.32.1", .coa = "198.20.0.1", .lifetime = 101,
			      .flags = MIP4_REQ_D | MIP4_REQ_T,
			      .ident = ha_engine_lookup(ha2, ip("198.18.32.1"))->ident };
	n = build(&o, buf, sizeof(buf));
	m = meta("198.20.0.1", 434);
	CHECK_EQ_U64(ha_engine_request(ha2, buf, n, &m, a), 0);
	CHECK(a->code == 133 && a->nevents == 0);

	/* Everything expires, in batches of at most HA_EVENTS_MAX. */
	fx_advance(&f, MM_SEC(200));
	while ((rc = ha_engine_expire(ha2, f.mono.now_ns, a)) > 0) {
		CHECK_LOOP(rc <= HA_EVENTS_MAX && (unsigned)rc == a->nevents, bad);
		for (int i = 0; i < rc; i++)
			CHECK_LOOP(a->events[i].kind == HA_EV_REMOVED &&
				   a->events[i].reason == HA_REMOVED_EXPIRED, bad);
		removed += (unsigned)rc;
	}
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(removed, N);
	CHECK_EQ_U64(bcache_count(ha_engine_bcache(ha2)), 0);

	/* Restored after everything expired: bindings dropped, replay state kept. */
	state[len / 2] ^= 1;
	CHECK_EQ_U64(ha_engine_load(ha2, state, len, &expired), 0);
	CHECK_EQ_U64(expired, N);
	CHECK_EQ_U64(bcache_count(ha_engine_bcache(ha2)), 0);
	CHECK_EQ_U64(bcache_entries(ha_engine_bcache(ha2)), N);
	CHECK_EQ_U64(ha_engine_request(ha2, buf, n, &m, a), 0);
	CHECK(a->code == 133);

	free(state);
	free(a);
	ha_engine_free(ha2);
	ha_engine_free(f.ha);
}

/* The journal (bcache.h): what each kind of change names for it, and a restart from an
 * older snapshot plus the records of the changes since. */
static void test_journal(void)
{
	struct fx f;
	struct ha_engine *ha2;
	struct bcache_snapshot_id id;
	struct bcache_journal_result res;
	const struct mip4_binding *b, *b2;
	struct ha_rx_meta m;
	uint8_t *snap, *s1, *s2, j[1024], denied[512], renewal[512];
	size_t slen, l1, l2, nden, nren;
	struct writer w, wj;
	struct mip4_key k;
	int n;

	fx_init(&f, HA_UDP_ALLOW);
	CHECK_EQ_U64(reg(&f, HOA, COA1, 300, COA1, 434), 0);
	CHECK(f.a.state_changed && f.a.home_addr.s_addr == ip(HOA).s_addr);

	/* The snapshot the journal continues. */
	slen = ha_engine_save_len(f.ha);
	snap = malloc(slen);
	writer_init(&w, snap, slen);
	CHECK_EQ_U64(ha_engine_save(f.ha, &w), slen);
	CHECK_EQ_U64(bcache_snapshot_id(snap, slen, &id), 0);
	writer_init(&wj, j, sizeof(j));
	CHECK_EQ_U64(bcache_journal_header(&wj, &id), BCACHE_JOURNAL_HDR_LEN);

	/* 1. An expiry: the event names the entry. */
	CHECK_EQ_U64(reg(&f, "198.18.1.102", COA1, 10, COA1, 434), 0);
	CHECK_EQ_U64(ha_engine_journal_record(f.ha, f.a.home_addr, &id, &wj),
		     BCACHE_JOURNAL_REC_LEN);
	fx_advance(&f, MM_SEC(11));
	CHECK_EQ_U64(ha_engine_expire(f.ha, f.mono.now_ns, &f.a), 1);
	CHECK(f.a.events[0].binding.home_addr.s_addr == ip("198.18.1.102").s_addr);
	CHECK_EQ_U64(ha_engine_journal_record(f.ha, f.a.events[0].binding.home_addr, &id, &wj),
		     BCACHE_JOURNAL_REC_LEN);
	CHECK_EQ_U64(ha_engine_journal_record(f.ha, ip("198.18.1.200"), &id, &wj),
		     (uint64_t)-ENOENT);

	/* 2. A move to another care-of address: HOA's record. */
	nren = build(&(struct rq_opts){ .hoa = HOA, .coa = COA2, .lifetime = 200,
					.flags = MIP4_REQ_D | MIP4_REQ_T, .ident = fresh(&f) },
		     renewal, sizeof(renewal));
	m = meta(COA2, 434);
	CHECK_EQ_U64(handle(&f, renewal, nren, &m), 0);
	CHECK(f.a.code == 0 && f.a.state_changed && f.a.home_addr.s_addr == ip(HOA).s_addr);
	CHECK_EQ_U64(ha_engine_journal_record(f.ha, f.a.home_addr, &id, &wj),
		     BCACHE_JOURNAL_REC_LEN);

	/* 3. Denied after the Identification check (136: names another home agent): no
	 * binding event, but HOA2's replay state changed and has to be journalled. */
	nden = build(&(struct rq_opts){ .hoa = HOA2, .coa = COA1, .lifetime = 100,
					.ha = "198.18.1.7", .ident = fresh(&f) },
		     denied, sizeof(denied));
	m = meta(COA1, 434);
	CHECK_EQ_U64(handle(&f, denied, nden, &m), 0);
	CHECK(f.a.code == 136 && f.a.nevents == 0 && f.a.state_changed &&
	      f.a.home_addr.s_addr == ip(HOA2).s_addr);
	CHECK_EQ_U64(ha_engine_journal_record(f.ha, f.a.home_addr, &id, &wj),
		     BCACHE_JOURNAL_REC_LEN);

	/* 4. A wrong authenticator (131): nothing changed, nothing to journal. */
	denied[nden - 1] ^= 1;
	m = meta(COA1, 434);
	CHECK_EQ_U64(handle(&f, denied, nden, &m), 0);
	CHECK(f.a.code == 131 && !f.a.state_changed);
	denied[nden - 1] ^= 1;

	/* Restart 2 s later: the snapshot alone misses all of that... */
	fx_advance(&f, MM_SEC(2));
	if (ha_engine_new(&f.cfg, &ha2) < 0)
		abort();
	CHECK_EQ_U64(ha_engine_load(ha2, snap, slen, NULL), 0);
	b = ha_engine_lookup(ha2, ip(HOA));
	CHECK(b && b->coa.s_addr == ip(COA1).s_addr);
	m = meta(COA1, 434);
	CHECK_EQ_U64(ha_engine_request(ha2, denied, nden, &m, &f.a), 0);
	CHECK_EQ_U64(f.a.code, 136);            /* not known as a replay without the journal */
	ha_engine_free(ha2);

	/* ...with the journal, the restored engine is the one that went down. */
	if (ha_engine_new(&f.cfg, &ha2) < 0)
		abort();
	CHECK_EQ_U64(ha_engine_load(ha2, snap, slen, NULL), 0);
	CHECK_EQ_U64(ha_engine_journal_replay(ha2, j, writer_len(&wj), &id, &res), 0);
	/* (the first record of 198.18.1.102 holds a binding that is over by now) */
	CHECK(res.applied == 4 && res.why == BCACHE_JOURNAL_END && res.expired == 1);
	b = ha_engine_lookup(ha2, ip(HOA));
	b2 = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b2 && b->coa.s_addr == ip(COA2).s_addr && b->lifetime == 200 &&
	      b->ident == b2->ident && b->expires_at == b2->expires_at && b->registrations == 2);
	CHECK(ha_engine_lookup(ha2, ip("198.18.1.102")) == NULL);
	CHECK_EQ_U64(bcache_entries(ha_engine_bcache(ha2)), 3);
	l1 = ha_engine_save_len(f.ha);
	l2 = ha_engine_save_len(ha2);
	s1 = malloc(l1);
	s2 = malloc(l2);
	writer_init(&w, s1, l1);
	n = ha_engine_save(f.ha, &w);
	CHECK_EQ_U64(n, l1);
	writer_init(&w, s2, l2);
	n = ha_engine_save(ha2, &w);
	CHECK(l1 == l2 && n == (int)l2 && memcmp(s1, s2, l1) == 0);
	/* Both requests are replays for it now (§5.7.1): 133, and nothing changes. */
	m = meta(COA1, 434);
	CHECK_EQ_U64(ha_engine_request(ha2, denied, nden, &m, &f.a), 0);
	CHECK(f.a.code == 133 && !f.a.state_changed);
	m = meta(COA2, 434);
	CHECK_EQ_U64(ha_engine_request(ha2, renewal, nren, &m, &f.a), 0);
	CHECK(f.a.code == 133 && !f.a.state_changed);
	/* The reply is still authenticated with HOA's key. */
	k = key_of(ip(HOA));
	{
		struct mip4_reg_reply rep;

		CHECK(mip4_reply_parse(f.a.reply, f.a.reply_len, &rep) == 0 &&
		      mip4_auth_verify_key(f.a.reply, f.a.reply_len, &rep.mn_ha, &k) == 0);
	}
	mip4_key_wipe(&k);
	CHECK_EQ_U64(ha_engine_journal_replay(NULL, j, writer_len(&wj), &id, &res),
		     (uint64_t)-EINVAL);
	free(s1);
	free(s2);
	free(snap);
	ha_engine_free(ha2);
	ha_engine_free(f.ha);
}

/* RFC 5265 §4.3: an internal home agent with trusted networks. */
#define UNTRUSTED "203.0.113.7"
#define TIA "10.1.0.9"            /* a VPN tunnel inner address: 10.0.0.0/8 is trusted */
#define FA_IN "198.18.11.1"       /* a foreign agent inside the trusted 198.18.11.0/24 */

static void fx_trusted(struct fx *f)
{
	fx_init(f, HA_UDP_ALLOW);
	ha_engine_free(f->ha);
	f->cfg.ntrusted = 4;
	f->cfg.trusted[0] = (struct ha_prefix){ ip("198.18.11.0"), 24 };
	f->cfg.trusted[1] = (struct ha_prefix){ ip("10.1.2.3"), 8 };  /* host bits: cleared */
	f->cfg.trusted[2] = (struct ha_prefix){ ip("198.18.1.0"), 24 };
	f->cfg.trusted[3] = (struct ha_prefix){ ip(NAT), 32 };
	if (ha_engine_new(&f->cfg, &f->ha) < 0)
		abort();
}

/* The reply in f->a authenticates for hoa and has a TNC under its MN-HA. */
static bool reply_tnc(const struct fx *f, const char *hoa, struct mip4_reg_reply *rep)
{
	return reply_ok(f, hoa, rep) && rep->tnc.present &&
	       rep->tnc.where == MIP4_EXT_BEFORE_MN_HA && mip4_reply_tnc_protected(rep);
}

static void test_trusted_networks(void)
{
	struct fx f;
	struct ha_engine *ha = NULL;
	struct ha_engine_config c;
	struct mip4_reg_reply rep;
	struct rq_opts o;
	struct ha_rx_meta m;
	uint8_t buf[512];
	size_t n;
	unsigned bad = 0;
	const struct ha_stats *st;

	/* Not configured: every source is served and no reply carries a TNC. */
	fx_init(&f, HA_UDP_ALLOW);
	CHECK(ha_engine_source_trusted(f.ha, ip(UNTRUSTED)));
	CHECK_EQ_U64(reg(&f, HOA, COA1, 300, COA1, 434), 0);
	CHECK(reply_ok(&f, HOA, &rep) && rep.code == 0 && !rep.tnc.present);
	CHECK_EQ_U64(reg(&f, HOA, UNTRUSTED, 300, UNTRUSTED, 434), 0);
	CHECK(reply_ok(&f, HOA, &rep) && rep.code == 0 && !rep.tnc.present);
	CHECK_EQ_U64(ha_engine_stats(f.ha)->dropped_untrusted, 0);
	/* Configuration limits. */
	c = f.cfg;
	c.ntrusted = HA_TRUSTED_MAX + 1;
	CHECK_EQ_U64(ha_engine_new(&c, &ha), (uint64_t)-EINVAL);
	c.ntrusted = 1;
	c.trusted[0] = (struct ha_prefix){ ip("198.18.11.0"), 33 };
	CHECK_EQ_U64(ha_engine_new(&c, &ha), (uint64_t)-EINVAL);
	CHECK(ha == NULL);
	c.ntrusted = HA_TRUSTED_MAX;
	for (unsigned i = 0; i < HA_TRUSTED_MAX; i++)
		c.trusted[i] = (struct ha_prefix){ ip("198.18.11.0"), 24 + i / 2 };
	CHECK_EQ_U64(ha_engine_new(&c, &ha), 0);
	ha_engine_free(ha);
	ha_engine_free(f.ha);

	fx_trusted(&f);
	/* Membership, at the edges; the host bits of 10.1.2.3/8 are cleared. */
	CHECK(ha_engine_config(f.ha)->trusted[1].net.s_addr == ip("10.0.0.0").s_addr);
	CHECK(ha_engine_source_trusted(f.ha, ip("198.18.11.0")));
	CHECK(ha_engine_source_trusted(f.ha, ip("198.18.11.255")));
	CHECK(!ha_engine_source_trusted(f.ha, ip("198.18.10.255")));
	CHECK(!ha_engine_source_trusted(f.ha, ip("198.18.12.0")));
	CHECK(ha_engine_source_trusted(f.ha, ip("10.255.255.255")));
	CHECK(!ha_engine_source_trusted(f.ha, ip("11.0.0.0")));
	CHECK(ha_engine_source_trusted(f.ha, ip(NAT)));
	CHECK(!ha_engine_source_trusted(f.ha, ip("198.18.200.2")));
	CHECK(!ha_engine_source_trusted(f.ha, ip(UNTRUSTED)));

	/* From a trusted source: accepted, and the reply carries the TNC under MN-HA. */
	CHECK_EQ_U64(reg(&f, HOA, COA1, 300, COA1, 434), 0);
	CHECK(f.a.code == 0 && f.a.events[0].kind == HA_EV_ADDED);
	CHECK(reply_tnc(&f, HOA, &rep) && rep.code == 0);

	/* From outside: the very request a trusted source would get accepted is dropped
	 * silently, before anything else: no reply, no state, no replay state used up. */
	o = (struct rq_opts){ .hoa = HOA, .coa = COA1, .lifetime = 300,
			      .flags = MIP4_REQ_D | MIP4_REQ_T, .ident = fresh(&f) };
	n = build(&o, buf, sizeof(buf));
	m = meta(UNTRUSTED, 434);
	expect_silent(&f, buf, n, &m, -EACCES, &bad);
	m = meta("198.18.12.20", 434);     /* next door to a trusted /24 */
	expect_silent(&f, buf, n, &m, -EACCES, &bad);
	m = meta(COA1, 434);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0 && reply_tnc(&f, HOA, &rep) && rep.ident == o.ident);
	/* A bad authenticator from outside gets no 131 either, garbage is not "malformed". */
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	buf[n - 1] ^= 1;
	m = meta(UNTRUSTED, 434);
	expect_silent(&f, buf, n, &m, -EACCES, &bad);
	expect_silent(&f, buf, 3, &m, -EACCES, &bad);
	st = ha_engine_stats(f.ha);
	CHECK_EQ_U64(st->dropped_untrusted, 4);
	CHECK_EQ_U64(st->auth_failures, 0);
	CHECK_EQ_U64(st->dropped_malformed, 0);
	CHECK_EQ_U64(st->requests, 5);  /* whole Type 1 fixed parts: 2 served, 3 dropped */
	/* ... the same bad authenticator from inside: 131, with the TNC as well (§4.3: every
	 * reply to a trusted source). */
	m = meta(COA1, 434);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_MN_AUTH_FAILED && reply_tnc(&f, HOA, &rep));
	/* Denials after the Identification check too (136: not our address). */
	n = build(&(struct rq_opts){ .hoa = HOA, .coa = COA1, .lifetime = 300, .ha = HOA2,
				     .flags = MIP4_REQ_D, .ident = fresh(&f) }, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_UNKNOWN_HA_ADDRESS && reply_tnc(&f, HOA, &rep));

	/* Only the IP source counts, however the request got here. Through the VPN: the
	 * tunnel inner address is source and co-located care-of address. */
	CHECK_EQ_U64(reg(&f, HOA2, TIA, 300, TIA, 434), 0);
	CHECK(f.a.code == 0 && reply_tnc(&f, HOA2, &rep));
	/* Relayed by a foreign agent (no D; source = the FA): inside, served; the same
	 * request relayed from outside, dropped although its care-of address is inside. */
	o = (struct rq_opts){ .hoa = HOA2, .coa = FA_IN, .lifetime = 300, .flags = MIP4_REQ_T,
			      .ident = fresh(&f) };
	n = build(&o, buf, sizeof(buf));
	m = meta(UNTRUSTED, 434);
	memset(&f.a, 0xa5, sizeof(f.a));
	CHECK(handle(&f, buf, n, &m) == -EACCES && f.a.nevents == 0xa5a5a5a5);
	m = meta(FA_IN, 434);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0 && reply_tnc(&f, HOA2, &rep));
	CHECK(ha_engine_lookup(f.ha, ip(HOA2))->coa.s_addr == ip(FA_IN).s_addr);
	/* Behind a NAT whose public address is trusted: the UDP Tunnel Reply and the TNC,
	 * both under MN-HA. */
	o = (struct rq_opts){ .hoa = HOA2, .coa = PRIV, .lifetime = 300,
			      .flags = MIP4_REQ_D | MIP4_REQ_T, .udp = true,
			      .udp_encap = MIP4_UDPT_ENCAP_IPIP, .ident = fresh(&f) };
	n = build(&o, buf, sizeof(buf));
	m = meta(NAT, 40123);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0 && reply_tnc(&f, HOA2, &rep));
	CHECK(rep.udp_reply.present && rep.udp_reply.code == MIP4_UDPT_CODE_ACCEPT);
	CHECK(ha_engine_lookup(f.ha, ip(HOA2))->encap == MIP4_ENCAP_UDP);
	/* Deregistration from the home link (198.18.1.0/24 is listed). */
	n = build(&(struct rq_opts){ .hoa = HOA, .coa = HOA, .lifetime = 0,
				     .ident = fresh(&f) }, buf, sizeof(buf));
	m = meta(HOA, 434);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0 && f.a.reply_on_home_link && reply_tnc(&f, HOA, &rep));
	CHECK(ha_engine_lookup(f.ha, ip(HOA)) == NULL);
	CHECK_EQ_U64(ha_engine_stats(f.ha)->dropped_untrusted, 5);
	CHECK_EQ_U64(bad, 0);
	ha_engine_free(f.ha);

	/* The drop is logged (§4.3 "SHOULD be logged"), naming the source. */
	{
		FILE *log = tmpfile();
		char text[4096];
		size_t len;

		log_set_stream(log);
		log_set_format(LOG_FORMAT_JOURNAL);
		log_set_level(LOG_LEVEL_DEBUG);
		fx_trusted(&f);
		n = build(&(struct rq_opts){ .hoa = HOA, .coa = COA1, .lifetime = 300,
					     .flags = MIP4_REQ_D, .ident = fresh(&f) },
			  buf, sizeof(buf));
		m = meta(UNTRUSTED, 5555);
		handle(&f, buf, n, &m);
		fflush(log);
		rewind(log);
		len = fread(text, 1, sizeof(text) - 1, log);
		text[len] = 0;
		log_set_stream(NULL);
		log_set_level(LOG_LEVEL_ERROR);
		fclose(log);
		CHECK(strstr(text, "<4>ha[198.18.1.1]: dropped: message from 203.0.113.7:5555 "
			      "(type 1, 46 bytes): source is outside the trusted networks "
			      "(RFC 5265 section 4.3)") != NULL);
		if (tap_failed)
			printf("# log:\n%s", text);
		ha_engine_free(f.ha);
	}
}

/* --- foreign agents (RFC 5944 §3.7.2.2, §3.8.2.1 c-d, §3.8.3.3) ------------------------- */

#define FA_COA   "198.18.5.1"   /* shares key "ha-fa-secret-16b", SPI 0x900, with us */
#define FA_OTHER "198.18.6.1"   /* shares none */
#define FA_SPI   0x900

static struct mip4_key fa_key(void)
{
	struct mip4_key k;

	if (mip4_key_set(&k, FA_SPI, "ha-fa-secret-16b", 16) < 0)
		abort();
	return k;
}

static int fa_lookup(void *ctx, struct in_addr fa, struct mip4_key *out)
{
	(void)ctx;
	if (fa.s_addr != ip(FA_COA).s_addr)
		return -ENOENT;
	*out = fa_key();
	return 0;
}

/* A request as a foreign agent relays it: D clear, care-of address = the FA's, optionally
 * with FA-HA under key (spi overrides its SPI when nonzero). */
static size_t build_relayed(const struct rq_opts *o, bool faha, uint32_t spi, uint8_t *buf,
			    size_t cap)
{
	size_t n = build(o, buf, cap);
	struct mip4_key k = fa_key();
	struct writer w;

	if (spi)
		k.spi = spi;
	writer_init_filled(&w, buf, cap, n);
	if (faha && mip4_auth_append(&w, 0, MIP4_EXT_FA_HA_AUTH, &k) < 0)
		abort();
	mip4_key_wipe(&k);
	return writer_len(&w);
}

/* The reply in f->a carries FA-HA, last, verifying with the FA's key. */
static bool reply_has_faha(const struct fx *f, const struct mip4_reg_reply *rep)
{
	struct mip4_key k = fa_key();
	bool ok = rep->fa_ha.present && rep->fa_ha.spi == FA_SPI &&
		  rep->fa_ha.auth_off + rep->fa_ha.auth_len == f->a.reply_len &&
		  mip4_auth_verify_key(f->a.reply, f->a.reply_len, &rep->fa_ha, &k) == 0;

	mip4_key_wipe(&k);
	return ok;
}

static void test_foreign_agent(void)
{
	struct fx f;
	struct mip4_reg_reply rep;
	struct rq_opts o;
	uint8_t buf[512], want[256];
	size_t n, wn;
	struct ha_rx_meta m = meta(FA_COA, 5434);
	const struct mip4_binding *b;
	unsigned bad = 0;

	/* No foreign-agent keys configured: a relayed request (D clear, from the FA's care-of
	 * address) is served; the binding tunnels IP-in-IP to that address; the reply goes
	 * back to the FA's address and port, without FA-HA. */
	fx_init(&f, HA_UDP_ALLOW);
	o = (struct rq_opts){ .hoa = HOA, .coa = FA_COA, .lifetime = 300, .flags = MIP4_REQ_T,
			      .ident = fresh(&f) };
	n = build_relayed(&o, false, 0, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0 && reply_ok(&f, HOA, &rep) && !rep.fa_ha.present);
	CHECK_EQ_U64(f.a.reply_to.sin_addr.s_addr, ip(FA_COA).s_addr);
	CHECK_EQ_U64(ntohs(f.a.reply_to.sin_port), 5434);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->coa.s_addr == ip(FA_COA).s_addr && b->ep_addr.s_addr == ip(FA_COA).s_addr &&
	      b->encap == MIP4_ENCAP_IPIP && (b->req_flags & MIP4_REQ_T));
	/* ... relayed from another address of the FA (§3.7.3.1 allows it): no NAT concluded
	 * for a foreign agent care-of address, the tunnel still goes to the care-of address. */
	o.ident = fresh(&f);
	n = build_relayed(&o, false, 0, buf, sizeof(buf));
	m = meta(FA_OTHER, 434);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0 && f.a.reply_to.sin_addr.s_addr == ip(FA_OTHER).s_addr);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->ep_addr.s_addr == ip(FA_COA).s_addr && b->encap == MIP4_ENCAP_IPIP);
	/* FA-HA from an FA we share nothing with: discarded (§3.8.2.1 d). */
	o.ident = fresh(&f);
	n = build_relayed(&o, true, 0, buf, sizeof(buf));
	m = meta(FA_COA, 434);
	expect_silent(&f, buf, n, &m, -EPERM, &bad);
	CHECK_EQ_U64(bad, 0);
	ha_engine_free(f.ha);

	/* With a key shared with FA_COA. */
	fx_init(&f, HA_UDP_ALLOW);
	ha_engine_free(f.ha);
	f.cfg.fa_key_lookup = fa_lookup;
	if (ha_engine_new(&f.cfg, &f.ha) < 0)
		abort();
	m = meta(FA_COA, 434);
	/* Known answer: Identification = the wall clock's NTP seconds << 32 | 0x100; the
	 * reply's MN-HA (key secret_for(HOA), SPI 1356) and FA-HA (SPI 0x900) computed with
	 * the OpenSSL command line (openssl dgst -md5 -mac HMAC -macopt hexkey:...) over the
	 * fixed part built by hand from RFC 5944 §3.4. */
	o.ident = UINT64_C(0xeccccd0000000100);
	n = build_relayed(&o, true, 0, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	wn = hexvec("0300012c c6120164 c6120101 eccccd0000000100"
		    "2014 0000054c 911481ed838a1222028187d4daebd284"
		    "2214 00000900 7efa07846c9fa4854c95f408f0548ade", want, sizeof(want));
	CHECK_EQ_U64(f.a.reply_len, wn);
	CHECK_MEM(f.a.reply, want, wn);
	CHECK(reply_ok(&f, HOA, &rep) && rep.code == 0 && reply_has_faha(&f, &rep));
	/* No FA-HA on a registration -> 132, itself with FA-HA; the binding untouched. */
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->ident == UINT64_C(0xeccccd0000000100));
	f.ident_ctr = 1;  /* fresh() goes on after the fixed Identification */
	o.ident = fresh(&f);
	n = build_relayed(&o, false, 0, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_FA_AUTH_FAILED && reply_ok(&f, HOA, &rep) &&
	      reply_has_faha(&f, &rep) && f.a.nevents == 0);
	/* A wrong authenticator, or another SPI -> 132. */
	o.ident = fresh(&f);
	n = build_relayed(&o, true, 0, buf, sizeof(buf));
	buf[n - 1] ^= 0x10;
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_FA_AUTH_FAILED && f.a.nevents == 0);
	o.ident = fresh(&f);
	n = build_relayed(&o, true, FA_SPI + 1, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_FA_AUTH_FAILED);
	CHECK_EQ_U64(ha_engine_stats(f.ha)->fa_auth_failures, 3);
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->ident == UINT64_C(0xeccccd0000000100));
	/* A wrong MN-HA from that FA: 131, with FA-HA too (§3.8.3.3 e). */
	o.ident = fresh(&f);
	n = build(&o, buf, sizeof(buf));
	buf[n - 1] ^= 1;
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == MIP4_CODE_HA_MN_AUTH_FAILED && reply_ok(&f, HOA, &rep) &&
	      reply_has_faha(&f, &rep));
	/* A deregistration needs no FA-HA (§3.8.2.1 c: "has non-zero Lifetime"). */
	o.ident = fresh(&f);
	o.lifetime = 0;
	n = build_relayed(&o, false, 0, buf, sizeof(buf));
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0 && f.a.nevents == 1 && f.a.events[0].kind == HA_EV_REMOVED &&
	      reply_has_faha(&f, &rep));
	/* A request from a source we share no FA key with is plain RFC 5944: no FA-HA
	 * needed, none added. */
	o.ident = fresh(&f);
	o.lifetime = 300;
	n = build_relayed(&o, false, 0, buf, sizeof(buf));
	m = meta(FA_OTHER, 434);
	CHECK_EQ_U64(handle(&f, buf, n, &m), 0);
	CHECK(f.a.code == 0 && reply_ok(&f, HOA, &rep) && !rep.fa_ha.present);
	ha_engine_free(f.ha);
}

/* The whole path through both engines: mobile node -> foreign agent -> home agent ->
 * foreign agent -> mobile node, with MN-HA (home agent), FA-HA (both) and the visitor. */
static int fa_side_ha_key(void *ctx, struct in_addr ha, struct mip4_key *out)
{
	(void)ctx;
	if (ha.s_addr != ip(HA).s_addr)
		return -ENOENT;
	*out = fa_key();
	return 0;
}

static void test_fa_end_to_end(void)
{
	struct fx f;
	struct fa_engine *fa;
	struct fa_engine_config fc;
	static struct fa_actions fo;
	struct fa_req_meta rm;
	struct fa_rep_meta pm;
	struct ha_rx_meta hm;
	struct mip4_reg_reply rep;
	struct mip4_key k = key_of(ip(HOA));
	struct rq_opts o;
	uint8_t buf[512];
	size_t n;
	const struct fa_visitor *v;
	const struct mip4_binding *b;

	fx_init(&f, HA_UDP_ALLOW);
	ha_engine_free(f.ha);
	f.cfg.fa_key_lookup = fa_lookup;
	if (ha_engine_new(&f.cfg, &f.ha) < 0)
		abort();
	memset(&fc, 0, sizeof(fc));
	fc.coa = ip(FA_COA);
	fc.reverse = FA_RT_OFFER;
	fc.ha_key = fa_side_ha_key;
	fc.clock = &f.mono.base;
	CHECK_EQ_U64(fa_engine_new(&fc, &fa), 0);

	/* The mobile node asks the FA (reverse tunnel, lifetime 300). */
	o = (struct rq_opts){ .hoa = HOA, .coa = FA_COA, .lifetime = 300, .flags = MIP4_REQ_T,
			      .ident = fresh(&f) };
	n = build(&o, buf, sizeof(buf));
	memset(&rm, 0, sizeof(rm));
	rm.src.sin_family = AF_INET;
	rm.src.sin_addr = ip(HOA);
	rm.src.sin_port = htons(4321);
	rm.dst = ip(FA_COA);
	rm.lladdr[0] = 2;
	rm.ifindex = 7;
	rm.ttl = 255;
	CHECK_EQ_U64(fa_engine_request(fa, buf, n, &rm, &fo), 0);
	CHECK(fo.nsends == 1 && !fo.sends[0].to_mn);
	/* The FA relays it to us from its care-of address. */
	hm = meta(FA_COA, 434);
	CHECK_EQ_U64(fo.sends[0].dst.sin_addr.s_addr, ip(HA).s_addr);
	CHECK_EQ_U64(handle(&f, fo.sends[0].msg, fo.sends[0].len, &hm), 0);
	CHECK(f.a.code == 0 && reply_ok(&f, HOA, &rep) && reply_has_faha(&f, &rep));
	b = ha_engine_lookup(f.ha, ip(HOA));
	CHECK(b && b->coa.s_addr == ip(FA_COA).s_addr && b->encap == MIP4_ENCAP_IPIP);
	/* Our reply goes to the FA, which checks FA-HA and relays it to the mobile node. */
	pm.src = f.a.reply_to;
	pm.src.sin_addr = f.a.reply_from;
	pm.dst = f.a.reply_to.sin_addr;
	CHECK_EQ_U64(fa_engine_reply(fa, f.a.reply, f.a.reply_len, &pm, &fo), 0);
	CHECK(fo.nsends == 1 && fo.sends[0].to_mn && fo.sends[0].code == 0);
	CHECK(mip4_reply_parse(fo.sends[0].msg, fo.sends[0].len, &rep) == 0 &&
	      !rep.fa_ha.present &&
	      mip4_auth_verify_key(fo.sends[0].msg, fo.sends[0].len, &rep.mn_ha, &k) == 0);
	CHECK_EQ_U64(fo.sends[0].dst.sin_addr.s_addr, ip(HOA).s_addr);
	CHECK_EQ_U64(ntohs(fo.sends[0].dst.sin_port), 4321);
	v = fa_engine_visitor(fa, ip(HOA));
	CHECK(v && v->lifetime == 300 && v->reverse_tunnel && v->ifindex == 7 &&
	      v->home_agent.s_addr == ip(HA).s_addr);
	fa_engine_free(fa);
	ha_engine_free(f.ha);
	mip4_key_wipe(&k);
}

static void test_log_lines(void)
{
	struct fx f;
	FILE *log = tmpfile();
	char text[8192];
	size_t n;
	uint8_t buf[512];
	struct ha_rx_meta m = meta(COA1, 434);

	log_set_stream(log);
	log_set_format(LOG_FORMAT_JOURNAL);
	log_set_level(LOG_LEVEL_DEBUG);
	fx_init(&f, HA_UDP_ALLOW);
	reg(&f, HOA, COA1, 300, COA1, 434);
	n = build(&(struct rq_opts){ .hoa = HOA, .coa = COA1, .lifetime = 300, .ha = HOA2,
				     .ident = fresh(&f) }, buf, sizeof(buf));
	handle(&f, buf, n, &m);
	handle(&f, buf, 3, &m);
	reg(&f, HOA, HOA, 0, HOA, 434);
	fflush(log);
	rewind(log);
	n = fread(text, 1, sizeof(text) - 1, log);
	text[n] = 0;
	log_set_stream(NULL);
	fclose(log);
	CHECK(strstr(text, "<5>ha[binding 198.18.1.100]: registered: care-of 198.18.11.10 via "
		      "ipip") != NULL);
	CHECK(strstr(text, "denied code=136 (ha_unknown_ha_address)") != NULL ||
	      strstr(text, "denied code=136 (") != NULL);
	CHECK(strstr(text, "<4>ha[198.18.1.1]: dropped: malformed Registration Request") != NULL);
	CHECK(strstr(text, "]: deregistered (was care-of 198.18.11.10") != NULL);
	if (tap_failed)
		printf("# log:\n%s", text);
	ha_engine_free(f.ha);
}

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	test_config();
	test_accept_renew_move_dereg();
	test_lifetime_and_expiry();
	test_authentication();
	test_identification();
	test_checks();
	test_udp();
	test_hostile();
	test_many_and_persist();
	test_journal();
	test_trusted_networks();
	test_foreign_agent();
	test_fa_end_to_end();
	test_log_lines();
	return tap_done();
}
