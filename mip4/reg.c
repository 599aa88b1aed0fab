/* Mobile IPv4 Registration Request / Reply codec (RFC 5944 §3.3-§3.5). See reg.h for the
 * three parsing stages and the error contract. */
#include "mip4/reg.h"

#include <errno.h>
#include <string.h>

/* --- stage 1: structure --------------------------------------------------------------- */

/* One extension as the walker found it. */
struct ext_view {
	uint8_t type;
	size_t off;          /* offset of the Type byte in the message */
	struct reader data;  /* the Data field (empty for one-byte padding) */
};

/* Types whose length format we know. All of them use an 8-bit Length right after Type
 * (simple format §1.9 or short format §1.11). */
static bool ext_type_known(uint8_t type)
{
	switch (type) {
	case MIP4_EXT_PAD:
	case MIP4_EXT_MN_HA_AUTH:
	case MIP4_EXT_MN_FA_AUTH:
	case MIP4_EXT_FA_HA_AUTH:
	case MIP4_EXT_UDP_TUN_REPLY:
	case MIP4_EXT_EDS:
	case MIP4_EXT_NAI:
	case MIP4_EXT_UDP_TUN_REQ:
	case MIP4_EXT_TNC:
		return true;
	}
	return false;
}

/* Step to the next extension. Returns 1 with *ext filled, 0 at the end of the message, or a
 * negative errno. A non-skippable type we do not know may use the long format (§1.10), so
 * its length cannot even be read: the message is refused before trying (§1.8). Skippable
 * types never use the long format (§1.10), so their 8-bit Length always skips them. */
static int ext_next(struct reader *r, struct ext_view *ext)
{
	uint8_t type, len;

	if (reader_remaining(r) == 0)
		return reader_ok(r) ? 0 : -EBADMSG;
	ext->off = reader_offset(r);
	if (!reader_u8(r, &type))
		return -EBADMSG;
	ext->type = type;
	if (type == MIP4_EXT_PAD) {
		/* §1.8: one-byte padding has neither Length nor Data. */
		reader_init(&ext->data, NULL, 0);
		return 1;
	}
	if (type < MIP4_EXT_SKIPPABLE_MIN && !ext_type_known(type))
		return -EOPNOTSUPP;
	if (!reader_u8(r, &len) || !reader_sub(r, len, &ext->data))
		return -EBADMSG;
	return 1;
}

/* --- stage 2: one extension at a time ------------------------------------------------- */

/* Authentication extensions (§3.5.2-§3.5.4): SPI then an authenticator of at least 128 bits
 * (every algorithm we could verify produces that many). */
static int decode_auth(const struct ext_view *ext, struct mip4_auth_ext *out)
{
	struct reader d = ext->data;
	uint32_t spi;

	if (reader_remaining(&d) < 4 + MIP4_AUTH_MIN_LEN || !reader_be32(&d, &spi))
		return -EBADMSG;
	out->present = true;
	out->type = ext->type;
	out->spi = spi;
	out->ext_off = ext->off;
	out->auth_off = ext->off + MIP4_AUTH_HDR_LEN;
	out->auth_len = reader_remaining(&d);
	return 0;
}

/* Mobile Node NAI (RFC 2794 §2): an NAI string; empty or embedded NUL is malformed. */
static int decode_nai(const struct ext_view *ext, struct mip4_nai *out)
{
	struct reader d = ext->data;
	size_t n = reader_remaining(&d);
	char text[MIP4_NAI_MAX + 1];

	if (n == 0 || n > MIP4_NAI_MAX || !reader_copy(&d, text, n) || memchr(text, 0, n))
		return -EBADMSG;
	text[n] = '\0';
	out->present = true;
	out->len = (uint8_t)n;
	memcpy(out->text, text, n + 1);
	return 0;
}

/* UDP Tunnel Request (RFC 3519 §3.1). Returns 0 (decoded), 1 (well formed but not
 * understood: unknown Sub-Type or nonzero Reserved 3, which §3.1.3 says to skip) or
 * -EBADMSG (Length is not 6). Reserved 1 and 2 are ignored on reception (§3.1). */
