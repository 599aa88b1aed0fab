/* Foreign agent relay engine (RFC 5944 §3.7, RFC 3024 §4.2). No I/O: the daemon hands it
 * each Registration Request from a mobile node on the visited link and each Registration
 * Reply from a home agent, with where they came from, and gets back actions: the message to
 * send (bytes, IP destination and source, UDP ports, link-layer destination and interface
 * for the visited link) and visitor list events (added, updated, removed) to carry out in
 * the data path (delivery to the mobile node, reverse tunnel to the home agent).
 *
 * The visitor list (§3.7.1) has one entry per home address, with two parts: the current
 * registration (the "visitor": in force, used by the data path) and at most one pending
 * request (§3.7.2: a new request is recorded "as a separate part of the existing visitor
 * list entry"; the visitor is not touched until a valid successful reply). A new request
 * for a home address with a request already pending replaces the pending one (the mobile
 * node retransmits with a new Identification, §3.6.3).
 *
 * Requests (fa_engine_request(), §3.7.2), nothing changes before every check passed:
 *  1. parse (reg.h): an unknown non-skippable extension -> silently discarded (§1.8);
 *     malformed, a rule violation or no Mobile-Home Authentication -> 70 when the fixed
 *     part could be read (so the reply can name the home address), else discarded;
 *  2. Mobile-Foreign Authentication (§3.7.2.1): present -> must verify with the key the
 *     MN-FA lookup gives for (home address, SPI); absent -> fine unless require_mn_fa.
 *     Failure -> 67 (authenticated with MN-FA when the key was found), logged as a
 *     security exception;
 *  3. checks, in this order: reserved flag bits or a Foreign-Home Authentication extension
 *     from the mobile node -> 70 (§3.7.2.1); home address 0.0.0.0 -> 96 (§3.7.1, RFC 2794
 *     §5: we keep no pending records keyed by NAI); Home Agent field is one of our own
 *     addresses -> 194 (§3.7.2: this engine is not that mobile node's home agent; a daemon
 *     that also runs a home agent hands such requests to the home agent engine instead);
 *     D bit set -> 65 (we relay only registrations of our care-of address, not co-located
 *     ones); lifetime != 0 and Care-of Address not ours -> 77 (§3.7.2.1); lifetime above
 *     max_lifetime -> 69 with our maximum in the Lifetime field (§3.7.2.3); M or G set ->
 *     72 (we tunnel IP-in-IP only, §3.7.2.1, RFC 3024 §4.2.1); T set and reverse tunnelling
 *     not offered -> 74, T clear and reverse tunnelling mandatory -> 75, T set and IP TTL
 *     not 255 -> 76 (RFC 3024 §4.2.1); an Encapsulating Delivery Style extension and
 *     encapsulating delivery not supported -> 79 (RFC 3024 §3.4); no room for a new pending
 *     request or a new visitor, or a relayed request larger than FA_MSG_MAX -> 66 (§3.7.1);
 *  4. accept: the pending part is recorded (home agent, Identification, link-layer address,
 *     interface, UDP source port, IP destination, requested lifetime, flags) and the request
 *     is relayed to the Home Agent field's address, port 434, from our care-of address
 *     (§3.7.2.2): its bytes are unchanged from the first byte through the Mobile-Home
 *     Authentication extension; every extension after that was for us (MN-FA, the EDS, RFC
 *     3024 §3.3) and is removed; when the FA-HA lookup has a key for that home agent and the
 *     lifetime is not 0, a Foreign-Home Authentication extension is appended (§3.7.2.2).
 * A denial goes to the mobile node (§3.7.2.3): Home Address, Home Agent and Identification
 * copied from the request, Lifetime copied (69: our maximum), IP destination the home
 * address (255.255.255.255 when it is 0.0.0.0), link-layer destination the request's source,
 * UDP destination port the request's source port, IP source the request's destination
 * unless that was a multicast or broadcast address (then link_addr), and MN-FA appended when
 * the request's MN-FA verified. At most one denial per second per home address (§3.7.2,
 * RFC 3024 §4.2.1): more are counted and not sent.
 *
 * Replies (fa_engine_reply(), §3.7.3): the fixed part must match a pending request: same
 * home address, IP source = the Home Agent the request went to, Home Agent field the same,
 * low 32 bits of the Identification equal (§3.7.3.1); anything else is dropped and counted
 * (hostile input: a stale or replayed reply never matches, the pending part is consumed by
 * the first valid reply). Then:
 *  - malformed (reg.h) -> with no FA-HA key for that home agent, 71 to the mobile node and
 *    the pending part removed; with a key, dropped (it cannot be authenticated);
 *  - FA-HA key for that home agent: exactly one Foreign-Home Authentication extension with
 *    the key's SPI must verify (§3.7.3.1), else the reply is discarded, the event logged as
 *    a security exception, the pending part removed and 68 sent to the mobile node;
 *  - relayed to the mobile node (addressing as for a denial above, port 434 to the
 *    request's source port): bytes unchanged through the Mobile-Home Authentication
 *    extension, everything after it removed (FA-HA and anything appended on the path),
 *    MN-FA appended when the request's MN-FA verified (§3.7.3.2);
 *  - success (code 0-8): lifetime = min(requested, granted) (§3.4: the HA must not grant
 *    more than asked; we never trust more). Nonzero -> the visitor part is created or
 *    replaced (FA_EV_VISITOR_ADDED / _UPDATED), its lifetime counted from now (§3.7.3.2);
 *    zero -> the visitor is removed (FA_EV_VISITOR_REMOVED, deregistered). Denial -> only
 *    the pending part goes, the visitor stays as it was (§3.7.2).
 *
 * Timers (fa_engine_timer()): a pending request lives min(pending_timeout, requested
 * lifetime) (§3.7.1 "more than 7 seconds", §3.7.2.2); when it runs out it is removed and 78
 * sent to the mobile node (§3.7.1 SHOULD). A visitor whose lifetime ran out is removed
 * (FA_EV_VISITOR_REMOVED, expired) with no message (§3.7: an FA MUST NOT generate one).
 *
 * Log lines: "relayed request hoa=... ha=...", "relayed reply code=NNN (name)",
 * "denied code=NN (name)", "visitor added/updated/removed", "dropped: <reason>" (drops rate
 * limited). Errors are negative errno values; outputs are untouched on failure.
 */
