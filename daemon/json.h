/* A small JSON writer on a GString, for control-socket answers and status files.
 *
 *	struct json j;
 *	json_init(&j);
 *	json_begin_object(&j);
 *	json_kv_string(&j, "state", "registered");
 *	json_key(&j, "bindings"); json_begin_array(&j); ... json_end_array(&j);
 *	json_end_object(&j);
 *	char *text = json_finish(&j);   // g_free(text)
 *
 * Commas are placed automatically. Strings are escaped: '"', '\\', and every control
 * character (< 0x20, 0x7f) as \u00XX (\n, \t etc. included); bytes that are not valid UTF-8
 * become \u00XX of the byte, so the output is always valid UTF-8 and valid JSON. Nesting
 * deeper than JSON_MAX_DEPTH, or calls in an impossible order (a value where a key is due),
 * mark the builder failed: json_finish then returns NULL.
 */
#ifndef MM_DAEMON_JSON_H
#define MM_DAEMON_JSON_H

#include <glib.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

struct json {
	GString *s;
	int depth;
	bool failed;
	bool after_key;                   /* a key was written, its value is due */
	bool is_object[JSON_MAX_DEPTH];   /* per level: object (true) or array */
	bool has_items[JSON_MAX_DEPTH];   /* per level: a comma is needed before the next item */
};

void json_init(struct json *j);
/* The text (g_free it), or NULL if the builder failed or a container is still open. The
 * builder is reset either way. */
char *json_finish(struct json *j);
/* Discard everything (for error paths). */
void json_free(struct json *j);

void json_begin_object(struct json *j);
void json_end_object(struct json *j);
void json_begin_array(struct json *j);
void json_end_array(struct json *j);
void json_key(struct json *j, const char *key);

void json_string(struct json *j, const char *s);          /* NULL writes null */
void json_string_len(struct json *j, const char *s, size_t n);
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
void json_addr4(struct json *j, struct in_addr a);        /* "a.b.c.d" */

/* key + value in one call */
void json_kv_string(struct json *j, const char *key, const char *s);
void json_kv_int(struct json *j, const char *key, int64_t v);
void json_kv_uint(struct json *j, const char *key, uint64_t v);
void json_kv_bool(struct json *j, const char *key, bool v);
void json_kv_null(struct json *j, const char *key);
void json_kv_addr4(struct json *j, const char *key, struct in_addr a);
/* "a.b.c.d", or null for 0.0.0.0 (no address) */
void json_kv_addr4_or_null(struct json *j, const char *key, struct in_addr a);
/* ["a.b.c.d", ...]: the first n of a */
void json_kv_addr4_array(struct json *j, const char *key, const struct in_addr *a, size_t n);

/* Append s escaped as a JSON string (with the quotes) to g: for code that builds by hand. */
void json_escape_append(GString *g, const char *s, size_t n);

#endif
