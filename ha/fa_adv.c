/* The foreign agent's Agent Advertisement scheduler. See fa_adv.h. */
#include "ha/fa_adv.h"

#include <errno.h>
#include <string.h>

#include "common/sock.h"

/* xorshift64* (Vigna): small, good enough to spread timers (RFC 1256 §5.1 only wants
 * routers on a link not to synchronise); never 0. */
static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * UINT64_C(2685821657736338717);
}

static mm_time_ns max_interval(const struct fa_adv_config *c)
{
	return MM_MSEC(c->interval_ms);
}

/* RFC 1256 §5.1: uniform in [Min, Max], Min = 0.75 * Max (§4.1 default); the first
 * FA_ADV_INITIAL intervals at most MAX_INITIAL_ADVERT_INTERVAL. */
static mm_time_ns pick_interval(struct fa_adv *s)
{
	mm_time_ns max = max_interval(&s->cfg), min = max - max / 4, span = max - min, iv;

	iv = min + (span ? rng_next(&s->rng) % (span + 1) : 0);
	if (s->multicasts <= FA_ADV_INITIAL && iv > FA_ADV_INITIAL_INTERVAL)
		iv = FA_ADV_INITIAL_INTERVAL;
	return iv;
}

uint16_t fa_adv_lifetime(const struct fa_adv_config *cfg)
{
	/* RFC 1256 §4.1: default 3 * Max, no less than Max, no more than 9000 s. Max is in
	 * ms here: round up to whole seconds. */
	unsigned max_s = (cfg->interval_ms + 999) / 1000, l = 3 * max_s;

	if (l > FA_ADV_LIFETIME_MAX)
		l = FA_ADV_LIFETIME_MAX;
	if (l < max_s)
		l = max_s;
	return (uint16_t)l;
}

int fa_adv_init(struct fa_adv *s, const struct fa_adv_config *cfg, uint64_t seed,
		mm_time_ns now)
{
	if (!s || !cfg || cfg->ncoa == 0 || cfg->ncoa > FA_ADV_MAX_COA ||
	    cfg->interval_ms < FA_ADV_INTERVAL_MIN_MS || cfg->interval_ms > FA_ADV_INTERVAL_MAX_MS ||
	    cfg->link_plen > 32 || cfg->reg_lifetime == 0)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->rng = seed ? seed : UINT64_C(0x9e3779b97f4a7c15);
	s->seq = 0;                      /* RFC 5944 §2.3.2: 0 after booting */
	s->next_periodic = now;          /* the first one at once */
	s->uni_tokens = FA_ADV_UNICAST_BURST;
	s->uni_refill = now;
	return 0;
}

mm_time_ns fa_adv_next(const struct fa_adv *s)
{
	mm_time_ns next = s->next_periodic;

	if (s->answer_pending && s->last_answer + FA_ADV_MULTICAST_GAP < next)
		next = s->last_answer + FA_ADV_MULTICAST_GAP;
	return next;
}

void fa_adv_fill(const struct fa_adv_config *cfg, uint16_t seq, struct mip4_agent_adv *out)
{
	memset(out, 0, sizeof(*out));
	out->lifetime = fa_adv_lifetime(cfg);
	if (cfg->routes_common) {
		/* §2.3.1: only our own address; we route the visitors' traffic (§4.2.2). */
		out->code = MIP4_ADV_CODE_ROUTER;
		out->num_addrs = 1;
		out->routers[0].addr = cfg->link_addr;
		out->routers[0].preference = 0;
		if (cfg->prefix_lengths) {
			out->has_prefix_lengths = true;
			out->prefix_len[0] = (uint8_t)cfg->link_plen;
		}
	} else {
		out->code = MIP4_ADV_CODE_NO_COMMON;
		out->num_addrs = 0;
	}
	out->seq = seq;
	out->reg_lifetime = cfg->reg_lifetime;
	out->flags = MIP4_ADV_F;
	if (cfg->registration_required)
		out->flags |= MIP4_ADV_R;
	if (cfg->reverse_tunnel)
		out->flags |= MIP4_ADV_T;
	if (cfg->home_agent)
		out->flags |= MIP4_ADV_H;
	out->num_coa = (uint8_t)cfg->ncoa;
	memcpy(out->coa, cfg->coa, cfg->ncoa * sizeof(cfg->coa[0]));
}

