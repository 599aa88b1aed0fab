/* Unit tests for mip4/reg.c: Registration Request / Reply encoding byte by byte against the
 * RFC 5944 §3.3/§3.4 figures, round trips, malformed extensions, ordering rules, truncation
 * and authenticator verification through the parsed offsets; the RFC 5265 §3.4 Trusted
 * Networks Configured extension. */
#include <errno.h>
#include <string.h>

#include "common/names.h"
#include "mip4/reg.h"
#include "tests/unit/tap.h"

static struct in_addr ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	const uint8_t bytes[4] = { a, b, c, d };
	struct in_addr in;

	memcpy(&in.s_addr, bytes, 4);
	return in;
}

static bool same_addr(struct in_addr a, struct in_addr b)
{
	return a.s_addr == b.s_addr;
}

static struct mip4_key mn_ha_key, mn_fa_key, fa_ha_key;

static void keys_init(void)
{
	mip4_key_set(&mn_ha_key, 0x1000, "0123456789abcdef", 16);
	mip4_key_set(&mn_fa_key, 0x2000, "fa-secret-key-16", 16);
	mip4_key_set(&fa_ha_key, 0x3000, "fa-ha-secret", 12);
}

static int lookup(void *ctx, uint8_t type, uint32_t spi, struct mip4_key *out)
{
	(void)ctx;
	if (type == MIP4_EXT_MN_HA_AUTH && spi == mn_ha_key.spi)
		*out = mn_ha_key;
	else if (type == MIP4_EXT_MN_FA_AUTH && spi == mn_fa_key.spi)
		*out = mn_fa_key;
	else if (type == MIP4_EXT_FA_HA_AUTH && spi == fa_ha_key.spi)
		*out = fa_ha_key;
	else
		return -ENOENT;
	return 0;
}

/* The request of the known-answer test: co-located CoA behind a NAT, reverse tunnelling. */
static struct mip4_reg_request sample_request(void)
{
	struct mip4_reg_request req;

	memset(&req, 0, sizeof(req));
	req.flags = MIP4_REQ_D | MIP4_REQ_T;
	req.lifetime = 1800;
	req.home_addr = ip4(198, 18, 1, 100);
	req.home_agent = ip4(198, 18, 1, 1);
	req.coa = ip4(198, 18, 2, 50);
	req.ident = UINT64_C(0x0123456789abcdef);
	req.nai.present = true;
	req.nai.len = 14;
	memcpy(req.nai.text, "mn@example.com", 15);
	req.udp_req.present = true;
	req.udp_req.flags = MIP4_UDPT_REQ_F;
	req.udp_req.encap = MIP4_UDPT_ENCAP_IPIP;
	req.eds = true;
	return req;
}

static void test_request_known_encoding(void)
{
	/* RFC 5944 §3.3 fixed part, RFC 2794 §2 NAI, RFC 3519 §3.1 UDP Tunnel Request,
	 * §3.5.2 MN-HA, RFC 3024 §3.3 EDS, written out by hand. */
	uint8_t expect[72] = {
		0x01, 0x22, 0x07, 0x08,                         /* Type 1, D|T, Lifetime 1800 */
		198, 18, 1, 100,                                /* Home Address */
		198, 18, 1, 1,                                  /* Home Agent */
		198, 18, 2, 50,                                 /* Care-of Address */
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, /* Identification */
		131, 14, 'm', 'n', '@', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
		144, 6, 0, 0, 0x80, 4, 0x00, 0x00,              /* UDP Tunnel Req., F, IP-in-IP */
		32, 20, 0x00, 0x00, 0x10, 0x00,                 /* MN-HA, Length 20, SPI 0x1000 */
		/* 16 bytes of authenticator, filled in below */
	};
	struct mip4_reg_request req = sample_request(), got;
	uint8_t buf[256];
	struct writer w;
	int n;

	expect[70] = 130;  /* EDS, Length 0 */
	expect[71] = 0;
	CHECK(mip4_hmac_md5(mn_ha_key.key, mn_ha_key.len, expect, 54, expect + 54) == 0);

	CHECK_EQ_U64(mip4_request_encoded_len(&req, &mn_ha_key, NULL), sizeof(expect));
	writer_init(&w, buf, sizeof(buf));
	n = mip4_request_encode(&w, &req, &mn_ha_key, NULL);
	CHECK_EQ_U64(n, sizeof(expect));
	CHECK_EQ_U64(writer_len(&w), sizeof(expect));
	CHECK_MEM(buf, expect, sizeof(expect));

	CHECK_EQ_U64(mip4_msg_type(buf, (size_t)n), MIP4_MSG_REG_REQUEST);
	CHECK(mip4_request_parse(buf, (size_t)n, &got) == 0);
	CHECK_EQ_U64(got.flags, MIP4_REQ_D | MIP4_REQ_T);
	CHECK_EQ_U64(got.lifetime, 1800);
	CHECK(same_addr(got.home_addr, req.home_addr));
	CHECK(same_addr(got.home_agent, req.home_agent));
	CHECK(same_addr(got.coa, req.coa));
	CHECK_EQ_U64(got.ident, UINT64_C(0x0123456789abcdef));
	CHECK(got.nai.present);
	CHECK_STR(got.nai.text, "mn@example.com");
	CHECK(got.nai.where == MIP4_EXT_BEFORE_MN_HA);
	CHECK(got.udp_req.present);
	CHECK(got.udp_req.where == MIP4_EXT_BEFORE_MN_HA);
	CHECK_EQ_U64(got.udp_req.flags, MIP4_UDPT_REQ_F);
	CHECK_EQ_U64(got.udp_req.encap, 4);
	CHECK(got.eds);
	CHECK(got.mn_ha.present);
	CHECK_EQ_U64(got.mn_ha.spi, 0x1000);
	CHECK_EQ_U64(got.mn_ha.ext_off, 48);
	CHECK_EQ_U64(got.mn_ha.auth_off, 54);
	CHECK_EQ_U64(got.mn_ha.auth_len, 16);
	CHECK(!got.mn_fa.present && !got.fa_ha.present);
	CHECK_EQ_U64(got.skipped, 0);
	CHECK(mip4_auth_verify(buf, (size_t)n, &got.mn_ha, lookup, NULL) == 0);
}

