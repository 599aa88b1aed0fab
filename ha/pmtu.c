/* Tunnel path MTU: the decision and the "fragmentation needed" message. See pmtu.h. */
#include "ha/pmtu.h"

#include <errno.h>
#include <string.h>

#include "mip4/agent.h"
#include "mip4/tunnel.h"

#define IPPROTO_ICMP_ 1
#define ICMP_TTL 64
#define QUOTE_PAYLOAD 8          /* RFC 792: "the first 64 bits of the original data" */

enum ha_pmtu_verdict ha_pmtu_check(size_t inner_len, bool df, unsigned tunnel_pmtu,
				   unsigned overhead)
{
	if (tunnel_pmtu == 0 || inner_len + overhead <= tunnel_pmtu)
		return HA_PMTU_FITS;
	return df ? HA_PMTU_TOO_BIG_DF : HA_PMTU_TOO_BIG;
}

uint16_t ha_pmtu_next_hop_mtu(unsigned tunnel_pmtu, unsigned overhead)
{
	unsigned m = tunnel_pmtu > overhead ? tunnel_pmtu - overhead : 0;

	if (m < HA_PMTU_MIN)
		m = HA_PMTU_MIN;
	if (m > 65535)
		m = 65535;
	return (uint16_t)m;
}

/* RFC 1122 §3.2.2 / §3.2.1.3: a source that does not name a single host. */
static bool bad_source(uint32_t a)
{
	uint8_t first = (uint8_t)(a >> 24);

	return first == 0 || first == 127 || first >= 224;
}

/* RFC 1122 §3.2.2: no error about a datagram sent to a broadcast or multicast address. The
 * home agent knows no subnet broadcast beyond the limited one for inner destinations. */
static bool bad_destination(uint32_t a)
{
	return (a >> 28) == 0xe || a == 0xffffffffu;
}

/* ICMP types that are error messages (RFC 792, RFC 1122 §3.2.2: never answered). Everything
 * else (echo, timestamp, ... and unknown types) is a query, which may be answered. */
static bool icmp_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* The checks shared by ha_pmtu_may_answer and the builder; ip filled on success. */
static int check_inner(const void *inner, size_t inner_len, struct mip4_ipv4_info *ip)
{
	struct mip4_ipv4_info info;
	struct reader r;
	uint8_t type;

	if (!inner)
		return -EINVAL;
	if (mip4_ipv4_parse(inner, inner_len, &info) < 0)
		return -EBADMSG;
	if (bad_source(ntohl(info.src.s_addr)) || bad_destination(ntohl(info.dst.s_addr)))
		return -EPERM;
	reader_init(&r, inner, inner_len);
	if (info.fragment) {
		uint16_t frag;

		/* Only the first fragment (offset 0) may be answered (RFC 1122 §3.2.2). */
		if (!reader_skip(&r, 6) || !reader_be16(&r, &frag))
			return -EBADMSG;
		if (frag & 0x1fff)
			return -EPERM;
		reader_init(&r, inner, inner_len);
	}
	if (info.proto == IPPROTO_ICMP_) {
		/* An ICMP message too short to show its type cannot be told from an error. */
		if (!reader_skip(&r, info.hdr_len) || !reader_u8(&r, &type) || icmp_is_error(type))
			return -EPERM;
	}
	*ip = info;
	return 0;
}

int ha_pmtu_may_answer(const void *inner, size_t inner_len)
{
	struct mip4_ipv4_info ip;

	return check_inner(inner, inner_len, &ip);
}

