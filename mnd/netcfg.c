/* The mobile node's routing (see mnd.h): a TUN device holding the home address, and
 *
 *	ip rule add from HOME-ADDRESS lookup TABLE priority 1000
 *	ip route add default dev TUN table TABLE
 *
 * so that packets from the home address enter the TUN (and are tunnelled to the home agent,
 * RFC 3024 reverse tunnelling), while registration and tunnel packets, whose source is the
 * care-of address, follow the main table out of the physical interface and never the
 * tunnel. At home (RFC 5944 §4.6: the home address is on the home link) both go away.
 *
 * Removing a device's last IPv4 address makes the kernel flush the routes through it, so
 * the route is (re)added every time the address is. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/netlink.h"
#include "common/sock.h"
#include "common/tun.h"
#include "mnd/mnd.h"
#include "mnd/rtnl.h"

static const struct in_addr any4 = { 0 };

int mnd_netcfg_open(struct mnd *m)
{
	char name[IFNAMSIZ];
	int fd, rc, idx;

	fd = tun_open(m->cfg.tunnel_device, name, 0);
	if (fd < 0) {
		LOG_ERROR(&m->log, "cannot create TUN device %s: %s", m->cfg.tunnel_device,
			  strerror(-fd));
		return fd;
	}
	rc = tun_set_mtu(name, (int)m->cfg.tunnel_mtu);
	if (rc == 0)
		rc = tun_set_up(name);
	idx = rc == 0 ? nl_link_index(name) : rc;
	if (idx < 0) {
		LOG_ERROR(&m->log, "cannot set up TUN device %s: %s", name, strerror(-idx));
		close(fd);
		return idx;
	}
	m->tun_fd = fd;
	memcpy(m->tun_name, name, sizeof(m->tun_name));
	m->tun_ifindex = idx;
	/* A rule left behind by an instance that crashed would point at a dead table entry;
	 * ours is identical, so remove it first. */
	while (mnd_rule4_del(m->cfg.home_addr, m->cfg.routing_table, MND_RULE_PRIORITY) == 0)
		LOG_INFO(&m->log, "removed a stale rule from %s", name);
	LOG_INFO(&m->log, "TUN device %s (ifindex %d, MTU %u)", name, idx, m->cfg.tunnel_mtu);
	return 0;
}

int mnd_netcfg_away(struct mnd *m)
{
	char h[ADDR4_STRLEN];
	int rc;

	if (!m->tun_has_hoa) {
		rc = nl_addr4_add(m->tun_ifindex, m->cfg.home_addr, 32);
		if (rc < 0 && rc != -EEXIST) {
			LOG_ERROR(&m->log, "cannot add %s/32 to %s: %s",
				  addr4_str(m->cfg.home_addr, h), m->tun_name, strerror(-rc));
			return rc;
		}
		m->tun_has_hoa = true;
	}
	rc = m->route_gw.s_addr ? 0 :
	     nl_route4_add(any4, 0, any4, m->tun_ifindex, (int)m->cfg.routing_table, 0);
	if (rc < 0 && rc != -EEXIST) {
		LOG_ERROR(&m->log, "cannot add the default route via %s to table %u: %s",
			  m->tun_name, m->cfg.routing_table, strerror(-rc));
		return rc;
	}
	if (!m->rule_installed) {
		rc = mnd_rule4_add(m->cfg.home_addr, m->cfg.routing_table, MND_RULE_PRIORITY);
		if (rc < 0 && rc != -EEXIST) {
			LOG_ERROR(&m->log, "cannot add rule from %s lookup %u: %s",
				  addr4_str(m->cfg.home_addr, h), m->cfg.routing_table,
				  strerror(-rc));
			return rc;
		}
		m->rule_installed = true;
	}
	LOG_INFO(&m->log, "away: %s/32 on %s, rule from %s lookup %u",
		 addr4_str(m->cfg.home_addr, h), m->tun_name, h, m->cfg.routing_table);
	return 0;
}

/* Mode f (RFC 3024 3.3, "direct delivery style"; RFC 5944 4.2.2): packets from the home
 * address go to the foreign agent as next hop, unencapsulated, and the agent tunnels them to
 * the home agent; elsewhere they enter the TUN. One default route in the table either way:
 * the new one first, then the old one goes (nothing falls through to the main table). */
