/* Unit tests for the IKEv2 Notify payload and the data of the notify types we use
 * (ike/payload_notify.c: RFC 7296 3.10, RFC 4555 4, RFC 7383 2.3, RFC 7427 4), and for the
 * Configuration payload (ike/payload_cp.c, RFC 7296 3.15): round trips and every bound.
 * Bodies are assembled octet by octet from Figures 16, 22 and 23 with struct writer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "ike/msg.h"
#include "ike/payload.h"
#include "ike/test_payload_util.h"
#include "tests/unit/tap.h"

/* --- Notify (3.10) ---------------------------------------------------------------------- */

/* Figure 16: Protocol ID, SPI Size, Notify Message Type, SPI, data. */
static int notify_dec(uint8_t proto, uint8_t spi_size, uint16_t type, const void *data,
		      size_t len, struct ike_notify *out)
{
	static uint8_t buf[600];
	struct writer w;
	struct ike_payload_ref r;
	struct ike_notify n;

	writer_init(&w, buf, sizeof(buf));
	writer_u8(&w, proto);
	writer_u8(&w, spi_size);
	writer_be16(&w, type);
	writer_bytes(&w, "\x00\x00\x12\x34\x56\x78\x9a\xbc", spi_size);
	writer_bytes(&w, data, len);
	r = wref(IKE_PT_NOTIFY, &w);
	return ike_notify_decode(&r, out ? out : &n);
}

