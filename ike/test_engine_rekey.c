/* CREATE_CHILD_SA and rekeying (RFC 7296 1.3, 2.8, 2.8.1, 2.8.2, 2.17, 2.18, 2.25) between two
 * engines back to back, started by either side:
 *  - a new Child SA; Child SA rekey without PFS and with PFS (KE in the exchange, 1.3.1): the
 *    new pair's keys agree, differ from the old ones, the old pair goes after the DELETE
 *    (CHILD_UP of the new before CHILD_DOWN of the old);
 *  - IKE SA rekey (2.18): new SPIs, SA_UP of the new SA naming the old one before the old SA's
 *    SA_DOWN, the Child SAs move without CHILD_DOWN/UP, and the new SA works (a Child SA
 *    rekey and a liveness check over it);
 *  - simultaneous Child SA rekey and simultaneous IKE SA rekey, both sides starting at once:
 *    exactly one new SA survives on both sides, the same one, with matching keys (2.8.1,
 *    2.8.2); and the variant where one side finishes before it sees the other's request
 *    (TEMPORARY_FAILURE, 2.25);
 *  - INVALID_KE_PAYLOAD in CREATE_CHILD_SA (the responder wants another PFS group).
 */
#include "ike/test_engine_util.h"

#include "ike/transform.h"

static struct tnet net;

static bool swap_seeds;            /* the other side wins the nonce comparisons (2.8.1) */

static uint64_t setup(struct tnet *n, uint16_t esp_dh)
{
	t_net_init(n, false);
	if (swap_seeds) {
		uint64_t t = n->a.rng;

		n->a.rng = n->b.rng;
		n->b.rng = t;
	}
	t_peers_psk(n, t_suite(IKE_ENCR_AES_GCM_16, 256, 0, IKE_PRF_HMAC_SHA2_256,
			       IKE_DH_CURVE25519, 0),
		    t_suite(IKE_ENCR_AES_GCM_16, 256, 0, 0, esp_dh, 0));
	n->a.peers[0].dpd_interval_s = 0;
	if (t_start_engines(n) < 0)
		return 0;
	return t_initiate(n, 0);
}

/* One side rekeys the first Child SA; PFS or not. */
static void rekey_child(struct tside *who, uint16_t esp_dh, const char *what)
{
	struct tnet *n = &net;
	uint64_t spi = setup(n, esp_dh);
	struct tside *s = who == &net.a ? &n->a : &n->b, *o = s == &n->a ? &n->b : &n->a;
	const struct ike_child_info *nw, *peer;
	uint32_t old_in, old_out;
	struct ike_child_info old;
	int rc;

	printf("# %s\n", what);
	CHECK(spi && s->nup == 1 && o->nup == 1);
	if (s->nup != 1)
		return;
	old = s->up[0];
	old_in = old.spi_in;
	old_out = old.spi_out;
	s->nseq = o->nseq = 0;
	rc = ike_engine_rekey_child(s->e, spi, old_in, n->now, s->act);
	CHECK_EQ_U64(rc, 0);
	t_collect(n, s);
	t_run(n);
	CHECK_EQ_U64(s->nup, 2);
	CHECK_EQ_U64(o->nup, 2);
	if (s->nup != 2 || o->nup != 2)
		return;
	nw = &s->up[1];
	peer = t_peer_child(o, nw->spi_in);
	CHECK(t_child_pair_ok(nw, peer));
	CHECK_EQ_U64(nw->replaces_spi_in, old_in);
	CHECK(peer && peer->replaces_spi_in == old_out);
	CHECK_EQ_U64(nw->suite.dh, esp_dh);
	CHECK(memcmp(nw->key_in, old.key_in, old.key_len) != 0);
	CHECK(nw->spi_in != old_in && nw->spi_out != old_out);
	/* 2.8: same selectors. */
	CHECK(memcmp(&nw->ts_local, &old.ts_local, sizeof(old.ts_local)) == 0);
	/* The old pair is gone on both sides, after the new one came up. */
	CHECK(t_is_down(s, old_in));
	CHECK(t_is_down(o, old_out));
	CHECK_EQ_U64(t_live_children(s), 1);
	CHECK_EQ_U64(t_live_children(o), 1);
	/* Rekey initiator: CREATE_CHILD_SA out, CHILD_UP, DELETE out, CHILD_DOWN. */
	CHECK_STR(s->seq, ">U>D");
	/* Responder: CHILD_UP before its answer (2.8), CHILD_DOWN with the DELETE answer. */
	CHECK_STR(o->seq, "U>>D");
	CHECK_EQ_U64(n->a.nsa_down + n->b.nsa_down, 0);
	t_net_free(n);
}

