/* The home agent's control-socket requests. See ctl.h. */
#include "ha/ctl.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "common/sock.h"
#include "daemon/control.h"
#include "daemon/json.h"
#include "ha/fa.h"   /* struct fa_adv_stats */

char *ha_ctl_list_json(const struct ha_engine *ha)
{
	const struct mip4_binding *b;
	struct json j;
	size_t cursor = 0;

	json_init(&j);
	json_begin_object(&j);
	json_key(&j, "bindings");
	json_begin_array(&j);
	while (bcache_next(ha_engine_bcache(ha), &cursor, &b)) {
		char ep[ADDR4_STRLEN + 8], a[ADDR4_STRLEN], id[24];

		addr4_str(b->ep_addr, a);
		if (b->encap == MIP4_ENCAP_UDP)
			snprintf(ep, sizeof(ep), "%s:%u", a, b->ep_port);
		else
			snprintf(ep, sizeof(ep), "%s", a);
		snprintf(id, sizeof(id), "0x%016llx", (unsigned long long)b->ident);
		json_begin_object(&j);
		json_kv_addr4(&j, "home_address", b->home_addr);
		json_kv_addr4(&j, "care_of_address", b->coa);
		json_kv_string(&j, "tunnel_endpoint", ep);
		json_kv_string(&j, "encapsulation", mip4_encap_name(b->encap));
		json_kv_bool(&j, "reverse_tunnel", (b->req_flags & MIP4_REQ_T) != 0);
		json_kv_bool(&j, "udp_forced", (b->state & BCACHE_S_FORCED) != 0);
		json_kv_uint(&j, "lifetime", b->lifetime);
		json_kv_uint(&j, "remaining", ha_engine_remaining(ha, b));
		json_kv_string(&j, "identification", id);
		json_kv_uint(&j, "registered_at_monotonic_ms", b->registered_at / MM_MSEC(1));
		json_kv_uint(&j, "registrations", b->registrations);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	return json_finish(&j);
}

char *ha_ctl_stats_json(const struct ha_engine *ha, const struct ha_dp_stats *dp)
{
	const struct ha_stats *s = ha_engine_stats(ha);
	struct json j;

	json_init(&j);
	json_begin_object(&j);
	json_kv_uint(&j, "requests", s->requests);
	json_kv_uint(&j, "accepted", s->accepted);
	json_kv_uint(&j, "deregistrations", s->deregistrations);
	json_kv_uint(&j, "expired", s->expired);
	json_kv_uint(&j, "denied", s->denied);
	json_key(&j, "denied_by_code");
	json_begin_object(&j);
	for (unsigned c = 0; c < 256; c++) {
		char k[8];

		if (!s->denied_by_code[c])
			continue;
		snprintf(k, sizeof(k), "%u", c);
		json_kv_uint(&j, k, s->denied_by_code[c]);
	}
	json_end_object(&j);
	json_kv_uint(&j, "dropped_malformed", s->dropped_malformed);
	json_kv_uint(&j, "dropped_unauthenticated", s->dropped_unauthenticated);
	json_kv_uint(&j, "unknown_spi", s->dropped_unknown_spi);
	json_kv_uint(&j, "dropped_untrusted", s->dropped_untrusted);
	json_kv_uint(&j, "auth_failures", s->auth_failures);
	json_kv_uint(&j, "replays", s->replays);
	json_kv_uint(&j, "stale_identification", s->stale_ident);
	json_kv_uint(&j, "keepalives", s->keepalives);
	json_kv_uint(&j, "keepalives_refused", s->keepalives_dropped);
	json_kv_uint(&j, "log_lines_suppressed", s->log_suppressed);
	json_kv_uint(&j, "bindings", bcache_count(ha_engine_bcache(ha)));
	json_kv_uint(&j, "mobile_nodes", bcache_entries(ha_engine_bcache(ha)));
	if (dp) {
		json_key(&j, "datapath");
		json_begin_object(&j);
		json_kv_uint(&j, "forwarded_packets", dp->fwd_packets);
		json_kv_uint(&j, "forwarded_bytes", dp->fwd_bytes);
		json_kv_uint(&j, "forward_no_binding", dp->fwd_no_binding);
		json_kv_uint(&j, "forward_half_bound", dp->fwd_half_bound);
		json_kv_uint(&j, "forward_bad", dp->fwd_bad);
		json_kv_uint(&j, "forward_send_errors", dp->fwd_send_errors);
		json_kv_uint(&j, "reverse_packets", dp->rev_packets);
		json_kv_uint(&j, "reverse_bytes", dp->rev_bytes);
		json_kv_uint(&j, "reverse_malformed", dp->rev_malformed);
		json_kv_uint(&j, "reverse_not_for_us", dp->rev_not_for_us);
		json_kv_uint(&j, "reverse_rejected", dp->rev_rejected);
		json_kv_uint(&j, "reverse_write_errors", dp->rev_write_errors);
		json_kv_uint(&j, "keepalives_answered", dp->keepalives);
		json_kv_uint(&j, "handover_replayed_packets", dp->replayed_packets);
		json_kv_uint(&j, "pmtu_learned", dp->pmtu_learned);
		json_kv_uint(&j, "too_big_dropped", dp->too_big_dropped);
		json_kv_uint(&j, "too_big_fragmented", dp->too_big_fragmented);
		json_kv_uint(&j, "frag_needed_sent", dp->frag_needed_sent);
		json_kv_uint(&j, "frag_needed_rate_limited", dp->frag_needed_limited);
		json_kv_uint(&j, "frag_needed_refused", dp->frag_needed_refused);
		json_kv_uint(&j, "log_lines_suppressed", dp->log_suppressed);
		json_end_object(&j);
	}
	json_end_object(&j);
	return json_finish(&j);
}

char *ha_ctl_visitors_json(const struct fa_engine *e)
{
	const struct fa_visitor *v;
	struct json j;
	size_t iter = 0;

	json_init(&j);
	json_begin_object(&j);
	json_key(&j, "visitors");
	json_begin_array(&j);
	while ((v = fa_engine_visitor_next(e, &iter)) != NULL) {
		char mac[18], id[24];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", v->lladdr[0],
			 v->lladdr[1], v->lladdr[2], v->lladdr[3], v->lladdr[4], v->lladdr[5]);
		snprintf(id, sizeof(id), "0x%016llx", (unsigned long long)v->ident);
		json_begin_object(&j);
		json_kv_addr4(&j, "home_address", v->home_addr);
		json_kv_addr4(&j, "home_agent", v->home_agent);
		json_kv_string(&j, "link_address", mac);
		json_kv_bool(&j, "reverse_tunnel", v->reverse_tunnel);
		json_kv_uint(&j, "lifetime", v->lifetime);
		json_kv_uint(&j, "remaining", fa_engine_remaining(e, v));
		json_kv_string(&j, "identification", id);
		json_kv_uint(&j, "registered_at_monotonic_ms", v->registered_at / MM_MSEC(1));
		json_end_object(&j);
	}
	json_end_array(&j);
	json_kv_uint(&j, "pending", fa_engine_pending_count(e));
	json_end_object(&j);
	return json_finish(&j);
}

