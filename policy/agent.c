/* Foreign agent tracking for the mobile node (RFC 5944 2.4, 2.4.2, 2.4.4; RFC 1256 4.2).
 * See agent.h. Pure: no I/O, the time and the random bits are passed in. */
#include "policy/agent.h"

#include <string.h>

static const char *const event_names[AGENT_EV_COUNT] = {
	[AGENT_EV_NONE] = "none",
	[AGENT_EV_NEW] = "new",
	[AGENT_EV_SAME] = "same",
	[AGENT_EV_REBOOTED] = "rebooted",
	[AGENT_EV_LOST] = "lost",
};

const char *agent_event_name(enum agent_event ev)
{
	return (unsigned)ev < AGENT_EV_COUNT ? event_names[ev] : "?";
}

static void forget_all(struct policy_agent_tracker *t)
{
	memset(t->agents, 0, sizeof(t->agents));
	t->count = 0;
	t->current = -1;
}

void policy_agent_init(struct policy_agent_tracker *t, const struct policy_agent_config *cfg)
{
	memset(t, 0, sizeof(*t));
	if (cfg)
		t->cfg = *cfg;
	t->current = -1;
	t->sol_next = POLICY_AGENT_NEVER;
}

/* A new round of solicitations, the first due now. */
static void start_round(struct policy_agent_tracker *t, mm_time_ns now)
{
	t->sol_sent = 0;
	t->sol_next = now;
	t->heard_since_round = false;
}

void policy_agent_link_up(struct policy_agent_tracker *t, mm_time_ns now)
{
	forget_all(t);
	t->link_up = true;
	/* RFC 5266 3.2: FA discovery at the same time as DHCP. RFC 1256 4.2's random initial
	 * delay of up to 1 s (against synchronised hosts after a power failure) is not taken:
	 * it would delay every attachment, and one host on an access link is not a storm. */
	start_round(t, now);
}

enum agent_event policy_agent_link_down(struct policy_agent_tracker *t, struct policy_agent *lost)
{
	bool had = t->current >= 0;

	if (had) {
		if (lost)
			*lost = t->agents[t->current];
		t->stats.lost++;
	}
	forget_all(t);
	t->link_up = false;
	t->sol_next = POLICY_AGENT_NEVER;
	t->sol_sent = 0;
	return had ? AGENT_EV_LOST : AGENT_EV_NONE;
}

const struct policy_agent *policy_agent_current(const struct policy_agent_tracker *t)
{
	return t->current >= 0 ? &t->agents[t->current] : NULL;
}

/* --- the table of agents ---------------------------------------------------------------- */

static void remove_at(struct policy_agent_tracker *t, unsigned i)
{
	/* Keep `current` pointing at the same agent. */
	if (t->current == (int)i)
		t->current = -1;
	else if (t->current > (int)i)
		t->current--;
	memmove(&t->agents[i], &t->agents[i + 1], (t->count - i - 1) * sizeof(t->agents[0]));
	t->count--;
	memset(&t->agents[t->count], 0, sizeof(t->agents[0]));
}

/* Drop every non-current agent whose advertisement has expired (2.4.2.1: "record the
 * Lifetime ... until that Lifetime expires"). */
static void drop_expired_others(struct policy_agent_tracker *t, mm_time_ns now)
{
	for (unsigned i = 0; i < t->count;) {
		if ((int)i != t->current && t->agents[i].expires_at <= now)
			remove_at(t, i);
		else
			i++;
	}
}

static int find(const struct policy_agent_tracker *t, struct in_addr a)
{
	for (unsigned i = 0; i < t->count; i++)
		if (t->agents[i].addr.s_addr == a.s_addr)
			return (int)i;
	return -1;
}

/* A slot for a new agent: a free one, else the least recently heard non-current one. */
static int new_slot(struct policy_agent_tracker *t)
{
	int oldest = -1;

	if (t->count < POLICY_AGENT_MAX)
		return (int)t->count++;
	for (unsigned i = 0; i < t->count; i++) {
		if ((int)i == t->current)
			continue;
		if (oldest < 0 || t->agents[i].heard_at < t->agents[oldest].heard_at)
			oldest = (int)i;
	}
	return oldest;   /* never -1: POLICY_AGENT_MAX > 1 */
}

