/* An IKEv2 engine on the GLib main loop, shared by vpngw and mnd. See ikeloop.h. */
#include "daemon/ikeloop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <openssl/crypto.h>

#include "common/sock.h"
#include "esp/udpencap.h"

#define IKE_PORT 500                    /* RFC 7296 2 */
#define DP_ROUNDS 8                     /* data path batches per wake-up */
#define TIMER_MAX_MS (3600 * 1000)      /* longest single GLib timeout */
#define TIMER_LOOPS 64                  /* ike_engine_timer calls per expiry at most */
#define JITTER_PERCENT 10               /* soft ESP lifetimes 0..10 % early (espdp.h) */
#define EP_STRLEN (ADDR4_STRLEN + 6)

struct ikeloop {
	struct logger log;
	struct ikeloop_ops ops;
	struct ike_engine *engine;
	struct ike_actions *actions;
	FILE *keylog;
	int tun_fd;
	guint srctun, timer;
	mm_time_ns timer_at;
	/* the path */
	struct in_addr local;            /* our address where a datagram's own is unknown */
	int fd500, fd4500;
	guint src500, src4500;
	struct espdp *dp;
	int rx_sockbuf;
	unsigned rx_rounds;
	uint8_t *rx_bufs;
	struct sock_batch rx;
};

static mm_time_ns now_ns(void)
{
	return clock_now(clock_monotonic());
}

/* --- actions ------------------------------------------------------------------------- */

int ikeloop_addr_ifindex(struct in_addr addr)
{
	struct ifaddrs *ifa = NULL;
	int idx = 0;

	if (!addr.s_addr || getifaddrs(&ifa) < 0)
		return 0;
	for (struct ifaddrs *p = ifa; p && !idx; p = p->ifa_next) {
		struct in_addr a;

		if (!p->ifa_addr || p->ifa_addr->sa_family != AF_INET)
			continue;
		memcpy(&a, &((const struct sockaddr_in *)(const void *)p->ifa_addr)->sin_addr,
		       sizeof(a));
		if (a.s_addr == addr.s_addr)
			idx = (int)if_nametoindex(p->ifa_name);
	}
	freeifaddrs(ifa);
	return idx;
}

/* The interface a datagram from `from` leaves by: on a path bound to one address the
 * kernel's choice; on a path opened on 0.0.0.0 (mnd with MOBIKE) the interface that holds
 * the address, so IKE and ESP never go into a tunnel whatever the routes say. */
static int out_ifindex(const struct ikeloop *il, struct in_addr from)
{
	return il->local.s_addr ? 0 : ikeloop_addr_ifindex(from);
}

static const char *ep_str(const struct ike_endpoint *ep, char buf[EP_STRLEN])
{
	char a[ADDR4_STRLEN];

	snprintf(buf, EP_STRLEN, "%s:%u", addr4_str(ep->addr, a), ep->port);
	return buf;
}

static void do_send(struct ikeloop *il, const struct ike_actions *a, const struct ike_action *act)
{
	const uint8_t *msg = a->buf + act->u.send.off;
	size_t len = act->u.send.len;
	struct sockaddr_in to;
	struct in_addr from = act->u.send.local.addr;
	char ep[EP_STRLEN];
	ssize_t rc;

	if (act->u.send.off > a->buf_len || len > a->buf_len - act->u.send.off)
		return;
	if (il->fd500 < 0 || !il->dp)
		return;
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr = act->u.send.remote.addr;
	to.sin_port = htons(act->u.send.remote.port);
	if (from.s_addr == INADDR_ANY)
		from = il->local;
	/* RFC 3948 2.2: on 4500, IKE goes behind the non-ESP marker (espdp adds it). */
	if (act->u.send.local.port == UDPENCAP_PORT)
		rc = espdp_send_ike_via(il->dp, msg, len, &to, from, out_ifindex(il, from));
	else
		rc = sock_send4(il->fd500, msg, len, &to, from.s_addr ? &from : NULL,
				out_ifindex(il, from));
	if (rc < 0)
		LOG_WARNING(&il->log, "cannot send an IKE message to %s: %s",
			    ep_str(&act->u.send.remote, ep), strerror((int)-rc));
}