static void test_reply_known_encoding(void)
{
	uint8_t expect[50] = {
		0x03, 0x00, 0x07, 0x08,                         /* Type 3, Code 0, Lifetime 1800 */
		198, 18, 1, 100,                                /* Home Address */
		198, 18, 1, 1,                                  /* Home Agent */
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, /* Identification */
		44, 6, 0, 0, 0x80, 0x00, 0x00, 110,             /* UDP Tunnel Reply: 0, F, 110 s */
		32, 20, 0x00, 0x00, 0x10, 0x00,                 /* MN-HA */
	};
	struct mip4_reg_reply rep, got;
	uint8_t buf[128];
	struct writer w;
	int n;

	CHECK(mip4_hmac_md5(mn_ha_key.key, mn_ha_key.len, expect, 34, expect + 34) == 0);
	memset(&rep, 0, sizeof(rep));
	rep.code = MIP4_CODE_ACCEPTED;
	rep.lifetime = 1800;
	rep.home_addr = ip4(198, 18, 1, 100);
	rep.home_agent = ip4(198, 18, 1, 1);
	rep.ident = UINT64_C(0x0123456789abcdef);
	rep.udp_reply.present = true;
	rep.udp_reply.code = MIP4_UDPT_CODE_ACCEPT;
	rep.udp_reply.forced = true;
	rep.udp_reply.keepalive = 110;

	writer_init(&w, buf, sizeof(buf));
	n = mip4_reply_encode(&w, &rep, &mn_ha_key, NULL);
	CHECK_EQ_U64(n, sizeof(expect));
	CHECK_MEM(buf, expect, sizeof(expect));

	CHECK(mip4_reply_parse(buf, (size_t)n, &got) == 0);
	CHECK_EQ_U64(got.code, 0);
	CHECK_EQ_U64(got.lifetime, 1800);
	CHECK(same_addr(got.home_addr, rep.home_addr));
	CHECK(same_addr(got.home_agent, rep.home_agent));
	CHECK_EQ_U64(got.ident, rep.ident);
	CHECK(got.udp_reply.present && got.udp_reply.forced);
	CHECK_EQ_U64(got.udp_reply.code, 0);
	CHECK_EQ_U64(got.udp_reply.keepalive, 110);
	CHECK(got.mn_ha.present);
	CHECK_EQ_U64(got.mn_ha.auth_off, 34);
	CHECK(mip4_auth_verify(buf, (size_t)n, &got.mn_ha, lookup, NULL) == 0);
	/* A request parser refuses a reply and vice versa. */
	CHECK(mip4_request_parse(buf, (size_t)n, &(struct mip4_reg_request){ 0 }) == -ENOMSG);
}

static void test_round_trips(void)
{
	struct mip4_reg_request req, got;
	struct mip4_reg_reply rep, rgot;
	uint8_t buf[256], buf2[256];
	struct writer w;
	int n, n2;

	/* Minimal: fixed part and MN-HA only; deregistration of all bindings (§3.6.1.2). */
	memset(&req, 0, sizeof(req));
	req.home_addr = ip4(198, 18, 1, 100);
	req.home_agent = ip4(198, 18, 1, 1);
	req.coa = req.home_addr;
	req.ident = 42;
	writer_init(&w, buf, sizeof(buf));
	n = mip4_request_encode(&w, &req, &mn_ha_key, NULL);
	CHECK_EQ_U64(n, 24 + 22);
	CHECK(mip4_request_parse(buf, (size_t)n, &got) == 0);
	CHECK_EQ_U64(got.lifetime, MIP4_LIFETIME_DEREGISTER);
	CHECK(!got.nai.present && !got.udp_req.present && !got.eds);
	/* Re-encoding the parsed request gives the same bytes. */
	writer_init(&w, buf2, sizeof(buf2));
	n2 = mip4_request_encode(&w, &got, &mn_ha_key, NULL);
	CHECK_EQ_U64(n2, n);
	CHECK_MEM(buf2, buf, (size_t)n);

	/* Everything, with MN-FA last (§3.6.1.3 e). */
	req = sample_request();
	req.flags |= MIP4_REQ_S | MIP4_REQ_B | MIP4_REQ_G;
	req.lifetime = MIP4_LIFETIME_INFINITE;
	writer_init(&w, buf, sizeof(buf));
	n = mip4_request_encode(&w, &req, &mn_ha_key, &mn_fa_key);
	CHECK_EQ_U64(n, 72 + 22);
	CHECK(mip4_request_parse(buf, (size_t)n, &got) == 0);
	CHECK_EQ_U64(got.flags, req.flags);
	CHECK_EQ_U64(got.lifetime, 0xffff);
	CHECK(got.mn_fa.present);
	CHECK_EQ_U64(got.mn_fa.ext_off, 72);
	CHECK(mip4_auth_verify(buf, (size_t)n, &got.mn_ha, lookup, NULL) == 0);
	CHECK(mip4_auth_verify(buf, (size_t)n, &got.mn_fa, lookup, NULL) == 0);
	writer_init(&w, buf2, sizeof(buf2));
	CHECK_EQ_U64(mip4_request_encode(&w, &got, &mn_ha_key, &mn_fa_key), n);
	CHECK_MEM(buf2, buf, (size_t)n);

	/* An FA's own denial: no MN-HA, MN-FA only (§3.7.2.3, §3.7.3.2). */
	memset(&rep, 0, sizeof(rep));
	rep.code = MIP4_CODE_FA_INSUFFICIENT_RESOURCES;
	rep.ident = 7;
	writer_init(&w, buf, sizeof(buf));
	n = mip4_reply_encode(&w, &rep, NULL, &mn_fa_key);
	CHECK_EQ_U64(n, 20 + 22);
	CHECK(mip4_reply_parse(buf, (size_t)n, &rgot) == 0);
	CHECK(!rgot.mn_ha.present && rgot.mn_fa.present);
	CHECK(mip4_auth_verify(buf, (size_t)n, &rgot.mn_fa, lookup, NULL) == 0);

	/* HA denial relayed by an FA, NAI echoed (RFC 2794 §3). */
	memset(&rep, 0, sizeof(rep));
	rep.code = MIP4_CODE_HA_IDENT_MISMATCH;
	rep.nai.present = true;
	rep.nai.len = 3;
	memcpy(rep.nai.text, "a@b", 4);
	writer_init(&w, buf, sizeof(buf));
	n = mip4_reply_encode(&w, &rep, &mn_ha_key, &mn_fa_key);
	CHECK_EQ_U64(n, 20 + 5 + 22 + 22);
	CHECK(mip4_reply_parse(buf, (size_t)n, &rgot) == 0);
	CHECK_STR(rgot.nai.text, "a@b");
	CHECK(rgot.nai.where == MIP4_EXT_BEFORE_MN_HA);
	CHECK_EQ_U64(rgot.code, 133);
	writer_init(&w, buf2, sizeof(buf2));
	CHECK_EQ_U64(mip4_reply_encode(&w, &rgot, &mn_ha_key, &mn_fa_key), n);
	CHECK_MEM(buf2, buf, (size_t)n);
}

