/* Whole IKEv2 messages built with the codec (ike/msg.c builder, ike/payload*.c encoders):
 * the IKE_SA_INIT request and response, a cookie and an INVALID_KE_PAYLOAD answer, IKE_AUTH
 * request and response, MOBIKE address update (RFC 4555 3.5), Delete, Child SA rekey, an
 * IKE_AUTH fragment (RFC 7383 2.5) and one message holding every payload type in the clear.
 * Each must parse (stage 1), decode (stage 2) and fit its exchange's rules (stage 3).
 *
 * RFC 7296 has no hex dump of a whole message, so an independent implementation checks the
 * octets: `test_messages --dump DIR` writes them as files (SK laid out for AES-CBC), and
 * ike/tshark_check.py wraps them in a pcap and has Wireshark's isakmp dissector decode them
 * (meson test ike-codec-tshark, suite 'ike'). `test_messages --seeds DIR` writes the same
 * messages with the SK content as plaintext payloads: the fuzz seeds of
 * tests/fuzz/corpus/ike_msg/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ike/msg.h"
#include "ike/payload.h"
#include "ike/rules.h"
#include "tests/unit/tap.h"

#define SPI_I 0x0102030405060708ull
#define SPI_R 0x1112131415161718ull

static uint8_t filler[512];

static void filler_init(void)
{
	for (size_t i = 0; i < sizeof(filler); i++)
		filler[i] = (uint8_t)(0xa0 + i * 7);
}

/* --- payload values used by the message builders -------------------------------------- */

static void add_transform(struct ike_proposal *p, uint8_t type, uint16_t id, uint16_t bits)
{
	p->t[p->n_transforms++] = (struct ike_sa_transform){ .type = type, .id = id,
							     .key_bits = bits };
}

/* IKE SA offer (3.3): AEAD proposal, then a CBC+HMAC one (3.3: one proposal cannot mix
 * them). Transform IDs: ENCR_AES_GCM_16 20, ENCR_AES_CBC 12, PRF_HMAC_SHA2_256 5 and _512 7,
 * AUTH_HMAC_SHA2_256_128 12, DH 19 (ECP-256), 31 (Curve25519), 14 (MODP-2048). */
static void sa_ike_offer(struct ike_sa_payload *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->n_proposals = 2;
	sa->p[0].num = 1;
	sa->p[0].protocol = IKE_PROTO_IKE;
	add_transform(&sa->p[0], 1, 20, 256);
	add_transform(&sa->p[0], 1, 20, 128);
	add_transform(&sa->p[0], 2, 5, 0);
	add_transform(&sa->p[0], 2, 7, 0);
	add_transform(&sa->p[0], 4, 19, 0);
	add_transform(&sa->p[0], 4, 31, 0);
	sa->p[1].num = 2;
	sa->p[1].protocol = IKE_PROTO_IKE;
	add_transform(&sa->p[1], 1, 12, 256);
	add_transform(&sa->p[1], 3, 12, 0);
	add_transform(&sa->p[1], 2, 5, 0);
	add_transform(&sa->p[1], 4, 14, 0);
}

static void sa_ike_choice(struct ike_sa_payload *sa, uint64_t rekey_spi)
{
	memset(sa, 0, sizeof(*sa));
	sa->n_proposals = 1;
	sa->p[0].num = 1;
	sa->p[0].protocol = IKE_PROTO_IKE;
	if (rekey_spi)
		ike_proposal_set_spi64(&sa->p[0], rekey_spi);
	add_transform(&sa->p[0], 1, 20, 256);
	add_transform(&sa->p[0], 2, 5, 0);
	add_transform(&sa->p[0], 4, 19, 0);
}

/* ESP (3.3.3: ENCR and ESN mandatory): AES-GCM-16 or ChaCha20-Poly1305 (28), ESN or not. */
static void sa_esp(struct ike_sa_payload *sa, bool choice, uint32_t spi)
{
	struct ike_proposal *p = &sa->p[0];

	memset(sa, 0, sizeof(*sa));
	sa->n_proposals = 1;
	p->num = 1;
	p->protocol = IKE_PROTO_ESP;
	ike_proposal_set_spi32(p, spi);
	add_transform(p, 1, 20, 256);
	if (!choice)
		add_transform(p, 1, 28, 0);
	add_transform(p, 5, 0, 0);
	if (!choice)
		add_transform(p, 5, 1, 0);
}

