/* IKEv2 / ESP transforms: the IANA numbers (RFC 7296 3.3.2), what each one needs (key, salt,
 * IV and ICV lengths) and which OpenSSL algorithm implements it.
 *
 * The same ENCR and INTEG transform IDs are used for the IKE SA (SK payload) and for ESP
 * Child SAs (RFC 7296 3.3.2; RFC 4106 8; RFC 7634 4), so the ESP code uses this table too.
 *
 * Only what this project implements is listed (RFC 8247 / RFC 8221 MUST and SHOULD):
 *   ENCR   AES-CBC (12, RFC 3602), AES-GCM with 16-octet ICV (20, RFC 4106 / RFC 5282),
 *          ChaCha20-Poly1305 (28, RFC 7634)
 *   PRF    HMAC-SHA2-256/384/512 (5, 6, 7; RFC 4868 2.4)
 *   INTEG  NONE (0), HMAC-SHA2-256-128/384-192/512-256 (12, 13, 14; RFC 4868 2.6)
 *   DH     MODP 2048 (14, RFC 3526 3), ECP 256/384 (19, 20, RFC 5903), Curve25519 (31, RFC 8031)
 *   ESN    none (0), ESN (1)
 *
 * A negotiated selection is a struct ike_suite (the IDs as they were on the wire);
 * ike_suite_resolve() checks the combination and turns it into a struct ike_algs with every
 * length a key derivation or a cipher context needs.
 */
#ifndef MM_IKE_TRANSFORM_H
#define MM_IKE_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Transform types (RFC 7296 3.3.2). */
enum ike_transform_type {
	IKE_TRANSFORM_ENCR = 1,
	IKE_TRANSFORM_PRF = 2,
	IKE_TRANSFORM_INTEG = 3,
	IKE_TRANSFORM_DH = 4,
	IKE_TRANSFORM_ESN = 5,
};

/* Transform Type 1, encryption algorithm IDs. */
enum ike_encr_id {
	IKE_ENCR_AES_CBC = 12,            /* RFC 3602; Key Length attribute required */
	IKE_ENCR_AES_GCM_16 = 20,         /* RFC 4106, RFC 5282; Key Length attribute required */
	IKE_ENCR_CHACHA20_POLY1305 = 28,  /* RFC 7634; fixed 256-bit key */
};

/* Transform Type 2, pseudorandom function IDs. */
enum ike_prf_id {
	IKE_PRF_HMAC_SHA2_256 = 5,
	IKE_PRF_HMAC_SHA2_384 = 6,
	IKE_PRF_HMAC_SHA2_512 = 7,
};

/* Transform Type 3, integrity algorithm IDs. */
enum ike_integ_id {
	IKE_INTEG_NONE = 0,
	IKE_INTEG_HMAC_SHA2_256_128 = 12,
	IKE_INTEG_HMAC_SHA2_384_192 = 13,
	IKE_INTEG_HMAC_SHA2_512_256 = 14,
};

/* Transform Type 4, Diffie-Hellman group numbers. */
enum ike_dh_id {
	IKE_DH_NONE = 0,
	IKE_DH_MODP_2048 = 14,   /* RFC 3526 3 */
	IKE_DH_ECP_256 = 19,     /* RFC 5903 */
	IKE_DH_ECP_384 = 20,     /* RFC 5903 */
	IKE_DH_CURVE25519 = 31,  /* RFC 8031 */
};

/* Transform Type 5, extended sequence numbers (ESP only). */
enum ike_esn_id {
	IKE_ESN_NONE = 0,
	IKE_ESN_YES = 1,
};

/* Transform attribute type Key Length, in bits (RFC 7296 3.3.5). */
#define IKE_ATTR_KEY_LENGTH 14

/* Upper bounds over every transform in the tables, for fixed-size buffers. */
#define IKE_PRF_MAX_LEN        64  /* HMAC-SHA2-512 output = preferred key length */
#define IKE_INTEG_MAX_KEY_LEN  64  /* HMAC-SHA2-512-256 key (RFC 4868 2.6) */
#define IKE_INTEG_MAX_ICV_LEN  32
#define IKE_ENCR_MAX_KEY_LEN   32  /* AES-256, ChaCha20 */
#define IKE_ENCR_MAX_SALT_LEN  4
#define IKE_ENCR_MAX_KEYMAT_LEN (IKE_ENCR_MAX_KEY_LEN + IKE_ENCR_MAX_SALT_LEN)
#define IKE_ENCR_MAX_IV_LEN    16
#define IKE_AEAD_ICV_LEN       16  /* RFC 5282 3.2 (GCM_16), RFC 7634 2 */
#define IKE_DH_MAX_PUBLIC_LEN  256 /* MODP 2048 */
#define IKE_DH_MAX_SHARED_LEN  256

