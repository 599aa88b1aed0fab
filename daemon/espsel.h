/* Traffic selectors against inner packets (RFC 7296 3.13.1, RFC 4301 4.4.1.1, 5.2).
 *
 * The data path checks every packet against the Child SA's narrowed selectors: inbound, the
 * decapsulated packet's source must lie in the peer's selectors (TSi for us as responder)
 * and its destination in ours; outbound, the destination picks the SA and the source must lie
 * in our selectors. A selector is an address range, an IP protocol (0: any) and a port range;
 * for ICMP the "port" is Type * 256 + Code (RFC 7296 3.13.1). Non-initial fragments carry
 * no ports: they match only selectors with the full port range (RFC 4301 7: OPAQUE).
 */
#ifndef MM_DAEMON_ESPSEL_H
#define MM_DAEMON_ESPSEL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/engine.h"

/* What selectors look at in an IPv4 packet. */
struct sel_pkt {
	struct in_addr src, dst;
	uint8_t proto;
	bool has_ports;              /* first fragment of TCP/UDP/SCTP/ICMP with the header */
	uint16_t sport, dport;       /* ICMP: both Type << 8 | Code */
	uint8_t ttl;
};

/* Parse the IPv4 header of an inner packet of exactly len bytes (through the reader):
 * version 4, IHL >= 5, Total Length == len. -EBADMSG otherwise. */
int sel_parse(const void *pkt, size_t len, struct sel_pkt *out);

/* Does a selector of l cover addr, p's protocol and port? addr and port are the packet's
 * address and port on the side l describes (source address and source port for the list
 * of the side the packet comes from). */
bool sel_match(const struct ike_ts4_list *l, struct in_addr addr, const struct sel_pkt *p,
	       uint16_t port);

/* Inbound (decapsulated) packet: src in remote, dst in local. */
bool sel_inbound_ok(const struct ike_ts4_list *local, const struct ike_ts4_list *remote,
		    const struct sel_pkt *p);
/* Outbound packet: dst in remote, src in local. */
bool sel_outbound_ok(const struct ike_ts4_list *local, const struct ike_ts4_list *remote,
		     const struct sel_pkt *p);

#endif
