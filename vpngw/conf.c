/* vpngw's configuration file, read through daemon/config.h. See conf.h. */
#include "vpngw/conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <openssl/x509_vfy.h>

#include "common/log.h"
#include "common/sock.h"
#include "daemon/proposals.h"
#include "daemon/replay.h"
#include "vpngw/creds.h"
#include "vpngw/ident.h"

#define IKE_LIFETIME_DEFAULT 14400    /* strongSwan's rekey_time for IKE SAs: 4 h */
#define CHILD_LIFETIME_DEFAULT 3600   /* and for Child SAs: 1 h */
#define DPD_DEFAULT 30
#define COOKIE_THRESHOLD_DEFAULT 32   /* ike/engine.h defaults */
#define HALF_OPEN_MAX_DEFAULT 4096
#define MAX_SAS_DEFAULT 65536

static const char *const gateway_keys[] = {
	"listen", "pool", "tunnel-address", "dns", "tunnel-device", "tunnel-mtu",
	"control-socket", "keylog-file", "cookie-threshold", "half-open-max", "max-sas",
	"dpd-interval", "handover-replay-ms", "handover-replay-bytes", "handover-replay-rtt-ms",
	NULL,
};

static const char *const peer_keys[] = {
	"remote-id", "local-id", "auth", "psk-file", "cert", "key", "ca", "ike", "esp",
	"local-ts", "assign-address", "ike-lifetime", "child-lifetime", "mobike", "mobike-nat",
	"mobike-return-routability", "mobike-allowed", NULL,
};

/* "FILE: [group] key: reason" (key NULL: "FILE: [group]: reason"), like config.h's lines. */
static int bad(const struct cfg *c, const char *group, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int bad(const struct cfg *c, const char *group, const char *key, const char *fmt, ...)
{
	struct logger lg;
	char why[512];
	va_list ap;

	logger_init(&lg, "%s", g_get_prgname() ? g_get_prgname() : "vpngw");
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (key)
		LOG_ERROR(&lg, "%s: [%s] %s: %s", c->path, group, key, why);
	else
		LOG_ERROR(&lg, "%s: [%s]: %s", c->path, group, why);
	return -EINVAL;
}

void vpngw_conf_clear(struct vpngw_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->own && i < c->npeers; i++) {
		struct vpngw_peer *p = &c->own[i];

		g_free(p->name);
		creds_free_psk(p->psk, p->psk_len);
		X509_free(p->cert);
		EVP_PKEY_free(p->key);
		X509_STORE_free(p->ca);
	}
	g_free(c->own);
	g_free(c->peers);
	g_free(c->path);
	g_free(c->control_socket);
	g_free(c->keylog_file);
	memset(c, 0, sizeof(*c));
}

/* --- [gateway] ------------------------------------------------------------------------ */

