/* mnctl: the command-line client of mnd's D-Bus status API (mnd/bus.h) on the system bus
 * ($DBUS_SYSTEM_BUS_ADDRESS is honoured).
 *
 *	mnctl status [--json]          every property; --json: one object, by property name
 *	mnctl monitor [--count N] [--json]
 *	                               one line per PropertiesChanged, with the time, until
 *	                               SIGINT/SIGTERM (or N lines)
 *	mnctl redetect                 start the trust race again (root only)
 *
 * Synchronous GDBus calls, 5 s timeout each. Exit 0 on success, 1 for an error (no bus, mnd
 * not running, no answer), 2 for a usage error, 4 when access is denied (root is needed).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "daemon/json.h"
#include "mnd/bus.h"

#define MNCTL_EXIT_OK 0
#define MNCTL_EXIT_ERROR 1
#define MNCTL_EXIT_USAGE 2
#define MNCTL_EXIT_DENIED 4
#define CALL_TIMEOUT_MS 5000

enum kind { K_STR, K_BOOL, K_U32, K_MS, K_TIME };

/* The properties in the order shown, with their labels. */
static const struct {
	const char *name, *label;
	enum kind kind;
} props[] = {
	{ "Mode", "mode", K_STR },
	{ "Trusted", "trusted", K_BOOL },
	{ "Trust", "trust", K_STR },
	{ "Reason", "reason", K_STR },
	{ "HomeAddress", "home address", K_STR },
	{ "CareOfAddress", "care-of address", K_STR },
	{ "Interface", "interface", K_STR },
	{ "TunnelInnerAddress", "tunnel inner address", K_STR },
	{ "Gateway", "gateway", K_STR },
	{ "HomeAgent", "home agent", K_STR },
	{ "Handovers", "handovers", K_U32 },
	{ "LastHandoverMs", "last handover", K_MS },
	{ "ModeSince", "mode since", K_TIME },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mnctl status [--json]\n"
		"       mnctl monitor [--count N] [--json]\n"
		"       mnctl redetect\n"
		"  status     mnd's mode, trust verdict, addresses and handovers\n"
		"  monitor    one line per change, with the time, until interrupted\n"
		"  redetect   start the trust race again (root only)\n"
		"  --json     JSON instead of text (status: one object; monitor: one a line)\n"
		"  --count N  monitor: stop after N lines\n"
		"mnd's D-Bus name %s on the system bus ($DBUS_SYSTEM_BUS_ADDRESS).\n",
		MND_BUS_NAME);
}

/* One error line; the exit status for it. */
static int fail(const char *what, GError *err)
{
	int rc = MNCTL_EXIT_ERROR;

	if (g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
	    g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER)) {
		fprintf(stderr, "mnctl: %s: mnd is not running (nobody owns %s on the system "
			"bus)\n", what, MND_BUS_NAME);
	} else if (g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED)) {
		g_dbus_error_strip_remote_error(err);
		fprintf(stderr, "mnctl: %s: access denied, root is needed (%s)\n", what,
			err->message);
		rc = MNCTL_EXIT_DENIED;
	} else if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
		   g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
		   g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT)) {
		fprintf(stderr, "mnctl: %s: mnd did not answer within %d s\n", what,
			CALL_TIMEOUT_MS / 1000);
	} else {
		g_dbus_error_strip_remote_error(err);
		fprintf(stderr, "mnctl: %s: %s\n", what, err->message);
	}
	g_error_free(err);
	return rc;
}

static GDBusConnection *connect_bus(int *rc)
{
	GError *err = NULL;
	GDBusConnection *c = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &err);

	if (!c) {
		fprintf(stderr, "mnctl: cannot connect to the system bus: %s\n", err->message);
		g_error_free(err);
		*rc = MNCTL_EXIT_ERROR;
	}
	return c;
}

static GVariant *call(GDBusConnection *c, const char *iface, const char *method,
		      GVariant *args, const GVariantType *reply, GError **err)
{
	return g_dbus_connection_call_sync(c, MND_BUS_NAME, MND_BUS_PATH, iface, method, args,
					   reply, G_DBUS_CALL_FLAGS_NO_AUTO_START,
					   CALL_TIMEOUT_MS, NULL, err);
}

