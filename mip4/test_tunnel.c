/* Unit tests for mip4/tunnel.{h,c}: RFC 2003 IP-in-IP, RFC 3519 §3.3 MIP Tunnel Data and
 * §4.9 keepalives. Known encodings were produced independently with scapy. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mip4/agent.h"
#include "mip4/tunnel.h"
#include "tests/unit/hexvec.h"
#include "tests/unit/tap.h"

static struct in_addr A(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a;
}

/* Recompute the IPv4 header checksum at buf[off..off+hlen). */
static void fix_csum(uint8_t *buf, size_t off, size_t hlen)
{
	uint16_t c;

	buf[off + 10] = buf[off + 11] = 0;
	c = mip4_inet_checksum(buf + off, hlen);
	buf[off + 10] = (uint8_t)(c >> 8);
	buf[off + 11] = (uint8_t)c;
}

/* UDP 198.18.1.100:1000 -> 198.18.50.7:2000 "hello", TOS 0xb8, DF, TTL 63, ID 0x1234 */
static const char INNER[] =
	"45b80021123440003f116950c6120164c612320703e807d0000df0b968656c6c6f";
/* ... in IP-in-IP from 198.18.0.1 to 198.18.11.10, ID 7 */
static const char OUTER[] =
	"45b80035000740004004a2d6c6120001c6120b0a"
	"45b80021123440003f116950c6120164c612320703e807d0000df0b968656c6c6f";
/* Echo request 198.18.1.100 -> 198.18.0.1, IP ID 0x0102, echo id 0x4d4d seq 5 */
static const char KA_REQ[] = "4500001c010200004001ec55c6120164c61200010800aaad4d4d0005";
/* Same with data "abc", and the answer 198.18.0.1 -> 198.18.1.100 with IP ID 0x0203 */
static const char KA_REQ_DATA[] =
	"4500001f010200004001ec52c6120164c61200010800e64a4d4d0005616263";
static const char KA_REP_DATA[] =
	"4500001f020300004001eb51c6120001c61201640000ee4a4d4d0005616263";

static uint8_t inner[64], outer[128];
static size_t inner_len, outer_len;

static void test_ipv4_parse(void)
{
	struct mip4_ipv4_info in;
	uint8_t b[64];

	CHECK_EQ_U64(mip4_ipv4_parse(inner, inner_len, &in), 0);
	CHECK_EQ_U64(in.src.s_addr, A("198.18.1.100").s_addr);
	CHECK_EQ_U64(in.dst.s_addr, A("198.18.50.7").s_addr);
	CHECK_EQ_U64(in.proto, 17);
	CHECK_EQ_U64(in.ttl, 63);
	CHECK_EQ_U64(in.tos, 0xb8);
	CHECK(in.df);
	CHECK(!in.fragment);
	CHECK_EQ_U64(in.off, 0);
	CHECK_EQ_U64(in.len, 33);
	CHECK_EQ_U64(in.hdr_len, 20);
	/* exact length: a byte more or less is refused */
	memcpy(b, inner, inner_len);
	b[inner_len] = 0;
	CHECK_EQ_U64(mip4_ipv4_parse(b, inner_len + 1, &in), (uint64_t)-EBADMSG);
	CHECK_EQ_U64(mip4_ipv4_parse(b, inner_len - 1, &in), (uint64_t)-EBADMSG);
	CHECK_EQ_U64(mip4_ipv4_parse(NULL, 0, &in), (uint64_t)-EBADMSG);
	CHECK_EQ_U64(mip4_ipv4_parse(b, inner_len, NULL), (uint64_t)-EINVAL);
	/* a fragment is a valid packet: reported, not refused */
	b[6] |= 0x20;
	fix_csum(b, 0, 20);
	CHECK_EQ_U64(mip4_ipv4_parse(b, inner_len, &in), 0);
	CHECK(in.fragment);
}