void ha_ctl_fa_stats(struct json *j, const struct fa_ctl_ctx *fa)
{
	const struct fa_stats *s = fa_engine_stats(fa->engine);
	const struct fa_adv_stats *a = fa->adv;
	const struct fa_dp_stats *d = fa->dp ? fa_datapath_stats(fa->dp) : NULL;

	{
		json_kv_uint(j, "requests", s->requests);
		json_kv_uint(j, "relayed_requests", s->relayed_requests);
		json_kv_uint(j, "denied", s->denied);
		json_key(j, "denied_by_code");
		json_begin_object(j);
		for (unsigned c = 0; c < 256; c++) {
			char k[8];

			if (!s->denied_by_code[c])
				continue;
			snprintf(k, sizeof(k), "%u", c);
			json_kv_uint(j, k, s->denied_by_code[c]);
		}
		json_end_object(j);
		json_kv_uint(j, "denials_suppressed", s->denials_suppressed);
		json_kv_uint(j, "dropped_requests", s->dropped_requests);
		json_kv_uint(j, "mn_auth_failures", s->mn_auth_failures);
		json_kv_uint(j, "replies", s->replies);
		json_kv_uint(j, "relayed_replies", s->relayed_replies);
		json_kv_uint(j, "dropped_unmatched", s->dropped_unmatched);
		json_kv_uint(j, "dropped_replies", s->dropped_replies);
		json_kv_uint(j, "ha_auth_failures", s->ha_auth_failures);
		json_kv_uint(j, "pending_timeouts", s->pending_timeouts);
		json_kv_uint(j, "visitors_added", s->visitors_added);
		json_kv_uint(j, "deregistrations", s->deregistrations);
		json_kv_uint(j, "visitors_expired", s->visitors_expired);
		json_kv_uint(j, "visitors", fa_engine_visitor_count(fa->engine));
		json_kv_uint(j, "pending", fa_engine_pending_count(fa->engine));
		json_kv_uint(j, "log_lines_suppressed", s->log_suppressed);
	}
	if (a) {
		json_kv_uint(j, "advertisements", a->advertisements);
		json_kv_uint(j, "next_sequence_number", a->next_seq);
		json_kv_uint(j, "solicitations", a->solicitations);
		json_kv_uint(j, "answers_unicast", a->answers_unicast);
		json_kv_uint(j, "answers_multicast", a->answers_multicast);
		json_kv_uint(j, "answers_rate_limited", a->answers_limited);
		json_kv_uint(j, "icmp_dropped", a->icmp_dropped);
		json_kv_uint(j, "udp_dropped", a->udp_dropped);
		json_kv_uint(j, "send_errors", a->send_errors);
		json_kv_uint(j, "io_log_lines_suppressed", a->log_suppressed);
	}
	if (d) {
		json_key(j, "datapath");
		json_begin_object(j);
		json_kv_uint(j, "delivered_packets", d->delivered_packets);
		json_kv_uint(j, "delivered_bytes", d->delivered_bytes);
		json_kv_uint(j, "deliver_malformed", d->deliver_malformed);
		json_kv_uint(j, "deliver_not_for_us", d->deliver_not_for_us);
		json_kv_uint(j, "deliver_no_visitor", d->deliver_no_visitor);
		json_kv_uint(j, "deliver_wrong_home_agent", d->deliver_wrong_ha);
		json_kv_uint(j, "deliver_errors", d->deliver_errors);
		json_kv_uint(j, "reverse_packets", d->reverse_packets);
		json_kv_uint(j, "reverse_bytes", d->reverse_bytes);
		json_kv_uint(j, "reverse_rejected", d->reverse_rejected);
		json_kv_uint(j, "reverse_errors", d->reverse_errors);
		json_kv_uint(j, "installed_visitors", fa_datapath_installed(fa->dp));
		json_kv_uint(j, "log_lines_suppressed", d->log_suppressed);
		json_end_object(j);
	}
}

