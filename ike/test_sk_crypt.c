/* Unit tests for ike/sk_crypt.c.
 *
 *  - RFC 8439 section 2.8.2: the AEAD_CHACHA20_POLY1305 example (salt 07000000 = the
 *    "32-bit fixed-common part", IV 4041..47), through the AEAD building blocks;
 *  - RFC 7634 appendix B: the complete IKEv2 INFORMATIONAL message with a ChaCha20-Poly1305
 *    SK payload, produced byte for byte by protect and read back by unprotect;
 *  - AES-GCM-16 and AES-CBC + HMAC-SHA2-256-128: the whole protected message compared with
 *    one built here by a separate code path (OpenSSL EVP / HMAC() directly). This checks the
 *    composition (AAD range, nonce = salt | IV, what the HMAC covers, padding, length
 *    fields), not AES or HMAC themselves; for SK and SKF (RFC 7383 2.5), with an
 *    unencrypted payload before SK;
 *  - round trips for every suite, SK and SKF, many lengths; tampering with every octet of
 *    the message is refused; wrong key refused; bad pad length refused (after, and only
 *    after, a good ICV); IV counter; error paths.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ike/sk_crypt.h"
#include "tests/unit/hexvec.h"
#include "tests/unit/tap.h"

static const struct ike_suite suite_gcm = {
	.encr = IKE_ENCR_AES_GCM_16, .encr_key_bits = 256,
	.prf = IKE_PRF_HMAC_SHA2_256, .dh = IKE_DH_CURVE25519,
};
static const struct ike_suite suite_gcm128 = {
	.encr = IKE_ENCR_AES_GCM_16, .encr_key_bits = 128,
	.prf = IKE_PRF_HMAC_SHA2_256, .dh = IKE_DH_ECP_256,
};
static const struct ike_suite suite_chacha = {
	.encr = IKE_ENCR_CHACHA20_POLY1305,
	.prf = IKE_PRF_HMAC_SHA2_256, .dh = IKE_DH_CURVE25519,
};
static const struct ike_suite suite_cbc = {
	.encr = IKE_ENCR_AES_CBC, .encr_key_bits = 256, .integ = IKE_INTEG_HMAC_SHA2_256_128,
	.prf = IKE_PRF_HMAC_SHA2_256, .dh = IKE_DH_MODP_2048,
};
static const struct ike_suite suite_cbc384 = {
	.encr = IKE_ENCR_AES_CBC, .encr_key_bits = 128, .integ = IKE_INTEG_HMAC_SHA2_384_192,
	.prf = IKE_PRF_HMAC_SHA2_384, .dh = IKE_DH_ECP_384,
};

/* Fixed test keys: encryption keymat = seed, seed+1, ...; integrity key = seed+0x40, ... */
struct test_keys {
	uint8_t e[IKE_ENCR_MAX_KEYMAT_LEN];
	uint8_t a[IKE_INTEG_MAX_KEY_LEN];
	struct ike_algs algs;
};

static void make_keys(struct test_keys *k, const struct ike_suite *s, uint8_t seed)
{
	memset(k, 0, sizeof(*k));
	if (ike_suite_resolve(s, IKE_SUITE_IKE, &k->algs) != 0) {
		printf("Bail out! suite does not resolve\n");
		exit(2);
	}
	for (size_t i = 0; i < sizeof(k->e); i++)
		k->e[i] = (uint8_t)(seed + i);
	for (size_t i = 0; i < sizeof(k->a); i++)
		k->a[i] = (uint8_t)(seed + 0x40 + i);
}

static int ctx_init(struct ike_sk_ctx *c, const struct test_keys *k, bool outbound)
{
	return ike_sk_init(c, &k->algs, k->e, k->algs.encr_keymat_len,
			   k->algs.integ_key_len ? k->a : NULL, k->algs.integ_key_len, outbound);
}

/* IKE header (RFC 7296 3.1) with Length 0, to be filled in by protect. */
static void write_ike_header(struct writer *w, uint8_t next, uint8_t exch, uint8_t flags,
			     uint32_t msgid)
{
	for (int i = 0; i < 8; i++)
		writer_u8(w, (uint8_t)(0xc0 + i));
	for (int i = 0; i < 8; i++)
		writer_u8(w, (uint8_t)(0xd0 + i));
	writer_u8(w, next);
	writer_u8(w, 0x20);
	writer_u8(w, exch);
	writer_u8(w, flags);
	writer_be32(w, msgid);
	writer_be32(w, 0);
}

/* Build HDR [, N(unencrypted)] , SK/SKF { inner } with protect. Returns the message length
 * or 0; *sk_off gets the SK payload offset. */
