/* Unit tests for the IKEv2 per-exchange rule tables, stage 3 (ike/rules.c): for each exchange
 * and direction, messages that fit (RFC 7296 1.2-1.5, 2.16, 2.21) and messages that break a
 * count, a place (in the clear or inside SK), or the SA/TSi/TSr grouping; the rule reported,
 * its log line, and when INVALID_SYNTAX may answer (3.10.1). Also the common/names.c tables
 * added for the codec (tests/unit/test_names.c checks the older ones).
 */
#include <errno.h>
#include <string.h>

#include "ike/msg.h"
#include "common/names.h"
#include "ike/payload.h"
#include "ike/rules.h"
#include "tests/unit/tap.h"

#define SPI_I 0x0102030405060708ull
#define SPI_R 0x1112131415161718ull

static uint8_t filler[512];

static void filler_init(void)
{
	for (size_t i = 0; i < sizeof(filler); i++)
		filler[i] = (uint8_t)(0xa0 + i * 7);
}

/* A message of payloads with 8-octet dummy bodies (stage 3 only counts types): `clear` in
 * the clear, then (if sk) an SK holding `inner` as plaintext, as the crypto layer hands it
 * over after decryption. The lists end with 0. Returns the length, 0 on failure. */
static size_t build_msg(uint8_t *buf, size_t cap, uint8_t exch, bool response,
			const uint8_t *clear, bool sk, const uint8_t *inner)
{
	struct writer w;
	struct ike_builder b;
	struct ike_header h = {
		.spi_i = SPI_I, .spi_r = SPI_R, .exchange = exch,
		.flags = IKE_FLAG_I | (response ? IKE_FLAG_R : 0), .msg_id = 1,
	};
	size_t len = 0;

	writer_init(&w, buf, cap);
	ike_build_start(&b, &w, &h);
	for (size_t i = 0; clear && clear[i]; i++)
		ike_build_raw(&b, clear[i], filler, 8);
	if (sk) {
		ike_build_sk_begin(&b, IKE_PT_SK, 0, 0, 0);
		for (size_t i = 0; inner && inner[i]; i++)
			ike_build_raw(&b, inner[i], filler, 8);
		ike_build_sk_close(&b);
	}
	if (ike_build_finish(&b, &len) != 0)
		return 0;
	return len;
}

static int parse_with_inner(const uint8_t *buf, size_t len, struct ike_msg *m,
			    struct ike_chain *inner, bool *has_inner)
{
	struct ike_parse_error err;
	struct reader r;
	const uint8_t *content;
	int rc = ike_msg_parse(buf, len, m, &err);

	*has_inner = false;
	if (rc || !m->sk.present)
		return rc;
	reader_init(&r, buf, len);
	reader_skip(&r, m->sk.data_off);
	if (!reader_view(&r, m->sk.data_len, &content))
		return -EBADMSG;
	*has_inner = true;
	return ike_chain_parse(content, m->sk.data_len, m->sk.inner_first, m->sk.data_off,
			       !ike_hdr_is_response(&m->hdr), inner, &err);
}

/* --- stage 3: rules ---------------------------------------------------------------------- */

#define L(...) ((const uint8_t[]){ __VA_ARGS__, 0 })
#define NONE_ ((const uint8_t *)NULL)

/* Build, parse, check the rules; returns ike_rules_check()'s result. With
 * outer_only the inner chain is not given (the check before decryption). */
static int rules_of(uint8_t exch, bool response, const uint8_t *clear, bool sk,
		    const uint8_t *inner, bool outer_only, struct ike_rule_result *res)
{
	static uint8_t buf[4096];
	struct ike_msg m;
	struct ike_chain c;
	bool has_inner;
	size_t len = build_msg(buf, sizeof(buf), exch, response, clear, sk, inner);

	if (len == 0 || parse_with_inner(buf, len, &m, &c, &has_inner) != 0)
		return -999;
	return ike_rules_check(&m, has_inner && !outer_only ? &c : NULL, res);
}

