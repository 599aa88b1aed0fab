/* The fail-closed filter (issue 6 item 4): while the network is not known to be trusted
 * (modes detecting, mc, blocked, offline) nothing of the home address and nothing for the
 * intranet may leave a physical interface unencrypted. RFC 5266 3.4: "The mobile node
 * should not send any normal traffic while it is trying to detect whether it is attached
 * to the trusted or untrusted network"; RFC 5265 3.3: when re-registration fails "the MN
 * MUST stop sending and receiving plaintext traffic".
 *
 * The filter is an nftables table of its own (family inet) with one base chain on the
 * postrouting hook (locally sent and forwarded packets alike, after routing has chosen the
 * interface, before any source NAT). For packets leaving one of the listed interfaces, in
 * this order:
 *	1. source the home address                               drop, counter "hoa_dropped"
 *	2. UDP to the home agent's port 434 whose payload is a
 *	   Registration Request (type 1, RFC 5944 3.3): the trust
 *	   probe of RFC 5266 3.4, sent without VPN encapsulation;
 *	   it carries no user data. (An RFC 3519 3.3 Tunnel Data
 *	   message, type 4, to the same port does, and is dropped.)  accept
 *	3. UDP to the VPN gateway's ports 500 and 4500: IKE and
 *	   ESP in UDP (RFC 7296 2.23, RFC 3948), key exchange or
 *	   encrypted                                                accept
 *	4. DHCP, client to server (UDP 68 -> 67): no user data       accept
 *	5. destination the home agent or inside an intranet
 *	   prefix                                                   drop, counter "intranet_dropped"
 *	everything else (ARP is not inet at all; other destinations)  accept
 * Rule 1 comes first, so no exception ever lets a home-address packet out. The home agent
 * counts as intranet even when no prefix covers it: IP-in-IP to it (RFC 2003) carries
 * home-address packets in plaintext. Traffic into mnd's TUN devices is not filtered (it is
 * what goes into the tunnels). Packets sent on AF_PACKET sockets bypass netfilter and
 * so this filter (DHCP clients, gratuitous ARP: nothing that carries user data).
 *
 * Applying is one nftables transaction of idempotent "add"s (table, counters, base chain),
 * a flush of the chain and the rules: atomic, and an old filter is replaced without a gap.
 * Taking the filter off (mnd_fc_open()) flushes the chain's rules and leaves the table
 * with its hook in place until mnd_fc_remove() at exit: deleting a base chain makes the
 * kernel wait for an RCU grace period (1-16 ms measured on these machines, under load),
 * flushing takes ~0.1 ms, and mnd takes the filter off on the critical path of every move
 * to a trusted network. The counters count from the table's creation. It goes through
 * libnftables synchronously: when a call returns 0 the kernel holds the rules.
 *
 * Errors are negative errno values; output parameters are untouched on failure.
 */
#ifndef MM_MND_FAILCLOSED_H
#define MM_MND_FAILCLOSED_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define MND_FC_INTRANET_MAX 16
#define MND_FC_IFACES_MAX 16         /* after removing duplicates */
#define MND_FC_TABLE_DEFAULT "mnd_failclosed"
#define MND_FC_NAME_MAX 63           /* table name length */
#define MND_FC_RENDER_MAX 4096       /* the longest ruleset fits */

struct mnd_fc_prefix {
	struct in_addr addr;         /* network: host bits must be clear */
	unsigned plen;               /* 0..32 */
};

struct mnd_fc_spec {
	/* Table name: a letter, then letters, digits, '_', '.', '-'; at most MND_FC_NAME_MAX. */
	const char *table;
	/* The physical interfaces, a comma list as in mnd's configuration ("wlan0, wwan0");
	 * blanks around names are ignored, duplicates are merged (so mnd's and [vpn]'s lists
	 * may be joined). Names: [A-Za-z0-9_.-], shorter than IFNAMSIZ. At least one. */
	const char *interfaces;
	struct in_addr home_addr;    /* required: unicast */
	struct in_addr home_agent;   /* required: unicast */
	struct in_addr gateway;      /* the VPN gateway; INADDR_ANY: none (no IKE rule) */
	size_t nintranet;            /* 0..MND_FC_INTRANET_MAX */
	struct mnd_fc_prefix intranet[MND_FC_INTRANET_MAX];
};

/* The complete ruleset text for `nft -f`, NUL-terminated, into buf. Pure: no I/O.
 * Returns the length (without the NUL), -EINVAL for a bad spec (why: mnd_fc_check), or
 * -ENOSPC when buf is too small (MND_FC_RENDER_MAX always suffices); buf
 * is untouched on failure. */
int mnd_fc_render(const struct mnd_fc_spec *spec, char *buf, size_t len);

/* Validate a spec: 0, or -EINVAL with *why (if why is not NULL) set to a static reason. */
int mnd_fc_check(const struct mnd_fc_spec *spec, const char **why);

/* A libnftables context kept between calls: each call then costs the transaction only
 * (flush ~0.1 ms) instead of a new context and a fresh cache (~0.5-0.8 ms more, measured in
 * mnd on every trusted verdict). Every function below takes one; NULL makes a context for
 * that call alone. 0 or -ENOMEM. */
struct mnd_fc;
int mnd_fc_new(struct mnd_fc **out);
void mnd_fc_free(struct mnd_fc *fc);

/* Put the filter in place (or replace it), synchronously. On failure err receives one line
 * (the reason, or nftables' error message). */
int mnd_fc_apply(struct mnd_fc *fc, const struct mnd_fc_spec *spec, char *err, size_t errlen);

/* Take the filter off: the chain's rules go, the table, chain and counters stay (every
 * packet passes). 0 also when the table is not there. */
int mnd_fc_open(struct mnd_fc *fc, const char *table, char *err, size_t errlen);

/* Remove the table; 0 also when it was not there. */
int mnd_fc_remove(struct mnd_fc *fc, const char *table, char *err, size_t errlen);

/* The packets dropped so far (both counters summed). -ENOENT when the table is absent. */
int mnd_fc_dropped(struct mnd_fc *fc, const char *table, uint64_t *packets);

/* Parse the text of `nft list counters table inet NAME` (libnftables' plain output): the
 * sum of the "packets N" of every counter into *packets. -EINVAL when there is no counter
 * line or a number does not parse. Pure; the tested half of mnd_fc_dropped(). */
int mnd_fc_parse_counters(const char *text, uint64_t *packets);

#endif
