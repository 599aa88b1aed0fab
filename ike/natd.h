/* NAT detection (RFC 7296 2.23): the data of NAT_DETECTION_SOURCE_IP and
 * NAT_DETECTION_DESTINATION_IP,
 *	SHA-1(SPIi | SPIr | IP address | port)
 * with the SPIs as they appear in the message's header (SPIr zero in an IKE_SA_INIT request),
 * the address and port in network order. A received hash that does not match the address
 * the datagram actually came from (source) or went to (destination) means a NAT rewrote it.
 */
#ifndef MM_IKE_NATD_H
#define MM_IKE_NATD_H

#include <stdbool.h>
#include <stdint.h>

#include "ike/engine.h"
#include "ike/payload.h"

/* hash = SHA-1(SPIi | SPIr | ep->addr | ep->port). Returns 0 or -EIO. */
int ike_natd_hash(uint64_t spi_i, uint64_t spi_r, const struct ike_endpoint *ep,
		  uint8_t hash[IKE_NAT_DETECTION_LEN]);

/* Does a received hash match ep? (constant time; false on any failure) */
bool ike_natd_match(uint64_t spi_i, uint64_t spi_r, const struct ike_endpoint *ep,
		    const uint8_t hash[IKE_NAT_DETECTION_LEN]);

#endif
