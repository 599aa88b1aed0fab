/* ESP anti-replay window (RFC 4303 section 3.4.3) with extended sequence numbers
 * (RFC 4303 appendix A2).
 *
 * The window is W bits (W a multiple of 64, REPLAY_WINDOW_MIN..REPLAY_WINDOW_MAX, default
 * REPLAY_WINDOW_DEFAULT). It is kept as a ring of 64-bit words indexed by (seq / 64), the
 * scheme of RFC 6479: advancing the right edge clears whole words, never shifts bits. The
 * ring has a power-of-two number of words, at least W/64 + 1, so the W bits below the right
 * edge never share a word slot with a newer sequence number. The bitmap is allocated once
 * by replay_init(); checking and updating never allocate.
 *
 * Two steps, because the sequence number is only trustworthy once the ICV has verified
 * (RFC 4303 section 3.4.3: "the receive window is updated only if the integrity
 * verification succeeds"):
 *	replay_check()   before the ICV: rejects duplicates and packets left of the window, and
 *	                 infers the high-order 32 bits for ESN (they enter the ICV computation);
 *	replay_update()  after the ICV: moves the window and marks the number as seen.
 *
 * ESN inference follows appendix A2.2 literally, with T the highest authenticated number
 * and 32-bit arithmetic on Tl, Th, W:
 *	Case A (Tl >= W - 1, the window lies in one subspace):
 *	    Seql >= Tl - W + 1  -> Seqh = Th;  otherwise Seqh = Th + 1
 *	Case B (Tl <  W - 1, the window straddles two subspaces):
 *	    Seql >= Tl - W + 1  -> Seqh = Th - 1;  otherwise Seqh = Th
 * Where that would go below subspace 0 (Case B while Th = 0: nothing was sent there) or
 * above subspace 2^32 - 1, the packet is rejected as outside the window. Without ESN Seqh is
 * always 0. Sequence number 0 is never valid (RFC 4303 section 3.3.3: the first packet
 * carries 1). The resynchronisation of appendix A3 is not implemented: after a loss of
 * 2^32 consecutive packets the ICV fails and the SA has to be rekeyed.
 *
 * Errors (negative errno): -EALREADY duplicate (already seen inside the window),
 * -ESTALE left of the window (or an impossible subspace), -EINVAL bad arguments,
 * -ENOMEM (replay_init only).
 */
#ifndef MM_ESP_REPLAY_H
#define MM_ESP_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_WINDOW_MIN 1024u
#define REPLAY_WINDOW_DEFAULT 4096u
#define REPLAY_WINDOW_MAX 65536u

struct replay {
	uint64_t top;        /* T: highest authenticated sequence number; 0 = none yet */
	uint32_t window;     /* W, in sequence numbers */
	uint32_t mask;       /* ring words - 1 (the ring is a power of two) */
	bool esn;
	uint64_t *ring;      /* (mask + 1) words */
};

/* window 0 means REPLAY_WINDOW_DEFAULT. Returns 0, -EINVAL (not a multiple of 64 in
 * [REPLAY_WINDOW_MIN, REPLAY_WINDOW_MAX]) or -ENOMEM. */
int replay_init(struct replay *r, uint32_t window, bool esn);
/* Frees the ring; the struct can be initialised again. Safe on a zeroed struct. */
void replay_free(struct replay *r);

/* Preliminary check of a received 32-bit Sequence Number field. On success stores the full
 * 64-bit sequence number (the one to authenticate) in *seq and returns 0; on failure *seq
 * is untouched. Changes nothing. */
int replay_check(const struct replay *r, uint32_t seql, uint64_t *seq);

/* Record an authenticated sequence number (from replay_check). Returns 0, or -EALREADY /
 * -ESTALE if it is (by now) a duplicate or left of the window, in which case nothing
 * changes and the packet must be dropped. */
int replay_update(struct replay *r, uint64_t seq);

/* Continue from a known state (state restored from elsewhere, tests that cannot receive
 * 2^32 packets): top becomes seq and everything at or below it counts as seen. Moves
 * forward only: returns -EINVAL if seq is below the current top, or above 2^32 - 1
 * without ESN. */
int replay_resume(struct replay *r, uint64_t seq);

static inline uint64_t replay_top(const struct replay *r) { return r->top; }

#endif
