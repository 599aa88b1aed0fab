/* Unit test of mnd's [vpn] group (vpn_conf.c): a PSK configuration with every key, the
 * defaults, and the one-line errors (file, group, key) with nothing loaded on failure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <glib.h>

#include "daemon/config.h"
#include "daemon/test_capture.h"
#include "mnd/vpn.h"
#include "vpngw/ident.h"
#include "tests/unit/tap.h"

static char dir[64];

static void write_file(const char *name, const char *text, mode_t mode)
{
	char *p = g_build_filename(dir, name, NULL);
	FILE *f = fopen(p, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
		chmod(p, mode);
	}
	g_free(p);
}

/* Load text as [vpn] of "mnd.conf" in dir; the log lines it produced go to *log. */
static int load(const char *text, struct mnd_vpn_config *out, char *log, size_t logsz)
{
	struct cfg c;
	int rc;

	if (cfg_load_data(&c, "mnd.conf", dir, text) < 0)
		return -999;
	capture_start();
	rc = mnd_vpn_config_load(&c, "wlan0,wwan0", out);
	snprintf(log, logsz, "%s", capture_end());
	cfg_free(&c);
	return rc;
}

#define BASE "[vpn]\ngateway = 198.19.0.2\nlocal-id = mn@test\nremote-id = fqdn:vpngw.test\n" \
	"psk-file = vpn.psk\nintranet = 198.18.0.0/16, 10.1.0.0/24\n"

static void test_full(void)
{
	struct mnd_vpn_config v;
	char log[1024], id[64];
	struct in_addr a;

	memset(&v, 0x55, sizeof(v));
	CHECK_EQ_U64(load(BASE "dpd-interval = 2\ntunnel-device = vpn7\ninterfaces = eth1\n"
			  "keylog-file = keys\n", &v, log, sizeof(log)), 0);
	CHECK_STR(log, "");
	CHECK(v.enabled);
	inet_pton(AF_INET, "198.19.0.2", &a);
	CHECK_EQ_U64(v.gateway.s_addr, a.s_addr);
	CHECK_STR(ident_str(&v.peer.local_id, id, sizeof(id)), "mn@test");
	CHECK_EQ_U64(v.peer.local_id.type, IDENT_RFC822_ADDR);
	CHECK_EQ_U64(v.peer.remote_id.type, IDENT_FQDN);
	CHECK_EQ_U64(v.peer.local.auth, IKE_AUTHK_PSK);
	CHECK_EQ_U64(v.psk_len, 20);
	CHECK(v.peer.local.psk == v.psk && v.peer.remote.psk == v.psk);
	CHECK_MEM(v.psk, "0123456789abcdefghij", 20);
	CHECK_EQ_U64(v.nintranet, 2);
	CHECK_EQ_U64(v.peer.remote_ts.n, 2);
	inet_pton(AF_INET, "10.1.0.255", &a);
	CHECK_EQ_U64(v.peer.remote_ts.ts[1].end.s_addr, a.s_addr);
	CHECK_EQ_U64(v.intranet_plen[1], 24);
	CHECK_EQ_U64(v.peer.local_ts.n, 1);
	CHECK_EQ_U64(v.peer.local_ts.ts[0].end.s_addr, 0xffffffff);
	CHECK(v.peer.request_address);
	CHECK_EQ_U64(v.peer.dpd_interval_s, 2);
	CHECK_STR(v.tunnel_device, "vpn7");
	CHECK_STR(v.interfaces, "eth1");
	CHECK(v.keylog_file && g_str_has_suffix(v.keylog_file, "/keys"));
	CHECK(v.peer.ike.n >= 1 && v.peer.esp.n >= 1);
	mnd_vpn_config_free(&v);

	/* defaults */
	CHECK_EQ_U64(load(BASE, &v, log, sizeof(log)), 0);
	CHECK_STR(v.interfaces, "wlan0,wwan0");
	CHECK_STR(v.tunnel_device, MND_VPN_TUN_DEFAULT);
	CHECK_STR(v.status_file, MND_VPN_STATUS_DEFAULT);
	CHECK(v.keylog_file == NULL);
	CHECK_EQ_U64(v.peer.dpd_interval_s, 30);
	CHECK_EQ_U64(v.tunnel_mtu, 1400);
	CHECK(v.peer.mobike);                       /* MOBIKE on by default */
	mnd_vpn_config_free(&v);

	/* mobike = no: MOBIKE_SUPPORTED not sent, a move re-establishes */
	CHECK_EQ_U64(load(BASE "mobike = no\n", &v, log, sizeof(log)), 0);
	CHECK(!v.peer.mobike);
	mnd_vpn_config_free(&v);

	/* no [vpn]: not enabled, no error */
	CHECK_EQ_U64(load("[other]\nx = 1\n", &v, log, sizeof(log)), 0);
	CHECK(!v.enabled);
	mnd_vpn_config_free(&v);
}

