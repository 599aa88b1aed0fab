/* IKEv2 per-exchange payload rules: the table and its checker. See rules.h. */
#include "ike/rules.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/names.h"

#define N_INVALID_SYNTAX 7           /* RFC 7296 3.10.1 */

enum where {
	CLEAR = 1,                   /* outside SK */
	IN_SK = 2,                   /* inside SK */
};

struct count_rule {
	uint8_t type;                /* IKE_PT_SK also stands for SKF */
	uint8_t min;
	uint8_t max;
	uint8_t where;
};

#define MAX_RULES 14
#define BIT(t) (UINT32_C(1) << ((t) - 32))

struct shape {
	const char *name;
	uint8_t exchange;
	bool response;
	uint32_t together;           /* BIT(type) set: all present or all absent */
	struct count_rule rules[MAX_RULES];   /* ends at type 0 */
};

#define ANY IKE_RULE_ANY
/* Everything inside SK; SK (or SKF) the only payload in the clear (1.2, 3.14). */
#define SK_ONLY { IKE_PT_SK, 1, 1, CLEAR }
/* Allowed in every message (3.10.1, 3.12). */
#define N_V(w) { IKE_PT_NOTIFY, 0, ANY, w }, { IKE_PT_VENDOR, 0, ANY, w }
#define CHILD_GROUP (BIT(IKE_PT_SA) | BIT(IKE_PT_TSI) | BIT(IKE_PT_TSR))

