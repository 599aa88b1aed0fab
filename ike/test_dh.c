/* Unit tests for ike/dh.c.
 *
 *  - ECP groups 19 and 20: RFC 5903 section 8.1 / 8.2 test vectors (i, g^i, r, g^r, g^ir),
 *    public values in the RFC 5903 section 7 encoding (x | y, no prefix), shared = x only;
 *  - MODP group 14: public value and shared secret recomputed here with BN_mod_exp over the
 *    RFC 3526 section 3 prime (typed in again from the RFC text), including left padding to
 *    256 octets (RFC 7296 3.4, 2.14); random key pairs agree;
 *  - Curve25519 (RFC 8031): no test vector is stored here (RFC 8031 has none, RFC 7748 is
 *    not in /work/shared/rfc), so: two key pairs agree, and low-order peer values (0 and 1)
 *    give an all-zero secret that is refused (RFC 8031 2.1, RFC 7748 6.1);
 *  - RFC 6989 rejections of peer values for every group: 0, 1, p-1, p, a point off the
 *    curve, a coordinate >= p, wrong lengths.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "ike/dh.h"
#include "tests/unit/hexvec.h"
#include "tests/unit/tap.h"

/* Our public value as ike_dh_write_public() writes it. */
static size_t public_of(const struct ike_dh *dh, uint8_t *buf, size_t cap)
{
	struct writer w;

	writer_init(&w, buf, cap);
	if (ike_dh_write_public(dh, &w) != 0)
		return 0;
	return writer_len(&w);
}

/* --- ECP: RFC 5903 section 8 ------------------------------------------------------------- */

struct ecp_vector {
	const char *name;
	uint16_t group;
	const char *i, *gi, *r, *gr, *girx;
};

static const struct ecp_vector ecp_vectors[] = {
	{ "RFC 5903 8.1 (group 19)", IKE_DH_ECP_256,
	  "C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433",
	  "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180"
	  "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3",
	  "C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53",
	  "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63"
	  "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB",
	  "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE" },
	{ "RFC 5903 8.2 (group 20)", IKE_DH_ECP_384,
	  "099F3C70 34D4A2C6 99884D73 A375A67F 7624EF7C 6B3C0F16 0647B674 14DCE655"
	  "E35B5380 41E649EE 3FAEF896 783AB194",
	  "667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3 1634FE72 B4C55EE6"
	  "DE3AC808 ACB4BDB4 C88732AE E95F41AA"
	  "9482ED1F C0EEB9CA FC498462 5CCFC23F 65032149 E0E144AD A0241815 35A0F38E"
	  "EB9FCFF3 C2C947DA E69B4C63 4573A81C",
	  "41CB0779 B4BDB85D 47846725 FBEC3C94 30FAB46C C8DC5060 855CC9BD A0AA2942"
	  "E0308312 916B8ED2 960E4BD5 5A7448FC",
	  "E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D 83CFA417 32BC509D"
	  "0D1AC43A 0336DEF9 6FDA41D0 774A3571"
	  "DCFBEC7A ACF31964 72169E83 8430367F 66EEBE3C 6E70C416 DD5F0C68 759DD1FF"
	  "F83FA401 42209DFF 5EAAD96D B9E6386C",
	  "11187331 C279962D 93D60424 3FD592CB 9D0A926F 422E4718 7521287E 7156C5C4"
	  "D6031355 69B9E9D0 9CF5D4A2 70F59746" },
};

/* Field primes of P-256 / P-384 (for the "coordinate >= p" test). */
static const char p256_hex[] =
	"ffffffff 00000001 00000000 00000000 00000000 ffffffff ffffffff ffffffff";
static const char p384_hex[] =
	"ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff fffffffe"
	"ffffffff 00000000 00000000 ffffffff";