/* --- hand-built messages ------------------------------------------------------------- */

/* A Request with the given flags: fixed part, `before` raw bytes, MN-HA (if mn_ha), `after`
 * raw bytes. Returns its length. */
static size_t raw_request(uint8_t *buf, size_t cap, uint8_t flags, const void *before,
			  size_t nb, bool mn_ha, const void *after, size_t na)
{
	struct writer w;

	writer_init(&w, buf, cap);
	writer_u8(&w, MIP4_MSG_REG_REQUEST);
	writer_u8(&w, flags);
	writer_be16(&w, 600);
	writer_be32(&w, 0xc6120164);
	writer_be32(&w, 0xc6120101);
	writer_be32(&w, 0xc6120232);
	writer_be64(&w, 99);
	writer_bytes(&w, before, nb);
	if (mn_ha)
		mip4_auth_append(&w, 0, MIP4_EXT_MN_HA_AUTH, &mn_ha_key);
	writer_bytes(&w, after, na);
	return writer_ok(&w) ? writer_len(&w) : 0;
}

static size_t raw_reply(uint8_t *buf, size_t cap, uint8_t code, const void *before, size_t nb,
			bool mn_ha, const void *after, size_t na)
{
	struct writer w;

	writer_init(&w, buf, cap);
	writer_u8(&w, MIP4_MSG_REG_REPLY);
	writer_u8(&w, code);
	writer_be16(&w, 600);
	writer_be32(&w, 0xc6120164);
	writer_be32(&w, 0xc6120101);
	writer_be64(&w, 99);
	writer_bytes(&w, before, nb);
	if (mn_ha)
		mip4_auth_append(&w, 0, MIP4_EXT_MN_HA_AUTH, &mn_ha_key);
	writer_bytes(&w, after, na);
	return writer_ok(&w) ? writer_len(&w) : 0;
}

static int req_with(uint8_t flags, const void *before, size_t nb, bool mn_ha, const void *after,
		    size_t na, struct mip4_reg_request *out)
{
	uint8_t buf[512];
	size_t n = raw_request(buf, sizeof(buf), flags, before, nb, mn_ha, after, na);

	return mip4_request_parse(buf, n, out);
}

static int rep_with(uint8_t code, const void *before, size_t nb, bool mn_ha, const void *after,
		    size_t na, struct mip4_reg_reply *out)
{
	uint8_t buf[512];
	size_t n = raw_reply(buf, sizeof(buf), code, before, nb, mn_ha, after, na);

	return mip4_reply_parse(buf, n, out);
}

#define D MIP4_REQ_D
#define T MIP4_REQ_T

