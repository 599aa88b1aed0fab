/* mnd's VPN client: the optional [vpn] group, and the IKEv2 initiator around ike/engine.h
 * with the shared ESP data path (daemon/espdp.h).
 *
 *	vpn_conf.c   the [vpn] group: gateway, identities, PSK or certificates, proposals,
 *	             intranet prefixes, tunnel device, DPD, keylog, interfaces
 *	vpn.c        the client: sockets bound to the physical interface (with MOBIKE: on all
 *	             addresses, each datagram sent through its address's interface), engine,
 *	             TUN, routes, MOBIKE moves (RFC 4555) or re-establishment with backoff,
 *	             its status file, DELETE at shut-down
 *
 * With [vpn] configured, the client runs next to Mobile IPv4 (mode c); their interplay (mode
 * mc, RFC 5266 3.4's trust race) comes later.
 */
#ifndef MM_MND_VPN_H
#define MM_MND_VPN_H

#include <stdbool.h>
#include <stddef.h>
#include <net/if.h>
#include <netinet/in.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "daemon/config.h"
#include "ike/engine.h"

#define MND_VPN_GROUP "vpn"
#define MND_VPN_INTRANET_MAX IKE_CFG_MAX_TS
#define MND_VPN_TUN_DEFAULT "mnvpn0"
#define MND_VPN_STATUS_DEFAULT "/run/mip4-mobike/mnd.vpn.json"
/* Re-establishment backoff (issue 4): 1 s, doubling, at most 60 s; reset on success. */
#define MND_VPN_BACKOFF_MIN_S 1
#define MND_VPN_BACKOFF_MAX_S 60

struct mnd_vpn_config {
	bool enabled;                /* a [vpn] group is present */
	struct in_addr gateway;
	struct ike_peer_cfg peer;    /* identities, credentials, proposals, selectors */
	uint8_t *psk;                /* auth = psk (creds_free_psk) */
	size_t psk_len;
	X509 *cert;                  /* auth = cert */
	EVP_PKEY *key;
	X509_STORE *ca;
	size_t nintranet;
	struct in_addr intranet[MND_VPN_INTRANET_MAX];   /* routed into the tunnel */
	unsigned intranet_plen[MND_VPN_INTRANET_MAX];
	char *interfaces;            /* for IKE and ESP; "wlan0,wwan0" */
	char tunnel_device[IFNAMSIZ];
	unsigned tunnel_mtu;
	char *keylog_file;           /* NULL: off */
	char *status_file;
};

/* Load the [vpn] group if there is one (out->enabled false otherwise). mip_interfaces is the
 * default for interfaces. One error line naming file, group and key, and -EINVAL. */
int mnd_vpn_config_load(const struct cfg *c, const char *mip_interfaces,
			struct mnd_vpn_config *out);
void mnd_vpn_config_free(struct mnd_vpn_config *v);

struct mnd;
/* Start the client (TUN, engine, the 1-second tick that looks for a usable interface). */
int mnd_vpn_start(struct mnd *m);
/* SIGTERM: DELETE the IKE SA (waiting briefly for the answer), remove TIA and routes. */
void mnd_vpn_stop(struct mnd *m);

/* What the mode machine (mode.c), the status file and the D-Bus API see of the client. */
struct mnd_vpn_view {
	bool configured;             /* a [vpn] group exists */
	bool up;                     /* IKE SA and Child SA up, TIA on the TUN */
	bool answered;               /* the gateway answered since the last attachment change
	                              * (SA_UP, or a MOBIKE move done) */
	bool failed;                 /* the last attempt or move on this attachment failed */
	struct in_addr tia;          /* 0.0.0.0: none */
	struct in_addr gateway;
	uint64_t spi_i, spi_r;
	char tun_name[IFNAMSIZ];
	unsigned tun_mtu;
};
/* Keep (or set up) the VPN, or not: a trusted network with keep-vpn = no deletes the IKE
 * SA and sets up none until the next attachment change (which wants it again: the race). */
void mnd_vpn_set_wanted(struct mnd *m, bool wanted);
/* Everything zero (configured false) without [vpn]. */
void mnd_vpn_view(const struct mnd *m, struct mnd_vpn_view *out);
/* Links, addresses or routes changed (attach.c, every netlink batch): MOBIKE follows the
 * preferred usable address at once (no polling). */
void mnd_vpn_links_changed(struct mnd *m);
/* The attachment changed (attach.c, netlink): follow it now (MOBIKE update, or a new IKE SA)
 * instead of at the next look; clears `answered` and `failed`. */
void mnd_vpn_attach_changed(struct mnd *m);

#endif
