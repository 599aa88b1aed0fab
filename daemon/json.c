/* Small JSON writer (see json.h). */
#include "daemon/json.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

#include "common/sock.h"

void json_init(struct json *j)
{
	memset(j, 0, sizeof(*j));
	j->s = g_string_sized_new(256);
}

void json_free(struct json *j)
{
	if (j->s)
		g_string_free(j->s, TRUE);
	memset(j, 0, sizeof(*j));
}

char *json_finish(struct json *j)
{
	char *out = NULL;

	if (j->s && !j->failed && j->depth == 0 && !j->after_key && j->s->len > 0)
		out = g_string_free(j->s, FALSE);
	else if (j->s)
		g_string_free(j->s, TRUE);
	memset(j, 0, sizeof(*j));
	return out;
}

/* Before any value: a comma if needed; in an object a value must follow a key. */
static bool value_prefix(struct json *j)
{
	if (j->failed || !j->s)
		return false;
	if (j->depth == 0) {
		if (j->s->len > 0) {      /* only one top-level value */
			j->failed = true;
			return false;
		}
		return true;
	}
	if (j->is_object[j->depth - 1]) {
		if (!j->after_key) {
			j->failed = true;
			return false;
		}
		j->after_key = false;
		return true;
	}
	if (j->has_items[j->depth - 1])
		g_string_append_c(j->s, ',');
	j->has_items[j->depth - 1] = true;
	return true;
}

/* Length of the valid UTF-8 sequence at p (max n bytes), or 0 if it is not valid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	size_t need, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

void json_escape_append(GString *g, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	g_string_append_c(g, '"');
	while (i < n) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			g_string_append_c(g, '\\');
			g_string_append_c(g, (char)c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			g_string_append_printf(g, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			g_string_append_c(g, (char)c);
			i++;
		} else if ((k = utf8_seq(p + i, n - i)) > 0) {
			g_string_append_len(g, (const char *)p + i, (gssize)k);
			i += k;
		} else {
			g_string_append_printf(g, "\\u%04x", c);  /* invalid UTF-8: the byte */
			i++;
		}
	}
	g_string_append_c(g, '"');
}

static void open_container(struct json *j, bool object)
{
	if (!value_prefix(j))
		return;
	if (j->depth >= JSON_MAX_DEPTH) {
		j->failed = true;
		return;
	}
	g_string_append_c(j->s, object ? '{' : '[');
	j->is_object[j->depth] = object;
	j->has_items[j->depth] = false;
	j->depth++;
}

static void close_container(struct json *j, bool object)
{
	if (j->failed || !j->s)
		return;
	if (j->depth == 0 || j->is_object[j->depth - 1] != object || j->after_key) {
		j->failed = true;
		return;
	}
	j->depth--;
	g_string_append_c(j->s, object ? '}' : ']');
}

void json_begin_object(struct json *j) { open_container(j, true); }
void json_end_object(struct json *j) { close_container(j, true); }
void json_begin_array(struct json *j) { open_container(j, false); }
void json_end_array(struct json *j) { close_container(j, false); }

void json_key(struct json *j, const char *key)
{
	if (j->failed || !j->s)
		return;
	if (j->depth == 0 || !j->is_object[j->depth - 1] || j->after_key || !key) {
		j->failed = true;
		return;
	}
	if (j->has_items[j->depth - 1])
		g_string_append_c(j->s, ',');
	j->has_items[j->depth - 1] = true;
	json_escape_append(j->s, key, strlen(key));
	g_string_append_c(j->s, ':');
	j->after_key = true;
}

void json_string_len(struct json *j, const char *s, size_t n)
{
	if (!s) {
		json_null(j);
		return;
	}
	if (value_prefix(j))
		json_escape_append(j->s, s, n);
}

void json_string(struct json *j, const char *s)
{
	json_string_len(j, s, s ? strlen(s) : 0);
}

void json_int(struct json *j, int64_t v)
{
	if (value_prefix(j))
		g_string_append_printf(j->s, "%" PRId64, v);
}

void json_uint(struct json *j, uint64_t v)
{
	if (value_prefix(j))
		g_string_append_printf(j->s, "%" PRIu64, v);
}

void json_bool(struct json *j, bool v)
{
	if (value_prefix(j))
		g_string_append(j->s, v ? "true" : "false");
}

void json_null(struct json *j)
{
	if (value_prefix(j))
		g_string_append(j->s, "null");
}

void json_addr4(struct json *j, struct in_addr a)
{
	char buf[ADDR4_STRLEN];

	json_string(j, addr4_str(a, buf));
}

void json_kv_string(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_string(j, s);
}

void json_kv_int(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	json_int(j, v);
}

void json_kv_uint(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	json_uint(j, v);
}

void json_kv_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	json_bool(j, v);
}

void json_kv_null(struct json *j, const char *key)
{
	json_key(j, key);
	json_null(j);
}

void json_kv_addr4(struct json *j, const char *key, struct in_addr a)
{
	json_key(j, key);
	json_addr4(j, a);
}

void json_kv_addr4_or_null(struct json *j, const char *key, struct in_addr a)
{
	json_key(j, key);
	if (a.s_addr)
		json_addr4(j, a);
	else
		json_null(j);
}

void json_kv_addr4_array(struct json *j, const char *key, const struct in_addr *a, size_t n)
{
	json_key(j, key);
	json_begin_array(j);
	for (size_t i = 0; i < n; i++)
		json_addr4(j, a[i]);
	json_end_array(j);
}
