/* Logging for daemons and engines.
 *
 * One line per event on stderr. When stderr is not a terminal (systemd journal, a pipe to
 * syslog, a test harness) every line starts with the sd-daemon "<N>" priority prefix that
 * journald and syslog understand; on a terminal the line has a timestamp and a level word
 * instead. Every line carries the logger's prefix, e.g. "ha[binding 198.18.1.100]: ...".
 *
 * Text that came from the network (NAIs, identities) must go through log_sanitize() or the
 * %s of a LOG call will print it with control characters escaped anyway: log lines are
 * escaped as a whole, so a peer cannot forge lines.
 */
#ifndef MM_COMMON_LOG_H
#define MM_COMMON_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

enum log_level {
	LOG_LEVEL_ERROR = 3,   /* syslog LOG_ERR: something failed and was not done */
	LOG_LEVEL_WARNING = 4, /* syslog LOG_WARNING: dropped bad input, degraded behaviour */
	LOG_LEVEL_NOTICE = 5,  /* syslog LOG_NOTICE: state changes an operator wants to see */
	LOG_LEVEL_INFO = 6,    /* syslog LOG_INFO */
	LOG_LEVEL_DEBUG = 7,   /* syslog LOG_DEBUG */
};

enum log_format {
	LOG_FORMAT_AUTO = 0,   /* journal style unless stderr is a tty */
	LOG_FORMAT_JOURNAL,    /* "<N>prefix: message" */
	LOG_FORMAT_HUMAN,      /* "2026-11-23T00:00:00.000Z NOTICE prefix: message" */
};

/* A logger is a prefix; objects embed one and name themselves with it. */
struct logger {
	char prefix[96];
};

/* Global settings (process-wide; the daemons set them once at start-up). */
void log_set_level(enum log_level max_level);
enum log_level log_get_level(void);
void log_set_format(enum log_format fmt);
/* Redirect output (tests capture lines this way); NULL restores stderr. */
void log_set_stream(FILE *stream);
/* Parse "error", "warning", "notice", "info", "debug"; returns 0 or -EINVAL. */
int log_level_from_string(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

/* logger_init(&lg, "ha[binding %s]", addr). Truncated safely if too long. */
void logger_init(struct logger *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void log_msg(const struct logger *lg, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(const struct logger *lg, enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Cheap check before building expensive debug output. */
static inline int log_enabled(enum log_level level) { return level <= log_get_level(); }

#define LOG_ERROR(lg, ...)   log_msg((lg), LOG_LEVEL_ERROR, __VA_ARGS__)
#define LOG_WARNING(lg, ...) log_msg((lg), LOG_LEVEL_WARNING, __VA_ARGS__)
#define LOG_NOTICE(lg, ...)  log_msg((lg), LOG_LEVEL_NOTICE, __VA_ARGS__)
#define LOG_INFO(lg, ...)    log_msg((lg), LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(lg, ...)   do { if (log_enabled(LOG_LEVEL_DEBUG)) log_msg((lg), LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)

/* Copy untrusted bytes into dst as printable text: printable ASCII is kept, everything else
 * becomes \xNN. Always NUL-terminates (dst_size >= 1); returns dst. */
char *log_sanitize(char *dst, size_t dst_size, const void *src, size_t n);

#endif
