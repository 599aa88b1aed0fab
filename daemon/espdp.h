/* The user-space ESP data path that vpngw (responder) and mnd (initiator) share: a TUN
 * device for inner traffic and the UDP 4500 socket for ESP in UDP (RFC 3948), with the
 * Child SAs the IKE engine negotiated (ike/engine.h struct ike_child_info) installed as
 * esp/ SAs.
 *
 * Outbound (TUN -> UDP 4500): the kernel routes into the TUN what the Child SAs cover
 * (vpngw: the pool and the peers' selectors; mnd: the intranet prefixes); a batch of
 * packets is read, each one's destination picks the Child SA (the peer's TIA or another
 * remote selector; the newest SA wins while a rekeyed one is still installed), its source
 * must lie in the SA's local selectors, then it is encapsulated in place and the batch goes out with one sendmmsg, from our `listen`
 * address to the SA's remote endpoint (its NAT mapping).
 * Inbound (UDP 4500 -> TUN): a recvmmsg batch is classified (esp/udpencap.h): IKE messages
 * (behind the non-ESP marker) go to the daemon's callback for the engine; NAT keepalives
 * are dropped; ESP goes to the SA its SPI names, is decapsulated (anti-replay, ICV), and the
 * inner packet must match the SA's selectors (source in the peer's, destination in ours,
 * RFC 4301 5.2) before it is written into the TUN. Every drop is counted by reason, per SA
 * where there is one, and logged with a rate limit.
 * ESP is in UDP only: the kernel here has no ESP, a raw protocol-50 socket would work but
 * strongSwan's libipsec always encapsulates, so an SA negotiated without NAT is still sent
 * in UDP to port 4500 of the peer (logged at info level once per SA).
 *
 * Lifetimes: each SA gets the Child SA's lifetime as soft limit (less up to jitter_percent,
 * so both ends do not rekey at once) and 110 % of it as hard limit. A soft or hard expiry
 * seen by esp/ (per packet, or by espdp_poll for time) is reported once through the
 * expired callback, which hands it to ike_engine_child_expired().
 *
 * What stays in each daemon: vpngw/ the pool, its routes and the policy of which selectors
 * a peer gets; mnd/ the intranet routes and the pinned route to the gateway.
 *
 * Handover replay (daemon/replay.h; off until espdp_set_replay()): every inner packet sent
 * is also kept in one ring, keyed by its IKE SA (all its Child SAs, across Child SA and
 * IKE SA rekeys: exactly "this peer's recent packets", whatever its selectors), and ESP
 * that arrives from an SA's current peer address notes the key's last reverse packet.
 * After a MOBIKE move (espdp_ike_move, RFC 4555 3.5) espdp_ike_replay() sends what went to
 * the old address since (last reverse packet) - (round trip) again, through the moved SA
 * to the new address, oldest first: ordinary new ESP packets (fresh sequence numbers, RFC
 * 4303 3.3.3), nothing on the wire tells them apart. Packets that did arrive reach the
 * peer twice: TCP discards them (mnd's Mobile IPv4 path over the VPN also drops exact
 * duplicates after a move, mnd/dedup.h; plain VPN traffic goes to the kernel as it is).
 *
 * Nothing is allocated per packet. The daemon owns the fds; this file does the reads,
 * writes, recvmmsg and sendmmsg on them.
 */
#ifndef MM_DAEMON_ESPDP_H
#define MM_DAEMON_ESPDP_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/sock.h"
#include "esp/esp.h"
#include "ike/engine.h"

/* An IKE message that arrived on UDP 4500 (marker removed); meta says from where. */
typedef void (*espdp_ike_fn)(void *user, const uint8_t *msg, size_t len,
			     const struct sock_dgram_meta *meta);
