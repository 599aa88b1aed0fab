/* The IKEv2 engine (RFC 7296), shared by vpngw (responder) and mnd (initiator). No I/O.
 *
 * The daemon owns the sockets, the clock, the TUN devices and the ESP data path; the engine
 * owns every IKE SA and decides everything about them. The daemon calls in with
 *   - a datagram that arrived (ike_engine_input), with the addresses and ports it came from
 *     and went to, already stripped of the non-ESP marker when it came on port 4500;
 *   - an order of its own (ike_engine_initiate, _rekey_child, _rekey_ike, _delete, _dpd);
 *   - the passing of time (ike_engine_timer at ike_engine_next_timer());
 *   - an ESP event (a Child SA's soft or hard lifetime ran out: ike_engine_child_expired);
 * and gets back a list of actions (struct ike_actions) to carry out in order: datagrams to
 * send, Child SAs to install or remove, addresses to configure, key lines to log. Nothing
 * else leaves the engine. Every call takes `now` (CLOCK_MONOTONIC ns, common/clock.h), so
 * tests drive two engines against each other in one process with a fake clock.
 *
 * Files: one per exchange, both roles (DESIGN.md): sa_init.c (IKE_SA_INIT with COOKIE,
 * INVALID_KE_PAYLOAD and NAT_DETECTION_*), auth.c (IKE_AUTH: PSK and RFC 7427 signatures,
 * IDs, CP, TS narrowing, first Child SA), child.c (CREATE_CHILD_SA: child rekey with and
 * without PFS, IKE SA rekey, simultaneous rekeying of 2.8.1), info.c (INFORMATIONAL:
 * liveness check, DELETE); natd.c, cookie.c, proposal.c, ts.c, cp.c, keylog.c; sa.c (the
 * IKE SA object and its one set-state function), engine.c (dispatch by SPI, message IDs and
 * retransmission of 2.1-2.4, half-open limits, the response cache).
 *
 * Errors are negative errno; on bad input from the network the engine logs one line (with
 * the peer's address and the SA's SPIs) and returns 0 with no action and no state change.
 *
 * Actions: every call starts by emptying `out` (n = 0, buf_len = 0: carry out and clear the
 * previous batch first) and appends at most IKE_ACTIONS_MAX actions. Ordering guarantees:
 *  - CHILD_DOWN for every Child SA that goes with an IKE SA comes before that SA's SA_DOWN;
 *  - a responder installs a Child SA (CHILD_UP) before the SEND of the response that lets
 *    the peer use it (2.8);
 *  - IKE SA rekey (2.18): the new SA's SA_UP (ike_sa_info.replaces_spi_i/r naming the old
 *    one, whose Child SAs it took over without CHILD_DOWN / CHILD_UP) comes before the old
 *    SA's SA_DOWN;
 *  - Child SA rekey: the new SA's CHILD_UP (replaces_spi_in) comes before the old one's
 *    CHILD_DOWN, which follows the DELETE exchange (1.4.1, 2.8).
 * SA_UP / SA_DOWN are emitted for SAs that were established, and SA_DOWN also when an SA we
 * initiated fails before that (so that an initiator can retry); a responder's half-open SA
 * that never completes just goes (logged).
 *
 * MOBIKE (RFC 4555; ike/mobike.c). When both sides sent MOBIKE_SUPPORTED (ike_sa_info.mobike)
 * the IKE SA and all its Child SAs change addresses together, only by an explicit
 * UPDATE_SA_ADDRESSES exchange: an IKE message from another address never moves anything
 * (RFC 4621 5.2.6; RFC 4555 3.8; nor does where the IKE_AUTH answer came from, 3.3: the
 * SA starts on the pair of the IKE_AUTH request), whereas without MOBIKE the 2.23 rule stays:
 * a peer behind a NAT is followed to its new mapping by a side not behind a NAT itself,
 * after SA_UP with IKE_ACT_SA_MOVED (after SA_UP an SA's endpoints, as
 * ike_engine_next_sa() shows them, change only with that action). "Initiator" below is the
 * MOBIKE initiator, the side
 * that made the first IKE SA (it keeps the role across IKE SA rekeys): it decides (3.5).
 *  - Initiator (mnd): ike_engine_update_addresses() orders a move; the engine sends
 *    INFORMATIONAL {N(UPDATE_SA_ADDRESSES), N(NAT_DETECTION_*), N(COOKIE2),
 *    [N(NO_NATS_ALLOWED)], [N(ADDITIONAL_IP4_ADDRESS)+ | N(NO_ADDITIONAL_ADDRESSES)]} from the
 *    new pair and, on the answer, emits IKE_ACT_SA_MOVED. A newer order while one is under
 *    way redirects the request in flight to the newest pair (3.5) and, once it is answered,
 *    sends a fresh UPDATE_SA_ADDRESSES (its answer no longer says anything, 3.5, 3.7): never
 *    two requests outstanding, never a new IKE_SA_INIT. An order without a local address
 *    defers the SA: nothing is sent (no retransmissions, no liveness check, so no death by
 *    DPD) until the next order. When a request gets no answer after two sends, or when
 *    ike_engine_probe_paths() says the path failed, the engine tests paths (3.10): every
 *    retransmission goes on every (local address x peer address) pair, in the order of
 *    policy_mobike_pairs() (the local addresses of ike_engine_set_local_addresses(), the
 *    peer's address set; the current pair last, and only if our address there is still in
 *    the set: a single other pair is tested alone), and the first pair that answers becomes
 *    the new path (an UPDATE_SA_ADDRESSES to it). Refusals (UNACCEPTABLE_ADDRESSES;
 *    UNEXPECTED_NAT_DETECTED after three tries, 3.9) end in IKE_ACT_MOVE_FAILED and the SA
 *    stays on its old pair.
 *  - Responder (vpngw): UPDATE_SA_ADDRESSES counts only inside SK with the next message ID
 *    (replays and copies outside SK are dropped and logged); NO_NATS_ALLOWED that does not
 *    match the IP header is answered UNEXPECTED_NAT_DETECTED (3.9); policy_mobike_accept()
 *    with the peer's mobike_policy decides (a refusal is answered UNACCEPTABLE_ADDRESSES,
 *    the reason logged); when it asks for return routability (3.7; by default for an
 *    address new to the SA) the engine sends INFORMATIONAL {N(COOKIE2)} to the new address
 *    and moves (IKE_ACT_SA_MOVED) only when the answer echoes the cookie from that address
 *    (meanwhile its own IKE requests already go there, 3.5; a wrong cookie closes the SA,
 *    3.7; no answer, or one from elsewhere, leaves everything where it was).
 *    NAT flags come from the request's NAT_DETECTION_* notifies. Responders retransmit their
 *    own requests on MOBIKE SAs for five minutes at least (3.11).
 *  - Both: the local address set (cfg.local_addrs, ike_engine_set_local_addresses()) is
 *    announced in IKE_AUTH and, after a change, in an INFORMATIONAL (ADDITIONAL_IP4_ADDRESS
 *    per address other than the one in the IP header, or NO_ADDITIONAL_ADDRESSES; 3.4, 3.6)
 *    when cfg.announce_addresses is set; the peer's set is kept (ike_sa_info.peer_addrs,
 *    IKE_ACT_PEER_ADDRESSES). An initiator whose peer's new set no longer holds the current
 *    peer address moves to the first address of the set.
 *  - The daemon: after IKE_ACT_SA_MOVED, send IKE and ESP (both in UDP 4500) between the new
 *    endpoints for the SA and every Child SA listed; NAT keepalives (RFC 3948 4) only on that
 *    current pair, never on pairs being tested (RFC 4621 5.2.6), and only when the action's
 *    sa.nat_local says a NAT is in front of us; count ESP as liveness
 *    (ike_engine_child_activity()) only when it came from the current peer address (3.12).
 *    The engine needs the real local address of each datagram (IP_PKTINFO) in `to`; 0.0.0.0
 *    means unknown and is then not compared.
 *  - Counters in ike_engine_stats (mobike_*); every move is one NOTICE line "MOBIKE: moved
 *    OLD-LOCAL <-> OLD-REMOTE => NEW-LOCAL <-> NEW-REMOTE, NAT ..., in N ms".
 */
