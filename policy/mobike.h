/* MOBIKE decisions (RFC 4555; design RFC 4621): pure functions of observed facts, no I/O,
 * no framework types. The IKE engine (ike/mobike.c) and the daemons call them.
 *
 *  - policy_mobike_pairs(): the order in which an initiator tries (local address x peer
 *    address) pairs: for path testing when its current path fails (RFC 4555 3.10), and to
 *    pick the preferred pair of a move (3.5: "the initiator decides"). The daemon's
 *    interface preference first (the order of its local addresses), then the peer's own
 *    order of its address set (3.4, 3.6: the address in the IP header, then the
 *    ADDITIONAL_IP4_ADDRESS ones as sent), the failing pair last.
 *  - policy_mobike_accept(): what a responder does with the new peer address of an
 *    UPDATE_SA_ADDRESSES request (3.5 "checks that the (source IP address, destination IP
 *    address) pair in the IP header is acceptable according to local policy"): accept it,
 *    accept it after a return routability check (3.7, COOKIE2), or refuse it with a reason
 *    (the engine answers UNACCEPTABLE_ADDRESSES, 4.1.1, and logs the reason).
 *
 * Addresses are struct in_addr in network order; ports host order.
 */
#ifndef MM_POLICY_MOBIKE_H
#define MM_POLICY_MOBIKE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MOBIKE_MAX_ADDRS    8     /* per side: local addresses, a peer's address set */
#define POLICY_MOBIKE_MAX_PAIRS    (POLICY_MOBIKE_MAX_ADDRS * POLICY_MOBIKE_MAX_ADDRS)
#define POLICY_MOBIKE_MAX_PREFIXES 8

/* --- address pairs (RFC 4555 3.5, 3.10) ----------------------------------------------- */

struct policy_addr_pair {
	struct in_addr local, remote;
};

/* Is a a usable unicast address for a tunnel endpoint? Not 0.0.0.0/8, 127/8, 224/4
 * (multicast), 240/4 (reserved, with 255.255.255.255). */
bool policy_addr_usable(struct in_addr a);

/* The pairs to try, best first, into out[0, max); returns how many. local[] is in the
 * daemon's preference order (first: the preferred interface), peer[] in the peer's order.
 * Unusable and repeated addresses are skipped. `failing` (may be NULL) is the pair that
 * stopped working: it comes last, after every other pair, since it may recover. */
size_t policy_mobike_pairs(const struct in_addr *local, size_t nlocal,
			   const struct in_addr *peer, size_t npeer,
			   const struct policy_addr_pair *failing,
			   struct policy_addr_pair *out, size_t max);

/* --- a peer's new address (RFC 4555 3.5, 3.7, 3.9) ------------------------------------ */

/* When the responder checks return routability (3.7: "By default, this ... SHOULD be
 * performed"; it "MAY be omitted" where peers are trusted). Zero is the default. */
enum policy_mobike_rr {
	POLICY_MOBIKE_RR_NEW_ADDRESS = 0,   /* when the address is new for this SA */
	POLICY_MOBIKE_RR_ALWAYS = 1,        /* whenever the address changes */
	POLICY_MOBIKE_RR_NEVER = 2,
};

/* An IPv4 prefix, e.g. 198.18.0.0/15. */
struct policy_prefix4 {
	struct in_addr net;
	uint8_t len;                         /* 0..32 */
};

/* Configuration knobs; all zero is the default (return routability for new addresses, any
 * unicast address, NATs allowed). */
struct policy_mobike_cfg {
	enum policy_mobike_rr rr;
	bool refuse_nat;                     /* refuse a path on which NAT detection sees a NAT */
	size_t nallowed;                     /* peer addresses must be inside one of these */
	struct policy_prefix4 allowed[POLICY_MOBIKE_MAX_PREFIXES];   /* (none: any) */
};

/* What the responder saw. */
struct policy_mobike_update {
	struct in_addr old_addr, new_addr;   /* the peer's address now / in the IP header */
	uint16_t old_port, new_port;
	bool nat;                            /* NAT detection (2.23) found a NAT on the new path */
	bool no_nats;                        /* the request carried a (matching) NO_NATS_ALLOWED */
	const struct in_addr *verified;      /* peer addresses this SA has proven reachable */
	size_t nverified;
};

enum policy_mobike_verdict {
	POLICY_MOBIKE_ACCEPT = 0,
	POLICY_MOBIKE_ACCEPT_AFTER_RR,       /* move once a COOKIE2 exchange to it succeeds */
	POLICY_MOBIKE_REFUSE,                /* UNACCEPTABLE_ADDRESSES */
};

struct policy_mobike_decision {
	enum policy_mobike_verdict verdict;
	const char *reason;                  /* static text for the log line */
};

/* The decision; cfg NULL means the defaults. Checks, in order: a usable unicast address;
 * inside the allowed prefixes; a NAT although the peer said NO_NATS_ALLOWED (3.9); a NAT
 * the configuration refuses; then return routability by cfg->rr ("new address": neither
 * the current address nor one in verified[]). Same address and port as now: accepted. */
struct policy_mobike_decision policy_mobike_accept(const struct policy_mobike_cfg *cfg,
						   const struct policy_mobike_update *u);

const char *policy_mobike_verdict_name(enum policy_mobike_verdict v);
const char *policy_mobike_rr_name(enum policy_mobike_rr rr);

/* "198.18.0.0/15" (or a bare address: /32) into *out; 0 or -EINVAL (host bits set,
 * length > 32, junk). For configuration files. */
int policy_prefix4_parse(const char *text, struct policy_prefix4 *out);
/* Is a inside p? */
bool policy_prefix4_contains(const struct policy_prefix4 *p, struct in_addr a);

#endif
