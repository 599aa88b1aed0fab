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
 * Every engine call returns actions, carried out in order by apply(): SEND (port 4500: the
 * non-ESP marker in front, RFC 3948 2.2), CHILD_UP / CHILD_DOWN -> data path, SA_UP /
 * SA_DOWN -> log lines (and the Child SAs an IKE SA leaves behind are removed), KEYLOG ->
 * the keylog file when configured. Bad configuration or a socket that cannot be bound: one
 * line, exit 1.
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
#include <glib-unix.h>
#include <openssl/crypto.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/sock.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/espdp.h"
#include "daemon/proposals.h"
#include "esp/udpencap.h"
#include "ike/engine.h"
#include "vpngw/conf.h"
#include "vpngw/ctl.h"
#include "vpngw/ident.h"
#include "vpngw/pool.h"

#define IKE_PORT 500
#define RX_SLOTS 32
#define RX_BUFSIZE (IKE_MSG_MAX + 1)   /* one more: a longer datagram shows as truncated */
#define RX_ROUNDS 8                    /* batches per wake-up before the others' turn */
#define DP_ROUNDS 8
#define TIMER_MAX_MS (3600 * 1000)
#define TICK_MS 1000
#define TIMER_LOOPS 64                 /* ike_engine_timer calls per expiry at most */
#define SHUTDOWN_WAIT_MS 1000          /* for the peers to answer our DELETEs */
#define NAT_KEEPALIVE_S 20             /* RFC 3948 4: 20 seconds */
#define JITTER_PERCENT 10              /* soft ESP lifetimes 0..10 % early (daemon/espdp.h) */

