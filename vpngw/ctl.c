/* vpngw's control-socket documents. See ctl.h. */
#include "vpngw/ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "common/sock.h"
#include "daemon/control.h"
#include "daemon/json.h"
#include "daemon/proposals.h"
#include "vpngw/ident.h"

const char *vpngw_ctl_ts_str(const struct ike_ts4 *t, char *buf, size_t size)
{
	char a[ADDR4_STRLEN], b[ADDR4_STRLEN], sel[32] = "";
	uint32_t s = ntohl(t->start.s_addr), e = ntohl(t->end.s_addr);
	uint32_t span = e - s;
	int plen = -1;

	/* A CIDR block: start aligned, size a power of two. */
	if (s <= e && (span & (span + 1)) == 0 && (s & span) == 0)
		plen = span == UINT32_MAX ? 0 : 32 - __builtin_popcount(span);
	if (t->ip_proto && t->start_port == 0 && t->end_port == 65535)
		snprintf(sel, sizeof(sel), "[%u]", t->ip_proto);
	else if (t->start_port == t->end_port)
		snprintf(sel, sizeof(sel), "[%u/%u]", t->ip_proto, t->start_port);
	else if (t->start_port != 0 || t->end_port != 65535)
		snprintf(sel, sizeof(sel), "[%u/%u-%u]", t->ip_proto, t->start_port, t->end_port);
	if (plen >= 0)
		snprintf(buf, size, "%s/%d%s", addr4_str(t->start, a), plen, sel);
	else
		snprintf(buf, size, "%s-%s%s", addr4_str(t->start, a), addr4_str(t->end, b), sel);
	return buf;
}

static void kv_endpoint(struct json *j, const char *key, const struct ike_endpoint *ep)
{
	char a[ADDR4_STRLEN], s[ADDR4_STRLEN + 8];

	snprintf(s, sizeof(s), "%s:%u", addr4_str(ep->addr, a), ep->port);
	json_kv_string(j, key, s);
}

static void kv_hex64(struct json *j, const char *key, uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%016llx", (unsigned long long)v);
	json_kv_string(j, key, s);
}

static void kv_hex32(struct json *j, const char *key, uint32_t v)
{
	char s[12];

	snprintf(s, sizeof(s), "%08x", v);
	json_kv_string(j, key, s);
}

/* Seconds since t (0: unknown -> null). */
static void kv_since(struct json *j, const char *key, mm_time_ns t, mm_time_ns now)
{
	if (!t)
		json_kv_null(j, key);
	else
		json_kv_uint(j, key, now > t ? (now - t) / MM_SEC(1) : 0);
}

/* Seconds until t (0 or IKE_TIME_NEVER -> null). */
static void kv_until(struct json *j, const char *key, mm_time_ns t, mm_time_ns now)
{
	if (!t || t == IKE_TIME_NEVER)
		json_kv_null(j, key);
	else
		json_kv_uint(j, key, t > now ? (t - now + MM_SEC(1) - 1) / MM_SEC(1) : 0);
}

static void ts_array(struct json *j, const char *key, const struct ike_ts4_list *l)
{
	char s[64];

	json_key(j, key);
	json_begin_array(j);
	for (size_t i = 0; i < l->n && i < IKE_CFG_MAX_TS; i++)
		json_string(j, vpngw_ctl_ts_str(&l->ts[i], s, sizeof(s)));
	json_end_array(j);
}

