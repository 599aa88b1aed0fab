/* CREATE_CHILD_SA, both roles (RFC 7296 1.3, 2.8, 2.17, 2.18, 2.25):
 *
 *	new Child SA     HDR, SK {SA, Ni, [KEi,] TSi, TSr}               <--> SA, Nr, [KEr,] TSi, TSr
 *	Child SA rekey   HDR, SK {N(REKEY_SA), SA, Ni, [KEi,] TSi, TSr}  <--> the same
 *	IKE SA rekey     HDR, SK {SA, Ni, KEi}                           <--> SA, Nr, KEr
 *
 * KE is there when the ESP suite has a DH group (PFS, 1.3.1) and always for the IKE SA. A
 * rekeyed Child SA replaces the old one, which its rekey initiator then deletes (2.8); a
 * rekeyed IKE SA (2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), new SPIs) takes over
 * every Child SA, and the old one is deleted by whoever started the rekey.
 *
 * Simultaneous rekeying (2.8.1, 2.8.2): a request to rekey what we are rekeying ourselves is
 * answered as usual and remembered; when our own exchange completes, the redundant new SA
 * is the one whose exchange holds the lowest of the four nonces, deleted by whoever made it,
 * and the other new SA's initiator deletes the old one. Other collisions get
 * TEMPORARY_FAILURE (2.25): rekeying a Child SA we are closing, a Child SA request while we
 * rekey the IKE SA, an IKE rekey while we create, rekey or delete a Child SA or close the
 * IKE SA; a Child SA that does not exist gets CHILD_SA_NOT_FOUND.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/names.h"
#include "ike/dh.h"
#include "ike/engine_priv.h"
#include "ike/keys.h"
#include "ike/proposal.h"
#include "ike/ts.h"

static void be32(uint32_t v, uint8_t out[4])
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

static void be64(uint64_t v, uint8_t out[8])
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* 2.8.1: "Lowest" is octet by octet; a nonce that is a prefix of the other is lower. */
static int nonce_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static void lower_nonce(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
			uint8_t *out, size_t *out_len)
{
	if (nonce_cmp(a, alen, b, blen) <= 0) {
		memcpy(out, a, alen);
		*out_len = alen;
	} else {
		memcpy(out, b, blen);
		*out_len = blen;
	}
}

static int add_ke(struct ike_builder *b, struct ike_dh *dh)
{
	uint8_t pub[IKE_DH_MAX_PUBLIC_LEN];
	struct writer w;
	struct ike_ke ke;

	writer_init(&w, pub, sizeof(pub));
	if (ike_dh_write_public(dh, &w) < 0)
		return -ENOSPC;
	ke.group = ike_dh_group(dh)->id;
	ke.data = (struct ike_blob){ pub, writer_len(&w) };
	return ike_ke_encode(b, &ke);
}

static int dh_shared(struct ike_dh *dh, const struct ike_ke *ke, uint8_t *out, size_t *len)
{
	int err = ike_dh_check_peer(ke->group, ke->data.data, ke->data.len);

	if (err < 0)
		return err;
	return ike_dh_compute(dh, ke->data.data, ke->data.len, out, IKE_DH_MAX_SHARED_LEN, len);
}

int ike_child_install(struct ike_sa *sa, struct ike_child *c, bool we_initiated,
		      const uint8_t *g_ir, size_t g_ir_len, const uint8_t *ni, size_t ni_len,
		      const uint8_t *nr, size_t nr_len, uint32_t replaces, struct ike_actions *out)
{
	struct ike_algs algs;
	struct ike_child_keys k;
	int err = ike_suite_resolve(&c->suite, IKE_SUITE_ESP, &algs);

	if (err < 0)
		return err;
	/* 2.17: KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr). */
	err = ike_child_keys_derive(sa->keys.prf, (struct ike_bytes){ sa->keys.sk_d,
								       sa->keys.sk_d_len },
				    &algs, (struct ike_bytes){ g_ir, g_ir_len },
				    (struct ike_bytes){ ni, ni_len },
				    (struct ike_bytes){ nr, nr_len }, &k);
	if (err < 0)
		return err;
	c->state = IKE_CHILD_INSTALLED;
	err = ike_act_child_up(out, sa, c, &k, we_initiated, replaces);
	ike_child_keys_wipe(&k);
	if (err == 0) {
		char l[64], r[64];

		LOG_INFO(&sa->log, "Child SA %08x_i %08x_o up: %s === %s%s", c->spi_in,
			 c->spi_out, ike_ts4_str(&c->ts_local.ts[0], l, sizeof(l)),
			 ike_ts4_str(&c->ts_remote.ts[0], r, sizeof(r)),
			 replaces ? " (rekeyed)" : "");
	}
	return err;
}

/* --- initiator ------------------------------------------------------------------------------ */

int ike_child_start(struct ike_sa *sa, const struct ike_task_item *t, mm_time_ns now,
		    struct ike_actions *out)
{
	struct ike_engine *e = sa->e;
	const struct ike_peer_cfg *p = sa->peer;
	struct ike_out_msg *o = &e->om;
	struct ike_request *r = &sa->req;
	struct ike_child *c = NULL;
	struct ike_sa_payload offer;
	struct ike_ts_list tsi, tsr;
	uint16_t group = 0;
	uint8_t spi[8];
	int err;

