/* Unit tests for daemon/droplog.{h,c}: the rate-limited drop lines of the data paths. */
#include <string.h>

#include "daemon/droplog.h"
#include "daemon/test_capture.h"
#include "tests/unit/tap.h"

struct fake_dp {
	struct logger log;
	struct ratelimit drop_rl;
	struct {
		uint64_t log_suppressed;
	} st;
};

/* The way the data paths call it (espdp.c, ha/datapath.c). */
#define drop_log(dp, now, ...) droplog(&(dp)->drop_rl, &(dp)->st.log_suppressed, &(dp)->log, \
				       (now), "dropped: ", __VA_ARGS__)

int main(void)
{
	struct fake_dp dp;
	char long_text[400];
	const char *text;

	memset(&dp, 0, sizeof(dp));
	logger_init(&dp.log, "test[data]");
	ratelimit_init(&dp.drop_rl);

	/* A line: warning level, the logger's prefix, our prefix, the formatted text. */
	capture_start();
	drop_log(&dp, 0, "packet to %s: %s", "198.18.1.1", "no binding");
	text = capture_end();
	CHECK_STR(text, "<4>test[data]: dropped: packet to 198.18.1.1: no binding\n");

	/* The rest of the burst goes out; then lines are held back and counted. */
	capture_start();
	for (unsigned i = 1; i < RATELIMIT_BURST + 3; i++)
		drop_log(&dp, 0, "line %u", i);
	text = capture_end();
	CHECK_EQ_U64(capture_lines(text), RATELIMIT_BURST - 1);
	CHECK_EQ_U64(dp.st.log_suppressed, 3);

	/* An interval later, the next line says how many were held back since the last one. */
	capture_start();
	drop_log(&dp, RATELIMIT_INTERVAL, "after %d", 1);
	text = capture_end();
	CHECK_STR(text, "<4>test[data]: dropped: after 1 (3 similar lines suppressed)\n");
	CHECK_EQ_U64(dp.st.log_suppressed, 3);      /* the statistic keeps counting up */

	/* fmt's text is cut at DROPLOG_MAX - 1 bytes (the prefix not counted). */
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	ratelimit_init(&dp.drop_rl);
	capture_start();
	droplog(&dp.drop_rl, &dp.st.log_suppressed, &dp.log, 0, "", "%s", long_text);
	text = capture_end();
	CHECK_EQ_U64(strlen(text), strlen("<4>test[data]: ") + DROPLOG_MAX - 1 + 1);
	capture_free();
	return tap_done();
}
