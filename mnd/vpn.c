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
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <openssl/crypto.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/netlink.h"
#include "common/sock.h"
#include "daemon/atomic_file.h"
#include "daemon/espdp.h"
#include "daemon/json.h"
#include "daemon/proposals.h"
#include "esp/udpencap.h"
#include "mnd/mnd.h"
#include "mnd/rtnl.h"
#include "mnd/vpn.h"
#include "vpngw/ident.h"

#define IKE_PORT 500
#define RX_SLOTS 8
#define RX_BUFSIZE (IKE_MSG_MAX + 1)
#define DP_ROUNDS 8
#define TICK_MS 1000
#define TIMER_MAX_MS (3600 * 1000)
#define TIMER_LOOPS 64
#define SHUTDOWN_WAIT_MS 1000
#define NAT_KEEPALIVE_S 20              /* RFC 3948 4 */
#define JITTER_PERCENT 10
/* Retransmissions 1, 2, 4, 8 s apart (RFC 7296 2.4): an unreachable gateway is declared
 * dead about 15 s after the liveness check or request it did not answer. */
#define RETRANSMIT_TRIES 4

enum vpn_state { VPN_IDLE, VPN_CONNECTING, VPN_UP };
static const char *const state_names[] = { "idle", "connecting", "up" };

struct mnd_vpn {
	struct mnd *m;
	const struct mnd_vpn_config *cfg;
	struct logger log;
	struct ike_engine *engine;
	struct ike_actions *actions;
	enum vpn_state state;
	uint64_t spi_i, spi_r;           /* the IKE SA in use (spi_i: the engine's handle) */
	struct ike_sa_info sa;           /* as of its SA_UP */
	mm_time_ns retry_at;
	unsigned backoff_s;
	unsigned attempts, established_count;
	mm_time_ns started_at, up_at, next_keepalive;
	/* the path */
	char ifname[IFNAMSIZ];
	struct in_addr local;
	int fd500, fd4500;
	guint src500, src4500;
	struct espdp *dp;
	struct sock_batch rx;
	uint8_t *rx_bufs;
	/* the TUN */
	int tun_fd, tun_ifindex;
	char tun_name[IFNAMSIZ];
	guint srctun;
	struct in_addr tia;              /* on the TUN; 0 when none */
	bool routes;
	FILE *keylog;
	guint tick, timer;
	guint close_idle;                /* path_close() deferred out of the data path's loop */
	mm_time_ns timer_at;
};

static mm_time_ns now_ns(void)
{
	return clock_now(clock_monotonic());
}

static void schedule_timer(struct mnd_vpn *v);
static void apply(struct mnd_vpn *v, struct ike_actions *a);

/* --- status file --------------------------------------------------------------------- */

