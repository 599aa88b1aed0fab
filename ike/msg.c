/* IKEv2 message codec, stage 1: header and generic payload chain, and the message builder.
 * See msg.h for the contract. */
#include "ike/msg.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Notify types stage 1 can ask for (RFC 7296 3.10.1); names in common/names.c. */
#define N_UNSUPPORTED_CRITICAL_PAYLOAD 1
#define N_INVALID_MAJOR_VERSION        5

#define CRITICAL_BIT 0x80u

bool ike_payload_type_known(uint8_t type)
{
	return (type >= IKE_PT_SA && type <= IKE_PT_EAP) || type == IKE_PT_SKF;
}

static int fail(struct ike_parse_error *err, int code, const char *what, size_t offset,
		uint8_t type, uint16_t notify)
{
	if (err) {
		err->what = what;
		err->offset = offset;
		err->payload_type = type;
		err->notify = notify;
	}
	return code;
}

/* --- header ---------------------------------------------------------------------------- */

static int parse_header(struct reader *r, size_t len, struct ike_header *h,
			struct ike_parse_error *err)
{
	struct ike_header v;

	reader_be64(r, &v.spi_i);
	reader_be64(r, &v.spi_r);
	reader_u8(r, &v.next_payload);
	reader_u8(r, &v.version);
	reader_u8(r, &v.exchange);
	reader_u8(r, &v.flags);
	reader_be32(r, &v.msg_id);
	if (!reader_be32(r, &v.length))
		return fail(err, -EBADMSG, "shorter than the IKE header", 0, 0, 0);
	/* 2.5: a higher major version is answered (requests only) with INVALID_MAJOR_VERSION;
	 * IKEv1 (major 1) and anything else is not ours to parse. The minor is ignored. */
	if ((v.version >> 4) != IKE_VERSION_MAJOR)
		return fail(err, -EPROTONOSUPPORT, "major version is not 2", 17, 0,
			    (v.version >> 4) > IKE_VERSION_MAJOR && !(v.flags & IKE_FLAG_R) ?
			    N_INVALID_MAJOR_VERSION : 0);
	/* 3.1: Length is the whole message; one message per datagram. */
	if (v.length != len)
		return fail(err, -EBADMSG, "header Length differs from the datagram length", 24,
			    0, 0);
	*h = v;
	return 0;
}

int ike_hdr_parse(const uint8_t *data, size_t len, struct ike_header *out,
		  struct ike_parse_error *err)
{
	struct reader r;

	reader_init(&r, data, len);
	return parse_header(&r, len, out, err);
}

/* --- payload chain --------------------------------------------------------------------- */

/* Record the SK/SKF payload at off whose body (after the generic header) is in body. Its Next
 * Payload is the first inner type, not a link in the chain (3.14). */
static int take_sk(struct reader *body, uint8_t type, uint8_t next, uint8_t flags, size_t off,
		   struct ike_msg_sk *sk, struct ike_parse_error *err)
{
	struct ike_msg_sk v = {
		.present = true,
		.type = type,
		.inner_first = next,
		.critical = (flags & CRITICAL_BIT) != 0,
		.hdr_off = off,
		.data_off = off + IKE_GENERIC_HDR_LEN,
	};

	if (type == IKE_PT_SKF) {
		reader_be16(body, &v.frag_num);
		if (!reader_be16(body, &v.frag_total))
			return fail(err, -EBADMSG, "SKF without fragment fields", off, type, 0);
		/* RFC 7383 2.5, 2.6: 1 <= number <= total; a Next Payload only in number 1. */
		if (v.frag_num == 0 || v.frag_total == 0 || v.frag_num > v.frag_total)
			return fail(err, -EBADMSG, "bad SKF fragment number/total", off, type, 0);
		if (v.frag_num > 1 && next != IKE_PT_NONE)
			return fail(err, -EBADMSG, "SKF > 1 with a Next Payload", off, type, 0);
		v.data_off += IKE_SKF_FRAG_LEN;
	}
	v.data_len = reader_remaining(body);
	*sk = v;
	return 0;
}

/* Walk payloads from r (positioned at the first generic header, base = its offset in the
 * caller's buffer) starting with type `type`. When sk is not NULL an SK/SKF payload ends the
 * walk and is reported there; otherwise SK/SKF is refused. */
