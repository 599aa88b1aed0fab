/* End-to-end test of the vpngw daemon and gwctl (arguments: the two executables), in two
 * private network namespaces joined by a veth pair (root; skipped otherwise):
 *
 *	nsA: va 198.18.250.1/24, the vpngw process (pool 198.18.100.0/24, TUN gwtun)
 *	nsB: vb 198.18.250.2/24, this process as the client: an initiator ike_engine (the
 *	     engine mnd uses) with UDP 500 and a vpngw data path (TUN mntun, UDP 4500)
 *
 * Checks: the IKE SA and first Child SA come up with PSK and identities, the client gets
 * 198.18.100.1 and the DNS server; a ping to the gateway's inner address goes through the
 * ESP tunnel; gwctl list (JSON and text) and stats show the SA; the keylog file has the
 * SA's line; gwctl rekey child, rekey ike and terminate make vpngw rekey the Child SA
 * and the IKE SA (the client follows, ping still works) and delete the IKE SA, and gwctl
 * refuses SPIs that do not exist or are malformed; SIGHUP with a changed file changes the
 * DNS servers handed out, and the same identity gets the same inner address on a second
 * IKE SA; an unknown identity is refused
 * (the client's SA fails, the gateway logs it); SIGTERM makes vpngw delete the IKE SAs (the
 * client sees them go) and exit 0; a bad configuration or an address that cannot be bound
 * is one line and exit status 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/netlink.h"
#include "common/sock.h"
#include "daemon/proposals.h"
#include "esp/udpencap.h"
#include "ike/engine.h"
#include "daemon/espdp.h"
#include "vpngw/ident.h"
#include "tests/unit/netns.h"
#include "tests/unit/tap.h"

static const char *vpngw_bin, *gwctl_bin;
static char dir[64];
static int ns_a, ns_b;
static pid_t gw_pid;

/* The client. */
static struct ike_engine *eng;
static struct ike_peer_cfg peer;
static struct ike_actions acts;
static struct espdp *dp;
static int udp500 = -1, udp4500 = -1, tun = -1, tun_idx, ping_fd = -1;
static const uint8_t psk[] = "a pre-shared key for the test";
static int sa_up, sa_down;
static struct ike_sa_info last_up;
static char last_down[640];
static int children;
static uint32_t child_in, child_out, child_replaces;   /* the last CHILD_UP */

static void bail(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(1);
}

static void enter(int fd)
{
	if (setns(fd, CLONE_NEWNET) < 0)
		bail("setns");
}

static int new_ns(void)
{
	int fd;

	enter_netns_with(true);
	fd = open("/proc/self/ns/net", O_RDONLY);
	if (fd < 0)
		bail("/proc/self/ns/net");
	return fd;
}

static void path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char p[256];
	FILE *f;

	path(p, sizeof(p), name);
	f = fopen(p, "w");
	if (!f)
		bail(p);
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
}

static char *read_file(const char *name)
{
	char p[256], *text = NULL;

	path(p, sizeof(p), name);
	if (!g_file_get_contents(p, &text, NULL, NULL))
		return g_strdup("");
	return text;
}

static void write_conf(const char *dns)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "[gateway]\n"
		 "listen = 198.18.250.1\n"
		 "pool = 198.18.100.0/24\n"
		 "dns = %s\n"
		 "tunnel-device = gwtun\n"
		 "control-socket = %s/vpngw.sock\n"
		 "keylog-file = keys\n"
		 "dpd-interval = 0\n"
		 "[peer mn]\n"
		 "remote-id = mn@test\n"
		 "local-id = fqdn:vpngw.test\n"
		 "auth = psk\n"
		 "psk-file = mn.psk\n"
		 "ike = aes128gcm16-prfsha256-x25519\n"
		 "esp = aes128gcm16\n"
		 "local-ts = 198.18.0.0/16\n", dns, dir);
	write_file("vpngw.conf", text, 0644);
}

