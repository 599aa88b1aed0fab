/* Registration adapter: the UDP socket the mobile node registers from, and the mn_engine
 * (mip4/mn_engine.h) that decides what to send. The socket is bound to the care-of address
 * (RFC 5944 §3.6.1.1: the source of a co-located registration is the CoA) and, with
 * SO_BINDTODEVICE, to its interface, so requests never enter the tunnel whatever the
 * routing tables say. It is kept while the CoA stays the same, so re-registrations and RFC
 * 3519 tunnel data use one source port (RFC 3519 §4.4, §4.9); a new CoA gets a new socket.
 * At home it is bound to the home address on the home link (§3.6.1.1). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

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

static void reg_close_socket(struct mnd *m)
{
	if (m->reg_watch) {
		g_source_remove(m->reg_watch);
		m->reg_watch = 0;
	}
	if (m->reg_fd >= 0) {
		close(m->reg_fd);
		m->reg_fd = -1;
	}
	m->reg_src.s_addr = 0;
	m->reg_ifname[0] = 0;
	m->reg_port = 0;
}

static void run_actions(struct mnd *m, const struct mn_actions *a)
{
	bool status = false;

	for (unsigned i = 0; i < a->count; i++) {
		const struct mn_action *act = &a->act[i];
		struct sockaddr_in to;
		char s[ADDR4_STRLEN];
		ssize_t n;

		switch (act->kind) {
		case MN_ACT_SEND:
			if (m->reg_fd < 0 || act->src.s_addr != m->reg_src.s_addr) {
				LOG_WARNING(&m->log, "no registration socket for source %s: "
					    "request not sent", addr4_str(act->src, s));
				break;
			}
			memset(&to, 0, sizeof(to));
			to.sin_family = AF_INET;
			to.sin_addr = act->dst;
			to.sin_port = htons(act->port);
			n = sock_send4(m->reg_fd, a->msg, a->msg_len, &to, NULL, 0);
			if (n < 0)
				LOG_WARNING(&m->log, "cannot send the Registration Request to "
					    "%s: %s (the engine retries)",
					    addr4_str(act->dst, s), strerror((int)-n));
			else
				m->last_tx = now_ns();
			break;
		case MN_ACT_STATE:
			status = true;
			break;
		case MN_ACT_BINDING_UP:
			mnd_dp_binding_up(m, &act->binding);
			status = true;
			break;
		case MN_ACT_BINDING_DOWN:
			mnd_dp_binding_down(m);
			status = true;
			break;
		case MN_ACT_DENIED:
		case MN_ACT_DEREGISTERED:
			status = true;
			break;
		}
	}
	mnd_timer_arm(m->reg_timer, a->deadline);
	if (status)
		mnd_status_write(m);
}

static void on_timer(void *user)
{
	struct mnd *m = user;
	struct mn_actions a;

	if (mn_engine_timer(m->engine, now_ns(), &a) == 0)
		run_actions(m, &a);
}

static void datagram(struct mnd *m, const uint8_t *buf, size_t len,
		     const struct sock_dgram_meta *meta)
{
	struct mn_actions a;
	char s[ADDR4_STRLEN];
	int type = mip4_msg_type(buf, len);

	/* Replies and tunnel data come from the home agent's port 434 (RFC 3519 §4.3: the
	 * tunnel's addresses and ports must match exactly). */
	if (meta->peer.sin_addr.s_addr != m->cfg.home_agent.s_addr ||
	    ntohs(meta->peer.sin_port) != MIP4_PORT) {
		LOG_DEBUG(&m->log, "dropped: datagram from %s:%u, not the home agent",
			  addr4_str(meta->peer.sin_addr, s), ntohs(meta->peer.sin_port));
		return;
	}
	if (type == MIP4_MSG_TUNNEL_DATA) {
		mnd_dp_udp_input(m, buf, len, meta->peer.sin_addr, ntohs(meta->peer.sin_port));
		return;
	}
	if (type != MIP4_MSG_REG_REPLY) {
		LOG_WARNING(&m->log, "dropped: message type %d from the home agent on the "
			    "registration socket", type);
		return;
	}
	/* The engine logs and counts whatever it drops; on success it returns actions. */
	if (mn_engine_reply(m->engine, buf, len, meta->peer.sin_addr, now_ns(), &a) == 0)
		run_actions(m, &a);
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer user)
{
	struct mnd *m = user;

	(void)cond;
	for (int i = 0; i < REG_READ_BUDGET; i++) {
		struct sock_dgram_meta meta;
		ssize_t n = sock_recv4(fd, m->pkt, MND_PKT_MAX, &meta);

		if (n == -EAGAIN || n == -EWOULDBLOCK)
			break;
		if (n == -EMSGSIZE) {
			LOG_WARNING(&m->log, "dropped: oversized datagram on the registration "
				    "socket");
			continue;
		}
		if (n < 0) {
			/* ICMP errors (port unreachable from the HA) surface here: harmless. */
			LOG_DEBUG(&m->log, "registration socket: %s", strerror((int)-n));
			if (n == -ECONNREFUSED || n == -EHOSTUNREACH || n == -ENETUNREACH)
				continue;
			break;
		}
		datagram(m, m->pkt, (size_t)n, &meta);
		if (m->reg_fd != fd)
			break; /* the handler moved us to another socket */
	}
	return G_SOURCE_CONTINUE;
}