/* stats: the home agent's document, with "foreign_agent" added before its last brace. */
static char *stats_both(const struct ha_ctl_ctx *ctx, const struct fa_ctl_ctx *fctx)
{
	char *doc = NULL, *fa, *end, *out;
	struct json j;

	if (ctx && ctx->engine)
		doc = ha_ctl_stats_json(ctx->engine, ctx->dp ? ha_datapath_stats(ctx->dp) : NULL);
	if (!fctx)
		return doc;
	json_init(&j);
	json_begin_object(&j);
	ha_ctl_fa_stats(&j, fctx);
	json_end_object(&j);
	fa = json_finish(&j);
	if (!fa)
		return doc;
	if (!doc || !(end = strrchr(doc, '}')) || end == doc) {
		out = g_strdup_printf("{\"foreign_agent\":%s}", fa);
	} else {
		*end = '\0';
		out = g_strdup_printf("%s%s\"foreign_agent\":%s}", doc, end[-1] == '{' ? "" : ",",
				      fa);
	}
	g_free(fa);
	g_free(doc);
	return out;
}

char *ha_ctl_handle(const char *request, void *user)
{
	return ha_ctl_handle_both(request, user, NULL);
}

char *ha_ctl_handle_both(const char *request, const struct ha_ctl_ctx *ctx,
			 const struct fa_ctl_ctx *fa)
{
	if (strcmp(request, "list") == 0)
		return ctx && ctx->engine ? ha_ctl_list_json(ctx->engine)
				   : control_error_json(request, "no home agent here ([home-agent] "
							"is not configured)");
	if (strcmp(request, "stats") == 0)
		return stats_both(ctx, fa);
	if (strcmp(request, "visitors") == 0)
		return fa ? ha_ctl_visitors_json(fa->engine)
			       : control_error_json(request, "no foreign agent here "
						    "([foreign-agent] is not configured)");
	return control_error_json(request, "unknown request: try \"list\", \"stats\" or "
				  "\"visitors\"");
}
