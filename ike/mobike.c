/* MOBIKE, both roles (RFC 4555; design RFC 4621):
 *
 *	address update   HDR, SK {N(UPDATE_SA_ADDRESSES), N(NAT_DETECTION_SOURCE_IP),
 *	                          N(NAT_DETECTION_DESTINATION_IP), N(COOKIE2),
 *	                          [N(NO_NATS_ALLOWED)], [N(ADDITIONAL_IP4_ADDRESS)+ |
 *	                          N(NO_ADDITIONAL_ADDRESSES)]}                          (3.5)
 *	                 <--  HDR, SK {N(NAT_DETECTION_*), N(COOKIE2)}
 *	                 <--  HDR, SK {N(UNACCEPTABLE_ADDRESSES) | N(UNEXPECTED_NAT_DETECTED),
 *	                               [N(NAT_DETECTION_*)], N(COOKIE2)}             (3.5, 3.9)
 *	return routab.   HDR, SK {N(COOKIE2)}  <-->  HDR, SK {N(COOKIE2)}             (3.7)
 *	address set      HDR, SK {N(ADDITIONAL_IP4_ADDRESS)+ | N(NO_ADDITIONAL_ADDRESSES),
 *	                          [N(NO_NATS_ALLOWED)]}  <-->  HDR, SK {}            (3.6)
 *	liveness (NAT)   HDR, SK {N(NAT_DETECTION_*)}  <-->  HDR, SK {N(NAT_DETECTION_*)} (3.8)
 *
 * The initiator (of the first IKE SA, whatever rekeys did to the I flag) decides the
 * addresses (3.5). Its IKE SA has a committed pair (sa->local, sa->remote: what the Child
 * SAs use and the responder is known to use) and, while a move is under way, a newest pair
 * (mob.to_*) that every request goes to, retransmissions of the request in flight
 * included (3.5). An UPDATE_SA_ADDRESSES answer moves the committed pair only if it answers
 * the newest order and came back on the very pair the request described; otherwise it says
 * nothing about the new path (3.5: "ignores responses to this UPDATE_SA_ADDRESSES"; 3.6,
 * 3.7: a request sent on several paths proves none) and a fresh request follows. Path
 * testing (3.10) sends the retransmissions of the request in flight on every pair at once,
 * in the order of policy_mobike_pairs(); the pair of the first answer becomes the newest.
 *
 * The responder never moves on its own (3.5; RFC 4621 5.2.6: no implicit updates, engine.c
 * update_path). It moves at an UPDATE_SA_ADDRESSES that passes NO_NATS_ALLOWED (3.9) and
 * policy_mobike_accept(): at once, or after a COOKIE2 exchange with the new address when
 * the policy asks for return routability (3.7); its own requests go to the new address
 * from the start (3.5: the IKE SA is updated first, the IPsec SAs after the check). Either
 * way the IKE SA and every Child SA move together (IKE_ACT_SA_MOVED, 3.5).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/names.h"
#include "ike/engine_priv.h"
#include "ike/natd.h"

_Static_assert(IKE_MOBIKE_COOKIE2_LEN <= IKE_COOKIE2_MAX, "our COOKIE2 fits a request");
_Static_assert(IKE_MOVE_MAX_CHILDREN >= IKE_SA_MAX_CHILDREN,
	       "IKE_ACT_SA_MOVED must list every Child SA of an IKE SA");

/* --- small helpers -------------------------------------------------------------------------- */

static bool ep_eq(const struct ike_endpoint *a, const struct ike_endpoint *b)
{
	return a->addr.s_addr == b->addr.s_addr && a->port == b->port;
}

static const char *nat_str(bool local, bool remote)
{
	if (local && remote)
		return "NAT on both sides";
	if (local)
		return "NAT in front of us";
	if (remote)
		return "NAT in front of the peer";
	return "no NAT";
}

static bool mobike_initiator(const struct ike_sa *sa)
{
	return sa->mobike && sa->mob.initiator;
}

bool ike_mobike_has_update(const struct ike_chain *c)
{
	for (size_t i = 0; c && i < c->count; i++) {
		struct ike_notify n;

		if (c->p[i].type == IKE_PT_NOTIFY && ike_notify_decode(&c->p[i], &n) == 0 &&
		    n.type == IKE_N_UPDATE_SA_ADDRESSES)
			return true;
	}
	return false;
}

static bool addr_in(const struct in_addr *l, size_t n, struct in_addr a)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].s_addr == a.s_addr)
			return true;
	return false;
}

static void fill_children(const struct ike_sa *sa, struct ike_move_info *m)
{
	m->nchildren = 0;
	for (size_t i = 0; i < IKE_SA_MAX_CHILDREN && m->nchildren < IKE_MOVE_MAX_CHILDREN; i++) {
		const struct ike_child *c = &sa->child[i];

		if (c->state == IKE_CHILD_FREE)
			continue;
		m->child_spi_in[m->nchildren] = c->spi_in;
		m->child_spi_out[m->nchildren++] = c->spi_out;
	}
}

/* The responder's marks from the UPDATE_SA_ADDRESSES that moved the SA (MM_ESP_RECEIVED),
 * for the Child SAs that move with it. */
static void fill_received(const struct ike_sa *sa, struct ike_move_info *m)
{
	m->nreceived = 0;
	for (size_t i = 0; i < sa->mob.nreceived; i++)
		for (size_t k = 0; k < m->nchildren; k++)
			if (m->child_spi_out[k] == sa->mob.received[i].spi) {
				m->received[m->nreceived++] = sa->mob.received[i];
				break;
			}
}

static struct ike_action *act_move(struct ike_actions *out, int kind)
{
	struct ike_action *a;

	if (out->n >= IKE_ACTIONS_MAX) {
		static const struct logger lg = { "ike" };

		LOG_ERROR(&lg, "action list full: a MOBIKE action was lost (kind %d)", kind);
		return NULL;
	}
	a = &out->a[out->n++];
	memset(a, 0, sizeof(*a));
	a->kind = (enum ike_action_kind)kind;
	return a;
}

/* The SA's pair changes: IKE SA and every Child SA together (RFC 4555 3.5), told to the
 * daemon by IKE_ACT_SA_MOVED (after SA_UP, sa->local / sa->remote change only here: what
 * ike_engine_next_sa() shows is what the daemon was told). mobike: by UPDATE_SA_ADDRESSES;
 * otherwise the RFC 7296 2.23 update of a SA without MOBIKE. */
static void move_sa(struct ike_sa *sa, const struct ike_endpoint *l, const struct ike_endpoint *r,
		    bool nat_l, bool nat_r, mm_time_ns since, mm_time_ns now, bool mobike,
		    struct ike_actions *out)
{
	struct ike_action *a;
	struct ike_move_info *m;
	char ol[32], orr[32], nl[32], nr[32], took[32];
	struct ike_endpoint old_l = sa->local, old_r = sa->remote;
	bool old_nl = sa->nat_local, old_nr = sa->nat_remote;
	mm_time_ns dt = now >= since ? now - since : 0;

