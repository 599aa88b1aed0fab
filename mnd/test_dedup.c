/* Unit test of the duplicate filter after a move (mnd/dedup.h). */
#include <string.h>

#include "mnd/dedup.h"
#include "tests/unit/tap.h"

static struct mnd_dedup d;

int main(void)
{
	uint8_t a[1400], b[1400];
	unsigned false_hits = 0;

	memset(a, 0x11, sizeof(a));
	memcpy(b, a, sizeof(b));
	b[1399] ^= 1;                      /* differs in the last byte only */
	mnd_dedup_init(&d);
	CHECK(mnd_dedup_digest(a, sizeof(a)) != mnd_dedup_digest(b, sizeof(b)));
	CHECK(mnd_dedup_digest(a, 1399) != mnd_dedup_digest(a, 1400));   /* length counts */
	CHECK(mnd_dedup_digest(a, 3) != mnd_dedup_digest(a, 4));         /* the tail too */
	/* Without `check` nothing is ever dropped, even the same packet twice. */
	CHECK(!mnd_dedup_seen(&d, a, sizeof(a), false));
	CHECK(!mnd_dedup_seen(&d, a, sizeof(a), false));
	/* With `check` a packet seen before is a duplicate; a different one is not. */
	CHECK(mnd_dedup_seen(&d, a, sizeof(a), true));
	CHECK(!mnd_dedup_seen(&d, b, sizeof(b), true));
	CHECK(mnd_dedup_seen(&d, b, sizeof(b), true));
	/* DEDUP_RING distinct packets later, a is forgotten. Distinct packets never collide. */
	for (unsigned i = 0; i < DEDUP_RING; i++) {
		uint8_t p[64];

		memset(p, 0, sizeof(p));
		memcpy(p, &i, sizeof(i));
		if (mnd_dedup_seen(&d, p, sizeof(p), true))
			false_hits++;
	}
	CHECK_EQ_U64(false_hits, 0);
	CHECK(!mnd_dedup_seen(&d, a, sizeof(a), true));
	CHECK(mnd_dedup_seen(&d, a, sizeof(a), true));
	return tap_done();
}