static void test_ipip_encap(void)
{
	uint8_t buf[128];
	struct writer w;
	struct mip4_ipv4_info in;
	uint8_t b[64];

	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(mip4_ipip_encap(&w, A("198.18.0.1"), A("198.18.11.10"), 7, inner, inner_len),
		     outer_len);
	CHECK_EQ_U64(writer_len(&w), outer_len);
	CHECK_MEM(buf, outer, outer_len);

	/* header only, for an iovec */
	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(mip4_ipip_encap_hdr(&w, A("198.18.0.1"), A("198.18.11.10"), 7, inner,
					 inner_len), 20);
	CHECK_EQ_U64(writer_len(&w), 20);
	CHECK_MEM(buf, outer, 20);

	/* RFC 2003 §3.1: DF clear and TOS 0 in the inner header are copied too */
	memcpy(b, inner, inner_len);
	b[1] = 0;
	b[6] = 0;
	fix_csum(b, 0, 20);
	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(mip4_ipip_encap(&w, A("198.18.0.1"), A("198.18.11.10"), 0xffff, b,
				     inner_len), outer_len);
	CHECK_EQ_U64(mip4_ipv4_parse(buf, outer_len, &in), 0);
	CHECK(!in.df);
	CHECK_EQ_U64(in.tos, 0);
	CHECK_EQ_U64(in.ttl, MIP4_IPIP_TTL);
	CHECK_EQ_U64(in.proto, 4);
	CHECK_EQ_U64(buf[4] << 8 | buf[5], 0xffff);

	/* TTL 0: MUST NOT encapsulate */
	memcpy(b, inner, inner_len);
	b[8] = 0;
	fix_csum(b, 0, 20);
	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(mip4_ipip_encap(&w, A("1.2.3.4"), A("5.6.7.8"), 1, b, inner_len),
		     (uint64_t)-ETIME);
	/* not IPv4, or not exactly inner_len bytes */
	CHECK_EQ_U64(mip4_ipip_encap(&w, A("1.2.3.4"), A("5.6.7.8"), 1, inner, inner_len - 1),
		     (uint64_t)-EINVAL);
	memcpy(b, inner, inner_len);
	b[0] = 0x65;
	CHECK_EQ_U64(mip4_ipip_encap(&w, A("1.2.3.4"), A("5.6.7.8"), 1, b, inner_len),
		     (uint64_t)-EINVAL);
	CHECK_EQ_U64(mip4_ipip_encap(&w, A("1.2.3.4"), A("5.6.7.8"), 1, NULL, 0),
		     (uint64_t)-EINVAL);
	CHECK_EQ_U64(mip4_ipip_encap(NULL, A("1.2.3.4"), A("5.6.7.8"), 1, inner, inner_len),
		     (uint64_t)-EINVAL);
	CHECK_EQ_U64(writer_len(&w), 0);
	/* writer too small, at every size */
	{
		int fails = 0;

		for (size_t cap = 0; cap < outer_len; cap++) {
			writer_init(&w, buf, cap);
			CHECK_LOOP(mip4_ipip_encap(&w, A("198.18.0.1"), A("198.18.11.10"), 7,
						   inner, inner_len) == -ENOSPC, fails);
		}
		for (size_t cap = 0; cap < 20; cap++) {
			writer_init(&w, buf, cap);
			CHECK_LOOP(mip4_ipip_encap_hdr(&w, A("198.18.0.1"), A("198.18.11.10"), 7,
						       inner, inner_len) == -ENOSPC, fails);
		}
		CHECK_EQ_U64(fails, 0);
	}
}

