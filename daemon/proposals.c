/* strongSwan-style proposal strings (see proposals.h). Configuration text, not wire input:
 * plain string handling; every failure is one message in err. */
#include "daemon/proposals.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TEXT 2048          /* a list longer than this is surely a mistake */
#define MAX_PER_KIND 8         /* names of one kind in one proposal */

enum kind { K_ENCR, K_INTEG, K_PRF, K_DH, K_ESN, K_COUNT };

static const char *const kind_word[K_COUNT] = {
	"encryption algorithm", "integrity algorithm", "PRF", "DH group", "ESN setting",
};

struct alg {
	const char *name;
	enum kind kind;
	uint16_t id;
	uint16_t bits;           /* encryption: Key Length attribute (0: none, ChaCha20) */
	bool aead;
};

/* Transform IDs: RFC 7296 3.3.2 (IANA IKEv2 registry); AES-GCM 20 (RFC 5282, RFC 4106),
 * ChaCha20-Poly1305 28 (RFC 7634), HMAC-SHA2 integrity 12-14 and PRF 5-7 (RFC 4868),
 * groups 14 (RFC 3526), 19/20 (RFC 5903), 31 (RFC 8031). The first name of an ID is the one
 * proposals_format() prints. */
static const struct alg algs[] = {
	{ "aes128", K_ENCR, IKE_ENCR_AES_CBC, 128, false },
	{ "aes256", K_ENCR, IKE_ENCR_AES_CBC, 256, false },
	{ "aes128gcm16", K_ENCR, IKE_ENCR_AES_GCM_16, 128, true },
	{ "aes128gcm128", K_ENCR, IKE_ENCR_AES_GCM_16, 128, true },
	{ "aes128gcm", K_ENCR, IKE_ENCR_AES_GCM_16, 128, true },
	{ "aes256gcm16", K_ENCR, IKE_ENCR_AES_GCM_16, 256, true },
	{ "aes256gcm128", K_ENCR, IKE_ENCR_AES_GCM_16, 256, true },
	{ "aes256gcm", K_ENCR, IKE_ENCR_AES_GCM_16, 256, true },
	{ "chacha20poly1305", K_ENCR, IKE_ENCR_CHACHA20_POLY1305, 0, true },
	{ "sha256", K_INTEG, IKE_INTEG_HMAC_SHA2_256_128, 0, false },
	{ "sha2_256", K_INTEG, IKE_INTEG_HMAC_SHA2_256_128, 0, false },
	{ "sha384", K_INTEG, IKE_INTEG_HMAC_SHA2_384_192, 0, false },
	{ "sha2_384", K_INTEG, IKE_INTEG_HMAC_SHA2_384_192, 0, false },
	{ "sha512", K_INTEG, IKE_INTEG_HMAC_SHA2_512_256, 0, false },
	{ "sha2_512", K_INTEG, IKE_INTEG_HMAC_SHA2_512_256, 0, false },
	{ "prfsha256", K_PRF, IKE_PRF_HMAC_SHA2_256, 0, false },
	{ "prfsha384", K_PRF, IKE_PRF_HMAC_SHA2_384, 0, false },
	{ "prfsha512", K_PRF, IKE_PRF_HMAC_SHA2_512, 0, false },
	{ "modp2048", K_DH, IKE_DH_MODP_2048, 0, false },
	{ "ecp256", K_DH, IKE_DH_ECP_256, 0, false },
	{ "ecp384", K_DH, IKE_DH_ECP_384, 0, false },
	{ "x25519", K_DH, IKE_DH_CURVE25519, 0, false },
	{ "curve25519", K_DH, IKE_DH_CURVE25519, 0, false },
	{ "esn", K_ESN, IKE_ESN_YES, 0, false },
	{ "noesn", K_ESN, IKE_ESN_NONE, 0, false },
};