static void test_new_child(void)
{
	struct tnet *n = &net;
	uint64_t spi = setup(n, IKE_DH_CURVE25519);
	const struct ike_child_info *c;

	CHECK_EQ_U64(ike_engine_create_child(n->b.e, spi, n->now, n->b.act), 0);
	t_collect(n, &n->b);
	t_run(n);
	CHECK_EQ_U64(n->a.nup, 2);
	CHECK_EQ_U64(n->b.nup, 2);
	c = n->b.nup == 2 ? &n->b.up[1] : NULL;
	CHECK(c && t_child_pair_ok(c, t_peer_child(&n->a, c->spi_in)));
	CHECK(c && c->replaces_spi_in == 0 && c->suite.dh == IKE_DH_CURVE25519);
	/* The responder side B asked; A (the original initiator) narrowed to its address. */
	CHECK(c && c->ts_remote.ts[0].start.s_addr == n->a.sa_up[0].inner_addr.s_addr);
	CHECK_EQ_U64(t_live_children(&n->a), 2);
	t_net_free(n);
}

static void test_rekey_ike(bool by_b)
{
	struct tnet *n = &net;
	uint64_t spi = setup(n, 0), nspi;
	struct tside *s = by_b ? &n->b : &n->a, *o = by_b ? &n->a : &n->b;
	struct ike_sa_info info;
	uint32_t child_in;
	int rc;

	printf("# IKE SA rekey by %s\n", s->name);
	CHECK(spi && n->a.nup == 1);
	child_in = s->up[0].spi_in;
	s->nseq = o->nseq = 0;
	rc = ike_engine_rekey_ike(s->e, spi, n->now, s->act);
	CHECK_EQ_U64(rc, 0);
	t_collect(n, s);
	t_run(n);
	CHECK_EQ_U64(s->nsa_up, 2);
	CHECK_EQ_U64(o->nsa_up, 2);
	CHECK_EQ_U64(s->nsa_down, 1);
	CHECK_EQ_U64(o->nsa_down, 1);
	if (s->nsa_up != 2 || o->nsa_up != 2)
		return;
	nspi = s->sa_up[1].spi_i;
	CHECK(nspi != spi && s->sa_up[1].spi_r != s->sa_up[0].spi_r);
	CHECK_EQ_U64(o->sa_up[1].spi_i, nspi);
	CHECK_EQ_U64(s->sa_up[1].replaces_spi_i, spi);
	CHECK_EQ_U64(o->sa_up[1].replaces_spi_r, o->sa_up[0].spi_r);
	CHECK(s->nsa_down && s->sa_down[0].spi_i == spi);
	/* 3.1: the I flag follows the rekey initiator. */
	CHECK_EQ_U64(s->sa_up[1].role, IKE_ROLE_INITIATOR);
	CHECK_EQ_U64(o->sa_up[1].role, IKE_ROLE_RESPONDER);
	/* The inner address moved with the SA; the Child SA stayed. */
	CHECK_EQ_U64(n->b.sa_up[1].inner_addr.s_addr, n->b.sa_up[0].inner_addr.s_addr);
	CHECK_EQ_U64(n->b.pool_released, 0);
	CHECK_EQ_U64(s->ndown + o->ndown, 0);
	CHECK_EQ_U64(s->nup + o->nup, 2);
	/* Order: new SA up before the old SA down. */
	CHECK_STR(s->seq, by_b ? ">SK>X" : ">SK>X");
	CHECK_STR(o->seq, "SK>>X");
	CHECK(t_find_sa(s->e, nspi, &info) && strcmp(info.state, "ESTABLISHED") == 0 &&
	      info.nchildren == 1 && info.msgid_out == 0 && info.msgid_in == 0);
	CHECK_EQ_U64(t_count_sas(s->e, NULL), 1);
	CHECK_EQ_U64(t_count_sas(o->e, NULL), 1);
	/* Both key logs name the new SPIs. */
	CHECK(s->nkeylog == 2 && o->nkeylog == 2 && strcmp(s->keylog[1], o->keylog[1]) == 0);
	/* The new SA carries on: a Child SA rekey started by the other side, and a liveness
	 * check. */
	rc = ike_engine_rekey_child(o->e, nspi, o->up[0].spi_in, n->now, o->act);
	CHECK_EQ_U64(rc, 0);
	t_collect(n, o);
	t_run(n);
	CHECK_EQ_U64(s->nup, 2);
	CHECK(s->nup == 2 && t_child_pair_ok(&s->up[1], t_peer_child(o, s->up[1].spi_in)));
	CHECK(t_is_down(s, child_in));
	CHECK_EQ_U64(ike_engine_dpd(s->e, nspi, n->now, s->act), 0);
	t_collect(n, s);
	t_run(n);
	CHECK(t_find_sa(s->e, nspi, &info) && info.msgid_out == 1);
	CHECK_EQ_U64(s->nsa_down + o->nsa_down, 2);
	t_net_free(n);
}

