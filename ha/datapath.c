/* The home agent's user-space data path. See datapath.h. */
#include "ha/datapath.h"

#include <errno.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/ratelimit.h"
#include "common/sock.h"
#include "daemon/droplog.h"
#include "ha/pmtu.h"
#include "daemon/replay.h"
#include "mip4/tunnel.h"

#define BATCH 64
/* Each forward buffer: room for the outer IPv4 header, then the packet read from the TUN.
 * The TUN's MTU (HA_TUN_MTU) is far below what fits; a read that fills it was truncated. */
#define FWD_HEADROOM MIP4_IPIP_OVERHEAD
#define FWD_BUFSIZE 2048
#define REV_BATCH 16
#define REV_BUFSIZE (MIP4_IPV4_MAX + 1)

struct ha_datapath {
	struct ha_engine *ha;
	int tun_fd, raw_fd, udp_fd;
	struct in_addr ha_addr;
	ha_dp_changed_fn changed;
	void *user;
	uint16_t ip_id;
	struct ha_dp_stats st;
	struct logger log;
	struct ratelimit drop_rl;      /* drop lines (common/ratelimit.h) */

	uint8_t *fwd_pool;             /* BATCH * FWD_BUFSIZE */
	struct sock_batch tx_raw, tx_udp;
	uint8_t *rev_pool;             /* REV_BATCH * REV_BUFSIZE */
	struct sock_batch rx_raw;
	struct ha_actions actions;
	struct pkt_replay *replay;      /* NULL: handover replay off */
	mm_time_ns replay_window;
	mm_time_ns replay_rtt;
	size_t replay_max_bytes;
	unsigned replay_idx[PKT_REPLAY_SLOTS_DEFAULT];
	uint8_t ka_reply[MIP4_UDP_TUNNEL_OVERHEAD + MIP4_IPV4_MAX];
	/* Tunnel path MTU (RFC 2003 §5.1) */
	int mtu_fd;                    /* UDP, connect()ed to an endpoint to read IP_MTU */
	struct ha_pmtu_cache pmtu;
	struct ha_pmtu_rl icmp_rl;
	uint8_t icmp[HA_PMTU_ICMP_MAX];
};

/* Drop lines, rate-limited (daemon/droplog.h; RFC 3519 §3.3: "not excessive"). */
#define drop_log(dp, ...) droplog(&(dp)->drop_rl, &(dp)->st.log_suppressed, &(dp)->log, \
				 clock_now(clock_monotonic()), "dropped: ", __VA_ARGS__)

int ha_datapath_new(struct ha_engine *ha, int tun_fd, int raw_fd, int udp_fd,
		    struct in_addr ha_addr, ha_dp_changed_fn changed, void *user,
		    struct ha_datapath **out)
{
	struct ha_datapath *dp;
	int rc;