static size_t build(struct ike_sk_ctx *c, enum ike_sk_kind kind, bool unencrypted_first,
		    const uint8_t *inner, size_t inner_len, uint8_t *buf, size_t cap,
		    size_t *sk_off)
{
	struct ike_sk_frame f;
	struct writer w;
	size_t off;

	writer_init(&w, buf, cap);
	write_ike_header(&w, unencrypted_first ? 41 : (uint8_t)kind, 37, 0x08, 7);
	if (unencrypted_first) {
		/* A Notify payload outside SK (RFC 5282 5.1: it is part of the AAD). */
		writer_u8(&w, (uint8_t)kind);
		writer_u8(&w, 0);
		writer_be16(&w, 8);
		writer_be32(&w, 0x00004004);
	}
	off = writer_len(&w);
	writer_u8(&w, 41);      /* next: Notify */
	writer_u8(&w, 0);
	writer_be16(&w, 0);     /* filled in by protect */
	if (kind == IKE_SK_FRAGMENT) {
		writer_be16(&w, 1);  /* Fragment Number */
		writer_be16(&w, 3);  /* Total Fragments */
	}
	if (ike_sk_protect_begin(c, &w, 0, off, kind, &f) != 0)
		return 0;
	writer_bytes(&w, inner, inner_len);
	if (ike_sk_protect_end(c, &w, &f) != 0)
		return 0;
	*sk_off = off;
	return writer_len(&w);
}

/* --- RFC 8439 2.8.2 ------------------------------------------------------------------------- */

static void test_rfc8439_aead(void)
{
	uint8_t key[36], iv[8], aad[12], pt[114], ct[114], tag[16], out[114], buf[114], t2[16];
	struct ike_sk_ctx enc, dec;
	struct ike_algs a;

	/* Key 80..9f, then the "32-bit fixed-common part" 07 00 00 00 as our salt. */
	hexvec("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f 07000000",
	    key, sizeof(key));
	hexvec("4041424344454647", iv, sizeof(iv));
	hexvec("50515253c0c1c2c3c4c5c6c7", aad, sizeof(aad));
	memcpy(pt, "Ladies and Gentlemen of the class of '99: If I could offer you only one "
		   "tip for the future, sunscreen would be it.", 114);
	hexvec("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
	    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
	    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
	    "3ff4def08e4b7a9de576d26586cec64b6116", ct, sizeof(ct));
	hexvec("1ae10b594f09e26a7e902ecbd0600691", tag, sizeof(tag));

	CHECK(ike_suite_resolve(&suite_chacha, IKE_SUITE_IKE, &a) == 0);
	CHECK(ike_sk_init(&enc, &a, key, 36, NULL, 0, true) == 0);
	CHECK(ike_sk_init(&dec, &a, key, 36, NULL, 0, false) == 0);
	printf("# RFC 8439 2.8.2 AEAD_CHACHA20_POLY1305\n");
	memcpy(buf, pt, sizeof(pt));
	CHECK(ike_sk_aead_seal(&enc, iv, aad, sizeof(aad), buf, sizeof(buf), t2) == 0);
	CHECK_MEM(buf, ct, sizeof(ct));
	CHECK_MEM(t2, tag, sizeof(tag));
	CHECK(ike_sk_aead_open(&dec, iv, aad, sizeof(aad), ct, sizeof(ct), tag, out) == 0 &&
	      memcmp(out, pt, sizeof(pt)) == 0);
	tag[15] ^= 0x80;
	CHECK_EQ_U64(ike_sk_aead_open(&dec, iv, aad, sizeof(aad), ct, sizeof(ct), tag, out),
		     (uint64_t)-EACCES);
	CHECK(out[0] == 0);  /* wiped */
	/* Direction is fixed per context. */
	CHECK_EQ_U64(ike_sk_aead_seal(&dec, iv, aad, sizeof(aad), buf, sizeof(buf), t2),
		     (uint64_t)-EINVAL);
	ike_sk_clear(&enc);
	ike_sk_clear(&dec);
}

/* --- RFC 7634 appendix B -------------------------------------------------------------------- */

