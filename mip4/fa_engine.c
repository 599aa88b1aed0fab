/* Foreign agent relay engine: RFC 5944 §3.7, RFC 3024 §4.2. See fa_engine.h for the order
 * of processing.
 *
 * The visitor list is a dense array of entries (one per home address, holding the current
 * registration and at most one pending request) indexed by an open-addressing hash table
 * (linear probing, load <= 1/2, backward-shift deletion, swap-remove in the array). Timers
 * are found by a scan of the array: a foreign agent serves one visited link, thousands of
 * visitors at most, and the scan runs once per timer tick, not per packet. */
#include "mip4/fa_engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/names.h"
#include "common/sock.h"

/* Drop lines: a burst, then one per interval (as the home agent engine). */
#define RL_BURST 20
#define RL_INTERVAL MM_MSEC(200)
/* §3.7.2: at most one denial per second to the same mobile node (RFC 3024 §4.2.1 too);
 * remembered for this many home addresses, the oldest forgotten first. */
#define DENY_INTERVAL MM_SEC(1)
#define DENY_MEMO 64
#define NEVER UINT64_MAX
/* The All Mobility Agents multicast address (RFC 5944 §3.6.1.1). */
#define ALL_AGENTS_ADDR 0xe000000bu

struct fa_pending {
	struct in_addr home_agent;
	struct in_addr req_dst;        /* the request's IP destination */
	uint8_t lladdr[FA_LLADDR_LEN];
	unsigned ifindex;
	uint16_t src_port;             /* host order */
	uint16_t lifetime;             /* requested */
	uint8_t flags;
	bool eds;
	bool mn_fa;                    /* the request's MN-FA verified with mn_fa_spi */
	uint32_t mn_fa_spi;
	uint64_t ident;
	mm_time_ns deadline;
};

struct fa_entry {
	struct in_addr hoa;
	bool has_visitor;
	bool has_pending;
	struct fa_visitor v;
	struct fa_pending p;
};

struct deny_memo {
	struct in_addr hoa;
	mm_time_ns at;
	bool used;
};

struct fa_engine {
	struct fa_engine_config cfg;
	struct logger log;
	struct fa_stats stats;
	struct in_addr link_bcast;     /* directed broadcast of the visited link, or 0 */

	struct fa_entry *ent;
	size_t n;
	size_t npending;
	size_t nvisitors;
	uint32_t *slot;                /* index + 1; 0 = empty */
	size_t slot_mask;

	struct deny_memo memo[DENY_MEMO];
	unsigned memo_next;

	/* A message is built here first, so that a failure leaves the caller's actions
	 * untouched. */
	struct fa_send scratch;

	unsigned rl_tokens;
	mm_time_ns rl_last;
	uint64_t rl_suppressed;
};

const char *fa_event_kind_name(enum fa_event_kind kind)
{
	switch (kind) {
	case FA_EV_VISITOR_ADDED: return "added";
	case FA_EV_VISITOR_UPDATED: return "updated";
	case FA_EV_VISITOR_REMOVED: return "removed";
	}
	return "?";
}

/* --- the visitor table ---------------------------------------------------------------- */

static size_t home_slot(const struct fa_engine *fa, struct in_addr a)
{
	uint32_t h = a.s_addr * 0x9e3779b1u;

	return (size_t)(h ^ (h >> 16)) & fa->slot_mask;
}

/* Position in slot[] of hoa's entry, or -1. */
static long find_slot(const struct fa_engine *fa, struct in_addr hoa)
{
	size_t i = home_slot(fa, hoa);

	while (fa->slot[i]) {
		if (fa->ent[fa->slot[i] - 1].hoa.s_addr == hoa.s_addr)
			return (long)i;
		i = (i + 1) & fa->slot_mask;
	}
	return -1;
}

static struct fa_entry *find(const struct fa_engine *fa, struct in_addr hoa)
{
	long s = find_slot(fa, hoa);

	return s < 0 ? NULL : &fa->ent[fa->slot[s] - 1];
}

/* A new, empty entry for hoa (not present yet), or NULL when the table is full. */
static struct fa_entry *insert(struct fa_engine *fa, struct in_addr hoa)
{
	size_t i;
	struct fa_entry *e;

	if (fa->n >= fa->cfg.max_visitors)
		return NULL;
	i = home_slot(fa, hoa);
	while (fa->slot[i])
		i = (i + 1) & fa->slot_mask;
	e = &fa->ent[fa->n];
	memset(e, 0, sizeof(*e));
	e->hoa = hoa;
	fa->slot[i] = (uint32_t)(++fa->n);
	return e;
}

/* True when home slot k lies cyclically in (i, j]. */
static bool cyc_between(size_t i, size_t k, size_t j)
{
	return i <= j ? (i < k && k <= j) : (i < k || k <= j);
}

/* Remove e (both parts already gone) from the slots and the array. */
static void remove_entry(struct fa_engine *fa, struct fa_entry *e)
{
	size_t idx = (size_t)(e - fa->ent), last = fa->n - 1;
	long s = find_slot(fa, e->hoa);
	size_t i, j;

	if (s < 0)
		return;
	/* Backward-shift deletion keeps every probe chain unbroken. */
	i = (size_t)s;
	for (;;) {
		j = i;
		for (;;) {
			j = (j + 1) & fa->slot_mask;
			if (!fa->slot[j]) {
				fa->slot[i] = 0;
				goto shifted;
			}
			if (!cyc_between(i, home_slot(fa, fa->ent[fa->slot[j] - 1].hoa), j))
				break;
		}
		fa->slot[i] = fa->slot[j];
		i = j;
	}
shifted:
	if (idx != last) {
		fa->ent[idx] = fa->ent[last];
		s = find_slot(fa, fa->ent[idx].hoa);
		if (s >= 0)
			fa->slot[s] = (uint32_t)(idx + 1);
	}
	memset(&fa->ent[last], 0, sizeof(fa->ent[last]));
	fa->n--;
}

static void drop_pending(struct fa_engine *fa, struct fa_entry *e)
{
	if (!e->has_pending)
		return;
	e->has_pending = false;
	memset(&e->p, 0, sizeof(e->p));
	fa->npending--;
}

