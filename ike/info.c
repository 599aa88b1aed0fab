/* INFORMATIONAL, both roles (RFC 7296 1.4, 1.4.1, 1.5, 2.4, 2.25):
 *
 *	liveness check   HDR, SK {}                     <-->  HDR, SK {}
 *	Child SA delete  HDR, SK {D(ESP, SPIs)}         <-->  HDR, SK {D(ESP, our SPIs)}
 *	IKE SA delete    HDR, SK {D(IKE)}               <-->  HDR, SK {}
 *	notifications    HDR, SK {N(...)}               <-->  HDR, SK {}
 *
 * A Delete names the SPIs its sender receives on (our outbound ones); the answer names ours
 * for the same pairs (1.4.1), except for SAs we are deleting ourselves (2.25.1: "reply without
 * a Delete payload"). Deleting the IKE SA takes every Child SA with it. An empty request
 * proves the peer alive (2.4); with no answer after the retransmissions the IKE SA is dead.
 * Messages outside an IKE SA (1.5: INVALID_IKE_SPI, INVALID_SPI) are logged, never answered.
 * MOBIKE (RFC 4555) rides on INFORMATIONAL too: mobike.c decides what a request's
 * UPDATE_SA_ADDRESSES, address set, NO_NATS_ALLOWED, COOKIE2 and NAT_DETECTION_* mean and
 * what the response carries back, and handles the answers to its own requests.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/names.h"
#include "ike/engine_priv.h"

/* --- initiator ------------------------------------------------------------------------------ */

int ike_info_start(struct ike_sa *sa, const struct ike_task_item *t, mm_time_ns now,
		   struct ike_actions *out)
{
	struct ike_out_msg *o = &sa->e->om;
	struct ike_child *c = NULL;
	bool natd = false;
	int err;

	ike_request_clear(&sa->req);
	if (t->task == IKE_TASK_DELETE_CHILD) {
		c = ike_sa_child_by_in(sa, t->child_spi);
		if (!c || c->state == IKE_CHILD_DELETING)
			return -ENOENT;
	}
	err = ike_msg_begin(sa, o, IKE_EXCH_INFORMATIONAL, false, sa->next_req_id);
	if (err == 0 && c)
		err = ike_delete_add(&o->b, IKE_PROTO_ESP, &c->spi_in, 1);
	if (err == 0 && t->task == IKE_TASK_DELETE_IKE)
		err = ike_delete_add(&o->b, IKE_PROTO_IKE, NULL, 0);
	if (err == 0 && t->task == IKE_TASK_DPD)
		err = ike_mobike_dpd_extras(sa, &o->b, &natd);     /* RFC 4555 3.8 */
	if (err == 0)
		err = ike_msg_end(sa, o);
	if (err < 0)
		return err;
	sa->req.child_spi = t->child_spi;
	sa->req.natd = natd;
	err = ike_sa_send_request(sa, o, t->task, now, out);
	if (err < 0)
		return err;
	if (c) {
		c->state = IKE_CHILD_DELETING;
		LOG_INFO(&sa->log, "deleting Child SA %08x_i %08x_o", c->spi_in, c->spi_out);
	}
	if (t->task == IKE_TASK_DELETE_IKE) {
		ike_sa_set_state(sa, IKE_SA_DELETING, "DELETE sent");
		sa->expire_at = IKE_TIME_NEVER;   /* the retransmissions decide */
	}
	if (t->task == IKE_TASK_DPD)
		LOG_DEBUG(&sa->log, "liveness check sent");
	return 0;
}

int ike_info_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req)
{
	struct ike_child *c;

	/* MOBIKE: COOKIE2 (3.7), UPDATE_SA_ADDRESSES and return routability answers, NAT
	 * mappings (3.8). May close the SA (a COOKIE2 that does not match). */
	ike_mobike_response(sa, rx, req);
	if (sa->state == IKE_SA_DEAD)
		return 0;
	switch (req->task) {
	case IKE_TASK_DELETE_CHILD:
		c = ike_sa_child_by_in(sa, req->child_spi);
		if (c) {
			LOG_INFO(&sa->log, "Child SA %08x_i %08x_o deleted", c->spi_in, c->spi_out);
			ike_sa_child_remove(sa, c, true, rx->out);
		}
		break;
	case IKE_TASK_DELETE_IKE:
		LOG_INFO(&sa->log, "IKE SA deleted");
		ike_sa_kill(sa, sa->announced ? "deleted" : "redundant SA deleted", rx->out);
		break;
	case IKE_TASK_DPD:
		LOG_DEBUG(&sa->log, "peer alive");
		if (rx->out->n < IKE_ACTIONS_MAX) {
			struct ike_action *a = &rx->out->a[rx->out->n++];

			memset(a, 0, sizeof(*a));
			a->kind = IKE_ACT_PEER_ALIVE;
			a->u.sa.spi_i = sa->spi_i;
			a->u.sa.spi_r = sa->spi_r;
			a->u.sa.local = sa->local;
			a->u.sa.remote = sa->remote;
		}
		break;
	default:
		break;
	}
	return 0;
}

/* --- responder ------------------------------------------------------------------------------ */

static void log_notifies(struct ike_sa *sa, const struct ike_rx *rx)
{
	for (size_t i = 0; i < rx->pl->count; i++) {
		struct ike_notify n;
		char name[NAME_BUF_SIZE];

		if (rx->pl->p[i].type != IKE_PT_NOTIFY || ike_notify_decode(&rx->pl->p[i], &n) < 0)
			continue;
		/* MOBIKE notifications (RFC 4555) are read by mobike.c. */
		if (ike_notify_is_error(n.type))
			LOG_WARNING(&sa->log, "peer reports %s",
				    ike_notify_name(n.type, name, sizeof(name)));
		else
			LOG_DEBUG(&sa->log, "peer notifies %s",
				  ike_notify_name(n.type, name, sizeof(name)));
	}
}

