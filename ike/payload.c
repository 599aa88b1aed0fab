/* IKEv2 payload codec, stage 2: the payloads with one fixed header and opaque data (KE, ID,
 * CERT, CERTREQ, AUTH, Nonce, Vendor ID, Delete, EAP). SA, Notify, TS and CP have their own
 * files, the by-type dispatch is in payload_any.c. See payload.h for the contract. */
#include "ike/payload.h"

#include <errno.h>
#include <string.h>

/* Take everything left in r as a blob (may be empty). */
static void rest_blob(struct reader *r, struct ike_blob *out)
{
	reader_view_rest(r, &out->data, &out->len);
}

/* --- KE (3.4) ------------------------------------------------------------------------- */

int ike_ke_decode(const struct ike_payload_ref *p, struct ike_ke *out)
{
	struct reader r;
	struct ike_ke v;
	uint16_t reserved;

	if (p->type != IKE_PT_KE)
		return -ENOMSG;
	ike_payload_reader(p, &r);
	reader_be16(&r, &v.group);
	if (!reader_be16(&r, &reserved) || reader_remaining(&r) == 0)
		return -EBADMSG;     /* RESERVED is ignored on receipt (3.4) */
	rest_blob(&r, &v.data);
	*out = v;
	return 0;
}

int ike_ke_encode(struct ike_builder *b, const struct ike_ke *ke)
{
	size_t off;
	int rc;

	if (ke->data.len == 0)
		return -EINVAL;
	rc = ike_build_payload_begin(b, IKE_PT_KE, &off);
	if (rc)
		return rc;
	writer_be16(b->w, ke->group);
	writer_be16(b->w, 0);
	writer_bytes(b->w, ke->data.data, ke->data.len);
	return ike_build_payload_end(b, off);
}

/* --- IDi / IDr (3.5) ------------------------------------------------------------------ */

/* One DER SEQUENCE (tag 0x30) whose length covers exactly the rest: what ID_DER_ASN1_DN holds
 * (3.5, "the binary DER encoding of an ASN.1 X.500 Distinguished Name"). DER lengths are
 * minimal: short form below 128, long form with no leading zero octet. */
static bool der_sequence_exact(const struct ike_blob *d)
{
	struct reader r;
	uint8_t tag, l0, octet;
	size_t len = 0;

	reader_init(&r, d->data, d->len);
	reader_u8(&r, &tag);
	if (!reader_u8(&r, &l0) || tag != 0x30)
		return false;
	if (l0 < 0x80) {
		len = l0;
	} else {
		size_t n = l0 & 0x7f;

		if (n == 0 || n > 3)
			return false;
		for (size_t i = 0; i < n; i++) {
			if (!reader_u8(&r, &octet) || (i == 0 && octet == 0))
				return false;
			len = len << 8 | octet;
		}
		if (len < 0x80)
			return false;
	}
	return reader_remaining(&r) == len;
}

/* 3.5: text identities carry no terminators; ID_FQDN is ASCII, ID_RFC822_ADDR may be UTF-8. */
static bool text_ok(const struct ike_blob *d, bool ascii_only)
{
	if (d->len == 0)
		return false;
	for (size_t i = 0; i < d->len; i++) {
		uint8_t c = d->data[i];

		if (c < 0x20 || c == 0x7f || (ascii_only && c > 0x7f))
			return false;
	}
	return true;
}

static bool id_ok(const struct ike_id *id)
{
	switch (id->type) {
	case IKE_ID_IPV4_ADDR:
		return id->data.len == 4;
	case IKE_ID_IPV6_ADDR:
		return id->data.len == 16;
	case IKE_ID_FQDN:
		return text_ok(&id->data, true);
	case IKE_ID_RFC822_ADDR:
		return text_ok(&id->data, false);
	case IKE_ID_DER_ASN1_DN:
		return der_sequence_exact(&id->data);
	case IKE_ID_DER_ASN1_GN:
	case IKE_ID_KEY_ID:
		return id->data.len > 0;
	}
	/* Types we do not know (e.g. ID_NULL of RFC 7619, which is empty): policy decides. */
	return true;
}

