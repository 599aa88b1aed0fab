/* mnd/agentdisc.c for real, in a private network namespace (root; skipped otherwise): a TAP
 * device is the access link, the test plays the foreign agent on its other end. Checks the
 * Agent Solicitation on the wire (RFC 5944 2.2: ICMP Router Solicitation, IP TTL 1; RFC
 * 1256 3: to 224.0.0.2; source 0.0.0.0 without an address), advertisements to 224.0.0.1
 * heard without an address on the link (RFC 5266 3.2), the events NEW / REBOOTED (2.4.4) /
 * LOST (2.4.2.1: the advertisement lifetime, on the timer) with a new solicitation after
 * LOST, the link-layer source kept (3.6.1.1), bad frames counted and ignored, and a
 * callback that takes the link down from inside. About 1.2 s. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/tun.h"
#include "mip4/agent.h"
#include "mnd/agentdisc.h"
#include "tests/unit/netns.h"
#include "tests/unit/tap.h"

#define IFNAME "adtap0"
#define FA "198.18.21.1"
#define FA_COA "198.18.21.2"

static const uint8_t fa_mac[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc };

struct ev_rec {
	enum agent_event ev;
	char ifname[IFNAMSIZ];
	struct policy_agent a;
};

static struct ev_rec evs[32];
static unsigned nev;
static struct agentdisc *disc;
static bool down_on_reboot;

static void on_agent(void *ctx, const char *ifname, enum agent_event ev,
		     const struct policy_agent *a)
{
	(void)ctx;
	if (nev < sizeof(evs) / sizeof(evs[0])) {
		evs[nev].ev = ev;
		g_strlcpy(evs[nev].ifname, ifname, sizeof(evs[nev].ifname));
		evs[nev].a = *a;
		nev++;
	}
	/* Re-entrancy: take the link down from inside the callback. */
	if (ev == AGENT_EV_REBOOTED && down_on_reboot) {
		down_on_reboot = false;
		agentdisc_link_down(disc, ifname);
	}
}

static mm_time_ns mono(void)
{
	return clock_now(clock_monotonic());
}

/* Run the main loop until n events were recorded or ms passed. */
static bool pump_events(unsigned n, unsigned ms)
{
	mm_time_ns end = mono() + MM_MSEC(ms);

	while (nev < n && mono() < end) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	return nev >= n;
}

static void pump(unsigned ms)
{
	pump_events(UINT32_MAX, ms);
}

/* The next IPv4 ICMP Router Solicitation on the TAP (skipping IPv6 and anything else), as
 * the IP packet in pkt; its length, or 0 after ms without one. */
static size_t read_solicitation(int fd, uint8_t *pkt, size_t cap, unsigned ms)
{
	mm_time_ns end = mono() + MM_MSEC(ms);
	uint8_t frame[2048];

	while (mono() < end) {
		ssize_t n;

		g_main_context_iteration(NULL, FALSE);
		if (!wait_readable(fd, 5))
			continue;
		n = read(fd, frame, sizeof(frame));
		if (n < 14 + 20 + 8 || frame[12] != 0x08 || frame[13] != 0x00)
			continue;
		if (frame[14 + 9] != 1 || frame[14 + (frame[14] & 0xf) * 4] != 10)
			continue;
		if ((size_t)n - 14 > cap)
			return 0;
		memcpy(pkt, frame + 14, (size_t)n - 14);
		/* Keep the Ethernet destination for the caller in the last 6 bytes of pkt. */
		memcpy(pkt + cap - 6, frame, 6);
		return (size_t)n - 14;
	}
	return 0;
}

static uint32_t u32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void check_solicitation(int fd, const char *what)
{
	uint8_t pkt[256];
	size_t n = read_solicitation(fd, pkt, sizeof(pkt), 300);
	static const uint8_t mcast_mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x02 };

	printf("# solicitation: %s\n", what);
	CHECK(n == 28);
	if (n != 28)
		return;
	CHECK_EQ_U64(pkt[8], 1);                           /* TTL 1 (RFC 5944 2.2) */
	CHECK_EQ_U64(u32_at(pkt + 12), 0);                 /* 0.0.0.0: no address yet */
	CHECK_EQ_U64(u32_at(pkt + 16), 0xe0000002u);       /* 224.0.0.2 (RFC 1256 3) */
	CHECK_EQ_U64(mip4_inet_checksum(pkt, 20), 0);      /* IP header checksum */
	CHECK_EQ_U64(mip4_sol_parse(pkt + 20, 8), 0);      /* type 10, code 0, checksum */
	CHECK_MEM(pkt + sizeof(pkt) - 6, mcast_mac, 6);    /* RFC 1112 6.4 mapping */
}

