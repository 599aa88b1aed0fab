/* Mobile IPv4 authentication extensions (RFC 5944 §3.5, §5.1). See auth.h. */
#include "mip4/auth.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

int mip4_key_set(struct mip4_key *key, uint32_t spi, const void *secret, size_t len)
{
	if (!key || !secret || len == 0 || len > MIP4_KEY_MAX || spi < MIP4_SPI_MIN)
		return -EINVAL;
	memset(key, 0, sizeof(*key));
	key->spi = spi;
	key->alg = MIP4_AUTH_HMAC_MD5;
	key->len = len;
	memcpy(key->key, secret, len);
	return 0;
}

void mip4_key_wipe(struct mip4_key *key)
{
	if (key)
		OPENSSL_cleanse(key, sizeof(*key));
}

/* One HMAC-MD5 context per thread, fetched once: EVP_Q_mac fetches the algorithm and
 * allocates a context on every call, which was a third of the home agent's CPU time at
 * 100,000 renewals per second. The context is re-keyed for every message and, after the
 * authenticator is out, keyed again with zeros, so no key-derived state (HMAC's inner and
 * outer pad digests, RFC 2104 §2) stays behind between calls. */
static _Thread_local EVP_MAC_CTX *hmac_md5_ctx;

static EVP_MAC_CTX *hmac_md5(void)
{
	OSSL_PARAM params[2];
	EVP_MAC *mac;

	if (hmac_md5_ctx)
		return hmac_md5_ctx;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		return NULL;
	hmac_md5_ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);   /* the context keeps its own reference */
	if (!hmac_md5_ctx)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"MD5", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(hmac_md5_ctx, params)) {
		EVP_MAC_CTX_free(hmac_md5_ctx);
		hmac_md5_ctx = NULL;
	}
	return hmac_md5_ctx;
}

int mip4_hmac_md5(const void *key, size_t key_len, const void *data, size_t len,
		  uint8_t out[MIP4_HMAC_MD5_LEN])
{
	/* EVP_MAC_init takes a NULL key as "keep the previous one": never pass NULL. */
	static const uint8_t zeros[MIP4_HMAC_MD5_LEN];
	EVP_MAC_CTX *ctx = hmac_md5();
	size_t out_len = 0;
	int ok;

	if (!out || (!key && key_len) || (!data && len))
		return -EINVAL;
	if (!ctx)
		return -EIO;
	ok = EVP_MAC_init(ctx, key_len ? key : zeros, key_len, NULL) &&
	     (len == 0 || EVP_MAC_update(ctx, data, len)) &&
	     EVP_MAC_final(ctx, out, &out_len, MIP4_HMAC_MD5_LEN);
	/* Wipe: a zero key replaces the pads derived from ours. */
	if (!EVP_MAC_init(ctx, zeros, sizeof(zeros), NULL)) {
		EVP_MAC_CTX_free(ctx);   /* cleanses; a new one is made next time */
		hmac_md5_ctx = NULL;
	}
	if (!ok || out_len != MIP4_HMAC_MD5_LEN) {
		OPENSSL_cleanse(out, MIP4_HMAC_MD5_LEN);
		return -EIO;
	}
	return 0;
}

size_t mip4_auth_len(const struct mip4_key *key)
{
	if (key && key->alg == MIP4_AUTH_HMAC_MD5)
		return MIP4_HMAC_MD5_LEN;
	return 0;
}

static bool key_usable(const struct mip4_key *key)
{
	return key && key->len > 0 && key->len <= MIP4_KEY_MAX && key->spi >= MIP4_SPI_MIN &&
	       mip4_auth_len(key) > 0;
}

/* The authenticator of region under key, into out (mip4_auth_len(key) bytes). */
static int auth_compute(const struct mip4_key *key, const uint8_t *region, size_t len,
			uint8_t *out)
{
	switch (key->alg) {
	case MIP4_AUTH_HMAC_MD5:
		return mip4_hmac_md5(key->key, key->len, region, len, out);
	}
	return -EINVAL;
}

static bool is_auth_type(uint8_t type)
{
	return type == MIP4_EXT_MN_HA_AUTH || type == MIP4_EXT_MN_FA_AUTH ||
	       type == MIP4_EXT_FA_HA_AUTH;
}

int mip4_auth_append(struct writer *w, size_t msg_start, uint8_t type,
		     const struct mip4_key *key)
{
	size_t alen, auth_off;
	uint8_t *region, *auth;
	int rc;

	if (!w || !key_usable(key) || !is_auth_type(type) || !writer_ok(w) ||
	    msg_start > writer_len(w))
		return -EINVAL;
	alen = mip4_auth_len(key);
	if (writer_room(w) < MIP4_AUTH_HDR_LEN + alen)
		return -ENOSPC;

	/* §3.5.2: Length is 4 (the SPI) plus the Authenticator. */
	writer_u8(w, type);
	writer_u8(w, (uint8_t)(4 + alen));
	writer_be32(w, key->spi);
	writer_reserve(w, alen, &auth_off);
	/* §3.5.1: the region runs from the message's first byte up to the Authenticator. */
	if (!writer_view(w, msg_start, auth_off - msg_start, &region) ||
	    !writer_view(w, auth_off, alen, &auth))
		return -EIO;
	rc = auth_compute(key, region, auth_off - msg_start, auth);
	if (rc < 0)
		OPENSSL_cleanse(auth, alen);
	return rc;
}

int mip4_auth_verify_key(const void *msg, size_t len, const struct mip4_auth_ext *ext,
			 const struct mip4_key *key)
{
	uint8_t expect[MIP4_HMAC_MD5_LEN];
	const uint8_t *region, *auth;
	struct reader r;
	size_t alen;
	int rc;

	if (!msg || !ext || !ext->present || !key_usable(key))
		return -EINVAL;
	if (key->spi != ext->spi)
		return -ENOENT;
	reader_init(&r, msg, len);
	if (!reader_view(&r, ext->auth_off, &region) || !reader_view(&r, ext->auth_len, &auth))
		return -EINVAL;
	alen = mip4_auth_len(key);
	/* An authenticator of another length cannot be this algorithm's: it does not verify. */
	if (ext->auth_len != alen || alen > sizeof(expect))
		return -EACCES;
	rc = auth_compute(key, region, ext->auth_off, expect);
	if (rc == 0 && CRYPTO_memcmp(expect, auth, alen) != 0)
		rc = -EACCES;
	OPENSSL_cleanse(expect, sizeof(expect));
	return rc;
}

int mip4_auth_verify(const void *msg, size_t len, const struct mip4_auth_ext *ext,
		     mip4_key_lookup_fn lookup, void *ctx)
{
	struct mip4_key key;
	int rc;

	if (!msg || !ext || !ext->present || !lookup)
		return -EINVAL;
	if (ext->spi < MIP4_SPI_MIN)
		return -ENOENT;
	memset(&key, 0, sizeof(key));
	rc = lookup(ctx, ext->type, ext->spi, &key);
	if (rc == 0)
		rc = mip4_auth_verify_key(msg, len, ext, &key);
	else if (rc > 0)
		rc = -ENOENT;
	mip4_key_wipe(&key);
	return rc;
}
