/* hactl: ask the home agent over its control socket (daemon/control.h).
 *
 *	hactl [--socket PATH] list [--json]
 *	hactl [--socket PATH] stats [--json]
 *	hactl [--socket PATH] visitors [--json]     (foreign agent: the visitor list)
 *
 * --json prints the daemon's document as is; otherwise an aligned table (list) or aligned
 * "name value" lines (stats). Exit 0 on success, 1 when the home agent cannot be reached or
 * answers with an error, 2 for a usage error. The command line, the request and the answer
 * are daemon/ctlcli.h's; this file has the printers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "common/names.h"
#include "daemon/ctlcli.h"
#include "daemon/jsonval.h"
#include "ha/conf.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hactl [--socket PATH] list [--json]\n"
		"       hactl [--socket PATH] stats [--json]\n"
		"       hactl [--socket PATH] visitors [--json]\n"
		"  --socket PATH   the home agent's control socket (default %s)\n"
		"  --json          print the JSON document instead of a table\n",
		HA_CONTROL_SOCKET_DEFAULT);
}

/* A cell of the list table. */
static char *cell(const struct jv *b, const char *key)
{
	const struct jv *v = jv_get(b, key);

	if (!v)
		return g_strdup("-");
	switch (v->type) {
	case JV_STRING: return g_strdup(v->str);
	case JV_NUMBER: return g_strdup(v->num_text);
	case JV_BOOL: return g_strdup(v->b ? "yes" : "no");
	default: return g_strdup("-");
	}
}

struct column {
	const char *key, *title;
	bool right;
};

/* An aligned table of the objects in doc[listkey]; the last column is not padded (no
 * trailing blanks); then "N <noun>(s)". */
static int print_table(const struct jv *doc, const char *listkey, const struct column *col,
		       size_t ncol, const char *noun)
{
	const struct jv *list = jv_get(doc, listkey);
	size_t *width, rows;
	char ***cells;

	if (!list || list->type != JV_ARRAY) {
		fprintf(stderr, "hactl: the answer has no \"%s\" list\n", listkey);
		return 1;
	}
	rows = list->n;
	width = g_new0(size_t, ncol);
	cells = g_new0(char **, rows);
	for (size_t c = 0; c < ncol; c++)
		width[c] = strlen(col[c].title);
	for (size_t r = 0; r < rows; r++) {
		cells[r] = g_new0(char *, ncol);
		for (size_t c = 0; c < ncol; c++) {
			cells[r][c] = cell(list->items[r], col[c].key);
			if (strlen(cells[r][c]) > width[c])
				width[c] = strlen(cells[r][c]);
		}
	}
	for (size_t c = 0; c < ncol; c++)
		printf("%s%*s", c ? "  " : "", c + 1 == ncol ? 0 : col[c].right ? (int)width[c]
		       : -(int)width[c], col[c].title);
	printf("\n");
	for (size_t r = 0; r < rows; r++) {
		for (size_t c = 0; c < ncol; c++) {
			printf("%s%*s", c ? "  " : "", c + 1 == ncol ? 0 : col[c].right
			       ? (int)width[c] : -(int)width[c], cells[r][c]);
			g_free(cells[r][c]);
		}
		printf("\n");
		g_free(cells[r]);
	}
	g_free(cells);
	g_free(width);
	printf("%zu %s%s\n", rows, noun, rows == 1 ? "" : "s");
	return 0;
}

static int print_visitors(const struct jv *doc)
{
	static const struct column col[] = {
		{ "home_address", "HOME ADDRESS", false },
		{ "home_agent", "HOME AGENT", false },
		{ "link_address", "LINK ADDRESS", false },
		{ "reverse_tunnel", "REVERSE", false },
		{ "lifetime", "LIFETIME", true },
		{ "remaining", "REMAINING", true },
		{ "identification", "IDENTIFICATION", false },
	};
	const struct jv *pending = jv_get(doc, "pending");
	int rc = print_table(doc, "visitors", col, G_N_ELEMENTS(col), "visitor");

	if (rc == 0 && pending && pending->type == JV_NUMBER)
		printf("%s pending request(s)\n", pending->num_text);
	return rc;
}

