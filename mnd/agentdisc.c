/* Agent discovery on the access interfaces (RFC 5944 2.4; RFC 1256). See agentdisc.h.
 * The decisions are policy/agent.c's; here: sockets, the filter, the IP header, timers. */
#include "mnd/agentdisc.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/icmp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include <glib.h>
#include <glib-unix.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/ratelimit.h"
#include "common/sock.h"
#include "daemon/droplog.h"
#include "mip4/agent.h"
#include "mip4/tunnel.h"
#include "mnd/timer.h"

/* Frames read per wake-up, so a flood cannot starve the loop. */
#define AD_READ_BUDGET 32
/* Largest frame we read; a longer one is dropped (MSG_TRUNC). Covers jumbo frames. */
#define AD_FRAME_MAX 9216
#define AD_LLADDR_MAX 8
#define IPPROTO_ICMP_NUM 1

struct ad_lladdr {
	struct in_addr addr;
	uint8_t len;
	uint8_t ll[AD_LLADDR_MAX];
	mm_time_ns seen;
};

struct ad_if {
	struct agentdisc *d;
	struct ad_if *next;
	char ifname[IFNAMSIZ];
	int ifindex;
	int rx_fd;                  /* AF_PACKET: advertisements in, solicitations out */
	guint rx_watch;
	struct mnd_timer *timer;
	struct policy_agent_tracker tr;
	struct ad_lladdr ll[POLICY_AGENT_MAX];
	struct ratelimit drop_rl;
	struct agentdisc_stats st;
	struct logger log;
	unsigned busy;               /* inside one of our callbacks from GLib */
	bool dead;                   /* link_down during a callback: free when not busy */
};

struct agentdisc {
	void *ctx;
	agentdisc_cb cb;
	struct policy_agent_config cfg;
	struct ad_if *ifs;
	uint8_t frame[AD_FRAME_MAX];
};

#define drop_log(ifp, ...) droplog(&(ifp)->drop_rl, &(ifp)->st.log_suppressed, &(ifp)->log, \
				   clock_now(clock_monotonic()), "dropped: ", __VA_ARGS__)

static mm_time_ns now_ns(void)
{
	return clock_now(clock_monotonic());
}

/* --- sockets ---------------------------------------------------------------------------- */

/* Classic BPF on the IP packet (SOCK_DGRAM: the filter sees the network header first):
 * IPv4, protocol ICMP, not a fragment (MF clear, offset 0), ICMP type 9. */
static int attach_filter(int fd)
{
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, 8),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMP_NUM, 0, 6),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, 4, 0),
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
		BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MIP4_ICMP_ROUTER_ADV, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

static int open_rx(int ifindex)
{
	struct sockaddr_ll sll;
	int one = 1, fd, rc;

	/* Protocol 0 until bound: nothing is queued before the filter is in place. */
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = attach_filter(fd);
	if (rc < 0)
		goto fail;
	/* Our own solicitations are no advertisements; older kernels lack the option, the
	 * packet type check below covers them. */
	(void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_IP);
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		rc = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return rc;
}

/* --- events ----------------------------------------------------------------------------- */

static void deliver(struct ad_if *ifp, enum agent_event ev, const struct policy_agent *a)
{
	char s[ADDR4_STRLEN], c[ADDR4_STRLEN];

	if (ev == AGENT_EV_NONE)
		return;
	if (ev == AGENT_EV_SAME)
		LOG_DEBUG(&ifp->log, "agent %s seq=%u", addr4_str(a->addr, s), a->seq);
	else
		LOG_NOTICE(&ifp->log, "foreign agent %s: %s (care-of address %s, registration "
			   "lifetime %u, seq %u%s%s)", addr4_str(a->addr, s), agent_event_name(ev),
			   addr4_str(a->coa[0], c), a->reg_lifetime, a->seq,
			   a->flags & MIP4_ADV_T ? ", T" : "", a->flags & MIP4_ADV_R ? ", R" : "");
	if (ifp->d->cb)
		ifp->d->cb(ifp->d->ctx, ifp->ifname, ev, a);
}

/* The interface's IPv4 address, or 0.0.0.0 while it has none (RFC 1256 3: "an IP address
 * belonging to the interface from which this message is sent, or 0"). */
