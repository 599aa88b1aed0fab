/* ike/engine.h, IKE_SA_INIT and IKE_AUTH with pre-shared keys: two engines back to back
 * (ike/test_engine_util.h), both roles of each exchange:
 *  - every IKE suite of the interop set (RFC 8247: AES-GCM-16 128/256, ChaCha20-Poly1305, AES-
 *    CBC + HMAC-SHA2-256; PRF SHA2-256/384; groups 19, 20, 31, 14) with the matching ESP suite:
 *    SA_UP and CHILD_UP on both sides, the Child SA keys of one side equal to the other's
 *    opposite direction (2.17), CP address and DNS (3.15), narrowed selectors (2.9), key log
 *    lines in Wireshark's format;
 *  - NAT detection (2.23): flags on both sides, the move to port 4500, UDP encapsulation;
 *  - INVALID_KE_PAYLOAD (1.2): the retry with the responder's group, once per group;
 *  - NO_PROPOSAL_CHOSEN (2.7), a wrong PSK (AUTHENTICATION_FAILED, 2.21.2);
 *  - COOKIE (2.6): many spoofed IKE_SA_INIT push the half-open count over the threshold,
 *    then a legitimate initiator gets a cookie, retries with it first, and completes;
 *  - CP pool exhaustion: INTERNAL_ADDRESS_FAILURE, IKE SA up without a Child SA (3.15.4);
 *  - TS narrowing and TS_UNACCEPTABLE.
 */
#include "ike/test_engine_util.h"

#include "ike/transform.h"

static struct tnet net;

struct suite_case {
	const char *name;
	struct ike_suite ike, esp;
	const char *keylog_encr;         /* Wireshark's name, keylog.h */
	const char *keylog_integ;
};

static void check_established(const char *what, struct tnet *n, uint64_t spi)
{
	const struct ike_child_info *ca, *cb;
	struct ike_sa_info ia, ib;

	printf("# %s\n", what);
	CHECK(spi != 0);
	CHECK_EQ_U64(n->a.nsa_up, 1);
	CHECK_EQ_U64(n->b.nsa_up, 1);
	CHECK_EQ_U64(n->a.nup, 1);
	CHECK_EQ_U64(n->b.nup, 1);
	if (n->a.nsa_up != 1 || n->b.nsa_up != 1 || n->a.nup != 1 || n->b.nup != 1)
		return;
	ca = &n->a.up[0];
	cb = t_peer_child(&n->b, ca->spi_in);
	CHECK(t_child_pair_ok(ca, cb));
	CHECK_EQ_U64(n->a.sa_up[0].spi_i, spi);
	CHECK_EQ_U64(n->b.sa_up[0].spi_i, spi);
	CHECK_EQ_U64(n->a.sa_up[0].spi_r, n->b.sa_up[0].spi_r);
	CHECK_EQ_U64(n->a.sa_up[0].role, IKE_ROLE_INITIATOR);
	CHECK_EQ_U64(n->b.sa_up[0].role, IKE_ROLE_RESPONDER);
	CHECK(ca->ike_spi_i == spi && cb && cb->ike_spi_r == n->b.sa_up[0].spi_r);
	/* Both see the same suite; the identities are the configured ones. */
	CHECK(memcmp(&n->a.sa_up[0].suite, &n->b.sa_up[0].suite, sizeof(struct ike_suite)) == 0);
	CHECK(n->b.sa_up[0].peer_id.len == 7 && memcmp(n->b.sa_up[0].peer_id.data, "mn.test", 7) == 0);
	CHECK(n->a.sa_up[0].peer_id.len == 10 &&
	      memcmp(n->a.sa_up[0].peer_id.data, "vpngw.test", 10) == 0);
	/* CP (3.15): the first pool address and two DNS servers, on both sides. */
	CHECK_EQ_U64(ntohl(n->a.sa_up[0].inner_addr.s_addr), 0xc612640a);
	CHECK_EQ_U64(n->a.sa_up[0].inner_addr.s_addr, n->b.sa_up[0].inner_addr.s_addr);
	CHECK_EQ_U64(n->a.sa_up[0].ndns, 2);
	/* 2.9: TSi narrowed to the inner address, TSr to the responder's local_ts. */
	CHECK_EQ_U64(ca->ts_local.n, 1);
	CHECK_EQ_U64(ca->ts_local.ts[0].start.s_addr, n->a.sa_up[0].inner_addr.s_addr);
	CHECK_EQ_U64(ca->ts_local.ts[0].end.s_addr, n->a.sa_up[0].inner_addr.s_addr);
	CHECK_EQ_U64(ntohl(ca->ts_remote.ts[0].start.s_addr), 0xc6120000);
	CHECK_EQ_U64(ntohl(ca->ts_remote.ts[0].end.s_addr), 0xc612ffff);
	CHECK(cb && memcmp(&cb->ts_local, &ca->ts_remote, sizeof(ca->ts_remote)) == 0);
	CHECK(cb && memcmp(&cb->ts_remote, &ca->ts_local, sizeof(ca->ts_local)) == 0);
	/* Listed, established, message IDs advanced (2.3). */
	CHECK(t_find_sa(n->a.e, spi, &ia) && strcmp(ia.state, "ESTABLISHED") == 0);
	CHECK(t_find_sa(n->b.e, spi, &ib) && strcmp(ib.state, "ESTABLISHED") == 0);
	CHECK_EQ_U64(ia.msgid_out, 2);
	CHECK_EQ_U64(ib.msgid_in, 2);
	CHECK_EQ_U64(ia.nchildren, 1);
	CHECK_EQ_U64(ib.nchildren, 1);
	(void)ib;
}

