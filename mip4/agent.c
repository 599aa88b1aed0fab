/* Agent Advertisement / Solicitation codec (RFC 5944 §2.1-§2.2, RFC 1256 §3). See agent.h. */
#include "mip4/agent.h"

#include <errno.h>
#include <string.h>

/* ICMP header: Type, Code, Checksum, then 4 type-specific bytes (RFC 1256 §3). */
#define ICMP_HDR_LEN 8
#define ICMP_CSUM_OFF 2
/* Mobility Agent Advertisement data before the care-of addresses (§2.1.1). */
#define MAA_FIXED_LEN 6
#define PREFIX_LEN_MAX 32

uint16_t mip4_inet_checksum(const void *data, size_t len)
{
	struct reader r;
	uint64_t sum = 0;
	uint16_t word;
	uint8_t last;

	reader_init(&r, data, len);
	while (reader_remaining(&r) >= 2 && reader_be16(&r, &word))
		sum += word;
	/* RFC 1071: an odd trailing byte is the high half of a zero-padded word. */
	if (reader_remaining(&r) == 1 && reader_u8(&r, &last))
		sum += (uint64_t)last << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* --- advertisement parsing, stage 1: ICMP part ---------------------------------------- */

/* Type, checksum over the whole message, then the Router Advertisement fields. */
static int adv_header(struct reader *r, struct mip4_agent_adv *adv, uint8_t *entry_words)
{
	uint8_t type, code;

	if (!reader_u8(r, &type))
		return -EBADMSG;
	if (type != MIP4_ICMP_ROUTER_ADV)
		return -ENOMSG;
	if (reader_remaining(r) < ICMP_HDR_LEN - 1)
		return -EBADMSG;
	reader_u8(r, &code);
	reader_skip(r, 2); /* checksum, verified over the whole message by the caller */
	reader_u8(r, &adv->num_addrs);
	reader_u8(r, entry_words);
	reader_be16(r, &adv->lifetime);
	/* RFC 5944 §2.1: Code 0 or 16. RFC 1256 §5.2: Addr Entry Size >= 2. */
	if (!reader_ok(r) || (code != MIP4_ADV_CODE_ROUTER && code != MIP4_ADV_CODE_NO_COMMON) ||
	    *entry_words < MIP4_ADV_ENTRY_WORDS)
		return -EBADMSG;
	adv->code = code;
	return 0;
}

/* Router entries; words past the first two of each entry are ignored (RFC 1256 §5.2). */
static int adv_routers(struct reader *r, struct mip4_agent_adv *adv, uint8_t entry_words)
{
	for (unsigned i = 0; i < adv->num_addrs; i++) {
		struct reader e;
		uint32_t pref;

		if (!reader_sub(r, (size_t)entry_words * 4, &e))
			return -EBADMSG;
		reader_copy(&e, &adv->routers[i].addr.s_addr, 4);
		if (!reader_be32(&e, &pref))
			return -EBADMSG;
		adv->routers[i].preference = (int32_t)pref;
	}
	return 0;
}

/* --- stage 2: extensions -------------------------------------------------------------- */

/* §2.1.1: Length 6 + 4N. */
static int adv_ext_maa(struct reader *d, struct mip4_agent_adv *adv)
{
	size_t n = reader_remaining(d);

	if (n < MAA_FIXED_LEN || (n - MAA_FIXED_LEN) % 4 != 0)
		return -EBADMSG;
	reader_be16(d, &adv->seq);
	reader_be16(d, &adv->reg_lifetime);
	reader_be16(d, &adv->flags);
	/* 'r' and reserved: "sent as zero; ignored on reception". */
	adv->flags &= MIP4_ADV_KNOWN;
	adv->num_coa = (uint8_t)((n - MAA_FIXED_LEN) / 4);
	for (unsigned i = 0; i < adv->num_coa; i++)
		reader_copy(d, &adv->coa[i].s_addr, 4);
	return reader_done(d) ? 0 : -EBADMSG;
}

/* §2.1.2: Length = Num Addrs; a prefix length is at most 32 bits. */
static int adv_ext_prefix_lengths(struct reader *d, struct mip4_agent_adv *adv)
{
	if (reader_remaining(d) != adv->num_addrs)
		return -EBADMSG;
	for (unsigned i = 0; i < adv->num_addrs; i++) {
		if (!reader_u8(d, &adv->prefix_len[i]) || adv->prefix_len[i] > PREFIX_LEN_MAX)
			return -EBADMSG;
	}
	adv->has_prefix_lengths = true;
	return 0;
}

/* One extension. *have_maa tracks the Mobility Agent Advertisement extension. */
static int adv_ext_one(struct reader *r, struct mip4_agent_adv *adv, bool *have_maa)
{
	struct reader d;
	uint8_t type, len;

	if (!reader_u8(r, &type))
		return -EBADMSG;
	if (type == MIP4_ADVEXT_PAD)
		return 0;  /* §2.1.3: a single byte */
	/* §1.8: an unknown type below 128 may not even have an 8-bit Length (§1.10). */
	if (type != MIP4_ADVEXT_MOBILITY_AGENT && type != MIP4_ADVEXT_PREFIX_LENGTHS && type < 128)
		return -EOPNOTSUPP;
	if (!reader_u8(r, &len) || !reader_sub(r, len, &d))
		return -EBADMSG;
	switch (type) {
	case MIP4_ADVEXT_MOBILITY_AGENT:
		if (*have_maa)
			return -EPROTO;
		*have_maa = true;
		return adv_ext_maa(&d, adv);
	case MIP4_ADVEXT_PREFIX_LENGTHS:
		return adv->has_prefix_lengths ? -EPROTO : adv_ext_prefix_lengths(&d, adv);
	}
	adv->skipped++;
	return 0;
}

static int adv_extensions(struct reader *r, struct mip4_agent_adv *adv)
{
	bool have_maa = false;
	int rc;

	while (reader_remaining(r) > 0) {
		rc = adv_ext_one(r, adv, &have_maa);
		if (rc < 0)
			return rc;
	}
	/* Without it this is a plain Router Advertisement (§2.1). */
	return have_maa ? 0 : -ENOMSG;
}

/* --- stage 3: rules (§2.1.1) ---------------------------------------------------------- */

static bool adv_flags_valid(uint16_t flags, unsigned num_coa)
{
	bool f = flags & MIP4_ADV_F;

	/* "at least one of the 'F' bit and the 'H' bit MUST be set" */
	if (!f && !(flags & MIP4_ADV_H))
		return false;
	/* "MUST NOT have the 'B' bit set if the 'F' bit is not also set"; same for 'R' */
	if (!f && (flags & (MIP4_ADV_B | MIP4_ADV_R)))
		return false;
	/* "MUST include at least one care-of address if the 'F' bit is set" */
	return !f || num_coa > 0;
}

int mip4_adv_parse(const void *msg, size_t len, struct mip4_agent_adv *out)
{
	struct mip4_agent_adv adv;
	uint8_t entry_words = 0;
	struct reader r;
	int rc;

	if (!msg || !out)
		return -EINVAL;
	memset(&adv, 0, sizeof(adv));
	reader_init(&r, msg, len);
	rc = adv_header(&r, &adv, &entry_words);
	if (rc < 0)
		return rc;
	if (mip4_inet_checksum(msg, len) != 0)
		return -EBADMSG;
	rc = adv_routers(&r, &adv, entry_words);
	if (rc == 0)
		rc = adv_extensions(&r, &adv);
	if (rc < 0)
		return rc;
	if (!adv_flags_valid(adv.flags, adv.num_coa))
		return -EPROTO;
	*out = adv;
	return 0;
}

/* --- advertisement encoding ----------------------------------------------------------- */

static bool adv_valid_for_encoding(const struct mip4_agent_adv *adv)
{
	if (adv->code != MIP4_ADV_CODE_ROUTER && adv->code != MIP4_ADV_CODE_NO_COMMON)
		return false;
	if (adv->num_coa > MIP4_ADV_MAX_COA || (adv->flags & ~MIP4_ADV_KNOWN))
		return false;
	if (!adv_flags_valid(adv->flags, adv->num_coa))
		return false;
	for (unsigned i = 0; adv->has_prefix_lengths && i < adv->num_addrs; i++)
		if (adv->prefix_len[i] > PREFIX_LEN_MAX)
			return false;
	return true;
}

/* Length without the padding byte. */
static size_t adv_unpadded_len(const struct mip4_agent_adv *adv)
{
	size_t n = ICMP_HDR_LEN + (size_t)adv->num_addrs * MIP4_ADV_ENTRY_WORDS * 4;

	n += 2 + MAA_FIXED_LEN + (size_t)adv->num_coa * 4;
	if (adv->has_prefix_lengths)
		n += 2 + (size_t)adv->num_addrs;
	return n;
}

int mip4_adv_encoded_len(const struct mip4_agent_adv *adv)
{
	size_t n;

	if (!adv || !adv_valid_for_encoding(adv))
		return -EINVAL;
	n = adv_unpadded_len(adv);
	/* §2.1.3: pad an odd ICMP length to even with one One-byte Padding extension. */
	return (int)(n + (n & 1));
}

static void adv_write_body(struct writer *w, const struct mip4_agent_adv *adv)
{
	writer_u8(w, adv->num_addrs);
	writer_u8(w, MIP4_ADV_ENTRY_WORDS);
	writer_be16(w, adv->lifetime);
	for (unsigned i = 0; i < adv->num_addrs; i++) {
		writer_bytes(w, &adv->routers[i].addr.s_addr, 4);
		writer_be32(w, (uint32_t)adv->routers[i].preference);
	}
	writer_u8(w, MIP4_ADVEXT_MOBILITY_AGENT);
	writer_u8(w, (uint8_t)(MAA_FIXED_LEN + 4 * adv->num_coa));
	writer_be16(w, adv->seq);
	writer_be16(w, adv->reg_lifetime);
	writer_be16(w, adv->flags);
	for (unsigned i = 0; i < adv->num_coa; i++)
		writer_bytes(w, &adv->coa[i].s_addr, 4);
	if (adv->has_prefix_lengths) {
		writer_u8(w, MIP4_ADVEXT_PREFIX_LENGTHS);
		writer_u8(w, adv->num_addrs);
		writer_bytes(w, adv->prefix_len, adv->num_addrs);
	}
}

/* Fill in the checksum of the ICMP message at [start, start + len) of w. */
static int icmp_finish(struct writer *w, size_t start, size_t len)
{
	uint8_t *msg;

	if (!writer_view(w, start, len, &msg))
		return -EIO;
	return writer_patch_be16(w, start + ICMP_CSUM_OFF, mip4_inet_checksum(msg, len)) ?
	       0 : -EIO;
}

int mip4_adv_encode(struct writer *w, const struct mip4_agent_adv *adv)
{
	int total = mip4_adv_encoded_len(adv);
	size_t start, csum_off;
	int rc;

	if (total < 0 || !w || !writer_ok(w))
		return total < 0 ? total : -EINVAL;
	if (writer_room(w) < (size_t)total)
		return -ENOSPC;
	start = writer_len(w);
	writer_u8(w, MIP4_ICMP_ROUTER_ADV);
	writer_u8(w, adv->code);
	writer_reserve(w, 2, &csum_off);
	adv_write_body(w, adv);
	if ((writer_len(w) - start) & 1)
		writer_u8(w, MIP4_ADVEXT_PAD);
	rc = icmp_finish(w, start, (size_t)total);
	return rc < 0 ? rc : total;
}

/* --- solicitation --------------------------------------------------------------------- */

int mip4_sol_parse(const void *msg, size_t len)
{
	struct reader r;
	uint8_t type, code;

	if (!msg)
		return -EINVAL;
	reader_init(&r, msg, len);
	if (!reader_u8(&r, &type))
		return -EBADMSG;
	if (type != MIP4_ICMP_ROUTER_SOL)
		return -ENOMSG;
	/* RFC 1256 §4.2: at least 8 bytes, Code 0, valid checksum; the rest is ignored. */
	if (len < ICMP_HDR_LEN || !reader_u8(&r, &code) || code != 0)
		return -EBADMSG;
	return mip4_inet_checksum(msg, len) == 0 ? 0 : -EBADMSG;
}

int mip4_sol_encode(struct writer *w)
{
	size_t start, csum_off;
	int rc;

	if (!w || !writer_ok(w))
		return -EINVAL;
	if (writer_room(w) < ICMP_HDR_LEN)
		return -ENOSPC;
	start = writer_len(w);
	writer_u8(w, MIP4_ICMP_ROUTER_SOL);
	writer_u8(w, 0);
	writer_reserve(w, 2, &csum_off);
	writer_be32(w, 0); /* Reserved: sent as 0 */
	rc = icmp_finish(w, start, ICMP_HDR_LEN);
	return rc < 0 ? rc : ICMP_HDR_LEN;
}

/* RFC 791 header through the reader; *icmp gets the ICMP message. */
static int adv_ip_header(const uint8_t *frame, size_t len, struct in_addr *src,
			 struct reader *icmp)
{
	struct reader r, hdr;
	const uint8_t *h;
	uint8_t vihl, proto;
	uint16_t total, frag;
	size_t ihl;

	reader_init(&r, frame, len);
	if (!reader_peek_u8(&r, &vihl) || (vihl >> 4) != 4)
		return -EBADMSG;
	ihl = (size_t)(vihl & 0x0f) * 4;
	if (ihl < 20 || !reader_view(&r, ihl, &h))
		return -EBADMSG;
	/* The header checksum covers the header only (RFC 791): 0 over a correct one. */
	if (mip4_inet_checksum(h, ihl) != 0)
		return -EBADMSG;
	reader_init(&hdr, h, ihl);
	reader_skip(&hdr, 2);
	reader_be16(&hdr, &total);
	reader_skip(&hdr, 2);
	reader_be16(&hdr, &frag);
	reader_skip(&hdr, 1);
	reader_u8(&hdr, &proto);
	reader_skip(&hdr, 2);
	reader_copy(&hdr, &src->s_addr, 4);
	if (!reader_ok(&hdr) || total < ihl || total > len || proto != 1 /* ICMP */ ||
	    (frag & 0x3fff))
		return -EBADMSG;
	/* Ethernet pads short frames: the IP total length says where the packet ends. */
	return reader_sub(&r, total - ihl, icmp) ? 0 : -EBADMSG;
}

static bool adv_unicast_source(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	return (h >> 24) != 0 && (h >> 24) != 127 && (h >> 28) < 14;
}

int mip4_adv_frame_parse(const void *frame, size_t len, struct in_addr *src,
			 struct mip4_agent_adv *out)
{
	struct in_addr from = { 0 };
	struct reader icmp;
	const uint8_t *msg;
	size_t msg_len;
	int rc;

	if (!frame || !src || !out || adv_ip_header(frame, len, &from, &icmp) < 0 ||
	    !adv_unicast_source(from) || !reader_view_rest(&icmp, &msg, &msg_len))
		return -EBADMSG;
	/* mip4_adv_parse() leaves *out alone on failure. */
	rc = mip4_adv_parse(msg, msg_len, out);
	if (rc == 0)
		*src = from;
	return rc;
}
