/* The foreign agent's data path and its kernel state. See fa_datapath.h. */
#include "ha/fa_datapath.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/fib_rules.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <glib.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/netlink.h"
#include "common/ratelimit.h"
#include "common/sock.h"
#include "daemon/droplog.h"
#include "mip4/agent.h"
#include "mip4/tunnel.h"

/* Packets read per wake-up, so that the other sources get their turn. */
#define FA_DP_BATCH 64
#define FA_DP_BUFSIZE (MIP4_IPV4_MAX + 1)

struct installed {
	struct in_addr hoa;
	bool rule;                     /* the reverse-tunnel rule is in place */
};

struct fa_datapath {
	struct fa_dp_config cfg;
	const struct fa_engine *engine;
	struct logger log;
	struct ratelimit drop_rl;
	struct fa_dp_stats st;
	GArray *installed;             /* struct installed */
	bool table_route;              /* "default dev TUN" installed in cfg.table */
	uint16_t ip_id;
	uint8_t *buf;                  /* FA_DP_BUFSIZE + outer header room */
};

#define drop_log(dp, ...) droplog(&(dp)->drop_rl, &(dp)->st.log_suppressed, &(dp)->log, \
				  clock_now(clock_monotonic()), "", __VA_ARGS__)

/* --- rtnetlink: neighbours and rules ------------------------------------------------- */

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static int nl_send(int fd, const void *msg, size_t len)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t n = sendto(fd, msg, len, 0, (struct sockaddr *)&kernel, sizeof(kernel));

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* The next netlink message of r: its header, and its payload as *body. */
static bool next_msg(struct reader *r, struct nlmsghdr *h, struct reader *body)
{
	size_t pad;

	if (!reader_copy(r, h, sizeof(*h)) || h->nlmsg_len < sizeof(*h) ||
	    !reader_sub(r, h->nlmsg_len - sizeof(*h), body))
		return false;
	pad = NLMSG_ALIGN(h->nlmsg_len) - h->nlmsg_len;
	reader_skip(r, pad < reader_remaining(r) ? pad : reader_remaining(r));
	return true;
}

/* Read answers to seq until its ACK/error (want_dump false) or NLMSG_DONE (dump): each
 * other message of that sequence goes to fn. */
static int nl_collect(int fd, uint32_t seq, bool dump,
		      void (*fn)(void *user, const struct nlmsghdr *h, struct reader *body,
				 const uint8_t *whole, size_t whole_len), void *user)
{
	union {
		struct nlmsghdr align;
		uint8_t b[32768];
	} buf;

	for (;;) {
		ssize_t n;
		struct reader r, body;
		struct nlmsghdr h;

		do {
			n = recv(fd, buf.b, sizeof(buf.b), 0);
		} while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		reader_init(&r, buf.b, (size_t)n);
		while (reader_remaining(&r) > 0) {
			size_t start = reader_offset(&r);
			const uint8_t *whole;
			int32_t err;

			if (!next_msg(&r, &h, &body))
				return -EIO;
			if (h.nlmsg_seq != seq)
				continue;
			if (h.nlmsg_type == NLMSG_DONE)
				return 0;
			if (h.nlmsg_type == NLMSG_ERROR) {
				if (!reader_copy(&body, &err, sizeof(err)))
					return -EIO;
				if (err || !dump)
					return err;
				continue;
			}
			if (fn) {
				struct reader all;

				reader_init(&all, buf.b, (size_t)n);
				if (reader_skip(&all, start) &&
				    reader_view(&all, h.nlmsg_len, &whole))
					fn(user, &h, &body, whole, h.nlmsg_len);
			}
		}
	}
}

/* A request being built: header, fixed part, attributes (host byte order). */
struct nlb {
	union {
		struct nlmsghdr align;
		uint8_t b[256];
	} u;
	struct writer w;
};

static uint32_t nl_seq;