static void test_rules_sa_init(void)
{
	struct ike_rule_result r;
	char line[160];

	/* 1.2: HDR, SAi1, KEi, Ni; N and V anywhere; order free (2.5). */
	CHECK(rules_of(IKE_EXCH_SA_INIT, false, L(IKE_PT_SA, IKE_PT_KE, IKE_PT_NONCE), false,
		       NONE_, false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_SA_INIT, false, L(IKE_PT_NOTIFY, IKE_PT_NONCE, IKE_PT_KE,
		       IKE_PT_SA, IKE_PT_VENDOR, IKE_PT_NOTIFY), false, NONE_, false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_SA_INIT, false, L(IKE_PT_SA, IKE_PT_NONCE), false, NONE_, false,
		       &r) == -EBADMSG);
	CHECK_EQ_U64(r.kind, IKE_RULE_TOO_FEW);
	CHECK_EQ_U64(r.payload_type, IKE_PT_KE);
	CHECK_EQ_U64(r.notify, 0);        /* never INVALID_SYNTAX in the clear (3.10.1) */
	CHECK_STR(r.shape, "IKE_SA_INIT request");
	CHECK_STR(ike_rule_describe(&r, line, sizeof(line)),
		  "IKE_SA_INIT request: KE: 0 found, at least 1 required");
	CHECK(rules_of(IKE_EXCH_SA_INIT, false, L(IKE_PT_SA, IKE_PT_KE, IKE_PT_NONCE,
		       IKE_PT_NONCE), false, NONE_, false, &r) == -EBADMSG);
	CHECK_EQ_U64(r.kind, IKE_RULE_TOO_MANY);
	CHECK_EQ_U64(r.payload_type, IKE_PT_NONCE);
	CHECK_EQ_U64(r.count, 2);
	CHECK_STR(ike_rule_describe(&r, line, sizeof(line)),
		  "IKE_SA_INIT request: Nonce: 2 found, at most 1 allowed");
	CHECK(rules_of(IKE_EXCH_SA_INIT, false, L(IKE_PT_SA, IKE_PT_KE, IKE_PT_NONCE,
		       IKE_PT_IDI), false, NONE_, false, &r) == -EBADMSG);
	CHECK_EQ_U64(r.payload_type, IKE_PT_IDI);
	CHECK_STR(ike_rule_describe(&r, line, sizeof(line)),
		  "IKE_SA_INIT request: IDi not allowed");
	/* CERTREQ only in the response (3.7). */
	CHECK(rules_of(IKE_EXCH_SA_INIT, false, L(IKE_PT_SA, IKE_PT_KE, IKE_PT_NONCE,
		       IKE_PT_CERTREQ), false, NONE_, false, &r) == -EBADMSG);
	/* IKE_SA_INIT is never encrypted. */
	CHECK(rules_of(IKE_EXCH_SA_INIT, false, L(IKE_PT_SA, IKE_PT_KE, IKE_PT_NONCE), true,
		       NONE_, false, &r) == -EBADMSG);
	CHECK_EQ_U64(r.payload_type, IKE_PT_SK);

	CHECK(rules_of(IKE_EXCH_SA_INIT, true, L(IKE_PT_SA, IKE_PT_KE, IKE_PT_NONCE,
		       IKE_PT_CERTREQ, IKE_PT_CERTREQ, IKE_PT_NOTIFY), false, NONE_, false,
		       &r) == 0);
	/* 2.6, 1.2: a notify-only response (COOKIE, INVALID_KE_PAYLOAD). */
	CHECK(rules_of(IKE_EXCH_SA_INIT, true, L(IKE_PT_NOTIFY), false, NONE_, false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_SA_INIT, true, L(IKE_PT_VENDOR), false, NONE_, false,
		       &r) == -EBADMSG);
	CHECK_EQ_U64(r.kind, IKE_RULE_TOO_FEW);
	CHECK_STR(r.shape, "IKE_SA_INIT response (error)");
	CHECK(rules_of(IKE_EXCH_SA_INIT, true, L(IKE_PT_SA, IKE_PT_NONCE, IKE_PT_NOTIFY), false,
		       NONE_, false, &r) == -EBADMSG);
	CHECK_STR(r.shape, "IKE_SA_INIT response");
	CHECK_EQ_U64(r.payload_type, IKE_PT_KE);
}

