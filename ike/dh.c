/* Ephemeral DH for IKEv2 over OpenSSL 3 EVP_PKEY. See dh.h for the encodings and checks. */
#include "ike/dh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

struct ike_dh {
	const struct ike_dh_info *info;
	EVP_PKEY *key;
	uint8_t pub[IKE_DH_MAX_PUBLIC_LEN];  /* encoded as the KE payload wants it */
};

/* RFC 3526 section 3, the 2048-bit MODP group (id 14), copied from the RFC text; g = 2. */
static const char modp2048_p_hex[] =
	"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
	"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
	"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
	"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
	"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"
	"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
	"83655D23DCA3AD961C62F356208552BB9ED529077096966D"
	"670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
	"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"
	"DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
	"15728E5A8AACAA68FFFFFFFFFFFFFFFF";
#define MODP2048_G 2

static BIGNUM *modp2048_p(void)
{
	BIGNUM *p = NULL;

	if (!BN_hex2bn(&p, modp2048_p_hex)) {
		BN_free(p);
		return NULL;
	}
	return p;
}

/* --- building EVP_PKEYs from raw values --------------------------------------------- */

/* A MODP key of group 14 from any of: public value, private value (both big-endian BNs). */
static EVP_PKEY *modp_from_data(const BIGNUM *pub, const BIGNUM *priv)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *p = modp2048_p();
	int selection = EVP_PKEY_KEY_PARAMETERS;

	if (!bld || !p || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, p) ||
	    !OSSL_PARAM_BLD_push_uint(bld, OSSL_PKEY_PARAM_FFC_G, MODP2048_G))
		goto out;
	if (pub) {
		selection = EVP_PKEY_PUBLIC_KEY;
		if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, pub))
			goto out;
	}
	if (priv) {
		selection = EVP_PKEY_KEYPAIR;
		if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv))
			goto out;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, selection, params) <= 0)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);  /* the private value copy is cleared by OSSL_PARAM_BLD */
	OSSL_PARAM_BLD_free(bld);
	BN_free(p);
	return pkey;
}

/* An EC key from an uncompressed point (0x04 | x | y) and/or a private scalar. OpenSSL
 * decodes the point with EC_POINT_oct2point, which refuses coordinates >= p and points not
 * on the curve. */
static EVP_PKEY *ec_from_data(const char *curve, const uint8_t *point, size_t point_len,
			      const BIGNUM *priv)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len) ||
	    (priv && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv)))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
			      params) <= 0)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* Peer public value -> EVP_PKEY, after the RFC 6989 checks. NULL when the value is bad. */
static EVP_PKEY *peer_key(const struct ike_dh_info *g, const uint8_t *pub, size_t len)
{
	uint8_t point[1 + IKE_DH_MAX_PUBLIC_LEN];
	EVP_PKEY_CTX *chk = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *y = NULL, *p = NULL;

	if (len != g->public_len)
		return NULL;
	switch (g->kind) {
	case IKE_DH_KIND_MODP:
		/* RFC 6989 2.1: 1 < y < p-1. */
		y = BN_bin2bn(pub, (int)len, NULL);
		p = modp2048_p();
		if (!y || !p || !BN_sub_word(p, 1) || BN_cmp(y, BN_value_one()) <= 0 ||
		    BN_cmp(y, p) >= 0)
			break;
		pkey = modp_from_data(y, NULL);
		break;
	case IKE_DH_KIND_ECP:
		/* RFC 5903 7: x | y without the SEC1 0x04 prefix, which we add back. */
		point[0] = 0x04;
		memcpy(point + 1, pub, len);
		pkey = ec_from_data(g->ossl_group, point, len + 1, NULL);
		if (!pkey)
			break;
		/* RFC 6989 2.3: on the curve (and, free here, not infinity, in the subgroup). */
		chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		if (!chk || EVP_PKEY_public_check(chk) != 1) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		break;
	case IKE_DH_KIND_ECX:
		/* RFC 8031 3.2: any 32 octets are a valid encoding (RFC 7748 5); low-order
		 * points give an all-zero secret, refused in ike_dh_compute. */
		pkey = EVP_PKEY_new_raw_public_key_ex(NULL, g->ossl_group, NULL, pub, len);
		break;
	}
	EVP_PKEY_CTX_free(chk);
	BN_free(y);
	BN_free(p);
	return pkey;
}

