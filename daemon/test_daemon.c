/* Unit tests for daemon/daemon.{h,c}: command line, logging level, signal handling, main(). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/test_capture.h"
#include "tests/unit/tap.h"

#define DEF "/etc/mip4-mobike/ha.conf"

/* Run daemon_parse_args with stdout and stderr sent to files; their text is returned. */
static char out_text[4096], err_text[4096];

static void slurp_fd(int fd, char *buf, size_t cap)
{
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, cap - 1);
	buf[n > 0 ? n : 0] = '\0';
}

static int parse(struct daemon_opts *o, int argc, const char **argv)
{
	char t1[] = "/tmp/mm-daemon-out-XXXXXX", t2[] = "/tmp/mm-daemon-err-XXXXXX";
	int f1 = mkstemp(t1), f2 = mkstemp(t2);
	int s1 = dup(1), s2 = dup(2), rc;

	fflush(stdout);
	fflush(stderr);
	dup2(f1, 1);
	dup2(f2, 2);
	rc = daemon_parse_args(argc, (char **)argv, "ha", DEF, o);
	fflush(stdout);
	fflush(stderr);
	dup2(s1, 1);
	dup2(s2, 2);
	close(s1);
	close(s2);
	slurp_fd(f1, out_text, sizeof(out_text));
	slurp_fd(f2, err_text, sizeof(err_text));
	close(f1);
	close(f2);
	unlink(t1);
	unlink(t2);
	return rc;
}

#define ARGS(...) (const char *[]){ "ha", __VA_ARGS__, NULL }
#define NARGS(...) ((int)(sizeof((const char *[]){ "ha", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, ...) parse((o), NARGS(__VA_ARGS__), ARGS(__VA_ARGS__))

static void test_args(void)
{
	struct daemon_opts o, keep = { .config_path = "keep", .level = LOG_LEVEL_ERROR };
	const char *argv0[] = { "ha", NULL };

	log_set_level(LOG_LEVEL_NOTICE);
	CHECK_EQ_U64(parse(&o, 1, argv0), 0);
	CHECK_STR(o.config_path, DEF);
	CHECK_EQ_U64(o.level, LOG_LEVEL_NOTICE);
	CHECK(!o.level_given);
	CHECK_STR(g_get_prgname(), "ha");

	CHECK_EQ_U64(PARSE(&o, "--config", "/tmp/ha.conf", "--log-level", "debug"), 0);
	CHECK_STR(o.config_path, "/tmp/ha.conf");
	CHECK_EQ_U64(o.level, LOG_LEVEL_DEBUG);
	CHECK(o.level_given);
	CHECK_EQ_U64(PARSE(&o, "-c", "a.conf", "-l", "info"), 0);
	CHECK_STR(o.config_path, "a.conf");
	CHECK_EQ_U64(o.level, LOG_LEVEL_INFO);
	CHECK_EQ_U64(PARSE(&o, "--config=b.conf", "--log-level=warning"), 0);
	CHECK_STR(o.config_path, "b.conf");
	CHECK_EQ_U64(o.level, LOG_LEVEL_WARNING);
	CHECK_STR(out_text, "");
	CHECK_STR(err_text, "");

	o = keep;
	CHECK_EQ_U64(PARSE(&o, "--help"), 1);
	CHECK(strstr(out_text, "Usage: ha [--config FILE] [--log-level LEVEL]") != NULL);
	CHECK(strstr(out_text, DEF) != NULL);
	CHECK_STR(o.config_path, "keep");
	CHECK_EQ_U64(PARSE(&o, "-c", "x", "-h"), 1);
	CHECK_EQ_U64(PARSE(&o, "--version"), 1);
	CHECK(strncmp(out_text, "ha (mip4-mobike) ", 17) == 0);
	CHECK_EQ_U64(PARSE(&o, "-V"), 1);

	CHECK_EQ_U64(PARSE(&o, "--foreground"), (uint64_t)-EINVAL);
	CHECK(strncmp(err_text, "ha: unknown option --foreground\nUsage: ha", 41) == 0);
	CHECK_STR(out_text, "");
	CHECK_EQ_U64(PARSE(&o, "extra"), (uint64_t)-EINVAL);
	CHECK(strstr(err_text, "ha: unexpected argument \"extra\"\n") == err_text);
	CHECK_EQ_U64(PARSE(&o, "--config"), (uint64_t)-EINVAL);
	CHECK(strstr(err_text, "ha: option --config needs a file name\n") == err_text);
	CHECK_EQ_U64(PARSE(&o, "--config="), (uint64_t)-EINVAL);
	CHECK_EQ_U64(PARSE(&o, "-l"), (uint64_t)-EINVAL);
	CHECK(strstr(err_text, "ha: option -l needs a level\n") == err_text);
	CHECK_EQ_U64(PARSE(&o, "--log-level", "loud"), (uint64_t)-EINVAL);
	CHECK(strstr(err_text, "ha: unknown log level \"loud\"") == err_text);
	CHECK_EQ_U64(PARSE(&o, "--configx", "y"), (uint64_t)-EINVAL);
	CHECK_STR(o.config_path, "keep");   /* untouched on every error */
	CHECK_EQ_U64(o.level, LOG_LEVEL_ERROR);
	CHECK_EQ_U64(DAEMON_EXIT_USAGE, 2);

	/* no default and no --config */
	{
		const char *argv1[] = { "hactl", NULL };
		int rc;
		int s2 = dup(2), devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 2);
		rc = daemon_parse_args(1, (char **)argv1, "ha", NULL, &o);
		dup2(s2, 2);
		close(s2);
		close(devnull);
		CHECK_EQ_U64(rc, (uint64_t)-EINVAL);
	}

	/* logging level applied only when given */
	CHECK_EQ_U64(PARSE(&o, "-l", "debug"), 0);
	daemon_setup_logging(&o);
	CHECK_EQ_U64(log_get_level(), LOG_LEVEL_DEBUG);
	CHECK_EQ_U64(PARSE(&o, "-c", "x"), 0);
	daemon_setup_logging(&o);
	CHECK_EQ_U64(log_get_level(), LOG_LEVEL_DEBUG);
	log_set_level(LOG_LEVEL_INFO);
}

