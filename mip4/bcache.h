/* Home agent mobility binding list (RFC 5944 §3.8.1) and per-mobile-node replay state
 * (§5.7.1), keyed by home address.
 *
 * One entry per mobile node the home agent has ever authenticated. An entry holds
 *  - the replay state: the last Identification accepted from that mobile node. It is kept
 *    when the binding goes away (deregistration, expiry) and is persisted, so an old
 *    Registration Request replayed after a deregistration or a restart is still refused
 *    (§5.7.1: "greater than all previously accepted timestamps");
 *  - at most one active binding (we do not support simultaneous bindings, §3.8.2.2: a new
 *    registration replaces the old one): care-of address, effective tunnel endpoint,
 *    encapsulation, granted lifetime and expiry.
 *
 * Shape, sized for a million mobile nodes in well under 256 MB (about 90 MB):
 *  - entries live in one dense array of 64-byte records (no per-entry allocation);
 *  - an open-addressing hash table (linear probing, load <= 1/2) of 32-bit indices into
 *    that array finds a home address without allocating;
 *  - a binary min-heap of (expiry, index) pairs gives the next expiry in O(1) and removes
 *    or reschedules a binding in O(log n) (the expiry is in the heap node, so that a
 *    renewal's O(log n) comparisons stay inside the heap array).
 * Entries are never removed (only their binding), so indices are stable; the number of
 * entries is bounded by max_entries, and only authenticated mobile nodes create one.
 *
 * Times are mm_time_ns on the monotonic clock. On disk they are wall-clock (the monotonic
 * clock restarts with the machine), converted with the (now_mono, now_real) pair the caller
 * passes, so a binding keeps its remaining lifetime across a daemon restart.
 *
 * No I/O, no logging: errors are negative errno values and outputs stay untouched on failure.
 */
#ifndef MM_MIP4_BCACHE_H
#define MM_MIP4_BCACHE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/clock.h"

/* "No expiry pending". */
#define BCACHE_NEVER UINT64_MAX

/* How packets reach the mobile node. */
enum mip4_encap {
	MIP4_ENCAP_NONE = 0,  /* no binding */
	MIP4_ENCAP_IPIP = 1,  /* RFC 2003 IP-in-IP to the care-of address */
	MIP4_ENCAP_UDP = 2,   /* RFC 3519 §3.3 MIP tunnel data messages over UDP 434 */
};

/* mip4_binding.state bits. */
#define BCACHE_S_ACTIVE 0x01u  /* the binding fields below are in force */
#define BCACHE_S_REPLAY 0x02u  /* replay_ident holds an accepted Identification */
#define BCACHE_S_FORCED 0x04u  /* UDP tunnelling was forced by the F flag (RFC 3519 §3.1.1) */
#define BCACHE_S_ALL    0x07u

struct mip4_binding {
	struct in_addr home_addr;    /* the key */
	struct in_addr coa;          /* Care-of Address field of the accepted request */
	struct in_addr ep_addr;      /* effective tunnel destination: the care-of address for
	                              * IP-in-IP, the request's source address for UDP
	                              * (RFC 3519 §4.6: the NAT's public address) */
	uint16_t ep_port;            /* UDP: the request's source port; 0 = "half bound", waiting
	                              * for the first keepalive (RFC 3519 §4.6, R flag). IPIP: 0 */
	uint16_t lifetime;           /* granted lifetime in seconds */
	uint8_t encap;               /* enum mip4_encap */
	uint8_t req_flags;           /* MIP4_REQ_* of the accepted request (T: reverse tunnel) */
	uint8_t state;               /* BCACHE_S_* */
	uint8_t reserved_;
	uint32_t registrations;      /* accepted registrations since the binding was created */
	uint64_t ident;              /* Identification of the accepted registration */
	uint64_t replay_ident;       /* last accepted Identification (valid with S_REPLAY) */
	mm_time_ns registered_at;    /* monotonic time of the last accepted registration */
	mm_time_ns expires_at;       /* monotonic time the binding ends */
	uint32_t heap_pos_;          /* private: position in the expiry heap */
};

static inline bool mip4_binding_active(const struct mip4_binding *b)
{
	return b && (b->state & BCACHE_S_ACTIVE);
}

struct bcache;

/* A cache for at most max_entries mobile nodes (1 .. BCACHE_MAX_ENTRIES). Memory grows with
 * use. Returns NULL when out of memory or max_entries is out of range. */
#define BCACHE_MAX_ENTRIES (UINT32_C(1) << 24)
struct bcache *bcache_new(size_t max_entries);
void bcache_free(struct bcache *bc);

size_t bcache_count(const struct bcache *bc);    /* active bindings */
size_t bcache_entries(const struct bcache *bc);  /* mobile nodes known (any state) */
size_t bcache_max_entries(const struct bcache *bc);
size_t bcache_memory(const struct bcache *bc);   /* bytes allocated */

