/* Token bucket for log lines. See ratelimit.h. */
#include "common/ratelimit.h"

#include <string.h>

void ratelimit_init(struct ratelimit *rl)
{
	memset(rl, 0, sizeof(*rl));
	rl->tokens = RATELIMIT_BURST;
}

bool ratelimit_allow(struct ratelimit *rl, mm_time_ns now, uint64_t *suppressed)
{
	if (now >= rl->last + RATELIMIT_INTERVAL) {
		mm_time_ns add = (now - rl->last) / RATELIMIT_INTERVAL;
		mm_time_ns sum = rl->tokens + add;

		rl->tokens = add >= RATELIMIT_BURST || sum >= RATELIMIT_BURST ? RATELIMIT_BURST
									      : (unsigned)sum;
		rl->last += add * RATELIMIT_INTERVAL;
	}
	if (rl->tokens == 0) {
		rl->suppressed++;
		return false;
	}
	rl->tokens--;
	if (suppressed)
		*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}