	if (ep_eq(l, &sa->local) && ep_eq(r, &sa->remote) && nat_l == sa->nat_local &&
	    nat_r == sa->nat_remote)
		return;
	sa->local = *l;
	sa->remote = *r;
	sa->nat_local = nat_l;
	sa->nat_remote = nat_r;
	/* 3.3: with MOBIKE both sides stay on 4500, NAT or not. */
	if (l->port == IKE_NATT_PORT)
		sa->natt = true;
	sa->mob.moves++;
	sa->mob.last_move = now;
	if (mobike)
		sa->e->st.mobike_moves++;
	ike_sa_update_logger(sa);
	snprintf(took, sizeof(took), "%llu.%03llu ms", (unsigned long long)(dt / 1000000),
		 (unsigned long long)(dt / 1000 % 1000));
	a = act_move(out, IKE_ACT_SA_MOVED);
	/* One line per move: old pair -> new pair, NAT state, time (issue "MOBIKE" 4). */
	LOG_NOTICE(&sa->log, "%s %s <-> %s => %s <-> %s, %s => %s, in %s",
		   mobike ? "MOBIKE: moved" :
		   "the peer's NAT mapping changed (RFC 7296 2.23): moved",
		   ike_ep_str(&old_l, ol, sizeof(ol)), ike_ep_str(&old_r, orr, sizeof(orr)),
		   ike_ep_str(l, nl, sizeof(nl)), ike_ep_str(r, nr, sizeof(nr)),
		   nat_str(old_nl, old_nr), nat_str(nat_l, nat_r), took);
	if (!a)
		return;
	m = &a->u.move;
	ike_sa_info_fill(sa, &m->sa);
	m->old_local = old_l;
	m->old_remote = old_r;
	m->old_nat_local = old_nl;
	m->old_nat_remote = old_nr;
	m->took = dt;
	m->udp_encap = sa->natt;
	fill_children(sa, m);
	fill_received(sa, m);
	snprintf(a->text, sizeof(a->text), "%s <-> %s => %s <-> %s, %s => %s, in %s", ol, orr, nl,
		 nr, nat_str(old_nl, old_nr), nat_str(nat_l, nat_r), took);
}

/* The committed pair changes by MOBIKE (both roles). */
static void commit_move(struct ike_sa *sa, const struct ike_endpoint *l,
			const struct ike_endpoint *r, bool nat_l, bool nat_r, mm_time_ns since,
			mm_time_ns now, struct ike_actions *out)
{
	move_sa(sa, l, r, nat_l, nat_r, since, now, true, out);
	sa->mob.nreceived = 0;         /* they described this move only */
}

void ike_sa_follow_peer(struct ike_sa *sa, const struct ike_endpoint *from, mm_time_ns now,
			struct ike_actions *out)
{
	char a[32], b[32];

	if (sa->mobike)
		return;         /* RFC 4621 5.2.6, RFC 4555 3.8: never implicitly */
	if (!sa->established) {
		/* Before SA_UP: the SA_UP action carries the address. */
		LOG_NOTICE(&sa->log, "peer moved from %s to %s (NAT mapping changed)",
			   ike_ep_str(&sa->remote, a, sizeof(a)), ike_ep_str(from, b, sizeof(b)));
		sa->remote = *from;
		ike_sa_update_logger(sa);
		return;
	}
	move_sa(sa, &sa->local, from, sa->nat_local, sa->nat_remote, now, now, false, out);
}

static void verified_add(struct ike_sa *sa, struct in_addr a)
{
	struct ike_mobike *m = &sa->mob;

	if (addr_in(m->verified, m->nverified, a))
		return;
	if (m->nverified == IKE_MOBIKE_VERIFIED) {
		/* Forget the oldest. */
		memmove(&m->verified[0], &m->verified[1],
			(IKE_MOBIKE_VERIFIED - 1) * sizeof(m->verified[0]));
		m->nverified--;
	}
	m->verified[m->nverified++] = a;
}

/* --- address sets (3.4, 3.6) ---------------------------------------------------------------- */

int ike_mobike_add_addresses(struct ike_sa *sa, struct ike_builder *b, struct in_addr in_header,
			     bool none_note)
{
	const struct ike_engine_cfg *c = &sa->e->cfg;
	size_t n = 0;
	int err = 0;

	/* 3.6: "one of them is placed in the IP header, and the rest in ADDITIONAL_*". */
	for (size_t i = 0; i < c->nlocal_addrs && i < IKE_MOBIKE_MAX_ADDRS && err == 0; i++) {
		if (c->local_addrs[i].s_addr == in_header.s_addr ||
		    !policy_addr_usable(c->local_addrs[i]) ||
		    addr_in(c->local_addrs, i, c->local_addrs[i]))
			continue;
		err = ike_notify_add_ip4(b, IKE_N_ADDITIONAL_IP4_ADDRESS, c->local_addrs[i]);
		n++;
	}
	/* 3.6, 4.2.3: "If the exchange initiator has only a single IP address, it is placed in
	 * the IP header, and the message contains the NO_ADDITIONAL_ADDRESSES notification." */
	if (err == 0 && n == 0 && none_note)
		err = ike_notify_add(b, IKE_N_NO_ADDITIONAL_ADDRESSES, NULL, 0);
	return err;
}

/* The peer's address set from a message: the address in its IP header first, then its
 * ADDITIONAL_IP4_ADDRESSes in order (3.4, 3.6: the new list replaces the old one). Returns
 * whether the message had any address set notify. */
static bool read_peer_set(struct ike_sa *sa, const struct ike_rx *rx, bool always)
{
	struct ike_mobike *m = &sa->mob;
	struct in_addr set[IKE_MOBIKE_MAX_ADDRS];
	size_t n = 0;
	bool any = false;

	set[n++] = rx->from.addr;
	for (size_t i = 0; i < rx->pl->count; i++) {
		struct ike_notify no;
		struct in_addr a;

		if (rx->pl->p[i].type != IKE_PT_NOTIFY || ike_notify_decode(&rx->pl->p[i], &no) < 0)
			continue;
		if (no.type == IKE_N_NO_ADDITIONAL_ADDRESSES || no.type == IKE_N_ADDITIONAL_IP6_ADDRESS)
			any = true;    /* IPv6 addresses: not used here (IPv4 only) */
		if (no.type != IKE_N_ADDITIONAL_IP4_ADDRESS || ike_notify_additional_ip4(&no, &a) < 0)
			continue;
		any = true;
		if (n < IKE_MOBIKE_MAX_ADDRS && policy_addr_usable(a) && !addr_in(set, n, a))
			set[n++] = a;
	}
	if (!any && !always)
		return false;
	memcpy(m->peer_addrs, set, n * sizeof(set[0]));
	m->npeer_addrs = n;
	return any;
}

