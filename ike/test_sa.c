/* Unit tests for the IKEv2 SA payload (ike/payload_sa.c, RFC 7296 3.3) and the traffic
 * selector payloads (ike/payload_ts.c, 3.13): round trips and every bound.
 *
 * Known answers, assembled octet by octet (struct writer, not the code under test) from
 * RFC 7296's figures: the SA example of 3.3 (two ESP proposals with 7 and 4 transforms,
 * SPIs 0x052357bb and 0x35a1d6f2) and the traffic selectors of 3.13 (UDP ports 100/200 on
 * 198.51.100.66, ports 300/400 anywhere). Decoding gives the values the RFC states and
 * encoding those values gives the same octets back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "ike/msg.h"
#include "ike/payload.h"
#include "ike/test_payload_util.h"
#include "tests/unit/tap.h"

/* --- SA (3.3) ------------------------------------------------------------------------- */

static void raw_transform(struct writer *w, bool last, uint8_t type, uint16_t id, int key_bits)
{
	writer_u8(w, last ? 0 : 3);
	writer_u8(w, 0);
	writer_be16(w, key_bits >= 0 ? 12 : 8);
	writer_u8(w, type);
	writer_u8(w, 0);
	writer_be16(w, id);
	if (key_bits >= 0) {
		writer_be16(w, 0x8000 | 14);     /* AF=1, Key Length (3.3.5) */
		writer_be16(w, (uint16_t)key_bits);
	}
}

static void raw_proposal_hdr(struct writer *w, bool last, uint16_t len, uint8_t num,
			     uint8_t proto, uint8_t spi_size, uint8_t n_transforms)
{
	writer_u8(w, last ? 0 : 2);
	writer_u8(w, 0);
	writer_be16(w, len);
	writer_u8(w, num);
	writer_u8(w, proto);
	writer_u8(w, spi_size);
	writer_u8(w, n_transforms);
}

/* The example of RFC 7296 3.3 (Figures 7, 8, 9 for the octets). AES-GCM with an 8-octet ICV
 * is ENCR 18 (RFC 4106 8.1; RFC 5282 8), the other IDs are from the 3.3.2 tables. */
static size_t rfc7296_sa_example(uint8_t *buf, size_t cap)
{
	struct writer w;

	writer_init(&w, buf, cap);
	raw_proposal_hdr(&w, false, 8 + 4 + 3 * 12 + 4 * 8, 1, 3, 4, 7);
	writer_be32(&w, 0x052357bb);
	raw_transform(&w, false, 1, 12, 128);    /* ENCR_AES_CBC */
	raw_transform(&w, false, 1, 12, 192);
	raw_transform(&w, false, 1, 12, 256);
	raw_transform(&w, false, 3, 2, -1);      /* AUTH_HMAC_SHA1_96 */
	raw_transform(&w, false, 3, 5, -1);      /* AUTH_AES_XCBC_96 */
	raw_transform(&w, false, 5, 1, -1);      /* ESNs */
	raw_transform(&w, true, 5, 0, -1);       /* No ESNs */
	raw_proposal_hdr(&w, true, 8 + 4 + 2 * 12 + 2 * 8, 2, 3, 4, 4);
	writer_be32(&w, 0x35a1d6f2);
	raw_transform(&w, false, 1, 18, 128);
	raw_transform(&w, false, 1, 18, 256);
	raw_transform(&w, false, 5, 1, -1);
	raw_transform(&w, true, 5, 0, -1);
	return writer_len(&w);
}

