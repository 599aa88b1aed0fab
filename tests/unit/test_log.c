/* Unit tests for common/log.c: exact journal lines, levels, escaping, truncation, the
 * MM_LOG_LEVEL default (in forked children, since it is read only once per process). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/unit/tap.h"

/* --- capture -------------------------------------------------------------------------- */

static FILE *cap_file;
static char cap_buf[16384];

static void cap_start(void)
{
	cap_file = tmpfile();
	if (!cap_file)
		abort();
	log_set_stream(cap_file);
}

/* Stop capturing and return everything logged since cap_start(). */
static const char *cap_end(void)
{
	size_t n;

	log_set_stream(NULL);
	rewind(cap_file);
	n = fread(cap_buf, 1, sizeof(cap_buf) - 1, cap_file);
	cap_buf[n] = '\0';
	fclose(cap_file);
	cap_file = NULL;
	return cap_buf;
}

/* --- MM_LOG_LEVEL, in fresh processes --------------------------------------------------- */

/* Run check() in a child whose logging state is untouched; true if it returned true. */
static bool in_child(bool (*check)(void))
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(check() ? 0 : 1);
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool child_default_level(void)
{
	unsetenv("MM_LOG_LEVEL");
	return log_get_level() == LOG_LEVEL_NOTICE;
}

static bool child_env_level_read_once(void)
{
	bool ok;

	setenv("MM_LOG_LEVEL", "debug", 1);
	ok = log_get_level() == LOG_LEVEL_DEBUG;
	/* Read once: a later change of the environment has no effect. */
	setenv("MM_LOG_LEVEL", "error", 1);
	return ok && log_get_level() == LOG_LEVEL_DEBUG;
}

static bool child_env_level_invalid(void)
{
	setenv("MM_LOG_LEVEL", "loud", 1);
	return log_get_level() == LOG_LEVEL_NOTICE;
}

static bool child_explicit_level_wins(void)
{
	setenv("MM_LOG_LEVEL", "debug", 1);
	log_set_level(LOG_LEVEL_ERROR);
	return log_get_level() == LOG_LEVEL_ERROR;
}

static bool child_default_format_on_file(void)
{
	/* AUTO on a regular file (not a tty) means journal lines. */
	cap_start();
	log_set_level(LOG_LEVEL_NOTICE);
	LOG_NOTICE(NULL, "auto");
	return strcmp(cap_end(), "<5>auto\n") == 0;
}

static void test_env_level(void)
{
	CHECK(in_child(child_default_level));
	CHECK(in_child(child_env_level_read_once));
	CHECK(in_child(child_env_level_invalid));
	CHECK(in_child(child_explicit_level_wins));
	CHECK(in_child(child_default_format_on_file));
}

/* --- lines ---------------------------------------------------------------------------- */

static void test_journal_lines(void)
{
	struct logger lg;

	log_set_format(LOG_FORMAT_JOURNAL);
	log_set_level(LOG_LEVEL_DEBUG);
	logger_init(&lg, "ha[binding %s]", "198.18.1.100");
	CHECK_STR(lg.prefix, "ha[binding 198.18.1.100]");

	cap_start();
	LOG_NOTICE(&lg, "hello %d", 42);
	CHECK_STR(cap_end(), "<5>ha[binding 198.18.1.100]: hello 42\n");

	cap_start();
	LOG_ERROR(&lg, "e");
	LOG_WARNING(&lg, "w");
	LOG_INFO(&lg, "i");
	LOG_DEBUG(&lg, "d");
	CHECK_STR(cap_end(), "<3>ha[binding 198.18.1.100]: e\n<4>ha[binding 198.18.1.100]: w\n"
		  "<6>ha[binding 198.18.1.100]: i\n<7>ha[binding 198.18.1.100]: d\n");

	/* No logger (or an empty prefix): no prefix and no ": ". */
	cap_start();
	LOG_NOTICE(NULL, "plain %s", "text");
	logger_init(&lg, "%s", "");
	LOG_NOTICE(&lg, "empty prefix");
	CHECK_STR(cap_end(), "<5>plain text\n<5>empty prefix\n");
}

static void vlog_helper(const struct logger *lg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void vlog_helper(const struct logger *lg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lg, LOG_LEVEL_WARNING, fmt, ap);
	va_end(ap);
}

static void test_vmsg(void)
{
	struct logger lg;

	log_set_format(LOG_FORMAT_JOURNAL);
	log_set_level(LOG_LEVEL_NOTICE);
	logger_init(&lg, "mnd");
	cap_start();
	vlog_helper(&lg, "%s=%u", "x", 7u);
	CHECK_STR(cap_end(), "<4>mnd: x=7\n");
}