static void nlb_start(struct nlb *m, uint16_t type, uint16_t flags, const void *fixed,
		      size_t fixed_len)
{
	struct nlmsghdr h;

	memset(&h, 0, sizeof(h));
	h.nlmsg_type = type;
	h.nlmsg_flags = flags;
	h.nlmsg_seq = ++nl_seq;
	writer_init(&m->w, m->u.b, sizeof(m->u.b));
	writer_bytes(&m->w, &h, sizeof(h));
	writer_bytes(&m->w, fixed, fixed_len);
	writer_zeros(&m->w, NLMSG_ALIGN(fixed_len) - fixed_len);
}

static void nlb_attr(struct nlb *m, uint16_t type, const void *data, size_t len)
{
	struct rtattr a = { .rta_len = (unsigned short)RTA_LENGTH(len), .rta_type = type };

	writer_bytes(&m->w, &a, sizeof(a));
	writer_bytes(&m->w, data, len);
	writer_zeros(&m->w, RTA_ALIGN(len) - len);
}

static int nlb_finish(struct nlb *m, uint32_t *seq)
{
	uint32_t len = (uint32_t)writer_len(&m->w);

	if (!writer_ok(&m->w))
		return -ENOSPC;
	writer_patch_bytes(&m->w, 0, &len, sizeof(len));
	*seq = nl_seq;
	return 0;
}

/* Send m and wait for its ACK. */
static int nl_do(struct nlb *m)
{
	uint32_t seq;
	int fd, rc;

	if ((rc = nlb_finish(m, &seq)) < 0)
		return rc;
	fd = nl_open();
	if (fd < 0)
		return fd;
	rc = nl_send(fd, m->u.b, writer_len(&m->w));
	if (rc == 0)
		rc = nl_collect(fd, seq, false, NULL, NULL);
	close(fd);
	return rc;
}

/* "ip neigh replace HOA lladdr MAC dev IF nud permanent" / "ip neigh del HOA dev IF". */
static int neigh_permanent(bool add, int ifindex, struct in_addr a,
			   const uint8_t mac[FA_LLADDR_LEN])
{
	struct ndmsg nd;
	struct nlb m;

	memset(&nd, 0, sizeof(nd));
	nd.ndm_family = AF_INET;
	nd.ndm_ifindex = ifindex;
	nd.ndm_state = NUD_PERMANENT;
	nlb_start(&m, add ? RTM_NEWNEIGH : RTM_DELNEIGH, add ? NLM_F_REQUEST | NLM_F_ACK |
		  NLM_F_CREATE | NLM_F_REPLACE : NLM_F_REQUEST | NLM_F_ACK, &nd, sizeof(nd));
	nlb_attr(&m, NDA_DST, &a, sizeof(a));
	if (add)
		nlb_attr(&m, NDA_LLADDR, mac, FA_LLADDR_LEN);
	return nl_do(&m);
}

/* "ip rule add/del from HOA/32 iif IF lookup TABLE priority FA_RULE_PRIORITY". */
static int rule(bool add, struct in_addr src, const char *iif, unsigned table)
{
	struct fib_rule_hdr frh;
	uint32_t prio = FA_RULE_PRIORITY, tb = table;
	struct nlb m;

	memset(&frh, 0, sizeof(frh));
	frh.family = AF_INET;
	frh.src_len = 32;
	frh.table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	frh.action = FR_ACT_TO_TBL;
	nlb_start(&m, add ? RTM_NEWRULE : RTM_DELRULE, add ? NLM_F_REQUEST | NLM_F_ACK |
		  NLM_F_CREATE | NLM_F_EXCL : NLM_F_REQUEST | NLM_F_ACK, &frh, sizeof(frh));
	nlb_attr(&m, FRA_SRC, &src, sizeof(src));
	nlb_attr(&m, FRA_IIFNAME, iif, strlen(iif) + 1);
	nlb_attr(&m, FRA_PRIORITY, &prio, sizeof(prio));
	nlb_attr(&m, FRA_TABLE, &tb, sizeof(tb));
	return nl_do(&m);
}

struct sweep_ctx {
	unsigned table;
	GPtrArray *found;              /* GBytes: whole RTM_NEWRULE messages */
};