static void test_sa_example(void)
{
	uint8_t buf[256], out[256];
	struct ike_payload_value v = { .type = IKE_PT_SA };
	struct ike_payload_ref r;
	struct ike_sa_payload *sa = &v.u.sa;
	size_t n = rfc7296_sa_example(buf, sizeof(buf));

	r = ref(IKE_PT_SA, buf, n);
	CHECK(ike_sa_payload_decode(&r, IKE_SA_OFFER, sa) == 0);
	CHECK_EQ_U64(sa->n_proposals, 2);
	CHECK_EQ_U64(sa->p[0].num, 1);
	CHECK_EQ_U64(sa->p[0].protocol, IKE_PROTO_ESP);
	CHECK_EQ_U64(ike_proposal_spi32(&sa->p[0]), 0x052357bb);
	CHECK_EQ_U64(sa->p[0].n_transforms, 7);
	CHECK_EQ_U64(sa->p[0].t[1].type, 1);
	CHECK_EQ_U64(sa->p[0].t[1].id, 12);
	CHECK_EQ_U64(sa->p[0].t[1].key_bits, 192);
	CHECK_EQ_U64(sa->p[0].t[4].id, 5);
	CHECK_EQ_U64(sa->p[0].t[4].key_bits, 0);
	CHECK_EQ_U64(sa->p[0].t[6].type, 5);
	CHECK_EQ_U64(sa->p[0].t[6].id, 0);
	CHECK_EQ_U64(sa->p[1].num, 2);
	CHECK_EQ_U64(ike_proposal_spi32(&sa->p[1]), 0x35a1d6f2);
	CHECK_EQ_U64(sa->p[1].n_transforms, 4);
	CHECK_EQ_U64(sa->p[1].t[1].id, 18);
	CHECK_EQ_U64(sa->p[1].t[1].key_bits, 256);
	CHECK(!sa->p[0].t[0].unknown_attr);
	/* Encoding the decoded value gives the RFC's octets back. */
	CHECK_EQ_U64(body_of(&v, out, sizeof(out)), n);
	CHECK_MEM(out, buf, n);
	CHECK(round_trip(&v, false));
	/* Two proposals with two ENCR transforms each: not a choice (3.3.6). */
	CHECK(ike_sa_payload_decode(&r, IKE_SA_CHOICE, sa) == -EBADMSG);
	CHECK(ike_sa_payload_decode(&r, IKE_SA_OFFER, sa) == 0);
	r.type = IKE_PT_KE;
	CHECK(ike_sa_payload_decode(&r, IKE_SA_OFFER, sa) == -ENOMSG);
}

/* One IKE proposal with its header fields as given, then `ntr` transforms as written. */
static size_t sa_one(uint8_t *buf, size_t cap, int len_delta, uint8_t num, uint8_t proto,
		     uint8_t spi_size, uint8_t declared, size_t ntr, int last)
{
	struct writer w;

	writer_init(&w, buf, cap);
	raw_proposal_hdr(&w, last == 0, (uint16_t)(8 + spi_size + ntr * 8 + len_delta), num,
			 proto, spi_size, declared);
	writer_bytes(&w, filler, spi_size);
	for (size_t i = 0; i < ntr; i++)
		raw_transform(&w, i + 1 == ntr, (uint8_t)(1 + i % 4), (uint16_t)(i + 1), -1);
	return writer_len(&w);
}

static int sa_dec(const uint8_t *buf, size_t n, enum ike_sa_payload_kind kind)
{
	static struct ike_sa_payload sa;
	struct ike_payload_ref r = ref(IKE_PT_SA, buf, n);

	return ike_sa_payload_decode(&r, kind, &sa);
}

