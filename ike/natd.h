/* NAT detection (RFC 7296 2.23): the data of NAT_DETECTION_SOURCE_IP and
 * NAT_DETECTION_DESTINATION_IP,
 *	SHA-1(SPIi | SPIr | IP address | port)
 * with the SPIs as they appear in the message's header (SPIr zero in an IKE_SA_INIT request),
 * the address and port in network order. A received hash that does not match the address
 * the datagram actually came from (source) or went to (destination) means a NAT rewrote it.
 * Used in IKE_SA_INIT (sa_init.c) and, with MOBIKE, in INFORMATIONAL exchanges (RFC 4555
 * 3.5, 3.8: mobike.c).
 */
#ifndef MM_IKE_NATD_H
#define MM_IKE_NATD_H

#include <stdbool.h>
#include <stdint.h>

#include "ike/engine.h"
#include "ike/msg.h"
#include "ike/payload.h"

/* hash = SHA-1(SPIi | SPIr | ep->addr | ep->port). Returns 0 or -EIO. */
int ike_natd_hash(uint64_t spi_i, uint64_t spi_r, const struct ike_endpoint *ep,
		  uint8_t hash[IKE_NAT_DETECTION_LEN]);

/* Does a received hash match ep? (constant time; false on any failure) */
bool ike_natd_match(uint64_t spi_i, uint64_t spi_r, const struct ike_endpoint *ep,
		    const uint8_t hash[IKE_NAT_DETECTION_LEN]);

/* Append N(NAT_DETECTION_SOURCE_IP) for src and N(NAT_DETECTION_DESTINATION_IP) for dst. */
int ike_natd_add(struct ike_builder *b, uint64_t spi_i, uint64_t spi_r,
		 const struct ike_endpoint *src, const struct ike_endpoint *dst);

/* What the NAT_DETECTION_* notifies of a received chain say (2.23): nat_remote when no
 * NAT_DETECTION_SOURCE_IP matches where the message came from, nat_local when no
 * NAT_DETECTION_DESTINATION_IP matches where it arrived. No notifies at all: the sender
 * does not do NAT-T, no NAT assumed (*present false). dst_hash (may be NULL) gets the first
 * NAT_DETECTION_DESTINATION_IP (RFC 4555 3.8 compares it with an earlier one). Returns 0 or
 * -EBADMSG (a Notify that does not decode). */
int ike_natd_detect(const struct ike_chain *pl, uint64_t spi_i, uint64_t spi_r,
		    const struct ike_endpoint *from, const struct ike_endpoint *to,
		    bool *nat_local, bool *nat_remote, bool *present,
		    uint8_t dst_hash[IKE_NAT_DETECTION_LEN]);

#endif
