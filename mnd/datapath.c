/* The mobile node's user-space data path (the kernel here has no ipip module):
 *
 *   out: TUN (packets from the home address, routed there by the rule) -> reverse tunnel
 *        to the home agent (RFC 3024): IP-in-IP (RFC 2003) on a raw IPPROTO_IPIP socket
 *        with IP_HDRINCL, or an RFC 3519 MIP Tunnel Data message on the registration
 *        socket (same source port as the registration, §4.9);
 *   in:  IP-in-IP on the raw socket, or tunnel data on the registration socket, from the
 *        home agent to the home address -> TUN (the kernel then delivers it locally).
 *
 * The registration socket is bound to the care-of address's interface; the raw socket
 * names that interface on every send (IP_PKTINFO), so tunnel packets leave the physical
 * interface (or, in mode mc, the VPN's TUN) and never loop into our TUN, and it checks the
 * interface every packet arrived on: IP-in-IP to the binding's care-of address counts only
 * from the binding's interface (in mode mc an IP-in-IP packet to the TIA that did not come
 * out of the VPN would be an injection past ESP). While the trust race runs after a move out
 * of mode mc, packets from the home agent to the new physical address (its replay of what we
 * missed, RFC 5266 3.4.1: the probe is a registration) are held, not delivered: delivered
 * when the verdict is trusted (mode c), dropped otherwise (mnd_dp_hold_release()).
 * Keepalives (RFC 3519 §4.9, §4.10) while UDP tunnelling is in use. No allocation and no
 * copy per packet outside that hold: one receive buffer, and outgoing headers go in their
 * own iovec in front of the packet. Packets are built and
 * checked by the shared tunnel codec (mip4/tunnel.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <glib-unix.h>

#include "common/buf.h"
#include "common/sock.h"
#include "mip4/reg.h"
#include "mip4/tunnel.h"
#include "mnd/mnd.h"

/* Packets handled per wake-up of one source, so the others are not starved. */
#define DP_BUDGET 64
/* RFC 3519 §4.10: keepalives unanswered "even after a number of retransmissions" mean the
 * NAT mapping is gone: register again. We retransmit after KA_REPLY_TIMEOUT, and after
 * KA_MAX_UNANSWERED in a row re-register. */
#define KA_REPLY_TIMEOUT MM_SEC(5)
#define KA_MAX_UNANSWERED 3

static mm_time_ns now_ns(void)
{
	return clock_now(clock_monotonic());
}

/* Rate-limited drop logging (RFC 3519 §3.3: "SHOULD ensure that the amount of log entries
 * written is not excessive"): the first drop of a kind, then one line per 1024. */
static void drop_log(struct mnd *m, uint64_t count, const char *why)
{
	if ((count & 1023) == 1)
		LOG_INFO(&m->log, "dropped: %s (%llu so far)", why, (unsigned long long)count);
}

/* --- outbound ------------------------------------------------------------------------- */

/* sendmsg on the raw socket through the data path's interface (IP_PKTINFO ipi_ifindex:
 * what SO_BINDTODEVICE did, per packet). */
static ssize_t raw_send(struct mnd *m, struct msghdr *msg)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct in_pktinfo *pi;
	struct cmsghdr *c;

	if (m->raw_ifindex > 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg->msg_control = ctl.buf;
		msg->msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(msg);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(*pi));
		pi = (struct in_pktinfo *)(void *)CMSG_DATA(c);
		pi->ipi_ifindex = m->raw_ifindex;
	}
	return sendmsg(m->raw_fd, msg, 0);
}

/* RFC 2003 §3.1: the outer header in front of the packet, in its own iovec (no copy). */
static void send_ipip(struct mnd *m, const uint8_t *inner, size_t len)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = m->cfg.home_agent };
	uint8_t hdr[MIP4_IPIP_OVERHEAD];
	struct iovec iov[2];
	struct msghdr msg;
	struct writer w;
	int n;

	writer_init(&w, hdr, sizeof(hdr));
	n = mip4_ipip_encap_hdr(&w, m->binding.coa, m->cfg.home_agent, ++m->ip_id, inner, len);
	if (n < 0) {
		drop_log(m, ++m->dp.tx_dropped, "packet from the TUN cannot be encapsulated");
		return;
	}
	iov[0].iov_base = hdr;
	iov[0].iov_len = (size_t)n;
	iov[1].iov_base = (void *)inner;
	iov[1].iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_name = &to;
	msg.msg_namelen = sizeof(to);
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (raw_send(m, &msg) < 0) {
		drop_log(m, ++m->dp.tx_dropped, "IP-in-IP send failed");
		return;
	}
	m->dp.tx_packets++;
	m->dp.tx_bytes += len;
	m->last_tx = now_ns();
}

