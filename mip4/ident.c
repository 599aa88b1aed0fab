/* Registration Identification, timestamp style (RFC 5944 §5.7.1). See ident.h. */
#include "mip4/ident.h"

#include <errno.h>
#include <stddef.h>

#define NS_PER_SEC UINT64_C(1000000000)
#define NTP_FRAC_MASK UINT64_C(0xffffffff)
#define NTP_SECS_MASK (~NTP_FRAC_MASK)

/* --- NTP format ----------------------------------------------------------------------- */

uint64_t mip4_ntp_from_unix_ns(mm_time_ns unix_ns)
{
	uint64_t secs = unix_ns / NS_PER_SEC + MIP4_NTP_UNIX_OFFSET;
	uint64_t frac_ns = unix_ns % NS_PER_SEC;
	/* Round to the nearest 2^-32 s; frac_ns < 2^30, so the shift cannot overflow, and the
	 * result stays below 2^32 because frac_ns < 10^9. */
	uint64_t frac = ((frac_ns << 32) + NS_PER_SEC / 2) / NS_PER_SEC;

	/* The shift drops the era number: NTP seconds are modulo 2^32 (RFC 5905 §6). */
	return (secs << 32) | frac;
}

mm_time_ns mip4_ntp_to_unix_ns(uint64_t ntp)
{
	uint64_t secs = ntp >> 32;
	uint64_t frac = ntp & NTP_FRAC_MASK;

	/* RFC 4330 §3: with the top bit clear, the seconds are in era 1 (from 2036-02-07). */
	if (!(secs & UINT64_C(0x80000000)))
		secs += UINT64_C(1) << 32;
	if (secs < MIP4_NTP_UNIX_OFFSET)
		return 0;
	return (secs - MIP4_NTP_UNIX_OFFSET) * NS_PER_SEC +
	       ((frac * NS_PER_SEC + (UINT64_C(1) << 31)) >> 32);
}

/* A duration in ns as a count of 2^-32 s units, saturating far beyond any sane window. */
static uint64_t ntp_units(mm_time_ns d)
{
	uint64_t secs = d / NS_PER_SEC;

	if (secs >= (UINT64_C(1) << 31))
		return INT64_MAX;
	return (secs << 32) + (((d % NS_PER_SEC) << 32) / NS_PER_SEC);
}

/* |a - b| in serial-number order. */
static uint64_t serial_distance(uint64_t a, uint64_t b)
{
	int64_t d = (int64_t)(a - b);

	return d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
}

/* --- mobile node ---------------------------------------------------------------------- */

void mip4_ident_mn_init(struct mip4_ident_mn *mn)
{
	*mn = (struct mip4_ident_mn){ 0 };
}

/* Our clock corrected by the offset learnt from the HA, clamped to the representable range. */
static mm_time_ns mn_clock(const struct mip4_ident_mn *mn, mm_time_ns now_ns)
{
	if (mn->offset_ns < 0) {
		uint64_t back = (uint64_t)0 - (uint64_t)mn->offset_ns;

		return now_ns > back ? now_ns - back : 0;
	}
	if ((uint64_t)mn->offset_ns > UINT64_MAX - now_ns)
		return UINT64_MAX;
	return now_ns + (uint64_t)mn->offset_ns;
}

uint64_t mip4_ident_mn_next(struct mip4_ident_mn *mn, mm_time_ns now_ns, uint32_t rnd)
{
	const uint64_t rmask = (UINT64_C(1) << MIP4_IDENT_RANDOM_BITS) - 1;
	uint64_t id = mip4_ntp_from_unix_ns(mn_clock(mn, now_ns));

	id = (id & ~rmask) | (rnd & rmask);
	/* §5.7.1: greater than any Identification used before (the HA treats it as a sequence
	 * number), and never the same as the immediately preceding one (§5.7). */
	if (mn->have_floor && !mip4_ident_after(id, mn->floor))
		id = mn->floor + 1;
	if (mn->have_sent && id == mn->last_sent)
		id++;
	mn->last_sent = id;
	mn->have_sent = true;
	mn->floor = id;
	mn->have_floor = true;
	return id;
}

void mip4_ident_mn_accepted(struct mip4_ident_mn *mn, uint64_t ident)
{
	mn->accepted = ident;
	mn->have_accepted = true;
}

int mip4_ident_mn_resync(struct mip4_ident_mn *mn, uint64_t sent_ident, uint64_t reply_ident,
			 mm_time_ns now_ns)
{
	mm_time_ns ha_ns;

	if (!mn)
		return -EINVAL;
	/* §3.6.2.1, §5.7.1: only a reply to our request may move our clock. */
	if (!mip4_ident_reply_matches(sent_ident, reply_ident))
		return -EPROTO;
	/* The HA sent whole seconds; its clock was somewhere in [s, s + 1). */
	ha_ns = mip4_ntp_to_unix_ns(reply_ident & NTP_SECS_MASK) + NS_PER_SEC / 2;
	mn->offset_ns = (int64_t)(ha_ns - now_ns);
	/* The HA never recorded the rejected ones, only the last accepted one. */
	mn->floor = mn->accepted;
	mn->have_floor = mn->have_accepted;
	return 0;
}

/* --- home agent ----------------------------------------------------------------------- */

void mip4_ident_ha_init(struct mip4_ident_ha *ha)
{
	*ha = (struct mip4_ident_ha){ 0 };
}

int mip4_ident_ha_check(const struct mip4_ident_ha *ha, uint64_t ident, mm_time_ns now_ns,
			mm_time_ns window, uint64_t *reply_ident)
{
	uint64_t ours;
	int rc = 0;

	if (!ha || !reply_ident)
		return -EINVAL;
	ours = mip4_ntp_from_unix_ns(now_ns);
	/* §5.7.1: "close enough to the home agent's time-of-day clock" ... */
	if (serial_distance(ident, ours) > ntp_units(window))
		rc = -ERANGE;
	/* ... "and greater than all previously accepted timestamps". */
	else if (ha->have_last && !mip4_ident_after(ident, ha->last_accepted))
		rc = -EALREADY;
	/* §5.7.1: valid: copy it all; invalid: our seconds, their low 32 bits, code 133. */
	*reply_ident = rc == 0 ? ident : (ours & NTP_SECS_MASK) | (ident & NTP_FRAC_MASK);
	return rc;
}

void mip4_ident_ha_accept(struct mip4_ident_ha *ha, uint64_t ident)
{
	ha->last_accepted = ident;
	ha->have_last = true;
}
