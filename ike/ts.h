/* Traffic selector narrowing (RFC 7296 2.9) for IPv4 address ranges (3.13.1).
 *
 * The responder narrows each side of the initiator's proposal to what its policy allows:
 * every proposed selector is intersected with every allowed one (addresses, protocol, port
 * range), and the non-empty intersections are the answer. Nothing left on either side means
 * TS_UNACCEPTABLE (2.9). The initiator then checks that what came back lies within what it
 * proposed.
 *
 * Conversions between the wire form (struct ike_ts_list, payload.h) and the engine's
 * struct ike_ts4_list (engine.h) live here too; IPv6 selectors in a proposal are skipped
 * (this engine is IPv4 only).
 */
#ifndef MM_IKE_TS_H
#define MM_IKE_TS_H

#include <stdbool.h>

#include "ike/engine.h"
#include "ike/payload.h"

/* One selector covering every IPv4 address, protocol and port. */
void ike_ts4_any(struct ike_ts4_list *out);
/* One selector for a single address, any protocol and port. */
void ike_ts4_host(struct ike_ts4_list *out, struct in_addr addr);
bool ike_ts4_is_empty(const struct ike_ts4_list *l);

/* Wire -> engine (IPv4 ranges only; at most IKE_CFG_MAX_TS) and back. */
void ike_ts_from_wire(const struct ike_ts_list *in, struct ike_ts4_list *out);
void ike_ts_to_wire(const struct ike_ts4_list *in, struct ike_ts_list *out);

/* out = the non-empty intersections of proposed x allowed (at most IKE_CFG_MAX_TS).
 * Returns 0, or -ENOENT when nothing intersects. */
int ike_ts_narrow(const struct ike_ts4_list *proposed, const struct ike_ts4_list *allowed,
		  struct ike_ts4_list *out);

/* Is every selector of got inside some selector of proposed? */
bool ike_ts_within(const struct ike_ts4_list *got, const struct ike_ts4_list *proposed);

/* "10.0.0.0-10.0.0.255" or "10.0.0.1/tcp/80-443" into buf, for logs. */
const char *ike_ts4_str(const struct ike_ts4 *t, char *buf, size_t size);

#endif
