/* The foreign agent's Agent Advertisement scheduler (RFC 5944 §2.1, §2.3; RFC 1256 §5.1):
 * when to advertise, what, and how to answer an Agent Solicitation. Pure: no I/O, no clock
 * (time is passed in), no allocation; its own random number generator, seeded by the caller.
 *
 * Periodic (multicast) advertisements: the interval after each one is uniformly random in
 * [MinAdvertisementInterval, MaxAdvertisementInterval] with Min = 0.75 * Max (RFC 1256
 * §4.1 default), in nanoseconds, not whole seconds (RFC 1256 §5.1 "units of the highest
 * available timer resolution"); the first one goes out at once and the first
 * FA_ADV_INITIAL ones are at most FA_ADV_INITIAL_INTERVAL apart (MAX_INITIAL_ADVERTISEMENTS,
 * MAX_INITIAL_ADVERT_INTERVAL).
 *
 * Sequence numbers (RFC 5944 §2.3.2): the first advertisement after start carries 0, each
 * later one (periodic or an answer, multicast or unicast) the next, 0xffff followed by 256
 * (mip4_adv_seq_next).
 *
 * Answers to solicitations (RFC 1256 §5.1, RFC 5944 §2.3). A mobility agent "MUST NOT
 * require that the IP Source Address is the address of a neighbor", and a mobile node
 * away from home solicits from its home address, which routing would send elsewhere; so:
 *	- a source on the advertising link's subnet (not 0.0.0.0): a unicast answer now, at
 *	  most one per second per source (FA_ADV_UNICAST_GAP) and FA_ADV_UNICAST_BURST per
 *	  second in all;
 *	- any other source (0.0.0.0, a home address): a multicast answer at once, which also
 *	  restarts the periodic interval (RFC 1256 §5.1). Multicast answers are rate-limited
 *	  (RFC 5944 §2.3: "MUST limit the rate at which it sends broadcast or multicast Agent
 *	  Advertisements") to one per FA_ADV_MULTICAST_GAP: a solicitation within that time of
 *	  the last answer is answered by a single multicast advertisement at the end of the gap
 *	  (RFC 1256 §5.1: "closely-spaced solicitations ... answered with a single multicast
 *	  advertisement"), so no solicitation goes unanswered and none costs more than one.
 *	  With the periodic ones (at least 0.75 * Max apart, Max >= 1 s) that bounds the
 *	  multicast rate at about two per second.
 *
 * Contents (RFC 5944 §2.1): ICMP Code 0 or 16, Lifetime = AdvertisementLifetime (3 * Max,
 * at least Max, at most 9000 s, RFC 1256 §4.1), the router address (the agent's address on
 * the link, preference 0) unless routing of common traffic is off (Code 16, no router
 * entry); the Mobility Agent Advertisement extension with the care-of addresses, the
 * registration lifetime and the flags R, F, T, H as configured; the Prefix-Lengths
 * extension when configured (§2.1.2: one length per router address).
 */
#ifndef MM_HA_FA_ADV_H
#define MM_HA_FA_ADV_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/clock.h"
#include "mip4/agent.h"

#define FA_ADV_MAX_COA 8                          /* care-of addresses we advertise */
#define FA_ADV_INITIAL 3                          /* RFC 1256 MAX_INITIAL_ADVERTISEMENTS */
#define FA_ADV_INITIAL_INTERVAL MM_SEC(16)        /* RFC 1256 MAX_INITIAL_ADVERT_INTERVAL */
#define FA_ADV_MULTICAST_GAP MM_SEC(1)            /* at most one multicast per second */
#define FA_ADV_UNICAST_GAP MM_SEC(1)              /* per soliciting source */
#define FA_ADV_UNICAST_BURST 10                   /* unicast answers per second, in all */
#define FA_ADV_SOURCES 16                         /* sources remembered for the per-source gap */
#define FA_ADV_INTERVAL_MIN_MS 1000               /* we allow 1 s (RFC 1256: 4 s) for tests */
#define FA_ADV_INTERVAL_MAX_MS (1800 * 1000)      /* RFC 1256 §4.1 */
#define FA_ADV_LIFETIME_MAX 9000                  /* RFC 1256 §4.1 AdvertisementLifetime */
/* The largest advertisement we build: ICMP header, one router entry, the extension with
 * FA_ADV_MAX_COA addresses, Prefix-Lengths, padding. */