static int reloads;

static void on_reload(void *user)
{
	*(int *)user += 1;
}

static gboolean give_up(gpointer data)
{
	*(bool *)data = true;
	return G_SOURCE_REMOVE;
}

static void test_signals(void)
{
	GMainLoop *loop = g_main_loop_new(NULL, FALSE);
	bool timed_out = false;
	guint guard;
	const char *log;

	daemon_install_signals(loop, on_reload, &reloads);
	capture_start();
	raise(SIGHUP);
	for (int i = 0; i < 200 && reloads == 0; i++) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	log = capture_end();
	CHECK_EQ_U64(reloads, 1);
	CHECK_ONE_LINE(log, "<5>ha: SIGHUP: reloading\n");

	/* SIGPIPE is ignored */
	raise(SIGPIPE);
	CHECK(1);

	/* SIGTERM and SIGINT quit the loop */
	guard = g_timeout_add(3000, give_up, &timed_out);
	capture_start();
	raise(SIGTERM);
	g_main_loop_run(loop);
	log = capture_end();
	CHECK(!timed_out);
	CHECK_ONE_LINE(log, "<5>ha: SIGTERM: shutting down\n");
	capture_start();
	raise(SIGINT);
	g_main_loop_run(loop);
	log = capture_end();
	CHECK(!timed_out);
	CHECK_ONE_LINE(log, "SIGINT: shutting down");
	g_source_remove(guard);

	/* without a reload callback SIGHUP is harmless */
	daemon_install_signals(loop, NULL, NULL);
	capture_start();
	raise(SIGHUP);
	for (int i = 0; i < 50; i++) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	log = capture_end();
	CHECK_EQ_U64(reloads, 1);
	CHECK_ONE_LINE(log, "<6>ha: SIGHUP: nothing to reload (ignored)\n");
	daemon_remove_signals();
	daemon_remove_signals();
	g_main_loop_unref(loop);
}

/* daemon_main with a fake daemon that records its calls: L load, S start, R reload (SIGHUP),
 * D shutdown, T stop. */
struct fake {
	char calls[16];
	int load_rc, start_rc;
	const char *config;
	struct logger log;
};