void ike_mobike_auth_done(struct ike_sa *sa, const struct ike_rx *rx)
{
	char a[INET_ADDRSTRLEN];

	if (!sa->mobike)
		return;
	/* 3.5: "the initiator decides"; the role stays with the SA's first initiator. */
	sa->mob.initiator = sa->initiator;
	(void)read_peer_set(sa, rx, true);
	/* The address IKE_SA_INIT and IKE_AUTH came from was answered: proven reachable. */
	if (!sa->initiator)
		verified_add(sa, sa->remote.addr);
	if (sa->mob.npeer_addrs > 1)
		LOG_INFO(&sa->log, "MOBIKE: the peer has %zu addresses (first additional one %s)",
			 sa->mob.npeer_addrs, inet_ntop(AF_INET, &sa->mob.peer_addrs[1], a,
							sizeof(a)));
}

/* --- sending: the path of a request, path testing (3.5, 3.10) --------------------------------- */

/* The single path the request in flight goes on now. */
static void req_path(const struct ike_sa *sa, const struct ike_request *r,
		     struct ike_endpoint *l, struct ike_endpoint *rm)
{
	const struct ike_engine_cfg *c = &sa->e->cfg;

	*l = sa->local;
	*rm = sa->remote;
	if (!sa->mobike)
		return;
	if (r->task == IKE_TASK_MOBIKE_RR) {
		/* 3.7: the check is about that one address; never redirected. */
		*l = r->built_local;
		*rm = r->built_remote;
		return;
	}
	if (sa->mob.initiator && sa->mob.moving) {
		/* 3.5: "continues retransmitting them using the addresses in the IKE_SA (the new
		 * addresses)". */
		*l = sa->mob.to_local;
		*rm = sa->mob.to_remote;
		return;
	}
	if (!sa->mob.initiator && sa->mob.rr_wanted) {
		/* 3.5: the responder "updates the IP addresses in the IKE_SA" at once; only the
		 * IPsec SAs wait for the return routability check. */
		*l = sa->mob.rr_local;
		*rm = sa->mob.rr_remote;
		return;
	}
	/* Our own address went away (3.5, last paragraph): send from one that is still ours. */
	if (c->announce_addresses && c->nlocal_addrs &&
	    !addr_in(c->local_addrs, c->nlocal_addrs, sa->local.addr))
		l->addr = c->local_addrs[0];
}

static bool pair_is(const struct policy_addr_pair *p, const struct ike_endpoint *l,
		    const struct ike_endpoint *r)
{
	return p->local.s_addr == l->addr.s_addr && p->remote.s_addr == r->addr.s_addr;
}

static size_t test_pairs(const struct ike_sa *sa, const struct ike_endpoint *l,
			 const struct ike_endpoint *rm, struct policy_addr_pair *out, size_t max)
{
	const struct ike_engine_cfg *c = &sa->e->cfg;
	struct in_addr peer[IKE_MOBIKE_MAX_ADDRS + 2];
	size_t np = 0;
	struct policy_addr_pair failing = { l->addr, rm->addr };

	peer[np++] = rm->addr;
	if (!addr_in(peer, np, sa->remote.addr))
		peer[np++] = sa->remote.addr;
	for (size_t i = 0; i < sa->mob.npeer_addrs && np < IKE_MOBIKE_MAX_ADDRS; i++)
		if (!addr_in(peer, np, sa->mob.peer_addrs[i]))
			peer[np++] = sa->mob.peer_addrs[i];
	if (c->nlocal_addrs)
		return policy_mobike_pairs(c->local_addrs, c->nlocal_addrs, peer, np, &failing,
					   out, max);
	return policy_mobike_pairs(&l->addr, 1, peer, np, &failing, out, max);
}

int ike_mobike_transmit(struct ike_sa *sa, bool retransmission, mm_time_ns now,
			struct ike_actions *out)
{
	struct ike_engine *e = sa->e;
	struct ike_request *r = &sa->req;
	struct ike_endpoint l, rm;
	struct policy_addr_pair pairs[IKE_MOBIKE_MAX_PROBES];
	size_t np = 0, sent = 0;
	int err = 0;

	(void)now;
	if (sa->mob.deferred)
		return 0;          /* no address works: nothing leaves (the daemon said so) */
	req_path(sa, r, &l, &rm);
	if (retransmission && (!ep_eq(&l, &r->local) || !ep_eq(&rm, &r->remote)))
		r->path_changed = true;
	r->local = l;
	r->remote = rm;
	if (mobike_initiator(sa) && r->task != IKE_TASK_MOBIKE_RR) {
		if (retransmission && !sa->mob.probing && r->sends > IKE_MOBIKE_PROBE_AFTER) {
			np = test_pairs(sa, &l, &rm, pairs, IKE_MOBIKE_MAX_PROBES);
			/* Something to test besides the path that does not answer: several pairs,
			 * or a single one that is not it (our address there went away). */
			if (np > 1 || (np == 1 && !pair_is(&pairs[0], &l, &rm))) {
				/* 3.5: several retransmissions without an answer suggest the
				 * path is gone; 3.10: test the others. */
				sa->mob.probing = true;
				LOG_NOTICE(&sa->log, "MOBIKE: no answer after %u sends: testing %zu "
					   "path%s", r->sends - 1, np, np == 1 ? "" : "s");
			}
		}
		if (sa->mob.probing && np == 0)
			np = test_pairs(sa, &l, &rm, pairs, IKE_MOBIKE_MAX_PROBES);
	}
	if (!sa->mob.probing || np == 0) {
		e->st.tx++;
		return ike_act_send(out, &l, &rm, r->msg, r->len);
	}
	/* 3.10: the same request on every pair to test (a single one too: it is the only
	 * candidate, the current pair only when nothing else is left); the first answer
	 * tells which one works. */
	for (size_t i = 0; i < np; i++) {
		struct ike_endpoint pl = { pairs[i].local, l.port };
		struct ike_endpoint pr = { pairs[i].remote, pairs[i].remote.s_addr == rm.addr.s_addr ?
					   rm.port : (uint16_t)IKE_NATT_PORT };

		if (!ike_actions_room(out, 3, r->len))
			break;
		err = ike_act_send(out, &pl, &pr, r->msg, r->len);
		if (err < 0)
			break;
		e->st.tx++;
		e->st.mobike_probes++;
		sent++;
	}
	if (sent > 1)
		r->multi_path = true;
	return err;
}

/* The path of the request in flight changed: send it there now, with a full set of
 * retransmissions for the new path (3.5). */
static void redirect_in_flight(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	struct ike_request *r = &sa->req;

	if (!r->active || r->task == IKE_TASK_MOBIKE_RR || sa->mob.deferred)
		return;
	r->sends = 1;
	r->retransmit_at = now + sa->e->cfg.retransmit_base;
	sa->e->st.retransmits++;
	ike_mobike_transmit(sa, true, now, out);
}

