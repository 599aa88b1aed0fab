/* HMAC, PRF and prf+ over OpenSSL 3 EVP_MAC. See prf.h. */
#include "ike/prf.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* RFC 7296 2.13: "The prf+ function is not defined beyond 255 times the size of the prf
 * function output" (the block counter is one octet). */
#define PRF_PLUS_MAX_BLOCKS 255

int ike_mac_init(struct ike_mac *m, const char *digest, const void *key, size_t key_len,
		 size_t out_len)
{
	static const uint8_t empty_key[1];
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = NULL;
	EVP_MAC *mac;
	size_t full;

	m->ctx = NULL;
	m->full_len = m->out_len = 0;
	if (!digest || (!key && key_len))
		return -EINVAL;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		return -EIO;
	ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);  /* the context holds its own reference */
	if (!ctx)
		return -ENOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	/* A NULL key would mean "keep the previous key", so an empty key is a real pointer
	 * with length 0: HMAC then pads the empty key with zeros (RFC 2104 2). */
	if (!EVP_MAC_init(ctx, key_len ? key : empty_key, key_len, params))
		goto fail;
	full = EVP_MAC_CTX_get_mac_size(ctx);
	if (full == 0 || full > IKE_PRF_MAX_LEN || out_len > full)
		goto fail;
	m->ctx = ctx;
	m->full_len = full;
	m->out_len = out_len ? out_len : full;
	return 0;
fail:
	EVP_MAC_CTX_free(ctx);
	return -EIO;
}

int ike_mac_init_prf(struct ike_mac *m, const struct ike_prf_info *prf, const void *key,
		     size_t key_len)
{
	int err;

	if (!prf) {
		m->ctx = NULL;
		return -EINVAL;
	}
	err = ike_mac_init(m, prf->digest, key, key_len, 0);
	if (err == 0 && m->full_len != prf->len) {
		ike_mac_clear(m);
		return -EIO;
	}
	return err;
}

int ike_mac_init_integ(struct ike_mac *m, const struct ike_integ_info *integ, const void *key,
		       size_t key_len)
{
	/* RFC 4868 2.1.1 / 2.6: the key is exactly the hash output length. */
	if (!integ || key_len != integ->key_len) {
		m->ctx = NULL;
		return -EINVAL;
	}
	return ike_mac_init(m, integ->digest, key, key_len, integ->icv_len);
}

int ike_mac_compute(struct ike_mac *m, const struct ike_bytes *parts, size_t nparts,
		    uint8_t *out)
{
	uint8_t full[IKE_PRF_MAX_LEN];
	size_t got = 0;
	int err = -EIO;

	if (!m->ctx)
		return -EINVAL;
	/* Key NULL: restart with the key given to ike_mac_init (no allocation). */
	if (!EVP_MAC_init(m->ctx, NULL, 0, NULL))
		return -EIO;
	for (size_t i = 0; i < nparts; i++) {
		if (parts[i].len == 0)
			continue;
		if (!parts[i].data || !EVP_MAC_update(m->ctx, parts[i].data, parts[i].len))
			goto out;
	}
	if (!EVP_MAC_final(m->ctx, full, &got, sizeof(full)) || got != m->full_len)
		goto out;
	memcpy(out, full, m->out_len);
	err = 0;
out:
	OPENSSL_cleanse(full, sizeof(full));
	return err;
}

void ike_mac_clear(struct ike_mac *m)
{
	/* EVP_MAC_CTX_free -> HMAC_CTX_free cleanses the key pads. */
	EVP_MAC_CTX_free(m->ctx);
	m->ctx = NULL;
	m->full_len = m->out_len = 0;
}

int ike_prf(const struct ike_prf_info *prf, const void *key, size_t key_len,
	    const struct ike_bytes *parts, size_t nparts, uint8_t *out)
{
	struct ike_mac m;
	int err = ike_mac_init_prf(&m, prf, key, key_len);

	if (err == 0)
		err = ike_mac_compute(&m, parts, nparts, out);
	ike_mac_clear(&m);
	return err;
}

int ike_prf_plus(const struct ike_prf_info *prf, const void *key, size_t key_len,
		 const struct ike_bytes *seed, size_t nseed, uint8_t *out, size_t out_len)
{
	/* Pieces of one block input: Tn-1 | S... | n. */
	struct ike_bytes parts[2 + 16];
	uint8_t t[IKE_PRF_MAX_LEN];
	uint8_t counter;
	size_t done = 0, hlen;
	struct ike_mac m;
	int err;

	if (!prf || out_len == 0 || out_len > (size_t)PRF_PLUS_MAX_BLOCKS * prf->len ||
	    nseed > 16)
		return -EINVAL;
	hlen = prf->len;
	err = ike_mac_init_prf(&m, prf, key, key_len);
	if (err < 0)
		return err;
	for (size_t i = 0; i < nseed; i++)
		parts[1 + i] = seed[i];
	parts[1 + nseed] = (struct ike_bytes){ &counter, 1 };
	for (unsigned n = 1; done < out_len; n++) {
		size_t take = out_len - done < hlen ? out_len - done : hlen;

		/* T1 has no previous block (RFC 7296 2.13). */
		parts[0] = (struct ike_bytes){ t, n == 1 ? 0 : hlen };
		counter = (uint8_t)n;
		err = ike_mac_compute(&m, parts, nseed + 2, t);
		if (err < 0)
			break;
		memcpy(out + done, t, take);
		done += take;
	}
	ike_mac_clear(&m);
	OPENSSL_cleanse(t, sizeof(t));
	if (err < 0)
		OPENSSL_cleanse(out, done);
	return err;
}
