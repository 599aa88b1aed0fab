/* IKE_AUTH with certificates (RFC 7296 2.15, 3.5-3.7; RFC 7427): two engines back to back.
 *
 * Test certificates are made at run time with the openssl CLI in a temporary directory
 * (never committed): a test CA (ECDSA P-256), end-entity certificates for both sides with
 * ECDSA P-256 and RSA-2048 keys and subjectAltNames (DNS, email, IP), and a second CA that
 * the responder does not trust.
 *
 * Checks:
 *  - establishment with ECDSA on both sides, RSA (RSASSA-PSS) on both, and mixed, with ID
 *    types FQDN, RFC822, DER_ASN1_DN and IPV4_ADDR (3.5);
 *  - the RFC 7427 signatures against an independent implementation, the openssl CLI: our
 *    verifier takes `openssl dgst -sign` signatures (ECDSA, PKCS#1 v1.5 and PSS) with the
 *    AlgorithmIdentifiers of RFC 7427 Appendix A, and `openssl dgst -verify` takes ours;
 *  - refusals: a certificate from an untrusted CA, an ID the certificate does not carry, a
 *    signature over other octets.
 */
#include "ike/test_engine_util.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ike/authn.h"
#include "ike/transform.h"

static struct tnet net;
static char dir[64];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A CA and certificates for mn and gw (EC and RSA), plus an untrusted CA with its own mn. */
static int make_pki(void)
{
	static const char *const kinds[] = { "ec", "rsa" };
	int err = 0;

	snprintf(dir, sizeof(dir), "/tmp/ike-engine-pki-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	for (int c = 0; c < 2; c++) {
		const char *ca = c ? "evil" : "ca";

		err |= sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
			  "-nodes -keyout %s.key -out %s.crt -subj '/O=test/CN=%s CA' -days 2 "
			  "-addext basicConstraints=critical,CA:TRUE "
			  "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null", dir, ca, ca, ca);
	}
	err |= sh("cd %s && printf 'subjectAltName=email:mn@test,DNS:mn.test,IP:192.0.2.2\\n"
		  "basicConstraints=CA:FALSE\\n' > mn.ext && printf 'subjectAltName=DNS:vpngw.test,"
		  "IP:192.0.2.1\\nbasicConstraints=CA:FALSE\\n' > gw.ext", dir);
	for (int k = 0; k < 2; k++) {
		const char *newkey = k ? "rsa:2048" : "ec -pkeyopt ec_paramgen_curve:P-256";

		for (int w = 0; w < 2; w++) {
			const char *who = w ? "gw" : "mn";
			const char *cn = w ? "vpngw.test" : "mn";

			err |= sh("cd %s && openssl req -new -newkey %s -nodes -keyout %s-%s.key "
				  "-out %s-%s.csr -subj '/O=test/CN=%s' 2>/dev/null && openssl x509 "
				  "-req -in %s-%s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
				  "-extfile %s.ext -out %s-%s.crt 2>/dev/null", dir, newkey, who,
				  kinds[k], who, kinds[k], cn, who, kinds[k], who, who, kinds[k]);
		}
	}
	err |= sh("cd %s && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		  "-keyout mn-evil.key -out mn-evil.csr -subj '/O=test/CN=mn' 2>/dev/null && "
		  "openssl x509 -req -in mn-evil.csr -CA evil.crt -CAkey evil.key -CAcreateserial "
		  "-days 2 -extfile mn.ext -out mn-evil.crt 2>/dev/null", dir);
	return err ? -1 : 0;
}

