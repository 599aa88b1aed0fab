/* vpngw: the IKEv2 responder daemon (RFC 7296) with user-space ESP (RFC 4303, RFC 3948).
 *
 * A thin adapter around ike/engine.h on one GLib main loop:
 *
 *	UDP listen:500   IKE (recvmmsg batches, IP_PKTINFO) -> ike_engine_input
 *	UDP listen:4500  datapath.c: ESP -> TUN; IKE behind the non-ESP marker -> engine;
 *	                 NAT keepalives dropped
 *	TUN              datapath.c: packets for the peers' inner addresses -> ESP -> 4500
 *	engine timer     ike_engine_next_timer() -> a GLib timeout -> ike_engine_timer
 *	1 s tick         ESP time lifetimes (-> ike_engine_child_expired), our NAT keepalives
 *	control socket   gwctl list / stats, and the operator's orders rekey child / rekey ike
 *	                 / terminate (ctl.h), carried out like the engine's timers
 *	SIGTERM/SIGINT   INFORMATIONAL DELETE for every IKE SA, a short wait for the answers,
 *	                 exit 0; SIGHUP: reload the peers (when the engine can take them)
 *
 * The engine, its sockets, timers and actions run in daemon/ikeloop.h (shared with mnd):
 * SEND (port 4500: the non-ESP marker in front, RFC 3948 2.2), CHILD_UP / CHILD_DOWN -> data
 * path, KEYLOG -> the keylog file when configured; this file adds the log lines of SA_UP /
 * SA_DOWN / CHILD_UP, the pool, the NAT keepalives, the control socket and SIGHUP. Bad
 * configuration or a socket that cannot be bound: one line, exit 1.
 *
 * MOBIKE (RFC 4555, per peer class, on by default): ikeloop moves the Child SAs of an IKE
 * SA in the data path on IKE_ACT_SA_MOVED; here the SA's record follows (its NAT
 * keepalives go to the new pair only, RFC 4621 5.2.6) and keeps the last move for gwctl.
 * Our address set is the listen address (engine cfg local_addrs, announced: RFC 4555 3.4).
 * Handover replay (handover-replay-ms, on by default; daemon/replay.h): right after a move
 * the data path sends again, to the new address, what it had sent to the old one since the
 * peer left it, so a TCP stream towards the peer does not wait for its retransmission
 * timeout (ikeloop calls espdp_ike_replay; this file only configures it, also on SIGHUP).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/sock.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/espdp.h"
#include "daemon/ikeloop.h"
#include "daemon/proposals.h"
#include "esp/udpencap.h"
#include "ike/engine.h"
#include "vpngw/conf.h"
#include "vpngw/ctl.h"
#include "vpngw/ident.h"
#include "vpngw/pool.h"

#define IKE_PORT 500
#define RX_SLOTS 32                    /* UDP 500 datagrams per recvmmsg */
#define RX_ROUNDS 8                    /* batches per wake-up before the others' turn */
#define TICK_MS 1000
#define SHUTDOWN_WAIT_MS 1000          /* for the peers to answer our DELETEs */
#define NAT_KEEPALIVE_S 20             /* RFC 3948 4: 20 seconds */

/* What the daemon remembers of an established IKE SA (the engine owns the SA itself). */
struct sa_rec {
	uint64_t spi_i, spi_r;
	mm_time_ns established;
	bool nat_local;
	struct sockaddr_in remote;       /* the current pair's (MOBIKE moves it, RFC 4555 3.5) */
	mm_time_ns next_keepalive;
	struct vpngw_ctl_move last_move; /* gwctl list */
};

/* A configuration replaced by SIGHUP, kept while IKE SAs still use its peers. */
struct retired {
	struct vpngw_conf conf;
	struct retired *next;
};

struct vpngw {
	struct vpngw_conf conf;          /* peers, DNS, keylog: replaced by SIGHUP */
	struct retired *retired;
	const char *config_path;
	struct logger log;
	/* What start() set up from the first configuration (a reload cannot move them). */
	struct in_addr listen;
	char tun_name[IFNAMSIZ];
	int tun_ifindex;
	unsigned tun_mtu;
	struct ikeloop *il;              /* the engine, UDP 500 / 4500 and the data path */
	struct pool *pool;
	struct control_server *ctl;
	int tun_fd;
	guint tick;
	GHashTable *sas;                 /* spi_i -> struct sa_rec (spi_i is the handle) */
};