/* Names strongSwan knows that this project does not implement (RFC 8247 / RFC 8221 say
 * MUST NOT or MAY, or simply not built): a clearer message than "unknown". */
static const char *const unsupported[] = {
	"aes192", "aes192gcm16", "aes192gcm128", "aes192gcm", "aes128gcm8", "aes128gcm64",
	"aes128gcm12", "aes128gcm96", "aes256gcm8", "aes256gcm64", "aes256gcm12", "aes256gcm96",
	"aes128ctr", "aes256ctr", "aes128ccm16", "aes256ccm16", "3des", "des", "blowfish",
	"cast128", "camellia128", "camellia256", "null", "sha1", "sha", "md5", "aesxcbc",
	"aescmac", "sha256_96", "prfsha1", "prfmd5", "prfaesxcbc", "prfaescmac", "modp768",
	"modp1024", "modp1536", "modp3072", "modp4096", "modp6144", "modp8192", "modp1024s160",
	"modp2048s224", "modp2048s256", "ecp192", "ecp224", "ecp521", "ecp224bp", "ecp256bp",
	"ecp384bp", "ecp512bp", "x448", "curve448",
};

static int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (err && size) {
		va_start(ap, fmt);
		vsnprintf(err, size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const struct alg *find_alg(const char *name)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcasecmp(algs[i].name, name) == 0)
			return &algs[i];
	return NULL;
}