/* Start vpngw in nsA with conf (a file name in dir), stderr into log. */
static pid_t start_gw(const char *conf, const char *log)
{
	char cp[256], lp[256];
	pid_t pid;

	path(cp, sizeof(cp), conf);
	path(lp, sizeof(lp), log);
	pid = fork();
	if (pid < 0)
		bail("fork");
	if (pid == 0) {
		int fd = open(lp, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (setns(ns_a, CLONE_NEWNET) < 0 || fd < 0)
			_exit(127);
		dup2(fd, 2);
		close(fd);
		execl(vpngw_bin, "vpngw", "--config", cp, "--log-level", "info", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Exit status of pid within ms, or -1. */
static int wait_exit(pid_t pid, int ms)
{
	int st;

	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	return -1;
}

/* --- the client ------------------------------------------------------------------------ */

static void apply(void)
{
	for (size_t i = 0; i < acts.n; i++) {
		struct ike_action *a = &acts.a[i];
		struct sockaddr_in to = { .sin_family = AF_INET };
		struct in_addr intra = ip("198.18.0.0");

		switch (a->kind) {
		case IKE_ACT_SEND:
			to.sin_addr = a->u.send.remote.addr;
			to.sin_port = htons(a->u.send.remote.port);
			if (a->u.send.local.port == UDPENCAP_PORT)
				espdp_send_ike(dp, acts.buf + a->u.send.off, a->u.send.len, &to,
					       a->u.send.local.addr);
			else
				sock_send4(udp500, acts.buf + a->u.send.off, a->u.send.len, &to,
					   &a->u.send.local.addr, 0);
			break;
		case IKE_ACT_CHILD_UP:
			if (espdp_child_add(dp, &a->u.child, clock_now(clock_monotonic())) == 0)
				children++;
			child_in = a->u.child.spi_in;
			child_out = a->u.child.spi_out;
			child_replaces = a->u.child.replaces_spi_in;
			break;
		case IKE_ACT_CHILD_DOWN:
			if (espdp_child_del(dp, a->u.child.spi_in) == 0)
				children--;
			break;
		case IKE_ACT_SA_UP:
			sa_up++;
			last_up = a->u.sa;
			/* IKE SA rekey (RFC 7296 2.18): the Child SAs move to the new SA. */
			if (a->u.sa.replaces_spi_i) {
				espdp_child_reparent(dp, a->u.sa.replaces_spi_i,
						     a->u.sa.replaces_spi_r, a->u.sa.spi_i,
						     a->u.sa.spi_r);
				break;
			}
			/* mnd's job: the TIA on the TUN, the intranet routed into it. */
			nl_addr4_add(tun_idx, a->u.sa.inner_addr, 32);
			nl_route4_add(intra, 16, ip("0.0.0.0"), tun_idx, 0, 0);
			break;
		case IKE_ACT_SA_DOWN:
			sa_down++;
			snprintf(last_down, sizeof(last_down), "%s", a->text);
			espdp_child_del_ike(dp, a->u.sa.spi_i, a->u.sa.spi_r);
			break;
		case IKE_ACT_KEYLOG:
		case IKE_ACT_SA_MOVED:           /* MOBIKE: no moves in this test */
		case IKE_ACT_MOVE_FAILED:
		case IKE_ACT_PEER_ADDRESSES:
		case IKE_ACT_PEER_ALIVE:
			break;
		}
	}
	ike_actions_clear(&acts);
}

static void on_ike(void *user, const uint8_t *msg, size_t len, const struct sock_dgram_meta *m)
{
	struct ike_endpoint from = { m->peer.sin_addr, ntohs(m->peer.sin_port) };
	struct ike_endpoint to = { m->dst, UDPENCAP_PORT };

	(void)user;
	ike_engine_input(eng, msg, len, &from, &to, clock_now(clock_monotonic()), &acts);
	apply();
}

static void client_setup(const char *local_id)
{
	struct ike_engine_cfg ec;
	struct espdp_config dc;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = ip("198.18.250.2"),
				 .sin_port = htons(500) };
	const char *what = "";
	char err[256];

	memset(&peer, 0, sizeof(peer));
	peer.name = "gw";
	if (ident_parse(local_id, &peer.local_id, err, sizeof(err)) < 0 ||
	    ident_parse("fqdn:vpngw.test", &peer.remote_id, err, sizeof(err)) < 0 ||
	    proposals_parse("aes128gcm16-prfsha256-x25519", IKE_SUITE_IKE, &peer.ike, err,
			    sizeof(err)) < 0 ||
	    proposals_parse("aes128gcm16", IKE_SUITE_ESP, &peer.esp, err, sizeof(err)) < 0) {
		printf("Bail out! client config: %s\n", err);
		exit(1);
	}
	peer.local.auth = peer.remote.auth = IKE_AUTHK_PSK;
	peer.local.psk = peer.remote.psk = psk;
	peer.local.psk_len = peer.remote.psk_len = sizeof(psk) - 1;
	peer.local_ts.n = 1;
	peer.local_ts.ts[0] = (struct ike_ts4){ ip("0.0.0.0"), ip("255.255.255.255"), 0, 0,
						65535 };
	peer.remote_ts.n = 1;
	peer.remote_ts.ts[0] = (struct ike_ts4){ ip("198.18.0.0"), ip("198.18.255.255"), 0, 0,
						 65535 };
	peer.request_address = true;
	peer.child_lifetime_s = 3600;
	memset(&ec, 0, sizeof(ec));
	ec.default_role = IKE_ROLE_INITIATOR;
	ec.peers = &peer;
	ec.npeers = 1;
	if (ike_engine_new(&ec, &eng) < 0) {
		printf("Bail out! client engine\n");
		exit(1);
	}
	if (udp500 < 0) {
		udp500 = sock_udp4_open(&a, SOCK_F_REUSEADDR | SOCK_F_PKTINFO);
		udp4500 = espdp_open_udp(ip("198.18.250.2"), UDPENCAP_PORT);
		tun = espdp_open_tun("mntun", 1400, ip("0.0.0.0"), NULL, 0, NULL, &tun_idx,
				     &what);
		ping_fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
		if (udp500 < 0 || udp4500 < 0 || tun < 0 || ping_fd < 0)
			bail("client sockets");
		memset(&dc, 0, sizeof(dc));
		dc.tun_fd = tun;
		dc.udp_fd = udp4500;
		dc.listen = ip("198.18.250.2");
		dc.ike_input = on_ike;
		if (espdp_new(&dc, &dp) < 0)
			bail("client data path");
	}
	sa_up = sa_down = 0;
	last_down[0] = '\0';
}

static void client_free(void)
{
	ike_engine_free(eng);
	eng = NULL;
}

static uint64_t initiate(void)
{
	struct ike_endpoint l = { ip("198.18.250.2"), 500 }, r = { ip("198.18.250.1"), 500 };
	uint64_t spi = 0;

	if (ike_engine_initiate(eng, 0, &l, &r, clock_now(clock_monotonic()), &spi, &acts) < 0)
		printf("# ike_engine_initiate failed\n");
	apply();
	return spi;
}

/* Run the client until cond() holds or ms pass. */
static bool run_until(bool (*cond)(void), int ms)
{
	mm_time_ns end = clock_now(clock_monotonic()) + MM_MSEC(ms);

	while (!cond()) {
		mm_time_ns now = clock_now(clock_monotonic()), next;
		struct pollfd p[3] = {
			{ .fd = udp500, .events = POLLIN }, { .fd = udp4500, .events = POLLIN },
			{ .fd = tun, .events = POLLIN },
		};
		int wait;

		if (now >= end)
			return false;
		next = ike_engine_next_timer(eng);
		wait = next <= now ? 0 : next - now > MM_MSEC(20) ? 20
			: (int)((next - now) / MM_MSEC(1));
		poll(p, 3, wait);
		now = clock_now(clock_monotonic());
		if (p[0].revents & POLLIN) {
			uint8_t buf[IKE_MSG_MAX];
			struct sock_dgram_meta m;
			ssize_t n;

			while ((n = sock_recv4(udp500, buf, sizeof(buf), &m)) >= 0) {
				struct ike_endpoint from = { m.peer.sin_addr, ntohs(m.peer.sin_port) };
				struct ike_endpoint to = { m.dst, 500 };

				ike_engine_input(eng, buf, (size_t)n, &from, &to, now, &acts);
				apply();
			}
		}
		if (p[1].revents & POLLIN)
			espdp_udp_readable(dp, now, 4);
		if (p[2].revents & POLLIN)
			espdp_tun_readable(dp, now, 4);
		if (ike_engine_next_timer(eng) <= clock_now(clock_monotonic())) {
			ike_engine_timer(eng, clock_now(clock_monotonic()), &acts);
			apply();
		}
	}
	return true;
}

static bool is_up(void) { return sa_up > 0; }
static bool is_down(void) { return sa_down > 0; }
static bool never(void) { return false; }

/* ICMP echo to 198.18.100.254 from nsB's raw socket; replies counted. */
static int ping_gateway(int count)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = ip("198.18.100.254") };
	uint8_t buf[256];
	int replies = 0;

	for (int s = 1; s <= count; s++) {
		uint8_t icmp[64] = { 8, 0, 0, 0, 0x42, 0x42, 0, (uint8_t)s };
		uint32_t sum = 0;

		for (size_t i = 0; i < sizeof(icmp); i += 2)
			sum += (uint32_t)(icmp[i] << 8 | icmp[i + 1]);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		icmp[2] = (uint8_t)(~sum >> 8);
		icmp[3] = (uint8_t)~sum;
		sendto(ping_fd, icmp, sizeof(icmp), 0, (struct sockaddr *)&to, sizeof(to));
	}
	run_until(never, 300);
	for (;;) {
		ssize_t n = recv(ping_fd, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		if (n >= 28 && buf[20] == 0 && buf[24] == 0x42 && buf[25] == 0x42)
			replies++;
	}
	return replies;
}

/* Output of gwctl with args, and its exit status. */
static char *gwctl(const char *args, int *status)
{
	char cmd[512];
	GString *out = g_string_new(NULL);
	char buf[4096];
	size_t n;
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd), "%s --socket %s/vpngw.sock %s", gwctl_bin, dir, args);
	f = popen(cmd, "r");
	while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		g_string_append_len(out, buf, (gssize)n);
	st = f ? pclose(f) : -1;
	*status = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return g_string_free(out, FALSE);
}

