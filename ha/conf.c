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
#include "daemon/replay.h"
#include "ha/fa_adv.h"

static const char *const known_keys[] = {
	"address", "home-interface", "home-prefix", "max-lifetime", "keys-file", "state-file",
	"control-socket", "tunnel-device", "udp-tunnelling", "keepalive-interval",
	"handover-replay-ms", "handover-replay-bytes", "handover-replay-rtt-ms", "trusted-networks",
	NULL,
};

static const char *const fa_known_keys[] = {
	"interface", "care-of-address", "advertisement-interval", "registration-lifetime",
	"registration-required", "reverse-tunnelling", "fa-ha-keys-file", "mn-fa-required",
	"mn-fa-keys-file", "tunnel-device", "routing-table", "max-visitors", "prefix-lengths",
	"control-socket", NULL,
};

static const char *const known_groups[] = { HA_CONF_GROUP, FA_CONF_GROUP, NULL };

/* Same style as daemon/config.h's own lines: "FILE: [group] key: reason". */
static void bad_in(const struct cfg *c, const char *group, const char *key, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));

static void bad_in(const struct cfg *c, const char *group, const char *key, const char *fmt,
		   ...)
{
	struct logger lg;
	char why[256];
	va_list ap;

	logger_init(&lg, "%s", g_get_prgname() ? g_get_prgname() : "ha");
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	LOG_ERROR(&lg, "%s: [%s] %s: %s", c->path, group, key, why);
}

#define bad(c, key, ...) bad_in((c), HA_CONF_GROUP, (key), __VA_ARGS__)

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
	g_free(c->fa.fa_ha_keys_file);
	g_free(c->fa.mn_fa_keys_file);
	memset(c, 0, sizeof(*c));
}

/* [home-agent]. */
static int load_ha(const struct cfg *c, struct ha_conf *conf)
{
	static const char *const udp_choices[] = { "allow", "deny", NULL };
	char a[ADDR4_STRLEN], n[ADDR4_STRLEN];
	uint32_t v;
	int rc, choice = 0;
	const char *G = HA_CONF_GROUP;

	cfg_warn_unknown(c, G, known_keys);

	if ((rc = cfg_get_addr4(c, G, "address", CFG_REQUIRED, NULL, &conf->address)) < 0 ||
	    (rc = cfg_get_ifname(c, G, "home-interface", CFG_REQUIRED, NULL,
				 conf->home_if)) < 0 ||
	    (rc = cfg_get_prefix4(c, G, "home-prefix", CFG_REQUIRED, NULL, &conf->home_net,
				  &conf->home_plen)) < 0 ||
	    (rc = cfg_get_uint(c, G, "max-lifetime", CFG_OPTIONAL, 1, 65534,
			       HA_MAX_LIFETIME_DEFAULT, &v)) < 0)
		goto fail;
	conf->max_lifetime = v;
	if ((rc = cfg_get_path(c, G, "keys-file", CFG_REQUIRED, NULL, &conf->keys_file)) < 0 ||
	    (rc = cfg_get_path(c, G, "state-file", CFG_OPTIONAL, HA_STATE_FILE_DEFAULT,
			       &conf->state_file)) < 0 ||
	    (rc = cfg_get_path(c, G, "control-socket", CFG_OPTIONAL, HA_CONTROL_SOCKET_DEFAULT,
			       &conf->control_socket)) < 0 ||
	    (rc = cfg_get_ifname(c, G, "tunnel-device", CFG_OPTIONAL, HA_TUNNEL_DEVICE_DEFAULT,
				 conf->tunnel_device)) < 0 ||
	    (rc = cfg_get_enum(c, G, "udp-tunnelling", CFG_OPTIONAL, udp_choices, 0,
			       &choice)) < 0 ||
	    (rc = cfg_get_uint(c, G, "keepalive-interval", CFG_OPTIONAL, 1, 65535,
			       HA_KEEPALIVE_DEFAULT, &v)) < 0)
		goto fail;
	conf->udp = choice == 1 ? HA_UDP_DENY : HA_UDP_ALLOW;
	conf->keepalive_interval = v;
	if ((rc = cfg_get_uint(c, G, "handover-replay-ms", CFG_OPTIONAL, 0, 10000,
			       PKT_REPLAY_MS_DEFAULT, &v)) < 0)
		goto fail;
	conf->replay_ms = v;
	if ((rc = cfg_get_uint(c, G, "handover-replay-bytes", CFG_OPTIONAL, 1500, 1u << 30,
			       PKT_REPLAY_BYTES_DEFAULT, &v)) < 0)
		goto fail;
	conf->replay_bytes = v;
	if ((rc = cfg_get_uint(c, G, "handover-replay-rtt-ms", CFG_OPTIONAL, 1, 10000,
			       PKT_REPLAY_RTT_MS_DEFAULT, &v)) < 0)
		goto fail;
	conf->replay_rtt_ms = v;
	if ((rc = get_trusted(c, conf)) < 0)
		goto fail;
	if (conf->home_plen < 8 || conf->home_plen > 30) {
		bad(c, "home-prefix", "%s/%u: the prefix length must be 8..30",
		    addr4_str(conf->home_net, n), conf->home_plen);
		rc = -EINVAL;
		goto fail;
	}
	if (!prefix4_contains(conf->home_net, conf->home_plen, conf->address) ||
	    conf->address.s_addr == conf->home_net.s_addr) {
		bad(c, "address", "%s is not a host address of home-prefix %s/%u",
		    addr4_str(conf->address, a), addr4_str(conf->home_net, n), conf->home_plen);
		rc = -EINVAL;
		goto fail;
	}
	if (strcmp(conf->tunnel_device, conf->home_if) == 0) {
		bad(c, "tunnel-device", "\"%s\" is the home interface", conf->tunnel_device);
		rc = -EINVAL;
		goto fail;
	}
	if (conf->ntrusted)
		warn_home_untrusted(c, conf);
	return 0;
fail:
	return rc < 0 ? -EINVAL : rc;
}

