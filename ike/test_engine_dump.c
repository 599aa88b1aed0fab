/* Writes real exchanges between two engines for the Wireshark cross-check (tshark_decrypt.py):
 *
 *	test_engine_dump DIR
 *
 * DIR/wire.txt: one datagram per line, "SRC SPORT DST DPORT HEX" (the IKE message without the
 * non-ESP marker); DIR/keys.txt: the engines' KEYLOG lines (Wireshark's ikev2_decryption_table
 * format, keylog.h). Runs, each with its own SPIs:
 *  1. AES-GCM-16-128 / PRF-SHA2-256 / ECP-256: IKE_SA_INIT, IKE_AUTH (PSK, CP, TS), a Child SA
 *     rekey with PFS (CREATE_CHILD_SA), the DELETE of the old Child SA, a liveness check, an
 *     IKE SA rekey, the DELETE of the old IKE SA, a DELETE of the new one (INFORMATIONAL);
 *  2. AES-CBC-256 + HMAC-SHA2-256-128 / PRF-SHA2-384 / MODP-2048 behind a NAT (port 4500);
 *  3. AES-GCM-16-256 / PRF-SHA2-384 / Curve25519;
 *  4. MOBIKE (RFC 4555), AES-GCM-16-128 / PRF-SHA2-256 / Curve25519: the gateway announces a
 *     second address in IKE_AUTH (ADDITIONAL_IP4_ADDRESS); the initiator moves to another
 *     address (UPDATE_SA_ADDRESSES with NAT_DETECTION_*, COOKIE2 and NO_NATS_ALLOWED; the
 *     gateway's return routability check with COOKIE2), tries a move behind a NAT
 *     (UNEXPECTED_NAT_DETECTED, three times) and one the gateway's policy refuses
 *     (UNACCEPTABLE_ADDRESSES); the gateway gives up its first address
 *     (NO_ADDITIONAL_ADDRESSES) and the initiator follows it.
 */
#include "ike/test_engine_util.h"

#include "ike/transform.h"

static struct tnet net;

static void write_run(FILE *wire, FILE *keys, const struct tnet *n);

/* Run 4's network: A's 10.0.0.2 is behind a NAT (T_NAT_PUBLIC, port + T_NAT_PORT_OFF). */
static bool mobike_net(struct tnet *n, int to, struct ike_endpoint *from,
		       struct ike_endpoint *dst)
{
	struct in_addr priv, pub;

	(void)n;
	inet_pton(AF_INET, "10.0.0.2", &priv);
	inet_pton(AF_INET, T_NAT_PUBLIC, &pub);
	if (to == 1 && from->addr.s_addr == priv.s_addr) {
		from->addr = pub;
		from->port = (uint16_t)(from->port + T_NAT_PORT_OFF);
	} else if (to == 0 && dst->addr.s_addr == pub.s_addr) {
		dst->addr = priv;
		dst->port = (uint16_t)(dst->port - T_NAT_PORT_OFF);
	}
	return true;
}

static int mobike_move(uint64_t spi, const char *local)
{
	struct ike_endpoint l = { { 0 }, 4500 };
	int err;

	inet_pton(AF_INET, local, &l.addr);
	err = ike_engine_update_addresses(net.a.e, spi, &l, NULL, net.now, net.a.act);
	t_collect(&net, &net.a);
	t_run(&net);
	return err;
}

static int run_mobike(FILE *wire, FILE *keys)
{
	struct tnet *n = &net;
	struct in_addr gw2;
	uint64_t spi;
	int err = 0;

	t_net_init(n, false);
	n->a.rng ^= 4;
	n->b.rng ^= 4;
	n->record = true;
	n->net_fn = mobike_net;
	inet_pton(AF_INET, "198.51.100.10", &n->a.addr);
	inet_pton(AF_INET, "192.0.2.5", &gw2);
	t_peers_psk(n, t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256,
			       IKE_DH_CURVE25519, 0),
		    t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, 0, 0));
	n->a.peers[0].mobike = n->b.peers[0].mobike = true;
	n->a.peers[0].mobike_no_nats = true;
	policy_prefix4_parse("198.51.100.0/24", &n->b.peers[0].mobike_policy.allowed[0]);
	n->b.peers[0].mobike_policy.nallowed = 1;
	n->b.cfg.local_addrs[0] = n->b.addr;
	n->b.cfg.local_addrs[1] = gw2;
	n->b.cfg.nlocal_addrs = 2;
	n->b.cfg.announce_addresses = true;
	if (t_start_engines(n) < 0)
		return -1;
	spi = t_initiate(n, 0);
	if (!spi || n->a.nup != 1)
		err = -1;
	/* Another address of the same network: moved after the return routability check. */
	if (!err && (mobike_move(spi, "198.51.100.20") < 0 || n->a.nmoved != 1 ||
		     n->b.nmoved != 1))
		err = -1;
	/* Behind the NAT, with NO_NATS_ALLOWED: refused three times. */
	if (!err && (mobike_move(spi, "10.0.0.2") < 0 || n->a.nfailed != 1))
		err = -1;
	/* Outside the gateway's allowed prefix: UNACCEPTABLE_ADDRESSES. */
	if (!err && (mobike_move(spi, "203.0.113.20") < 0 || n->a.nfailed != 2))
		err = -1;
	/* The gateway keeps only its second address: the initiator follows. */
	if (!err) {
		err = ike_engine_set_local_addresses(n->b.e, &gw2, 1, n->now, n->b.act);
		t_collect(n, &n->b);
		t_run(n);
		if (n->a.nmoved != 2 || n->b.nmoved != 2)
			err = -1;
	}
	write_run(wire, keys, n);
	t_net_free(n);
	return err ? -1 : 0;
}

