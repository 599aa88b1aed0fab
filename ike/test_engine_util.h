/* Test harness for ike/engine.h: two engines wired back to back in one process, a fake clock,
 * a deterministic random op, an optional NAT between them, packet loss on demand, and a
 * record of every action each side got. Shared by the test_engine*.c programs (static
 * functions: each program uses what it needs).
 *
 * Side A is the initiator (mnd-like, default_role INITIATOR), side B the responder (vpngw-
 * like). A sits at 192.0.2.2, or behind a NAT at 10.0.0.2 that shows it as 198.51.100.7 with
 * port + 40000; B at 192.0.2.1.
 */
#ifndef MM_IKE_TEST_ENGINE_UTIL_H
#define MM_IKE_TEST_ENGINE_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ike/engine.h"
#include "ike/msg.h"
#include "ike/payload.h"
#include "tests/unit/tap.h"

#define T_MAX_REC 64

struct tside {
	const char *name;
	struct ike_engine *e;
	struct ike_engine_cfg cfg;
	struct ike_peer_cfg peers[4];
	size_t npeers;
	struct ike_actions *act;
	uint64_t rng;
	struct in_addr addr;                   /* its own address */
	/* records of actions */
	struct ike_child_info up[T_MAX_REC];
	size_t nup;
	uint32_t down_in[T_MAX_REC], down_out[T_MAX_REC];
	size_t ndown;
	struct ike_sa_info sa_up[T_MAX_REC];
	size_t nsa_up;
	struct ike_sa_info sa_down[T_MAX_REC];
	char down_reason[T_MAX_REC][160];
	size_t nsa_down;
	char keylog[T_MAX_REC][640];
	size_t nkeylog;
	struct ike_move_info moved[T_MAX_REC];     /* IKE_ACT_SA_MOVED */
	char moved_text[T_MAX_REC][160];
	size_t nmoved;
	struct ike_move_info failed[T_MAX_REC];    /* IKE_ACT_MOVE_FAILED */
	char failed_text[T_MAX_REC][160];
	size_t nfailed;
	struct ike_sa_info peer_addrs[T_MAX_REC];  /* IKE_ACT_PEER_ADDRESSES */
	size_t npeer_addrs;
	size_t sent;                           /* SEND actions */
	char seq[512];                         /* every action in order: > send, U child up,
						* D child down, S SA up, X SA down, K key log,
						* M SA moved, F move failed, P peer addresses */
	size_t nseq;
	/* address pool for the responder's CP (198.18.100.10 ...) */
	unsigned pool_size, pool_used, pool_released;
	uint32_t pool_base;
};

struct tpkt {
	int to;                                /* 0: A, 1: B */
	struct ike_endpoint from, to_ep;
	size_t len;
	uint8_t data[IKE_MSG_MAX];
};

/* Every datagram that crossed the wire (for the pcap of the tshark check). */
struct twire {
	struct in_addr src, dst;
	uint16_t sport, dport;
	size_t len;
	uint8_t *data;
};

struct tnet;
/* A test's own network between A and B (addresses A moves between, NATs, dead links): it may
 * rewrite the addresses of a datagram on its way (to: 0 towards A, 1 towards B) and returns
 * false to lose it. Replaces the single NAT of t_net_init(). */
typedef bool (*t_wire_fn)(struct tnet *n, int to, struct ike_endpoint *from,
			  struct ike_endpoint *dst);

struct tnet {
	struct tside a, b;
	t_wire_fn net_fn;
	mm_time_ns now;
	bool nat;
	struct tpkt q[64];
	size_t nq;
	unsigned drop_to[2];                   /* drop the next n datagrams towards A / B */
	bool cut;                              /* drop everything */
	bool hold;                             /* queue only; the test delivers by hand */
	struct twire *wire;
	size_t nwire, capwire;
	bool record;
};

/* --- deterministic randomness -------------------------------------------------------------- */

static inline int t_random(void *user, void *buf, size_t len)
{
	struct tside *s = user;
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		/* xorshift64* */
		s->rng ^= s->rng >> 12;
		s->rng ^= s->rng << 25;
		s->rng ^= s->rng >> 27;
		p[i] = (uint8_t)((s->rng * UINT64_C(2685821657736338717)) >> 56);
	}
	return 0;
}

