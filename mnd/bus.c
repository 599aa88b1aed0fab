/* mnd's D-Bus status API (bus.h) on GIO's GDBus: a private connection to the system bus
 * (so a bus that goes away closes only this connection, never the daemon: the shared
 * g_bus_get() singleton would raise SIGTERM), the object registered on it, the well-known
 * name owned on it, all asynchronously on the main loop.
 *
 * The properties are kept as GVariants, one per property, in the order of prop_info[]; a
 * publish builds the new values, compares each with the one shown, and sends the changed
 * ones in one PropertiesChanged (org.freedesktop.DBus.Properties, D-Bus specification
 * "org.freedesktop.DBus.Properties"). Get, GetAll and Introspect are answered by GDBus
 * from the vtable and the introspection data below.
 *
 * Redetect is for root only. The bus policy says so (systemd/org.mip4mobike.MobileNode1.conf)
 * and the daemon checks again, because a policy file can be missing or wrong: the caller's
 * uid comes from the bus (org.freedesktop.DBus.GetConnectionUnixUser of the message's
 * sender; the credentials of our own connection are the bus daemon's, not the caller's).
 */
#include <errno.h>
#include <string.h>

#include <gio/gio.h>

#include "common/log.h"
#include "common/sock.h"
#include "mnd/bus.h"

#define CALL_TIMEOUT_MS 5000

/* Every property is read-only and announced with its value (EmitsChangedSignal true). */
static const char introspection_xml[] =
	"<node>"
	"  <interface name='" MND_BUS_IFACE "'>"
	"    <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    <method name='Redetect'/>"
	"    <property name='Mode' type='s' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"    <property name='Trusted' type='b' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"    <property name='Trust' type='s' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"    <property name='Reason' type='s' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"    <property name='HomeAddress' type='s' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"    <property name='CareOfAddress' type='s' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"    <property name='Interface' type='s' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"    <property name='TunnelInnerAddress' type='s' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"    <property name='Gateway' type='s' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"    <property name='HomeAgent' type='s' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"    <property name='Handovers' type='u' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"    <property name='LastHandoverMs' type='u' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"    <property name='ModeSince' type='t' access='read'>"
	"      <annotation name='org.freedesktop.DBus.Property.EmitsChangedSignal' value='true'/>"
	"    </property>"
	"  </interface>"
	"</node>";

enum prop {
	P_MODE, P_TRUSTED, P_TRUST, P_REASON, P_HOME_ADDRESS, P_CARE_OF_ADDRESS, P_INTERFACE,
	P_TIA, P_GATEWAY, P_HOME_AGENT, P_HANDOVERS, P_LAST_HANDOVER_MS, P_MODE_SINCE,
	P_COUNT,
};

static const struct {
	const char *name, *sig;
} prop_info[P_COUNT] = {
	[P_MODE] = { "Mode", "s" },
	[P_TRUSTED] = { "Trusted", "b" },
	[P_TRUST] = { "Trust", "s" },
	[P_REASON] = { "Reason", "s" },
	[P_HOME_ADDRESS] = { "HomeAddress", "s" },
	[P_CARE_OF_ADDRESS] = { "CareOfAddress", "s" },
	[P_INTERFACE] = { "Interface", "s" },
	[P_TIA] = { "TunnelInnerAddress", "s" },
	[P_GATEWAY] = { "Gateway", "s" },
	[P_HOME_AGENT] = { "HomeAgent", "s" },
	[P_HANDOVERS] = { "Handovers", "u" },
	[P_LAST_HANDOVER_MS] = { "LastHandoverMs", "u" },
	[P_MODE_SINCE] = { "ModeSince", "t" },
};

struct mnd_bus {
	struct logger log;
	struct mnd_bus_ops ops;
	void *user;
	GCancellable *cancel;        /* the connection attempt and the uid look-ups */
	GDBusNodeInfo *node;
	GDBusConnection *conn;
	gulong closed_handler;
	guint reg_id;                /* the object, 0: not registered */
	guint owner_id;              /* g_bus_own_name_on_connection, 0: none */
	bool off_logged;             /* "status API off" said once */
	GVariant *val[P_COUNT];      /* the values shown (owned, never floating) */
	mm_time_ns since_mono;       /* ModeSince: the monotonic time it was made from */
};

