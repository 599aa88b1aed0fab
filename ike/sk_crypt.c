/* SK / SKF payload protection. See sk_crypt.h for the layout and the RFC rules. */
#include "ike/sk_crypt.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define NONCE_MAX (IKE_ENCR_MAX_SALT_LEN + IKE_ENCR_MAX_IV_LEN)

/* --- context -------------------------------------------------------------------------- */

int ike_sk_init(struct ike_sk_ctx *c, const struct ike_algs *algs, const uint8_t *encr_key,
		size_t encr_key_len, const uint8_t *integ_key, size_t integ_key_len,
		bool outbound)
{
	EVP_CIPHER_CTX *ctx = NULL;
	EVP_CIPHER *cipher = NULL;
	int err = -EIO;

	memset(c, 0, sizeof(*c));
	if (!algs || !algs->encr || !algs->cipher || !encr_key ||
	    encr_key_len != algs->encr_keymat_len ||
	    algs->encr->salt_len > IKE_ENCR_MAX_SALT_LEN ||
	    algs->iv_len > IKE_ENCR_MAX_IV_LEN || algs->block_len == 0 ||
	    (algs->encr->aead ? (algs->integ != NULL || algs->icv_len != IKE_AEAD_ICV_LEN)
			      : (!algs->integ || !integ_key ||
				 integ_key_len != algs->integ_key_len)))
		return -EINVAL;
	c->encr = algs->encr;
	c->salt_len = algs->encr->salt_len;
	c->iv_len = algs->iv_len;
	c->icv_len = algs->icv_len;
	c->block_len = algs->block_len;
	c->outbound = outbound;
	/* SK_e = cipher key | salt (RFC 5282 7.1, RFC 7634 3). */
	memcpy(c->salt, encr_key + algs->encr_key_len, c->salt_len);

	cipher = EVP_CIPHER_fetch(NULL, algs->cipher, NULL);
	ctx = EVP_CIPHER_CTX_new();
	if (!cipher || !ctx ||
	    !EVP_CipherInit_ex2(ctx, cipher, NULL, NULL, outbound ? 1 : 0, NULL) ||
	    EVP_CIPHER_CTX_get_key_length(ctx) != (int)algs->encr_key_len)
		goto fail;
	if (algs->encr->aead) {
		if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN,
					(int)(c->salt_len + c->iv_len), NULL) <= 0)
			goto fail;
	} else if (EVP_CIPHER_CTX_get_iv_length(ctx) != (int)c->iv_len ||
		   !EVP_CIPHER_CTX_set_padding(ctx, 0)) {
		/* RFC 7296 3.14 padding is ours, not PKCS#7. */
		goto fail;
	}
	if (!EVP_CipherInit_ex2(ctx, NULL, encr_key, NULL, -1, NULL))
		goto fail;
	if (!algs->encr->aead) {
		err = ike_mac_init_integ(&c->integ, algs->integ, integ_key, integ_key_len);
		if (err < 0)
			goto fail;
	}
	EVP_CIPHER_free(cipher);
	c->cipher = ctx;
	return 0;
fail:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	ike_sk_clear(c);
	return err;
}

int ike_sk_init_from_keys(struct ike_sk_ctx *c, const struct ike_algs *algs,
			  const struct ike_sa_keys *keys, bool we_are_initiator, bool outbound)
{
	bool from_initiator = we_are_initiator == outbound;

	if (!keys) {
		memset(c, 0, sizeof(*c));
		return -EINVAL;
	}
	return ike_sk_init(c, algs, from_initiator ? keys->sk_ei : keys->sk_er, keys->sk_e_len,
			   keys->sk_a_len ? (from_initiator ? keys->sk_ai : keys->sk_ar) : NULL,
			   keys->sk_a_len, outbound);
}

void ike_sk_clear(struct ike_sk_ctx *c)
{
	EVP_CIPHER_CTX_free(c->cipher);  /* cleanses the key schedule */
	ike_mac_clear(&c->integ);
	OPENSSL_cleanse(c, sizeof(*c));
}

void ike_sk_set_next_iv(struct ike_sk_ctx *c, uint64_t iv)
{
	c->next_iv = iv;
	c->iv_exhausted = false;
}

/* Padding octets for inner_len octets of payloads: the minimum that aligns payloads |
 * padding | pad length to the block (RFC 7296 3.14 SHOULD); none for AEADs (RFC 7634 3
 * SHOULD, RFC 5282 3 no alignment). */
static size_t pad_len_for(const struct ike_sk_ctx *c, size_t inner_len)
{
	if (c->block_len <= 1)
		return 0;
	return (c->block_len - (inner_len + 1) % c->block_len) % c->block_len;
}

size_t ike_sk_overhead(const struct ike_sk_ctx *c, size_t inner_len)
{
	return c->iv_len + pad_len_for(c, inner_len) + 1 + c->icv_len;
}