static void child_json(struct json *j, const struct espdp_child *c, mm_time_ns now)
{
	char suite[96];

	json_begin_object(j);
	kv_hex32(j, "spi_in", c->spi_in);
	kv_hex32(j, "spi_out", c->spi_out);
	json_kv_string(j, "suite", proposals_format(&c->suite, IKE_SUITE_ESP, suite,
						    sizeof(suite)));
	ts_array(j, "ts_local", &c->ts_local);
	ts_array(j, "ts_remote", &c->ts_remote);
	kv_endpoint(j, "remote", &c->remote);
	json_kv_bool(j, "udp_encap", c->udp_encap);
	json_kv_string(j, "state", esp_sa_state_name(c->state_in > c->state_out ? c->state_in
						     : c->state_out));
	json_kv_uint(j, "in_packets", c->in.packets);
	json_kv_uint(j, "in_bytes", c->in.bytes);
	json_kv_uint(j, "out_packets", c->out.packets);
	json_kv_uint(j, "out_bytes", c->out.bytes);
	kv_since(j, "installed_s", c->added, now);
	json_kv_uint(j, "lifetime_s", c->lifetime_s);
	kv_until(j, "rekey_in_s", c->soft_at, now);
	kv_until(j, "expire_in_s", c->hard_at, now);
	json_key(j, "drops");
	json_begin_object(j);
	for (int r = ESP_DROP_NONE + 1; r < ESP_DROP_COUNT; r++) {
		uint64_t n = c->in_drops[r] + c->out_drops[r];

		if (n)
			json_kv_uint(j, esp_drop_name((enum esp_drop)r), n);
	}
	if (c->in_ts_mismatch)
		json_kv_uint(j, "ts-mismatch-in", c->in_ts_mismatch);
	if (c->out_ts_mismatch)
		json_kv_uint(j, "ts-mismatch-out", c->out_ts_mismatch);
	json_end_object(j);
	json_end_object(j);
}

static const char *nat_word(bool local, bool remote)
{
	return local ? (remote ? "both" : "local") : (remote ? "remote" : "none");
}

/* The SA's MOBIKE state and its last address update (issue "MOBIKE" 4). */
static void mobike_json(struct json *j, const struct vpngw_ctl_sa *s, mm_time_ns now)
{
	const struct ike_sa_info *sa = &s->info;
	const struct vpngw_ctl_move *m = &s->last_move;
	char took[32];

	json_kv_bool(j, "mobike", sa->mobike);
	json_kv_uint(j, "moves", sa->moves);
	json_kv_bool(j, "rr_pending", sa->rr_pending);
	json_kv_addr4_array(j, "peer_addresses", sa->peer_addrs,
			    MIN(sa->npeer_addrs, G_N_ELEMENTS(sa->peer_addrs)));
	if (!m->at) {
		json_kv_null(j, "last_move");
		return;
	}
	json_key(j, "last_move");
	json_begin_object(j);
	kv_endpoint(j, "old_local", &m->old_local);
	kv_endpoint(j, "old_remote", &m->old_remote);
	kv_endpoint(j, "new_local", &m->new_local);
	kv_endpoint(j, "new_remote", &m->new_remote);
	json_kv_string(j, "old_nat", nat_word(m->old_nat_local, m->old_nat_remote));
	json_kv_string(j, "nat", nat_word(m->nat_local, m->nat_remote));
	/* A string: the JSON writer has no fractions, and sub-millisecond moves matter. */
	snprintf(took, sizeof(took), "%llu.%03llu", (unsigned long long)(m->took / MM_MSEC(1)),
		 (unsigned long long)(m->took / 1000 % 1000));
	json_kv_string(j, "took_ms", took);
	kv_since(j, "ago_s", m->at, now);
	json_end_object(j);
}

static bool belongs(const struct espdp_child *c, const struct ike_sa_info *sa)
{
	return c->ike_spi_i == sa->spi_i && c->ike_spi_r == sa->spi_r;
}

