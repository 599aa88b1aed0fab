/* rtnetlink through libnl-route: see netlink.h. The only file that includes libnl. No logging
 * here. */
#include "common/netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/socket.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>

/* glibc's <net/if.h> stops at IFF_DYNAMIC, and <linux/if.h> then hides the rest. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

/* Reads per nl_monitor_dispatch() call; each read is one datagram of one or more messages. */
#define DISPATCH_MAX_READS 256
/* Receive buffer for the monitor: a burst (interface flaps, a full routing table arriving)
 * should not overflow it, and when it still does we resync. */
#define MONITOR_RCVBUF (1 << 20)

/* --- errors -------------------------------------------------------------------------- */

/* libnl folds errnos into its own codes; undo that as well as it can be undone. The kernel's
 * own errno, when there is one, is taken from the NLMSG_ERROR itself (struct sync below). */
static int nlerr_to_errno(int nlerr)
{
	switch (abs(nlerr)) {
	case NLE_SUCCESS:		return 0;
	case NLE_INTR:			return -EINTR;
	case NLE_BAD_SOCK:		return -EBADF;
	case NLE_AGAIN:			return -EAGAIN;
	case NLE_NOMEM:			return -ENOMEM;
	case NLE_EXIST:			return -EEXIST;
	case NLE_INVAL:			return -EINVAL;
	case NLE_RANGE:			return -ERANGE;
	case NLE_MSGSIZE:		return -EMSGSIZE;
	case NLE_OPNOTSUPP:		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:		return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:		return -ENOENT;
	case NLE_NOADDR:		return -EADDRNOTAVAIL;
	case NLE_NOACCESS:		return -EACCES;
	case NLE_PERM:			return -EPERM;
	case NLE_BUSY:			return -EBUSY;
	case NLE_NODEV:			return -ENODEV;
	case NLE_PROTO_MISMATCH:	return -EPROTONOSUPPORT;
	case NLE_MSG_TRUNC:		return -EMSGSIZE;
	case NLE_DUMP_INTR:		return -EINTR;
	default:			return -EIO;
	}
}

/* --- synchronous requests ------------------------------------------------------------ */

/* One short-lived socket per request: configuration is rare, and a private socket can never
 * receive a monitor event or another request's answer. */
struct sync {
	struct nl_sock *sk;
	int kernel_err; /* negative errno from the kernel's NLMSG_ERROR, 0 if none */
};

static int on_nlmsgerr(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct sync *s = arg;

	(void)nla;
	s->kernel_err = e->error;
	return NL_STOP;
}

static int sync_open(struct sync *s)
{
	s->kernel_err = 0;
	s->sk = nl_socket_alloc();
	if (!s->sk)
		return -ENOMEM;
	int rc = nl_socket_modify_err_cb(s->sk, NL_CB_CUSTOM, on_nlmsgerr, s);
	if (rc >= 0)
		rc = nl_connect(s->sk, NETLINK_ROUTE);
	if (rc < 0) {
		nl_socket_free(s->sk);
		s->sk = NULL;
		return nlerr_to_errno(rc);
	}
	return 0;
}

static void sync_close(struct sync *s)
{
	nl_socket_free(s->sk); /* closes the fd too */
	s->sk = NULL;
}

/* The errno for a libnl result: the kernel's, when it answered with one. */
static int sync_errno(const struct sync *s, int nlerr)
{
	if (nlerr >= 0)
		return 0;
	if (s->kernel_err < 0)
		return s->kernel_err;
	return nlerr_to_errno(nlerr);
}

/* Send msg (consumed) and wait for the kernel's acknowledgement. */
static int sync_transact(struct sync *s, struct nl_msg *msg)
{
	int rc = nl_send_auto(s->sk, msg);

	nlmsg_free(msg);
	if (rc >= 0)
		rc = nl_wait_for_ack(s->sk);
	return sync_errno(s, rc);
}

/* Build a request with build(obj, flags, &msg), then transact it on a fresh socket. */
typedef int (*build_fn)(void *obj, int flags, struct nl_msg **msg);

static int request(build_fn build, void *obj, int flags)
{
	struct nl_msg *msg = NULL;
	struct sync s;
	int rc = build(obj, flags, &msg);

	if (rc < 0)
		return nlerr_to_errno(rc);
	rc = sync_open(&s);
	if (rc < 0) {
		nlmsg_free(msg);
		return rc;
	}
	rc = sync_transact(&s, msg);
	sync_close(&s);
	return rc;
}

