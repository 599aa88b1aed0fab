/* Home agent registration engine (RFC 5944 §3.8, RFC 3024 §4.3, RFC 3519 §4.6). No I/O:
 * the daemon hands it each Registration Request with where it came from, and gets back
 * actions: the reply to send (bytes, destination, source) and binding events (added,
 * updated, removed) to carry out on the home link and in the tunnel before the reply goes
 * out. Time comes from the struct clock in the configuration (monotonic for lifetimes) and
 * a real-time clock for the timestamp Identification (§5.7.1).
 *
 * Processing follows RFC 5944 §3.8.2.1 in order, and nothing changes before a request has
 * authenticated and passed the Identification check:
 *
 *  0. trusted networks (RFC 5265 §4.3, internal home agent), only when configured: a request
 *     whose IP source address is inside none of them is dropped silently, logged and
 *     counted, before it is even parsed. Only the IP source counts, however the request got
 *     here: sent directly, relayed by a foreign agent (its address), or through a VPN
 *     tunnel (the tunnel inner address), so those sources must be listed to be served;
 *  1. parse (reg.h); malformed, a rule violation, an unknown non-skippable extension, or no
 *     Mobile-Home Authentication -> silently discarded (§3.8.2.1 a, §1.8) and counted; a
 *     Foreign-Home Authentication extension from a source we share no security association
 *     with (no fa_key_lookup configured, or it knows no key for the IP source) -> discarded
 *     (§3.8.2.1 d);
 *  2. Mobile-Home Authentication (§3.8.2.1 a): no security association for (home address,
 *     SPI) -> silently discarded; a wrong Authenticator -> reply 131, authenticated with that
 *     association's key (the "MAY send" of §3.8.2.1 a: the mobile node then knows its key is
 *     refused instead of retransmitting into silence), no further processing;
 *  3. Identification (§3.8.2.1 b, §5.7.1): outside the clock window or not after the last
 *     accepted one -> reply 133 with our time in the high 32 bits, no state change. Passing
 *     it records the Identification (replay state), whatever the outcome of the checks after;
 *  3b. Foreign-Home Authentication (§3.8.2.1 c): when we share a key with the request's IP
 *     source (a foreign agent relaying it, RFC 5944 §3.7.2.2: the source is its care-of
 *     address) and the lifetime is not 0, exactly one FA-HA extension with that key's SPI
 *     must verify (one present on a deregistration is verified too); else reply 132;
 *  4. checks: reserved flag bits or a not-understood UDP Tunnel Request -> 134 (§3.8.2.3,
 *     RFC 3519 §4.6.1); Home Agent field not ours or sent to a broadcast address -> 136 with
 *     our address (§3.8.2.1, §3.8.3.2); home address outside the home prefix -> 129
 *     (§3.8.3.2); deregistration; minimal or GRE encapsulation -> 139 (RFC 3024 §4.3.1);
 *     UDP tunnelling (RFC 3519 §4.6): a NAT is detected when the source address differs from
 *     the care-of address (a foreign agent relays from its care-of address, RFC 5944
 *     §3.7.2.2; without a UDP Tunnel Request a differing source is refused only for a
 *     co-located care-of address, D set: a foreign agent care-of address, D clear, is
 *     tunnelled IP-in-IP whatever the source); with a UDP Tunnel Request and the policy
 *     allowing it (or its F flag forcing it) the binding is UDP to the request's source
 *     address and port, and the reply carries an assenting UDP Tunnel Reply with the
 *     keepalive interval; without a NAT and without F a declining one (§4.6); policy deny
 *     with NAT or F -> 129 (§4.6.1); an
 *     encapsulation other than IP-in-IP inside UDP -> 142 (§4.1); a NAT for a co-located
 *     care-of address without a UDP Tunnel Request -> 129 (§4.6.1: IP-in-IP could not reach
 *     it; the "normal" refusal);
 *  5. accept: lifetime capped to max-lifetime (§3.8.2.2, §3.8.3.2), the binding replaces any
 *     previous one (no simultaneous bindings; code 1 when the S bit asked for them, else 0;
 *     the B bit is ignored, §3.8.2), reverse tunnelling (T) is always granted (RFC 3024).
 *     Lifetime 0 or care-of address = home address deregisters (§3.8.2.2).
 *
 * Every reply carries the fixed part, the NAI when the request had one (RFC 2794 §2), the UDP
 * Tunnel Reply when due, the Trusted Networks Configured extension when trusted networks
 * are configured (then every request that gets a reply came from one of them; RFC 5265
 * §4.3: denials too), and Mobile-Home Authentication with the mobile node's key, which
 * covers all of them (§3.8.3.3); after it, when we share a key with the request's IP source
 * (a foreign agent), Foreign-Home Authentication with that key (§3.8.3.3 e: MUST, on every
 * reply, denials included). The Identification is copied whole, or for 133 computed per
 * §5.7.1. The reply goes to the request's source address and port (for a relayed request:
 * the foreign agent, which relays it on) from the address the request was sent to
 * (§3.8.3.1).
 *
 * Log lines name the event: "registered", "deregistered", "denied code=NNN (name)",
 * "dropped: <reason>" (drops are rate limited: a flood of garbage cannot flood the log).
 * Errors are negative errno values; outputs are untouched on failure.
 */