static mm_time_ns now_ns(void)
{
	return clock_now(clock_monotonic());
}

/* --- engine callbacks ---------------------------------------------------------------- */

static int cb_pool_acquire(void *user, const struct ike_peer_cfg *peer,
			   const struct ike_identity *peer_id, struct in_addr *addr)
{
	struct vpngw *d = user;
	char id[256], a[ADDR4_STRLEN];
	int rc;

	if (!d->pool)
		return -ENOSPC;
	rc = pool_acquire(d->pool, peer_id, addr);
	if (rc == 0)
		LOG_INFO(&d->log, "peer %s (%s): inner address %s (%zu of %zu in use)",
			 ident_str(peer_id, id, sizeof(id)), peer ? peer->name : "?",
			 addr4_str(*addr, a), pool_in_use(d->pool), pool_size(d->pool));
	else if (rc == -ENOSPC)
		LOG_WARNING(&d->log, "peer %s (%s): the address pool is exhausted (%zu addresses "
			    "in use)", ident_str(peer_id, id, sizeof(id)), peer ? peer->name : "?",
			    pool_in_use(d->pool));
	return rc;
}

static void cb_pool_release(void *user, struct in_addr addr)
{
	struct vpngw *d = user;
	char a[ADDR4_STRLEN];

	if (d->pool && pool_release(d->pool, addr) < 0)
		LOG_WARNING(&d->log, "the engine released %s, which is not leased",
			    addr4_str(addr, a));
}

static size_t cb_dns_servers(void *user, struct in_addr *out, size_t max)
{
	struct vpngw *d = user;
	size_t n = d->conf.ndns < max ? d->conf.ndns : max;

	memcpy(out, d->conf.dns, n * sizeof(*out));
	return n;
}

/* --- actions ------------------------------------------------------------------------- */

#define EP_STRLEN (ADDR4_STRLEN + 6)

static const char *ep_str(const struct ike_endpoint *ep, char buf[EP_STRLEN])
{
	char a[ADDR4_STRLEN];

	snprintf(buf, EP_STRLEN, "%s:%u", addr4_str(ep->addr, a), ep->port);
	return buf;
}

static void free_unused_retired(struct vpngw *d);

/* CHILD_UP, installed (ikeloop.h). */
static void child_up(void *user, const struct ike_child_info *c)
{
	struct vpngw *d = user;
	char suite[96], l[64], r[64];

	LOG_INFO(&d->log, "Child SA %08x_i %08x_o up: %s === %s%s, %s%s", c->spi_in, c->spi_out,
		 vpngw_ctl_ts_str(&c->ts_local.ts[0], l, sizeof(l)),
		 vpngw_ctl_ts_str(&c->ts_remote.ts[0], r, sizeof(r)),
		 c->ts_local.n + c->ts_remote.n > 2 ? " (and more)" : "",
		 proposals_format(&c->suite, IKE_SUITE_ESP, suite, sizeof(suite)),
		 c->replaces_spi_in ? ", replacing an older SA" : "");
}

/* SA_UP; for an IKE SA rekey its Child SAs have moved already (ikeloop.h). */
static void sa_up(void *user, const struct ike_sa_info *sa)
{
	struct vpngw *d = user;
	struct sa_rec *r = g_new0(struct sa_rec, 1);
	char id[256], ep[EP_STRLEN], a[ADDR4_STRLEN], suite[96];

	r->spi_i = sa->spi_i;
	r->spi_r = sa->spi_r;
	r->established = now_ns();
	r->nat_local = sa->nat_local;
	r->remote.sin_family = AF_INET;
	r->remote.sin_addr = sa->remote.addr;
	r->remote.sin_port = htons(sa->remote.port);
	r->next_keepalive = r->established + MM_SEC(NAT_KEEPALIVE_S);
	/* IKE SA rekey: the address history stays with the peer's SA. */
	if (sa->replaces_spi_i) {
		const struct sa_rec *old = g_hash_table_lookup(d->sas, &sa->replaces_spi_i);

		if (old)
			r->last_move = old->last_move;
	}
	g_hash_table_replace(d->sas, &r->spi_i, r);
	/* IKE SA rekey (RFC 7296 2.18): logged by ikeloop. */
	if (sa->replaces_spi_i || sa->replaces_spi_r)
		return;
	LOG_NOTICE(&d->log, "peer %s from %s%s up (%s), inner address %s, SPIs %016llx_i "
		   "%016llx_r, %s", ident_str(&sa->peer_id, id, sizeof(id)),
		   ep_str(&sa->remote, ep), sa->nat_remote ? " (NAT)" : "",
		   sa->peer && sa->peer->name ? sa->peer->name : "?",
		   sa->inner_addr.s_addr ? addr4_str(sa->inner_addr, a) : "none",
		   (unsigned long long)sa->spi_i, (unsigned long long)sa->spi_r,
		   proposals_format(&sa->suite, IKE_SUITE_IKE, suite, sizeof(suite)));
}

