/* Control socket: server on the GLib main loop, blocking client (see control.h). */
#include "daemon/control.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/json.h"

#define CONTROL_MAX_RESPONSE (16u * 1024 * 1024)

struct control_client {
	struct control_server *srv;
	int fd;
	GString *in;
	GString *out;
	size_t out_pos;
	GSource *io;        /* fd watch: readable while reading, writable while answering */
	GSource *timeout;
};

struct control_server {
	char *path;
	int fd;
	GSource *listen_src;
	GMainContext *ctx;
	control_handler_fn handler;
	void *user;
	GPtrArray *clients;
	unsigned timeout_ms;
	struct logger lg;
};

static void prog_logger(struct logger *lg, const char *what)
{
	const char *p = g_get_prgname();

	logger_init(lg, "%s%s", p ? p : "control", what);
}

static void client_free(struct control_client *c)
{
	if (c->io) {
		g_source_destroy(c->io);
		g_source_unref(c->io);
	}
	if (c->timeout) {
		g_source_destroy(c->timeout);
		g_source_unref(c->timeout);
	}
	if (c->fd >= 0)
		close(c->fd);
	g_string_free(c->in, TRUE);
	if (c->out)
		g_string_free(c->out, TRUE);
	g_free(c);
}

static void client_close(struct control_client *c)
{
	g_ptr_array_remove_fast(c->srv->clients, c);
	client_free(c);
}

static gboolean on_client_io(gint fd, GIOCondition cond, gpointer data);

static void client_watch(struct control_client *c, GIOCondition cond)
{
	if (c->io) {
		g_source_destroy(c->io);
		g_source_unref(c->io);
	}
	c->io = g_unix_fd_source_new(c->fd, cond);
	g_source_set_callback(c->io, G_SOURCE_FUNC(on_client_io), c, NULL);
	g_source_attach(c->io, c->srv->ctx);
}

/* The request is complete: run the handler, switch to writing the answer. */
static void client_answer(struct control_client *c, const char *canned)
{
	char *resp = NULL;

	if (canned) {
		c->out = g_string_new(canned);
	} else {
		resp = c->srv->handler(c->in->str, c->srv->user);
		c->out = g_string_new(resp ? resp : "{\"error\":\"internal error\"}");
		g_free(resp);
	}
	g_string_append_c(c->out, '\n');
	c->out_pos = 0;
	client_watch(c, G_IO_OUT);
}

/* Returns false when the client was closed. */
static bool client_read(struct control_client *c)
{
	char buf[1024];

	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n < 0) {
			LOG_DEBUG(&c->srv->lg, "client read: %s", strerror(errno));
			client_close(c);
			return false;
		}
		if (n == 0) {          /* the client shut down its side: the line is complete */
			if (c->in->len == 0) {
				client_close(c);
				return false;
			}
			break;
		}
		g_string_append_len(c->in, buf, n);
		nl = memchr(c->in->str, '\n', c->in->len);
		if (nl) {
			g_string_truncate(c->in, (gsize)(nl - c->in->str));
			break;
		}
		if (c->in->len > CONTROL_MAX_REQUEST) {
			LOG_WARNING(&c->srv->lg, "dropped: control request longer than %d bytes",
				    CONTROL_MAX_REQUEST);
			client_answer(c, "{\"error\":\"request too long\"}");
			return true;
		}
	}
	if (c->in->len > 0 && c->in->str[c->in->len - 1] == '\r')
		g_string_truncate(c->in, c->in->len - 1);
	if (c->in->len > CONTROL_MAX_REQUEST || memchr(c->in->str, '\0', c->in->len)) {
		LOG_WARNING(&c->srv->lg, "dropped: control request too long or not text");
		client_answer(c, "{\"error\":\"bad request\"}");
		return true;
	}
	client_answer(c, NULL);
	return true;
}

static void client_write(struct control_client *c)
{
	while (c->out_pos < c->out->len) {
		ssize_t n = send(c->fd, c->out->str + c->out_pos, c->out->len - c->out_pos,
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			LOG_DEBUG(&c->srv->lg, "client write: %s", strerror(errno));
			break;
		}
		c->out_pos += (size_t)n;
	}
	client_close(c);
}

static gboolean on_client_io(gint fd, GIOCondition cond, gpointer data)
{
	struct control_client *c = data;

	(void)fd;
	(void)cond;
	if (!c->out)
		client_read(c);
	else
		client_write(c);
	/* the source was replaced or destroyed by then, or stays as it is */
	return G_SOURCE_CONTINUE;
}