static void write_run(FILE *wire, FILE *keys, const struct tnet *n)
{
	for (size_t i = 0; i < n->nwire; i++) {
		const struct twire *w = &n->wire[i];
		char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &w->src, s, sizeof(s));
		inet_ntop(AF_INET, &w->dst, d, sizeof(d));
		fprintf(wire, "%s %u %s %u ", s, w->sport, d, w->dport);
		for (size_t k = 0; k < w->len; k++)
			fprintf(wire, "%02x", w->data[k]);
		fprintf(wire, "\n");
	}
	/* Each SA's line once (both sides log the same keys). */
	for (size_t i = 0; i < n->a.nkeylog; i++)
		fprintf(keys, "%s\n", n->a.keylog[i]);
}

static int run(FILE *wire, FILE *keys, struct ike_suite ike, struct ike_suite esp, bool nat,
	       uint64_t seed, bool full)
{
	struct tnet *n = &net;
	uint64_t spi, nspi;
	int err = 0;

	t_net_init(n, nat);
	n->a.rng ^= seed;
	n->b.rng ^= seed;
	n->record = true;
	t_peers_psk(n, ike, esp);
	if (t_start_engines(n) < 0)
		return -1;
	spi = t_initiate(n, 0);
	if (!spi || n->a.nup != 1)
		err = -1;
	if (!err && full) {
		/* Child SA rekey (with PFS when the ESP suite has a group), its DELETE. */
		err |= ike_engine_rekey_child(n->a.e, spi, n->a.up[0].spi_in, n->now, n->a.act);
		t_collect(n, &n->a);
		t_run(n);
		/* Liveness check from the responder. */
		err |= ike_engine_dpd(n->b.e, spi, n->now, n->b.act);
		t_collect(n, &n->b);
		t_run(n);
		/* IKE SA rekey by the responder, then the old SA's DELETE. */
		err |= ike_engine_rekey_ike(n->b.e, spi, n->now, n->b.act);
		t_collect(n, &n->b);
		t_run(n);
		nspi = n->a.nsa_up == 2 ? n->a.sa_up[1].spi_i : 0;
		if (!nspi)
			err = -1;
		/* The new SA ends with a DELETE from the initiator. */
		if (nspi) {
			err |= ike_engine_delete(n->a.e, nspi, n->now, n->a.act);
			t_collect(n, &n->a);
			t_run(n);
		}
		if (n->a.nsa_down != 2 || n->b.nsa_down != 2)
			err = -1;
	}
	write_run(wire, keys, n);
	t_net_free(n);
	return err ? -1 : 0;
}

int main(int argc, char **argv)
{
	char path[512];
	FILE *wire, *keys;
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	log_set_level(LOG_LEVEL_ERROR);
	snprintf(path, sizeof(path), "%s/wire.txt", argv[1]);
	wire = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/keys.txt", argv[1]);
	keys = fopen(path, "w");
	if (!wire || !keys) {
		perror(path);
		return 1;
	}
	err |= run(wire, keys,
		   t_suite(IKE_ENCR_AES_GCM_16, 128, 0, IKE_PRF_HMAC_SHA2_256, IKE_DH_ECP_256, 0),
		   t_suite(IKE_ENCR_AES_GCM_16, 128, 0, 0, IKE_DH_ECP_256, 0), false, 1, true);
	err |= run(wire, keys,
		   t_suite(IKE_ENCR_AES_CBC, 256, IKE_INTEG_HMAC_SHA2_256_128, IKE_PRF_HMAC_SHA2_384,
			   IKE_DH_MODP_2048, 0),
		   t_suite(IKE_ENCR_AES_CBC, 256, IKE_INTEG_HMAC_SHA2_256_128, 0, 0, 0), true, 2,
		   true);
	err |= run(wire, keys,
		   t_suite(IKE_ENCR_AES_GCM_16, 256, 0, IKE_PRF_HMAC_SHA2_384, IKE_DH_CURVE25519, 0),
		   t_suite(IKE_ENCR_AES_GCM_16, 256, 0, 0, 0, 1), false, 3, false);
	err |= run_mobike(wire, keys);
	fclose(wire);
	fclose(keys);
	t_free_actions(&net);
	if (err)
		fprintf(stderr, "%s: an exchange did not complete\n", argv[0]);
	return err ? 1 : 0;
}
