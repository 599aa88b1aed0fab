/* AUTH payload computation and certificate checks (RFC 7296 2.15, RFC 7427). See authn.h. */
#include "ike/authn.h"

#include <errno.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "ike/keys.h"
#include "ike/payload.h"

#define IKE_NAME_TEXT_MAX 514        /* an FQDN or RFC822 identity as C text */

int ike_authn_octets(struct ike_authn_octets *o, const struct ike_prf_info *prf,
		     const uint8_t *sk_p, size_t sk_p_len, const uint8_t *id_body, size_t id_len,
		     const uint8_t *real_message, size_t real_len, const uint8_t *nonce,
		     size_t nonce_len)
{
	int err;

	if (!o || !prf || !sk_p || !id_body || !real_message || !nonce)
		return -EINVAL;
	err = ike_auth_id_mac(prf, (struct ike_bytes){ sk_p, sk_p_len },
			      (struct ike_bytes){ id_body, id_len }, o->maced_id);
	if (err < 0)
		return err;
	o->maced_id_len = prf->len;
	o->real_message = (struct ike_bytes){ real_message, real_len };
	o->nonce = (struct ike_bytes){ nonce, nonce_len };
	return 0;
}

int ike_authn_psk(const struct ike_prf_info *prf, const uint8_t *psk, size_t psk_len,
		  const struct ike_authn_octets *o, uint8_t *out)
{
	if (!psk || !o)
		return -EINVAL;
	return ike_auth_psk(prf, (struct ike_bytes){ psk, psk_len }, o->real_message, o->nonce,
			    (struct ike_bytes){ o->maced_id, o->maced_id_len }, out);
}

int ike_authn_psk_verify(const struct ike_prf_info *prf, const uint8_t *psk, size_t psk_len,
			 const struct ike_authn_octets *o, const uint8_t *auth, size_t auth_len)
{
	uint8_t want[IKE_PRF_MAX_LEN];
	int err = ike_authn_psk(prf, psk, psk_len, o, want);

	if (err < 0)
		return err;
	err = auth_len == prf->len && CRYPTO_memcmp(want, auth, auth_len) == 0 ? 0 : -EACCES;
	OPENSSL_cleanse(want, sizeof(want));
	return err;
}

/* --- RFC 7427 ----------------------------------------------------------------------------- */

/* AlgorithmIdentifiers we send, from RFC 7427 Appendix A (A.3.2-A.3.4, A.4.3). */
static const uint8_t alg_ecdsa_sha256[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t alg_ecdsa_sha384[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
static const uint8_t alg_ecdsa_sha512[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 };
static const uint8_t alg_pss_sha256[] = {
	0x30, 0x46, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x39,
	0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x20, 0xa3, 0x03, 0x02, 0x01, 0x01 };

/* How to sign or verify: digest, padding (RSA), MGF1 digest and salt length (PSS). */
struct sig_scheme {
	const char *name;
	const EVP_MD *md;
	int key_type;                /* EVP_PKEY_EC or EVP_PKEY_RSA */
	bool pss;
	const EVP_MD *mgf1;
	int salt;
};

static int update_parts(EVP_MD_CTX *ctx, const struct ike_authn_octets *o, bool sign)
{
	const struct ike_bytes parts[3] = {
		o->real_message, o->nonce, { o->maced_id, o->maced_id_len } };

	for (size_t i = 0; i < 3; i++) {
		int ok = sign ? EVP_DigestSignUpdate(ctx, parts[i].data, parts[i].len)
			      : EVP_DigestVerifyUpdate(ctx, parts[i].data, parts[i].len);

		if (ok != 1)
			return -EIO;
	}
	return 0;
}

static int set_pss(EVP_PKEY_CTX *pctx, const struct sig_scheme *s)
{
	if (!s->pss)
		return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 ? 0 : -EIO;
	if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, s->mgf1) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, s->salt) <= 0)
		return -EIO;
	return 0;
}