	if (!p)
		return -EINVAL;
	ike_request_clear(r);
	if (t->task == IKE_TASK_REKEY_CHILD) {
		c = ike_sa_child_by_in(sa, t->child_spi);
		if (!c || c->state != IKE_CHILD_REKEYING)
			return -ENOENT;
		r->child_spi = c->spi_in;
		/* 2.8: the same selectors as the SA it replaces. */
		r->ts_local = c->ts_local;
		r->ts_remote = c->ts_remote;
	} else if (t->task == IKE_TASK_CREATE_CHILD) {
		if (p->local_ts.n)
			r->ts_local = p->local_ts;
		else if (sa->initiator && sa->inner_addr.s_addr)
			ike_ts4_host(&r->ts_local, sa->inner_addr);
		else
			ike_ts4_any(&r->ts_local);
		if (p->remote_ts.n)
			r->ts_remote = p->remote_ts;
		else
			ike_ts4_any(&r->ts_remote);
	}
	err = ike_engine_nonce(e, r->nonce, &r->nonce_len);
	if (err < 0)
		return err;
	if (t->task == IKE_TASK_REKEY_IKE) {
		err = ike_engine_new_ike_spi(e, &r->new_ike_spi);
		if (err == 0)
			err = ike_spimap_put(&e->by_own, r->new_ike_spi, sa);   /* reserved */
		if (err < 0) {
			r->new_ike_spi = 0;
			return err;
		}
		be64(r->new_ike_spi, spi);
		err = ike_proposal_offer(&p->ike, IKE_SUITE_IKE, true, spi, 8, &offer);
		/* KE with the group of the current SA (known to suit the peer), unless it asked
		 * for another (1.3.2, INVALID_KE_PAYLOAD). */
		group = t->dh_group ? t->dh_group : sa->suite.dh;
	} else {
		uint32_t spi_in;

		err = ike_engine_new_esp_spi(e, &spi_in);
		if (err == 0)
			err = ike_engine_child_index(e, sa, spi_in);
		if (err < 0)
			return err;
		r->new_spi_in = spi_in;
		be32(spi_in, spi);
		err = ike_proposal_offer(&p->esp, IKE_SUITE_ESP, true, spi, 4, &offer);
		/* 1.3.1: KE for PFS when our preferred ESP suite has a group. */
		group = t->dh_group ? t->dh_group : p->esp.suite[0].dh;
	}
	r->dh_group_forced = t->dh_group;
	if (err == 0 && group != IKE_DH_NONE)
		err = ike_dh_new(group, &r->dh);
	if (err == 0)
		err = ike_msg_begin(sa, o, IKE_EXCH_CREATE_CHILD_SA, false, sa->next_req_id);
	/* 1.3.3: the SPI in REKEY_SA is the one we receive on. */
	if (err == 0 && c)
		err = ike_notify_add_rekey_sa(&o->b, IKE_PROTO_ESP, c->spi_in);
	if (err == 0)
		err = ike_sa_payload_encode(&o->b, &offer);
	if (err == 0)
		err = ike_nonce_encode(&o->b, r->nonce, r->nonce_len);
	if (err == 0 && r->dh)
		err = add_ke(&o->b, r->dh);
	if (err == 0 && t->task != IKE_TASK_REKEY_IKE) {
		ike_ts_to_wire(&r->ts_local, &tsi);
		ike_ts_to_wire(&r->ts_remote, &tsr);
		err = ike_ts_encode(&o->b, IKE_PT_TSI, &tsi);
		if (err == 0)
			err = ike_ts_encode(&o->b, IKE_PT_TSR, &tsr);
	}
	if (err == 0)
		err = ike_msg_end(sa, o);
	if (err == 0)
		err = ike_sa_send_request(sa, o, t->task, now, out);
	if (err < 0) {
		if (r->new_spi_in)
			ike_engine_child_unindex(e, sa, r->new_spi_in);
		if (r->new_ike_spi)
			ike_spimap_del(&e->by_own, r->new_ike_spi, sa);
		ike_request_clear(r);
		if (c)
			c->state = IKE_CHILD_INSTALLED;
		return err;
	}
	LOG_INFO(&sa->log, "%s sent%s", t->task == IKE_TASK_REKEY_IKE ? "IKE SA rekey" :
		 c ? "Child SA rekey" : "new Child SA request", r->dh ? " (with KE)" : "");
	return 0;
}

void ike_child_request_failed(struct ike_sa *sa, struct ike_request *req)
{
	struct ike_child *c;

	if (req->task == IKE_TASK_REKEY_CHILD && (c = ike_sa_child_by_in(sa, req->child_spi)) &&
	    c->state == IKE_CHILD_REKEYING)
		c->state = IKE_CHILD_INSTALLED;
}

/* Move every Child SA (and the tasks about them) from the old IKE SA to the new one (2.8:
 * "An IKE SA so created inherits all of the original IKE SA's Child SAs"). */
static void move_children(struct ike_sa *from, struct ike_sa *to)
{
	struct ike_engine *e = from->e;

	for (size_t i = 0; i < IKE_SA_MAX_CHILDREN; i++) {
		struct ike_child *c = &from->child[i];

		if (c->state == IKE_CHILD_FREE)
			continue;
		ike_engine_child_unindex(e, from, c->spi_in);
		to->child[i] = *c;
		(void)ike_engine_child_index(e, to, c->spi_in);
		memset(c, 0, sizeof(*c));
	}
	/* MOBIKE state (a move under way, the peer's addresses) goes on with the new SA. */
	ike_mobike_inherit(to, from);
	for (size_t i = 0; i < from->ntasks; i++)
		if (from->tasks[i].task != IKE_TASK_DELETE_IKE &&
		    from->tasks[i].task != IKE_TASK_REKEY_IKE && from->tasks[i].task != IKE_TASK_DPD)
			(void)ike_sa_task_push_front(to, &from->tasks[i]);
	from->ntasks = 0;
	/* The inner address lease goes with the IKE SA that lives on. */
	to->inner_addr = from->inner_addr;
	to->inner_leased = from->inner_leased;
	memcpy(to->dns, from->dns, sizeof(to->dns));
	to->ndns = from->ndns;
	from->inner_leased = false;
}