/* --- pool callbacks ------------------------------------------------------------------------- */

static inline int t_pool_acquire(void *user, const struct ike_peer_cfg *peer,
			  const struct ike_identity *id, struct in_addr *addr)
{
	struct tside *s = user;

	(void)peer;
	(void)id;
	if (s->pool_used >= s->pool_size)
		return -ENOSPC;
	addr->s_addr = htonl(s->pool_base + s->pool_used++);
	return 0;
}

static inline void t_pool_release(void *user, struct in_addr addr)
{
	struct tside *s = user;

	(void)addr;
	s->pool_released++;
}

static inline size_t t_dns(void *user, struct in_addr *out, size_t max)
{
	(void)user;
	if (max < 2)
		return 0;
	inet_pton(AF_INET, "198.18.0.53", &out[0]);
	inet_pton(AF_INET, "198.18.0.54", &out[1]);
	return 2;
}

/* --- configuration helpers ------------------------------------------------------------------ */

static inline struct ike_suite t_suite(uint16_t encr, uint16_t bits, uint16_t integ, uint16_t prf,
				uint16_t dh, uint16_t esn)
{
	struct ike_suite s = { encr, bits, integ, prf, dh, esn };

	return s;
}

static inline void t_id(struct ike_identity *id, uint8_t type, const void *data, size_t len)
{
	memset(id, 0, sizeof(*id));
	id->type = type;
	id->len = (uint16_t)len;
	memcpy(id->data, data, len);
}

static inline void t_id_fqdn(struct ike_identity *id, const char *name)
{
	t_id(id, 2, name, strlen(name));
}

static const uint8_t t_psk[] = "a test pre-shared key of 32 oct";

/* A PSK peer pair: A (mn.test) to B (vpngw.test), IKE suite ike, ESP suite esp. */
static inline void t_peers_psk(struct tnet *n, struct ike_suite ike, struct ike_suite esp)
{
	struct ike_peer_cfg *a = &n->a.peers[0], *b = &n->b.peers[0];

	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->name = "gw";
	t_id_fqdn(&a->local_id, "mn.test");
	t_id_fqdn(&a->remote_id, "vpngw.test");
	a->local.auth = a->remote.auth = IKE_AUTHK_PSK;
	a->local.psk = a->remote.psk = t_psk;
	a->local.psk_len = a->remote.psk_len = sizeof(t_psk) - 1;
	a->ike.n = 1;
	a->ike.suite[0] = ike;
	a->esp.n = 1;
	a->esp.suite[0] = esp;
	a->request_address = true;
	a->remote_ts.n = 1;
	inet_pton(AF_INET, "198.18.0.0", &a->remote_ts.ts[0].start);
	inet_pton(AF_INET, "198.18.255.255", &a->remote_ts.ts[0].end);
	a->remote_ts.ts[0].end_port = 65535;
	a->child_lifetime_s = 3600;

	*b = *a;
	b->name = "roadwarriors";
	t_id_fqdn(&b->local_id, "vpngw.test");
	t_id_fqdn(&b->remote_id, "mn.test");
	b->request_address = false;
	b->assign_address = true;
	b->remote_ts.n = 0;
	b->local_ts = a->remote_ts;
	n->a.npeers = n->b.npeers = 1;
}

static inline void t_side_init(struct tside *s, const char *name, enum ike_role role, uint64_t seed,
			const char *addr)
{
	memset(&s->cfg, 0, sizeof(s->cfg));
	s->name = name;
	s->rng = seed;
	inet_pton(AF_INET, addr, &s->addr);
	s->cfg.default_role = role;
	s->cfg.ops.user = s;
	s->cfg.ops.random = t_random;
	s->cfg.ops.pool_acquire = t_pool_acquire;
	s->cfg.ops.pool_release = t_pool_release;
	s->cfg.ops.dns_servers = t_dns;
	s->cfg.keylog = true;
	s->pool_size = 8;
	s->pool_base = 0xc612640a;     /* 198.18.100.10 */
	if (!s->act)
		s->act = calloc(1, sizeof(*s->act));
}