static int decode_udp_req(const struct ext_view *ext, struct mip4_udp_tunnel_req *out)
{
	struct reader d = ext->data;
	uint8_t subtype, reserved1, flags, encap;
	uint16_t reserved3;

	if (reader_remaining(&d) != MIP4_UDPT_LEN)
		return -EBADMSG;
	reader_u8(&d, &subtype);
	reader_u8(&d, &reserved1);
	reader_u8(&d, &flags);
	reader_u8(&d, &encap);
	if (!reader_be16(&d, &reserved3))
		return -EBADMSG;
	if (subtype != 0 || reserved3 != 0)
		return 1;
	out->present = true;
	out->flags = flags & (MIP4_UDPT_REQ_F | MIP4_UDPT_REQ_R);
	out->encap = encap;
	return 0;
}

/* UDP Tunnel Reply (RFC 3519 §3.2). It is non-skippable, so a Sub-Type we do not know makes
 * the whole message unrecognisable (RFC 5944 §1.8). */
static int decode_udp_reply(const struct ext_view *ext, struct mip4_udp_tunnel_reply *out)
{
	struct reader d = ext->data;
	uint8_t subtype, code;
	uint16_t flags, keepalive;

	if (reader_remaining(&d) != MIP4_UDPT_LEN)
		return -EBADMSG;
	reader_u8(&d, &subtype);
	reader_u8(&d, &code);
	reader_be16(&d, &flags);
	if (!reader_be16(&d, &keepalive))
		return -EBADMSG;
	if (subtype != 0)
		return -EOPNOTSUPP;
	out->present = true;
	out->code = code;
	out->forced = (flags & MIP4_UDPT_REPLY_F) != 0;
	out->keepalive = keepalive;
	return 0;
}

/* Trusted Networks Configured (RFC 5265 §3.4), short format (RFC 5944 §1.11). Returns 0
 * (decoded), 1 (a Sub-Type we do not know: skipped, RFC 5944 §1.8) or -EBADMSG (no Sub-Type
 * at all, or Sub-Type 0 with a Length other than 2). The Sub-Type is read before the Length
 * is judged: §1.11 makes the Length "1 plus the total length of the Data field" of that
 * Sub-Type, and another Sub-Type may carry other data. Reserved is ignored on receipt. */
static int decode_tnc(const struct ext_view *ext, struct mip4_tnc *out)
{
	struct reader d = ext->data;
	uint8_t subtype;

	if (!reader_u8(&d, &subtype))
		return -EBADMSG;
	if (subtype != MIP4_TNC_SUBTYPE)
		return 1;
	if (reader_remaining(&d) != MIP4_TNC_LEN - 1)
		return -EBADMSG;
	out->present = true;
	return 0;
}

/* Encapsulating Delivery Style (RFC 3024 §3.3): Length 0. */
static int decode_eds(const struct ext_view *ext)
{
	return reader_remaining(&ext->data) == 0 ? 0 : -EBADMSG;
}

/* --- stage 3: message rules ----------------------------------------------------------- */

enum ext_slot { SLOT_MN_HA, SLOT_MN_FA, SLOT_FA_HA, SLOT_NAI, SLOT_UDP_REQ, SLOT_UDP_REPLY,
		SLOT_EDS, SLOT_TNC, SLOT_COUNT };

enum ext_pos {
	POS_ANY,
	POS_BEFORE_MN_HA, /* covered by MN-HA: requires MN-HA and must precede it */
	POS_AFTER_MN_HA,  /* must not precede MN-HA (if there is one) */
	POS_IGNORED,      /* means nothing in this message: skipped like an unknown skippable
	                   * extension (RFC 5944 §1.8), never decoded or refused */
};

struct ext_rule {
	uint8_t type;
	uint8_t slot;   /* enum ext_slot */
	uint8_t max;    /* occurrences allowed */
	uint8_t pos;    /* enum ext_pos */
	bool last;      /* nothing may follow it */
};

