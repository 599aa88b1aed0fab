/* Foreign agent tracking for the mobile node, one tracker per access interface (RFC 5944
 * 2.4): pure decisions from parsed Agent Advertisements (mip4/agent.h) and the time, no I/O.
 * mnd/agentdisc.c feeds it what it hears and sends the solicitations it asks for.
 *
 * The tracker remembers the agents heard on the link (up to POLICY_AGENT_MAX) and which one
 * is current (the one to register through). Every input gives one event:
 *	AGENT_EV_NEW       a new current agent (a move, or a new care-of address of the same
 *	                   agent): register through it (RFC 5944 2.4.2, 3.6)
 *	AGENT_EV_SAME      an advertisement of the current agent: refreshed, nothing to do
 *	AGENT_EV_REBOOTED  the current agent's sequence number fell below 256: it rebooted and
 *	                   lost our registration, register again (2.4.4)
 *	AGENT_EV_LOST      the current agent's advertisement lifetime ran out (or it sent
 *	                   lifetime 0) and no other agent is valid: no foreign agent (2.4.2.1)
 *	AGENT_EV_NONE      nothing for the caller (an advertisement ignored or only recorded)
 *
 * Rules it keeps:
 *  - Only advertisements with F (foreign agent) count; a busy one (B) never becomes current
 *    (2.1.1 "will not accept registrations from additional mobile nodes"), though a busy
 *    advertisement of the current agent still refreshes it (it keeps serving us).
 *  - Move detection, algorithm 1 (2.4.2.1): while the current agent's advertisement
 *    lifetime runs, other agents are only recorded (3.6: advertisements from new agents
 *    "SHOULD NOT cause a mobile node to attempt a new registration" while the current agent
 *    is still heard); when it expires, the most recently heard valid agent takes over at
 *    once (NEW), else LOST.
 *  - Algorithm 2 (2.4.2.2), only when configured (prefix_moves) and only when both the
 *    current and the new advertisement carry the Prefix-Lengths extension: an agent whose
 *    prefixes share none with the current one's means we moved (NEW at once).
 *  - Solicitations (2.4; RFC 1256 4.2 / 6): a link that comes up is solicited at once (RFC
 *    5266 3.2: at the same time as DHCP, so a link without an agent is not slowed down),
 *    at most POLICY_AGENT_SOLICITATIONS times, at least 1 s apart (2.4: "three initial
 *    solicitations at a maximum rate of one per second"), randomised upwards (2.4: "MUST
 *    randomize"), and never while an agent is known (2.4: "only ... in the absence of
 *    Agent Advertisements"). After LOST a new round of three is allowed only if an agent
 *    was heard since the last round (2.4: the rate may be raised again only after a
 *    registration with an agent / a positive indication of a move), so a link without an
 *    agent gets three solicitations per attachment, no more.
 *
 * Addresses are struct in_addr (network order); time is monotonic mm_time_ns.
 */
#ifndef MM_POLICY_AGENT_H
#define MM_POLICY_AGENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"
#include "mip4/agent.h"

/* Agents remembered per interface; a further one replaces the oldest non-current one. */
#define POLICY_AGENT_MAX 8
/* Prefixes kept per agent for algorithm 2 (from the router addresses and Prefix-Lengths). */
#define POLICY_AGENT_PREFIXES 4
/* RFC 1256 6 MAX_SOLICITATIONS; RFC 5944 2.4 "three initial solicitations". */
#define POLICY_AGENT_SOLICITATIONS 3
/* RFC 5944 2.4: "at a maximum rate of one per second"; the random part is added on top,
 * so two solicitations are never closer than 1 s. */
#define POLICY_AGENT_SOL_INTERVAL MM_SEC(1)
#define POLICY_AGENT_SOL_JITTER   MM_MSEC(200)

#define POLICY_AGENT_NEVER UINT64_MAX

enum agent_event {
	AGENT_EV_NONE = 0,
	AGENT_EV_NEW,
	AGENT_EV_SAME,
	AGENT_EV_REBOOTED,
	AGENT_EV_LOST,
	AGENT_EV_COUNT,
};

/* "none", "new", "same", "rebooted", "lost"; "?" out of range. */
const char *agent_event_name(enum agent_event ev);

struct policy_prefix {
	struct in_addr net;   /* masked */
	uint8_t plen;
};

