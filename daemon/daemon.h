/* Common start-up of the daemons (ha, mnd, vpngw): command line, logging, signals, and
 * the whole main() for the daemons that need no more (daemon_main).
 *
 *	struct daemon_opts o;
 *	int r = daemon_parse_args(argc, argv, "ha", "/etc/mip4-mobike/ha.conf", &o);
 *	if (r != 0)
 *		return r > 0 ? 0 : 2;       // --help/--version printed, or usage error
 *	daemon_setup_logging(&o);
 *	...
 *	daemon_install_signals(loop, reload_cb, ctx);
 */
#ifndef MM_DAEMON_DAEMON_H
#define MM_DAEMON_DAEMON_H

#include <glib.h>
#include <stdbool.h>

#include "common/log.h"

#define DAEMON_EXIT_USAGE 2

struct daemon_opts {
	const char *config_path;  /* --config / -c, else the default (points into argv or the
				   * default string) */
	enum log_level level;     /* --log-level, else the current level (MM_LOG_LEVEL or notice) */
	bool level_given;         /* --log-level was on the command line */
};

/* Options: -c/--config FILE (also --config=FILE), -l/--log-level LEVEL (error, warning,
 * notice, info, debug), -h/--help, -V/--version. Sets g_set_prgname(prog).
 * Returns 0: run; 1: --help or --version was printed to stdout (exit 0); -EINVAL: a usage
 * error was printed to stderr ("ha: unknown option --foo" + a usage line; exit
 * DAEMON_EXIT_USAGE). Positional arguments are usage errors. *out is set only on 0. */
int daemon_parse_args(int argc, char **argv, const char *prog, const char *default_config,
		      struct daemon_opts *out);

/* Apply the log level of opts (format stays automatic: journal when stderr is not a tty). */
void daemon_setup_logging(const struct daemon_opts *opts);

typedef void (*daemon_reload_fn)(void *user);

/* SIGTERM and SIGINT quit loop (logged at notice: "SIGTERM: shutting down"); SIGHUP calls
 * reload(user) when reload is not NULL (otherwise it is logged and ignored). SIGPIPE is
 * ignored (a control client that went away must not kill the daemon). Uses GLib unix signal
 * sources on the default main context. Calling it again replaces the previous handlers. */
void daemon_install_signals(GMainLoop *loop, daemon_reload_fn reload, void *user);
/* Remove the sources installed by daemon_install_signals (for tests and clean shutdown). */
void daemon_remove_signals(void);

/* A daemon's life on one GLib main loop, for daemon_main(). user is the daemon. */
struct daemon_life {
	const char *prog, *default_config;        /* as for daemon_parse_args() */
	int (*load)(void *user, const char *config_path);   /* < 0: exit 1 (it said why) */
	int (*start)(void *user);                 /* < 0: stop(), exit 1 (it said why) */
	void (*shutdown)(void *user);             /* SIGTERM came: the loop has stopped, the
						   * signal handlers are still in place (NULL:
						   * nothing to do) */
	void (*stop)(void *user);                 /* after start(), whatever it returned */
	daemon_reload_fn reload;                  /* SIGHUP (NULL: logged and ignored) */
};

/* main() of ha and vpngw: the command line (--help, --version: exit 0; usage errors: exit
 * DAEMON_EXIT_USAGE), the log level, load, start, the main loop until SIGTERM or SIGINT,
 * shutdown, stop, and "stopped" logged at notice on log. Returns the exit status: 0, or 1
 * when load or start failed. */
int daemon_main(int argc, char **argv, const struct daemon_life *life, void *user,
		const struct logger *log);

#endif
