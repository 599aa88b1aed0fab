/* Unit tests for the home agent binding cache (mip4/bcache.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mip4/bcache.h"
#include "tests/unit/tap.h"

static struct in_addr A(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a;
}

static struct in_addr nth(uint32_t i)
{
	struct in_addr a = { htonl(UINT32_C(0x0a000000) + i + 1) };

	return a;
}

static struct mip4_binding mk(struct in_addr hoa, struct in_addr coa, mm_time_ns now,
			      uint16_t life)
{
	struct mip4_binding b;

	memset(&b, 0, sizeof(b));
	b.home_addr = hoa;
	b.coa = coa;
	b.ep_addr = coa;
	b.lifetime = life;
	b.encap = MIP4_ENCAP_IPIP;
	b.req_flags = 0x22;
	b.ident = 0x1234;
	b.registered_at = now;
	b.expires_at = now + MM_SEC(life);
	return b;
}

/* xorshift, deterministic */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_basic(void)
{
	struct bcache *bc = bcache_new(8);
	struct mip4_binding b = mk(A("198.18.1.100"), A("198.18.11.10"), MM_SEC(10), 300), old;
	const struct mip4_binding *e;
	bool was = true;

	CHECK(bcache_new(0) == NULL);
	CHECK(bcache_new(BCACHE_MAX_ENTRIES + 1) == NULL);
	CHECK(bc != NULL);
	CHECK(bcache_lookup(bc, A("198.18.1.100")) == NULL);
	CHECK_EQ_U64(bcache_next_expiry(bc), BCACHE_NEVER);

	CHECK_EQ_U64(bcache_set_replay(bc, A("0.0.0.0"), 1), (uint64_t)-EINVAL);
	CHECK_EQ_U64(bcache_set_replay(bc, A("198.18.1.100"), 77), 0);
	e = bcache_get(bc, A("198.18.1.100"));
	CHECK(e && (e->state & BCACHE_S_REPLAY) && e->replay_ident == 77);
	CHECK(bcache_lookup(bc, A("198.18.1.100")) == NULL);
	CHECK_EQ_U64(bcache_count(bc), 0);
	CHECK_EQ_U64(bcache_entries(bc), 1);

	CHECK_EQ_U64(bcache_bind(bc, &b, &was), 0);
	CHECK(!was);
	e = bcache_lookup(bc, A("198.18.1.100"));
	CHECK(e && e->coa.s_addr == A("198.18.11.10").s_addr && e->lifetime == 300);
	CHECK(e && e->replay_ident == 77 && e->registrations == 1);
	CHECK_EQ_U64(bcache_count(bc), 1);
	CHECK_EQ_U64(bcache_next_expiry(bc), MM_SEC(310));

	/* Renewal: counts, moves the expiry. */
	b.expires_at = MM_SEC(400);
	CHECK_EQ_U64(bcache_bind(bc, &b, &was), 0);
	CHECK(was);
	e = bcache_lookup(bc, A("198.18.1.100"));
	CHECK(e && e->registrations == 2);
	CHECK_EQ_U64(bcache_next_expiry(bc), MM_SEC(400));

	CHECK_EQ_U64(bcache_set_endpoint(bc, A("198.18.1.100"), A("198.18.200.1"), 4500), 0);
	e = bcache_lookup(bc, A("198.18.1.100"));
	CHECK(e && e->ep_port == 4500 && e->ep_addr.s_addr == A("198.18.200.1").s_addr);
	CHECK_EQ_U64(bcache_set_endpoint(bc, A("198.18.1.101"), A("1.2.3.4"), 1),
		     (uint64_t)-ENOENT);

	/* Bad bindings. */
	b.lifetime = 0;
	CHECK_EQ_U64(bcache_bind(bc, &b, NULL), (uint64_t)-EINVAL);
	b.lifetime = 10;
	b.encap = MIP4_ENCAP_NONE;
	CHECK_EQ_U64(bcache_bind(bc, &b, NULL), (uint64_t)-EINVAL);

	/* Unbind keeps the replay state. */
	CHECK_EQ_U64(bcache_unbind(bc, A("198.18.1.100"), &old), 0);
	CHECK(old.coa.s_addr == A("198.18.11.10").s_addr && old.registrations == 2);
	CHECK(bcache_lookup(bc, A("198.18.1.100")) == NULL);
	e = bcache_get(bc, A("198.18.1.100"));
	CHECK(e && e->replay_ident == 77 && e->state == BCACHE_S_REPLAY);
	CHECK_EQ_U64(bcache_unbind(bc, A("198.18.1.100"), NULL), (uint64_t)-ENOENT);
	CHECK_EQ_U64(bcache_count(bc), 0);
	CHECK_EQ_U64(bcache_next_expiry(bc), BCACHE_NEVER);

	/* Rebinding after unbind restarts the registration count. */
	b = mk(A("198.18.1.100"), A("198.18.12.10"), MM_SEC(500), 60);
	CHECK_EQ_U64(bcache_bind(bc, &b, &was), 0);
	CHECK(!was);
	e = bcache_lookup(bc, A("198.18.1.100"));
	CHECK(e && e->registrations == 1);

	/* Capacity. */
	for (uint32_t i = 0; i < 7; i++)
		CHECK_LOOP(bcache_set_replay(bc, nth(i), i) == 0, tap_failed);
	CHECK_EQ_U64(bcache_entries(bc), 8);
	CHECK_EQ_U64(bcache_set_replay(bc, nth(100), 1), (uint64_t)-ENOSPC);
	b = mk(nth(101), A("1.1.1.1"), 0, 10);
	CHECK_EQ_U64(bcache_bind(bc, &b, NULL), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(bcache_set_replay(bc, nth(3), 99), 0); /* existing: fine */
	bcache_free(bc);
	bcache_free(NULL);
}

static void test_expiry_order(void)
{
	enum { N = 5000 };
	struct bcache *bc = bcache_new(N);
	struct mip4_binding b, out;
	mm_time_ns last = 0;
	unsigned popped = 0, bad = 0;
	size_t cursor = 0;
	const struct mip4_binding *it;
	unsigned seen = 0;

	for (uint32_t i = 0; i < N; i++) {
		b = mk(nth(i), A("198.18.11.10"), 0, 1 + (uint16_t)(rnd() % 3000));
		CHECK_LOOP(bcache_bind(bc, &b, NULL) == 0, bad);
	}
	/* Reschedule a third of them, unbind another third. */
	for (uint32_t i = 0; i < N; i += 3) {
		b = mk(nth(i), A("198.18.11.11"), MM_SEC(5), 1 + (uint16_t)(rnd() % 3000));
		CHECK_LOOP(bcache_bind(bc, &b, NULL) == 0, bad);
	}
	for (uint32_t i = 1; i < N; i += 3)
		CHECK_LOOP(bcache_unbind(bc, nth(i), NULL) == 0, bad);
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(bcache_count(bc), N - (N + 1) / 3);
	while (bcache_next(bc, &cursor, &it))
		seen++;
	CHECK_EQ_U64(seen, bcache_count(bc));

	CHECK_EQ_U64(bcache_expire_one(bc, 0, &out), 0);
	for (;;) {
		mm_time_ns next = bcache_next_expiry(bc);

		if (next == BCACHE_NEVER)
			break;
		CHECK_LOOP(bcache_expire_one(bc, next - 1, &out) == 0, bad);
		CHECK_LOOP(bcache_expire_one(bc, next, &out) == 1, bad);
		CHECK_LOOP(out.expires_at == next && next >= last, bad);
		CHECK_LOOP(bcache_lookup(bc, out.home_addr) == NULL, bad);
		last = next;
		popped++;
	}
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(popped, N - (N + 1) / 3);
	CHECK_EQ_U64(bcache_count(bc), 0);
	CHECK_EQ_U64(bcache_entries(bc), N);
	bcache_free(bc);
}

static uint8_t *save(const struct bcache *bc, size_t *len, mm_time_ns mono, mm_time_ns real)
{
	size_t need = bcache_serialized_len(bc);
	uint8_t *buf = malloc(need);
	struct writer w;
	int n;

	writer_init(&w, buf, need);
	n = bcache_serialize(bc, &w, mono, real);
	CHECK_EQ_U64(n, need);
	*len = need;
	return buf;
}

static void fix_crc(uint8_t *buf, size_t len)
{
	uint32_t c = bcache_crc32(0, buf, len - 4);

	buf[len - 4] = (uint8_t)(c >> 24);
	buf[len - 3] = (uint8_t)(c >> 16);
	buf[len - 2] = (uint8_t)(c >> 8);
	buf[len - 1] = (uint8_t)c;
}

static void test_persist(void)
{
	const mm_time_ns real0 = MM_SEC(1763856000), mono0 = MM_SEC(1000);
	struct bcache *bc = bcache_new(100), *bc2 = NULL, *sentinel = (struct bcache *)&rng_state;
	struct mip4_binding b;
	const struct mip4_binding *e;
	size_t len, expired = 99, cursor = 0;
	uint8_t *buf, tiny[10];
	struct writer w;
	unsigned bad = 0;

	CHECK_EQ_U64(bcache_crc32(0, "123456789", 9), 0xCBF43926);   /* the CRC-32 check value */
	/* Longer inputs, unaligned, continued: values from Python's zlib.crc32() over the bytes
	 * (7 i + 3) mod 256, i = 0..999 (whole, first 13, 64 from offset 5). */
	{
		uint8_t pat[1000];

		for (size_t i = 0; i < sizeof(pat); i++)
			pat[i] = (uint8_t)(i * 7 + 3);
		CHECK_EQ_U64(bcache_crc32(0, pat, sizeof(pat)), 0x17bc2a46);
		CHECK_EQ_U64(bcache_crc32(0, pat, 13), 0xa97ad5c1);
		CHECK_EQ_U64(bcache_crc32(0, pat + 5, 64), 0xfa00fa26);
		CHECK_EQ_U64(bcache_crc32(bcache_crc32(0, pat, 333), pat + 333, 667), 0x17bc2a46);
	}

	b = mk(A("198.18.1.100"), A("198.18.11.10"), mono0 - MM_SEC(20), 300);
	b.ident = 0xabcdef0123456789ull;
	bcache_bind(bc, &b, NULL);
	bcache_set_replay(bc, b.home_addr, 0xabcdef0123456789ull);
	b = mk(A("198.18.1.101"), A("198.18.77.2"), mono0 - MM_SEC(5), 10);   /* 5 s left */
	b.encap = MIP4_ENCAP_UDP;
	b.ep_addr = A("198.18.200.1");
	b.ep_port = 1234;
	b.state = BCACHE_S_FORCED;
	bcache_bind(bc, &b, NULL);
	bcache_bind(bc, &b, NULL);
	bcache_set_replay(bc, A("198.18.1.102"), 42);            /* replay only */

	writer_init(&w, tiny, sizeof(tiny));
	CHECK_EQ_U64(bcache_serialize(bc, &w, mono0, real0), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(writer_len(&w), 0);

	buf = save(bc, &len, mono0, real0);
	CHECK_EQ_U64(len, BCACHE_HDR_LEN + 3 * BCACHE_REC_LEN + 4);
	CHECK_MEM(buf, BCACHE_MAGIC, 8);

	/* Restart 3 s later, on a monotonic clock that started again from 50 s. */
	CHECK_EQ_U64(bcache_deserialize(&bc2, buf, len, 100, MM_SEC(50), real0 + MM_SEC(3),
					&expired), 0);
	CHECK_EQ_U64(expired, 0);
	CHECK_EQ_U64(bcache_count(bc2), 2);
	CHECK_EQ_U64(bcache_entries(bc2), 3);
	e = bcache_lookup(bc2, A("198.18.1.100"));
	CHECK(e && e->ident == 0xabcdef0123456789ull && e->replay_ident == e->ident);
	CHECK(e && e->expires_at == MM_SEC(50) + MM_SEC(300 - 20 - 3));
	CHECK(e && e->registered_at == MM_SEC(50) - MM_SEC(23));
	e = bcache_lookup(bc2, A("198.18.1.101"));
	CHECK(e && e->encap == MIP4_ENCAP_UDP && e->ep_port == 1234 && e->registrations == 2 &&
	      (e->state & BCACHE_S_FORCED) && e->ep_addr.s_addr == A("198.18.200.1").s_addr);
	CHECK(e && e->expires_at == MM_SEC(52));
	e = bcache_get(bc2, A("198.18.1.102"));
	CHECK(e && !mip4_binding_active(e) && e->replay_ident == 42);
	CHECK_EQ_U64(bcache_next_expiry(bc2), MM_SEC(52));
	bcache_free(bc2);

	/* Restart 6 s later: the 10 s binding is gone, its replay state is not. */
	bc2 = NULL;
	CHECK_EQ_U64(bcache_deserialize(&bc2, buf, len, 100, MM_SEC(50), real0 + MM_SEC(6),
					&expired), 0);
	CHECK_EQ_U64(expired, 1);
	CHECK_EQ_U64(bcache_count(bc2), 1);
	CHECK(bcache_lookup(bc2, A("198.18.1.101")) == NULL);
	CHECK(bcache_get(bc2, A("198.18.1.101")) != NULL);
	CHECK(bcache_next(bc2, &cursor, &e) && e->home_addr.s_addr == A("198.18.1.100").s_addr);
	CHECK(!bcache_next(bc2, &cursor, &e));
	bcache_free(bc2);

	/* Too many for the limit. */
	bc2 = sentinel;
	CHECK_EQ_U64(bcache_deserialize(&bc2, buf, len, 2, mono0, real0, NULL),
		     (uint64_t)-E2BIG);
	CHECK(bc2 == sentinel);

	/* Every truncation and every single-bit flip is refused, *out untouched. */
	for (size_t n = 0; n < len; n++)
		CHECK_LOOP(bcache_deserialize(&bc2, buf, n, 100, mono0, real0, NULL) == -EBADMSG,
			   bad);
	for (size_t i = 0; i < len * 8; i++) {
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		CHECK_LOOP(bcache_deserialize(&bc2, buf, len, 100, mono0, real0, NULL) < 0, bad);
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	CHECK(bc2 == sentinel);
	CHECK_EQ_U64(bad, 0);

	/* Version. */
	buf[9] = 2;
	fix_crc(buf, len);
	CHECK_EQ_U64(bcache_deserialize(&bc2, buf, len, 100, mono0, real0, NULL),
		     (uint64_t)-EPROTONOSUPPORT);
	buf[9] = 1;
	/* Count that does not match the records, with a valid checksum. */
	buf[15] = 4;
	fix_crc(buf, len);
	CHECK_EQ_U64(bcache_deserialize(&bc2, buf, len, 100, mono0, real0, NULL),
		     (uint64_t)-EBADMSG);
	buf[15] = 3;
	/* Duplicate home address, valid checksum. */
	memcpy(buf + BCACHE_HDR_LEN + 2 * BCACHE_REC_LEN, buf + BCACHE_HDR_LEN, 4);
	fix_crc(buf, len);
	CHECK_EQ_U64(bcache_deserialize(&bc2, buf, len, 100, mono0, real0, NULL),
		     (uint64_t)-EBADMSG);
	CHECK(bc2 == sentinel);
	free(buf);

	/* Hostile records with valid checksums: random mutations never crash, and either
	 * load whole or not at all. */
	buf = save(bc, &len, mono0, real0);
	for (int round = 0; round < 20000; round++) {
		uint8_t *m = malloc(len);
		struct bcache *got = sentinel;
		int rc;

		memcpy(m, buf, len);
		for (int k = 0; k < 1 + (int)(rnd() % 4); k++)
			m[BCACHE_HDR_LEN + rnd() % (len - BCACHE_HDR_LEN - 4)] = (uint8_t)rnd();
		fix_crc(m, len);
		rc = bcache_deserialize(&got, m, len, 100, mono0, real0, NULL);
		if (rc == 0) {
			CHECK_LOOP(got != sentinel && bcache_entries(got) == 3, bad);
			bcache_free(got);
		} else {
			CHECK_LOOP(got == sentinel && rc == -EBADMSG, bad);
		}
		free(m);
	}
	CHECK_EQ_U64(bad, 0);
	/* Pure garbage. */
	for (int round = 0; round < 2000; round++) {
		uint8_t g[300];
		size_t n = rnd() % sizeof(g);
		struct bcache *got = sentinel;

		for (size_t i = 0; i < n; i++)
			g[i] = (uint8_t)rnd();
		if (n > 8 && (round & 1))
			memcpy(g, BCACHE_MAGIC, 8);
		if (n >= 4 && (round & 2))
			fix_crc(g, n);
		CHECK_LOOP(bcache_deserialize(&got, g, n, 100, mono0, real0, NULL) < 0 &&
			   got == sentinel, bad);
	}
	CHECK_EQ_U64(bad, 0);
	/* Empty cache round trip. */
	bcache_free(bc);
	bc = bcache_new(5);
	free(buf);
	buf = save(bc, &len, mono0, real0);
	bc2 = NULL;
	CHECK_EQ_U64(bcache_deserialize(&bc2, buf, len, 5, mono0, real0, NULL), 0);
	CHECK(bc2 && bcache_entries(bc2) == 0);
	bcache_free(bc2);
	bcache_free(bc);
	free(buf);
}

/* --- journal ------------------------------------------------------------------------- */

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The snapshot record of hoa (56 bytes) in a snapshot, or NULL. */
static const uint8_t *snap_record(const uint8_t *snap, size_t len, struct in_addr hoa)
{
	for (size_t off = BCACHE_HDR_LEN; off + BCACHE_REC_LEN + 4 <= len; off += BCACHE_REC_LEN)
		if (be32_at(snap + off) == ntohl(hoa.s_addr))
			return snap + off;
	return NULL;
}

/* A journal: header for id, then the records of hoas[0..n) as they are in bc now. */
struct jbuf {
	uint8_t b[4096];
	size_t len;
};

static void j_start(struct jbuf *j, const struct bcache_snapshot_id *id)
{
	struct writer w;

	writer_init(&w, j->b, sizeof(j->b));
	CHECK_EQ_U64(bcache_journal_header(&w, id), BCACHE_JOURNAL_HDR_LEN);
	j->len = writer_len(&w);
}

static void j_add(struct jbuf *j, const struct bcache *bc, struct in_addr hoa,
		  const struct bcache_snapshot_id *id, mm_time_ns mono, mm_time_ns real)
{
	struct writer w;

	writer_init(&w, j->b + j->len, sizeof(j->b) - j->len);
	CHECK_EQ_U64(bcache_journal_record(bc, hoa, id, &w, mono, real), BCACHE_JOURNAL_REC_LEN);
	j->len += BCACHE_JOURNAL_REC_LEN;
}

/* bc restored from snapshot buf plus journal j (all of it applied or not). */
static struct bcache *restore(const uint8_t *buf, size_t len, const uint8_t *j, size_t jlen,
			      mm_time_ns mono, mm_time_ns real, struct bcache_journal_result *res,
			      int *rc)
{
	struct bcache *bc = NULL;
	struct bcache_snapshot_id id;

	if (bcache_deserialize(&bc, buf, len, 100, mono, real, NULL) < 0 ||
	    bcache_snapshot_id(buf, len, &id) < 0)
		return NULL;
	memset(res, 0xee, sizeof(*res));
	*rc = bcache_journal_replay(bc, j, jlen, &id, mono, real, res);
	return bc;
}

/* Two caches hold the same entries with the same values (as a snapshot shows them). */
static bool same(const struct bcache *a, const struct bcache *b, mm_time_ns mono,
		 mm_time_ns real)
{
	size_t la = bcache_serialized_len(a), lb = bcache_serialized_len(b);
	uint8_t *x = malloc(la), *y = malloc(lb);
	struct writer wa, wb;
	bool eq;

	writer_init(&wa, x, la);
	writer_init(&wb, y, lb);
	eq = bcache_serialize(a, &wa, mono, real) == (int)la &&
	     bcache_serialize(b, &wb, mono, real) == (int)lb && la == lb &&
	     memcmp(x, y, la) == 0;

	free(x);
	free(y);
	return eq;
}

static void test_journal(void)
{
	const mm_time_ns real0 = MM_SEC(1763856000), mono0 = MM_SEC(1000);
	const struct in_addr a = A("198.18.1.100"), b2 = A("198.18.1.101"),
			     c = A("198.18.1.102"), d = A("198.18.1.103");
	struct bcache *bc = bcache_new(100), *got, *old_state;
	struct bcache_snapshot_id id, id2, other;
	struct bcache_journal_result res;
	struct mip4_binding b;
	const struct mip4_binding *e;
	struct jbuf j, j1;
	size_t len, len2;
	uint8_t *snap, *snap2, hdr[BCACHE_JOURNAL_HDR_LEN];
	struct writer w;
	unsigned bad = 0;
	int rc;

	/* The snapshot: a bound (IP-in-IP), b2 bound (UDP, forced), c replay only. */
	b = mk(a, A("198.18.11.10"), mono0 - MM_SEC(20), 300);
	bcache_set_replay(bc, a, 0x1000);
	bcache_bind(bc, &b, NULL);
	b = mk(b2, A("198.18.77.2"), mono0 - MM_SEC(5), 100);
	b.encap = MIP4_ENCAP_UDP;
	b.ep_addr = A("198.18.200.1");
	b.ep_port = 1234;
	b.state = BCACHE_S_FORCED;
	bcache_set_replay(bc, b2, 0x2000);
	bcache_bind(bc, &b, NULL);
	bcache_set_replay(bc, c, 0x3000);
	snap = save(bc, &len, mono0, real0);

	/* Its id: the saved-at field and the CRC trailer, read from the bytes here. */
	CHECK_EQ_U64(bcache_snapshot_id(snap, len, &id), 0);
	CHECK_EQ_U64(id.saved_at, real0);
	CHECK_EQ_U64(id.crc, be32_at(snap + len - 4));
	snap[20] ^= 1;
	CHECK_EQ_U64(bcache_snapshot_id(snap, len, &other), (uint64_t)-EBADMSG);
	snap[20] ^= 1;

	/* The header: layout, and how it is checked. */
	j_start(&j, &id);
	CHECK_MEM(j.b, BCACHE_JOURNAL_MAGIC, 8);
	CHECK_EQ_U64(be32_at(j.b + 8), (uint32_t)BCACHE_JOURNAL_VERSION << 16 | 64);
	CHECK_EQ_U64(be32_at(j.b + 12), (uint32_t)(real0 >> 32));
	CHECK_EQ_U64(be32_at(j.b + 16), (uint32_t)real0);
	CHECK_EQ_U64(be32_at(j.b + 20), id.crc);
	CHECK_EQ_U64(be32_at(j.b + 24), 0);
	CHECK_EQ_U64(be32_at(j.b + 28), bcache_crc32(0, j.b, 28));
	CHECK_EQ_U64(bcache_journal_check(j.b, j.len, &id), 0);
	other = id;
	other.saved_at++;
	CHECK_EQ_U64(bcache_journal_check(j.b, j.len, &other), (uint64_t)-ESTALE);
	other = id;
	other.crc ^= 1;
	CHECK_EQ_U64(bcache_journal_check(j.b, j.len, &other), (uint64_t)-ESTALE);
	CHECK_EQ_U64(bcache_journal_check(j.b, 31, &id), (uint64_t)-ENODATA);
	CHECK_EQ_U64(bcache_journal_check(j.b, 0, &id), (uint64_t)-ENODATA);
	for (size_t i = 0; i < BCACHE_JOURNAL_HDR_LEN * 8; i++) {
		j.b[i / 8] ^= (uint8_t)(1u << (i % 8));
		CHECK_LOOP(bcache_journal_check(j.b, j.len, &id) == -EBADMSG, bad);
		j.b[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	CHECK_EQ_U64(bad, 0);
	j.b[9] = 2;
	put_be32(j.b + 28, bcache_crc32(0, j.b, 28));
	CHECK_EQ_U64(bcache_journal_check(j.b, j.len, &id), (uint64_t)-EPROTONOSUPPORT);
	j_start(&j, &id);
	writer_init(&w, hdr, 31);
	CHECK_EQ_U64(bcache_journal_header(&w, &id), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(writer_len(&w), 0);

	/* Changes after the snapshot, one record each, 10 s later: a renewed (new
	 * Identification, lifetime, expiry), b2 deregistered, d new, c's replay state moved. */
	old_state = restore(snap, len, NULL, 0, mono0, real0, &res, &rc);
	CHECK_EQ_U64(rc, (uint64_t)-ENODATA);      /* no journal at all */
	CHECK(old_state && same(old_state, bc, mono0, real0));
	b = mk(a, A("198.18.11.10"), mono0 + MM_SEC(10), 600);
	b.ident = 0x1001;
	bcache_set_replay(bc, a, 0x1001);
	bcache_bind(bc, &b, NULL);
	j_add(&j, bc, a, &id, mono0 + MM_SEC(10), real0 + MM_SEC(10));
	bcache_set_replay(bc, b2, 0x2001);
	bcache_unbind(bc, b2, NULL);
	j_add(&j, bc, b2, &id, mono0 + MM_SEC(10), real0 + MM_SEC(10));
	b = mk(d, A("198.18.44.4"), mono0 + MM_SEC(10), 60);
	bcache_set_replay(bc, d, 0x4000);
	bcache_bind(bc, &b, NULL);
	j_add(&j, bc, d, &id, mono0 + MM_SEC(10), real0 + MM_SEC(10));
	bcache_set_replay(bc, c, 0x3001);
	j_add(&j, bc, c, &id, mono0 + MM_SEC(10), real0 + MM_SEC(10));
	CHECK_EQ_U64(j.len, BCACHE_JOURNAL_HDR_LEN + 4 * BCACHE_JOURNAL_REC_LEN);
	writer_init(&w, hdr, 63);
	CHECK_EQ_U64(bcache_journal_record(bc, a, &id, &w, mono0, real0), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(writer_len(&w), 0);
	writer_init(&w, hdr, 0);
	CHECK_EQ_U64(bcache_journal_record(bc, A("198.18.9.9"), &id, &w, mono0, real0),
		     (uint64_t)-ENOENT);

	/* A record is the entry's snapshot record, the snapshot's CRC, and a CRC-32 seeded
	 * with the header. */
	snap2 = save(bc, &len2, mono0 + MM_SEC(10), real0 + MM_SEC(10));
	for (int i = 0; i < 4; i++) {
		const uint8_t *r = j.b + BCACHE_JOURNAL_HDR_LEN + i * BCACHE_JOURNAL_REC_LEN;
		const uint8_t *sr = snap_record(snap2, len2, (struct in_addr){ htonl(be32_at(r)) });

		CHECK_LOOP(sr && memcmp(r, sr, BCACHE_REC_LEN) == 0, bad);
		CHECK_LOOP(be32_at(r + 56) == id.crc, bad);
		CHECK_LOOP(be32_at(r + 60) == bcache_crc32(bcache_crc32(0, j.b, 28), r, 60), bad);
	}
	CHECK_EQ_U64(bad, 0);
	free(snap2);

	/* Load: snapshot + journal = the cache as it is, 5 s later (ages carried over). */
	got = restore(snap, len, j.b, j.len, mono0 + MM_SEC(15), real0 + MM_SEC(15), &res, &rc);
	CHECK_EQ_U64(rc, 0);
	CHECK_EQ_U64(res.applied, 4);
	CHECK_EQ_U64(res.expired, 0);
	CHECK_EQ_U64(res.why, BCACHE_JOURNAL_END);
	CHECK_EQ_U64(res.end, j.len);
	CHECK(got && same(got, bc, mono0 + MM_SEC(15), real0 + MM_SEC(15)));
	CHECK_EQ_U64(bcache_count(got), 2);
	e = bcache_lookup(got, a);
	CHECK(e && e->ident == 0x1001 && e->lifetime == 600 && e->registrations == 2 &&
	      e->expires_at == mono0 + MM_SEC(610));
	e = bcache_get(got, b2);
	CHECK(e && !mip4_binding_active(e) && e->replay_ident == 0x2001);
	CHECK(bcache_get(got, c) && bcache_get(got, c)->replay_ident == 0x3001);
	CHECK_EQ_U64(bcache_next_expiry(got), mono0 + MM_SEC(70));
	bcache_free(got);

	/* Applied twice: the same (a record is a state, not a delta). */
	got = restore(snap, len, j.b, j.len, mono0 + MM_SEC(15), real0 + MM_SEC(15), &res, &rc);
	CHECK_EQ_U64(bcache_journal_replay(got, j.b, j.len, &id, mono0 + MM_SEC(15),
					   real0 + MM_SEC(15), &res), 0);
	CHECK(got && same(got, bc, mono0 + MM_SEC(15), real0 + MM_SEC(15)));
	bcache_free(got);

	/* 61 s later d's 60 s binding is over: loaded as ended, replay state kept. */
	got = restore(snap, len, j.b, j.len, mono0 + MM_SEC(71), real0 + MM_SEC(71), &res, &rc);
	CHECK(rc == 0 && res.applied == 4 && res.expired == 1);
	CHECK(got && bcache_lookup(got, d) == NULL && bcache_get(got, d) &&
	      bcache_get(got, d)->replay_ident == 0x4000);
	bcache_free(got);

	/* A torn tail (the last record half written): the records before it only. */
	got = restore(snap, len, j.b, j.len - 30, mono0 + MM_SEC(15), real0 + MM_SEC(15), &res,
		      &rc);
	CHECK(rc == 0 && res.applied == 3 && res.why == BCACHE_JOURNAL_TORN &&
	      res.end == BCACHE_JOURNAL_HDR_LEN + 3 * BCACHE_JOURNAL_REC_LEN);
	CHECK(got && bcache_get(got, c)->replay_ident == 0x3000);
	bcache_free(got);

	/* Every truncation applies exactly the whole records before the cut. */
	for (size_t n = BCACHE_JOURNAL_HDR_LEN; n <= j.len; n++) {
		got = restore(snap, len, j.b, n, mono0 + MM_SEC(15), real0 + MM_SEC(15), &res, &rc);
		CHECK_LOOP(got && rc == 0 &&
			   res.applied == (n - BCACHE_JOURNAL_HDR_LEN) / BCACHE_JOURNAL_REC_LEN &&
			   res.why == ((n - BCACHE_JOURNAL_HDR_LEN) % BCACHE_JOURNAL_REC_LEN
				       ? BCACHE_JOURNAL_TORN : BCACHE_JOURNAL_END), bad);
		bcache_free(got);
	}
	CHECK_EQ_U64(bad, 0);

	/* A bad CRC in the middle (record 2): the journal ends there; records 3 and 4 verify
	 * but are not applied. */
	j.b[BCACHE_JOURNAL_HDR_LEN + BCACHE_JOURNAL_REC_LEN + 13] ^= 0x40;
	got = restore(snap, len, j.b, j.len, mono0 + MM_SEC(15), real0 + MM_SEC(15), &res, &rc);
	CHECK(rc == 0 && res.applied == 1 && res.why == BCACHE_JOURNAL_BAD &&
	      res.end == BCACHE_JOURNAL_HDR_LEN + BCACHE_JOURNAL_REC_LEN && res.later_valid == 2);
	CHECK(got && bcache_lookup(got, a) && bcache_lookup(got, a)->ident == 0x1001);
	CHECK(got && bcache_lookup(got, b2) != NULL && bcache_get(got, d) == NULL &&
	      bcache_get(got, c)->replay_ident == 0x3000);
	bcache_free(got);
	j.b[BCACHE_JOURNAL_HDR_LEN + BCACHE_JOURNAL_REC_LEN + 13] ^= 0x40;

	/* Every single-bit flip in the records: nothing from the flipped record on. */
	for (size_t i = BCACHE_JOURNAL_HDR_LEN * 8; i < j.len * 8; i++) {
		size_t rec = (i / 8 - BCACHE_JOURNAL_HDR_LEN) / BCACHE_JOURNAL_REC_LEN;

		j.b[i / 8] ^= (uint8_t)(1u << (i % 8));
		got = restore(snap, len, j.b, j.len, mono0 + MM_SEC(15), real0 + MM_SEC(15), &res,
			      &rc);
		CHECK_LOOP(got && rc == 0 && res.applied == rec &&
			   res.end == BCACHE_JOURNAL_HDR_LEN + rec * BCACHE_JOURNAL_REC_LEN, bad);
		bcache_free(got);
		j.b[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	CHECK_EQ_U64(bad, 0);

	/* A record with a valid checksum but bad values (an unknown state bit) is bad too. */
	{
		uint8_t *r = j.b + BCACHE_JOURNAL_HDR_LEN + 2 * BCACHE_JOURNAL_REC_LEN;
		uint8_t keep = r[18];

		r[18] |= 0x80;
		put_be32(r + 60, bcache_crc32(bcache_crc32(0, j.b, 28), r, 60));
		got = restore(snap, len, j.b, j.len, mono0 + MM_SEC(15), real0 + MM_SEC(15),
			      &res, &rc);
		CHECK(rc == 0 && res.applied == 2 && res.why == BCACHE_JOURNAL_BAD &&
		      res.later_valid == 1);
		bcache_free(got);
		r[18] = keep;
		put_be32(r + 60, bcache_crc32(bcache_crc32(0, j.b, 28), r, 60));
	}

	/* A record of another journal, or zeros: the clean end. */
	{
		struct jbuf z = j;

		memset(z.b + BCACHE_JOURNAL_HDR_LEN + 3 * BCACHE_JOURNAL_REC_LEN, 0,
		       BCACHE_JOURNAL_REC_LEN);
		got = restore(snap, len, z.b, z.len, mono0 + MM_SEC(15), real0 + MM_SEC(15),
			      &res, &rc);
		CHECK(rc == 0 && res.applied == 3 && res.why == BCACHE_JOURNAL_END &&
		      res.later_valid == 0);
		bcache_free(got);
	}

	/* A cache too small for the new entry d: the records before it are applied. */
	{
		struct bcache *small = NULL;

		CHECK_EQ_U64(bcache_deserialize(&small, snap, len, 3, mono0, real0, NULL), 0);
		rc = bcache_journal_replay(small, j.b, j.len, &id, mono0, real0, &res);
		CHECK_EQ_U64(rc, (uint64_t)-ENOSPC);
		CHECK(res.applied == 2 && res.why == BCACHE_JOURNAL_BAD &&
		      res.end == BCACHE_JOURNAL_HDR_LEN + 2 * BCACHE_JOURNAL_REC_LEN);
		bcache_free(small);
	}

	/* Compaction: a new snapshot (a's renewal in it) and a new journal that continues
	 * it, written over the old one in place: only the new journal's record counts; the
	 * old ones after it are recognised and end it cleanly. */
	j1 = j;
	b = mk(a, A("198.18.11.10"), mono0 + MM_SEC(20), 600);
	b.ident = 0x1002;
	bcache_set_replay(bc, a, 0x1002);
	bcache_bind(bc, &b, NULL);
	snap2 = save(bc, &len2, mono0 + MM_SEC(20), real0 + MM_SEC(20));
	CHECK_EQ_U64(bcache_snapshot_id(snap2, len2, &id2), 0);
	CHECK(id2.saved_at != id.saved_at && id2.crc != id.crc);
	writer_init(&w, j.b, BCACHE_JOURNAL_HDR_LEN);
	CHECK_EQ_U64(bcache_journal_header(&w, &id2), BCACHE_JOURNAL_HDR_LEN);
	bcache_set_replay(bc, c, 0x3002);
	j.len = BCACHE_JOURNAL_HDR_LEN;
	j_add(&j, bc, c, &id2, mono0 + MM_SEC(20), real0 + MM_SEC(20));
	got = NULL;
	CHECK_EQ_U64(bcache_deserialize(&got, snap2, len2, 100, mono0 + MM_SEC(25),
					real0 + MM_SEC(25), NULL), 0);
	rc = bcache_journal_replay(got, j.b, j1.len, &id2, mono0 + MM_SEC(25),
				   real0 + MM_SEC(25), &res);
	CHECK(rc == 0 && res.applied == 1 && res.why == BCACHE_JOURNAL_END &&
	      res.end == BCACHE_JOURNAL_HDR_LEN + BCACHE_JOURNAL_REC_LEN && res.later_valid == 0);
	CHECK(got && same(got, bc, mono0 + MM_SEC(25), real0 + MM_SEC(25)));

	/* The old journal (it continues the older snapshot) against the new snapshot: refused
	 * whole, nothing changes; applying it would move a's Identification back to 0x1001. */
	rc = bcache_journal_replay(got, j1.b, j1.len, &id2, mono0 + MM_SEC(25),
				   real0 + MM_SEC(25), &res);
	CHECK_EQ_U64(rc, (uint64_t)-ESTALE);
	CHECK(same(got, bc, mono0 + MM_SEC(25), real0 + MM_SEC(25)));
	CHECK(bcache_get(got, a)->replay_ident == 0x1002);

	/* Even a record of this journal that carries an older Identification never moves the
	 * replay state back (it does set the binding it records). */
	j.len = BCACHE_JOURNAL_HDR_LEN;
	j_add(&j, old_state, a, &id2, mono0 + MM_SEC(25), real0 + MM_SEC(25));
	rc = bcache_journal_replay(got, j.b, j.len, &id2, mono0 + MM_SEC(25),
				   real0 + MM_SEC(25), &res);
	CHECK(rc == 0 && res.applied == 1);
	e = bcache_get(got, a);
	CHECK(e && e->replay_ident == 0x1002 && e->ident == 0x1234 && e->lifetime == 300);
	bcache_free(got);

	/* Hostile journals with valid checksums never crash; garbage never applies. */
	for (int round = 0; round < 5000; round++) {
		struct jbuf m = j1;
		size_t nrec = (m.len - BCACHE_JOURNAL_HDR_LEN) / BCACHE_JOURNAL_REC_LEN;

		for (int k = 0; k < 1 + (int)(rnd() % 4); k++) {
			size_t r = rnd() % nrec;
			uint8_t *p = m.b + BCACHE_JOURNAL_HDR_LEN + r * BCACHE_JOURNAL_REC_LEN;

			p[rnd() % BCACHE_REC_LEN] = (uint8_t)rnd();
			put_be32(p + 60, bcache_crc32(bcache_crc32(0, m.b, 28), p, 60));
		}
		got = restore(snap, len, m.b, m.len, mono0, real0, &res, &rc);
		CHECK_LOOP(got && rc == 0 && res.applied <= nrec && res.why != BCACHE_JOURNAL_TORN,
			   bad);
		bcache_free(got);
	}
	CHECK_EQ_U64(bad, 0);
	for (int round = 0; round < 2000; round++) {
		struct jbuf g;

		g.len = rnd() % 400;
		for (size_t i = 0; i < g.len; i++)
			g.b[i] = (uint8_t)rnd();
		if (round & 1) {
			writer_init(&w, g.b, sizeof(g.b));
			bcache_journal_header(&w, &id);
		}
		got = restore(snap, len, g.b, g.len, mono0, real0, &res, &rc);
		CHECK_LOOP(got && (rc < 0 ? same(got, old_state, mono0, real0)
				   : res.applied == 0), bad);
		bcache_free(got);
	}
	CHECK_EQ_U64(bad, 0);

	bcache_free(old_state);
	bcache_free(bc);
	free(snap);
	free(snap2);
}

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A million bindings: memory well under 256 MB, lookups without allocation, expiry. */
static void test_million(void)
{
	enum { N = 1000000 };
	struct bcache *bc = bcache_new(N), *bc2 = NULL;
	struct mip4_binding b;
	unsigned bad = 0, expired = 0;
	double t0, t_ins, t_look, t_ser, t_de, t_exp;
	size_t len;
	uint8_t *buf;

	t0 = secs();
	for (uint32_t i = 0; i < N; i++) {
		b = mk(nth(i), nth(i + N), 0, 1 + (uint16_t)(rnd() % 600));
		CHECK_LOOP(bcache_bind(bc, &b, NULL) == 0, bad);
		CHECK_LOOP(bcache_set_replay(bc, nth(i), i) == 0, bad);
	}
	t_ins = secs() - t0;
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(bcache_count(bc), N);
	printf("# %d bindings: %.1f MB, %.0f ns per insert\n", N,
	       (double)bcache_memory(bc) / 1e6, t_ins * 1e9 / N);
	CHECK(bcache_memory(bc) < (size_t)128 << 20);

	t0 = secs();
	for (uint32_t i = 0; i < N; i++) {
		const struct mip4_binding *e = bcache_lookup(bc, nth(i));

		CHECK_LOOP(e && e->replay_ident == i, bad);
	}
	CHECK_LOOP(bcache_lookup(bc, nth(N + 5)) == NULL, bad);
	t_look = secs() - t0;
	CHECK_EQ_U64(bad, 0);

	t0 = secs();
	buf = save(bc, &len, 0, MM_SEC(1763856000));
	t_ser = secs() - t0;
	t0 = secs();
	CHECK_EQ_U64(bcache_deserialize(&bc2, buf, len, N, 0, MM_SEC(1763856000), NULL), 0);
	t_de = secs() - t0;
	CHECK(bc2 && bcache_count(bc2) == N);
	free(buf);
	bcache_free(bc2);

	t0 = secs();
	for (;;) {
		struct mip4_binding out;

		if (bcache_expire_one(bc, MM_SEC(700), &out) != 1)
			break;
		expired++;
	}
	t_exp = secs() - t0;
	CHECK_EQ_U64(expired, N);
	printf("# lookup %.0f ns, serialize %.2f s (%.0f MB), deserialize %.2f s, "
	       "expire %.0f ns each\n", t_look * 1e9 / N, t_ser, (double)len / 1e6, t_de,
	       t_exp * 1e9 / N);
	bcache_free(bc);
}

int main(void)
{
	test_basic();
	test_expiry_order();
	test_persist();
	test_journal();
	test_million();
	return tap_done();
}
