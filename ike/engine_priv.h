/* Inside the IKEv2 engine: the engine object and what the exchange files (sa_init.c, auth.c,
 * child.c, info.c) share with engine.c. Not for use outside ike/.
 */
#ifndef MM_IKE_ENGINE_PRIV_H
#define MM_IKE_ENGINE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/log.h"
#include "ike/cookie.h"
#include "ike/engine.h"
#include "ike/msg.h"
#include "ike/payload.h"
#include "ike/sa.h"
#include "ike/sk_crypt.h"
#include "ike/spimap.h"

/* Timeouts (RFC 7296 leaves them to the implementation). */
#define IKE_HALF_OPEN_TIMEOUT   MM_SEC(30)   /* responder: IKE_AUTH must follow (2.6, RFC 8019) */
#define IKE_REKEYED_TIMEOUT     MM_SEC(30)   /* replaced SA without the peer's DELETE (2.8) */
#define IKE_RETRY_DELAY         MM_SEC(10)   /* after TEMPORARY_FAILURE (2.25: wait) */
#define IKE_MAX_COOKIE_TRIES    3
#define IKE_TEMPFAIL_MAX        MM_SEC(300)  /* 2.25: give up after several minutes */

/* A message being built: header, [SK,] payloads; protected by ike_msg_end(). */
struct ike_out_msg {
	struct writer w;
	struct ike_builder b;
	struct ike_sk_frame f;
	bool sk;
	size_t len;
	uint8_t buf[IKE_MSG_MAX];
};

/* A received message on its way through the handlers. */
struct ike_rx {
	const uint8_t *data;               /* the whole message (no non-ESP marker) */
	size_t len;
	const struct ike_msg *m;           /* stage 1 */
	const struct ike_chain *pl;        /* the payloads: outer (IKE_SA_INIT) or decrypted */
	struct ike_endpoint from, to;
	mm_time_ns now;
	struct ike_actions *out;
};

struct ike_engine {
	struct ike_engine_cfg cfg;
	struct logger log;
	struct ike_spimap by_own;          /* our SPI (SPIi as initiator, SPIr as responder) */
	struct ike_spimap by_spi_i;        /* established responder SAs by SPIi (API handle) */
	struct ike_spimap half_open;       /* responder half-open SAs by SPIi + source (2.1) */
	struct ike_spimap by_child;        /* inbound ESP SPI -> IKE SA */
	struct ike_sa **heap;              /* timers: min-heap on sa->due */
	size_t heap_n, heap_cap;
	size_t nsas, nhalf_open;
	struct ike_engine_stats st;
	struct ike_cookie_state cookie;
	struct ike_sa *dead;               /* to free at the end of the call */
	/* scratch, one message at a time */
	struct ike_msg msg;
	struct ike_chain inner;
	uint8_t plain[IKE_MSG_MAX];
	struct ike_out_msg om;
};

/* --- engine.c: shared helpers ------------------------------------------------------------ */

int ike_engine_random(struct ike_engine *e, void *buf, size_t len);
/* A fresh SPI of ours, not in use: IKE (nonzero, 2.6) or ESP (>= 256, RFC 4303 2.1). */
int ike_engine_new_ike_spi(struct ike_engine *e, uint64_t *spi);
int ike_engine_new_esp_spi(struct ike_engine *e, uint32_t *spi);
/* Our nonce (IKE_OUR_NONCE_LEN octets). */
int ike_engine_nonce(struct ike_engine *e, uint8_t *out, size_t *len);

/* Tables. */
int ike_engine_index_own(struct ike_engine *e, struct ike_sa *sa);
void ike_engine_index_responder(struct ike_engine *e, struct ike_sa *sa);
int ike_engine_child_index(struct ike_engine *e, struct ike_sa *sa, uint32_t spi_in);
void ike_engine_child_unindex(struct ike_engine *e, struct ike_sa *sa, uint32_t spi_in);
uint64_t ike_engine_half_open_key(uint64_t spi_i, const struct ike_endpoint *from);
void ike_engine_half_open_add(struct ike_engine *e, struct ike_sa *sa);
void ike_engine_half_open_del(struct ike_engine *e, struct ike_sa *sa);

