/* Handover replay: a data path keeps the packets it sent most recently, so that when a
 * mobile peer moves to a new address it can send again, to the new one, what it had sent
 * to the old one during the move. Shared by the home agent (ha/datapath.c: keyed by home
 * address, after a Mobile IPv4 registration) and the ESP data path (daemon/espdp.c: keyed
 * by IKE SA, after a MOBIKE move, RFC 4555 3.5).
 *
 * Why: between the moment a mobile node leaves a link and the moment its new registration
 * or UPDATE_SA_ADDRESSES reaches us (DHCP on the new link plus half a round trip),
 * everything we send goes to the old address and is lost. TCP then needs its
 * retransmission timeout, or at best one more round trip (SACK from the mobile node,
 * retransmission from the correspondent), before data flows again, so the outage is never
 * below two round trips. Sending the recent packets again right after the move fills that
 * hole at once: the outage becomes the move's round trip. Neither RFC 5944 nor RFC 4555 has
 * such a mechanism (they leave smooth handoff to extensions); this needs nothing on the
 * wire: the copies are ordinary packets (re-encapsulated: new ESP sequence numbers).
 * Receivers see some packets twice (those that did arrive before the move); TCP discards
 * them, and our mnd drops exact duplicates on its Mobile IPv4 path after a move
 * (mnd/dedup.h). A third-party peer only sees duplicates, as after any retransmission;
 * `handover-replay-ms = 0` turns the feature off.
 *
 * A peer that says how far it received (espdp: our own mnd, MM_ESP_RECEIVED in its
 * UPDATE_SA_ADDRESSES) gets exactly what came after: packets recorded with a flow and
 * sequence number (pkt_replay_record_seq(); the Child SA's outbound SPI and ESP sequence
 * number) are selected by that mark instead of by the round-trip estimate.
 *
 * The buffer is one ring of fixed-size slots shared by all keys (memory does not grow with
 * the number of peers); a move selects the slots of one key that are newer than the
 * window's start, oldest first up to a byte budget (a TCP receiver delivers nothing past the
 * first packet it misses: the oldest lost packets end the outage, the newest can come again
 * from the sender), in the order they were first sent in. The key is 32 bits carried in a
 * struct in_addr (a home address; espdp's IKE SA number). No I/O and no allocation after
 * pkt_replay_new().
 */
#ifndef MM_DAEMON_REPLAY_H
#define MM_DAEMON_REPLAY_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"

#define PKT_REPLAY_SLOT_DATA 1504      /* default packet room: a 1500-byte MTU and spare */
#define PKT_REPLAY_SLOT_DATA_MAX 65535
#define PKT_REPLAY_SLOTS_DEFAULT 1024  /* about 1.5 MiB with the default room */
#define PKT_REPLAY_MS_DEFAULT 1000     /* covers DHCP on a new link plus a slow update */
#define PKT_REPLAY_BYTES_DEFAULT (512u * 1024u)
#define PKT_REPLAY_RTT_MS_DEFAULT 150  /* the longest round trip the start estimate covers */
#define PKT_REPLAY_SEEN 1024           /* entries of the last-reverse-packet table */

struct pkt_replay;

/* slots: ring size (>= 1); slot_data: the longest packet kept (1..PKT_REPLAY_SLOT_DATA_MAX).
 * 0, -EINVAL or -ENOMEM; *out untouched on failure. */
int pkt_replay_new(unsigned slots, size_t slot_data, struct pkt_replay **out);
void pkt_replay_free(struct pkt_replay *rp);

/* Remember a packet sent for key at time now (now must not go backwards: the ring is in
 * time order). Packets longer than a slot are not kept (counted). */
void pkt_replay_record(struct pkt_replay *rp, struct in_addr key, const uint8_t *pkt,
		       size_t len, mm_time_ns now);
/* The same for a packet that goes out numbered: flow (nonzero; espdp: the Child SA's
 * outbound SPI) and its sequence number in that flow, so that a peer that tells how far it
 * received (struct pkt_replay_mark) gets only what came after. */
void pkt_replay_record_seq(struct pkt_replay *rp, struct in_addr key, const uint8_t *pkt,
			   size_t len, mm_time_ns now, uint32_t flow, uint64_t seq);

/* The peer received flow's packets up to seq (its highest, e.g. ESP's replay top, RFC
 * 4303 3.4.3): those are not sent again, the ones after are, whatever the round-trip
 * estimate says. */
struct pkt_replay_mark {
	uint32_t flow;
	uint64_t seq;
};

/* A packet from key's peer arrived through its current (old) path at time now.
 *
 * Where the replay starts: a peer that sent us a packet from its old address at time L had
 * received everything we sent before L minus one round trip. So the packets that may be
 * lost are those sent after (last reverse packet) - (round trip): we start there, with
 * `rtt` the longest round trip we want to cover, instead of replaying the whole window
 * (most of which arrived, and would only delay the packets that did not). A peer that
 * sends nothing back (a one-way UDP stream) gets the whole window. */
void pkt_replay_note_reverse(struct pkt_replay *rp, struct in_addr key, mm_time_ns now);
/* max(now - window, last reverse packet of key - rtt); 0 = from the start of the ring. */
mm_time_ns pkt_replay_start(const struct pkt_replay *rp, struct in_addr key, mm_time_ns now,
			    mm_time_ns window, mm_time_ns rtt);

/* The round trip to start from: a measured sample (0: none) with a margin for queueing
 * (a quarter, plus PKT_REPLAY_RTT_SLACK), never above `cap` (the configured longest round
 * trip, which is also the answer without a sample). Starting one configured 150 ms before the
 * last reverse packet on a 20 ms path replays 130 ms of packets that had arrived, ahead of
 * the ones that had not: at 2 MB/s that is 260 KB of duplicates, ~20 ms of queue. */
#define PKT_REPLAY_RTT_SLACK MM_MSEC(2)
mm_time_ns pkt_replay_rtt(mm_time_ns sample, mm_time_ns cap);

/* The packets for key recorded at or after `since`, at most max_bytes in total (the oldest
 * win when the budget is short: they are what a receiver waits for) and at most max_out of
 * them: their slot indices go to
 * out[], oldest first. Returns how many. Selecting does not remove them. */
unsigned pkt_replay_select(const struct pkt_replay *rp, struct in_addr key, mm_time_ns since,
			   size_t max_bytes, unsigned *out, unsigned max_out);

/* A selected packet (valid until the next pkt_replay_record()); NULL for an empty slot or
 * an index out of range. */
/* pkt_replay_select() with what the peer says it received: a packet of a flow in marks[]
 * is selected when its sequence number is above the mark and it was recorded at or after
 * `floor` (the window's start: the mark, not the round-trip estimate, says where the loss
 * began); any other packet of key as pkt_replay_select() (at or after `since`). Same budget
 * and order. */
unsigned pkt_replay_select_marked(const struct pkt_replay *rp, struct in_addr key,
				  mm_time_ns since, mm_time_ns floor,
				  const struct pkt_replay_mark *marks, size_t nmarks,
				  size_t max_bytes, unsigned *out, unsigned max_out);

const uint8_t *pkt_replay_packet(const struct pkt_replay *rp, unsigned idx, size_t *len);

unsigned pkt_replay_slots(const struct pkt_replay *rp);
size_t pkt_replay_slot_data(const struct pkt_replay *rp);
uint64_t pkt_replay_too_big(const struct pkt_replay *rp);

#endif
