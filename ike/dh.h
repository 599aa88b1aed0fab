/* Ephemeral Diffie-Hellman for IKEv2 KE payloads (RFC 7296 1.2, 2.14, 3.4) over OpenSSL 3 EVP:
 *
 *   group  public value (Key Exchange Data)              shared secret g^ir
 *   14     y, big-endian, left-padded to 256 octets       g^xy, left-padded to 256 octets
 *          (RFC 7296 3.4, RFC 3526 3)                     (RFC 7296 2.14)
 *   19/20  x | y, each left-padded to 32/48 octets,       x coordinate of the common point,
 *          no 0x04 prefix (RFC 5903 7)                    32/48 octets (RFC 5903 7)
 *   31     32 octets, RFC 7748 encoding (RFC 8031 3.1)    32 octets; all-zero output is refused
 *                                                         (RFC 8031 2.1 via RFC 7748 6.1)
 *
 * Peer public values are checked before use (RFC 6989 2.1, 2.3): exact length; MODP
 * 1 < y < p-1; ECP coordinates below p and the point on the curve (the point at infinity
 * cannot even be encoded, RFC 6989 2.3). Private values are never reused: each struct ike_dh
 * is generated fresh (RFC 6989 2.2 second option) and freed with its key wiped by OpenSSL.
 *
 * Errors: -ENOTSUP unknown group, -EINVAL bad peer value (RFC 6989 2.5: drop the message /
 * INVALID_SYNTAX), -ENOSPC output too small, -ENOMEM / -EIO OpenSSL failure.
 */
#ifndef MM_IKE_DH_H
#define MM_IKE_DH_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "ike/transform.h"

struct ike_dh;

/* Generate a fresh key pair for group (an enum ike_dh_id). */
int ike_dh_new(uint16_t group, struct ike_dh **out);

/* Key pair from a given private value, for known-answer tests (RFC 5903 8) only: never use a
 * chosen private value on the wire. priv is big-endian for MODP / ECP (any length up to the
 * group size) and the 32-octet RFC 7748 scalar for Curve25519. */
int ike_dh_new_from_private(uint16_t group, const uint8_t *priv, size_t priv_len,
			    struct ike_dh **out);

/* Free the key (the private value is cleansed by OpenSSL). NULL is fine. */
void ike_dh_free(struct ike_dh *dh);

const struct ike_dh_info *ike_dh_group(const struct ike_dh *dh);

/* Append our public value, exactly ike_dh_group(dh)->public_len octets, to w. Returns 0 or
 * -ENOSPC (w is then failed). */
int ike_dh_write_public(const struct ike_dh *dh, struct writer *w);

/* RFC 6989 checks of a peer public value for group. Returns 0 or -EINVAL (or -ENOTSUP). */
int ike_dh_check_peer(uint16_t group, const uint8_t *pub, size_t pub_len);

/* g^ir from our key and the peer public value (checked with ike_dh_check_peer first).
 * Writes exactly ike_dh_group(dh)->shared_len octets to out (out_cap must be at least that)
 * and sets *out_len. The caller wipes out after use (OPENSSL_cleanse). */
int ike_dh_compute(const struct ike_dh *dh, const uint8_t *peer, size_t peer_len,
		   uint8_t *out, size_t out_cap, size_t *out_len);

#endif
