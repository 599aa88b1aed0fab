/* Handover replay ring. See replay.h. */
#include "ha/replay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct replay_slot {
	mm_time_ns at;
	struct in_addr hoa;
	uint16_t len;                  /* 0: empty */
	uint8_t data[HA_REPLAY_SLOT_DATA];
};

struct replay_seen {
	struct in_addr hoa;
	mm_time_ns at;                 /* 0: empty */
};

struct ha_replay {
	struct replay_seen seen[HA_REPLAY_SEEN];  /* direct-mapped by home address */
	unsigned nslots;
	unsigned next;                 /* slot the next record overwrites (the oldest) */
	uint64_t too_big;
	struct replay_slot *slot;
};

int ha_replay_new(unsigned slots, struct ha_replay **out)
{
	struct ha_replay *rp;

	if (slots == 0 || !out)
		return -EINVAL;
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	rp->slot = calloc(slots, sizeof(*rp->slot));
	if (!rp->slot) {
		free(rp);
		return -ENOMEM;
	}
	rp->nslots = slots;
	*out = rp;
	return 0;
}

void ha_replay_free(struct ha_replay *rp)
{
	if (!rp)
		return;
	free(rp->slot);
	free(rp);
}

void ha_replay_record(struct ha_replay *rp, struct in_addr hoa, const uint8_t *pkt,
		      size_t len, mm_time_ns now)
{
	struct replay_slot *s;

	if (!rp || !pkt || len == 0)
		return;
	if (len > HA_REPLAY_SLOT_DATA) {
		rp->too_big++;
		return;
	}
	s = &rp->slot[rp->next];
	s->at = now;
	s->hoa = hoa;
	s->len = (uint16_t)len;
	memcpy(s->data, pkt, len);
	rp->next = (rp->next + 1) % rp->nslots;
}

static unsigned seen_index(struct in_addr hoa)
{
	uint32_t h = hoa.s_addr * 0x9e3779b1u;

	return (h >> 16) % HA_REPLAY_SEEN;
}

void ha_replay_note_reverse(struct ha_replay *rp, struct in_addr hoa, mm_time_ns now)
{
	struct replay_seen *e;

	if (!rp)
		return;
	e = &rp->seen[seen_index(hoa)];
	e->hoa = hoa;                  /* a collision only costs the other address its estimate */
	e->at = now;
}

mm_time_ns ha_replay_start(const struct ha_replay *rp, struct in_addr hoa, mm_time_ns now,
			   mm_time_ns window, mm_time_ns rtt)
{
	mm_time_ns start = now > window ? now - window : 0;
	const struct replay_seen *e;

	if (!rp)
		return start;
	e = &rp->seen[seen_index(hoa)];
	if (e->at && e->hoa.s_addr == hoa.s_addr && e->at > rtt && e->at - rtt > start)
		start = e->at - rtt;
	return start;
}

unsigned ha_replay_select(const struct ha_replay *rp, struct in_addr hoa, mm_time_ns since,
			  size_t max_bytes, unsigned *out, unsigned max_out)
{
	unsigned n = 0;
	size_t bytes = 0;

	if (!rp || !out || max_out == 0)
		return 0;
	/* Walk from the newest slot backwards; stop at the window's start, the budget, or the
	 * ring's start. Slots are recorded in time order, so the first too-old slot ends it. */
	for (unsigned k = 1; k <= rp->nslots; k++) {
		unsigned idx = (rp->next + rp->nslots - k) % rp->nslots;
		const struct replay_slot *s = &rp->slot[idx];

		if (s->len == 0 || s->at < since)
			break;
		if (s->hoa.s_addr != hoa.s_addr)
			continue;
		if (bytes + s->len > max_bytes || n == max_out)
			break;
		bytes += s->len;
		out[n++] = idx;
	}
	/* Oldest first: the order they were first sent in. */
	for (unsigned i = 0; i < n / 2; i++) {
		unsigned t = out[i];

		out[i] = out[n - 1 - i];
		out[n - 1 - i] = t;
	}
	return n;
}

const uint8_t *ha_replay_packet(const struct ha_replay *rp, unsigned idx, size_t *len)
{
	if (!rp || idx >= rp->nslots || rp->slot[idx].len == 0 || !len)
		return NULL;
	*len = rp->slot[idx].len;
	return rp->slot[idx].data;
}

unsigned ha_replay_slots(const struct ha_replay *rp)
{
	return rp ? rp->nslots : 0;
}

uint64_t ha_replay_too_big(const struct ha_replay *rp)
{
	return rp ? rp->too_big : 0;
}