int ha_pmtu_frag_needed_build(struct writer *w, struct in_addr ha, const void *inner,
			      size_t inner_len, uint16_t next_hop_mtu, uint16_t ip_id)
{
	struct mip4_ipv4_info ip;
	const uint8_t *quote;
	size_t quote_len, total, ip_off, icmp_off, start;
	uint8_t *view;
	struct reader r;
	int rc;

	if (!w)
		return -EINVAL;
	rc = check_inner(inner, inner_len, &ip);
	if (rc < 0)
		return rc;
	quote_len = ip.hdr_len + (ip.len - ip.hdr_len < QUOTE_PAYLOAD ?
				  ip.len - ip.hdr_len : QUOTE_PAYLOAD);
	reader_init(&r, inner, inner_len);
	if (!reader_view(&r, quote_len, &quote))
		return -EBADMSG;
	total = MIP4_IPV4_HDR_MIN + 8 + quote_len;
	if (writer_room(w) < total)
		return -ENOSPC;

	/* IPv4 header (RFC 791), DF clear: the message is small. */
	start = writer_len(w);
	writer_u8(w, 0x45);
	writer_u8(w, 0);
	writer_be16(w, (uint16_t)total);
	writer_be16(w, ip_id);
	writer_be16(w, 0);
	writer_u8(w, ICMP_TTL);
	writer_u8(w, IPPROTO_ICMP_);
	writer_reserve(w, 2, &ip_off);
	writer_bytes(w, &ha.s_addr, 4);
	writer_bytes(w, &ip.src.s_addr, 4);
	/* ICMP Destination Unreachable (RFC 792) with the Next-Hop MTU (RFC 1191 §4). */
	writer_u8(w, HA_ICMP_DEST_UNREACH);
	writer_u8(w, HA_ICMP_FRAG_NEEDED);
	writer_reserve(w, 2, &icmp_off);
	writer_be16(w, 0);
	writer_be16(w, next_hop_mtu);
	writer_bytes(w, quote, quote_len);
	if (!writer_ok(w))
		return -ENOSPC;
	if (!writer_view(w, start, MIP4_IPV4_HDR_MIN, &view))
		return -ENOSPC;
	writer_patch_be16(w, ip_off, mip4_inet_checksum(view, MIP4_IPV4_HDR_MIN));
	if (!writer_view(w, start + MIP4_IPV4_HDR_MIN, total - MIP4_IPV4_HDR_MIN, &view))
		return -ENOSPC;
	writer_patch_be16(w, icmp_off,
			  mip4_inet_checksum(view, total - MIP4_IPV4_HDR_MIN));
	return (int)total;
}

/* --- cache ------------------------------------------------------------------------------ */

void ha_pmtu_cache_init(struct ha_pmtu_cache *c)
{
	memset(c, 0, sizeof(*c));
}

static int find(const struct ha_pmtu_cache *c, struct in_addr addr)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->e[i].addr.s_addr == addr.s_addr)
			return (int)i;
	return -1;
}

void ha_pmtu_cache_learn(struct ha_pmtu_cache *c, struct in_addr addr, unsigned mtu,
			 mm_time_ns now)
{
	int i = find(c, addr);

	if (mtu < HA_PMTU_MIN)
		mtu = HA_PMTU_MIN;
	if (i < 0) {
		if (c->n < HA_PMTU_CACHE_SLOTS) {
			i = (int)c->n++;
		} else {
			i = 0;
			for (unsigned k = 1; k < c->n; k++)
				if (c->e[k].learned < c->e[i].learned)
					i = (int)k;
		}
	}
	c->e[i].addr = addr;
	c->e[i].mtu = mtu;
	c->e[i].learned = now;
}

unsigned ha_pmtu_cache_get(struct ha_pmtu_cache *c, struct in_addr addr, mm_time_ns now)
{
	int i;

	if (c->n == 0)
		return 0;
	i = find(c, addr);
	if (i < 0)
		return 0;
	if (now - c->e[i].learned >= HA_PMTU_AGE || now < c->e[i].learned) {
		c->e[i] = c->e[--c->n];
		return 0;
	}
	return c->e[i].mtu;
}

/* --- rate limit ------------------------------------------------------------------------- */

void ha_pmtu_rl_init(struct ha_pmtu_rl *rl)
{
	memset(rl, 0, sizeof(*rl));
}

bool ha_pmtu_rl_allow(struct ha_pmtu_rl *rl, mm_time_ns now)
{
	if (!rl->started) {
		rl->started = true;
		rl->tokens = HA_PMTU_ICMP_RATE;
		rl->last = now;
	} else if (now > rl->last) {
		/* Refill one token per 1/RATE second elapsed, capped at the burst. */
		uint64_t add = (now - rl->last) / (MM_SEC(1) / HA_PMTU_ICMP_RATE);

		if (add) {
			rl->tokens = add >= HA_PMTU_ICMP_RATE || rl->tokens + add > HA_PMTU_ICMP_RATE
				     ? HA_PMTU_ICMP_RATE : rl->tokens + (unsigned)add;
			rl->last += add * (MM_SEC(1) / HA_PMTU_ICMP_RATE);
		}
	}
	if (rl->tokens == 0)
		return false;
	rl->tokens--;
	return true;
}