/* The entry for hoa (with or without an active binding), or NULL. The pointer is valid until
 * the next call that modifies the cache. */
const struct mip4_binding *bcache_get(const struct bcache *bc, struct in_addr hoa);
/* The active binding for hoa, or NULL. Same lifetime rule. */
const struct mip4_binding *bcache_lookup(const struct bcache *bc, struct in_addr hoa);

/* Record ident as the last Identification accepted from hoa, creating the entry if needed.
 * -ENOSPC when the cache is full, -EINVAL for hoa 0.0.0.0. */
int bcache_set_replay(struct bcache *bc, struct in_addr hoa, uint64_t ident);

/* Install or replace the binding b->home_addr (creating the entry if needed): copies coa,
 * ep_addr, ep_port, lifetime, encap, req_flags, ident, registered_at, expires_at and the
 * S_FORCED bit; sets S_ACTIVE; counts the registration (registrations restarts at 1 when
 * there was no active binding). The replay state is left alone. *was_active (may be NULL)
 * tells whether a binding was replaced. -ENOSPC when full, -EINVAL for a bad binding
 * (hoa 0, encap NONE, lifetime 0). */
int bcache_bind(struct bcache *bc, const struct mip4_binding *b, bool *was_active);

/* Move the tunnel endpoint of hoa's active binding (RFC 3519 §4.6 keepalive of a
 * half-bound UDP binding). -ENOENT without an active binding. */
int bcache_set_endpoint(struct bcache *bc, struct in_addr hoa, struct in_addr addr,
			uint16_t port);

/* End hoa's binding (deregistration); the replay state stays. *old (may be NULL) receives
 * the binding as it was. -ENOENT without an active binding. */
int bcache_unbind(struct bcache *bc, struct in_addr hoa, struct mip4_binding *old);

/* The earliest expires_at of the active bindings, or BCACHE_NEVER. O(1). */
mm_time_ns bcache_next_expiry(const struct bcache *bc);

/* If the earliest binding has expires_at <= now, end it, copy it to *out and return 1;
 * otherwise return 0. O(log n). Call in a loop to expire everything that is due. */
int bcache_expire_one(struct bcache *bc, mm_time_ns now, struct mip4_binding *out);

/* Iterate the active bindings (in no particular order): start with *cursor = 0; returns
 * false when done. The cache must not be modified during the iteration. */
bool bcache_next(const struct bcache *bc, size_t *cursor, const struct mip4_binding **out);

/* --- persistence ---------------------------------------------------------------------- */

/* On-disk format, version 1 (all integers big-endian):
 *	magic "MIP4HABC" (8) | version (2) = 1 | record length (2) = 56 | count (4) |
 *	saved at, wall clock ns since the Unix epoch (8) |
 *	count records of 56 bytes:
 *		home address (4) | care-of address (4) | endpoint address (4) |
 *		endpoint port (2) | lifetime (2) | encap (1) | request flags (1) | state (1) |
 *		reserved (1) = 0 | registrations (4) | ident (8) | replay ident (8) |
 *		registered at (8) | expires at (8)        (both wall clock ns, 0 when inactive)
 *	CRC-32 (IEEE 802.3) of everything before it (4).
 */
#define BCACHE_MAGIC "MIP4HABC"
#define BCACHE_VERSION 1
#define BCACHE_HDR_LEN 24
#define BCACHE_REC_LEN 56
#define BCACHE_TRAILER_LEN 4

/* Bytes bcache_serialize() writes. */
size_t bcache_serialized_len(const struct bcache *bc);

/* Write every entry into w (bindings and replay-only entries). Returns the number of bytes
 * written, or -ENOSPC (w too small: nothing is written). */
int bcache_serialize(const struct bcache *bc, struct writer *w, mm_time_ns now_mono,
		     mm_time_ns now_real);

/* Build a new cache from data. Hostile-input safe and all-or-nothing: any structural error,
 * bad value, duplicate home address, count mismatch or checksum mismatch gives -EBADMSG
 * (-EPROTONOSUPPORT for another version, -E2BIG for more than max_entries entries, -ENOMEM)
 * and *out is untouched. Bindings whose expiry is not after now_real are loaded as ended
 * (their replay state is kept) and counted in *expired (may be NULL). */
int bcache_deserialize(struct bcache **out, const void *data, size_t len, size_t max_entries,
		       mm_time_ns now_mono, mm_time_ns now_real, size_t *expired);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()) of data, continuing from crc (0 to
 * start). Exposed for tests. */
uint32_t bcache_crc32(uint32_t crc, const void *data, size_t len);

/* --- journal: single entries appended after a snapshot --------------------------------- */

