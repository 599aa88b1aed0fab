/* Proxy ARP entries and neighbour lookups over plain rtnetlink. See neigh.h. */
#include "ha/neigh.h"

#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "common/buf.h"

/* One neighbour request: header, ndmsg, and the NDA_DST attribute. Every member is 4-byte
 * aligned, so this is exactly the wire layout (NLMSG_ALIGN / RTA_ALIGN add nothing). */
struct neigh_req {
	struct nlmsghdr n;
	struct ndmsg nd;
	struct rtattr dst_rta;
	struct in_addr dst;
};

_Static_assert(sizeof(struct neigh_req) == NLMSG_LENGTH(sizeof(struct ndmsg)) +
	       RTA_LENGTH(sizeof(struct in_addr)), "neigh_req must have no padding");

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

/* Receive one datagram of netlink messages into buf. */
static ssize_t nl_recv(int fd, void *buf, size_t cap)
{
	ssize_t n;

	do {
		n = recv(fd, buf, cap, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n;
}

/* Read the next netlink message header from r and carve its payload into *body. */
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

/* Wait for the acknowledgement of request seq. */
static int nl_ack(int fd, uint32_t seq)
{
	union {
		struct nlmsghdr align;
		uint8_t b[8192];
	} buf;

	for (;;) {
		ssize_t n = nl_recv(fd, buf.b, sizeof(buf.b));
		struct reader r, body;
		struct nlmsghdr h;

		if (n < 0)
			return (int)n;
		reader_init(&r, buf.b, (size_t)n);
		while (reader_remaining(&r) > 0 && next_msg(&r, &h, &body)) {
			int32_t err;

			if (h.nlmsg_seq != seq || h.nlmsg_type != NLMSG_ERROR)
				continue;
			if (!reader_copy(&body, &err, sizeof(err)))
				return -EIO;
			return err;   /* 0 = ACK, else -errno */
		}
	}
}

static int neigh_proxy(int type, unsigned flags, int ifindex, struct in_addr a)
{
	static uint32_t seq;
	struct neigh_req req;
	int fd, rc;

	if (ifindex <= 0)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = sizeof(req);
	req.n.nlmsg_type = (uint16_t)type;
	req.n.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
	req.n.nlmsg_seq = ++seq;
	req.nd.ndm_family = AF_INET;
	req.nd.ndm_ifindex = ifindex;
	req.nd.ndm_flags = NTF_PROXY;
	req.nd.ndm_state = NUD_PERMANENT;
	req.dst_rta.rta_type = NDA_DST;
	req.dst_rta.rta_len = RTA_LENGTH(sizeof(struct in_addr));
	req.dst = a;
	fd = nl_open();
	if (fd < 0)
		return fd;
	rc = nl_send(fd, &req, sizeof(req));
	if (rc == 0)
		rc = nl_ack(fd, req.n.nlmsg_seq);
	close(fd);
	return rc;
}

int ha_neigh_proxy_add(int ifindex, struct in_addr a)
{
	return neigh_proxy(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, ifindex, a);
}

int ha_neigh_proxy_del(int ifindex, struct in_addr a)
{
	return neigh_proxy(RTM_DELNEIGH, 0, ifindex, a);
}

/* One neighbour of a dump: its ndmsg, NDA_DST and NDA_LLADDR. */
struct neigh_entry {
	struct ndmsg nd;
	bool have_dst, have_mac;
	struct in_addr dst;
	uint8_t mac[HA_MAC_LEN];
};

static bool neigh_decode(struct reader *body, struct neigh_entry *e)
{
	memset(e, 0, sizeof(*e));
	if (!reader_copy(body, &e->nd, sizeof(e->nd)))
		return false;
	while (reader_remaining(body) >= sizeof(struct rtattr)) {
		struct rtattr rta;
		struct reader v;
		size_t pad;

		if (!reader_copy(body, &rta, sizeof(rta)) || rta.rta_len < sizeof(rta) ||
		    !reader_sub(body, rta.rta_len - sizeof(rta), &v))
			return false;
		pad = RTA_ALIGN(rta.rta_len) - rta.rta_len;
		reader_skip(body, pad < reader_remaining(body) ? pad : reader_remaining(body));
		if (rta.rta_type == NDA_DST && reader_remaining(&v) == sizeof(struct in_addr))
			e->have_dst = reader_copy(&v, &e->dst, sizeof(e->dst));
		else if (rta.rta_type == NDA_LLADDR && reader_remaining(&v) == HA_MAC_LEN)
			e->have_mac = reader_copy(&v, e->mac, HA_MAC_LEN);
	}
	return e->nd.ndm_family == AF_INET && e->have_dst;
}

/* Dump the IPv4 neighbour table (proxy: the proxy entries) and call fn for each entry. */
static int neigh_dump(int ifindex, bool proxy,
		      void (*fn)(void *user, const struct neigh_entry *e), void *user)
{
	static uint32_t seq = 0x10000;
	struct {
		struct nlmsghdr n;
		struct ndmsg nd;
	} req;
	union {
		struct nlmsghdr align;
		uint8_t b[16384];
	} buf;
	int fd, rc;

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = sizeof(req);
	req.n.nlmsg_type = RTM_GETNEIGH;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.n.nlmsg_seq = ++seq;
	req.nd.ndm_family = AF_INET;
	req.nd.ndm_ifindex = ifindex;
	req.nd.ndm_flags = proxy ? NTF_PROXY : 0;
	fd = nl_open();
	if (fd < 0)
		return fd;
	rc = nl_send(fd, &req, sizeof(req));
	while (rc == 0) {
		ssize_t n = nl_recv(fd, buf.b, sizeof(buf.b));
		struct reader r, body;
		struct nlmsghdr h;
		bool done = false;

		if (n < 0) {
			rc = (int)n;
			break;
		}
		reader_init(&r, buf.b, (size_t)n);
		while (reader_remaining(&r) > 0 && next_msg(&r, &h, &body)) {
			struct neigh_entry e;

			if (h.nlmsg_seq != req.n.nlmsg_seq)
				continue;
			if (h.nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (h.nlmsg_type == NLMSG_ERROR) {
				int32_t err = -EIO;

				reader_copy(&body, &err, sizeof(err));
				rc = err ? err : -EIO;
				break;
			}
			if (h.nlmsg_type == RTM_NEWNEIGH && neigh_decode(&body, &e) &&
			    e.nd.ndm_ifindex == ifindex &&
			    ((e.nd.ndm_flags & NTF_PROXY) != 0) == proxy)
				fn(user, &e);
		}
		if (done)
			break;
	}
	close(fd);
	return rc;
}

struct lookup_ctx {
	struct in_addr a;
	bool found;
	uint8_t mac[HA_MAC_LEN];
};

static void lookup_one(void *user, const struct neigh_entry *e)
{
	struct lookup_ctx *c = user;

	if (c->found || e->dst.s_addr != c->a.s_addr || !e->have_mac ||
	    (e->nd.ndm_state & (NUD_FAILED | NUD_INCOMPLETE | NUD_NOARP)))
		return;
	memcpy(c->mac, e->mac, HA_MAC_LEN);
	c->found = true;
}

int ha_neigh_lookup(int ifindex, struct in_addr a, uint8_t mac[HA_MAC_LEN])
{
	struct lookup_ctx c = { .a = a };
	int rc;

	if (ifindex <= 0 || !mac)
		return -EINVAL;
	rc = neigh_dump(ifindex, false, lookup_one, &c);
	if (rc < 0)
		return rc;
	if (!c.found)
		return -ENOENT;
	memcpy(mac, c.mac, HA_MAC_LEN);
	return 0;
}

struct proxy_ctx {
	void (*fn)(void *user, struct in_addr a);
	void *user;
};

static void proxy_one(void *user, const struct neigh_entry *e)
{
	struct proxy_ctx *c = user;

	c->fn(c->user, e->dst);
}

int ha_neigh_proxy_list(int ifindex, void (*fn)(void *user, struct in_addr a), void *user)
{
	struct proxy_ctx c = { .fn = fn, .user = user };

	if (ifindex <= 0 || !fn)
		return -EINVAL;
	return neigh_dump(ifindex, true, proxy_one, &c);
}

int ha_link_mac(const char *ifname, uint8_t mac[HA_MAC_LEN])
{
	struct ifreq ifr;
	int fd, rc = 0;

	if (!ifname || !mac || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		rc = -errno;
	else if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		rc = -EINVAL;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, HA_MAC_LEN);
	close(fd);
	return rc;
}