/* What the daemon remembers of an established IKE SA (the engine owns the SA itself). */
struct sa_rec {
	uint64_t spi_i, spi_r;
	mm_time_ns established;
	bool nat_local;
	struct sockaddr_in remote;
	mm_time_ns next_keepalive;
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
	struct ike_engine *engine;
	struct pool *pool;
	struct espdp *dp;
	struct control_server *ctl;
	GMainLoop *loop;
	int fd500, fd4500, tun_fd;
	guint src500, src4500, srctun, timer, tick;
	mm_time_ns timer_at;
	struct ike_actions *actions;
	FILE *keylog;
	GHashTable *sas;                 /* spi_i -> struct sa_rec (spi_i is the handle) */
	uint8_t *rx_bufs;
	struct sock_batch rx;
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

static void schedule_timer(struct vpngw *d);
static void free_unused_retired(struct vpngw *d);

static void do_send(struct vpngw *d, const struct ike_actions *a, const struct ike_action *act)
{
	const uint8_t *msg = a->buf + act->u.send.off;
	size_t len = act->u.send.len;
	struct sockaddr_in to;
	struct in_addr from = act->u.send.local.addr;
	char ep[EP_STRLEN];
	ssize_t rc;

	if (act->u.send.off > a->buf_len || len > a->buf_len - act->u.send.off)
		return;
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr = act->u.send.remote.addr;
	to.sin_port = htons(act->u.send.remote.port);
	if (from.s_addr == INADDR_ANY)
		from = d->listen;
	if (act->u.send.local.port == UDPENCAP_PORT)
		rc = espdp_send_ike(d->dp, msg, len, &to, from);
	else
		rc = sock_send4(d->fd500, msg, len, &to, &from, 0);
	if (rc < 0)
		LOG_WARNING(&d->log, "cannot send an IKE message to %s: %s",
			    ep_str(&act->u.send.remote, ep), strerror((int)-rc));
}

static void child_up(struct vpngw *d, const struct ike_child_info *c)
{
	char suite[96], l[64], r[64];
	int rc = espdp_child_add(d->dp, c, now_ns());

	if (rc < 0) {
		LOG_ERROR(&d->log, "cannot install Child SA %08x_i %08x_o: %s", c->spi_in,
			  c->spi_out, rc == -EOPNOTSUPP ? "algorithm not supported by the data path"
			  : strerror(-rc));
		return;
	}
	LOG_INFO(&d->log, "Child SA %08x_i %08x_o up: %s === %s%s, %s%s", c->spi_in, c->spi_out,
		 vpngw_ctl_ts_str(&c->ts_local.ts[0], l, sizeof(l)),
		 vpngw_ctl_ts_str(&c->ts_remote.ts[0], r, sizeof(r)),
		 c->ts_local.n + c->ts_remote.n > 2 ? " (and more)" : "",
		 proposals_format(&c->suite, IKE_SUITE_ESP, suite, sizeof(suite)),
		 c->replaces_spi_in ? ", replacing an older SA" : "");
}

static void sa_up(struct vpngw *d, const struct ike_sa_info *sa)
{
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
	g_hash_table_replace(d->sas, &r->spi_i, r);
	/* IKE SA rekey (RFC 7296 2.18): the Child SAs move to the new SA. */
	if (sa->replaces_spi_i || sa->replaces_spi_r) {
		size_t n = espdp_child_reparent(d->dp, sa->replaces_spi_i, sa->replaces_spi_r,
						sa->spi_i, sa->spi_r);

		LOG_INFO(&d->log, "IKE SA %016llx_i %016llx_r rekeyed to %016llx_i %016llx_r (%zu "
			 "Child SA%s moved)", (unsigned long long)sa->replaces_spi_i,
			 (unsigned long long)sa->replaces_spi_r, (unsigned long long)sa->spi_i,
			 (unsigned long long)sa->spi_r, n, n == 1 ? "" : "s");
		return;
	}
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

	while (ike_engine_next_sa(d->engine, &cursor, &info))
		if (info.replaces_spi_i == sa->spi_i && info.replaces_spi_r == sa->spi_r)
			return true;
	return false;
}

static void sa_down(struct vpngw *d, const struct ike_sa_info *sa, const char *reason)
{
	char id[256], ep[EP_STRLEN];
	size_t left;

	/* The engine removes every Child SA before its IKE SA; what is left goes too (an SA
	 * without its IKE SA could never be rekeyed or deleted). */
	left = espdp_child_del_ike(d->dp, sa->spi_i, sa->spi_r);
	g_hash_table_remove(d->sas, &sa->spi_i);
	free_unused_retired(d);
	/* The old SA of an IKE SA rekey: the peer is still up, on the new one. */
	if (is_rekeyed_away(d, sa)) {
		LOG_INFO(&d->log, "IKE SA %016llx_i %016llx_r replaced: %s",
			 (unsigned long long)sa->spi_i, (unsigned long long)sa->spi_r,
			 reason[0] ? reason : "deleted");
		return;
	}
	LOG_NOTICE(&d->log, "peer %s from %s down: %s (SPIs %016llx_i %016llx_r)%s",
		   ident_str(&sa->peer_id, id, sizeof(id)), ep_str(&sa->remote, ep),
		   reason[0] ? reason : "deleted", (unsigned long long)sa->spi_i,
		   (unsigned long long)sa->spi_r, left ? ", its Child SAs removed" : "");
}

static void keylog(struct vpngw *d, const char *line)
{
	if (!d->keylog)
		return;
	fprintf(d->keylog, "%s\n", line);
	fflush(d->keylog);
}

/* Carry out the engine's actions in order, then wipe the keys they carried. */
static void apply(struct vpngw *d, struct ike_actions *a)
{
	for (size_t i = 0; i < a->n && i < IKE_ACTIONS_MAX; i++) {
		struct ike_action *act = &a->a[i];

		act->text[sizeof(act->text) - 1] = '\0';
		switch (act->kind) {
		case IKE_ACT_SEND:
			do_send(d, a, act);
			break;
		case IKE_ACT_CHILD_UP:
			child_up(d, &act->u.child);
			break;
		case IKE_ACT_CHILD_DOWN:
			if (espdp_child_del(d->dp, act->u.child.spi_in) == 0)
				LOG_INFO(&d->log, "Child SA %08x_i %08x_o down",
					 act->u.child.spi_in, act->u.child.spi_out);
			break;
		case IKE_ACT_SA_UP:
			sa_up(d, &act->u.sa);
			break;
		case IKE_ACT_SA_DOWN:
			sa_down(d, &act->u.sa, act->text);
			break;
		case IKE_ACT_KEYLOG:
			keylog(d, act->text);
			break;
		}
	}
	ike_actions_clear(a);
	a->n = 0;
	a->buf_len = 0;
}

/* --- input --------------------------------------------------------------------------- */

static void engine_input(struct vpngw *d, const uint8_t *msg, size_t len,
			 const struct sock_dgram_meta *m, uint16_t port, mm_time_ns now)
{
	struct ike_endpoint from, to;

	from.addr = m->peer.sin_addr;
	from.port = ntohs(m->peer.sin_port);
	to.addr = m->dst.s_addr ? m->dst : d->listen;
	to.port = port;
	ike_engine_input(d->engine, msg, len, &from, &to, now, d->actions);
	apply(d, d->actions);
}

static gboolean on_500(gint fd, GIOCondition cond, gpointer user)
{
	struct vpngw *d = user;

	(void)fd;
	(void)cond;
	for (int round = 0; round < RX_ROUNDS; round++) {
		int n = sock_recv4_batch(d->fd500, &d->rx);
		mm_time_ns now = now_ns();

		if (n < 0) {
			if (n != -EAGAIN && n != -EINTR)
				LOG_ERROR(&d->log, "receiving on UDP port %d: %s", IKE_PORT,
					  strerror(-n));
			break;
		}
		for (int i = 0; i < n; i++) {
			const struct sock_batch_slot *s = &d->rx.slot[i];

			/* Longer than any message we take (IKE_MSG_MAX): its tail is gone. */
			if (s->truncated)
				continue;
			engine_input(d, s->data, s->len, &s->meta, IKE_PORT, now);
		}
		if ((unsigned)n < d->rx.nslots)
			break;
	}
	schedule_timer(d);
	return G_SOURCE_CONTINUE;
}

/* IKE behind the non-ESP marker on 4500, from the data path. */
static void on_ike_4500(void *user, const uint8_t *msg, size_t len,
			const struct sock_dgram_meta *meta)
{
	engine_input(user, msg, len, meta, UDPENCAP_PORT, now_ns());
}

static void on_expired(void *user, uint32_t spi_in, bool hard)
{
	struct vpngw *d = user;

	ike_engine_child_expired(d->engine, spi_in, hard, now_ns(), d->actions);
	apply(d, d->actions);
}

static void on_activity(void *user, uint32_t spi_in, mm_time_ns now)
{
	struct vpngw *d = user;

	ike_engine_child_activity(d->engine, spi_in, now);
}

static gboolean on_4500(gint fd, GIOCondition cond, gpointer user)
{
	struct vpngw *d = user;

	(void)fd;
	(void)cond;
	espdp_udp_readable(d->dp, now_ns(), DP_ROUNDS);
	schedule_timer(d);
	return G_SOURCE_CONTINUE;
}

static gboolean on_tun(gint fd, GIOCondition cond, gpointer user)
{
	struct vpngw *d = user;

	(void)fd;
	(void)cond;
	espdp_tun_readable(d->dp, now_ns(), DP_ROUNDS);
	schedule_timer(d);
	return G_SOURCE_CONTINUE;
}

/* --- timers -------------------------------------------------------------------------- */

static gboolean on_timer(gpointer user)
{
	struct vpngw *d = user;
	mm_time_ns now = now_ns();

	d->timer = 0;
	d->timer_at = 0;
	/* At most IKE_ACTIONS_MAX actions per call: call again while work is due now. */
	for (int i = 0; i < TIMER_LOOPS && ike_engine_next_timer(d->engine) <= now; i++) {
		ike_engine_timer(d->engine, now, d->actions);
		apply(d, d->actions);
	}
	schedule_timer(d);
	return G_SOURCE_REMOVE;
}

static void schedule_timer(struct vpngw *d)
{
	mm_time_ns next = ike_engine_next_timer(d->engine), now;
	guint ms;

	if (d->timer && next == d->timer_at)
		return;
	if (d->timer) {
		g_source_remove(d->timer);
		d->timer = 0;
	}
	d->timer_at = 0;
	if (next == IKE_TIME_NEVER)
		return;
	now = now_ns();
	if (next <= now)
		ms = 0;
	else if ((next - now) / MM_MSEC(1) >= TIMER_MAX_MS)
		ms = TIMER_MAX_MS;
	else
		ms = (guint)((next - now + MM_MSEC(1) - 1) / MM_MSEC(1));
	d->timer = g_timeout_add(ms, on_timer, d);
	d->timer_at = next;
}

/* Once a second: ESP time lifetimes, and NAT keepalives where we are the one behind a NAT
 * (RFC 3948 2.3, 4). */
static gboolean on_tick(gpointer user)
{
	struct vpngw *d = user;
	mm_time_ns now = now_ns();
	GHashTableIter it;
	gpointer v;

	espdp_poll(d->dp, now);
	g_hash_table_iter_init(&it, d->sas);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct sa_rec *r = v;

		if (!r->nat_local || now < r->next_keepalive)
			continue;
		r->next_keepalive = now + MM_SEC(NAT_KEEPALIVE_S);
		espdp_send_keepalive(d->dp, &r->remote);
	}
	schedule_timer(d);
	return G_SOURCE_CONTINUE;
}