/* Is there an SA that replaced this one (its SA_UP with replaces_spi_* came first)? */
static bool is_rekeyed_away(struct vpngw *d, const struct ike_sa_info *sa)
{
	struct ike_sa_info info;
	size_t cursor = 0;

	while (ike_engine_next_sa(ikeloop_engine(d->il), &cursor, &info))
		if (info.replaces_spi_i == sa->spi_i && info.replaces_spi_r == sa->spi_r)
			return true;
	return false;
}

/* SA_DOWN; left: its Child SAs that ikeloop removed from the data path. */
static void sa_down(void *user, const struct ike_sa_info *sa, const char *reason, size_t left)
{
	struct vpngw *d = user;
	char id[256], ep[EP_STRLEN];

	g_hash_table_remove(d->sas, &sa->spi_i);
	free_unused_retired(d);
	/* The old SA of an IKE SA rekey: the peer is still up, on the new one. */
	if (is_rekeyed_away(d, sa)) {
		LOG_INFO(&d->log, "IKE SA %016llx_i %016llx_r replaced: %s",
			 (unsigned long long)sa->spi_i, (unsigned long long)sa->spi_r, reason);
		return;
	}
	LOG_NOTICE(&d->log, "peer %s from %s down: %s (SPIs %016llx_i %016llx_r)%s",
		   ident_str(&sa->peer_id, id, sizeof(id)), ep_str(&sa->remote, ep),
		   reason, (unsigned long long)sa->spi_i,
		   (unsigned long long)sa->spi_r, left ? ", its Child SAs removed" : "");
}

/* MOBIKE (RFC 4555): ikeloop moved the Child SAs in the data path and the engine logged the
 * move (old pair, new pair, NAT, time); here the keepalives follow the new pair (RFC 4621
 * 5.2.6: only the current pair) and gwctl gets the move. */
static void on_action(void *user, const struct ike_actions *a, const struct ike_action *act)
{
	struct vpngw *d = user;
	const struct ike_move_info *mv = &act->u.move;
	struct sa_rec *r;
	char addrs[IKE_MOBIKE_MAX_ADDRS * (ADDR4_STRLEN + 2)], x[ADDR4_STRLEN];
	size_t off = 0;

	(void)a;
	switch (act->kind) {
	case IKE_ACT_SA_MOVED:
		r = g_hash_table_lookup(d->sas, &mv->sa.spi_i);
		if (!r)
			return;
		r->nat_local = mv->sa.nat_local;
		r->remote.sin_addr = mv->sa.remote.addr;
		r->remote.sin_port = htons(mv->sa.remote.port);
		r->next_keepalive = now_ns() + MM_SEC(NAT_KEEPALIVE_S);
		r->last_move.old_local = mv->old_local;
		r->last_move.old_remote = mv->old_remote;
		r->last_move.new_local = mv->sa.local;
		r->last_move.new_remote = mv->sa.remote;
		r->last_move.old_nat_local = mv->old_nat_local;
		r->last_move.old_nat_remote = mv->old_nat_remote;
		r->last_move.nat_local = mv->sa.nat_local;
		r->last_move.nat_remote = mv->sa.nat_remote;
		r->last_move.took = mv->took;
		r->last_move.at = now_ns();
		break;
	case IKE_ACT_PEER_ADDRESSES:
		addrs[0] = '\0';
		for (size_t i = 0; i < act->u.sa.npeer_addrs && i < IKE_MOBIKE_MAX_ADDRS &&
		     off < sizeof(addrs); i++)
			off += (size_t)snprintf(addrs + off, sizeof(addrs) - off, "%s%s",
						i ? ", " : "",
						addr4_str(act->u.sa.peer_addrs[i], x));
		LOG_INFO(&d->log, "IKE SA %016llx_i %016llx_r: the peer's addresses are now %s",
			 (unsigned long long)act->u.sa.spi_i, (unsigned long long)act->u.sa.spi_r,
			 addrs[0] ? addrs : "(none)");
		break;
	default:
		break;
	}
}