static gboolean on_client_timeout(gpointer data)
{
	struct control_client *c = data;

	LOG_WARNING(&c->srv->lg, "dropped: control client did not finish within %u ms",
		    c->srv->timeout_ms);
	client_close(c);
	return G_SOURCE_REMOVE;
}

static gboolean on_accept(gint lfd, GIOCondition cond, gpointer data)
{
	struct control_server *s = data;
	struct control_client *c;

	(void)cond;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				LOG_WARNING(&s->lg, "accept on %s: %s", s->path, strerror(errno));
			return G_SOURCE_CONTINUE;
		}
		if (s->clients->len >= CONTROL_MAX_CLIENTS) {
			LOG_WARNING(&s->lg, "dropped: more than %d control clients at once",
				    CONTROL_MAX_CLIENTS);
			close(fd);
			continue;
		}
		c = g_new0(struct control_client, 1);
		c->srv = s;
		c->fd = fd;
		c->in = g_string_new(NULL);
		g_ptr_array_add(s->clients, c);
		c->timeout = g_timeout_source_new(s->timeout_ms);
		g_source_set_callback(c->timeout, on_client_timeout, c, NULL);
		g_source_attach(c->timeout, s->ctx);
		client_watch(c, G_IO_IN);
	}
}

static int fill_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

/* Is something accepting connections on path? */
static bool socket_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN;
	close(fd);
	return alive;
}

static struct control_server *start_error(GError **err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static struct control_server *start_error(GError **err, int code, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(err, G_IO_ERROR, g_io_error_from_errno(code), msg);
	g_free(msg);
	return NULL;
}

struct control_server *control_server_start(const char *path, control_handler_fn handler,
					    void *user, GError **err)
{
	struct control_server *s;
	struct sockaddr_un sa;
	struct stat st;
	char *dir;
	int fd, e;

	if (!path || !*path || !handler)
		return start_error(err, EINVAL, "control socket: no path or handler");
	if (fill_addr(path, &sa) < 0)
		return start_error(err, ENAMETOOLONG, "control socket path %s is too long", path);
	dir = g_path_get_dirname(path);
	if (g_mkdir_with_parents(dir, 0755) < 0) {
		e = errno;
		start_error(err, e, "cannot create directory %s for the control socket: %s", dir,
			    g_strerror(e));
		g_free(dir);
		return NULL;
	}
	g_free(dir);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return start_error(err, EEXIST, "%s exists and is not a socket", path);
		if (socket_alive(&sa))
			return start_error(err, EADDRINUSE,
					   "%s is in use: is another instance running?", path);
		if (unlink(path) < 0 && errno != ENOENT) {
			e = errno;
			return start_error(err, e, "cannot remove stale socket %s: %s", path,
					   g_strerror(e));
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		e = errno;
		return start_error(err, e, "control socket: %s", g_strerror(e));
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 16) < 0) {
		e = errno;
		close(fd);
		unlink(path);
		return start_error(err, e, "cannot listen on %s: %s", path, g_strerror(e));
	}
	s = g_new0(struct control_server, 1);
	s->path = g_strdup(path);
	s->fd = fd;
	s->handler = handler;
	s->user = user;
	s->clients = g_ptr_array_new();
	s->timeout_ms = CONTROL_CLIENT_TIMEOUT_MS;
	s->ctx = g_main_context_ref_thread_default();
	prog_logger(&s->lg, "[control]");
	s->listen_src = g_unix_fd_source_new(fd, G_IO_IN);
	g_source_set_callback(s->listen_src, G_SOURCE_FUNC(on_accept), s, NULL);
	g_source_attach(s->listen_src, s->ctx);
	LOG_INFO(&s->lg, "listening on %s", path);
	return s;
}

void control_server_set_timeout(struct control_server *s, unsigned timeout_ms)
{
	if (s)
		s->timeout_ms = timeout_ms ? timeout_ms : CONTROL_CLIENT_TIMEOUT_MS;
}

void control_server_stop(struct control_server *s)
{
	if (!s)
		return;
	while (s->clients->len > 0)
		client_close(g_ptr_array_index(s->clients, 0));
	g_ptr_array_free(s->clients, TRUE);
	g_source_destroy(s->listen_src);
	g_source_unref(s->listen_src);
	close(s->fd);
	unlink(s->path);
	g_main_context_unref(s->ctx);
	g_free(s->path);
	g_free(s);
}

