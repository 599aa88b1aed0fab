/* Registration adapter: the UDP socket the mobile node registers from, and the mn_engine
 * (mip4/mn_engine.h) that decides what to send. The socket is bound to the care-of address
 * (RFC 5944 §3.6.1.1: the source of a co-located registration is the CoA) and, with
 * SO_BINDTODEVICE, to its interface, so requests never enter the tunnel whatever the
 * routing tables say. It is kept while the CoA stays the same, so re-registrations and RFC
 * 3519 tunnel data use one source port (RFC 3519 §4.4, §4.9); a new CoA gets a new socket.
 * At home it is bound to the home address on the home link (§3.6.1.1).
 *
 * Two registrations may run at once (struct mnd_reg): the one in force (m->reg), and the
 * trust probe (m->probe, RFC 5266 3.4): a Registration Request sent from a new physical
 * address without VPN encapsulation while the registration in force may stay where it is
 * (the TIA inside the VPN, mode mc). An accepted probe is adopted: the two swap.
 *
 * Through a foreign agent (mode f, RFC 5944 3.6.1.1): the socket is bound to the home
 * address on the access interface, requests go to the agent's address with IP TTL 255 (RFC
 * 3024 4.1.1), and replies come from the agent's port 434. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib-unix.h>

#include "common/sock.h"
#include "mip4/reg.h"
#include "mnd/mnd.h"

/* Datagrams read per wake-up, so the loop stays fair to the other sources. */
#define REG_READ_BUDGET 64

static mm_time_ns now_ns(void)
{
	return clock_now(clock_monotonic());
}

static void reg_close_socket(struct mnd_reg *r)
{
	if (r->watch) {
		g_source_remove(r->watch);
		r->watch = 0;
	}
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	r->src.s_addr = 0;
	r->ifname[0] = 0;
	r->port = 0;
	r->ttl = 0;
}

/* The IP TTL the engine asks for (0: the socket's default, -1 to the kernel). */
static void reg_set_ttl(struct mnd_reg *r, int ttl)
{
	int v = ttl ? ttl : -1;

	if (r->ttl == ttl)
		return;
	if (setsockopt(r->fd, IPPROTO_IP, IP_TTL, &v, sizeof(v)) < 0) {
		LOG_WARNING(&r->m->log, "cannot set IP_TTL %d: %s", ttl, strerror(errno));
		return;
	}
	r->ttl = ttl;
}

static bool is_probe(const struct mnd_reg *r)
{
	return r == r->m->probe;
}

/* For the log: the role, which moves with the struct when the two swap. */
static const char *what(const struct mnd_reg *r)
{
	return is_probe(r) ? "probe" : "registration";
}

