/* Replace a file atomically: a reader sees the old or the new contents, never a mixture, and
 * after a crash or power loss the file holds one of the two (RFC-free, POSIX): write a
 * temporary file in the same directory, fsync it, rename() it over path, fsync the
 * directory.
 */
#ifndef MM_DAEMON_ATOMIC_FILE_H
#define MM_DAEMON_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

#define ATOMIC_FILE_DEFAULT_MODE 0644

/* Write data[0..len) to path with permission bits mode (applied with fchmod, so the umask
 * does not narrow them). The directory must exist. Returns 0 or a negative errno; nothing
 * is logged (the caller knows what the file is for); on failure path is unchanged and the
 * temporary file is removed. */
int atomic_write_file_mode(const char *path, const void *data, size_t len, mode_t mode);
/* The same with mode ATOMIC_FILE_DEFAULT_MODE. */
int atomic_write_file_default(const char *path, const void *data, size_t len);

/* For a running daemon's status file: replaced atomically for readers (temporary file and
 * rename(), mode ATOMIC_FILE_DEFAULT_MODE) but not made durable, no fsync. A status file
 * describes the process that is running (it belongs on /run), so after a power loss its
 * contents do not matter; and it is rewritten on the packet path (mnd after a MOBIKE move),
 * where the two fsyncs cost 1-3 ms on a virtual disk, measured, before the packets that
 * waited for the move are read. Same returns as atomic_write_file_mode(). */
int atomic_publish_file(const char *path, const void *data, size_t len);

/* atomic_write_file(path, data, len, mode) or atomic_write_file(path, data, len) (0644). */
#define ATOMIC_FILE_PICK_(a, b, c, d, name, ...) name
#define atomic_write_file(...) \
	ATOMIC_FILE_PICK_(__VA_ARGS__, atomic_write_file_mode, atomic_write_file_default, \
			  atomic_write_file_too_few_arguments_, )(__VA_ARGS__)

#endif