static bool usable(const struct policy_agent *a, mm_time_ns now)
{
	return (a->flags & MIP4_ADV_F) && !(a->flags & MIP4_ADV_B) && a->num_coa > 0 &&
	       a->expires_at > now;
}

/* 2.4.2.1: "If the mobile node has previously received an Agent Advertisement from another
 * agent for which the Lifetime field has not yet expired, the mobile node MAY immediately
 * attempt registration with that other agent": the most recently heard one. */
static int best_other(const struct policy_agent_tracker *t, int except, mm_time_ns now)
{
	int best = -1;

	for (unsigned i = 0; i < t->count; i++) {
		if ((int)i == except || !usable(&t->agents[i], now))
			continue;
		if (best < 0 || t->agents[i].heard_at > t->agents[best].heard_at)
			best = (int)i;
	}
	return best;
}

static struct policy_agent from_adv(struct in_addr src, const struct mip4_agent_adv *adv,
				    mm_time_ns now)
{
	struct policy_agent a;

	memset(&a, 0, sizeof(a));
	a.addr = src;
	a.flags = adv->flags;
	a.seq = adv->seq;
	a.adv_lifetime = adv->lifetime;
	a.reg_lifetime = adv->reg_lifetime;
	a.num_coa = adv->num_coa <= MIP4_ADV_MAX_COA ? adv->num_coa : MIP4_ADV_MAX_COA;
	memcpy(a.coa, adv->coa, a.num_coa * sizeof(a.coa[0]));
	/* 2.1.2: one prefix length per router address. */
	for (unsigned i = 0; adv->has_prefix_lengths && i < adv->num_addrs &&
	     a.num_prefixes < POLICY_AGENT_PREFIXES; i++) {
		uint8_t plen = adv->prefix_len[i];
		uint32_t mask = plen ? htonl(~UINT32_C(0) << (32 - plen)) : 0;

		if (plen > 32)
			continue;
		a.prefixes[a.num_prefixes].net.s_addr = adv->routers[i].addr.s_addr & mask;
		a.prefixes[a.num_prefixes].plen = plen;
		a.num_prefixes++;
	}
	a.heard_at = now;
	a.expires_at = now + (mm_time_ns)MM_SEC(adv->lifetime);
	return a;
}

/* 2.4.2.2: both advertisements carry Prefix-Lengths and no prefix is common. */
static bool prefixes_differ(const struct policy_agent *a, const struct policy_agent *b)
{
	if (!a->num_prefixes || !b->num_prefixes)
		return false;
	for (unsigned i = 0; i < a->num_prefixes; i++)
		for (unsigned j = 0; j < b->num_prefixes; j++)
			if (a->prefixes[i].plen == b->prefixes[j].plen &&
			    a->prefixes[i].net.s_addr == b->prefixes[j].net.s_addr)
				return false;
	return true;
}

/* --- events ----------------------------------------------------------------------------- */

static enum agent_event become_current(struct policy_agent_tracker *t, int i,
				       struct policy_agent *cur)
{
	t->current = i;
	t->stats.moves++;
	/* 2.4: solicit only in the absence of advertisements. */
	t->sol_next = POLICY_AGENT_NEVER;
	t->heard_since_round = true;
	if (cur)
		*cur = t->agents[i];
	return AGENT_EV_NEW;
}

/* The current agent is gone (lifetime over, or it said lifetime 0). */
static enum agent_event current_gone(struct policy_agent_tracker *t, mm_time_ns now,
				     struct policy_agent *cur)
{
	struct policy_agent old = t->agents[t->current];
	int other;

	remove_at(t, (unsigned)t->current);
	other = best_other(t, -1, now);
	if (other >= 0)
		return become_current(t, other, cur);
	t->stats.lost++;
	/* 2.4.2.1: "Otherwise, the mobile node SHOULD attempt to discover a new agent": a new
	 * round, if an agent was found since the last one (2.4: no higher rate without a
	 * positive indication). */
	if (t->link_up && t->heard_since_round)
		start_round(t, now);
	if (cur)
		*cur = old;
	return AGENT_EV_LOST;
}

static enum agent_event heard_current(struct policy_agent_tracker *t,
				      const struct policy_agent *a, mm_time_ns now,
				      struct policy_agent *cur)
{
	struct policy_agent *c = &t->agents[t->current];
	bool rebooted = mip4_adv_seq_rebooted(c->seq, a->seq);
	bool coa_changed = a->num_coa > 0 && c->coa[0].s_addr != a->coa[0].s_addr;

