/* Fuzz target: the IKEv2 message codec (ike/msg.c, ike/payload*.c, ike/rules.c).
 *
 * Every input is parsed as an IKE message (stage 1). An SK or SKF payload's IV|ciphertext|ICV
 * region is treated as already decrypted: its octets are walked as the inner payload chain
 * (the fuzzer cannot forge an ICV, so this is how it reaches the inner decoders). Then every
 * payload is decoded (stage 2) and the rules are checked (stage 3), before and after
 * "decryption". Invariants, each a __builtin_trap() when broken:
 *  - a failed parse leaves its output untouched; error reports are consistent;
 *  - every payload view and the SK region lie inside the input;
 *  - a message whose payloads all decode re-encodes (builder + encoders), the encoding parses
 *    and decodes to the same values (unknown attributes and selectors, which the encoders
 *    cannot write, dropped first), and encoding that again gives the very same octets.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ike/msg.h"
#include "ike/payload.h"
#include "ike/rules.h"

#define MAX_OUT 70000

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void check_chain(const uint8_t *data, size_t size, const struct ike_chain *c)
{
	check(c->count <= IKE_MAX_PAYLOADS);
	for (size_t i = 0; i < c->count; i++) {
		const struct ike_payload_ref *p = &c->p[i];

		check(ike_payload_type_known(p->type) && p->type != IKE_PT_SK &&
		      p->type != IKE_PT_SKF);
		check(p->body >= data && p->body_len <= size &&
		      (size_t)(p->body - data) <= size - p->body_len);
	}
}

/* What the encoders cannot write back: unknown transform attributes (3.3.6) and traffic
 * selectors of unknown types. Returns false if nothing encodable is left. */
static bool canonical(struct ike_payload_value *v)
{
	if (v->type == IKE_PT_SA) {
		for (size_t i = 0; i < v->u.sa.n_proposals; i++)
			for (size_t j = 0; j < v->u.sa.p[i].n_transforms; j++)
				v->u.sa.p[i].t[j].unknown_attr = false;
	}
	if (v->type == IKE_PT_TSI || v->type == IKE_PT_TSR) {
		v->u.ts.n_unknown = 0;
		return v->u.ts.n > 0;
	}
	return true;
}

/* Notify values with their own decoder and encoder (MM_ESP_RECEIVED, private): what
 * decodes encodes to a notify that decodes to the same values. */
static void check_notify_value(const struct ike_notify *n)
{
	uint8_t buf[64];
	struct writer w;
	struct ike_builder b;
	struct ike_chain c;
	struct ike_notify back;
	uint32_t spi = 0, spi2 = 0;
	uint64_t seq = 0, seq2 = 0;
	size_t len = 0;

	if (ike_notify_esp_received(n, &spi, &seq) != 0)
		return;
	writer_init(&w, buf, sizeof(buf));
	ike_build_start_chain(&b, &w);
	check(ike_notify_add_esp_received(&b, spi, seq) == 0 && ike_build_finish(&b, &len) == 0);
	check(ike_chain_parse(buf, len, ike_build_chain_first(&b), 0, true, &c, NULL) == 0 &&
	      c.count == 1);
	check(ike_notify_decode(&c.p[0], &back) == 0 &&
	      ike_notify_esp_received(&back, &spi2, &seq2) == 0 && spi2 == spi && seq2 == seq);
}

/* Decode every payload of c; true if all decode (and are encodable). */
static bool decode_all(const struct ike_chain *c, bool response)
{
	static struct ike_payload_value v, sentinel;
	bool all = true;

	memset(&sentinel, 0x6b, sizeof(sentinel));
	for (size_t i = 0; i < c->count; i++) {
		v = sentinel;
		if (ike_payload_decode(&c->p[i], response, &v) != 0) {
			check(memcmp(&v, &sentinel, sizeof(v)) == 0);
			all = false;
			continue;
		}
		check(v.type == c->p[i].type);
		if (v.type == IKE_PT_NOTIFY)
			check_notify_value(&v.u.notify);
		all = canonical(&v) && all;
	}
	return all;
}

static int encode_chain(struct ike_builder *b, const struct ike_chain *c, bool response)
{
	static struct ike_payload_value v;
	int rc;

	for (size_t i = 0; i < c->count; i++) {
		rc = ike_payload_decode(&c->p[i], response, &v);
		if (rc)
			return rc;
		canonical(&v);
		rc = ike_payload_encode(b, &v);
		if (rc)
			return rc;
	}
	return 0;
}

/* Both chains must hold the same decoded values. */
static void compare_chains(const struct ike_chain *a, const struct ike_chain *b, bool response)
{
	static struct ike_payload_value x, y;

	check(a->count == b->count && b->skipped == 0);
	for (size_t i = 0; i < a->count; i++) {
		check(ike_payload_decode(&a->p[i], response, &x) == 0);
		check(ike_payload_decode(&b->p[i], response, &y) == 0);
		canonical(&x);
		check(ike_payload_equal(&x, &y));
	}
}

