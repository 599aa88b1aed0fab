/* Unit tests for daemon/proposals.{h,c}: every accepted form and every error message.
 *
 * The expected transform IDs are written as numbers taken from the RFC texts in
 * /work/shared/rfc, not from ike/transform.h:
 *	ENCR_AES_CBC 12                           rfc7296.txt 3.3.2 (Transform Type 1 table)
 *	ENCR_AES_GCM_16 20                        rfc4106.txt 8.1 ("20 for AES-GCM with a 16
 *	                                          octet ICV"), rfc5282.txt 10
 *	ENCR_CHACHA20_POLY1305 28                 rfc7634.txt 4 ("IANA has assigned the value 28")
 *	PRF_HMAC_SHA2_256/384/512 5/6/7           rfc4868.txt 7
 *	AUTH_HMAC_SHA2_256_128/384_192/512_256 12/13/14   rfc4868.txt 7
 *	2048-bit MODP 14                          rfc7296.txt 3.3.2 (Transform Type 4 table)
 *	256-bit random ECP 19                     rfc8247.txt 2.4
 *	384-bit random ECP 20                     IANA IKEv2 Transform Type 4 (rfc5903.txt 7
 *	                                          names the registry entry "384-bit random ECP
 *	                                          group"; strongSwan's ecp384 is 20)
 *	Curve25519 31                             rfc8031.txt 4
 *	ESN 1 / no ESN 0                          rfc7296.txt 3.3.2 (Transform Type 5)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon/proposals.h"
#include "tests/unit/tap.h"

static char err[256];

/* Parse and compare one suite field by field. */
static bool suite_is(const struct ike_suite *s, unsigned encr, unsigned bits, unsigned integ,
		     unsigned prf, unsigned dh, unsigned esn)
{
	bool ok = s->encr == encr && s->encr_key_bits == bits && s->integ == integ &&
		  s->prf == prf && s->dh == dh && s->esn == esn;

	if (!ok)
		printf("# suite: encr %u/%u integ %u prf %u dh %u esn %u\n", s->encr,
		       s->encr_key_bits, s->integ, s->prf, s->dh, s->esn);
	return ok;
}

static bool one(const char *text, enum ike_suite_use use, unsigned encr, unsigned bits,
		unsigned integ, unsigned prf, unsigned dh, unsigned esn)
{
	struct ike_proposals p;
	int rc;

	memset(&p, 0xa5, sizeof(p));
	rc = proposals_parse(text, use, &p, err, sizeof(err));
	if (rc != 0) {
		printf("# \"%s\": %d %s\n", text, rc, err);
		return false;
	}
	return p.n == 1 && suite_is(&p.suite[0], encr, bits, integ, prf, dh, esn) &&
	       err[0] == '\0';
}

static void test_ike_forms(void)
{
	const enum ike_suite_use I = IKE_SUITE_IKE;

	CHECK(one("aes128gcm16-prfsha256-x25519", I, 20, 128, 0, 5, 31, 0));
	CHECK(one("aes256gcm16-prfsha384-ecp384", I, 20, 256, 0, 6, 20, 0));
	CHECK(one("chacha20poly1305-prfsha256-x25519", I, 28, 0, 0, 5, 31, 0));
	/* CBC: the PRF follows the integrity algorithm. */
	CHECK(one("aes128-sha256-modp2048", I, 12, 128, 12, 5, 14, 0));
	CHECK(one("aes256-sha384-ecp256", I, 12, 256, 13, 6, 19, 0));
	CHECK(one("aes256-sha512-ecp256", I, 12, 256, 14, 7, 19, 0));
	/* An explicit PRF wins over the derived one. */
	CHECK(one("aes128-sha256-prfsha512-modp2048", I, 12, 128, 12, 7, 14, 0));
	/* Aliases, case, surrounding blanks. */
	CHECK(one("aes128gcm128-prfsha256-curve25519", I, 20, 128, 0, 5, 31, 0));
	CHECK(one("aes256gcm-prfsha512-ecp256", I, 20, 256, 0, 7, 19, 0));
	CHECK(one("AES128-SHA2_256-MODP2048", I, 12, 128, 12, 5, 14, 0));
	CHECK(one("  aes128gcm16-prfsha256-x25519\t", I, 20, 128, 0, 5, 31, 0));
}

static void test_esp_forms(void)
{
	const enum ike_suite_use E = IKE_SUITE_ESP;

	CHECK(one("aes128gcm16", E, 20, 128, 0, 0, 0, 0));
	CHECK(one("aes256gcm16-x25519", E, 20, 256, 0, 0, 31, 0));
	CHECK(one("chacha20poly1305", E, 28, 0, 0, 0, 0, 0));
	CHECK(one("aes128-sha256", E, 12, 128, 12, 0, 0, 0));
	CHECK(one("aes256-sha2_256-modp2048", E, 12, 256, 12, 0, 14, 0));
	CHECK(one("aes128gcm16-esn", E, 20, 128, 0, 0, 0, 1));
	CHECK(one("aes128gcm16-noesn", E, 20, 128, 0, 0, 0, 0));
	CHECK(one("aes128-sha256-ecp256-esn", E, 12, 128, 12, 0, 19, 1));
}

