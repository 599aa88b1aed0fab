/* An IKEv2 engine (ike/engine.h) driven from the GLib main loop: the glue that vpngw (the
 * responder) and mnd's VPN client (the initiator) share.
 *
 *	UDP local:500    recvmmsg batches (IP_PKTINFO: the address each came to) -> engine
 *	UDP local:4500   the ESP data path (daemon/espdp.h); IKE behind the non-ESP marker
 *	                 (RFC 3948 2.2) -> engine; NAT keepalives dropped there
 *	TUN              the data path; while no path is open, read and dropped
 *	engine timer     ike_engine_next_timer() -> a GLib timeout -> ike_engine_timer()
 *	ESP              a soft or hard lifetime reached -> ike_engine_child_expired(); ESP
 *	                 received -> ike_engine_child_activity() (liveness, RFC 7296 2.4)
 *
 * Every engine call leaves its actions in ikeloop_actions(); ikeloop_apply() (and the
 * callbacks above, by themselves) carry them out in order, then wipe the keys they held:
 *	SEND        from UDP 500, or from 4500 behind the non-ESP marker when the engine
 *	            chose port 4500 (NAT detected, RFC 7296 2.23)
 *	CHILD_UP    installed in the data path, then ops.child_up (the daemon's log line)
 *	CHILD_DOWN  removed from the data path, logged, then ops.child_down
 *	SA_UP       for an IKE SA rekey (2.18) the Child SAs move to the new SA (logged); then
 *	            ops.sa_up
 *	SA_DOWN     the Child SAs the IKE SA leaves behind are removed (an SA without its IKE
 *	            SA could never be rekeyed or deleted); then ops.sa_down
 *	KEYLOG      a line in the keylog file, when there is one
 *	SA_MOVED    MOBIKE (RFC 4555 3.5): every Child SA of the IKE SA moves to the new outer
 *	            endpoints in the data path at once (espdp_ike_move; the engine logged
 *	            the move itself: old pair, new pair, NAT, time taken), then the data
 *	            path's handover replay when the daemon turned it on (espdp_ike_replay:
 *	            the packets lost on the old path, again to the new one); then ops.action
 *	others      ops.action (MOVE_FAILED, PEER_ADDRESSES, kinds newer than this file;
 *	            NULL: ignored)
 * What the daemons do beyond that (their own log lines, routes, status, backoff, pool)
 * stays in them, behind struct ikeloop_ops.
 *
 * MOBIKE (RFC 4555), once for both daemons: SA_UP of a MOBIKE SA marks its Child SAs in the
 * data path (espdp_ike_set_mobike: ESP from another address no longer moves them, 3.8);
 * SA_MOVED moves them (above). The daemons keep their NAT keepalives on the pair of the
 * last SA_UP / SA_MOVED (RFC 4621 5.2.6).
 *
 * A path opened on 0.0.0.0 (mnd, whose address changes under MOBIKE) receives on every
 * local address (IP_PKTINFO tells the engine which one, `to`), and sends each datagram from
 * the address the engine chose through the interface that holds it (IP_PKTINFO
 * ipi_ifindex), so IKE and ESP never go into a tunnel whatever the routes say.
 *
 * The path (UDP 500 and 4500 on one local address and the data path between them and the
 * TUN) opens and closes while the engine lives on: vpngw opens it once on its listen
 * address, mnd on whichever interface reaches the gateway. The TUN stays the daemon's (it
 * opens and closes it); this file only watches it.
 */
#ifndef MM_DAEMON_IKELOOP_H
#define MM_DAEMON_IKELOOP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/clock.h"
#include "common/log.h"
#include "daemon/espdp.h"
#include "ike/engine.h"

/* The daemon's reactions (all optional). user is ops.user. */
struct ikeloop_ops {
	void *user;
	/* An IKE SA is established, or replaces a rekeyed one (sa->replaces_spi_*; its Child
	 * SAs have moved to it already). */
	void (*sa_up)(void *user, const struct ike_sa_info *sa);
	/* An IKE SA is gone; reason is the engine's, "deleted" when it gave none; left: the
	 * Child SAs of it that were still in the data path and have been removed. */
	void (*sa_down)(void *user, const struct ike_sa_info *sa, const char *reason,
			size_t left);
	/* A Child SA is installed in the data path / was removed from it (logged here). */
	void (*child_up)(void *user, const struct ike_child_info *c);
	void (*child_down)(void *user, const struct ike_child_info *c);
	/* MOBIKE's actions (after what the top says is done for them), and kinds this file
	 * does not know. */
	void (*action)(void *user, const struct ike_actions *a, const struct ike_action *act);
};