/* --- AEAD building blocks (RFC 5282 3-5, RFC 7634 2-3) -------------------------------- */

static void make_nonce(const struct ike_sk_ctx *c, const uint8_t *iv, uint8_t *nonce)
{
	/* RFC 5282 4 / RFC 4106 4 / RFC 7634 2: salt, then the IV from the payload. */
	memcpy(nonce, c->salt, c->salt_len);
	memcpy(nonce + c->salt_len, iv, c->iv_len);
}

int ike_sk_aead_seal(struct ike_sk_ctx *c, const uint8_t *iv, const uint8_t *aad,
		     size_t aad_len, uint8_t *buf, size_t len, uint8_t *tag)
{
	uint8_t nonce[NONCE_MAX];
	int outl = 0, finl = 0;

	if (!c->cipher || !c->encr->aead || !c->outbound || len > INT_MAX || aad_len > INT_MAX)
		return -EINVAL;
	make_nonce(c, iv, nonce);
	/* Same cipher and key: only the nonce changes, nothing is allocated. */
	if (!EVP_CipherInit_ex2(c->cipher, NULL, NULL, nonce, -1, NULL) ||
	    (aad_len && !EVP_CipherUpdate(c->cipher, NULL, &outl, aad, (int)aad_len)) ||
	    (len && !EVP_CipherUpdate(c->cipher, buf, &outl, buf, (int)len)) ||
	    !EVP_CipherFinal_ex(c->cipher, buf, &finl) || (size_t)outl + (size_t)finl != len ||
	    EVP_CIPHER_CTX_ctrl(c->cipher, EVP_CTRL_AEAD_GET_TAG, (int)c->icv_len, tag) <= 0)
		return -EIO;
	return 0;
}

int ike_sk_aead_open(struct ike_sk_ctx *c, const uint8_t *iv, const uint8_t *aad,
		     size_t aad_len, const uint8_t *ct, size_t len, const uint8_t *tag,
		     uint8_t *out)
{
	uint8_t nonce[NONCE_MAX];
	uint8_t icv[IKE_AEAD_ICV_LEN];
	int outl = 0, finl = 0;

	if (!c->cipher || !c->encr->aead || c->outbound || len > INT_MAX || aad_len > INT_MAX)
		return -EINVAL;
	make_nonce(c, iv, nonce);
	memcpy(icv, tag, sizeof(icv));  /* the ctrl takes a non-const pointer */
	if (!EVP_CipherInit_ex2(c->cipher, NULL, NULL, nonce, -1, NULL) ||
	    EVP_CIPHER_CTX_ctrl(c->cipher, EVP_CTRL_AEAD_SET_TAG, (int)c->icv_len, icv) <= 0 ||
	    (aad_len && !EVP_CipherUpdate(c->cipher, NULL, &outl, aad, (int)aad_len)) ||
	    (len && !EVP_CipherUpdate(c->cipher, out, &outl, ct, (int)len)))
		goto fail;
	/* The tag comparison (constant time inside OpenSSL) happens in Final; nothing of
	 * the plaintext is looked at before it succeeds. */
	if (EVP_CipherFinal_ex(c->cipher, out, &finl) <= 0 || (size_t)outl + (size_t)finl != len) {
		OPENSSL_cleanse(out, len);
		return -EACCES;
	}
	return 0;
fail:
	OPENSSL_cleanse(out, len);
	return -EIO;
}

/* --- CBC + HMAC (RFC 7296 3.14, RFC 3602, RFC 4868) ------------------------------------ */

static int cbc_crypt(struct ike_sk_ctx *c, const uint8_t *iv, const uint8_t *in, size_t len,
		     uint8_t *out)
{
	int outl = 0, finl = 0;

	if (len > INT_MAX || len % c->block_len)
		return -EINVAL;
	if (!EVP_CipherInit_ex2(c->cipher, NULL, NULL, iv, -1, NULL) ||
	    !EVP_CipherUpdate(c->cipher, out, &outl, in, (int)len) ||
	    !EVP_CipherFinal_ex(c->cipher, out, &finl) || (size_t)outl + (size_t)finl != len)
		return -EIO;
	return 0;
}

/* --- protect --------------------------------------------------------------------------- */

static size_t sk_hdr_len(enum ike_sk_kind kind)
{
	return kind == IKE_SK_FRAGMENT ? IKE_SKF_HDR_LEN : IKE_PAYLOAD_HDR_LEN;
}

