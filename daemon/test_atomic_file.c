/* Unit tests for daemon/atomic_file.{h,c}, with real files under a mkdtemp directory. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/atomic_file.h"
#include "tests/unit/tap.h"

static char dir[] = "/tmp/mm-atomic-XXXXXX";

static char *slurp(const char *path, size_t *len)
{
	static char buf[8192];
	FILE *f = fopen(path, "rb");

	if (!f)
		return NULL;
	*len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static int count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void cleanup(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) < 0)
			rmdir(p);
	}
	closedir(d);
	rmdir(dir);
}

int main(void)
{
	char path[256], sub[256], lpath[300];
	struct stat st;
	size_t len;
	char *s;
	mode_t old = umask(077);

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/status.json", dir);

	/* create: contents, mode 0644 despite umask 077 (3-argument form) */
	CHECK_EQ_U64(atomic_write_file(path, "{\"a\":1}\n", 8), 0);
	s = slurp(path, &len);
	CHECK_STR(s, "{\"a\":1}\n");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644);

	/* replace, with an explicit mode (4-argument form) */
	CHECK_EQ_U64(atomic_write_file(path, "second", 6, 0600), 0);
	s = slurp(path, &len);
	CHECK_STR(s, "second");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
	CHECK_EQ_U64(count_entries(), 1);   /* no temporary file left behind */

	/* empty file */
	CHECK_EQ_U64(atomic_write_file_mode(path, NULL, 0, 0640), 0);
	CHECK(stat(path, &st) == 0 && st.st_size == 0 && (st.st_mode & 07777) == 0640);

	/* a symlink is replaced, not followed */
	snprintf(lpath, sizeof(lpath), "%s/link", dir);
	CHECK(symlink(path, lpath) == 0);
	CHECK_EQ_U64(atomic_write_file(lpath, "x", 1), 0);
	CHECK(lstat(lpath, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(stat(path, &st) == 0 && st.st_size == 0);

	/* errors: missing directory, a directory in the way, bad arguments; nothing left */
	snprintf(sub, sizeof(sub), "%s/missing/file", dir);
	CHECK_EQ_U64(atomic_write_file(sub, "x", 1), (uint64_t)-ENOENT);
	snprintf(sub, sizeof(sub), "%s/adir", dir);
	CHECK(mkdir(sub, 0755) == 0);
	CHECK(atomic_write_file(sub, "x", 1) < 0);
	CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ_U64(atomic_write_file(NULL, "x", 1), (uint64_t)-EINVAL);
	CHECK_EQ_U64(atomic_write_file("", "x", 1), (uint64_t)-EINVAL);
	CHECK_EQ_U64(atomic_write_file(path, NULL, 1), (uint64_t)-EINVAL);
	CHECK_EQ_U64(atomic_write_file(dir, "x", 1) < 0, 1);
	CHECK_EQ_U64(count_entries(), 3);   /* status.json, link, adir */

	/* the status-file form (no fsync): same contents, mode and atomic replacement, no
	 * temporary file left; a missing directory fails the same way */
	CHECK_EQ_U64(atomic_publish_file(path, "{\"b\":2}\n", 8), 0);
	s = slurp(path, &len);
	CHECK_STR(s, "{\"b\":2}\n");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644);
	CHECK_EQ_U64(count_entries(), 3);
	CHECK_EQ_U64(atomic_publish_file(sub, "x", 1) < 0, 1);
	CHECK_EQ_U64(atomic_publish_file(NULL, "x", 1), (uint64_t)-EINVAL);

	/* a relative path in the current directory */
	CHECK(chdir(dir) == 0);
	CHECK_EQ_U64(atomic_write_file("rel", "r", 1), 0);
	s = slurp("rel", &len);
	CHECK_STR(s, "r");
	CHECK(chdir("/") == 0);

	umask(old);
	cleanup();
	CHECK(access(dir, F_OK) < 0);
	return tap_done();
}