int ike_info_request(struct ike_sa *sa, struct ike_rx *rx)
{
	struct ike_out_msg *o = &sa->e->om;
	struct ike_child *gone[IKE_SA_MAX_CHILDREN];
	uint32_t ours[IKE_SA_MAX_CHILDREN];
	size_t ngone = 0, nours = 0;
	bool delete_ike = false, refused;
	struct ike_mobike_answer mob;
	int err;

	log_notifies(sa, rx);
	/* 2.21.2: the initiator did not accept our AUTH; the SA is of no use to it. */
	refused = ike_rx_notify(rx, IKE_N_AUTHENTICATION_FAILED, &(struct ike_notify){ 0 }) == 0;
	delete_ike = refused;
	for (size_t i = 0; i < rx->pl->count; i++) {
		struct ike_delete d;

		if (rx->pl->p[i].type != IKE_PT_DELETE || ike_delete_decode(&rx->pl->p[i], &d) < 0)
			continue;
		if (d.protocol == IKE_PROTO_IKE) {
			delete_ike = true;
			continue;
		}
		if (d.protocol != IKE_PROTO_ESP)
			continue;
		for (size_t k = 0; k < d.n_spis; k++) {
			uint32_t spi;
			struct ike_child *c;
			bool dup = false;

			if (ike_delete_spi(&d, k, &spi) < 0 ||
			    !(c = ike_sa_child_by_out(sa, spi)))
				continue;
			for (size_t j = 0; j < ngone; j++)
				dup = dup || gone[j] == c;
			if (dup || ngone >= IKE_SA_MAX_CHILDREN)
				continue;
			gone[ngone++] = c;
			/* 2.25.1: deleting it ourselves: answer without its SPI. */
			if (c->state != IKE_CHILD_DELETING)
				ours[nours++] = c->spi_in;
		}
	}
	/* MOBIKE (RFC 4555 3.5-3.9): decided before the response, which carries the outcome;
	 * a move happens (IKE_ACT_SA_MOVED) before the response leaves. */
	if (!delete_ike)
		ike_mobike_request(sa, rx, &mob);
	else
		memset(&mob, 0, sizeof(mob));
	err = ike_msg_begin(sa, o, IKE_EXCH_INFORMATIONAL, true, rx->m->hdr.msg_id);
	if (err == 0 && nours && !delete_ike)
		err = ike_delete_add(&o->b, IKE_PROTO_ESP, ours, nours);
	if (err == 0)
		err = ike_mobike_answer_add(sa, rx, &mob, &o->b);
	if (err == 0)
		err = ike_msg_end(sa, o);
	if (err == 0)
		err = ike_sa_send_response(sa, o, rx);
	if (err < 0)
		return err;
	if (delete_ike) {
		/* 2.8.2: the peer did not see our simultaneous rekey; its new SA survives. */
		if (sa->coll.active && sa->coll.sa)
			ike_child_rekey_adopt(sa, rx->now, rx->out);
		LOG_INFO(&sa->log, "the peer %s the IKE SA", refused ? "refused" : "deleted");
		if (refused)
			sa->e->st.auth_failures++;
		ike_sa_kill(sa, refused ? "the peer refused our authentication" :
			    sa->state == IKE_SA_REKEYED ? "replaced by a rekeyed SA" :
			    "deleted by the peer", rx->out);
		return 0;
	}
	for (size_t i = 0; i < ngone; i++) {
		LOG_INFO(&sa->log, "the peer deleted Child SA %08x_i %08x_o", gone[i]->spi_in,
			 gone[i]->spi_out);
		ike_sa_child_remove(sa, gone[i], true, rx->out);
	}
	if (ngone == 0)
		LOG_DEBUG(&sa->log, "INFORMATIONAL request answered");
	return 0;
}

void ike_info_unprotected(struct ike_engine *e, struct ike_rx *rx)
{
	char name[NAME_BUF_SIZE], ep[INET_ADDRSTRLEN];
	bool any = false;

	inet_ntop(AF_INET, &rx->from.addr, ep, sizeof(ep));
	for (size_t i = 0; i < rx->m->chain.count; i++) {
		struct ike_notify n;

		if (rx->m->chain.p[i].type != IKE_PT_NOTIFY ||
		    ike_notify_decode(&rx->m->chain.p[i], &n) < 0)
			continue;
		any = true;
		/* 1.5: never answered, and not trusted: a hint for logs only. */
		LOG_INFO(&e->log, "unprotected %s from %s about SPIs %016llx_i %016llx_r (ignored%s)",
			 ike_notify_name(n.type, name, sizeof(name)), ep,
			 (unsigned long long)rx->m->hdr.spi_i, (unsigned long long)rx->m->hdr.spi_r,
			 n.type == IKE_N_UPDATE_SA_ADDRESSES ?
			 ": MOBIKE acts only on UPDATE_SA_ADDRESSES inside SK" : "");
	}
	if (!any)
		ike_drop(e, NULL, &rx->from, &e->st.dropped_unknown_spi, LOG_LEVEL_INFO,
			 "unprotected INFORMATIONAL for unknown SPIs");
	else
		e->st.dropped_unknown_spi++;
}
