/* The mode machine (RFC 5266 3.4): on every attachment change, the trust race — a
 * Registration Request to the internal home agent without VPN encapsulation (the probe,
 * registration.c) and, at the same time, a MOBIKE update or a new IKE SA (vpn.c) — and the
 * mode that follows from what answered. The verdict is policy/trust.h's, a pure function of
 * the facts gathered here; this file applies it: which registration is in force (the
 * probe's from the physical care-of address in mode c, the TIA's through the tunnel in mode
 * mc), where the data path sends, the TUN's MTU, the fail-closed filter. Every mode change
 * goes through set_mode(), logged with its reason.
 *
 * Without [vpn] there is no race to run: the registration from the physical address is the
 * only one (Mobile IPv4 alone, mode c once registered), exactly as before the VPN existed.
 */
#include <errno.h>
#include <string.h>

#include "common/sock.h"
#include "common/tun.h"
#include "mnd/agentdisc.h"
#include "mnd/failclosed.h"
#include "mnd/mnd.h"

/* early_tia(): one main-loop turn after the gateway's answer (see there). */
#define EARLY_TIA_DELAY MM_MSEC(1)

static mm_time_ns now_ns(void)
{
	return clock_now(clock_monotonic());
}

static bool vpn_configured(const struct mnd *m)
{
	return m->cfg.vpn.enabled;
}

/* RFC 5266 3.4: "The mobile node should not send any normal traffic while it is trying to
 * detect whether it is attached to the trusted or untrusted network." */
static void filter_set(struct mnd *m, bool on)
{
	struct mnd_fc_spec spec;
	char ifs[512], err[256];
	mm_time_ns t0 = now_ns();
	int rc;

	if (m->filter_on == on)
		return;
	if (!on) {
		rc = mnd_fc_open(m->fc, MND_FC_TABLE_DEFAULT, err, sizeof(err));
		if (rc < 0) {
			LOG_ERROR(&m->log, "cannot take the fail-closed filter off: %s", err);
			return;
		}
		m->filter_on = false;
		LOG_INFO(&m->log, "fail-closed filter off (%llu us)",
			 (unsigned long long)((now_ns() - t0) / 1000));
		return;
	}
	memset(&spec, 0, sizeof(spec));
	spec.table = MND_FC_TABLE_DEFAULT;
	/* mnd's interfaces and the VPN's (duplicates are merged). */
	snprintf(ifs, sizeof(ifs), "%s%s%s", m->cfg.interfaces,
		 m->cfg.vpn.interfaces ? "," : "", m->cfg.vpn.interfaces ? m->cfg.vpn.interfaces : "");
	spec.interfaces = ifs;
	spec.home_addr = m->cfg.home_addr;
	spec.home_agent = m->cfg.home_agent;
	spec.gateway = m->cfg.vpn.gateway;
	for (size_t i = 0; i < m->cfg.vpn.nintranet && i < MND_FC_INTRANET_MAX; i++) {
		spec.intranet[i].addr = m->cfg.vpn.intranet[i];
		spec.intranet[i].plen = m->cfg.vpn.intranet_plen[i];
		spec.nintranet = i + 1;
	}
	rc = mnd_fc_apply(m->fc, &spec, err, sizeof(err));
	if (rc < 0) {
		/* Nothing else can keep the promise: say so loudly, every time it fails. */
		LOG_ERROR(&m->log, "cannot put the fail-closed filter in place: %s", err);
		return;
	}
	m->filter_on = true;
	LOG_INFO(&m->log, "fail-closed filter on (%llu us)",
		 (unsigned long long)((now_ns() - t0) / 1000));
}

/* Mode mc carries two headers inside the VPN's TUN: the home-address packet, IP-in-IP to the
 * home agent (20 bytes), inside ESP. The TUN of the home address gets the VPN TUN's MTU less
 * those 20 bytes so no packet is black-holed (issue 6 item 2); back to the configured MTU
 * outside mc. Local TCP follows the device MTU at once (the route has no MTU of its own). */
