/* Unit tests for vpngw/ctl.c: the gwctl documents, read back with hactl's JSON reader; the
 * request lines (list, stats and the orders with their SPIs), finding a Child SA by either
 * SPI, and the orders' answers for each outcome the engine can give. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "common/sock.h"
#include "daemon/jsonval.h"
#include "vpngw/ctl.h"
#include "daemon/espdp.h"
#include "vpngw/ident.h"
#include "tests/unit/tap.h"

static struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };

	if (addr4_parse(s, &a) != 0) {
		printf("Bail out! bad test address %s\n", s);
		exit(1);
	}
	return a;
}

static const char *str(const struct jv *o, const char *key)
{
	const struct jv *v = jv_get(o, key);

	return !v ? "(absent)" : v->type == JV_STRING ? v->str : v->type == JV_NUMBER
		? v->num_text : v->type == JV_NULL ? "null" : v->type == JV_BOOL
		? (v->b ? "true" : "false") : "(other)";
}

static struct ike_ts4 ts(const char *a, const char *b, uint8_t proto, uint16_t lo, uint16_t hi)
{
	struct ike_ts4 t = { .start = ip(a), .end = ip(b), .ip_proto = proto, .start_port = lo,
			     .end_port = hi };

	return t;
}

static void test_ts_str(void)
{
	char buf[64];
	struct ike_ts4 t;

	t = ts("198.18.0.0", "198.18.255.255", 0, 0, 65535);
	CHECK_STR(vpngw_ctl_ts_str(&t, buf, sizeof(buf)), "198.18.0.0/16");
	t = ts("198.18.100.1", "198.18.100.1", 0, 0, 65535);
	CHECK_STR(vpngw_ctl_ts_str(&t, buf, sizeof(buf)), "198.18.100.1/32");
	t = ts("0.0.0.0", "255.255.255.255", 0, 0, 65535);
	CHECK_STR(vpngw_ctl_ts_str(&t, buf, sizeof(buf)), "0.0.0.0/0");
	t = ts("198.18.1.1", "198.18.1.2", 0, 0, 65535);     /* not aligned */
	CHECK_STR(vpngw_ctl_ts_str(&t, buf, sizeof(buf)), "198.18.1.1-198.18.1.2");
	t = ts("198.18.1.0", "198.18.1.2", 0, 0, 65535);     /* not a power of two */
	CHECK_STR(vpngw_ctl_ts_str(&t, buf, sizeof(buf)), "198.18.1.0-198.18.1.2");
	t = ts("198.18.1.0", "198.18.1.255", 6, 0, 65535);
	CHECK_STR(vpngw_ctl_ts_str(&t, buf, sizeof(buf)), "198.18.1.0/24[6]");
	t = ts("198.18.1.0", "198.18.1.255", 6, 80, 80);
	CHECK_STR(vpngw_ctl_ts_str(&t, buf, sizeof(buf)), "198.18.1.0/24[6/80]");
	t = ts("198.18.1.0", "198.18.1.255", 17, 1000, 2000);
	CHECK_STR(vpngw_ctl_ts_str(&t, buf, sizeof(buf)), "198.18.1.0/24[17/1000-2000]");
}

static struct espdp *make_dp(int *fd)
{
	struct espdp_config c;
	struct espdp *dp = NULL;

	*fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	memset(&c, 0, sizeof(c));
	c.tun_fd = *fd;
	c.udp_fd = *fd;
	c.listen = ip("198.19.0.2");
	if (espdp_new(&c, &dp) < 0) {
		printf("Bail out! espdp_new\n");
		exit(1);
	}
	return dp;
}

static void child(struct ike_child_info *ci, uint64_t spi_i, uint64_t spi_r, uint32_t spi_in,
		  uint32_t lifetime)
{
	memset(ci, 0, sizeof(*ci));
	ci->ike_spi_i = spi_i;
	ci->ike_spi_r = spi_r;
	ci->spi_in = spi_in;
	ci->spi_out = spi_in + 1;
	ci->suite.encr = 20;    /* AES-GCM-16, RFC 4106 */
	ci->suite.encr_key_bits = 128;
	ci->key_len = 20;
	ci->ts_local.n = 1;
	ci->ts_local.ts[0] = ts("198.18.0.0", "198.18.255.255", 0, 0, 65535);
	ci->ts_remote.n = 1;
	ci->ts_remote.ts[0] = ts("198.18.100.1", "198.18.100.1", 0, 0, 65535);
	ci->local = (struct ike_endpoint){ ip("198.19.0.2"), 4500 };
	ci->remote = (struct ike_endpoint){ ip("198.19.110.2"), 4501 };
	ci->udp_encap = true;
	ci->lifetime_s = lifetime;
}

