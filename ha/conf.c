/* The home agent's configuration file, read through daemon/config.h. See conf.h. */
#include "ha/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "common/log.h"
#include "common/sock.h"
#include "daemon/config.h"
#include "ha/replay.h"

static const char *const known_keys[] = {
	"address", "home-interface", "home-prefix", "max-lifetime", "keys-file", "state-file",
	"control-socket", "tunnel-device", "udp-tunnelling", "keepalive-interval",
	"handover-replay-ms", "handover-replay-bytes", "handover-replay-rtt-ms", "trusted-networks",
	NULL,
};

static const char *const known_groups[] = { HA_CONF_GROUP, NULL };

/* Same style as daemon/config.h's own lines: "FILE: [group] key: reason". */
static void bad(const struct cfg *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bad(const struct cfg *c, const char *key, const char *fmt, ...)
{
	struct logger lg;
	char why[256];
	va_list ap;

	logger_init(&lg, "%s", g_get_prgname() ? g_get_prgname() : "ha");
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	LOG_ERROR(&lg, "%s: [%s] %s: %s", c->path, HA_CONF_GROUP, key, why);
}

/* trusted-networks (RFC 5265 §4.3): "MUST be configured with a list of trusted IP subnets
 * (containing only addresses from the internal network), with no subnets being trusted by
 * default". Absent: 1, nothing set. A /0 would trust the whole Internet and so defeat the
 * check: refused, as is a prefix with host bits set (the same rule as home-prefix). */
static int get_trusted(const struct cfg *c, struct ha_conf *conf)
{
	static const char *const K = "trusted-networks";
	char **items = NULL;
	size_t n = 0;
	char net[ADDR4_STRLEN];
	int rc;

	rc = cfg_get_string_list(c, HA_CONF_GROUP, K, CFG_OPTIONAL, NULL, &items, &n);
	if (rc != 0 || !items)
		return rc < 0 ? rc : 1;
	if (n > HA_TRUSTED_MAX) {
		bad(c, K, "%zu prefixes; at most %d are supported", n, HA_TRUSTED_MAX);
		rc = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct ha_prefix *p = &conf->trusted[i];
		int prc = prefix4_parse(items[i], &p->net, &p->plen);

		if (prc < 0) {
			bad(c, K, "\"%s\" is not an IPv4 prefix (a.b.c.d/len)", items[i]);
			rc = -EINVAL;
		} else if (prc > 0) {
			bad(c, K, "%s has host bits set; the network is %s/%u", items[i],
			    addr4_str(prefix4_network(p->net, p->plen), net), p->plen);
			rc = -EINVAL;
		} else if (p->plen == 0) {
			bad(c, K, "%s would trust every source address (RFC 5265 section 4.3: only "
			    "addresses of the internal network)", items[i]);
			rc = -EINVAL;
		}
		if (rc < 0)
			goto out;
	}
	conf->ntrusted = (unsigned)n;
out:
	g_strfreev(items);
	return rc;
}

/* The mobile node deregisters from the home link with its home address as source (RFC
 * 5944 §3.6.1.1): with trusted networks that leave the home prefix out, those requests are
 * dropped. Legal (the operator may want it), but worth a line. */
static void warn_home_untrusted(const struct cfg *c, const struct ha_conf *conf)
{
	struct logger lg;
	char n[ADDR4_STRLEN];

	for (unsigned i = 0; i < conf->ntrusted; i++)
		if (conf->trusted[i].plen <= conf->home_plen &&
		    prefix4_contains(conf->trusted[i].net, conf->trusted[i].plen, conf->home_net))
			return;
	logger_init(&lg, "%s", g_get_prgname() ? g_get_prgname() : "ha");
	LOG_WARNING(&lg, "%s: [%s] trusted-networks: home-prefix %s/%u is not inside any of "
		    "them: deregistrations sent from the home link will be dropped", c->path,
		    HA_CONF_GROUP, addr4_str(conf->home_net, n), conf->home_plen);
}

void ha_conf_clear(struct ha_conf *c)
{
	if (!c)
		return;
	g_free(c->path);
	g_free(c->keys_file);
	g_free(c->state_file);
	g_free(c->control_socket);
	memset(c, 0, sizeof(*c));
}

int ha_conf_load(const char *path, struct ha_conf *out)
{
	static const char *const udp_choices[] = { "allow", "deny", NULL };
	struct ha_conf conf;
	struct cfg c;
	char a[ADDR4_STRLEN], n[ADDR4_STRLEN];
	uint32_t v;
	int rc, choice = 0;
	const char *G = HA_CONF_GROUP;

	if (!path || !out)
		return -EINVAL;
	rc = cfg_load(&c, path);
	if (rc < 0)
		return -EINVAL;
	memset(&conf, 0, sizeof(conf));
	conf.path = g_strdup(path);
	if (!cfg_has_group(&c, G)) {
		struct logger lg;

		logger_init(&lg, "%s", g_get_prgname() ? g_get_prgname() : "ha");
		LOG_ERROR(&lg, "%s: [%s]: missing (required)", path, G);
		rc = -EINVAL;
		goto fail;
	}
	cfg_warn_unknown_groups(&c, known_groups);
	cfg_warn_unknown(&c, G, known_keys);

	if ((rc = cfg_get_addr4(&c, G, "address", CFG_REQUIRED, NULL, &conf.address)) < 0 ||
	    (rc = cfg_get_ifname(&c, G, "home-interface", CFG_REQUIRED, NULL,
				 conf.home_if)) < 0 ||
	    (rc = cfg_get_prefix4(&c, G, "home-prefix", CFG_REQUIRED, NULL, &conf.home_net,
				  &conf.home_plen)) < 0 ||
	    (rc = cfg_get_uint(&c, G, "max-lifetime", CFG_OPTIONAL, 1, 65534,
			       HA_MAX_LIFETIME_DEFAULT, &v)) < 0)
		goto fail;
	conf.max_lifetime = v;
	if ((rc = cfg_get_path(&c, G, "keys-file", CFG_REQUIRED, NULL, &conf.keys_file)) < 0 ||
	    (rc = cfg_get_path(&c, G, "state-file", CFG_OPTIONAL, HA_STATE_FILE_DEFAULT,
			       &conf.state_file)) < 0 ||
	    (rc = cfg_get_path(&c, G, "control-socket", CFG_OPTIONAL, HA_CONTROL_SOCKET_DEFAULT,
			       &conf.control_socket)) < 0 ||
	    (rc = cfg_get_ifname(&c, G, "tunnel-device", CFG_OPTIONAL, HA_TUNNEL_DEVICE_DEFAULT,
				 conf.tunnel_device)) < 0 ||
	    (rc = cfg_get_enum(&c, G, "udp-tunnelling", CFG_OPTIONAL, udp_choices, 0,
			       &choice)) < 0 ||
	    (rc = cfg_get_uint(&c, G, "keepalive-interval", CFG_OPTIONAL, 1, 65535,
			       HA_KEEPALIVE_DEFAULT, &v)) < 0)
		goto fail;
	conf.udp = choice == 1 ? HA_UDP_DENY : HA_UDP_ALLOW;
	conf.keepalive_interval = v;
	if ((rc = cfg_get_uint(&c, G, "handover-replay-ms", CFG_OPTIONAL, 0, 10000,
			       HA_REPLAY_MS_DEFAULT, &v)) < 0)
		goto fail;
	conf.replay_ms = v;
	if ((rc = cfg_get_uint(&c, G, "handover-replay-bytes", CFG_OPTIONAL, 1500, 1u << 30,
			       HA_REPLAY_BYTES_DEFAULT, &v)) < 0)
		goto fail;
	conf.replay_bytes = v;
	if ((rc = cfg_get_uint(&c, G, "handover-replay-rtt-ms", CFG_OPTIONAL, 1, 10000,
			       HA_REPLAY_RTT_MS_DEFAULT, &v)) < 0)
		goto fail;
	conf.replay_rtt_ms = v;
	if ((rc = get_trusted(&c, &conf)) < 0)
		goto fail;
	if (conf.home_plen < 8 || conf.home_plen > 30) {
		bad(&c, "home-prefix", "%s/%u: the prefix length must be 8..30",
		    addr4_str(conf.home_net, n), conf.home_plen);
		rc = -EINVAL;
		goto fail;
	}
	if (!prefix4_contains(conf.home_net, conf.home_plen, conf.address) ||
	    conf.address.s_addr == conf.home_net.s_addr) {
		bad(&c, "address", "%s is not a host address of home-prefix %s/%u",
		    addr4_str(conf.address, a), addr4_str(conf.home_net, n), conf.home_plen);
		rc = -EINVAL;
		goto fail;
	}
	if (strcmp(conf.tunnel_device, conf.home_if) == 0) {
		bad(&c, "tunnel-device", "\"%s\" is the home interface", conf.tunnel_device);
		rc = -EINVAL;
		goto fail;
	}
	if (conf.ntrusted)
		warn_home_untrusted(&c, &conf);
	cfg_free(&c);
	*out = conf;
	return 0;
fail:
	cfg_free(&c);
	ha_conf_clear(&conf);
	return rc < 0 ? -EINVAL : rc;
}
