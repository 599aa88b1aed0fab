/* Trust verdict and mode choice (RFC 5266 3.4, 3.4.1, 3.4.2; RFC 5265 3.3, 3.4, 4.1).
 * See trust.h. Pure functions: no I/O, no clock; mnd/mode.c gathers the facts. */
#include "policy/trust.h"

#include <stddef.h>

static const char *const mode_names[POLICY_MODE_COUNT] = {
	[POLICY_MODE_OFFLINE]   = "offline",
	[POLICY_MODE_DETECTING] = "detecting",
	[POLICY_MODE_HOME]      = "home",
	[POLICY_MODE_C]         = "c",
	[POLICY_MODE_F]         = "f",
	[POLICY_MODE_MC]        = "mc",
	[POLICY_MODE_BLOCKED]   = "blocked",
};

const char *policy_mode_name(enum policy_mode m)
{
	/* Compared as unsigned: a negative value cast into the enum is out of range too. */
	if ((unsigned)m >= POLICY_MODE_COUNT || !mode_names[m])
		return "?";
	return mode_names[m];
}

const char *policy_trust_name(enum policy_trust t)
{
	switch (t) {
	case POLICY_TRUST_UNKNOWN:
		return "unknown";
	case POLICY_TRUST_TRUSTED:
		return "trusted";
	case POLICY_TRUST_UNTRUSTED:
		return "untrusted";
	}
	return "?";
}

void policy_trust_config_default(struct policy_trust_config *c)
{
	if (!c)
		return;
	*c = (struct policy_trust_config){
		.probe_retries = POLICY_PROBE_RETRIES_DEFAULT,
		.probe_timeout_ms = POLICY_PROBE_TIMEOUT_MS_DEFAULT,
		/* RFC 5266 3.4.1 step 2: the mobile node "MAY tear down" the VPN when trusted;
		 * keeping it makes the next move outside one MOBIKE update (no new IKE SA). */
		.keep_vpn_when_trusted = true,
		/* RFC 5266 3.4: no normal traffic while detecting; RFC 5265 4.1: IPsec is not
		 * disabled without the TNC extension. */
		.fail_closed = true,
		/* RFC 5266 3.2: "The mobile node MAY use a foreign agent care-of address, if a
		 * foreign agent is available" on the trusted network; mode f spares the mobile
		 * node the decapsulation and keeps its co-located address out of the HA's
		 * binding. Configurable, as the brief of issue 7 asks. */
		.prefer_fa = true,
	};
}

uint32_t policy_probe_expiry_ms(const struct policy_trust_config *c)
{
	struct policy_trust_config d;
	uint64_t factor, total;

	if (!c) {
		policy_trust_config_default(&d);
		c = &d;
	}
	/* RFC 5266 3.4: retransmit after a timeout, count and timeout configurable; RFC 5944
	 * 3.6.3: "Each successive retransmission timeout period SHOULD be at least twice the
	 * previous period". Requests go out at 0, t, 3t, 7t, ...; the wait after the last of
	 * 1 + r requests ends at t * (1 + 2 + ... + 2^r) = t * (2^(r+1) - 1). */
	if (c->probe_timeout_ms == 0)
		return 0;
	/* From r + 1 = 32 on the factor alone is >= UINT32_MAX (and r + 1 may overflow). */
	if (c->probe_retries >= 31)
		return UINT32_MAX;
	factor = (UINT64_C(1) << (c->probe_retries + 1)) - 1;
	total = factor * c->probe_timeout_ms;   /* < 2^31 * 2^32: no overflow in 64 bits */
	return total >= UINT32_MAX ? UINT32_MAX : (uint32_t)total;
}

/* One verdict: every field set, so no row can leave one from a previous call. */
static void verdict(struct policy_verdict *out, enum policy_trust trust,
		    enum policy_mode mode, bool register_tia, bool want_vpn, bool block_clear,
		    const char *reason)
{
	*out = (struct policy_verdict){
		.trust = trust,
		.mode = mode,
		.register_tia = register_tia,
		.register_fa = false,
		.want_vpn = want_vpn,
		.block_clear = block_clear,
		.reason = reason,
	};
}

