/* Tunnel codecs: RFC 2003 IP-in-IP, RFC 3519 §3.3 MIP Tunnel Data, RFC 3519 §4.9 keepalives.
 * No I/O, no allocation; every byte through common/buf.h. */
#include "mip4/tunnel.h"

#include <errno.h>
#include <string.h>

#include "mip4/agent.h"   /* mip4_inet_checksum */
#include "mip4/reg.h"     /* mip4_tunnel_hdr_parse/encode */

#define IPV4_VERSION 4
#define IPV4_FLAG_DF 0x4000
#define IPV4_FLAG_MF 0x2000
#define IPV4_FRAG_OFF_MASK 0x1fff
#define IPPROTO_ICMP_ 1
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define DEFAULT_TTL 64

/* Read an IPv4 header at the start of r's region. If exact, Total Length must equal the
 * region's size; otherwise it must not exceed it. Fills everything but off. */
static int ipv4_header(const void *pkt, size_t len, bool exact, struct mip4_ipv4_info *out)
{
	struct reader r;
	uint8_t vihl, tos, ttl, proto;
	uint16_t tot, id, frag, csum;
	uint32_t src, dst;
	const uint8_t *hdr;
	size_t hlen;

	reader_init(&r, pkt, len);
	if (!reader_peek_u8(&r, &vihl))
		return -EBADMSG;
	if ((vihl >> 4) != IPV4_VERSION)
		return -EBADMSG;
	hlen = (size_t)(vihl & 0x0f) * 4;
	if (hlen < MIP4_IPV4_HDR_MIN || hlen > len)
		return -EBADMSG;
	if (!reader_view(&r, hlen, &hdr))
		return -EBADMSG;
	/* Re-read the fixed part from the view (the options, if any, are skipped). */
	reader_init(&r, hdr, hlen);
	reader_skip(&r, 1);
	reader_u8(&r, &tos);
	reader_be16(&r, &tot);
	reader_be16(&r, &id);
	reader_be16(&r, &frag);
	reader_u8(&r, &ttl);
	reader_u8(&r, &proto);
	reader_be16(&r, &csum);
	reader_be32(&r, &src);
	reader_be32(&r, &dst);
	if (!reader_ok(&r))
		return -EBADMSG;
	if (tot < hlen || tot > len || (exact && tot != len))
		return -EBADMSG;
	if (mip4_inet_checksum(hdr, hlen) != 0)
		return -EBADMSG;
	(void)id;
	(void)csum;
	out->src.s_addr = htonl(src);
	out->dst.s_addr = htonl(dst);
	out->proto = proto;
	out->ttl = ttl;
	out->tos = tos;
	out->df = (frag & IPV4_FLAG_DF) != 0;
	out->fragment = (frag & (IPV4_FLAG_MF | IPV4_FRAG_OFF_MASK)) != 0;
	out->off = 0;
	out->len = tot;
	out->hdr_len = hlen;
	return 0;
}

int mip4_ipv4_parse(const void *pkt, size_t len, struct mip4_ipv4_info *out)
{
	struct mip4_ipv4_info info;
	int rc;

	if (!out || (!pkt && len))
		return -EINVAL;
	rc = ipv4_header(pkt, len, true, &info);
	if (rc < 0)
		return rc;
	*out = info;
	return 0;
}

/* Write a 20-byte IPv4 header with the checksum filled in. */
static int ipv4_header_write(struct writer *w, uint8_t tos, size_t total, uint16_t id, bool df,
			     uint8_t ttl, uint8_t proto, struct in_addr src, struct in_addr dst)
{
	size_t start = writer_len(w), csum_at;
	uint8_t *hdr;

	if (total > MIP4_IPV4_MAX)
		return -EINVAL;
	if (writer_room(w) < MIP4_IPV4_HDR_MIN)
		return -ENOSPC;
	writer_u8(w, (IPV4_VERSION << 4) | (MIP4_IPV4_HDR_MIN / 4));
	writer_u8(w, tos);
	writer_be16(w, (uint16_t)total);
	writer_be16(w, id);
	writer_be16(w, df ? IPV4_FLAG_DF : 0);
	writer_u8(w, ttl);
	writer_u8(w, proto);
	writer_reserve(w, 2, &csum_at);
	writer_be32(w, ntohl(src.s_addr));
	writer_be32(w, ntohl(dst.s_addr));
	if (!writer_ok(w) || !writer_view(w, start, MIP4_IPV4_HDR_MIN, &hdr))
		return -ENOSPC;
	writer_patch_be16(w, csum_at, mip4_inet_checksum(hdr, MIP4_IPV4_HDR_MIN));
	return MIP4_IPV4_HDR_MIN;
}

