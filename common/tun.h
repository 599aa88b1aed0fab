/* TUN devices for the user-space data path.
 *
 * A TUN fd carries bare IPv4/IPv6 packets (IFF_TUN | IFF_NO_PI: no packet-information
 * prefix): read() returns exactly one packet, as routed into the device by the kernel;
 * write() injects exactly one packet, as if it had arrived on the device. Use plain
 * read()/write() on the fd; a read buffer shorter than the packet silently truncates it, so
 * size it to the device MTU (or 65535). The fd is non-blocking: read() fails with EAGAIN when
 * no packet is queued.
 *
 * The device exists as long as some fd is attached to it (not persistent), so a daemon that
 * dies leaves no interface behind. Nothing here logs: failures are -errno.
 */
#ifndef MM_COMMON_TUN_H
#define MM_COMMON_TUN_H

#include <net/if.h>

/* tun_open() flags. */
#define TUN_OPEN_MULTI_QUEUE (1u << 0) /* IFF_MULTI_QUEUE: open the same name again for
                                        * another queue (one per worker thread) */
#define TUN_OPEN_TAP (1u << 1)         /* IFF_TAP: an Ethernet-level device (frames, not IP
                                        * packets), e.g. for tests that watch ARP */

/* Create (or, with TUN_OPEN_MULTI_QUEUE, attach another queue to) a TUN device. name NULL or
 * "" lets the kernel pick "tunN". The actual name is copied to out_name when it is not NULL.
 * Returns the non-blocking, close-on-exec fd, or -errno (-EINVAL: unknown flag or name too
 * long; -EBUSY: name taken by a device of another kind or a single-queue TUN). Needs
 * CAP_NET_ADMIN. */
int tun_open(const char *name, char out_name[IFNAMSIZ], unsigned flags);

/* Set the MTU of ifname (any interface, not only TUN). Returns 0 or -errno. */
int tun_set_mtu(const char *ifname, int mtu);

/* Set IFF_UP on ifname (any interface), leaving its other flags alone. Returns 0 or -errno. */
int tun_set_up(const char *ifname);

#endif