#ifndef MM_MIP4_FA_ENGINE_H
#define MM_MIP4_FA_ENGINE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "mip4/auth.h"
#include "mip4/reg.h"

#define FA_MAX_LIFETIME_DEFAULT 600
#define FA_PENDING_TIMEOUT_DEFAULT MM_SEC(7)   /* §3.7.1 */
#define FA_MAX_VISITORS_DEFAULT 1024
#define FA_MAX_PENDING_DEFAULT 64
#define FA_MAX_VISITORS_LIMIT 65536
/* Largest message the engine sends (a relayed request or reply, extensions appended). A
 * request that would relay to more is denied 66. */
#define FA_MSG_MAX 1536
/* Messages and events one call can produce; fa_engine_timer() stops when either is full
 * and sets more. */
#define FA_SENDS_MAX 8
#define FA_EVENTS_MAX 16
#define FA_LLADDR_LEN 6

/* Reverse tunnelling service (RFC 3024 §3.1, §4.2.1). */
enum fa_reverse_tunnel {
	FA_RT_OFF = 0,       /* T requests get 74 */
	FA_RT_OFFER = 1,     /* granted when asked for (T bit) */
	FA_RT_REQUIRE = 2,   /* requests without T get 75 */
};

/* The Mobility Security Association we share with mobile node hoa for spi (Mobile-Foreign
 * Authentication, §3.5.3): fill *out, return 0, or -ENOENT. The engine wipes its copy. */
typedef int (*fa_mn_key_fn)(void *ctx, struct in_addr hoa, uint32_t spi,
			    struct mip4_key *out);
/* The key (with its SPI) we use with home agent ha (Foreign-Home Authentication, §3.5.4):
 * fill *out, return 0, or -ENOENT (we share none: nothing appended, nothing checked). */
typedef int (*fa_ha_key_fn)(void *ctx, struct in_addr ha, struct mip4_key *out);

struct fa_engine_config {
	struct in_addr coa;            /* our care-of address (advertised; relayed requests go
	                                * out from it, §3.7.2.2) */
	struct in_addr link_addr;      /* our address on the visited link (source of replies to
	                                * requests sent to a multicast/broadcast address);
	                                * 0 = coa */
	struct in_addr link_net;       /* the visited link's prefix (informational: where
	                                * visitors are) */
	unsigned link_plen;            /* 0..32 */
	uint16_t max_lifetime;         /* s, as advertised; 0 = FA_MAX_LIFETIME_DEFAULT;
	                                * 0xffff: infinite lifetimes are accepted */
	enum fa_reverse_tunnel reverse;
	bool encapsulating_delivery;   /* RFC 3024 §5.2 supported (else EDS -> 79) */
	bool require_mn_fa;            /* every request must carry a valid MN-FA (§3.7.2.1) */
	fa_mn_key_fn mn_key;           /* NULL: no MN-FA keys (required -> every request 67) */
	void *mn_key_ctx;
	fa_ha_key_fn ha_key;           /* NULL: no FA-HA keys */
	void *ha_key_ctx;
	mm_time_ns pending_timeout;    /* 0 = FA_PENDING_TIMEOUT_DEFAULT */
	size_t max_visitors;           /* entries (visitors plus pending-only); 0 = default */
	size_t max_pending;            /* pending requests at once; 0 = default (§3.7.1) */
	const struct clock *clock;     /* monotonic; required */
};