/* SAs: a new one in the timer heap (the caller sets SPIs, role and indexes it), and one
 * that never got anywhere, dropped again without actions. */
struct ike_sa *ike_engine_sa_new(struct ike_engine *e, mm_time_ns now);
void ike_engine_sa_discard(struct ike_sa *sa);
/* Call fn for every live SA (the SA may be killed by fn, not others). */
void ike_engine_foreach(struct ike_engine *e, void (*fn)(struct ike_sa *sa, void *arg),
			void *arg);

/* Timers: recompute sa->due after a change. */
void ike_sa_schedule(struct ike_sa *sa);

/* Messages. ike_msg_begin() writes the header (and opens SK unless IKE_SA_INIT); payloads
 * then go through o->b; ike_msg_end() closes and protects. */
int ike_msg_begin(struct ike_sa *sa, struct ike_out_msg *o, uint8_t exchange, bool response,
		  uint32_t msg_id);
int ike_msg_end(struct ike_sa *sa, struct ike_out_msg *o);
/* Send o as our next request (its ID must be sa->next_req_id) for task; sa->req's context
 * fields (nonce, dh, SPIs) are kept, the message is copied for retransmission. */
int ike_sa_send_request(struct ike_sa *sa, struct ike_out_msg *o, enum ike_task task,
			mm_time_ns now, struct ike_actions *out);
/* Send o as the response to rx (cached for retransmitted requests, 2.1). */
int ike_sa_send_response(struct ike_sa *sa, struct ike_out_msg *o, const struct ike_rx *rx);
/* A response holding only Notify `type` (with data), to rx. */
int ike_sa_send_notify_response(struct ike_sa *sa, const struct ike_rx *rx, uint16_t type,
				const void *data, size_t len);

/* Actions. -ENOSPC (logged) when out is full. */
int ike_act_send(struct ike_actions *out, const struct ike_endpoint *local,
		 const struct ike_endpoint *remote, const uint8_t *msg, size_t len);
int ike_act_sa(struct ike_actions *out, enum ike_action_kind kind, const struct ike_sa *sa,
	       const char *reason);
int ike_act_child_up(struct ike_actions *out, const struct ike_sa *sa,
		     const struct ike_child *c, const struct ike_child_keys *k,
		     bool we_initiated, uint32_t replaces);
int ike_act_child_down(struct ike_actions *out, const struct ike_sa *sa,
		       const struct ike_child *c);
void ike_act_keylog(struct ike_actions *out, const struct ike_sa *sa);

/* Remove a Child SA: CHILD_DOWN (when announce), unindex, free the slot. */
void ike_sa_child_remove(struct ike_sa *sa, struct ike_child *c, bool announce,
			 struct ike_actions *out);
/* The IKE SA is gone: CHILD_DOWN for every Child SA, SA_DOWN (when it was announced or we
 * initiated it), pool address released, out of every table, state DEAD. */
void ike_sa_kill(struct ike_sa *sa, const char *reason, struct ike_actions *out);
/* The SA reached ESTABLISHED: SA_UP, timers (rekey, DPD), tables. */
void ike_sa_established(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out);
/* Start the next waiting task if the window is free. */
void ike_sa_kick(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out);
/* Is there room in out for an exchange's worth of actions? */
bool ike_actions_room(const struct ike_actions *out, size_t nact, size_t bytes);