static struct in_addr iface_addr(const struct ad_if *ifp)
{
	struct ifreq ifr;
	struct in_addr a = { 0 };

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifp->ifname);
	ifr.ifr_addr.sa_family = AF_INET;
	if (ioctl(ifp->rx_fd, SIOCGIFADDR, &ifr) == 0)
		memcpy(&a, &((struct sockaddr_in *)(void *)&ifr.ifr_addr)->sin_addr, sizeof(a));
	return a;
}

/* An Agent Solicitation (RFC 5944 2.2: a Router Solicitation with IP TTL 1) to 224.0.0.2,
 * sent as a link-layer frame on the packet socket with an IP header of our own: its source
 * is the interface's address or 0.0.0.0, never what the IP layer would pick for an
 * interface without an address (another interface's: the home address, which must not
 * leave in the clear; the fail-closed filter refuses it). */
static void send_solicitation(struct ad_if *ifp)
{
	/* RFC 1112 6.4: 224.0.0.2 -> 01:00:5e:00:00:02. */
	static const uint8_t mcast_mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x02 };
	uint8_t pkt[MIP4_IPV4_HDR_MIN + 8];
	struct sockaddr_ll to;
	struct in_addr src = iface_addr(ifp), dst;
	struct writer w;
	uint16_t csum;
	ssize_t n;

	if (addr4_parse(AGENTDISC_SOLICIT_ADDR, &dst) < 0)
		return;
	writer_init(&w, pkt, sizeof(pkt));
	if (!writer_u8(&w, 0x45) || !writer_u8(&w, 0) || !writer_be16(&w, sizeof(pkt)) ||
	    !writer_be16(&w, (uint16_t)g_random_int()) || !writer_be16(&w, 0) ||
	    !writer_u8(&w, 1) || !writer_u8(&w, IPPROTO_ICMP) || !writer_be16(&w, 0) ||
	    !writer_bytes(&w, &src, 4) || !writer_bytes(&w, &dst, 4) ||
	    mip4_sol_encode(&w) < 0)
		return;
	csum = mip4_inet_checksum(pkt, MIP4_IPV4_HDR_MIN);
	pkt[10] = (uint8_t)(csum >> 8);
	pkt[11] = (uint8_t)csum;
	memset(&to, 0, sizeof(to));
	to.sll_family = AF_PACKET;
	to.sll_protocol = htons(ETH_P_IP);
	to.sll_ifindex = ifp->ifindex;
	to.sll_halen = sizeof(mcast_mac);
	memcpy(to.sll_addr, mcast_mac, sizeof(mcast_mac));
	n = sendto(ifp->rx_fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to));
	if (n < 0) {
		ifp->st.send_errors++;
		LOG_WARNING(&ifp->log, "cannot send an Agent Solicitation: %s", strerror(errno));
		return;
	}
	ifp->st.solicitations++;
	LOG_INFO(&ifp->log, "Agent Solicitation %u sent", ifp->tr.sol_sent);
}

/* Solicitations due, the timer re-armed. */
static void reschedule(struct ad_if *ifp, mm_time_ns now)
{
	if (policy_agent_solicit_due(&ifp->tr, now, g_random_int()))
		send_solicitation(ifp);
	mnd_timer_arm(ifp->timer, policy_agent_deadline(&ifp->tr));
}

static void ad_if_destroy(struct ad_if *ifp)
{
	if (ifp->rx_watch)
		g_source_remove(ifp->rx_watch);
	if (ifp->rx_fd >= 0)
		close(ifp->rx_fd);
	mnd_timer_free(ifp->timer);
	g_free(ifp);
}

static void ad_if_unlink(struct agentdisc *d, struct ad_if *ifp)
{
	for (struct ad_if **pp = &d->ifs; *pp; pp = &(*pp)->next) {
		if (*pp == ifp) {
			*pp = ifp->next;
			return;
		}
	}
}

/* Leave a GLib callback: free the interface if link_down ran inside it. Returns false
 * when ifp is gone. */