static int load_gateway(const struct cfg *c, struct vpngw_conf *conf)
{
	const char *G = VPNGW_GATEWAY_GROUP;
	char **dns = NULL;
	size_t ndns = 0;
	uint32_t v;
	int rc;

	if (!cfg_has_group(c, G))
		return bad(c, G, NULL, "missing (required)");
	cfg_warn_unknown(c, G, gateway_keys);
	if ((rc = cfg_get_addr4(c, G, "listen", CFG_REQUIRED, NULL, &conf->listen)) < 0 ||
	    (rc = cfg_get_prefix4(c, G, "pool", CFG_OPTIONAL, NULL, &conf->pool_net,
				  &conf->pool_plen)) < 0)
		return -EINVAL;
	conf->have_pool = rc == 0;
	if (conf->have_pool && (conf->pool_plen < 16 || conf->pool_plen > 30)) {
		char n[ADDR4_STRLEN];

		return bad(c, G, "pool", "%s/%u: the prefix length must be 16..30",
			   addr4_str(conf->pool_net, n), conf->pool_plen);
	}
	if (conf->have_pool && prefix4_contains(conf->pool_net, conf->pool_plen, conf->listen))
		return bad(c, G, "pool", "contains the listen address");
	rc = cfg_get_addr4(c, G, "tunnel-address", CFG_OPTIONAL, NULL, &conf->tunnel_addr);
	if (rc < 0)
		return -EINVAL;
	if (rc == 1 && conf->have_pool) {
		/* The last host address: the pool hands out from the bottom. */
		uint32_t net = ntohl(conf->pool_net.s_addr);
		uint32_t bcast = net | (UINT32_MAX >> conf->pool_plen);

		conf->tunnel_addr.s_addr = htonl(bcast - 1);
	}
	if (rc == 0 && conf->tunnel_addr.s_addr == conf->listen.s_addr)
		return bad(c, G, "tunnel-address", "is the listen address");
	if (rc == 0 && conf->have_pool &&
	    prefix4_contains(conf->pool_net, conf->pool_plen, conf->tunnel_addr)) {
		uint32_t a = ntohl(conf->tunnel_addr.s_addr), net = ntohl(conf->pool_net.s_addr);
		uint32_t bcast = net | (UINT32_MAX >> conf->pool_plen);

		if (a == net || a == bcast)
			return bad(c, G, "tunnel-address", "is the network or broadcast address "
				   "of the pool");
	}
	if ((rc = cfg_get_string_list(c, G, "dns", CFG_OPTIONAL, NULL, &dns, &ndns)) < 0)
		return -EINVAL;
	if (ndns > VPNGW_MAX_DNS) {
		g_strfreev(dns);
		return bad(c, G, "dns", "%zu servers; at most %d", ndns, VPNGW_MAX_DNS);
	}
	for (size_t i = 0; i < ndns; i++) {
		if (addr4_parse(dns[i], &conf->dns[i]) < 0) {
			bad(c, G, "dns", "\"%s\" is not an IPv4 address", dns[i]);
			g_strfreev(dns);
			return -EINVAL;
		}
	}
	conf->ndns = ndns;
	g_strfreev(dns);
	if ((rc = cfg_get_ifname(c, G, "tunnel-device", CFG_OPTIONAL, VPNGW_TUNNEL_DEVICE_DEFAULT,
				 conf->tunnel_device)) < 0 ||
	    (rc = cfg_get_uint(c, G, "tunnel-mtu", CFG_OPTIONAL, 576, 9000,
			       VPNGW_TUNNEL_MTU_DEFAULT, &v)) < 0)
		return -EINVAL;
	conf->tunnel_mtu = v;
	if ((rc = cfg_get_path(c, G, "control-socket", CFG_OPTIONAL,
			       VPNGW_CONTROL_SOCKET_DEFAULT, &conf->control_socket)) < 0 ||
	    (rc = cfg_get_path(c, G, "keylog-file", CFG_OPTIONAL, NULL, &conf->keylog_file)) < 0)
		return -EINVAL;
	if ((rc = cfg_get_uint(c, G, "cookie-threshold", CFG_OPTIONAL, 1, 1000000,
			       COOKIE_THRESHOLD_DEFAULT, &v)) < 0)
		return -EINVAL;
	conf->cookie_threshold = v;
	if ((rc = cfg_get_uint(c, G, "half-open-max", CFG_OPTIONAL, 1, 1000000,
			       HALF_OPEN_MAX_DEFAULT, &v)) < 0)
		return -EINVAL;
	conf->half_open_max = v;
	if ((rc = cfg_get_uint(c, G, "max-sas", CFG_OPTIONAL, 1, 10000000, MAX_SAS_DEFAULT,
			       &v)) < 0)
		return -EINVAL;
	conf->max_sas = v;
	if ((rc = cfg_get_uint(c, G, "dpd-interval", CFG_OPTIONAL, 0, 86400, DPD_DEFAULT,
			       &v)) < 0)
		return -EINVAL;
	conf->dpd_interval = v;
	/* The same keys and limits as the home agent's (ha/conf.h); a smaller default budget:
	 * the replay's burst goes through user-space ESP on both ends, and the oldest 64 KiB
	 * hold what the peer's TCP waits for. Measured (bench/RESULTS.md 5.1): TCP back 25-26
	 * ms after the UPDATE with 64 KiB, 26-27 with 128 KiB, 29-46 with 512 KiB. */
	if ((rc = cfg_get_uint(c, G, "handover-replay-ms", CFG_OPTIONAL, 0, 10000,
			       PKT_REPLAY_MS_DEFAULT, &v)) < 0)
		return -EINVAL;
	conf->replay_ms = v;
	if ((rc = cfg_get_uint(c, G, "handover-replay-bytes", CFG_OPTIONAL, 1500, 1u << 30,
			       VPNGW_REPLAY_BYTES_DEFAULT, &v)) < 0)
		return -EINVAL;
	conf->replay_bytes = v;
	if ((rc = cfg_get_uint(c, G, "handover-replay-rtt-ms", CFG_OPTIONAL, 1, 10000,
			       PKT_REPLAY_RTT_MS_DEFAULT, &v)) < 0)
		return -EINVAL;
	conf->replay_rtt_ms = v;
	if (conf->cookie_threshold > conf->half_open_max)
		return bad(c, G, "cookie-threshold", "%u is above half-open-max (%u): cookies "
			   "would never be asked for", conf->cookie_threshold,
			   conf->half_open_max);
	return 0;
}

