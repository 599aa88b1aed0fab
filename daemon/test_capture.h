/* Log capture for the daemon unit tests: every line logged between capture_start() and
 * capture_end() is returned as one string (journal format "<N>prefix: message\n"). */
#ifndef MM_DAEMON_TEST_CAPTURE_H
#define MM_DAEMON_TEST_CAPTURE_H

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static char *capture_buf;
static size_t capture_len;
static FILE *capture_f;

static inline void capture_start(void)
{
	log_set_format(LOG_FORMAT_JOURNAL);
	free(capture_buf);
	capture_buf = NULL;
	capture_f = open_memstream(&capture_buf, &capture_len);
	log_set_stream(capture_f);
}

/* The captured text (valid until the next capture_start). */
static inline const char *capture_end(void)
{
	log_set_stream(NULL);
	fclose(capture_f);
	capture_f = NULL;
	for (const char *p = capture_buf; p && *p;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		printf("# log: %.*s\n", n, p);
		p += n + (nl ? 1 : 0);
	}
	return capture_buf ? capture_buf : "";
}

static inline int capture_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Exactly one line, containing want. */
#define CHECK_ONE_LINE(text, want) \
	CHECK(capture_lines(text) == 1 && strstr((text), (want)) != NULL)

static inline void capture_free(void)
{
	free(capture_buf);
	capture_buf = NULL;
}

#endif