static struct in_addr ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct in_addr x;
	uint8_t o[4] = { a, b, c, d };

	memcpy(&x.s_addr, o, 4);
	return x;
}

static void ts_one(struct ike_ts_list *l, struct in_addr from, struct in_addr to)
{
	memset(l, 0, sizeof(*l));
	l->n = 1;
	ike_ts_set_ipv4(&l->ts[0], 0, 0, 65535, from, to);
}

static const uint8_t addr_10_8_0_2[4] = { 10, 8, 0, 2 };
static const uint8_t mask_24[4] = { 255, 255, 255, 0 };
static const uint8_t addr_10_8_0_1[4] = { 10, 8, 0, 1 };
static const uint8_t subnet_10_8[8] = { 10, 8, 0, 0, 255, 255, 0, 0 };

static void cp_value(struct ike_cp *cp, bool reply)
{
	memset(cp, 0, sizeof(*cp));
	if (!reply) {
		/* 3.15.1: empty attributes ask for a value. */
		cp->cfg_type = IKE_CFG_REQUEST;
		cp->n_attrs = 3;
		cp->a[0].type = IKE_CP_INTERNAL_IP4_ADDRESS;
		cp->a[1].type = IKE_CP_INTERNAL_IP4_NETMASK;
		cp->a[2].type = IKE_CP_INTERNAL_IP4_DNS;
		return;
	}
	cp->cfg_type = IKE_CFG_REPLY;
	cp->n_attrs = 4;
	cp->a[0] = (struct ike_cp_attr){ IKE_CP_INTERNAL_IP4_ADDRESS, { addr_10_8_0_2, 4 } };
	cp->a[1] = (struct ike_cp_attr){ IKE_CP_INTERNAL_IP4_NETMASK, { mask_24, 4 } };
	cp->a[2] = (struct ike_cp_attr){ IKE_CP_INTERNAL_IP4_DNS, { addr_10_8_0_1, 4 } };
	cp->a[3] = (struct ike_cp_attr){ IKE_CP_INTERNAL_IP4_SUBNET, { subnet_10_8, 8 } };
}

/* EAP-Response/Identity "mn" (RFC 7296 3.16 Figure 25; RFC 3748 type 1). */
static const uint8_t eap_identity[] = { 2, 5, 0, 7, 1, 'm', 'n' };

/* Append one payload of the given type with a valid default value. */
static int add_default(struct ike_builder *b, uint8_t type, bool response)
{
	struct ike_payload_value v;
	uint32_t spi = 0xc0ffee01;

	memset(&v, 0, sizeof(v));
	v.type = type;
	switch (type) {
	case IKE_PT_SA:
		sa_esp(&v.u.sa, response, spi);
		break;
	case IKE_PT_KE:
		v.u.ke = (struct ike_ke){ 19, { filler, 64 } };
		break;
	case IKE_PT_IDI:
		v.u.id = (struct ike_id){ IKE_ID_FQDN, { (const uint8_t *)"mn.example.com", 14 } };
		break;
	case IKE_PT_IDR:
		v.u.id = (struct ike_id){ IKE_ID_FQDN, { (const uint8_t *)"vpn.example.com", 15 } };
		break;
	case IKE_PT_CERT:
		v.u.cert = (struct ike_cert){ IKE_CERT_X509_SIG, { filler, 100 } };
		break;
	case IKE_PT_CERTREQ:
		v.u.cert = (struct ike_cert){ IKE_CERT_X509_SIG, { filler, 20 } };
		break;
	case IKE_PT_AUTH:
		v.u.auth = (struct ike_auth){ IKE_AUTH_SHARED_KEY_MIC, { filler, 32 } };
		break;
	case IKE_PT_NONCE:
	case IKE_PT_VENDOR:
		v.u.blob = (struct ike_blob){ filler, 32 };
		break;
	case IKE_PT_NOTIFY:
		v.u.notify = (struct ike_notify){ .type = IKE_N_NAT_DETECTION_SOURCE_IP,
						  .data = { filler, 20 } };
		break;
	case IKE_PT_DELETE:
		return ike_delete_add(b, IKE_PROTO_ESP, &spi, 1);
	case IKE_PT_TSI:
	case IKE_PT_TSR:
		ts_one(&v.u.ts, ip4(0, 0, 0, 0), ip4(255, 255, 255, 255));
		break;
	case IKE_PT_CP:
		cp_value(&v.u.cp, response);
		break;
	case IKE_PT_EAP:
		v.u.eap = (struct ike_eap){ 2, 5, { eap_identity, sizeof(eap_identity) } };
		break;
	default:
		return -EINVAL;
	}
	return ike_payload_encode(b, &v);
}