/* --- our key ------------------------------------------------------------------------ */

/* Encode our public value as the KE payload carries it. */
static int encode_public(struct ike_dh *dh)
{
	const struct ike_dh_info *g = dh->info;
	uint8_t point[1 + IKE_DH_MAX_PUBLIC_LEN];
	BIGNUM *y = NULL;
	size_t len = 0;
	int err = -EIO;

	switch (g->kind) {
	case IKE_DH_KIND_MODP:
		/* RFC 7296 3.4: big-endian, zero-padded to the length of the prime. */
		if (EVP_PKEY_get_bn_param(dh->key, OSSL_PKEY_PARAM_PUB_KEY, &y) &&
		    BN_bn2binpad(y, dh->pub, g->public_len) == g->public_len)
			err = 0;
		break;
	case IKE_DH_KIND_ECP:
		/* Uncompressed SEC1 point 0x04 | x | y, coordinates padded to the field size. */
		if (EVP_PKEY_get_octet_string_param(dh->key, OSSL_PKEY_PARAM_PUB_KEY, point,
						    sizeof(point), &len) &&
		    len == 1u + g->public_len && point[0] == 0x04) {
			memcpy(dh->pub, point + 1, g->public_len);
			err = 0;
		}
		break;
	case IKE_DH_KIND_ECX:
		len = g->public_len;
		if (EVP_PKEY_get_raw_public_key(dh->key, dh->pub, &len) && len == g->public_len)
			err = 0;
		break;
	}
	BN_free(y);
	return err;
}

static int finish_new(const struct ike_dh_info *g, EVP_PKEY *key, struct ike_dh **out)
{
	struct ike_dh *dh;
	int err;

	if (!key)
		return -EIO;
	dh = calloc(1, sizeof(*dh));
	if (!dh) {
		EVP_PKEY_free(key);
		return -ENOMEM;
	}
	dh->info = g;
	dh->key = key;
	err = encode_public(dh);
	if (err < 0) {
		ike_dh_free(dh);
		return err;
	}
	*out = dh;
	return 0;
}

int ike_dh_new(uint16_t group, struct ike_dh **out)
{
	const struct ike_dh_info *g = ike_dh_lookup(group);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *params = NULL, *key = NULL;

	if (!g)
		return -ENOTSUP;
	switch (g->kind) {
	case IKE_DH_KIND_MODP:
		/* Domain parameters from the RFC 3526 prime; OpenSSL recognises the named group
		 * and draws a short exponent of the right strength. A fresh private value every
		 * time (RFC 6989 2.2). */
		params = modp_from_data(NULL, NULL);
		ctx = params ? EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL) : NULL;
		if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_generate(ctx, &key) <= 0)
			key = NULL;
		break;
	case IKE_DH_KIND_ECP:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", g->ossl_group);
		break;
	case IKE_DH_KIND_ECX:
		key = EVP_PKEY_Q_keygen(NULL, NULL, g->ossl_group);
		break;
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(params);
	return finish_new(g, key, out);
}

/* Q = d * G on the named curve, as an uncompressed point. */
static int ec_public_from_private(const char *curve, const BIGNUM *d, uint8_t *point,
				  size_t cap, size_t *len)
{
	/* Our ECP groups are named as NIST names them ("P-256"), as OpenSSL's
	 * EC_curve_nist2nid() knows them. */
	EC_GROUP *grp = EC_GROUP_new_by_curve_name(EC_curve_nist2nid(curve));
	EC_POINT *q = grp ? EC_POINT_new(grp) : NULL;
	int err = -EIO;

	if (q && EC_POINT_mul(grp, q, d, NULL, NULL, NULL)) {
		*len = EC_POINT_point2oct(grp, q, POINT_CONVERSION_UNCOMPRESSED, point, cap, NULL);
		if (*len > 0)
			err = 0;
	}
	EC_POINT_free(q);
	EC_GROUP_free(grp);
	return err;
}

int ike_dh_new_from_private(uint16_t group, const uint8_t *priv, size_t priv_len,
			    struct ike_dh **out)
{
	const struct ike_dh_info *g = ike_dh_lookup(group);
	uint8_t point[1 + IKE_DH_MAX_PUBLIC_LEN];
	EVP_PKEY *key = NULL;
	BIGNUM *d = NULL, *y = NULL, *p = NULL;
	BN_CTX *bnctx = NULL;
	size_t len = 0;