/* One log line for a dropped message; counter (may be NULL) is incremented. */
void ike_drop(struct ike_engine *e, const struct ike_sa *sa, const struct ike_endpoint *from,
	      uint64_t *counter, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Payload helpers for the handlers: the first payload of a type in rx->pl (NULL if none), and
 * the first Notify of a type (0 and *n filled, -ENOENT, or -EBADMSG). */
const struct ike_payload_ref *ike_rx_find(const struct ike_rx *rx, uint8_t type);
/* Whether the message carries our Vendor ID (IKE_MM_VENDOR_ID). */
bool ike_rx_has_our_vendor_id(const struct ike_rx *rx);
int ike_rx_notify(const struct ike_rx *rx, uint16_t type, struct ike_notify *n);
/* The first error Notify (type < 16384) of rx, or 0. */
uint16_t ike_rx_error_notify(const struct ike_rx *rx);
const char *ike_notify_name(uint16_t type, char *buf, size_t size);

/* --- the exchanges ------------------------------------------------------------------------- */

/* sa_init.c (RFC 7296 1.2, 2.6, 2.7, 2.23) */
int ike_sa_init_start(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out);
int ike_sa_init_request(struct ike_engine *e, struct ike_rx *rx);
int ike_sa_init_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req);

/* auth.c (1.2, 2.15, 2.16, 2.19, 2.9, 2.17) */
int ike_auth_start(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out);
int ike_auth_request(struct ike_sa *sa, struct ike_rx *rx);
int ike_auth_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req);

/* child.c (1.3, 2.8, 2.17, 2.18) */
int ike_child_start(struct ike_sa *sa, const struct ike_task_item *t, mm_time_ns now,
		    struct ike_actions *out);
int ike_child_request(struct ike_sa *sa, struct ike_rx *rx);
int ike_child_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req);
/* KEYMAT for a Child SA and its CHILD_UP (2.17); g_ir may be empty. */
int ike_child_install(struct ike_sa *sa, struct ike_child *c, bool we_initiated,
		      const uint8_t *g_ir, size_t g_ir_len, const uint8_t *ni, size_t ni_len,
		      const uint8_t *nr, size_t nr_len, uint32_t replaces, struct ike_actions *out);
/* 2.8.2: our IKE SA rekey lost to (or failed beside) the peer's, which we answered: the
 * peer's new SA takes over. */
void ike_child_rekey_adopt(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out);
/* The request failed for good (retransmissions exhausted, SA going): undo its effects. */
void ike_child_request_failed(struct ike_sa *sa, struct ike_request *req);

/* info.c (1.4, 2.4, 1.5) */
int ike_info_start(struct ike_sa *sa, const struct ike_task_item *t, mm_time_ns now,
		   struct ike_actions *out);
int ike_info_request(struct ike_sa *sa, struct ike_rx *rx);
int ike_info_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req);
/* An INFORMATIONAL message outside any IKE SA (1.5): logged, never answered. */
void ike_info_unprotected(struct ike_engine *e, struct ike_rx *rx);

/* mobike.c (RFC 4555) */
#define IKE_MOBIKE_PROBE_AFTER  2            /* sends without an answer before path testing */
#define IKE_MOBIKE_MAX_PROBES   6            /* pairs tested per retransmission (3.10) */
#define IKE_MOBIKE_NAT_RETRIES  3            /* 3.9: retry after UNEXPECTED_NAT_DETECTED */
#define IKE_MOBIKE_RR_TRIES     3            /* sends of a return routability check (3.7) */
#define IKE_MOBIKE_PATIENCE     MM_SEC(300)  /* 3.11: responders retransmit five minutes */
#define IKE_MOBIKE_COOKIE2_LEN  16           /* 4.2.5: 8 to 64 octets, unpredictable */

/* IKE_AUTH: our address set (3.4) into a message whose IP header carries in_header; and,
 * once IKE_AUTH completed (before SA_UP), the MOBIKE role and the peer's address set. */
int ike_mobike_add_addresses(struct ike_sa *sa, struct ike_builder *b, struct in_addr in_header,
			     bool none_note);
void ike_mobike_auth_done(struct ike_sa *sa, const struct ike_rx *rx);
/* RFC 7296 2.23, SAs without MOBIKE only: the peer behind a NAT sent an authenticated new
 * message from `from`; the SA follows it (after SA_UP with IKE_ACT_SA_MOVED, like a MOBIKE
 * move, so that the daemon's data path and ike_engine_next_sa() agree). */
