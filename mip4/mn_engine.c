/* Mobile node registration engine (RFC 5944 §3.6). See mn_engine.h. No I/O. */
#include "mip4/mn_engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/names.h"
#include "common/sock.h"
#include "mip4/agent.h"
#include "mip4/ident.h"

struct mn_engine {
	struct logger log;
	struct mn_engine_config cfg;   /* cfg.nai points at nai below */
	char nai[MIP4_NAI_MAX + 1];
	size_t nai_len;

	enum mn_state state;
	bool at_home;
	struct in_addr coa;            /* away: current care-of address; else 0 */

	/* Through a foreign agent (mode f): its address, what it advertised, our MN-FA key. */
	bool via_fa;
	struct in_addr fa;
	uint16_t fa_reg_lifetime;      /* the advertisement's Registration Lifetime */
	uint16_t fa_max_lifetime;      /* from a code 69 denial (§3.6.2.3); 0 = none */
	uint16_t fa_adv_flags;
	bool fa_force_t;               /* a code 75 denial: the agent wants T (RFC 3024 §3.4) */
	bool have_fa_key;
	struct mip4_key fa_key;

	/* The pending request (REGISTERING, RENEWING, DEREGISTERING), RFC 5944 §3.6: "the IP
	 * Destination Address ..., the care-of address used, the Identification value sent,
	 * the originally requested Lifetime". */
	struct mip4_ident_mn ident;
	uint64_t sent_ident;
	struct in_addr sent_dst;       /* the agent the request went to: replies come from it */
	struct in_addr sent_coa;
	uint16_t sent_lifetime;
	bool sent_udp_req;
	mm_time_ns sent_at;
	mm_time_ns interval;           /* current retransmission timeout */
	mm_time_ns retrans_at;         /* MN_NEVER when nothing is pending */
	unsigned tries;                /* transmissions of this attempt */
	bool resync_retry;             /* the pending request is the immediate retry after a
	                                * repairable denial (133, 69, 75) */
	bool denied_last;              /* the last request of this attempt was denied */

	/* The binding (REGISTERED, RENEWING). */
	bool bound;
	struct mn_binding binding;
	mm_time_ns renew_at;
	mm_time_ns registered_at;
	int last_code;

	struct mn_engine_stats stats;
	struct mn_actions *out;        /* the batch being filled by the current input */
};

/* --- names ---------------------------------------------------------------------------- */

static const char *const state_names[MN_STATE_COUNT] = {
	[MN_STATE_IDLE] = "idle",
	[MN_STATE_AT_HOME] = "home",
	[MN_STATE_REGISTERING] = "registering",
	[MN_STATE_REGISTERED] = "registered",
	[MN_STATE_RENEWING] = "renewing",
	[MN_STATE_DEREGISTERING] = "deregistering",
};

const char *mn_state_name(enum mn_state s)
{
	return (unsigned)s < MN_STATE_COUNT ? state_names[s] : "?";
}

const char *mn_udp_mode_name(enum mn_udp_mode m)
{
	switch (m) {
	case MN_UDP_AUTO: return "auto";
	case MN_UDP_FORCE: return "force";
	case MN_UDP_OFF: return "off";
	}
	return "?";
}

const char *mn_encap_name(enum mn_encap e)
{
	switch (e) {
	case MN_ENCAP_IPIP: return "ipip";
	case MN_ENCAP_UDP: return "udp";
	}
	return "?";
}

const char *mn_down_reason_name(enum mn_down_reason r)
{
	switch (r) {
	case MN_DOWN_MOVED: return "moved";
	case MN_DOWN_EXPIRED: return "expired";
	case MN_DOWN_HOME: return "home";
	case MN_DOWN_DETACHED: return "detached";
	case MN_DOWN_STOPPED: return "stopped";
	}
	return "?";
}

/* --- actions -------------------------------------------------------------------------- */

static struct mn_action *push(struct mn_engine *mn, enum mn_action_kind kind)
{
	struct mn_actions *out = mn->out;
	struct mn_action *a;

