/* mnd: the mobile-node daemon's shared state and the functions its files offer each other.
 *
 *	main.c          start-up, main loop, shut-down
 *	conf.c          [mobile-node] configuration and the key file
 *	attach.c        netlink: interface state -> location (location.c decides)
 *	netcfg.c        TUN device, home address on it, "ip rule from HoA lookup TABLE"
 *	registration.c  the registration socket and mip4/mn_engine: requests, replies, timer
 *	datapath.c      TUN <-> IP-in-IP (raw socket) / RFC 3519 UDP tunnel; keepalives
 *	                (packets built and checked by mip4/tunnel.h)
 *	status.c        the status file (atomic JSON)
 *	common/garp.c   gratuitous ARP at home; rtnl.c policy rules; timer.c GLib deadlines
 *	vpn_conf.c      the optional [vpn] group; vpn.c the IKEv2 VPN client (vpn.h)
 *	mode.c          the mode machine: trust race, verdict (policy/trust.h), c / mc
 *	failclosed.c    the fail-closed nftables filter; bus.c the D-Bus status API
 *
 * Everything runs on one thread, the GLib main loop.
 */
#ifndef MM_MND_MND_H
#define MM_MND_MND_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>

#include <glib.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/netlink.h"
#include "mip4/auth.h"
#include "mip4/mn_engine.h"
#include "mnd/dedup.h"
#include "mnd/failclosed.h"
#include "mnd/location.h"
#include "policy/agent.h"
#include "mnd/timer.h"
#include "mnd/vpn.h"
#include "policy/trust.h"

/* Priority of our "from HoA lookup TABLE" rule: before the main table (32766). */
#define MND_RULE_PRIORITY 1000
/* MTU of the TUN device: leaves room for the outer IPv4 header (20 bytes), and UDP (8) plus
 * the MIP tunnel data header (4) of RFC 3519, under a 1500-byte path (RFC 3519 §4.8 wants
 * fragmentation before encapsulation: the kernel does it, to this MTU). */
#define MND_TUN_MTU_DEFAULT 1400
/* Gratuitous ARPs on return home (RFC 5944 §4.6: "retransmitted a small number of times"),
 * this far apart. */
#define MND_GARP_COUNT 3
#define MND_GARP_INTERVAL MM_MSEC(500)
/* probe-grace: the home agent's answer to the probe is waited for this long after the
 * gateway's before mode mc is taken (and a registration sent through the tunnel). Inside
 * the enterprise with the gateway reachable both answer within a few ms of each other; the
 * 10 ms fit the c -> mc budget of issue 6 (two RTTs + 10 ms). */
#define MND_PROBE_GRACE_MS_DEFAULT 10

struct mnd_config {
	char *path;                  /* the configuration file, for messages */
	struct in_addr home_addr;
	unsigned home_plen;
	struct in_addr home_agent;
	struct mip4_key key;         /* spi + the key file's bytes; wiped at exit */
	unsigned lifetime;
	char *interfaces;            /* "wlan0,wwan0" */
	char tunnel_device[IFNAMSIZ];
	bool reverse_tunnel;
	enum mn_udp_mode udp;
	char *status_file;
	unsigned routing_table;
	char *nai;                   /* optional */
	unsigned keepalive;          /* s; RFC 3519 §4.9 default K = 110 */
	unsigned tunnel_mtu;
	struct policy_trust_config trust;   /* probe-retries, probe-timeout, keep-vpn,
	                                     * fail-closed, prefer-fa (policy/trust.h) */
	unsigned probe_grace_ms;     /* after the gateway's answer, before mode mc */
	bool dbus;                   /* the D-Bus status API (bus.h); default yes */
	struct mnd_vpn_config vpn;   /* optional [vpn] group (vpn.h) */
};

/* Data path counters. */
struct mnd_dp_stats {
	uint64_t tx_packets, tx_bytes;       /* tunnelled to the HA */
	uint64_t rx_packets, rx_bytes;       /* decapsulated into the TUN */
	uint64_t tx_dropped;                 /* no binding, bad source, send error */
	uint64_t rx_dropped;                 /* wrong outer source/inner destination, ... */
	uint64_t keepalives_sent, keepalive_replies;
	uint64_t rx_duplicates;              /* sent again by the HA after a move (dedup.h) */
	uint64_t held;                       /* held for the verdict of a trust race */
	uint64_t held_dropped;               /* did not fit in the hold */
};

/* One registration: an mn_engine, its timer, and its UDP socket (bound to the care-of
 * address and its interface). */
struct mnd_reg {
	struct mnd *m;
	struct mn_engine *engine;
	struct mnd_timer *timer;
	int fd;
	guint watch;
	struct in_addr src;
	char ifname[IFNAMSIZ];
	uint16_t port;
	unsigned sent;               /* requests sent since the last location */
	mm_time_ns located_at;       /* monotonic, the last location given */
	bool bound;                  /* the engine holds an accepted binding */
	struct mn_binding binding;   /* valid when bound */
	struct in_addr fa;           /* registering through this foreign agent (mode f); 0:
	                              * directly with the home agent */
	int ttl;                     /* IP TTL set on the socket (0: the default) */
};

