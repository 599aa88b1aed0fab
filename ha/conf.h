/* The home agent's configuration file (group [home-agent]):
 *
 *	address             the home agent's address; UDP 434 is bound to it      (required)
 *	home-interface      the home link                                          (required)
 *	home-prefix         the home network, e.g. 198.18.1.0/24 (RFC 5944 §3.8.1) (required)
 *	keys-file           "HOME-ADDRESS SPI HEXKEY" lines, mode 0600             (required)
 *	max-lifetime        seconds, 1..65534                                      (600)
 *	state-file          bindings + replay state     (/var/lib/mip4-mobike/ha.bindings)
 *	control-socket      hactl's socket              (/run/mip4-mobike/ha.sock)
 *	tunnel-device       TUN device the home addresses are routed into          (mipha0)
 *	udp-tunnelling      allow | deny  (RFC 3519 NAT traversal)                 (allow)
 *	keepalive-interval  seconds, sent in UDP Tunnel Replies (RFC 3519 §3.2)    (110)
 *	handover-replay-ms  send the packets of the last N ms again after a move,
 *	                    0 = off (daemon/replay.h)                              (1000)
 *	handover-replay-bytes  at most this much of them per move                 (524288)
 *	handover-replay-rtt-ms  the longest round trip to a care-of address the replay
 *	                    covers; it starts that long before the last packet
 *	                    that came back through the old tunnel                  (150)
 *	trusted-networks    internal home agent (RFC 5265 §4.3): comma-separated
 *	                    prefixes a.b.c.d/len (1..32, no host bits), at most
 *	                    HA_TRUSTED_MAX; requests from other sources are dropped,
 *	                    replies carry the Trusted Networks Configured extension
 *	                                                   (absent: no check, no TNC)
 *
 * Group [foreign-agent] (RFC 5944 §3.7, RFC 3024 §4.2; ha/fa.h):
 *
 *	interface           the visited link: advertisements, mobile nodes        (required)
 *	care-of-address     advertised; an address of this host (usually the
 *	                    interface's); relayed requests go out from it          (required)
 *	advertisement-interval  MaxAdvertisementInterval, seconds 1..1800 (RFC 1256
 *	                    §4.1; each interval is random in [0.75 max, max])      (5)
 *	registration-lifetime  longest lifetime advertised and relayed, 1..65535
 *	                    seconds (65535: infinite, RFC 5944 §2.1.1)             (600)
 *	registration-required  the R flag (RFC 5944 §2.1.1)                       (yes)
 *	reverse-tunnelling  yes | no | required (RFC 3024 §3.1: the T flag;
 *	                    required denies requests without T, code 75)          (yes)
 *	fa-ha-keys-file     "HOME-AGENT-ADDRESS SPI HEXKEY" lines, mode 0600: the
 *	                    Foreign-Home Authentication (RFC 5944 §3.5.4)         (none)
 *	mn-fa-required      every request must carry Mobile-Foreign
 *	                    Authentication (RFC 5944 §3.7.2.1)                     (no)
 *	mn-fa-keys-file     "HOME-ADDRESS SPI HEXKEY" lines, mode 0600
 *	                    (required when mn-fa-required = yes)                   (none)
 *	tunnel-device       TUN device of the reverse tunnel (RFC 3024 §4.2)       (mipfa0)
 *	routing-table       table holding "default dev <tunnel-device>"; a rule
 *	                    "from HOME-ADDRESS iif <interface>" per visitor      (434)
 *	max-visitors        1..65536                                               (1024)
 *	prefix-lengths      advertise the Prefix-Lengths extension (§2.1.2)       (yes)
 *	control-socket      hactl's socket when there is no [home-agent] (with
 *	                    one, that group's control-socket serves both)
 *	                                              (/run/mip4-mobike/ha.sock)
 *
 * ha runs with [home-agent], [foreign-agent] or both; one of them is required. A foreign
 * agent alone needs no home-agent keys.
 *
 * Any error prints ONE line naming the file, the group and the key, and the load fails with
 * -EINVAL; the daemon then exits 1.
 */
#ifndef MM_HA_CONF_H
#define MM_HA_CONF_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "mip4/fa_engine.h"
#include "mip4/ha_engine.h"

#define HA_CONF_GROUP "home-agent"
#define HA_STATE_FILE_DEFAULT "/var/lib/mip4-mobike/ha.bindings"
#define HA_CONTROL_SOCKET_DEFAULT "/run/mip4-mobike/ha.sock"
#define HA_TUNNEL_DEVICE_DEFAULT "mipha0"
#define FA_CONF_GROUP "foreign-agent"
#define FA_TUNNEL_DEVICE_DEFAULT "mipfa0"
#define FA_ADV_INTERVAL_DEFAULT 5
#define FA_ROUTING_TABLE_DEFAULT 434

/* [foreign-agent] (see above). */
struct fa_conf {
	char interface[IFNAMSIZ];
	struct in_addr coa;
	unsigned adv_interval;              /* seconds */
	unsigned reg_lifetime;
	bool registration_required;
	enum fa_reverse_tunnel reverse;
	char *fa_ha_keys_file;              /* NULL: none */
	bool mn_fa_required;
	char *mn_fa_keys_file;              /* NULL: none */
	char tunnel_device[IFNAMSIZ];
	unsigned routing_table;
	unsigned max_visitors;
	bool prefix_lengths;
};

struct ha_conf {
	char *path;
	bool has_ha;                             /* [home-agent] present */
	bool has_fa;                             /* [foreign-agent] present */
	struct fa_conf fa;
	struct in_addr address;
	char home_if[IFNAMSIZ];
	struct in_addr home_net;
	unsigned home_plen;
	unsigned max_lifetime;
	char *keys_file;
	char *state_file;
	char *control_socket;                    /* of whichever group owns it */
	char tunnel_device[IFNAMSIZ];
	enum ha_udp_policy udp;
	unsigned keepalive_interval;
	unsigned replay_ms;
	unsigned replay_bytes;
	unsigned replay_rtt_ms;
	unsigned ntrusted;                       /* 0: trusted-networks not set */
	struct ha_prefix trusted[HA_TRUSTED_MAX];
};

int ha_conf_load(const char *path, struct ha_conf *out);
void ha_conf_clear(struct ha_conf *c);

#endif
