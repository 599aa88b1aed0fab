/* mnd's VPN client (see vpn.h): the IKEv2 initiator (ike/engine.h) with the shared ESP data
 * path (daemon/espdp.h).
 *
 * Once a second, while no IKE SA is up or being set up and the backoff allows, the first
 * configured interface that has an IPv4 address and a route to the gateway is taken: UDP
 * 500 and 4500 sockets are bound to that address and, with SO_BINDTODEVICE, to the device,
 * so IKE and ESP never go into our own tunnel whatever the routes say; the IKE SA is
 * initiated from there (RFC 7296 1.2). SA_UP brings the TIA (CFG_REPLY, 3.15) onto the TUN
 * and the intranet prefixes into it (main table; the configuration refuses an intranet that
 * contains the gateway). Liveness is the engine's (2.4: DPD, retransmissions); SA_DOWN,
 * whatever the reason, removes TIA and routes and schedules a new attempt: 1 s, doubling up
 * to 60 s, back to 1 s once an SA is established. DNS servers received are only logged.
 * The state goes to a JSON status file of its own (state, gateway, TIA, SPIs).
 *
 * MOBIKE (RFC 4555; [vpn] mobike = yes, the default). The sockets are opened on 0.0.0.0
 * instead, and every datagram goes from the address the engine chose through the interface
 * that holds it (daemon/ikeloop.h: IP_PKTINFO with the interface index, so still never into
 * a tunnel). On every change of the interfaces (every netlink batch attach.c reads calls
 * mnd_vpn_links_changed(): no polling, no second monitor; the 1-second tick as well) the
 * usable addresses (interface up with carrier, an IPv4 address, a route to the gateway),
 * in the order of `interfaces`, go to the engine (ike_engine_set_local_addresses, the pairs
 * it tests, 3.10), and:
 *	- the preferred one is not the SA's: UPDATE_SA_ADDRESSES to it (ike_engine_update_
 *	  addresses, 3.5), also when the old interface stays up (preference);
 *	- the SA's interface lost its carrier but kept its address (the link died without a
 *	  word): the path failed, the engine tests every pair (ike_engine_probe_paths, 3.10);
 *	- no usable address: the SA is deferred (nothing is sent) until one appears;
 *	- the gateway did not send MOBIKE_SUPPORTED (-EOPNOTSUPP): as before, the SA is deleted
 *	  and a new one set up from the new address.
 * SA_MOVED: NAT keepalives to the new pair only (RFC 4621 5.2.6), the status file gets the
 * move (old and new pair, NAT, time taken) and the count. Never a new IKE_SA_INIT for a move
 * MOBIKE can do.
 *
 * The engine, its sockets, timers and actions run in daemon/ikeloop.h (shared with vpngw);
 * this file adds the path choice, the state, routes, backoff and status, and its log lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/netlink.h"
#include "common/sock.h"
#include "daemon/atomic_file.h"
#include "daemon/espdp.h"
#include "daemon/ikeloop.h"
#include "daemon/json.h"
#include "daemon/proposals.h"
#include "esp/udpencap.h"
#include "mnd/mnd.h"
#include "mnd/rtnl.h"
#include "mnd/vpn.h"
#include "vpngw/ident.h"

#define IKE_PORT 500
#define RX_SLOTS 8                      /* UDP 500: one recvmmsg of at most 8 per wake-up */
#define TICK_MS 1000
#define SHUTDOWN_WAIT_MS 1000
#define NAT_KEEPALIVE_S 20              /* RFC 3948 4 */
/* Retransmissions 1, 2, 4, 8 s apart (RFC 7296 2.4): an unreachable gateway is declared
 * dead about 15 s after the liveness check or request it did not answer. */
#define RETRANSMIT_TRIES 4

enum vpn_state { VPN_IDLE, VPN_CONNECTING, VPN_UP };
static const char *const state_names[] = { "idle", "connecting", "up" };

struct mnd_vpn {
	struct mnd *m;
	const struct mnd_vpn_config *cfg;
	struct logger log;
	struct ikeloop *il;              /* the engine; UDP 500, 4500 and the data path */
	enum vpn_state state;
	uint64_t spi_i, spi_r;           /* the IKE SA in use (spi_i: the engine's handle) */
	struct ike_sa_info sa;           /* as of its SA_UP */
	mm_time_ns retry_at;
	unsigned backoff_s;
	unsigned attempts, established_count;
	mm_time_ns started_at, up_at, next_keepalive;
	/* the path (ikeloop_path_open) */
	char ifname[IFNAMSIZ];
	struct in_addr local;
	/* the TUN */
	int tun_fd, tun_ifindex;
	char tun_name[IFNAMSIZ];
	struct in_addr tia;              /* on the TUN; 0 when none */
	bool routes;
	guint tick;
	guint close_idle;                /* closing the path, deferred out of espdp's loop */
	/* MOBIKE (RFC 4555) */
	bool unbound;                    /* the path is on 0.0.0.0 (mobike = yes) */
	struct in_addr addrs[IKE_MOBIKE_MAX_ADDRS];   /* given to the engine, preferred first */
	size_t naddrs;
	struct in_addr ordered;          /* the last move ordered, not answered yet (0: none) */
	bool deferred;                   /* no usable address: the SA sends nothing */
	bool probing;                    /* the path failed: the engine tests pairs */
	uint32_t moves;
	/* the trust race (mode.c): since the last attachment change */
	bool answered;                   /* SA_UP, or a move done */
	bool failed;                     /* an attempt or a move failed */
	bool unwanted;                   /* trusted with keep-vpn = no: no SA until the next
	                                  * attachment change */
	struct ike_move_info last_move;  /* .took; sa.local/remote: the new pair */
	mm_time_ns last_move_at;         /* 0: never */
};