/* A new IKE SA from a rekey (2.18): same peer, path and identity, new SPIs and keys. */
static struct ike_sa *rekeyed_sa(struct ike_sa *old, bool we_initiated, uint64_t spi_i,
				 uint64_t spi_r, const struct ike_suite *suite, const uint8_t *g_ir,
				 size_t g_len, const uint8_t *ni, size_t ni_len, const uint8_t *nr,
				 size_t nr_len, mm_time_ns now)
{
	struct ike_engine *e = old->e;
	struct ike_sa *sa;
	struct ike_algs algs;
	struct ike_sa_keys keys;
	uint8_t skeyseed[IKE_PRF_MAX_LEN], si[8], sr[8];
	int err = ike_suite_resolve(suite, IKE_SUITE_IKE, &algs);

	if (err < 0)
		return NULL;
	sa = ike_engine_sa_new(e, now);
	if (!sa)
		return NULL;
	sa->initiator = we_initiated;   /* 3.1: the I flag follows the rekey initiator */
	sa->spi_i = spi_i;
	sa->spi_r = spi_r;
	sa->peer = old->peer;
	sa->peer_id = old->peer_id;
	sa->local = old->local;
	sa->remote = old->remote;
	sa->nat_local = old->nat_local;
	sa->nat_remote = old->nat_remote;
	sa->natt = old->natt;
	sa->mobike = old->mobike;
	sa->rtt = old->rtt;                /* the same path */
	sa->replaces_spi_i = old->spi_i;
	sa->replaces_spi_r = old->spi_r;
	memcpy(sa->ni, ni, ni_len);
	sa->ni_len = ni_len;
	memcpy(sa->nr, nr, nr_len);
	sa->nr_len = nr_len;
	ike_sa_update_logger(sa);
	be64(spi_i, si);
	be64(spi_r, sr);
	/* 2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old PRF. */
	err = ike_skeyseed_rekey(old->keys.prf, (struct ike_bytes){ old->keys.sk_d,
								     old->keys.sk_d_len },
				 (struct ike_bytes){ g_ir, g_len }, (struct ike_bytes){ ni, ni_len },
				 (struct ike_bytes){ nr, nr_len }, skeyseed);
	if (err == 0)
		err = ike_sa_keys_derive(&algs, skeyseed, old->keys.prf->len,
					 (struct ike_bytes){ ni, ni_len },
					 (struct ike_bytes){ nr, nr_len }, si, sr, &keys);
	OPENSSL_cleanse(skeyseed, sizeof(skeyseed));
	if (err == 0) {
		err = ike_sa_set_keys(sa, suite, &algs, &keys);
		ike_sa_keys_wipe(&keys);
	}
	if (err == 0)
		err = ike_engine_index_own(e, sa);
	if (err < 0) {
		ike_engine_sa_discard(sa);
		return NULL;
	}
	return sa;
}

/* The new IKE SA takes over (2.18): children move, SA_UP (before the old one's SA_DOWN),
 * key log; the old one waits for its DELETE (ours: queued when we_delete_old). */
static void ike_rekey_finish(struct ike_sa *old, struct ike_sa *winner, bool we_delete_old,
			     mm_time_ns now, struct ike_actions *out)
{
	move_children(old, winner);
	ike_sa_established(winner, now, out);
	ike_act_keylog(out, winner);
	LOG_INFO(&old->log, "rekeyed: replaced by %016llx_i %016llx_r",
		 (unsigned long long)winner->spi_i, (unsigned long long)winner->spi_r);
	if (old->state == IKE_SA_ESTABLISHED)
		ike_sa_set_state(old, IKE_SA_REKEYED, "replaced by a rekeyed IKE SA");
	old->expire_at = now + IKE_REKEYED_TIMEOUT;
	old->ntasks = 0;
	if (we_delete_old)
		(void)ike_sa_task_add(old, IKE_TASK_DELETE_IKE, 0);
	ike_sa_schedule(old);
	ike_sa_kick(winner, now, out);
}

/* A new IKE SA that lost a simultaneous rekey (2.8.2): never announced, waiting to be
 * deleted (by us: queue_delete) or by the peer. */
static void ike_rekey_loser(struct ike_sa *sa, bool queue_delete, mm_time_ns now,
			    struct ike_actions *out)
{
	ike_sa_set_state(sa, IKE_SA_ESTABLISHED, "redundant rekeyed IKE SA");
	ike_sa_set_state(sa, IKE_SA_REKEYED, "lost the simultaneous rekey (2.8.2)");
	sa->expire_at = now + IKE_REKEYED_TIMEOUT;
	if (queue_delete)
		(void)ike_sa_task_add(sa, IKE_TASK_DELETE_IKE, 0);
	ike_sa_kick(sa, now, out);
	ike_sa_schedule(sa);
}

/* Our IKE rekey exchange failed (or lost to the peer's, which already completed). */
void ike_child_rekey_adopt(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	struct ike_sa *winner = sa->coll.sa;

	sa->coll.active = false;
	sa->coll.sa = NULL;
	if (!winner || winner->state == IKE_SA_DEAD)
		return;
	winner->rekey_parent = NULL;
	LOG_INFO(&sa->log, "simultaneous IKE SA rekey: the peer's new SA survives");
	ike_rekey_finish(sa, winner, false, now, out);
}