static void run_actions(struct mnd_reg *r, const struct mn_actions *a)
{
	struct mnd *m = r->m;
	bool status = false, changed = false, answered = false;

	for (unsigned i = 0; i < a->count; i++) {
		const struct mn_action *act = &a->act[i];
		struct sockaddr_in to;
		char s[ADDR4_STRLEN];
		ssize_t n;

		switch (act->kind) {
		case MN_ACT_SEND:
			if (r->fd < 0 || act->src.s_addr != r->src.s_addr) {
				LOG_WARNING(&m->log, "no %s socket for source %s: request not "
					    "sent", what(r), addr4_str(act->src, s));
				break;
			}
			memset(&to, 0, sizeof(to));
			to.sin_family = AF_INET;
			to.sin_addr = act->dst;
			to.sin_port = htons(act->port);
			reg_set_ttl(r, act->ttl);
			n = sock_send4(r->fd, a->msg, a->msg_len, &to, NULL, 0);
			r->sent++;
			changed |= !is_probe(r);    /* mode.c reports unanswered requests */
			if (n < 0)
				LOG_WARNING(&m->log, "cannot send the Registration Request (%s) "
					    "to %s: %s (the engine retries)", what(r),
					    addr4_str(act->dst, s), strerror((int)-n));
			else if (!is_probe(r))
				m->last_tx = now_ns();
			break;
		case MN_ACT_STATE:
			status = true;
			break;
		case MN_ACT_BINDING_UP:
			r->bound = true;
			r->binding = act->binding;
			if (is_probe(r)) {
				answered = true;
			} else {
				mnd_dp_binding_up(m, &act->binding);
				changed = true;
			}
			status = true;
			break;
		case MN_ACT_BINDING_DOWN:
			r->bound = false;
			if (!is_probe(r)) {
				mnd_dp_binding_down(m);
				changed = true;
			}
			status = true;
			break;
		case MN_ACT_DEREGISTERED:
			/* An authenticated, fresh answer from the home agent to the request sent
			 * on the home link: the evidence mode.c needs to call it home (a hostile
			 * DHCP server handing out the home address gives none). */
			if (!is_probe(r) && act->answered) {
				m->home_confirmed = true;
				changed = true;
			}
			status = true;
			break;
		case MN_ACT_DENIED:
			/* The foreign agent itself said no (RFC 5944 3.7.2.1, codes 64-127): this
			 * attachment registers directly (mode c) instead. */
			if (act->by_fa && r->fa.s_addr) {
				m->fa_refused = true;
				changed = true;
			}
			status = true;
			break;
		}
	}
	mnd_timer_arm(r->timer, a->deadline);
	/* After the loop: mode.c may swap the registrations or move this one. */
	if (answered)
		mnd_mode_probe_answered(m, &r->binding);
	else if (changed)
		mnd_mode_reg_changed(m);
	else if (status)
		mnd_status_write(m);
}

static void on_timer(void *user)
{
	struct mnd_reg *r = user;
	struct mn_actions a;

	if (mn_engine_timer(r->engine, now_ns(), &a) == 0)
		run_actions(r, &a);
}

static void datagram(struct mnd_reg *r, const uint8_t *buf, size_t len,
		     const struct sock_dgram_meta *meta)
{
	struct mnd *m = r->m;
	struct mn_actions a;
	char s[ADDR4_STRLEN];
	int type = mip4_msg_type(buf, len);

	/* Replies and tunnel data come from the home agent's port 434 (RFC 3519 §4.3: the
	 * tunnel's addresses and ports must match exactly); through a foreign agent, replies
	 * come from the agent (RFC 5944 3.7.3.2). */
	if (meta->peer.sin_addr.s_addr != (r->fa.s_addr ? r->fa : m->cfg.home_agent).s_addr ||
	    ntohs(meta->peer.sin_port) != MIP4_PORT) {
		LOG_DEBUG(&m->log, "dropped: datagram from %s:%u, not the %s",
			  addr4_str(meta->peer.sin_addr, s), ntohs(meta->peer.sin_port),
			  r->fa.s_addr ? "foreign agent" : "home agent");
		return;
	}
	if (type == MIP4_MSG_TUNNEL_DATA && !is_probe(r) && !r->fa.s_addr) {
		mnd_dp_udp_input(m, buf, len, meta->peer.sin_addr, ntohs(meta->peer.sin_port));
		return;
	}
	if (type != MIP4_MSG_REG_REPLY) {
		LOG_WARNING(&m->log, "dropped: message type %d from the home agent on the "
			    "%s socket", type, what(r));
		return;
	}
	/* The engine logs and counts whatever it drops (unauthenticated, not fresh, not ours:
	 * nothing changes, RFC 5944 3.6.2.1); on success it returns actions. */
	if (mn_engine_reply(r->engine, buf, len, meta->peer.sin_addr, now_ns(), &a) == 0)
		run_actions(r, &a);
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer user)
{
	struct mnd_reg *r = user;
	struct mnd *m = r->m;

	(void)cond;
	for (int i = 0; i < REG_READ_BUDGET; i++) {
		struct sock_dgram_meta meta;
		ssize_t n = sock_recv4(fd, m->pkt, MND_PKT_MAX, &meta);

		if (n == -EAGAIN || n == -EWOULDBLOCK)
			break;
		if (n == -EMSGSIZE) {
			LOG_WARNING(&m->log, "dropped: oversized datagram on the %s socket",
				    what(r));
			continue;
		}
		if (n < 0) {
			/* ICMP errors (port unreachable from the HA) surface here: harmless. */
			LOG_DEBUG(&m->log, "%s socket: %s", what(r), strerror((int)-n));
			if (n == -ECONNREFUSED || n == -EHOSTUNREACH || n == -ENETUNREACH)
				continue;
			break;
		}
		datagram(r, m->pkt, (size_t)n, &meta);
		if (r->fd != fd)
			break; /* the handler moved us to another socket (or swapped) */
	}
	return G_SOURCE_CONTINUE;
}

