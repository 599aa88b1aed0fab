/* Mobile node registration engine (RFC 5944 §3.6, RFC 3024, RFC 3519 §3.1, §4.4): the
 * registration state machine of a mobile node with a co-located care-of address (access
 * modes "c" and "mc"), or registering through a foreign agent with the agent's care-of
 * address (access mode "f", mn_engine_set_location_fa()). It does no I/O: every input is an event plus the monotonic time, every output
 * is a list of actions for the daemon to carry out (send these bytes, the binding is up or
 * down, the state changed) and the deadline at which to call mn_engine_timer() next.
 *
 * The mode machine of RFC 5266 drives this engine through mn_engine_set_location(): it
 * says where the mobile node is (at home, away with this care-of address, or detached);
 * the engine registers, renews, retransmits and deregisters.
 *
 *	IDLE --away--> REGISTERING --accepted--> REGISTERED --75 % of lifetime--> RENEWING
 *	  |              ^    | denied or lost:        ^                            |
 *	  |              |    +- back off, retry       +----------accepted----------+
 *	  |              +------- moved, or the binding expired ----------------------+
 *	  +--home--> DEREGISTERING --accepted, or no answer after retries--> AT_HOME
 *
 * Any state goes to DEREGISTERING when the mobile node is back on its home link, to
 * REGISTERING when it moves to a new care-of address, and to IDLE when it loses every
 * address. The one function that changes state refuses moves that are not in the table and
 * logs "state old -> new".
 *
 * Rules the engine keeps:
 *  - Every Registration Request has a new Identification (ident.h, timestamps; RFC 5944
 *    §3.6.3: retransmissions too), MN-HA authentication, the D bit (co-located care-of
 *    address, §3.6.1.2), the T bit when reverse tunnelling is configured (RFC 3024 §3.2),
 *    the UDP Tunnel Request as configured (RFC 3519 §3.1, §4.4), the NAI if configured.
 *  - Through a foreign agent (RFC 5944 §3.6.1.1, §3.6.1.2, §3.6.1.3; RFC 3024 §3.1,
 *    §4.1.1): D clear, the Care-of Address the agent advertises, T only when configured
 *    and the agent advertises T (else the agent would deny with 74), no UDP Tunnel Request
 *    (RFC 3519 §3.1: the co-located case only), the lifetime at most the advertisement's
 *    Registration Lifetime (§3.6.1.2), sent from the home address to the agent's address
 *    (the advertisement's IP source) with IP TTL 255 (RFC 3024 §4.1.1), and the
 *    Mobile-Foreign Authentication extension after MN-HA when an MN-FA key is given
 *    (§3.6.1.3 e: MUST when the two share a security association).
 *  - A reply counts only if it parses, comes from the agent the request went to (the home
 *    agent, or the foreign agent relaying), names our home address,
 *    matches the low 32 bits of the Identification of the most recent request
 *    (§3.6.2.1) and carries a valid Mobile-Home Authentication extension (§3.6.2.1 b).
 *    Nothing changes before all of that holds; anything else is dropped, logged and counted.
 *    Through a foreign agent, a denial by the foreign agent itself (codes 64-127, 194)
 *    carries no MN-HA authentication and is taken as it is (§3.6.2.1 b asks MN-HA only of
 *    the home agent's codes); with an MN-FA key every reply must also carry a valid
 *    Mobile-Foreign Authentication extension (§3.6.2.1 a).
 *    Only such a reply can report a Trusted Networks Configured extension (mn_binding.tnc,
 *    RFC 5265 §3.4, §4.1).
 *  - Retransmission with exponential backoff (§3.6.3), renewal before expiry (§3.6.2.2),
 *    resynchronisation on code 133 (§3.6.2.3, §5.7.1), deregistration when back home.
 *
 * Errors are negative errno values and mean "input refused, nothing changed": a bad
 * argument, or a reply dropped (logged and counted by the engine: the caller logs nothing);
 * output parameters are then untouched. An input that was accepted returns 0 with its
 * actions, even when something inside failed (that is logged, and the timer retries).
 */
#ifndef MM_MIP4_MN_ENGINE_H
#define MM_MIP4_MN_ENGINE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "mip4/auth.h"
#include "mip4/reg.h"

/* RFC 5944 §3.6.3: "The minimum time between Registration Requests MUST NOT be less than
 * 1 second" and it should cover twice the round-trip time to the home agent plus 100 ms of
 * processing: on the links we run over (LAN, DSL, LTE: round trips well under 400 ms) one
 * second does. "Each successive retransmission timeout period SHOULD be at least twice the
 * previous period", up to a maximum that "SHOULD be no greater than the requested
 * Lifetime"; we also cap it at 32 s so that a home agent that comes back is found within
 * half a minute. */