	if (!g)
		return -ENOTSUP;
	if (!priv || priv_len == 0 || priv_len > g->shared_len)
		return -EINVAL;
	if (g->kind == IKE_DH_KIND_ECX) {
		if (priv_len != g->shared_len)
			return -EINVAL;
		key = EVP_PKEY_new_raw_private_key_ex(NULL, g->ossl_group, NULL, priv, priv_len);
		return finish_new(g, key, out);
	}
	d = BN_secure_new();
	if (!d || !BN_bin2bn(priv, (int)priv_len, d) || BN_is_zero(d))
		goto out;
	if (g->kind == IKE_DH_KIND_MODP) {
		/* y = g^x mod p */
		y = BN_new();
		p = modp2048_p();
		bnctx = BN_CTX_new();
		if (y && p && bnctx && BN_set_word(y, MODP2048_G) &&
		    BN_mod_exp(y, y, d, p, bnctx))
			key = modp_from_data(y, d);
	} else if (ec_public_from_private(g->ossl_group, d, point, sizeof(point), &len) == 0) {
		key = ec_from_data(g->ossl_group, point, len, d);
	}
out:
	BN_clear_free(d);
	BN_free(y);
	BN_free(p);
	BN_CTX_free(bnctx);
	if (!key)
		return -EINVAL;
	return finish_new(g, key, out);
}

void ike_dh_free(struct ike_dh *dh)
{
	if (!dh)
		return;
	EVP_PKEY_free(dh->key);  /* frees the private value with BN_clear_free / cleanse */
	OPENSSL_cleanse(dh, sizeof(*dh));
	free(dh);
}

const struct ike_dh_info *ike_dh_group(const struct ike_dh *dh)
{
	return dh->info;
}

int ike_dh_write_public(const struct ike_dh *dh, struct writer *w)
{
	return writer_bytes(w, dh->pub, dh->info->public_len) ? 0 : -ENOSPC;
}

int ike_dh_check_peer(uint16_t group, const uint8_t *pub, size_t pub_len)
{
	const struct ike_dh_info *g = ike_dh_lookup(group);
	EVP_PKEY *pkey;

	if (!g)
		return -ENOTSUP;
	if (!pub)
		return -EINVAL;
	pkey = peer_key(g, pub, pub_len);
	if (!pkey)
		return -EINVAL;
	EVP_PKEY_free(pkey);
	return 0;
}

/* Constant-time "all octets zero" (RFC 7748 6.1 check, RFC 8031 2.1). */
static int all_zero(const uint8_t *b, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

int ike_dh_compute(const struct ike_dh *dh, const uint8_t *peer, size_t peer_len,
		   uint8_t *out, size_t out_cap, size_t *out_len)
{
	const struct ike_dh_info *g = dh->info;
	uint8_t secret[IKE_DH_MAX_SHARED_LEN];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk;
	size_t len = sizeof(secret);
	int err = -EINVAL;

	if (out_cap < g->shared_len)
		return -ENOSPC;
	if (!peer)
		return -EINVAL;
	pk = peer_key(g, peer, peer_len);
	if (!pk)
		return -EINVAL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dh->key, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) <= 0)
		goto out;
	/* RFC 7296 2.14: g^ir padded with zeros to the modulus length; OpenSSL strips leading
	 * zeros unless asked not to. */
	if (g->kind == IKE_DH_KIND_MODP && EVP_PKEY_CTX_set_dh_pad(ctx, 1) <= 0)
		goto out;
	/* X25519 fails here on an all-zero result (RFC 7748 6.1); MODP/ECP re-validate. */
	if (EVP_PKEY_derive_set_peer(ctx, pk) <= 0 || EVP_PKEY_derive(ctx, secret, &len) <= 0)
		goto out;
	/* ECDH gives the x coordinate padded to the field size (RFC 5903 7). */
	if (len != g->shared_len)
		goto out;
	if (g->kind == IKE_DH_KIND_ECX && all_zero(secret, len))
		goto out;  /* RFC 8031 2.1, in case the library did not refuse it */
	memcpy(out, secret, len);
	*out_len = len;
	err = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return err;
}
