/* Unit tests for the IKEv2 payload codec, stage 2 (ike/payload.c, payload_any.c): KE, IDi/IDr,
 * CERT, CERTREQ, AUTH, Nonce, Vendor ID, Delete and EAP, each with a decode/encode round trip
 * and every length and range bound; and the by-type dispatch. SA and TS are in test_sa.c,
 * Notify and CP in test_notify.c.
 *
 * Payload bodies are assembled octet by octet (struct writer, not the code under test) from
 * the figures of RFC 7296 3.4-3.16. Known answer: the sha256WithRSAEncryption
 * AlgorithmIdentifier of RFC 7427 Appendix A.1.2 in a Digital Signature AUTH payload.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "ike/msg.h"
#include "ike/payload.h"
#include "ike/test_payload_util.h"
#include "tests/unit/tap.h"

/* --- KE (3.4), ID (3.5), CERT (3.6), CERTREQ (3.7), AUTH (3.8), Nonce (3.9), V (3.12) --- */

static void test_ke(void)
{
	uint8_t buf[300];
	struct writer w;
	struct ike_payload_ref r;
	struct ike_ke ke;
	struct ike_payload_value v = { .type = IKE_PT_KE };

	/* Figure 10: group 19, RESERVED (ignored on receipt), 64 octets of x|y (RFC 5903 7). */
	writer_init(&w, buf, sizeof(buf));
	writer_be16(&w, 19);
	writer_be16(&w, 0xffff);
	writer_bytes(&w, filler, 64);
	r = wref(IKE_PT_KE, &w);
	CHECK(ike_ke_decode(&r, &ke) == 0);
	CHECK_EQ_U64(ke.group, 19);
	CHECK_EQ_U64(ke.data.len, 64);
	CHECK(ke.data.data == buf + 4);
	v.u.ke = ke;
	CHECK(round_trip(&v, false));
	r.body_len = 4;                      /* no Key Exchange Data */
	CHECK(ike_ke_decode(&r, &ke) == -EBADMSG);
	r.body_len = 3;
	CHECK(ike_ke_decode(&r, &ke) == -EBADMSG);
	r.type = IKE_PT_NONCE;
	CHECK(ike_ke_decode(&r, &ke) == -ENOMSG);
	v.u.ke.data.len = 0;
	CHECK(!round_trip(&v, false));
}

static int id_dec(uint8_t type, const void *data, size_t len)
{
	uint8_t buf[512];
	struct writer w;
	struct ike_payload_ref r;
	struct ike_id id;

	/* Figure 11: ID Type, RESERVED (3), data. */
	writer_init(&w, buf, sizeof(buf));
	writer_u8(&w, type);
	writer_zeros(&w, 3);
	writer_bytes(&w, data, len);
	r = wref(IKE_PT_IDR, &w);
	return ike_id_decode(&r, &id);
}

/* CN=vpn: SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, UTF8String "vpn" } } } in DER. */
static const uint8_t dn_cn_vpn[] = {
	0x30, 0x0e, 0x31, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x03, 'v', 'p', 'n',
};