/* A UDP payload to the home agent's port 434 from the registration socket (RFC 3519 §4.9:
 * the registration's source port), in up to two pieces. */
static bool udp_send(struct mnd *m, const void *a, size_t alen, const void *b, size_t blen)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = m->cfg.home_agent,
				  .sin_port = htons(MIP4_PORT) };
	struct iovec iov[2];
	struct msghdr msg;

	if (m->reg->fd < 0)
		return false;
	iov[0].iov_base = (void *)a;
	iov[0].iov_len = alen;
	iov[1].iov_base = (void *)b;
	iov[1].iov_len = blen;
	memset(&msg, 0, sizeof(msg));
	msg.msg_name = &to;
	msg.msg_namelen = sizeof(to);
	msg.msg_iov = iov;
	msg.msg_iovlen = blen ? 2 : 1;
	if (sendmsg(m->reg->fd, &msg, 0) < 0)
		return false;
	m->last_tx = now_ns();
	return true;
}

/* RFC 3519 §3.3, §4.2: outer IP + UDP (the registration's ports) + MIP Tunnel Data header
 * (Type 4, Next Header 4) + the packet. The header goes in its own iovec: no copy. */
static void send_udp(struct mnd *m, const uint8_t *inner, size_t len)
{
	uint8_t hdr[MIP4_UDP_TUNNEL_OVERHEAD];
	struct writer w;
	int n;

	writer_init(&w, hdr, sizeof(hdr));
	n = mip4_udp_tunnel_encap_hdr(&w);
	if (n < 0 || !udp_send(m, hdr, (size_t)n, inner, len)) {
		drop_log(m, ++m->dp.tx_dropped, "UDP tunnel send failed");
		return;
	}
	m->dp.tx_packets++;
	m->dp.tx_bytes += len;
}

/* Without reverse tunnelling the packet leaves as it is (triangular routing), through the
 * raw socket so that it still goes out of the physical interface. */
static void send_native(struct mnd *m, const uint8_t *pkt, size_t len,
			const struct mip4_ipv4_info *ip)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = ip->dst };
	struct iovec iov = { .iov_base = (void *)pkt, .iov_len = len };
	struct msghdr msg = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov,
			      .msg_iovlen = 1 };

	if (raw_send(m, &msg) < 0) {
		drop_log(m, ++m->dp.tx_dropped, "native send failed");
		return;
	}
	m->dp.tx_packets++;
	m->dp.tx_bytes += len;
}

static void tun_packet(struct mnd *m, const uint8_t *pkt, size_t len)
{
	struct mip4_ipv4_info ip;

	if (mip4_ipv4_parse(pkt, len, &ip) < 0) {
		drop_log(m, ++m->dp.tx_dropped, "non-IPv4 or malformed packet from the TUN");
		return;
	}
	if (ip.src.s_addr != m->cfg.home_addr.s_addr) {
		drop_log(m, ++m->dp.tx_dropped, "packet in the TUN not from the home address");
		return;
	}
	if (!m->tunnel_up) {
		drop_log(m, ++m->dp.tx_dropped, "packet from the home address while not "
			 "registered");
		return;
	}
	/* Without reverse tunnelling, or registered through a foreign agent (mode f: the agent
	 * tunnels, RFC 3024 3.3; the route sends there directly, this is what reached the TUN
	 * while the route changed): out as it is. */
	if (!m->cfg.reverse_tunnel || m->binding.via_fa)
		send_native(m, pkt, len, &ip);
	else if (m->binding.encap == MN_ENCAP_UDP)
		send_udp(m, pkt, len);
	else
		send_ipip(m, pkt, len);
}

static gboolean on_tun(gint fd, GIOCondition cond, gpointer user)
{
	struct mnd *m = user;

	(void)cond;
	for (int i = 0; i < DP_BUDGET; i++) {
		ssize_t n = read(fd, m->pkt, MND_PKT_MAX);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				LOG_WARNING(&m->log, "TUN read: %s", strerror(errno));
			break;
		}
		tun_packet(m, m->pkt, (size_t)n);
	}
	return G_SOURCE_CONTINUE;
}

/* --- inbound -------------------------------------------------------------------------- */

/* How long after a move the packets the home agent sends again (daemon/replay.h) may still
 * arrive: its replay follows the Registration Reply at once, so a few round trips. */
#define DEDUP_AFTER_MOVE MM_SEC(3)

