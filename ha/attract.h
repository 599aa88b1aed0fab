/* Attraction of a mobile node's traffic on the home link while it is away (RFC 5944 §4.6)
 * and its release when it comes home:
 *
 *  binding added:   remember the mobile node's MAC (from the neighbour table, for later),
 *                   proxy ARP entry for the home address on the home interface, host route
 *                   HOA/32 into the tunnel device, gratuitous ARP with the home agent's MAC
 *                   (sent 3 times, 1 s apart: §4.6 "SHOULD be retransmitted");
 *  binding removed: route and proxy entry removed, and if the mobile node's MAC is known
 *                   (neighbour table now, or remembered) a gratuitous ARP on its behalf
 *                   (§4.6: the home agent "MUST also transmit a gratuitous ARP").
 *
 * Daemon code (GLib main loop for the retransmissions). Failures are logged here, once, and
 * returned as -errno; the caller carries on (the binding exists whatever the kernel said).
 */
#ifndef MM_HA_ATTRACT_H
#define MM_HA_ATTRACT_H

#include <netinet/in.h>
#include <stdbool.h>

struct ha_attract;

/* home_if: the home interface; tun_ifindex: the tunnel device the host routes point to. */
int ha_attract_new(const char *home_if, int tun_ifindex, struct ha_attract **out);
/* Removes every proxy entry and route still installed. */
void ha_attract_free(struct ha_attract *at);

int ha_attract_add(struct ha_attract *at, struct in_addr hoa, bool announce);
int ha_attract_del(struct ha_attract *at, struct in_addr hoa);

/* Remove proxy ARP entries for addresses of net/plen on the home interface that we did not
 * install (left behind by a home agent that was killed, for mobile nodes whose binding has
 * ended since): they would keep attracting a node's traffic after it came home. Call after
 * the restored bindings were added. Returns how many were removed, or -errno. */
int ha_attract_sweep(struct ha_attract *at, struct in_addr net, unsigned plen);

unsigned ha_attract_count(const struct ha_attract *at);

#endif