	if (!ha || tun_fd < 0 || raw_fd < 0 || udp_fd < 0 || !out)
		return -EINVAL;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	logger_init(&dp->log, "ha[data]");
	dp->mtu_fd = -1;
	dp->fwd_pool = malloc((size_t)BATCH * FWD_BUFSIZE);
	dp->rev_pool = malloc((size_t)REV_BATCH * REV_BUFSIZE);
	if (!dp->fwd_pool || !dp->rev_pool) {
		ha_datapath_free(dp);
		return -ENOMEM;
	}
	/* Bursts (a full TUN batch, a handover replay of hundreds of packets) must not
	 * overflow the default socket buffers: a drop there is the newest packets, the very
	 * ones a replay is for. */
	rc = sock_set_buffers(raw_fd, SOCK_DATAPATH_BUF, SOCK_DATAPATH_BUF);
	if (rc == 0)
		rc = sock_set_buffers(udp_fd, SOCK_DATAPATH_BUF, SOCK_DATAPATH_BUF);
	if (rc < 0)
		LOG_WARNING(&dp->log, "cannot enlarge the tunnel sockets' buffers: %s",
			    strerror(-rc));
	sock_batch_init(&dp->tx_raw, dp->fwd_pool, BATCH, FWD_BUFSIZE);
	sock_batch_init(&dp->tx_udp, dp->fwd_pool, BATCH, FWD_BUFSIZE);
	sock_batch_init(&dp->rx_raw, dp->rev_pool, REV_BATCH, REV_BUFSIZE);
	dp->ha = ha;
	dp->tun_fd = tun_fd;
	dp->raw_fd = raw_fd;
	dp->udp_fd = udp_fd;
	dp->ha_addr = ha_addr;
	dp->changed = changed;
	dp->user = user;
	ratelimit_init(&dp->drop_rl);
	ha_pmtu_cache_init(&dp->pmtu);
	ha_pmtu_rl_init(&dp->icmp_rl);
	dp->mtu_fd = sock_udp4_open(NULL, 0);
	if (dp->mtu_fd < 0)
		LOG_WARNING(&dp->log, "no socket to read tunnel path MTUs (%s): packets too big "
			    "for a tunnel are dropped without ICMP", strerror(-dp->mtu_fd));
	*out = dp;
	return 0;
}

void ha_datapath_free(struct ha_datapath *dp)
{
	if (!dp)
		return;
	if (dp->mtu_fd >= 0)
		close(dp->mtu_fd);
	free(dp->fwd_pool);
	free(dp->rev_pool);
	pkt_replay_free(dp->replay);
	free(dp);
}

const struct ha_dp_stats *ha_datapath_stats(const struct ha_datapath *dp)
{
	return dp ? &dp->st : NULL;
}

/* --- tunnel path MTU (RFC 2003 §5.1, RFC 1191) ----------------------------------------- */

/* The kernel's path MTU to ep (its route, with the PMTU it learnt from ICMP "fragmentation
 * needed" about our outer packets), remembered for HA_PMTU_AGE. 0 if it cannot be read. A
 * fresh connect() each time: it looks the route up again, the cached one may be stale. */