#ifndef MM_IKE_ENGINE_H
#define MM_IKE_ENGINE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "ike/transform.h"
#include "policy/mobike.h"

/* This engine has the MOBIKE calls, actions and fields below (issue "MOBIKE"). */
#define IKE_ENGINE_MOBIKE 1

/* --- addresses ------------------------------------------------------------------------ */

/* An IPv4 address and UDP port, host-order port. */
struct ike_endpoint {
	struct in_addr addr;
	uint16_t port;
};

/* --- configuration -------------------------------------------------------------------- */

enum ike_role {
	IKE_ROLE_INITIATOR = 1,
	IKE_ROLE_RESPONDER = 2,
};

enum ike_auth_kind {
	IKE_AUTHK_PSK = 1,           /* RFC 7296 2.15, auth method 2 */
	IKE_AUTHK_SIGNATURE = 2,     /* RFC 7427, auth method 14 (ECDSA, RSA-PSS, SHA-256/384/512) */
};

/* An identity (RFC 7296 3.5): type (ID_FQDN 2, ID_RFC822_ADDR 3, ID_IPV4_ADDR 1,
 * ID_DER_ASN1_DN 9) and its data as it goes on the wire (a DN in DER). */
#define IKE_ID_MAX 512
struct ike_identity {
	uint8_t type;
	uint16_t len;
	uint8_t data[IKE_ID_MAX];
};