struct ike_encr_info {
	uint16_t id;
	const char *name;            /* IANA name, for logs */
	bool aead;                   /* combined mode: no INTEG transform (RFC 5282 8) */
	bool key_attr;               /* Key Length attribute MUST be present (RFC 7296 3.3.5) */
	uint16_t fixed_key_bits;     /* key size when there is no attribute (ChaCha: 256) */
	uint8_t salt_len;            /* KEYMAT octets after the key (RFC 4106 8.1, RFC 7634 2) */
	uint8_t iv_len;              /* IV octets on the wire (RFC 5282 3.1, RFC 7634 2, RFC 3602 3) */
	uint8_t block_len;           /* alignment of payloads|padding|pad length (1: none) */
	uint8_t icv_len;             /* AEAD tag octets; 0 for CBC (the INTEG transform gives it) */
	const char *evp_128;         /* OpenSSL cipher for a 128-bit key (NULL: not allowed) */
	const char *evp_256;         /* OpenSSL cipher for a 256-bit key */
};

struct ike_prf_info {
	uint16_t id;
	const char *name;
	const char *digest;          /* OpenSSL digest name for EVP_MAC HMAC */
	uint8_t len;                 /* output = preferred key length (RFC 7296 2.13, RFC 4868 2.4) */
};

struct ike_integ_info {
	uint16_t id;
	const char *name;
	const char *digest;
	uint8_t key_len;             /* RFC 4868 2.6: key = full hash output */
	uint8_t icv_len;             /* truncated output (RFC 4868 2.6) */
};

enum ike_dh_kind {
	IKE_DH_KIND_MODP,
	IKE_DH_KIND_ECP,
	IKE_DH_KIND_ECX,
};

struct ike_dh_info {
	uint16_t id;
	const char *name;
	enum ike_dh_kind kind;
	const char *ossl_group;      /* OpenSSL group / curve / key type name */
	uint16_t public_len;         /* Key Exchange Data octets (RFC 7296 3.4, 5903 7, 8031 3.1) */
	uint16_t shared_len;         /* g^ir octets (modulus length / x coordinate / 32) */
};

/* Table lookups; NULL when the ID is not one we implement. */
const struct ike_encr_info *ike_encr_lookup(uint16_t id);
const struct ike_prf_info *ike_prf_lookup(uint16_t id);
/* IKE_INTEG_NONE has no entry: it returns NULL like an unknown ID. */
const struct ike_integ_info *ike_integ_lookup(uint16_t id);
const struct ike_dh_info *ike_dh_lookup(uint16_t id);

/* Name of a transform ID for logs ("AES_GCM_16", "unknown" for IDs not in the tables). */
const char *ike_transform_name(enum ike_transform_type type, uint16_t id);

/* A negotiated selection, as the transform IDs appeared in the chosen proposal. */
struct ike_suite {
	uint16_t encr;
	uint16_t encr_key_bits;      /* Key Length attribute; 0 = attribute absent */
	uint16_t integ;              /* IKE_INTEG_NONE when absent */
	uint16_t prf;                /* IKE SA only; 0 for ESP */
	uint16_t dh;                 /* IKE_DH_NONE when absent (ESP without PFS) */
	uint16_t esn;                /* ESP only; IKE_ESN_NONE for the IKE SA */
};

enum ike_suite_use {
	IKE_SUITE_IKE,               /* IKE SA: ENCR, PRF, DH required; INTEG unless AEAD; no ESN */
	IKE_SUITE_ESP,               /* ESP Child SA: ENCR; INTEG unless AEAD; no PRF; DH optional */
};

/* A checked selection with every length resolved. */
struct ike_algs {
	const struct ike_encr_info *encr;
	const struct ike_integ_info *integ;  /* NULL for AEADs */
	const struct ike_prf_info *prf;      /* NULL for ESP */
	const struct ike_dh_info *dh;        /* NULL when no DH (ESP without PFS) */
	bool esn;
	const char *cipher;          /* OpenSSL cipher name for the chosen key size */
	size_t encr_key_len;         /* cipher key octets */
	size_t encr_keymat_len;      /* key + salt: the SK_e / ESP encryption key length */
	size_t integ_key_len;        /* SK_a / ESP integrity key length; 0 for AEADs */
	size_t icv_len;              /* AEAD tag or truncated HMAC length */
	size_t iv_len;
	size_t block_len;
};

/* Check a selection and resolve it (RFC 7296 3.3.2-3.3.5, RFC 5282 8, RFC 7634 4):
 *  - every ID present must be in our tables                              else -ENOTSUP
 *  - AES needs Key Length 128 or 256; ChaCha20 takes no Key Length       else -EINVAL
 *  - AEAD => INTEG NONE; CBC => an INTEG transform                       else -EINVAL
 *  - IKE: PRF and DH required, ESN absent; ESP: PRF absent              else -EINVAL
 * *out is written only on success. */
int ike_suite_resolve(const struct ike_suite *suite, enum ike_suite_use use, struct ike_algs *out);

#endif