static void child_up(struct ikeloop *il, const struct ike_child_info *c)
{
	int rc;

	if (!il->dp)
		return;
	rc = espdp_child_add(il->dp, c, now_ns());
	if (rc < 0) {
		LOG_ERROR(&il->log, "cannot install Child SA %08x_i %08x_o: %s", c->spi_in,
			  c->spi_out, rc == -EOPNOTSUPP ? "algorithm not supported by the data path"
			  : strerror(-rc));
		return;
	}
	if (!il->local.s_addr)
		espdp_child_set_ifindex(il->dp, c->spi_in, out_ifindex(il, c->local.addr));
	if (il->ops.child_up)
		il->ops.child_up(il->ops.user, c);
}

static void child_down(struct ikeloop *il, const struct ike_child_info *c)
{
	if (!il->dp || espdp_child_del(il->dp, c->spi_in) != 0)
		return;
	LOG_INFO(&il->log, "Child SA %08x_i %08x_o down", c->spi_in, c->spi_out);
	if (il->ops.child_down)
		il->ops.child_down(il->ops.user, c);
}

static void sa_up(struct ikeloop *il, const struct ike_sa_info *sa)
{
	/* MOBIKE (RFC 4555 3.8): from now on only UPDATE_SA_ADDRESSES moves its Child SAs. */
	if (sa->mobike && il->dp)
		espdp_ike_set_mobike(il->dp, sa->spi_i, sa->spi_r);
	/* IKE SA rekey (RFC 7296 2.18): the Child SAs move to the new SA. */
	if (sa->replaces_spi_i || sa->replaces_spi_r) {
		size_t n = il->dp ? espdp_child_reparent(il->dp, sa->replaces_spi_i,
			sa->replaces_spi_r, sa->spi_i, sa->spi_r) : 0;

		LOG_INFO(&il->log, "IKE SA %016llx_i %016llx_r rekeyed to %016llx_i %016llx_r (%zu "
			 "Child SA%s moved)", (unsigned long long)sa->replaces_spi_i,
			 (unsigned long long)sa->replaces_spi_r, (unsigned long long)sa->spi_i,
			 (unsigned long long)sa->spi_r, n, n == 1 ? "" : "s");
	}
	if (il->ops.sa_up)
		il->ops.sa_up(il->ops.user, sa);
}

static void sa_down(struct ikeloop *il, const struct ike_sa_info *sa, const char *reason)
{
	/* The engine removes every Child SA before its IKE SA; what is left goes too. */
	size_t left = il->dp ? espdp_child_del_ike(il->dp, sa->spi_i, sa->spi_r) : 0;

	if (il->ops.sa_down)
		il->ops.sa_down(il->ops.user, sa, reason[0] ? reason : "deleted", left);
}

/* IKE_ACT_SA_MOVED: the IKE SA and all its Child SAs change addresses together (RFC 4555
 * 3.5). The engine logged the move (its NOTICE line); this is the data path's part. */
static size_t sa_moved(struct ikeloop *il, const struct ike_move_info *mv, const char *text)
{
	size_t n = 0;

	if (il->dp)
		n = espdp_ike_move(il->dp, mv->sa.spi_i, mv->sa.spi_r, &mv->sa.local,
				   &mv->sa.remote, mv->udp_encap,
				   out_ifindex(il, mv->sa.local.addr));
	(void)text;
	LOG_INFO(&il->log, "MOBIKE: IKE SA %016llx_i %016llx_r: %zu Child SA%s moved in the "
		 "data path", (unsigned long long)mv->sa.spi_i, (unsigned long long)mv->sa.spi_r,
		 n, n == 1 ? "" : "s");
	return n;
}

static void keylog(struct ikeloop *il, const char *line)
{
	if (!il->keylog)
		return;
	fprintf(il->keylog, "%s\n", line);
	fflush(il->keylog);
}

