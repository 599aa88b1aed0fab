/* Unit tests for ike/transform.c, ike/prf.c and ike/keys.c.
 *
 *  - transform table values and the selection check (RFC 7296 3.3, RFC 5282, RFC 7634);
 *  - PRF_HMAC_SHA2_256/384/512 against RFC 4868 2.7.1 (PRF-1..6) and 2.7.2 (AUTH256/384/512
 *    1..4, PRF outputs and the truncated HMAC-SHA-256-128/384-192/512-256);
 *  - prf+ against a separate T1 | T2 | ... chain built here with OpenSSL's one-shot HMAC(),
 *    and the 255-block limit (RFC 7296 2.13);
 *  - SKEYSEED / SK_* split order and lengths for an AEAD and a CBC suite, child KEYMAT with
 *    and without PFS, rekeyed SKEYSEED, PSK AUTH (RFC 7296 2.14, 2.15, 2.17, 2.18), each
 *    against the formula recomputed here with HMAC().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ike/keys.h"
#include "ike/prf.h"
#include "ike/transform.h"
#include "tests/unit/hexvec.h"
#include "tests/unit/tap.h"

/* --- transform --------------------------------------------------------------------------- */

static void test_tables(void)
{
	const struct ike_encr_info *cbc = ike_encr_lookup(IKE_ENCR_AES_CBC);
	const struct ike_encr_info *gcm = ike_encr_lookup(IKE_ENCR_AES_GCM_16);
	const struct ike_encr_info *cc = ike_encr_lookup(IKE_ENCR_CHACHA20_POLY1305);
	const struct ike_integ_info *i384 = ike_integ_lookup(IKE_INTEG_HMAC_SHA2_384_192);
	const struct ike_prf_info *p512 = ike_prf_lookup(IKE_PRF_HMAC_SHA2_512);

	/* IANA numbers (RFC 7296 3.3.2, RFC 4868, RFC 7634 6, RFC 5903, RFC 8031). */
	CHECK_EQ_U64(IKE_ENCR_AES_CBC, 12);
	CHECK_EQ_U64(IKE_ENCR_AES_GCM_16, 20);
	CHECK_EQ_U64(IKE_ENCR_CHACHA20_POLY1305, 28);
	CHECK_EQ_U64(IKE_PRF_HMAC_SHA2_384, 6);
	CHECK_EQ_U64(IKE_INTEG_HMAC_SHA2_512_256, 14);
	CHECK_EQ_U64(IKE_DH_CURVE25519, 31);

	CHECK(cbc && gcm && cc && i384 && p512);
	if (!cbc || !gcm || !cc || !i384 || !p512)
		return;
	CHECK(!cbc->aead && cbc->iv_len == 16 && cbc->block_len == 16 && cbc->salt_len == 0);
	CHECK(gcm->aead && gcm->iv_len == 8 && gcm->salt_len == 4 && gcm->icv_len == 16);
	CHECK(cc->aead && !cc->key_attr && cc->fixed_key_bits == 256 && cc->salt_len == 4);
	CHECK(i384->key_len == 48 && i384->icv_len == 24);   /* RFC 4868 2.6 */
	CHECK_EQ_U64(p512->len, 64);
	CHECK(ike_encr_lookup(3) == NULL);                     /* 3DES: not offered */
	CHECK(ike_integ_lookup(IKE_INTEG_NONE) == NULL);
	CHECK(ike_dh_lookup(IKE_DH_ECP_384) && ike_dh_lookup(IKE_DH_ECP_384)->public_len == 96);
	CHECK(ike_dh_lookup(2) == NULL);
	CHECK_STR(ike_transform_name(IKE_TRANSFORM_ENCR, 20), "AES_GCM_16");
	CHECK_STR(ike_transform_name(IKE_TRANSFORM_INTEG, 0), "NONE");
	CHECK_STR(ike_transform_name(IKE_TRANSFORM_DH, 99), "unknown");
}

