/* Protection of the Encrypted payload SK (46, RFC 7296 3.14) and the Encrypted Fragment
 * payload SKF (53, RFC 7383 2.5) inside a whole IKE message.
 *
 * Layout, from the first octet of the IKE header:
 *
 *   IKE header (28) | [unencrypted payloads] | SK header (4) [| Frag# (2) | Total (2)]
 *   | IV | ciphertext of (inner payloads | padding | pad length) | ICV
 *
 * The "protected header" is everything before the IV. It is authenticated as is:
 *  - AEAD (AES-GCM-16, RFC 5282 5.1; ChaCha20-Poly1305, RFC 7634 3): it is the associated
 *    data. For SKF it includes Fragment Number and Total Fragments: RFC 7383 2.5 makes the
 *    SKF processing "identical" to SK, and the IV and ciphertext are the only fields RFC 5282
 *    5.1 excludes (strongSwan and libreswan do the same). Nonce = salt (4) | IV (8), the IV a
 *    per-direction 64-bit counter (RFC 5282 3.1, RFC 7634 2: unique, need not be random).
 *    The sender pads nothing (pad length 0, RFC 7634 3); any padding is accepted.
 *  - AES-CBC + HMAC (RFC 7296 3.14): random 16-octet IV; padding to the block size; the
 *    truncated HMAC (RFC 4868 2.6) covers the message from the first IKE header octet
 *    through the pad length, i.e. including IV and ciphertext, and is verified before
 *    anything is decrypted.
 * Messages are handled without the 4 zero octets of the non-ESP marker (RFC 3948), which
 * belong to the UDP port-4500 framing and are not part of the IKE message.
 *
 * One struct ike_sk_ctx per SA direction holds a keyed EVP_CIPHER_CTX (and HMAC context),
 * made once, so protecting or unprotecting a message allocates nothing.
 *
 * Errors: -EINVAL bad argument or context, -ENOSPC writer or output buffer too small,
 * -EMSGSIZE payload longer than its 16-bit length field, -EBADMSG malformed (lengths,
 * alignment, pad length), -EACCES integrity check failed (drop the message: not even
 * INVALID_SYNTAX may answer it, RFC 7296 3.10.1), -EOVERFLOW AEAD IV counter used up (rekey),
 * -EIO OpenSSL failed.
 */
#ifndef MM_IKE_SK_CRYPT_H
#define MM_IKE_SK_CRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "ike/keys.h"
#include "ike/prf.h"
#include "ike/transform.h"

#define IKE_HDR_LEN 28                 /* fixed IKE header (RFC 7296 3.1) */
#define IKE_HDR_LENGTH_OFF 24          /* its Length field */
#define IKE_PAYLOAD_HDR_LEN 4          /* generic payload header (RFC 7296 3.2) */
#define IKE_SKF_HDR_LEN 8              /* + Fragment Number, Total Fragments (RFC 7383 2.5) */

enum ike_sk_kind {
	IKE_SK_ENCRYPTED = 46,         /* SK (RFC 7296 3.14) */
	IKE_SK_FRAGMENT = 53,          /* SKF (RFC 7383 2.5) */
};

/* One direction of an IKE SA's SK protection. */
struct ike_sk_ctx {
	const struct ike_encr_info *encr;
	void *cipher;                  /* EVP_CIPHER_CTX *, keyed once */
	struct ike_mac integ;          /* CBC only: truncated HMAC keyed with SK_a */
	uint8_t salt[IKE_ENCR_MAX_SALT_LEN];
	size_t salt_len, iv_len, icv_len, block_len;
	uint64_t next_iv;              /* AEAD: next IV counter value */
	bool iv_exhausted;             /* AEAD: all 2^64 IVs used */
	bool outbound;                 /* protect (true) or unprotect (false) */
};

/* Key a context for one direction. algs from ike_suite_resolve(..., IKE_SUITE_IKE, ...);
 * encr_key is SK_e (cipher key | salt, algs->encr_keymat_len octets), integ_key is SK_a
 * (algs->integ_key_len octets, NULL/0 for AEADs). The keys are copied into OpenSSL's
 * contexts; the caller keeps (and wipes) its own copy. On failure *c is left cleared. */
