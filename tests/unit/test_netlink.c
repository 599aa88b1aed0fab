/* common/netlink: the event monitor and the configuration helpers, in a private network
 * namespace. Every wait polls the monitor fd with a timeout: a missing event fails a check,
 * it never hangs the test. */
#include "common/netlink.h"
#include "common/sock.h"
#include "common/tun.h"
#include "tests/unit/tap.h"
#include "tests/unit/netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 3000
#define MAX_EVENTS 4096

/* lo stays down: the test watches its events itself. */
static void enter_netns(void) { enter_netns_with(false); }

/* Every event delivered so far; waits search it for one that has not been matched yet. */
struct log {
	struct nl_event ev[MAX_EVENTS];
	bool taken[MAX_EVENTS];
	unsigned n, dropped;
};

static void on_event(const struct nl_event *ev, void *user)
{
	struct log *l = user;

	if (l->n == MAX_EVENTS) {
		l->dropped++;
		return;
	}
	l->taken[l->n] = false;
	l->ev[l->n++] = *ev;
}

/* What a wait looks for: kind always; the other fields only when set (zero = any). */
enum { ANY, UP, DOWN };

struct want {
	enum nl_event_kind kind;
	int ifindex;
	const char *ifname;
	int up;             /* ANY, UP, DOWN */
	const char *addr;   /* addr for ADDR_*, dst for ROUTE_* */
	bool plen_set;
	unsigned plen;
	int table;
};

#define WANT(k, ...) ((struct want){ .kind = (k), __VA_ARGS__ })
#define PLEN(n) .plen_set = true, .plen = (n)