/* --- [peer NAME] ---------------------------------------------------------------------- */

static int get_ident(const struct cfg *c, const char *group, const char *key,
		     struct ike_identity *out, bool *present)
{
	char *text = NULL, err[256];
	int rc = cfg_get_string(c, group, key, CFG_OPTIONAL, NULL, &text);

	*present = false;
	if (rc < 0)
		return -EINVAL;
	if (rc == 1)
		return 0;
	*present = true;
	rc = ident_parse(text, out, err, sizeof(err));
	if (rc < 0)
		bad(c, group, key, "%s", err);
	g_free(text);
	return rc < 0 ? -EINVAL : 0;
}

static int get_proposals(const struct cfg *c, const char *group, const char *key,
			 enum ike_suite_use use, const char *def, struct ike_proposals *out)
{
	char *text = NULL, err[256];
	int rc = cfg_get_string(c, group, key, CFG_OPTIONAL, def, &text);

	if (rc < 0)
		return -EINVAL;
	rc = proposals_parse(text, use, out, err, sizeof(err));
	if (rc < 0)
		bad(c, group, key, "%s", err);
	g_free(text);
	return rc < 0 ? -EINVAL : 0;
}

static int get_ts(const struct cfg *c, const char *group, const char *key,
		  struct ike_ts4_list *out)
{
	char **items = NULL;
	size_t n = 0;
	int rc = cfg_get_string_list(c, group, key, CFG_REQUIRED, NULL, &items, &n);

	if (rc < 0)
		return -EINVAL;
	if (n > IKE_CFG_MAX_TS) {
		g_strfreev(items);
		return bad(c, group, key, "%zu selectors; at most %d", n, IKE_CFG_MAX_TS);
	}
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		struct in_addr net;
		unsigned plen;
		struct ike_ts4 *t = &out->ts[i];

		rc = prefix4_parse(items[i], &net, &plen);
		if (rc != 0) {
			if (rc > 0) {
				char a[ADDR4_STRLEN];

				bad(c, group, key, "%s has host bits set; the network is %s/%u",
				    items[i], addr4_str(prefix4_network(net, plen), a), plen);
			} else {
				bad(c, group, key, "\"%s\" is not a network a.b.c.d/len", items[i]);
			}
			g_strfreev(items);
			return -EINVAL;
		}
		/* RFC 7296 3.13.1: an address range, any protocol, all ports. */
		t->start = net;
		t->end.s_addr = net.s_addr | ~prefix4_mask(plen).s_addr;
		t->ip_proto = 0;
		t->start_port = 0;
		t->end_port = 65535;
	}
	out->n = n;
	g_strfreev(items);
	return 0;
}

/* MOBIKE (RFC 4555) for a peer class: on by default (MOBIKE_SUPPORTED in IKE_AUTH, so the
 * initiator may move the SA, 3.5); how its new addresses are accepted is policy/mobike.h:
 * return routability (3.7; default: for an address new to the SA), NATs on the new path
 * (3.9), the prefixes a peer may move into. */
