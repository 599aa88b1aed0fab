/* The home agent's user-space data path (RFC 2003, RFC 3024 §4.3.2, RFC 3519 §3.3, §4.9).
 *
 * Forward: the kernel routes packets for a bound home address (host route HOA/32, see
 * attract.h) into the TUN device; each is encapsulated towards the binding's tunnel endpoint:
 * IP-in-IP from the raw IPPROTO_IPIP socket (IP_HDRINCL, outer source = the home agent), or a
 * MIP Tunnel Data message from the UDP 434 socket to the endpoint's address and port. The
 * TUN's MTU leaves room for the larger (UDP) overhead, so the kernel fragments or sends
 * "fragmentation needed" before encapsulation (RFC 3519 §4.8: the home agent SHOULD
 * fragment before encapsulating). Reads fill a batch of preallocated buffers, leaving room
 * for the outer headers in front, and go out with one sendmmsg per socket.
 *
 * Reverse: IP-in-IP from the raw socket (received in batches) and Tunnel Data messages on
 * 434 are decapsulated and checked (RFC 3024 §4.3.2): the inner source must have a binding
 * that granted reverse tunnelling (T) with this encapsulation, and the outer source (and for
 * UDP the port, RFC 3519 §4.3) must be that binding's endpoint; then the inner packet is
 * written into the TUN and the kernel forwards it. Anything else is dropped, counted and
 * logged with rate limiting (a security exception, RFC 3024 §4.3.2).
 *
 * Tunnel path MTU (RFC 2003 §5.1, pmtu.h): when a send to a tunnel endpoint fails with
 * EMSGSIZE (the kernel learnt a smaller path MTU from an ICMP "fragmentation needed" about an
 * outer packet), the endpoint's path MTU is read from the kernel (IP_MTU on a UDP socket
 * connect()ed to it) and kept for HA_PMTU_AGE (RFC 1191 §6.3). Every later packet for that
 * endpoint is checked before encapsulation: an inner packet with DF that does not fit is
 * dropped and its source gets ICMP "fragmentation needed" with Next-Hop MTU = path MTU -
 * outer overhead (rate-limited); one without DF is sent and the kernel fragments the outer
 * packet. The packet whose send failed gets the same answer.
 *
 * Keepalives (RFC 3519 §4.9): an ICMP Echo Request from the home address to the home agent
 * inside the UDP tunnel goes to ha_engine_keepalive(); if accepted, the Echo Reply goes back
 * through the tunnel to where the request came from.
 *
 * No allocation per packet.
 */
#ifndef MM_HA_DATAPATH_H
#define MM_HA_DATAPATH_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "mip4/ha_engine.h"

/* TUN MTU: a 1500-byte path minus the outer IPv4 header, UDP header and MIP tunnel header. */
#define HA_TUN_MTU (1500 - 20 - 8 - 4)

struct ha_dp_stats {
	uint64_t fwd_packets;          /* encapsulated and sent */
	uint64_t fwd_bytes;            /* inner bytes of those */
	uint64_t fwd_no_binding;       /* routed into the TUN, but no binding (any more) */
	uint64_t fwd_half_bound;       /* UDP binding still waiting for its first keepalive */
	uint64_t fwd_bad;              /* not IPv4, truncated, TTL 0 */
	uint64_t fwd_send_errors;      /* socket refused (buffer full, no route) */
	uint64_t rev_packets;          /* decapsulated and written into the TUN */
	uint64_t rev_bytes;
	uint64_t rev_malformed;        /* does not decapsulate */
	uint64_t rev_not_for_us;       /* outer destination is not the home agent */
	uint64_t rev_rejected;         /* no binding / wrong endpoint / not granted */
	uint64_t rev_write_errors;     /* TUN write failed */
	uint64_t keepalives;           /* keepalive requests answered */
	uint64_t keepalives_refused;
	uint64_t log_suppressed;
	uint64_t replayed_packets;     /* sent again after a move (daemon/replay.h) */
	/* Tunnel path MTU (RFC 2003 §5.1, pmtu.h) */
	uint64_t pmtu_learned;         /* a tunnel endpoint's path MTU read from the kernel */
	uint64_t too_big_dropped;      /* DF set, does not fit the tunnel: dropped */
	uint64_t too_big_fragmented;   /* no DF, does not fit: sent, the outer is fragmented */
	uint64_t frag_needed_sent;     /* ICMP "fragmentation needed" sent to the source */
	uint64_t frag_needed_limited;  /* not sent: rate limit (HA_PMTU_ICMP_RATE per second) */
	uint64_t frag_needed_refused;  /* not sent: RFC 1122 §3.2.2 (ICMP error, fragment,
	                                * source not one host) or the send failed */
};

/* Called when a keepalive changed a binding (a half-bound UDP binding learnt its port):
 * the daemon applies and persists a->events as it does for registrations. */
typedef void (*ha_dp_changed_fn)(void *user, struct ha_actions *a);

struct ha_datapath;

int ha_datapath_new(struct ha_engine *ha, int tun_fd, int raw_fd, int udp_fd,
		    struct in_addr ha_addr, ha_dp_changed_fn changed, void *user,
		    struct ha_datapath **out);
void ha_datapath_free(struct ha_datapath *dp);

/* The TUN is readable: forward up to a batch of packets. */
void ha_datapath_tun_readable(struct ha_datapath *dp);
/* The raw IP-in-IP socket is readable: reverse-tunnelled packets. */
void ha_datapath_raw_readable(struct ha_datapath *dp);
/* A datagram on UDP 434 whose first byte is 4 (MIP Tunnel Data), from src. */
void ha_datapath_udp_data(struct ha_datapath *dp, const uint8_t *payload, size_t len,
			  const struct sockaddr_in *src);

/* Handover replay (daemon/replay.h): keep what was tunnelled in the last `window` (0: off) and send
 * up to max_bytes of it again when a binding moves, from one round trip (`rtt`, the longest
 * covered) before the last packet that came back through the old tunnel. */
void ha_datapath_set_replay(struct ha_datapath *dp, mm_time_ns window, mm_time_ns rtt,
			    size_t max_bytes);
/* hoa's binding moved to a new tunnel endpoint (after the Registration Reply went out):
 * send the recent packets for hoa again, to the new endpoint. */
void ha_datapath_replay(struct ha_datapath *dp, struct in_addr hoa);

const struct ha_dp_stats *ha_datapath_stats(const struct ha_datapath *dp);

#endif