static unsigned pmtu_learn(struct ha_datapath *dp, struct in_addr ep)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(int);
	int mtu = 0;

	if (dp->mtu_fd < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr = ep;
	sa.sin_port = htons(434);
	if (connect(dp->mtu_fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockopt(dp->mtu_fd, IPPROTO_IP, IP_MTU, &mtu, &len) < 0 || mtu <= 0)
		return 0;
	ha_pmtu_cache_learn(&dp->pmtu, ep, (unsigned)mtu, clock_now(clock_monotonic()));
	dp->st.pmtu_learned++;
	return (unsigned)mtu;
}

/* pkt[0, n) (an inner IPv4 packet with DF) does not fit the tunnel to ep whose path MTU is
 * pmtu: drop it and tell its source (RFC 2003 §5.1, RFC 792 type 3 code 4, RFC 1191 §4),
 * rate-limited (RFC 1812 §4.3.2.8). */
static void too_big(struct ha_datapath *dp, const uint8_t *pkt, size_t n, struct in_addr ep,
		    unsigned pmtu, unsigned overhead)
{
	uint16_t mtu = ha_pmtu_next_hop_mtu(pmtu, overhead);
	struct mip4_ipv4_info ip;
	struct sockaddr_in to;
	char a[ADDR4_STRLEN], e[ADDR4_STRLEN];
	struct writer w;
	ssize_t rc;
	int len;

	dp->st.too_big_dropped++;
	/* Without DF the outer packet had none either: not a path MTU refusal. */
	if (mip4_ipv4_parse(pkt, n, &ip) < 0 || !ip.df) {
		dp->st.frag_needed_refused++;
		return;
	}
	if (!ha_pmtu_rl_allow(&dp->icmp_rl, clock_now(clock_monotonic()))) {
		dp->st.frag_needed_limited++;
		return;
	}
	writer_init(&w, dp->icmp, sizeof(dp->icmp));
	len = ha_pmtu_frag_needed_build(&w, dp->ha_addr, pkt, n, mtu, dp->ip_id++);
	if (len < 0) {
		dp->st.frag_needed_refused++;
		drop_log(dp, "packet from %s of %zu bytes does not fit the tunnel to %s (path MTU "
			 "%u), no ICMP about it (RFC 1122 section 3.2.2)", addr4_str(ip.src, a), n,
			 addr4_str(ep, e), pmtu);
		return;
	}
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr = ip.src;
	rc = sock_send4(dp->raw_fd, dp->icmp, (size_t)len, &to, NULL, 0);
	if (rc < 0) {
		dp->st.frag_needed_refused++;
		drop_log(dp, "cannot send fragmentation needed to %s: %s", addr4_str(ip.src, a),
			 strerror((int)-rc));
		return;
	}
	dp->st.frag_needed_sent++;
	drop_log(dp, "packet from %s of %zu bytes with DF does not fit the tunnel to %s (path "
		 "MTU %u): sent fragmentation needed, MTU %u (RFC 2003 section 5.1)",
		 addr4_str(ip.src, a), n, addr4_str(ep, e), pmtu, mtu);
}

/* Checked before encapsulation: may pkt[0, n) go through b's tunnel? */
static bool pmtu_fits(struct ha_datapath *dp, const struct mip4_binding *b,
		      const uint8_t *pkt, size_t n)
{
	unsigned overhead = b->encap == MIP4_ENCAP_IPIP ? HA_PMTU_OVERHEAD_IPIP
							: HA_PMTU_OVERHEAD_UDP;
	struct mip4_ipv4_info ip;
	unsigned pmtu;

	if (dp->pmtu.n == 0)
		return true;
	pmtu = ha_pmtu_cache_get(&dp->pmtu, b->ep_addr, clock_now(clock_monotonic()));
	if (pmtu == 0 || n + overhead <= pmtu || mip4_ipv4_parse(pkt, n, &ip) < 0)
		return true;    /* fits, unknown, or fwd_queue's encoder refuses it */
	switch (ha_pmtu_check(n, ip.df, pmtu, overhead)) {
	case HA_PMTU_TOO_BIG_DF:
		too_big(dp, pkt, n, b->ep_addr, pmtu, overhead);
		return false;
	case HA_PMTU_TOO_BIG:
		/* RFC 2003 §5.1: no DF, so the outer packet (DF copied: clear) may be
		 * fragmented; the kernel does it. */
		dp->st.too_big_fragmented++;
		return true;
	case HA_PMTU_FITS:
		break;
	}
	return true;
}

/* Send slot[0..count) of b, skipping slots the kernel refuses. Each slot's data is the
 * inner packet after `skip` bytes of encapsulation; `overhead` is what the encapsulation
 * adds on the wire (pmtu.h). */
static void flush(struct ha_datapath *dp, int fd, struct sock_batch *b, size_t skip,
		  unsigned overhead)
{
	unsigned first = 0;

	while (first < b->count) {
		int n = sock_send4_batch(fd, b, first);

		if (n > 0) {
			first += (unsigned)n;
			continue;
		}
		if (n == -EMSGSIZE) {
			/* The kernel knows a smaller path MTU to this endpoint than the
			 * packet: learn it and answer this packet as the next ones will be. */
			const struct sock_batch_slot *s = &b->slot[first];
			unsigned pmtu = pmtu_learn(dp, s->meta.peer.sin_addr);
			const uint8_t *inner;
			size_t inner_len;
			struct reader r;

			reader_init(&r, s->data, s->len);
			if (pmtu && reader_skip(&r, skip) &&
			    reader_view_rest(&r, &inner, &inner_len) &&
			    ha_pmtu_check(inner_len, true, pmtu, overhead) != HA_PMTU_FITS) {
				dp->st.fwd_packets--;
				too_big(dp, inner, inner_len, s->meta.peer.sin_addr, pmtu,
					overhead);
				first++;
				continue;
			}
		}
		if (n == -EAGAIN) {
			/* Socket buffer full: drop the rest rather than block the loop. */
			dp->st.fwd_send_errors += b->count - first;
			dp->st.fwd_packets -= b->count - first;
			break;
		}
		dp->st.fwd_send_errors++;
		dp->st.fwd_packets--;
		if (dp->st.fwd_send_errors % 1000 == 1) {
			char a[ADDR4_STRLEN];

			drop_log(dp, "cannot send a tunnelled packet to %s: %s",
				 addr4_str(b->slot[first].meta.peer.sin_addr, a), strerror(-n));
		}
		first++;
	}
	b->count = 0;
}

/* --- forward: TUN -> tunnel ----------------------------------------------------------- */

/* Queue the packet pkt[0, n) (IPv4, parsed into ip) for binding b: the encapsulation goes
 * in front of it, into buf's headroom (pkt == buf + FWD_HEADROOM). */
static bool fwd_queue(struct ha_datapath *dp, const struct mip4_binding *b, uint8_t *buf,
		      uint8_t *pkt, size_t n)
{
	struct sock_batch_slot *s;
	struct writer w;

	if (!pmtu_fits(dp, b, pkt, n))
		return false;
	if (b->encap == MIP4_ENCAP_IPIP) {
		/* RFC 2003 §3.1: outer header HA -> care-of address in front. */
		s = &dp->tx_raw.slot[dp->tx_raw.count];
		writer_init(&w, buf, MIP4_IPIP_OVERHEAD);
		if (mip4_ipip_encap_hdr(&w, dp->ha_addr, b->ep_addr, dp->ip_id++, pkt, n) < 0) {
			dp->st.fwd_bad++;
			return false;
		}
		s->data = buf;
		s->len = MIP4_IPIP_OVERHEAD + n;
		memset(&s->meta, 0, sizeof(s->meta));
		s->meta.peer.sin_family = AF_INET;
		s->meta.peer.sin_addr = b->ep_addr;
		dp->tx_raw.count++;
	} else {
		/* RFC 3519 §3.3: Tunnel Data header in front, from port 434. */
		uint8_t *hdr = pkt - MIP4_UDP_TUNNEL_OVERHEAD;

		if (b->ep_port == 0) {
			dp->st.fwd_half_bound++;
			return false;
		}
		s = &dp->tx_udp.slot[dp->tx_udp.count];
		writer_init(&w, hdr, MIP4_UDP_TUNNEL_OVERHEAD);
		if (mip4_udp_tunnel_encap_hdr(&w) < 0) {
			dp->st.fwd_bad++;
			return false;
		}
		s->data = hdr;
		s->len = MIP4_UDP_TUNNEL_OVERHEAD + n;
		memset(&s->meta, 0, sizeof(s->meta));
		s->meta.peer.sin_family = AF_INET;
		s->meta.peer.sin_addr = b->ep_addr;
		s->meta.peer.sin_port = htons(b->ep_port);
		s->meta.local = dp->ha_addr;
		dp->tx_udp.count++;
	}
	dp->st.fwd_packets++;
	dp->st.fwd_bytes += (uint64_t)n;
	return true;
}

static void fwd_flush(struct ha_datapath *dp)
{
	if (dp->tx_raw.count)
		flush(dp, dp->raw_fd, &dp->tx_raw, MIP4_IPIP_OVERHEAD, HA_PMTU_OVERHEAD_IPIP);
	if (dp->tx_udp.count)
		flush(dp, dp->udp_fd, &dp->tx_udp, MIP4_UDP_TUNNEL_OVERHEAD,
		      HA_PMTU_OVERHEAD_UDP);
}

void ha_datapath_tun_readable(struct ha_datapath *dp)
{
	mm_time_ns now = dp->replay ? clock_now(clock_monotonic()) : 0;

	dp->tx_raw.count = 0;
	dp->tx_udp.count = 0;
	for (unsigned i = 0; i < BATCH; i++) {
		uint8_t *buf = dp->fwd_pool + (size_t)i * FWD_BUFSIZE;
		uint8_t *pkt = buf + FWD_HEADROOM;
		const size_t cap = FWD_BUFSIZE - FWD_HEADROOM;
		const struct mip4_binding *b;
		struct mip4_ipv4_info ip;
		char a[ADDR4_STRLEN];
		ssize_t n = read(dp->tun_fd, pkt, cap);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				LOG_ERROR(&dp->log, "reading the tunnel device: %s",
					  strerror(errno));
			break;
		}
		if ((size_t)n == cap || mip4_ipv4_parse(pkt, (size_t)n, &ip) < 0 || ip.ttl == 0) {
			dp->st.fwd_bad++;
			continue;
		}
		b = ha_engine_lookup(dp->ha, ip.dst);
		if (!b) {
			dp->st.fwd_no_binding++;
			drop_log(dp, "packet to %s: no binding", addr4_str(ip.dst, a));
			continue;
		}
		/* Recorded before encapsulation: the slot keeps the inner packet only. */
		if (dp->replay)
			pkt_replay_record(dp->replay, ip.dst, pkt, (size_t)n, now);
		fwd_queue(dp, b, buf, pkt, (size_t)n);
	}
	fwd_flush(dp);
}

