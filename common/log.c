/* Logging: one escaped line per event (see log.h).
 *
 * Settings are process-wide plain variables: the daemons set them once at start-up, before
 * any other thread could log.
 */
#include "common/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

/* Longest "prefix: message" text kept before escaping; longer text ends in "...". */
#define LOG_TEXT_MAX 1024
/* "YYYY-MM-DDTHH:MM:SS.mmmZ WARNING " is the longest line header. */
#define LOG_HEADER_MAX 48
#define LOG_TRUNC_MARK "..."
/* Escaping turns one byte into at most four ("\xNN"). */
#define LOG_LINE_MAX (LOG_HEADER_MAX + 4 * LOG_TEXT_MAX + sizeof(LOG_TRUNC_MARK) + 1)

static enum log_level cur_level = LOG_LEVEL_NOTICE;
static bool level_resolved;     /* set once MM_LOG_LEVEL was read or a level was set */
static enum log_format cur_format = LOG_FORMAT_AUTO;
static FILE *cur_stream;        /* NULL: stderr */

/* isatty() is a system call: remember the answer for the stream it was asked about. */
static FILE *tty_checked_stream;
static bool tty_checked_result;

/* --- settings ------------------------------------------------------------------------- */

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "ERROR",
	[LOG_LEVEL_WARNING] = "WARNING",
	[LOG_LEVEL_NOTICE] = "NOTICE",
	[LOG_LEVEL_INFO] = "INFO",
	[LOG_LEVEL_DEBUG] = "DEBUG",
};

static bool level_valid(int level)
{
	return level >= LOG_LEVEL_ERROR && level <= LOG_LEVEL_DEBUG;
}

const char *log_level_name(enum log_level level)
{
	if (!level_valid((int)level))
		return "UNKNOWN";
	return level_names[level];
}

int log_level_from_string(const char *s, enum log_level *out)
{
	if (!s)
		return -EINVAL;
	for (int l = LOG_LEVEL_ERROR; l <= LOG_LEVEL_DEBUG; l++) {
		if (strcasecmp(s, level_names[l]) == 0) {
			*out = (enum log_level)l;
			return 0;
		}
	}
	return -EINVAL;
}

void log_set_level(enum log_level max_level)
{
	/* An explicit setting (e.g. a command-line option) wins over MM_LOG_LEVEL. */
	if (level_valid((int)max_level))
		cur_level = max_level;
	level_resolved = true;
}

enum log_level log_get_level(void)
{
	/* Read lazily so that tests and daemons need no init call; an unknown value is ignored
	 * rather than fatal, since logging must work before options are parsed. */
	if (!level_resolved) {
		const char *env = getenv("MM_LOG_LEVEL");
		enum log_level l;

		if (env && log_level_from_string(env, &l) == 0)
			cur_level = l;
		level_resolved = true;
	}
	return cur_level;
}

void log_set_format(enum log_format fmt)
{
	if (fmt == LOG_FORMAT_AUTO || fmt == LOG_FORMAT_JOURNAL || fmt == LOG_FORMAT_HUMAN)
		cur_format = fmt;
}

void log_set_stream(FILE *stream)
{
	cur_stream = stream;
}

static FILE *log_stream(void)
{
	return cur_stream ? cur_stream : stderr;
}

static bool stream_is_tty(FILE *stream)
{
	if (stream != tty_checked_stream) {
		int fd = fileno(stream);

		tty_checked_result = fd >= 0 && isatty(fd);
		tty_checked_stream = stream;
	}
	return tty_checked_result;
}

static enum log_format effective_format(FILE *stream)
{
	if (cur_format != LOG_FORMAT_AUTO)
		return cur_format;
	return stream_is_tty(stream) ? LOG_FORMAT_HUMAN : LOG_FORMAT_JOURNAL;
}

/* --- escaping ------------------------------------------------------------------------- */

static bool byte_printable(uint8_t c)
{
	return c >= 0x20 && c < 0x7f;
}

/* Escape src[0, n) into dst[0, room) without ever splitting an escape sequence; stops at
 * the first byte that does not fit. Returns the number of bytes written (no NUL). */
static size_t escape_bytes(char *dst, size_t room, const uint8_t *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = src[i];

		if (byte_printable(c)) {
			if (room - out < 1)
				break;
			dst[out++] = (char)c;
		} else {
			if (room - out < 4)
				break;
			dst[out++] = '\\';
			dst[out++] = 'x';
			dst[out++] = hex[c >> 4];
			dst[out++] = hex[c & 0xf];
		}
	}
	return out;
}

