/* Registration Identification with timestamp replay protection (RFC 5944 §5.7, §5.7.1).
 *
 * The Identification is a 64-bit NTP-format timestamp (RFC 5905 §6): the high 32 bits are
 * seconds since 1900-01-01 00:00 UTC, the low 32 bits fractions of a second. Timestamps are
 * mandatory to implement (§5.7); nonces (§5.7.2) are not implemented.
 *
 *  - The mobile node sets it from its time of day, and every new one MUST be greater than
 *    any it used before (§5.7.1), retransmissions included (§3.6.3: a new Identification per
 *    retransmission).
 *  - The home agent accepts it only if it is within a window of its own clock (7 s unless
 *    the security association says otherwise; it SHOULD be more than 3 s, §5.7.1) and
 *    greater than every Identification it accepted from that mobile node before.
 *  - Otherwise it replies 133 with its own time in the high 32 bits and the mobile node's
 *    low 32 bits (§5.7.1), and the mobile node, after checking the low 32 bits (§3.6.2.1),
 *    adopts the home agent's clock for future requests (§3.6.2.3).
 *
 * Everything here is a pure function of its arguments: the caller reads the real-time clock
 * (clock_realtime_ns()) and supplies randomness. Comparisons use serial-number arithmetic
 * on the 64-bit value (RFC 1982 style: a is after b when (int64_t)(a - b) > 0), so the NTP
 * era rollover in 2036 does not look like a replay.
 */
#ifndef MM_MIP4_IDENT_H
#define MM_MIP4_IDENT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"

/* Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
#define MIP4_NTP_UNIX_OFFSET UINT64_C(2208988800)
/* §5.7.1: "a default value of 7 seconds MAY be used"; "SHOULD be greater than 3 seconds". */
#define MIP4_IDENT_WINDOW_DEFAULT MM_SEC(7)
#define MIP4_IDENT_WINDOW_MIN     MM_SEC(3)
/* Low bits of the fraction taken from randomness rather than the clock (§5.7.1: "bits that
 * are not available from a time source SHOULD be generated from a good source of
 * randomness"). 2^12 units of 2^-32 s are about 1 us, the resolution we rely on. */
#define MIP4_IDENT_RANDOM_BITS 12

/* Unix time in ns <-> 64-bit NTP timestamp. Times before 1970 are not representable in
 * mm_time_ns; NTP seconds are read in the era that spans 1968-2104 (RFC 4330 §3). */
uint64_t mip4_ntp_from_unix_ns(mm_time_ns unix_ns);
mm_time_ns mip4_ntp_to_unix_ns(uint64_t ntp);

/* a is later than b in serial-number order. */
static inline bool mip4_ident_after(uint64_t a, uint64_t b) { return (int64_t)(a - b) > 0; }

/* §3.6.2.1, §5.7: a reply belongs to a request when the low 32 bits match. */
static inline bool mip4_ident_reply_matches(uint64_t request_ident, uint64_t reply_ident)
{
	return (uint32_t)request_ident == (uint32_t)reply_ident;
}

/* --- mobile node ---------------------------------------------------------------------- */

struct mip4_ident_mn {
	int64_t offset_ns;   /* add to our real-time clock to get the HA's (learnt from 133) */
	uint64_t last_sent;  /* the last Identification we sent (valid if have_sent) */
	bool have_sent;
	uint64_t floor;      /* every new Identification must be after this one */
	bool have_floor;     /* false until the first one is sent */
	uint64_t accepted;   /* the last one the HA accepted (valid if have_accepted) */
	bool have_accepted;
};

void mip4_ident_mn_init(struct mip4_ident_mn *mn);

/* The Identification for a new Registration Request (or a retransmission) at real time
 * now_ns: NTP(now + offset) with the low MIP4_IDENT_RANDOM_BITS taken from rnd, raised past
 * the floor if needed so that it is greater than every earlier one (§5.7.1). Records it. */
uint64_t mip4_ident_mn_next(struct mip4_ident_mn *mn, mm_time_ns now_ns, uint32_t rnd);

/* The HA accepted the request with this Identification (an authenticated reply with code
 * 0 or 1 whose low 32 bits matched). */
void mip4_ident_mn_accepted(struct mip4_ident_mn *mn, uint64_t ident);

/* An authenticated reply with code 133 arrived at real time now_ns for the request that
 * carried sent_ident (§3.6.2.3, §5.7.1). Checks that the low 32 bits match (else -EPROTO
 * and nothing changes), then sets the clock offset so that our next Identification carries
 * the HA's time (its whole second plus half a second, the midpoint of what the reply
 * allows), and lowers the floor to the last accepted Identification: the rejected ones
 * were never recorded by the HA and must not hold us above its clock. */
int mip4_ident_mn_resync(struct mip4_ident_mn *mn, uint64_t sent_ident, uint64_t reply_ident,
			 mm_time_ns now_ns);

/* --- home agent ----------------------------------------------------------------------- */

/* Per mobile node (per security association) replay state. */
struct mip4_ident_ha {
	uint64_t last_accepted;
	bool have_last;
};

void mip4_ident_ha_init(struct mip4_ident_ha *ha);

/* Check ident against the HA clock (now_ns, real time) and the replay state (§5.7.1).
 * Returns 0 if valid, with *reply_ident = ident (the whole field is copied); or
 * -ERANGE (outside +-window of our clock) or -EALREADY (not after the last accepted one),
 * with *reply_ident = our NTP seconds << 32 | ident's low 32 bits, to be sent with code 133.
 * Records nothing: see mip4_ident_ha_accept(). */
int mip4_ident_ha_check(const struct mip4_ident_ha *ha, uint64_t ident, mm_time_ns now_ns,
			mm_time_ns window, uint64_t *reply_ident);

/* Record ident as accepted: call it once the request has authenticated (MN-HA verified)
 * and passed mip4_ident_ha_check(), whatever the registration's outcome, so that the same
 * request can never be replayed. Never for an unauthenticated request: that would let
 * anyone push the floor up and lock the mobile node out. */
void mip4_ident_ha_accept(struct mip4_ident_ha *ha, uint64_t ident);

#endif