static void test_rfc7634_ikev2(void)
{
	uint8_t key[36], notify[12], expect[69], buf[128], out[128];
	struct ike_sk_ctx enc, dec;
	struct ike_sk_frame f;
	struct ike_algs a;
	struct writer w;
	size_t plen = 0;

	hexvec("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f a0a1a2a3",
	    key, sizeof(key));
	hexvec("0000000c000040010000000a", notify, sizeof(notify));
	hexvec("c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d7 2e202500000000090000004529000029"
	    "1011121314151617610394701f8d017f 7c1292488 96b71bfe25236efd7cdc670"
	    "66906315b2", expect, sizeof(expect));

	CHECK(ike_suite_resolve(&suite_chacha, IKE_SUITE_IKE, &a) == 0);
	CHECK(ike_sk_init(&enc, &a, key, 36, NULL, 0, true) == 0);
	CHECK(ike_sk_init(&dec, &a, key, 36, NULL, 0, false) == 0);
	ike_sk_set_next_iv(&enc, 0x1011121314151617ull);

	/* HDR (next payload SK, INFORMATIONAL, flags 0, message ID 9), SK { N(SET_WINDOW_SIZE) } */
	writer_init(&w, buf, sizeof(buf));
	writer_bytes(&w, expect, 16);
	writer_u8(&w, 46);
	writer_u8(&w, 0x20);
	writer_u8(&w, 37);
	writer_u8(&w, 0);
	writer_be32(&w, 9);
	writer_be32(&w, 0);
	writer_u8(&w, 41);
	writer_u8(&w, 0);
	writer_be16(&w, 0);
	printf("# RFC 7634 appendix B: IKEv2 message\n");
	CHECK(ike_sk_protect_begin(&enc, &w, 0, 28, IKE_SK_ENCRYPTED, &f) == 0);
	CHECK(f.iv_off == 32 && f.plain_off == 40);
	writer_bytes(&w, notify, sizeof(notify));
	CHECK(ike_sk_protect_end(&enc, &w, &f) == 0);
	CHECK_EQ_U64(writer_len(&w), sizeof(expect));
	CHECK_MEM(buf, expect, sizeof(expect));
	CHECK(ike_sk_unprotect(&dec, expect, sizeof(expect), 28, IKE_SK_ENCRYPTED, out,
			       sizeof(out), &plen) == 0);
	CHECK(plen == sizeof(notify) && memcmp(out, notify, plen) == 0);
	ike_sk_clear(&enc);
	ike_sk_clear(&dec);
}

/* --- composition against a separate EVP path ------------------------------------------------ */

/* GCM over the message as RFC 5282 describes it, with EVP directly. */
static void ref_gcm(const struct test_keys *k, const uint8_t *iv, const uint8_t *aad,
		    size_t aad_len, const uint8_t *pt, size_t len, uint8_t *ct, uint8_t *tag)
{
	const EVP_CIPHER *ciph = k->algs.encr_key_len == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	uint8_t nonce[12];
	int l = 0;

	memcpy(nonce, k->e + k->algs.encr_key_len, 4);  /* salt: last 4 octets of SK_e */
	memcpy(nonce + 4, iv, 8);
	if (!x || !EVP_EncryptInit_ex(x, ciph, NULL, NULL, NULL) ||
	    !EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) ||
	    !EVP_EncryptInit_ex(x, NULL, NULL, k->e, nonce) ||
	    !EVP_EncryptUpdate(x, NULL, &l, aad, (int)aad_len) ||
	    !EVP_EncryptUpdate(x, ct, &l, pt, (int)len) || !EVP_EncryptFinal_ex(x, ct + l, &l) ||
	    !EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, tag))
		memset(tag, 0xff, 16);
	EVP_CIPHER_CTX_free(x);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void test_gcm_composition(enum ike_sk_kind kind, bool unencrypted_first)
{
	struct test_keys k;
	struct ike_sk_ctx c;
	uint8_t inner[50], msg[256], expect[256], pt[64], iv[8];
	size_t sk_off = 0, n, hdr, pos;

	printf("# AES-GCM-16-256 %s%s vs. EVP\n", kind == IKE_SK_FRAGMENT ? "SKF" : "SK",
	       unencrypted_first ? " after an unencrypted payload" : "");
	make_keys(&k, &suite_gcm, 0x31);
	for (size_t i = 0; i < sizeof(inner); i++)
		inner[i] = (uint8_t)(i ^ 0x5a);
	CHECK(ctx_init(&c, &k, true) == 0);
	ike_sk_set_next_iv(&c, 0x0102030405060708ull);
	n = build(&c, kind, unencrypted_first, inner, sizeof(inner), msg, sizeof(msg), &sk_off);
	hdr = sk_off + (kind == IKE_SK_FRAGMENT ? 8 : 4);
	/* Expected: header and SK header as written, lengths filled in, IV = counter,
	 * ciphertext of inner | pad length 0, tag; AAD = everything before the IV. */
	CHECK_EQ_U64(n, hdr + 8 + sizeof(inner) + 1 + 16);
	if (n != hdr + 8 + sizeof(inner) + 1 + 16)
		goto out;
	memcpy(expect, msg, hdr);
	put_be32(expect + 24, (uint32_t)n);
	expect[sk_off + 2] = (uint8_t)((n - sk_off) >> 8);
	expect[sk_off + 3] = (uint8_t)(n - sk_off);
	hexvec("0102030405060708", iv, 8);
	memcpy(expect + hdr, iv, 8);
	memcpy(pt, inner, sizeof(inner));
	pt[sizeof(inner)] = 0;                               /* pad length, no padding */
	pos = hdr + 8;
	ref_gcm(&k, iv, expect, hdr, pt, sizeof(inner) + 1, expect + pos,
		expect + pos + sizeof(inner) + 1);
	CHECK_MEM(msg, expect, n);
	/* The header length octets must be what we computed independently. */
	CHECK(msg[27] == (uint8_t)n && msg[sk_off + 3] == (uint8_t)(n - sk_off));
out:
	ike_sk_clear(&c);
}