static bool is_unsupported(const char *name)
{
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (strcasecmp(unsupported[i], name) == 0)
			return true;
	return false;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* One proposal, the names sorted by kind. */
struct parsed {
	const struct alg *a[K_COUNT][MAX_PER_KIND];
	size_t n[K_COUNT];
};

static uint16_t prf_of_integ(uint16_t integ)
{
	switch (integ) {
	case IKE_INTEG_HMAC_SHA2_256_128: return IKE_PRF_HMAC_SHA2_256;
	case IKE_INTEG_HMAC_SHA2_384_192: return IKE_PRF_HMAC_SHA2_384;
	default: return IKE_PRF_HMAC_SHA2_512;
	}
}

/* Split prop (modified in place) into p; check the names one by one. */
static int collect(char *prop, const char *orig, enum ike_suite_use use, struct parsed *p,
		   char *err, size_t size)
{
	char *save = NULL, *tok;
	const char *what = use == IKE_SUITE_IKE ? "IKE" : "ESP";
	size_t len = strlen(prop);

	memset(p, 0, sizeof(*p));
	if (len && (prop[0] == '-' || prop[len - 1] == '-' || strstr(prop, "--")))
		return fail(err, size, "empty algorithm name in proposal \"%s\"", orig);
	for (tok = strtok_r(prop, "-", &save); tok; tok = strtok_r(NULL, "-", &save)) {
		const struct alg *a = find_alg(tok);

		if (!a && is_unsupported(tok))
			return fail(err, size, "algorithm \"%s\" in proposal \"%s\" is not "
				    "supported", tok, orig);
		if (!a)
			return fail(err, size, "unknown algorithm \"%s\" in proposal \"%s\"", tok,
				    orig);
		if (a->kind == K_PRF && use == IKE_SUITE_ESP)
			return fail(err, size, "\"%s\" in proposal \"%s\": a PRF belongs to IKE "
				    "proposals, not ESP", tok, orig);
		if (a->kind == K_ESN && use == IKE_SUITE_IKE)
			return fail(err, size, "\"%s\" in proposal \"%s\": ESN belongs to ESP "
				    "proposals, not IKE", tok, orig);
		/* esp/esp_sa.h implements HMAC-SHA2-256-128 only. */
		if (a->kind == K_INTEG && use == IKE_SUITE_ESP &&
		    a->id != IKE_INTEG_HMAC_SHA2_256_128)
			return fail(err, size, "\"%s\" in proposal \"%s\": ESP supports sha256 "
				    "only as integrity algorithm", tok, orig);
		for (size_t i = 0; i < p->n[a->kind]; i++) {
			const struct alg *b = p->a[a->kind][i];

			if (b->id == a->id && b->bits == a->bits)
				return fail(err, size, "\"%s\" appears twice in proposal \"%s\"",
					    tok, orig);
		}
		if (p->n[a->kind] == MAX_PER_KIND)
			return fail(err, size, "more than %d of a kind in proposal \"%s\"",
				    MAX_PER_KIND, orig);
		p->a[a->kind][p->n[a->kind]++] = a;
	}
	if (p->n[K_ENCR] == 0)
		return fail(err, size, "%s proposal \"%s\" has no %s", what, orig,
			    kind_word[K_ENCR]);
	for (size_t i = 1; i < p->n[K_ENCR]; i++)
		if (p->a[K_ENCR][i]->aead != p->a[K_ENCR][0]->aead)
			return fail(err, size, "proposal \"%s\" mixes AEAD and non-AEAD encryption "
				    "(%s, %s): write them as two proposals", orig,
				    p->a[K_ENCR][0]->name, p->a[K_ENCR][i]->name);
	if (p->a[K_ENCR][0]->aead && p->n[K_INTEG])
		return fail(err, size, "proposal \"%s\": %s is an AEAD and takes no integrity "
			    "algorithm (%s)", orig, p->a[K_ENCR][0]->name, p->a[K_INTEG][0]->name);
	if (!p->a[K_ENCR][0]->aead && !p->n[K_INTEG])
		return fail(err, size, "proposal \"%s\": %s needs an integrity algorithm "
			    "(e.g. sha256)", orig, p->a[K_ENCR][0]->name);
	if (use == IKE_SUITE_IKE && p->n[K_DH] == 0)
		return fail(err, size, "IKE proposal \"%s\" has no DH group (e.g. x25519)", orig);
	if (use == IKE_SUITE_IKE && p->a[K_ENCR][0]->aead && p->n[K_PRF] == 0)
		return fail(err, size, "IKE proposal \"%s\" has no PRF (an AEAD needs one, e.g. "
			    "prfsha256)", orig);
	return 0;
}

/* Every combination of p, appended to out. */
static int expand(const struct parsed *p, enum ike_suite_use use, const char *orig,
		  struct ike_proposals *out, char *err, size_t size)
{
	size_t ni = p->n[K_INTEG] ? p->n[K_INTEG] : 1;
	/* CBC IKE proposals without a PRF take the integrity algorithm's (one per INTEG). */
	bool derive_prf = use == IKE_SUITE_IKE && p->n[K_PRF] == 0;
	size_t np = use == IKE_SUITE_IKE && !derive_prf ? p->n[K_PRF] : 1;
	size_t nd = p->n[K_DH] ? p->n[K_DH] : 1;
	size_t ns = p->n[K_ESN] ? p->n[K_ESN] : 1;
	size_t total = p->n[K_ENCR] * ni * np * nd * ns;

	if (total > IKE_CFG_MAX_SUITES - out->n)
		return fail(err, size, "too many combinations: proposal \"%s\" makes %zu, and at "
			    "most %d fit in one list", orig, total, IKE_CFG_MAX_SUITES);
	for (size_t e = 0; e < p->n[K_ENCR]; e++)
		for (size_t i = 0; i < ni; i++)
			for (size_t f = 0; f < np; f++)
				for (size_t d = 0; d < nd; d++)
					for (size_t s = 0; s < ns; s++) {
		struct ike_suite *st = &out->suite[out->n++];

		memset(st, 0, sizeof(*st));
		st->encr = p->a[K_ENCR][e]->id;
		st->encr_key_bits = p->a[K_ENCR][e]->bits;
		st->integ = p->n[K_INTEG] ? p->a[K_INTEG][i]->id : IKE_INTEG_NONE;
		if (use == IKE_SUITE_IKE)
			st->prf = derive_prf ? prf_of_integ(st->integ) : p->a[K_PRF][f]->id;
		st->dh = p->n[K_DH] ? p->a[K_DH][d]->id : IKE_DH_NONE;
		st->esn = p->n[K_ESN] ? p->a[K_ESN][s]->id : IKE_ESN_NONE;
	}
	return 0;
}

int proposals_parse(const char *text, enum ike_suite_use use, struct ike_proposals *out,
		    char *err, size_t err_size)
{
	struct ike_proposals res;
	char *copy, *save = NULL, *prop;
	size_t len;
	int rc = 0;

	if (err && err_size)
		err[0] = '\0';
	if (!text || !out || (use != IKE_SUITE_IKE && use != IKE_SUITE_ESP))
		return fail(err, err_size, "no proposals");
	len = strlen(text);
	if (len > MAX_TEXT)
		return fail(err, err_size, "proposal list too long (%zu characters; at most %d)",
			    len, MAX_TEXT);
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	memset(&res, 0, sizeof(res));
	/* strtok_r would skip empty items silently: look for them first. */
	{
		char *t = trim(copy);
		size_t tl = strlen(t);
		bool empty = tl == 0 || t[0] == ',' || t[tl - 1] == ',';

		for (char *c = t; !empty && (c = strchr(c, ',')); c++) {
			char *n = c + 1;

			while (*n == ' ' || *n == '\t')
				n++;
			if (*n == ',')
				empty = true;
		}
		if (empty) {
			rc = fail(err, err_size, "empty proposal in \"%s\"", text);
			goto out;
		}
		memmove(copy, t, tl + 1);
	}
	for (prop = strtok_r(copy, ",", &save); prop; prop = strtok_r(NULL, ",", &save)) {
		char orig[256];
		struct parsed p;

		prop = trim(prop);
		snprintf(orig, sizeof(orig), "%s", prop);
		rc = collect(prop, orig, use, &p, err, err_size);
		if (rc == 0)
			rc = expand(&p, use, orig, &res, err, err_size);
		if (rc < 0)
			goto out;
	}
	*out = res;
out:
	free(copy);
	return rc;
}

static const char *name_of(enum kind k, uint16_t id, uint16_t bits)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].kind == k && algs[i].id == id && algs[i].bits == bits)
			return algs[i].name;
	return NULL;
}