static void rekey_ike_done(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req)
{
	const struct ike_payload_ref *rsa = ike_rx_find(rx, IKE_PT_SA);
	const struct ike_payload_ref *rke = ike_rx_find(rx, IKE_PT_KE);
	const struct ike_payload_ref *rn = ike_rx_find(rx, IKE_PT_NONCE);
	struct ike_sa_payload choice;
	struct ike_suite suite;
	struct ike_ke ke;
	struct ike_blob nr;
	struct ike_sa *ours;
	uint8_t g_ir[IKE_DH_MAX_SHARED_LEN];
	size_t g_len = 0;
	uint64_t spi_r;
	int err;

	if (!rsa || !rke || !rn || ike_sa_payload_decode(rsa, IKE_SA_CHOICE, &choice) < 0 ||
	    ike_ke_decode(rke, &ke) < 0 || ike_nonce_decode(rn, &nr) < 0 ||
	    ike_proposal_accept(&sa->peer->ike, IKE_SUITE_IKE, true, &choice, &suite) < 0 ||
	    choice.p[0].spi_size != 8 || !(spi_r = ike_proposal_spi64(&choice.p[0])) ||
	    !req->dh || ke.group != suite.dh || ike_dh_group(req->dh)->id != suite.dh) {
		LOG_WARNING(&sa->log, "IKE SA rekey: the answer does not fit our request");
		sa->rekey_at = rx->now + IKE_RETRY_DELAY;
		if (sa->coll.active)
			ike_child_rekey_adopt(sa, rx->now, rx->out);
		return;
	}
	err = dh_shared(req->dh, &ke, g_ir, &g_len);
	if (err == 0) {
		/* The reservation becomes the new SA's entry. */
		ike_spimap_del(&sa->e->by_own, req->new_ike_spi, sa);
		ours = rekeyed_sa(sa, true, req->new_ike_spi, spi_r, &suite, g_ir, g_len,
				  req->nonce, req->nonce_len, nr.data, nr.len, rx->now);
		req->new_ike_spi = 0;
	} else {
		ours = NULL;
	}
	OPENSSL_cleanse(g_ir, sizeof(g_ir));
	if (!ours) {
		LOG_WARNING(&sa->log, "IKE SA rekey: cannot make the new SA");
		sa->rekey_at = rx->now + IKE_RETRY_DELAY;
		if (sa->coll.active)
			ike_child_rekey_adopt(sa, rx->now, rx->out);
		return;
	}
	if (sa->coll.active && sa->coll.sa) {
		/* 2.8.2: the new SA with the lowest nonce goes, deleted by its maker. */
		uint8_t mine[IKE_NONCE_MAX];
		size_t mine_len;
		struct ike_sa *theirs = sa->coll.sa;

		lower_nonce(req->nonce, req->nonce_len, nr.data, nr.len, mine, &mine_len);
		sa->coll.active = false;
		sa->coll.sa = NULL;
		theirs->rekey_parent = NULL;
		if (nonce_cmp(mine, mine_len, sa->coll.nonce, sa->coll.nonce_len) < 0) {
			LOG_INFO(&sa->log, "simultaneous IKE SA rekey: ours has the lowest nonce, "
				 "we delete it; the peer's survives");
			ike_rekey_finish(sa, theirs, false, rx->now, rx->out);
			ike_rekey_loser(ours, true, rx->now, rx->out);
		} else {
			LOG_INFO(&sa->log, "simultaneous IKE SA rekey: ours survives, the peer "
				 "deletes its own");
			ike_rekey_finish(sa, ours, true, rx->now, rx->out);
			ike_rekey_loser(theirs, false, rx->now, rx->out);
		}
		return;
	}
	ike_rekey_finish(sa, ours, true, rx->now, rx->out);
}