struct mnd {
	struct logger log;
	struct mnd_config cfg;
	GMainLoop *loop;
	int exit_code;
	bool stopping;

	/* attach.c */
	struct nl_monitor *nl;
	guint nl_watch;
	struct mnd_ifaces ifaces;
	struct mnd_location loc;     /* the location in force */
	mm_time_ns loc_changed_at;   /* when netlink showed it (monotonic) */
	bool have_loc;
	bool nl_changed;             /* set by events during one dispatch */
	bool nl_resync;

	/* netcfg.c */
	int tun_fd;
	char tun_name[IFNAMSIZ];
	int tun_ifindex;
	bool tun_has_hoa;
	bool rule_installed;
	struct in_addr route_gw;     /* table's default route: via this foreign agent (mode f,
	                              * RFC 3024 direct delivery to the agent); 0: the TUN */
	int route_ifindex;

	/* registration.c: the registration in force, and the trust probe (RFC 5266 3.4: the
	 * request sent without VPN encapsulation from a new address; [vpn] only). An accepted
	 * probe becomes the registration in force (the two are swapped). */
	struct mnd_reg *reg;
	struct mnd_reg *probe;

	/* datapath.c */
	int raw_fd;                  /* IPPROTO_IPIP, IP_HDRINCL, IP_PKTINFO (not bound) */
	guint raw_watch;
	guint tun_watch;
	char raw_ifname[IFNAMSIZ];   /* the data path's interface: the binding's */
	int raw_ifindex;             /* its index; 0: none (routing decides) */
	uint8_t *held;               /* packets held for the verdict (mnd_dp_hold_release) */
	size_t held_len;
	bool tunnel_up;
	struct mn_binding binding;
	mm_time_ns last_tx;          /* last packet sent to the HA (keepalive, RFC 3519 §4.9) */
	struct mnd_timer *ka_timer;
	unsigned ka_unanswered;      /* keepalives sent since the last reply */
	uint16_t ka_seq;
	uint16_t ka_id;
	uint16_t ip_id;              /* Identification of the IPv4 headers we build */
	struct mnd_dp_stats dp;
	struct mnd_dedup *dedup;     /* duplicate filter after a move (dedup.h) */
	mm_time_ns dedup_until;      /* drop duplicates until then */
	uint8_t *pkt;                /* receive buffer, MND_PKT_MAX bytes */

	/* attach.c: gratuitous ARP on return home */
	struct mnd_timer *garp_timer;
	unsigned garp_left;

	/* status.c */
	int last_reply_code;

	/* agentdisc.c: foreign agents on the access links (RFC 5944 2.4), [vpn] only */
	struct agentdisc *agentdisc;
	uint32_t agents_up;          /* attach.c: bit i = agentdisc runs on iface[i] */
	bool fa_refused;             /* the agent of this attachment denied us: mode c */

	/* vpn.c: the VPN client, NULL without [vpn] */
	struct mnd_vpn *vpn;

	/* mode.c: the mode machine (policy/trust.h); every change through mnd_mode_set() */
	enum policy_mode mode;
	enum policy_trust trust;
	char mode_reason[160];       /* why the mode is what it is (policy verdict) */
	mm_time_ns mode_since;       /* monotonic */
	uint32_t handovers;          /* completed handovers (a mode reached after a move) */
	uint32_t last_handover_ms;   /* attachment change -> traffic flowing again; 0: none */
	struct mnd_location attach;  /* the attachment the race runs for */
	mm_time_ns attach_at;        /* monotonic: when netlink showed it */
	bool handover_pending;       /* attach_at is running: traffic not flowing yet */
	struct policy_trust_facts facts;
	struct mnd_timer *probe_timer;   /* the probe is given up at its expiry */
	struct mnd_timer *grace_timer;   /* probe-grace after the gateway's answer */
	struct mnd_timer *early_timer;   /* the TIA's registration before the verdict */
	mm_time_ns vpn_answered_at;  /* monotonic: the gateway answered on this attachment */
	bool home_confirmed;         /* on the home link, the deregistration was answered */
	bool filter_on;              /* the fail-closed filter (failclosed.h) is in place */
	struct mnd_fc *fc;           /* its libnftables context (NULL: one per call) */
	unsigned tun_mtu;            /* the TUN's MTU as mode.c last set it (lower in mc: both
	                              * headers); 0: as opened, cfg.tunnel_mtu */

	/* bus.c: the D-Bus status API, NULL without a bus */
	struct mnd_bus *bus;
};

#define MND_PKT_MAX 65600
/* Packets from the home agent to a new attachment's address held while the trust race runs
 * (datapath.c): about what its handover replay sends (ha.conf handover-replay-bytes). */
