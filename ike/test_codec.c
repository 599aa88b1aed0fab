/* Unit tests for the IKEv2 message codec, stage 1 (ike/msg.c): the IKE header, the generic
 * payload chain, the SK/SKF frame, and the message builder. Stage 2 is tested in
 * test_payload.c, test_sa.c and test_notify.c, stage 3 in test_rules.c, whole messages (and
 * the tshark cross-check) in test_messages.c.
 *
 * RFC 7296 has no hex dump of a whole message, so the messages parsed here are assembled
 * octet by octet from the figures of RFC 7296 3.1, 3.2, 3.14 and RFC 7383 2.5 with the plain
 * struct writer, not with the builder under test.
 */
#include <errno.h>
#include <string.h>

#include "ike/msg.h"
#include "ike/payload.h"
#include "tests/unit/tap.h"

#define SPI_I 0x0102030405060708ull
#define SPI_R 0x1112131415161718ull

static uint8_t filler[512];

static void filler_init(void)
{
	for (size_t i = 0; i < sizeof(filler); i++)
		filler[i] = (uint8_t)(0xa0 + i * 7);
}

/* --- raw messages assembled from the RFC figures ---------------------------------------- */

/* IKE header (RFC 7296 3.1, Figure 4). */
static void raw_header(struct writer *w, uint8_t np, uint8_t version, uint8_t exch,
		       uint8_t flags, uint32_t length)
{
	writer_be64(w, SPI_I);
	writer_be64(w, SPI_R);
	writer_u8(w, np);
	writer_u8(w, version);
	writer_u8(w, exch);
	writer_u8(w, flags);
	writer_be32(w, 7);         /* Message ID */
	writer_be32(w, length);
}

/* Generic payload header (3.2, Figure 5) and n body octets from filler. */
static void raw_payload(struct writer *w, uint8_t np, uint8_t flags, uint16_t plen, size_t n)
{
	writer_u8(w, np);
	writer_u8(w, flags);
	writer_be16(w, plen);
	writer_bytes(w, filler, n);
}

static void test_header(void)
{
	uint8_t buf[64];
	struct writer w;
	struct ike_msg m, sentinel;
	struct ike_parse_error err;
	struct ike_header h;

	/* A header with no payloads: every field where Figure 4 puts it. */
	writer_init(&w, buf, sizeof(buf));
	raw_header(&w, 0, 0x20, IKE_EXCH_INFORMATIONAL, IKE_FLAG_I | IKE_FLAG_R, 28);
	CHECK(ike_msg_parse(buf, 28, &m, &err) == 0);
	CHECK_EQ_U64(m.hdr.spi_i, SPI_I);
	CHECK_EQ_U64(m.hdr.spi_r, SPI_R);
	CHECK_EQ_U64(m.hdr.exchange, 37);
	CHECK(ike_hdr_is_response(&m.hdr) && ike_hdr_from_initiator(&m.hdr));
	CHECK_EQ_U64(m.hdr.msg_id, 7);
	CHECK_EQ_U64(m.hdr.length, 28);
	CHECK_EQ_U64(m.chain.count, 0);
	CHECK(!m.sk.present);

	memset(&sentinel, 0x5a, sizeof(sentinel));
	/* Truncated header, Length one short/one long of the datagram (3.1). */
	m = sentinel;
	CHECK(ike_msg_parse(buf, 27, &m, &err) == -EBADMSG);
	CHECK(memcmp(&m, &sentinel, sizeof(m)) == 0);
	CHECK(ike_msg_parse(buf, 29, &m, &err) == -EBADMSG);
	CHECK(ike_hdr_parse(buf, 29, &h, &err) == -EBADMSG);
	CHECK_EQ_U64(err.offset, 24);
	writer_patch_be32(&w, 24, 27);
	CHECK(ike_msg_parse(buf, 28, &m, &err) == -EBADMSG);
	writer_patch_be32(&w, 24, 28);

	/* Minor version is ignored (3.1); major 3 in a request asks for INVALID_MAJOR_VERSION,
	 * in a response nothing (2.5); major 1 (IKEv1) is dropped. */
	writer_patch_u8(&w, 17, 0x21);
	CHECK(ike_hdr_parse(buf, 28, &h, &err) == 0);
	writer_patch_u8(&w, 17, 0x30);
	CHECK(ike_msg_parse(buf, 28, &m, &err) == -EPROTONOSUPPORT);
	CHECK_EQ_U64(err.notify, 0);     /* the R flag is set in this header */
	writer_patch_u8(&w, 19, IKE_FLAG_I);
	CHECK(ike_msg_parse(buf, 28, &m, &err) == -EPROTONOSUPPORT);
	CHECK_EQ_U64(err.notify, IKE_N_INVALID_MAJOR_VERSION);
	writer_patch_u8(&w, 17, 0x10);
	CHECK(ike_msg_parse(buf, 28, &m, &err) == -EPROTONOSUPPORT);
	CHECK_EQ_U64(err.notify, 0);
	CHECK(memcmp(&m, &sentinel, sizeof(m)) == 0);
	CHECK(ike_msg_parse(NULL, 0, &m, NULL) == -EBADMSG);
}

