/* Transform tables and the selection check. See transform.h. */
#include "ike/transform.h"

#include <errno.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct ike_encr_info encr_table[] = {
	{
		/* RFC 3602 3: 16-octet random IV, 16-octet blocks; RFC 7296 3.14 padding. */
		.id = IKE_ENCR_AES_CBC, .name = "AES_CBC", .aead = false, .key_attr = true,
		.salt_len = 0, .iv_len = 16, .block_len = 16, .icv_len = 0,
		.evp_128 = "AES-128-CBC", .evp_256 = "AES-256-CBC",
	},
	{
		/* RFC 4106 3.1, 8.1 / RFC 5282 3.1, 7.1: 8-octet IV, 4-octet salt, 16-octet ICV;
		 * RFC 5282 3: no alignment requirement on the padding. */
		.id = IKE_ENCR_AES_GCM_16, .name = "AES_GCM_16", .aead = true, .key_attr = true,
		.salt_len = 4, .iv_len = 8, .block_len = 1, .icv_len = IKE_AEAD_ICV_LEN,
		.evp_128 = "AES-128-GCM", .evp_256 = "AES-256-GCM",
	},
	{
		/* RFC 7634 2, 3: 256-bit key + 4-octet salt, 8-octet IV, 16-octet tag. */
		.id = IKE_ENCR_CHACHA20_POLY1305, .name = "CHACHA20_POLY1305", .aead = true,
		.key_attr = false, .fixed_key_bits = 256,
		.salt_len = 4, .iv_len = 8, .block_len = 1, .icv_len = IKE_AEAD_ICV_LEN,
		.evp_128 = NULL, .evp_256 = "ChaCha20-Poly1305",
	},
};

/* RFC 4868 2.4, 2.6: output length = block of the hash, the preferred key length. */
static const struct ike_prf_info prf_table[] = {
	{ IKE_PRF_HMAC_SHA2_256, "PRF_HMAC_SHA2_256", "SHA2-256", 32 },
	{ IKE_PRF_HMAC_SHA2_384, "PRF_HMAC_SHA2_384", "SHA2-384", 48 },
	{ IKE_PRF_HMAC_SHA2_512, "PRF_HMAC_SHA2_512", "SHA2-512", 64 },
};

/* RFC 4868 2.6 table: key = hash output, truncation to half of it. */
static const struct ike_integ_info integ_table[] = {
	{ IKE_INTEG_HMAC_SHA2_256_128, "AUTH_HMAC_SHA2_256_128", "SHA2-256", 32, 16 },
	{ IKE_INTEG_HMAC_SHA2_384_192, "AUTH_HMAC_SHA2_384_192", "SHA2-384", 48, 24 },
	{ IKE_INTEG_HMAC_SHA2_512_256, "AUTH_HMAC_SHA2_512_256", "SHA2-512", 64, 32 },
};

/* Public value lengths: RFC 7296 3.4 (MODP: modulus length), RFC 5903 7 (x | y, each the
 * field length), RFC 8031 3.1 (32 octets). Shared secret: RFC 7296 2.14 (modulus length),
 * RFC 5903 7 (x only), RFC 8031 2 (32 octets). */
static const struct ike_dh_info dh_table[] = {
	{ IKE_DH_MODP_2048, "MODP_2048", IKE_DH_KIND_MODP, "modp_2048", 256, 256 },
	{ IKE_DH_ECP_256, "ECP_256", IKE_DH_KIND_ECP, "P-256", 64, 32 },
	{ IKE_DH_ECP_384, "ECP_384", IKE_DH_KIND_ECP, "P-384", 96, 48 },
	{ IKE_DH_CURVE25519, "CURVE25519", IKE_DH_KIND_ECX, "X25519", 32, 32 },
};

const struct ike_encr_info *ike_encr_lookup(uint16_t id)
{
	for (size_t i = 0; i < ARRAY_LEN(encr_table); i++)
		if (encr_table[i].id == id)
			return &encr_table[i];
	return NULL;
}

const struct ike_prf_info *ike_prf_lookup(uint16_t id)
{
	for (size_t i = 0; i < ARRAY_LEN(prf_table); i++)
		if (prf_table[i].id == id)
			return &prf_table[i];
	return NULL;
}

const struct ike_integ_info *ike_integ_lookup(uint16_t id)
{
	for (size_t i = 0; i < ARRAY_LEN(integ_table); i++)
		if (integ_table[i].id == id)
			return &integ_table[i];
	return NULL;
}