static void called(struct fake *f, char c)
{
	size_t n = strlen(f->calls);

	if (n + 1 < sizeof(f->calls)) {
		f->calls[n] = c;
		f->calls[n + 1] = '\0';
	}
}

static gboolean send_hup(gpointer data)
{
	(void)data;
	raise(SIGHUP);
	return G_SOURCE_REMOVE;
}

static int f_load(void *user, const char *config_path)
{
	struct fake *f = user;

	called(f, 'L');
	f->config = config_path;
	return f->load_rc;
}

static int f_start(void *user)
{
	struct fake *f = user;

	called(f, 'S');
	if (f->start_rc == 0)
		g_idle_add(send_hup, NULL);
	return f->start_rc;
}

static void f_reload(void *user)
{
	called(user, 'R');
	raise(SIGTERM);
}

static void f_shutdown(void *user)
{
	called(user, 'D');
}

static void f_stop(void *user)
{
	called(user, 'T');
}

/* daemon_main with stdout and stderr sent to /dev/null, the log captured into *log. */
static int run_main(const struct daemon_life *life, struct fake *f, const char **argv,
		    const char **log)
{
	int s1 = dup(1), s2 = dup(2), devnull = open("/dev/null", O_WRONLY), argc = 0, rc;

	while (argv[argc])
		argc++;
	memset(f->calls, 0, sizeof(f->calls));
	f->config = NULL;
	logger_init(&f->log, "fake");
	fflush(stdout);
	dup2(devnull, 1);
	dup2(devnull, 2);
	capture_start();
	rc = daemon_main(argc, (char **)argv, life, f, &f->log);
	*log = capture_end();
	fflush(stdout);
	dup2(s1, 1);
	dup2(s2, 2);
	close(s1);
	close(s2);
	close(devnull);
	return rc;
}

static void test_main(void)
{
	struct daemon_life life = {
		.prog = "fake",
		.default_config = "/etc/fake.conf",
		.load = f_load,
		.start = f_start,
		.shutdown = f_shutdown,
		.stop = f_stop,
		.reload = f_reload,
	};
	const char *argv_c[] = { "fake", "-c", "/tmp/x.conf", NULL };
	const char *argv0[] = { "fake", NULL };
	const char *argv_help[] = { "fake", "--help", NULL };
	const char *argv_bad[] = { "fake", "--bad", NULL };
	struct fake f;
	const char *log;

	memset(&f, 0, sizeof(f));
	/* Load, start, the loop until SIGTERM (here after a SIGHUP), shutdown, stop. */
	CHECK_EQ_U64(run_main(&life, &f, argv_c, &log), 0);
	CHECK_STR(f.calls, "LSRDT");
	CHECK_STR(f.config, "/tmp/x.conf");
	CHECK(strstr(log, "<5>fake: SIGTERM: shutting down\n") != NULL);
	CHECK(strstr(log, "<5>fake: stopped\n") != NULL);
	/* No shutdown step; the default configuration file. */
	life.shutdown = NULL;
	CHECK_EQ_U64(run_main(&life, &f, argv0, &log), 0);
	CHECK_STR(f.calls, "LSRT");
	CHECK_STR(f.config, "/etc/fake.conf");
	/* Start fails: stop, exit 1, no "stopped". */
	f.start_rc = -EADDRINUSE;
	CHECK_EQ_U64(run_main(&life, &f, argv0, &log), 1);
	CHECK_STR(f.calls, "LST");
	CHECK(strstr(log, "stopped") == NULL);
	/* Load fails: nothing else, exit 1. */
	f.load_rc = -EINVAL;
	CHECK_EQ_U64(run_main(&life, &f, argv0, &log), 1);
	CHECK_STR(f.calls, "L");
	/* --help: exit 0; a usage error: exit 2; neither loads anything. */
	CHECK_EQ_U64(run_main(&life, &f, argv_help, &log), 0);
	CHECK_STR(f.calls, "");
	CHECK_EQ_U64(run_main(&life, &f, argv_bad, &log), DAEMON_EXIT_USAGE);
	CHECK_STR(f.calls, "");
}

int main(void)
{
	test_args();
	test_signals();
	test_main();
	capture_free();
	return tap_done();
}