#ifndef MM_MIP4_HA_ENGINE_H
#define MM_MIP4_HA_ENGINE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/clock.h"
#include "mip4/auth.h"
#include "mip4/bcache.h"
#include "mip4/reg.h"

#define HA_MAX_LIFETIME_DEFAULT 600
#define HA_KEEPALIVE_DEFAULT 110       /* RFC 3519 §4.9: K defaults to 110 s */
#define HA_MAX_BINDINGS_DEFAULT 1048576
/* Largest reply we build: fixed part, NAI, UDP Tunnel Reply, TNC, MN-HA and FA-HA with an
 * HMAC-MD5 each. */
#define HA_REPLY_MAX (MIP4_REPLY_FIXED_LEN + 2 + MIP4_NAI_MAX + 2 + MIP4_UDPT_LEN + \
		      2 + MIP4_TNC_LEN + 2 * (MIP4_AUTH_HDR_LEN + MIP4_HMAC_MD5_LEN))
/* Trusted networks of an internal home agent (RFC 5265 §4.3): at most this many. */
#define HA_TRUSTED_MAX 16
#define HA_EVENTS_MAX 64

enum ha_udp_policy {
	HA_UDP_ALLOW = 0,  /* NAT traversal per RFC 3519 when the mobile node asks for it */
	HA_UDP_DENY = 1,   /* refuse it: 129 when a NAT is detected or F is set (§4.6.1) */
};

/* The Mobility Security Association of mobile node hoa for spi (RFC 5944 §1.6, §3.2: "indexed
 * by SPI and IP address"): fill *out and return 0, or -ENOENT. The engine wipes its copy. */
typedef int (*ha_key_lookup_fn)(void *ctx, struct in_addr hoa, uint32_t spi,
				struct mip4_key *out);
/* The Mobility Security Association we share with the foreign agent at address fa (§3.5.4,
 * one key with its SPI per foreign agent): fill *out and return 0, or -ENOENT (none: a
 * Foreign-Home Authentication extension from there is discarded, §3.8.2.1 d). The engine
 * wipes its copy. */
typedef int (*ha_fa_key_lookup_fn)(void *ctx, struct in_addr fa, struct mip4_key *out);

/* An IPv4 prefix (host bits of net are ignored). */
struct ha_prefix {
	struct in_addr net;
	unsigned plen;                 /* 0..32 */
};

struct ha_engine_config {
	struct in_addr address;        /* the home agent's address (§3.8.1) */
	struct in_addr home_net;       /* home network prefix (§3.8.1) */
	unsigned home_plen;            /* 8..30 */
	uint16_t max_lifetime;         /* s, 1..65534; 0 = HA_MAX_LIFETIME_DEFAULT */
	enum ha_udp_policy udp;
	uint16_t keepalive_interval;   /* s, sent in UDP Tunnel Replies (0 = "use your default") */
	ha_key_lookup_fn key_lookup;
	void *key_ctx;
	/* Foreign agents we share keys with (§3.8.2.1 c, d), by the request's IP source;
	 * NULL: none. */
	ha_fa_key_lookup_fn fa_key_lookup;
	void *fa_key_ctx;
	const struct clock *clock;     /* monotonic; required */
	const struct clock *wall;      /* wall clock for Identification; NULL = the system's */
	mm_time_ns ident_window;       /* 0 = MIP4_IDENT_WINDOW_DEFAULT (7 s) */
	size_t max_bindings;           /* mobile nodes remembered; 0 = HA_MAX_BINDINGS_DEFAULT */
	/* RFC 5265 §4.3 (internal home agent): the trusted subnets. ntrusted 0: not an i-HA
	 * (no source check, no TNC: plain RFC 5944). Otherwise requests from other sources are
	 * dropped and every reply carries the Trusted Networks Configured extension. */
	unsigned ntrusted;             /* 0..HA_TRUSTED_MAX */
	struct ha_prefix trusted[HA_TRUSTED_MAX];
};

