/* mnd: start-up, the GLib main loop, shut-down. See mnd.h for the files and their jobs.
 * Exit status: 0 after SIGTERM/SIGINT (or --help, --version), 1 for a configuration error
 * or a failed start-up, 2 for a usage error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "common/log.h"
#include "common/sock.h"
#include "daemon/daemon.h"
#include "mnd/agentdisc.h"
#include "mnd/bus.h"
#include "mnd/mnd.h"

#define MND_DEFAULT_CONFIG "/etc/mip4-mobike/mnd.conf"

/* D-Bus Redetect() from root (bus.c checked the caller). */
static void bus_redetect(void *user)
{
	mnd_mode_redetect(user);
}

static void on_agent(void *user, const char *ifname, enum agent_event ev,
		     const struct policy_agent *a)
{
	mnd_mode_agent_event(user, ifname, ev, a);
}

static int start(struct mnd *m)
{
	char *dir = g_path_get_dirname(m->cfg.status_file);
	char h[ADDR4_STRLEN], a[ADDR4_STRLEN];
	int rc;

	if (g_mkdir_with_parents(dir, 0755) < 0)
		LOG_WARNING(&m->log, "cannot create %s: %s", dir, strerror(errno));
	g_free(dir);
	if ((rc = mnd_netcfg_open(m)) < 0 || (rc = mnd_reg_init(m)) < 0 ||
	    (rc = mnd_dp_init(m)) < 0 || (rc = mnd_mode_init(m)) < 0)
		return rc;
	LOG_NOTICE(&m->log, "started: home address %s/%u, home agent %s, interfaces %s, "
		   "lifetime %u s, reverse tunnel %s, UDP tunnel %s",
		   addr4_str(m->cfg.home_addr, h), m->cfg.home_plen,
		   addr4_str(m->cfg.home_agent, a), m->cfg.interfaces, m->cfg.lifetime,
		   m->cfg.reverse_tunnel ? "on" : "off", mn_udp_mode_name(m->cfg.udp));
	/* Foreign agents matter only to the mode machine (mode f needs a trusted network). */
	if (m->cfg.vpn.enabled && m->cfg.trust.prefer_fa &&
	    !(m->agentdisc = agentdisc_new(m, on_agent, NULL)))
		return -ENOMEM;
	if ((rc = mnd_attach_start(m)) < 0 || (rc = mnd_vpn_start(m)) < 0)
		return rc;
	/* The status API last: what it shows is in place (no bus: a warning, no failure). */
	if (m->cfg.dbus) {
		static const struct mnd_bus_ops ops = { .redetect = bus_redetect };

		if (!(m->bus = mnd_bus_open(&ops, m)))
			return -ENOMEM;
		mnd_status_write(m);
	}
	return 0;
}

static void stop(struct mnd *m)
{
	m->stopping = true;
	/* The status API first (the name goes: clients see mnd leave). */
	mnd_bus_close(m->bus);
	m->bus = NULL;
	/* The VPN next: its DELETE goes out while the interfaces are still watched. */
	mnd_vpn_stop(m);
	/* Away from home: one farewell deregistration (not waited for). */
	if (m->reg)
		mnd_reg_stop(m);
	mnd_attach_stop(m);
	agentdisc_free(m->agentdisc);
	m->agentdisc = NULL;
	mnd_mode_close(m);
	mnd_dp_close(m);
	mnd_reg_close(m);
	mnd_netcfg_close(m);
}

int main(int argc, char **argv)
{
	struct daemon_opts opts;
	struct mnd m;
	int rc;

	rc = daemon_parse_args(argc, argv, "mnd", MND_DEFAULT_CONFIG, &opts);
	if (rc != 0)
		return rc > 0 ? 0 : DAEMON_EXIT_USAGE;
	daemon_setup_logging(&opts);
	memset(&m, 0, sizeof(m));
	m.tun_fd = m.raw_fd = -1;
	m.last_reply_code = -1;
	logger_init(&m.log, "mnd");
	if (mnd_config_load(opts.config_path, &m.cfg) < 0)
		return 1;
	m.pkt = g_malloc(MND_PKT_MAX);
	m.loop = g_main_loop_new(NULL, FALSE);
	/* SIGTERM/SIGINT quit the loop; SIGHUP is logged and ignored (nothing to reload:
	 * restart to apply a new configuration). */
	daemon_install_signals(m.loop, NULL, NULL);

	rc = start(&m);
	if (rc == 0)
		g_main_loop_run(m.loop);
	stop(&m);
	daemon_remove_signals();
	g_main_loop_unref(m.loop);
	g_free(m.pkt);
	LOG_NOTICE(&m.log, rc == 0 ? "stopped" : "start-up failed");
	mnd_config_free(&m.cfg);
	return rc == 0 ? 0 : 1;
}
