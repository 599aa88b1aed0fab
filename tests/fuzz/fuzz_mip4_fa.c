/* Fuzz target: the foreign agent relay engine (mip4/fa_engine.c) fed Registration Requests
 * and Replies interleaved, with time moving.
 *
 * The input is a script of operations, each an op byte then its arguments:
 *	0 LEN(2) BYTES   a datagram from the visited link to fa_engine_request(); the next
 *	                 byte picks the mobile node (source, link-layer address) and the TTL
 *	1 LEN(2) BYTES   a datagram from a home agent to fa_engine_reply(); the next byte picks
 *	                 the source (one of the home agents, or a stranger)
 *	2 N              the clock moves N * 100 ms, then fa_engine_timer() until done
 *	3 A B C D        a well-formed request built from A-D (node, home agent, lifetime,
 *	                 flags, MN-FA), so that the script reaches relays and replies easily
 *	4 A B            a reply from the home agent to the last relayed request, code and
 *	                 lifetime from A and B, with a valid or wrong FA-HA
 *	5 T C            an ICMP error (type T, code C) for the last relayed request
 * Invariants (any violation is a __builtin_trap()):
 *  - a call that fails leaves its actions untouched;
 *  - every relayed request re-parses with the codec, keeps the input's bytes through
 *    Mobile-Home Authentication, goes to port 434 of the Home Agent field's address from
 *    our care-of address; every message to a mobile node parses as a Registration Reply;
 *  - visitors <= max_visitors, pending <= max_pending, iteration sees exactly the visitor
 *    count, and each visitor is found by its own home address;
 *  - after the timer has run to completion nothing is due any more.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "mip4/fa_engine.h"
#include "mip4/reg.h"

#define NODES 4
#define AGENTS 3
#define MAX_VISITORS 6
#define MAX_PENDING 3

static const uint32_t node_addr[NODES] = {
	0xc6120164u, 0xc6120165u, 0xc6120264u, 0x00000000u,   /* the last: 0.0.0.0 */
};
static const uint32_t agent_addr[AGENTS] = {
	0xc6120101u,  /* 198.18.1.1: shares an FA-HA key with us */
	0xc6120201u,  /* 198.18.2.1: shares none */
	0xc6120501u,  /* 198.18.5.1: our own care-of address */
};
#define COA_ADDR 0xc6120501u

static struct fake_clock clk;
static struct fa_actions acts, sentinel;
static uint8_t last_relay[FA_MSG_MAX];
static size_t last_relay_len;
static struct in_addr last_relay_ha;
static uint64_t ident_ctr;

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static struct in_addr a4(uint32_t h)
{
	struct in_addr a = { htonl(h) };

	return a;
}

static struct mip4_key mkkey(uint32_t spi, const char *s)
{
	struct mip4_key k;

	memset(&k, 0, sizeof(k));
	mip4_key_set(&k, spi, s, strlen(s));
	return k;
}

static int mn_lookup(void *ctx, struct in_addr hoa, uint32_t spi, struct mip4_key *out)
{
	(void)ctx;
	if (hoa.s_addr != a4(node_addr[0]).s_addr || spi != 768)
		return -ENOENT;
	*out = mkkey(768, "mn-fa-secret-16b");
	return 0;
}

static int ha_lookup(void *ctx, struct in_addr ha, struct mip4_key *out)
{
	(void)ctx;
	if (ha.s_addr != a4(agent_addr[0]).s_addr)
		return -ENOENT;
	*out = mkkey(512, "fa-ha-secret-16b");
	return 0;
}

static struct fa_req_meta req_meta(uint8_t sel)
{
	struct fa_req_meta m;

	memset(&m, 0, sizeof(m));
	m.src.sin_family = AF_INET;
	m.src.sin_addr = a4(node_addr[sel % NODES]);
	m.src.sin_port = htons((uint16_t)(434 + (sel >> 6)));
	m.dst = (sel & 0x10) ? a4(0xe000000bu) : a4(COA_ADDR);
	m.lladdr[0] = 2;
	m.lladdr[5] = (uint8_t)(sel % NODES);
	m.ifindex = 3;
	m.ttl = (sel & 0x20) ? 64 : 255;
	return m;
}