static void test_ecp(const struct ecp_vector *v)
{
	uint8_t i[48], r[48], gi[96], gr[96], girx[48], pub[200], sec[64], bad[97];
	size_t il = hexvec(v->i, i, sizeof(i)), rl = hexvec(v->r, r, sizeof(r));
	size_t gil = hexvec(v->gi, gi, sizeof(gi)), grl = hexvec(v->gr, gr, sizeof(gr));
	size_t xl = hexvec(v->girx, girx, sizeof(girx));
	struct ike_dh *di = NULL, *dr = NULL;
	size_t len = 0, coord;

	printf("# %s\n", v->name);
	CHECK(ike_dh_new_from_private(v->group, i, il, &di) == 0);
	CHECK(ike_dh_new_from_private(v->group, r, rl, &dr) == 0);
	if (!di || !dr)
		goto out;
	coord = gil / 2;
	CHECK(ike_dh_group(di)->public_len == gil && ike_dh_group(di)->shared_len == xl);
	CHECK(public_of(di, pub, sizeof(pub)) == gil && memcmp(pub, gi, gil) == 0);  /* g^i */
	CHECK(public_of(dr, pub, sizeof(pub)) == grl && memcmp(pub, gr, grl) == 0);  /* g^r */
	CHECK(ike_dh_check_peer(v->group, gr, grl) == 0 && ike_dh_check_peer(v->group, gi, gil) == 0);
	memset(sec, 0, sizeof(sec));
	CHECK(ike_dh_compute(di, gr, grl, sec, sizeof(sec), &len) == 0 && len == xl &&
	      memcmp(sec, girx, xl) == 0);                                            /* girx */
	memset(sec, 0, sizeof(sec));
	len = 0;
	CHECK(ike_dh_compute(dr, gi, gil, sec, sizeof(sec), &len) == 0 && len == xl &&
	      memcmp(sec, girx, xl) == 0);

	/* RFC 6989 2.3 and RFC 5903 7: rejections. */
	memcpy(bad, gr, grl);
	bad[grl - 1] ^= 0x01;                               /* y changed: off the curve */
	CHECK_EQ_U64(ike_dh_check_peer(v->group, bad, grl), (uint64_t)-EINVAL);
	len = 1234;
	CHECK_EQ_U64(ike_dh_compute(di, bad, grl, sec, sizeof(sec), &len), (uint64_t)-EINVAL);
	CHECK(len == 1234);
	memset(bad, 0, grl);                                /* (0, 0): not on the curve */
	CHECK_EQ_U64(ike_dh_check_peer(v->group, bad, grl), (uint64_t)-EINVAL);
	/* x = p (not reduced), y from the valid point: a coordinate must be < p. */
	memcpy(bad, gr, grl);
	hexvec(v->group == IKE_DH_ECP_256 ? p256_hex : p384_hex, bad, coord);
	CHECK_EQ_U64(ike_dh_check_peer(v->group, bad, grl), (uint64_t)-EINVAL);
	/* Lengths: exact x | y only; the SEC1 form with 0x04 is not the IKE encoding. */
	CHECK_EQ_U64(ike_dh_check_peer(v->group, gr, grl - 1), (uint64_t)-EINVAL);
	bad[0] = 0x04;
	memcpy(bad + 1, gr, grl);
	CHECK_EQ_U64(ike_dh_check_peer(v->group, bad, grl + 1), (uint64_t)-EINVAL);
	CHECK_EQ_U64(ike_dh_compute(di, bad, grl + 1, sec, sizeof(sec), &len), (uint64_t)-EINVAL);
	CHECK_EQ_U64(ike_dh_compute(di, gr, grl, sec, xl - 1, &len), (uint64_t)-ENOSPC);
out:
	ike_dh_free(di);
	ike_dh_free(dr);
}