void ike_sa_follow_peer(struct ike_sa *sa, const struct ike_endpoint *from, mm_time_ns now,
			struct ike_actions *out);
/* Send the request in flight (first send or a retransmission): on its path, on every pair
 * while testing paths (3.10), nothing while deferred. */
int ike_mobike_transmit(struct ike_sa *sa, bool retransmission, mm_time_ns now,
			struct ike_actions *out);
/* Retransmit on (3.11, the MOBIKE responder) although the tries are used up? */
bool ike_mobike_keep_trying(const struct ike_sa *sa, const struct ike_request *r,
			    mm_time_ns now);
/* The tries a request of this task gets. */
unsigned ike_mobike_tries(const struct ike_sa *sa, const struct ike_request *r);
/* A request of a MOBIKE task got no answer at all: handled without killing the SA? */
bool ike_mobike_request_expired(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out);
/* MOBIKE work due on the SA (kept in flags, before the queued tasks), the next one of it
 * (its flag cleared), and starting one (UPDATE_SA_ADDRESSES, COOKIE2 check, address set;
 * a liveness check goes to ike_info_start()). */
bool ike_mobike_task_due(const struct ike_sa *sa);
bool ike_mobike_next_task(struct ike_sa *sa, struct ike_task_item *t);
int ike_mobike_start(struct ike_sa *sa, const struct ike_task_item *t, mm_time_ns now,
		     struct ike_actions *out);
/* A liveness check of a MOBIKE initiator behind a NAT carries NAT_DETECTION_* (3.8). */
int ike_mobike_dpd_extras(struct ike_sa *sa, struct ike_builder *b, bool *natd);

/* What an INFORMATIONAL response carries for MOBIKE (3.5-3.9). */
struct ike_mobike_answer {
	uint16_t error;                      /* UNACCEPTABLE_ADDRESSES, UNEXPECTED_NAT_DETECTED */
	bool natd;                           /* NAT_DETECTION_* for the request's path (3.8) */
	bool have_cookie2;                   /* COOKIE2 copied as is (3.7) */
	struct ike_blob cookie2;
};
/* Responder side of an INFORMATIONAL request: UPDATE_SA_ADDRESSES, address sets,
 * NO_NATS_ALLOWED, COOKIE2, NAT detection. May emit SA_MOVED / PEER_ADDRESSES (before the
 * response's SEND) and queue a return routability check. */
void ike_mobike_request(struct ike_sa *sa, struct ike_rx *rx, struct ike_mobike_answer *ans);
int ike_mobike_answer_add(struct ike_sa *sa, const struct ike_rx *rx,
			  const struct ike_mobike_answer *ans, struct ike_builder *b);
/* A response to our request, before its handler: the end of path testing (3.10). */
void ike_mobike_response_path(struct ike_sa *sa, const struct ike_rx *rx,
			      const struct ike_request *req);
/* INFORMATIONAL responses to MOBIKE tasks, and liveness checks with NAT detection (3.8). */
int ike_mobike_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req);
/* Orders (engine.h). */
int ike_mobike_order_move(struct ike_sa *sa, const struct ike_endpoint *local,
			  const struct ike_endpoint *remote, mm_time_ns now,
			  struct ike_actions *out);
int ike_mobike_order_probe(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out);
void ike_mobike_local_changed(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out);
/* IKE SA rekey (2.18): the new SA takes over the MOBIKE state. */
void ike_mobike_inherit(struct ike_sa *to, const struct ike_sa *from);
/* Does a chain hold N(UPDATE_SA_ADDRESSES)? (for naming MOBIKE in drop lines) */
bool ike_mobike_has_update(const struct ike_chain *c);
/* "192.0.2.1:4500" */
const char *ike_ep_str(const struct ike_endpoint *ep, char *buf, size_t size);

#endif