/* Opaque crypto objects owned by the daemon (loaded from files with OpenSSL): the engine
 * only borrows them. X509 *, EVP_PKEY *, X509_STORE * respectively. */
struct ike_credentials {
	enum ike_auth_kind auth;
	const uint8_t *psk;          /* IKE_AUTHK_PSK (RFC 7296 2.15; at least 16 octets) */
	size_t psk_len;
	void *cert;                  /* IKE_AUTHK_SIGNATURE: our end-entity certificate */
	void *key;                   /*                      its private key */
	void *trust;                 /* trust anchors the peer's certificate must chain to */
};

/* MOBIKE address sets (RFC 4555 3.4, 3.6): at most this many addresses per side. */
#define IKE_MOBIKE_MAX_ADDRS POLICY_MOBIKE_MAX_ADDRS

/* Proposals in preference order; the first the peer also offers wins (RFC 7296 2.7). */
#define IKE_CFG_MAX_SUITES 8
struct ike_proposals {
	size_t n;
	struct ike_suite suite[IKE_CFG_MAX_SUITES];
};

/* IPv4 traffic selector ranges (RFC 7296 3.13.1), protocol 0 and all ports unless set. */
#define IKE_CFG_MAX_TS 8
struct ike_ts4 {
	struct in_addr start, end;   /* network order */
	uint8_t ip_proto;
	uint16_t start_port, end_port;
};
struct ike_ts4_list {
	size_t n;
	struct ike_ts4 ts[IKE_CFG_MAX_TS];
};

/* One peer: who it must be, how both sides prove it, what is negotiated. A responder holds
 * several and picks by the peer's IDi (and, for PSK, the secret that verifies it). */
