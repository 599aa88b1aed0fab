/* Fuzz target: SK / SKF payload protection (ike/sk_crypt.c).
 *
 * The input is the body of an Encrypted payload (IV | ciphertext | ICV). It is placed behind
 * a fixed IKE header (RFC 7296 3.1) and an SK header (RFC 7296 3.14), or an SKF header with
 * Fragment 1 of 1 (RFC 7383 2.5), with all length fields consistent, and unprotected with
 * fixed keys for three suites: AES-GCM-16-256, ChaCha20-Poly1305, AES-CBC-256 with
 * HMAC-SHA2-256-128. Checked:
 *  - the result is success, -EBADMSG or -EACCES, nothing else; on failure the plaintext
 *    length is untouched; on success it fits in the body minus IV, ICV and pad length;
 *  - round trip: the input used as inner payloads is protected and unprotected again, and
 *    must come back identical; then one bit of the protected message, chosen by the input,
 *    is flipped, and the message must be refused.
 * Any violation is __builtin_trap().
 *
 * The seeds in corpus/ike_sk/ are bodies that protect_body() below produced with these
 * keys (a small generator that #includes this file), so they pass the integrity check for
 * their suite and kind and reach the padding checks and the plaintext.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ike/sk_crypt.h"

#define MAX_BODY 4096
#define MSG_CAP (IKE_HDR_LEN + IKE_SKF_HDR_LEN + MAX_BODY + 64)

#define ASSERT(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static const struct ike_suite fuzz_suites[] = {
	{ .encr = IKE_ENCR_AES_GCM_16, .encr_key_bits = 256,
	  .prf = IKE_PRF_HMAC_SHA2_256, .dh = IKE_DH_ECP_256 },
	{ .encr = IKE_ENCR_CHACHA20_POLY1305,
	  .prf = IKE_PRF_HMAC_SHA2_256, .dh = IKE_DH_CURVE25519 },
	{ .encr = IKE_ENCR_AES_CBC, .encr_key_bits = 256, .integ = IKE_INTEG_HMAC_SHA2_256_128,
	  .prf = IKE_PRF_HMAC_SHA2_256, .dh = IKE_DH_MODP_2048 },
};
#define NSUITES (sizeof(fuzz_suites) / sizeof(fuzz_suites[0]))

struct fuzz_sa {
	struct ike_sk_ctx out, in;
	size_t iv_len, icv_len;
};

static struct fuzz_sa sas[NSUITES];
static bool ready;

static void setup(void)
{
	uint8_t e[IKE_ENCR_MAX_KEYMAT_LEN], a[IKE_INTEG_MAX_KEY_LEN];
	struct ike_algs algs;

	if (ready)
		return;
	for (size_t s = 0; s < NSUITES; s++) {
		ASSERT(ike_suite_resolve(&fuzz_suites[s], IKE_SUITE_IKE, &algs) == 0);
		for (size_t i = 0; i < sizeof(e); i++)
			e[i] = (uint8_t)(0x10 * s + i);
		for (size_t i = 0; i < sizeof(a); i++)
			a[i] = (uint8_t)(0x80 + i);
		ASSERT(ike_sk_init(&sas[s].out, &algs, e, algs.encr_keymat_len,
				   algs.integ_key_len ? a : NULL, algs.integ_key_len, true) == 0);
		ASSERT(ike_sk_init(&sas[s].in, &algs, e, algs.encr_keymat_len,
				   algs.integ_key_len ? a : NULL, algs.integ_key_len, false) == 0);
		sas[s].iv_len = algs.iv_len;
		sas[s].icv_len = algs.icv_len;
	}
	ready = true;
}

static size_t hdr_len(enum ike_sk_kind kind)
{
	return kind == IKE_SK_FRAGMENT ? IKE_SKF_HDR_LEN : IKE_PAYLOAD_HDR_LEN;
}

/* Fixed IKE header: SPIs, Next Payload = SK/SKF, version 2.0, INFORMATIONAL, Initiator,
 * Message ID 1, then the SK / SKF header; the Length fields are given. */
