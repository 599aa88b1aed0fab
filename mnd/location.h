/* Where is the mobile node? The view of the configured interfaces that netlink gives (link
 * state, IPv4 addresses), and the decision taken from it. No I/O: fed with struct nl_event,
 * so the decision is unit-tested without a kernel.
 *
 *  - at home: a configured interface that is up and running holds the home address (the
 *    home link's configuration put it there). Home wins over every other interface.
 *  - away: the care-of address is the first IPv4 address of the most preferred interface
 *    (configuration order) that is up, running (has carrier), has an address, and through
 *    which the kernel has a route to the home agent (asked through a callback, so this file
 *    stays free of I/O). The last condition matters: a DHCP client adds the address before
 *    the default route, and a socket bound to the interface (SO_BINDTODEVICE) sends to an
 *    address without a route as if it were on the link, so a request sent in between is
 *    lost. Route events are only triggers to decide again: the kernel does not announce
 *    the routes it flushes when an address goes, so a copy of the tables would go stale.
 *  - detached: none of that.
 */
#ifndef MM_MND_LOCATION_H
#define MM_MND_LOCATION_H

#include <stdbool.h>
#include <net/if.h>
#include <netinet/in.h>

#include "common/netlink.h"

#define MND_IFACES_MAX 8
#define MND_ADDRS_MAX 8

struct mnd_iface {
	char name[IFNAMSIZ];        /* configured name */
	int ifindex;                /* 0 until netlink reports the link */
	bool up;
	bool running;
	unsigned naddrs;
	struct in_addr addrs[MND_ADDRS_MAX];  /* in the order they appeared */
	unsigned plens[MND_ADDRS_MAX];
};

struct mnd_ifaces {
	unsigned count;
	struct mnd_iface iface[MND_IFACES_MAX]; /* preference order */
};

enum mnd_where {
	MND_DETACHED = 0,
	MND_AWAY,
	MND_HOME,
};

struct mnd_location {
	enum mnd_where where;
	struct in_addr addr;        /* away: the care-of address; home: the home address */
	unsigned plen;
	int ifindex;
	char ifname[IFNAMSIZ];
};

/* Set up the table from a comma-separated list of names ("wlan0,wwan0"); spaces around
 * names are ignored. -EINVAL for an empty list, an empty or too long name, a duplicate, or
 * more than MND_IFACES_MAX names. */
int mnd_ifaces_init(struct mnd_ifaces *t, const char *list);

/* Apply one netlink event. Returns true when it changed the table, or when it is a route
 * event for one of our interfaces (reachability may have changed). NL_EVENT_RESYNC clears
 * the state (links and addresses): the caller then dumps again. */
bool mnd_ifaces_apply(struct mnd_ifaces *t, const struct nl_event *ev);

/* Is the home agent reachable through ifindex (1), or not (0)? */
typedef int (*mnd_reach_fn)(int ifindex, void *user);

/* Decide the location (see above). */
void mnd_location_choose(const struct mnd_ifaces *t, struct in_addr home_addr,
			 mnd_reach_fn reach, void *user, struct mnd_location *out);

bool mnd_location_equal(const struct mnd_location *a, const struct mnd_location *b);

const char *mnd_where_name(enum mnd_where w);

#endif