struct ike_peer_cfg {
	const char *name;                    /* for logs and gwctl */
	struct ike_identity local_id;
	struct ike_identity remote_id;       /* type 0: any identity the credentials prove */
	struct ike_credentials local;        /* how we authenticate */
	struct ike_credentials remote;       /* how the peer must authenticate (PSK: the same
					      * secret; signatures: remote.trust) */
	struct ike_proposals ike;            /* IKE SA suites */
	struct ike_proposals esp;            /* Child SA suites (dh != 0: PFS on rekey) */
	struct ike_ts4_list local_ts;        /* responder: what we protect (e.g. the intranet);
					      * initiator: what we ask for as TSi */
	struct ike_ts4_list remote_ts;       /* initiator: the intranet (TSr) */
	bool request_address;                /* initiator: CFG_REQUEST INTERNAL_IP4_ADDRESS/DNS */
	bool assign_address;                 /* responder: answer it from the pool callback */
	uint32_t ike_lifetime_s;             /* rekey the IKE SA after (0: never) */
	uint32_t child_lifetime_s;           /* rekey Child SAs after (also the ESP soft limit) */
	uint32_t dpd_interval_s;             /* liveness check when idle this long (0: off) */
	bool mobike;                         /* MOBIKE_SUPPORTED (RFC 4555; issue "MOBIKE") */
	/* MOBIKE initiator: NO_NATS_ALLOWED in every UPDATE_SA_ADDRESSES and address set update,
	 * so that the responder refuses a path with a NAT (RFC 4555 3.9; for paths known to
	 * have none, e.g. site to site). */
	bool mobike_no_nats;
	/* MOBIKE responder: acceptance of this peer's new addresses (return routability always /
	 * for new addresses (default) / never, NATs, allowed prefixes; policy/mobike.h). */
	struct policy_mobike_cfg mobike_policy;
};

/* How far the sender of an UPDATE_SA_ADDRESSES received on one Child SA (private notify
 * MM_ESP_RECEIVED, ike/payload.h): spi is the SPI it receives on (the peer's outbound), seq
 * the highest ESP sequence number it authenticated there (RFC 4303 3.4.3). */
struct ike_esp_received {
	uint32_t spi;
	uint64_t seq;
};

/* Callbacks into the daemon (all optional except where noted). */
struct ike_engine_ops {
	void *user;
	/* Responder: an inner address for the peer (CFG_REQUEST INTERNAL_IP4_ADDRESS, RFC 7296
	 * 3.15.1). 0 and *addr set, or -ENOSPC when the pool is exhausted (the engine answers
	 * INTERNAL_ADDRESS_FAILURE and logs it). */
	int (*pool_acquire)(void *user, const struct ike_peer_cfg *peer,
			    const struct ike_identity *peer_id, struct in_addr *addr);
	void (*pool_release)(void *user, struct in_addr addr);
	/* Responder: DNS servers to hand out (INTERNAL_IP4_DNS); returns how many (<= max). */
	size_t (*dns_servers)(void *user, struct in_addr *out, size_t max);
	/* Random bytes (SPIs, nonces, IVs of CBC, cookie secret). NULL: OpenSSL RAND_bytes.
	 * Tests plug a deterministic generator in. */
	int (*random)(void *user, void *buf, size_t len);
	/* MOBIKE initiator: for each Child SA of IKE SA spi_i, the highest ESP sequence number
	 * received so far (0: none), into out[] (at most max); returns how many. Asked when an
	 * UPDATE_SA_ADDRESSES is built, and sent in it (MM_ESP_RECEIVED) to a peer that showed
	 * our Vendor ID, so that it sends again only what we missed (daemon/replay.h). */
	size_t (*esp_received)(void *user, uint64_t spi_i, struct ike_esp_received *out,
			       size_t max);
};