static void test_sa_bounds(void)
{
	static uint8_t buf[4096];
	static struct ike_sa_payload sa, sentinel;
	struct ike_payload_ref r;
	struct writer w;
	size_t n;

	/* Baseline: IKE, no SPI (initial exchange), 4 transforms. */
	n = sa_one(buf, sizeof(buf), 0, 1, IKE_PROTO_IKE, 0, 4, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == 0);
	/* Proposal Length one short / one long (the last transform's length then disagrees). */
	n = sa_one(buf, sizeof(buf), -1, 1, IKE_PROTO_IKE, 0, 4, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == -EBADMSG);
	n = sa_one(buf, sizeof(buf), 1, 1, IKE_PROTO_IKE, 0, 4, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == -EBADMSG);
	/* Num Transforms disagrees with the transforms present (3.3). */
	n = sa_one(buf, sizeof(buf), 0, 1, IKE_PROTO_IKE, 0, 5, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == -EBADMSG);
	n = sa_one(buf, sizeof(buf), 0, 1, IKE_PROTO_IKE, 0, 3, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == -EBADMSG);
	n = sa_one(buf, sizeof(buf), 0, 1, IKE_PROTO_IKE, 0, 0, 0, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == -EBADMSG);           /* no transform */
	/* Proposal numbering (3.3.1): an offer starts at 1; a choice echoes any number. */
	n = sa_one(buf, sizeof(buf), 0, 2, IKE_PROTO_IKE, 0, 4, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == -EBADMSG);
	n = sa_one(buf, sizeof(buf), 0, 0, IKE_PROTO_IKE, 0, 4, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_CHOICE) == -EBADMSG);
	n = sa_one(buf, sizeof(buf), 0, 3, IKE_PROTO_IKE, 0, 4, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_CHOICE) == 0);
	/* Last Substruc 2 on the only proposal: more announced, none follow. */
	n = sa_one(buf, sizeof(buf), 0, 1, IKE_PROTO_IKE, 0, 4, 4, 1);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == -EBADMSG);
	/* Protocol and SPI Size (3.3.1): IKE 0 or 8, ESP and AH 4, nothing else. */
	n = sa_one(buf, sizeof(buf), 0, 1, IKE_PROTO_IKE, 8, 4, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == 0);
	n = sa_one(buf, sizeof(buf), 0, 1, IKE_PROTO_IKE, 4, 4, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == -EBADMSG);
	n = sa_one(buf, sizeof(buf), 0, 1, IKE_PROTO_ESP, 4, 4, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == 0);
	n = sa_one(buf, sizeof(buf), 0, 1, IKE_PROTO_AH, 4, 4, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == 0);
	n = sa_one(buf, sizeof(buf), 0, 1, IKE_PROTO_ESP, 0, 4, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == -EBADMSG);
	n = sa_one(buf, sizeof(buf), 0, 1, 4, 4, 4, 4, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == -EBADMSG);
	/* Caps: 32 transforms fit, 33 do not. */
	n = sa_one(buf, sizeof(buf), 0, 1, IKE_PROTO_IKE, 0, 32, 32, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == 0);
	n = sa_one(buf, sizeof(buf), 0, 1, IKE_PROTO_IKE, 0, 33, 33, 0);
	CHECK(sa_dec(buf, n, IKE_SA_OFFER) == -E2BIG);
	/* 8 proposals fit, 9 do not; proposal 2 then 3 ... must follow 1 without a gap. */
	for (size_t total = 8; total <= 9; total++) {
		writer_init(&w, buf, sizeof(buf));
		for (size_t i = 0; i < total; i++) {
			raw_proposal_hdr(&w, i + 1 == total, 16, (uint8_t)(i + 1), IKE_PROTO_IKE, 0,
					 1);
			raw_transform(&w, true, 1, 12, -1);
		}
		CHECK(sa_dec(buf, writer_len(&w), IKE_SA_OFFER) == (total == 8 ? 0 : -E2BIG));
	}
	writer_init(&w, buf, sizeof(buf));
	raw_proposal_hdr(&w, false, 16, 1, IKE_PROTO_IKE, 0, 1);
	raw_transform(&w, true, 1, 12, -1);
	raw_proposal_hdr(&w, true, 16, 3, IKE_PROTO_IKE, 0, 1);
	raw_transform(&w, true, 1, 12, -1);
	CHECK(sa_dec(buf, writer_len(&w), IKE_SA_OFFER) == -EBADMSG);
	CHECK(sa_dec(buf, writer_len(&w), IKE_SA_CHOICE) == -EBADMSG);  /* two proposals */
	CHECK(sa_dec(buf, 0, IKE_SA_OFFER) == -EBADMSG);               /* empty SA */

	/* Transform attributes (3.3.5). */
	memset(&sentinel, 0x77, sizeof(sentinel));
	for (int c = 0; c < 6; c++) {
		writer_init(&w, buf, sizeof(buf));
		raw_proposal_hdr(&w, true, c == 5 ? 24 : 20, 1, IKE_PROTO_IKE, 0, 1);
		writer_u8(&w, 0);
		writer_u8(&w, 0);
		writer_be16(&w, c == 5 ? 16 : 12);
		writer_u8(&w, 1);
		writer_u8(&w, 0);
		writer_be16(&w, 12);
		switch (c) {
		case 0: writer_be16(&w, 0x8000 | 99); writer_be16(&w, 5); break; /* unknown TV */
		case 1: writer_be16(&w, 99); writer_be16(&w, 0); break;      /* unknown TLV */
		case 2: writer_be16(&w, 14); writer_be16(&w, 0); break;      /* Key Length as TLV */
		case 3: writer_be16(&w, 0x8000 | 14); writer_be16(&w, 0); break; /* 0 bits */
		case 4: writer_be16(&w, 99); writer_be16(&w, 1); break;      /* TLV runs past */
		case 5: /* Key Length twice */
			writer_be16(&w, 0x8000 | 14); writer_be16(&w, 128);
			writer_be16(&w, 0x8000 | 14); writer_be16(&w, 256);
			break;
		}
		r = ref(IKE_PT_SA, buf, writer_len(&w));
		sa = sentinel;
		if (c <= 1) {
			CHECK(ike_sa_payload_decode(&r, IKE_SA_OFFER, &sa) == 0);
			/* Unacceptable, not malformed (3.3.6). */
			CHECK(sa.p[0].t[0].unknown_attr);
			CHECK_EQ_U64(sa.p[0].t[0].key_bits, 0);
		} else {
			CHECK(ike_sa_payload_decode(&r, IKE_SA_OFFER, &sa) == -EBADMSG);
			CHECK(memcmp(&sa, &sentinel, sizeof(sa)) == 0);
		}
	}
}