/* The invariants on what a successful call produced. */
static void check_actions(const uint8_t *in, size_t in_len, bool from_mn)
{
	check(acts.nsends <= FA_SENDS_MAX && acts.nevents <= FA_EVENTS_MAX);
	for (unsigned i = 0; i < acts.nsends; i++) {
		const struct fa_send *s = &acts.sends[i];

		check(s->len > 0 && s->len <= FA_MSG_MAX);
		struct mip4_reg_request req;
		struct mip4_reg_reply rep;
		size_t keep;

		if (s->to_mn) {
			check(mip4_reply_parse(s->msg, s->len, &rep) == 0);
			check(s->ifindex == 3);
			continue;
		}
		/* A relayed request: only fa_engine_request() makes one. */
		check(from_mn);
		check(mip4_request_parse(s->msg, s->len, &req) == 0);
		keep = req.mn_ha.auth_off + req.mn_ha.auth_len;
		check(keep <= in_len && memcmp(s->msg, in, keep) == 0);
		check(!req.mn_fa.present && !req.eds);
		check(s->dst.sin_addr.s_addr == req.home_agent.s_addr &&
		      ntohs(s->dst.sin_port) == MIP4_PORT && s->src.s_addr == htonl(COA_ADDR));
		memcpy(last_relay, s->msg, s->len);
		last_relay_len = s->len;
		last_relay_ha = req.home_agent;
	}
}

static void check_table(struct fa_engine *fa)
{
	const struct fa_visitor *v;
	size_t it = 0, n = 0;

	check(fa_engine_visitor_count(fa) <= MAX_VISITORS);
	check(fa_engine_pending_count(fa) <= MAX_PENDING);
	while ((v = fa_engine_visitor_next(fa, &it)) != NULL) {
		check(fa_engine_visitor(fa, v->home_addr) == v);
		check(v->lifetime > 0);
		n++;
	}
	check(n == fa_engine_visitor_count(fa));
}

static void do_request(struct fa_engine *fa, const uint8_t *msg, size_t len, uint8_t sel)
{
	struct fa_req_meta m = req_meta(sel);
	int rc;

	acts = sentinel;
	rc = fa_engine_request(fa, msg, len, &m, &acts);
	if (rc < 0) {
		check(memcmp(&acts, &sentinel, sizeof(acts)) == 0);
		return;
	}
	check(rc == 0);
	check_actions(msg, len, true);
}

static void do_reply(struct fa_engine *fa, const uint8_t *msg, size_t len, uint8_t sel)
{
	struct fa_rep_meta m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.src.sin_family = AF_INET;
	m.src.sin_addr = (sel & 3) == 3 ? a4(0xc6130909u) : a4(agent_addr[(sel & 3) % AGENTS]);
	m.src.sin_port = htons(MIP4_PORT);
	m.dst = a4(COA_ADDR);
	acts = sentinel;
	rc = fa_engine_reply(fa, msg, len, &m, &acts);
	if (rc < 0) {
		check(memcmp(&acts, &sentinel, sizeof(acts)) == 0);
		return;
	}
	check(rc == 0);
	check_actions(msg, len, false);
}

static void do_timer(struct fa_engine *fa, uint8_t n)
{
	int rounds = 0;

	fake_clock_advance(&clk, MM_MSEC(100) * n);
	do {
		check(fa_engine_timer(fa, clk.now_ns, &acts) >= 0);
		check_actions(NULL, 0, false);
		check_table(fa);
		check(++rounds < 100);
	} while (acts.more);
	check(fa_engine_next_deadline(fa) > clk.now_ns);
}

static void do_built_request(struct fa_engine *fa, const uint8_t p[4])
{
	struct mip4_reg_request r;
	struct mip4_key mh = mkkey(256, "mn-ha-secret-16b");
	struct mip4_key mf = mkkey(768, "mn-fa-secret-16b");
	uint8_t buf[256];
	struct writer w;
	int n;

	memset(&r, 0, sizeof(r));
	r.home_addr = a4(node_addr[p[0] % NODES]);
	r.home_agent = a4(agent_addr[(p[0] >> 2) % AGENTS]);
	r.coa = (p[0] & 0x40) ? a4(0xc6130909u) : a4(COA_ADDR);
	r.lifetime = p[1] == 0xff ? 0xffff : (uint16_t)(p[1] * 4);
	r.flags = p[2] & (uint8_t)~(MIP4_REQ_RESERVED);
	r.eds = (p[3] & 1) && (r.flags & MIP4_REQ_T);
	r.ident = ++ident_ctr;
	writer_init(&w, buf, sizeof(buf));
	n = mip4_request_encode(&w, &r, &mh, (p[3] & 2) ? &mf : NULL);
	mip4_key_wipe(&mh);
	mip4_key_wipe(&mf);
	if (n < 0)
		return;
	do_request(fa, buf, (size_t)n, p[0]);
}

