/* Configuration payload for remote access (RFC 7296 2.19, 3.15). See cp.h. */
#include "ike/cp.h"

#include <errno.h>
#include <string.h>

int ike_cp_add_request(struct ike_builder *b)
{
	struct ike_cp cp;

	memset(&cp, 0, sizeof(cp));
	cp.cfg_type = IKE_CFG_REQUEST;
	cp.n_attrs = 2;
	cp.a[0].type = IKE_CP_INTERNAL_IP4_ADDRESS;   /* empty: "give me one" (3.15.1) */
	cp.a[1].type = IKE_CP_INTERNAL_IP4_DNS;
	return ike_cp_encode(b, &cp);
}

int ike_cp_read_request(const struct ike_cp *cp, struct ike_cp_want *out)
{
	struct ike_cp_want w = { false, false };

	if (cp->cfg_type != IKE_CFG_REQUEST)
		return -ENOMSG;
	for (size_t i = 0; i < cp->n_attrs; i++) {
		if (cp->a[i].type == IKE_CP_INTERNAL_IP4_ADDRESS)
			w.addr = true;
		else if (cp->a[i].type == IKE_CP_INTERNAL_IP4_DNS)
			w.dns = true;
	}
	*out = w;
	return 0;
}

int ike_cp_add_reply(struct ike_builder *b, struct in_addr addr, const struct in_addr *dns,
		     size_t ndns)
{
	struct ike_cp cp;

	memset(&cp, 0, sizeof(cp));
	cp.cfg_type = IKE_CFG_REPLY;
	cp.a[cp.n_attrs++] = (struct ike_cp_attr){ IKE_CP_INTERNAL_IP4_ADDRESS,
						   { (const uint8_t *)&addr.s_addr, 4 } };
	for (size_t i = 0; i < ndns && i < IKE_CP_MAX_DNS; i++)
		cp.a[cp.n_attrs++] = (struct ike_cp_attr){ IKE_CP_INTERNAL_IP4_DNS,
							   { (const uint8_t *)&dns[i].s_addr, 4 } };
	return ike_cp_encode(b, &cp);
}

int ike_cp_read_reply(const struct ike_cp *cp, struct in_addr *addr, struct in_addr *dns,
		      size_t *ndns)
{
	struct in_addr a = { 0 }, d[IKE_CP_MAX_DNS];
	bool have = false;
	size_t n = 0;

	if (cp->cfg_type != IKE_CFG_REPLY)
		return -ENOMSG;
	for (size_t i = 0; i < cp->n_attrs; i++) {
		struct in_addr v;

		if (ike_cp_attr_ip4(&cp->a[i], &v) < 0)
			continue;
		if (cp->a[i].type == IKE_CP_INTERNAL_IP4_ADDRESS && !have) {
			a = v;
			have = true;
		} else if (cp->a[i].type == IKE_CP_INTERNAL_IP4_DNS && n < IKE_CP_MAX_DNS) {
			d[n++] = v;
		}
	}
	if (!have)
		return -ENOENT;
	*addr = a;
	memcpy(dns, d, n * sizeof(d[0]));
	*ndns = n;
	return 0;
}
