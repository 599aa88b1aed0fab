/* IKEv2 key derivation (RFC 7296 2.14, 2.15, 2.17, 2.18).
 *
 *   SKEYSEED = prf(Ni | Nr, g^ir)                                          (2.14)
 *   {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
 *            = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)                         (2.14)
 *   rekeyed IKE SA: SKEYSEED = prf_old(SK_d (old), g^ir (new) | Ni | Nr)     (2.18)
 *   Child SA: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr)                   (2.17)
 *   PSK AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), SignedOctets)  (2.15)
 *
 * Lengths come from the resolved transforms (struct ike_algs): SK_d, SK_pi, SK_pr are the
 * PRF's preferred key length (2.13); SK_a is the INTEG key length, 0 for AEADs (RFC 5282 7.1,
 * RFC 7634 3); SK_e is the cipher key plus the salt for AEADs (RFC 5282 7.1, RFC 7634 2).
 *
 * Every intermediate value is cleansed before return; callers wipe the output structures with
 * the *_wipe() functions. Errors: -EINVAL (bad argument or length), -EIO (OpenSSL). Outputs
 * are written only on success.
 */
#ifndef MM_IKE_KEYS_H
#define MM_IKE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "ike/prf.h"
#include "ike/transform.h"

#define IKE_SPI_LEN 8

/* Keys of one IKE SA; "i" protects messages from the original initiator (2.14). */
struct ike_sa_keys {
	uint8_t sk_d[IKE_PRF_MAX_LEN];
	uint8_t sk_ai[IKE_INTEG_MAX_KEY_LEN];
	uint8_t sk_ar[IKE_INTEG_MAX_KEY_LEN];
	uint8_t sk_ei[IKE_ENCR_MAX_KEYMAT_LEN];  /* cipher key | salt */
	uint8_t sk_er[IKE_ENCR_MAX_KEYMAT_LEN];
	uint8_t sk_pi[IKE_PRF_MAX_LEN];
	uint8_t sk_pr[IKE_PRF_MAX_LEN];
	size_t sk_d_len;   /* = sk_p_len = prf->len */
	size_t sk_a_len;   /* 0 for AEADs */
	size_t sk_e_len;   /* algs->encr_keymat_len */
	size_t sk_p_len;
	const struct ike_prf_info *prf;  /* the new SA's PRF (for SK_d and SK_p use) */
};

/* Keys of one Child SA pair (ESP); "i" is the SA carrying initiator -> responder traffic,
 * whose keys come first in KEYMAT (2.17). Within each direction the encryption key comes
 * first, then the integrity key (RFC 7296 2.17, RFC 4301). */
struct ike_child_keys {
	uint8_t encr_i[IKE_ENCR_MAX_KEYMAT_LEN];  /* cipher key | salt */
	uint8_t integ_i[IKE_INTEG_MAX_KEY_LEN];
	uint8_t encr_r[IKE_ENCR_MAX_KEYMAT_LEN];
	uint8_t integ_r[IKE_INTEG_MAX_KEY_LEN];
	size_t encr_len;   /* algs->encr_keymat_len */
	size_t integ_len;  /* 0 for AEADs */
};

/* SKEYSEED = prf(Ni | Nr, g^ir): prf->len octets into skeyseed (2.14). */
int ike_skeyseed(const struct ike_prf_info *prf, struct ike_bytes ni, struct ike_bytes nr,
		 struct ike_bytes g_ir, uint8_t *skeyseed);

/* Rekeyed IKE SA (2.18): SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), computed with the
 * OLD SA's PRF; old_prf->len octets into skeyseed. */
int ike_skeyseed_rekey(const struct ike_prf_info *old_prf, struct ike_bytes sk_d_old,
		       struct ike_bytes g_ir, struct ike_bytes ni, struct ike_bytes nr,
		       uint8_t *skeyseed);

/* The seven SK_* of a (new or rekeyed) IKE SA from SKEYSEED with the SA's own PRF and
 * lengths (algs from ike_suite_resolve(..., IKE_SUITE_IKE, ...)). SPIs are 8 octets each. */
int ike_sa_keys_derive(const struct ike_algs *algs, const uint8_t *skeyseed,
		       size_t skeyseed_len, struct ike_bytes ni, struct ike_bytes nr,
		       const uint8_t spi_i[IKE_SPI_LEN], const uint8_t spi_r[IKE_SPI_LEN],
		       struct ike_sa_keys *out);
void ike_sa_keys_wipe(struct ike_sa_keys *k);

/* Child SA KEYMAT with the IKE SA's PRF and SK_d (2.17); g_ir.len == 0 when the exchange had
 * no KE payloads (no PFS). child_algs from ike_suite_resolve(..., IKE_SUITE_ESP, ...). */
int ike_child_keys_derive(const struct ike_prf_info *prf, struct ike_bytes sk_d,
			  const struct ike_algs *child_algs, struct ike_bytes g_ir,
			  struct ike_bytes ni, struct ike_bytes nr, struct ike_child_keys *out);
void ike_child_keys_wipe(struct ike_child_keys *k);

/* MACedIDForI/R = prf(SK_px, RestOfIDPayload) (2.15): prf->len octets into out. */
int ike_auth_id_mac(const struct ike_prf_info *prf, struct ike_bytes sk_p,
		    struct ike_bytes id_body, uint8_t *out);

/* Shared-key AUTH (2.15): prf(prf(secret, "Key Pad for IKEv2"), RealMessage | Nonce |
 * MACedID); the caller gives the three parts of the signed octets, unmodified (RealMessage
 * starts at the first SPI octet: no non-ESP marker). prf->len octets into auth. The secret
 * may be any length (2.15), also an EAP MSK. */
int ike_auth_psk(const struct ike_prf_info *prf, struct ike_bytes secret,
		 struct ike_bytes real_message, struct ike_bytes nonce, struct ike_bytes maced_id,
		 uint8_t *auth);

#endif