/* A message of default payloads: `clear` in the clear, then (if sk) an SK holding `inner` as
 * plaintext (no IV, no trailer: as the crypto layer hands it over after decryption). The
 * lists end with 0. Returns the length, 0 on failure. */
static int parse_with_inner(const uint8_t *buf, size_t len, struct ike_msg *m,
			    struct ike_chain *inner, bool *has_inner)
{
	struct ike_parse_error err;
	struct reader r;
	const uint8_t *content;
	int rc = ike_msg_parse(buf, len, m, &err);

	*has_inner = false;
	if (rc || !m->sk.present)
		return rc;
	reader_init(&r, buf, len);
	reader_skip(&r, m->sk.data_off);
	if (!reader_view(&r, m->sk.data_len, &content))
		return -EBADMSG;
	*has_inner = true;
	return ike_chain_parse(content, m->sk.data_len, m->sk.inner_first, m->sk.data_off,
			       !ike_hdr_is_response(&m->hdr), inner, &err);
}

/* --- realistic messages: tshark cross-check and fuzz seeds ------------------------------- */

enum sk_mode {
	SK_PLAIN,            /* inner payloads as plaintext, no IV or trailer (fuzz seeds) */
	SK_CBC,              /* 16-octet IV, 16-octet blocks, 16-octet ICV */
	SK_GCM,              /* 8-octet IV, no padding, 16-octet ICV */
};

struct msg_out {
	uint8_t buf[2048];
	size_t len;
};

static void start(struct ike_builder *b, struct writer *w, struct msg_out *o, uint8_t exch,
		  uint8_t flags, uint32_t msg_id, bool spi_r)
{
	struct ike_header h = { .spi_i = SPI_I, .spi_r = spi_r ? SPI_R : 0, .exchange = exch,
				.flags = flags, .msg_id = msg_id };

	writer_init(w, o->buf, sizeof(o->buf));
	ike_build_start(b, w, &h);
}

static void sk_open(struct ike_builder *b, enum sk_mode mode)
{
	ike_build_sk_begin(b, IKE_PT_SK, 0, 0, mode == SK_CBC ? 16 : mode == SK_GCM ? 8 : 0);
}

static int finish(struct ike_builder *b, struct msg_out *o, enum sk_mode mode, bool sk)
{
	struct ike_build_sk_layout lay;

	if (sk && mode == SK_PLAIN)
		ike_build_sk_close(b);
	else if (sk)
		ike_build_sk_end(b, mode == SK_CBC ? 16 : 1, 16, &lay);
	return ike_build_finish(b, &o->len);
}

static const uint16_t hash_algs[] = { IKE_HASH_SHA2_256, IKE_HASH_SHA2_384, IKE_HASH_SHA2_512 };

