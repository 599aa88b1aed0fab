/* Agent Advertisement and Agent Solicitation codec (RFC 5944 §2.1, §2.2 on top of ICMP
 * Router Discovery, RFC 1256 §3).
 *
 * An Agent Advertisement is an ICMP Router Advertisement (type 9) followed by extensions
 * from the router-discovery number space (RFC 5944 §1.8, §6.2):
 *	 0  One-byte Padding (§2.1.3: one byte, no Length)
 *	16  Mobility Agent Advertisement (§2.1.1): Length 6 + 4N
 *	19  Prefix-Lengths (§2.1.2): Length = Num Addrs, one byte per router address
 * Unknown types 0-127 make the whole message unusable (-EOPNOTSUPP; §1.8 says silently
 * discard), unknown types 128-255 are skipped by their Length.
 *
 * An Agent Solicitation is an ICMP Router Solicitation (type 10) sent with IP TTL 1 (§2.2);
 * the TTL is the sender's business, not this codec's.
 *
 * Messages are the ICMP message only (from the ICMP Type byte); the IP header is the
 * caller's. Addresses are struct in_addr (network byte order), the rest host order.
 *
 * Errors (negative errno, output untouched, nothing logged):
 *	-EBADMSG     malformed: truncated, bad checksum, bad code, bad extension length/value
 *	-ENOMSG      not this ICMP type; or a Router Advertisement without the Mobility Agent
 *	             Advertisement extension (a plain router, not a mobility agent)
 *	-EPROTO      well formed but breaks a rule of §2.1.1 (flags, CoA count, duplicates)
 *	-EOPNOTSUPP  an unrecognised extension of type 0-127
 *	-EINVAL      (encoders) arguments that would produce a message the parser refuses
 *	-ENOSPC      (encoders) writer too small; nothing was written
 */
#ifndef MM_MIP4_AGENT_H
#define MM_MIP4_AGENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* ICMP types (RFC 1256 §3). */
#define MIP4_ICMP_ROUTER_ADV 9
#define MIP4_ICMP_ROUTER_SOL 10

/* Agent Advertisement ICMP Code (RFC 5944 §2.1). */
#define MIP4_ADV_CODE_ROUTER    0  /* also routes common traffic */
#define MIP4_ADV_CODE_NO_COMMON 16 /* does not route common traffic */

/* Router-discovery extension types (RFC 5944 §6.2). */
#define MIP4_ADVEXT_PAD            0
#define MIP4_ADVEXT_MOBILITY_AGENT 16
#define MIP4_ADVEXT_PREFIX_LENGTHS 19

/* Mobility Agent Advertisement flags, the 16 bits after Registration Lifetime, in their wire
 * positions (RFC 5944 §2.1.1; T from RFC 3024 §3.1, U from RFC 3519 §3.4). */
#define MIP4_ADV_R 0x8000u /* registration required */
#define MIP4_ADV_B 0x4000u /* busy */
#define MIP4_ADV_H 0x2000u /* home agent */
#define MIP4_ADV_F 0x1000u /* foreign agent */
#define MIP4_ADV_M 0x0800u /* minimal encapsulation */
#define MIP4_ADV_G 0x0400u /* GRE encapsulation */
#define MIP4_ADV_r 0x0200u /* reserved: sent as zero, ignored */
#define MIP4_ADV_T 0x0100u /* reverse tunnelling */
#define MIP4_ADV_U 0x0080u /* UDP tunnelling */
#define MIP4_ADV_X 0x0040u /* registration revocation */
#define MIP4_ADV_I 0x0020u /* regional registration */
#define MIP4_ADV_KNOWN (MIP4_ADV_R | MIP4_ADV_B | MIP4_ADV_H | MIP4_ADV_F | MIP4_ADV_M | \
			MIP4_ADV_G | MIP4_ADV_T | MIP4_ADV_U | MIP4_ADV_X | MIP4_ADV_I)

/* Registration Lifetime 0xffff means infinity (§2.1.1). */
#define MIP4_ADV_LIFETIME_INFINITE 0xffffu

/* Limits that follow from the 8-bit fields: Num Addrs, and Length = 6 + 4N <= 255. */
#define MIP4_ADV_MAX_ROUTERS 255
#define MIP4_ADV_MAX_COA     62
/* Addr Entry Size is 2 words (address + preference) in RFC 1256; larger entries carry
 * extra words that receivers ignore (RFC 1256 §5.2). */
