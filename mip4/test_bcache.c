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
	test_million();
	return tap_done();
}
