/* /proc/sys writes. See sysctl.h. */
#include "ha/sysctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int full_path(const char *key, char path[256])
{
	int n;

	if (!key || key[0] == '/' || strstr(key, ".."))
		return -EINVAL;
	n = snprintf(path, 256, "/proc/sys/%s", key);
	if (n < 0 || n >= 256)
		return -ENAMETOOLONG;
	return 0;
}

int ha_sysctl_get(const char *key, char *buf, size_t size)
{
	char path[256];
	ssize_t r;
	int fd, rc;

	if (!buf || size == 0)
		return -EINVAL;
	if ((rc = full_path(key, path)) < 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read(fd, buf, size - 1);
	rc = r < 0 ? -errno : 0;
	close(fd);
	if (rc < 0)
		return rc;
	buf[r] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

int ha_sysctl_set(const char *key, const char *value, char *old, size_t old_size)
{
	char path[256];
	size_t vlen;
	int fd, rc;

	if (!value)
		return -EINVAL;
	if ((rc = full_path(key, path)) < 0)
		return rc;
	if (old && old_size && ha_sysctl_get(key, old, old_size) < 0)
		old[0] = 0;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	vlen = strlen(value);
	if (write(fd, value, vlen) != (ssize_t)vlen) {
		int e = errno ? -errno : -EIO;

		close(fd);
		return e;
	}
	if (close(fd) < 0)
		return -errno;
	return 0;
}