static void test_id(void)
{
	static uint8_t dn_long[3 + 200];
	struct ike_payload_value v = { .type = IKE_PT_IDI };

	CHECK(id_dec(IKE_ID_IPV4_ADDR, "\xc0\x00\x02\x07", 4) == 0);
	CHECK(id_dec(IKE_ID_IPV4_ADDR, "\xc0\x00\x02", 3) == -EBADMSG);
	CHECK(id_dec(IKE_ID_IPV4_ADDR, "\xc0\x00\x02\x07\x00", 5) == -EBADMSG);
	CHECK(id_dec(IKE_ID_IPV6_ADDR, filler, 16) == 0);
	CHECK(id_dec(IKE_ID_IPV6_ADDR, filler, 15) == -EBADMSG);
	CHECK(id_dec(IKE_ID_FQDN, "vpn.example.com", 15) == 0);
	CHECK(id_dec(IKE_ID_FQDN, "", 0) == -EBADMSG);
	CHECK(id_dec(IKE_ID_FQDN, "vpn\0x", 5) == -EBADMSG);     /* terminator (3.5) */
	CHECK(id_dec(IKE_ID_FQDN, "vpn\r", 4) == -EBADMSG);
	CHECK(id_dec(IKE_ID_FQDN, "v\xc3\xa4", 3) == -EBADMSG);  /* ASCII only */
	CHECK(id_dec(IKE_ID_RFC822_ADDR, "j\xc3\xa4@example.com", 14) == 0);  /* UTF-8 ok */
	CHECK(id_dec(IKE_ID_RFC822_ADDR, "joe@example.com\n", 16) == -EBADMSG);
	CHECK(id_dec(IKE_ID_DER_ASN1_DN, dn_cn_vpn, sizeof(dn_cn_vpn)) == 0);
	CHECK(id_dec(IKE_ID_DER_ASN1_DN, dn_cn_vpn, sizeof(dn_cn_vpn) - 1) == -EBADMSG);
	CHECK(id_dec(IKE_ID_DER_ASN1_DN, "\x30\x00", 2) == 0);
	CHECK(id_dec(IKE_ID_DER_ASN1_DN, "\x31\x00", 2) == -EBADMSG);      /* not a SEQUENCE */
	CHECK(id_dec(IKE_ID_DER_ASN1_DN, "\x30\x81\x01\x00", 4) == -EBADMSG); /* not minimal */
	CHECK(id_dec(IKE_ID_DER_ASN1_DN, "\x30\x80", 2) == -EBADMSG);      /* indefinite */
	dn_long[0] = 0x30;
	dn_long[1] = 0x81;
	dn_long[2] = 200;
	CHECK(id_dec(IKE_ID_DER_ASN1_DN, dn_long, sizeof(dn_long)) == 0);
	CHECK(id_dec(IKE_ID_DER_ASN1_DN, dn_long, sizeof(dn_long) - 1) == -EBADMSG);
	CHECK(id_dec(IKE_ID_KEY_ID, "k", 1) == 0);
	CHECK(id_dec(IKE_ID_KEY_ID, "", 0) == -EBADMSG);
	CHECK(id_dec(IKE_ID_DER_ASN1_GN, "", 0) == -EBADMSG);
	CHECK(id_dec(13, "", 0) == 0);        /* ID_NULL (RFC 7619): policy decides */

	v.u.id = (struct ike_id){ IKE_ID_RFC822_ADDR, { (const uint8_t *)"mn@example.com", 14 } };
	CHECK(round_trip(&v, false));
	v.type = IKE_PT_IDR;
	v.u.id = (struct ike_id){ IKE_ID_DER_ASN1_DN, { dn_cn_vpn, sizeof(dn_cn_vpn) } };
	CHECK(round_trip(&v, true));
	v.u.id.data.len--;
	CHECK(!round_trip(&v, true));         /* the encoder refuses it too */
}

static int cert_dec(uint8_t ptype, uint8_t enc, size_t len)
{
	uint8_t buf[128];
	struct writer w;
	struct ike_payload_ref r;
	struct ike_cert c;

	writer_init(&w, buf, sizeof(buf));
	writer_u8(&w, enc);
	writer_bytes(&w, filler, len);
	r = wref(ptype, &w);
	return ptype == IKE_PT_CERT ? ike_cert_decode(&r, &c) : ike_certreq_decode(&r, &c);
}

