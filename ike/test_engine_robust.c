/* Message IDs, retransmission, liveness, DELETE and bad input (RFC 7296 1.4, 2.1-2.4, 3.10.1)
 * between two engines back to back:
 *  - a lost request is retransmitted (1 s, then doubling) and the exchange completes; a lost
 *    response makes the peer retransmit its request, which is answered from the response
 *    cache without being processed twice (one CHILD_UP, one half-open SA);
 *  - liveness checks after dpd_interval of silence, none while ESP activity is reported; a
 *    dead peer: SA_DOWN after the retransmissions, CHILD_DOWN first;
 *  - DELETE of a Child SA and of the IKE SA from either side; the pool address released; a
 *    delete ordered while IKE_AUTH is in flight goes out after its answer;
 *  - bad input: every truncation, an oversized datagram, wrong SPIs, a replayed old request,
 *    and every single bit flipped in the Encrypted payload: each dropped, counted, no answer,
 *    and no change of the SA's state or message IDs;
 *  - INITIAL_CONTACT: a restarted initiator replaces its stale SA on the responder.
 */
#include "ike/test_engine_util.h"

#include "ike/transform.h"

static struct tnet net;

/* Two engines with PSK peers; only A checks liveness (both at once would cross). */
static int start(struct tnet *n, unsigned dpd)
{
	t_net_init(n, false);
	t_peers_psk(n, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256, IKE_DH_ECP_256,
			       0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	n->a.peers[0].dpd_interval_s = dpd;
	return t_start_engines(n);
}

static uint64_t setup(struct tnet *n, unsigned dpd)
{
	if (start(n, dpd) < 0)
		return 0;
	return t_initiate(n, 0);
}

static void test_lost_request(void)
{
	struct tnet *n = &net;
	struct ike_engine_stats st;
	uint64_t spi;

	CHECK(start(n, 0) == 0);
	n->drop_to[1] = 1;                 /* the first IKE_SA_INIT is lost */
	spi = t_initiate(n, 0);
	CHECK(spi != 0);
	CHECK_EQ_U64(n->a.nsa_up, 0);
	t_advance(n, MM_MSEC(999));
	CHECK_EQ_U64(n->a.sent, 1);        /* not before 1 s (2.4) */
	t_advance(n, MM_MSEC(1));
	CHECK_EQ_U64(n->a.sent, 3);        /* the retransmission, then IKE_AUTH */
	CHECK_EQ_U64(n->a.nsa_up, 1);
	CHECK_EQ_U64(n->b.nsa_up, 1);
	ike_engine_stats(n->a.e, &st);
	CHECK_EQ_U64(st.retransmits, 1);
	/* Then the IKE_AUTH request is lost twice: 1 s, then 2 s later (doubling). */
	t_net_free(n);

	CHECK(start(n, 0) == 0);
	n->hold = true;
	spi = t_initiate(n, 0);
	t_step(n);                         /* SA_INIT to B */
	t_step(n);                         /* response to A; A sends IKE_AUTH */
	CHECK_EQ_U64(n->nq, 1);
	t_lose(n, 0);
	n->hold = false;
	n->drop_to[1] = 1;                 /* the first retransmission is lost too */
	t_advance(n, MM_MSEC(1500));
	CHECK_EQ_U64(n->a.sent, 3);
	CHECK_EQ_U64(n->a.nsa_up, 0);
	t_advance(n, MM_MSEC(1499));
	CHECK_EQ_U64(n->a.sent, 3);
	t_advance(n, MM_MSEC(1));          /* 1 s + 2 s after the first send */
	CHECK_EQ_U64(n->a.sent, 4);
	CHECK_EQ_U64(n->a.nsa_up, 1);
	CHECK_EQ_U64(n->b.nsa_up, 1);
	CHECK_EQ_U64(n->b.nup, 1);
	t_net_free(n);
}

/* A response is lost: the request comes again and gets the cached response; nothing is
 * processed twice. */
static void test_lost_response(void)
{
	struct tnet *n = &net;
	struct ike_engine_stats st0, st1;
	struct ike_sa_info ib;
	uint64_t spi;

	CHECK(start(n, 0) == 0);
	n->hold = true;
	spi = t_initiate(n, 0);
	t_step(n);                         /* SA_INIT to B */
	t_lose(n, 0);                      /* B's answer lost */
	n->hold = false;
	t_advance(n, MM_SEC(1));           /* A retransmits; B answers from its cache (2.1) */
	ike_engine_stats(n->b.e, &st0);
	CHECK_EQ_U64(st0.half_open, 0);    /* completed: only ever one SA */
	CHECK_EQ_U64(t_count_sas(n->b.e, NULL), 1);
	CHECK_EQ_U64(n->a.nsa_up, 1);
	t_net_free(n);

	/* The IKE_AUTH response is lost. */
	CHECK(start(n, 0) == 0);
	n->hold = true;
	spi = t_initiate(n, 0);
	t_step(n);
	t_step(n);
	t_step(n);                         /* IKE_AUTH to B: B is up, installs its Child SA */
	CHECK_EQ_U64(n->b.nsa_up, 1);
	CHECK_EQ_U64(n->b.nup, 1);
	CHECK_EQ_U64(n->nq, 1);
	t_lose(n, 0);
	ike_engine_stats(n->b.e, &st0);
	n->hold = false;
	t_advance(n, MM_SEC(1));
	ike_engine_stats(n->b.e, &st1);
	CHECK_EQ_U64(n->a.nsa_up, 1);
	CHECK_EQ_U64(n->a.nup, 1);
	CHECK_EQ_U64(n->b.nsa_up, 1);      /* not twice */
	CHECK_EQ_U64(n->b.nup, 1);
	CHECK_EQ_U64(n->b.pool_used, 1);
	CHECK_EQ_U64(st1.tx, st0.tx + 1);  /* the cached answer */
	CHECK(t_find_sa(n->b.e, spi, &ib) && ib.msgid_in == 2);
	CHECK(n->a.nup && t_child_pair_ok(&n->a.up[0], t_peer_child(&n->b, n->a.up[0].spi_in)));
	t_net_free(n);
}

static void test_dpd(void)
{
	struct tnet *n = &net;
	uint64_t spi = setup(n, 10);
	struct ike_sa_info ia;
	size_t sent;

	CHECK(spi && n->a.nsa_up == 1);
	/* Traffic keeps coming in: no liveness check. */
	for (int i = 0; i < 5; i++) {
		t_advance(n, MM_SEC(3));
		ike_engine_child_activity(n->a.e, n->a.up[0].spi_in, n->now);
		ike_engine_child_activity(n->b.e, n->b.up[0].spi_in, n->now);
	}
	CHECK_EQ_U64(n->a.sent, 2);
	CHECK_EQ_U64(n->b.sent, 2);
	/* Silence: after 10 s A asks, B answers. */
	sent = n->a.sent + n->b.sent;
	t_advance(n, MM_SEC(11));
	CHECK_EQ_U64(n->a.sent + n->b.sent, sent + 2);
	CHECK(t_find_sa(n->a.e, spi, &ia) && strcmp(ia.state, "ESTABLISHED") == 0);
	/* The peer dies: the next check 10 s after the last answer (1 s ago), SA_DOWN after 6
	 * sends (1+2+4+8+16+32 s), its Child SA first. */
	n->cut = true;
	n->a.nseq = 0;
	t_advance(n, MM_SEC(9) + MM_SEC(62));
	CHECK_EQ_U64(n->a.nsa_down, 0);
	t_advance(n, MM_SEC(2));
	CHECK_EQ_U64(n->a.nsa_down, 1);
	CHECK(n->a.nsa_down && strstr(n->a.down_reason[0], "unreachable"));
	CHECK(strstr(n->a.seq, "DX") != NULL);
	CHECK_EQ_U64(t_live_children(&n->a), 0);
	CHECK_EQ_U64(t_count_sas(n->a.e, NULL), 0);
	t_net_free(n);
}

static void test_delete(void)
{
	struct tnet *n = &net;
	uint64_t spi;

	for (int who = 0; who < 2; who++) {
		struct tside *s, *o;

		spi = setup(n, 0);
		s = who ? &n->b : &n->a;
		o = who ? &n->a : &n->b;
		CHECK(spi && s->nup == 1);
		/* A second Child SA, then delete the first one (hard lifetime). */
		CHECK_EQ_U64(ike_engine_create_child(s->e, spi, n->now, s->act), 0);
		t_collect(n, s);
		t_run(n);
		CHECK_EQ_U64(t_live_children(s), 2);
		CHECK_EQ_U64(ike_engine_child_expired(s->e, s->up[0].spi_in, true, n->now, s->act),
			     0);
		t_collect(n, s);
		t_run(n);
		CHECK_EQ_U64(t_live_children(s), 1);
		CHECK_EQ_U64(t_live_children(o), 1);
		CHECK(t_is_down(o, s->up[0].spi_out));
		/* Delete the IKE SA: both sides down, Child SAs first, pool address back. */
		s->nseq = o->nseq = 0;
		CHECK_EQ_U64(ike_engine_delete(s->e, spi, n->now, s->act), 0);
		t_collect(n, s);
		t_run(n);
		CHECK_EQ_U64(s->nsa_down, 1);
		CHECK_EQ_U64(o->nsa_down, 1);
		CHECK_EQ_U64(t_live_children(s), 0);
		CHECK_EQ_U64(t_live_children(o), 0);
		CHECK_STR(s->seq, ">DX");
		CHECK_STR(o->seq, ">DX");
		CHECK_EQ_U64(n->b.pool_released, 1);
		CHECK_EQ_U64(t_count_sas(n->a.e, NULL) + t_count_sas(n->b.e, NULL), 0);
		CHECK_EQ_U64(ike_engine_delete(s->e, spi, n->now, s->act), (uint64_t)-ENOENT);
		t_net_free(n);
	}
}

/* What must not change when a bad message is dropped. */
struct snapshot {
	struct ike_engine_stats st;
	struct ike_sa_info sa;
	bool found;
};

static void snap(const struct tside *s, uint64_t spi, struct snapshot *out)
{
	ike_engine_stats(s->e, &out->st);
	out->found = t_find_sa(s->e, spi, &out->sa);
}

static bool same_sa(const struct snapshot *x, const struct snapshot *y)
{
	return x->found && y->found && strcmp(x->sa.state, y->sa.state) == 0 &&
	       x->sa.msgid_in == y->sa.msgid_in && x->sa.msgid_out == y->sa.msgid_out &&
	       x->sa.nchildren == y->sa.nchildren && x->sa.spi_r == y->sa.spi_r;
}

/* A delete ordered while IKE_AUTH is in flight: the peer completes the SA, so the DELETE
 * follows the answer (nothing stays established there, the pool address comes back);
 * before IKE_AUTH went out the SA is just forgotten (only half-open at the peer). */
static void test_delete_during_auth(void)
{
	struct tnet *n = &net;
	uint64_t spi = 0;
	struct ike_endpoint l, r;

	CHECK(start(n, 0) == 0);
	l = t_ep(n->a.addr, 500);
	r = t_ep(n->b.addr, 500);
	n->hold = true;
	CHECK(ike_engine_initiate(n->a.e, 0, &l, &r, n->now, &spi, n->a.act) == 0);
	t_collect(n, &n->a);
	CHECK(t_step(n) && t_step(n));       /* IKE_SA_INIT both ways: IKE_AUTH is queued */
	CHECK_EQ_U64(n->nq, 1);
	CHECK_EQ_U64(ike_engine_delete(n->a.e, spi, n->now, n->a.act), 0);
	t_collect(n, &n->a);
	CHECK_EQ_U64(n->a.nsa_down, 0);      /* not forgotten: the answer is awaited */
	n->hold = false;
	t_run(n);
	CHECK_EQ_U64(n->b.nsa_up, 1);        /* B completed it ... */
	CHECK_EQ_U64(n->a.nsa_down, 1);      /* ... and A's DELETE took it down on both ends */
	CHECK_EQ_U64(n->b.nsa_down, 1);
	CHECK_EQ_U64(n->b.pool_released, 1);
	CHECK_EQ_U64(t_count_sas(n->a.e, NULL) + t_count_sas(n->b.e, NULL), 0);
	t_net_free(n);

	/* Before IKE_AUTH: forgotten at once (B keeps a half-open SA until it times out). */
	CHECK(start(n, 0) == 0);
	n->hold = true;
	CHECK(ike_engine_initiate(n->a.e, 0, &l, &r, n->now, &spi, n->a.act) == 0);
	t_collect(n, &n->a);
	CHECK_EQ_U64(ike_engine_delete(n->a.e, spi, n->now, n->a.act), 0);
	t_collect(n, &n->a);
	CHECK_EQ_U64(n->a.nsa_down, 1);
	CHECK_EQ_U64(t_count_sas(n->a.e, NULL), 0);
	n->hold = false;
	t_run(n);
	CHECK_EQ_U64(n->b.nsa_up, 0);
	t_net_free(n);
}

static void test_bad_input(void)
{
	struct tnet *n = &net;
	uint64_t spi = setup(n, 0);
	struct snapshot s0, s1;
	struct tpkt req, auth_req;
	struct ike_msg m;
	size_t fails = 0, flips = 0, sk_off;
	uint8_t big[IKE_MSG_MAX + 1];

	CHECK(spi && n->b.nsa_up == 1);
	/* Keep the IKE_AUTH request (message 1) for the replay below: make the SA again with
	 * hold, keeping a copy. */
	t_net_free(n);
	CHECK(start(n, 0) == 0);
	n->hold = true;
	spi = t_initiate(n, 0);
	t_step(n);
	t_step(n);
	auth_req = n->q[0];
	n->hold = false;
	t_run(n);
	CHECK_EQ_U64(n->b.nsa_up, 1);
	/* A liveness check from A, captured before delivery. */
	n->hold = true;
	CHECK_EQ_U64(ike_engine_dpd(n->a.e, spi, n->now, n->a.act), 0);
	t_collect(n, &n->a);
	CHECK_EQ_U64(n->nq, 1);
	req = n->q[0];
	n->nq = 0;
	CHECK(ike_msg_parse(req.data, req.len, &m, NULL) == 0 && m.sk.present);
	sk_off = m.sk.hdr_off;
	snap(&n->b, spi, &s0);

	/* Every truncation. */
	for (size_t len = 0; len < req.len; len++) {
		size_t sent = n->b.sent;

		ike_engine_input(n->b.e, req.data, len, &req.from, &req.to_ep, n->now, n->b.act);
		CHECK_LOOP(n->b.act->n == 0, fails);
		t_collect(n, &n->b);
		CHECK_LOOP(n->b.sent == sent, fails);
	}
	CHECK_EQ_U64(fails, 0);
	snap(&n->b, spi, &s1);
	CHECK(same_sa(&s0, &s1));
	CHECK_EQ_U64(s1.st.dropped_malformed - s0.st.dropped_malformed, req.len);
	/* Oversized. */
	memset(big, 0, sizeof(big));
	memcpy(big, req.data, req.len);
	ike_engine_input(n->b.e, big, sizeof(big), &req.from, &req.to_ep, n->now, n->b.act);
	CHECK_EQ_U64(n->b.act->n, 0);
	snap(&n->b, spi, &s0);
	CHECK_EQ_U64(s0.st.dropped_malformed - s1.st.dropped_malformed, 1);
	/* Wrong SPIs: the responder's SPI, then the initiator's. */
	for (int k = 0; k < 2; k++) {
		struct tpkt x = req;

		x.data[k ? 0 : 8] ^= 0x40;
		ike_engine_input(n->b.e, x.data, x.len, &x.from, &x.to_ep, n->now, n->b.act);
		CHECK_EQ_U64(n->b.act->n, 0);
	}
	snap(&n->b, spi, &s1);
	CHECK_EQ_U64(s1.st.dropped_unknown_spi - s0.st.dropped_unknown_spi, 2);
	CHECK(same_sa(&s0, &s1));
	/* Every bit of the Encrypted payload (header, IV, ciphertext, ICV) flipped. */
	fails = 0;
	for (size_t i = sk_off * 8; i < req.len * 8; i++) {
		struct tpkt x = req;

		x.data[i / 8] ^= (uint8_t)(1u << (i % 8));
		ike_engine_input(n->b.e, x.data, x.len, &x.from, &x.to_ep, n->now, n->b.act);
		CHECK_LOOP(n->b.act->n == 0, fails);
		flips++;
	}
	CHECK_EQ_U64(fails, 0);
	snap(&n->b, spi, &s0);
	CHECK(same_sa(&s0, &s1));
	/* Flips in the SK header's lengths are malformed, the rest fail the ICV (3.10.1: no
	 * answer either way). */
	printf("# %zu bit flips: %llu integrity, %llu malformed\n", flips,
	       (unsigned long long)(s0.st.dropped_integrity - s1.st.dropped_integrity),
	       (unsigned long long)(s0.st.dropped_malformed - s1.st.dropped_malformed));
	CHECK(s0.st.dropped_integrity - s1.st.dropped_integrity >= flips - 32);
	CHECK_EQ_U64(s0.st.dropped_integrity - s1.st.dropped_integrity +
		     s0.st.dropped_malformed - s1.st.dropped_malformed +
		     s0.st.dropped_unknown_spi - s1.st.dropped_unknown_spi, flips);
	/* The genuine request: processed once, answered. */
	ike_engine_input(n->b.e, req.data, req.len, &req.from, &req.to_ep, n->now, n->b.act);
	CHECK_EQ_U64(n->b.act->n, 1);
	t_collect(n, &n->b);
	snap(&n->b, spi, &s1);
	CHECK_EQ_U64(s1.sa.msgid_in, s0.sa.msgid_in + 1);
	/* Again: a retransmission (2.1): the same answer, nothing processed. */
	{
		size_t q0 = n->nq;

		ike_engine_input(n->b.e, req.data, req.len, &req.from, &req.to_ep, n->now,
				 n->b.act);
		CHECK_EQ_U64(n->b.act->n, 1);
		t_collect(n, &n->b);
		CHECK_EQ_U64(n->nq, q0 + 1);
		CHECK(n->nq >= 2 && n->q[n->nq - 1].len == n->q[n->nq - 2].len &&
		      memcmp(n->q[n->nq - 1].data, n->q[n->nq - 2].data, n->q[n->nq - 1].len) == 0);
		snap(&n->b, spi, &s0);
		CHECK(same_sa(&s0, &s1));
	}
	/* An old request (the IKE_AUTH, message 1): a replay, dropped. */
	ike_engine_input(n->b.e, auth_req.data, auth_req.len, &auth_req.from, &auth_req.to_ep,
			 n->now, n->b.act);
	CHECK_EQ_U64(n->b.act->n, 0);
	snap(&n->b, spi, &s1);
	CHECK_EQ_U64(s1.st.dropped_replay - s0.st.dropped_replay, 1);
	CHECK(same_sa(&s0, &s1));
	CHECK_EQ_U64(n->b.nup, 1);
	/* A response nobody asked for (B's answer delivered twice to A). */
	n->hold = false;
	n->q[0] = n->q[n->nq - 1];
	n->nq = 2;
	n->q[1] = n->q[0];
	t_run(n);
	{
		struct ike_engine_stats sa;

		ike_engine_stats(n->a.e, &sa);
		CHECK_EQ_U64(sa.dropped_replay, 1);
	}
	CHECK_EQ_U64(n->a.nsa_down + n->b.nsa_down, 0);
	t_net_free(n);
}

/* 3.10.1 INITIAL_CONTACT: A restarts (a new engine) and connects again; B drops the stale
 * SA and releases its address. */
static void test_initial_contact(void)
{
	struct tnet *n = &net;
	uint64_t spi = setup(n, 0), spi2;

	CHECK(spi && n->b.nsa_up == 1);
	ike_engine_free(n->a.e);
	n->a.rng ^= 0x5555;
	CHECK(ike_engine_new(&n->a.cfg, &n->a.e) == 0);
	spi2 = t_initiate(n, 0);
	CHECK(spi2 && spi2 != spi);
	CHECK_EQ_U64(n->b.nsa_up, 2);
	CHECK_EQ_U64(n->b.nsa_down, 1);
	CHECK(n->b.nsa_down && n->b.sa_down[0].spi_i == spi);
	CHECK_EQ_U64(t_count_sas(n->b.e, NULL), 1);
	CHECK_EQ_U64(n->b.pool_released, 1);
	CHECK_EQ_U64(t_live_children(&n->b), 1);
	t_net_free(n);
}

/* Half-open SAs time out; an initiator whose responder never answers gives up. */
static void test_timeouts(void)
{
	struct tnet *n = &net;
	uint64_t spi;

	t_net_init(n, false);
	t_peers_psk(n, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256, IKE_DH_ECP_256,
			       0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	n->a.cfg.retransmit_tries = 3;
	n->a.cfg.retransmit_base = MM_MSEC(500);
	CHECK(t_start_engines(n) == 0);
	n->cut = true;
	spi = t_initiate(n, 0);
	CHECK(spi != 0);
	t_advance(n, MM_MSEC(3499));       /* 0.5 + 1 + 2 s */
	CHECK_EQ_U64(n->a.nsa_down, 0);
	CHECK_EQ_U64(n->a.sent, 3);
	t_advance(n, MM_MSEC(1));
	CHECK_EQ_U64(n->a.nsa_down, 1);
	CHECK_EQ_U64(t_count_sas(n->a.e, NULL), 0);
	CHECK_EQ_U64(ike_engine_next_timer(n->a.e), IKE_TIME_NEVER);
	t_net_free(n);

	/* B answers IKE_SA_INIT, the IKE_AUTH never comes: gone after 30 s, quietly. */
	CHECK(start(n, 0) == 0);
	n->drop_to[1] = 0;
	n->hold = true;
	spi = t_initiate(n, 0);
	t_step(n);
	n->cut = true;
	n->nq = 0;
	n->hold = false;
	CHECK_EQ_U64(t_count_sas(n->b.e, "HALF_OPEN"), 1);
	t_advance(n, MM_SEC(31));
	CHECK_EQ_U64(t_count_sas(n->b.e, NULL), 0);
	CHECK_EQ_U64(n->b.nsa_down, 0);
	t_net_free(n);
}

/* Unprotected INFORMATIONAL (1.5) and junk: logged, never answered. */
static void test_unprotected(void)
{
	struct tnet *n = &net;
	uint64_t spi = setup(n, 0);
	uint8_t buf[128];
	struct writer w;
	struct ike_builder b;
	struct ike_header h = { 0 };
	size_t len = 0;
	struct ike_engine_stats st;

	CHECK(spi != 0);
	h.spi_i = 0x1111;
	h.spi_r = 0x2222;
	h.exchange = IKE_EXCH_INFORMATIONAL;
	writer_init(&w, buf, sizeof(buf));
	CHECK(ike_build_start(&b, &w, &h) == 0);
	CHECK(ike_notify_add(&b, IKE_N_INVALID_IKE_SPI, NULL, 0) == 0);
	CHECK(ike_build_finish(&b, &len) == 0);
	{
		struct ike_endpoint from = { n->a.addr, 500 }, to = { n->b.addr, 500 };

		ike_engine_input(n->b.e, buf, len, &from, &to, n->now, n->b.act);
		CHECK_EQ_U64(n->b.act->n, 0);
	}
	ike_engine_stats(n->b.e, &st);
	CHECK_EQ_U64(st.dropped_unknown_spi, 1);
	t_net_free(n);
}

int main(void)
{
	t_log_setup();
	test_lost_request();
	test_lost_response();
	test_dpd();
	test_delete();
	test_delete_during_auth();
	test_bad_input();
	test_initial_contact();
	test_timeouts();
	test_unprotected();
	t_free_actions(&net);
	return tap_done();
}