/* One Redetect waiting for the caller's uid. */
struct pending {
	struct mnd_bus *b;           /* not to be touched when the look-up was cancelled */
	GDBusMethodInvocation *inv;
};

static void api_off(struct mnd_bus *b, const char *why, const char *detail)
{
	if (b->off_logged)
		return;
	b->off_logged = true;
	LOG_WARNING(&b->log, "D-Bus status API off: %s%s%s%s", why, detail ? " (" : "",
		    detail ? detail : "", detail ? ")" : "");
}

/* D-Bus strings are UTF-8 (g_variant_new_string refuses anything else). */
static GVariant *str_value(const char *s)
{
	if (!s)
		s = "";
	if (g_utf8_validate(s, -1, NULL))
		return g_variant_new_string(s);
	return g_variant_new_take_string(g_utf8_make_valid(s, -1));
}

static GVariant *addr_value(struct in_addr a)
{
	char buf[ADDR4_STRLEN];

	return g_variant_new_string(a.s_addr ? addr4_str(a, buf) : "");
}

/* CLOCK_MONOTONIC -> CLOCK_REALTIME microseconds, as of now. */
static uint64_t realtime_us(mm_time_ns mono)
{
	mm_time_ns now = clock_now(clock_monotonic());
	mm_time_ns rt = clock_realtime_ns();
	mm_time_ns ago = now > mono ? now - mono : 0;

	if (!mono)
		return 0;
	return (rt > ago ? rt - ago : 0) / 1000;
}

/* The new values of p (floating), into v. ModeSince is converted only when the mode's
 * monotonic time changed: converting again every time would move it by the clocks'
 * jitter and announce a change that is none. */
static void build_values(struct mnd_bus *b, const struct mnd_bus_props *p,
			 GVariant *v[P_COUNT])
{
	v[P_MODE] = str_value(p->mode);
	v[P_TRUSTED] = g_variant_new_boolean(p->trusted);
	v[P_TRUST] = str_value(p->trust);
	v[P_REASON] = str_value(p->reason);
	v[P_HOME_ADDRESS] = addr_value(p->home_address);
	v[P_CARE_OF_ADDRESS] = addr_value(p->care_of_address);
	v[P_INTERFACE] = str_value(p->interface);
	v[P_TIA] = addr_value(p->tunnel_inner_address);
	v[P_GATEWAY] = addr_value(p->gateway);
	v[P_HOME_AGENT] = addr_value(p->home_agent);
	v[P_HANDOVERS] = g_variant_new_uint32(p->handovers);
	v[P_LAST_HANDOVER_MS] = g_variant_new_uint32(p->last_handover_ms);
	if (p->mode_since != b->since_mono || !b->val[P_MODE_SINCE]) {
		b->since_mono = p->mode_since;
		v[P_MODE_SINCE] = g_variant_new_uint64(realtime_us(p->mode_since));
	} else {
		v[P_MODE_SINCE] = g_variant_ref(b->val[P_MODE_SINCE]);
	}
}

static void emit_changed(struct mnd_bus *b, GVariantBuilder *changed)
{
	GError *err = NULL;

	if (!g_dbus_connection_emit_signal(b->conn, NULL, MND_BUS_PATH,
					   "org.freedesktop.DBus.Properties", "PropertiesChanged",
					   g_variant_new("(sa{sv}as)", MND_BUS_IFACE, changed, NULL),
					   &err)) {
		LOG_WARNING(&b->log, "D-Bus: cannot send PropertiesChanged: %s", err->message);
		g_error_free(err);
	}
}

void mnd_bus_publish(struct mnd_bus *b, const struct mnd_bus_props *p)
{
	GVariant *v[P_COUNT];
	GVariantBuilder changed;
	unsigned n = 0;

	if (!b)
		return;
	build_values(b, p, v);
	g_variant_builder_init(&changed, G_VARIANT_TYPE("a{sv}"));
	for (unsigned i = 0; i < P_COUNT; i++) {
		g_variant_ref_sink(v[i]);
		if (b->val[i] && g_variant_equal(b->val[i], v[i])) {
			g_variant_unref(v[i]);
			continue;
		}
		if (b->val[i])
			g_variant_unref(b->val[i]);
		b->val[i] = v[i];
		g_variant_builder_add(&changed, "{sv}", prop_info[i].name, v[i]);
		n++;
	}
	if (n && b->conn && b->reg_id && !g_dbus_connection_is_closed(b->conn))
		emit_changed(b, &changed);
	else
		g_variant_builder_clear(&changed);
}