static void sweep_one(void *user, const struct nlmsghdr *h, struct reader *body,
		      const uint8_t *whole, size_t whole_len)
{
	struct sweep_ctx *sc = user;
	struct fib_rule_hdr frh;
	uint32_t table;

	if (h->nlmsg_type != RTM_NEWRULE || !reader_copy(body, &frh, sizeof(frh)) ||
	    frh.family != AF_INET)
		return;
	table = frh.table;
	reader_skip(body, NLMSG_ALIGN(sizeof(frh)) - sizeof(frh));
	while (reader_remaining(body) >= sizeof(struct rtattr)) {
		struct rtattr a;
		struct reader val;
		size_t pad;

		if (!reader_copy(body, &a, sizeof(a)) || a.rta_len < sizeof(a) ||
		    !reader_sub(body, a.rta_len - sizeof(a), &val))
			return;
		pad = RTA_ALIGN(a.rta_len) - a.rta_len;
		reader_skip(body, pad < reader_remaining(body) ? pad : reader_remaining(body));
		if (a.rta_type == FRA_TABLE && reader_remaining(&val) == 4)
			reader_copy(&val, &table, sizeof(table));
	}
	if (table == sc->table)
		g_ptr_array_add(sc->found, g_bytes_new(whole, whole_len));
}

/* Delete every IPv4 rule that points at table (left by an instance that was killed).
 * Returns how many, or -errno. */
static int rules_sweep(unsigned table)
{
	struct sweep_ctx sc = { .table = table, .found = g_ptr_array_new_with_free_func(
					(GDestroyNotify)g_bytes_unref) };
	struct fib_rule_hdr frh;
	struct nlb m;
	uint32_t seq = 0;
	int fd, rc, n = 0;

	memset(&frh, 0, sizeof(frh));
	frh.family = AF_INET;
	nlb_start(&m, RTM_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, &frh, sizeof(frh));
	if ((rc = nlb_finish(&m, &seq)) < 0) {
		g_ptr_array_free(sc.found, TRUE);
		return rc;
	}
	fd = nl_open();
	if (fd < 0) {
		g_ptr_array_free(sc.found, TRUE);
		return fd;
	}
	rc = nl_send(fd, m.u.b, writer_len(&m.w));
	if (rc == 0)
		rc = nl_collect(fd, seq, true, sweep_one, &sc);
	for (guint i = 0; rc == 0 && i < sc.found->len; i++) {
		gsize len;
		const uint8_t *msg = g_bytes_get_data(sc.found->pdata[i], &len);
		struct nlmsghdr h;
		struct writer w;
		uint8_t copy[1024];

		if (len > sizeof(copy) || len < sizeof(h))
			continue;
		memcpy(copy, msg, len);
		memcpy(&h, copy, sizeof(h));
		h.nlmsg_type = RTM_DELRULE;
		h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
		h.nlmsg_seq = ++nl_seq;
		writer_init_filled(&w, copy, sizeof(copy), len);
		writer_patch_bytes(&w, 0, &h, sizeof(h));
		if (nl_send(fd, copy, len) == 0 && nl_collect(fd, h.nlmsg_seq, false, NULL,
							    NULL) == 0)
			n++;
	}
	close(fd);
	g_ptr_array_free(sc.found, TRUE);
	return rc < 0 ? rc : n;
}

/* --- visitors' kernel state ------------------------------------------------------------ */

static struct installed *find_installed(struct fa_datapath *dp, struct in_addr hoa,
					guint *index)
{
	for (guint i = 0; i < dp->installed->len; i++) {
		struct installed *in = &g_array_index(dp->installed, struct installed, i);

		if (in->hoa.s_addr == hoa.s_addr) {
			if (index)
				*index = i;
			return in;
		}
	}
	return NULL;
}

