/* The fail-closed filter (failclosed.h): the ruleset, rendered without I/O, and applied,
 * removed and read through libnftables (one transaction each, synchronous). */
#include "mnd/failclosed.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "mip4/reg.h"

/* Named counters of the table (what was dropped, by rule). */
#define CNT_HOA "hoa_dropped"
#define CNT_INTRANET "intranet_dropped"
#define CHAIN "postrouting"

/* IKE (RFC 7296 2.23: 500, and 4500 after NAT detection) and ESP in UDP (RFC 3948). */
#define IKE_PORT 500
#define IKE_NATT_PORT 4500
/* DHCP client -> server (RFC 2131 4.1). */
#define DHCP_CLIENT_PORT 68
#define DHCP_SERVER_PORT 67

/* --- validation ----------------------------------------------------------------------- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* Only [A-Za-z0-9_.-]: the names are pasted into nftables' language, and none of these
 * can end a string or a statement there. */
static bool name_ok(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

static bool table_ok(const char *t)
{
	size_t len;

	if (!t)
		return false;
	len = strlen(t);
	/* nft's grammar wants a letter first (a digit would lex as a number). */
	if (len > MND_FC_NAME_MAX ||
	    !((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z')))
		return false;
	return name_ok(t, len);
}

struct ifnames {
	size_t n;
	char name[MND_FC_IFACES_MAX][IFNAMSIZ];
};

/* "wlan0, wwan0" -> names, duplicates merged. Blanks around a name are ignored (as mnd's
 * configuration does, mnd/location.c). */
static int parse_ifaces(const char *list, struct ifnames *out)
{
	const char *p = list;

	if (!list)
		return -EINVAL;
	out->n = 0;
	for (;;) {
		const char *start, *end, *comma;
		size_t len;
		bool dup = false;

		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		comma = strchr(p, ',');
		end = comma ? comma : start + strlen(start);
		p = comma ? comma + 1 : end;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		len = (size_t)(end - start);
		if (len >= IFNAMSIZ || !name_ok(start, len))
			return -EINVAL;
		for (size_t i = 0; i < out->n; i++)
			if (strlen(out->name[i]) == len && !memcmp(out->name[i], start, len))
				dup = true;
		if (!dup) {
			if (out->n >= MND_FC_IFACES_MAX)
				return -EINVAL;
			memcpy(out->name[out->n], start, len);
			out->name[out->n][len] = '\0';
			out->n++;
		}
		if (!comma)
			return 0;
	}
}

/* Unicast: not 0/8 ("this network"), not loopback, not multicast, reserved or broadcast. */
static bool unicast_ok(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	return (h >> 24) != 0 && (h >> 24) != 127 && h < 0xe0000000u;
}

static uint32_t mask_of(unsigned plen)
{
	return plen == 0 ? 0 : 0xffffffffu << (32 - plen);
}

static int check(const struct mnd_fc_spec *s, struct ifnames *ifs, const char **why)
{
	const char *w = NULL;

	if (!s)
		w = "no spec";
	else if (!table_ok(s->table))
		w = "bad table name (a letter, then [A-Za-z0-9_.-], at most 63)";
	else if (parse_ifaces(s->interfaces, ifs) < 0 || ifs->n == 0)
		w = "bad interface list (names of [A-Za-z0-9_.-], shorter than IFNAMSIZ, "
		    "at most 16)";
	else if (!unicast_ok(s->home_addr))
		w = "home address is not a unicast address";
	else if (!unicast_ok(s->home_agent))
		w = "home agent is not a unicast address";
	else if (s->gateway.s_addr != INADDR_ANY && !unicast_ok(s->gateway))
		w = "gateway is not a unicast address";
	else if (s->nintranet > MND_FC_INTRANET_MAX)
		w = "more than 16 intranet prefixes";
	for (size_t i = 0; !w && i < s->nintranet; i++) {
		if (s->intranet[i].plen > 32)
			w = "intranet prefix length above 32";
		else if (ntohl(s->intranet[i].addr.s_addr) & ~mask_of(s->intranet[i].plen))
			w = "intranet prefix with host bits set";
	}
	if (w) {
		if (why)
			*why = w;
		return -EINVAL;
	}
	return 0;
}

int mnd_fc_check(const struct mnd_fc_spec *spec, const char **why)
{
	struct ifnames ifs;

	return check(spec, &ifs, why);
}

/* --- rendering ------------------------------------------------------------------------ */

struct out {
	char *buf;
	size_t cap;
	size_t len;
	bool full;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->full = true;
		return;
	}
	o->len += (size_t)n;
}

static const char *a4(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

int mnd_fc_render(const struct mnd_fc_spec *s, char *buf, size_t len)
{
	struct ifnames ifs;
	char text[MND_FC_RENDER_MAX];
	struct out o = { .buf = text, .cap = sizeof(text) };
	char hoa[INET_ADDRSTRLEN], ha[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN], p[INET_ADDRSTRLEN];
	int rc;

	if ((rc = check(s, &ifs, NULL)) < 0)
		return rc;
	a4(s->home_addr, hoa);
	a4(s->home_agent, ha);
	a4(s->gateway, gw);

	/* One transaction of idempotent "add"s: the table, its counters and the base chain
	 * exist from the first apply until mnd_fc_remove(); re-applying flushes the chain and
	 * adds the rules, atomically (no packet sees an empty chain). The hook stays
	 * registered: unregistering a base chain waits for an RCU grace period in the kernel
	 * (1-16 ms measured here, more under load), and mnd turns the filter off on the
	 * critical path of a handover (mnd_fc_open()). */
	put(&o, "add table inet %s\n", s->table);
	put(&o, "add counter inet %s %s\n", s->table, CNT_HOA);
	put(&o, "add counter inet %s %s\n", s->table, CNT_INTRANET);
	put(&o, "add chain inet %s %s { type filter hook postrouting priority filter; "
	    "policy accept; }\n", s->table, CHAIN);
	put(&o, "flush chain inet %s %s\n", s->table, CHAIN);
	/* Only the physical interfaces; the TUN devices carry what goes into the tunnels. */
	put(&o, "add rule inet %s %s oifname != {", s->table, CHAIN);
	for (size_t i = 0; i < ifs.n; i++)
		put(&o, "%s \"%s\"", i ? "," : "", ifs.name[i]);
	put(&o, " } accept\n");
	/* First, so that no exception below lets a home-address packet out. */
	put(&o, "add rule inet %s %s ip saddr %s counter name \"%s\" drop\n", s->table, CHAIN,
	    hoa, CNT_HOA);
	/* The trust probe: a Registration Request (type, the first byte after the 8-byte UDP
	 * header, RFC 5944 3.3) to the home agent, without VPN encapsulation (RFC 5266 3.4). */
	put(&o, "add rule inet %s %s ip daddr %s udp dport %d @th,64,8 %d accept\n", s->table,
	    CHAIN, ha, MIP4_PORT, MIP4_MSG_REG_REQUEST);
	if (s->gateway.s_addr != INADDR_ANY)
		put(&o, "add rule inet %s %s ip daddr %s udp dport { %d, %d } accept\n", s->table,
		    CHAIN, gw, IKE_PORT, IKE_NATT_PORT);
	put(&o, "add rule inet %s %s udp sport %d udp dport %d accept\n", s->table, CHAIN,
	    DHCP_CLIENT_PORT, DHCP_SERVER_PORT);
	/* The home agent is inside the enterprise (RFC 5266 2, "i-HA") even when no prefix
	 * says so: IP-in-IP or RFC 3519 data to it carries home-address packets in the clear. */
	put(&o, "add rule inet %s %s ip daddr %s counter name \"%s\" drop\n", s->table, CHAIN,
	    ha, CNT_INTRANET);
	if (s->nintranet > 0) {
		put(&o, "add rule inet %s %s ip daddr {", s->table, CHAIN);
		for (size_t i = 0; i < s->nintranet; i++)
			put(&o, "%s %s/%u", i ? "," : "", a4(s->intranet[i].addr, p),
			    s->intranet[i].plen);
		put(&o, " } counter name \"%s\" drop\n", CNT_INTRANET);
	}
	/* Rendered aside first: buf stays untouched on failure. */
	if (o.full || !buf || o.len >= len)
		return -ENOSPC;
	memcpy(buf, text, o.len + 1);
	return (int)o.len;
}

/* --- counters ------------------------------------------------------------------------- */

int mnd_fc_parse_counters(const char *text, uint64_t *packets)
{
	const char *p = text;
	uint64_t sum = 0;
	unsigned found = 0;

	if (!text || !packets)
		return -EINVAL;
	while (*p) {
		const char *eol = strchr(p, '\n');
		const char *q = p;

		if (!eol)
			eol = p + strlen(p);
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		/* "packets N bytes M", the body of a named counter. */
		if ((size_t)(eol - q) > 8 && !strncmp(q, "packets ", 8)) {
			char *end;
			unsigned long long v;

			q += 8;
			if (*q < '0' || *q > '9')
				return -EINVAL;
			errno = 0;
			v = strtoull(q, &end, 10);
			if (errno || end > eol || strncmp(end, " bytes ", 7) ||
			    v > UINT64_MAX - sum)
				return -EINVAL;
			sum += v;
			found++;
		}
		p = *eol ? eol + 1 : eol;
	}
	if (!found)
		return -EINVAL;
	*packets = sum;
	return 0;
}

/* --- libnftables ---------------------------------------------------------------------- */

/* nftables' error text (several lines: message, the input line, carets; often one such
 * block per later line too) as one line: the first line that says "Error". */
static void error_line(const char *text, char *err, size_t errlen)
{
	const char *p = text ? text : "";

	if (!err || errlen == 0)
		return;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (memmem(p, n, "Error", 5)) {
			snprintf(err, errlen, "%.*s", (int)n, p);
			return;
		}
		p += n;
		if (*p)
			p++;
	}
	snprintf(err, errlen, "nftables failed");
}

struct mnd_fc {
	struct nft_ctx *ctx;
};

static struct nft_ctx *ctx_new(void)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

	if (ctx && (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0)) {
		nft_ctx_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

int mnd_fc_new(struct mnd_fc **out)
{
	struct mnd_fc *fc;

	if (!out)
		return -EINVAL;
	fc = calloc(1, sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	fc->ctx = ctx_new();
	if (!fc->ctx) {
		free(fc);
		return -ENOMEM;
	}
	*out = fc;
	return 0;
}

void mnd_fc_free(struct mnd_fc *fc)
{
	if (!fc)
		return;
	nft_ctx_free(fc->ctx);
	free(fc);
}

/* Run cmds as one transaction, on fc's context (or one of its own). Plain output (if out)
 * is copied into a malloc'ed string. */
static int nft_run(struct mnd_fc *fc, const char *cmds, char **out, char *err, size_t errlen)
{
	struct nft_ctx *ctx = fc ? fc->ctx : ctx_new();
	const char *e, *o;
	int rc = 0;

	if (!ctx) {
		if (err && errlen)
			snprintf(err, errlen, "nft_ctx_new failed");
		return -ENOMEM;
	}
	if (nft_run_cmd_from_buffer(ctx, cmds) != 0) {
		e = nft_ctx_get_error_buffer(ctx);
		error_line(e, err, errlen);
		/* libnftables says why only in text; the two cases callers tell apart. */
		if (e && strstr(e, "No such file or directory"))
			rc = -ENOENT;
		else if (e && strstr(e, "Operation not permitted"))
			rc = -EPERM;
		else
			rc = -EIO;
	}
	/* Reading a buffer empties it: nothing carries over to the next command. */
	(void)nft_ctx_get_error_buffer(ctx);
	o = nft_ctx_get_output_buffer(ctx);
	if (rc == 0 && out) {
		*out = strdup(o ? o : "");
		if (!*out)
			rc = -ENOMEM;
	}
	if (!fc)
		nft_ctx_free(ctx);
	return rc;
}

int mnd_fc_apply(struct mnd_fc *fc, const struct mnd_fc_spec *spec, char *err, size_t errlen)
{
	char text[MND_FC_RENDER_MAX];
	const char *why = "?";
	int rc;

	if ((rc = mnd_fc_check(spec, &why)) < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s", why);
		return rc;
	}
	if ((rc = mnd_fc_render(spec, text, sizeof(text))) < 0) {
		if (err && errlen)
			snprintf(err, errlen, "ruleset too long");
		return rc;
	}
	return nft_run(fc, text, NULL, err, errlen);
}

int mnd_fc_open(struct mnd_fc *fc, const char *table, char *err, size_t errlen)
{
	char cmds[2 * MND_FC_NAME_MAX + 64];
	int rc;

	if (!table_ok(table)) {
		if (err && errlen)
			snprintf(err, errlen, "bad table name");
		return -EINVAL;
	}
	/* Rules only: the chain and its hook stay (see mnd_fc_render()). */
	snprintf(cmds, sizeof(cmds), "flush chain inet %s %s\n", table, CHAIN);
	rc = nft_run(fc, cmds, NULL, err, errlen);
	return rc == -ENOENT ? 0 : rc;
}

int mnd_fc_remove(struct mnd_fc *fc, const char *table, char *err, size_t errlen)
{
	char cmds[2 * MND_FC_NAME_MAX + 64];

	if (!table_ok(table)) {
		if (err && errlen)
			snprintf(err, errlen, "bad table name");
		return -EINVAL;
	}
	/* "add" first: removing a filter that is not there is not an error. */
	snprintf(cmds, sizeof(cmds), "add table inet %s\ndelete table inet %s\n", table, table);
	return nft_run(fc, cmds, NULL, err, errlen);
}

int mnd_fc_dropped(struct mnd_fc *fc, const char *table, uint64_t *packets)
{
	char cmd[MND_FC_NAME_MAX + 64];
	char *out = NULL;
	int rc;

	if (!table_ok(table) || !packets)
		return -EINVAL;
	snprintf(cmd, sizeof(cmd), "list counters table inet %s", table);
	if ((rc = nft_run(fc, cmd, &out, NULL, 0)) < 0)
		return rc;
	rc = mnd_fc_parse_counters(out, packets);
	free(out);
	return rc;
}
