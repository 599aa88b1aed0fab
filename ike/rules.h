/* IKEv2 message codec, stage 3 of 3: which payloads each message of each exchange may carry,
 * how many, and whether inside the Encrypted payload (RFC 7296 1.2-1.5, 2.16, 3; RFC 7383 2.5).
 *
 * The rules are a table (rules.c), not code: for each exchange, request or response, one or
 * more "shapes" (the IKE_AUTH request has three: the first one, an EAP round, the AUTH after
 * EAP, 2.16); each shape lists per payload type a minimum and maximum count and where it must
 * be (in the clear or inside SK), plus groups of payload types that come all together or not
 * at all (SA, TSi, TSr in IKE_AUTH). A message passes if it fits any shape of its exchange and
 * direction; payload types a shape does not list may not appear. N and V are allowed in every
 * message (3.10.1: status notifies "MAY be added to any message"; 3.12: V "may be sent as
 * part of any message"). Stage 1 has already dropped unknown non-critical payloads.
 *
 * IKE_SA_INIT is all in the clear and may not carry SK. The other exchanges carry everything
 * inside SK (or SKF, RFC 7383 2.5), which is the only payload in the clear (1.2, 3.14).
 * Informational messages outside an IKE SA (1.5) are not covered: the engine reads them
 * directly (they are hints, never answered).
 */
#ifndef MM_IKE_RULES_H
#define MM_IKE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/msg.h"

enum ike_rule_kind {
	IKE_RULE_OK = 0,
	IKE_RULE_UNKNOWN_EXCHANGE,   /* no table for this exchange type */
	IKE_RULE_TOO_FEW,            /* fewer than min of payload_type */
	IKE_RULE_TOO_MANY,           /* more than max (max 0: not allowed in this message) */
	IKE_RULE_MUST_BE_ENCRYPTED,  /* payload_type found in the clear */
	IKE_RULE_MUST_BE_CLEAR,      /* payload_type found inside SK */
	IKE_RULE_NOT_TOGETHER,       /* payload_type present without its group (or vice versa) */
};

/* The rule a message broke, for one log line (ike_rule_describe()) and the answer. */
struct ike_rule_result {
	enum ike_rule_kind kind;
	const char *shape;           /* "IKE_AUTH request", "IKE_SA_INIT response (error)", ... */
	uint8_t payload_type;
	uint8_t min, max;            /* the count rule; max 255 means no limit */
	uint8_t count;               /* how many were found where it counts */
	uint16_t notify;             /* IKE_N_INVALID_SYNTAX to answer with, or 0: drop */
};

#define IKE_RULE_ANY 255

/* Check message m (stage 1 output).
 *  - inner == NULL: before decryption. IKE_SA_INIT is checked fully; for the encrypted
 *    exchanges only the clear part (exactly one SK or SKF, nothing else), which is cheap and
 *    lets the caller drop junk before spending crypto on it.
 *  - inner != NULL: the decrypted inner chain (ike_chain_parse()), after the ICV verified:
 *    the full check.
 * Returns 0 if the message fits, -EBADMSG with *res describing the first broken rule of the
 * shape it came closest to (fewest broken rules), or -EOPNOTSUPP for an exchange type without
 * a table. res->notify is INVALID_SYNTAX only for a request whose inner chain was checked: it
 * "may only be returned for and in an encrypted packet if the Message ID and cryptographic
 * checksum were valid" (3.10.1); responses are never answered (2.21). */
int ike_rules_check(const struct ike_msg *m, const struct ike_chain *inner,
		    struct ike_rule_result *res);

/* "IKE_AUTH request: AUTH: 2 found, at most 1 allowed" into buf (always NUL-terminated when
 * size > 0); returns buf. */
const char *ike_rule_describe(const struct ike_rule_result *res, char *buf, size_t size);

#endif