static void test_sa_encode(void)
{
	struct ike_payload_value v = { .type = IKE_PT_SA };
	struct ike_sa_payload *sa = &v.u.sa;
	uint8_t buf[64];
	struct writer w;
	struct ike_builder b;

	memset(sa, 0, sizeof(*sa));
	sa->n_proposals = 1;
	sa->p[0] = (struct ike_proposal){ .num = 1, .protocol = IKE_PROTO_IKE, .n_transforms = 2 };
	sa->p[0].t[0] = (struct ike_sa_transform){ 1, 20, 256, false };
	sa->p[0].t[1] = (struct ike_sa_transform){ 2, 5, 0, false };
	ike_proposal_set_spi64(&sa->p[0], 0x0102030405060708ull);
	CHECK_EQ_U64(ike_proposal_spi64(&sa->p[0]), 0x0102030405060708ull);
	CHECK_EQ_U64(ike_proposal_spi32(&sa->p[0]), 0);
	CHECK(round_trip(&v, true));
	CHECK(round_trip(&v, false));
	sa->p[0].num = 7;                     /* a choice keeps the accepted number */
	CHECK(round_trip(&v, true));
	CHECK(!round_trip(&v, false));        /* an offer must start at 1 */

	writer_init(&w, buf, sizeof(buf));
	ike_build_start_chain(&b, &w);
	sa->p[0].spi_size = 4;                /* IKE with a 4-octet SPI */
	CHECK(ike_sa_payload_encode(&b, sa) == -EINVAL);
	sa->p[0].spi_size = 8;
	sa->n_proposals = 0;
	CHECK(ike_sa_payload_encode(&b, sa) == -EINVAL);
	sa->n_proposals = 2;
	sa->p[1] = sa->p[0];
	sa->p[0].num = 1;
	sa->p[1].num = 3;
	CHECK(ike_sa_payload_encode(&b, sa) == -EINVAL);
	sa->p[1].num = 2;
	sa->p[1].n_transforms = 0;
	CHECK(ike_sa_payload_encode(&b, sa) == -EINVAL);
	CHECK_EQ_U64(writer_len(&w), 0);
}