static void test_suite_resolve(void)
{
	struct ike_suite gcm = { .encr = IKE_ENCR_AES_GCM_16, .encr_key_bits = 256,
				 .prf = IKE_PRF_HMAC_SHA2_256, .dh = IKE_DH_ECP_256 };
	struct ike_suite cbc = { .encr = IKE_ENCR_AES_CBC, .encr_key_bits = 128,
				 .integ = IKE_INTEG_HMAC_SHA2_256_128,
				 .prf = IKE_PRF_HMAC_SHA2_384, .dh = IKE_DH_MODP_2048 };
	struct ike_suite esp = { .encr = IKE_ENCR_CHACHA20_POLY1305, .esn = IKE_ESN_YES };
	struct ike_suite s;
	struct ike_algs a, sentinel;

	CHECK(ike_suite_resolve(&gcm, IKE_SUITE_IKE, &a) == 0);
	CHECK(a.encr_key_len == 32 && a.encr_keymat_len == 36 && a.integ_key_len == 0 &&
	      a.icv_len == 16 && a.iv_len == 8 && a.integ == NULL && a.prf && a.prf->len == 32);
	CHECK_STR(a.cipher, "AES-256-GCM");

	CHECK(ike_suite_resolve(&cbc, IKE_SUITE_IKE, &a) == 0);
	CHECK(a.encr_key_len == 16 && a.encr_keymat_len == 16 && a.integ_key_len == 32 &&
	      a.icv_len == 16 && a.iv_len == 16 && a.block_len == 16 && a.prf->len == 48);
	CHECK_STR(a.cipher, "AES-128-CBC");

	CHECK(ike_suite_resolve(&esp, IKE_SUITE_ESP, &a) == 0);
	CHECK(a.encr_keymat_len == 36 && a.esn && !a.prf && !a.dh);
	CHECK_STR(a.cipher, "ChaCha20-Poly1305");

	memset(&sentinel, 0x5a, sizeof(sentinel));
	a = sentinel;
	s = gcm;
	s.integ = IKE_INTEG_HMAC_SHA2_256_128;  /* AEAD + INTEG */
	CHECK_EQ_U64(ike_suite_resolve(&s, IKE_SUITE_IKE, &a), (uint64_t)-EINVAL);
	s = gcm;
	s.encr_key_bits = 0;                    /* AES without Key Length */
	CHECK_EQ_U64(ike_suite_resolve(&s, IKE_SUITE_IKE, &a), (uint64_t)-EINVAL);
	s.encr_key_bits = 192;                  /* not offered */
	CHECK_EQ_U64(ike_suite_resolve(&s, IKE_SUITE_IKE, &a), (uint64_t)-EINVAL);
	s = esp;
	s.encr_key_bits = 256;                  /* fixed-length key takes no attribute */
	CHECK_EQ_U64(ike_suite_resolve(&s, IKE_SUITE_ESP, &a), (uint64_t)-EINVAL);
	s = cbc;
	s.integ = IKE_INTEG_NONE;               /* CBC without INTEG */
	CHECK_EQ_U64(ike_suite_resolve(&s, IKE_SUITE_IKE, &a), (uint64_t)-EINVAL);
	s = cbc;
	s.integ = 2;                            /* HMAC-SHA1-96: not ours */
	CHECK_EQ_U64(ike_suite_resolve(&s, IKE_SUITE_IKE, &a), (uint64_t)-ENOTSUP);
	s = cbc;
	s.encr = 3;
	CHECK_EQ_U64(ike_suite_resolve(&s, IKE_SUITE_IKE, &a), (uint64_t)-ENOTSUP);
	s = gcm;
	s.dh = IKE_DH_NONE;                     /* IKE SA needs DH */
	CHECK_EQ_U64(ike_suite_resolve(&s, IKE_SUITE_IKE, &a), (uint64_t)-EINVAL);
	s = gcm;
	s.dh = 2;
	CHECK_EQ_U64(ike_suite_resolve(&s, IKE_SUITE_IKE, &a), (uint64_t)-ENOTSUP);
	s = gcm;
	s.prf = 0;
	CHECK_EQ_U64(ike_suite_resolve(&s, IKE_SUITE_IKE, &a), (uint64_t)-EINVAL);
	s = gcm;
	s.esn = IKE_ESN_YES;                    /* ESN is an ESP transform */
	CHECK_EQ_U64(ike_suite_resolve(&s, IKE_SUITE_IKE, &a), (uint64_t)-EINVAL);
	s = esp;
	s.prf = IKE_PRF_HMAC_SHA2_256;          /* ESP has no PRF */
	CHECK_EQ_U64(ike_suite_resolve(&s, IKE_SUITE_ESP, &a), (uint64_t)-EINVAL);
	CHECK(memcmp(&a, &sentinel, sizeof(a)) == 0);
	s = esp;
	s.dh = IKE_DH_CURVE25519;               /* PFS */
	CHECK(ike_suite_resolve(&s, IKE_SUITE_ESP, &a) == 0 && a.dh && a.dh->id == 31);
}