int fa_datapath_visitor_set(struct fa_datapath *dp, const struct fa_visitor *v)
{
	struct installed *in = find_installed(dp, v->home_addr, NULL);
	struct in_addr any = { 0 };
	char a[ADDR4_STRLEN];
	int rc;

	addr4_str(v->home_addr, a);
	/* §4.2.2: the link-layer address from the request; never ARP for it. Replacing it
	 * also covers a mobile node that came back with another interface. */
	rc = neigh_permanent(true, dp->cfg.ifindex, v->home_addr, v->lladdr);
	if (rc < 0) {
		LOG_ERROR(&dp->log, "visitor %s: cannot add the neighbour entry on %s: %s", a,
			  dp->cfg.interface, strerror(-rc));
		return rc;
	}
	if (!in) {
		struct installed n = { .hoa = v->home_addr };

		rc = nl_route4_add(v->home_addr, 32, any, dp->cfg.ifindex, 0, 0);
		if (rc < 0 && rc != -EEXIST) {
			LOG_ERROR(&dp->log, "visitor %s: cannot add the route %s/32 dev %s: %s", a,
				  a, dp->cfg.interface, strerror(-rc));
			neigh_permanent(false, dp->cfg.ifindex, v->home_addr, NULL);
			return rc;
		}
		g_array_append_val(dp->installed, n);
		in = find_installed(dp, v->home_addr, NULL);
	}
	if (v->reverse_tunnel && !in->rule) {
		rc = rule(true, v->home_addr, dp->cfg.interface, dp->cfg.table);
		if (rc < 0 && rc != -EEXIST) {
			LOG_ERROR(&dp->log, "visitor %s: cannot add the rule from %s iif %s lookup "
				  "%u: %s", a, a, dp->cfg.interface, dp->cfg.table, strerror(-rc));
			return rc;
		}
		in->rule = true;
	} else if (!v->reverse_tunnel && in->rule) {
		rule(false, v->home_addr, dp->cfg.interface, dp->cfg.table);
		in->rule = false;
	}
	LOG_INFO(&dp->log, "visitor %s: neighbour entry, route%s on %s", a,
		 in->rule ? " and reverse-tunnel rule" : "", dp->cfg.interface);
	return 0;
}

static void remove_installed(struct fa_datapath *dp, const struct installed *in)
{
	struct in_addr any = { 0 };
	char a[ADDR4_STRLEN];
	int rc;

	addr4_str(in->hoa, a);
	if (in->rule && (rc = rule(false, in->hoa, dp->cfg.interface, dp->cfg.table)) < 0 &&
	    rc != -ENOENT)
		LOG_WARNING(&dp->log, "visitor %s: cannot remove its rule: %s", a, strerror(-rc));
	rc = nl_route4_del(in->hoa, 32, any, dp->cfg.ifindex, 0, 0);
	if (rc < 0 && rc != -ESRCH && rc != -ENOENT)
		LOG_WARNING(&dp->log, "visitor %s: cannot remove its route: %s", a, strerror(-rc));
	rc = neigh_permanent(false, dp->cfg.ifindex, in->hoa, NULL);
	if (rc < 0 && rc != -ENOENT)
		LOG_WARNING(&dp->log, "visitor %s: cannot remove its neighbour entry: %s", a,
			    strerror(-rc));
}

int fa_datapath_visitor_del(struct fa_datapath *dp, struct in_addr hoa)
{
	guint i;
	struct installed *in = find_installed(dp, hoa, &i);
	char a[ADDR4_STRLEN];

	if (!in)
		return -ENOENT;
	remove_installed(dp, in);
	LOG_INFO(&dp->log, "visitor %s: neighbour entry, route and rule removed", addr4_str(hoa, a));
	g_array_remove_index_fast(dp->installed, i);
	return 0;
}

unsigned fa_datapath_installed(const struct fa_datapath *dp)
{
	return dp->installed->len;
}

/* --- setup ------------------------------------------------------------------------------ */

int fa_datapath_new(const struct fa_dp_config *cfg, const struct fa_engine *engine,
		    struct fa_datapath **out)
{
	struct fa_datapath *dp;
	struct in_addr any = { 0 };
	int rc;

