/* MOBIKE decisions (RFC 4555). See mobike.h. */
#include "policy/mobike.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool policy_addr_usable(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);
	uint8_t top = (uint8_t)(h >> 24);

	/* "this network" (0/8), loopback (127/8), multicast (224/4), reserved and the limited
	 * broadcast (240/4): none can be the outer address of a tunnel. */
	return top != 0 && top != 127 && top < 224;
}

static bool in_list(const struct in_addr *l, size_t n, struct in_addr a)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].s_addr == a.s_addr)
			return true;
	return false;
}

/* The usable, distinct addresses of l[0, n), in order, at most POLICY_MOBIKE_MAX_ADDRS. */
static size_t clean(const struct in_addr *l, size_t n, struct in_addr *out)
{
	size_t k = 0;

	for (size_t i = 0; l && i < n && k < POLICY_MOBIKE_MAX_ADDRS; i++)
		if (policy_addr_usable(l[i]) && !in_list(out, k, l[i]))
			out[k++] = l[i];
	return k;
}

size_t policy_mobike_pairs(const struct in_addr *local, size_t nlocal,
			   const struct in_addr *peer, size_t npeer,
			   const struct policy_addr_pair *failing,
			   struct policy_addr_pair *out, size_t max)
{
	struct in_addr l[POLICY_MOBIKE_MAX_ADDRS], p[POLICY_MOBIKE_MAX_ADDRS];
	size_t nl = clean(local, nlocal, l), np = clean(peer, npeer, p), n = 0;
	bool have_failing = false;

	if (!out)
		return 0;
	/* RFC 4555 3.5: the initiator's own address selection first (the interface it prefers),
	 * then the peer's order: the peer lists its addresses as it prefers them (3.6). */
	for (size_t i = 0; i < nl; i++) {
		for (size_t j = 0; j < np; j++) {
			if (failing && l[i].s_addr == failing->local.s_addr &&
			    p[j].s_addr == failing->remote.s_addr) {
				have_failing = true;
				continue;
			}
			if (n < max)
				out[n++] = (struct policy_addr_pair){ l[i], p[j] };
		}
	}
	/* 3.10: the path that failed may come back; it is tried, but last. */
	if (have_failing && n < max)
		out[n++] = *failing;
	return n;
}

bool policy_prefix4_contains(const struct policy_prefix4 *p, struct in_addr a)
{
	uint32_t mask;

	if (!p || p->len > 32)
		return false;
	mask = p->len ? UINT32_MAX << (32 - p->len) : 0;
	return (ntohl(a.s_addr) & mask) == (ntohl(p->net.s_addr) & mask);
}

int policy_prefix4_parse(const char *text, struct policy_prefix4 *out)
{
	char buf[INET_ADDRSTRLEN + 4];
	const char *slash;
	struct policy_prefix4 v;
	size_t alen;
	uint32_t mask;

	if (!text || !out)
		return -EINVAL;
	slash = strchr(text, '/');
	alen = slash ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen >= INET_ADDRSTRLEN)
		return -EINVAL;
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	memset(&v, 0, sizeof(v));
	if (inet_pton(AF_INET, buf, &v.net) != 1)
		return -EINVAL;
	v.len = 32;
	if (slash) {
		const char *d = slash + 1;
		unsigned len = 0;

		if (*d == '\0' || strlen(d) > 2)
			return -EINVAL;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return -EINVAL;
			len = len * 10 + (unsigned)(*d - '0');
		}
		if (len > 32)
			return -EINVAL;
		v.len = (uint8_t)len;
	}
	/* Host bits set is most likely a typo (198.18.1.0/15): refuse it rather than guess. */
	mask = v.len ? UINT32_MAX << (32 - v.len) : 0;
	if (ntohl(v.net.s_addr) & ~mask)
		return -EINVAL;
	*out = v;
	return 0;
}

static struct policy_mobike_decision decide(enum policy_mobike_verdict v, const char *why)
{
	struct policy_mobike_decision d = { v, why };

	return d;
}

struct policy_mobike_decision policy_mobike_accept(const struct policy_mobike_cfg *cfg,
						   const struct policy_mobike_update *u)
{
	static const struct policy_mobike_cfg defaults;
	bool known;

	if (!cfg)
		cfg = &defaults;
	if (!u)
		return decide(POLICY_MOBIKE_REFUSE, "no update");
	if (!policy_addr_usable(u->new_addr))
		return decide(POLICY_MOBIKE_REFUSE, "not a unicast address");
	if (cfg->nallowed) {
		bool inside = false;

		for (size_t i = 0; i < cfg->nallowed && i < POLICY_MOBIKE_MAX_PREFIXES; i++)
			inside = inside || policy_prefix4_contains(&cfg->allowed[i], u->new_addr);
		if (!inside)
			return decide(POLICY_MOBIKE_REFUSE, "address outside the allowed prefixes");
	}
	/* RFC 4555 3.9: the peer says no NAT may be on its path, and NAT detection sees one. */
	if (u->no_nats && u->nat)
		return decide(POLICY_MOBIKE_REFUSE, "NAT on a path the peer declared NAT-free "
			      "(NO_NATS_ALLOWED)");
	if (cfg->refuse_nat && u->nat)
		return decide(POLICY_MOBIKE_REFUSE, "NAT on the new path, and NATs are refused");
	if (u->new_addr.s_addr == u->old_addr.s_addr && u->new_port == u->old_port)
		return decide(POLICY_MOBIKE_ACCEPT, "same address");
	/* 3.7: return routability "SHOULD be performed" by default; before the IPsec SAs move. */
	switch (cfg->rr) {
	case POLICY_MOBIKE_RR_NEVER:
		return decide(POLICY_MOBIKE_ACCEPT, "return routability checks are off");
	case POLICY_MOBIKE_RR_ALWAYS:
		return decide(POLICY_MOBIKE_ACCEPT_AFTER_RR, "return routability check on every "
			      "change");
	case POLICY_MOBIKE_RR_NEW_ADDRESS:
	default:
		break;
	}
	known = u->new_addr.s_addr == u->old_addr.s_addr ||
		(u->verified && in_list(u->verified, u->nverified, u->new_addr));
	if (known)
		return decide(POLICY_MOBIKE_ACCEPT, "address already verified for this SA");
	return decide(POLICY_MOBIKE_ACCEPT_AFTER_RR, "new address for this SA");
}

const char *policy_mobike_verdict_name(enum policy_mobike_verdict v)
{
	switch (v) {
	case POLICY_MOBIKE_ACCEPT:
		return "accept";
	case POLICY_MOBIKE_ACCEPT_AFTER_RR:
		return "accept after return routability check";
	case POLICY_MOBIKE_REFUSE:
		return "refuse";
	}
	return "?";
}

const char *policy_mobike_rr_name(enum policy_mobike_rr rr)
{
	switch (rr) {
	case POLICY_MOBIKE_RR_NEW_ADDRESS:
		return "new-address";
	case POLICY_MOBIKE_RR_ALWAYS:
		return "always";
	case POLICY_MOBIKE_RR_NEVER:
		return "never";
	}
	return "?";
}
