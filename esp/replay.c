/* ESP anti-replay window: RFC 4303 section 3.4.3 and appendix A2 (see replay.h). */
#include "esp/replay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

int replay_init(struct replay *r, uint32_t window, bool esn)
{
	uint32_t words = 1;

	if (!r)
		return -EINVAL;
	if (window == 0)
		window = REPLAY_WINDOW_DEFAULT;
	if (window < REPLAY_WINDOW_MIN || window > REPLAY_WINDOW_MAX || window % 64 != 0)
		return -EINVAL;
	/* At least W/64 + 1 words: the W numbers left of and at T span that many words when T
	 * is not the last bit of its word, and a slot may only be reused once its previous
	 * numbers have left the window. */
	while (words < window / 64 + 1)
		words <<= 1;
	r->ring = calloc(words, sizeof(*r->ring));
	if (!r->ring)
		return -ENOMEM;
	r->top = 0;
	r->window = window;
	r->mask = words - 1;
	r->esn = esn;
	return 0;
}

void replay_free(struct replay *r)
{
	if (!r || !r->ring)
		return;
	/* Not secret, but the SA's state is wiped as a whole; keep the habit. */
	OPENSSL_cleanse(r->ring, ((size_t)r->mask + 1) * sizeof(*r->ring));
	free(r->ring);
	r->ring = NULL;
}

static inline uint64_t *slot(const struct replay *r, uint64_t seq)
{
	return &r->ring[(seq >> 6) & r->mask];
}

static inline uint64_t bit(uint64_t seq)
{
	return UINT64_C(1) << (seq & 63);
}

/* Window test on a full 64-bit number: new (right of T), seen, or left of the window. */
static int window_test(const struct replay *r, uint64_t seq)
{
	if (seq == 0)
		return -ESTALE;        /* never sent: the first packet carries 1 (3.3.3) */
	if (seq > r->top)
		return 0;
	if (r->top - seq >= r->window)
		return -ESTALE;
	return (*slot(r, seq) & bit(seq)) ? -EALREADY : 0;
}

/* Appendix A2.2: the subspace (high-order 32 bits) a received Seql belongs to. Returns
 * false when the answer would be outside 0..2^32-1. */
static bool infer_seqh(const struct replay *r, uint32_t seql, uint32_t *seqh)
{
	uint32_t tl = (uint32_t)r->top, th = (uint32_t)(r->top >> 32);
	uint32_t w = r->window;
	uint32_t bl = tl - w + 1;          /* mod 2^32, as in A2.3 */

	if (tl >= w - 1) {
		/* Case A: the window lies within subspace Th. */
		if (seql >= bl) {
			*seqh = th;
		} else {
			if (th == UINT32_MAX)
				return false;
			*seqh = th + 1;
		}
	} else {
		/* Case B: the window straddles subspaces Th - 1 and Th. */
		if (seql >= bl) {
			if (th == 0)
				return false;  /* subspace -1 does not exist */
			*seqh = th - 1;
		} else {
			*seqh = th;
		}
	}
	return true;
}

int replay_check(const struct replay *r, uint32_t seql, uint64_t *seq)
{
	uint32_t seqh = 0;
	uint64_t full;
	int rc;

	if (!r || !r->ring || !seq)
		return -EINVAL;
	if (r->esn && !infer_seqh(r, seql, &seqh))
		return -ESTALE;
	full = ((uint64_t)seqh << 32) | seql;
	rc = window_test(r, full);
	if (rc < 0)
		return rc;
	*seq = full;
	return 0;
}

int replay_update(struct replay *r, uint64_t seq)
{
	int rc;

	if (!r || !r->ring)
		return -EINVAL;
	if (!r->esn && seq > UINT32_MAX)
		return -ESTALE;
	rc = window_test(r, seq);
	if (rc < 0)
		return rc;
	if (seq > r->top) {
		/* A2.1: slide the right edge to seq. Word slots between the old and the new top
		 * word held numbers that are now left of the window: clear them. */
		uint64_t from = r->top >> 6, to = seq >> 6;

		if (to - from > r->mask) {
			memset(r->ring, 0, ((size_t)r->mask + 1) * sizeof(*r->ring));
		} else {
			for (uint64_t w = from + 1; w <= to; w++)
				r->ring[w & r->mask] = 0;
		}
		r->top = seq;
	}
	*slot(r, seq) |= bit(seq);
	return 0;
}

int replay_resume(struct replay *r, uint64_t seq)
{
	uint64_t above;

	if (!r || !r->ring || seq < r->top || (!r->esn && seq > UINT32_MAX))
		return -EINVAL;
	/* Everything at or below seq counts as seen; the bits above seq in its own word are
	 * future numbers and must stay clear (the other slots are cleared when T enters
	 * them). */
	memset(r->ring, 0xff, ((size_t)r->mask + 1) * sizeof(*r->ring));
	above = (seq & 63) == 63 ? 0 : ~((UINT64_C(2) << (seq & 63)) - 1);
	*slot(r, seq) &= ~above;
	r->top = seq;
	return 0;
}