static bool matches(const struct nl_event *e, const struct want *w)
{
	bool route = w->kind == NL_EVENT_ROUTE_NEW || w->kind == NL_EVENT_ROUTE_DEL;

	if (e->kind != w->kind)
		return false;
	if (w->ifindex && e->ifindex != w->ifindex)
		return false;
	if (w->ifname && strcmp(e->ifname, w->ifname) != 0)
		return false;
	if (w->up && e->up != (w->up == UP))
		return false;
	if (w->addr && (route ? e->dst : e->addr).s_addr != ip(w->addr).s_addr)
		return false;
	if (w->plen_set && w->plen != (route ? e->dst_plen : e->plen))
		return false;
	if (w->table && e->table != w->table)
		return false;
	return true;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Find (and mark taken) the first matching event, dispatching until WAIT_MS have passed. */
static const struct nl_event *wait_for(struct nl_monitor *m, struct log *l, struct want w)
{
	long deadline = now_ms() + WAIT_MS;

	for (;;) {
		for (unsigned i = 0; i < l->n; i++) {
			if (!l->taken[i] && matches(&l->ev[i], &w)) {
				l->taken[i] = true;
				return &l->ev[i];
			}
		}
		long left = deadline - now_ms();
		if (left <= 0)
			break;
		struct pollfd p = { .fd = nl_monitor_fd(m), .events = POLLIN };
		if (poll(&p, 1, (int)left) == 1 && nl_monitor_dispatch(m) < 0)
			break;
	}
	printf("# no %s event (ifindex %d, name %s, addr %s/%u) within %d ms\n",
	       nl_event_kind_name(w.kind), w.ifindex, w.ifname ? w.ifname : "*",
	       w.addr ? w.addr : "*", w.plen, WAIT_MS);
	return NULL;
}

static void test_config_errors(void)
{
	struct in_addr z = { 0 };

	CHECK(nl_link_index("nosuchdev0") == -ENODEV);
	CHECK(nl_link_index("") == -EINVAL);
	CHECK(nl_link_index("abcdefghijklmnopq") == -EINVAL);
	CHECK(nl_link_set_up(9999, true) == -ENODEV);
	CHECK(nl_link_set_up(0, true) == -EINVAL);
	CHECK(nl_addr4_add(0, ip("198.18.6.1"), 24) == -EINVAL);
	CHECK(nl_addr4_add(1, ip("198.18.6.1"), 33) == -EINVAL);
	CHECK(nl_addr4_add(9999, ip("198.18.6.1"), 24) == -ENODEV);
	CHECK(nl_route4_add(ip("198.19.0.1"), 16, z, 1, 0, 0) == -EINVAL); /* host bits */
	CHECK(nl_route4_add(ip("198.19.0.0"), 16, z, 0, 0, 0) == -EINVAL); /* no nexthop */
	CHECK(nl_route4_add(ip("198.19.0.0"), 33, z, 1, 0, 0) == -EINVAL);
	CHECK(nl_route4_add(ip("198.19.0.0"), 16, z, 9999, 0, 0) == -ENODEV);
}

static void test_overflow(struct nl_monitor *m, struct log *l, int ifindex)
{
	/* Shrink the receive buffer to the minimum and make far more events than fit. */
	int small = 1;
	CHECK(setsockopt(nl_monitor_fd(m), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
	int failures = 0;
	for (unsigned i = 0; i < 100; i++) {
		struct in_addr a = { .s_addr = htonl(0xc6120a00u + i) }; /* 198.18.10.i */
		CHECK_LOOP(nl_addr4_add(ifindex, a, 32) == 0, failures);
		CHECK_LOOP(nl_addr4_del(ifindex, a, 32) == 0, failures);
	}
	CHECK_EQ_U64(failures, 0);
	l->n = 0;
	CHECK(wait_for(m, l, WANT(NL_EVENT_RESYNC)) != NULL);
	int big = 1 << 20;
	CHECK(setsockopt(nl_monitor_fd(m), SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)) == 0);
	/* Drain whatever is left, then the resync the caller would do. */
	while (nl_monitor_dispatch(m) > 0)
		;
	l->n = 0;
	int n = nl_monitor_dump(m);
	CHECK(n > 0);
	CHECK(wait_for(m, l, WANT(NL_EVENT_LINK_NEW, .ifname = "lo", .up = UP)) != NULL);
}

int main(void)
{
	static struct log l;
	struct nl_monitor *m = NULL;
	struct in_addr z = { 0 };

	enter_netns();
	CHECK(nl_monitor_open(NULL, on_event, &l) == -EINVAL);
	CHECK(nl_monitor_open(&m, on_event, &l) == 0);
	if (!m) {
		printf("Bail out! no monitor\n");
		return 1;
	}
	int fd = nl_monitor_fd(m);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK(nl_monitor_dispatch(m) == 0); /* nothing pending: returns at once */

	/* Initial state of a new namespace: lo only, down. */
	int n = nl_monitor_dump(m);
	CHECK(n >= 1);
	const struct nl_event *e = wait_for(m, &l, WANT(NL_EVENT_LINK_NEW, .ifname = "lo"));
	CHECK(e != NULL);
	int lo = nl_link_index("lo");
	CHECK(lo > 0);
	if (e) {
		CHECK_EQ_U64(e->ifindex, lo);
		CHECK(!e->up);
		CHECK_EQ_U64(e->mtu, 65536);
	}

	test_config_errors();

	/* lo up: the link event, then the kernel's own 127.0.0.1/8 and its local route. */
	CHECK(nl_link_set_up(lo, true) == 0);
	CHECK(wait_for(m, &l, WANT(NL_EVENT_LINK_NEW, .ifindex = lo, .up = UP)) != NULL);
	e = wait_for(m, &l, WANT(NL_EVENT_ADDR_NEW, .ifindex = lo, .addr = "127.0.0.1"));
	CHECK(e && e->plen == 8 && strcmp(e->ifname, "lo") == 0);
	e = wait_for(m, &l, WANT(NL_EVENT_ROUTE_NEW, .addr = "127.0.0.1", PLEN(32),
				 .table = RT_TABLE_LOCAL));
	CHECK(e && e->type == RTN_LOCAL && e->ifindex == lo);

	/* A TUN appears, down. */
	char name[IFNAMSIZ];
	int tfd = tun_open("mmnl0", name, 0);
	CHECK(tfd >= 0);
	int ifx = nl_link_index("mmnl0");
	CHECK(ifx > 0);
	e = wait_for(m, &l, WANT(NL_EVENT_LINK_NEW, .ifname = "mmnl0", .up = DOWN));
	CHECK(e && e->ifindex == ifx && e->mtu == 1500);

	/* Up: with a process attached, a TUN has carrier, so it is running too. */
	CHECK(nl_link_set_up(ifx, true) == 0);
	e = wait_for(m, &l, WANT(NL_EVENT_LINK_NEW, .ifindex = ifx, .up = UP));
	CHECK(e != NULL);
	if (e) {
		CHECK_STR(e->ifname, "mmnl0");
		printf("# %s up: running %d carrier %d\n", e->ifname, e->running, e->carrier);
	}
	/* Only IFF_UP changed: the TUN's point-to-point, no-ARP nature is intact. */
	struct ifreq ifr;
	int qfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "mmnl0", 6);
	CHECK(qfd >= 0 && ioctl(qfd, SIOCGIFFLAGS, &ifr) == 0);
	CHECK((ifr.ifr_flags & (IFF_UP | IFF_NOARP | IFF_POINTOPOINT)) ==
	      (IFF_UP | IFF_NOARP | IFF_POINTOPOINT));
	close(qfd);

	/* Address: the address event, and the prefix route the kernel derives from it. */
	CHECK(nl_addr4_add(ifx, ip("198.18.6.1"), 24) == 0);
	CHECK(nl_addr4_add(ifx, ip("198.18.6.1"), 24) == -EEXIST);
	e = wait_for(m, &l, WANT(NL_EVENT_ADDR_NEW, .ifindex = ifx, .addr = "198.18.6.1"));
	CHECK(e && e->plen == 24);
	CHECK(e && strcmp(e->ifname, "mmnl0") == 0);
	e = wait_for(m, &l, WANT(NL_EVENT_ROUTE_NEW, .addr = "198.18.6.0", PLEN(24),
				 .table = RT_TABLE_MAIN));
	CHECK(e && e->ifindex == ifx && e->gateway.s_addr == 0 && e->type == RTN_UNICAST);

	/* A route via a gateway, main table, with a metric. */
	CHECK(nl_route4_add(ip("198.19.0.0"), 16, ip("198.18.6.2"), ifx, 0, 50) == 0);
	CHECK(nl_route4_add(ip("198.19.0.0"), 16, ip("198.18.6.2"), ifx, 0, 50) == -EEXIST);
	e = wait_for(m, &l, WANT(NL_EVENT_ROUTE_NEW, .addr = "198.19.0.0", PLEN(16)));
	CHECK(e != NULL);
	if (e) {
		CHECK_EQ_U64(e->ifindex, ifx);
		CHECK(e->gateway.s_addr == ip("198.18.6.2").s_addr);
		CHECK_EQ_U64(e->table, RT_TABLE_MAIN);
		CHECK_EQ_U64(e->metric, 50);
		CHECK_EQ_U64(e->type, RTN_UNICAST);
	}
	/* An on-link default route in another table; the gateway alone is enough too. */
	CHECK(nl_route4_add(z, 0, z, ifx, 100, 0) == 0);
	e = wait_for(m, &l, WANT(NL_EVENT_ROUTE_NEW, .addr = "0.0.0.0", PLEN(0), .table = 100));
	CHECK(e && e->ifindex == ifx && e->gateway.s_addr == 0);
	CHECK(nl_route4_add(ip("198.19.7.0"), 24, ip("198.18.6.3"), 0, 0, 0) == 0);
	e = wait_for(m, &l, WANT(NL_EVENT_ROUTE_NEW, .addr = "198.19.7.0", PLEN(24)));
	CHECK(e && e->ifindex == ifx); /* the kernel resolved the interface */

	/* Deletions. */
	CHECK(nl_route4_del(ip("198.19.0.0"), 16, ip("198.18.6.2"), ifx, 0, 50) == 0);
	CHECK(nl_route4_del(ip("198.19.0.0"), 16, ip("198.18.6.2"), ifx, 0, 50) == -ESRCH);
	CHECK(wait_for(m, &l, WANT(NL_EVENT_ROUTE_DEL, .addr = "198.19.0.0", PLEN(16))) != NULL);
	CHECK(nl_route4_del(z, 0, z, ifx, 100, 0) == 0);
	CHECK(wait_for(m, &l, WANT(NL_EVENT_ROUTE_DEL, PLEN(0), .table = 100)) != NULL);

	CHECK(nl_addr4_del(ifx, ip("198.18.6.1"), 24) == 0);
	CHECK(nl_addr4_del(ifx, ip("198.18.6.1"), 24) == -EADDRNOTAVAIL);
	e = wait_for(m, &l, WANT(NL_EVENT_ADDR_DEL, .ifindex = ifx, .addr = "198.18.6.1"));
	CHECK(e && e->plen == 24);
	/* The kernel takes the prefix route and the route through it with the address. */
	CHECK(wait_for(m, &l, WANT(NL_EVENT_ROUTE_DEL, .addr = "198.18.6.0", PLEN(24))) != NULL);

	/* Down, then gone with its fd. */
	CHECK(nl_link_set_up(ifx, false) == 0);
	CHECK(wait_for(m, &l, WANT(NL_EVENT_LINK_NEW, .ifindex = ifx, .up = DOWN)) != NULL);
	close(tfd);
	e = wait_for(m, &l, WANT(NL_EVENT_LINK_DEL, .ifindex = ifx));
	CHECK(e && strcmp(e->ifname, "mmnl0") == 0);

	/* Overflow -> RESYNC, on a fresh TUN. */
	tfd = tun_open("mmnl1", name, 0);
	ifx = nl_link_index("mmnl1");
	CHECK(tfd >= 0 && ifx > 0 && nl_link_set_up(ifx, true) == 0);
	test_overflow(m, &l, ifx);
	close(tfd);

	CHECK_STR(nl_event_kind_name(NL_EVENT_RESYNC), "resync");
	CHECK_STR(nl_event_kind_name(NL_EVENT_ADDR_DEL), "addr-del");
	CHECK_EQ_U64(l.dropped, 0);
	nl_monitor_close(m);
	nl_monitor_close(NULL);
	return tap_done();
}