static int msg_sa_init_request(struct msg_out *o)
{
	struct ike_builder b;
	struct writer w;
	struct ike_sa_payload sa;
	struct ike_ke ke = { 19, { filler, 64 } };

	start(&b, &w, o, IKE_EXCH_SA_INIT, IKE_FLAG_I, 0, false);
	sa_ike_offer(&sa);
	ike_sa_payload_encode(&b, &sa);
	ike_ke_encode(&b, &ke);
	ike_nonce_encode(&b, filler + 64, 32);
	ike_notify_add(&b, IKE_N_NAT_DETECTION_SOURCE_IP, filler + 96, 20);
	ike_notify_add(&b, IKE_N_NAT_DETECTION_DESTINATION_IP, filler + 116, 20);
	ike_notify_add(&b, IKE_N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
	ike_notify_add_hash_algs(&b, hash_algs, 3);
	ike_notify_add(&b, IKE_N_REDIRECT_SUPPORTED, NULL, 0);
	ike_vendor_encode(&b, "mip4-mobike test", 16);
	return finish(&b, o, SK_PLAIN, false);
}

static int msg_sa_init_response(struct msg_out *o)
{
	struct ike_builder b;
	struct writer w;
	struct ike_sa_payload sa;
	struct ike_ke ke = { 19, { filler + 200, 64 } };
	struct ike_cert req = { IKE_CERT_X509_SIG, { filler + 300, 40 } };

	start(&b, &w, o, IKE_EXCH_SA_INIT, IKE_FLAG_R, 0, true);
	sa_ike_choice(&sa, 0);
	ike_sa_payload_encode(&b, &sa);
	ike_ke_encode(&b, &ke);
	ike_nonce_encode(&b, filler + 264, 32);
	ike_certreq_encode(&b, &req);
	ike_notify_add(&b, IKE_N_NAT_DETECTION_SOURCE_IP, filler + 20, 20);
	ike_notify_add(&b, IKE_N_NAT_DETECTION_DESTINATION_IP, filler + 40, 20);
	ike_notify_add(&b, IKE_N_IKEV2_FRAGMENTATION_SUPPORTED, NULL, 0);
	ike_notify_add_hash_algs(&b, hash_algs, 3);
	return finish(&b, o, SK_PLAIN, false);
}

/* 2.6: the responder asks for a cookie; 1.2: or for another DH group. */
static int msg_sa_init_cookie(struct msg_out *o)
{
	struct ike_builder b;
	struct writer w;

	start(&b, &w, o, IKE_EXCH_SA_INIT, IKE_FLAG_R, 0, false);
	ike_notify_add(&b, IKE_N_COOKIE, filler + 5, 32);
	return finish(&b, o, SK_PLAIN, false);
}

static int msg_sa_init_invalid_ke(struct msg_out *o)
{
	struct ike_builder b;
	struct writer w;

	start(&b, &w, o, IKE_EXCH_SA_INIT, IKE_FLAG_R, 0, false);
	ike_notify_add_u16(&b, IKE_N_INVALID_KE_PAYLOAD, 31);
	return finish(&b, o, SK_PLAIN, false);
}

static int msg_auth_request(struct msg_out *o, enum sk_mode mode)
{
	struct ike_builder b;
	struct writer w;
	struct ike_payload_value v;

	start(&b, &w, o, IKE_EXCH_AUTH, IKE_FLAG_I, 1, true);
	sk_open(&b, mode);
	add_default(&b, IKE_PT_IDI, false);
	ike_notify_add(&b, IKE_N_INITIAL_CONTACT, NULL, 0);
	add_default(&b, IKE_PT_IDR, false);
	add_default(&b, IKE_PT_AUTH, false);
	add_default(&b, IKE_PT_CP, false);
	v.type = IKE_PT_SA;
	sa_esp(&v.u.sa, false, 0xc0ffee01);
	ike_payload_encode(&b, &v);
	add_default(&b, IKE_PT_TSI, false);
	add_default(&b, IKE_PT_TSR, false);
	ike_notify_add(&b, IKE_N_MOBIKE_SUPPORTED, NULL, 0);
	ike_notify_add_ip4(&b, IKE_N_ADDITIONAL_IP4_ADDRESS, ip4(192, 0, 2, 7));
	return finish(&b, o, mode, true);
}

static int msg_auth_response(struct msg_out *o, enum sk_mode mode)
{
	struct ike_builder b;
	struct writer w;
	struct ike_sa_payload sa;
	struct ike_ts_list ts;
	struct ike_cp cp;

	start(&b, &w, o, IKE_EXCH_AUTH, IKE_FLAG_R, 1, true);
	sk_open(&b, mode);
	add_default(&b, IKE_PT_IDR, true);
	add_default(&b, IKE_PT_AUTH, true);
	cp_value(&cp, true);
	ike_cp_encode(&b, &cp);
	sa_esp(&sa, true, 0xdecaf001);
	ike_sa_payload_encode(&b, &sa);
	ts_one(&ts, ip4(10, 8, 0, 2), ip4(10, 8, 0, 2));
	ike_ts_encode(&b, IKE_PT_TSI, &ts);
	ts_one(&ts, ip4(10, 8, 0, 0), ip4(10, 8, 255, 255));
	ike_ts_encode(&b, IKE_PT_TSR, &ts);
	ike_notify_add(&b, IKE_N_MOBIKE_SUPPORTED, NULL, 0);
	return finish(&b, o, mode, true);
}

/* RFC 4555 3.5: the MOBIKE address update, with a return routability cookie (3.7). */
static int msg_info_update(struct msg_out *o, enum sk_mode mode)
{
	struct ike_builder b;
	struct writer w;

	start(&b, &w, o, IKE_EXCH_INFORMATIONAL, IKE_FLAG_I, 2, true);
	sk_open(&b, mode);
	ike_notify_add(&b, IKE_N_UPDATE_SA_ADDRESSES, NULL, 0);
	ike_notify_add(&b, IKE_N_NAT_DETECTION_SOURCE_IP, filler + 60, 20);
	ike_notify_add(&b, IKE_N_NAT_DETECTION_DESTINATION_IP, filler + 80, 20);
	ike_notify_add(&b, IKE_N_COOKIE2, filler + 100, 16);
	return finish(&b, o, mode, true);
}

/* 1.4.1: delete two ESP SAs. */
static int msg_info_delete(struct msg_out *o, enum sk_mode mode)
{
	static const uint32_t spis[] = { 0xc0ffee01, 0xc0ffee02 };
	struct ike_builder b;
	struct writer w;

	start(&b, &w, o, IKE_EXCH_INFORMATIONAL, IKE_FLAG_I, 3, true);
	sk_open(&b, mode);
	ike_delete_add(&b, IKE_PROTO_ESP, spis, 2);
	return finish(&b, o, mode, true);
}

/* 1.3.3: rekey a Child SA with PFS. */
static int msg_child_rekey(struct msg_out *o, enum sk_mode mode)
{
	struct ike_builder b;
	struct writer w;
	struct ike_sa_payload sa;
	struct ike_ke ke = { 19, { filler + 10, 64 } };

	start(&b, &w, o, IKE_EXCH_CREATE_CHILD_SA, IKE_FLAG_I, 4, true);
	sk_open(&b, mode);
	ike_notify_add_rekey_sa(&b, IKE_PROTO_ESP, 0xc0ffee01);
	sa_esp(&sa, false, 0xc0ffee03);
	ike_sa_payload_encode(&b, &sa);
	ike_nonce_encode(&b, filler + 40, 32);
	ike_ke_encode(&b, &ke);
	add_default(&b, IKE_PT_TSI, false);
	add_default(&b, IKE_PT_TSR, false);
	return finish(&b, o, mode, true);
}

/* RFC 7383 2.5: first of two fragments of an IKE_AUTH request. */
static int msg_auth_fragment(struct msg_out *o, enum sk_mode mode)
{
	struct ike_builder b;
	struct writer w;
	struct ike_build_sk_layout lay;

	start(&b, &w, o, IKE_EXCH_AUTH, IKE_FLAG_I, 1, true);
	ike_build_sk_begin(&b, IKE_PT_SKF, 1, 2, mode == SK_PLAIN ? 0 : 8);
	ike_build_sk_raw(&b, IKE_PT_IDI, filler, 100);
	if (mode == SK_PLAIN)
		ike_build_sk_close(&b);
	else
		ike_build_sk_end(&b, 1, 16, &lay);
	return ike_build_finish(&b, &o->len);
}

/* sha256WithRSAEncryption AlgorithmIdentifier, RFC 7427 Appendix A.1.2. */
static const uint8_t alg_sha256_rsa[] = {
	0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
};
/* DER of the Distinguished Name CN=vpn: SEQUENCE { SET { SEQUENCE { OID 2.5.4.3,
 * UTF8String "vpn" } } }. */
static const uint8_t dn_cn_vpn[] = {
	0x30, 0x0e, 0x31, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x03, 'v', 'p', 'n',
};

/* Every payload type in the clear, for the dissector only (the rules would refuse it). */
static int msg_zoo(struct msg_out *o)
{
	static uint8_t sig_data[1 + sizeof(alg_sha256_rsa) + 64];
	static uint8_t hash_url[20 + 26];
	static const uint8_t no_nats[12] = {
		192, 0, 2, 7, 198, 51, 100, 1, 0x11, 0x94, 0x11, 0x94,
	};
	static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	static const uint8_t v6b[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0xff };
	struct ike_builder b;
	struct writer w;
	struct ike_sa_payload sa;
	struct ike_ts_list ts;
	struct ike_cp cp;
	struct ike_id id4 = { IKE_ID_IPV4_ADDR, { (const uint8_t *)"\xc0\x00\x02\x07", 4 } };
	struct ike_id dn = { IKE_ID_DER_ASN1_DN, { dn_cn_vpn, sizeof(dn_cn_vpn) } };
	struct ike_cert cert = { IKE_CERT_HASH_URL_X509, { hash_url, sizeof(hash_url) } };
	struct ike_cert req = { IKE_CERT_X509_SIG, { filler, 20 } };
	struct ike_auth auth = { IKE_AUTH_DIGITAL_SIGNATURE, { sig_data, sizeof(sig_data) } };
	struct ike_ke ke = { 14, { filler, 256 } };

	sig_data[0] = sizeof(alg_sha256_rsa);
	memcpy(sig_data + 1, alg_sha256_rsa, sizeof(alg_sha256_rsa));
	memcpy(sig_data + 1 + sizeof(alg_sha256_rsa), filler, 64);
	memcpy(hash_url, filler, 20);
	memcpy(hash_url + 20, "http://example.com/ca.der", 25);
	hash_url[45] = '/';
	start(&b, &w, o, IKE_EXCH_INFORMATIONAL, IKE_FLAG_I, 9, true);
	sa_esp(&sa, false, 0x01020304);
	ike_sa_payload_encode(&b, &sa);
	ike_ke_encode(&b, &ke);
	ike_id_encode(&b, IKE_PT_IDI, &id4);
	ike_id_encode(&b, IKE_PT_IDR, &dn);
	ike_cert_encode(&b, &cert);
	ike_certreq_encode(&b, &req);
	ike_auth_encode(&b, &auth);
	ike_nonce_encode(&b, filler, 16);
	ike_notify_add_rekey_sa(&b, IKE_PROTO_ESP, 0x01020304);
	ike_notify_add(&b, IKE_N_NO_NATS_ALLOWED, no_nats, sizeof(no_nats));
	ike_delete_add(&b, IKE_PROTO_IKE, NULL, 0);
	ike_vendor_encode(&b, filler, 20);
	memset(&ts, 0, sizeof(ts));
	ts.n = 2;
	ike_ts_set_ipv4(&ts.ts[0], 6, 80, 443, ip4(10, 0, 0, 0), ip4(10, 0, 0, 255));
	ike_ts_set_ipv4(&ts.ts[1], 17, 65535, 0, ip4(10, 0, 1, 0), ip4(10, 0, 1, 0));
	ike_ts_encode(&b, IKE_PT_TSI, &ts);
	memset(&ts, 0, sizeof(ts));
	ts.n = 1;
	ts.ts[0] = (struct ike_ts){ .type = IKE_TS_IPV6_ADDR_RANGE, .end_port = 65535 };
	memcpy(ts.ts[0].start, v6a, 16);
	memcpy(ts.ts[0].end, v6b, 16);
	ike_ts_encode(&b, IKE_PT_TSR, &ts);
	cp_value(&cp, true);
	ike_cp_encode(&b, &cp);
	add_default(&b, IKE_PT_EAP, false);
	return finish(&b, o, SK_PLAIN, false);
}

struct named_msg {
	const char *name;
	int (*build)(struct msg_out *o, enum sk_mode mode);
};

static int b_sa_init_req(struct msg_out *o, enum sk_mode m)
{
	(void)m;
	return msg_sa_init_request(o);
}

static int b_sa_init_resp(struct msg_out *o, enum sk_mode m)
{
	(void)m;
	return msg_sa_init_response(o);
}

static int b_cookie(struct msg_out *o, enum sk_mode m)
{
	(void)m;
	return msg_sa_init_cookie(o);
}

static int b_invalid_ke(struct msg_out *o, enum sk_mode m)
{
	(void)m;
	return msg_sa_init_invalid_ke(o);
}

static int b_zoo(struct msg_out *o, enum sk_mode m)
{
	(void)m;
	return msg_zoo(o);
}

/* The names are what ike/tshark_check.py keys its expectations on. */
static const struct named_msg messages[] = {
	{ "01-sa-init-request", b_sa_init_req },
	{ "02-sa-init-response", b_sa_init_resp },
	{ "03-sa-init-cookie", b_cookie },
	{ "04-sa-init-invalid-ke", b_invalid_ke },
	{ "05-auth-request", msg_auth_request },
	{ "06-auth-response", msg_auth_response },
	{ "07-info-mobike-update", msg_info_update },
	{ "08-info-delete", msg_info_delete },
	{ "09-child-rekey", msg_child_rekey },
	{ "10-auth-fragment", msg_auth_fragment },
	{ "11-payload-zoo", b_zoo },
};

#define N_MESSAGES (sizeof(messages) / sizeof(messages[0]))

/* Every message parses, every payload in it decodes, and (except the zoo, which has every
 * payload in the clear) it fits its rules. Checked in the TAP run so that the dumped files
 * are known good. */
static void test_messages(void)
{
	static struct msg_out o;
	static struct ike_payload_value v;
	struct ike_msg m;
	struct ike_chain c;
	struct ike_rule_result r;
	bool has_inner, resp;

	for (size_t i = 0; i < N_MESSAGES; i++) {
		bool zoo = strcmp(messages[i].name, "11-payload-zoo") == 0;
		bool fragment = strcmp(messages[i].name, "10-auth-fragment") == 0;
		int bad = 0, rc;

		for (int mode = SK_PLAIN; mode <= SK_GCM; mode++) {
			CHECK(messages[i].build(&o, (enum sk_mode)mode) == 0);
			if (mode != SK_PLAIN) {
				/* Before decryption: the clear part only. */
				CHECK(ike_msg_parse(o.buf, o.len, &m, NULL) == 0);
				CHECK(ike_rules_check(&m, NULL, &r) == (zoo ? -EBADMSG : 0));
				continue;
			}
			rc = parse_with_inner(o.buf, o.len, &m, &c, &has_inner);
			/* A fragment holds a chunk of the content, not payloads (RFC 7383 2.5). */
			CHECK(rc == (fragment ? -EBADMSG : 0));
			if (rc != 0)
				continue;
			resp = ike_hdr_is_response(&m.hdr);
			for (size_t k = 0; k < m.chain.count; k++)
				CHECK_LOOP(ike_payload_decode(&m.chain.p[k], resp, &v) == 0, bad);
			for (size_t k = 0; has_inner && k < c.count; k++)
				CHECK_LOOP(ike_payload_decode(&c.p[k], resp, &v) == 0, bad);
			CHECK_EQ_U64(bad, 0);
			if (!zoo)
				CHECK(ike_rules_check(&m, has_inner ? &c : NULL, &r) == 0);
			else
				CHECK_EQ_U64(m.chain.count, 16);   /* all 16 types */
		}
	}
}

static int write_file(const char *dir, const char *name, const char *suffix,
		      const struct msg_out *o)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s%s", dir, name, suffix);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		return 1;
	}
	n = fwrite(o->buf, 1, o->len, f);
	if (fclose(f) != 0 || n != o->len) {
		perror(path);
		return 1;
	}
	return 0;
}

/* --dump DIR: each message as it goes on the wire (SK laid out for AES-CBC: IV, padding,
 * ICV; the ciphertext is left as plaintext, no dissector can tell without keys).
 * --seeds DIR: the same with SK content as plaintext inner payloads, as the fuzz target
 * treats it. */
static int dump(const char *dir, enum sk_mode mode)
{
	static struct msg_out o;
	int bad = 0;

	filler_init();
	for (size_t i = 0; i < N_MESSAGES; i++) {
		if (messages[i].build(&o, mode) != 0) {
			fprintf(stderr, "%s: build failed\n", messages[i].name);
			return 1;
		}
		bad |= write_file(dir, messages[i].name, ".bin", &o);
	}
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--dump") == 0)
		return dump(argv[2], SK_CBC);
	if (argc == 3 && strcmp(argv[1], "--seeds") == 0)
		return dump(argv[2], SK_PLAIN);
	filler_init();
	test_messages();
	return tap_done();
}
