/* rtnetlink for the daemons, IPv4 only: a monitor for link, address and route events, and
 * synchronous, acknowledged configuration of addresses, routes and link state.
 *
 * Built on libnl-route, but no libnl type appears here: libnl stays inside netlink.c.
 * Nothing here logs; failures are -errno, with the kernel's own errno when the kernel
 * refused a request (-EEXIST, -ENODEV, -EADDRNOTAVAIL, -ESRCH, -EPERM, ...).
 */
#ifndef MM_COMMON_NETLINK_H
#define MM_COMMON_NETLINK_H

#include <stdbool.h>
#include <net/if.h>
#include <netinet/in.h>

/* --- monitor ------------------------------------------------------------------------- */

enum nl_event_kind {
	NL_EVENT_LINK_NEW,   /* a link appeared or changed (flags, carrier, name, MTU) */
	NL_EVENT_LINK_DEL,
	NL_EVENT_ADDR_NEW,   /* an IPv4 address appeared (or its lifetime/flags changed) */
	NL_EVENT_ADDR_DEL,
	NL_EVENT_ROUTE_NEW,  /* an IPv4 route in any table (main, local, ...) appeared/changed */
	NL_EVENT_ROUTE_DEL,
	NL_EVENT_RESYNC,     /* the kernel dropped events (receive buffer overflow): every
	                      * cached view may be stale; call nl_monitor_dump() */
};

/* Only the fields of the event's kind are filled; the rest are zero. */
struct nl_event {
	enum nl_event_kind kind;
	int ifindex;              /* link; address; route: output interface (0: none) */
	char ifname[IFNAMSIZ];    /* link: name; address: label, normally the interface name
	                           * ("eth0:1" for an aliased address); route: "" */
	/* link */
	bool up;                  /* IFF_UP: administratively up */
	bool running;             /* IFF_RUNNING: operationally up (carrier, not dormant) */
	bool carrier;             /* IFF_LOWER_UP: physical carrier */
	unsigned mtu;
	/* address */
	struct in_addr addr;      /* the local address */
	unsigned plen;
	/* route */
	struct in_addr dst;
	unsigned dst_plen;
	struct in_addr gateway;   /* 0.0.0.0: on-link */
	int table;                /* RT_TABLE_MAIN (254), RT_TABLE_LOCAL (255), ... */
	unsigned metric;          /* RTA_PRIORITY */
	unsigned type;            /* RTN_UNICAST, RTN_LOCAL, RTN_BROADCAST, ... */
};

/* Called once per event, from nl_monitor_dispatch() or nl_monitor_dump(). It may call the
 * configuration helpers below, but must not close the monitor. */
typedef void (*nl_event_fn)(const struct nl_event *ev, void *user);

struct nl_monitor;

/* Subscribe to link, IPv4 address and IPv4 route events. Events are state, not deltas: the
 * same NEW may come twice (from a dump and an event), so handlers must be idempotent.
 * Subscribe first, then dump, so nothing falls between the two. Returns 0 or -errno. */
int nl_monitor_open(struct nl_monitor **out, nl_event_fn fn, void *user);

/* The non-blocking, close-on-exec fd to watch for POLLIN (level-triggered: GLib, poll). */
int nl_monitor_fd(const struct nl_monitor *m);

/* Deliver pending events. On overflow delivers one NL_EVENT_RESYNC and carries on reading.
 * Reads a bounded number of messages per call so one busy kernel cannot starve the main
 * loop; the fd stays readable if more remain. Returns the number of events delivered (0 when
 * nothing was pending) or -errno. */
int nl_monitor_dispatch(struct nl_monitor *m);

/* Deliver the current links, then IPv4 addresses, then IPv4 routes, as NEW events (over a
 * separate socket, so it never mixes with pending events). Returns the count or -errno;
 * -EINTR when the kernel flagged the dump inconsistent (state changed meanwhile): retry. */
int nl_monitor_dump(struct nl_monitor *m);

void nl_monitor_close(struct nl_monitor *m);

const char *nl_event_kind_name(enum nl_event_kind kind);

/* --- configuration (synchronous, acknowledged by the kernel) ------------------------- */

/* Add a.b.c.d/plen to ifindex (with the directed broadcast for plen <= 30, like
 * "ip addr add ... brd +"). -EEXIST when already present. */
int nl_addr4_add(int ifindex, struct in_addr a, unsigned plen);
/* -EADDRNOTAVAIL when not present. */
int nl_addr4_del(int ifindex, struct in_addr a, unsigned plen);

/* Add a unicast route dst/plen via gw (INADDR_ANY: on-link through ifindex) out of ifindex
 * (0: wherever gw is reachable; gw and ifindex cannot both be 0). table 0 means main. metric
 * is the route priority (lower wins). dst must have no host bits (-EINVAL). -EEXIST when an
 * identical route (same dst, table, metric) exists. */
int nl_route4_add(struct in_addr dst, unsigned plen, struct in_addr gw, int ifindex, int table,
		  unsigned metric);
/* Delete the route added with the same arguments. -ESRCH when there is none. */
int nl_route4_del(struct in_addr dst, unsigned plen, struct in_addr gw, int ifindex, int table,
		  unsigned metric);

/* Set or clear IFF_UP, leaving the other flags alone. */
int nl_link_set_up(int ifindex, bool up);

/* ifindex of ifname, or -ENODEV (-EINVAL for an empty or too long name). */
int nl_link_index(const char *ifname);

#endif
