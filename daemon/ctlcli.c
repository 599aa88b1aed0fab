/* The control tools' common skeleton. See ctlcli.h. */
#include "daemon/ctlcli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "daemon/control.h"
#include "daemon/jsonval.h"

static FILE *out_of(const struct ctlcli *cli)
{
	return cli->out ? cli->out : stdout;
}

static FILE *err_of(const struct ctlcli *cli)
{
	return cli->err ? cli->err : stderr;
}

/* Word k of a syntax string (words one space apart): false when there are fewer. */
static bool word_at(const char *syntax, size_t k, const char **w, size_t *len)
{
	const char *p = syntax;

	for (size_t i = 0; i < k; i++) {
		p = strchr(p, ' ');
		if (!p)
			return false;
		p++;
	}
	if (!*p)
		return false;
	*w = p;
	*len = strchrnul(p, ' ') - p;
	return true;
}

static size_t nwords(const char *syntax)
{
	const char *w;
	size_t n = 0, len;

	while (word_at(syntax, n, &w, &len))
		n++;
	return n;
}

static bool is_operand(const char *w)
{
	return *w >= 'A' && *w <= 'Z';
}

/* Do the typed words start cmd's syntax (operands match any word)? */
static bool starts(const struct ctlcli_cmd *cmd, const char *const *words, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const char *w = "";
		size_t len = 0;

		if (!word_at(cmd->syntax, k, &w, &len))
			return false;
		if (!is_operand(w) && (strlen(words[k]) != len || memcmp(words[k], w, len) != 0))
			return false;
	}
	return true;
}

static bool any_starts(const struct ctlcli *cli, const char *const *words, size_t n)
{
	for (size_t i = 0; i < cli->ncmds; i++)
		if (starts(&cli->cmds[i], words, n))
			return true;
	return false;
}

/* An operand goes into the request line: one word of printable ASCII or UTF-8. */
static bool one_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

/* "rekey" typed where "rekey child SPI" and "rekey ike SPI" exist: say what may follow. */
static void incomplete(const struct ctlcli *cli, const char *const *words, size_t n)
{
	GString *typed = g_string_new(NULL), *next = g_string_new(NULL);
	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);

	for (size_t k = 0; k < n; k++)
		g_string_append_printf(typed, "%s%s", k ? " " : "", words[k]);
	for (size_t i = 0; i < cli->ncmds; i++) {
		const char *w = "";
		size_t len = 0;
		char *word;
		bool dup = false;

		if (!starts(&cli->cmds[i], words, n) || !word_at(cli->cmds[i].syntax, n, &w, &len))
			continue;
		word = g_strndup(w, len);
		for (guint s = 0; s < seen->len && !dup; s++)
			dup = strcmp(seen->pdata[s], word) == 0;
		if (dup) {
			g_free(word);
			continue;
		}
		g_string_append_printf(next, "%s%s", seen->len ? " or " : "", word);
		g_ptr_array_add(seen, word);
	}
	fprintf(err_of(cli), "%s: \"%s\" needs %s\n", cli->prog, typed->str, next->str);
	g_string_free(typed, TRUE);
	g_string_free(next, TRUE);
	g_ptr_array_free(seen, TRUE);
}

static int usage_error(const struct ctlcli *cli)
{
	cli->usage(err_of(cli));
	return -EINVAL;
}