static GVariant *get_property(GDBusConnection *conn, const gchar *sender, const gchar *path,
			      const gchar *iface, const gchar *name, GError **error,
			      gpointer user)
{
	struct mnd_bus *b = user;

	(void)conn, (void)sender, (void)path, (void)iface;
	for (unsigned i = 0; i < P_COUNT; i++)
		if (!strcmp(prop_info[i].name, name) && b->val[i])
			return g_variant_ref(b->val[i]);
	g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "no property %s", name);
	return NULL;
}

static void on_caller_uid(GObject *src, GAsyncResult *res, gpointer user)
{
	struct pending *p = user;
	GError *err = NULL;
	GVariant *ret;
	struct mnd_bus *b;
	const char *sender = g_dbus_method_invocation_get_sender(p->inv);
	guint32 uid;

	ret = g_dbus_connection_call_finish(G_DBUS_CONNECTION(src), res, &err);
	if (!ret && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		/* mnd_bus_close(): the bus is gone, only the invocation is ours. */
		g_dbus_method_invocation_return_error_literal(p->inv, G_DBUS_ERROR,
			G_DBUS_ERROR_FAILED, "mnd is shutting down");
		goto out;
	}
	b = p->b;
	if (!ret) {
		LOG_WARNING(&b->log, "D-Bus: Redetect from %s refused: its uid is unknown (%s)",
			    sender ? sender : "?", err->message);
		g_dbus_method_invocation_return_error_literal(p->inv, G_DBUS_ERROR,
			G_DBUS_ERROR_ACCESS_DENIED, "the caller's uid is unknown: Redetect is "
			"for root only");
		goto out;
	}
	g_variant_get(ret, "(u)", &uid);
	g_variant_unref(ret);
	if (uid != 0) {
		LOG_WARNING(&b->log, "D-Bus: Redetect refused for uid %u (%s): root only",
			    (unsigned)uid, sender ? sender : "?");
		g_dbus_method_invocation_return_error(p->inv, G_DBUS_ERROR,
			G_DBUS_ERROR_ACCESS_DENIED, "Redetect is for root (uid 0) only; the "
			"caller is uid %u", (unsigned)uid);
		goto out;
	}
	LOG_NOTICE(&b->log, "D-Bus: Redetect by uid 0 (%s)", sender ? sender : "?");
	g_dbus_method_invocation_return_value(p->inv, NULL);
	if (b->ops.redetect)
		b->ops.redetect(b->user);
out:
	if (err)
		g_error_free(err);
	g_free(p);
}

static void method_call(GDBusConnection *conn, const gchar *sender, const gchar *path,
			const gchar *iface, const gchar *method, GVariant *params,
			GDBusMethodInvocation *inv, gpointer user)
{
	struct mnd_bus *b = user;
	struct pending *p;

	(void)path, (void)iface, (void)params;
	/* GDBus has checked the method and its (empty) signature against the
	 * introspection data: only Redetect arrives here. */
	if (strcmp(method, "Redetect") != 0 || !sender) {
		g_dbus_method_invocation_return_error(inv, G_DBUS_ERROR,
			G_DBUS_ERROR_UNKNOWN_METHOD, "no method %s", method);
		return;
	}
	p = g_new0(struct pending, 1);
	p->b = b;
	p->inv = inv;   /* ours until answered */
	g_dbus_connection_call(conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			       "org.freedesktop.DBus", "GetConnectionUnixUser",
			       g_variant_new("(s)", sender), G_VARIANT_TYPE("(u)"),
			       G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, b->cancel,
			       on_caller_uid, p);
}

static const GDBusInterfaceVTable vtable = {
	.method_call = method_call,
	.get_property = get_property,
};

static void on_name_acquired(GDBusConnection *conn, const gchar *name, gpointer user)
{
	struct mnd_bus *b = user;

	(void)conn;
	b->off_logged = false;
	LOG_NOTICE(&b->log, "D-Bus: owning %s on the system bus", name);
}