static void to_tun(struct mnd *m, const uint8_t *inner, size_t len)
{
	bool after_move = false;

	/* The clock is read only during the few seconds after a move. */
	if (m->dedup_until) {
		after_move = now_ns() < m->dedup_until;
		if (!after_move)
			m->dedup_until = 0;
	}

	if (m->dedup && mnd_dedup_seen(m->dedup, inner, len, after_move)) {
		m->dp.rx_duplicates++;
		return;
	}
	if (write(m->tun_fd, inner, len) < 0) {
		drop_log(m, ++m->dp.rx_dropped, "TUN write failed");
		return;
	}
	m->dp.rx_packets++;
	m->dp.rx_bytes += len;
}

/* The tunnelled packet must be for our home address (RFC 2003 §3: the decapsulator checks
 * what it forwards; we only ever deliver to ourselves). */
static bool inner_ok(struct mnd *m, const struct mip4_ipv4_info *in)
{
	if (in->dst.s_addr != m->cfg.home_addr.s_addr) {
		drop_log(m, ++m->dp.rx_dropped, "tunnelled packet not for the home address");
		return false;
	}
	return true;
}

/* The bytes of a packet located by the tunnel codec (off, len within buf[0..buf_len)). */
static bool locate(const uint8_t *buf, size_t buf_len, const struct mip4_ipv4_info *in,
		   const uint8_t **p)
{
	struct reader r;

	reader_init(&r, buf, buf_len);
	return reader_skip(&r, in->off) && reader_view(&r, in->len, p);
}

/* Keep a packet for the verdict (mnd_dp_hold_release()): length-prefixed in one arena,
 * allocated on first use; what does not fit is dropped and counted. */
static void hold(struct mnd *m, const uint8_t *inner, size_t len)
{
	uint32_t n = (uint32_t)len;

	if (!m->held)
		m->held = malloc(MND_HOLD_BYTES);
	if (!m->held || m->held_len + sizeof(n) + len > MND_HOLD_BYTES) {
		m->dp.held_dropped++;
		return;
	}
	memcpy(m->held + m->held_len, &n, sizeof(n));
	memcpy(m->held + m->held_len + sizeof(n), inner, len);
	m->held_len += sizeof(n) + len;
	m->dp.held++;
}

static void raw_packet(struct mnd *m, const uint8_t *pkt, size_t len, int ifindex)
{
	struct mip4_ipip_info info;
	const uint8_t *inner;
	bool to_binding, to_attachment;

	if (mip4_ipip_decap(pkt, len, &info) < 0 || !locate(pkt, len, &info.inner, &inner)) {
		drop_log(m, ++m->dp.rx_dropped, "malformed IP-in-IP packet");
		return;
	}
	/* Only the home agent tunnels to us, and only to the care-of address in force on its
	 * interface: the binding's (the TIA in mode mc, out of the VPN's TUN), or, while a
	 * registration from a new attachment is under way, that attachment's address on its
	 * interface (the home agent replays what we missed, daemon/replay.h). */
	to_binding = m->tunnel_up && info.outer_dst.s_addr == m->binding.coa.s_addr &&
		     ifindex == m->raw_ifindex;
	to_attachment = !to_binding && m->loc.where == MND_AWAY &&
			info.outer_dst.s_addr == m->loc.addr.s_addr && ifindex == m->loc.ifindex;
	if (info.outer_src.s_addr != m->cfg.home_agent.s_addr || !(to_binding || to_attachment)) {
		drop_log(m, ++m->dp.rx_dropped, "IP-in-IP packet not from the home agent to our "
			 "care-of address");
		return;
	}
	if (!inner_ok(m, &info.inner))
		return;
	/* The data path is still on another interface (the VPN's, mode mc): the network is
	 * not trusted yet, so nothing that came in the clear reaches the home address; it
	 * waits for the verdict. */
	if (to_attachment && ifindex != m->raw_ifindex) {
		hold(m, inner, info.inner.len);
		return;
	}
	to_tun(m, inner, info.inner.len);
}

void mnd_dp_hold_release(struct mnd *m, bool deliver)
{
	size_t off = 0;
	uint64_t n = 0;

	while (m->held && off + sizeof(uint32_t) <= m->held_len) {
		uint32_t len;

		memcpy(&len, m->held + off, sizeof(len));
		off += sizeof(len);
		if (len > m->held_len - off)
			break;
		if (deliver)
			to_tun(m, m->held + off, len);
		off += len;
		n++;
	}
	if (n)
		LOG_INFO(&m->log, "%s %llu packet%s held during the trust race",
			 deliver ? "delivered" : "dropped", (unsigned long long)n,
			 n == 1 ? "" : "s");
	free(m->held);
	m->held = NULL;
	m->held_len = 0;
}