static void test_list(void)
{
	struct ike_peer_cfg peer;
	struct vpngw_ctl_sa sas[2];
	struct ike_child_info ci;
	struct espdp *dp;
	const struct jv *list, *sa, *c, *orph;
	struct jv *doc;
	mm_time_ns t0 = MM_SEC(5000);
	char *text;
	int fd;

	memset(&peer, 0, sizeof(peer));
	peer.name = "mn";
	memset(sas, 0, sizeof(sas));
	sas[0].info.spi_i = 0x0123456789abcdefULL;
	sas[0].info.spi_r = 0xfedcba9876543210ULL;
	sas[0].info.role = IKE_ROLE_RESPONDER;
	sas[0].info.state = "established";
	sas[0].info.peer = &peer;
	ident_parse("mn@test", &sas[0].info.peer_id, NULL, 0);
	sas[0].info.local = (struct ike_endpoint){ ip("198.19.0.2"), 4500 };
	sas[0].info.remote = (struct ike_endpoint){ ip("198.19.110.2"), 4500 };
	sas[0].info.nat_remote = true;
	sas[0].info.inner_addr = ip("198.18.100.1");
	sas[0].info.dns[0] = ip("198.18.1.53");
	sas[0].info.ndns = 1;
	sas[0].info.suite = (struct ike_suite){ .encr = 20, .encr_key_bits = 128, .prf = 5,
					       .dh = 31 };
	sas[0].established = t0 - MM_SEC(12);
	sas[0].rekey_at = t0 + MM_SEC(100);
	/* MOBIKE: one move 3 s ago, from a public address to behind a NAT. */
	sas[0].info.mobike = true;
	sas[0].info.moves = 1;
	sas[0].info.npeer_addrs = 1;
	sas[0].info.peer_addrs[0] = ip("198.19.110.2");
	sas[0].last_move.old_local = (struct ike_endpoint){ ip("198.19.0.2"), 4500 };
	sas[0].last_move.old_remote = (struct ike_endpoint){ ip("198.19.100.2"), 4500 };
	sas[0].last_move.new_local = (struct ike_endpoint){ ip("198.19.0.2"), 4500 };
	sas[0].last_move.new_remote = (struct ike_endpoint){ ip("198.19.110.2"), 4501 };
	sas[0].last_move.nat_remote = true;
	sas[0].last_move.took = 12345678;            /* 12.345678 ms */
	sas[0].last_move.at = t0 - MM_SEC(3);
	sas[1].info.spi_i = 0x1111;
	sas[1].info.spi_r = 0x2222;
	sas[1].info.role = IKE_ROLE_RESPONDER;
	sas[1].rekey_at = IKE_TIME_NEVER;

	dp = make_dp(&fd);
	child(&ci, 0x0123456789abcdefULL, 0xfedcba9876543210ULL, 0xc0000001, 3600);
	CHECK(espdp_child_add(dp, &ci, t0 - MM_SEC(10)) == 0);
	child(&ci, 0x9999, 0x8888, 0xc0000011, 0);
	CHECK(espdp_child_add(dp, &ci, t0) == 0);

	text = vpngw_ctl_list_json(sas, 2, dp, t0);
	CHECK(text != NULL);
	printf("# %s\n", text ? text : "(null)");
	doc = text ? jv_parse(text, NULL) : NULL;
	CHECK(doc != NULL);
	list = jv_get(doc, "ike_sas");
	CHECK(list && list->type == JV_ARRAY && list->n == 2);
	if (!list || list->n != 2)
		goto out;
	sa = list->items[0];
	CHECK_STR(str(sa, "peer"), "mn");
	CHECK_STR(str(sa, "peer_id"), "mn@test");
	CHECK_STR(str(sa, "role"), "responder");
	CHECK_STR(str(sa, "state"), "established");
	CHECK_STR(str(sa, "spi_i"), "0123456789abcdef");
	CHECK_STR(str(sa, "spi_r"), "fedcba9876543210");
	CHECK_STR(str(sa, "local"), "198.19.0.2:4500");
	CHECK_STR(str(sa, "remote"), "198.19.110.2:4500");
	CHECK_STR(str(sa, "nat_local"), "false");
	CHECK_STR(str(sa, "nat_remote"), "true");
	CHECK_STR(str(sa, "inner_address"), "198.18.100.1");
	CHECK(jv_get(sa, "dns") && jv_get(sa, "dns")->n == 1 &&
	      strcmp(jv_get(sa, "dns")->items[0]->str, "198.18.1.53") == 0);
	CHECK_STR(str(sa, "suite"), "aes128gcm16-prfsha256-x25519");
	CHECK_STR(str(sa, "established_s"), "12");
	CHECK_STR(str(sa, "rekey_in_s"), "100");
	CHECK_STR(str(sa, "mobike"), "true");
	CHECK_STR(str(sa, "moves"), "1");
	CHECK_STR(str(sa, "rr_pending"), "false");
	CHECK(jv_get(sa, "peer_addresses") && jv_get(sa, "peer_addresses")->n == 1 &&
	      strcmp(jv_get(sa, "peer_addresses")->items[0]->str, "198.19.110.2") == 0);
	c = jv_get(sa, "last_move");
	CHECK(c && c->type == JV_OBJECT);
	if (c && c->type == JV_OBJECT) {
		CHECK_STR(str(c, "old_local"), "198.19.0.2:4500");
		CHECK_STR(str(c, "old_remote"), "198.19.100.2:4500");
		CHECK_STR(str(c, "new_local"), "198.19.0.2:4500");
		CHECK_STR(str(c, "new_remote"), "198.19.110.2:4501");
		CHECK_STR(str(c, "old_nat"), "none");
		CHECK_STR(str(c, "nat"), "remote");
		CHECK_STR(str(c, "took_ms"), "12.345");
		CHECK_STR(str(c, "ago_s"), "3");
	}
	c = jv_get(sa, "child_sas");
	CHECK(c && c->type == JV_ARRAY && c->n == 1);
	if (c && c->n == 1) {
		c = c->items[0];
		CHECK_STR(str(c, "spi_in"), "c0000001");
		CHECK_STR(str(c, "spi_out"), "c0000002");
		CHECK_STR(str(c, "suite"), "aes128gcm16");
		CHECK(jv_get(c, "ts_local") && jv_get(c, "ts_local")->n == 1 &&
		      strcmp(jv_get(c, "ts_local")->items[0]->str, "198.18.0.0/16") == 0);
		CHECK(jv_get(c, "ts_remote") &&
		      strcmp(jv_get(c, "ts_remote")->items[0]->str, "198.18.100.1/32") == 0);
		CHECK_STR(str(c, "remote"), "198.19.110.2:4501");
		CHECK_STR(str(c, "udp_encap"), "true");
		CHECK_STR(str(c, "state"), "active");
		CHECK_STR(str(c, "in_packets"), "0");
		CHECK_STR(str(c, "out_bytes"), "0");
		CHECK_STR(str(c, "installed_s"), "10");
		CHECK_STR(str(c, "lifetime_s"), "3600");
		/* Soft = lifetime (no jitter configured), hard = 110 %, from installation. */
		CHECK_STR(str(c, "rekey_in_s"), "3590");
		CHECK_STR(str(c, "expire_in_s"), "3950");
		CHECK(jv_get(c, "drops") && jv_get(c, "drops")->type == JV_OBJECT &&
		      jv_get(c, "drops")->n == 0);
	}
	sa = list->items[1];
	CHECK_STR(str(sa, "peer"), "null");
	CHECK_STR(str(sa, "state"), "null");
	CHECK_STR(str(sa, "peer_id"), "%any");
	CHECK_STR(str(sa, "inner_address"), "null");
	CHECK_STR(str(sa, "established_s"), "null");
	CHECK_STR(str(sa, "rekey_in_s"), "null");
	CHECK_STR(str(sa, "mobike"), "false");
	CHECK_STR(str(sa, "moves"), "0");
	CHECK_STR(str(sa, "last_move"), "null");
	CHECK(jv_get(sa, "child_sas") && jv_get(sa, "child_sas")->n == 0);
	/* The second Child SA's IKE SA is not in the list. */
	orph = jv_get(doc, "child_sas_without_ike_sa");
	CHECK(orph && orph->n == 1 && strcmp(str(orph->items[0], "spi_in"), "c0000011") == 0 &&
	      strcmp(str(orph->items[0], "rekey_in_s"), "null") == 0);
out:
	jv_free(doc);
	g_free(text);

	/* No SAs at all. */
	text = vpngw_ctl_list_json(NULL, 0, dp, t0);
	doc = text ? jv_parse(text, NULL) : NULL;
	CHECK(doc && jv_get(doc, "ike_sas") && jv_get(doc, "ike_sas")->n == 0 &&
	      jv_get(doc, "child_sas_without_ike_sa")->n == 2);
	jv_free(doc);
	g_free(text);
	espdp_free(dp);
	close(fd);
}