char *control_error_json(const char *request, const char *why)
{
	struct json j;

	json_init(&j);
	json_begin_object(&j);
	json_kv_string(&j, "error", why);
	json_key(&j, "request");
	json_string(&j, request);
	json_end_object(&j);
	return json_finish(&j);
}

/* --- client ----------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline: 1 ready, 0 timed out, negative errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		return n > 0 ? 1 : 0;
	}
}

/* "ha" from "/run/mip4-mobike/ha.sock" */
static char *daemon_name(const char *path)
{
	char *base = g_path_get_basename(path);
	size_t n = strlen(base);

	if (n > 5 && strcmp(base + n - 5, ".sock") == 0)
		base[n - 5] = '\0';
	return base;
}

int control_request(const char *path, const char *line, char **response, int timeout_ms)
{
	struct logger lg;
	struct sockaddr_un sa;
	GString *resp = NULL;
	GString *req;
	int64_t deadline;
	size_t sent = 0;
	int fd, rc = 0;

	if (!path || !line || !response)
		return -EINVAL;
	prog_logger(&lg, "");
	if (strlen(line) > CONTROL_MAX_REQUEST || strchr(line, '\n')) {
		LOG_ERROR(&lg, "control request is longer than %d bytes or has a newline",
			  CONTROL_MAX_REQUEST);
		return -EMSGSIZE;
	}
	if (fill_addr(path, &sa) < 0) {
		LOG_ERROR(&lg, "control socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	if (timeout_ms <= 0)
		timeout_ms = CONTROL_CLIENT_TIMEOUT_MS;
	deadline = now_ms() + timeout_ms;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		LOG_ERROR(&lg, "socket: %s", strerror(-rc));
		return rc;
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		char *name;

		if (errno == EINTR)
			continue;
		rc = -errno;
		if (rc == -EAGAIN) {      /* backlog full: try again until the deadline */
			if (now_ms() >= deadline) {
				rc = -ETIMEDOUT;
				LOG_ERROR(&lg, "no answer from %s within %d ms", path, timeout_ms);
				goto out;
			}
			g_usleep(10000);
			continue;
		}
		name = daemon_name(path);
		if (rc == -EACCES || rc == -EPERM)
			LOG_ERROR(&lg, "cannot connect to %s: %s (run as root?)", path,
				  strerror(-rc));
		else
			LOG_ERROR(&lg, "cannot connect to %s: %s: is %s running?", path,
				  strerror(-rc), name);
		g_free(name);
		goto out;
	}
	req = g_string_new(line);
	g_string_append_c(req, '\n');
	while (sent < req->len) {
		ssize_t n = send(fd, req->str + sent, req->len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc <= 0)
				break;
			continue;
		}
		if (n < 0) {
			rc = -errno;
			break;
		}
		sent += (size_t)n;
		rc = 0;
	}
	g_string_free(req, TRUE);
	if (rc < 0) {
		LOG_ERROR(&lg, "cannot send to %s: %s", path, strerror(-rc));
		goto out;
	}
	if (sent < strlen(line) + 1) {
		rc = -ETIMEDOUT;
		LOG_ERROR(&lg, "no answer from %s within %d ms", path, timeout_ms);
		goto out;
	}
	resp = g_string_new(NULL);
	for (;;) {
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			rc = wait_fd(fd, POLLIN, deadline);
			if (rc < 0) {
				LOG_ERROR(&lg, "poll: %s", strerror(-rc));
				goto out;
			}
			if (rc == 0) {
				rc = -ETIMEDOUT;
				LOG_ERROR(&lg, "no answer from %s within %d ms", path, timeout_ms);
				goto out;
			}
			continue;
		}
		if (n < 0) {
			rc = -errno;
			LOG_ERROR(&lg, "cannot read from %s: %s", path, strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		if (resp->len + (size_t)n > CONTROL_MAX_RESPONSE) {
			rc = -EMSGSIZE;
			LOG_ERROR(&lg, "answer from %s is larger than %u bytes", path,
				  CONTROL_MAX_RESPONSE);
			goto out;
		}
		g_string_append_len(resp, buf, n);
	}
	if (resp->len == 0) {
		rc = -ECONNRESET;
		LOG_ERROR(&lg, "%s closed the connection without an answer", path);
		goto out;
	}
	while (resp->len > 0 && (resp->str[resp->len - 1] == '\n' ||
				 resp->str[resp->len - 1] == '\r'))
		g_string_truncate(resp, resp->len - 1);
	*response = strdup(resp->str);
	rc = *response ? 0 : -ENOMEM;
out:
	if (resp)
		g_string_free(resp, TRUE);
	close(fd);
	return rc;
}
