/* The [vpn] group of mnd.conf (see vpn.h and man/mnd.8). Identities, credential files and
 * proposal lists go through vpngw's parsers (vpngw/ident.h, vpngw/creds.h,
 * daemon/proposals.h), so both daemons read them the same way. Every error is one line
 *	mnd.conf: [vpn] gateway: "1.2.3" is not an IPv4 address
 * and nothing is half-loaded. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "common/sock.h"
#include "daemon/proposals.h"
#include "mnd/location.h"
#include "mnd/vpn.h"
#include "vpngw/conf.h"
#include "vpngw/creds.h"
#include "vpngw/ident.h"

#define G MND_VPN_GROUP
/* The same proposal defaults as vpngw, so the two agree out of the box. */
#define IKE_DEFAULT VPNGW_IKE_DEFAULT
#define ESP_DEFAULT VPNGW_ESP_DEFAULT
#define IKE_LIFETIME_DEFAULT 14400
#define CHILD_LIFETIME_DEFAULT 3600
#define DPD_DEFAULT 30

static const char *const known_keys[] = {
	"gateway", "local-id", "remote-id", "auth", "psk-file", "cert", "key", "ca", "ike",
	"esp", "intranet", "tunnel-device", "tunnel-mtu", "keylog-file", "dpd-interval",
	"interfaces", "status-file", "ike-lifetime", "child-lifetime", "mobike", NULL,
};
static const char *const auth_kinds[] = { "psk", "cert", NULL };

