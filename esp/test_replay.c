/* Unit tests for esp/replay.c: the anti-replay window of RFC 4303 section 3.4.3 and the
 * ESN inference of appendix A2.2 (cases A and B, across a 2^32 subspace boundary).
 *
 * Expected values are worked out by hand from the A2.2 equations in the comments next to
 * each check (rfc4303.txt, appendix A2.2 and the pseudo-code of A2.3). A randomised run
 * compares the window with a naive model (an array of booleans over all sequence numbers)
 * for windows of 1024 and 4096.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "esp/replay.h"
#include "tests/unit/tap.h"

#define SUB(h, l) (((uint64_t)(h) << 32) | (uint32_t)(l))

/* check + update, as decapsulation does when the ICV verifies. */
static int accept_seq(struct replay *r, uint32_t seql, uint64_t *full)
{
	uint64_t s = 0;
	int rc = replay_check(r, seql, &s);

	if (rc < 0)
		return rc;
	if (full)
		*full = s;
	return replay_update(r, s);
}

static void test_init(void)
{
	struct replay r;

	memset(&r, 0, sizeof(r));
	CHECK_EQ_U64(replay_init(&r, 0, false), 0);
	CHECK_EQ_U64(r.window, REPLAY_WINDOW_DEFAULT);
	CHECK_EQ_U64(r.window, 4096);
	/* Ring: at least W/64 + 1 = 65 words, a power of two: 128. */
	CHECK_EQ_U64(r.mask + 1, 128);
	replay_free(&r);
	CHECK(r.ring == NULL);
	replay_free(&r);   /* twice is harmless */

	CHECK_EQ_U64(replay_init(&r, 1024, true), 0);
	CHECK_EQ_U64(r.mask + 1, 32);
	replay_free(&r);
	CHECK_EQ_U64(replay_init(&r, 65536, true), 0);
	replay_free(&r);

	CHECK_EQ_U64(replay_init(&r, 1000, false), (uint64_t)-EINVAL);   /* not 64k */
	CHECK_EQ_U64(replay_init(&r, 960, false), (uint64_t)-EINVAL);    /* below 1024 */
	CHECK_EQ_U64(replay_init(&r, 65536 + 64, false), (uint64_t)-EINVAL);
	CHECK_EQ_U64(replay_init(NULL, 1024, false), (uint64_t)-EINVAL);
}

static void test_in_order_and_duplicates(void)
{
	struct replay r;
	uint64_t s = 77;
	int fails = 0;

	replay_init(&r, 1024, false);
	/* 3.3.3: the first packet carries 1; 0 is never valid. */
	CHECK_EQ_U64(replay_check(&r, 0, &s), (uint64_t)-ESTALE);
	CHECK_EQ_U64(s, 77);   /* untouched on failure */
	for (uint32_t i = 1; i <= 2000; i++) {
		uint64_t full = 0;

		CHECK_LOOP(accept_seq(&r, i, &full) == 0 && full == i, fails);
	}
	CHECK_EQ_U64(fails, 0);
	CHECK_EQ_U64(replay_top(&r), 2000);
	CHECK_EQ_U64(replay_check(&r, 2000, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 1500, &s), (uint64_t)-EALREADY);
	/* Left edge: B = T - W + 1 = 977. 977 was seen; 976 is outside. */
	CHECK_EQ_U64(replay_check(&r, 977, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 976, &s), (uint64_t)-ESTALE);
	CHECK_EQ_U64(replay_check(&r, 1, &s), (uint64_t)-ESTALE);
	/* Updating a duplicate or an old number refuses and changes nothing. */
	CHECK_EQ_U64(replay_update(&r, 1999), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_update(&r, 5), (uint64_t)-ESTALE);
	CHECK_EQ_U64(replay_top(&r), 2000);
	replay_free(&r);
}

