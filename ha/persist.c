/* The home agent's snapshot and journal. See persist.h. */
#include "ha/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "common/buf.h"
#include "common/clock.h"
#include "daemon/atomic_file.h"

#define STATE_FILE_MAX ((size_t)1 << 30)
#define JOURNAL_MAX ((size_t)1 << 31)
/* Compact when the journal passes max(JOURNAL_FACTOR x snapshot, JOURNAL_MIN): loading
 * then reads at most about five snapshots' worth, and at 10^5 mobile nodes renewing at
 * 10^5/s (5.6 MB snapshot, 6.4 MB/s of records) a compaction comes every 3.5 s. */
#define JOURNAL_FACTOR 4
#define JOURNAL_MIN ((size_t)8 << 20)
/* After a failed compaction (disk full, directory gone), commits do not retry it sooner:
 * each try serializes the whole cache. */
#define RETRY_INTERVAL MM_SEC(1)

struct ha_persist {
	char *path;                  /* the snapshot */
	char *jpath;                 /* the journal */
	struct logger log;
	int jfd;                     /* -1 until the first compaction opens it */
	struct bcache_snapshot_id id;   /* the snapshot the journal continues */
	size_t jend;                 /* where the next record goes */
	bool usable;                 /* the journal's header names id: records may go on */
	uint64_t wpos;               /* bytes of records written, ever */
	uint64_t rpos;               /* replies up to here may go (ha_persist_released) */
	/* The sync thread: it runs fdatasync(jfd) when asked, and says so on efd. jfd does
	 * not change while a sync runs (compaction waits for it first). */
	GThread *thread;
	GMutex lock;
	GCond cond;
	int efd;
	bool syncing;                /* main loop's view: asked, not collected yet */
	uint64_t sync_target;        /* wpos when it was asked */
	bool req, done, quit;        /* under lock */
	int sync_rc;                 /* under lock */
	bool failing;                /* in a failure streak (logged once) */
	mm_time_ns retry_at;         /* after a failed compaction: not before this */
	uint8_t *pend;               /* queued records */
	size_t pend_len, pend_cap;
	uint8_t *snap;               /* snapshot buffer, reused */
	size_t snap_cap;
	struct ha_persist_stats st;
};

static void fail(struct ha_persist *p, const char *what, int err)
{
	p->st.errors++;
	if (!p->failing)
		LOG_ERROR(&p->log, "%s: %s (bindings and replay state will not survive a restart "
			  "until this is fixed)", what, strerror(err));
	p->failing = true;
}

static void recovered(struct ha_persist *p)
{
	if (p->failing)
		LOG_NOTICE(&p->log, "state-file %s and its journal written again", p->path);
	p->failing = false;
}

