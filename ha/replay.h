/* Handover replay: the home agent keeps the packets it tunnelled most recently, so that when a
 * mobile node registers a new care-of address it can send again, to the new one, what it had
 * sent to the old one during the move.
 *
 * Why: between the moment a mobile node leaves a link and the moment its new registration
 * reaches us (DHCP on the new link plus half a round trip), everything we tunnel goes to the
 * old care-of address and is lost. TCP then needs one more round trip (SACK from the mobile
 * node, retransmission from the correspondent) before data flows again, so the outage is
 * never below two round trips. Sending the recent packets again right after the Registration
 * Reply fills that hole at once: the outage becomes the registration round trip. RFC 5944
 * has no such mechanism (it leaves smooth handoff to extensions); this needs nothing on the
 * wire: the copies are ordinary tunnelled packets. Receivers see some packets twice (those
 * that did arrive before the move); TCP discards them, and our mnd drops exact duplicates
 * after a move (mnd/dedup.h). A third-party mobile node only sees duplicates, as after any
 * retransmission; `handover-replay-ms = 0` turns the feature off.
 *
 * The buffer is one ring of fixed-size slots shared by all bindings (memory does not grow
 * with the number of bindings); a move selects the slots of one home address that are newer
 * than the window, newest first up to a byte budget, and hands them back oldest first, the
 * order they were first sent in. No I/O and no allocation after ha_replay_new().
 */
#ifndef MM_HA_REPLAY_H
#define MM_HA_REPLAY_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"

#define HA_REPLAY_SLOT_DATA 1504       /* >= HA_TUN_MTU: every forwarded packet fits */
#define HA_REPLAY_SLOTS_DEFAULT 1024   /* about 1.5 MiB */
#define HA_REPLAY_MS_DEFAULT 1000      /* covers DHCP on a new link plus a slow registration */
#define HA_REPLAY_BYTES_DEFAULT (512u * 1024u)
#define HA_REPLAY_RTT_MS_DEFAULT 150   /* the longest round trip the start estimate covers */
#define HA_REPLAY_SEEN 1024            /* entries of the last-reverse-packet table */

struct ha_replay;

/* slots: ring size (>= 1). */
int ha_replay_new(unsigned slots, struct ha_replay **out);
void ha_replay_free(struct ha_replay *rp);

/* Remember a packet tunnelled to home address hoa at time now. Packets larger than a slot
 * are not kept (cannot happen with the TUN's MTU; counted). */
void ha_replay_record(struct ha_replay *rp, struct in_addr hoa, const uint8_t *pkt,
		      size_t len, mm_time_ns now);

/* A reverse-tunnelled packet from hoa arrived through its binding's tunnel at time now.
 *
 * Where the replay starts: a mobile node that sent us a packet from its old care-of address
 * at time L had received everything we sent before L minus one round trip. So the packets
 * that may be lost are those sent after (last reverse packet) - (round trip): we start
 * there, with `rtt` the longest round trip we want to cover, instead of replaying the whole
 * window (most of which arrived, and would only delay the packets that did not). A mobile
 * node that sends nothing back (a one-way UDP stream) gets the whole window. */
void ha_replay_note_reverse(struct ha_replay *rp, struct in_addr hoa, mm_time_ns now);
/* max(now - window, last reverse packet of hoa - rtt); 0 = from the start of the ring. */
mm_time_ns ha_replay_start(const struct ha_replay *rp, struct in_addr hoa, mm_time_ns now,
			   mm_time_ns window, mm_time_ns rtt);

/* The packets for hoa recorded at or after `since`, at most max_bytes in total (the newest
 * win when the budget is short) and at most max_out of them: their slot indices go to
 * out[], oldest first. Returns how many. Selecting does not remove them. */
unsigned ha_replay_select(const struct ha_replay *rp, struct in_addr hoa, mm_time_ns since,
			  size_t max_bytes, unsigned *out, unsigned max_out);

/* A selected packet (valid until the next ha_replay_record()). */
const uint8_t *ha_replay_packet(const struct ha_replay *rp, unsigned idx, size_t *len);

unsigned ha_replay_slots(const struct ha_replay *rp);
uint64_t ha_replay_too_big(const struct ha_replay *rp);

#endif
