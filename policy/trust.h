/* Trust verdict and mode choice (RFC 5266 3.4; security background RFC 5265 3.3, 4.1):
 * pure functions of facts the mobile node observed, no I/O, no framework types. mnd's mode
 * machine (mnd/mode.c) gathers the facts on every event and applies the verdict.
 *
 * The race (RFC 5266 3.4.1, 3.4.2): on every attachment change the mobile node sends, at
 * the same time, a Registration Request to the internal home agent without VPN
 * encapsulation (the "probe") and a MOBIKE update to the VPN gateway (or a new IKE SA).
 *  - An accepted reply to the probe, authenticated with the MN-HA key, fresh, and carrying
 *    the Trusted Networks Configured extension (RFC 5265 3.4, 4.1): trusted, mode c. It
 *    wins over everything else, also when it comes after the VPN's answer (RFC 5265 3.3:
 *    "Should the assumption have been invalid and a response from the i-HA received after
 *    a response from the x-HA, the MN SHOULD re-register with the i-HA directly").
 *  - A working VPN and no such reply: untrusted, mode mc (RFC 5266 3.4.1 "If the mobile
 *    node receives a response from the VPN gateway, but not from the i-HA, it assumes it
 *    is outside"; RFC 5265 3.3: "a detection period of zero is preferred"), registering
 *    the TIA as co-located care-of address through the tunnel unless that binding is
 *    still valid (3.4.2 step 4).
 *  - Neither yet: detecting. No reply after every retransmission and no tunnel: blocked.
 *  - Trusted, and a foreign agent advertises on the link: mode f (RFC 5266 3.1.2, 3.2: "MAY
 *    use a foreign agent care-of address ... only when ... attached to the trusted access
 *    network"), unless configured off (prefer_fa): register through the agent. An
 *    authenticated, fresh reply with the TNC extension to a registration through the agent
 *    is evidence as strong as the probe's (RFC 5265 4.1: the i-HA saw the request come
 *    from its trusted networks, 4.3), so it makes the network trusted on its own.
 * While not trusted, nothing of the home address and nothing for the intranet may leave a
 * physical interface unencrypted (fail closed, the default; RFC 5266 3.4 "The mobile node
 * should not send any normal traffic while it is trying to detect ...").
 */
#ifndef MM_POLICY_TRUST_H
#define MM_POLICY_TRUST_H

#include <stdbool.h>
#include <stdint.h>

/* The modes of the mobile node (RFC 5266 3.1). Zero is the state at start. */
enum policy_mode {
	POLICY_MODE_OFFLINE = 0,  /* no usable access interface */
	POLICY_MODE_DETECTING,    /* attached; the race runs */
	POLICY_MODE_HOME,         /* on the home link: no care-of address */
	POLICY_MODE_C,            /* trusted, co-located care-of address (3.1.1) */
	POLICY_MODE_F,            /* trusted, foreign agent care-of address (3.1.2) */
	POLICY_MODE_MC,           /* untrusted, the TIA as co-located CoA inside the VPN (3.1.3) */
	POLICY_MODE_BLOCKED,      /* untrusted or undecided, and no working tunnel: fail closed */
	POLICY_MODE_COUNT,
};

/* "offline", "detecting", "home", "c", "f", "mc", "blocked"; "?" out of range. */
const char *policy_mode_name(enum policy_mode m);

enum policy_trust {
	POLICY_TRUST_UNKNOWN = 0,
	POLICY_TRUST_TRUSTED,
	POLICY_TRUST_UNTRUSTED,
};

/* "unknown", "trusted", "untrusted"; "?" out of range. */
const char *policy_trust_name(enum policy_trust t);

/* The configuration knobs (mnd's [mobile-node] group). */
struct policy_trust_config {
	unsigned probe_retries;       /* probe requests after the first (RFC 5266 3.4:
	                               * "configurable"); default POLICY_PROBE_RETRIES_DEFAULT */
	unsigned probe_timeout_ms;    /* wait after the first request; each further wait is
	                               * twice the previous (RFC 5944 3.6.3); default
	                               * POLICY_PROBE_TIMEOUT_MS_DEFAULT */
	bool keep_vpn_when_trusted;   /* RFC 5266 3.4.1 step 2: "MAY tear down" (default keep) */
	bool fail_closed;             /* default true */
	bool prefer_fa;               /* on a trusted network, register through a foreign agent
	                               * that advertises there (mode f; RFC 5266 3.2 "MAY");
	                               * default true. Off: mode c whatever is advertised */
};

