/* Attach detection: netlink link and address events for the configured interfaces, the
 * location decided from them (location.c), and what a new location sets in motion. Events
 * are handled as they arrive, never polled: a new address leads to a Registration Request
 * in the same main-loop iteration. */
#include <errno.h>
#include <string.h>

#include <glib-unix.h>

#include "common/garp.h"
#include "common/sock.h"
#include "mnd/agentdisc.h"
#include "mnd/mnd.h"
#include "mnd/rtnl.h"

#define DUMP_RETRIES 5

static void garp_once(struct mnd *m)
{
	char h[ADDR4_STRLEN];
	int rc = garp_announce(m->loc.ifname, m->cfg.home_addr);

	if (rc < 0)
		LOG_WARNING(&m->log, "cannot send a gratuitous ARP for %s on %s: %s",
			    addr4_str(m->cfg.home_addr, h), m->loc.ifname, strerror(-rc));
	else
		LOG_DEBUG(&m->log, "gratuitous ARP for %s on %s", addr4_str(m->cfg.home_addr, h),
			  m->loc.ifname);
}

static void on_garp_timer(void *user)
{
	struct mnd *m = user;

	if (m->loc.where != MND_HOME || m->garp_left == 0)
		return;
	garp_once(m);
	if (--m->garp_left)
		mnd_timer_arm(m->garp_timer, clock_now(clock_monotonic()) + MND_GARP_INTERVAL);
}

static void apply_location(struct mnd *m, const struct mnd_location *loc)
{
	char a[ADDR4_STRLEN];

	m->loc = *loc;
	m->have_loc = true;
	m->loc_changed_at = clock_now(clock_monotonic());
	switch (loc->where) {
	case MND_HOME:
		LOG_NOTICE(&m->log, "location: home link on %s", loc->ifname);
		mnd_dp_set_interface(m, "");
		mnd_netcfg_home(m);
		/* RFC 5944 §4.6: "Before transmitting the (de)Registration Request message to
		 * its home agent, the mobile node MUST transmit this gratuitous ARP", and
		 * retransmits it "in parallel with" the deregistration. */
		garp_once(m);
		m->garp_left = MND_GARP_COUNT - 1;
		mnd_timer_arm(m->garp_timer, clock_now(clock_monotonic()) + MND_GARP_INTERVAL);
		break;
	case MND_AWAY:
		LOG_NOTICE(&m->log, "location: away on %s, care-of address %s", loc->ifname,
			   addr4_str(loc->addr, a));
		m->garp_left = 0;
		mnd_timer_disarm(m->garp_timer);
		mnd_netcfg_away(m);
		break;
	case MND_DETACHED:
		LOG_NOTICE(&m->log, "location: no usable interface");
		m->garp_left = 0;
		mnd_timer_disarm(m->garp_timer);
		/* Keep the home address on the TUN: sockets bound to it live on. */
		mnd_netcfg_away(m);
		break;
	}
	/* Registration(s), data path, VPN and mode: the mode machine (mode.c). */
	mnd_mode_locate(m, loc);
}

static int reach(int ifindex, void *user)
{
	struct mnd *m = user;
	int rc = mnd_route_reaches(ifindex, m->cfg.home_agent);

	if (rc < 0)
		LOG_WARNING(&m->log, "route query for ifindex %d: %s", ifindex, strerror(-rc));
	return rc;
}

/* Returns whether the location changed (and was applied). */
static bool evaluate(struct mnd *m)
{
	struct mnd_location loc;

	mnd_location_choose(&m->ifaces, m->cfg.home_addr, reach, m, &loc);
	if (m->have_loc && mnd_location_equal(&loc, &m->loc))
		return false;
	apply_location(m, &loc);
	return true;
}

/* ifindex of a configured interface called ifname, or 0. */
static int configured_index(const struct mnd *m, const char *ifname)
{
	for (unsigned i = 0; i < m->ifaces.count; i++)
		if (!strcmp(m->ifaces.iface[i].name, ifname))
			return m->ifaces.iface[i].ifindex;
	return 0;
}