/* --- control socket ------------------------------------------------------------------ */

static char *ctl_stats(struct vpngw *d)
{
	struct ike_engine_stats es;
	struct vpngw_ctl_pool p = { pool_size(d->pool), pool_in_use(d->pool) };
	struct ike_sa_info info;
	size_t cursor = 0, n = 0;

	ike_engine_stats(d->engine, &es);
	while (ike_engine_next_sa(d->engine, &cursor, &info))
		n++;
	return vpngw_ctl_stats_json(&es, n, &p, d->dp);
}

static char *ctl_list(struct vpngw *d)
{
	GArray *sas = g_array_new(FALSE, TRUE, sizeof(struct vpngw_ctl_sa));
	struct ike_sa_info info;
	size_t cursor = 0;
	char *doc;

	while (ike_engine_next_sa(d->engine, &cursor, &info)) {
		struct vpngw_ctl_sa s;

		memset(&s, 0, sizeof(s));
		s.info = info;
		s.established = info.established;
		s.rekey_at = info.rekey_at;
		g_array_append_val(sas, s);
	}
	doc = vpngw_ctl_list_json((const struct vpngw_ctl_sa *)(void *)sas->data, sas->len,
				  d->dp, now_ns());
	g_array_free(sas, TRUE);
	return doc;
}