int ctlcli_parse(const struct ctlcli *cli, int argc, char *const *argv,
		 struct ctlcli_args *a)
{
	const char *words[CTLCLI_MAX_WORDS], *sock = cli->socket;
	const struct ctlcli_cmd *cmd = NULL;
	struct ctlcli_args r;
	FILE *err = err_of(cli);
	size_t n = 0;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "--socket") == 0 || strcmp(arg, "-s") == 0) {
			if (++i >= argc) {
				fprintf(err, "%s: %s needs a path\n", cli->prog, arg);
				return usage_error(cli);
			}
			sock = argv[i];
		} else if (strncmp(arg, "--socket=", 9) == 0) {
			sock = arg + 9;
		} else if (strcmp(arg, "--json") == 0 || strcmp(arg, "-j") == 0) {
			json = true;
		} else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			cli->usage(out_of(cli));
			return 1;
		} else if (arg[0] == '-') {
			fprintf(err, "%s: unknown option %s\n", cli->prog, arg);
			return usage_error(cli);
		} else {
			words[n] = arg;
			if (n == CTLCLI_MAX_WORDS || !any_starts(cli, words, n + 1)) {
				fprintf(err, "%s: unexpected argument \"%s\"\n", cli->prog, arg);
				return usage_error(cli);
			}
			n++;
		}
	}
	if (n == 0 || !sock || !*sock)
		return usage_error(cli);
	for (size_t i = 0; i < cli->ncmds && !cmd; i++)
		if (starts(&cli->cmds[i], words, n) && nwords(cli->cmds[i].syntax) == n)
			cmd = &cli->cmds[i];
	if (!cmd) {
		incomplete(cli, words, n);
		return usage_error(cli);
	}
	memset(&r, 0, sizeof(r));
	for (size_t k = 0; k < n; k++) {
		const char *w = "";
		size_t len = 0;

		word_at(cmd->syntax, k, &w, &len);
		if (!is_operand(w))
			continue;
		if (!one_word(words[k])) {
			fprintf(err, "%s: %.*s must be one word of printable characters\n",
				cli->prog, (int)len, w);
			return usage_error(cli);
		}
		r.operands[r.noperands++] = words[k];
	}
	r.socket = sock;
	r.json = json;
	r.cmd = cmd;
	*a = r;
	return 0;
}

char *ctlcli_request(const struct ctlcli_args *a)
{
	GString *line = g_string_new(NULL);
	const char *w;
	size_t len;

	for (size_t k = 0; word_at(a->cmd->syntax, k, &w, &len); k++)
		if (!is_operand(w))
			g_string_append_printf(line, "%s%.*s", line->len ? "-" : "", (int)len, w);
	for (size_t k = 0; k < a->noperands; k++)
		g_string_append_printf(line, " %s", a->operands[k]);
	return g_string_free(line, FALSE);
}

int ctlcli_run(const struct ctlcli *cli, const struct ctlcli_args *a)
{
	const struct jv *e;
	struct jv *doc;
	char *line, *answer = NULL;
	size_t pos = 0;
	int rc;

	line = ctlcli_request(a);
	rc = control_request(a->socket, line, &answer,
			     cli->timeout_ms > 0 ? cli->timeout_ms : CTLCLI_TIMEOUT_MS);
	g_free(line);
	if (rc < 0)
		return CTLCLI_EXIT_FAIL;     /* control_request said why */
	doc = jv_parse(answer, &pos);
	if (!doc) {
		fprintf(err_of(cli), "%s: %s's answer is not JSON (at byte %zu)\n", cli->prog,
			cli->daemon, pos);
		free(answer);
		return CTLCLI_EXIT_FAIL;
	}
	e = jv_get(doc, "error");
	if (e) {
		fprintf(err_of(cli), "%s: %s says: %s\n", cli->prog, cli->daemon,
			e->type == JV_STRING ? e->str : "error");
		rc = CTLCLI_EXIT_FAIL;
	} else if (a->json) {
		fprintf(out_of(cli), "%s\n", answer);
		rc = CTLCLI_EXIT_OK;
	} else {
		rc = a->cmd->print ? a->cmd->print(doc) : CTLCLI_EXIT_OK;
	}
	jv_free(doc);
	free(answer);
	return rc;
}

int ctlcli_main(const struct ctlcli *cli, int argc, char *const *argv)
{
	struct ctlcli_args a;
	int rc;

	g_set_prgname(cli->prog);
	rc = ctlcli_parse(cli, argc, argv, &a);
	if (rc == 1)
		return CTLCLI_EXIT_OK;
	if (rc < 0)
		return CTLCLI_EXIT_USAGE;
	return ctlcli_run(cli, &a);
}