	if (!cfg || !engine || !out || cfg->ifindex <= 0 || cfg->tun_ifindex <= 0 ||
	    cfg->tun_fd < 0 || cfg->raw_fd < 0)
		return -EINVAL;
	dp = g_new0(struct fa_datapath, 1);
	dp->cfg = *cfg;
	dp->engine = engine;
	logger_init(&dp->log, "ha[fa datapath]");
	ratelimit_init(&dp->drop_rl);
	dp->installed = g_array_new(FALSE, FALSE, sizeof(struct installed));
	dp->buf = g_malloc(FA_DP_BUFSIZE + MIP4_IPIP_OVERHEAD);
	rc = rules_sweep(cfg->table);
	if (rc > 0)
		LOG_NOTICE(&dp->log, "removed %d rule(s) to table %u left by an earlier instance",
			   rc, cfg->table);
	/* A killed instance's route went with its TUN device; anything else in the table is
	 * someone else's: refused (EEXIST) rather than overwritten. */
	rc = nl_route4_add(any, 0, any, cfg->tun_ifindex, (int)cfg->table, 0);
	if (rc < 0) {
		LOG_ERROR(&dp->log, "cannot add \"default dev <tunnel-device>\" to table %u: %s%s",
			  cfg->table, strerror(-rc), rc == -EEXIST ? " (the table is in use: set "
			  "[foreign-agent] routing-table)" : "");
		fa_datapath_free(dp);
		return rc;
	}
	dp->table_route = true;
	*out = dp;
	return 0;
}

void fa_datapath_free(struct fa_datapath *dp)
{
	struct in_addr any = { 0 };

	if (!dp)
		return;
	for (guint i = 0; i < dp->installed->len; i++)
		remove_installed(dp, &g_array_index(dp->installed, struct installed, i));
	if (dp->table_route)
		nl_route4_del(any, 0, any, dp->cfg.tun_ifindex, (int)dp->cfg.table, 0);
	g_array_free(dp->installed, TRUE);
	g_free(dp->buf);
	g_free(dp);
}

const struct fa_dp_stats *fa_datapath_stats(const struct fa_datapath *dp)
{
	return &dp->st;
}

/* --- packets ---------------------------------------------------------------------------- */

/* One IP-in-IP packet from the raw socket (RFC 5944 §4.2.2). */
static void deliver(struct fa_datapath *dp, const uint8_t *pkt, size_t len)
{
	struct mip4_ipip_info info;
	const struct fa_visitor *v;
	const uint8_t *inner;
	struct reader r;
	char s[ADDR4_STRLEN], d[ADDR4_STRLEN];
	ssize_t n;
	int rc = mip4_ipip_decap(pkt, len, &info);

	if (rc < 0) {
		dp->st.deliver_malformed++;
		drop_log(dp, "dropped IP-in-IP packet: %s", strerror(-rc));
		return;
	}
	if (info.outer_dst.s_addr != dp->cfg.coa.s_addr) {
		/* Another local address (a home agent in this process has its own socket). */
		dp->st.deliver_not_for_us++;
		return;
	}
	v = fa_engine_visitor(dp->engine, info.inner.dst);
	if (!v) {
		/* §4.2.2: MUST NOT forward it unchanged, SHOULD silently discard, no ICMP. */
		dp->st.deliver_no_visitor++;
		drop_log(dp, "dropped tunnelled packet for %s from %s: not a visitor",
			 addr4_str(info.inner.dst, d), addr4_str(info.outer_src, s));
		return;
	}
	if (info.outer_src.s_addr != v->home_agent.s_addr) {
		dp->st.deliver_wrong_ha++;
		drop_log(dp, "dropped tunnelled packet for visitor %s: tunnel source %s is not "
			 "its home agent", addr4_str(info.inner.dst, d),
			 addr4_str(info.outer_src, s));
		return;
	}
	reader_init(&r, pkt, len);
	if (!reader_skip(&r, info.inner.off) || !reader_view(&r, info.inner.len, &inner))
		return;
	n = write(dp->cfg.tun_fd, inner, info.inner.len);
	if (n < 0) {
		dp->st.deliver_errors++;
		drop_log(dp, "cannot hand a packet for %s to the kernel: %s",
			 addr4_str(info.inner.dst, d), strerror(errno));
		return;
	}
	dp->st.delivered_packets++;
	dp->st.delivered_bytes += info.inner.len;
}