static void status_write(struct mnd_vpn *v)
{
	char spi[20];
	struct json j;
	char *text;
	size_t cursor = 0;
	struct espdp_child c;
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
	if (v->tia.s_addr)
		json_kv_addr4(&j, "tia", v->tia);
	else
		json_kv_null(&j, "tia");
	json_key(&j, "dns");
	json_begin_array(&j);
	for (size_t i = 0; v->state == VPN_UP && i < v->sa.ndns && i < 2; i++)
		json_addr4(&j, v->sa.dns[i]);
	json_end_array(&j);
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
	while (v->dp && espdp_next_child(v->dp, &cursor, &c)) {
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

static void path_close(struct mnd_vpn *v)
{
	guint *srcs[] = { &v->src500, &v->src4500 };

	for (size_t i = 0; i < G_N_ELEMENTS(srcs); i++)
		if (*srcs[i]) {
			g_source_remove(*srcs[i]);
			*srcs[i] = 0;
		}
	espdp_free(v->dp);
	v->dp = NULL;
	if (v->fd500 >= 0)
		close(v->fd500);
	if (v->fd4500 >= 0)
		close(v->fd4500);
	v->fd500 = v->fd4500 = -1;
}

static void engine_input(struct mnd_vpn *v, const uint8_t *msg, size_t len,
			 const struct sock_dgram_meta *meta, uint16_t port)
{
	struct ike_endpoint from, to;

	from.addr = meta->peer.sin_addr;
	from.port = ntohs(meta->peer.sin_port);
	to.addr = meta->dst.s_addr ? meta->dst : v->local;
	to.port = port;
	ike_engine_input(v->engine, msg, len, &from, &to, now_ns(), v->actions);
	apply(v, v->actions);
}

static gboolean on_500(gint fd, GIOCondition cond, gpointer user)
{
	struct mnd_vpn *v = user;
	int n;

	(void)fd;
	(void)cond;
	n = sock_recv4_batch(v->fd500, &v->rx);
	for (int i = 0; i < n && v->fd500 >= 0; i++) {
		const struct sock_batch_slot *s = &v->rx.slot[i];

		if (!s->truncated)
			engine_input(v, s->data, s->len, &s->meta, IKE_PORT);
	}
	schedule_timer(v);
	return G_SOURCE_CONTINUE;
}

static void on_ike_4500(void *user, const uint8_t *msg, size_t len,
			const struct sock_dgram_meta *meta)
{
	engine_input(user, msg, len, meta, UDPENCAP_PORT);
}

static void on_expired(void *user, uint32_t spi_in, bool hard)
{
	struct mnd_vpn *v = user;

	ike_engine_child_expired(v->engine, spi_in, hard, now_ns(), v->actions);
	apply(v, v->actions);
}

static void on_activity(void *user, uint32_t spi_in, mm_time_ns now)
{
	struct mnd_vpn *v = user;

	ike_engine_child_activity(v->engine, spi_in, now);
}

static gboolean on_4500(gint fd, GIOCondition cond, gpointer user)
{
	struct mnd_vpn *v = user;

	(void)fd;
	(void)cond;
	/* IKE input may close the path (SA_DOWN): the data path is looked up again. */
	if (v->dp)
		espdp_udp_readable(v->dp, now_ns(), DP_ROUNDS);
	schedule_timer(v);
	return G_SOURCE_CONTINUE;
}

static gboolean on_tun(gint fd, GIOCondition cond, gpointer user)
{
	struct mnd_vpn *v = user;
	uint8_t junk[2048];

	(void)cond;
	if (v->dp) {
		espdp_tun_readable(v->dp, now_ns(), DP_ROUNDS);
	} else {
		/* No tunnel: what the kernel routes here is dropped. */
		while (read(fd, junk, sizeof(junk)) > 0)
			;
	}
	schedule_timer(v);
	return G_SOURCE_CONTINUE;
}

static int path_open(struct mnd_vpn *v, const char *ifname, struct in_addr local)
{
	struct espdp_config dc;
	struct sockaddr_in sa;
	char a[ADDR4_STRLEN];
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr = local;
	sa.sin_port = htons(IKE_PORT);
	v->fd500 = sock_udp4_open(&sa, SOCK_F_REUSEADDR | SOCK_F_PKTINFO);
	if (v->fd500 < 0) {
		rc = v->fd500;
		goto fail;
	}
	v->fd4500 = espdp_open_udp(local, UDPENCAP_PORT);
	if (v->fd4500 < 0) {
		rc = v->fd4500;
		goto fail;
	}
	if ((rc = sock_bind_device(v->fd500, ifname)) < 0 ||
	    (rc = sock_bind_device(v->fd4500, ifname)) < 0)
		goto fail;
	memset(&dc, 0, sizeof(dc));
	dc.tun_fd = v->tun_fd;
	dc.udp_fd = v->fd4500;
	dc.listen = local;
	dc.jitter_percent = JITTER_PERCENT;
	dc.ike_input = on_ike_4500;
	dc.expired = on_expired;
	dc.activity = on_activity;
	dc.user = v;
	if ((rc = espdp_new(&dc, &v->dp)) < 0)
		goto fail;
	snprintf(v->ifname, sizeof(v->ifname), "%s", ifname);
	v->local = local;
	v->src500 = g_unix_fd_add(v->fd500, G_IO_IN, on_500, v);
	v->src4500 = g_unix_fd_add(v->fd4500, G_IO_IN, on_4500, v);
	return 0;
fail:
	LOG_ERROR(&v->log, "cannot open the IKE sockets on %s:%d/%d (%s): %s",
		  addr4_str(local, a), IKE_PORT, UDPENCAP_PORT, ifname, strerror(-rc));
	path_close(v);
	return rc;
}

/* --- state changes ------------------------------------------------------------------- */

/* SA_DOWN can come from inside espdp_udp_readable (IKE on 4500): the data path is freed
 * once that loop has returned. */
static gboolean on_close_idle(gpointer user)
{
	struct mnd_vpn *v = user;

	v->close_idle = 0;
	if (v->state == VPN_IDLE)
		path_close(v);
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

static void sa_up(struct mnd_vpn *v, const struct ike_sa_info *sa)
{
	char a[ADDR4_STRLEN], d[2][ADDR4_STRLEN], id[256], suite[96];

	if (sa->replaces_spi_i || sa->replaces_spi_r) {
		size_t n = v->dp ? espdp_child_reparent(v->dp, sa->replaces_spi_i,
			sa->replaces_spi_r, sa->spi_i, sa->spi_r) : 0;

		LOG_INFO(&v->log, "IKE SA %016llx_i %016llx_r rekeyed to %016llx_i %016llx_r (%zu "
			 "Child SA%s moved)", (unsigned long long)sa->replaces_spi_i,
			 (unsigned long long)sa->replaces_spi_r, (unsigned long long)sa->spi_i,
			 (unsigned long long)sa->spi_r, n, n == 1 ? "" : "s");
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

static void sa_down(struct mnd_vpn *v, const struct ike_sa_info *sa, const char *reason)
{
	if (v->dp)
		espdp_child_del_ike(v->dp, sa->spi_i, sa->spi_r);
	/* The old SA of an IKE SA rekey, or one we no longer use. */
	if (v->state == VPN_IDLE || (sa->spi_i != v->spi_i && v->spi_i != 0) ||
	    (v->state == VPN_UP && sa->spi_r != v->spi_r)) {
		LOG_INFO(&v->log, "IKE SA %016llx_i %016llx_r gone: %s",
			 (unsigned long long)sa->spi_i, (unsigned long long)sa->spi_r,
			 reason[0] ? reason : "deleted");
		return;
	}
	went_down(v, reason[0] ? reason : "deleted");
}

static void do_send(struct mnd_vpn *v, const struct ike_actions *a, const struct ike_action *act)
{
	const uint8_t *msg = a->buf + act->u.send.off;
	size_t len = act->u.send.len;
	struct sockaddr_in to;
	struct in_addr from = act->u.send.local.addr;
	char ep[ADDR4_STRLEN];
	ssize_t rc;

	if (act->u.send.off > a->buf_len || len > a->buf_len - act->u.send.off)
		return;
	if (v->fd500 < 0 || !v->dp)
		return;
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr = act->u.send.remote.addr;
	to.sin_port = htons(act->u.send.remote.port);
	if (from.s_addr == INADDR_ANY)
		from = v->local;
	if (act->u.send.local.port == UDPENCAP_PORT)
		rc = espdp_send_ike(v->dp, msg, len, &to, from);
	else
		rc = sock_send4(v->fd500, msg, len, &to, &from, 0);
	if (rc < 0)
		LOG_WARNING(&v->log, "cannot send an IKE message to %s:%u: %s",
			    addr4_str(act->u.send.remote.addr, ep), act->u.send.remote.port,
			    strerror((int)-rc));
}

static void child_up(struct mnd_vpn *v, const struct ike_child_info *c)
{
	char suite[96];
	int rc;

	if (!v->dp)
		return;
	rc = espdp_child_add(v->dp, c, now_ns());
	if (rc < 0) {
		LOG_ERROR(&v->log, "cannot install Child SA %08x_i %08x_o: %s", c->spi_in,
			  c->spi_out, rc == -EOPNOTSUPP ? "algorithm not supported by the data path"
			  : strerror(-rc));
		return;
	}
	LOG_INFO(&v->log, "Child SA %08x_i %08x_o up: %s%s%s", c->spi_in, c->spi_out,
		 proposals_format(&c->suite, IKE_SUITE_ESP, suite, sizeof(suite)),
		 c->udp_encap ? ", UDP-encapsulated" : "",
		 c->replaces_spi_in ? ", replacing an older SA" : "");
	status_write(v);
}

static void apply(struct mnd_vpn *v, struct ike_actions *a)
{
	for (size_t i = 0; i < a->n && i < IKE_ACTIONS_MAX; i++) {
		struct ike_action *act = &a->a[i];

		act->text[sizeof(act->text) - 1] = '\0';
		switch (act->kind) {
		case IKE_ACT_SEND:
			do_send(v, a, act);
			break;
		case IKE_ACT_CHILD_UP:
			child_up(v, &act->u.child);
			break;
		case IKE_ACT_CHILD_DOWN:
			if (v->dp && espdp_child_del(v->dp, act->u.child.spi_in) == 0) {
				LOG_INFO(&v->log, "Child SA %08x_i %08x_o down",
					 act->u.child.spi_in, act->u.child.spi_out);
				status_write(v);
			}
			break;
		case IKE_ACT_SA_UP:
			sa_up(v, &act->u.sa);
			break;
		case IKE_ACT_SA_DOWN:
			sa_down(v, &act->u.sa, act->text);
			break;
		case IKE_ACT_KEYLOG:
			if (v->keylog) {
				fprintf(v->keylog, "%s\n", act->text);
				fflush(v->keylog);
			}
			break;
		}
	}
	ike_actions_clear(a);
	a->n = 0;
	a->buf_len = 0;
}

/* --- timers -------------------------------------------------------------------------- */

static gboolean on_timer(gpointer user)
{
	struct mnd_vpn *v = user;
	mm_time_ns now = now_ns();

	v->timer = 0;
	v->timer_at = 0;
	for (int i = 0; i < TIMER_LOOPS && ike_engine_next_timer(v->engine) <= now; i++) {
		ike_engine_timer(v->engine, now, v->actions);
		apply(v, v->actions);
	}
	schedule_timer(v);
	return G_SOURCE_REMOVE;
}

static void schedule_timer(struct mnd_vpn *v)
{
	mm_time_ns next = ike_engine_next_timer(v->engine), now;
	guint ms;

	if (v->timer && next == v->timer_at)
		return;
	if (v->timer) {
		g_source_remove(v->timer);
		v->timer = 0;
	}
	v->timer_at = 0;
	if (next == IKE_TIME_NEVER)
		return;
	now = now_ns();
	if (next <= now)
		ms = 0;
	else if ((next - now) / MM_MSEC(1) >= TIMER_MAX_MS)
		ms = TIMER_MAX_MS;
	else
		ms = (guint)((next - now + MM_MSEC(1) - 1) / MM_MSEC(1));
	v->timer = g_timeout_add(ms, on_timer, v);
	v->timer_at = next;
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
	if (spi && ike_engine_delete(v->engine, spi, now_ns(), v->actions) == 0)
		apply(v, v->actions);
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
	rc = ike_engine_initiate(v->engine, 0, &local, &remote, now, &spi, v->actions);
	if (rc < 0) {
		LOG_ERROR(&v->log, "cannot initiate an IKE SA: %s", strerror(-rc));
		path_close(v);
		v->retry_at = now + MM_SEC(v->backoff_s);
		return;
	}
	v->state = VPN_CONNECTING;
	v->spi_i = spi;
	v->spi_r = 0;
	LOG_INFO(&v->log, "initiating an IKE SA with %s from %s (%s), attempt %u",
		 addr4_str(v->cfg->gateway, g), addr4_str(addr, a), ifname, v->attempts);
	apply(v, v->actions);
	status_write(v);
	schedule_timer(v);
}

static gboolean on_tick(gpointer user)
{
	struct mnd_vpn *v = user;
	mm_time_ns now = now_ns();

	if (v->dp)
		espdp_poll(v->dp, now);
	if (v->state == VPN_UP && v->sa.nat_local && now >= v->next_keepalive && v->dp) {
		struct sockaddr_in to;

		memset(&to, 0, sizeof(to));
		to.sin_family = AF_INET;
		to.sin_addr = v->sa.remote.addr;
		to.sin_port = htons(v->sa.remote.port);
		v->next_keepalive = now + MM_SEC(NAT_KEEPALIVE_S);
		espdp_send_keepalive(v->dp, &to);
	}
	check_address(v);
	if (v->state == VPN_IDLE && now >= v->retry_at && !v->close_idle && !v->m->stopping)
		try_connect(v, now);
	schedule_timer(v);
	return G_SOURCE_CONTINUE;
}

/* --- start and stop ------------------------------------------------------------------ */

int mnd_vpn_start(struct mnd *m)
{
	const struct mnd_vpn_config *c = &m->cfg.vpn;
	struct mnd_vpn *v;
	struct ike_engine_cfg ec;
	const char *what = "";
	char g[ADDR4_STRLEN], id[256];
	int rc;

	if (!c->enabled)
		return 0;
	v = g_new0(struct mnd_vpn, 1);
	m->vpn = v;
	v->m = m;
	v->cfg = c;
	v->fd500 = v->fd4500 = v->tun_fd = -1;
	v->backoff_s = MND_VPN_BACKOFF_MIN_S;
	logger_init(&v->log, "mnd[vpn]");
	if (c->keylog_file) {
		int fd = open(c->keylog_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
			      0600);

		if (fd < 0 || !(v->keylog = fdopen(fd, "a"))) {
			rc = -errno;
			if (fd >= 0)
				close(fd);
			LOG_ERROR(&v->log, "%s: [%s] keylog-file: cannot open %s: %s", m->cfg.path,
				  MND_VPN_GROUP, c->keylog_file, strerror(-rc));
			return rc;
		}
		LOG_WARNING(&v->log, "keylog-file %s: writing every IKE SA's keys (a debugging "
			    "aid: whoever reads this file can decrypt the IKE traffic)",
			    c->keylog_file);
	}
	v->tun_fd = espdp_open_tun(c->tunnel_device, c->tunnel_mtu, any4, NULL, 0, v->tun_name,
				   &v->tun_ifindex, &what);
	if (v->tun_fd < 0) {
		LOG_ERROR(&v->log, "%s: [%s] tunnel-device: %s %s: %s", m->cfg.path,
			  MND_VPN_GROUP, what, c->tunnel_device, strerror(-v->tun_fd));
		return v->tun_fd;
	}
	memset(&ec, 0, sizeof(ec));
	ec.default_role = IKE_ROLE_INITIATOR;
	ec.peers = &c->peer;
	ec.npeers = 1;
	ec.ops.user = v;
	ec.retransmit_base = MM_SEC(1);
	ec.retransmit_tries = RETRANSMIT_TRIES;
	ec.keylog = v->keylog != NULL;
	if ((rc = ike_engine_new(&ec, &v->engine)) < 0) {
		LOG_ERROR(&v->log, "cannot start the IKE engine: %s", strerror(-rc));
		return rc;
	}
	v->actions = g_new0(struct ike_actions, 1);
	v->rx_bufs = g_malloc((size_t)RX_SLOTS * RX_BUFSIZE);
	sock_batch_init(&v->rx, v->rx_bufs, RX_SLOTS, RX_BUFSIZE);
	v->srctun = g_unix_fd_add(v->tun_fd, G_IO_IN, on_tun, v);
	v->tick = g_timeout_add(TICK_MS, on_tick, v);
	LOG_NOTICE(&v->log, "VPN client: gateway %s (%s), interfaces %s, tunnel device %s, DPD "
		   "%u s", addr4_str(c->gateway, g), ident_str(&c->peer.remote_id, id, sizeof(id)),
		   c->interfaces, v->tun_name, c->peer.dpd_interval_s);
	status_write(v);
	on_tick(v);
	return 0;
}

void mnd_vpn_stop(struct mnd *m)
{
	struct mnd_vpn *v = m->vpn;
	guint *srcs[4];

	if (!v)
		return;
	/* RFC 7296 1.4.1: tell the gateway; wait briefly for its answer. */
	if (v->engine && v->state != VPN_IDLE && v->spi_i &&
	    ike_engine_delete(v->engine, v->spi_i, now_ns(), v->actions) == 0) {
		mm_time_ns deadline = now_ns() + MM_MSEC(SHUTDOWN_WAIT_MS);

		LOG_NOTICE(&v->log, "deleting the IKE SA %016llx_i %016llx_r",
			   (unsigned long long)v->spi_i, (unsigned long long)v->spi_r);
		apply(v, v->actions);
		schedule_timer(v);
		while (v->state != VPN_IDLE && now_ns() < deadline) {
			g_main_context_iteration(NULL, FALSE);
			g_usleep(1000);
		}
	}
	srcs[0] = &v->srctun;
	srcs[1] = &v->tick;
	srcs[2] = &v->timer;
	srcs[3] = &v->close_idle;
	for (size_t i = 0; i < G_N_ELEMENTS(srcs); i++)
		if (*srcs[i]) {
			g_source_remove(*srcs[i]);
			*srcs[i] = 0;
		}
	routes_set(v, false);
	path_close(v);
	v->state = VPN_IDLE;
	status_write(v);
	ike_engine_free(v->engine);
	if (v->actions) {
		OPENSSL_cleanse(v->actions, sizeof(*v->actions));
		g_free(v->actions);
	}
	g_free(v->rx_bufs);
	if (v->keylog)
		fclose(v->keylog);
	if (v->tun_fd >= 0)
		close(v->tun_fd);
	g_free(v);
	m->vpn = NULL;
}