static bool leave(struct ad_if *ifp)
{
	ifp->busy--;
	if (ifp->dead && !ifp->busy) {
		ad_if_destroy(ifp);
		return false;
	}
	return !ifp->dead;
}

static void on_timer(void *user)
{
	struct ad_if *ifp = user;
	struct policy_agent a;
	enum agent_event ev;
	mm_time_ns now = now_ns();

	ifp->busy++;
	ev = policy_agent_tick(&ifp->tr, now, &a);
	deliver(ifp, ev, &a);
	if (!ifp->dead)
		reschedule(ifp, now);
	leave(ifp);
}

/* --- receiving ---------------------------------------------------------------------------- */

static void remember_lladdr(struct ad_if *ifp, struct in_addr src, const struct sockaddr_ll *sll,
			    mm_time_ns now)
{
	struct ad_lladdr *slot = &ifp->ll[0];

	for (unsigned i = 0; i < POLICY_AGENT_MAX; i++) {
		if (ifp->ll[i].addr.s_addr == src.s_addr) {
			slot = &ifp->ll[i];
			break;
		}
		if (ifp->ll[i].seen < slot->seen)
			slot = &ifp->ll[i];
	}
	slot->addr = src;
	slot->len = sll->sll_halen <= AD_LLADDR_MAX ? sll->sll_halen : 0;
	memcpy(slot->ll, sll->sll_addr, slot->len);
	slot->seen = now;
}

static void frame_in(struct ad_if *ifp, const uint8_t *frame, size_t len,
		     const struct sockaddr_ll *sll)
{
	struct mip4_agent_adv adv;
	struct policy_agent a;
	struct in_addr src = { 0 };
	enum agent_event ev;
	mm_time_ns now = now_ns();
	int rc;

	/* Ours (older kernels), or meant for another host (promiscuous mode). */
	if (sll->sll_pkttype == PACKET_OUTGOING || sll->sll_pkttype == PACKET_OTHERHOST)
		return;
	ifp->st.frames++;
	/* The IPv4 packet and the advertisement in it, through the codec (mip4/agent.h). */
	rc = mip4_adv_frame_parse(frame, len, &src, &adv);
	if (rc == -ENOMSG) {
		/* A plain router (RFC 5944 2.1: no Mobility Agent Advertisement extension). */
		ifp->st.not_agent++;
		return;
	}
	if (rc < 0) {
		ifp->st.malformed++;
		drop_log(ifp, "bad Agent Advertisement (%zu bytes): %s", len, strerror(-rc));
		return;
	}
	ifp->st.adverts++;
	remember_lladdr(ifp, src, sll, now);
	ev = policy_agent_heard(&ifp->tr, src, &adv, now, &a);
	deliver(ifp, ev, &a);
	if (!ifp->dead)
		mnd_timer_arm(ifp->timer, policy_agent_deadline(&ifp->tr));
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer user)
{
	struct ad_if *ifp = user;
	struct agentdisc *d = ifp->d;

	(void)cond;
	ifp->busy++;
	for (int i = 0; i < AD_READ_BUDGET && !ifp->dead; i++) {
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);
		ssize_t n;

		memset(&sll, 0, sizeof(sll));
		n = recvfrom(fd, d->frame, sizeof(d->frame), MSG_TRUNC, (struct sockaddr *)&sll,
			     &sl);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				LOG_DEBUG(&ifp->log, "receive: %s", strerror(errno));
			break;
		}
		if ((size_t)n > sizeof(d->frame)) {
			ifp->st.malformed++;
			drop_log(ifp, "oversized frame (%zd bytes)", n);
			continue;
		}
		frame_in(ifp, d->frame, (size_t)n, &sll);
	}
	if (!leave(ifp))
		return G_SOURCE_REMOVE;
	return G_SOURCE_CONTINUE;
}

/* --- interfaces --------------------------------------------------------------------------- */

static struct ad_if *find_if(const struct agentdisc *d, const char *ifname)
{
	for (struct ad_if *ifp = d ? d->ifs : NULL; ifp; ifp = ifp->next)
		if (!ifp->dead && strcmp(ifp->ifname, ifname) == 0)
			return ifp;
	return NULL;
}