static void test_cbc_composition(enum ike_sk_kind kind)
{
	struct test_keys k;
	struct ike_sk_ctx c;
	uint8_t inner[37], msg[256], expect[256], pt[64], mac[32];
	size_t sk_off = 0, n, hdr, ct_len = 48;  /* 37 + 10 padding + 1 = 48 */
	unsigned int mlen = 0;
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int l = 0;

	printf("# AES-CBC-256 + HMAC-SHA2-256-128 %s vs. EVP / HMAC()\n",
	       kind == IKE_SK_FRAGMENT ? "SKF" : "SK");
	make_keys(&k, &suite_cbc, 0x77);
	for (size_t i = 0; i < sizeof(inner); i++)
		inner[i] = (uint8_t)(0xa0 + i);
	CHECK(ctx_init(&c, &k, true) == 0);
	n = build(&c, kind, false, inner, sizeof(inner), msg, sizeof(msg), &sk_off);
	hdr = sk_off + (kind == IKE_SK_FRAGMENT ? 8 : 4);
	CHECK_EQ_U64(n, hdr + 16 + ct_len + 16);
	if (n != hdr + 16 + ct_len + 16 || !x)
		goto out;
	memcpy(expect, msg, hdr);
	put_be32(expect + 24, (uint32_t)n);
	expect[sk_off + 2] = (uint8_t)((n - sk_off) >> 8);
	expect[sk_off + 3] = (uint8_t)(n - sk_off);
	memcpy(expect + hdr, msg + hdr, 16);                 /* the random IV, taken as sent */
	memcpy(pt, inner, sizeof(inner));
	memset(pt + sizeof(inner), 0, 10);                   /* minimal padding (3.14 SHOULD) */
	pt[47] = 10;
	if (!EVP_EncryptInit_ex(x, EVP_aes_256_cbc(), NULL, k.e, msg + hdr) ||
	    !EVP_CIPHER_CTX_set_padding(x, 0) ||
	    !EVP_EncryptUpdate(x, expect + hdr + 16, &l, pt, (int)ct_len))
		memset(expect, 0, sizeof(expect));
	/* RFC 7296 3.14: checksum of the message from the IKE header through the pad length
	 * (encrypted), HMAC-SHA-256 truncated to 128 bits (RFC 4868 2.6). */
	HMAC(EVP_sha256(), k.a, 32, expect, hdr + 16 + ct_len, mac, &mlen);
	memcpy(expect + hdr + 16 + ct_len, mac, 16);
	CHECK_MEM(msg, expect, n);
	/* The IV is random: two messages of the same content differ in IV. */
	CHECK(build(&c, kind, false, inner, sizeof(inner), expect, sizeof(expect), &sk_off) == n &&
	      memcmp(expect + hdr, msg + hdr, 16) != 0);
out:
	EVP_CIPHER_CTX_free(x);
	ike_sk_clear(&c);
}

/* --- round trips, tampering ------------------------------------------------------------------ */

static void test_round_trips(const char *name, const struct ike_suite *s)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 31, 100, 1000 };
	struct test_keys k;
	struct ike_sk_ctx out, in;
	uint8_t inner[1000], msg[1200], plain[1200];
	unsigned failures = 0;

	printf("# round trips, %s\n", name);
	make_keys(&k, s, 0x10);
	for (size_t i = 0; i < sizeof(inner); i++)
		inner[i] = (uint8_t)(i * 31 + 7);
	CHECK(ctx_init(&out, &k, true) == 0 && ctx_init(&in, &k, false) == 0);
	for (int kind = 0; kind < 2; kind++) {
		enum ike_sk_kind sk = kind ? IKE_SK_FRAGMENT : IKE_SK_ENCRYPTED;

		for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
			size_t sk_off = 0, plen = 99999, ct;
			size_t n = build(&out, sk, li & 1, inner, lens[li], msg, sizeof(msg),
					 &sk_off);
			size_t hdr = sk_off + (kind ? 8 : 4);

			CHECK_LOOP(n > 0, failures);
			if (n == 0)
				continue;
			ct = n - hdr - k.algs.iv_len - k.algs.icv_len;
			/* Minimal padding: none for AEADs, to the block for CBC. */
			CHECK_LOOP(ct == lens[li] + 1 + (k.algs.block_len > 1 ?
				   (16 - (lens[li] + 1) % 16) % 16 : 0), failures);
			CHECK_LOOP(n == ike_sk_overhead(&out, lens[li]) + hdr + lens[li], failures);
			CHECK_LOOP(ike_sk_unprotect(&in, msg, n, sk_off, sk, plain, sizeof(plain),
						    &plen) == 0, failures);
			CHECK_LOOP(plen == lens[li] && memcmp(plain, inner, plen) == 0, failures);
			/* SK vs SKF is part of what is authenticated (header length). */
			CHECK_LOOP(ike_sk_unprotect(&in, msg, n, sk_off,
						    kind ? IKE_SK_ENCRYPTED : IKE_SK_FRAGMENT,
						    plain, sizeof(plain), &plen) != 0, failures);
		}
	}
	CHECK_EQ_U64(failures, 0);
	ike_sk_clear(&out);
	ike_sk_clear(&in);
}