/* "SPIi,SPIr,SK_ei,SK_er,"encr",SK_ai,SK_ar,"integ"" (keylog.h). */
static void check_keylog(const struct tside *s, uint64_t spi_i, uint64_t spi_r,
			 const struct suite_case *c)
{
	char want[64];
	const char *l = s->nkeylog ? s->keylog[0] : "";
	int commas = 0;

	snprintf(want, sizeof(want), "%016llx,%016llx,", (unsigned long long)spi_i,
		 (unsigned long long)spi_r);
	CHECK(strncmp(l, want, strlen(want)) == 0);
	CHECK(strstr(l, c->keylog_encr) != NULL);
	CHECK(strstr(l, c->keylog_integ) != NULL);
	for (const char *p = l; *p; p++)
		commas += *p == ',';
	CHECK_EQ_U64(commas, 7);
}

static void test_suites(void)
{
	const struct suite_case cases[] = {
		{ "aes128gcm16-prfsha256-ecp256",
		  t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256, IKE_DH_ECP_256, 0),
		  t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0),
		  "\"AES-GCM-128 with 16 octet ICV [RFC5282]\"", "\"NONE [RFC4306]\"" },
		{ "aes256gcm16-prfsha384-ecp384",
		  t_suite(IKE_ENCR_AES_GCM_16, 256, 0, IKE_PRF_HMAC_SHA2_384, IKE_DH_ECP_384, 0),
		  t_suite(IKE_ENCR_AES_GCM_16, 256, 0, 0, 0, 1),
		  "\"AES-GCM-256 with 16 octet ICV [RFC5282]\"", "\"NONE [RFC4306]\"" },
		{ "chacha20poly1305-prfsha256-x25519",
		  t_suite(IKE_ENCR_CHACHA20_POLY1305, 0, 0, IKE_PRF_HMAC_SHA2_256,
			  IKE_DH_CURVE25519, 0),
		  t_suite(IKE_ENCR_CHACHA20_POLY1305, 0, 0, 0, 0, 0),
		  "\"CHACHA20-POLY1305 [RFC7634]\"", "\"NONE [RFC4306]\"" },
		{ "aes256gcm16-prfsha384-x25519",
		  t_suite(IKE_ENCR_AES_GCM_16, 256, 0, IKE_PRF_HMAC_SHA2_384, IKE_DH_CURVE25519, 0),
		  t_suite(IKE_ENCR_AES_GCM_16, 256, 0, 0, 0, 0),
		  "\"AES-GCM-256 with 16 octet ICV [RFC5282]\"", "\"NONE [RFC4306]\"" },
		{ "aes128gcm16-prfsha256-modp2048",
		  t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256, IKE_DH_MODP_2048, 0),
		  t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0),
		  "\"AES-GCM-128 with 16 octet ICV [RFC5282]\"", "\"NONE [RFC4306]\"" },
		{ "aes128-sha256-modp2048",
		  t_suite(IKE_ENCR_AES_CBC, 128, IKE_INTEG_HMAC_SHA2_256_128, IKE_PRF_HMAC_SHA2_256,
			  IKE_DH_MODP_2048, 0),
		  t_suite(IKE_ENCR_AES_CBC, 128, IKE_INTEG_HMAC_SHA2_256_128, 0, IKE_DH_MODP_2048, 0),
		  "\"AES-CBC-128 [RFC3602]\"", "\"HMAC_SHA2_256_128 [RFC4868]\"" },
		{ "aes256-sha512-ecp384",
		  t_suite(IKE_ENCR_AES_CBC, 256, IKE_INTEG_HMAC_SHA2_512_256, IKE_PRF_HMAC_SHA2_512,
			  IKE_DH_ECP_384, 0),
		  t_suite(IKE_ENCR_AES_CBC, 256, IKE_INTEG_HMAC_SHA2_384_192, 0, 0, 0),
		  "\"AES-CBC-256 [RFC3602]\"", "\"HMAC_SHA2_512_256 [RFC4868]\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct suite_case *c = &cases[i];
		uint64_t spi;

		t_net_init(&net, false);
		t_peers_psk(&net, c->ike, c->esp);
		CHECK(t_start_engines(&net) == 0);
		spi = t_initiate(&net, 0);
		check_established(c->name, &net, spi);
		CHECK(memcmp(&net.a.sa_up[0].suite, &c->ike, sizeof(c->ike)) == 0);
		/* ESP as configured; in IKE_AUTH without PFS (no KE there, 1.2). */
		CHECK(net.a.nup && net.a.up[0].suite.encr == c->esp.encr &&
		      net.a.up[0].suite.esn == c->esp.esn && net.a.up[0].suite.dh == 0);
		/* 2 + 2 messages, nothing retransmitted; no NAT: port 500 throughout. */
		CHECK_EQ_U64(net.a.sent, 2);
		CHECK_EQ_U64(net.b.sent, 2);
		CHECK(net.a.nup && !net.a.up[0].udp_encap && net.a.up[0].remote.port == 500);
		CHECK(!net.a.sa_up[0].nat_local && !net.a.sa_up[0].nat_remote);
		/* Both sides log the same keys. */
		CHECK_EQ_U64(net.a.nkeylog, 1);
		CHECK_EQ_U64(net.b.nkeylog, 1);
		CHECK(net.a.nkeylog && net.b.nkeylog && strcmp(net.a.keylog[0], net.b.keylog[0]) == 0);
		if (net.a.nsa_up)
			check_keylog(&net.a, spi, net.a.sa_up[0].spi_r, c);
		/* Different keys for a different run (the nonces differ). */
		t_net_free(&net);
	}
}