/* Adapters: libnl's builders take their own object types. */
static int build_addr_add(void *o, int f, struct nl_msg **m)
{
	return rtnl_addr_build_add_request(o, f, m);
}

static int build_addr_del(void *o, int f, struct nl_msg **m)
{
	return rtnl_addr_build_delete_request(o, f, m);
}

static int build_route_add(void *o, int f, struct nl_msg **m)
{
	return rtnl_route_build_add_request(o, f, m);
}

static int build_route_del(void *o, int f, struct nl_msg **m)
{
	return rtnl_route_build_del_request(o, f, m);
}

/* --- addresses ----------------------------------------------------------------------- */

/* A new nl_addr for an IPv4 address with a prefix length; NULL when out of memory. */
static struct nl_addr *v4_addr(struct in_addr a, unsigned plen)
{
	struct nl_addr *na = nl_addr_build(AF_INET, &a, sizeof(a));

	if (na)
		nl_addr_set_prefixlen(na, (int)plen);
	return na;
}

static int addr_build(int ifindex, struct in_addr a, unsigned plen, bool with_brd,
		      struct rtnl_addr **out)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *local = v4_addr(a, plen);
	struct nl_addr *brd = NULL;
	int rc = -ENOMEM;

	if (with_brd && plen <= 30) {
		struct in_addr b = { .s_addr = a.s_addr | htonl(0xffffffffu >> plen) };
		brd = v4_addr(b, 32);
		if (!brd)
			goto out;
	}
	if (!ra || !local)
		goto out;
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_family(ra, AF_INET);
	rc = rtnl_addr_set_local(ra, local); /* also sets the prefix length */
	if (rc >= 0 && brd)
		rc = rtnl_addr_set_broadcast(ra, brd);
	rc = rc < 0 ? nlerr_to_errno(rc) : 0;
out:
	nl_addr_put(local); /* the rtnl_addr holds its own references */
	nl_addr_put(brd);
	if (rc == 0)
		*out = ra;
	else
		rtnl_addr_put(ra);
	return rc;
}

static int addr_request(int ifindex, struct in_addr a, unsigned plen, bool add)
{
	struct rtnl_addr *ra = NULL;

	if (ifindex <= 0 || plen > 32)
		return -EINVAL;
	int rc = addr_build(ifindex, a, plen, add, &ra);
	if (rc < 0)
		return rc;
	rc = add ? request(build_addr_add, ra, NLM_F_EXCL) : request(build_addr_del, ra, 0);
	rtnl_addr_put(ra);
	return rc;
}

int nl_addr4_add(int ifindex, struct in_addr a, unsigned plen)
{
	return addr_request(ifindex, a, plen, true);
}

int nl_addr4_del(int ifindex, struct in_addr a, unsigned plen)
{
	return addr_request(ifindex, a, plen, false);
}

/* --- routes -------------------------------------------------------------------------- */

static int route_nexthop(struct rtnl_route *rt, struct in_addr gw, int ifindex)
{
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();

	if (!nh)
		return -ENOMEM;
	if (ifindex > 0)
		rtnl_route_nh_set_ifindex(nh, ifindex);
	if (gw.s_addr != htonl(INADDR_ANY)) {
		struct nl_addr *g = v4_addr(gw, 32);
		if (!g) {
			rtnl_route_nh_free(nh);
			return -ENOMEM;
		}
		rtnl_route_nh_set_gateway(nh, g); /* takes its own reference */
		nl_addr_put(g);
	}
	rtnl_route_add_nexthop(rt, nh); /* the route owns nh from here */
	return 0;
}

static int route_build(struct in_addr dst, unsigned plen, struct in_addr gw, int ifindex,
		       int table, unsigned metric, struct rtnl_route **out)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct nl_addr *d = v4_addr(dst, plen);
	int rc = -ENOMEM;

	if (!rt || !d)
		goto out;
	rc = rtnl_route_set_family(rt, AF_INET);
	if (rc >= 0)
		rc = rtnl_route_set_dst(rt, d);
	rc = rc < 0 ? nlerr_to_errno(rc) : 0;
	if (rc == 0) {
		rtnl_route_set_table(rt, table ? (uint32_t)table : RT_TABLE_MAIN);
		rtnl_route_set_priority(rt, metric);
		/* libnl defaults to RTPROT_STATIC, which is what these routes are; the scope is
		 * derived from the nexthop (universe via a gateway, link otherwise). */
		rc = route_nexthop(rt, gw, ifindex);
	}
