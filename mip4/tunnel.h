/* Tunnel codecs for the user-space data path (no I/O, no allocation):
 *
 *  - RFC 2003 IP-in-IP: the 20-byte outer IPv4 header (protocol 4) for a raw socket with
 *    IP_HDRINCL, and the checks on what a raw IPPROTO_IPIP socket delivers.
 *  - RFC 3519 §3.3 MIP Tunnel Data message: the UDP payload on port 434 that carries a
 *    packet (Type 4, Next Header 4 = IPv4, Reserved), for NAT traversal.
 *  - RFC 3519 §4.9 keepalive: a UDP-encapsulated ICMP Echo Request from the home address to
 *    the home agent, and the home agent's Echo Reply.
 *  - An IPv4 header check (for packets read from a TUN device too) and an ICMP echo builder.
 *
 * Errors (negative errno; output parameters untouched; nothing is logged: the daemon decides
 * and logs, rate-limited, RFC 3519 §3.3 "SHOULD ensure that the amount of log entries written
 * is not excessive"):
 *	-EBADMSG          malformed: truncated, version not 4, bad IHL, total length that does
 *	                  not match the bytes, bad header or ICMP checksum
 *	-ENOMSG           not this kind of packet: outer protocol is not 4 (IP-in-IP), or the
 *	                  UDP payload is not a MIP Tunnel Data message (a registration message
 *	                  on port 434: hand it to the registration code)
 *	-EPROTONOSUPPORT  MIP Tunnel Data whose Next Header is not 4 (IPv4): RFC 3519 §3.3 says
 *	                  a Next Header that does not match the binding's mode MUST be dropped
 *	-EOPNOTSUPP       the outer header is a fragment (MF set or offset != 0): this data path
 *	                  does no reassembly
 *	-ETIME            inner TTL is 0 (RFC 2003 §3.1: MUST NOT encapsulate, MUST discard
 *	                  after decapsulation)
 *	-ENOSPC           (encoders) the writer is too small; nothing usable was written
 *	-EINVAL           (encoders) bad arguments (NULL, an inner packet that is not IPv4)
 *
 * Offsets returned (inner_off etc.) are from the first byte of the buffer that was passed in.
 */
#ifndef MM_MIP4_TUNNEL_H
#define MM_MIP4_TUNNEL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define MIP4_IPV4_HDR_MIN 20      /* IPv4 header without options */
#define MIP4_IPV4_MAX 65535       /* largest IPv4 datagram (Total Length is 16 bits) */
#define MIP4_IPIP_PROTO 4         /* IP protocol number of IP-in-IP (RFC 2003 §3.1) */
#define MIP4_IPIP_OVERHEAD 20     /* outer header we add (no options) */
#define MIP4_IPIP_TTL 64          /* RFC 2003 §3.1: "a value appropriate for delivery ...
				   * to the tunnel exit point"; the IPv4 default (RFC 1700) */
#define MIP4_UDP_TUNNEL_OVERHEAD 4 /* RFC 3519 §3.3 header in front of the packet */
#define MIP4_ICMP_ECHO_HDR 8      /* ICMP echo header (RFC 792) */
/* A whole keepalive UDP payload: tunnel header + IPv4 header + ICMP echo (no data). */
#define MIP4_KEEPALIVE_LEN (MIP4_UDP_TUNNEL_OVERHEAD + MIP4_IPV4_HDR_MIN + MIP4_ICMP_ECHO_HDR)

/* What an IPv4 header says, and where the packet is in the buffer. */
struct mip4_ipv4_info {
	struct in_addr src, dst;
	uint8_t proto;       /* IP protocol of the payload */
	uint8_t ttl;
	uint8_t tos;
	bool df;             /* Don't Fragment */
	bool fragment;       /* MF set or fragment offset != 0 */
	size_t off;          /* first byte of the packet (its IPv4 header) */
	size_t len;          /* Total Length: the whole packet, header included */
	size_t hdr_len;      /* IHL * 4 */
};

/* Check the IPv4 packet in pkt[0..len): version 4, 20 <= IHL*4 <= Total Length, Total
 * Length == len exactly (what a TUN device or a decapsulator hands over), header checksum.
 * Fragments are accepted (info->fragment says so); TTL is not checked. off is 0. */
int mip4_ipv4_parse(const void *pkt, size_t len, struct mip4_ipv4_info *out);

/* --- RFC 2003 IP-in-IP ------------------------------------------------------------------ */

struct mip4_ipip_info {
	struct in_addr outer_src;   /* tunnel entry point (the care-of address, or the HA) */
	struct in_addr outer_dst;   /* tunnel exit point (us) */
	struct mip4_ipv4_info inner; /* inner.off / inner.len locate the decapsulated packet */
};

/* Write the 20-byte outer header for inner[0..inner_len) (RFC 2003 §3.1): version 4, IHL 5,
 * TOS copied from the inner header, Total Length 20 + inner_len, Identification ip_id (a
 * per-tunnel counter kept by the caller), DF copied from the inner header, TTL
 * MIP4_IPIP_TTL, protocol 4, header checksum, src, dst. The inner packet must be a valid
 * IPv4 packet of exactly inner_len bytes (mip4_ipv4_parse) with TTL > 0; its TTL is not
 * changed (the kernel already decremented it when it routed the packet into our TUN).
 * Use this with a two-element iovec to avoid copying the packet. Returns 20. */
