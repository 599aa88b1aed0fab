/* IKEv2 key derivation. See keys.h. */
#include "ike/keys.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

/* RFC 7296 2.15: "Key Pad for IKEv2", 17 ASCII characters without a NUL. */
static const char key_pad[] = "Key Pad for IKEv2";
#define KEY_PAD_LEN (sizeof(key_pad) - 1)

/* Largest prf+ output we ever ask for: 3 PRF keys, 2 INTEG keys, 2 encryption keymats. */
#define SA_KEYMAT_MAX (3 * IKE_PRF_MAX_LEN + 2 * IKE_INTEG_MAX_KEY_LEN + \
		       2 * IKE_ENCR_MAX_KEYMAT_LEN)
#define CHILD_KEYMAT_MAX (2 * (IKE_ENCR_MAX_KEYMAT_LEN + IKE_INTEG_MAX_KEY_LEN))

static bool bytes_ok(struct ike_bytes b)
{
	return b.data || b.len == 0;
}

int ike_skeyseed(const struct ike_prf_info *prf, struct ike_bytes ni, struct ike_bytes nr,
		 struct ike_bytes g_ir, uint8_t *skeyseed)
{
	uint8_t key[2 * 256];  /* nonces are at most 256 octets each (RFC 7296 3.9) */

	if (!prf || !bytes_ok(ni) || !bytes_ok(nr) || !bytes_ok(g_ir) || ni.len == 0 ||
	    nr.len == 0 || ni.len + nr.len > sizeof(key) || g_ir.len == 0)
		return -EINVAL;
	/* The PRF key is the concatenation Ni | Nr (2.14), so it needs one buffer. */
	memcpy(key, ni.data, ni.len);
	memcpy(key + ni.len, nr.data, nr.len);
	int err = ike_prf(prf, key, ni.len + nr.len, &g_ir, 1, skeyseed);
	OPENSSL_cleanse(key, sizeof(key));
	return err;
}

int ike_skeyseed_rekey(const struct ike_prf_info *old_prf, struct ike_bytes sk_d_old,
		       struct ike_bytes g_ir, struct ike_bytes ni, struct ike_bytes nr,
		       uint8_t *skeyseed)
{
	const struct ike_bytes parts[3] = { g_ir, ni, nr };

	/* 2.18: a rekey of the IKE SA MUST include a new Diffie-Hellman exchange. */
	if (!old_prf || !bytes_ok(sk_d_old) || sk_d_old.len == 0 || !bytes_ok(g_ir) ||
	    g_ir.len == 0 || !bytes_ok(ni) || !bytes_ok(nr) || ni.len == 0 || nr.len == 0)
		return -EINVAL;
	return ike_prf(old_prf, sk_d_old.data, sk_d_old.len, parts, 3, skeyseed);
}

/* Take n octets from the keymat stream at *pos. */
static void take(uint8_t *dst, const uint8_t *keymat, size_t *pos, size_t n)
{
	memcpy(dst, keymat + *pos, n);
	*pos += n;
}

int ike_sa_keys_derive(const struct ike_algs *algs, const uint8_t *skeyseed,
		       size_t skeyseed_len, struct ike_bytes ni, struct ike_bytes nr,
		       const uint8_t spi_i[IKE_SPI_LEN], const uint8_t spi_r[IKE_SPI_LEN],
		       struct ike_sa_keys *out)
{
	const struct ike_bytes seed[4] = {
		ni, nr, { spi_i, IKE_SPI_LEN }, { spi_r, IKE_SPI_LEN },
	};
	uint8_t keymat[SA_KEYMAT_MAX];
	struct ike_sa_keys k;
	size_t total, pos = 0;
	int err;

