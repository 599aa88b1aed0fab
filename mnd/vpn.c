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
};

static mm_time_ns now_ns(void)
{
	return clock_now(clock_monotonic());
}

/* --- status file --------------------------------------------------------------------- */

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
	}
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
	rc = atomic_write_file(v->cfg->status_file, text, strlen(text));
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

	/* Bound to the device: IKE and ESP never go into our own tunnel. */
	rc = ikeloop_path_open(v->il, local, ifname, NULL);
	if (rc < 0) {
		LOG_ERROR(&v->log, "cannot open the IKE sockets on %s:%d/%d (%s): %s",
			  addr4_str(local, a), IKE_PORT, UDPENCAP_PORT, ifname, strerror(-rc));
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
	status_write(v);
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
	status_write(v);
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

/* The first configured interface with an IPv4 address and a route to the gateway (a
 * socket bound to a device sends to an address without a route "on link": location.h). */
static bool find_path(struct mnd_vpn *v, char ifname[IFNAMSIZ], struct in_addr *local)
{
	struct mnd_ifaces want;
	struct ifaddrs *ifa = NULL;
	bool found = false;

	if (mnd_ifaces_init(&want, v->cfg->interfaces) < 0 || getifaddrs(&ifa) < 0)
		return false;
	for (unsigned i = 0; i < want.count && !found; i++) {
		int idx = nl_link_index(want.iface[i].name);

		if (idx <= 0 || mnd_route_reaches(idx, v->cfg->gateway) != 1)
			continue;
		for (struct ifaddrs *p = ifa; p; p = p->ifa_next) {
			if (!p->ifa_addr || p->ifa_addr->sa_family != AF_INET ||
			    strcmp(p->ifa_name, want.iface[i].name) != 0 ||
			    !(p->ifa_flags & IFF_UP))
				continue;
			memcpy(local, &((const struct sockaddr_in *)(const void *)p->ifa_addr)->sin_addr,
			       sizeof(*local));
			snprintf(ifname, IFNAMSIZ, "%s", want.iface[i].name);
			found = true;
			break;
		}
	}
	freeifaddrs(ifa);
	return found;
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

/* Our address went (a move, DHCP): the SA cannot survive without MOBIKE (RFC 4555, a later
 * issue), so it is deleted (the DELETE may not get out) and a new one started from wherever
 * we are now, without waiting for the liveness check to fail. */
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

static void try_connect(struct mnd_vpn *v, mm_time_ns now)
{
	struct ike_endpoint local, remote;
	char ifname[IFNAMSIZ], a[ADDR4_STRLEN], g[ADDR4_STRLEN];
	struct in_addr addr;
	uint64_t spi = 0;
	int rc;

	if (!find_path(v, ifname, &addr))
		return;
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
		espdp_send_keepalive(ikeloop_dp(v->il), &to);
	}
	check_address(v);
	if (v->state == VPN_IDLE && now >= v->retry_at && !v->close_idle && !v->m->stopping)
		try_connect(v, now);
	ikeloop_schedule(v->il);
	return G_SOURCE_CONTINUE;
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
	if ((rc = ikeloop_new(&lc, &v->il)) < 0)
		return rc;
	v->tick = g_timeout_add(TICK_MS, on_tick, v);
	LOG_NOTICE(&v->log, "VPN client: gateway %s (%s), interfaces %s, tunnel device %s, DPD "
		   "%u s", addr4_str(c->gateway, g), ident_str(&c->peer.remote_id, id, sizeof(id)),
		   c->interfaces, v->tun_name, c->peer.dpd_interval_s);
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