/* 2.8.1: both sides rekey the same Child SA at once. */
static void test_simultaneous_child(bool pfs)
{
	struct tnet *n = &net;
	uint64_t spi = setup(n, pfs ? IKE_DH_ECP_256 : 0);
	const struct ike_child_info *sa_, *sb;
	size_t live_a, live_b;

	printf("# simultaneous Child SA rekey%s\n", pfs ? " with PFS" : "");
	CHECK(spi && n->a.nup == 1);
	n->hold = true;
	CHECK_EQ_U64(ike_engine_rekey_child(n->a.e, spi, n->a.up[0].spi_in, n->now, n->a.act), 0);
	t_collect(n, &n->a);
	CHECK_EQ_U64(ike_engine_rekey_child(n->b.e, spi, n->b.up[0].spi_in, n->now, n->b.act), 0);
	t_collect(n, &n->b);
	CHECK_EQ_U64(n->nq, 2);            /* both requests on the wire */
	n->hold = false;
	t_run(n);
	live_a = t_live_children(&n->a);
	live_b = t_live_children(&n->b);
	CHECK_EQ_U64(live_a, 1);
	CHECK_EQ_U64(live_b, 1);
	CHECK_EQ_U64(n->a.nup, 3);        /* the old one and two new */
	CHECK_EQ_U64(n->b.nup, 3);
	/* The survivor is the same pair on both sides. */
	sa_ = NULL;
	for (size_t i = 0; i < n->a.nup; i++)
		if (!t_is_down(&n->a, n->a.up[i].spi_in))
			sa_ = &n->a.up[i];
	sb = sa_ ? t_peer_child(&n->b, sa_->spi_in) : NULL;
	CHECK(t_child_pair_ok(sa_, sb));
	CHECK(sb && !t_is_down(&n->b, sb->spi_in));
	CHECK(sa_ && sa_->replaces_spi_in == n->a.up[0].spi_in);
	CHECK_EQ_U64(n->a.nsa_down + n->b.nsa_down, 0);
	/* Nothing left in flight: time passes quietly. */
	t_advance(n, MM_SEC(60));
	CHECK_EQ_U64(t_live_children(&n->a), 1);
	CHECK_EQ_U64(t_live_children(&n->b), 1);
	CHECK_EQ_U64(n->a.nsa_down + n->b.nsa_down, 0);
	t_net_free(n);
}

/* 2.8.2: both sides rekey the IKE SA at once. */
static void test_simultaneous_ike(void)
{
	struct tnet *n = &net;
	uint64_t spi = setup(n, 0);
	struct ike_sa_info ia, ib;
	size_t cur = 0;

	printf("# simultaneous IKE SA rekey\n");
	CHECK(spi && n->a.nup == 1);
	n->hold = true;
	CHECK_EQ_U64(ike_engine_rekey_ike(n->a.e, spi, n->now, n->a.act), 0);
	t_collect(n, &n->a);
	CHECK_EQ_U64(ike_engine_rekey_ike(n->b.e, spi, n->now, n->b.act), 0);
	t_collect(n, &n->b);
	n->hold = false;
	t_run(n);
	t_advance(n, MM_SEC(1));
	CHECK_EQ_U64(t_count_sas(n->a.e, NULL), 1);
	CHECK_EQ_U64(t_count_sas(n->b.e, NULL), 1);
	CHECK(ike_engine_next_sa(n->a.e, &cur, &ia));
	cur = 0;
	CHECK(ike_engine_next_sa(n->b.e, &cur, &ib));
	CHECK(ia.spi_i == ib.spi_i && ia.spi_r == ib.spi_r && ia.spi_i != spi);
	CHECK(strcmp(ia.state, "ESTABLISHED") == 0 && strcmp(ib.state, "ESTABLISHED") == 0);
	CHECK_EQ_U64(ia.nchildren, 1);
	CHECK_EQ_U64(ib.nchildren, 1);
	/* One SA_UP for the survivor on each side (the redundant one is never announced), one
	 * SA_DOWN for the old SA; no Child SA went down. */
	CHECK_EQ_U64(n->a.nsa_up, 2);
	CHECK_EQ_U64(n->b.nsa_up, 2);
	CHECK(n->a.nsa_up == 2 && n->a.sa_up[1].spi_i == ia.spi_i &&
	      n->a.sa_up[1].replaces_spi_i == spi);
	CHECK_EQ_U64(n->a.nsa_down, 1);
	CHECK_EQ_U64(n->b.nsa_down, 1);
	CHECK_EQ_U64(n->a.ndown + n->b.ndown, 0);
	/* The survivor works: rekey the Child SA over it. */
	CHECK_EQ_U64(ike_engine_rekey_child(n->a.e, ia.spi_i, n->a.up[0].spi_in, n->now,
					    n->a.act), 0);
	t_collect(n, &n->a);
	t_run(n);
	CHECK_EQ_U64(n->a.nup, 2);
	CHECK(n->a.nup == 2 && t_child_pair_ok(&n->a.up[1], t_peer_child(&n->b, n->a.up[1].spi_in)));
	t_net_free(n);
}