#define MN_RETRANS_INITIAL MM_SEC(1)
#define MN_RETRANS_MAX     MM_SEC(32)
/* A deregistration gets this many transmissions (1 + 2 + 4 + 8 s = 15 s) and is then
 * considered done even without an answer: at home we no longer need the binding, and the
 * home agent drops it when its lifetime runs out anyway. */
#define MN_DEREG_TRIES 4
/* Renew when this share (per mille) of the granted lifetime has passed since the request
 * was sent (RFC 5944 §3.6.2.2 times the lifetime from the send, §3.6 "SHOULD (re)register
 * ... when the current registration's Lifetime is near expiration"). 75 % leaves a quarter
 * of the lifetime for retransmissions: with the default 300 s that is 75 s, room for the
 * whole 1+2+4+8+16+32 s backoff series (six requests) before the binding would expire. */
#define MN_RENEW_PERMILLE 750
/* RFC 3519 §4.9: keepalive interval K when the home agent's UDP Tunnel Reply says 0. */
#define MN_KEEPALIVE_DEFAULT_S 110

/* "No deadline". */
#define MN_NEVER UINT64_MAX

/* Largest Registration Request we build: fixed part, NAI, UDP Tunnel Request, MN-HA,
 * MN-FA. */
#define MN_MSG_MAX (MIP4_REQUEST_FIXED_LEN + 2 + MIP4_NAI_MAX + 2 + MIP4_UDPT_LEN + \
		    2 * (MIP4_AUTH_HDR_LEN + MIP4_HMAC_MD5_LEN))
/* IP TTL of a Registration Request to a foreign agent (RFC 3024 §4.1.1 "MUST set the TTL
 * field of the IP header to 255"; the agent may check it, §6.1). */
#define MN_FA_TTL 255

enum mn_state {
	MN_STATE_IDLE = 0,       /* no usable location (start, or every address lost) */
	MN_STATE_AT_HOME,        /* on the home link, deregistered */
	MN_STATE_REGISTERING,    /* away, no binding yet: requests with backoff */
	MN_STATE_REGISTERED,     /* away, binding up */
	MN_STATE_RENEWING,       /* away, binding up, renewal requests with backoff */
	MN_STATE_DEREGISTERING,  /* at home, deregistration requests outstanding */
	MN_STATE_COUNT,
};

const char *mn_state_name(enum mn_state s);

/* The UDP Tunnel Request (RFC 3519 §3.1) in our requests. */
enum mn_udp_mode {
	MN_UDP_AUTO = 0, /* include it without F: the HA switches to UDP when it sees a NAT */
	MN_UDP_FORCE,    /* include it with F (§3.1.1): UDP tunnelling whatever the HA sees */
	MN_UDP_OFF,      /* leave it out: IP-in-IP only */
};

const char *mn_udp_mode_name(enum mn_udp_mode m);

enum mn_encap {
	MN_ENCAP_IPIP = 0, /* RFC 2003 IP-in-IP between care-of address and HA */
	MN_ENCAP_UDP,      /* RFC 3519 MIP UDP tunnelling on the registration's ports */
};

const char *mn_encap_name(enum mn_encap e);

struct mn_engine_config {
	struct in_addr home_addr;
	struct in_addr home_agent;
	struct mip4_key key;          /* MN-HA security association; copied (and wiped by
	                               * mn_engine_free()); the caller wipes its own copy */
	uint16_t lifetime;            /* requested lifetime, s; 1..65535 (65535 = infinite) */
	bool reverse_tunnel;          /* T bit (RFC 3024) */
	enum mn_udp_mode udp;
	uint16_t keepalive_default;   /* s; 0 means MN_KEEPALIVE_DEFAULT_S */
	const char *nai;              /* Mobile Node NAI (RFC 2794) or NULL; copied */
	/* Real-time clock for Identification timestamps (RFC 5944 §5.7.1); NULL = the system's
	 * CLOCK_REALTIME. Tests pass a fake clock. */
	const struct clock *wall;
	/* Random bits for the low bits of each Identification; NULL = OpenSSL RAND_bytes. */
	uint32_t (*random)(void *ctx);
	void *random_ctx;
};

enum mn_action_kind {
	MN_ACT_SEND = 1,      /* send msg[0..msg_len) from src to dst:port (UDP), IP TTL ttl
	                       * (0: the socket's default) */
	MN_ACT_STATE,         /* the state changed: old_state -> new_state (write status) */
	MN_ACT_BINDING_UP,    /* registration accepted (first or renewal): tunnel via binding */
	MN_ACT_BINDING_DOWN,  /* stop tunnelling: the binding is gone (down_reason) */
	MN_ACT_DENIED,        /* the home agent denied the request: code */
	MN_ACT_DEREGISTERED,  /* at home: deregistration done (answered, or given up) */
};

