/* Gratuitous ARP on the home link (RFC 5944 §4.6): an ARP Request whose sender and target
 * protocol addresses are both the address being announced and whose sender hardware address
 * is the one the home link should use for it, sent as a link-layer broadcast.
 *
 * The home agent sends one with its own MAC for a home address when a mobile node leaves
 * home (the binding is created), and one with the mobile node's MAC when it comes back
 * (deregistration), each repeated a few times (§4.6: "SHOULD be retransmitted a small number
 * of times"). Nothing here logs; failures are -errno.
 */
#ifndef MM_HA_GARP_H
#define MM_HA_GARP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define GARP_LEN 28   /* ARP for IPv4 over Ethernet (RFC 826) */

/* Encode the gratuitous ARP Request for ip at mac into w. Returns GARP_LEN or -ENOSPC. */
int garp_encode(struct writer *w, struct in_addr ip, const uint8_t mac[6]);

/* An AF_PACKET socket for ARP on ifindex (non-blocking, close-on-exec). Needs CAP_NET_RAW. */
int garp_open(int ifindex);

/* Broadcast the gratuitous ARP for ip at mac on ifindex through fd. */
int garp_send(int fd, int ifindex, struct in_addr ip, const uint8_t mac[6]);

#endif
