/* Fuzz target: the IKEv2 engine (ike/engine.c and the exchanges behind it).
 *
 * The first input octet picks the mode:
 *  - even: raw datagrams for a responder engine. The rest is a list of [length (2 octets,
 *    big-endian) | octets] records, each fed to ike_engine_input() from one of four sources
 *    (the low bits of the length's first octet pick it), ports 500 or 4500; the clock moves
 *    by one second after each, and due timers run.
 *  - odd: a live exchange between an initiator engine A and the responder B (PSK,
 *    AES-GCM-16 / X25519, CP, ESP). Every datagram on the wire consumes one operation from
 *    the input: deliver, drop, deliver twice, flip a bit (position from the next two
 *    octets), truncate (length from the next two octets), let time pass (timers and
 *    retransmissions), or order a Child SA rekey, an IKE SA rekey, a liveness check, a
 *    new Child SA or a delete on either side. When the input runs out, the rest is
 *    delivered as is and time runs on for two minutes.
 *    With bit 1 of the first octet set as well, both sides do MOBIKE (RFC 4555): bit 2 puts
 *    NO_NATS_ALLOWED in A's updates, bits 3-4 pick B's acceptance policy (return routability
 *    for new addresses / always / never / refuse NATs and all but 192.0.2.0/29), B announces
 *    two addresses; and operations 0xd0-0xdf are MOBIKE orders: A moves to one of four
 *    local addresses or to B's second address, defers (no address), tests paths, either
 *    side changes its address set, B tries to move (refused), or the next datagram arrives
 *    from another source address (no implicit move may follow).
 * Checked after every engine call: the call succeeds (bad input is never an error to the
 * caller), the actions are within their bounds (count, SEND offsets and lengths inside the
 * buffer and at most IKE_MSG_MAX, key lengths at most IKE_KEY_MAX, SA_DOWN after the
 * CHILD_DOWNs of its SA), and Child SAs that both sides installed have crossing keys;
 * MOBIKE: SA_MOVED / MOVE_FAILED name usable addresses and at most IKE_MOVE_MAX_CHILDREN
 * Child SAs, a refusal is an error notify, a peer address set fits, and an initiator whose
 * only SA is deferred sends nothing from its timers.
 * Both engines are freed at the end (leaks show under ASan). Any violation is
 * __builtin_trap().
 *
 * Seeds (corpus/ike_engine/): an undisturbed live exchange with rekeys, one with losses and
 * retransmissions, one with bit flips, raw IKE_SA_INIT requests from a real initiator, and
 * MOBIKE exchanges (mobike-*: moves with return routability, superseded moves, deferral
 * and resume, path testing, NO_NATS_ALLOWED, refusals, address set changes, a source
 * address change).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ike/engine.h"
#include "ike/payload.h"

#define ASSERT(cond) do { if (!(cond)) __builtin_trap(); } while (0)

#define QMAX 32
#define MAX_UP 64

struct pkt {
	int to;                       /* 0: A, 1: B */
	struct ike_endpoint from, dst;
	size_t len;
	uint8_t data[IKE_MSG_MAX];
};

struct side {
	struct ike_engine *e;
	struct ike_engine_cfg cfg;
	struct ike_peer_cfg peer;
	struct ike_actions act;
	uint64_t rng;
	struct ike_child_info up[MAX_UP];
	size_t nup;
	unsigned pool;
};

struct world {
	bool mobike;
	struct side s[2];
	struct pkt q[QMAX];
	size_t nq;
	mm_time_ns now;
	uint64_t spi;                 /* A's handle */
};

static struct world w;

static const uint8_t psk[] = "fuzzing pre-shared key, 32 octs";

static int rnd(void *user, void *buf, size_t len)
{
	struct side *s = user;
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		s->rng ^= s->rng << 13;
		s->rng ^= s->rng >> 7;
		s->rng ^= s->rng << 17;
		p[i] = (uint8_t)s->rng;
	}
	return 0;
}

static int pool_acquire(void *user, const struct ike_peer_cfg *p, const struct ike_identity *id,
			struct in_addr *addr)
{
	struct side *s = user;

	(void)p;
	(void)id;
	if (s->pool >= 4)
		return -ENOSPC;
	addr->s_addr = htonl(0xc6126400u + ++s->pool);
	return 0;
}

static void pool_release(void *user, struct in_addr addr)
{
	struct side *s = user;

	(void)addr;
	ASSERT(s->pool > 0);
	s->pool--;
}