/* What we know of one agent, from its latest advertisement. */
struct policy_agent {
	struct in_addr addr;        /* IP source of the advertisement: where Registration
	                             * Requests go (RFC 5944 3.6.1.1) */
	uint16_t flags;             /* MIP4_ADV_* (R, B, H, F, M, G, T, U, X, I) */
	uint16_t seq;               /* sequence number (2.3.2, 2.4.4) */
	uint16_t adv_lifetime;      /* s, the ICMP Lifetime of the advertisement */
	uint16_t reg_lifetime;      /* s, longest registration lifetime accepted (2.1.1);
	                             * 0xffff infinite */
	uint8_t num_coa;            /* >= 1 (F is set) */
	struct in_addr coa[MIP4_ADV_MAX_COA];   /* coa[0] is the one to use (2.4: "SHOULD
	                                         * pick the first address") */
	uint8_t num_prefixes;       /* 0: no Prefix-Lengths extension */
	struct policy_prefix prefixes[POLICY_AGENT_PREFIXES];
	mm_time_ns heard_at;        /* monotonic, the latest advertisement */
	mm_time_ns expires_at;      /* heard_at + adv_lifetime */
};

struct policy_agent_config {
	bool prefix_moves;          /* use algorithm 2 (2.4.2.2); default off */
};

struct policy_agent_stats {
	uint64_t heard;             /* advertisements handed in */
	uint64_t ignored_not_fa;    /* without F (a home agent only) */
	uint64_t ignored_busy;      /* B set, not the current agent */
	uint64_t moves;             /* NEW events */
	uint64_t reboots;           /* REBOOTED events */
	uint64_t lost;              /* LOST events */
	uint64_t solicitations;     /* solicitations asked for */
};

struct policy_agent_tracker {
	struct policy_agent_config cfg;
	struct policy_agent agents[POLICY_AGENT_MAX];
	unsigned count;
	int current;                /* index into agents[], -1 none */
	/* solicitation schedule */
	bool link_up;
	unsigned sol_sent;          /* in this round */
	mm_time_ns sol_next;        /* POLICY_AGENT_NEVER: none due */
	bool heard_since_round;     /* an agent became current since the round started */
	struct policy_agent_stats stats;
};

/* An empty tracker, link down. cfg NULL: the defaults. */
void policy_agent_init(struct policy_agent_tracker *t, const struct policy_agent_config *cfg);

/* The link came up (a new attachment): forget every agent, start a round of solicitations
 * due at once. */
void policy_agent_link_up(struct policy_agent_tracker *t, mm_time_ns now);

/* The link went down: forget every agent, no solicitations. Returns AGENT_EV_LOST when an
 * agent was current (its copy in *lost if not NULL), else AGENT_EV_NONE. */
enum agent_event policy_agent_link_down(struct policy_agent_tracker *t, struct policy_agent *lost);

/* An advertisement from src (the IP source address), parsed with mip4_adv_parse(), heard at
 * now. Expired agents are dropped first. *cur (if not NULL) receives the current agent
 * when the event is NEW, SAME or REBOOTED, the agent that was lost for LOST; untouched for
 * NONE. */
enum agent_event policy_agent_heard(struct policy_agent_tracker *t, struct in_addr src,
				    const struct mip4_agent_adv *adv, mm_time_ns now,
				    struct policy_agent *cur);

/* Time passed: the current agent's lifetime may have run out (NEW with another agent, or
 * LOST; *cur as for policy_agent_heard()). Calling it early is harmless (NONE). */
enum agent_event policy_agent_tick(struct policy_agent_tracker *t, mm_time_ns now,
				   struct policy_agent *cur);

/* Is a solicitation due now? If so the schedule advances (the next one at least
 * POLICY_AGENT_SOL_INTERVAL later, plus rnd % POLICY_AGENT_SOL_JITTER) and the caller must
 * send one. */
bool policy_agent_solicit_due(struct policy_agent_tracker *t, mm_time_ns now, uint32_t rnd);

/* The earliest time at which policy_agent_tick() or policy_agent_solicit_due() has
 * something to do; POLICY_AGENT_NEVER for none. */
mm_time_ns policy_agent_deadline(const struct policy_agent_tracker *t);

/* The current agent, or NULL. */
const struct policy_agent *policy_agent_current(const struct policy_agent_tracker *t);

#endif