out:
	nl_addr_put(d);
	if (rc == 0)
		*out = rt;
	else if (rt)
		rtnl_route_put(rt);
	return rc;
}

static int route_request(struct in_addr dst, unsigned plen, struct in_addr gw, int ifindex,
			 int table, unsigned metric, bool add)
{
	struct rtnl_route *rt = NULL;

	if (plen > 32 || ifindex < 0 || table < 0)
		return -EINVAL;
	if (ifindex == 0 && gw.s_addr == htonl(INADDR_ANY))
		return -EINVAL;
	if (dst.s_addr & ~htonl(plen ? 0xffffffffu << (32 - plen) : 0))
		return -EINVAL;
	int rc = route_build(dst, plen, gw, ifindex, table, metric, &rt);
	if (rc < 0)
		return rc;
	rc = add ? request(build_route_add, rt, NLM_F_EXCL) : request(build_route_del, rt, 0);
	rtnl_route_put(rt);
	return rc;
}

int nl_route4_add(struct in_addr dst, unsigned plen, struct in_addr gw, int ifindex, int table,
		  unsigned metric)
{
	return route_request(dst, plen, gw, ifindex, table, metric, true);
}

int nl_route4_del(struct in_addr dst, unsigned plen, struct in_addr gw, int ifindex, int table,
		  unsigned metric)
{
	return route_request(dst, plen, gw, ifindex, table, metric, false);
}

/* --- links --------------------------------------------------------------------------- */

static int link_get(struct sync *s, int ifindex, const char *name, struct rtnl_link **out)
{
	int rc = rtnl_link_get_kernel(s->sk, ifindex, name, out);
	return sync_errno(s, rc);
}

int nl_link_set_up(int ifindex, bool up)
{
	struct rtnl_link *orig = NULL, *change = NULL;
	struct nl_msg *msg = NULL;
	struct sync s;

	if (ifindex <= 0)
		return -EINVAL;
	int rc = sync_open(&s);
	if (rc < 0)
		return rc;
	/* The change request is built against the current flags, so that even a kernel or
	 * libnl that ignores ifi_change leaves the other flags as they are. */
	rc = link_get(&s, ifindex, NULL, &orig);
	if (rc == 0) {
		change = rtnl_link_alloc();
		rc = change ? 0 : -ENOMEM;
	}
	if (rc == 0) {
		if (up)
			rtnl_link_set_flags(change, IFF_UP);
		else
			rtnl_link_unset_flags(change, IFF_UP);
		rc = rtnl_link_build_change_request(orig, change, 0, &msg);
		rc = rc < 0 ? nlerr_to_errno(rc) : sync_transact(&s, msg);
	}
	rtnl_link_put(change);
	rtnl_link_put(orig);
	sync_close(&s);
	return rc;
}