char *log_sanitize(char *dst, size_t dst_size, const void *src, size_t n)
{
	size_t len;

	if (!dst || dst_size == 0)
		return dst;
	if (!src)
		n = 0;
	/* Keep one byte for the NUL. */
	len = escape_bytes(dst, dst_size - 1, src, n);
	dst[len] = '\0';
	return dst;
}

/* --- lines ---------------------------------------------------------------------------- */

static size_t format_timestamp(char *dst, size_t room)
{
	mm_time_ns now = clock_realtime_ns();
	time_t secs = (time_t)(now / MM_SEC(1));
	unsigned int msecs = (unsigned int)(now % MM_SEC(1) / MM_MSEC(1));
	struct tm tm;
	int n;

	if (!gmtime_r(&secs, &tm))
		memset(&tm, 0, sizeof(tm));
	n = snprintf(dst, room, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		     tm.tm_hour, tm.tm_min, tm.tm_sec, msecs);
	return n < 0 ? 0 : ((size_t)n < room ? (size_t)n : room - 1);
}

/* "<N>" or "timestamp LEVEL ". */
static size_t format_header(char *dst, size_t room, enum log_format fmt, enum log_level level)
{
	size_t len;
	int n;

	if (fmt == LOG_FORMAT_HUMAN) {
		len = format_timestamp(dst, room);
		n = snprintf(dst + len, room - len, "%s ", log_level_name(level));
	} else {
		len = 0;
		n = snprintf(dst, room, "<%d>", (int)level);
	}
	if (n > 0)
		len += (size_t)n < room - len ? (size_t)n : room - len - 1;
	return len;
}

/* Format "prefix: message" into text[LOG_TEXT_MAX]; returns its length and whether it was
 * cut short. */
__attribute__((format(printf, 3, 0)))
static size_t format_text(char *text, const struct logger *lg, const char *fmt, va_list ap,
			  bool *truncated)
{
	size_t len = 0;
	int n;

	*truncated = false;
	if (lg && lg->prefix[0]) {
		n = snprintf(text, LOG_TEXT_MAX, "%.*s: ", (int)sizeof(lg->prefix), lg->prefix);
		len = n < 0 ? 0 : (size_t)n;
	}
	n = vsnprintf(text + len, LOG_TEXT_MAX - len, fmt, ap);
	if (n < 0) {
		/* An encoding error: still say that something was logged. */
		n = snprintf(text + len, LOG_TEXT_MAX - len, "(unformattable log message)");
		if (n < 0)
			n = 0;
	}
	if ((size_t)n >= LOG_TEXT_MAX - len) {
		*truncated = true;
		return LOG_TEXT_MAX - 1;
	}
	return len + (size_t)n;
}

void log_vmsg(const struct logger *lg, enum log_level level, const char *fmt, va_list ap)
{
	char text[LOG_TEXT_MAX];
	char line[LOG_LINE_MAX];
	FILE *stream;
	size_t text_len, len;
	bool truncated;
	int saved_errno = errno;

	if (!level_valid((int)level))
		level = level < LOG_LEVEL_ERROR ? LOG_LEVEL_ERROR : LOG_LEVEL_DEBUG;
	if (level > log_get_level())
		return;
	stream = log_stream();
	text_len = format_text(text, lg, fmt, ap, &truncated);

	len = format_header(line, LOG_HEADER_MAX, effective_format(stream), level);
	/* LOG_LINE_MAX has room for all of the escaped text; the bound only makes sure the
	 * marker and the newline always fit. */
	len += escape_bytes(line + len, sizeof(line) - len - sizeof(LOG_TRUNC_MARK),
			    (const uint8_t *)text, text_len);
	if (truncated) {
		memcpy(line + len, LOG_TRUNC_MARK, sizeof(LOG_TRUNC_MARK) - 1);
		len += sizeof(LOG_TRUNC_MARK) - 1;
	}
	line[len++] = '\n';

	/* One write per line: with an unbuffered or line-buffered stream shared by several
	 * processes (journald's stderr pipe), lines then never interleave. */
	fwrite(line, 1, len, stream);
	fflush(stream);
	/* "LOG_ERROR(...); return -errno;" must see the caller's errno, not isatty()'s. */
	errno = saved_errno;
}

void log_msg(const struct logger *lg, enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lg, level, fmt, ap);
	va_end(ap);
}

void logger_init(struct logger *lg, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(lg->prefix, sizeof(lg->prefix), fmt, ap);
	va_end(ap);
	/* vsnprintf already truncates and NUL-terminates; only an encoding error is left. */
	if (n < 0)
		lg->prefix[0] = '\0';
}