#define MND_HOLD_BYTES (512 * 1024 + 4096)

/* conf.c: load and check the configuration (and the key file it names). On error, prints
 * one line naming the file, group and key, and returns -EINVAL (or -errno). */
int mnd_config_load(const char *path, struct mnd_config *cfg);
void mnd_config_free(struct mnd_config *cfg);

/* attach.c */
int mnd_attach_start(struct mnd *m);
void mnd_attach_stop(struct mnd *m);

/* netcfg.c */
int mnd_netcfg_open(struct mnd *m);
int mnd_netcfg_away(struct mnd *m);   /* HoA on the TUN, the rule in place */
int mnd_netcfg_home(struct mnd *m);   /* both removed: HoA lives on the home link */
/* The table's default route: via foreign agent gw on ifindex (mode f), or (gw 0) the TUN. */
int mnd_netcfg_route(struct mnd *m, struct in_addr gw, int ifindex);
/* A configured interface appeared: stop it answering ARP for the home address while
 * away (arp_ignore 1, RFC 5944 §4.6). */
void mnd_netcfg_iface(struct mnd *m, const char *ifname);
void mnd_netcfg_close(struct mnd *m);

/* registration.c */
int mnd_reg_init(struct mnd *m);
/* The location changed: move the registration socket, tell the engine. loc may be a
 * physical attachment or, in mode mc, the TIA on the VPN's TUN. */
void mnd_reg_locate(struct mnd *m, const struct mnd_location *loc);
/* The trust probe: register from loc without VPN encapsulation (a new attachment), or stop
 * (loc NULL). Its outcome reaches mode.c (mnd_mode_probe_answered). */
void mnd_reg_probe(struct mnd *m, const struct mnd_location *loc);
/* The probe's accepted registration becomes the one in force (the old one is dropped
 * without a deregistration: the home agent has replaced it already). */
void mnd_reg_adopt_probe(struct mnd *m);
/* NAT mapping lost (RFC 3519 §4.10): register again. */
void mnd_reg_refresh(struct mnd *m);
/* The probe registers through foreign agent a on loc's interface (mode f, RFC 5944 3.6.1):
 * from the home address, D clear, the agent's care-of address. Its outcome reaches mode.c
 * like the probe's (mnd_mode_probe_answered, binding.via_fa). */
void mnd_reg_probe_fa(struct mnd *m, const struct mnd_location *loc,
		      const struct policy_agent *a);
/* The agent m->reg registers through rebooted (RFC 5944 2.4.4): register again. */
void mnd_reg_fa_rebooted(struct mnd *m);
/* Shut-down: the farewell deregistration (away), then close. */
void mnd_reg_stop(struct mnd *m);
void mnd_reg_close(struct mnd *m);

/* datapath.c */
int mnd_dp_init(struct mnd *m);
/* The care-of address moved to ifname ("" when detached or at home). */
/* The care-of address changed: start the duplicate filter (dedup.h). */
void mnd_dp_moved(struct mnd *m);
int mnd_dp_set_interface(struct mnd *m, const char *ifname);
void mnd_dp_binding_up(struct mnd *m, const struct mn_binding *b);
void mnd_dp_binding_down(struct mnd *m);
/* The packets held during the trust race: into the TUN (deliver, the network is trusted)
 * or dropped; either way the hold is emptied. */
void mnd_dp_hold_release(struct mnd *m, bool deliver);
/* A MIP Tunnel Data message (RFC 3519 §3.3) arrived on the registration socket. */
void mnd_dp_udp_input(struct mnd *m, const uint8_t *msg, size_t len, struct in_addr src,
		      uint16_t sport);
void mnd_dp_close(struct mnd *m);

/* status.c: the status file and the D-Bus properties (bus.c), on every change */
void mnd_status_write(struct mnd *m);

/* mode.c */
int mnd_mode_init(struct mnd *m);
void mnd_mode_close(struct mnd *m);
/* mode.c: a location from attach.c (instead of mnd_reg_locate when [vpn] is configured). */
void mnd_mode_locate(struct mnd *m, const struct mnd_location *loc);
/* mode.c: the probe was answered (accepted: *b, with b->tnc) or refused / given up. */
void mnd_mode_probe_answered(struct mnd *m, const struct mn_binding *b);
/* mode.c: the registration in force changed (bound or not). */
void mnd_mode_reg_changed(struct mnd *m);
/* mode.c: the VPN's view changed (up, down, a move answered or failed): decide again. */
void mnd_mode_vpn_changed(struct mnd *m);
/* mode.c: start the trust race again on the current attachment (D-Bus Redetect, root). */
void mnd_mode_redetect(struct mnd *m);
/* agentdisc's events (policy/agent.h) for an access interface. */
void mnd_mode_agent_event(struct mnd *m, const char *ifname, enum agent_event ev,
			  const struct policy_agent *a);

#endif
