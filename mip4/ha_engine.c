/* Home agent registration engine: RFC 5944 §3.8, RFC 3024 §4.3, RFC 3519 §4.6. See
 * ha_engine.h for the order of processing. */
#include "mip4/ha_engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/names.h"
#include "common/sock.h"
#include "mip4/ident.h"

/* Drop lines are rate limited with a token bucket: a burst of RL_BURST lines, then one per
 * RL_INTERVAL; suppressed lines are counted and reported with the next one logged. */
#define RL_BURST 20
#define RL_INTERVAL MM_MSEC(200)

/* Everything about the request being processed. */
struct rq {
	struct ha_engine *ha;
	const uint8_t *msg;
	size_t len;
	const struct ha_rx_meta *meta;
	struct ha_actions *out;
	struct mip4_reg_request req;
	struct mip4_key key;
	/* §3.8.2.1 c, d, §3.8.3.3 e: the key we share with the request's IP source (a
	 * foreign agent), when have_fa_key. */
	struct mip4_key fa_key;
	bool have_fa_key;
	struct logger lg;            /* "ha[binding HOA]" */
	mm_time_ns now;
};

struct ha_engine {
	struct ha_engine_config cfg;
	struct rq rq;                /* the request in progress (no allocation per request) */
	struct bcache *bc;
	struct ha_stats stats;
	struct logger log;
	struct in_addr bcast;        /* directed broadcast of the home prefix */
	unsigned rl_tokens;
	mm_time_ns rl_last;
	uint64_t rl_suppressed;      /* since the last line logged */
};


const char *ha_event_kind_name(enum ha_event_kind kind)
{
	switch (kind) {
	case HA_EV_ADDED: return "added";
	case HA_EV_UPDATED: return "updated";
	case HA_EV_REMOVED: return "removed";
	}
	return "?";
}

const char *mip4_encap_name(enum mip4_encap encap)
{
	switch (encap) {
	case MIP4_ENCAP_NONE: return "none";
	case MIP4_ENCAP_IPIP: return "ipip";
	case MIP4_ENCAP_UDP: return "udp";
	}
	return "?";
}

/* --- set-up --------------------------------------------------------------------------- */

int ha_engine_new(const struct ha_engine_config *cfg, struct ha_engine **out)
{
	struct ha_engine *ha;
	struct in_addr net;
	char a[ADDR4_STRLEN];

	if (!cfg || !out || !cfg->key_lookup || !cfg->clock || cfg->address.s_addr == 0 ||
	    cfg->home_plen < 8 || cfg->home_plen > 30 || cfg->max_lifetime == UINT16_MAX ||
	    cfg->max_bindings > BCACHE_MAX_ENTRIES ||
	    !prefix4_contains(cfg->home_net, cfg->home_plen, cfg->address) ||
	    (cfg->ident_window && cfg->ident_window < MIP4_IDENT_WINDOW_MIN) ||
	    cfg->ntrusted > HA_TRUSTED_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < cfg->ntrusted; i++)
		if (cfg->trusted[i].plen > 32)
			return -EINVAL;
	ha = calloc(1, sizeof(*ha));
	if (!ha)
		return -ENOMEM;
	ha->cfg = *cfg;
	net = prefix4_network(cfg->home_net, cfg->home_plen);
	ha->cfg.home_net = net;
	if (!ha->cfg.max_lifetime)
		ha->cfg.max_lifetime = HA_MAX_LIFETIME_DEFAULT;
	if (!ha->cfg.ident_window)
		ha->cfg.ident_window = MIP4_IDENT_WINDOW_DEFAULT;
	if (!ha->cfg.max_bindings)
		ha->cfg.max_bindings = HA_MAX_BINDINGS_DEFAULT;
	ha->bcast.s_addr = net.s_addr | ~prefix4_mask(cfg->home_plen).s_addr;
	for (unsigned i = 0; i < ha->cfg.ntrusted; i++)
		ha->cfg.trusted[i].net = prefix4_network(cfg->trusted[i].net, cfg->trusted[i].plen);
	/* Entries past ntrusted mean nothing: keep them out of anything that reads the copy. */
	memset(&ha->cfg.trusted[ha->cfg.ntrusted], 0,
	       sizeof(ha->cfg.trusted[0]) * (HA_TRUSTED_MAX - ha->cfg.ntrusted));
	ha->bc = bcache_new(ha->cfg.max_bindings);
	if (!ha->bc) {
		free(ha);
		return -ENOMEM;
	}
	ha->rl_tokens = RL_BURST;
	logger_init(&ha->log, "ha[%s]", addr4_str(cfg->address, a));
	*out = ha;
	return 0;
}

void ha_engine_free(struct ha_engine *ha)
{
	if (!ha)
		return;
	bcache_free(ha->bc);
	free(ha);
}