/* "2026-11-25T20:30:01.123Z" for CLOCK_REALTIME microseconds. */
static char *iso_time(int64_t us)
{
	GDateTime *dt = g_date_time_new_from_unix_utc(us / G_USEC_PER_SEC);
	char *day, *out;

	if (!dt)
		return g_strdup("?");
	day = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
	out = g_strdup_printf("%s.%03dZ", day, (int)(us % G_USEC_PER_SEC / 1000));
	g_free(day);
	g_date_time_unref(dt);
	return out;
}

static bool type_ok(GVariant *v, enum kind k)
{
	switch (k) {
	case K_STR: return g_variant_is_of_type(v, G_VARIANT_TYPE_STRING);
	case K_BOOL: return g_variant_is_of_type(v, G_VARIANT_TYPE_BOOLEAN);
	case K_U32:
	case K_MS: return g_variant_is_of_type(v, G_VARIANT_TYPE_UINT32);
	case K_TIME: return g_variant_is_of_type(v, G_VARIANT_TYPE_UINT64);
	}
	return false;
}

/* The value for people ("-" for none). */
static char *human(GVariant *v, enum kind k)
{
	int64_t us, ago;

	if (!type_ok(v, k))
		return g_variant_print(v, TRUE);
	switch (k) {
	case K_STR: {
		const char *s = g_variant_get_string(v, NULL);

		return g_strdup(*s ? s : "-");
	}
	case K_BOOL:
		return g_strdup(g_variant_get_boolean(v) ? "yes" : "no");
	case K_U32:
		return g_strdup_printf("%" PRIu32, g_variant_get_uint32(v));
	case K_MS:
		if (!g_variant_get_uint32(v))
			return g_strdup("-");
		return g_strdup_printf("%" PRIu32 " ms", g_variant_get_uint32(v));
	case K_TIME: {
		char *t, *out;

		us = (int64_t)g_variant_get_uint64(v);
		if (!us)
			return g_strdup("-");
		ago = g_get_real_time() - us;
		t = iso_time(us);
		out = g_strdup_printf("%s (%" PRId64 ".%01d s ago)", t, ago / G_USEC_PER_SEC,
				      (int)(ago < 0 ? 0 : ago % G_USEC_PER_SEC / 100000));
		g_free(t);
		return out;
	}
	}
	return g_strdup("?");
}

static void json_value(struct json *j, GVariant *v)
{
	if (g_variant_is_of_type(v, G_VARIANT_TYPE_STRING))
		json_string(j, g_variant_get_string(v, NULL));
	else if (g_variant_is_of_type(v, G_VARIANT_TYPE_BOOLEAN))
		json_bool(j, g_variant_get_boolean(v));
	else if (g_variant_is_of_type(v, G_VARIANT_TYPE_UINT32))
		json_uint(j, g_variant_get_uint32(v));
	else if (g_variant_is_of_type(v, G_VARIANT_TYPE_UINT64))
		json_uint(j, g_variant_get_uint64(v));
	else {
		char *s = g_variant_print(v, FALSE);

		json_string(j, s);
		g_free(s);
	}
}

/* The properties of dict (a{sv}) as JSON members: the known ones in order, then others. */
static void json_props(struct json *j, GVariant *dict)
{
	GVariantIter it;
	const char *name;
	GVariant *v;

	for (size_t i = 0; i < G_N_ELEMENTS(props); i++) {
		v = g_variant_lookup_value(dict, props[i].name, NULL);
		if (!v)
			continue;
		json_key(j, props[i].name);
		json_value(j, v);
		g_variant_unref(v);
	}
	g_variant_iter_init(&it, dict);
	while (g_variant_iter_next(&it, "{&sv}", &name, &v)) {
		bool known = false;

		for (size_t i = 0; i < G_N_ELEMENTS(props); i++)
			known = known || !strcmp(props[i].name, name);
		if (!known) {
			json_key(j, name);
			json_value(j, v);
		}
		g_variant_unref(v);
	}
}

static void print_json(struct json *j)
{
	char *text = json_finish(j);

	if (text) {
		printf("%s\n", text);
		g_free(text);
	}
	fflush(stdout);
}

