/* MOBIKE (RFC 4555) in the IKEv2 engine: two engines back to back (test_engine_util.h) over
 * a small simulated network with a fake clock.
 *
 * A (the initiator, mnd-like) has the public addresses PUB1 and PUB2 and a private one,
 * PRIV, behind a NAT that shows it as 198.51.100.7 with port + 40000 (the mapping can
 * change). B (the gateway) has GW1 and GW2 and announces both. Links can die in both
 * directions or in one, and A's source can be rewritten (as a NAT rebinding would). What
 * is checked, by section of RFC 4555:
 *  - moves public -> other public -> behind a NAT -> public, same SPIs, every Child SA in
 *    the action, return routability for new addresses only, counters, one log line (3.5,
 *    3.7); the private MM_ESP_RECEIVED marks of A's update in B's move;
 *  - a newer move while one is under way: one request at a time, the stale answer ignored
 *    (3.5);
 *  - deferral while no address works, no sends, no DPD death (the responder waits five
 *    minutes, 3.11), resume; a DELETE while deferred;
 *  - path testing when the path dies (after two sends, and when the daemon says so) in the
 *    pair order of policy/ (3.10); with one pair to test (an alternative alone goes out on
 *    that pair, never on the dead one), two, and the current pair alone;
 *  - NO_NATS_ALLOWED with a NAT: UNEXPECTED_NAT_DETECTED, three tries, no move (3.9);
 *  - a policy refusal: UNACCEPTABLE_ADDRESSES with the reason logged, no move (3.5);
 *  - UPDATE_SA_ADDRESSES outside SK, replayed (a captured copy, again and later),
 *    bit-flipped: dropped, logged naming MOBIKE, no move;
 *  - return routability failing: no answer from the new address, an answer from another
 *    address, a wrong COOKIE2 (forged with the SA's keys from the key log: the SA is
 *    closed, 3.7) next to the right one (moves);
 *  - an IKE message from another source address: no implicit move (RFC 4621 5.2.6); nor an
 *    IKE_AUTH answer from another port (3.3); without MOBIKE the RFC 7296 2.23 update (only
 *    by a side not behind a NAT) comes with IKE_ACT_SA_MOVED after SA_UP;
 *  - the gateway's address set changes: the initiator moves (3.5, 3.6);
 *  - an IKE SA rekey by the responder keeps the MOBIKE role and state;
 *  - a changed NAT mapping seen in a liveness check (3.8);
 *  - the error returns of the calls.
 */
#include "ike/test_engine_util.h"

#include <openssl/crypto.h>

#include "ike/sk_crypt.h"
#include "ike/transform.h"

#define GW1 "192.0.2.1"
#define GW2 "192.0.2.5"
#define PUB1 "198.51.100.10"
#define PUB2 "203.0.113.20"
#define PRIV "10.0.0.2"
#define EVIL "203.0.113.66"

static struct tnet net;

static struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };

	inet_pton(AF_INET, s, &a);
	return a;
}

static struct ike_endpoint ep(const char *s, uint16_t port)
{
	struct ike_endpoint e = { ip(s), port };

	return e;
}

static bool ep_is(const struct ike_endpoint *e, const char *addr, uint16_t port)
{
	return e->addr.s_addr == ip(addr).s_addr && e->port == port;
}

/* --- the network -------------------------------------------------------------------------- */

static struct {
	struct in_addr dead[4];              /* lost both ways */
	size_t ndead;
	struct in_addr lost_to[4];           /* B -> A towards these: lost (one-way path) */
	size_t nlost_to;
	uint16_t nat_off;                    /* the NAT's port mapping */
	uint16_t b_shift;                    /* B behind a port-forwarding NAT: its datagrams
					      * leave from port + b_shift; port + 1 ... + b_shift
					      * lead back to it */
	bool spoof;                          /* A's datagrams from spoof_real show as spoof_as */
	struct in_addr spoof_real, spoof_as;
	struct { struct in_addr src, dst; } sent[512];   /* every A -> B datagram, lost or not */
	size_t nsent;
} world;

static bool in_set(const struct in_addr *l, size_t n, struct in_addr a)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].s_addr == a.s_addr)
			return true;
	return false;
}

static bool net_fn(struct tnet *n, int to, struct ike_endpoint *from, struct ike_endpoint *dst)
{
	(void)n;
	if (in_set(world.dead, world.ndead, from->addr) || in_set(world.dead, world.ndead, dst->addr)) {
		if (to == 1 && world.nsent < 512) {
			world.sent[world.nsent].src = from->addr;
			world.sent[world.nsent++].dst = dst->addr;
		}
		return false;
	}
	if (to == 1) {
		if (world.nsent < 512) {
			world.sent[world.nsent].src = from->addr;
			world.sent[world.nsent++].dst = dst->addr;
		}
		/* Forwarded to B, by the current mapping and the ones before it. */
		if (world.b_shift && dst->addr.s_addr == ip(GW1).s_addr &&
		    ((dst->port > 500 && dst->port <= 500 + world.b_shift) ||
		     (dst->port > 4500 && dst->port <= 4500 + world.b_shift)))
			dst->port = dst->port > 4500 ? 4500 : 500;
		if (from->addr.s_addr == ip(PRIV).s_addr) {
			from->addr = ip(T_NAT_PUBLIC);
			from->port = (uint16_t)(from->port + world.nat_off);
		} else if (world.spoof && from->addr.s_addr == world.spoof_real.s_addr) {
			from->addr = world.spoof_as;
		}
		return true;
	}
	if (in_set(world.lost_to, world.nlost_to, dst->addr))
		return false;
	if (world.b_shift && from->addr.s_addr == ip(GW1).s_addr)
		from->port = (uint16_t)(from->port + world.b_shift);
	if (dst->addr.s_addr == ip(T_NAT_PUBLIC).s_addr) {
		/* Only the NAT's current mappings lead anywhere. */
		if (dst->port != 500 + world.nat_off && dst->port != 4500 + world.nat_off)
			return false;
		dst->addr = ip(PRIV);
		dst->port = (uint16_t)(dst->port - world.nat_off);
	} else if (world.spoof && dst->addr.s_addr == world.spoof_as.s_addr) {
		dst->addr = world.spoof_real;
	}
	return true;
}

static void kill_addr(const char *a)
{
	world.dead[world.ndead++] = ip(a);
}

/* --- set-up --------------------------------------------------------------------------------- */

static struct ike_suite ike_suite(void)
{
	return t_suite(IKE_ENCR_AES_GCM_16, 256, 0, IKE_PRF_HMAC_SHA2_256, IKE_DH_CURVE25519, 0);
}

/* A at PUB1 sets up an SA with B at GW1; both sides MOBIKE. tweak changes the
 * configuration before the engines start. */
static uint64_t setup(void (*tweak)(void))
{
	uint64_t spi;

	memset(&world, 0, sizeof(world));
	world.nat_off = T_NAT_PORT_OFF;
	t_net_init(&net, false);
	net.net_fn = net_fn;
	net.record = true;
	net.a.addr = ip(PUB1);
	t_peers_psk(&net, ike_suite(), t_suite(IKE_ENCR_AES_GCM_16, 256, 0, 0, 0, 0));
	net.a.peers[0].mobike = net.b.peers[0].mobike = true;
	net.b.cfg.local_addrs[0] = ip(GW1);
	net.b.cfg.local_addrs[1] = ip(GW2);
	net.b.cfg.nlocal_addrs = 2;
	net.b.cfg.announce_addresses = true;
	net.a.cfg.local_addrs[0] = ip(PUB1);
	net.a.cfg.local_addrs[1] = ip(PUB2);
	net.a.cfg.nlocal_addrs = 2;
	if (tweak)
		tweak();
	if (t_start_engines(&net) < 0)
		return 0;
	spi = t_initiate(&net, 0);
	if (!spi || net.a.nsa_up != 1 || net.b.nsa_up != 1)
		return 0;
	return spi;
}

static int move_a(uint64_t spi, const char *local, const char *remote)
{
	struct ike_endpoint l = ep(local ? local : "0.0.0.0", 4500);
	struct ike_endpoint r = ep(remote ? remote : "0.0.0.0", 4500);
	int rc = ike_engine_update_addresses(net.a.e, spi, local ? &l : NULL, remote ? &r : NULL,
					     net.now, net.a.act);

	t_collect(&net, &net.a);
	t_run(&net);
	return rc;
}

static struct ike_engine_stats stats(const struct tside *s)
{
	struct ike_engine_stats st;

	ike_engine_stats(s->e, &st);
	return st;
}

static struct ike_sa_info info(const struct tside *s, uint64_t spi)
{
	struct ike_sa_info i;

	memset(&i, 0, sizeof(i));
	t_find_sa(s->e, spi, &i);
	return i;
}

/* The same, in static storage (for one expression). */
static const struct ike_sa_info *infop(const struct tside *s, uint64_t spi)
{
	static struct ike_sa_info i;

	i = info(s, spi);
	return &i;
}

