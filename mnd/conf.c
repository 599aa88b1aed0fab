/* The [mobile-node] configuration (the optional [vpn] group: vpn_conf.c) and the key file it names, through daemon/config.h and
 * daemon/secret.h: every error is one line naming the file, the group and the key, e.g.
 *	mnd.conf: [mobile-node] home-agent: "1.2.3" is not an IPv4 address
 * and the load fails; nothing is half-loaded. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <openssl/crypto.h>

#include "common/log.h"
#include "daemon/config.h"
#include "daemon/secret.h"
#include "mnd/location.h"
#include "mnd/mnd.h"

#define GROUP "mobile-node"
#define DEFAULT_STATUS_FILE "/run/mip4-mobike/mnd.status.json"

static const char *const known_keys[] = {
	"home-address", "home-prefix-length", "home-agent", "spi", "key-file", "lifetime",
	"interfaces", "tunnel-device", "reverse-tunnel", "udp-tunnel", "status-file",
	"routing-table", "nai", "keepalive-interval", "tunnel-mtu", "probe-retries",
	"probe-timeout", "probe-grace", "keep-vpn", "fail-closed", "prefer-fa", "dbus", NULL,
};

/* In the order of enum mn_udp_mode. */
static const char *const udp_modes[] = { "auto", "force", "off", NULL };