/* The inner packet of an encapsulation: exactly inner_len bytes of IPv4, TTL > 0. */
static int inner_check(const void *inner, size_t inner_len, struct mip4_ipv4_info *info)
{
	int rc;

	if (!inner)
		return -EINVAL;
	rc = ipv4_header(inner, inner_len, true, info);
	if (rc < 0)
		return -EINVAL;
	if (info->ttl == 0)
		return -ETIME;   /* RFC 2003 §3.1: MUST NOT encapsulate a datagram with TTL = 0 */
	return 0;
}

int mip4_ipip_encap_hdr(struct writer *w, struct in_addr outer_src, struct in_addr outer_dst,
			uint16_t ip_id, const void *inner, size_t inner_len)
{
	struct mip4_ipv4_info in;
	int rc;

	if (!w)
		return -EINVAL;
	rc = inner_check(inner, inner_len, &in);
	if (rc < 0)
		return rc;
	if (inner_len + MIP4_IPIP_OVERHEAD > MIP4_IPV4_MAX)
		return -EINVAL;
	/* RFC 2003 §3.1: TOS copied; DF copied (we never set it when the inner has it clear,
	 * so the path may fragment, §5.1); TTL "appropriate for delivery". */
	return ipv4_header_write(w, in.tos, inner_len + MIP4_IPIP_OVERHEAD, ip_id, in.df,
				 MIP4_IPIP_TTL, MIP4_IPIP_PROTO, outer_src, outer_dst);
}

int mip4_ipip_encap(struct writer *w, struct in_addr outer_src, struct in_addr outer_dst,
		    uint16_t ip_id, const void *inner, size_t inner_len)
{
	int rc;

	if (!w)
		return -EINVAL;
	if (writer_room(w) < MIP4_IPIP_OVERHEAD + inner_len) {
		/* check the arguments first so that -EINVAL wins over -ENOSPC */
		struct mip4_ipv4_info in;

		rc = inner_check(inner, inner_len, &in);
		return rc < 0 ? rc : -ENOSPC;
	}
	rc = mip4_ipip_encap_hdr(w, outer_src, outer_dst, ip_id, inner, inner_len);
	if (rc < 0)
		return rc;
	writer_bytes(w, inner, inner_len);
	return writer_ok(w) ? (int)(MIP4_IPIP_OVERHEAD + inner_len) : -ENOSPC;
}

/* The packet after an encapsulation header: IPv4 of exactly len bytes, TTL > 0. */
static int inner_parse(const void *pkt, size_t len, size_t off, struct mip4_ipv4_info *out)
{
	struct mip4_ipv4_info in;
	int rc = ipv4_header(pkt, len, true, &in);

	if (rc < 0)
		return rc;
	if (in.ttl == 0)
		return -ETIME;   /* RFC 2003 §3.1: the decapsulator MUST discard it */
	in.off = off;
	*out = in;
	return 0;
}

int mip4_ipip_decap(const void *pkt, size_t len, struct mip4_ipip_info *out)
{
	struct mip4_ipv4_info outer, inner;
	struct reader r;
	const uint8_t *payload;
	int rc;

	if (!out || (!pkt && len))
		return -EINVAL;
	rc = ipv4_header(pkt, len, false, &outer);
	if (rc < 0)
		return rc;
	if (outer.proto != MIP4_IPIP_PROTO)
		return -ENOMSG;
	if (outer.fragment)
		return -EOPNOTSUPP;   /* no reassembly in this data path */
	reader_init(&r, pkt, outer.len);
	if (!reader_skip(&r, outer.hdr_len) ||
	    !reader_view(&r, outer.len - outer.hdr_len, &payload))
		return -EBADMSG;
	rc = inner_parse(payload, outer.len - outer.hdr_len, outer.hdr_len, &inner);
	if (rc < 0)
		return rc;
	out->outer_src = outer.src;
	out->outer_dst = outer.dst;
	out->inner = inner;
	return 0;
}

