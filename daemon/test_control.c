/* Unit tests for daemon/control.{h,c}: a real unix socket in a mkdtemp directory, the server
 * driven by iterating the GMainContext, the blocking client in a thread. */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/control.h"
#include "daemon/test_capture.h"
#include "tests/unit/tap.h"

static char dir[] = "/tmp/mm-control-XXXXXX";
static char sock_path[256];
static int handled;

static char *handler(const char *req, void *user)
{
	(void)user;
	handled++;
	if (strcmp(req, "null") == 0)
		return NULL;
	if (strcmp(req, "big") == 0) {
		GString *g = g_string_new("\"");

		for (int i = 0; i < 200000; i++)
			g_string_append_c(g, (char)('a' + i % 26));
		g_string_append_c(g, '"');
		return g_string_free(g, FALSE);
	}
	return g_strdup_printf("{\"request\":\"%s\",\"len\":%zu}", req, strlen(req));
}

struct call {
	const char *path;
	const char *line;
	int timeout_ms;
	char *response;
	int rc;
	gint done;
};

static gpointer client_thread(gpointer data)
{
	struct call *c = data;

	c->rc = control_request(c->path, c->line, &c->response, c->timeout_ms);
	g_atomic_int_set(&c->done, 1);
	return NULL;
}

/* Run control_request in a thread while this thread iterates the main context. */
static int call(const char *path, const char *line, int timeout_ms, char **response)
{
	struct call c = { .path = path, .line = line, .timeout_ms = timeout_ms };
	GThread *t = g_thread_new("client", client_thread, &c);

	while (!g_atomic_int_get(&c.done)) {
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_usleep(1000);
	}
	g_thread_join(t);
	*response = c.response;
	return c.rc;
}

static void iterate_for(int ms)
{
	gint64 end = g_get_monotonic_time() + ms * 1000;

	while (g_get_monotonic_time() < end) {
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_usleep(1000);
	}
}

static void fill_sun(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n >= sizeof(sa->sun_path))
		n = sizeof(sa->sun_path) - 1;
	memcpy(sa->sun_path, path, n);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	fill_sun(&sa, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read everything until EOF, iterating the main loop meanwhile. */
static char *raw_read_all(int fd)
{
	GString *g = g_string_new(NULL);
	char buf[512];

	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 5000; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == 0)
			break;
		if (n > 0) {
			g_string_append_len(g, buf, n);
			continue;
		}
		while (g_main_context_iteration(NULL, FALSE))
			;
		g_usleep(1000);
	}
	return g_string_free(g, FALSE);
}

