/* Unit tests for daemon/ctlcli.{h,c}: the command line of a tool with hactl's and gwctl's
 * kinds of commands (words, operands), the request lines, and whole runs against a real
 * control server (daemon/control.h) on a unix socket in a mkdtemp directory: the server is
 * driven by iterating the GMainContext, the tool runs in a thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "daemon/control.h"
#include "daemon/ctlcli.h"
#include "daemon/jsonval.h"
#include "daemon/test_capture.h"
#include "tests/unit/tap.h"

static char dir[] = "/tmp/mm-ctlcli-XXXXXX";
static char sock_path[256];

/* What the tool wrote (memstreams, one pair per parse or run). */
static char *out_buf, *err_buf;
static size_t out_len, err_len;
static FILE *out_f, *err_f;

static int printed;             /* print_* calls */
static char last_request[256];  /* the server's last request line */

static void usage(FILE *f)
{
	fprintf(f, "Usage: testctl [--socket PATH] list|stats|rekey child SPI|...\n");
}

static int print_ok(const struct jv *doc)
{
	printed++;
	return jv_get(doc, "x") ? 0 : 1;
}

static const struct ctlcli_cmd cmds[] = {
	{ "list", print_ok },
	{ "stats", print_ok },
	{ "rekey child SPI", print_ok },
	{ "rekey ike SPI", print_ok },
	{ "terminate SPI", NULL },
	{ "move SPI TO", print_ok },
};

static struct ctlcli cli = {
	.prog = "testctl",
	.daemon = "the test daemon",
	.socket = "/nonexistent/default.sock",
	.usage = usage,
	.cmds = cmds,
	.ncmds = G_N_ELEMENTS(cmds),
	.timeout_ms = 2000,
};

static void streams_open(void)
{
	free(out_buf);
	free(err_buf);
	out_buf = err_buf = NULL;
	out_f = open_memstream(&out_buf, &out_len);
	err_f = open_memstream(&err_buf, &err_len);
	cli.out = out_f;
	cli.err = err_f;
}

static void streams_close(void)
{
	fclose(out_f);
	fclose(err_f);
	cli.out = cli.err = NULL;
}

/* Parse a command line given as one string (words split at spaces; "_" stands for a space
 * inside a word). */
static int parse(const char *line, struct ctlcli_args *a)
{
	char **words = g_strsplit(line, " ", -1), *argv[16] = { "testctl" };
	int argc = 1, rc;

	for (char **w = words; *w && argc < 15; w++) {
		for (char *p = *w; *p; p++)
			if (*p == '_')
				*p = ' ';
		argv[argc++] = *w;
	}
	streams_open();
	rc = ctlcli_parse(&cli, argc, argv, a);
	streams_close();
	/* socket and operands point into words: keep them for the caller's checks */
	if (rc == 0) {
		a->socket = g_intern_string(a->socket);
		for (size_t k = 0; k < a->noperands; k++)
			a->operands[k] = g_intern_string(a->operands[k]);
	}
	g_strfreev(words);
	return rc;
}

static char *request(const struct ctlcli_args *a)
{
	static char buf[256];
	char *r = ctlcli_request(a);

	snprintf(buf, sizeof(buf), "%s", r);
	g_free(r);
	return buf;
}

