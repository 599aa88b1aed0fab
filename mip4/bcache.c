/* Home agent binding cache: dense entry array + open-addressing index + expiry heap.
 * See bcache.h. */
#include "mip4/bcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NO_INDEX UINT32_MAX
#define SLOTS_MIN_BITS 7
#define ENTRIES_MIN 64

struct heap_node {
	mm_time_ns at;             /* ent[idx].expires_at */
	uint32_t idx;
};

struct bcache {
	struct mip4_binding *ent;  /* dense, [0, n) in use, capacity cap */
	uint32_t n;
	uint32_t cap;
	uint32_t max;
	uint32_t *slot;            /* index into ent, or NO_INDEX; 1 << slot_bits of them */
	unsigned slot_bits;
	struct heap_node *heap;    /* active entries, min-heap on expires_at */
	uint32_t heap_n;
	size_t active;
};

/* --- hashing -------------------------------------------------------------------------- */

static inline uint32_t key_of(struct in_addr a) { return ntohl(a.s_addr); }

/* Fibonacci hashing: home addresses are mostly consecutive, and the multiply spreads them
 * over the whole table. Only authenticated mobile nodes create entries, so there is no
 * attacker-chosen key set to defend against. */
static inline uint32_t slot_of(const struct bcache *bc, uint32_t key)
{
	return (uint32_t)(key * UINT32_C(0x9E3779B1)) >> (32 - bc->slot_bits);
}

static uint32_t find_index(const struct bcache *bc, struct in_addr hoa)
{
	uint32_t mask = (UINT32_C(1) << bc->slot_bits) - 1;
	uint32_t i = slot_of(bc, key_of(hoa));

	for (;;) {
		uint32_t idx = bc->slot[i];

		if (idx == NO_INDEX)
			return NO_INDEX;
		if (bc->ent[idx].home_addr.s_addr == hoa.s_addr)
			return idx;
		i = (i + 1) & mask;
	}
}

static void slot_place(uint32_t *slot, unsigned bits, uint32_t key, uint32_t idx)
{
	uint32_t mask = (UINT32_C(1) << bits) - 1;
	uint32_t i = (uint32_t)(key * UINT32_C(0x9E3779B1)) >> (32 - bits);

	while (slot[i] != NO_INDEX)
		i = (i + 1) & mask;
	slot[i] = idx;
}

static int slots_resize(struct bcache *bc, unsigned bits)
{
	size_t cap = (size_t)1 << bits;
	uint32_t *s = malloc(cap * sizeof(*s));

	if (!s)
		return -ENOMEM;
	memset(s, 0xff, cap * sizeof(*s));
	for (uint32_t i = 0; i < bc->n; i++)
		slot_place(s, bits, key_of(bc->ent[i].home_addr), i);
	free(bc->slot);
	bc->slot = s;
	bc->slot_bits = bits;
	return 0;
}

/* --- expiry heap ---------------------------------------------------------------------- */

/* Nodes carry their key, so that sifting compares within the heap array instead of
 * reaching into an entry (a cache miss each) per comparison; only the entries that move
 * are touched, to update their position. */
static inline void heap_set(struct bcache *bc, uint32_t pos, struct heap_node n)
{
	bc->heap[pos] = n;
	bc->ent[n.idx].heap_pos_ = pos;
}

static void heap_up(struct bcache *bc, uint32_t i)
{
	struct heap_node n = bc->heap[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (!(n.at < bc->heap[p].at))
			break;
		heap_set(bc, i, bc->heap[p]);
		i = p;
	}
	heap_set(bc, i, n);
}

static void heap_down(struct bcache *bc, uint32_t i)
{
	struct heap_node n = bc->heap[i];

	for (;;) {
		uint32_t l = 2 * i + 1, m;

		if (l >= bc->heap_n)
			break;
		m = l + 1 < bc->heap_n && bc->heap[l + 1].at < bc->heap[l].at ? l + 1 : l;
		if (!(bc->heap[m].at < n.at))
			break;
		heap_set(bc, i, bc->heap[m]);
		i = m;
	}
	heap_set(bc, i, n);
}