/* A socket bound to src:ephemeral on ifname, unless we have it already. */
static int reg_socket(struct mnd *m, struct in_addr src, const char *ifname)
{
	struct sockaddr_in bind_to, local;
	char s[ADDR4_STRLEN];
	int fd, rc;

	if (m->reg_fd >= 0 && m->reg_src.s_addr == src.s_addr &&
	    strcmp(m->reg_ifname, ifname) == 0)
		return 0;
	reg_close_socket(m);
	memset(&bind_to, 0, sizeof(bind_to));
	bind_to.sin_family = AF_INET;
	bind_to.sin_addr = src;
	fd = sock_udp4_open(&bind_to, SOCK_F_FREEBIND);
	if (fd < 0) {
		LOG_ERROR(&m->log, "cannot open the registration socket on %s: %s",
			  addr4_str(src, s), strerror(-fd));
		return fd;
	}
	rc = sock_bind_device(fd, ifname);
	/* UDP tunnel data (RFC 3519) arrives here too, replays in bursts (ha/replay.h). */
	if (rc == 0 && sock_set_buffers(fd, SOCK_DATAPATH_BUF, 0) < 0)
		LOG_WARNING(&m->log, "cannot enlarge the registration socket's receive buffer");
	if (rc == 0)
		rc = sock_local4(fd, &local);
	if (rc < 0) {
		LOG_ERROR(&m->log, "cannot bind the registration socket to %s: %s", ifname,
			  strerror(-rc));
		close(fd);
		return rc;
	}
	m->reg_fd = fd;
	m->reg_src = src;
	snprintf(m->reg_ifname, sizeof(m->reg_ifname), "%s", ifname);
	m->reg_port = ntohs(local.sin_port);
	m->reg_watch = g_unix_fd_add(fd, G_IO_IN, on_readable, m);
	LOG_INFO(&m->log, "registration socket %s:%u on %s", addr4_str(src, s), m->reg_port,
		 ifname);
	return 0;
}

void mnd_reg_locate(struct mnd *m, const struct mnd_location *loc)
{
	struct in_addr none = { 0 };
	struct mn_actions a;
	int rc = 0;

	switch (loc->where) {
	case MND_HOME:
		rc = reg_socket(m, m->cfg.home_addr, loc->ifname);
		if (rc == 0)
			rc = mn_engine_set_location(m->engine, true, none, now_ns(), &a);
		break;
	case MND_AWAY:
		rc = reg_socket(m, loc->addr, loc->ifname);
		if (rc == 0)
			rc = mn_engine_set_location(m->engine, false, loc->addr, now_ns(), &a);
		break;
	case MND_DETACHED:
		reg_close_socket(m);
		rc = mn_engine_set_location(m->engine, false, none, now_ns(), &a);
		break;
	}
	if (rc == 0)
		run_actions(m, &a);
}

void mnd_reg_refresh(struct mnd *m)
{
	struct mn_actions a;

	if (mn_engine_reregister(m->engine, now_ns(), &a) == 0)
		run_actions(m, &a);
}

int mnd_reg_init(struct mnd *m)
{
	struct mn_engine_config ec;
	int rc;

	memset(&ec, 0, sizeof(ec));
	ec.home_addr = m->cfg.home_addr;
	ec.home_agent = m->cfg.home_agent;
	ec.key = m->cfg.key;
	ec.lifetime = (uint16_t)m->cfg.lifetime;
	ec.reverse_tunnel = m->cfg.reverse_tunnel;
	ec.udp = m->cfg.udp;
	ec.keepalive_default = (uint16_t)m->cfg.keepalive;
	ec.nai = m->cfg.nai;
	rc = mn_engine_new(&ec, &m->engine);
	mip4_key_wipe(&ec.key);
	if (rc < 0) {
		LOG_ERROR(&m->log, "cannot start the registration engine: %s", strerror(-rc));
		return rc;
	}
	m->reg_timer = mnd_timer_new(on_timer, m);
	return 0;
}

void mnd_reg_stop(struct mnd *m)
{
	struct mn_actions a;

	if (m->engine && mn_engine_stop(m->engine, now_ns(), &a) == 0)
		run_actions(m, &a);
}

void mnd_reg_close(struct mnd *m)
{
	reg_close_socket(m);
	if (m->reg_timer) {
		mnd_timer_free(m->reg_timer);
		m->reg_timer = NULL;
	}
	mn_engine_free(m->engine);
	m->engine = NULL;
}
