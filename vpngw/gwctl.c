/* gwctl: ask vpngw over its control socket (daemon/control.h, answers in vpngw/ctl.h).
 *
 *	gwctl [--socket PATH] list [--json]
 *	gwctl [--socket PATH] stats [--json]
 *	gwctl [--socket PATH] rekey child SPI      Child SA: its inbound or outbound SPI
 *	gwctl [--socket PATH] rekey ike SPI        IKE SA: its spi_i or spi_r
 *	gwctl [--socket PATH] terminate SPI        IKE SA: INFORMATIONAL DELETE
 *
 * --json prints the daemon's document as is; otherwise list prints each IKE SA with its
 * Child SAs (strongSwan's "swanctl --list-sas" layout), stats aligned "name value" lines,
 * and an order "ordered: REQUEST" (the exchange runs on; gwctl list shows the outcome).
 * Exit 0 on success, 1 when vpngw cannot be reached or answers with an error (an order it
 * refused: no such SA, not established yet, already being done), 2 for a usage error. The
 * command line, the request and the answer are daemon/ctlcli.h's; this file has the
 * printers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "daemon/ctlcli.h"
#include "daemon/jsonval.h"
#include "vpngw/conf.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: gwctl [--socket PATH] list [--json]\n"
		"       gwctl [--socket PATH] stats [--json]\n"
		"       gwctl [--socket PATH] rekey child SPI [--json]\n"
		"       gwctl [--socket PATH] rekey ike SPI [--json]\n"
		"       gwctl [--socket PATH] terminate SPI [--json]\n"
		"  --socket PATH   vpngw's control socket (default %s)\n"
		"  --json          print the JSON document instead of text\n"
		"  SPI             as gwctl list shows it: a Child SA's inbound or outbound SPI (8\n"
		"                  hex digits), an IKE SA's spi_i or spi_r (16 hex digits)\n",
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

/* MOBIKE (RFC 4555): the count and the last address update of an IKE SA. */
static void print_mobike(const struct jv *sa)
{
	const struct jv *m = jv_get(sa, "last_move");

	if (!b(sa, "mobike")) {
		printf("  MOBIKE off\n");
		return;
	}
	printf("  MOBIKE, %s move%s%s\n", s(sa, "moves"), strcmp(s(sa, "moves"), "1") ? "s" : "",
	       b(sa, "rr_pending") ? ", return routability check pending" : "");
	if (m && m->type == JV_OBJECT)
		printf("    last move %s s ago: %s === %s (NAT %s) => %s === %s (NAT %s) "
		       "in %s ms\n", s(m, "ago_s"), s(m, "old_local"), s(m, "old_remote"), s(m, "old_nat"),
		       s(m, "new_local"), s(m, "new_remote"), s(m, "nat"), s(m, "took_ms"));
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
		print_mobike(sa);
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

/* An order's answer: {"ok":true,"request":"rekey-child c1234567"}. The order has started;
 * its outcome shows in "gwctl list" (and vpngw's log). */
static int print_order(const struct jv *doc)
{
	const struct jv *ok = jv_get(doc, "ok");

	if (!ok || ok->type != JV_BOOL || !ok->b) {
		fprintf(stderr, "gwctl: the answer has no \"ok\":true\n");
		return 1;
	}
	printf("ordered: %s\n", s(doc, "request"));
	return 0;
}

static const struct ctlcli_cmd cmds[] = {
	{ "list", print_list },
	{ "stats", print_stats },
	{ "rekey child SPI", print_order },
	{ "rekey ike SPI", print_order },
	{ "terminate SPI", print_order },
};

int main(int argc, char **argv)
{
	static const struct ctlcli cli = {
		.prog = "gwctl",
		.daemon = "vpngw",
		.socket = VPNGW_CONTROL_SOCKET_DEFAULT,
		.usage = usage,
		.cmds = cmds,
		.ncmds = G_N_ELEMENTS(cmds),
	};

	return ctlcli_main(&cli, argc, argv);
}
