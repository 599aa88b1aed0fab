/* Unit tests for vpngw's configuration: identities (ident.c), credential files (creds.c) and
 * the loader (conf.c): config text in, struct out, and every error message.
 *
 * Certificates and keys are made at run time with the openssl command line tool (an
 * implementation independent of the code under test) into a temporary directory; the DER
 * of a DN identity is checked against the subject the openssl tool encoded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "common/sock.h"
#include "daemon/config.h"
#include "daemon/test_capture.h"
#include "vpngw/conf.h"
#include "vpngw/creds.h"
#include "vpngw/ident.h"
#include "tests/unit/tap.h"

static char dir[64];
static char err[512];
static bool have_openssl;

static struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };

	if (addr4_parse(s, &a) != 0) {
		printf("Bail out! bad test address %s\n", s);
		exit(1);
	}
	return a;
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	f = fopen(path, "w");
	if (!f) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

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

/* A CA, a gateway certificate it signed (SAN: DNS vpngw.test, IP 198.19.0.2, email
 * gw@test), and a key that belongs to neither. */
static void make_certs(void)
{
	int rc = sh("(cd %s && "
		    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		    "-keyout ca.key -out ca.crt -subj '/CN=Test CA' -days 30 && "
		    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		    "-keyout gw.key -out gw.csr -subj '/C=CH/O=Test/CN=vpngw.test' && "
		    "printf 'subjectAltName=DNS:vpngw.test,IP:198.19.0.2,email:gw@test\\n' > ext && "
		    "openssl x509 -req -in gw.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		    "-out gw.crt -days 30 -extfile ext && "
		    "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key && "
		    "openssl x509 -in gw.crt -noout -subject -nameopt RFC2253 > gw.subject && "
		    "chmod 600 ca.key gw.key other.key && cp gw.key gw-open.key && "
		    "chmod 644 gw-open.key) >/dev/null 2>&1", dir);

	have_openssl = rc == 0;
	if (!have_openssl)
		printf("# openssl command failed: certificate checks are skipped\n");
}

/* --- identities ----------------------------------------------------------------------- */

static bool id_is(const char *text, uint8_t type, const void *data, size_t len)
{
	struct ike_identity id;

	memset(&id, 0, sizeof(id));
	if (ident_parse(text, &id, err, sizeof(err)) != 0) {
		printf("# %s: %s\n", text, err);
		return false;
	}
	return id.type == type && id.len == len && memcmp(id.data, data, len) == 0;
}

static bool id_bad(const char *text, const char *want)
{
	struct ike_identity id, before;

	memset(&id, 0x77, sizeof(id));
	before = id;
	if (ident_parse(text, &id, err, sizeof(err)) != -EINVAL || strcmp(err, want) != 0) {
		printf("# %s: \"%s\"\n#   expected \"%s\"\n", text, err, want);
		return false;
	}
	return memcmp(&id, &before, sizeof(id)) == 0;
}

static void test_ident(void)
{
	/* RFC 7296 3.5: ID_IPV4_ADDR 1 (four octets), ID_FQDN 2, ID_RFC822_ADDR 3,
	 * ID_DER_ASN1_DN 9. */
	static const uint8_t v4[] = { 198, 19, 0, 2 };
	/* X.690 DER of the Name CN=a: SEQUENCE { SET { SEQUENCE { OID 2.5.4.3 (55 04 03),
	 * UTF8String "a" } } } (the encoding OpenSSL's tools give for -subj /CN=a). */
	static const uint8_t cn_a[] = { 0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55,
					0x04, 0x03, 0x0c, 0x01, 0x61 };
	struct ike_identity id;
	char buf[256];

	CHECK(id_is("fqdn:vpngw.test", 2, "vpngw.test", 10));
	CHECK(id_is("@vpngw.test", 2, "vpngw.test", 10));
	CHECK(id_is("vpngw.test", 2, "vpngw.test", 10));
	CHECK(id_is("mn@test", 3, "mn@test", 7));
	CHECK(id_is("email:mn@test", 3, "mn@test", 7));
	CHECK(id_is("rfc822:mn@test", 3, "mn@test", 7));
	CHECK(id_is("userfqdn:mn@test", 3, "mn@test", 7));
	CHECK(id_is("ipv4:198.19.0.2", 1, v4, 4));
	CHECK(id_is("198.19.0.2", 1, v4, 4));
	CHECK(id_is("dn:CN=a", 9, cn_a, sizeof(cn_a)));
	CHECK(id_is("CN=a", 9, cn_a, sizeof(cn_a)));
	CHECK(id_is("dn: CN = a ", 9, cn_a, sizeof(cn_a)));
	memset(&id, 0x55, sizeof(id));
	CHECK(ident_parse("%any", &id, err, sizeof(err)) == 0 && id.type == 0 && id.len == 0);

	CHECK(id_bad("", "identity is empty"));
	CHECK(id_bad("fqdn:", "identity \"fqdn:\" is empty"));
	CHECK(id_bad("@", "identity \"@\" is empty"));
	CHECK(id_bad("foo:bar", "unknown identity type \"foo\" (fqdn, email, dn, ipv4)"));
	CHECK(id_bad("ipv4:198.19.0", "identity \"ipv4:198.19.0\": \"198.19.0\" is not an IPv4 "
		     "address"));
	CHECK(id_bad("dn:CN", "\"dn:CN\" is not a distinguished name: \"CN\" is not "
		     "ATTRIBUTE=value"));
	CHECK(id_bad("dn:CN=a,,O=b", "\"dn:CN=a,,O=b\" is not a distinguished name: \"\" is "
		     "not ATTRIBUTE=value"));
	CHECK(id_bad("dn:XX=a", "\"dn:XX=a\" is not a distinguished name: unknown attribute "
		     "\"XX\""));
	CHECK(id_bad("dn:", "\"dn:\" is not a distinguished name: no RDN"));
	CHECK(id_bad("dn:C=Switzerland", "\"dn:C=Switzerland\" is not a distinguished name: bad "
		     "value for C"));
	{
		char longid[600];

		memset(longid, 'a', sizeof(longid) - 1);
		longid[sizeof(longid) - 1] = '\0';
		snprintf(buf, sizeof(buf), "identity \"%.40s...\" is longer than %d bytes", longid,
			 IKE_ID_MAX);
		CHECK(id_bad(longid, buf));
	}
	CHECK(ident_parse(NULL, &id, err, sizeof(err)) == -EINVAL);

	/* Printing. */
	ident_parse("mn@test", &id, NULL, 0);
	CHECK_STR(ident_str(&id, buf, sizeof(buf)), "mn@test");
	ident_parse("198.19.0.2", &id, NULL, 0);
	CHECK_STR(ident_str(&id, buf, sizeof(buf)), "198.19.0.2");
	ident_parse("dn:C=CH, O=Test, CN=vpngw.test", &id, NULL, 0);
	CHECK_STR(ident_str(&id, buf, sizeof(buf)), "C=CH, O=Test, CN=vpngw.test");
	ident_parse("%any", &id, NULL, 0);
	CHECK_STR(ident_str(&id, buf, sizeof(buf)), "%any");
	/* Bytes from the network are escaped. */
	memset(&id, 0, sizeof(id));
	id.type = 2;
	id.len = 3;
	memcpy(id.data, "a\nb", 3);
	CHECK_STR(ident_str(&id, buf, sizeof(buf)), "a\\x0ab");
	id.type = 1;
	CHECK_STR(ident_str(&id, buf, sizeof(buf)), "(bad IPv4 identity, 3 bytes)");
	id.type = 9;
	CHECK_STR(ident_str(&id, buf, sizeof(buf)), "(bad DN, 3 bytes)");
	id.type = 11;
	CHECK_STR(ident_str(&id, buf, sizeof(buf)), "type 11 (3 bytes)");
	CHECK_STR(ident_str(NULL, buf, sizeof(buf)), "(none)");
	{
		struct ike_identity a, b;

		ident_parse("mn@test", &a, NULL, 0);
		ident_parse("email:mn@test", &b, NULL, 0);
		CHECK(ident_equal(&a, &b));
		ident_parse("fqdn:mn@test", &b, NULL, 0);
		CHECK(!ident_equal(&a, &b));
	}
}

