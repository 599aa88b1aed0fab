/* IKEv2 SA payload (RFC 7296 3.3): proposals, transforms, transform attributes. See
 * payload.h for the contract.
 *
 *	SA body      = Proposal+
 *	Proposal     = Last(0|2) RESERVED Length(16) Num Protocol SPISize NumTransforms SPI
 *	               Transform{NumTransforms}                                   (3.3.1)
 *	Transform    = Last(0|3) RESERVED Length(16) Type RESERVED ID(16) Attribute*  (3.3.2)
 *	Attribute    = AF|Type(15) then Value(16) if AF=1, else Length(16) Value     (3.3.5)
 */
#include "ike/payload.h"

#include <errno.h>
#include <string.h>

#define LAST_PROPOSAL_MORE  2   /* 3.3.1 */
#define LAST_TRANSFORM_MORE 3   /* 3.3.2 */
#define PROPOSAL_HDR_LEN    8
#define TRANSFORM_HDR_LEN   8
#define ATTR_AF             0x8000u
#define ATTR_TV_LEN         4

/* 3.3.1: SPI Size is 0 for an initial IKE SA negotiation, else the protocol's SPI size: 8 for
 * IKE, 4 for ESP and AH. AH is kept so that an offer listing it still parses (the engine
 * never picks it). */
static bool spi_size_ok(uint8_t protocol, uint8_t spi_size)
{
	switch (protocol) {
	case IKE_PROTO_IKE:
		return spi_size == 0 || spi_size == 8;
	case IKE_PROTO_AH:
	case IKE_PROTO_ESP:
		return spi_size == 4;
	}
	return false;
}

/* Attributes of one transform. Key Length (TV, 14) is the only one defined (3.3.5); it must
 * not repeat ("A transform MUST NOT have multiple attributes of the same type", 3.3), must not
 * use the TLV form, and 0 bits makes no sense. Others make the transform unacceptable
 * (3.3.6) but not the message malformed. */
static int decode_attrs(struct reader *r, struct ike_sa_transform *t)
{
	while (reader_remaining(r) > 0) {
		uint16_t af_type, value, type;
		struct reader tlv;

		reader_be16(r, &af_type);
		if (!reader_be16(r, &value))
			return -EBADMSG;
		type = af_type & (uint16_t)~ATTR_AF;
		if (!(af_type & ATTR_AF)) {
			/* TLV: value is the Length of what follows. */
			if (!reader_sub(r, value, &tlv) || type == IKE_SA_ATTR_KEY_LENGTH)
				return -EBADMSG;
			t->unknown_attr = true;
			continue;
		}
		if (type != IKE_SA_ATTR_KEY_LENGTH) {
			t->unknown_attr = true;
			continue;
		}
		if (t->key_bits != 0 || value == 0)
			return -EBADMSG;
		t->key_bits = value;
	}
	return reader_ok(r) ? 0 : -EBADMSG;
}

static int decode_transform(struct reader *r, bool last_expected, struct ike_sa_transform *t)
{
	uint8_t last, reserved;
	uint16_t len;
	struct reader body;

	reader_u8(r, &last);
	reader_u8(r, &reserved);
	if (!reader_be16(r, &len) || len < TRANSFORM_HDR_LEN ||
	    !reader_sub(r, len - 4u, &body))
		return -EBADMSG;
	if (last != (last_expected ? 0 : LAST_TRANSFORM_MORE))
		return -EBADMSG;
	memset(t, 0, sizeof(*t));
	reader_u8(&body, &t->type);
	reader_u8(&body, &reserved);
	if (!reader_be16(&body, &t->id))
		return -EBADMSG;
	return decode_attrs(&body, t);
}

/* One proposal from r; its number is checked by the caller. */
static int decode_proposal(struct reader *r, uint8_t *last, struct ike_proposal *p)
{
	uint8_t reserved;
	uint16_t len;
	struct reader body;
	int rc;

	reader_u8(r, last);
	reader_u8(r, &reserved);
	if (!reader_be16(r, &len) || len < PROPOSAL_HDR_LEN || !reader_sub(r, len - 4u, &body))
		return -EBADMSG;
	reader_u8(&body, &p->num);
	reader_u8(&body, &p->protocol);
	reader_u8(&body, &p->spi_size);
	if (!reader_u8(&body, &p->n_transforms) || !spi_size_ok(p->protocol, p->spi_size))
		return -EBADMSG;
	memset(p->spi, 0, sizeof(p->spi));
	if (!reader_copy(&body, p->spi, p->spi_size))
		return -EBADMSG;
	/* 3.3.1: "one or more transform substructures". */
	if (p->n_transforms == 0)
		return -EBADMSG;
	if (p->n_transforms > IKE_SA_MAX_TRANSFORMS)
		return -E2BIG;
	for (size_t i = 0; i < p->n_transforms; i++) {
		rc = decode_transform(&body, i + 1 == p->n_transforms, &p->t[i]);
		if (rc)
			return rc;
	}
	/* Num Transforms and the Proposal Length must agree (3.3: lengths and counts
	 * consistent). */
	return reader_done(&body) ? 0 : -EBADMSG;
}

/* 3.3.6: the accepted proposal carries one transform of each type. */
static bool one_per_type(const struct ike_proposal *p)
{
	for (size_t i = 0; i < p->n_transforms; i++)
		for (size_t j = 0; j < i; j++)
			if (p->t[i].type == p->t[j].type)
				return false;
	return true;
}