bool ike_mobike_keep_trying(const struct ike_sa *sa, const struct ike_request *r,
			    mm_time_ns now)
{
	/* 3.11: "responders continue retransmitting IKEv2 requests for at least five minutes",
	 * so that the initiator has time to find a new path and tell us. */
	return sa->mobike && !sa->mob.initiator && r->task != IKE_TASK_MOBIKE_RR &&
	       now < r->first_sent + IKE_MOBIKE_PATIENCE;
}

unsigned ike_mobike_tries(const struct ike_sa *sa, const struct ike_request *r)
{
	unsigned tries = sa->e->cfg.retransmit_tries;

	if (r->task == IKE_TASK_MOBIKE_RR && tries > IKE_MOBIKE_RR_TRIES)
		tries = IKE_MOBIKE_RR_TRIES;
	return tries;
}

bool ike_mobike_request_expired(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	struct ike_request *r = &sa->req;
	char a[32];

	(void)now;
	(void)out;
	if (r->task != IKE_TASK_MOBIKE_RR)
		return false;
	/* 3.7: the new address did not answer: the SAs stay where they are. */
	sa->e->st.mobike_rr_failed++;
	LOG_WARNING(&sa->log, "MOBIKE: return routability check of %s failed (no answer after "
		    "%u sends): no address change", ike_ep_str(&r->built_remote, a, sizeof(a)),
		    r->sends);
	if (ep_eq(&r->built_remote, &sa->mob.rr_remote))
		sa->mob.rr_wanted = false;
	ike_request_clear(r);
	return true;
}

/* --- the tasks -------------------------------------------------------------------------------- */

static int add_no_nats(struct ike_builder *b, const struct ike_endpoint *l,
		       const struct ike_endpoint *r)
{
	uint8_t d[12];
	struct writer w;

	/* 4.2.6: source address | destination address | source port | destination port. */
	writer_init(&w, d, sizeof(d));
	writer_bytes(&w, &l->addr.s_addr, 4);
	writer_bytes(&w, &r->addr.s_addr, 4);
	writer_be16(&w, l->port);
	writer_be16(&w, r->port);
	if (!writer_ok(&w))
		return -ENOSPC;
	return ike_notify_add(b, IKE_N_NO_NATS_ALLOWED, d, sizeof(d));
}

/* The tail of both requests that carry our COOKIE2 (UPDATE_SA_ADDRESSES, 3.5, and the return
 * routability check, 3.7), once the message in e->om is built (err == 0): the request keeps
 * the cookie, which its answer must echo (3.7), and the pair it was built for (3.5: an
 * answer counts only from there), and goes out. A failed build (err < 0) wipes the cookie
 * and sends nothing. */
static int send_cookie2_request(struct ike_sa *sa, int err, uint8_t *cookie,
				enum ike_task task, const struct ike_endpoint *l,
				const struct ike_endpoint *r, mm_time_ns now,
				struct ike_actions *out)
{
	struct ike_request *req = &sa->req;

	if (err < 0) {
		OPENSSL_cleanse(cookie, IKE_MOBIKE_COOKIE2_LEN);
		return err;
	}
	ike_request_clear(req);
	memcpy(req->cookie2, cookie, IKE_MOBIKE_COOKIE2_LEN);
	req->cookie2_len = IKE_MOBIKE_COOKIE2_LEN;
	OPENSSL_cleanse(cookie, IKE_MOBIKE_COOKIE2_LEN);
	/* UPDATE_SA_ADDRESSES carries NAT_DETECTION_*: its answer's are read (3.5, 3.8). */
	req->natd = task == IKE_TASK_MOBIKE_UPDATE;
	req->built_local = *l;
	req->built_remote = *r;
	return ike_sa_send_request(sa, &sa->e->om, task, now, out);
}

/* MM_ESP_RECEIVED (private; ike/payload.h) for each Child SA the daemon names: how far we
 * received, so that the peer's handover replay skips what arrived (daemon/replay.h). Only
 * to a peer that showed our Vendor ID: another implementation may use the number for
 * something else. */
static int add_esp_received(struct ike_sa *sa, struct ike_builder *b)
{
	struct ike_engine *e = sa->e;
	struct ike_esp_received r[IKE_MOVE_MAX_CHILDREN];
	size_t n;
	int err = 0;

	if (!sa->peer_mm || !e->cfg.ops.esp_received)
		return 0;
	n = e->cfg.ops.esp_received(e->cfg.ops.user, sa->spi_i, r, IKE_MOVE_MAX_CHILDREN);
	for (size_t i = 0; i < n && i < IKE_MOVE_MAX_CHILDREN && err == 0; i++)
		if (r[i].seq)
			err = ike_notify_add_esp_received(b, r[i].spi, r[i].seq);
	return err;
}

static int start_update(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	struct ike_engine *e = sa->e;
	struct ike_out_msg *o = &e->om;
	struct ike_mobike *m = &sa->mob;
	uint8_t cookie[IKE_MOBIKE_COOKIE2_LEN];
	char l[32], rm[32];
	int err;

	if (!m->moving)
		return -EALREADY;
	err = ike_engine_random(e, cookie, sizeof(cookie));
	if (err == 0)
		err = ike_msg_begin(sa, o, IKE_EXCH_INFORMATIONAL, false, sa->next_req_id);
	if (err == 0)
		err = ike_notify_add(&o->b, IKE_N_UPDATE_SA_ADDRESSES, NULL, 0);
	/* 3.5: fresh NAT detection for the new pair; 3.7: COOKIE2, checked in the answer. */
	if (err == 0)
		err = ike_natd_add(&o->b, sa->spi_i, sa->spi_r, &m->to_local, &m->to_remote);
	if (err == 0)
		err = ike_notify_add(&o->b, IKE_N_COOKIE2, cookie, sizeof(cookie));
	if (err == 0 && sa->peer && sa->peer->mobike_no_nats)
		err = add_no_nats(&o->b, &m->to_local, &m->to_remote);
	/* 3.6: "The initiator MAY include these notifications in the same request". */
	if (err == 0 && e->cfg.announce_addresses)
		err = ike_mobike_add_addresses(sa, &o->b, m->to_local.addr, true);
	if (err == 0)
		err = add_esp_received(sa, &o->b);
	if (err == 0)
		err = ike_msg_end(sa, o);
	if (err == 0) {
		m->move_wanted = false;
		m->unsure = true;
		e->st.mobike_updates_sent++;
		LOG_INFO(&sa->log, "MOBIKE: UPDATE_SA_ADDRESSES from %s to %s",
			 ike_ep_str(&m->to_local, l, sizeof(l)),
			 ike_ep_str(&m->to_remote, rm, sizeof(rm)));
	}
	return send_cookie2_request(sa, err, cookie, IKE_TASK_MOBIKE_UPDATE, &m->to_local,
				    &m->to_remote, now, out);
}

