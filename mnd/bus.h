/* mnd's D-Bus status API, first version (issue 6 item 5): the well-known name
 * org.mip4mobike.MobileNode1 on the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured), one
 * object /org/mip4mobike/MobileNode1 with the interface org.mip4mobike.MobileNode1:
 *
 *	read-only properties, each announced by org.freedesktop.DBus.Properties.
 *	PropertiesChanged (one signal per publish, only the changed ones):
 *	  Mode s                "offline", "detecting", "home", "c", "f", "mc", "blocked"
 *	  Trusted b, Trust s    the verdict of the trust race ("unknown", "trusted", ...)
 *	  Reason s              why the mode is what it is
 *	  HomeAddress s, CareOfAddress s (the one registered: physical in c, the TIA in mc),
 *	  Interface s, TunnelInnerAddress s, Gateway s, HomeAgent s   ("" for none)
 *	  Handovers u, LastHandoverMs u, ModeSince t (CLOCK_REALTIME microseconds)
 *	method Redetect(): start the trust race again; root (uid 0) only, checked here with the
 *	  caller's uid from the bus (GetConnectionUnixUser) as well as by the bus policy
 *	  (systemd/org.mip4mobike.MobileNode1.conf); anyone else gets
 *	  org.freedesktop.DBus.Error.AccessDenied and a log line naming the uid.
 *
 * Everything is asynchronous on the GLib main loop: no bus, or the name refused by the bus
 * policy, is one warning line and the daemon carries on without the API. GIO types stay in
 * bus.c; the daemon hands over plain values (struct mnd_bus_props).
 */
#ifndef MM_MND_BUS_H
#define MM_MND_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "common/clock.h"

#define MND_BUS_NAME "org.mip4mobike.MobileNode1"
#define MND_BUS_PATH "/org/mip4mobike/MobileNode1"
#define MND_BUS_IFACE "org.mip4mobike.MobileNode1"

/* What the properties show. Strings are copied by mnd_bus_publish (NULL: ""); an address
 * 0.0.0.0 is shown as "". */
struct mnd_bus_props {
	const char *mode;              /* policy_mode_name() */
	bool trusted;
	const char *trust;             /* policy_trust_name() */
	const char *reason;
	struct in_addr home_address;
	struct in_addr care_of_address;
	const char *interface;
	struct in_addr tunnel_inner_address;
	struct in_addr gateway;
	struct in_addr home_agent;
	uint32_t handovers;
	uint32_t last_handover_ms;
	mm_time_ns mode_since;         /* CLOCK_MONOTONIC; shown as CLOCK_REALTIME us (0: 0) */
};

struct mnd_bus_ops {
	void (*redetect)(void *user);  /* Redetect() from root */
};

struct mnd_bus;

/* Start connecting to the system bus and owning the name (asynchronous: the outcome is
 * logged, prefix "mnd"). Properties published before the name is owned are served once it
 * is. NULL only when out of memory. */
struct mnd_bus *mnd_bus_open(const struct mnd_bus_ops *ops, void *user);
/* Remember p (copied) and, when connected, send one PropertiesChanged with the
 * properties that differ from the last published. NULL bus: nothing. */
void mnd_bus_publish(struct mnd_bus *b, const struct mnd_bus_props *p);
/* Release the name, drop the connection, free. NULL: nothing. */
void mnd_bus_close(struct mnd_bus *b);

#endif
