/* IKEv2 payload codec: decode, encode and compare any payload by its type (the dispatch over
 * payload.c, payload_sa.c, payload_notify.c, payload_ts.c, payload_cp.c). See payload.h. */
#include "ike/payload.h"

#include <errno.h>
#include <string.h>

static bool blob_eq(const struct ike_blob *a, const struct ike_blob *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int ike_payload_decode(const struct ike_payload_ref *p, bool response,
		       struct ike_payload_value *out)
{
	struct ike_payload_value v;
	int rc;

	memset(&v, 0, sizeof(v));
	v.type = p->type;
	switch (p->type) {
	case IKE_PT_SA:
		rc = ike_sa_payload_decode(p, response ? IKE_SA_CHOICE : IKE_SA_OFFER, &v.u.sa);
		break;
	case IKE_PT_KE:
		rc = ike_ke_decode(p, &v.u.ke);
		break;
	case IKE_PT_IDI:
	case IKE_PT_IDR:
		rc = ike_id_decode(p, &v.u.id);
		break;
	case IKE_PT_CERT:
		rc = ike_cert_decode(p, &v.u.cert);
		break;
	case IKE_PT_CERTREQ:
		rc = ike_certreq_decode(p, &v.u.cert);
		break;
	case IKE_PT_AUTH:
		rc = ike_auth_decode(p, &v.u.auth);
		break;
	case IKE_PT_NONCE:
		rc = ike_nonce_decode(p, &v.u.blob);
		break;
	case IKE_PT_NOTIFY:
		rc = ike_notify_decode(p, &v.u.notify);
		break;
	case IKE_PT_DELETE:
		rc = ike_delete_decode(p, &v.u.del);
		break;
	case IKE_PT_VENDOR:
		rc = ike_vendor_decode(p, &v.u.blob);
		break;
	case IKE_PT_TSI:
	case IKE_PT_TSR:
		rc = ike_ts_decode(p, &v.u.ts);
		break;
	case IKE_PT_CP:
		rc = ike_cp_decode(p, &v.u.cp);
		break;
	case IKE_PT_EAP:
		rc = ike_eap_decode(p, &v.u.eap);
		break;
	default:
		rc = -ENOMSG;
	}
	if (rc == 0)
		*out = v;
	return rc;
}

int ike_payload_encode(struct ike_builder *b, const struct ike_payload_value *v)
{
	switch (v->type) {
	case IKE_PT_SA:
		return ike_sa_payload_encode(b, &v->u.sa);
	case IKE_PT_KE:
		return ike_ke_encode(b, &v->u.ke);
	case IKE_PT_IDI:
	case IKE_PT_IDR:
		return ike_id_encode(b, v->type, &v->u.id);
	case IKE_PT_CERT:
		return ike_cert_encode(b, &v->u.cert);
	case IKE_PT_CERTREQ:
		return ike_certreq_encode(b, &v->u.cert);
	case IKE_PT_AUTH:
		return ike_auth_encode(b, &v->u.auth);
	case IKE_PT_NONCE:
		return ike_nonce_encode(b, v->u.blob.data, v->u.blob.len);
	case IKE_PT_NOTIFY:
		return ike_notify_encode(b, &v->u.notify);
	case IKE_PT_DELETE:
		return ike_delete_encode(b, &v->u.del);
	case IKE_PT_VENDOR:
		return ike_vendor_encode(b, v->u.blob.data, v->u.blob.len);
	case IKE_PT_TSI:
	case IKE_PT_TSR:
		return ike_ts_encode(b, v->type, &v->u.ts);
	case IKE_PT_CP:
		return ike_cp_encode(b, &v->u.cp);
	case IKE_PT_EAP:
		return ike_eap_encode(b, &v->u.eap);
	}
	return -EINVAL;
}

static bool sa_equal(const struct ike_sa_payload *a, const struct ike_sa_payload *b)
{
	if (a->n_proposals != b->n_proposals)
		return false;
	for (size_t i = 0; i < a->n_proposals; i++) {
		const struct ike_proposal *p = &a->p[i], *q = &b->p[i];

		if (p->num != q->num || p->protocol != q->protocol || p->spi_size != q->spi_size ||
		    p->spi_size > IKE_SA_MAX_SPI_LEN || memcmp(p->spi, q->spi, p->spi_size) != 0 ||
		    p->n_transforms != q->n_transforms)
			return false;
		for (size_t j = 0; j < p->n_transforms && j < IKE_SA_MAX_TRANSFORMS; j++) {
			const struct ike_sa_transform *s = &p->t[j], *t = &q->t[j];

			if (s->type != t->type || s->id != t->id || s->key_bits != t->key_bits ||
			    s->unknown_attr != t->unknown_attr)
				return false;
		}
	}
	return true;
}

static bool notify_equal(const struct ike_notify *a, const struct ike_notify *b)
{
	return a->protocol == b->protocol && a->spi_size == b->spi_size &&
	       a->spi_size <= IKE_SA_MAX_SPI_LEN && memcmp(a->spi, b->spi, a->spi_size) == 0 &&
	       a->type == b->type && blob_eq(&a->data, &b->data);
}

static bool ts_equal(const struct ike_ts_list *a, const struct ike_ts_list *b)
{
	if (a->n != b->n || a->n_unknown != b->n_unknown)
		return false;
	for (size_t i = 0; i < a->n && i < IKE_TS_MAX; i++) {
		const struct ike_ts *s = &a->ts[i], *t = &b->ts[i];

		if (s->type != t->type || s->ip_proto != t->ip_proto ||
		    s->start_port != t->start_port || s->end_port != t->end_port ||
		    memcmp(s->start, t->start, sizeof(s->start)) != 0 ||
		    memcmp(s->end, t->end, sizeof(s->end)) != 0)
			return false;
	}
	return true;
}

static bool cp_equal(const struct ike_cp *a, const struct ike_cp *b)
{
	if (a->cfg_type != b->cfg_type || a->n_attrs != b->n_attrs)
		return false;
	for (size_t i = 0; i < a->n_attrs && i < IKE_CP_MAX_ATTRS; i++)
		if (a->a[i].type != b->a[i].type || !blob_eq(&a->a[i].value, &b->a[i].value))
			return false;
	return true;
}

bool ike_payload_equal(const struct ike_payload_value *a, const struct ike_payload_value *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case IKE_PT_SA:
		return sa_equal(&a->u.sa, &b->u.sa);
	case IKE_PT_KE:
		return a->u.ke.group == b->u.ke.group && blob_eq(&a->u.ke.data, &b->u.ke.data);
	case IKE_PT_IDI:
	case IKE_PT_IDR:
		return a->u.id.type == b->u.id.type && blob_eq(&a->u.id.data, &b->u.id.data);
	case IKE_PT_CERT:
	case IKE_PT_CERTREQ:
		return a->u.cert.encoding == b->u.cert.encoding &&
		       blob_eq(&a->u.cert.data, &b->u.cert.data);
	case IKE_PT_AUTH:
		return a->u.auth.method == b->u.auth.method &&
		       blob_eq(&a->u.auth.data, &b->u.auth.data);
	case IKE_PT_NONCE:
	case IKE_PT_VENDOR:
		return blob_eq(&a->u.blob, &b->u.blob);
	case IKE_PT_NOTIFY:
		return notify_equal(&a->u.notify, &b->u.notify);
	case IKE_PT_DELETE:
		return a->u.del.protocol == b->u.del.protocol &&
		       a->u.del.spi_size == b->u.del.spi_size &&
		       a->u.del.n_spis == b->u.del.n_spis &&
		       blob_eq(&a->u.del.spis, &b->u.del.spis);
	case IKE_PT_TSI:
	case IKE_PT_TSR:
		return ts_equal(&a->u.ts, &b->u.ts);
	case IKE_PT_CP:
		return cp_equal(&a->u.cp, &b->u.cp);
	case IKE_PT_EAP:
		return a->u.eap.code == b->u.eap.code &&
		       a->u.eap.identifier == b->u.eap.identifier &&
		       blob_eq(&a->u.eap.msg, &b->u.eap.msg);
	}
	return false;
}