int ike_sa_payload_decode(const struct ike_payload_ref *ref, enum ike_sa_payload_kind kind, struct ike_sa_payload *out)
{
	struct ike_sa_payload sa;
	struct reader r;
	uint8_t last = LAST_PROPOSAL_MORE;
	int rc;

	if (ref->type != IKE_PT_SA)
		return -ENOMSG;
	ike_payload_reader(ref, &r);
	sa.n_proposals = 0;
	while (reader_remaining(&r) > 0) {
		struct ike_proposal *p;

		/* The previous proposal said it was the last, yet more follow. */
		if (last != LAST_PROPOSAL_MORE)
			return -EBADMSG;
		if (sa.n_proposals == IKE_SA_MAX_PROPOSALS)
			return -E2BIG;
		p = &sa.p[sa.n_proposals];
		rc = decode_proposal(&r, &last, p);
		if (rc)
			return rc;
		if (last != 0 && last != LAST_PROPOSAL_MORE)
			return -EBADMSG;
		/* 3.3.1: offers are numbered 1, 2, ...; a choice echoes the accepted number. */
		if (kind == IKE_SA_OFFER ? p->num != sa.n_proposals + 1 : p->num == 0)
			return -EBADMSG;
		sa.n_proposals++;
	}
	if (sa.n_proposals == 0 || last != 0)
		return -EBADMSG;
	if (kind == IKE_SA_CHOICE && (sa.n_proposals != 1 || !one_per_type(&sa.p[0])))
		return -EBADMSG;
	memcpy(out, &sa, sizeof(sa));
	return 0;
}

/* --- encode --------------------------------------------------------------------------- */

static bool sa_ok(const struct ike_sa_payload *sa)
{
	if (sa->n_proposals == 0 || sa->n_proposals > IKE_SA_MAX_PROPOSALS)
		return false;
	for (size_t i = 0; i < sa->n_proposals; i++) {
		const struct ike_proposal *p = &sa->p[i];

		if (!spi_size_ok(p->protocol, p->spi_size) || p->n_transforms == 0 ||
		    p->n_transforms > IKE_SA_MAX_TRANSFORMS || p->num == 0 ||
		    (sa->n_proposals > 1 && p->num != i + 1))
			return false;
	}
	return true;
}

static size_t proposal_len(const struct ike_proposal *p)
{
	size_t len = PROPOSAL_HDR_LEN + p->spi_size;

	for (size_t i = 0; i < p->n_transforms; i++)
		len += TRANSFORM_HDR_LEN + (p->t[i].key_bits ? ATTR_TV_LEN : 0);
	return len;
}

int ike_sa_payload_encode(struct ike_builder *b, const struct ike_sa_payload *sa)
{
	size_t off;
	int rc;

	if (!sa_ok(sa))
		return -EINVAL;
	rc = ike_build_payload_begin(b, IKE_PT_SA, &off);
	if (rc)
		return rc;
	for (size_t i = 0; i < sa->n_proposals; i++) {
		const struct ike_proposal *p = &sa->p[i];
		/* At most 8 + 8 + 32 * 12 octets: always fits the 16-bit Proposal Length. */
		size_t plen = proposal_len(p);

		writer_u8(b->w, i + 1 == sa->n_proposals ? 0 : LAST_PROPOSAL_MORE);
		writer_u8(b->w, 0);
		writer_be16(b->w, (uint16_t)plen);
		writer_u8(b->w, p->num);
		writer_u8(b->w, p->protocol);
		writer_u8(b->w, p->spi_size);
		writer_u8(b->w, p->n_transforms);
		writer_bytes(b->w, p->spi, p->spi_size);
		for (size_t j = 0; j < p->n_transforms; j++) {
			const struct ike_sa_transform *t = &p->t[j];

			/* Unknown attributes of a received transform are not re-sent. */
			writer_u8(b->w, j + 1 == p->n_transforms ? 0 : LAST_TRANSFORM_MORE);
			writer_u8(b->w, 0);
			writer_be16(b->w, TRANSFORM_HDR_LEN + (t->key_bits ? ATTR_TV_LEN : 0));
			writer_u8(b->w, t->type);
			writer_u8(b->w, 0);
			writer_be16(b->w, t->id);
			if (t->key_bits) {
				writer_be16(b->w, ATTR_AF | IKE_SA_ATTR_KEY_LENGTH);
				writer_be16(b->w, t->key_bits);
			}
		}
	}
	return ike_build_payload_end(b, off);
}

/* --- SPI helpers ---------------------------------------------------------------------- */

uint32_t ike_proposal_spi32(const struct ike_proposal *p)
{
	struct reader r;
	uint32_t v = 0;

	if (p->spi_size != 4)
		return 0;
	reader_init(&r, p->spi, 4);
	reader_be32(&r, &v);
	return v;
}

uint64_t ike_proposal_spi64(const struct ike_proposal *p)
{
	struct reader r;
	uint64_t v = 0;

	if (p->spi_size != 8)
		return 0;
	reader_init(&r, p->spi, 8);
	reader_be64(&r, &v);
	return v;
}

void ike_proposal_set_spi32(struct ike_proposal *p, uint32_t spi)
{
	struct writer w;

	memset(p->spi, 0, sizeof(p->spi));
	writer_init(&w, p->spi, sizeof(p->spi));
	writer_be32(&w, spi);
	p->spi_size = 4;
}

void ike_proposal_set_spi64(struct ike_proposal *p, uint64_t spi)
{
	struct writer w;

	writer_init(&w, p->spi, sizeof(p->spi));
	writer_be64(&w, spi);
	p->spi_size = 8;
}
