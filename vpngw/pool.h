/* The pool of tunnel inner addresses (TIAs) that vpngw hands out in CFG_REPLY
 * INTERNAL_IP4_ADDRESS (RFC 7296 3.15.1, 3.15.4).
 *
 * The pool is a CIDR; the network and broadcast addresses and the gateway's own inner
 * address are never handed out. A lease belongs to a peer identity (type + bytes of IDi):
 *  - the same identity asking again while it holds a lease (a second IKE SA: reauthentication
 *    make-before-break, a client that restarted before its old SA timed out) gets the same
 *    address back, and the lease counts one more holder (RFC 7296 3.15.4: the address stays
 *    with the peer while it has an SA);
 *  - release drops one holder; with none left the address is free again, but stays
 *    remembered for that identity, so a peer that comes back soon gets its old address if
 *    nobody else took it (addresses never used are handed out first, then the longest free);
 *  - exhaustion is -ENOSPC (the engine answers INTERNAL_ADDRESS_FAILURE).
 * No I/O, no clock. Memory: a few bytes per address plus one entry per identity seen.
 */
#ifndef MM_VPNGW_POOL_H
#define MM_VPNGW_POOL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/engine.h"

#define POOL_MIN_PLEN 16     /* at most 65534 addresses */
#define POOL_MAX_PLEN 30

struct pool;

/* net/plen (host bits ignored; plen POOL_MIN_PLEN..POOL_MAX_PLEN, else -EINVAL); reserved
 * is the gateway's inner address (0.0.0.0 or outside the pool: nothing reserved). */
int pool_new(struct in_addr net, unsigned plen, struct in_addr reserved, struct pool **out);
void pool_free(struct pool *p);

/* A lease for id: 0 and *addr, or -ENOSPC (all taken), -EINVAL (NULL arguments). */
int pool_acquire(struct pool *p, const struct ike_identity *id, struct in_addr *addr);
/* Drop one holder of addr: 0, or -ENOENT when addr is not leased. */
int pool_release(struct pool *p, struct in_addr addr);

/* Holders of addr (0: free or not in the pool). */
unsigned pool_holders(const struct pool *p, struct in_addr addr);
/* Addresses the pool can hand out, and how many are leased now. */
size_t pool_size(const struct pool *p);
size_t pool_in_use(const struct pool *p);

#endif