static void rekey_child_done(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req,
			     bool create)
{
	struct ike_engine *e = sa->e;
	const struct ike_payload_ref *rsa = ike_rx_find(rx, IKE_PT_SA);
	const struct ike_payload_ref *rke = ike_rx_find(rx, IKE_PT_KE);
	const struct ike_payload_ref *rn = ike_rx_find(rx, IKE_PT_NONCE);
	const struct ike_payload_ref *rtsi = ike_rx_find(rx, IKE_PT_TSI);
	const struct ike_payload_ref *rtsr = ike_rx_find(rx, IKE_PT_TSR);
	struct ike_child *old = create ? NULL : ike_sa_child_by_in(sa, req->child_spi);
	struct ike_sa_payload choice;
	struct ike_ts_list tsi, tsr;
	struct ike_suite suite;
	struct ike_ke ke;
	struct ike_blob nr;
	struct ike_child *c;
	uint8_t g_ir[IKE_DH_MAX_SHARED_LEN];
	size_t g_len = 0;
	bool ok;

	ok = rsa && rn && rtsi && rtsr && ike_sa_payload_decode(rsa, IKE_SA_CHOICE, &choice) == 0 &&
	     ike_nonce_decode(rn, &nr) == 0 && ike_ts_decode(rtsi, &tsi) == 0 &&
	     ike_ts_decode(rtsr, &tsr) == 0 &&
	     ike_proposal_accept(&sa->peer->esp, IKE_SUITE_ESP, true, &choice, &suite) == 0 &&
	     choice.p[0].spi_size == 4;
	/* PFS: a KE of the chosen group exactly when the suite has one (1.3.1). */
	if (ok && suite.dh != IKE_DH_NONE)
		ok = rke && ike_ke_decode(rke, &ke) == 0 && req->dh && ke.group == suite.dh &&
		     ike_dh_group(req->dh)->id == suite.dh &&
		     dh_shared(req->dh, &ke, g_ir, &g_len) == 0;
	c = ok ? ike_sa_child_new(sa) : NULL;
	if (c) {
		c->spi_in = req->new_spi_in;
		c->spi_out = ike_proposal_spi32(&choice.p[0]);
		c->suite = suite;
		c->established = rx->now;
		ike_ts_from_wire(&tsi, &c->ts_local);
		ike_ts_from_wire(&tsr, &c->ts_remote);
		if (!ike_ts_within(&c->ts_local, &req->ts_local) ||
		    !ike_ts_within(&c->ts_remote, &req->ts_remote) ||
		    ike_child_install(sa, c, true, g_ir, g_len, req->nonce, req->nonce_len, nr.data,
				      nr.len, old ? old->spi_in : 0, rx->out) < 0) {
			memset(c, 0, sizeof(*c));
			c = NULL;
		}
	}
	OPENSSL_cleanse(g_ir, sizeof(g_ir));
	if (!c) {
		LOG_WARNING(&sa->log, "%s: the answer does not fit our request",
			    create ? "new Child SA" : "Child SA rekey");
		/* The peer may have made it: ask it to delete the SPI it gave us? We cannot
		 * name it reliably; its own lifetime will end it. */
		if (old && old->state == IKE_CHILD_REKEYING && !old->collision)
			old->state = IKE_CHILD_INSTALLED;
		else if (old && old->collision)
			old->state = IKE_CHILD_REKEYED;
		return;
	}
	req->new_spi_in = 0;     /* the Child SA's now */
	if (!old)
		return;
	if (old->collision) {
		/* 2.8.1: compare our exchange's lower nonce with the peer's. */
		uint8_t mine[IKE_NONCE_MAX];
		size_t mine_len;

		lower_nonce(req->nonce, req->nonce_len, nr.data, nr.len, mine, &mine_len);
		old->collision = false;
		if (nonce_cmp(mine, mine_len, old->coll_nonce, old->coll_nonce_len) < 0) {
			LOG_INFO(&sa->log, "simultaneous Child SA rekey: our new SA %08x_i has the "
				 "lowest nonce; deleting it, the peer deletes %08x_i", c->spi_in,
				 old->spi_in);
			c->state = IKE_CHILD_REKEYED;
			(void)ike_sa_task_add(sa, IKE_TASK_DELETE_CHILD, c->spi_in);
			old->state = IKE_CHILD_REKEYED;
			old->expire_at = rx->now + IKE_REKEYED_TIMEOUT;
		} else {
			LOG_INFO(&sa->log, "simultaneous Child SA rekey: our new SA %08x_i survives; "
				 "deleting %08x_i", c->spi_in, old->spi_in);
			old->state = IKE_CHILD_REKEYED;
			(void)ike_sa_task_add(sa, IKE_TASK_DELETE_CHILD, old->spi_in);
		}
		return;
	}
	/* 2.8: the initiator of the rekey deletes the old SA. */
	old->state = IKE_CHILD_REKEYED;
	(void)ike_sa_task_add(sa, IKE_TASK_DELETE_CHILD, old->spi_in);
	(void)e;
}

int ike_child_response(struct ike_sa *sa, struct ike_rx *rx, struct ike_request *req)
{
	struct ike_notify n;
	struct ike_child *old = ike_sa_child_by_in(sa, req->child_spi);
	uint16_t errn = ike_rx_error_notify(rx), group;
	char name[NAME_BUF_SIZE];

	if (req->task == IKE_TASK_REKEY_CHILD && req->child_spi == 0)
		old = NULL;
	if (!ike_rx_find(rx, IKE_PT_SA) && errn) {
		/* 1.3, 2.7: INVALID_KE_PAYLOAD -> once more with the group asked for. */
		if (errn == IKE_N_INVALID_KE_PAYLOAD && ike_rx_notify(rx, errn, &n) == 0 &&
		    ike_notify_invalid_ke(&n, &group) == 0 && !req->dh_group_forced &&
		    ike_proposal_has_group(req->task == IKE_TASK_REKEY_IKE ? &sa->peer->ike :
					   &sa->peer->esp, group)) {
			struct ike_task_item t = { req->task, req->child_spi, group };

			LOG_INFO(&sa->log, "the peer wants DH group %u: retrying", group);
			(void)ike_sa_task_push_front(sa, &t);
			return 0;
		}
		LOG_WARNING(&sa->log, "%s refused: %s",
			    req->task == IKE_TASK_REKEY_IKE ? "IKE SA rekey" :
			    req->task == IKE_TASK_REKEY_CHILD ? "Child SA rekey" : "new Child SA",
			    ike_notify_name(errn, name, sizeof(name)));
		if (req->task == IKE_TASK_REKEY_IKE) {
			if (sa->coll.active) {
				ike_child_rekey_adopt(sa, rx->now, rx->out);
				return 0;
			}
			/* 2.25: wait, then try again (a few minutes at most). */
			if (errn == IKE_N_TEMPORARY_FAILURE)
				sa->rekey_at = rx->now + IKE_RETRY_DELAY;
			return 0;
		}
		if (req->task == IKE_TASK_REKEY_CHILD && old) {
			if (old->collision) {
				/* 2.8.1: the peer's rekey of it completed: it deletes the old SA. */
				old->collision = false;
				old->state = IKE_CHILD_REKEYED;
				old->expire_at = rx->now + IKE_REKEYED_TIMEOUT;
			} else if (errn == IKE_N_CHILD_SA_NOT_FOUND) {
				/* 2.25: drop ours and make a new one from scratch. */
				ike_sa_child_remove(sa, old, true, rx->out);
				(void)ike_sa_task_add(sa, IKE_TASK_CREATE_CHILD, 0);
			} else if (old->state == IKE_CHILD_REKEYING) {
				old->state = IKE_CHILD_INSTALLED;
				if (errn == IKE_N_TEMPORARY_FAILURE)
					old->retry_at = rx->now + IKE_RETRY_DELAY;
			}
		}
		return 0;
	}
	if (req->task == IKE_TASK_REKEY_IKE)
		rekey_ike_done(sa, rx, req);
	else
		rekey_child_done(sa, rx, req, req->task == IKE_TASK_CREATE_CHILD);
	return 0;
}