/* 2.23: A behind a NAT: both sides notice, IKE_AUTH goes to 4500, ESP is UDP-encapsulated. */
static void test_nat(void)
{
	uint64_t spi;
	struct ike_sa_info ib;

	t_net_init(&net, true);
	t_peers_psk(&net, t_suite(IKE_ENCR_AES_GCM_16, 256, 0, IKE_PRF_HMAC_SHA2_256,
				  IKE_DH_CURVE25519, 0), t_suite(IKE_ENCR_AES_GCM_16, 256, 0, 0, 0, 0));
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	check_established("behind a NAT", &net, spi);
	CHECK(net.a.nsa_up == 1 && net.a.sa_up[0].nat_local && !net.a.sa_up[0].nat_remote);
	CHECK(net.b.nsa_up == 1 && !net.b.sa_up[0].nat_local && net.b.sa_up[0].nat_remote);
	CHECK(net.a.nup == 1 && net.a.up[0].udp_encap && net.a.up[0].local.port == 4500 &&
	      net.a.up[0].remote.port == 4500);
	/* B sees A at the NAT's public address and mapped port. */
	CHECK(net.b.nup == 1 && net.b.up[0].udp_encap &&
	      net.b.up[0].remote.port == 4500 + T_NAT_PORT_OFF && net.b.up[0].local.port == 4500);
	CHECK(t_find_sa(net.b.e, spi, &ib) && ib.remote.port == 4500 + T_NAT_PORT_OFF);
	t_net_free(&net);

	/* MOBIKE on: port 4500 even without a NAT (RFC 4555 2.2). */
	t_net_init(&net, false);
	t_peers_psk(&net, t_suite(IKE_ENCR_AES_GCM_16, 256, 0, IKE_PRF_HMAC_SHA2_256,
				  IKE_DH_CURVE25519, 0), t_suite(IKE_ENCR_AES_GCM_16, 256, 0, 0, 0, 0));
	net.a.peers[0].mobike = net.b.peers[0].mobike = true;
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK(spi && net.a.nsa_up == 1 && net.a.sa_up[0].mobike && net.b.nsa_up == 1 &&
	      net.b.sa_up[0].mobike);
	CHECK(net.a.nup == 1 && net.a.up[0].udp_encap && net.a.up[0].remote.port == 4500);
	CHECK(net.a.nsa_up == 1 && !net.a.sa_up[0].nat_local && !net.a.sa_up[0].nat_remote);
	t_net_free(&net);
}