#define FA_ADV_MSG_MAX (8 + 8 + 2 + 6 + 4 * FA_ADV_MAX_COA + 2 + 1 + 1)

struct fa_adv_config {
	struct in_addr link_addr;   /* the agent's address on the advertising link */
	unsigned link_plen;         /* its prefix length (on-link check, Prefix-Lengths) */
	unsigned ncoa;              /* 1..FA_ADV_MAX_COA */
	struct in_addr coa[FA_ADV_MAX_COA];
	unsigned interval_ms;       /* MaxAdvertisementInterval, FA_ADV_INTERVAL_MIN_MS.. */
	uint16_t reg_lifetime;      /* longest registration lifetime accepted (0xffff: inf.) */
	bool registration_required; /* R */
	bool reverse_tunnel;        /* T (RFC 3024 §3.1) */
	bool home_agent;            /* H: also a home agent on this link */
	bool routes_common;         /* Code 0 with the router address; false: Code 16 */
	bool prefix_lengths;        /* Prefix-Lengths extension (§2.1.2) */
};

enum fa_answer {
	FA_ANSWER_UNICAST = 1,      /* send fa_adv_emit(.., false, ..) to the source now */
	FA_ANSWER_MULTICAST,        /* send fa_adv_emit(.., true, ..) now */
	FA_ANSWER_DEFERRED,         /* a multicast answer is due at fa_adv_next() */
	FA_ANSWER_LIMITED,          /* already answered this source within the gap: nothing */
};

struct fa_adv_source {
	struct in_addr addr;
	mm_time_ns at;
};

struct fa_adv {
	struct fa_adv_config cfg;
	uint64_t rng;               /* xorshift64* state, never 0 */
	uint16_t seq;               /* the sequence number the next advertisement carries */
	unsigned sent;              /* advertisements sent (saturating) */
	unsigned multicasts;        /* multicast advertisements sent (saturating) */
	mm_time_ns next_periodic;   /* when the next periodic advertisement is due */
	mm_time_ns last_multicast;  /* when the last multicast went out (valid if multicasts) */
	mm_time_ns last_answer;     /* when the last multicast answer went out ... */
	bool answered;              /* ... valid if set */
	bool answer_pending;        /* a deferred multicast answer is due at last_answer + gap */
	unsigned uni_tokens;        /* unicast answer bucket */
	mm_time_ns uni_refill;
	struct fa_adv_source src[FA_ADV_SOURCES];
	unsigned nsrc;
	uint64_t limited;           /* solicitations not answered: rate limit */
};

/* Check cfg (-EINVAL: no care-of address, too many, an interval out of range, a prefix
 * length over 32, a registration lifetime of 0) and start: the first advertisement is due
 * at now, with sequence number 0. seed: any value (the daemon mixes its address and
 * getrandom() into it, RFC 1256 §5.1). */
int fa_adv_init(struct fa_adv *s, const struct fa_adv_config *cfg, uint64_t seed,
		mm_time_ns now);

/* When the next multicast advertisement is due (periodic, or a deferred answer). */
mm_time_ns fa_adv_next(const struct fa_adv *s);
static inline bool fa_adv_due(const struct fa_adv *s, mm_time_ns now)
{
	return fa_adv_next(s) <= now;
}

/* A valid Router Solicitation from src (the IP source; 0.0.0.0 allowed) arrived at now. */
enum fa_answer fa_adv_solicited(struct fa_adv *s, struct in_addr src, mm_time_ns now);

/* The advertisement to send now into w (mip4_adv_encode), with the next sequence number.
 * multicast: it is the periodic/multicast one: the interval timer restarts from now and a
 * deferred answer is covered by it. Returns the length, or -ENOSPC (nothing consumed). */
int fa_adv_emit(struct fa_adv *s, bool multicast, mm_time_ns now, struct writer *w);

/* The ICMP Lifetime field we send (AdvertisementLifetime). */
uint16_t fa_adv_lifetime(const struct fa_adv_config *cfg);

/* The advertisement contents for sequence number seq (for tests and fa_adv_emit). */
void fa_adv_fill(const struct fa_adv_config *cfg, uint16_t seq, struct mip4_agent_adv *out);

#endif