static void peer_init(struct ike_peer_cfg *p, bool responder, uint8_t mode)
{
	memset(p, 0, sizeof(*p));
	p->name = responder ? "fuzz-r" : "fuzz-i";
	p->local_id.type = p->remote_id.type = 2;
	memcpy(p->local_id.data, responder ? "r.test" : "i.test", 6);
	memcpy(p->remote_id.data, responder ? "i.test" : "r.test", 6);
	p->local_id.len = p->remote_id.len = 6;
	if (responder)
		p->remote_id.type = 0;
	p->local.auth = p->remote.auth = IKE_AUTHK_PSK;
	p->local.psk = p->remote.psk = psk;
	p->local.psk_len = p->remote.psk_len = sizeof(psk) - 1;
	p->ike.n = 2;
	p->ike.suite[0] = (struct ike_suite){ .encr = IKE_ENCR_AES_GCM_16, .encr_key_bits = 128,
					      .prf = IKE_PRF_HMAC_SHA2_256,
					      .dh = IKE_DH_CURVE25519 };
	p->ike.suite[1] = (struct ike_suite){ .encr = IKE_ENCR_CHACHA20_POLY1305,
					      .prf = IKE_PRF_HMAC_SHA2_256,
					      .dh = IKE_DH_CURVE25519 };
	p->esp.n = 1;
	p->esp.suite[0] = (struct ike_suite){ .encr = IKE_ENCR_AES_GCM_16, .encr_key_bits = 128,
					      .dh = responder ? IKE_DH_CURVE25519 : 0 };
	p->request_address = !responder;
	p->assign_address = responder;
	p->dpd_interval_s = 30;
	p->ike_lifetime_s = responder ? 0 : 100;
	if (mode & 2) {
		p->mobike = true;
		p->mobike_no_nats = !responder && (mode & 4);
		switch ((mode >> 3) & 3) {
		case 0:
			p->mobike_policy.rr = POLICY_MOBIKE_RR_NEW_ADDRESS;
			break;
		case 1:
			p->mobike_policy.rr = POLICY_MOBIKE_RR_ALWAYS;
			break;
		case 2:
			p->mobike_policy.rr = POLICY_MOBIKE_RR_NEVER;
			break;
		default:
			p->mobike_policy.refuse_nat = true;
			p->mobike_policy.nallowed = 1;
			p->mobike_policy.allowed[0].net.s_addr = htonl(0xc0000200);
			p->mobike_policy.allowed[0].len = 29;
			break;
		}
	}
}

static void side_init(struct side *s, bool responder, uint64_t seed, uint8_t mode)
{
	memset(&s->cfg, 0, sizeof(s->cfg));
	peer_init(&s->peer, responder, mode);
	s->rng = seed;
	s->nup = 0;
	s->pool = 0;
	s->cfg.default_role = responder ? IKE_ROLE_RESPONDER : IKE_ROLE_INITIATOR;
	s->cfg.peers = &s->peer;
	s->cfg.npeers = 1;
	s->cfg.ops.user = s;
	s->cfg.ops.random = rnd;
	s->cfg.ops.pool_acquire = pool_acquire;
	s->cfg.ops.pool_release = pool_release;
	s->cfg.cookie_threshold = 2;
	s->cfg.half_open_max = 4;
	s->cfg.max_sas = 8;
	s->cfg.retransmit_tries = 3;
	s->cfg.keylog = true;
	if (mode & 2) {
		s->cfg.local_addrs[0].s_addr = htonl(responder ? 0xc0000201 : 0xc0000202);
		s->cfg.local_addrs[1].s_addr = htonl(responder ? 0xc0000205 : 0xc0000203);
		s->cfg.nlocal_addrs = 2;
		s->cfg.announce_addresses = responder;
	}
	ASSERT(ike_engine_new(&s->cfg, &s->e) == 0);
}

static struct ike_endpoint ep(uint32_t addr, uint16_t port)
{
	struct ike_endpoint e = { { htonl(addr) }, port };

	return e;
}