/* Header + Nonce (20 body octets) + Vendor ID (8): 28 + 24 + 12 = 64 octets. */
static size_t raw_two_payloads(uint8_t *buf, size_t cap, uint16_t nonce_plen, uint8_t v_type,
			       uint8_t v_flags, uint32_t length)
{
	struct writer w;

	writer_init(&w, buf, cap);
	raw_header(&w, IKE_PT_NONCE, 0x20, IKE_EXCH_SA_INIT, IKE_FLAG_I, length);
	raw_payload(&w, v_type, 0, nonce_plen, 20);
	raw_payload(&w, 0, v_flags, 12, 8);
	return writer_len(&w);
}

static void test_chain(void)
{
	uint8_t buf[256];
	struct ike_msg m;
	struct ike_parse_error err;
	size_t n;

	n = raw_two_payloads(buf, sizeof(buf), 24, IKE_PT_VENDOR, 0, 64);
	CHECK_EQ_U64(n, 64);
	CHECK(ike_msg_parse(buf, n, &m, &err) == 0);
	CHECK_EQ_U64(m.chain.count, 2);
	CHECK_EQ_U64(m.chain.p[0].type, IKE_PT_NONCE);
	CHECK_EQ_U64(m.chain.p[0].offset, 28);
	CHECK_EQ_U64(m.chain.p[0].body_len, 20);
	CHECK(m.chain.p[0].body == buf + 32);
	CHECK_EQ_U64(m.chain.p[1].type, IKE_PT_VENDOR);
	CHECK_EQ_U64(m.chain.p[1].offset, 52);
	CHECK_EQ_U64(m.chain.p[1].body_len, 8);
	CHECK(!m.chain.p[1].critical);

	/* Payload Length one short: 4 octets are left over after the chain ends. One long:
	 * the Vendor ID header is misread and its length runs past the end. 3, 0: shorter than
	 * the generic header. */
	n = raw_two_payloads(buf, sizeof(buf), 23, IKE_PT_VENDOR, 0, 64);
	CHECK(ike_msg_parse(buf, n, &m, &err) == -EBADMSG);
	n = raw_two_payloads(buf, sizeof(buf), 25, IKE_PT_VENDOR, 0, 64);
	CHECK(ike_msg_parse(buf, n, &m, &err) == -EBADMSG);
	n = raw_two_payloads(buf, sizeof(buf), 3, IKE_PT_VENDOR, 0, 64);
	CHECK(ike_msg_parse(buf, n, &m, &err) == -EBADMSG);
	CHECK_EQ_U64(err.offset, 28);
	CHECK_EQ_U64(err.payload_type, IKE_PT_NONCE);
	n = raw_two_payloads(buf, sizeof(buf), 0, IKE_PT_VENDOR, 0, 64);
	CHECK(ike_msg_parse(buf, n, &m, &err) == -EBADMSG);
	/* Truncated generic header: the datagram ends 2 octets into it. */
	CHECK(ike_msg_parse(buf, 54, &m, &err) == -EBADMSG);

	/* 2.5: unknown type 100 without the critical bit is skipped... */
	n = raw_two_payloads(buf, sizeof(buf), 24, 100, 0, 64);
	CHECK(ike_msg_parse(buf, n, &m, &err) == 0);
	CHECK_EQ_U64(m.chain.count, 1);
	CHECK_EQ_U64(m.chain.skipped, 1);
	/* ...with it, the message is refused and UNSUPPORTED_CRITICAL_PAYLOAD names it. */
	n = raw_two_payloads(buf, sizeof(buf), 24, 100, 0x80, 64);
	CHECK(ike_msg_parse(buf, n, &m, &err) == -EOPNOTSUPP);
	CHECK_EQ_U64(err.payload_type, 100);
	CHECK_EQ_U64(err.notify, IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD);
	CHECK_EQ_U64(err.offset, 52);
	buf[19] |= IKE_FLAG_R;           /* in a response: nothing to answer */
	CHECK(ike_msg_parse(buf, n, &m, &err) == -EOPNOTSUPP);
	CHECK_EQ_U64(err.notify, 0);
	/* The critical bit on a type we know is ignored (3.2), the RESERVED bits too. */
	n = raw_two_payloads(buf, sizeof(buf), 24, IKE_PT_VENDOR, 0xff, 64);
	CHECK(ike_msg_parse(buf, n, &m, &err) == 0);
	CHECK(m.chain.p[1].critical);
}

