/* Rate-limited drop lines. See droplog.h. */
#include "daemon/droplog.h"

#include <stdarg.h>
#include <stdio.h>

void droplog(struct ratelimit *rl, uint64_t *suppressed, const struct logger *log,
	     mm_time_ns now, const char *prefix, const char *fmt, ...)
{
	char why[DROPLOG_MAX];
	uint64_t held = 0;
	va_list ap;

	if (!ratelimit_allow(rl, now, &held)) {
		(*suppressed)++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (held)
		LOG_WARNING(log, "%s%s (%llu similar lines suppressed)", prefix, why,
			    (unsigned long long)held);
	else
		LOG_WARNING(log, "%s%s", prefix, why);
}
