/* Token bucket for log lines about things the network can cause at line rate (dropped
 * packets): a burst of lines, then at most one per interval; the lines held back are counted
 * and the next line that goes out says how many. No I/O; time is passed in. */
#ifndef MM_COMMON_RATELIMIT_H
#define MM_COMMON_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"

#define RATELIMIT_BURST 10
#define RATELIMIT_INTERVAL MM_SEC(1)

struct ratelimit {
	unsigned tokens;         /* lines that may go out now */
	mm_time_ns last;         /* when tokens were last refilled */
	uint64_t suppressed;     /* lines held back since the last one that went out */
};

/* A full bucket. */
void ratelimit_init(struct ratelimit *rl);
/* May a line go out at now? When true, *suppressed (may be NULL) gets how many were held
 * back before it (and the count restarts); when false, the line is counted as held back. */
bool ratelimit_allow(struct ratelimit *rl, mm_time_ns now, uint64_t *suppressed);

#endif