int mip4_udp_tunnel_encap_hdr(struct writer *w)
{
	if (!w)
		return -EINVAL;
	return mip4_tunnel_hdr_encode(w, MIP4_IPIP_PROTO);
}

int mip4_udp_tunnel_encap(struct writer *w, const void *inner, size_t inner_len)
{
	struct mip4_ipv4_info in;
	int rc;

	if (!w)
		return -EINVAL;
	rc = inner_check(inner, inner_len, &in);
	if (rc < 0)
		return rc;
	if (writer_room(w) < MIP4_UDP_TUNNEL_OVERHEAD + inner_len)
		return -ENOSPC;
	/* RFC 3519 §3.3: Type 4, Next Header 4 (IP-in-UDP, RFC 2003 header), Reserved 0 */
	mip4_tunnel_hdr_encode(w, MIP4_IPIP_PROTO);
	writer_bytes(w, inner, inner_len);
	return writer_ok(w) ? (int)(MIP4_UDP_TUNNEL_OVERHEAD + inner_len) : -ENOSPC;
}

int mip4_udp_tunnel_decap(const void *payload, size_t len, struct mip4_ipv4_info *out)
{
	struct reader r;
	const uint8_t *rest;
	size_t n, off;
	uint8_t nh;
	int rc;

	if (!out || (!payload && len))
		return -EINVAL;
	reader_init(&r, payload, len);
	rc = mip4_tunnel_hdr_parse(&r, &nh);
	if (rc < 0)
		return rc;
	/* RFC 3519 §3.3: the Next Header must match the tunnelling mode (IP-in-UDP) */
	if (nh != MIP4_IPIP_PROTO)
		return -EPROTONOSUPPORT;
	off = reader_offset(&r);
	if (!reader_view_rest(&r, &rest, &n))
		return -EBADMSG;
	return inner_parse(rest, n, off, out);
}

int mip4_icmp_echo_build(struct writer *w, struct in_addr src, struct in_addr dst, bool reply,
			 uint16_t ip_id, uint16_t echo_id, uint16_t seq, const void *data,
			 size_t data_len)
{
	size_t total = MIP4_IPV4_HDR_MIN + MIP4_ICMP_ECHO_HDR + data_len, icmp_at, csum_at;
	uint8_t *icmp;
	int rc;

	if (!w || (!data && data_len))
		return -EINVAL;
	if (total > MIP4_IPV4_MAX)
		return -EINVAL;
	if (writer_room(w) < total)
		return -ENOSPC;
	rc = ipv4_header_write(w, 0, total, ip_id, false, DEFAULT_TTL, IPPROTO_ICMP_, src, dst);
	if (rc < 0)
		return rc;
	icmp_at = writer_len(w);
	writer_u8(w, reply ? ICMP_ECHO_REPLY : ICMP_ECHO_REQUEST);
	writer_u8(w, 0);                      /* code */
	writer_reserve(w, 2, &csum_at);
	writer_be16(w, echo_id);
	writer_be16(w, seq);
	writer_bytes(w, data, data_len);
	if (!writer_ok(w) || !writer_view(w, icmp_at, MIP4_ICMP_ECHO_HDR + data_len, &icmp))
		return -ENOSPC;
	writer_patch_be16(w, csum_at, mip4_inet_checksum(icmp, MIP4_ICMP_ECHO_HDR + data_len));
	return (int)total;
}

int mip4_keepalive_request_encode(struct writer *w, struct in_addr hoa, struct in_addr ha,
				  uint16_t ip_id, uint16_t echo_id, uint16_t seq)
{
	if (!w)
		return -EINVAL;
	if (writer_room(w) < MIP4_KEEPALIVE_LEN)
		return -ENOSPC;
	/* RFC 3519 §4.9: "a properly UDP encapsulated ICMP echo request directed to the home
	 * agent", carried like data (§3.3 header, Next Header 4). */
	mip4_tunnel_hdr_encode(w, MIP4_IPIP_PROTO);
	mip4_icmp_echo_build(w, hoa, ha, false, ip_id, echo_id, seq, NULL, 0);
	return writer_ok(w) ? MIP4_KEEPALIVE_LEN : -ENOSPC;
}