/* Header, Nonce, then SK whose body is `sk_body` octets, then `trailing` more octets. */
static size_t raw_sk(uint8_t *buf, size_t cap, uint8_t sk_type, uint8_t inner_np,
		     uint16_t frag, uint16_t total, size_t sk_body, size_t trailing)
{
	struct writer w;
	size_t len = 28 + 24 + 4 + sk_body + trailing;

	writer_init(&w, buf, cap);
	raw_header(&w, IKE_PT_NONCE, 0x20, IKE_EXCH_AUTH, IKE_FLAG_I, (uint32_t)len);
	raw_payload(&w, sk_type, 0, 24, 20);
	writer_u8(&w, inner_np);
	writer_u8(&w, 0);
	writer_be16(&w, (uint16_t)(4 + sk_body));
	if (sk_type == IKE_PT_SKF) {
		writer_be16(&w, frag);
		writer_be16(&w, total);
		writer_bytes(&w, filler, sk_body - 4);
	} else {
		writer_bytes(&w, filler, sk_body);
	}
	writer_zeros(&w, trailing);
	return writer_len(&w);
}

static void test_sk_frame(void)
{
	uint8_t buf[256];
	struct ike_msg m;
	struct ike_parse_error err;
	struct ike_sk_regions reg;
	size_t n;

	n = raw_sk(buf, sizeof(buf), IKE_PT_SK, IKE_PT_IDI, 0, 0, 48, 0);
	CHECK(ike_msg_parse(buf, n, &m, &err) == 0);
	CHECK_EQ_U64(m.chain.count, 1);
	CHECK(m.sk.present);
	CHECK_EQ_U64(m.sk.type, IKE_PT_SK);
	CHECK_EQ_U64(m.sk.inner_first, IKE_PT_IDI);
	CHECK_EQ_U64(m.sk.hdr_off, 52);
	CHECK_EQ_U64(m.sk.data_off, 56);
	CHECK_EQ_U64(m.sk.data_len, 48);
	/* 16-octet IV, 16-octet ICV: 16 octets of ciphertext in between. */
	CHECK(ike_msg_sk_split(&m.sk, 16, 16, &reg) == 0);
	CHECK_EQ_U64(reg.iv_off, 56);
	CHECK_EQ_U64(reg.ct_off, 72);
	CHECK_EQ_U64(reg.ct_len, 16);
	CHECK_EQ_U64(reg.icv_off, 88);
	CHECK(ike_msg_sk_split(&m.sk, 16, 31, &reg) == 0);
	CHECK(ike_msg_sk_split(&m.sk, 16, 32, &reg) == -EBADMSG);   /* no Pad Length left */
	CHECK(ike_msg_sk_split(&m.sk, 64, 0, &reg) == -EBADMSG);

	/* 3.14: SK must be the last payload. */
	n = raw_sk(buf, sizeof(buf), IKE_PT_SK, IKE_PT_IDI, 0, 0, 48, 4);
	CHECK(ike_msg_parse(buf, n, &m, &err) == -EBADMSG);
	CHECK_EQ_U64(err.payload_type, IKE_PT_SK);

	/* RFC 7383 2.5, 2.6: fragment number 1..total, Next Payload only in the first. */
	n = raw_sk(buf, sizeof(buf), IKE_PT_SKF, IKE_PT_IDI, 1, 2, 40, 0);
	CHECK(ike_msg_parse(buf, n, &m, &err) == 0);
	CHECK_EQ_U64(m.sk.type, IKE_PT_SKF);
	CHECK_EQ_U64(m.sk.frag_num, 1);
	CHECK_EQ_U64(m.sk.frag_total, 2);
	CHECK_EQ_U64(m.sk.data_off, 60);
	CHECK_EQ_U64(m.sk.data_len, 36);
	n = raw_sk(buf, sizeof(buf), IKE_PT_SKF, 0, 2, 2, 40, 0);
	CHECK(ike_msg_parse(buf, n, &m, &err) == 0);
	n = raw_sk(buf, sizeof(buf), IKE_PT_SKF, IKE_PT_IDI, 2, 2, 40, 0);
	CHECK(ike_msg_parse(buf, n, &m, &err) == -EBADMSG);
	n = raw_sk(buf, sizeof(buf), IKE_PT_SKF, IKE_PT_IDI, 0, 2, 40, 0);
	CHECK(ike_msg_parse(buf, n, &m, &err) == -EBADMSG);
	n = raw_sk(buf, sizeof(buf), IKE_PT_SKF, 0, 3, 2, 40, 0);
	CHECK(ike_msg_parse(buf, n, &m, &err) == -EBADMSG);
	n = raw_sk(buf, sizeof(buf), IKE_PT_SKF, IKE_PT_IDI, 1, 0, 40, 0);
	CHECK(ike_msg_parse(buf, n, &m, &err) == -EBADMSG);
	n = raw_sk(buf, sizeof(buf), IKE_PT_SKF, IKE_PT_IDI, 1, 1, 2, 0);
	CHECK(ike_msg_parse(buf, n, &m, &err) == -EBADMSG);          /* no room for Frag# */
}