/* Carry out the engine's actions in order, then wipe the keys they carried. */
static void apply(struct ikeloop *il)
{
	struct ike_actions *a = il->actions;
	/* IKE SAs whose move is to be followed by a handover replay (the actions stay until
	 * ike_actions_clear() below) */
	const struct ike_move_info *replay[IKE_ACTIONS_MAX];
	size_t nreplay = 0;

	for (size_t i = 0; i < a->n && i < IKE_ACTIONS_MAX; i++) {
		struct ike_action *act = &a->a[i];

		act->text[sizeof(act->text) - 1] = '\0';
		switch (act->kind) {
		case IKE_ACT_SEND:
			do_send(il, a, act);
			break;
		case IKE_ACT_CHILD_UP:
			child_up(il, &act->u.child);
			break;
		case IKE_ACT_CHILD_DOWN:
			child_down(il, &act->u.child);
			break;
		case IKE_ACT_SA_UP:
			sa_up(il, &act->u.sa);
			break;
		case IKE_ACT_SA_DOWN:
			sa_down(il, &act->u.sa, act->text);
			break;
		case IKE_ACT_KEYLOG:
			keylog(il, act->text);
			break;
		case IKE_ACT_SA_MOVED:
			if (sa_moved(il, &act->u.move, act->text) && il->dp)
				replay[nreplay++] = &act->u.move;
			if (il->ops.action)
				il->ops.action(il->ops.user, a, act);
			break;
		case IKE_ACT_MOVE_FAILED:     /* logged by the engine */
		case IKE_ACT_PEER_ADDRESSES:
			if (il->ops.action)
				il->ops.action(il->ops.user, a, act);
			break;
		default:
			/* A kind newer than this file: the daemon's, if it knows it. */
			if (il->ops.action)
				il->ops.action(il->ops.user, a, act);
			break;
		}
	}
	/* What went to the old address since the peer left it, again to the new one (a no-op
	 * unless the daemon turned handover replay on: espdp_set_replay); after the sends of
	 * this batch, so the answer to UPDATE_SA_ADDRESSES does not queue behind the burst. */
	for (size_t i = 0; i < nreplay; i++)
		espdp_ike_replay(il->dp, replay[i]->sa.spi_i, replay[i]->sa.spi_r, now_ns(),
				 replay[i]->sa.rtt, replay[i]->received, replay[i]->nreceived);
	ike_actions_clear(a);
	a->n = 0;
	a->buf_len = 0;
}

/* --- timers -------------------------------------------------------------------------- */

static gboolean on_timer(gpointer user)
{
	struct ikeloop *il = user;
	mm_time_ns now = now_ns();

	il->timer = 0;
	il->timer_at = 0;
	/* At most IKE_ACTIONS_MAX actions per call: call again while work is due now. */
	for (int i = 0; i < TIMER_LOOPS && ike_engine_next_timer(il->engine) <= now; i++) {
		ike_engine_timer(il->engine, now, il->actions);
		apply(il);
	}
	ikeloop_schedule(il);
	return G_SOURCE_REMOVE;
}

void ikeloop_schedule(struct ikeloop *il)
{
	mm_time_ns next = ike_engine_next_timer(il->engine), now;
	guint ms;

	if (il->timer && next == il->timer_at)
		return;
	if (il->timer) {
		g_source_remove(il->timer);
		il->timer = 0;
	}
	il->timer_at = 0;
	if (next == IKE_TIME_NEVER)
		return;
	now = now_ns();
	if (next <= now)
		ms = 0;
	else if ((next - now) / MM_MSEC(1) >= TIMER_MAX_MS)
		ms = TIMER_MAX_MS;
	else
		ms = (guint)((next - now + MM_MSEC(1) - 1) / MM_MSEC(1));
	il->timer = g_timeout_add(ms, on_timer, il);
	il->timer_at = next;
}

void ikeloop_apply(struct ikeloop *il)
{
	apply(il);
	ikeloop_schedule(il);
}

void ikeloop_poll(struct ikeloop *il, mm_time_ns now)
{
	if (il->dp)
		espdp_poll(il->dp, now);
}

/* --- input --------------------------------------------------------------------------- */

static void engine_input(struct ikeloop *il, const uint8_t *msg, size_t len,
			 const struct sock_dgram_meta *m, uint16_t port, mm_time_ns now)
{
	struct ike_endpoint from, to;

	from.addr = m->peer.sin_addr;
	from.port = ntohs(m->peer.sin_port);
	to.addr = m->dst.s_addr ? m->dst : il->local;
	to.port = port;
	ike_engine_input(il->engine, msg, len, &from, &to, now, il->actions);
	apply(il);
}