/* ICMP echo fields of an IPv4 packet that mip4_ipv4_parse accepted. */
static int echo_parse(const void *pkt, const struct mip4_ipv4_info *ip, uint8_t *type,
		      struct mip4_keepalive *out)
{
	struct reader r;
	const uint8_t *icmp;
	size_t icmp_len = ip->len - ip->hdr_len;
	uint8_t t, code;
	uint16_t csum, id, seq;

	reader_init(&r, pkt, ip->len);
	reader_skip(&r, ip->hdr_len);
	if (!reader_view(&r, icmp_len, &icmp) || icmp_len < MIP4_ICMP_ECHO_HDR)
		return -EBADMSG;
	reader_init(&r, icmp, icmp_len);
	reader_u8(&r, &t);
	reader_u8(&r, &code);
	reader_be16(&r, &csum);
	reader_be16(&r, &id);
	reader_be16(&r, &seq);
	if (!reader_ok(&r))
		return -EBADMSG;
	(void)csum;
	if (code != 0 || (t != ICMP_ECHO_REQUEST && t != ICMP_ECHO_REPLY))
		return 0;
	if (mip4_inet_checksum(icmp, icmp_len) != 0)
		return -EBADMSG;
	*type = t;
	out->src = ip->src;
	out->dst = ip->dst;
	out->echo_id = id;
	out->seq = seq;
	out->data_off = ip->hdr_len + MIP4_ICMP_ECHO_HDR;
	out->data_len = icmp_len - MIP4_ICMP_ECHO_HDR;
	return 1;
}

int mip4_keepalive_classify(const void *pkt, size_t len, struct in_addr ha,
			    struct mip4_keepalive *out)
{
	struct mip4_ipv4_info ip;
	struct mip4_keepalive ka;
	uint8_t type = 0;
	int rc, kind;

	if (!pkt && len)
		return -EINVAL;
	rc = ipv4_header(pkt, len, true, &ip);
	if (rc < 0)
		return rc;
	if (ip.proto != IPPROTO_ICMP_ || ip.fragment)
		return MIP4_KEEPALIVE_NONE;
	if (ip.dst.s_addr != ha.s_addr && ip.src.s_addr != ha.s_addr)
		return MIP4_KEEPALIVE_NONE;
	rc = echo_parse(pkt, &ip, &type, &ka);
	if (rc <= 0)
		return rc;
	if (type == ICMP_ECHO_REQUEST && ip.dst.s_addr == ha.s_addr)
		kind = MIP4_KEEPALIVE_REQUEST;
	else if (type == ICMP_ECHO_REPLY && ip.src.s_addr == ha.s_addr)
		kind = MIP4_KEEPALIVE_REPLY;
	else
		return MIP4_KEEPALIVE_NONE;
	if (out)
		*out = ka;
	return kind;
}

int mip4_keepalive_reply_encode(struct writer *w, const void *req, size_t req_len,
				struct in_addr ha, uint16_t ip_id)
{
	struct mip4_keepalive ka;
	struct reader r;
	const uint8_t *data;
	int rc;

	if (!w || !req)
		return -EINVAL;
	rc = mip4_keepalive_classify(req, req_len, ha, &ka);
	if (rc < 0)
		return rc;
	if (rc != MIP4_KEEPALIVE_REQUEST)
		return -EINVAL;
	reader_init(&r, req, req_len);
	reader_skip(&r, ka.data_off);
	if (!reader_view(&r, ka.data_len, &data))
		return -EINVAL;
	if (writer_room(w) < MIP4_KEEPALIVE_LEN + ka.data_len)
		return -ENOSPC;
	mip4_tunnel_hdr_encode(w, MIP4_IPIP_PROTO);
	/* RFC 792: the reply returns the identifier, sequence number and data */
	rc = mip4_icmp_echo_build(w, ha, ka.src, true, ip_id, ka.echo_id, ka.seq, data,
				  ka.data_len);
	if (rc < 0)
		return rc;
	return writer_ok(w) ? (int)(MIP4_UDP_TUNNEL_OVERHEAD + (size_t)rc) : -ENOSPC;
}
