/* Unit test of the log-line token bucket (common/ratelimit.h). */
#include "common/ratelimit.h"
#include "tests/unit/tap.h"

int main(void)
{
	struct ratelimit rl;
	uint64_t held = 99;
	unsigned allowed = 0;

	ratelimit_init(&rl);
	/* a burst of RATELIMIT_BURST lines at once, then nothing in the same interval */
	for (unsigned i = 0; i < RATELIMIT_BURST + 5; i++)
		allowed += ratelimit_allow(&rl, 0, NULL);
	CHECK_EQ_U64(allowed, RATELIMIT_BURST);
	CHECK(!ratelimit_allow(&rl, RATELIMIT_INTERVAL - 1, NULL));
	/* one interval later one line goes out and says how many were held back */
	CHECK(ratelimit_allow(&rl, RATELIMIT_INTERVAL, &held));
	CHECK_EQ_U64(held, 6);
	CHECK(!ratelimit_allow(&rl, RATELIMIT_INTERVAL, NULL));
	/* a long quiet time refills the bucket, never beyond the burst */
	allowed = 0;
	for (unsigned i = 0; i < 3 * RATELIMIT_BURST; i++)
		allowed += ratelimit_allow(&rl, 1000 * RATELIMIT_INTERVAL, &held);
	CHECK_EQ_U64(allowed, RATELIMIT_BURST);
	CHECK_EQ_U64(held, 0);
	return tap_done();
}