/* Flip one bit in every octet of a protected message: every change must be refused, with
 * -EBADMSG for the two length fields and -EACCES (integrity) everywhere else. */
static void test_tamper(const char *name, const struct ike_suite *s, enum ike_sk_kind kind)
{
	struct test_keys k, wrong;
	struct ike_sk_ctx out, in, in_wrong;
	uint8_t inner[40], msg[256], plain[256];
	size_t sk_off = 0, plen = 4242, n;
	unsigned accepted = 0, wrong_error = 0;

	printf("# tampering, %s %s\n", name, kind == IKE_SK_FRAGMENT ? "SKF" : "SK");
	make_keys(&k, s, 0x20);
	make_keys(&wrong, s, 0x21);
	memset(inner, 0x3c, sizeof(inner));
	CHECK(ctx_init(&out, &k, true) == 0 && ctx_init(&in, &k, false) == 0 &&
	      ctx_init(&in_wrong, &wrong, false) == 0);
	n = build(&out, kind, true, inner, sizeof(inner), msg, sizeof(msg), &sk_off);
	CHECK(n > 0);
	for (size_t i = 0; i < n; i++) {
		bool length_field = (i >= 24 && i < 28) || i == sk_off + 2 || i == sk_off + 3;
		int err;

		msg[i] ^= 0x04;
		err = ike_sk_unprotect(&in, msg, n, sk_off, kind, plain, sizeof(plain), &plen);
		msg[i] ^= 0x04;
		CHECK_LOOP(err != 0, accepted);
		CHECK_LOOP(err == (length_field ? -EBADMSG : -EACCES), wrong_error);
	}
	CHECK_EQ_U64(accepted, 0);
	CHECK_EQ_U64(wrong_error, 0);
	CHECK(plen == 4242);
	CHECK_EQ_U64(ike_sk_unprotect(&in_wrong, msg, n, sk_off, kind, plain, sizeof(plain),
				      &plen), (uint64_t)-EACCES);
	/* Truncated or extended message: lengths no longer agree. */
	CHECK_EQ_U64(ike_sk_unprotect(&in, msg, n - 1, sk_off, kind, plain, sizeof(plain), &plen),
		     (uint64_t)-EBADMSG);
	CHECK(ike_sk_unprotect(&in, msg, n, sk_off, kind, plain, sizeof(plain), &plen) == 0 &&
	      plen == sizeof(inner));
	ike_sk_clear(&out);
	ike_sk_clear(&in);
	ike_sk_clear(&in_wrong);
}

/* --- padding checks ------------------------------------------------------------------------- */

/* A CBC message whose ICV is right but whose pad length says more than there is. Built by
 * hand (EVP + HMAC) because protect never writes such a thing. */
