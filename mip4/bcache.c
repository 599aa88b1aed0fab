/* Home agent binding cache: dense entry array + open-addressing index + expiry heap.
 * See bcache.h. */
#include "mip4/bcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NO_INDEX UINT32_MAX
#define SLOTS_MIN_BITS 7
#define ENTRIES_MIN 64

struct bcache {
	struct mip4_binding *ent;  /* dense, [0, n) in use, capacity cap */
	uint32_t n;
	uint32_t cap;
	uint32_t max;
	uint32_t *slot;            /* index into ent, or NO_INDEX; 1 << slot_bits of them */
	unsigned slot_bits;
	uint32_t *heap;            /* indices of active entries, min-heap on expires_at */
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

static inline bool heap_less(const struct bcache *bc, uint32_t a, uint32_t b)
{
	return bc->ent[bc->heap[a]].expires_at < bc->ent[bc->heap[b]].expires_at;
}

static inline void heap_swap(struct bcache *bc, uint32_t a, uint32_t b)
{
	uint32_t t = bc->heap[a];

	bc->heap[a] = bc->heap[b];
	bc->heap[b] = t;
	bc->ent[bc->heap[a]].heap_pos_ = a;
	bc->ent[bc->heap[b]].heap_pos_ = b;
}

static void heap_up(struct bcache *bc, uint32_t i)
{
	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (!heap_less(bc, i, p))
			break;
		heap_swap(bc, i, p);
		i = p;
	}
}

static void heap_down(struct bcache *bc, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < bc->heap_n && heap_less(bc, l, m))
			m = l;
		if (r < bc->heap_n && heap_less(bc, r, m))
			m = r;
		if (m == i)
			break;
		heap_swap(bc, i, m);
		i = m;
	}
}

static void heap_push(struct bcache *bc, uint32_t idx)
{
	uint32_t pos = bc->heap_n++;

	bc->heap[pos] = idx;
	bc->ent[idx].heap_pos_ = pos;
	heap_up(bc, pos);
}

static void heap_remove(struct bcache *bc, uint32_t idx)
{
	uint32_t pos = bc->ent[idx].heap_pos_;
	uint32_t last = --bc->heap_n;

	bc->ent[idx].heap_pos_ = NO_INDEX;
	if (pos == last)
		return;
	bc->heap[pos] = bc->heap[last];
	bc->ent[bc->heap[pos]].heap_pos_ = pos;
	heap_up(bc, pos);
	heap_down(bc, bc->ent[bc->heap[pos]].heap_pos_);
}

/* expires_at of ent[idx] changed: restore heap order. */
static void heap_fix(struct bcache *bc, uint32_t idx)
{
	heap_up(bc, bc->ent[idx].heap_pos_);
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
		uint32_t *h;

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
	return bc->ent[bc->heap[0]].expires_at;
}

int bcache_expire_one(struct bcache *bc, mm_time_ns now, struct mip4_binding *out)
{
	uint32_t idx;

	if (!bc || bc->heap_n == 0)
		return 0;
	idx = bc->heap[0];
	if (bc->ent[idx].expires_at > now)
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

static uint32_t crc_table[256];
static bool crc_ready;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? UINT32_C(0xEDB88320) ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
	crc_ready = true;
}

uint32_t bcache_crc32(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (!crc_ready)
		crc_init();
	crc = ~crc;
	for (size_t i = 0; i < len; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
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
	for (uint32_t i = 0; i < bc->n; i++) {
		const struct mip4_binding *e = &bc->ent[i];
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

int bcache_deserialize(struct bcache **out, const void *data, size_t len, size_t max_entries,
		       mm_time_ns now_mono, mm_time_ns now_real, size_t *expired)
{
	struct reader r, body;
	uint8_t magic[8];
	uint16_t version, rec_len;
	uint32_t count, crc;
	uint64_t saved_at;
	size_t nexpired = 0;
	struct bcache *bc;
	int rc;

	if (!out || (!data && len) || max_entries == 0 || max_entries > BCACHE_MAX_ENTRIES)
		return -EINVAL;
	if (len < BCACHE_HDR_LEN + BCACHE_TRAILER_LEN)
		return -EBADMSG;

	/* Stage 1: structure. The checksum first, so nothing from a damaged file is used. */
	reader_init(&r, data, len);
	if (!reader_sub(&r, len - BCACHE_TRAILER_LEN, &body) || !reader_be32(&r, &crc) ||
	    !reader_expect_end(&r))
		return -EBADMSG;
	if (bcache_crc32(0, data, len - BCACHE_TRAILER_LEN) != crc)
		return -EBADMSG;
	if (!reader_copy(&body, magic, sizeof(magic)) || memcmp(magic, BCACHE_MAGIC, 8) != 0)
		return -EBADMSG;
	if (!reader_be16(&body, &version) || !reader_be16(&body, &rec_len) ||
	    !reader_be32(&body, &count) || !reader_be64(&body, &saved_at))
		return -EBADMSG;
	(void)saved_at;
	if (version != BCACHE_VERSION)
		return -EPROTONOSUPPORT;
	if (rec_len != BCACHE_REC_LEN || reader_remaining(&body) / BCACHE_REC_LEN != count ||
	    reader_remaining(&body) % BCACHE_REC_LEN != 0)
		return -EBADMSG;
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