/* The per-source gap: the entry for src (NULL: none yet), and whether it was answered less
 * than FA_ADV_UNICAST_GAP before now. */
static struct fa_adv_source *source_find(struct fa_adv *s, struct in_addr src, mm_time_ns now,
					 bool *recent)
{
	*recent = false;
	for (unsigned i = 0; i < s->nsrc; i++)
		if (s->src[i].addr.s_addr == src.s_addr) {
			*recent = now < s->src[i].at + FA_ADV_UNICAST_GAP;
			return &s->src[i];
		}
	return NULL;
}

/* Remember src as answered at now (the entry answered longest ago makes room). */
static void source_note(struct fa_adv *s, struct fa_adv_source *e, struct in_addr src,
			mm_time_ns now)
{
	if (!e) {
		unsigned oldest = 0;

		for (unsigned i = 1; i < s->nsrc; i++)
			if (s->src[i].at < s->src[oldest].at)
				oldest = i;
		e = &s->src[s->nsrc < FA_ADV_SOURCES ? s->nsrc++ : oldest];
	}
	e->addr = src;
	e->at = now;
}

/* FA_ADV_UNICAST_BURST tokens, one back per second/BURST. */
static bool unicast_token(struct fa_adv *s, mm_time_ns now)
{
	mm_time_ns step = MM_SEC(1) / FA_ADV_UNICAST_BURST;

	if (now > s->uni_refill) {
		mm_time_ns add = (now - s->uni_refill) / step;

		if (add >= FA_ADV_UNICAST_BURST || s->uni_tokens + add >= FA_ADV_UNICAST_BURST) {
			s->uni_tokens = FA_ADV_UNICAST_BURST;
			s->uni_refill = now;
		} else {
			s->uni_tokens += (unsigned)add;
			s->uni_refill += add * step;
		}
	}
	if (!s->uni_tokens)
		return false;
	s->uni_tokens--;
	return true;
}

enum fa_answer fa_adv_solicited(struct fa_adv *s, struct in_addr src, mm_time_ns now)
{
	bool on_link = src.s_addr != INADDR_ANY &&
		       prefix4_contains(s->cfg.link_addr, s->cfg.link_plen, src) &&
		       src.s_addr != s->cfg.link_addr.s_addr;

	if (on_link) {
		bool recent;
		struct fa_adv_source *e = source_find(s, src, now, &recent);

		if (recent || !unicast_token(s, now)) {
			s->limited++;
			return FA_ANSWER_LIMITED;
		}
		source_note(s, e, src, now);
		return FA_ANSWER_UNICAST;
	}
	if (s->answer_pending)
		return FA_ANSWER_DEFERRED;   /* one multicast answers them all */
	if (s->answered && now < s->last_answer + FA_ADV_MULTICAST_GAP) {
		s->answer_pending = true;
		return FA_ANSWER_DEFERRED;
	}
	s->answered = true;
	s->last_answer = now;
	return FA_ANSWER_MULTICAST;
}

int fa_adv_emit(struct fa_adv *s, bool multicast, mm_time_ns now, struct writer *w)
{
	struct mip4_agent_adv adv;
	int n;

	fa_adv_fill(&s->cfg, s->seq, &adv);
	n = mip4_adv_encode(w, &adv);
	if (n < 0)
		return n;
	s->seq = mip4_adv_seq_next(s->seq);
	if (s->sent < UINT32_MAX)
		s->sent++;
	if (multicast) {
		if (s->multicasts < UINT32_MAX)
			s->multicasts++;
		s->last_multicast = now;
		if (s->answer_pending) {
			/* It answers the deferred solicitations: the next answer a gap later. */
			s->last_answer = now;
			s->answer_pending = false;
		}
		s->next_periodic = now + pick_interval(s);
	}
	return n;
}