/* Fresh network with both sides configured (peers set by the caller before t_start). */
static inline void t_net_init(struct tnet *n, bool nat)
{
	struct ike_actions *aa = n->a.act, *ba = n->b.act;

	memset(n, 0, sizeof(*n));
	n->a.act = aa;
	n->b.act = ba;
	n->nat = nat;
	n->now = MM_SEC(1000);
	t_side_init(&n->a, "A", IKE_ROLE_INITIATOR, 0x1234567890abcdefull,
		    nat ? "10.0.0.2" : "192.0.2.2");
	t_side_init(&n->b, "B", IKE_ROLE_RESPONDER, 0xfedcba0987654321ull, "192.0.2.1");
}

static inline int t_start_engines(struct tnet *n)
{
	int err;

	n->a.cfg.peers = n->a.peers;
	n->a.cfg.npeers = n->a.npeers;
	n->b.cfg.peers = n->b.peers;
	n->b.cfg.npeers = n->b.npeers;
	err = ike_engine_new(&n->a.cfg, &n->a.e);
	if (err == 0)
		err = ike_engine_new(&n->b.cfg, &n->b.e);
	return err;
}

static inline void t_net_free(struct tnet *n)
{
	ike_engine_free(n->a.e);
	ike_engine_free(n->b.e);
	n->a.e = n->b.e = NULL;
	for (size_t i = 0; i < n->nwire; i++)
		free(n->wire[i].data);
	free(n->wire);
	n->wire = NULL;
	n->nwire = n->capwire = 0;
}

static inline void t_free_actions(struct tnet *n)
{
	free(n->a.act);
	free(n->b.act);
	n->a.act = n->b.act = NULL;
}

/* --- the wire -------------------------------------------------------------------------------- */

#define T_NAT_PUBLIC "198.51.100.7"
#define T_NAT_PORT_OFF 40000

/* What B sees as A's source, and where B's datagrams to A really go. */
static inline void t_nat_out(const struct tnet *n, struct ike_endpoint *ep)
{
	if (!n->nat)
		return;
	inet_pton(AF_INET, T_NAT_PUBLIC, &ep->addr);
	ep->port = (uint16_t)(ep->port + T_NAT_PORT_OFF);
}

static inline void t_nat_in(const struct tnet *n, struct ike_endpoint *ep)
{
	if (!n->nat)
		return;
	ep->addr = n->a.addr;
	ep->port = (uint16_t)(ep->port - T_NAT_PORT_OFF);
}

static inline void t_record_wire(struct tnet *n, const struct ike_endpoint *from,
			  const struct ike_endpoint *to, const uint8_t *data, size_t len)
{
	struct twire *w;

	if (!n->record)
		return;
	if (n->nwire == n->capwire) {
		n->capwire = n->capwire ? 2 * n->capwire : 32;
		n->wire = realloc(n->wire, n->capwire * sizeof(*n->wire));
	}
	w = &n->wire[n->nwire++];
	w->src = from->addr;
	w->dst = to->addr;
	w->sport = from->port;
	w->dport = to->port;
	w->len = len;
	w->data = malloc(len);
	memcpy(w->data, data, len);
}

/* Carry out one side's actions: SEND goes on the wire (through the NAT), the rest is
 * recorded; then the actions are cleared as a daemon would. */