static void drop_visitor(struct fa_engine *fa, struct fa_entry *e)
{
	if (!e->has_visitor)
		return;
	e->has_visitor = false;
	memset(&e->v, 0, sizeof(e->v));
	fa->nvisitors--;
}

/* Forget the entry once neither part is left. Returns true when it went. */
static bool gc_entry(struct fa_engine *fa, struct fa_entry *e)
{
	if (e->has_pending || e->has_visitor)
		return false;
	remove_entry(fa, e);
	return true;
}

/* --- set-up and queries --------------------------------------------------------------- */

int fa_engine_new(const struct fa_engine_config *cfg, struct fa_engine **out)
{
	struct fa_engine *fa;
	size_t max_v, cap;
	char a[ADDR4_STRLEN];

	if (!cfg || !out || !cfg->clock || cfg->coa.s_addr == 0 || cfg->link_plen > 32 ||
	    cfg->reverse > FA_RT_REQUIRE || cfg->max_visitors > FA_MAX_VISITORS_LIMIT)
		return -EINVAL;
	max_v = cfg->max_visitors ? cfg->max_visitors : FA_MAX_VISITORS_DEFAULT;
	if (cfg->max_pending > max_v)
		return -EINVAL;
	fa = calloc(1, sizeof(*fa));
	if (!fa)
		return -ENOMEM;
	fa->cfg = *cfg;
	fa->cfg.max_visitors = max_v;
	if (!fa->cfg.max_pending)
		fa->cfg.max_pending = max_v < FA_MAX_PENDING_DEFAULT ? max_v
								  : FA_MAX_PENDING_DEFAULT;
	if (!fa->cfg.max_lifetime)
		fa->cfg.max_lifetime = FA_MAX_LIFETIME_DEFAULT;
	if (!fa->cfg.pending_timeout)
		fa->cfg.pending_timeout = FA_PENDING_TIMEOUT_DEFAULT;
	if (!fa->cfg.link_addr.s_addr)
		fa->cfg.link_addr = cfg->coa;
	fa->cfg.link_net = prefix4_network(cfg->link_net, cfg->link_plen);
	if (cfg->link_plen > 0 && cfg->link_plen < 31)
		fa->link_bcast.s_addr = fa->cfg.link_net.s_addr |
					~prefix4_mask(cfg->link_plen).s_addr;
	for (cap = 16; cap < 2 * max_v; cap <<= 1)
		;
	fa->ent = calloc(max_v, sizeof(*fa->ent));
	fa->slot = calloc(cap, sizeof(*fa->slot));
	if (!fa->ent || !fa->slot) {
		free(fa->ent);
		free(fa->slot);
		free(fa);
		return -ENOMEM;
	}
	fa->slot_mask = cap - 1;
	fa->rl_tokens = RL_BURST;
	logger_init(&fa->log, "fa[%s]", addr4_str(cfg->coa, a));
	*out = fa;
	return 0;
}

void fa_engine_free(struct fa_engine *fa)
{
	if (!fa)
		return;
	free(fa->ent);
	free(fa->slot);
	free(fa);
}

const struct fa_visitor *fa_engine_visitor(const struct fa_engine *fa, struct in_addr hoa)
{
	const struct fa_entry *e = fa ? find(fa, hoa) : NULL;

	return e && e->has_visitor ? &e->v : NULL;
}

const struct fa_visitor *fa_engine_visitor_next(const struct fa_engine *fa, size_t *iter)
{
	if (!fa || !iter)
		return NULL;
	while (*iter < fa->n) {
		const struct fa_entry *e = &fa->ent[(*iter)++];

		if (e->has_visitor)
			return &e->v;
	}
	return NULL;
}

size_t fa_engine_visitor_count(const struct fa_engine *fa) { return fa ? fa->nvisitors : 0; }
size_t fa_engine_pending_count(const struct fa_engine *fa) { return fa ? fa->npending : 0; }
const struct fa_stats *fa_engine_stats(const struct fa_engine *fa)
{
	return fa ? &fa->stats : NULL;
}

const struct fa_engine_config *fa_engine_config(const struct fa_engine *fa)
{
	return fa ? &fa->cfg : NULL;
}

uint32_t fa_engine_remaining(const struct fa_engine *fa, const struct fa_visitor *v)
{
	mm_time_ns now;

	if (!fa || !v)
		return 0;
	if (v->expires_at == NEVER)
		return MIP4_LIFETIME_INFINITE;
	now = clock_now(fa->cfg.clock);
	if (v->expires_at <= now)
		return 0;
	return (uint32_t)((v->expires_at - now + MM_SEC(1) - 1) / MM_SEC(1));
}

mm_time_ns fa_engine_next_deadline(const struct fa_engine *fa)
{
	mm_time_ns next = NEVER;

	if (!fa)
		return NEVER;
	for (size_t i = 0; i < fa->n; i++) {
		const struct fa_entry *e = &fa->ent[i];

		if (e->has_pending && e->p.deadline < next)
			next = e->p.deadline;
		if (e->has_visitor && e->v.expires_at < next)
			next = e->v.expires_at;
	}
	return next;
}

/* --- logging -------------------------------------------------------------------------- */

static bool rl_allow(struct fa_engine *fa, mm_time_ns now)
{
	if (now >= fa->rl_last + RL_INTERVAL) {
		mm_time_ns add = (now - fa->rl_last) / RL_INTERVAL;
		mm_time_ns sum = fa->rl_tokens + add;

		fa->rl_tokens = add >= RL_BURST || sum >= RL_BURST ? RL_BURST : (unsigned)sum;
		fa->rl_last += add * RL_INTERVAL;
	}
	if (fa->rl_tokens == 0) {
		fa->rl_suppressed++;
		fa->stats.log_suppressed++;
		return false;
	}
	fa->rl_tokens--;
	return true;
}