static void test_rules_auth(void)
{
	struct ike_rule_result r;
	char line[160];

	/* 1.2: HDR, SK {IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, SAi2, TSi, TSr}. */
	CHECK(rules_of(IKE_EXCH_AUTH, false, NONE_, true, L(IKE_PT_IDI, IKE_PT_CERT,
		       IKE_PT_CERTREQ, IKE_PT_IDR, IKE_PT_AUTH, IKE_PT_CP, IKE_PT_SA, IKE_PT_TSI,
		       IKE_PT_TSR, IKE_PT_NOTIFY, IKE_PT_NOTIFY), false, &r) == 0);
	/* Without AUTH: EAP is asked for (2.16); without SA/TSi/TSr: no Child SA. */
	CHECK(rules_of(IKE_EXCH_AUTH, false, NONE_, true, L(IKE_PT_IDI, IKE_PT_SA, IKE_PT_TSI,
		       IKE_PT_TSR), false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_AUTH, false, NONE_, true, L(IKE_PT_IDI, IKE_PT_AUTH), false,
		       &r) == 0);
	CHECK(rules_of(IKE_EXCH_AUTH, false, NONE_, true, L(IKE_PT_EAP), false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_AUTH, false, NONE_, true, L(IKE_PT_AUTH), false, &r) == 0);
	/* Missing IDi: INVALID_SYNTAX (a request, inside a verified SK). */
	CHECK(rules_of(IKE_EXCH_AUTH, false, NONE_, true, L(IKE_PT_AUTH, IKE_PT_SA, IKE_PT_TSI,
		       IKE_PT_TSR), false, &r) == -EBADMSG);
	CHECK_EQ_U64(r.kind, IKE_RULE_TOO_FEW);
	CHECK_EQ_U64(r.payload_type, IKE_PT_IDI);
	CHECK_EQ_U64(r.notify, IKE_N_INVALID_SYNTAX);
	CHECK_STR(r.shape, "IKE_AUTH request");
	/* SA, TSi and TSr come together. */
	CHECK(rules_of(IKE_EXCH_AUTH, false, NONE_, true, L(IKE_PT_IDI, IKE_PT_AUTH, IKE_PT_SA,
		       IKE_PT_TSI), false, &r) == -EBADMSG);
	CHECK_EQ_U64(r.kind, IKE_RULE_NOT_TOGETHER);
	CHECK_EQ_U64(r.payload_type, IKE_PT_TSR);
	CHECK_STR(ike_rule_describe(&r, line, sizeof(line)),
		  "IKE_AUTH request: SA, TSi and TSr come together; TSr is missing");
	CHECK(rules_of(IKE_EXCH_AUTH, false, NONE_, true, L(IKE_PT_IDI, IKE_PT_AUTH,
		       IKE_PT_AUTH), false, &r) == -EBADMSG);
	CHECK_EQ_U64(r.kind, IKE_RULE_TOO_MANY);
	CHECK(rules_of(IKE_EXCH_AUTH, false, NONE_, true, L(IKE_PT_IDI, IKE_PT_KE), false,
		       &r) == -EBADMSG);
	CHECK_EQ_U64(r.payload_type, IKE_PT_KE);
	/* In the clear: only SK (1.2). IDi outside SK; no SK at all. */
	CHECK(rules_of(IKE_EXCH_AUTH, false, L(IKE_PT_IDI), true, L(IKE_PT_AUTH), false,
		       &r) == -EBADMSG);
	CHECK_EQ_U64(r.kind, IKE_RULE_MUST_BE_ENCRYPTED);
	CHECK_EQ_U64(r.payload_type, IKE_PT_IDI);
	CHECK_STR(ike_rule_describe(&r, line, sizeof(line)),
		  "IKE_AUTH request: IDi must be inside the Encrypted payload");
	CHECK(rules_of(IKE_EXCH_AUTH, false, L(IKE_PT_IDI, IKE_PT_AUTH), false, NONE_, false,
		       &r) == -EBADMSG);
	CHECK_EQ_U64(r.notify, 0);        /* nothing was authenticated */
	/* Before decryption only the clear part counts. */
	CHECK(rules_of(IKE_EXCH_AUTH, false, NONE_, true, L(IKE_PT_KE), true, &r) == 0);
	CHECK(rules_of(IKE_EXCH_AUTH, false, L(IKE_PT_VENDOR), true, L(IKE_PT_IDI), true,
		       &r) == -EBADMSG);
	CHECK_EQ_U64(r.kind, IKE_RULE_MUST_BE_ENCRYPTED);
	CHECK_EQ_U64(r.notify, 0);

	/* Responses (1.2, 2.16, 2.21.2); errors in responses are never answered. */
	CHECK(rules_of(IKE_EXCH_AUTH, true, NONE_, true, L(IKE_PT_IDR, IKE_PT_CERT, IKE_PT_AUTH,
		       IKE_PT_CP, IKE_PT_SA, IKE_PT_TSI, IKE_PT_TSR, IKE_PT_NOTIFY), false,
		       &r) == 0);
	CHECK(rules_of(IKE_EXCH_AUTH, true, NONE_, true, L(IKE_PT_IDR, IKE_PT_AUTH, IKE_PT_EAP),
		       false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_AUTH, true, NONE_, true, L(IKE_PT_EAP), false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_AUTH, true, NONE_, true, L(IKE_PT_AUTH, IKE_PT_SA, IKE_PT_TSI,
		       IKE_PT_TSR), false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_AUTH, true, NONE_, true, L(IKE_PT_NOTIFY), false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_AUTH, true, NONE_, true, L(IKE_PT_IDR, IKE_PT_SA, IKE_PT_TSI,
		       IKE_PT_TSR), false, &r) == -EBADMSG);
	CHECK_EQ_U64(r.payload_type, IKE_PT_AUTH);
	CHECK_EQ_U64(r.notify, 0);
	CHECK(rules_of(IKE_EXCH_AUTH, true, NONE_, true, L(IKE_PT_IDI, IKE_PT_AUTH), false,
		       &r) == -EBADMSG);
}