/* --- PRF: RFC 4868 2.7 ------------------------------------------------------------------ */

struct prf_vector {
	const char *name;
	const char *key;
	const char *data;
	const char *out256, *out384, *out512;
};

/* RFC 4868 2.7.1, Test Cases PRF-1 .. PRF-6. */
static const char aa131[] =
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaa";
static const char dd50[] =
	"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	"dddddddddddddddddddddddddddddddddddd";
static const char cd50[] =
	"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
	"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

static const struct prf_vector prf_vectors[] = {
	{ "PRF-1", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
	  "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
	  "faea9ea9076ede7f4af152e8b2fa9cb6",
	  "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
	  "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854" },
	{ "PRF-2", "4a656665",
	  "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	  "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
	  "8e2240ca5e69e2c78b3239ecfab21649",
	  "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
	  "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737" },
	{ "PRF-3", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", dd50,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
	  "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
	  "2a5ab39dc13814b94e3ab6e101a34f27",
	  "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
	  "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb" },
	{ "PRF-4", "0102030405060708090a0b0c0d0e0f10111213141516171819", cd50,
	  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
	  "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e"
	  "6801dd23c4a7d679ccf8a386c674cffb",
	  "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
	  "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd" },
	{ "PRF-5", aa131,
	  "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a"
	  "65204b6579202d2048617368204b6579204669727374",
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
	  "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
	  "0c2ef6ab4030fe8296248df163f44952",
	  "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
	  "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598" },
	{ "PRF-6", aa131,
	  "5468697320697320612074657374207573696e672061206c6172676572207468"
	  "616e20626c6f636b2d73697a65206b657920616e642061206c61726765722074"
	  "68616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565"
	  "647320746f20626520686173686564206265666f7265206265696e6720757365"
	  "642062792074686520484d414320616c676f726974686d2e",
	  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
	  "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5"
	  "a678cc31e799176d3860e6110c46523e",
	  "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
	  "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58" },
};

static void test_prf_rfc4868(void)
{
	static const uint16_t ids[3] = {
		IKE_PRF_HMAC_SHA2_256, IKE_PRF_HMAC_SHA2_384, IKE_PRF_HMAC_SHA2_512,
	};

	for (size_t v = 0; v < sizeof(prf_vectors) / sizeof(prf_vectors[0]); v++) {
		const struct prf_vector *t = &prf_vectors[v];
		const char *expect_hex[3] = { t->out256, t->out384, t->out512 };
		uint8_t key[200], data[200], expect[64], out[64];
		size_t klen = hexvec(t->key, key, sizeof(key));
		size_t dlen = hexvec(t->data, data, sizeof(data));
		struct ike_bytes d = { data, dlen };

		for (int i = 0; i < 3; i++) {
			const struct ike_prf_info *prf = ike_prf_lookup(ids[i]);
			size_t elen = hexvec(expect_hex[i], expect, sizeof(expect));

			memset(out, 0, sizeof(out));
			printf("# RFC 4868 2.7.1 %s, %s\n", t->name, prf->name);
			CHECK(elen == prf->len && ike_prf(prf, key, klen, &d, 1, out) == 0 &&
			      memcmp(out, expect, elen) == 0);
		}
	}
}

struct auth_vector {
	const char *name;
	uint16_t integ;
	const char *key;
	const char *data;
	const char *prf_out;   /* PRF-HMAC-SHA-xxx */
};

/* RFC 4868 2.7.2.1 - 2.7.2.3. The truncated authenticator listed there is the first
 * icv_len octets of the PRF output (RFC 4868 2.6), checked below both ways.
 * AUTH512-4: the listing shows an extra first key line (0a0b0c..19) although it says
 * "(64 bytes)"; the 64-octet key 01..40 is the one that gives the listed output. */