/* Registration Request: RFC 5944 §3.6.1.3 (order b-e), §3.7.2.2 (the FA appends FA-HA
 * after MN-HA, having removed MN-FA and what preceded it), §3.7.2.1 and §3.8.2.1 (exactly
 * one of each authentication extension); RFC 2794 §2 (NAI before the authentication
 * extensions); RFC 3024 §3.3 (EDS after MN-HA, before MN-FA); RFC 3519 §4.6.1 (UDP Tunnel
 * Request either side of MN-HA: from the MN before, from the FA after). */
static const struct ext_rule request_rules[] = {
	{ MIP4_EXT_MN_HA_AUTH, SLOT_MN_HA, 1, POS_ANY, false },
	{ MIP4_EXT_MN_FA_AUTH, SLOT_MN_FA, 1, POS_AFTER_MN_HA, true },
	{ MIP4_EXT_FA_HA_AUTH, SLOT_FA_HA, 1, POS_AFTER_MN_HA, true },
	{ MIP4_EXT_NAI, SLOT_NAI, 1, POS_BEFORE_MN_HA, false },
	{ MIP4_EXT_UDP_TUN_REQ, SLOT_UDP_REQ, 1, POS_ANY, false },
	{ MIP4_EXT_EDS, SLOT_EDS, 1, POS_AFTER_MN_HA, false },
	/* RFC 5265 §3.4, §4.3: only the home agent's replies carry it. A request with one is
	 * not wrong, merely odd: skippable, so skipped (as before we knew the type). */
	{ MIP4_EXT_TNC, SLOT_TNC, 0, POS_IGNORED, false },
};

/* Registration Reply: RFC 5944 §3.8.3.3 (order a-e), §3.7.3.2 (the FA appends MN-FA last),
 * §3.6.2.1 and §3.7.3.1 (exactly one of each); RFC 3519 §3.2, §4.6 (the UDP Tunnel Reply
 * comes from the HA to the MN, so MN-HA must cover it); RFC 2794 §3 (the HA echoes the
 * NAI). RFC 3024 §3.3: the EDS is never in a reply. */
static const struct ext_rule reply_rules[] = {
	{ MIP4_EXT_MN_HA_AUTH, SLOT_MN_HA, 1, POS_ANY, false },
	{ MIP4_EXT_MN_FA_AUTH, SLOT_MN_FA, 1, POS_AFTER_MN_HA, true },
	{ MIP4_EXT_FA_HA_AUTH, SLOT_FA_HA, 1, POS_AFTER_MN_HA, true },
	{ MIP4_EXT_NAI, SLOT_NAI, 1, POS_ANY, false },
	{ MIP4_EXT_UDP_TUN_REPLY, SLOT_UDP_REPLY, 1, POS_BEFORE_MN_HA, false },
	/* RFC 5265 §3.4: accepted on either side of MN-HA, but only before it does it count
	 * (where_of(); mip4_reply_tnc_protected()). One after it is what anybody on the path
	 * could append to an authentic reply; refusing the reply for it would gain nothing
	 * (they could as well drop it), so the reply is kept and the TNC marked "after". */
	{ MIP4_EXT_TNC, SLOT_TNC, 1, POS_ANY, false },
};

struct rule_set {
	const struct ext_rule *rules;
	size_t count;
};

static const struct rule_set request_rule_set = {
	request_rules, sizeof(request_rules) / sizeof(request_rules[0])
};
static const struct rule_set reply_rule_set = {
	reply_rules, sizeof(reply_rules) / sizeof(reply_rules[0])
};

/* What the walk saw, for the rules. */
struct ext_seen {
	unsigned count[SLOT_COUNT];
	size_t off[SLOT_COUNT];     /* first occurrence */
	size_t last_off;            /* Type byte of the last extension of any kind */
	bool disallowed;            /* a type we know, but not in this message */
};

static const struct ext_rule *rule_for(const struct rule_set *set, uint8_t type)
{
	for (size_t i = 0; i < set->count; i++)
		if (set->rules[i].type == type)
			return &set->rules[i];
	return NULL;
}

static void seen_note(struct ext_seen *seen, enum ext_slot slot, size_t off)
{
	if (seen->count[slot]++ == 0)
		seen->off[slot] = off;
}