static void test_stats(void)
{
	struct ike_engine_stats es;
	struct vpngw_ctl_pool p = { 253, 7 };
	const struct jv *ike, *esp, *pool;
	struct espdp *dp;
	struct jv *doc;
	char *text;
	int fd;

	memset(&es, 0, sizeof(es));
	es.rx = 10;
	es.cookies_sent = 3;
	es.pool_exhausted = 2;
	es.mobike_updates_rx = 5;
	es.mobike_updates_refused = 1;
	es.mobike_rr_failed = 2;
	es.mobike_moves = 4;
	dp = make_dp(&fd);
	text = vpngw_ctl_stats_json(&es, 4, &p, dp);
	doc = text ? jv_parse(text, NULL) : NULL;
	CHECK(doc != NULL);
	ike = jv_get(doc, "ike");
	CHECK(ike && strcmp(str(ike, "rx"), "10") == 0 &&
	      strcmp(str(ike, "cookies_sent"), "3") == 0 &&
	      strcmp(str(ike, "pool_exhausted"), "2") == 0 &&
	      strcmp(str(ike, "auth_failures"), "0") == 0);
	CHECK_STR(str(doc, "ike_sas"), "4");
	CHECK_STR(str(doc, "child_sas"), "0");
	ike = jv_get(doc, "mobike");
	CHECK(ike && strcmp(str(ike, "updates_rx"), "5") == 0 &&
	      strcmp(str(ike, "updates_refused"), "1") == 0 &&
	      strcmp(str(ike, "rr_failed"), "2") == 0 && strcmp(str(ike, "moves"), "4") == 0 &&
	      strcmp(str(ike, "updates_accepted"), "0") == 0);
	pool = jv_get(doc, "pool");
	CHECK(pool && strcmp(str(pool, "size"), "253") == 0 &&
	      strcmp(str(pool, "in_use"), "7") == 0);
	esp = jv_get(doc, "esp");
	CHECK(esp && strcmp(str(esp, "other_source"), "0") == 0 &&
	      strcmp(str(esp, "moves"), "0") == 0);
	CHECK(esp && strcmp(str(esp, "replays"), "0") == 0 &&
	      strcmp(str(esp, "replayed_packets"), "0") == 0 &&
	      strcmp(str(esp, "replayed_bytes"), "0") == 0);
	CHECK(esp && strcmp(str(esp, "in_packets"), "0") == 0 && jv_get(esp, "in_drops") &&
	      strcmp(str(jv_get(esp, "in_drops"), "replay"), "0") == 0 &&
	      strcmp(str(jv_get(esp, "in_drops"), "auth-failed"), "0") == 0);
	jv_free(doc);
	g_free(text);
	/* Without a pool there is no "pool" member. */
	p.size = 0;
	text = vpngw_ctl_stats_json(&es, 0, &p, dp);
	doc = text ? jv_parse(text, NULL) : NULL;
	CHECK(doc && !jv_get(doc, "pool"));
	jv_free(doc);
	g_free(text);
	espdp_free(dp);
	close(fd);

	text = vpngw_ctl_error_json("lst\n\"x", NULL);
	doc = text ? jv_parse(text, NULL) : NULL;
	CHECK(doc && strcmp(str(doc, "request"), "lst\n\"x") == 0 &&
	      strstr(str(doc, "error"), "unknown request") &&
	      strstr(str(doc, "error"), "rekey-child SPI"));
	jv_free(doc);
	g_free(text);
	text = vpngw_ctl_error_json("terminate 1", "terminate needs 16 hex digits");
	doc = text ? jv_parse(text, NULL) : NULL;
	CHECK(doc && strcmp(str(doc, "request"), "terminate 1") == 0 &&
	      strcmp(str(doc, "error"), "terminate needs 16 hex digits") == 0 && doc->n == 2);
	jv_free(doc);
	g_free(text);
}