	if (!(a->flags & MIP4_ADV_F) || a->num_coa == 0) {
		/* It stopped offering foreign agent service: gone for us. */
		*c = *a;
		c->expires_at = now;
		return current_gone(t, now, cur);
	}
	*c = *a;
	/* RFC 1256 3: Lifetime 0 is a router that stops advertising. */
	if (a->adv_lifetime == 0)
		return current_gone(t, now, cur);
	if (coa_changed) {
		/* Another care-of address: the registration names the old one; register anew. */
		t->stats.moves++;
		if (cur)
			*cur = *c;
		return AGENT_EV_NEW;
	}
	if (cur)
		*cur = *c;
	if (rebooted) {
		/* 2.4.4: "the mobile node SHOULD register again". */
		t->stats.reboots++;
		return AGENT_EV_REBOOTED;
	}
	return AGENT_EV_SAME;
}

enum agent_event policy_agent_heard(struct policy_agent_tracker *t, struct in_addr src,
				    const struct mip4_agent_adv *adv, mm_time_ns now,
				    struct policy_agent *cur)
{
	struct policy_agent a;
	int i;

	if (!t || !adv)
		return AGENT_EV_NONE;
	t->stats.heard++;
	drop_expired_others(t, now);
	a = from_adv(src, adv, now);
	i = find(t, src);
	if (i >= 0 && i == t->current)
		return heard_current(t, &a, now, cur);

	if (!(a.flags & MIP4_ADV_F)) {
		/* A home agent only (2.1.1): nothing to register through. */
		t->stats.ignored_not_fa++;
		if (i >= 0)
			remove_at(t, (unsigned)i);
		return AGENT_EV_NONE;
	}
	if (a.adv_lifetime == 0) {
		if (i >= 0)
			remove_at(t, (unsigned)i);
		return AGENT_EV_NONE;
	}
	if (i < 0)
		i = new_slot(t);
	t->agents[i] = a;
	if (a.flags & MIP4_ADV_B) {
		/* Recorded (so it is not picked), never chosen while busy. */
		t->stats.ignored_busy++;
		return AGENT_EV_NONE;
	}
	if (t->current < 0)
		return become_current(t, i, cur);
	/* The current agent is still valid (expired ones were handled by the tick, but a late
	 * tick must not keep an expired agent: check it here too). */
	if (t->agents[t->current].expires_at <= now) {
		remove_at(t, (unsigned)t->current);
		return become_current(t, find(t, src), cur);
	}
	if (t->cfg.prefix_moves && prefixes_differ(&t->agents[t->current], &a))
		return become_current(t, i, cur);
	return AGENT_EV_NONE;
}

enum agent_event policy_agent_tick(struct policy_agent_tracker *t, mm_time_ns now,
				   struct policy_agent *cur)
{
	if (!t)
		return AGENT_EV_NONE;
	drop_expired_others(t, now);
	if (t->current >= 0 && t->agents[t->current].expires_at <= now)
		return current_gone(t, now, cur);
	return AGENT_EV_NONE;
}

bool policy_agent_solicit_due(struct policy_agent_tracker *t, mm_time_ns now, uint32_t rnd)
{
	if (!t || !t->link_up || t->current >= 0 || t->sol_next == POLICY_AGENT_NEVER ||
	    now < t->sol_next || t->sol_sent >= POLICY_AGENT_SOLICITATIONS)
		return false;
	t->sol_sent++;
	t->stats.solicitations++;
	if (t->sol_sent >= POLICY_AGENT_SOLICITATIONS)
		t->sol_next = POLICY_AGENT_NEVER;
	else
		t->sol_next = now + POLICY_AGENT_SOL_INTERVAL + rnd % POLICY_AGENT_SOL_JITTER;
	return true;
}

mm_time_ns policy_agent_deadline(const struct policy_agent_tracker *t)
{
	mm_time_ns d = POLICY_AGENT_NEVER;

	if (!t)
		return d;
	if (t->link_up && t->current < 0 && t->sol_sent < POLICY_AGENT_SOLICITATIONS)
		d = t->sol_next;
	/* Only the current agent's expiry makes an event; the others are dropped lazily. */
	if (t->current >= 0 && t->agents[t->current].expires_at < d)
		d = t->agents[t->current].expires_at;
	return d;
}