static void bad(const char *text, const char *want)
{
	struct mnd_vpn_config v;
	char log[1024];

	memset(&v, 0x55, sizeof(v));
	CHECK(load(text, &v, log, sizeof(log)) < 0);
	if (!CHECK(strstr(log, want) != NULL))
		printf("# got: %s# want: %s\n", log, want);
	CHECK_EQ_U64(((uint8_t *)&v)[0], 0x55);    /* untouched */
}

static void test_errors(void)
{
	bad("[vpn]\ngateway = 1.2.3\n", "mnd.conf: [vpn] gateway: \"1.2.3\" is not");
	bad("[vpn]\ngateway = 198.19.0.2\nremote-id = fqdn:x\nintranet = 10.0.0.0/8\n"
	    "psk-file = vpn.psk\n", "mnd.conf: [vpn] local-id: required for auth = psk");
	bad("[vpn]\ngateway = 198.19.0.2\nlocal-id = mn@test\nintranet = 10.0.0.0/8\n",
	    "mnd.conf: [vpn] remote-id: missing");
	bad(BASE "psk-file = short.psk\n", "mnd.conf: [vpn] psk-file:");
	bad("[vpn]\ngateway = 198.19.0.2\nlocal-id = mn@test\nremote-id = fqdn:x\n"
	    "psk-file = open.psk\nintranet = 10.0.0.0/8\n", "mnd.conf: [vpn] psk-file:");
	bad("[vpn]\ngateway = 198.19.0.2\nlocal-id = mn@test\nremote-id = fqdn:x\n"
	    "psk-file = vpn.psk\nintranet = 198.0.0.0/8\n",
	    "mnd.conf: [vpn] intranet: 198.0.0.0/8 contains the gateway 198.19.0.2");
	bad("[vpn]\ngateway = 198.19.0.2\nlocal-id = mn@test\nremote-id = fqdn:x\n"
	    "psk-file = vpn.psk\nintranet = 10.0.0.1/8\n", "mnd.conf: [vpn] intranet: 10.0.0.1/8 "
	    "has host bits set");
	bad(BASE "ike = foo\n", "mnd.conf: [vpn] ike: unknown algorithm");
	bad(BASE "auth = token\n", "mnd.conf: [vpn] auth:");
	bad(BASE "cert = x.pem\n", "mnd.conf: [vpn] cert: only for auth = cert");
	bad(BASE "interfaces = a,a\n", "mnd.conf: [vpn] interfaces:");
	bad(BASE "tunnel-device = wlan0\n", "mnd.conf: [vpn] tunnel-device: \"wlan0\" is also");
	bad(BASE "child-lifetime = 10\n", "mnd.conf: [vpn] child-lifetime: 10 s is too short");
	bad(BASE "mobike = maybe\n", "mnd.conf: [vpn] mobike:");
}

int main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/test_mnd_vpn_conf.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	write_file("vpn.psk", "0123456789abcdefghij\n", 0600);
	write_file("short.psk", "0123\n", 0600);
	write_file("open.psk", "0123456789abcdefghij\n", 0644);
	test_full();
	test_errors();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