/* Check one batch of actions and put SENDs on the wire (when wire is true). */
static void carry_out(int who, bool wire)
{
	struct side *s = &w.s[who];
	struct ike_actions *a = &s->act;

	ASSERT(a->n <= IKE_ACTIONS_MAX && a->buf_len <= sizeof(a->buf));
	for (size_t i = 0; i < a->n; i++) {
		struct ike_action *x = &a->a[i];

		ASSERT(x->text[sizeof(x->text) - 1] == '\0' || memchr(x->text, 0, sizeof(x->text)));
		switch ((int)x->kind) {
		case IKE_ACT_SEND:
			ASSERT(x->u.send.len >= 28 && x->u.send.len <= IKE_MSG_MAX);
			ASSERT(x->u.send.off <= a->buf_len &&
			       x->u.send.len <= a->buf_len - x->u.send.off);
			if (wire && w.nq < QMAX) {
				struct pkt *p = &w.q[w.nq++];

				p->to = !who;
				p->from = x->u.send.local;
				p->dst = x->u.send.remote;
				p->len = x->u.send.len;
				memcpy(p->data, a->buf + x->u.send.off, p->len);
			}
			break;
		case IKE_ACT_CHILD_UP:
			ASSERT(x->u.child.key_len > 0 && x->u.child.key_len <= IKE_KEY_MAX);
			ASSERT(x->u.child.integ_len <= IKE_KEY_MAX);
			ASSERT(x->u.child.spi_in >= 256);
			if (s->nup < MAX_UP)
				s->up[s->nup++] = x->u.child;
			/* The other side's pair, if it installed one: keys cross. */
			for (size_t k = 0; k < w.s[!who].nup; k++) {
				const struct ike_child_info *o = &w.s[!who].up[k];

				if (o->spi_in != x->u.child.spi_out || o->spi_out != x->u.child.spi_in)
					continue;
				ASSERT(o->key_len == x->u.child.key_len);
				ASSERT(memcmp(o->key_in, x->u.child.key_out, o->key_len) == 0);
				ASSERT(memcmp(o->key_out, x->u.child.key_in, o->key_len) == 0);
			}
			break;
		case IKE_ACT_CHILD_DOWN:
			break;
		case IKE_ACT_SA_DOWN:
			/* No CHILD_DOWN of this SA after its SA_DOWN in the batch. */
			for (size_t k = i + 1; k < a->n; k++)
				ASSERT(a->a[k].kind != IKE_ACT_CHILD_DOWN ||
				       a->a[k].u.child.ike_spi_i != x->u.sa.spi_i ||
				       a->a[k].u.child.ike_spi_r != x->u.sa.spi_r);
			break;
		case IKE_ACT_SA_UP:
			if (who == 0)               /* the handle follows IKE SA rekeys */
				w.spi = x->u.sa.spi_i;
			break;
		case IKE_ACT_KEYLOG:
			ASSERT(strlen(x->text) > 40);
			break;
		case IKE_ACT_SA_MOVED:
		case IKE_ACT_MOVE_FAILED:
			ASSERT(w.mobike && x->u.move.sa.mobike);
			ASSERT(x->u.move.nchildren <= IKE_MOVE_MAX_CHILDREN);
			ASSERT(x->u.move.sa.local.addr.s_addr && x->u.move.sa.remote.addr.s_addr &&
			       x->u.move.old_local.addr.s_addr && x->u.move.old_remote.addr.s_addr);
			ASSERT(x->u.move.sa.npeer_addrs <= IKE_MOBIKE_MAX_ADDRS);
			if ((int)x->kind == IKE_ACT_MOVE_FAILED)
				ASSERT(x->u.move.refusal && ike_notify_is_error(x->u.move.refusal) &&
				       x->u.move.sa.mobike_initiator);
			else
				ASSERT(memcmp(&x->u.move.sa.local, &x->u.move.old_local,
					      sizeof(x->u.move.old_local)) ||
				       memcmp(&x->u.move.sa.remote, &x->u.move.old_remote,
					      sizeof(x->u.move.old_remote)) ||
				       x->u.move.sa.nat_local != x->u.move.old_nat_local ||
				       x->u.move.sa.nat_remote != x->u.move.old_nat_remote);
			break;
		case IKE_ACT_PEER_ADDRESSES:
			ASSERT(w.mobike && x->u.sa.npeer_addrs >= 1 &&
			       x->u.sa.npeer_addrs <= IKE_MOBIKE_MAX_ADDRS);
			break;
		case IKE_ACT_PEER_ALIVE:
			ASSERT(x->u.sa.spi_i != 0);
			break;
		default:
			__builtin_trap();
		}
	}
	ike_actions_clear(a);
}

/* Is the side's only SA deferred (MOBIKE, no address)? */
static bool only_sa_deferred(int who)
{
	struct ike_sa_info info;
	size_t cur = 0, n = 0;
	bool deferred = false;

	while (ike_engine_next_sa(w.s[who].e, &cur, &info)) {
		n++;
		deferred = info.deferred;
	}
	return n == 1 && deferred;
}