static void test_inner_chain(void)
{
	uint8_t buf[128];
	struct writer w;
	struct ike_chain c, sentinel;
	struct ike_parse_error err;

	/* Decrypted content: IDi (8 body octets) then AUTH (12), last Next Payload 0 (3.2). */
	writer_init(&w, buf, sizeof(buf));
	raw_payload(&w, IKE_PT_AUTH, 0, 12, 8);
	raw_payload(&w, 0, 0, 16, 12);
	CHECK(ike_chain_parse(buf, writer_len(&w), IKE_PT_IDI, 100, true, &c, &err) == 0);
	CHECK_EQ_U64(c.count, 2);
	CHECK_EQ_U64(c.p[0].type, IKE_PT_IDI);
	CHECK_EQ_U64(c.p[0].offset, 100);
	CHECK_EQ_U64(c.p[1].type, IKE_PT_AUTH);
	CHECK_EQ_U64(c.p[1].offset, 112);
	/* Octets after the last payload (padding not removed). */
	memset(&sentinel, 0x33, sizeof(sentinel));
	c = sentinel;
	CHECK(ike_chain_parse(buf, writer_len(&w) + 1, IKE_PT_IDI, 0, true, &c, &err) == -EBADMSG);
	CHECK(memcmp(&c, &sentinel, sizeof(c)) == 0);
	/* 3.14: "an Encrypted payload MUST NOT contain another Encrypted payload". */
	writer_patch_u8(&w, 0, IKE_PT_SK);
	CHECK(ike_chain_parse(buf, writer_len(&w), IKE_PT_IDI, 0, true, &c, &err) == -EBADMSG);
	CHECK(ike_chain_parse(buf, writer_len(&w), IKE_PT_SKF, 0, true, &c, &err) == -EBADMSG);
	/* Critical unknown inside SK: refused too, notify only in a request. */
	writer_patch_u8(&w, 0, 200);
	writer_patch_u8(&w, 13, 0x80);
	CHECK(ike_chain_parse(buf, writer_len(&w), IKE_PT_IDI, 0, true, &c, &err) == -EOPNOTSUPP);
	CHECK_EQ_U64(err.notify, IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD);
	CHECK(ike_chain_parse(buf, writer_len(&w), IKE_PT_IDI, 0, false, &c, &err) ==
	      -EOPNOTSUPP);
	CHECK_EQ_U64(err.notify, 0);
	/* An empty inner chain (INFORMATIONAL liveness check, 1.4). */
	CHECK(ike_chain_parse(NULL, 0, 0, 0, true, &c, &err) == 0);
	CHECK_EQ_U64(c.count, 0);
}