/* [foreign-agent]. */
static int load_fa(const struct cfg *c, struct ha_conf *conf)
{
	static const char *const rt_choices[] = { "no", "yes", "required", NULL };
	struct fa_conf *fa = &conf->fa;
	const char *G = FA_CONF_GROUP;
	uint32_t v;
	int rc, choice = 0;

	cfg_warn_unknown(c, G, fa_known_keys);
	if ((rc = cfg_get_ifname(c, G, "interface", CFG_REQUIRED, NULL, fa->interface)) < 0 ||
	    (rc = cfg_get_addr4(c, G, "care-of-address", CFG_REQUIRED, NULL, &fa->coa)) < 0 ||
	    (rc = cfg_get_uint(c, G, "advertisement-interval", CFG_OPTIONAL,
			       FA_ADV_INTERVAL_MIN_MS / 1000, FA_ADV_INTERVAL_MAX_MS / 1000,
			       FA_ADV_INTERVAL_DEFAULT, &v)) < 0)
		return rc;
	fa->adv_interval = v;
	if ((rc = cfg_get_uint(c, G, "registration-lifetime", CFG_OPTIONAL, 1, 65535,
			       FA_MAX_LIFETIME_DEFAULT, &v)) < 0)
		return rc;
	fa->reg_lifetime = v;
	if ((rc = cfg_get_bool(c, G, "registration-required", CFG_OPTIONAL, true,
			       &fa->registration_required)) < 0 ||
	    (rc = cfg_get_enum(c, G, "reverse-tunnelling", CFG_OPTIONAL, rt_choices, 1,
			       &choice)) < 0 ||
	    (rc = cfg_get_path(c, G, "fa-ha-keys-file", CFG_OPTIONAL, NULL,
			       &fa->fa_ha_keys_file)) < 0 ||
	    (rc = cfg_get_bool(c, G, "mn-fa-required", CFG_OPTIONAL, false,
			       &fa->mn_fa_required)) < 0 ||
	    (rc = cfg_get_path(c, G, "mn-fa-keys-file", fa->mn_fa_required ? CFG_REQUIRED
			       : CFG_OPTIONAL, NULL, &fa->mn_fa_keys_file)) < 0 ||
	    (rc = cfg_get_ifname(c, G, "tunnel-device", CFG_OPTIONAL, FA_TUNNEL_DEVICE_DEFAULT,
				 fa->tunnel_device)) < 0 ||
	    (rc = cfg_get_bool(c, G, "prefix-lengths", CFG_OPTIONAL, true,
			       &fa->prefix_lengths)) < 0)
		return rc;
	fa->reverse = choice == 0 ? FA_RT_OFF : choice == 1 ? FA_RT_OFFER : FA_RT_REQUIRE;
	/* Tables 253-255 are the kernel's default, main and local; 0 is "unspecified". */
	if ((rc = cfg_get_uint(c, G, "routing-table", CFG_OPTIONAL, 1, 0x7fffffff,
			       FA_ROUTING_TABLE_DEFAULT, &v)) < 0)
		return rc;
	if (v >= 253 && v <= 255) {
		bad_in(c, G, "routing-table", "%u is one of the kernel's own tables (default, main, "
		       "local)", v);
		return -EINVAL;
	}
	fa->routing_table = v;
	if ((rc = cfg_get_uint(c, G, "max-visitors", CFG_OPTIONAL, 1, FA_MAX_VISITORS_LIMIT,
			       FA_MAX_VISITORS_DEFAULT, &v)) < 0)
		return rc;
	fa->max_visitors = v;
	if (strcmp(fa->tunnel_device, fa->interface) == 0) {
		bad_in(c, G, "tunnel-device", "\"%s\" is the interface", fa->tunnel_device);
		return -EINVAL;
	}
	if (conf->has_ha) {
		if (cfg_has_key(c, G, "control-socket")) {
			bad_in(c, G, "control-socket", "with [%s], its control-socket serves both",
			       HA_CONF_GROUP);
			return -EINVAL;
		}
		if (strcmp(fa->tunnel_device, conf->tunnel_device) == 0) {
			bad_in(c, G, "tunnel-device", "\"%s\" is [%s]'s tunnel-device too",
			       fa->tunnel_device, HA_CONF_GROUP);
			return -EINVAL;
		}
	} else if ((rc = cfg_get_path(c, G, "control-socket", CFG_OPTIONAL,
				      HA_CONTROL_SOCKET_DEFAULT, &conf->control_socket)) < 0) {
		return rc;
	}
	return 0;
}