/* How a Registration Request arrived. */
struct ha_rx_meta {
	struct sockaddr_in src;        /* IP source address and UDP source port */
	struct in_addr dst;            /* IP destination address (may be a broadcast) */
};

enum ha_event_kind {
	HA_EV_ADDED = 1,    /* a mobile node that was at home now has a binding */
	HA_EV_UPDATED,      /* a binding was renewed or moved (care-of address, endpoint) */
	HA_EV_REMOVED,      /* a binding ended (deregistration or expiry) */
};

enum ha_remove_reason {
	HA_REMOVED_NONE = 0,
	HA_REMOVED_DEREGISTERED,
	HA_REMOVED_EXPIRED,
};

struct ha_event {
	enum ha_event_kind kind;
	enum ha_remove_reason reason;  /* REMOVED */
	bool moved;                    /* UPDATED: tunnel endpoint or encapsulation changed */
	struct mip4_binding binding;   /* ADDED/UPDATED: the new binding; REMOVED: the old one */
};

struct ha_actions {
	/* Bindings or replay state changed: persist the cache before sending the reply. */
	bool state_changed;
	/* The mobile node whose entry a request changed (set with state_changed by
	 * ha_engine_request(); the events name the entries of expiry and keepalives). */
	struct in_addr home_addr;
	unsigned nevents;
	struct ha_event events[HA_EVENTS_MAX];

	bool send;                     /* a reply is to be sent */
	int code;                      /* its Code (-1: none) */
	struct sockaddr_in reply_to;   /* the request's source address and port (§3.8.3.1) */
	struct in_addr reply_from;     /* the request's destination, or ours for a broadcast */
	/* §3.8.3.1: a deregistration sent from the home address is answered on the home link,
	 * bypassing any binding that still exists (e.g. when it was denied). */
	bool reply_on_home_link;
	size_t reply_len;
	uint8_t reply[HA_REPLY_MAX];
};

struct ha_stats {
	/* Every reply sent is counted once in accepted or denied: accepted + denied = replies. */
	uint64_t requests;             /* datagrams with Type 1 (Registration Request) and the
	                                * whole 24-byte fixed part, malformed ones included */
	uint64_t accepted;             /* replies with code 0/1: registrations, renewals and
	                                * deregistrations */
	uint64_t deregistrations;      /* of those, deregistrations */
	uint64_t expired;              /* bindings that ran out */
	uint64_t denied;               /* replies with a denial code */
	uint64_t denied_by_code[256];
	uint64_t dropped_malformed;    /* another message type, or malformed */
	uint64_t dropped_unauthenticated; /* no MN-HA extension, unknown extension, FA-HA
	                                * from a source we share no key with */
	uint64_t dropped_unknown_spi;  /* no security association: silently discarded */
	uint64_t dropped_untrusted;    /* datagrams from an IP source outside the trusted
	                                * networks (RFC 5265 §4.3), whatever they held */
	uint64_t auth_failures;        /* wrong authenticator (replied 131) */
	uint64_t fa_auth_failures;     /* FA-HA missing or wrong (replied 132) */
	uint64_t replays;              /* Identification not after the last accepted one (133) */
	uint64_t stale_ident;          /* Identification outside the clock window (133) */
	uint64_t keepalives;           /* UDP keepalives accepted */
	uint64_t keepalives_dropped;   /* UDP keepalives refused */
	uint64_t log_suppressed;       /* drop lines not logged by the rate limit */
};

struct ha_engine;

/* Returns 0 and *out, or -EINVAL (bad configuration: no key lookup or clock, address 0,
 * prefix length out of range, address outside the home prefix, more than HA_TRUSTED_MAX
 * trusted networks or one longer than /32), -ENOMEM. */
int ha_engine_new(const struct ha_engine_config *cfg, struct ha_engine **out);
void ha_engine_free(struct ha_engine *ha);