static void test_lists(void)
{
	struct ike_proposals p;

	memset(&p, 0, sizeof(p));
	CHECK(proposals_parse("aes128gcm16-prfsha256-x25519, aes256gcm16-prfsha384-ecp384,"
			      "chacha20poly1305-prfsha256-x25519,aes128-sha256-modp2048",
			      IKE_SUITE_IKE, &p, err, sizeof(err)) == 0);
	CHECK_EQ_U64(p.n, 4);
	CHECK(suite_is(&p.suite[0], 20, 128, 0, 5, 31, 0));
	CHECK(suite_is(&p.suite[1], 20, 256, 0, 6, 20, 0));
	CHECK(suite_is(&p.suite[2], 28, 0, 0, 5, 31, 0));
	CHECK(suite_is(&p.suite[3], 12, 128, 12, 5, 14, 0));

	memset(&p, 0, sizeof(p));
	CHECK(proposals_parse("aes128gcm16, aes256gcm16-x25519, chacha20poly1305, aes128-sha256",
			      IKE_SUITE_ESP, &p, err, sizeof(err)) == 0);
	CHECK_EQ_U64(p.n, 4);
	CHECK(suite_is(&p.suite[1], 20, 256, 0, 0, 31, 0));
	CHECK(suite_is(&p.suite[3], 12, 128, 12, 0, 0, 0));

	/* Several of a kind: every combination, encryption varying slowest. */
	memset(&p, 0, sizeof(p));
	CHECK(proposals_parse("aes128gcm16-aes256gcm16-prfsha256-x25519-ecp256",
			      IKE_SUITE_IKE, &p, err, sizeof(err)) == 0);
	CHECK_EQ_U64(p.n, 4);
	CHECK(suite_is(&p.suite[0], 20, 128, 0, 5, 31, 0));
	CHECK(suite_is(&p.suite[1], 20, 128, 0, 5, 19, 0));
	CHECK(suite_is(&p.suite[2], 20, 256, 0, 5, 31, 0));
	CHECK(suite_is(&p.suite[3], 20, 256, 0, 5, 19, 0));
	/* Two integrity algorithms without PRF: each brings its own PRF. */
	memset(&p, 0, sizeof(p));
	CHECK(proposals_parse("aes128-sha256-sha384-modp2048", IKE_SUITE_IKE, &p, err,
			      sizeof(err)) == 0);
	CHECK_EQ_U64(p.n, 2);
	CHECK(suite_is(&p.suite[0], 12, 128, 12, 5, 14, 0));
	CHECK(suite_is(&p.suite[1], 12, 128, 13, 6, 14, 0));
	/* esn-noesn: both offered. */
	memset(&p, 0, sizeof(p));
	CHECK(proposals_parse("aes128gcm16-esn-noesn", IKE_SUITE_ESP, &p, err, sizeof(err)) == 0);
	CHECK_EQ_U64(p.n, 2);
	CHECK(suite_is(&p.suite[0], 20, 128, 0, 0, 0, 1));
	CHECK(suite_is(&p.suite[1], 20, 128, 0, 0, 0, 0));
	/* Exactly IKE_CFG_MAX_SUITES (8) is fine. */
	memset(&p, 0, sizeof(p));
	CHECK(proposals_parse("aes128gcm16-aes256gcm16-prfsha256-prfsha384-x25519-ecp256",
			      IKE_SUITE_IKE, &p, err, sizeof(err)) == 0);
	CHECK_EQ_U64(p.n, 8);
}

/* A parse that must fail with exactly this message, leaving the output alone. */
static bool bad(const char *text, enum ike_suite_use use, const char *want)
{
	struct ike_proposals p, before;
	int rc;

	memset(&p, 0x5a, sizeof(p));
	before = p;
	rc = proposals_parse(text, use, &p, err, sizeof(err));
	if (rc != -EINVAL || strcmp(err, want) != 0) {
		printf("# \"%s\": rc %d, message \"%s\"\n#   expected \"%s\"\n", text, rc, err,
		       want);
		return false;
	}
	return memcmp(&p, &before, sizeof(p)) == 0;
}