/* Parse req; on success, op and spi must be as given; on failure why must contain want. */
static void parse_ok(const char *req, enum vpngw_ctl_op op, uint64_t spi)
{
	struct vpngw_ctl_req r = { 0, 0 };
	const char *why = NULL;

	CHECK(vpngw_ctl_parse(req, &r, &why) == 0 && r.op == op && r.spi == spi && !why);
}

static void parse_bad(const char *req, const char *want)
{
	struct vpngw_ctl_req r = { (enum vpngw_ctl_op)77, 77 };
	const char *why = NULL;

	CHECK(vpngw_ctl_parse(req, &r, &why) == -EINVAL && why && strstr(why, want) &&
	      r.op == (enum vpngw_ctl_op)77 && r.spi == 77);
	printf("# \"%s\": %s\n", req, why ? why : "(none)");
}

static void test_parse(void)
{
	parse_ok("list", VPNGW_CTL_LIST, 0);
	parse_ok("stats", VPNGW_CTL_STATS, 0);
	parse_ok("rekey-child c1234567", VPNGW_CTL_REKEY_CHILD, 0xc1234567);
	parse_ok("rekey-child C1234567", VPNGW_CTL_REKEY_CHILD, 0xc1234567);
	parse_ok("rekey-child 00000001", VPNGW_CTL_REKEY_CHILD, 1);
	parse_ok("rekey-ike 0123456789abcdef", VPNGW_CTL_REKEY_IKE, 0x0123456789abcdefULL);
	parse_ok("rekey-ike FEDCBA9876543210", VPNGW_CTL_REKEY_IKE, 0xfedcba9876543210ULL);
	parse_ok("terminate ffffffffffffffff", VPNGW_CTL_TERMINATE, UINT64_MAX);

	parse_bad("", "unknown request");
	parse_bad("lists", "unknown request");
	parse_bad("list foo", "unknown request");
	parse_bad("stats ", "unknown request");
	parse_bad("rekey", "unknown request");
	parse_bad("rekey-childc1234567", "unknown request");
	parse_bad("rekey-child", "8 hex digits");
	parse_bad("rekey-child ", "8 hex digits");
	parse_bad("rekey-child c123456", "8 hex digits");          /* 7 digits */
	parse_bad("rekey-child c12345678", "8 hex digits");        /* 9 */
	parse_bad("rekey-child 0xc12345", "8 hex digits");
	parse_bad("rekey-child c123456g", "8 hex digits");
	parse_bad("rekey-child 00000000", "8 hex digits");         /* SPI 0 */
	parse_bad("rekey-child c1234567 ", "8 hex digits");
	parse_bad("rekey-child  c1234567", "8 hex digits");
	parse_bad("rekey-ike c1234567", "16 hex digits");          /* a Child SA's SPI */
	parse_bad("rekey-ike 0123456789abcdef0", "16 hex digits");
	parse_bad("rekey-ike 0000000000000000", "16 hex digits");
	parse_bad("terminate 0123456789abcde", "16 hex digits");
	parse_bad("terminate -123456789abcdef", "16 hex digits");
	parse_bad("terminate", "terminate needs");
}