/* The engine's handle (spi_i) of the IKE SA with spi as its spi_i or spi_r. */
static int find_ike(struct vpngw *d, uint64_t spi, uint64_t *handle)
{
	struct ike_sa_info info;
	size_t cursor = 0;

	while (ike_engine_next_sa(d->engine, &cursor, &info))
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
	mm_time_ns now = now_ns();
	uint64_t handle = 0;
	uint32_t spi_in = 0;
	char why[160];
	int rc;

	if (req->op == VPNGW_CTL_REKEY_CHILD) {
		rc = vpngw_ctl_find_child(d->dp, (uint32_t)req->spi, &spi_in, &handle);
		if (rc == 0)
			rc = ike_engine_rekey_child(d->engine, handle, spi_in, now, d->actions);
	} else {
		rc = find_ike(d, req->spi, &handle);
		if (rc == 0 && req->op == VPNGW_CTL_REKEY_IKE)
			rc = ike_engine_rekey_ike(d->engine, handle, now, d->actions);
		else if (rc == 0)
			rc = ike_engine_delete(d->engine, handle, now, d->actions);
	}
	apply(d, d->actions);
	schedule_timer(d);
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

static bool conf_in_use(struct vpngw *d, const struct vpngw_conf *c)
{
	struct ike_sa_info info;
	size_t cursor = 0;

	while (ike_engine_next_sa(d->engine, &cursor, &info))
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

static int open_keylog(struct vpngw *d, const char *path)
{
	int fd;

	/* Mode 0600: the file holds keys (conf.h: a debugging aid). */
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0 || !(d->keylog = fdopen(fd, "a"))) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		LOG_ERROR(&d->log, "%s: [%s] keylog-file: cannot open %s: %s", d->config_path,
			  VPNGW_GATEWAY_GROUP, path, strerror(e));
		return -e;
	}
	LOG_WARNING(&d->log, "keylog-file %s: writing every IKE SA's keys (a debugging aid: "
		    "whoever reads this file can decrypt the IKE traffic)", path);
	return 0;
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
	rc = ike_engine_set_peers(d->engine, nc.peers, nc.npeers);
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
	/* The keylog file follows the new configuration. */
	if (d->keylog) {
		fclose(d->keylog);
		d->keylog = NULL;
	}
	if (d->conf.keylog_file)
		open_keylog(d, d->conf.keylog_file);
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

static int start(struct vpngw *d)
{
	struct espdp_config dc;
	struct ike_engine_cfg ec;
	struct sockaddr_in sa;
	GError *err = NULL;
	const char *what = "";
	char a[ADDR4_STRLEN], n[ADDR4_STRLEN], pooldesc[96];
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

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr = d->listen;
	sa.sin_port = htons(IKE_PORT);
	d->fd500 = sock_udp4_open(&sa, SOCK_F_REUSEADDR | SOCK_F_PKTINFO);
	if (d->fd500 >= 0)
		d->fd4500 = espdp_open_udp(d->listen, UDPENCAP_PORT);
	if (d->fd500 < 0 || d->fd4500 < 0) {
		LOG_ERROR(&d->log, "%s: [%s] listen: cannot bind %s:%d: %s (is the address "
			  "configured here, and no other IKE daemon running?)", d->config_path,
			  VPNGW_GATEWAY_GROUP, addr4_str(d->listen, a),
			  d->fd500 < 0 ? IKE_PORT : UDPENCAP_PORT,
			  strerror(d->fd500 < 0 ? -d->fd500 : -d->fd4500));
		return -EADDRNOTAVAIL;
	}
	sock_set_buffers(d->fd500, SOCK_DATAPATH_BUF, SOCK_DATAPATH_BUF);
	d->rx_bufs = g_malloc((size_t)RX_SLOTS * RX_BUFSIZE);
	sock_batch_init(&d->rx, d->rx_bufs, RX_SLOTS, RX_BUFSIZE);

	memset(&dc, 0, sizeof(dc));
	dc.tun_fd = d->tun_fd;
	dc.udp_fd = d->fd4500;
	dc.listen = d->listen;
	dc.jitter_percent = JITTER_PERCENT;
	dc.ike_input = on_ike_4500;
	dc.expired = on_expired;
	dc.activity = on_activity;
	dc.user = d;
	if ((rc = espdp_new(&dc, &d->dp)) < 0) {
		LOG_ERROR(&d->log, "cannot set up the data path: %s", strerror(-rc));
		return rc;
	}

	if (d->conf.keylog_file && (rc = open_keylog(d, d->conf.keylog_file)) < 0)
		return rc;
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
	if ((rc = ike_engine_new(&ec, &d->engine)) < 0) {
		LOG_ERROR(&d->log, "cannot start the IKE engine: %s", strerror(-rc));
		return rc;
	}
	d->actions = g_new0(struct ike_actions, 1);
	d->sas = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);

	d->ctl = control_server_start(d->conf.control_socket, ctl_handle, d, &err);
	if (!d->ctl) {
		LOG_ERROR(&d->log, "%s: [%s] control-socket: %s", d->config_path,
			  VPNGW_GATEWAY_GROUP, err ? err->message : "cannot listen");
		g_clear_error(&err);
		return -EADDRINUSE;
	}
	d->src500 = g_unix_fd_add(d->fd500, G_IO_IN, on_500, d);
	d->src4500 = g_unix_fd_add(d->fd4500, G_IO_IN, on_4500, d);
	d->srctun = g_unix_fd_add(d->tun_fd, G_IO_IN, on_tun, d);
	d->tick = g_timeout_add(TICK_MS, on_tick, d);
	schedule_timer(d);
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

/* SIGTERM: every IKE SA is deleted (RFC 7296 1.4.1: INFORMATIONAL with DELETE); the peers'
 * answers are awaited briefly so the SAs go cleanly, then everything is torn down. */
static void shutdown_sas(struct vpngw *d)
{
	GArray *spis = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	struct ike_sa_info info;
	size_t cursor = 0;
	mm_time_ns deadline;

	while (ike_engine_next_sa(d->engine, &cursor, &info))
		g_array_append_val(spis, info.spi_i);
	for (guint i = 0; i < spis->len; i++) {
		if (ike_engine_delete(d->engine, g_array_index(spis, uint64_t, i), now_ns(),
				      d->actions) == 0)
			apply(d, d->actions);
	}
	if (spis->len)
		LOG_NOTICE(&d->log, "deleting %u IKE SA%s", spis->len, spis->len == 1 ? "" : "s");
	g_array_free(spis, TRUE);
	schedule_timer(d);
	deadline = now_ns() + MM_MSEC(SHUTDOWN_WAIT_MS);
	while (now_ns() < deadline) {
		cursor = 0;
		if (!ike_engine_next_sa(d->engine, &cursor, &info))
			break;
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
}

static void stop(struct vpngw *d)
{
	guint *srcs[] = { &d->src500, &d->src4500, &d->srctun, &d->timer, &d->tick };

	for (size_t i = 0; i < G_N_ELEMENTS(srcs); i++)
		if (*srcs[i]) {
			g_source_remove(*srcs[i]);
			*srcs[i] = 0;
		}
	control_server_stop(d->ctl);
	ike_engine_free(d->engine);
	espdp_free(d->dp);
	pool_free(d->pool);
	if (d->actions) {
		OPENSSL_cleanse(d->actions, sizeof(*d->actions));
		g_free(d->actions);
	}
	if (d->sas)
		g_hash_table_destroy(d->sas);
	if (d->keylog)
		fclose(d->keylog);
	if (d->fd500 >= 0)
		close(d->fd500);
	if (d->fd4500 >= 0)
		close(d->fd4500);
	if (d->tun_fd >= 0)
		close(d->tun_fd);     /* the device and its route go with it */
	g_free(d->rx_bufs);
	while (d->retired) {
		struct retired *r = d->retired;

		d->retired = r->next;
		vpngw_conf_clear(&r->conf);
		g_free(r);
	}
	vpngw_conf_clear(&d->conf);
}

int main(int argc, char **argv)
{
	static struct vpngw d;
	struct daemon_opts o;
	int rc;

	rc = daemon_parse_args(argc, argv, "vpngw", "/etc/mip4-mobike/vpngw.conf", &o);
	if (rc != 0)
		return rc > 0 ? 0 : DAEMON_EXIT_USAGE;
	daemon_setup_logging(&o);
	d.fd500 = d.fd4500 = d.tun_fd = -1;
	d.config_path = o.config_path;
	logger_init(&d.log, "vpngw");
	if (vpngw_conf_load(o.config_path, &d.conf) < 0)
		return 1;
	d.loop = g_main_loop_new(NULL, FALSE);
	if (start(&d) < 0) {
		stop(&d);
		g_main_loop_unref(d.loop);
		return 1;
	}
	daemon_install_signals(d.loop, on_reload, &d);
	g_main_loop_run(d.loop);
	shutdown_sas(&d);
	daemon_remove_signals();
	stop(&d);
	g_main_loop_unref(d.loop);
	LOG_NOTICE(&d.log, "stopped");
	return 0;
}