static bool wait_file(const char *name, int ms)
{
	char p[256];

	path(p, sizeof(p), name);
	for (int i = 0; i < ms / 10; i++) {
		if (access(p, F_OK) == 0)
			return true;
		usleep(10000);
	}
	return false;
}

/* --- tests ----------------------------------------------------------------------------- */

static void test_bad_start(void)
{
	char *log;
	int st;

	write_file("nolisten.conf", "[gateway]\npool = 198.18.100.0/24\n[peer x]\nauth = psk\n",
		   0644);
	st = wait_exit(start_gw("nolisten.conf", "bad1.log"), 5000);
	log = read_file("bad1.log");
	CHECK_EQ_U64(st, 1);
	CHECK(strstr(log, "[gateway] listen: missing (required)") != NULL &&
	      strchr(log, '\n') == strrchr(log, '\n'));
	printf("# %s", log);
	g_free(log);

	write_file("badaddr.conf", "[gateway]\nlisten = 198.18.250.99\npool = 198.18.100.0/24\n"
		   "tunnel-device = gwbad\n[peer x]\nauth = psk\npsk-file = mn.psk\n"
		   "local-ts = 198.18.0.0/16\n", 0644);
	st = wait_exit(start_gw("badaddr.conf", "bad2.log"), 5000);
	log = read_file("bad2.log");
	CHECK_EQ_U64(st, 1);
	CHECK(strstr(log, "[gateway] listen: cannot bind 198.18.250.99:500") != NULL);
	printf("# %s", log);
	g_free(log);
}

