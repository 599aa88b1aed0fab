/* Unit tests for mip4/agent.c: Agent Advertisement / Solicitation (RFC 5944 §2.1-§2.2,
 * RFC 1256 §3) and the Internet checksum (RFC 1071). */
#include <errno.h>
#include <string.h>

#include "mip4/agent.h"
#include "tests/unit/tap.h"

static struct in_addr ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	const uint8_t bytes[4] = { a, b, c, d };
	struct in_addr in;

	memcpy(&in.s_addr, bytes, 4);
	return in;
}

/* Recompute the checksum of a hand-edited message (bytes 2-3). */
static void fix_checksum(uint8_t *msg, size_t len)
{
	uint16_t c;

	msg[2] = msg[3] = 0;
	c = mip4_inet_checksum(msg, len);
	msg[2] = (uint8_t)(c >> 8);
	msg[3] = (uint8_t)c;
}

static void test_checksum(void)
{
	/* RFC 1071 §3 example: the sum of 0001 f203 f4f5 f6f7 is ddf2, complemented 220d. */
	static const uint8_t rfc1071[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	uint8_t odd[] = { 0x01, 0x02, 0x03 };

	CHECK_EQ_U64(mip4_inet_checksum(rfc1071, sizeof(rfc1071)), 0x220d);
	/* Odd length: the last byte is padded with zero: ~(0x0102 + 0x0300) */
	CHECK_EQ_U64(mip4_inet_checksum(odd, sizeof(odd)), (uint16_t)~0x0402);
	CHECK_EQ_U64(mip4_inet_checksum(NULL, 0), 0xffff);
}

static struct mip4_agent_adv sample_adv(void)
{
	struct mip4_agent_adv adv;

	memset(&adv, 0, sizeof(adv));
	adv.code = MIP4_ADV_CODE_ROUTER;
	adv.lifetime = 1800;
	adv.num_addrs = 1;
	adv.routers[0].addr = ip4(198, 18, 3, 1);
	adv.routers[0].preference = 0;
	adv.seq = 5;
	adv.reg_lifetime = 600;
	adv.flags = MIP4_ADV_F | MIP4_ADV_T | MIP4_ADV_U;
	adv.num_coa = 1;
	adv.coa[0] = ip4(198, 18, 3, 1);
	adv.has_prefix_lengths = true;
	adv.prefix_len[0] = 24;
	return adv;
}

static void test_adv_known_encoding(void)
{
	/* RFC 5944 Appendix G.1 layout, filled in by hand; checksum computed independently. */
	static const uint8_t expect[32] = {
		9, 0, 0x0d, 0xe6,             /* Type 9, Code 0, Checksum */
		1, 2, 0x07, 0x08,             /* Num Addrs 1, Entry Size 2, Lifetime 1800 */
		198, 18, 3, 1, 0, 0, 0, 0,    /* Router Address[1], Preference 0 */
		16, 10, 0x00, 0x05,           /* Mobility Agent Adv., Length 6+4, Sequence 5 */
		0x02, 0x58, 0x11, 0x80,       /* Registration Lifetime 600, F|T|U */
		198, 18, 3, 1,                /* Care-of Address[1] */
		19, 1, 24,                    /* Prefix-Lengths: /24 */
		0,                            /* One-byte Padding: 31 bytes made even (§2.1.3) */
	};
	struct mip4_agent_adv adv = sample_adv(), got;
	uint8_t buf[64];
	struct writer w;

	CHECK_EQ_U64(mip4_adv_encoded_len(&adv), sizeof(expect));
	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(mip4_adv_encode(&w, &adv), sizeof(expect));
	CHECK_MEM(buf, expect, sizeof(expect));
	CHECK_EQ_U64(mip4_inet_checksum(buf, sizeof(expect)), 0);

	CHECK(mip4_adv_parse(expect, sizeof(expect), &got) == 0);
	CHECK_EQ_U64(got.code, 0);
	CHECK_EQ_U64(got.lifetime, 1800);
	CHECK_EQ_U64(got.num_addrs, 1);
	CHECK(got.routers[0].addr.s_addr == adv.routers[0].addr.s_addr);
	CHECK_EQ_U64(got.seq, 5);
	CHECK_EQ_U64(got.reg_lifetime, 600);
	CHECK_EQ_U64(got.flags, MIP4_ADV_F | MIP4_ADV_T | MIP4_ADV_U);
	CHECK_EQ_U64(got.num_coa, 1);
	CHECK(got.coa[0].s_addr == adv.coa[0].s_addr);
	CHECK(got.has_prefix_lengths);
	CHECK_EQ_U64(got.prefix_len[0], 24);
	CHECK_EQ_U64(got.skipped, 0);
	/* Without the checksum fix-up a single changed byte is caught (RFC 1256 §5.2). */
	uint8_t bad[32];
	memcpy(bad, expect, sizeof(bad));
	bad[21] ^= 0x01;
	CHECK(mip4_adv_parse(bad, sizeof(bad), &got) == -EBADMSG);
	memcpy(bad, expect, sizeof(bad));
	bad[2] ^= 0x80;
	CHECK(mip4_adv_parse(bad, sizeof(bad), &got) == -EBADMSG);
}

static void test_adv_round_trips(void)
{
	struct mip4_agent_adv adv, got;
	uint8_t buf[4096], buf2[4096];
	struct writer w;
	int n;

	/* A home agent with no router addresses and no care-of address (§2.1, §2.1.1). */
	memset(&adv, 0, sizeof(adv));
	adv.code = MIP4_ADV_CODE_NO_COMMON;
	adv.lifetime = 9000;
	adv.flags = MIP4_ADV_H;
	adv.seq = 0xffff;
	adv.reg_lifetime = MIP4_ADV_LIFETIME_INFINITE;
	writer_init(&w, buf, sizeof(buf));
	n = mip4_adv_encode(&w, &adv);
	CHECK_EQ_U64(n, 16);
	CHECK(mip4_adv_parse(buf, (size_t)n, &got) == 0);
	CHECK_EQ_U64(got.code, 16);
	CHECK_EQ_U64(got.num_addrs, 0);
	CHECK_EQ_U64(got.num_coa, 0);
	CHECK_EQ_U64(got.flags, MIP4_ADV_H);
	CHECK(!got.has_prefix_lengths);

	/* The largest: 255 routers, 62 care-of addresses, prefix lengths. */
	memset(&adv, 0, sizeof(adv));
	adv.num_addrs = 255;
	for (int i = 0; i < 255; i++) {
		adv.routers[i].addr = ip4(198, 18, 4, (uint8_t)i);
		adv.routers[i].preference = -i;
		adv.prefix_len[i] = (uint8_t)(i % 33);
	}
	adv.has_prefix_lengths = true;
	adv.flags = MIP4_ADV_KNOWN;
	adv.num_coa = MIP4_ADV_MAX_COA;
	for (int i = 0; i < MIP4_ADV_MAX_COA; i++)
		adv.coa[i] = ip4(198, 19, 0, (uint8_t)i);
	writer_init(&w, buf, sizeof(buf));
	n = mip4_adv_encode(&w, &adv);
	/* 8 + 255*8 + 2+6+62*4 + 2+255 = 2561 -> odd -> 2562 */
	CHECK_EQ_U64(n, 2562);
	CHECK(mip4_adv_parse(buf, (size_t)n, &got) == 0);
	CHECK_EQ_U64(got.routers[200].preference, (uint64_t)(int64_t)-200);
	CHECK(got.routers[254].addr.s_addr == adv.routers[254].addr.s_addr);
	CHECK_EQ_U64(got.num_coa, 62);
	CHECK(got.coa[61].s_addr == adv.coa[61].s_addr);
	CHECK_EQ_U64(got.prefix_len[32], 32);
	writer_init(&w, buf2, sizeof(buf2));
	CHECK_EQ_U64(mip4_adv_encode(&w, &got), n);
	CHECK_MEM(buf2, buf, (size_t)n);

	/* Too small a buffer: -ENOSPC, nothing written. */
	writer_init(&w, buf, 100);
	CHECK(mip4_adv_encode(&w, &adv) == -ENOSPC);
	CHECK_EQ_U64(writer_len(&w), 0);
}

/* A message: the sample's first 8 + 8 bytes, then ext bytes; checksum fixed up. */
static size_t with_exts(uint8_t *buf, uint8_t num_addrs, const uint8_t *ext, size_t n)
{
	static const uint8_t head[16] = { 9, 0, 0, 0, 1, 2, 0x07, 0x08, 198, 18, 3, 1, 0, 0, 0, 0 };

	memcpy(buf, head, sizeof(head));
	buf[4] = num_addrs;
	if (n > 0)
		memcpy(buf + 16, ext, n);
	fix_checksum(buf, 16 + n);
	return 16 + n;
}

static int parse_exts(const uint8_t *ext, size_t n, struct mip4_agent_adv *out)
{
	uint8_t buf[512];

	return mip4_adv_parse(buf, with_exts(buf, 1, ext, n), out);
}

static void test_adv_malformed(void)
{
	struct mip4_agent_adv got;
	uint8_t buf[512];
	size_t n;
	static const uint8_t maa[] = { 16, 6, 0, 1, 0, 60, 0x20, 0x00 };        /* H */
	static const uint8_t maa7[] = { 16, 7, 0, 1, 0, 60, 0x20, 0x00, 0 };
	static const uint8_t maa4[] = { 16, 4, 0, 1, 0, 60 };
	static const uint8_t maa_past[] = { 16, 10, 0, 1, 0, 60, 0x20, 0x00 };
	static const uint8_t maa_res[] = { 16, 6, 0, 1, 0, 60, 0x22, 0x1f };    /* H|r|reserved */
	static const uint8_t pl2[] = { 16, 6, 0, 1, 0, 60, 0x20, 0x00, 19, 2, 24, 24 };
	static const uint8_t pl33[] = { 16, 6, 0, 1, 0, 60, 0x20, 0x00, 19, 1, 33 };
	static const uint8_t pl_first[] = { 19, 1, 16, 16, 6, 0, 1, 0, 60, 0x20, 0x00 };
	static const uint8_t unk20[] = { 16, 6, 0, 1, 0, 60, 0x20, 0x00, 20, 0 };
	static const uint8_t unk24[] = { 24, 2, 1, 2, 16, 6, 0, 1, 0, 60, 0x20, 0x00 };
	static const uint8_t skip[] = { 0, 200, 2, 1, 2, 16, 6, 0, 1, 0, 60, 0x20, 0x00, 0 };
	static const uint8_t no_maa[] = { 19, 1, 24 };
	static const uint8_t two_maa[] = { 16, 6, 0, 1, 0, 60, 0x20, 0x00,
					   16, 6, 0, 1, 0, 60, 0x20, 0x00 };
	static const uint8_t two_pl[] = { 16, 6, 0, 1, 0, 60, 0x20, 0x00, 19, 1, 24, 19, 1, 24 };
	static const uint8_t no_fh[] = { 16, 6, 0, 1, 0, 60, 0x00, 0x00 };
	static const uint8_t b_no_f[] = { 16, 6, 0, 1, 0, 60, 0x60, 0x00 };     /* B|H */
	static const uint8_t r_no_f[] = { 16, 6, 0, 1, 0, 60, 0xa0, 0x00 };     /* R|H */
	static const uint8_t f_no_coa[] = { 16, 6, 0, 1, 0, 60, 0x10, 0x00 };   /* F */

	CHECK(parse_exts(maa, sizeof(maa), &got) == 0);
	CHECK_EQ_U64(got.seq, 1);
	CHECK_EQ_U64(got.reg_lifetime, 60);
	/* §2.1.1: Length is 6 + 4N. */
	CHECK(parse_exts(maa7, sizeof(maa7), &got) == -EBADMSG);
	CHECK(parse_exts(maa4, sizeof(maa4), &got) == -EBADMSG);
	CHECK(parse_exts(maa_past, sizeof(maa_past), &got) == -EBADMSG);
	/* 'r' and reserved bits are ignored on reception. */
	CHECK(parse_exts(maa_res, sizeof(maa_res), &got) == 0);
	CHECK_EQ_U64(got.flags, MIP4_ADV_H);
	/* §2.1.2: Length = Num Addrs, each at most 32. */
	CHECK(parse_exts(pl2, sizeof(pl2), &got) == -EBADMSG);
	CHECK(parse_exts(pl33, sizeof(pl33), &got) == -EBADMSG);
	CHECK(parse_exts(pl_first, sizeof(pl_first), &got) == 0);
	CHECK(got.has_prefix_lengths);
	CHECK_EQ_U64(got.prefix_len[0], 16);
	/* §1.8: unknown below 128 -> refuse the message; 128 and up -> skip. */
	CHECK(parse_exts(unk20, sizeof(unk20), &got) == -EOPNOTSUPP);
	CHECK(parse_exts(unk24, sizeof(unk24), &got) == -EOPNOTSUPP);
	CHECK(parse_exts(skip, sizeof(skip), &got) == 0);
	CHECK_EQ_U64(got.skipped, 1);
	/* Without the Mobility Agent Advertisement it is just a router. */
	CHECK(parse_exts(no_maa, sizeof(no_maa), &got) == -ENOMSG);
	CHECK(parse_exts(NULL, 0, &got) == -ENOMSG);
	CHECK(parse_exts(two_maa, sizeof(two_maa), &got) == -EPROTO);
	CHECK(parse_exts(two_pl, sizeof(two_pl), &got) == -EPROTO);
	/* §2.1.1 flag rules. */
	CHECK(parse_exts(no_fh, sizeof(no_fh), &got) == -EPROTO);
	CHECK(parse_exts(b_no_f, sizeof(b_no_f), &got) == -EPROTO);
	CHECK(parse_exts(r_no_f, sizeof(r_no_f), &got) == -EPROTO);
	CHECK(parse_exts(f_no_coa, sizeof(f_no_coa), &got) == -EPROTO);

	/* ICMP part: Code (RFC 5944 §2.1: 0 or 16), Addr Entry Size, router entries. */
	n = with_exts(buf, 1, maa, sizeof(maa));
	buf[1] = 1;
	fix_checksum(buf, n);
	CHECK(mip4_adv_parse(buf, n, &got) == -EBADMSG);
	n = with_exts(buf, 1, maa, sizeof(maa));
	buf[5] = 1;
	fix_checksum(buf, n);
	CHECK(mip4_adv_parse(buf, n, &got) == -EBADMSG);
	/* Num Addrs 3 but room for fewer entries. */
	n = with_exts(buf, 3, maa, sizeof(maa));
	CHECK(mip4_adv_parse(buf, n, &got) == -EBADMSG);
	/* Entry size 3: the extra word is skipped (RFC 1256 §5.2). */
	static const uint8_t entry3[] = { 0, 0, 0, 9, 16, 6, 0, 1, 0, 60, 0x20, 0x00 };
	n = with_exts(buf, 1, entry3, sizeof(entry3));
	buf[5] = 3;
	fix_checksum(buf, n);
	CHECK(mip4_adv_parse(buf, n, &got) == 0);
	CHECK_EQ_U64(got.seq, 1);
	/* Not an advertisement at all. */
	n = with_exts(buf, 1, maa, sizeof(maa));
	buf[0] = 8;
	CHECK(mip4_adv_parse(buf, n, &got) == -ENOMSG);
	CHECK(mip4_adv_parse(buf, 0, &got) == -EBADMSG);

	/* Every proper prefix of a valid advertisement is refused, output untouched. Except one:
	 * dropping the final One-byte Padding (a zero byte) keeps the checksum valid, since
	 * RFC 1071 pads an odd length with zero, and leaves a valid advertisement. */
	struct mip4_agent_adv adv = sample_adv(), sentinel;
	struct writer w;
	int len, fails = 0, touched = 0;
	writer_init(&w, buf, sizeof(buf));
	len = mip4_adv_encode(&w, &adv);
	memset(&sentinel, 0x5a, sizeof(sentinel));
	for (int i = 0; i < len - 1; i++) {
		got = sentinel;
		CHECK_LOOP(mip4_adv_parse(buf, (size_t)i, &got) < 0, fails);
		CHECK_LOOP(memcmp(&got, &sentinel, sizeof(got)) == 0, touched);
	}
	CHECK_EQ_U64(fails, 0);
	CHECK_EQ_U64(touched, 0);
	CHECK(mip4_adv_parse(buf, (size_t)len - 1, &got) == 0);
	CHECK_EQ_U64(got.prefix_len[0], 24);
}

static void test_adv_encoder_errors(void)
{
	struct mip4_agent_adv adv = sample_adv();
	uint8_t buf[256];
	struct writer w;

	writer_init(&w, buf, sizeof(buf));
	adv.code = 1;
	CHECK(mip4_adv_encode(&w, &adv) == -EINVAL);
	adv = sample_adv();
	adv.flags |= MIP4_ADV_r;
	CHECK(mip4_adv_encode(&w, &adv) == -EINVAL);
	adv = sample_adv();
	adv.num_coa = 0;
	CHECK(mip4_adv_encode(&w, &adv) == -EINVAL);
	adv = sample_adv();
	adv.num_coa = MIP4_ADV_MAX_COA + 1;
	CHECK(mip4_adv_encode(&w, &adv) == -EINVAL);
	adv = sample_adv();
	adv.prefix_len[0] = 33;
	CHECK(mip4_adv_encode(&w, &adv) == -EINVAL);
	adv = sample_adv();
	adv.flags = MIP4_ADV_B | MIP4_ADV_H;
	CHECK(mip4_adv_encode(&w, &adv) == -EINVAL);
	CHECK_EQ_U64(writer_len(&w), 0);
}

static void test_solicitation(void)
{
	static const uint8_t expect[8] = { 10, 0, 0xf5, 0xff, 0, 0, 0, 0 };
	uint8_t buf[16];
	struct writer w;

	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(mip4_sol_encode(&w), 8);
	CHECK_MEM(buf, expect, 8);
	CHECK(mip4_sol_parse(buf, 8) == 0);
	/* RFC 1256 §4.2: Reserved and trailing bytes are ignored, but checksummed. */
	static uint8_t longer[12] = { 10, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	fix_checksum(longer, sizeof(longer));
	CHECK(mip4_sol_parse(longer, sizeof(longer)) == 0);
	longer[11] ^= 1;
	CHECK(mip4_sol_parse(longer, sizeof(longer)) == -EBADMSG);
	uint8_t bad[8];
	memcpy(bad, expect, 8);
	bad[1] = 1;
	fix_checksum(bad, 8);
	CHECK(mip4_sol_parse(bad, 8) == -EBADMSG);
	CHECK(mip4_sol_parse(expect, 7) == -EBADMSG);
	CHECK(mip4_sol_parse(expect, 0) == -EBADMSG);
	memcpy(bad, expect, 8);
	bad[0] = 9;
	CHECK(mip4_sol_parse(bad, 8) == -ENOMSG);
	writer_init(&w, buf, 7);
	CHECK(mip4_sol_encode(&w) == -ENOSPC);
	CHECK_EQ_U64(writer_len(&w), 0);
}

static void test_sequence_numbers(void)
{
	/* §2.3.2 */
	CHECK_EQ_U64(mip4_adv_seq_next(0), 1);
	CHECK_EQ_U64(mip4_adv_seq_next(0xfffe), 0xffff);
	CHECK_EQ_U64(mip4_adv_seq_next(0xffff), 256);
	/* §2.4.4 */
	CHECK(mip4_adv_seq_rebooted(1000, 0));
	CHECK(mip4_adv_seq_rebooted(300, 255));
	CHECK(!mip4_adv_seq_rebooted(0xffff, 256));
	CHECK(!mip4_adv_seq_rebooted(5, 6));
	CHECK(!mip4_adv_seq_rebooted(5, 5));
}

/* An IPv4 packet around msg[0..n) (RFC 791 header, checksum filled), in frame; pad bytes of
 * zeros after it (a link layer's padding). Returns the frame length. */
static size_t ip_frame(uint8_t *frame, struct in_addr src, uint8_t proto, uint16_t frag,
		       const uint8_t *msg, size_t n, size_t pad)
{
	uint16_t c, total = (uint16_t)(20 + n);

	memset(frame, 0, 20 + n + pad);
	frame[0] = 0x45;
	frame[2] = (uint8_t)(total >> 8);
	frame[3] = (uint8_t)total;
	frame[6] = (uint8_t)(frag >> 8);
	frame[7] = (uint8_t)frag;
	frame[8] = 1;
	frame[9] = proto;
	memcpy(frame + 12, &src.s_addr, 4);
	frame[16] = 224, frame[19] = 1;
	c = mip4_inet_checksum(frame, 20);
	frame[10] = (uint8_t)(c >> 8);
	frame[11] = (uint8_t)c;
	memcpy(frame + 20, msg, n);
	return 20 + n + pad;
}

/* mip4_adv_frame_parse(): what agent discovery hears on a packet socket (RFC 791 + §2.1). */
static void test_adv_frame(void)
{
	struct mip4_agent_adv adv = sample_adv(), got;
	struct in_addr fa = ip4(198, 18, 13, 1), src = { 0 };
	uint8_t msg[256], frame[512];
	struct writer w;
	size_t n, len;
	int m;

	writer_init(&w, msg, sizeof(msg));
	m = mip4_adv_encode(&w, &adv);
	CHECK(m > 0);
	n = (size_t)m;
	len = ip_frame(frame, fa, 1, 0, msg, n, 0);
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == 0);
	CHECK(src.s_addr == fa.s_addr && got.seq == 5 && got.coa[0].s_addr == adv.coa[0].s_addr);
	/* Link-layer padding after the packet: the IP Total Length says where it ends. */
	len = ip_frame(frame, fa, 1, 0, msg, n, 18);
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == 0);
	/* DF set is fine; MF or an offset is a fragment: refused. */
	len = ip_frame(frame, fa, 1, 0x4000, msg, n, 0);
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == 0);
	len = ip_frame(frame, fa, 1, 0x2000, msg, n, 0);
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == -EBADMSG);
	len = ip_frame(frame, fa, 1, 0x0001, msg, n, 0);
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == -EBADMSG);
	/* Not ICMP; a source that is no unicast address; a bad header checksum. */
	len = ip_frame(frame, fa, 17, 0, msg, n, 0);
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == -EBADMSG);
	len = ip_frame(frame, ip4(0, 0, 0, 0), 1, 0, msg, n, 0);
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == -EBADMSG);
	len = ip_frame(frame, ip4(224, 0, 0, 5), 1, 0, msg, n, 0);
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == -EBADMSG);
	len = ip_frame(frame, ip4(127, 0, 0, 1), 1, 0, msg, n, 0);
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == -EBADMSG);
	len = ip_frame(frame, fa, 1, 0, msg, n, 0);
	frame[10] ^= 1;
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == -EBADMSG);
	/* Total Length beyond the frame (truncated), below the header, version 6, IHL 4. */
	len = ip_frame(frame, fa, 1, 0, msg, n, 0);
	CHECK(mip4_adv_frame_parse(frame, len - 1, &src, &got) == -EBADMSG);
	frame[0] = 0x65;
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == -EBADMSG);
	frame[0] = 0x44;
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == -EBADMSG);
	CHECK(mip4_adv_frame_parse(frame, 10, &src, &got) == -EBADMSG);
	/* A plain router (no mobility extension) inside a good packet: -ENOMSG, as the codec;
	 * outputs untouched on every failure. */
	static const uint8_t plain_ra[] = { 9, 0, 0xf6, 0xfd, 0, 2, 0, 0 };
	len = ip_frame(frame, fa, 1, 0, plain_ra, sizeof(plain_ra), 0);
	src.s_addr = 0x01020304;
	memset(&got, 0x5a, sizeof(got));
	CHECK(mip4_adv_frame_parse(frame, len, &src, &got) == -ENOMSG);
	CHECK(src.s_addr == 0x01020304 && got.seq == 0x5a5a);
	CHECK(mip4_adv_frame_parse(NULL, len, &src, &got) == -EBADMSG);
}

int main(void)
{
	test_checksum();
	test_adv_known_encoding();
	test_adv_round_trips();
	test_adv_malformed();
	test_adv_encoder_errors();
	test_solicitation();
	test_sequence_numbers();
	test_adv_frame();
	return tap_done();
}
