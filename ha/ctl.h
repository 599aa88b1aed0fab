/* The home agent's control-socket requests (daemon/control.h): one line in, one JSON
 * document out.
 *
 *	list   {"bindings":[{"home_address":"198.18.1.100","care_of_address":"198.18.11.10",
 *	        "tunnel_endpoint":"198.18.211.2:1234","encapsulation":"udp",
 *	        "reverse_tunnel":true,"lifetime":300,"remaining":287,
 *	        "identification":"0x...","registered_at_monotonic_ms":...,"registrations":3}]}
 *	       tunnel_endpoint is the effective outer destination: "ADDR" for IP-in-IP,
 *	       "ADDR:PORT" for UDP tunnelling (RFC 3519).
 *	stats  {"requests":..,"accepted":..,"deregistrations":..,"expired":..,"denied":..,
 *	        "denied_by_code":{"131":1},"dropped_malformed":..,"dropped_unauthenticated":..,
 *	        "unknown_spi":..,"dropped_untrusted":..,"auth_failures":..,"replays":..,"stale_identification":..,
 *	        "keepalives":..,"keepalives_refused":..,"bindings":..,"mobile_nodes":..,
 *	        "datapath":{...}}
 *	       accepted + denied = Registration Replies sent. dropped_untrusted: datagrams
 *	       from outside trusted-networks (RFC 5265 §4.3; always 0 when it is not set).
 */
#ifndef MM_HA_CTL_H
#define MM_HA_CTL_H

#include "ha/datapath.h"
#include "mip4/ha_engine.h"

struct ha_ctl_ctx {
	const struct ha_engine *engine;
	const struct ha_datapath *dp;     /* may be NULL */
};

/* control_handler_fn: user is a struct ha_ctl_ctx *. Returns g_malloc'd JSON. */
char *ha_ctl_handle(const char *request, void *user);

char *ha_ctl_list_json(const struct ha_engine *ha);
char *ha_ctl_stats_json(const struct ha_engine *ha, const struct ha_dp_stats *dp);

#endif
