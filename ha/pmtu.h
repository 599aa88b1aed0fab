/* Tunnel path MTU for the home agent's data path (RFC 2003 §5.1, RFC 1191, RFC 3519 §4.8).
 * Pure: no I/O; time is passed in.
 *
 * RFC 2003 §5.1 ("Tunnel MTU Discovery"): the encapsulator keeps the path MTU of each tunnel
 * (here: per tunnel endpoint, learnt from the kernel after a send failed with EMSGSIZE) and,
 * for an inner packet with DF set that does not fit (inner length > tunnel PMTU - outer
 * header), sends the inner packet's source an ICMP Destination Unreachable, code 4
 * "fragmentation needed and DF set" (RFC 792) whose Next-Hop MTU (RFC 1191 §4) is the tunnel
 * PMTU minus the outer header, and drops the packet. A packet without DF may be fragmented
 * (the data path lets the kernel fragment the outer packet, RFC 2003 §5.1).
 *
 * Errors: negative errno, output parameters untouched.
 *	-EINVAL   bad arguments
 *	-EBADMSG  the inner packet is not a valid IPv4 packet (mip4_ipv4_parse)
 *	-EPERM    RFC 1122 §3.2.2 forbids an ICMP error about this packet: it is an ICMP error
 *	          (or an ICMP message too short to tell), a fragment other than the first, or
 *	          its source is not a single host (0/8, 127/8, multicast, 240/4, broadcast), or
 *	          its destination is multicast or broadcast
 *	-ENOSPC   the writer is too small
 */
#ifndef MM_HA_PMTU_H
#define MM_HA_PMTU_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/clock.h"

/* Outer overhead per encapsulation: IP-in-IP (RFC 2003 §3.1) adds a 20-byte IPv4 header;
 * the RFC 3519 UDP tunnel adds IPv4 20 + UDP 8 + MIP Tunnel Data header 4. */
#define HA_PMTU_OVERHEAD_IPIP 20
#define HA_PMTU_OVERHEAD_UDP (20 + 8 + 4)
/* RFC 791: every host must accept a 68-byte datagram unfragmented; no smaller MTU is
 * announced (RFC 1191 §3). */
#define HA_PMTU_MIN 68
/* RFC 1191 §6.3: a decreased PMTU estimate is aged out after about 10 minutes. */
#define HA_PMTU_AGE MM_SEC(600)
/* Largest message ha_pmtu_frag_needed_build() writes: IPv4 20 + ICMP 8 + the inner header
 * (up to 60 with options) + 8 bytes of its payload (RFC 792). */
#define HA_PMTU_ICMP_MAX (20 + 8 + 60 + 8)
/* ICMP type/code (RFC 792). */
#define HA_ICMP_DEST_UNREACH 3
#define HA_ICMP_FRAG_NEEDED 4

enum ha_pmtu_verdict {
	HA_PMTU_FITS = 0,        /* send it (PMTU unknown counts as fits) */
	HA_PMTU_TOO_BIG_DF = 1,  /* drop it and send "fragmentation needed" */
	HA_PMTU_TOO_BIG = 2,     /* no DF: may be fragmented (the kernel fragments the outer) */
};

/* The decision for an inner packet of inner_len bytes (DF as given) through a tunnel whose
 * path MTU is tunnel_pmtu (0: unknown) and whose outer headers take overhead bytes. */
enum ha_pmtu_verdict ha_pmtu_check(size_t inner_len, bool df, unsigned tunnel_pmtu,
				   unsigned overhead);

/* The Next-Hop MTU to announce for that tunnel: tunnel_pmtu - overhead, never below
 * HA_PMTU_MIN (RFC 1191 §3) nor above 65535. */
uint16_t ha_pmtu_next_hop_mtu(unsigned tunnel_pmtu, unsigned overhead);

/* May the home agent answer the IPv4 packet inner[0..inner_len) with an ICMP error?
 * 0 when it may, -EBADMSG / -EPERM as above. */
int ha_pmtu_may_answer(const void *inner, size_t inner_len);

/* Write the complete IPv4 packet ha -> (inner's source) carrying ICMP Destination
 * Unreachable / Fragmentation Needed (type 3 code 4, RFC 792; RFC 1191 §4: unused 16 bits
 * zero, then next_hop_mtu) quoting inner's IPv4 header and the first 8 bytes of its payload
 * (fewer if it has fewer). IPv4 header: version 4, IHL 5, TOS 0, Identification ip_id, no
 * DF, TTL 64, protocol 1, header checksum. Refuses what ha_pmtu_may_answer() refuses.
 * Returns bytes written. */
int ha_pmtu_frag_needed_build(struct writer *w, struct in_addr ha, const void *inner,
			      size_t inner_len, uint16_t next_hop_mtu, uint16_t ip_id);

/* --- path MTU per tunnel endpoint ------------------------------------------------------ */

#define HA_PMTU_CACHE_SLOTS 64

struct ha_pmtu_entry {
	struct in_addr addr;     /* tunnel endpoint (care-of address or NAT address) */
	unsigned mtu;            /* path MTU to it, outer headers included */
	mm_time_ns learned;      /* when: the entry is forgotten HA_PMTU_AGE later */
};

struct ha_pmtu_cache {
	unsigned n;              /* entries in use, e[0..n) */
	struct ha_pmtu_entry e[HA_PMTU_CACHE_SLOTS];
};

void ha_pmtu_cache_init(struct ha_pmtu_cache *c);
/* Remember (or refresh) addr's path MTU; when full, the oldest entry makes room. mtu below
 * HA_PMTU_MIN is raised to it. */
void ha_pmtu_cache_learn(struct ha_pmtu_cache *c, struct in_addr addr, unsigned mtu,
			 mm_time_ns now);
/* addr's path MTU, or 0 when unknown or aged out (an aged entry is removed: RFC 1191 §6.3,
 * the next oversized send learns it again). */
unsigned ha_pmtu_cache_get(struct ha_pmtu_cache *c, struct in_addr addr, mm_time_ns now);

/* --- rate limit for the ICMP messages (RFC 1812 §4.3.2.8, RFC 1122 §3.2.2) -------------- */

#define HA_PMTU_ICMP_RATE 100    /* messages per second, also the burst */

struct ha_pmtu_rl {
	unsigned tokens;
	mm_time_ns last;
	bool started;
};

void ha_pmtu_rl_init(struct ha_pmtu_rl *rl);
/* One more ICMP message at now? */
bool ha_pmtu_rl_allow(struct ha_pmtu_rl *rl, mm_time_ns now);

#endif