static void mtu_for_mode(struct mnd *m, bool mc, unsigned vpn_mtu)
{
	unsigned want = m->cfg.tunnel_mtu;
	int rc;

	if (mc && vpn_mtu > 20 + 576 && vpn_mtu - 20 < want)
		want = vpn_mtu - 20;
	if (want == (m->tun_mtu ? m->tun_mtu : m->cfg.tunnel_mtu))
		return;
	rc = tun_set_mtu(m->tun_name, (int)want);
	if (rc < 0) {
		LOG_WARNING(&m->log, "cannot set the MTU of %s to %u: %s", m->tun_name, want,
			    strerror(-rc));
		return;
	}
	LOG_INFO(&m->log, "MTU of %s: %u", m->tun_name, want);
	m->tun_mtu = want;
}

static void set_mode(struct mnd *m, enum policy_mode mode, enum policy_trust trust,
		     const char *reason)
{
	if (m->mode == mode && m->trust == trust && !strcmp(m->mode_reason, reason))
		return;
	if (m->mode != mode)
		LOG_NOTICE(&m->log, "mode: %s -> %s (%s, %s)", policy_mode_name(m->mode),
			   policy_mode_name(mode), policy_trust_name(trust), reason);
	else
		LOG_INFO(&m->log, "mode %s: %s, %s", policy_mode_name(mode),
			 policy_trust_name(trust), reason);
	m->mode = mode;
	m->trust = trust;
	snprintf(m->mode_reason, sizeof(m->mode_reason), "%s", reason);
	m->mode_since = now_ns();
}

/* Traffic flows again: the handover that started at attach_at is over. */
static void handover_done(struct mnd *m)
{
	mm_time_ns took;

	if (!m->handover_pending)
		return;
	m->handover_pending = false;
	took = now_ns() - m->attach_at;
	m->last_handover_ms = (uint32_t)((took + MM_MSEC(1) - 1) / MM_MSEC(1));
	if (m->last_handover_ms == 0)
		m->last_handover_ms = 1;
	m->handovers++;
	LOG_NOTICE(&m->log, "handover to mode %s done in %llu.%03llu ms",
		   policy_mode_name(m->mode), (unsigned long long)(took / MM_MSEC(1)),
		   (unsigned long long)(took / 1000 % 1000));
}

/* Is the registration in force the TIA's, through the tunnel of the current gateway? */
static bool mc_registered(const struct mnd *m, const struct mnd_vpn_view *v)
{
	const struct mnd_reg *r = m->reg;

	return v->up && v->tia.s_addr && r->bound && r->binding.coa.s_addr == v->tia.s_addr &&
	       !strcmp(r->ifname, v->tun_name);
}

static bool mc_registering(const struct mnd *m, const struct mnd_vpn_view *v)
{
	const struct mnd_reg *r = m->reg;

	return r->fd >= 0 && r->src.s_addr == v->tia.s_addr && !strcmp(r->ifname, v->tun_name);
}

/* The foreign agent advertising on this attachment's link that we may register through
 * (policy/agent.h: F set, not busy, a care-of address), or NULL. */
static const struct policy_agent *current_agent(const struct mnd *m)
{
	const struct policy_agent *a;

	if (!m->agentdisc || m->attach.where != MND_AWAY || m->fa_refused)
		return NULL;
	a = agentdisc_current(m->agentdisc, m->attach.ifname);
	return a && a->num_coa ? a : NULL;
}

/* The home address's packets into the TUN again (they went to a foreign agent in mode f). */
static void route_into_tun(struct mnd *m)
{
	struct in_addr none = { 0 };

	mnd_netcfg_route(m, none, 0);
}

/* Is the probe registering this attachment's physical address right now? */
static bool probe_running_direct(const struct mnd *m)
{
	const struct mnd_reg *p = m->probe;

	return p->fd >= 0 && !p->fa.s_addr && p->src.s_addr == m->attach.addr.s_addr;
}

/* Mode c: the probe's registration (from the physical care-of address, accepted with TNC)
 * becomes the one in force, and the data path follows it. */