/* An Ethernet frame from the agent: IPv4 from src to dst, protocol 1, TTL 1, the ICMP
 * message msg. bad_csum spoils the IP header checksum. */
static size_t frame_of(uint8_t *out, size_t cap, const char *src, const char *dst,
		       const uint8_t *msg, size_t len, bool bad_csum)
{
	struct in_addr s = ip(src), d = ip(dst);
	uint32_t dh = ntohl(d.s_addr);
	struct writer w;
	size_t ip_off, csum_off;
	uint8_t *hdr;

	writer_init(&w, out, cap);
	if ((dh >> 28) == 14) {
		uint8_t m[6] = { 0x01, 0x00, 0x5e, (uint8_t)((dh >> 16) & 0x7f), (uint8_t)(dh >> 8),
				 (uint8_t)dh };
		writer_bytes(&w, m, 6);
	} else {
		writer_bytes(&w, "\xff\xff\xff\xff\xff\xff", 6);
	}
	writer_bytes(&w, fa_mac, 6);
	writer_be16(&w, 0x0800);
	ip_off = writer_len(&w);
	writer_u8(&w, 0x45);
	writer_u8(&w, 0);
	writer_be16(&w, (uint16_t)(20 + len));
	writer_be32(&w, 0);                 /* id, flags, offset */
	writer_u8(&w, 1);                   /* TTL */
	writer_u8(&w, 1);                   /* ICMP */
	writer_reserve(&w, 2, &csum_off);
	writer_bytes(&w, &s.s_addr, 4);
	writer_bytes(&w, &d.s_addr, 4);
	writer_bytes(&w, msg, len);
	if (!writer_ok(&w) || !writer_view(&w, ip_off, 20, &hdr))
		abort();
	writer_patch_be16(&w, csum_off,
			  (uint16_t)(mip4_inet_checksum(hdr, 20) ^ (bad_csum ? 1 : 0)));
	return writer_len(&w);
}

static struct mip4_agent_adv adv_of(uint16_t seq, uint16_t lifetime)
{
	struct mip4_agent_adv a;

	memset(&a, 0, sizeof(a));
	a.code = MIP4_ADV_CODE_ROUTER;
	a.lifetime = lifetime;
	a.num_addrs = 1;
	a.routers[0].addr = ip(FA);
	a.seq = seq;
	a.reg_lifetime = 600;
	a.flags = MIP4_ADV_F | MIP4_ADV_T;
	a.num_coa = 1;
	a.coa[0] = ip(FA_COA);
	return a;
}

static size_t adv_msg(const struct mip4_agent_adv *a, uint8_t *buf, size_t cap)
{
	struct writer w;
	int n;

	writer_init(&w, buf, cap);
	n = mip4_adv_encode(&w, a);
	if (n < 0)
		abort();
	return (size_t)n;
}

static void inject(int fd, const char *src, const char *dst, const uint8_t *msg, size_t len,
		   bool bad_csum)
{
	uint8_t frame[1600];
	size_t n = frame_of(frame, sizeof(frame), src, dst, msg, len, bad_csum);

	if (write(fd, frame, n) != (ssize_t)n)
		printf("# inject: %s\n", strerror(errno));
}

static void inject_adv(int fd, uint16_t seq, uint16_t lifetime, const char *dst)
{
	struct mip4_agent_adv a = adv_of(seq, lifetime);
	uint8_t msg[256];

	inject(fd, FA, dst, msg, adv_msg(&a, msg, sizeof(msg)), false);
}

