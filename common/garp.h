/* Gratuitous ARP (RFC 5944 §4.6): an ARP Request (RFC 826) whose sender and target protocol
 * addresses are both the address being announced and whose sender hardware address is the
 * one the link should use for it, sent as a link-layer broadcast so that every node on the
 * link (re)maps the address.
 *
 * The home agent sends one with its own MAC for a home address when a mobile node leaves
 * home (the binding is created), and one with the mobile node's MAC when it comes back
 * (deregistration); the mobile node, back on its home link, sends one with its own MAC for
 * its home address before deregistering. Each is repeated a few times by the caller (§4.6:
 * "SHOULD be retransmitted a small number of times"). Nothing here logs; failures are -errno.
 */
#ifndef MM_COMMON_GARP_H
#define MM_COMMON_GARP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define GARP_LEN 28   /* ARP for IPv4 over Ethernet (RFC 826), no Ethernet header */

/* Encode the gratuitous ARP Request for ip at mac into w. Returns GARP_LEN, or -ENOSPC with
 * nothing written when w has less than GARP_LEN bytes of room. */
int garp_encode(struct writer *w, struct in_addr ip, const uint8_t mac[6]);

/* An AF_PACKET datagram socket for sending ARP on ifindex (send-only, non-blocking,
 * close-on-exec; the kernel adds the Ethernet header). Needs CAP_NET_RAW. */
int garp_open(int ifindex);

/* Broadcast the gratuitous ARP for ip at mac on ifindex through fd (from garp_open). */
int garp_send(int fd, int ifindex, struct in_addr ip, const uint8_t mac[6]);

/* One-shot: broadcast the gratuitous ARP for ip at ifname's own hardware address out of
 * ifname (which must be Ethernet-like: -EOPNOTSUPP otherwise). Opens and closes its own
 * socket. */
int garp_announce(const char *ifname, struct in_addr ip);

#endif