/* A socket bound to src:ephemeral on ifname, unless we have it already. */
static int reg_socket(struct mnd_reg *r, struct in_addr src, const char *ifname)
{
	struct mnd *m = r->m;
	struct sockaddr_in bind_to, local;
	char s[ADDR4_STRLEN];
	int fd, rc;

	if (r->fd >= 0 && r->src.s_addr == src.s_addr && strcmp(r->ifname, ifname) == 0)
		return 0;
	reg_close_socket(r);
	memset(&bind_to, 0, sizeof(bind_to));
	bind_to.sin_family = AF_INET;
	bind_to.sin_addr = src;
	fd = sock_udp4_open(&bind_to, SOCK_F_FREEBIND);
	if (fd < 0) {
		LOG_ERROR(&m->log, "cannot open the %s socket on %s: %s", what(r),
			  addr4_str(src, s), strerror(-fd));
		return fd;
	}
	rc = sock_bind_device(fd, ifname);
	/* UDP tunnel data (RFC 3519) arrives here too, replays in bursts (daemon/replay.h). */
	if (rc == 0 && sock_set_buffers(fd, SOCK_DATAPATH_BUF, 0) < 0)
		LOG_WARNING(&m->log, "cannot enlarge the %s socket's receive buffer", what(r));
	if (rc == 0)
		rc = sock_local4(fd, &local);
	if (rc < 0) {
		LOG_ERROR(&m->log, "cannot bind the %s socket to %s: %s", what(r), ifname,
			  strerror(-rc));
		close(fd);
		return rc;
	}
	r->fd = fd;
	r->src = src;
	snprintf(r->ifname, sizeof(r->ifname), "%s", ifname);
	r->port = ntohs(local.sin_port);
	r->watch = g_unix_fd_add(fd, G_IO_IN, on_readable, r);
	LOG_INFO(&m->log, "%s socket %s:%u on %s", what(r), addr4_str(src, s), r->port,
		 ifname);
	return 0;
}

static void locate(struct mnd_reg *r, const struct mnd_location *loc)
{
	struct in_addr none = { 0 };
	struct mn_actions a;
	int rc = 0;

	r->sent = 0;
	r->located_at = now_ns();
	r->fa.s_addr = 0;
	switch (loc->where) {
	case MND_HOME:
		rc = reg_socket(r, r->m->cfg.home_addr, loc->ifname);
		if (rc == 0)
			rc = mn_engine_set_location(r->engine, true, none, now_ns(), &a);
		break;
	case MND_AWAY:
		rc = reg_socket(r, loc->addr, loc->ifname);
		if (rc == 0)
			rc = mn_engine_set_location(r->engine, false, loc->addr, now_ns(), &a);
		break;
	case MND_DETACHED:
		reg_close_socket(r);
		rc = mn_engine_set_location(r->engine, false, none, now_ns(), &a);
		break;
	}
	if (rc == 0)
		run_actions(r, &a);
}

void mnd_reg_locate(struct mnd *m, const struct mnd_location *loc)
{
	locate(m->reg, loc);
}

void mnd_reg_probe(struct mnd *m, const struct mnd_location *loc)
{
	struct mnd_location none;

	if (!loc) {
		memset(&none, 0, sizeof(none));
		none.where = MND_DETACHED;
		loc = &none;
	}
	/* A fresh request from the new address, whatever the engine did before (a probe
	 * again on the same address, mnd_mode_redetect(), starts from nothing too). */
	if (loc->where == MND_AWAY) {
		memset(&none, 0, sizeof(none));
		none.where = MND_DETACHED;
		locate(m->probe, &none);
	}
	locate(m->probe, loc);
}

