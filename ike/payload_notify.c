/* IKEv2 Notify payload (RFC 7296 3.10) and the data of the notify types whose format an RFC
 * fixes. See payload.h for the contract. */
#include "ike/payload.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* What the SPI field of a notify type must be. */
enum spi_rule {
	SPI_ANY,
	SPI_NONE,        /* about the IKE SA: SPI Size 0 (3.10) */
	SPI_CHILD,       /* about a Child SA: protocol AH/ESP, 4-octet SPI (3.10, 1.3.3) */
};

struct notify_rule {
	uint16_t type;
	uint16_t min_len;
	uint16_t max_len;
	uint8_t unit;    /* data length is a multiple of this */
	uint8_t spi;
	uint16_t alt_len;        /* another length allowed besides min..max (0: none) */
};

/* Data lengths and SPI, by type. Types not listed are not checked (status types we do not
 * know MUST be ignored, 3.10.1). Looked up linearly: the table is short. */
#define RULE(type, min, max, unit, spi) { type, min, max, unit, spi, 0 }

static const struct notify_rule notify_rules[] = {
	/* 2.5: "the Notification Data contains the one-octet payload type" */
	RULE(IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD, 1, 1, 1, SPI_NONE),
	/* 2.3: the four-octet invalid Message ID */
	RULE(IKE_N_INVALID_MESSAGE_ID, 4, 4, 1, SPI_NONE),
	/* 1.3: the accepted DH group, two octets */
	RULE(IKE_N_INVALID_KE_PAYLOAD, 2, 2, 1, SPI_NONE),
	/* 3.10.1: SPI of the Child SA, data = start of the offending packet */
	RULE(IKE_N_INVALID_SELECTORS, 0, UINT16_MAX, 1, SPI_CHILD),
	/* RFC 4555 4.1.1, 4.1.2: no data */
	RULE(IKE_N_UNACCEPTABLE_ADDRESSES, 0, 0, 1, SPI_NONE),
	RULE(IKE_N_UNEXPECTED_NAT_DETECTED, 0, 0, 1, SPI_NONE),
	/* 2.25: the SPI copied from the REKEY_SA notify */
	RULE(IKE_N_CHILD_SA_NOT_FOUND, 0, UINT16_MAX, 1, SPI_CHILD),
	/* 2.3: four octets */
	RULE(IKE_N_SET_WINDOW_SIZE, 4, 4, 1, SPI_NONE),
	/* 2.9: no data */
	RULE(IKE_N_ADDITIONAL_TS_POSSIBLE, 0, 0, 1, SPI_NONE),
	/* 2.22: CPI (2) | Transform ID (1) | attributes */
	RULE(IKE_N_IPCOMP_SUPPORTED, 3, UINT16_MAX, 1, SPI_NONE),
	/* 2.23: SHA-1 digests */
	RULE(IKE_N_NAT_DETECTION_SOURCE_IP, 20, 20, 1, SPI_NONE),
	RULE(IKE_N_NAT_DETECTION_DESTINATION_IP, 20, 20, 1, SPI_NONE),
	/* 2.6: 1..64 octets */
	RULE(IKE_N_COOKIE, IKE_COOKIE_MIN, IKE_COOKIE_MAX, 1, SPI_NONE),
	/* 1.3.3: SPI of the Child SA being rekeyed, no data */
	RULE(IKE_N_REKEY_SA, 0, 0, 1, SPI_CHILD),
	/* RFC 4555 4.2.1: data ignored on receipt (the r-mobike draft puts an octet there) */
	RULE(IKE_N_MOBIKE_SUPPORTED, 0, UINT16_MAX, 1, SPI_NONE),
	/* RFC 4555 4.2.2 - 4.2.6 */
	RULE(IKE_N_ADDITIONAL_IP4_ADDRESS, 4, 4, 1, SPI_NONE),
	RULE(IKE_N_ADDITIONAL_IP6_ADDRESS, 16, 16, 1, SPI_NONE),
	RULE(IKE_N_NO_ADDITIONAL_ADDRESSES, 0, 0, 1, SPI_NONE),
	RULE(IKE_N_UPDATE_SA_ADDRESSES, 0, 0, 1, SPI_NONE),
	RULE(IKE_N_COOKIE2, IKE_COOKIE2_MIN, IKE_COOKIE2_MAX, 1, SPI_NONE),
	{ IKE_N_NO_NATS_ALLOWED, 12, 12, 1, SPI_NONE, 36 },   /* IPv4: 12; IPv6: 36 */
	/* RFC 7383 2.3: "This notification contains no data." */
	RULE(IKE_N_IKEV2_FRAGMENTATION_SUPPORTED, 0, 0, 1, SPI_NONE),
	/* RFC 7427 4: a list of 16-bit identifiers, no padding */
	RULE(IKE_N_SIGNATURE_HASH_ALGORITHMS, 2, UINT16_MAX, 2, SPI_NONE),
};

static const struct notify_rule *rule_for(uint16_t type)
{
	for (size_t i = 0; i < sizeof(notify_rules) / sizeof(notify_rules[0]); i++)
		if (notify_rules[i].type == type)
			return &notify_rules[i];
	return NULL;
}

