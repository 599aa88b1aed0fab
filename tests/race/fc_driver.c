/* Test driver for mnd's fail-closed filter (mnd/failclosed.h), used by test_failclosed.py
 * inside a network namespace:
 *
 *	fc_driver apply SPECFILE      put the filter on; prints "applied TABLE in N us"
 *	fc_driver render SPECFILE     print the ruleset text (no I/O besides stdout)
 *	fc_driver open TABLE          take it off: the rules go, the table stays (also when it
 *	                              is not there)
 *	fc_driver remove TABLE        remove the table (also when it is not there)
 *	fc_driver dropped TABLE       print the packets dropped so far
 *	fc_driver bench SPECFILE N    N times in this process, on one kept context (as mnd):
 *	                              apply (what mnd does leaving a trusted network), then
 *	                              open (what it does on a trusted verdict), both timed;
 *	                              prints "APPLY_US OPEN_US" a line
 *
 * SPECFILE has one "key value" per line (blank lines and # comments ignored):
 *	table mnd_failclosed
 *	interfaces wlan0,wwan0
 *	home-address 198.18.1.100
 *	home-agent 198.18.2.1
 *	gateway 198.19.0.1            (optional)
 *	intranet 198.18.2.0/24        (0 to 16 times)
 *
 * Exit status 0 on success, 1 on failure (the reason on stderr), 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mnd/failclosed.h"

static char table_buf[448];
static char ifaces_buf[448];

static int parse_prefix(const char *s, struct mnd_fc_prefix *p)
{
	char a[32];
	const char *slash = strchr(s, '/');
	char *end;
	unsigned long plen;

	if (!slash || (size_t)(slash - s) >= sizeof(a))
		return -EINVAL;
	memcpy(a, s, (size_t)(slash - s));
	a[slash - s] = '\0';
	if (inet_pton(AF_INET, a, &p->addr) != 1)
		return -EINVAL;
	errno = 0;
	plen = strtoul(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || plen > 255)
		return -EINVAL;
	p->plen = (unsigned)plen;
	return 0;
}

static int load_spec(const char *path, struct mnd_fc_spec *s)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned lineno = 0;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(s, 0, sizeof(*s));
	while (fgets(line, sizeof(line), f)) {
		char key[64], val[448];
		int rc = 0;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (sscanf(line, "%63s %447[^\n]", key, val) != 2) {
			rc = -1;
		} else if (!strcmp(key, "table")) {
			snprintf(table_buf, sizeof(table_buf), "%s", val);
			s->table = table_buf;
		} else if (!strcmp(key, "interfaces")) {
			snprintf(ifaces_buf, sizeof(ifaces_buf), "%s", val);
			s->interfaces = ifaces_buf;
		} else if (!strcmp(key, "home-address")) {
			rc = inet_pton(AF_INET, val, &s->home_addr) == 1 ? 0 : -1;
		} else if (!strcmp(key, "home-agent")) {
			rc = inet_pton(AF_INET, val, &s->home_agent) == 1 ? 0 : -1;
		} else if (!strcmp(key, "gateway")) {
			rc = inet_pton(AF_INET, val, &s->gateway) == 1 ? 0 : -1;
		} else if (!strcmp(key, "intranet")) {
			if (s->nintranet >= MND_FC_INTRANET_MAX)
				rc = -1;
			else
				rc = parse_prefix(val, &s->intranet[s->nintranet++]);
		} else {
			rc = -1;
		}
		if (rc < 0) {
			fprintf(stderr, "%s:%u: cannot use \"%s\"\n", path, lineno, line);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int main(int argc, char **argv)
{
	struct mnd_fc_spec spec;
	char err[512] = "";
	int rc;

	if (argc == 4 && !strcmp(argv[1], "bench")) {
		long n = strtol(argv[3], NULL, 10);

		struct mnd_fc *fc = NULL;

		if (n < 1 || n > 10000 || load_spec(argv[2], &spec) < 0)
			return 2;
		/* One context for all, as mnd keeps one. */
		if (mnd_fc_new(&fc) < 0) {
			fprintf(stderr, "no libnftables context\n");
			return 1;
		}
		for (long i = 0; i < n; i++) {
			uint64_t t0, t1;

			t0 = now_us();
			rc = mnd_fc_apply(fc, &spec, err, sizeof(err));
			t1 = now_us();
			if (rc == 0)
				rc = mnd_fc_open(fc, spec.table, err, sizeof(err));
			if (rc < 0) {
				fprintf(stderr, "apply/open: %s: %s\n", strerror(-rc), err);
				mnd_fc_free(fc);
				return 1;
			}
			printf("%" PRIu64 " %" PRIu64 "\n", t1 - t0, now_us() - t1);
		}
		mnd_fc_free(fc);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: fc_driver apply|render SPECFILE | open|remove|dropped TABLE | "
			"bench SPECFILE N\n");
		return 2;
	}
	if (!strcmp(argv[1], "apply") || !strcmp(argv[1], "render")) {
		if (load_spec(argv[2], &spec) < 0)
			return 1;
		if (!strcmp(argv[1], "render")) {
			char text[MND_FC_RENDER_MAX];

			rc = mnd_fc_render(&spec, text, sizeof(text));
			if (rc < 0) {
				const char *why = "?";

				mnd_fc_check(&spec, &why);
				fprintf(stderr, "render: %s (%s)\n", strerror(-rc), why);
				return 1;
			}
			fputs(text, stdout);
			return 0;
		} else {
			uint64_t t0 = now_us(), t1;

			rc = mnd_fc_apply(NULL, &spec, err, sizeof(err));
			t1 = now_us();
			if (rc < 0) {
				fprintf(stderr, "apply: %s: %s\n", strerror(-rc), err);
				return 1;
			}
			printf("applied %s in %" PRIu64 " us\n", spec.table, t1 - t0);
			return 0;
		}
	}
	if (!strcmp(argv[1], "open")) {
		rc = mnd_fc_open(NULL, argv[2], err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "open: %s: %s\n", strerror(-rc), err);
			return 1;
		}
		printf("opened %s\n", argv[2]);
		return 0;
	}
	if (!strcmp(argv[1], "remove")) {
		rc = mnd_fc_remove(NULL, argv[2], err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "remove: %s: %s\n", strerror(-rc), err);
			return 1;
		}
		printf("removed %s\n", argv[2]);
		return 0;
	}
	if (!strcmp(argv[1], "dropped")) {
		uint64_t n = 0;

		rc = mnd_fc_dropped(NULL, argv[2], &n);
		if (rc < 0) {
			fprintf(stderr, "dropped: %s\n", strerror(-rc));
			return 1;
		}
		printf("%" PRIu64 "\n", n);
		return 0;
	}
	fprintf(stderr, "usage: fc_driver apply|render SPECFILE | open|remove|dropped TABLE\n");
	return 2;
}