static void test_ipip_decap(void)
{
	struct mip4_ipip_info info, untouched;
	uint8_t b[160];
	int fails;

	CHECK_EQ_U64(mip4_ipip_decap(outer, outer_len, &info), 0);
	CHECK_EQ_U64(info.outer_src.s_addr, A("198.18.0.1").s_addr);
	CHECK_EQ_U64(info.outer_dst.s_addr, A("198.18.11.10").s_addr);
	CHECK_EQ_U64(info.inner.src.s_addr, A("198.18.1.100").s_addr);
	CHECK_EQ_U64(info.inner.dst.s_addr, A("198.18.50.7").s_addr);
	CHECK_EQ_U64(info.inner.off, 20);
	CHECK_EQ_U64(info.inner.len, inner_len);
	CHECK_EQ_U64(info.inner.proto, 17);
	CHECK_MEM(outer + info.inner.off, inner, inner_len);

	/* Round trip with random payloads and sizes */
	fails = 0;
	srand(42);
	for (int i = 0; i < 200; i++) {
		uint8_t pkt[600], enc[700];
		size_t n = 20 + (size_t)(rand() % 500);
		struct writer w;

		for (size_t k = 0; k < n; k++)
			pkt[k] = (uint8_t)rand();
		pkt[0] = 0x45;
		pkt[2] = (uint8_t)(n >> 8);
		pkt[3] = (uint8_t)n;
		pkt[6] &= 0x40;   /* no fragment */
		pkt[7] = 0;
		if (pkt[8] == 0)
			pkt[8] = 1;
		fix_csum(pkt, 0, 20);
		writer_init(&w, enc, sizeof(enc));
		CHECK_LOOP(mip4_ipip_encap(&w, A("198.18.0.1"), A("198.18.11.10"), (uint16_t)i,
					   pkt, n) == (int)(n + 20), fails);
		CHECK_LOOP(mip4_ipip_decap(enc, n + 20, &info) == 0, fails);
		CHECK_LOOP(info.inner.off == 20 && info.inner.len == n, fails);
		CHECK_LOOP(memcmp(enc + 20, pkt, n) == 0, fails);
		CHECK_LOOP(info.outer_src.s_addr == A("198.18.0.1").s_addr, fails);
	}
	CHECK_EQ_U64(fails, 0);

	/* Every truncation is refused, and the output is untouched */
	fails = 0;
	memset(&untouched, 0xa5, sizeof(untouched));
	for (size_t n = 0; n < outer_len; n++) {
		struct mip4_ipip_info o = untouched;

		CHECK_LOOP(mip4_ipip_decap(outer, n, &o) == -EBADMSG, fails);
		CHECK_LOOP(memcmp(&o, &untouched, sizeof(o)) == 0, fails);
	}
	CHECK_EQ_U64(fails, 0);

	/* Every single-bit flip in either header is caught (version, IHL, lengths, protocol
	 * or a checksum); flips in the inner payload pass through */
	fails = 0;
	for (size_t i = 0; i < outer_len * 8; i++) {
		int rc;

		memcpy(b, outer, outer_len);
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
		rc = mip4_ipip_decap(b, outer_len, &info);
		if (i / 8 < 40)
			CHECK_LOOP(rc < 0, fails);
		else
			CHECK_LOOP(rc == 0, fails);
	}
	CHECK_EQ_U64(fails, 0);

	/* Link-layer padding after the datagram is ignored */
	memcpy(b, outer, outer_len);
	memset(b + outer_len, 0, 6);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len + 6, &info), 0);
	CHECK_EQ_U64(info.inner.len, inner_len);

	/* Outer total length lies: larger than the buffer, smaller than the inner packet */
	memcpy(b, outer, outer_len);
	b[3] = (uint8_t)(outer_len + 1);
	fix_csum(b, 0, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-EBADMSG);
	b[3] = (uint8_t)(outer_len - 1);
	fix_csum(b, 0, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-EBADMSG);
	b[3] = 19;
	fix_csum(b, 0, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-EBADMSG);
	b[3] = 20;   /* an empty IP-in-IP packet */
	fix_csum(b, 0, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-EBADMSG);
	/* Inner total length lies */
	memcpy(b, outer, outer_len);
	b[23] = (uint8_t)(inner_len - 1);
	fix_csum(b, 20, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-EBADMSG);
	b[23] = (uint8_t)(inner_len + 1);
	fix_csum(b, 20, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-EBADMSG);

	/* Bad IHL (with a correct checksum): 4 words, more than the buffer, more than the
	 * total length */
	memcpy(b, outer, outer_len);
	b[0] = 0x44;
	fix_csum(b, 0, 16);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-EBADMSG);
	memcpy(b, outer, outer_len);
	b[0] = 0x4f;
	CHECK_EQ_U64(mip4_ipip_decap(b, 40, &info), (uint64_t)-EBADMSG);
	memcpy(b, outer, outer_len);
	b[20] = 0x46;   /* inner IHL 6 (the UDP header read as options): still consistent */
	fix_csum(b, 20, 24);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), 0);
	CHECK_EQ_U64(info.inner.hdr_len, 24);
	b[20] = 0x4f;   /* 60 bytes > inner total length 33 */
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-EBADMSG);

	/* An outer header with options (IHL 6: four NOPs) */
	b[0] = 0x46;
	memcpy(b + 1, outer + 1, 19);
	memset(b + 20, 1, 4);
	memcpy(b + 24, inner, inner_len);
	b[3] = (uint8_t)(24 + inner_len);
	fix_csum(b, 0, 24);
	CHECK_EQ_U64(mip4_ipip_decap(b, 24 + inner_len, &info), 0);
	CHECK_EQ_U64(info.inner.off, 24);
	CHECK_MEM(b + info.inner.off, inner, inner_len);

	/* Version, protocol, fragments, TTL */
	memcpy(b, outer, outer_len);
	b[0] = 0x65;
	fix_csum(b, 0, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-EBADMSG);
	memcpy(b, outer, outer_len);
	b[9] = 17;
	fix_csum(b, 0, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-ENOMSG);
	memcpy(b, outer, outer_len);
	b[6] = 0x20;   /* MF */
	fix_csum(b, 0, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-EOPNOTSUPP);
	memcpy(b, outer, outer_len);
	b[7] = 0x01;   /* offset 8 */
	fix_csum(b, 0, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-EOPNOTSUPP);
	memcpy(b, outer, outer_len);
	b[20 + 8] = 0;   /* inner TTL 0: MUST discard (RFC 2003 §3.1) */
	fix_csum(b, 20, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-ETIME);
	memcpy(b, outer, outer_len);
	b[20] = 0x65;    /* inner IPv6-ish */
	fix_csum(b, 20, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), (uint64_t)-EBADMSG);
	/* an inner fragment is fine: only the outer one needs reassembly */
	memcpy(b, outer, outer_len);
	b[26] = 0x20;
	fix_csum(b, 20, 20);
	CHECK_EQ_U64(mip4_ipip_decap(b, outer_len, &info), 0);
	CHECK(info.inner.fragment);

	CHECK_EQ_U64(mip4_ipip_decap(outer, outer_len, NULL), (uint64_t)-EINVAL);
	CHECK_EQ_U64(mip4_ipip_decap(NULL, 10, &info), (uint64_t)-EINVAL);
}