static int bad(const struct cfg *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(const struct cfg *c, const char *key, const char *fmt, ...)
{
	struct logger lg;
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	logger_init(&lg, "%s", g_get_prgname() ? g_get_prgname() : "mnd");
	LOG_ERROR(&lg, "%s: [%s] %s: %s", c->path, G, key, why);
	return -EINVAL;
}

static int get_id(const struct cfg *c, const char *key, enum cfg_need need,
		  struct ike_identity *out, bool *present)
{
	char *text = NULL, err[256];
	int rc = cfg_get_string(c, G, key, need, NULL, &text);

	*present = false;
	if (rc < 0)
		return -EINVAL;
	if (!text)
		return 0;
	rc = ident_parse(text, out, err, sizeof(err));
	g_free(text);
	if (rc < 0)
		return bad(c, key, "%s", err);
	*present = true;
	return 0;
}

static int get_proposals(const struct cfg *c, const char *key, enum ike_suite_use use,
			 const char *def, struct ike_proposals *out)
{
	char *text = NULL, err[256];
	int rc = cfg_get_string(c, G, key, CFG_OPTIONAL, def, &text);

	if (rc < 0)
		return -EINVAL;
	rc = proposals_parse(text, use, out, err, sizeof(err));
	g_free(text);
	return rc < 0 ? bad(c, key, "%s", err) : 0;
}

/* intranet: prefixes routed into the tunnel, asked for as TSr (RFC 7296 2.9). */
static int get_intranet(const struct cfg *c, struct mnd_vpn_config *v)
{
	char **items = NULL, a[ADDR4_STRLEN];
	size_t n = 0;
	int rc = cfg_get_string_list(c, G, "intranet", CFG_REQUIRED, NULL, &items, &n);

	if (rc < 0)
		return -EINVAL;
	if (n > MND_VPN_INTRANET_MAX) {
		g_strfreev(items);
		return bad(c, "intranet", "%zu prefixes; at most %d", n, MND_VPN_INTRANET_MAX);
	}
	for (size_t i = 0; i < n; i++) {
		struct in_addr net;
		unsigned plen;
		struct ike_ts4 *t = &v->peer.remote_ts.ts[i];

		if (prefix4_parse(items[i], &net, &plen) < 0) {
			rc = bad(c, "intranet", "\"%s\" is not a prefix a.b.c.d/len", items[i]);
			break;
		}
		if (prefix4_network(net, plen).s_addr != net.s_addr) {
			rc = bad(c, "intranet", "%s has host bits set; the network is %s/%u",
				 items[i], addr4_str(prefix4_network(net, plen), a), plen);
			break;
		}
		/* The gateway must stay reachable outside the tunnel (IKE and ESP to it). */
		if (prefix4_contains(net, plen, v->gateway)) {
			rc = bad(c, "intranet", "%s contains the gateway %s", items[i],
				 addr4_str(v->gateway, a));
			break;
		}
		v->intranet[i] = net;
		v->intranet_plen[i] = plen;
		memset(t, 0, sizeof(*t));
		t->start = net;
		t->end.s_addr = net.s_addr | ~prefix4_mask(plen).s_addr;
		t->end_port = 0xffff;
	}
	g_strfreev(items);
	if (rc < 0)
		return rc;
	v->nintranet = n;
	v->peer.remote_ts.n = n;
	return 0;
}

static int load_psk(const struct cfg *c, struct mnd_vpn_config *v)
{
	char *file = NULL, err[256];
	int rc;

	if (cfg_has_key(c, G, "cert") || cfg_has_key(c, G, "key") || cfg_has_key(c, G, "ca"))
		return bad(c, cfg_has_key(c, G, "cert") ? "cert" : cfg_has_key(c, G, "key") ?
			   "key" : "ca", "only for auth = cert");
	if (cfg_get_path(c, G, "psk-file", CFG_REQUIRED, NULL, &file) < 0)
		return -EINVAL;
	rc = creds_load_psk(file, &v->psk, &v->psk_len, err, sizeof(err));
	g_free(file);
	if (rc < 0)
		return bad(c, "psk-file", "%s", err);
	v->peer.local.auth = v->peer.remote.auth = IKE_AUTHK_PSK;
	v->peer.local.psk = v->peer.remote.psk = v->psk;
	v->peer.local.psk_len = v->peer.remote.psk_len = v->psk_len;
	return 0;
}

static int load_cert(const struct cfg *c, struct mnd_vpn_config *v, bool have_local_id)
{
	char *file = NULL, *keyfile = NULL, **ca = NULL, err[256], id[256];
	size_t nca = 0;
	int rc;

	if (cfg_has_key(c, G, "psk-file"))
		return bad(c, "psk-file", "only for auth = psk");
	if (cfg_get_path(c, G, "cert", CFG_REQUIRED, NULL, &file) < 0)
		return -EINVAL;
	rc = creds_load_cert(file, &v->cert, err, sizeof(err));
	if (rc < 0) {
		rc = bad(c, "cert", "%s", err);
		goto out;
	}
	if ((rc = cfg_get_path(c, G, "key", CFG_REQUIRED, NULL, &keyfile)) < 0)
		goto out;
	rc = creds_load_key(keyfile, &v->key, err, sizeof(err));
	if (rc < 0) {
		rc = bad(c, "key", "%s", err);
		goto out;
	}
	if (X509_check_private_key(v->cert, v->key) != 1) {
		rc = bad(c, "key", "%s does not belong to the certificate %s", keyfile, file);
		goto out;
	}
	if (!have_local_id) {
		creds_subject_id(v->cert, &v->peer.local_id);
	} else if (!creds_cert_matches_id(v->cert, &v->peer.local_id)) {
		rc = bad(c, "local-id", "\"%s\" is not in the certificate %s (subject or "
			 "subjectAltName)", ident_str(&v->peer.local_id, id, sizeof(id)), file);
		goto out;
	}
	if ((rc = cfg_get_string_list(c, G, "ca", CFG_REQUIRED, NULL, &ca, &nca)) < 0)
		goto out;
	for (size_t i = 0; i < nca; i++) {
		char *abs = g_path_is_absolute(ca[i]) ? g_strdup(ca[i]) :
			g_build_filename(c->dir ? c->dir : ".", ca[i], NULL);

		g_free(ca[i]);
		ca[i] = abs;
	}
	rc = creds_load_ca(ca, nca, &v->ca, err, sizeof(err));
	if (rc < 0) {
		rc = bad(c, "ca", "%s", err);
		goto out;
	}
	v->peer.local.auth = v->peer.remote.auth = IKE_AUTHK_SIGNATURE;
	v->peer.local.cert = v->cert;
	v->peer.local.key = v->key;
	v->peer.remote.trust = v->ca;
out:
	g_strfreev(ca);
	g_free(keyfile);
	g_free(file);
	return rc < 0 ? -EINVAL : 0;
}

static int load(const struct cfg *c, const char *mip_interfaces, struct mnd_vpn_config *v)
{
	struct mnd_ifaces ifs;
	bool have_local = false, have_remote = false;
	uint32_t u;
	int auth = 0, rc;

	cfg_warn_unknown(c, G, known_keys);
	if (cfg_get_addr4(c, G, "gateway", CFG_REQUIRED, NULL, &v->gateway) < 0 ||
	    get_id(c, "local-id", CFG_OPTIONAL, &v->peer.local_id, &have_local) < 0 ||
	    get_id(c, "remote-id", CFG_REQUIRED, &v->peer.remote_id, &have_remote) < 0 ||
	    cfg_get_enum(c, G, "auth", CFG_OPTIONAL, auth_kinds, 0, &auth) < 0)
		return -EINVAL;
	if (auth == 0) {
		if (!have_local)
			return bad(c, "local-id", "required for auth = psk");
		rc = load_psk(c, v);
	} else {
		rc = load_cert(c, v, have_local);
	}
	if (rc < 0)
		return rc;
	if (get_proposals(c, "ike", IKE_SUITE_IKE, IKE_DEFAULT, &v->peer.ike) < 0 ||
	    get_proposals(c, "esp", IKE_SUITE_ESP, ESP_DEFAULT, &v->peer.esp) < 0 ||
	    get_intranet(c, v) < 0)
		return -EINVAL;
	if (cfg_get_uint(c, G, "ike-lifetime", CFG_OPTIONAL, 0, 7 * 86400, IKE_LIFETIME_DEFAULT,
			 &u) < 0)
		return -EINVAL;
	v->peer.ike_lifetime_s = u;
	if (cfg_get_uint(c, G, "child-lifetime", CFG_OPTIONAL, 0, 7 * 86400,
			 CHILD_LIFETIME_DEFAULT, &u) < 0)
		return -EINVAL;
	v->peer.child_lifetime_s = u;
	if (v->peer.child_lifetime_s && v->peer.child_lifetime_s < 60)
		return bad(c, "child-lifetime", "%u s is too short (at least 60, or 0 for never)",
			   v->peer.child_lifetime_s);
	if (cfg_get_uint(c, G, "dpd-interval", CFG_OPTIONAL, 0, 86400, DPD_DEFAULT, &u) < 0)
		return -EINVAL;
	v->peer.dpd_interval_s = u;
	if (cfg_get_string(c, G, "interfaces", CFG_OPTIONAL, mip_interfaces,
			   &v->interfaces) < 0)
		return -EINVAL;
	if (!v->interfaces || mnd_ifaces_init(&ifs, v->interfaces) < 0)
		return bad(c, "interfaces", "\"%s\" is not a comma-separated list of up to %d "
			   "distinct interface names", v->interfaces ? v->interfaces : "",
			   MND_IFACES_MAX);
	if (cfg_get_ifname(c, G, "tunnel-device", CFG_OPTIONAL, MND_VPN_TUN_DEFAULT,
			   v->tunnel_device) < 0)
		return -EINVAL;
	for (unsigned i = 0; i < ifs.count; i++)
		if (!strcmp(ifs.iface[i].name, v->tunnel_device))
			return bad(c, "tunnel-device", "\"%s\" is also in interfaces",
				   v->tunnel_device);
	if (cfg_get_uint(c, G, "tunnel-mtu", CFG_OPTIONAL, 576, 65000, 1400, &u) < 0)
		return -EINVAL;
	v->tunnel_mtu = u;
	if (cfg_get_path(c, G, "keylog-file", CFG_OPTIONAL, NULL, &v->keylog_file) < 0 ||
	    cfg_get_path(c, G, "status-file", CFG_OPTIONAL, MND_VPN_STATUS_DEFAULT,
			 &v->status_file) < 0)
		return -EINVAL;
	/* What we ask for as TSi: anything; the gateway narrows it to our TIA (2.9). */
	v->peer.local_ts.n = 1;
	memset(&v->peer.local_ts.ts[0], 0, sizeof(v->peer.local_ts.ts[0]));
	v->peer.local_ts.ts[0].end.s_addr = 0xffffffff;
	v->peer.local_ts.ts[0].end_port = 0xffff;
	v->peer.request_address = true;
	v->peer.name = "vpn";
	/* MOBIKE (RFC 4555): on by default; the gateway's answer decides whether it is used. */
	if (cfg_get_bool(c, G, "mobike", CFG_OPTIONAL, true, &v->peer.mobike) < 0)
		return -EINVAL;
	return 0;
}

int mnd_vpn_config_load(const struct cfg *c, const char *mip_interfaces,
			struct mnd_vpn_config *out)
{
	struct mnd_vpn_config v;
	int rc;

	memset(&v, 0, sizeof(v));
	if (!cfg_has_group(c, G)) {
		*out = v;
		return 0;
	}
	rc = load(c, mip_interfaces, &v);
	if (rc < 0) {
		mnd_vpn_config_free(&v);
		return rc;
	}
	v.enabled = true;
	*out = v;
	return 0;
}

void mnd_vpn_config_free(struct mnd_vpn_config *v)
{
	if (v->psk)
		creds_free_psk(v->psk, v->psk_len);
	X509_free(v->cert);
	EVP_PKEY_free(v->key);
	X509_STORE_free(v->ca);
	g_free(v->interfaces);
	g_free(v->keylog_file);
	g_free(v->status_file);
	OPENSSL_cleanse(v, sizeof(*v));
}
