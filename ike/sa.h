/* The IKE SA object (RFC 7296 2, 2.1-2.4, 2.8, 2.14-2.18, 2.23) and its Child SAs.
 *
 * One struct ike_sa per IKE SA, in either role. It holds what the exchanges of sa_init.c,
 * auth.c, child.c and info.c need between messages:
 *  - SPIs, the original-initiator flag, the state (one set-state function below);
 *  - the negotiated suite, its resolved algorithms, the keys (ike_sa_keys) and the SK
 *    contexts of both directions;
 *  - nonces and the raw IKE_SA_INIT messages until IKE_AUTH has used them (2.15);
 *  - message IDs (window size 1, 2.3): the next request ID we send, the next one we expect,
 *    the last response we sent (to answer a retransmitted request, 2.1) and our request in
 *    flight with its retransmission timer (2.1, 2.4);
 *  - tasks waiting for the window (rekeys, deletes, liveness checks);
 *  - Child SAs (SPIs, suite, selectors, state; keys only while handed out in CHILD_UP);
 *  - NAT flags and endpoints (2.23), the peer configuration and identity, the inner
 *    address, timers (half-open expiry, IKE rekey, DPD);
 *  - MOBIKE state (RFC 4555, struct ike_mobike): the move under way, path testing, the
 *    peer's address set, a return routability check waiting.
 * Keys are wiped when replaced and when the SA is freed.
 */
#ifndef MM_IKE_SA_H
#define MM_IKE_SA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/log.h"
#include "ike/dh.h"
#include "ike/engine.h"
#include "ike/keys.h"
#include "ike/natd.h"
#include "ike/payload.h"
#include "ike/sk_crypt.h"
#include "ike/transform.h"

struct ike_engine;

#define IKE_SA_MAX_CHILDREN 8      /* Child SAs per IKE SA, rekey overlaps included */
#define IKE_OUR_NONCE_LEN   32     /* 2.10: at least half the PRF key size; 256 bits */
#define IKE_SA_MAX_TASKS    8

enum ike_sa_state {
	IKE_SA_NEW = 0,
	IKE_SA_INIT_SENT,          /* initiator: IKE_SA_INIT request out */
	IKE_SA_INIT_DONE,          /* responder: IKE_SA_INIT answered; half-open until AUTH */
	IKE_SA_AUTH_SENT,          /* initiator: IKE_AUTH request out */
	IKE_SA_ESTABLISHED,
	IKE_SA_REKEYED,            /* replaced by a rekeyed SA (2.18); waits for its DELETE */
	IKE_SA_DELETING,           /* our DELETE of the IKE SA is out */
	IKE_SA_DEAD,               /* gone; freed at the end of the engine call */
	IKE_SA_STATE_COUNT
};

enum ike_child_state {
	IKE_CHILD_FREE = 0,
	IKE_CHILD_INSTALLED,
	IKE_CHILD_REKEYING,        /* our rekey of it is in flight or queued */
	IKE_CHILD_REKEYED,         /* replaced: a DELETE for it is due (ours or the peer's) */
	IKE_CHILD_DELETING,        /* our DELETE for it is out */
};

/* One ESP SA pair. */
struct ike_child {
	enum ike_child_state state;
	uint32_t spi_in, spi_out;
	struct ike_suite suite;
	struct ike_ts4_list ts_local, ts_remote;
	mm_time_ns established;
	mm_time_ns expire_at;      /* REKEYED: delete it ourselves if the peer does not */
	mm_time_ns retry_at;       /* rekey refused with TEMPORARY_FAILURE: try again then */
	/* 2.8.1: the peer rekeyed this SA while our own rekey of it was in flight */
	bool collision;
	uint32_t coll_spi_in;      /* the Child SA the peer's exchange created */
	uint8_t coll_nonce[IKE_NONCE_MAX];   /* lower nonce of the peer's exchange */
	size_t coll_nonce_len;
};