static gboolean on_raw(gint fd, GIOCondition cond, gpointer user)
{
	struct mnd *m = user;

	(void)cond;
	for (int i = 0; i < DP_BUDGET; i++) {
		struct sock_dgram_meta meta;
		ssize_t n = sock_recv4(fd, m->pkt, MND_PKT_MAX, &meta);

		if (n == -EMSGSIZE) {
			drop_log(m, ++m->dp.rx_dropped, "oversized IP-in-IP packet");
			continue;
		}
		if (n < 0) {
			if (n != -EAGAIN && n != -EINTR)
				LOG_WARNING(&m->log, "raw socket: %s", strerror((int)-n));
			break;
		}
		raw_packet(m, m->pkt, (size_t)n, meta.ifindex);
	}
	return G_SOURCE_CONTINUE;
}

void mnd_dp_udp_input(struct mnd *m, const uint8_t *msg, size_t len, struct in_addr src,
		      uint16_t sport)
{
	struct mip4_ipv4_info in;
	struct mip4_keepalive ka;
	const uint8_t *inner;
	int kind;

	(void)src;
	(void)sport; /* checked by the caller: the home agent's port 434 */
	/* §3.3: Next Header must match the binding's mode (IP-in-UDP), or the packet is
	 * dropped (-EPROTONOSUPPORT); tunnel data only flows on a binding with UDP tunnelling
	 * (§4.7). */
	if (mip4_udp_tunnel_decap(msg, len, &in) < 0 || !locate(msg, len, &in, &inner)) {
		drop_log(m, ++m->dp.rx_dropped, "malformed MIP tunnel data, or not IP-in-UDP");
		return;
	}
	/* Tunnel data flows on a UDP-tunnelled binding (§4.7), and, while a registration from
	 * a new care-of address is under way, may arrive just before its reply: the home agent
	 * has the binding in force and sends what we missed during the move (daemon/replay.h). */
	if (m->loc.where != MND_AWAY || (m->tunnel_up && m->binding.encap != MN_ENCAP_UDP)) {
		drop_log(m, ++m->dp.rx_dropped, "MIP tunnel data outside a UDP-tunnelled binding");
		return;
	}
	if (!inner_ok(m, &in))
		return;
	/* The answer to our keepalive (§4.9): the NAT mapping still works. */
	kind = mip4_keepalive_classify(inner, in.len, m->cfg.home_agent, &ka);
	if (kind < 0) {
		drop_log(m, ++m->dp.rx_dropped, "keepalive with a bad ICMP checksum");
		return;
	}
	if (kind == MIP4_KEEPALIVE_REPLY && ka.echo_id == m->ka_id) {
		m->dp.keepalive_replies++;
		m->ka_unanswered = 0;
		LOG_DEBUG(&m->log, "keepalive reply %u from the home agent", ka.seq);
		return;
	}
	to_tun(m, inner, in.len);
}

/* --- keepalives (RFC 3519 §4.9) ------------------------------------------------------- */

static mm_time_ns ka_interval(const struct mnd *m)
{
	return MM_SEC(m->binding.keepalive ? m->binding.keepalive : m->cfg.keepalive);
}

static void ka_arm(struct mnd *m)
{
	mm_time_ns next = m->last_tx + ka_interval(m);

	if (m->ka_unanswered) {
		mm_time_ns retry = now_ns() + KA_REPLY_TIMEOUT;

		if (retry < next)
			next = retry;
	}
	mnd_timer_arm(m->ka_timer, next);
}

static void send_keepalive(struct mnd *m)
{
	uint8_t buf[MIP4_KEEPALIVE_LEN];
	struct writer w;
	int n;

	writer_init(&w, buf, sizeof(buf));
	n = mip4_keepalive_request_encode(&w, m->cfg.home_addr, m->cfg.home_agent, ++m->ip_id,
					  m->ka_id, ++m->ka_seq);
	if (n < 0) {
		LOG_ERROR(&m->log, "cannot encode a keepalive: %s", strerror(-n));
		return;
	}
	if (!udp_send(m, buf, (size_t)n, NULL, 0)) {
		LOG_INFO(&m->log, "cannot send a keepalive: %s", strerror(errno));
		return;
	}
	m->dp.keepalives_sent++;
	m->ka_unanswered++;
	LOG_DEBUG(&m->log, "keepalive %u to the home agent", m->ka_seq);
}