static bool rule_holds(const struct ext_rule *rule, const struct ext_seen *seen)
{
	bool has_mn_ha = seen->count[SLOT_MN_HA] > 0;
	size_t off = seen->off[rule->slot];

	if (seen->count[rule->slot] == 0)
		return true;
	if (seen->count[rule->slot] > rule->max)
		return false;
	if (rule->pos == POS_BEFORE_MN_HA && (!has_mn_ha || off > seen->off[SLOT_MN_HA]))
		return false;
	if (rule->pos == POS_AFTER_MN_HA && has_mn_ha && off < seen->off[SLOT_MN_HA])
		return false;
	return !rule->last || off == seen->last_off;
}

static int check_rules(const struct rule_set *set, const struct ext_seen *seen)
{
	if (seen->disallowed)
		return -EPROTO;
	for (size_t i = 0; i < set->count; i++)
		if (!rule_holds(&set->rules[i], seen))
			return -EPROTO;
	return 0;
}

/* Which side of MN-HA an extension at off sits on (see enum mip4_ext_where). */
static enum mip4_ext_where where_of(size_t off, const struct ext_seen *seen)
{
	if (seen->count[SLOT_MN_HA] > 0 && off < seen->off[SLOT_MN_HA])
		return MIP4_EXT_BEFORE_MN_HA;
	return MIP4_EXT_AFTER_MN_HA;
}

/* --- shared extension walk ------------------------------------------------------------ */

/* Extension fields common to requests and replies, filled during the walk. */
struct ext_out {
	struct mip4_nai *nai;
	struct mip4_udp_tunnel_req *udp_req;     /* NULL for replies */
	bool *udp_req_not_understood;
	struct mip4_udp_tunnel_reply *udp_reply; /* NULL for requests */
	struct mip4_tnc *tnc;                    /* NULL for requests */
	bool *eds;
	struct mip4_auth_ext *auth[3];           /* MN-HA, MN-FA, FA-HA */
	unsigned *skipped;
};

/* Decode one known extension into its slot. The rule table has already admitted the type
 * for this message, so the slot exists; the NULL checks only guard against a table edit. */
static int decode_known(const struct ext_view *ext, const struct ext_out *out)
{
	int rc;

	switch (ext->type) {
	case MIP4_EXT_MN_HA_AUTH:
	case MIP4_EXT_MN_FA_AUTH:
	case MIP4_EXT_FA_HA_AUTH:
		return decode_auth(ext, out->auth[ext->type - MIP4_EXT_MN_HA_AUTH]);
	case MIP4_EXT_NAI:
		return decode_nai(ext, out->nai);
	case MIP4_EXT_UDP_TUN_REQ:
		if (!out->udp_req)
			break;
		rc = decode_udp_req(ext, out->udp_req);
		if (rc == 1)
			*out->udp_req_not_understood = true;
		return rc;
	case MIP4_EXT_UDP_TUN_REPLY:
		if (!out->udp_reply)
			break;
		return decode_udp_reply(ext, out->udp_reply);
	case MIP4_EXT_TNC:
		if (!out->tnc)
			break;
		return decode_tnc(ext, out->tnc);
	case MIP4_EXT_EDS:
		if (!out->eds)
			break;
		rc = decode_eds(ext);
		if (rc == 0)
			*out->eds = true;
		return rc;
	}
	return -EPROTO;
}

/* Handle one extension: padding and unknown skippable types are passed over; a known type
 * not allowed in this message is noted for stage 3; the rest is decoded. A duplicate is only
 * counted: stage 3 refuses the message for it anyway. */
static int walk_one(const struct ext_view *ext, const struct rule_set *set,
		    struct ext_seen *seen, const struct ext_out *out)
{
	const struct ext_rule *rule;
	int rc;