static void enter_c(struct mnd *m, const struct mnd_vpn_view *v)
{
	bool tia_sent;

	route_into_tun(m);
	/* Leaving mode f on the same link (the agent went, or refused us): the physical
	 * address is registered directly again; the agent's binding serves meanwhile. */
	if (m->reg->fa.s_addr && !m->probe->bound && !probe_running_direct(m)) {
		LOG_INFO(&m->log, "registering %s directly again", m->attach.ifname);
		mnd_reg_probe(m, &m->attach);
	}
	if (!m->probe->bound || m->probe->fa.s_addr ||
	    m->probe->binding.coa.s_addr != m->attach.addr.s_addr)
		return;
	/* A registration of the TIA through the tunnel went out on this attachment (the
	 * gateway answered first, mode mc for a moment): the home agent may take it after
	 * the probe, so the physical address is registered once more (its Identification is
	 * newer, RFC 5944 5.7) to be the binding the home agent ends with. */
	tia_sent = v->tun_name[0] && !strcmp(m->reg->ifname, v->tun_name) && m->reg->sent &&
		   m->reg->located_at >= m->attach_at;
	mnd_reg_adopt_probe(m);
	mtu_for_mode(m, false, 0);
	mnd_dp_set_interface(m, m->attach.ifname);
	mnd_dp_moved(m);
	mnd_dp_binding_up(m, &m->reg->binding);
	/* Trusted: what the home agent sent to this address before its reply was read. */
	mnd_dp_hold_release(m, true);
	if (tia_sent) {
		LOG_INFO(&m->log, "registering %s once more: a registration through the tunnel "
			 "went out after the probe", m->attach.ifname);
		mnd_reg_refresh(m);
	}
}

/* Mode mc: the TIA as co-located care-of address, registered through the tunnel (RFC 5266
 * 3.4.2 step 4), unless that binding is still valid (3.4.1: an mc -> mc move needs only
 * MOBIKE). */
static void enter_mc(struct mnd *m, const struct mnd_vpn_view *v, bool register_tia,
		     bool verdict)
{
	struct mnd_location tia;

	route_into_tun(m);
	mtu_for_mode(m, true, v->tun_mtu);
	mnd_dp_set_interface(m, v->tun_name);
	/* Untrusted: nothing that came in the clear is delivered. (Before the verdict, below,
	 * it stays held: the probe may still win.) */
	if (verdict)
		mnd_dp_hold_release(m, false);
	if (!register_tia || mc_registering(m, v))
		return;
	memset(&tia, 0, sizeof(tia));
	tia.where = MND_AWAY;
	tia.addr = v->tia;
	tia.plen = 32;
	snprintf(tia.ifname, sizeof(tia.ifname), "%s", v->tun_name);
	LOG_INFO(&m->log, "registering the TIA as care-of address through the tunnel");
	mnd_dp_moved(m);
	mnd_reg_locate(m, &tia);
}

/* Mode f (RFC 5266 3.2, RFC 5944 3.6.1): on a trusted network where a foreign agent
 * advertises, the registration goes through the agent, with its care-of address. Until the
 * agent's reply arrives the direct registration that proved the network trusted carries
 * the traffic (enter_c): make before break. Registered through the agent, packets from the
 * home address go to it unencapsulated (it tunnels them, RFC 3024) and come from it on the
 * link. */
static void enter_f(struct mnd *m, const struct mnd_vpn_view *v,
		    const struct policy_agent *a, bool register_fa)
{
	if (!a)
		return;
	if (register_fa) {
		if (m->probe->bound && !m->probe->fa.s_addr)
			enter_c(m, v);
		if (m->probe->fa.s_addr != a->addr.s_addr || m->probe->fd < 0)
			mnd_reg_probe_fa(m, &m->attach, a);
		return;
	}
	if (m->route_gw.s_addr == a->addr.s_addr)
		return;
	mtu_for_mode(m, false, 0);
	mnd_dp_set_interface(m, m->attach.ifname);
	mnd_dp_moved(m);
	mnd_dp_binding_up(m, &m->reg->binding);
	mnd_netcfg_route(m, a->addr, m->attach.ifindex);
	mnd_dp_hold_release(m, true);
}

