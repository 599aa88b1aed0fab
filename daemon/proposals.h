/* strongSwan-style proposal strings for the configuration files of vpngw and mnd.
 *
 * A list is comma-separated proposals; a proposal is dash-separated algorithm names:
 *
 *	ike = aes128gcm16-prfsha256-x25519, aes256gcm16-prfsha384-ecp384
 *	ike = aes128-sha256-modp2048        (AES-CBC, HMAC-SHA2-256-128, PRF from the
 *	                                     integrity algorithm: HMAC-SHA2-256)
 *	esp = aes128gcm16, aes256gcm16-x25519 (PFS on rekey), chacha20poly1305, aes128-sha256-esn
 *
 * Names (RFC 7296 3.3.2 transform IDs; RFC 8247 / RFC 8221 for what is implemented):
 *	encryption  aes128 aes256 (AES-CBC, RFC 3602); aes128gcm16 aes256gcm16 (also written
 *	            aes128gcm, aes128gcm128, ...: AES-GCM with a 16-octet ICV, RFC 4106 /
 *	            RFC 5282); chacha20poly1305 (RFC 7634)
 *	integrity   sha256 sha384 sha512 (also sha2_256 ...: HMAC-SHA2-256-128, -384-192,
 *	            -512-256, RFC 4868); ESP takes sha256 only (esp/esp_sa.h)
 *	PRF         prfsha256 prfsha384 prfsha512 (IKE only)
 *	DH          modp2048 (14), ecp256 (19), ecp384 (20), x25519 or curve25519 (31)
 *	ESN         esn, noesn (ESP only; default noesn)
 * A proposal may name several algorithms of one kind ("aes128gcm16-aes256gcm16-prfsha256-
 * x25519-ecp256"): it stands for every combination, in the order written (encryption varies
 * slowest), as strongSwan reads it. Without a PRF, an AES-CBC IKE proposal uses the PRF of
 * its integrity algorithm (strongSwan does the same); an AEAD IKE proposal must name one.
 *
 * Rules checked (each failure is one message naming the token or the proposal):
 * an encryption algorithm is required; AEAD and non-AEAD encryption do not mix in one
 * proposal; AEADs take no integrity algorithm, AES-CBC needs one; IKE needs a DH group and
 * takes no ESN; ESP takes no PRF; no name twice in one proposal; at most
 * IKE_CFG_MAX_SUITES combinations in all.
 */
#ifndef MM_DAEMON_PROPOSALS_H
#define MM_DAEMON_PROPOSALS_H

#include <stddef.h>

#include "ike/engine.h"
#include "ike/transform.h"

/* Parse text into out (suites in preference order). On error returns -EINVAL, writes one
 * message into err (NUL-terminated, truncated to err_size; err may be NULL), e.g.
 *	unknown algorithm "aes129" in proposal "aes129-sha256-modp2048"
 * and leaves *out untouched. */
int proposals_parse(const char *text, enum ike_suite_use use, struct ike_proposals *out,
		    char *err, size_t err_size);

/* The suite as a proposal string ("aes128gcm16-prfsha256-x25519", "aes128-sha256-esn";
 * ESP suites omit "noesn"), for logs and gwctl. Unknown IDs print as "encr99" etc. Returns
 * buf (always NUL-terminated). */
const char *proposals_format(const struct ike_suite *s, enum ike_suite_use use, char *buf,
			     size_t size);

#endif