static const struct auth_vector auth_vectors[] = {
	{ "AUTH256-1", IKE_INTEG_HMAC_SHA2_256_128,
	  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
	  "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7" },
	{ "AUTH256-2", IKE_INTEG_HMAC_SHA2_256_128,
	  "4a6566654a6566654a6566654a6566654a6566654a6566654a6566654a656665",
	  "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	  "167f928588c5cc2eef8e3093caa0e87c9ff566a14794aa61648d81621a2a40c6" },
	{ "AUTH256-3", IKE_INTEG_HMAC_SHA2_256_128,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", dd50,
	  "cdcb1220d1ecccea91e53aba3092f962e549fe6ce9ed7fdc43191fbde45c30b0" },
	{ "AUTH256-4", IKE_INTEG_HMAC_SHA2_256_128,
	  "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", cd50,
	  "372efcf9b40b35c2115b1346903d2ef42fced46f0846e7257bb156d3d7b30d3f" },
	{ "AUTH384-1", IKE_INTEG_HMAC_SHA2_384_192,
	  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"
	  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
	  "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee9737a959796489bddbc"
	  "4c5df61d5b3297b4fb68dab9f1b582c2" },
	{ "AUTH384-2", IKE_INTEG_HMAC_SHA2_384_192,
	  "4a6566654a6566654a6566654a6566654a6566654a6566654a6566654a656665"
	  "4a6566654a6566654a6566654a656665",
	  "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	  "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184da86a368e9b8e16f5"
	  "349524ca4e82400cbde0686d403371c9" },
	{ "AUTH384-3", IKE_INTEG_HMAC_SHA2_384_192,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", dd50,
	  "809f439be00274321d4a538652164b53554a508184a0c3160353e3428597003d"
	  "35914a18770f9443987054944b7c4b4a" },
	{ "AUTH384-4", IKE_INTEG_HMAC_SHA2_384_192,
	  "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
	  "0a0b0c0d0e0f10111213141516171819", cd50,
	  "5b540085c6e6358096532b2493609ed1cb298f774f87bb5c2ebf182c83cc7428"
	  "707fb92eab2536a5812258228bc96687" },
	{ "AUTH512-1", IKE_INTEG_HMAC_SHA2_512_256,
	  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"
	  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
	  "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"
	  "ac2878ebd5803f6f0b61dbce5e251ff8789a4722c1be65aea45fd464e89f8f5b" },
	{ "AUTH512-2", IKE_INTEG_HMAC_SHA2_512_256,
	  "4a6566654a6566654a6566654a6566654a6566654a6566654a6566654a656665"
	  "4a6566654a6566654a6566654a6566654a6566654a6566654a6566654a656665",
	  "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	  "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454"
	  "6aa334ae9fb9afc2184932d8695e397bfa0ffb93466cfcceaae38c833b7dba38" },
	{ "AUTH512-3", IKE_INTEG_HMAC_SHA2_512_256,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", dd50,
	  "2ee7acd783624ca9398710f3ee05ae41b9f9b0510c87e49e586cc9bf961733d8"
	  "623c7b55cebefccf02d5581acc1c9d5fb1ff68a1de45509fbe4da9a433922655" },
	{ "AUTH512-4", IKE_INTEG_HMAC_SHA2_512_256,
	  "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
	  "2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40", cd50,
	  "5e6688e5a3daec826ca32eaea224eff5e700628947470e13ad01302561bab108"
	  "b8c48cbc6b807dcfbd850521a685babc7eae4a2a2e660dc0e86b931d65503fd2" },
};

/* The PRF id with the same hash as an INTEG id. */
static const struct ike_prf_info *prf_for(uint16_t integ)
{
	return ike_prf_lookup(integ == IKE_INTEG_HMAC_SHA2_256_128 ? IKE_PRF_HMAC_SHA2_256 :
			      integ == IKE_INTEG_HMAC_SHA2_384_192 ? IKE_PRF_HMAC_SHA2_384 :
			      IKE_PRF_HMAC_SHA2_512);
}

static void test_auth_rfc4868(void)
{
	for (size_t v = 0; v < sizeof(auth_vectors) / sizeof(auth_vectors[0]); v++) {
		const struct auth_vector *t = &auth_vectors[v];
		const struct ike_integ_info *integ = ike_integ_lookup(t->integ);
		const struct ike_prf_info *prf = prf_for(t->integ);
		uint8_t key[80], data[80], expect[64], out[64];
		size_t klen = hexvec(t->key, key, sizeof(key));
		size_t dlen = hexvec(t->data, data, sizeof(data));
		size_t elen = hexvec(t->prf_out, expect, sizeof(expect));
		struct ike_bytes d = { data, dlen };
		struct ike_mac m;

		printf("# RFC 4868 2.7.2 %s\n", t->name);
		CHECK(klen == integ->key_len && elen == prf->len);
		memset(out, 0, sizeof(out));
		CHECK(ike_prf(prf, key, klen, &d, 1, out) == 0 && memcmp(out, expect, elen) == 0);
		/* The integrity MAC, run twice on one keyed context (no re-keying between). */
		memset(out, 0xee, sizeof(out));
		CHECK(ike_mac_init_integ(&m, integ, key, klen) == 0 && m.out_len == integ->icv_len);
		CHECK(ike_mac_compute(&m, &d, 1, out) == 0 &&
		      memcmp(out, expect, integ->icv_len) == 0 && out[integ->icv_len] == 0xee);
		memset(out, 0, sizeof(out));
		CHECK(ike_mac_compute(&m, &d, 1, out) == 0 &&
		      memcmp(out, expect, integ->icv_len) == 0);
		ike_mac_clear(&m);
		/* An INTEG key must have exactly the hash length (RFC 4868 2.1.1). */
		CHECK_EQ_U64(ike_mac_init_integ(&m, integ, key, klen - 1), (uint64_t)-EINVAL);
		ike_mac_clear(&m);
	}
}

/* Data split into pieces must give the same PRF as in one piece; empty key works. */
static void test_prf_pieces(void)
{
	const struct ike_prf_info *prf = ike_prf_lookup(IKE_PRF_HMAC_SHA2_256);
	uint8_t data[28], expect[32], out[32], out2[32];
	unsigned int len = 0;

	hexvec("7768617420646f2079612077616e7420666f72206e6f7468696e673f", data, sizeof(data));
	hexvec("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", expect, 32);
	const struct ike_bytes parts[4] = {
		{ data, 5 }, { NULL, 0 }, { data + 5, 20 }, { data + 25, 3 },
	};
	CHECK(ike_prf(prf, "Jefe", 4, parts, 4, out) == 0 && memcmp(out, expect, 32) == 0);

	/* Empty key: HMAC pads it with zeros (RFC 2104 2); compare with OpenSSL HMAC(). */
	CHECK(HMAC(EVP_sha256(), "", 0, data, sizeof(data), out2, &len) && len == 32);
	CHECK(ike_prf(prf, NULL, 0, parts, 4, out) == 0 && memcmp(out, out2, 32) == 0);
	CHECK(ike_prf(NULL, "Jefe", 4, parts, 4, out) == -EINVAL);
}

/* --- prf+ ------------------------------------------------------------------------------- */

/* prf+ written out the obvious way with OpenSSL's one-shot HMAC() (RFC 7296 2.13). */
static void ref_prf_plus(const EVP_MD *md, const uint8_t *key, size_t klen, const uint8_t *s,
			 size_t slen, uint8_t *out, size_t out_len)
{
	uint8_t buf[64 + 600 + 1], t[64];
	unsigned int hlen = 0;
	size_t done = 0, tlen = 0;

	for (unsigned n = 1; done < out_len; n++) {
		size_t blen = 0;

		memcpy(buf, t, tlen);
		blen += tlen;
		memcpy(buf + blen, s, slen);
		blen += slen;
		buf[blen++] = (uint8_t)n;
		HMAC(md, key, (int)klen, buf, blen, t, &hlen);
		tlen = hlen;
		memcpy(out + done, t, out_len - done < hlen ? out_len - done : hlen);
		done += out_len - done < hlen ? out_len - done : hlen;
	}
}

static void test_prf_plus(void)
{
	const struct ike_prf_info *p256 = ike_prf_lookup(IKE_PRF_HMAC_SHA2_256);
	const struct ike_prf_info *p384 = ike_prf_lookup(IKE_PRF_HMAC_SHA2_384);
	static uint8_t big[255 * 48 + 1], ref[255 * 48];
	uint8_t key[20], seed[100], out[200], expect[200];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x30 + i);
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(i * 7);
	const struct ike_bytes parts[3] = { { seed, 40 }, { seed + 40, 52 }, { seed + 92, 8 } };

	/* 3.5 blocks of SHA-256: T1 | T2 | T3 | half of T4. */
	ref_prf_plus(EVP_sha256(), key, sizeof(key), seed, sizeof(seed), expect, 112);
	memset(out, 0, sizeof(out));
	CHECK(ike_prf_plus(p256, key, sizeof(key), parts, 3, out, 112) == 0 &&
	      memcmp(out, expect, 112) == 0);
	/* A shorter request is a prefix of the stream. */
	memset(out, 0, sizeof(out));
	CHECK(ike_prf_plus(p256, key, sizeof(key), parts, 3, out, 33) == 0 &&
	      memcmp(out, expect, 33) == 0 && out[33] == 0);

	/* The limit: 255 blocks are defined, one octet more is not (RFC 7296 2.13). */
	ref_prf_plus(EVP_sha384(), key, sizeof(key), seed, sizeof(seed), ref, sizeof(ref));
	CHECK(ike_prf_plus(p384, key, sizeof(key), parts, 3, big, 255 * 48) == 0 &&
	      memcmp(big, ref, sizeof(ref)) == 0);
	memset(big, 0x77, sizeof(big));
	CHECK_EQ_U64(ike_prf_plus(p384, key, sizeof(key), parts, 3, big, 255 * 48 + 1),
		     (uint64_t)-EINVAL);
	CHECK(big[0] == 0x77);
	CHECK_EQ_U64(ike_prf_plus(p384, key, sizeof(key), parts, 3, big, 0), (uint64_t)-EINVAL);
}