static void test_round_trip(struct control_server *s)
{
	char *resp = NULL;
	struct stat st;
	char *parent;
	int fd;

	(void)s;
	CHECK(stat(sock_path, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK_EQ_U64(st.st_mode & 0777, 0660);
	parent = g_path_get_dirname(sock_path);
	CHECK(stat(parent, &st) == 0 && (st.st_mode & 0777) == 0755);
	g_free(parent);

	CHECK_EQ_U64(call(sock_path, "list --json", 2000, &resp), 0);
	CHECK_STR(resp, "{\"request\":\"list --json\",\"len\":11}");
	free(resp);
	CHECK_EQ_U64(call(sock_path, "", 2000, &resp), 0);   /* an empty line is a request */
	CHECK_STR(resp, "{\"request\":\"\",\"len\":0}");
	free(resp);
	CHECK_EQ_U64(call(sock_path, "null", 2000, &resp), 0);
	CHECK_STR(resp, "{\"error\":\"internal error\"}");
	free(resp);
	CHECK_EQ_U64(call(sock_path, "big", 5000, &resp), 0);
	CHECK(resp && strlen(resp) == 200002);
	free(resp);

	/* raw clients: CRLF, text after the first line ignored, EOF without newline */
	fd = raw_connect(sock_path);
	CHECK(write(fd, "stats\r\nmore\n", 12) == 12);
	resp = raw_read_all(fd);
	CHECK_STR(resp, "{\"request\":\"stats\",\"len\":5}\n");
	g_free(resp);
	close(fd);
	fd = raw_connect(sock_path);
	CHECK(write(fd, "list", 4) == 4);
	shutdown(fd, SHUT_WR);
	resp = raw_read_all(fd);
	CHECK_STR(resp, "{\"request\":\"list\",\"len\":4}\n");
	g_free(resp);
	close(fd);
	/* connect and close: no handler call */
	handled = 0;
	fd = raw_connect(sock_path);
	close(fd);
	iterate_for(20);
	CHECK_EQ_U64(handled, 0);
}

static void test_bad_clients(struct control_server *s)
{
	char big[CONTROL_MAX_REQUEST + 100];
	const char *log;
	char *resp;
	int fd, slow;

	/* a request longer than 4 KiB */
	memset(big, 'x', sizeof(big));
	fd = raw_connect(sock_path);
	CHECK(write(fd, big, sizeof(big)) == (ssize_t)sizeof(big));
	capture_start();
	resp = raw_read_all(fd);
	log = capture_end();
	CHECK_STR(resp, "{\"error\":\"request too long\"}\n");
	CHECK_ONE_LINE(log, "dropped: control request longer than 4096 bytes");
	g_free(resp);
	close(fd);
	/* a NUL byte in the line */
	fd = raw_connect(sock_path);
	CHECK(write(fd, "li\0st\n", 6) == 6);
	capture_start();
	resp = raw_read_all(fd);
	log = capture_end();
	CHECK_STR(resp, "{\"error\":\"bad request\"}\n");
	CHECK_ONE_LINE(log, "dropped: control request too long or not text");
	g_free(resp);
	close(fd);

	/* a slow client does not block others, and is dropped after the time limit */
	control_server_set_timeout(s, 300);
	slow = raw_connect(sock_path);
	CHECK(write(slow, "li", 2) == 2);
	CHECK_EQ_U64(call(sock_path, "status", 2000, &resp), 0);
	CHECK_STR(resp, "{\"request\":\"status\",\"len\":6}");
	free(resp);
	capture_start();
	resp = raw_read_all(slow);
	log = capture_end();
	CHECK_STR(resp, "");
	CHECK_ONE_LINE(log, "dropped: control client did not finish within 300 ms");
	g_free(resp);
	close(slow);
	control_server_set_timeout(s, 0);

	/* a client that goes away before reading the answer does not hurt (SIGPIPE) */
	fd = raw_connect(sock_path);
	CHECK(write(fd, "big\n", 4) == 4);
	close(fd);
	iterate_for(50);
	CHECK_EQ_U64(call(sock_path, "after", 2000, &resp), 0);
	CHECK_STR(resp, "{\"request\":\"after\",\"len\":5}");
	free(resp);
}

static void test_start_errors(void)
{
	struct control_server *s2;
	struct sockaddr_un sa;
	GError *err = NULL;
	char other[300];
	int fd;

	/* someone listens already */
	s2 = control_server_start(sock_path, handler, NULL, &err);
	CHECK(s2 == NULL);
	CHECK(err && strstr(err->message, "is in use: is another instance running?"));
	g_clear_error(&err);

	/* a stale socket (bound, then its process died) is replaced */
	snprintf(other, sizeof(other), "%s/stale.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	fill_sun(&sa, other);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(fd);
	s2 = control_server_start(other, handler, NULL, &err);
	CHECK(s2 != NULL);
	control_server_stop(s2);
	CHECK(access(other, F_OK) < 0);   /* stop unlinks */

	/* a regular file is never removed */
	fd = open(other, O_CREAT | O_WRONLY, 0600);
	close(fd);
	s2 = control_server_start(other, handler, NULL, &err);
	CHECK(s2 == NULL);
	CHECK(err && strstr(err->message, "exists and is not a socket"));
	g_clear_error(&err);
	CHECK(access(other, F_OK) == 0);
	unlink(other);

	/* a path that does not fit sun_path */
	memset(other, 'a', sizeof(other) - 1);
	other[0] = '/';
	other[sizeof(other) - 1] = '\0';
	s2 = control_server_start(other, handler, NULL, &err);
	CHECK(s2 == NULL && err && strstr(err->message, "too long"));
	g_clear_error(&err);
	control_server_stop(NULL);
}

static void test_client_errors(void)
{
	struct sockaddr_un sa;
	char missing[300], mute[300];
	const char *log;
	char *resp = (char *)"untouched";
	int fd;

	snprintf(missing, sizeof(missing), "%s/run/ha.sock", dir);
	capture_start();
	CHECK_EQ_U64(control_request(missing, "list", &resp, 500), (uint64_t)-ENOENT);
	log = capture_end();
	{
		char *want = g_strdup_printf("cannot connect to %s: No such file or directory: "
					     "is ha running?\n", missing);

		CHECK_ONE_LINE(log, want);
		g_free(want);
	}
	CHECK_STR(resp, "untouched");

	/* a socket nobody listens on */
	snprintf(mute, sizeof(mute), "%s/mnd.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	fill_sun(&sa, mute);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	capture_start();
	CHECK_EQ_U64(control_request(mute, "list", &resp, 500), (uint64_t)-ECONNREFUSED);
	log = capture_end();
	CHECK_ONE_LINE(log, "Connection refused: is mnd running?");
	/* listening but never answering: the client gives up */
	CHECK(listen(fd, 4) == 0);
	capture_start();
	CHECK_EQ_U64(control_request(mute, "list", &resp, 200), (uint64_t)-ETIMEDOUT);
	log = capture_end();
	CHECK_ONE_LINE(log, "no answer from ");
	CHECK_ONE_LINE(log, "within 200 ms");
	close(fd);
	unlink(mute);

	/* bad requests are refused before connecting */
	capture_start();
	CHECK_EQ_U64(control_request(missing, "a\nb", &resp, 500), (uint64_t)-EMSGSIZE);
	log = capture_end();
	CHECK_ONE_LINE(log, "has a newline");
	CHECK_EQ_U64(control_request(NULL, "x", &resp, 500), (uint64_t)-EINVAL);
	CHECK_STR(resp, "untouched");
}

/* The error answer: the reason and the request, both escaped. */
static void test_error_json(void)
{
	char *doc = control_error_json("rekey \"x\"\n", "unknown request: try \"list\"");

	CHECK_STR(doc, "{\"error\":\"unknown request: try \\\"list\\\"\","
		  "\"request\":\"rekey \\\"x\\\"\\u000a\"}");
	g_free(doc);
}

int main(void)
{
	struct control_server *s;
	GError *err = NULL;

	g_set_prgname("test");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(sock_path, sizeof(sock_path), "%s/run/mip4-mobike/ha.sock", dir);
	s = control_server_start(sock_path, handler, NULL, &err);
	CHECK(s != NULL);
	if (!s) {
		printf("# %s\n", err ? err->message : "?");
		return tap_done();
	}
	test_round_trip(s);
	test_bad_clients(s);
	test_start_errors();
	test_client_errors();
	test_error_json();
	control_server_stop(s);
	CHECK(access(sock_path, F_OK) < 0);

	{
		char *a = g_strdup_printf("%s/run/mip4-mobike", dir);
		char *b = g_strdup_printf("%s/run", dir);

		CHECK(rmdir(a) == 0 && rmdir(b) == 0 && rmdir(dir) == 0);
		g_free(a);
		g_free(b);
	}
	capture_free();
	return tap_done();
}