/* 2.8.2 special case: A's rekey completes before A sees B's request; B's request then finds
 * the old SA closing (TEMPORARY_FAILURE) and B adopts A's new SA. */
static void test_one_sided_ike_collision(void)
{
	struct tnet *n = &net;
	uint64_t spi = setup(n, 0);
	struct ike_sa_info ia, ib;
	size_t cur = 0;

	printf("# IKE SA rekey collision seen by one side only\n");
	n->hold = true;
	CHECK_EQ_U64(ike_engine_rekey_ike(n->a.e, spi, n->now, n->a.act), 0);
	t_collect(n, &n->a);
	CHECK_EQ_U64(ike_engine_rekey_ike(n->b.e, spi, n->now, n->b.act), 0);
	t_collect(n, &n->b);
	CHECK_EQ_U64(n->nq, 2);
	/* q: [A req1 -> B, B req2 -> A]. B gets req1 (collision noted), A gets resp1 first. */
	t_deliver(n, 0);
	/* q: [req2 -> A, resp1 -> A] */
	t_deliver(n, 1);                  /* resp1: A done, sends DELETE(old) */
	t_deliver(n, 0);                  /* req2 at A: old SA closing -> TEMPORARY_FAILURE */
	n->hold = false;
	t_run(n);
	t_advance(n, MM_SEC(1));
	CHECK_EQ_U64(t_count_sas(n->a.e, NULL), 1);
	CHECK_EQ_U64(t_count_sas(n->b.e, NULL), 1);
	CHECK(ike_engine_next_sa(n->a.e, &cur, &ia));
	cur = 0;
	CHECK(ike_engine_next_sa(n->b.e, &cur, &ib));
	CHECK(ia.spi_i == ib.spi_i && ia.spi_r == ib.spi_r && ia.spi_i != spi);
	CHECK_EQ_U64(ia.nchildren, 1);
	CHECK_EQ_U64(ib.nchildren, 1);
	CHECK_EQ_U64(n->a.ndown + n->b.ndown, 0);
	CHECK_EQ_U64(ia.role, IKE_ROLE_INITIATOR);
	t_net_free(n);
}

/* CREATE_CHILD_SA: B wants PFS group 31, A proposes 19 first: INVALID_KE_PAYLOAD, A retries
 * with 31. */
static void test_child_invalid_ke(void)
{
	struct tnet *n = &net;
	uint64_t spi;

	t_net_init(n, false);
	t_peers_psk(n, t_suite(IKE_ENCR_AES_GCM_16, 256, 0, IKE_PRF_HMAC_SHA2_256,
			       IKE_DH_CURVE25519, 0),
		    t_suite(IKE_ENCR_AES_GCM_16, 256, 0, 0, IKE_DH_ECP_256, 0));
	n->a.peers[0].esp.n = 2;
	n->a.peers[0].esp.suite[1] = t_suite(IKE_ENCR_AES_GCM_16, 256, 0, 0, IKE_DH_CURVE25519, 0);
	n->b.peers[0].esp.suite[0].dh = IKE_DH_CURVE25519;
	CHECK(t_start_engines(n) == 0);
	spi = t_initiate(n, 0);
	CHECK(spi && n->a.nup == 1);
	CHECK_EQ_U64(ike_engine_rekey_child(n->a.e, spi, n->a.up[0].spi_in, n->now, n->a.act), 0);
	t_collect(n, &n->a);
	t_run(n);
	CHECK_EQ_U64(n->a.nup, 2);
	CHECK(n->a.nup == 2 && n->a.up[1].suite.dh == IKE_DH_CURVE25519 &&
	      t_child_pair_ok(&n->a.up[1], t_peer_child(&n->b, n->a.up[1].spi_in)));
	CHECK_EQ_U64(t_live_children(&n->a), 1);
	t_net_free(n);
}