static void on_name_lost(GDBusConnection *conn, const gchar *name, gpointer user)
{
	struct mnd_bus *b = user;
	char why[160];

	snprintf(why, sizeof(why), "the system bus %s the name %s", conn ? "refused" : "lost",
		 name);
	api_off(b, why, conn ? "the bus policy, or another mnd owns it" : NULL);
}

static void on_closed(GDBusConnection *conn, gboolean vanished, GError *error, gpointer user)
{
	struct mnd_bus *b = user;

	(void)conn, (void)vanished;
	api_off(b, "the connection to the system bus closed", error ? error->message : NULL);
}

static void on_connected(GObject *src, GAsyncResult *res, gpointer user)
{
	GError *err = NULL;
	GDBusConnection *conn;
	struct mnd_bus *b;

	(void)src;
	conn = g_dbus_connection_new_for_address_finish(res, &err);
	if (!conn && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_error_free(err);   /* closed meanwhile: user is gone */
		return;
	}
	b = user;
	if (!conn) {
		api_off(b, "cannot connect to the system bus", err->message);
		g_error_free(err);
		return;
	}
	b->conn = conn;
	g_dbus_connection_set_exit_on_close(conn, FALSE);
	b->closed_handler = g_signal_connect(conn, "closed", G_CALLBACK(on_closed), b);
	b->reg_id = g_dbus_connection_register_object(conn, MND_BUS_PATH,
						      b->node->interfaces[0], &vtable, b,
						      NULL, &err);
	if (!b->reg_id) {
		api_off(b, "cannot register " MND_BUS_PATH, err->message);
		g_error_free(err);
		return;
	}
	b->owner_id = g_bus_own_name_on_connection(conn, MND_BUS_NAME,
						   G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
						   on_name_acquired, on_name_lost, b, NULL);
}

struct mnd_bus *mnd_bus_open(const struct mnd_bus_ops *ops, void *user)
{
	struct mnd_bus_props none;
	struct mnd_bus *b;
	GError *err = NULL;
	char *addr;

	b = g_try_new0(struct mnd_bus, 1);
	if (!b)
		return NULL;
	logger_init(&b->log, "mnd");
	if (ops)
		b->ops = *ops;
	b->user = user;
	b->cancel = g_cancellable_new();
	b->node = g_dbus_node_info_new_for_xml(introspection_xml, &err);
	if (!b->node) {
		/* A bug in the text above: the API is off, the daemon runs on. */
		api_off(b, "bad introspection data", err->message);
		g_error_free(err);
		return b;
	}
	memset(&none, 0, sizeof(none));
	none.mode = "offline";
	none.trust = "unknown";
	mnd_bus_publish(b, &none);
	/* $DBUS_SYSTEM_BUS_ADDRESS, else the well-known socket. */
	addr = g_dbus_address_get_for_bus_sync(G_BUS_TYPE_SYSTEM, NULL, &err);
	if (!addr) {
		api_off(b, "no system bus address", err->message);
		g_error_free(err);
		return b;
	}
	g_dbus_connection_new_for_address(addr,
		G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
		NULL, b->cancel, on_connected, b);
	g_free(addr);
	return b;
}

void mnd_bus_close(struct mnd_bus *b)
{
	if (!b)
		return;
	g_cancellable_cancel(b->cancel);
	if (b->owner_id)
		g_bus_unown_name(b->owner_id);
	if (b->conn) {
		if (b->reg_id)
			g_dbus_connection_unregister_object(b->conn, b->reg_id);
		g_signal_handler_disconnect(b->conn, b->closed_handler);
		/* The last PropertiesChanged out, then the bus drops the name with us. */
		g_dbus_connection_flush_sync(b->conn, NULL, NULL);
		g_dbus_connection_close_sync(b->conn, NULL, NULL);
		g_object_unref(b->conn);
	}
	for (unsigned i = 0; i < P_COUNT; i++)
		if (b->val[i])
			g_variant_unref(b->val[i]);
	if (b->node)
		g_dbus_node_info_unref(b->node);
	g_object_unref(b->cancel);
	g_free(b);
}