/* --- credential files ----------------------------------------------------------------- */

static bool psk_is(const char *file, const void *want, size_t want_len)
{
	char path[256];
	uint8_t *k = NULL;
	size_t n = 0;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (creds_load_psk(path, &k, &n, err, sizeof(err)) != 0) {
		printf("# %s: %s\n", file, err);
		return false;
	}
	ok = n == want_len && memcmp(k, want, n) == 0;
	creds_free_psk(k, n);
	return ok;
}

/* The message with the directory replaced by "DIR". */
static bool psk_bad(const char *file, int want_rc, const char *want)
{
	char path[256], exp[600];
	uint8_t *k = (uint8_t *)"untouched";
	size_t n = 42;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	rc = creds_load_psk(path, &k, &n, err, sizeof(err));
	{
		GString *g = g_string_new(want);

		g_string_replace(g, "DIR", dir, 0);
		snprintf(exp, sizeof(exp), "%s", g->str);
		g_string_free(g, TRUE);
	}
	if (rc != want_rc || strcmp(err, exp) != 0) {
		printf("# %s: %d \"%s\"\n#   expected %d \"%s\"\n", file, rc, err, want_rc, exp);
		return false;
	}
	return n == 42 && strcmp((const char *)k, "untouched") == 0;
}

static void test_psk(void)
{
	static const uint8_t hex[] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99,
				       0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	char big[CREDS_PSK_MAX + 10];

	write_file("text.psk", "this is a shared secret\n", 0600);
	CHECK(psk_is("text.psk", "this is a shared secret", 23));
	write_file("text2.psk", "  secret with # and spaces  \r\n\n", 0400);
	CHECK(psk_is("text2.psk", "secret with # and spaces", 24));
	write_file("hex.psk", "0x00112233445566778899AABBCCDDEEFF\n", 0600);
	CHECK(psk_is("hex.psk", hex, sizeof(hex)));

	write_file("open.psk", "this is a shared secret\n", 0640);
	CHECK(psk_bad("open.psk", -EPERM, "DIR/open.psk is accessible by group or others (mode "
		      "0640): chmod 600 DIR/open.psk"));
	CHECK(psk_bad("missing.psk", -ENOENT, "cannot open DIR/missing.psk: No such file or "
		      "directory"));
	CHECK(psk_bad(".", -EPERM, "DIR/. is not a regular file") ||
	      psk_bad(".", -EACCES, "DIR/. is accessible by group or others (mode 0700): chmod "
		      "600 DIR/."));
	write_file("empty.psk", " \n\n", 0600);
	CHECK(psk_bad("empty.psk", -EINVAL, "DIR/empty.psk holds no secret"));
	write_file("two.psk", "first secret line\nsecond secret line\n", 0600);
	CHECK(psk_bad("two.psk", -EINVAL, "DIR/two.psk has more than one line (one secret: text, "
		      "or 0x and hex digits)"));
	write_file("badhex.psk", "0x00112233445566778899AABBCCDDEEFG\n", 0600);
	CHECK(psk_bad("badhex.psk", -EINVAL, "the secret in DIR/badhex.psk is not valid hex"));
	write_file("oddhex.psk", "0x00112233445566778899AABBCCDDEEF\n", 0600);
	CHECK(psk_bad("oddhex.psk", -EINVAL, "the secret in DIR/oddhex.psk is not valid hex (odd "
		      "number of digits)"));
	write_file("nohex.psk", "0x\n", 0600);
	CHECK(psk_bad("nohex.psk", -EINVAL, "the secret in DIR/nohex.psk is not valid hex (no "
		      "digits)"));
	write_file("short.psk", "0x0011223344556677\n", 0600);
	CHECK(psk_bad("short.psk", -EINVAL, "the secret in DIR/short.psk is 8 bytes; at least 16 "
		      "are required"));
	write_file("shorttext.psk", "secret\n", 0600);
	CHECK(psk_bad("shorttext.psk", -EINVAL, "the secret in DIR/shorttext.psk is 6 bytes; at "
		      "least 16 are required"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file("long.psk", big, 0600);
	CHECK(psk_bad("long.psk", -EINVAL, "the secret in DIR/long.psk is 265 bytes; at most 256 "
		      "are allowed"));
	{
		char huge[5000];

		memset(huge, 'y', sizeof(huge) - 1);
		huge[sizeof(huge) - 1] = '\0';
		write_file("huge.psk", huge, 0600);
		CHECK(psk_bad("huge.psk", -EFBIG, "DIR/huge.psk is too large for a secret (more "
			      "than 4096 bytes)"));
	}
	{
		char path[256];
		FILE *f;

		snprintf(path, sizeof(path), "%s/nul.psk", dir);
		f = fopen(path, "w");
		fwrite("abcdefgh\0ijklmnopqrst", 1, 21, f);
		fclose(f);
		chmod(path, 0600);
		CHECK(psk_bad("nul.psk", -EINVAL, "DIR/nul.psk holds a NUL byte: write text or "
			      "0x-hex"));
	}
}

static void test_cert_files(void)
{
	char path[256], path2[256], subject[256] = "";
	struct ike_identity id, sub;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	X509_STORE *st = NULL;
	char *cas[2];
	FILE *f;

	if (!have_openssl)
		return;
	snprintf(path, sizeof(path), "%s/gw.crt", dir);
	CHECK(creds_load_cert(path, &x, err, sizeof(err)) == 0 && x);
	/* The DN identity parsed from text is what the openssl tool encoded as the subject. */
	CHECK(creds_subject_id(x, &sub) == 0 && sub.type == 9);
	CHECK(ident_parse("dn:C=CH, O=Test, CN=vpngw.test", &id, err, sizeof(err)) == 0);
	CHECK(ident_equal(&id, &sub));
	snprintf(path2, sizeof(path2), "%s/gw.subject", dir);
	f = fopen(path2, "r");
	if (f) {
		if (!fgets(subject, sizeof(subject), f))
			subject[0] = '\0';
		fclose(f);
	}
	/* openssl's RFC 2253 view (reversed order) names the same three RDNs. */
	CHECK(strstr(subject, "CN=vpngw.test,O=Test,C=CH") != NULL);
	CHECK(creds_cert_matches_id(x, &id));
	ident_parse("fqdn:vpngw.test", &id, NULL, 0);
	CHECK(creds_cert_matches_id(x, &id));
	ident_parse("ipv4:198.19.0.2", &id, NULL, 0);
	CHECK(creds_cert_matches_id(x, &id));
	ident_parse("gw@test", &id, NULL, 0);
	CHECK(creds_cert_matches_id(x, &id));
	ident_parse("fqdn:other.test", &id, NULL, 0);
	CHECK(!creds_cert_matches_id(x, &id));
	ident_parse("ipv4:198.19.0.3", &id, NULL, 0);
	CHECK(!creds_cert_matches_id(x, &id));
	ident_parse("dn:CN=vpngw.test", &id, NULL, 0);
	CHECK(!creds_cert_matches_id(x, &id));
	ident_parse("%any", &id, NULL, 0);
	CHECK(!creds_cert_matches_id(x, &id));

	snprintf(path, sizeof(path), "%s/gw.key", dir);
	CHECK(creds_load_key(path, &k, err, sizeof(err)) == 0 && k);
	CHECK(X509_check_private_key(x, k) == 1);
	EVP_PKEY_free(k);
	k = NULL;
	snprintf(path, sizeof(path), "%s/gw-open.key", dir);
	CHECK(creds_load_key(path, &k, err, sizeof(err)) == -EPERM && !k &&
	      strstr(err, "gw-open.key is accessible by group or others (mode 0644)"));
	snprintf(path, sizeof(path), "%s/gw.crt", dir);
	chmod(path, 0600);
	CHECK(creds_load_key(path, &k, err, sizeof(err)) == -EINVAL && !k &&
	      strstr(err, "gw.crt holds no unencrypted PEM private key"));
	chmod(path, 0644);
	snprintf(path, sizeof(path), "%s/gw.key", dir);
	CHECK(creds_load_cert(path, &x, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "gw.key holds no PEM certificate"));
	snprintf(path, sizeof(path), "%s/nope.crt", dir);
	CHECK(creds_load_cert(path, &x, err, sizeof(err)) == -ENOENT &&
	      strstr(err, "nope.crt: No such file or directory"));

	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	snprintf(path2, sizeof(path2), "%s/gw.crt", dir);
	cas[0] = path;
	cas[1] = path2;
	CHECK(creds_load_ca(cas, 2, &st, err, sizeof(err)) == 0 && st);
	/* The store verifies the gateway certificate. */
	{
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();

		CHECK(ctx && X509_STORE_CTX_init(ctx, st, x, NULL) == 1 &&
		      X509_verify_cert(ctx) == 1);
		X509_STORE_CTX_free(ctx);
	}
	X509_STORE_free(st);
	st = NULL;
	snprintf(path2, sizeof(path2), "%s/text.psk", dir);
	CHECK(creds_load_ca(cas, 2, &st, err, sizeof(err)) == -EINVAL && !st &&
	      strstr(err, "text.psk holds no PEM certificate"));
	snprintf(path2, sizeof(path2), "%s/none.crt", dir);
	CHECK(creds_load_ca(cas, 2, &st, err, sizeof(err)) == -ENOENT && !st &&
	      strstr(err, "none.crt: No such file or directory"));
	X509_free(x);
}

/* --- the configuration file ----------------------------------------------------------- */

static const char PSK_CONF[] =
	"[gateway]\n"
	"listen = 198.19.0.2\n"
	"pool = 198.18.100.0/24\n"
	"dns = 198.18.1.53, 198.18.1.54\n"
	"keylog-file = ikev2_decryption_table\n"
	"[peer mn]\n"
	"remote-id = mn@test\n"
	"local-id = fqdn:vpngw.test\n"
	"auth = psk\n"
	"psk-file = text.psk\n"
	"local-ts = 198.18.0.0/16\n";

static int load(const char *text, struct vpngw_conf *out)
{
	struct cfg c;
	int rc = cfg_load_data(&c, "vpngw.conf", dir, text);

	if (rc < 0)
		return rc;
	rc = vpngw_conf_from_cfg(&c, out);
	cfg_free(&c);
	return rc;
}

static void test_psk_conf(void)
{
	struct vpngw_conf c;
	const struct ike_peer_cfg *p;
	char path[256];

	memset(&c, 0, sizeof(c));
	capture_start();
	CHECK(load(PSK_CONF, &c) == 0);
	CHECK_STR(capture_end(), "");
	CHECK_STR(c.path, "vpngw.conf");
	CHECK(c.listen.s_addr == ip("198.19.0.2").s_addr);
	CHECK(c.have_pool && c.pool_net.s_addr == ip("198.18.100.0").s_addr && c.pool_plen == 24);
	/* The last host address of the pool by default. */
	CHECK(c.tunnel_addr.s_addr == ip("198.18.100.254").s_addr);
	CHECK(c.ndns == 2 && c.dns[0].s_addr == ip("198.18.1.53").s_addr &&
	      c.dns[1].s_addr == ip("198.18.1.54").s_addr);
	CHECK_STR(c.tunnel_device, "vpngw0");
	CHECK_EQ_U64(c.tunnel_mtu, 1400);
	CHECK_STR(c.control_socket, "/run/mip4-mobike/vpngw.sock");
	snprintf(path, sizeof(path), "%s/ikev2_decryption_table", dir);
	CHECK_STR(c.keylog_file, path);
	CHECK_EQ_U64(c.cookie_threshold, 32);
	CHECK_EQ_U64(c.half_open_max, 4096);
	CHECK_EQ_U64(c.max_sas, 65536);
	CHECK_EQ_U64(c.dpd_interval, 30);
	/* Handover replay on by default, ha's defaults (daemon/replay.h). */
	CHECK_EQ_U64(c.replay_ms, 1000);
	CHECK_EQ_U64(c.replay_bytes, 65536);
	CHECK_EQ_U64(c.replay_rtt_ms, 150);
	CHECK_EQ_U64(c.npeers, 1);
	p = &c.peers[0];
	CHECK_STR(p->name, "mn");
	CHECK(p->remote_id.type == 3 && p->remote_id.len == 7 &&
	      memcmp(p->remote_id.data, "mn@test", 7) == 0);
	CHECK(p->local_id.type == 2 && p->local_id.len == 10 &&
	      memcmp(p->local_id.data, "vpngw.test", 10) == 0);
	CHECK(p->local.auth == IKE_AUTHK_PSK && p->remote.auth == IKE_AUTHK_PSK);
	CHECK(p->local.psk_len == 23 && memcmp(p->local.psk, "this is a shared secret", 23) == 0);
	CHECK(p->remote.psk == p->local.psk && p->remote.psk_len == 23);
	CHECK(p->local.cert == NULL && p->local.key == NULL && p->remote.trust == NULL);
	/* Default proposals: the four of conf.h, in order. */
	CHECK_EQ_U64(p->ike.n, 4);
	CHECK(p->ike.suite[0].encr == 20 && p->ike.suite[0].encr_key_bits == 128 &&
	      p->ike.suite[0].prf == 5 && p->ike.suite[0].dh == 31);
	CHECK(p->ike.suite[3].encr == 12 && p->ike.suite[3].integ == 12 &&
	      p->ike.suite[3].dh == 14);
	CHECK_EQ_U64(p->esp.n, 4);
	CHECK(p->esp.suite[2].encr == 28 && p->esp.suite[2].dh == 0);
	CHECK_EQ_U64(p->local_ts.n, 1);
	CHECK(p->local_ts.ts[0].start.s_addr == ip("198.18.0.0").s_addr &&
	      p->local_ts.ts[0].end.s_addr == ip("198.18.255.255").s_addr &&
	      p->local_ts.ts[0].ip_proto == 0 && p->local_ts.ts[0].start_port == 0 &&
	      p->local_ts.ts[0].end_port == 65535);
	CHECK(p->assign_address);
	CHECK(!p->request_address);
	CHECK_EQ_U64(p->ike_lifetime_s, 14400);
	CHECK_EQ_U64(p->child_lifetime_s, 3600);
	CHECK_EQ_U64(p->dpd_interval_s, 30);
	/* MOBIKE on by default, return routability for new addresses, NATs allowed, any
	 * address (RFC 4555 3.7: "SHOULD be performed" by default). */
	CHECK(p->mobike);
	CHECK(p->mobike_policy.rr == POLICY_MOBIKE_RR_NEW_ADDRESS);
	CHECK(!p->mobike_policy.refuse_nat);
	CHECK_EQ_U64(p->mobike_policy.nallowed, 0);
	vpngw_conf_clear(&c);
	CHECK(c.peers == NULL && c.npeers == 0);
	vpngw_conf_clear(&c);   /* twice is fine */
}

static void test_mobike_conf(void)
{
	struct vpngw_conf c;
	const struct ike_peer_cfg *p;
	char text[1024];

	memset(&c, 0, sizeof(c));
	snprintf(text, sizeof(text), "%smobike-nat = refuse\nmobike-return-routability = always\n"
		 "mobike-allowed = 198.19.0.0/16, 203.0.113.7\n", PSK_CONF);
	capture_start();
	CHECK(load(text, &c) == 0);
	CHECK_STR(capture_end(), "");
	p = &c.peers[0];
	CHECK(p->mobike);
	CHECK(p->mobike_policy.refuse_nat);
	CHECK(p->mobike_policy.rr == POLICY_MOBIKE_RR_ALWAYS);
	CHECK_EQ_U64(p->mobike_policy.nallowed, 2);
	CHECK(p->mobike_policy.allowed[0].net.s_addr == ip("198.19.0.0").s_addr &&
	      p->mobike_policy.allowed[0].len == 16);
	CHECK(p->mobike_policy.allowed[1].net.s_addr == ip("203.0.113.7").s_addr &&
	      p->mobike_policy.allowed[1].len == 32);
	vpngw_conf_clear(&c);

	snprintf(text, sizeof(text), "%smobike = no\n", PSK_CONF);
	CHECK(load(text, &c) == 0);
	CHECK(!c.peers[0].mobike);
	vpngw_conf_clear(&c);

	snprintf(text, sizeof(text), "%smobike-return-routability = never\n", PSK_CONF);
	CHECK(load(text, &c) == 0);
	CHECK(c.peers[0].mobike_policy.rr == POLICY_MOBIKE_RR_NEVER);
	vpngw_conf_clear(&c);
}

static void test_full_conf(void)
{
	struct vpngw_conf c;
	const struct ike_peer_cfg *p;
	char text[2048];
	const char *log;

	if (!have_openssl)
		return;
	snprintf(text, sizeof(text),
		 "[gateway]\n"
		 "listen = 198.19.0.2\n"
		 "pool = 198.18.100.0/24\n"
		 "tunnel-address = 198.18.100.1\n"
		 "tunnel-device = gw0\n"
		 "tunnel-mtu = 1300\n"
		 "control-socket = /tmp/x/vpngw.sock\n"
		 "cookie-threshold = 5\n"
		 "half-open-max = 100\n"
		 "max-sas = 1000\n"
		 "dpd-interval = 0\n"
		 "handover-replay-ms = 0\n"
		 "handover-replay-bytes = 131072\n"
		 "handover-replay-rtt-ms = 40\n"
		 "colour = blue\n"
		 "[peer certs]\n"
		 "remote-id = %%any\n"
		 "auth = cert\n"
		 "cert = gw.crt\n"
		 "key = %s/gw.key\n"
		 "ca = ca.crt, gw.crt\n"
		 "ike = aes256gcm16-prfsha384-ecp384\n"
		 "esp = aes256gcm16-x25519-esn\n"
		 "local-ts = 198.18.0.0/16, 10.1.0.0/24\n"
		 "ike-lifetime = 0\n"
		 "child-lifetime = 600\n"
		 "[peer psk]\n"
		 "remote-id = dn:CN=laptop\n"
		 "auth = psk\n"
		 "psk-file = hex.psk\n"
		 "local-ts = 0.0.0.0/0\n"
		 "assign-address = no\n"
		 "[peer named]\n"
		 "auth = cert\n"
		 "local-id = fqdn:vpngw.test\n"
		 "cert = gw.crt\n"
		 "key = gw.key\n"
		 "ca = ca.crt\n"
		 "local-ts = 198.18.1.0/24\n"
		 "[other]\n"
		 "x = 1\n", dir);
	memset(&c, 0, sizeof(c));
	capture_start();
	CHECK(load(text, &c) == 0);
	log = capture_end();
	CHECK(strstr(log, "vpngw.conf: [gateway] colour: unknown key (ignored)") != NULL);
	CHECK(strstr(log, "vpngw.conf: [other]: unknown group (ignored)") != NULL);
	CHECK_EQ_U64(capture_lines(log), 2);
	CHECK(c.tunnel_addr.s_addr == ip("198.18.100.1").s_addr);
	CHECK_STR(c.tunnel_device, "gw0");
	CHECK_EQ_U64(c.tunnel_mtu, 1300);
	CHECK_STR(c.control_socket, "/tmp/x/vpngw.sock");
	CHECK(c.keylog_file == NULL);
	CHECK_EQ_U64(c.cookie_threshold, 5);
	CHECK_EQ_U64(c.half_open_max, 100);
	CHECK_EQ_U64(c.max_sas, 1000);
	CHECK_EQ_U64(c.dpd_interval, 0);
	CHECK_EQ_U64(c.replay_ms, 0);
	CHECK_EQ_U64(c.replay_bytes, 131072);
	CHECK_EQ_U64(c.replay_rtt_ms, 40);
	CHECK_EQ_U64(c.ndns, 0);
	CHECK_EQ_U64(c.npeers, 3);
	p = &c.peers[0];
	CHECK_STR(p->name, "certs");
	CHECK(p->remote_id.type == 0);
	/* local-id defaults to the certificate's subject. */
	CHECK(p->local_id.type == 9 && creds_cert_matches_id(c.own[0].cert, &p->local_id));
	CHECK(p->local.auth == IKE_AUTHK_SIGNATURE && p->remote.auth == IKE_AUTHK_SIGNATURE);
	CHECK(p->local.cert == c.own[0].cert && p->local.key == c.own[0].key &&
	      p->remote.trust == c.own[0].ca && p->local.cert && p->local.key && p->remote.trust);
	CHECK(p->local.psk == NULL);
	CHECK(p->ike.n == 1 && p->ike.suite[0].encr_key_bits == 256 && p->ike.suite[0].dh == 20);
	CHECK(p->esp.n == 1 && p->esp.suite[0].dh == 31 && p->esp.suite[0].esn == 1);
	CHECK_EQ_U64(p->local_ts.n, 2);
	CHECK(p->local_ts.ts[1].start.s_addr == ip("10.1.0.0").s_addr &&
	      p->local_ts.ts[1].end.s_addr == ip("10.1.0.255").s_addr);
	CHECK_EQ_U64(p->ike_lifetime_s, 0);
	CHECK_EQ_U64(p->child_lifetime_s, 600);
	CHECK_EQ_U64(p->dpd_interval_s, 0);
	p = &c.peers[1];
	CHECK_STR(p->name, "psk");
	CHECK(p->remote_id.type == 9);
	/* A PSK gateway is its address by default. */
	CHECK(p->local_id.type == 1 && p->local_id.len == 4 &&
	      memcmp(p->local_id.data, "\xc6\x13\x00\x02", 4) == 0);
	CHECK(p->local.psk_len == 16 && p->local.psk[15] == 0xff);
	CHECK(!p->assign_address);
	CHECK(p->local_ts.ts[0].start.s_addr == 0 && p->local_ts.ts[0].end.s_addr == 0xffffffff);
	p = &c.peers[2];
	CHECK(p->local_id.type == 2);
	vpngw_conf_clear(&c);
}

/* The load must fail with exactly one error line that contains want (with DIR replaced by
 * the temporary directory), leaving *out alone. */
static bool conf_bad(const char *text, const char *want)
{
	struct vpngw_conf c, before;
	const char *log;
	int rc, errors = 0;
	GString *w = g_string_new(want);
	bool ok;

	g_string_replace(w, "DIR", dir, 0);
	memset(&c, 0x3c, sizeof(c));
	before = c;
	capture_start();
	rc = load(text, &c);
	log = capture_end();
	for (const char *s = log; (s = strstr(s, "<3>")); s++)
		errors++;
	ok = rc == -EINVAL && errors == 1 && strstr(log, w->str) != NULL &&
	     memcmp(&c, &before, sizeof(c)) == 0;
	if (!ok)
		printf("# rc %d, %d error lines, wanted: %s\n", rc, errors, w->str);
	g_string_free(w, TRUE);
	return ok;
}

/* PSK_CONF with one line replaced (or, when from is not found, text appended). */
static char *variant(const char *from, const char *to)
{
	GString *g = g_string_new(PSK_CONF);

	if (strstr(g->str, from))
		g_string_replace(g, from, to, 1);
	else
		g_string_append(g, to);
	return g_string_free(g, FALSE);
}

static bool v_bad(const char *from, const char *to, const char *want)
{
	char *t = variant(from, to);
	bool ok = conf_bad(t, want);

	g_free(t);
	return ok;
}

static void test_errors(void)
{
	/* [gateway] */
	CHECK(conf_bad("[peer mn]\nauth = psk\n", "vpngw.conf: [gateway]: missing (required)"));
	CHECK(v_bad("listen = 198.19.0.2\n", "", "vpngw.conf: [gateway] listen: missing "
		    "(required)"));
	CHECK(v_bad("listen = 198.19.0.2\n", "listen = 198.19.0\n", "vpngw.conf: [gateway] "
		    "listen: \"198.19.0\" is not an IPv4 address"));
	CHECK(v_bad("pool = 198.18.100.0/24\n", "pool = 198.18.100.1/24\n", "vpngw.conf: "
		    "[gateway] pool: 198.18.100.1/24 has host bits set"));
	CHECK(v_bad("pool = 198.18.100.0/24\n", "pool = 198.0.0.0/8\n", "vpngw.conf: [gateway] "
		    "pool: 198.0.0.0/8: the prefix length must be 16..30"));
	CHECK(v_bad("pool = 198.18.100.0/24\n", "pool = 198.18.100.0/31\n", "vpngw.conf: "
		    "[gateway] pool: 198.18.100.0/31: the prefix length must be 16..30"));
	CHECK(v_bad("pool = 198.18.100.0/24\n", "pool = 198.19.0.0/24\n", "vpngw.conf: "
		    "[gateway] pool: contains the listen address"));
	CHECK(v_bad("[peer mn]", "tunnel-address = 198.19.0.2\n[peer mn]", "vpngw.conf: "
		    "[gateway] tunnel-address: is the listen address"));
	CHECK(v_bad("[peer mn]", "tunnel-address = 198.18.100.255\n[peer mn]", "vpngw.conf: "
		    "[gateway] tunnel-address: is the network or broadcast address of the pool"));
	CHECK(v_bad("[peer mn]", "tunnel-address = 198.18.100.0\n[peer mn]", "vpngw.conf: "
		    "[gateway] tunnel-address: is the network or broadcast address of the pool"));
	CHECK(v_bad("[peer mn]", "tunnel-address = 1.2.3\n[peer mn]", "vpngw.conf: [gateway] "
		    "tunnel-address: \"1.2.3\" is not an IPv4 address"));
	CHECK(v_bad("dns = 198.18.1.53, 198.18.1.54\n", "dns = 198.18.1.53, x\n", "vpngw.conf: "
		    "[gateway] dns: \"x\" is not an IPv4 address"));
	CHECK(v_bad("dns = 198.18.1.53, 198.18.1.54\n", "dns = 1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,"
		    "1.1.1.5\n", "vpngw.conf: [gateway] dns: 5 servers; at most 4"));
	CHECK(v_bad("dns = 198.18.1.53, 198.18.1.54\n", "dns = 1.1.1.1,,1.1.1.2\n",
		    "vpngw.conf: [gateway] dns:"));
	CHECK(v_bad("[peer mn]", "tunnel-device = a/b\n[peer mn]", "vpngw.conf: [gateway] "
		    "tunnel-device:"));
	CHECK(v_bad("[peer mn]", "tunnel-mtu = 100\n[peer mn]", "vpngw.conf: [gateway] "
		    "tunnel-mtu: 100 is out of range (576..9000)"));
	CHECK(v_bad("[peer mn]", "cookie-threshold = 0\n[peer mn]", "vpngw.conf: [gateway] "
		    "cookie-threshold: 0 is out of range (1..1000000)"));
	CHECK(v_bad("[peer mn]", "half-open-max = x\n[peer mn]", "vpngw.conf: [gateway] "
		    "half-open-max:"));
	CHECK(v_bad("[peer mn]", "max-sas = 0\n[peer mn]", "vpngw.conf: [gateway] max-sas: 0 is "
		    "out of range"));
	CHECK(v_bad("[peer mn]", "dpd-interval = 86401\n[peer mn]", "vpngw.conf: [gateway] "
		    "dpd-interval: 86401 is out of range (0..86400)"));
	CHECK(v_bad("[peer mn]", "handover-replay-ms = 10001\n[peer mn]", "vpngw.conf: "
		    "[gateway] handover-replay-ms: 10001 is out of range (0..10000)"));
	CHECK(v_bad("[peer mn]", "handover-replay-bytes = 100\n[peer mn]", "vpngw.conf: "
		    "[gateway] handover-replay-bytes: 100 is out of range"));
	CHECK(v_bad("[peer mn]", "handover-replay-rtt-ms = 0\n[peer mn]", "vpngw.conf: "
		    "[gateway] handover-replay-rtt-ms: 0 is out of range (1..10000)"));
	CHECK(v_bad("[peer mn]", "cookie-threshold = 50\nhalf-open-max = 40\n[peer mn]",
		    "vpngw.conf: [gateway] cookie-threshold: 50 is above half-open-max (40): "
		    "cookies would never be asked for"));
	CHECK(v_bad("[peer mn]", "control-socket =\n[peer mn]", "vpngw.conf: [gateway] "
		    "control-socket: value is empty"));

	/* Peer groups. */
	CHECK(conf_bad("[gateway]\nlisten = 198.19.0.2\n", "vpngw.conf: no [peer NAME] group: "
		       "at least one peer class is required"));
	CHECK(conf_bad("[gateway]\nlisten = 198.19.0.2\n[other]\n", "vpngw.conf: no [peer NAME] "
		       "group: at least one peer class is required"));
	CHECK(v_bad("[peer mn]", "[peer]", "vpngw.conf: [peer]: a peer group needs a name: "
		    "[peer NAME]"));
	CHECK(v_bad("remote-id = mn@test\n", "remote-id = foo:bar\n", "vpngw.conf: [peer mn] "
		    "remote-id: unknown identity type \"foo\" (fqdn, email, dn, ipv4)"));
	CHECK(v_bad("local-id = fqdn:vpngw.test\n", "local-id = %any\n", "vpngw.conf: [peer mn] "
		    "local-id: %any cannot be our own identity"));
	CHECK(v_bad("local-id = fqdn:vpngw.test\n", "local-id = dn:XX=1\n", "vpngw.conf: "
		    "[peer mn] local-id: \"dn:XX=1\" is not a distinguished name: unknown "
		    "attribute \"XX\""));
	CHECK(v_bad("auth = psk\n", "", "vpngw.conf: [peer mn] auth: missing (required)"));
	CHECK(v_bad("auth = psk\n", "auth = psk\nmobike = perhaps\n", "vpngw.conf: [peer mn] "
		    "mobike:"));
	CHECK(v_bad("auth = psk\n", "auth = psk\nmobike-nat = deny\n", "vpngw.conf: [peer mn] "
		    "mobike-nat: \"deny\" is not one of: allow, refuse"));
	CHECK(v_bad("auth = psk\n", "auth = psk\nmobike-return-routability = sometimes\n",
		    "vpngw.conf: [peer mn] mobike-return-routability: \"sometimes\" is not one of: "
		    "new-address, always, never"));
	CHECK(v_bad("auth = psk\n", "auth = psk\nmobike-allowed = 198.19.0.1/16\n",
		    "vpngw.conf: [peer mn] mobike-allowed: \"198.19.0.1/16\" is not a network"));
	CHECK(v_bad("auth = psk\n", "auth = psk\nmobike-allowed = 1.0.0.0/8,2.0.0.0/8,3.0.0.0/8,"
		    "4.0.0.0/8,5.0.0.0/8,6.0.0.0/8,7.0.0.0/8,8.0.0.0/8,9.0.0.0/8\n",
		    "vpngw.conf: [peer mn] mobike-allowed: at most 8 prefixes"));
	CHECK(v_bad("auth = psk\n", "auth = psk\nmobike = no\nmobike-nat = refuse\n",
		    "vpngw.conf: [peer mn] mobike: no, but mobike-* keys are set"));
	CHECK(v_bad("auth = psk\n", "auth = eap\n", "vpngw.conf: [peer mn] auth: \"eap\" is not "
		    "one of: psk, cert"));
	CHECK(v_bad("psk-file = text.psk\n", "", "vpngw.conf: [peer mn] psk-file: missing "
		    "(required)"));
	CHECK(v_bad("psk-file = text.psk\n", "psk-file = open.psk\n", "vpngw.conf: [peer mn] "
		    "psk-file: DIR/open.psk is accessible by group or others (mode 0640): chmod "
		    "600 DIR/open.psk"));
	CHECK(v_bad("psk-file = text.psk\n", "psk-file = short.psk\n", "vpngw.conf: [peer mn] "
		    "psk-file: the secret in DIR/short.psk is 8 bytes; at least 16 are required"));
	CHECK(v_bad("psk-file = text.psk\n", "psk-file = text.psk\ncert = gw.crt\n",
		    "vpngw.conf: [peer mn] cert: only for auth = cert"));
	CHECK(v_bad("psk-file = text.psk\n", "psk-file = text.psk\nca = ca.crt\n",
		    "vpngw.conf: [peer mn] ca: only for auth = cert"));
	CHECK(v_bad("ike = x\n", "ike = aes128gcm16-x25519\n", "vpngw.conf: [peer mn] ike: IKE "
		    "proposal \"aes128gcm16-x25519\" has no PRF (an AEAD needs one, e.g. "
		    "prfsha256)"));
	CHECK(v_bad("esp = x\n", "esp = aes128gcm16-prfsha256\n", "vpngw.conf: [peer mn] esp: "
		    "\"prfsha256\" in proposal \"aes128gcm16-prfsha256\": a PRF belongs to IKE "
		    "proposals, not ESP"));
	CHECK(v_bad("local-ts = 198.18.0.0/16\n", "", "vpngw.conf: [peer mn] local-ts: missing "
		    "(required)"));
	CHECK(v_bad("local-ts = 198.18.0.0/16\n", "local-ts = 198.18.1.1/16\n", "vpngw.conf: "
		    "[peer mn] local-ts: 198.18.1.1/16 has host bits set; the network is "
		    "198.18.0.0/16"));
	CHECK(v_bad("local-ts = 198.18.0.0/16\n", "local-ts = 198.18.0.0\n", "vpngw.conf: "
		    "[peer mn] local-ts: \"198.18.0.0\" is not a network a.b.c.d/len"));
	CHECK(v_bad("local-ts = 198.18.0.0/16\n", "local-ts = 10.0.0.0/8,10.1.0.0/16,"
		    "10.2.0.0/16,10.3.0.0/16,10.4.0.0/16,10.5.0.0/16,10.6.0.0/16,10.7.0.0/16,"
		    "10.8.0.0/16\n", "vpngw.conf: [peer mn] local-ts: 9 selectors; at most 8"));
	CHECK(v_bad("pool = 198.18.100.0/24\n", "", "vpngw.conf: [peer mn] assign-address: yes "
		    "needs a pool in [gateway]"));
	CHECK(v_bad("local-ts = 198.18.0.0/16\n", "local-ts = 198.18.0.0/16\nassign-address = "
		    "perhaps\n", "vpngw.conf: [peer mn] assign-address:"));
	CHECK(v_bad("local-ts = 198.18.0.0/16\n", "local-ts = 198.18.0.0/16\nchild-lifetime = "
		    "30\n", "vpngw.conf: [peer mn] child-lifetime: 30 s is too short (at least 60, "
		    "or 0 for never)"));
	CHECK(v_bad("local-ts = 198.18.0.0/16\n", "local-ts = 198.18.0.0/16\nike-lifetime = "
		    "59\n", "vpngw.conf: [peer mn] ike-lifetime: 59 s is too short (at least 60, or "
		    "0 for never)"));
	CHECK(v_bad("local-ts = 198.18.0.0/16\n", "local-ts = 198.18.0.0/16\nike-lifetime = "
		    "604801\n", "vpngw.conf: [peer mn] ike-lifetime: 604801 is out of range"));
	CHECK(v_bad("ZZZ", "[peer mn2]\nremote-id = email:mn@test\nauth = psk\npsk-file = "
		    "hex.psk\nlocal-ts = 0.0.0.0/0\n", "vpngw.conf: [peer mn2] remote-id: the same "
		    "as in [peer mn] with the same auth: the peer class would be ambiguous"));
	/* The first bad peer stops the load; later groups are not looked at. */
	CHECK(v_bad("ZZZ", "[peer b]\nauth = psk\npsk-file = nope.psk\nlocal-ts = 0.0.0.0/0\n"
		    "[peer c]\nauth = nope\n", "vpngw.conf: [peer b] psk-file: cannot open "
		    "DIR/nope.psk: No such file or directory"));

	if (!have_openssl)
		return;
	{
		static const char CERT_PEER[] =
			"[gateway]\nlisten = 198.19.0.2\n"
			"[peer gw]\nauth = cert\nassign-address = no\nlocal-ts = 0.0.0.0/0\n";
		struct {
			const char *lines, *want;
		} v[] = {
			{ "key = gw.key\nca = ca.crt\n", "vpngw.conf: [peer gw] cert: missing "
			  "(required)" },
			{ "cert = gw.crt\nca = ca.crt\n", "vpngw.conf: [peer gw] key: missing "
			  "(required)" },
			{ "cert = gw.crt\nkey = gw.key\n", "vpngw.conf: [peer gw] ca: missing "
			  "(required)" },
			{ "cert = nope.crt\nkey = gw.key\nca = ca.crt\n", "vpngw.conf: [peer gw] "
			  "cert: cannot open DIR/nope.crt: No such file or directory" },
			{ "cert = text.psk\nkey = gw.key\nca = ca.crt\n", "vpngw.conf: [peer gw] "
			  "cert: DIR/text.psk holds no PEM certificate" },
			{ "cert = gw.crt\nkey = gw-open.key\nca = ca.crt\n", "vpngw.conf: [peer gw] "
			  "key: DIR/gw-open.key is accessible by group or others (mode 0644): chmod "
			  "600 DIR/gw-open.key" },
			{ "cert = gw.crt\nkey = text.psk\nca = ca.crt\n", "vpngw.conf: [peer gw] "
			  "key: DIR/text.psk holds no unencrypted PEM private key" },
			{ "cert = gw.crt\nkey = other.key\nca = ca.crt\n", "vpngw.conf: [peer gw] "
			  "key: DIR/other.key does not belong to the certificate DIR/gw.crt" },
			{ "cert = gw.crt\nkey = gw.key\nca = ca.crt\nlocal-id = fqdn:other.test\n",
			  "vpngw.conf: [peer gw] local-id: \"other.test\" is not in the certificate "
			  "DIR/gw.crt (subject or subjectAltName)" },
			{ "cert = gw.crt\nkey = gw.key\nca = ca.crt, text.psk\n", "vpngw.conf: "
			  "[peer gw] ca: DIR/text.psk holds no PEM certificate" },
			{ "cert = gw.crt\nkey = gw.key\nca = ca.crt, nope.crt\n", "vpngw.conf: "
			  "[peer gw] ca: cannot open DIR/nope.crt: No such file or directory" },
			{ "cert = gw.crt\nkey = gw.key\nca = ca.crt\npsk-file = text.psk\n",
			  "vpngw.conf: [peer gw] psk-file: only for auth = psk" },
		};

		for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			char *t = g_strconcat(CERT_PEER, v[i].lines, NULL);

			CHECK(conf_bad(t, v[i].want));
			g_free(t);
		}
	}
}

static void test_load_file(void)
{
	struct vpngw_conf c;
	char path[256];
	const char *log;

	memset(&c, 0, sizeof(c));
	write_file("vpngw.conf", PSK_CONF, 0644);
	snprintf(path, sizeof(path), "%s/vpngw.conf", dir);
	capture_start();
	CHECK(vpngw_conf_load(path, &c) == 0);
	capture_end();
	CHECK(c.npeers == 1 && c.peers[0].local.psk_len == 23);
	vpngw_conf_clear(&c);
	snprintf(path, sizeof(path), "%s/none.conf", dir);
	capture_start();
	CHECK(vpngw_conf_load(path, &c) == -EINVAL);
	log = capture_end();
	CHECK(strstr(log, "none.conf") && strstr(log, "No such file or directory"));
	CHECK(vpngw_conf_load(NULL, &c) == -EINVAL);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_vpngw_conf.XXXXXX");
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	make_certs();
	test_ident();
	test_psk();
	test_cert_files();
	test_psk_conf();
	test_mobike_conf();
	test_full_conf();
	test_errors();
	test_load_file();
	sh("rm -rf %s", dir);
	capture_free();
	return tap_done();
}