int main(void)
{
	struct agentdisc_stats st;
	uint8_t msg[256], ll[8];
	char name[IFNAMSIZ];
	int fd;

	enter_netns_with(true);
	log_set_level(LOG_LEVEL_INFO);
	fd = tun_open(IFNAME, name, TUN_OPEN_TAP);
	if (fd < 0) {
		printf("Bail out! tun_open: %s\n", strerror(-fd));
		return 1;
	}
	if (tun_set_up(IFNAME) < 0) {
		printf("Bail out! cannot bring %s up\n", IFNAME);
		return 1;
	}
	disc = agentdisc_new(NULL, on_agent, NULL);
	CHECK(disc != NULL);
	CHECK_EQ_U64(agentdisc_link_up(disc, "nosuchif0"), (uint64_t)-ENODEV);
	CHECK_EQ_U64(agentdisc_link_up(disc, ""), (uint64_t)-EINVAL);

	/* Link up: the first solicitation at once (RFC 5266 3.2). */
	CHECK_EQ_U64(agentdisc_link_up(disc, IFNAME), 0);
	check_solicitation(fd, "at link up");
	CHECK_EQ_U64(agentdisc_link_up(disc, IFNAME), 0);     /* again: no second round */
	CHECK(read_solicitation(fd, msg, sizeof(msg), 100) == 0);
	CHECK(agentdisc_current(disc, IFNAME) == NULL);
	CHECK_EQ_U64(agentdisc_lladdr(disc, IFNAME, ll), (uint64_t)-ENOENT);

	/* Noise first: nothing of it is an agent, nothing crashes. */
	struct mip4_agent_adv a = adv_of(300, 1);
	size_t n = adv_msg(&a, msg, sizeof(msg));
	inject(fd, FA, "224.0.0.1", msg, n, true);              /* bad IP header checksum */
	inject(fd, FA, "224.0.0.1", msg, n - 4, false);         /* truncated advertisement */
	inject(fd, "0.0.0.0", "224.0.0.1", msg, n, false);      /* no source */
	msg[1] ^= 0x40;                                         /* Code 64: bad ICMP checksum */
	inject(fd, FA, "224.0.0.1", msg, n, false);
	static const uint8_t plain_ra[] = { 9, 0, 0xf6, 0xfd, 0, 2, 0, 0 }; /* no extension */
	inject(fd, FA, "224.0.0.1", plain_ra, sizeof(plain_ra), false);
	static const uint8_t echo[] = { 8, 0, 0xf7, 0xff, 0, 0, 0, 0 };     /* not type 9 */
	inject(fd, FA, "224.0.0.1", echo, sizeof(echo), false);
	pump(100);
	CHECK_EQ_U64(nev, 0);
	agentdisc_stats(disc, IFNAME, &st);
	CHECK_EQ_U64(st.frames, 5);               /* the echo never passed the filter */
	CHECK_EQ_U64(st.malformed, 4);
	CHECK_EQ_U64(st.not_agent, 1);
	CHECK_EQ_U64(st.adverts, 0);
	CHECK_EQ_U64(st.solicitations, 1);

	/* The agent, to 224.0.0.1, lifetime 1 s: NEW, with what it advertised. */
	inject_adv(fd, 300, 1, "224.0.0.1");
	CHECK(pump_events(1, 300));
	CHECK(evs[0].ev == AGENT_EV_NEW);
	CHECK_STR(evs[0].ifname, IFNAME);
	CHECK_EQ_U64(evs[0].a.addr.s_addr, ip(FA).s_addr);
	CHECK_EQ_U64(evs[0].a.coa[0].s_addr, ip(FA_COA).s_addr);
	CHECK_EQ_U64(evs[0].a.seq, 300);
	CHECK(agentdisc_current(disc, IFNAME) != NULL);
	CHECK_EQ_U64(agentdisc_lladdr(disc, IFNAME, ll), 6);
	CHECK_MEM(ll, fa_mac, 6);
	/* Broadcast too; a lower sequence number below 256: rebooted (2.4.4). */
	inject_adv(fd, 301, 1, "255.255.255.255");
	inject_adv(fd, 5, 1, "255.255.255.255");
	CHECK(pump_events(3, 300));
	CHECK(evs[1].ev == AGENT_EV_SAME);
	CHECK(evs[2].ev == AGENT_EV_REBOOTED);
	mm_time_ns heard = mono();

	/* No more advertisements: LOST when the lifetime runs out (timer), then a new round
	 * of solicitations (2.4.2.1) at once. */
	CHECK(pump_events(4, 1500));
	CHECK(evs[3].ev == AGENT_EV_LOST);
	CHECK(mono() - heard < MM_MSEC(1300));
	check_solicitation(fd, "after the agent was lost");
	agentdisc_stats(disc, IFNAME, &st);
	CHECK_EQ_U64(st.adverts, 3);
	CHECK_EQ_U64(st.solicitations, 2);
	CHECK_EQ_U64(st.send_errors, 0);

	/* A callback that takes the link down from inside: LOST nested, nothing freed twice. */
	inject_adv(fd, 400, 30, "224.0.0.1");
	CHECK(pump_events(5, 300));
	CHECK(evs[4].ev == AGENT_EV_NEW);
	down_on_reboot = true;
	inject_adv(fd, 6, 30, "224.0.0.1");
	inject_adv(fd, 401, 30, "224.0.0.1");                  /* after the link went down */
	CHECK(pump_events(7, 300));
	CHECK(evs[5].ev == AGENT_EV_REBOOTED);
	CHECK(evs[6].ev == AGENT_EV_LOST);
	pump(50);
	CHECK_EQ_U64(nev, 7);
	CHECK(agentdisc_current(disc, IFNAME) == NULL);
	agentdisc_link_down(disc, IFNAME);                      /* already down: nothing */
	CHECK_EQ_U64(nev, 7);
	/* Up again: a new attachment, a new solicitation. */
	CHECK_EQ_U64(agentdisc_link_up(disc, IFNAME), 0);
	check_solicitation(fd, "on the next link up");

	agentdisc_free(disc);
	close(fd);
	return tap_done();
}