/* Process one datagram received on UDP port 434 (the whole UDP payload). Returns 0 with
 * *out filled when the request was answered (accepted or denied; out->events says what
 * changed); a negative errno when it was silently discarded, with *out untouched:
 * -EBADMSG malformed / not a Registration Request, -ENOKEY no Mobile-Home Authentication,
 * -EOPNOTSUPP unknown non-skippable extension, -EPERM no security association or a
 * Foreign-Home Authentication extension from a source we share no key with, -EACCES the IP
 * source is outside the configured trusted networks (RFC 5265 §4.3), -EIO crypto
 * failure. */
int ha_engine_request(struct ha_engine *ha, const uint8_t *msg, size_t len,
		      const struct ha_rx_meta *meta, struct ha_actions *out);

/* End the bindings whose lifetime ran out by now (§3.8.2.2; no reply is sent, §3.8).
 * Returns how many (at most HA_EVENTS_MAX per call: call again while it returns that many),
 * with *out filled (REMOVED events, state_changed) when > 0; *out is untouched at 0. */
int ha_engine_expire(struct ha_engine *ha, mm_time_ns now, struct ha_actions *out);

/* When ha_engine_expire() next has work (BCACHE_NEVER: nothing bound). */
mm_time_ns ha_engine_next_expiry(const struct ha_engine *ha);

/* A UDP keepalive (RFC 3519 §4.9: a UDP-encapsulated ICMP echo request from the home address
 * to the home agent) arrived from outer_src. Returns 0 when it belongs to a UDP binding and
 * must be answered: its outer source equals the binding's endpoint, or the binding is half
 * bound (R flag, §4.6) and the outer address matches, in which case the port is learnt and
 * *out gets an UPDATED event and state_changed (the caller zeroes out first). A keepalive
 * from another address or port is not followed (§4.10: the mobile node re-registers when a
 * NAT mapping is lost; §6.1.2): -EPERM. -ENOENT: no UDP binding for inner_src, or
 * inner_dst is not our address. Logged (rate limited) and counted by the engine. */
int ha_engine_keepalive(struct ha_engine *ha, const struct sockaddr_in *outer_src,
			struct in_addr inner_src, struct in_addr inner_dst,
			struct ha_actions *out);

/* The active binding of hoa, or NULL (valid until the engine is next called to change
 * something). For the data path. */
const struct mip4_binding *ha_engine_lookup(const struct ha_engine *ha, struct in_addr hoa);
/* The binding cache, for listing (bcache_next()). */
const struct bcache *ha_engine_bcache(const struct ha_engine *ha);
const struct ha_stats *ha_engine_stats(const struct ha_engine *ha);
const struct ha_engine_config *ha_engine_config(const struct ha_engine *ha);

/* True when trusted networks are configured and a lies inside one of them; true for every
 * address when none are (RFC 5265 §4.3 applies only to an internal home agent). */
bool ha_engine_source_trusted(const struct ha_engine *ha, struct in_addr a);

/* Seconds left of b at the engine's current time (rounded up; 0 when due). */
uint32_t ha_engine_remaining(const struct ha_engine *ha, const struct mip4_binding *b);

/* Persistence of the binding cache with the replay state (format in bcache.h), with times
 * converted through the engine's clocks. ha_engine_save() returns bytes written or -ENOSPC;
 * ha_engine_save_len() is what it needs. */
size_t ha_engine_save_len(const struct ha_engine *ha);
int ha_engine_save(const struct ha_engine *ha, struct writer *w);

/* Replace the cache with the one in data (all or nothing, see bcache_deserialize()). Expired
 * bindings are dropped (replay state kept) and counted in *expired (may be NULL). Nothing is
 * logged: the caller knows the file. The caller then walks the bindings to reinstall them. */
int ha_engine_load(struct ha_engine *ha, const void *data, size_t len, size_t *expired);

/* The journal (format in bcache.h): the record of hoa's entry as it is now, appended to w
 * (bcache_journal_record() through the engine's clocks); every entry a change touched is
 * out->home_addr and the events' bindings. And replaying a journal onto the cache loaded
 * from snapshot id (bcache_journal_replay()). Nothing is logged. */
int ha_engine_journal_record(const struct ha_engine *ha, struct in_addr hoa,
			     const struct bcache_snapshot_id *id, struct writer *w);
int ha_engine_journal_replay(struct ha_engine *ha, const void *data, size_t len,
			     const struct bcache_snapshot_id *id,
			     struct bcache_journal_result *res);

const char *ha_event_kind_name(enum ha_event_kind kind);
const char *mip4_encap_name(enum mip4_encap encap);

#endif