int ike_authn_sign(EVP_PKEY *key, const struct ike_authn_octets *o, uint8_t *out, size_t cap,
		   size_t *len)
{
	struct sig_scheme s = { 0 };
	const uint8_t *alg;
	size_t alg_len, sig_len;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	int err = -EIO;

	if (!key || !o || !out || !len)
		return -EINVAL;
	if (EVP_PKEY_is_a(key, "EC")) {
		int bits = EVP_PKEY_get_bits(key);

		s.key_type = EVP_PKEY_EC;
		if (bits <= 256) {
			s.md = EVP_sha256();
			alg = alg_ecdsa_sha256;
			alg_len = sizeof(alg_ecdsa_sha256);
		} else if (bits <= 384) {
			s.md = EVP_sha384();
			alg = alg_ecdsa_sha384;
			alg_len = sizeof(alg_ecdsa_sha384);
		} else {
			s.md = EVP_sha512();
			alg = alg_ecdsa_sha512;
			alg_len = sizeof(alg_ecdsa_sha512);
		}
	} else if (EVP_PKEY_is_a(key, "RSA")) {
		s.key_type = EVP_PKEY_RSA;
		s.md = EVP_sha256();
		s.pss = true;
		s.mgf1 = EVP_sha256();
		s.salt = 32;
		alg = alg_pss_sha256;
		alg_len = sizeof(alg_pss_sha256);
	} else {
		return -ENOTSUP;
	}
	if (cap < 1 + alg_len)
		return -ENOSPC;
	out[0] = (uint8_t)alg_len;
	memcpy(out + 1, alg, alg_len);
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestSignInit(ctx, &pctx, s.md, NULL, key) != 1)
		goto out;
	if (s.key_type == EVP_PKEY_RSA && (err = set_pss(pctx, &s)) < 0)
		goto out;
	if ((err = update_parts(ctx, o, true)) < 0)
		goto out;
	err = -EIO;
	if (EVP_DigestSignFinal(ctx, NULL, &sig_len) != 1)
		goto out;
	if (sig_len > cap - 1 - alg_len) {
		err = -ENOSPC;
		goto out;
	}
	if (EVP_DigestSignFinal(ctx, out + 1 + alg_len, &sig_len) != 1)
		goto out;
	*len = 1 + alg_len + sig_len;
	err = 0;
out:
	EVP_MD_CTX_free(ctx);
	return err;
}

static const EVP_MD *sha2_by_nid(int nid)
{
	switch (nid) {
	case NID_sha256:
		return EVP_sha256();
	case NID_sha384:
		return EVP_sha384();
	case NID_sha512:
		return EVP_sha512();
	}
	return NULL;
}

/* RSASSA-PSS-params (RFC 4055 3.1). Absent fields take their defaults, which name SHA-1:
 * refused. */
static int pss_params(const X509_ALGOR *alg, struct sig_scheme *s)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype;
	const ASN1_STRING *seq;
	const unsigned char *p;
	RSA_PSS_PARAMS *pss = NULL;
	X509_ALGOR *mgf1_hash = NULL;
	int err = -ENOTSUP;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (ptype != V_ASN1_SEQUENCE || !pval)
		return -ENOTSUP;
	seq = pval;
	p = ASN1_STRING_get0_data(seq);
	pss = d2i_RSA_PSS_PARAMS(NULL, &p, ASN1_STRING_length(seq));
	if (!pss)
		return -EBADMSG;
	if (!pss->hashAlgorithm || !pss->maskGenAlgorithm)
		goto out;
	s->md = sha2_by_nid(OBJ_obj2nid(pss->hashAlgorithm->algorithm));
	if (!s->md || OBJ_obj2nid(pss->maskGenAlgorithm->algorithm) != NID_mgf1)
		goto out;
	X509_ALGOR_get0(&obj, &ptype, &pval, pss->maskGenAlgorithm);
	if (ptype != V_ASN1_SEQUENCE || !pval)
		goto out;
	seq = pval;
	p = ASN1_STRING_get0_data(seq);
	mgf1_hash = d2i_X509_ALGOR(NULL, &p, ASN1_STRING_length(seq));
	if (!mgf1_hash)
		goto out;
	s->mgf1 = sha2_by_nid(OBJ_obj2nid(mgf1_hash->algorithm));
	if (!s->mgf1)
		goto out;
	s->salt = pss->saltLength ? (int)ASN1_INTEGER_get(pss->saltLength) : 20;
	if (s->salt < 0 || s->salt > 512 ||
	    (pss->trailerField && ASN1_INTEGER_get(pss->trailerField) != 1))
		goto out;
	s->pss = true;
	s->key_type = EVP_PKEY_RSA;
	s->name = "RSASSA-PSS";
	err = 0;