static void heap_push(struct bcache *bc, uint32_t idx)
{
	uint32_t pos = bc->heap_n++;

	heap_set(bc, pos, (struct heap_node){ .at = bc->ent[idx].expires_at, .idx = idx });
	heap_up(bc, pos);
}

static void heap_remove(struct bcache *bc, uint32_t idx)
{
	uint32_t pos = bc->ent[idx].heap_pos_;
	uint32_t last = --bc->heap_n, moved;

	bc->ent[idx].heap_pos_ = NO_INDEX;
	if (pos == last)
		return;
	moved = bc->heap[last].idx;
	heap_set(bc, pos, bc->heap[last]);
	heap_up(bc, pos);
	heap_down(bc, bc->ent[moved].heap_pos_);
}

/* expires_at of ent[idx] changed: restore heap order. */
static void heap_fix(struct bcache *bc, uint32_t idx)
{
	uint32_t pos = bc->ent[idx].heap_pos_;

	bc->heap[pos].at = bc->ent[idx].expires_at;
	heap_up(bc, pos);
	heap_down(bc, bc->ent[idx].heap_pos_);
}

/* --- entries -------------------------------------------------------------------------- */

struct bcache *bcache_new(size_t max_entries)
{
	struct bcache *bc;

	if (max_entries == 0 || max_entries > BCACHE_MAX_ENTRIES)
		return NULL;
	bc = calloc(1, sizeof(*bc));
	if (!bc)
		return NULL;
	bc->max = (uint32_t)max_entries;
	if (slots_resize(bc, SLOTS_MIN_BITS) < 0) {
		free(bc);
		return NULL;
	}
	return bc;
}

void bcache_free(struct bcache *bc)
{
	if (!bc)
		return;
	free(bc->ent);
	free(bc->slot);
	free(bc->heap);
	free(bc);
}

size_t bcache_count(const struct bcache *bc) { return bc ? bc->active : 0; }
size_t bcache_entries(const struct bcache *bc) { return bc ? bc->n : 0; }
size_t bcache_max_entries(const struct bcache *bc) { return bc ? bc->max : 0; }

size_t bcache_memory(const struct bcache *bc)
{
	if (!bc)
		return 0;
	return sizeof(*bc) + (size_t)bc->cap * (sizeof(*bc->ent) + sizeof(*bc->heap)) +
	       ((size_t)1 << bc->slot_bits) * sizeof(*bc->slot);
}