int mnd_netcfg_route(struct mnd *m, struct in_addr gw, int ifindex)
{
	char g[ADDR4_STRLEN];
	int old_if = m->route_gw.s_addr ? m->route_ifindex : m->tun_ifindex;
	int new_if = gw.s_addr ? ifindex : m->tun_ifindex;
	int table = (int)m->cfg.routing_table;
	int rc;

	if (m->route_gw.s_addr == gw.s_addr && (!gw.s_addr || m->route_ifindex == ifindex))
		return 0;
	/* Metric 1 beside the old route's 0 for a moment, then the old one goes and the new
	 * one takes metric 0. */
	rc = nl_route4_add(any4, 0, gw, new_if, table, 1);
	if (rc < 0 && rc != -EEXIST) {
		LOG_ERROR(&m->log, "cannot route the home address via %s: %s",
			  gw.s_addr ? addr4_str(gw, g) : m->tun_name, strerror(-rc));
		return rc;
	}
	rc = nl_route4_del(any4, 0, m->route_gw, old_if, table, 0);
	if (rc < 0 && rc != -ESRCH)
		LOG_WARNING(&m->log, "cannot remove the old default route of table %u: %s",
			    m->cfg.routing_table, strerror(-rc));
	rc = nl_route4_add(any4, 0, gw, new_if, table, 0);
	if (rc < 0 && rc != -EEXIST)
		LOG_WARNING(&m->log, "cannot add the default route of table %u: %s",
			    m->cfg.routing_table, strerror(-rc));
	nl_route4_del(any4, 0, gw, new_if, table, 1);
	m->route_gw = gw;
	m->route_ifindex = gw.s_addr ? ifindex : 0;
	LOG_INFO(&m->log, "packets from the home address: %s%s",
		 gw.s_addr ? "to the foreign agent " : "into ",
		 gw.s_addr ? addr4_str(gw, g) : m->tun_name);
	return 0;
}

int mnd_netcfg_home(struct mnd *m)
{
	char h[ADDR4_STRLEN];
	int rc, ret = 0;

	if (m->rule_installed) {
		rc = mnd_rule4_del(m->cfg.home_addr, m->cfg.routing_table, MND_RULE_PRIORITY);
		if (rc < 0 && rc != -ENOENT) {
			LOG_ERROR(&m->log, "cannot delete rule from %s lookup %u: %s",
				  addr4_str(m->cfg.home_addr, h), m->cfg.routing_table,
				  strerror(-rc));
			ret = rc;
		} else {
			m->rule_installed = false;
		}
	}
	if (m->tun_has_hoa) {
		rc = nl_addr4_del(m->tun_ifindex, m->cfg.home_addr, 32);
		if (rc < 0 && rc != -EADDRNOTAVAIL) {
			LOG_ERROR(&m->log, "cannot remove %s/32 from %s: %s",
				  addr4_str(m->cfg.home_addr, h), m->tun_name, strerror(-rc));
			ret = rc;
		} else {
			m->tun_has_hoa = false;
		}
	}
	LOG_INFO(&m->log, "home: %s no longer on %s, no rule",
		 addr4_str(m->cfg.home_addr, h), m->tun_name);
	return ret;
}

void mnd_netcfg_close(struct mnd *m)
{
	if (m->rule_installed) {
		mnd_rule4_del(m->cfg.home_addr, m->cfg.routing_table, MND_RULE_PRIORITY);
		m->rule_installed = false;
	}
	/* Closing the only fd destroys the device, its address and its routes. */
	if (m->tun_fd >= 0) {
		close(m->tun_fd);
		m->tun_fd = -1;
	}
	m->tun_has_hoa = false;
}

/* RFC 5944 §4.6: away from home the mobile node "MUST NOT reply to ARP Requests in which the
 * target IP address is its own home address", and before it registers away it "disables its
 * own future processing" of them. Linux answers ARP for any local address on any interface
 * (arp_ignore 0), and the home address sits on the TUN device while away; arp_ignore 1 makes
 * each physical interface answer only for the addresses it holds itself: the care-of
 * address away, the home address at home (where it is on that interface). */
void mnd_netcfg_iface(struct mnd *m, const char *ifname)
{
	char path[96];
	int fd;

	if (snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/arp_ignore", ifname) >=
	    (int)sizeof(path) || strchr(ifname, '/'))
		return;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1\n", 2) != 2)
		LOG_WARNING(&m->log, "cannot set %s to 1: %s (the home address may be answered "
			    "for on a visited link)", path, strerror(errno));
	else
		LOG_DEBUG(&m->log, "%s = 1", path);
	if (fd >= 0)
		close(fd);
}