static void test_cert(void)
{
	struct ike_payload_value v = { .type = IKE_PT_CERT };

	CHECK(cert_dec(IKE_PT_CERT, IKE_CERT_X509_SIG, 1) == 0);
	CHECK(cert_dec(IKE_PT_CERT, IKE_CERT_X509_SIG, 0) == -EBADMSG);
	CHECK(cert_dec(IKE_PT_CERT, IKE_CERT_HASH_URL_X509, 20) == -EBADMSG);  /* no URL */
	CHECK(cert_dec(IKE_PT_CERT, IKE_CERT_HASH_URL_X509, 21) == 0);
	CHECK(cert_dec(IKE_PT_CERT, IKE_CERT_HASH_URL_BUNDLE, 20) == -EBADMSG);
	CHECK(cert_dec(IKE_PT_CERT, 0, 0) == -EBADMSG);         /* only the encoding octet */
	/* 3.7: concatenated 20-octet SHA-1 hashes for X.509 types. */
	CHECK(cert_dec(IKE_PT_CERTREQ, IKE_CERT_X509_SIG, 0) == 0);
	CHECK(cert_dec(IKE_PT_CERTREQ, IKE_CERT_X509_SIG, 20) == 0);
	CHECK(cert_dec(IKE_PT_CERTREQ, IKE_CERT_X509_SIG, 40) == 0);
	CHECK(cert_dec(IKE_PT_CERTREQ, IKE_CERT_X509_SIG, 19) == -EBADMSG);
	CHECK(cert_dec(IKE_PT_CERTREQ, IKE_CERT_X509_SIG, 21) == -EBADMSG);
	CHECK(cert_dec(IKE_PT_CERTREQ, IKE_CERT_HASH_URL_BUNDLE, 39) == -EBADMSG);
	CHECK(cert_dec(IKE_PT_CERTREQ, 2, 7) == 0);             /* PGP: no syntax defined */

	v.u.cert = (struct ike_cert){ IKE_CERT_X509_SIG, { filler, 300 } };
	CHECK(round_trip(&v, false));
	v.type = IKE_PT_CERTREQ;
	v.u.cert.data.len = 60;
	CHECK(round_trip(&v, true));
	v.u.cert.data.len = 61;
	CHECK(!round_trip(&v, true));
}

/* sha256WithRSAEncryption AlgorithmIdentifier, RFC 7427 Appendix A.1.2. */
static const uint8_t alg_sha256_rsa[15] = {
	0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
};

static void test_auth(void)
{
	uint8_t buf[300];
	struct writer w;
	struct ike_payload_ref r;
	struct ike_auth a;
	struct ike_blob alg, sig;
	struct ike_payload_value v = { .type = IKE_PT_AUTH };

	/* RFC 7427 3, Figure 1: method 14, RESERVED, then length | AlgorithmIdentifier | sig. */
	writer_init(&w, buf, sizeof(buf));
	writer_u8(&w, IKE_AUTH_DIGITAL_SIGNATURE);
	writer_zeros(&w, 3);
	writer_u8(&w, sizeof(alg_sha256_rsa));
	writer_bytes(&w, alg_sha256_rsa, sizeof(alg_sha256_rsa));
	writer_bytes(&w, filler, 256);
	r = wref(IKE_PT_AUTH, &w);
	CHECK(ike_auth_decode(&r, &a) == 0);
	CHECK_EQ_U64(a.method, 14);
	CHECK_EQ_U64(a.data.len, 1 + 15 + 256);
	CHECK(ike_auth_sig_split(&a, &alg, &sig) == 0);
	CHECK_EQ_U64(alg.len, 15);
	CHECK_MEM(alg.data, alg_sha256_rsa, 15);
	CHECK_EQ_U64(sig.len, 256);
	CHECK(sig.data == buf + 20);
	v.u.auth = a;
	CHECK(round_trip(&v, false));
	r.body_len = 4 + 16;                 /* AlgorithmIdentifier but no signature */
	CHECK(ike_auth_decode(&r, &a) == -EBADMSG);
	r.body_len = 4 + 10;                 /* length octet past the end */
	CHECK(ike_auth_decode(&r, &a) == -EBADMSG);
	buf[4] = 0;                          /* empty AlgorithmIdentifier */
	r.body_len = 4 + 16 + 256;
	CHECK(ike_auth_decode(&r, &a) == -EBADMSG);
	buf[0] = IKE_AUTH_SHARED_KEY_MIC;    /* any data for the other methods */
	CHECK(ike_auth_decode(&r, &a) == 0);
	CHECK(ike_auth_sig_split(&a, &alg, &sig) == -EBADMSG);
	r.body_len = 4;
	CHECK(ike_auth_decode(&r, &a) == -EBADMSG);
	r.body_len = 3;
	CHECK(ike_auth_decode(&r, &a) == -EBADMSG);
}

