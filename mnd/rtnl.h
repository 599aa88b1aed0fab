/* What mnd needs from rtnetlink beyond common/netlink.h, over a plain rtnetlink socket
 * (libnl stays inside common/netlink.c): IPv4 policy routing rules ("ip rule add from ADDR
 * lookup TABLE priority PRIO") and a route query ("ip route get fibmatch DST oif IF").
 * Synchronous; nothing here logs. Errors: -errno, the kernel's own (-EEXIST, -ENOENT,
 * -EPERM, ...) when it refused. */
#ifndef MM_MND_RTNL_H
#define MM_MND_RTNL_H

#include <stdbool.h>
#include <netinet/in.h>

/* Packets with source address src (a /32) are looked up in table (1..2^32-1, not 0). */
int mnd_rule4_add(struct in_addr src, unsigned table, unsigned priority);
/* Delete the rule added with the same arguments; -ENOENT when there is none. */
int mnd_rule4_del(struct in_addr src, unsigned table, unsigned priority);

/* Does a route in the kernel's tables (not the "assume it is on the link" fallback the
 * kernel uses for sockets bound to a device) take dst out of ifindex? RTM_F_FIB_MATCH
 * (Linux >= 4.13) returns the matching FIB entry or an error. Returns 1, 0, or -errno
 * for a failure other than "no route". */
int mnd_route_reaches(int ifindex, struct in_addr dst);

#endif