/* Encode header, clear chain and (if any) SK with the inner chain as plaintext. */
static int encode_msg(const struct ike_msg *m, const struct ike_chain *inner, uint8_t *out,
		      size_t cap, size_t *len)
{
	struct writer w;
	struct ike_builder b;
	bool response = ike_hdr_is_response(&m->hdr);
	int rc;

	writer_init(&w, out, cap);
	ike_build_start(&b, &w, &m->hdr);
	rc = encode_chain(&b, &m->chain, response);
	if (rc)
		return rc;
	if (m->sk.present) {
		ike_build_sk_begin(&b, m->sk.type, m->sk.frag_num, m->sk.frag_total, 0);
		rc = encode_chain(&b, inner, response);
		if (rc)
			return rc;
		ike_build_sk_close(&b);
	}
	return ike_build_finish(&b, len);
}

/* The SK region as a view of the input, parsed as the inner chain. */
static int inner_chain(const uint8_t *data, size_t size, const struct ike_msg *m,
		       struct ike_chain *inner)
{
	struct ike_parse_error err;
	struct reader r;
	const uint8_t *content;
	int rc;

	reader_init(&r, data, size);
	check(reader_skip(&r, m->sk.data_off) && reader_view(&r, m->sk.data_len, &content));
	check(reader_remaining(&r) == 0);
	rc = ike_chain_parse(content, m->sk.data_len, m->sk.inner_first, m->sk.data_off,
			     !ike_hdr_is_response(&m->hdr), inner, &err);
	if (rc == -EOPNOTSUPP)
		check(!ike_payload_type_known(err.payload_type));
	return rc;
}

static void rules(const struct ike_msg *m, const struct ike_chain *inner)
{
	struct ike_rule_result res;
	char line[256];
	int rc = ike_rules_check(m, inner, &res);

	check(rc == 0 || rc == -EBADMSG || rc == -EOPNOTSUPP);
	if (rc == 0)
		return;
	check(res.kind != IKE_RULE_OK && res.shape != NULL);
	check(res.notify == 0 || (inner && !ike_hdr_is_response(&m->hdr)));
	ike_rule_describe(&res, line, sizeof(line));
	check(memchr(line, 0, sizeof(line)) != NULL);
}

static void round_trip(const struct ike_msg *m, const struct ike_chain *inner)
{
	static uint8_t out[MAX_OUT], out2[MAX_OUT];
	static struct ike_msg m2;
	static struct ike_chain inner2;
	bool response = ike_hdr_is_response(&m->hdr);
	size_t len, len2;

	check(encode_msg(m, inner, out, sizeof(out), &len) == 0);
	check(ike_msg_parse(out, len, &m2, NULL) == 0);
	check(m2.hdr.spi_i == m->hdr.spi_i && m2.hdr.spi_r == m->hdr.spi_r &&
	      m2.hdr.version == m->hdr.version && m2.hdr.exchange == m->hdr.exchange &&
	      m2.hdr.flags == m->hdr.flags && m2.hdr.msg_id == m->hdr.msg_id &&
	      m2.hdr.length == len);
	compare_chains(&m->chain, &m2.chain, response);
	check(m2.sk.present == m->sk.present);
	if (m->sk.present) {
		check(m2.sk.type == m->sk.type && m2.sk.frag_num == m->sk.frag_num &&
		      m2.sk.frag_total == m->sk.frag_total);
		check(inner_chain(out, len, &m2, &inner2) == 0);
		compare_chains(inner, &inner2, response);
	}
	/* Encoding the decoded encoding gives the same octets. */
	check(encode_msg(&m2, m->sk.present ? &inner2 : NULL, out2, sizeof(out2), &len2) == 0);
	check(len2 == len && memcmp(out, out2, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ike_msg m, sentinel;
	static struct ike_chain inner;
	struct ike_parse_error err;
	struct ike_header h;
	bool all, response, have_inner = false;
	int rc;

	memset(&sentinel, 0x6b, sizeof(sentinel));
	m = sentinel;
	rc = ike_msg_parse(data, size, &m, &err);
	if (rc) {
		check(memcmp(&m, &sentinel, sizeof(m)) == 0);
		check(rc == -EBADMSG || rc == -EPROTONOSUPPORT || rc == -EOPNOTSUPP ||
		      rc == -E2BIG);
		check(err.what != NULL);
		if (rc == -EOPNOTSUPP)
			check(!ike_payload_type_known(err.payload_type));
		return 0;
	}
	check(ike_hdr_parse(data, size, &h, NULL) == 0 && h.length == size);
	check_chain(data, size, &m.chain);
	if (m.sk.present)
		check(m.sk.data_off <= size && m.sk.data_len == size - m.sk.data_off);
	response = ike_hdr_is_response(&m.hdr);
	rules(&m, NULL);
	all = decode_all(&m.chain, response);
	if (m.sk.present) {
		if (inner_chain(data, size, &m, &inner) == 0) {
			have_inner = true;
			check_chain(data, size, &inner);
			rules(&m, &inner);
			all = decode_all(&inner, response) && all;
		} else {
			all = false;
		}
	}
	/* Everything known decoded: write it back (skipped unknown payloads stay out; the
	 * encoding is never longer than the input). */
	if (all && (!m.sk.present || have_inner) && size <= MAX_OUT)
		round_trip(&m, have_inner ? &inner : NULL);
	return 0;
}
