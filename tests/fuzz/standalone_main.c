/* main() for fuzz targets built without libFuzzer (gcc, or clang without -Dfuzzing=true).
 *
 * Usage: fuzz_<target> PATH...
 * Each PATH that is a file is fed to LLVMFuzzerTestOneInput(); each directory has every
 * regular file in it fed, in name order (subdirectories are not entered). Output is TAP,
 * one line per input. A missing path or a directory with no regular files is a failure:
 * an empty seed corpus must not pass silently. Arguments starting with '-' are libFuzzer
 * options and are ignored, so a libFuzzer command line also works here.
 *
 * Each input is copied into a heap buffer of exactly its size, so a sanitizer build
 * catches any read past its end just as libFuzzer would.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target; weak so that targets without one still link. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int test_count;
static int test_failed;

static void report(int ok, const char *path, const char *why)
{
	test_count++;
	if (ok) {
		printf("ok %d - %s\n", test_count, path);
	} else {
		test_failed++;
		printf("not ok %d - %s: %s\n", test_count, path, why);
	}
	/* A crash in the next input must not lose the lines already reported. */
	fflush(stdout);
}

/* Read a whole file into an exactly sized heap buffer. Returns 0 or a negative errno. */
static int read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = 0;
	long end;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		err = -EIO;
		goto out;
	}
	len = (size_t)end;
	buf = malloc(len ? len : 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	if (fread(buf, 1, len, f) != len) {
		free(buf);
		buf = NULL;
		err = -EIO;
		goto out;
	}
	*data = buf;
	*size = len;
out:
	fclose(f);
	return err;
}

static void run_file(const char *path)
{
	uint8_t *data = NULL;
	size_t size = 0;
	int err = read_file(path, &data, &size);

	if (err < 0) {
		report(0, path, strerror(-err));
		return;
	}
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	report(1, path, NULL);
}

static int is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void run_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	int fed = 0;

	if (n < 0) {
		report(0, dir, strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		int len = snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);

		if (len > 0 && (size_t)len < sizeof(path) && is_regular(path)) {
			run_file(path);
			fed++;
		}
		free(names[i]);
	}
	free(names);
	if (fed == 0)
		report(0, dir, "no input files (an empty corpus tests nothing)");
}

static void run_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		report(0, path, strerror(errno));
	else if (S_ISDIR(st.st_mode))
		run_dir(path);
	else
		run_file(path);
}

int main(int argc, char **argv)
{
	int paths = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			printf("# ignoring libFuzzer option %s\n", argv[i]);
			continue;
		}
		run_path(argv[i]);
		paths++;
	}
	if (paths == 0) {
		fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argc > 0 ? argv[0] : "fuzz");
		report(0, "(arguments)", "no input paths given");
	}
	printf("1..%d\n", test_count);
	return test_failed ? 1 : 0;
}