enum mn_down_reason {
	MN_DOWN_MOVED = 1,    /* new care-of address: a new registration is under way */
	MN_DOWN_EXPIRED,      /* lifetime ran out before a renewal was accepted */
	MN_DOWN_HOME,         /* back on the home link */
	MN_DOWN_DETACHED,     /* no address any more */
	MN_DOWN_STOPPED,      /* mn_engine_stop() */
};

const char *mn_down_reason_name(enum mn_down_reason r);

/* What the home agent granted (MN_ACT_BINDING_UP, mn_engine_status()). */
struct mn_binding {
	struct in_addr coa;
	uint16_t lifetime;          /* granted, s (65535: infinite) */
	enum mn_encap encap;
	uint16_t keepalive;         /* s, when encap is UDP (RFC 3519 §3.2, §4.9); else 0 */
	mm_time_ns expires_at;      /* monotonic; MN_NEVER for an infinite lifetime */
	bool renewal;               /* a renewal of the same binding (same CoA) */
	/* Registered through the foreign agent fa (mode f): the agent decapsulates, the mobile
	 * node sends and receives plain packets of its home address on the link (RFC 5944
	 * §4.2.2, §4.2.3); encap and keepalive do not apply. */
	bool via_fa;
	struct in_addr fa;
	/* The reply that granted it carried a Trusted Networks Configured extension under its
	 * Mobile-Home Authentication (RFC 5265 §3.4; reg.h mip4_reply_tnc_protected()): the
	 * home agent saw this request come from one of its trusted networks (§4.3). Only ever
	 * set from a reply that passed every check above (parsed, from our home agent, for our
	 * home address, the latest Identification, authenticated); the mode machine decides
	 * what it proves (§3.2.3, §4.1: only for a registration sent directly, not through
	 * the VPN). */
	bool tnc;
};

struct mn_action {
	enum mn_action_kind kind;
	/* MN_ACT_SEND: the bytes are in the enclosing struct mn_actions (msg, msg_len) */
	struct in_addr src;
	struct in_addr dst;
	uint16_t port;
	uint8_t ttl;                /* 0: default; MN_FA_TTL to a foreign agent */
	/* MN_ACT_STATE */
	enum mn_state old_state;
	enum mn_state new_state;
	/* MN_ACT_BINDING_UP */
	struct mn_binding binding;
	/* MN_ACT_BINDING_DOWN */
	enum mn_down_reason down_reason;
	/* MN_ACT_DENIED */
	uint8_t code;
	bool by_fa;                 /* the foreign agent's own denial (codes 64-127, 194):
	                             * authenticated only with an MN-FA key */
	/* MN_ACT_DEREGISTERED */
	bool answered;
};

#define MN_ACTIONS_MAX 8

/* Filled by every input function: the actions, in the order to carry them out, and the
 * next deadline. At most one MN_ACT_SEND per call; its bytes are in msg. */
struct mn_actions {
	unsigned count;
	struct mn_action act[MN_ACTIONS_MAX];
	uint8_t msg[MN_MSG_MAX];
	size_t msg_len;
	mm_time_ns deadline;        /* call mn_engine_timer() at this time; MN_NEVER: none */
};

struct mn_engine_stats {
	uint64_t requests;          /* Registration Requests built (retransmissions included) */
	uint64_t retransmissions;
	uint64_t replies;           /* replies handed to mn_engine_reply() */
	uint64_t accepted;          /* registrations accepted (renewals included) */
	uint64_t deregistered;      /* deregistrations accepted */
	uint64_t denied;            /* authenticated denials, 133 included */
	uint64_t resyncs;           /* code 133 resynchronisations */
	uint64_t dropped_malformed; /* did not parse */
	uint64_t dropped_unmatched; /* not from the agent we sent to, not for us, no request
	                             * pending, or not the most recent Identification */
	uint64_t dropped_auth;      /* Mobile-Home (or Mobile-Foreign) Authentication missing
	                             * or wrong */
	uint64_t expired;           /* bindings that ran out before a renewal was accepted */
	uint64_t dereg_unanswered;  /* deregistrations given up after MN_DEREG_TRIES */
};

