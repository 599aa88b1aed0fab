/* Fuzz target: Mobile IPv4 Registration Request / Reply codec (mip4/reg.c, mip4/auth.c).
 *
 * Every input is parsed both as a Request and as a Reply. When a parse succeeds:
 *  - the authentication extensions it located must lie inside the input and point at their
 *    own Type byte, and verifying them with a fixed key must not crash;
 *  - a reply's Trusted Networks Configured extension (RFC 5265 §3.4) counts as protected only
 *    when it sits before a Mobile-Home Authentication extension, and then its four bytes
 *    (149, 2, 0, any) lie inside the region that authenticator covers;
 *  - the decoded value, made canonical (reserved bits cleared, FA-appended extensions the
 *    encoder does not write dropped), must encode; the encoding must parse back to the same
 *    value, authenticate with the fixed key, and re-encode to the very same bytes.
 * A failed parse must leave its output untouched. Any violation is a __builtin_trap().
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mip4/reg.h"

#define FUZZ_SPI_MN_HA 0x1000
#define FUZZ_SPI_MN_FA 0x2000

static struct mip4_key key_mn_ha, key_mn_fa;
static bool keys_ready;

static void keys_init(void)
{
	if (keys_ready)
		return;
	mip4_key_set(&key_mn_ha, FUZZ_SPI_MN_HA, "0123456789abcdef", 16);
	mip4_key_set(&key_mn_fa, FUZZ_SPI_MN_FA, "fa-secret-key-16", 16);
	keys_ready = true;
}

static int fixed_lookup(void *ctx, uint8_t type, uint32_t spi, struct mip4_key *out)
{
	(void)ctx;
	(void)type;
	if (spi == FUZZ_SPI_MN_HA)
		*out = key_mn_ha;
	else if (spi == FUZZ_SPI_MN_FA)
		*out = key_mn_fa;
	else
		return -1;
	return 0;
}

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

/* An authentication extension the parser located must describe bytes of the input. */
static void check_auth_ext(const uint8_t *data, size_t size, const struct mip4_auth_ext *a)
{
	if (!a->present)
		return;
	check(a->auth_off == a->ext_off + MIP4_AUTH_HDR_LEN);
	check(a->auth_len >= MIP4_AUTH_MIN_LEN);
	check(a->auth_off <= size && a->auth_len <= size - a->auth_off);
	check(data[a->ext_off] == a->type);
	check(data[a->ext_off + 1] == a->auth_len + 4);
	(void)mip4_auth_verify(data, size, a, fixed_lookup, NULL);
}

/* RFC 5265 §3.4: protected means before MN-HA, so inside what MN-HA covers (RFC 5944
 * §3.5.1): some 149/2/0 sits in [fixed part, MN-HA Type byte). */
static void check_tnc(const uint8_t *data, size_t size, const struct mip4_reg_reply *rep)
{
	bool found = false;

	check(!rep->tnc.present || rep->tnc.where == MIP4_EXT_BEFORE_MN_HA ||
	      rep->tnc.where == MIP4_EXT_AFTER_MN_HA);
	if (!mip4_reply_tnc_protected(rep))
		return;
	check(rep->mn_ha.present && rep->mn_ha.ext_off <= size);
	for (size_t i = MIP4_REPLY_FIXED_LEN; i + 4 <= rep->mn_ha.ext_off; i++)
		if (data[i] == MIP4_EXT_TNC && data[i + 1] == MIP4_TNC_LEN && data[i + 2] == 0)
			found = true;
	check(found);
}

static bool same_nai(const struct mip4_nai *a, const struct mip4_nai *b)
{
	return a->present == b->present &&
	       (!a->present || (a->len == b->len && memcmp(a->text, b->text, a->len) == 0));
}

static bool same_request(const struct mip4_reg_request *a, const struct mip4_reg_request *b)
{
	return a->flags == b->flags && a->lifetime == b->lifetime &&
	       a->home_addr.s_addr == b->home_addr.s_addr &&
	       a->home_agent.s_addr == b->home_agent.s_addr && a->coa.s_addr == b->coa.s_addr &&
	       a->ident == b->ident && same_nai(&a->nai, &b->nai) &&
	       a->udp_req.present == b->udp_req.present &&
	       (!a->udp_req.present || (a->udp_req.flags == b->udp_req.flags &&
					a->udp_req.encap == b->udp_req.encap)) &&
	       a->eds == b->eds && a->mn_fa.present == b->mn_fa.present;
}

static bool same_reply(const struct mip4_reg_reply *a, const struct mip4_reg_reply *b)
{
	const struct mip4_udp_tunnel_reply *u = &a->udp_reply, *v = &b->udp_reply;

	return a->code == b->code && a->lifetime == b->lifetime &&
	       a->home_addr.s_addr == b->home_addr.s_addr &&
	       a->home_agent.s_addr == b->home_agent.s_addr && a->ident == b->ident &&
	       same_nai(&a->nai, &b->nai) && u->present == v->present &&
	       (!u->present || (u->code == v->code && u->forced == v->forced &&
				u->keepalive == v->keepalive)) &&
	       a->tnc.present == b->tnc.present &&
	       (!a->tnc.present || a->tnc.where == b->tnc.where) &&
	       mip4_reply_tnc_protected(a) == mip4_reply_tnc_protected(b) &&
	       a->mn_ha.present == b->mn_ha.present && a->mn_fa.present == b->mn_fa.present;
}