int nl_link_index(const char *ifname)
{
	struct rtnl_link *link = NULL;
	struct sync s;

	if (!ifname || !ifname[0] || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	int rc = sync_open(&s);
	if (rc < 0)
		return rc;
	rc = link_get(&s, 0, ifname, &link);
	if (rc == 0) {
		rc = rtnl_link_get_ifindex(link);
		if (rc <= 0)
			rc = -ENODEV;
	}
	rtnl_link_put(link);
	sync_close(&s);
	return rc;
}

/* --- monitor: objects to events ------------------------------------------------------ */

struct nl_monitor {
	struct nl_sock *sk;
	nl_event_fn fn;
	void *user;
	int msgtype;       /* RTM_* of the message (or dump) whose objects are being delivered */
	int delivered;     /* events delivered by the current dispatch or dump */
};

/* Copy an IPv4 nl_addr out; false for another family or length (e.g. an empty default dst). */
static bool v4_from(struct nl_addr *na, struct in_addr *out)
{
	if (!na || nl_addr_get_family(na) != AF_INET || nl_addr_get_len(na) != sizeof(*out))
		return false;
	memcpy(out, nl_addr_get_binary_addr(na), sizeof(*out));
	return true;
}

static void copy_name(char dst[IFNAMSIZ], const char *src)
{
	if (src) {
		strncpy(dst, src, IFNAMSIZ - 1);
		dst[IFNAMSIZ - 1] = '\0';
	}
}

static bool link_event(struct rtnl_link *l, bool del, struct nl_event *ev)
{
	/* RTNLGRP_LINK also carries AF_BRIDGE messages about bridge ports: a port leaving its
	 * bridge is an AF_BRIDGE RTM_DELLINK, but the link itself lives on. */
	if (rtnl_link_get_family(l) != AF_UNSPEC)
		return false;
	unsigned flags = rtnl_link_get_flags(l);
	ev->kind = del ? NL_EVENT_LINK_DEL : NL_EVENT_LINK_NEW;
	ev->ifindex = rtnl_link_get_ifindex(l);
	copy_name(ev->ifname, rtnl_link_get_name(l));
	ev->up = flags & IFF_UP;
	ev->running = flags & IFF_RUNNING;
	ev->carrier = flags & IFF_LOWER_UP;
	ev->mtu = rtnl_link_get_mtu(l);
	return true;
}

static bool addr_event(struct rtnl_addr *a, bool del, struct nl_event *ev)
{
	if (rtnl_addr_get_family(a) != AF_INET || !v4_from(rtnl_addr_get_local(a), &ev->addr))
		return false;
	ev->kind = del ? NL_EVENT_ADDR_DEL : NL_EVENT_ADDR_NEW;
	ev->ifindex = rtnl_addr_get_ifindex(a);
	ev->plen = (unsigned)rtnl_addr_get_prefixlen(a);
	copy_name(ev->ifname, rtnl_addr_get_label(a));
	return true;
}

static bool route_event(struct rtnl_route *r, bool del, struct nl_event *ev)
{
	struct nl_addr *dst = rtnl_route_get_dst(r);

	if (rtnl_route_get_family(r) != AF_INET || !dst)
		return false;
	ev->kind = del ? NL_EVENT_ROUTE_DEL : NL_EVENT_ROUTE_NEW;
	/* A default route has an empty dst (length 0): leave dst at 0.0.0.0. */
	v4_from(dst, &ev->dst);
	ev->dst_plen = (unsigned)nl_addr_get_prefixlen(dst);
	ev->table = (int)rtnl_route_get_table(r);
	ev->metric = rtnl_route_get_priority(r);
	ev->type = rtnl_route_get_type(r);
	if (rtnl_route_get_nnexthops(r) > 0) {
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, 0);
		ev->ifindex = rtnl_route_nh_get_ifindex(nh);
		v4_from(rtnl_route_nh_get_gateway(nh), &ev->gateway);
	}
	return true;
}

/* Turn one parsed object into an event, by the message type it came from. */
static void on_object(struct nl_object *obj, void *arg)
{
	struct nl_monitor *m = arg;
	struct nl_event ev;
	bool ok = false;

	memset(&ev, 0, sizeof(ev));
	switch (m->msgtype) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		ok = link_event((struct rtnl_link *)obj, m->msgtype == RTM_DELLINK, &ev);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		ok = addr_event((struct rtnl_addr *)obj, m->msgtype == RTM_DELADDR, &ev);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		ok = route_event((struct rtnl_route *)obj, m->msgtype == RTM_DELROUTE, &ev);
		break;
	default:
		break;
	}
	if (ok) {
		m->delivered++;
		m->fn(&ev, m->user);
	}
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct nl_monitor *m = arg;

	m->msgtype = nlmsg_hdr(msg)->nlmsg_type;
	/* A message libnl cannot parse is skipped: one odd message must not stop the rest. */
	nl_msg_parse(msg, on_object, m);
	return NL_OK;
}

static void emit_resync(struct nl_monitor *m)
{
	struct nl_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = NL_EVENT_RESYNC;
	m->delivered++;
	m->fn(&ev, m->user);
}

/* --- monitor: lifecycle -------------------------------------------------------------- */