char *vpngw_ctl_list_json(const struct vpngw_ctl_sa *sas, size_t n, const struct espdp *dp,
			  mm_time_ns now)
{
	struct espdp_child c;
	struct json j;
	size_t cursor;

	json_init(&j);
	json_begin_object(&j);
	json_key(&j, "ike_sas");
	json_begin_array(&j);
	for (size_t i = 0; i < n; i++) {
		const struct ike_sa_info *sa = &sas[i].info;
		char id[256], suite[96];

		json_begin_object(&j);
		json_kv_string(&j, "peer", sa->peer && sa->peer->name ? sa->peer->name : NULL);
		json_kv_string(&j, "peer_id", ident_str(&sa->peer_id, id, sizeof(id)));
		json_kv_string(&j, "role", sa->role == IKE_ROLE_INITIATOR ? "initiator"
			       : "responder");
		json_kv_string(&j, "state", sa->state);
		kv_hex64(&j, "spi_i", sa->spi_i);
		kv_hex64(&j, "spi_r", sa->spi_r);
		kv_endpoint(&j, "local", &sa->local);
		kv_endpoint(&j, "remote", &sa->remote);
		json_kv_bool(&j, "nat_local", sa->nat_local);
		json_kv_bool(&j, "nat_remote", sa->nat_remote);
		json_kv_addr4_or_null(&j, "inner_address", sa->inner_addr);
		json_kv_addr4_array(&j, "dns", sa->dns, MIN(sa->ndns, G_N_ELEMENTS(sa->dns)));
		json_kv_string(&j, "suite", proposals_format(&sa->suite, IKE_SUITE_IKE, suite,
							     sizeof(suite)));
		kv_since(&j, "established_s", sas[i].established, now);
		kv_until(&j, "rekey_in_s", sas[i].rekey_at, now);
		mobike_json(&j, &sas[i], now);
		json_key(&j, "child_sas");
		json_begin_array(&j);
		for (cursor = 0; espdp_next_child(dp, &cursor, &c);)
			if (belongs(&c, sa))
				child_json(&j, &c, now);
		json_end_array(&j);
		json_end_object(&j);
	}
	json_end_array(&j);
	/* Child SAs whose IKE SA is not listed (should not be: the daemon removes them with
	 * their IKE SA), so that nothing installed stays invisible. */
	json_key(&j, "child_sas_without_ike_sa");
	json_begin_array(&j);
	for (cursor = 0; espdp_next_child(dp, &cursor, &c);) {
		bool found = false;

		for (size_t i = 0; i < n && !found; i++)
			found = belongs(&c, &sas[i].info);
		if (!found)
			child_json(&j, &c, now);
	}
	json_end_array(&j);
	json_end_object(&j);
	return json_finish(&j);
}