struct ike_engine_cfg {
	enum ike_role default_role;          /* what we are for IKE_SA_INIT requests we receive:
					      * vpngw = responder; mnd never answers them */
	const struct ike_peer_cfg *peers;
	size_t npeers;
	struct ike_engine_ops ops;
	/* Denial of service (RFC 7296 2.6, RFC 8019): cookies are demanded once cookie_threshold
	 * SAs are half-open (at most that many come in without one); at half_open_max new
	 * requests are dropped. */
	unsigned cookie_threshold;           /* default 32 */
	unsigned half_open_max;              /* default 4096 */
	unsigned max_sas;                    /* default 65536 */
	/* Retransmission (2.1, 2.4): first after retransmit_base, then doubling, at most
	 * retransmit_tries sends in all; then the SA is dead (peer unreachable). */
	mm_time_ns retransmit_base;          /* default 1 s */
	unsigned retransmit_tries;           /* default 6 */
	bool keylog;                         /* emit IKE_ACT_KEYLOG actions (debugging aid) */
	/* MOBIKE (RFC 4555): our usable local addresses, preferred first (the initiator tests
	 * paths from them, 3.10; ike_engine_set_local_addresses() replaces the set), and whether
	 * they are announced to MOBIKE peers (3.4, 3.6: a gateway with several addresses sets
	 * it; an initiator behind NATs usually not). Empty: only the SA's own address. */
	struct in_addr local_addrs[IKE_MOBIKE_MAX_ADDRS];
	size_t nlocal_addrs;
	bool announce_addresses;
};

/* --- actions -------------------------------------------------------------------------- */

enum ike_action_kind {
	IKE_ACT_SEND = 1,        /* send msg[0..len) from local to remote (port 4500: prepend
				  * the four zero octets of the non-ESP marker, RFC 3948 2.2) */
	IKE_ACT_CHILD_UP,        /* install an ESP SA pair (struct ike_child_info) */
	IKE_ACT_CHILD_DOWN,      /* remove it (its inbound SPI) */
	IKE_ACT_SA_UP,           /* an IKE SA is established (struct ike_sa_info) */
	IKE_ACT_SA_DOWN,         /* an IKE SA is gone (reason in text) */
	IKE_ACT_KEYLOG,          /* a line for Wireshark's ikev2_decryption_table (text) */
	/* MOBIKE (RFC 4555) */
	IKE_ACT_SA_MOVED,        /* the IKE SA and every Child SA listed moved to new outer
				  * addresses (struct ike_move_info; text: the log line); also
				  * without MOBIKE, when the peer's NAT mapping changed (RFC
				  * 7296 2.23; sa.mobike false) */
	IKE_ACT_MOVE_FAILED,     /* initiator: the peer refused the move (ike_move_info with
				  * tried_*, refusal; text: why); the SA stays where it was */
	IKE_ACT_PEER_ADDRESSES,  /* the peer announced a new address set (ike_sa_info
				  * .peer_addrs, in u.sa) */
	IKE_ACT_PEER_ALIVE,      /* our liveness check (ike_engine_dpd, RFC 7296 2.4) was
				  * answered: the peer hears us on the SA's pair (u.sa.spi_i,
				  * spi_r, local, remote) */
};

#define IKE_MSG_MAX 8192         /* our largest message; larger ones are dropped on receive */
#define IKE_KEY_MAX 80           /* encryption key | salt, or integrity key, of one SA */

/* An ESP SA pair, as the data path needs it (esp/esp_sa.h). "out" is what we send with. */
struct ike_child_info {
	uint64_t ike_spi_i, ike_spi_r;       /* the IKE SA it belongs to */
	uint32_t spi_in, spi_out;            /* network values of the SPI fields */
	struct ike_suite suite;              /* ENCR/INTEG/ESN as negotiated (dh: PFS group) */
	uint8_t key_in[IKE_KEY_MAX], key_out[IKE_KEY_MAX];       /* cipher key | salt */
	uint8_t integ_in[IKE_KEY_MAX], integ_out[IKE_KEY_MAX];   /* CBC only */
	size_t key_len, integ_len;
	struct ike_ts4_list ts_local, ts_remote;   /* narrowed selectors */
	struct ike_endpoint local, remote;         /* outer addresses */
	bool udp_encap;                      /* ESP in UDP 4500 (NAT found, RFC 3948) */
	uint32_t lifetime_s;                 /* soft limit: the engine rekeys when told */
	uint32_t replaces_spi_in;            /* rekey: the SA this one replaces (0: none) */
};

#define IKE_MOVE_MAX_CHILDREN 8  /* Child SAs of one IKE SA (all of them) */

