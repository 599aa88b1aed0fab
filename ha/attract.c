/* Home-link attraction: proxy ARP, host routes into the tunnel, gratuitous ARP (RFC 5944
 * §4.6). See attract.h. */
#include "ha/attract.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "common/log.h"
#include "common/netlink.h"
#include "common/garp.h"
#include "common/sock.h"
#include "ha/neigh.h"

/* §4.6: gratuitous ARPs "SHOULD be retransmitted a small number of times". */
#define GARP_COUNT 3
#define GARP_INTERVAL_MS 1000

struct mn_mac {
	bool known;
	bool in_place;           /* proxy entry and route both installed by us */
	uint8_t mac[HA_MAC_LEN];
};

struct garp_job {
	struct in_addr ip;
	uint8_t mac[HA_MAC_LEN];
	unsigned left;
};

struct ha_attract {
	char home_if[IFNAMSIZ];
	int home_ifindex;
	int tun_ifindex;
	uint8_t ha_mac[HA_MAC_LEN];
	int garp_fd;
	GHashTable *installed;   /* home address (host order) -> struct mn_mac */
	GArray *jobs;            /* struct garp_job */
	GHashTable *job_for;     /* addresses (host order) with a job in jobs: only those
	                          * are searched for, so 10^5 new bindings cost O(n) */
	guint timer;
	struct logger log;
};