/* --- keys ------------------------------------------------------------------------------- */

static uint8_t ni[32], nr[48], gir[64], spii[8], spir[8];

static void fill(uint8_t *b, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(start + i * 3);
}

static void key_inputs(void)
{
	fill(ni, sizeof(ni), 0x10);
	fill(nr, sizeof(nr), 0x80);
	fill(gir, sizeof(gir), 0x41);
	fill(spii, sizeof(spii), 0xa0);
	fill(spir, sizeof(spir), 0xc0);
}

/* SKEYSEED and the prf+ stream for the SA, computed here with HMAC(). */
static size_t ref_sa_stream(const EVP_MD *md, uint8_t *skeyseed, uint8_t *stream, size_t len)
{
	uint8_t nonces[80], s[80 + 16];
	unsigned int sl = 0;

	memcpy(nonces, ni, sizeof(ni));
	memcpy(nonces + sizeof(ni), nr, sizeof(nr));
	HMAC(md, nonces, sizeof(nonces), gir, sizeof(gir), skeyseed, &sl);
	memcpy(s, nonces, sizeof(nonces));
	memcpy(s + 80, spii, 8);
	memcpy(s + 88, spir, 8);
	ref_prf_plus(md, skeyseed, sl, s, sizeof(s), stream, len);
	return sl;
}