static int monitor_connect(struct nl_monitor *m)
{
	int rc;

	nl_socket_disable_seq_check(m->sk); /* multicast events carry no sequence numbers */
	rc = nl_socket_modify_cb(m->sk, NL_CB_VALID, NL_CB_CUSTOM, on_valid, m);
	if (rc >= 0)
		rc = nl_connect(m->sk, NETLINK_ROUTE);
	if (rc >= 0)
		rc = nl_socket_set_nonblocking(m->sk);
	if (rc >= 0)
		rc = nl_socket_add_memberships(m->sk, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
					       RTNLGRP_IPV4_ROUTE, 0);
	if (rc >= 0)
		rc = nl_socket_set_buffer_size(m->sk, MONITOR_RCVBUF, 0);
	if (rc < 0)
		return nlerr_to_errno(rc);
	/* As root, go past net.core.rmem_max too; without the privilege the (capped) size set
	 * above stands. */
	int size = MONITOR_RCVBUF;
	(void)setsockopt(nl_socket_get_fd(m->sk), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	/* Whatever libnl does, the daemon's children must not inherit the socket. */
	if (fcntl(nl_socket_get_fd(m->sk), F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int nl_monitor_open(struct nl_monitor **out, nl_event_fn fn, void *user)
{
	if (!out || !fn)
		return -EINVAL;
	struct nl_monitor *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->user = user;
	m->sk = nl_socket_alloc();
	int rc = m->sk ? monitor_connect(m) : -ENOMEM;
	if (rc < 0) {
		nl_monitor_close(m);
		return rc;
	}
	*out = m;
	return 0;
}

int nl_monitor_fd(const struct nl_monitor *m)
{
	return nl_socket_get_fd(m->sk);
}

int nl_monitor_dispatch(struct nl_monitor *m)
{
	m->delivered = 0;
	for (int i = 0; i < DISPATCH_MAX_READS; i++) {
		int rc = nl_recvmsgs_default(m->sk);

		if (rc >= 0)
			continue;
		if (rc == -NLE_AGAIN)
			break;
		/* ENOBUFS from recvmsg (libnl reports it as NLE_NOMEM): the kernel dropped
		 * events. The socket stays usable; tell the caller and keep reading. */
		if (rc == -NLE_NOMEM) {
			emit_resync(m);
			continue;
		}
		return nlerr_to_errno(rc);
	}
	return m->delivered;
}

typedef int (*alloc_cache_fn)(struct nl_sock *sk, struct nl_cache **out);

static int alloc_links(struct nl_sock *sk, struct nl_cache **out)
{
	return rtnl_link_alloc_cache(sk, AF_UNSPEC, out);
}

static int alloc_addrs(struct nl_sock *sk, struct nl_cache **out)
{
	return rtnl_addr_alloc_cache(sk, out);
}

static int alloc_routes(struct nl_sock *sk, struct nl_cache **out)
{
	return rtnl_route_alloc_cache(sk, AF_INET, 0, out);
}

/* Dump one kind of object into a temporary cache and deliver each as a NEW event. */
static int dump_one(struct nl_monitor *m, struct sync *s, alloc_cache_fn alloc, int msgtype)
{
	struct nl_cache *cache = NULL;
	int rc = alloc(s->sk, &cache);

	if (rc < 0)
		return sync_errno(s, rc);
	m->msgtype = msgtype;
	nl_cache_foreach(cache, on_object, m);
	nl_cache_free(cache);
	return 0;
}

int nl_monitor_dump(struct nl_monitor *m)
{
	struct sync s;
	int rc = sync_open(&s);

	if (rc < 0)
		return rc;
	m->delivered = 0;
	rc = dump_one(m, &s, alloc_links, RTM_NEWLINK);
	if (rc == 0)
		rc = dump_one(m, &s, alloc_addrs, RTM_NEWADDR);
	if (rc == 0)
		rc = dump_one(m, &s, alloc_routes, RTM_NEWROUTE);
	sync_close(&s);
	return rc < 0 ? rc : m->delivered;
}

void nl_monitor_close(struct nl_monitor *m)
{
	if (!m)
		return;
	if (m->sk)
		nl_socket_free(m->sk);
	free(m);
}

const char *nl_event_kind_name(enum nl_event_kind kind)
{
	switch (kind) {
	case NL_EVENT_LINK_NEW:		return "link-new";
	case NL_EVENT_LINK_DEL:		return "link-del";
	case NL_EVENT_ADDR_NEW:		return "addr-new";
	case NL_EVENT_ADDR_DEL:		return "addr-del";
	case NL_EVENT_ROUTE_NEW:	return "route-new";
	case NL_EVENT_ROUTE_DEL:	return "route-del";
	case NL_EVENT_RESYNC:		return "resync";
	}
	return "nl-event ?";
}