/* A Child SA reached its soft (rekey) or hard (delete) lifetime: spi_in names it. */
typedef void (*espdp_expired_fn)(void *user, uint32_t spi_in, bool hard);
/* Authenticated ESP arrived on Child SA spi_in (at most once per second per SA): the peer
 * is alive (ike_engine_child_activity, RFC 7296 2.4). */
typedef void (*espdp_activity_fn)(void *user, uint32_t spi_in, mm_time_ns now);

struct espdp_config {
	int tun_fd;                      /* TUN (IFF_NO_PI), non-blocking */
	int udp_fd;                      /* UDP bound to listen:4500 with IP_PKTINFO */
	struct in_addr listen;           /* outer source address of everything we send */
	uint32_t replay_window;          /* 0: REPLAY_WINDOW_DEFAULT */
	unsigned jitter_percent;         /* soft lifetime reduced by up to this (0..50) */
	unsigned batch;                  /* packets per batch, 1..ESP_BATCH_MAX (0: max) */
	espdp_ike_fn ike_input;
	espdp_expired_fn expired;
	espdp_activity_fn activity;       /* may be NULL */
	void *user;
};

/* Counters of the whole data path. */
struct espdp_stats {
	uint64_t out_packets, out_bytes;       /* encapsulated and handed to the kernel */
	uint64_t out_no_sa;                    /* routed into the TUN, no SA for the destination */
	uint64_t out_ts_mismatch;              /* SA found, source outside its local selectors */
	uint64_t out_bad;                      /* not IPv4 / truncated read */
	uint64_t out_esp_errors;               /* esp_encap refused (per-SA reasons below) */
	uint64_t out_send_errors;              /* the socket refused (buffer full, no route) */
	uint64_t in_packets, in_bytes;         /* decapsulated and written into the TUN */
	uint64_t in_unknown_spi;
	uint64_t in_esp_drops[ESP_DROP_COUNT]; /* by esp_drop reason, all SAs */
	uint64_t in_ts_mismatch;               /* decapsulated, inner packet outside the TS */
	uint64_t in_bad_inner;                 /* decapsulated, not a valid IPv4 packet */
	uint64_t in_write_errors;              /* TUN write failed */
	uint64_t in_invalid;                   /* UDP 4500 payload neither ESP, IKE nor keepalive,
						* or truncated */
	uint64_t ike_messages;                 /* handed to ike_input */
	uint64_t keepalives;                   /* NAT keepalives received (RFC 3948 2.3) */
	uint64_t peer_moved;                   /* authenticated ESP from a new outer source
						* (followed: SAs without MOBIKE) */
	uint64_t other_source;                 /* the same on a MOBIKE SA: delivered, not
						* followed, not liveness (RFC 4555 3.8, 3.12) */
	uint64_t moves;                        /* espdp_ike_move() calls (MOBIKE moves) */
	uint64_t replays;                      /* espdp_ike_replay() calls with replay on */
	uint64_t replayed_packets, replayed_bytes;   /* sent again after moves (also in
						      * out_packets / out_bytes) */
	uint64_t replay_skipped;               /* selected, but no longer for the moved SA */
	uint64_t replay_too_big;               /* longer than a ring slot: never kept */
	uint64_t log_suppressed;
	size_t children;                       /* Child SAs installed */
};

/* One Child SA as gwctl shows it. */
struct espdp_child {
	uint64_t ike_spi_i, ike_spi_r;
	uint32_t spi_in, spi_out;
	struct ike_suite suite;
	struct ike_ts4_list ts_local, ts_remote;
	struct ike_endpoint local, remote;     /* remote: where we send (the NAT mapping) */
	bool udp_encap;                        /* as negotiated (or moved to) */
	bool mobike;                           /* its IKE SA does MOBIKE */
	int ifindex;                           /* outgoing interface (0: routing decides) */
	uint32_t lifetime_s;                   /* the engine's (rekey) lifetime */
	mm_time_ns added, soft_at, hard_at;    /* soft_at/hard_at 0: no time limit */
	struct esp_sa_stats in, out;
	enum esp_sa_state state_in, state_out;
	uint64_t in_drops[ESP_DROP_COUNT];     /* inbound, by reason */
	uint64_t out_drops[ESP_DROP_COUNT];    /* outbound, by reason */
	uint64_t in_ts_mismatch, out_ts_mismatch;
};