int mip4_ipip_encap_hdr(struct writer *w, struct in_addr outer_src, struct in_addr outer_dst,
			uint16_t ip_id, const void *inner, size_t inner_len);
/* The outer header followed by a copy of the inner packet. Returns bytes written. */
int mip4_ipip_encap(struct writer *w, struct in_addr outer_src, struct in_addr outer_dst,
		    uint16_t ip_id, const void *inner, size_t inner_len);

/* Decapsulate what a raw IPPROTO_IPIP socket received (the outer IPv4 header included).
 * Outer: version 4, IHL >= 5 within the buffer, Total Length <= len (bytes beyond it, e.g.
 * link padding, are ignored), protocol 4, header checksum, not a fragment (-EOPNOTSUPP).
 * Inner: as mip4_ipv4_parse over exactly the outer payload, and TTL > 0 (-ETIME). The
 * caller checks that outer_src is the tunnel endpoint it expects and that the inner
 * addresses are allowed (RFC 2003 §4.4 / RFC 3024 §4.2). */
int mip4_ipip_decap(const void *pkt, size_t len, struct mip4_ipip_info *out);

/* --- RFC 3519 §3.3 MIP Tunnel Data over UDP port 434 ------------------------------------- */

/* The UDP payload for a tunnelled IPv4 packet: Type 4, Next Header 4, Reserved 0, then a copy
 * of inner (checked as for mip4_ipip_encap_hdr). Returns bytes written. */
int mip4_udp_tunnel_encap(struct writer *w, const void *inner, size_t inner_len);
/* Only the 4-byte header (for an iovec with the packet after it). Returns 4. */
int mip4_udp_tunnel_encap_hdr(struct writer *w);

/* Decapsulate a UDP payload received on port 434. -ENOMSG when the first byte is not 4:
 * not tunnelled data, so it is a registration message. Next Header other than 4:
 * -EPROTONOSUPPORT. Then the inner packet as mip4_ipv4_parse over the rest of the payload,
 * TTL > 0 (-ETIME). out->off / out->len locate the inner packet. */
int mip4_udp_tunnel_decap(const void *payload, size_t len, struct mip4_ipv4_info *out);

/* --- ICMP echo and RFC 3519 §4.9 keepalives -------------------------------------------- */

/* A complete IPv4 packet carrying an ICMP Echo Request (reply == false, type 8) or Echo
 * Reply (type 0), code 0, identifier echo_id, sequence seq, then data[0..data_len): IPv4
 * header (TOS 0, Identification ip_id, DF clear, TTL 64, protocol 1, checksum) and ICMP
 * checksum filled in. Returns bytes written (28 + data_len). */
int mip4_icmp_echo_build(struct writer *w, struct in_addr src, struct in_addr dst, bool reply,
			 uint16_t ip_id, uint16_t echo_id, uint16_t seq, const void *data,
			 size_t data_len);

/* The mobile node's keepalive (RFC 3519 §4.9: "a properly UDP encapsulated ICMP echo
 * request directed to the home agent"): the whole UDP payload to send from the registration
 * socket to HA:434, i.e. the tunnel header + Echo Request hoa -> ha (no data). Returns
 * MIP4_KEEPALIVE_LEN. */
int mip4_keepalive_request_encode(struct writer *w, struct in_addr hoa, struct in_addr ha,
				  uint16_t ip_id, uint16_t echo_id, uint16_t seq);

enum mip4_keepalive_kind {
	MIP4_KEEPALIVE_NONE = 0,    /* not a keepalive: ordinary tunnelled data */
	MIP4_KEEPALIVE_REQUEST = 1, /* ICMP Echo Request addressed to the home agent */
	MIP4_KEEPALIVE_REPLY = 2,   /* ICMP Echo Reply from the home agent */
};

struct mip4_keepalive {
	struct in_addr src, dst;    /* inner addresses */
	uint16_t echo_id, seq;
	size_t data_off, data_len;  /* echo data, offsets into the inner packet */
};

/* Classify a decapsulated inner packet (pkt[0..len), as located by mip4_udp_tunnel_decap)
 * for the home agent address ha: an unfragmented ICMP Echo Request (code 0) to ha is a
 * REQUEST, an ICMP Echo Reply (code 0) from ha is a REPLY; both need a valid ICMP checksum
 * (-EBADMSG otherwise: drop). Anything else returns MIP4_KEEPALIVE_NONE and leaves out
 * untouched. out may be NULL. */
int mip4_keepalive_classify(const void *pkt, size_t len, struct in_addr ha,
			    struct mip4_keepalive *out);

/* The home agent's answer to the keepalive request req[0..req_len) (a REQUEST by
 * mip4_keepalive_classify): the whole UDP payload to send back to where the request came
 * from: tunnel header + Echo Reply ha -> hoa with the request's identifier, sequence and
 * data (RFC 792). Returns bytes written. */
int mip4_keepalive_reply_encode(struct writer *w, const void *req, size_t req_len,
				struct in_addr ha, uint16_t ip_id);

#endif
