/* Minimal TAP (Test Anything Protocol) harness for unit tests; meson runs them with
 * protocol 'tap', so each CHECK is one reported assertion and any failure fails the test. */
#ifndef MM_TESTS_TAP_H
#define MM_TESTS_TAP_H

#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <inttypes.h>

static int tap_count;
static int tap_failed;

#define CHECK(cond) tap_check_((cond), #cond, __FILE__, __LINE__)
#define CHECK_EQ_U64(a, b) tap_check_eq_u64_((uint64_t)(a), (uint64_t)(b), #a " == " #b, __FILE__, __LINE__)
#define CHECK_STR(a, b) tap_check_str_((a), (b), #a " == " #b, __FILE__, __LINE__)
#define CHECK_MEM(a, b, n) tap_check_((memcmp((a), (b), (n)) == 0), "memcmp(" #a ", " #b ") == 0", __FILE__, __LINE__)

static inline int tap_check_(int ok, const char *what, const char *file, int line)
{
	tap_count++;
	if (ok) {
		printf("ok %d - %s\n", tap_count, what);
	} else {
		tap_failed++;
		printf("not ok %d - %s (%s:%d)\n", tap_count, what, file, line);
	}
	return ok;
}

static inline int tap_check_eq_u64_(uint64_t a, uint64_t b, const char *what, const char *file, int line)
{
	if (a != b)
		printf("# got %" PRIu64 " (0x%" PRIx64 "), expected %" PRIu64 " (0x%" PRIx64 ")\n", a, a, b, b);
	return tap_check_(a == b, what, file, line);
}

static inline int tap_check_str_(const char *a, const char *b, const char *what, const char *file, int line)
{
	int ok = a && b && strcmp(a, b) == 0;
	if (!ok)
		printf("# got \"%s\", expected \"%s\"\n", a ? a : "(null)", b ? b : "(null)");
	return tap_check_(ok, what, file, line);
}

/* Checks inside tight loops (truncation, bit flips) would print thousands of lines;
 * count them and report once. */
#define CHECK_LOOP(cond, failures) do { if (!(cond)) (failures)++; } while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failed)
		printf("# %d of %d checks failed\n", tap_failed, tap_count);
	return tap_failed ? 1 : 0;
}

#endif
