/* Fuzz target: Agent Advertisement / Agent Solicitation codec (mip4/agent.c).
 *
 * Every input is parsed as an advertisement, as a solicitation, and as a frame a mobile
 * node hears (IPv4 packet + advertisement, mip4_adv_frame_parse). A parsed advertisement
 * must encode (with a valid checksum), parse back to the same value and re-encode to the
 * same bytes; a failed parse must leave its outputs untouched; a parsed frame names a
 * unicast source. Violations trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mip4/agent.h"

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static bool same_adv(const struct mip4_agent_adv *a, const struct mip4_agent_adv *b)
{
	if (a->code != b->code || a->lifetime != b->lifetime || a->num_addrs != b->num_addrs ||
	    a->seq != b->seq || a->reg_lifetime != b->reg_lifetime || a->flags != b->flags ||
	    a->num_coa != b->num_coa || a->has_prefix_lengths != b->has_prefix_lengths)
		return false;
	for (unsigned i = 0; i < a->num_addrs; i++) {
		if (a->routers[i].addr.s_addr != b->routers[i].addr.s_addr ||
		    a->routers[i].preference != b->routers[i].preference)
			return false;
		if (a->has_prefix_lengths && a->prefix_len[i] != b->prefix_len[i])
			return false;
	}
	for (unsigned i = 0; i < a->num_coa; i++)
		if (a->coa[i].s_addr != b->coa[i].s_addr)
			return false;
	return true;
}

static void adv_round_trip(const struct mip4_agent_adv *adv)
{
	static uint8_t buf[4096], buf2[4096];
	static struct mip4_agent_adv back;
	struct writer w;
	int n, n2;

	writer_init(&w, buf, sizeof(buf));
	n = mip4_adv_encode(&w, adv);
	check(n > 0 && (size_t)n == writer_len(&w) && n % 2 == 0);
	check(mip4_adv_encoded_len(adv) == n);
	check(mip4_inet_checksum(buf, (size_t)n) == 0);
	check(mip4_adv_parse(buf, (size_t)n, &back) == 0);
	check(same_adv(adv, &back) && back.skipped == 0);
	writer_init(&w, buf2, sizeof(buf2));
	n2 = mip4_adv_encode(&w, &back);
	check(n2 == n && memcmp(buf, buf2, (size_t)n) == 0);
}

static void fuzz_adv(const uint8_t *data, size_t size)
{
	/* Static: the struct is a few KB, and the fuzzer calls us millions of times. */
	static struct mip4_agent_adv adv, sentinel;

	memset(&sentinel, 0x3c, sizeof(sentinel));
	adv = sentinel;
	if (mip4_adv_parse(data, size, &adv) != 0) {
		check(memcmp(&adv, &sentinel, sizeof(adv)) == 0);
		return;
	}
	check(mip4_inet_checksum(data, size) == 0);
	check((adv.flags & ~MIP4_ADV_KNOWN) == 0);
	check((adv.flags & (MIP4_ADV_F | MIP4_ADV_H)) != 0);
	check(!(adv.flags & MIP4_ADV_F) || adv.num_coa > 0);
	adv_round_trip(&adv);
}

static void fuzz_sol(const uint8_t *data, size_t size)
{
	if (mip4_sol_parse(data, size) == 0)
		check(size >= 8 && data[0] == MIP4_ICMP_ROUTER_SOL && data[1] == 0 &&
		      mip4_inet_checksum(data, size) == 0);
}

static void fuzz_frame(const uint8_t *data, size_t size)
{
	static struct mip4_agent_adv adv, sentinel;
	struct in_addr src = { .s_addr = 0x5a5a5a5a };
	uint32_t h;

	memset(&sentinel, 0x3c, sizeof(sentinel));
	adv = sentinel;
	if (mip4_adv_frame_parse(data, size, &src, &adv) != 0) {
		check(memcmp(&adv, &sentinel, sizeof(adv)) == 0 && src.s_addr == 0x5a5a5a5a);
		return;
	}
	h = ntohl(src.s_addr);
	check((h >> 24) != 0 && (h >> 24) != 127 && (h >> 28) < 14);
	check(size >= 20 && (data[0] >> 4) == 4 && data[9] == 1);
	adv_round_trip(&adv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_adv(data, size);
	fuzz_sol(data, size);
	fuzz_frame(data, size);
	return 0;
}