static void test_notify(void)
{
	struct ike_notify n;
	uint8_t hash[IKE_NAT_DETECTION_LEN];
	struct ike_blob cookie;
	struct in_addr a4;
	struct in6_addr a6;
	struct ike_no_nats nn;
	uint16_t algs[4], group;
	size_t count;
	uint8_t proto;
	uint32_t spi;
	struct ike_payload_value v = { .type = IKE_PT_NOTIFY };

	/* NAT_DETECTION_*: 20 octets (2.23). */
	CHECK(notify_dec(0, 0, IKE_N_NAT_DETECTION_SOURCE_IP, filler, 20, &n) == 0);
	CHECK(ike_notify_nat_detection(&n, hash) == 0);
	CHECK_MEM(hash, filler, 20);
	CHECK(ike_notify_cookie(&n, &cookie) == -ENOMSG);
	CHECK(notify_dec(0, 0, IKE_N_NAT_DETECTION_DESTINATION_IP, filler, 19, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_NAT_DETECTION_DESTINATION_IP, filler, 21, NULL) == -EBADMSG);
	/* The Protocol ID of a notify without SPI is ignored (3.10): kept as 0. */
	CHECK(notify_dec(3, 0, IKE_N_NAT_DETECTION_DESTINATION_IP, filler, 20, &n) == 0);
	CHECK_EQ_U64(n.protocol, 0);
	CHECK(ike_notify_nat_detection(&n, hash) == 0);
	/* COOKIE 1..64 (2.6), COOKIE2 8..64 (RFC 4555 4.2.5). */
	CHECK(notify_dec(0, 0, IKE_N_COOKIE, filler, 0, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_COOKIE, filler, 1, &n) == 0);
	CHECK(ike_notify_cookie(&n, &cookie) == 0 && cookie.len == 1);
	CHECK(notify_dec(0, 0, IKE_N_COOKIE, filler, 64, NULL) == 0);
	CHECK(notify_dec(0, 0, IKE_N_COOKIE, filler, 65, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_COOKIE2, filler, 7, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_COOKIE2, filler, 8, &n) == 0);
	CHECK(ike_notify_cookie(&n, &cookie) == 0 && cookie.len == 8);
	CHECK(notify_dec(0, 0, IKE_N_COOKIE2, filler, 64, NULL) == 0);
	CHECK(notify_dec(0, 0, IKE_N_COOKIE2, filler, 65, NULL) == -EBADMSG);
	/* RFC 4555 4.2: no data, IPv4 4 octets, IPv6 16, NO_NATS_ALLOWED 12 or 36. */
	CHECK(notify_dec(0, 0, IKE_N_UPDATE_SA_ADDRESSES, NULL, 0, NULL) == 0);
	CHECK(notify_dec(0, 0, IKE_N_UPDATE_SA_ADDRESSES, filler, 1, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_NO_ADDITIONAL_ADDRESSES, filler, 1, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_UNACCEPTABLE_ADDRESSES, filler, 1, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_ADDITIONAL_IP4_ADDRESS, "\xc0\x00\x02\x07", 4, &n) == 0);
	CHECK(ike_notify_additional_ip4(&n, &a4) == 0);
	CHECK_EQ_U64(ntohl(a4.s_addr), 0xc0000207);
	CHECK(notify_dec(0, 0, IKE_N_ADDITIONAL_IP4_ADDRESS, filler, 3, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_ADDITIONAL_IP4_ADDRESS, filler, 5, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_ADDITIONAL_IP6_ADDRESS, filler, 16, &n) == 0);
	CHECK(ike_notify_additional_ip6(&n, &a6) == 0);
	CHECK_MEM(a6.s6_addr, filler, 16);
	CHECK(ike_notify_additional_ip4(&n, &a4) == -ENOMSG);
	CHECK(notify_dec(0, 0, IKE_N_ADDITIONAL_IP6_ADDRESS, filler, 4, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_NO_NATS_ALLOWED,
			 "\xc0\x00\x02\x07\xc6\x33\x64\x01\x11\x94\x01\xf4", 12, &n) == 0);
	CHECK(ike_notify_no_nats(&n, &nn) == 0);
	CHECK_EQ_U64(nn.family, AF_INET);
	CHECK_MEM(nn.dst, "\xc6\x33\x64\x01", 4);
	CHECK_EQ_U64(nn.src_port, 4500);
	CHECK_EQ_U64(nn.dst_port, 500);
	CHECK(notify_dec(0, 0, IKE_N_NO_NATS_ALLOWED, filler, 36, &n) == 0);
	CHECK(ike_notify_no_nats(&n, &nn) == 0 && nn.family == AF_INET6);
	CHECK(notify_dec(0, 0, IKE_N_NO_NATS_ALLOWED, filler, 24, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_NO_NATS_ALLOWED, filler, 13, NULL) == -EBADMSG);
	/* MOBIKE_SUPPORTED: data ignored (RFC 4555 4.2.1), so any is accepted. */
	CHECK(notify_dec(0, 0, IKE_N_MOBIKE_SUPPORTED, "R", 1, NULL) == 0);
	/* REKEY_SA: the Child SA's SPI, no data (1.3.3). */
	CHECK(notify_dec(IKE_PROTO_ESP, 4, IKE_N_REKEY_SA, NULL, 0, &n) == 0);
	CHECK(ike_notify_rekey_sa(&n, &proto, &spi) == 0);
	CHECK_EQ_U64(proto, IKE_PROTO_ESP);
	CHECK_EQ_U64(spi, 0x00001234);
	CHECK(notify_dec(0, 0, IKE_N_REKEY_SA, NULL, 0, NULL) == -EBADMSG);
	CHECK(notify_dec(IKE_PROTO_ESP, 4, IKE_N_REKEY_SA, filler, 1, NULL) == -EBADMSG);
	CHECK(notify_dec(IKE_PROTO_IKE, 4, IKE_N_REKEY_SA, NULL, 0, NULL) == -EBADMSG);
	/* MM_ESP_RECEIVED (private): ESP, the 4-octet SPI, 8 octets of sequence number. */
	{
		uint64_t seq = 0;

		CHECK(notify_dec(IKE_PROTO_ESP, 4, IKE_N_MM_ESP_RECEIVED,
				 "\x00\x00\x00\x01\x00\x00\x00\x2a", 8, &n) == 0);
		CHECK(ike_notify_esp_received(&n, &spi, &seq) == 0);
		CHECK(spi == 0x00001234 && seq == 0x10000002aull);
		CHECK(notify_dec(IKE_PROTO_ESP, 4, IKE_N_MM_ESP_RECEIVED, filler, 7, &n) == 0);
		CHECK(ike_notify_esp_received(&n, &spi, &seq) == -EBADMSG);
		CHECK(notify_dec(IKE_PROTO_ESP, 4, IKE_N_MM_ESP_RECEIVED, filler, 9, &n) == 0);
		CHECK(ike_notify_esp_received(&n, &spi, &seq) == -EBADMSG);
		CHECK(notify_dec(0, 0, IKE_N_MM_ESP_RECEIVED, filler, 8, &n) == 0);
		CHECK(ike_notify_esp_received(&n, &spi, &seq) == -EBADMSG);
		CHECK(notify_dec(IKE_PROTO_AH, 4, IKE_N_MM_ESP_RECEIVED, filler, 8, &n) == 0);
		CHECK(ike_notify_esp_received(&n, &spi, &seq) == -EBADMSG);
		CHECK(notify_dec(IKE_PROTO_ESP, 4, IKE_N_REKEY_SA, NULL, 0, &n) == 0);
		CHECK(ike_notify_esp_received(&n, &spi, &seq) == -ENOMSG);
	}
	CHECK(notify_dec(IKE_PROTO_IKE, 8, 40000, NULL, 0, &n) == 0);   /* generic IKE SPI */
	CHECK_EQ_U64(n.spi_size, 8);
	CHECK(notify_dec(IKE_PROTO_ESP, 8, 40000, NULL, 0, NULL) == -EBADMSG);
	CHECK(notify_dec(IKE_PROTO_ESP, 3, 40000, NULL, 0, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_NAT_DETECTION_SOURCE_IP, NULL, 0, NULL) == -EBADMSG);
	/* The SPI of an IKE-SA notify must be empty (3.10). */
	CHECK(notify_dec(IKE_PROTO_ESP, 4, IKE_N_COOKIE, filler, 8, NULL) == -EBADMSG);
	/* SIGNATURE_HASH_ALGORITHMS: 16-bit identifiers (RFC 7427 4). */
	CHECK(notify_dec(0, 0, IKE_N_SIGNATURE_HASH_ALGORITHMS, "\x00\x02\x00\x04", 4, &n) == 0);
	CHECK(ike_notify_hash_algs(&n, algs, 4, &count) == 0);
	CHECK(count == 2 && algs[0] == IKE_HASH_SHA2_256 && algs[1] == IKE_HASH_SHA2_512);
	CHECK(ike_notify_hash_algs(&n, algs, 1, &count) == -E2BIG);
	CHECK(notify_dec(0, 0, IKE_N_SIGNATURE_HASH_ALGORITHMS, filler, 3, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_SIGNATURE_HASH_ALGORITHMS, filler, 0, NULL) == -EBADMSG);
	/* INVALID_KE_PAYLOAD: the accepted group, 2 octets (1.3). */
	CHECK(notify_dec(0, 0, IKE_N_INVALID_KE_PAYLOAD, "\x00\x13", 2, &n) == 0);
	CHECK(ike_notify_invalid_ke(&n, &group) == 0 && group == 19);
	CHECK(notify_dec(0, 0, IKE_N_INVALID_KE_PAYLOAD, "\x00", 1, NULL) == -EBADMSG);
	CHECK(notify_dec(0, 0, IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD, "\x64", 1, NULL) == 0);
	CHECK(notify_dec(0, 0, IKE_N_IKEV2_FRAGMENTATION_SUPPORTED, filler, 1, NULL) == -EBADMSG);
	/* Unknown types: any data (3.10.1: ignored if not recognized). */
	CHECK(notify_dec(0, 0, 40000, filler, 500, &n) == 0);
	CHECK_EQ_U64(n.data.len, 500);
	CHECK(notify_dec(0, 0, 40000, filler, 0, NULL) == 0);
	CHECK(notify_dec(0, 0, 0, NULL, 0, NULL) == 0);
	/* Truncated fixed part or SPI. */
	{
		struct ike_payload_ref r = ref(IKE_PT_NOTIFY, (const uint8_t *)"\x03\x04\x40", 3);

		CHECK(ike_notify_decode(&r, &n) == -EBADMSG);
		r = ref(IKE_PT_NOTIFY, (const uint8_t *)"\x03\x04\x40\x09\x00\x00", 6);
		CHECK(ike_notify_decode(&r, &n) == -EBADMSG);
	}

	v.u.notify = (struct ike_notify){ .protocol = IKE_PROTO_ESP, .spi_size = 4,
					  .spi = { 1, 2, 3, 4 }, .type = IKE_N_REKEY_SA };
	CHECK(round_trip(&v, false));
	v.u.notify = (struct ike_notify){ .type = IKE_N_COOKIE2, .data = { filler, 16 } };
	CHECK(round_trip(&v, false));
	v.u.notify.data.len = 7;
	CHECK(!round_trip(&v, false));
}