void policy_trust_decide(const struct policy_trust_config *c,
			 const struct policy_trust_facts *f, struct policy_verdict *out)
{
	static const struct policy_trust_facts none;   /* all false: not attached */
	struct policy_trust_config d;
	bool fc;

	if (!out)
		return;
	if (!c) {
		policy_trust_config_default(&d);
		c = &d;
	}
	if (!f)
		f = &none;
	fc = c->fail_closed;

	/* The rows are checked in this order; the first that matches decides. f->vpn_failed
	 * only changes the reason: a failed or refusing gateway is evidence neither way (RFC
	 * 5266 3.4.1 step 1a: the gateway may well be unreachable from inside, so its failure
	 * must not delay mode c, nor does it prove being inside), and a working tunnel is
	 * evidence only in the absence of the i-HA's reply. f->fa_offered matters only on a
	 * trusted network (rows 3 and 4). */

	/* 1. No access interface: nothing can be detected. The VPN client keeps its IKE SA
	 *    (or retries it) so that the next attachment can be one MOBIKE update away
	 *    (RFC 5266 3.4.1 step 1a), and the filter stays as fail-closed says so that
	 *    nothing leaks in the moment an interface comes up before the race starts. */
	if (!f->attached) {
		verdict(out, POLICY_TRUST_UNKNOWN, POLICY_MODE_OFFLINE, false, true, fc,
			"no access interface with an address and a route");
		return;
	}

	/* 2. On the home link: plain IP, no care-of address, the binding deregistered (RFC 5944
	 *    3.6). The home link is part of the trusted network (RFC 5266 Appendix A: attached
	 *    "to a foreign link in the trusted network or to the home link directly"). This
	 *    row trusts the caller's at_home as much as probe_trusted: RFC 5265 4.1 allows
	 *    plaintext only after an authenticated TNC reply, so the caller must set at_home
	 *    only on evidence of that strength (see trust.h), not on the home address being
	 *    configured on an interface alone. */
	if (f->at_home) {
		verdict(out, POLICY_TRUST_TRUSTED, POLICY_MODE_HOME, false,
			c->keep_vpn_when_trusted, false, "attached to the home link");
		return;
	}

	/* 3. Trusted (the evidence of row 4), and a foreign agent advertises here: mode f
	 *    (RFC 5266 3.1.2 "only when it detects that it is connected to an internal trusted
	 *    network and also detects a foreign agent on the access network"; 3.2 "MAY use a
	 *    foreign agent care-of address ... used only when the mobile node is attached to
	 *    the trusted access network"; 3: "it MAY start using a foreign agent care-of
	 *    address with the i-HA. In order to do this, the mobile node has to perform a new
	 *    registration": register_fa until one through the agent is accepted). The
	 *    registration reply through the agent with the TNC extension is itself the
	 *    evidence (RFC 5265 4.1), so it needs no direct probe. prefer_fa off: row 4. */
	if ((f->probe_trusted || f->fa_registered) && f->fa_offered && c->prefer_fa) {
		verdict(out, POLICY_TRUST_TRUSTED, POLICY_MODE_F, false,
			c->keep_vpn_when_trusted, false,
			f->fa_registered ? "registered through the foreign agent: authenticated "
					   "reply with TNC from the home agent"
					 : "authenticated reply with TNC from the home agent; a "
					   "foreign agent advertises: registering through it");
		out->register_fa = !f->fa_registered;
		return;
	}

	/* 4. An accepted, authenticated (MN-HA key), fresh reply with the TNC extension from
	 *    the i-HA: inside (RFC 5266 3.4; RFC 5265 3.3 "the MN SHOULD determine that it is
	 *    inside", 3.4, 4.1 "MUST NOT disable IPsec protection unless the registration
	 *    reply from the i-HA contains a Trusted Networks Configured extension"). It wins
	 *    over a working tunnel, also a tunnel that came up first (RFC 5265 3.3, 3.5:
	 *    "SHOULD still switch to using the i-HA directly"), and after the probe's expiry
	 *    (a late reply is still a reply). Mode c registers the physical address, not the
	 *    TIA (RFC 5266 3.1.1, 3.4.2 step 3). The VPN is torn down or kept by policy
	 *    (3.4.1 step 2 "MAY tear down"). A reply of the same strength to a registration
	 *    through a foreign agent (fa_registered) counts the same (RFC 5265 4.1); here the
	 *    agent is gone or not wanted (prefer_fa off), so the co-located address is used. */
	if (f->probe_trusted || f->fa_registered) {
		const char *why;

		if (!f->probe_trusted)
			why = "authenticated reply with TNC through a foreign agent";
		else if (f->vpn_up)
			why = "authenticated reply with TNC from the home agent, preferred to the "
			      "working tunnel";
		else
			why = "authenticated reply with TNC from the home agent";
		verdict(out, POLICY_TRUST_TRUSTED, POLICY_MODE_C, false,
			c->keep_vpn_when_trusted, false, why);
		return;
	}

	/* 5. The gateway answered, the i-HA did not: outside (RFC 5266 3.4 "If the mobile node
	 *    receives a response from the VPN gateway, but not from the i-HA, it assumes it is
	 *    outside"). Mode mc at once, without waiting for the probe to expire (RFC 5265 3.3:
	 *    "a detection period of zero is preferred"); the probe keeps running and row 4
	 *    takes over if the i-HA answers later. The TIA is registered as co-located CoA
	 *    through the tunnel (RFC 5266 3.1.3, 3.4.2 step 4) unless the binding for this TIA
	 *    and gateway is still valid (a MOBIKE move keeps both: RFC 5266 3.4.1 step 1a).
	 *    Nothing goes out in the clear meanwhile (RFC 5265 4.1). */
	if (f->vpn_up) {
		verdict(out, POLICY_TRUST_UNTRUSTED, POLICY_MODE_MC, !f->mc_binding, true, fc,
			f->mc_binding ? "gateway answered, home agent did not; "
					"the binding through the tunnel is still valid"
				      : "gateway answered, home agent did not");
		return;
	}

	/* 6. Every probe request went unanswered and there is no tunnel: not inside (no TNC
	 *    reply, RFC 5265 4.1), and no protected path either. Blocked: fail closed, and the
	 *    VPN client keeps trying (RFC 5266 3.4.2 step 1). */
	if (f->probe_expired) {
		verdict(out, POLICY_TRUST_UNTRUSTED, POLICY_MODE_BLOCKED, false, true, fc,
			f->vpn_failed ? "home agent did not answer and the gateway failed"
				      : "home agent did not answer, no tunnel yet");
		return;
	}

	/* 7. The race runs (RFC 5266 3.4.1 steps 1a/1b, 3.4.2 steps 1/2): "The mobile node
	 *    should not send any normal traffic while it is trying to detect whether it is
	 *    attached to the trusted or untrusted network" (RFC 5266 3.4). */
	verdict(out, POLICY_TRUST_UNKNOWN, POLICY_MODE_DETECTING, false, true, fc,
		f->vpn_failed ? "probing the home agent; the gateway failed"
			      : "probing the home agent and the gateway");
}