static int pwrite_all(int fd, const void *data, size_t len, off_t off)
{
	const uint8_t *b = data;

	while (len > 0) {
		ssize_t n = pwrite(fd, b, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* fsync the directory holding path, so that a file just created there stays. */
static int sync_dir_of(const char *path)
{
	gchar *dir = g_path_get_dirname(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	g_free(dir);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Open the journal, creating it (durably) when it does not exist. */
static int journal_open(struct ha_persist *p)
{
	int fd, rc;

	if (p->jfd >= 0)
		return 0;
	fd = open(p->jpath, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(p->jpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 && (rc = sync_dir_of(p->jpath)) < 0) {
			close(fd);
			return rc;
		}
	}
	if (fd < 0)
		return -errno;
	p->jfd = fd;
	return 0;
}

/* --- loading -------------------------------------------------------------------------- */

/* The snapshot: 1 and *id when one was loaded, 0 when there is none (or it was moved
 * aside), -errno for errors that are not about its contents. */
static int load_snapshot(struct ha_persist *p, struct ha_engine *ha,
			 struct bcache_snapshot_id *id)
{
	const char *path = p->path, *why = NULL;
	GError *err = NULL;
	gchar *data = NULL;
	gsize len = 0;
	GStatBuf st;
	size_t exp = 0;
	int rc;

	if (g_stat(path, &st) < 0) {
		if (errno == ENOENT) {
			LOG_NOTICE(&p->log, "state-file %s does not exist yet: starting with an "
				   "empty binding cache", path);
			return 0;
		}
		rc = -errno;
		LOG_ERROR(&p->log, "state-file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		LOG_ERROR(&p->log, "state-file %s is not a regular file", path);
		return -EINVAL;
	}
	if ((size_t)st.st_size > STATE_FILE_MAX) {
		why = "too large";
	} else if (!g_file_get_contents(path, &data, &len, &err)) {
		LOG_ERROR(&p->log, "state-file %s: cannot read it: %s", path, err->message);
		g_error_free(err);
		return -EIO;
	} else {
		rc = ha_engine_load(ha, data, len, &exp);
		if (rc == 0)
			rc = bcache_snapshot_id(data, len, id);
		g_free(data);
		if (rc == 0) {
			LOG_NOTICE(&p->log, "state-file %s: restored %zu binding(s) and the replay "
				   "state of %zu mobile node(s); %zu binding(s) expired while we "
				   "were down", path, bcache_count(ha_engine_bcache(ha)),
				   bcache_entries(ha_engine_bcache(ha)), exp);
			return 1;
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
			LOG_ERROR(&p->log, "state-file %s is %s: starting with an empty binding "
				  "cache; the file was kept as %s", path, why, aside);
		else
			LOG_ERROR(&p->log, "state-file %s is %s: starting with an empty binding "
				  "cache; could not move it aside (%s)", path, why,
				  g_strerror(errno));
	}
	return 0;
}

/* The journal, on top of the snapshot id (have_snapshot false: there is none). Problems
 * with its contents are logged, never fatal: the snapshot alone is a consistent state. */
static void load_journal(struct ha_persist *p, struct ha_engine *ha, bool have_snapshot,
			 const struct bcache_snapshot_id *id)
{
	struct bcache_journal_result res;
	GError *err = NULL;
	gchar *data = NULL;
	gsize len = 0;
	GStatBuf st;
	int rc;

	if (g_stat(p->jpath, &st) < 0) {
		if (errno != ENOENT)
			LOG_ERROR(&p->log, "journal %s: %s", p->jpath, g_strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > JOURNAL_MAX) {
		LOG_ERROR(&p->log, "journal %s is not a regular file or too large: ignored",
			  p->jpath);
		return;
	}
	if (!have_snapshot) {
		LOG_WARNING(&p->log, "journal %s ignored: it continues a state file that was not "
			    "loaded", p->jpath);
		return;
	}
	if (!g_file_get_contents(p->jpath, &data, &len, &err)) {
		LOG_ERROR(&p->log, "journal %s: cannot read it: %s", p->jpath, err->message);
		g_error_free(err);
		return;
	}
	rc = ha_engine_journal_replay(ha, data, len, id, &res);
	g_free(data);
	switch (rc) {
	case 0:
		break;
	case -ENODATA:
		LOG_NOTICE(&p->log, "journal %s is empty (%zu bytes): nothing to apply", p->jpath,
			   (size_t)len);
		return;
	case -ESTALE:
		/* Written before the snapshot was: all of it is in the snapshot, and applying
		 * it would move Identifications back (RFC 5944 §5.7.1). */
		LOG_NOTICE(&p->log, "journal %s continues an older state file: ignored (the "
			   "state file holds all of it)", p->jpath);
		return;
	case -EBADMSG:
	case -EPROTONOSUPPORT:
		LOG_ERROR(&p->log, "journal %s: %s header: ignored; the bindings changed since "
			  "the state file was written are lost", p->jpath,
			  rc == -EBADMSG ? "bad" : "unknown version of the");
		return;
	default:
		LOG_ERROR(&p->log, "journal %s: stopped after %zu record(s) at offset %zu: %s",
			  p->jpath, res.applied, res.end, strerror(-rc));
		return;
	}
	switch (res.why) {
	case BCACHE_JOURNAL_END:
		LOG_NOTICE(&p->log, "journal %s: applied %zu record(s) (%zu binding(s) expired "
			   "while we were down); %zu binding(s), %zu mobile node(s) now",
			   p->jpath, res.applied, res.expired, bcache_count(ha_engine_bcache(ha)),
			   bcache_entries(ha_engine_bcache(ha)));
		break;
	case BCACHE_JOURNAL_TORN:
		LOG_WARNING(&p->log, "journal %s: applied %zu record(s) (%zu expired); a torn "
			    "record at offset %zu (the write in progress at the crash, never "
			    "acknowledged) was not applied; %zu binding(s), %zu mobile node(s) "
			    "now", p->jpath, res.applied, res.expired, res.end,
			    bcache_count(ha_engine_bcache(ha)), bcache_entries(ha_engine_bcache(ha)));
		break;
	case BCACHE_JOURNAL_BAD:
		if (res.later_valid)
			LOG_ERROR(&p->log, "journal %s: applied %zu record(s) (%zu expired); the "
				  "record at offset %zu is damaged (checksum or values) and the "
				  "%zu valid record(s) after it were NOT applied (the journal "
				  "ends at the first bad record); %zu binding(s) now", p->jpath,
				  res.applied, res.expired, res.end, res.later_valid,
				  bcache_count(ha_engine_bcache(ha)));
		else
			LOG_WARNING(&p->log, "journal %s: applied %zu record(s) (%zu expired); "
				    "the record at offset %zu does not verify (a write torn by "
				    "the crash, never acknowledged): the journal ends there; %zu "
				    "binding(s) now", p->jpath, res.applied, res.expired, res.end,
				    bcache_count(ha_engine_bcache(ha)));
		break;
	}
}

int ha_persist_open(const char *path, struct ha_engine *ha, const struct logger *lg,
		    struct ha_persist **out, size_t *restored)
{
	struct bcache_snapshot_id id = { 0 };
	struct ha_persist *p;
	int rc;

	if (!path || !ha || !out)
		return -EINVAL;
	p = g_new0(struct ha_persist, 1);
	p->path = g_strdup(path);
	p->jpath = g_strdup_printf("%s.journal", path);
	p->jfd = -1;
	p->log = *lg;
	g_mutex_init(&p->lock);
	g_cond_init(&p->cond);
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0) {
		rc = -errno;
		LOG_ERROR(lg, "cannot create an eventfd: %s", strerror(-rc));
		ha_persist_close(p, NULL);
		return rc;
	}
	rc = load_snapshot(p, ha, &id);
	if (rc < 0) {
		ha_persist_close(p, NULL);
		return rc;
	}
	load_journal(p, ha, rc == 1, &id);
	/* Start on a fresh snapshot and an empty journal: a moved-aside or missing file is
	 * replaced by a good one, and a state directory we cannot write to shows up now
	 * rather than at the first reply. */
	ha_persist_compact(p, ha);
	if (restored)
		*restored = bcache_count(ha_engine_bcache(ha));
	*out = p;
	return 0;
}

/* --- writing -------------------------------------------------------------------------- */

static void queue_record(struct ha_persist *p, const struct ha_engine *ha, struct in_addr hoa)
{
	struct writer w;
	int rc;

	if (p->pend_cap - p->pend_len < BCACHE_JOURNAL_REC_LEN) {
		size_t ncap = p->pend_cap ? p->pend_cap * 2 : 64 * BCACHE_JOURNAL_REC_LEN;

		p->pend = g_realloc(p->pend, ncap);
		p->pend_cap = ncap;
	}
	writer_init(&w, p->pend + p->pend_len, p->pend_cap - p->pend_len);
	rc = ha_engine_journal_record(ha, hoa, &p->id, &w);
	if (rc < 0) {
		/* Cannot happen (the entry exists); a snapshot covers it anyway. */
		fail(p, "cannot build a journal record", -rc);
		p->usable = false;
		return;
	}
	p->pend_len += (size_t)rc;
}

void ha_persist_note(struct ha_persist *p, const struct ha_engine *ha,
		     const struct ha_actions *a)
{
	struct in_addr seen[1 + HA_EVENTS_MAX];
	unsigned nseen = 0;

	if (!p || !ha || !a)
		return;
	if (a->state_changed && a->home_addr.s_addr)
		seen[nseen++] = a->home_addr;
	for (unsigned i = 0; i < a->nevents && i < HA_EVENTS_MAX; i++) {
		struct in_addr h = a->events[i].binding.home_addr;
		unsigned k = 0;

		while (k < nseen && seen[k].s_addr != h.s_addr)
			k++;
		if (k == nseen)
			seen[nseen++] = h;
	}
	for (unsigned i = 0; i < nseen; i++)
		queue_record(p, ha, seen[i]);
}

bool ha_persist_pending(const struct ha_persist *p)
{
	return p && p->pend_len > 0;
}

uint64_t ha_persist_write(struct ha_persist *p, const struct ha_engine *ha)
{
	int rc;

	if (!p || !ha)
		return 0;
	if (!p->pend_len)
		return p->wpos;
	if (!p->usable) {
		/* Left for the compaction that is due: it holds them. */
		p->wpos += p->pend_len;
		p->pend_len = 0;
		return p->wpos;
	}
	rc = pwrite_all(p->jfd, p->pend, p->pend_len, (off_t)p->jend);
	if (rc < 0) {
		/* Part of the batch may be on disk, part not: restart from a snapshot. */
		fail(p, "cannot write the journal", -rc);
		p->usable = false;
	} else {
		p->jend += p->pend_len;
		p->st.records += p->pend_len / BCACHE_JOURNAL_REC_LEN;
		p->st.record_bytes += p->pend_len;
		p->st.journal_bytes = p->jend;
	}
	p->wpos += p->pend_len;
	p->pend_len = 0;
	return p->wpos;
}

static gpointer sync_thread(gpointer user)
{
	struct ha_persist *p = user;
	const uint64_t one = 1;

	g_mutex_lock(&p->lock);
	for (;;) {
		int fd, rc;

		while (!p->req && !p->quit)
			g_cond_wait(&p->cond, &p->lock);
		if (p->quit)
			break;
		fd = p->jfd;
		g_mutex_unlock(&p->lock);
		rc = fdatasync(fd) < 0 ? -errno : 0;
		g_mutex_lock(&p->lock);
		p->req = false;
		p->done = true;
		p->sync_rc = rc;
		if (write(p->efd, &one, sizeof(one)) < 0) {
			/* An eventfd counter cannot overflow at one per sync. */
		}
	}
	g_mutex_unlock(&p->lock);
	return NULL;
}

void ha_persist_sync_start(struct ha_persist *p)
{
	if (!p || p->syncing || !p->usable || p->wpos == p->rpos || p->efd < 0)
		return;
	if (!p->thread) {
		p->thread = g_thread_try_new("ha-sync", sync_thread, p, NULL);
		if (!p->thread) {
			/* No thread: sync here. */
			p->st.syncs++;
			if (fdatasync(p->jfd) < 0) {
				fail(p, "cannot sync the journal", errno);
				p->usable = false;
				return;
			}
			p->rpos = p->wpos;
			recovered(p);
			return;
		}
	}
	p->syncing = true;
	p->sync_target = p->wpos;
	g_mutex_lock(&p->lock);
	p->req = true;
	g_cond_signal(&p->cond);
	g_mutex_unlock(&p->lock);
}

int ha_persist_event_fd(const struct ha_persist *p)
{
	return p ? p->efd : -1;
}

bool ha_persist_syncing(const struct ha_persist *p)
{
	return p && p->syncing;
}

void ha_persist_sync_collect(struct ha_persist *p)
{
	uint64_t n;
	bool done;
	int rc;

	if (!p || !p->syncing)
		return;
	g_mutex_lock(&p->lock);
	done = p->done;
	rc = p->sync_rc;
	p->done = false;
	g_mutex_unlock(&p->lock);
	if (!done)
		return;
	if (read(p->efd, &n, sizeof(n)) < 0) {
		/* Non-blocking: nothing there is fine, done says it finished. */
	}
	p->syncing = false;
	p->st.syncs++;
	if (rc < 0) {
		fail(p, "cannot sync the journal", -rc);
		p->usable = false;
		return;
	}
	if (p->sync_target > p->rpos)
		p->rpos = p->sync_target;
	recovered(p);
}

/* Wait for a background sync to finish, and collect it. */
static void sync_wait(struct ha_persist *p)
{
	while (p->syncing) {
		struct pollfd pfd = { .fd = p->efd, .events = POLLIN };

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			break;
		ha_persist_sync_collect(p);
	}
}

uint64_t ha_persist_released(const struct ha_persist *p)
{
	return p ? p->rpos : 0;
}

int ha_persist_commit(struct ha_persist *p, const struct ha_engine *ha)
{
	if (!p || !ha)
		return -EINVAL;
	sync_wait(p);
	ha_persist_write(p, ha);
	if (!p->usable)
		return ha_persist_compact(p, ha);
	if (p->wpos == p->rpos)
		return 0;
	p->st.syncs++;
	if (fdatasync(p->jfd) < 0) {
		int rc = -errno;

		fail(p, "cannot sync the journal", -rc);
		p->usable = false;
		p->rpos = p->wpos;
		return rc;
	}
	p->rpos = p->wpos;
	recovered(p);
	return 0;
}

/* How long the journal of a snapshot of that size may grow. */
static uint64_t journal_limit(uint64_t snapshot_bytes)
{
	uint64_t limit = JOURNAL_FACTOR * snapshot_bytes;

	return limit < JOURNAL_MIN ? JOURNAL_MIN : limit;
}

bool ha_persist_compaction_due(const struct ha_persist *p)
{
	if (!p)
		return false;
	return !p->usable || p->jend > journal_limit(p->st.snapshot_bytes);
}

static int compact(struct ha_persist *p, const struct ha_engine *ha);

int ha_persist_compact(struct ha_persist *p, const struct ha_engine *ha)
{
	int rc;

	if (!p || !ha)
		return -EINVAL;
	sync_wait(p);
	if (!p->usable && clock_now(clock_monotonic()) < p->retry_at) {
		p->pend_len = 0;
		p->rpos = p->wpos;
		return -EIO;
	}
	rc = compact(p, ha);
	if (rc < 0)
		p->retry_at = clock_now(clock_monotonic()) + RETRY_INTERVAL;
	/* Everything is in the snapshot now, or persistence is failing (logged). */
	p->wpos += p->pend_len;
	p->pend_len = 0;
	p->rpos = p->wpos;
	return rc;
}

static int compact(struct ha_persist *p, const struct ha_engine *ha)
{
	mm_time_ns t0 = clock_now(clock_monotonic());
	uint8_t hdr[BCACHE_JOURNAL_HDR_LEN];
	struct bcache_snapshot_id id;
	struct stat jst;
	size_t need = ha_engine_save_len(ha);
	struct writer w;
	uint64_t us;
	int n, rc;

	if (need > p->snap_cap) {
		size_t ncap = need + need / 4 + 4096;
		uint8_t *nb = g_try_realloc(p->snap, ncap);

		if (!nb) {
			fail(p, "cannot write the state file", ENOMEM);
			p->usable = false;
			return -ENOMEM;
		}
		p->snap = nb;
		p->snap_cap = ncap;
	}
	writer_init(&w, p->snap, p->snap_cap);
	n = ha_engine_save(ha, &w);
	if (n < 0 || (rc = bcache_snapshot_id(p->snap, (size_t)n, &id)) < 0) {
		fail(p, "cannot serialize the binding cache", n < 0 ? -n : EINVAL);
		p->usable = false;
		return n < 0 ? n : -EINVAL;
	}
	/* 1. The snapshot, durable (file and rename). From here on the old journal is
	 * ignored at load (it names the previous snapshot). */
	rc = atomic_write_file(p->path, p->snap, (size_t)n, 0600);
	if (rc < 0) {
		char what[300];

		snprintf(what, sizeof(what), "cannot write state-file %s", p->path);
		fail(p, what, -rc);
		p->usable = false;
		return rc;
	}
	/* 2. A journal that continues it: the header rewritten in place. */
	p->usable = false;
	writer_init(&w, hdr, sizeof(hdr));
	bcache_journal_header(&w, &id);
	rc = journal_open(p);
	if (rc == 0)
		rc = pwrite_all(p->jfd, hdr, sizeof(hdr), 0);
	/* The file is reused in place; one left much longer than this snapshot's journal
	 * will grow (the cache shrank, or an older limit) is cut back, so that loading does
	 * not read what can never be used. */
	if (rc == 0 && fstat(p->jfd, &jst) == 0 &&
	    (uint64_t)jst.st_size > 2 * journal_limit((uint64_t)n) &&
	    ftruncate(p->jfd, BCACHE_JOURNAL_HDR_LEN) < 0)
		rc = -errno;
	if (rc == 0 && fdatasync(p->jfd) < 0)
		rc = -errno;
	if (rc < 0) {
		char what[300];

		snprintf(what, sizeof(what), "cannot start the journal %s", p->jpath);
		fail(p, what, -rc);
		if (p->jfd >= 0) {
			close(p->jfd);
			p->jfd = -1;
		}
		return rc;
	}
	p->id = id;
	p->jend = BCACHE_JOURNAL_HDR_LEN;
	p->usable = true;
	us = (clock_now(clock_monotonic()) - t0) / 1000;
	p->st.compactions++;
	p->st.snapshot_bytes = (uint64_t)n;
	p->st.journal_bytes = p->jend;
	p->st.compaction_last_us = us;
	if (us > p->st.compaction_max_us)
		p->st.compaction_max_us = us;
	LOG_DEBUG(&p->log, "state-file %s written (%d bytes, %zu binding(s)) in %llu us; "
		  "journal restarted", p->path, n, bcache_count(ha_engine_bcache(ha)),
		  (unsigned long long)us);
	recovered(p);
	return 0;
}

void ha_persist_close(struct ha_persist *p, const struct ha_engine *ha)
{
	if (!p)
		return;
	if (ha)
		ha_persist_compact(p, ha);
	sync_wait(p);
	if (p->thread) {
		g_mutex_lock(&p->lock);
		p->quit = true;
		g_cond_signal(&p->cond);
		g_mutex_unlock(&p->lock);
		g_thread_join(p->thread);
	}
	g_mutex_clear(&p->lock);
	g_cond_clear(&p->cond);
	if (p->efd >= 0)
		close(p->efd);
	if (p->jfd >= 0)
		close(p->jfd);
	g_free(p->pend);
	g_free(p->snap);
	g_free(p->path);
	g_free(p->jpath);
	g_free(p);
}

const struct ha_persist_stats *ha_persist_stats(const struct ha_persist *p)
{
	return p ? &p->st : NULL;
}