static void drop_log(struct fa_engine *fa, const struct logger *lg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "dropped: <reason>", rate limited. */
static void drop_log(struct fa_engine *fa, const struct logger *lg, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	if (!rl_allow(fa, clock_now(fa->cfg.clock)))
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (fa->rl_suppressed) {
		LOG_WARNING(lg, "dropped: %s (%llu similar lines suppressed)", why,
			    (unsigned long long)fa->rl_suppressed);
		fa->rl_suppressed = 0;
	} else {
		LOG_WARNING(lg, "dropped: %s", why);
	}
}

static const char *sin_str(const struct sockaddr_in *s, char buf[32])
{
	char a[ADDR4_STRLEN];

	snprintf(buf, 32, "%s:%u", addr4_str(s->sin_addr, a), ntohs(s->sin_port));
	return buf;
}

static void visitor_logger(struct logger *lg, struct in_addr hoa)
{
	char h[ADDR4_STRLEN];

	logger_init(lg, "fa[visitor %s]", addr4_str(hoa, h));
}

/* --- messages to the mobile node ------------------------------------------------------ */

/* Not a unicast address of ours: the reply then comes from our visited-link address
 * (§3.7.2.3: "unless the All Agents Multicast address was used"). */
static bool is_group(const struct fa_engine *fa, struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	return a.s_addr == 0 || a.s_addr == INADDR_BROADCAST ||
	       (fa->link_bcast.s_addr && a.s_addr == fa->link_bcast.s_addr) ||
	       (h >= 0xe0000000u && h <= 0xefffffffu) || h == ALL_AGENTS_ADDR;
}

/* Where a message to the mobile node goes (§3.7.2.3, §3.7.3.2). */
struct mn_addr {
	struct in_addr hoa;
	struct in_addr req_dst;
	uint16_t port;                 /* host order */
	uint8_t lladdr[FA_LLADDR_LEN];
	unsigned ifindex;
};

static void address_to_mn(const struct fa_engine *fa, const struct mn_addr *m,
			  struct fa_send *s)
{
	s->to_mn = true;
	s->dst.sin_family = AF_INET;
	s->dst.sin_addr.s_addr = m->hoa.s_addr ? m->hoa.s_addr : INADDR_BROADCAST;
	s->dst.sin_port = htons(m->port);
	s->src = is_group(fa, m->req_dst) ? fa->cfg.link_addr : m->req_dst;
	memcpy(s->lladdr, m->lladdr, FA_LLADDR_LEN);
	s->ifindex = m->ifindex;
}

/* The MN-FA key (hoa, spi) into *key; false when there is none. */
static bool mn_key(struct fa_engine *fa, struct in_addr hoa, uint32_t spi, struct mip4_key *key)
{
	if (!fa->cfg.mn_key || spi < MIP4_SPI_MIN)
		return false;
	if (fa->cfg.mn_key(fa->cfg.mn_key_ctx, hoa, spi, key) < 0) {
		mip4_key_wipe(key);
		return false;
	}
	return key->spi == spi && mip4_auth_len(key) > 0;
}

static bool ha_key(struct fa_engine *fa, struct in_addr ha, struct mip4_key *key)
{
	if (!fa->cfg.ha_key)
		return false;
	if (fa->cfg.ha_key(fa->cfg.ha_key_ctx, ha, key) < 0) {
		mip4_key_wipe(key);
		return false;
	}
	return key->spi >= MIP4_SPI_MIN && mip4_auth_len(key) > 0;
}

/* May a denial go to hoa now? Records it when it may. */
static bool deny_allowed(struct fa_engine *fa, struct in_addr hoa, mm_time_ns now)
{
	struct deny_memo *m;

	for (unsigned i = 0; i < DENY_MEMO; i++) {
		m = &fa->memo[i];
		if (m->used && m->hoa.s_addr == hoa.s_addr) {
			if (now < m->at + DENY_INTERVAL)
				return false;
			m->at = now;
			return true;
		}
	}
	m = &fa->memo[fa->memo_next];
	fa->memo_next = (fa->memo_next + 1) % DENY_MEMO;
	m->hoa = hoa;
	m->at = now;
	m->used = true;
	return true;
}

/* What a denial copies (§3.7.2.3). */
struct deny_fields {
	struct in_addr hoa;
	struct in_addr ha;
	uint64_t ident;
	uint16_t lifetime;
	bool mn_fa;                    /* authenticate with MN-FA (mn_fa_spi) */
	uint32_t mn_fa_spi;
};

/* Build our own Registration Reply denying the request into fa->scratch. */
static int build_denial(struct fa_engine *fa, uint8_t code, const struct deny_fields *d,
			const struct mn_addr *m)
{
	struct fa_send *s = &fa->scratch;
	struct mip4_reg_reply rep;
	struct mip4_key key;
	bool with_key;
	struct writer w;
	int n;

	memset(&rep, 0, sizeof(rep));
	memset(&key, 0, sizeof(key));
	rep.code = code;
	rep.lifetime = d->lifetime;
	rep.home_addr = d->hoa;
	rep.home_agent = d->ha;
	rep.ident = d->ident;
	with_key = d->mn_fa && mn_key(fa, d->hoa, d->mn_fa_spi, &key);
	memset(s, 0, sizeof(*s));
	writer_init(&w, s->msg, sizeof(s->msg));
	n = mip4_reply_encode(&w, &rep, NULL, with_key ? &key : NULL);
	mip4_key_wipe(&key);
	if (n < 0)
		return n;
	s->len = (size_t)n;
	s->code = code;
	s->relayed = false;
	address_to_mn(fa, m, s);
	return 0;
}

/* Decide a denial: log it, count it, and unless the rate limit holds it back, make it the
 * one message of *out. out is zeroed here. Returns 0 or a negative errno (out untouched). */
static int deny(struct fa_engine *fa, const struct logger *lg, struct fa_actions *out,
		mm_time_ns now, uint8_t code, const struct deny_fields *d,
		const struct mn_addr *m, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

static int deny(struct fa_engine *fa, const struct logger *lg, struct fa_actions *out,
		mm_time_ns now, uint8_t code, const struct deny_fields *d,
		const struct mn_addr *m, const char *fmt, ...)
{
	char why[200], name[NAME_BUF_SIZE];
	const char *nm;
	bool send;
	va_list ap;
	int rc;

	rc = build_denial(fa, code, d, m);
	if (rc < 0) {
		LOG_ERROR(lg, "cannot encode a Registration Reply (code %u): %s", code,
			  strerror(-rc));
		return -EIO;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fa->stats.denied++;
	fa->stats.denied_by_code[code]++;
	send = deny_allowed(fa, d->hoa, now);
	nm = name_or_number(&mip4_reply_code_names, code, name, sizeof(name));
	if (send) {
		LOG_WARNING(lg, "denied code=%u (%s): %s", code, nm, why);
	} else {
		fa->stats.denials_suppressed++;
		drop_log(fa, lg, "denial code=%u (%s) not sent: one per second (%s)", code,
			 nm, why);
	}
	memset(out, 0, sizeof(*out));
	out->code = code;
	if (send)
		out->sends[out->nsends++] = fa->scratch;
	return 0;
}

static void add_event(struct fa_actions *out, enum fa_event_kind kind,
		      enum fa_remove_reason reason, const struct fa_visitor *v)
{
	struct fa_event *ev;

	if (out->nevents >= FA_EVENTS_MAX)
		return;
	ev = &out->events[out->nevents++];
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->reason = reason;
	ev->visitor = *v;
}

/* --- Registration Requests (§3.7.2) --------------------------------------------------- */

/* The fixed part of a Request, for a 70 when the rest does not parse. */
static bool request_fixed(const uint8_t *msg, size_t len, struct deny_fields *d)
{
	struct reader r;
	uint8_t type, flags;
	uint16_t life;
	struct in_addr hoa, ha, coa;
	uint64_t ident;

	reader_init(&r, msg, len);
	reader_u8(&r, &type);
	reader_u8(&r, &flags);
	reader_be16(&r, &life);
	reader_copy(&r, &hoa.s_addr, 4);
	reader_copy(&r, &ha.s_addr, 4);
	reader_copy(&r, &coa.s_addr, 4);
	reader_be64(&r, &ident);
	if (!reader_ok(&r) || type != MIP4_MSG_REG_REQUEST)
		return false;
	memset(d, 0, sizeof(*d));
	d->hoa = hoa;
	d->ha = ha;
	d->ident = ident;
	d->lifetime = life;
	return true;
}

/* Everything about the request being processed. */
struct rq {
	struct fa_engine *fa;
	const uint8_t *msg;
	size_t len;
	const struct fa_req_meta *meta;
	struct fa_actions *out;
	struct mip4_reg_request req;
	struct deny_fields d;
	struct mn_addr m;
	struct logger lg;
	mm_time_ns now;
};

static bool is_ours(const struct fa_engine *fa, struct in_addr a)
{
	return a.s_addr == fa->cfg.coa.s_addr || a.s_addr == fa->cfg.link_addr.s_addr;
}

/* Step 3 of fa_engine.h: the first check that fails gives its code (0: none). */
static uint8_t check_request(struct rq *q, const char **why)
{
	const struct fa_engine *fa = q->fa;
	const struct mip4_reg_request *req = &q->req;
	const struct fa_req_meta *meta = q->meta;

	if (req->flags & MIP4_REQ_RESERVED) {
		*why = "reserved flag bits set (RFC 5944 section 3.7.2.1)";
		return MIP4_CODE_FA_POORLY_FORMED_REQUEST;
	}
	if (req->fa_ha.present) {
		*why = "Foreign-Home Authentication extension from a mobile node";
		return MIP4_CODE_FA_POORLY_FORMED_REQUEST;
	}
	if (req->home_addr.s_addr == 0) {
		*why = "home address 0.0.0.0 (RFC 5944 section 3.7.1, RFC 2794)";
		return MIP4_CODE_FA_NONZERO_HOMEADDR_REQD;
	}
	if (is_ours(fa, req->home_agent)) {
		*why = "the Home Agent field is our own address and we are not its home agent "
		       "(RFC 5944 section 3.7.2)";
		return MIP4_CODE_FA_INVALID_HA_ADDRESS;
	}
	if (req->flags & MIP4_REQ_D) {
		*why = "D bit set: we relay registrations of our care-of address only";
		return MIP4_CODE_FA_ADMIN_PROHIBITED;
	}
	if (req->lifetime != 0 && req->coa.s_addr != fa->cfg.coa.s_addr) {
		*why = "care-of address not offered by us (RFC 5944 section 3.7.2.1)";
		return MIP4_CODE_FA_INVALID_COA;
	}
	if (req->lifetime > fa->cfg.max_lifetime) {
		*why = "requested lifetime above our maximum (RFC 5944 section 3.7.2.3)";
		return MIP4_CODE_FA_LIFETIME_TOO_LONG;
	}
	if (req->flags & (MIP4_REQ_M | MIP4_REQ_G)) {
		*why = "only IP-in-IP encapsulation (RFC 2003) is available";
		return MIP4_CODE_FA_ENCAP_UNAVAILABLE;
	}
	if ((req->flags & MIP4_REQ_T) && fa->cfg.reverse == FA_RT_OFF) {
		*why = "reverse tunnelling is not offered (RFC 3024 section 4.2.1)";
		return MIP4_CODE_FA_REVERSE_TUNNEL_UNAVAILABLE;
	}
	if (!(req->flags & MIP4_REQ_T) && fa->cfg.reverse == FA_RT_REQUIRE) {
		*why = "reverse tunnelling is mandatory, T is clear (RFC 3024 section 4.2.1)";
		return MIP4_CODE_FA_REVERSE_TUNNEL_MANDATORY;
	}
	if ((req->flags & MIP4_REQ_T) && meta->ttl != 0 && meta->ttl != 255) {
		*why = "IP TTL is not 255 (RFC 3024 section 4.2.1)";
		return MIP4_CODE_FA_MN_TOO_DISTANT;
	}
	if (req->eds && !fa->cfg.encapsulating_delivery) {
		*why = "Encapsulating Delivery Style is not supported (RFC 3024 section 3.4)";
		return MIP4_CODE_FA_DELIVERY_STYLE_UNSUPPORTED;
	}
	return 0;
}

/* Build the relayed request in fa->scratch (§3.7.2.2). Returns 0, -ENOSPC (too large) or
 * -EIO. */
static int build_relay(struct rq *q)
{
	struct fa_engine *fa = q->fa;
	struct fa_send *s = &fa->scratch;
	const struct mip4_auth_ext *mh = &q->req.mn_ha;
	struct mip4_key key;
	bool with_key;
	size_t keep = mh->auth_off + mh->auth_len;
	struct reader r;
	const uint8_t *prefix;
	struct writer w;
	int rc = 0;

	memset(&key, 0, sizeof(key));
	/* §3.7.2.2: "If the foreign agent shares a Mobility Security Association with the
	 * home agent, and the Request has Lifetime != 0, then it MUST append" FA-HA. */
	with_key = q->req.lifetime != 0 && ha_key(fa, q->req.home_agent, &key);
	if (keep > q->len || keep + (with_key ? MIP4_AUTH_HDR_LEN + mip4_auth_len(&key) : 0) >
			     FA_MSG_MAX) {
		mip4_key_wipe(&key);
		return -ENOSPC;
	}
	memset(s, 0, sizeof(*s));
	/* Unchanged from the first byte through MN-HA; everything after it was for us. */
	reader_init(&r, q->msg, q->len);
	writer_init(&w, s->msg, sizeof(s->msg));
	if (!reader_view(&r, keep, &prefix) || !writer_bytes(&w, prefix, keep))
		rc = -EIO;
	if (rc == 0 && with_key)
		rc = mip4_auth_append(&w, 0, MIP4_EXT_FA_HA_AUTH, &key);
	mip4_key_wipe(&key);
	if (rc < 0)
		return rc == -ENOSPC ? -ENOSPC : -EIO;
	s->len = writer_len(&w);
	s->to_mn = false;
	s->code = -1;
	s->relayed = true;
	s->dst.sin_family = AF_INET;
	s->dst.sin_addr = q->req.home_agent;
	s->dst.sin_port = htons(MIP4_PORT);
	s->src = fa->cfg.coa;
	return 0;
}

/* Step 2: Mobile-Foreign Authentication (§3.7.2.1). Returns 0 (fine), 1 (failed, *why
 * set), or -EIO. */
static int check_mn_fa(struct rq *q, const char **why)
{
	struct fa_engine *fa = q->fa;
	const struct mip4_auth_ext *mf = &q->req.mn_fa;
	struct mip4_key key;
	int rc;

	if (!mf->present) {
		if (!fa->cfg.require_mn_fa)
			return 0;
		*why = "no Mobile-Foreign Authentication extension and one is required";
		return 1;
	}
	memset(&key, 0, sizeof(key));
	if (!mn_key(fa, q->req.home_addr, mf->spi, &key)) {
		*why = "no Mobility Security Association for the Mobile-Foreign SPI";
		return 1;
	}
	/* From here on our denial can be authenticated with that association. */
	q->d.mn_fa = true;
	q->d.mn_fa_spi = mf->spi;
	rc = mip4_auth_verify_key(q->msg, q->len, mf, &key);
	mip4_key_wipe(&key);
	if (rc == -EACCES || rc == -ENOENT) {
		*why = "Mobile-Foreign Authenticator is wrong";
		return 1;
	}
	return rc < 0 ? -EIO : 0;
}

/* Step 4: record the pending part and hand out the relayed request (in fa->scratch). */
static int accept_request(struct rq *q, struct fa_entry *e)
{
	struct fa_engine *fa = q->fa;
	struct fa_pending *p;
	mm_time_ns life;
	char h[ADDR4_STRLEN], a[ADDR4_STRLEN];

	if (!e->has_pending)
		fa->npending++;
	e->has_pending = true;
	p = &e->p;
	memset(p, 0, sizeof(*p));
	p->home_agent = q->req.home_agent;
	p->req_dst = q->meta->dst;
	memcpy(p->lladdr, q->meta->lladdr, FA_LLADDR_LEN);
	p->ifindex = q->meta->ifindex;
	p->src_port = ntohs(q->meta->src.sin_port);
	p->lifetime = q->req.lifetime;
	p->flags = q->req.flags;
	p->eds = q->req.eds;
	p->mn_fa = q->d.mn_fa;
	p->mn_fa_spi = q->d.mn_fa_spi;
	p->ident = q->req.ident;
	/* §3.7.1 (7 s) and §3.7.2.2 (no longer than the requested lifetime). */
	life = q->req.lifetime ? MM_SEC(q->req.lifetime) : fa->cfg.pending_timeout;
	p->deadline = q->now + (life < fa->cfg.pending_timeout ? life : fa->cfg.pending_timeout);

	memset(q->out, 0, sizeof(*q->out));
	q->out->code = -1;
	q->out->sends[q->out->nsends++] = fa->scratch;
	fa->stats.relayed_requests++;
	LOG_INFO(&q->lg, "relayed request hoa=%s ha=%s lifetime=%u%s%s",
		 addr4_str(q->req.home_addr, h), addr4_str(q->req.home_agent, a),
		 q->req.lifetime, (q->req.flags & MIP4_REQ_T) ? " reverse-tunnel" : "",
		 fa->scratch.len > q->req.mn_ha.auth_off + q->req.mn_ha.auth_len
		 ? " +FA-HA" : "");
	return 0;
}

int fa_engine_request(struct fa_engine *fa, const uint8_t *msg, size_t len,
		      const struct fa_req_meta *meta, struct fa_actions *out)
{
	struct rq q;
	struct fa_entry *e;
	const char *why = NULL;
	char s[32];
	uint8_t code;
	int rc;

	if (!fa || !meta || !out || (!msg && len))
		return -EINVAL;
	memset(&q, 0, sizeof(q));
	q.fa = fa;
	q.msg = msg;
	q.len = len;
	q.meta = meta;
	q.out = out;
	q.now = clock_now(fa->cfg.clock);
	fa->stats.requests++;

	/* 1. Structure. */
	rc = mip4_request_parse(msg, len, &q.req);
	if (rc == -EOPNOTSUPP) {
		/* §1.8: an unrecognised extension 0-127 -> silently discard. */
		fa->stats.dropped_requests++;
		drop_log(fa, &fa->log, "Registration Request from %s: unknown non-skippable "
			 "extension", sin_str(&meta->src, s));
		return -EOPNOTSUPP;
	}
	if (rc < 0 && !request_fixed(msg, len, &q.d)) {
		fa->stats.dropped_requests++;
		drop_log(fa, &fa->log, "not a Registration Request (%zu bytes) from %s", len,
			 sin_str(&meta->src, s));
		return -EBADMSG;
	}
	q.m.req_dst = meta->dst;
	q.m.port = ntohs(meta->src.sin_port);
	memcpy(q.m.lladdr, meta->lladdr, FA_LLADDR_LEN);
	q.m.ifindex = meta->ifindex;
	if (rc < 0) {
		q.m.hoa = q.d.hoa;
		visitor_logger(&q.lg, q.d.hoa);
		return deny(fa, &q.lg, out, q.now, MIP4_CODE_FA_POORLY_FORMED_REQUEST, &q.d, &q.m,
			    "%s (request from %s)", rc == -ENOKEY
			    ? "no Mobile-Home Authentication extension"
			    : rc == -EPROTO ? "extension rules violated" : "bad structure",
			    sin_str(&meta->src, s));
	}
	q.d.hoa = q.req.home_addr;
	q.d.ha = q.req.home_agent;
	q.d.ident = q.req.ident;
	q.d.lifetime = q.req.lifetime;
	q.m.hoa = q.req.home_addr;
	visitor_logger(&q.lg, q.req.home_addr);

	/* 2. Mobile-Foreign Authentication. */
	rc = check_mn_fa(&q, &why);
	if (rc < 0) {
		LOG_ERROR(&q.lg, "cannot verify the Mobile-Foreign Authentication");
		return -EIO;
	}
	if (rc == 1) {
		fa->stats.mn_auth_failures++;
		return deny(fa, &q.lg, out, q.now, MIP4_CODE_FA_MN_AUTH_FAILED, &q.d, &q.m,
			    "security exception: %s (SPI %u, request from %s)", why,
			    q.req.mn_fa.spi, sin_str(&meta->src, s));
	}

	/* 3. The checks. */
	code = check_request(&q, &why);
	if (code == MIP4_CODE_FA_LIFETIME_TOO_LONG)
		q.d.lifetime = fa->cfg.max_lifetime;   /* §3.7.2.3 */
	if (code)
		return deny(fa, &q.lg, out, q.now, code, &q.d, &q.m, "%s (request from %s)", why,
			    sin_str(&meta->src, s));

	e = find(fa, q.req.home_addr);
	if ((!e && fa->n >= fa->cfg.max_visitors) ||
	    ((!e || !e->has_pending) && fa->npending >= fa->cfg.max_pending))
		return deny(fa, &q.lg, out, q.now, MIP4_CODE_FA_INSUFFICIENT_RESOURCES, &q.d, &q.m,
			    "%zu visitor entries, %zu pending requests: full (section 3.7.1)",
			    fa->n, fa->npending);
	rc = build_relay(&q);
	if (rc == -ENOSPC)
		return deny(fa, &q.lg, out, q.now, MIP4_CODE_FA_INSUFFICIENT_RESOURCES, &q.d, &q.m,
			    "relayed request would exceed %d bytes", FA_MSG_MAX);
	if (rc < 0) {
		LOG_ERROR(&q.lg, "cannot build the relayed request: %s", strerror(-rc));
		return -EIO;
	}

	/* 4. Accept. */
	if (!e)
		e = insert(fa, q.req.home_addr);
	if (!e)    /* cannot happen: room was checked above */
		return -ENOMEM;
	return accept_request(&q, e);
}

/* --- Registration Replies (§3.7.3) ---------------------------------------------------- */

struct rep_fixed {
	uint8_t code;
	uint16_t lifetime;
	struct in_addr hoa;
	struct in_addr ha;
	uint64_t ident;
};

static bool reply_fixed(const uint8_t *msg, size_t len, struct rep_fixed *f)
{
	struct reader r;
	uint8_t type;

	reader_init(&r, msg, len);
	reader_u8(&r, &type);
	reader_u8(&r, &f->code);
	reader_be16(&r, &f->lifetime);
	reader_copy(&r, &f->hoa.s_addr, 4);
	reader_copy(&r, &f->ha.s_addr, 4);
	reader_be64(&r, &f->ident);
	return reader_ok(&r) && type == MIP4_MSG_REG_REPLY;
}

static void pending_mn_addr(const struct fa_entry *e, struct mn_addr *m)
{
	memset(m, 0, sizeof(*m));
	m->hoa = e->hoa;
	m->req_dst = e->p.req_dst;
	m->port = e->p.src_port;
	memcpy(m->lladdr, e->p.lladdr, FA_LLADDR_LEN);
	m->ifindex = e->p.ifindex;
}

static void pending_deny_fields(const struct fa_entry *e, struct deny_fields *d)
{
	memset(d, 0, sizeof(*d));
	d->hoa = e->hoa;
	d->ha = e->p.home_agent;
	d->ident = e->p.ident;
	d->lifetime = e->p.lifetime;
	d->mn_fa = e->p.mn_fa;
	d->mn_fa_spi = e->p.mn_fa_spi;
}

/* Deny the pending request of e with code (68, 71, 78, 80-88) and remove it. */
static int deny_pending(struct fa_engine *fa, struct fa_entry *e, struct fa_actions *out,
			mm_time_ns now, uint8_t code, const char *why)
{
	struct deny_fields d;
	struct mn_addr m;
	struct logger lg;
	int rc;

	pending_deny_fields(e, &d);
	pending_mn_addr(e, &m);
	visitor_logger(&lg, e->hoa);
	rc = deny(fa, &lg, out, now, code, &d, &m, "%s", why);
	if (rc < 0)
		return rc;
	drop_pending(fa, e);
	gc_entry(fa, e);
	return 0;
}

/* Build the reply relayed to the mobile node into fa->scratch (§3.7.3.2). */
static int build_relayed_reply(struct fa_engine *fa, const struct fa_entry *e,
			       const uint8_t *msg, size_t len,
			       const struct mip4_reg_reply *rep)
{
	struct fa_send *s = &fa->scratch;
	struct mip4_key key;
	bool with_key;
	size_t keep = rep->mn_ha.present ? rep->mn_ha.auth_off + rep->mn_ha.auth_len
					 : MIP4_REPLY_FIXED_LEN;
	struct reader r;
	const uint8_t *prefix;
	struct writer w;
	struct mn_addr m;
	int rc = 0;

	memset(&key, 0, sizeof(key));
	with_key = e->p.mn_fa && mn_key(fa, e->hoa, e->p.mn_fa_spi, &key);
	if (keep > len || keep + (with_key ? MIP4_AUTH_HDR_LEN + mip4_auth_len(&key) : 0) >
			  FA_MSG_MAX) {
		mip4_key_wipe(&key);
		return -ENOSPC;
	}
	memset(s, 0, sizeof(*s));
	reader_init(&r, msg, len);
	writer_init(&w, s->msg, sizeof(s->msg));
	if (!reader_view(&r, keep, &prefix) || !writer_bytes(&w, prefix, keep))
		rc = -EIO;
	/* §3.7.3.2: "MUST append the Mobile-Foreign Authentication Extension" when we share
	 * an association with the mobile node. */
	if (rc == 0 && with_key)
		rc = mip4_auth_append(&w, 0, MIP4_EXT_MN_FA_AUTH, &key);
	mip4_key_wipe(&key);
	if (rc < 0)
		return -EIO;
	s->len = writer_len(&w);
	s->code = rep->code;
	s->relayed = true;
	pending_mn_addr(e, &m);
	address_to_mn(fa, &m, s);
	return 0;
}

/* Apply a valid reply to the visitor part (§3.7.3.2) and remove the pending part. */
static void apply_reply(struct fa_engine *fa, struct fa_entry *e,
			const struct mip4_reg_reply *rep, mm_time_ns now,
			struct fa_actions *out, const struct logger *lg)
{
	const struct fa_pending *p = &e->p;
	char a[ADDR4_STRLEN];

	if (mip4_code_is_success(rep->code)) {
		/* §3.4: the Reply's lifetime if less, else the Request's; never more than
		 * asked, and so never above our maximum (69 otherwise). */
		uint16_t life = rep->lifetime < p->lifetime ? rep->lifetime : p->lifetime;

		if (life > 0) {
			struct fa_visitor v;
			bool was = e->has_visitor;

			memset(&v, 0, sizeof(v));
			v.home_addr = e->hoa;
			v.home_agent = p->home_agent;
			memcpy(v.lladdr, p->lladdr, FA_LLADDR_LEN);
			v.ifindex = p->ifindex;
			v.src_port = p->src_port;
			v.lifetime = life;
			v.req_flags = p->flags & (uint8_t)~MIP4_REQ_RESERVED;
			v.reverse_tunnel = (p->flags & MIP4_REQ_T) != 0;
			v.encapsulating_delivery = p->eds;
			v.ident = p->ident;
			v.registered_at = now;
			/* §3.7.3.2: counted from when we forward the reply. */
			v.expires_at = life == MIP4_LIFETIME_INFINITE ? NEVER : now + MM_SEC(life);
			e->v = v;
			if (!was) {
				e->has_visitor = true;
				fa->nvisitors++;
				fa->stats.visitors_added++;
			}
			add_event(out, was ? FA_EV_VISITOR_UPDATED : FA_EV_VISITOR_ADDED,
				  FA_REMOVED_NONE, &e->v);
			if (was)
				LOG_INFO(lg, "visitor updated: home agent %s, lifetime %u s%s",
					 addr4_str(v.home_agent, a), life,
					 v.reverse_tunnel ? ", reverse tunnel" : "");
			else
				LOG_NOTICE(lg, "visitor added: home agent %s, lifetime %u s%s",
					   addr4_str(v.home_agent, a), life,
					   v.reverse_tunnel ? ", reverse tunnel" : "");
		} else {
			fa->stats.deregistrations++;
			if (e->has_visitor) {
				add_event(out, FA_EV_VISITOR_REMOVED, FA_REMOVED_DEREGISTERED,
					  &e->v);
				drop_visitor(fa, e);
				LOG_NOTICE(lg, "visitor removed: deregistered");
			}
		}
	}
	/* A denial: "MUST NOT be modified" (§3.7.2); only the pending part goes. */
	drop_pending(fa, e);
	gc_entry(fa, e);
}

int fa_engine_reply(struct fa_engine *fa, const uint8_t *msg, size_t len,
		    const struct fa_rep_meta *meta, struct fa_actions *out)
{
	struct rep_fixed f;
	struct mip4_reg_reply rep;
	struct fa_entry *e;
	struct mip4_key key;
	struct logger lg;
	bool have_key;
	char s[32], name[NAME_BUF_SIZE];
	mm_time_ns now;
	int rc;

	if (!fa || !meta || !out || (!msg && len))
		return -EINVAL;
	now = clock_now(fa->cfg.clock);
	fa->stats.replies++;
	if (!reply_fixed(msg, len, &f)) {
		fa->stats.dropped_replies++;
		drop_log(fa, &fa->log, "not a Registration Reply (%zu bytes) from %s", len,
			 sin_str(&meta->src, s));
		return -EBADMSG;
	}
	/* §3.7.3.1: a pending request for this home address, sent to this home agent, with
	 * the same low-order 32 bits of Identification; else silently discarded. */
	e = find(fa, f.hoa);
	visitor_logger(&lg, f.hoa);
	if (!e || !e->has_pending || meta->src.sin_addr.s_addr != e->p.home_agent.s_addr ||
	    f.ha.s_addr != e->p.home_agent.s_addr || (uint32_t)f.ident != (uint32_t)e->p.ident) {
		fa->stats.dropped_unmatched++;
		drop_log(fa, &lg, "Registration Reply from %s (code %u, ident 0x%016llx) "
			 "matches no pending request", sin_str(&meta->src, s), f.code,
			 (unsigned long long)f.ident);
		return -ENOENT;
	}

	memset(&key, 0, sizeof(key));
	have_key = ha_key(fa, e->p.home_agent, &key);
	rc = mip4_reply_parse(msg, len, &rep);
	if (rc < 0) {
		mip4_key_wipe(&key);
		if (have_key) {
			/* It could be anybody's: only an authenticated reply may end the
			 * pending request. */
			fa->stats.dropped_replies++;
			drop_log(fa, &lg, "malformed Registration Reply from %s",
				 sin_str(&meta->src, s));
			return -EBADMSG;
		}
		fa->stats.dropped_replies++;
		return deny_pending(fa, e, out, now, MIP4_CODE_FA_POORLY_FORMED_REPLY,
				    "the home agent's Registration Reply is poorly formed");
	}
	if (have_key) {
		rc = rep.fa_ha.present ? mip4_auth_verify_key(msg, len, &rep.fa_ha, &key)
				       : -EACCES;
		mip4_key_wipe(&key);
		if (rc == -EIO || rc == -EINVAL) {
			LOG_ERROR(&lg, "cannot verify the Foreign-Home Authentication");
			return -EIO;
		}
		if (rc < 0) {
			/* §3.7.3.1: discard, log a security exception, reject the mobile
			 * node's registration with 68. */
			fa->stats.ha_auth_failures++;
			LOG_WARNING(&lg, "security exception: Foreign-Home Authentication of the "
				    "reply from %s %s", sin_str(&meta->src, s),
				    rep.fa_ha.present ? "is wrong" : "is missing");
			return deny_pending(fa, e, out, now, MIP4_CODE_FA_HA_AUTH_FAILED,
					    "home agent failed authentication");
		}
	}
	rc = build_relayed_reply(fa, e, msg, len, &rep);
	if (rc == -ENOSPC) {
		fa->stats.dropped_replies++;
		return deny_pending(fa, e, out, now, MIP4_CODE_FA_POORLY_FORMED_REPLY,
				    "the home agent's Registration Reply is too large");
	}
	if (rc < 0) {
		LOG_ERROR(&lg, "cannot build the relayed reply");
		return -EIO;
	}
	memset(out, 0, sizeof(*out));
	out->code = -1;
	out->sends[out->nsends++] = fa->scratch;
	fa->stats.relayed_replies++;
	LOG_INFO(&lg, "relayed reply code=%u (%s) lifetime=%u", rep.code,
		 name_or_number(&mip4_reply_code_names, rep.code, name, sizeof(name)),
		 rep.lifetime);
	apply_reply(fa, e, &rep, now, out, &lg);
	return 0;
}

/* --- ICMP errors for relayed requests (§3.7.3) ---------------------------------------- */

int fa_engine_icmp_error(struct fa_engine *fa, struct in_addr ha, uint8_t icmp_type,
			 uint8_t icmp_code, const uint8_t *orig, size_t len,
			 struct fa_actions *out)
{
	struct deny_fields d;
	struct fa_entry *e;
	uint8_t code = MIP4_CODE_FA_HA_UNREACHABLE;
	char why[96], a[ADDR4_STRLEN];

	if (!fa || !out || (!orig && len))
		return -EINVAL;
	if (!request_fixed(orig, len, &d))
		return -EBADMSG;
	e = find(fa, d.hoa);
	if (!e || !e->has_pending || e->p.home_agent.s_addr != ha.s_addr ||
	    d.ha.s_addr != ha.s_addr || e->p.ident != d.ident)
		return -ENOENT;
	if (icmp_type == 3) {  /* Destination Unreachable (RFC 792) */
		if (icmp_code == 0)
			code = MIP4_CODE_FA_HOME_NET_UNREACHABLE;
		else if (icmp_code == 1)
			code = MIP4_CODE_FA_HA_HOST_UNREACHABLE;
		else if (icmp_code == 3)
			code = MIP4_CODE_FA_HA_PORT_UNREACHABLE;
	}
	snprintf(why, sizeof(why), "ICMP error type %u code %u from relaying to %s", icmp_type,
		 icmp_code, addr4_str(ha, a));
	return deny_pending(fa, e, out, clock_now(fa->cfg.clock), code, why);
}

/* --- timers --------------------------------------------------------------------------- */

int fa_engine_timer(struct fa_engine *fa, mm_time_ns now, struct fa_actions *out)
{
	struct logger lg;
	int handled = 0;
	size_t i = 0;

	if (!fa || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->code = -1;
	while (i < fa->n) {
		struct fa_entry *e = &fa->ent[i];
		bool touched = false;

		if (e->has_pending && e->p.deadline <= now) {
			struct deny_fields d;
			struct mn_addr m;

			if (out->nsends >= FA_SENDS_MAX) {
				out->more = true;
				break;
			}
			/* §3.7.1: "SHOULD reject the Request with Code 78". */
			pending_deny_fields(e, &d);
			pending_mn_addr(e, &m);
			visitor_logger(&lg, e->hoa);
			fa->stats.pending_timeouts++;
			fa->stats.denied++;
			fa->stats.denied_by_code[MIP4_CODE_FA_REGISTRATION_TIMEOUT]++;
			if (build_denial(fa, MIP4_CODE_FA_REGISTRATION_TIMEOUT, &d, &m) == 0 &&
			    deny_allowed(fa, e->hoa, now)) {
				out->sends[out->nsends++] = fa->scratch;
				LOG_WARNING(&lg, "denied code=%u (fa_registration_timeout): no "
					    "reply from the home agent",
					    MIP4_CODE_FA_REGISTRATION_TIMEOUT);
			} else {
				fa->stats.denials_suppressed++;
			}
			drop_pending(fa, e);
			touched = true;
		}
		if (e->has_visitor && e->v.expires_at <= now) {
			if (out->nevents >= FA_EVENTS_MAX) {
				/* The entry keeps its visitor: nothing to collect. */
				out->more = true;
				handled += touched;
				break;
			}
			visitor_logger(&lg, e->hoa);
			add_event(out, FA_EV_VISITOR_REMOVED, FA_REMOVED_EXPIRED, &e->v);
			fa->stats.visitors_expired++;
			LOG_NOTICE(&lg, "visitor removed: lifetime %u s expired", e->v.lifetime);
			drop_visitor(fa, e);
			touched = true;
		}
		if (touched)
			handled++;
		if (touched && gc_entry(fa, e))
			continue;   /* the last entry moved into slot i */
		i++;
	}
	return handled;
}
