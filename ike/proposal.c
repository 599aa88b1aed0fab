/* Proposal offer, selection and check (RFC 7296 2.7, 3.3). See proposal.h. */
#include "ike/proposal.h"

#include <errno.h>
#include <string.h>

static uint8_t protocol_of(enum ike_suite_use use)
{
	return use == IKE_SUITE_IKE ? IKE_PROTO_IKE : IKE_PROTO_ESP;
}

static bool add(struct ike_proposal *p, uint8_t type, uint16_t id, uint16_t bits)
{
	if (p->n_transforms >= IKE_SA_MAX_TRANSFORMS)
		return false;
	p->t[p->n_transforms++] = (struct ike_sa_transform){ .type = type, .id = id,
							     .key_bits = bits };
	return true;
}

/* The transforms of one suite into p (3.3.2, 3.3.3: ESP carries ESN; INTEG only for
 * non-AEAD ciphers). */
static bool fill(struct ike_proposal *p, const struct ike_suite *s, enum ike_suite_use use,
		 bool with_dh)
{
	bool ok = add(p, IKE_TRANSFORM_ENCR, s->encr, s->encr_key_bits);

	if (use == IKE_SUITE_IKE)
		ok = ok && add(p, IKE_TRANSFORM_PRF, s->prf, 0);
	if (s->integ != IKE_INTEG_NONE)
		ok = ok && add(p, IKE_TRANSFORM_INTEG, s->integ, 0);
	if (with_dh && s->dh != IKE_DH_NONE)
		ok = ok && add(p, IKE_TRANSFORM_DH, s->dh, 0);
	if (use == IKE_SUITE_ESP)
		ok = ok && add(p, IKE_TRANSFORM_ESN, s->esn, 0);
	return ok;
}

static void set_spi(struct ike_proposal *p, const uint8_t *spi, size_t spi_len)
{
	p->spi_size = (uint8_t)spi_len;
	if (spi_len)
		memcpy(p->spi, spi, spi_len);
}

int ike_proposal_offer(const struct ike_proposals *ours, enum ike_suite_use use, bool with_dh,
		       const uint8_t *spi, size_t spi_len, struct ike_sa_payload *out)
{
	struct ike_sa_payload sa;

	if (!ours || ours->n == 0 || spi_len > IKE_SA_MAX_SPI_LEN || (spi_len && !spi))
		return -EINVAL;
	if (ours->n > IKE_SA_MAX_PROPOSALS)
		return -E2BIG;
	memset(&sa, 0, sizeof(sa));
	for (size_t i = 0; i < ours->n; i++) {
		struct ike_proposal *p = &sa.p[sa.n_proposals];

		p->num = (uint8_t)(sa.n_proposals + 1);
		p->protocol = protocol_of(use);
		set_spi(p, spi, spi_len);
		if (!fill(p, &ours->suite[i], use, with_dh))
			return -E2BIG;
		sa.n_proposals++;
	}
	*out = sa;
	return 0;
}

/* Does the proposal hold a usable transform (type, id[, bits])? */
static bool has(const struct ike_proposal *p, uint8_t type, uint16_t id, uint16_t bits)
{
	for (size_t i = 0; i < p->n_transforms; i++) {
		const struct ike_sa_transform *t = &p->t[i];

		if (t->type == type && t->id == id && t->key_bits == bits && !t->unknown_attr)
			return true;
	}
	return false;
}

static bool has_type(const struct ike_proposal *p, uint8_t type)
{
	for (size_t i = 0; i < p->n_transforms; i++)
		if (p->t[i].type == type)
			return true;
	return false;
}

/* "Absent" transform types: none of that type, or one with ID 0 (NONE). */
static bool allows_none(const struct ike_proposal *p, uint8_t type)
{
	return !has_type(p, type) || has(p, type, 0, 0);
}

static bool matches(const struct ike_proposal *p, const struct ike_suite *s,
		    enum ike_suite_use use, bool with_dh)
{
	if (p->protocol != protocol_of(use))
		return false;
	if (!has(p, IKE_TRANSFORM_ENCR, s->encr, s->encr_key_bits))
		return false;
	if (s->integ != IKE_INTEG_NONE ? !has(p, IKE_TRANSFORM_INTEG, s->integ, 0)
				       : !allows_none(p, IKE_TRANSFORM_INTEG))
		return false;
	if (use == IKE_SUITE_IKE) {
		if (!has(p, IKE_TRANSFORM_PRF, s->prf, 0) || !has(p, IKE_TRANSFORM_DH, s->dh, 0))
			return false;
		/* 3.3.3: no ESN in an IKE proposal; tolerate "ESN none". */
		return allows_none(p, IKE_TRANSFORM_ESN);
	}
	if (has_type(p, IKE_TRANSFORM_PRF))
		return false;
	if (with_dh && (s->dh != IKE_DH_NONE ? !has(p, IKE_TRANSFORM_DH, s->dh, 0)
					     : !allows_none(p, IKE_TRANSFORM_DH)))
		return false;
	/* 3.3.3: ESN is mandatory in ESP proposals; a proposal without it means "no ESN". */
	return s->esn == IKE_ESN_NONE ? allows_none(p, IKE_TRANSFORM_ESN)
				      : has(p, IKE_TRANSFORM_ESN, s->esn, 0);
}