/* Things to do when the window is free (2.3: one request at a time). */
enum ike_task {
	IKE_TASK_NONE = 0,
	IKE_TASK_SA_INIT,
	IKE_TASK_AUTH,
	IKE_TASK_CREATE_CHILD,
	IKE_TASK_REKEY_CHILD,
	IKE_TASK_REKEY_IKE,
	IKE_TASK_DELETE_CHILD,
	IKE_TASK_DELETE_IKE,
	IKE_TASK_DPD,
	/* MOBIKE (RFC 4555): never queued, due by the flags of struct ike_mobike */
	IKE_TASK_MOBIKE_UPDATE,    /* UPDATE_SA_ADDRESSES to mob.to_* (3.5) */
	IKE_TASK_MOBIKE_RR,        /* COOKIE2 to mob.rr_* (3.7) */
	IKE_TASK_MOBIKE_ADDRS,     /* our address set changed (3.6) */
};

struct ike_task_item {
	enum ike_task task;
	uint32_t child_spi;        /* the Child SA concerned (its inbound SPI) */
	uint16_t dh_group;         /* CREATE_CHILD_SA: KE group the peer asked for (1.3) */
};

/* Our request in flight (2.1-2.3). */
struct ike_request {
	bool active;
	enum ike_task task;
	uint8_t exchange;
	uint32_t msg_id;
	uint8_t *msg;              /* as sent, for retransmission */
	size_t len;
	unsigned sends;
	mm_time_ns retransmit_at;
	/* CREATE_CHILD_SA context */
	uint32_t child_spi;        /* rekey / delete: the Child SA concerned */
	uint32_t new_spi_in;       /* the ESP SPI we proposed */
	uint64_t new_ike_spi;      /* IKE rekey: our SPI for the new SA */
	uint8_t nonce[IKE_NONCE_MAX];
	size_t nonce_len;
	struct ike_dh *dh;
	uint16_t dh_group_forced;  /* CREATE_CHILD_SA retried with the peer's group */
	struct ike_ts4_list ts_local, ts_remote;   /* what we proposed */
	/* where it went (RFC 4555 3.5, 3.10: the path may change between sends) */
	struct ike_endpoint local, remote;   /* the last (single) path it was sent on */
	struct ike_endpoint built_local, built_remote;   /* the pair NAT_DETECTION_* and
						  * NO_NATS_ALLOWED describe */
	bool path_changed;         /* sent on more than one path: the answer proves none */
	bool multi_path;           /* sent on several pairs at once (path testing) */
	mm_time_ns first_sent;
	uint8_t cookie2[IKE_COOKIE2_MAX];   /* COOKIE2 we sent (3.7) */
	size_t cookie2_len;
	bool natd;                 /* carried NAT_DETECTION_* (3.8) */
};

#define IKE_MOBIKE_VERIFIED 8

