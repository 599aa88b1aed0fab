/* Thin IPv4 socket helpers: see sock.h for the contract. No logging here. */
#include "common/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define UDP_FLAGS (SOCK_F_REUSEADDR | SOCK_F_PKTINFO | SOCK_F_FREEBIND | SOCK_F_NO_PMTUD | \
		   SOCK_F_BROADCAST)
#define RAW_FLAGS (SOCK_F_PKTINFO | SOCK_F_NO_PMTUD | SOCK_F_BROADCAST | SOCK_F_HDRINCL)

/* --- opening ------------------------------------------------------------------------- */

static int set_int(int fd, int level, int name, int value)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
		return -errno;
	return 0;
}

/* Apply the option flags shared by UDP and raw sockets; stops at the first failure. */
static int apply_flags(int fd, unsigned flags)
{
	int rc = 0;

	if (!rc && (flags & SOCK_F_REUSEADDR))
		rc = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (!rc && (flags & SOCK_F_PKTINFO))
		rc = set_int(fd, IPPROTO_IP, IP_PKTINFO, 1);
	if (!rc && (flags & SOCK_F_FREEBIND))
		rc = set_int(fd, IPPROTO_IP, IP_FREEBIND, 1);
	if (!rc && (flags & SOCK_F_NO_PMTUD))
		rc = set_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT);
	if (!rc && (flags & SOCK_F_BROADCAST))
		rc = set_int(fd, SOL_SOCKET, SO_BROADCAST, 1);
	if (!rc && (flags & SOCK_F_HDRINCL))
		rc = set_int(fd, IPPROTO_IP, IP_HDRINCL, 1);
	return rc;
}

static int open_with(int type, int protocol, unsigned flags, const struct sockaddr_in *bind_addr)
{
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		return -errno;

	int rc = apply_flags(fd, flags);
	if (!rc && bind_addr &&
	    bind(fd, (const struct sockaddr *)bind_addr, sizeof(*bind_addr)) < 0)
		rc = -errno;
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

int sock_udp4_open(const struct sockaddr_in *bind_addr, unsigned flags)
{
	if (flags & ~UDP_FLAGS)
		return -EINVAL;
	if (bind_addr && bind_addr->sin_family != AF_INET)
		return -EINVAL;
	return open_with(SOCK_DGRAM, IPPROTO_UDP, flags, bind_addr);
}

int sock_raw4_open(int protocol, unsigned flags)
{
	if ((flags & ~RAW_FLAGS) || protocol <= 0 || protocol > 255)
		return -EINVAL;
	return open_with(SOCK_RAW, protocol, flags, NULL);
}

int sock_bind_device(int fd, const char *ifname)
{
	size_t len = ifname ? strlen(ifname) : 0;

	if (len >= IFNAMSIZ)
		return -EINVAL;
	/* An empty name (length 0) is the documented way to remove the binding. */
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, len ? ifname : "", (socklen_t)len) < 0)
		return -errno;
	return 0;
}

static int set_buffer(int fd, int force_opt, int opt, int bytes)
{
	if (bytes <= 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) == 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes)) < 0)
		return -errno;
	return 0;
}

int sock_set_buffers(int fd, int rcvbuf, int sndbuf)
{
	int rc = set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf);

	if (rc < 0)
		return rc;
	return set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf);
}

int sock_local4(int fd, struct sockaddr_in *out)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
		return -errno;
	if (salen != sizeof(sa) || sa.sin_family != AF_INET)
		return -EAFNOSUPPORT;
	*out = sa;
	return 0;
}

/* --- ancillary data ------------------------------------------------------------------ */

/* Fill dst/local/ifindex from the IP_PKTINFO control message, if there is one. CMSG_NXTHDR
 * checks each header against msg_controllen; the payload length is checked here before the
 * copy (memcpy: CMSG_DATA need not be aligned for struct in_pktinfo). */
static void meta_from_cmsg(struct msghdr *mh, struct sock_dgram_meta *meta)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_PKTINFO)
			continue;
		if (c->cmsg_len < CMSG_LEN(sizeof(struct in_pktinfo)))
			continue;
		struct in_pktinfo pi;
		memcpy(&pi, CMSG_DATA(c), sizeof(pi));
		meta->dst = pi.ipi_addr;
		meta->local = pi.ipi_spec_dst;
		meta->ifindex = pi.ipi_ifindex;
	}
}

/* Attach an IP_PKTINFO message choosing source and/or interface, or none at all when the
 * caller left both to the kernel. space must hold CMSG_SPACE(sizeof(struct in_pktinfo)). */