static X509 *load_cert(const char *name)
{
	char path[128];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static EVP_PKEY *load_key(const char *name)
{
	char path[128];
	FILE *f;
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

/* The credentials of one run. */
struct creds {
	X509 *mn, *gw;
	EVP_PKEY *mn_key, *gw_key;
	X509_STORE *trust;
};

static void creds_load(struct creds *c, const char *mn, const char *gw)
{
	X509 *ca = load_cert("ca");

	c->mn = load_cert(mn);
	c->gw = load_cert(gw);
	c->mn_key = load_key(mn);
	c->gw_key = load_key(gw);
	c->trust = X509_STORE_new();
	if (ca && c->trust)
		X509_STORE_add_cert(c->trust, ca);
	X509_free(ca);
}

static void creds_free(struct creds *c)
{
	X509_free(c->mn);
	X509_free(c->gw);
	EVP_PKEY_free(c->mn_key);
	EVP_PKEY_free(c->gw_key);
	X509_STORE_free(c->trust);
	memset(c, 0, sizeof(*c));
}

static void dn_id(struct ike_identity *id, X509 *x)
{
	size_t len = 0;

	memset(id, 0, sizeof(*id));
	if (ike_authn_cert_subject(x, id->data, sizeof(id->data), &len) == 0) {
		id->type = IKE_ID_DER_ASN1_DN;
		id->len = (uint16_t)len;
	}
}

static void ipv4_id(struct ike_identity *id, const char *a)
{
	struct in_addr x;

	inet_pton(AF_INET, a, &x);
	t_id(id, IKE_ID_IPV4_ADDR, &x.s_addr, 4);
}

/* Peers with signature authentication; IDs set by the caller. */
static void peers_cert(struct tnet *n, struct creds *c)
{
	t_peers_psk(n, t_suite(IKE_ENCR_AES_GCM_16, 256, 0, IKE_PRF_HMAC_SHA2_384,
			       IKE_DH_CURVE25519, 0), t_suite(IKE_ENCR_AES_GCM_16, 256, 0, 0, 0, 0));
	for (int s = 0; s < 2; s++) {
		struct ike_peer_cfg *p = s ? &n->b.peers[0] : &n->a.peers[0];

		memset(&p->local, 0, sizeof(p->local));
		memset(&p->remote, 0, sizeof(p->remote));
		p->local.auth = p->remote.auth = IKE_AUTHK_SIGNATURE;
		p->local.cert = s ? c->gw : c->mn;
		p->local.key = s ? c->gw_key : c->mn_key;
		p->remote.trust = c->trust;
	}
	/* The responder takes anyone the CA vouches for (remote_id type 0). */
	memset(&n->b.peers[0].remote_id, 0, sizeof(n->b.peers[0].remote_id));
}

struct cert_case {
	const char *name;
	const char *mn, *gw;          /* credentials */
	int mn_id, gw_id;             /* 2 FQDN, 3 RFC822, 9 DN, 1 IPv4 */
};

static void set_id(struct ike_identity *id, int type, bool gw, X509 *cert)
{
	switch (type) {
	case IKE_ID_FQDN:
		t_id_fqdn(id, gw ? "vpngw.test" : "mn.test");
		break;
	case IKE_ID_RFC822_ADDR:
		t_id(id, IKE_ID_RFC822_ADDR, "mn@test", 7);
		break;
	case IKE_ID_DER_ASN1_DN:
		dn_id(id, cert);
		break;
	case IKE_ID_IPV4_ADDR:
		ipv4_id(id, gw ? "192.0.2.1" : "192.0.2.2");
		break;
	}
}

static void test_cert_cases(void)
{
	static const struct cert_case cases[] = {
		{ "ECDSA P-256, RFC822 / FQDN", "mn-ec", "gw-ec", IKE_ID_RFC822_ADDR, IKE_ID_FQDN },
		{ "RSA-2048 (RSASSA-PSS), DN / IPv4", "mn-rsa", "gw-rsa", IKE_ID_DER_ASN1_DN,
		  IKE_ID_IPV4_ADDR },
		{ "ECDSA initiator, RSA responder, IPv4 / DN", "mn-ec", "gw-rsa", IKE_ID_IPV4_ADDR,
		  IKE_ID_DER_ASN1_DN },
		{ "RSA initiator, ECDSA responder, FQDN / FQDN", "mn-rsa", "gw-ec", IKE_ID_FQDN,
		  IKE_ID_FQDN },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cert_case *k = &cases[i];
		struct creds c;
		uint64_t spi;

		printf("# %s\n", k->name);
		creds_load(&c, k->mn, k->gw);
		CHECK(c.mn && c.gw && c.mn_key && c.gw_key && c.trust);
		t_net_init(&net, false);
		peers_cert(&net, &c);
		set_id(&net.a.peers[0].local_id, k->mn_id, false, c.mn);
		set_id(&net.a.peers[0].remote_id, k->gw_id, true, c.gw);
		set_id(&net.b.peers[0].local_id, k->gw_id, true, c.gw);
		CHECK(t_start_engines(&net) == 0);
		spi = t_initiate(&net, 0);
		CHECK(spi != 0);
		CHECK_EQ_U64(net.a.nsa_up, 1);
		CHECK_EQ_U64(net.b.nsa_up, 1);
		CHECK_EQ_U64(net.a.nup, 1);
		CHECK(net.a.nup == 1 && t_child_pair_ok(&net.a.up[0],
							t_peer_child(&net.b, net.a.up[0].spi_in)));
		/* B learned A's identity as A sent it. */
		CHECK(net.b.nsa_up == 1 && net.b.sa_up[0].peer_id.type == k->mn_id &&
		      net.b.sa_up[0].peer_id.len == net.a.peers[0].local_id.len &&
		      memcmp(net.b.sa_up[0].peer_id.data, net.a.peers[0].local_id.data,
			     net.a.peers[0].local_id.len) == 0);
		CHECK(net.a.nsa_up == 1 && net.a.sa_up[0].peer_id.type == k->gw_id);
		t_net_free(&net);
		creds_free(&c);
	}
}

static void test_cert_refusals(void)
{
	struct creds c;
	struct ike_engine_stats st;
	uint64_t spi;

	/* A certificate from a CA that B does not trust. */
	creds_load(&c, "mn-evil", "gw-ec");
	t_net_init(&net, false);
	peers_cert(&net, &c);
	t_id(&net.a.peers[0].local_id, IKE_ID_RFC822_ADDR, "mn@test", 7);
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK(spi != 0);
	CHECK_EQ_U64(net.a.nsa_up + net.b.nsa_up, 0);
	CHECK(net.a.nsa_down == 1 && strstr(net.a.down_reason[0], "AUTHENTICATION_FAILED"));
	ike_engine_stats(net.b.e, &st);
	CHECK_EQ_U64(st.auth_failures, 1);
	t_net_free(&net);
	creds_free(&c);

	/* An identity the certificate does not carry. */
	creds_load(&c, "mn-ec", "gw-ec");
	t_net_init(&net, false);
	peers_cert(&net, &c);
	t_id_fqdn(&net.a.peers[0].local_id, "other.test");
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK_EQ_U64(net.a.nsa_up + net.b.nsa_up, 0);
	CHECK(net.a.nsa_down == 1 && strstr(net.a.down_reason[0], "AUTHENTICATION_FAILED"));
	t_net_free(&net);

	/* The responder is not who A wants (remote_id). */
	t_net_init(&net, false);
	peers_cert(&net, &c);
	t_id_fqdn(&net.a.peers[0].remote_id, "other-gw.test");
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK_EQ_U64(net.a.nsa_up, 0);
	CHECK(net.a.nsa_down == 1 && strstr(net.a.down_reason[0], "not the configured identity"));
	/* 2.21.2: A told B, whose SA was up, in an INFORMATIONAL: B's SA is gone too. */
	CHECK_EQ_U64(net.b.nsa_up, 1);
	CHECK(net.b.nsa_down == 1 && strstr(net.b.down_reason[0], "refused our authentication"));
	CHECK_EQ_U64(t_count_sas(net.b.e, NULL), 0);
	CHECK_EQ_U64(net.b.pool_released, net.b.pool_used);
	t_net_free(&net);

	/* A certificate the responder did trust but a different key signed (mn's cert, gw's
	 * key): the signature does not verify. */
	t_net_init(&net, false);
	peers_cert(&net, &c);
	net.a.peers[0].local.key = c.gw_key;
	t_id(&net.a.peers[0].local_id, IKE_ID_RFC822_ADDR, "mn@test", 7);
	CHECK(t_start_engines(&net) == 0);
	spi = t_initiate(&net, 0);
	CHECK_EQ_U64(net.a.nsa_up + net.b.nsa_up, 0);
	t_net_free(&net);
	creds_free(&c);
	(void)spi;
}

/* --- RFC 7427 against the openssl CLI ----------------------------------------------------- */

static int write_file(const char *name, const void *data, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	fwrite(data, 1, len, f);
	fclose(f);
	return 0;
}

static size_t read_file(const char *name, uint8_t *buf, size_t cap)
{
	char path[128];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return 0;
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* RFC 7427 A.1.2, A.3.2, A.4.3. */
static const uint8_t a12[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
			       0x01, 0x0b, 0x05, 0x00 };
static const uint8_t a32[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03,
			       0x02 };
static const uint8_t a43[] = {
	0x30, 0x46, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x39,
	0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
	0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x20, 0xa3, 0x03, 0x02, 0x01, 0x01 };

static void test_rfc7427_cli(void)
{
	/* The signed octets: any message, nonce and MACed ID; the CLI signs their
	 * concatenation. */
	static const uint8_t msg[] = "an IKE_SA_INIT message stands in here";
	static const uint8_t nonce[] = "the peer's nonce";
	struct ike_authn_octets o;
	uint8_t all[256], sig[1024], auth[1100];
	size_t alen = 0, slen, n;
	X509 *ec = load_cert("mn-ec"), *rsa = load_cert("mn-rsa");
	EVP_PKEY *eck = load_key("mn-ec"), *rsak = load_key("mn-rsa");
	const char *what = NULL;
	struct {
		const char *name, *key, *opts;
		const uint8_t *alg;
		size_t alg_len;
		X509 *cert;
	} cli[] = {
		{ "ecdsa-with-SHA256", "mn-ec", "", a32, sizeof(a32), ec },
		{ "sha256WithRSAEncryption", "mn-rsa", "", a12, sizeof(a12), rsa },
		{ "RSASSA-PSS", "mn-rsa", "-sigopt rsa_padding_mode:pss -sigopt "
		  "rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256", a43, sizeof(a43), rsa },
	};

	memset(&o, 0, sizeof(o));
	o.real_message = (struct ike_bytes){ msg, sizeof(msg) - 1 };
	o.nonce = (struct ike_bytes){ nonce, sizeof(nonce) - 1 };
	memcpy(o.maced_id, "0123456789abcdef0123456789abcdef", 32);
	o.maced_id_len = 32;
	memcpy(all, msg, sizeof(msg) - 1);
	alen = sizeof(msg) - 1;
	memcpy(all + alen, nonce, sizeof(nonce) - 1);
	alen += sizeof(nonce) - 1;
	memcpy(all + alen, o.maced_id, 32);
	alen += 32;
	CHECK(write_file("octets", all, alen) == 0);
	for (size_t i = 0; i < sizeof(cli) / sizeof(cli[0]); i++) {
		int rc = sh("cd %s && openssl dgst -sha256 -sign %s.key %s -out sig.bin octets",
			    dir, cli[i].key, cli[i].opts);

		slen = read_file("sig.bin", sig, sizeof(sig));
		CHECK(rc == 0 && slen > 0);
		auth[0] = (uint8_t)cli[i].alg_len;
		memcpy(auth + 1, cli[i].alg, cli[i].alg_len);
		memcpy(auth + 1 + cli[i].alg_len, sig, slen);
		n = 1 + cli[i].alg_len + slen;
		CHECK(ike_authn_verify(cli[i].cert, auth, n, &o, &what) == 0);
		CHECK_STR(what, cli[i].name);
		/* One bit off: refused. */
		auth[n - 1] ^= 1;
		CHECK_EQ_U64(ike_authn_verify(cli[i].cert, auth, n, &o, NULL), (uint64_t)-EACCES);
	}
	/* Ours, checked by the CLI: ECDSA (DER Ecdsa-Sig-Value, RFC 7427 3) and PSS. */
	for (int k = 0; k < 2; k++) {
		const uint8_t *alg = k ? a43 : a32;
		size_t alg_len = k ? sizeof(a43) : sizeof(a32);

		CHECK(ike_authn_sign(k ? rsak : eck, &o, auth, sizeof(auth), &n) == 0);
		CHECK(n > 1 + alg_len && auth[0] == alg_len && memcmp(auth + 1, alg, alg_len) == 0);
		CHECK(write_file("our.sig", auth + 1 + alg_len, n - 1 - alg_len) == 0);
		CHECK(sh("cd %s && openssl x509 -in %s.crt -pubkey -noout > pub.pem && openssl dgst "
			 "-sha256 -verify pub.pem %s -signature our.sig octets >/dev/null", dir,
			 k ? "mn-rsa" : "mn-ec", k ? "-sigopt rsa_padding_mode:pss -sigopt "
			 "rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256" : "") == 0);
	}
	/* The certificate checks of authn.h directly. */
	CHECK(ike_authn_cert_has_id(ec, IKE_ID_RFC822_ADDR, (const uint8_t *)"mn@test", 7));
	CHECK(ike_authn_cert_has_id(ec, IKE_ID_FQDN, (const uint8_t *)"mn.test", 7));
	CHECK(!ike_authn_cert_has_id(ec, IKE_ID_FQDN, (const uint8_t *)"mn.tes", 6));
	CHECK(!ike_authn_cert_has_id(ec, IKE_ID_FQDN, (const uint8_t *)"vpngw.test", 10));
	CHECK(ike_authn_cert_has_id(ec, IKE_ID_IPV4_ADDR, (const uint8_t *)"\xc0\x00\x02\x02", 4));
	CHECK(!ike_authn_cert_has_id(ec, IKE_ID_IPV4_ADDR, (const uint8_t *)"\xc0\x00\x02\x01", 4));
	X509_free(ec);
	X509_free(rsa);
	EVP_PKEY_free(eck);
	EVP_PKEY_free(rsak);
}

int main(void)
{
	t_log_setup();
	if (system("openssl version >/dev/null 2>&1") != 0 || make_pki() < 0) {
		printf("1..0 # SKIP the openssl CLI cannot make test certificates\n");
		return 0;
	}
	test_cert_cases();
	test_cert_refusals();
	test_rfc7427_cli();
	t_free_actions(&net);
	sh("rm -rf %s", dir);
	return tap_done();
}
