/* Mobile IPv4 authentication extensions: Mobile-Home (32), Mobile-Foreign (33) and
 * Foreign-Home (34), RFC 5944 §3.5.2-§3.5.4.
 *
 * Every one of them has the same layout (simple TLV format, §1.9):
 *
 *	Type (1) | Length (1) = 4 + authenticator length | SPI (4) | Authenticator (Length - 4)
 *
 * and the same protected region (§3.5.1): the UDP payload from the first byte of the
 * Registration Request or Reply, through all prior extensions, up to and including the Type,
 * Length and SPI of this extension. The region therefore ends exactly where the
 * Authenticator starts, which is all a verifier needs: no re-encoding, just an offset into
 * the received bytes.
 *
 * The only algorithm is the mandatory default, HMAC-MD5 with a 128-bit output (§3.5.1, §5.1).
 * Keys are selected by SPI through a caller-supplied lookup (§3.2: a Mobility Security
 * Association is indexed by SPI and peer address; the caller's context carries the address).
 * Authenticators are compared in constant time and key copies are wiped after use.
 *
 * Errors: -EINVAL (bad argument), -ENOSPC (writer too small), -ENOENT (no key for the SPI),
 * -EACCES (authenticator does not verify), -EIO (the crypto library failed).
 */
#ifndef MM_MIP4_AUTH_H
#define MM_MIP4_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Extension types (RFC 5944 §3.5.2-§3.5.4, §6.3). */
#define MIP4_EXT_MN_HA_AUTH 32
#define MIP4_EXT_MN_FA_AUTH 33
#define MIP4_EXT_FA_HA_AUTH 34

/* Bytes before the Authenticator: Type, Length, SPI. */
#define MIP4_AUTH_HDR_LEN 6
/* HMAC-MD5 output length (RFC 2104 §2, RFC 5944 §3.5.1). */
#define MIP4_HMAC_MD5_LEN 16
/* Shortest Authenticator a parser accepts: every algorithm we know has at least 128 bits. */
#define MIP4_AUTH_MIN_LEN MIP4_HMAC_MD5_LEN
/* A key longer than the HMAC block size is hashed down first (RFC 2104 §2); there is no
 * point in accepting more. RFC 5944 §5.1 requires 128 bits; any binary value is allowed. */
#define MIP4_KEY_MAX 64
/* SPI values 0-255 are reserved and never name a security association (RFC 5944 §1.6). */
#define MIP4_SPI_MIN 256

enum mip4_auth_alg {
	MIP4_AUTH_HMAC_MD5 = 1, /* RFC 5944 §5.1 default, RFC 2104 */
};

/* One security context of a Mobility Security Association (RFC 5944 §1.6). Wipe it with
 * mip4_key_wipe() when done. */
struct mip4_key {
	uint32_t spi;
	enum mip4_auth_alg alg;
	size_t len;
	uint8_t key[MIP4_KEY_MAX];
};

/* Where an authentication extension sits in a received message (filled by the codec in
 * reg.h). All offsets are from the first byte of the UDP payload. */
struct mip4_auth_ext {
	bool present;
	uint8_t type;        /* MIP4_EXT_*_AUTH */
	uint32_t spi;
	size_t ext_off;      /* offset of the Type byte */
	size_t auth_off;     /* offset of the Authenticator = length of the protected region */
	size_t auth_len;     /* length of the Authenticator (extension Length - 4) */
};

/* Look up the key for (ext_type, spi). Fill *out and return 0, or return -ENOENT.
 * ctx is the caller's (e.g. the SA table plus the home address the request names). */
typedef int (*mip4_key_lookup_fn)(void *ctx, uint8_t ext_type, uint32_t spi,
				  struct mip4_key *out);

/* Fill *key (returns -EINVAL for an empty or too long key or a reserved SPI). */
int mip4_key_set(struct mip4_key *key, uint32_t spi, const void *secret, size_t len);
/* Wipe the key material (OPENSSL_cleanse) and the rest of the struct. */
void mip4_key_wipe(struct mip4_key *key);

/* HMAC-MD5 (RFC 2104) of data under key into out[16]. key_len may be 0..any. */
int mip4_hmac_md5(const void *key, size_t key_len, const void *data, size_t len,
		  uint8_t out[MIP4_HMAC_MD5_LEN]);

/* Authenticator length that key's algorithm produces (16 for HMAC-MD5), or 0 if unknown. */
size_t mip4_auth_len(const struct mip4_key *key);

/* Append an authentication extension of the given type to w: Type, Length, SPI from key,
 * then the Authenticator computed in place over the bytes written since msg_start (the
 * offset in w of the Registration Request/Reply's Type byte). Nothing is written on
 * failure (the room is checked first). */
int mip4_auth_append(struct writer *w, size_t msg_start, uint8_t type,
		     const struct mip4_key *key);

/* Verify ext (as located by the parser in msg[0..len)) with key. Returns 0, -EACCES if the
 * authenticator is wrong (or has the wrong length for the algorithm), -ENOENT if key->spi
 * differs from ext->spi, -EINVAL if ext does not lie inside msg. */
int mip4_auth_verify_key(const void *msg, size_t len, const struct mip4_auth_ext *ext,
			 const struct mip4_key *key);

/* Same, with the key found by lookup(ctx, ext->type, ext->spi). Reserved SPIs (< 256) and
 * SPIs the lookup does not know give -ENOENT. The key copy is wiped before returning. */
int mip4_auth_verify(const void *msg, size_t len, const struct mip4_auth_ext *ext,
		     mip4_key_lookup_fn lookup, void *ctx);

#endif