struct ikeloop_cfg {
	const struct ike_engine_cfg *engine;   /* the engine to create (ops.user: the daemon) */
	const struct logger *log;              /* this file's lines go out under this prefix */
	int tun_fd;                            /* the daemon's TUN: watched, never closed here */
	unsigned rx_slots;                     /* UDP 500: datagrams per recvmmsg (1..
						* SOCK_BATCH_MAX) */
	unsigned rx_rounds;                    /* UDP 500: recvmmsg calls per wake-up (>= 1) */
	int rx_sockbuf;                        /* UDP 500's socket buffers (0: the kernel's) */
	FILE *keylog;                          /* taken over, also on failure (NULL: none) */
	struct ikeloop_ops ops;
};

struct ikeloop;

/* The engine (its error logged: "cannot start the IKE engine: ..."), the action buffer and
 * the TUN's watch. 0, or -EINVAL / -ENOMEM with *out untouched. */
int ikeloop_new(const struct ikeloop_cfg *cfg, struct ikeloop **out);
/* Closes the path and the keylog file, frees the engine (NULL is allowed). */
void ikeloop_free(struct ikeloop *il);

/* Open UDP 500 and 4500 on local (0.0.0.0: every local address, see the top; with
 * SO_BINDTODEVICE to ifname unless it is NULL), the data path between them and the TUN,
 * and watch them. 0; or -errno with nothing left open
 * and *failed_port (may be NULL) naming the port that could not be bound (500 or 4500), 0
 * when binding to the device or the data path failed. Nothing is logged. -EALREADY: a path
 * is open. */
int ikeloop_path_open(struct ikeloop *il, struct in_addr local, const char *ifname,
		      uint16_t *failed_port);
/* Close the path (the data path's SAs go with it; NULL is allowed). Not from inside the
 * data path's own callbacks (an SA_DOWN on 4500): defer it to an idle callback. */
void ikeloop_path_close(struct ikeloop *il);

/* The engine; the action buffer for calls into it (carry them out with ikeloop_apply());
 * the data path, NULL while no path is open. All NULL for a NULL il. */
struct ike_engine *ikeloop_engine(const struct ikeloop *il);
struct ike_actions *ikeloop_actions(const struct ikeloop *il);
struct espdp *ikeloop_dp(const struct ikeloop *il);

/* The interface that holds addr (0: none, or addr is 0.0.0.0). */
int ikeloop_addr_ifindex(struct in_addr addr);

/* Carry out the actions in ikeloop_actions() (see the top), then re-arm the engine's timer. */
void ikeloop_apply(struct ikeloop *il);
/* Re-arm the GLib timeout for ike_engine_next_timer() (after calls that change it). */
void ikeloop_schedule(struct ikeloop *il);
/* ESP time lifetimes (espdp_poll), about once a second; nothing without a path. */
void ikeloop_poll(struct ikeloop *il, mm_time_ns now);

/* Open the keylog file (mode 0600, appended to) for IKE_ACT_KEYLOG lines. Logs a warning
 * that it holds keys; on failure one error line "CONFIG: [GROUP] keylog-file: cannot open
 * PATH: ..." and -errno with *out untouched. */
int ikeloop_keylog_open(const struct logger *log, const char *config_path, const char *group,
			const char *path, FILE **out);
/* Replace the keylog file (the old one is closed; NULL: none from now on). */
void ikeloop_set_keylog(struct ikeloop *il, FILE *f);

/* Run the default main context (1 ms apart) until done(ops.user) or ms have passed: the
 * answers to our DELETEs at shut-down (RFC 7296 1.4.1). */
void ikeloop_wait(struct ikeloop *il, unsigned ms, bool (*done)(void *user));

#endif
