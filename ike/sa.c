/* The IKE SA object: states, keys, Child SAs, tasks. See sa.h. */
#include "ike/sa.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ike/engine_priv.h"

static const char *const state_names[IKE_SA_STATE_COUNT] = {
	[IKE_SA_NEW] = "NEW",
	[IKE_SA_INIT_SENT] = "SA_INIT_SENT",
	[IKE_SA_INIT_DONE] = "HALF_OPEN",
	[IKE_SA_AUTH_SENT] = "AUTH_SENT",
	[IKE_SA_ESTABLISHED] = "ESTABLISHED",
	[IKE_SA_REKEYED] = "REKEYED",
	[IKE_SA_DELETING] = "DELETING",
	[IKE_SA_DEAD] = "DEAD",
};

const char *ike_sa_state_name(enum ike_sa_state s)
{
	return (unsigned)s < IKE_SA_STATE_COUNT ? state_names[s] : "?";
}

const char *ike_child_state_name(enum ike_child_state s)
{
	switch (s) {
	case IKE_CHILD_FREE:
		return "FREE";
	case IKE_CHILD_INSTALLED:
		return "INSTALLED";
	case IKE_CHILD_REKEYING:
		return "REKEYING";
	case IKE_CHILD_REKEYED:
		return "REKEYED";
	case IKE_CHILD_DELETING:
		return "DELETING";
	}
	return "?";
}

/* Allowed moves: bit `to` set in allowed[from]. */
#define B(s) (1u << (s))
static const unsigned allowed[IKE_SA_STATE_COUNT] = {
	/* a new SA: initiator, responder, or made established by an IKE SA rekey (2.18) */
	[IKE_SA_NEW] = B(IKE_SA_INIT_SENT) | B(IKE_SA_INIT_DONE) | B(IKE_SA_ESTABLISHED) |
		       B(IKE_SA_DEAD),
	[IKE_SA_INIT_SENT] = B(IKE_SA_AUTH_SENT) | B(IKE_SA_DEAD),
	[IKE_SA_INIT_DONE] = B(IKE_SA_ESTABLISHED) | B(IKE_SA_DEAD),
	[IKE_SA_AUTH_SENT] = B(IKE_SA_ESTABLISHED) | B(IKE_SA_DEAD),
	[IKE_SA_ESTABLISHED] = B(IKE_SA_REKEYED) | B(IKE_SA_DELETING) | B(IKE_SA_DEAD),
	[IKE_SA_REKEYED] = B(IKE_SA_DELETING) | B(IKE_SA_DEAD),
	[IKE_SA_DELETING] = B(IKE_SA_DEAD),
	[IKE_SA_DEAD] = 0,
};
#undef B

int ike_sa_set_state(struct ike_sa *sa, enum ike_sa_state to, const char *reason)
{
	struct ike_engine *e = sa->e;
	enum ike_sa_state from = sa->state;

	if ((unsigned)to >= IKE_SA_STATE_COUNT || !(allowed[from] & (1u << to))) {
		LOG_ERROR(&sa->log, "refused state change %s -> %s (%s): not a legal move",
			  ike_sa_state_name(from), ike_sa_state_name(to), reason ? reason : "");
		return -EPERM;
	}
	/* Half-open SAs are many and cheap under a flood: their moves are debug lines. */
	if (from == IKE_SA_INIT_DONE && to == IKE_SA_DEAD)
		LOG_DEBUG(&sa->log, "%s -> %s (%s)", ike_sa_state_name(from),
			  ike_sa_state_name(to), reason ? reason : "");
	else if (from == IKE_SA_NEW && to == IKE_SA_INIT_DONE)
		LOG_DEBUG(&sa->log, "%s -> %s (%s)", ike_sa_state_name(from),
			  ike_sa_state_name(to), reason ? reason : "");
	else
		LOG_INFO(&sa->log, "%s -> %s (%s)", ike_sa_state_name(from),
			 ike_sa_state_name(to), reason ? reason : "");
	if (from == IKE_SA_INIT_DONE && e->nhalf_open)
		e->nhalf_open--;
	if (to == IKE_SA_INIT_DONE)
		e->nhalf_open++;
	if (from == IKE_SA_ESTABLISHED && e->st.established)
		e->st.established--;
	if (to == IKE_SA_ESTABLISHED)
		e->st.established++;
	e->st.half_open = e->nhalf_open;
	sa->state = to;
	if (to == IKE_SA_DEAD && !sa->dead_listed) {
		sa->dead_listed = true;
		sa->next_dead = e->dead;
		e->dead = sa;
	}
	return 0;
}