static int start_rr(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	struct ike_engine *e = sa->e;
	struct ike_out_msg *o = &e->om;
	struct ike_mobike *m = &sa->mob;
	uint8_t cookie[IKE_MOBIKE_COOKIE2_LEN];
	char a[32];
	int err;

	if (!m->rr_wanted)
		return -EALREADY;
	err = ike_engine_random(e, cookie, sizeof(cookie));
	if (err == 0)
		err = ike_msg_begin(sa, o, IKE_EXCH_INFORMATIONAL, false, sa->next_req_id);
	if (err == 0)
		err = ike_notify_add(&o->b, IKE_N_COOKIE2, cookie, sizeof(cookie));
	if (err == 0)
		err = ike_msg_end(sa, o);
	if (err == 0) {
		e->st.mobike_rr_sent++;
		LOG_INFO(&sa->log, "MOBIKE: return routability check of %s (COOKIE2)",
			 ike_ep_str(&m->rr_remote, a, sizeof(a)));
	}
	return send_cookie2_request(sa, err, cookie, IKE_TASK_MOBIKE_RR, &m->rr_local,
				    &m->rr_remote, now, out);
}

static int start_addrs(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	struct ike_engine *e = sa->e;
	struct ike_out_msg *o = &e->om;
	struct ike_request *r = &sa->req;
	struct ike_endpoint l, rm;
	int err;

	if (!e->cfg.announce_addresses)
		return -EALREADY;
	ike_request_clear(r);
	r->task = IKE_TASK_MOBIKE_ADDRS;
	req_path(sa, r, &l, &rm);
	err = ike_msg_begin(sa, o, IKE_EXCH_INFORMATIONAL, false, sa->next_req_id);
	if (err == 0)
		err = ike_mobike_add_addresses(sa, &o->b, l.addr, true);
	/* 3.9: every message that can update addresses carries NO_NATS_ALLOWED. */
	if (err == 0 && sa->peer && sa->peer->mobike_no_nats)
		err = add_no_nats(&o->b, &l, &rm);
	if (err == 0)
		err = ike_msg_end(sa, o);
	if (err < 0)
		return err;
	r->built_local = l;
	r->built_remote = rm;
	LOG_INFO(&sa->log, "MOBIKE: telling the peer our %zu addresses", e->cfg.nlocal_addrs);
	return ike_sa_send_request(sa, o, IKE_TASK_MOBIKE_ADDRS, now, out);
}

/* MOBIKE work is kept in flags, not in the task queue, so that a full queue never loses an
 * UPDATE_SA_ADDRESSES; it goes before the queued tasks. */
bool ike_mobike_task_due(const struct ike_sa *sa)
{
	const struct ike_mobike *m = &sa->mob;

	if (!sa->mobike || m->deferred || sa->state != IKE_SA_ESTABLISHED)
		return false;
	return (m->initiator && m->moving && m->move_wanted) || m->rr_due || m->addrs_due ||
	       m->probe_due;
}

bool ike_mobike_next_task(struct ike_sa *sa, struct ike_task_item *t)
{
	struct ike_mobike *m = &sa->mob;

	if (!ike_mobike_task_due(sa))
		return false;
	memset(t, 0, sizeof(*t));
	if (m->initiator && m->moving && m->move_wanted) {
		m->move_wanted = false;
		t->task = IKE_TASK_MOBIKE_UPDATE;
	} else if (m->rr_due) {
		m->rr_due = false;
		t->task = IKE_TASK_MOBIKE_RR;
	} else if (m->probe_due) {
		m->probe_due = false;
		t->task = IKE_TASK_DPD;
	} else {
		m->addrs_due = false;
		t->task = IKE_TASK_MOBIKE_ADDRS;
	}
	return true;
}

int ike_mobike_start(struct ike_sa *sa, const struct ike_task_item *t, mm_time_ns now,
		     struct ike_actions *out)
{
	if (!sa->mobike)
		return -EALREADY;
	switch (t->task) {
	case IKE_TASK_MOBIKE_UPDATE:
		return start_update(sa, now, out);
	case IKE_TASK_MOBIKE_RR:
		return start_rr(sa, now, out);
	case IKE_TASK_MOBIKE_ADDRS:
		return start_addrs(sa, now, out);
	default:
		return -EINVAL;
	}
}

int ike_mobike_dpd_extras(struct ike_sa *sa, struct ike_builder *b, bool *natd)
{
	*natd = false;
	/* 3.8: an initiator behind a NAT "SHOULD include these notifications in DPD messages"
	 * to see whether its mapping changed. */
	if (!mobike_initiator(sa) || !sa->nat_local || sa->mob.moving)
		return 0;
	*natd = true;
	return ike_natd_add(b, sa->spi_i, sa->spi_r, &sa->local, &sa->remote);
}

/* --- the initiator's moves -------------------------------------------------------------------- */

/* A move to (l, r) is wanted from now (3.5): requests go there, an UPDATE_SA_ADDRESSES
 * follows as soon as the window allows. */
static void want_move(struct ike_sa *sa, const struct ike_endpoint *l,
		      const struct ike_endpoint *r, mm_time_ns since)
{
	struct ike_mobike *m = &sa->mob;

	if (!m->moving)
		m->move_since = since;
	m->moving = true;
	m->move_wanted = true;
	m->to_local = *l;
	m->to_remote = *r;
	m->nat_retries = 0;
}

static void move_failed(struct ike_sa *sa, const struct ike_request *req, uint16_t refusal,
			const char *why, mm_time_ns now, struct ike_actions *out)
{
	struct ike_mobike *m = &sa->mob;
	struct ike_action *a;
	char l[32], r[32];

	m->moving = false;
	m->move_wanted = false;
	m->unsure = false;
	m->nat_retries = 0;
	sa->e->st.mobike_moves_failed++;
	LOG_WARNING(&sa->log, "MOBIKE: move to %s <-> %s refused: %s; staying on the current "
		    "addresses", ike_ep_str(&req->built_local, l, sizeof(l)),
		    ike_ep_str(&req->built_remote, r, sizeof(r)), why);
	a = act_move(out, IKE_ACT_MOVE_FAILED);
	if (!a)
		return;
	ike_sa_info_fill(sa, &a->u.move.sa);
	a->u.move.old_local = sa->local;
	a->u.move.old_remote = sa->remote;
	a->u.move.old_nat_local = sa->nat_local;
	a->u.move.old_nat_remote = sa->nat_remote;
	a->u.move.tried_local = req->built_local;
	a->u.move.tried_remote = req->built_remote;
	a->u.move.refusal = refusal;
	a->u.move.took = now >= m->move_since ? now - m->move_since : 0;
	a->u.move.udp_encap = sa->natt;
	fill_children(sa, &a->u.move);
	snprintf(a->text, sizeof(a->text), "%s", why);
}

int ike_mobike_order_move(struct ike_sa *sa, const struct ike_endpoint *local,
			  const struct ike_endpoint *remote, mm_time_ns now,
			  struct ike_actions *out)
{
	struct ike_mobike *m = &sa->mob;
	struct ike_endpoint l, r;
	bool was_deferred = m->deferred;
	char a[32], b[32];