static void test_udp_tunnel(void)
{
	uint8_t buf[128], b[128];
	struct writer w;
	struct mip4_ipv4_info in, untouched;
	int fails = 0;

	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(mip4_udp_tunnel_encap(&w, inner, inner_len), inner_len + 4);
	CHECK_MEM(buf, "\x04\x04\x00\x00", 4);
	CHECK_MEM(buf + 4, inner, inner_len);
	writer_init(&w, buf + 100, 4);
	CHECK_EQ_U64(mip4_udp_tunnel_encap_hdr(&w), 4);
	CHECK_MEM(buf + 100, "\x04\x04\x00\x00", 4);

	CHECK_EQ_U64(mip4_udp_tunnel_decap(buf, inner_len + 4, &in), 0);
	CHECK_EQ_U64(in.off, 4);
	CHECK_EQ_U64(in.len, inner_len);
	CHECK_EQ_U64(in.src.s_addr, A("198.18.1.100").s_addr);
	CHECK_EQ_U64(in.dst.s_addr, A("198.18.50.7").s_addr);

	for (size_t cap = 0; cap < inner_len + 4; cap++) {
		writer_init(&w, b, cap);
		CHECK_LOOP(mip4_udp_tunnel_encap(&w, inner, inner_len) == -ENOSPC, fails);
	}
	memset(&untouched, 0x5a, sizeof(untouched));
	for (size_t n = 0; n < inner_len + 4; n++) {
		struct mip4_ipv4_info o = untouched;
		int rc = mip4_udp_tunnel_decap(buf, n, &o);

		CHECK_LOOP(rc == -EBADMSG, fails);
		CHECK_LOOP(memcmp(&o, &untouched, sizeof(o)) == 0, fails);
	}
	CHECK_EQ_U64(fails, 0);

	/* RFC 3519 §3.3: Reserved is ignored on reception */
	memcpy(b, buf, inner_len + 4);
	b[2] = 0xff;
	b[3] = 0x01;
	CHECK_EQ_U64(mip4_udp_tunnel_decap(b, inner_len + 4, &in), 0);
	/* Next Header other than IPv4 (GRE 47, minimal encapsulation 55): dropped */
	b[1] = 47;
	CHECK_EQ_U64(mip4_udp_tunnel_decap(b, inner_len + 4, &in), (uint64_t)-EPROTONOSUPPORT);
	b[1] = 55;
	CHECK_EQ_U64(mip4_udp_tunnel_decap(b, inner_len + 4, &in), (uint64_t)-EPROTONOSUPPORT);
	/* Not tunnel data: a Registration Request (1) or Reply (3) */
	b[0] = 1;
	CHECK_EQ_U64(mip4_udp_tunnel_decap(b, inner_len + 4, &in), (uint64_t)-ENOMSG);
	b[0] = 3;
	CHECK_EQ_U64(mip4_udp_tunnel_decap(b, 1, &in), (uint64_t)-ENOMSG);
	/* A header and nothing else */
	CHECK_EQ_U64(mip4_udp_tunnel_decap(buf, 4, &in), (uint64_t)-EBADMSG);
	/* Trailing bytes after the inner packet */
	memcpy(b, buf, inner_len + 4);
	b[inner_len + 4] = 0;
	CHECK_EQ_U64(mip4_udp_tunnel_decap(b, inner_len + 5, &in), (uint64_t)-EBADMSG);
	/* Inner TTL 0 */
	memcpy(b, buf, inner_len + 4);
	b[4 + 8] = 0;
	fix_csum(b, 4, 20);
	CHECK_EQ_U64(mip4_udp_tunnel_decap(b, inner_len + 4, &in), (uint64_t)-ETIME);
	/* Inner checksum */
	memcpy(b, buf, inner_len + 4);
	b[4 + 10] ^= 1;
	CHECK_EQ_U64(mip4_udp_tunnel_decap(b, inner_len + 4, &in), (uint64_t)-EBADMSG);
	CHECK_EQ_U64(mip4_udp_tunnel_decap(buf, inner_len + 4, NULL), (uint64_t)-EINVAL);
	/* Encapsulating something that is not an IPv4 packet */
	writer_init(&w, b, sizeof(b));
	CHECK_EQ_U64(mip4_udp_tunnel_encap(&w, "\x60\x00", 2), (uint64_t)-EINVAL);
}