/* 64 payloads fit (IKE_MAX_PAYLOADS); 65 are refused, not truncated. */
static void test_payload_cap(void)
{
	static uint8_t buf[2048];
	struct writer w;
	struct ike_builder b;
	struct ike_header h = { .spi_i = SPI_I, .exchange = IKE_EXCH_INFORMATIONAL };
	struct ike_msg m;
	struct ike_parse_error err;
	size_t len;

	for (int total = 64; total <= 65; total++) {
		writer_init(&w, buf, sizeof(buf));
		ike_build_start(&b, &w, &h);
		for (int i = 0; i < total; i++)
			ike_vendor_encode(&b, "v", 1);
		CHECK(ike_build_finish(&b, &len) == 0);
		CHECK_EQ_U64(len, 28 + (size_t)total * 5);
		if (total == 64) {
			CHECK(ike_msg_parse(buf, len, &m, &err) == 0);
			CHECK_EQ_U64(m.chain.count, 64);
		} else {
			CHECK(ike_msg_parse(buf, len, &m, &err) == -E2BIG);
		}
	}
}

/* --- builder ---------------------------------------------------------------------------- */

static void test_builder_chain(void)
{
	static const uint8_t types[] = { IKE_PT_SA, IKE_PT_KE, IKE_PT_NONCE, IKE_PT_NOTIFY,
					 IKE_PT_VENDOR, 0 };
	uint8_t buf[1024];
	struct writer w;
	struct ike_builder b;
	struct ike_header h = { .spi_i = SPI_I, .exchange = IKE_EXCH_SA_INIT, .flags = IKE_FLAG_I };
	struct ike_msg m;
	struct ike_parse_error err;
	size_t len = 0, off = 28;

	/* Bodies of 8 + i octets: stage 1 does not look inside. */
	writer_init(&w, buf, sizeof(buf));
	CHECK(ike_build_start(&b, &w, &h) == 0);
	for (size_t i = 0; types[i]; i++)
		CHECK(ike_build_raw(&b, types[i], filler, 8 + i) == 0);
	CHECK(ike_build_finish(&b, &len) == 0);

	CHECK_EQ_U64(len, 28 + 5 * 12 + 10);
	CHECK(ike_msg_parse(buf, len, &m, &err) == 0);
	CHECK_EQ_U64(m.hdr.length, len);
	CHECK_EQ_U64(buf[16], IKE_PT_SA);             /* header Next Payload */
	CHECK_EQ_U64(buf[17], IKE_VERSION);
	CHECK_EQ_U64(m.chain.count, 5);
	/* Walk the Next Payload / Payload Length fields by hand (3.2). */
	for (size_t i = 0; i < 5; i++) {
		CHECK_EQ_U64(m.chain.p[i].type, types[i]);
		CHECK_EQ_U64(m.chain.p[i].offset, off);
		CHECK_EQ_U64(buf[off], types[i + 1]);     /* last one: 0 */
		CHECK_EQ_U64(buf[off + 1], 0);            /* critical clear, RESERVED zero */
		off += (size_t)buf[off + 2] << 8 | buf[off + 3];
	}
	CHECK_EQ_U64(off, len);
}

