/* Unit tests for daemon/config.{h,c}: every getter, every error message (captured). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/test_capture.h"
#include "tests/unit/tap.h"

static const char CONF[] =
	"# a mobile node\n"
	"[mobile-node]\n"
	"home-address = 198.18.1.100\n"
	"home-agent = 1.2.3\n"
	"home-prefix-length = 24\n"
	"lifetime = 70000\n"
	"spi = 0x100\n"
	"big = 99999999999999999999\n"
	"zero = 0\n"
	"empty =\n"
	"blank =    \n"
	"reverse-tunnel = yes\n"
	"bad-bool = maybe\n"
	"upper-bool = FALSE\n"
	"interfaces = wlan0, wwan0 ,eth0\n"
	"bad-list = wlan0,,wwan0\n"
	"one-item = wlan0\n"
	"tunnel-device = mip0\n"
	"long-if = abcdefghijklmnop\n"
	"slash-if = a/b\n"
	"dot-if = ..\n"
	"key-file = mn.key\n"
	"abs-file = /etc/x/y.key\n"
	"up-file = ../keys/z\n"
	"udp-tunnel = force\n"
	"bad-enum = maybe\n"
	"home-prefix = 198.18.1.0/24\n"
	"host-prefix = 198.18.1.1/24\n"
	"bad-prefix = 198.18.1.0\n"
	"lifetme = 300\n"
	"\n"
	"[home-agent]\n"
	"address = 198.18.0.1\n"
	"[extra]\n"
	"x = 1\n";

#define G "mobile-node"

static struct cfg c;

static void test_load_errors(const char *dir)
{
	struct cfg d = { 0 };
	const char *log;
	char path[256];
	FILE *f;

	capture_start();
	CHECK_EQ_U64(cfg_load(&d, "/nonexistent/mnd.conf"), (uint64_t)-ENOENT);
	log = capture_end();
	CHECK_ONE_LINE(log, "cannot read configuration file /nonexistent/mnd.conf: "
		       "No such file or directory");
	CHECK(d.kf == NULL);

	capture_start();
	CHECK_EQ_U64(cfg_load(&d, dir), (uint64_t)-EISDIR);
	log = capture_end();
	CHECK_ONE_LINE(log, "Is a directory");

	snprintf(path, sizeof(path), "%s/broken.conf", dir);
	f = fopen(path, "w");
	fputs("[mobile-node]\nthis is not a key value pair\n", f);
	fclose(f);
	capture_start();
	CHECK_EQ_U64(cfg_load(&d, path), (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "broken.conf:2: not a \"key = value\" line, [group] or # comment: "
		       "\"this is not a key value pair\"\n");
	CHECK(strncmp(log, "<3>", 3) == 0);
	unlink(path);

	capture_start();
	CHECK_EQ_U64(cfg_load_data(&d, "x.conf", NULL, "no group = 1\n"), (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "x.conf:1: key before the first [group]: \"no group = 1\"\n");
	capture_start();
	CHECK_EQ_U64(cfg_load_data(&d, "y.conf", NULL, "# c\n\n[a]\nk=v\n[b\n"), (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "y.conf:5: not a valid [group] line: \"[b\"\n");
	capture_start();
	CHECK_EQ_U64(cfg_load_data(&d, "z.conf", NULL, "[a]\n = v\n"), (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "z.conf:2: not a \"key = value\"");
	CHECK(d.kf == NULL);
}

static void test_strings(void)
{
	const char *log;
	char *s = NULL;

	CHECK_EQ_U64(cfg_get_string(&c, G, "tunnel-device", CFG_REQUIRED, NULL, &s), 0);
	CHECK_STR(s, "mip0");
	g_free(s);
	s = NULL;
	CHECK_EQ_U64(cfg_get_string(&c, G, "absent", CFG_OPTIONAL, "dflt", &s), 1);
	CHECK_STR(s, "dflt");
	g_free(s);
	s = NULL;
	CHECK_EQ_U64(cfg_get_string(&c, G, "absent", CFG_OPTIONAL, NULL, &s), 1);
	CHECK(s == NULL);
	CHECK_EQ_U64(cfg_get_string(&c, "no-such-group", "x", CFG_OPTIONAL, NULL, &s), 1);

	capture_start();
	CHECK_EQ_U64(cfg_get_string(&c, G, "absent", CFG_REQUIRED, NULL, &s), (uint64_t)-ENOENT);
	log = capture_end();
	CHECK_ONE_LINE(log, "mnd.conf: [mobile-node] absent: missing (required)\n");
	CHECK(s == NULL);

	capture_start();
	CHECK_EQ_U64(cfg_get_string(&c, G, "empty", CFG_OPTIONAL, "d", &s), (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "mnd.conf: [mobile-node] empty: value is empty\n");
	capture_start();
	CHECK_EQ_U64(cfg_get_string(&c, G, "blank", CFG_OPTIONAL, "d", &s), (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "mnd.conf: [mobile-node] blank: value is empty\n");
	CHECK(s == NULL);
	CHECK(cfg_has_key(&c, G, "empty"));
	CHECK(!cfg_has_key(&c, G, "absent"));
	CHECK(cfg_has_group(&c, "home-agent"));
	CHECK(!cfg_has_group(&c, "nope"));
}

static void test_addr(void)
{
	struct in_addr a = { 0 }, want;
	const char *log;

	inet_pton(AF_INET, "198.18.1.100", &want);
	CHECK_EQ_U64(cfg_get_addr4(&c, G, "home-address", CFG_REQUIRED, NULL, &a), 0);
	CHECK_EQ_U64(a.s_addr, want.s_addr);
	a.s_addr = 7;
	capture_start();
	CHECK_EQ_U64(cfg_get_addr4(&c, G, "home-agent", CFG_REQUIRED, NULL, &a),
		     (uint64_t)-EINVAL);
	log = capture_end();
	/* the example of the configuration contract, word for word */
	CHECK_ONE_LINE(log, "mnd.conf: [mobile-node] home-agent: \"1.2.3\" is not an IPv4 "
		       "address\n");
	CHECK_EQ_U64(a.s_addr, 7);
	CHECK_EQ_U64(cfg_get_addr4(&c, G, "absent", CFG_OPTIONAL, "198.18.0.9", &a), 1);
	inet_pton(AF_INET, "198.18.0.9", &want);
	CHECK_EQ_U64(a.s_addr, want.s_addr);
	a.s_addr = 7;
	CHECK_EQ_U64(cfg_get_addr4(&c, G, "absent", CFG_OPTIONAL, NULL, &a), 1);
	CHECK_EQ_U64(a.s_addr, 7);
	capture_start();
	CHECK_EQ_U64(cfg_get_addr4(&c, G, "absent", CFG_REQUIRED, NULL, &a), (uint64_t)-ENOENT);
	log = capture_end();
	CHECK_ONE_LINE(log, "[mobile-node] absent: missing (required)");
}