struct espdp;

int espdp_new(const struct espdp_config *cfg, struct espdp **out);
/* Wipes every SA. The fds stay open (the caller's). */
void espdp_free(struct espdp *dp);

/* Install a Child SA pair at `now`. -EEXIST: spi_in taken; -EINVAL: bad selectors, SPIs or
 * keys; -EOPNOTSUPP: an algorithm esp/ does not implement. ci's keys are not kept beyond
 * the SA contexts (the caller wipes its copy: ike_actions_clear). */
int espdp_child_add(struct espdp *dp, const struct ike_child_info *ci, mm_time_ns now);
/* Remove (and wipe) the Child SA whose inbound SPI is spi_in: 0 or -ENOENT. */
int espdp_child_del(struct espdp *dp, uint32_t spi_in);
/* Remove every Child SA of an IKE SA (SA_DOWN); returns how many. */
size_t espdp_child_del_ike(struct espdp *dp, uint64_t spi_i, uint64_t spi_r);
/* An IKE SA was rekeyed: its Child SAs now belong to the new one; returns how many. */
size_t espdp_child_reparent(struct espdp *dp, uint64_t old_i, uint64_t old_r,
			    uint64_t new_i, uint64_t new_r);
/* MOBIKE (RFC 4555). The IKE SA spi_i/spi_r does MOBIKE (both sent MOBIKE_SUPPORTED): its
 * Child SAs, now and later ones (also across an IKE SA rekey), no longer follow ESP from a
 * new source address (RFC 4555 3.8, RFC 4621 5.2.6: only UPDATE_SA_ADDRESSES moves them);
 * such ESP is delivered but counted in other_source and not as liveness. Returns how many
 * Child SAs were marked; the mark goes with espdp_child_del_ike(). */
size_t espdp_ike_set_mobike(struct espdp *dp, uint64_t spi_i, uint64_t spi_r);
/* IKE_ACT_SA_MOVED: every Child SA of the IKE SA to the new outer endpoints at once (3.5),
 * ESP in UDP to remote's port when udp_encap (else to 4500, espdp.h), sent from
 * local->addr through ifindex (0: routing decides). Returns how many moved. */
size_t espdp_ike_move(struct espdp *dp, uint64_t spi_i, uint64_t spi_r,
		      const struct ike_endpoint *local, const struct ike_endpoint *remote,
		      bool udp_encap, int ifindex);
/* Handover replay (see the top, daemon/replay.h): keep the packets of the last `window`
 * (0: off, the ring is freed), at most max_bytes of them sent again per move, starting
 * `rtt` before the last packet that came back through the old path; packets up to
 * max_packet bytes (the TUN's MTU) are kept. May be called again (SIGHUP): a new
 * max_packet empties the ring. 0, -EINVAL, or -ENOMEM (replay off). */
int espdp_set_replay(struct espdp *dp, mm_time_ns window, mm_time_ns rtt, size_t max_bytes,
		     size_t max_packet);
/* After espdp_ike_move() of IKE SA spi_i/spi_r at `now`: send its recent packets again
 * through its Child SAs (one sendmmsg per batch), oldest first; one info line "MOBIKE:
 * replayed N packets (B bytes, since T ms before the move)". rtt: the IKE SA's measured
 * round trip (ike_sa_info.rtt, 0: none), which replaces the configured one as the start's
 * distance before the last packet back when it is shorter (pkt_replay_rtt()). received:
 * what the peer said it had received (ike_move_info.received; spi = our outbound SPI):
 * on those Child SAs exactly the packets after its mark go again, from the whole window
 * (pkt_replay_select_marked()), with no copy of what arrived. Returns how
 * many went out
 * (0 with replay off). Expiries it meets are reported by the next batch or poll, never
 * from inside this call (it runs inside the engine's actions). */