static void timers(int who)
{
	for (int i = 0; i < 8 && ike_engine_next_timer(w.s[who].e) <= w.now; i++) {
		bool quiet = only_sa_deferred(who);

		ASSERT(ike_engine_timer(w.s[who].e, w.now, &w.s[who].act) == 0);
		/* Deferred: nothing leaves on the engine's own initiative. */
		for (size_t k = 0; quiet && k < w.s[who].act.n; k++)
			ASSERT(w.s[who].act.a[k].kind != IKE_ACT_SEND);
		carry_out(who, true);
	}
}

static void deliver(const struct pkt *p)
{
	struct side *s = &w.s[p->to];

	ASSERT(ike_engine_input(s->e, p->data, p->len, &p->from, &p->dst, w.now, &s->act) == 0);
	carry_out(p->to, true);
}

static void pass_time(mm_time_ns dt)
{
	mm_time_ns end = w.now + dt;

	while (w.now < end) {
		w.now += MM_MSEC(500);
		timers(0);
		timers(1);
		while (w.nq) {
			struct pkt p = w.q[0];

			memmove(&w.q[0], &w.q[1], (w.nq - 1) * sizeof(w.q[0]));
			w.nq--;
			deliver(&p);
		}
	}
}

static uint16_t get16(const uint8_t *d, size_t size, size_t *pos)
{
	uint16_t v = 0;

	if (*pos < size)
		v = (uint16_t)(d[(*pos)++] << 8);
	if (*pos < size)
		v |= d[(*pos)++];
	return v;
}

/* An order from the input on side who. Orders may be refused (-ENOENT, -EAGAIN, ...). */
static void order(int who, uint8_t op)
{
	struct side *s = &w.s[who];
	int rc = 0;

	if (!w.spi)
		return;
	switch (op % 6) {
	case 0:
		if (s->nup)
			rc = ike_engine_rekey_child(s->e, w.spi, s->up[s->nup - 1].spi_in, w.now,
						    &s->act);
		break;
	case 1:
		rc = ike_engine_rekey_ike(s->e, w.spi, w.now, &s->act);
		break;
	case 2:
		rc = ike_engine_dpd(s->e, w.spi, w.now, &s->act);
		break;
	case 3:
		rc = ike_engine_create_child(s->e, w.spi, w.now, &s->act);
		break;
	case 4:
		if (s->nup)
			rc = ike_engine_child_expired(s->e, s->up[0].spi_in, op & 0x80, w.now,
						      &s->act);
		break;
	case 5:
		rc = ike_engine_delete(s->e, w.spi, w.now, &s->act);
		break;
	}
	ASSERT(rc <= 0);
	carry_out(who, true);
}

/* A MOBIKE order from the input (0xd0-0xdf). Orders may be refused. */
static void mobike_op(uint8_t op)
{
	static const uint32_t locals[] = { 0xc0000202, 0xc0000203, 0x0a000002, 0xc0000204 };
	struct side *a = &w.s[0], *b = &w.s[1];
	struct ike_endpoint l, r;
	struct in_addr set[2];
	int rc = 0;

	switch (op & 0x0f) {
	case 0: case 1: case 2: case 3:
		l = ep(locals[op & 3], 4500);
		rc = ike_engine_update_addresses(a->e, w.spi, &l, NULL, w.now, &a->act);
		carry_out(0, true);
		break;
	case 4:
		l = ep(0xc0000202, 0);
		r = ep(0xc0000205, 0);
		rc = ike_engine_update_addresses(a->e, w.spi, &l, &r, w.now, &a->act);
		carry_out(0, true);
		break;
	case 5:
		rc = ike_engine_update_addresses(a->e, w.spi, NULL, NULL, w.now, &a->act);
		carry_out(0, true);
		break;
	case 6:
		rc = ike_engine_probe_paths(a->e, w.spi, w.now, &a->act);
		carry_out(0, true);
		break;
	case 7:
	case 8:
		set[0].s_addr = htonl(0xc0000205);
		set[1].s_addr = htonl(0xc0000201);
		rc = ike_engine_set_local_addresses(b->e, set, (op & 0x0f) == 7 ? 1 : 2, w.now,
						    &b->act);
		ASSERT(rc == 0);
		carry_out(1, true);
		break;
	case 9:
		set[0].s_addr = htonl(0xc0000203);
		rc = ike_engine_set_local_addresses(a->e, set, 1, w.now, &a->act);
		ASSERT(rc == 0);
		carry_out(0, true);
		break;
	case 10:
		rc = ike_engine_update_addresses(b->e, w.spi, NULL, NULL, w.now, &b->act);
		ASSERT(rc != 0);     /* only the initiator moves */
		carry_out(1, true);
		break;
	default:
		/* The next datagram comes from elsewhere (a NAT rebinding or an attacker). */
		if (w.nq) {
			struct pkt p = w.q[0];

			memmove(&w.q[0], &w.q[1], (w.nq - 1) * sizeof(w.q[0]));
			w.nq--;
			p.from.addr.s_addr = htonl(0xcb007100u + (op & 0x0f));
			deliver(&p);
		}
		break;
	}
	ASSERT(rc <= 0);
}