struct agentdisc *agentdisc_new(void *ctx, agentdisc_cb cb, const struct policy_agent_config *cfg)
{
	struct agentdisc *d = g_try_new0(struct agentdisc, 1);

	if (!d)
		return NULL;
	d->ctx = ctx;
	d->cb = cb;
	if (cfg)
		d->cfg = *cfg;
	return d;
}

void agentdisc_free(struct agentdisc *d)
{
	if (!d)
		return;
	while (d->ifs) {
		struct ad_if *ifp = d->ifs;

		d->ifs = ifp->next;
		ad_if_destroy(ifp);
	}
	g_free(d);
}

int agentdisc_link_up(struct agentdisc *d, const char *ifname)
{
	struct ad_if *ifp;
	int ifindex, rc;

	if (!d || !ifname || !ifname[0] || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	if (find_if(d, ifname))
		return 0;
	ifindex = (int)if_nametoindex(ifname);
	if (ifindex <= 0)
		return -ENODEV;
	ifp = g_try_new0(struct ad_if, 1);
	if (!ifp)
		return -ENOMEM;
	ifp->d = d;
	g_strlcpy(ifp->ifname, ifname, sizeof(ifp->ifname));
	ifp->ifindex = ifindex;
	logger_init(&ifp->log, "agentdisc[%s]", ifname);
	ifp->rx_fd = open_rx(ifindex);
	if (ifp->rx_fd < 0) {
		rc = ifp->rx_fd;
		LOG_ERROR(&ifp->log, "cannot open the advertisement socket: %s", strerror(-rc));
		g_free(ifp);
		return rc;
	}
	ratelimit_init(&ifp->drop_rl);
	policy_agent_init(&ifp->tr, &d->cfg);
	ifp->timer = mnd_timer_new(on_timer, ifp);
	ifp->rx_watch = g_unix_fd_add(ifp->rx_fd, G_IO_IN, on_readable, ifp);
	ifp->next = d->ifs;
	d->ifs = ifp;
	LOG_INFO(&ifp->log, "link up: looking for foreign agents");
	/* RFC 5266 3.2: at once, at the same time as DHCP. */
	policy_agent_link_up(&ifp->tr, now_ns());
	reschedule(ifp, now_ns());
	return 0;
}

void agentdisc_link_down(struct agentdisc *d, const char *ifname)
{
	struct ad_if *ifp;
	struct policy_agent a;
	enum agent_event ev;

	if (!d || !ifname)
		return;
	ifp = find_if(d, ifname);
	if (!ifp)
		return;
	ev = policy_agent_link_down(&ifp->tr, &a);
	/* Out of the list and quiet before the callback, which may bring it up again. */
	ad_if_unlink(d, ifp);
	ifp->dead = true;
	if (ifp->rx_watch) {
		g_source_remove(ifp->rx_watch);
		ifp->rx_watch = 0;
	}
	mnd_timer_disarm(ifp->timer);
	LOG_INFO(&ifp->log, "link down");
	ifp->busy++;
	deliver(ifp, ev, &a);
	leave(ifp);
}

const struct policy_agent *agentdisc_current(const struct agentdisc *d, const char *ifname)
{
	const struct ad_if *ifp = find_if(d, ifname);

	return ifp ? policy_agent_current(&ifp->tr) : NULL;
}

int agentdisc_lladdr(const struct agentdisc *d, const char *ifname, uint8_t lladdr[8])
{
	const struct ad_if *ifp = find_if(d, ifname);
	const struct policy_agent *a = ifp ? policy_agent_current(&ifp->tr) : NULL;

	if (!a)
		return -ENOENT;
	for (unsigned i = 0; i < POLICY_AGENT_MAX; i++) {
		if (ifp->ll[i].addr.s_addr == a->addr.s_addr && ifp->ll[i].len) {
			memcpy(lladdr, ifp->ll[i].ll, ifp->ll[i].len);
			return ifp->ll[i].len;
		}
	}
	return -ENOENT;
}

void agentdisc_stats(const struct agentdisc *d, const char *ifname, struct agentdisc_stats *out)
{
	const struct ad_if *ifp = find_if(d, ifname);

	memset(out, 0, sizeof(*out));
	if (ifp)
		*out = ifp->st;
}