static void test_cbc_bad_pad(void)
{
	struct test_keys k;
	struct ike_sk_ctx in;
	uint8_t msg[28 + 4 + 16 + 32 + 16], pt[32], mac[32], plain[128];
	size_t plen = 5;
	unsigned int mlen = 0;
	struct writer w;
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int l = 0;

	make_keys(&k, &suite_cbc, 0x44);
	CHECK(ctx_init(&in, &k, false) == 0);
	writer_init(&w, msg, sizeof(msg));
	write_ike_header(&w, 46, 37, 0x20, 3);
	writer_u8(&w, 0);
	writer_u8(&w, 0);
	writer_be16(&w, 4 + 16 + 32 + 16);
	for (int i = 0; i < 16; i++)
		writer_u8(&w, (uint8_t)(0x90 + i));     /* IV */
	put_be32(msg + 24, sizeof(msg));
	memset(pt, 0, sizeof(pt));
	pt[31] = 40;                                /* pad length 40 > 31 */
	CHECK(x && EVP_EncryptInit_ex(x, EVP_aes_256_cbc(), NULL, k.e, msg + 32) &&
	      EVP_CIPHER_CTX_set_padding(x, 0) && EVP_EncryptUpdate(x, msg + 48, &l, pt, 32));
	EVP_CIPHER_CTX_free(x);
	HMAC(EVP_sha256(), k.a, 32, msg, 80, mac, &mlen);
	memcpy(msg + 80, mac, 16);
	CHECK_EQ_U64(ike_sk_unprotect(&in, msg, sizeof(msg), 28, IKE_SK_ENCRYPTED, plain,
				      sizeof(plain), &plen), (uint64_t)-EBADMSG);
	CHECK(plen == 5);
	/* The same with a bad ICV: the integrity failure is reported, the padding is never
	 * looked at (RFC 7296 3.14: checksum over the encrypted message). */
	msg[95] ^= 1;
	CHECK_EQ_U64(ike_sk_unprotect(&in, msg, sizeof(msg), 28, IKE_SK_ENCRYPTED, plain,
				      sizeof(plain), &plen), (uint64_t)-EACCES);
	msg[95] ^= 1;
	/* Pad length 31 (all of it padding, no payloads) is acceptable: 0 inner octets. */
	pt[31] = 31;
	x = EVP_CIPHER_CTX_new();
	CHECK(x && EVP_EncryptInit_ex(x, EVP_aes_256_cbc(), NULL, k.e, msg + 32) &&
	      EVP_CIPHER_CTX_set_padding(x, 0) && EVP_EncryptUpdate(x, msg + 48, &l, pt, 32));
	EVP_CIPHER_CTX_free(x);
	HMAC(EVP_sha256(), k.a, 32, msg, 80, mac, &mlen);
	memcpy(msg + 80, mac, 16);
	CHECK(ike_sk_unprotect(&in, msg, sizeof(msg), 28, IKE_SK_ENCRYPTED, plain, sizeof(plain),
			       &plen) == 0 && plen == 0);
	/* Ciphertext not a multiple of the block size: malformed before any crypto. */
	put_be32(msg + 24, sizeof(msg) - 1);
	msg[31] = (uint8_t)(msg[31] - 1);
	CHECK_EQ_U64(ike_sk_unprotect(&in, msg, sizeof(msg) - 1, 28, IKE_SK_ENCRYPTED, plain,
				      sizeof(plain), &plen), (uint64_t)-EBADMSG);
	ike_sk_clear(&in);
}

/* AEAD: padding of any length is accepted (RFC 7634 3 "MUST accept any length"), a pad
 * length beyond the plaintext is not. Built with the seal building block. */
static void test_aead_padding(void)
{
	struct test_keys k;
	struct ike_sk_ctx out, in;
	uint8_t msg[28 + 4 + 8 + 20 + 16], plain[128], iv[8] = { 0, 0, 0, 0, 0, 0, 0, 9 };
	size_t plen = 0;
	struct writer w;

	make_keys(&k, &suite_gcm128, 0x55);
	CHECK(ctx_init(&out, &k, true) == 0 && ctx_init(&in, &k, false) == 0);
	for (int round = 0; round < 2; round++) {
		writer_init(&w, msg, sizeof(msg));
		write_ike_header(&w, 46, 37, 0x20, 3);
		writer_u8(&w, 41);
		writer_u8(&w, 0);
		writer_be16(&w, 4 + 8 + 20 + 16);
		writer_bytes(&w, iv, 8);
		/* 20 octets: 8 of payload, 11 of padding, pad length 11 (round 0) or 20. */
		for (int i = 0; i < 19; i++)
			writer_u8(&w, (uint8_t)i);
		writer_u8(&w, round == 0 ? 11 : 20);
		writer_zeros(&w, 16);
		put_be32(msg + 24, sizeof(msg));
		CHECK(writer_len(&w) == sizeof(msg) &&
		      ike_sk_aead_seal(&out, iv, msg, 32, msg + 40, 20, msg + 60) == 0);
		if (round == 0) {
			CHECK(ike_sk_unprotect(&in, msg, sizeof(msg), 28, IKE_SK_ENCRYPTED, plain,
					       sizeof(plain), &plen) == 0 && plen == 8 &&
			      plain[7] == 7);
		} else {
			CHECK_EQ_U64(ike_sk_unprotect(&in, msg, sizeof(msg), 28, IKE_SK_ENCRYPTED,
						      plain, sizeof(plain), &plen),
				     (uint64_t)-EBADMSG);
		}
		iv[7]++;
	}
	ike_sk_clear(&out);
	ike_sk_clear(&in);
}

/* --- IV counter, directions, errors ------------------------------------------------------- */