/* The generic fields (3.10) and, for listed types, the data and SPI rules. */
static bool notify_ok(const struct ike_notify *n)
{
	const struct notify_rule *rule = rule_for(n->type);

	switch (n->spi_size) {
	case 0:
		break;
	case 4:
		if (n->protocol != IKE_PROTO_AH && n->protocol != IKE_PROTO_ESP)
			return false;
		break;
	case 8:
		if (n->protocol != IKE_PROTO_IKE)
			return false;
		break;
	default:
		return false;
	}
	if (!rule)
		return true;
	if ((n->data.len < rule->min_len || n->data.len > rule->max_len ||
	     n->data.len % rule->unit != 0) && !(rule->alt_len && n->data.len == rule->alt_len))
		return false;
	if (rule->spi == SPI_NONE && n->spi_size != 0)
		return false;
	if (rule->spi == SPI_CHILD && n->spi_size != 4)
		return false;
	return true;
}

int ike_notify_decode(const struct ike_payload_ref *p, struct ike_notify *out)
{
	struct reader r;
	struct ike_notify v;

	if (p->type != IKE_PT_NOTIFY)
		return -ENOMSG;
	memset(&v, 0, sizeof(v));
	ike_payload_reader(p, &r);
	reader_u8(&r, &v.protocol);
	reader_u8(&r, &v.spi_size);
	if (!reader_be16(&r, &v.type) || v.spi_size > IKE_SA_MAX_SPI_LEN ||
	    !reader_copy(&r, v.spi, v.spi_size))
		return -EBADMSG;
	/* 3.10: with no SPI the Protocol ID "MUST be ignored on receipt". */
	if (v.spi_size == 0)
		v.protocol = 0;
	reader_view_rest(&r, &v.data.data, &v.data.len);
	if (!notify_ok(&v))
		return -EBADMSG;
	*out = v;
	return 0;
}

int ike_notify_encode(struct ike_builder *b, const struct ike_notify *n)
{
	size_t off;
	int rc;

	if (!notify_ok(n))
		return -EINVAL;
	rc = ike_build_payload_begin(b, IKE_PT_NOTIFY, &off);
	if (rc)
		return rc;
	writer_u8(b->w, n->spi_size ? n->protocol : 0);
	writer_u8(b->w, n->spi_size);
	writer_be16(b->w, n->type);
	writer_bytes(b->w, n->spi, n->spi_size);
	writer_bytes(b->w, n->data.data, n->data.len);
	return ike_build_payload_end(b, off);
}

int ike_notify_add(struct ike_builder *b, uint16_t type, const void *data, size_t len)
{
	struct ike_notify n = { .type = type, .data = { data, len } };

	return ike_notify_encode(b, &n);
}

/* --- typed data ----------------------------------------------------------------------- */

/* The data of n as a reader, if n has the type and its data the length range given. */
static int data_reader(const struct ike_notify *n, uint16_t type, size_t min, size_t max,
		       struct reader *r)
{
	if (n->type != type)
		return -ENOMSG;
	if (n->data.len < min || n->data.len > max)
		return -EBADMSG;
	reader_init(r, n->data.data, n->data.len);
	return 0;
}

int ike_notify_nat_detection(const struct ike_notify *n, uint8_t hash[IKE_NAT_DETECTION_LEN])
{
	struct reader r;
	int rc;

	if (n->type != IKE_N_NAT_DETECTION_SOURCE_IP &&
	    n->type != IKE_N_NAT_DETECTION_DESTINATION_IP)
		return -ENOMSG;
	rc = data_reader(n, n->type, IKE_NAT_DETECTION_LEN, IKE_NAT_DETECTION_LEN, &r);
	return rc ? rc : (reader_copy(&r, hash, IKE_NAT_DETECTION_LEN) ? 0 : -EBADMSG);
}

int ike_notify_cookie(const struct ike_notify *n, struct ike_blob *cookie)
{
	struct reader r;
	int rc;

	if (n->type == IKE_N_COOKIE2)
		rc = data_reader(n, IKE_N_COOKIE2, IKE_COOKIE2_MIN, IKE_COOKIE2_MAX, &r);
	else
		rc = data_reader(n, IKE_N_COOKIE, IKE_COOKIE_MIN, IKE_COOKIE_MAX, &r);
	if (rc)
		return rc;
	*cookie = n->data;
	return 0;
}

int ike_notify_additional_ip4(const struct ike_notify *n, struct in_addr *addr)
{
	struct reader r;
	int rc = data_reader(n, IKE_N_ADDITIONAL_IP4_ADDRESS, 4, 4, &r);

	return rc ? rc : (reader_copy(&r, &addr->s_addr, 4) ? 0 : -EBADMSG);
}

int ike_notify_additional_ip6(const struct ike_notify *n, struct in6_addr *addr)
{
	struct reader r;
	int rc = data_reader(n, IKE_N_ADDITIONAL_IP6_ADDRESS, 16, 16, &r);

	return rc ? rc : (reader_copy(&r, addr->s6_addr, 16) ? 0 : -EBADMSG);
}

