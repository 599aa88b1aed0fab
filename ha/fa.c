/* ha as a foreign agent: sockets, timers, and carrying out the engine's actions. See fa.h. */
#include "ha/fa.h"

#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/ip.h>

#include <glib.h>
#include <glib-unix.h>
#include <openssl/crypto.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/netlink.h"
#include "common/ratelimit.h"
#include "common/sock.h"
#include "common/tun.h"
#include "daemon/droplog.h"
#include "daemon/secret.h"
#include "ha/fa_adv.h"
#include "ha/keys.h"
#include "ha/sysctl.h"
#include "mip4/agent.h"
#include "mip4/tunnel.h"

#define FA_ALL_SYSTEMS "224.0.0.1"    /* RFC 1256 §5.1 AdvertisementAddress */
#define FA_ALL_ROUTERS "224.0.0.2"    /* RFC 1256 §5.2 SolicitationAddress */
#define FA_MOBILE_AGENTS "224.0.0.11" /* RFC 5944 §2.3 */
#define FA_RX_BATCH 64                /* datagrams per wake-up */
#define FA_RX_BUF 2048                /* registration messages and ICMP we care about */
#define FA_LL_CACHE 64                /* link-layer sources of recent requests */
#define FA_LL_MAX_AGE MM_SEC(2)
#define FA_TO_MN_TTL 255              /* messages to mobile nodes stay on the link */
#define FA_FHA_MAX 256                /* FA-HA keys */

struct ll_entry {
	struct in_addr src;
	uint16_t sport;
	uint8_t ttl;
	uint8_t mac[FA_LLADDR_LEN];
	mm_time_ns at;
	bool used;
};

struct fha_key {
	struct in_addr ha;
	struct mip4_key key;
};

struct fa {
	struct fa_conf conf;
	char path[256];
	struct logger log;
	struct ratelimit drop_rl;
	struct fa_adv_stats st;
	int ifindex;
	struct in_addr link_addr;
	unsigned link_plen;
	uint8_t link_mac[FA_LLADDR_LEN];
	struct fa_engine *engine;
	struct fa_datapath *dp;
	struct fa_adv adv;
	struct ha_keys *mn_keys;
	struct fha_key *fha;
	size_t nfha;
	const char *fha_path;          /* while loading */
	int icmp_fd, udp_fd, pkt_fd, raw_fd, tun_fd, tun_ifindex;
	guint src_icmp, src_udp, src_pkt, src_raw, src_tun, adv_timer, engine_timer;
	struct ll_entry ll[FA_LL_CACHE];
	unsigned ll_next;
	uint16_t ip_id;
	struct fa_actions actions;
	struct mip4_agent_adv other;   /* another agent's advertisement, being checked */
	uint8_t buf[FA_RX_BUF];
	uint8_t out[FA_MSG_MAX + 64];
};

#define drop_log(fa, ...) droplog(&(fa)->drop_rl, &(fa)->st.log_suppressed, &(fa)->log, \
				  clock_now(clock_monotonic()), "", __VA_ARGS__)

static void arm_adv(struct fa *fa);
static void arm_engine(struct fa *fa);

/* --- keys ------------------------------------------------------------------------------- */

static int fha_add(void *user, struct in_addr ha, uint32_t spi, const uint8_t *key,
		   size_t key_len, unsigned line)
{
	struct fa *fa = user;

	(void)line;
	for (size_t i = 0; i < fa->nfha; i++)
		if (fa->fha[i].ha.s_addr == ha.s_addr) {
			char a[ADDR4_STRLEN];

			LOG_ERROR(&fa->log, "%s:%u: a second key for home agent %s (one per home "
				  "agent)", fa->fha_path, line, addr4_str(ha, a));
			return -EINVAL;
		}
	if (fa->nfha >= FA_FHA_MAX) {
		LOG_ERROR(&fa->log, "%s:%u: more than %d home agents", fa->fha_path,
			  line, FA_FHA_MAX);
		return -EINVAL;
	}
	fa->fha[fa->nfha].ha = ha;
	if (mip4_key_set(&fa->fha[fa->nfha].key, spi, key, key_len) < 0)
		return -EINVAL;
	fa->nfha++;
	return 0;
}

static int fha_lookup(void *ctx, struct in_addr ha, struct mip4_key *out)
{
	struct fa *fa = ctx;

	for (size_t i = 0; i < fa->nfha; i++)
		if (fa->fha[i].ha.s_addr == ha.s_addr) {
			*out = fa->fha[i].key;
			return 0;
		}
	return -ENOENT;
}