static void test_tunnel(void)
{
	char *out, *log, *keys, spi[24];
	uint64_t spi_i;
	int st;

	write_conf("198.18.1.53");
	gw_pid = start_gw("vpngw.conf", "vpngw.log");
	CHECK(wait_file("vpngw.sock", 5000));
	client_setup("mn@test");
	spi_i = initiate();
	CHECK(run_until(is_up, 5000));
	CHECK(last_up.inner_addr.s_addr == ip("198.18.100.1").s_addr);
	CHECK(last_up.ndns == 1 && last_up.dns[0].s_addr == ip("198.18.1.53").s_addr);
	CHECK_EQ_U64(children, 1);
	CHECK_EQ_U64(ping_gateway(3), 3);

	out = gwctl("list --json", &st);
	CHECK_EQ_U64(st, 0);
	CHECK(strstr(out, "\"peer_id\":\"mn@test\"") && strstr(out, "\"peer\":\"mn\"") &&
	      strstr(out, "\"inner_address\":\"198.18.100.1\"") &&
	      strstr(out, "\"ts_local\":[\"198.18.0.0/16\"]") &&
	      strstr(out, "\"ts_remote\":[\"198.18.100.1/32\"]") &&
	      strstr(out, "\"in_packets\":3") && strstr(out, "\"out_packets\":3"));
	snprintf(spi, sizeof(spi), "%016llx", (unsigned long long)spi_i);
	CHECK(strstr(out, spi) != NULL);
	g_free(out);
	out = gwctl("list", &st);
	CHECK(st == 0 && strstr(out, "mn: mn@test, responder") && strstr(out, "1 IKE SA"));
	printf("# gwctl list:\n%s", out);
	g_free(out);
	out = gwctl("stats", &st);
	CHECK(st == 0 && strstr(out, "ike.established") && strstr(out, "esp.in_packets"));
	g_free(out);
	out = gwctl("bogus", &st);
	CHECK_EQ_U64(st, 2);
	g_free(out);

	keys = read_file("keys");
	CHECK(strncmp(keys, spi, 16) == 0 && strchr(keys, '\n') == strrchr(keys, '\n'));
	g_free(keys);
	log = read_file("vpngw.log");
	CHECK(strstr(log, "peer mn@test from 198.18.250.2:500 up (mn), inner address "
		      "198.18.100.1") != NULL);
	CHECK(strstr(log, "keylog-file") != NULL);
	g_free(log);
}