char *vpngw_ctl_stats_json(const struct ike_engine_stats *ike, size_t ike_sas,
			   const struct vpngw_ctl_pool *pool, const struct espdp *dp)
{
	const struct espdp_stats *d = espdp_stats(dp);
	struct json j;

	json_init(&j);
	json_begin_object(&j);
	if (ike) {
		json_key(&j, "ike");
		json_begin_object(&j);
		json_kv_uint(&j, "rx", ike->rx);
		json_kv_uint(&j, "tx", ike->tx);
		json_kv_uint(&j, "retransmits", ike->retransmits);
		json_kv_uint(&j, "dropped_malformed", ike->dropped_malformed);
		json_kv_uint(&j, "dropped_unknown_spi", ike->dropped_unknown_spi);
		json_kv_uint(&j, "dropped_integrity", ike->dropped_integrity);
		json_kv_uint(&j, "dropped_replay", ike->dropped_replay);
		json_kv_uint(&j, "cookies_sent", ike->cookies_sent);
		json_kv_uint(&j, "half_open", ike->half_open);
		json_kv_uint(&j, "established", ike->established);
		json_kv_uint(&j, "auth_failures", ike->auth_failures);
		json_kv_uint(&j, "no_proposal", ike->no_proposal);
		json_kv_uint(&j, "pool_exhausted", ike->pool_exhausted);
		json_end_object(&j);
		json_key(&j, "mobike");
		json_begin_object(&j);
		json_kv_uint(&j, "updates_rx", ike->mobike_updates_rx);
		json_kv_uint(&j, "updates_accepted", ike->mobike_updates_accepted);
		json_kv_uint(&j, "updates_refused", ike->mobike_updates_refused);
		json_kv_uint(&j, "updates_sent", ike->mobike_updates_sent);
		json_kv_uint(&j, "rr_sent", ike->mobike_rr_sent);
		json_kv_uint(&j, "rr_failed", ike->mobike_rr_failed);
		json_kv_uint(&j, "probes", ike->mobike_probes);
		json_kv_uint(&j, "moves", ike->mobike_moves);
		json_kv_uint(&j, "moves_failed", ike->mobike_moves_failed);
		json_end_object(&j);
	}
	json_kv_uint(&j, "ike_sas", ike_sas);
	json_kv_uint(&j, "child_sas", d ? d->children : 0);
	if (pool && pool->size) {
		json_key(&j, "pool");
		json_begin_object(&j);
		json_kv_uint(&j, "size", pool->size);
		json_kv_uint(&j, "in_use", pool->in_use);
		json_end_object(&j);
	}
	if (d) {
		json_key(&j, "esp");
		json_begin_object(&j);
		json_kv_uint(&j, "out_packets", d->out_packets);
		json_kv_uint(&j, "out_bytes", d->out_bytes);
		json_kv_uint(&j, "out_no_sa", d->out_no_sa);
		json_kv_uint(&j, "out_ts_mismatch", d->out_ts_mismatch);
		json_kv_uint(&j, "out_bad", d->out_bad);
		json_kv_uint(&j, "out_esp_errors", d->out_esp_errors);
		json_kv_uint(&j, "out_send_errors", d->out_send_errors);
		json_kv_uint(&j, "in_packets", d->in_packets);
		json_kv_uint(&j, "in_bytes", d->in_bytes);
		json_kv_uint(&j, "in_unknown_spi", d->in_unknown_spi);
		json_kv_uint(&j, "in_ts_mismatch", d->in_ts_mismatch);
		json_kv_uint(&j, "in_bad_inner", d->in_bad_inner);
		json_kv_uint(&j, "in_write_errors", d->in_write_errors);
		json_kv_uint(&j, "in_invalid", d->in_invalid);
		json_kv_uint(&j, "ike_messages_4500", d->ike_messages);
		json_kv_uint(&j, "keepalives", d->keepalives);
		json_kv_uint(&j, "peer_moved", d->peer_moved);
		json_kv_uint(&j, "other_source", d->other_source);
		json_kv_uint(&j, "moves", d->moves);
		/* handover replay after MOBIKE moves (daemon/replay.h) */
		json_kv_uint(&j, "replays", d->replays);
		json_kv_uint(&j, "replayed_packets", d->replayed_packets);
		json_kv_uint(&j, "replayed_bytes", d->replayed_bytes);
		json_kv_uint(&j, "replay_skipped", d->replay_skipped);
		json_kv_uint(&j, "replay_too_big", d->replay_too_big);
		json_kv_uint(&j, "log_lines_suppressed", d->log_suppressed);
		json_key(&j, "in_drops");
		json_begin_object(&j);
		for (int r = ESP_DROP_NONE + 1; r < ESP_DROP_COUNT; r++)
			json_kv_uint(&j, esp_drop_name((enum esp_drop)r), d->in_esp_drops[r]);
		json_end_object(&j);
		json_end_object(&j);
	}
	json_end_object(&j);
	return json_finish(&j);
}

#define UNKNOWN_REQUEST "unknown request: try list, stats, rekey-child SPI, rekey-ike SPI " \
	"or terminate SPI"

/* Exactly digits hex digits, not all zero. */
static bool parse_spi(const char *s, size_t digits, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		int d = g_ascii_xdigit_value(s[i]);

		if (d < 0 || i >= digits)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	if (i != digits || v == 0)
		return false;
	*out = v;
	return true;
}