/* --- sending ---------------------------------------------------------------------------- */

/* To a mobile node on the visited link: IPv4/UDP built here, straight to its link-layer
 * address (RFC 5944 §4.2.2: no ARP). */
static int send_to_mn(struct fa *fa, const struct fa_send *s)
{
	struct sockaddr_ll ll;
	struct writer w;
	int n;

	writer_init(&w, fa->out, sizeof(fa->out));
	n = fa_udp4_build(&w, s->src, s->dst.sin_addr, MIP4_PORT, ntohs(s->dst.sin_port),
			  FA_TO_MN_TTL, fa->ip_id++, s->msg, s->len);
	if (n < 0)
		return n;
	memset(&ll, 0, sizeof(ll));
	ll.sll_family = AF_PACKET;
	ll.sll_protocol = htons(ETH_P_IP);
	ll.sll_ifindex = s->ifindex ? (int)s->ifindex : fa->ifindex;
	ll.sll_halen = FA_LLADDR_LEN;
	memcpy(ll.sll_addr, s->lladdr, FA_LLADDR_LEN);
	if (sendto(fa->pkt_fd, fa->out, (size_t)n, 0, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		return -errno;
	return 0;
}

/* Events first (the kernel state a reply announces is in place when it arrives), then the
 * messages. */
static void apply(struct fa *fa, const struct fa_actions *a)
{
	char d[ADDR4_STRLEN];

	for (unsigned i = 0; i < a->nevents; i++) {
		const struct fa_event *ev = &a->events[i];

		if (ev->kind == FA_EV_VISITOR_REMOVED)
			fa_datapath_visitor_del(fa->dp, ev->visitor.home_addr);
		else
			fa_datapath_visitor_set(fa->dp, &ev->visitor);
	}
	for (unsigned i = 0; i < a->nsends; i++) {
		const struct fa_send *s = &a->sends[i];
		int rc;

		if (s->to_mn) {
			rc = send_to_mn(fa, s);
		} else {
			ssize_t n = sock_send4(fa->udp_fd, s->msg, s->len, &s->dst, &s->src, 0);

			rc = n < 0 ? (int)n : 0;
		}
		if (rc < 0) {
			fa->st.send_errors++;
			drop_log(fa, "cannot send a registration message to %s:%u: %s",
				 addr4_str(s->dst.sin_addr, d), ntohs(s->dst.sin_port),
				 strerror(-rc));
		}
	}
	if (a->nevents || a->nsends)
		arm_engine(fa);
}

/* --- advertisements --------------------------------------------------------------------- */

static void send_adv(struct fa *fa, bool multicast, struct in_addr to)
{
	struct sockaddr_in dst;
	struct writer w;
	uint16_t seq = fa->adv.seq;
	int n;
	ssize_t sent;

	writer_init(&w, fa->out, sizeof(fa->out));
	n = fa_adv_emit(&fa->adv, multicast, clock_now(clock_monotonic()), &w);
	if (n < 0) {
		LOG_ERROR(&fa->log, "cannot build an Agent Advertisement: %s", strerror(-n));
		return;
	}
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	if (multicast)
		inet_pton(AF_INET, FA_ALL_SYSTEMS, &dst.sin_addr);
	else
		dst.sin_addr = to;
	sent = sock_send4(fa->icmp_fd, fa->out, (size_t)n, &dst, &fa->link_addr, fa->ifindex);
	if (sent < 0) {
		fa->st.send_errors++;
		drop_log(fa, "cannot send an Agent Advertisement: %s", strerror((int)-sent));
		return;
	}
	fa->st.advertisements++;
	fa->st.next_seq = fa->adv.seq;
	LOG_DEBUG(&fa->log, "Agent Advertisement seq %u to %s", seq,
		  multicast ? FA_ALL_SYSTEMS : "the soliciting node");
}

static gboolean on_adv_timer(gpointer user)
{
	struct fa *fa = user;
	struct in_addr none = { 0 };

	fa->adv_timer = 0;
	if (fa_adv_due(&fa->adv, clock_now(clock_monotonic())))
		send_adv(fa, true, none);
	arm_adv(fa);
	return G_SOURCE_REMOVE;
}

static guint ms_until(mm_time_ns when)
{
	mm_time_ns now = clock_now(clock_monotonic());

	if (when <= now)
		return 0;
	if (when - now > MM_SEC(3600))
		return 3600 * 1000;
	return (guint)((when - now + MM_MSEC(1) - 1) / MM_MSEC(1));
}

static void arm_adv(struct fa *fa)
{
	if (fa->adv_timer)
		g_source_remove(fa->adv_timer);
	fa->adv_timer = g_timeout_add(ms_until(fa_adv_next(&fa->adv)), on_adv_timer, fa);
}

/* --- ICMP ------------------------------------------------------------------------------- */

static void handle_icmp(struct fa *fa, const uint8_t *pkt, size_t len,
			const struct sock_dgram_meta *m)
{
	struct mip4_ipv4_info ip;
	const uint8_t *icmp;
	struct reader r;
	char s[ADDR4_STRLEN];
	uint8_t type;
	int rc;

	if (m->ifindex && m->ifindex != fa->ifindex)
		return;
	rc = mip4_ipv4_parse(pkt, len, &ip);
	if (rc < 0 || ip.fragment) {
		fa->st.icmp_dropped++;
		drop_log(fa, "dropped ICMP from %s: %s", addr4_str(m->peer.sin_addr, s),
			 rc < 0 ? "malformed IPv4 header" : "a fragment");
		return;
	}
	reader_init(&r, pkt, len);
	if (!reader_skip(&r, ip.hdr_len) || !reader_peek_u8(&r, &type) ||
	    !reader_view(&r, ip.len - ip.hdr_len, &icmp)) {
		fa->st.icmp_dropped++;
		drop_log(fa, "dropped an empty ICMP message from %s", addr4_str(ip.src, s));
		return;
	}
	switch (type) {
	case MIP4_ICMP_ROUTER_SOL: {
		enum fa_answer ans;

		rc = mip4_sol_parse(icmp, ip.len - ip.hdr_len);
		if (rc < 0) {
			fa->st.icmp_dropped++;
			drop_log(fa, "dropped a malformed Agent Solicitation from %s (%zu bytes): "
				 "%s", addr4_str(ip.src, s), ip.len - ip.hdr_len, strerror(-rc));
			return;
		}
		fa->st.solicitations++;
		ans = fa_adv_solicited(&fa->adv, ip.src, clock_now(clock_monotonic()));
		LOG_DEBUG(&fa->log, "Agent Solicitation from %s: %s", addr4_str(ip.src, s),
			  ans == FA_ANSWER_UNICAST ? "unicast answer" : ans == FA_ANSWER_MULTICAST
			  ? "multicast answer" : ans == FA_ANSWER_DEFERRED ? "multicast answer "
			  "deferred (rate limit)" : "not answered (rate limit)");
		if (ans == FA_ANSWER_UNICAST) {
			fa->st.answers_unicast++;
			send_adv(fa, false, ip.src);
		} else if (ans == FA_ANSWER_MULTICAST) {
			fa->st.answers_multicast++;
			send_adv(fa, true, ip.src);
			arm_adv(fa);
		} else if (ans == FA_ANSWER_DEFERRED) {
			fa->st.answers_multicast++;
			arm_adv(fa);
		} else {
			fa->st.answers_limited++;
		}
		return;
	}
	case MIP4_ICMP_ROUTER_ADV:
		/* Another agent's (ours do not loop back): checked, then left alone. */
		rc = mip4_adv_parse(icmp, ip.len - ip.hdr_len, &fa->other);
		if (rc < 0 && rc != -ENOMSG) {
			fa->st.icmp_dropped++;
			drop_log(fa, "dropped a malformed Agent Advertisement from %s: %s",
				 addr4_str(ip.src, s), strerror(-rc));
		} else {
			LOG_DEBUG(&fa->log, "advertisement from another router %s ignored",
				  addr4_str(ip.src, s));
		}
		return;
	case 0: case 3: case 8: case 11: case 12:
		/* Echo, errors: the kernel's business. */
		return;
	default:
		fa->st.icmp_dropped++;
		drop_log(fa, "ignored ICMP type %u from %s on %s", type, addr4_str(ip.src, s),
			 fa->conf.interface);
		return;
	}
}

static gboolean on_icmp(gint fd, GIOCondition cond, gpointer user)
{
	struct fa *fa = user;

	(void)fd;
	(void)cond;
	for (int i = 0; i < FA_RX_BATCH; i++) {
		struct sock_dgram_meta m;
		ssize_t n = sock_recv4(fa->icmp_fd, fa->buf, sizeof(fa->buf), &m);

		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n < 0) {
			fa->st.icmp_dropped++;
			drop_log(fa, "receiving ICMP: %s", strerror((int)-n));
			continue;
		}
		handle_icmp(fa, fa->buf, (size_t)n, &m);
	}
	return G_SOURCE_CONTINUE;
}

/* --- link-layer sources of requests ------------------------------------------------------ */

/* Read what the packet socket has: the link-layer source and TTL of each datagram to UDP
 * port 434 that came in on the visited link. */
static void drain_packets(struct fa *fa)
{
	for (int i = 0; i < FA_RX_BATCH * 2; i++) {
		struct sockaddr_ll from;
		socklen_t flen = sizeof(from);
		struct fa_udp4_info u;
		struct ll_entry *e;
		ssize_t n = recvfrom(fa->pkt_fd, fa->buf, sizeof(fa->buf), MSG_TRUNC,
				     (struct sockaddr *)&from, &flen);

		if (n < 0)
			return;
		if (from.sll_pkttype == PACKET_OUTGOING || from.sll_halen != FA_LLADDR_LEN ||
		    (size_t)n > sizeof(fa->buf) || fa_udp4_peek(fa->buf, (size_t)n, &u) < 0)
			continue;
		e = &fa->ll[fa->ll_next++ % FA_LL_CACHE];
		e->src = u.src;
		e->sport = u.sport;
		e->ttl = u.ttl;
		memcpy(e->mac, from.sll_addr, FA_LLADDR_LEN);
		e->at = clock_now(clock_monotonic());
		e->used = true;
	}
}

static gboolean on_pkt(gint fd, GIOCondition cond, gpointer user)
{
	(void)fd;
	(void)cond;
	drain_packets(user);
	return G_SOURCE_CONTINUE;
}

/* The newest entry for (src, sport), consumed. */
static const struct ll_entry *ll_find(struct fa *fa, struct in_addr src, uint16_t sport)
{
	mm_time_ns now = clock_now(clock_monotonic());

	for (unsigned k = 1; k <= FA_LL_CACHE; k++) {
		struct ll_entry *e = &fa->ll[(fa->ll_next - k) % FA_LL_CACHE];

		if (e->used && e->src.s_addr == src.s_addr && e->sport == sport &&
		    now - e->at <= FA_LL_MAX_AGE) {
			e->used = false;
			return e;
		}
	}
	return NULL;
}

/* --- UDP 434 ---------------------------------------------------------------------------- */

static void handle_udp(struct fa *fa, const uint8_t *msg, size_t len,
		       const struct sock_dgram_meta *m)
{
	char s[ADDR4_STRLEN];
	struct reader r;
	uint8_t type = 0;
	int rc;

	reader_init(&r, msg, len);
	reader_peek_u8(&r, &type);
	addr4_str(m->peer.sin_addr, s);
	if (m->ifindex == fa->ifindex) {
		struct fa_req_meta rq;
		const struct ll_entry *e;

		if (type != MIP4_MSG_REG_REQUEST) {
			fa->st.udp_dropped++;
			drop_log(fa, "dropped a UDP 434 datagram from %s:%u on %s: type %u is not "
				 "a Registration Request", s, ntohs(m->peer.sin_port),
				 fa->conf.interface, type);
			return;
		}
		e = ll_find(fa, m->peer.sin_addr, ntohs(m->peer.sin_port));
		if (!e) {
			fa->st.udp_dropped++;
			drop_log(fa, "dropped a Registration Request from %s:%u: its link-layer "
				 "address was not seen", s, ntohs(m->peer.sin_port));
			return;
		}
		memset(&rq, 0, sizeof(rq));
		rq.src = m->peer;
		rq.dst = m->dst;
		memcpy(rq.lladdr, e->mac, FA_LLADDR_LEN);
		rq.ifindex = (unsigned)fa->ifindex;
		rq.ttl = e->ttl;
		rc = fa_engine_request(fa->engine, msg, len, &rq, &fa->actions);
		if (rc == 0)
			apply(fa, &fa->actions);
		return;
	}
	if (type == MIP4_MSG_REG_REPLY) {
		struct fa_rep_meta rp;

		memset(&rp, 0, sizeof(rp));
		rp.src = m->peer;
		rp.dst = m->dst;
		rc = fa_engine_reply(fa->engine, msg, len, &rp, &fa->actions);
		if (rc == 0)
			apply(fa, &fa->actions);
		return;
	}
	fa->st.udp_dropped++;
	drop_log(fa, "dropped a UDP 434 datagram from %s:%u (type %u) that did not come in on %s",
		 s, ntohs(m->peer.sin_port), type, fa->conf.interface);
}

static gboolean on_udp(gint fd, GIOCondition cond, gpointer user)
{
	struct fa *fa = user;

	(void)fd;
	(void)cond;
	/* The packet socket saw each frame before the UDP socket got its datagram. */
	drain_packets(fa);
	for (int i = 0; i < FA_RX_BATCH; i++) {
		struct sock_dgram_meta m;
		ssize_t n = sock_recv4(fa->udp_fd, fa->buf, sizeof(fa->buf), &m);

		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n < 0) {
			fa->st.udp_dropped++;
			drop_log(fa, "receiving on UDP port 434: %s", strerror((int)-n));
			continue;
		}
		handle_udp(fa, fa->buf, (size_t)n, &m);
	}
	return G_SOURCE_CONTINUE;
}

