/* vpngw's control-socket answers (daemon/control.h): one request line in, one JSON document
 * out. The daemon gathers the IKE SAs from the engine (ike_engine_next_sa) and passes them
 * here with the data path, so this file builds documents only and needs no engine.
 *
 *	list   {"ike_sas":[{"peer":"mn","peer_id":"mn@test","role":"responder",
 *	        "state":"established" (the engine's state name, null if it gave none),
 *	        "spi_i":"0123456789abcdef","spi_r":"fedcba9876543210",
 *	        "local":"198.19.0.2:4500","remote":"198.19.110.2:4500",
 *	        "nat_local":false,"nat_remote":true,"inner_address":"198.18.100.1",
 *	        "dns":["198.18.1.53"],"suite":"aes128gcm16-prfsha256-x25519",
 *	        "established_s":12,"rekey_in_s":14388,
 *	        "child_sas":[{"spi_in":"c1234567","spi_out":"c7654321","suite":"aes128gcm16",
 *	          "ts_local":["198.18.0.0/16"],"ts_remote":["198.18.100.1/32"],
 *	          "remote":"198.19.110.2:4500","udp_encap":true,"state":"active",
 *	          "in_packets":3,"in_bytes":252,"out_packets":3,"out_bytes":252,
 *	          "installed_s":12,"lifetime_s":3600,"rekey_in_s":3588,"expire_in_s":3948,
 *	          "drops":{"replay":1}}]}],
 *	        "child_sas_without_ike_sa":[...]}
 *	       established_s / installed_s: seconds since; rekey_in_s / expire_in_s: seconds
 *	       until (null: never); drops lists only non-zero reasons (esp_drop_name words,
 *	       plus "ts-mismatch-in"/"ts-mismatch-out").
 *	stats  {"ike":{"rx":..,"tx":..,"retransmits":..,"dropped_malformed":..,...,
 *	        "pool_exhausted":..},"ike_sas":N,"child_sas":N,
 *	        "pool":{"size":253,"in_use":1},
 *	        "esp":{"out_packets":..,"out_bytes":..,...,"in_drops":{"replay":..}}}
 */
#ifndef MM_VPNGW_CTL_H
#define MM_VPNGW_CTL_H

#include <stddef.h>

#include "common/clock.h"
#include "ike/engine.h"
#include "daemon/espdp.h"

/* One IKE SA as the daemon knows it. */
struct vpngw_ctl_sa {
	struct ike_sa_info info;
	mm_time_ns established;      /* when SA_UP came (0: unknown) */
	mm_time_ns rekey_at;         /* IKE_TIME_NEVER or 0: unknown / never */
};

struct vpngw_ctl_pool {
	size_t size, in_use;         /* size 0: no pool */
};

/* The documents (g_malloc'd text, NULL on failure). */
char *vpngw_ctl_list_json(const struct vpngw_ctl_sa *sas, size_t n, const struct espdp *dp,
			  mm_time_ns now);
char *vpngw_ctl_stats_json(const struct ike_engine_stats *ike, size_t ike_sas,
			   const struct vpngw_ctl_pool *pool, const struct espdp *dp);
/* {"error":"unknown request: try \"list\" or \"stats\"","request":"..."} */
char *vpngw_ctl_error_json(const char *request);

/* "a.b.c.d/len" for a CIDR range, else "a.b.c.d-e.f.g.h"; "[proto]" or "[proto/port]" or
 * "[proto/lo-hi]" appended when the selector is narrower than any protocol, all ports. */
const char *vpngw_ctl_ts_str(const struct ike_ts4 *t, char *buf, size_t size);

#endif