/* --- handover replay (daemon/replay.h) ------------------------------------------------------- */

void ha_datapath_set_replay(struct ha_datapath *dp, mm_time_ns window, mm_time_ns rtt,
			    size_t max_bytes)
{
	if (!dp)
		return;
	dp->replay_window = window;
	dp->replay_rtt = rtt;
	dp->replay_max_bytes = max_bytes;
	if (window == 0) {
		pkt_replay_free(dp->replay);
		dp->replay = NULL;
		return;
	}
	if (!dp->replay && pkt_replay_new(PKT_REPLAY_SLOTS_DEFAULT, PKT_REPLAY_SLOT_DATA, &dp->replay) < 0)
		LOG_WARNING(&dp->log, "no memory for the handover replay buffer: feature off");
}

void ha_datapath_replay(struct ha_datapath *dp, struct in_addr hoa)
{
	unsigned *idx = dp->replay_idx;
	const struct mip4_binding *b;
	mm_time_ns now, since;
	unsigned n, done = 0;
	size_t bytes = 0;
	char a[ADDR4_STRLEN];

	if (!dp || !dp->replay)
		return;
	b = ha_engine_lookup(dp->ha, hoa);
	if (!b)
		return;
	now = clock_now(clock_monotonic());
	since = pkt_replay_start(dp->replay, hoa, now, dp->replay_window, dp->replay_rtt);
	n = pkt_replay_select(dp->replay, hoa, since, dp->replay_max_bytes, idx,
			     PKT_REPLAY_SLOTS_DEFAULT);
	while (done < n) {
		dp->tx_raw.count = 0;
		dp->tx_udp.count = 0;
		for (unsigned i = 0; i < BATCH && done < n; i++, done++) {
			uint8_t *buf = dp->fwd_pool + (size_t)i * FWD_BUFSIZE;
			size_t len;
			const uint8_t *p = pkt_replay_packet(dp->replay, idx[done], &len);

			if (!p)
				continue;
			memcpy(buf + FWD_HEADROOM, p, len);
			if (fwd_queue(dp, b, buf, buf + FWD_HEADROOM, len)) {
				dp->st.replayed_packets++;
				bytes += len;
			}
		}
		fwd_flush(dp);
	}
	if (n)
		LOG_INFO(&dp->log, "handover replay for %s: %u packets (%zu bytes) of the last "
			 "%llu ms sent again to the new care-of address", addr4_str(hoa, a), n,
			 bytes, (unsigned long long)((now - since) / MM_MSEC(1)));
}