/* --- TS (3.13) -------------------------------------------------------------------------- */

static void raw_ts4(struct writer *w, uint8_t proto, uint16_t sp, uint16_t ep, uint32_t from,
		    uint32_t to)
{
	writer_u8(w, IKE_TS_IPV4_ADDR_RANGE);
	writer_u8(w, proto);
	writer_be16(w, 16);
	writer_be16(w, sp);
	writer_be16(w, ep);
	writer_be32(w, from);
	writer_be32(w, to);
}

static void test_ts_example(void)
{
	uint8_t buf[128], out[128];
	struct writer w;
	struct ike_payload_ref r;
	struct ike_payload_value v = { .type = IKE_PT_TSI };
	struct ike_ts_list *l = &v.u.ts;

	/* RFC 7296 3.13: TSi = ((17, 100, 198.51.100.66-198.51.100.66),
	 *                      (17, 200, 198.51.100.66-198.51.100.66)) */
	writer_init(&w, buf, sizeof(buf));
	writer_u8(&w, 2);
	writer_zeros(&w, 3);
	raw_ts4(&w, 17, 100, 100, 0xc6336442, 0xc6336442);
	raw_ts4(&w, 17, 200, 200, 0xc6336442, 0xc6336442);
	r = wref(IKE_PT_TSI, &w);
	CHECK(ike_ts_decode(&r, l) == 0);
	CHECK_EQ_U64(l->n, 2);
	CHECK_EQ_U64(l->ts[0].type, IKE_TS_IPV4_ADDR_RANGE);
	CHECK_EQ_U64(l->ts[0].ip_proto, 17);
	CHECK_EQ_U64(l->ts[1].start_port, 200);
	CHECK_EQ_U64(l->ts[1].end_port, 200);
	CHECK_MEM(l->ts[1].start, "\xc6\x33\x64\x42", 4);
	CHECK_MEM(l->ts[1].end, "\xc6\x33\x64\x42", 4);
	CHECK_EQ_U64(body_of(&v, out, sizeof(out)), writer_len(&w));
	CHECK_MEM(out, buf, writer_len(&w));
	CHECK(round_trip(&v, false));
	/* TSr = ((17, 300, 0.0.0.0-255.255.255.255), (17, 400, 0.0.0.0-255.255.255.255)) */
	writer_init(&w, buf, sizeof(buf));
	writer_u8(&w, 2);
	writer_zeros(&w, 3);
	raw_ts4(&w, 17, 300, 300, 0, 0xffffffff);
	raw_ts4(&w, 17, 400, 400, 0, 0xffffffff);
	r = wref(IKE_PT_TSR, &w);
	CHECK(ike_ts_decode(&r, l) == 0);
	CHECK_EQ_U64(l->ts[0].start_port, 300);
	CHECK_MEM(l->ts[0].end, "\xff\xff\xff\xff", 4);
	v.type = IKE_PT_TSR;
	CHECK_EQ_U64(body_of(&v, out, sizeof(out)), writer_len(&w));
	CHECK_MEM(out, buf, writer_len(&w));
}