static void decide(struct mnd *m)
{
	struct mnd_vpn_view v;
	struct policy_verdict out;
	struct policy_trust_facts *f = &m->facts;
	const struct policy_agent *agent = current_agent(m);
	mm_time_ns now = now_ns();
	bool answered;

	mnd_vpn_view(m, &v);
	f->attached = m->attach.where != MND_DETACHED;
	/* Home counts only with the home agent's authenticated answer to the deregistration
	 * (policy/trust.h: at_home needs authenticated evidence). Until then: detecting. */
	f->at_home = m->attach.where == MND_HOME && m->home_confirmed;
	/* The gateway answered. The home agent gets probe-grace more to answer the probe (a
	 * gateway reachable from inside answers about as fast as the home agent: no mc for a
	 * moment, then c). With an mc binding still valid traffic flows through the tunnel
	 * meanwhile (the handover is over, below); only the verdict waits. */
	answered = v.up && v.answered;
	if (answered && !m->vpn_answered_at) {
		m->vpn_answered_at = now;
		/* The TIA's registration need not wait for the verdict (early_tia()). */
		mnd_timer_arm(m->early_timer, now + EARLY_TIA_DELAY);
	}
	f->vpn_up = answered && (f->probe_expired ||
				 now >= m->vpn_answered_at + MM_MSEC(m->cfg.probe_grace_ms));
	if (answered && !f->vpn_up)
		mnd_timer_arm(m->grace_timer, m->vpn_answered_at + MM_MSEC(m->cfg.probe_grace_ms));
	f->vpn_failed = v.failed;
	f->mc_binding = mc_registered(m, &v);
	/* RFC 5265 4.1 through the agent: authenticated, fresh, TNC, from this agent. */
	f->fa_offered = agent != NULL;
	f->fa_registered = agent && m->reg->bound && m->reg->binding.via_fa &&
			   m->reg->binding.tnc && m->reg->fa.s_addr == agent->addr.s_addr;
	policy_trust_decide(&m->cfg.trust, f, &out);
	/* The filter first: on before anything of an untrusted verdict is sent, off before
	 * what a trusted one sends (mode f registers from the home address, RFC 5944 3.6.1.1).
	 * On the home link the deregistration goes from the home address too, and the home
	 * verdict waits for its answer: the filter stays off there (the residual risk: a
	 * hostile network handing out the home address sees the home address's packets until
	 * the answer does not come). */
	filter_set(m, out.block_clear && m->attach.where != MND_HOME);

	switch (out.mode) {
	case POLICY_MODE_C:
		enter_c(m, &v);
		break;
	case POLICY_MODE_MC:
		enter_mc(m, &v, out.register_tia, true);
		break;
	case POLICY_MODE_F:
		enter_f(m, &v, agent, out.register_fa);
		break;
	case POLICY_MODE_HOME:
	case POLICY_MODE_OFFLINE:
	case POLICY_MODE_DETECTING:
	case POLICY_MODE_BLOCKED:
	case POLICY_MODE_COUNT:
		break;
	}
	if (!out.want_vpn && (out.mode == POLICY_MODE_C || out.mode == POLICY_MODE_F ||
			      out.mode == POLICY_MODE_HOME))
		mnd_vpn_set_wanted(m, false);
	if (out.mode == POLICY_MODE_MC && !f->mc_binding && m->reg->sent > 1 &&
	    mc_registering(m, &v)) {
		char why[sizeof(m->mode_reason)];

		/* Say why traffic does not flow yet: the home agent (down?) let a request time
		 * out (the engine sends the next one only then). */
		snprintf(why, sizeof(why), "%s; no reply to %u registration request%s through "
			 "the tunnel", out.reason, m->reg->sent, m->reg->sent == 1 ? "" : "s");
		set_mode(m, out.mode, out.trust, why);
	} else {
		set_mode(m, out.mode, out.trust, out.reason);
	}
	/* Traffic flows again: registered in c, home, or the tunnel moved with a valid mc
	 * binding (whatever the verdict says yet). */
	if (((out.mode == POLICY_MODE_C || out.mode == POLICY_MODE_F) && m->reg->bound) ||
	    out.mode == POLICY_MODE_HOME ||
	    (answered && mc_registered(m, &v) && out.mode != POLICY_MODE_C))
		handover_done(m);
	mnd_status_write(m);
}

/* Mobile IPv4 alone: the registration from the physical address decides the mode. */
static void decide_mip_only(struct mnd *m)
{
	switch (m->attach.where) {
	case MND_HOME:
		set_mode(m, POLICY_MODE_HOME, POLICY_TRUST_TRUSTED, "on the home link");
		handover_done(m);
		break;
	case MND_DETACHED:
		set_mode(m, POLICY_MODE_OFFLINE, POLICY_TRUST_UNKNOWN, "no usable interface");
		break;
	case MND_AWAY:
		if (m->reg->bound) {
			set_mode(m, POLICY_MODE_C, POLICY_TRUST_UNKNOWN,
				 "registered (Mobile IPv4 only: no [vpn], no race)");
			handover_done(m);
		} else {
			set_mode(m, POLICY_MODE_DETECTING, POLICY_TRUST_UNKNOWN,
				 "registering (Mobile IPv4 only)");
		}
		break;
	}
	mnd_status_write(m);
}