int ike_sk_init(struct ike_sk_ctx *c, const struct ike_algs *algs, const uint8_t *encr_key,
		size_t encr_key_len, const uint8_t *integ_key, size_t integ_key_len,
		bool outbound);
/* The same, choosing the keys from an SA's key set: a message we send as the original
 * initiator uses SK_ei / SK_ai, and so does one we receive as the original responder
 * (RFC 7296 2.14). */
int ike_sk_init_from_keys(struct ike_sk_ctx *c, const struct ike_algs *algs,
			  const struct ike_sa_keys *keys, bool we_are_initiator, bool outbound);
/* Free the contexts and wipe the salt. Idempotent; a zeroed struct may be cleared. */
void ike_sk_clear(struct ike_sk_ctx *c);

/* Octets that protecting inner_len octets of payloads adds after the SK/SKF header: IV,
 * padding, pad length and ICV (for fragment sizing, RFC 7383 2.5.1). */
size_t ike_sk_overhead(const struct ike_sk_ctx *c, size_t inner_len);

/* Positions inside the writer between protect_begin and protect_end. */
struct ike_sk_frame {
	size_t msg_off;                /* first octet of the IKE header */
	size_t sk_off;                 /* first octet of the SK / SKF payload header */
	size_t iv_off;                 /* IV; everything before it is authenticated as is */
	size_t plain_off;              /* first octet of the inner payloads */
};

/* Start protecting. The writer must hold the IKE header at msg_off (its Length field is
 * filled in later), then any unencrypted payloads, then the SK header at sk_off (SKF: the
 * header and the two fragment fields), and nothing after it: writer_len(w) == sk_off + 4
 * (SKF: + 8). Reserves the IV. The caller then writes the inner payloads into w and calls
 * ike_sk_protect_end(). */
int ike_sk_protect_begin(struct ike_sk_ctx *c, struct writer *w, size_t msg_off,
			 size_t sk_off, enum ike_sk_kind kind, struct ike_sk_frame *f);

/* Finish: append padding, pad length and room for the ICV; set the IKE header Length and
 * the SK Payload Length (both are authenticated, so they are final before any MAC); choose
 * the IV; encrypt what the writer holds from f->plain_off in place; write the ICV. The
 * message then ends at writer_len(w). On failure the inner payloads are wiped and the
 * writer is left failed, so the half-built message cannot be sent. */
int ike_sk_protect_end(struct ike_sk_ctx *c, struct writer *w, const struct ike_sk_frame *f);

/* Verify and decrypt the SK / SKF payload at sk_off of the message msg[0, msg_len), which
 * starts at the IKE header and ends with the payload (it must be the last one: its Payload
 * Length must reach exactly msg_len, and the IKE header Length must equal msg_len). The ICV
 * is checked in constant time before the padding is looked at. The inner payloads (padding
 * and pad length removed) are written to out[0, *plain_len); out_cap >= msg_len always
 * suffices. msg is not modified. On failure nothing is left in out and *plain_len is
 * untouched. */
int ike_sk_unprotect(struct ike_sk_ctx *c, const uint8_t *msg, size_t msg_len, size_t sk_off,
		     enum ike_sk_kind kind, uint8_t *out, size_t out_cap, size_t *plain_len);

/* --- building blocks, exposed for known-answer tests ------------------------------------- */

/* AEAD with nonce = salt | iv (iv: c->iv_len octets): encrypt buf[0, len) in place and write
 * the 16-octet tag (outbound contexts), or decrypt ct into out and verify tag (inbound).
 * open returns -EACCES on a wrong tag and then wipes out. */
int ike_sk_aead_seal(struct ike_sk_ctx *c, const uint8_t *iv, const uint8_t *aad,
		     size_t aad_len, uint8_t *buf, size_t len, uint8_t *tag);
int ike_sk_aead_open(struct ike_sk_ctx *c, const uint8_t *iv, const uint8_t *aad,
		     size_t aad_len, const uint8_t *ct, size_t len, const uint8_t *tag,
		     uint8_t *out);

/* Set the next AEAD IV counter value. Tests only (to reproduce RFC 7634 appendix B): an IV
 * used twice with one key breaks GCM and ChaCha20-Poly1305. */
void ike_sk_set_next_iv(struct ike_sk_ctx *c, uint64_t iv);

#endif