static void test_uint(void)
{
	uint32_t v = 5;
	const char *log;

	CHECK_EQ_U64(cfg_get_uint(&c, G, "home-prefix-length", CFG_OPTIONAL, 0, 32, 24, &v), 0);
	CHECK_EQ_U64(v, 24);
	CHECK_EQ_U64(cfg_get_uint(&c, G, "zero", CFG_OPTIONAL, 0, 32, 24, &v), 0);
	CHECK_EQ_U64(v, 0);
	CHECK_EQ_U64(cfg_get_uint(&c, G, "absent", CFG_OPTIONAL, 1, 65535, 300, &v), 1);
	CHECK_EQ_U64(v, 300);
	v = 5;
	capture_start();
	CHECK_EQ_U64(cfg_get_uint(&c, G, "lifetime", CFG_OPTIONAL, 1, 65535, 300, &v),
		     (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "mnd.conf: [mobile-node] lifetime: 70000 is out of range "
		       "(1..65535)\n");
	CHECK_EQ_U64(v, 5);
	capture_start();
	CHECK_EQ_U64(cfg_get_uint(&c, G, "zero", CFG_OPTIONAL, 1, 65535, 300, &v),
		     (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "zero: 0 is out of range (1..65535)");
	capture_start();
	CHECK_EQ_U64(cfg_get_uint(&c, G, "spi", CFG_REQUIRED, 256, UINT32_MAX, 0, &v),
		     (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "spi: \"0x100\" is not a decimal number");
	capture_start();
	CHECK_EQ_U64(cfg_get_uint(&c, G, "big", CFG_REQUIRED, 0, UINT32_MAX, 0, &v),
		     (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "big: 99999999999999999999 is out of range (0..4294967295)");
	capture_start();
	CHECK_EQ_U64(cfg_get_uint(&c, G, "empty", CFG_OPTIONAL, 0, 9, 1, &v), (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "empty: value is empty");
	CHECK_EQ_U64(v, 5);
}

static void test_bool(void)
{
	bool b = false;
	const char *log;

	CHECK_EQ_U64(cfg_get_bool(&c, G, "reverse-tunnel", CFG_OPTIONAL, false, &b), 0);
	CHECK(b);
	CHECK_EQ_U64(cfg_get_bool(&c, G, "upper-bool", CFG_OPTIONAL, true, &b), 0);
	CHECK(!b);
	CHECK_EQ_U64(cfg_get_bool(&c, G, "absent", CFG_OPTIONAL, true, &b), 1);
	CHECK(b);
	capture_start();
	CHECK_EQ_U64(cfg_get_bool(&c, G, "bad-bool", CFG_OPTIONAL, false, &b), (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "mnd.conf: [mobile-node] bad-bool: \"maybe\" is not a boolean "
		       "(true or false)\n");
	CHECK(b);
}

static void test_prefix_ifname(void)
{
	struct in_addr net = { 0 }, want;
	unsigned plen = 99;
	char ifn[IFNAMSIZ] = "keep";
	const char *log;

	CHECK_EQ_U64(cfg_get_prefix4(&c, G, "home-prefix", CFG_REQUIRED, NULL, &net, &plen), 0);
	inet_pton(AF_INET, "198.18.1.0", &want);
	CHECK_EQ_U64(net.s_addr, want.s_addr);
	CHECK_EQ_U64(plen, 24);
	CHECK_EQ_U64(cfg_get_prefix4(&c, G, "absent", CFG_OPTIONAL, "10.0.0.0/8", &net, &plen), 1);
	CHECK_EQ_U64(plen, 8);
	capture_start();
	CHECK_EQ_U64(cfg_get_prefix4(&c, G, "host-prefix", CFG_REQUIRED, NULL, &net, &plen),
		     (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "mnd.conf: [mobile-node] host-prefix: 198.18.1.1/24 has host bits "
		       "set; the network is 198.18.1.0/24\n");
	CHECK_EQ_U64(plen, 8);
	capture_start();
	CHECK_EQ_U64(cfg_get_prefix4(&c, G, "bad-prefix", CFG_REQUIRED, NULL, &net, &plen),
		     (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "bad-prefix: \"198.18.1.0\" is not an IPv4 prefix (a.b.c.d/len)");

	CHECK_EQ_U64(cfg_get_ifname(&c, G, "tunnel-device", CFG_OPTIONAL, "x", ifn), 0);
	CHECK_STR(ifn, "mip0");
	CHECK_EQ_U64(cfg_get_ifname(&c, G, "absent", CFG_OPTIONAL, "mipha0", ifn), 1);
	CHECK_STR(ifn, "mipha0");
	capture_start();
	CHECK_EQ_U64(cfg_get_ifname(&c, G, "long-if", CFG_OPTIONAL, "x", ifn), (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "long-if: \"abcdefghijklmnop\" is longer than 15 characters");
	capture_start();
	CHECK_EQ_U64(cfg_get_ifname(&c, G, "slash-if", CFG_OPTIONAL, "x", ifn), (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "slash-if: \"a/b\" is not a valid interface name");
	capture_start();
	CHECK_EQ_U64(cfg_get_ifname(&c, G, "dot-if", CFG_OPTIONAL, "x", ifn), (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "dot-if: \"..\" is not a valid interface name");
	CHECK_STR(ifn, "mipha0");
}

static void test_list_path_enum(const char *dir)
{
	static const char *const modes[] = { "auto", "force", "off", NULL };
	char **list = NULL;
	char *p = NULL, *want;
	size_t n = 0;
	int e = -1;
	const char *log;

	CHECK_EQ_U64(cfg_get_string_list(&c, G, "interfaces", CFG_REQUIRED, NULL, &list, &n), 0);
	CHECK_EQ_U64(n, 3);
	CHECK_STR(list[0], "wlan0");
	CHECK_STR(list[1], "wwan0");
	CHECK_STR(list[2], "eth0");
	CHECK(list[3] == NULL);
	g_strfreev(list);
	CHECK_EQ_U64(cfg_get_string_list(&c, G, "one-item", CFG_REQUIRED, NULL, &list, NULL), 0);
	CHECK_STR(list[0], "wlan0");
	CHECK(list[1] == NULL);
	g_strfreev(list);
	CHECK_EQ_U64(cfg_get_string_list(&c, G, "absent", CFG_OPTIONAL, "a,b", &list, &n), 1);
	CHECK_EQ_U64(n, 2);
	g_strfreev(list);
	list = NULL;
	capture_start();
	CHECK_EQ_U64(cfg_get_string_list(&c, G, "bad-list", CFG_REQUIRED, NULL, &list, &n),
		     (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "bad-list: \"wlan0,,wwan0\" has an empty item");
	CHECK(list == NULL);

	CHECK_EQ_U64(cfg_get_path(&c, G, "key-file", CFG_REQUIRED, NULL, &p), 0);
	want = g_strdup_printf("%s/mn.key", dir);
	CHECK_STR(p, want);
	g_free(want);
	g_free(p);
	CHECK_EQ_U64(cfg_get_path(&c, G, "abs-file", CFG_REQUIRED, NULL, &p), 0);
	CHECK_STR(p, "/etc/x/y.key");
	g_free(p);
	CHECK_EQ_U64(cfg_get_path(&c, G, "up-file", CFG_REQUIRED, NULL, &p), 0);
	{
		char *parent = g_path_get_dirname(dir);

		want = g_strdup_printf("%s/keys/z", parent);
		CHECK_STR(p, want);
		g_free(want);
		g_free(parent);
	}
	g_free(p);
	CHECK_EQ_U64(cfg_get_path(&c, G, "absent", CFG_OPTIONAL, "/run/mip4-mobike/ha.sock", &p),
		     1);
	CHECK_STR(p, "/run/mip4-mobike/ha.sock");
	g_free(p);

	CHECK_EQ_U64(cfg_get_enum(&c, G, "udp-tunnel", CFG_OPTIONAL, modes, 0, &e), 0);
	CHECK_EQ_U64(e, 1);
	CHECK_EQ_U64(cfg_get_enum(&c, G, "absent", CFG_OPTIONAL, modes, 2, &e), 1);
	CHECK_EQ_U64(e, 2);
	capture_start();
	CHECK_EQ_U64(cfg_get_enum(&c, G, "bad-enum", CFG_OPTIONAL, modes, 0, &e),
		     (uint64_t)-EINVAL);
	log = capture_end();
	CHECK_ONE_LINE(log, "mnd.conf: [mobile-node] bad-enum: \"maybe\" is not one of: auto, "
		       "force, off\n");
	CHECK_EQ_U64(e, 2);
}

static void test_unknown(void)
{
	static const char *const known[] = {
		"home-address", "home-agent", "home-prefix-length", "lifetime", "spi", "big",
		"zero", "empty", "blank", "reverse-tunnel", "bad-bool", "upper-bool",
		"interfaces", "bad-list", "one-item", "tunnel-device", "long-if", "slash-if",
		"dot-if", "key-file", "abs-file", "up-file", "udp-tunnel", "bad-enum",
		"home-prefix", "host-prefix", "bad-prefix", NULL,
	};
	static const char *const groups[] = { "mobile-node", "home-agent", NULL };
	static const char *const ha_known[] = { "address", NULL };
	const char *log;

	capture_start();
	CHECK_EQ_U64(cfg_warn_unknown(&c, G, known), 1);
	log = capture_end();
	CHECK_ONE_LINE(log, "<4>");
	CHECK_ONE_LINE(log, "mnd.conf: [mobile-node] lifetme: unknown key (ignored)\n");
	capture_start();
	CHECK_EQ_U64(cfg_warn_unknown(&c, "home-agent", ha_known), 0);
	CHECK_EQ_U64(cfg_warn_unknown(&c, "absent-group", ha_known), 0);
	log = capture_end();
	CHECK_EQ_U64(capture_lines(log), 0);
	capture_start();
	CHECK_EQ_U64(cfg_warn_unknown_groups(&c, groups), 1);
	log = capture_end();
	CHECK_ONE_LINE(log, "mnd.conf: [extra]: unknown group (ignored)\n");
}

int main(void)
{
	char dir[] = "/tmp/mm-config-XXXXXX", path[300], *canon;
	struct cfg f = { 0 };
	char *p = NULL;
	FILE *fp;

	g_set_prgname("test");
	CHECK(mkdtemp(dir) != NULL);
	canon = g_canonicalize_filename(dir, NULL);
	test_load_errors(dir);

	CHECK_EQ_U64(cfg_load_data(&c, "mnd.conf", canon, CONF), 0);
	test_strings();
	test_addr();
	test_uint();
	test_bool();
	test_prefix_ifname();
	test_list_path_enum(canon);
	test_unknown();
	cfg_free(&c);
	CHECK(c.kf == NULL);
	cfg_free(&c);   /* twice is harmless */

	/* a real file: relative paths resolve against its directory */
	snprintf(path, sizeof(path), "%s/ha.conf", dir);
	fp = fopen(path, "w");
	fputs("[home-agent]\nkeys-file = ha.keys\n", fp);
	fclose(fp);
	CHECK_EQ_U64(cfg_load(&f, path), 0);
	CHECK_EQ_U64(cfg_get_path(&f, "home-agent", "keys-file", CFG_REQUIRED, NULL, &p), 0);
	{
		char *want = g_strdup_printf("%s/ha.keys", canon);

		CHECK_STR(p, want);
		g_free(want);
	}
	g_free(p);
	cfg_free(&f);
	unlink(path);
	CHECK(rmdir(dir) == 0);
	g_free(canon);
	capture_free();
	return tap_done();
}