struct ike_sa *ike_sa_alloc(struct ike_engine *e, mm_time_ns now)
{
	struct ike_sa *sa = calloc(1, sizeof(*sa));

	if (!sa)
		return NULL;
	sa->e = e;
	sa->state = IKE_SA_NEW;
	sa->created = now;
	sa->last_rx = now;
	sa->rekey_at = IKE_TIME_NEVER;
	sa->expire_at = IKE_TIME_NEVER;
	sa->due = IKE_TIME_NEVER;
	sa->heap_idx = SIZE_MAX;
	ike_sa_update_logger(sa);
	return sa;
}

void ike_request_clear(struct ike_request *r)
{
	ike_dh_free(r->dh);
	free(r->msg);
	OPENSSL_cleanse(r, sizeof(*r));
}

void ike_sa_free(struct ike_sa *sa)
{
	if (!sa)
		return;
	ike_sk_clear(&sa->sk_out);
	ike_sk_clear(&sa->sk_in);
	ike_sa_keys_wipe(&sa->keys);
	ike_dh_free(sa->dh);
	ike_request_clear(&sa->req);
	free(sa->init_req);
	free(sa->init_resp);
	free(sa->last_resp);
	OPENSSL_cleanse(sa, sizeof(*sa));
	free(sa);
}

void ike_sa_update_logger(struct ike_sa *sa)
{
	char a[INET_ADDRSTRLEN] = "?";

	if (sa->remote.addr.s_addr)
		inet_ntop(AF_INET, &sa->remote.addr, a, sizeof(a));
	logger_init(&sa->log, "ike[%016llx_i %016llx_r %s]", (unsigned long long)sa->spi_i,
		    (unsigned long long)sa->spi_r, a);
}

int ike_sa_set_keys(struct ike_sa *sa, const struct ike_suite *suite,
		    const struct ike_algs *algs, const struct ike_sa_keys *keys)
{
	int err;

	ike_sk_clear(&sa->sk_out);
	ike_sk_clear(&sa->sk_in);
	ike_sa_keys_wipe(&sa->keys);
	sa->have_keys = false;
	sa->suite = *suite;
	sa->algs = *algs;
	sa->keys = *keys;
	err = ike_sk_init_from_keys(&sa->sk_out, algs, keys, sa->initiator, true);
	if (err == 0)
		err = ike_sk_init_from_keys(&sa->sk_in, algs, keys, sa->initiator, false);
	if (err < 0) {
		ike_sk_clear(&sa->sk_out);
		ike_sk_clear(&sa->sk_in);
		ike_sa_keys_wipe(&sa->keys);
		return err;
	}
	sa->have_keys = true;
	return 0;
}

int ike_sa_copy_msg(uint8_t **dst, size_t *dst_len, const uint8_t *msg, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	if (!p)
		return -ENOMEM;
	memcpy(p, msg, len);
	free(*dst);
	*dst = p;
	*dst_len = len;
	return 0;
}

struct ike_child *ike_sa_child_new(struct ike_sa *sa)
{
	for (size_t i = 0; i < IKE_SA_MAX_CHILDREN; i++) {
		if (sa->child[i].state == IKE_CHILD_FREE) {
			memset(&sa->child[i], 0, sizeof(sa->child[i]));
			sa->child[i].expire_at = IKE_TIME_NEVER;
			sa->child[i].retry_at = IKE_TIME_NEVER;
			return &sa->child[i];
		}
	}
	return NULL;
}

struct ike_child *ike_sa_child_by_in(struct ike_sa *sa, uint32_t spi_in)
{
	for (size_t i = 0; i < IKE_SA_MAX_CHILDREN; i++)
		if (sa->child[i].state != IKE_CHILD_FREE && sa->child[i].spi_in == spi_in)
			return &sa->child[i];
	return NULL;
}

