/* Injectable monotonic clock.
 *
 * Protocol engines never call clock_gettime() themselves: they are handed a struct clock and
 * ask it for the time, so a test can drive timers (retransmissions, lifetimes, DPD) with a
 * struct fake_clock instead of sleeping. Time is mm_time_ns: nanoseconds on CLOCK_MONOTONIC,
 * which never jumps when the wall clock is set. Only log timestamps (and MIPv4
 * identification timestamps) read the real-time clock, through clock_realtime_ns().
 */
#ifndef MM_COMMON_CLOCK_H
#define MM_COMMON_CLOCK_H

#include <stdint.h>

typedef uint64_t mm_time_ns;

/* Unit conversions to mm_time_ns. The argument is converted first, so MM_SEC(30) cannot
 * overflow an int on the way. */
#define MM_USEC(x) ((mm_time_ns)(x) * UINT64_C(1000))
#define MM_MSEC(x) ((mm_time_ns)(x) * UINT64_C(1000000))
#define MM_SEC(x)  ((mm_time_ns)(x) * UINT64_C(1000000000))

struct clock {
	mm_time_ns (*now)(const struct clock *c);
	void *ctx;              /* for the implementation; unused by the built-in clocks */
};

/* The process-wide CLOCK_MONOTONIC clock (a static object: never freed). */
const struct clock *clock_monotonic(void);

/* A clock that only moves when told to. Pass &fc.base wherever a struct clock is wanted. */
struct fake_clock {
	struct clock base;      /* must stay the first member */
	mm_time_ns now_ns;
};

void fake_clock_init(struct fake_clock *fc, mm_time_ns start);
/* Move the fake clock forward; saturates instead of wrapping around. */
void fake_clock_advance(struct fake_clock *fc, mm_time_ns delta);

static inline mm_time_ns clock_now(const struct clock *c) { return c->now(c); }

/* Wall-clock time (CLOCK_REALTIME) in ns since the Unix epoch. For log timestamps only:
 * it can jump backwards, so never use it for timers. */
mm_time_ns clock_realtime_ns(void);

#endif
