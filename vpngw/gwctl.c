/* gwctl: ask vpngw over its control socket (daemon/control.h, answers in vpngw/ctl.h).
 *
 *	gwctl [--socket PATH] list [--json]
 *	gwctl [--socket PATH] stats [--json]
 *
 * --json prints the daemon's document as is; otherwise list prints each IKE SA with its
 * Child SAs (strongSwan's "swanctl --list-sas" layout), and stats aligned "name value"
 * lines. Exit 0 on success, 1 when vpngw cannot be reached or answers with an error, 2 for
 * a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "daemon/control.h"
#include "ha/jsonval.h"
#include "vpngw/conf.h"

#define TIMEOUT_MS 5000

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gwctl [--socket PATH] list [--json]\n"
		"       gwctl [--socket PATH] stats [--json]\n"
		"  --socket PATH   vpngw's control socket (default %s)\n"
		"  --json          print the JSON document instead of text\n",
		VPNGW_CONTROL_SOCKET_DEFAULT);
}

/* A member as text: strings as they are, numbers as written, null as "-". */
static const char *s(const struct jv *o, const char *key)
{
	const struct jv *v = jv_get(o, key);

	if (!v)
		return "-";
	switch (v->type) {
	case JV_STRING: return v->str;
	case JV_NUMBER: return v->num_text;
	case JV_BOOL: return v->b ? "yes" : "no";
	default: return "-";
	}
}

static bool b(const struct jv *o, const char *key)
{
	const struct jv *v = jv_get(o, key);

	return v && v->type == JV_BOOL && v->b;
}

static void join(const struct jv *arr, GString *out, const char *sep)
{
	for (size_t i = 0; arr && arr->type == JV_ARRAY && i < arr->n; i++)
		g_string_append_printf(out, "%s%s", i ? sep : "",
				       arr->items[i]->type == JV_STRING ? arr->items[i]->str : "?");
}

/* "in 12 s" / "never" for a seconds-until member. */
static const char *until(const struct jv *o, const char *key, char *buf, size_t size)
{
	const struct jv *v = jv_get(o, key);

	if (!v || v->type != JV_NUMBER)
		return "never";
	snprintf(buf, size, "in %s s", v->num_text);
	return buf;
}

static void print_child(const struct jv *c)
{
	GString *l = g_string_new(NULL), *r = g_string_new(NULL), *d = g_string_new(NULL);
	const struct jv *drops = jv_get(c, "drops");
	char u1[32], u2[32];

	join(jv_get(c, "ts_local"), l, ", ");
	join(jv_get(c, "ts_remote"), r, ", ");
	for (size_t i = 0; drops && drops->type == JV_OBJECT && i < drops->n; i++)
		g_string_append_printf(d, "%s%s %s", i ? ", " : "", drops->keys[i],
				       drops->items[i]->type == JV_NUMBER
				       ? drops->items[i]->num_text : "?");
	printf("  child %s_i %s_o: %s, %s%s\n", s(c, "spi_in"), s(c, "spi_out"), s(c, "suite"),
	       s(c, "state"), b(c, "udp_encap") ? ", ESP in UDP" : "");
	printf("    %s === %s\n", l->str, r->str);
	printf("    in %s packets %s bytes, out %s packets %s bytes\n", s(c, "in_packets"),
	       s(c, "in_bytes"), s(c, "out_packets"), s(c, "out_bytes"));
	printf("    installed %s s ago, rekey %s, expires %s\n", s(c, "installed_s"),
	       until(c, "rekey_in_s", u1, sizeof(u1)), until(c, "expire_in_s", u2, sizeof(u2)));
	if (d->len)
		printf("    dropped: %s\n", d->str);
	g_string_free(l, TRUE);
	g_string_free(r, TRUE);
	g_string_free(d, TRUE);
}