static void on_ka_timer(void *user)
{
	struct mnd *m = user;

	if (!m->tunnel_up || m->binding.encap != MN_ENCAP_UDP)
		return;
	if (m->ka_unanswered >= KA_MAX_UNANSWERED) {
		/* §4.10: "SHOULD re-register with the home agent" to tell it about the new NAT
		 * mapping. */
		LOG_WARNING(&m->log, "%u keepalives unanswered: the NAT mapping may be lost, "
			    "registering again", m->ka_unanswered);
		m->ka_unanswered = 0;
		mnd_reg_refresh(m);
		ka_arm(m);
		return;
	}
	if (m->ka_unanswered || now_ns() >= m->last_tx + ka_interval(m))
		send_keepalive(m);
	ka_arm(m);
}

/* --- binding and interface ------------------------------------------------------------ */

void mnd_dp_binding_up(struct mnd *m, const struct mn_binding *b)
{
	char c[ADDR4_STRLEN], h[ADDR4_STRLEN];
	m->tunnel_up = true;
	m->binding = *b;
	if (b->encap == MN_ENCAP_UDP) {
		m->ka_unanswered = 0;
		ka_arm(m);
		LOG_INFO(&m->log, "tunnel up: UDP %s:%u -> %s:434, keepalive %u s",
			 addr4_str(b->coa, c), m->reg->port, addr4_str(m->cfg.home_agent, h),
			 b->keepalive);
	} else {
		mnd_timer_disarm(m->ka_timer);
		LOG_INFO(&m->log, "tunnel up: IP-in-IP %s -> %s", addr4_str(b->coa, c),
			 addr4_str(m->cfg.home_agent, h));
	}
}

void mnd_dp_binding_down(struct mnd *m)
{
	if (m->tunnel_up)
		LOG_INFO(&m->log, "tunnel down");
	m->tunnel_up = false;
	mnd_timer_disarm(m->ka_timer);
}

void mnd_dp_moved(struct mnd *m)
{
	/* A new care-of address: once the home agent has our registration it sends again what
	 * went to the old one (daemon/replay.h); drop what had already arrived. */
	m->dedup_until = now_ns() + DEDUP_AFTER_MOVE;
}

int mnd_dp_set_interface(struct mnd *m, const char *ifname)
{
	int ifindex = 0;

	if (strcmp(m->raw_ifname, ifname) == 0)
		return 0;
	if (ifname[0] && (ifindex = (int)if_nametoindex(ifname)) == 0) {
		LOG_ERROR(&m->log, "the data path cannot use %s: %s", ifname, strerror(errno));
		return -errno;
	}
	m->raw_ifindex = ifindex;
	snprintf(m->raw_ifname, sizeof(m->raw_ifname), "%s", ifname);
	return 0;
}

int mnd_dp_init(struct mnd *m)
{
	int fd;

	fd = sock_raw4_open(IPPROTO_IPIP, SOCK_F_HDRINCL | SOCK_F_PKTINFO);
	if (fd < 0) {
		LOG_ERROR(&m->log, "cannot open the IP-in-IP raw socket: %s", strerror(-fd));
		return fd;
	}
	/* A handover replay (daemon/replay.h) arrives as a burst of hundreds of packets. */
	if (sock_set_buffers(fd, SOCK_DATAPATH_BUF, 0) < 0)
		LOG_WARNING(&m->log, "cannot enlarge the IP-in-IP socket's receive buffer");
	m->raw_fd = fd;
	m->raw_ifname[0] = 0;
	m->raw_ifindex = 0;
	m->dedup = g_new0(struct mnd_dedup, 1);
	m->raw_watch = g_unix_fd_add(fd, G_IO_IN, on_raw, m);
	m->tun_watch = g_unix_fd_add(m->tun_fd, G_IO_IN, on_tun, m);
	m->ka_timer = mnd_timer_new(on_ka_timer, m);
	m->ka_id = (uint16_t)(getpid() ^ 0x4d4e);
	return 0;
}

void mnd_dp_close(struct mnd *m)
{
	if (m->tun_watch) {
		g_source_remove(m->tun_watch);
		m->tun_watch = 0;
	}
	if (m->raw_watch) {
		g_source_remove(m->raw_watch);
		m->raw_watch = 0;
	}
	if (m->raw_fd >= 0) {
		close(m->raw_fd);
		m->raw_fd = -1;
	}
	if (m->ka_timer) {
		mnd_timer_free(m->ka_timer);
		m->ka_timer = NULL;
	}
	g_free(m->dedup);
	m->dedup = NULL;
	free(m->held);
	m->held = NULL;
	m->held_len = 0;
}