static void test_errno(void)
{
	log_set_format(LOG_FORMAT_AUTO);
	log_set_level(LOG_LEVEL_NOTICE);
	cap_start();
	errno = ENOENT;
	LOG_ERROR(NULL, "open: %m");
	/* Logging (isatty() on the way) leaves errno alone. */
	CHECK_EQ_U64(errno, ENOENT);
	LOG_DEBUG(NULL, "filtered");
	CHECK_EQ_U64(errno, ENOENT);
	CHECK_STR(cap_end(), "<3>open: No such file or directory\n");
	log_set_format(LOG_FORMAT_JOURNAL);
}

static void test_level_filter(void)
{
	log_set_format(LOG_FORMAT_JOURNAL);
	log_set_level(LOG_LEVEL_WARNING);
	CHECK_EQ_U64(log_get_level(), LOG_LEVEL_WARNING);
	CHECK(log_enabled(LOG_LEVEL_ERROR));
	CHECK(log_enabled(LOG_LEVEL_WARNING));
	CHECK(!log_enabled(LOG_LEVEL_NOTICE));

	cap_start();
	LOG_DEBUG(NULL, "no");
	LOG_INFO(NULL, "no");
	LOG_NOTICE(NULL, "no");
	LOG_WARNING(NULL, "yes");
	LOG_ERROR(NULL, "yes");
	CHECK_STR(cap_end(), "<4>yes\n<3>yes\n");

	log_set_level(LOG_LEVEL_ERROR);
	cap_start();
	LOG_WARNING(NULL, "no");
	CHECK_STR(cap_end(), "");

	log_set_level(LOG_LEVEL_DEBUG);
	cap_start();
	LOG_DEBUG(NULL, "dbg");
	/* Out-of-range levels are clamped, never printed as a bogus priority. */
	log_msg(NULL, (enum log_level)9, "low");
	log_msg(NULL, (enum log_level)0, "high");
	CHECK_STR(cap_end(), "<7>dbg\n<7>low\n<3>high\n");
	/* An invalid level setting is ignored. */
	log_set_level((enum log_level)99);
	CHECK_EQ_U64(log_get_level(), LOG_LEVEL_DEBUG);
	log_set_level(LOG_LEVEL_NOTICE);
}