int vpngw_ctl_parse(const char *request, struct vpngw_ctl_req *out, const char **why)
{
	static const struct {
		const char *verb;
		enum vpngw_ctl_op op;
		size_t digits;               /* 0: no operand */
		const char *why;
	} reqs[] = {
		{ "list", VPNGW_CTL_LIST, 0, NULL },
		{ "stats", VPNGW_CTL_STATS, 0, NULL },
		{ "rekey-child", VPNGW_CTL_REKEY_CHILD, 8,
		  "rekey-child needs a Child SA's inbound or outbound SPI: 8 hex digits" },
		{ "rekey-ike", VPNGW_CTL_REKEY_IKE, 16,
		  "rekey-ike needs an IKE SA's spi_i or spi_r: 16 hex digits" },
		{ "terminate", VPNGW_CTL_TERMINATE, 16,
		  "terminate needs an IKE SA's spi_i or spi_r: 16 hex digits" },
	};
	const char *sp = strchr(request, ' ');
	size_t vlen = sp ? (size_t)(sp - request) : strlen(request);

	for (size_t i = 0; i < G_N_ELEMENTS(reqs); i++) {
		uint64_t spi = 0;

		if (strlen(reqs[i].verb) != vlen || memcmp(request, reqs[i].verb, vlen) != 0)
			continue;
		if (reqs[i].digits == 0 && sp)
			break;               /* "list foo" */
		if (reqs[i].digits && (!sp || !parse_spi(sp + 1, reqs[i].digits, &spi))) {
			*why = reqs[i].why;
			return -EINVAL;
		}
		out->op = reqs[i].op;
		out->spi = spi;
		return 0;
	}
	*why = UNKNOWN_REQUEST;
	return -EINVAL;
}

int vpngw_ctl_find_child(const struct espdp *dp, uint32_t spi, uint32_t *spi_in,
			 uint64_t *ike_spi_i)
{
	struct espdp_child c;
	size_t cursor = 0;

	while (spi && espdp_next_child(dp, &cursor, &c))
		if (c.spi_in == spi || c.spi_out == spi) {
			*spi_in = c.spi_in;
			*ike_spi_i = c.ike_spi_i;
			return 0;
		}
	return -ENOENT;
}

const char *vpngw_ctl_order_result(const struct vpngw_ctl_req *req, int rc, char *buf,
				   size_t size)
{
	bool child = req->op == VPNGW_CTL_REKEY_CHILD;
	char what[40];

	if (child)
		snprintf(what, sizeof(what), "Child SA %08x", (uint32_t)req->spi);
	else
		snprintf(what, sizeof(what), "IKE SA %016llx", (unsigned long long)req->spi);
	switch (rc) {
	case 0:
		snprintf(buf, size, "%s", "");
		break;
	case -ENOENT:
		snprintf(buf, size, "no such %s", what);
		break;
	case -EAGAIN:
		snprintf(buf, size, "%s%s is not established (being set up, rekeyed or deleted)",
			 child ? "the IKE SA of " : "", what);
		break;
	case -EALREADY:
		snprintf(buf, size, "%s is already being %s", what,
			 req->op == VPNGW_CTL_TERMINATE ? "deleted"
			 : child ? "rekeyed or deleted" : "rekeyed");
		break;
	default:
		snprintf(buf, size, "%s: %s", what, strerror(rc < 0 ? -rc : rc));
		break;
	}
	return buf;
}

char *vpngw_ctl_order_json(const char *request, const struct vpngw_ctl_req *req, int rc)
{
	struct json j;
	char why[160];

	if (rc != 0)
		return control_error_json(request, vpngw_ctl_order_result(req, rc, why,
									  sizeof(why)));
	json_init(&j);
	json_begin_object(&j);
	json_kv_bool(&j, "ok", true);
	json_key(&j, "request");
	json_string(&j, request);
	json_end_object(&j);
	return json_finish(&j);
}

char *vpngw_ctl_error_json(const char *request, const char *why)
{
	return control_error_json(request, why ? why : UNKNOWN_REQUEST);
}
