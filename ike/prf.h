/* HMAC for IKEv2: the PRFs PRF_HMAC_SHA2_256/384/512 (RFC 4868 2.4), prf+ (RFC 7296 2.13), and
 * the keyed MAC object that the integrity transforms AUTH_HMAC_SHA2_*  use (RFC 4868 2.6).
 * Everything goes through OpenSSL 3 EVP_MAC "HMAC".
 *
 * Inputs of the IKE formulas are concatenations (Ni | Nr | SPIi | SPIr, ...), so data is
 * given as an array of struct ike_bytes pieces and is never copied into a joined buffer.
 *
 * Errors: -EINVAL (bad length or argument), -ENOMEM / -EIO (OpenSSL failed). Output buffers
 * are written only on success (prf+, which writes block by block, zeroes what it wrote).
 *
 * Allocation: a keyed struct ike_mac is reused without allocating in our code; OpenSSL 3.0's
 * HMAC still duplicates its digest state internally on each run.
 */
#ifndef MM_IKE_PRF_H
#define MM_IKE_PRF_H

#include <stddef.h>
#include <stdint.h>

#include "ike/transform.h"

/* One piece of a concatenated input. data may be NULL only when len is 0. */
struct ike_bytes {
	const void *data;
	size_t len;
};

/* A keyed HMAC that can be run many times without allocating: the EVP_MAC_CTX is created
 * and keyed once (per SA direction for the SK payload, once per prf+ run). */
struct ike_mac {
	void *ctx;        /* EVP_MAC_CTX * (void so that users need no OpenSSL header) */
	size_t full_len;  /* hash output length */
	size_t out_len;   /* octets delivered: full_len, or the RFC 4868 truncation */
};

/* Key an HMAC over `digest` (an OpenSSL digest name). Keys of any length, including 0,
 * are accepted (RFC 4868 2.4: PRFs take variable-length keys). out_len 0 means untruncated;
 * otherwise it must not exceed the hash output. On failure *m is left empty (safe to clear). */
int ike_mac_init(struct ike_mac *m, const char *digest, const void *key, size_t key_len,
		 size_t out_len);
/* HMAC-PRF keyed for a PRF transform: output untruncated (RFC 4868 2.4). */
int ike_mac_init_prf(struct ike_mac *m, const struct ike_prf_info *prf, const void *key,
		     size_t key_len);
/* HMAC keyed for an INTEG transform: key exactly integ->key_len octets, output truncated to
 * integ->icv_len (RFC 4868 2.6). */
int ike_mac_init_integ(struct ike_mac *m, const struct ike_integ_info *integ, const void *key,
		       size_t key_len);
/* MAC of the concatenation of the pieces; writes m->out_len octets to out. */
int ike_mac_compute(struct ike_mac *m, const struct ike_bytes *parts, size_t nparts,
		    uint8_t *out);
/* Free the context (OpenSSL wipes the key schedule it holds). Idempotent. */
void ike_mac_clear(struct ike_mac *m);

/* out = prf(key, parts...) : prf->len octets (RFC 7296 2.13, RFC 4868 2.4). */
int ike_prf(const struct ike_prf_info *prf, const void *key, size_t key_len,
	    const struct ike_bytes *parts, size_t nparts, uint8_t *out);

/* out = first out_len octets of prf+(key, S) where S is the concatenation of the seed
 * pieces (RFC 7296 2.13):
 *	T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), prf+ = T1 | T2 | ...
 * out_len must be 1 .. 255 * prf->len ("not defined beyond" that), else -EINVAL. */
int ike_prf_plus(const struct ike_prf_info *prf, const void *key, size_t key_len,
		 const struct ike_bytes *seed, size_t nseed, uint8_t *out, size_t out_len);

#endif