static void test_iv_counter(void)
{
	struct test_keys k;
	struct ike_sk_ctx c;
	uint8_t inner[4] = { 1, 2, 3, 4 }, m1[128], m2[128];
	size_t sk_off = 0, n1, n2;

	make_keys(&k, &suite_chacha, 0x66);
	CHECK(ctx_init(&c, &k, true) == 0);
	n1 = build(&c, IKE_SK_ENCRYPTED, false, inner, 4, m1, sizeof(m1), &sk_off);
	n2 = build(&c, IKE_SK_ENCRYPTED, false, inner, 4, m2, sizeof(m2), &sk_off);
	/* The IV (octets 32..39) is a counter: 0, then 1; same plaintext, other ciphertext. */
	CHECK(n1 == n2 && n1 > 40 && m1[39] == 0 && m2[39] == 1 &&
	      memcmp(m1 + 40, m2 + 40, n1 - 40) != 0);
	ike_sk_set_next_iv(&c, UINT64_MAX);
	n1 = build(&c, IKE_SK_ENCRYPTED, false, inner, 4, m1, sizeof(m1), &sk_off);
	CHECK(n1 > 0 && memcmp(m1 + 32, "\xff\xff\xff\xff\xff\xff\xff\xff", 8) == 0);
	/* All 2^64 IVs used: refuse rather than repeat one (RFC 7634 2, RFC 5282 3.1). */
	CHECK(build(&c, IKE_SK_ENCRYPTED, false, inner, 4, m1, sizeof(m1), &sk_off) == 0);
	ike_sk_clear(&c);
}

static void test_directions(void)
{
	struct ike_sa_keys keys;
	struct ike_algs a;
	struct ike_sk_ctx i_out, i_in, r_out, r_in;
	uint8_t inner[10] = "0123456789", msg[200], plain[200];
	size_t sk_off = 0, n, plen = 0;

	memset(&keys, 0, sizeof(keys));
	CHECK(ike_suite_resolve(&suite_cbc384, IKE_SUITE_IKE, &a) == 0);
	keys.sk_e_len = a.encr_keymat_len;
	keys.sk_a_len = a.integ_key_len;
	memset(keys.sk_ei, 1, sizeof(keys.sk_ei));
	memset(keys.sk_er, 2, sizeof(keys.sk_er));
	memset(keys.sk_ai, 3, sizeof(keys.sk_ai));
	memset(keys.sk_ar, 4, sizeof(keys.sk_ar));
	CHECK(ike_sk_init_from_keys(&i_out, &a, &keys, true, true) == 0);
	CHECK(ike_sk_init_from_keys(&i_in, &a, &keys, true, false) == 0);
	CHECK(ike_sk_init_from_keys(&r_out, &a, &keys, false, true) == 0);
	CHECK(ike_sk_init_from_keys(&r_in, &a, &keys, false, false) == 0);
	/* Initiator -> responder uses SK_ei/SK_ai; the reverse SK_er/SK_ar (RFC 7296 2.14). */
	n = build(&i_out, IKE_SK_ENCRYPTED, false, inner, 10, msg, sizeof(msg), &sk_off);
	CHECK(ike_sk_unprotect(&r_in, msg, n, sk_off, IKE_SK_ENCRYPTED, plain, sizeof(plain),
			       &plen) == 0 && plen == 10 && memcmp(plain, inner, 10) == 0);
	CHECK_EQ_U64(ike_sk_unprotect(&i_in, msg, n, sk_off, IKE_SK_ENCRYPTED, plain,
				      sizeof(plain), &plen), (uint64_t)-EACCES);
	n = build(&r_out, IKE_SK_ENCRYPTED, false, inner, 10, msg, sizeof(msg), &sk_off);
	CHECK(ike_sk_unprotect(&i_in, msg, n, sk_off, IKE_SK_ENCRYPTED, plain, sizeof(plain),
			       &plen) == 0 && plen == 10);
	/* HMAC-SHA2-384-192: a 24-octet ICV. */
	CHECK(i_out.icv_len == 24 && n == 28 + 4 + 16 + 16 + 24);
	ike_sk_clear(&i_out);
	ike_sk_clear(&i_in);
	ike_sk_clear(&r_out);
	ike_sk_clear(&r_in);
}