out:
	X509_ALGOR_free(mgf1_hash);
	RSA_PSS_PARAMS_free(pss);
	return err;
}

static int scheme_of(const uint8_t *der, size_t len, struct sig_scheme *s)
{
	const unsigned char *p = der;
	X509_ALGOR *alg = d2i_X509_ALGOR(NULL, &p, (long)len);
	int err = 0;

	if (!alg)
		return -EBADMSG;
	if (p != der + len) {
		X509_ALGOR_free(alg);
		return -EBADMSG;
	}
	memset(s, 0, sizeof(*s));
	switch (OBJ_obj2nid(alg->algorithm)) {
	case NID_ecdsa_with_SHA256:
		*s = (struct sig_scheme){ "ecdsa-with-SHA256", EVP_sha256(), EVP_PKEY_EC, 0, 0, 0 };
		break;
	case NID_ecdsa_with_SHA384:
		*s = (struct sig_scheme){ "ecdsa-with-SHA384", EVP_sha384(), EVP_PKEY_EC, 0, 0, 0 };
		break;
	case NID_ecdsa_with_SHA512:
		*s = (struct sig_scheme){ "ecdsa-with-SHA512", EVP_sha512(), EVP_PKEY_EC, 0, 0, 0 };
		break;
	case NID_sha256WithRSAEncryption:
		*s = (struct sig_scheme){ "sha256WithRSAEncryption", EVP_sha256(), EVP_PKEY_RSA,
					  0, 0, 0 };
		break;
	case NID_sha384WithRSAEncryption:
		*s = (struct sig_scheme){ "sha384WithRSAEncryption", EVP_sha384(), EVP_PKEY_RSA,
					  0, 0, 0 };
		break;
	case NID_sha512WithRSAEncryption:
		*s = (struct sig_scheme){ "sha512WithRSAEncryption", EVP_sha512(), EVP_PKEY_RSA,
					  0, 0, 0 };
		break;
	case NID_rsassaPss:
		err = pss_params(alg, s);
		break;
	default:
		err = -ENOTSUP;
	}
	X509_ALGOR_free(alg);
	return err;
}

int ike_authn_verify(X509 *cert, const uint8_t *data, size_t len,
		     const struct ike_authn_octets *o, const char **what)
{
	struct sig_scheme s;
	EVP_PKEY *key;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	size_t alg_len;
	int err;

	if (!cert || !data || !o)
		return -EINVAL;
	if (len < 2 || (alg_len = data[0]) == 0 || alg_len >= len - 1)
		return -EBADMSG;
	err = scheme_of(data + 1, alg_len, &s);
	if (err < 0)
		return err;
	if (what)
		*what = s.name;
	key = X509_get0_pubkey(cert);
	if (!key)
		return -EBADMSG;
	if (!EVP_PKEY_is_a(key, s.key_type == EVP_PKEY_EC ? "EC" : "RSA"))
		return -EACCES;     /* an ECDSA signature with an RSA key or vice versa */
	ctx = EVP_MD_CTX_new();
	err = -EIO;
	if (!ctx || EVP_DigestVerifyInit(ctx, &pctx, s.md, NULL, key) != 1)
		goto out;
	if (s.key_type == EVP_PKEY_RSA && (err = set_pss(pctx, &s)) < 0)
		goto out;
	if ((err = update_parts(ctx, o, false)) < 0)
		goto out;
	err = EVP_DigestVerifyFinal(ctx, data + 1 + alg_len, len - 1 - alg_len) == 1 ? 0 : -EACCES;
out:
	EVP_MD_CTX_free(ctx);
	return err;
}