/* Writing the whole cache before every reply costs a file of 56 bytes per mobile node; the
 * journal costs 64 bytes per change. The snapshot (format above) and a journal that
 * continues it, format version 1 (all integers big-endian):
 *	header, 32 bytes:
 *		magic "MIP4HAJL" (8) | version (2) = 1 | record length (2) = 64 |
 *		snapshot saved-at (8) | snapshot CRC-32 (4)   (the id of the snapshot it continues:
 *		                                               its header field and its trailer) |
 *		reserved (4) = 0 | CRC-32 of the 28 bytes before (4)
 *	records, 64 bytes each:
 *		the entry's state after the change, as one snapshot record (56, same layout and
 *		rules) | snapshot CRC-32 again (4) | CRC-32 of header[0..28) followed by the 60
 *		bytes before (4)
 * A record is the whole state of one entry, so applying it is idempotent and the last one
 * for a home address wins. A journal is only applied on top of the snapshot it names: one
 * that names another (older) snapshot is ignored, since a snapshot is only written with
 * everything the journal held (applying older records would roll Identifications back,
 * RFC 5944 §5.7.1). The first record that is short (a torn write), or whose checksum or
 * values are wrong, ends the journal: nothing after it is applied (it was never
 * acknowledged, since replies wait for the journal to be on disk). The repeated snapshot
 * CRC tells a record left over from an earlier journal in a file that is overwritten in
 * place (which is cheaper to sync than appending) from a damaged one; it is also covered by
 * the seeded checksum, so such a record never verifies.
 */
#define BCACHE_JOURNAL_MAGIC "MIP4HAJL"
#define BCACHE_JOURNAL_VERSION 1
#define BCACHE_JOURNAL_HDR_LEN 32
#define BCACHE_JOURNAL_REC_LEN 64

/* Which snapshot a journal continues. */
struct bcache_snapshot_id {
	uint64_t saved_at;   /* the snapshot's "saved at" field */
	uint32_t crc;        /* its CRC-32 trailer */
};

/* The id of the snapshot in data (checked as bcache_deserialize() does for structure and
 * checksum, not for the records' values): 0, -EBADMSG, -EPROTONOSUPPORT. */
int bcache_snapshot_id(const void *data, size_t len, struct bcache_snapshot_id *out);

/* Append a journal header for snapshot id to w: BCACHE_JOURNAL_HDR_LEN bytes or -ENOSPC
 * (nothing written). */
int bcache_journal_header(struct writer *w, const struct bcache_snapshot_id *id);

/* Append the journal record of hoa's entry, as it is now, to w (times converted as
 * bcache_serialize() does). BCACHE_JOURNAL_REC_LEN bytes, or -ENOENT (no entry for hoa),
 * -ENOSPC (nothing written). */
int bcache_journal_record(const struct bcache *bc, struct in_addr hoa,
			  const struct bcache_snapshot_id *id, struct writer *w,
			  mm_time_ns now_mono, mm_time_ns now_real);

/* How bcache_journal_replay() ended. */
enum bcache_journal_end {
	BCACHE_JOURNAL_END = 0,   /* end of the data, or a record of an earlier journal (or
	                           * zeros): the clean end */
	BCACHE_JOURNAL_TORN,      /* a partial record at the end of the data */
	BCACHE_JOURNAL_BAD,       /* a whole record of this journal with a bad checksum or bad
	                           * values, or one that cannot be added (cache full) */
};

struct bcache_journal_result {
	size_t applied;          /* records applied */
	size_t expired;          /* of those, bindings already over (loaded as ended) */
	size_t end;              /* offset of the first byte not applied */
	enum bcache_journal_end why;
	size_t later_valid;      /* BAD: records after the bad one that do verify (corruption
	                          * in the middle rather than a torn tail): not applied */
};

/* Check a journal header against snapshot id: 0 when it continues that snapshot, -ESTALE
 * when it names another one, -ENODATA when data is shorter than a header (an empty file),
 * -EBADMSG for a bad magic, length or header checksum, -EPROTONOSUPPORT for another
 * version. */
int bcache_journal_check(const void *data, size_t len, const struct bcache_snapshot_id *id);

/* Apply the records of the journal in data (header included) to bc, in order, each one
 * setting its entry to the recorded state: the replay state (never moved back: a recorded
 * Identification that is not after the one held is kept out), and the binding, which is
 * installed, replaced or ended; a binding whose expiry is not after now_real is ended and
 * counted in res->expired. Stops at the first record that does not verify (res says
 * where and why). Returns 0 with *res filled; the header errors of bcache_journal_check()
 * with bc untouched; -ENOSPC or -ENOMEM when an entry cannot be added, with the records
 * before it applied and *res describing them (why = BAD). */
int bcache_journal_replay(struct bcache *bc, const void *data, size_t len,
			  const struct bcache_snapshot_id *id, mm_time_ns now_mono,
			  mm_time_ns now_real, struct bcache_journal_result *res);

#endif