	if (!sa->mobike)
		return -EOPNOTSUPP;
	if (!m->initiator)
		return -EPERM;
	if (!local || local->addr.s_addr == 0) {
		if (!m->deferred)
			LOG_NOTICE(&sa->log, "MOBIKE: no usable address: deferring (nothing is sent "
				   "until an address works)");
		m->deferred = true;
		m->probing = false;
		ike_sa_schedule(sa);
		return 0;
	}
	l = *local;
	if (!l.port)
		l.port = sa->local.port;
	r = remote ? *remote : sa->remote;
	if (remote && !r.addr.s_addr)
		r.addr = sa->remote.addr;
	if (!r.port)
		r.port = sa->remote.port;
	if (!policy_addr_usable(l.addr) || !policy_addr_usable(r.addr))
		return -EINVAL;
	if (!m->deferred && !m->moving && !m->unsure && ep_eq(&l, &sa->local) &&
	    ep_eq(&r, &sa->remote))
		return -EALREADY;
	m->deferred = false;
	m->probing = false;
	want_move(sa, &l, &r, now);
	LOG_INFO(&sa->log, "MOBIKE: moving to %s <-> %s%s", ike_ep_str(&l, a, sizeof(a)),
		 ike_ep_str(&r, b, sizeof(b)), was_deferred ? " (resuming)" : "");
	/* 3.5: the request in flight goes on from the newest address, at once; its answer
	 * comes first, then UPDATE_SA_ADDRESSES (window size 1, 2.3). */
	redirect_in_flight(sa, now, out);
	return 0;
}

int ike_mobike_order_probe(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	if (!sa->mobike)
		return -EOPNOTSUPP;
	if (!sa->mob.initiator)
		return -EPERM;
	if (sa->mob.deferred)
		return -EAGAIN;
	sa->mob.probing = true;
	LOG_NOTICE(&sa->log, "MOBIKE: the current path is said to have failed: testing paths");
	if (sa->req.active) {
		sa->req.sends++;
		sa->req.retransmit_at = now + sa->e->cfg.retransmit_base;
		sa->e->st.retransmits++;
		return ike_mobike_transmit(sa, true, now, out);
	}
	sa->mob.probe_due = true;           /* a liveness check, sent on every pair */
	return 0;
}

void ike_mobike_local_changed(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	(void)now;
	(void)out;
	if (!sa->mobike || sa->state != IKE_SA_ESTABLISHED || !sa->e->cfg.announce_addresses)
		return;
	/* 3.6: the complete list again, in a new INFORMATIONAL; a request in flight with the
	 * old list is followed by one with the new. */
	sa->mob.addrs_due = true;
}

void ike_mobike_inherit(struct ike_sa *to, const struct ike_sa *from)
{
	to->mob = from->mob;
	/* The same peer: it still knows our private notifies (MM_ESP_RECEIVED). */
	to->peer_mm = from->peer_mm;
	/* The NAT_DETECTION hashes cover the SPIs, which changed (3.8). */
	to->mob.have_natd_dst = false;
	to->mob.probing = false;
}

/* --- responses to our requests ------------------------------------------------------------- */

void ike_mobike_response_path(struct ike_sa *sa, const struct ike_rx *rx,
			      const struct ike_request *req)
{
	struct ike_mobike *m = &sa->mob;
	struct ike_endpoint l = rx->to, r = rx->from;
	char a[32], b[32];

	if (!mobike_initiator(sa) || (!m->probing && !req->multi_path))
		return;
	if (!l.addr.s_addr)
		l.addr = req->local.addr;          /* the daemon did not say where it arrived */
	if (!l.port)
		l.port = req->local.port;
	m->probing = false;
	LOG_NOTICE(&sa->log, "MOBIKE: path test: %s <-> %s answers",
		   ike_ep_str(&l, a, sizeof(a)), ike_ep_str(&r, b, sizeof(b)));
	if (ep_eq(&l, &sa->local) && ep_eq(&r, &sa->remote) && !m->moving && !m->unsure)
		return;      /* the current path works after all */
	want_move(sa, &l, &r, req->first_sent);
}

static int check_cookie2(struct ike_sa *sa, struct ike_rx *rx, const struct ike_request *req)
{
	struct ike_notify n;
	struct ike_blob c;

	if (!req->cookie2_len)
		return 0;
	if (ike_rx_notify(rx, IKE_N_COOKIE2, &n) == 0 && ike_notify_cookie(&n, &c) == 0 &&
	    c.len == req->cookie2_len && CRYPTO_memcmp(c.data, req->cookie2, c.len) == 0)
		return 0;
	/* 3.7: "If the values do not match, the IKE_SA MUST be closed." */
	LOG_WARNING(&sa->log, "MOBIKE: the answer does not echo our COOKIE2: closing the IKE SA "
		    "(RFC 4555 3.7)");
	ike_sa_kill(sa, "COOKIE2 not echoed (RFC 4555 3.7)", rx->out);
	return -EACCES;
}

static bool answered_on(const struct ike_rx *rx, const struct ike_endpoint *l,
			const struct ike_endpoint *r)
{
	return (!rx->to.addr.s_addr || rx->to.addr.s_addr == l->addr.s_addr) &&
	       ep_eq(&rx->from, r);
}

static void update_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req)
{
	struct ike_mobike *m = &sa->mob;
	uint16_t errn = ike_rx_error_notify(rx);
	bool nat_l = false, nat_r = false, present = false;
	uint8_t dst[IKE_NAT_DETECTION_LEN];
	char name[NAME_BUF_SIZE], why[160];

	/* 3.5: "If an address change has occurred after the request was first sent, no MOBIKE
	 * processing is done for the reply message because a new UPDATE_SA_ADDRESSES is going to
	 * be sent"; 3.6, 3.7: the same for a request sent on several paths. */
	if (m->move_wanted || !m->moving || req->path_changed || req->multi_path ||
	    !answered_on(rx, &req->built_local, &req->built_remote)) {
		LOG_INFO(&sa->log, "MOBIKE: the answer to a superseded UPDATE_SA_ADDRESSES: "
			 "ignored, another one follows");
		if (m->moving)
			m->move_wanted = true;
		return;
	}
	if (errn == IKE_N_UNEXPECTED_NAT_DETECTED && ++m->nat_retries < IKE_MOBIKE_NAT_RETRIES) {
		/* 3.9: "SHOULD retry the operation several times using new INFORMATIONAL
		 * requests": an attacker may have changed a single packet. */
		LOG_WARNING(&sa->log, "MOBIKE: the peer saw a NAT on the new path "
			    "(UNEXPECTED_NAT_DETECTED): trying again");
		m->move_wanted = true;
		return;
	}
	if (errn) {
		/* 3.5: "the initiator MAY select another addresses and retry the exchange, keep
		 * on using the previously used addresses, or disconnect": we keep them and tell
		 * the daemon, which chooses. */
		snprintf(why, sizeof(why), "the peer answered %s",
			 ike_notify_name(errn, name, sizeof(name)));
		move_failed(sa, req, errn, why, rx->now, rx->out);
		return;
	}
	if (ike_natd_detect(rx->pl, sa->spi_i, sa->spi_r, &rx->from, &req->built_local, &nat_l,
			    &nat_r, &present, dst) < 0)
		present = false;
	if (present) {
		memcpy(m->natd_dst, dst, sizeof(dst));
		m->have_natd_dst = true;
	} else {
		nat_l = sa->nat_local;
		nat_r = sa->nat_remote;
	}
	m->moving = false;
	m->unsure = false;
	m->nat_retries = 0;
	commit_move(sa, &req->built_local, &req->built_remote, nat_l, nat_r, m->move_since,
		    rx->now, rx->out);
}