static const struct shape shapes[] = {
	/* 1.2: HDR, SAi1, KEi, Ni -->  (2.6: N(COOKIE) first when retrying) */
	{ "IKE_SA_INIT request", IKE_EXCH_SA_INIT, false, 0, {
		{ IKE_PT_SA, 1, 1, CLEAR }, { IKE_PT_KE, 1, 1, CLEAR },
		{ IKE_PT_NONCE, 1, 1, CLEAR }, N_V(CLEAR) } },
	/* 1.2: <-- HDR, SAr1, KEr, Nr, [CERTREQ] */
	{ "IKE_SA_INIT response", IKE_EXCH_SA_INIT, true, 0, {
		{ IKE_PT_SA, 1, 1, CLEAR }, { IKE_PT_KE, 1, 1, CLEAR },
		{ IKE_PT_NONCE, 1, 1, CLEAR }, { IKE_PT_CERTREQ, 0, ANY, CLEAR }, N_V(CLEAR) } },
	/* 1.2, 2.6, 2.21.1: <-- HDR, N(COOKIE | INVALID_KE_PAYLOAD | NO_PROPOSAL_CHOSEN ...) */
	{ "IKE_SA_INIT response (error)", IKE_EXCH_SA_INIT, true, 0, {
		{ IKE_PT_NOTIFY, 1, ANY, CLEAR }, { IKE_PT_VENDOR, 0, ANY, CLEAR } } },

	/* 1.2, 2.16: HDR, SK {IDi, [CERT,] [CERTREQ,] [IDr,] [AUTH,] [CP,] [SAi2, TSi, TSr]} -->
	 * AUTH is left out to ask for EAP (2.16). */
	{ "IKE_AUTH request", IKE_EXCH_AUTH, false, CHILD_GROUP, {
		SK_ONLY, { IKE_PT_IDI, 1, 1, IN_SK }, { IKE_PT_CERT, 0, ANY, IN_SK },
		{ IKE_PT_CERTREQ, 0, ANY, IN_SK }, { IKE_PT_IDR, 0, 1, IN_SK },
		{ IKE_PT_AUTH, 0, 1, IN_SK }, { IKE_PT_CP, 0, 1, IN_SK },
		{ IKE_PT_SA, 0, 1, IN_SK }, { IKE_PT_TSI, 0, 1, IN_SK },
		{ IKE_PT_TSR, 0, 1, IN_SK }, N_V(IN_SK) } },
	/* 2.16: HDR, SK {EAP} --> */
	{ "IKE_AUTH request (EAP)", IKE_EXCH_AUTH, false, 0, {
		SK_ONLY, { IKE_PT_EAP, 1, 1, IN_SK }, N_V(IN_SK) } },
	/* 2.16: HDR, SK {AUTH} --> */
	{ "IKE_AUTH request (AUTH after EAP)", IKE_EXCH_AUTH, false, 0, {
		SK_ONLY, { IKE_PT_AUTH, 1, 1, IN_SK }, N_V(IN_SK) } },
	/* 1.2, 2.16: <-- HDR, SK {IDr, [CERT,] AUTH, [EAP,] [CP,] [SAr2, TSi, TSr]} */
	{ "IKE_AUTH response", IKE_EXCH_AUTH, true, CHILD_GROUP, {
		SK_ONLY, { IKE_PT_IDR, 1, 1, IN_SK }, { IKE_PT_CERT, 0, ANY, IN_SK },
		{ IKE_PT_AUTH, 1, 1, IN_SK }, { IKE_PT_EAP, 0, 1, IN_SK },
		{ IKE_PT_CP, 0, 1, IN_SK }, { IKE_PT_SA, 0, 1, IN_SK },
		{ IKE_PT_TSI, 0, 1, IN_SK }, { IKE_PT_TSR, 0, 1, IN_SK }, N_V(IN_SK) } },
	/* 2.16: <-- HDR, SK {EAP} */
	{ "IKE_AUTH response (EAP)", IKE_EXCH_AUTH, true, 0, {
		SK_ONLY, { IKE_PT_EAP, 1, 1, IN_SK }, N_V(IN_SK) } },
	/* 2.16: <-- HDR, SK {AUTH, [CP,] [SAr2, TSi, TSr]} */
	{ "IKE_AUTH response (AUTH after EAP)", IKE_EXCH_AUTH, true, CHILD_GROUP, {
		SK_ONLY, { IKE_PT_AUTH, 1, 1, IN_SK }, { IKE_PT_CP, 0, 1, IN_SK },
		{ IKE_PT_SA, 0, 1, IN_SK }, { IKE_PT_TSI, 0, 1, IN_SK },
		{ IKE_PT_TSR, 0, 1, IN_SK }, N_V(IN_SK) } },
	/* 2.21.2: <-- HDR, SK {N(AUTHENTICATION_FAILED)} */
	{ "IKE_AUTH response (error)", IKE_EXCH_AUTH, true, 0, {
		SK_ONLY, { IKE_PT_NOTIFY, 1, ANY, IN_SK }, { IKE_PT_VENDOR, 0, ANY, IN_SK } } },

	/* 1.3.1, 1.3.3: HDR, SK {[N(REKEY_SA),] SA, Ni, [KEi,] TSi, TSr} --> */
	{ "CREATE_CHILD_SA request (Child SA)", IKE_EXCH_CREATE_CHILD_SA, false, 0, {
		SK_ONLY, { IKE_PT_SA, 1, 1, IN_SK }, { IKE_PT_NONCE, 1, 1, IN_SK },
		{ IKE_PT_KE, 0, 1, IN_SK }, { IKE_PT_TSI, 1, 1, IN_SK },
		{ IKE_PT_TSR, 1, 1, IN_SK }, N_V(IN_SK) } },
	/* 1.3.2: HDR, SK {SA, Ni, KEi} --> ("The KEi payload MUST be included") */
	{ "CREATE_CHILD_SA request (IKE SA rekey)", IKE_EXCH_CREATE_CHILD_SA, false, 0, {
		SK_ONLY, { IKE_PT_SA, 1, 1, IN_SK }, { IKE_PT_NONCE, 1, 1, IN_SK },
		{ IKE_PT_KE, 1, 1, IN_SK }, N_V(IN_SK) } },
	/* 1.3.1, 1.3.3: <-- HDR, SK {SA, Nr, [KEr,] TSi, TSr} */
	{ "CREATE_CHILD_SA response (Child SA)", IKE_EXCH_CREATE_CHILD_SA, true, 0, {
		SK_ONLY, { IKE_PT_SA, 1, 1, IN_SK }, { IKE_PT_NONCE, 1, 1, IN_SK },
		{ IKE_PT_KE, 0, 1, IN_SK }, { IKE_PT_TSI, 1, 1, IN_SK },
		{ IKE_PT_TSR, 1, 1, IN_SK }, N_V(IN_SK) } },
	/* 1.3.2: <-- HDR, SK {SA, Nr, KEr} */
	{ "CREATE_CHILD_SA response (IKE SA rekey)", IKE_EXCH_CREATE_CHILD_SA, true, 0, {
		SK_ONLY, { IKE_PT_SA, 1, 1, IN_SK }, { IKE_PT_NONCE, 1, 1, IN_SK },
		{ IKE_PT_KE, 1, 1, IN_SK }, N_V(IN_SK) } },
	/* 1.3, 2.21: <-- HDR, SK {N(NO_PROPOSAL_CHOSEN | INVALID_KE_PAYLOAD | ...)} */
	{ "CREATE_CHILD_SA response (error)", IKE_EXCH_CREATE_CHILD_SA, true, 0, {
		SK_ONLY, { IKE_PT_NOTIFY, 1, ANY, IN_SK }, { IKE_PT_VENDOR, 0, ANY, IN_SK } } },

	/* 1.4: HDR, SK {[N,] [D,] [CP,] ...} in both directions; may be empty (liveness). */
	{ "INFORMATIONAL request", IKE_EXCH_INFORMATIONAL, false, 0, {
		SK_ONLY, { IKE_PT_DELETE, 0, ANY, IN_SK }, { IKE_PT_CP, 0, 1, IN_SK },
		N_V(IN_SK) } },
	{ "INFORMATIONAL response", IKE_EXCH_INFORMATIONAL, true, 0, {
		SK_ONLY, { IKE_PT_DELETE, 0, ANY, IN_SK }, { IKE_PT_CP, 0, 1, IN_SK },
		N_V(IN_SK) } },
};