static int count(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)) != NULL; s++)
		n++;
	return n;
}

static bool child_rekeyed(void) { return child_replaces != 0 && children == 1; }
static bool ike_rekeyed(void) { return last_up.replaces_spi_i != 0; }

/* The operator's orders: gwctl rekey child (by the gateway's outbound SPI), rekey ike (by
 * spi_r), terminate; the refusals of what does not exist or is malformed. */
static void test_orders(uint64_t spi_i)
{
	uint32_t old_in = child_in, old_out = child_out;
	uint64_t spi_r = last_up.spi_r;
	char args[128], want[128], *out, *log;
	int st;

	/* Child SA rekey (RFC 7296 1.3.3): vpngw initiates CREATE_CHILD_SA. Our inbound SPI is
	 * the gateway's outbound one. */
	snprintf(args, sizeof(args), "rekey child %08x", old_in);
	out = gwctl(args, &st);
	CHECK_EQ_U64(st, 0);
	snprintf(want, sizeof(want), "ordered: rekey-child %08x\n", old_in);
	CHECK_STR(out, want);
	g_free(out);
	child_replaces = 0;
	CHECK(run_until(child_rekeyed, 5000));
	CHECK(child_replaces == old_in && child_in != old_in && child_out != old_out);
	CHECK_EQ_U64(ping_gateway(2), 2);
	/* vpngw lists only the new Child SA. */
	out = gwctl("list --json", &st);
	snprintf(want, sizeof(want), "\"spi_in\":\"%08x\",\"spi_out\":\"%08x\"", child_out,
		 child_in);
	CHECK(st == 0 && strstr(out, want) != NULL && count(out, "\"spi_in\"") == 1);
	snprintf(want, sizeof(want), "%08x", old_in);
	CHECK(st == 0 && strstr(out, want) == NULL);
	g_free(out);

	/* IKE SA rekey (1.3.2, 2.18), named by its spi_r: new SPIs, the Child SA moves. */
	snprintf(args, sizeof(args), "rekey ike %016llx", (unsigned long long)spi_r);
	out = gwctl(args, &st);
	CHECK_EQ_U64(st, 0);
	g_free(out);
	memset(&last_up, 0, sizeof(last_up));
	CHECK(run_until(ike_rekeyed, 5000));
	CHECK(last_up.replaces_spi_i == spi_i && last_up.replaces_spi_r == spi_r &&
	      last_up.spi_i != spi_i && last_up.spi_r != spi_r);
	run_until(never, 300);      /* the old SA's DELETE */
	CHECK_EQ_U64(children, 1);
	CHECK_EQ_U64(ping_gateway(2), 2);
	out = gwctl("list --json", &st);
	snprintf(want, sizeof(want), "\"spi_i\":\"%016llx\",\"spi_r\":\"%016llx\"",
		 (unsigned long long)last_up.spi_i, (unsigned long long)last_up.spi_r);
	CHECK(st == 0 && strstr(out, want) != NULL && strstr(out, "\"child_sas\":[{") != NULL);
	snprintf(want, sizeof(want), "%016llx", (unsigned long long)spi_i);
	CHECK(strstr(out, want) == NULL);
	g_free(out);

	/* Refusals: exit 1 and vpngw's words; a usage error: 2. */
	out = gwctl("rekey child 0badc0de 2>&1", &st);
	CHECK(st == 1 && strstr(out, "gwctl: vpngw says: no such Child SA 0badc0de"));
	g_free(out);
	snprintf(args, sizeof(args), "terminate %016llx 2>&1", (unsigned long long)spi_i);
	out = gwctl(args, &st);
	snprintf(want, sizeof(want), "no such IKE SA %016llx", (unsigned long long)spi_i);
	CHECK(st == 1 && strstr(out, want));
	g_free(out);
	out = gwctl("rekey ike c1234567 2>&1", &st);
	CHECK(st == 1 && strstr(out, "16 hex digits"));
	g_free(out);
	out = gwctl("rekey child 2>&1", &st);
	CHECK(st == 2 && strstr(out, "\"rekey child\" needs SPI"));
	g_free(out);

	/* terminate (1.4.1): vpngw deletes the IKE SA, the client sees it go. */
	snprintf(args, sizeof(args), "terminate %016llx --json",
		 (unsigned long long)last_up.spi_i);
	out = gwctl(args, &st);
	CHECK(st == 0 && strstr(out, "{\"ok\":true,\"request\":\"terminate "));
	g_free(out);
	sa_down = 0;
	CHECK(run_until(is_down, 5000));
	CHECK_EQ_U64(children, 0);
	out = gwctl("list", &st);
	CHECK(st == 0 && strstr(out, "0 IKE SAs"));
	g_free(out);

	log = read_file("vpngw.log");
	snprintf(want, sizeof(want), "control: rekey-child %08x: ordered", old_in);
	CHECK(strstr(log, want) != NULL);
	CHECK(strstr(log, "control: rekey-child 0badc0de: refused: no such Child SA") != NULL);
	CHECK(strstr(log, "control: terminate ") != NULL);
	g_free(log);

	/* A new IKE SA for the tests that follow. */
	sa_up = 0;
	initiate();
	CHECK(run_until(is_up, 5000));
}

