/* The IKEv2 engine: dispatch by SPI, message IDs and retransmission (RFC 7296 2.1-2.4),
 * half-open limits and cookies by load (2.6), timers, actions, stats. See engine.h; the
 * exchanges themselves are in sa_init.c, auth.c, child.c and info.c.
 */
#include "ike/engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/names.h"
#include "ike/engine_priv.h"
#include "ike/keylog.h"
#include "ike/rules.h"

#define DEFAULT_COOKIE_THRESHOLD 32
#define DEFAULT_HALF_OPEN_MAX    4096
#define DEFAULT_MAX_SAS          65536
#define DEFAULT_RETRANSMIT_BASE  MM_SEC(1)    /* 2.1, 2.4 */
#define DEFAULT_RETRANSMIT_TRIES 6
#define TIMER_ROOM_ACTIONS       (IKE_SA_MAX_CHILDREN + 4)

/* --- small helpers ------------------------------------------------------------------------ */

static void out_reset(struct ike_actions *out)
{
	out->n = 0;
	out->buf_len = 0;
}

const char *ike_ep_str(const struct ike_endpoint *ep, char *buf, size_t size)
{
	char a[INET_ADDRSTRLEN] = "?";

	if (ep)
		inet_ntop(AF_INET, &ep->addr, a, sizeof(a));
	snprintf(buf, size, "%s:%u", a, ep ? ep->port : 0);
	return buf;
}

void ike_drop(struct ike_engine *e, const struct ike_sa *sa, const struct ike_endpoint *from,
	      uint64_t *counter, enum log_level level, const char *fmt, ...)
{
	char why[256], ep[32];
	va_list ap;

	if (counter)
		(*counter)++;
	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_msg(sa ? &sa->log : &e->log, level, "dropped a message from %s: %s",
		ike_ep_str(from, ep, sizeof(ep)), why);
}

int ike_engine_random(struct ike_engine *e, void *buf, size_t len)
{
	if (e->cfg.ops.random)
		return e->cfg.ops.random(e->cfg.ops.user, buf, len);
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

int ike_engine_new_ike_spi(struct ike_engine *e, uint64_t *spi)
{
	for (int i = 0; i < 16; i++) {
		uint64_t v;
		int err = ike_engine_random(e, &v, sizeof(v));

		if (err < 0)
			return err;
		if (v && !ike_spimap_get(&e->by_own, v)) {
			*spi = v;
			return 0;
		}
	}
	return -EAGAIN;
}

int ike_engine_new_esp_spi(struct ike_engine *e, uint32_t *spi)
{
	for (int i = 0; i < 16; i++) {
		uint32_t v;
		int err = ike_engine_random(e, &v, sizeof(v));

		if (err < 0)
			return err;
		/* RFC 4303 2.1: 1-255 are reserved, 0 is "no SA". */
		if (v >= 256 && !ike_spimap_get(&e->by_child, v)) {
			*spi = v;
			return 0;
		}
	}
	return -EAGAIN;
}

int ike_engine_nonce(struct ike_engine *e, uint8_t *out, size_t *len)
{
	int err = ike_engine_random(e, out, IKE_OUR_NONCE_LEN);

	if (err == 0)
		*len = IKE_OUR_NONCE_LEN;
	return err;
}

/* --- tables --------------------------------------------------------------------------------- */

static uint64_t own_spi(const struct ike_sa *sa)
{
	return sa->initiator ? sa->spi_i : sa->spi_r;
}

int ike_engine_index_own(struct ike_engine *e, struct ike_sa *sa)
{
	return ike_spimap_put(&e->by_own, own_spi(sa), sa);
}

void ike_engine_index_responder(struct ike_engine *e, struct ike_sa *sa)
{
	/* The API handle of a responder SA is the peer's SPIi; a second SA with the same SPIi
	 * (a peer reusing one) stays reachable by its SPIr from the network only. */
	if (!sa->initiator)
		(void)ike_spimap_put(&e->by_spi_i, sa->spi_i, sa);
}

int ike_engine_child_index(struct ike_engine *e, struct ike_sa *sa, uint32_t spi_in)
{
	return ike_spimap_put(&e->by_child, spi_in, sa);
}

void ike_engine_child_unindex(struct ike_engine *e, struct ike_sa *sa, uint32_t spi_in)
{
	ike_spimap_del(&e->by_child, spi_in, sa);
}

uint64_t ike_engine_half_open_key(uint64_t spi_i, const struct ike_endpoint *from)
{
	uint64_t k = spi_i ^ (((uint64_t)ntohl(from->addr.s_addr) << 16 | from->port) *
			      UINT64_C(0x9e3779b97f4a7c15));

	return k ? k : 1;
}

void ike_engine_half_open_add(struct ike_engine *e, struct ike_sa *sa)
{
	(void)ike_spimap_put(&e->half_open, ike_engine_half_open_key(sa->spi_i, &sa->remote), sa);
}

void ike_engine_half_open_del(struct ike_engine *e, struct ike_sa *sa)
{
	ike_spimap_del(&e->half_open, ike_engine_half_open_key(sa->spi_i, &sa->remote), sa);
}

/* SPIs a request reserved (a proposed ESP SPI, an IKE rekey's new SPI) that did not become
 * an SA's. */
static void release_request_spis(struct ike_engine *e, struct ike_sa *sa,
				 struct ike_request *r)
{
	if (r->new_spi_in && !ike_sa_child_by_in(sa, r->new_spi_in))
		ike_engine_child_unindex(e, sa, r->new_spi_in);
	if (r->new_ike_spi)
		ike_spimap_del(&e->by_own, r->new_ike_spi, sa);
	r->new_spi_in = 0;
	r->new_ike_spi = 0;
}

static void unindex_all(struct ike_engine *e, struct ike_sa *sa)
{
	ike_spimap_del(&e->by_own, own_spi(sa), sa);
	ike_spimap_del(&e->by_spi_i, sa->spi_i, sa);
	ike_engine_half_open_del(e, sa);
	for (size_t i = 0; i < IKE_SA_MAX_CHILDREN; i++)
		if (sa->child[i].state != IKE_CHILD_FREE)
			ike_engine_child_unindex(e, sa, sa->child[i].spi_in);
	release_request_spis(e, sa, &sa->req);
}

/* --- timer heap ----------------------------------------------------------------------------- */

static void heap_swap(struct ike_engine *e, size_t a, size_t b)
{
	struct ike_sa *t = e->heap[a];

	e->heap[a] = e->heap[b];
	e->heap[b] = t;
	e->heap[a]->heap_idx = a;
	e->heap[b]->heap_idx = b;
}

static void heap_up(struct ike_engine *e, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (e->heap[p]->due <= e->heap[i]->due)
			break;
		heap_swap(e, p, i);
		i = p;
	}
}

static void heap_down(struct ike_engine *e, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < e->heap_n && e->heap[l]->due < e->heap[m]->due)
			m = l;
		if (r < e->heap_n && e->heap[r]->due < e->heap[m]->due)
			m = r;
		if (m == i)
			return;
		heap_swap(e, i, m);
		i = m;
	}
}