/* MOBIKE state of an IKE SA (RFC 4555; mobike.c). */
struct ike_mobike {
	bool initiator;            /* MOBIKE initiator: made the first IKE SA; decides (3.5);
				    * kept across IKE SA rekeys, unlike ike_sa.initiator */
	/* initiator: moves (3.5) */
	bool moving;               /* a move is under way: requests go to to_* */
	bool move_wanted;          /* "pending_update": an UPDATE_SA_ADDRESSES for to_* is due */
	bool deferred;             /* no usable address: nothing is sent */
	bool unsure;               /* an UPDATE_SA_ADDRESSES went out and was not answered on
				    * its own path: the peer may have moved to where it arrived */
	struct ike_endpoint to_local, to_remote;   /* the newest pair */
	mm_time_ns move_since;
	unsigned nat_retries;      /* UNEXPECTED_NAT_DETECTED answers (3.9: retry a few times) */
	/* initiator: path testing (3.10) */
	bool probing;
	bool probe_due;            /* the daemon said the path failed: a liveness check on
				    * every pair */
	/* our address set changed: tell the peer (3.6) */
	bool addrs_due;
	/* NAT mapping (3.8): NAT_DETECTION_DESTINATION_IP of the last answer on our path */
	bool have_natd_dst;
	uint8_t natd_dst[IKE_NAT_DETECTION_LEN];
	/* the peer's address set (3.4, 3.6); the address in the IP header first */
	size_t npeer_addrs;
	struct in_addr peer_addrs[IKE_MOBIKE_MAX_ADDRS];
	/* responder: a new peer address waiting for its return routability check (3.7) */
	bool rr_wanted;
	bool rr_due;               /* the COOKIE2 request is still to be sent */
	struct ike_endpoint rr_local, rr_remote;
	bool rr_nat_local, rr_nat_remote;
	mm_time_ns rr_since;
	/* responder: peer addresses proven reachable (the first one, and each that passed) */
	size_t nverified;
	struct in_addr verified[IKE_MOBIKE_VERIFIED];
	/* responder: the MM_ESP_RECEIVED marks of the UPDATE_SA_ADDRESSES that is moving the SA
	 * (kept through the return routability check; handed out with the move, then cleared) */
	size_t nreceived;
	struct ike_esp_received received[IKE_MOVE_MAX_CHILDREN];
	uint32_t moves;
	mm_time_ns last_move;
};

/* 2.8.2: the peer rekeyed this IKE SA while our own rekey of it was in flight. */
struct ike_rekey_collision {
	bool active;
	struct ike_sa *sa;         /* the SA the peer's exchange created (not yet announced) */
	uint8_t nonce[IKE_NONCE_MAX];   /* lower nonce of the peer's exchange */
	size_t nonce_len;
};

struct ike_sa {
	struct ike_engine *e;
	struct logger log;
	enum ike_sa_state state;
	bool initiator;            /* original initiator (the I flag, 3.1; the rekey initiator
				    * for a rekeyed SA) */
	uint64_t spi_i, spi_r;
	const struct ike_peer_cfg *peer;   /* NULL on the responder until IKE_AUTH */
	struct ike_endpoint local, remote;
	bool nat_local, nat_remote;
	bool natt;                 /* moved to port 4500 (2.23) */
	bool mobike;               /* both sides sent MOBIKE_SUPPORTED (RFC 4555 4.2.1) */
	struct ike_mobike mob;
	bool announced;            /* SA_UP emitted */
	/* Round trip to the peer, the latest sample (0: none yet): a request of ours answered
	 * after its only send (Karn's rule: a retransmitted one says nothing), or as responder
	 * our IKE_SA_INIT answer -> the IKE_AUTH request (the initiator's computation adds a
	 * little). Used by the daemon to start its handover replay (daemon/replay.h). */
	mm_time_ns rtt;
	mm_time_ns init_answered_at;   /* responder: when IKE_SA_INIT was answered */

	/* negotiated */
	struct ike_suite suite;
	struct ike_algs algs;
	bool have_keys;
	struct ike_sa_keys keys;
	struct ike_sk_ctx sk_out, sk_in;

	/* IKE_SA_INIT and IKE_AUTH (2.15) */
	uint8_t ni[IKE_NONCE_MAX], nr[IKE_NONCE_MAX];
	size_t ni_len, nr_len;
	uint8_t *init_req, *init_resp;     /* raw IKE_SA_INIT messages, freed once established */
	size_t init_req_len, init_resp_len;
	struct ike_dh *dh;                 /* initiator, until the response */
	uint16_t ke_groups_tried[4];       /* INVALID_KE_PAYLOAD retries (1.2: once per group) */
	size_t n_ke_tried;
	uint8_t cookie[IKE_COOKIE_MAX];    /* 2.6: the responder's cookie, echoed first */
	size_t cookie_len;
	unsigned cookie_tries;
	bool peer_sig_hashes;              /* peer sent SIGNATURE_HASH_ALGORITHMS (RFC 7427 4) */
	bool peer_certreq;
	bool peer_mm;                      /* the peer sent our Vendor ID (IKE_MM_VENDOR_ID):
					    * it knows our private notifies */