static int walk_chain(struct reader *r, size_t base, uint8_t type, bool is_request,
		      struct ike_chain *chain, struct ike_msg_sk *sk,
		      struct ike_parse_error *err)
{
	chain->count = 0;
	chain->skipped = 0;
	while (type != IKE_PT_NONE) {
		size_t off = base + reader_offset(r);
		uint8_t next, flags;
		uint16_t plen;
		struct reader body;
		const uint8_t *view;
		size_t n;

		reader_u8(r, &next);
		reader_u8(r, &flags);
		if (!reader_be16(r, &plen))
			return fail(err, -EBADMSG, "truncated payload header", off, type, 0);
		if (plen < IKE_GENERIC_HDR_LEN)
			return fail(err, -EBADMSG, "payload length shorter than its header", off,
				    type, 0);
		if (!reader_sub(r, plen - IKE_GENERIC_HDR_LEN, &body))
			return fail(err, -EBADMSG, "payload runs past the end", off, type, 0);
		if (type == IKE_PT_SK || type == IKE_PT_SKF) {
			/* 3.14: SK must be the last payload and never nests; RFC 7383 2.5 the
			 * same for SKF. */
			if (!sk)
				return fail(err, -EBADMSG, "SK inside SK", off, type, 0);
			if (reader_remaining(r) != 0)
				return fail(err, -EBADMSG, "SK not last", off, type, 0);
			return take_sk(&body, type, next, flags, off, sk, err);
		}
		if (!ike_payload_type_known(type)) {
			/* 2.5: unknown and critical rejects the message; otherwise skip it. */
			if (flags & CRITICAL_BIT)
				return fail(err, -EOPNOTSUPP, "unsupported critical payload", off,
					    type, is_request ? N_UNSUPPORTED_CRITICAL_PAYLOAD : 0);
			chain->skipped++;
			type = next;
			continue;
		}
		if (chain->count == IKE_MAX_PAYLOADS)
			return fail(err, -E2BIG, "too many payloads", off, type, 0);
		reader_view_rest(&body, &view, &n);
		chain->p[chain->count++] = (struct ike_payload_ref){
			.type = type,
			.critical = (flags & CRITICAL_BIT) != 0,
			.offset = off,
			.body = view,
			.body_len = n,
		};
		type = next;
	}
	if (reader_remaining(r) != 0)
		return fail(err, -EBADMSG, "octets after the last payload", base + reader_offset(r),
			    0, 0);
	return 0;
}

int ike_msg_parse(const uint8_t *data, size_t len, struct ike_msg *out,
		  struct ike_parse_error *err)
{
	struct ike_msg m;	/* ~2.7 KB: built aside so *out stays untouched on failure */
	struct reader r;
	int rc;

	memset(&m.sk, 0, sizeof(m.sk));
	reader_init(&r, data, len);
	rc = parse_header(&r, len, &m.hdr, err);
	if (rc)
		return rc;
	rc = walk_chain(&r, 0, m.hdr.next_payload, !ike_hdr_is_response(&m.hdr), &m.chain, &m.sk,
			err);
	if (rc)
		return rc;
	memcpy(out, &m, sizeof(m));
	return 0;
}

int ike_chain_parse(const uint8_t *data, size_t len, uint8_t first_type, size_t base_off,
		    bool is_request, struct ike_chain *out, struct ike_parse_error *err)
{
	struct ike_chain c;
	struct reader r;
	int rc;

	reader_init(&r, data, len);
	rc = walk_chain(&r, base_off, first_type, is_request, &c, NULL, err);
	if (rc)
		return rc;
	memcpy(out, &c, sizeof(c));
	return 0;
}

int ike_msg_sk_split(const struct ike_msg_sk *sk, size_t iv_len, size_t icv_len,
		     struct ike_sk_regions *out)
{
	/* At least the Pad Length octet must be encrypted (3.14). */
	if (!sk->present || sk->data_len < iv_len || sk->data_len - iv_len < icv_len ||
	    sk->data_len - iv_len - icv_len < 1)
		return -EBADMSG;
	out->iv_off = sk->data_off;
	out->ct_off = sk->data_off + iv_len;
	out->ct_len = sk->data_len - iv_len - icv_len;
	out->icv_off = out->ct_off + out->ct_len;
	return 0;
}