static gboolean on_500(gint fd, GIOCondition cond, gpointer user)
{
	struct ikeloop *il = user;

	(void)fd;
	(void)cond;
	/* The path may close under us (mnd): fd500 is looked at again after each input. */
	for (unsigned round = 0; round < il->rx_rounds && il->fd500 >= 0; round++) {
		int n = sock_recv4_batch(il->fd500, &il->rx);
		mm_time_ns now = now_ns();

		if (n < 0) {
			if (n != -EAGAIN && n != -EINTR)
				LOG_ERROR(&il->log, "receiving on UDP port %d: %s", IKE_PORT,
					  strerror(-n));
			break;
		}
		for (int i = 0; i < n && il->fd500 >= 0; i++) {
			const struct sock_batch_slot *s = &il->rx.slot[i];

			/* Longer than any message we take (IKE_MSG_MAX): its tail is gone. */
			if (s->truncated)
				continue;
			engine_input(il, s->data, s->len, &s->meta, IKE_PORT, now);
		}
		if ((unsigned)n < il->rx.nslots)
			break;
	}
	ikeloop_schedule(il);
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
	struct ikeloop *il = user;

	ike_engine_child_expired(il->engine, spi_in, hard, now_ns(), il->actions);
	apply(il);
}

static void on_activity(void *user, uint32_t spi_in, mm_time_ns now)
{
	struct ikeloop *il = user;

	ike_engine_child_activity(il->engine, spi_in, now);
}

static gboolean on_4500(gint fd, GIOCondition cond, gpointer user)
{
	struct ikeloop *il = user;

	(void)fd;
	(void)cond;
	/* The path may have been closed since this wake-up was due (mnd). */
	if (il->dp)
		espdp_udp_readable(il->dp, now_ns(), DP_ROUNDS);
	ikeloop_schedule(il);
	return G_SOURCE_CONTINUE;
}

static gboolean on_tun(gint fd, GIOCondition cond, gpointer user)
{
	struct ikeloop *il = user;
	uint8_t junk[2048];

	(void)cond;
	if (il->dp) {
		espdp_tun_readable(il->dp, now_ns(), DP_ROUNDS);
	} else {
		/* No tunnel: what the kernel routes here is dropped. */
		while (read(fd, junk, sizeof(junk)) > 0)
			;
	}
	ikeloop_schedule(il);
	return G_SOURCE_CONTINUE;
}

/* --- the path ------------------------------------------------------------------------ */

int ikeloop_path_open(struct ikeloop *il, struct in_addr local, const char *ifname,
		      uint16_t *failed_port)
{
	struct espdp_config dc;
	struct sockaddr_in sa;
	uint16_t port = IKE_PORT;
	int rc;

	if (il->dp || il->fd500 >= 0 || il->fd4500 >= 0)
		return -EALREADY;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr = local;
	sa.sin_port = htons(IKE_PORT);
	il->fd500 = sock_udp4_open(&sa, SOCK_F_REUSEADDR | SOCK_F_PKTINFO);
	if (il->fd500 < 0) {
		rc = il->fd500;
		goto fail;
	}
	port = UDPENCAP_PORT;
	il->fd4500 = espdp_open_udp(local, UDPENCAP_PORT);
	if (il->fd4500 < 0) {
		rc = il->fd4500;
		goto fail;
	}
	port = 0;
	/* Bound to the device too: IKE and ESP never go into our own tunnel, whatever the
	 * routes say (mnd). */
	if (ifname && ((rc = sock_bind_device(il->fd500, ifname)) < 0 ||
		       (rc = sock_bind_device(il->fd4500, ifname)) < 0))
		goto fail;
	if (il->rx_sockbuf)
		sock_set_buffers(il->fd500, il->rx_sockbuf, il->rx_sockbuf);
	memset(&dc, 0, sizeof(dc));
	dc.tun_fd = il->tun_fd;
	dc.udp_fd = il->fd4500;
	dc.listen = local;
	dc.jitter_percent = JITTER_PERCENT;
	dc.ike_input = on_ike_4500;
	dc.expired = on_expired;
	dc.activity = on_activity;
	dc.user = il;
	if ((rc = espdp_new(&dc, &il->dp)) < 0)
		goto fail;
	il->local = local;
	il->src500 = g_unix_fd_add(il->fd500, G_IO_IN, on_500, il);
	il->src4500 = g_unix_fd_add(il->fd4500, G_IO_IN, on_4500, il);
	return 0;
fail:
	if (failed_port)
		*failed_port = port;
	ikeloop_path_close(il);
	return rc;
}