/* ike_lifetime_s: the IKE SA rekeys itself, a little early (2.8.1 jitter, at most 10 %). */
static void test_lifetime(void)
{
	struct tnet *n = &net;
	struct ike_sa_info info;
	uint64_t spi;
	mm_time_ns t0;

	t_net_init(n, false);
	t_peers_psk(n, t_suite(IKE_ENCR_AES_GCM_16, 256, 0, IKE_PRF_HMAC_SHA2_256,
			       IKE_DH_CURVE25519, 0), t_suite(IKE_ENCR_AES_GCM_16, 256, 0, 0, 0, 0));
	n->a.peers[0].ike_lifetime_s = 100;
	CHECK(t_start_engines(n) == 0);
	t0 = n->now;
	spi = t_initiate(n, 0);
	CHECK(t_find_sa(n->a.e, spi, &info));
	CHECK(info.rekey_at <= t0 + MM_SEC(100) && info.rekey_at >= t0 + MM_SEC(90));
	CHECK(t_find_sa(n->b.e, spi, &info) && info.rekey_at == IKE_TIME_NEVER);
	CHECK_EQ_U64(info.established, t0);
	t_advance(n, MM_SEC(89));
	CHECK_EQ_U64(n->a.nsa_up, 1);
	t_advance(n, MM_SEC(11));
	CHECK_EQ_U64(n->a.nsa_up, 2);
	CHECK_EQ_U64(n->b.nsa_up, 2);
	CHECK_EQ_U64(n->a.nsa_down, 1);
	CHECK_EQ_U64(n->b.nsa_down, 1);
	CHECK_EQ_U64(t_live_children(&n->a), 1);
	/* The new SA's rekey is scheduled again. */
	CHECK(n->a.nsa_up == 2 && t_find_sa(n->a.e, n->a.sa_up[1].spi_i, &info) &&
	      info.rekey_at > n->now - MM_SEC(11) + MM_SEC(89));
	t_net_free(n);
}

/* The soft lifetime from the data path starts a rekey; the hard one a delete. */
static void test_expiry(void)
{
	struct tnet *n = &net;
	uint64_t spi = setup(n, 0);
	uint32_t c1;

	CHECK(spi && n->b.nup == 1);
	c1 = n->b.up[0].spi_in;
	CHECK_EQ_U64(ike_engine_child_expired(n->b.e, c1, false, n->now, n->b.act), 0);
	t_collect(n, &n->b);
	t_run(n);
	CHECK_EQ_U64(n->b.nup, 2);
	CHECK(t_is_down(&n->b, c1));
	CHECK_EQ_U64(ike_engine_child_expired(n->b.e, n->b.up[1].spi_in, true, n->now, n->b.act), 0);
	t_collect(n, &n->b);
	t_run(n);
	CHECK_EQ_U64(t_live_children(&n->a), 0);
	CHECK_EQ_U64(t_live_children(&n->b), 0);
	CHECK_EQ_U64(ike_engine_child_expired(n->b.e, 12345, true, n->now, n->b.act),
		     (uint64_t)-ENOENT);
	t_net_free(n);
}

int main(void)
{
	t_log_setup();
	test_new_child();
	rekey_child(&net.a, 0, "Child SA rekey by the initiator, no PFS");
	rekey_child(&net.b, 0, "Child SA rekey by the responder, no PFS");
	rekey_child(&net.a, IKE_DH_CURVE25519, "Child SA rekey by the initiator, PFS x25519");
	rekey_child(&net.b, IKE_DH_MODP_2048, "Child SA rekey by the responder, PFS MODP-2048");
	test_rekey_ike(false);
	test_rekey_ike(true);
	test_simultaneous_child(false);
	test_simultaneous_child(true);
	test_simultaneous_ike();
	test_one_sided_ike_collision();
	/* The same with the other side's nonces lower. */
	swap_seeds = true;
	test_simultaneous_child(false);
	test_simultaneous_child(true);
	test_simultaneous_ike();
	test_one_sided_ike_collision();
	swap_seeds = false;
	test_lifetime();
	test_child_invalid_ke();
	test_expiry();
	t_free_actions(&net);
	return tap_done();
}
