/* Unit tests for common/clock.c: the fake clock and the real monotonic clock. */
#include <time.h>

#include "common/clock.h"
#include "tests/unit/tap.h"

static void test_units(void)
{
	CHECK_EQ_U64(MM_USEC(1), 1000);
	CHECK_EQ_U64(MM_MSEC(1), 1000000);
	CHECK_EQ_U64(MM_SEC(1), 1000000000);
	CHECK_EQ_U64(MM_SEC(30), 30000000000ull);   /* no int overflow on the way */
	CHECK_EQ_U64(MM_MSEC(1500), MM_SEC(1) + MM_MSEC(500));
	CHECK_EQ_U64(MM_SEC(86400 * 365), 31536000000000000ull);
}

static void test_fake_clock(void)
{
	struct fake_clock a, b, copy;
	const struct clock *c;

	fake_clock_init(&a, MM_SEC(100));
	fake_clock_init(&b, 0);
	c = &a.base;
	CHECK_EQ_U64(clock_now(c), MM_SEC(100));
	CHECK_EQ_U64(clock_now(c), MM_SEC(100));     /* does not move by itself */
	fake_clock_advance(&a, MM_MSEC(250));
	CHECK_EQ_U64(clock_now(c), MM_SEC(100) + MM_MSEC(250));
	fake_clock_advance(&a, 0);
	CHECK_EQ_U64(clock_now(c), MM_SEC(100) + MM_MSEC(250));
	CHECK_EQ_U64(clock_now(&b.base), 0);          /* clocks are independent */

	/* A copied fake clock reads its own time, not the original's. */
	copy = a;
	fake_clock_advance(&copy, MM_SEC(1));
	CHECK_EQ_U64(clock_now(&copy.base), MM_SEC(101) + MM_MSEC(250));
	CHECK_EQ_U64(clock_now(c), MM_SEC(100) + MM_MSEC(250));

	/* Advancing past the end of time saturates rather than wrapping to the past. */
	fake_clock_advance(&b, UINT64_MAX - 5);
	CHECK_EQ_U64(clock_now(&b.base), UINT64_MAX - 5);
	fake_clock_advance(&b, 10);
	CHECK_EQ_U64(clock_now(&b.base), UINT64_MAX);
	fake_clock_advance(&b, UINT64_MAX);
	CHECK_EQ_U64(clock_now(&b.base), UINT64_MAX);
}

static void test_monotonic(void)
{
	const struct clock *c = clock_monotonic();
	struct timespec pause = { .tv_sec = 0, .tv_nsec = 2000000 };
	mm_time_ns prev, t0, t1;
	int backwards = 0;

	CHECK(c != NULL);
	CHECK(c == clock_monotonic());
	prev = clock_now(c);
	CHECK(prev > 0);
	for (int i = 0; i < 100000; i++) {
		mm_time_ns now = clock_now(c);

		CHECK_LOOP(now >= prev, backwards);
		prev = now;
	}
	CHECK_EQ_U64(backwards, 0);

	t0 = clock_now(c);
	nanosleep(&pause, NULL);
	t1 = clock_now(c);
	CHECK(t1 - t0 >= MM_MSEC(2));
	CHECK(t1 - t0 < MM_SEC(10));
}

static void test_realtime(void)
{
	mm_time_ns now = clock_realtime_ns();

	/* After 2020-01-01T00:00:00Z and roughly in line with time(). */
	CHECK(now > MM_SEC(1577836800));
	CHECK(now / MM_SEC(1) + 5 > (mm_time_ns)time(NULL));
	CHECK(now / MM_SEC(1) < (mm_time_ns)time(NULL) + 5);
}

int main(void)
{
	test_units();
	test_fake_clock();
	test_monotonic();
	test_realtime();
	return tap_done();
}