static void rr_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req)
{
	struct ike_mobike *m = &sa->mob;
	char a[32], b[32];

	if (!ep_eq(&rx->from, &req->built_remote)) {
		/* 3.7: routability of that address is proven only by an answer from it. */
		sa->e->st.mobike_rr_failed++;
		LOG_WARNING(&sa->log, "MOBIKE: return routability check of %s answered from %s: "
			    "no address change", ike_ep_str(&req->built_remote, a, sizeof(a)),
			    ike_ep_str(&rx->from, b, sizeof(b)));
		if (ep_eq(&req->built_remote, &m->rr_remote))
			m->rr_wanted = false;
		return;
	}
	if (!m->rr_wanted || !ep_eq(&req->built_remote, &m->rr_remote) ||
	    !ep_eq(&req->built_local, &m->rr_local)) {
		LOG_INFO(&sa->log, "MOBIKE: return routability of %s proven, but a newer update "
			 "came meanwhile", ike_ep_str(&req->built_remote, a, sizeof(a)));
		verified_add(sa, req->built_remote.addr);
		return;
	}
	m->rr_wanted = false;
	verified_add(sa, m->rr_remote.addr);
	commit_move(sa, &m->rr_local, &m->rr_remote, m->rr_nat_local, m->rr_nat_remote,
		    m->rr_since, rx->now, rx->out);
}

static void dpd_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req)
{
	struct ike_mobike *m = &sa->mob;
	bool nat_l, nat_r, present = false;
	uint8_t dst[IKE_NAT_DETECTION_LEN];

	if (!req->natd || !mobike_initiator(sa) || m->moving ||
	    !answered_on(rx, &sa->local, &sa->remote) ||
	    ike_natd_detect(rx->pl, sa->spi_i, sa->spi_r, &rx->from, &sa->local, &nat_l, &nat_r,
			    &present, dst) < 0 || !present)
		return;
	if (!m->have_natd_dst) {
		memcpy(m->natd_dst, dst, sizeof(dst));
		m->have_natd_dst = true;
		return;
	}
	if (CRYPTO_memcmp(dst, m->natd_dst, sizeof(dst)) == 0)
		return;
	/* 3.8: "If the values do not match, the IP address and/or port seen by the responder
	 * has changed, and the initiator SHOULD send UPDATE_SA_ADDRESSES". */
	LOG_NOTICE(&sa->log, "MOBIKE: our NAT mapping changed (NAT_DETECTION_DESTINATION_IP): "
		   "updating the peer");
	want_move(sa, &sa->local, &sa->remote, rx->now);
}

int ike_mobike_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req)
{
	if (!sa->mobike)
		return 0;
	if (check_cookie2(sa, rx, req) < 0)
		return 0;
	switch (req->task) {
	case IKE_TASK_MOBIKE_UPDATE:
		update_response(sa, rx, req);
		break;
	case IKE_TASK_MOBIKE_RR:
		rr_response(sa, rx, req);
		break;
	case IKE_TASK_DPD:
		dpd_response(sa, rx, req);
		break;
	default:
		break;
	}
	return 0;
}

/* --- requests from the peer ---------------------------------------------------------------- */

/* 3.9: NO_NATS_ALLOWED must name the addresses and ports of the IP header. */
static bool no_nats_match(const struct ike_no_nats *nn, const struct ike_rx *rx)
{
	uint16_t sp = nn->src_port, dp = nn->dst_port;

	if (nn->family != AF_INET)
		return false;
	return memcmp(nn->src, &rx->from.addr.s_addr, 4) == 0 && sp == rx->from.port &&
	       (!rx->to.addr.s_addr || memcmp(nn->dst, &rx->to.addr.s_addr, 4) == 0) &&
	       dp == rx->to.port;
}

static void peer_set_changed(struct ike_sa *sa, struct ike_rx *rx)
{
	struct ike_mobike *m = &sa->mob;
	struct ike_action *a;
	char s[INET_ADDRSTRLEN];

	LOG_INFO(&sa->log, "MOBIKE: the peer's addresses: %zu, from %s", m->npeer_addrs,
		 inet_ntop(AF_INET, &rx->from.addr, s, sizeof(s)));
	a = act_move(rx->out, IKE_ACT_PEER_ADDRESSES);
	if (a)
		ike_sa_info_fill(sa, &a->u.sa);
	/* 3.5: an initiator re-evaluates, "particularly ... if the announced set of addresses
	 * no longer contains the currently used address". */
	if (m->initiator && !m->deferred && !addr_in(m->peer_addrs, m->npeer_addrs,
						     (m->moving ? m->to_remote : sa->remote).addr)) {
		struct ike_endpoint l = m->moving ? m->to_local : sa->local;
		struct ike_endpoint r = { m->peer_addrs[0], rx->from.port };

		LOG_NOTICE(&sa->log, "MOBIKE: the peer gave up the address we use: moving to %s",
			   inet_ntop(AF_INET, &r.addr, s, sizeof(s)));
		want_move(sa, &l, &r, rx->now);
	}
}

