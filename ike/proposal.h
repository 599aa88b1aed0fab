/* Proposals (RFC 7296 2.7, 3.3): our configured suites as an SA offer, the responder's
 * choice among the peer's offer, and the initiator's check of the choice it got back.
 *
 * A struct ike_suite is one combination of transforms. An offer carries one proposal per
 * suite, numbered 1, 2, ... (3.3.1). A peer's proposal may list several transforms of each
 * type; it "matches" a suite when it contains each transform of the suite (3.3.6). The
 * responder takes the FIRST OF ITS OWN suites that some proposal of the peer matches (2.7:
 * the responder chooses; we prefer our order), answers with that proposal's number and one
 * transform of each type.
 *
 * DH handling by context (with_dh):
 *  - IKE SA (IKE_SA_INIT, IKE rekey): DH always part of the suite.
 *  - ESP in IKE_AUTH: no KE in that exchange, so DH is left out of the offer and ignored in
 *    the peer's (RFC 7296 1.2, strongSwan does the same); with_dh false.
 *  - ESP in CREATE_CHILD_SA: the suite's DH (PFS) must match, NONE meaning no DH transform
 *    (or a DH transform NONE) in the peer's proposal; with_dh true.
 * Transforms with attributes we do not understand are unacceptable (3.3.6).
 *
 * Errors: -ENOENT nothing matches (NO_PROPOSAL_CHOSEN), -EBADMSG a choice that is not one of
 * ours, -E2BIG too many suites, -EINVAL bad arguments.
 */
#ifndef MM_IKE_PROPOSAL_H
#define MM_IKE_PROPOSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/engine.h"
#include "ike/payload.h"
#include "ike/transform.h"

/* Offer every suite of ours (3.3): protocol IKE or ESP by use, spi of spi_len octets in each
 * proposal (0 for the first IKE SA, 8 for an IKE rekey, 4 for ESP). */
int ike_proposal_offer(const struct ike_proposals *ours, enum ike_suite_use use, bool with_dh,
		       const uint8_t *spi, size_t spi_len, struct ike_sa_payload *out);

/* Responder: the first of our suites some proposal of the offer matches. *chosen gets the
 * suite (dh cleared when !with_dh), *prop (may be NULL) the peer's matching proposal. */
int ike_proposal_select(const struct ike_proposals *ours, enum ike_suite_use use, bool with_dh,
			const struct ike_sa_payload *offer, struct ike_suite *chosen,
			const struct ike_proposal **prop);

/* Responder: the one-proposal answer for suite s, numbered as the peer's proposal, with our
 * spi. */
int ike_proposal_choice(const struct ike_suite *s, enum ike_suite_use use, bool with_dh,
			uint8_t num, const uint8_t *spi, size_t spi_len,
			struct ike_sa_payload *out);

/* Initiator: the responder's choice as a suite, refused unless it is one we offered. */
int ike_proposal_accept(const struct ike_proposals *ours, enum ike_suite_use use, bool with_dh,
			const struct ike_sa_payload *choice, struct ike_suite *out);

/* Is a DH group one of our suites' groups? */
bool ike_proposal_has_group(const struct ike_proposals *ours, uint16_t group);

#endif
