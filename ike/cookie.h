/* Stateless cookies for IKE_SA_INIT (RFC 7296 2.6):
 *
 *	Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
 *
 * with a one-octet version and SHA-256, 33 octets. The secret is replaced every
 * IKE_COOKIE_ROTATE; a cookie made with the previous secret is still accepted (2.6: "the
 * responder should remember ... the previous secret"), so an initiator that got its cookie
 * just before a rotation still gets in. Nothing else is kept per initiator: the cookie is
 * recomputed from the retried request. No I/O; the engine supplies the secrets (its random
 * op) and the time.
 */
#ifndef MM_IKE_COOKIE_H
#define MM_IKE_COOKIE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"

#define IKE_COOKIE_LEN      33            /* version (1) | SHA-256 (32) */
#define IKE_COOKIE_SECRET   32
#define IKE_COOKIE_ROTATE   MM_SEC(120)

struct ike_cookie_state {
	bool ready;                          /* a secret is set */
	bool have_prev;
	uint8_t version, prev_version;
	uint8_t secret[IKE_COOKIE_SECRET];
	uint8_t prev[IKE_COOKIE_SECRET];
	mm_time_ns rotated_at;
};

/* Does the state need a new secret (none yet, or the current one is older than
 * IKE_COOKIE_ROTATE)? */
bool ike_cookie_due(const struct ike_cookie_state *s, mm_time_ns now);
/* Install a new secret (IKE_COOKIE_SECRET random octets); the current one becomes the
 * previous one. */
void ike_cookie_rotate(struct ike_cookie_state *s, const uint8_t secret[IKE_COOKIE_SECRET],
		       mm_time_ns now);
/* The cookie for (Ni, IPi, SPIi) under the current secret. Returns 0, -EINVAL (no secret),
 * or -EIO. */
int ike_cookie_make(const struct ike_cookie_state *s, const uint8_t *ni, size_t ni_len,
		    struct in_addr ip, uint64_t spi_i, uint8_t out[IKE_COOKIE_LEN]);
/* Is cookie what we would have sent for (Ni, IPi, SPIi) with the current or the previous
 * secret? Constant-time compare. */
bool ike_cookie_check(const struct ike_cookie_state *s, const uint8_t *cookie, size_t len,
		      const uint8_t *ni, size_t ni_len, struct in_addr ip, uint64_t spi_i);
/* Wipe the secrets. */
void ike_cookie_clear(struct ike_cookie_state *s);

#endif