void ike_mobike_request(struct ike_sa *sa, struct ike_rx *rx, struct ike_mobike_answer *ans)
{
	struct ike_engine *e = sa->e;
	struct ike_mobike *m = &sa->mob;
	struct ike_no_nats nn;
	bool update = false, addrs = false, have_nn = false, nn_bad = false;
	bool nat_l = false, nat_r = false, present = false;
	struct policy_mobike_decision d;
	struct policy_mobike_update u;
	struct ike_endpoint here = rx->to;
	struct ike_esp_received rcvd[IKE_MOVE_MAX_CHILDREN];
	size_t nrcvd = 0, bad_rcvd = 0;
	char a[32], b[32];

	memset(ans, 0, sizeof(*ans));
	if (!here.addr.s_addr)
		here.addr = sa->local.addr;        /* the daemon did not say where it arrived */
	for (size_t i = 0; i < rx->pl->count; i++) {
		struct ike_notify n;

		if (rx->pl->p[i].type != IKE_PT_NOTIFY || ike_notify_decode(&rx->pl->p[i], &n) < 0)
			continue;
		switch (n.type) {
		case IKE_N_UPDATE_SA_ADDRESSES:
			update = true;
			break;
		case IKE_N_ADDITIONAL_IP4_ADDRESS:
		case IKE_N_ADDITIONAL_IP6_ADDRESS:
		case IKE_N_NO_ADDITIONAL_ADDRESSES:
			addrs = true;
			break;
		case IKE_N_NO_NATS_ALLOWED:
			if (!have_nn)
				nn_bad = ike_notify_no_nats(&n, &nn) < 0;
			have_nn = true;
			break;
		case IKE_N_COOKIE2:
			if (!ans->have_cookie2 && ike_notify_cookie(&n, &ans->cookie2) == 0)
				ans->have_cookie2 = true;
			break;
		case IKE_N_MM_ESP_RECEIVED:
			/* Ours only from a peer that showed our Vendor ID (3.10.1: private
			 * numbers mean nothing otherwise); at most one per Child SA. */
			if (!sa->peer_mm || nrcvd == IKE_MOVE_MAX_CHILDREN ||
			    ike_notify_esp_received(&n, &rcvd[nrcvd].spi, &rcvd[nrcvd].seq) < 0)
				bad_rcvd++;
			else
				nrcvd++;
			break;
		default:
			break;
		}
	}
	if (bad_rcvd)
		LOG_DEBUG(&sa->log, "MOBIKE: %zu MM_ESP_RECEIVED notif%s ignored (malformed, too "
			  "many, or the peer did not show our Vendor ID)", bad_rcvd,
			  bad_rcvd == 1 ? "y" : "ies");
	if (!sa->mobike) {
		/* Unknown status notifies are ignored (RFC 7296 3.10.1). */
		if (update)
			LOG_INFO(&sa->log, "MOBIKE: UPDATE_SA_ADDRESSES, but MOBIKE was not "
				 "negotiated: ignored");
		memset(ans, 0, sizeof(*ans));
		return;
	}
	if (update)
		e->st.mobike_updates_rx++;
	/* 3.8: a request with NAT_DETECTION_* gets them back, computed for its own path. */
	if (ike_natd_detect(rx->pl, sa->spi_i, sa->spi_r, &rx->from, &rx->to, &nat_l, &nat_r,
			    &present, NULL) < 0)
		present = false;
	ans->natd = present;
	if ((update || addrs) && have_nn && (nn_bad || !no_nats_match(&nn, rx))) {
		/* 3.9: "If they do not match, a response containing an UNEXPECTED_NAT_DETECTED
		 * notification is sent" (to where the request came from), and nothing else. */
		ans->error = IKE_N_UNEXPECTED_NAT_DETECTED;
		if (update)
			e->st.mobike_updates_refused++;
		LOG_WARNING(&sa->log, "MOBIKE: %s from %s with NO_NATS_ALLOWED that does not match "
			    "the IP header: answering UNEXPECTED_NAT_DETECTED, no change",
			    update ? "UPDATE_SA_ADDRESSES" : "address set",
			    ike_ep_str(&rx->from, a, sizeof(a)));
		return;
	}
	if (addrs && read_peer_set(sa, rx, false))
		peer_set_changed(sa, rx);
	if (!update)
		return;
	if (m->initiator) {
		LOG_WARNING(&sa->log, "MOBIKE: UPDATE_SA_ADDRESSES from the responder: ignored "
			    "(RFC 4555 3.5: the initiator decides)");
		return;
	}
	memset(&u, 0, sizeof(u));
	u.old_addr = sa->remote.addr;
	u.old_port = sa->remote.port;
	u.new_addr = rx->from.addr;
	u.new_port = rx->from.port;
	u.nat = nat_l || nat_r;
	u.no_nats = have_nn;
	u.verified = m->verified;
	u.nverified = m->nverified;
	d = policy_mobike_accept(sa->peer ? &sa->peer->mobike_policy : NULL, &u);
	if (d.verdict == POLICY_MOBIKE_REFUSE) {
		/* 3.5: "If it is not, replies with a message containing the
		 * UNACCEPTABLE_ADDRESSES notification (and possibly COOKIE2)." */
		ans->error = IKE_N_UNACCEPTABLE_ADDRESSES;
		e->st.mobike_updates_refused++;
		LOG_WARNING(&sa->log, "MOBIKE: UPDATE_SA_ADDRESSES to %s <-> %s refused: %s: "
			    "answering UNACCEPTABLE_ADDRESSES", ike_ep_str(&rx->to, a, sizeof(a)),
			    ike_ep_str(&rx->from, b, sizeof(b)), d.reason);
		return;
	}
	e->st.mobike_updates_accepted++;
	/* A newer update replaces a check still waiting (its answer then moves nothing), and
	 * its marks. */
	m->rr_wanted = false;
	m->nreceived = nrcvd;
	memcpy(m->received, rcvd, nrcvd * sizeof(rcvd[0]));
	if (!present) {
		/* No NAT detection in the request: the NAT state stays as it was. */
		nat_l = sa->nat_local;
		nat_r = sa->nat_remote;
	}
	if (d.verdict == POLICY_MOBIKE_ACCEPT) {
		LOG_DEBUG(&sa->log, "MOBIKE: UPDATE_SA_ADDRESSES from %s accepted (%s)",
			  ike_ep_str(&rx->from, a, sizeof(a)), d.reason);
		commit_move(sa, &here, &rx->from, nat_l, nat_r, rx->now, rx->now, rx->out);
		if (sa->req.active && !ep_eq(&sa->req.remote, &sa->remote))
			redirect_in_flight(sa, rx->now, rx->out);
		return;
	}
	/* 3.5: "If necessary, initiates a return routability check for the new initiator
	 * address (see Section 3.7) and waits until the check is completed" before the IPsec
	 * SAs move. */
	m->rr_wanted = true;
	m->rr_local = here;
	m->rr_remote = rx->from;
	m->rr_nat_local = nat_l;
	m->rr_nat_remote = nat_r;
	m->rr_since = rx->now;
	m->rr_due = true;
	LOG_INFO(&sa->log, "MOBIKE: UPDATE_SA_ADDRESSES from %s: %s; checking return "
		 "routability first", ike_ep_str(&rx->from, a, sizeof(a)), d.reason);
	if (sa->req.active && !ep_eq(&sa->req.remote, &m->rr_remote))
		redirect_in_flight(sa, rx->now, rx->out);
}

int ike_mobike_answer_add(struct ike_sa *sa, const struct ike_rx *rx,
			  const struct ike_mobike_answer *ans, struct ike_builder *b)
{
	int err = 0;

	if (ans->error)
		err = ike_notify_add(b, ans->error, NULL, 0);
	/* 3.5, 3.8: NAT detection for the path the request took, as we saw it. */
	if (err == 0 && ans->natd)
		err = ike_natd_add(b, sa->spi_i, sa->spi_r, &rx->to, &rx->from);
	/* 3.7, 4.2.5: "the recipient ... MUST copy the notification as-is to the response". */
	if (err == 0 && ans->have_cookie2)
		err = ike_notify_add(b, IKE_N_COOKIE2, ans->cookie2.data, ans->cookie2.len);
	return err;
}