static void test_errors(void)
{
	const enum ike_suite_use I = IKE_SUITE_IKE, E = IKE_SUITE_ESP;
	struct ike_proposals p;
	char small[16];

	CHECK(bad("aes129-sha256-modp2048", I,
		  "unknown algorithm \"aes129\" in proposal \"aes129-sha256-modp2048\""));
	CHECK(bad("aes128-sha1-modp2048", I,
		  "algorithm \"sha1\" in proposal \"aes128-sha1-modp2048\" is not supported"));
	CHECK(bad("aes192gcm16-prfsha256-x25519", I, "algorithm \"aes192gcm16\" in proposal "
		  "\"aes192gcm16-prfsha256-x25519\" is not supported"));
	CHECK(bad("aes128-sha256-modp1024", I, "algorithm \"modp1024\" in proposal "
		  "\"aes128-sha256-modp1024\" is not supported"));
	CHECK(bad("aes128gcm16-prfsha256", E, "\"prfsha256\" in proposal "
		  "\"aes128gcm16-prfsha256\": a PRF belongs to IKE proposals, not ESP"));
	CHECK(bad("aes128gcm16-prfsha256-x25519-esn", I, "\"esn\" in proposal "
		  "\"aes128gcm16-prfsha256-x25519-esn\": ESN belongs to ESP proposals, not IKE"));
	CHECK(bad("aes128-sha384", E, "\"sha384\" in proposal \"aes128-sha384\": ESP supports "
		  "sha256 only as integrity algorithm"));
	CHECK(bad("aes128-sha256-sha2_256-modp2048", I, "\"sha2_256\" appears twice in proposal "
		  "\"aes128-sha256-sha2_256-modp2048\""));
	CHECK(bad("sha256-modp2048", I, "IKE proposal \"sha256-modp2048\" has no encryption "
		  "algorithm"));
	CHECK(bad("x25519", E, "ESP proposal \"x25519\" has no encryption algorithm"));
	CHECK(bad("aes128-aes128gcm16-sha256", E, "proposal \"aes128-aes128gcm16-sha256\" mixes "
		  "AEAD and non-AEAD encryption (aes128, aes128gcm16): write them as two "
		  "proposals"));
	CHECK(bad("aes128gcm16-sha256", E, "proposal \"aes128gcm16-sha256\": aes128gcm16 is an "
		  "AEAD and takes no integrity algorithm (sha256)"));
	CHECK(bad("aes256", E, "proposal \"aes256\": aes256 needs an integrity algorithm "
		  "(e.g. sha256)"));
	CHECK(bad("aes128gcm16-prfsha256", I, "IKE proposal \"aes128gcm16-prfsha256\" has no DH "
		  "group (e.g. x25519)"));
	CHECK(bad("aes128gcm16-x25519", I, "IKE proposal \"aes128gcm16-x25519\" has no PRF (an "
		  "AEAD needs one, e.g. prfsha256)"));
	CHECK(bad("aes128--sha256", E, "empty algorithm name in proposal \"aes128--sha256\""));
	CHECK(bad("-aes128gcm16", E, "empty algorithm name in proposal \"-aes128gcm16\""));
	CHECK(bad("aes128gcm16-", E, "empty algorithm name in proposal \"aes128gcm16-\""));
	CHECK(bad("aes128gcm16,,aes256gcm16", E, "empty proposal in \"aes128gcm16,,aes256gcm16\""));
	CHECK(bad("aes128gcm16, ,aes256gcm16", E,
		  "empty proposal in \"aes128gcm16, ,aes256gcm16\""));
	CHECK(bad("aes128gcm16,", E, "empty proposal in \"aes128gcm16,\""));
	CHECK(bad(",aes128gcm16", E, "empty proposal in \",aes128gcm16\""));
	CHECK(bad("", E, "empty proposal in \"\""));
	CHECK(bad("   ", E, "empty proposal in \"   \""));
	CHECK(bad("aes128gcm16-aes256gcm16-chacha20poly1305-prfsha256-prfsha384-x25519-ecp256",
		  I, "too many combinations: proposal \"aes128gcm16-aes256gcm16-chacha20poly1305-"
		  "prfsha256-prfsha384-x25519-ecp256\" makes 12, and at most 8 fit in one list"));
	/* The limit counts over the whole list. */
	CHECK(bad("aes128gcm16-aes256gcm16-prfsha256-prfsha384-x25519-ecp256, "
		  "chacha20poly1305-prfsha256-x25519", I, "too many combinations: proposal "
		  "\"chacha20poly1305-prfsha256-x25519\" makes 1, and at most 8 fit in one list"));
	CHECK(bad("aes128-aes256-aes128gcm16-aes256gcm16-chacha20poly1305-aes128-sha256", E,
		  "\"aes128\" appears twice in proposal \"aes128-aes256-aes128gcm16-aes256gcm16-"
		  "chacha20poly1305-aes128-sha256\""));
	CHECK(bad("aes128-sha256-modp2048-ecp256-ecp384-x25519-modp2048", I, "\"modp2048\" "
		  "appears twice in proposal \"aes128-sha256-modp2048-ecp256-ecp384-x25519-"
		  "modp2048\""));
	{
		/* Aliases of one algorithm are the same algorithm. */
		char nine[256];

		snprintf(nine, sizeof(nine), "aes128gcm16-%s", "prfsha256-prfsha384-prfsha512-"
			 "x25519-ecp256-ecp384-modp2048-curve25519");
		/* curve25519 is x25519 again. */
		CHECK(bad(nine, I, "\"curve25519\" appears twice in proposal \"aes128gcm16-"
			  "prfsha256-prfsha384-prfsha512-x25519-ecp256-ecp384-modp2048-curve25519\""));
		CHECK(bad("aes128gcm16-aes128gcm128", E, "\"aes128gcm128\" appears twice in proposal "
			  "\"aes128gcm16-aes128gcm128\""));
	}
	{
		char longtext[3000];

		memset(longtext, 'a', sizeof(longtext) - 1);
		longtext[sizeof(longtext) - 1] = '\0';
		CHECK(bad(longtext, E, "proposal list too long (2999 characters; at most 2048)"));
	}
	/* Bad arguments. */
	CHECK(proposals_parse(NULL, E, &p, err, sizeof(err)) == -EINVAL);
	CHECK(proposals_parse("aes128gcm16", E, NULL, err, sizeof(err)) == -EINVAL);
	CHECK(proposals_parse("aes128gcm16", (enum ike_suite_use)7, &p, err, sizeof(err)) ==
	      -EINVAL);
	/* err may be NULL; a short err buffer truncates but terminates. */
	CHECK(proposals_parse("nope", E, &p, NULL, 0) == -EINVAL);
	CHECK(proposals_parse("nope", E, &p, small, sizeof(small)) == -EINVAL &&
	      strlen(small) == sizeof(small) - 1 && strncmp(small, "unknown algorit", 15) == 0);
	/* A success clears an old message. */
	strcpy(err, "stale");
	CHECK(proposals_parse("aes128gcm16", E, &p, err, sizeof(err)) == 0 && err[0] == '\0');
}