/* How a Registration Request from a mobile node arrived. */
struct fa_req_meta {
	struct sockaddr_in src;        /* IP source address and UDP source port */
	struct in_addr dst;            /* IP destination (ours, 224.0.0.11 or a broadcast) */
	uint8_t lladdr[FA_LLADDR_LEN]; /* link-layer source address (§3.7.1) */
	unsigned ifindex;              /* interface it came in on */
	uint8_t ttl;                   /* IP TTL (RFC 3024 §4.2.1); 0 = unknown, not checked */
};

/* How a Registration Reply from a home agent arrived. */
struct fa_rep_meta {
	struct sockaddr_in src;        /* IP source address (the home agent) and UDP port */
	struct in_addr dst;            /* IP destination */
};

/* A visitor (current registration), for the data path. */
struct fa_visitor {
	struct in_addr home_addr;
	struct in_addr home_agent;
	uint8_t lladdr[FA_LLADDR_LEN];
	unsigned ifindex;
	uint16_t src_port;             /* the mobile node's UDP source port */
	uint16_t lifetime;             /* granted to us: min(requested, HA's), s */
	uint8_t req_flags;             /* MIP4_REQ_* of the accepted request */
	bool reverse_tunnel;           /* T granted (RFC 3024 §4.2.2) */
	bool encapsulating_delivery;   /* EDS requested (RFC 3024 §5.2), else direct */
	uint64_t ident;                /* Identification of the accepted registration */
	mm_time_ns registered_at;      /* monotonic, when the reply was relayed */
	mm_time_ns expires_at;         /* monotonic; UINT64_MAX for an infinite lifetime */
};

enum fa_event_kind {
	FA_EV_VISITOR_ADDED = 1,
	FA_EV_VISITOR_UPDATED,         /* renewed, or its home agent / link address changed */
	FA_EV_VISITOR_REMOVED,
};

enum fa_remove_reason {
	FA_REMOVED_NONE = 0,
	FA_REMOVED_DEREGISTERED,
	FA_REMOVED_EXPIRED,
};

struct fa_event {
	enum fa_event_kind kind;
	enum fa_remove_reason reason;  /* REMOVED */
	struct fa_visitor visitor;     /* ADDED/UPDATED: the new one; REMOVED: the old one */
};

/* One message to send. */
struct fa_send {
	bool to_mn;                    /* true: on the visited link to a mobile node (use
	                                * lladdr and ifindex); false: routed to a home agent */
	int code;                      /* a reply's Code (ours or relayed); -1 for a request */
	bool relayed;                  /* relayed (request or HA's reply), not our denial */
	struct sockaddr_in dst;        /* IP destination and UDP destination port */
	struct in_addr src;            /* IP source address; UDP source port is 434 */
	uint8_t lladdr[FA_LLADDR_LEN]; /* to_mn: link-layer destination */
	unsigned ifindex;              /* to_mn: interface */
	size_t len;
	uint8_t msg[FA_MSG_MAX];
};

struct fa_actions {
	unsigned nsends;
	struct fa_send sends[FA_SENDS_MAX];
	unsigned nevents;
	struct fa_event events[FA_EVENTS_MAX];
	/* fa_engine_request(): the denial code when one was decided (-1: none), also when
	 * the rate limit held the message back (then nsends is 0). */
	int code;
	/* fa_engine_timer(): stopped because sends or events were full: call again. */
	bool more;
};