/* The move lists exactly the side's live Child SAs. */
static bool children_ok(const struct ike_move_info *m, const struct tside *s)
{
	size_t live = 0;

	for (size_t i = 0; i < s->nup; i++) {
		bool listed = false;

		if (t_is_down(s, s->up[i].spi_in))
			continue;
		live++;
		for (size_t k = 0; k < m->nchildren; k++)
			listed = listed || (m->child_spi_in[k] == s->up[i].spi_in &&
					    m->child_spi_out[k] == s->up[i].spi_out);
		if (!listed)
			return false;
	}
	return live == m->nchildren && live > 0;
}

/* Exchange types on the wire. */
static size_t count_exchange(uint8_t exch)
{
	size_t n = 0;

	for (size_t i = 0; i < net.nwire; i++) {
		struct ike_header h;

		if (ike_hdr_parse(net.wire[i].data, net.wire[i].len, &h, NULL) == 0 &&
		    h.exchange == exch)
			n++;
	}
	return n;
}

static uint32_t msg_id_of(const struct tpkt *p, bool *request_from_a)
{
	struct ike_header h;

	if (ike_hdr_parse(p->data, p->len, &h, NULL) < 0)
		return UINT32_MAX;
	if (request_from_a)
		*request_from_a = p->to == 1 && !ike_hdr_is_response(&h) &&
				  ike_hdr_from_initiator(&h);
	return h.msg_id;
}

/* --- log capture ---------------------------------------------------------------------------- */

static FILE *log_f;
static char *log_buf;
static size_t log_len;

static void log_capture(void)
{
	log_f = open_memstream(&log_buf, &log_len);
	log_set_stream(log_f);
	log_set_level(LOG_LEVEL_INFO);
}

static bool logged(const char *a, const char *b)
{
	const char *p;

	fflush(log_f);
	for (p = log_buf; p && (p = strstr(p, a)); p++) {
		const char *eol = strchr(p, '\n');

		if (!b)
			return true;
		/* both on one line */
		for (const char *q = p; q && (!eol || q < eol); q++) {
			q = strstr(q, b);
			if (!q)
				break;
			if (!eol || q < eol)
				return true;
		}
	}
	return false;
}

static void log_release(void)
{
	log_set_stream(NULL);
	fclose(log_f);
	free(log_buf);
	log_buf = NULL;
	log_f = NULL;
	t_log_setup();
}

/* --- 1. moves ------------------------------------------------------------------------------- */