int ike_notify_invalid_ke(const struct ike_notify *n, uint16_t *group)
{
	struct reader r;
	int rc = data_reader(n, IKE_N_INVALID_KE_PAYLOAD, 2, 2, &r);

	return rc ? rc : (reader_be16(&r, group) ? 0 : -EBADMSG);
}

int ike_notify_rekey_sa(const struct ike_notify *n, uint8_t *protocol, uint32_t *spi)
{
	struct reader r;
	int rc = data_reader(n, IKE_N_REKEY_SA, 0, 0, &r);
	uint32_t v;

	if (rc)
		return rc;
	if (n->spi_size != 4 || (n->protocol != IKE_PROTO_AH && n->protocol != IKE_PROTO_ESP))
		return -EBADMSG;
	reader_init(&r, n->spi, 4);
	reader_be32(&r, &v);
	*protocol = n->protocol;
	*spi = v;
	return 0;
}

int ike_notify_esp_received(const struct ike_notify *n, uint32_t *spi, uint64_t *seq)
{
	struct reader r, rs;
	int rc = data_reader(n, IKE_N_MM_ESP_RECEIVED, 8, 8, &r);

	if (rc)
		return rc;
	if (n->spi_size != 4 || n->protocol != IKE_PROTO_ESP)
		return -EBADMSG;
	reader_init(&rs, n->spi, 4);
	if (!reader_be32(&rs, spi) || !reader_be64(&r, seq))
		return -EBADMSG;
	return 0;
}

int ike_notify_hash_algs(const struct ike_notify *n, uint16_t *algs, size_t max, size_t *count)
{
	struct reader r;
	int rc = data_reader(n, IKE_N_SIGNATURE_HASH_ALGORITHMS, 2, UINT16_MAX, &r);
	size_t k;

	if (rc)
		return rc;
	if (n->data.len % 2)
		return -EBADMSG;
	k = n->data.len / 2;
	if (k > max)
		return -E2BIG;
	for (size_t i = 0; i < k; i++)
		reader_be16(&r, &algs[i]);
	*count = k;
	return 0;
}

int ike_notify_no_nats(const struct ike_notify *n, struct ike_no_nats *out)
{
	struct reader r;
	struct ike_no_nats v;
	size_t alen;
	int rc = data_reader(n, IKE_N_NO_NATS_ALLOWED, 12, 36, &r);

	if (rc)
		return rc;
	/* RFC 4555 4.2.6: src addr | dst addr | src port | dst port; 12 or 36 octets. */
	if (n->data.len == 12)
		alen = 4;
	else if (n->data.len == 36)
		alen = 16;
	else
		return -EBADMSG;
	memset(&v, 0, sizeof(v));
	v.family = alen == 4 ? AF_INET : AF_INET6;
	reader_copy(&r, v.src, alen);
	reader_copy(&r, v.dst, alen);
	reader_be16(&r, &v.src_port);
	if (!reader_be16(&r, &v.dst_port))
		return -EBADMSG;
	*out = v;
	return 0;
}

/* --- typed encoders ------------------------------------------------------------------- */

int ike_notify_add_u16(struct ike_builder *b, uint16_t type, uint16_t value)
{
	uint8_t d[2];
	struct writer w;

	writer_init(&w, d, sizeof(d));
	writer_be16(&w, value);
	return ike_notify_add(b, type, d, sizeof(d));
}

int ike_notify_add_ip4(struct ike_builder *b, uint16_t type, struct in_addr addr)
{
	return ike_notify_add(b, type, &addr.s_addr, 4);
}

int ike_notify_add_rekey_sa(struct ike_builder *b, uint8_t protocol, uint32_t spi)
{
	struct ike_notify n = {
		.protocol = protocol,
		.spi_size = 4,
		.type = IKE_N_REKEY_SA,
	};
	struct writer w;

	writer_init(&w, n.spi, sizeof(n.spi));
	writer_be32(&w, spi);
	return ike_notify_encode(b, &n);
}

int ike_notify_add_esp_received(struct ike_builder *b, uint32_t spi, uint64_t seq)
{
	struct ike_notify n = {
		.protocol = IKE_PROTO_ESP,
		.spi_size = 4,
		.type = IKE_N_MM_ESP_RECEIVED,
	};
	uint8_t d[8];
	struct writer w;

	writer_init(&w, n.spi, sizeof(n.spi));
	writer_be32(&w, spi);
	writer_init(&w, d, sizeof(d));
	writer_be64(&w, seq);
	n.data.data = d;
	n.data.len = sizeof(d);
	return ike_notify_encode(b, &n);
}

int ike_notify_add_hash_algs(struct ike_builder *b, const uint16_t *algs, size_t count)
{
	uint8_t d[2 * IKE_HASH_ALGS_MAX];
	struct writer w;

	if (count == 0 || count > IKE_HASH_ALGS_MAX)
		return -EINVAL;
	writer_init(&w, d, sizeof(d));
	for (size_t i = 0; i < count; i++)
		writer_be16(&w, algs[i]);
	return ike_notify_add(b, IKE_N_SIGNATURE_HASH_ALGORITHMS, d, writer_len(&w));
}