#define POLICY_PROBE_RETRIES_DEFAULT    2
#define POLICY_PROBE_TIMEOUT_MS_DEFAULT 1000

/* Defaults above into *c. */
void policy_trust_config_default(struct policy_trust_config *c);

/* The probe's schedule: how long after the first request the probe is given up, with no
 * reply to 1 + probe_retries requests (timeout, 2 x timeout, 4 x timeout, ... summed).
 * Saturates at UINT32_MAX. */
uint32_t policy_probe_expiry_ms(const struct policy_trust_config *c);

/* What the mobile node knows about its current attachment (reset on every change). */
struct policy_trust_facts {
	bool attached;          /* an access interface with an address and a route */
	bool at_home;           /* that interface is on the home link. Makes the verdict
	                         * trusted (mode home, nothing blocked) just like
	                         * probe_trusted, so it needs evidence of the same strength
	                         * (RFC 5265 4.1): an address on a link alone is not (a
	                         * hostile DHCP server can hand out the home address) */
	bool probe_trusted;     /* the probe got an accepted reply: authenticated with the MN-HA
	                         * key, fresh (Identification of our request), with the TNC
	                         * extension, from the home agent (RFC 5265 4.1) */
	bool probe_expired;     /* every probe request went unanswered (policy_probe_expiry_ms) */
	bool vpn_up;            /* the gateway answered on this attachment (MOBIKE update or a
	                         * new IKE SA) and the tunnel with its TIA is up */
	bool vpn_failed;        /* the gateway did not answer, or refused */
	bool mc_binding;        /* a valid registration with the current TIA as care-of address
	                         * through the current gateway */
	bool fa_offered;        /* a foreign agent we may register through advertises on this
	                         * link (policy/agent.h: a current agent, F set, not busy) */
	bool fa_registered;     /* a registration through that foreign agent got an accepted
	                         * reply: authenticated with the MN-HA key, fresh, with the TNC
	                         * extension (mn_binding.via_fa && tnc; RFC 5265 4.1). As strong
	                         * as probe_trusted. The caller clears it when the agent is
	                         * lost or the binding goes */
};

struct policy_verdict {
	enum policy_trust trust;
	enum policy_mode mode;
	bool register_tia;      /* send a Registration Request with the TIA as CoA through the
	                         * tunnel (mode mc without a valid mc binding) */
	bool register_fa;       /* register through the advertising foreign agent (mode f
	                         * without an accepted registration through it) */
	bool want_vpn;          /* keep (or set up) the VPN */
	bool block_clear;       /* the fail-closed filter: no packet of the home address or for
	                         * the intranet leaves a physical interface unencrypted */
	const char *reason;     /* static text for the log: why this verdict */
};

/* The verdict for facts f under configuration c. Total: every input gives a verdict, and
 * every field of *out is set. The first matching row decides (RFC sections in trust.c);
 * "evidence" is probe_trusted || fa_registered:
 *   !attached              offline   unknown    want_vpn           block_clear = fail_closed
 *   at_home                home      trusted    keep_vpn_when_trusted  never blocked
 *   evidence && fa_offered f         trusted    keep_vpn_when_trusted  never blocked,
 *     && prefer_fa                              register_fa = !fa_registered
 *   evidence               c         trusted    keep_vpn_when_trusted  never blocked
 *   vpn_up                 mc        untrusted  want_vpn, register_tia = !mc_binding,
 *                                               block_clear = fail_closed
 *   probe_expired          blocked   untrusted  want_vpn           block_clear = fail_closed
 *   otherwise              detecting unknown    want_vpn           block_clear = fail_closed
 * register_tia only in mc, register_fa only in f. vpn_failed changes only the reason;
 * fa_offered changes nothing when prefer_fa is off or without evidence (RFC 5266 3: the
 * foreign agent's care-of address is never used with the i-HA on an untrusted network).
 * c NULL: the defaults; f NULL: not attached; out NULL: nothing. */
void policy_trust_decide(const struct policy_trust_config *c,
			 const struct policy_trust_facts *f, struct policy_verdict *out);

#endif
