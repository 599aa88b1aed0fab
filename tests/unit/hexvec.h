/* Test vectors written as hex in the source (as the RFCs print them): hex string -> bytes.
 * Spaces are ignored; anything else that is not a hex digit, an odd digit count or a vector
 * longer than the buffer is a broken test, which bails out (TAP "Bail out!"). */
#ifndef MM_TESTS_HEXVEC_H
#define MM_TESTS_HEXVEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline int hexvec_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Returns the number of bytes written to out. */
static inline size_t hexvec(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;

		if (*s == ' ' || *s == '\n')
			continue;
		v = hexvec_digit(*s);
		if (v < 0 || (hi < 0 && n >= cap)) {
			printf("Bail out! bad hex vector (or longer than %zu bytes)\n", cap);
			exit(2);
		}
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		printf("Bail out! odd number of hex digits in a vector\n");
		exit(2);
	}
	return n;
}

#endif