	/* message IDs (2.3, window size 1) */
	uint32_t next_req_id;              /* our next request */
	uint32_t next_peer_id;             /* the peer's next request */
	uint8_t *last_resp;                /* our response to next_peer_id - 1 (2.1) */
	size_t last_resp_len;
	struct ike_request req;
	struct ike_task_item tasks[IKE_SA_MAX_TASKS];
	size_t ntasks;

	/* identities and configuration */
	struct ike_identity peer_id;
	struct in_addr inner_addr;
	bool inner_leased;                 /* responder: from ops.pool_acquire */
	struct in_addr dns[2];
	size_t ndns;

	struct ike_child child[IKE_SA_MAX_CHILDREN];

	/* rekeying (2.8, 2.18) */
	uint64_t replaces_spi_i, replaces_spi_r;
	struct ike_rekey_collision coll;
	struct ike_sa *rekey_parent;       /* a not yet announced SA: the SA it would replace */

	/* timers */
	mm_time_ns created, established, rekey_at, last_rx, expire_at;
	mm_time_ns due;                    /* the earliest of them (heap key) */
	size_t heap_idx;                   /* SIZE_MAX: not in the heap */
	bool dead_listed;
	struct ike_sa *next_dead;
};

/* State names for logs and ike_sa_info.state. */
const char *ike_sa_state_name(enum ike_sa_state s);
const char *ike_child_state_name(enum ike_child_state s);

/* The one place the state changes: refuses moves not in the transition table (-EPERM,
 * logged as a bug) and logs "old -> new (reason)". Entering DEAD queues the SA for freeing. */
int ike_sa_set_state(struct ike_sa *sa, enum ike_sa_state to, const char *reason);

/* A zeroed SA bound to the engine; the caller sets SPIs and roles. NULL when out of memory. */
struct ike_sa *ike_sa_alloc(struct ike_engine *e, mm_time_ns now);
/* Free everything, keys wiped. The SA must be out of the engine's tables. */
void ike_sa_free(struct ike_sa *sa);

/* Name the SA in log lines: "ike[<spi_i>_i <spi_r>_r <peer addr>]". */
void ike_sa_update_logger(struct ike_sa *sa);

/* Install algs + keys and key the SK contexts (2.14). Old keys are wiped first. */
int ike_sa_set_keys(struct ike_sa *sa, const struct ike_suite *suite,
		    const struct ike_algs *algs, const struct ike_sa_keys *keys);

/* Keep a copy of a raw message (IKE_SA_INIT, responses, requests in flight). */
int ike_sa_copy_msg(uint8_t **dst, size_t *dst_len, const uint8_t *msg, size_t len);

/* The request in flight: forget it (DH wiped, message freed). */
void ike_request_clear(struct ike_request *r);

/* Child SAs. */
struct ike_child *ike_sa_child_new(struct ike_sa *sa);
struct ike_child *ike_sa_child_by_in(struct ike_sa *sa, uint32_t spi_in);
struct ike_child *ike_sa_child_by_out(struct ike_sa *sa, uint32_t spi_out);
size_t ike_sa_child_count(const struct ike_sa *sa);

/* Tasks waiting for the window. */
int ike_sa_task_add(struct ike_sa *sa, enum ike_task task, uint32_t child_spi);
int ike_sa_task_push_front(struct ike_sa *sa, const struct ike_task_item *t);
bool ike_sa_task_pending(const struct ike_sa *sa, enum ike_task task, uint32_t child_spi);
bool ike_sa_task_pop(struct ike_sa *sa, struct ike_task_item *out);

/* Fill the public view. */
void ike_sa_info_fill(const struct ike_sa *sa, struct ike_sa_info *out);

#endif