static void test_rules_child_info(void)
{
	struct ike_rule_result r;
	struct ike_msg m;

	/* 1.3.1 / 1.3.3 new or rekeyed Child SA; 1.3.2 IKE SA rekey (KE mandatory). */
	CHECK(rules_of(IKE_EXCH_CREATE_CHILD_SA, false, NONE_, true, L(IKE_PT_NOTIFY, IKE_PT_SA,
		       IKE_PT_NONCE, IKE_PT_TSI, IKE_PT_TSR), false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_CREATE_CHILD_SA, false, NONE_, true, L(IKE_PT_SA, IKE_PT_NONCE,
		       IKE_PT_KE, IKE_PT_TSI, IKE_PT_TSR), false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_CREATE_CHILD_SA, false, NONE_, true, L(IKE_PT_SA, IKE_PT_NONCE,
		       IKE_PT_KE), false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_CREATE_CHILD_SA, false, NONE_, true, L(IKE_PT_SA, IKE_PT_NONCE),
		       false, &r) == -EBADMSG);
	CHECK_EQ_U64(r.payload_type, IKE_PT_KE);
	CHECK_STR(r.shape, "CREATE_CHILD_SA request (IKE SA rekey)");
	CHECK_EQ_U64(r.notify, IKE_N_INVALID_SYNTAX);
	CHECK(rules_of(IKE_EXCH_CREATE_CHILD_SA, false, NONE_, true, L(IKE_PT_SA, IKE_PT_NONCE,
		       IKE_PT_TSI), false, &r) == -EBADMSG);
	CHECK_EQ_U64(r.payload_type, IKE_PT_TSR);
	CHECK(rules_of(IKE_EXCH_CREATE_CHILD_SA, false, NONE_, true, L(IKE_PT_SA, IKE_PT_NONCE,
		       IKE_PT_KE, IKE_PT_KE, IKE_PT_TSI, IKE_PT_TSR), false, &r) == -EBADMSG);
	CHECK_EQ_U64(r.kind, IKE_RULE_TOO_MANY);
	CHECK(rules_of(IKE_EXCH_CREATE_CHILD_SA, true, NONE_, true, L(IKE_PT_SA, IKE_PT_NONCE,
		       IKE_PT_TSI, IKE_PT_TSR), false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_CREATE_CHILD_SA, true, NONE_, true, L(IKE_PT_SA, IKE_PT_NONCE,
		       IKE_PT_KE), false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_CREATE_CHILD_SA, true, NONE_, true, L(IKE_PT_NOTIFY), false,
		       &r) == 0);
	CHECK(rules_of(IKE_EXCH_CREATE_CHILD_SA, true, NONE_, true, L(IKE_PT_NONCE), false,
		       &r) == -EBADMSG);

	/* 1.4: [N,] [D,] [CP,] ...; empty is the liveness check. */
	CHECK(rules_of(IKE_EXCH_INFORMATIONAL, false, NONE_, true, NONE_, false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_INFORMATIONAL, true, NONE_, true, NONE_, false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_INFORMATIONAL, false, NONE_, true, L(IKE_PT_DELETE,
		       IKE_PT_DELETE, IKE_PT_NOTIFY, IKE_PT_CP, IKE_PT_VENDOR), false, &r) == 0);
	CHECK(rules_of(IKE_EXCH_INFORMATIONAL, false, NONE_, true, L(IKE_PT_SA), false,
		       &r) == -EBADMSG);
	CHECK(rules_of(IKE_EXCH_INFORMATIONAL, true, NONE_, true, L(IKE_PT_CP, IKE_PT_CP), false,
		       &r) == -EBADMSG);
	CHECK_EQ_U64(r.count, 2);
	CHECK(rules_of(IKE_EXCH_INFORMATIONAL, false, L(IKE_PT_DELETE), false, NONE_, false,
		       &r) == -EBADMSG);
	CHECK_EQ_U64(r.kind, IKE_RULE_MUST_BE_ENCRYPTED);

	/* An exchange type without a table. */
	memset(&m, 0, sizeof(m));
	m.hdr.exchange = 38;
	CHECK(ike_rules_check(&m, NULL, &r) == -EOPNOTSUPP);
	CHECK_EQ_U64(r.kind, IKE_RULE_UNKNOWN_EXCHANGE);
	/* SKF stands for SK in the clear part (RFC 7383 2.5). */
	m.hdr.exchange = IKE_EXCH_AUTH;
	m.sk.present = true;
	m.sk.type = IKE_PT_SKF;
	CHECK(ike_rules_check(&m, NULL, &r) == 0);
}