/* --- timers and the data path ----------------------------------------------------------- */

static gboolean on_engine_timer(gpointer user)
{
	struct fa *fa = user;

	fa->engine_timer = 0;
	do {
		if (fa_engine_timer(fa->engine, clock_now(clock_monotonic()), &fa->actions) < 0)
			break;
		apply(fa, &fa->actions);
	} while (fa->actions.more);
	arm_engine(fa);
	return G_SOURCE_REMOVE;
}

static void arm_engine(struct fa *fa)
{
	mm_time_ns next = fa_engine_next_deadline(fa->engine);

	if (fa->engine_timer) {
		g_source_remove(fa->engine_timer);
		fa->engine_timer = 0;
	}
	if (next != UINT64_MAX)
		fa->engine_timer = g_timeout_add(ms_until(next), on_engine_timer, fa);
}

static gboolean on_raw(gint fd, GIOCondition cond, gpointer user)
{
	(void)fd;
	(void)cond;
	fa_datapath_raw_readable(((struct fa *)user)->dp);
	return G_SOURCE_CONTINUE;
}

static gboolean on_tun(gint fd, GIOCondition cond, gpointer user)
{
	(void)fd;
	(void)cond;
	fa_datapath_tun_readable(((struct fa *)user)->dp);
	return G_SOURCE_CONTINUE;
}