/* Once a second: ESP time lifetimes, and NAT keepalives where we are the one behind a NAT
 * (RFC 3948 2.3, 4), on each SA's current pair. */
static gboolean on_tick(gpointer user)
{
	struct vpngw *d = user;
	mm_time_ns now = now_ns();
	GHashTableIter it;
	gpointer v;

	ikeloop_poll(d->il, now);
	g_hash_table_iter_init(&it, d->sas);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct sa_rec *r = v;

		if (!r->nat_local || now < r->next_keepalive)
			continue;
		r->next_keepalive = now + MM_SEC(NAT_KEEPALIVE_S);
		espdp_send_keepalive(ikeloop_dp(d->il), &r->remote);
	}
	ikeloop_schedule(d->il);
	return G_SOURCE_CONTINUE;
}

/* --- control socket ------------------------------------------------------------------ */

static char *ctl_stats(struct vpngw *d)
{
	struct ike_engine_stats es;
	struct vpngw_ctl_pool p = { pool_size(d->pool), pool_in_use(d->pool) };
	struct ike_sa_info info;
	size_t cursor = 0, n = 0;

	ike_engine_stats(ikeloop_engine(d->il), &es);
	while (ike_engine_next_sa(ikeloop_engine(d->il), &cursor, &info))
		n++;
	return vpngw_ctl_stats_json(&es, n, &p, ikeloop_dp(d->il));
}

static char *ctl_list(struct vpngw *d)
{
	GArray *sas = g_array_new(FALSE, TRUE, sizeof(struct vpngw_ctl_sa));
	struct ike_sa_info info;
	size_t cursor = 0;
	char *doc;

	while (ike_engine_next_sa(ikeloop_engine(d->il), &cursor, &info)) {
		struct vpngw_ctl_sa s;

		const struct sa_rec *r = g_hash_table_lookup(d->sas, &info.spi_i);

		memset(&s, 0, sizeof(s));
		if (r)
			s.last_move = r->last_move;
		s.info = info;
		s.established = info.established;
		s.rekey_at = info.rekey_at;
		g_array_append_val(sas, s);
	}
	doc = vpngw_ctl_list_json((const struct vpngw_ctl_sa *)(void *)sas->data, sas->len,
				  ikeloop_dp(d->il), now_ns());
	g_array_free(sas, TRUE);
	return doc;
}

/* The engine's handle (spi_i) of the IKE SA with spi as its spi_i or spi_r. */
static int find_ike(struct vpngw *d, uint64_t spi, uint64_t *handle)
{
	struct ike_sa_info info;
	size_t cursor = 0;

	while (ike_engine_next_sa(ikeloop_engine(d->il), &cursor, &info))
		if (info.spi_i == spi || info.spi_r == spi) {
			*handle = info.spi_i;
			return 0;
		}
	return -ENOENT;
}

/* gwctl rekey child / rekey ike / terminate: the engine's order, its actions carried out
 * as for a timer; the exchange runs on (its outcome shows in gwctl list and the log). One
 * log line per order. */
static char *ctl_order(struct vpngw *d, const char *request, const struct vpngw_ctl_req *req)
{
	struct ike_engine *e = ikeloop_engine(d->il);
	struct ike_actions *acts = ikeloop_actions(d->il);
	mm_time_ns now = now_ns();
	uint64_t handle = 0;
	uint32_t spi_in = 0;
	char why[160];
	int rc;

	if (req->op == VPNGW_CTL_REKEY_CHILD) {
		rc = vpngw_ctl_find_child(ikeloop_dp(d->il), (uint32_t)req->spi, &spi_in, &handle);
		if (rc == 0)
			rc = ike_engine_rekey_child(e, handle, spi_in, now, acts);
	} else {
		rc = find_ike(d, req->spi, &handle);
		if (rc == 0 && req->op == VPNGW_CTL_REKEY_IKE)
			rc = ike_engine_rekey_ike(e, handle, now, acts);
		else if (rc == 0)
			rc = ike_engine_delete(e, handle, now, acts);
	}
	ikeloop_apply(d->il);
	if (rc == 0 && req->op == VPNGW_CTL_REKEY_CHILD)
		LOG_NOTICE(&d->log, "control: %s: ordered (Child SA %08x_i of IKE SA %016llx_i)",
			   request, spi_in, (unsigned long long)handle);
	else if (rc == 0)
		LOG_NOTICE(&d->log, "control: %s: ordered (IKE SA %016llx_i)", request,
			   (unsigned long long)handle);
	else
		LOG_NOTICE(&d->log, "control: %s: refused: %s", request,
			   vpngw_ctl_order_result(req, rc, why, sizeof(why)));
	return vpngw_ctl_order_json(request, req, rc);
}