static int load_mobike(const struct cfg *c, const char *group, struct ike_peer_cfg *pc)
{
	static const char *const nat_choices[] = { "allow", "refuse", NULL };
	/* policy_mobike_rr order: NEW_ADDRESS 0, ALWAYS 1, NEVER 2 */
	static const char *const rr_choices[] = { "new-address", "always", "never", NULL };
	char **items = NULL;
	size_t n = 0;
	int v = 0;

	memset(&pc->mobike_policy, 0, sizeof(pc->mobike_policy));
	if (cfg_get_bool(c, group, "mobike", CFG_OPTIONAL, true, &pc->mobike) < 0 ||
	    cfg_get_enum(c, group, "mobike-nat", CFG_OPTIONAL, nat_choices, 0, &v) < 0)
		return -EINVAL;
	pc->mobike_policy.refuse_nat = v == 1;
	if (cfg_get_enum(c, group, "mobike-return-routability", CFG_OPTIONAL, rr_choices, 0,
			 &v) < 0)
		return -EINVAL;
	pc->mobike_policy.rr = (enum policy_mobike_rr)v;
	if (cfg_get_string_list(c, group, "mobike-allowed", CFG_OPTIONAL, NULL, &items, &n) < 0)
		return -EINVAL;
	if (n > POLICY_MOBIKE_MAX_PREFIXES) {
		g_strfreev(items);
		return bad(c, group, "mobike-allowed", "at most %d prefixes",
			   POLICY_MOBIKE_MAX_PREFIXES);
	}
	for (size_t i = 0; i < n; i++) {
		if (policy_prefix4_parse(items[i], &pc->mobike_policy.allowed[i]) < 0) {
			int rc = bad(c, group, "mobike-allowed", "\"%s\" is not a network "
				     "a.b.c.d/len (without host bits) or an address", items[i]);

			g_strfreev(items);
			return rc;
		}
	}
	pc->mobike_policy.nallowed = n;
	g_strfreev(items);
	if (!pc->mobike && (cfg_has_key(c, group, "mobike-nat") ||
			    cfg_has_key(c, group, "mobike-return-routability") ||
			    cfg_has_key(c, group, "mobike-allowed")))
		return bad(c, group, "mobike", "no, but mobike-* keys are set (they would have no "
			   "effect)");
	return 0;
}

static int load_peer(const struct cfg *c, const char *group, const struct vpngw_conf *conf,
		     struct ike_peer_cfg *pc, struct vpngw_peer *own)
{
	static const char *const auth_choices[] = { "psk", "cert", NULL };
	char err[512], **ca = NULL, *file = NULL, id[256];
	bool present;
	size_t nca = 0;
	uint32_t v;
	int rc, auth = 0;