static void test_format(void)
{
	static const struct {
		const char *text, *want;
		enum ike_suite_use use;
	} v[] = {
		{ "aes128gcm16-prfsha256-x25519", "aes128gcm16-prfsha256-x25519", IKE_SUITE_IKE },
		{ "aes256gcm128-prfsha384-ecp384", "aes256gcm16-prfsha384-ecp384", IKE_SUITE_IKE },
		{ "chacha20poly1305-prfsha256-curve25519", "chacha20poly1305-prfsha256-x25519",
		  IKE_SUITE_IKE },
		{ "aes128-sha256-modp2048", "aes128-sha256-prfsha256-modp2048", IKE_SUITE_IKE },
		{ "aes256-sha512-ecp256", "aes256-sha512-prfsha512-ecp256", IKE_SUITE_IKE },
		{ "aes128gcm16", "aes128gcm16", IKE_SUITE_ESP },
		{ "aes256gcm16-x25519", "aes256gcm16-x25519", IKE_SUITE_ESP },
		{ "aes128-sha256-esn", "aes128-sha256-esn", IKE_SUITE_ESP },
		{ "aes128gcm16-noesn", "aes128gcm16", IKE_SUITE_ESP },
	};
	struct ike_suite odd = { .encr = 99, .integ = 77, .prf = 55, .dh = 33 };
	char buf[96], tiny[8];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct ike_proposals p, q;

		memset(&p, 0, sizeof(p));
		memset(&q, 0, sizeof(q));
		proposals_parse(v[i].text, v[i].use, &p, err, sizeof(err));
		CHECK_STR(proposals_format(&p.suite[0], v[i].use, buf, sizeof(buf)), v[i].want);
		/* The printed form parses back to the same suite. */
		CHECK(proposals_parse(buf, v[i].use, &q, err, sizeof(err)) == 0 && q.n == 1 &&
		      memcmp(&p.suite[0], &q.suite[0], sizeof(q.suite[0])) == 0);
	}
	CHECK_STR(proposals_format(&odd, IKE_SUITE_IKE, buf, sizeof(buf)),
		  "encr99-integ77-prf55-dh33");
	CHECK_STR(proposals_format(&odd, IKE_SUITE_ESP, buf, sizeof(buf)), "encr99-integ77-dh33");
	CHECK_STR(proposals_format(NULL, IKE_SUITE_ESP, buf, sizeof(buf)), "");
	/* Truncation keeps the buffer terminated. */
	proposals_format(&odd, IKE_SUITE_IKE, tiny, sizeof(tiny));
	CHECK(strlen(tiny) == sizeof(tiny) - 1);
}

int main(void)
{
	test_ike_forms();
	test_esp_forms();
	test_lists();
	test_errors();
	test_format();
	return tap_done();
}