const struct mip4_binding *ha_engine_lookup(const struct ha_engine *ha, struct in_addr hoa)
{
	return ha ? bcache_lookup(ha->bc, hoa) : NULL;
}

const struct bcache *ha_engine_bcache(const struct ha_engine *ha) { return ha ? ha->bc : NULL; }
const struct ha_stats *ha_engine_stats(const struct ha_engine *ha)
{
	return ha ? &ha->stats : NULL;
}

const struct ha_engine_config *ha_engine_config(const struct ha_engine *ha)
{
	return ha ? &ha->cfg : NULL;
}

bool ha_engine_source_trusted(const struct ha_engine *ha, struct in_addr a)
{
	if (!ha)
		return false;
	if (ha->cfg.ntrusted == 0)
		return true;
	for (unsigned i = 0; i < ha->cfg.ntrusted; i++)
		if (prefix4_contains(ha->cfg.trusted[i].net, ha->cfg.trusted[i].plen, a))
			return true;
	return false;
}

mm_time_ns ha_engine_next_expiry(const struct ha_engine *ha)
{
	return ha ? bcache_next_expiry(ha->bc) : BCACHE_NEVER;
}

uint32_t ha_engine_remaining(const struct ha_engine *ha, const struct mip4_binding *b)
{
	mm_time_ns now;

	if (!ha || !mip4_binding_active(b))
		return 0;
	now = clock_now(ha->cfg.clock);
	if (b->expires_at <= now)
		return 0;
	return (uint32_t)((b->expires_at - now + MM_SEC(1) - 1) / MM_SEC(1));
}

static mm_time_ns realtime_now(const struct ha_engine *ha)
{
	return ha->cfg.wall ? clock_now(ha->cfg.wall) : clock_realtime_ns();
}

/* --- logging -------------------------------------------------------------------------- */

static bool rl_allow(struct ha_engine *ha, mm_time_ns now)
{
	if (now >= ha->rl_last + RL_INTERVAL) {
		mm_time_ns add = (now - ha->rl_last) / RL_INTERVAL;

		mm_time_ns sum = ha->rl_tokens + add;

		ha->rl_tokens = add >= RL_BURST || sum >= RL_BURST ? RL_BURST : (unsigned)sum;
		ha->rl_last += add * RL_INTERVAL;
	}
	if (ha->rl_tokens == 0) {
		ha->rl_suppressed++;
		ha->stats.log_suppressed++;
		return false;
	}
	ha->rl_tokens--;
	return true;
}

static void drop_log(struct ha_engine *ha, const struct logger *lg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "dropped: <reason>", rate limited. */
static void drop_log(struct ha_engine *ha, const struct logger *lg, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	if (!rl_allow(ha, clock_now(ha->cfg.clock)))
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ha->rl_suppressed) {
		LOG_WARNING(lg, "dropped: %s (%llu similar lines suppressed)", why,
			    (unsigned long long)ha->rl_suppressed);
		ha->rl_suppressed = 0;
	} else {
		LOG_WARNING(lg, "dropped: %s", why);
	}
}

static const char *src_str(const struct ha_rx_meta *m, char buf[32])
{
	char a[ADDR4_STRLEN];

	snprintf(buf, 32, "%s:%u", addr4_str(m->src.sin_addr, a), ntohs(m->src.sin_port));
	return buf;
}

/* --- replies -------------------------------------------------------------------------- */

static bool is_broadcast(const struct ha_engine *ha, struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	return a.s_addr == INADDR_BROADCAST || a.s_addr == ha->bcast.s_addr ||
	       (h >= 0xe0000000u && h <= 0xefffffffu);
}

/* Fill out->reply with a Registration Reply (RFC 5944 §3.4, §3.8.3). out was zeroed by the
 * caller (except for events already recorded). */