static void test_parse_ok(void)
{
	struct ctlcli_args a, keep;

	CHECK_EQ_U64(parse("list", &a), 0);
	CHECK(a.cmd == &cmds[0] && !a.json && a.noperands == 0);
	CHECK_STR(a.socket, "/nonexistent/default.sock");
	CHECK_STR(request(&a), "list");

	CHECK_EQ_U64(parse("--socket /tmp/x.sock stats --json", &a), 0);
	CHECK(a.cmd == &cmds[1] && a.json);
	CHECK_STR(a.socket, "/tmp/x.sock");
	CHECK_STR(request(&a), "stats");

	CHECK_EQ_U64(parse("-j -s /tmp/y.sock list", &a), 0);
	CHECK(a.cmd == &cmds[0] && a.json);
	CHECK_STR(a.socket, "/tmp/y.sock");

	CHECK_EQ_U64(parse("--socket=/tmp/z.sock list", &a), 0);
	CHECK_STR(a.socket, "/tmp/z.sock");

	/* Operands: the literal words joined by '-' make the verb. */
	CHECK_EQ_U64(parse("rekey child c1234567", &a), 0);
	CHECK(a.cmd == &cmds[2] && a.noperands == 1);
	CHECK_STR(request(&a), "rekey-child c1234567");
	CHECK_EQ_U64(parse("rekey --json ike 0123456789abcdef", &a), 0);
	CHECK(a.cmd == &cmds[3] && a.json);
	CHECK_STR(request(&a), "rekey-ike 0123456789abcdef");
	CHECK_EQ_U64(parse("terminate fedcba9876543210", &a), 0);
	CHECK(a.cmd == &cmds[4]);
	CHECK_STR(request(&a), "terminate fedcba9876543210");
	CHECK_EQ_U64(parse("move 1 list", &a), 0);   /* an operand may look like a word */
	CHECK(a.cmd == &cmds[5] && a.noperands == 2);
	CHECK_STR(request(&a), "move 1 list");
	CHECK(out_len == 0 && err_len == 0);

	/* --help: the usage on stdout, nothing else, *a untouched. */
	memset(&a, 0x5a, sizeof(a));
	keep = a;
	CHECK_EQ_U64(parse("list --help", &a), 1);
	CHECK(out_buf && strstr(out_buf, "Usage: testctl") && err_len == 0);
	CHECK_MEM(&a, &keep, sizeof(a));
}

/* A usage error: -EINVAL, the message (if any) then the usage on stderr, *a untouched. */
static void usage_error(const char *line, const char *msg)
{
	struct ctlcli_args a, keep;

	memset(&a, 0x5a, sizeof(a));
	keep = a;
	CHECK_EQ_U64(parse(line, &a), (uint64_t)-EINVAL);
	printf("# \"%s\": %s", line, err_buf ? err_buf : "(nothing)\n");
	CHECK(err_buf && strstr(err_buf, "Usage: testctl") != NULL && out_len == 0 &&
	      (!msg || strncmp(err_buf, msg, strlen(msg)) == 0));
	CHECK_MEM(&a, &keep, sizeof(a));
}

static void test_parse_errors(void)
{
	usage_error("", NULL);
	CHECK(err_buf && strncmp(err_buf, "Usage:", 6) == 0);    /* nothing but the usage */
	usage_error("bogus", "testctl: unexpected argument \"bogus\"\n");
	usage_error("list list", "testctl: unexpected argument \"list\"\n");
	usage_error("list --bogus", "testctl: unknown option --bogus\n");
	usage_error("--bogus bogus", "testctl: unknown option --bogus\n");   /* in order */
	usage_error("list --socket", "testctl: --socket needs a path\n");
	usage_error("list -s", "testctl: -s needs a path\n");
	usage_error("--socket= list", NULL);
	usage_error("rekey", "testctl: \"rekey\" needs child or ike\n");
	usage_error("rekey child", "testctl: \"rekey child\" needs SPI\n");
	usage_error("move 1", "testctl: \"move 1\" needs TO\n");
	usage_error("rekey foo c1234567", "testctl: unexpected argument \"foo\"\n");
	usage_error("rekey child c1234567 d", "testctl: unexpected argument \"d\"\n");
	usage_error("terminate a_b", "testctl: SPI must be one word of printable characters\n");
	usage_error("terminate a\nb", NULL);
}

/* --- whole runs against a control server ------------------------------------------- */

static char *handler(const char *req, void *user)
{
	(void)user;
	snprintf(last_request, sizeof(last_request), "%s", req);
	if (strcmp(req, "list") == 0)
		return g_strdup("{\"x\":1}");
	if (strcmp(req, "stats") == 0)
		return g_strdup("{\"y\":2}");      /* print_ok returns 1: no "x" */
	if (strncmp(req, "rekey-child ", 12) == 0)
		return g_strdup("{\"error\":\"no such Child SA\",\"request\":\"x\"}");
	if (strncmp(req, "rekey-ike ", 10) == 0)
		return g_strdup("not json");
	if (strncmp(req, "terminate ", 10) == 0)
		return g_strdup("{\"ok\":true}");
	return g_strdup("{\"error\":1}");
}