static void test_nonce_vendor(void)
{
	struct ike_payload_ref r = ref(IKE_PT_NONCE, filler, 16);
	struct ike_blob b;
	struct ike_payload_value v = { .type = IKE_PT_NONCE };

	/* 3.9: 16..256 octets inclusive. */
	CHECK(ike_nonce_decode(&r, &b) == 0 && b.len == 16 && b.data == filler);
	r.body_len = 15;
	CHECK(ike_nonce_decode(&r, &b) == -EBADMSG);
	r.body_len = 256;
	CHECK(ike_nonce_decode(&r, &b) == 0);
	r.body_len = 257;
	CHECK(ike_nonce_decode(&r, &b) == -EBADMSG);
	v.u.blob = (struct ike_blob){ filler, 256 };
	CHECK(round_trip(&v, false));
	v.u.blob.len = 257;
	CHECK(!round_trip(&v, false));

	r = ref(IKE_PT_VENDOR, filler, 1);
	CHECK(ike_vendor_decode(&r, &b) == 0);
	r.body_len = 0;
	CHECK(ike_vendor_decode(&r, &b) == -EBADMSG);
	r.type = IKE_PT_NONCE;
	CHECK(ike_vendor_decode(&r, &b) == -ENOMSG);
	v.type = IKE_PT_VENDOR;
	v.u.blob = (struct ike_blob){ filler, 20 };
	CHECK(round_trip(&v, true));
}

/* --- Delete (3.11) ---------------------------------------------------------------------- */

static int delete_dec(uint8_t proto, uint8_t spi_size, uint16_t n_spis, size_t data_len,
		      struct ike_delete *out)
{
	static uint8_t buf[256];
	struct writer w;
	struct ike_payload_ref r;
	struct ike_delete d;

	/* Figure 17: Protocol ID, SPI Size, Num of SPIs, SPIs. */
	writer_init(&w, buf, sizeof(buf));
	writer_u8(&w, proto);
	writer_u8(&w, spi_size);
	writer_be16(&w, n_spis);
	for (size_t i = 0; i < data_len; i++)
		writer_u8(&w, (uint8_t)(0x10 + i));
	r = wref(IKE_PT_DELETE, &w);
	return ike_delete_decode(&r, out ? out : &d);
}

static void test_delete(void)
{
	struct ike_delete d;
	uint32_t spi;
	struct ike_payload_value v = { .type = IKE_PT_DELETE };
	uint8_t buf[64];
	struct writer w;
	struct ike_builder b;

	CHECK(delete_dec(IKE_PROTO_IKE, 0, 0, 0, &d) == 0);
	CHECK(delete_dec(IKE_PROTO_IKE, 8, 1, 8, NULL) == -EBADMSG);    /* 3.11: SPI in header */
	CHECK(delete_dec(IKE_PROTO_IKE, 0, 1, 0, NULL) == -EBADMSG);
	CHECK(delete_dec(IKE_PROTO_ESP, 4, 2, 8, &d) == 0);
	CHECK(ike_delete_spi(&d, 1, &spi) == 0);
	CHECK_EQ_U64(spi, 0x14151617);
	CHECK(ike_delete_spi(&d, 2, &spi) == -EINVAL);
	CHECK(delete_dec(IKE_PROTO_AH, 4, 1, 4, NULL) == 0);
	CHECK(delete_dec(IKE_PROTO_ESP, 4, 2, 7, NULL) == -EBADMSG);
	CHECK(delete_dec(IKE_PROTO_ESP, 4, 2, 9, NULL) == -EBADMSG);
	CHECK(delete_dec(IKE_PROTO_ESP, 4, 0, 0, NULL) == -EBADMSG);
	CHECK(delete_dec(IKE_PROTO_ESP, 8, 1, 8, NULL) == -EBADMSG);
	CHECK(delete_dec(4, 4, 1, 4, NULL) == -EBADMSG);
	CHECK(delete_dec(IKE_PROTO_ESP, 4, 2, 8, &d) == 0);
	v.u.del = d;
	CHECK(round_trip(&v, false));
	CHECK(delete_dec(IKE_PROTO_IKE, 0, 0, 0, &d) == 0);
	v.u.del = d;
	CHECK(round_trip(&v, true));
	writer_init(&w, buf, sizeof(buf));
	ike_build_start_chain(&b, &w);
	CHECK(ike_delete_add(&b, IKE_PROTO_ESP, NULL, 0) == -EINVAL);
	CHECK(ike_delete_add(&b, IKE_PROTO_IKE, &spi, 1) == -EINVAL);
	CHECK(ike_delete_add(&b, IKE_PROTO_AH, &spi, 1) == 0);
	CHECK_MEM(buf, "\x00\x00\x00\x0c\x02\x04\x00\x01\x14\x15\x16\x17", 12);
}