static int heap_add(struct ike_engine *e, struct ike_sa *sa)
{
	if (e->heap_n == e->heap_cap) {
		size_t cap = e->heap_cap ? 2 * e->heap_cap : 64;
		struct ike_sa **h = realloc(e->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		e->heap = h;
		e->heap_cap = cap;
	}
	sa->heap_idx = e->heap_n;
	e->heap[e->heap_n++] = sa;
	heap_up(e, sa->heap_idx);
	return 0;
}

static void heap_del(struct ike_engine *e, struct ike_sa *sa)
{
	size_t i = sa->heap_idx;

	if (i == SIZE_MAX || i >= e->heap_n || e->heap[i] != sa)
		return;
	e->heap_n--;
	if (i != e->heap_n) {
		e->heap[i] = e->heap[e->heap_n];
		e->heap[i]->heap_idx = i;
		heap_down(e, i);
		heap_up(e, i);
	}
	sa->heap_idx = SIZE_MAX;
}

static mm_time_ns min_t(mm_time_ns a, mm_time_ns b)
{
	return a < b ? a : b;
}

void ike_sa_schedule(struct ike_sa *sa)
{
	struct ike_engine *e = sa->e;
	mm_time_ns due = IKE_TIME_NEVER;

	if (sa->state == IKE_SA_DEAD)
		return;
	if (sa->mob.deferred) {
		/* MOBIKE, no usable address: nothing is sent, so no retransmission, liveness
		 * check or rekey is due; only local expiry goes on. */
		if (sa->state == IKE_SA_REKEYED || sa->state == IKE_SA_DELETING)
			due = sa->expire_at;
		goto set;
	}
	if (sa->req.active)
		due = min_t(due, sa->req.retransmit_at);
	if (sa->state == IKE_SA_INIT_DONE)
		due = min_t(due, sa->created + IKE_HALF_OPEN_TIMEOUT);
	if (sa->state == IKE_SA_ESTABLISHED) {
		due = min_t(due, sa->rekey_at);
		if (sa->peer && sa->peer->dpd_interval_s && !sa->req.active && sa->ntasks == 0)
			due = min_t(due, sa->last_rx + MM_SEC(sa->peer->dpd_interval_s));
		for (size_t i = 0; i < IKE_SA_MAX_CHILDREN; i++) {
			const struct ike_child *c = &sa->child[i];

			if (c->state == IKE_CHILD_FREE)
				continue;
			if (c->state == IKE_CHILD_REKEYED)
				due = min_t(due, c->expire_at);
			due = min_t(due, c->retry_at);
		}
	}
	if (sa->state == IKE_SA_REKEYED || sa->state == IKE_SA_DELETING)
		due = min_t(due, sa->expire_at);
	/* Tasks that could not start yet (no room for their actions): at the next timer. */
	if (!sa->req.active && ((sa->ntasks &&
				 (sa->state == IKE_SA_ESTABLISHED || sa->state == IKE_SA_REKEYED)) ||
				ike_mobike_task_due(sa)))
		due = 0;
set:
	sa->due = due;
	if (sa->heap_idx != SIZE_MAX && sa->heap_idx < e->heap_n) {
		heap_up(e, sa->heap_idx);
		heap_down(e, sa->heap_idx);
	}
}

/* --- actions -------------------------------------------------------------------------------- */

bool ike_actions_room(const struct ike_actions *out, size_t nact, size_t bytes)
{
	return out->n + nact <= IKE_ACTIONS_MAX && out->buf_len + bytes <= sizeof(out->buf);
}

static struct ike_action *act_new(struct ike_actions *out, enum ike_action_kind kind)
{
	struct ike_action *a;

	if (out->n >= IKE_ACTIONS_MAX) {
		static const struct logger lg = { "ike" };

		LOG_ERROR(&lg, "action list full: an action was lost (kind %d)", (int)kind);
		return NULL;
	}
	a = &out->a[out->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

int ike_act_send(struct ike_actions *out, const struct ike_endpoint *local,
		 const struct ike_endpoint *remote, const uint8_t *msg, size_t len)
{
	struct ike_action *a;

	if (len > sizeof(out->buf) - out->buf_len || out->n >= IKE_ACTIONS_MAX) {
		static const struct logger lg = { "ike" };

		LOG_ERROR(&lg, "action buffer full: a message of %zu octets was not sent", len);
		return -ENOSPC;
	}
	a = act_new(out, IKE_ACT_SEND);
	a->u.send.local = *local;
	a->u.send.remote = *remote;
	a->u.send.off = out->buf_len;
	a->u.send.len = len;
	memcpy(out->buf + out->buf_len, msg, len);
	out->buf_len += len;
	return 0;
}

int ike_act_sa(struct ike_actions *out, enum ike_action_kind kind, const struct ike_sa *sa,
	       const char *reason)
{
	struct ike_action *a = act_new(out, kind);

	if (!a)
		return -ENOSPC;
	ike_sa_info_fill(sa, &a->u.sa);
	if (reason)
		snprintf(a->text, sizeof(a->text), "%s", reason);
	return 0;
}

int ike_act_child_up(struct ike_actions *out, const struct ike_sa *sa,
		     const struct ike_child *c, const struct ike_child_keys *k,
		     bool we_initiated, uint32_t replaces)
{
	struct ike_action *a = act_new(out, IKE_ACT_CHILD_UP);
	struct ike_child_info *ci;

	if (!a)
		return -ENOSPC;
	ci = &a->u.child;
	ci->ike_spi_i = sa->spi_i;
	ci->ike_spi_r = sa->spi_r;
	ci->spi_in = c->spi_in;
	ci->spi_out = c->spi_out;
	ci->suite = c->suite;
	/* 2.17: the "i" keys protect traffic from the initiator of the exchange that made the
	 * SA to its responder. */
	memcpy(we_initiated ? ci->key_out : ci->key_in, k->encr_i, k->encr_len);
	memcpy(we_initiated ? ci->key_in : ci->key_out, k->encr_r, k->encr_len);
	memcpy(we_initiated ? ci->integ_out : ci->integ_in, k->integ_i, k->integ_len);
	memcpy(we_initiated ? ci->integ_in : ci->integ_out, k->integ_r, k->integ_len);
	ci->key_len = k->encr_len;
	ci->integ_len = k->integ_len;
	ci->ts_local = c->ts_local;
	ci->ts_remote = c->ts_remote;
	ci->local = sa->local;
	ci->remote = sa->remote;
	ci->udp_encap = sa->natt;
	ci->lifetime_s = sa->peer ? sa->peer->child_lifetime_s : 0;
	ci->replaces_spi_in = replaces;
	return 0;
}

int ike_act_child_down(struct ike_actions *out, const struct ike_sa *sa,
		       const struct ike_child *c)
{
	struct ike_action *a = act_new(out, IKE_ACT_CHILD_DOWN);

	if (!a)
		return -ENOSPC;
	a->u.child.ike_spi_i = sa->spi_i;
	a->u.child.ike_spi_r = sa->spi_r;
	a->u.child.spi_in = c->spi_in;
	a->u.child.spi_out = c->spi_out;
	a->u.child.suite = c->suite;
	a->u.child.ts_local = c->ts_local;
	a->u.child.ts_remote = c->ts_remote;
	a->u.child.local = sa->local;
	a->u.child.remote = sa->remote;
	return 0;
}

void ike_act_keylog(struct ike_actions *out, const struct ike_sa *sa)
{
	struct ike_action *a;

	if (!sa->e->cfg.keylog || !sa->have_keys)
		return;
	a = act_new(out, IKE_ACT_KEYLOG);
	if (!a)
		return;
	if (ike_keylog_line(sa->spi_i, sa->spi_r, &sa->algs, &sa->keys, a->text,
			    sizeof(a->text)) < 0)
		out->n--;
}

void ike_actions_clear(struct ike_actions *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n && i < IKE_ACTIONS_MAX; i++) {
		if (a->a[i].kind == IKE_ACT_CHILD_UP)
			OPENSSL_cleanse(&a->a[i].u.child, sizeof(a->a[i].u.child));
		if (a->a[i].kind == IKE_ACT_KEYLOG)
			OPENSSL_cleanse(a->a[i].text, sizeof(a->a[i].text));
	}
	a->n = 0;
	a->buf_len = 0;
}

/* --- messages ------------------------------------------------------------------------------- */

int ike_msg_begin(struct ike_sa *sa, struct ike_out_msg *o, uint8_t exchange, bool response,
		  uint32_t msg_id)
{
	struct ike_header h;
	int err;

	memset(&h, 0, sizeof(h));
	h.spi_i = sa->spi_i;
	h.spi_r = sa->spi_r;
	h.exchange = exchange;
	/* 3.1: I set by the original initiator (the rekey initiator after an IKE rekey). */
	h.flags = (uint8_t)((sa->initiator ? IKE_FLAG_I : 0) | (response ? IKE_FLAG_R : 0));
	h.msg_id = msg_id;
	writer_init(&o->w, o->buf, sizeof(o->buf));
	o->sk = false;
	o->len = 0;
	err = ike_build_start(&o->b, &o->w, &h);
	if (err < 0 || exchange == IKE_EXCH_SA_INIT)
		return err;
	if (!sa->have_keys)
		return -EINVAL;
	o->sk = true;
	err = ike_build_sk_begin(&o->b, IKE_PT_SK, 0, 0, 0);
	if (err < 0)
		return err;
	return ike_sk_protect_begin(&sa->sk_out, &o->w, o->b.start, o->b.sk_off,
				    IKE_SK_ENCRYPTED, &o->f);
}

int ike_msg_end(struct ike_sa *sa, struct ike_out_msg *o)
{
	int err;

	if (!o->sk)
		return ike_build_finish(&o->b, &o->len);
	err = ike_build_sk_close(&o->b);
	if (err < 0)
		return err;
	err = ike_sk_protect_end(&sa->sk_out, &o->w, &o->f);
	if (err < 0)
		return err;
	o->len = writer_len(&o->w);
	return 0;
}

int ike_sa_send_request(struct ike_sa *sa, struct ike_out_msg *o, enum ike_task task,
			mm_time_ns now, struct ike_actions *out)
{
	struct ike_engine *e = sa->e;
	struct ike_request *r = &sa->req;
	int err;

	if (o->len < IKE_HDR_LEN)
		return -EINVAL;
	err = ike_sa_copy_msg(&r->msg, &r->len, o->buf, o->len);
	if (err < 0)
		return err;
	r->active = true;
	r->task = task;
	r->exchange = o->buf[18];
	r->msg_id = sa->next_req_id++;
	r->sends = 1;
	r->retransmit_at = now + e->cfg.retransmit_base;
	r->first_sent = now;
	/* The path: the SA's, or with MOBIKE the newest pair of a move (RFC 4555 3.5). */
	err = ike_mobike_transmit(sa, false, now, out);
	ike_sa_schedule(sa);
	return err;
}

int ike_sa_send_response(struct ike_sa *sa, struct ike_out_msg *o, const struct ike_rx *rx)
{
	int err = ike_sa_copy_msg(&sa->last_resp, &sa->last_resp_len, o->buf, o->len);

	if (err < 0)
		return err;
	sa->next_peer_id++;
	sa->e->st.tx++;
	return ike_act_send(rx->out, &rx->to, &rx->from, o->buf, o->len);
}

int ike_sa_send_notify_response(struct ike_sa *sa, const struct ike_rx *rx, uint16_t type,
				const void *data, size_t len)
{
	struct ike_out_msg *o = &sa->e->om;
	int err = ike_msg_begin(sa, o, rx->m->hdr.exchange, true, rx->m->hdr.msg_id);

	if (err == 0)
		err = ike_notify_add(&o->b, type, data, len);
	if (err == 0)
		err = ike_msg_end(sa, o);
	if (err == 0)
		err = ike_sa_send_response(sa, o, rx);
	return err;
}

/* --- received payloads ---------------------------------------------------------------------- */

const struct ike_payload_ref *ike_rx_find(const struct ike_rx *rx, uint8_t type)
{
	for (size_t i = 0; i < rx->pl->count; i++)
		if (rx->pl->p[i].type == type)
			return &rx->pl->p[i];
	return NULL;
}

bool ike_rx_has_our_vendor_id(const struct ike_rx *rx)
{
	for (size_t i = 0; i < rx->pl->count; i++) {
		struct ike_blob v;

		if (rx->pl->p[i].type == IKE_PT_VENDOR && ike_vendor_decode(&rx->pl->p[i], &v) == 0 &&
		    v.len == IKE_MM_VENDOR_ID_LEN && !memcmp(v.data, IKE_MM_VENDOR_ID, v.len))
			return true;
	}
	return false;
}

int ike_rx_notify(const struct ike_rx *rx, uint16_t type, struct ike_notify *n)
{
	for (size_t i = 0; i < rx->pl->count; i++) {
		struct ike_notify x;

		if (rx->pl->p[i].type != IKE_PT_NOTIFY)
			continue;
		if (ike_notify_decode(&rx->pl->p[i], &x) < 0)
			return -EBADMSG;
		if (x.type == type) {
			*n = x;
			return 0;
		}
	}
	return -ENOENT;
}

uint16_t ike_rx_error_notify(const struct ike_rx *rx)
{
	for (size_t i = 0; i < rx->pl->count; i++) {
		struct ike_notify x;

		if (rx->pl->p[i].type == IKE_PT_NOTIFY && ike_notify_decode(&rx->pl->p[i], &x) == 0 &&
		    ike_notify_is_error(x.type))
			return x.type;
	}
	return 0;
}

const char *ike_notify_name(uint16_t type, char *buf, size_t size)
{
	return name_or_number(&ikev2_notify_names, type, buf, size);
}

/* --- SA lifecycle --------------------------------------------------------------------------- */

void ike_sa_child_remove(struct ike_sa *sa, struct ike_child *c, bool announce,
			 struct ike_actions *out)
{
	if (c->state == IKE_CHILD_FREE)
		return;
	if (announce)
		ike_act_child_down(out, sa, c);
	ike_engine_child_unindex(sa->e, sa, c->spi_in);
	memset(c, 0, sizeof(*c));
	c->state = IKE_CHILD_FREE;
}

void ike_sa_kill(struct ike_sa *sa, const char *reason, struct ike_actions *out)
{
	struct ike_engine *e = sa->e;
	bool announce_down;

	if (sa->state == IKE_SA_DEAD)
		return;
	/* 2.8.2: a rekeyed SA the peer's exchange made, not yet announced, goes along; and
	 * when that SA goes first, the SA it was to replace forgets it. */
	if (sa->coll.active && sa->coll.sa) {
		struct ike_sa *other = sa->coll.sa;

		sa->coll.active = false;
		sa->coll.sa = NULL;
		other->rekey_parent = NULL;
		ike_sa_kill(other, "the SA it was to replace is gone", out);
	}
	if (sa->rekey_parent) {
		if (sa->rekey_parent->coll.sa == sa) {
			sa->rekey_parent->coll.active = false;
			sa->rekey_parent->coll.sa = NULL;
		}
		sa->rekey_parent = NULL;
	}
	for (size_t i = 0; i < IKE_SA_MAX_CHILDREN; i++)
		ike_sa_child_remove(sa, &sa->child[i], sa->announced, out);
	/* An initiator hears about its failed attempts too (to retry); a responder's half-open
	 * SAs that never completed are not announced. */
	announce_down = sa->announced ||
			(sa->initiator && !sa->replaces_spi_i &&
			 (sa->state == IKE_SA_NEW || sa->state == IKE_SA_INIT_SENT ||
			  sa->state == IKE_SA_AUTH_SENT));
	if (announce_down)
		ike_act_sa(out, IKE_ACT_SA_DOWN, sa, reason);
	if (sa->inner_leased && e->cfg.ops.pool_release) {
		e->cfg.ops.pool_release(e->cfg.ops.user, sa->inner_addr);
		sa->inner_leased = false;
	}
	unindex_all(e, sa);
	heap_del(e, sa);
	ike_request_clear(&sa->req);
	ike_sa_set_state(sa, IKE_SA_DEAD, reason);
}

void ike_sa_established(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	const struct ike_peer_cfg *p = sa->peer;

	if (sa->state == IKE_SA_INIT_DONE)
		ike_engine_half_open_del(sa->e, sa);
	ike_sa_set_state(sa, IKE_SA_ESTABLISHED, sa->replaces_spi_i ? "rekeyed" : "authenticated");
	sa->established = now;
	sa->last_rx = now;
	sa->rekey_at = IKE_TIME_NEVER;
	if (p && p->ike_lifetime_s) {
		/* 2.8.1: jitter rekeying so that both ends rarely start at once. */
		uint32_t r = 0;
		mm_time_ns life = MM_SEC(p->ike_lifetime_s);

		(void)ike_engine_random(sa->e, &r, sizeof(r));
		sa->rekey_at = now + life - (life / 10) * (r % 1000) / 1000;
	}
	free(sa->init_req);
	free(sa->init_resp);
	sa->init_req = sa->init_resp = NULL;
	sa->init_req_len = sa->init_resp_len = 0;
	ike_engine_index_responder(sa->e, sa);
	sa->announced = true;
	ike_act_sa(out, IKE_ACT_SA_UP, sa, NULL);
	ike_sa_schedule(sa);
}

void ike_sa_kick(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	struct ike_task_item t;

	while (!sa->req.active && sa->state != IKE_SA_DEAD &&
	       (sa->ntasks > 0 || ike_mobike_task_due(sa))) {
		int err;

		if (sa->state != IKE_SA_ESTABLISHED && sa->state != IKE_SA_REKEYED)
			return;
		if (sa->mob.deferred)
			break;         /* MOBIKE: no address works; the tasks wait */
		/* A replaced IKE SA only carries its own DELETE (2.8: the last request). */
		if (sa->state == IKE_SA_REKEYED && sa->tasks[0].task != IKE_TASK_DELETE_IKE) {
			ike_sa_task_pop(sa, &t);
			continue;
		}
		if (!ike_actions_room(out, 2, IKE_MSG_MAX))
			return;
		/* MOBIKE work first (RFC 4555 3.5: the update as soon as the window allows). */
		if (!ike_mobike_next_task(sa, &t))
			ike_sa_task_pop(sa, &t);
		switch (t.task) {
		case IKE_TASK_CREATE_CHILD:
		case IKE_TASK_REKEY_CHILD:
		case IKE_TASK_REKEY_IKE:
			err = ike_child_start(sa, &t, now, out);
			break;
		case IKE_TASK_DPD:
		case IKE_TASK_DELETE_CHILD:
		case IKE_TASK_DELETE_IKE:
			err = ike_info_start(sa, &t, now, out);
			break;
		case IKE_TASK_MOBIKE_UPDATE:
		case IKE_TASK_MOBIKE_RR:
		case IKE_TASK_MOBIKE_ADDRS:
			err = ike_mobike_start(sa, &t, now, out);
			break;
		default:
			err = -EINVAL;
		}
		if (err < 0 && err != -EALREADY && err != -ENOENT)
			LOG_WARNING(&sa->log, "cannot start a request (task %d): %s", (int)t.task,
				    strerror(-err));
	}
	ike_sa_schedule(sa);
}

/* The request in flight got no answer in time: retransmit (2.1, 2.4) or give up. */
static void request_timeout(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	struct ike_engine *e = sa->e;
	struct ike_request *r = &sa->req;
	char reason[128];

	if (r->sends >= ike_mobike_tries(sa, r) && !ike_mobike_keep_trying(sa, r, now)) {
		if (ike_mobike_request_expired(sa, now, out)) {
			ike_sa_kick(sa, now, out);
			return;
		}
		snprintf(reason, sizeof(reason), "peer unreachable (no answer after %u sends)",
			 r->sends);
		LOG_NOTICE(&sa->log, "%s", reason);
		if (r->task == IKE_TASK_CREATE_CHILD || r->task == IKE_TASK_REKEY_CHILD ||
		    r->task == IKE_TASK_REKEY_IKE)
			ike_child_request_failed(sa, r);
		ike_sa_kill(sa, (r->task == IKE_TASK_DELETE_IKE) ? "deleted (no answer)" : reason,
			    out);
		return;
	}
	/* 2.4: "retransmission timers ... doubling". */
	r->retransmit_at = now + (e->cfg.retransmit_base << (r->sends < 20 ? r->sends : 20));
	r->sends++;
	e->st.retransmits++;
	LOG_DEBUG(&sa->log, "retransmitting request %u (send %u)", r->msg_id, r->sends);
	/* MOBIKE: on the newest path, or on every pair when testing paths (RFC 4555 3.10). */
	ike_mobike_transmit(sa, true, now, out);
}

static void sa_timer(struct ike_sa *sa, mm_time_ns now, struct ike_actions *out)
{
	const struct ike_peer_cfg *p = sa->peer;

	if (sa->req.active && now >= sa->req.retransmit_at && !sa->mob.deferred) {
		request_timeout(sa, now, out);
		if (sa->state == IKE_SA_DEAD)
			return;
	}
	switch (sa->state) {
	case IKE_SA_INIT_DONE:
		if (now >= sa->created + IKE_HALF_OPEN_TIMEOUT) {
			LOG_INFO(&sa->log, "half-open SA timed out: no IKE_AUTH");
			ike_sa_kill(sa, "half-open timeout", out);
			return;
		}
		break;
	case IKE_SA_REKEYED:
	case IKE_SA_DELETING:
		if (now >= sa->expire_at) {
			ike_sa_kill(sa, sa->state == IKE_SA_REKEYED ? "replaced by a rekeyed SA" :
				    "deleted", out);
			return;
		}
		break;
	case IKE_SA_ESTABLISHED:
		if (now >= sa->rekey_at) {
			sa->rekey_at = IKE_TIME_NEVER;
			(void)ike_sa_task_add(sa, IKE_TASK_REKEY_IKE, 0);
		}
		/* 2.4: a liveness check only when nothing came from the peer for a while. */
		if (p && p->dpd_interval_s && !sa->req.active && sa->ntasks == 0 &&
		    now >= sa->last_rx + MM_SEC(p->dpd_interval_s))
			(void)ike_sa_task_add(sa, IKE_TASK_DPD, 0);
		for (size_t i = 0; i < IKE_SA_MAX_CHILDREN; i++) {
			struct ike_child *c = &sa->child[i];

			if (c->state == IKE_CHILD_REKEYED && now >= c->expire_at) {
				c->expire_at = IKE_TIME_NEVER;
				(void)ike_sa_task_add(sa, IKE_TASK_DELETE_CHILD, c->spi_in);
			}
			if (c->state != IKE_CHILD_FREE && now >= c->retry_at) {
				c->retry_at = IKE_TIME_NEVER;
				if (c->state == IKE_CHILD_INSTALLED) {
					c->state = IKE_CHILD_REKEYING;
					(void)ike_sa_task_add(sa, IKE_TASK_REKEY_CHILD, c->spi_in);
				}
			}
		}
		break;
	default:
		break;
	}
	ike_sa_kick(sa, now, out);
	ike_sa_schedule(sa);
}

/* Free the SAs that died during this call. */
static void finish(struct ike_engine *e)
{
	while (e->dead) {
		struct ike_sa *sa = e->dead;

		e->dead = sa->next_dead;
		heap_del(e, sa);
		if (e->nsas)
			e->nsas--;
		ike_sa_free(sa);
	}
}

/* --- engine --------------------------------------------------------------------------------- */

int ike_engine_new(const struct ike_engine_cfg *cfg, struct ike_engine **out)
{
	struct ike_engine *e;

	if (!cfg || !out || (cfg->npeers && !cfg->peers) ||
	    (cfg->default_role != IKE_ROLE_INITIATOR && cfg->default_role != IKE_ROLE_RESPONDER) ||
	    cfg->nlocal_addrs > IKE_MOBIKE_MAX_ADDRS)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	if (!e->cfg.cookie_threshold)
		e->cfg.cookie_threshold = DEFAULT_COOKIE_THRESHOLD;
	if (!e->cfg.half_open_max)
		e->cfg.half_open_max = DEFAULT_HALF_OPEN_MAX;
	if (!e->cfg.max_sas)
		e->cfg.max_sas = DEFAULT_MAX_SAS;
	if (!e->cfg.retransmit_base)
		e->cfg.retransmit_base = DEFAULT_RETRANSMIT_BASE;
	if (!e->cfg.retransmit_tries)
		e->cfg.retransmit_tries = DEFAULT_RETRANSMIT_TRIES;
	logger_init(&e->log, "ike");
	ike_spimap_init(&e->by_own);
	ike_spimap_init(&e->by_spi_i);
	ike_spimap_init(&e->half_open);
	ike_spimap_init(&e->by_child);
	*out = e;
	return 0;
}

void ike_engine_free(struct ike_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->heap_n; i++)
		ike_sa_free(e->heap[i]);
	e->heap_n = 0;
	/* Dead SAs are out of the heap already. */
	while (e->dead) {
		struct ike_sa *sa = e->dead;

		e->dead = sa->next_dead;
		ike_sa_free(sa);
	}
	free(e->heap);
	ike_spimap_free(&e->by_own);
	ike_spimap_free(&e->by_spi_i);
	ike_spimap_free(&e->half_open);
	ike_spimap_free(&e->by_child);
	ike_cookie_clear(&e->cookie);
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

int ike_engine_set_peers(struct ike_engine *e, const struct ike_peer_cfg *peers, size_t npeers)
{
	if (!e || (npeers && !peers))
		return -EINVAL;
	e->cfg.peers = peers;
	e->cfg.npeers = npeers;
	return 0;
}

struct ike_sa *ike_engine_sa_new(struct ike_engine *e, mm_time_ns now)
{
	struct ike_sa *sa = ike_sa_alloc(e, now);

	if (!sa)
		return NULL;
	if (heap_add(e, sa) < 0) {
		ike_sa_free(sa);
		return NULL;
	}
	e->nsas++;
	return sa;
}

void ike_engine_sa_discard(struct ike_sa *sa)
{
	struct ike_engine *e = sa->e;

	unindex_all(e, sa);
	heap_del(e, sa);
	if (sa->state == IKE_SA_INIT_DONE && e->nhalf_open) {
		e->nhalf_open--;
		e->st.half_open = e->nhalf_open;
	}
	if (e->nsas)
		e->nsas--;
	ike_sa_free(sa);
}

void ike_engine_foreach(struct ike_engine *e, void (*fn)(struct ike_sa *sa, void *arg),
			void *arg)
{
	struct ike_sa **list;
	size_t n = e->heap_n;

	if (!n)
		return;
	/* A snapshot: fn may kill SAs, which reorders the heap. */
	list = malloc(n * sizeof(*list));
	if (!list)
		return;
	memcpy(list, e->heap, n * sizeof(*list));
	for (size_t i = 0; i < n; i++)
		if (list[i]->state != IKE_SA_DEAD)
			fn(list[i], arg);
	free(list);
}

int ike_engine_initiate(struct ike_engine *e, size_t peer_index,
			const struct ike_endpoint *local, const struct ike_endpoint *remote,
			mm_time_ns now, uint64_t *spi_i, struct ike_actions *out)
{
	struct ike_sa *sa;
	int err;

	if (!e || !local || !remote || !spi_i || !out || peer_index >= e->cfg.npeers)
		return -EINVAL;
	out_reset(out);
	if (e->nsas >= e->cfg.max_sas) {
		LOG_WARNING(&e->log, "cannot initiate: %zu IKE SAs, the maximum", e->nsas);
		return -ENOSPC;
	}
	sa = ike_engine_sa_new(e, now);
	if (!sa)
		return -ENOMEM;
	sa->initiator = true;
	sa->peer = &e->cfg.peers[peer_index];
	sa->local = *local;
	sa->remote = *remote;
	err = ike_engine_new_ike_spi(e, &sa->spi_i);
	if (err == 0)
		err = ike_engine_index_own(e, sa);
	if (err < 0) {
		ike_engine_sa_discard(sa);
		return err;
	}
	ike_sa_update_logger(sa);
	err = ike_sa_init_start(sa, now, out);
	if (err < 0) {
		LOG_ERROR(&sa->log, "cannot start IKE_SA_INIT: %s", strerror(-err));
		out_reset(out);
		ike_engine_sa_discard(sa);
		return err;
	}
	*spi_i = sa->spi_i;
	finish(e);
	return 0;
}

/* The SA an order names: ours as initiator (by our SPI), else a responder SA by SPIi. */
static struct ike_sa *by_handle(struct ike_engine *e, uint64_t spi_i)
{
	struct ike_sa *sa = ike_spimap_get(&e->by_own, spi_i);

	if (sa && sa->initiator && sa->spi_i == spi_i && sa->state != IKE_SA_DEAD)
		return sa;
	sa = ike_spimap_get(&e->by_spi_i, spi_i);
	if (sa && sa->state != IKE_SA_DEAD)
		return sa;
	return NULL;
}

static int order(struct ike_engine *e, uint64_t spi_i, enum ike_task task, uint32_t child,
		 mm_time_ns now, struct ike_actions *out)
{
	struct ike_sa *sa;
	struct ike_child *c = NULL;
	int err;

	if (!e || !out)
		return -EINVAL;
	out_reset(out);
	sa = by_handle(e, spi_i);
	if (!sa)
		return -ENOENT;
	if (task == IKE_TASK_DELETE_IKE && sa->state == IKE_SA_AUTH_SENT) {
		/* Our IKE_AUTH is out: the peer may well complete the SA (with its inner address
		 * lease). Forgetting it here would leave it established there until its liveness
		 * check; the DELETE goes right after the answer instead (queued below: tasks run
		 * once the SA is up, 2.8), or the SA dies with the exchange. */
		LOG_INFO(&sa->log, "delete ordered while IKE_AUTH is in flight: the DELETE follows "
			 "its answer");
	} else if (task == IKE_TASK_DELETE_IKE && sa->state != IKE_SA_ESTABLISHED &&
		   sa->state != IKE_SA_REKEYED) {
		if (sa->state == IKE_SA_DELETING)
			return -EALREADY;
		/* Nothing to tell the peer before IKE_AUTH went out (at most a half-open SA there,
		 * which times out): just forget it. */
		ike_sa_kill(sa, "deleted locally", out);
		finish(e);
		return 0;
	}
	if (task == IKE_TASK_DELETE_IKE && sa->mob.deferred) {
		/* MOBIKE, no usable address: the DELETE could never leave. */
		ike_sa_kill(sa, "deleted locally (no usable address)", out);
		finish(e);
		return 0;
	}
	if (task != IKE_TASK_DELETE_IKE && sa->state != IKE_SA_ESTABLISHED)
		return -EAGAIN;
	if (task == IKE_TASK_REKEY_CHILD || task == IKE_TASK_DELETE_CHILD) {
		c = ike_sa_child_by_in(sa, child);
		if (!c)
			return -ENOENT;
		if (task == IKE_TASK_REKEY_CHILD && c->state != IKE_CHILD_INSTALLED)
			return -EALREADY;
		if (task == IKE_TASK_DELETE_CHILD && c->state == IKE_CHILD_DELETING)
			return -EALREADY;
	}
	if (task == IKE_TASK_DELETE_IKE) {
		/* The DELETE is the last request (2.8): drop whatever waits. */
		sa->ntasks = 0;
	}
	err = ike_sa_task_add(sa, task, child);
	if (err < 0)
		return err;
	if (task == IKE_TASK_REKEY_CHILD)
		c->state = IKE_CHILD_REKEYING;
	ike_sa_kick(sa, now, out);
	finish(e);
	return 0;
}

int ike_engine_rekey_child(struct ike_engine *e, uint64_t spi_i, uint32_t child_spi_in,
			   mm_time_ns now, struct ike_actions *out)
{
	return order(e, spi_i, IKE_TASK_REKEY_CHILD, child_spi_in, now, out);
}

int ike_engine_rekey_ike(struct ike_engine *e, uint64_t spi_i, mm_time_ns now,
			 struct ike_actions *out)
{
	return order(e, spi_i, IKE_TASK_REKEY_IKE, 0, now, out);
}

int ike_engine_delete(struct ike_engine *e, uint64_t spi_i, mm_time_ns now,
		      struct ike_actions *out)
{
	return order(e, spi_i, IKE_TASK_DELETE_IKE, 0, now, out);
}

int ike_engine_dpd(struct ike_engine *e, uint64_t spi_i, mm_time_ns now,
		   struct ike_actions *out)
{
	return order(e, spi_i, IKE_TASK_DPD, 0, now, out);
}

int ike_engine_create_child(struct ike_engine *e, uint64_t spi_i, mm_time_ns now,
			    struct ike_actions *out)
{
	return order(e, spi_i, IKE_TASK_CREATE_CHILD, 0, now, out);
}

int ike_engine_child_expired(struct ike_engine *e, uint32_t child_spi_in, bool hard,
			     mm_time_ns now, struct ike_actions *out)
{
	struct ike_sa *sa;
	struct ike_child *c;

	if (!e || !out)
		return -EINVAL;
	out_reset(out);
	sa = ike_spimap_get(&e->by_child, child_spi_in);
	if (!sa || !(c = ike_sa_child_by_in(sa, child_spi_in)))
		return -ENOENT;
	if (!hard) {
		if (c->state != IKE_CHILD_INSTALLED)
			return 0;      /* already being rekeyed or replaced */
		return order(e, sa->spi_i, IKE_TASK_REKEY_CHILD, child_spi_in, now, out);
	}
	/* Hard limit: the SA must not be used any more (2.8); delete it. */
	LOG_INFO(&sa->log, "Child SA %08x_i reached its hard lifetime: deleting it", c->spi_in);
	if (c->state == IKE_CHILD_DELETING)
		return 0;
	if (sa->state != IKE_SA_ESTABLISHED) {
		ike_sa_child_remove(sa, c, true, out);
		finish(e);
		return 0;
	}
	return order(e, sa->spi_i, IKE_TASK_DELETE_CHILD, child_spi_in, now, out);
}

void ike_engine_child_activity(struct ike_engine *e, uint32_t child_spi_in, mm_time_ns now)
{
	struct ike_sa *sa;

	if (!e)
		return;
	sa = ike_spimap_get(&e->by_child, child_spi_in);
	if (!sa || now <= sa->last_rx)
		return;
	sa->last_rx = now;
	ike_sa_schedule(sa);
}

/* --- MOBIKE orders (RFC 4555; mobike.c) ------------------------------------------------------- */

/* A MOBIKE order of the daemon (a move, or "test paths"; local NULL with probe false is a
 * deferral): on an established SA found by its handle; what the order made due starts at
 * once (window size 1 permitting, 2.3), and the SA's timer follows. */
struct mobike_order {
	bool probe;
	const struct ike_endpoint *local, *remote;
};

static int mobike_order(struct ike_engine *e, uint64_t spi_i, const struct mobike_order *o,
			mm_time_ns now, struct ike_actions *out)
{
	struct ike_sa *sa;
	int err;

	if (!e || !out)
		return -EINVAL;
	out_reset(out);
	sa = by_handle(e, spi_i);
	if (!sa)
		return -ENOENT;
	if (sa->state != IKE_SA_ESTABLISHED)
		return -EAGAIN;
	err = o->probe ? ike_mobike_order_probe(sa, now, out) :
			 ike_mobike_order_move(sa, o->local, o->remote, now, out);
	if (err == 0)
		ike_sa_kick(sa, now, out);
	ike_sa_schedule(sa);
	finish(e);
	return err < 0 ? err : 0;
}

int ike_engine_update_addresses(struct ike_engine *e, uint64_t spi_i,
				const struct ike_endpoint *local,
				const struct ike_endpoint *remote, mm_time_ns now,
				struct ike_actions *out)
{
	return mobike_order(e, spi_i, &(struct mobike_order){ false, local, remote }, now, out);
}

int ike_engine_probe_paths(struct ike_engine *e, uint64_t spi_i, mm_time_ns now,
			   struct ike_actions *out)
{
	return mobike_order(e, spi_i, &(struct mobike_order){ true, NULL, NULL }, now, out);
}

struct local_changed {
	mm_time_ns now;
	struct ike_actions *out;
};

static void local_changed(struct ike_sa *sa, void *arg)
{
	struct local_changed *lc = arg;

	ike_mobike_local_changed(sa, lc->now, lc->out);
	/* As many as one batch holds now; the rest at the next ike_engine_timer(). */
	if (ike_actions_room(lc->out, TIMER_ROOM_ACTIONS, 2 * IKE_MSG_MAX))
		ike_sa_kick(sa, lc->now, lc->out);
	ike_sa_schedule(sa);
}

int ike_engine_set_local_addresses(struct ike_engine *e, const struct in_addr *addrs,
				   size_t n, mm_time_ns now, struct ike_actions *out)
{
	struct local_changed lc = { now, out };

	if (!e || !out || (n && !addrs) || n > IKE_MOBIKE_MAX_ADDRS)
		return -EINVAL;
	out_reset(out);
	if (n == e->cfg.nlocal_addrs &&
	    (n == 0 || memcmp(e->cfg.local_addrs, addrs, n * sizeof(addrs[0])) == 0))
		return 0;
	memset(e->cfg.local_addrs, 0, sizeof(e->cfg.local_addrs));
	if (n)
		memcpy(e->cfg.local_addrs, addrs, n * sizeof(addrs[0]));
	e->cfg.nlocal_addrs = n;
	LOG_INFO(&e->log, "MOBIKE: %zu local addresses", n);
	if (e->cfg.announce_addresses)
		ike_engine_foreach(e, local_changed, &lc);
	finish(e);
	return 0;
}

mm_time_ns ike_engine_next_timer(const struct ike_engine *e)
{
	if (!e || e->heap_n == 0)
		return IKE_TIME_NEVER;
	return e->heap[0]->due;
}

int ike_engine_timer(struct ike_engine *e, mm_time_ns now, struct ike_actions *out)
{
	size_t rounds = 0;

	if (!e || !out)
		return -EINVAL;
	out_reset(out);
	while (e->heap_n && e->heap[0]->due <= now && rounds++ < e->heap_n + 16) {
		struct ike_sa *sa = e->heap[0];
		mm_time_ns before = sa->due;

		/* Leave the rest for the next call when the actions are nearly full. */
		if (!ike_actions_room(out, TIMER_ROOM_ACTIONS, 2 * IKE_MSG_MAX))
			break;
		sa_timer(sa, now, out);
		/* Every handler moves due past now or kills the SA; never spin on one SA. */
		if (sa->state != IKE_SA_DEAD && sa->heap_idx == 0 && sa->due == before) {
			sa->due = now + 1;
			ike_sa_schedule(sa);
			if (sa->due <= now) {
				sa->due = now + MM_SEC(1);
				heap_down(e, 0);
			}
		}
	}
	finish(e);
	return 0;
}

bool ike_engine_next_sa(const struct ike_engine *e, size_t *cursor, struct ike_sa_info *out)
{
	if (!e || !cursor || !out)
		return false;
	while (*cursor < e->heap_n) {
		const struct ike_sa *sa = e->heap[(*cursor)++];

		if (sa->state == IKE_SA_DEAD || sa->state == IKE_SA_NEW)
			continue;
		ike_sa_info_fill(sa, out);
		return true;
	}
	return false;
}

void ike_engine_stats(const struct ike_engine *e, struct ike_engine_stats *out)
{
	if (!e || !out)
		return;
	*out = e->st;
	out->half_open = e->nhalf_open;
}

/* --- input ---------------------------------------------------------------------------------- */

static void update_path(struct ike_sa *sa, const struct ike_rx *rx)
{
	char a[32], b[32];
	bool elsewhere = rx->from.addr.s_addr != sa->remote.addr.s_addr ||
			 rx->from.port != sa->remote.port;

	/* MOBIKE: addresses change only by UPDATE_SA_ADDRESSES; an IKE message from elsewhere
	 * (a path test, a retransmission after a move, a NAT rebinding, an attacker's replay
	 * that passed the checks) changes nothing (RFC 4555 3.8: "MUST NOT use these dynamic
	 * updates for IKEv2 packets"; RFC 4621 5.2.6). */
	if (sa->mobike) {
		if (!ike_hdr_is_response(&rx->m->hdr) && !ike_mobike_has_update(rx->pl) &&
		    elsewhere)
			LOG_INFO(&sa->log, "MOBIKE: request %u from %s, not from the SA's peer "
				 "address %s: answered there, no implicit address update",
				 rx->m->hdr.msg_id, ike_ep_str(&rx->from, a, sizeof(a)),
				 ike_ep_str(&sa->remote, b, sizeof(b)));
		return;
	}
	/* The IKE_AUTH answer that agrees on MOBIKE (sa->mobike is set by its handler, after
	 * this): RFC 4555 3.3, "the addresses in the IKE_SA are initialized from the IP header
	 * of the first IKE_AUTH request", the one we sent; where the answer came from moves
	 * nothing (3.8 from here on). */
	if (ike_hdr_is_response(&rx->m->hdr) && rx->m->hdr.exchange == IKE_EXCH_AUTH &&
	    sa->peer && sa->peer->mobike &&
	    ike_rx_notify(rx, IKE_N_MOBIKE_SUPPORTED, &(struct ike_notify){ 0 }) == 0) {
		if (elsewhere)
			LOG_INFO(&sa->log, "MOBIKE: IKE_AUTH answered from %s, not from %s: the SA "
				 "stays on the pair of its IKE_AUTH request (RFC 4555 3.3)",
				 ike_ep_str(&rx->from, a, sizeof(a)),
				 ike_ep_str(&sa->remote, b, sizeof(b)));
		return;
	}
	/* 2.23: after the switch to port 4500 everything goes there (the switch comes with
	 * IKE_AUTH, before the Child SAs exist: their ESP encapsulation follows it). */
	if (rx->to.port == IKE_NATT_PORT && !sa->natt && !sa->established) {
		sa->natt = true;
		sa->local.port = rx->to.port;
		if (rx->to.addr.s_addr)          /* 0.0.0.0: the daemon did not say */
			sa->local.addr = rx->to.addr;
		sa->remote = rx->from;
		return;
	}
	/* 2.23: a NAT in front of the peer may change its address and port; a host that is
	 * not behind a NAT itself follows the latest authenticated message ("A host behind a
	 * NAT SHOULD NOT do this type of dynamic address update"). */
	if (sa->natt && sa->nat_remote && !sa->nat_local && elsewhere)
		ike_sa_follow_peer(sa, &rx->from, rx->now, rx->out);
}

/* Stage 3 failed on a decrypted request: answer INVALID_SYNTAX (3.10.1, valid checksum and
 * Message ID) and give up the SA if it was not established yet. */
static void bad_request(struct ike_sa *sa, struct ike_rx *rx, uint16_t notify, uint8_t data,
			const char *why)
{
	char n[NAME_BUF_SIZE];

	ike_drop(sa->e, sa, &rx->from, &sa->e->st.dropped_malformed, LOG_LEVEL_WARNING,
		 "%s; answering %s", why, ike_notify_name(notify, n, sizeof(n)));
	ike_sa_send_notify_response(sa, rx, notify, notify == IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD ?
				    &data : NULL, notify == IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD);
	if (sa->state != IKE_SA_ESTABLISHED)
		ike_sa_kill(sa, "invalid syntax", rx->out);
}

static void dispatch_response(struct ike_sa *sa, struct ike_rx *rx)
{
	struct ike_request done = sa->req;
	int rc;

	memset(&sa->req, 0, sizeof(sa->req));
	/* A round-trip sample, only from a request sent once on one path (Karn's rule). */
	if (done.sends == 1 && !done.multi_path && !done.path_changed &&
	    rx->now > done.first_sent)
		sa->rtt = rx->now - done.first_sent;
	/* MOBIKE path testing (RFC 4555 3.10): the pair this answer came on works. */
	if (sa->mobike)
		ike_mobike_response_path(sa, rx, &done);
	switch (rx->m->hdr.exchange) {
	case IKE_EXCH_SA_INIT:
		rc = ike_sa_init_response(sa, rx, &done);
		break;
	case IKE_EXCH_AUTH:
		rc = ike_auth_response(sa, rx, &done);
		break;
	case IKE_EXCH_CREATE_CHILD_SA:
		rc = ike_child_response(sa, rx, &done);
		break;
	case IKE_EXCH_INFORMATIONAL:
		rc = ike_info_response(sa, rx, &done);
		break;
	default:
		rc = -EAGAIN;
	}
	/* -EAGAIN: the handler ignored the message; our request is still waiting. */
	if (rc == -EAGAIN && !sa->req.active && sa->state != IKE_SA_DEAD) {
		sa->req = done;
		return;
	}
	release_request_spis(sa->e, sa, &done);
	ike_request_clear(&done);
}

static void dispatch_request(struct ike_sa *sa, struct ike_rx *rx)
{
	switch (rx->m->hdr.exchange) {
	case IKE_EXCH_AUTH:
		ike_auth_request(sa, rx);
		break;
	case IKE_EXCH_CREATE_CHILD_SA:
		ike_child_request(sa, rx);
		break;
	case IKE_EXCH_INFORMATIONAL:
		ike_info_request(sa, rx);
		break;
	}
}

static void input_encrypted(struct ike_sa *sa, struct ike_rx *rx)
{
	struct ike_engine *e = sa->e;
	const struct ike_header *h = &rx->m->hdr;
	bool response = ike_hdr_is_response(h);
	struct ike_parse_error perr;
	struct ike_rule_result res;
	size_t plain_len = 0;
	const char *mobike_clear;
	char why[160];
	int err;

	if (!sa->have_keys || sa->state == IKE_SA_INIT_SENT) {
		ike_drop(e, sa, &rx->from, &e->st.dropped_malformed, LOG_LEVEL_WARNING,
			 "%s before the IKE SA has keys", response ? "response" : "request");
		return;
	}
	/* MOBIKE (RFC 4555 3.5, RFC 7296 1.4): UPDATE_SA_ADDRESSES counts only inside SK. */
	mobike_clear = ike_mobike_has_update(&rx->m->chain) ?
		       "; it carries UPDATE_SA_ADDRESSES outside SK (MOBIKE): no address change" :
		       "";
	if (!rx->m->sk.present || rx->m->sk.type != IKE_PT_SK) {
		ike_drop(e, sa, &rx->from, &e->st.dropped_malformed, LOG_LEVEL_WARNING, "%s%s",
			 rx->m->sk.present ? "fragmented message (RFC 7383 not supported)" :
			 "no Encrypted payload", mobike_clear);
		return;
	}
	if (ike_rules_check(rx->m, NULL, &res) < 0) {
		ike_drop(e, sa, &rx->from, &e->st.dropped_malformed, LOG_LEVEL_WARNING, "%s%s",
			 ike_rule_describe(&res, why, sizeof(why)), mobike_clear);
		return;
	}
	/* 2.3: window size 1. A request must be the next one; the previous one is a
	 * retransmission we answer from the cache; a response must match our request. */
	if (!response && h->msg_id != sa->next_peer_id) {
		bool again = h->msg_id + 1 == sa->next_peer_id && sa->last_resp;
		bool update = false;

		/* Verify the checksum first: only a genuine copy earns an answer. With MOBIKE an
		 * older copy is opened too, to name a replayed UPDATE_SA_ADDRESSES in the log. */
		if (again || sa->mobike) {
			err = ike_sk_unprotect(&sa->sk_in, rx->data, rx->len, rx->m->sk.hdr_off,
					       IKE_SK_ENCRYPTED, e->plain, sizeof(e->plain),
					       &plain_len);
			if (err < 0) {
				ike_drop(e, sa, &rx->from, err == -EACCES ?
					 &e->st.dropped_integrity : &e->st.dropped_malformed,
					 LOG_LEVEL_WARNING, "%s request %u: %s",
					 again ? "retransmitted" : "old", h->msg_id,
					 err == -EACCES ? "integrity check failed" : "undecryptable");
				return;
			}
			memset(&perr, 0, sizeof(perr));
			update = sa->mobike &&
				 ike_chain_parse(e->plain, plain_len, rx->m->sk.inner_first,
						 rx->m->sk.data_off, true, &e->inner, &perr) == 0 &&
				 ike_mobike_has_update(&e->inner);
			OPENSSL_cleanse(e->plain, plain_len);
		}
		if (again) {
			if (update && (rx->from.addr.s_addr != sa->remote.addr.s_addr ||
				       rx->from.port != sa->remote.port))
				LOG_INFO(&sa->log, "MOBIKE: UPDATE_SA_ADDRESSES %u again, from %s: "
					 "resending our response, no address change", h->msg_id,
					 ike_ep_str(&rx->from, why, sizeof(why)));
			else
				LOG_DEBUG(&sa->log, "request %u again: resending our response",
					  h->msg_id);
			e->st.tx++;
			ike_act_send(rx->out, &rx->to, &rx->from, sa->last_resp, sa->last_resp_len);
			return;
		}
		ike_drop(e, sa, &rx->from, &e->st.dropped_replay, LOG_LEVEL_WARNING,
			 "request with message ID %u, expected %u%s", h->msg_id, sa->next_peer_id,
			 update ? ": a replayed UPDATE_SA_ADDRESSES (MOBIKE), no address change" : "");
		return;
	}
	if (response && (!sa->req.active || h->msg_id != sa->req.msg_id ||
			 h->exchange != sa->req.exchange)) {
		ike_drop(e, sa, &rx->from, &e->st.dropped_replay, LOG_LEVEL_WARNING,
			 "response with message ID %u that answers nothing of ours", h->msg_id);
		return;
	}
	/* 1.2: IKE_AUTH is the first request after IKE_SA_INIT and only then; no other request
	 * before the SA is authenticated. */
	if (!response && (sa->state == IKE_SA_INIT_DONE ? h->exchange != IKE_EXCH_AUTH :
			  (h->exchange == IKE_EXCH_AUTH || sa->state == IKE_SA_AUTH_SENT))) {
		ike_drop(e, sa, &rx->from, &e->st.dropped_malformed, LOG_LEVEL_WARNING,
			 "request of exchange %u in state %s", h->exchange,
			 ike_sa_state_name(sa->state));
		return;
	}
	/* Decrypt before anything changes (3.14); a bad checksum is dropped without an
	 * answer (3.10.1). */
	err = ike_sk_unprotect(&sa->sk_in, rx->data, rx->len, rx->m->sk.hdr_off,
			       IKE_SK_ENCRYPTED, e->plain, sizeof(e->plain), &plain_len);
	if (err < 0) {
		ike_drop(e, sa, &rx->from, err == -EACCES ? &e->st.dropped_integrity :
			 &e->st.dropped_malformed, LOG_LEVEL_WARNING, "%s",
			 err == -EACCES ? "integrity check failed" : "cannot decrypt");
		return;
	}
	memset(&perr, 0, sizeof(perr));
	err = ike_chain_parse(e->plain, plain_len, rx->m->sk.inner_first, rx->m->sk.data_off,
			      !response, &e->inner, &perr);
	rx->pl = &e->inner;
	sa->last_rx = rx->now;
	if (err < 0) {
		snprintf(why, sizeof(why), "malformed inner payloads: %s at %zu",
			 perr.what ? perr.what : "?", perr.offset);
		if (!response)
			bad_request(sa, rx, perr.notify ? perr.notify : IKE_N_INVALID_SYNTAX,
				    perr.payload_type, why);
		else
			ike_drop(e, sa, &rx->from, &e->st.dropped_malformed, LOG_LEVEL_WARNING,
				 "%s", why);
		OPENSSL_cleanse(e->plain, plain_len);
		return;
	}
	if (ike_rules_check(rx->m, &e->inner, &res) < 0) {
		ike_rule_describe(&res, why, sizeof(why));
		if (!response)
			bad_request(sa, rx, IKE_N_INVALID_SYNTAX, 0, why);
		else
			ike_drop(e, sa, &rx->from, &e->st.dropped_malformed, LOG_LEVEL_WARNING,
				 "%s", why);
		OPENSSL_cleanse(e->plain, plain_len);
		return;
	}
	update_path(sa, rx);
	if (response)
		dispatch_response(sa, rx);
	else
		dispatch_request(sa, rx);
	OPENSSL_cleanse(e->plain, plain_len);
}

static void input_sa_init_request(struct ike_engine *e, struct ike_rx *rx)
{
	const struct ike_header *h = &rx->m->hdr;
	struct ike_sa *sa;

	if (e->cfg.default_role != IKE_ROLE_RESPONDER) {
		ike_drop(e, NULL, &rx->from, NULL, LOG_LEVEL_INFO,
			 "IKE_SA_INIT request, and we only initiate");
		return;
	}
	if (h->msg_id != 0 || ike_hdr_from_initiator(h) == false) {
		ike_drop(e, NULL, &rx->from, &e->st.dropped_malformed, LOG_LEVEL_WARNING,
			 "IKE_SA_INIT request with message ID %u / without the I flag", h->msg_id);
		return;
	}
	/* 2.1: a retransmitted IKE_SA_INIT (same SPIi from the same place) gets the same
	 * answer; the SA is not made twice. */
	sa = ike_spimap_get(&e->half_open, ike_engine_half_open_key(h->spi_i, &rx->from));
	if (sa && sa->spi_i == h->spi_i && sa->remote.addr.s_addr == rx->from.addr.s_addr &&
	    sa->remote.port == rx->from.port) {
		if (sa->init_req && sa->init_req_len == rx->len &&
		    memcmp(sa->init_req, rx->data, rx->len) == 0 && sa->last_resp) {
			LOG_DEBUG(&sa->log, "IKE_SA_INIT again: resending our response");
			sa->init_answered_at = 0;      /* which answer IKE_AUTH follows: unknown */
			e->st.tx++;
			ike_act_send(rx->out, &rx->to, &rx->from, sa->last_resp, sa->last_resp_len);
		} else {
			ike_drop(e, sa, &rx->from, &e->st.dropped_replay, LOG_LEVEL_WARNING,
				 "another IKE_SA_INIT with the SPIi of a half-open SA");
		}
		return;
	}
	ike_sa_init_request(e, rx);
}

int ike_engine_input(struct ike_engine *e, const uint8_t *msg, size_t len,
		     const struct ike_endpoint *from, const struct ike_endpoint *to,
		     mm_time_ns now, struct ike_actions *out)
{
	struct ike_parse_error perr;
	struct ike_rx rx;
	const struct ike_header *h;
	struct ike_sa *sa;
	bool from_initiator;
	uint64_t own;
	int err;

	if (!e || (!msg && len) || !from || !to || !out)
		return -EINVAL;
	out_reset(out);
	e->st.rx++;
	if (len > IKE_MSG_MAX) {
		ike_drop(e, NULL, from, &e->st.dropped_malformed, LOG_LEVEL_WARNING,
			 "%zu octets, more than the %d we take", len, IKE_MSG_MAX);
		return 0;
	}
	memset(&perr, 0, sizeof(perr));
	err = ike_msg_parse(msg, len, &e->msg, &perr);
	if (err < 0) {
		ike_drop(e, NULL, from, &e->st.dropped_malformed, LOG_LEVEL_WARNING,
			 "malformed (%s at offset %zu)", perr.what ? perr.what : "?", perr.offset);
		return 0;
	}
	memset(&rx, 0, sizeof(rx));
	rx.data = msg;
	rx.len = len;
	rx.m = &e->msg;
	rx.pl = &e->msg.chain;
	rx.from = *from;
	rx.to = *to;
	rx.now = now;
	rx.out = out;
	h = &e->msg.hdr;
	if (ike_rules_check(&e->msg, NULL, &(struct ike_rule_result){ 0 }) == -EOPNOTSUPP) {
		ike_drop(e, NULL, from, &e->st.dropped_malformed, LOG_LEVEL_WARNING,
			 "unknown exchange type %u", h->exchange);
		return 0;
	}
	if (h->exchange == IKE_EXCH_SA_INIT && !ike_hdr_is_response(h) && h->spi_r == 0) {
		input_sa_init_request(e, &rx);
		finish(e);
		return 0;
	}
	/* 3.1: the I flag says which SPI is ours. */
	from_initiator = ike_hdr_from_initiator(h);
	own = from_initiator ? h->spi_r : h->spi_i;
	sa = ike_spimap_get(&e->by_own, own);
	if (!sa || sa->state == IKE_SA_DEAD || sa->initiator == from_initiator ||
	    (from_initiator ? h->spi_i != sa->spi_i :
	     (sa->spi_r != 0 && h->spi_r != sa->spi_r))) {
		if (h->exchange == IKE_EXCH_INFORMATIONAL && !e->msg.sk.present)
			ike_info_unprotected(e, &rx);
		else
			ike_drop(e, NULL, from, &e->st.dropped_unknown_spi, LOG_LEVEL_INFO,
				 "%s %u for unknown SPIs %016llx_i %016llx_r",
				 ike_hdr_is_response(h) ? "response" : "request", h->exchange,
				 (unsigned long long)h->spi_i, (unsigned long long)h->spi_r);
		return 0;
	}
	if (h->exchange == IKE_EXCH_SA_INIT) {
		struct ike_rule_result res;
		char why[160];

		if (!ike_hdr_is_response(h) || sa->state != IKE_SA_INIT_SENT || !sa->req.active ||
		    h->msg_id != 0 || sa->req.exchange != IKE_EXCH_SA_INIT) {
			ike_drop(e, sa, from, &e->st.dropped_replay, LOG_LEVEL_INFO,
				 "IKE_SA_INIT %s we are not waiting for",
				 ike_hdr_is_response(h) ? "response" : "request");
			return 0;
		}
		if (ike_rules_check(&e->msg, NULL, &res) < 0) {
			ike_drop(e, sa, from, &e->st.dropped_malformed, LOG_LEVEL_WARNING, "%s",
				 ike_rule_describe(&res, why, sizeof(why)));
			return 0;
		}
		dispatch_response(sa, &rx);
	} else {
		input_encrypted(sa, &rx);
	}
	if (sa->state != IKE_SA_DEAD) {
		ike_sa_kick(sa, now, out);
		ike_sa_schedule(sa);
	}
	finish(e);
	return 0;
}