	cfg_warn_unknown(c, group, peer_keys);
	own->name = g_strdup(group + strlen(VPNGW_PEER_PREFIX));
	pc->name = own->name;
	if (get_ident(c, group, "remote-id", &pc->remote_id, &present) < 0 ||
	    get_ident(c, group, "local-id", &pc->local_id, &present) < 0)
		return -EINVAL;
	if (present && pc->local_id.type == 0)
		return bad(c, group, "local-id", "%%any cannot be our own identity");
	if (cfg_get_enum(c, group, "auth", CFG_REQUIRED, auth_choices, 0, &auth) < 0)
		return -EINVAL;
	if (auth == 0) {
		static const char *const cert_keys[] = { "cert", "key", "ca" };

		for (size_t i = 0; i < 3; i++)
			if (cfg_has_key(c, group, cert_keys[i]))
				return bad(c, group, cert_keys[i], "only for auth = cert");
		if (cfg_get_path(c, group, "psk-file", CFG_REQUIRED, NULL, &file) < 0)
			return -EINVAL;
		rc = creds_load_psk(file, &own->psk, &own->psk_len, err, sizeof(err));
		g_free(file);
		if (rc < 0)
			return bad(c, group, "psk-file", "%s", err);
		pc->local.auth = pc->remote.auth = IKE_AUTHK_PSK;
		pc->local.psk = pc->remote.psk = own->psk;
		pc->local.psk_len = pc->remote.psk_len = own->psk_len;
		/* strongSwan's default for a PSK gateway: its IP address. */
		if (!present) {
			pc->local_id.type = IDENT_IPV4_ADDR;
			pc->local_id.len = 4;
			memcpy(pc->local_id.data, &conf->listen.s_addr, 4);
		}
	} else {
		if (cfg_has_key(c, group, "psk-file"))
			return bad(c, group, "psk-file", "only for auth = psk");
		if (cfg_get_path(c, group, "cert", CFG_REQUIRED, NULL, &file) < 0)
			return -EINVAL;
		rc = creds_load_cert(file, &own->cert, err, sizeof(err));
		if (rc < 0) {
			g_free(file);
			return bad(c, group, "cert", "%s", err);
		}
		{
			char *keyfile = NULL;

			if (cfg_get_path(c, group, "key", CFG_REQUIRED, NULL, &keyfile) < 0) {
				g_free(file);
				return -EINVAL;
			}
			rc = creds_load_key(keyfile, &own->key, err, sizeof(err));
			if (rc < 0) {
				bad(c, group, "key", "%s", err);
			} else if (X509_check_private_key(own->cert, own->key) != 1) {
				rc = bad(c, group, "key", "%s does not belong to the certificate %s",
					 keyfile, file);
			}
			g_free(keyfile);
			if (rc < 0) {
				g_free(file);
				return -EINVAL;
			}
		}
		if (!present) {
			creds_subject_id(own->cert, &pc->local_id);
		} else if (!creds_cert_matches_id(own->cert, &pc->local_id)) {
			rc = bad(c, group, "local-id", "\"%s\" is not in the certificate %s (subject "
				 "or subjectAltName)", ident_str(&pc->local_id, id, sizeof(id)),
				 file);
			g_free(file);
			return rc;
		}
		g_free(file);
		/* cfg_get_path takes one path; the list is resolved item by item. */
		if (cfg_get_string_list(c, group, "ca", CFG_REQUIRED, NULL, &ca, &nca) < 0)
			return -EINVAL;
		for (size_t i = 0; i < nca; i++) {
			char *abs = g_path_is_absolute(ca[i]) ? g_strdup(ca[i]) :
				g_build_filename(c->dir ? c->dir : ".", ca[i], NULL);

			g_free(ca[i]);
			ca[i] = abs;
		}
		rc = creds_load_ca(ca, nca, &own->ca, err, sizeof(err));
		g_strfreev(ca);
		if (rc < 0)
			return bad(c, group, "ca", "%s", err);
		pc->local.auth = pc->remote.auth = IKE_AUTHK_SIGNATURE;
		pc->local.cert = own->cert;
		pc->local.key = own->key;
		pc->remote.trust = own->ca;
	}
	if (get_proposals(c, group, "ike", IKE_SUITE_IKE, VPNGW_IKE_DEFAULT, &pc->ike) < 0 ||
	    get_proposals(c, group, "esp", IKE_SUITE_ESP, VPNGW_ESP_DEFAULT, &pc->esp) < 0 ||
	    get_ts(c, group, "local-ts", &pc->local_ts) < 0 ||
	    cfg_get_bool(c, group, "assign-address", CFG_OPTIONAL, true,
			 &pc->assign_address) < 0)
		return -EINVAL;
	if (pc->assign_address && !conf->have_pool)
		return bad(c, group, "assign-address", "yes needs a pool in [%s]",
			   VPNGW_GATEWAY_GROUP);
	if (cfg_get_uint(c, group, "ike-lifetime", CFG_OPTIONAL, 0, 7 * 86400,
			 IKE_LIFETIME_DEFAULT, &v) < 0)
		return -EINVAL;
	pc->ike_lifetime_s = v;
	if (cfg_get_uint(c, group, "child-lifetime", CFG_OPTIONAL, 0, 7 * 86400,
			 CHILD_LIFETIME_DEFAULT, &v) < 0)
		return -EINVAL;
	pc->child_lifetime_s = v;
	if (pc->child_lifetime_s && pc->child_lifetime_s < 60)
		return bad(c, group, "child-lifetime", "%u s is too short (at least 60, or 0 for "
			   "never)", pc->child_lifetime_s);
	if (pc->ike_lifetime_s && pc->ike_lifetime_s < 60)
		return bad(c, group, "ike-lifetime", "%u s is too short (at least 60, or 0 for "
			   "never)", pc->ike_lifetime_s);
	pc->dpd_interval_s = conf->dpd_interval;
	pc->request_address = false;
	return load_mobike(c, group, pc);
}

