/* The foreign agent's user-space data path (RFC 5944 §4.2.2, RFC 2003, RFC 3024 §4.2) and
 * the kernel state it needs. There is no IP-in-IP in this kernel: tunnels end here.
 *
 * Delivery (RFC 5944 §4.2.2): IP-in-IP from a home agent to our care-of address arrives on
 * the raw IPPROTO_IPIP socket. It is decapsulated (mip4_ipip_decap); the inner destination
 * must be a visitor ("MUST compare the inner Destination Address to those entries in its
 * visitor list ... SHOULD be silently discarded", no ICMP) and the outer source its home
 * agent; then the inner packet is written into the TUN device and the kernel forwards it
 * to the visited link (TTL decremented, checksum redone): through the host route
 * HOA/32 dev <interface> to the permanent neighbour entry HOA -> the visitor's link-layer
 * address ("MUST NOT use broadcast ARP for a mobile node's MAC address"; the entry does not
 * expire before the visitor does).
 *
 * Reverse tunnel (RFC 3024 §4.2.2): a rule "from HOA iif <interface> lookup <table>" per
 * visitor granted reverse tunnelling, and "default dev <TUN>" in that table, route the
 * visitor's packets into the TUN (the kernel decrements the TTL: RFC 5944 §4.2.2 "MUST
 * route"). Each is checked (IPv4, its source a visitor with T) and encapsulated IP-in-IP
 * with outer source = the care-of address, outer destination = the visitor's home agent
 * (RFC 3024 §4.2.2 direct delivery style), sent from the raw socket (IP_HDRINCL).
 * Packets to our own addresses never reach the rule: the local table comes first.
 *
 * Kernel state: the table's default route at setup, per visitor the neighbour entry, the
 * host route and the rule; all of it removed when the visitor goes and at free (and rules
 * pointing at our table, left by an instance that was killed, at setup). Plain rtnetlink
 * for neighbours and rules, common/netlink.h for routes. Failures are logged here, once.
 *
 * Drops are counted and logged with daemon/droplog.h's rate limit.
 */
#ifndef MM_HA_FA_DATAPATH_H
#define MM_HA_FA_DATAPATH_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>

#include "common/buf.h"
#include "mip4/fa_engine.h"

/* TUN MTU: a 1500-byte path minus the outer IPv4 header of IP-in-IP. */
#define FA_TUN_MTU (1500 - 20)
/* Priority of the per-visitor rules: before "main" (32766). */
#define FA_RULE_PRIORITY 434

struct fa_dp_stats {
	uint64_t delivered_packets;    /* decapsulated and handed to the kernel for the link */
	uint64_t delivered_bytes;
	uint64_t deliver_malformed;    /* does not decapsulate */
	uint64_t deliver_not_for_us;   /* outer destination is not the care-of address */
	uint64_t deliver_no_visitor;   /* inner destination not a visitor: discarded, §4.2.2 */
	uint64_t deliver_wrong_ha;     /* outer source is not the visitor's home agent */
	uint64_t deliver_errors;       /* TUN write failed */
	uint64_t reverse_packets;      /* encapsulated to a home agent */
	uint64_t reverse_bytes;
	uint64_t reverse_rejected;     /* not IPv4 / not from a visitor with T */
	uint64_t reverse_errors;       /* send failed */
	uint64_t log_suppressed;
};

struct fa_dp_config {
	char interface[IFNAMSIZ];      /* the visited link */
	int ifindex;
	int tun_fd;                    /* TUN device (not closed by the data path) */
	int tun_ifindex;
	int raw_fd;                    /* raw IPPROTO_IPIP, IP_HDRINCL (not closed) */
	struct in_addr coa;
	unsigned table;                /* routing table of the reverse tunnel */
};

struct fa_datapath;

/* Sweep rules left pointing at cfg->table, install "default dev TUN" there. The engine is
 * asked for visitors per packet. Returns 0 or -errno (logged). */
int fa_datapath_new(const struct fa_dp_config *cfg, const struct fa_engine *engine,
		    struct fa_datapath **out);
/* Removes every neighbour entry, route and rule it installed. */
void fa_datapath_free(struct fa_datapath *dp);

/* A visitor was added or updated (its link-layer address or T may have changed) / removed:
 * install or adjust / remove its kernel state. Returns 0 or -errno (logged). */
int fa_datapath_visitor_set(struct fa_datapath *dp, const struct fa_visitor *v);
int fa_datapath_visitor_del(struct fa_datapath *dp, struct in_addr hoa);

/* The raw IP-in-IP socket is readable: deliver. The TUN is readable: reverse-tunnel. */
void fa_datapath_raw_readable(struct fa_datapath *dp);
void fa_datapath_tun_readable(struct fa_datapath *dp);

const struct fa_dp_stats *fa_datapath_stats(const struct fa_datapath *dp);

/* --- IPv4/UDP for the visited link (pure) -----------------------------------------------
 * A packet socket on the visited link gives the link-layer source of a request (RFC 5944
 * §3.7.1, §4.2.2) and its IP TTL (RFC 3024 §4.2.1); messages to a mobile node go out
 * through it to the link-layer address the engine names, never through ARP. */

struct fa_udp4_info {
	struct in_addr src, dst;
	uint16_t sport, dport;
	uint8_t ttl;
	size_t payload_off, payload_len;   /* the UDP payload within the packet */
};

/* Addresses, ports and TTL of an IPv4/UDP packet: version 4, IHL >= 5, header checksum,
 * Total Length within len (link padding after it is ignored), protocol 17, not a fragment,
 * UDP Length within the IP payload. The UDP checksum is not checked (the datagram itself is
 * taken from the kernel's UDP socket, which did). -EBADMSG malformed, -ENOMSG not UDP or a
 * fragment; *out untouched on failure. */
int fa_udp4_peek(const void *pkt, size_t len, struct fa_udp4_info *out);

/* An IPv4 header (no options, DF clear, TOS 0, protocol 17) + UDP header with its checksum
 * (RFC 768) + payload into w. Returns bytes written, -ENOSPC (w too small) or -EINVAL. */
int fa_udp4_build(struct writer *w, struct in_addr src, struct in_addr dst, uint16_t sport,
		  uint16_t dport, uint8_t ttl, uint16_t ip_id, const void *payload, size_t len);
/* Visitors with kernel state installed (neighbour entry + host route). */
unsigned fa_datapath_installed(const struct fa_datapath *dp);

#endif
