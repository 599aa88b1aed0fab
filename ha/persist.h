/* The home agent's state on disk: a snapshot and a journal (formats in mip4/bcache.h).
 *
 *	state-file          the snapshot: the whole binding cache with every mobile node's
 *	                    replay state, replaced atomically (daemon/atomic_file.h)
 *	state-file.journal  the changes since that snapshot: one 64-byte record per entry a
 *	                    change touched (the entry's whole new state), appended in order
 *
 * Nothing acknowledged is lost, and many requests share one fdatasync (group commit):
 * the daemon queues the records of each request it processes (ha_persist_note), writes a
 * whole batch's records with one write (ha_persist_write), and holds every reply of the
 * batch until the journal is synced past them. The fdatasync runs in a thread of its own
 * (ha_persist_sync_start), so that the next batch is processed while the disk works: when
 * it completes (ha_persist_event_fd readable, ha_persist_sync_collect), the replies up to
 * ha_persist_released() go out and the next sync covers everything written meanwhile.
 * That thread only ever calls fdatasync(); everything else stays on the main loop.
 * Writing the whole cache before every reply, as this used to, costs 56 bytes per mobile
 * node per reply (5.6 MB at 10^5 mobile nodes) and a sync each.
 *
 * Compaction: when the journal passes max(4 x the snapshot, 8 MiB), after a failed journal
 * write, at start-up and at a clean stop, a new snapshot is written (atomically, durable)
 * and then the journal's header is rewritten in place to name it, which ends the old
 * records: the file is overwritten from the start rather than truncated, because
 * overwriting allocated blocks is cheaper to fdatasync than appending (no size change), and
 * a left-over record of an older journal is recognised as such (it names another snapshot).
 * A crash between the two steps leaves a journal that names the older snapshot: it is
 * ignored at load, correctly, since the newer snapshot holds all of it.
 *
 * Loading: the snapshot, then the journal records that continue it, in order, until the
 * first short or bad record (a write that was torn by the crash: never acknowledged). A
 * missing snapshot is a first start. A snapshot that does not load (corrupt, truncated,
 * another version) gives one clear error line, is renamed aside to
 * "<state-file>.corrupt-<unix time>" for inspection, and the home agent starts with an
 * empty cache (mobile nodes re-register; a replayed request could then be accepted once per
 * node, within the 7 s Identification window of RFC 5944 §5.7.1: the price of a destroyed
 * file); the journal is then not applied (it continues the lost snapshot).
 */
#ifndef MM_HA_PERSIST_H
#define MM_HA_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "mip4/ha_engine.h"

struct ha_persist_stats {
	uint64_t syncs;              /* fdatasync() of the journal (one per commit) */
	uint64_t records;            /* journal records written */
	uint64_t record_bytes;       /* their bytes */
	uint64_t compactions;        /* snapshots written, the one at start-up included */
	uint64_t compaction_last_us; /* how long the last one took (serialize, write, sync) */
	uint64_t compaction_max_us;
	uint64_t snapshot_bytes;     /* size of the last snapshot written */
	uint64_t journal_bytes;      /* current length of the journal (header included) */
	uint64_t errors;             /* failed writes, syncs and compactions */
};

struct ha_persist;

/* Load path (the snapshot) and "<path>.journal" into ha (logging what was restored, what
 * was ignored and why), then compact, so that the daemon starts on a fresh snapshot and an
 * empty journal (a failure there is logged and retried at the next commit). Returns 0 and
 * *out, with *restored (may be NULL) the number of active bindings; or -errno for errors
 * that are not about the files' contents (the caller exits). */
int ha_persist_open(const char *path, struct ha_engine *ha, const struct logger *lg,
		    struct ha_persist **out, size_t *restored);

/* Queue the journal records of what a changed: a->home_addr when a->state_changed, and
 * every event's home address (each at most once). No I/O. */
void ha_persist_note(struct ha_persist *p, const struct ha_engine *ha,
		     const struct ha_actions *a);

/* Records are queued and not yet written. */
bool ha_persist_pending(const struct ha_persist *p);

/* Write the queued records to the journal (one write, no sync). Returns the write position
 * after them: a byte count that only grows, for ha_persist_released(). A failure is
 * logged (one line per failure streak) and makes a compaction due. */
uint64_t ha_persist_write(struct ha_persist *p, const struct ha_engine *ha);

/* Start a background fdatasync of everything written, unless one is running or there is
 * nothing to sync. */
void ha_persist_sync_start(struct ha_persist *p);

/* Readable when a background sync has finished: call ha_persist_sync_collect(). */
int ha_persist_event_fd(const struct ha_persist *p);

/* Take the result of a finished background sync (nothing if none finished). A failure is
 * logged and makes a compaction due. */
void ha_persist_sync_collect(struct ha_persist *p);

/* A background sync is running. */
bool ha_persist_syncing(const struct ha_persist *p);

/* Replies whose records were written at or before this position may be sent: they are on
 * disk, or persistence is failing (logged) and holding replies back would not help. */
uint64_t ha_persist_released(const struct ha_persist *p);

/* Write the queued records and sync them before returning (waits for a background sync
 * first): then everything is released. 0, or -errno after a failure (logged; the next
 * write compacts). */
int ha_persist_commit(struct ha_persist *p, const struct ha_engine *ha);

/* The journal passed its size limit, or has to be restarted after a failure. */
bool ha_persist_compaction_due(const struct ha_persist *p);

/* Write a new snapshot of ha and start a new journal that continues it (after waiting for
 * a background sync); queued records are dropped (the snapshot holds them) and everything
 * is released. 0, or -errno (logged; retried by the next commit, at most once a second). */
int ha_persist_compact(struct ha_persist *p, const struct ha_engine *ha);

/* Clean stop: compact, close, free. NULL is allowed. */
void ha_persist_close(struct ha_persist *p, const struct ha_engine *ha);

const struct ha_persist_stats *ha_persist_stats(const struct ha_persist *p);

#endif
