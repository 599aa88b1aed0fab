/* Unit tests for the home agent's daemon pieces that need no main loop: gratuitous ARP
 * sending (the encoding is tested in tests/unit/test_garp.c), proxy neighbour entries and
 * neighbour lookups (in a private network namespace, on a TAP device created here),
 * /proc/sys writes, hactl's JSON reader, and the configuration file's trusted-networks
 * (RFC 5265 §4.3). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <glib.h>

#include "common/clock.h"
#include "common/garp.h"
#include "common/log.h"
#include "common/netlink.h"
#include "common/sock.h"
#include "common/tun.h"
#include "daemon/jsonval.h"
#include "ha/conf.h"
#include "ha/ctl.h"
#include "ha/neigh.h"
#include "ha/sysctl.h"
#include "mip4/ha_engine.h"
#include "mip4/ident.h"
#include "tests/unit/tap.h"

static struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };

	if (addr4_parse(s, &a) < 0)
		abort();
	return a;
}

static void test_json(void)
{
	const char *doc = "{\"bindings\":[{\"home_address\":\"198.18.1.100\",\"lifetime\":300,"
			  "\"reverse_tunnel\":true,\"x\":null,"
			  "\"s\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\"}],"
			  "\"n\":-1.5e3, \"e\" : { } , \"a\":[]}";
	struct jv *v = jv_parse(doc, NULL);
	const struct jv *b, *s;
	size_t pos = 99;
	unsigned bad = 0;

	CHECK(v && v->type == JV_OBJECT && v->n == 4);
	b = jv_get(v, "bindings");
	CHECK(b && b->type == JV_ARRAY && b->n == 1);
	CHECK(b && jv_get(b->items[0], "lifetime") &&
	      strcmp(jv_get(b->items[0], "lifetime")->num_text, "300") == 0);
	CHECK(b && jv_get(b->items[0], "reverse_tunnel")->b);
	CHECK(b && jv_get(b->items[0], "x")->type == JV_NULL);
	s = b ? jv_get(b->items[0], "s") : NULL;
	CHECK(s && strcmp(s->str, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80") == 0);
	CHECK(jv_get(v, "n") && jv_get(v, "n")->num == -1500.0);
	CHECK(jv_get(v, "missing") == NULL);
	jv_free(v);

	CHECK(jv_parse("{\"a\":1,}", &pos) == NULL && pos == 7);
	CHECK(jv_parse("[1 2]", NULL) == NULL);
	CHECK(jv_parse("\"\x01\"", NULL) == NULL);
	CHECK(jv_parse("{\"a\":1} x", NULL) == NULL);
	CHECK(jv_parse("", NULL) == NULL);
	{
		char deep[200];

		memset(deep, '[', 100);
		memset(deep + 100, ']', 99);
		deep[199] = 0;
		CHECK(jv_parse(deep, NULL) == NULL);
	}
	/* Truncations of a valid document never crash and never parse. */
	for (size_t n = 0; n < strlen(doc); n++) {
		char *t = strndup(doc, n);
		struct jv *x = jv_parse(t, NULL);

		CHECK_LOOP(x == NULL, bad);
		jv_free(x);
		free(t);
	}
	CHECK_EQ_U64(bad, 0);
}

