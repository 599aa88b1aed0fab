/* Injectable monotonic clock: the real one and a fake one for tests. */
#include "common/clock.h"

#include <stddef.h>
#include <time.h>

static mm_time_ns timespec_to_ns(const struct timespec *ts)
{
	return (mm_time_ns)ts->tv_sec * UINT64_C(1000000000) + (mm_time_ns)ts->tv_nsec;
}

static mm_time_ns read_clock(clockid_t id)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC and CLOCK_REALTIME cannot fail on Linux with a valid pointer; if they
	 * somehow did, 0 is a safe "beginning of time" rather than an uninitialised value. */
	if (clock_gettime(id, &ts) != 0)
		return 0;
	return timespec_to_ns(&ts);
}

static mm_time_ns monotonic_now(const struct clock *c)
{
	(void)c;
	return read_clock(CLOCK_MONOTONIC);
}

static const struct clock monotonic_clock = {
	.now = monotonic_now,
	.ctx = NULL,
};

const struct clock *clock_monotonic(void)
{
	return &monotonic_clock;
}

mm_time_ns clock_realtime_ns(void)
{
	return read_clock(CLOCK_REALTIME);
}

static mm_time_ns fake_now(const struct clock *c)
{
	/* base is the first member of struct fake_clock, so the two addresses coincide. */
	const struct fake_clock *fc = (const struct fake_clock *)(const void *)c;

	return fc->now_ns;
}

void fake_clock_init(struct fake_clock *fc, mm_time_ns start)
{
	fc->base.now = fake_now;
	fc->base.ctx = fc;
	fc->now_ns = start;
}

void fake_clock_advance(struct fake_clock *fc, mm_time_ns delta)
{
	/* A test that advances "forever" must not wrap time back to the past. */
	if (delta > UINT64_MAX - fc->now_ns)
		fc->now_ns = UINT64_MAX;
	else
		fc->now_ns += delta;
}