int ike_id_decode(const struct ike_payload_ref *p, struct ike_id *out)
{
	struct reader r;
	struct ike_id v;

	if (p->type != IKE_PT_IDI && p->type != IKE_PT_IDR)
		return -ENOMSG;
	ike_payload_reader(p, &r);
	reader_u8(&r, &v.type);
	if (!reader_skip(&r, 3))
		return -EBADMSG;
	rest_blob(&r, &v.data);
	if (!id_ok(&v))
		return -EBADMSG;
	*out = v;
	return 0;
}

int ike_id_encode(struct ike_builder *b, uint8_t payload_type, const struct ike_id *id)
{
	size_t off;
	int rc;

	if ((payload_type != IKE_PT_IDI && payload_type != IKE_PT_IDR) || !id_ok(id))
		return -EINVAL;
	rc = ike_build_payload_begin(b, payload_type, &off);
	if (rc)
		return rc;
	writer_u8(b->w, id->type);
	writer_zeros(b->w, 3);
	writer_bytes(b->w, id->data.data, id->data.len);
	return ike_build_payload_end(b, off);
}

/* --- CERT (3.6), CERTREQ (3.7) -------------------------------------------------------- */

static bool cert_ok(const struct ike_cert *c)
{
	/* 3.6: Hash and URL = 20-octet SHA-1 hash followed by a URL. */
	if (c->encoding == IKE_CERT_HASH_URL_X509 || c->encoding == IKE_CERT_HASH_URL_BUNDLE)
		return c->data.len > IKE_CERTREQ_HASH_LEN;
	return c->data.len > 0;
}

static bool certreq_ok(const struct ike_cert *c)
{
	/* 3.7: for X.509 types 4, 12 and 13 the CA field is concatenated 20-octet hashes; other
	 * types have no defined syntax. */
	if (c->encoding == IKE_CERT_X509_SIG || c->encoding == IKE_CERT_HASH_URL_X509 ||
	    c->encoding == IKE_CERT_HASH_URL_BUNDLE)
		return c->data.len % IKE_CERTREQ_HASH_LEN == 0;
	return true;
}

static int cert_decode(const struct ike_payload_ref *p, uint8_t type,
		       bool (*ok)(const struct ike_cert *), struct ike_cert *out)
{
	struct reader r;
	struct ike_cert v;

	if (p->type != type)
		return -ENOMSG;
	ike_payload_reader(p, &r);
	if (!reader_u8(&r, &v.encoding))
		return -EBADMSG;
	rest_blob(&r, &v.data);
	if (!ok(&v))
		return -EBADMSG;
	*out = v;
	return 0;
}

static int cert_encode(struct ike_builder *b, uint8_t type, const struct ike_cert *c)
{
	size_t off;
	int rc = ike_build_payload_begin(b, type, &off);

	if (rc)
		return rc;
	writer_u8(b->w, c->encoding);
	writer_bytes(b->w, c->data.data, c->data.len);
	return ike_build_payload_end(b, off);
}

int ike_cert_decode(const struct ike_payload_ref *p, struct ike_cert *out)
{
	return cert_decode(p, IKE_PT_CERT, cert_ok, out);
}

int ike_cert_encode(struct ike_builder *b, const struct ike_cert *cert)
{
	return cert_ok(cert) ? cert_encode(b, IKE_PT_CERT, cert) : -EINVAL;
}

int ike_certreq_decode(const struct ike_payload_ref *p, struct ike_cert *out)
{
	return cert_decode(p, IKE_PT_CERTREQ, certreq_ok, out);
}

int ike_certreq_encode(struct ike_builder *b, const struct ike_cert *req)
{
	return certreq_ok(req) ? cert_encode(b, IKE_PT_CERTREQ, req) : -EINVAL;
}

/* --- AUTH (3.8; RFC 7427 3) ----------------------------------------------------------- */