static void pktinfo_to_cmsg(struct msghdr *mh, void *space, size_t cap, struct in_addr from,
			    int ifindex)
{
	mh->msg_control = NULL;
	mh->msg_controllen = 0;
	if (from.s_addr == htonl(INADDR_ANY) && ifindex == 0)
		return;

	struct in_pktinfo pi = { .ipi_ifindex = ifindex, .ipi_spec_dst = from };
	memset(space, 0, cap);
	mh->msg_control = space;
	mh->msg_controllen = CMSG_SPACE(sizeof(pi));
	struct cmsghdr *c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
}

static void meta_from_msg(struct msghdr *mh, const struct sockaddr_in *peer,
			  struct sock_dgram_meta *meta)
{
	memset(meta, 0, sizeof(*meta));
	if (mh->msg_namelen >= sizeof(*peer))
		meta->peer = *peer;
	meta_from_cmsg(mh, meta);
}

/* --- single datagrams ---------------------------------------------------------------- */

typedef union {
	struct cmsghdr align;
	uint8_t buf[SOCK_CMSG_SPACE];
} cmsg_space;

ssize_t sock_recv4(int fd, void *buf, size_t cap, struct sock_dgram_meta *meta)
{
	struct sockaddr_in peer;
	cmsg_space ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = {
		.msg_name = &peer, .msg_namelen = sizeof(peer),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;

	memset(&peer, 0, sizeof(peer));
	do
		n = recvmsg(fd, &mh, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno; /* EWOULDBLOCK == EAGAIN on Linux */
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	if (meta)
		meta_from_msg(&mh, &peer, meta);
	return n;
}

ssize_t sock_send4(int fd, const void *buf, size_t len, const struct sockaddr_in *to,
		   const struct in_addr *from, int ifindex)
{
	cmsg_space ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = {
		.msg_name = (void *)to, .msg_namelen = to ? sizeof(*to) : 0,
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct in_addr src = { .s_addr = from ? from->s_addr : htonl(INADDR_ANY) };
	ssize_t n;

	if (ifindex < 0)
		return -EINVAL;
	pktinfo_to_cmsg(&mh, ctl.buf, sizeof(ctl.buf), src, ifindex);
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n;
}

/* --- batches ------------------------------------------------------------------------- */

int sock_batch_init(struct sock_batch *b, void *bufs, unsigned nslots, size_t bufsize)
{
	if (!bufs || nslots == 0 || nslots > SOCK_BATCH_MAX || bufsize == 0)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->nslots = nslots;
	b->bufsize = bufsize;
	b->bufs = bufs;
	for (unsigned i = 0; i < nslots; i++)
		b->slot[i].data = b->bufs + (size_t)i * bufsize;
	return 0;
}

/* Point every mmsghdr at its slot's own buffer, address and control space. The kernel
 * overwrites msg_namelen and msg_controllen, so this runs before every receive. */
static void batch_arm_recv(struct sock_batch *b)
{
	for (unsigned i = 0; i < b->nslots; i++) {
		struct msghdr *mh = &b->msg_[i].msg_hdr;

		b->slot[i].data = b->bufs + (size_t)i * b->bufsize;
		b->iov_[i] = (struct iovec){ .iov_base = b->slot[i].data, .iov_len = b->bufsize };
		memset(&b->addr_[i], 0, sizeof(b->addr_[i]));
		*mh = (struct msghdr){
			.msg_name = &b->addr_[i], .msg_namelen = sizeof(b->addr_[i]),
			.msg_iov = &b->iov_[i], .msg_iovlen = 1,
			.msg_control = b->cmsg_[i].buf, .msg_controllen = sizeof(b->cmsg_[i].buf),
		};
		b->msg_[i].msg_len = 0;
	}
}

int sock_recv4_batch(int fd, struct sock_batch *b)
{
	int n;

	if (b->nslots == 0 || b->nslots > SOCK_BATCH_MAX)
		return -EINVAL;
	batch_arm_recv(b);
	/* MSG_WAITFORONE: never wait once one datagram is in, even on a blocking fd. */
	do
		n = recvmmsg(fd, b->msg_, b->nslots, MSG_WAITFORONE, NULL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		b->count = 0;
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		struct sock_batch_slot *s = &b->slot[i];
		struct msghdr *mh = &b->msg_[i].msg_hdr;

		s->len = b->msg_[i].msg_len;
		s->truncated = (mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
		meta_from_msg(mh, &b->addr_[i], &s->meta);
	}
	b->count = (unsigned)n;
	return n;
}

static void batch_arm_send(struct sock_batch *b, unsigned i)
{
	const struct sock_batch_slot *s = &b->slot[i];
	struct msghdr *mh = &b->msg_[i].msg_hdr;

	b->addr_[i] = s->meta.peer;
	b->iov_[i] = (struct iovec){ .iov_base = s->data, .iov_len = s->len };
	*mh = (struct msghdr){
		.msg_name = &b->addr_[i], .msg_namelen = sizeof(b->addr_[i]),
		.msg_iov = &b->iov_[i], .msg_iovlen = 1,
	};
	pktinfo_to_cmsg(mh, b->cmsg_[i].buf, sizeof(b->cmsg_[i].buf), s->meta.local,
			s->meta.ifindex);
	b->msg_[i].msg_len = 0;
}

int sock_send4_batch(int fd, struct sock_batch *b, unsigned first)
{
	int n;

	if (b->count > b->nslots || b->nslots > SOCK_BATCH_MAX || first >= b->count)
		return -EINVAL;
	for (unsigned i = first; i < b->count; i++) {
		if (b->slot[i].meta.ifindex < 0)
			return -EINVAL;
		batch_arm_send(b, i);
	}
	do
		n = sendmmsg(fd, &b->msg_[first], b->count - first, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n;
}

/* --- addresses ----------------------------------------------------------------------- */

/* One decimal field of at most 3 digits without a leading zero, value <= max. Advances *s
 * past the digits. */
static bool parse_dec(const char **s, unsigned max, unsigned *out)
{
	const char *p = *s;
	unsigned v = 0;
	int digits = 0;

	while (*p >= '0' && *p <= '9' && digits < 4) {
		v = v * 10 + (unsigned)(*p - '0');
		p++;
		digits++;
	}
	if (digits == 0 || digits > 3 || (digits > 1 && **s == '0') || v > max)
		return false;
	*s = p;
	*out = v;
	return true;
}

/* Dotted quad at the start of s; *end is set to the first byte after it. */
static bool parse_quad(const char *s, uint32_t *host_order, const char **end)
{
	uint32_t a = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v;

		if (i > 0 && *s++ != '.')
			return false;
		if (!parse_dec(&s, 255, &v))
			return false;
		a = a << 8 | v;
	}
	*host_order = a;
	*end = s;
	return true;
}

int addr4_parse(const char *s, struct in_addr *out)
{
	uint32_t a;
	const char *end;

	if (!s || !parse_quad(s, &a, &end) || *end != '\0')
		return -EINVAL;
	out->s_addr = htonl(a);
	return 0;
}

int prefix4_parse(const char *s, struct in_addr *net, unsigned *plen)
{
	uint32_t a;
	unsigned len;
	const char *p;

	if (!s || !parse_quad(s, &a, &p) || *p++ != '/')
		return -EINVAL;
	if (!parse_dec(&p, 32, &len) || *p != '\0')
		return -EINVAL;
	net->s_addr = htonl(a);
	*plen = len;
	return (a & ~ntohl(prefix4_mask(len).s_addr)) ? 1 : 0;
}

struct in_addr prefix4_mask(unsigned plen)
{
	/* Shifting a 32-bit value by 32 is undefined: /0 is its own case. */
	uint32_t m = plen == 0 ? 0 : plen >= 32 ? 0xffffffffu : 0xffffffffu << (32 - plen);
	return (struct in_addr){ .s_addr = htonl(m) };
}

struct in_addr prefix4_network(struct in_addr a, unsigned plen)
{
	return (struct in_addr){ .s_addr = a.s_addr & prefix4_mask(plen).s_addr };
}

bool prefix4_contains(struct in_addr net, unsigned plen, struct in_addr a)
{
	if (plen > 32)
		return false;
	uint32_t m = prefix4_mask(plen).s_addr;
	return (net.s_addr & m) == (a.s_addr & m);
}

const char *addr4_str(struct in_addr a, char buf[static ADDR4_STRLEN])
{
	uint32_t h = ntohl(a.s_addr);

	/* snprintf cannot fail or truncate here: 4 fields of at most 3 digits fit in 16. */
	snprintf(buf, ADDR4_STRLEN, "%u.%u.%u.%u", h >> 24, (h >> 16) & 0xff, (h >> 8) & 0xff,
		 h & 0xff);
	return buf;
}
