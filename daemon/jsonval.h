/* A minimal JSON reader for the control tools (hactl, gwctl through daemon/ctlcli) and the
 * tests of the control answers: parses a document into a tree of values (objects keep their
 * member order). Depth-limited; strings are decoded (\uXXXX to UTF-8, surrogate pairs
 * included). Enough for the daemons' control answers (daemon/json.h writes them); not a
 * general-purpose library.
 */
#ifndef MM_DAEMON_JSONVAL_H
#define MM_DAEMON_JSONVAL_H

#include <stdbool.h>
#include <stddef.h>

enum jv_type { JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT };

struct jv {
	enum jv_type type;
	bool b;
	double num;
	char *num_text;      /* the number as written (integers print exactly) */
	char *str;
	size_t n;            /* array items / object members */
	struct jv **items;   /* array items, or object values */
	char **keys;         /* object member names */
	size_t nkeys_;       /* private: names allocated (== n when complete) */
};

/* Parse text (NUL-terminated). NULL on a syntax error, with *err_pos (may be NULL) set to
 * the byte offset where it was found. */
struct jv *jv_parse(const char *text, size_t *err_pos);
void jv_free(struct jv *v);

/* Member of an object (NULL if absent or v is not an object). */
const struct jv *jv_get(const struct jv *v, const char *key);

#endif
