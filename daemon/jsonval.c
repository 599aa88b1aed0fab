/* A minimal JSON reader for the control tools. See jsonval.h. */
#include "daemon/jsonval.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#define JV_MAX_DEPTH 32

struct p {
	const char *s;
	size_t i;
	bool fail;
};

static void ws(struct p *p)
{
	while (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
	       p->s[p->i] == '\r')
		p->i++;
}

static bool lit(struct p *p, const char *w)
{
	size_t n = strlen(w);

	if (strncmp(p->s + p->i, w, n) != 0)
		return false;
	p->i += n;
	return true;
}

static int hex4(const char *s)
{
	int v = 0;

	for (int k = 0; k < 4; k++) {
		char c = s[k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static char *string(struct p *p)
{
	GString *g = g_string_new(NULL);

	if (p->s[p->i] != '"')
		goto bad;
	p->i++;
	for (;;) {
		unsigned char c = (unsigned char)p->s[p->i];

		if (c == 0 || c < 0x20)
			goto bad;
		p->i++;
		if (c == '"')
			break;
		if (c != '\\') {
			g_string_append_c(g, (char)c);
			continue;
		}
		c = (unsigned char)p->s[p->i];
		if (c == 0)
			goto bad;
		p->i++;
		switch (c) {
		case '"': case '\\': case '/': g_string_append_c(g, (char)c); break;
		case 'b': g_string_append_c(g, '\b'); break;
		case 'f': g_string_append_c(g, '\f'); break;
		case 'n': g_string_append_c(g, '\n'); break;
		case 'r': g_string_append_c(g, '\r'); break;
		case 't': g_string_append_c(g, '\t'); break;
		case 'u': {
			int u;
			uint32_t cp;

			if (strlen(p->s + p->i) < 4 || (u = hex4(p->s + p->i)) < 0)
				goto bad;
			p->i += 4;
			cp = (uint32_t)u;
			if (cp >= 0xd800 && cp < 0xdc00 && p->s[p->i] == '\\' &&
			    p->s[p->i + 1] == 'u' && strlen(p->s + p->i + 2) >= 4) {
				int lo = hex4(p->s + p->i + 2);

				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					     ((uint32_t)lo - 0xdc00);
					p->i += 6;
				}
			}
			if ((cp >= 0xd800 && cp < 0xe000) || cp == 0)
				cp = 0xfffd;
			g_string_append_unichar(g, (gunichar)cp);
			break;
		}
		default:
			goto bad;
		}
	}
	return g_string_free(g, FALSE);
bad:
	p->fail = true;
	g_string_free(g, TRUE);
	return NULL;
}

static struct jv *value(struct p *p, int depth);

static struct jv *container(struct p *p, int depth, bool object)
{
	struct jv *v = g_new0(struct jv, 1);
	GPtrArray *items = g_ptr_array_new(), *keys = g_ptr_array_new();

	v->type = object ? JV_OBJECT : JV_ARRAY;
	p->i++;
	ws(p);
	if (p->s[p->i] == (object ? '}' : ']')) {
		p->i++;
		goto done;
	}
	for (;;) {
		struct jv *item;

		ws(p);
		if (object) {
			char *k = string(p);

			if (!k)
				goto bad;
			g_ptr_array_add(keys, k);
			ws(p);
			if (p->s[p->i] != ':')
				goto bad;
			p->i++;
		}
		item = value(p, depth + 1);
		if (!item)
			goto bad;
		g_ptr_array_add(items, item);
		ws(p);
		if (p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->s[p->i] == (object ? '}' : ']')) {
			p->i++;
			break;
		}
		goto bad;
	}
done:
	v->n = items->len;
	v->nkeys_ = keys->len;
	v->items = (struct jv **)g_ptr_array_free(items, FALSE);
	v->keys = (char **)g_ptr_array_free(keys, FALSE);
	return v;
bad:
	p->fail = true;
	v->n = items->len;
	v->nkeys_ = keys->len;
	v->items = (struct jv **)g_ptr_array_free(items, FALSE);
	v->keys = (char **)g_ptr_array_free(keys, FALSE);
	jv_free(v);
	return NULL;
}

static struct jv *value(struct p *p, int depth)
{
	struct jv *v;
	char c;

	if (depth > JV_MAX_DEPTH) {
		p->fail = true;
		return NULL;
	}
	ws(p);
	c = p->s[p->i];
	if (c == '{' || c == '[')
		return container(p, depth, c == '{');
	v = g_new0(struct jv, 1);
	if (c == '"') {
		v->type = JV_STRING;
		v->str = string(p);
		if (!v->str)
			goto bad;
	} else if (lit(p, "true") || lit(p, "false")) {
		v->type = JV_BOOL;
		v->b = c == 't';
	} else if (lit(p, "null")) {
		v->type = JV_NULL;
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		size_t start = p->i;
		char *end;

		if (p->s[p->i] == '-')
			p->i++;
		while ((p->s[p->i] >= '0' && p->s[p->i] <= '9') || p->s[p->i] == '.' ||
		       p->s[p->i] == 'e' || p->s[p->i] == 'E' || p->s[p->i] == '+' ||
		       p->s[p->i] == '-')
			p->i++;
		v->type = JV_NUMBER;
		v->num_text = g_strndup(p->s + start, p->i - start);
		v->num = g_ascii_strtod(v->num_text, &end);
		if (*end)
			goto bad;
	} else {
		goto bad;
	}
	return v;
bad:
	p->fail = true;
	jv_free(v);
	return NULL;
}

struct jv *jv_parse(const char *text, size_t *err_pos)
{
	struct p p = { .s = text };
	struct jv *v;

	if (!text)
		return NULL;
	v = value(&p, 0);
	if (v && !p.fail)
		ws(&p);
	if (!v || p.fail || p.s[p.i]) {
		if (err_pos)
			*err_pos = p.i;
		jv_free(v);
		return NULL;
	}
	return v;
}

void jv_free(struct jv *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		jv_free(v->items[i]);
	for (size_t i = 0; i < v->nkeys_; i++)
		g_free(v->keys[i]);
	g_free(v->items);
	g_free(v->keys);
	g_free(v->str);
	g_free(v->num_text);
	g_free(v);
}

const struct jv *jv_get(const struct jv *v, const char *key)
{
	if (!v || v->type != JV_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->keys[i], key) == 0)
			return v->items[i];
	return NULL;
}