static void test_sa_keys(const char *what, const struct ike_suite *suite, const EVP_MD *md,
			 size_t d_len, size_t a_len, size_t e_len)
{
	uint8_t skeyseed[64], ref_seed[64], stream[400];
	struct ike_sa_keys k;
	struct ike_algs algs;
	size_t total = 3 * d_len + 2 * a_len + 2 * e_len, pos = 0, sl;

	printf("# SA keys, %s\n", what);
	CHECK(ike_suite_resolve(suite, IKE_SUITE_IKE, &algs) == 0);
	sl = ref_sa_stream(md, ref_seed, stream, total);
	CHECK(ike_skeyseed(algs.prf, (struct ike_bytes){ ni, sizeof(ni) },
			   (struct ike_bytes){ nr, sizeof(nr) },
			   (struct ike_bytes){ gir, sizeof(gir) }, skeyseed) == 0 &&
	      memcmp(skeyseed, ref_seed, sl) == 0);
	memset(&k, 0, sizeof(k));
	CHECK(ike_sa_keys_derive(&algs, skeyseed, algs.prf->len,
				 (struct ike_bytes){ ni, sizeof(ni) },
				 (struct ike_bytes){ nr, sizeof(nr) }, spii, spir, &k) == 0);
	CHECK(k.sk_d_len == d_len && k.sk_p_len == d_len && k.sk_a_len == a_len &&
	      k.sk_e_len == e_len && k.prf == algs.prf);
	/* RFC 7296 2.14 order: SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr. */
	CHECK(memcmp(k.sk_d, stream + pos, d_len) == 0);
	pos += d_len;
	CHECK(memcmp(k.sk_ai, stream + pos, a_len) == 0);
	pos += a_len;
	CHECK(memcmp(k.sk_ar, stream + pos, a_len) == 0);
	pos += a_len;
	CHECK(memcmp(k.sk_ei, stream + pos, e_len) == 0);
	pos += e_len;
	CHECK(memcmp(k.sk_er, stream + pos, e_len) == 0);
	pos += e_len;
	CHECK(memcmp(k.sk_pi, stream + pos, d_len) == 0);
	pos += d_len;
	CHECK(memcmp(k.sk_pr, stream + pos, d_len) == 0);
	pos += d_len;
	CHECK(pos == total);
	ike_sa_keys_wipe(&k);
	CHECK(k.sk_d_len == 0 && k.sk_d[0] == 0 && k.sk_pr[d_len - 1] == 0);
}