const struct ike_dh_info *ike_dh_lookup(uint16_t id)
{
	for (size_t i = 0; i < ARRAY_LEN(dh_table); i++)
		if (dh_table[i].id == id)
			return &dh_table[i];
	return NULL;
}

const char *ike_transform_name(enum ike_transform_type type, uint16_t id)
{
	const struct ike_encr_info *e;
	const struct ike_prf_info *p;
	const struct ike_integ_info *i;
	const struct ike_dh_info *d;

	switch (type) {
	case IKE_TRANSFORM_ENCR:
		e = ike_encr_lookup(id);
		return e ? e->name : "unknown";
	case IKE_TRANSFORM_PRF:
		p = ike_prf_lookup(id);
		return p ? p->name : "unknown";
	case IKE_TRANSFORM_INTEG:
		if (id == IKE_INTEG_NONE)
			return "NONE";
		i = ike_integ_lookup(id);
		return i ? i->name : "unknown";
	case IKE_TRANSFORM_DH:
		if (id == IKE_DH_NONE)
			return "NONE";
		d = ike_dh_lookup(id);
		return d ? d->name : "unknown";
	case IKE_TRANSFORM_ESN:
		return id == IKE_ESN_NONE ? "NO_ESN" : id == IKE_ESN_YES ? "ESN" : "unknown";
	}
	return "unknown";
}

/* Key size and OpenSSL cipher: RFC 7296 3.3.5 (Key Length attribute for variable-length
 * ciphers, never for fixed-length ones), RFC 5282 7.3 / RFC 3602 (128 or 256; we do not
 * offer 192, RFC 5282 7.3 "NOT RECOMMENDED"). */
static int resolve_key(const struct ike_encr_info *e, uint16_t attr_bits, unsigned *bits,
		       const char **cipher)
{
	if (e->key_attr) {
		if (attr_bits == 128 && e->evp_128) {
			*cipher = e->evp_128;
		} else if (attr_bits == 256 && e->evp_256) {
			*cipher = e->evp_256;
		} else {
			return -EINVAL;
		}
		*bits = attr_bits;
		return 0;
	}
	if (attr_bits != 0)
		return -EINVAL;
	*bits = e->fixed_key_bits;
	*cipher = e->fixed_key_bits == 128 ? e->evp_128 : e->evp_256;
	return *cipher ? 0 : -EINVAL;
}

int ike_suite_resolve(const struct ike_suite *s, enum ike_suite_use use, struct ike_algs *out)
{
	struct ike_algs a = { 0 };
	unsigned bits = 0;
	int err;

	a.encr = ike_encr_lookup(s->encr);
	if (!a.encr)
		return -ENOTSUP;
	err = resolve_key(a.encr, s->encr_key_bits, &bits, &a.cipher);
	if (err < 0)
		return err;

	/* RFC 5282 8 / RFC 7634 4: an AEAD takes no INTEG transform (NONE is allowed); a
	 * plain cipher needs one (RFC 7296 3.3.3). */
	if (s->integ != IKE_INTEG_NONE) {
		a.integ = ike_integ_lookup(s->integ);
		if (!a.integ)
			return -ENOTSUP;
	}
	if (a.encr->aead ? a.integ != NULL : a.integ == NULL)
		return -EINVAL;

	if (s->dh != IKE_DH_NONE) {
		a.dh = ike_dh_lookup(s->dh);
		if (!a.dh)
			return -ENOTSUP;
	}

	switch (use) {
	case IKE_SUITE_IKE:
		/* RFC 7296 3.3.3: ENCR, PRF, INTEG (unless AEAD), D-H mandatory for IKE. */
		if (s->prf == 0 || !a.dh || s->esn != IKE_ESN_NONE)
			return -EINVAL;
		a.prf = ike_prf_lookup(s->prf);
		if (!a.prf)
			return -ENOTSUP;
		break;
	case IKE_SUITE_ESP:
		/* RFC 7296 3.3.3: ESP has no PRF; D-H optional (PFS), ESN mandatory to agree on. */
		if (s->prf != 0)
			return -EINVAL;
		if (s->esn != IKE_ESN_NONE && s->esn != IKE_ESN_YES)
			return -ENOTSUP;
		a.esn = s->esn == IKE_ESN_YES;
		break;
	default:
		return -EINVAL;
	}

	a.encr_key_len = bits / 8;
	a.encr_keymat_len = a.encr_key_len + a.encr->salt_len;
	a.integ_key_len = a.integ ? a.integ->key_len : 0;
	a.icv_len = a.integ ? a.integ->icv_len : a.encr->icv_len;
	a.iv_len = a.encr->iv_len;
	a.block_len = a.encr->block_len;
	*out = a;
	return 0;
}