static void test_icmp_echo(void)
{
	uint8_t exp[64], buf[64];
	size_t n = hexvec(KA_REQ_DATA, exp, sizeof(exp));
	struct writer w;

	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(mip4_icmp_echo_build(&w, A("198.18.1.100"), A("198.18.0.1"), false, 0x0102,
					  0x4d4d, 5, "abc", 3), n);
	CHECK_MEM(buf, exp, n);
	n = hexvec(KA_REP_DATA, exp, sizeof(exp));
	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(mip4_icmp_echo_build(&w, A("198.18.0.1"), A("198.18.1.100"), true, 0x0203,
					  0x4d4d, 5, "abc", 3), n);
	CHECK_MEM(buf, exp, n);
	writer_init(&w, buf, 30);
	CHECK_EQ_U64(mip4_icmp_echo_build(&w, A("198.18.0.1"), A("198.18.1.100"), true, 1, 2, 3,
					  "abc", 3), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(mip4_icmp_echo_build(&w, A("198.18.0.1"), A("198.18.1.100"), true, 1, 2, 3,
					  NULL, 3), (uint64_t)-EINVAL);
}

static void test_keepalive(void)
{
	uint8_t exp[64], buf[64], b[64];
	size_t n;
	struct writer w;
	struct mip4_keepalive ka;
	struct mip4_ipv4_info in;
	const struct in_addr ha = A("198.18.0.1");
	int fails = 0;

	/* The MN's request: a whole UDP payload */
	memcpy(exp, "\x04\x04\x00\x00", 4);
	n = 4 + hexvec(KA_REQ, exp + 4, sizeof(exp) - 4);
	CHECK_EQ_U64(n, MIP4_KEEPALIVE_LEN);
	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(mip4_keepalive_request_encode(&w, A("198.18.1.100"), ha, 0x0102, 0x4d4d, 5),
		     MIP4_KEEPALIVE_LEN);
	CHECK_MEM(buf, exp, n);
	for (size_t cap = 0; cap < MIP4_KEEPALIVE_LEN; cap++) {
		writer_init(&w, b, cap);
		CHECK_LOOP(mip4_keepalive_request_encode(&w, A("198.18.1.100"), ha, 1, 2, 3) ==
			   -ENOSPC, fails);
	}
	CHECK_EQ_U64(fails, 0);

	/* The HA decapsulates it and classifies it */
	CHECK_EQ_U64(mip4_udp_tunnel_decap(buf, n, &in), 0);
	CHECK_EQ_U64(mip4_keepalive_classify(buf + in.off, in.len, ha, &ka),
		     MIP4_KEEPALIVE_REQUEST);
	CHECK_EQ_U64(ka.src.s_addr, A("198.18.1.100").s_addr);
	CHECK_EQ_U64(ka.dst.s_addr, ha.s_addr);
	CHECK_EQ_U64(ka.echo_id, 0x4d4d);
	CHECK_EQ_U64(ka.seq, 5);
	CHECK_EQ_U64(ka.data_len, 0);
	/* ...but for another home agent it is just data */
	CHECK_EQ_U64(mip4_keepalive_classify(buf + in.off, in.len, A("198.18.0.2"), &ka),
		     MIP4_KEEPALIVE_NONE);

	/* The HA's reply echoes id, seq and data */
	n = hexvec(KA_REQ_DATA, b, sizeof(b));
	memcpy(exp, "\x04\x04\x00\x00", 4);
	hexvec(KA_REP_DATA, exp + 4, sizeof(exp) - 4);
	writer_init(&w, buf, sizeof(buf));
	CHECK_EQ_U64(mip4_keepalive_reply_encode(&w, b, n, ha, 0x0203), n + 4);
	CHECK_MEM(buf, exp, n + 4);
	for (size_t cap = 0; cap < n + 4; cap++) {
		uint8_t small[64];

		writer_init(&w, small, cap);
		CHECK_LOOP(mip4_keepalive_reply_encode(&w, b, n, ha, 1) == -ENOSPC, fails);
	}
	CHECK_EQ_U64(fails, 0);

	/* The MN sees the reply */
	CHECK_EQ_U64(mip4_udp_tunnel_decap(buf, n + 4, &in), 0);
	CHECK_EQ_U64(mip4_keepalive_classify(buf + in.off, in.len, ha, &ka), MIP4_KEEPALIVE_REPLY);
	CHECK_EQ_U64(ka.echo_id, 0x4d4d);
	CHECK_EQ_U64(ka.seq, 5);
	CHECK_EQ_U64(ka.data_len, 3);
	CHECK_MEM(buf + in.off + ka.data_off, "abc", 3);
	CHECK_EQ_U64(mip4_keepalive_classify(buf + in.off, in.len, ha, NULL),
		     MIP4_KEEPALIVE_REPLY);
	/* A reply is not a request: no reply to it */
	writer_init(&w, b + 40, 20);
	CHECK_EQ_U64(mip4_keepalive_reply_encode(&w, buf + in.off, in.len, ha, 1),
		     (uint64_t)-EINVAL);

	/* Not keepalives: UDP data, ICMP of another type, an echo reply to the HA */
	CHECK_EQ_U64(mip4_keepalive_classify(inner, inner_len, A("198.18.50.7"), &ka),
		     MIP4_KEEPALIVE_NONE);
	n = hexvec(KA_REQ_DATA, b, sizeof(b));
	b[20] = 3;   /* destination unreachable */
	CHECK_EQ_U64(mip4_keepalive_classify(b, n, ha, &ka), MIP4_KEEPALIVE_NONE);
	n = hexvec(KA_REQ_DATA, b, sizeof(b));
	b[20] = 0;   /* echo reply *to* the HA (checksum fixed by hand: type 8 -> 0) */
	b[22] = 0xee;
	CHECK_EQ_U64(mip4_keepalive_classify(b, n, ha, &ka), MIP4_KEEPALIVE_NONE);
	/* Broken ones: bad ICMP checksum, code != 0, truncated ICMP */
	n = hexvec(KA_REQ_DATA, b, sizeof(b));
	b[n - 1] ^= 0x40;
	CHECK_EQ_U64(mip4_keepalive_classify(b, n, ha, &ka), (uint64_t)-EBADMSG);
	n = hexvec(KA_REQ_DATA, b, sizeof(b));
	b[21] = 1;
	CHECK_EQ_U64(mip4_keepalive_classify(b, n, ha, &ka), MIP4_KEEPALIVE_NONE);
	n = hexvec(KA_REQ, b, sizeof(b));
	b[3] = 24;   /* 4 bytes of ICMP */
	fix_csum(b, 0, 20);
	CHECK_EQ_U64(mip4_keepalive_classify(b, 24, ha, &ka), (uint64_t)-EBADMSG);
	n = hexvec(KA_REQ, b, sizeof(b));
	CHECK_EQ_U64(mip4_keepalive_classify(b, n - 1, ha, &ka), (uint64_t)-EBADMSG);
	n = hexvec(KA_REQ, b, sizeof(b));
	b[6] = 0x20;   /* a fragment of an echo is never a keepalive */
	fix_csum(b, 0, 20);
	CHECK_EQ_U64(mip4_keepalive_classify(b, n, ha, &ka), MIP4_KEEPALIVE_NONE);
	fails = 0;
	n = hexvec(KA_REQ_DATA, b, sizeof(b));
	for (size_t k = 0; k < n; k++)
		CHECK_LOOP(mip4_keepalive_classify(b, k, ha, &ka) == -EBADMSG, fails);
	CHECK_EQ_U64(fails, 0);
}

int main(void)
{
	inner_len = hexvec(INNER, inner, sizeof(inner));
	outer_len = hexvec(OUTER, outer, sizeof(outer));
	CHECK_EQ_U64(inner_len, 33);
	CHECK_EQ_U64(outer_len, 53);
	test_ipv4_parse();
	test_ipip_encap();
	test_ipip_decap();
	test_udp_tunnel();
	test_icmp_echo();
	test_keepalive();
	return tap_done();
}