/* An established IKE SA (for logs, gwctl, and the initiator's address configuration). */
struct ike_sa_info {
	uint64_t spi_i, spi_r;
	enum ike_role role;
	const struct ike_peer_cfg *peer;
	struct ike_identity peer_id;
	struct ike_endpoint local, remote;
	bool nat_local, nat_remote;          /* NAT in front of us / of the peer (2.23) */
	struct in_addr inner_addr;           /* the TIA: assigned (responder) or received */
	struct in_addr dns[2];
	size_t ndns;
	struct ike_suite suite;
	uint64_t replaces_spi_i, replaces_spi_r;  /* IKE SA rekey: the SA whose children this
						   * one took over (0: none) */
	mm_time_ns established;              /* 0 while half-open */
	mm_time_ns rekey_at;                 /* IKE_TIME_NEVER if none */
	const char *state;                   /* state name (static string, sa.c) */
	uint32_t msgid_out, msgid_in;        /* next request ID we send / we expect (2.3) */
	size_t nchildren;                    /* Child SAs installed */
	bool mobike;                         /* both sides sent MOBIKE_SUPPORTED */
	/* MOBIKE (RFC 4555) */
	bool mobike_initiator;               /* we decide the addresses (3.5) */
	bool move_pending;                   /* initiator: a move not answered yet */
	bool deferred;                       /* initiator: no address works; nothing is sent */
	bool probing;                        /* initiator: testing paths (3.10) */
	bool rr_pending;                     /* responder: a new peer address awaits its return
					      * routability check (3.7) */
	uint32_t moves;                      /* IKE_ACT_SA_MOVED so far */
	mm_time_ns rtt;                      /* latest round-trip sample, 0: none (sa.h) */
	mm_time_ns last_move;                /* 0: never moved */
	size_t npeer_addrs;                  /* the peer's address set: the address its last set
					      * came from, then its ADDITIONAL_IP4_ADDRESSes */
	struct in_addr peer_addrs[IKE_MOBIKE_MAX_ADDRS];
};

/* IKE_ACT_SA_MOVED / IKE_ACT_MOVE_FAILED. The daemon moves the IKE SA (sa.local,
 * sa.remote) and every Child SA listed to the new endpoints at once (RFC 4555 3.5), UDP
 * encapsulated when udp_encap, and keeps NAT keepalives to that pair only. */
struct ike_move_info {
	struct ike_sa_info sa;               /* the SA after the move (SA_MOVED) / now (FAILED) */
	struct ike_endpoint old_local, old_remote;   /* the pair before the move */
	bool old_nat_local, old_nat_remote;
	struct ike_endpoint tried_local, tried_remote;  /* MOVE_FAILED: the pair refused */
	uint16_t refusal;                    /* MOVE_FAILED: UNACCEPTABLE_ADDRESSES (40) or
					      * UNEXPECTED_NAT_DETECTED (41); 0 otherwise */
	mm_time_ns took;                     /* from the order (initiator: the update_addresses
					      * call or the first unanswered send; responder: the
					      * UPDATE_SA_ADDRESSES) to the move */
	bool udp_encap;                      /* ESP in UDP 4500 on the new path */
	size_t nchildren;                    /* the SA's Child SAs: all move */
	uint32_t child_spi_in[IKE_MOVE_MAX_CHILDREN], child_spi_out[IKE_MOVE_MAX_CHILDREN];
	/* responder, SA_MOVED: what the peer said it had received before the move (from its
	 * UPDATE_SA_ADDRESSES, MM_ESP_RECEIVED), spi = our outbound SPI of one of the Child
	 * SAs above; only marks naming one of them are kept */
	size_t nreceived;
	struct ike_esp_received received[IKE_MOVE_MAX_CHILDREN];
};

struct ike_action {
	enum ike_action_kind kind;
	union {
		struct {
			struct ike_endpoint local, remote;
			size_t off, len;             /* in ike_actions.buf */
		} send;
		struct ike_child_info child;         /* CHILD_UP; CHILD_DOWN uses spi_in, spi_out */
		struct ike_sa_info sa;               /* SA_UP, SA_DOWN, PEER_ADDRESSES */
		struct ike_move_info move;           /* SA_MOVED, MOVE_FAILED */
	} u;
	char text[640];                              /* KEYLOG line; SA_DOWN reason */
};

