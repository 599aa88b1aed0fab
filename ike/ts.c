/* Traffic selector narrowing (RFC 7296 2.9, 3.13.1). See ts.h. */
#include "ike/ts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

void ike_ts4_any(struct ike_ts4_list *out)
{
	memset(out, 0, sizeof(*out));
	out->n = 1;
	out->ts[0].start.s_addr = htonl(0);
	out->ts[0].end.s_addr = htonl(0xffffffffu);
	out->ts[0].start_port = 0;
	out->ts[0].end_port = 65535;
}

void ike_ts4_host(struct ike_ts4_list *out, struct in_addr addr)
{
	ike_ts4_any(out);
	out->ts[0].start = addr;
	out->ts[0].end = addr;
}

bool ike_ts4_is_empty(const struct ike_ts4_list *l)
{
	return !l || l->n == 0;
}

void ike_ts_from_wire(const struct ike_ts_list *in, struct ike_ts4_list *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < in->n && out->n < IKE_CFG_MAX_TS; i++) {
		const struct ike_ts *t = &in->ts[i];
		struct ike_ts4 *o = &out->ts[out->n];

		if (t->type != IKE_TS_IPV4_ADDR_RANGE)
			continue;
		memcpy(&o->start.s_addr, t->start, 4);
		memcpy(&o->end.s_addr, t->end, 4);
		o->ip_proto = t->ip_proto;
		o->start_port = t->start_port;
		o->end_port = t->end_port;
		out->n++;
	}
}

void ike_ts_to_wire(const struct ike_ts4_list *in, struct ike_ts_list *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < in->n && i < IKE_CFG_MAX_TS && out->n < IKE_TS_MAX; i++) {
		const struct ike_ts4 *t = &in->ts[i];

		ike_ts_set_ipv4(&out->ts[out->n++], t->ip_proto, t->start_port, t->end_port,
				t->start, t->end);
	}
}

/* Host-order bounds; an "OPAQUE" port range (65535..0, 3.13.1) intersects nothing. */
static bool intersect(const struct ike_ts4 *a, const struct ike_ts4 *b, struct ike_ts4 *out)
{
	uint32_t as = ntohl(a->start.s_addr), ae = ntohl(a->end.s_addr);
	uint32_t bs = ntohl(b->start.s_addr), be = ntohl(b->end.s_addr);
	uint32_t s = as > bs ? as : bs, e = ae < be ? ae : be;
	uint16_t ps = a->start_port > b->start_port ? a->start_port : b->start_port;
	uint16_t pe = a->end_port < b->end_port ? a->end_port : b->end_port;
	uint8_t proto;

	if (as > ae || bs > be || s > e || ps > pe)
		return false;
	if (a->ip_proto && b->ip_proto && a->ip_proto != b->ip_proto)
		return false;
	proto = a->ip_proto ? a->ip_proto : b->ip_proto;
	out->start.s_addr = htonl(s);
	out->end.s_addr = htonl(e);
	out->ip_proto = proto;
	out->start_port = ps;
	out->end_port = pe;
	return true;
}

static bool same(const struct ike_ts4 *a, const struct ike_ts4 *b)
{
	return a->start.s_addr == b->start.s_addr && a->end.s_addr == b->end.s_addr &&
	       a->ip_proto == b->ip_proto && a->start_port == b->start_port &&
	       a->end_port == b->end_port;
}

int ike_ts_narrow(const struct ike_ts4_list *proposed, const struct ike_ts4_list *allowed,
		  struct ike_ts4_list *out)
{
	struct ike_ts4_list r;

	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < proposed->n && i < IKE_CFG_MAX_TS; i++) {
		for (size_t j = 0; j < allowed->n && j < IKE_CFG_MAX_TS; j++) {
			struct ike_ts4 x;
			bool dup = false;

			if (!intersect(&proposed->ts[i], &allowed->ts[j], &x))
				continue;
			for (size_t k = 0; k < r.n; k++)
				dup = dup || same(&r.ts[k], &x);
			if (!dup && r.n < IKE_CFG_MAX_TS)
				r.ts[r.n++] = x;
		}
	}
	if (r.n == 0)
		return -ENOENT;
	*out = r;
	return 0;
}

static bool inside(const struct ike_ts4 *in, const struct ike_ts4 *out)
{
	return ntohl(in->start.s_addr) >= ntohl(out->start.s_addr) &&
	       ntohl(in->end.s_addr) <= ntohl(out->end.s_addr) &&
	       ntohl(in->start.s_addr) <= ntohl(in->end.s_addr) &&
	       (out->ip_proto == 0 || in->ip_proto == out->ip_proto) &&
	       in->start_port >= out->start_port && in->end_port <= out->end_port &&
	       in->start_port <= in->end_port;
}

bool ike_ts_within(const struct ike_ts4_list *got, const struct ike_ts4_list *proposed)
{
	if (got->n == 0)
		return false;
	for (size_t i = 0; i < got->n && i < IKE_CFG_MAX_TS; i++) {
		bool ok = false;

		for (size_t j = 0; j < proposed->n && j < IKE_CFG_MAX_TS && !ok; j++)
			ok = inside(&got->ts[i], &proposed->ts[j]);
		if (!ok)
			return false;
	}
	return true;
}

const char *ike_ts4_str(const struct ike_ts4 *t, char *buf, size_t size)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], ports[32] = "";

	inet_ntop(AF_INET, &t->start, a, sizeof(a));
	inet_ntop(AF_INET, &t->end, b, sizeof(b));
	if (t->ip_proto || t->start_port != 0 || t->end_port != 65535)
		snprintf(ports, sizeof(ports), "[%u/%u-%u]", t->ip_proto, t->start_port,
			 t->end_port);
	if (t->start.s_addr == t->end.s_addr)
		snprintf(buf, size, "%s%s", a, ports);
	else
		snprintf(buf, size, "%s-%s%s", a, b, ports);
	return buf;
}
