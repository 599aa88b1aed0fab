/* ha as a foreign agent (RFC 5944 §2.3, §3.7, §4.2.2; RFC 3024 §4.2; RFC 1256): the I/O
 * around mip4/fa_engine (relay), ha/fa_adv (advertisements) and ha/fa_datapath (delivery and
 * reverse tunnel), on the GLib main loop of ha/main.c:
 *
 *	raw ICMP, bound to the visited interface
 *	                 Agent Advertisements to 224.0.0.1 (IP TTL 1, RFC 1256 §5.1) when
 *	                 fa_adv says; Router Solicitations (to 224.0.0.2, 224.0.0.11 or us)
 *	                 answered at once (unicast on-link, else multicast; fa_adv's rate
 *	                 limits); everything else ignored, malformed messages and unexpected
 *	                 types with a rate-limited drop line
 *	UDP *:434        Registration Requests from the visited link (also to 224.0.0.11 and
 *	                 broadcast) -> fa_engine_request; Registration Replies from home agents
 *	                 on any other interface -> fa_engine_reply
 *	AF_PACKET        on the visited interface, UDP port 434 only (a BPF filter): the
 *	                 link-layer source and IP TTL of each request (RFC 5944 §3.7.1,
 *	                 RFC 3024 §4.2.1), read before the UDP socket so they are there when the
 *	                 datagram is; and the way messages to mobile nodes go out, to the
 *	                 link-layer address the engine names (§4.2.2: no ARP)
 *	raw IPPROTO_IPIP, TUN   fa_datapath
 *	timers           the next advertisement; fa_engine_timer (pending requests: 78;
 *	                 visitors expiring)
 * Visitor events from the engine are carried out by fa_datapath before the message that
 * announces them goes out.
 */
#ifndef MM_HA_FA_H
#define MM_HA_FA_H

#include <stdint.h>

#include "ha/conf.h"
#include "ha/fa_datapath.h"
#include "mip4/fa_engine.h"

struct fa_adv_stats {
	uint64_t advertisements;       /* sent, periodic and answers */
	uint64_t solicitations;        /* valid ones received */
	uint64_t answers_unicast;
	uint64_t answers_multicast;    /* sent at once or deferred (one may answer several) */
	uint64_t answers_limited;      /* not answered: rate limit */
	uint64_t icmp_dropped;         /* malformed or unexpected ICMP on the visited link */
	uint64_t udp_dropped;          /* UDP 434 datagrams nobody handles (not a request from
	                                * the visited link / reply from elsewhere, no link-layer
	                                * address) */
	uint64_t send_errors;
	uint64_t log_suppressed;
	uint16_t next_seq;             /* sequence number of the next advertisement */
};

struct fa;

/* Everything from conf->fa. home_agent_here: this process is also a home agent on the
 * visited link (the H flag, RFC 5944 §2.3). Returns 0 or -errno after one error line. */
int fa_start(const struct ha_conf *conf, bool home_agent_here, struct fa **out);
/* Removes the kernel state (fa_datapath_free), closes everything. NULL is fine. */
void fa_stop(struct fa *fa);

const struct fa_engine *fa_get_engine(const struct fa *fa);
const struct fa_datapath *fa_get_datapath(const struct fa *fa);
const struct fa_adv_stats *fa_get_adv_stats(const struct fa *fa);

#endif