struct fa_stats {
	uint64_t requests;             /* datagrams given to fa_engine_request() */
	uint64_t relayed_requests;
	uint64_t denied;               /* denials decided (sent or rate limited) */
	uint64_t denied_by_code[256];
	uint64_t denials_suppressed;   /* not sent: one per second per home address */
	uint64_t dropped_requests;     /* silently discarded requests */
	uint64_t mn_auth_failures;     /* MN-FA missing/unknown/wrong (67) */
	uint64_t replies;              /* datagrams given to fa_engine_reply() */
	uint64_t relayed_replies;
	uint64_t dropped_unmatched;    /* no pending request matched (stale, replayed, forged) */
	uint64_t dropped_replies;      /* other silently discarded replies */
	uint64_t ha_auth_failures;     /* FA-HA missing/wrong (68) */
	uint64_t pending_timeouts;     /* 78 */
	uint64_t visitors_added;
	uint64_t deregistrations;
	uint64_t visitors_expired;
	uint64_t log_suppressed;
};

struct fa_engine;

/* Returns 0 and *out, or -EINVAL (no clock, care-of address 0, link_plen > 32, reverse out
 * of range, max_visitors above FA_MAX_VISITORS_LIMIT, max_pending above max_visitors),
 * -ENOMEM. */
int fa_engine_new(const struct fa_engine_config *cfg, struct fa_engine **out);
void fa_engine_free(struct fa_engine *fa);

/* A datagram from the visited link to UDP port 434 that is a Registration Request (the
 * whole UDP payload). *out is zeroed by the engine, then: 0 = answered (relayed, or denied:
 * out->code >= 0); a negative errno = silently discarded, nothing sent, *out untouched:
 * -EBADMSG malformed beyond a reply / not a Request, -EOPNOTSUPP unknown non-skippable
 * extension, -EIO crypto failure, -EINVAL bad arguments. */
int fa_engine_request(struct fa_engine *fa, const uint8_t *msg, size_t len,
		      const struct fa_req_meta *meta, struct fa_actions *out);

/* A datagram to UDP port 434 from a home agent that is a Registration Reply. 0 = handled
 * (*out zeroed, then filled: the relayed reply or our 68/71, events); negative errno =
 * dropped, *out untouched: -ENOENT no matching pending request, -EBADMSG malformed (and
 * not answered), -EIO crypto or encoding failure, -EINVAL bad arguments. (A failed FA-HA
 * is answered with 68: return 0.) */
int fa_engine_reply(struct fa_engine *fa, const uint8_t *msg, size_t len,
		    const struct fa_rep_meta *meta, struct fa_actions *out);

/* An ICMP error came back for a request we relayed (§3.7.3: SHOULD answer the mobile node
 * with a "home agent unreachable" code, 80-95): ha = the destination the request went to,
 * icmp_type/icmp_code from the error, orig = the UDP payload we sent as the error queue
 * returns it (at least the request's 24-byte fixed part). Destination unreachable (type 3)
 * code 0 -> 80, code 1 -> 81, code 3 -> 82, anything else -> 88. Matches the pending
 * request like a reply (home address, home agent, whole Identification); then the pending
 * part is removed and the code sent. 0 = handled; -ENOENT nothing matched, -EBADMSG orig
 * unreadable, -EINVAL bad arguments (*out untouched). */
int fa_engine_icmp_error(struct fa_engine *fa, struct in_addr ha, uint8_t icmp_type,
			 uint8_t icmp_code, const uint8_t *orig, size_t len,
			 struct fa_actions *out);

/* Run the timers due by now: pending requests that timed out (78 to the mobile node) and
 * visitors that expired (REMOVED events). *out is zeroed, then filled. Returns how many
 * entries were handled (0: nothing due); out->more: call again. */
int fa_engine_timer(struct fa_engine *fa, mm_time_ns now, struct fa_actions *out);

/* When fa_engine_timer() next has work; UINT64_MAX: never. */
mm_time_ns fa_engine_next_deadline(const struct fa_engine *fa);

/* The visitor for hoa, or NULL (pending-only entries are not visitors). Valid until the
 * engine is next called to change something. */
const struct fa_visitor *fa_engine_visitor(const struct fa_engine *fa, struct in_addr hoa);
/* Iteration over visitors: start with *iter = 0; returns NULL at the end. */
const struct fa_visitor *fa_engine_visitor_next(const struct fa_engine *fa, size_t *iter);
size_t fa_engine_visitor_count(const struct fa_engine *fa);
size_t fa_engine_pending_count(const struct fa_engine *fa);
/* Seconds left of v at the engine's clock (rounded up; 0 when due; 0xffff infinite). */
uint32_t fa_engine_remaining(const struct fa_engine *fa, const struct fa_visitor *v);

const struct fa_stats *fa_engine_stats(const struct fa_engine *fa);
const struct fa_engine_config *fa_engine_config(const struct fa_engine *fa);
const char *fa_event_kind_name(enum fa_event_kind kind);

#endif
/* API-FROZEN */