int ike_auth_sig_split(const struct ike_auth *auth, struct ike_blob *alg_id,
		       struct ike_blob *signature)
{
	struct reader r;
	uint8_t n;
	struct ike_blob a, s;

	/* RFC 7427 3: one octet ASN.1 length, the AlgorithmIdentifier, the signature. */
	reader_init(&r, auth->data.data, auth->data.len);
	if (!reader_u8(&r, &n) || n == 0 || !reader_view(&r, n, &a.data))
		return -EBADMSG;
	a.len = n;
	rest_blob(&r, &s);
	if (s.len == 0)
		return -EBADMSG;
	*alg_id = a;
	*signature = s;
	return 0;
}

static bool auth_ok(const struct ike_auth *a)
{
	struct ike_blob alg, sig;

	if (a->data.len == 0)
		return false;
	if (a->method == IKE_AUTH_DIGITAL_SIGNATURE)
		return ike_auth_sig_split(a, &alg, &sig) == 0;
	return true;
}

int ike_auth_decode(const struct ike_payload_ref *p, struct ike_auth *out)
{
	struct reader r;
	struct ike_auth v;

	if (p->type != IKE_PT_AUTH)
		return -ENOMSG;
	ike_payload_reader(p, &r);
	reader_u8(&r, &v.method);
	if (!reader_skip(&r, 3))
		return -EBADMSG;
	rest_blob(&r, &v.data);
	if (!auth_ok(&v))
		return -EBADMSG;
	*out = v;
	return 0;
}

int ike_auth_encode(struct ike_builder *b, const struct ike_auth *auth)
{
	size_t off;
	int rc;

	if (!auth_ok(auth))
		return -EINVAL;
	rc = ike_build_payload_begin(b, IKE_PT_AUTH, &off);
	if (rc)
		return rc;
	writer_u8(b->w, auth->method);
	writer_zeros(b->w, 3);
	writer_bytes(b->w, auth->data.data, auth->data.len);
	return ike_build_payload_end(b, off);
}

/* --- Nonce (3.9), Vendor ID (3.12) ---------------------------------------------------- */

static int blob_decode(const struct ike_payload_ref *p, uint8_t type, size_t min, size_t max,
		       struct ike_blob *out)
{
	if (p->type != type)
		return -ENOMSG;
	if (p->body_len < min || p->body_len > max)
		return -EBADMSG;
	out->data = p->body;
	out->len = p->body_len;
	return 0;
}

int ike_nonce_decode(const struct ike_payload_ref *p, struct ike_blob *out)
{
	return blob_decode(p, IKE_PT_NONCE, IKE_NONCE_MIN, IKE_NONCE_MAX, out);
}

int ike_nonce_encode(struct ike_builder *b, const void *nonce, size_t len)
{
	if (len < IKE_NONCE_MIN || len > IKE_NONCE_MAX)
		return -EINVAL;
	return ike_build_raw(b, IKE_PT_NONCE, nonce, len);
}

/* 3.12 sets no bounds; an empty Vendor ID identifies nothing. */
int ike_vendor_decode(const struct ike_payload_ref *p, struct ike_blob *out)
{
	return blob_decode(p, IKE_PT_VENDOR, 1, SIZE_MAX, out);
}

int ike_vendor_encode(struct ike_builder *b, const void *vid, size_t len)
{
	if (len == 0)
		return -EINVAL;
	return ike_build_raw(b, IKE_PT_VENDOR, vid, len);
}

/* --- Delete (3.11) -------------------------------------------------------------------- */

/* 3.11: IKE SA: SPI size 0 and no SPIs; AH/ESP: SPI size 4 and at least one SPI. */
static bool delete_ok(uint8_t protocol, uint8_t spi_size, size_t n_spis)
{
	if (protocol == IKE_PROTO_IKE)
		return spi_size == 0 && n_spis == 0;
	if (protocol == IKE_PROTO_AH || protocol == IKE_PROTO_ESP)
		return spi_size == 4 && n_spis > 0;
	return false;
}