/* Encode v, parse it back, compare, re-encode, compare bytes. */
static void request_round_trip(struct mip4_reg_request v)
{
	uint8_t buf[1024], buf2[1024];
	const struct mip4_key *mn_fa = v.mn_fa.present ? &key_mn_fa : NULL;
	struct mip4_reg_request back;
	struct writer w;
	int n, n2;

	/* Canonical form: what mip4_request_encode() can write. */
	v.flags &= (uint8_t)~MIP4_REQ_RESERVED;
	if (v.udp_req.present && v.udp_req.where == MIP4_EXT_AFTER_MN_HA)
		v.udp_req.present = false;
	if (v.udp_req.present)
		v.flags |= MIP4_REQ_D;

	writer_init(&w, buf, sizeof(buf));
	n = mip4_request_encode(&w, &v, &key_mn_ha, mn_fa);
	check(n > 0 && (size_t)n == writer_len(&w));
	check(mip4_request_encoded_len(&v, &key_mn_ha, mn_fa) == n);
	check(mip4_request_parse(buf, (size_t)n, &back) == 0);
	check(same_request(&v, &back));
	check(mip4_auth_verify(buf, (size_t)n, &back.mn_ha, fixed_lookup, NULL) == 0);
	if (mn_fa)
		check(mip4_auth_verify(buf, (size_t)n, &back.mn_fa, fixed_lookup, NULL) == 0);
	writer_init(&w, buf2, sizeof(buf2));
	n2 = mip4_request_encode(&w, &back, &key_mn_ha, mn_fa);
	check(n2 == n && memcmp(buf, buf2, (size_t)n) == 0);
}

static void reply_round_trip(const struct mip4_reg_reply *orig)
{
	struct mip4_reg_reply canon = *orig;
	const struct mip4_reg_reply *v = &canon;
	uint8_t buf[1024], buf2[1024];
	const struct mip4_key *mn_ha = v->mn_ha.present ? &key_mn_ha : NULL;
	const struct mip4_key *mn_fa = v->mn_fa.present ? &key_mn_fa : NULL;
	struct mip4_reg_reply back;
	struct writer w;
	int n, n2;

	/* Canonical form: the encoder writes a TNC only before MN-HA (a TNC after it, or in a
	 * reply without one, is what it cannot write). */
	if (canon.tnc.present && canon.tnc.where == MIP4_EXT_AFTER_MN_HA)
		canon.tnc.present = false;
	canon.tnc.where = MIP4_EXT_BEFORE_MN_HA;
	writer_init(&w, buf, sizeof(buf));
	n = mip4_reply_encode(&w, v, mn_ha, mn_fa);
	check(n > 0 && (size_t)n == writer_len(&w));
	check(mip4_reply_parse(buf, (size_t)n, &back) == 0);
	check(same_reply(v, &back));
	if (mn_ha)
		check(mip4_auth_verify(buf, (size_t)n, &back.mn_ha, fixed_lookup, NULL) == 0);
	writer_init(&w, buf2, sizeof(buf2));
	n2 = mip4_reply_encode(&w, &back, mn_ha, mn_fa);
	check(n2 == n && memcmp(buf, buf2, (size_t)n) == 0);
}

static void fuzz_request(const uint8_t *data, size_t size)
{
	struct mip4_reg_request req, sentinel;

	memset(&sentinel, 0x6b, sizeof(sentinel));
	req = sentinel;
	if (mip4_request_parse(data, size, &req) != 0) {
		check(memcmp(&req, &sentinel, sizeof(req)) == 0);
		return;
	}
	check(req.mn_ha.present);
	check(!req.eds || (req.flags & MIP4_REQ_T));
	check(!req.nai.present || (req.nai.len > 0 && req.nai.text[req.nai.len] == '\0' &&
				   strlen(req.nai.text) == req.nai.len));
	check_auth_ext(data, size, &req.mn_ha);
	check_auth_ext(data, size, &req.mn_fa);
	check_auth_ext(data, size, &req.fa_ha);
	check(!(req.mn_fa.present && req.fa_ha.present));
	request_round_trip(req);
}

static void fuzz_reply(const uint8_t *data, size_t size)
{
	struct mip4_reg_reply rep, sentinel;

	memset(&sentinel, 0x6b, sizeof(sentinel));
	rep = sentinel;
	if (mip4_reply_parse(data, size, &rep) != 0) {
		check(memcmp(&rep, &sentinel, sizeof(rep)) == 0);
		return;
	}
	check(!mip4_code_is_from_ha(rep.code) || rep.mn_ha.present);
	check(!rep.udp_reply.present || rep.mn_ha.present);
	check_tnc(data, size, &rep);
	check_auth_ext(data, size, &rep.mn_ha);
	check_auth_ext(data, size, &rep.mn_fa);
	check_auth_ext(data, size, &rep.fa_ha);
	reply_round_trip(&rep);
}

static void fuzz_tunnel_header(const uint8_t *data, size_t size)
{
	struct reader r;
	uint8_t nh;

	reader_init(&r, data, size);
	if (mip4_tunnel_hdr_parse(&r, &nh) == 0)
		check(reader_offset(&r) == MIP4_TUNNEL_HDR_LEN && data[1] == nh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	keys_init();
	check(mip4_msg_type(data, size) == (size ? data[0] : -EBADMSG));
	fuzz_request(data, size);
	fuzz_reply(data, size);
	fuzz_tunnel_header(data, size);
	return 0;
}