/* --- reverse: tunnel -> TUN ----------------------------------------------------------- */

#define EP_STRLEN (ADDR4_STRLEN + 6)

/* "a.b.c.d" for IP-in-IP, "a.b.c.d:port" for UDP. */
static const char *ep_str(struct in_addr a, uint16_t port, uint8_t encap, char buf[EP_STRLEN])
{
	char s[ADDR4_STRLEN];

	if (encap == MIP4_ENCAP_UDP)
		snprintf(buf, EP_STRLEN, "%s:%u", addr4_str(a, s), port);
	else
		snprintf(buf, EP_STRLEN, "%s", addr4_str(a, s));
	return buf;
}

/* RFC 3024 §4.3.2: a binding for the inner source that granted reverse tunnelling with this
 * encapsulation, whose endpoint is the outer source. NULL (after logging) otherwise. */
static bool reverse_allowed(struct ha_datapath *dp, enum mip4_encap encap,
			    const struct sockaddr_in *outer, struct in_addr inner_src)
{
	const struct mip4_binding *b = ha_engine_lookup(dp->ha, inner_src);
	char a[ADDR4_STRLEN], o[EP_STRLEN], e[EP_STRLEN];
	const char *why = NULL;

	if (!b)
		why = "no binding for the inner source";
	else if (!(b->req_flags & MIP4_REQ_T))
		why = "reverse tunnelling was not requested (T) at registration";
	else if (b->encap != encap)
		why = "encapsulation not negotiated for this binding";
	else if (b->ep_addr.s_addr != outer->sin_addr.s_addr ||
		 (encap == MIP4_ENCAP_UDP && b->ep_port != ntohs(outer->sin_port)))
		why = "outer source is not the binding's tunnel endpoint";
	if (!why)
		return true;
	dp->st.rev_rejected++;
	drop_log(dp, "security exception: %s packet from %s with inner source %s: %s%s%s",
		 encap == MIP4_ENCAP_UDP ? "UDP-tunnelled" : "IP-in-IP",
		 ep_str(outer->sin_addr, ntohs(outer->sin_port), encap, o),
		 addr4_str(inner_src, a), why, b ? "; the binding's endpoint is " : "",
		 b ? ep_str(b->ep_addr, b->ep_port, b->encap, e) : "");
	return false;
}

