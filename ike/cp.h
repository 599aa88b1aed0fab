/* Configuration payload for remote access (RFC 7296 2.19, 3.15): the initiator asks for an
 * inner IPv4 address and DNS servers in IKE_AUTH (CFG_REQUEST with empty
 * INTERNAL_IP4_ADDRESS and INTERNAL_IP4_DNS, 3.15.1: "zero-length ... a request"), the
 * responder answers with CFG_REPLY holding what it assigned. Failure to assign is not a CP
 * matter: the responder sends INTERNAL_ADDRESS_FAILURE instead (3.15.4).
 */
#ifndef MM_IKE_CP_H
#define MM_IKE_CP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "ike/payload.h"

#define IKE_CP_MAX_DNS 2

/* What a CFG_REQUEST asks for. */
struct ike_cp_want {
	bool addr;
	bool dns;
};

/* Initiator: CP(CFG_REQUEST) { INTERNAL_IP4_ADDRESS, INTERNAL_IP4_DNS }. */
int ike_cp_add_request(struct ike_builder *b);
/* Responder: read a CP payload; -ENOMSG if it is not a CFG_REQUEST. */
int ike_cp_read_request(const struct ike_cp *cp, struct ike_cp_want *out);
/* Responder: CP(CFG_REPLY) { INTERNAL_IP4_ADDRESS addr, INTERNAL_IP4_DNS dns[i]... }. */
int ike_cp_add_reply(struct ike_builder *b, struct in_addr addr, const struct in_addr *dns,
		     size_t ndns);
/* Initiator: read a CFG_REPLY: the first INTERNAL_IP4_ADDRESS (-ENOENT when absent) and up
 * to IKE_CP_MAX_DNS servers; -ENOMSG if it is not a CFG_REPLY. */
int ike_cp_read_reply(const struct ike_cp *cp, struct in_addr *addr, struct in_addr *dns,
		      size_t *ndns);

#endif
