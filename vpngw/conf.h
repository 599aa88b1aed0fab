/* vpngw's configuration file (INI, daemon/config.h).
 *
 * [gateway]
 *	listen            our public address: IKE on UDP 500 and 4500, ESP in UDP 4500 (required)
 *	pool              inner addresses (TIAs) handed out, a.b.c.d/len, len 16..30
 *	                  (required when a peer has assign-address = yes)
 *	tunnel-address    the gateway's own inner address on the TUN device (default: the
 *	                  last host address of pool; never handed out)
 *	dns               DNS servers handed out (INTERNAL_IP4_DNS), a list, at most 4
 *	tunnel-device     TUN device for inner traffic                         (vpngw0)
 *	tunnel-mtu        its MTU, 576..9000: room for ESP in UDP below 1500  (1400)
 *	control-socket    gwctl's socket                     (/run/mip4-mobike/vpngw.sock)
 *	keylog-file       DEBUGGING AID, off by default: append every IKE SA's keys in
 *	                  Wireshark's ikev2_decryption_table format; whoever reads the file can
 *	                  decrypt the IKE traffic
 *	cookie-threshold  half-open SAs above which COOKIEs are demanded (RFC 7296 2.6)  (32)
 *	half-open-max     half-open SAs above which new requests are dropped           (4096)
 *	max-sas           IKE SAs at most                                              (65536)
 *	dpd-interval      seconds of silence before a liveness check (2.4), 0 = off       (30)
 *	handover-replay-ms  after a MOBIKE move, send the packets of the last N ms again to
 *	                  the new address, 0 = off (daemon/replay.h, espdp.h)    (1000)
 *	handover-replay-bytes  at most this much of them per move, the oldest first (65536)
 *	handover-replay-rtt-ms  the longest round trip to a peer the replay covers; it
 *	                  starts that long before the last packet that came back
 *	                  through the old path, or the IKE SA's measured round trip
 *	                  with a margin when shorter (replay.h pkt_replay_rtt)    (150)
 *
 * [peer NAME]  (one per class of peers, at least one; the responder picks by IDi)
 *	remote-id         who the peer must be (ident.h syntax; %any: whoever the credentials
 *	                  prove)                                                      (%any)
 *	local-id          who we are (default: the certificate's subject for auth = cert,
 *	                  ipv4:LISTEN for auth = psk); with auth = cert it must be in the
 *	                  certificate (subject or subjectAltName)
 *	auth              psk | cert                                               (required)
 *	psk-file          the pre-shared key (creds.h: text or 0x-hex, mode 0600)  (psk)
 *	cert, key, ca     PEM: our certificate, its private key (mode 0600), the trust anchors
 *	                  the peer's certificate must chain to (a list)            (cert)
 *	ike, esp          proposal lists (daemon/proposals.h)     (VPNGW_IKE/ESP_DEFAULT)
 *	local-ts          what we protect, a list of a.b.c.d/len                   (required)
 *	assign-address    answer CFG_REQUEST from the pool (RFC 7296 3.15)            (yes)
 *	ike-lifetime      seconds until the IKE SA is rekeyed, 0 = never          (14400)
 *	child-lifetime    seconds until a Child SA is rekeyed (ESP soft limit)      (3600)
 *	mobike            MOBIKE (RFC 4555): the peer may move the SA to new addresses   (yes)
 *	mobike-nat        allow | refuse a new path with a NAT on it (3.9)             (allow)
 *	mobike-return-routability
 *	                  new-address | always | never: COOKIE2 check of a new peer address
 *	                  before moving (3.7)                                   (new-address)
 *	mobike-allowed    a list of a.b.c.d/len: peer addresses must lie inside one (any)
 *	                  (our own address set for ADDITIONAL_IP4_ADDRESS is `listen`, 3.4)
 *
 * Any error prints ONE line "FILE: [group] key: reason" (or "FILE: [group]: reason") and the
 * load fails with -EINVAL; the daemon then exits 1. Unknown keys and groups are warnings.
 */
#ifndef MM_VPNGW_CONF_H
#define MM_VPNGW_CONF_H

#define VPNGW_REPLAY_BYTES_DEFAULT (64u * 1024u)   /* handover-replay-bytes (conf.c) */

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "daemon/config.h"
#include "ike/engine.h"

#define VPNGW_GATEWAY_GROUP "gateway"
#define VPNGW_PEER_PREFIX "peer "
#define VPNGW_CONTROL_SOCKET_DEFAULT "/run/mip4-mobike/vpngw.sock"
#define VPNGW_TUNNEL_DEVICE_DEFAULT "vpngw0"
#define VPNGW_TUNNEL_MTU_DEFAULT 1400
#define VPNGW_MAX_DNS 4
#define VPNGW_MAX_PEERS 256
#define VPNGW_IKE_DEFAULT "aes128gcm16-prfsha256-x25519, aes256gcm16-prfsha384-ecp384, " \
	"chacha20poly1305-prfsha256-x25519, aes128-sha256-modp2048"
#define VPNGW_ESP_DEFAULT "aes128gcm16, aes256gcm16, chacha20poly1305, aes128-sha256"

/* What a peer class owns; struct ike_peer_cfg points into it. */
struct vpngw_peer {
	char *name;
	uint8_t *psk;
	size_t psk_len;
	X509 *cert;
	EVP_PKEY *key;
	X509_STORE *ca;
};

struct vpngw_conf {
	char *path;
	struct in_addr listen;
	bool have_pool;
	struct in_addr pool_net;
	unsigned pool_plen;
	struct in_addr tunnel_addr;          /* 0.0.0.0 without a pool and without the key */
	struct in_addr dns[VPNGW_MAX_DNS];
	size_t ndns;
	char tunnel_device[IFNAMSIZ];
	unsigned tunnel_mtu;
	char *control_socket;
	char *keylog_file;                   /* NULL: off */
	unsigned cookie_threshold, half_open_max, max_sas;
	unsigned dpd_interval;
	unsigned replay_ms;                  /* 0: handover replay off */
	unsigned replay_bytes;
	unsigned replay_rtt_ms;
	size_t npeers;
	struct ike_peer_cfg *peers;          /* npeers, for ike_engine_cfg.peers */
	struct vpngw_peer *own;              /* npeers, same order */
};

/* Load path. 0, or -EINVAL after one error line; *out untouched on failure. */
int vpngw_conf_load(const char *path, struct vpngw_conf *out);
/* The same from an already parsed file (tests: cfg_load_data). */
int vpngw_conf_from_cfg(const struct cfg *c, struct vpngw_conf *out);
/* Free everything, wiping the pre-shared keys. Safe on a zeroed struct. */
void vpngw_conf_clear(struct vpngw_conf *c);

#endif