/* --- responder ------------------------------------------------------------------------------ */

/* 2.25.2: Child SA requests get TEMPORARY_FAILURE while we rekey or close the IKE SA. */
static bool ike_sa_busy(const struct ike_sa *sa)
{
	return sa->state != IKE_SA_ESTABLISHED ||
	       (sa->req.active && (sa->req.task == IKE_TASK_REKEY_IKE ||
				   sa->req.task == IKE_TASK_DELETE_IKE));
}

static int rekey_ike_request(struct ike_sa *sa, struct ike_rx *rx,
			     const struct ike_sa_payload *offer, const struct ike_ke *ke,
			     const struct ike_blob *ni)
{
	struct ike_engine *e = sa->e;
	const struct ike_peer_cfg *p = sa->peer;
	struct ike_out_msg *o = &e->om;
	const struct ike_proposal *prop = NULL;
	struct ike_sa_payload choice;
	struct ike_suite suite;
	struct ike_dh *dh = NULL;
	struct ike_sa *nsa;
	uint8_t g_ir[IKE_DH_MAX_SHARED_LEN], nr[IKE_NONCE_MAX], spi[8];
	size_t g_len = 0, nr_len = 0;
	uint64_t spi_r, spi_i;
	bool collision = false;
	int err;

	/* 2.25.1 / 2.25.2 */
	if (sa->state != IKE_SA_ESTABLISHED ||
	    (sa->req.active && sa->req.task != IKE_TASK_REKEY_IKE && sa->req.task != IKE_TASK_DPD)) {
		LOG_INFO(&sa->log, "IKE SA rekey while we %s: TEMPORARY_FAILURE",
			 sa->state != IKE_SA_ESTABLISHED ? "close this SA" :
			 "have a Child SA exchange open");
		return ike_sa_send_notify_response(sa, rx, IKE_N_TEMPORARY_FAILURE, NULL, 0);
	}
	collision = sa->req.active && sa->req.task == IKE_TASK_REKEY_IKE;
	if (ike_proposal_select(&p->ike, IKE_SUITE_IKE, true, offer, &suite, &prop) < 0 ||
	    prop->spi_size != 8 || !(spi_i = ike_proposal_spi64(prop))) {
		e->st.no_proposal++;
		LOG_WARNING(&sa->log, "IKE SA rekey: no proposal in common");
		return ike_sa_send_notify_response(sa, rx, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
	}
	if (ke->group != suite.dh) {
		uint16_t g = suite.dh;
		uint8_t d[2] = { (uint8_t)(g >> 8), (uint8_t)g };

		return ike_sa_send_notify_response(sa, rx, IKE_N_INVALID_KE_PAYLOAD, d, 2);
	}
	err = ike_dh_new(suite.dh, &dh);
	if (err == 0)
		err = dh_shared(dh, ke, g_ir, &g_len);
	if (err == 0)
		err = ike_engine_nonce(e, nr, &nr_len);
	if (err == 0)
		err = ike_engine_new_ike_spi(e, &spi_r);
	if (err < 0) {
		ike_dh_free(dh);
		OPENSSL_cleanse(g_ir, sizeof(g_ir));
		return ike_sa_send_notify_response(sa, rx, err == -EINVAL ? IKE_N_INVALID_SYNTAX :
						   IKE_N_NO_ADDITIONAL_SAS, NULL, 0);
	}
	nsa = rekeyed_sa(sa, false, spi_i, spi_r, &suite, g_ir, g_len, ni->data, ni->len, nr,
			 nr_len, rx->now);
	OPENSSL_cleanse(g_ir, sizeof(g_ir));
	be64(spi_r, spi);
	err = nsa ? ike_proposal_choice(&suite, IKE_SUITE_IKE, true, prop->num, spi, 8, &choice)
		  : -ENOMEM;
	if (err == 0)
		err = ike_msg_begin(sa, o, IKE_EXCH_CREATE_CHILD_SA, true, rx->m->hdr.msg_id);
	if (err == 0)
		err = ike_sa_payload_encode(&o->b, &choice);
	if (err == 0)
		err = ike_nonce_encode(&o->b, nr, nr_len);
	if (err == 0)
		err = add_ke(&o->b, dh);
	if (err == 0)
		err = ike_msg_end(sa, o);
	ike_dh_free(dh);
	if (err < 0) {
		if (nsa)
			ike_engine_sa_discard(nsa);
		return ike_sa_send_notify_response(sa, rx, IKE_N_NO_ADDITIONAL_SAS, NULL, 0);
	}
	if (collision) {
		/* 2.8.2: answer as usual; decide when our own exchange completes. */
		if (sa->coll.active && sa->coll.sa)
			ike_sa_kill(sa->coll.sa, "superseded", rx->out);
		sa->coll.active = true;
		sa->coll.sa = nsa;
		nsa->rekey_parent = sa;
		lower_nonce(ni->data, ni->len, nr, nr_len, sa->coll.nonce, &sa->coll.nonce_len);
		LOG_INFO(&sa->log, "simultaneous IKE SA rekey: answered the peer's, waiting for ours");
		return ike_sa_send_response(sa, o, rx);
	}
	/* Actions: SA_UP of the new SA, then our answer (on the old SA). */
	ike_rekey_finish(sa, nsa, false, rx->now, rx->out);
	return ike_sa_send_response(sa, o, rx);
}

int ike_child_request(struct ike_sa *sa, struct ike_rx *rx)
{
	struct ike_engine *e = sa->e;
	const struct ike_peer_cfg *p = sa->peer;
	const struct ike_payload_ref *rsa = ike_rx_find(rx, IKE_PT_SA);
	const struct ike_payload_ref *rke = ike_rx_find(rx, IKE_PT_KE);
	const struct ike_payload_ref *rn = ike_rx_find(rx, IKE_PT_NONCE);
	const struct ike_payload_ref *rtsi = ike_rx_find(rx, IKE_PT_TSI);
	const struct ike_payload_ref *rtsr = ike_rx_find(rx, IKE_PT_TSR);
	struct ike_out_msg *o = &e->om;
	const struct ike_proposal *prop = NULL;
	struct ike_sa_payload offer, choice;
	struct ike_ts_list tsi, tsr;
	struct ike_ts4_list want_i, want_r, allow_i, allow_r;
	struct ike_notify rn_rekey;
	struct ike_suite suite;
	struct ike_ke ke;
	struct ike_blob ni;
	struct ike_child *old = NULL, *c;
	struct ike_dh *dh = NULL;
	uint8_t g_ir[IKE_DH_MAX_SHARED_LEN], nr[IKE_NONCE_MAX], spi[4];
	size_t g_len = 0, nr_len = 0;
	uint32_t spi_in = 0, rekey_spi = 0;
	uint8_t rekey_proto = 0;
	bool have_ke, collision = false;
	int err;

	if (!p || !rsa || !rn || ike_sa_payload_decode(rsa, IKE_SA_OFFER, &offer) < 0 ||
	    ike_nonce_decode(rn, &ni) < 0 || offer.n_proposals == 0)
		return ike_sa_send_notify_response(sa, rx, IKE_N_INVALID_SYNTAX, NULL, 0);
	have_ke = rke && ike_ke_decode(rke, &ke) == 0;
	if (rke && !have_ke)
		return ike_sa_send_notify_response(sa, rx, IKE_N_INVALID_SYNTAX, NULL, 0);
	/* 1.3.2: an IKE SA rekey has an IKE proposal (with the new SPI) and no selectors. */
	if (offer.p[0].protocol == IKE_PROTO_IKE) {
		if (!have_ke)
			return ike_sa_send_notify_response(sa, rx, IKE_N_INVALID_SYNTAX, NULL, 0);
		return rekey_ike_request(sa, rx, &offer, &ke, &ni);
	}
	if (!rtsi || !rtsr || ike_ts_decode(rtsi, &tsi) < 0 || ike_ts_decode(rtsr, &tsr) < 0)
		return ike_sa_send_notify_response(sa, rx, IKE_N_INVALID_SYNTAX, NULL, 0);
	if (ike_sa_busy(sa)) {
		LOG_INFO(&sa->log, "Child SA request while we rekey or close the IKE SA: "
			 "TEMPORARY_FAILURE");
		return ike_sa_send_notify_response(sa, rx, IKE_N_TEMPORARY_FAILURE, NULL, 0);
	}
	if (ike_rx_notify(rx, IKE_N_REKEY_SA, &rn_rekey) == 0 &&
	    ike_notify_rekey_sa(&rn_rekey, &rekey_proto, &rekey_spi) == 0) {
		/* 1.3.3: the SPI the peer receives on, i.e. the one we send with. */
		old = rekey_proto == IKE_PROTO_ESP ? ike_sa_child_by_out(sa, rekey_spi) : NULL;
		if (!old) {
			struct ike_notify nf;
			struct ike_builder *b = &o->b;

			LOG_INFO(&sa->log, "rekey of Child SA %08x_o, which we do not have: "
				 "CHILD_SA_NOT_FOUND", rekey_spi);
			memset(&nf, 0, sizeof(nf));
			nf.protocol = rekey_proto;
			nf.spi_size = 4;
			be32(rekey_spi, nf.spi);
			nf.type = IKE_N_CHILD_SA_NOT_FOUND;
			err = ike_msg_begin(sa, o, IKE_EXCH_CREATE_CHILD_SA, true, rx->m->hdr.msg_id);
			if (err == 0)
				err = ike_notify_encode(b, &nf);
			if (err == 0)
				err = ike_msg_end(sa, o);
			return err ? err : ike_sa_send_response(sa, o, rx);
		}
		if (old->state == IKE_CHILD_DELETING || old->state == IKE_CHILD_REKEYED) {
			/* 2.25.1: we are closing it. */
			LOG_INFO(&sa->log, "rekey of Child SA %08x_i, which we are closing: "
				 "TEMPORARY_FAILURE", old->spi_in);
			return ike_sa_send_notify_response(sa, rx, IKE_N_TEMPORARY_FAILURE, NULL, 0);
		}
		if (old->state == IKE_CHILD_REKEYING) {
			if (sa->req.active && sa->req.task == IKE_TASK_REKEY_CHILD &&
			    sa->req.child_spi == old->spi_in) {
				/* 2.8.1: answer as usual, decide by the nonces later. */
				collision = true;
			} else {
				/* Ours was only queued: the peer's rekey does the job. */
				for (size_t i = 0; i < sa->ntasks; i++) {
					if (sa->tasks[i].task == IKE_TASK_REKEY_CHILD &&
					    sa->tasks[i].child_spi == old->spi_in) {
						memmove(&sa->tasks[i], &sa->tasks[i + 1],
							(sa->ntasks - i - 1) * sizeof(sa->tasks[0]));
						sa->ntasks--;
						break;
					}
				}
				old->state = IKE_CHILD_INSTALLED;
			}
		}
	}
	if (ike_proposal_select(&p->esp, IKE_SUITE_ESP, true, &offer, &suite, &prop) < 0 ||
	    prop->spi_size != 4) {
		e->st.no_proposal++;
		LOG_WARNING(&sa->log, "CREATE_CHILD_SA: no ESP proposal in common");
		return ike_sa_send_notify_response(sa, rx, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
	}
	if (suite.dh != IKE_DH_NONE && (!have_ke || ke.group != suite.dh)) {
		uint8_t d[2] = { (uint8_t)(suite.dh >> 8), (uint8_t)suite.dh };

		LOG_INFO(&sa->log, "CREATE_CHILD_SA: KE group %u, we chose %u: INVALID_KE_PAYLOAD",
			 have_ke ? ke.group : 0, suite.dh);
		return ike_sa_send_notify_response(sa, rx, IKE_N_INVALID_KE_PAYLOAD, d, 2);
	}
	/* 2.9: narrow. A rekey keeps the old SA's selectors (2.8). */
	ike_ts_from_wire(&tsi, &want_i);
	ike_ts_from_wire(&tsr, &want_r);
	if (old) {
		allow_i = old->ts_remote;
		allow_r = old->ts_local;
	} else {
		if (!sa->initiator && sa->inner_addr.s_addr)
			ike_ts4_host(&allow_i, sa->inner_addr);
		else if (p->remote_ts.n)
			allow_i = p->remote_ts;
		else
			ike_ts4_any(&allow_i);
		if (p->local_ts.n)
			allow_r = p->local_ts;
		else if (sa->initiator && sa->inner_addr.s_addr)
			ike_ts4_host(&allow_r, sa->inner_addr);
		else
			ike_ts4_any(&allow_r);
	}
	c = ike_sa_child_new(sa);
	if (!c)
		return ike_sa_send_notify_response(sa, rx, IKE_N_NO_ADDITIONAL_SAS, NULL, 0);
	if (ike_ts_narrow(&want_i, &allow_i, &c->ts_remote) < 0 ||
	    ike_ts_narrow(&want_r, &allow_r, &c->ts_local) < 0) {
		memset(c, 0, sizeof(*c));
		LOG_WARNING(&sa->log, "CREATE_CHILD_SA: traffic selectors do not fit: "
			    "TS_UNACCEPTABLE");
		return ike_sa_send_notify_response(sa, rx, IKE_N_TS_UNACCEPTABLE, NULL, 0);
	}
	err = ike_engine_nonce(e, nr, &nr_len);
	if (err == 0 && suite.dh != IKE_DH_NONE) {
		err = ike_dh_new(suite.dh, &dh);
		if (err == 0)
			err = dh_shared(dh, &ke, g_ir, &g_len);
	}
	if (err == 0)
		err = ike_engine_new_esp_spi(e, &spi_in);
	if (err == 0)
		err = ike_engine_child_index(e, sa, spi_in);
	if (err < 0) {
		memset(c, 0, sizeof(*c));
		ike_dh_free(dh);
		OPENSSL_cleanse(g_ir, sizeof(g_ir));
		return ike_sa_send_notify_response(sa, rx, err == -EINVAL ? IKE_N_INVALID_SYNTAX :
						   IKE_N_NO_ADDITIONAL_SAS, NULL, 0);
	}
	c->state = IKE_CHILD_INSTALLED;
	c->spi_in = spi_in;
	c->spi_out = ike_proposal_spi32(prop);
	c->suite = suite;
	c->established = rx->now;
	be32(spi_in, spi);
	err = ike_proposal_choice(&suite, IKE_SUITE_ESP, true, prop->num, spi, 4, &choice);
	if (err == 0)
		err = ike_msg_begin(sa, o, IKE_EXCH_CREATE_CHILD_SA, true, rx->m->hdr.msg_id);
	if (err == 0)
		err = ike_sa_payload_encode(&o->b, &choice);
	if (err == 0)
		err = ike_nonce_encode(&o->b, nr, nr_len);
	if (err == 0 && dh)
		err = add_ke(&o->b, dh);
	if (err == 0) {
		ike_ts_to_wire(&c->ts_remote, &tsi);
		ike_ts_to_wire(&c->ts_local, &tsr);
		err = ike_ts_encode(&o->b, IKE_PT_TSI, &tsi);
		if (err == 0)
			err = ike_ts_encode(&o->b, IKE_PT_TSR, &tsr);
	}
	if (err == 0)
		err = ike_msg_end(sa, o);
	ike_dh_free(dh);
	/* CHILD_UP before the answer that lets the peer use it (2.8). */
	if (err == 0)
		err = ike_child_install(sa, c, false, g_ir, g_len, ni.data, ni.len, nr, nr_len,
					old ? old->spi_in : 0, rx->out);
	OPENSSL_cleanse(g_ir, sizeof(g_ir));
	if (err < 0) {
		ike_sa_child_remove(sa, c, false, rx->out);
		return ike_sa_send_notify_response(sa, rx, IKE_N_NO_ADDITIONAL_SAS, NULL, 0);
	}
	if (old && collision) {
		old->collision = true;
		old->coll_spi_in = c->spi_in;
		lower_nonce(ni.data, ni.len, nr, nr_len, old->coll_nonce, &old->coll_nonce_len);
		LOG_INFO(&sa->log, "simultaneous rekey of Child SA %08x_i: answered the peer's",
			 old->spi_in);
	} else if (old) {
		/* The peer, the rekey initiator, deletes the old SA (2.8). */
		old->state = IKE_CHILD_REKEYED;
		old->expire_at = rx->now + IKE_REKEYED_TIMEOUT;
	}
	return ike_sa_send_response(sa, o, rx);
}