/* Write the inner packet pkt[off, off+len) into the TUN. */
static void to_tun(struct ha_datapath *dp, const uint8_t *pkt, size_t pkt_len, size_t off,
		   size_t len)
{
	const uint8_t *inner;
	struct reader r;

	reader_init(&r, pkt, pkt_len);
	if (!reader_skip(&r, off) || !reader_view(&r, len, &inner)) {
		dp->st.rev_malformed++;
		return;
	}
	if (write(dp->tun_fd, inner, len) != (ssize_t)len) {
		dp->st.rev_write_errors++;
		return;
	}
	dp->st.rev_packets++;
	dp->st.rev_bytes += len;
}

void ha_datapath_raw_readable(struct ha_datapath *dp)
{
	int n = sock_recv4_batch(dp->raw_fd, &dp->rx_raw);

	if (n < 0) {
		if (n != -EAGAIN)
			LOG_ERROR(&dp->log, "reading the IP-in-IP socket: %s", strerror(-n));
		return;
	}
	for (int i = 0; i < n; i++) {
		const struct sock_batch_slot *s = &dp->rx_raw.slot[i];
		struct mip4_ipip_info info;
		struct sockaddr_in outer;
		char a[ADDR4_STRLEN];
		int rc;

		if (s->truncated) {
			dp->st.rev_malformed++;
			continue;
		}
		rc = mip4_ipip_decap(s->data, s->len, &info);
		if (rc < 0) {
			dp->st.rev_malformed++;
			drop_log(dp, "IP-in-IP packet from %s: %s",
				 addr4_str(s->meta.peer.sin_addr, a),
				 rc == -EOPNOTSUPP ? "outer fragment (no reassembly)" :
				 rc == -ETIME ? "inner TTL 0" : "malformed");
			continue;
		}
		if (info.outer_dst.s_addr != dp->ha_addr.s_addr) {
			dp->st.rev_not_for_us++;
			continue;
		}
		memset(&outer, 0, sizeof(outer));
		outer.sin_family = AF_INET;
		outer.sin_addr = info.outer_src;
		if (!reverse_allowed(dp, MIP4_ENCAP_IPIP, &outer, info.inner.src))
			continue;
		if (dp->replay)
			pkt_replay_note_reverse(dp->replay, info.inner.src,
					       clock_now(clock_monotonic()));
		to_tun(dp, s->data, s->len, info.inner.off, info.inner.len);
	}
}