static char *ctl_handle(const char *request, void *user)
{
	struct vpngw *d = user;
	struct vpngw_ctl_req req;
	const char *why = NULL;

	if (vpngw_ctl_parse(request, &req, &why) < 0)
		return vpngw_ctl_error_json(request, why);
	switch (req.op) {
	case VPNGW_CTL_LIST:
		return ctl_list(d);
	case VPNGW_CTL_STATS:
		return ctl_stats(d);
	case VPNGW_CTL_REKEY_CHILD:
	case VPNGW_CTL_REKEY_IKE:
	case VPNGW_CTL_TERMINATE:
		break;
	}
	return ctl_order(d, request, &req);
}

/* --- configuration reload ------------------------------------------------------------ */

/* Handover replay from the configuration (espdp.h): slots as large as the TUN's MTU. */
static void set_replay(struct vpngw *d)
{
	int rc = espdp_set_replay(ikeloop_dp(d->il), MM_MSEC(d->conf.replay_ms),
				  MM_MSEC(d->conf.replay_rtt_ms), d->conf.replay_bytes,
				  d->tun_mtu);

	if (rc < 0)
		LOG_WARNING(&d->log, "handover replay off: %s", strerror(-rc));
}

static bool conf_in_use(struct vpngw *d, const struct vpngw_conf *c)
{
	struct ike_sa_info info;
	size_t cursor = 0;

	while (ike_engine_next_sa(ikeloop_engine(d->il), &cursor, &info))
		if (info.peer >= c->peers && info.peer < c->peers + c->npeers)
			return true;
	return false;
}

static void free_unused_retired(struct vpngw *d)
{
	struct retired **p = &d->retired;

	while (*p) {
		struct retired *r = *p;

		if (conf_in_use(d, &r->conf)) {
			p = &r->next;
			continue;
		}
		*p = r->next;
		vpngw_conf_clear(&r->conf);
		g_free(r);
	}
}

static int open_keylog(struct vpngw *d)
{
	FILE *f = NULL;
	int rc = ikeloop_keylog_open(&d->log, d->config_path, VPNGW_GATEWAY_GROUP,
				     d->conf.keylog_file, &f);

	if (rc == 0)
		ikeloop_set_keylog(d->il, f);
	return rc;
}

static void on_reload(void *user)
{
	struct vpngw *d = user;
	struct vpngw_conf nc;
	struct retired *r;
	int rc;

	if (vpngw_conf_load(d->config_path, &nc) < 0) {
		LOG_ERROR(&d->log, "SIGHUP: %s not reloaded; the configuration in use stays",
			  d->config_path);
		return;
	}
	if (nc.listen.s_addr != d->conf.listen.s_addr || nc.have_pool != d->conf.have_pool ||
	    nc.pool_net.s_addr != d->conf.pool_net.s_addr || nc.pool_plen != d->conf.pool_plen ||
	    strcmp(nc.tunnel_device, d->conf.tunnel_device) != 0 ||
	    nc.tunnel_addr.s_addr != d->conf.tunnel_addr.s_addr ||
	    nc.tunnel_mtu != d->conf.tunnel_mtu ||
	    strcmp(nc.control_socket, d->conf.control_socket) != 0 ||
	    nc.cookie_threshold != d->conf.cookie_threshold ||
	    nc.half_open_max != d->conf.half_open_max || nc.max_sas != d->conf.max_sas ||
	    !nc.keylog_file != !d->conf.keylog_file)
		LOG_WARNING(&d->log, "SIGHUP: listen, pool, tunnel-*, control-socket, "
			    "cookie-threshold, half-open-max, max-sas changes and switching "
			    "keylog-file on or off take effect at the next start only");
	rc = ike_engine_set_peers(ikeloop_engine(d->il), nc.peers, nc.npeers);
	if (rc < 0) {
		LOG_ERROR(&d->log, "SIGHUP: the engine refused the new peers: %s", strerror(-rc));
		vpngw_conf_clear(&nc);
		return;
	}
	/* Established SAs keep pointing at the old peers: keep those while they are used. */
	r = g_new0(struct retired, 1);
	r->conf = d->conf;
	r->next = d->retired;
	d->retired = r;
	d->conf = nc;
	set_replay(d);
	/* The keylog file follows the new configuration. */
	ikeloop_set_keylog(d->il, NULL);
	if (d->conf.keylog_file)
		open_keylog(d);
	free_unused_retired(d);
	LOG_NOTICE(&d->log, "SIGHUP: reloaded %s: %zu peer class%s, %zu DNS server%s",
		   d->config_path, d->conf.npeers, d->conf.npeers == 1 ? "" : "es", d->conf.ndns,
		   d->conf.ndns == 1 ? "" : "s");
}