static void test_ecp_random(uint16_t group)
{
	struct ike_dh *a = NULL, *b = NULL;
	uint8_t pa[96], pb[96], sa[48], sb[48];
	size_t la = 0, lb = 0, n;

	CHECK(ike_dh_new(group, &a) == 0 && ike_dh_new(group, &b) == 0);
	if (!a || !b)
		goto out;
	n = public_of(a, pa, sizeof(pa));
	CHECK(n == ike_dh_group(a)->public_len && public_of(b, pb, sizeof(pb)) == n);
	CHECK(ike_dh_check_peer(group, pa, n) == 0);
	CHECK(ike_dh_compute(a, pb, n, sa, sizeof(sa), &la) == 0 &&
	      ike_dh_compute(b, pa, n, sb, sizeof(sb), &lb) == 0 && la == lb &&
	      la == ike_dh_group(a)->shared_len && memcmp(sa, sb, la) == 0);
out:
	ike_dh_free(a);
	ike_dh_free(b);
}

/* --- MODP 2048 ----------------------------------------------------------------------------- */

/* RFC 3526 section 3, typed in again for the test (independent of dh.c's copy). */
static const char rfc3526_p[] =
	"FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1"
	"29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD"
	"EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245"
	"E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED"
	"EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D"
	"C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F"
	"83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D"
	"670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B"
	"E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9"
	"DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510"
	"15728E5A 8AACAA68 FFFFFFFF FFFFFFFF";

/* out = base^exp mod p, 256 octets big-endian. */
static void ref_modexp(const uint8_t *base, size_t blen, const uint8_t *exp, size_t elen,
		       uint8_t *out)
{
	uint8_t pbytes[256];
	BIGNUM *p = BN_bin2bn(pbytes, (int)hexvec(rfc3526_p, pbytes, sizeof(pbytes)), NULL);
	BIGNUM *b = BN_bin2bn(base, (int)blen, NULL), *e = BN_bin2bn(exp, (int)elen, NULL);
	BIGNUM *r = BN_new();
	BN_CTX *ctx = BN_CTX_new();

	if (!p || !b || !e || !r || !ctx || !BN_mod_exp(r, b, e, p, ctx) ||
	    BN_bn2binpad(r, out, 256) != 256)
		memset(out, 0xff, 256);
	BN_free(p);
	BN_free(b);
	BN_free(e);
	BN_free(r);
	BN_CTX_free(ctx);
}