struct mn_status {
	enum mn_state state;
	bool at_home;
	struct in_addr coa;         /* current care-of address (0 at home or idle) */
	bool via_fa;                /* registering through the foreign agent fa */
	struct in_addr fa;
	bool bound;                 /* a binding is up (REGISTERED, RENEWING) */
	struct mn_binding binding;  /* valid when bound */
	mm_time_ns registered_at;   /* monotonic time of the last accepted registration; 0 */
	int last_reply_code;        /* code of the last authenticated reply; -1 none yet */
	uint64_t registrations;     /* accepted registrations, renewals included */
	mm_time_ns deadline;
};

struct mn_engine;

/* Create an engine in state IDLE. -EINVAL for a bad configuration (no home address or home
 * agent, lifetime 0, a key mip4_key_set() would refuse, an NAI longer than 255 bytes),
 * -ENOMEM. */
int mn_engine_new(const struct mn_engine_config *cfg, struct mn_engine **out);
/* Wipe the key and free (NULL is fine). */
void mn_engine_free(struct mn_engine *mn);

/* Where the mobile node is now (RFC 5944 §3.6: "SHOULD initiate a registration whenever it
 * detects a change in its network connectivity"):
 *	at_home            on the home link: deregister (CoA = home address, lifetime 0)
 *	!at_home, coa      away with this co-located care-of address: register at once
 *	!at_home, coa 0    detached: binding down, IDLE
 * Idempotent: the same location again changes nothing (netlink repeats state). A new one
 * supersedes a pending request (new Identification, backoff restarted). */
int mn_engine_set_location(struct mn_engine *mn, bool at_home, struct in_addr coa,
			   mm_time_ns now, struct mn_actions *out);

/* Registration through a foreign agent (RFC 5944 §3.6.1, mode f), from its Agent
 * Advertisement (mip4/agent.h, policy/agent.h). */
struct mn_fa_location {
	struct in_addr fa;          /* the advertisement's IP source: requests go there
	                             * (§3.6.1.1), replies come from there */
	struct in_addr coa;         /* the care-of address it advertises (the first, §2.4) */
	uint16_t reg_lifetime;      /* its Registration Lifetime (§2.1.1); 0xffff infinite;
	                             * the request asks for min(configured, this) (§3.6.1.2) */
	uint16_t adv_flags;         /* MIP4_ADV_* of the advertisement: T (RFC 3024 §3.1) */
	const struct mip4_key *mn_fa;   /* Mobile-Foreign security association, or NULL;
	                                 * copied (wiped when replaced and by free) */
};

/* Away, registering through the foreign agent loc->fa with its care-of address loc->coa.
 * Like mn_engine_set_location(): idempotent for the same agent and care-of address (a
 * changed Registration Lifetime, T or key is kept for the next request and changes nothing
 * now); another agent or care-of address, or coming from a co-located location, registers
 * at once. mn_engine_set_location() leaves the foreign agent. -EINVAL: no agent or
 * care-of address, the home address as either, Registration Lifetime 0, a key
 * mip4_key_set() would refuse. */
int mn_engine_set_location_fa(struct mn_engine *mn, const struct mn_fa_location *loc,
			      mm_time_ns now, struct mn_actions *out);

/* The foreign agent we register through rebooted (its advertisement sequence number fell
 * below 256, RFC 5944 §2.4.4: "SHOULD register again"): a new request at once, the binding
 * kept meanwhile (it is the HA's view; the renewal replaces it). -EAGAIN when not
 * registering through a foreign agent. */
int mn_engine_fa_rebooted(struct mn_engine *mn, mm_time_ns now, struct mn_actions *out);

/* A datagram that arrived on the registration socket (UDP payload; src = IP source). */
int mn_engine_reply(struct mn_engine *mn, const void *msg, size_t len, struct in_addr src,
		    mm_time_ns now, struct mn_actions *out);

/* Time passed: retransmit, renew, expire, give up on a deregistration, as due. Calling it
 * early (or late) is harmless. */
int mn_engine_timer(struct mn_engine *mn, mm_time_ns now, struct mn_actions *out);

/* Re-register now with the current care-of address (RFC 3519 §4.10: the NAT mapping was
 * lost, keepalives go unanswered). Only when a binding is up; -EAGAIN otherwise. */
int mn_engine_reregister(struct mn_engine *mn, mm_time_ns now, struct mn_actions *out);

/* Shutting down: away from home with a binding, send one deregistration of the current
 * care-of address (lifetime 0; no retransmission, nobody waits for the answer); binding
 * down; IDLE. */
int mn_engine_stop(struct mn_engine *mn, mm_time_ns now, struct mn_actions *out);

enum mn_state mn_engine_state(const struct mn_engine *mn);
mm_time_ns mn_engine_deadline(const struct mn_engine *mn);
void mn_engine_status(const struct mn_engine *mn, struct mn_status *out);
void mn_engine_stats(const struct mn_engine *mn, struct mn_engine_stats *out);

#endif
