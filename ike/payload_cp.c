/* IKEv2 Configuration payload (RFC 7296 3.15, 3.15.1). See payload.h.
 *
 *	CP body   = CFG Type | RESERVED(3) | Attribute*
 *	Attribute = R(1)|Type(15) | Length(16) | Value(Length)
 */
#include "ike/payload.h"

#include <errno.h>
#include <string.h>

#define ATTR_R_BIT 0x8000u

/* How long an attribute's value may be (3.15.1 table and text). */
enum cp_len_kind {
	LEN_ADDR,        /* 0 (request: "a zero-length address if no specific address is
	                  * requested") or exactly `full` */
	LEN_REPLY_ONLY,  /* 0 in a request (INTERNAL_IP4_NETMASK: "Non-empty values ... in a
	                  * CFG_REQUEST ... MUST NOT be included"), `full` otherwise */
	LEN_TEXT,        /* APPLICATION_VERSION: printable ASCII, any length */
	LEN_ATTR_LIST,   /* SUPPORTED_ATTRIBUTES: 0 in a request, a multiple of 2 otherwise */
};

struct cp_rule {
	uint16_t type;
	uint8_t full;
	uint8_t kind;
};

static const struct cp_rule cp_rules[] = {
	{ IKE_CP_INTERNAL_IP4_ADDRESS, 4, LEN_ADDR },
	{ IKE_CP_INTERNAL_IP4_NETMASK, 4, LEN_REPLY_ONLY },
	{ IKE_CP_INTERNAL_IP4_DNS, 4, LEN_ADDR },
	{ IKE_CP_INTERNAL_IP4_NBNS, 4, LEN_ADDR },
	{ IKE_CP_INTERNAL_IP4_DHCP, 4, LEN_ADDR },
	{ IKE_CP_APPLICATION_VERSION, 0, LEN_TEXT },
	{ IKE_CP_INTERNAL_IP6_ADDRESS, 17, LEN_ADDR },   /* address | prefix length */
	{ IKE_CP_INTERNAL_IP6_DNS, 16, LEN_ADDR },
	{ IKE_CP_INTERNAL_IP6_DHCP, 16, LEN_ADDR },
	{ IKE_CP_INTERNAL_IP4_SUBNET, 8, LEN_ADDR },     /* address | netmask */
	{ IKE_CP_SUPPORTED_ATTRIBUTES, 0, LEN_ATTR_LIST },
	{ IKE_CP_INTERNAL_IP6_SUBNET, 17, LEN_ADDR },
};

static bool attr_ok(uint8_t cfg_type, const struct ike_cp_attr *a)
{
	const struct cp_rule *rule = NULL;
	size_t len = a->value.len;

	if (a->type & ATTR_R_BIT)
		return false;
	for (size_t i = 0; i < sizeof(cp_rules) / sizeof(cp_rules[0]); i++)
		if (cp_rules[i].type == a->type)
			rule = &cp_rules[i];
	if (!rule)
		return true;         /* 3.15.1: unrecognized attributes MUST be ignored */
	/* 3.15.1: CFG_ACK lists the accepted attributes "with zero-length data". */
	if (cfg_type == IKE_CFG_ACK)
		return len == 0;
	switch (rule->kind) {
	case LEN_ADDR:
		return len == rule->full || (len == 0 && cfg_type == IKE_CFG_REQUEST);
	case LEN_REPLY_ONLY:
		return cfg_type == IKE_CFG_REQUEST ? len == 0 : len == rule->full;
	case LEN_TEXT:
		for (size_t i = 0; i < len; i++)
			if (a->value.data[i] < 0x20 || a->value.data[i] > 0x7e)
				return false;
		return true;
	case LEN_ATTR_LIST:
		return cfg_type == IKE_CFG_REQUEST ? len == 0 : len % 2 == 0;
	}
	return false;
}

static bool cfg_type_ok(uint8_t t)
{
	return t >= IKE_CFG_REQUEST && t <= IKE_CFG_ACK;
}

int ike_cp_decode(const struct ike_payload_ref *p, struct ike_cp *out)
{
	struct ike_cp cp;
	struct reader r;

	if (p->type != IKE_PT_CP)
		return -ENOMSG;
	ike_payload_reader(p, &r);
	reader_u8(&r, &cp.cfg_type);
	if (!reader_skip(&r, 3) || !cfg_type_ok(cp.cfg_type))
		return -EBADMSG;
	cp.n_attrs = 0;
	while (reader_remaining(&r) > 0) {
		struct ike_cp_attr a;
		uint16_t type, len;

		reader_be16(&r, &type);
		if (!reader_be16(&r, &len) || !reader_view(&r, len, &a.value.data))
			return -EBADMSG;
		/* 3.15.1: the R bit "MUST be ignored on receipt". */
		a.type = type & (uint16_t)~ATTR_R_BIT;
		a.value.len = len;
		if (!attr_ok(cp.cfg_type, &a))
			return -EBADMSG;
		if (cp.n_attrs == IKE_CP_MAX_ATTRS)
			return -E2BIG;
		cp.a[cp.n_attrs++] = a;
	}
	if (!reader_ok(&r))
		return -EBADMSG;
	memcpy(out, &cp, sizeof(cp));
	return 0;
}

int ike_cp_encode(struct ike_builder *b, const struct ike_cp *cp)
{
	size_t off;
	int rc;

	if (!cfg_type_ok(cp->cfg_type) || cp->n_attrs > IKE_CP_MAX_ATTRS)
		return -EINVAL;
	for (size_t i = 0; i < cp->n_attrs; i++)
		if (!attr_ok(cp->cfg_type, &cp->a[i]) || cp->a[i].value.len > UINT16_MAX)
			return -EINVAL;
	rc = ike_build_payload_begin(b, IKE_PT_CP, &off);
	if (rc)
		return rc;
	writer_u8(b->w, cp->cfg_type);
	writer_zeros(b->w, 3);
	for (size_t i = 0; i < cp->n_attrs; i++) {
		writer_be16(b->w, cp->a[i].type);
		writer_be16(b->w, (uint16_t)cp->a[i].value.len);
		writer_bytes(b->w, cp->a[i].value.data, cp->a[i].value.len);
	}
	return ike_build_payload_end(b, off);
}

int ike_cp_attr_ip4(const struct ike_cp_attr *a, struct in_addr *addr)
{
	struct reader r;

	switch (a->type) {
	case IKE_CP_INTERNAL_IP4_ADDRESS:
	case IKE_CP_INTERNAL_IP4_NETMASK:
	case IKE_CP_INTERNAL_IP4_DNS:
	case IKE_CP_INTERNAL_IP4_NBNS:
	case IKE_CP_INTERNAL_IP4_DHCP:
		break;
	default:
		return -ENOMSG;
	}
	if (a->value.len != 4)
		return -EBADMSG;     /* empty (a request) or malformed */
	reader_init(&r, a->value.data, a->value.len);
	return reader_copy(&r, &addr->s_addr, 4) ? 0 : -EBADMSG;
}

int ike_cp_attr_ip4_subnet(const struct ike_cp_attr *a, struct in_addr *addr,
			   struct in_addr *mask)
{
	struct reader r;
	struct in_addr x, m;

	if (a->type != IKE_CP_INTERNAL_IP4_SUBNET)
		return -ENOMSG;
	if (a->value.len != 8)
		return -EBADMSG;
	reader_init(&r, a->value.data, a->value.len);
	reader_copy(&r, &x.s_addr, 4);
	if (!reader_copy(&r, &m.s_addr, 4))
		return -EBADMSG;
	*addr = x;
	*mask = m;
	return 0;
}