	/* The transitions below emit at most five actions per input; the array has room for
	 * eight. Should that ever be wrong, dropping the action is safer than overrunning. */
	if (out->count >= MN_ACTIONS_MAX)
		return NULL;
	a = &out->act[out->count++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

/* --- the state machine ---------------------------------------------------------------- */

/* Legal moves: allowed[from] is a bit set of destination states. */
#define BIT(s) (1u << (s))
static const unsigned allowed[MN_STATE_COUNT] = {
	[MN_STATE_IDLE] = BIT(MN_STATE_REGISTERING) | BIT(MN_STATE_DEREGISTERING) |
			  BIT(MN_STATE_AT_HOME),
	[MN_STATE_AT_HOME] = BIT(MN_STATE_REGISTERING) | BIT(MN_STATE_IDLE),
	[MN_STATE_REGISTERING] = BIT(MN_STATE_REGISTERED) | BIT(MN_STATE_DEREGISTERING) |
				 BIT(MN_STATE_IDLE),
	[MN_STATE_REGISTERED] = BIT(MN_STATE_RENEWING) | BIT(MN_STATE_REGISTERING) |
				BIT(MN_STATE_DEREGISTERING) | BIT(MN_STATE_IDLE),
	[MN_STATE_RENEWING] = BIT(MN_STATE_REGISTERED) | BIT(MN_STATE_REGISTERING) |
			      BIT(MN_STATE_DEREGISTERING) | BIT(MN_STATE_IDLE),
	[MN_STATE_DEREGISTERING] = BIT(MN_STATE_AT_HOME) | BIT(MN_STATE_REGISTERING) |
				   BIT(MN_STATE_IDLE),
};

/* The one function that changes mn->state. */
static int set_state(struct mn_engine *mn, enum mn_state to)
{
	enum mn_state from = mn->state;
	struct mn_action *a;

	if ((unsigned)to >= MN_STATE_COUNT || !(allowed[from] & BIT(to))) {
		LOG_ERROR(&mn->log, "refusing illegal state change %s -> %s", mn_state_name(from),
			  mn_state_name(to));
		return -EINVAL;
	}
	mn->state = to;
	LOG_NOTICE(&mn->log, "state %s -> %s", mn_state_name(from), mn_state_name(to));
	a = push(mn, MN_ACT_STATE);
	if (a) {
		a->old_state = from;
		a->new_state = to;
	}
	return 0;
}

/* --- time ----------------------------------------------------------------------------- */

static mm_time_ns wall_now(const struct mn_engine *mn)
{
	return mn->cfg.wall ? clock_now(mn->cfg.wall) : clock_realtime_ns();
}

static uint32_t random32(const struct mn_engine *mn)
{
	uint32_t r = 0;

	if (mn->cfg.random)
		return mn->cfg.random(mn->cfg.random_ctx);
	/* RAND_bytes only fails when the DRBG cannot be seeded; the low bits of an
	 * Identification are then merely predictable, which replay protection does not rely
	 * on (the timestamp and the HA's strictly-increasing check do). */
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = 0;
	return r;
}

static mm_time_ns add_sat(mm_time_ns a, mm_time_ns b)
{
	return a > MN_NEVER - b ? MN_NEVER : a + b;
}

/* The lifetime to ask for away from home: the configured one; through a foreign agent no
 * more than its advertised Registration Lifetime (§3.6.1.2 "SHOULD NOT exceed") nor the
 * maximum of a code 69 denial (§3.6.2.3 "MUST be less than or equal"). */
static uint16_t request_lifetime(const struct mn_engine *mn)
{
	uint16_t life = mn->cfg.lifetime;

	if (mn->via_fa) {
		if (mn->fa_reg_lifetime < life)
			life = mn->fa_reg_lifetime;
		if (mn->fa_max_lifetime && mn->fa_max_lifetime < life)
			life = mn->fa_max_lifetime;
	}
	return life;
}

/* §3.6.3: the maximum retransmission timeout is no greater than the requested lifetime. */
static mm_time_ns retrans_max(const struct mn_engine *mn)
{
	mm_time_ns life = MM_SEC(request_lifetime(mn));

	if (life < MN_RETRANS_INITIAL)
		life = MN_RETRANS_INITIAL;
	return life < MN_RETRANS_MAX ? life : MN_RETRANS_MAX;
}

static mm_time_ns next_interval(const struct mn_engine *mn, mm_time_ns cur)
{
	mm_time_ns max = retrans_max(mn);

	return cur >= max / 2 ? max : cur * 2;
}

static mm_time_ns compute_deadline(const struct mn_engine *mn)
{
	mm_time_ns d = MN_NEVER;

	if (mn->retrans_at < d)
		d = mn->retrans_at;
	if (mn->bound) {
		if (mn->state == MN_STATE_REGISTERED && mn->renew_at < d)
			d = mn->renew_at;
		if (mn->binding.expires_at < d)
			d = mn->binding.expires_at;
	}
	return d;
}

/* --- building and sending requests ---------------------------------------------------- */

/* Build and queue one Registration Request for the current location. dereg: lifetime 0.
 * RFC 5944 §3.6.1.1 (source: the co-located CoA away, the home address at home),
 * §3.6.1.2 (fields), §3.6.1.3 (extension order: the codec's). */
static int send_request(struct mn_engine *mn, bool dereg, mm_time_ns now)
{
	struct mip4_reg_request req;
	struct mn_action *a;
	struct writer w;
	int n;

	memset(&req, 0, sizeof(req));
	req.home_addr = mn->cfg.home_addr;
	req.home_agent = mn->cfg.home_agent;
	if (mn->at_home) {
		/* §3.6.1.2: deregister all care-of addresses: CoA = home address, lifetime 0;
		 * not co-located, so no D (and so no UDP Tunnel Request, RFC 3519 §3.1.5). */
		req.coa = mn->cfg.home_addr;
		req.lifetime = MIP4_LIFETIME_DEREGISTER;
	} else if (mn->via_fa) {
		/* §3.6.1.2: the agent's care-of address, "Otherwise, the 'D' bit MUST NOT be
		 * set"; the lifetime within what the agent advertised. RFC 3024 §3.1, §3.2: T
		 * only from an agent that offers reverse tunnelling (one that does not would
		 * deny it, 74), or when the agent said it is mandatory (75). No UDP Tunnel
		 * Request: RFC 3519 §3.1 is for a co-located care-of address. */
		req.coa = mn->coa;
		req.lifetime = dereg ? MIP4_LIFETIME_DEREGISTER : request_lifetime(mn);
		if (mn->fa_force_t ||
		    (mn->cfg.reverse_tunnel && (mn->fa_adv_flags & MIP4_ADV_T)))
			req.flags |= MIP4_REQ_T;
	} else {
		req.coa = mn->coa;
		req.lifetime = dereg ? MIP4_LIFETIME_DEREGISTER : mn->cfg.lifetime;
		/* §3.6.1.2: "SHOULD set the 'D' bit if it is registering with a co-located
		 * care-of address". RFC 3024 §3.2: T asks for reverse tunnelling. */
		req.flags = MIP4_REQ_D;
		if (mn->cfg.reverse_tunnel)
			req.flags |= MIP4_REQ_T;
		/* RFC 3519 §4.4: the MN with a co-located CoA MAY include the request; F forces
		 * UDP tunnelling (§3.1.1). Encapsulation: IP-in-UDP, named explicitly (§3.1.4;
		 * 0 would mean "as M and G say", the same here, but IP-in-UDP is what our data
		 * path speaks and what every HA must implement, §4.1). §3.1.5: D and (SHOULD)
		 * T go with it. */
		if (!dereg && mn->cfg.udp != MN_UDP_OFF) {
			req.udp_req.present = true;
			req.udp_req.flags = mn->cfg.udp == MN_UDP_FORCE ? MIP4_UDPT_REQ_F : 0;
			req.udp_req.encap = MIP4_UDPT_ENCAP_IPIP;
		}
	}
	if (mn->nai_len) {
		req.nai.present = true;
		req.nai.len = (uint8_t)mn->nai_len;
		memcpy(req.nai.text, mn->nai, mn->nai_len);
	}
	/* §3.6.3: with timestamps, each retransmission gets a new Identification. */
	req.ident = mip4_ident_mn_next(&mn->ident, wall_now(mn), random32(mn));

	writer_init(&w, mn->out->msg, sizeof(mn->out->msg));
	/* §3.6.1.3 e: MN-FA after everything else, when we share a key with the agent. */
	n = mip4_request_encode(&w, &req, &mn->cfg.key,
				mn->via_fa && !mn->at_home && mn->have_fa_key ? &mn->fa_key : NULL);
	if (n < 0) {
		LOG_ERROR(&mn->log, "cannot encode a Registration Request: %s", strerror(-n));
		return n;
	}
	a = push(mn, MN_ACT_SEND);
	if (!a)
		return -ENOSPC;
	mn->out->msg_len = (size_t)n;
	a->port = MIP4_PORT;
	if (mn->via_fa && !mn->at_home) {
		/* §3.6.1.1: from the home address ("in all other circumstances") to the agent's
		 * address as learned from the advertisement's IP source. */
		a->src = mn->cfg.home_addr;
		a->dst = mn->fa;
		a->ttl = MN_FA_TTL;
	} else {
		a->src = mn->at_home ? mn->cfg.home_addr : mn->coa;
		a->dst = mn->cfg.home_agent;
	}
	mn->sent_dst = a->dst;

	mn->sent_ident = req.ident;
	mn->sent_coa = req.coa;
	mn->sent_lifetime = req.lifetime;
	mn->sent_udp_req = req.udp_req.present;
	mn->sent_at = now;
	mn->tries++;
	mn->stats.requests++;
	if (mn->tries > 1)
		mn->stats.retransmissions++;
	if (log_enabled(LOG_LEVEL_DEBUG)) {
		char c[ADDR4_STRLEN], h[ADDR4_STRLEN];

		LOG_DEBUG(&mn->log, "Registration Request #%u coa=%s %s=%s lifetime=%u "
			  "ident=0x%016llx flags=0x%02x udp=%s", mn->tries, addr4_str(req.coa, c),
			  a->dst.s_addr == mn->cfg.home_agent.s_addr ? "ha" : "fa",
			  addr4_str(a->dst, h), req.lifetime,
			  (unsigned long long)req.ident, req.flags,
			  req.udp_req.present ? mn_udp_mode_name(mn->cfg.udp) : "no");
	}
	return 0;
}

/* Start a new registration attempt (new location, renewal, re-registration): first
 * request now, backoff from the start. */
static int start_attempt(struct mn_engine *mn, mm_time_ns now)
{
	int rc;

	mn->tries = 0;
	mn->resync_retry = false;
	mn->denied_last = false;
	mn->interval = MN_RETRANS_INITIAL;
	rc = send_request(mn, false, now);
	/* Armed even if building the request failed: the timer retries. */
	mn->retrans_at = add_sat(now, mn->interval);
	return rc;
}

static void clear_pending(struct mn_engine *mn)
{
	mn->retrans_at = MN_NEVER;
	mn->tries = 0;
	mn->resync_retry = false;
	mn->denied_last = false;
}

static void binding_down(struct mn_engine *mn, enum mn_down_reason why)
{
	struct mn_action *a;

	if (!mn->bound)
		return;
	mn->bound = false;
	mn->renew_at = MN_NEVER;
	a = push(mn, MN_ACT_BINDING_DOWN);
	if (a)
		a->down_reason = why;
}

/* --- location ------------------------------------------------------------------------- */

/* Forget the foreign agent (and wipe our key with it). */
static void leave_fa(struct mn_engine *mn)
{
	if (mn->have_fa_key)
		mip4_key_wipe(&mn->fa_key);
	mn->have_fa_key = false;
	mn->via_fa = false;
	mn->fa.s_addr = 0;
	mn->fa_reg_lifetime = 0;
	mn->fa_max_lifetime = 0;
	mn->fa_adv_flags = 0;
	mn->fa_force_t = false;
}

/* What may change of a foreign agent location without a new registration. */
static void fa_params(struct mn_engine *mn, const struct mn_fa_location *loc)
{
	mn->fa_reg_lifetime = loc->reg_lifetime;
	mn->fa_adv_flags = loc->adv_flags;
	if (mn->have_fa_key)
		mip4_key_wipe(&mn->fa_key);
	mn->have_fa_key = loc->mn_fa != NULL;
	if (loc->mn_fa)
		mn->fa_key = *loc->mn_fa;
}

static int go_home(struct mn_engine *mn, mm_time_ns now)
{
	int rc;

	binding_down(mn, MN_DOWN_HOME);
	leave_fa(mn);
	mn->at_home = true;
	mn->coa.s_addr = 0;
	rc = set_state(mn, MN_STATE_DEREGISTERING);
	if (rc < 0)
		return rc;
	/* RFC 5944 §3.6, §4.6: deregister on return home. The daemon sends the gratuitous ARP
	 * for the home address before it sends this request (§4.6 "Before transmitting the
	 * (de)Registration Request message ... MUST transmit this gratuitous ARP"). */
	LOG_NOTICE(&mn->log, "back on the home link: deregistering");
	mn->tries = 0;
	mn->resync_retry = false;
	mn->denied_last = false;
	mn->interval = MN_RETRANS_INITIAL;
	rc = send_request(mn, true, now);
	mn->retrans_at = add_sat(now, mn->interval);
	return rc;
}

static int go_away(struct mn_engine *mn, struct in_addr coa, mm_time_ns now)
{
	char c[ADDR4_STRLEN];
	int rc;

	binding_down(mn, MN_DOWN_MOVED);
	leave_fa(mn);
	mn->at_home = false;
	mn->coa = coa;
	if (mn->state != MN_STATE_REGISTERING) {
		rc = set_state(mn, MN_STATE_REGISTERING);
		if (rc < 0)
			return rc;
	}
	LOG_NOTICE(&mn->log, "registering care-of address %s", addr4_str(coa, c));
	return start_attempt(mn, now);
}

static int go_away_fa(struct mn_engine *mn, const struct mn_fa_location *loc, mm_time_ns now)
{
	char c[ADDR4_STRLEN], fa[ADDR4_STRLEN];
	int rc;

	binding_down(mn, MN_DOWN_MOVED);
	leave_fa(mn);
	mn->at_home = false;
	mn->coa = loc->coa;
	mn->via_fa = true;
	mn->fa = loc->fa;
	fa_params(mn, loc);
	if (mn->state != MN_STATE_REGISTERING) {
		rc = set_state(mn, MN_STATE_REGISTERING);
		if (rc < 0)
			return rc;
	}
	LOG_NOTICE(&mn->log, "registering care-of address %s through the foreign agent %s",
		   addr4_str(loc->coa, c), addr4_str(loc->fa, fa));
	if (mn->cfg.reverse_tunnel && !(loc->adv_flags & MIP4_ADV_T))
		LOG_WARNING(&mn->log, "foreign agent %s does not offer reverse tunnelling: "
			    "registering without T (RFC 3024 3.1)", fa);
	return start_attempt(mn, now);
}

static int go_idle(struct mn_engine *mn)
{
	binding_down(mn, MN_DOWN_DETACHED);
	leave_fa(mn);
	mn->at_home = false;
	mn->coa.s_addr = 0;
	clear_pending(mn);
	LOG_NOTICE(&mn->log, "no usable address: idle");
	return set_state(mn, MN_STATE_IDLE);
}

static void begin(struct mn_engine *mn, struct mn_actions *out)
{
	memset(out, 0, offsetof(struct mn_actions, msg));
	out->msg_len = 0;
	mn->out = out;
}

/* Close the batch. An internal failure (a request that could not be encoded, a refused
 * state change: bugs, not input) has been logged where it happened; whatever changed before
 * it must still reach the caller, and the timer retries, so the input counts as handled. */
static void finish(struct mn_engine *mn, int rc)
{
	(void)rc;
	mn->out->deadline = compute_deadline(mn);
	mn->out = NULL;
}

int mn_engine_set_location(struct mn_engine *mn, bool at_home, struct in_addr coa,
			   mm_time_ns now, struct mn_actions *out)
{
	struct mn_actions tmp;
	int rc = 0;

	/* Our home address on a foreign link is not a care-of address: the daemon decides
	 * "at home" from the interfaces and never passes it. */
	if (!mn || !out || (!at_home && coa.s_addr == mn->cfg.home_addr.s_addr))
		return -EINVAL;
	begin(mn, &tmp);
	if (at_home) {
		if (!mn->at_home || mn->state == MN_STATE_IDLE)
			rc = go_home(mn, now);
	} else if (coa.s_addr == 0) {
		if (mn->state != MN_STATE_IDLE)
			rc = go_idle(mn);
	} else if (mn->at_home || mn->state == MN_STATE_IDLE || mn->via_fa ||
		   coa.s_addr != mn->coa.s_addr) {
		rc = go_away(mn, coa, now);
	}
	finish(mn, rc);
	*out = tmp;
	return 0;
}

static bool fa_location_valid(const struct mn_engine *mn, const struct mn_fa_location *loc)
{
	struct mip4_key check;
	uint32_t hoa = mn->cfg.home_addr.s_addr;

	if (!loc->fa.s_addr || !loc->coa.s_addr || loc->fa.s_addr == hoa ||
	    loc->coa.s_addr == hoa || loc->reg_lifetime == 0)
		return false;
	if (loc->mn_fa) {
		if (mip4_key_set(&check, loc->mn_fa->spi, loc->mn_fa->key, loc->mn_fa->len) < 0)
			return false;
		mip4_key_wipe(&check);
	}
	return true;
}

int mn_engine_set_location_fa(struct mn_engine *mn, const struct mn_fa_location *loc,
			      mm_time_ns now, struct mn_actions *out)
{
	struct mn_actions tmp;
	int rc = 0;

	if (!mn || !loc || !out || !fa_location_valid(mn, loc))
		return -EINVAL;
	begin(mn, &tmp);
	if (!mn->at_home && mn->state != MN_STATE_IDLE && mn->via_fa &&
	    mn->fa.s_addr == loc->fa.s_addr && mn->coa.s_addr == loc->coa.s_addr)
		fa_params(mn, loc);     /* the same agent advertising again */
	else
		rc = go_away_fa(mn, loc, now);
	finish(mn, rc);
	*out = tmp;
	return 0;
}

int mn_engine_fa_rebooted(struct mn_engine *mn, mm_time_ns now, struct mn_actions *out)
{
	struct mn_actions tmp;
	char fa[ADDR4_STRLEN];
	int rc = 0;

	if (!mn || !out)
		return -EINVAL;
	if (!mn->via_fa || mn->at_home ||
	    (mn->state != MN_STATE_REGISTERING && mn->state != MN_STATE_REGISTERED &&
	     mn->state != MN_STATE_RENEWING))
		return -EAGAIN;
	begin(mn, &tmp);
	LOG_NOTICE(&mn->log, "foreign agent %s rebooted: registering again",
		   addr4_str(mn->fa, fa));
	if (mn->state == MN_STATE_REGISTERED)
		rc = set_state(mn, MN_STATE_RENEWING);
	if (rc == 0 && mn->stats.requests > 0 && now < mn->sent_at + MN_RETRANS_INITIAL) {
		/* §2.4.2, §3.6.3: never more than one request per second, however often the
		 * advertisements claim a reboot: the new attempt starts 1 s after the last. */
		mn->tries = 0;
		mn->resync_retry = false;
		mn->denied_last = false;
		mn->interval = MN_RETRANS_INITIAL / 2;   /* doubled back to 1 s by the timer */
		mn->retrans_at = mn->sent_at + MN_RETRANS_INITIAL;
	} else if (rc == 0) {
		rc = start_attempt(mn, now);
	}
	finish(mn, rc);
	*out = tmp;
	return 0;
}

/* --- replies -------------------------------------------------------------------------- */

static int drop(struct mn_engine *mn, uint64_t *counter, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int drop(struct mn_engine *mn, uint64_t *counter, int rc, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	(*counter)++;
	LOG_WARNING(&mn->log, "dropped: %s", why);
	return rc;
}

static bool pending(const struct mn_engine *mn)
{
	return mn->state == MN_STATE_REGISTERING || mn->state == MN_STATE_RENEWING ||
	       mn->state == MN_STATE_DEREGISTERING;
}

/* Authenticated acceptance of a registration (REGISTERING, RENEWING). */
static int accepted(struct mn_engine *mn, const struct mip4_reg_reply *rep, mm_time_ns now)
{
	struct mn_binding b;
	struct mn_action *a;
	char c[ADDR4_STRLEN], fa[ADDR4_STRLEN];
	uint16_t life = rep->lifetime;
	bool renewal = mn->bound && mn->binding.coa.s_addr == mn->sent_coa.s_addr;
	int rc;

	if (life == 0) {
		/* A success code with lifetime 0 grants nothing: treat it as a denial. */
		LOG_WARNING(&mn->log, "home agent accepted with lifetime 0: no binding");
		return 1;
	}
	if (life > mn->sent_lifetime) {
		/* §3.8.3.1: the HA may only shorten the lifetime. */
		LOG_INFO(&mn->log, "granted lifetime %u > requested %u: using %u", life,
			 mn->sent_lifetime, mn->sent_lifetime);
		life = mn->sent_lifetime;
	}
	mip4_ident_mn_accepted(&mn->ident, mn->sent_ident);

	memset(&b, 0, sizeof(b));
	b.coa = mn->sent_coa;
	b.lifetime = life;
	b.renewal = renewal;
	b.via_fa = mn->via_fa;
	b.fa = mn->via_fa ? mn->fa : (struct in_addr){ 0 };
	/* RFC 5265 §3.4, §4.1: a TNC counts only under the authenticator just verified. */
	b.tnc = mip4_reply_tnc_protected(rep);
	if (rep->tnc.present && !b.tnc)
		LOG_WARNING(&mn->log, "ignoring a Trusted Networks Configured extension that "
			    "Mobile-Home Authentication does not cover");
	/* RFC 3519 §3.2.1: codes 0-63 assent. §4.4: no UDP Tunnel Reply -> the HA does not
	 * understand the request, and the MN MUST NOT use UDP tunnelling. */
	b.encap = MN_ENCAP_IPIP;
	if (mn->sent_udp_req && rep->udp_reply.present &&
	    rep->udp_reply.code < MIP4_UDPT_CODE_DECLINED) {
		b.encap = MN_ENCAP_UDP;
		/* §3.2: "If this field is set to 0, the mobile node MUST use its default
		 * configured keepalive interval". §4.10: never below 10 s. */
		b.keepalive = rep->udp_reply.keepalive ? rep->udp_reply.keepalive
						       : mn->cfg.keepalive_default;
		if (b.keepalive < 10)
			b.keepalive = 10;
	} else if (rep->udp_reply.present && !mn->sent_udp_req) {
		LOG_INFO(&mn->log, "ignoring a UDP Tunnel Reply to a request without one");
	} else if (mn->cfg.udp == MN_UDP_FORCE && mn->sent_udp_req) {
		LOG_WARNING(&mn->log, "UDP tunnelling was forced but the home agent %s: using "
			    "IP-in-IP", rep->udp_reply.present ? "declined it" :
			    "did not answer the UDP Tunnel Request");
	}
	/* §3.6.2.2: the lifetime runs from when the request was sent. */
	if (life == MIP4_LIFETIME_INFINITE) {
		b.expires_at = MN_NEVER;
		mn->renew_at = MN_NEVER;
	} else {
		mm_time_ns lt = MM_SEC(life);
		mm_time_ns renew = lt / 1000 * MN_RENEW_PERMILLE;

		/* §3.6: "MUST NOT attempt to register more often than once per second". */
		if (renew < MN_RETRANS_INITIAL)
			renew = MN_RETRANS_INITIAL;
		b.expires_at = add_sat(mn->sent_at, lt);
		mn->renew_at = add_sat(mn->sent_at, renew);
	}
	mn->bound = true;
	mn->binding = b;
	mn->registered_at = now;
	mn->stats.accepted++;
	clear_pending(mn);
	if (mn->state != MN_STATE_REGISTERED) {
		rc = set_state(mn, MN_STATE_REGISTERED);
		if (rc < 0)
			return rc;
	}
	a = push(mn, MN_ACT_BINDING_UP);
	if (a)
		a->binding = b;
	if (b.via_fa)
		LOG_NOTICE(&mn->log, "registered%s coa=%s lifetime=%u through the foreign agent "
			   "%s%s", renewal ? " (renewal)" : "", addr4_str(b.coa, c), b.lifetime,
			   addr4_str(b.fa, fa), b.tnc ? " tnc" : "");
	else if (b.encap == MN_ENCAP_UDP)
		LOG_NOTICE(&mn->log, "registered%s coa=%s lifetime=%u encapsulation=udp "
			   "keepalive=%u%s", renewal ? " (renewal)" : "", addr4_str(b.coa, c),
			   b.lifetime, b.keepalive, b.tnc ? " tnc" : "");
	else
		LOG_NOTICE(&mn->log, "registered%s coa=%s lifetime=%u encapsulation=ipip%s",
			   renewal ? " (renewal)" : "", addr4_str(b.coa, c), b.lifetime,
			   b.tnc ? " tnc" : "");
	return 0;
}

static int dereg_done(struct mn_engine *mn, bool answered)
{
	struct mn_action *a;

	clear_pending(mn);
	if (answered) {
		mn->stats.deregistered++;
		LOG_NOTICE(&mn->log, "deregistered");
	} else {
		mn->stats.dereg_unanswered++;
		LOG_WARNING(&mn->log, "deregistered (no answer from the home agent after %u "
			    "requests)", MN_DEREG_TRIES);
	}
	a = push(mn, MN_ACT_DEREGISTERED);
	if (a)
		a->answered = answered;
	return set_state(mn, MN_STATE_AT_HOME);
}

/* A definite "no": report it and wait longer before the next attempt (§3.6.2.3 "SHOULD log
 * the error"; §3.6.3 backoff). Deregistrations keep to their try budget. */
static void backoff_after_denial(struct mn_engine *mn, mm_time_ns now)
{
	mn->denied_last = true;
	mn->interval = next_interval(mn, mn->interval);
	mn->retrans_at = add_sat(now, mn->interval);
}

static int denied(struct mn_engine *mn, const struct mip4_reg_reply *rep, mm_time_ns now)
{
	char name[NAME_BUF_SIZE];
	struct mn_action *a;
	int rc;

	mn->stats.denied++;
	if (rep->code == MIP4_CODE_HA_IDENT_MISMATCH) {
		/* §3.6.2.3, §5.7.1: adopt the HA's clock, then try again at once. A second 133
		 * in a row waits for the backoff, so a confused HA cannot make us loop. */
		rc = mip4_ident_mn_resync(&mn->ident, mn->sent_ident, rep->ident, wall_now(mn));
		if (rc < 0)
			return rc; /* cannot happen: the low 32 bits were checked */
		mn->stats.resyncs++;
		LOG_NOTICE(&mn->log, "denied code=133 (%s): identification resynchronised with "
			   "the home agent's clock", name_or_number(&mip4_reply_code_names,
								    rep->code, name, sizeof(name)));
		if (!mn->resync_retry) {
			rc = send_request(mn, mn->state == MN_STATE_DEREGISTERING, now);
			mn->resync_retry = true;
			mn->retrans_at = add_sat(now, mn->interval);
			return rc;
		}
		mn->resync_retry = false;
		backoff_after_denial(mn, now);
		return 0;
	}
	a = push(mn, MN_ACT_DENIED);
	if (a)
		a->code = rep->code;
	/* §3.6.2.1: authentication failures are security exceptions. */
	if (rep->code == MIP4_CODE_HA_MN_AUTH_FAILED)
		LOG_ERROR(&mn->log, "denied code=%u (%s): security exception: the home agent "
			  "does not accept our MN-HA key (SPI %u)", rep->code,
			  name_or_number(&mip4_reply_code_names, rep->code, name, sizeof(name)),
			  mn->cfg.key.spi);
	else
		LOG_WARNING(&mn->log, "denied code=%u (%s)", rep->code,
			    name_or_number(&mip4_reply_code_names, rep->code, name, sizeof(name)));
	mn->resync_retry = false;
	if (mn->state == MN_STATE_DEREGISTERING && mn->tries >= MN_DEREG_TRIES)
		return dereg_done(mn, false);
	backoff_after_denial(mn, now);
	return 0;
}

/* The foreign agent's own denial (§3.6.2, §3.7.2.1; RFC 3024 §3.4). Two are repaired with
 * one immediate retry, as 133 is: 69 (the Lifetime field holds the most the agent accepts,
 * §3.6.2.3) and 75 (the agent wants reverse tunnelling, RFC 3024 §3.4). */
static int fa_denied(struct mn_engine *mn, const struct mip4_reg_reply *rep, mm_time_ns now)
{
	char name[NAME_BUF_SIZE], fa[ADDR4_STRLEN];
	struct mn_action *a;
	bool repair = false;

	mn->stats.denied++;
	a = push(mn, MN_ACT_DENIED);
	if (a) {
		a->code = rep->code;
		a->by_fa = true;
	}
	name_or_number(&mip4_reply_code_names, rep->code, name, sizeof(name));
	addr4_str(mn->fa, fa);
	if (rep->code == MIP4_CODE_FA_MN_AUTH_FAILED)
		LOG_ERROR(&mn->log, "denied by the foreign agent %s code=%u (%s): security "
			  "exception: it does not accept our MN-FA authentication", fa, rep->code,
			  name);
	else
		LOG_WARNING(&mn->log, "denied by the foreign agent %s code=%u (%s)%s", fa,
			    rep->code, name, mn->have_fa_key ? "" : " (not authenticated)");
	if (rep->code == MIP4_CODE_FA_LIFETIME_TOO_LONG && rep->lifetime &&
	    rep->lifetime < request_lifetime(mn)) {
		mn->fa_max_lifetime = rep->lifetime;
		repair = true;
	} else if (rep->code == MIP4_CODE_FA_REVERSE_TUNNEL_MANDATORY && !mn->fa_force_t) {
		mn->fa_force_t = true;
		repair = true;
	}
	if (repair && !mn->resync_retry && mn->state != MN_STATE_DEREGISTERING) {
		int rc = send_request(mn, false, now);

		mn->resync_retry = true;
		mn->retrans_at = add_sat(now, mn->interval);
		return rc;
	}
	mn->resync_retry = false;
	backoff_after_denial(mn, now);
	return 0;
}

int mn_engine_reply(struct mn_engine *mn, const void *msg, size_t len, struct in_addr src,
		    mm_time_ns now, struct mn_actions *out)
{
	struct mip4_reg_reply rep;
	struct mn_actions tmp;
	char a1[ADDR4_STRLEN];
	bool via_fa;
	int rc;

	if (!mn || !out || (!msg && len))
		return -EINVAL;
	via_fa = mn->via_fa && !mn->at_home;
	mn->stats.replies++;
	rc = mip4_reply_parse(msg, len, &rep);
	if (rc < 0)
		return drop(mn, &mn->stats.dropped_malformed, rc,
			    "malformed Registration Reply from %s (%s)", addr4_str(src, a1),
			    strerror(-rc));
	/* §3.6.2.1: from the agent the request went to (the home agent, or the foreign agent
	 * that relays its answer, §3.7.3.2). */
	if (via_fa && src.s_addr != mn->fa.s_addr)
		return drop(mn, &mn->stats.dropped_unmatched, -EPERM,
			    "Registration Reply from %s, not our foreign agent", addr4_str(src, a1));
	if (!via_fa && src.s_addr != mn->cfg.home_agent.s_addr)
		return drop(mn, &mn->stats.dropped_unmatched, -EPERM,
			    "Registration Reply from %s, not our home agent", addr4_str(src, a1));
	if (rep.home_addr.s_addr != mn->cfg.home_addr.s_addr)
		return drop(mn, &mn->stats.dropped_unmatched, -EPERM,
			    "Registration Reply for home address %s",
			    addr4_str(rep.home_addr, a1));
	if (!pending(mn))
		return drop(mn, &mn->stats.dropped_unmatched, -ESRCH,
			    "Registration Reply code=%u but no request is pending (%s)", rep.code,
			    mn_state_name(mn->state));
	/* §3.6.2.1: the low 32 bits must match the most recent request. */
	if (!mip4_ident_reply_matches(mn->sent_ident, rep.ident))
		return drop(mn, &mn->stats.dropped_unmatched, -ESRCH,
			    "Registration Reply ident 0x%016llx does not match the last request "
			    "(0x%016llx)", (unsigned long long)rep.ident,
			    (unsigned long long)mn->sent_ident);
	/* §3.6.2.1 a: with a key shared with the foreign agent, exactly one valid
	 * Mobile-Foreign Authentication extension on every reply (the parser refuses two). */
	if (via_fa && mn->have_fa_key) {
		if (!rep.mn_fa.present)
			return drop(mn, &mn->stats.dropped_auth, -EACCES,
				    "security exception: Registration Reply code=%u without "
				    "Mobile-Foreign Authentication", rep.code);
		rc = mip4_auth_verify_key(msg, len, &rep.mn_fa, &mn->fa_key);
		if (rc < 0)
			return drop(mn, &mn->stats.dropped_auth, -EACCES,
				    "security exception: Registration Reply code=%u: "
				    "Mobile-Foreign Authentication %s (SPI %u)", rep.code,
				    rc == -ENOENT ? "names an unknown SPI" : "does not verify",
				    rep.mn_fa.spi);
	}
	/* The foreign agent's own denial: no Mobile-Home Authentication to check (§3.6.2.1 b
	 * asks it of the home agent's codes only). */
	if (via_fa && !mip4_code_is_from_ha(rep.code)) {
		begin(mn, &tmp);
		mn->last_code = rep.code;
		rc = fa_denied(mn, &rep, now);
		finish(mn, rc);
		*out = tmp;
		return 0;
	}
	/* Directly with the home agent (co-located CoA): every reply must come from it, and
	 * so carry Mobile-Home Authentication (§3.6.2.1 b). A foreign agent's code cannot be
	 * authenticated here and changes nothing. */
	if (!mip4_code_is_from_ha(rep.code))
		return drop(mn, &mn->stats.dropped_unmatched, -EPERM,
			    "Registration Reply code=%u is a foreign agent's, but we register "
			    "directly with the home agent", rep.code);
	if (!rep.mn_ha.present)
		return drop(mn, &mn->stats.dropped_auth, -EACCES,
			    "security exception: Registration Reply code=%u without Mobile-Home "
			    "Authentication", rep.code);
	rc = mip4_auth_verify_key(msg, len, &rep.mn_ha, &mn->cfg.key);
	if (rc < 0)
		return drop(mn, &mn->stats.dropped_auth, -EACCES,
			    "security exception: Registration Reply code=%u: Mobile-Home "
			    "Authentication %s (SPI %u)", rep.code,
			    rc == -ENOENT ? "names an unknown SPI" : "does not verify",
			    rep.mn_ha.spi);

	/* Authenticated, and the answer to our latest request: now things may change. */
	begin(mn, &tmp);
	mn->last_code = rep.code;
	if (mip4_code_is_success(rep.code)) {
		if (mn->state == MN_STATE_DEREGISTERING) {
			rc = dereg_done(mn, true);
		} else {
			rc = accepted(mn, &rep, now);
			if (rc == 1) {
				backoff_after_denial(mn, now);
				rc = 0;
			}
		}
	} else {
		rc = denied(mn, &rep, now);
	}
	finish(mn, rc);
	*out = tmp;
	return 0;
}

/* --- timers --------------------------------------------------------------------------- */

static int retransmit(struct mn_engine *mn, mm_time_ns now)
{
	bool dereg = mn->state == MN_STATE_DEREGISTERING;
	int rc;

	if (dereg && mn->tries >= MN_DEREG_TRIES)
		return dereg_done(mn, false);
	/* §3.6.3: each timeout at least twice the previous, up to the maximum. */
	mn->interval = next_interval(mn, mn->interval);
	mn->resync_retry = false;
	LOG_INFO(&mn->log, "%s (request %u, next timeout %llu ms)",
		 mn->denied_last ? "retrying after the denial" : "no reply: retransmitting",
		 mn->tries + 1, (unsigned long long)(mn->interval / MM_MSEC(1)));
	mn->denied_last = false;
	rc = send_request(mn, dereg, now);
	mn->retrans_at = add_sat(now, mn->interval);
	return rc;
}

int mn_engine_timer(struct mn_engine *mn, mm_time_ns now, struct mn_actions *out)
{
	struct mn_actions tmp;
	char c[ADDR4_STRLEN];
	int rc = 0;

	if (!mn || !out)
		return -EINVAL;
	begin(mn, &tmp);
	if (mn->bound && mn->binding.expires_at <= now) {
		/* §3.6.2.2: the HA has dropped the binding by now; tunnelling must stop (RFC
		 * 3519 §4.7: "only allowed for the duration of the binding lifetime"). Keep
		 * trying to register. */
		mn->stats.expired++;
		LOG_WARNING(&mn->log, "binding for %s expired before a renewal was accepted",
			    addr4_str(mn->binding.coa, c));
		binding_down(mn, MN_DOWN_EXPIRED);
		rc = set_state(mn, MN_STATE_REGISTERING);
		if (rc == 0 && mn->retrans_at == MN_NEVER)
			rc = start_attempt(mn, now);
	} else if (mn->state == MN_STATE_REGISTERED && mn->renew_at <= now) {
		LOG_INFO(&mn->log, "renewing the registration of %s", addr4_str(mn->coa, c));
		rc = set_state(mn, MN_STATE_RENEWING);
		if (rc == 0)
			rc = start_attempt(mn, now);
	}
	if (rc == 0 && pending(mn) && mn->retrans_at <= now)
		rc = retransmit(mn, now);
	finish(mn, rc);
	*out = tmp;
	return 0;
}

int mn_engine_reregister(struct mn_engine *mn, mm_time_ns now, struct mn_actions *out)
{
	struct mn_actions tmp;
	char c[ADDR4_STRLEN];
	int rc = 0;

	if (!mn || !out)
		return -EINVAL;
	if (!mn->bound)
		return -EAGAIN;
	begin(mn, &tmp);
	LOG_NOTICE(&mn->log, "re-registering %s", addr4_str(mn->coa, c));
	if (mn->state != MN_STATE_RENEWING)
		rc = set_state(mn, MN_STATE_RENEWING);
	if (rc == 0)
		rc = start_attempt(mn, now);
	finish(mn, rc);
	*out = tmp;
	return 0;
}

int mn_engine_stop(struct mn_engine *mn, mm_time_ns now, struct mn_actions *out)
{
	struct mn_actions tmp;
	int rc = 0;

	if (!mn || !out)
		return -EINVAL;
	begin(mn, &tmp);
	if (mn->bound && !mn->at_home) {
		LOG_NOTICE(&mn->log, "stopping: deregistering care-of address");
		rc = send_request(mn, true, now);
	}
	binding_down(mn, MN_DOWN_STOPPED);
	leave_fa(mn);
	clear_pending(mn);
	if (mn->state != MN_STATE_IDLE) {
		int rc2 = set_state(mn, MN_STATE_IDLE);

		if (rc == 0)
			rc = rc2;
	}
	mn->at_home = false;
	mn->coa.s_addr = 0;
	finish(mn, rc);
	*out = tmp;
	return 0;
}

/* --- life cycle and queries ----------------------------------------------------------- */

int mn_engine_new(const struct mn_engine_config *cfg, struct mn_engine **out)
{
	struct mn_engine *mn;
	struct mip4_key check;
	size_t nai_len = 0;
	char h[ADDR4_STRLEN];

	if (!cfg || !out || !cfg->home_addr.s_addr || !cfg->home_agent.s_addr ||
	    cfg->lifetime == 0 || cfg->udp > MN_UDP_OFF)
		return -EINVAL;
	if (mip4_key_set(&check, cfg->key.spi, cfg->key.key, cfg->key.len) < 0)
		return -EINVAL;
	mip4_key_wipe(&check);
	if (cfg->nai) {
		nai_len = strlen(cfg->nai);
		if (nai_len == 0 || nai_len > MIP4_NAI_MAX)
			return -EINVAL;
	}
	mn = calloc(1, sizeof(*mn));
	if (!mn)
		return -ENOMEM;
	mn->cfg = *cfg;
	if (!mn->cfg.keepalive_default)
		mn->cfg.keepalive_default = MN_KEEPALIVE_DEFAULT_S;
	if (nai_len)
		memcpy(mn->nai, cfg->nai, nai_len);
	mn->nai_len = nai_len;
	mn->cfg.nai = nai_len ? mn->nai : NULL;
	logger_init(&mn->log, "mn[%s]", addr4_str(cfg->home_addr, h));
	mn->state = MN_STATE_IDLE;
	mip4_ident_mn_init(&mn->ident);
	mn->retrans_at = MN_NEVER;
	mn->renew_at = MN_NEVER;
	mn->last_code = -1;
	*out = mn;
	return 0;
}

void mn_engine_free(struct mn_engine *mn)
{
	if (!mn)
		return;
	OPENSSL_cleanse(mn, sizeof(*mn));
	free(mn);
}

enum mn_state mn_engine_state(const struct mn_engine *mn)
{
	return mn->state;
}

mm_time_ns mn_engine_deadline(const struct mn_engine *mn)
{
	return compute_deadline(mn);
}

void mn_engine_status(const struct mn_engine *mn, struct mn_status *out)
{
	memset(out, 0, sizeof(*out));
	out->state = mn->state;
	out->at_home = mn->at_home;
	out->coa = mn->coa;
	out->via_fa = mn->via_fa;
	out->fa = mn->fa;
	out->bound = mn->bound;
	if (mn->bound)
		out->binding = mn->binding;
	out->registered_at = mn->registered_at;
	out->last_reply_code = mn->last_code;
	out->registrations = mn->stats.accepted;
	out->deadline = compute_deadline(mn);
}

void mn_engine_stats(const struct mn_engine *mn, struct mn_engine_stats *out)
{
	*out = mn->stats;
}