size_t espdp_ike_replay(struct espdp *dp, uint64_t spi_i, uint64_t spi_r, mm_time_ns now,
			mm_time_ns rtt, const struct ike_esp_received *received, size_t nreceived);
/* For the MOBIKE initiator's UPDATE_SA_ADDRESSES (ike_engine_ops.esp_received): each Child
 * SA of IKE SA spi_i, its inbound SPI and the highest sequence number authenticated there
 * (0: none yet). Returns how many went into out[] (at most max). */
size_t espdp_ike_received(const struct espdp *dp, uint64_t spi_i,
			  struct ike_esp_received *out, size_t max);
/* The outgoing interface of one Child SA (a path opened on 0.0.0.0: mnd). 0 or -ENOENT. */
int espdp_child_set_ifindex(struct espdp *dp, uint32_t spi_in, int ifindex);
/* Iterate (*cursor = 0 first) in no particular order. */
bool espdp_next_child(const struct espdp *dp, size_t *cursor,
		      struct espdp_child *out);
/* One Child SA by inbound SPI: 0 or -ENOENT. */
int espdp_child_get(const struct espdp *dp, uint32_t spi_in, struct espdp_child *out);

/* The TUN is readable: up to `rounds` batches outbound. */
void espdp_tun_readable(struct espdp *dp, mm_time_ns now, unsigned rounds);
/* UDP 4500 is readable: up to `rounds` batches inbound (IKE messages to ike_input). */
void espdp_udp_readable(struct espdp *dp, mm_time_ns now, unsigned rounds);
/* Apply time lifetimes (call about once a second); reports through expired. */
void espdp_poll(struct espdp *dp, mm_time_ns now);

/* Send an IKE message on UDP 4500 behind the non-ESP marker (RFC 3948 2.2), from `from`
 * (INADDR_ANY: listen). Returns 0 or -errno. */
int espdp_send_ike(struct espdp *dp, const uint8_t *msg, size_t len,
		   const struct sockaddr_in *to, struct in_addr from);
/* The same through interface ifindex (0: routing decides). */
int espdp_send_ike_via(struct espdp *dp, const uint8_t *msg, size_t len,
		       const struct sockaddr_in *to, struct in_addr from, int ifindex);
/* A NAT keepalive (RFC 3948 2.3) to `to`, from listen. */
int espdp_send_keepalive(struct espdp *dp, const struct sockaddr_in *to);
/* The same from `from` (INADDR_ANY: listen) through ifindex: MOBIKE sends keepalives only
 * on an SA's current pair (RFC 4621 5.2.6). */
int espdp_send_keepalive_via(struct espdp *dp, const struct sockaddr_in *to,
			     struct in_addr from, int ifindex);

const struct espdp_stats *espdp_stats(const struct espdp *dp);

/* --- set-up helpers (netlink, common/tun.h, common/sock.h) --------------------------- */

/* Create the TUN device `name` with MTU mtu, up, IPv6 off; with addr/32 on it when addr is
 * not 0.0.0.0, and a route route_net/route_plen into it when route_net is not NULL (the
 * pool: the kernel forwards intranet -> TIA traffic to us). Returns the fd, with *ifindex
 * and out_name set; or -errno with *what naming the step that failed ("cannot create the
 * TUN device", "cannot set the MTU", ...). */
int espdp_open_tun(const char *name, unsigned mtu, struct in_addr addr,
		   const struct in_addr *route_net, unsigned route_plen,
		   char out_name[IFNAMSIZ], int *ifindex, const char **what);
/* UDP socket bound to listen:port with IP_PKTINFO, SO_REUSEADDR and data-path buffers. */
int espdp_open_udp(struct in_addr listen, uint16_t port);

#endif