int ike_proposal_select(const struct ike_proposals *ours, enum ike_suite_use use, bool with_dh,
			const struct ike_sa_payload *offer, struct ike_suite *chosen,
			const struct ike_proposal **prop)
{
	if (!ours || !offer || !chosen)
		return -EINVAL;
	for (size_t i = 0; i < ours->n && i < IKE_CFG_MAX_SUITES; i++) {
		for (size_t j = 0; j < offer->n_proposals; j++) {
			if (!matches(&offer->p[j], &ours->suite[i], use, with_dh))
				continue;
			*chosen = ours->suite[i];
			if (!with_dh && use == IKE_SUITE_ESP)
				chosen->dh = IKE_DH_NONE;
			if (prop)
				*prop = &offer->p[j];
			return 0;
		}
	}
	return -ENOENT;
}

int ike_proposal_choice(const struct ike_suite *s, enum ike_suite_use use, bool with_dh,
			uint8_t num, const uint8_t *spi, size_t spi_len,
			struct ike_sa_payload *out)
{
	struct ike_sa_payload sa;

	if (!s || spi_len > IKE_SA_MAX_SPI_LEN || (spi_len && !spi))
		return -EINVAL;
	memset(&sa, 0, sizeof(sa));
	sa.n_proposals = 1;
	sa.p[0].num = num;
	sa.p[0].protocol = protocol_of(use);
	set_spi(&sa.p[0], spi, spi_len);
	if (!fill(&sa.p[0], s, use, with_dh || use == IKE_SUITE_IKE))
		return -E2BIG;
	*out = sa;
	return 0;
}

int ike_proposal_accept(const struct ike_proposals *ours, enum ike_suite_use use, bool with_dh,
			const struct ike_sa_payload *choice, struct ike_suite *out)
{
	const struct ike_proposal *p;

	if (!ours || !choice || !out)
		return -EINVAL;
	if (choice->n_proposals != 1)
		return -EBADMSG;
	p = &choice->p[0];
	/* The choice must be exactly one of our suites: every transform in it from that suite
	 * and every transform of the suite in it (3.3.6: one of each type). */
	for (size_t i = 0; i < ours->n && i < IKE_CFG_MAX_SUITES; i++) {
		struct ike_proposal mine;

		memset(&mine, 0, sizeof(mine));
		if (!fill(&mine, &ours->suite[i], use, with_dh || use == IKE_SUITE_IKE))
			continue;
		if (p->num != i + 1 || p->protocol != protocol_of(use))
			continue;
		if (!matches(p, &ours->suite[i], use, with_dh || use == IKE_SUITE_IKE))
			continue;
		/* No extra transforms beyond the suite's (DH NONE / ESN NONE allowed). */
		bool extra = false;

		for (size_t k = 0; k < p->n_transforms && !extra; k++) {
			const struct ike_sa_transform *t = &p->t[k];

			if (t->id == 0 && (t->type == IKE_TRANSFORM_DH ||
					   t->type == IKE_TRANSFORM_INTEG ||
					   t->type == IKE_TRANSFORM_ESN))
				continue;
			if (!has(&mine, t->type, t->id, t->key_bits))
				extra = true;
		}
		if (!with_dh && use == IKE_SUITE_ESP && has_type(p, IKE_TRANSFORM_DH) &&
		    !allows_none(p, IKE_TRANSFORM_DH))
			extra = true;
		if (extra)
			continue;
		*out = ours->suite[i];
		if (!with_dh && use == IKE_SUITE_ESP)
			out->dh = IKE_DH_NONE;
		return 0;
	}
	return -EBADMSG;
}

bool ike_proposal_has_group(const struct ike_proposals *ours, uint16_t group)
{
	for (size_t i = 0; ours && i < ours->n && i < IKE_CFG_MAX_SUITES; i++)
		if (ours->suite[i].dh == group && group != IKE_DH_NONE)
			return true;
	return false;
}