static void live(const uint8_t *d, size_t size)
{
	size_t pos = 1;
	struct ike_endpoint l = ep(0xc0000202, 500), r = ep(0xc0000201, 500);

	ASSERT(ike_engine_initiate(w.s[0].e, 0, &l, &r, w.now, &w.spi, &w.s[0].act) == 0);
	w.spi = 0;
	carry_out(0, true);
	while (pos < size) {
		uint8_t op = d[pos++];
		struct pkt p;

		if ((op & 0xf0) == 0xf0) {
			order(op & 1, op >> 1);
			continue;
		}
		if ((op & 0xf0) == 0xe0) {
			pass_time(MM_SEC(1 + (op & 0x0f)));
			continue;
		}
		if (w.mobike && (op & 0xf0) == 0xd0) {
			if (w.spi)
				mobike_op(op);
			continue;
		}
		if (w.nq == 0) {
			pass_time(MM_SEC(1));
			continue;
		}
		p = w.q[0];
		memmove(&w.q[0], &w.q[1], (w.nq - 1) * sizeof(w.q[0]));
		w.nq--;
		switch (op & 7) {
		case 0:
		case 1:
			deliver(&p);
			break;
		case 2:                       /* lost */
			break;
		case 3:                       /* duplicated */
			deliver(&p);
			deliver(&p);
			break;
		case 4: {                     /* one bit flipped */
			uint16_t bit = get16(d, size, &pos);

			p.data[(bit / 8) % p.len] ^= (uint8_t)(1u << (bit % 8));
			deliver(&p);
			break;
		}
		case 5: {                     /* truncated */
			uint16_t len = get16(d, size, &pos);

			p.len = len % (p.len + 1);
			deliver(&p);
			break;
		}
		case 6:                       /* delivered later */
			if (w.nq < QMAX)
				w.q[w.nq++] = p;
			break;
		case 7: {                     /* octets from the input over the payloads */
			size_t n = pos < size ? d[pos++] % 64 : 0;
			size_t off = p.len > 28 ? 28 : 0;

			if (n > size - pos)
				n = size - pos;
			if (n > p.len - off)
				n = p.len - off;
			memcpy(p.data + off, d + pos, n);
			pos += n;
			deliver(&p);
			break;
		}
		}
	}
	pass_time(MM_SEC(120));
}

static void raw(const uint8_t *d, size_t size)
{
	size_t pos = 1;

	while (pos + 2 <= size) {
		uint8_t sel = d[pos];
		size_t len = get16(d, size, &pos) & 0x3fff;
		struct ike_endpoint from = ep(0xcb007100u + (sel >> 6), (sel & 0x20) ? 4500 : 500);
		struct ike_endpoint to = ep(0xc0000201, from.port);

		if (len > size - pos)
			len = size - pos;
		ASSERT(ike_engine_input(w.s[1].e, d + pos, len, &from, &to, w.now, &w.s[1].act) == 0);
		carry_out(1, false);
		pos += len;
		w.now += MM_SEC(1);
		for (int i = 0; i < 4 && ike_engine_next_timer(w.s[1].e) <= w.now; i++) {
			ASSERT(ike_engine_timer(w.s[1].e, w.now, &w.s[1].act) == 0);
			carry_out(1, false);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	log_set_level(getenv("FUZZ_IKE_VERBOSE") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	memset(&w.q, 0, sizeof(w.q[0]));
	w.nq = 0;
	w.now = MM_SEC(100);
	w.spi = 0;
	/* MOBIKE only in live mode (odd first octet) with bit 1 set. */
	w.mobike = (data[0] & 3) == 3;
	side_init(&w.s[0], false, 0x1234567887654321ull, w.mobike ? data[0] : 0);
	side_init(&w.s[1], true, 0x0fedcba987654321ull ^ size, w.mobike ? data[0] : 0);
	if (data[0] & 1)
		live(data, size);
	else
		raw(data, size);
	ike_engine_free(w.s[0].e);
	ike_engine_free(w.s[1].e);
	/* Every address leased was given back (or its SA is gone with the engine). */
	return 0;
}