/* --- certificates ------------------------------------------------------------------------ */

int ike_authn_cert_verify(X509 *cert, STACK_OF(X509) *untrusted, X509_STORE *trust,
			  const char **why)
{
	X509_STORE_CTX *ctx;
	int rc;

	if (!cert || !trust) {
		if (why)
			*why = "no certificate or no trust anchors";
		return -EINVAL;
	}
	ctx = X509_STORE_CTX_new();
	if (!ctx || X509_STORE_CTX_init(ctx, trust, cert, untrusted) != 1) {
		X509_STORE_CTX_free(ctx);
		return -EIO;
	}
	rc = X509_verify_cert(ctx);
	if (rc != 1 && why)
		*why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
	X509_STORE_CTX_free(ctx);
	return rc == 1 ? 0 : -EACCES;
}

bool ike_authn_cert_has_id(X509 *cert, uint8_t type, const uint8_t *data, size_t len)
{
	char text[IKE_NAME_TEXT_MAX];

	if (!cert || !data || len == 0)
		return false;
	switch (type) {
	case IKE_ID_FQDN:
	case IKE_ID_RFC822_ADDR:
		/* The check functions take a length but refuse embedded NULs. */
		if (len >= sizeof(text) || memchr(data, 0, len))
			return false;
		memcpy(text, data, len);
		text[len] = '\0';
		if (type == IKE_ID_FQDN)
			return X509_check_host(cert, text, len,
					       X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
					       X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
		return X509_check_email(cert, text, len, 0) == 1;
	case IKE_ID_IPV4_ADDR:
		return len == 4 && X509_check_ip(cert, data, 4, 0) == 1;
	case IKE_ID_DER_ASN1_DN: {
		const unsigned char *p = data;
		X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)len);
		bool ok = name && p == data + len &&
			  X509_NAME_cmp(name, X509_get_subject_name(cert)) == 0;

		X509_NAME_free(name);
		return ok;
	}
	}
	return false;
}

int ike_authn_certreq(X509_STORE *trust, uint8_t *out, size_t cap, size_t *len)
{
	STACK_OF(X509_OBJECT) *objs;
	size_t n = 0;

	if (!trust || !out || !len)
		return -EINVAL;
	objs = X509_STORE_get0_objects(trust);
	for (int i = 0; objs && i < sk_X509_OBJECT_num(objs); i++) {
		X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		unsigned char *der = NULL;
		unsigned int hlen = 0;
		int dlen;

		if (!x || cap - n < IKE_CERTREQ_HASH_LEN)
			continue;
		dlen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
		if (dlen <= 0)
			continue;
		if (EVP_Digest(der, (size_t)dlen, out + n, &hlen, EVP_sha1(), NULL) == 1 &&
		    hlen == IKE_CERTREQ_HASH_LEN)
			n += IKE_CERTREQ_HASH_LEN;
		OPENSSL_free(der);
	}
	*len = n;
	return 0;
}

int ike_authn_cert_subject(X509 *cert, uint8_t *out, size_t cap, size_t *len)
{
	unsigned char *der = NULL;
	int n;

	if (!cert || !out || !len)
		return -EINVAL;
	n = i2d_X509_NAME(X509_get_subject_name(cert), &der);
	if (n <= 0)
		return -EIO;
	if ((size_t)n > cap) {
		OPENSSL_free(der);
		return -ENOSPC;
	}
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	*len = (size_t)n;
	return 0;
}