static inline void t_collect(struct tnet *n, struct tside *s)
{
	struct ike_actions *a = s->act;
	int to = s == &n->a ? 1 : 0;

	for (size_t i = 0; i < a->n; i++) {
		struct ike_action *x = &a->a[i];
		static const char kinds[] = "?>UDSXKMFP";

		if (s->nseq + 1 < sizeof(s->seq) && (unsigned)x->kind < sizeof(kinds) - 1) {
			s->seq[s->nseq++] = kinds[x->kind];
			s->seq[s->nseq] = '\0';
		}

		switch (x->kind) {
		case IKE_ACT_SEND: {
			struct tpkt *p;
			struct ike_endpoint from = x->u.send.local, dst = x->u.send.remote;

			s->sent++;
			if (from.addr.s_addr == 0)
				from.addr = s->addr;
			if (n->net_fn) {
				if (!n->net_fn(n, to, &from, &dst))
					break;
			} else if (to == 1) {
				t_nat_out(n, &from);
			} else {
				t_nat_in(n, &dst);
			}
			t_record_wire(n, &from, &dst, a->buf + x->u.send.off, x->u.send.len);
			if (n->cut)
				break;
			if (n->drop_to[to]) {
				n->drop_to[to]--;
				break;
			}
			if (n->nq >= sizeof(n->q) / sizeof(n->q[0]))
				break;
			p = &n->q[n->nq++];
			p->to = to;
			p->from = from;
			p->to_ep = dst;
			p->len = x->u.send.len;
			memcpy(p->data, a->buf + x->u.send.off, p->len);
			break;
		}
		case IKE_ACT_CHILD_UP:
			if (s->nup < T_MAX_REC)
				s->up[s->nup++] = x->u.child;
			break;
		case IKE_ACT_CHILD_DOWN:
			if (s->ndown < T_MAX_REC) {
				s->down_in[s->ndown] = x->u.child.spi_in;
				s->down_out[s->ndown++] = x->u.child.spi_out;
			}
			break;
		case IKE_ACT_SA_UP:
			if (s->nsa_up < T_MAX_REC)
				s->sa_up[s->nsa_up++] = x->u.sa;
			break;
		case IKE_ACT_SA_DOWN:
			if (s->nsa_down < T_MAX_REC) {
				snprintf(s->down_reason[s->nsa_down], sizeof(s->down_reason[0]), "%s",
					 x->text);
				s->sa_down[s->nsa_down++] = x->u.sa;
			}
			break;
		case IKE_ACT_KEYLOG:
			if (s->nkeylog < T_MAX_REC)
				snprintf(s->keylog[s->nkeylog++], sizeof(s->keylog[0]), "%s", x->text);
			break;
		case IKE_ACT_SA_MOVED:       /* MOBIKE: recorded below */
		case IKE_ACT_MOVE_FAILED:
		case IKE_ACT_PEER_ADDRESSES:
		case IKE_ACT_PEER_ALIVE:
			break;
		}
		switch ((int)x->kind) {
		case IKE_ACT_SA_MOVED:
			if (s->nmoved < T_MAX_REC) {
				snprintf(s->moved_text[s->nmoved], sizeof(s->moved_text[0]), "%s",
					 x->text);
				s->moved[s->nmoved++] = x->u.move;
			}
			break;
		case IKE_ACT_MOVE_FAILED:
			if (s->nfailed < T_MAX_REC) {
				snprintf(s->failed_text[s->nfailed], sizeof(s->failed_text[0]), "%s",
					 x->text);
				s->failed[s->nfailed++] = x->u.move;
			}
			break;
		case IKE_ACT_PEER_ADDRESSES:
			if (s->npeer_addrs < T_MAX_REC)
				s->peer_addrs[s->npeer_addrs++] = x->u.sa;
			break;
		default:
			break;
		}
	}
	ike_actions_clear(a);
}

/* Deliver queued datagram i (0: the oldest). */
static inline bool t_deliver(struct tnet *n, size_t i)
{
	struct tpkt p;
	struct tside *s;

	if (i >= n->nq)
		return false;
	p = n->q[i];
	memmove(&n->q[i], &n->q[i + 1], (n->nq - i - 1) * sizeof(n->q[0]));
	n->nq--;
	s = p.to ? &n->b : &n->a;
	ike_engine_input(s->e, p.data, p.len, &p.from, &p.to_ep, n->now, s->act);
	t_collect(n, s);
	return true;
}

static inline bool t_step(struct tnet *n)
{
	return t_deliver(n, 0);
}

/* Take queued datagram i off the wire (lost). */
static inline void t_lose(struct tnet *n, size_t i)
{
	if (i < n->nq) {
		memmove(&n->q[i], &n->q[i + 1], (n->nq - i - 1) * sizeof(n->q[0]));
		n->nq--;
	}
}

static inline void t_run(struct tnet *n)
{
	for (int i = 0; i < 1000 && !n->hold && t_step(n); i++)
		;
}