/* --- EAP (3.16) ------------------------------------------------------------------------- */

static void test_eap(void)
{
	struct ike_payload_ref r;
	struct ike_eap e;
	struct ike_payload_value v = { .type = IKE_PT_EAP };

	/* Figure 25: Code, Identifier, Length (= payload length - 4), Type, Type_Data. */
	r = ref(IKE_PT_EAP, (const uint8_t *)"\x02\x05\x00\x07\x01mn", 7);
	CHECK(ike_eap_decode(&r, &e) == 0);
	CHECK(e.code == 2 && e.identifier == 5 && e.msg.len == 7);
	v.u.eap = e;
	CHECK(round_trip(&v, false));
	r = ref(IKE_PT_EAP, (const uint8_t *)"\x03\x05\x00\x04", 4);          /* Success */
	CHECK(ike_eap_decode(&r, &e) == 0);
	r = ref(IKE_PT_EAP, (const uint8_t *)"\x03\x05\x00\x05\x01", 5);      /* + Type */
	CHECK(ike_eap_decode(&r, &e) == -EBADMSG);
	r = ref(IKE_PT_EAP, (const uint8_t *)"\x01\x05\x00\x04", 4);          /* no Type */
	CHECK(ike_eap_decode(&r, &e) == -EBADMSG);
	r = ref(IKE_PT_EAP, (const uint8_t *)"\x02\x05\x00\x08\x01mn", 7);    /* Length */
	CHECK(ike_eap_decode(&r, &e) == -EBADMSG);
	r = ref(IKE_PT_EAP, (const uint8_t *)"\x02\x05\x00\x06\x01mn", 7);
	CHECK(ike_eap_decode(&r, &e) == -EBADMSG);
	r = ref(IKE_PT_EAP, (const uint8_t *)"\x05\x05\x00\x04", 4);          /* Code 5 */
	CHECK(ike_eap_decode(&r, &e) == -EBADMSG);
	r = ref(IKE_PT_EAP, (const uint8_t *)"\x03\x05\x00", 3);
	CHECK(ike_eap_decode(&r, &e) == -EBADMSG);
	v.u.eap.code = 1;                     /* disagrees with the message octets */
	CHECK(!round_trip(&v, false));
}

/* --- any payload ------------------------------------------------------------------------ */

static void test_any(void)
{
	struct ike_payload_value a, b;
	struct ike_payload_ref r = ref(IKE_PT_SK, filler, 20);

	/* SK is located by stage 1, never decoded as a payload. */
	CHECK(ike_payload_decode(&r, false, &a) == -ENOMSG);
	r.type = 100;
	CHECK(ike_payload_decode(&r, false, &a) == -ENOMSG);
	/* Equality looks at content, not at where the views point. */
	memset(&a, 0, sizeof(a));
	a.type = IKE_PT_NONCE;
	a.u.blob = (struct ike_blob){ filler, 32 };
	b = a;
	b.u.blob.data = filler + 512;
	memcpy(filler + 512, filler, 32);
	CHECK(ike_payload_equal(&a, &b));
	filler[512 + 31] ^= 1;
	CHECK(!ike_payload_equal(&a, &b));
	b = a;
	b.type = IKE_PT_VENDOR;
	CHECK(!ike_payload_equal(&a, &b));
	CHECK(ike_payload_encode(NULL, &(struct ike_payload_value){ .type = IKE_PT_SK }) ==
	      -EINVAL);
}

int main(void)
{
	filler_init();
	test_ke();
	test_id();
	test_cert();
	test_auth();
	test_nonce_vendor();
	test_delete();
	test_eap();
	test_any();
	return tap_done();
}