static const uint8_t secret[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static int lookup(void *ctx, struct in_addr hoa, uint32_t spi, struct mip4_key *out)
{
	(void)ctx;
	(void)hoa;
	return spi == 1000 ? mip4_key_set(out, spi, secret, sizeof(secret)) : -ENOENT;
}

static int reg(struct ha_engine *ha, const char *hoa, const char *coa, const char *src,
	       uint16_t port, bool udp, uint64_t ident, struct ha_actions *a)
{
	struct mip4_reg_request r;
	struct ha_rx_meta m;
	struct mip4_key k;
	struct writer w;
	uint8_t buf[256];
	int n;

	memset(&r, 0, sizeof(r));
	r.flags = MIP4_REQ_D | MIP4_REQ_T;
	r.lifetime = 300;
	r.home_addr = ip(hoa);
	r.home_agent = ip("198.18.1.1");
	r.coa = ip(coa);
	r.ident = ident;
	r.udp_req.present = udp;
	mip4_key_set(&k, 1000, secret, sizeof(secret));
	writer_init(&w, buf, sizeof(buf));
	n = mip4_request_encode(&w, &r, &k, NULL);
	if (n < 0)
		abort();
	memset(&m, 0, sizeof(m));
	m.src.sin_family = AF_INET;
	m.src.sin_addr = ip(src);
	m.src.sin_port = htons(port);
	m.dst = ip("198.18.1.1");
	return ha_engine_request(ha, buf, (size_t)n, &m, a);
}

/* The control documents hactl and the integration tests read. */
static void test_ctl_json(void)
{
	struct fake_clock mono, wall;
	struct ha_engine_config c;
	struct ha_engine *ha;
	struct ha_ctl_ctx ctx;
	struct ha_actions *a = calloc(1, sizeof(*a));
	uint64_t id = mip4_ntp_from_unix_ns(MM_SEC(1763856000));
	const struct jv *list, *b, *x;
	struct jv *v;
	char *text, want[32];

	log_set_level(LOG_LEVEL_ERROR);
	fake_clock_init(&mono, MM_SEC(500));
	fake_clock_init(&wall, MM_SEC(1763856000));
	memset(&c, 0, sizeof(c));
	c.address = ip("198.18.1.1");
	c.home_net = ip("198.18.1.0");
	c.home_plen = 24;
	c.key_lookup = lookup;
	c.clock = &mono.base;
	c.wall = &wall.base;
	c.keepalive_interval = 110;
	if (ha_engine_new(&c, &ha) < 0)
		abort();
	CHECK_EQ_U64(reg(ha, "198.18.1.100", "198.18.11.10", "198.18.11.10", 434, false, id, a), 0);
	CHECK_EQ_U64(reg(ha, "198.18.1.101", "10.0.0.5", "198.18.211.2", 1234, true, id + 1, a), 0);
	fake_clock_advance(&mono, MM_SEC(13));

	text = ha_ctl_list_json(ha);
	v = jv_parse(text, NULL);
	list = jv_get(v, "bindings");
	CHECK(list && list->type == JV_ARRAY && list->n == 2);
	b = list && list->n == 2 ? list->items[0] : NULL;
	CHECK(b && strcmp(jv_get(b, "home_address")->str, "198.18.1.100") == 0);
	CHECK(b && strcmp(jv_get(b, "care_of_address")->str, "198.18.11.10") == 0);
	CHECK(b && strcmp(jv_get(b, "tunnel_endpoint")->str, "198.18.11.10") == 0);
	CHECK(b && strcmp(jv_get(b, "encapsulation")->str, "ipip") == 0);
	CHECK(b && jv_get(b, "reverse_tunnel")->type == JV_BOOL && jv_get(b, "reverse_tunnel")->b);
	CHECK(b && strcmp(jv_get(b, "lifetime")->num_text, "300") == 0);
	CHECK(b && strcmp(jv_get(b, "remaining")->num_text, "287") == 0);
	CHECK(b && strcmp(jv_get(b, "registrations")->num_text, "1") == 0);
	CHECK(b && strcmp(jv_get(b, "registered_at_monotonic_ms")->num_text, "500000") == 0);
	snprintf(want, sizeof(want), "0x%016llx", (unsigned long long)id);
	CHECK(b && strcmp(jv_get(b, "identification")->str, want) == 0);
	b = list && list->n == 2 ? list->items[1] : NULL;
	CHECK(b && strcmp(jv_get(b, "tunnel_endpoint")->str, "198.18.211.2:1234") == 0);
	CHECK(b && strcmp(jv_get(b, "encapsulation")->str, "udp") == 0);
	CHECK(b && strcmp(jv_get(b, "care_of_address")->str, "10.0.0.5") == 0);
	jv_free(v);
	g_free(text);

	ctx.engine = ha;
	ctx.dp = NULL;
	text = ha_ctl_handle("stats", &ctx);
	v = jv_parse(text, NULL);
	CHECK(v && strcmp(jv_get(v, "requests")->num_text, "2") == 0);
	CHECK(v && strcmp(jv_get(v, "accepted")->num_text, "2") == 0);
	CHECK(v && strcmp(jv_get(v, "denied")->num_text, "0") == 0);
	x = jv_get(v, "denied_by_code");
	CHECK(x && x->type == JV_OBJECT && x->n == 0);
	CHECK(v && strcmp(jv_get(v, "bindings")->num_text, "2") == 0);
	CHECK(v && jv_get(v, "dropped_untrusted") &&
	      strcmp(jv_get(v, "dropped_untrusted")->num_text, "0") == 0);
	jv_free(v);
	g_free(text);
	text = ha_ctl_handle("frobnicate", &ctx);
	v = jv_parse(text, NULL);
	CHECK(v && jv_get(v, "error") != NULL);
	jv_free(v);
	g_free(text);
	ha_engine_free(ha);
	free(a);
}

/* --- configuration: trusted-networks ------------------------------------------------ */

static char conf_dir[] = "/tmp/test_ha_conf.XXXXXX";
static char conf_log[4096];

/* Load a [home-agent] group with the required keys plus extra; the log lines it wrote are
 * in conf_log. */
static int load_conf(const char *extra, struct ha_conf *out)
{
	char path[sizeof(conf_dir) + 16], text[2048];
	FILE *f, *log = tmpfile();
	size_t n;
	int rc;

	snprintf(path, sizeof(path), "%s/ha.conf", conf_dir);
	snprintf(text, sizeof(text), "[home-agent]\naddress = 198.18.1.1\nhome-interface = eth0\n"
		 "home-prefix = 198.18.1.0/24\nkeys-file = keys\n%s\n", extra);
	f = fopen(path, "w");
	if (!f || !log)
		abort();
	fputs(text, f);
	fclose(f);
	log_set_stream(log);
	log_set_format(LOG_FORMAT_JOURNAL);
	log_set_level(LOG_LEVEL_INFO);
	rc = ha_conf_load(path, out);
	fflush(log);
	rewind(log);
	n = fread(conf_log, 1, sizeof(conf_log) - 1, log);
	conf_log[n] = 0;
	log_set_stream(NULL);
	log_set_level(LOG_LEVEL_ERROR);
	fclose(log);
	unlink(path);
	return rc;
}

static void test_conf_trusted(void)
{
	struct ha_conf c;
	char many[512] = "trusted-networks = 10.0.0.0/8";

	if (!mkdtemp(conf_dir))
		abort();
	/* Not set: no trusted networks (plain RFC 5944 home agent), no warning. */
	memset(&c, 0x5a, sizeof(c));
	CHECK_EQ_U64(load_conf("", &c), 0);
	CHECK_EQ_U64(c.ntrusted, 0);
	CHECK(strstr(conf_log, "trusted-networks") == NULL);
	ha_conf_clear(&c);

	CHECK_EQ_U64(load_conf("trusted-networks = 198.18.11.0/24 ,10.0.0.0/8,198.18.1.0/24,"
			       "198.18.200.1/32", &c), 0);
	CHECK_EQ_U64(c.ntrusted, 4);
	CHECK(c.trusted[0].net.s_addr == ip("198.18.11.0").s_addr && c.trusted[0].plen == 24);
	CHECK(c.trusted[1].net.s_addr == ip("10.0.0.0").s_addr && c.trusted[1].plen == 8);
	CHECK(c.trusted[3].net.s_addr == ip("198.18.200.1").s_addr && c.trusted[3].plen == 32);
	CHECK(strstr(conf_log, "home-prefix") == NULL);   /* 198.18.1.0/24 is listed */
	ha_conf_clear(&c);

	/* The home prefix left out: allowed, with a warning (home-link deregistrations). */
	CHECK_EQ_U64(load_conf("trusted-networks = 198.18.0.0/23", &c), 0);
	CHECK_EQ_U64(c.ntrusted, 1);
	CHECK(strstr(conf_log, "home-prefix") == NULL);   /* /23 contains the /24 */
	ha_conf_clear(&c);
	CHECK_EQ_U64(load_conf("trusted-networks = 198.18.1.0/25", &c), 0);
	CHECK(strstr(conf_log, "<4>") && strstr(conf_log, "[home-agent] trusted-networks: "
		      "home-prefix 198.18.1.0/24 is not inside any of them"));
	ha_conf_clear(&c);

	/* At most HA_TRUSTED_MAX. */
	for (int i = 1; i < HA_TRUSTED_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), ", 198.18.%d.0/24",
			 100 + i);
	CHECK_EQ_U64(load_conf(many, &c), 0);
	CHECK_EQ_U64(c.ntrusted, HA_TRUSTED_MAX);
	CHECK(c.trusted[HA_TRUSTED_MAX - 1].net.s_addr == ip("198.18.115.0").s_addr);
	ha_conf_clear(&c);
	strcat(many, ", 198.18.99.0/24");
	CHECK(load_conf(many, &c) == -EINVAL);
	CHECK(strstr(conf_log, "trusted-networks: 17 prefixes; at most 16") != NULL);

	/* Bad values: one line naming the key, and the load fails. */
	CHECK(load_conf("trusted-networks = 198.18.11.1/24", &c) == -EINVAL);
	CHECK(strstr(conf_log, "[home-agent] trusted-networks: 198.18.11.1/24 has host bits set; "
		      "the network is 198.18.11.0/24") != NULL);
	CHECK(load_conf("trusted-networks = 0.0.0.0/0", &c) == -EINVAL);
	CHECK(strstr(conf_log, "0.0.0.0/0 would trust every source address") != NULL);
	CHECK(load_conf("trusted-networks = 198.18.11.0", &c) == -EINVAL);
	CHECK(strstr(conf_log, "\"198.18.11.0\" is not an IPv4 prefix") != NULL);
	CHECK(load_conf("trusted-networks = 198.18.11.0/33", &c) == -EINVAL);
	CHECK(load_conf("trusted-networks = 198.18.11.0/24,,10.0.0.0/8", &c) == -EINVAL);
	CHECK(strstr(conf_log, "empty item") != NULL);
	CHECK(load_conf("trusted-networks =", &c) == -EINVAL);
	CHECK(rmdir(conf_dir) == 0);
}

