/* The status file: one JSON object (daemon/json.h), replaced atomically (daemon/
 * atomic_file.h: temporary file, fsync, rename, fsync of the directory) on every state
 * change, so a reader never sees half a document:
 *
 *	{"state":"registered","home":false,"care_of_address":"198.18.11.150",
 *	 "interface":"wlan0","home_agent":"198.18.1.2","encapsulation":"ipip",
 *	 "lifetime":300,"registered_at_monotonic_ms":123456,"last_reply_code":0,
 *	 "registrations":3, ...}
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "daemon/atomic_file.h"
#include "daemon/json.h"
#include "mnd/bus.h"
#include "mnd/mnd.h"

static void write_file(struct mnd *m)
{
	struct mn_status st;
	struct json j;
	char *text;
	int rc;

	if (!m->reg || !m->cfg.status_file)
		return;
	mn_engine_status(m->reg->engine, &st);
	json_init(&j);
	json_begin_object(&j);
	json_kv_string(&j, "state", mn_state_name(st.state));
	/* The mode machine (mode.c). */
	json_kv_string(&j, "mode", policy_mode_name(m->mode));
	json_kv_string(&j, "trust", policy_trust_name(m->trust));
	json_kv_string(&j, "mode_reason", m->mode_reason);
	json_kv_uint(&j, "handovers", m->handovers);
	json_kv_uint(&j, "last_handover_ms", m->last_handover_ms);
	json_kv_bool(&j, "fail_closed_filter", m->filter_on);
	json_kv_bool(&j, "home", m->loc.where == MND_HOME);
	json_kv_string(&j, "location", mnd_where_name(m->loc.where));
	/* The care-of address registered (the TIA in mode mc), else the attachment's. */
	if (m->reg && m->reg->bound)
		json_kv_addr4(&j, "care_of_address", m->reg->binding.coa);
	else if (m->loc.where == MND_AWAY)
		json_kv_addr4(&j, "care_of_address", m->loc.addr);
	else
		json_kv_null(&j, "care_of_address");
	json_kv_string(&j, "interface", m->loc.where != MND_DETACHED ? m->loc.ifname : NULL);
	json_kv_addr4(&j, "home_address", m->cfg.home_addr);
	json_kv_addr4(&j, "home_agent", m->cfg.home_agent);
	json_kv_string(&j, "encapsulation", st.bound ? mn_encap_name(st.binding.encap) : NULL);
	json_kv_uint(&j, "lifetime", st.bound ? st.binding.lifetime : 0);
	if (st.bound && st.binding.encap == MN_ENCAP_UDP) {
		json_kv_uint(&j, "keepalive_interval", st.binding.keepalive);
		json_kv_uint(&j, "udp_source_port", m->reg->port);
	}
	json_kv_uint(&j, "location_changed_at_monotonic_ms", m->loc_changed_at / MM_MSEC(1));
	if (st.registered_at)
		json_kv_uint(&j, "registered_at_monotonic_ms", st.registered_at / MM_MSEC(1));
	else
		json_kv_null(&j, "registered_at_monotonic_ms");
	if (st.last_reply_code >= 0)
		json_kv_int(&j, "last_reply_code", st.last_reply_code);
	else
		json_kv_null(&j, "last_reply_code");
	json_kv_uint(&j, "registrations", st.registrations);
	json_kv_string(&j, "tunnel_device", m->tun_name);
	json_kv_int(&j, "pid", (int64_t)getpid());
	json_end_object(&j);
	text = json_finish(&j);
	if (!text) {
		LOG_ERROR(&m->log, "cannot build the status document");
		return;
	}
	rc = atomic_publish_file(m->cfg.status_file, text, strlen(text));
	if (rc < 0)
		LOG_WARNING(&m->log, "cannot write the status file %s: %s", m->cfg.status_file,
			    strerror(-rc));
	g_free(text);
}

/* The D-Bus properties (bus.h) from the same state. */
static void publish(struct mnd *m)
{
	struct mnd_bus_props p;
	struct mnd_vpn_view v;

	if (!m->bus)
		return;
	mnd_vpn_view(m, &v);
	memset(&p, 0, sizeof(p));
	p.mode = policy_mode_name(m->mode);
	p.trusted = m->trust == POLICY_TRUST_TRUSTED;
	p.trust = policy_trust_name(m->trust);
	p.reason = m->mode_reason;
	p.home_address = m->cfg.home_addr;
	/* The care-of address registered: the physical one in c, the TIA in mc. */
	if (m->reg && m->reg->bound)
		p.care_of_address = m->reg->binding.coa;
	p.interface = m->loc.where != MND_DETACHED ? m->loc.ifname : "";
	p.tunnel_inner_address = v.tia;
	p.gateway = v.gateway.s_addr ? v.gateway :
		    m->cfg.vpn.enabled ? m->cfg.vpn.gateway : (struct in_addr){ 0 };
	p.home_agent = m->cfg.home_agent;
	p.handovers = m->handovers;
	p.last_handover_ms = m->last_handover_ms;
	p.mode_since = m->mode_since;
	mnd_bus_publish(m->bus, &p);
}

void mnd_status_write(struct mnd *m)
{
	write_file(m);
	publish(m);
}