static void write_headers(struct writer *w, enum ike_sk_kind kind, uint32_t msg_len,
			  uint16_t sk_len)
{
	writer_be64(w, 0x0123456789abcdefull);
	writer_be64(w, 0xfedcba9876543210ull);
	writer_u8(w, (uint8_t)kind);
	writer_u8(w, 0x20);
	writer_u8(w, 37);
	writer_u8(w, 0x08);
	writer_be32(w, 1);
	writer_be32(w, msg_len);
	writer_u8(w, 41);          /* first inner payload: Notify */
	writer_u8(w, 0);
	writer_be16(w, sk_len);
	if (kind == IKE_SK_FRAGMENT) {
		writer_be16(w, 1);  /* Fragment Number */
		writer_be16(w, 1);  /* Total Fragments */
	}
}

/* Protect inner[0, len) for suite s: the whole message into msg; returns its length (0 on
 * failure). The seed generator takes the body (after the SK/SKF header) from it. */
static size_t protect_body(size_t s, enum ike_sk_kind kind, const uint8_t *inner, size_t len,
			   uint8_t *msg, size_t cap)
{
	struct ike_sk_frame f;
	struct writer w;

	writer_init(&w, msg, cap);
	write_headers(&w, kind, 0, 0);
	if (ike_sk_protect_begin(&sas[s].out, &w, 0, IKE_HDR_LEN, kind, &f) != 0 ||
	    !writer_bytes(&w, inner, len) || ike_sk_protect_end(&sas[s].out, &w, &f) != 0)
		return 0;
	return writer_len(&w);
}

static uint8_t msg[MSG_CAP], plain[MSG_CAP];

/* The input as the body of an SK / SKF payload. */
static void fuzz_unprotect(size_t s, enum ike_sk_kind kind, const uint8_t *body, size_t n)
{
	size_t h = hdr_len(kind), len = IKE_HDR_LEN + h + n, plen = 0xdead;
	struct writer w;
	int err;

	writer_init(&w, msg, sizeof(msg));
	write_headers(&w, kind, (uint32_t)len, (uint16_t)(h + n));
	ASSERT(writer_bytes(&w, body, n) && writer_len(&w) == len);
	err = ike_sk_unprotect(&sas[s].in, msg, len, IKE_HDR_LEN, kind, plain, sizeof(plain),
			       &plen);
	if (err != 0) {
		ASSERT(err == -EBADMSG || err == -EACCES);
		ASSERT(plen == 0xdead);
		return;
	}
	ASSERT(n >= sas[s].iv_len + sas[s].icv_len + 1);
	ASSERT(plen <= n - sas[s].iv_len - sas[s].icv_len - 1);
}

static void fuzz_round_trip(size_t s, enum ike_sk_kind kind, const uint8_t *inner, size_t n,
			    size_t flip)
{
	size_t len = protect_body(s, kind, inner, n, msg, sizeof(msg)), plen = 0;

	ASSERT(len == IKE_HDR_LEN + hdr_len(kind) + n + ike_sk_overhead(&sas[s].out, n));
	ASSERT(ike_sk_unprotect(&sas[s].in, msg, len, IKE_HDR_LEN, kind, plain, sizeof(plain),
				&plen) == 0);
	ASSERT(plen == n && memcmp(plain, inner, n) == 0);
	/* Any single changed bit is refused (length fields: -EBADMSG, the rest: -EACCES). */
	msg[(flip >> 3) % len] ^= (uint8_t)(1u << (flip & 7));
	ASSERT(ike_sk_unprotect(&sas[s].in, msg, len, IKE_HDR_LEN, kind, plain, sizeof(plain),
				&plen) != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t flip = 0;

	setup();
	if (size > MAX_BODY)
		size = MAX_BODY;
	for (size_t i = 0; i < size && i < 4; i++)
		flip = flip << 8 | data[i];
	for (size_t s = 0; s < NSUITES; s++) {
		fuzz_unprotect(s, IKE_SK_ENCRYPTED, data, size);
		fuzz_unprotect(s, IKE_SK_FRAGMENT, data, size);
		fuzz_round_trip(s, (flip & 0x100) ? IKE_SK_FRAGMENT : IKE_SK_ENCRYPTED, data, size,
				flip);
	}
	return 0;
}