static int do_status(GDBusConnection *c, bool json)
{
	GError *err = NULL;
	GVariant *ret, *dict;

	ret = call(c, "org.freedesktop.DBus.Properties", "GetAll",
		   g_variant_new("(s)", MND_BUS_IFACE), G_VARIANT_TYPE("(a{sv})"), &err);
	if (!ret)
		return fail("status", err);
	dict = g_variant_get_child_value(ret, 0);
	if (json) {
		struct json j;

		json_init(&j);
		json_begin_object(&j);
		json_props(&j, dict);
		json_end_object(&j);
		print_json(&j);
	} else {
		for (size_t i = 0; i < G_N_ELEMENTS(props); i++) {
			GVariant *v = g_variant_lookup_value(dict, props[i].name, NULL);
			char *text = v ? human(v, props[i].kind) : g_strdup("?");

			printf("%-22s%s\n", props[i].label, text);
			g_free(text);
			if (v)
				g_variant_unref(v);
		}
		fflush(stdout);
	}
	g_variant_unref(dict);
	g_variant_unref(ret);
	return MNCTL_EXIT_OK;
}

static int do_redetect(GDBusConnection *c)
{
	GError *err = NULL;
	GVariant *ret;

	ret = call(c, MND_BUS_IFACE, "Redetect", NULL, G_VARIANT_TYPE_UNIT, &err);
	if (!ret)
		return fail("redetect", err);
	g_variant_unref(ret);
	printf("detection restarted\n");
	return MNCTL_EXIT_OK;
}

struct monitor {
	GMainLoop *loop;
	bool json;
	unsigned long count;          /* 0: no limit */
	unsigned long lines;
	bool gone;                    /* mnd left the bus */
};

static void print_change(struct monitor *mon, GVariant *changed)
{
	int64_t now = g_get_real_time();
	char *t = iso_time(now);
	GVariantIter it;
	const char *name;
	GVariant *v;

	if (mon->json) {
		struct json j;

		json_init(&j);
		json_begin_object(&j);
		json_kv_string(&j, "time", t);
		json_kv_uint(&j, "time_us", (uint64_t)now);
		json_key(&j, "changed");
		json_begin_object(&j);
		json_props(&j, changed);
		json_end_object(&j);
		json_end_object(&j);
		print_json(&j);
		g_free(t);
		return;
	}
	printf("%s", t);
	g_free(t);
	g_variant_iter_init(&it, changed);
	while (g_variant_iter_next(&it, "{&sv}", &name, &v)) {
		char *text;

		if (g_variant_is_of_type(v, G_VARIANT_TYPE_STRING)) {
			text = g_strescape(g_variant_get_string(v, NULL), NULL);
			printf(" %s=\"%s\"", name, text);
		} else if (!strcmp(name, "ModeSince") &&
			   g_variant_is_of_type(v, G_VARIANT_TYPE_UINT64)) {
			text = iso_time((int64_t)g_variant_get_uint64(v));
			printf(" %s=%s", name, text);
		} else if (g_variant_is_of_type(v, G_VARIANT_TYPE_BOOLEAN)) {
			text = g_strdup(g_variant_get_boolean(v) ? "true" : "false");
			printf(" %s=%s", name, text);
		} else {
			text = g_variant_print(v, FALSE);
			printf(" %s=%s", name, text);
		}
		g_free(text);
		g_variant_unref(v);
	}
	printf("\n");
	fflush(stdout);
}

static void on_changed(GDBusConnection *c, const gchar *sender, const gchar *path,
		       const gchar *iface, const gchar *signal, GVariant *params, gpointer user)
{
	struct monitor *mon = user;
	const char *of;
	GVariant *changed;

	(void)c, (void)sender, (void)path, (void)iface, (void)signal;
	if (!g_variant_is_of_type(params, G_VARIANT_TYPE("(sa{sv}as)")))
		return;
	g_variant_get(params, "(&s@a{sv}@as)", &of, &changed, NULL);
	if (!strcmp(of, MND_BUS_IFACE)) {
		print_change(mon, changed);
		mon->lines++;
		if (mon->count && mon->lines >= mon->count)
			g_main_loop_quit(mon->loop);
	}
	g_variant_unref(changed);
}

static void on_appeared(GDBusConnection *c, const gchar *name, const gchar *owner,
			gpointer user)
{
	struct monitor *mon = user;

	(void)c, (void)name, (void)owner;
	if (mon->gone)
		fprintf(stderr, "mnctl: mnd is back on the bus\n");
	mon->gone = false;
}