/* --- start and stop ------------------------------------------------------------------ */

static int set_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -EIO;
}

static int start(void *user)
{
	struct vpngw *d = user;
	struct ike_engine_cfg ec;
	struct ikeloop_cfg lc;
	GError *err = NULL;
	const char *what = "";
	char a[ADDR4_STRLEN], n[ADDR4_STRLEN], pooldesc[96];
	uint16_t port = 0;
	int rc;

	d->listen = d->conf.listen;
	/* The pool is forwarded between the intranet and the TUN. */
	rc = set_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
	if (rc < 0) {
		LOG_ERROR(&d->log, "cannot set net.ipv4.ip_forward=1: %s (the intranet could not "
			  "reach the peers' inner addresses)", strerror(-rc));
		return rc;
	}
	if (d->conf.have_pool &&
	    (rc = pool_new(d->conf.pool_net, d->conf.pool_plen, d->conf.tunnel_addr,
			   &d->pool)) < 0) {
		LOG_ERROR(&d->log, "cannot create the address pool: %s", strerror(-rc));
		return rc;
	}
	d->tun_fd = espdp_open_tun(d->conf.tunnel_device, d->conf.tunnel_mtu,
				   d->conf.tunnel_addr, d->conf.have_pool ? &d->conf.pool_net
				   : NULL, d->conf.pool_plen, d->tun_name, &d->tun_ifindex,
				   &what);
	if (d->tun_fd < 0) {
		LOG_ERROR(&d->log, "%s: [%s] tunnel-device: %s %s: %s", d->config_path,
			  VPNGW_GATEWAY_GROUP, what, d->conf.tunnel_device, strerror(-d->tun_fd));
		return d->tun_fd;
	}

	memset(&ec, 0, sizeof(ec));
	ec.default_role = IKE_ROLE_RESPONDER;
	ec.peers = d->conf.peers;
	ec.npeers = d->conf.npeers;
	ec.ops.user = d;
	ec.ops.pool_acquire = cb_pool_acquire;
	ec.ops.pool_release = cb_pool_release;
	ec.ops.dns_servers = cb_dns_servers;
	ec.cookie_threshold = d->conf.cookie_threshold;
	ec.half_open_max = d->conf.half_open_max;
	ec.max_sas = d->conf.max_sas;
	ec.keylog = d->conf.keylog_file != NULL;
	/* MOBIKE (RFC 4555 3.4, 3.6): our address set is the listen address; announcing it
	 * tells the peers NO_ADDITIONAL_ADDRESSES. */
	ec.local_addrs[0] = d->listen;
	ec.nlocal_addrs = 1;
	ec.announce_addresses = true;
	memset(&lc, 0, sizeof(lc));
	lc.engine = &ec;
	lc.log = &d->log;
	lc.tun_fd = d->tun_fd;
	lc.rx_slots = RX_SLOTS;
	lc.rx_rounds = RX_ROUNDS;
	lc.rx_sockbuf = SOCK_DATAPATH_BUF;
	lc.ops.user = d;
	lc.ops.sa_up = sa_up;
	lc.ops.sa_down = sa_down;
	lc.ops.child_up = child_up;
	lc.ops.action = on_action;
	if ((rc = ikeloop_new(&lc, &d->il)) < 0)
		return rc;
	rc = ikeloop_path_open(d->il, d->listen, NULL, &port);
	if (rc < 0 && port) {
		LOG_ERROR(&d->log, "%s: [%s] listen: cannot bind %s:%d: %s (is the address "
			  "configured here, and no other IKE daemon running?)", d->config_path,
			  VPNGW_GATEWAY_GROUP, addr4_str(d->listen, a), port, strerror(-rc));
		return -EADDRNOTAVAIL;
	}
	if (rc < 0) {
		LOG_ERROR(&d->log, "cannot set up the data path: %s", strerror(-rc));
		return rc;
	}
	d->tun_mtu = d->conf.tunnel_mtu;
	set_replay(d);
	if (d->conf.keylog_file && (rc = open_keylog(d)) < 0)
		return rc;
	d->sas = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);

	d->ctl = control_server_start(d->conf.control_socket, ctl_handle, d, &err);
	if (!d->ctl) {
		LOG_ERROR(&d->log, "%s: [%s] control-socket: %s", d->config_path,
			  VPNGW_GATEWAY_GROUP, err ? err->message : "cannot listen");
		g_clear_error(&err);
		return -EADDRINUSE;
	}
	d->tick = g_timeout_add(TICK_MS, on_tick, d);
	ikeloop_schedule(d->il);
	if (d->pool)
		snprintf(pooldesc, sizeof(pooldesc), "pool %s/%u (%zu addresses)",
			 addr4_str(d->conf.pool_net, n), d->conf.pool_plen, pool_size(d->pool));
	else
		snprintf(pooldesc, sizeof(pooldesc), "no pool");
	LOG_NOTICE(&d->log, "IKEv2 responder on %s (UDP %d and %d), %zu peer class%s, %s, "
		   "tunnel device %s", addr4_str(d->listen, a), IKE_PORT, UDPENCAP_PORT,
		   d->conf.npeers, d->conf.npeers == 1 ? "" : "es", pooldesc, d->tun_name);
	return 0;
}