static void test_builder_sk(void)
{
	static const uint8_t inner[] = { IKE_PT_IDI, IKE_PT_AUTH, IKE_PT_SA, IKE_PT_TSI,
					 IKE_PT_TSR, 0 };
	uint8_t buf[1024];
	struct writer w;
	struct ike_builder b;
	struct ike_header h = { .spi_i = SPI_I, .spi_r = SPI_R, .exchange = IKE_EXCH_AUTH,
				.flags = IKE_FLAG_I, .msg_id = 1 };
	struct ike_build_sk_layout lay;
	struct ike_msg m;
	struct ike_parse_error err;
	struct ike_sk_regions reg;
	struct ike_chain c;
	size_t len;

	/* CBC-like: 16-octet IV, 16-octet blocks, 16-octet ICV (3.14). */
	writer_init(&w, buf, sizeof(buf));
	CHECK(ike_build_start(&b, &w, &h) == 0);
	CHECK(ike_build_sk_begin(&b, IKE_PT_SK, 0, 0, 16) == 0);
	for (size_t i = 0; inner[i]; i++)
		CHECK(ike_build_raw(&b, inner[i], filler, 20) == 0);
	CHECK(ike_build_sk_end(&b, 16, 16, &lay) == 0);
	CHECK_EQ_U64(lay.msg_off, 0);
	CHECK_EQ_U64(lay.sk_off, 28);
	CHECK_EQ_U64(lay.iv_off, 32);
	CHECK_EQ_U64(lay.iv_len, 16);
	CHECK_EQ_U64(lay.plain_off, 48);
	CHECK_EQ_U64((lay.plain_len + lay.pad_len + 1) % 16, 0);
	CHECK(lay.pad_len < 16);
	CHECK_EQ_U64(buf[lay.icv_off - 1], lay.pad_len);
	CHECK_EQ_U64(lay.icv_off, lay.plain_off + lay.plain_len + lay.pad_len + 1);
	CHECK_EQ_U64(lay.msg_len, lay.icv_off + 16);
	CHECK_EQ_U64(writer_len(&w), lay.msg_len);
	CHECK(ike_build_finish(&b, &len) == 0 && len == lay.msg_len);
	CHECK(ike_msg_parse(buf, len, &m, &err) == 0);
	CHECK_EQ_U64(m.chain.count, 0);
	CHECK_EQ_U64(buf[16], IKE_PT_SK);
	CHECK_EQ_U64(m.sk.inner_first, IKE_PT_IDI);
	CHECK_EQ_U64(m.sk.data_len, len - 32);
	CHECK(ike_msg_sk_split(&m.sk, 16, 16, &reg) == 0);
	CHECK_EQ_U64(reg.ct_off, lay.plain_off);
	CHECK_EQ_U64(reg.icv_off, lay.icv_off);
	/* The "decrypted" content without padding is the inner chain. */
	CHECK(ike_chain_parse(buf + lay.plain_off, lay.plain_len, m.sk.inner_first,
			      lay.plain_off, true, &c, &err) == 0);
	CHECK_EQ_U64(c.count, 5);
	CHECK_EQ_U64(c.p[4].type, IKE_PT_TSR);

	/* AEAD-like: 8-octet IV, no block alignment: no padding, Pad Length 0. */
	writer_init(&w, buf, sizeof(buf));
	ike_build_start(&b, &w, &h);
	ike_vendor_encode(&b, "clear", 5);
	ike_build_sk_begin(&b, IKE_PT_SK, 0, 0, 8);
	ike_build_raw(&b, IKE_PT_NOTIFY, filler, 24);
	CHECK(ike_build_sk_end(&b, 1, 16, &lay) == 0);
	CHECK_EQ_U64(lay.sk_off, 28 + 9);
	CHECK_EQ_U64(lay.pad_len, 0);
	CHECK_EQ_U64(lay.plain_len, 28);
	CHECK_EQ_U64(lay.msg_len, 37 + 4 + 8 + 28 + 1 + 16);
	CHECK(ike_msg_parse(buf, lay.msg_len, &m, &err) == 0);
	CHECK_EQ_U64(buf[16], IKE_PT_VENDOR);
	CHECK_EQ_U64(buf[28], IKE_PT_SK);
	CHECK_EQ_U64(buf[37], IKE_PT_NOTIFY);

	/* The flow with ike/sk_crypt.h: SK header only; the crypto layer reserves the IV (here
	 * by hand) and appends its trailer after ike_build_sk_close(). */
	writer_init(&w, buf, sizeof(buf));
	ike_build_start(&b, &w, &h);
	CHECK(ike_build_sk_begin(&b, IKE_PT_SK, 0, 0, 0) == 0);
	CHECK_EQ_U64(writer_len(&w), b.sk_off + 4);
	writer_zeros(&w, 8);
	ike_build_raw(&b, IKE_PT_IDI, filler, 18);
	CHECK(ike_build_sk_close(&b) == 0);
	CHECK_EQ_U64(buf[b.sk_off], IKE_PT_IDI);
	CHECK(ike_build_finish(&b, &len) == 0);
	CHECK_EQ_U64(len, 28 + 4 + 8 + 4 + 4 + 14);
	CHECK(ike_build_payload_begin(&b, IKE_PT_VENDOR, &len) == -EINVAL);   /* done */

	/* RFC 7383 2.5: fragment 1 declares the first inner type, fragment 2 declares 0. */
	writer_init(&w, buf, sizeof(buf));
	ike_build_start(&b, &w, &h);
	CHECK(ike_build_sk_begin(&b, IKE_PT_SKF, 1, 2, 8) == 0);
	CHECK(ike_build_sk_raw(&b, IKE_PT_IDI, filler, 30) == 0);
	CHECK(ike_build_payload_begin(&b, IKE_PT_VENDOR, &len) == -EINVAL);   /* raw: no more */
	writer_init(&w, buf, sizeof(buf));
	ike_build_start(&b, &w, &h);
	ike_build_sk_begin(&b, IKE_PT_SKF, 2, 2, 8);
	ike_build_sk_raw(&b, 0, filler, 30);
	CHECK(ike_build_sk_end(&b, 1, 16, &lay) == 0);
	CHECK_EQ_U64(lay.iv_off, 28 + 8);
	CHECK(ike_msg_parse(buf, lay.msg_len, &m, &err) == 0);
	CHECK_EQ_U64(m.sk.frag_num, 2);
	CHECK_EQ_U64(m.sk.inner_first, 0);
	CHECK_EQ_U64(m.sk.data_len, 8 + 30 + 1 + 16);
}

