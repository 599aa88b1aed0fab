/* Unit tests for common/names.c: lookups, unknown values, reverse lookups, and the table
 * invariants binary search depends on (sorted, no duplicate values or names). */
#include <errno.h>
#include <strings.h>

#include "common/names.h"
#include "tests/unit/tap.h"

static const struct {
	const char *label;
	const struct name_table *t;
} tables[] = {
	{ "mip4_message_names", &mip4_message_names },
	{ "mip4_extension_names", &mip4_extension_names },
	{ "mip4_reply_code_names", &mip4_reply_code_names },
	{ "ikev2_exchange_names", &ikev2_exchange_names },
	{ "ikev2_payload_names", &ikev2_payload_names },
	{ "ikev2_notify_names", &ikev2_notify_names },
	{ "ikev2_transform_type_names", &ikev2_transform_type_names },
	{ "ikev2_protocol_names", &ikev2_protocol_names },
	{ "ikev2_id_type_names", &ikev2_id_type_names },
	{ "ikev2_cert_encoding_names", &ikev2_cert_encoding_names },
	{ "ikev2_auth_method_names", &ikev2_auth_method_names },
	{ "ikev2_ts_type_names", &ikev2_ts_type_names },
	{ "ikev2_cfg_type_names", &ikev2_cfg_type_names },
	{ "ikev2_cp_attr_names", &ikev2_cp_attr_names },
	{ "ikev2_hash_algorithm_names", &ikev2_hash_algorithm_names },
};

#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

static void check_table(const char *label, const struct name_table *t)
{
	int unsorted = 0, bad_names = 0, dup_names = 0, lookup_misses = 0;

	printf("# table %s: %zu entries\n", label, t->count);
	CHECK(t->count > 0);
	CHECK(t->what && t->what[0]);
	for (size_t i = 0; i < t->count; i++) {
		const struct name_entry *e = &t->entries[i];
		uint32_t back = ~e->value;

		/* Strictly increasing: sorted and no duplicate values. */
		CHECK_LOOP(i == 0 || t->entries[i - 1].value < e->value, unsorted);
		CHECK_LOOP(e->name && e->name[0], bad_names);
		for (size_t j = 0; j < i; j++)
			CHECK_LOOP(strcasecmp(t->entries[j].name, e->name) != 0, dup_names);
		CHECK_LOOP(name_lookup(t, e->value) == e->name, lookup_misses);
		CHECK_LOOP(name_to_value(t, e->name, &back) == 0 && back == e->value,
			   lookup_misses);
	}
	CHECK_EQ_U64(unsorted, 0);
	CHECK_EQ_U64(bad_names, 0);
	CHECK_EQ_U64(dup_names, 0);
	CHECK_EQ_U64(lookup_misses, 0);
}

static void test_tables(void)
{
	for (size_t i = 0; i < N_TABLES; i++)
		check_table(tables[i].label, tables[i].t);
}