static void on_event(const struct nl_event *ev, void *user)
{
	struct mnd *m = user;
	int before = 0;

	if (ev->kind == NL_EVENT_RESYNC)
		m->nl_resync = true;
	if (ev->kind == NL_EVENT_LINK_NEW)
		before = configured_index(m, ev->ifname);
	if (mnd_ifaces_apply(&m->ifaces, ev))
		m->nl_changed = true;
	/* A configured interface that just appeared (or was re-created). */
	if (ev->kind == NL_EVENT_LINK_NEW && before != ev->ifindex &&
	    configured_index(m, ev->ifname) == ev->ifindex)
		mnd_netcfg_iface(m, ev->ifname);
}

static int dump(struct mnd *m)
{
	int rc = -EINTR;

	for (int i = 0; i < DUMP_RETRIES && rc == -EINTR; i++)
		rc = nl_monitor_dump(m->nl);
	if (rc < 0)
		LOG_ERROR(&m->log, "netlink dump failed: %s", strerror(-rc));
	return rc;
}

/* RFC 5266 3.2: agent discovery starts with the link, at the same time as DHCP, so a link
 * without a foreign agent is not slowed down; it stops when the carrier goes. Starts before
 * the location is decided again (solicit at once), stops after it (the agent lost with its
 * link is no event for an attachment that is gone already). */
static void agents_follow_links(struct mnd *m, bool starts)
{
	if (!m->agentdisc)
		return;
	for (unsigned i = 0; i < m->ifaces.count && i < 32; i++) {
		const struct mnd_iface *f = &m->ifaces.iface[i];
		bool run = f->ifindex > 0 && f->up && f->running;
		bool was = m->agents_up & (1u << i);
		int rc;

		if (starts && run && !was) {
			rc = agentdisc_link_up(m->agentdisc, f->name);
			if (rc < 0)
				LOG_WARNING(&m->log, "agent discovery on %s: %s", f->name,
					    strerror(-rc));
			else
				m->agents_up |= 1u << i;
		} else if (!starts && !run && was) {
			m->agents_up &= ~(1u << i);
			agentdisc_link_down(m->agentdisc, f->name);
		}
	}
}

static gboolean on_netlink(gint fd, GIOCondition cond, gpointer user)
{
	struct mnd *m = user;
	int rc;

	(void)fd;
	(void)cond;
	m->nl_changed = m->nl_resync = false;
	rc = nl_monitor_dispatch(m->nl);
	if (rc < 0)
		LOG_WARNING(&m->log, "netlink: %s", strerror(-rc));
	if (m->nl_resync) {
		LOG_WARNING(&m->log, "netlink events lost: reading the interfaces again");
		dump(m);
		m->nl_changed = true;
	}
	/* The VPN follows every change at once (MOBIKE, RFC 4555 3.5), not only a new
	 * location (a second interface, a route appearing after its address); a new location
	 * has made it follow already (mode.c: mnd_vpn_attach_changed). */
	if (!m->nl_changed)
		return G_SOURCE_CONTINUE;
	agents_follow_links(m, true);
	if (!evaluate(m))
		mnd_vpn_links_changed(m);
	agents_follow_links(m, false);
	return G_SOURCE_CONTINUE;
}

int mnd_attach_start(struct mnd *m)
{
	int rc;

	rc = mnd_ifaces_init(&m->ifaces, m->cfg.interfaces);
	if (rc < 0)
		return rc; /* checked by conf.c already */
	m->garp_timer = mnd_timer_new(on_garp_timer, m);
	rc = nl_monitor_open(&m->nl, on_event, m);
	if (rc < 0) {
		LOG_ERROR(&m->log, "cannot open the netlink monitor: %s", strerror(-rc));
		return rc;
	}
	rc = dump(m);
	if (rc < 0)
		return rc;
	m->nl_watch = g_unix_fd_add(nl_monitor_fd(m->nl), G_IO_IN, on_netlink, m);
	agents_follow_links(m, true);
	evaluate(m);
	return 0;
}

void mnd_attach_stop(struct mnd *m)
{
	if (m->nl_watch) {
		g_source_remove(m->nl_watch);
		m->nl_watch = 0;
	}
	if (m->nl) {
		nl_monitor_close(m->nl);
		m->nl = NULL;
	}
	if (m->garp_timer) {
		mnd_timer_free(m->garp_timer);
		m->garp_timer = NULL;
	}
}