static void test_malformed_lengths(void)
{
	struct mip4_reg_request req;
	struct mip4_reg_reply rep;
	static const uint8_t nai_empty[] = { 131, 0 };
	static const uint8_t nai_nul[] = { 131, 3, 'a', 0, 'b' };
	static const uint8_t nai_past_end[] = { 131, 40, 'a' };
	static const uint8_t udp5[] = { 144, 5, 0, 0, 0x80, 4, 0 };
	static const uint8_t udp7[] = { 144, 7, 0, 0, 0x80, 4, 0, 0, 0 };
	static const uint8_t udp_sub1[] = { 144, 6, 1, 0, 0x80, 4, 0, 0 };
	static const uint8_t udp_res3[] = { 144, 6, 0, 0, 0x80, 4, 0, 1 };
	static const uint8_t udp_res12[] = { 144, 6, 0, 0xff, 0xbf, 4, 0, 0 };
	static const uint8_t eds1[] = { 130, 1, 0 };
	static const uint8_t eds0[] = { 130, 0 };
	static const uint8_t rpl5[] = { 44, 5, 0, 0, 0, 0, 0 };
	static const uint8_t rpl7[] = { 44, 7, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t rpl_sub1[] = { 44, 6, 1, 0, 0, 0, 0, 0 };
	uint8_t short_auth[2 + 4 + 15] = { 32, 19, 0, 0, 0x10, 0 };
	uint8_t spi_only[2 + 3] = { 32, 3, 0, 0, 0x10 };
	uint8_t fa_short[2 + 4 + 10] = { 34, 14, 0, 0, 0x30, 0 };
	uint8_t mf_short[2 + 4 + 10] = { 33, 14, 0, 0, 0x20, 0 };
	uint8_t long_auth[2 + 4 + 20] = { 32, 24, 0, 0, 0x10, 0 };

	/* RFC 2794 §2: an NAI is a non-empty string. */
	CHECK(req_with(0, nai_empty, sizeof(nai_empty), true, NULL, 0, &req) == -EBADMSG);
	CHECK(req_with(0, nai_nul, sizeof(nai_nul), true, NULL, 0, &req) == -EBADMSG);
	CHECK(req_with(0, nai_past_end, sizeof(nai_past_end), false, NULL, 0, &req) == -EBADMSG);
	/* RFC 3519 §3.1: Length 6 exactly. */
	CHECK(req_with(D, udp5, sizeof(udp5), true, NULL, 0, &req) == -EBADMSG);
	CHECK(req_with(D, udp7, sizeof(udp7), true, NULL, 0, &req) == -EBADMSG);
	/* §3.1.3: unknown Sub-Type or nonzero Reserved 3: skipped as not understood. */
	CHECK(req_with(D, udp_sub1, sizeof(udp_sub1), true, NULL, 0, &req) == 0);
	CHECK(!req.udp_req.present && req.udp_req_not_understood);
	CHECK_EQ_U64(req.skipped, 1);
	CHECK(req_with(0, udp_res3, sizeof(udp_res3), true, NULL, 0, &req) == 0);
	CHECK(!req.udp_req.present && req.udp_req_not_understood);
	/* Reserved 1 and 2 are ignored (and dropped). */
	CHECK(req_with(D, udp_res12, sizeof(udp_res12), true, NULL, 0, &req) == 0);
	CHECK(req.udp_req.present);
	CHECK_EQ_U64(req.udp_req.flags, MIP4_UDPT_REQ_F);
	/* RFC 3024 §3.3: Length 0. */
	CHECK(req_with(T, NULL, 0, true, eds1, sizeof(eds1), &req) == -EBADMSG);
	CHECK(req_with(T, NULL, 0, true, eds0, sizeof(eds0), &req) == 0);
	CHECK(req.eds);
	/* RFC 3519 §3.2: Length 6; an unknown Sub-Type of this non-skippable extension makes
	 * the message unrecognisable (RFC 5944 §1.8). */
	CHECK(rep_with(0, rpl5, sizeof(rpl5), true, NULL, 0, &rep) == -EBADMSG);
	CHECK(rep_with(0, rpl7, sizeof(rpl7), true, NULL, 0, &rep) == -EBADMSG);
	CHECK(rep_with(0, rpl_sub1, sizeof(rpl_sub1), true, NULL, 0, &rep) == -EOPNOTSUPP);
	/* §3.5.2-§3.5.4: SPI plus at least a 128-bit authenticator. */
	CHECK(req_with(0, short_auth, sizeof(short_auth), false, NULL, 0, &req) == -EBADMSG);
	CHECK(req_with(0, spi_only, sizeof(spi_only), false, NULL, 0, &req) == -EBADMSG);
	CHECK(req_with(0, NULL, 0, true, fa_short, sizeof(fa_short), &req) == -EBADMSG);
	CHECK(req_with(0, NULL, 0, true, mf_short, sizeof(mf_short), &req) == -EBADMSG);
	CHECK(rep_with(70, mf_short, sizeof(mf_short), false, NULL, 0, &rep) == -EBADMSG);
	/* A longer authenticator parses (another algorithm's) but does not verify as MD5. */
	uint8_t buf[256];
	size_t n = raw_request(buf, sizeof(buf), 0, long_auth, sizeof(long_auth), false, NULL, 0);
	CHECK(mip4_request_parse(buf, n, &req) == 0);
	CHECK_EQ_U64(req.mn_ha.auth_len, 20);
	CHECK(mip4_auth_verify(buf, n, &req.mn_ha, lookup, NULL) == -EACCES);
	/* An extension header cut off at the end. */
	static const uint8_t lone_type[] = { 131 };
	CHECK(req_with(0, NULL, 0, true, lone_type, 1, &req) == -EBADMSG);
	/* Fixed part too short. */
	CHECK(mip4_request_parse(buf, 23, &req) == -EBADMSG);
	CHECK(mip4_request_parse(buf, 0, &req) == -EBADMSG);
}

static void test_unknown_and_padding(void)
{
	struct mip4_reg_request req;
	struct mip4_reg_reply rep;
	/* 36 is a real type (RFC 4721) we do not implement: below 128, so discard (§1.8). */
	static const uint8_t gen_auth[] = { 36, 4, 1, 2, 3, 4 };
	static const uint8_t unknown50[] = { 50, 0 };
	static const uint8_t skippable[] = { 200, 3, 1, 2, 3, 0, 0, 255, 0 };
	static const uint8_t pads[] = { 0, 0, 0 };

	CHECK(req_with(0, gen_auth, sizeof(gen_auth), true, NULL, 0, &req) == -EOPNOTSUPP);
	CHECK(req_with(0, unknown50, sizeof(unknown50), true, NULL, 0, &req) == -EOPNOTSUPP);
	CHECK(rep_with(0, unknown50, sizeof(unknown50), true, NULL, 0, &rep) == -EOPNOTSUPP);
	/* 200 (3 bytes of data), padding, padding, 255 with Length 0: two unknowns skipped. */
	CHECK(req_with(0, skippable, sizeof(skippable), true, NULL, 0, &req) == 0);
	CHECK_EQ_U64(req.skipped, 2);
	CHECK(req_with(0, pads, sizeof(pads), true, NULL, 0, &req) == 0);
	CHECK_EQ_U64(req.skipped, 0);

	uint8_t buf[256];
	size_t n = raw_request(buf, sizeof(buf), 0, skippable, sizeof(skippable), true, NULL, 0);
	CHECK(mip4_request_parse(buf, n, &req) == 0);
	/* The skipped extensions are inside the protected region (§3.5.1 "all prior
	 * Extensions in their entirety"). */
	CHECK_EQ_U64(req.mn_ha.auth_off, 24 + sizeof(skippable) + 6);
	CHECK(mip4_auth_verify(buf, n, &req.mn_ha, lookup, NULL) == 0);
}

static void test_rules(void)
{
	struct mip4_reg_request req;
	struct mip4_reg_reply rep;
	static const uint8_t nai[] = { 131, 3, 'a', '@', 'b' };
	static const uint8_t udp[] = { 144, 6, 0, 0, 0, 0, 0, 0 };
	static const uint8_t eds[] = { 130, 0 };
	static const uint8_t rpl[] = { 44, 6, 0, 0, 0, 0, 0, 0 };
	uint8_t mnha2[22] = { 32, 20, 0, 0, 0x10, 0 };
	uint8_t mnfa[22] = { 33, 20, 0, 0, 0x20, 0 };
	uint8_t faha[22] = { 34, 20, 0, 0, 0x30, 0 };
	uint8_t mnfa_faha[44];
	uint8_t mnfa_nai[22 + sizeof(nai)];

	memcpy(mnfa_faha, mnfa, 22);
	memcpy(mnfa_faha + 22, faha, 22);
	memcpy(mnfa_nai, mnfa, 22);
	memcpy(mnfa_nai + 22, nai, sizeof(nai));

	/* §3.3, §3.8.2.1 a: no authorization-enabling extension. */
	CHECK(req_with(0, nai, sizeof(nai), false, NULL, 0, &req) == -ENOKEY);
	CHECK(req_with(0, NULL, 0, false, NULL, 0, &req) == -ENOKEY);
	CHECK(req_with(0, mnfa, sizeof(mnfa), false, NULL, 0, &req) == -ENOKEY);
	/* Exactly one MN-HA (§3.6.2.1 b, §3.8.2.1). */
	CHECK(req_with(0, NULL, 0, true, mnha2, sizeof(mnha2), &req) == -EPROTO);
	CHECK(rep_with(0, NULL, 0, true, mnha2, sizeof(mnha2), &rep) == -EPROTO);
	/* RFC 2794 §2: NAI before MN-HA. */
	CHECK(req_with(0, NULL, 0, true, nai, sizeof(nai), &req) == -EPROTO);
	CHECK(req_with(0, nai, sizeof(nai), true, NULL, 0, &req) == 0);
	/* RFC 3024 §3.3: EDS after MN-HA, and only with T. */
	CHECK(req_with(T, eds, sizeof(eds), true, NULL, 0, &req) == -EPROTO);
	CHECK(req_with(0, NULL, 0, true, eds, sizeof(eds), &req) == -EPROTO);
	/* §3.6.1.3: MN-FA after MN-HA and last; MN-FA and FA-HA never both. */
	CHECK(req_with(0, mnfa, sizeof(mnfa), true, NULL, 0, &req) == -EPROTO);
	CHECK(req_with(0, NULL, 0, true, mnfa_nai, sizeof(mnfa_nai), &req) == -EPROTO);
	CHECK(req_with(0, NULL, 0, true, mnfa_faha, sizeof(mnfa_faha), &req) == -EPROTO);
	CHECK(req_with(0, NULL, 0, true, mnfa, sizeof(mnfa), &req) == 0);
	CHECK(req.mn_fa.present);
	CHECK(req_with(0, NULL, 0, true, faha, sizeof(faha), &req) == 0);
	CHECK(req.fa_ha.present);
	CHECK(req_with(0, faha, sizeof(faha), true, NULL, 0, &req) == -EPROTO);
	/* RFC 3519 §3.1.5, §4.6.1: the MN's UDP Tunnel Request needs D; the FA's must not. */
	CHECK(req_with(0, udp, sizeof(udp), true, NULL, 0, &req) == -EPROTO);
	CHECK(req_with(D, udp, sizeof(udp), true, NULL, 0, &req) == 0);
	CHECK(req.udp_req.where == MIP4_EXT_BEFORE_MN_HA);
	CHECK(req_with(D, NULL, 0, true, udp, sizeof(udp), &req) == -EPROTO);
	CHECK(req_with(0, NULL, 0, true, udp, sizeof(udp), &req) == 0);
	CHECK(req.udp_req.where == MIP4_EXT_AFTER_MN_HA);
	/* Extensions that belong to the other message. */
	CHECK(req_with(0, rpl, sizeof(rpl), true, NULL, 0, &req) == -EPROTO);
	CHECK(rep_with(0, eds, sizeof(eds), true, NULL, 0, &rep) == -EPROTO);
	CHECK(rep_with(0, udp, sizeof(udp), true, NULL, 0, &rep) == -EPROTO);
	/* §3.6.2.1 b: HA codes need MN-HA; an FA's own denial does not. */
	CHECK(rep_with(0, NULL, 0, false, NULL, 0, &rep) == -ENOKEY);
	CHECK(rep_with(1, NULL, 0, false, NULL, 0, &rep) == -ENOKEY);
	CHECK(rep_with(133, NULL, 0, false, NULL, 0, &rep) == -ENOKEY);
	CHECK(rep_with(66, NULL, 0, false, NULL, 0, &rep) == 0);
	CHECK(rep_with(194, NULL, 0, false, NULL, 0, &rep) == 0);
	CHECK(rep_with(70, nai, sizeof(nai), false, NULL, 0, &rep) == 0);
	CHECK(rep.nai.where == MIP4_EXT_AFTER_MN_HA);
	/* RFC 3519 §3.2: the UDP Tunnel Reply must be covered by MN-HA. */
	CHECK(rep_with(0, rpl, sizeof(rpl), true, NULL, 0, &rep) == 0);
	CHECK(rep_with(0, NULL, 0, true, rpl, sizeof(rpl), &rep) == -EPROTO);
	CHECK(rep_with(70, rpl, sizeof(rpl), false, NULL, 0, &rep) == -EPROTO);
	CHECK(rep_with(0, NULL, 0, true, mnfa, sizeof(mnfa), &rep) == 0);
	CHECK(rep_with(0, mnfa, sizeof(mnfa), true, NULL, 0, &rep) == -EPROTO);

	/* Reserved flag bits are kept for the FA to refuse (§3.7.2.1), not refused here. */
	CHECK(req_with(MIP4_REQ_RESERVED, NULL, 0, true, NULL, 0, &req) == 0);
	CHECK_EQ_U64(req.flags, MIP4_REQ_RESERVED);
	/* Wrong message type. */
	uint8_t buf[64];
	size_t n = raw_request(buf, sizeof(buf), 0, NULL, 0, true, NULL, 0);
	buf[0] = 2;
	CHECK(mip4_request_parse(buf, n, &req) == -ENOMSG);
	CHECK(mip4_reply_parse(buf, n, &rep) == -ENOMSG);
	CHECK(mip4_msg_type(buf, 0) == -EBADMSG);
}

static void test_encoder_errors(void)
{
	struct mip4_reg_request req = sample_request();
	struct mip4_reg_reply rep;
	struct mip4_key bad = mn_ha_key;
	uint8_t buf[256];
	struct writer w;

	writer_init(&w, buf, sizeof(buf));
	CHECK(mip4_request_encode(&w, &req, NULL, NULL) == -EINVAL);
	bad.spi = 17;
	CHECK(mip4_request_encode(&w, &req, &bad, NULL) == -EINVAL);
	CHECK(mip4_request_encode(&w, &req, &mn_ha_key, &bad) == -EINVAL);
	req.flags |= MIP4_REQ_x;
	CHECK(mip4_request_encode(&w, &req, &mn_ha_key, NULL) == -EINVAL);
	req = sample_request();
	req.flags &= (uint8_t)~MIP4_REQ_D;
	CHECK(mip4_request_encode(&w, &req, &mn_ha_key, NULL) == -EINVAL);
	req = sample_request();
	req.flags &= (uint8_t)~MIP4_REQ_T;
	CHECK(mip4_request_encode(&w, &req, &mn_ha_key, NULL) == -EINVAL);
	req = sample_request();
	req.nai.len = 0;
	CHECK(mip4_request_encode(&w, &req, &mn_ha_key, NULL) == -EINVAL);
	req = sample_request();
	req.udp_req.flags = 0x01;
	CHECK(mip4_request_encode(&w, &req, &mn_ha_key, NULL) == -EINVAL);
	CHECK_EQ_U64(writer_len(&w), 0);

	/* Too small: nothing written, writer still usable. */
	req = sample_request();
	writer_init(&w, buf, 71);
	CHECK(mip4_request_encode(&w, &req, &mn_ha_key, NULL) == -ENOSPC);
	CHECK_EQ_U64(writer_len(&w), 0);
	CHECK(writer_ok(&w));
	writer_init(&w, buf, 72);
	CHECK_EQ_U64(mip4_request_encode(&w, &req, &mn_ha_key, NULL), 72);

	memset(&rep, 0, sizeof(rep));
	writer_init(&w, buf, sizeof(buf));
	CHECK(mip4_reply_encode(&w, &rep, NULL, NULL) == -EINVAL);
	rep.code = 64;
	rep.udp_reply.present = true;
	CHECK(mip4_reply_encode(&w, &rep, NULL, NULL) == -EINVAL);
	rep.udp_reply.present = false;
	CHECK_EQ_U64(mip4_reply_encode(&w, &rep, NULL, NULL), 20);
}

/* Every proper prefix of a request that ends with MN-HA is refused, and the output is left
 * alone. */
static void test_truncation(void)
{
	struct mip4_reg_request req = sample_request(), got, sentinel;
	uint8_t buf[256];
	struct writer w;
	int n, fails = 0, touched = 0, accepted = 0, bad_ok = 0;

	req.eds = false;
	writer_init(&w, buf, sizeof(buf));
	n = mip4_request_encode(&w, &req, &mn_ha_key, NULL);
	CHECK_EQ_U64(n, 70);
	memset(&sentinel, 0xa5, sizeof(sentinel));
	for (int len = 0; len < n; len++) {
		got = sentinel;
		CHECK_LOOP(mip4_request_parse(buf, (size_t)len, &got) < 0, fails);
		CHECK_LOOP(memcmp(&got, &sentinel, sizeof(got)) == 0, touched);
	}
	CHECK_EQ_U64(fails, 0);
	CHECK_EQ_U64(touched, 0);
	CHECK(mip4_request_parse(buf, (size_t)n, &got) == 0);

	/* With EDS and MN-FA after MN-HA, the prefixes that end on an extension boundary after
	 * MN-HA are valid requests (what an FA forwards); they must still authenticate. */
	req = sample_request();
	writer_init(&w, buf, sizeof(buf));
	n = mip4_request_encode(&w, &req, &mn_ha_key, &mn_fa_key);
	for (int len = 0; len <= n; len++) {
		if (mip4_request_parse(buf, (size_t)len, &got) != 0)
			continue;
		accepted++;
		CHECK_LOOP(len == 70 || len == 72 || len == n, bad_ok);
		CHECK_LOOP(mip4_auth_verify(buf, (size_t)len, &got.mn_ha, lookup, NULL) == 0,
			   bad_ok);
	}
	CHECK_EQ_U64(accepted, 3);
	CHECK_EQ_U64(bad_ok, 0);
}

/* Flip every bit of the protected region and of the authenticator: the request either no
 * longer parses or no longer authenticates. */
static void test_bit_flips(void)
{
	struct mip4_reg_request req = sample_request(), got;
	uint8_t buf[256];
	struct writer w;
	int n, verified = 0, flips = 0;
	size_t end;

	writer_init(&w, buf, sizeof(buf));
	n = mip4_request_encode(&w, &req, &mn_ha_key, NULL);
	CHECK(mip4_request_parse(buf, (size_t)n, &got) == 0);
	end = got.mn_ha.auth_off + got.mn_ha.auth_len;
	for (size_t i = 0; i < end; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct mip4_reg_request f;

			buf[i] ^= (uint8_t)(1u << bit);
			if (mip4_request_parse(buf, (size_t)n, &f) == 0)
				CHECK_LOOP(mip4_auth_verify(buf, (size_t)n, &f.mn_ha, lookup,
							    NULL) != 0, verified);
			buf[i] ^= (uint8_t)(1u << bit);
			flips++;
		}
	}
	CHECK_EQ_U64(flips, end * 8);
	CHECK_EQ_U64(verified, 0);
	CHECK(mip4_auth_verify(buf, (size_t)n, &got.mn_ha, lookup, NULL) == 0);

	/* Wrong SPI: the HA has no such security context. */
	struct mip4_key other;
	mip4_key_set(&other, 0x1001, "0123456789abcdef", 16);
	writer_init(&w, buf, sizeof(buf));
	n = mip4_request_encode(&w, &req, &other, NULL);
	CHECK(mip4_request_parse(buf, (size_t)n, &got) == 0);
	CHECK(mip4_auth_verify(buf, (size_t)n, &got.mn_ha, lookup, NULL) == -ENOENT);
	mip4_key_wipe(&other);
}