struct ike_child *ike_sa_child_by_out(struct ike_sa *sa, uint32_t spi_out)
{
	for (size_t i = 0; i < IKE_SA_MAX_CHILDREN; i++)
		if (sa->child[i].state != IKE_CHILD_FREE && sa->child[i].spi_out == spi_out)
			return &sa->child[i];
	return NULL;
}

size_t ike_sa_child_count(const struct ike_sa *sa)
{
	size_t n = 0;

	for (size_t i = 0; i < IKE_SA_MAX_CHILDREN; i++)
		n += sa->child[i].state != IKE_CHILD_FREE;
	return n;
}

bool ike_sa_task_pending(const struct ike_sa *sa, enum ike_task task, uint32_t child_spi)
{
	for (size_t i = 0; i < sa->ntasks; i++)
		if (sa->tasks[i].task == task && sa->tasks[i].child_spi == child_spi)
			return true;
	if (sa->req.active && sa->req.task == task && sa->req.child_spi == child_spi)
		return true;
	return false;
}

int ike_sa_task_add(struct ike_sa *sa, enum ike_task task, uint32_t child_spi)
{
	if (ike_sa_task_pending(sa, task, child_spi))
		return -EALREADY;
	if (sa->ntasks >= IKE_SA_MAX_TASKS)
		return -ENOSPC;
	sa->tasks[sa->ntasks++] = (struct ike_task_item){ task, child_spi, 0 };
	return 0;
}

int ike_sa_task_push_front(struct ike_sa *sa, const struct ike_task_item *t)
{
	if (sa->ntasks >= IKE_SA_MAX_TASKS)
		return -ENOSPC;
	memmove(&sa->tasks[1], &sa->tasks[0], sa->ntasks * sizeof(sa->tasks[0]));
	sa->tasks[0] = *t;
	sa->ntasks++;
	return 0;
}

bool ike_sa_task_pop(struct ike_sa *sa, struct ike_task_item *out)
{
	if (sa->ntasks == 0)
		return false;
	*out = sa->tasks[0];
	memmove(&sa->tasks[0], &sa->tasks[1], (sa->ntasks - 1) * sizeof(sa->tasks[0]));
	sa->ntasks--;
	return true;
}

void ike_sa_info_fill(const struct ike_sa *sa, struct ike_sa_info *out)
{
	memset(out, 0, sizeof(*out));
	out->spi_i = sa->spi_i;
	out->spi_r = sa->spi_r;
	out->role = sa->initiator ? IKE_ROLE_INITIATOR : IKE_ROLE_RESPONDER;
	out->peer = sa->peer;
	out->peer_id = sa->peer_id;
	out->local = sa->local;
	out->remote = sa->remote;
	out->nat_local = sa->nat_local;
	out->nat_remote = sa->nat_remote;
	out->inner_addr = sa->inner_addr;
	memcpy(out->dns, sa->dns, sizeof(out->dns));
	out->ndns = sa->ndns;
	out->suite = sa->suite;
	out->replaces_spi_i = sa->replaces_spi_i;
	out->replaces_spi_r = sa->replaces_spi_r;
	out->established = sa->established;
	out->rekey_at = sa->rekey_at;
	out->state = ike_sa_state_name(sa->state);
	out->msgid_out = sa->next_req_id;
	out->msgid_in = sa->next_peer_id;
	out->nchildren = ike_sa_child_count(sa);
	out->mobike = sa->mobike;
	out->mobike_initiator = sa->mobike && sa->mob.initiator;
	out->move_pending = sa->mob.moving;
	out->deferred = sa->mob.deferred;
	out->probing = sa->mob.probing;
	out->rr_pending = sa->mob.rr_wanted;
	out->moves = sa->mob.moves;
	out->rtt = sa->rtt;
	out->last_move = sa->mob.last_move;
	out->npeer_addrs = sa->mob.npeer_addrs;
	memcpy(out->peer_addrs, sa->mob.peer_addrs, sizeof(out->peer_addrs));
}