int ike_sk_protect_begin(struct ike_sk_ctx *c, struct writer *w, size_t msg_off,
			 size_t sk_off, enum ike_sk_kind kind, struct ike_sk_frame *f)
{
	size_t iv_off;

	if (!c->cipher || !c->outbound || (kind != IKE_SK_ENCRYPTED && kind != IKE_SK_FRAGMENT))
		return -EINVAL;
	if (!writer_ok(w))
		return -ENOSPC;
	if (sk_off < msg_off || sk_off - msg_off < IKE_HDR_LEN ||
	    writer_len(w) < sk_off || writer_len(w) - sk_off != sk_hdr_len(kind))
		return -EINVAL;
	if (!writer_reserve(w, c->iv_len, &iv_off))
		return -ENOSPC;
	f->msg_off = msg_off;
	f->sk_off = sk_off;
	f->iv_off = iv_off;
	f->plain_off = iv_off + c->iv_len;
	return 0;
}

/* The next IV: a counter for AEADs (unique per key), random for CBC (unpredictable,
 * RFC 7296 3.14). */
static int next_iv(struct ike_sk_ctx *c, uint8_t *iv)
{
	if (!c->encr->aead)
		return RAND_bytes(iv, (int)c->iv_len) == 1 ? 0 : -EIO;
	if (c->iv_exhausted)
		return -EOVERFLOW;
	for (size_t i = 0; i < c->iv_len; i++)
		iv[i] = (uint8_t)(c->next_iv >> (8 * (c->iv_len - 1 - i)));
	if (++c->next_iv == 0)
		c->iv_exhausted = true;
	return 0;
}

static int protect_finish(struct ike_sk_ctx *c, struct writer *w, const struct ike_sk_frame *f,
			  size_t ct_len, size_t icv_off)
{
	uint8_t iv[IKE_ENCR_MAX_IV_LEN];
	uint8_t *hdr, *pt, *icv, *all;
	size_t total = writer_len(w) - f->msg_off;
	size_t sk_len = writer_len(w) - f->sk_off;
	int err;

	if (sk_len > UINT16_MAX || total > UINT32_MAX)
		return -EMSGSIZE;
	/* Lengths first: they are inside the authenticated header. */
	if (!writer_patch_be32(w, f->msg_off + IKE_HDR_LENGTH_OFF, (uint32_t)total) ||
	    !writer_patch_be16(w, f->sk_off + 2, (uint16_t)sk_len))
		return -EINVAL;
	err = next_iv(c, iv);
	if (err < 0)
		return err;
	if (!writer_patch_bytes(w, f->iv_off, iv, c->iv_len) ||
	    !writer_view(w, f->plain_off, ct_len, &pt) ||
	    !writer_view(w, icv_off, c->icv_len, &icv))
		return -EINVAL;
	if (c->encr->aead) {
		/* RFC 5282 5.1: AAD = IKE header .. end of the SK (SKF) header. */
		if (!writer_view(w, f->msg_off, f->iv_off - f->msg_off, &hdr))
			return -EINVAL;
		return ike_sk_aead_seal(c, iv, hdr, f->iv_off - f->msg_off, pt, ct_len, icv);
	}
	err = cbc_crypt(c, iv, pt, ct_len, pt);
	if (err < 0)
		return err;
	/* RFC 7296 3.14: checksum over the encrypted message, IKE header .. pad length. */
	if (!writer_view(w, f->msg_off, icv_off - f->msg_off, &all))
		return -EINVAL;
	return ike_mac_compute(&c->integ, &(struct ike_bytes){ all, icv_off - f->msg_off }, 1,
			       icv);
}

/* Make a writer unusable after a failed protect: any later write or view fails, so the
 * half-built message cannot be sent by mistake. */
static void poison(struct writer *w)
{
	size_t ignored;

	(void)writer_reserve(w, writer_room(w) + 1, &ignored);
}

int ike_sk_protect_end(struct ike_sk_ctx *c, struct writer *w, const struct ike_sk_frame *f)
{
	size_t inner_len, pad, icv_off;
	uint8_t *pt;
	int err;

	if (!writer_ok(w))
		return -ENOSPC;
	if (!c->cipher || !c->outbound || f->plain_off < f->iv_off ||
	    f->iv_off < f->sk_off || f->sk_off < f->msg_off || writer_len(w) < f->plain_off) {
		poison(w);
		return -EINVAL;
	}
	inner_len = writer_len(w) - f->plain_off;
	pad = pad_len_for(c, inner_len);
	if (writer_room(w) < pad + 1 + c->icv_len) {
		err = -ENOSPC;
		goto fail;
	}
	/* Padding content is free (RFC 7296 3.14): zeros. These cannot fail (room checked). */
	writer_zeros(w, pad);
	writer_u8(w, (uint8_t)pad);
	writer_reserve(w, c->icv_len, &icv_off);
	err = protect_finish(c, w, f, inner_len + pad + 1, icv_off);
	if (err == 0)
		return 0;
fail:
	/* Do not leave inner payloads in clear in a buffer that must not be sent. */
	if (writer_view(w, f->plain_off, writer_len(w) - f->plain_off, &pt))
		OPENSSL_cleanse(pt, writer_len(w) - f->plain_off);
	poison(w);
	return err;
}

