/* Neighbour-table helpers the home agent needs on its home link and that common/netlink.h
 * does not have: proxy ARP entries (RFC 5944 §4.6, the equivalent of
 * "ip neigh add proxy HOA dev IF") and reading a neighbour's link-layer address.
 *
 * Plain rtnetlink over a NETLINK_ROUTE socket opened per call (these run on registration
 * and deregistration, not per packet). No libnl: that stays inside common/netlink.c.
 * Nothing here logs; failures are -errno, the kernel's own when it refused.
 */
#ifndef MM_HA_NEIGH_H
#define MM_HA_NEIGH_H

#include <netinet/in.h>
#include <stdint.h>

#define HA_MAC_LEN 6

/* Add (or replace) / delete a proxy neighbour entry (RTM_NEWNEIGH/RTM_DELNEIGH with
 * NTF_PROXY) for a on ifindex. Delete returns -ENOENT when there is none. */
int ha_neigh_proxy_add(int ifindex, struct in_addr a);
int ha_neigh_proxy_del(int ifindex, struct in_addr a);

/* Call fn for every IPv4 proxy entry on ifindex (a dump; fn must not modify the table: collect
 * first, then delete). */
int ha_neigh_proxy_list(int ifindex, void (*fn)(void *user, struct in_addr a), void *user);

/* The link-layer address the kernel's neighbour table holds for a on ifindex (any state
 * with an address: reachable, stale, permanent...). -ENOENT when there is none. */
int ha_neigh_lookup(int ifindex, struct in_addr a, uint8_t mac[HA_MAC_LEN]);

/* The Ethernet address of ifname (SIOCGIFHWADDR). -EINVAL if it is not Ethernet. */
int ha_link_mac(const char *ifname, uint8_t mac[HA_MAC_LEN]);

#endif