static bool no_sas(void *user)
{
	struct vpngw *d = user;
	struct ike_sa_info info;
	size_t cursor = 0;

	return !ike_engine_next_sa(ikeloop_engine(d->il), &cursor, &info);
}

/* SIGTERM: every IKE SA is deleted (RFC 7296 1.4.1: INFORMATIONAL with DELETE); the peers'
 * answers are awaited briefly so the SAs go cleanly, then everything is torn down. */
static void shutdown_sas(void *user)
{
	struct vpngw *d = user;
	struct ike_engine *e = ikeloop_engine(d->il);
	GArray *spis = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	struct ike_sa_info info;
	size_t cursor = 0;

	while (ike_engine_next_sa(e, &cursor, &info))
		g_array_append_val(spis, info.spi_i);
	for (guint i = 0; i < spis->len; i++) {
		if (ike_engine_delete(e, g_array_index(spis, uint64_t, i), now_ns(),
				      ikeloop_actions(d->il)) == 0)
			ikeloop_apply(d->il);
	}
	if (spis->len)
		LOG_NOTICE(&d->log, "deleting %u IKE SA%s", spis->len, spis->len == 1 ? "" : "s");
	g_array_free(spis, TRUE);
	ikeloop_wait(d->il, SHUTDOWN_WAIT_MS, no_sas);
}

static void stop(void *user)
{
	struct vpngw *d = user;

	g_clear_handle_id(&d->tick, g_source_remove);
	control_server_stop(d->ctl);
	ikeloop_free(d->il);       /* the engine, UDP 500 and 4500, the data path, the keylog */
	pool_free(d->pool);
	if (d->sas)
		g_hash_table_destroy(d->sas);
	if (d->tun_fd >= 0)
		close(d->tun_fd);     /* the device and its route go with it */
	while (d->retired) {
		struct retired *r = d->retired;

		d->retired = r->next;
		vpngw_conf_clear(&r->conf);
		g_free(r);
	}
	vpngw_conf_clear(&d->conf);
}

static int load(void *user, const char *config_path)
{
	struct vpngw *d = user;

	d->config_path = config_path;
	return vpngw_conf_load(config_path, &d->conf);
}

int main(int argc, char **argv)
{
	static struct vpngw d;
	static const struct daemon_life life = {
		.prog = "vpngw",
		.default_config = "/etc/mip4-mobike/vpngw.conf",
		.load = load,
		.start = start,
		.shutdown = shutdown_sas,
		.stop = stop,
		.reload = on_reload,
	};

	d.tun_fd = -1;
	logger_init(&d.log, "vpngw");
	return daemon_main(argc, argv, &life, &d, &d.log);
}
