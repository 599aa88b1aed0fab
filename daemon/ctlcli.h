/* The control tools' common skeleton (hactl, gwctl): the client side of daemon/control.h's
 * protocol and the command line around it. A tool describes its commands and brings its
 * own printers; this file does the rest:
 *
 *	PROG [--socket PATH | -s PATH | --socket=PATH] COMMAND... [--json | -j] [--help | -h]
 *
 * options anywhere; the positional words must spell one of the tool's commands. The
 * request line is the command's verb followed by its operands, one space apart; the answer
 * must be a JSON document. An answer with an "error" member is printed as "PROG: DAEMON
 * says: MESSAGE" on stderr; otherwise --json prints the document as it came, and without
 * it the command's printer shows it.
 *
 * Exit status: 0 success, 1 the daemon cannot be reached (daemon/control.h says why), its
 * answer is not JSON or is an error (or the printer says 1), 2 a usage error (said on
 * stderr, followed by the usage text).
 */
#ifndef MM_DAEMON_CTLCLI_H
#define MM_DAEMON_CTLCLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct jv;

#define CTLCLI_EXIT_OK 0
#define CTLCLI_EXIT_FAIL 1
#define CTLCLI_EXIT_USAGE 2
#define CTLCLI_MAX_WORDS 6           /* words of a command, operands included */
#define CTLCLI_TIMEOUT_MS 5000

/* One command. syntax: words separated by single spaces; lower-case words must be typed
 * as they are, upper-case words (e.g. "SPI") are operands: any one word of printable
 * characters. The request's verb is the literal words joined by '-' ("rekey-child"). */
struct ctlcli_cmd {
	const char *syntax;                  /* "list", "rekey child SPI" */
	int (*print)(const struct jv *doc);  /* without --json: show the answer on stdout and
					      * return the exit status; NULL: print nothing */
};

struct ctlcli {
	const char *prog;                    /* "gwctl": the first word of every message */
	const char *daemon;                  /* "vpngw", "the home agent": "... says: ..." */
	const char *socket;                  /* the default control socket */
	void (*usage)(FILE *f);
	const struct ctlcli_cmd *cmds;
	size_t ncmds;
	int timeout_ms;                      /* <= 0: CTLCLI_TIMEOUT_MS */
	FILE *out, *err;                     /* NULL: stdout, stderr */
};

/* A parsed command line. */
struct ctlcli_args {
	const char *socket;
	bool json;
	const struct ctlcli_cmd *cmd;
	size_t noperands;
	const char *operands[CTLCLI_MAX_WORDS];
};

/* Parse argv (argv[0] is skipped). 0: *a is filled in, run the command; 1: --help was
 * given and the usage printed on cli->out (exit 0); -EINVAL: a usage error, said on
 * cli->err with the usage text (exit 2). *a is untouched unless 0 is returned. */
int ctlcli_parse(const struct ctlcli *cli, int argc, char *const *argv,
		 struct ctlcli_args *a);

/* The request line for a parsed command: "rekey-child c1234567" (g_malloc'd). */
char *ctlcli_request(const struct ctlcli_args *a);

/* Send the request, read and show the answer; returns the exit status. */
int ctlcli_run(const struct ctlcli *cli, const struct ctlcli_args *a);

/* The whole tool: parse, then run; returns main()'s exit status. */
int ctlcli_main(const struct ctlcli *cli, int argc, char *const *argv);

#endif