static void count_proxy(void *user, struct in_addr a)
{
	unsigned *n = user;

	if ((ntohl(a.s_addr) >> 8) == 0xc61232)   /* 198.18.50.0/24 */
		(*n)++;
}

static void test_netns(void)
{
	unsigned proxies;
	uint8_t mac[6], frame[256], got[6];
	char old[32], val[32];
	int fd, ifindex, gfd, rc;
	ssize_t n;

	if (unshare(CLONE_NEWNET) < 0) {
		printf("# SKIP namespace tests: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return;
	}
	fd = tun_open("hatap0", NULL, TUN_OPEN_TAP);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ_U64(tun_set_up("hatap0"), 0);
	ifindex = nl_link_index("hatap0");
	CHECK(ifindex > 0);
	CHECK_EQ_U64(nl_addr4_add(ifindex, ip("198.18.50.1"), 24), 0);
	CHECK_EQ_U64(ha_link_mac("hatap0", mac), 0);
	CHECK(mac[0] != 0 || mac[1] != 0 || mac[5] != 0);
	CHECK_EQ_U64(ha_link_mac("lo", mac), (uint64_t)-EINVAL);  /* loopback is not Ethernet */
	ha_link_mac("hatap0", mac);

	/* Proxy entries. */
	CHECK_EQ_U64(ha_neigh_proxy_add(ifindex, ip("198.18.50.100")), 0);
	CHECK_EQ_U64(ha_neigh_proxy_add(ifindex, ip("198.18.50.100")), 0);   /* replace */
	CHECK_EQ_U64(ha_neigh_proxy_add(ifindex, ip("198.18.50.101")), 0);
	proxies = 0;
	CHECK_EQ_U64(ha_neigh_proxy_list(ifindex, count_proxy, &proxies), 0);
	CHECK_EQ_U64(proxies, 2);
	CHECK_EQ_U64(ha_neigh_proxy_del(ifindex, ip("198.18.50.101")), 0);
	CHECK_EQ_U64(ha_neigh_proxy_del(ifindex, ip("198.18.50.100")), 0);
	CHECK_EQ_U64(ha_neigh_proxy_del(ifindex, ip("198.18.50.100")), (uint64_t)-ENOENT);
	proxies = 0;
	CHECK_EQ_U64(ha_neigh_proxy_list(ifindex, count_proxy, &proxies), 0);
	CHECK_EQ_U64(proxies, 0);
	CHECK_EQ_U64(ha_neigh_proxy_add(9999, ip("198.18.50.100")), (uint64_t)-ENODEV);

	/* Neighbour lookup: none yet; with "ip" present, a permanent entry is found. */
	CHECK_EQ_U64(ha_neigh_lookup(ifindex, ip("198.18.50.2"), got), (uint64_t)-ENOENT);
	if (access("/usr/sbin/ip", X_OK) == 0 || access("/sbin/ip", X_OK) == 0) {
		rc = system("ip neigh add 198.18.50.2 lladdr 02:00:00:00:00:02 dev hatap0");
		CHECK_EQ_U64(rc, 0);
		CHECK_EQ_U64(ha_neigh_lookup(ifindex, ip("198.18.50.2"), got), 0);
		CHECK(got[0] == 2 && got[5] == 2);
		CHECK_EQ_U64(ha_neigh_lookup(ifindex, ip("198.18.50.3"), got), (uint64_t)-ENOENT);
	}

	/* Gratuitous ARP: what the TAP receives is a broadcast ARP Request. */
	gfd = garp_open(ifindex);
	CHECK(gfd >= 0);
	while (read(fd, frame, sizeof(frame)) > 0)
		;   /* IPv6 and other start-up noise */
	CHECK_EQ_U64(garp_send(gfd, ifindex, ip("198.18.50.100"), mac), 0);
	n = -1;
	for (int tries = 0; tries < 100; tries++) {
		n = read(fd, frame, sizeof(frame));
		if (n >= 14 && frame[12] == 0x08 && frame[13] == 0x06)
			break;
		usleep(10000);
	}
	CHECK(n >= 14 + GARP_LEN);
	if (n >= 14 + GARP_LEN) {
		static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
		uint8_t want[GARP_LEN];
		struct writer w;

		writer_init(&w, want, sizeof(want));
		garp_encode(&w, ip("198.18.50.100"), mac);
		CHECK_MEM(frame, bcast, 6);
		CHECK_MEM(frame + 6, mac, 6);
		CHECK_MEM(frame + 14, want, GARP_LEN);
	}
	close(gfd);

	/* /proc/sys, in this namespace only. */
	CHECK_EQ_U64(ha_sysctl_set("net/ipv4/ip_forward", "1", old, sizeof(old)), 0);
	CHECK_STR(old, "0");
	CHECK_EQ_U64(ha_sysctl_set("net/ipv4/ip_forward", "1", val, sizeof(val)), 0);
	CHECK_STR(val, "1");
	CHECK_EQ_U64(ha_sysctl_set("net/ipv4/neigh/hatap0/proxy_delay", "0", NULL, 0), 0);
	CHECK_EQ_U64(ha_sysctl_set("../etc/passwd", "x", NULL, 0), (uint64_t)-EINVAL);
	CHECK(ha_sysctl_set("net/ipv4/no_such_thing", "1", NULL, 0) < 0);
	close(fd);
}

int main(void)
{
	test_json();
	test_ctl_json();
	test_conf_trusted();
	test_netns();
	return tap_done();
}