static void test_reload_and_same_address(void)
{
	char *log;

	/* SIGHUP with a second DNS server: a second IKE SA of the same identity gets it, and
	 * the same inner address (RFC 7296 3.15.4). */
	write_conf("198.18.1.53, 198.18.1.54");
	kill(gw_pid, SIGHUP);
	usleep(200000);
	log = read_file("vpngw.log");
	CHECK(strstr(log, "SIGHUP: reloaded") != NULL);
	g_free(log);
	sa_up = 0;
	initiate();
	CHECK(run_until(is_up, 5000));
	CHECK(last_up.inner_addr.s_addr == ip("198.18.100.1").s_addr);
	CHECK(last_up.ndns == 2 && last_up.dns[1].s_addr == ip("198.18.1.54").s_addr);
}

static void test_unknown_identity(void)
{
	struct ike_engine *keep = eng;
	struct ike_peer_cfg keep_peer = peer;
	char *log;

	client_setup("stranger@test");
	initiate();
	CHECK(run_until(is_down, 5000));
	CHECK(sa_up == 0);
	printf("# client: %s\n", last_down);
	log = read_file("vpngw.log");
	CHECK(strstr(log, "stranger@test") != NULL);
	g_free(log);
	client_free();
	eng = keep;
	peer = keep_peer;
}