void mnd_reg_probe_fa(struct mnd *m, const struct mnd_location *loc,
		      const struct policy_agent *a)
{
	struct mnd_reg *r = m->probe;
	struct mn_fa_location fl;
	struct mn_actions act;
	char s[ADDR4_STRLEN], c[ADDR4_STRLEN];
	int rc;

	memset(&fl, 0, sizeof(fl));
	fl.fa = a->addr;
	fl.coa = a->coa[0];
	fl.reg_lifetime = a->reg_lifetime;
	fl.adv_flags = a->flags;
	r->sent = 0;
	r->located_at = now_ns();
	rc = reg_socket(r, m->cfg.home_addr, loc->ifname);
	if (rc == 0)
		rc = mn_engine_set_location_fa(r->engine, &fl, now_ns(), &act);
	if (rc < 0) {
		LOG_WARNING(&m->log, "cannot register through the foreign agent %s: %s",
			    addr4_str(a->addr, s), strerror(-rc));
		return;
	}
	r->fa = a->addr;
	LOG_INFO(&m->log, "registering through the foreign agent %s, care-of address %s",
		 addr4_str(a->addr, s), addr4_str(a->coa[0], c));
	run_actions(r, &act);
}

void mnd_reg_fa_rebooted(struct mnd *m)
{
	struct mn_actions a;

	if (m->reg->fa.s_addr && mn_engine_fa_rebooted(m->reg->engine, now_ns(), &a) == 0)
		run_actions(m->reg, &a);
}

void mnd_reg_adopt_probe(struct mnd *m)
{
	struct mnd_reg *old = m->reg;

	m->reg = m->probe;
	m->probe = old;
	/* The old registration is not deregistered: the home agent's accepted reply to the
	 * probe replaced that binding already (one binding per home address, RFC 5944 3.8). */
	mnd_reg_probe(m, NULL);
}

void mnd_reg_refresh(struct mnd *m)
{
	struct mn_actions a;

	if (mn_engine_reregister(m->reg->engine, now_ns(), &a) == 0)
		run_actions(m->reg, &a);
}

static int reg_new(struct mnd *m, const char *name, struct mnd_reg **out)
{
	struct mn_engine_config ec;
	struct mnd_reg *r = g_new0(struct mnd_reg, 1);
	int rc;

	r->m = m;
	r->fd = -1;
	memset(&ec, 0, sizeof(ec));
	ec.home_addr = m->cfg.home_addr;
	ec.home_agent = m->cfg.home_agent;
	ec.key = m->cfg.key;
	ec.lifetime = (uint16_t)m->cfg.lifetime;
	ec.reverse_tunnel = m->cfg.reverse_tunnel;
	ec.udp = m->cfg.udp;
	ec.keepalive_default = (uint16_t)m->cfg.keepalive;
	ec.nai = m->cfg.nai;
	rc = mn_engine_new(&ec, &r->engine);
	mip4_key_wipe(&ec.key);
	if (rc < 0) {
		LOG_ERROR(&m->log, "cannot start the %s engine: %s", name, strerror(-rc));
		g_free(r);
		return rc;
	}
	r->timer = mnd_timer_new(on_timer, r);
	*out = r;
	return 0;
}

int mnd_reg_init(struct mnd *m)
{
	int rc = reg_new(m, "registration", &m->reg);

	if (rc == 0)
		rc = reg_new(m, "probe", &m->probe);
	return rc;
}

void mnd_reg_stop(struct mnd *m)
{
	struct mn_actions a;

	if (m->reg && mn_engine_stop(m->reg->engine, now_ns(), &a) == 0)
		run_actions(m->reg, &a);
}

static void reg_free(struct mnd_reg *r)
{
	if (!r)
		return;
	reg_close_socket(r);
	if (r->timer)
		mnd_timer_free(r->timer);
	mn_engine_free(r->engine);
	g_free(r);
}

void mnd_reg_close(struct mnd *m)
{
	reg_free(m->reg);
	reg_free(m->probe);
	m->reg = m->probe = NULL;
}