static void on_vanished(GDBusConnection *c, const gchar *name, gpointer user)
{
	struct monitor *mon = user;

	(void)c, (void)name;
	if (!mon->gone)
		fprintf(stderr, "mnctl: mnd left the bus (waiting for it to come back)\n");
	mon->gone = true;
}

static gboolean on_signal(gpointer user)
{
	g_main_loop_quit(user);
	return G_SOURCE_CONTINUE;
}

static int do_monitor(GDBusConnection *c, bool json, unsigned long count)
{
	struct monitor mon = { .json = json, .count = count };
	GError *err = NULL;
	GVariant *ret;
	guint sub, watch, sigint, sigterm;

	mon.loop = g_main_loop_new(NULL, FALSE);
	/* Subscribed first, then the check that mnd is there and readable: the match rule
	 * reaches the bus before the call, so no change in between is missed. */
	sub = g_dbus_connection_signal_subscribe(c, MND_BUS_NAME,
		"org.freedesktop.DBus.Properties", "PropertiesChanged", MND_BUS_PATH,
		MND_BUS_IFACE, G_DBUS_SIGNAL_FLAGS_NONE, on_changed, &mon, NULL);
	ret = call(c, "org.freedesktop.DBus.Properties", "GetAll",
		   g_variant_new("(s)", MND_BUS_IFACE), G_VARIANT_TYPE("(a{sv})"), &err);
	if (!ret) {
		g_dbus_connection_signal_unsubscribe(c, sub);
		g_main_loop_unref(mon.loop);
		return fail("monitor", err);
	}
	g_variant_unref(ret);
	watch = g_bus_watch_name_on_connection(c, MND_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
					       on_appeared, on_vanished, &mon, NULL);
	sigint = g_unix_signal_add(SIGINT, on_signal, mon.loop);
	sigterm = g_unix_signal_add(SIGTERM, on_signal, mon.loop);
	g_main_loop_run(mon.loop);
	g_source_remove(sigint);
	g_source_remove(sigterm);
	g_bus_unwatch_name(watch);
	g_dbus_connection_signal_unsubscribe(c, sub);
	g_main_loop_unref(mon.loop);
	return MNCTL_EXIT_OK;
}

/* "mnctl: " what arg, then the usage. */
static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "mnctl: %s%s\n", what, arg);
	usage(stderr);
	return MNCTL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const char *cmd = NULL, *count_arg = NULL;
	unsigned long count = 0;
	bool json = false;
	GDBusConnection *c;
	int rc = MNCTL_EXIT_OK;

	g_set_prgname("mnctl");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return MNCTL_EXIT_OK;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("mnctl (mip4-mobike)\n");
			return MNCTL_EXIT_OK;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--count")) {
			if (++i >= argc)
				return usage_error("--count needs a number", "");
			count_arg = argv[i];
		} else if (!strncmp(a, "--count=", 8)) {
			count_arg = a + 8;
		} else if (a[0] == '-') {
			return usage_error("unknown option ", a);
		} else if (!cmd) {
			cmd = a;
		} else {
			return usage_error("unexpected argument ", a);
		}
	}
	if (!cmd)
		return usage_error("a command is needed", "");
	if (strcmp(cmd, "status") && strcmp(cmd, "monitor") && strcmp(cmd, "redetect"))
		return usage_error("unknown command ", cmd);
	if (count_arg) {
		char *end;

		errno = 0;
		count = strtoul(count_arg, &end, 10);
		if (strcmp(cmd, "monitor"))
			return usage_error("--count is for monitor only", "");
		if (errno || end == count_arg || *end || count == 0 || count_arg[0] == '-')
			return usage_error("--count: not a positive number: ", count_arg);
	}
	if (json && !strcmp(cmd, "redetect"))
		return usage_error("--json is for status and monitor", "");

	c = connect_bus(&rc);
	if (!c)
		return rc;
	if (!strcmp(cmd, "status"))
		rc = do_status(c, json);
	else if (!strcmp(cmd, "monitor"))
		rc = do_monitor(c, json, count);
	else
		rc = do_redetect(c);
	g_object_unref(c);
	return rc;
}