#define N_SHAPES (sizeof(shapes) / sizeof(shapes[0]))

/* Payload counts of one message, by type, in the clear and inside SK. */
struct counts {
	uint8_t clear[256];
	uint8_t in_sk[256];
};

static void count_chain(const struct ike_chain *c, uint8_t *out)
{
	for (size_t i = 0; i < c->count; i++)
		if (out[c->p[i].type] < UINT8_MAX)
			out[c->p[i].type]++;
}

static const struct count_rule *rule_for(const struct shape *s, uint8_t type)
{
	for (size_t i = 0; i < MAX_RULES && s->rules[i].type; i++)
		if (s->rules[i].type == type)
			return &s->rules[i];
	return NULL;
}

static void set(struct ike_rule_result *r, enum ike_rule_kind kind, uint8_t type,
		const struct count_rule *rule, uint8_t count)
{
	r->kind = kind;
	r->payload_type = type;
	r->min = rule ? rule->min : 0;
	r->max = rule ? rule->max : 0;
	r->count = count;
}

/* Check one shape; returns the number of broken rules and the first one in *first. With
 * full false, counts inside SK are not known yet and only the clear part is checked. */
static unsigned check_shape(const struct shape *s, const struct counts *c, bool full,
			    struct ike_rule_result *first)
{
	unsigned broken = 0;
	struct ike_rule_result r;

	memset(&r, 0, sizeof(r));
#define BREAK(...) do { if (broken++ == 0) { set(&r, __VA_ARGS__); } } while (0)
	/* Every payload type present must be listed, in its place. */
	for (unsigned t = 1; t < 256; t++) {
		const struct count_rule *rule = rule_for(s, (uint8_t)t);

		if (c->clear[t] && (!rule || rule->where != CLEAR))
			BREAK(rule ? IKE_RULE_MUST_BE_ENCRYPTED : IKE_RULE_TOO_MANY, (uint8_t)t,
			      rule, c->clear[t]);
		if (full && c->in_sk[t] && (!rule || rule->where != IN_SK))
			BREAK(rule ? IKE_RULE_MUST_BE_CLEAR : IKE_RULE_TOO_MANY, (uint8_t)t, rule,
			      c->in_sk[t]);
	}
	/* Counts where each listed type belongs. */
	for (size_t i = 0; i < MAX_RULES && s->rules[i].type; i++) {
		const struct count_rule *rule = &s->rules[i];
		uint8_t n = rule->where == CLEAR ? c->clear[rule->type] : c->in_sk[rule->type];
		uint8_t misplaced = rule->where == CLEAR ? c->in_sk[rule->type] :
				    c->clear[rule->type];

		if (rule->where == IN_SK && !full)
			continue;
		/* A payload in the wrong place was reported above, not again as missing. */
		if (n < rule->min && !misplaced)
			BREAK(IKE_RULE_TOO_FEW, rule->type, rule, n);
		else if (n > rule->max)
			BREAK(IKE_RULE_TOO_MANY, rule->type, rule, n);
	}
	/* Groups: all or none (SA with TSi and TSr, 1.2, 2.9). */
	if (s->together && full) {
		bool any = false, all = true;
		uint8_t missing = 0;

		for (unsigned t = 32; t < 64; t++) {
			if (!(s->together & BIT(t)))
				continue;
			if (c->in_sk[t] || c->clear[t]) {
				any = true;
			} else if (all) {
				all = false;
				missing = (uint8_t)t;
			}
		}
		if (any && !all)
			BREAK(IKE_RULE_NOT_TOGETHER, missing, rule_for(s, missing), 0);
	}
#undef BREAK
	if (broken)
		*first = r;
	return broken;
}