/* A usable local address: on a configured interface with carrier and a route to the
 * gateway. */
struct vpn_path {
	char ifname[IFNAMSIZ];
	struct in_addr addr;
};

static mm_time_ns now_ns(void)
{
	return clock_now(clock_monotonic());
}

/* --- status file --------------------------------------------------------------------- */

static void kv_ep(struct json *j, const char *key, const struct ike_endpoint *ep)
{
	char a[ADDR4_STRLEN], buf[ADDR4_STRLEN + 8];

	snprintf(buf, sizeof(buf), "%s:%u", addr4_str(ep->addr, a), ep->port);
	json_kv_string(j, key, buf);
}

static const char *nat_word(bool local, bool remote)
{
	return local ? (remote ? "both" : "local") : (remote ? "remote" : "none");
}

/* The last MOBIKE move: "last_move":{"old_local":..,"old_remote":..,"new_local":..,
 * "new_remote":..,"old_nat":"none","nat":"local","took_ms":"12.345","at_monotonic_ms":..}
 * or null. */
static void status_move(struct json *j, const struct mnd_vpn *v)
{
	const struct ike_move_info *m = &v->last_move;
	char took[32];

	if (!v->last_move_at) {
		json_kv_null(j, "last_move");
		return;
	}
	json_key(j, "last_move");
	json_begin_object(j);
	kv_ep(j, "old_local", &m->old_local);
	kv_ep(j, "old_remote", &m->old_remote);
	kv_ep(j, "new_local", &m->sa.local);
	kv_ep(j, "new_remote", &m->sa.remote);
	json_kv_string(j, "old_nat", nat_word(m->old_nat_local, m->old_nat_remote));
	json_kv_string(j, "nat", nat_word(m->sa.nat_local, m->sa.nat_remote));
	snprintf(took, sizeof(took), "%llu.%03llu", (unsigned long long)(m->took / MM_MSEC(1)),
		 (unsigned long long)(m->took / 1000 % 1000));
	json_kv_string(j, "took_ms", took);
	json_kv_uint(j, "at_monotonic_ms", v->last_move_at / MM_MSEC(1));
	json_end_object(j);
}