static void test_ts_bounds(void)
{
	static uint8_t buf[1024];
	struct writer w;
	struct ike_payload_ref r;
	struct ike_ts_list l, sentinel;
	struct ike_payload_value v = { .type = IKE_PT_TSR };

	memset(&sentinel, 0x42, sizeof(sentinel));
	for (int c = 0; c < 12; c++) {
		int want = 0;

		writer_init(&w, buf, sizeof(buf));
		writer_u8(&w, c == 1 ? 0 : c == 2 ? 2 : 1);
		writer_zeros(&w, 3);
		switch (c) {
		case 0: raw_ts4(&w, 0, 0, 65535, 1, 2); break;
		case 1: want = -EBADMSG; break;                          /* no selector */
		case 2: raw_ts4(&w, 0, 0, 65535, 1, 2); want = -EBADMSG; break; /* count 2 */
		case 3: raw_ts4(&w, 0, 0, 65535, 2, 1); want = -EBADMSG; break; /* start > end */
		case 4: raw_ts4(&w, 6, 200, 100, 1, 2); want = -EBADMSG; break; /* ports */
		case 5: raw_ts4(&w, 6, 65535, 0, 1, 2); break;           /* OPAQUE (3.13.1) */
		case 6: /* Selector Length 17 for an IPv4 range */
			raw_ts4(&w, 0, 0, 65535, 1, 2);
			writer_u8(&w, 0);
			writer_patch_be16(&w, 6, 17);
			want = -EBADMSG;
			break;
		case 7: /* Selector Length 15 */
			raw_ts4(&w, 0, 0, 65535, 1, 2);
			writer_patch_be16(&w, 6, 15);
			want = -EBADMSG;
			break;
		case 8: /* IPv6 range, 40 octets */
			writer_u8(&w, IKE_TS_IPV6_ADDR_RANGE);
			writer_u8(&w, 0);
			writer_be16(&w, 40);
			writer_be16(&w, 0);
			writer_be16(&w, 65535);
			writer_bytes(&w, filler, 16);
			writer_bytes(&w, filler, 16);
			break;
		case 9: /* a type from a later RFC: skipped by its length */
			writer_patch_u8(&w, 0, 2);
			writer_u8(&w, 9);
			writer_u8(&w, 0);
			writer_be16(&w, 8);
			writer_be32(&w, 0);
			raw_ts4(&w, 0, 0, 65535, 1, 1);
			break;
		case 10: /* octets after the selectors */
			raw_ts4(&w, 0, 0, 65535, 1, 2);
			writer_u8(&w, 0);
			want = -EBADMSG;
			break;
		case 11: /* 17 selectors, one over the cap */
			writer_patch_u8(&w, 0, 17);
			for (int i = 0; i < 17; i++)
				raw_ts4(&w, 0, 0, 65535, 1, 2);
			want = -E2BIG;
			break;
		}
		r = wref(IKE_PT_TSR, &w);
		l = sentinel;
		CHECK_EQ_U64(ike_ts_decode(&r, &l), want);
		if (want)
			CHECK(memcmp(&l, &sentinel, sizeof(l)) == 0);
		if (c == 9)
			CHECK(l.n == 1 && l.n_unknown == 1);
		if (c == 8 || c == 5) {
			v.u.ts = l;
			CHECK(round_trip(&v, false));
		}
	}
	/* Encoders refuse an empty list, an inverted range, an unknown type. */
	memset(&v.u.ts, 0, sizeof(v.u.ts));
	CHECK(!round_trip(&v, false));
	v.u.ts.n = 1;
	ike_ts_set_ipv4(&v.u.ts.ts[0], 0, 0, 65535, (struct in_addr){ htonl(2) },
			(struct in_addr){ htonl(1) });
	CHECK(!round_trip(&v, false));
	ike_ts_set_ipv4(&v.u.ts.ts[0], 0, 0, 65535, (struct in_addr){ htonl(1) },
			(struct in_addr){ htonl(2) });
	CHECK(round_trip(&v, false));
	v.u.ts.ts[0].type = 9;
	CHECK(!round_trip(&v, false));
}

int main(void)
{
	filler_init();
	test_sa_example();
	test_sa_bounds();
	test_sa_encode();
	test_ts_example();
	test_ts_bounds();
	return tap_done();
}