static void keepalive(struct ha_datapath *dp, const uint8_t *inner, size_t len,
		      const struct mip4_keepalive *ka, const struct sockaddr_in *src)
{
	struct writer w;
	int rc, n;

	memset(&dp->actions, 0, sizeof(dp->actions));
	dp->actions.code = -1;
	rc = ha_engine_keepalive(dp->ha, src, ka->src, ka->dst, &dp->actions);
	if (rc < 0) {
		dp->st.keepalives_refused++;
		return;       /* logged by the engine */
	}
	if (dp->actions.nevents && dp->changed)
		dp->changed(dp->user, &dp->actions);
	/* RFC 3519 §4.9: two-way keepalives; the reply goes back through the same mapping. */
	writer_init(&w, dp->ka_reply, sizeof(dp->ka_reply));
	n = mip4_keepalive_reply_encode(&w, inner, len, dp->ha_addr, dp->ip_id++);
	if (n < 0) {
		dp->st.keepalives_refused++;
		return;
	}
	rc = (int)sock_send4(dp->udp_fd, dp->ka_reply, (size_t)n, src, &dp->ha_addr, 0);
	if (rc < 0) {
		char a[ADDR4_STRLEN];

		drop_log(dp, "cannot answer the keepalive from %s:%u: %s",
			 addr4_str(src->sin_addr, a), ntohs(src->sin_port), strerror(-rc));
		return;
	}
	dp->st.keepalives++;
}

void ha_datapath_udp_data(struct ha_datapath *dp, const uint8_t *payload, size_t len,
			  const struct sockaddr_in *src)
{
	struct mip4_ipv4_info inner;
	struct mip4_keepalive ka;
	const uint8_t *pkt;
	struct reader r;
	char a[ADDR4_STRLEN];
	int rc;

	rc = mip4_udp_tunnel_decap(payload, len, &inner);
	if (rc < 0) {
		dp->st.rev_malformed++;
		drop_log(dp, "MIP tunnel data from %s:%u: %s", addr4_str(src->sin_addr, a),
			 ntohs(src->sin_port), rc == -EPROTONOSUPPORT
			 ? "Next Header is not IPv4 (RFC 3519 §3.3)" : "malformed");
		return;
	}
	reader_init(&r, payload, len);
	if (!reader_skip(&r, inner.off) || !reader_view(&r, inner.len, &pkt)) {
		dp->st.rev_malformed++;
		return;
	}
	rc = mip4_keepalive_classify(pkt, inner.len, dp->ha_addr, &ka);
	if (rc == MIP4_KEEPALIVE_REQUEST) {
		keepalive(dp, pkt, inner.len, &ka, src);
		return;
	}
	if (rc < 0) {
		dp->st.rev_malformed++;
		return;
	}
	if (!reverse_allowed(dp, MIP4_ENCAP_UDP, src, inner.src))
		return;
	if (dp->replay)
		pkt_replay_note_reverse(dp->replay, inner.src, clock_now(clock_monotonic()));
	to_tun(dp, payload, len, inner.off, inner.len);
}