static void status_write(struct mnd_vpn *v)
{
	char spi[20];
	struct json j;
	char *text;
	size_t cursor = 0;
	struct espdp_child c;
	struct espdp *dp = ikeloop_dp(v->il);
	int rc;

	if (!v->cfg->status_file)
		return;
	json_init(&j);
	json_begin_object(&j);
	json_kv_string(&j, "state", state_names[v->state]);
	json_kv_addr4(&j, "gateway", v->cfg->gateway);
	json_kv_string(&j, "interface", v->state != VPN_IDLE ? v->ifname : NULL);
	if (v->state != VPN_IDLE)
		json_kv_addr4(&j, "local_address", v->local);
	else
		json_kv_null(&j, "local_address");
	json_kv_addr4_or_null(&j, "tia", v->tia);
	json_kv_addr4_array(&j, "dns", v->sa.dns, v->state != VPN_UP ? 0 :
			    MIN(v->sa.ndns, G_N_ELEMENTS(v->sa.dns)));
	if (v->state == VPN_UP) {
		snprintf(spi, sizeof(spi), "%016llx", (unsigned long long)v->spi_i);
		json_kv_string(&j, "ike_spi_i", spi);
		snprintf(spi, sizeof(spi), "%016llx", (unsigned long long)v->spi_r);
		json_kv_string(&j, "ike_spi_r", spi);
		json_kv_bool(&j, "nat_local", v->sa.nat_local);
		json_kv_uint(&j, "up_at_monotonic_ms", v->up_at / MM_MSEC(1));
		json_kv_uint(&j, "setup_ms", (v->up_at - v->started_at) / MM_MSEC(1));
		json_kv_bool(&j, "mobike", v->sa.mobike);
		json_kv_bool(&j, "deferred", v->deferred);
		json_kv_bool(&j, "probing", v->probing);
		status_move(&j, v);
	}
	json_kv_uint(&j, "moves", v->moves);
	json_key(&j, "children");
	json_begin_array(&j);
	while (dp && espdp_next_child(dp, &cursor, &c)) {
		json_begin_object(&j);
		snprintf(spi, sizeof(spi), "%08x", c.spi_in);
		json_kv_string(&j, "spi_in", spi);
		snprintf(spi, sizeof(spi), "%08x", c.spi_out);
		json_kv_string(&j, "spi_out", spi);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_kv_uint(&j, "attempts", v->attempts);
	json_kv_uint(&j, "established", v->established_count);
	json_kv_uint(&j, "backoff_s", v->backoff_s);
	json_kv_string(&j, "tunnel_device", v->tun_name);
	json_kv_int(&j, "pid", (int64_t)getpid());
	json_end_object(&j);
	text = json_finish(&j);
	if (!text)
		return;
	rc = atomic_publish_file(v->cfg->status_file, text, strlen(text));
	if (rc < 0)
		LOG_WARNING(&v->log, "cannot write the status file %s: %s", v->cfg->status_file,
			    strerror(-rc));
	g_free(text);
}

/* --- addresses and routes ------------------------------------------------------------ */

static const struct in_addr any4 = { 0 };

static void routes_set(struct mnd_vpn *v, bool on)
{
	char a[ADDR4_STRLEN];
	int rc;

	if (on && v->sa.inner_addr.s_addr && !v->tia.s_addr) {
		rc = nl_addr4_add(v->tun_ifindex, v->sa.inner_addr, 32);
		if (rc < 0 && rc != -EEXIST) {
			LOG_ERROR(&v->log, "cannot put the inner address %s on %s: %s",
				  addr4_str(v->sa.inner_addr, a), v->tun_name, strerror(-rc));
			return;
		}
		v->tia = v->sa.inner_addr;
	}
	if (on && !v->routes) {
		/* The TIA is the TUN's only address: the kernel picks it as source. */
		for (size_t i = 0; i < v->cfg->nintranet; i++) {
			rc = nl_route4_add(v->cfg->intranet[i], v->cfg->intranet_plen[i], any4,
					   v->tun_ifindex, 0, 0);
			if (rc < 0 && rc != -EEXIST)
				LOG_ERROR(&v->log, "cannot route %s/%u into %s: %s",
					  addr4_str(v->cfg->intranet[i], a),
					  v->cfg->intranet_plen[i], v->tun_name, strerror(-rc));
		}
		v->routes = true;
	}
	if (!on && v->routes) {
		for (size_t i = 0; i < v->cfg->nintranet; i++)
			nl_route4_del(v->cfg->intranet[i], v->cfg->intranet_plen[i], any4,
				      v->tun_ifindex, 0, 0);
		v->routes = false;
	}
	if (!on && v->tia.s_addr) {
		nl_addr4_del(v->tun_ifindex, v->tia, 32);
		v->tia.s_addr = 0;
	}
}

/* --- the path: sockets and data path on one interface -------------------------------- */

static int path_open(struct mnd_vpn *v, const char *ifname, struct in_addr local)
{
	char a[ADDR4_STRLEN];
	int rc;

	/* Bound to the device: IKE and ESP never go into our own tunnel. With MOBIKE the
	 * address changes under the SA: on 0.0.0.0, each datagram sent through the interface
	 * of its source address (ikeloop.h). */
	if (v->unbound)
		rc = ikeloop_path_open(v->il, any4, NULL, NULL);
	else
		rc = ikeloop_path_open(v->il, local, ifname, NULL);
	if (rc < 0) {
		LOG_ERROR(&v->log, "cannot open the IKE sockets on %s:%d/%d (%s): %s",
			  addr4_str(v->unbound ? any4 : local, a), IKE_PORT, UDPENCAP_PORT,
			  v->unbound ? "any interface" : ifname, strerror(-rc));
		return rc;
	}
	snprintf(v->ifname, sizeof(v->ifname), "%s", ifname);
	v->local = local;
	return 0;
}

/* --- state changes ------------------------------------------------------------------- */

/* SA_DOWN can come from inside espdp_udp_readable (IKE on 4500): the data path is freed
 * once that loop has returned. */
static gboolean on_close_idle(gpointer user)
{
	struct mnd_vpn *v = user;

	v->close_idle = 0;
	if (v->state == VPN_IDLE)
		ikeloop_path_close(v->il);
	return G_SOURCE_REMOVE;
}

static void went_down(struct mnd_vpn *v, const char *reason)
{
	char a[ADDR4_STRLEN];
	mm_time_ns now = now_ns();

	routes_set(v, false);
	if (!v->close_idle)
		v->close_idle = g_idle_add(on_close_idle, v);
	v->state = VPN_IDLE;
	v->spi_i = v->spi_r = 0;
	v->retry_at = now + MM_SEC(v->backoff_s);
	if (v->m->stopping)
		LOG_NOTICE(&v->log, "VPN to %s down: %s", addr4_str(v->cfg->gateway, a), reason);
	else
		LOG_NOTICE(&v->log, "VPN to %s down: %s; next attempt in %u s",
			   addr4_str(v->cfg->gateway, a), reason, v->backoff_s);
	v->backoff_s = v->backoff_s * 2 > MND_VPN_BACKOFF_MAX_S ? MND_VPN_BACKOFF_MAX_S :
		v->backoff_s * 2;
	v->answered = false;
	v->failed = true;
	status_write(v);
	if (!v->m->stopping)
		mnd_mode_vpn_changed(v->m);
}

/* SA_UP; for an IKE SA rekey its Child SAs have moved already (ikeloop.h). */
static void sa_up(void *user, const struct ike_sa_info *sa)
{
	struct mnd_vpn *v = user;
	char a[ADDR4_STRLEN], d[2][ADDR4_STRLEN], id[256], suite[96];

	if (sa->replaces_spi_i || sa->replaces_spi_r) {
		if (sa->replaces_spi_i == v->spi_i && sa->replaces_spi_r == v->spi_r) {
			v->spi_i = sa->spi_i;
			v->spi_r = sa->spi_r;
			v->sa.spi_i = sa->spi_i;
			v->sa.spi_r = sa->spi_r;
		}
		status_write(v);
		return;
	}
	v->sa = *sa;
	v->spi_i = sa->spi_i;
	v->spi_r = sa->spi_r;
	v->state = VPN_UP;
	v->up_at = now_ns();
	v->next_keepalive = v->up_at + MM_SEC(NAT_KEEPALIVE_S);
	v->backoff_s = MND_VPN_BACKOFF_MIN_S;
	v->established_count++;
	if (!sa->inner_addr.s_addr)
		LOG_WARNING(&v->log, "the gateway assigned no inner address (CFG_REPLY without "
			    "INTERNAL_IP4_ADDRESS): nothing to route");
	routes_set(v, true);
	LOG_NOTICE(&v->log, "VPN up: gateway %s (%s)%s via %s, inner address %s, SPIs "
		   "%016llx_i %016llx_r, %s, set up in %llu ms",
		   addr4_str(sa->remote.addr, a), ident_str(&sa->peer_id, id, sizeof(id)),
		   sa->nat_local ? " behind a NAT" : "", v->ifname,
		   addr4_str(sa->inner_addr, d[0]), (unsigned long long)sa->spi_i,
		   (unsigned long long)sa->spi_r,
		   proposals_format(&sa->suite, IKE_SUITE_IKE, suite, sizeof(suite)),
		   (unsigned long long)((v->up_at - v->started_at) / MM_MSEC(1)));
	/* DNS: logged only (no resolver configuration yet). */
	if (sa->ndns)
		LOG_INFO(&v->log, "DNS servers offered: %s%s%s", addr4_str(sa->dns[0], d[0]),
			 sa->ndns > 1 ? ", " : "", sa->ndns > 1 ? addr4_str(sa->dns[1], d[1]) : "");
	v->answered = true;
	v->failed = false;
	status_write(v);
	mnd_mode_vpn_changed(v->m);
}

/* SA_DOWN; ikeloop removed the Child SAs it left. */
static void sa_down(void *user, const struct ike_sa_info *sa, const char *reason, size_t left)
{
	struct mnd_vpn *v = user;

	(void)left;
	/* The old SA of an IKE SA rekey, or one we no longer use. */
	if (v->state == VPN_IDLE || (sa->spi_i != v->spi_i && v->spi_i != 0) ||
	    (v->state == VPN_UP && sa->spi_r != v->spi_r)) {
		LOG_INFO(&v->log, "IKE SA %016llx_i %016llx_r gone: %s",
			 (unsigned long long)sa->spi_i, (unsigned long long)sa->spi_r, reason);
		return;
	}
	went_down(v, reason);
}

/* CHILD_UP, installed (ikeloop.h). */
static void child_up(void *user, const struct ike_child_info *c)
{
	struct mnd_vpn *v = user;
	char suite[96];

	LOG_INFO(&v->log, "Child SA %08x_i %08x_o up: %s%s%s", c->spi_in, c->spi_out,
		 proposals_format(&c->suite, IKE_SUITE_ESP, suite, sizeof(suite)),
		 c->udp_encap ? ", UDP-encapsulated" : "",
		 c->replaces_spi_in ? ", replacing an older SA" : "");
	status_write(v);
}

/* CHILD_DOWN, removed and logged (ikeloop.h). */
static void child_down(void *user, const struct ike_child_info *c)
{
	(void)c;
	status_write(user);
}

/* The usable paths, in the order of `interfaces` (the preference, issue "MOBIKE" 2): a
 * configured interface that is up, with its carrier (IFF_RUNNING: a link that died shows
 * here), an IPv4 address and a route to the gateway (a socket bound to a device sends to
 * an address without a route "on link": location.h). The first address of each. */
static size_t collect_paths(struct mnd_vpn *v, struct vpn_path *out, size_t max)
{
	struct mnd_ifaces want;
	struct ifaddrs *ifa = NULL;
	size_t n = 0;

	if (mnd_ifaces_init(&want, v->cfg->interfaces) < 0 || getifaddrs(&ifa) < 0)
		return 0;
	for (unsigned i = 0; i < want.count && n < max; i++) {
		int idx = nl_link_index(want.iface[i].name);

		if (idx <= 0 || mnd_route_reaches(idx, v->cfg->gateway) != 1)
			continue;
		for (struct ifaddrs *p = ifa; p; p = p->ifa_next) {
			if (!p->ifa_addr || p->ifa_addr->sa_family != AF_INET ||
			    strcmp(p->ifa_name, want.iface[i].name) != 0 ||
			    !(p->ifa_flags & IFF_UP) || !(p->ifa_flags & IFF_RUNNING))
				continue;
			memcpy(&out[n].addr,
			       &((const struct sockaddr_in *)(const void *)p->ifa_addr)->sin_addr,
			       sizeof(out[n].addr));
			snprintf(out[n].ifname, IFNAMSIZ, "%s", want.iface[i].name);
			n++;
			break;
		}
	}
	freeifaddrs(ifa);
	return n;
}

/* The interface holding addr ("" when none). */
static void addr_ifname(struct in_addr addr, char ifname[IFNAMSIZ])
{
	int idx = ikeloop_addr_ifindex(addr);

	ifname[0] = '\0';
	if (idx <= 0 || !if_indextoname((unsigned)idx, ifname))
		ifname[0] = '\0';
}

/* Does ifname still hold addr? */
static bool still_there(const char *ifname, struct in_addr addr)
{
	struct ifaddrs *ifa = NULL;
	bool found = false;

	if (getifaddrs(&ifa) < 0)
		return true;             /* cannot tell: keep what works */
	for (struct ifaddrs *p = ifa; p && !found; p = p->ifa_next) {
		struct in_addr a;

		if (!p->ifa_addr || p->ifa_addr->sa_family != AF_INET ||
		    strcmp(p->ifa_name, ifname) != 0)
			continue;
		memcpy(&a, &((const struct sockaddr_in *)(const void *)p->ifa_addr)->sin_addr,
		       sizeof(a));
		found = a.s_addr == addr.s_addr;
	}
	freeifaddrs(ifa);
	return found;
}

/* Our address went (a move, DHCP) and MOBIKE is off or the gateway has none (RFC 4555 2):
 * the SA cannot survive, so it is deleted (the DELETE may not get out) and a new one
 * started from wherever we are now, without waiting for the liveness check to fail. */
static void check_address(struct mnd_vpn *v)
{
	char a[ADDR4_STRLEN];
	uint64_t spi = v->spi_i;

	if (v->state == VPN_IDLE || v->close_idle || still_there(v->ifname, v->local))
		return;
	LOG_NOTICE(&v->log, "address %s gone from %s", addr4_str(v->local, a), v->ifname);
	v->backoff_s = MND_VPN_BACKOFF_MIN_S;
	went_down(v, "local address gone");
	v->retry_at = 0;
	if (spi && ike_engine_delete(ikeloop_engine(v->il), spi, now_ns(),
				     ikeloop_actions(v->il)) == 0)
		ikeloop_apply(v->il);
}

/* MOBIKE: the engine's local address set (3.10: the pairs it tests), when it changed. */
static void give_addresses(struct mnd_vpn *v, const struct vpn_path *p, size_t n)
{
	struct in_addr a[IKE_MOBIKE_MAX_ADDRS];

	for (size_t i = 0; i < n; i++)
		a[i] = p[i].addr;
	if (n == v->naddrs && !memcmp(a, v->addrs, n * sizeof(a[0])))
		return;
	memcpy(v->addrs, a, n * sizeof(a[0]));
	v->naddrs = n;
	if (ike_engine_set_local_addresses(ikeloop_engine(v->il), a, n, now_ns(),
					   ikeloop_actions(v->il)) == 0)
		ikeloop_apply(v->il);
}

/* MOBIKE (see the top): follow the preferred usable address, probe on a silent failure,
 * defer without any. Returns false when the gateway has no MOBIKE (re-establish). */
static bool mobike_follow(struct mnd_vpn *v, const struct vpn_path *p, size_t n)
{
	struct ike_engine *e = ikeloop_engine(v->il);
	struct ike_actions *acts = ikeloop_actions(v->il);
	struct ike_endpoint local;
	struct in_addr cur = v->ordered.s_addr ? v->ordered : v->sa.local.addr;
	char a[ADDR4_STRLEN], b[ADDR4_STRLEN];
	bool cur_usable = false;
	mm_time_ns now = now_ns();
	int rc;

	for (size_t i = 0; i < n; i++)
		cur_usable |= p[i].addr.s_addr == v->sa.local.addr.s_addr;
	/* The SA's own address, while it is still there (a link that died may come back),
	 * stays in the set, last: the engine tests it after the others (3.10) and, with it,
	 * knows the other pairs are the alternatives. */
	if (n && !cur_usable && n < IKE_MOBIKE_MAX_ADDRS &&
	    still_there(v->ifname, v->sa.local.addr)) {
		struct vpn_path q[IKE_MOBIKE_MAX_ADDRS];

		memcpy(q, p, n * sizeof(q[0]));
		snprintf(q[n].ifname, sizeof(q[n].ifname), "%s", v->ifname);
		q[n].addr = v->sa.local.addr;
		give_addresses(v, q, n + 1);
	} else {
		give_addresses(v, p, n);
	}
	if (n == 0) {
		if (v->deferred)
			return true;
		rc = ike_engine_update_addresses(e, v->spi_i, NULL, NULL, now, acts);
		if (rc == -EOPNOTSUPP)
			return false;
		if (rc == 0) {
			v->deferred = true;
			v->ordered.s_addr = 0;
			LOG_NOTICE(&v->log, "MOBIKE: no usable address on %s: the IKE SA waits",
				   v->cfg->interfaces);
			ikeloop_apply(v->il);
			status_write(v);
		}
		return true;
	}
	if (!v->deferred && p[0].addr.s_addr == cur.s_addr)
		return true;
	/* The SA's address is still there but its interface lost the carrier (the link died
	 * without a word): the path failed; the engine tests every pair and takes the first
	 * that answers (3.10). */
	if (!v->deferred && !v->ordered.s_addr && !cur_usable && !v->probing &&
	    still_there(v->ifname, v->sa.local.addr)) {
		rc = ike_engine_probe_paths(e, v->spi_i, now, acts);
		if (rc == -EOPNOTSUPP)
			return false;
		if (rc == 0) {
			v->probing = true;
			LOG_NOTICE(&v->log, "MOBIKE: %s lost its link: testing paths from %zu "
				   "address%s", v->ifname, n, n == 1 ? "" : "es");
			ikeloop_apply(v->il);
			status_write(v);
			return true;
		}
	}
	if (v->probing && !cur_usable && still_there(v->ifname, v->sa.local.addr))
		return true;            /* the path test decides */
	local.addr = p[0].addr;
	local.port = UDPENCAP_PORT;
	rc = ike_engine_update_addresses(e, v->spi_i, &local, NULL, now, acts);
	if (rc == -EOPNOTSUPP)
		return false;
	if (rc == 0 || rc == -EALREADY) {
		if (rc == 0)
			LOG_INFO(&v->log, "MOBIKE: moving from %s to %s (%s)%s",
				 addr4_str(v->sa.local.addr, a), addr4_str(p[0].addr, b),
				 p[0].ifname, v->deferred ? ", resuming" : "");
		v->ordered = rc == 0 ? p[0].addr : any4;
		v->deferred = false;
		ikeloop_apply(v->il);
		status_write(v);
	} else if (rc != -EAGAIN) {
		LOG_WARNING(&v->log, "MOBIKE: cannot move to %s: %s", addr4_str(p[0].addr, a),
			    strerror(-rc));
	}
	return true;
}

/* A change of the interfaces or routes (netlink table, tick). */
static void evaluate(struct mnd_vpn *v)
{
	struct vpn_path p[IKE_MOBIKE_MAX_ADDRS];
	size_t n;

	if (v->state != VPN_UP || v->close_idle)
		return;
	if (!v->unbound || !v->sa.mobike) {
		check_address(v);
		return;
	}
	n = collect_paths(v, p, G_N_ELEMENTS(p));
	if (!mobike_follow(v, p, n)) {
		/* The gateway has no MOBIKE after all (RFC 4555 2: both must send
		 * MOBIKE_SUPPORTED): re-establish as without it. */
		check_address(v);
	}
}

/* The engine builds an UPDATE_SA_ADDRESSES: how far we received on each Child SA, so that
 * our own gateway sends again only what we missed (ike_engine_ops.esp_received). */
static size_t esp_received(void *user, uint64_t spi_i, struct ike_esp_received *out,
			   size_t max)
{
	struct mnd_vpn *v = user;

	return v->il ? espdp_ike_received(ikeloop_dp(v->il), spi_i, out, max) : 0;
}

/* MOBIKE actions (ikeloop moved the data path and the engine logged the move). */
static void on_action(void *user, const struct ike_actions *a, const struct ike_action *act)
{
	struct mnd_vpn *v = user;
	const struct ike_move_info *mv = &act->u.move;

	(void)a;
	switch (act->kind) {
	case IKE_ACT_SA_MOVED:
		if (mv->sa.spi_i != v->spi_i)
			return;
		v->sa.local = mv->sa.local;
		v->sa.remote = mv->sa.remote;
		v->sa.nat_local = mv->sa.nat_local;
		v->sa.nat_remote = mv->sa.nat_remote;
		v->local = mv->sa.local.addr;
		addr_ifname(v->local, v->ifname);
		v->last_move = *mv;
		v->last_move_at = now_ns();
		v->moves++;
		v->ordered.s_addr = 0;
		v->probing = false;
		v->deferred = false;
		/* RFC 3948 4 / RFC 4621 5.2.6: keepalives on the new pair, from now. */
		v->next_keepalive = v->last_move_at + MM_SEC(NAT_KEEPALIVE_S);
		v->answered = true;
		v->failed = false;
		status_write(v);
		mnd_mode_vpn_changed(v->m);
		break;
	case IKE_ACT_PEER_ALIVE:
		if (act->u.sa.spi_i != v->spi_i || v->state != VPN_UP || v->answered)
			return;
		v->answered = true;
		v->failed = false;
		mnd_mode_vpn_changed(v->m);
		break;
	case IKE_ACT_MOVE_FAILED:
		if (mv->sa.spi_i != v->spi_i)
			return;
		v->ordered.s_addr = 0;
		v->probing = false;
		v->failed = true;
		status_write(v);
		mnd_mode_vpn_changed(v->m);
		break;
	default:
		break;
	}
}

static void try_connect(struct mnd_vpn *v, mm_time_ns now)
{
	struct ike_endpoint local, remote;
	char ifname[IFNAMSIZ], a[ADDR4_STRLEN], g[ADDR4_STRLEN];
	struct vpn_path p[IKE_MOBIKE_MAX_ADDRS];
	struct in_addr addr;
	uint64_t spi = 0;
	size_t n;
	int rc;

	n = collect_paths(v, p, G_N_ELEMENTS(p));
	if (n == 0)
		return;
	snprintf(ifname, sizeof(ifname), "%s", p[0].ifname);
	addr = p[0].addr;
	if (path_open(v, ifname, addr) < 0) {
		v->retry_at = now + MM_SEC(v->backoff_s);
		return;
	}
	local.addr = addr;
	local.port = IKE_PORT;
	remote.addr = v->cfg->gateway;
	remote.port = IKE_PORT;
	v->attempts++;
	v->started_at = now;
	/* MOBIKE: the addresses the engine may test paths from (set before the SA_INIT: the
	 * call empties the action buffer). */
	if (v->unbound) {
		v->naddrs = 0;
		give_addresses(v, p, n);
	}
	rc = ike_engine_initiate(ikeloop_engine(v->il), 0, &local, &remote, now, &spi,
				 ikeloop_actions(v->il));
	if (rc < 0) {
		LOG_ERROR(&v->log, "cannot initiate an IKE SA: %s", strerror(-rc));
		ikeloop_path_close(v->il);
		v->retry_at = now + MM_SEC(v->backoff_s);
		return;
	}
	v->state = VPN_CONNECTING;
	v->spi_i = spi;
	v->spi_r = 0;
	v->ordered.s_addr = 0;
	v->deferred = v->probing = false;
	LOG_INFO(&v->log, "initiating an IKE SA with %s from %s (%s), attempt %u",
		 addr4_str(v->cfg->gateway, g), addr4_str(addr, a), ifname, v->attempts);
	ikeloop_apply(v->il);
	status_write(v);
}

static gboolean on_tick(gpointer user)
{
	struct mnd_vpn *v = user;
	mm_time_ns now = now_ns();

	ikeloop_poll(v->il, now);
	if (v->state == VPN_UP && v->sa.nat_local && now >= v->next_keepalive &&
	    ikeloop_dp(v->il)) {
		struct sockaddr_in to;

		memset(&to, 0, sizeof(to));
		to.sin_family = AF_INET;
		to.sin_addr = v->sa.remote.addr;
		to.sin_port = htons(v->sa.remote.port);
		v->next_keepalive = now + MM_SEC(NAT_KEEPALIVE_S);
		/* Only on the SA's current pair (RFC 4621 5.2.6), never on pairs under test. */
		espdp_send_keepalive_via(ikeloop_dp(v->il), &to, v->sa.local.addr,
					 v->unbound ? ikeloop_addr_ifindex(v->sa.local.addr) : 0);
	}
	evaluate(v);
	if (v->state == VPN_IDLE && now >= v->retry_at && !v->close_idle && !v->m->stopping &&
	    !v->unwanted)
		try_connect(v, now);
	ikeloop_schedule(v->il);
	return G_SOURCE_CONTINUE;
}

/* --- what attach.c and mode.c call ------------------------------------------------- */

/* Done with nothing pending: the SA is up on the preferred address already. */
static bool settled(const struct mnd_vpn *v)
{
	return v->state == VPN_UP && !v->ordered.s_addr && !v->deferred && !v->probing;
}

void mnd_vpn_links_changed(struct mnd *m)
{
	struct mnd_vpn *v = m->vpn;

	if (!v)
		return;
	evaluate(v);
	ikeloop_schedule(v->il);
}

/* Is addr one of the usable paths now? */
static bool path_usable(struct mnd_vpn *v, struct in_addr addr)
{
	struct vpn_path p[IKE_MOBIKE_MAX_ADDRS];
	size_t n = collect_paths(v, p, G_N_ELEMENTS(p));

	for (size_t i = 0; i < n; i++)
		if (p[i].addr.s_addr == addr.s_addr)
			return true;
	return false;
}

void mnd_vpn_attach_changed(struct mnd *m)
{
	struct mnd_vpn *v = m->vpn;
	mm_time_ns now = now_ns();

	if (!v || m->stopping)
		return;
	v->unwanted = false;             /* the race needs the gateway's answer (RFC 5266 3.4) */
	evaluate(v);
	/* An IKE SA still being set up from an address that is gone can never complete (its
	 * retransmissions would take 15 s to fail): forget it (nothing was authenticated, so
	 * there is nothing to tell the gateway) and start from the new address. */
	if (v->state == VPN_CONNECTING && v->spi_i && !path_usable(v, v->local)) {
		char a[ADDR4_STRLEN];

		LOG_NOTICE(&v->log, "the IKE SA being set up from %s lost its address: starting "
			   "again from the new one", addr4_str(v->local, a));
		if (ike_engine_delete(ikeloop_engine(v->il), v->spi_i, now,
				      ikeloop_actions(v->il)) == 0)
			ikeloop_apply(v->il);
	}
	v->failed = false;
	/* RFC 5266 3.4.2 step 1: no VPN connection: establish one from the new address now,
	 * not at the next tick or after the backoff. */
	if (v->state == VPN_IDLE && !v->close_idle) {
		v->backoff_s = MND_VPN_BACKOFF_MIN_S;
		try_connect(v, now);
	}
	/* The gateway's answer counts from now (RFC 5266 3.4: "If the mobile node receives a
	 * response from the VPN gateway"): a move ordered, or a new SA, must be answered; an SA
	 * on this address already gets a liveness check (RFC 7296 2.4), answered by
	 * IKE_ACT_PEER_ALIVE. */
	v->answered = false;
	if (settled(v) && ike_engine_dpd(ikeloop_engine(v->il), v->spi_i, now,
					 ikeloop_actions(v->il)) == 0)
		ikeloop_apply(v->il);
	ikeloop_schedule(v->il);
}

void mnd_vpn_set_wanted(struct mnd *m, bool wanted)
{
	struct mnd_vpn *v = m->vpn;

	if (!v || v->unwanted == !wanted)
		return;
	v->unwanted = !wanted;
	if (wanted || v->state == VPN_IDLE || !v->spi_i)
		return;
	/* RFC 5266 3.4.1 step 2: on a trusted network the mobile node "MAY tear down the VPN
	 * tunnel" (keep-vpn = no). */
	LOG_NOTICE(&v->log, "trusted network and keep-vpn = no: deleting the IKE SA");
	if (ike_engine_delete(ikeloop_engine(v->il), v->spi_i, now_ns(),
			      ikeloop_actions(v->il)) == 0)
		ikeloop_apply(v->il);
	ikeloop_schedule(v->il);
}

void mnd_vpn_view(const struct mnd *m, struct mnd_vpn_view *out)
{
	const struct mnd_vpn *v = m->vpn;

	memset(out, 0, sizeof(*out));
	if (!v)
		return;
	out->configured = true;
	out->up = v->state == VPN_UP && v->tia.s_addr != 0;
	out->answered = v->answered;
	out->failed = v->failed;
	out->tia = v->tia;
	out->gateway = v->state == VPN_UP ? v->sa.remote.addr : v->cfg->gateway;
	out->spi_i = v->spi_i;
	out->spi_r = v->spi_r;
	snprintf(out->tun_name, sizeof(out->tun_name), "%s", v->tun_name);
	out->tun_mtu = v->cfg->tunnel_mtu;
}

/* --- start and stop ------------------------------------------------------------------ */

int mnd_vpn_start(struct mnd *m)
{
	const struct mnd_vpn_config *c = &m->cfg.vpn;
	struct mnd_vpn *v;
	struct ike_engine_cfg ec;
	struct ikeloop_cfg lc;
	const char *what = "";
	char g[ADDR4_STRLEN], id[256];
	FILE *keylog = NULL;
	int rc;

	if (!c->enabled)
		return 0;
	v = g_new0(struct mnd_vpn, 1);
	m->vpn = v;
	v->m = m;
	v->cfg = c;
	v->tun_fd = -1;
	v->backoff_s = MND_VPN_BACKOFF_MIN_S;
	logger_init(&v->log, "mnd[vpn]");
	if (c->keylog_file && (rc = ikeloop_keylog_open(&v->log, m->cfg.path, MND_VPN_GROUP,
							c->keylog_file, &keylog)) < 0)
		return rc;
	v->tun_fd = espdp_open_tun(c->tunnel_device, c->tunnel_mtu, any4, NULL, 0, v->tun_name,
				   &v->tun_ifindex, &what);
	if (v->tun_fd < 0) {
		LOG_ERROR(&v->log, "%s: [%s] tunnel-device: %s %s: %s", m->cfg.path,
			  MND_VPN_GROUP, what, c->tunnel_device, strerror(-v->tun_fd));
		if (keylog)
			fclose(keylog);
		return v->tun_fd;
	}
	memset(&ec, 0, sizeof(ec));
	ec.default_role = IKE_ROLE_INITIATOR;
	ec.peers = &c->peer;
	ec.npeers = 1;
	ec.ops.user = v;
	ec.ops.esp_received = esp_received;
	ec.retransmit_base = MM_SEC(1);
	ec.retransmit_tries = RETRANSMIT_TRIES;
	ec.keylog = keylog != NULL;
	memset(&lc, 0, sizeof(lc));
	lc.engine = &ec;
	lc.log = &v->log;
	lc.tun_fd = v->tun_fd;
	lc.rx_slots = RX_SLOTS;
	lc.rx_rounds = 1;
	lc.keylog = keylog;
	lc.ops.user = v;
	lc.ops.sa_up = sa_up;
	lc.ops.sa_down = sa_down;
	lc.ops.child_up = child_up;
	lc.ops.child_down = child_down;
	lc.ops.action = on_action;
	if ((rc = ikeloop_new(&lc, &v->il)) < 0)
		return rc;
	v->unbound = c->peer.mobike;
	v->tick = g_timeout_add(TICK_MS, on_tick, v);
	LOG_NOTICE(&v->log, "VPN client: gateway %s (%s), interfaces %s, tunnel device %s, DPD "
		   "%u s, MOBIKE %s", addr4_str(c->gateway, g),
		   ident_str(&c->peer.remote_id, id, sizeof(id)), c->interfaces, v->tun_name,
		   c->peer.dpd_interval_s, c->peer.mobike ? "on" : "off");
	status_write(v);
	on_tick(v);
	return 0;
}

static bool is_idle(void *user)
{
	const struct mnd_vpn *v = user;

	return v->state == VPN_IDLE;
}

void mnd_vpn_stop(struct mnd *m)
{
	struct mnd_vpn *v = m->vpn;

	if (!v)
		return;
	/* RFC 7296 1.4.1: tell the gateway; wait briefly for its answer. */
	if (v->il && v->state != VPN_IDLE && v->spi_i &&
	    ike_engine_delete(ikeloop_engine(v->il), v->spi_i, now_ns(),
			      ikeloop_actions(v->il)) == 0) {
		LOG_NOTICE(&v->log, "deleting the IKE SA %016llx_i %016llx_r",
			   (unsigned long long)v->spi_i, (unsigned long long)v->spi_r);
		ikeloop_apply(v->il);
		ikeloop_wait(v->il, SHUTDOWN_WAIT_MS, is_idle);
	}
	g_clear_handle_id(&v->tick, g_source_remove);
	g_clear_handle_id(&v->close_idle, g_source_remove);
	routes_set(v, false);
	ikeloop_path_close(v->il);
	v->state = VPN_IDLE;
	status_write(v);
	ikeloop_free(v->il);        /* the engine, the TUN's watch, the keylog */
	if (v->tun_fd >= 0)
		close(v->tun_fd);
	g_free(v);
	m->vpn = NULL;
}