/* Trusted Networks Configured (RFC 5265 §3.4): the figure's bytes, where it sits relative to
 * MN-HA, what the authenticator covers, lengths and Sub-Types. */
static void test_tnc(void)
{
	/* RFC 5944 §3.4 fixed part; RFC 5265 §3.4 figure: Type 149, Length 2, Sub-Type 0,
	 * Reserved 0; RFC 5944 §3.5.2 MN-HA last (§3.8.3.3 b-c), written out by hand. */
	uint8_t expect[46] = {
		0x03, 0x00, 0x01, 0x2c,                         /* Type 3, Code 0, Lifetime 300 */
		198, 18, 1, 100,                                /* Home Address */
		198, 18, 1, 1,                                  /* Home Agent */
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, /* Identification */
		149, 2, 0, 0,                                   /* TNC */
		32, 20, 0x00, 0x00, 0x10, 0x00,                 /* MN-HA, SPI 0x1000 */
	};
	static const uint8_t tnc[] = { 149, 2, 0, 0 };
	static const uint8_t tnc_reserved[] = { 149, 2, 0, 0xff };
	static const uint8_t tnc_len0[] = { 149, 0 };
	static const uint8_t tnc_len1[] = { 149, 1, 0 };
	static const uint8_t tnc_len3[] = { 149, 3, 0, 0, 0 };
	static const uint8_t tnc_cut[] = { 149, 2, 0 };
	static const uint8_t tnc_sub1[] = { 149, 2, 1, 0 };
	static const uint8_t tnc_sub7_long[] = { 149, 5, 7, 1, 2, 3, 4 };
	static const uint8_t tnc_sub1_len1[] = { 149, 1, 1 };
	static const uint8_t tnc_twice[] = { 149, 2, 0, 0, 149, 2, 0, 0 };
	static const uint8_t tnc_sub1_then_0[] = { 149, 2, 1, 0, 149, 2, 0, 0 };
	static const uint8_t nai[] = { 131, 3, 'a', '@', 'b' };
	uint8_t mnfa[22] = { 33, 20, 0, 0, 0x20, 0 };
	struct mip4_reg_reply rep, got;
	struct mip4_reg_request req;
	uint8_t buf[256], buf2[256];
	struct writer w;
	size_t n;
	int m;

	CHECK(mip4_hmac_md5(mn_ha_key.key, mn_ha_key.len, expect, 30, expect + 30) == 0);
	memset(&rep, 0, sizeof(rep));
	rep.code = MIP4_CODE_ACCEPTED;
	rep.lifetime = 300;
	rep.home_addr = ip4(198, 18, 1, 100);
	rep.home_agent = ip4(198, 18, 1, 1);
	rep.ident = UINT64_C(0x0123456789abcdef);
	rep.tnc.present = true;
	rep.tnc.where = MIP4_EXT_AFTER_MN_HA;  /* ignored by the encoder */
	CHECK_EQ_U64(mip4_reply_encoded_len(&rep, &mn_ha_key, NULL), sizeof(expect));
	writer_init(&w, buf, sizeof(buf));
	m = mip4_reply_encode(&w, &rep, &mn_ha_key, NULL);
	CHECK_EQ_U64(m, sizeof(expect));
	CHECK_MEM(buf, expect, sizeof(expect));
	CHECK(mip4_reply_parse(buf, (size_t)m, &got) == 0);
	CHECK(got.tnc.present && got.tnc.where == MIP4_EXT_BEFORE_MN_HA);
	CHECK(mip4_reply_tnc_protected(&got));
	CHECK_EQ_U64(got.skipped, 0);
	CHECK_EQ_U64(got.mn_ha.ext_off, 24);
	CHECK(mip4_auth_verify(buf, (size_t)m, &got.mn_ha, lookup, NULL) == 0);
	/* Round trip: the parsed reply encodes to the same bytes. */
	writer_init(&w, buf2, sizeof(buf2));
	CHECK_EQ_U64(mip4_reply_encode(&w, &got, &mn_ha_key, NULL), m);
	CHECK_MEM(buf2, buf, (size_t)m);
	/* The authenticator covers it (RFC 5944 §3.5.1): a TNC turned into another type, or
	 * the Reserved byte changed, no longer verifies. */
	buf[20] = 150;
	CHECK(mip4_reply_parse(buf, (size_t)m, &got) == 0);
	CHECK(!got.tnc.present && !mip4_reply_tnc_protected(&got) && got.skipped == 1);
	CHECK(mip4_auth_verify(buf, (size_t)m, &got.mn_ha, lookup, NULL) == -EACCES);
	buf[20] = 149;
	buf[23] = 1;
	CHECK(mip4_reply_parse(buf, (size_t)m, &got) == 0 && got.tnc.present);
	CHECK(mip4_auth_verify(buf, (size_t)m, &got.mn_ha, lookup, NULL) == -EACCES);

	/* With the NAI, a UDP Tunnel Reply and an FA's MN-FA: order b (NAI, UDP, TNC), c, then
	 * MN-FA; the TNC stays under MN-HA. */
	rep.nai.present = true;
	rep.nai.len = 3;
	memcpy(rep.nai.text, "a@b", 4);
	rep.udp_reply.present = true;
	rep.udp_reply.code = MIP4_UDPT_CODE_DECLINED;
	writer_init(&w, buf, sizeof(buf));
	m = mip4_reply_encode(&w, &rep, &mn_ha_key, &mn_fa_key);
	CHECK_EQ_U64(m, 20 + 5 + 8 + 4 + 22 + 22);
	CHECK(m > 0 && buf[33] == 149 && buf[37] == MIP4_EXT_MN_HA_AUTH);
	CHECK(mip4_reply_parse(buf, (size_t)m, &got) == 0 && mip4_reply_tnc_protected(&got));
	CHECK(mip4_auth_verify(buf, (size_t)m, &got.mn_ha, lookup, NULL) == 0);
	CHECK(mip4_auth_verify(buf, (size_t)m, &got.mn_fa, lookup, NULL) == 0);
	/* It must be covered: no encoding without MN-HA, even in an FA's own denial. */
	memset(&rep, 0, sizeof(rep));
	rep.code = MIP4_CODE_FA_ADMIN_PROHIBITED;
	rep.tnc.present = true;
	writer_init(&w, buf, sizeof(buf));
	CHECK(mip4_reply_encode(&w, &rep, NULL, &mn_fa_key) == -EINVAL);
	CHECK(mip4_reply_encoded_len(&rep, NULL, NULL) == -EINVAL);
	CHECK_EQ_U64(writer_len(&w), 0);

	/* Hand-built: before MN-HA it counts; after it (appended on the path) it is seen but
	 * does not count, and MN-HA still verifies: it never covered it. */
	CHECK(rep_with(0, tnc, sizeof(tnc), true, NULL, 0, &got) == 0);
	CHECK(got.tnc.present && got.tnc.where == MIP4_EXT_BEFORE_MN_HA);
	CHECK(mip4_reply_tnc_protected(&got));
	n = raw_reply(buf, sizeof(buf), 0, NULL, 0, true, tnc, sizeof(tnc));
	CHECK(mip4_reply_parse(buf, n, &got) == 0);
	CHECK(got.tnc.present && got.tnc.where == MIP4_EXT_AFTER_MN_HA);
	CHECK(!mip4_reply_tnc_protected(&got));
	CHECK(mip4_auth_verify(buf, n, &got.mn_ha, lookup, NULL) == 0);
	/* After MN-FA too (MN-FA must be last, §3.7.3.2) is a rule violation. */
	memcpy(buf2, mnfa, sizeof(mnfa));
	memcpy(buf2 + sizeof(mnfa), tnc, sizeof(tnc));
	CHECK(rep_with(0, NULL, 0, true, buf2, sizeof(mnfa) + sizeof(tnc), &got) == -EPROTO);
	/* An FA's own denial has no MN-HA: nothing covers its TNC. */
	CHECK(rep_with(65, tnc, sizeof(tnc), false, NULL, 0, &got) == 0);
	CHECK(got.tnc.present && got.tnc.where == MIP4_EXT_AFTER_MN_HA);
	CHECK(!mip4_reply_tnc_protected(&got));
	/* Between the NAI and MN-HA: still before. */
	memcpy(buf2, nai, sizeof(nai));
	memcpy(buf2 + sizeof(nai), tnc, sizeof(tnc));
	CHECK(rep_with(0, buf2, sizeof(nai) + sizeof(tnc), true, NULL, 0, &got) == 0);
	CHECK(mip4_reply_tnc_protected(&got) && got.nai.present);
	/* Without one. */
	CHECK(rep_with(0, NULL, 0, true, NULL, 0, &got) == 0);
	CHECK(!got.tnc.present && !mip4_reply_tnc_protected(&got));

	/* Lengths (RFC 5265 §3.4: Length 2; RFC 5944 §1.11: the Sub-Type is always there). */
	CHECK(rep_with(0, tnc_reserved, sizeof(tnc_reserved), true, NULL, 0, &got) == 0);
	CHECK(mip4_reply_tnc_protected(&got));  /* Reserved: ignored on receipt */
	CHECK(rep_with(0, tnc_len0, sizeof(tnc_len0), true, NULL, 0, &got) == -EBADMSG);
	CHECK(rep_with(0, tnc_len1, sizeof(tnc_len1), true, NULL, 0, &got) == -EBADMSG);
	CHECK(rep_with(0, tnc_len3, sizeof(tnc_len3), true, NULL, 0, &got) == -EBADMSG);
	CHECK(rep_with(0, NULL, 0, true, tnc_cut, sizeof(tnc_cut), &got) == -EBADMSG);
	/* Sub-Types we do not know are skipped whatever their length (§1.8, RFC 5265 §7). */
	CHECK(rep_with(0, tnc_sub1, sizeof(tnc_sub1), true, NULL, 0, &got) == 0);
	CHECK(!got.tnc.present && got.skipped == 1);
	CHECK(rep_with(0, tnc_sub7_long, sizeof(tnc_sub7_long), true, NULL, 0, &got) == 0);
	CHECK(!got.tnc.present && got.skipped == 1);
	CHECK(rep_with(0, tnc_sub1_len1, sizeof(tnc_sub1_len1), true, NULL, 0, &got) == 0);
	CHECK(!got.tnc.present && got.skipped == 1);
	CHECK(rep_with(0, tnc_sub1_then_0, sizeof(tnc_sub1_then_0), true, NULL, 0, &got) == 0);
	CHECK(mip4_reply_tnc_protected(&got) && got.skipped == 1);
	/* One of them at most, on either side. */
	CHECK(rep_with(0, tnc_twice, sizeof(tnc_twice), true, NULL, 0, &got) == -EPROTO);
	CHECK(rep_with(0, tnc, sizeof(tnc), true, tnc, sizeof(tnc), &got) == -EPROTO);

	/* A request is no place for it: skipped like an unknown skippable extension, as it was
	 * before the type was known, whatever its length. */
	CHECK(req_with(0, tnc, sizeof(tnc), true, NULL, 0, &req) == 0);
	CHECK_EQ_U64(req.skipped, 1);
	CHECK(req_with(0, NULL, 0, true, tnc_len0, sizeof(tnc_len0), &req) == 0);
	CHECK_EQ_U64(req.skipped, 1);
	CHECK(req_with(0, tnc_twice, sizeof(tnc_twice), true, NULL, 0, &req) == 0);
	CHECK_EQ_U64(req.skipped, 2);
	CHECK(req_with(0, NULL, 0, true, tnc_cut, sizeof(tnc_cut), &req) == -EBADMSG);
}