struct run {
	char **argv;
	int argc, rc;
	gint done;
};

static gpointer run_thread(gpointer data)
{
	struct run *r = data;

	r->rc = ctlcli_main(&cli, r->argc, r->argv);
	g_atomic_int_set(&r->done, 1);
	return NULL;
}

/* Run the tool with "--socket SOCK" and the words of line, serving meanwhile. */
static int run(const char *line)
{
	char **words = g_strsplit(line, " ", -1), *argv[16] = { "testctl", "--socket",
								    sock_path };
	struct run r = { .argv = argv, .argc = 3 };
	GThread *t;

	for (char **w = words; *w && r.argc < 15; w++)
		argv[r.argc++] = *w;
	last_request[0] = '\0';
	printed = 0;
	streams_open();
	t = g_thread_new("tool", run_thread, &r);
	while (!g_atomic_int_get(&r.done)) {
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_usleep(1000);
	}
	g_thread_join(t);
	streams_close();
	g_strfreev(words);
	printf("# %s -> %d, out \"%s\", err \"%s\"\n", line, r.rc, out_buf ? out_buf : "",
	       err_buf ? err_buf : "");
	return r.rc;
}

static void test_runs(void)
{
	struct control_server *s;
	GError *err = NULL;
	const char *log;

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
	snprintf(sock_path, sizeof(sock_path), "%s/test.sock", dir);
	s = control_server_start(sock_path, handler, NULL, &err);
	CHECK(s != NULL);
	if (!s) {
		printf("# %s\n", err ? err->message : "?");
		g_clear_error(&err);
		return;
	}

	/* The printer shows the answer and decides the exit status. */
	CHECK_EQ_U64(run("list"), 0);
	CHECK_STR(last_request, "list");
	CHECK(printed == 1 && out_len == 0 && err_len == 0);
	CHECK_EQ_U64(run("stats"), 1);
	CHECK(printed == 1);
	/* --json: the document as it came, one line; no printer. */
	CHECK_EQ_U64(run("stats --json"), 0);
	CHECK(printed == 0 && out_buf && strcmp(out_buf, "{\"y\":2}\n") == 0);
	/* An operand travels in the request line. */
	CHECK_EQ_U64(run("rekey child c1234567"), 1);
	CHECK_STR(last_request, "rekey-child c1234567");
	CHECK(printed == 0 && out_len == 0 && err_buf &&
	      strcmp(err_buf, "testctl: the test daemon says: no such Child SA\n") == 0);
	CHECK_EQ_U64(run("rekey ike 0123456789abcdef --json"), 1);
	CHECK_STR(last_request, "rekey-ike 0123456789abcdef");
	CHECK(err_buf && strcmp(err_buf, "testctl: the test daemon's answer is not JSON (at "
				"byte 0)\n") == 0);
	/* No printer: nothing shown, exit 0. */
	CHECK_EQ_U64(run("terminate fedcba9876543210"), 0);
	CHECK_STR(last_request, "terminate fedcba9876543210");
	CHECK(out_len == 0 && err_len == 0);
	/* A usage error never reaches the daemon. */
	CHECK_EQ_U64(run("rekey child"), 2);
	CHECK_STR(last_request, "");
	CHECK_EQ_U64(run("--help"), 0);
	CHECK(out_buf && strstr(out_buf, "Usage:") && last_request[0] == '\0');

	control_server_stop(s);
	/* Nobody there: control_request's own line, exit 1. */
	capture_start();
	CHECK_EQ_U64(run("list"), 1);
	log = capture_end();
	CHECK(strstr(log, "cannot connect to") != NULL && strstr(log, "is test running?"));
	capture_free();
	rmdir(dir);
}

int main(void)
{
	test_parse_ok();
	test_parse_errors();
	test_runs();
	free(out_buf);
	free(err_buf);
	return tap_done();
}
