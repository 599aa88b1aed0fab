/* Unit tests for mip4/auth.c: HMAC-MD5 known answers (RFC 2104 Appendix / §"Test Vectors"),
 * authentication extension encoding and verification (RFC 5944 §3.5.1-§3.5.2). */
#include <errno.h>
#include <string.h>

#include "mip4/auth.h"
#include "tests/unit/tap.h"

/* RFC 2104, "Test Vectors" (the three cases printed after the sample code). */
static void test_rfc2104_vectors(void)
{
	static const uint8_t key1[16] = {
		0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
		0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
	};
	static const uint8_t digest1[16] = {
		0x92, 0x94, 0x72, 0x7a, 0x36, 0x38, 0xbb, 0x1c,
		0x13, 0xf4, 0x8e, 0xf8, 0x15, 0x8b, 0xfc, 0x9d,
	};
	static const uint8_t digest2[16] = {
		0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0, 0xb5, 0x03,
		0xea, 0xa8, 0x6e, 0x31, 0x0a, 0x5d, 0xb7, 0x38,
	};
	static const uint8_t digest3[16] = {
		0x56, 0xbe, 0x34, 0x52, 0x1d, 0x14, 0x4c, 0x88,
		0xdb, 0xb8, 0xc7, 0x33, 0xf0, 0xe8, 0xb3, 0xf6,
	};
	uint8_t key3[16], data3[50], out[16];

	CHECK(mip4_hmac_md5(key1, sizeof(key1), "Hi There", 8, out) == 0);
	CHECK_MEM(out, digest1, 16);
	CHECK(mip4_hmac_md5("Jefe", 4, "what do ya want for nothing?", 28, out) == 0);
	CHECK_MEM(out, digest2, 16);
	memset(key3, 0xaa, sizeof(key3));
	memset(data3, 0xdd, sizeof(data3));
	CHECK(mip4_hmac_md5(key3, sizeof(key3), data3, sizeof(data3), out) == 0);
	CHECK_MEM(out, digest3, 16);
}

static void test_key_set(void)
{
	struct mip4_key k;
	uint8_t big[MIP4_KEY_MAX + 1] = { 0 };

	CHECK_EQ_U64(mip4_key_set(&k, 0x1000, "secret", 6), 0);
	CHECK_EQ_U64(k.spi, 0x1000);
	CHECK_EQ_U64(k.len, 6);
	CHECK(k.alg == MIP4_AUTH_HMAC_MD5);
	CHECK_EQ_U64(mip4_auth_len(&k), MIP4_HMAC_MD5_LEN);
	/* RFC 5944 §1.6: SPIs 0-255 are reserved. */
	CHECK(mip4_key_set(&k, 255, "secret", 6) == -EINVAL);
	CHECK(mip4_key_set(&k, 0x1000, "", 0) == -EINVAL);
	CHECK(mip4_key_set(&k, 0x1000, big, sizeof(big)) == -EINVAL);
	CHECK(mip4_key_set(&k, 0x1000, big, MIP4_KEY_MAX) == 0);

	mip4_key_set(&k, 0x1000, "secret", 6);
	mip4_key_wipe(&k);
	static const uint8_t zero[sizeof(k.key)];
	CHECK_MEM(k.key, zero, sizeof(zero));
	CHECK_EQ_U64(k.len, 0);
}

/* A stand-in message: 24 bytes that look like a Registration Request fixed part. */
static size_t build_message(uint8_t *buf, size_t cap, size_t prefix, const struct mip4_key *k,
			    struct mip4_auth_ext *ext)
{
	struct writer w;

	writer_init(&w, buf, cap);
	writer_zeros(&w, prefix);  /* e.g. a UDP header the MAC must not cover */
	writer_u8(&w, 1);
	writer_u8(&w, 0x20);
	writer_be16(&w, 1800);
	for (int i = 0; i < 20; i++)
		writer_u8(&w, (uint8_t)(0x40 + i));
	if (mip4_auth_append(&w, prefix, MIP4_EXT_MN_HA_AUTH, k) != 0)
		return 0;
	*ext = (struct mip4_auth_ext){
		.present = true, .type = MIP4_EXT_MN_HA_AUTH, .spi = k->spi,
		.ext_off = 24, .auth_off = 30, .auth_len = 16,
	};
	return writer_len(&w);
}

static void test_append_layout(void)
{
	struct mip4_key k;
	struct mip4_auth_ext ext;
	uint8_t buf[128], mac[16];
	size_t n;

	mip4_key_set(&k, 0x01020304, "0123456789abcdef", 16);
	n = build_message(buf, sizeof(buf), 0, &k, &ext);
	CHECK_EQ_U64(n, 24 + 6 + 16);
	/* §3.5.2: Type 32, Length 4 + 16, SPI. */
	CHECK_EQ_U64(buf[24], 32);
	CHECK_EQ_U64(buf[25], 20);
	CHECK_EQ_U64(buf[26], 0x01);
	CHECK_EQ_U64(buf[27], 0x02);
	CHECK_EQ_U64(buf[28], 0x03);
	CHECK_EQ_U64(buf[29], 0x04);
	/* §3.5.1: the MAC covers everything up to and including the SPI. */
	mip4_hmac_md5(k.key, k.len, buf, 30, mac);
	CHECK_MEM(buf + 30, mac, 16);

	/* With a prefix in the writer, the region starts at msg_start, not at 0. */
	uint8_t buf2[128];
	n = build_message(buf2, sizeof(buf2), 8, &k, &ext);
	CHECK_EQ_U64(n, 8 + 46);
	CHECK_MEM(buf2 + 8, buf, 46);
	mip4_key_wipe(&k);
}

