/* The home agent's control-socket requests. See ctl.h. */
#include "ha/ctl.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "common/sock.h"
#include "daemon/control.h"
#include "daemon/json.h"

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

char *ha_ctl_handle(const char *request, void *user)
{
	const struct ha_ctl_ctx *ctx = user;

	if (strcmp(request, "list") == 0)
		return ha_ctl_list_json(ctx->engine);
	if (strcmp(request, "stats") == 0)
		return ha_ctl_stats_json(ctx->engine, ctx->dp ? ha_datapath_stats(ctx->dp) : NULL);
	return control_error_json(request, "unknown request: try \"list\" or \"stats\"");
}