static void test_find_child(void)
{
	struct ike_child_info ci;
	struct espdp *dp;
	uint64_t ike = 0x77;
	uint32_t in = 0x77;
	int fd;

	dp = make_dp(&fd);
	child(&ci, 0x1111, 0x2222, 0xc0000001, 3600);         /* out: c0000002 */
	CHECK(espdp_child_add(dp, &ci, MM_SEC(1)) == 0);
	child(&ci, 0x3333, 0x4444, 0xd0000001, 3600);         /* out: d0000002 */
	CHECK(espdp_child_add(dp, &ci, MM_SEC(1)) == 0);
	CHECK(vpngw_ctl_find_child(dp, 0xc0000001, &in, &ike) == 0 && in == 0xc0000001 &&
	      ike == 0x1111);
	CHECK(vpngw_ctl_find_child(dp, 0xd0000002, &in, &ike) == 0 && in == 0xd0000001 &&
	      ike == 0x3333);
	in = 0x77;
	ike = 0x77;
	CHECK(vpngw_ctl_find_child(dp, 0xc0000003, &in, &ike) == -ENOENT && in == 0x77 &&
	      ike == 0x77);
	CHECK(vpngw_ctl_find_child(dp, 0, &in, &ike) == -ENOENT && in == 0x77);
	/* After an IKE SA rekey the Child SA names the new IKE SA. */
	CHECK(espdp_child_reparent(dp, 0x1111, 0x2222, 0x5555, 0x6666) == 1);
	CHECK(vpngw_ctl_find_child(dp, 0xc0000002, &in, &ike) == 0 && in == 0xc0000001 &&
	      ike == 0x5555);
	espdp_free(dp);
	close(fd);
}