static int print_list(const struct jv *doc)
{
	static const struct {
		const char *key, *title;
		bool right;
	} col[] = {
		{ "home_address", "HOME ADDRESS", false },
		{ "care_of_address", "CARE-OF ADDRESS", false },
		{ "tunnel_endpoint", "TUNNEL ENDPOINT", false },
		{ "encapsulation", "ENCAP", false },
		{ "reverse_tunnel", "REVERSE", false },
		{ "lifetime", "LIFETIME", true },
		{ "remaining", "REMAINING", true },
		{ "registrations", "REGS", true },
		{ "identification", "IDENTIFICATION", false },
	};
	enum { NCOL = G_N_ELEMENTS(col) };
	const struct jv *list = jv_get(doc, "bindings");
	size_t width[NCOL], rows;
	char ***cells;

	if (!list || list->type != JV_ARRAY) {
		fprintf(stderr, "hactl: the answer has no \"bindings\" list\n");
		return 1;
	}
	rows = list->n;
	cells = g_new0(char **, rows);
	for (size_t c = 0; c < NCOL; c++)
		width[c] = strlen(col[c].title);
	for (size_t r = 0; r < rows; r++) {
		cells[r] = g_new0(char *, NCOL);
		for (size_t c = 0; c < NCOL; c++) {
			cells[r][c] = cell(list->items[r], col[c].key);
			if (strlen(cells[r][c]) > width[c])
				width[c] = strlen(cells[r][c]);
		}
	}
	/* The last column is not padded: no trailing blanks. */
	for (size_t c = 0; c < NCOL; c++)
		printf("%s%*s", c ? "  " : "", c + 1 == NCOL ? 0 : col[c].right ? (int)width[c]
		       : -(int)width[c], col[c].title);
	printf("\n");
	for (size_t r = 0; r < rows; r++) {
		for (size_t c = 0; c < NCOL; c++) {
			printf("%s%*s", c ? "  " : "", c + 1 == NCOL ? 0 : col[c].right
			       ? (int)width[c] : -(int)width[c], cells[r][c]);
			g_free(cells[r][c]);
		}
		printf("\n");
		g_free(cells[r]);
	}
	g_free(cells);
	printf("%zu binding%s\n", rows, rows == 1 ? "" : "s");
	return 0;
}

/* Flatten stats into "name value" rows: nested objects become "outer.inner"; the reply
 * codes get their names. */
static void stats_rows(const struct jv *v, const char *prefix, GPtrArray *names,
		       GPtrArray *values)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct jv *item = v->items[i];
		char *name;

		if (strcmp(prefix, "denied_by_code") == 0) {
			char buf[NAME_BUF_SIZE];
			unsigned long code = strtoul(v->keys[i], NULL, 10);

			name = g_strdup_printf("denied %s (%s)", v->keys[i],
					       name_or_number(&mip4_reply_code_names,
							      (uint32_t)code, buf, sizeof(buf)));
		} else {
			name = *prefix ? g_strdup_printf("%s.%s", prefix, v->keys[i])
				       : g_strdup(v->keys[i]);
		}
		if (item->type == JV_OBJECT) {
			stats_rows(item, v->keys[i], names, values);
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
		fprintf(stderr, "hactl: the answer is not a JSON object\n");
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

static const struct ctlcli_cmd cmds[] = {
	{ "list", print_list },
	{ "stats", print_stats },
	{ "visitors", print_visitors },
};

int main(int argc, char **argv)
{
	static const struct ctlcli cli = {
		.prog = "hactl",
		.daemon = "the home agent",
		.socket = HA_CONTROL_SOCKET_DEFAULT,
		.usage = usage,
		.cmds = cmds,
		.ncmds = G_N_ELEMENTS(cmds),
	};

	return ctlcli_main(&cli, argc, argv);
}
