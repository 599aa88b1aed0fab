/* Agent discovery for the mobile node (RFC 5944 2.4; RFC 1256 host side), per access
 * interface, on the GLib main loop. The decisions are policy/agent.h's; this file does the
 * I/O:
 *
 *  - Hearing advertisements: an AF_PACKET socket (SOCK_DGRAM, ETH_P_IP) bound to the
 *    interface with a classic BPF filter that passes only unfragmented ICMP Router
 *    Advertisements (type 9). Not a raw IP socket: the interface may have no address yet
 *    (RFC 5266 3.2: discovery runs at the same time as DHCP), and without an address or a
 *    route back the IP layer drops the advertisement (reverse path filter) before a raw
 *    socket sees it. Frames we sent ourselves and frames for other hosts are ignored; the
 *    IP header (version, length, checksum, protocol, no fragment, a unicast source) and the
 *    message are checked by the codec (mip4_adv_frame_parse, fuzzed with the advertisement
 *    parser); anything malformed is dropped with a rate-limited line (daemon/droplog.h) and
 *    counted, never a crash.
 *  - Sending Agent Solicitations (RFC 5944 2.2: an ICMP Router Solicitation with IP TTL 1)
 *    to 224.0.0.2 (RFC 1256 3: the all-routers address, the default SolicitationAddress)
 *    on the same packet socket, with an IP header of our own whose source is the
 *    interface's address, or 0.0.0.0 before DHCP (RFC 1256 3). Not through the IP layer:
 *    for an interface without an address it picks another interface's, which on a mobile
 *    node is the home address (and the fail-closed filter rightly refuses that). At most
 *    three per attachment, 1 s apart, started by agentdisc_link_up() (policy/agent.h).
 *  - The agent's lifetime expiry on a timer (mnd/timer.h).
 *
 * Every event of the tracker (policy/agent.h: NEW, SAME, REBOOTED, LOST) is passed to the
 * callback with the interface name and the agent. The callback may call
 * agentdisc_link_down() / agentdisc_link_up() (also for the interface it is told about), but
 * not agentdisc_free().
 */
#ifndef MM_MND_AGENTDISC_H
#define MM_MND_AGENTDISC_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/agent.h"

/* RFC 1256 3: where solicitations go (the all-routers group). */
#define AGENTDISC_SOLICIT_ADDR "224.0.0.2"

typedef void (*agentdisc_cb)(void *ctx, const char *ifname, enum agent_event ev,
			     const struct policy_agent *a);

struct agentdisc_stats {
	uint64_t frames;            /* frames the filter passed */
	uint64_t adverts;           /* valid Agent Advertisements handed to the tracker */
	uint64_t not_agent;         /* plain Router Advertisements (no mobility extension) */
	uint64_t malformed;         /* bad IP header or bad advertisement */
	uint64_t solicitations;     /* sent */
	uint64_t send_errors;
	uint64_t log_suppressed;    /* drop lines held back by the rate limit */
};

struct agentdisc;

/* A discoverer with no interfaces. cb is called for every tracker event (NULL: none).
 * cfg NULL: the tracker's defaults. NULL on allocation failure. */
struct agentdisc *agentdisc_new(void *ctx, agentdisc_cb cb, const struct policy_agent_config *cfg);
/* Close every socket and timer (no callbacks). NULL is fine. */
void agentdisc_free(struct agentdisc *d);

/* The link of ifname came up (a new attachment): open its sockets, forget what was known,
 * and solicit at once. Already up: nothing (0), so repeated netlink events do not raise
 * the solicitation rate. -ENODEV unknown interface, -errno when a socket cannot be opened
 * (CAP_NET_RAW), -ENOMEM. */
int agentdisc_link_up(struct agentdisc *d, const char *ifname);
/* The link went down (or the interface is no longer used): close its sockets; LOST for
 * the current agent, if any, through the callback. Unknown or down: nothing. */
void agentdisc_link_down(struct agentdisc *d, const char *ifname);

/* The current agent on ifname and the link-layer source address of its latest
 * advertisement (RFC 5944 3.6.1.1: the Registration Request MUST go to that link-layer
 * address): returns the address length (6 on Ethernet) and copies it to lladdr (room for
 * 8 bytes), or -ENOENT when no agent is current. */
int agentdisc_lladdr(const struct agentdisc *d, const char *ifname, uint8_t lladdr[8]);
const struct policy_agent *agentdisc_current(const struct agentdisc *d, const char *ifname);

/* Counters of ifname (zero for an unknown interface). */
void agentdisc_stats(const struct agentdisc *d, const char *ifname, struct agentdisc_stats *out);

#endif
