/* IKEv2 Traffic Selector payloads TSi/TSr (RFC 7296 3.13, 3.13.1). See payload.h.
 *
 *	TS body  = Number of TSs | RESERVED(3) | Traffic Selector{Number}
 *	Selector = TS Type | IP Protocol ID | Selector Length(16) | Start Port | End Port |
 *	           Starting Address | Ending Address            (types 7 and 8)
 */
#include "ike/payload.h"

#include <errno.h>
#include <string.h>

#define SEL_HDR_LEN 4             /* TS Type, IP Protocol ID, Selector Length */
#define SEL_IPV4_LEN 16           /* 4 + ports 4 + 2 * 4 */
#define SEL_IPV6_LEN 40           /* 4 + ports 4 + 2 * 16 */

static size_t addr_len(uint8_t type)
{
	return type == IKE_TS_IPV4_ADDR_RANGE ? 4 : type == IKE_TS_IPV6_ADDR_RANGE ? 16 : 0;
}

/* 3.13.1: the range runs from the smallest to the largest address, inclusive; ports likewise,
 * except 65535..0 which means OPAQUE. */
static bool ts_ok(const struct ike_ts *ts)
{
	size_t n = addr_len(ts->type);

	if (n == 0 || memcmp(ts->start, ts->end, n) > 0)
		return false;
	/* Octets past the address length stay zero so values compare equal. */
	for (size_t i = n; i < sizeof(ts->start); i++)
		if (ts->start[i] || ts->end[i])
			return false;
	return ts->start_port <= ts->end_port ||
	       (ts->start_port == 65535 && ts->end_port == 0);
}

int ike_ts_decode(const struct ike_payload_ref *p, struct ike_ts_list *out)
{
	struct ike_ts_list l;
	struct reader r;
	uint8_t count;

	if (p->type != IKE_PT_TSI && p->type != IKE_PT_TSR)
		return -ENOMSG;
	ike_payload_reader(p, &r);
	reader_u8(&r, &count);
	if (!reader_skip(&r, 3) || count == 0)
		return -EBADMSG;     /* 3.13: "One or more individual Traffic Selectors" */
	memset(&l, 0, sizeof(l));
	for (size_t i = 0; i < count; i++) {
		uint8_t type, proto;
		uint16_t len;
		struct reader sel;
		struct ike_ts *ts;
		size_t alen;

		reader_u8(&r, &type);
		reader_u8(&r, &proto);
		if (!reader_be16(&r, &len) || len < SEL_HDR_LEN ||
		    !reader_sub(&r, len - SEL_HDR_LEN, &sel))
			return -EBADMSG;
		alen = addr_len(type);
		if (alen == 0) {
			/* A type defined after RFC 7296: its Selector Length steps over it; the
			 * engine answers TS_UNACCEPTABLE if nothing usable is left. */
			l.n_unknown++;
			continue;
		}
		if (len != (alen == 4 ? SEL_IPV4_LEN : SEL_IPV6_LEN))
			return -EBADMSG;
		if (l.n == IKE_TS_MAX)
			return -E2BIG;
		ts = &l.ts[l.n];
		ts->type = type;
		ts->ip_proto = proto;
		reader_be16(&sel, &ts->start_port);
		reader_be16(&sel, &ts->end_port);
		reader_copy(&sel, ts->start, alen);
		if (!reader_copy(&sel, ts->end, alen) || !ts_ok(ts))
			return -EBADMSG;
		l.n++;
	}
	/* Number of TSs and the Payload Length must agree. */
	if (!reader_done(&r))
		return -EBADMSG;
	*out = l;
	return 0;
}

int ike_ts_encode(struct ike_builder *b, uint8_t payload_type, const struct ike_ts_list *l)
{
	size_t off;
	int rc;

	if ((payload_type != IKE_PT_TSI && payload_type != IKE_PT_TSR) || l->n == 0 ||
	    l->n > IKE_TS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < l->n; i++)
		if (!ts_ok(&l->ts[i]))
			return -EINVAL;
	rc = ike_build_payload_begin(b, payload_type, &off);
	if (rc)
		return rc;
	writer_u8(b->w, l->n);
	writer_zeros(b->w, 3);
	for (size_t i = 0; i < l->n; i++) {
		const struct ike_ts *ts = &l->ts[i];
		size_t alen = addr_len(ts->type);

		writer_u8(b->w, ts->type);
		writer_u8(b->w, ts->ip_proto);
		writer_be16(b->w, alen == 4 ? SEL_IPV4_LEN : SEL_IPV6_LEN);
		writer_be16(b->w, ts->start_port);
		writer_be16(b->w, ts->end_port);
		writer_bytes(b->w, ts->start, alen);
		writer_bytes(b->w, ts->end, alen);
	}
	return ike_build_payload_end(b, off);
}

void ike_ts_set_ipv4(struct ike_ts *ts, uint8_t ip_proto, uint16_t start_port,
		     uint16_t end_port, struct in_addr start, struct in_addr end)
{
	memset(ts, 0, sizeof(*ts));
	ts->type = IKE_TS_IPV4_ADDR_RANGE;
	ts->ip_proto = ip_proto;
	ts->start_port = start_port;
	ts->end_port = end_port;
	memcpy(ts->start, &start.s_addr, 4);
	memcpy(ts->end, &end.s_addr, 4);
}
