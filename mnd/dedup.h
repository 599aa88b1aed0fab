/* Duplicate filter for the packets the home agent sends again after a move (daemon/replay.h).
 *
 * After a registration that moved the binding, the home agent tunnels the packets of the
 * last second again to the new care-of address; those that had already arrived on the old
 * link would reach the applications twice. This filter remembers a 64-bit digest of the
 * last DEDUP_RING inner packets (always), and for a short time after a move drops a packet
 * whose digest it already holds. Outside that time it never drops anything, so a packet that
 * is legitimately identical to an earlier one (an application re-sending the same UDP
 * datagram with IP ID 0) can only be lost in the seconds right after a move, and only if it
 * repeats one of the last DEDUP_RING packets byte for byte. No I/O, no allocation.
 */
#ifndef MM_MND_DEDUP_H
#define MM_MND_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEDUP_RING 4096              /* > the home agent's default replay budget in packets */

struct mnd_dedup {
	uint64_t digest[DEDUP_RING];
	unsigned next;
	unsigned used;
};

void mnd_dedup_init(struct mnd_dedup *d);
/* The packet's digest (whole packet and its length). */
uint64_t mnd_dedup_digest(const uint8_t *pkt, size_t len);
/* With `check`: true when the packet was seen among the last DEDUP_RING (drop it; it is not
 * recorded again). Otherwise (or when new) it is recorded and false is returned. */
bool mnd_dedup_seen(struct mnd_dedup *d, const uint8_t *pkt, size_t len, bool check);

#endif