void fa_datapath_raw_readable(struct fa_datapath *dp)
{
	for (int i = 0; i < FA_DP_BATCH; i++) {
		ssize_t n = sock_recv4(dp->cfg.raw_fd, dp->buf, FA_DP_BUFSIZE, NULL);

		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n < 0) {
			if (n != -EMSGSIZE)
				drop_log(dp, "receiving IP-in-IP: %s", strerror((int)-n));
			continue;
		}
		deliver(dp, dp->buf, (size_t)n);
	}
}

/* One packet the kernel routed into the TUN by a visitor's rule (RFC 3024 §4.2.2), read
 * MIP4_IPIP_OVERHEAD bytes into dp->buf: the outer header goes in front, no copy. */
static void reverse(struct fa_datapath *dp, size_t len)
{
	struct mip4_ipv4_info ip;
	const struct fa_visitor *v;
	const uint8_t *inner;
	struct sockaddr_in to;
	struct reader r;
	struct writer w;
	char s[ADDR4_STRLEN];
	ssize_t n;
	int rc;

	reader_init(&r, dp->buf, MIP4_IPIP_OVERHEAD + len);
	if (!reader_skip(&r, MIP4_IPIP_OVERHEAD) || !reader_view(&r, len, &inner))
		return;
	rc = mip4_ipv4_parse(inner, len, &ip);
	if (rc < 0) {
		dp->st.reverse_rejected++;
		drop_log(dp, "dropped a packet from the tunnel device: %s", strerror(-rc));
		return;
	}
	v = fa_engine_visitor(dp->engine, ip.src);
	if (!v || !v->reverse_tunnel) {
		dp->st.reverse_rejected++;
		drop_log(dp, "dropped a packet from %s in the tunnel device: %s",
			 addr4_str(ip.src, s), v ? "reverse tunnelling not granted"
			 : "not a visitor");
		return;
	}
	writer_init(&w, dp->buf, MIP4_IPIP_OVERHEAD);
	rc = mip4_ipip_encap_hdr(&w, dp->cfg.coa, v->home_agent, dp->ip_id++, inner, len);
	if (rc < 0) {
		dp->st.reverse_rejected++;
		drop_log(dp, "cannot encapsulate a packet from %s: %s", addr4_str(ip.src, s),
			 strerror(-rc));
		return;
	}
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr = v->home_agent;
	n = sendto(dp->cfg.raw_fd, dp->buf, MIP4_IPIP_OVERHEAD + len, 0,
		   (struct sockaddr *)&to, sizeof(to));
	if (n < 0) {
		dp->st.reverse_errors++;
		drop_log(dp, "cannot send a reverse-tunnelled packet to %s: %s",
			 addr4_str(v->home_agent, s), strerror(errno));
		return;
	}
	dp->st.reverse_packets++;
	dp->st.reverse_bytes += len;
}

void fa_datapath_tun_readable(struct fa_datapath *dp)
{
	for (int i = 0; i < FA_DP_BATCH; i++) {
		struct writer w;
		uint8_t *room;
		ssize_t n;

		/* Read behind the room for the outer header (no copy when encapsulating). */
		writer_init(&w, dp->buf, FA_DP_BUFSIZE + MIP4_IPIP_OVERHEAD);
		writer_zeros(&w, MIP4_IPIP_OVERHEAD + 1);
		if (!writer_view(&w, MIP4_IPIP_OVERHEAD, 1, &room))
			return;
		n = read(dp->cfg.tun_fd, room, FA_DP_BUFSIZE);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				drop_log(dp, "reading the tunnel device: %s", strerror(errno));
			return;
		}
		reverse(dp, (size_t)n);
	}
}

/* --- IPv4/UDP for the visited link ----------------------------------------------------- */