static void test_notify_encoders(void)
{
	static const uint16_t algs[] = { 2, 3, 4 };
	uint8_t buf[256];
	struct writer w;
	struct ike_builder b;
	struct ike_chain c;
	struct ike_notify n;
	uint16_t got[4] = { 0 }, group = 0;
	size_t len, count = 0;
	struct in_addr a = { 0 };
	uint8_t proto = 0;
	uint32_t spi = 0;

	writer_init(&w, buf, sizeof(buf));
	ike_build_start_chain(&b, &w);
	CHECK(ike_notify_add_u16(&b, IKE_N_INVALID_KE_PAYLOAD, 14) == 0);
	CHECK(ike_notify_add_ip4(&b, IKE_N_ADDITIONAL_IP4_ADDRESS, (struct in_addr){
		htonl(0x0a000001) }) == 0);
	CHECK(ike_notify_add_rekey_sa(&b, IKE_PROTO_ESP, 0xdeadbeef) == 0);
	CHECK(ike_notify_add_hash_algs(&b, algs, 3) == 0);
	CHECK(ike_notify_add_hash_algs(&b, algs, 0) == -EINVAL);
	CHECK(ike_notify_add_rekey_sa(&b, IKE_PROTO_IKE, 1) == -EINVAL);
	CHECK(ike_notify_add_esp_received(&b, 0xc0ffee01, 0x123456789ull) == 0);
	CHECK(ike_build_finish(&b, &len) == 0);
	/* 8+2, 8+4, 8+4 (SPI), 8+6, 8+4+8 */
	CHECK_EQ_U64(len, 10 + 12 + 12 + 14 + 20);
	CHECK(ike_chain_parse(buf, len, ike_build_chain_first(&b), 0, true, &c, NULL) == 0);
	CHECK_EQ_U64(c.count, 5);
	CHECK(ike_notify_decode(&c.p[0], &n) == 0 && ike_notify_invalid_ke(&n, &group) == 0);
	CHECK_EQ_U64(group, 14);
	CHECK(ike_notify_decode(&c.p[1], &n) == 0 && ike_notify_additional_ip4(&n, &a) == 0);
	CHECK_EQ_U64(ntohl(a.s_addr), 0x0a000001);
	CHECK(ike_notify_decode(&c.p[2], &n) == 0 && ike_notify_rekey_sa(&n, &proto, &spi) == 0);
	CHECK_EQ_U64(spi, 0xdeadbeef);
	CHECK(ike_notify_decode(&c.p[3], &n) == 0 &&
	      ike_notify_hash_algs(&n, got, 4, &count) == 0);
	CHECK(count == 3 && got[2] == 4);
	{
		uint64_t seq = 0;

		CHECK(ike_notify_decode(&c.p[4], &n) == 0 &&
		      ike_notify_esp_received(&n, &spi, &seq) == 0);
		CHECK(spi == 0xc0ffee01 && seq == 0x123456789ull);
	}
	/* The octets of the REKEY_SA notify, by Figure 16, and of MM_ESP_RECEIVED. */
	CHECK_MEM(buf + 22, "\x29\x00\x00\x0c\x03\x04\x40\x09\xde\xad\xbe\xef", 12);
	CHECK_MEM(buf + 48, "\x00\x00\x00\x14\x03\x04\xc3\x00\xc0\xff\xee\x01"
		  "\x00\x00\x00\x01\x23\x45\x67\x89", 20);
}