static void on_grace(void *user)
{
	decide(user);
}

/* The gateway answered on this attachment and the verdict waits for probe-grace: the TIA's
 * registration through the tunnel goes out now rather than after the grace (RFC 5266 3.4.2
 * step 4 needs only the tunnel), so that c -> mc costs the MOBIKE exchange and the
 * registration, not the grace as well. Nothing is decided here: the mode stays detecting,
 * and if the probe still wins, enter_c() registers the physical address once more (its
 * Identification is newer, so the home agent ends with it, RFC 5944 5.7). Sent a main-loop
 * turn after the answer (EARLY_TIA_DELAY): the gateway's return routability request
 * (RFC 4555 3.7) that came with its answer is answered first, so the gateway has moved the
 * Child SA before the home agent's reply reaches it. */
static void early_tia(void *user)
{
	struct mnd *m = user;
	struct mnd_vpn_view v;

	mnd_vpn_view(m, &v);
	if (m->attach.where != MND_AWAY || !v.up || !v.answered || m->facts.probe_trusted ||
	    m->mode == POLICY_MODE_C || mc_registered(m, &v) || mc_registering(m, &v))
		return;
	enter_mc(m, &v, true, false);
	decide(m);
}

static void on_probe_expired(void *user)
{
	struct mnd *m = user;

	if (m->attach.where != MND_AWAY || m->facts.probe_trusted)
		return;
	struct mnd_vpn_view v;

	LOG_INFO(&m->log, "probe: no reply from the home agent after %u request%s",
		 m->probe->sent, m->probe->sent == 1 ? "" : "s");
	m->facts.probe_expired = true;
	mnd_vpn_view(m, &v);
	if (v.up) {
		/* Untrusted with a tunnel (RFC 5265 3.3: the plaintext retransmissions stop).
		 * The home agent may have accepted a probe whose reply was lost: then it holds
		 * the physical address, so the TIA is registered once more to be the binding
		 * it ends with. */
		mnd_reg_probe(m, NULL);
		if (mc_registered(m, &v) || mc_registering(m, &v)) {
			LOG_INFO(&m->log, "registering the TIA once more: the home agent may have "
				 "taken an unanswered probe");
			mnd_reg_refresh(m);
		}
	}
	/* Without a tunnel the probe goes on (the engine's backoff, up to 32 s apart): blocked
	 * now, but a trusted network whose answers were lost is still found. */
	decide(m);
}

void mnd_mode_locate(struct mnd *m, const struct mnd_location *loc)
{
	bool was_away = m->attach.where == MND_AWAY;

	m->attach = *loc;
	m->attach_at = m->loc_changed_at ? m->loc_changed_at : now_ns();
	m->handover_pending = loc->where != MND_DETACHED;
	memset(&m->facts, 0, sizeof(m->facts));
	m->vpn_answered_at = 0;
	m->home_confirmed = false;
	mnd_timer_disarm(m->probe_timer);
	mnd_timer_disarm(m->grace_timer);
	mnd_timer_disarm(m->early_timer);
	m->fa_refused = false;
	route_into_tun(m);
	/* Held for the verdict on the attachment before: it has none now. */
	mnd_dp_hold_release(m, false);

	if (!vpn_configured(m)) {
		mnd_dp_set_interface(m, loc->where == MND_AWAY ? loc->ifname : "");
		if (loc->where == MND_AWAY)
			mnd_dp_moved(m);
		mnd_reg_locate(m, loc);
		decide_mip_only(m);
		return;
	}
	switch (loc->where) {
	case MND_HOME:
		mnd_reg_probe(m, NULL);
		filter_set(m, false);
		mtu_for_mode(m, false, 0);
		mnd_dp_set_interface(m, "");
		mnd_reg_locate(m, loc);
		break;
	case MND_DETACHED:
		mnd_reg_probe(m, NULL);
		/* In mc the TIA's binding lives on: the tunnel waits (MOBIKE defers) and the
		 * data path carries on when an address comes back. A physical CoA is gone. */
		if (!m->reg->bound || strcmp(m->reg->ifname, m->cfg.vpn.tunnel_device) != 0) {
			mnd_dp_set_interface(m, "");
			mnd_reg_locate(m, loc);
		}
		break;
	case MND_AWAY:
		/* Filter first: nothing of the home address or for the intranet leaves in the
		 * clear before the verdict (fail closed, RFC 5266 3.4). */
		if (m->cfg.trust.fail_closed)
			filter_set(m, true);
		/* A physical care-of address of the old attachment is dead: send nothing to it. */
		if (was_away && strcmp(m->reg->ifname, m->cfg.vpn.tunnel_device) != 0)
			mnd_dp_set_interface(m, "");
		/* RFC 5266 3.4.1 1a/1b, 3.4.2 1/2: both at the same time. */
		mnd_reg_probe(m, loc);
		mnd_timer_arm(m->probe_timer,
			      now_ns() + MM_MSEC(policy_probe_expiry_ms(&m->cfg.trust)));
		break;
	}
	mnd_vpn_attach_changed(m);
	decide(m);
}