static void test_errors(void)
{
	struct test_keys k;
	struct ike_sk_ctx out, in, bad;
	uint8_t inner[64], msg[300], plain[300], small[41];
	struct ike_sk_frame f;
	struct writer w;
	size_t sk_off = 0, n, plen = 31;

	make_keys(&k, &suite_gcm, 0x70);
	CHECK(ctx_init(&out, &k, true) == 0 && ctx_init(&in, &k, false) == 0);
	memset(inner, 0xab, sizeof(inner));

	/* Keys of the wrong length; CBC without an integrity key. */
	CHECK_EQ_U64(ike_sk_init(&bad, &k.algs, k.e, 32, NULL, 0, true), (uint64_t)-EINVAL);
	CHECK(bad.cipher == NULL);
	{
		struct test_keys kc;

		make_keys(&kc, &suite_cbc, 1);
		CHECK_EQ_U64(ike_sk_init(&bad, &kc.algs, kc.e, 32, NULL, 0, true),
			     (uint64_t)-EINVAL);
	}
	ike_sk_clear(&bad);

	/* begin: SK header must be the last thing written, 4 (SK) or 8 (SKF) octets. */
	writer_init(&w, msg, sizeof(msg));
	write_ike_header(&w, 46, 37, 0, 1);
	writer_be32(&w, 0);
	CHECK_EQ_U64(ike_sk_protect_begin(&out, &w, 0, 28, IKE_SK_FRAGMENT, &f), (uint64_t)-EINVAL);
	CHECK_EQ_U64(ike_sk_protect_begin(&out, &w, 0, 20, IKE_SK_ENCRYPTED, &f), (uint64_t)-EINVAL);
	CHECK_EQ_U64(ike_sk_protect_begin(&in, &w, 0, 28, IKE_SK_ENCRYPTED, &f), (uint64_t)-EINVAL);
	CHECK(ike_sk_protect_begin(&out, &w, 0, 28, IKE_SK_ENCRYPTED, &f) == 0);

	/* end: room for one inner octet only (28 + 4 + 8 + 1), none for pad length and ICV
	 * -> -ENOSPC, the inner octet wiped, writer failed. */
	writer_init(&w, small, sizeof(small));
	write_ike_header(&w, 46, 37, 0, 1);
	writer_be32(&w, 0);
	CHECK(ike_sk_protect_begin(&out, &w, 0, 28, IKE_SK_ENCRYPTED, &f) == 0);
	CHECK(writer_u8(&w, 0xab));
	CHECK_EQ_U64(ike_sk_protect_end(&out, &w, &f), (uint64_t)-ENOSPC);
	CHECK(!writer_ok(&w) && small[40] == 0);

	/* unprotect: lengths that do not agree with the buffer; out too small. */
	n = build(&out, IKE_SK_ENCRYPTED, false, inner, sizeof(inner), msg, sizeof(msg), &sk_off);
	CHECK(n > 0);
	CHECK_EQ_U64(ike_sk_unprotect(&in, msg, n, sk_off, IKE_SK_ENCRYPTED, plain, 10, &plen),
		     (uint64_t)-ENOSPC);
	CHECK_EQ_U64(ike_sk_unprotect(&in, msg, n, 27, IKE_SK_ENCRYPTED, plain, sizeof(plain),
				      &plen), (uint64_t)-EBADMSG);
	CHECK_EQ_U64(ike_sk_unprotect(&in, msg, n, n, IKE_SK_ENCRYPTED, plain, sizeof(plain),
				      &plen), (uint64_t)-EBADMSG);
	CHECK_EQ_U64(ike_sk_unprotect(&out, msg, n, sk_off, IKE_SK_ENCRYPTED, plain, sizeof(plain),
				      &plen), (uint64_t)-EINVAL);
	/* Too short to hold IV, pad length and ICV. */
	CHECK_EQ_U64(ike_sk_unprotect(&in, msg, 28 + 4 + 8 + 16, sk_off, IKE_SK_ENCRYPTED, plain,
				      sizeof(plain), &plen), (uint64_t)-EBADMSG);
	CHECK(plen == 31);
	ike_sk_clear(&out);
	ike_sk_clear(&in);
	ike_sk_clear(&in);  /* idempotent */
}

int main(void)
{
	test_rfc8439_aead();
	test_rfc7634_ikev2();
	test_gcm_composition(IKE_SK_ENCRYPTED, false);
	test_gcm_composition(IKE_SK_ENCRYPTED, true);
	test_gcm_composition(IKE_SK_FRAGMENT, false);
	test_cbc_composition(IKE_SK_ENCRYPTED);
	test_cbc_composition(IKE_SK_FRAGMENT);
	test_round_trips("AES-GCM-16-256", &suite_gcm);
	test_round_trips("AES-GCM-16-128", &suite_gcm128);
	test_round_trips("ChaCha20-Poly1305", &suite_chacha);
	test_round_trips("AES-CBC-256 + HMAC-SHA2-256-128", &suite_cbc);
	test_round_trips("AES-CBC-128 + HMAC-SHA2-384-192", &suite_cbc384);
	test_tamper("AES-GCM-16-256", &suite_gcm, IKE_SK_ENCRYPTED);
	test_tamper("ChaCha20-Poly1305", &suite_chacha, IKE_SK_FRAGMENT);
	test_tamper("AES-CBC-256", &suite_cbc, IKE_SK_ENCRYPTED);
	test_tamper("AES-CBC-128/SHA2-384", &suite_cbc384, IKE_SK_FRAGMENT);
	test_cbc_bad_pad();
	test_aead_padding();
	test_iv_counter();
	test_directions();
	test_errors();
	return tap_done();
}