/* The name tables this codec added (tests/unit/test_names.c checks the older ones). */
static void test_names(void)
{
	static const struct name_table *tables[] = {
		&ikev2_protocol_names, &ikev2_id_type_names, &ikev2_cert_encoding_names,
		&ikev2_auth_method_names, &ikev2_ts_type_names, &ikev2_cfg_type_names,
		&ikev2_cp_attr_names, &ikev2_hash_algorithm_names,
	};
	int bad = 0;

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		const struct name_table *nt = tables[t];
		uint32_t v;

		CHECK(nt->count > 0 && nt->what);
		for (size_t i = 0; i < nt->count; i++) {
			CHECK_LOOP(i == 0 || nt->entries[i - 1].value < nt->entries[i].value, bad);
			CHECK_LOOP(name_lookup(nt, nt->entries[i].value) == nt->entries[i].name,
				   bad);
			CHECK_LOOP(name_to_value(nt, nt->entries[i].name, &v) == 0 &&
				   v == nt->entries[i].value, bad);
		}
	}
	CHECK_EQ_U64(bad, 0);
	CHECK_STR(name_lookup(&ikev2_id_type_names, IKE_ID_RFC822_ADDR), "ID_RFC822_ADDR");
	CHECK_STR(name_lookup(&ikev2_auth_method_names, 14), "Digital Signature");
	CHECK_STR(name_lookup(&ikev2_cp_attr_names, 13), "INTERNAL_IP4_SUBNET");
	CHECK_STR(name_lookup(&ikev2_ts_type_names, 7), "TS_IPV4_ADDR_RANGE");
	CHECK_STR(name_lookup(&ikev2_cfg_type_names, 4), "CFG_ACK");
	CHECK_STR(name_lookup(&ikev2_hash_algorithm_names, 2), "SHA2-256");
	CHECK_STR(name_lookup(&ikev2_protocol_names, 3), "ESP");
	CHECK_STR(name_lookup(&ikev2_cert_encoding_names, 12), "Hash and URL of X.509 certificate");
	CHECK(name_lookup(&ikev2_cp_attr_names, 5) == NULL);
	/* The notify types this codec names in payload.h are in the notify table. */
	CHECK_STR(name_lookup(&ikev2_notify_names, IKE_N_SIGNATURE_HASH_ALGORITHMS),
		  "SIGNATURE_HASH_ALGORITHMS");
	CHECK_STR(name_lookup(&ikev2_notify_names, IKE_N_IKEV2_FRAGMENTATION_SUPPORTED),
		  "IKEV2_FRAGMENTATION_SUPPORTED");
	CHECK_STR(name_lookup(&ikev2_notify_names, IKE_N_REDIRECTED_FROM), "REDIRECTED_FROM");
	CHECK_STR(name_lookup(&ikev2_notify_names, IKE_N_NO_NATS_ALLOWED), "NO_NATS_ALLOWED");
}

int main(void)
{
	filler_init();
	test_rules_sa_init();
	test_rules_auth();
	test_rules_child_info();
	test_names();
	return tap_done();
}