static void test_moves(void)
{
	uint64_t spi = setup(NULL), spi_r;
	struct ike_sa_info ia, ib;
	struct ike_engine_stats sa, sb;

	printf("# moves: public -> public -> NAT -> public\n");
	CHECK(spi != 0);
	spi_r = net.a.sa_up[0].spi_r;
	CHECK(net.a.sa_up[0].mobike && net.a.sa_up[0].mobike_initiator);
	CHECK(net.b.sa_up[0].mobike && !net.b.sa_up[0].mobike_initiator);
	/* 3.4: B announced GW2 in IKE_AUTH; A keeps B's set, B's address first. */
	CHECK(net.a.sa_up[0].npeer_addrs == 2 &&
	      net.a.sa_up[0].peer_addrs[0].s_addr == ip(GW1).s_addr &&
	      net.a.sa_up[0].peer_addrs[1].s_addr == ip(GW2).s_addr);
	CHECK_EQ_U64(net.b.sa_up[0].npeer_addrs, 1);
	/* A second Child SA: all of them move. */
	CHECK(ike_engine_create_child(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	t_run(&net);
	CHECK_EQ_U64(t_live_children(&net.a), 2);

	/* public -> another public address: B checks return routability first (3.7). */
	CHECK(move_a(spi, PUB2, NULL) == 0);
	CHECK_EQ_U64(net.a.nmoved, 1);
	CHECK_EQ_U64(net.b.nmoved, 1);
	if (net.a.nmoved == 1 && net.b.nmoved == 1) {
		const struct ike_move_info *ma = &net.a.moved[0], *mb = &net.b.moved[0];

		CHECK(ep_is(&ma->sa.local, PUB2, 4500) && ep_is(&ma->sa.remote, GW1, 4500));
		CHECK(ep_is(&ma->old_local, PUB1, 4500) && ep_is(&ma->old_remote, GW1, 4500));
		CHECK(!ma->sa.nat_local && !ma->sa.nat_remote && ma->udp_encap);
		CHECK(ma->sa.spi_i == spi && ma->sa.spi_r == spi_r);
		CHECK(children_ok(ma, &net.a));
		CHECK(ep_is(&mb->sa.remote, PUB2, 4500) && ep_is(&mb->old_remote, PUB1, 4500) &&
		      ep_is(&mb->sa.local, GW1, 4500));
		CHECK(children_ok(mb, &net.b) && mb->sa.spi_i == spi && mb->sa.spi_r == spi_r);
		CHECK(strstr(net.a.moved_text[0], PUB1) && strstr(net.a.moved_text[0], PUB2) &&
		      strstr(net.a.moved_text[0], "no NAT => no NAT"));
	}
	sa = stats(&net.a);
	sb = stats(&net.b);
	CHECK_EQ_U64(sa.mobike_updates_sent, 1);
	CHECK_EQ_U64(sb.mobike_updates_rx, 1);
	CHECK_EQ_U64(sb.mobike_updates_accepted, 1);
	CHECK_EQ_U64(sb.mobike_rr_sent, 1);
	CHECK_EQ_U64(sa.mobike_moves, 1);
	CHECK_EQ_U64(sb.mobike_moves, 1);

	/* -> behind the NAT: A sees the NAT in front of itself, B in front of A. */
	CHECK(move_a(spi, PRIV, NULL) == 0);
	CHECK_EQ_U64(net.a.nmoved, 2);
	CHECK_EQ_U64(net.b.nmoved, 2);
	if (net.a.nmoved == 2 && net.b.nmoved == 2) {
		const struct ike_move_info *ma = &net.a.moved[1], *mb = &net.b.moved[1];

		CHECK(ep_is(&ma->sa.local, PRIV, 4500) && ma->sa.nat_local && !ma->sa.nat_remote);
		CHECK(ep_is(&mb->sa.remote, T_NAT_PUBLIC, 4500 + T_NAT_PORT_OFF) &&
		      mb->sa.nat_remote && !mb->sa.nat_local && mb->udp_encap);
		CHECK(children_ok(ma, &net.a) && children_ok(mb, &net.b));
		CHECK(strstr(net.a.moved_text[1], "no NAT => NAT in front of us") != NULL);
		CHECK(strstr(net.b.moved_text[1], "=> NAT in front of the peer") != NULL);
	}
	CHECK_EQ_U64(stats(&net.b).mobike_rr_sent, 2);

	/* -> back to PUB1: verified at set-up, no return routability check this time. */
	CHECK(move_a(spi, PUB1, NULL) == 0);
	CHECK_EQ_U64(net.a.nmoved, 3);
	CHECK_EQ_U64(net.b.nmoved, 3);
	CHECK_EQ_U64(stats(&net.b).mobike_rr_sent, 2);
	ia = info(&net.a, spi);
	ib = info(&net.b, spi);
	CHECK(ep_is(&ia.local, PUB1, 4500) && ep_is(&ia.remote, GW1, 4500) && !ia.nat_local);
	CHECK(ep_is(&ib.remote, PUB1, 4500) && !ib.nat_remote);
	CHECK(ia.spi_r == spi_r && ib.spi_r == spi_r && ia.moves == 3 && ib.moves == 3 &&
	      !ia.move_pending && !ib.rr_pending);
	/* The same IKE SA all along: no new SA, no IKE_SA_INIT beyond the first. */
	CHECK_EQ_U64(net.a.nsa_up, 1);
	CHECK_EQ_U64(net.b.nsa_up, 1);
	CHECK_EQ_U64(t_count_sas(net.a.e, NULL), 1);
	CHECK_EQ_U64(count_exchange(IKE_EXCH_SA_INIT), 2);
	CHECK_EQ_U64(net.a.nsa_down + net.b.nsa_down, 0);
	/* Same pair again: nothing to do. */
	CHECK(move_a(spi, PUB1, GW1) == -EALREADY);
	t_net_free(&net);
}

/* --- 1b. MM_ESP_RECEIVED: how far A received goes with its update ------------------------- */

/* A's data path: seq 100 + k on its k-th live Child SA, none (0) on a Child SA it never
 * received on (the second one), and one mark naming an SPI no Child SA has. */
static size_t a_received(void *user, uint64_t spi_i, struct ike_esp_received *out, size_t max)
{
	struct tside *s = user;
	size_t n = 0;

	(void)spi_i;
	for (size_t i = 0; i < s->nup && n + 1 < max; i++) {
		if (t_is_down(s, s->up[i].spi_in))
			continue;
		out[n].spi = s->up[i].spi_in;
		out[n].seq = n == 1 ? 0 : 100 + n;
		n++;
	}
	out[n].spi = 0x0badf00d;
	out[n++].seq = 7;
	return n;
}

static void tweak_received(void)
{
	net.a.cfg.ops.esp_received = a_received;
}

/* The responder's move carries the marks of the update that moved it (through the return
 * routability check too), only for its own Child SAs, and only once. */
static void test_esp_received(void)
{
	uint64_t spi = setup(tweak_received);
	const struct ike_move_info *mb;
	uint32_t first_in = 0;

	printf("# MM_ESP_RECEIVED in UPDATE_SA_ADDRESSES (private, our Vendor ID)\n");
	CHECK(spi != 0);
	CHECK(ike_engine_create_child(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	t_run(&net);
	CHECK_EQ_U64(t_live_children(&net.a), 2);
	for (size_t i = 0; i < net.a.nup && !first_in; i++)
		if (!t_is_down(&net.a, net.a.up[i].spi_in))
			first_in = net.a.up[i].spi_in;
	/* PUB2 is new for the SA: the marks wait for the return routability check. */
	CHECK(move_a(spi, PUB2, NULL) == 0);
	CHECK_EQ_U64(stats(&net.b).mobike_rr_sent, 1);
	CHECK_EQ_U64(net.b.nmoved, 1);
	mb = net.b.nmoved == 1 ? &net.b.moved[0] : NULL;
	/* one mark: the first Child SA's (the second had none, the third names no Child SA);
	 * A's inbound SPI is B's outbound */
	CHECK(mb && mb->nreceived == 1 && mb->received[0].spi == first_in &&
	      mb->received[0].seq == 100);
	CHECK(mb && mb->nchildren == 2 &&
	      (mb->child_spi_out[0] == first_in || mb->child_spi_out[1] == first_in));
	/* A's own move says nothing of that (it is the responder's to use) */
	CHECK(net.a.nmoved == 1 && net.a.moved[0].nreceived == 0);
	/* back to PUB1 (verified: no check): the new update's marks */
	CHECK(move_a(spi, PUB1, NULL) == 0);
	CHECK_EQ_U64(net.b.nmoved, 2);
	CHECK(net.b.nmoved == 2 && net.b.moved[1].nreceived == 1 &&
	      net.b.moved[1].received[0].seq == 100);
	t_net_free(&net);

	/* without the callback (a data path that has nothing to say): no marks */

	spi = setup(NULL);
	CHECK(spi != 0);
	CHECK(move_a(spi, PUB2, NULL) == 0);
	CHECK(net.b.nmoved == 1 && net.b.moved[0].nreceived == 0);
	t_net_free(&net);
}

/* --- 2. a newer move supersedes one under way (3.5) ----------------------------------------- */

static void test_superseded(void)
{
	uint64_t spi = setup(NULL);
	size_t max_outstanding = 0;
	uint32_t id1, id2;
	struct ike_sa_info ia, ib;

	printf("# a newer move supersedes the pending one\n");
	CHECK(spi != 0);
	net.hold = true;
	CHECK(move_a(spi, PUB2, NULL) == 0);
	CHECK_EQ_U64(net.nq, 1);
	/* Another move before any answer: the request in flight goes again from the newest
	 * address, the same request (one Message ID), not a second one. */
	CHECK(move_a(spi, PRIV, NULL) == 0);
	CHECK_EQ_U64(net.nq, 2);
	id1 = net.nq == 2 ? msg_id_of(&net.q[0], NULL) : 0;
	id2 = net.nq == 2 ? msg_id_of(&net.q[1], NULL) : 1;
	CHECK(id1 == id2 && net.q[0].len == net.q[1].len &&
	      memcmp(net.q[0].data, net.q[1].data, net.q[0].len) == 0);
	CHECK(ep_is(&net.q[0].from, PUB2, 4500) &&
	      ep_is(&net.q[1].from, T_NAT_PUBLIC, 4500 + T_NAT_PORT_OFF));
	/* Deliver in order; never more than one request of A outstanding (window 1, 2.3). */
	net.hold = false;
	for (int guard = 0; guard < 200 && net.nq; guard++) {
		uint32_t ids[64];
		size_t nids = 0;

		for (size_t i = 0; i < net.nq; i++) {
			bool req = false;
			uint32_t id = msg_id_of(&net.q[i], &req);
			bool seen = false;

			for (size_t k = 0; k < nids; k++)
				seen = seen || ids[k] == id;
			if (req && !seen)
				ids[nids++] = id;
		}
		if (nids > max_outstanding)
			max_outstanding = nids;
		t_step(&net);
	}
	CHECK_EQ_U64(max_outstanding, 1);
	/* A moved once, to the newest pair; B ends there too. */
	CHECK_EQ_U64(net.a.nmoved, 1);
	CHECK(net.a.nmoved == 1 && ep_is(&net.a.moved[0].sa.local, PRIV, 4500) &&
	      ep_is(&net.a.moved[0].old_local, PUB1, 4500));
	CHECK(net.b.nmoved >= 1 && ep_is(&net.b.moved[net.b.nmoved - 1].sa.remote, T_NAT_PUBLIC,
					   4500 + T_NAT_PORT_OFF));
	ia = info(&net.a, spi);
	ib = info(&net.b, spi);
	CHECK(ep_is(&ia.local, PRIV, 4500) && ia.nat_local && !ia.move_pending);
	CHECK(ep_is(&ib.remote, T_NAT_PUBLIC, 4500 + T_NAT_PORT_OFF) && ib.nat_remote);
	CHECK_EQ_U64(stats(&net.a).mobike_updates_sent, 2);
	CHECK_EQ_U64(net.a.nsa_up + net.b.nsa_up, 2);
	t_net_free(&net);
}

/* --- 3. deferral ---------------------------------------------------------------------------- */

static void dpd_both(void)
{
	net.a.peers[0].dpd_interval_s = 30;
	net.b.peers[0].dpd_interval_s = 30;
}

static void test_deferral(void)
{
	uint64_t spi = setup(dpd_both);
	size_t sent;
	struct ike_sa_info ia, ib;

	printf("# no address works: defer, then resume\n");
	CHECK(spi != 0);
	kill_addr(PUB1);
	CHECK(move_a(spi, NULL, NULL) == 0);
	ia = info(&net.a, spi);
	CHECK(ia.deferred);
	CHECK(ike_engine_next_timer(net.a.e) == IKE_TIME_NEVER);
	CHECK(ike_engine_probe_paths(net.a.e, spi, net.now, net.a.act) == -EAGAIN);
	/* Four minutes: A sends nothing and lives; B's liveness checks to the dead address go
	 * on (3.11: at least five minutes) and B lives too. */
	sent = net.a.sent;
	t_advance(&net, MM_SEC(240));
	CHECK_EQ_U64(net.a.sent, sent);
	CHECK_EQ_U64(net.a.nsa_down, 0);
	CHECK_EQ_U64(net.b.nsa_down, 0);
	CHECK(stats(&net.b).retransmits > 6);
	/* An order queued meanwhile waits too. */
	CHECK(ike_engine_dpd(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	CHECK_EQ_U64(net.a.sent, sent);
	/* Resume from PUB2. */
	CHECK(move_a(spi, PUB2, NULL) == 0);
	t_advance(&net, MM_SEC(5));
	CHECK_EQ_U64(net.a.nmoved, 1);
	CHECK_EQ_U64(net.b.nmoved, 1);
	ia = info(&net.a, spi);
	ib = info(&net.b, spi);
	CHECK(!ia.deferred && ep_is(&ia.local, PUB2, 4500) && ep_is(&ib.remote, PUB2, 4500));
	/* And it stays up with liveness checks both ways. */
	t_advance(&net, MM_SEC(400));
	CHECK_EQ_U64(net.a.nsa_down + net.b.nsa_down, 0);
	CHECK_EQ_U64(t_count_sas(net.a.e, "ESTABLISHED"), 1);
	/* Deleting while deferred: nothing can be sent, the SA just goes. */
	CHECK(move_a(spi, NULL, NULL) == 0);
	sent = net.a.sent;
	CHECK(ike_engine_delete(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	CHECK_EQ_U64(net.a.nsa_down, 1);
	CHECK(net.a.nsa_down == 1 && strstr(net.a.down_reason[0], "no usable address"));
	CHECK_EQ_U64(net.a.sent, sent);
	t_net_free(&net);
}

/* --- 4. path testing (3.10) ------------------------------------------------------------------- */

static bool sent_is(size_t i, const char *src, const char *dst)
{
	return i < world.nsent && world.sent[i].src.s_addr == ip(src).s_addr &&
	       world.sent[i].dst.s_addr == ip(dst).s_addr;
}

static void test_path_testing(void)
{
	uint64_t spi = setup(NULL);
	size_t mark;
	struct ike_sa_info ia, ib;

	printf("# path testing: the first path dies, the second pair answers\n");
	CHECK(spi != 0);
	kill_addr(PUB1);
	mark = world.nsent;
	CHECK(ike_engine_dpd(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	t_run(&net);
	/* Two sends on the dead path, then every pair: (PUB1, GW2), (PUB2, GW1), (PUB2, GW2),
	 * and the failing (PUB1, GW1) last. */
	t_advance(&net, MM_SEC(4));
	CHECK(sent_is(mark, PUB1, GW1) && sent_is(mark + 1, PUB1, GW1));
	CHECK(sent_is(mark + 2, PUB1, GW2) && sent_is(mark + 3, PUB2, GW1) &&
	      sent_is(mark + 4, PUB2, GW2) && sent_is(mark + 5, PUB1, GW1));
	CHECK(stats(&net.a).mobike_probes >= 4);
	/* The first pair that answered is the new path. */
	CHECK_EQ_U64(net.a.nmoved, 1);
	CHECK_EQ_U64(net.b.nmoved, 1);
	ia = info(&net.a, spi);
	ib = info(&net.b, spi);
	CHECK(ep_is(&ia.local, PUB2, 4500) && ep_is(&ia.remote, GW1, 4500) && !ia.probing);
	CHECK(ep_is(&ib.remote, PUB2, 4500));
	CHECK(net.a.nmoved == 1 && net.a.moved[0].took >= MM_SEC(3));
	CHECK_EQ_U64(net.a.nsa_down, 0);

	/* The daemon says the path failed (PUB2 gone): a liveness check on every pair at once,
	 * the failing pair last. */
	world.ndead = 0;
	kill_addr(PUB2);
	mark = world.nsent;
	CHECK(ike_engine_probe_paths(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	t_run(&net);
	CHECK(sent_is(mark, PUB1, GW1) && sent_is(mark + 1, PUB1, GW2) &&
	      sent_is(mark + 2, PUB2, GW2) && sent_is(mark + 3, PUB2, GW1));
	CHECK_EQ_U64(net.a.nmoved, 2);
	ia = info(&net.a, spi);
	ib = info(&net.b, spi);
	CHECK(ep_is(&ia.local, PUB1, 4500) && ep_is(&ia.remote, GW1, 4500));
	CHECK(ep_is(&ib.remote, PUB1, 4500));
	CHECK(ike_engine_probe_paths(net.b.e, spi, net.now, net.b.act) == -EPERM);
	t_net_free(&net);
}

/* --- 4b. path testing with one test pair (3.10) --------------------------------------------- */

static void gw1_only(void)
{
	net.b.cfg.nlocal_addrs = 1;          /* B's address set: GW1 alone */
}

/* The SEND actions of A's batch, (local, remote) each; then the batch is carried out. */
static size_t a_sends(struct ike_endpoint *l, struct ike_endpoint *r, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < net.a.act->n; i++) {
		const struct ike_action *x = &net.a.act->a[i];

		if (x->kind != IKE_ACT_SEND)
			continue;
		if (n < max) {
			l[n] = x->u.send.local;
			r[n] = x->u.send.remote;
		}
		n++;
	}
	t_collect(&net, &net.a);
	return n;
}

/* A's next timer (a retransmission here): its sends. */
static size_t a_timer_sends(struct ike_endpoint *l, struct ike_endpoint *r, size_t max)
{
	mm_time_ns t = ike_engine_next_timer(net.a.e);

	if (t == IKE_TIME_NEVER)
		return 0;
	if (t > net.now)
		net.now = t;
	ike_engine_timer(net.a.e, net.now, net.a.act);
	return a_sends(l, r, max);
}

/* A's local address set becomes `addr` alone (PUB1, the SA's, gone unless named). */
static void a_local_only(const char *addr)
{
	struct in_addr a = ip(addr);

	CHECK(ike_engine_set_local_addresses(net.a.e, &a, 1, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
}

/* A liveness check on the (dead) current path, unanswered until A tests paths by itself:
 * the first send of the test (the third send, 3.10) goes where sends[] comes back. */
static size_t auto_test_sends(uint64_t spi, struct ike_endpoint *l, struct ike_endpoint *r,
			      size_t max)
{
	size_t n;

	CHECK(ike_engine_dpd(net.a.e, spi, net.now, net.a.act) == 0);
	n = a_sends(l, r, max);
	CHECK(n == 1 && ep_is(&l[0], PUB1, 4500) && ep_is(&r[0], GW1, 4500));
	t_run(&net);
	n = a_timer_sends(l, r, max);
	CHECK(n == 1 && ep_is(&l[0], PUB1, 4500) && ep_is(&r[0], GW1, 4500));
	t_run(&net);
	return a_timer_sends(l, r, max);
}

static void test_one_pair(void)
{
	struct ike_endpoint l[8], r[8];
	uint64_t spi;
	size_t n;

	printf("# path testing with one alternative pair, two, and the current pair alone\n");
	/* (a) One alternative, the daemon says the path failed: PUB1 is gone, A has PUB2 only,
	 * B has GW1 only: the single pair to test is (PUB2, GW1), never the dead (PUB1, GW1). */
	spi = setup(gw1_only);
	CHECK(spi != 0);
	CHECK_EQ_U64(info(&net.a, spi).npeer_addrs, 1);
	kill_addr(PUB1);
	a_local_only(PUB2);
	CHECK(ike_engine_probe_paths(net.a.e, spi, net.now, net.a.act) == 0);
	n = a_sends(l, r, 8);
	CHECK_EQ_U64(n, 1);
	CHECK(n == 1 && ep_is(&l[0], PUB2, 4500) && ep_is(&r[0], GW1, 4500));
	CHECK_EQ_U64(stats(&net.a).mobike_probes, 1);
	t_run(&net);
	/* It answered: that pair is the path now (UPDATE_SA_ADDRESSES, return routability). */
	CHECK_EQ_U64(net.a.nmoved, 1);
	CHECK_EQ_U64(net.b.nmoved, 1);
	CHECK(ep_is(&infop(&net.a, spi)->local, PUB2, 4500) && !infop(&net.a, spi)->probing);
	CHECK(ep_is(&infop(&net.b, spi)->remote, PUB2, 4500));
	t_net_free(&net);

	/* (b) The same, found by A itself after two unanswered sends. */
	spi = setup(gw1_only);
	CHECK(spi != 0);
	kill_addr(PUB1);
	a_local_only(PUB2);
	n = auto_test_sends(spi, l, r, 8);
	CHECK_EQ_U64(n, 1);
	CHECK(n == 1 && ep_is(&l[0], PUB2, 4500) && ep_is(&r[0], GW1, 4500));
	CHECK(infop(&net.a, spi)->probing);
	t_run(&net);
	CHECK_EQ_U64(net.a.nmoved, 1);
	CHECK(ep_is(&infop(&net.a, spi)->local, PUB2, 4500));
	CHECK(ep_is(&infop(&net.b, spi)->remote, PUB2, 4500));
	CHECK_EQ_U64(net.a.nsa_down + net.b.nsa_down, 0);
	t_net_free(&net);

	/* (c) Two alternatives (B announces GW1 and GW2): both, in B's order, not the dead
	 * pair (PUB1 is no address of A's any more). */
	spi = setup(NULL);
	CHECK(spi != 0);
	kill_addr(PUB1);
	a_local_only(PUB2);
	CHECK(ike_engine_probe_paths(net.a.e, spi, net.now, net.a.act) == 0);
	n = a_sends(l, r, 8);
	CHECK_EQ_U64(n, 2);
	CHECK(n == 2 && ep_is(&l[0], PUB2, 4500) && ep_is(&r[0], GW1, 4500) &&
	      ep_is(&l[1], PUB2, 4500) && ep_is(&r[1], GW2, 4500));
	t_run(&net);
	CHECK(ep_is(&infop(&net.a, spi)->local, PUB2, 4500) &&
	      ep_is(&infop(&net.a, spi)->remote, GW1, 4500));
	t_net_free(&net);
	/* ... and found by A itself. */
	spi = setup(NULL);
	CHECK(spi != 0);
	kill_addr(PUB1);
	a_local_only(PUB2);
	n = auto_test_sends(spi, l, r, 8);
	CHECK_EQ_U64(n, 2);
	CHECK(n == 2 && ep_is(&l[0], PUB2, 4500) && ep_is(&r[0], GW1, 4500) &&
	      ep_is(&l[1], PUB2, 4500) && ep_is(&r[1], GW2, 4500));
	t_run(&net);
	CHECK(ep_is(&infop(&net.b, spi)->remote, PUB2, 4500));
	t_net_free(&net);

	/* (d) One alternative next to the current pair (A has PUB1 and PUB2, B GW1 alone): the
	 * alternative first, the current pair last (3.10: it may come back). */
	spi = setup(gw1_only);
	CHECK(spi != 0);
	kill_addr(PUB1);
	n = auto_test_sends(spi, l, r, 8);
	CHECK_EQ_U64(n, 2);
	CHECK(n == 2 && ep_is(&l[0], PUB2, 4500) && ep_is(&r[0], GW1, 4500) &&
	      ep_is(&l[1], PUB1, 4500) && ep_is(&r[1], GW1, 4500));
	t_run(&net);
	CHECK(ep_is(&infop(&net.a, spi)->local, PUB2, 4500));
	t_net_free(&net);

	/* (e) The current pair is the only one (A has PUB1 alone, B GW1): it is the one tested,
	 * and it answers: no move. */
	spi = setup(gw1_only);
	CHECK(spi != 0);
	a_local_only(PUB1);
	CHECK(ike_engine_probe_paths(net.a.e, spi, net.now, net.a.act) == 0);
	n = a_sends(l, r, 8);
	CHECK_EQ_U64(n, 1);
	CHECK(n == 1 && ep_is(&l[0], PUB1, 4500) && ep_is(&r[0], GW1, 4500));
	t_run(&net);
	CHECK_EQ_U64(net.a.nmoved + net.b.nmoved, 0);
	CHECK(!infop(&net.a, spi)->probing && ep_is(&infop(&net.a, spi)->local, PUB1, 4500));
	/* Dead, with nothing else to try: every retransmission stays on it. */
	kill_addr(PUB1);
	n = auto_test_sends(spi, l, r, 8);
	CHECK(n == 1 && ep_is(&l[0], PUB1, 4500) && ep_is(&r[0], GW1, 4500));
	t_net_free(&net);
}

/* --- 5. NO_NATS_ALLOWED (3.9) --------------------------------------------------------------- */

static void no_nats(void)
{
	net.a.peers[0].mobike_no_nats = true;
}

static void test_no_nats(void)
{
	uint64_t spi = setup(no_nats);
	struct ike_sa_info ia, ib;

	printf("# NO_NATS_ALLOWED and a NAT: UNEXPECTED_NAT_DETECTED, no move\n");
	CHECK(spi != 0);
	log_capture();
	CHECK(move_a(spi, PRIV, NULL) == 0);
	CHECK_EQ_U64(net.a.nmoved + net.b.nmoved, 0);
	CHECK_EQ_U64(net.a.nfailed, 1);
	CHECK(net.a.nfailed == 1 && net.a.failed[0].refusal == IKE_N_UNEXPECTED_NAT_DETECTED &&
	      ep_is(&net.a.failed[0].tried_local, PRIV, 4500) &&
	      ep_is(&net.a.failed[0].sa.local, PUB1, 4500));
	/* 3.9: retried with new requests before giving up. */
	CHECK_EQ_U64(stats(&net.b).mobike_updates_rx, 3);
	CHECK_EQ_U64(stats(&net.b).mobike_updates_refused, 3);
	CHECK(logged("NO_NATS_ALLOWED that does not match", "UNEXPECTED_NAT_DETECTED"));
	log_release();
	ia = info(&net.a, spi);
	ib = info(&net.b, spi);
	CHECK(ep_is(&ia.local, PUB1, 4500) && !ia.move_pending && ep_is(&ib.remote, PUB1, 4500));
	/* Without a NAT the same setting moves. */
	CHECK(move_a(spi, PUB2, NULL) == 0);
	CHECK_EQ_U64(net.a.nmoved, 1);
	CHECK_EQ_U64(net.b.nmoved, 1);
	t_net_free(&net);
}

/* --- 6. policy refusal ---------------------------------------------------------------------- */

static void only_198_51_100(void)
{
	struct policy_mobike_cfg *p = &net.b.peers[0].mobike_policy;

	policy_prefix4_parse("198.51.100.0/24", &p->allowed[0]);
	p->nallowed = 1;
}

static void test_refusal(void)
{
	uint64_t spi = setup(only_198_51_100);
	struct ike_sa_info ib;

	printf("# policy refusal: UNACCEPTABLE_ADDRESSES, no move\n");
	CHECK(spi != 0);
	log_capture();
	CHECK(move_a(spi, PUB2, NULL) == 0);
	CHECK_EQ_U64(net.a.nmoved + net.b.nmoved, 0);
	CHECK_EQ_U64(net.a.nfailed, 1);
	CHECK(net.a.nfailed == 1 && net.a.failed[0].refusal == IKE_N_UNACCEPTABLE_ADDRESSES &&
	      ep_is(&net.a.failed[0].tried_local, PUB2, 4500) &&
	      strstr(net.a.failed_text[0], "UNACCEPTABLE_ADDRESSES"));
	CHECK_EQ_U64(stats(&net.b).mobike_updates_refused, 1);
	CHECK(logged("refused: address outside the allowed prefixes", "UNACCEPTABLE_ADDRESSES"));
	log_release();
	ib = info(&net.b, spi);
	CHECK(ep_is(&ib.remote, PUB1, 4500));
	CHECK(ep_is(&infop(&net.a, spi)->local, PUB1, 4500));
	/* The NAT's public address is inside the prefix: that move is taken. */
	CHECK(move_a(spi, PRIV, NULL) == 0);
	CHECK_EQ_U64(net.b.nmoved, 1);
	CHECK_EQ_U64(net.a.nmoved, 1);
	t_net_free(&net);
}

/* --- 7-9. outside SK, replayed, bit-flipped ----------------------------------------------- */

static void deliver_to_b(const struct tpkt *p, const char *from, uint16_t port)
{
	struct ike_endpoint f = from ? ep(from, port) : p->from;

	ike_engine_input(net.b.e, p->data, p->len, &f, &p->to_ep, net.now, net.b.act);
	t_collect(&net, &net.b);
	t_run(&net);
}

static void test_forged_updates(void)
{
	uint64_t spi = setup(NULL), spi_r;
	struct tpkt cap, flip;
	struct ike_engine_stats before;
	struct ike_sa_info ib;
	size_t moved;

	printf("# UPDATE_SA_ADDRESSES outside SK, replayed, bit-flipped\n");
	CHECK(spi != 0);
	spi_r = net.a.sa_up[0].spi_r;
	log_capture();

	/* Outside SK: an INFORMATIONAL with the SA's SPIs and the next Message ID, the notify
	 * in the clear (RFC 7296 1.4, 3.14: no SK, no deal). */
	{
		struct tpkt p;
		struct writer w;
		struct ike_builder b;
		struct ike_header h;
		size_t len = 0;

		memset(&p, 0, sizeof(p));
		memset(&h, 0, sizeof(h));
		h.spi_i = spi;
		h.spi_r = spi_r;
		h.exchange = IKE_EXCH_INFORMATIONAL;
		h.flags = IKE_FLAG_I;
		h.msg_id = info(&net.b, spi).msgid_in;
		writer_init(&w, p.data, sizeof(p.data));
		CHECK(ike_build_start(&b, &w, &h) == 0 &&
		      ike_notify_add(&b, IKE_N_UPDATE_SA_ADDRESSES, NULL, 0) == 0 &&
		      ike_build_finish(&b, &len) == 0);
		p.len = len;
		p.to_ep = ep(GW1, 4500);
		before = stats(&net.b);
		deliver_to_b(&p, EVIL, 4500);
		CHECK_EQ_U64(stats(&net.b).dropped_malformed, before.dropped_malformed + 1);
		CHECK_EQ_U64(stats(&net.b).mobike_updates_rx, 0);
		CHECK(logged("UPDATE_SA_ADDRESSES outside SK (MOBIKE)", NULL));
		/* Unknown SPIs: an unprotected INFORMATIONAL, only logged (1.5). */
		h.spi_r ^= 1;
		writer_init(&w, p.data, sizeof(p.data));
		CHECK(ike_build_start(&b, &w, &h) == 0 &&
		      ike_notify_add(&b, IKE_N_UPDATE_SA_ADDRESSES, NULL, 0) == 0 &&
		      ike_build_finish(&b, &len) == 0);
		p.len = len;
		deliver_to_b(&p, EVIL, 4500);
		CHECK(logged("unprotected UPDATE_SA_ADDRESSES", "MOBIKE acts only on"));
		CHECK_EQ_U64(net.b.nmoved, 0);
	}

	/* Bit-flipped: the integrity check fails, nothing moves; the genuine copy then does. */
	net.hold = true;
	CHECK(move_a(spi, PUB2, NULL) == 0);
	CHECK_EQ_U64(net.nq, 1);
	cap = net.q[0];
	t_lose(&net, 0);
	flip = cap;
	flip.data[flip.len - 20] ^= 0x04;
	before = stats(&net.b);
	deliver_to_b(&flip, NULL, 0);
	CHECK_EQ_U64(stats(&net.b).dropped_integrity, before.dropped_integrity + 1);
	CHECK_EQ_U64(net.b.nmoved, 0);
	CHECK_EQ_U64(net.nq, 0);
	net.hold = false;
	deliver_to_b(&cap, NULL, 0);
	CHECK_EQ_U64(net.b.nmoved, 1);
	CHECK_EQ_U64(net.a.nmoved, 1);
	moved = net.b.nmoved;

	/* Replayed at once from elsewhere (the last request: answered from the cache, 2.1),
	 * and later, after another exchange (an old Message ID: dropped). */
	before = stats(&net.b);
	deliver_to_b(&cap, EVIL, 4500);
	CHECK(logged("UPDATE_SA_ADDRESSES", "resending our response, no address change"));
	CHECK_EQ_U64(stats(&net.b).mobike_updates_rx, before.mobike_updates_rx);
	CHECK(ike_engine_dpd(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	t_run(&net);
	before = stats(&net.b);
	deliver_to_b(&cap, EVIL, 4500);
	CHECK_EQ_U64(stats(&net.b).dropped_replay, before.dropped_replay + 1);
	CHECK(logged("a replayed UPDATE_SA_ADDRESSES (MOBIKE), no address change", NULL));
	CHECK_EQ_U64(net.b.nmoved, moved);
	ib = info(&net.b, spi);
	CHECK(ep_is(&ib.remote, PUB2, 4500));
	log_release();
	t_net_free(&net);
}

/* --- 10. return routability failing (3.7) -------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Field k (0-based) of a key log line, hex-decoded. */
static size_t keylog_field(const char *line, int k, uint8_t *out, size_t cap)
{
	const char *p = line;
	size_t n = 0;

	for (int i = 0; i < k && p; i++) {
		p = strchr(p, ',');
		if (p)
			p++;
	}
	while (p && *p && *p != ',' && n < cap && hexval(p[0]) >= 0 && hexval(p[1]) >= 0) {
		out[n++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
		p += 2;
	}
	return n;
}

/* One direction's SK context from the key log (the SA's keys as Wireshark gets them). */
static bool sk_from_keylog(const char *line, bool from_initiator, bool outbound,
			   struct ike_sk_ctx *c)
{
	struct ike_suite s = ike_suite();
	struct ike_algs algs;
	uint8_t key[IKE_ENCR_MAX_KEYMAT_LEN];
	size_t len = keylog_field(line, from_initiator ? 2 : 3, key, sizeof(key));
	bool ok = ike_suite_resolve(&s, IKE_SUITE_IKE, &algs) == 0 && len == algs.encr_keymat_len &&
		  ike_sk_init(c, &algs, key, len, NULL, 0, outbound) == 0;

	OPENSSL_cleanse(key, sizeof(key));
	return ok;
}

/* B's COOKIE2 request to A (decrypted with the key log), its Message ID and cookie. */
static bool read_rr_request(const struct tpkt *p, const char *keyline, uint32_t *msg_id,
			    uint8_t *cookie, size_t *clen)
{
	static struct ike_msg m;
	static struct ike_chain inner;
	static uint8_t plain[IKE_MSG_MAX];
	struct ike_sk_ctx c;
	size_t plen = 0;
	bool found = false;

	memset(&c, 0, sizeof(c));
	if (ike_msg_parse(p->data, p->len, &m, NULL) < 0 || m.hdr.exchange != 37 ||
	    ike_hdr_is_response(&m.hdr) || !sk_from_keylog(keyline, false, false, &c))
		return false;
	if (ike_sk_unprotect(&c, p->data, p->len, m.sk.hdr_off, IKE_SK_ENCRYPTED, plain,
			     sizeof(plain), &plen) == 0 &&
	    ike_chain_parse(plain, plen, m.sk.inner_first, 0, true, &inner, NULL) == 0) {
		for (size_t i = 0; i < inner.count; i++) {
			struct ike_notify n;
			struct ike_blob b;

			if (inner.p[i].type == IKE_PT_NOTIFY &&
			    ike_notify_decode(&inner.p[i], &n) == 0 && n.type == IKE_N_COOKIE2 &&
			    ike_notify_cookie(&n, &b) == 0 && b.len <= IKE_COOKIE2_MAX) {
				memcpy(cookie, b.data, b.len);
				*clen = b.len;
				found = inner.count == 1;
			}
		}
	}
	*msg_id = m.hdr.msg_id;
	ike_sk_clear(&c);
	return found;
}

/* A's answer to it, made here with A's keys: HDR(I, R), SK {N(COOKIE2, cookie)}. */
static bool forge_answer(const char *keyline, uint64_t spi_i, uint64_t spi_r, uint32_t msg_id,
			 const uint8_t *cookie, size_t clen, struct tpkt *out)
{
	struct ike_sk_ctx c;
	struct writer w;
	struct ike_builder b;
	struct ike_sk_frame f;
	struct ike_header h;
	bool ok;

	memset(&c, 0, sizeof(c));
	if (!sk_from_keylog(keyline, true, true, &c))
		return false;
	ike_sk_set_next_iv(&c, UINT64_C(1) << 40);    /* not an IV A used */
	memset(&h, 0, sizeof(h));
	h.spi_i = spi_i;
	h.spi_r = spi_r;
	h.exchange = IKE_EXCH_INFORMATIONAL;
	h.flags = IKE_FLAG_I | IKE_FLAG_R;
	h.msg_id = msg_id;
	writer_init(&w, out->data, sizeof(out->data));
	ok = ike_build_start(&b, &w, &h) == 0 && ike_build_sk_begin(&b, IKE_PT_SK, 0, 0, 0) == 0 &&
	     ike_sk_protect_begin(&c, &w, b.start, b.sk_off, IKE_SK_ENCRYPTED, &f) == 0 &&
	     ike_notify_add(&b, IKE_N_COOKIE2, cookie, clen) == 0 && ike_build_sk_close(&b) == 0 &&
	     ike_sk_protect_end(&c, &w, &f) == 0;
	out->len = writer_len(&w);
	ike_sk_clear(&c);
	return ok;
}

/* Run until B's COOKIE2 request to A is at the head of the queue (hold mode). */
static bool until_rr_request(const char *keyline, uint32_t *msg_id, uint8_t *cookie,
			     size_t *clen)
{
	for (int guard = 0; guard < 50 && net.nq; guard++) {
		if (net.q[0].to == 0 && read_rr_request(&net.q[0], keyline, msg_id, cookie, clen))
			return true;
		t_step(&net);
	}
	return false;
}

static void test_rr_failures(void)
{
	uint64_t spi, spi_r;
	uint32_t id = 0;
	uint8_t cookie[IKE_COOKIE2_MAX];
	size_t clen = 0;
	struct tpkt p;
	struct ike_sa_info ib;
	char keyline[640];

	printf("# return routability: no answer, an answer from elsewhere, a wrong COOKIE2\n");
	/* (a) One-way path: nothing from B reaches PUB2. */
	spi = setup(NULL);
	CHECK(spi != 0);
	world.lost_to[world.nlost_to++] = ip(PUB2);
	CHECK(move_a(spi, PUB2, NULL) == 0);
	t_advance(&net, MM_SEC(20));
	CHECK(stats(&net.b).mobike_rr_failed >= 1);
	CHECK_EQ_U64(net.b.nmoved, 0);
	ib = info(&net.b, spi);
	CHECK(ep_is(&ib.remote, PUB1, 4500) && !ib.rr_pending);
	/* A found its way back to PUB1 by testing paths; nobody moved. */
	CHECK(ep_is(&infop(&net.a, spi)->local, PUB1, 4500));
	CHECK_EQ_U64(net.a.nsa_down + net.b.nsa_down, 0);
	t_net_free(&net);

	/* (b) The answer comes from another address than the one checked. */
	spi = setup(NULL);
	CHECK(spi != 0);
	snprintf(keyline, sizeof(keyline), "%s", net.a.keylog[0]);
	net.hold = true;
	CHECK(move_a(spi, PUB2, NULL) == 0);
	CHECK(until_rr_request(keyline, &id, cookie, &clen));
	CHECK(clen >= 8);
	t_step(&net);                         /* A answers it */
	for (size_t i = 0; i < net.nq; i++) {
		struct ike_header h;

		if (net.q[i].to == 1 && ike_hdr_parse(net.q[i].data, net.q[i].len, &h, NULL) == 0 &&
		    h.msg_id == id && ike_hdr_is_response(&h))
			net.q[i].from = ep(EVIL, 4500);
	}
	log_capture();
	net.hold = false;
	t_run(&net);
	CHECK(logged("return routability check of " PUB2, "answered from " EVIL));
	log_release();
	CHECK_EQ_U64(stats(&net.b).mobike_rr_failed, 1);
	CHECK_EQ_U64(net.b.nmoved, 0);
	CHECK(ep_is(&infop(&net.b, spi)->remote, PUB1, 4500));
	t_net_free(&net);

	/* (c) The right COOKIE2, made here with A's keys: B moves (the forger works) ... */
	spi = setup(NULL);
	CHECK(spi != 0);
	spi_r = net.a.sa_up[0].spi_r;
	snprintf(keyline, sizeof(keyline), "%s", net.a.keylog[0]);
	net.hold = true;
	CHECK(move_a(spi, PUB2, NULL) == 0);
	CHECK(until_rr_request(keyline, &id, cookie, &clen));
	t_lose(&net, 0);                      /* A never sees it */
	memset(&p, 0, sizeof(p));
	p.to = 1;
	p.to_ep = ep(GW1, 4500);
	CHECK(forge_answer(keyline, spi, spi_r, id, cookie, clen, &p));
	deliver_to_b(&p, PUB2, 4500);
	CHECK_EQ_U64(net.b.nmoved, 1);
	CHECK(ep_is(&infop(&net.b, spi)->remote, PUB2, 4500));
	t_net_free(&net);

	/* ... a wrong one: 3.7 "the IKE_SA MUST be closed"; nothing moves. */
	spi = setup(NULL);
	CHECK(spi != 0);
	spi_r = net.a.sa_up[0].spi_r;
	snprintf(keyline, sizeof(keyline), "%s", net.a.keylog[0]);
	net.hold = true;
	CHECK(move_a(spi, PUB2, NULL) == 0);
	CHECK(until_rr_request(keyline, &id, cookie, &clen));
	t_lose(&net, 0);
	cookie[0] ^= 0x80;
	memset(&p, 0, sizeof(p));
	p.to = 1;
	p.to_ep = ep(GW1, 4500);
	CHECK(forge_answer(keyline, spi, spi_r, id, cookie, clen, &p));
	deliver_to_b(&p, PUB2, 4500);
	CHECK_EQ_U64(net.b.nmoved, 0);
	CHECK_EQ_U64(net.b.nsa_down, 1);
	CHECK(net.b.nsa_down == 1 && strstr(net.b.down_reason[0], "COOKIE2") &&
	      ep_is(&net.b.sa_down[0].remote, PUB1, 4500));
	t_net_free(&net);
}

/* --- 11. no implicit updates (RFC 4621 5.2.6) ----------------------------------------------- */

static void test_no_implicit(void)
{
	uint64_t spi = setup(NULL);
	struct ike_engine_stats before;

	printf("# an IKE message from another source: no implicit move\n");
	CHECK(spi != 0);
	world.spoof = true;
	world.spoof_real = ip(PUB1);
	world.spoof_as = ip(EVIL);
	log_capture();
	before = stats(&net.a);
	CHECK(ike_engine_dpd(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	t_run(&net);
	t_advance(&net, MM_SEC(5));
	/* B answered where the request came from (so A's check completed at once) ... */
	CHECK_EQ_U64(stats(&net.a).retransmits, before.retransmits);
	CHECK(logged("MOBIKE: request", "no implicit address update"));
	log_release();
	/* ... and moved nothing. */
	CHECK(ep_is(&infop(&net.b, spi)->remote, PUB1, 4500));
	CHECK_EQ_U64(net.a.nmoved + net.b.nmoved, 0);
	t_net_free(&net);
}

/* --- 11b. who moves the SA's remote endpoint besides UPDATE_SA_ADDRESSES ------------------ */

static void b_behind_nat(void)
{
	world.b_shift = 1;                   /* B's IKE_SA_INIT answer shows a NAT (2.23) */
}

static void b_behind_nat_no_mobike(void)
{
	world.b_shift = 1;
	net.a.peers[0].mobike = net.b.peers[0].mobike = false;
}

static void both_behind_nat_no_mobike(void)
{
	b_behind_nat_no_mobike();
	net.a.addr = ip(PRIV);
}

static void a_behind_nat_no_mobike(void)
{
	net.a.peers[0].mobike = net.b.peers[0].mobike = false;
	net.a.addr = ip(PRIV);
}

static void test_remote_updates(void)
{
	uint64_t spi;
	struct ike_sa_info ia, ib;

	printf("# the SA's remote endpoint: by UPDATE_SA_ADDRESSES, or (no MOBIKE) RFC 7296 2.23 "
	       "with IKE_ACT_SA_MOVED\n");
	/* (a) MOBIKE, B behind a NAT whose IKE_AUTH answer comes from another port: A keeps the
	 * pair of its IKE_AUTH request (RFC 4555 3.3), in SA_UP and in ike_engine_next_sa(). */
	log_capture();
	spi = setup(b_behind_nat);
	CHECK(spi != 0);
	CHECK(net.a.nsa_up == 1 && net.a.sa_up[0].mobike && net.a.sa_up[0].nat_remote &&
	      ep_is(&net.a.sa_up[0].remote, GW1, 4500));
	CHECK(ep_is(&infop(&net.a, spi)->remote, GW1, 4500));
	CHECK(logged("IKE_AUTH answered from " GW1 ":4501", "RFC 4555 3.3"));
	log_release();
	/* Its next exchanges go there and are answered from 4501: still nothing moves. */
	CHECK(ike_engine_dpd(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	t_run(&net);
	CHECK(ep_is(&infop(&net.a, spi)->remote, GW1, 4500));
	CHECK_EQ_U64(net.a.nmoved + net.b.nmoved, 0);
	CHECK_EQ_U64(net.a.nsa_down + net.b.nsa_down, 0);
	t_net_free(&net);

	/* (b) The same without MOBIKE: A, not behind a NAT, follows B's NAT (2.23) before SA_UP
	 * (SA_UP says where) ... */
	spi = setup(b_behind_nat_no_mobike);
	CHECK(spi != 0);
	CHECK(net.a.nsa_up == 1 && !net.a.sa_up[0].mobike && net.a.sa_up[0].nat_remote &&
	      !net.a.sa_up[0].nat_local && ep_is(&net.a.sa_up[0].remote, GW1, 4501));
	CHECK_EQ_U64(net.a.nmoved, 0);
	/* ... and after it with IKE_ACT_SA_MOVED, so that what ike_engine_next_sa() shows is
	 * what the daemon was told. */
	world.b_shift = 2;                   /* B's NAT lost its mapping and made another */
	CHECK(ike_engine_dpd(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	t_run(&net);
	CHECK_EQ_U64(net.a.nmoved, 1);
	if (net.a.nmoved == 1) {
		const struct ike_move_info *m = &net.a.moved[0];

		CHECK(ep_is(&m->sa.remote, GW1, 4502) && ep_is(&m->old_remote, GW1, 4501) &&
		      ep_is(&m->sa.local, PUB1, 4500) && m->udp_encap && !m->sa.mobike);
		CHECK(children_ok(m, &net.a));
		CHECK(strstr(net.a.moved_text[0], GW1 ":4502") != NULL);
	}
	ia = info(&net.a, spi);
	CHECK(ep_is(&ia.remote, GW1, 4502) && ia.moves == 1);
	CHECK_EQ_U64(stats(&net.a).mobike_moves, 0);
	CHECK_EQ_U64(net.a.nsa_down + net.b.nsa_down, 0);
	t_net_free(&net);

	/* (c) A behind a NAT itself does not follow (2.23: "A host behind a NAT SHOULD NOT do
	 * this type of dynamic address update"). */
	spi = setup(both_behind_nat_no_mobike);
	CHECK(spi != 0);
	CHECK(net.a.nsa_up == 1 && net.a.sa_up[0].nat_local && net.a.sa_up[0].nat_remote &&
	      ep_is(&net.a.sa_up[0].remote, GW1, 4500));
	world.b_shift = 2;
	CHECK(ike_engine_dpd(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	t_run(&net);
	CHECK(ep_is(&infop(&net.a, spi)->remote, GW1, 4500));
	CHECK_EQ_U64(net.a.nmoved, 0);
	t_net_free(&net);

	/* (d) The gateway's case: the NAT'd initiator's mapping changes; without MOBIKE B follows
	 * (2.23) and says so; the Child SAs are listed. */
	spi = setup(a_behind_nat_no_mobike);
	CHECK(spi != 0);
	CHECK(net.b.nsa_up == 1 && ep_is(&net.b.sa_up[0].remote, T_NAT_PUBLIC,
					  4500 + T_NAT_PORT_OFF));
	world.nat_off = T_NAT_PORT_OFF + 1000;
	CHECK(ike_engine_dpd(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	t_run(&net);
	CHECK_EQ_U64(net.b.nmoved, 1);
	CHECK(net.b.nmoved == 1 &&
	      ep_is(&net.b.moved[0].sa.remote, T_NAT_PUBLIC, 4500 + T_NAT_PORT_OFF + 1000) &&
	      ep_is(&net.b.moved[0].old_remote, T_NAT_PUBLIC, 4500 + T_NAT_PORT_OFF) &&
	      children_ok(&net.b.moved[0], &net.b));
	ib = info(&net.b, spi);
	CHECK(ep_is(&ib.remote, T_NAT_PUBLIC, 4500 + T_NAT_PORT_OFF + 1000));
	CHECK_EQ_U64(net.a.nmoved, 0);
	t_net_free(&net);
}

/* --- 12. the gateway's address set changes (3.5, 3.6) ------------------------------------- */

static void test_gateway_addresses(void)
{
	uint64_t spi = setup(NULL);
	struct in_addr gw2 = ip(GW2);
	struct ike_sa_info ia, ib;

	printf("# the gateway gives up GW1: the initiator moves to GW2\n");
	CHECK(spi != 0);
	kill_addr(GW1);
	CHECK(ike_engine_set_local_addresses(net.b.e, &gw2, 1, net.now, net.b.act) == 0);
	t_collect(&net, &net.b);
	t_run(&net);
	CHECK_EQ_U64(net.a.npeer_addrs, 1);
	CHECK(net.a.npeer_addrs == 1 && net.a.peer_addrs[0].npeer_addrs == 1 &&
	      net.a.peer_addrs[0].peer_addrs[0].s_addr == gw2.s_addr);
	CHECK_EQ_U64(net.a.nmoved, 1);
	CHECK_EQ_U64(net.b.nmoved, 1);
	ia = info(&net.a, spi);
	ib = info(&net.b, spi);
	CHECK(ep_is(&ia.remote, GW2, 4500) && ep_is(&ia.local, PUB1, 4500));
	CHECK(ep_is(&ib.local, GW2, 4500) && ep_is(&ib.remote, PUB1, 4500));
	/* No RR: A's address did not change. */
	CHECK_EQ_U64(stats(&net.b).mobike_rr_sent, 0);
	CHECK(ike_engine_set_local_addresses(net.b.e, NULL, IKE_MOBIKE_MAX_ADDRS + 1, net.now,
					     net.b.act) == -EINVAL);
	t_net_free(&net);
}

/* --- 13. an IKE SA rekey by the responder keeps MOBIKE ------------------------------------ */

static void test_rekey(void)
{
	uint64_t spi = setup(NULL), nspi = 0;

	printf("# IKE SA rekeyed by the responder, then a move\n");
	CHECK(spi != 0);
	CHECK(ike_engine_rekey_ike(net.b.e, spi, net.now, net.b.act) == 0);
	t_collect(&net, &net.b);
	t_run(&net);
	CHECK_EQ_U64(net.a.nsa_up, 2);
	if (net.a.nsa_up == 2) {
		nspi = net.a.sa_up[1].spi_i;
		/* The I flag went to B (2.18); A still decides the addresses (3.5). */
		CHECK(net.a.sa_up[1].role == IKE_ROLE_RESPONDER && net.a.sa_up[1].mobike_initiator);
		CHECK_EQ_U64(net.a.sa_up[1].npeer_addrs, 2);
	}
	CHECK(move_a(nspi, PUB2, NULL) == 0);
	CHECK_EQ_U64(net.a.nmoved, 1);
	CHECK_EQ_U64(net.b.nmoved, 1);
	CHECK(net.b.nmoved == 1 && net.b.moved[0].sa.spi_i == nspi &&
	      ep_is(&net.b.moved[0].sa.remote, PUB2, 4500) && children_ok(&net.b.moved[0], &net.b));
	CHECK(ike_engine_update_addresses(net.b.e, nspi, NULL, NULL, net.now, net.b.act) == -EPERM);
	t_net_free(&net);
}

/* --- 14. a new NAT mapping (3.8) ------------------------------------------------------------ */

static void test_nat_mapping(void)
{
	uint64_t spi = setup(NULL);
	size_t moved_a;

	printf("# the NAT mapping changes: seen in a liveness check, updated\n");
	CHECK(spi != 0);
	CHECK(move_a(spi, PRIV, NULL) == 0);
	CHECK(ep_is(&infop(&net.b, spi)->remote, T_NAT_PUBLIC, 4500 + T_NAT_PORT_OFF));
	moved_a = net.a.nmoved;
	world.nat_off = T_NAT_PORT_OFF + 1000;       /* the NAT rebooted */
	CHECK(ike_engine_dpd(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	t_run(&net);
	/* B followed only because A sent UPDATE_SA_ADDRESSES (no return routability: same
	 * address, new port). */
	CHECK(ep_is(&infop(&net.b, spi)->remote, T_NAT_PUBLIC, 4500 + T_NAT_PORT_OFF + 1000));
	CHECK_EQ_U64(stats(&net.a).mobike_updates_sent, 2);
	CHECK_EQ_U64(net.a.nmoved, moved_a);          /* A's own view did not change */
	CHECK(net.b.nmoved >= 2 &&
	      ep_is(&net.b.moved[net.b.nmoved - 1].old_remote, T_NAT_PUBLIC,
		    4500 + T_NAT_PORT_OFF));
	t_net_free(&net);
}

/* --- 15. errors ---------------------------------------------------------------------------- */

static void no_mobike_at_b(void)
{
	net.b.peers[0].mobike = false;
}

static void test_errors(void)
{
	uint64_t spi = setup(no_mobike_at_b);
	struct ike_endpoint l = ep(PUB2, 4500);

	printf("# error returns\n");
	CHECK(spi != 0);
	CHECK(!net.a.sa_up[0].mobike);
	CHECK(ike_engine_update_addresses(net.a.e, spi, &l, NULL, net.now, net.a.act) ==
	      -EOPNOTSUPP);
	CHECK(ike_engine_probe_paths(net.a.e, spi, net.now, net.a.act) == -EOPNOTSUPP);
	CHECK(ike_engine_update_addresses(net.a.e, spi ^ 1, &l, NULL, net.now, net.a.act) ==
	      -ENOENT);
	CHECK(ike_engine_update_addresses(NULL, spi, &l, NULL, net.now, net.a.act) == -EINVAL);
	t_net_free(&net);
	spi = setup(NULL);
	l = ep("224.0.0.1", 4500);
	CHECK(ike_engine_update_addresses(net.a.e, spi, &l, NULL, net.now, net.a.act) == -EINVAL);
	CHECK(ike_engine_update_addresses(net.b.e, spi, &l, NULL, net.now, net.b.act) == -EPERM);
	t_net_free(&net);
}

/* --- round-trip samples (sa.h: rtt; the gateway's handover replay starts from them) -------- */

static void hold_on(void)
{
	net.hold = true;
}

static void test_rtt_samples(void)
{
	uint64_t spi;
	mm_time_ns t;

	printf("# round-trip samples: 25 ms each way, Karn's rule\n");
	/* Held: the exchanges by hand, every datagram 25 ms on the wire. */
	CHECK_EQ_U64(setup(hold_on), 0);
	CHECK_EQ_U64(net.nq, 1);
	for (int i = 0; i < 4; i++) {
		net.now += MM_MSEC(25);
		CHECK(t_step(&net));
	}
	net.hold = false;
	t_run(&net);
	CHECK(net.a.nsa_up == 1 && net.b.nsa_up == 1);
	if (net.a.nsa_up != 1 || net.b.nsa_up != 1)
		return;
	spi = net.a.sa_up[0].spi_i;
	/* A: IKE_SA_INIT and IKE_AUTH each answered after 50 ms; B: its IKE_SA_INIT answer
	 * to the IKE_AUTH request, 50 ms. Both known at SA_UP already. */
	CHECK_EQ_U64(net.a.sa_up[0].rtt, MM_MSEC(50));
	CHECK_EQ_U64(net.b.sa_up[0].rtt, MM_MSEC(50));
	CHECK_EQ_U64(info(&net.b, spi).rtt, MM_MSEC(50));

	/* A liveness check answered after 2 x 10 ms: the newest sample wins. */
	net.hold = true;
	CHECK(ike_engine_dpd(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	for (int i = 0; i < 2; i++) {
		net.now += MM_MSEC(10);
		CHECK(t_step(&net));
	}
	CHECK_EQ_U64(info(&net.a, spi).rtt, MM_MSEC(20));

	/* Lost once, answered after the retransmission: no sample (which send was answered
	 * is unknown). */
	CHECK(ike_engine_dpd(net.a.e, spi, net.now, net.a.act) == 0);
	t_collect(&net, &net.a);
	CHECK_EQ_U64(net.nq, 1);
	t_lose(&net, 0);
	t = ike_engine_next_timer(net.a.e);
	CHECK(t > net.now && t != IKE_TIME_NEVER);
	net.now = t;
	ike_engine_timer(net.a.e, net.now, net.a.act);
	t_collect(&net, &net.a);
	CHECK_EQ_U64(net.nq, 1);
	for (int i = 0; i < 2; i++) {
		net.now += MM_MSEC(1);
		CHECK(t_step(&net));
	}
	CHECK_EQ_U64(net.nq, 0);
	CHECK_EQ_U64(info(&net.a, spi).rtt, MM_MSEC(20));
	net.hold = false;
}

int main(void)
{
	t_log_setup();
	test_moves();
	test_esp_received();
	test_superseded();
	test_deferral();
	test_path_testing();
	test_one_pair();
	test_no_nats();
	test_refusal();
	test_forged_updates();
	test_rr_failures();
	test_no_implicit();
	test_remote_updates();
	test_gateway_addresses();
	test_rekey();
	test_nat_mapping();
	test_errors();
	test_rtt_samples();
	t_free_actions(&net);
	return tap_done();
}
