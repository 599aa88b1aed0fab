/* A warning line about a packet the network made us drop, rate-limited (common/ratelimit.h)
 * so that a flood of bad packets cannot flood the log: a burst of lines, then at most one
 * per interval; the line that goes out after some were held back ends in "(N similar lines
 * suppressed)". Used by the data paths (daemon/espdp.c, ha/datapath.c, RFC 3519 3.3: "not
 * excessive"), each with its own limiter and counter, typically through a one-line macro:
 *
 *	#define drop_log(dp, now, ...) droplog(&(dp)->drop_rl, &(dp)->st.log_suppressed, \
 *					       &(dp)->log, (now), "", __VA_ARGS__)
 */
#ifndef MM_DAEMON_DROPLOG_H
#define MM_DAEMON_DROPLOG_H

#include <stdint.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/ratelimit.h"

/* The text is prefix followed by fmt's, cut at DROPLOG_MAX - 1 bytes of fmt's; a line held
 * back adds one to *suppressed. */
#define DROPLOG_MAX 256
void droplog(struct ratelimit *rl, uint64_t *suppressed, const struct logger *log,
	     mm_time_ns now, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

#endif