int ha_conf_load(const char *path, struct ha_conf *out)
{
	struct ha_conf conf;
	struct cfg c;
	int rc = 0;

	if (!path || !out)
		return -EINVAL;
	rc = cfg_load(&c, path);
	if (rc < 0)
		return -EINVAL;
	memset(&conf, 0, sizeof(conf));
	conf.path = g_strdup(path);
	conf.has_ha = cfg_has_group(&c, HA_CONF_GROUP);
	conf.has_fa = cfg_has_group(&c, FA_CONF_GROUP);
	if (!conf.has_ha && !conf.has_fa) {
		struct logger lg;

		logger_init(&lg, "%s", g_get_prgname() ? g_get_prgname() : "ha");
		LOG_ERROR(&lg, "%s: [%s]: missing (required, or [%s], or both)", path,
			  HA_CONF_GROUP, FA_CONF_GROUP);
		rc = -EINVAL;
		goto fail;
	}
	cfg_warn_unknown_groups(&c, known_groups);
	if (conf.has_ha && (rc = load_ha(&c, &conf)) < 0)
		goto fail;
	if (conf.has_fa && (rc = load_fa(&c, &conf)) < 0)
		goto fail;
	cfg_free(&c);
	*out = conf;
	return 0;
fail:
	cfg_free(&c);
	ha_conf_clear(&conf);
	return rc < 0 ? -EINVAL : rc;
}
