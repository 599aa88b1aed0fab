/* Unit tests for mnd/location.c (interface view and location decision). */
#include <errno.h>
#include <string.h>

#include "common/sock.h"
#include "mnd/location.h"
#include "tests/unit/tap.h"

static struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };

	addr4_parse(s, &a);
	return a;
}

static struct nl_event link_ev(int ifindex, const char *name, bool up, bool running)
{
	struct nl_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = NL_EVENT_LINK_NEW;
	ev.ifindex = ifindex;
	strncpy(ev.ifname, name, sizeof(ev.ifname) - 1);
	ev.up = up;
	ev.running = running;
	ev.carrier = running;
	return ev;
}

static struct nl_event addr_ev(bool add, int ifindex, const char *a, unsigned plen)
{
	struct nl_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = add ? NL_EVENT_ADDR_NEW : NL_EVENT_ADDR_DEL;
	ev.ifindex = ifindex;
	ev.addr = ip(a);
	ev.plen = plen;
	return ev;
}

static struct nl_event route_ev(bool add, int ifindex, const char *dst, unsigned plen,
				unsigned metric)
{
	struct nl_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = add ? NL_EVENT_ROUTE_NEW : NL_EVENT_ROUTE_DEL;
	ev.ifindex = ifindex;
	ev.dst = ip(dst);
	ev.dst_plen = plen;
	ev.table = 254;   /* main */
	ev.type = 1;      /* RTN_UNICAST */
	ev.metric = metric;
	return ev;
}

/* Fake reachability: bit i set = the home agent is reachable through ifindex i. */
static unsigned reachable;

static int fake_reach(int ifindex, void *user)
{
	(void)user;
	return (reachable >> ifindex) & 1;
}

static void test_init(void)
{
	struct mnd_ifaces t;

	CHECK(mnd_ifaces_init(&t, "wlan0,wwan0") == 0);
	CHECK_EQ_U64(t.count, 2);
	CHECK_STR(t.iface[0].name, "wlan0");
	CHECK_STR(t.iface[1].name, "wwan0");
	CHECK(mnd_ifaces_init(&t, " eth0 , wlan0 ") == 0);
	CHECK_STR(t.iface[0].name, "eth0");
	CHECK_STR(t.iface[1].name, "wlan0");
	CHECK(mnd_ifaces_init(&t, "") == -EINVAL);
	CHECK(mnd_ifaces_init(&t, "wlan0,,wwan0") == -EINVAL);
	CHECK(mnd_ifaces_init(&t, "wlan0,wlan0") == -EINVAL);
	CHECK(mnd_ifaces_init(&t, "averyveryverylongname0") == -EINVAL);
	CHECK(mnd_ifaces_init(&t, "wlan0,") == -EINVAL);
	/* Untouched on failure. */
	CHECK_STR(t.iface[0].name, "eth0");
}