static void test_escaping(void)
{
	struct logger lg;

	log_set_format(LOG_FORMAT_JOURNAL);
	log_set_level(LOG_LEVEL_NOTICE);

	/* A peer-supplied string cannot start a new line or smuggle raw bytes. */
	cap_start();
	LOG_NOTICE(NULL, "nai %s", "evil\n<3>forged: line");
	LOG_NOTICE(NULL, "bytes %s|", "\xff\x7f\t\r\x01\x80 ok\\");
	CHECK_STR(cap_end(), "<5>nai evil\\x0a<3>forged: line\n"
		  "<5>bytes \\xff\\x7f\\x09\\x0d\\x01\\x80 ok\\|\n");

	/* The prefix is escaped too (it may carry an NAI). */
	logger_init(&lg, "ha[%s]", "a\nb");
	cap_start();
	LOG_NOTICE(&lg, "m");
	CHECK_STR(cap_end(), "<5>ha[a\\x0ab]: m\n");
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void test_truncation(void)
{
	static char big[5000];
	const char *out;

	log_set_format(LOG_FORMAT_JOURNAL);
	log_set_level(LOG_LEVEL_NOTICE);

	/* 1023 characters of text fit exactly. */
	memset(big, 'x', 1023);
	big[1023] = '\0';
	cap_start();
	LOG_NOTICE(NULL, "%s", big);
	out = cap_end();
	CHECK_EQ_U64(strlen(out), 3 + 1023 + 1);
	CHECK(!ends_with(out, "...\n"));

	/* One more and the line is cut with a marker. */
	big[1023] = 'x';
	big[1024] = '\0';
	cap_start();
	LOG_NOTICE(NULL, "%s", big);
	out = cap_end();
	CHECK_EQ_U64(strlen(out), 3 + 1023 + 3 + 1);
	CHECK(ends_with(out, "x...\n"));

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cap_start();
	LOG_NOTICE(NULL, "%s", big);
	out = cap_end();
	CHECK(ends_with(out, "y...\n"));
	CHECK_EQ_U64(count_char(out, '\n'), 1);
	CHECK(strlen(out) < 1100);

	/* All bytes escaped: the line grows fourfold but stays one bounded line. */
	memset(big, 0x01, sizeof(big) - 1);
	cap_start();
	LOG_NOTICE(NULL, "%s", big);
	out = cap_end();
	CHECK(ends_with(out, "\\x01...\n"));
	CHECK_EQ_U64(strlen(out), 3 + 4 * 1023 + 3 + 1);
	CHECK_EQ_U64(count_char(out, '\n'), 1);
}

static bool is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static void test_human_format(void)
{
	struct logger lg;
	const char *out;

	log_set_format(LOG_FORMAT_HUMAN);
	log_set_level(LOG_LEVEL_NOTICE);
	logger_init(&lg, "vpngw");
	cap_start();
	LOG_WARNING(&lg, "hi");
	out = cap_end();
	/* YYYY-MM-DDTHH:MM:SS.mmmZ WARNING vpngw: hi */
	CHECK_EQ_U64(strlen(out), 24 + 1 + strlen("WARNING vpngw: hi\n"));
	CHECK(is_digits(out, 4) && out[4] == '-' && is_digits(out + 5, 2) && out[7] == '-');
	CHECK(is_digits(out + 8, 2) && out[10] == 'T' && is_digits(out + 11, 2));
	CHECK(out[13] == ':' && is_digits(out + 14, 2) && out[16] == ':');
	CHECK(is_digits(out + 17, 2) && out[19] == '.' && is_digits(out + 20, 3));
	CHECK(out[23] == 'Z' && out[24] == ' ');
	CHECK_STR(out + 25, "WARNING vpngw: hi\n");
	log_set_format(LOG_FORMAT_JOURNAL);
}

static void test_level_strings(void)
{
	static const char *const names[] = { "error", "warning", "notice", "info", "debug" };
	enum log_level l;

	for (int i = 0; i < 5; i++) {
		l = LOG_LEVEL_DEBUG + 1;
		CHECK(log_level_from_string(names[i], &l) == 0);
		CHECK_EQ_U64(l, LOG_LEVEL_ERROR + i);
	}
	CHECK(log_level_from_string("WARNING", &l) == 0);
	CHECK_EQ_U64(l, LOG_LEVEL_WARNING);
	l = LOG_LEVEL_INFO;
	CHECK(log_level_from_string("warn", &l) == -EINVAL);
	CHECK(log_level_from_string("", &l) == -EINVAL);
	CHECK(log_level_from_string("debug ", &l) == -EINVAL);
	CHECK(log_level_from_string(NULL, &l) == -EINVAL);
	CHECK_EQ_U64(l, LOG_LEVEL_INFO);

	CHECK_STR(log_level_name(LOG_LEVEL_ERROR), "ERROR");
	CHECK_STR(log_level_name(LOG_LEVEL_WARNING), "WARNING");
	CHECK_STR(log_level_name(LOG_LEVEL_NOTICE), "NOTICE");
	CHECK_STR(log_level_name(LOG_LEVEL_INFO), "INFO");
	CHECK_STR(log_level_name(LOG_LEVEL_DEBUG), "DEBUG");
	CHECK_STR(log_level_name((enum log_level)42), "UNKNOWN");
}

static void test_logger_init_truncates(void)
{
	struct logger lg;
	char longname[300];

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	logger_init(&lg, "ike[%s]", longname);
	CHECK_EQ_U64(strlen(lg.prefix), sizeof(lg.prefix) - 1);
	CHECK(strncmp(lg.prefix, "ike[nnn", 7) == 0);
}

static void test_sanitize(void)
{
	char dst[64];

	CHECK_STR(log_sanitize(dst, sizeof(dst), "ab\ncd\xff", 6), "ab\\x0acd\\xff");
	/* Embedded NUL bytes are data too. */
	CHECK_STR(log_sanitize(dst, sizeof(dst), "a\0b", 3), "a\\x00b");
	CHECK_STR(log_sanitize(dst, sizeof(dst), NULL, 0), "");
	CHECK_STR(log_sanitize(dst, sizeof(dst), "x", 0), "");
	/* Never half an escape: "a" fits, "\x0a" does not. */
	CHECK_STR(log_sanitize(dst, 4, "a\nb", 3), "a");
	CHECK_STR(log_sanitize(dst, 6, "a\nb", 3), "a\\x0a");
	CHECK_STR(log_sanitize(dst, 3, "abcdef", 6), "ab");
	CHECK_STR(log_sanitize(dst, 1, "abc", 3), "");
	CHECK(log_sanitize(dst, sizeof(dst), "q", 1) == dst);
	/* No room even for the NUL: nothing is written. */
	dst[0] = 'Z';
	CHECK(log_sanitize(dst, 0, "abc", 3) == dst);
	CHECK_EQ_U64(dst[0], 'Z');
}

int main(void)
{
	/* Before anything in this process reads the level. */
	test_env_level();
	test_journal_lines();
	test_vmsg();
	test_errno();
	test_level_filter();
	test_escaping();
	test_truncation();
	test_human_format();
	test_level_strings();
	test_logger_init_truncates();
	test_sanitize();
	return tap_done();
}