static void test_sigterm(void)
{
	char *log;

	sa_down = 0;
	kill(gw_pid, SIGTERM);
	/* Both IKE SAs are deleted by the gateway (INFORMATIONAL DELETE). */
	run_until(never, 1500);
	CHECK_EQ_U64(sa_down, 2);
	CHECK_EQ_U64(children, 0);
	CHECK_EQ_U64(wait_exit(gw_pid, 5000), 0);
	log = read_file("vpngw.log");
	CHECK(strstr(log, "deleting 2 IKE SAs") != NULL && strstr(log, "stopped") != NULL);
	/* The whole log, for whoever reads the test output. */
	for (char *l = strtok(log, "\n"); l; l = strtok(NULL, "\n"))
		printf("# vpngw: %s\n", l);
	g_free(log);
}

int main(int argc, char **argv)
{
	char cmd[300];

	if (argc < 3) {
		printf("Bail out! usage: test_vpngw_daemon VPNGW GWCTL\n");
		return 1;
	}
	vpngw_bin = argv[1];
	gwctl_bin = argv[2];
	snprintf(dir, sizeof(dir), "/tmp/test_vpngw_daemon.XXXXXX");
	if (!mkdtemp(dir))
		bail("mkdtemp");
	write_file("mn.psk", "a pre-shared key for the test\n", 0600);

	ns_a = new_ns();
	ns_b = new_ns();
	snprintf(cmd, sizeof(cmd), "ip link add vb type veth peer name va && ip link set va "
		 "netns /proc/self/fd/%d && ip addr add 198.18.250.2/24 dev vb && ip link set vb "
		 "up", ns_a);
	if (system(cmd) != 0)
		bail("veth");
	enter(ns_a);
	if (system("ip addr add 198.18.250.1/24 dev va && ip link set va up") != 0)
		bail("va");
	enter(ns_b);

	test_bad_start();
	test_tunnel();
	test_orders(last_up.spi_i);
	test_reload_and_same_address();
	test_unknown_identity();
	test_sigterm();

	if (gw_pid > 0 && wait_exit(gw_pid, 10) < 0) {
		kill(gw_pid, SIGKILL);
		waitpid(gw_pid, NULL, 0);
	}
	client_free();
	espdp_free(dp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
