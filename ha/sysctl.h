/* Kernel settings the home agent needs in its network namespace, written at start-up
 * through /proc/sys (and logged by the caller):
 *  - net.ipv4.ip_forward = 1: decapsulated reverse-tunnelled packets and packets attracted
 *    by proxy ARP are forwarded (RFC 5944 §4.6, RFC 3024 §4.3.2); the kernel also answers
 *    proxy ARP only on forwarding interfaces;
 *  - net.ipv4.neigh.<home-if>.proxy_delay = 0: answer proxy ARP at once instead of after a
 *    random delay of up to 0.8 s.
 */
#ifndef MM_HA_SYSCTL_H
#define MM_HA_SYSCTL_H

#include <stddef.h>

/* Write value to /proc/sys/<path> ("net/ipv4/ip_forward": slashes, because interface names
 * may contain dots). Returns 0 or -errno. When old is not NULL it receives the previous
 * value (trimmed). */
/* Read /proc/sys/<path> into buf (trimmed). Returns 0 or -errno. */
int ha_sysctl_get(const char *path, char *buf, size_t size);

int ha_sysctl_set(const char *path, const char *value, char *old, size_t old_size);

#endif