static void test_tunnel_header(void)
{
	static const uint8_t hdr[] = { 4, 4, 0xff, 0xff, 0x45 };
	static const uint8_t not_tunnel[] = { 1, 4, 0, 0 };
	uint8_t buf[8], nh = 0;
	struct reader r;
	struct writer w;

	reader_init(&r, hdr, sizeof(hdr));
	CHECK(mip4_tunnel_hdr_parse(&r, &nh) == 0);
	CHECK_EQ_U64(nh, 4);
	CHECK_EQ_U64(reader_offset(&r), 4);  /* Reserved ignored; the inner packet follows */
	reader_init(&r, hdr, 3);
	CHECK(mip4_tunnel_hdr_parse(&r, &nh) == -EBADMSG);
	reader_init(&r, not_tunnel, sizeof(not_tunnel));
	CHECK(mip4_tunnel_hdr_parse(&r, &nh) == -ENOMSG);
	CHECK_EQ_U64(reader_offset(&r), 0);

	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(mip4_tunnel_hdr_encode(&w, 47), 4);
	CHECK_MEM(buf, ((const uint8_t[]){ 4, 47, 0, 0 }), 4);
	writer_init(&w, buf, 3);
	CHECK(mip4_tunnel_hdr_encode(&w, 47) == -ENOSPC);
}