/* The answer to an order with outcome rc: "ok" or the error words. */
static void order(const char *request, int rc, const char *want_error)
{
	struct vpngw_ctl_req r;
	const char *why = NULL;
	struct jv *doc;
	char *text;

	if (vpngw_ctl_parse(request, &r, &why) < 0) {
		CHECK(!"the request parses");
		return;
	}
	text = vpngw_ctl_order_json(request, &r, rc);
	doc = text ? jv_parse(text, NULL) : NULL;
	printf("# %s, %d: %s\n", request, rc, text ? text : "(null)");
	CHECK(doc && doc->type == JV_OBJECT && doc->n == 2 &&
	      strcmp(str(doc, "request"), request) == 0);
	if (!want_error)
		CHECK(doc && strcmp(str(doc, "ok"), "true") == 0 && !jv_get(doc, "error"));
	else
		CHECK(doc && strcmp(str(doc, "error"), want_error) == 0 && !jv_get(doc, "ok"));
	jv_free(doc);
	g_free(text);
}

static void test_orders(void)
{
	struct vpngw_ctl_req r = { VPNGW_CTL_TERMINATE, 0xabc };
	char buf[160];

	order("rekey-child c1234567", 0, NULL);
	order("rekey-ike 0123456789abcdef", 0, NULL);
	order("terminate 0123456789abcdef", 0, NULL);
	order("rekey-child c1234567", -ENOENT, "no such Child SA c1234567");
	order("rekey-ike 0123456789ABCDEF", -ENOENT, "no such IKE SA 0123456789abcdef");
	order("terminate 00000000000000ff", -ENOENT, "no such IKE SA 00000000000000ff");
	order("rekey-child 0000abcd", -EAGAIN, "the IKE SA of Child SA 0000abcd is not "
	      "established (being set up, rekeyed or deleted)");
	order("rekey-ike 0123456789abcdef", -EAGAIN, "IKE SA 0123456789abcdef is not "
	      "established (being set up, rekeyed or deleted)");
	order("rekey-child c1234567", -EALREADY, "Child SA c1234567 is already being rekeyed "
	      "or deleted");
	order("rekey-ike 0123456789abcdef", -EALREADY, "IKE SA 0123456789abcdef is already "
	      "being rekeyed");
	order("terminate 0123456789abcdef", -EALREADY, "IKE SA 0123456789abcdef is already "
	      "being deleted");
	order("terminate 0123456789abcdef", -ENOSPC, "IKE SA 0123456789abcdef: No space left "
	      "on device");
	CHECK_STR(vpngw_ctl_order_result(&r, 0, buf, sizeof(buf)), "");
	/* A short buffer: truncated, terminated. */
	CHECK_STR(vpngw_ctl_order_result(&r, -ENOENT, buf, 12), "no such IKE");
}

int main(void)
{
	test_ts_str();
	test_list();
	test_stats();
	test_parse();
	test_find_child();
	test_orders();
	return tap_done();
}