/* --- unprotect -------------------------------------------------------------------------- */

/* The regions of a received SK / SKF payload, all views into the message. */
struct sk_parts {
	const uint8_t *hdr;   /* IKE header .. end of SK (SKF) header: the AEAD AAD */
	size_t hdr_len;
	const uint8_t *iv;
	const uint8_t *ct;
	size_t ct_len;
	const uint8_t *icv;
	const uint8_t *all;   /* IKE header .. end of ciphertext: the HMAC input */
	size_t all_len;
};

/* Structure checks: lengths that agree, an SK payload that ends the message, room for IV,
 * at least the pad length octet, and CBC block alignment. */
static int split_message(const struct ike_sk_ctx *c, const uint8_t *msg, size_t msg_len,
			 size_t sk_off, enum ike_sk_kind kind, struct sk_parts *p)
{
	size_t hdr_len = sk_hdr_len(kind);
	uint32_t ike_len;
	uint16_t sk_len;
	struct reader r;

	if (sk_off < IKE_HDR_LEN || sk_off > msg_len || msg_len - sk_off < hdr_len)
		return -EBADMSG;
	reader_init(&r, msg, msg_len);
	if (!reader_skip(&r, IKE_HDR_LENGTH_OFF) || !reader_be32(&r, &ike_len) ||
	    ike_len != msg_len)
		return -EBADMSG;
	reader_init(&r, msg, msg_len);
	if (!reader_skip(&r, sk_off + 2) || !reader_be16(&r, &sk_len) ||
	    sk_len != msg_len - sk_off)
		return -EBADMSG;
	if (sk_len < hdr_len + c->iv_len + 1 + c->icv_len)
		return -EBADMSG;
	p->hdr_len = sk_off + hdr_len;
	p->ct_len = sk_len - hdr_len - c->iv_len - c->icv_len;
	p->all_len = p->hdr_len + c->iv_len + p->ct_len;
	if (c->block_len > 1 && p->ct_len % c->block_len)
		return -EBADMSG;
	reader_init(&r, msg, msg_len);
	if (!reader_view(&r, p->hdr_len, &p->hdr) || !reader_view(&r, c->iv_len, &p->iv) ||
	    !reader_view(&r, p->ct_len, &p->ct) || !reader_view(&r, c->icv_len, &p->icv) ||
	    !reader_done(&r))
		return -EBADMSG;
	reader_init(&r, msg, msg_len);
	if (!reader_view(&r, p->all_len, &p->all))
		return -EBADMSG;
	return 0;
}

int ike_sk_unprotect(struct ike_sk_ctx *c, const uint8_t *msg, size_t msg_len, size_t sk_off,
		     enum ike_sk_kind kind, uint8_t *out, size_t out_cap, size_t *plain_len)
{
	uint8_t mac[IKE_INTEG_MAX_ICV_LEN];
	struct sk_parts p;
	uint8_t pad;
	int err;

	if (!c->cipher || c->outbound || !msg || !out ||
	    (kind != IKE_SK_ENCRYPTED && kind != IKE_SK_FRAGMENT))
		return -EINVAL;
	err = split_message(c, msg, msg_len, sk_off, kind, &p);
	if (err < 0)
		return err;
	if (out_cap < p.ct_len)
		return -ENOSPC;
	if (c->encr->aead) {
		err = ike_sk_aead_open(c, p.iv, p.hdr, p.hdr_len, p.ct, p.ct_len, p.icv, out);
		if (err < 0)
			return err;
	} else {
		/* Integrity first, in constant time, and only then decrypt (RFC 7296 3.14). */
		err = ike_mac_compute(&c->integ, &(struct ike_bytes){ p.all, p.all_len }, 1, mac);
		if (err < 0)
			return err;
		if (CRYPTO_memcmp(mac, p.icv, c->icv_len) != 0) {
			OPENSSL_cleanse(mac, sizeof(mac));
			return -EACCES;
		}
		OPENSSL_cleanse(mac, sizeof(mac));
		err = cbc_crypt(c, p.iv, p.ct, p.ct_len, out);
		if (err < 0) {
			OPENSSL_cleanse(out, p.ct_len);
			return err;
		}
	}
	/* RFC 7296 3.14 / RFC 5282 3: accept any pad length that fits (the CBC alignment was
	 * checked above). */
	pad = out[p.ct_len - 1];
	if ((size_t)pad + 1 > p.ct_len) {
		OPENSSL_cleanse(out, p.ct_len);
		return -EBADMSG;
	}
	/* Wipe padding and pad length: only the inner payloads stay in out. */
	OPENSSL_cleanse(out + p.ct_len - pad - 1, (size_t)pad + 1);
	*plain_len = p.ct_len - pad - 1;
	return 0;
}