static void reply(struct rq *q, uint8_t code, uint16_t lifetime, uint64_t ident,
		  const struct mip4_udp_tunnel_reply *udp)
{
	struct ha_engine *ha = q->ha;
	struct ha_actions *out = q->out;
	struct mip4_reg_reply rep;
	struct writer w;
	int n;

	memset(&rep, 0, sizeof(rep));
	rep.code = code;
	rep.lifetime = mip4_code_is_success(code) ? lifetime : 0;
	rep.home_addr = q->req.home_addr;
	/* §3.8.3.2: our unicast address, whatever the request named. */
	rep.home_agent = ha->cfg.address;
	rep.ident = ident;
	if (q->req.nai.present)            /* RFC 2794 §2: MUST include it */
		rep.nai = q->req.nai;
	if (udp)
		rep.udp_reply = *udp;
	/* RFC 5265 §4.3: an internal home agent "MUST include a Trusted Networks Configured
	 * extension ... in response to a registration request coming from a trusted address";
	 * a request from any other source never gets this far (ha_engine_request()). The
	 * encoder puts it before MN-HA, under the authenticator (§3.4, RFC 5944 §3.8.3.3 b). */
	rep.tnc.present = ha->cfg.ntrusted > 0;
	writer_init(&w, out->reply, sizeof(out->reply));
	n = mip4_reply_encode(&w, &rep, &q->key, NULL);
	/* §3.8.3.3 e: "MUST be included when the home agent and the foreign agent share a
	 * Mobility Security Association", after MN-HA, over the whole reply. */
	if (n >= 0 && q->have_fa_key) {
		int rc = mip4_auth_append(&w, 0, MIP4_EXT_FA_HA_AUTH, &q->fa_key);

		n = rc < 0 ? rc : (int)writer_len(&w);
	}
	if (n < 0) {
		LOG_ERROR(&q->lg, "cannot encode a Registration Reply (code %u): %s", code,
			  strerror(-n));
		out->send = false;
		out->code = -1;
		return;
	}
	out->send = true;
	out->code = code;
	out->reply_len = (size_t)n;
	out->reply_to = q->meta->src;
	/* §3.8.3.1: from the address the request was sent to, unless that was a broadcast. */
	out->reply_from = q->meta->dst.s_addr == 0 || is_broadcast(ha, q->meta->dst)
			  ? ha->cfg.address : q->meta->dst;
	out->reply_on_home_link = q->req.lifetime == 0 &&
				  q->req.coa.s_addr == q->req.home_addr.s_addr &&
				  q->meta->src.sin_addr.s_addr == q->req.home_addr.s_addr;
	if (!mip4_code_is_success(code)) {
		ha->stats.denied++;
		ha->stats.denied_by_code[code]++;
	}
}

