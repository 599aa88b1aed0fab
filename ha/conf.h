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
 *	                    0 = off (ha/replay.h)                                  (1000)
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
 * Any error prints ONE line naming the file, the group and the key, and the load fails with
 * -EINVAL; the daemon then exits 1.
 */
#ifndef MM_HA_CONF_H
#define MM_HA_CONF_H

#include <net/if.h>
#include <netinet/in.h>

#include "mip4/ha_engine.h"

#define HA_CONF_GROUP "home-agent"
#define HA_STATE_FILE_DEFAULT "/var/lib/mip4-mobike/ha.bindings"
#define HA_CONTROL_SOCKET_DEFAULT "/run/mip4-mobike/ha.sock"
#define HA_TUNNEL_DEVICE_DEFAULT "mipha0"

struct ha_conf {
	char *path;
	struct in_addr address;
	char home_if[IFNAMSIZ];
	struct in_addr home_net;
	unsigned home_plen;
	unsigned max_lifetime;
	char *keys_file;
	char *state_file;
	char *control_socket;
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