/* One error line in the format of daemon/config.h, for the checks it cannot make. */
static int bad(const struct cfg *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(const struct cfg *c, const char *key, const char *fmt, ...)
{
	struct logger lg;
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	logger_init(&lg, "%s", g_get_prgname() ? g_get_prgname() : "mnd");
	LOG_ERROR(&lg, "%s: [%s] %s: %s", c->path, GROUP, key, why);
	return -EINVAL;
}

static int load_key(const struct cfg *c, uint32_t spi, struct mip4_key *out)
{
	uint8_t key[MIP4_KEY_MAX];
	char *path = NULL;
	size_t len = 0;
	int rc;

	rc = cfg_get_path(c, GROUP, "key-file", CFG_REQUIRED, NULL, &path);
	if (rc < 0)
		return rc;
	rc = secret_load_hex(path, key, sizeof(key), SECRET_MIN_KEY_LEN, &len);
	if (rc == 0 && mip4_key_set(out, spi, key, len) < 0)
		rc = bad(c, "key-file", "%s: unusable key", path);
	OPENSSL_cleanse(key, sizeof(key));
	g_free(path);
	return rc < 0 ? rc : 0;
}

/* The trust race's knobs (RFC 5266 3.4: "The number of times the mobile node should
 * re-transmit the Registration Request and the timeout period ... are configurable"). */
static int load_trust(const struct cfg *c, struct policy_trust_config *t,
		      unsigned *grace_ms)
{
	unsigned v;
	int rc;

	policy_trust_config_default(t);
	if ((rc = cfg_get_uint(c, GROUP, "probe-retries", CFG_OPTIONAL, 0, 10,
			       POLICY_PROBE_RETRIES_DEFAULT, &v)) < 0)
		return rc;
	t->probe_retries = v;
	if ((rc = cfg_get_uint(c, GROUP, "probe-timeout", CFG_OPTIONAL, 50, 60000,
			       POLICY_PROBE_TIMEOUT_MS_DEFAULT, &v)) < 0)
		return rc;
	t->probe_timeout_ms = v;
	if ((rc = cfg_get_uint(c, GROUP, "probe-grace", CFG_OPTIONAL, 0, 10000,
			       MND_PROBE_GRACE_MS_DEFAULT, &v)) < 0)
		return rc;
	*grace_ms = v;
	if ((rc = cfg_get_bool(c, GROUP, "keep-vpn", CFG_OPTIONAL, true,
			       &t->keep_vpn_when_trusted)) < 0 ||
	    (rc = cfg_get_bool(c, GROUP, "fail-closed", CFG_OPTIONAL, true,
			       &t->fail_closed)) < 0 ||
	    /* RFC 5266 3.2: a foreign agent's care-of address on a trusted network, "MAY". */
	    (rc = cfg_get_bool(c, GROUP, "prefer-fa", CFG_OPTIONAL, true, &t->prefer_fa)) < 0)
		return rc;
	return 0;
}

static int load(const struct cfg *c, struct mnd_config *m)
{
	struct mnd_ifaces ifs;
	uint32_t spi = 0, v;
	int udp = MN_UDP_AUTO, rc;

	if (!cfg_has_group(c, GROUP)) {
		struct logger lg;

		logger_init(&lg, "%s", g_get_prgname() ? g_get_prgname() : "mnd");
		LOG_ERROR(&lg, "%s: no [%s] group", c->path, GROUP);
		return -EINVAL;
	}
	cfg_warn_unknown(c, GROUP, known_keys);
	if ((rc = cfg_get_addr4(c, GROUP, "home-address", CFG_REQUIRED, NULL,
				&m->home_addr)) < 0 ||
	    (rc = cfg_get_uint(c, GROUP, "home-prefix-length", CFG_OPTIONAL, 1, 32, 24,
			       &v)) < 0)
		return rc;
	m->home_plen = v;
	if ((rc = cfg_get_addr4(c, GROUP, "home-agent", CFG_REQUIRED, NULL,
				&m->home_agent)) < 0 ||
	    (rc = cfg_get_uint(c, GROUP, "spi", CFG_REQUIRED, MIP4_SPI_MIN, UINT32_MAX, 0,
			       &spi)) < 0 ||
	    (rc = cfg_get_uint(c, GROUP, "lifetime", CFG_OPTIONAL, 1, 65535, 300, &v)) < 0)
		return rc;
	m->lifetime = v;
	if ((rc = cfg_get_bool(c, GROUP, "reverse-tunnel", CFG_OPTIONAL, true,
			       &m->reverse_tunnel)) < 0 ||
	    (rc = cfg_get_enum(c, GROUP, "udp-tunnel", CFG_OPTIONAL, udp_modes, MN_UDP_AUTO,
			       &udp)) < 0 ||
	    (rc = cfg_get_uint(c, GROUP, "routing-table", CFG_OPTIONAL, 1, 0xfffffffe, 4444,
			       &v)) < 0)
		return rc;
	m->udp = (enum mn_udp_mode)udp;
	m->routing_table = v;
	if ((rc = cfg_get_uint(c, GROUP, "keepalive-interval", CFG_OPTIONAL, 10, 65535,
			       MN_KEEPALIVE_DEFAULT_S, &v)) < 0)
		return rc;
	m->keepalive = v;
	if ((rc = cfg_get_uint(c, GROUP, "tunnel-mtu", CFG_OPTIONAL, 576, 65000,
			       MND_TUN_MTU_DEFAULT, &v)) < 0)
		return rc;
	m->tunnel_mtu = v;
	if (m->home_addr.s_addr == m->home_agent.s_addr)
		return bad(c, "home-agent", "the same address as home-address");
	/* 253-255 are the kernel's default, main and local tables. */
	if (m->routing_table >= 253 && m->routing_table <= 255)
		return bad(c, "routing-table", "%u is a table the kernel uses itself",
			   m->routing_table);
	if ((rc = cfg_get_string(c, GROUP, "interfaces", CFG_REQUIRED, NULL,
				 &m->interfaces)) < 0)
		return rc;
	if (mnd_ifaces_init(&ifs, m->interfaces) < 0)
		return bad(c, "interfaces", "\"%s\" is not a comma-separated list of up to %d "
			   "distinct interface names", m->interfaces, MND_IFACES_MAX);
	if ((rc = cfg_get_ifname(c, GROUP, "tunnel-device", CFG_OPTIONAL, "mip0",
				 m->tunnel_device)) < 0)
		return rc;
	for (unsigned i = 0; i < ifs.count; i++)
		if (!strcmp(ifs.iface[i].name, m->tunnel_device))
			return bad(c, "tunnel-device", "\"%s\" is also in interfaces",
				   m->tunnel_device);
	if ((rc = cfg_get_bool(c, GROUP, "dbus", CFG_OPTIONAL, true, &m->dbus)) < 0 ||
	    (rc = cfg_get_path(c, GROUP, "status-file", CFG_OPTIONAL, DEFAULT_STATUS_FILE,
			       &m->status_file)) < 0 ||
	    (rc = cfg_get_string(c, GROUP, "nai", CFG_OPTIONAL, NULL, &m->nai)) < 0)
		return rc;
	if (m->nai && strlen(m->nai) > MIP4_NAI_MAX)
		return bad(c, "nai", "longer than %d bytes", MIP4_NAI_MAX);
	if ((rc = load_key(c, spi, &m->key)) < 0 || (rc = load_trust(c, &m->trust, &m->probe_grace_ms)) < 0)
		return rc;
	return mnd_vpn_config_load(c, m->interfaces, &m->vpn);
}

int mnd_config_load(const char *path, struct mnd_config *cfg)
{
	struct mnd_config m;
	struct cfg c;
	int rc;

	memset(&m, 0, sizeof(m));
	rc = cfg_load(&c, path);
	if (rc < 0)
		return rc;
	rc = load(&c, &m);
	cfg_free(&c);
	if (rc < 0) {
		mnd_config_free(&m);
		return rc;
	}
	m.path = g_strdup(path);
	*cfg = m;
	return 0;
}

void mnd_config_free(struct mnd_config *cfg)
{
	g_free(cfg->path);
	g_free(cfg->interfaces);
	g_free(cfg->status_file);
	g_free(cfg->nai);
	mip4_key_wipe(&cfg->key);
	mnd_vpn_config_free(&cfg->vpn);
	memset(cfg, 0, sizeof(*cfg));
}