#define IKE_ACTIONS_MAX 16
struct ike_actions {
	size_t n;
	struct ike_action a[IKE_ACTIONS_MAX];
	size_t buf_len;
	uint8_t buf[4 * IKE_MSG_MAX];                /* the bytes of SEND actions */
};

/* Wipe every key in the actions once carried out (CHILD_UP carries ESP keys). */
void ike_actions_clear(struct ike_actions *a);

/* --- the engine ----------------------------------------------------------------------- */

struct ike_engine;

int ike_engine_new(const struct ike_engine_cfg *cfg, struct ike_engine **out);
void ike_engine_free(struct ike_engine *e);   /* wipes every key */

/* A datagram for us. */
int ike_engine_input(struct ike_engine *e, const uint8_t *msg, size_t len,
		     const struct ike_endpoint *from, const struct ike_endpoint *to,
		     mm_time_ns now, struct ike_actions *out);

/* Initiator: start an IKE SA with the first Child SA to `remote` for peers[peer_index],
 * from `local` (port 500; the engine moves to 4500 as 2.23 / RFC 4555 say). *spi_i gets the
 * new SA's SPI, the handle for the calls below. */
int ike_engine_initiate(struct ike_engine *e, size_t peer_index,
			const struct ike_endpoint *local, const struct ike_endpoint *remote,
			mm_time_ns now, uint64_t *spi_i, struct ike_actions *out);

/* Orders on an established SA (spi_i identifies it, whichever role we have; after an IKE SA
 * rekey the handle is the new SA's spi_i from its SA_UP). They are queued while another
 * exchange of the SA is in flight (2.3: window size 1) and start when it completes; the
 * outcome shows in later actions. Returns 0, -ENOENT (no such SA or Child SA), -EAGAIN (not
 * established), -EALREADY (already being done). ike_engine_delete() of an SA whose
 * IKE_AUTH has not gone out yet forgets it without a message; with our IKE_AUTH in flight
 * the DELETE follows its answer (the peer will have completed the SA). */
int ike_engine_rekey_child(struct ike_engine *e, uint64_t spi_i, uint32_t child_spi_in,
			   mm_time_ns now, struct ike_actions *out);
int ike_engine_rekey_ike(struct ike_engine *e, uint64_t spi_i, mm_time_ns now,
			 struct ike_actions *out);
int ike_engine_delete(struct ike_engine *e, uint64_t spi_i, mm_time_ns now,
		      struct ike_actions *out);
int ike_engine_dpd(struct ike_engine *e, uint64_t spi_i, mm_time_ns now,
		   struct ike_actions *out);

/* Another Child SA (with the peer configuration's selectors and ESP suites) in an
 * established IKE SA (CREATE_CHILD_SA, RFC 7296 1.3.1). */
int ike_engine_create_child(struct ike_engine *e, uint64_t spi_i, mm_time_ns now,
			    struct ike_actions *out);

/* The data path says a Child SA's soft (rekey) or hard (delete) limit ran out (-ENOENT for
 * an SPI the engine does not know). */
int ike_engine_child_expired(struct ike_engine *e, uint32_t child_spi_in, bool hard,
			     mm_time_ns now, struct ike_actions *out);

/* The data path received authenticated ESP on Child SA child_spi_in (at most about once per
 * second per SA is enough): the peer is alive, so no liveness check is due (2.4). */
void ike_engine_child_activity(struct ike_engine *e, uint32_t child_spi_in, mm_time_ns now);

/* Replace the peer configurations (SIGHUP). New IKE SAs pick from the new set; existing SAs
 * keep the `const struct ike_peer_cfg *` they were made with, so the caller keeps the old
 * array alive until no SA's ike_sa_info.peer points into it (check on SA_DOWN). peers
 * indices given to ike_engine_initiate() refer to the new set. Returns 0 or -EINVAL. */
