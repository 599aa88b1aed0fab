/* Handover replay ring. See replay.h. */
#include "daemon/replay.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct replay_slot {
	mm_time_ns at;
	struct in_addr key;
	uint16_t len;                  /* 0: empty */
	uint32_t flow;                 /* 0: not numbered */
	uint64_t seq;
};

struct replay_seen {
	struct in_addr key;
	mm_time_ns at;                 /* 0: empty */
};

struct pkt_replay {
	struct replay_seen seen[PKT_REPLAY_SEEN];  /* direct-mapped by key */
	unsigned nslots;
	size_t slot_data;
	unsigned next;                 /* slot the next record overwrites (the oldest) */
	uint64_t too_big;
	struct replay_slot *slot;
	uint8_t *data;                 /* nslots * slot_data */
};

int pkt_replay_new(unsigned slots, size_t slot_data, struct pkt_replay **out)
{
	struct pkt_replay *rp;

	if (slots == 0 || slot_data == 0 || slot_data > PKT_REPLAY_SLOT_DATA_MAX || !out)
		return -EINVAL;
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	rp->slot = calloc(slots, sizeof(*rp->slot));
	rp->data = calloc(slots, slot_data);
	if (!rp->slot || !rp->data) {
		pkt_replay_free(rp);
		return -ENOMEM;
	}
	rp->nslots = slots;
	rp->slot_data = slot_data;
	*out = rp;
	return 0;
}

void pkt_replay_free(struct pkt_replay *rp)
{
	if (!rp)
		return;
	free(rp->slot);
	free(rp->data);
	free(rp);
}

static uint8_t *slot_bytes(const struct pkt_replay *rp, unsigned idx)
{
	return rp->data + (size_t)idx * rp->slot_data;
}

void pkt_replay_record(struct pkt_replay *rp, struct in_addr key, const uint8_t *pkt,
		       size_t len, mm_time_ns now)
{
	pkt_replay_record_seq(rp, key, pkt, len, now, 0, 0);
}

void pkt_replay_record_seq(struct pkt_replay *rp, struct in_addr key, const uint8_t *pkt,
			   size_t len, mm_time_ns now, uint32_t flow, uint64_t seq)
{
	struct replay_slot *s;

	if (!rp || !pkt || len == 0)
		return;
	if (len > rp->slot_data) {
		rp->too_big++;
		return;
	}
	s = &rp->slot[rp->next];
	s->at = now;
	s->key = key;
	s->len = (uint16_t)len;
	s->flow = flow;
	s->seq = seq;
	memcpy(slot_bytes(rp, rp->next), pkt, len);
	rp->next = (rp->next + 1) % rp->nslots;
}

static unsigned seen_index(struct in_addr key)
{
	uint32_t h = key.s_addr * 0x9e3779b1u;

	return (h >> 16) % PKT_REPLAY_SEEN;
}

void pkt_replay_note_reverse(struct pkt_replay *rp, struct in_addr key, mm_time_ns now)
{
	struct replay_seen *e;

	if (!rp)
		return;
	e = &rp->seen[seen_index(key)];
	e->key = key;                  /* a collision only costs the other key its estimate */
	e->at = now;
}

mm_time_ns pkt_replay_start(const struct pkt_replay *rp, struct in_addr key, mm_time_ns now,
			    mm_time_ns window, mm_time_ns rtt)
{
	mm_time_ns start = now > window ? now - window : 0;
	const struct replay_seen *e;

	if (!rp)
		return start;
	e = &rp->seen[seen_index(key)];
	if (e->at && e->key.s_addr == key.s_addr && e->at > rtt && e->at - rtt > start)
		start = e->at - rtt;
	return start;
}

mm_time_ns pkt_replay_rtt(mm_time_ns sample, mm_time_ns cap)
{
	mm_time_ns r;

	if (!sample)
		return cap;
	r = sample + sample / 4 + PKT_REPLAY_RTT_SLACK;
	return r < cap ? r : cap;
}

/* Whether slot s is wanted: a marked flow's packets after the mark, others from since. */
static bool wanted(const struct replay_slot *s, mm_time_ns since,
		   const struct pkt_replay_mark *marks, size_t nmarks)
{
	if (s->flow)
		for (size_t i = 0; i < nmarks; i++)
			if (marks[i].flow == s->flow)
				return s->seq > marks[i].seq;
	return s->at >= since;
}

unsigned pkt_replay_select(const struct pkt_replay *rp, struct in_addr key, mm_time_ns since,
			   size_t max_bytes, unsigned *out, unsigned max_out)
{
	return pkt_replay_select_marked(rp, key, since, since, NULL, 0, max_bytes, out, max_out);
}

unsigned pkt_replay_select_marked(const struct pkt_replay *rp, struct in_addr key,
				  mm_time_ns since, mm_time_ns floor,
				  const struct pkt_replay_mark *marks, size_t nmarks,
				  size_t max_bytes, unsigned *out, unsigned max_out)
{
	unsigned n = 0, oldest = 0;
	size_t bytes = 0;

	if (!rp || !out || max_out == 0)
		return 0;
	if (!marks)
		nmarks = 0;
	if (!nmarks || floor > since)
		floor = since;
	/* How far back the window goes: slots are recorded in time order, so walking back from
	 * the newest, the first empty or too-old slot ends it. */
	for (unsigned k = 1; k <= rp->nslots; k++) {
		const struct replay_slot *s = &rp->slot[(rp->next + rp->nslots - k) % rp->nslots];

		if (s->len == 0 || s->at < floor)
			break;
		oldest = k;
	}
	/* Then forwards from the oldest, in the order they were first sent, until the budget:
	 * the oldest are the ones a receiver waits for (TCP delivers nothing past its first
	 * hole), the newest can come again from the sender. */
	for (unsigned k = oldest; k >= 1; k--) {
		unsigned idx = (rp->next + rp->nslots - k) % rp->nslots;
		const struct replay_slot *s = &rp->slot[idx];

		if (s->key.s_addr != key.s_addr || !wanted(s, since, marks, nmarks))
			continue;
		if (bytes + s->len > max_bytes || n == max_out)
			break;
		bytes += s->len;
		out[n++] = idx;
	}
	return n;
}

const uint8_t *pkt_replay_packet(const struct pkt_replay *rp, unsigned idx, size_t *len)
{
	if (!rp || idx >= rp->nslots || rp->slot[idx].len == 0 || !len)
		return NULL;
	*len = rp->slot[idx].len;
	return slot_bytes(rp, idx);
}

unsigned pkt_replay_slots(const struct pkt_replay *rp)
{
	return rp ? rp->nslots : 0;
}

size_t pkt_replay_slot_data(const struct pkt_replay *rp)
{
	return rp ? rp->slot_data : 0;
}

uint64_t pkt_replay_too_big(const struct pkt_replay *rp)
{
	return rp ? rp->too_big : 0;
}
