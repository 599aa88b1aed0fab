/* Atomic file replacement (see atomic_file.h). */
#include "daemon/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Directory part of path into dir ("." when there is none). */
static int dir_of(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash) {
		if (cap < 2)
			return -ENAMETOOLONG;
		strcpy(dir, ".");
		return 0;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n + 1 > cap)
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int replace_file(const char *path, const void *data, size_t len, mode_t mode,
			bool durable)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, dfd, rc;

	if (!path || !*path || (!data && len))
		return -EINVAL;
	if (path[strlen(path) - 1] == '/')
		return -EISDIR;
	rc = dir_of(path, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, data, len);
	if (rc == 0 && fchmod(fd, mode & 07777) < 0)
		rc = -errno;
	if (rc == 0 && durable && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	if (!durable)
		return 0;
	/* Make the rename itself durable. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd) < 0)
		rc = -errno;
	close(dfd);
	return rc;
}

int atomic_write_file_mode(const char *path, const void *data, size_t len, mode_t mode)
{
	return replace_file(path, data, len, mode, true);
}

int atomic_publish_file(const char *path, const void *data, size_t len)
{
	return replace_file(path, data, len, ATOMIC_FILE_DEFAULT_MODE, false);
}

int atomic_write_file_default(const char *path, const void *data, size_t len)
{
	return atomic_write_file_mode(path, data, len, ATOMIC_FILE_DEFAULT_MODE);
}