static const char *mac_str(const uint8_t m[HA_MAC_LEN], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static void garp_now(struct ha_attract *at, struct garp_job *j)
{
	char a[ADDR4_STRLEN], m[18];
	int rc = garp_send(at->garp_fd, at->home_ifindex, j->ip, j->mac);

	if (rc < 0)
		LOG_WARNING(&at->log, "gratuitous ARP for %s at %s failed: %s",
			    addr4_str(j->ip, a), mac_str(j->mac, m), strerror(-rc));
	else
		LOG_DEBUG(&at->log, "gratuitous ARP: %s is at %s", addr4_str(j->ip, a),
			  mac_str(j->mac, m));
	if (j->left)
		j->left--;
}

static gboolean garp_tick(gpointer user)
{
	struct ha_attract *at = user;

	for (guint i = 0; i < at->jobs->len;) {
		struct garp_job *j = &g_array_index(at->jobs, struct garp_job, i);

		garp_now(at, j);
		if (j->left == 0) {
			g_hash_table_remove(at->job_for, GUINT_TO_POINTER(ntohl(j->ip.s_addr)));
			g_array_remove_index_fast(at->jobs, i);
		} else {
			i++;
		}
	}
	if (at->jobs->len == 0) {
		at->timer = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* Cancel the pending job for ip, if there is one. */
static void cancel_job(struct ha_attract *at, struct in_addr ip)
{
	if (!g_hash_table_remove(at->job_for, GUINT_TO_POINTER(ntohl(ip.s_addr))))
		return;
	for (guint i = 0; i < at->jobs->len; i++) {
		if (g_array_index(at->jobs, struct garp_job, i).ip.s_addr == ip.s_addr) {
			g_array_remove_index_fast(at->jobs, i);
			break;
		}
	}
}

/* Send now, and GARP_COUNT - 1 more times; replaces a pending job for the same address. */
static void announce(struct ha_attract *at, struct in_addr ip, const uint8_t mac[HA_MAC_LEN])
{
	struct garp_job j = { .ip = ip, .left = GARP_COUNT };

	memcpy(j.mac, mac, HA_MAC_LEN);
	cancel_job(at, ip);
	garp_now(at, &j);
	if (j.left == 0)
		return;
	g_array_append_val(at->jobs, j);
	g_hash_table_add(at->job_for, GUINT_TO_POINTER(ntohl(ip.s_addr)));
	if (!at->timer)
		at->timer = g_timeout_add(GARP_INTERVAL_MS, garp_tick, at);
}

int ha_attract_new(const char *home_if, int tun_ifindex, struct ha_attract **out)
{
	struct ha_attract *at;
	int rc;

	if (!home_if || strlen(home_if) >= IFNAMSIZ || tun_ifindex <= 0 || !out)
		return -EINVAL;
	at = g_new0(struct ha_attract, 1);
	logger_init(&at->log, "ha[home-link %s]", home_if);
	g_strlcpy(at->home_if, home_if, sizeof(at->home_if));
	at->tun_ifindex = tun_ifindex;
	at->garp_fd = -1;
	at->home_ifindex = nl_link_index(home_if);
	if (at->home_ifindex < 0) {
		rc = at->home_ifindex;
		LOG_ERROR(&at->log, "home interface %s: %s", home_if, strerror(-rc));
		g_free(at);
		return rc;
	}
	rc = ha_link_mac(home_if, at->ha_mac);
	if (rc < 0) {
		LOG_ERROR(&at->log, "home interface %s: no Ethernet address (%s): proxy and "
			  "gratuitous ARP need one", home_if, strerror(-rc));
		g_free(at);
		return rc;
	}
	at->garp_fd = garp_open(at->home_ifindex);
	if (at->garp_fd < 0) {
		rc = at->garp_fd;
		LOG_ERROR(&at->log, "cannot open a packet socket for gratuitous ARP: %s",
			  strerror(-rc));
		g_free(at);
		return rc;
	}
	at->installed = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	at->jobs = g_array_new(FALSE, FALSE, sizeof(struct garp_job));
	at->job_for = g_hash_table_new(g_direct_hash, g_direct_equal);
	*out = at;
	return 0;
}

static void uninstall(struct ha_attract *at, struct in_addr hoa)
{
	struct in_addr any = { 0 };
	char a[ADDR4_STRLEN];
	int rc;

	rc = nl_route4_del(hoa, 32, any, at->tun_ifindex, 0, 0);
	if (rc < 0 && rc != -ESRCH)
		LOG_ERROR(&at->log, "cannot remove the route %s/32: %s", addr4_str(hoa, a),
			  strerror(-rc));
	rc = ha_neigh_proxy_del(at->home_ifindex, hoa);
	if (rc < 0 && rc != -ENOENT)
		LOG_ERROR(&at->log, "cannot remove the proxy ARP entry for %s: %s",
			  addr4_str(hoa, a), strerror(-rc));
}

void ha_attract_free(struct ha_attract *at)
{
	GHashTableIter it;
	gpointer key;

	if (!at)
		return;
	g_hash_table_iter_init(&it, at->installed);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		struct in_addr hoa = { htonl(GPOINTER_TO_UINT(key)) };

		uninstall(at, hoa);
	}
	g_hash_table_destroy(at->installed);
	if (at->timer)
		g_source_remove(at->timer);
	g_array_free(at->jobs, TRUE);
	g_hash_table_destroy(at->job_for);
	if (at->garp_fd >= 0)
		close(at->garp_fd);
	g_free(at);
}

struct sweep_ctx {
	const struct ha_attract *at;
	struct in_addr net;
	unsigned plen;
	GArray *stale;
};

static void sweep_one(void *user, struct in_addr a)
{
	struct sweep_ctx *c = user;

	if (prefix4_contains(c->net, c->plen, a) &&
	    !g_hash_table_contains(c->at->installed, GUINT_TO_POINTER(ntohl(a.s_addr))))
		g_array_append_val(c->stale, a);
}

int ha_attract_sweep(struct ha_attract *at, struct in_addr net, unsigned plen)
{
	struct sweep_ctx c = { .at = at, .net = net, .plen = plen };
	char a[ADDR4_STRLEN];
	int rc, n = 0;

	if (!at)
		return -EINVAL;
	c.stale = g_array_new(FALSE, FALSE, sizeof(struct in_addr));
	rc = ha_neigh_proxy_list(at->home_ifindex, sweep_one, &c);
	if (rc < 0) {
		LOG_WARNING(&at->log, "cannot list the proxy ARP entries: %s", strerror(-rc));
		g_array_free(c.stale, TRUE);
		return rc;
	}
	for (guint i = 0; i < c.stale->len; i++) {
		struct in_addr x = g_array_index(c.stale, struct in_addr, i);

		if (ha_neigh_proxy_del(at->home_ifindex, x) == 0) {
			LOG_NOTICE(&at->log, "removed the stale proxy ARP entry for %s (no binding)",
				   addr4_str(x, a));
			n++;
		}
	}
	g_array_free(c.stale, TRUE);
	return n;
}

unsigned ha_attract_count(const struct ha_attract *at)
{
	return at ? g_hash_table_size(at->installed) : 0;
}

int ha_attract_add(struct ha_attract *at, struct in_addr hoa, bool announce_it)
{
	gpointer key = GUINT_TO_POINTER(ntohl(hoa.s_addr));
	struct in_addr any = { 0 };
	struct mn_mac *mm;
	char a[ADDR4_STRLEN], m[18];
	int rc, ret = 0;

	if (!at || hoa.s_addr == 0)
		return -EINVAL;
	mm = g_hash_table_lookup(at->installed, key);
	/* A renewal (same binding, no announcement): the proxy entry and the route we put
	 * there are still there (only we remove them), so no netlink round trips, which
	 * would cost more than the whole registration. After a failure they are tried
	 * again. */
	if (mm && mm->in_place && !announce_it)
		return 0;
	if (!mm) {
		mm = g_new0(struct mn_mac, 1);
		/* While it was at home the mobile node answered ARP itself: remember its MAC
		 * for the gratuitous ARP on its behalf when it comes back (§4.6). */
		if (ha_neigh_lookup(at->home_ifindex, hoa, mm->mac) == 0 &&
		    memcmp(mm->mac, at->ha_mac, HA_MAC_LEN) != 0)
			mm->known = true;
		g_hash_table_insert(at->installed, key, mm);
	}
	rc = ha_neigh_proxy_add(at->home_ifindex, hoa);
	if (rc < 0) {
		LOG_ERROR(&at->log, "cannot add the proxy ARP entry for %s: %s", addr4_str(hoa, a),
			  strerror(-rc));
		ret = rc;
	}
	rc = nl_route4_add(hoa, 32, any, at->tun_ifindex, 0, 0);
	if (rc < 0 && rc != -EEXIST) {
		LOG_ERROR(&at->log, "cannot add the route %s/32 into the tunnel: %s",
			  addr4_str(hoa, a), strerror(-rc));
		ret = rc;
	}
	mm->in_place = ret == 0;
	if (announce_it)
		announce(at, hoa, at->ha_mac);
	LOG_INFO(&at->log, "attracting %s: proxy ARP, route into the tunnel%s%s%s",
		 addr4_str(hoa, a), announce_it ? ", gratuitous ARP" : "",
		 mm->known ? "; its own MAC was " : "", mm->known ? mac_str(mm->mac, m) : "");
	return ret;
}

int ha_attract_del(struct ha_attract *at, struct in_addr hoa)
{
	gpointer key = GUINT_TO_POINTER(ntohl(hoa.s_addr));
	struct mn_mac *mm;
	uint8_t mac[HA_MAC_LEN];
	bool known = false;
	char a[ADDR4_STRLEN], m[18];

	if (!at || hoa.s_addr == 0)
		return -EINVAL;
	uninstall(at, hoa);
	/* Cancel our own announcements still pending for it. */
	cancel_job(at, hoa);
	/* The mobile node's MAC: fresh from the neighbour table (it announced itself when it
	 * came home), else what we remembered when it left. */
	if (ha_neigh_lookup(at->home_ifindex, hoa, mac) == 0 &&
	    memcmp(mac, at->ha_mac, HA_MAC_LEN) != 0) {
		known = true;
	} else {
		mm = g_hash_table_lookup(at->installed, key);
		if (mm && mm->known) {
			memcpy(mac, mm->mac, HA_MAC_LEN);
			known = true;
		}
	}
	g_hash_table_remove(at->installed, key);
	if (known)
		announce(at, hoa, mac);
	LOG_INFO(&at->log, "released %s: proxy ARP and route removed%s%s", addr4_str(hoa, a),
		 known ? ", gratuitous ARP for its own MAC " : " (its MAC is unknown: no "
		 "gratuitous ARP)", known ? mac_str(mac, m) : "");
	return 0;
}