static void do_built_reply(struct fa_engine *fa, const uint8_t p[2])
{
	struct mip4_reg_request req;
	struct mip4_reg_reply r;
	struct mip4_key mh = mkkey(256, "mn-ha-secret-16b");
	struct mip4_key fh = mkkey(p[0] & 0x80 ? 513 : 512, "fa-ha-secret-16b");
	uint8_t buf[256];
	struct writer w;
	int n;

	if (!last_relay_len || mip4_request_parse(last_relay, last_relay_len, &req) < 0)
		return;
	memset(&r, 0, sizeof(r));
	r.code = (uint8_t)((p[0] & 0x7f) < 100 ? ((p[0] & 1) ? 1 : 0) : 128 + (p[0] & 0x0f));
	r.lifetime = (uint16_t)(p[1] * 8);
	r.home_addr = req.home_addr;
	r.home_agent = req.home_agent;
	r.ident = (p[0] & 0x40) ? req.ident + 1 : req.ident;
	writer_init(&w, buf, sizeof(buf));
	n = mip4_reply_encode(&w, &r, &mh, NULL);
	if (n >= 0 && !(p[1] & 1))
		mip4_auth_append(&w, 0, MIP4_EXT_FA_HA_AUTH, &fh);
	mip4_key_wipe(&mh);
	mip4_key_wipe(&fh);
	if (n < 0)
		return;
	/* From the home agent it went to. */
	for (uint8_t i = 0; i < AGENTS; i++)
		if (a4(agent_addr[i]).s_addr == last_relay_ha.s_addr)
			do_reply(fa, buf, writer_len(&w), i);
}

static void do_icmp(struct fa_engine *fa, uint8_t type, uint8_t code)
{
	int rc;

	if (!last_relay_len)
		return;
	acts = sentinel;
	rc = fa_engine_icmp_error(fa, last_relay_ha, type, code, last_relay, last_relay_len,
				  &acts);
	if (rc < 0) {
		check(memcmp(&acts, &sentinel, sizeof(acts)) == 0);
		return;
	}
	check_actions(NULL, 0, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fa_engine_config cfg;
	struct fa_engine *fa;
	struct reader r;
	uint8_t op;

	log_set_level(LOG_LEVEL_ERROR);
	memset(&sentinel, 0xa5, sizeof(sentinel));
	fake_clock_init(&clk, MM_SEC(1000));
	last_relay_len = 0;
	ident_ctr = 0;
	memset(&cfg, 0, sizeof(cfg));
	cfg.coa = a4(COA_ADDR);
	cfg.link_net = a4(0xc6120500u);
	cfg.link_plen = 24;
	cfg.max_lifetime = 600;
	cfg.reverse = FA_RT_OFFER;
	cfg.encapsulating_delivery = true;
	cfg.mn_key = mn_lookup;
	cfg.ha_key = ha_lookup;
	cfg.pending_timeout = MM_SEC(7);
	cfg.max_visitors = MAX_VISITORS;
	cfg.max_pending = MAX_PENDING;
	cfg.clock = &clk.base;
	if (fa_engine_new(&cfg, &fa) < 0)
		__builtin_trap();

	reader_init(&r, data, size);
	while (reader_u8(&r, &op)) {
		uint16_t len;
		uint8_t sel = 0, p[4] = { 0 };
		const uint8_t *msg;

		switch (op % 6) {
		case 0:
		case 1:
			if (!reader_be16(&r, &len))
				break;
			if (len > reader_remaining(&r))
				len = (uint16_t)reader_remaining(&r);
			reader_view(&r, len, &msg);
			reader_u8(&r, &sel);
			if (op % 6 == 0)
				do_request(fa, msg, len, sel);
			else
				do_reply(fa, msg, len, sel);
			break;
		case 2:
			if (reader_u8(&r, &sel))
				do_timer(fa, sel);
			break;
		case 3:
			if (reader_copy(&r, p, 4))
				do_built_request(fa, p);
			break;
		case 4:
			if (reader_copy(&r, p, 2))
				do_built_reply(fa, p);
			break;
		case 5:
			if (reader_copy(&r, p, 2))
				do_icmp(fa, p[0], p[1]);
			break;
		}
		check_table(fa);
	}
	do_timer(fa, 255);
	do_timer(fa, 255);
	fa_engine_free(fa);
	return 0;
}