/* The registration through the foreign agent was accepted (mode f). */
static void fa_answered(struct mnd *m, const struct mn_binding *b)
{
	const struct policy_agent *agent = current_agent(m);
	char a[ADDR4_STRLEN];

	if (!agent || agent->addr.s_addr != b->fa.s_addr) {
		LOG_INFO(&m->log, "reply through the foreign agent %s, no longer ours: ignored",
			 addr4_str(b->fa, a));
		mnd_reg_probe(m, NULL);
		return;
	}
	if (!b->tnc) {
		/* RFC 5265 4.1: no proof of a trusted network; the home agent holds the agent's
		 * care-of address now, so the registration in force is made again. */
		LOG_WARNING(&m->log, "accepted reply through the foreign agent %s without the "
			    "Trusted Networks Configured extension: not using the agent",
			    addr4_str(b->fa, a));
		m->fa_refused = true;
		mnd_reg_probe(m, NULL);
		if (m->reg->bound)
			mnd_reg_refresh(m);
		decide(m);
		return;
	}
	LOG_INFO(&m->log, "registered through the foreign agent %s after %u request%s",
		 addr4_str(b->fa, a), m->probe->sent, m->probe->sent == 1 ? "" : "s");
	mnd_timer_disarm(m->probe_timer);
	mnd_reg_adopt_probe(m);
	decide(m);
}

void mnd_mode_agent_event(struct mnd *m, const char *ifname, enum agent_event ev,
			  const struct policy_agent *a)
{
	char s[ADDR4_STRLEN];

	LOG_INFO(&m->log, "foreign agent on %s: %s %s (sequence %u)", ifname,
		 agent_event_name(ev), addr4_str(a->addr, s), a->seq);
	if (!vpn_configured(m) || !m->reg || m->attach.where != MND_AWAY ||
	    strcmp(ifname, m->attach.ifname) != 0)
		return;
	switch (ev) {
	case AGENT_EV_REBOOTED:
		/* RFC 5944 2.4.4: it lost our registration. */
		if (m->reg->fa.s_addr == a->addr.s_addr) {
			LOG_NOTICE(&m->log, "foreign agent %s rebooted: registering again", s);
			mnd_reg_fa_rebooted(m);
		}
		break;
	case AGENT_EV_LOST:
		/* Its link-layer delivery is gone with it: nothing more to it. */
		if (m->route_gw.s_addr == a->addr.s_addr)
			route_into_tun(m);
		break;
	case AGENT_EV_NEW:
	case AGENT_EV_SAME:
	case AGENT_EV_NONE:
	case AGENT_EV_COUNT:
		break;
	}
	decide(m);
}