static void test_child_keys(void)
{
	struct ike_suite cs = { .encr = IKE_ENCR_AES_CBC, .encr_key_bits = 256,
				.integ = IKE_INTEG_HMAC_SHA2_512_256 };
	const struct ike_prf_info *prf = ike_prf_lookup(IKE_PRF_HMAC_SHA2_384);
	uint8_t skd[48], s[64 + 80], stream[2 * (32 + 64)];
	struct ike_child_keys k, pfs;
	struct ike_algs a;
	struct ike_bytes bskd = { skd, sizeof(skd) }, bni = { ni, sizeof(ni) },
			 bnr = { nr, sizeof(nr) }, bgir = { gir, sizeof(gir) };

	fill(skd, sizeof(skd), 0x05);
	CHECK(ike_suite_resolve(&cs, IKE_SUITE_ESP, &a) == 0);
	/* KEYMAT = prf+(SK_d, Ni | Nr) (RFC 7296 2.17). */
	memcpy(s, ni, sizeof(ni));
	memcpy(s + sizeof(ni), nr, sizeof(nr));
	ref_prf_plus(EVP_sha384(), skd, sizeof(skd), s, 80, stream, sizeof(stream));
	CHECK(ike_child_keys_derive(prf, bskd, &a, (struct ike_bytes){ NULL, 0 }, bni, bnr,
				    &k) == 0);
	CHECK(k.encr_len == 32 && k.integ_len == 64);
	/* initiator->responder first; encryption key, then integrity key. */
	CHECK(memcmp(k.encr_i, stream, 32) == 0);
	CHECK(memcmp(k.integ_i, stream + 32, 64) == 0);
	CHECK(memcmp(k.encr_r, stream + 96, 32) == 0);
	CHECK(memcmp(k.integ_r, stream + 128, 64) == 0);

	/* With PFS: KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr). */
	memcpy(s, gir, sizeof(gir));
	memcpy(s + sizeof(gir), ni, sizeof(ni));
	memcpy(s + sizeof(gir) + sizeof(ni), nr, sizeof(nr));
	ref_prf_plus(EVP_sha384(), skd, sizeof(skd), s, sizeof(s), stream, sizeof(stream));
	CHECK(ike_child_keys_derive(prf, bskd, &a, bgir, bni, bnr, &pfs) == 0);
	CHECK(memcmp(pfs.encr_i, stream, 32) == 0 && memcmp(pfs.integ_r, stream + 128, 64) == 0);
	CHECK(memcmp(pfs.encr_i, k.encr_i, 32) != 0 && memcmp(pfs.integ_r, k.integ_r, 64) != 0);

	/* AEAD child: 36 octets (key | salt) per direction, no integrity key. */
	cs = (struct ike_suite){ .encr = IKE_ENCR_AES_GCM_16, .encr_key_bits = 128 };
	CHECK(ike_suite_resolve(&cs, IKE_SUITE_ESP, &a) == 0);
	memcpy(s, ni, sizeof(ni));
	memcpy(s + sizeof(ni), nr, sizeof(nr));
	ref_prf_plus(EVP_sha384(), skd, sizeof(skd), s, 80, stream, 40);
	CHECK(ike_child_keys_derive(prf, bskd, &a, (struct ike_bytes){ NULL, 0 }, bni, bnr,
				    &k) == 0);
	CHECK(k.encr_len == 20 && k.integ_len == 0 && memcmp(k.encr_i, stream, 20) == 0 &&
	      memcmp(k.encr_r, stream + 20, 20) == 0);
	ike_child_keys_wipe(&k);
	ike_child_keys_wipe(&pfs);
	CHECK(k.encr_len == 0 && k.encr_i[0] == 0 && pfs.integ_r[63] == 0);
}