void ikeloop_path_close(struct ikeloop *il)
{
	if (!il)
		return;
	g_clear_handle_id(&il->src500, g_source_remove);
	g_clear_handle_id(&il->src4500, g_source_remove);
	espdp_free(il->dp);
	il->dp = NULL;
	if (il->fd500 >= 0)
		close(il->fd500);
	if (il->fd4500 >= 0)
		close(il->fd4500);
	il->fd500 = il->fd4500 = -1;
}

/* --- keylog -------------------------------------------------------------------------- */

int ikeloop_keylog_open(const struct logger *log, const char *config_path, const char *group,
			const char *path, FILE **out)
{
	FILE *f = NULL;
	int fd;

	/* Mode 0600: the file holds keys (a debugging aid). */
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0 || !(f = fdopen(fd, "a"))) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		LOG_ERROR(log, "%s: [%s] keylog-file: cannot open %s: %s", config_path, group,
			  path, strerror(e));
		return -e;
	}
	LOG_WARNING(log, "keylog-file %s: writing every IKE SA's keys (a debugging aid: "
		    "whoever reads this file can decrypt the IKE traffic)", path);
	*out = f;
	return 0;
}

void ikeloop_set_keylog(struct ikeloop *il, FILE *f)
{
	if (il->keylog)
		fclose(il->keylog);
	il->keylog = f;
}

/* --- life cycle ---------------------------------------------------------------------- */

int ikeloop_new(const struct ikeloop_cfg *cfg, struct ikeloop **out)
{
	struct ikeloop *il;
	int rc;

	if (!cfg || !cfg->engine || !cfg->log || !out || cfg->tun_fd < 0 || !cfg->rx_slots ||
	    cfg->rx_slots > SOCK_BATCH_MAX || !cfg->rx_rounds) {
		if (cfg && cfg->keylog)
			fclose(cfg->keylog);
		return -EINVAL;
	}
	il = g_new0(struct ikeloop, 1);
	il->log = *cfg->log;
	il->ops = cfg->ops;
	il->keylog = cfg->keylog;
	il->tun_fd = cfg->tun_fd;
	il->fd500 = il->fd4500 = -1;
	il->rx_sockbuf = cfg->rx_sockbuf;
	il->rx_rounds = cfg->rx_rounds;
	if ((rc = ike_engine_new(cfg->engine, &il->engine)) < 0) {
		LOG_ERROR(&il->log, "cannot start the IKE engine: %s", strerror(-rc));
		ikeloop_free(il);
		return rc;
	}
	il->actions = g_new0(struct ike_actions, 1);
	il->rx_bufs = g_malloc((size_t)cfg->rx_slots * (IKE_MSG_MAX + 1));
	/* One byte more than IKE_MSG_MAX: a longer datagram shows as truncated. */
	sock_batch_init(&il->rx, il->rx_bufs, cfg->rx_slots, IKE_MSG_MAX + 1);
	il->srctun = g_unix_fd_add(il->tun_fd, G_IO_IN, on_tun, il);
	*out = il;
	return 0;
}

void ikeloop_free(struct ikeloop *il)
{
	if (!il)
		return;
	g_clear_handle_id(&il->srctun, g_source_remove);
	g_clear_handle_id(&il->timer, g_source_remove);
	ikeloop_path_close(il);
	ike_engine_free(il->engine);
	if (il->actions) {
		OPENSSL_cleanse(il->actions, sizeof(*il->actions));
		g_free(il->actions);
	}
	g_free(il->rx_bufs);
	if (il->keylog)
		fclose(il->keylog);
	g_free(il);
}

struct ike_engine *ikeloop_engine(const struct ikeloop *il)
{
	return il ? il->engine : NULL;
}

struct ike_actions *ikeloop_actions(const struct ikeloop *il)
{
	return il ? il->actions : NULL;
}

struct espdp *ikeloop_dp(const struct ikeloop *il)
{
	return il ? il->dp : NULL;
}

void ikeloop_wait(struct ikeloop *il, unsigned ms, bool (*done)(void *user))
{
	mm_time_ns deadline = now_ns() + MM_MSEC(ms);

	while (!done(il->ops.user) && now_ns() < deadline) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
}
