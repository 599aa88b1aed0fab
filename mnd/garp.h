/* Gratuitous ARP (RFC 5944 §4.6): back on its home link, the mobile node broadcasts an ARP
 * Request whose sender and target protocol addresses are both its home address and whose
 * sender hardware address is its own, so that every node on the link (and the home agent,
 * which was answering for it with proxy ARP) maps the home address to the mobile node
 * again. Nothing here logs; -errno on failure. */
#ifndef MM_MND_GARP_H
#define MM_MND_GARP_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "common/buf.h"

#define GARP_LEN 28 /* ARP for IPv4 over Ethernet (RFC 826) */

/* Encode the ARP Request (no Ethernet header) into w. Returns GARP_LEN or -ENOSPC. */
int garp_encode(struct writer *w, const uint8_t mac[6], struct in_addr addr);

/* Broadcast one gratuitous ARP for addr out of ifname (an Ethernet-like interface). */
int garp_send(const char *ifname, struct in_addr addr);

#endif
