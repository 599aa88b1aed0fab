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
 *	        "mobike":true,"moves":1,"rr_pending":false,
 *	        "peer_addresses":["198.19.110.2"],
 *	        "last_move":{"old_local":"198.19.0.2:4500","old_remote":"198.19.100.2:4500",
 *	          "new_local":"198.19.0.2:4500","new_remote":"198.19.110.2:4500",
 *	          "old_nat":"none","nat":"remote","took_ms":"0.412","ago_s":3} (null: none),
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
 *	        "pool_exhausted":..},
 *	        "mobike":{"updates_rx":..,"updates_accepted":..,"updates_refused":..,
 *	          "updates_sent":..,"rr_sent":..,"rr_failed":..,"probes":..,"moves":..,
 *	          "moves_failed":..},"ike_sas":N,"child_sas":N,
 *	        "pool":{"size":253,"in_use":1},
 *	        "esp":{"out_packets":..,"out_bytes":..,...,"peer_moved":..,"other_source":..,
 *	          "moves":..,"in_drops":{"replay":..}}}
 *
 * Orders (gwctl rekey child / rekey ike / terminate): the daemon finds the SA, calls the
 * engine (ike_engine_rekey_child, _rekey_ike, _delete) and answers at once; the exchange
 * runs on and its outcome shows in "list" and the log.
 *	rekey-child SPI   a Child SA by its inbound or outbound SPI (8 hex digits, as "list"
 *	                  shows them): CREATE_CHILD_SA rekey (RFC 7296 1.3.3, 2.8)
 *	rekey-ike SPI     an IKE SA by its spi_i or spi_r (16 hex digits): CREATE_CHILD_SA
 *	                  rekey of the IKE SA (1.3.2, 2.18); its Child SAs move to the new one
 *	terminate SPI     an IKE SA named as for rekey-ike: INFORMATIONAL with DELETE (1.4.1)
 *	       {"ok":true,"request":"rekey-child c1234567"}
 *	       {"error":"no such Child SA c1234567","request":"rekey-child c1234567"}
 * Anything else: {"error":"unknown request: ...","request":"..."}.
 */
#ifndef MM_VPNGW_CTL_H
#define MM_VPNGW_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "ike/engine.h"
#include "daemon/espdp.h"

/* The last MOBIKE address update of an IKE SA (IKE_ACT_SA_MOVED, RFC 4555 3.5). */
struct vpngw_ctl_move {
	struct ike_endpoint old_local, old_remote, new_local, new_remote;
	bool old_nat_local, old_nat_remote, nat_local, nat_remote;
	mm_time_ns took;             /* from the UPDATE_SA_ADDRESSES to the move */
	mm_time_ns at;               /* when (monotonic; 0: never moved) */
};

/* One IKE SA as the daemon knows it. */
struct vpngw_ctl_sa {
	struct ike_sa_info info;
	mm_time_ns established;      /* when SA_UP came (0: unknown) */
	mm_time_ns rekey_at;         /* IKE_TIME_NEVER or 0: unknown / never */
	struct vpngw_ctl_move last_move;   /* at 0: none seen by the daemon */
};

struct vpngw_ctl_pool {
	size_t size, in_use;         /* size 0: no pool */
};

/* The documents (g_malloc'd text, NULL on failure). */
char *vpngw_ctl_list_json(const struct vpngw_ctl_sa *sas, size_t n, const struct espdp *dp,
			  mm_time_ns now);
char *vpngw_ctl_stats_json(const struct ike_engine_stats *ike, size_t ike_sas,
			   const struct vpngw_ctl_pool *pool, const struct espdp *dp);
/* A request line, parsed. */
enum vpngw_ctl_op {
	VPNGW_CTL_LIST = 1,
	VPNGW_CTL_STATS,
	VPNGW_CTL_REKEY_CHILD,
	VPNGW_CTL_REKEY_IKE,
	VPNGW_CTL_TERMINATE,
};

struct vpngw_ctl_req {
	enum vpngw_ctl_op op;
	uint64_t spi;                /* orders: the SPI named (never 0); a Child SA's fits 32 bits */
};

/* 0 and *out set, or -EINVAL and *why (a static string for the error document): an unknown
 * request, or an order without exactly one SPI of the right length (lower- or upper-case
 * hex digits, not all zero: RFC 7296 3.1, 3.3.1 never give SPI 0). */
int vpngw_ctl_parse(const char *request, struct vpngw_ctl_req *out, const char **why);

/* The Child SA in the data path whose inbound or outbound SPI is spi: its inbound SPI (the
 * engine's handle for it) and the spi_i of its IKE SA. 0, or -ENOENT. */
int vpngw_ctl_find_child(const struct espdp *dp, uint32_t spi, uint32_t *spi_in,
			 uint64_t *ike_spi_i);

/* What an order's outcome means, for the answer and the log line: "" for rc 0, "no such
 * IKE SA 0123456789abcdef" (-ENOENT), "... is not established (being set up, rekeyed or
 * deleted)" (-EAGAIN), "... is already being rekeyed" / "... deleted" (-EALREADY), else
 * the errno text. Returns buf. */
const char *vpngw_ctl_order_result(const struct vpngw_ctl_req *req, int rc, char *buf,
				   size_t size);

/* {"ok":true,"request":"..."} for rc 0, else {"error":"<vpngw_ctl_order_result>",
 * "request":"..."}. */
char *vpngw_ctl_order_json(const char *request, const struct vpngw_ctl_req *req, int rc);

/* {"error":why,"request":"..."}; why NULL: "unknown request: try list, stats, rekey-child
 * SPI, rekey-ike SPI or terminate SPI". */
char *vpngw_ctl_error_json(const char *request, const char *why);

/* "a.b.c.d/len" for a CIDR range, else "a.b.c.d-e.f.g.h"; "[proto]" or "[proto/port]" or
 * "[proto/lo-hi]" appended when the selector is narrower than any protocol, all ports. */
const char *vpngw_ctl_ts_str(const struct ike_ts4 *t, char *buf, size_t size);

#endif