/* --- CP (3.15) -------------------------------------------------------------------------- */

struct attr {
	uint16_t type;
	uint16_t len;
	const char *value;
};

static int cp_dec(uint8_t cfg, const struct attr *a, size_t n, struct ike_cp *out)
{
	static uint8_t buf[1024];
	static struct ike_cp cp;
	struct writer w;
	struct ike_payload_ref r;

	/* Figure 22: CFG Type, RESERVED (3); Figure 23: R|Type, Length, Value. */
	writer_init(&w, buf, sizeof(buf));
	writer_u8(&w, cfg);
	writer_zeros(&w, 3);
	for (size_t i = 0; i < n; i++) {
		writer_be16(&w, a[i].type);
		writer_be16(&w, a[i].len);
		writer_bytes(&w, a[i].value ? a[i].value : (const char *)filler, a[i].len);
	}
	r = wref(IKE_PT_CP, &w);
	return ike_cp_decode(&r, out ? out : &cp);
}

#define CP1(cfg, t, l, v) cp_dec(cfg, (const struct attr[]){ { t, l, v } }, 1, NULL)

static void test_cp(void)
{
	static struct ike_cp cp;
	static struct attr many[33];
	struct in_addr a, m;
	struct ike_payload_value v = { .type = IKE_PT_CP };
	const struct attr req[] = {
		{ IKE_CP_INTERNAL_IP4_ADDRESS, 0, NULL }, { IKE_CP_INTERNAL_IP4_NETMASK, 0, NULL },
		{ IKE_CP_INTERNAL_IP4_DNS, 0, NULL }, { IKE_CP_SUPPORTED_ATTRIBUTES, 0, NULL },
		{ IKE_CP_INTERNAL_IP6_ADDRESS, 0, NULL },
	};
	const struct attr reply[] = {
		{ IKE_CP_INTERNAL_IP4_ADDRESS, 4, "\x0a\x08\x00\x02" },
		{ 0x8000 | IKE_CP_INTERNAL_IP4_NETMASK, 4, "\xff\xff\xff\x00" },  /* R bit set */
		{ IKE_CP_INTERNAL_IP4_SUBNET, 8, "\x0a\x08\x00\x00\xff\xff\x00\x00" },
		{ IKE_CP_APPLICATION_VERSION, 5, "mnd 1" },
		{ IKE_CP_SUPPORTED_ATTRIBUTES, 4, "\x00\x01\x00\x03" },
		{ 99, 3, "xyz" },                                 /* unknown: kept, unchecked */
	};

	CHECK(cp_dec(IKE_CFG_REQUEST, req, 5, &cp) == 0);
	CHECK_EQ_U64(cp.cfg_type, IKE_CFG_REQUEST);
	CHECK_EQ_U64(cp.n_attrs, 5);
	CHECK(ike_cp_attr_ip4(&cp.a[0], &a) == -EBADMSG);          /* empty: a request */
	v.u.cp = cp;
	CHECK(round_trip(&v, false));
	CHECK(cp_dec(IKE_CFG_REPLY, reply, 6, &cp) == 0);
	CHECK_EQ_U64(cp.a[1].type, IKE_CP_INTERNAL_IP4_NETMASK);   /* R bit dropped */
	CHECK(ike_cp_attr_ip4(&cp.a[0], &a) == 0);
	CHECK_EQ_U64(ntohl(a.s_addr), 0x0a080002);
	CHECK(ike_cp_attr_ip4_subnet(&cp.a[2], &a, &m) == 0);
	CHECK_EQ_U64(ntohl(a.s_addr), 0x0a080000);
	CHECK_EQ_U64(ntohl(m.s_addr), 0xffff0000);
	CHECK(ike_cp_attr_ip4(&cp.a[2], &a) == -ENOMSG);
	CHECK_EQ_U64(cp.a[5].type, 99);
	v.u.cp = cp;
	CHECK(round_trip(&v, true));

	/* Lengths by CFG type (3.15.1). */
	CHECK(CP1(IKE_CFG_REQUEST, IKE_CP_INTERNAL_IP4_ADDRESS, 4, NULL) == 0); /* suggestion */
	CHECK(CP1(IKE_CFG_REQUEST, IKE_CP_INTERNAL_IP4_ADDRESS, 3, NULL) == -EBADMSG);
	CHECK(CP1(IKE_CFG_REQUEST, IKE_CP_INTERNAL_IP4_NETMASK, 4, NULL) == -EBADMSG);
	CHECK(CP1(IKE_CFG_REQUEST, IKE_CP_SUPPORTED_ATTRIBUTES, 2, NULL) == -EBADMSG);
	CHECK(CP1(IKE_CFG_REPLY, IKE_CP_INTERNAL_IP4_ADDRESS, 0, NULL) == -EBADMSG);
	CHECK(CP1(IKE_CFG_REPLY, IKE_CP_INTERNAL_IP4_ADDRESS, 5, NULL) == -EBADMSG);
	CHECK(CP1(IKE_CFG_REPLY, IKE_CP_INTERNAL_IP4_SUBNET, 4, NULL) == -EBADMSG);
	CHECK(CP1(IKE_CFG_REPLY, IKE_CP_INTERNAL_IP6_ADDRESS, 17, NULL) == 0);
	CHECK(CP1(IKE_CFG_REPLY, IKE_CP_INTERNAL_IP6_ADDRESS, 16, NULL) == -EBADMSG);
	CHECK(CP1(IKE_CFG_REPLY, IKE_CP_INTERNAL_IP6_DNS, 16, NULL) == 0);
	CHECK(CP1(IKE_CFG_REPLY, IKE_CP_SUPPORTED_ATTRIBUTES, 3, NULL) == -EBADMSG);
	CHECK(CP1(IKE_CFG_REPLY, IKE_CP_APPLICATION_VERSION, 4, "a\nb ") == -EBADMSG);
	CHECK(CP1(IKE_CFG_SET, IKE_CP_INTERNAL_IP4_DNS, 4, NULL) == 0);
	CHECK(CP1(IKE_CFG_ACK, IKE_CP_INTERNAL_IP4_DNS, 0, NULL) == 0);
	CHECK(CP1(IKE_CFG_ACK, IKE_CP_INTERNAL_IP4_DNS, 4, NULL) == -EBADMSG);
	CHECK(CP1(IKE_CFG_ACK, 99, 4, NULL) == 0);
	CHECK(CP1(0, IKE_CP_INTERNAL_IP4_DNS, 4, NULL) == -EBADMSG);     /* CFG type 0 */
	CHECK(CP1(5, IKE_CP_INTERNAL_IP4_DNS, 4, NULL) == -EBADMSG);
	CHECK(cp_dec(IKE_CFG_REPLY, NULL, 0, NULL) == 0);                /* no attributes */
	/* An attribute whose Length runs past the payload. */
	{
		struct ike_payload_ref r = ref(IKE_PT_CP,
			(const uint8_t *)"\x02\x00\x00\x00\x00\x03\x00\x04\x0a\x08\x00", 11);

		CHECK(ike_cp_decode(&r, &cp) == -EBADMSG);
		r.body_len = 6;                                        /* truncated header */
		CHECK(ike_cp_decode(&r, &cp) == -EBADMSG);
	}
	/* 32 attributes fit, 33 do not. */
	for (size_t i = 0; i < 33; i++)
		many[i] = (struct attr){ IKE_CP_INTERNAL_IP4_DNS, 0, NULL };
	CHECK(cp_dec(IKE_CFG_REQUEST, many, 32, NULL) == 0);
	CHECK(cp_dec(IKE_CFG_REQUEST, many, 33, NULL) == -E2BIG);
	/* The encoder refuses what the decoder refuses. */
	v.u.cp.cfg_type = IKE_CFG_ACK;
	CHECK(!round_trip(&v, true));
	v.u.cp.cfg_type = 0;
	v.u.cp.n_attrs = 0;
	CHECK(!round_trip(&v, true));
}

int main(void)
{
	filler_init();
	test_notify();
	test_notify_encoders();
	test_cp();
	return tap_done();
}