static void test_builder_errors(void)
{
	static uint8_t big[140000];
	uint8_t buf[64];
	struct writer w;
	struct ike_builder b;
	struct ike_header h = { .spi_i = SPI_I, .exchange = IKE_EXCH_INFORMATIONAL };
	struct ike_build_sk_layout lay;
	size_t off, len;

	/* Writer too small: -ENOSPC, sticky. */
	writer_init(&w, buf, 40);
	CHECK(ike_build_start(&b, &w, &h) == 0);
	CHECK(ike_vendor_encode(&b, filler, 20) == -ENOSPC);
	CHECK(ike_build_finish(&b, &len) == -ENOSPC);
	writer_init(&w, buf, 20);
	CHECK(ike_build_start(&b, &w, &h) == -ENOSPC);

	/* A payload longer than its 16-bit length (3.2). */
	writer_init(&w, big, sizeof(big));
	ike_build_start(&b, &w, &h);
	CHECK(ike_build_payload_begin(&b, IKE_PT_VENDOR, &off) == 0);
	writer_zeros(&w, 65531);
	CHECK(ike_build_payload_end(&b, off) == 0);            /* exactly 65535 */
	CHECK(ike_build_payload_begin(&b, IKE_PT_VENDOR, &off) == 0);
	writer_zeros(&w, 65532);
	CHECK(ike_build_payload_end(&b, off) == -EMSGSIZE);

	/* Out of order. */
	writer_init(&w, buf, sizeof(buf));
	ike_build_start(&b, &w, &h);
	CHECK(ike_build_payload_begin(&b, IKE_PT_VENDOR, &off) == 0);
	CHECK(ike_build_payload_end(&b, off + 1) == -EINVAL);
	writer_init(&w, buf, sizeof(buf));
	ike_build_start(&b, &w, &h);
	CHECK(ike_build_payload_begin(&b, IKE_PT_SK, &off) == -EINVAL);
	writer_init(&w, buf, sizeof(buf));
	ike_build_start(&b, &w, &h);
	CHECK(ike_build_sk_end(&b, 16, 16, &lay) == -EINVAL);
	writer_init(&w, buf, sizeof(buf));
	ike_build_start(&b, &w, &h);
	CHECK(ike_build_sk_begin(&b, IKE_PT_SKF, 3, 2, 0) == -EINVAL);
	writer_init(&w, buf, sizeof(buf));
	ike_build_start(&b, &w, &h);
	ike_build_sk_begin(&b, IKE_PT_SK, 0, 0, 0);
	CHECK(ike_build_sk_begin(&b, IKE_PT_SK, 0, 0, 0) == -EINVAL);
	writer_init(&w, buf, sizeof(buf));
	ike_build_start(&b, &w, &h);
	ike_build_sk_begin(&b, IKE_PT_SK, 0, 0, 0);
	CHECK(ike_build_finish(&b, &len) == -EINVAL);          /* SK still open */
	writer_init(&w, buf, sizeof(buf));
	ike_build_start_chain(&b, &w);
	CHECK(ike_build_sk_begin(&b, IKE_PT_SK, 0, 0, 0) == -EINVAL); /* no header */

	/* A bare chain reports its first type instead of patching a header. */
	writer_init(&w, buf, sizeof(buf));
	CHECK(ike_build_start_chain(&b, &w) == 0);
	ike_vendor_encode(&b, "ab", 2);
	ike_vendor_encode(&b, "cd", 2);
	CHECK(ike_build_finish(&b, &len) == 0);
	CHECK_EQ_U64(len, 12);
	CHECK_EQ_U64(ike_build_chain_first(&b), IKE_PT_VENDOR);
	CHECK_EQ_U64(buf[0], IKE_PT_VENDOR);
	CHECK_EQ_U64(buf[6], 0);

	/* Encoders refuse what their decoder would refuse. */
	writer_init(&w, buf, sizeof(buf));
	ike_build_start(&b, &w, &h);
	CHECK(ike_nonce_encode(&b, filler, 15) == -EINVAL);
	CHECK(ike_vendor_encode(&b, filler, 0) == -EINVAL);
	CHECK(ike_notify_add(&b, IKE_N_COOKIE, filler, 65) == -EINVAL);
	CHECK(ike_build_finish(&b, &len) == 0 && len == 28);  /* nothing was written */
}

int main(void)
{
	filler_init();
	test_header();
	test_chain();
	test_sk_frame();
	test_inner_chain();
	test_payload_cap();
	test_builder_chain();
	test_builder_sk();
	test_builder_errors();
	return tap_done();
}