void mnd_mode_probe_answered(struct mnd *m, const struct mn_binding *b)
{
	char a[ADDR4_STRLEN];

	if (!vpn_configured(m))
		return;
	if (b->via_fa) {
		fa_answered(m, b);
		return;
	}
	if (m->attach.where != MND_AWAY || b->coa.s_addr != m->attach.addr.s_addr) {
		LOG_INFO(&m->log, "probe: reply for %s, no longer our address: ignored",
			 addr4_str(b->coa, a));
		mnd_reg_probe(m, NULL);
		return;
	}
	if (!b->tnc) {
		/* RFC 5265 4.1: without the Trusted Networks Configured extension the reply is
		 * no proof of a trusted network. The home agent has taken the physical address
		 * as care-of address all the same: a registration in force elsewhere (the TIA)
		 * must be made again. */
		LOG_WARNING(&m->log, "probe: accepted reply without the Trusted Networks "
			    "Configured extension: not a trusted network (RFC 5265 4.1)");
		m->facts.probe_expired = true;
		mnd_timer_disarm(m->probe_timer);
		mnd_reg_probe(m, NULL);
		if (m->reg->bound)
			mnd_reg_refresh(m);
		decide(m);
		return;
	}
	LOG_INFO(&m->log, "probe: authenticated reply with TNC from the home agent after "
		 "%u request%s", m->probe->sent, m->probe->sent == 1 ? "" : "s");
	m->facts.probe_trusted = true;
	mnd_timer_disarm(m->probe_timer);
	decide(m);
}

void mnd_mode_reg_changed(struct mnd *m)
{
	if (vpn_configured(m))
		decide(m);
	else
		decide_mip_only(m);
}

void mnd_mode_vpn_changed(struct mnd *m)
{
	if (vpn_configured(m) && m->reg)
		decide(m);
}

void mnd_mode_redetect(struct mnd *m)
{
	struct mnd_location loc = m->attach;

	LOG_NOTICE(&m->log, "detection restarted on request");
	mnd_mode_locate(m, &loc);
}

/* No filter in this configuration (fail-closed = no, or no VPN): a table that an mnd which
 * did not exit cleanly (SIGKILL, a crash) left in place would go on dropping what it
 * filtered, and nothing else removes it. */
static void stale_filter_remove(struct mnd *m)
{
	uint64_t dropped = 0;
	char err[256];

	if (mnd_fc_dropped(NULL, MND_FC_TABLE_DEFAULT, &dropped) == -ENOENT)
		return;
	if (mnd_fc_remove(NULL, MND_FC_TABLE_DEFAULT, err, sizeof(err)) < 0) {
		LOG_ERROR(&m->log, "a fail-closed filter left by an earlier mnd (table inet %s) is "
			  "in place and cannot be removed: %s", MND_FC_TABLE_DEFAULT, err);
		return;
	}
	LOG_WARNING(&m->log, "removed the fail-closed filter an earlier mnd left in place (table "
		    "inet %s, %llu packets dropped by it); fail-closed is off here",
		    MND_FC_TABLE_DEFAULT, (unsigned long long)dropped);
}

int mnd_mode_init(struct mnd *m)
{
	m->mode = POLICY_MODE_OFFLINE;
	m->trust = POLICY_TRUST_UNKNOWN;
	snprintf(m->mode_reason, sizeof(m->mode_reason), "starting");
	m->mode_since = now_ns();
	m->attach.where = MND_DETACHED;
	m->probe_timer = mnd_timer_new(on_probe_expired, m);
	m->grace_timer = mnd_timer_new(on_grace, m);
	m->early_timer = mnd_timer_new(early_tia, m);
	/* Fail closed from the start: no verdict yet. */
	if (vpn_configured(m) && m->cfg.trust.fail_closed) {
		if (mnd_fc_new(&m->fc) < 0)
			LOG_WARNING(&m->log, "no libnftables context to keep: one per filter change");
		filter_set(m, true);
	} else {
		stale_filter_remove(m);
	}
	return 0;
}

void mnd_mode_close(struct mnd *m)
{
	if (m->probe_timer) {
		mnd_timer_free(m->probe_timer);
		m->probe_timer = NULL;
	}
	if (m->grace_timer) {
		mnd_timer_free(m->grace_timer);
		m->grace_timer = NULL;
	}
	if (m->early_timer) {
		mnd_timer_free(m->early_timer);
		m->early_timer = NULL;
	}
	/* The table goes with its rules in one transaction (filter_set() would only empty the
	 * chain first). */
	if (vpn_configured(m) && m->cfg.trust.fail_closed) {
		char err[256];

		if (mnd_fc_remove(m->fc, MND_FC_TABLE_DEFAULT, err, sizeof(err)) < 0)
			LOG_ERROR(&m->log, "cannot remove the fail-closed filter's table: %s", err);
		else
			m->filter_on = false;
	}
	mnd_fc_free(m->fc);
	m->fc = NULL;
}