/* --- start and stop --------------------------------------------------------------------- */

/* The interface's IPv4 address (the care-of address if it is one of them, else the first)
 * and whether the care-of address is an address of this host at all. */
static int find_addresses(struct fa *fa, bool *coa_local)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	*coa_local = false;
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)i->ifa_addr;
		const struct sockaddr_in *nm = (const struct sockaddr_in *)(const void *)
					       i->ifa_netmask;

		if (!a || a->sin_family != AF_INET)
			continue;
		if (a->sin_addr.s_addr == fa->conf.coa.s_addr)
			*coa_local = true;
		if (strcmp(i->ifa_name, fa->conf.interface) != 0)
			continue;
		if (!found || a->sin_addr.s_addr == fa->conf.coa.s_addr) {
			uint32_t mask = nm ? ntohl(nm->sin_addr.s_addr) : 0xffffffffu;

			fa->link_addr = a->sin_addr;
			fa->link_plen = 0;
			while (mask & 0x80000000u) {
				fa->link_plen++;
				mask <<= 1;
			}
			found = true;
		}
	}
	freeifaddrs(ifa);
	return found ? 0 : -EADDRNOTAVAIL;
}

static int join(int fd, const char *group, int ifindex)
{
	struct ip_mreqn mr;

	memset(&mr, 0, sizeof(mr));
	inet_pton(AF_INET, group, &mr.imr_multiaddr);
	mr.imr_ifindex = ifindex;
	if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		return -errno;
	return 0;
}