/* Room for one more entry (arrays and index), or -ENOSPC / -ENOMEM. */
static int reserve_one(struct bcache *bc)
{
	if (bc->n >= bc->max)
		return -ENOSPC;
	if (bc->n == bc->cap) {
		size_t ncap = bc->cap ? (size_t)bc->cap * 2 : ENTRIES_MIN;
		struct mip4_binding *e;
		struct heap_node *h;

		if (ncap > bc->max)
			ncap = bc->max;
		e = realloc(bc->ent, ncap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		bc->ent = e;
		h = realloc(bc->heap, ncap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		bc->heap = h;
		bc->cap = (uint32_t)ncap;
	}
	/* Load factor at most 1/2 keeps linear probes short. */
	if (((size_t)bc->n + 1) * 2 > ((size_t)1 << bc->slot_bits))
		return slots_resize(bc, bc->slot_bits + 1);
	return 0;
}

/* The index of hoa's entry, created (empty) if needed; NO_INDEX with *err on failure. */
static uint32_t get_or_add(struct bcache *bc, struct in_addr hoa, int *err)
{
	uint32_t idx = find_index(bc, hoa);
	struct mip4_binding *e;
	int rc;

	if (idx != NO_INDEX)
		return idx;
	rc = reserve_one(bc);
	if (rc < 0) {
		*err = rc;
		return NO_INDEX;
	}
	idx = bc->n++;
	e = &bc->ent[idx];
	memset(e, 0, sizeof(*e));
	e->home_addr = hoa;
	e->heap_pos_ = NO_INDEX;
	slot_place(bc->slot, bc->slot_bits, key_of(hoa), idx);
	return idx;
}

const struct mip4_binding *bcache_get(const struct bcache *bc, struct in_addr hoa)
{
	uint32_t idx;

	if (!bc)
		return NULL;
	idx = find_index(bc, hoa);
	return idx == NO_INDEX ? NULL : &bc->ent[idx];
}

const struct mip4_binding *bcache_lookup(const struct bcache *bc, struct in_addr hoa)
{
	const struct mip4_binding *e = bcache_get(bc, hoa);

	return mip4_binding_active(e) ? e : NULL;
}

int bcache_set_replay(struct bcache *bc, struct in_addr hoa, uint64_t ident)
{
	uint32_t idx;
	int err = 0;

	if (!bc || hoa.s_addr == 0)
		return -EINVAL;
	idx = get_or_add(bc, hoa, &err);
	if (idx == NO_INDEX)
		return err;
	bc->ent[idx].replay_ident = ident;
	bc->ent[idx].state |= BCACHE_S_REPLAY;
	return 0;
}

int bcache_bind(struct bcache *bc, const struct mip4_binding *b, bool *was_active)
{
	struct mip4_binding *e;
	uint32_t idx;
	bool active;
	int err = 0;

	if (!bc || !b || b->home_addr.s_addr == 0 || b->lifetime == 0 ||
	    (b->encap != MIP4_ENCAP_IPIP && b->encap != MIP4_ENCAP_UDP))
		return -EINVAL;
	idx = get_or_add(bc, b->home_addr, &err);
	if (idx == NO_INDEX)
		return err;
	e = &bc->ent[idx];
	active = e->state & BCACHE_S_ACTIVE;
	e->coa = b->coa;
	e->ep_addr = b->ep_addr;
	e->ep_port = b->ep_port;
	e->lifetime = b->lifetime;
	e->encap = b->encap;
	e->req_flags = b->req_flags;
	e->ident = b->ident;
	e->registered_at = b->registered_at;
	e->expires_at = b->expires_at;
	e->state = (uint8_t)((e->state & BCACHE_S_REPLAY) | BCACHE_S_ACTIVE |
			     (b->state & BCACHE_S_FORCED));
	e->registrations = active && e->registrations < UINT32_MAX ? e->registrations + 1
			   : active ? UINT32_MAX : 1;
	if (active) {
		heap_fix(bc, idx);
	} else {
		heap_push(bc, idx);
		bc->active++;
	}
	if (was_active)
		*was_active = active;
	return 0;
}

int bcache_set_endpoint(struct bcache *bc, struct in_addr hoa, struct in_addr addr,
			uint16_t port)
{
	uint32_t idx;

	if (!bc)
		return -EINVAL;
	idx = find_index(bc, hoa);
	if (idx == NO_INDEX || !(bc->ent[idx].state & BCACHE_S_ACTIVE))
		return -ENOENT;
	bc->ent[idx].ep_addr = addr;
	bc->ent[idx].ep_port = port;
	return 0;
}

/* End the binding of ent[idx] (which is active). */
static void end_binding(struct bcache *bc, uint32_t idx, struct mip4_binding *old)
{
	struct mip4_binding *e = &bc->ent[idx];

	heap_remove(bc, idx);
	bc->active--;
	if (old)
		*old = *e;
	e->coa.s_addr = 0;
	e->ep_addr.s_addr = 0;
	e->ep_port = 0;
	e->lifetime = 0;
	e->encap = MIP4_ENCAP_NONE;
	e->req_flags = 0;
	e->registrations = 0;
	e->ident = 0;
	e->registered_at = 0;
	e->expires_at = 0;
	e->state &= BCACHE_S_REPLAY;
}

int bcache_unbind(struct bcache *bc, struct in_addr hoa, struct mip4_binding *old)
{
	uint32_t idx;

	if (!bc)
		return -EINVAL;
	idx = find_index(bc, hoa);
	if (idx == NO_INDEX || !(bc->ent[idx].state & BCACHE_S_ACTIVE))
		return -ENOENT;
	end_binding(bc, idx, old);
	return 0;
}

mm_time_ns bcache_next_expiry(const struct bcache *bc)
{
	if (!bc || bc->heap_n == 0)
		return BCACHE_NEVER;
	return bc->heap[0].at;
}

int bcache_expire_one(struct bcache *bc, mm_time_ns now, struct mip4_binding *out)
{
	uint32_t idx;

	if (!bc || bc->heap_n == 0)
		return 0;
	idx = bc->heap[0].idx;
	if (bc->heap[0].at > now)
		return 0;
	end_binding(bc, idx, out);
	return 1;
}

bool bcache_next(const struct bcache *bc, size_t *cursor, const struct mip4_binding **out)
{
	if (!bc || !cursor || !out)
		return false;
	while (*cursor < bc->n) {
		const struct mip4_binding *e = &bc->ent[(*cursor)++];

		if (e->state & BCACHE_S_ACTIVE) {
			*out = e;
			return true;
		}
	}
	return false;
}

/* --- persistence ---------------------------------------------------------------------- */

/* Slicing-by-8 (eight tables, 8 KiB): a journal record is checksummed for every change,
 * and a snapshot of 10^6 entries is 56 MB. */
static uint32_t crc_table[8][256];
static bool crc_ready;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? UINT32_C(0xEDB88320) ^ (c >> 1) : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
					  crc_table[0][crc_table[t - 1][i] & 0xff];
	crc_ready = true;
}

uint32_t bcache_crc32(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (!crc_ready)
		crc_init();
	crc = ~crc;
	for (; len >= 8; len -= 8, p += 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
			      (uint32_t)p[7] << 24;

		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		      crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
	}
	while (len--)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

size_t bcache_serialized_len(const struct bcache *bc)
{
	return BCACHE_HDR_LEN + (size_t)bcache_entries(bc) * BCACHE_REC_LEN + BCACHE_TRAILER_LEN;
}

/* Monotonic <-> wall clock, through the caller's (now_mono, now_real) pair. */
static uint64_t mono_to_real(mm_time_ns t, mm_time_ns now_mono, mm_time_ns now_real)
{
	int64_t r = (int64_t)now_real + ((int64_t)t - (int64_t)now_mono);

	return r > 0 ? (uint64_t)r : 1;
}

static mm_time_ns real_to_mono(uint64_t t, mm_time_ns now_mono, mm_time_ns now_real)
{
	int64_t m = (int64_t)now_mono + ((int64_t)t - (int64_t)now_real);

	return m > 0 ? (mm_time_ns)m : 0;
}

static void write_addr(struct writer *w, struct in_addr a)
{
	writer_be32(w, ntohl(a.s_addr));
}

/* One entry as a BCACHE_REC_LEN record (the caller checked the room). */
static void write_entry(struct writer *w, const struct mip4_binding *e, mm_time_ns now_mono,
			mm_time_ns now_real)
{
	bool active = e->state & BCACHE_S_ACTIVE;

	write_addr(w, e->home_addr);
	write_addr(w, e->coa);
	write_addr(w, e->ep_addr);
	writer_be16(w, e->ep_port);
	writer_be16(w, e->lifetime);
	writer_u8(w, e->encap);
	writer_u8(w, e->req_flags);
	writer_u8(w, e->state);
	writer_u8(w, 0);
	writer_be32(w, e->registrations);
	writer_be64(w, e->ident);
	writer_be64(w, e->replay_ident);
	writer_be64(w, active ? mono_to_real(e->registered_at, now_mono, now_real) : 0);
	writer_be64(w, active ? mono_to_real(e->expires_at, now_mono, now_real) : 0);
}

int bcache_serialize(const struct bcache *bc, struct writer *w, mm_time_ns now_mono,
		     mm_time_ns now_real)
{
	size_t start, need;
	const uint8_t *p;
	uint8_t *view;
	uint32_t crc;

	if (!bc || !w)
		return -EINVAL;
	need = bcache_serialized_len(bc);
	if (writer_room(w) < need)
		return -ENOSPC;
	start = writer_len(w);
	writer_bytes(w, BCACHE_MAGIC, 8);
	writer_be16(w, BCACHE_VERSION);
	writer_be16(w, BCACHE_REC_LEN);
	writer_be32(w, bc->n);
	writer_be64(w, now_real);
	for (uint32_t i = 0; i < bc->n; i++)
		write_entry(w, &bc->ent[i], now_mono, now_real);
	if (!writer_view(w, start, writer_len(w) - start, &view))
		return -ENOSPC;
	p = view;
	crc = bcache_crc32(0, p, writer_len(w) - start);
	writer_be32(w, crc);
	if (!writer_ok(w))
		return -ENOSPC;
	return (int)(writer_len(w) - start);
}

struct record {
	struct mip4_binding b;
	uint8_t reserved;
	uint64_t reg_real, exp_real;
};

static bool read_addr(struct reader *r, struct in_addr *a)
{
	uint32_t v;

	if (!reader_be32(r, &v))
		return false;
	a->s_addr = htonl(v);
	return true;
}

static bool read_record(struct reader *r, struct record *rec)
{
	memset(rec, 0, sizeof(*rec));
	read_addr(r, &rec->b.home_addr);
	read_addr(r, &rec->b.coa);
	read_addr(r, &rec->b.ep_addr);
	reader_be16(r, &rec->b.ep_port);
	reader_be16(r, &rec->b.lifetime);
	reader_u8(r, &rec->b.encap);
	reader_u8(r, &rec->b.req_flags);
	reader_u8(r, &rec->b.state);
	reader_u8(r, &rec->reserved);
	reader_be32(r, &rec->b.registrations);
	reader_be64(r, &rec->b.ident);
	reader_be64(r, &rec->b.replay_ident);
	reader_be64(r, &rec->reg_real);
	reader_be64(r, &rec->exp_real);
	return reader_ok(r);
}

/* Stage 2: the values of one record. */
static bool record_valid(const struct record *rec)
{
	const struct mip4_binding *b = &rec->b;

	if (b->home_addr.s_addr == 0 || rec->reserved != 0 || (b->state & ~BCACHE_S_ALL))
		return false;
	if (!(b->state & BCACHE_S_ACTIVE))
		/* A replay-only entry: nothing else may be set. */
		return (b->state == BCACHE_S_REPLAY) && b->coa.s_addr == 0 &&
		       b->ep_addr.s_addr == 0 && b->ep_port == 0 && b->lifetime == 0 &&
		       b->encap == MIP4_ENCAP_NONE && b->req_flags == 0 &&
		       b->registrations == 0 && b->ident == 0 && rec->reg_real == 0 &&
		       rec->exp_real == 0;
	if (b->encap != MIP4_ENCAP_IPIP && b->encap != MIP4_ENCAP_UDP)
		return false;
	if (b->encap == MIP4_ENCAP_IPIP && (b->ep_port != 0 || (b->state & BCACHE_S_FORCED)))
		return false;
	if (b->lifetime == 0 || b->coa.s_addr == 0 || b->ep_addr.s_addr == 0 ||
	    b->registrations == 0)
		return false;
	if (rec->reg_real == 0 || rec->exp_real <= rec->reg_real ||
	    rec->exp_real - rec->reg_real > MM_SEC(UINT16_MAX))
		return false;
	return true;
}

/* Stage 1 of a snapshot: structure, checksum first so that nothing from a damaged file is
 * used. On success *body holds the records, *count says how many. */
static int snapshot_structure(const void *data, size_t len, struct reader *body,
			      uint32_t *count, struct bcache_snapshot_id *id)
{
	struct reader r;
	uint8_t magic[8];
	uint16_t version, rec_len;
	uint32_t crc;
	uint64_t saved_at;

	if (len < BCACHE_HDR_LEN + BCACHE_TRAILER_LEN)
		return -EBADMSG;
	reader_init(&r, data, len);
	if (!reader_sub(&r, len - BCACHE_TRAILER_LEN, body) || !reader_be32(&r, &crc) ||
	    !reader_expect_end(&r))
		return -EBADMSG;
	if (bcache_crc32(0, data, len - BCACHE_TRAILER_LEN) != crc)
		return -EBADMSG;
	if (!reader_copy(body, magic, sizeof(magic)) || memcmp(magic, BCACHE_MAGIC, 8) != 0)
		return -EBADMSG;
	if (!reader_be16(body, &version) || !reader_be16(body, &rec_len) ||
	    !reader_be32(body, count) || !reader_be64(body, &saved_at))
		return -EBADMSG;
	if (version != BCACHE_VERSION)
		return -EPROTONOSUPPORT;
	if (rec_len != BCACHE_REC_LEN || reader_remaining(body) / BCACHE_REC_LEN != *count ||
	    reader_remaining(body) % BCACHE_REC_LEN != 0)
		return -EBADMSG;
	id->saved_at = saved_at;
	id->crc = crc;
	return 0;
}

int bcache_snapshot_id(const void *data, size_t len, struct bcache_snapshot_id *out)
{
	struct bcache_snapshot_id id;
	struct reader body;
	uint32_t count;
	int rc;

	if (!out || (!data && len))
		return -EINVAL;
	rc = snapshot_structure(data, len, &body, &count, &id);
	if (rc < 0)
		return rc;
	*out = id;
	return 0;
}

int bcache_deserialize(struct bcache **out, const void *data, size_t len, size_t max_entries,
		       mm_time_ns now_mono, mm_time_ns now_real, size_t *expired)
{
	struct bcache_snapshot_id id;
	struct reader body;
	uint32_t count;
	size_t nexpired = 0;
	struct bcache *bc;
	int rc;

	if (!out || (!data && len) || max_entries == 0 || max_entries > BCACHE_MAX_ENTRIES)
		return -EINVAL;
	rc = snapshot_structure(data, len, &body, &count, &id);
	if (rc < 0)
		return rc;
	if (count > max_entries)
		return -E2BIG;

	bc = bcache_new(max_entries);
	if (!bc)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		struct record rec;
		uint32_t idx;
		int err = 0;

		if (!read_record(&body, &rec) || !record_valid(&rec) ||
		    find_index(bc, rec.b.home_addr) != NO_INDEX) {
			rc = -EBADMSG;
			goto fail;
		}
		idx = get_or_add(bc, rec.b.home_addr, &err);
		if (idx == NO_INDEX) {
			rc = err;
			goto fail;
		}
		if (rec.b.state & BCACHE_S_REPLAY) {
			bc->ent[idx].state |= BCACHE_S_REPLAY;
			bc->ent[idx].replay_ident = rec.b.replay_ident;
		}
		if (!(rec.b.state & BCACHE_S_ACTIVE))
			continue;
		if (rec.exp_real <= now_real) {
			nexpired++;
			continue;
		}
		rec.b.registered_at = real_to_mono(rec.reg_real, now_mono, now_real);
		rec.b.expires_at = real_to_mono(rec.exp_real, now_mono, now_real);
		rc = bcache_bind(bc, &rec.b, NULL);
		if (rc < 0)
			goto fail;
		bc->ent[idx].registrations = rec.b.registrations;
	}
	if (!reader_done(&body)) {
		rc = -EBADMSG;
		goto fail;
	}
	*out = bc;
	if (expired)
		*expired = nexpired;
	return 0;
fail:
	bcache_free(bc);
	return rc;
}

/* --- journal -------------------------------------------------------------------------- */

/* Bytes of the journal header covered by its checksum (and seeding every record's). */
#define JHDR_SIGNED 28

static void write_journal_header(struct writer *w, const struct bcache_snapshot_id *id)
{
	writer_bytes(w, BCACHE_JOURNAL_MAGIC, 8);
	writer_be16(w, BCACHE_JOURNAL_VERSION);
	writer_be16(w, BCACHE_JOURNAL_REC_LEN);
	writer_be64(w, id->saved_at);
	writer_be32(w, id->crc);
	writer_be32(w, 0);
}

/* The checksum of the signed part of the header for id: the seed of every record's. */
static uint32_t journal_seed(const struct bcache_snapshot_id *id)
{
	uint8_t hdr[JHDR_SIGNED];
	struct writer w;

	writer_init(&w, hdr, sizeof(hdr));
	write_journal_header(&w, id);
	return bcache_crc32(0, hdr, sizeof(hdr));
}

int bcache_journal_header(struct writer *w, const struct bcache_snapshot_id *id)
{
	if (!w || !id)
		return -EINVAL;
	if (writer_room(w) < BCACHE_JOURNAL_HDR_LEN)
		return -ENOSPC;
	write_journal_header(w, id);
	writer_be32(w, journal_seed(id));
	return writer_ok(w) ? BCACHE_JOURNAL_HDR_LEN : -ENOSPC;
}

int bcache_journal_record(const struct bcache *bc, struct in_addr hoa,
			  const struct bcache_snapshot_id *id, struct writer *w,
			  mm_time_ns now_mono, mm_time_ns now_real)
{
	uint8_t *view;
	size_t start;
	uint32_t idx;

	if (!bc || !id || !w)
		return -EINVAL;
	idx = find_index(bc, hoa);
	if (idx == NO_INDEX)
		return -ENOENT;
	if (writer_room(w) < BCACHE_JOURNAL_REC_LEN)
		return -ENOSPC;
	start = writer_len(w);
	write_entry(w, &bc->ent[idx], now_mono, now_real);
	writer_be32(w, id->crc);
	if (!writer_view(w, start, BCACHE_JOURNAL_REC_LEN - 4, &view))
		return -ENOSPC;
	writer_be32(w, bcache_crc32(journal_seed(id), view, BCACHE_JOURNAL_REC_LEN - 4));
	return writer_ok(w) ? BCACHE_JOURNAL_REC_LEN : -ENOSPC;
}

int bcache_journal_check(const void *data, size_t len, const struct bcache_snapshot_id *id)
{
	struct bcache_snapshot_id got;
	struct reader r;
	uint8_t magic[8];
	uint16_t version, rec_len;
	uint32_t reserved, crc;

	if ((!data && len) || !id)
		return -EINVAL;
	if (len < BCACHE_JOURNAL_HDR_LEN)
		return -ENODATA;
	reader_init(&r, data, BCACHE_JOURNAL_HDR_LEN);
	if (!reader_copy(&r, magic, sizeof(magic)) || !reader_be16(&r, &version) ||
	    !reader_be16(&r, &rec_len) || !reader_be64(&r, &got.saved_at) ||
	    !reader_be32(&r, &got.crc) || !reader_be32(&r, &reserved) || !reader_be32(&r, &crc) ||
	    !reader_done(&r))
		return -EBADMSG;
	if (memcmp(magic, BCACHE_JOURNAL_MAGIC, 8) != 0 ||
	    bcache_crc32(0, data, JHDR_SIGNED) != crc)
		return -EBADMSG;
	if (version != BCACHE_JOURNAL_VERSION)
		return -EPROTONOSUPPORT;
	if (rec_len != BCACHE_JOURNAL_REC_LEN || reserved != 0)
		return -EBADMSG;
	if (got.saved_at != id->saved_at || got.crc != id->crc)
		return -ESTALE;
	return 0;
}

/* Set hoa's entry to the state of rec (which passed record_valid()). */
static int apply_record(struct bcache *bc, struct record *rec, mm_time_ns now_mono,
			mm_time_ns now_real, bool *expired)
{
	struct mip4_binding *e;
	uint32_t idx;
	int err = 0;

	idx = get_or_add(bc, rec->b.home_addr, &err);
	if (idx == NO_INDEX)
		return err;
	e = &bc->ent[idx];
	/* §5.7.1: the replay state only moves forward, whatever a record says. */
	if ((rec->b.state & BCACHE_S_REPLAY) &&
	    (!(e->state & BCACHE_S_REPLAY) ||
	     (int64_t)(rec->b.replay_ident - e->replay_ident) > 0)) {
		e->replay_ident = rec->b.replay_ident;
		e->state |= BCACHE_S_REPLAY;
	}
	if ((rec->b.state & BCACHE_S_ACTIVE) && rec->exp_real > now_real) {
		int rc;

		rec->b.registered_at = real_to_mono(rec->reg_real, now_mono, now_real);
		rec->b.expires_at = real_to_mono(rec->exp_real, now_mono, now_real);
		rc = bcache_bind(bc, &rec->b, NULL);
		if (rc < 0)
			return rc;
		bc->ent[idx].registrations = rec->b.registrations;
		return 0;
	}
	if (rec->b.state & BCACHE_S_ACTIVE)
		*expired = true;
	if (bc->ent[idx].state & BCACHE_S_ACTIVE)
		end_binding(bc, idx, NULL);
	return 0;
}

/* The record at data[off..off + BCACHE_JOURNAL_REC_LEN): 1 when it belongs to this journal
 * (its snapshot CRC matches) and verifies, 0 when it belongs to another one (or is zeros),
 * -EBADMSG when it is this journal's but does not verify. */
static int journal_record_at(const uint8_t *data, size_t off, uint32_t seed,
			     const struct bcache_snapshot_id *id, struct record *rec)
{
	struct reader r;
	uint32_t tag, crc;

	reader_init(&r, data + off, BCACHE_JOURNAL_REC_LEN);
	if (!read_record(&r, rec) || !reader_be32(&r, &tag) || !reader_be32(&r, &crc))
		return -EBADMSG;
	if (tag != id->crc)
		return 0;
	if (bcache_crc32(seed, data + off, BCACHE_JOURNAL_REC_LEN - 4) != crc ||
	    !record_valid(rec))
		return -EBADMSG;
	return 1;
}

int bcache_journal_replay(struct bcache *bc, const void *data, size_t len,
			  const struct bcache_snapshot_id *id, mm_time_ns now_mono,
			  mm_time_ns now_real, struct bcache_journal_result *res)
{
	const uint8_t *p = data;
	struct bcache_journal_result out;
	uint32_t seed;
	size_t off;
	int rc;

	if (!bc || !res)
		return -EINVAL;
	rc = bcache_journal_check(data, len, id);
	if (rc < 0)
		return rc;
	memset(&out, 0, sizeof(out));
	seed = journal_seed(id);
	for (off = BCACHE_JOURNAL_HDR_LEN;; off += BCACHE_JOURNAL_REC_LEN) {
		struct record rec;
		bool expired = false;

		if (len - off < BCACHE_JOURNAL_REC_LEN) {
			out.why = len == off ? BCACHE_JOURNAL_END : BCACHE_JOURNAL_TORN;
			break;
		}
		rc = journal_record_at(p, off, seed, id, &rec);
		if (rc == 0) {
			out.why = BCACHE_JOURNAL_END;
			break;
		}
		if (rc < 0) {
			out.why = BCACHE_JOURNAL_BAD;
			for (size_t o = off + BCACHE_JOURNAL_REC_LEN;
			     len - o >= BCACHE_JOURNAL_REC_LEN; o += BCACHE_JOURNAL_REC_LEN)
				if (journal_record_at(p, o, seed, id, &rec) == 1)
					out.later_valid++;
			break;
		}
		rc = apply_record(bc, &rec, now_mono, now_real, &expired);
		if (rc < 0) {
			out.why = BCACHE_JOURNAL_BAD;
			out.end = off;
			*res = out;
			return rc;
		}
		out.applied++;
		out.expired += expired;
	}
	out.end = off;
	*res = out;
	return 0;
}