int fa_udp4_peek(const void *pkt, size_t len, struct fa_udp4_info *out)
{
	struct reader r, ip;
	uint8_t vihl, ttl, proto;
	uint16_t tot, frag, sport, dport, ulen;
	struct in_addr src, dst;
	size_t hlen;

	reader_init(&r, pkt, len);
	if (!reader_peek_u8(&r, &vihl) || (vihl >> 4) != 4 || (vihl & 0xf) < 5)
		return -EBADMSG;
	hlen = (size_t)(vihl & 0xf) * 4;
	if (len < hlen || mip4_inet_checksum(pkt, hlen) != 0)
		return -EBADMSG;
	if (!reader_skip(&r, 2) || !reader_be16(&r, &tot) || tot < hlen || tot > len ||
	    !reader_skip(&r, 2) || !reader_be16(&r, &frag) || !reader_u8(&r, &ttl) ||
	    !reader_u8(&r, &proto) || !reader_skip(&r, 2) ||
	    !reader_copy(&r, &src, 4) || !reader_copy(&r, &dst, 4))
		return -EBADMSG;
	if (proto != IPPROTO_UDP || (frag & 0x3fff) != 0)
		return -ENOMSG;
	reader_init(&ip, pkt, tot);
	if (!reader_skip(&ip, hlen) || !reader_be16(&ip, &sport) || !reader_be16(&ip, &dport) ||
	    !reader_be16(&ip, &ulen) || ulen < 8 || ulen > tot - hlen)
		return -EBADMSG;
	out->src = src;
	out->dst = dst;
	out->sport = sport;
	out->dport = dport;
	out->ttl = ttl;
	out->payload_off = hlen + 8;
	out->payload_len = (size_t)ulen - 8;
	return 0;
}

/* Ones' complement sum (RFC 1071) of r's remaining bytes added to sum, not folded. */
static uint32_t sum16(uint32_t sum, struct reader *r)
{
	uint16_t w;
	uint8_t b;

	while (reader_remaining(r) >= 2 && reader_be16(r, &w))
		sum += w;
	if (reader_remaining(r) == 1 && reader_u8(r, &b))
		sum += (uint32_t)b << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int fa_udp4_build(struct writer *w, struct in_addr src, struct in_addr dst, uint16_t sport,
		  uint16_t dport, uint8_t ttl, uint16_t ip_id, const void *payload, size_t len)
{
	size_t start = writer_len(w), tot = 20 + 8 + len;
	uint8_t pseudo[12];
	struct writer pw;
	struct reader r;
	uint32_t sum;
	uint16_t c;
	uint8_t *hdr;

	if (!w || (!payload && len) || tot > 0xffff || ttl == 0)
		return -EINVAL;
	if (writer_room(w) < tot)
		return -ENOSPC;
	writer_u8(w, 0x45);
	writer_u8(w, 0);
	writer_be16(w, (uint16_t)tot);
	writer_be16(w, ip_id);
	writer_be16(w, 0);
	writer_u8(w, ttl);
	writer_u8(w, IPPROTO_UDP);
	writer_be16(w, 0);                          /* header checksum, below */
	writer_bytes(w, &src, 4);
	writer_bytes(w, &dst, 4);
	writer_be16(w, sport);
	writer_be16(w, dport);
	writer_be16(w, (uint16_t)(8 + len));
	writer_be16(w, 0);                          /* UDP checksum, below */
	writer_bytes(w, payload, len);
	if (!writer_ok(w) || !writer_view(w, start, 20, &hdr))
		return -ENOSPC;
	writer_patch_be16(w, start + 10, mip4_inet_checksum(hdr, 20));
	/* RFC 768: pseudo header (source, destination, zero, protocol, UDP length). */
	writer_init(&pw, pseudo, sizeof(pseudo));
	writer_bytes(&pw, &src, 4);
	writer_bytes(&pw, &dst, 4);
	writer_u8(&pw, 0);
	writer_u8(&pw, IPPROTO_UDP);
	writer_be16(&pw, (uint16_t)(8 + len));
	reader_init(&r, pseudo, sizeof(pseudo));
	sum = sum16(0, &r);
	writer_as_reader(w, &r);
	reader_skip(&r, start + 20);
	sum = sum16(sum, &r);
	c = fold(sum);
	writer_patch_be16(w, start + 26, c ? c : 0xffff);   /* 0 means "none" (RFC 768) */
	return (int)tot;
}