static void test_choose(void)
{
	struct mnd_ifaces t;
	struct mnd_location loc;
	struct in_addr hoa = ip("198.18.1.100");
	struct nl_event ev;

	mnd_ifaces_init(&t, "wlan0,wwan0");
	mnd_location_choose(&t, hoa, fake_reach, NULL, &loc);
	CHECK(loc.where == MND_DETACHED);

	/* Unrelated interfaces are ignored. */
	ev = link_ev(1, "lo", true, true);
	CHECK(!mnd_ifaces_apply(&t, &ev));
	ev = addr_ev(true, 1, "127.0.0.1", 8);
	CHECK(!mnd_ifaces_apply(&t, &ev));

	/* wwan0 up with an address: away via wwan0. */
	ev = link_ev(3, "wwan0", true, true);
	CHECK(mnd_ifaces_apply(&t, &ev));
	CHECK(!mnd_ifaces_apply(&t, &ev)); /* repeated: no change */
	ev = addr_ev(true, 3, "198.19.20.150", 24);
	CHECK(mnd_ifaces_apply(&t, &ev));
	CHECK(!mnd_ifaces_apply(&t, &ev));
	/* An address but no route to the home agent yet (DHCP adds the default route after
	 * the address). */
	reachable = 0;
	mnd_location_choose(&t, hoa, fake_reach, NULL, &loc);
	CHECK(loc.where == MND_DETACHED);
	/* A route event on one of ours says "decide again"; on another interface, nothing. */
	ev = route_ev(true, 3, "0.0.0.0", 0, 200);
	CHECK(mnd_ifaces_apply(&t, &ev));
	ev = route_ev(true, 7, "0.0.0.0", 0, 200);
	CHECK(!mnd_ifaces_apply(&t, &ev));
	reachable = 1u << 3;
	mnd_location_choose(&t, hoa, fake_reach, NULL, &loc);
	CHECK(loc.where == MND_AWAY);
	CHECK_EQ_U64(loc.addr.s_addr, ip("198.19.20.150").s_addr);
	CHECK_STR(loc.ifname, "wwan0");
	CHECK_EQ_U64(loc.ifindex, 3);

	/* wlan0 gets carrier and an address: preferred. */
	ev = link_ev(2, "wlan0", true, false);
	CHECK(mnd_ifaces_apply(&t, &ev));
	ev = addr_ev(true, 2, "198.18.11.150", 24);
	CHECK(mnd_ifaces_apply(&t, &ev));
	reachable |= 1u << 2;
	mnd_location_choose(&t, hoa, fake_reach, NULL, &loc);
	CHECK_STR(loc.ifname, "wwan0");  /* no carrier yet */
	ev = link_ev(2, "wlan0", true, true);
	CHECK(mnd_ifaces_apply(&t, &ev));
	mnd_location_choose(&t, hoa, fake_reach, NULL, &loc);
	CHECK(loc.where == MND_AWAY);
	CHECK_STR(loc.ifname, "wlan0");
	CHECK_EQ_U64(loc.addr.s_addr, ip("198.18.11.150").s_addr);

	/* No route to the home agent through wlan0 any more: wwan0. */
	reachable &= ~(1u << 2);
	mnd_location_choose(&t, hoa, fake_reach, NULL, &loc);
	CHECK_STR(loc.ifname, "wwan0");
	reachable |= 1u << 2;

	/* Carrier lost on wlan0 (address kept): back to wwan0. */
	ev = link_ev(2, "wlan0", true, false);
	CHECK(mnd_ifaces_apply(&t, &ev));
	mnd_location_choose(&t, hoa, fake_reach, NULL, &loc);
	CHECK_STR(loc.ifname, "wwan0");

	/* wlan0 on the home link: at home, whatever the order (the home address is enough:
	 * the home agent is on that link). */
	ev = addr_ev(false, 2, "198.18.11.150", 24);
	CHECK(mnd_ifaces_apply(&t, &ev));
	CHECK(!mnd_ifaces_apply(&t, &ev));
	ev = addr_ev(true, 2, "198.18.1.100", 24);
	mnd_ifaces_apply(&t, &ev);
	ev = link_ev(2, "wlan0", true, true);
	mnd_ifaces_apply(&t, &ev);
	mnd_location_choose(&t, hoa, fake_reach, NULL, &loc);
	CHECK(loc.where == MND_HOME);
	CHECK_STR(loc.ifname, "wlan0");
	CHECK_EQ_U64(loc.addr.s_addr, hoa.s_addr);
	CHECK_EQ_U64(loc.plen, 24);
	struct mnd_location same = loc;
	CHECK(mnd_location_equal(&loc, &same));

	/* The home link loses carrier: away via wwan0 again. */
	ev = link_ev(2, "wlan0", true, false);
	mnd_ifaces_apply(&t, &ev);
	mnd_location_choose(&t, hoa, fake_reach, NULL, &loc);
	CHECK(loc.where == MND_AWAY);
	CHECK(!mnd_location_equal(&loc, &same));

	/* wwan0 disappears: detached. */
	ev = link_ev(3, "wwan0", true, true);
	ev.kind = NL_EVENT_LINK_DEL;
	CHECK(mnd_ifaces_apply(&t, &ev));
	mnd_location_choose(&t, hoa, fake_reach, NULL, &loc);
	CHECK(loc.where == MND_DETACHED);

	/* Resync clears everything. */
	ev.kind = NL_EVENT_RESYNC;
	CHECK(mnd_ifaces_apply(&t, &ev));
	CHECK_EQ_U64(t.iface[0].naddrs, 0);
	CHECK_EQ_U64(t.iface[0].ifindex, 0);
	CHECK_STR(mnd_where_name(MND_HOME), "home");
}

int main(void)
{
	test_init();
	test_choose();
	return tap_done();
}