#define IKE_ENGINE_SET_PEERS 1
int ike_engine_set_peers(struct ike_engine *e, const struct ike_peer_cfg *peers, size_t npeers);

/* --- MOBIKE (RFC 4555; see the top of this file) ---------------------------------------- */

/* Initiator: move the SA spi_i and all its Child SAs to local -> remote (3.5). remote NULL:
 * the current peer address; a port 0: the current port (4500). local NULL or 0.0.0.0: no
 * address works, defer (send nothing, no DPD death) until the next call. A call while a
 * move is under way supersedes it. Returns 0; -ENOENT no such SA; -EAGAIN not established;
 * -EOPNOTSUPP the peer did not send MOBIKE_SUPPORTED (re-establish instead); -EPERM we are
 * the MOBIKE responder; -EALREADY already on that pair with nothing pending; -EINVAL. */
int ike_engine_update_addresses(struct ike_engine *e, uint64_t spi_i,
				const struct ike_endpoint *local,
				const struct ike_endpoint *remote, mm_time_ns now,
				struct ike_actions *out);

/* Initiator: the daemon believes the current path failed (link down, ICMP, no ESP back:
 * only a hint, 3.5): test paths now (3.10): the request in flight, or a liveness check, goes
 * on every pair; the first pair that answers becomes the path. Same errors as above, and
 * -EAGAIN while deferred. */
int ike_engine_probe_paths(struct ike_engine *e, uint64_t spi_i, mm_time_ns now,
			   struct ike_actions *out);

/* Our usable local addresses, preferred first (at most IKE_MOBIKE_MAX_ADDRS; -EINVAL
 * otherwise). Path testing uses them from now on; with cfg.announce_addresses every MOBIKE
 * SA tells its peer the new set (3.6; queued, carried out by ike_engine_timer() when more
 * SAs than one batch of actions holds). */
int ike_engine_set_local_addresses(struct ike_engine *e, const struct in_addr *addrs,
				   size_t n, mm_time_ns now, struct ike_actions *out);

/* Timers: call ike_engine_timer() at (or after) ike_engine_next_timer(); IKE_TIME_NEVER when
 * nothing is pending. */
#define IKE_TIME_NEVER UINT64_MAX
mm_time_ns ike_engine_next_timer(const struct ike_engine *e);
int ike_engine_timer(struct ike_engine *e, mm_time_ns now, struct ike_actions *out);

/* For gwctl / status: the established and half-open SAs. Iterate with *cursor = 0 until
 * false. */
bool ike_engine_next_sa(const struct ike_engine *e, size_t *cursor, struct ike_sa_info *out);

/* Counters since ike_engine_new(), except half_open and established: SAs in those states now. */
struct ike_engine_stats {
	uint64_t rx, tx, retransmits, dropped_malformed, dropped_unknown_spi,
		 dropped_integrity, dropped_replay, cookies_sent, half_open, established,
		 auth_failures, no_proposal, pool_exhausted;
	/* MOBIKE (RFC 4555): UPDATE_SA_ADDRESSES we sent (initiator) / received, accepted and
	 * refused (responder: UNACCEPTABLE_ADDRESSES or UNEXPECTED_NAT_DETECTED); return
	 * routability checks sent and failed (3.7); datagrams sent to test paths (3.10); moves
	 * done (IKE_ACT_SA_MOVED of MOBIKE SAs; ike_sa_info.moves counts every SA_MOVED) and
	 * refused to us (IKE_ACT_MOVE_FAILED). */
	uint64_t mobike_updates_sent, mobike_updates_rx, mobike_updates_accepted,
		 mobike_updates_refused, mobike_rr_sent, mobike_rr_failed, mobike_probes,
		 mobike_moves, mobike_moves_failed;
};
void ike_engine_stats(const struct ike_engine *e, struct ike_engine_stats *out);

#endif
