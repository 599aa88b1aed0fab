/* The daemons' control socket: a unix stream socket on the GLib main loop. A client sends
 * ONE request line (at most CONTROL_MAX_REQUEST bytes, ending in '\n' or at its shutdown of
 * the write side); the handler returns a JSON document; the server writes it followed by
 * '\n' and closes. The server never blocks: clients are read and written with non-blocking
 * I/O from the main loop, and a client that has not finished within CONTROL_CLIENT_TIMEOUT_MS
 * is dropped.
 */
#ifndef MM_DAEMON_CONTROL_H
#define MM_DAEMON_CONTROL_H

#include <glib.h>

#define CONTROL_MAX_REQUEST 4096
#define CONTROL_CLIENT_TIMEOUT_MS 5000
#define CONTROL_MAX_CLIENTS 32          /* more at once are closed immediately */

/* request: the line without its '\n' (and without a trailing '\r'), NUL-terminated, at most
 * CONTROL_MAX_REQUEST bytes. Returns a newly allocated (g_malloc) JSON document that the
 * server frees; NULL makes the server answer {"error":"internal error"}. Runs on the main
 * loop: it must not block. */
typedef char *(*control_handler_fn)(const char *request, void *user);

struct control_server;

/* Listen on path (mode 0660) on the thread-default main context. The parent directory is
 * created with mode 0755 if missing. An existing socket file is removed only when nothing
 * accepts connections on it (a stale socket from a crashed daemon); if another process
 * listens, this fails with "PATH is in use: is another instance running?". NULL on error
 * with *err set (G_IO_ERROR domain, message naming the path). */
struct control_server *control_server_start(const char *path, control_handler_fn handler,
					    void *user, GError **err);
/* Change the per-client time limit (CONTROL_CLIENT_TIMEOUT_MS by default); for tests. */
void control_server_set_timeout(struct control_server *s, unsigned timeout_ms);
/* Close the listener and all clients and unlink the socket. NULL is allowed. */
void control_server_stop(struct control_server *s);

/* The answer to a request the handler refuses: {"error":why,"request":request} (g_malloc'd;
 * NULL only if the JSON writer fails). */
char *control_error_json(const char *request, const char *why);

/* Client (for hactl, mnctl, ...; blocking, no main loop needed): connect to path, send line
 * + '\n', read the whole answer until the server closes, within timeout_ms overall (<= 0:
 * CONTROL_CLIENT_TIMEOUT_MS). On
 * success *response is the answer without its trailing newline (free()) and 0 is returned.
 * Errors are logged once with a clear message and returned:
 *	-ENOENT/-ECONNREFUSED  "cannot connect to /run/mip4-mobike/ha.sock: No such file or
 *	                       directory: is ha running?"  (the name is the socket's basename
 *	                       without ".sock")
 *	-EACCES                "... Permission denied (run as root?)"
 *	-ETIMEDOUT             "no answer from PATH within N ms"
 *	-EMSGSIZE              answer larger than 16 MiB, or line longer than CONTROL_MAX_REQUEST
 */
int control_request(const char *path, const char *line, char **response, int timeout_ms);

#endif