/* 1.2: A offers groups 19 and 31 and sends KE 19; B only does 31: INVALID_KE_PAYLOAD(31),
 * A retries with 31 and completes. Then a group A never offered: no endless retry. */
static void test_invalid_ke(void)
{
	struct ike_engine_stats st;
	uint64_t spi;

	t_net_init(&net, false);
	t_peers_psk(&net, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256,
				  IKE_DH_ECP_256, 0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	net.a.peers[0].ike.n = 2;
	net.a.peers[0].ike.suite[1] = t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256,
					      IKE_DH_CURVE25519, 0);
	net.b.peers[0].ike.suite[0].dh = IKE_DH_CURVE25519;
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	check_established("INVALID_KE_PAYLOAD retry", &net, spi);
	CHECK(net.a.nsa_up && net.a.sa_up[0].suite.dh == IKE_DH_CURVE25519);
	CHECK_EQ_U64(net.a.sent, 3);        /* SA_INIT twice, AUTH */
	CHECK_EQ_U64(net.b.sent, 3);        /* INVALID_KE, SA_INIT response, AUTH response */
	ike_engine_stats(net.b.e, &st);
	CHECK_EQ_U64(st.half_open, 0);
	t_net_free(&net);

	/* B wants group 20, which A does not offer: B answers NO_PROPOSAL_CHOSEN. */
	t_net_init(&net, false);
	t_peers_psk(&net, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256,
				  IKE_DH_ECP_256, 0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	net.b.peers[0].ike.suite[0].dh = IKE_DH_ECP_384;
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK(spi != 0);
	CHECK_EQ_U64(net.a.nsa_up, 0);
	CHECK_EQ_U64(net.a.nsa_down, 1);
	CHECK(net.a.nsa_down == 1 && strstr(net.a.down_reason[0], "NO_PROPOSAL_CHOSEN"));
	ike_engine_stats(net.b.e, &st);
	CHECK_EQ_U64(st.no_proposal, 1);
	CHECK_EQ_U64(t_count_sas(net.b.e, NULL), 0);
	CHECK_EQ_U64(t_count_sas(net.a.e, NULL), 0);
	t_net_free(&net);
}

/* 2.15, 2.21.2: a wrong PSK is AUTHENTICATION_FAILED; B forgets the SA, A gives up. */
static void test_bad_psk(void)
{
	static const uint8_t other[] = "another pre-shared key, 32 octs";
	struct ike_engine_stats sa_st, sb_st;
	uint64_t spi;

	t_net_init(&net, false);
	t_peers_psk(&net, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256,
				  IKE_DH_ECP_256, 0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	net.b.peers[0].remote.psk = other;
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK(spi != 0);
	CHECK_EQ_U64(net.a.nsa_up, 0);
	CHECK_EQ_U64(net.b.nsa_up, 0);
	CHECK_EQ_U64(net.a.nsa_down, 1);
	CHECK(net.a.nsa_down && strstr(net.a.down_reason[0], "AUTHENTICATION_FAILED"));
	ike_engine_stats(net.a.e, &sa_st);
	ike_engine_stats(net.b.e, &sb_st);
	CHECK_EQ_U64(sb_st.auth_failures, 1);
	CHECK_EQ_U64(sa_st.auth_failures, 1);
	CHECK_EQ_U64(t_count_sas(net.b.e, NULL), 0);
	CHECK_EQ_U64(sb_st.half_open, 0);
	CHECK_EQ_U64(net.b.nup + net.a.nup, 0);
	t_net_free(&net);

	/* The responder's PSK differs: A refuses B's AUTH. */
	t_net_init(&net, false);
	t_peers_psk(&net, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256,
				  IKE_DH_ECP_256, 0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	net.b.peers[0].local.psk = other;
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK_EQ_U64(net.a.nsa_up, 0);
	CHECK(net.a.nsa_down == 1 && strstr(net.a.down_reason[0], "pre-shared key"));
	CHECK_EQ_U64(t_count_sas(net.a.e, NULL), 0);
	t_net_free(&net);
}

/* 2.6: with more than cookie_threshold half-open SAs, B answers COOKIE without making state;
 * A retries with the cookie first and completes. */
static void test_cookie(void)
{
	struct ike_engine_stats st;
	struct tnet *n = &net;
	uint64_t spi;
	unsigned flood = 40;

	t_net_init(n, false);
	t_peers_psk(n, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256, IKE_DH_ECP_256,
			       0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	n->b.cfg.cookie_threshold = 10;
	CHECK(t_start_engines(n) == 0);
	/* Spoofed IKE_SA_INIT from many sources: A's first message, replayed with new SPIs and
	 * source addresses (an engine C makes the real bytes). */
	{
		struct tside c;
		struct ike_peer_cfg pc = n->a.peers[0];
		uint64_t cspi;
		size_t b_sent0 = n->b.sent;

		memset(&c, 0, sizeof(c));
		t_side_init(&c, "C", IKE_ROLE_INITIATOR, 77, "203.0.113.1");
		c.cfg.peers = &pc;
		c.cfg.npeers = 1;
		CHECK(ike_engine_new(&c.cfg, &c.e) == 0);
		for (unsigned i = 0; i < flood; i++) {
			struct ike_endpoint l = { c.addr, 500 }, r = { n->b.addr, 500 }, src;

			l.addr.s_addr = htonl(0xcb007100 + i);    /* 203.0.113.i */
			if (ike_engine_initiate(c.e, 0, &l, &r, n->now, &cspi, c.act) < 0 ||
			    c.act->n != 1)
				continue;
			src = l;
			ike_engine_input(n->b.e, c.act->buf, c.act->a[0].u.send.len, &src, &r, n->now,
					 n->b.act);
			t_collect(n, &n->b);
			ike_actions_clear(c.act);
		}
		ike_engine_free(c.e);
		free(c.act);
		n->nq = 0;                   /* B's answers to the spoofed sources go nowhere */
		ike_engine_stats(n->b.e, &st);
		printf("# %u spoofed IKE_SA_INIT: %llu half-open, %llu cookies\n", flood,
		       (unsigned long long)st.half_open, (unsigned long long)st.cookies_sent);
		CHECK_EQ_U64(st.half_open, 10);
		CHECK_EQ_U64(st.cookies_sent, flood - 10);
		CHECK_EQ_U64(n->b.sent - b_sent0, flood);
		CHECK_EQ_U64(t_count_sas(n->b.e, NULL), 10);
	}
	/* The legitimate initiator. */
	spi = t_initiate(n, 0);
	CHECK(spi != 0);
	CHECK_EQ_U64(n->a.nsa_up, 1);
	CHECK_EQ_U64(n->b.nsa_up, 1);
	CHECK_EQ_U64(n->a.sent, 3);         /* SA_INIT, SA_INIT with COOKIE, AUTH */
	ike_engine_stats(n->b.e, &st);
	CHECK_EQ_U64(st.cookies_sent, flood - 10 + 1);
	CHECK(n->a.nup == 1 && t_child_pair_ok(&n->a.up[0], t_peer_child(&n->b, n->a.up[0].spi_in)));
	/* The spoofed half-open SAs time out (30 s); the real one stays. */
	t_advance(n, MM_SEC(31));
	ike_engine_stats(n->b.e, &st);
	CHECK_EQ_U64(st.half_open, 0);
	CHECK_EQ_U64(t_count_sas(n->b.e, NULL), 1);
	CHECK_EQ_U64(n->b.nsa_down, 0);     /* half-open SAs are not announced */
	/* Below the threshold again: no cookie. */
	t_net_free(n);
}

/* 3.15.4: pool exhausted: INTERNAL_ADDRESS_FAILURE, IKE SA without Child SA. 2.9: selectors
 * that do not intersect: TS_UNACCEPTABLE. */
static void test_cp_ts(void)
{
	struct ike_engine_stats st;
	uint64_t spi;

	t_net_init(&net, false);
	t_peers_psk(&net, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256,
				  IKE_DH_ECP_256, 0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	net.b.pool_size = 0;
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK(spi != 0);
	CHECK_EQ_U64(net.a.nsa_up, 1);
	CHECK_EQ_U64(net.b.nsa_up, 1);
	CHECK_EQ_U64(net.a.nup, 0);
	CHECK_EQ_U64(net.b.nup, 0);
	CHECK(net.a.nsa_up && net.a.sa_up[0].inner_addr.s_addr == 0);
	ike_engine_stats(net.b.e, &st);
	CHECK_EQ_U64(st.pool_exhausted, 1);
	t_net_free(&net);

	/* Narrowing: A asks for 198.18.0.0/16 + 10.1.0.0/16 with port 80 only on one; B has
	 * 198.18.0.0/24 and 10.1.2.0/24: both intersections, A's ports kept. */
	t_net_init(&net, false);
	t_peers_psk(&net, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256,
				  IKE_DH_ECP_256, 0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	{
		struct ike_ts4_list *ar = &net.a.peers[0].remote_ts, *bl = &net.b.peers[0].local_ts;

		ar->n = 2;
		inet_pton(AF_INET, "10.1.0.0", &ar->ts[1].start);
		inet_pton(AF_INET, "10.1.255.255", &ar->ts[1].end);
		ar->ts[1].ip_proto = 6;
		ar->ts[1].start_port = ar->ts[1].end_port = 80;
		bl->n = 2;
		inet_pton(AF_INET, "198.18.0.0", &bl->ts[0].start);
		inet_pton(AF_INET, "198.18.0.255", &bl->ts[0].end);
		inet_pton(AF_INET, "10.1.2.0", &bl->ts[1].start);
		inet_pton(AF_INET, "10.1.2.255", &bl->ts[1].end);
		bl->ts[1].end_port = 65535;
	}
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK(spi != 0 && net.a.nup == 1);
	if (net.a.nup == 1) {
		const struct ike_child_info *c = &net.a.up[0];

		CHECK_EQ_U64(c->ts_remote.n, 2);
		CHECK_EQ_U64(ntohl(c->ts_remote.ts[0].end.s_addr), 0xc61200ff);
		CHECK_EQ_U64(ntohl(c->ts_remote.ts[1].start.s_addr), 0x0a010200);
		CHECK_EQ_U64(ntohl(c->ts_remote.ts[1].end.s_addr), 0x0a0102ff);
		CHECK_EQ_U64(c->ts_remote.ts[1].ip_proto, 6);
		CHECK_EQ_U64(c->ts_remote.ts[1].start_port, 80);
		CHECK_EQ_U64(c->ts_remote.ts[1].end_port, 80);
	}
	t_net_free(&net);

	/* Nothing in common: TS_UNACCEPTABLE, IKE SA up, no Child SA; the address is kept. */
	t_net_init(&net, false);
	t_peers_psk(&net, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256,
				  IKE_DH_ECP_256, 0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	inet_pton(AF_INET, "172.16.0.0", &net.b.peers[0].local_ts.ts[0].start);
	inet_pton(AF_INET, "172.16.255.255", &net.b.peers[0].local_ts.ts[0].end);
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK(spi && net.a.nsa_up == 1 && net.b.nsa_up == 1);
	CHECK_EQ_U64(net.a.nup + net.b.nup, 0);
	t_net_free(&net);

	/* ESP proposals that do not match: NO_PROPOSAL_CHOSEN for the Child SA only. */
	t_net_init(&net, false);
	t_peers_psk(&net, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256,
				  IKE_DH_ECP_256, 0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	net.b.peers[0].esp.suite[0] = t_suite(IKE_ENCR_CHACHA20_POLY1305, 0, 0, 0, 0, 0);
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK(spi && net.a.nsa_up == 1 && net.b.nsa_up == 1);
	CHECK_EQ_U64(net.a.nup + net.b.nup, 0);
	ike_engine_stats(net.b.e, &st);
	CHECK_EQ_U64(st.no_proposal, 1);
	t_net_free(&net);
}

/* The responder picks the peer configuration by IDi; remote_id type 0 takes anyone the PSK
 * proves. */
static void test_peer_selection(void)
{
	uint64_t spi;

	t_net_init(&net, false);
	t_peers_psk(&net, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256,
				  IKE_DH_ECP_256, 0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	/* B: first a peer for someone else, then a wildcard with the right PSK. */
	net.b.peers[1] = net.b.peers[0];
	net.b.peers[1].name = "any";
	net.b.peers[1].remote_id.type = 0;
	net.b.peers[1].remote_id.len = 0;
	t_id_fqdn(&net.b.peers[0].remote_id, "someone.else");
	net.b.npeers = 2;
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK(spi && net.b.nsa_up == 1);
	CHECK(net.b.nsa_up == 1 && net.b.sa_up[0].peer == &net.b.peers[1]);
	t_net_free(&net);
}

/* SIGHUP: new peer configurations for new SAs; the SA made before keeps its own. An engine
 * that only initiates does not answer IKE_SA_INIT. */
static void test_set_peers(void)
{
	static const uint8_t other[] = "the reloaded pre-shared key....";
	static struct ike_peer_cfg reloaded[1];
	struct ike_sa_info info;
	uint64_t spi, spi2;
	size_t b_sent;

	t_net_init(&net, false);
	t_peers_psk(&net, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256,
				  IKE_DH_ECP_256, 0), t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK(spi && net.b.nsa_up == 1);
	reloaded[0] = net.b.peers[0];
	reloaded[0].name = "reloaded";
	reloaded[0].local.psk = reloaded[0].remote.psk = other;
	CHECK_EQ_U64(ike_engine_set_peers(net.b.e, reloaded, 1), 0);
	CHECK_EQ_U64(ike_engine_set_peers(net.b.e, NULL, 1), (uint64_t)-EINVAL);
	CHECK(t_find_sa(net.b.e, spi, &info) && info.peer == &net.b.peers[0]);
	/* The old secret no longer gets in... */
	spi2 = t_initiate(&net, 0);
	CHECK(spi2 && !t_find_sa(net.a.e, spi2, &info));
	CHECK_EQ_U64(net.a.nsa_down, 1);
	/* ...the new one does; the first SA stays with its configuration (A has it still, so
	 * no INITIAL_CONTACT this time). */
	net.a.peers[0].local.psk = net.a.peers[0].remote.psk = other;
	spi2 = t_initiate(&net, 0);
	CHECK(t_find_sa(net.b.e, spi2, &info) && info.peer == &reloaded[0]);
	CHECK(t_find_sa(net.b.e, spi, &info) && info.peer == &net.b.peers[0]);
	CHECK_EQ_U64(net.b.nsa_down, 0);
	CHECK_EQ_U64(t_count_sas(net.b.e, NULL), 2);
	/* A (initiator only) ignores an IKE_SA_INIT request. */
	b_sent = net.a.sent;
	{
		struct ike_endpoint l = { net.b.addr, 500 }, r = { net.a.addr, 500 };
		uint64_t cspi;
		struct tside c;
		struct ike_peer_cfg pc = net.a.peers[0];

		memset(&c, 0, sizeof(c));
		t_side_init(&c, "C", IKE_ROLE_INITIATOR, 99, "192.0.2.9");
		c.cfg.peers = &pc;
		c.cfg.npeers = 1;
		CHECK(ike_engine_new(&c.cfg, &c.e) == 0);
		CHECK(ike_engine_initiate(c.e, 0, &l, &r, net.now, &cspi, c.act) == 0);
		CHECK_EQ_U64(c.act->n, 1);
		ike_engine_input(net.a.e, c.act->buf, c.act->a[0].u.send.len, &l, &r, net.now,
				 net.a.act);
		CHECK_EQ_U64(net.a.act->n, 0);
		ike_engine_free(c.e);
		free(c.act);
	}
	CHECK_EQ_U64(net.a.sent, b_sent);
	t_net_free(&net);
}

int main(void)
{
	t_log_setup();
	test_suites();
	test_nat();
	test_invalid_ke();
	test_bad_psk();
	test_cookie();
	test_cp_ts();
	test_peer_selection();
	test_set_peers();
	t_free_actions(&net);
	return tap_done();
}
