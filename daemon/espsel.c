/* Traffic selectors against inner packets (see espsel.h). */
#include "daemon/espsel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "common/buf.h"

#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP 6
#define IP_PROTO_UDP 17
#define IP_PROTO_SCTP 132
#define IP_FRAG_OFFSET_MASK 0x1fff

int sel_parse(const void *pkt, size_t len, struct sel_pkt *out)
{
	struct sel_pkt p;
	struct reader r, l4;
	uint8_t vihl, tos, ttl, proto;
	uint16_t total, id, frag, csum;
	uint32_t src, dst;
	size_t hlen;

	memset(&p, 0, sizeof(p));
	reader_init(&r, pkt, len);
	/* RFC 791 3.1. */
	if (!reader_u8(&r, &vihl) || !reader_u8(&r, &tos) || !reader_be16(&r, &total) ||
	    !reader_be16(&r, &id) || !reader_be16(&r, &frag) || !reader_u8(&r, &ttl) ||
	    !reader_u8(&r, &proto) || !reader_be16(&r, &csum) || !reader_be32(&r, &src) ||
	    !reader_be32(&r, &dst))
		return -EBADMSG;
	hlen = (size_t)(vihl & 0x0f) * 4;
	if ((vihl >> 4) != 4 || hlen < 20 || total != len || hlen > len)
		return -EBADMSG;
	if (!reader_skip(&r, hlen - 20))
		return -EBADMSG;
	p.src.s_addr = htonl(src);
	p.dst.s_addr = htonl(dst);
	p.proto = proto;
	p.ttl = ttl;
	if ((frag & IP_FRAG_OFFSET_MASK) == 0) {
		uint16_t a, b;
		uint8_t type, code;

		reader_sub_rest(&r, &l4);
		switch (proto) {
		case IP_PROTO_TCP:
		case IP_PROTO_UDP:
		case IP_PROTO_SCTP:
			if (reader_be16(&l4, &a) && reader_be16(&l4, &b)) {
				p.has_ports = true;
				p.sport = a;
				p.dport = b;
			}
			break;
		case IP_PROTO_ICMP:
			if (reader_u8(&l4, &type) && reader_u8(&l4, &code)) {
				p.has_ports = true;
				p.sport = p.dport = (uint16_t)(type << 8 | code);
			}
			break;
		default:
			break;
		}
	}
	*out = p;
	return 0;
}

bool sel_match(const struct ike_ts4_list *l, struct in_addr addr, const struct sel_pkt *p,
	       uint16_t port)
{
	uint32_t a = ntohl(addr.s_addr);

	for (size_t i = 0; i < l->n && i < IKE_CFG_MAX_TS; i++) {
		const struct ike_ts4 *t = &l->ts[i];
		bool all_ports = t->start_port == 0 && t->end_port == 65535;

		if (a < ntohl(t->start.s_addr) || a > ntohl(t->end.s_addr))
			continue;
		if (t->ip_proto && t->ip_proto != p->proto)
			continue;
		if (all_ports)
			return true;
		if (p->has_ports && port >= t->start_port && port <= t->end_port)
			return true;
	}
	return false;
}

bool sel_inbound_ok(const struct ike_ts4_list *local, const struct ike_ts4_list *remote,
		    const struct sel_pkt *p)
{
	return sel_match(remote, p->src, p, p->sport) && sel_match(local, p->dst, p, p->dport);
}

bool sel_outbound_ok(const struct ike_ts4_list *local, const struct ike_ts4_list *remote,
		     const struct sel_pkt *p)
{
	return sel_match(remote, p->dst, p, p->dport) && sel_match(local, p->src, p, p->sport);
}