static void test_append_errors(void)
{
	struct mip4_key k;
	struct writer w;
	uint8_t buf[40];

	mip4_key_set(&k, 0x1000, "key", 3);
	writer_init(&w, buf, sizeof(buf));
	writer_zeros(&w, 24);
	/* 22 bytes needed, 16 left: refused, nothing written. */
	CHECK(mip4_auth_append(&w, 0, MIP4_EXT_MN_HA_AUTH, &k) == -ENOSPC);
	CHECK_EQ_U64(writer_len(&w), 24);
	CHECK(writer_ok(&w));
	CHECK(mip4_auth_append(&w, 0, 31, &k) == -EINVAL);
	CHECK(mip4_auth_append(&w, 25, MIP4_EXT_MN_HA_AUTH, &k) == -EINVAL);
	CHECK(mip4_auth_append(&w, 0, MIP4_EXT_MN_HA_AUTH, NULL) == -EINVAL);
	k.spi = 7;
	CHECK(mip4_auth_append(&w, 0, MIP4_EXT_MN_HA_AUTH, &k) == -EINVAL);
}

struct keyring {
	struct mip4_key keys[2];
	int calls;
};

static int ring_lookup(void *ctx, uint8_t type, uint32_t spi, struct mip4_key *out)
{
	struct keyring *ring = ctx;

	ring->calls++;
	if (type != MIP4_EXT_MN_HA_AUTH)
		return -ENOENT;
	for (int i = 0; i < 2; i++) {
		if (ring->keys[i].spi == spi) {
			*out = ring->keys[i];
			return 0;
		}
	}
	return -ENOENT;
}

static void test_verify(void)
{
	struct keyring ring = { 0 };
	struct mip4_auth_ext ext, bad;
	struct mip4_key wrong;
	uint8_t buf[128];
	size_t n;

	mip4_key_set(&ring.keys[0], 0x1000, "0123456789abcdef", 16);
	mip4_key_set(&ring.keys[1], 0x2000, "another key", 11);
	n = build_message(buf, sizeof(buf), 0, &ring.keys[0], &ext);

	CHECK(mip4_auth_verify_key(buf, n, &ext, &ring.keys[0]) == 0);
	CHECK(mip4_auth_verify(buf, n, &ext, ring_lookup, &ring) == 0);
	CHECK_EQ_U64(ring.calls, 1);

	/* Same SPI, other secret: the authenticator does not verify. */
	mip4_key_set(&wrong, 0x1000, "0123456789abcdeF", 16);
	CHECK(mip4_auth_verify_key(buf, n, &ext, &wrong) == -EACCES);
	/* A key for another SPI is not the key for this one. */
	CHECK(mip4_auth_verify_key(buf, n, &ext, &ring.keys[1]) == -ENOENT);

	/* Unknown SPI -> -ENOENT; reserved SPI never reaches the lookup. */
	bad = ext;
	bad.spi = 0x3000;
	CHECK(mip4_auth_verify(buf, n, &bad, ring_lookup, &ring) == -ENOENT);
	bad.spi = 200;
	ring.calls = 0;
	CHECK(mip4_auth_verify(buf, n, &bad, ring_lookup, &ring) == -ENOENT);
	CHECK_EQ_U64(ring.calls, 0);
	/* The lookup is asked by type too: an FA-HA SPI is a different context. */
	bad = ext;
	bad.type = MIP4_EXT_FA_HA_AUTH;
	CHECK(mip4_auth_verify(buf, n, &bad, ring_lookup, &ring) == -ENOENT);

	/* Offsets outside the buffer are refused, not read. */
	bad = ext;
	bad.auth_off = n - 8;
	CHECK(mip4_auth_verify_key(buf, n, &bad, &ring.keys[0]) == -EINVAL);
	bad = ext;
	bad.auth_off = SIZE_MAX - 4;
	CHECK(mip4_auth_verify_key(buf, n, &bad, &ring.keys[0]) == -EINVAL);
	/* An authenticator of another length is not an HMAC-MD5 one. */
	bad = ext;
	bad.auth_len = 15;
	CHECK(mip4_auth_verify_key(buf, n, &bad, &ring.keys[0]) == -EACCES);
	bad.present = false;
	CHECK(mip4_auth_verify_key(buf, n, &bad, &ring.keys[0]) == -EINVAL);

	/* Every single-bit flip in the protected region or the authenticator fails. */
	int failures = 0, flips = 0;
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			CHECK_LOOP(mip4_auth_verify(buf, n, &ext, ring_lookup, &ring) == -EACCES,
				   failures);
			buf[i] ^= (uint8_t)(1u << bit);
			flips++;
		}
	}
	CHECK_EQ_U64(flips, n * 8);
	CHECK_EQ_U64(failures, 0);
	CHECK(mip4_auth_verify(buf, n, &ext, ring_lookup, &ring) == 0);
	mip4_key_wipe(&ring.keys[0]);
	mip4_key_wipe(&ring.keys[1]);
	mip4_key_wipe(&wrong);
}

int main(void)
{
	test_rfc2104_vectors();
	test_key_set();
	test_append_layout();
	test_append_errors();
	test_verify();
	return tap_done();
}