static int print_list(const struct jv *doc)
{
	const struct jv *sas = jv_get(doc, "ike_sas"), *orphans;
	char u[32];

	if (!sas || sas->type != JV_ARRAY) {
		fprintf(stderr, "gwctl: the answer has no \"ike_sas\" list\n");
		return 1;
	}
	for (size_t i = 0; i < sas->n; i++) {
		const struct jv *sa = sas->items[i], *children = jv_get(sa, "child_sas");
		GString *dns = g_string_new(NULL);

		join(jv_get(sa, "dns"), dns, ", ");
		printf("%s: %s, %s %s%s === %s%s\n", s(sa, "peer"), s(sa, "peer_id"),
		       s(sa, "role"), s(sa, "local"), b(sa, "nat_local") ? " (NAT)" : "",
		       s(sa, "remote"), b(sa, "nat_remote") ? " (NAT)" : "");
		printf("  IKE SPIs %s_i %s_r, %s\n", s(sa, "spi_i"), s(sa, "spi_r"), s(sa, "suite"));
		printf("  state %s, up %s s, rekey %s\n", s(sa, "state"), s(sa, "established_s"),
		       until(sa, "rekey_in_s", u, sizeof(u)));
		printf("  inner address %s%s%s\n", s(sa, "inner_address"), dns->len ? ", DNS " : "",
		       dns->str);
		for (size_t k = 0; children && children->type == JV_ARRAY && k < children->n; k++)
			print_child(children->items[k]);
		g_string_free(dns, TRUE);
	}
	orphans = jv_get(doc, "child_sas_without_ike_sa");
	if (orphans && orphans->type == JV_ARRAY && orphans->n) {
		printf("Child SAs without an IKE SA:\n");
		for (size_t k = 0; k < orphans->n; k++)
			print_child(orphans->items[k]);
	}
	printf("%zu IKE SA%s\n", sas->n, sas->n == 1 ? "" : "s");
	return 0;
}

/* Flatten stats into "name value" rows; nested objects become "outer.inner". */
static void stats_rows(const struct jv *v, const char *prefix, GPtrArray *names,
		       GPtrArray *values)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct jv *item = v->items[i];
		char *name = *prefix ? g_strdup_printf("%s.%s", prefix, v->keys[i])
				     : g_strdup(v->keys[i]);

		if (item->type == JV_OBJECT) {
			stats_rows(item, name, names, values);
			g_free(name);
			continue;
		}
		g_ptr_array_add(names, name);
		g_ptr_array_add(values, item->type == JV_NUMBER ? g_strdup(item->num_text)
					: item->type == JV_STRING ? g_strdup(item->str)
					: item->type == JV_BOOL ? g_strdup(item->b ? "yes" : "no")
					: g_strdup("-"));
	}
}

static int print_stats(const struct jv *doc)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *values = g_ptr_array_new_with_free_func(g_free);
	size_t w = 0;

	if (doc->type != JV_OBJECT) {
		fprintf(stderr, "gwctl: the answer is not a JSON object\n");
		return 1;
	}
	stats_rows(doc, "", names, values);
	for (guint i = 0; i < names->len; i++)
		if (strlen(names->pdata[i]) > w)
			w = strlen(names->pdata[i]);
	for (guint i = 0; i < names->len; i++)
		printf("%-*s  %s\n", (int)w, (char *)names->pdata[i], (char *)values->pdata[i]);
	g_ptr_array_free(names, TRUE);
	g_ptr_array_free(values, TRUE);
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = VPNGW_CONTROL_SOCKET_DEFAULT, *cmd = NULL;
	bool json = false;
	const struct jv *err;
	struct jv *doc;
	char *answer = NULL;
	size_t pos = 0;
	int rc;

	g_set_prgname("gwctl");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--socket") == 0 || strcmp(a, "-s") == 0) {
			if (++i >= argc) {
				fprintf(stderr, "gwctl: %s needs a path\n", a);
				usage(stderr);
				return 2;
			}
			sock = argv[i];
		} else if (strncmp(a, "--socket=", 9) == 0) {
			sock = a + 9;
		} else if (strcmp(a, "--json") == 0 || strcmp(a, "-j") == 0) {
			json = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (a[0] == '-') {
			fprintf(stderr, "gwctl: unknown option %s\n", a);
			usage(stderr);
			return 2;
		} else if (!cmd && (strcmp(a, "list") == 0 || strcmp(a, "stats") == 0)) {
			cmd = a;
		} else {
			fprintf(stderr, "gwctl: unexpected argument \"%s\"\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (!cmd || !*sock) {
		usage(stderr);
		return 2;
	}
	rc = control_request(sock, cmd, &answer, TIMEOUT_MS);
	if (rc < 0)
		return 1;      /* control_request said why */
	doc = jv_parse(answer, &pos);
	if (!doc) {
		fprintf(stderr, "gwctl: vpngw's answer is not JSON (at byte %zu)\n", pos);
		free(answer);
		return 1;
	}
	err = jv_get(doc, "error");
	if (err) {
		fprintf(stderr, "gwctl: vpngw says: %s\n",
			err->type == JV_STRING ? err->str : "error");
		rc = 1;
	} else if (json) {
		printf("%s\n", answer);
		rc = 0;
	} else {
		rc = strcmp(cmd, "list") == 0 ? print_list(doc) : print_stats(doc);
	}
	jv_free(doc);
	free(answer);
	return rc;
}