#define MIP4_ADV_ENTRY_WORDS 2

struct mip4_router_entry {
	struct in_addr addr;
	int32_t preference;   /* signed, higher is preferred (RFC 1256 §3) */
};

struct mip4_agent_adv {
	/* ICMP Router Advertisement part (RFC 1256 §3, RFC 5944 §2.1) */
	uint8_t code;            /* MIP4_ADV_CODE_* */
	uint16_t lifetime;       /* seconds the advertisement is valid */
	uint8_t num_addrs;       /* may be 0 in an Agent Advertisement (§2.1) */
	struct mip4_router_entry routers[MIP4_ADV_MAX_ROUTERS];

	/* Mobility Agent Advertisement extension (§2.1.1), always present when parsed */
	uint16_t seq;
	uint16_t reg_lifetime;   /* longest registration lifetime accepted; 0xffff infinite */
	uint16_t flags;          /* MIP4_ADV_*; reserved bits are dropped on parsing */
	uint8_t num_coa;
	struct in_addr coa[MIP4_ADV_MAX_COA];

	/* Prefix-Lengths extension (§2.1.2), optional; one per router address */
	bool has_prefix_lengths;
	uint8_t prefix_len[MIP4_ADV_MAX_ROUTERS];

	unsigned skipped;        /* unknown skippable extensions ignored (parse only) */
};

/* The Internet checksum (RFC 1071) of data[0..len): the ones' complement of the ones'
 * complement sum of the 16-bit words, an odd last byte padded with zero. Computing it over
 * a message whose checksum field holds the right value gives 0. */
uint16_t mip4_inet_checksum(const void *data, size_t len);

/* Parse an ICMP message as an Agent Advertisement. Checks (RFC 1256 §5.2 as amended by RFC
 * 5944 §2.1): checksum, Code 0 or 16, Addr Entry Size >= 2, length covers the router
 * entries; then the extensions; then §2.1.1 rules: at least one of F and H, B and R only
 * with F, at least one care-of address with F. */
int mip4_adv_parse(const void *msg, size_t len, struct mip4_agent_adv *out);

/* Encode adv (routers, then the Mobility Agent Advertisement extension, then Prefix-Lengths
 * if has_prefix_lengths, then one byte of padding if that leaves the length odd, §2.1.3)
 * with the checksum filled in. Returns bytes written. */
int mip4_adv_encode(struct writer *w, const struct mip4_agent_adv *adv);
/* Bytes mip4_adv_encode() would write, or -EINVAL. */
int mip4_adv_encoded_len(const struct mip4_agent_adv *adv);

/* An Agent Advertisement as a mobile node hears it on a packet socket, before its interface
 * has an address (RFC 5266 3.2): the IPv4 packet (RFC 791: version 4, header length, header
 * checksum, protocol ICMP, not a fragment, Total Length within frame[0..len): link layers
 * pad short frames) and the advertisement in it (mip4_adv_parse). *src gets the IP source
 * (where requests go, RFC 5944 3.6.1.1), which must be a unicast address (not 0/8, 127/8,
 * class D or E). -EBADMSG for a bad IPv4 packet or source, else mip4_adv_parse()'s
 * errors; outputs untouched on failure. */
int mip4_adv_frame_parse(const void *frame, size_t len, struct in_addr *src,
			 struct mip4_agent_adv *out);

/* Parse an ICMP Router Solicitation (RFC 1256 §4.2: checksum, Code 0, at least 8 bytes;
 * Reserved and anything after the first 8 bytes are ignored). */
int mip4_sol_parse(const void *msg, size_t len);
/* Encode an Agent Solicitation (8 bytes, Reserved zero). Returns bytes written. */
int mip4_sol_encode(struct writer *w);

/* Sequence numbers (§2.3.2): 0 after boot, +1 each time, 0xffff is followed by 256. */
static inline uint16_t mip4_adv_seq_next(uint16_t seq)
{
	return seq == 0xffffu ? 256 : (uint16_t)(seq + 1);
}

/* §2.4.4: a sequence number lower than the previous one and below 256 means the agent
 * rebooted (and lost our registration); lower but >= 256 is only the rollover. */
static inline bool mip4_adv_seq_rebooted(uint16_t prev, uint16_t cur)
{
	return cur < prev && cur < 256;
}

#endif