static void test_code_classes(void)
{
	CHECK(mip4_code_is_success(MIP4_CODE_ACCEPTED));
	CHECK(mip4_code_is_success(MIP4_CODE_ACCEPTED_NO_SIMULTANEOUS));
	CHECK(!mip4_code_is_success(MIP4_CODE_FA_UNSPECIFIED));
	CHECK(mip4_code_is_from_ha(MIP4_CODE_HA_UDP_ENCAP_UNAVAILABLE));
	CHECK(mip4_code_is_from_ha(MIP4_CODE_ACCEPTED));
	CHECK(!mip4_code_is_from_ha(MIP4_CODE_FA_MISSING_NAI));
	CHECK(!mip4_code_is_from_ha(MIP4_CODE_FA_INVALID_HA_ADDRESS));
	CHECK_EQ_U64(MIP4_CODE_HA_UDP_ENCAP_UNAVAILABLE, 142);

	/* Every code and extension type we name has a log name in common/names. */
	static const uint8_t codes[] = {
		0, 1, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82,
		88, 96, 97, 98, 99, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139,
		142, 194,
	};
	static const uint8_t exts[] = { 0, 32, 33, 34, 44, 130, 131, 144 };
	int unnamed = 0;
	for (size_t i = 0; i < sizeof(codes); i++)
		CHECK_LOOP(name_lookup(&mip4_reply_code_names, codes[i]) != NULL, unnamed);
	for (size_t i = 0; i < sizeof(exts); i++)
		CHECK_LOOP(name_lookup(&mip4_extension_names, exts[i]) != NULL, unnamed);
	CHECK_EQ_U64(unnamed, 0);
	CHECK_EQ_U64(MIP4_CODE_FA_DELIVERY_STYLE_UNSUPPORTED, 79);
	CHECK_EQ_U64(MIP4_CODE_HA_ENCAP_UNAVAILABLE, 139);
}

int main(void)
{
	keys_init();
	test_request_known_encoding();
	test_reply_known_encoding();
	test_round_trips();
	test_malformed_lengths();
	test_unknown_and_padding();
	test_rules();
	test_encoder_errors();
	test_truncation();
	test_bit_flips();
	test_tnc();
	test_tunnel_header();
	test_code_classes();
	mip4_key_wipe(&mn_ha_key);
	mip4_key_wipe(&mn_fa_key);
	mip4_key_wipe(&fa_ha_key);
	return tap_done();
}