static void append(char *buf, size_t size, size_t *len, const char *s)
{
	int n = snprintf(buf + *len, size - *len, "%s%s", *len ? "-" : "", s);

	if (n > 0)
		*len = *len + (size_t)n >= size ? size - 1 : *len + (size_t)n;
}

static void append_alg(char *buf, size_t size, size_t *len, enum kind k, const char *prefix,
		       uint16_t id, uint16_t bits)
{
	const char *n = name_of(k, id, bits);
	char tmp[24];

	if (!n) {
		snprintf(tmp, sizeof(tmp), "%s%u", prefix, id);
		n = tmp;
	}
	append(buf, size, len, n);
}

const char *proposals_format(const struct ike_suite *s, enum ike_suite_use use, char *buf,
			     size_t size)
{
	size_t len = 0;

	if (!buf || size == 0)
		return buf;
	buf[0] = '\0';
	if (!s)
		return buf;
	append_alg(buf, size, &len, K_ENCR, "encr", s->encr, s->encr_key_bits);
	if (s->integ != IKE_INTEG_NONE)
		append_alg(buf, size, &len, K_INTEG, "integ", s->integ, 0);
	if (use == IKE_SUITE_IKE)
		append_alg(buf, size, &len, K_PRF, "prf", s->prf, 0);
	if (s->dh != IKE_DH_NONE)
		append_alg(buf, size, &len, K_DH, "dh", s->dh, 0);
	if (use == IKE_SUITE_ESP && s->esn == IKE_ESN_YES)
		append(buf, size, &len, "esn");
	return buf;
}