static void test_lookups(void)
{
	CHECK_STR(name_lookup(&mip4_message_names, 1), "Registration Request");
	CHECK_STR(name_lookup(&mip4_message_names, 3), "Registration Reply");
	CHECK_STR(name_lookup(&mip4_message_names, 4), "MIP Tunnel Data");
	CHECK(name_lookup(&mip4_message_names, 2) == NULL);

	CHECK_STR(name_lookup(&mip4_extension_names, 0), "One-byte Padding");
	CHECK_STR(name_lookup(&mip4_extension_names, 16), "Mobility Agent Advertisement");
	CHECK_STR(name_lookup(&mip4_extension_names, 19), "Prefix-Lengths");
	CHECK_STR(name_lookup(&mip4_extension_names, 32), "Mobile-Home Authentication");
	CHECK_STR(name_lookup(&mip4_extension_names, 33), "Mobile-Foreign Authentication");
	CHECK_STR(name_lookup(&mip4_extension_names, 34), "Foreign-Home Authentication");
	CHECK_STR(name_lookup(&mip4_extension_names, 44), "UDP Tunnel Reply");
	CHECK_STR(name_lookup(&mip4_extension_names, 130), "Encapsulating Delivery Style");
	CHECK_STR(name_lookup(&mip4_extension_names, 131), "Mobile Node NAI");
	CHECK_STR(name_lookup(&mip4_extension_names, 144), "UDP Tunnel Request");

	CHECK_STR(name_lookup(&mip4_reply_code_names, 0), "accepted");
	CHECK_STR(name_lookup(&mip4_reply_code_names, 67), "fa_mobile_node_failed_authentication");
	CHECK_STR(name_lookup(&mip4_reply_code_names, 131), "ha_mobile_node_failed_authentication");
	CHECK_STR(name_lookup(&mip4_reply_code_names, 136), "ha_unknown_home_agent_address");
	CHECK_STR(name_lookup(&mip4_reply_code_names, 142), "error_ha_udp_encap_unavail");
	CHECK_STR(name_lookup(&mip4_reply_code_names, 194), "invalid_home_agent_address");

	CHECK_STR(name_lookup(&ikev2_exchange_names, 34), "IKE_SA_INIT");
	CHECK_STR(name_lookup(&ikev2_exchange_names, 37), "INFORMATIONAL");
	CHECK(name_lookup(&ikev2_exchange_names, 33) == NULL);
	CHECK(name_lookup(&ikev2_exchange_names, 38) == NULL);

	CHECK_STR(name_lookup(&ikev2_payload_names, 33), "SA");
	CHECK_STR(name_lookup(&ikev2_payload_names, 41), "N");
	CHECK_STR(name_lookup(&ikev2_payload_names, 46), "SK");
	CHECK_STR(name_lookup(&ikev2_payload_names, 53), "SKF");

	CHECK_STR(name_lookup(&ikev2_notify_names, 14), "NO_PROPOSAL_CHOSEN");
	CHECK_STR(name_lookup(&ikev2_notify_names, 16388), "NAT_DETECTION_SOURCE_IP");
	CHECK_STR(name_lookup(&ikev2_notify_names, 16396), "MOBIKE_SUPPORTED");
	CHECK_STR(name_lookup(&ikev2_notify_names, 16397), "ADDITIONAL_IP4_ADDRESS");
	CHECK_STR(name_lookup(&ikev2_notify_names, 16400), "UPDATE_SA_ADDRESSES");
	CHECK_STR(name_lookup(&ikev2_notify_names, 16401), "COOKIE2");
	CHECK_STR(name_lookup(&ikev2_notify_names, 16402), "NO_NATS_ALLOWED");

	CHECK_STR(name_lookup(&ikev2_transform_type_names, 1), "ENCR");
	CHECK_STR(name_lookup(&ikev2_transform_type_names, 5), "ESN");
	CHECK(name_lookup(&ikev2_transform_type_names, 0) == NULL);
	CHECK(name_lookup(&ikev2_transform_type_names, 6) == NULL);
	CHECK(name_lookup(&ikev2_notify_names, UINT32_MAX) == NULL);
	CHECK(name_lookup(NULL, 1) == NULL);
}

static void test_unknown(void)
{
	char buf[NAME_BUF_SIZE];
	char small[5];

	CHECK_STR(name_or_number(&ikev2_notify_names, 40961, buf, sizeof(buf)), "notify 40961");
	CHECK_STR(name_or_number(&ikev2_notify_names, 16400, buf, sizeof(buf)),
		  "UPDATE_SA_ADDRESSES");
	CHECK_STR(name_or_number(&mip4_reply_code_names, 255, buf, sizeof(buf)),
		  "reply code 255");
	CHECK_STR(name_or_number(&ikev2_payload_names, UINT32_MAX, buf, sizeof(buf)),
		  "payload 4294967295");
	CHECK_STR(name_or_number(&ikev2_notify_names, 40961, small, sizeof(small)), "noti");
	CHECK_STR(name_or_number(&ikev2_notify_names, 40961, NULL, 0), "?");
	CHECK_STR(name_or_number(NULL, 7, buf, sizeof(buf)), "value 7");

	/* NAME_BUF_SIZE holds the longest "<what> <uint32>" of every table. */
	for (size_t i = 0; i < N_TABLES; i++) {
		int n = snprintf(NULL, 0, "%s %u", tables[i].t->what, UINT32_MAX);

		CHECK(n >= 0 && n < NAME_BUF_SIZE);
	}
}

static void test_reverse(void)
{
	uint32_t v = 12345;

	CHECK(name_to_value(&ikev2_notify_names, "UPDATE_SA_ADDRESSES", &v) == 0);
	CHECK_EQ_U64(v, 16400);
	CHECK(name_to_value(&ikev2_notify_names, "update_sa_addresses", &v) == 0);
	CHECK_EQ_U64(v, 16400);
	CHECK(name_to_value(&ikev2_exchange_names, "ike_auth", &v) == 0);
	CHECK_EQ_U64(v, 35);
	CHECK(name_to_value(&mip4_message_names, "registration reply", &v) == 0);
	CHECK_EQ_U64(v, 3);
	v = 12345;
	CHECK(name_to_value(&ikev2_notify_names, "UPDATE_SA_ADDRESS", &v) == -ENOENT);
	CHECK(name_to_value(&ikev2_notify_names, "", &v) == -ENOENT);
	CHECK(name_to_value(&ikev2_notify_names, NULL, &v) == -ENOENT);
	CHECK(name_to_value(NULL, "x", &v) == -ENOENT);
	CHECK_EQ_U64(v, 12345);
}

int main(void)
{
	test_tables();
	test_lookups();
	test_unknown();
	test_reverse();
	return tap_done();
}