static void test_rekey_and_auth(void)
{
	const struct ike_prf_info *old = ike_prf_lookup(IKE_PRF_HMAC_SHA2_512);
	const struct ike_prf_info *p256 = ike_prf_lookup(IKE_PRF_HMAC_SHA2_256);
	uint8_t skd[64], buf[64 + 32 + 48], expect[64], out[64], inner[32];
	uint8_t msg[100], idb[12], skp[32], maced[32];
	unsigned int len = 0;

	/* 2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the OLD PRF. */
	fill(skd, sizeof(skd), 0x99);
	memcpy(buf, gir, sizeof(gir));
	memcpy(buf + 64, ni, sizeof(ni));
	memcpy(buf + 96, nr, sizeof(nr));
	HMAC(EVP_sha512(), skd, sizeof(skd), buf, sizeof(buf), expect, &len);
	CHECK(ike_skeyseed_rekey(old, (struct ike_bytes){ skd, sizeof(skd) },
				 (struct ike_bytes){ gir, sizeof(gir) },
				 (struct ike_bytes){ ni, sizeof(ni) },
				 (struct ike_bytes){ nr, sizeof(nr) }, out) == 0 &&
	      len == 64 && memcmp(out, expect, 64) == 0);
	/* A rekey without a new DH is refused (2.18 MUST). */
	CHECK_EQ_U64(ike_skeyseed_rekey(old, (struct ike_bytes){ skd, sizeof(skd) },
					(struct ike_bytes){ NULL, 0 },
					(struct ike_bytes){ ni, sizeof(ni) },
					(struct ike_bytes){ nr, sizeof(nr) }, out),
		     (uint64_t)-EINVAL);

	/* 2.15: MACedIDForI = prf(SK_pi, RestOfInitIDPayload);
	 * AUTH = prf(prf(secret, "Key Pad for IKEv2"), RealMessage1 | NonceRData | MACedID). */
	fill(msg, sizeof(msg), 0x21);
	fill(idb, sizeof(idb), 0x01);
	fill(skp, sizeof(skp), 0x61);
	HMAC(EVP_sha256(), skp, sizeof(skp), idb, sizeof(idb), expect, &len);
	CHECK(ike_auth_id_mac(p256, (struct ike_bytes){ skp, sizeof(skp) },
			      (struct ike_bytes){ idb, sizeof(idb) }, maced) == 0 &&
	      memcmp(maced, expect, 32) == 0);
	HMAC(EVP_sha256(), "my secret", 9, (const uint8_t *)"Key Pad for IKEv2", 17, inner, &len);
	memcpy(buf, msg, sizeof(msg));
	memcpy(buf + 100, nr, 12);
	memcpy(buf + 112, maced, 32);
	HMAC(EVP_sha256(), inner, 32, buf, 144, expect, &len);
	CHECK(ike_auth_psk(p256, (struct ike_bytes){ "my secret", 9 },
			   (struct ike_bytes){ msg, sizeof(msg) }, (struct ike_bytes){ nr, 12 },
			   (struct ike_bytes){ maced, 32 }, out) == 0 &&
	      memcmp(out, expect, 32) == 0);
	/* A different shared secret gives a different AUTH. */
	CHECK(ike_auth_psk(p256, (struct ike_bytes){ "my secreT", 9 },
			   (struct ike_bytes){ msg, sizeof(msg) }, (struct ike_bytes){ nr, 12 },
			   (struct ike_bytes){ maced, 32 }, out) == 0 &&
	      memcmp(out, expect, 32) != 0);
}

int main(void)
{
	struct ike_suite aead = { .encr = IKE_ENCR_AES_GCM_16, .encr_key_bits = 256,
				  .prf = IKE_PRF_HMAC_SHA2_256, .dh = IKE_DH_CURVE25519 };
	struct ike_suite cbc = { .encr = IKE_ENCR_AES_CBC, .encr_key_bits = 128,
				 .integ = IKE_INTEG_HMAC_SHA2_384_192,
				 .prf = IKE_PRF_HMAC_SHA2_512, .dh = IKE_DH_ECP_256 };

	test_tables();
	test_suite_resolve();
	test_prf_rfc4868();
	test_auth_rfc4868();
	test_prf_pieces();
	test_prf_plus();
	key_inputs();
	/* AEAD: SK_a empty, SK_e = 32-octet key + 4-octet salt (RFC 5282 7.1). */
	test_sa_keys("AES-GCM-16-256 / PRF-HMAC-SHA2-256", &aead, EVP_sha256(), 32, 0, 36);
	/* CBC: SK_a = 48 (RFC 4868 2.6), SK_e = 16, SK_d/SK_p = 64 (RFC 7296 2.13). */
	test_sa_keys("AES-CBC-128 / HMAC-SHA2-384-192 / PRF-HMAC-SHA2-512", &cbc, EVP_sha512(),
		     64, 48, 16);
	test_child_keys();
	test_rekey_and_auth();
	return tap_done();
}