static void test_window_edges(void)
{
	struct replay r;
	uint64_t s = 0;

	replay_init(&r, 1024, false);
	/* Jump straight to 5000: 3977..4999 are inside and unseen. */
	CHECK_EQ_U64(accept_seq(&r, 5000, NULL), 0);
	CHECK_EQ_U64(replay_check(&r, 3977, &s), 0);
	CHECK_EQ_U64(s, 3977);
	CHECK_EQ_U64(replay_check(&r, 3976, &s), (uint64_t)-ESTALE);
	/* Out of order inside the window. */
	CHECK_EQ_U64(accept_seq(&r, 3977, NULL), 0);
	CHECK_EQ_U64(accept_seq(&r, 4500, NULL), 0);
	CHECK_EQ_U64(accept_seq(&r, 4999, NULL), 0);
	CHECK_EQ_U64(replay_check(&r, 4500, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 3977, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_top(&r), 5000);
	/* Slide by less than W: 5000 + 600. New left edge 4577: 4500 and 3977 fall out,
	 * 4999 and 5000 stay seen, 4577 is the edge. */
	CHECK_EQ_U64(accept_seq(&r, 5600, NULL), 0);
	CHECK_EQ_U64(replay_check(&r, 4500, &s), (uint64_t)-ESTALE);
	CHECK_EQ_U64(replay_check(&r, 4576, &s), (uint64_t)-ESTALE);
	CHECK_EQ_U64(replay_check(&r, 4577, &s), 0);
	CHECK_EQ_U64(replay_check(&r, 4999, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 5000, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 5599, &s), 0);
	/* Slide by more than the ring (2048 bits here): everything old is gone. */
	CHECK_EQ_U64(accept_seq(&r, 5600 + 3000, NULL), 0);
	CHECK_EQ_U64(replay_check(&r, 5600, &s), (uint64_t)-ESTALE);
	CHECK_EQ_U64(replay_check(&r, 8600 - 1023, &s), 0);
	CHECK_EQ_U64(replay_check(&r, 8600 - 1024, &s), (uint64_t)-ESTALE);
	/* Slot reuse: the ring has 32 words (2048 numbers); 8600 sits in word 134 = slot 6,
	 * bit 24. 10584 (word 165) leaves slot 6 alone; 10650 (word 166, slot 6 again) must
	 * clear it, so 10648 (slot 6, bit 24, inside the window) is unseen. */
	CHECK_EQ_U64(accept_seq(&r, 10584, NULL), 0);
	CHECK_EQ_U64(accept_seq(&r, 10650, NULL), 0);
	CHECK_EQ_U64(replay_check(&r, 10648, &s), 0);
	CHECK_EQ_U64(replay_check(&r, 10650, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 10584, &s), (uint64_t)-EALREADY);
	replay_free(&r);
}

/* RFC 4303 A2.2 Case A: Tl >= W - 1, window inside subspace Th. */
static void test_esn_case_a(void)
{
	struct replay r;
	uint64_t s = 0;

	replay_init(&r, 1024, true);
	CHECK_EQ_U64(replay_update(&r, SUB(5, 2000)), 0);   /* Th = 5, Tl = 2000, Bl = 977 */
	CHECK_EQ_U64(replay_check(&r, 1500, &s), 0);         /* Seql >= Bl: Seqh = Th */
	CHECK_EQ_U64(s, SUB(5, 1500));
	CHECK_EQ_U64(replay_check(&r, 2500, &s), 0);         /* right of T, same subspace */
	CHECK_EQ_U64(s, SUB(5, 2500));
	CHECK_EQ_U64(replay_check(&r, 977, &s), 0);          /* Seql = Bl: Seqh = Th */
	CHECK_EQ_U64(s, SUB(5, 977));
	CHECK_EQ_U64(replay_check(&r, 976, &s), 0);          /* Seql < Bl: Seqh = Th + 1 */
	CHECK_EQ_U64(s, SUB(6, 976));
	CHECK_EQ_U64(replay_check(&r, 100, &s), 0);
	CHECK_EQ_U64(s, SUB(6, 100));
	CHECK_EQ_U64(replay_check(&r, 2000, &s), (uint64_t)-EALREADY);
	replay_free(&r);
}

/* RFC 4303 A2.2 Case B: Tl < W - 1, window straddles subspaces Th - 1 and Th. */
static void test_esn_case_b(void)
{
	struct replay r;
	uint64_t s = 0;

	replay_init(&r, 1024, true);
	CHECK_EQ_U64(replay_update(&r, SUB(5, 100)), 0);  /* Bl = 100 - 1023 = 0xfffffc65 */
	CHECK_EQ_U64(replay_check(&r, 0xffffff00u, &s), 0);  /* Seql >= Bl: Seqh = Th - 1 */
	CHECK_EQ_U64(s, SUB(4, 0xffffff00u));
	CHECK_EQ_U64(replay_check(&r, 0xfffffc65u, &s), 0);  /* the left edge exactly */
	CHECK_EQ_U64(s, SUB(4, 0xfffffc65u));
	CHECK_EQ_U64(replay_check(&r, 0xfffffc64u, &s), 0);  /* Seql < Bl: Seqh = Th */
	CHECK_EQ_U64(s, SUB(5, 0xfffffc64u));                 /* (far right of T) */
	CHECK_EQ_U64(replay_check(&r, 50, &s), 0);            /* Seqh = Th, inside */
	CHECK_EQ_U64(s, SUB(5, 50));
	CHECK_EQ_U64(replay_check(&r, 100, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 200, &s), 0);
	CHECK_EQ_U64(s, SUB(5, 200));
	/* Accept one from the older subspace, then it is a duplicate. */
	CHECK_EQ_U64(accept_seq(&r, 0xffffff00u, NULL), 0);
	CHECK_EQ_U64(replay_check(&r, 0xffffff00u, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_top(&r), SUB(5, 100));
	replay_free(&r);

	/* Case B at the very start (T = 0, Th = 0): Seql >= Bl would be subspace -1, which
	 * was never sent: rejected. Below Bl it is subspace 0. */
	replay_init(&r, 4096, true);
	CHECK_EQ_U64(replay_check(&r, 0xffffffffu, &s), (uint64_t)-ESTALE);
	CHECK_EQ_U64(replay_check(&r, 0xfffff001u, &s), (uint64_t)-ESTALE);  /* = Bl */
	CHECK_EQ_U64(replay_check(&r, 0xfffff000u, &s), 0);
	CHECK_EQ_U64(s, SUB(0, 0xfffff000u));
	CHECK_EQ_U64(replay_check(&r, 0, &s), (uint64_t)-ESTALE);   /* 64-bit 0 */
	CHECK_EQ_U64(replay_check(&r, 1, &s), 0);
	CHECK_EQ_U64(s, 1);
	replay_free(&r);
}

/* A run across the 2^32 boundary with ESN, and the same numbers without ESN. */
static void test_esn_wrap(void)
{
	struct replay r;
	uint64_t s = 0, full = 0;

	replay_init(&r, 4096, true);
	/* From T = 0 (Case B, Bl = 0xfffff001) 0xfffff000 is subspace 0; then Case A. */
	CHECK_EQ_U64(accept_seq(&r, 0xfffff000u, &full), 0);
	CHECK_EQ_U64(full, SUB(0, 0xfffff000u));
	CHECK_EQ_U64(accept_seq(&r, 0xfffffff0u, &full), 0);
	CHECK_EQ_U64(full, SUB(0, 0xfffffff0u));
	CHECK_EQ_U64(accept_seq(&r, 0xffffffffu, &full), 0);
	CHECK_EQ_U64(full, SUB(0, 0xffffffffu));
	/* Case A (Tl = 0xffffffff >= W - 1), Seql 5 < Bl: the next subspace. */
	CHECK_EQ_U64(accept_seq(&r, 5, &full), 0);
	CHECK_EQ_U64(full, SUB(1, 5));
	CHECK_EQ_U64(replay_top(&r), SUB(1, 5));
	/* Now Case B (Tl = 5 < W - 1): late packets from subspace 0 are still in the window. */
	CHECK_EQ_U64(replay_check(&r, 0xfffffff8u, &s), 0);
	CHECK_EQ_U64(s, SUB(0, 0xfffffff8u));
	CHECK_EQ_U64(accept_seq(&r, 0xfffffff8u, NULL), 0);
	CHECK_EQ_U64(replay_check(&r, 0xfffffff8u, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 0xfffffff0u, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 0xffffffffu, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 5, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 0, &s), 0);            /* 2^32 itself: unseen */
	CHECK_EQ_U64(s, SUB(1, 0));
	CHECK_EQ_U64(replay_check(&r, 6, &s), 0);
	CHECK_EQ_U64(s, SUB(1, 6));
	/* Left edge B = 2^32 + 5 - 4095: Seql = 2^32 - 4090 is the edge, one less is out
	 * (and by A2.2 it reads as subspace Th = 1, far to the right). */
	CHECK_EQ_U64(replay_check(&r, (uint32_t)(0u - 4090u), &s), 0);
	CHECK_EQ_U64(s, SUB(0, 0u - 4090u));
	CHECK_EQ_U64(replay_check(&r, (uint32_t)(0u - 4091u), &s), 0);
	CHECK_EQ_U64(s, SUB(1, 0u - 4091u));
	replay_free(&r);

	/* Without ESN the same 5 after 0xffffffff is simply old. */
	replay_init(&r, 4096, false);
	CHECK_EQ_U64(accept_seq(&r, 0xffffffffu, &full), 0);
	CHECK_EQ_U64(full, 0xffffffffu);
	CHECK_EQ_U64(replay_check(&r, 5, &s), (uint64_t)-ESTALE);
	CHECK_EQ_U64(replay_update(&r, SUB(1, 5)), (uint64_t)-ESTALE);
	replay_free(&r);

	/* The last subspace: Seqh = Th + 1 would pass 2^64. */
	replay_init(&r, 1024, true);
	CHECK_EQ_U64(replay_update(&r, UINT64_MAX - 10), 0);
	CHECK_EQ_U64(replay_check(&r, 3, &s), (uint64_t)-ESTALE);
	CHECK_EQ_U64(replay_check(&r, 0xffffffffu, &s), 0);
	CHECK_EQ_U64(s, UINT64_MAX);
	replay_free(&r);
}

static void test_resume(void)
{
	struct replay r;
	uint64_t s = 0;

	replay_init(&r, 1024, false);
	CHECK_EQ_U64(replay_resume(&r, 127), 0);
	CHECK_EQ_U64(replay_check(&r, 127, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 100, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 128, &s), 0);
	CHECK_EQ_U64(replay_resume(&r, 200), 0);
	CHECK_EQ_U64(replay_check(&r, 200, &s), (uint64_t)-EALREADY);
	CHECK_EQ_U64(replay_check(&r, 201, &s), 0);          /* same word as 200 */
	CHECK_EQ_U64(replay_check(&r, 255, &s), 0);
	CHECK_EQ_U64(accept_seq(&r, 201, NULL), 0);
	CHECK_EQ_U64(replay_check(&r, 202, &s), 0);
	CHECK_EQ_U64(replay_resume(&r, 150), (uint64_t)-EINVAL);  /* backwards */
	CHECK_EQ_U64(replay_resume(&r, SUB(1, 0)), (uint64_t)-EINVAL);  /* no ESN */
	/* 63 is the last bit of a word. */
	CHECK_EQ_U64(replay_resume(&r, 1087), 0);
	CHECK_EQ_U64(replay_check(&r, 1088, &s), 0);
	CHECK_EQ_U64(replay_check(&r, 1087, &s), (uint64_t)-EALREADY);
	replay_free(&r);
}

/* Random arrival order (bursts, reordering, duplicates, jumps) against a naive model. */
static void test_model(uint32_t window)
{
	enum { N = 4000000 };
	uint8_t *seen = calloc(N + 1, 1);
	struct replay r;
	uint64_t top = 0;
	uint32_t next = 1, x = 12345;
	int mismatches = 0, accepted = 0, dups = 0, stale = 0;

	replay_init(&r, window, false);
	for (int i = 0; i < 300000 && next < N - 3 * window; i++) {
		uint32_t seq, pick;
		int want, got;
		uint64_t full = 0;

		x = x * 1103515245u + 12345u;
		pick = (x >> 16) % 1024;
		if (pick < 128) {
			/* reordered or replayed: up to 1.5 windows back */
			uint32_t back = (x >> 3) % (window + window / 2);

			seq = next - 1 > back ? next - 1 - back : 1;
		} else if (pick == 128) {
			/* a loss burst longer than the ring: the window starts over */
			next += window + (x >> 3) % window;
			seq = next++;
		} else if (pick <= 160) {
			next += (x >> 3) % 64;
			seq = next++;
		} else {
			seq = next++;
		}
		if (seq == 0 || seq > N)
			continue;
		if (seq > top)
			want = 0;
		else if (top - seq >= window)
			want = -ESTALE;
		else
			want = seen[seq] ? -EALREADY : 0;
		got = replay_check(&r, seq, &full);
		if (got == 0)
			got = replay_update(&r, full);
		if (got != want)
			mismatches++;
		dups += want == -EALREADY;
		stale += want == -ESTALE;
		if (want == 0) {
			seen[seq] = 1;
			if (seq > top)
				top = seq;
			accepted++;
		}
	}
	CHECK_EQ_U64(mismatches, 0);
	/* The run must have exercised every outcome. */
	CHECK(accepted > 100000);
	CHECK(dups > 1000);
	CHECK(stale > 1000);
	CHECK_EQ_U64(replay_top(&r), top);
	replay_free(&r);
	free(seen);
}

int main(void)
{
	test_init();
	test_in_order_and_duplicates();
	test_window_edges();
	test_esn_case_a();
	test_esn_case_b();
	test_esn_wrap();
	test_resume();
	test_model(1024);
	test_model(4096);
	return tap_done();
}