static void test_modp(void)
{
	static const uint8_t two = 2;
	uint8_t x1[32], x2[32], pub1[256], pub2[256], expect[256], sec[256], bad[257];
	uint8_t p[256], s2[256];
	struct ike_dh *a = NULL, *b = NULL, *c = NULL;
	size_t len = 0;

	for (size_t k = 0; k < sizeof(x1); k++) {
		x1[k] = (uint8_t)(0x11 * k + 3);
		x2[k] = (uint8_t)(0x27 * k + 1);
	}
	hexvec(rfc3526_p, p, sizeof(p));
	printf("# MODP 2048 (RFC 3526 3): public and shared values recomputed with BN_mod_exp\n");
	CHECK(ike_dh_new_from_private(IKE_DH_MODP_2048, x1, sizeof(x1), &a) == 0);
	CHECK(ike_dh_new_from_private(IKE_DH_MODP_2048, x2, sizeof(x2), &b) == 0);
	if (!a || !b)
		goto out;
	ref_modexp(&two, 1, x1, sizeof(x1), expect);
	CHECK(public_of(a, pub1, sizeof(pub1)) == 256 && memcmp(pub1, expect, 256) == 0);
	CHECK(public_of(b, pub2, sizeof(pub2)) == 256);
	ref_modexp(pub2, 256, x1, sizeof(x1), expect);
	CHECK(ike_dh_compute(a, pub2, 256, sec, sizeof(sec), &len) == 0 && len == 256 &&
	      memcmp(sec, expect, 256) == 0);
	CHECK(ike_dh_compute(b, pub1, 256, s2, sizeof(s2), &len) == 0 &&
	      memcmp(s2, sec, 256) == 0);

	/* Padding both ways: x = 2 gives y = 4 (255 leading zero octets on the wire), and
	 * with peer value 2 the shared secret is 2^2 = 4, padded to 256 octets as well. */
	ike_dh_free(c);
	CHECK(ike_dh_new_from_private(IKE_DH_MODP_2048, &two, 1, &c) == 0);
	memset(expect, 0, sizeof(expect));
	expect[255] = 4;
	CHECK(c && public_of(c, pub1, sizeof(pub1)) == 256 && memcmp(pub1, expect, 256) == 0);
	memset(bad, 0, sizeof(bad));
	bad[255] = 2;
	CHECK(c && ike_dh_compute(c, bad, 256, sec, sizeof(sec), &len) == 0 && len == 256 &&
	      memcmp(sec, expect, 256) == 0);

	/* RFC 6989 2.1: 1 < y < p-1, and exactly 256 octets. */
	memset(bad, 0, sizeof(bad));
	CHECK_EQ_U64(ike_dh_check_peer(IKE_DH_MODP_2048, bad, 256), (uint64_t)-EINVAL); /* 0 */
	bad[255] = 1;
	CHECK_EQ_U64(ike_dh_check_peer(IKE_DH_MODP_2048, bad, 256), (uint64_t)-EINVAL); /* 1 */
	CHECK_EQ_U64(ike_dh_compute(a, bad, 256, sec, sizeof(sec), &len), (uint64_t)-EINVAL);
	bad[255] = 2;
	CHECK(ike_dh_check_peer(IKE_DH_MODP_2048, bad, 256) == 0);                      /* 2 */
	memcpy(bad, p, 256);
	bad[255] -= 1;                                                                  /* p-1 */
	CHECK_EQ_U64(ike_dh_check_peer(IKE_DH_MODP_2048, bad, 256), (uint64_t)-EINVAL);
	CHECK_EQ_U64(ike_dh_compute(a, bad, 256, sec, sizeof(sec), &len), (uint64_t)-EINVAL);
	bad[255] -= 1;                                                                  /* p-2 */
	CHECK(ike_dh_check_peer(IKE_DH_MODP_2048, bad, 256) == 0);
	memcpy(bad, p, 256);                                                            /* p */
	CHECK_EQ_U64(ike_dh_check_peer(IKE_DH_MODP_2048, bad, 256), (uint64_t)-EINVAL);
	memset(bad, 0xff, 256);                                                         /* > p */
	CHECK_EQ_U64(ike_dh_check_peer(IKE_DH_MODP_2048, bad, 256), (uint64_t)-EINVAL);
	CHECK_EQ_U64(ike_dh_check_peer(IKE_DH_MODP_2048, pub2 + 1, 255), (uint64_t)-EINVAL);
	memset(bad, 0, sizeof(bad));
	memcpy(bad + 1, pub2, 256);
	CHECK_EQ_U64(ike_dh_check_peer(IKE_DH_MODP_2048, bad, 257), (uint64_t)-EINVAL);
out:
	ike_dh_free(a);
	ike_dh_free(b);
	ike_dh_free(c);
}

static void test_modp_random(void)
{
	struct ike_dh *a = NULL, *b = NULL;
	uint8_t pa[256], pb[256], sa[256], sb[256];
	size_t la = 0, lb = 0;

	CHECK(ike_dh_new(IKE_DH_MODP_2048, &a) == 0 && ike_dh_new(IKE_DH_MODP_2048, &b) == 0);
	if (!a || !b)
		goto out;
	CHECK(public_of(a, pa, sizeof(pa)) == 256 && public_of(b, pb, sizeof(pb)) == 256);
	CHECK(ike_dh_check_peer(IKE_DH_MODP_2048, pa, 256) == 0);
	CHECK(memcmp(pa, pb, 256) != 0);
	CHECK(ike_dh_compute(a, pb, 256, sa, sizeof(sa), &la) == 0 &&
	      ike_dh_compute(b, pa, 256, sb, sizeof(sb), &lb) == 0 && la == 256 && lb == 256 &&
	      memcmp(sa, sb, 256) == 0);
out:
	ike_dh_free(a);
	ike_dh_free(b);
}

/* --- Curve25519 ----------------------------------------------------------------------------- */