/* Peer groups in file order; "[peer]" without a name is an error. */
static int load_peers(const struct cfg *c, struct vpngw_conf *conf)
{
	gchar **groups = g_key_file_get_groups(c->kf, NULL);
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; groups[i]; i++) {
		const char *g = groups[i];

		if (strcmp(g, VPNGW_GATEWAY_GROUP) == 0)
			continue;
		if (strcmp(g, "peer") == 0 || (strncmp(g, VPNGW_PEER_PREFIX,
					       strlen(VPNGW_PEER_PREFIX)) == 0 &&
					       !g[strlen(VPNGW_PEER_PREFIX)])) {
			rc = bad(c, g, NULL, "a peer group needs a name: [peer NAME]");
			goto out;
		}
		if (strncmp(g, VPNGW_PEER_PREFIX, strlen(VPNGW_PEER_PREFIX)) != 0) {
			struct logger lg;

			logger_init(&lg, "%s", g_get_prgname() ? g_get_prgname() : "vpngw");
			LOG_WARNING(&lg, "%s: [%s]: unknown group (ignored)", c->path, g);
			continue;
		}
		n++;
	}
	if (n == 0) {
		struct logger lg;

		logger_init(&lg, "%s", g_get_prgname() ? g_get_prgname() : "vpngw");
		LOG_ERROR(&lg, "%s: no [peer NAME] group: at least one peer class is required",
			  c->path);
		rc = -EINVAL;
		goto out;
	}
	if (n > VPNGW_MAX_PEERS) {
		struct logger lg;

		logger_init(&lg, "%s", g_get_prgname() ? g_get_prgname() : "vpngw");
		LOG_ERROR(&lg, "%s: %zu peer groups; at most %d", c->path, n, VPNGW_MAX_PEERS);
		rc = -EINVAL;
		goto out;
	}
	conf->peers = g_new0(struct ike_peer_cfg, n);
	conf->own = g_new0(struct vpngw_peer, n);
	for (size_t i = 0; groups[i]; i++) {
		const char *g = groups[i];

		if (strncmp(g, VPNGW_PEER_PREFIX, strlen(VPNGW_PEER_PREFIX)) != 0)
			continue;
		/* npeers counts what is filled, so clear() frees exactly that. */
		conf->npeers++;
		rc = load_peer(c, g, conf, &conf->peers[conf->npeers - 1],
			       &conf->own[conf->npeers - 1]);
		if (rc < 0)
			goto out;
		for (size_t k = 0; k + 1 < conf->npeers; k++) {
			const struct ike_peer_cfg *a = &conf->peers[k], *b =
				&conf->peers[conf->npeers - 1];

			if (a->remote_id.type && ident_equal(&a->remote_id, &b->remote_id) &&
			    a->local.auth == b->local.auth) {
				rc = bad(c, g, "remote-id", "the same as in [peer %s] with the "
					 "same auth: the peer class would be ambiguous", a->name);
				goto out;
			}
		}
	}
out:
	g_strfreev(groups);
	return rc;
}

int vpngw_conf_from_cfg(const struct cfg *c, struct vpngw_conf *out)
{
	struct vpngw_conf conf;
	int rc;

	if (!c || !out)
		return -EINVAL;
	memset(&conf, 0, sizeof(conf));
	conf.path = g_strdup(c->path);
	rc = load_gateway(c, &conf);
	if (rc == 0)
		rc = load_peers(c, &conf);
	if (rc < 0) {
		vpngw_conf_clear(&conf);
		return -EINVAL;
	}
	*out = conf;
	return 0;
}

int vpngw_conf_load(const char *path, struct vpngw_conf *out)
{
	struct cfg c;
	int rc;

	if (!path || !out)
		return -EINVAL;
	if (cfg_load(&c, path) < 0)
		return -EINVAL;
	rc = vpngw_conf_from_cfg(&c, out);
	cfg_free(&c);
	return rc;
}