/* Let time pass: timers fire on both sides, datagrams flow. */
static inline void t_advance(struct tnet *n, mm_time_ns dt)
{
	mm_time_ns end = n->now + dt;

	for (int guard = 0; guard < 100000; guard++) {
		mm_time_ns ta = ike_engine_next_timer(n->a.e), tb = ike_engine_next_timer(n->b.e);
		mm_time_ns t = ta < tb ? ta : tb;

		if (t > end)
			break;
		if (t > n->now)
			n->now = t;
		if (ta <= n->now) {
			ike_engine_timer(n->a.e, n->now, n->a.act);
			t_collect(n, &n->a);
		}
		if (tb <= n->now) {
			ike_engine_timer(n->b.e, n->now, n->b.act);
			t_collect(n, &n->b);
		}
		t_run(n);
	}
	n->now = end;
}

static inline struct ike_endpoint t_ep(struct in_addr a, uint16_t port)
{
	struct ike_endpoint e = { a, port };

	return e;
}

/* A initiates to B with peers[peer]; returns the handle. */
static inline uint64_t t_initiate(struct tnet *n, size_t peer)
{
	struct ike_endpoint l = t_ep(n->a.addr, 500), r = t_ep(n->b.addr, 500);
	uint64_t spi = 0;

	if (ike_engine_initiate(n->a.e, peer, &l, &r, n->now, &spi, n->a.act) < 0)
		return 0;
	t_collect(n, &n->a);
	t_run(n);
	return spi;
}

/* The CHILD_UP of B matching A's: same SPIs crossed and the keys of one direction equal to
 * the other's opposite direction. */
static inline const struct ike_child_info *t_peer_child(const struct tside *s, uint32_t spi_in)
{
	for (size_t i = s->nup; i-- > 0;)
		if (s->up[i].spi_out == spi_in)
			return &s->up[i];
	return NULL;
}

static inline int t_child_pair_ok(const struct ike_child_info *x, const struct ike_child_info *y)
{
	return x && y && x->spi_in == y->spi_out && x->spi_out == y->spi_in &&
	       x->key_len == y->key_len && x->integ_len == y->integ_len && x->key_len > 0 &&
	       memcmp(x->key_in, y->key_out, x->key_len) == 0 &&
	       memcmp(x->key_out, y->key_in, x->key_len) == 0 &&
	       memcmp(x->key_in, x->key_out, x->key_len) != 0 &&
	       (x->integ_len == 0 || (memcmp(x->integ_in, y->integ_out, x->integ_len) == 0 &&
				      memcmp(x->integ_out, y->integ_in, x->integ_len) == 0)) &&
	       memcmp(&x->suite, &y->suite, sizeof(x->suite)) == 0;
}

/* The number of live (established) SAs an engine lists. */
static inline size_t t_count_sas(const struct ike_engine *e, const char *state)
{
	struct ike_sa_info info;
	size_t cur = 0, n = 0;

	while (ike_engine_next_sa(e, &cur, &info))
		if (!state || strcmp(info.state, state) == 0)
			n++;
	return n;
}

static inline bool t_find_sa(const struct ike_engine *e, uint64_t spi_i, struct ike_sa_info *out)
{
	size_t cur = 0;

	while (ike_engine_next_sa(e, &cur, out))
		if (out->spi_i == spi_i)
			return true;
	return false;
}

/* Children that were brought up and not taken down, per side. */
static inline size_t t_live_children(const struct tside *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nup; i++) {
		bool down = false;

		for (size_t j = 0; j < s->ndown; j++)
			down = down || s->down_in[j] == s->up[i].spi_in;
		n += !down;
	}
	return n;
}

static inline bool t_is_down(const struct tside *s, uint32_t spi_in)
{
	for (size_t j = 0; j < s->ndown; j++)
		if (s->down_in[j] == spi_in)
			return true;
	return false;
}

/* Quiet logs unless IKE_TEST_VERBOSE is set. */
static inline void t_log_setup(void)
{
	if (getenv("IKE_TEST_VERBOSE"))
		log_set_level(LOG_LEVEL_DEBUG);
	else
		log_set_level(LOG_LEVEL_ERROR);
}

#endif