int ike_rules_check(const struct ike_msg *m, const struct ike_chain *inner,
		    struct ike_rule_result *res)
{
	struct counts c;
	struct ike_rule_result best;
	unsigned best_broken = 0;
	bool found = false, is_request = !ike_hdr_is_response(&m->hdr);
	bool full = inner != NULL || m->hdr.exchange == IKE_EXCH_SA_INIT;

	memset(&c, 0, sizeof(c));
	memset(&best, 0, sizeof(best));
	count_chain(&m->chain, c.clear);
	if (m->sk.present)
		c.clear[IKE_PT_SK]++;        /* SKF counts as SK (RFC 7383 2.5) */
	if (inner)
		count_chain(inner, c.in_sk);
	for (size_t i = 0; i < N_SHAPES; i++) {
		const struct shape *s = &shapes[i];
		struct ike_rule_result r;
		unsigned broken;

		if (s->exchange != m->hdr.exchange || s->response == is_request)
			continue;
		broken = check_shape(s, &c, full, &r);
		if (broken == 0)
			return 0;
		r.shape = s->name;
		if (!found || broken < best_broken) {
			best = r;
			best_broken = broken;
			found = true;
		}
	}
	if (!found) {
		memset(res, 0, sizeof(*res));
		res->kind = IKE_RULE_UNKNOWN_EXCHANGE;
		res->shape = "unknown exchange";
		return -EOPNOTSUPP;
	}
	/* 3.10.1: INVALID_SYNTAX only inside a verified SK, and only to a request. */
	best.notify = inner && is_request && m->sk.present ? N_INVALID_SYNTAX : 0;
	*res = best;
	return -EBADMSG;
}

const char *ike_rule_describe(const struct ike_rule_result *res, char *buf, size_t size)
{
	char tmp[NAME_BUF_SIZE], maxs[16];
	const char *pt = name_or_number(&ikev2_payload_names, res->payload_type, tmp,
					sizeof(tmp));

	if (!buf || size == 0)
		return buf;
	if (res->max == IKE_RULE_ANY)
		snprintf(maxs, sizeof(maxs), "any");
	else
		snprintf(maxs, sizeof(maxs), "%u", res->max);
	switch (res->kind) {
	case IKE_RULE_OK:
		snprintf(buf, size, "ok");
		break;
	case IKE_RULE_UNKNOWN_EXCHANGE:
		snprintf(buf, size, "no rules for this exchange type");
		break;
	case IKE_RULE_TOO_FEW:
		snprintf(buf, size, "%s: %s: %u found, at least %u required", res->shape, pt,
			 res->count, res->min);
		break;
	case IKE_RULE_TOO_MANY:
		if (res->max == 0)
			snprintf(buf, size, "%s: %s not allowed", res->shape, pt);
		else
			snprintf(buf, size, "%s: %s: %u found, at most %s allowed", res->shape, pt,
				 res->count, maxs);
		break;
	case IKE_RULE_MUST_BE_ENCRYPTED:
		snprintf(buf, size, "%s: %s must be inside the Encrypted payload", res->shape, pt);
		break;
	case IKE_RULE_MUST_BE_CLEAR:
		snprintf(buf, size, "%s: %s must not be inside the Encrypted payload", res->shape,
			 pt);
		break;
	case IKE_RULE_NOT_TOGETHER:
		snprintf(buf, size, "%s: SA, TSi and TSr come together; %s is missing", res->shape,
			 pt);
		break;
	}
	return buf;
}