static int open_icmp(struct fa *fa)
{
	struct ip_mreqn mr;
	int ttl = 1, off = 0, rc;

	fa->icmp_fd = sock_raw4_open(IPPROTO_ICMP, SOCK_F_PKTINFO);
	if (fa->icmp_fd < 0)
		return fa->icmp_fd;
	memset(&mr, 0, sizeof(mr));
	mr.imr_ifindex = fa->ifindex;
	/* RFC 1256 §5.1 / RFC 5944 §2.2: advertisements with IP TTL 1. */
	if ((rc = sock_bind_device(fa->icmp_fd, fa->conf.interface)) < 0 ||
	    (rc = join(fa->icmp_fd, FA_ALL_ROUTERS, fa->ifindex)) < 0 ||
	    (rc = join(fa->icmp_fd, FA_MOBILE_AGENTS, fa->ifindex)) < 0)
		return rc;
	if (setsockopt(fa->icmp_fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)) < 0 ||
	    setsockopt(fa->icmp_fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) < 0 ||
	    setsockopt(fa->icmp_fd, IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof(off)) < 0 ||
	    setsockopt(fa->icmp_fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) < 0)
		return -errno;
	return 0;
}

static int open_udp(struct fa *fa)
{
	struct sockaddr_in sa;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(MIP4_PORT);
	fa->udp_fd = sock_udp4_open(&sa, SOCK_F_REUSEADDR | SOCK_F_PKTINFO | SOCK_F_BROADCAST);
	if (fa->udp_fd < 0)
		return fa->udp_fd;
	if ((rc = join(fa->udp_fd, FA_MOBILE_AGENTS, fa->ifindex)) < 0)
		return rc;
	return 0;
}