static void test_x25519(void)
{
	struct ike_dh *a = NULL, *b = NULL, *k = NULL;
	uint8_t pa[32], pb[32], sa[32], sb[32], low[33], priv[32];
	size_t la = 0, lb = 0;

	CHECK(ike_dh_new(IKE_DH_CURVE25519, &a) == 0 && ike_dh_new(IKE_DH_CURVE25519, &b) == 0);
	if (!a || !b)
		goto out;
	CHECK(public_of(a, pa, sizeof(pa)) == 32 && public_of(b, pb, sizeof(pb)) == 32);
	CHECK(memcmp(pa, pb, 32) != 0);
	CHECK(ike_dh_compute(a, pb, 32, sa, sizeof(sa), &la) == 0 &&
	      ike_dh_compute(b, pa, 32, sb, sizeof(sb), &lb) == 0 && la == 32 && lb == 32 &&
	      memcmp(sa, sb, 32) == 0);
	/* A key made from a given scalar has the same public value as itself, and agrees. */
	for (size_t i = 0; i < sizeof(priv); i++)
		priv[i] = (uint8_t)(i * 13 + 5);
	CHECK(ike_dh_new_from_private(IKE_DH_CURVE25519, priv, sizeof(priv), &k) == 0);
	CHECK(k && public_of(k, pb, sizeof(pb)) == 32 &&
	      ike_dh_compute(k, pa, 32, sa, sizeof(sa), &la) == 0 &&
	      ike_dh_compute(a, pb, 32, sb, sizeof(sb), &lb) == 0 && memcmp(sa, sb, 32) == 0);
	CHECK_EQ_U64(ike_dh_new_from_private(IKE_DH_CURVE25519, priv, 31, &k), (uint64_t)-EINVAL);

	/* Low-order points: u = 0 and u = 1 give an all-zero X25519 output (RFC 7748 6.1),
	 * which RFC 8031 2.1 says to refuse. The encoding itself is valid (RFC 8031 3.2). */
	memset(low, 0, sizeof(low));
	CHECK(ike_dh_check_peer(IKE_DH_CURVE25519, low, 32) == 0);
	la = 77;
	memset(sa, 0x5c, sizeof(sa));
	CHECK_EQ_U64(ike_dh_compute(a, low, 32, sa, sizeof(sa), &la), (uint64_t)-EINVAL);
	CHECK(la == 77 && sa[0] == 0x5c);
	low[0] = 1;
	CHECK_EQ_U64(ike_dh_compute(a, low, 32, sa, sizeof(sa), &la), (uint64_t)-EINVAL);
	CHECK_EQ_U64(ike_dh_check_peer(IKE_DH_CURVE25519, pb, 31), (uint64_t)-EINVAL);
	CHECK_EQ_U64(ike_dh_check_peer(IKE_DH_CURVE25519, low, 33), (uint64_t)-EINVAL);
out:
	ike_dh_free(a);
	ike_dh_free(b);
	ike_dh_free(k);
}

static void test_misc(void)
{
	struct ike_dh *dh = NULL;
	uint8_t small[10];
	struct writer w;

	CHECK_EQ_U64(ike_dh_new(2, &dh), (uint64_t)-ENOTSUP);
	CHECK(dh == NULL);
	CHECK_EQ_U64(ike_dh_check_peer(21, small, 10), (uint64_t)-ENOTSUP);
	CHECK(ike_dh_new(IKE_DH_ECP_256, &dh) == 0);
	writer_init(&w, small, sizeof(small));
	CHECK(dh && ike_dh_write_public(dh, &w) == -ENOSPC && !writer_ok(&w));
	ike_dh_free(dh);
	ike_dh_free(NULL);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(ecp_vectors) / sizeof(ecp_vectors[0]); i++)
		test_ecp(&ecp_vectors[i]);
	test_ecp_random(IKE_DH_ECP_256);
	test_ecp_random(IKE_DH_ECP_384);
	test_modp();
	test_modp_random();
	test_x25519();
	test_misc();
	return tap_done();
}