/* --- builder --------------------------------------------------------------------------- */

enum { B_UNUSED, B_CLEAR, B_SK, B_SK_RAW, B_DONE };

#define NO_OFF SIZE_MAX

static int b_fail(struct ike_builder *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

/* The writer's failure is the only way a write can fail: map it to -ENOSPC. */
static int b_check(struct ike_builder *b)
{
	if (b->err)
		return b->err;
	if (!writer_ok(b->w))
		return b_fail(b, -ENOSPC);
	return 0;
}

static void b_init(struct ike_builder *b, struct writer *w)
{
	memset(b, 0, sizeof(*b));
	b->w = w;
	b->start = writer_len(w);
	b->np_off = NO_OFF;
	b->open_off = NO_OFF;
	b->sk_off = NO_OFF;
	b->state = B_CLEAR;
}

int ike_build_start(struct ike_builder *b, struct writer *w, const struct ike_header *hdr)
{
	b_init(b, w);
	b->has_header = true;
	writer_be64(w, hdr->spi_i);
	writer_be64(w, hdr->spi_r);
	b->np_off = writer_len(w);
	writer_u8(w, IKE_PT_NONE);
	writer_u8(w, hdr->version ? hdr->version : IKE_VERSION);
	writer_u8(w, hdr->exchange);
	writer_u8(w, hdr->flags);
	writer_be32(w, hdr->msg_id);
	writer_be32(w, 0);           /* Length, patched at the end */
	return b_check(b);
}

int ike_build_start_chain(struct ike_builder *b, struct writer *w)
{
	b_init(b, w);
	return b_check(b);
}

uint8_t ike_build_chain_first(const struct ike_builder *b)
{
	return b->first;
}

/* Put type into the Next Payload field that precedes the new payload. */
static void b_link(struct ike_builder *b, uint8_t type)
{
	if (b->np_off == NO_OFF)
		b->first = type;
	else
		writer_patch_u8(b->w, b->np_off, type);
}

int ike_build_payload_begin(struct ike_builder *b, uint8_t type, size_t *hdr_off)
{
	size_t off;

	if (b->err)
		return b->err;
	if ((b->state != B_CLEAR && b->state != B_SK) || b->open_off != NO_OFF ||
	    type == IKE_PT_NONE || type == IKE_PT_SK || type == IKE_PT_SKF)
		return b_fail(b, -EINVAL);
	b_link(b, type);
	off = writer_len(b->w);
	writer_u8(b->w, IKE_PT_NONE);
	writer_u8(b->w, 0);          /* critical clear, RESERVED zero (3.2) */
	writer_be16(b->w, 0);
	if (b_check(b))
		return b->err;
	b->np_off = off;
	b->open_off = off;
	*hdr_off = off;
	return 0;
}

int ike_build_payload_end(struct ike_builder *b, size_t hdr_off)
{
	size_t len;

	if (b->err)
		return b->err;
	if (hdr_off != b->open_off)
		return b_fail(b, -EINVAL);
	if (b_check(b))
		return b->err;
	len = writer_len(b->w) - hdr_off;
	if (len > IKE_PAYLOAD_MAX_LEN)
		return b_fail(b, -EMSGSIZE);
	writer_patch_be16(b->w, hdr_off + 2, (uint16_t)len);
	b->open_off = NO_OFF;
	return b_check(b);
}

int ike_build_raw(struct ike_builder *b, uint8_t type, const void *body, size_t len)
{
	size_t off;
	int rc = ike_build_payload_begin(b, type, &off);

	if (rc)
		return rc;
	writer_bytes(b->w, body, len);
	return ike_build_payload_end(b, off);
}

int ike_build_sk_begin(struct ike_builder *b, uint8_t type, uint16_t frag_num,
		       uint16_t frag_total, size_t iv_len)
{
	size_t off;

	if (b->err)
		return b->err;
	if (b->state != B_CLEAR || !b->has_header || b->open_off != NO_OFF ||
	    (type != IKE_PT_SK && type != IKE_PT_SKF) ||
	    (type == IKE_PT_SKF && (frag_num == 0 || frag_total == 0 || frag_num > frag_total)))
		return b_fail(b, -EINVAL);
	b_link(b, type);
	off = writer_len(b->w);
	writer_u8(b->w, IKE_PT_NONE);  /* first inner type, patched by the first inner payload */
	writer_u8(b->w, 0);
	writer_be16(b->w, 0);
	if (type == IKE_PT_SKF) {
		writer_be16(b->w, frag_num);
		writer_be16(b->w, frag_total);
	}
	b->sk_iv_off = writer_len(b->w);
	writer_zeros(b->w, iv_len);
	if (b_check(b))
		return b->err;
	b->np_off = off;
	b->sk_off = off;
	b->sk_plain_off = writer_len(b->w);
	b->state = B_SK;
	return 0;
}

int ike_build_sk_raw(struct ike_builder *b, uint8_t next_payload, const void *data,
		     size_t len)
{
	if (b->err)
		return b->err;
	/* Only into an SK that has no inner payload yet (its Next Payload is still ours). */
	if (b->state != B_SK || b->open_off != NO_OFF || b->np_off != b->sk_off)
		return b_fail(b, -EINVAL);
	writer_patch_u8(b->w, b->sk_off, next_payload);
	writer_bytes(b->w, data, len);
	b->state = B_SK_RAW;
	return b_check(b);
}

/* Patch the SK Payload Length and the header Length to the octets written so far. */
static int patch_sk_lengths(struct ike_builder *b)
{
	size_t sk_len = writer_len(b->w) - b->sk_off;
	size_t total = writer_len(b->w) - b->start;

	if (sk_len > IKE_PAYLOAD_MAX_LEN || total > UINT32_MAX)
		return b_fail(b, -EMSGSIZE);
	writer_patch_be16(b->w, b->sk_off + 2, (uint16_t)sk_len);
	writer_patch_be32(b->w, b->start + 24, (uint32_t)total);
	return b_check(b);
}

int ike_build_sk_end(struct ike_builder *b, size_t block_len, size_t icv_len,
		     struct ike_build_sk_layout *out)
{
	size_t plain_len, pad, total, icv_off;

	if (b->err)
		return b->err;
	if ((b->state != B_SK && b->state != B_SK_RAW) || b->open_off != NO_OFF ||
	    block_len == 0 || block_len > 256)
		return b_fail(b, -EINVAL);
	plain_len = writer_len(b->w) - b->sk_plain_off;
	/* 3.14: payloads | Padding | Pad Length is a multiple of the block size; send the
	 * minimum ("SHOULD"). block_len <= 256 keeps pad <= 255. */
	pad = (block_len - (plain_len + 1) % block_len) % block_len;
	writer_zeros(b->w, pad);
	writer_u8(b->w, (uint8_t)pad);
	icv_off = writer_len(b->w);
	writer_zeros(b->w, icv_len);
	if (b_check(b))
		return b->err;
	if (patch_sk_lengths(b))
		return b->err;
	total = writer_len(b->w) - b->start;
	b->state = B_DONE;
	*out = (struct ike_build_sk_layout){
		.msg_off = b->start,
		.sk_off = b->sk_off,
		.iv_off = b->sk_iv_off,
		.iv_len = b->sk_plain_off - b->sk_iv_off,
		.plain_off = b->sk_plain_off,
		.plain_len = plain_len,
		.pad_len = pad,
		.icv_off = icv_off,
		.icv_len = icv_len,
		.msg_len = total,
	};
	return 0;
}

int ike_build_sk_close(struct ike_builder *b)
{
	if (b->err)
		return b->err;
	if ((b->state != B_SK && b->state != B_SK_RAW) || b->open_off != NO_OFF)
		return b_fail(b, -EINVAL);
	if (patch_sk_lengths(b))
		return b->err;
	b->state = B_DONE;
	return 0;
}

int ike_build_finish(struct ike_builder *b, size_t *len)
{
	size_t total;

	if (b->err)
		return b->err;
	if (b->state == B_SK || b->state == B_SK_RAW || b->open_off != NO_OFF)
		return b_fail(b, -EINVAL);
	if (b_check(b))
		return b->err;
	total = writer_len(b->w) - b->start;
	if (b->state == B_CLEAR && b->has_header) {
		if (total > UINT32_MAX)
			return b_fail(b, -EMSGSIZE);
		writer_patch_be32(b->w, b->start + 24, (uint32_t)total);
	}
	b->state = B_DONE;
	if (len)
		*len = total;
	return b_check(b);
}
