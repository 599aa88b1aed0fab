/* Fuzz target: tunnel codecs (mip4/tunnel.c): RFC 2003 IP-in-IP decapsulation, RFC 3519 §3.3
 * MIP Tunnel Data decapsulation, the IPv4 check and the §4.9 keepalive classifier.
 *
 * Every input goes through each decapsulator. Whatever is accepted must lie inside the
 * input, re-encapsulate to a packet that decapsulates to the same bytes, and a keepalive
 * request must produce a reply that classifies as a reply with the same identifier,
 * sequence and data. A failed call must leave its output untouched. Violations trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mip4/tunnel.h"

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static uint8_t buf[MIP4_IPV4_MAX + 64];

static void inner_ok(const uint8_t *data, size_t size, const struct mip4_ipv4_info *in)
{
	struct mip4_ipv4_info again;

	check(in->off <= size && in->len <= size - in->off);
	check(in->hdr_len >= 20 && in->hdr_len <= in->len);
	check(mip4_ipv4_parse(data + in->off, in->len, &again) == 0);
	check(again.src.s_addr == in->src.s_addr && again.dst.s_addr == in->dst.s_addr);
	check(again.len == in->len && again.hdr_len == in->hdr_len);
}

static void fuzz_ipip(const uint8_t *data, size_t size)
{
	struct mip4_ipip_info info, sentinel, back;
	struct writer w;
	int rc;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	info = sentinel;
	rc = mip4_ipip_decap(data, size, &info);
	if (rc < 0) {
		check(memcmp(&info, &sentinel, sizeof(info)) == 0);
		return;
	}
	check(rc == 0);
	inner_ok(data, size, &info.inner);
	check(info.inner.ttl > 0);
	writer_init(&w, buf, sizeof(buf));
	rc = mip4_ipip_encap(&w, info.outer_src, info.outer_dst, 1, data + info.inner.off,
			     info.inner.len);
	check(rc == (int)(info.inner.len + MIP4_IPIP_OVERHEAD));
	check(mip4_ipip_decap(buf, (size_t)rc, &back) == 0);
	check(back.inner.off == 20 && back.inner.len == info.inner.len);
	check(memcmp(buf + 20, data + info.inner.off, info.inner.len) == 0);
	check(back.outer_src.s_addr == info.outer_src.s_addr);
}

static void fuzz_keepalive(const uint8_t *pkt, size_t len, struct in_addr ha)
{
	struct mip4_keepalive ka, sentinel, rep;
	struct mip4_ipv4_info in;
	struct writer w;
	int kind, rc;

	memset(&sentinel, 0x5a, sizeof(sentinel));
	ka = sentinel;
	kind = mip4_keepalive_classify(pkt, len, ha, &ka);
	if (kind <= MIP4_KEEPALIVE_NONE) {
		check(memcmp(&ka, &sentinel, sizeof(ka)) == 0);
		return;
	}
	check(ka.data_off <= len && ka.data_len <= len - ka.data_off);
	if (kind != MIP4_KEEPALIVE_REQUEST)
		return;
	writer_init(&w, buf, sizeof(buf));
	rc = mip4_keepalive_reply_encode(&w, pkt, len, ha, 7);
	check(rc == (int)(MIP4_KEEPALIVE_LEN + ka.data_len));
	check(mip4_udp_tunnel_decap(buf, (size_t)rc, &in) == 0);
	check(mip4_keepalive_classify(buf + in.off, in.len, ha, &rep) == MIP4_KEEPALIVE_REPLY);
	check(rep.echo_id == ka.echo_id && rep.seq == ka.seq && rep.data_len == ka.data_len);
	check(rep.dst.s_addr == ka.src.s_addr);
	check(memcmp(buf + in.off + rep.data_off, pkt + ka.data_off, ka.data_len) == 0);
}

static void fuzz_udp(const uint8_t *data, size_t size)
{
	struct mip4_ipv4_info in, sentinel;
	struct writer w;
	int rc;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	in = sentinel;
	rc = mip4_udp_tunnel_decap(data, size, &in);
	if (rc < 0) {
		check(memcmp(&in, &sentinel, sizeof(in)) == 0);
		return;
	}
	check(rc == 0 && in.off == 4 && in.off + in.len == size);
	inner_ok(data, size, &in);
	writer_init(&w, buf, sizeof(buf));
	rc = mip4_udp_tunnel_encap(&w, data + in.off, in.len);
	check(rc == (int)size);
	check(memcmp(buf, data, 2) == 0 && memcmp(buf + 4, data + 4, size - 4) == 0);
	fuzz_keepalive(data + in.off, in.len, in.dst);
	fuzz_keepalive(data + in.off, in.len, in.src);
}

static void fuzz_ipv4(const uint8_t *data, size_t size)
{
	struct mip4_ipv4_info in, sentinel;

	memset(&sentinel, 0x5a, sizeof(sentinel));
	in = sentinel;
	if (mip4_ipv4_parse(data, size, &in) < 0) {
		check(memcmp(&in, &sentinel, sizeof(in)) == 0);
		return;
	}
	check(in.off == 0 && in.len == size);
	inner_ok(data, size, &in);
	fuzz_keepalive(data, size, in.dst);
	fuzz_keepalive(data, size, in.src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_ipip(data, size);
	fuzz_udp(data, size);
	fuzz_ipv4(data, size);
	return 0;
}