int ike_delete_decode(const struct ike_payload_ref *p, struct ike_delete *out)
{
	struct reader r;
	struct ike_delete v;

	if (p->type != IKE_PT_DELETE)
		return -ENOMSG;
	ike_payload_reader(p, &r);
	reader_u8(&r, &v.protocol);
	reader_u8(&r, &v.spi_size);
	if (!reader_be16(&r, &v.n_spis) || !delete_ok(v.protocol, v.spi_size, v.n_spis) ||
	    reader_remaining(&r) != (size_t)v.n_spis * v.spi_size)
		return -EBADMSG;
	rest_blob(&r, &v.spis);
	*out = v;
	return 0;
}

int ike_delete_encode(struct ike_builder *b, const struct ike_delete *d)
{
	size_t off;
	int rc;

	if (!delete_ok(d->protocol, d->spi_size, d->n_spis) ||
	    d->spis.len != (size_t)d->n_spis * d->spi_size)
		return -EINVAL;
	rc = ike_build_payload_begin(b, IKE_PT_DELETE, &off);
	if (rc)
		return rc;
	writer_u8(b->w, d->protocol);
	writer_u8(b->w, d->spi_size);
	writer_be16(b->w, d->n_spis);
	writer_bytes(b->w, d->spis.data, d->spis.len);
	return ike_build_payload_end(b, off);
}

int ike_delete_spi(const struct ike_delete *d, size_t i, uint32_t *spi)
{
	struct reader r;

	if (d->spi_size != 4 || i >= d->n_spis)
		return -EINVAL;
	reader_init(&r, d->spis.data, d->spis.len);
	if (!reader_skip(&r, i * 4) || !reader_be32(&r, spi))
		return -EBADMSG;
	return 0;
}

int ike_delete_add(struct ike_builder *b, uint8_t protocol, const uint32_t *spis, size_t n)
{
	uint8_t spi_size = protocol == IKE_PROTO_IKE ? 0 : 4;
	size_t off;
	int rc;

	if (n > UINT16_MAX || !delete_ok(protocol, spi_size, n))
		return -EINVAL;
	rc = ike_build_payload_begin(b, IKE_PT_DELETE, &off);
	if (rc)
		return rc;
	writer_u8(b->w, protocol);
	writer_u8(b->w, spi_size);
	writer_be16(b->w, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		writer_be32(b->w, spis[i]);
	return ike_build_payload_end(b, off);
}

/* --- EAP (3.16) ----------------------------------------------------------------------- */

/* 3.16: Code 1-4; Length equals the payload body; Request/Response carry a Type octet,
 * Success/Failure are exactly four octets. The rest is for the EAP method. */
static int eap_parse(const struct ike_blob *m, struct ike_eap *out)
{
	struct reader r;
	uint8_t code, ident;
	uint16_t len;

	reader_init(&r, m->data, m->len);
	reader_u8(&r, &code);
	reader_u8(&r, &ident);
	if (!reader_be16(&r, &len) || len != m->len || code < 1 || code > 4)
		return -EBADMSG;
	if ((code <= 2 && len < 5) || (code >= 3 && len != 4))
		return -EBADMSG;
	out->code = code;
	out->identifier = ident;
	out->msg = *m;
	return 0;
}

int ike_eap_decode(const struct ike_payload_ref *p, struct ike_eap *out)
{
	struct ike_blob m = { p->body, p->body_len };

	if (p->type != IKE_PT_EAP)
		return -ENOMSG;
	return eap_parse(&m, out);
}

int ike_eap_encode(struct ike_builder *b, const struct ike_eap *eap)
{
	struct ike_eap check;

	if (eap_parse(&eap->msg, &check) != 0 || check.code != eap->code ||
	    check.identifier != eap->identifier)
		return -EINVAL;
	return ike_build_raw(b, IKE_PT_EAP, eap->msg.data, eap->msg.len);
}