/* A packet socket for IPv4 on the visited interface that only takes unfragmented UDP to
 * port 434 (classic BPF; offsets from the IP header, as for SOCK_DGRAM). */
static int open_packet(struct fa *fa)
{
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),                 /* protocol */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),                 /* flags, offset */
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),    /* a fragment */
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),                /* X = IHL * 4 */
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),                 /* destination port */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MIP4_PORT, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = G_N_ELEMENTS(code), .filter = code };
	struct sockaddr_ll ll;
	uint8_t junk[64];

	fa->pkt_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fa->pkt_fd < 0)
		return -errno;
	if (setsockopt(fa->pkt_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	memset(&ll, 0, sizeof(ll));
	ll.sll_family = AF_PACKET;
	ll.sll_protocol = htons(ETH_P_IP);
	ll.sll_ifindex = fa->ifindex;
	if (bind(fa->pkt_fd, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		return -errno;
	/* Protocol 0 until bound: nothing unfiltered queued; drop anything anyway. */
	while (recv(fa->pkt_fd, junk, sizeof(junk), MSG_TRUNC) >= 0)
		;
	return 0;
}

static int open_tunnel(struct fa *fa)
{
	char name[IFNAMSIZ], path[128], old[32];
	int rc;

	fa->tun_fd = tun_open(fa->conf.tunnel_device, name, 0);
	if (fa->tun_fd < 0) {
		LOG_ERROR(&fa->log, "%s: [%s] tunnel-device: cannot create TUN device %s: %s",
			  fa->path, FA_CONF_GROUP, fa->conf.tunnel_device, strerror(-fa->tun_fd));
		return fa->tun_fd;
	}
	snprintf(path, sizeof(path), "net/ipv6/conf/%s/disable_ipv6", name);
	ha_sysctl_set(path, "1", NULL, 0);
	/* Packets delivered to visitors come out of this device with sources that are routed
	 * elsewhere: no reverse-path filter on it. */
	snprintf(path, sizeof(path), "net/ipv4/conf/%s/rp_filter", name);
	ha_sysctl_set(path, "0", NULL, 0);
	if (ha_sysctl_get("net/ipv4/conf/all/rp_filter", old, sizeof(old)) == 0 &&
	    strcmp(old, "0") != 0)
		LOG_WARNING(&fa->log, "net.ipv4.conf.all.rp_filter = %s overrides %s's: packets "
			    "for visitors may be dropped", old, name);
	if ((rc = tun_set_mtu(name, FA_TUN_MTU)) < 0 || (rc = tun_set_up(name)) < 0 ||
	    (rc = nl_link_index(name)) < 0) {
		LOG_ERROR(&fa->log, "tunnel device %s: %s", name, strerror(-rc));
		return rc;
	}
	fa->tun_ifindex = rc;
	return 0;
}

static int start_engine(struct fa *fa)
{
	struct fa_engine_config ec;
	int rc;

	memset(&ec, 0, sizeof(ec));
	ec.coa = fa->conf.coa;
	ec.link_addr = fa->link_addr;
	ec.link_net = prefix4_network(fa->link_addr, fa->link_plen);
	ec.link_plen = fa->link_plen;
	ec.max_lifetime = (uint16_t)fa->conf.reg_lifetime;
	ec.reverse = fa->conf.reverse;
	ec.require_mn_fa = fa->conf.mn_fa_required;
	if (fa->mn_keys) {
		ec.mn_key = ha_keys_lookup;
		ec.mn_key_ctx = fa->mn_keys;
	}
	if (fa->nfha) {
		ec.ha_key = fha_lookup;
		ec.ha_key_ctx = fa;
	}
	ec.max_visitors = fa->conf.max_visitors;
	ec.clock = clock_monotonic();
	rc = fa_engine_new(&ec, &fa->engine);
	if (rc < 0)
		LOG_ERROR(&fa->log, "cannot start the foreign agent engine: %s", strerror(-rc));
	return rc;
}

static int start_adv(struct fa *fa, bool home_agent_here)
{
	struct fa_adv_config ac;
	uint64_t seed = 0;
	int rc;

	memset(&ac, 0, sizeof(ac));
	ac.link_addr = fa->link_addr;
	ac.link_plen = fa->link_plen;
	ac.ncoa = 1;
	ac.coa[0] = fa->conf.coa;
	ac.interval_ms = fa->conf.adv_interval * 1000;
	ac.reg_lifetime = (uint16_t)fa->conf.reg_lifetime;
	ac.registration_required = fa->conf.registration_required;
	ac.reverse_tunnel = fa->conf.reverse != FA_RT_OFF;
	ac.home_agent = home_agent_here;
	ac.routes_common = true;
	ac.prefix_lengths = fa->conf.prefix_lengths;
	/* RFC 1256 §5.1: seed with something unique to this router. */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = clock_now(clock_monotonic());
	seed ^= (uint64_t)ntohl(fa->link_addr.s_addr) << 32;
	rc = fa_adv_init(&fa->adv, &ac, seed, clock_now(clock_monotonic()));
	if (rc < 0)
		LOG_ERROR(&fa->log, "%s: [%s]: cannot advertise with this configuration", fa->path,
			  FA_CONF_GROUP);
	return rc;
}

int fa_start(const struct ha_conf *conf, bool home_agent_here, struct fa **out)
{
	struct fa *fa = g_new0(struct fa, 1);
	struct fa_dp_config dc;
	char a[ADDR4_STRLEN], c[ADDR4_STRLEN], old[32];
	bool coa_local;
	int rc;

	fa->conf = conf->fa;
	fa->conf.fa_ha_keys_file = NULL;     /* not owned: only used while starting */
	fa->conf.mn_fa_keys_file = NULL;
	snprintf(fa->path, sizeof(fa->path), "%s", conf->path ? conf->path : "ha.conf");
	logger_init(&fa->log, "ha[fa]");
	ratelimit_init(&fa->drop_rl);
	fa->icmp_fd = fa->udp_fd = fa->pkt_fd = fa->raw_fd = fa->tun_fd = -1;
	*out = fa;     /* fa_stop() cleans up whatever got started */

	fa->ifindex = nl_link_index(conf->fa.interface);
	if (fa->ifindex < 0) {
		LOG_ERROR(&fa->log, "%s: [%s] interface: %s: %s", fa->path, FA_CONF_GROUP,
			  conf->fa.interface, strerror(-fa->ifindex));
		return fa->ifindex;
	}
	rc = find_addresses(fa, &coa_local);
	if (rc < 0) {
		LOG_ERROR(&fa->log, "%s: [%s] interface: %s has no IPv4 address", fa->path,
			  FA_CONF_GROUP, conf->fa.interface);
		return rc;
	}
	if (!coa_local) {
		LOG_ERROR(&fa->log, "%s: [%s] care-of-address: %s is not an address of this host",
			  fa->path, FA_CONF_GROUP, addr4_str(conf->fa.coa, c));
		return -EADDRNOTAVAIL;
	}
	if (conf->fa.mn_fa_keys_file && (rc = ha_keys_load(conf->fa.mn_fa_keys_file,
							   &fa->mn_keys)) < 0)
		return rc;
	if (conf->fa.fa_ha_keys_file) {
		fa->fha = g_new0(struct fha_key, FA_FHA_MAX);
		fa->fha_path = conf->fa.fa_ha_keys_file;
		rc = secret_load_keys_table(conf->fa.fa_ha_keys_file, fha_add, fa);
		fa->fha_path = NULL;
		if (rc < 0)
			return rc;
	}
	rc = ha_sysctl_set("net/ipv4/ip_forward", "1", old, sizeof(old));
	if (rc < 0) {
		LOG_ERROR(&fa->log, "cannot set net.ipv4.ip_forward=1: %s (a foreign agent routes "
			  "its visitors' packets, RFC 5944 section 4.2.2)", strerror(-rc));
		return rc;
	}
	if ((rc = start_engine(fa)) < 0 || (rc = start_adv(fa, home_agent_here)) < 0 ||
	    (rc = open_tunnel(fa)) < 0)
		return rc;
	fa->raw_fd = sock_raw4_open(MIP4_IPIP_PROTO, SOCK_F_HDRINCL);
	if (fa->raw_fd < 0) {
		LOG_ERROR(&fa->log, "cannot open a raw IP-in-IP socket: %s", strerror(-fa->raw_fd));
		return fa->raw_fd;
	}
	if ((rc = open_icmp(fa)) < 0) {
		LOG_ERROR(&fa->log, "cannot open the ICMP socket on %s: %s", conf->fa.interface,
			  strerror(-rc));
		return rc;
	}
	if ((rc = open_udp(fa)) < 0) {
		LOG_ERROR(&fa->log, "cannot bind UDP port %d: %s", MIP4_PORT, strerror(-rc));
		return rc;
	}
	if ((rc = open_packet(fa)) < 0) {
		LOG_ERROR(&fa->log, "cannot open a packet socket on %s: %s", conf->fa.interface,
			  strerror(-rc));
		return rc;
	}
	memset(&dc, 0, sizeof(dc));
	snprintf(dc.interface, sizeof(dc.interface), "%s", conf->fa.interface);
	dc.ifindex = fa->ifindex;
	dc.tun_fd = fa->tun_fd;
	dc.tun_ifindex = fa->tun_ifindex;
	dc.raw_fd = fa->raw_fd;
	dc.coa = conf->fa.coa;
	dc.table = conf->fa.routing_table;
	if ((rc = fa_datapath_new(&dc, fa->engine, &fa->dp)) < 0)
		return rc;
	fa->src_pkt = g_unix_fd_add(fa->pkt_fd, G_IO_IN, on_pkt, fa);
	fa->src_udp = g_unix_fd_add(fa->udp_fd, G_IO_IN, on_udp, fa);
	fa->src_icmp = g_unix_fd_add(fa->icmp_fd, G_IO_IN, on_icmp, fa);
	fa->src_raw = g_unix_fd_add(fa->raw_fd, G_IO_IN, on_raw, fa);
	fa->src_tun = g_unix_fd_add(fa->tun_fd, G_IO_IN, on_tun, fa);
	arm_adv(fa);
	LOG_NOTICE(&fa->log, "foreign agent on %s (%s/%u), care-of address %s, advertising every "
		   "%u s, registration lifetime %u s, reverse tunnelling %s%s%s", conf->fa.interface,
		   addr4_str(fa->link_addr, a), fa->link_plen, addr4_str(conf->fa.coa, c),
		   conf->fa.adv_interval, conf->fa.reg_lifetime,
		   conf->fa.reverse == FA_RT_OFF ? "off" : conf->fa.reverse == FA_RT_OFFER
		   ? "offered" : "required", conf->fa.mn_fa_required ? ", MN-FA required" : "",
		   home_agent_here ? ", also home agent on this link" : "");
	return 0;
}

void fa_stop(struct fa *fa)
{
	if (!fa)
		return;
	guint *srcs[] = { &fa->src_icmp, &fa->src_udp, &fa->src_pkt, &fa->src_raw,
			  &fa->src_tun, &fa->adv_timer, &fa->engine_timer };
	int fds[] = { fa->icmp_fd, fa->udp_fd, fa->pkt_fd, fa->raw_fd, fa->tun_fd };

	for (size_t i = 0; i < G_N_ELEMENTS(srcs); i++)
		if (*srcs[i])
			g_source_remove(*srcs[i]);
	/* The kernel state goes with us: no neighbour entry, route or rule keeps pointing at
	 * a foreign agent that no longer relays. */
	fa_datapath_free(fa->dp);
	fa_engine_free(fa->engine);
	for (size_t i = 0; i < G_N_ELEMENTS(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ha_keys_free(fa->mn_keys);
	if (fa->fha) {
		OPENSSL_cleanse(fa->fha, sizeof(*fa->fha) * FA_FHA_MAX);
		g_free(fa->fha);
	}
	OPENSSL_cleanse(&fa->actions, sizeof(fa->actions));
	g_free(fa);
}

const struct fa_engine *fa_get_engine(const struct fa *fa)
{
	return fa->engine;
}

const struct fa_datapath *fa_get_datapath(const struct fa *fa)
{
	return fa->dp;
}

const struct fa_adv_stats *fa_get_adv_stats(const struct fa *fa)
{
	return &fa->st;
}