static void deny(struct rq *q, uint8_t code, uint64_t ident, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Log "denied code=NNN (name): reason" once and build the denial. */
static void deny(struct rq *q, uint8_t code, uint64_t ident, const char *fmt, ...)
{
	char why[200], name[NAME_BUF_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	LOG_WARNING(&q->lg, "denied code=%u (%s): %s", code,
		    name_or_number(&mip4_reply_code_names, code, name, sizeof(name)), why);
	reply(q, code, 0, ident, NULL);
}

static void add_event(struct ha_actions *out, enum ha_event_kind kind,
		      enum ha_remove_reason reason, bool moved, const struct mip4_binding *b)
{
	struct ha_event *ev;

	if (out->nevents >= HA_EVENTS_MAX)
		return;
	ev = &out->events[out->nevents++];
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->reason = reason;
	ev->moved = moved;
	ev->binding = *b;
	out->state_changed = true;
}

/* --- the checks after authentication -------------------------------------------------- */

/* Lifetime 0, or care-of address = home address (§3.8.2.2). */
static void deregister(struct rq *q)
{
	struct ha_engine *ha = q->ha;
	const struct mip4_binding *b = bcache_lookup(ha->bc, q->req.home_addr);
	char c[ADDR4_STRLEN], s[32];

	ha->stats.deregistrations++;
	ha->stats.accepted++;
	/* Care-of address = home address: delete all bindings; otherwise only the one with
	 * that care-of address (we keep at most one). */
	if (b && (q->req.coa.s_addr == q->req.home_addr.s_addr ||
		  b->coa.s_addr == q->req.coa.s_addr)) {
		struct mip4_binding old;

		bcache_unbind(ha->bc, q->req.home_addr, &old);
		add_event(q->out, HA_EV_REMOVED, HA_REMOVED_DEREGISTERED, false, &old);
		LOG_NOTICE(&q->lg, "deregistered (was care-of %s via %s; request from %s)",
			   addr4_str(old.coa, c), mip4_encap_name(old.encap),
			   src_str(q->meta, s));
	} else {
		LOG_INFO(&q->lg, "deregistered: no binding for care-of %s (request from %s)",
			 addr4_str(q->req.coa, c), src_str(q->meta, s));
	}
	reply(q, MIP4_CODE_ACCEPTED, 0, q->req.ident, NULL);
}

/* The outcome of RFC 3519 §4.6 for this request. */
struct tunnel_choice {
	uint8_t deny_code;            /* 0: go ahead */
	const char *why;              /* for the denial */
	enum mip4_encap encap;
	struct in_addr ep_addr;
	uint16_t ep_port;
	bool forced;
	struct mip4_udp_tunnel_reply udp_reply;  /* .present: send one */
};

static void choose_tunnel(const struct rq *q, struct tunnel_choice *t)
{
	const struct ha_engine *ha = q->ha;
	const struct mip4_reg_request *req = &q->req;
	const struct mip4_udp_tunnel_req *u = &req->udp_req;
	bool nat = q->meta->src.sin_addr.s_addr != req->coa.s_addr;
	bool force = u->present && (u->flags & MIP4_UDPT_REQ_F);
	bool half = u->present && (u->flags & MIP4_UDPT_REQ_R);

	memset(t, 0, sizeof(*t));
	t->encap = MIP4_ENCAP_IPIP;
	t->ep_addr = req->coa;

	if (!u->present) {
		/* RFC 3519 §4.6.1: without the extension the HA "proceeds normally, which would
		 * be to refuse the registration if the IP source address does not match the
		 * care-of address": for a co-located care-of address (D) IP-in-IP could never
		 * cross the NAT. A foreign agent care-of address (no D) is relayed from the
		 * FA's own address, which need not be the care-of address (RFC 5944 §3.7.3.1). */
		if ((req->flags & MIP4_REQ_D) && nat) {
			t->deny_code = MIP4_CODE_HA_ADMIN_PROHIBITED;
			t->why = "NAT detected (source differs from the co-located care-of "
				 "address) and no UDP Tunnel Request: IP-in-IP cannot reach it";
		} else if (req->flags & (MIP4_REQ_M | MIP4_REQ_G)) {
			t->deny_code = MIP4_CODE_HA_ENCAP_UNAVAILABLE;  /* RFC 3024 §4.3.1 */
			t->why = "only IP-in-IP encapsulation (RFC 2003) is supported";
		}
		return;
	}

	if (!nat && !force && !half) {
		/* §4.6: no NAT and not forced: a declining UDP Tunnel Reply, IP-in-IP. */
		if (req->flags & (MIP4_REQ_M | MIP4_REQ_G)) {
			t->deny_code = MIP4_CODE_HA_ENCAP_UNAVAILABLE;
			t->why = "only IP-in-IP encapsulation (RFC 2003) is supported";
			return;
		}
		t->udp_reply.present = true;
		t->udp_reply.code = MIP4_UDPT_CODE_DECLINED;
		return;
	}
	if (ha->cfg.udp == HA_UDP_DENY) {
		/* §4.6.1: NAT detected (or F set) but traversal not allowed -> 129. */
		t->deny_code = MIP4_CODE_HA_ADMIN_PROHIBITED;
		t->why = nat ? "NAT detected but UDP tunnelling is denied by policy"
			     : "UDP tunnelling forced (F) but denied by policy";
		return;
	}
	/* §3.1.4, §4.1: the Encapsulation field, or when zero the M and G bits, select what
	 * goes inside UDP; we carry IP-in-UDP only. */
	if (u->encap != MIP4_UDPT_ENCAP_IPIP &&
	    (u->encap != MIP4_UDPT_ENCAP_DEFAULT || (req->flags & (MIP4_REQ_M | MIP4_REQ_G)))) {
		t->deny_code = MIP4_CODE_HA_UDP_ENCAP_UNAVAILABLE;
		t->why = "only IP-in-UDP tunnelling is supported";
		return;
	}
	/* §4.6: "it MUST use the source address of the registration request as the effective
	 * care-of address"; with R the port is learnt from the first keepalive. */
	t->encap = MIP4_ENCAP_UDP;
	t->ep_addr = q->meta->src.sin_addr;
	t->ep_port = half ? 0 : ntohs(q->meta->src.sin_port);
	t->forced = force && !nat;
	t->udp_reply.present = true;
	t->udp_reply.code = MIP4_UDPT_CODE_ACCEPT;
	t->udp_reply.forced = force;
	t->udp_reply.keepalive = ha->cfg.keepalive_interval;
}

static void accept_registration(struct rq *q)
{
	struct ha_engine *ha = q->ha;
	const struct mip4_reg_request *req = &q->req;
	const struct mip4_binding *old;
	struct tunnel_choice t;
	struct mip4_binding b, prev = { 0 };
	bool was_active = false, had_old, moved;
	char c[ADDR4_STRLEN], e[ADDR4_STRLEN + 6], s[32];
	uint16_t life;
	uint8_t code;
	int rc;

	choose_tunnel(q, &t);
	if (t.deny_code) {
		deny(q, t.deny_code, req->ident, "%s (care-of %s, request from %s)", t.why,
		     addr4_str(req->coa, c), src_str(q->meta, s));
		return;
	}
	/* §3.8.2.2: never more than requested, capped to what we grant (§3.8.3.2). Infinite
	 * (0xffff) is above any max-lifetime we accept, so it is capped too. A duplicate of
	 * an accepted request cannot extend a lifetime here: the replay check refused it. */
	life = req->lifetime < ha->cfg.max_lifetime ? req->lifetime : ha->cfg.max_lifetime;

	old = bcache_lookup(ha->bc, req->home_addr);
	had_old = old != NULL;
	if (old)
		prev = *old;
	memset(&b, 0, sizeof(b));
	b.home_addr = req->home_addr;
	b.coa = req->coa;
	b.ep_addr = t.ep_addr;
	b.ep_port = t.ep_port;
	b.lifetime = life;
	b.encap = (uint8_t)t.encap;
	b.req_flags = req->flags & (uint8_t)~MIP4_REQ_RESERVED;
	b.state = t.forced ? BCACHE_S_FORCED : 0;
	b.ident = req->ident;
	b.registered_at = q->now;
	b.expires_at = q->now + MM_SEC(life);
	rc = bcache_bind(ha->bc, &b, &was_active);
	if (rc < 0) {
		deny(q, MIP4_CODE_HA_INSUFFICIENT_RESOURCES, req->ident,
		     "binding cache full (%zu mobile nodes): %s", bcache_entries(ha->bc),
		     strerror(-rc));
		return;
	}
	old = bcache_lookup(ha->bc, req->home_addr);
	moved = had_old && (prev.ep_addr.s_addr != old->ep_addr.s_addr ||
			    prev.ep_port != old->ep_port || prev.encap != old->encap);
	add_event(q->out, was_active ? HA_EV_UPDATED : HA_EV_ADDED, HA_REMOVED_NONE, moved, old);
	ha->stats.accepted++;

	/* §3.8.2.2 / §3.8.3.2: code 1 tells a mobile node that asked for simultaneous
	 * bindings (S) that it got a single, replacing one. */
	code = (req->flags & MIP4_REQ_S) ? MIP4_CODE_ACCEPTED_NO_SIMULTANEOUS
					  : MIP4_CODE_ACCEPTED;
	addr4_str(t.ep_addr, e);
	if (t.encap == MIP4_ENCAP_UDP)
		snprintf(e + strlen(e), sizeof(e) - strlen(e), ":%u", t.ep_port);
	if (was_active && !moved && prev.coa.s_addr == req->coa.s_addr)
		LOG_INFO(&q->lg, "registered (renewal): care-of %s via %s to %s, lifetime %u s",
			 addr4_str(req->coa, c), mip4_encap_name(t.encap), e, life);
	else
		LOG_NOTICE(&q->lg, "registered: care-of %s via %s to %s, lifetime %u s%s%s%s",
			   addr4_str(req->coa, c), mip4_encap_name(t.encap), e, life,
			   (req->flags & MIP4_REQ_T) ? ", reverse tunnel" : "",
			   t.encap == MIP4_ENCAP_UDP && t.ep_addr.s_addr != req->coa.s_addr
			   ? ", NAT detected" : "", was_active ? " (moved)" : "");
	reply(q, code, life, req->ident, t.udp_reply.present ? &t.udp_reply : NULL);
}

/* After the Identification check: §3.8.2.1 (broadcast), §3.8.2.3, §3.8.3.2, then accept. */
static void check_and_apply(struct rq *q)
{
	struct ha_engine *ha = q->ha;
	const struct mip4_reg_request *req = &q->req;
	struct in_addr hoa = req->home_addr;
	char a[ADDR4_STRLEN], n[ADDR4_STRLEN];

	/* Reserved bits (x, r) are "sent as zero; ignored on reception" at the home agent
	 * (RFC 5944 section 3.3); only a foreign agent must reject them (section 3.7.2.1). */
	if (req->udp_req_not_understood) {
		deny(q, MIP4_CODE_HA_POORLY_FORMED_REQUEST, req->ident,
		     "UDP Tunnel Request not understood (RFC 3519 §3.1.3, §4.6.1)");
		return;
	}
	if (req->home_agent.s_addr != ha->cfg.address.s_addr || is_broadcast(ha, q->meta->dst)) {
		deny(q, MIP4_CODE_HA_UNKNOWN_HA_ADDRESS, req->ident,
		     "request names home agent %s, sent to %s; we are %s",
		     addr4_str(req->home_agent, a), addr4_str(q->meta->dst, n),
		     addr4_str(ha->cfg.address, n));
		return;
	}
	if (!prefix4_contains(ha->cfg.home_net, ha->cfg.home_plen, hoa) ||
	    hoa.s_addr == ha->cfg.home_net.s_addr || hoa.s_addr == ha->bcast.s_addr ||
	    hoa.s_addr == ha->cfg.address.s_addr) {
		deny(q, MIP4_CODE_HA_ADMIN_PROHIBITED, req->ident,
		     "home address is not a host address of the home prefix %s/%u",
		     addr4_str(ha->cfg.home_net, a), ha->cfg.home_plen);
		return;
	}
	if (req->lifetime == MIP4_LIFETIME_DEREGISTER || req->coa.s_addr == hoa.s_addr) {
		deregister(q);
		return;
	}
	if (req->coa.s_addr == 0 || is_broadcast(ha, req->coa)) {
		deny(q, MIP4_CODE_HA_POORLY_FORMED_REQUEST, req->ident,
		     "care-of address %s is not a unicast address", addr4_str(req->coa, a));
		return;
	}
	accept_registration(q);
}

/* --- foreign agents ------------------------------------------------------------------ */

/* The key we share with the foreign agent at fa into *key; false when there is none. */
static bool fa_key_of(struct ha_engine *ha, struct in_addr fa, struct mip4_key *key)
{
	if (!ha->cfg.fa_key_lookup)
		return false;
	if (ha->cfg.fa_key_lookup(ha->cfg.fa_key_ctx, fa, key) < 0 ||
	    key->spi < MIP4_SPI_MIN || mip4_auth_len(key) == 0) {
		mip4_key_wipe(key);
		return false;
	}
	return true;
}

/* §3.8.2.1 c: with a key shared with the request's source and a nonzero lifetime, exactly
 * one FA-HA (the parser refuses two) under that key's SPI must verify; one present on a
 * deregistration is checked too. Returns 0 (fine), 1 (132), or -EIO. */
static int check_fa_ha(struct rq *q)
{
	int rc;

	if (!q->have_fa_key || (q->req.lifetime == 0 && !q->req.fa_ha.present))
		return 0;
	if (!q->req.fa_ha.present)
		return 1;
	rc = mip4_auth_verify_key(q->msg, q->len, &q->req.fa_ha, &q->fa_key);
	if (rc == -EACCES || rc == -ENOENT)
		return 1;
	if (rc < 0) {
		LOG_ERROR(&q->lg, "cannot verify the Foreign-Home Authentication: %s",
			  strerror(-rc));
		return -EIO;
	}
	return 0;
}

/* --- entry points --------------------------------------------------------------------- */

int ha_engine_request(struct ha_engine *ha, const uint8_t *msg, size_t len,
		      const struct ha_rx_meta *meta, struct ha_actions *out)
{
	struct rq *q;
	struct mip4_ident_ha replay;
	const struct mip4_binding *e;
	uint64_t reply_ident = 0;
	char s[32], h[ADDR4_STRLEN];
	int rc;

	if (!ha || !meta || !out || (!msg && len))
		return -EINVAL;
	q = &ha->rq;
	memset(q, 0, sizeof(*q));
	q->ha = ha;
	q->msg = msg;
	q->len = len;
	q->meta = meta;
	q->out = out;
	q->now = clock_now(ha->cfg.clock);

	/* 1. Structure (reg.h). Nothing we could answer with authentication: discard. */
	/* "requests" counts what is recognisably a Registration Request: Type 1 and the whole
	 * 24-byte fixed part (what a protocol analyser decodes as one), malformed or not. */
	if (mip4_msg_type(msg, len) == MIP4_MSG_REG_REQUEST && len >= MIP4_REQUEST_FIXED_LEN)
		ha->stats.requests++;
	/* 0. RFC 5265 §4.3: an internal home agent "MUST reject (drop silently) any
	 * registration request coming from a source address that is not inside any of the
	 * configured trusted subnets. These dropped registration requests SHOULD be logged."
	 * First, before the bytes are looked at: nothing from outside gets an answer, not even
	 * a 131 or 133 that would tell an attacker the home agent is reachable from there. */
	if (!ha_engine_source_trusted(ha, meta->src.sin_addr)) {
		ha->stats.dropped_untrusted++;
		drop_log(ha, &ha->log, "message from %s (type %d, %zu bytes): source is outside "
			 "the trusted networks (RFC 5265 section 4.3)", src_str(meta, s),
			 mip4_msg_type(msg, len), len);
		rc = -EACCES;
		goto done;
	}
	if (mip4_msg_type(msg, len) != MIP4_MSG_REG_REQUEST) {
		ha->stats.dropped_malformed++;
		drop_log(ha, &ha->log, "not a Registration Request (type %d, %zu bytes) from %s",
			 mip4_msg_type(msg, len), len, src_str(meta, s));
		rc = -EBADMSG;
		goto done;
	}
	rc = mip4_request_parse(msg, len, &q->req);
	if (rc == -ENOKEY || rc == -EOPNOTSUPP) {
		/* §3.8.2.1 a: no authorization-enabling extension; §1.8: unknown extension. */
		ha->stats.dropped_unauthenticated++;
		drop_log(ha, &ha->log, "Registration Request from %s: %s", src_str(meta, s),
			 rc == -ENOKEY ? "no Mobile-Home Authentication extension"
				       : "unknown non-skippable extension");
		goto done;
	}
	if (rc < 0) {
		ha->stats.dropped_malformed++;
		drop_log(ha, &ha->log, "malformed Registration Request from %s (%s)",
			 src_str(meta, s), rc == -EPROTO ? "extension rules violated"
							 : "bad structure");
		rc = -EBADMSG;
		goto done;
	}
	logger_init(&q->lg, "ha[binding %s]", addr4_str(q->req.home_addr, h));
	q->have_fa_key = fa_key_of(ha, meta->src.sin_addr, &q->fa_key);
	if (q->req.fa_ha.present && !q->have_fa_key) {
		/* §3.8.2.1 d: no security association with that foreign agent. */
		ha->stats.dropped_unauthenticated++;
		drop_log(ha, &q->lg, "Foreign-Home Authentication from %s, but we share no "
			 "security association with it", src_str(meta, s));
		rc = -EPERM;
		goto done;
	}

	/* 2. Mobile-Home Authentication (§3.8.2.1 a). */
	rc = q->req.mn_ha.spi < MIP4_SPI_MIN ? -ENOENT
		: ha->cfg.key_lookup(ha->cfg.key_ctx, q->req.home_addr, q->req.mn_ha.spi, &q->key);
	if (rc < 0) {
		ha->stats.dropped_unknown_spi++;
		drop_log(ha, &q->lg, "no security association for SPI %u (request from %s)",
			 q->req.mn_ha.spi, src_str(meta, s));
		rc = -EPERM;
		goto done;
	}
	rc = mip4_auth_verify_key(msg, len, &q->req.mn_ha, &q->key);
	if (rc == -EACCES || rc == -ENOENT) {
		ha->stats.auth_failures++;
		memset(out, 0, sizeof(*out));
		out->code = -1;
		deny(q, MIP4_CODE_HA_MN_AUTH_FAILED, q->req.ident,
		     "security exception: Mobile-Home Authentication failed (SPI %u, request "
		     "from %s)", q->req.mn_ha.spi, src_str(meta, s));
		rc = 0;
		goto done;
	}
	if (rc < 0) {
		LOG_ERROR(&q->lg, "cannot verify the Mobile-Home Authentication: %s",
			  strerror(-rc));
		rc = -EIO;
		goto done;
	}

	/* 3. Identification (§3.8.2.1 b, §5.7.1), against the replay state of this node. */
	memset(out, 0, sizeof(*out));
	out->code = -1;
	mip4_ident_ha_init(&replay);
	e = bcache_get(ha->bc, q->req.home_addr);
	if (e && (e->state & BCACHE_S_REPLAY))
		mip4_ident_ha_accept(&replay, e->replay_ident);
	rc = mip4_ident_ha_check(&replay, q->req.ident, realtime_now(ha), ha->cfg.ident_window,
				 &reply_ident);
	if (rc < 0) {
		if (rc == -EALREADY)
			ha->stats.replays++;
		else
			ha->stats.stale_ident++;
		deny(q, MIP4_CODE_HA_IDENT_MISMATCH, reply_ident,
		     "security exception: Identification 0x%016llx %s (request from %s)",
		     (unsigned long long)q->req.ident,
		     rc == -EALREADY ? "is not after the last accepted one (replay)"
				     : "is outside the clock window", src_str(meta, s));
		rc = 0;
		goto done;
	}
	/* Authenticated and fresh: record it whatever the outcome (ident.h). */
	rc = bcache_set_replay(ha->bc, q->req.home_addr, q->req.ident);
	if (rc < 0) {
		deny(q, MIP4_CODE_HA_INSUFFICIENT_RESOURCES, q->req.ident,
		     "cannot remember another mobile node (%zu known): %s",
		     bcache_entries(ha->bc), strerror(-rc));
		rc = 0;
		goto done;
	}
	out->state_changed = true;
	out->home_addr = q->req.home_addr;

	/* 3b. Foreign-Home Authentication (§3.8.2.1 c). */
	rc = check_fa_ha(q);
	if (rc < 0) {
		/* The Identification is recorded already (state_changed): no reply, but the
		 * caller still persists. */
		rc = 0;
		goto done;
	}
	if (rc > 0) {
		ha->stats.fa_auth_failures++;
		deny(q, MIP4_CODE_HA_FA_AUTH_FAILED, q->req.ident,
		     "security exception: Foreign-Home Authentication %s (request from %s)",
		     q->req.fa_ha.present ? "failed" : "missing", src_str(meta, s));
		rc = 0;
		goto done;
	}

	/* 4.-5. */
	check_and_apply(q);
	rc = 0;
done:
	mip4_key_wipe(&q->key);
	mip4_key_wipe(&q->fa_key);
	return rc;
}

int ha_engine_expire(struct ha_engine *ha, mm_time_ns now, struct ha_actions *out)
{
	struct mip4_binding b;
	struct logger lg;
	char h[ADDR4_STRLEN], c[ADDR4_STRLEN];
	int n = 0;

	if (!ha || !out)
		return -EINVAL;
	if (bcache_next_expiry(ha->bc) > now)
		return 0;
	memset(out, 0, sizeof(*out));
	out->code = -1;
	while (n < HA_EVENTS_MAX && bcache_expire_one(ha->bc, now, &b) == 1) {
		add_event(out, HA_EV_REMOVED, HA_REMOVED_EXPIRED, false, &b);
		ha->stats.expired++;
		logger_init(&lg, "ha[binding %s]", addr4_str(b.home_addr, h));
		LOG_NOTICE(&lg, "deregistered: lifetime %u s expired (care-of %s via %s)",
			   b.lifetime, addr4_str(b.coa, c), mip4_encap_name(b.encap));
		n++;
	}
	return n;
}

int ha_engine_keepalive(struct ha_engine *ha, const struct sockaddr_in *outer_src,
			struct in_addr inner_src, struct in_addr inner_dst,
			struct ha_actions *out)
{
	const struct mip4_binding *b;
	struct logger lg;
	char h[ADDR4_STRLEN], a[ADDR4_STRLEN], e[ADDR4_STRLEN];

	if (!ha || !outer_src || !out)
		return -EINVAL;
	logger_init(&lg, "ha[binding %s]", addr4_str(inner_src, h));
	b = bcache_lookup(ha->bc, inner_src);
	if (!b || b->encap != MIP4_ENCAP_UDP || inner_dst.s_addr != ha->cfg.address.s_addr) {
		ha->stats.keepalives_dropped++;
		drop_log(ha, &lg, "keepalive from %s:%u to %s: no UDP tunnel binding",
			 addr4_str(outer_src->sin_addr, a), ntohs(outer_src->sin_port),
			 addr4_str(inner_dst, e));
		return -ENOENT;
	}
	if (b->ep_addr.s_addr != outer_src->sin_addr.s_addr ||
	    (b->ep_port != 0 && b->ep_port != ntohs(outer_src->sin_port))) {
		/* §4.3: outer addresses and ports must match the tunnel; only a half-bound
		 * binding may learn its port (§4.6, §6.1.2). */
		ha->stats.keepalives_dropped++;
		drop_log(ha, &lg, "keepalive from %s:%u does not match the tunnel endpoint %s:%u",
			 addr4_str(outer_src->sin_addr, a), ntohs(outer_src->sin_port),
			 addr4_str(b->ep_addr, e), b->ep_port);
		return -EPERM;
	}
	ha->stats.keepalives++;
	if (b->ep_port == 0) {
		uint16_t port = ntohs(outer_src->sin_port);

		bcache_set_endpoint(ha->bc, inner_src, outer_src->sin_addr, port);
		b = bcache_lookup(ha->bc, inner_src);
		add_event(out, HA_EV_UPDATED, HA_REMOVED_NONE, true, b);
		LOG_NOTICE(&lg, "registered: half-bound UDP tunnel now bound to %s:%u by the "
			   "first keepalive (RFC 3519 §4.6)", addr4_str(b->ep_addr, e), port);
	}
	return 0;
}

/* --- persistence ---------------------------------------------------------------------- */

size_t ha_engine_save_len(const struct ha_engine *ha)
{
	return ha ? bcache_serialized_len(ha->bc) : 0;
}

int ha_engine_save(const struct ha_engine *ha, struct writer *w)
{
	if (!ha || !w)
		return -EINVAL;
	return bcache_serialize(ha->bc, w, clock_now(ha->cfg.clock), realtime_now(ha));
}

int ha_engine_load(struct ha_engine *ha, const void *data, size_t len, size_t *expired)
{
	struct bcache *bc = NULL;
	int rc;

	if (!ha)
		return -EINVAL;
	rc = bcache_deserialize(&bc, data, len, ha->cfg.max_bindings, clock_now(ha->cfg.clock),
				realtime_now(ha), expired);
	if (rc < 0)
		return rc;
	bcache_free(ha->bc);
	ha->bc = bc;
	return 0;
}

int ha_engine_journal_record(const struct ha_engine *ha, struct in_addr hoa,
			     const struct bcache_snapshot_id *id, struct writer *w)
{
	if (!ha)
		return -EINVAL;
	return bcache_journal_record(ha->bc, hoa, id, w, clock_now(ha->cfg.clock),
				     realtime_now(ha));
}

int ha_engine_journal_replay(struct ha_engine *ha, const void *data, size_t len,
			     const struct bcache_snapshot_id *id,
			     struct bcache_journal_result *res)
{
	if (!ha)
		return -EINVAL;
	return bcache_journal_replay(ha->bc, data, len, id, clock_now(ha->cfg.clock),
				     realtime_now(ha), res);
}
