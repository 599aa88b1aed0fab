/* The home agent's state file. See persist.h. */
#include "ha/persist.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "common/buf.h"
#include "daemon/atomic_file.h"

#define STATE_FILE_MAX ((size_t)1 << 30)

int ha_persist_load(const char *path, struct ha_engine *ha, const struct logger *lg,
		    size_t *expired)
{
	const char *why = NULL;
	GError *err = NULL;
	gchar *data = NULL;
	gsize len = 0;
	GStatBuf st;
	size_t exp = 0;
	int rc;

	if (g_stat(path, &st) < 0) {
		if (errno == ENOENT) {
			LOG_NOTICE(lg, "state-file %s does not exist yet: starting with an empty "
				   "binding cache", path);
			return 0;
		}
		rc = -errno;
		LOG_ERROR(lg, "state-file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		LOG_ERROR(lg, "state-file %s is not a regular file", path);
		return -EINVAL;
	}
	if ((size_t)st.st_size > STATE_FILE_MAX) {
		why = "too large";
	} else if (!g_file_get_contents(path, &data, &len, &err)) {
		LOG_ERROR(lg, "state-file %s: cannot read it: %s", path, err->message);
		g_error_free(err);
		return -EIO;
	} else {
		rc = ha_engine_load(ha, data, len, &exp);
		g_free(data);
		if (rc == 0) {
			size_t n = bcache_count(ha_engine_bcache(ha));

			LOG_NOTICE(lg, "state-file %s: restored %zu binding(s) and the replay "
				   "state of %zu mobile node(s); %zu binding(s) expired while we "
				   "were down",
				   path, n, bcache_entries(ha_engine_bcache(ha)), exp);
			if (expired)
				*expired = exp;
			return (int)n;
		}
		why = rc == -EPROTONOSUPPORT ? "written by an unknown version of the format"
		      : rc == -E2BIG ? "more mobile nodes than the binding cache holds"
		      : rc == -ENOMEM ? "out of memory while loading it"
		      : "corrupt (bad magic, length, record or checksum)";
	}
	{
		char aside[4096];

		snprintf(aside, sizeof(aside), "%s.corrupt-%lld", path, (long long)time(NULL));
		if (g_rename(path, aside) == 0)
			LOG_ERROR(lg, "state-file %s is %s: starting with an empty binding cache; "
				  "the file was kept as %s", path, why, aside);
		else
			LOG_ERROR(lg, "state-file %s is %s: starting with an empty binding cache; "
				  "could not move it aside (%s)", path, why, g_strerror(errno));
	}
	return 0;
}

int ha_persist_save(const char *path, const struct ha_engine *ha, const struct logger *lg)
{
	static uint8_t *buf;
	static size_t cap;
	static bool failing;
	size_t need = ha_engine_save_len(ha);
	struct writer w;
	int n, rc;

	if (need > cap) {
		size_t ncap = need + need / 4 + 4096;
		uint8_t *nb = g_try_realloc(buf, ncap);

		if (!nb) {
			rc = -ENOMEM;
			goto fail;
		}
		buf = nb;
		cap = ncap;
	}
	writer_init(&w, buf, cap);
	n = ha_engine_save(ha, &w);
	if (n < 0) {
		rc = n;
		goto fail;
	}
	rc = atomic_write_file(path, buf, (size_t)n, 0600);
	if (rc < 0)
		goto fail;
	if (failing)
		LOG_NOTICE(lg, "state-file %s written again", path);
	failing = false;
	return 0;
fail:
	if (!failing)
		LOG_ERROR(lg, "cannot write state-file %s: %s (bindings will not survive a "
			  "restart until this is fixed)", path, strerror(-rc));
	failing = true;
	return rc;
}
