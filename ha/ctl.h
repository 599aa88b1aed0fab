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
 *	       With a foreign agent, "foreign_agent":{...} is added (relay, advertisement and
 *	       data-path counters); a foreign agent alone answers only that part.
 *	visitors  {"visitors":[{"home_address":"198.18.1.100","home_agent":"198.18.1.2",
 *	        "link_address":"02:6d:6e:00:00:01","reverse_tunnel":true,"lifetime":300,
 *	        "remaining":287,"identification":"0x...","registered_at_monotonic_ms":...}],
 *	        "pending":0}  (foreign agent, RFC 5944 §3.7.1 visitor list)
 * A request for a role this process does not have is answered with an error.
 */
#ifndef MM_HA_CTL_H
#define MM_HA_CTL_H

#include "daemon/json.h"
#include "ha/datapath.h"
#include "ha/fa_datapath.h"
#include "mip4/fa_engine.h"
#include "mip4/ha_engine.h"

struct fa_adv_stats;

struct ha_ctl_ctx {
	const struct ha_engine *engine;   /* NULL: no home agent here */
	const struct ha_datapath *dp;     /* may be NULL */
};

/* The foreign agent's parts (ha/fa.h). */
struct fa_ctl_ctx {
	const struct fa_engine *engine;
	const struct fa_datapath *dp;     /* may be NULL */
	const struct fa_adv_stats *adv;   /* may be NULL */
};

/* control_handler_fn: user is a struct ha_ctl_ctx *. Returns g_malloc'd JSON. */
char *ha_ctl_handle(const char *request, void *user);
/* The same for a process with a home agent (ha->engine not NULL), a foreign agent (fa not
 * NULL), or both. */
char *ha_ctl_handle_both(const char *request, const struct ha_ctl_ctx *ha,
			 const struct fa_ctl_ctx *fa);

char *ha_ctl_list_json(const struct ha_engine *ha);
char *ha_ctl_stats_json(const struct ha_engine *ha, const struct ha_dp_stats *dp);
char *ha_ctl_visitors_json(const struct fa_engine *fa);
/* The "foreign_agent" object's members, for embedding. */
void ha_ctl_fa_stats(struct json *j, const struct fa_ctl_ctx *fa);

#endif
