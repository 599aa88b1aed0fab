/* Common daemon start-up: command line, logging, signals; main() itself (see daemon.h). */
#include "daemon/daemon.h"

#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef MM_VERSION
#define MM_VERSION "0.1.0"
#endif

static void usage(FILE *f, const char *prog, const char *default_config)
{
	fprintf(f,
		"Usage: %s [--config FILE] [--log-level LEVEL]\n"
		"  -c, --config FILE       configuration file (default %s)\n"
		"  -l, --log-level LEVEL   error, warning, notice, info or debug (default notice,\n"
		"                          or $MM_LOG_LEVEL)\n"
		"  -h, --help              show this help and exit\n"
		"  -V, --version           show the version and exit\n",
		prog, default_config ? default_config : "(none)");
}

static int __attribute__((format(printf, 3, 4)))
usage_error(const char *prog, const char *default_config, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr, prog, default_config);
	return -EINVAL;
}

/* "--name=value" / "--name value" / "-x value": the value, or NULL (usage error printed). */
static const char *option_value(int argc, char **argv, int *i, const char *longname,
				const char *shortname, bool *matched)
{
	const char *a = argv[*i];
	size_t ln = strlen(longname);

	*matched = false;
	if (strncmp(a, longname, ln) == 0 && a[ln] == '=') {
		*matched = true;
		return a + ln + 1;
	}
	if (strcmp(a, longname) != 0 && strcmp(a, shortname) != 0)
		return NULL;
	*matched = true;
	if (*i + 1 >= argc)
		return NULL;
	(*i)++;
	return argv[*i];
}

int daemon_parse_args(int argc, char **argv, const char *prog, const char *default_config,
		      struct daemon_opts *out)
{
	struct daemon_opts o = {
		.config_path = default_config,
		.level = log_get_level(),
		.level_given = false,
	};
	bool matched;

	if (!prog || !out)
		return -EINVAL;
	g_set_prgname(prog);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout, prog, default_config);
			return 1;
		}
		if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("%s (mip4-mobike) %s\n", prog, MM_VERSION);
			return 1;
		}
		v = option_value(argc, argv, &i, "--config", "-c", &matched);
		if (matched) {
			if (!v || !*v)
				return usage_error(prog, default_config,
						   "option %s needs a file name", a);
			o.config_path = v;
			continue;
		}
		v = option_value(argc, argv, &i, "--log-level", "-l", &matched);
		if (matched) {
			if (!v)
				return usage_error(prog, default_config,
						   "option %s needs a level", a);
			if (log_level_from_string(v, &o.level) < 0)
				return usage_error(prog, default_config,
						   "unknown log level \"%s\" (error, warning, "
						   "notice, info, debug)", v);
			o.level_given = true;
			continue;
		}
		if (a[0] == '-')
			return usage_error(prog, default_config, "unknown option %s", a);
		return usage_error(prog, default_config, "unexpected argument \"%s\"", a);
	}
	if (!o.config_path)
		return usage_error(prog, default_config, "%s", "no configuration file (--config)");
	*out = o;
	return 0;
}

void daemon_setup_logging(const struct daemon_opts *opts)
{
	if (opts && opts->level_given)
		log_set_level(opts->level);
}

static struct {
	guint src[3];
	GMainLoop *loop;
	daemon_reload_fn reload;
	void *user;
	struct logger lg;
} sig;

static gboolean on_quit_signal(gpointer data)
{
	const char *name = data;

	LOG_NOTICE(&sig.lg, "%s: shutting down", name);
	if (sig.loop)
		g_main_loop_quit(sig.loop);
	return G_SOURCE_CONTINUE;
}

static gboolean on_hup(gpointer data)
{
	(void)data;
	if (sig.reload) {
		LOG_NOTICE(&sig.lg, "SIGHUP: reloading");
		sig.reload(sig.user);
	} else {
		LOG_INFO(&sig.lg, "SIGHUP: nothing to reload (ignored)");
	}
	return G_SOURCE_CONTINUE;
}

void daemon_remove_signals(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(sig.src); i++) {
		if (sig.src[i])
			g_source_remove(sig.src[i]);
		sig.src[i] = 0;
	}
	sig.loop = NULL;
	sig.reload = NULL;
	sig.user = NULL;
}

void daemon_install_signals(GMainLoop *loop, daemon_reload_fn reload, void *user)
{
	const char *p = g_get_prgname();

	daemon_remove_signals();
	logger_init(&sig.lg, "%s", p ? p : "daemon");
	signal(SIGPIPE, SIG_IGN);
	sig.loop = loop;
	sig.reload = reload;
	sig.user = user;
	sig.src[0] = g_unix_signal_add(SIGTERM, on_quit_signal, (gpointer)"SIGTERM");
	sig.src[1] = g_unix_signal_add(SIGINT, on_quit_signal, (gpointer)"SIGINT");
	sig.src[2] = g_unix_signal_add(SIGHUP, on_hup, NULL);
}

int daemon_main(int argc, char **argv, const struct daemon_life *life, void *user,
		const struct logger *log)
{
	struct daemon_opts o;
	GMainLoop *loop;
	int rc;

	rc = daemon_parse_args(argc, argv, life->prog, life->default_config, &o);
	if (rc != 0)
		return rc > 0 ? 0 : DAEMON_EXIT_USAGE;
	daemon_setup_logging(&o);
	if (life->load(user, o.config_path) < 0)
		return 1;
	loop = g_main_loop_new(NULL, FALSE);
	if (life->start(user) < 0) {
		life->stop(user);
		g_main_loop_unref(loop);
		return 1;
	}
	daemon_install_signals(loop, life->reload, user);
	g_main_loop_run(loop);
	if (life->shutdown)
		life->shutdown(user);
	daemon_remove_signals();
	life->stop(user);
	g_main_loop_unref(loop);
	LOG_NOTICE(log, "stopped");
	return 0;
}