	if (!algs || !algs->prf || !skeyseed || skeyseed_len == 0 || !spi_i || !spi_r ||
	    !bytes_ok(ni) || !bytes_ok(nr) || ni.len == 0 || nr.len == 0 ||
	    algs->integ_key_len > IKE_INTEG_MAX_KEY_LEN ||
	    algs->encr_keymat_len > IKE_ENCR_MAX_KEYMAT_LEN)
		return -EINVAL;
	memset(&k, 0, sizeof(k));
	k.prf = algs->prf;
	k.sk_d_len = k.sk_p_len = algs->prf->len;  /* preferred key length (2.13) */
	k.sk_a_len = algs->integ_key_len;
	k.sk_e_len = algs->encr_keymat_len;
	total = k.sk_d_len + 2 * k.sk_a_len + 2 * k.sk_e_len + 2 * k.sk_p_len;
	err = ike_prf_plus(algs->prf, skeyseed, skeyseed_len, seed, 4, keymat, total);
	if (err == 0) {
		/* 2.14: taken in this order from the prf+ stream. */
		take(k.sk_d, keymat, &pos, k.sk_d_len);
		take(k.sk_ai, keymat, &pos, k.sk_a_len);
		take(k.sk_ar, keymat, &pos, k.sk_a_len);
		take(k.sk_ei, keymat, &pos, k.sk_e_len);
		take(k.sk_er, keymat, &pos, k.sk_e_len);
		take(k.sk_pi, keymat, &pos, k.sk_p_len);
		take(k.sk_pr, keymat, &pos, k.sk_p_len);
		*out = k;
	}
	OPENSSL_cleanse(keymat, sizeof(keymat));
	OPENSSL_cleanse(&k, sizeof(k));
	return err;
}

void ike_sa_keys_wipe(struct ike_sa_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

int ike_child_keys_derive(const struct ike_prf_info *prf, struct ike_bytes sk_d,
			  const struct ike_algs *child_algs, struct ike_bytes g_ir,
			  struct ike_bytes ni, struct ike_bytes nr, struct ike_child_keys *out)
{
	/* 2.17: g^ir (new) only when the CREATE_CHILD_SA exchange carried KE payloads. */
	struct ike_bytes seed[3];
	uint8_t keymat[CHILD_KEYMAT_MAX];
	struct ike_child_keys k;
	size_t n = 0, pos = 0;
	int err;

	if (!prf || !child_algs || !bytes_ok(sk_d) || sk_d.len == 0 || !bytes_ok(g_ir) ||
	    !bytes_ok(ni) || !bytes_ok(nr) || ni.len == 0 || nr.len == 0 ||
	    child_algs->integ_key_len > IKE_INTEG_MAX_KEY_LEN ||
	    child_algs->encr_keymat_len > IKE_ENCR_MAX_KEYMAT_LEN)
		return -EINVAL;
	if (g_ir.len)
		seed[n++] = g_ir;
	seed[n++] = ni;
	seed[n++] = nr;
	memset(&k, 0, sizeof(k));
	k.encr_len = child_algs->encr_keymat_len;
	k.integ_len = child_algs->integ_key_len;
	err = ike_prf_plus(prf, sk_d.data, sk_d.len, seed, n, keymat,
			   2 * (k.encr_len + k.integ_len));
	if (err == 0) {
		/* Initiator -> responder SA first; encryption key, then integrity key. */
		take(k.encr_i, keymat, &pos, k.encr_len);
		take(k.integ_i, keymat, &pos, k.integ_len);
		take(k.encr_r, keymat, &pos, k.encr_len);
		take(k.integ_r, keymat, &pos, k.integ_len);
		*out = k;
	}
	OPENSSL_cleanse(keymat, sizeof(keymat));
	OPENSSL_cleanse(&k, sizeof(k));
	return err;
}

void ike_child_keys_wipe(struct ike_child_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

int ike_auth_id_mac(const struct ike_prf_info *prf, struct ike_bytes sk_p,
		    struct ike_bytes id_body, uint8_t *out)
{
	if (!prf || !bytes_ok(sk_p) || !bytes_ok(id_body))
		return -EINVAL;
	return ike_prf(prf, sk_p.data, sk_p.len, &id_body, 1, out);
}

int ike_auth_psk(const struct ike_prf_info *prf, struct ike_bytes secret,
		 struct ike_bytes real_message, struct ike_bytes nonce, struct ike_bytes maced_id,
		 uint8_t *auth)
{
	const struct ike_bytes pad = { key_pad, KEY_PAD_LEN };
	const struct ike_bytes octets[3] = { real_message, nonce, maced_id };
	uint8_t inner[IKE_PRF_MAX_LEN];
	int err;

	if (!prf || !bytes_ok(secret) || !bytes_ok(real_message) || !bytes_ok(nonce) ||
	    !bytes_ok(maced_id))
		return -EINVAL;
	err = ike_prf(prf, secret.data, secret.len, &pad, 1, inner);
	if (err == 0)
		err = ike_prf(prf, inner, prf->len, octets, 3, auth);
	OPENSSL_cleanse(inner, sizeof(inner));
	return err;
}