	seen->last_off = ext->off;
	if (ext->type == MIP4_EXT_PAD)
		return 0;
	if (!ext_type_known(ext->type)) {
		(*out->skipped)++;  /* §1.8: ignore, keep processing */
		return 0;
	}
	rule = rule_for(set, ext->type);
	if (!rule) {
		seen->disallowed = true;
		return 0;
	}
	if (rule->pos == POS_IGNORED) {
		(*out->skipped)++;
		return 0;
	}
	if (seen->count[rule->slot] > 0) {
		seen_note(seen, rule->slot, ext->off);
		return 0;
	}
	rc = decode_known(ext, out);
	if (rc == 1) {
		(*out->skipped)++;
		return 0;
	}
	if (rc == 0)
		seen_note(seen, rule->slot, ext->off);
	return rc;
}

static int walk_extensions(struct reader *r, const struct rule_set *set, struct ext_seen *seen,
			   const struct ext_out *out)
{
	struct ext_view ext;
	int rc;

	while ((rc = ext_next(r, &ext)) == 1) {
		rc = walk_one(&ext, set, seen, out);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* --- Registration Request ------------------------------------------------------------- */

static bool read_addr(struct reader *r, struct in_addr *a)
{
	return reader_copy(r, &a->s_addr, 4);
}

static int request_fixed(struct reader *r, struct mip4_reg_request *req)
{
	uint8_t type;

	if (!reader_u8(r, &type))
		return -EBADMSG;
	if (type != MIP4_MSG_REG_REQUEST)
		return -ENOMSG;
	reader_u8(r, &req->flags);
	reader_be16(r, &req->lifetime);
	read_addr(r, &req->home_addr);
	read_addr(r, &req->home_agent);
	read_addr(r, &req->coa);
	reader_be64(r, &req->ident);
	return reader_ok(r) ? 0 : -EBADMSG;
}

/* Flag rules that involve extensions (stage 3, after the table). */
static int request_flag_rules(const struct mip4_reg_request *req)
{
	/* RFC 3519 §3.1.5, §4.6.1: an MN asking for UDP tunnelling decapsulates itself (D);
	 * a request the FA tunnels for must not claim D. */
	if (req->udp_req.present) {
		bool d = (req->flags & MIP4_REQ_D) != 0;

		if ((req->udp_req.where == MIP4_EXT_BEFORE_MN_HA) != d)
			return -EPROTO;
	}
	/* RFC 3024 §3.3: no Encapsulating Delivery Style without the T bit. */
	if (req->eds && !(req->flags & MIP4_REQ_T))
		return -EPROTO;
	return 0;
}

int mip4_request_parse(const void *msg, size_t len, struct mip4_reg_request *out)
{
	struct mip4_reg_request req;
	const struct ext_out ext = {
		.nai = &req.nai, .udp_req = &req.udp_req,
		.udp_req_not_understood = &req.udp_req_not_understood, .eds = &req.eds,
		.auth = { &req.mn_ha, &req.mn_fa, &req.fa_ha }, .skipped = &req.skipped,
	};
	struct ext_seen seen;
	struct reader r;
	int rc;

	if (!msg || !out)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	memset(&seen, 0, sizeof(seen));
	reader_init(&r, msg, len);
	rc = request_fixed(&r, &req);
	if (rc < 0)
		return rc;
	rc = walk_extensions(&r, &request_rule_set, &seen, &ext);
	if (rc < 0)
		return rc;
	/* §3.3, §3.8.2.1 a: without an authorization-enabling extension, discard. */
	if (!req.mn_ha.present)
		return -ENOKEY;
	rc = check_rules(&request_rule_set, &seen);
	if (rc < 0)
		return rc;
	if (req.nai.present)
		req.nai.where = where_of(seen.off[SLOT_NAI], &seen);
	if (req.udp_req.present)
		req.udp_req.where = where_of(seen.off[SLOT_UDP_REQ], &seen);
	rc = request_flag_rules(&req);
	if (rc < 0)
		return rc;
	*out = req;
	return 0;
}

/* --- Registration Reply --------------------------------------------------------------- */

static int reply_fixed(struct reader *r, struct mip4_reg_reply *rep)
{
	uint8_t type;

	if (!reader_u8(r, &type))
		return -EBADMSG;
	if (type != MIP4_MSG_REG_REPLY)
		return -ENOMSG;
	reader_u8(r, &rep->code);
	reader_be16(r, &rep->lifetime);
	read_addr(r, &rep->home_addr);
	read_addr(r, &rep->home_agent);
	reader_be64(r, &rep->ident);
	return reader_ok(r) ? 0 : -EBADMSG;
}

int mip4_reply_parse(const void *msg, size_t len, struct mip4_reg_reply *out)
{
	struct mip4_reg_reply rep;
	const struct ext_out ext = {
		.nai = &rep.nai, .udp_reply = &rep.udp_reply, .tnc = &rep.tnc,
		.auth = { &rep.mn_ha, &rep.mn_fa, &rep.fa_ha }, .skipped = &rep.skipped,
	};
	struct ext_seen seen;
	struct reader r;
	int rc;

	if (!msg || !out)
		return -EINVAL;
	memset(&rep, 0, sizeof(rep));
	memset(&seen, 0, sizeof(seen));
	reader_init(&r, msg, len);
	rc = reply_fixed(&r, &rep);
	if (rc < 0)
		return rc;
	rc = walk_extensions(&r, &reply_rule_set, &seen, &ext);
	if (rc < 0)
		return rc;
	/* §3.4, §3.6.2.1 b: every reply the HA generates is authenticated; only an FA's own
	 * denial (codes 64-127, 194) may come without MN-HA. */
	if (mip4_code_is_from_ha(rep.code) && !rep.mn_ha.present)
		return -ENOKEY;
	rc = check_rules(&reply_rule_set, &seen);
	if (rc < 0)
		return rc;
	if (rep.nai.present)
		rep.nai.where = where_of(seen.off[SLOT_NAI], &seen);
	if (rep.tnc.present)
		rep.tnc.where = where_of(seen.off[SLOT_TNC], &seen);
	*out = rep;
	return 0;
}

int mip4_msg_type(const void *msg, size_t len)
{
	struct reader r;
	uint8_t type;

	reader_init(&r, msg, len);
	if (!reader_u8(&r, &type))
		return -EBADMSG;
	return type;
}

/* --- encoders ------------------------------------------------------------------------- */

static bool key_ok(const struct mip4_key *key)
{
	return key && key->len > 0 && key->len <= MIP4_KEY_MAX && key->spi >= MIP4_SPI_MIN &&
	       mip4_auth_len(key) > 0;
}

static size_t auth_ext_len(const struct mip4_key *key)
{
	return key ? MIP4_AUTH_HDR_LEN + mip4_auth_len(key) : 0;
}

static bool nai_ok(const struct mip4_nai *nai)
{
	if (!nai->present)
		return true;
	return nai->len > 0 && !memchr(nai->text, 0, nai->len);
}

static size_t nai_ext_len(const struct mip4_nai *nai)
{
	return nai->present ? 2 + (size_t)nai->len : 0;
}

static int request_check(const struct mip4_reg_request *req, const struct mip4_key *mn_ha,
			 const struct mip4_key *mn_fa)
{
	if (!req || !key_ok(mn_ha) || (mn_fa && !key_ok(mn_fa)))
		return -EINVAL;
	if ((req->flags & MIP4_REQ_RESERVED) || !nai_ok(&req->nai))
		return -EINVAL;
	/* The encoder puts the UDP Tunnel Request before MN-HA: the MN's own, which needs D
	 * (RFC 3519 §3.1.5). */
	if (req->udp_req.present && (!(req->flags & MIP4_REQ_D) ||
				     (req->udp_req.flags & ~(MIP4_UDPT_REQ_F | MIP4_UDPT_REQ_R))))
		return -EINVAL;
	if (req->eds && !(req->flags & MIP4_REQ_T))
		return -EINVAL;
	return 0;
}

int mip4_request_encoded_len(const struct mip4_reg_request *req, const struct mip4_key *mn_ha,
			     const struct mip4_key *mn_fa)
{
	int rc = request_check(req, mn_ha, mn_fa);
	size_t n;

	if (rc < 0)
		return rc;
	n = MIP4_REQUEST_FIXED_LEN + nai_ext_len(&req->nai) + auth_ext_len(mn_ha) +
	    auth_ext_len(mn_fa);
	if (req->udp_req.present)
		n += 2 + MIP4_UDPT_LEN;
	if (req->eds)
		n += 2;
	return (int)n;
}

static void write_addr(struct writer *w, struct in_addr a)
{
	writer_bytes(w, &a.s_addr, 4);
}

static void write_nai(struct writer *w, const struct mip4_nai *nai)
{
	if (!nai->present)
		return;
	writer_u8(w, MIP4_EXT_NAI);
	writer_u8(w, nai->len);
	writer_bytes(w, nai->text, nai->len);
}

/* RFC 3519 §3.1: reserved fields are sent as zero. */
static void write_udp_req(struct writer *w, const struct mip4_udp_tunnel_req *u)
{
	writer_u8(w, MIP4_EXT_UDP_TUN_REQ);
	writer_u8(w, MIP4_UDPT_LEN);
	writer_u8(w, 0);        /* Sub-Type */
	writer_u8(w, 0);        /* Reserved 1 */
	writer_u8(w, u->flags); /* F, R, Reserved 2 */
	writer_u8(w, u->encap);
	writer_be16(w, 0);      /* Reserved 3 */
}

static void write_udp_reply(struct writer *w, const struct mip4_udp_tunnel_reply *u)
{
	writer_u8(w, MIP4_EXT_UDP_TUN_REPLY);
	writer_u8(w, MIP4_UDPT_LEN);
	writer_u8(w, 0);        /* Sub-Type */
	writer_u8(w, u->code);
	writer_be16(w, u->forced ? MIP4_UDPT_REPLY_F : 0);
	writer_be16(w, u->keepalive);
}

/* RFC 5265 §3.4: Sub-Type 0, Reserved "set to 0 when sending". */
static void write_tnc(struct writer *w)
{
	writer_u8(w, MIP4_EXT_TNC);
	writer_u8(w, MIP4_TNC_LEN);
	writer_u8(w, MIP4_TNC_SUBTYPE);
	writer_u8(w, 0);
}

/* Append the optional authentication extension (key may be NULL). */
static int append_auth(struct writer *w, size_t start, uint8_t type, const struct mip4_key *key)
{
	return key ? mip4_auth_append(w, start, type, key) : 0;
}

int mip4_request_encode(struct writer *w, const struct mip4_reg_request *req,
			const struct mip4_key *mn_ha, const struct mip4_key *mn_fa)
{
	int total = mip4_request_encoded_len(req, mn_ha, mn_fa);
	size_t start;
	int rc;

	if (total < 0 || !w || !writer_ok(w))
		return total < 0 ? total : -EINVAL;
	if (writer_room(w) < (size_t)total)
		return -ENOSPC;
	start = writer_len(w);
	/* Fixed part, §3.3. */
	writer_u8(w, MIP4_MSG_REG_REQUEST);
	writer_u8(w, req->flags);
	writer_be16(w, req->lifetime);
	write_addr(w, req->home_addr);
	write_addr(w, req->home_agent);
	write_addr(w, req->coa);
	writer_be64(w, req->ident);
	/* §3.6.1.3 b: extensions for the HA, covered by MN-HA. */
	write_nai(w, &req->nai);
	if (req->udp_req.present)
		write_udp_req(w, &req->udp_req);
	/* c: the authorization-enabling extension. */
	rc = mip4_auth_append(w, start, MIP4_EXT_MN_HA_AUTH, mn_ha);
	/* d: extensions for the FA only (RFC 3024 §3.3). */
	if (rc == 0 && req->eds) {
		writer_u8(w, MIP4_EXT_EDS);
		writer_u8(w, 0);
	}
	/* e: Mobile-Foreign Authentication. */
	if (rc == 0)
		rc = append_auth(w, start, MIP4_EXT_MN_FA_AUTH, mn_fa);
	if (rc == 0 && writer_len(w) - start != (size_t)total)
		rc = -EIO;
	return rc < 0 ? rc : total;
}

static int reply_check(const struct mip4_reg_reply *rep, const struct mip4_key *mn_ha,
		       const struct mip4_key *mn_fa)
{
	if (!rep || (mn_ha && !key_ok(mn_ha)) || (mn_fa && !key_ok(mn_fa)))
		return -EINVAL;
	if (!nai_ok(&rep->nai))
		return -EINVAL;
	/* §3.4: the HA's replies are authenticated; the UDP Tunnel Reply and the TNC must be
	 * covered (RFC 3519 §3.2; RFC 5265 §3.4 is worthless unauthenticated). */
	if (!mn_ha && (mip4_code_is_from_ha(rep->code) || rep->udp_reply.present ||
		       rep->tnc.present))
		return -EINVAL;
	return 0;
}

int mip4_reply_encoded_len(const struct mip4_reg_reply *rep, const struct mip4_key *mn_ha,
			   const struct mip4_key *mn_fa)
{
	int rc = reply_check(rep, mn_ha, mn_fa);
	size_t n;

	if (rc < 0)
		return rc;
	n = MIP4_REPLY_FIXED_LEN + nai_ext_len(&rep->nai) + auth_ext_len(mn_ha) +
	    auth_ext_len(mn_fa);
	if (rep->udp_reply.present)
		n += 2 + MIP4_UDPT_LEN;
	if (rep->tnc.present)
		n += 2 + MIP4_TNC_LEN;
	return (int)n;
}

int mip4_reply_encode(struct writer *w, const struct mip4_reg_reply *rep,
		      const struct mip4_key *mn_ha, const struct mip4_key *mn_fa)
{
	int total = mip4_reply_encoded_len(rep, mn_ha, mn_fa);
	size_t start;
	int rc;

	if (total < 0 || !w || !writer_ok(w))
		return total < 0 ? total : -EINVAL;
	if (writer_room(w) < (size_t)total)
		return -ENOSPC;
	start = writer_len(w);
	/* Fixed part, §3.4. */
	writer_u8(w, MIP4_MSG_REG_REPLY);
	writer_u8(w, rep->code);
	writer_be16(w, rep->lifetime);
	write_addr(w, rep->home_addr);
	write_addr(w, rep->home_agent);
	writer_be64(w, rep->ident);
	/* §3.8.3.3 b: extensions for the MN (RFC 5265 §3.4's TNC among them, so that the
	 * authenticator covers it), then c: MN-HA. */
	write_nai(w, &rep->nai);
	if (rep->udp_reply.present)
		write_udp_reply(w, &rep->udp_reply);
	if (rep->tnc.present)
		write_tnc(w);
	rc = append_auth(w, start, MIP4_EXT_MN_HA_AUTH, mn_ha);
	/* §3.7.3.2: a foreign agent's Mobile-Foreign Authentication goes last. */
	if (rc == 0)
		rc = append_auth(w, start, MIP4_EXT_MN_FA_AUTH, mn_fa);
	if (rc == 0 && writer_len(w) - start != (size_t)total)
		rc = -EIO;
	return rc < 0 ? rc : total;
}

/* --- MIP Tunnel Data header (RFC 3519 §3.3) ------------------------------------------- */

int mip4_tunnel_hdr_parse(struct reader *r, uint8_t *next_header)
{
	uint8_t type, nh;

	if (!r || !next_header)
		return -EINVAL;
	if (!reader_peek_u8(r, &type))
		return -EBADMSG;
	if (type != MIP4_MSG_TUNNEL_DATA)
		return -ENOMSG;
	if (reader_remaining(r) < MIP4_TUNNEL_HDR_LEN) {
		reader_fail(r);
		return -EBADMSG;
	}
	reader_skip(r, 1);
	reader_u8(r, &nh);
	reader_skip(r, 2);  /* Reserved: ignored on reception */
	*next_header = nh;
	return 0;
}

int mip4_tunnel_hdr_encode(struct writer *w, uint8_t next_header)
{
	if (!w)
		return -EINVAL;
	if (writer_room(w) < MIP4_TUNNEL_HDR_LEN)
		return -ENOSPC;
	writer_u8(w, MIP4_MSG_TUNNEL_DATA);
	writer_u8(w, next_header);
	writer_be16(w, 0);
	return MIP4_TUNNEL_HDR_LEN;
}
