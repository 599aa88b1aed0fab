/* Unit tests for daemon/json.{h,c}. */
#include <arpa/inet.h>
#include <stdint.h>

#include "daemon/json.h"
#include "tests/unit/tap.h"

static void check_doc(struct json *j, const char *expected)
{
	char *s = json_finish(j);

	CHECK_STR(s, expected);
	g_free(s);
}

int main(void)
{
	struct json j;
	struct in_addr a, dns[3];
	char *s;

	/* objects, arrays, every scalar, commas */
	json_init(&j);
	json_begin_object(&j);
	json_kv_string(&j, "state", "registered");
	json_kv_bool(&j, "home", false);
	json_kv_bool(&j, "up", true);
	json_kv_null(&j, "none");
	json_kv_int(&j, "neg", INT64_MIN);
	json_kv_uint(&j, "big", UINT64_MAX);
	inet_pton(AF_INET, "198.18.11.10", &a);
	json_kv_addr4(&j, "care_of_address", a);
	json_key(&j, "list");
	json_begin_array(&j);
	json_int(&j, 1);
	json_string(&j, "two");
	json_begin_object(&j);
	json_end_object(&j);
	json_begin_array(&j);
	json_end_array(&j);
	json_null(&j);
	json_string(&j, NULL);
	json_end_array(&j);
	json_end_object(&j);
	check_doc(&j, "{\"state\":\"registered\",\"home\":false,\"up\":true,\"none\":null,"
		  "\"neg\":-9223372036854775808,\"big\":18446744073709551615,"
		  "\"care_of_address\":\"198.18.11.10\",\"list\":[1,\"two\",{},[],null,null]}");

	/* addresses or null, address arrays (the first n) */
	json_init(&j);
	json_begin_object(&j);
	json_kv_addr4_or_null(&j, "tia", a);
	a.s_addr = 0;
	json_kv_addr4_or_null(&j, "none", a);
	inet_pton(AF_INET, "198.18.1.53", &dns[0]);
	inet_pton(AF_INET, "198.18.1.54", &dns[1]);
	inet_pton(AF_INET, "198.18.1.55", &dns[2]);
	json_kv_addr4_array(&j, "dns", dns, 2);
	json_kv_addr4_array(&j, "empty", dns, 0);
	json_end_object(&j);
	check_doc(&j, "{\"tia\":\"198.18.11.10\",\"none\":null,"
		  "\"dns\":[\"198.18.1.53\",\"198.18.1.54\"],\"empty\":[]}");

	/* escaping: quote, backslash, every control character, DEL */
	json_init(&j);
	json_begin_array(&j);
	json_string(&j, "a\"b\\c/d");
	json_string(&j, "\n\r\t\b\f\x01\x1f\x7f");
	json_string_len(&j, "nul\0byte", 8);
	json_end_array(&j);
	check_doc(&j, "[\"a\\\"b\\\\c/d\",\"\\u000a\\u000d\\u0009\\u0008\\u000c\\u0001\\u001f"
		  "\\u007f\",\"nul\\u0000byte\"]");

	/* UTF-8: valid sequences kept, invalid bytes escaped one by one */
	json_init(&j);
	json_begin_array(&j);
	json_string(&j, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	json_string(&j, "\xff\xfe");                  /* never valid */
	json_string(&j, "\xc3");                      /* truncated */
	json_string(&j, "\xc0\xaf");                  /* overlong '/' */
	json_string(&j, "\xed\xa0\x80");              /* surrogate U+D800 */
	json_string(&j, "\xf4\x90\x80\x80");          /* beyond U+10FFFF */
	json_string(&j, "\xe2\x28\xa1");              /* bad continuation */
	json_end_array(&j);
	check_doc(&j, "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",\"\\u00ff\\u00fe\","
		  "\"\\u00c3\",\"\\u00c0\\u00af\",\"\\u00ed\\u00a0\\u0080\","
		  "\"\\u00f4\\u0090\\u0080\\u0080\",\"\\u00e2(\\u00a1\"]");

	/* keys are escaped too */
	json_init(&j);
	json_begin_object(&j);
	json_kv_int(&j, "k\"\n", 1);
	json_end_object(&j);
	check_doc(&j, "{\"k\\\"\\u000a\":1}");

	/* misuse fails the builder: value where a key is due, key in an array, unbalanced,
	 * two top-level values, too deep, key without value */
	json_init(&j);
	json_begin_object(&j);
	json_int(&j, 1);
	json_end_object(&j);
	CHECK(json_finish(&j) == NULL);
	json_init(&j);
	json_begin_array(&j);
	json_key(&j, "x");
	json_end_array(&j);
	CHECK(json_finish(&j) == NULL);
	json_init(&j);
	json_begin_array(&j);
	CHECK(json_finish(&j) == NULL);
	json_init(&j);
	json_begin_array(&j);
	json_end_object(&j);
	CHECK(json_finish(&j) == NULL);
	json_init(&j);
	json_int(&j, 1);
	json_int(&j, 2);
	CHECK(json_finish(&j) == NULL);
	json_init(&j);
	for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
		json_begin_array(&j);
	for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
		json_end_array(&j);
	CHECK(json_finish(&j) == NULL);
	json_init(&j);
	json_begin_object(&j);
	json_key(&j, "x");
	json_end_object(&j);
	CHECK(json_finish(&j) == NULL);
	json_init(&j);
	CHECK(json_finish(&j) == NULL);   /* nothing written */
	/* exactly the maximum depth works */
	json_init(&j);
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		json_begin_array(&j);
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		json_end_array(&j);
	s = json_finish(&j);
	CHECK(s && strlen(s) == 2 * JSON_MAX_DEPTH);
	g_free(s);
	/* json_free on a half-built document */
	json_init(&j);
	json_begin_object(&j);
	json_free(&j);
	CHECK(j.s == NULL);

	/* scalars at top level */
	json_init(&j);
	json_string(&j, "x");
	check_doc(&j, "\"x\"");

	/* json_escape_append for hand-built text */
	{
		GString *g = g_string_new("v=");

		json_escape_append(g, "a\tb", 3);
		CHECK_STR(g->str, "v=\"a\\u0009b\"");
		g_string_free(g, TRUE);
	}
	return tap_done();
}
