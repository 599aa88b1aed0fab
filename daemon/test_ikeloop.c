/* Unit tests for daemon/ikeloop.{h,c}: two ikeloops in this process, an initiator (as mnd's
 * VPN client runs it) on 127.0.0.1 and a responder (as vpngw) on 127.0.0.2, each with its
 * own TUN, in a private network namespace (root; skipped otherwise).
 *
 * Checks: the keylog file (opened, refused with one line naming file, group and key); bad
 * configurations and paths that cannot be opened (which port, nothing left open); the IKE
 * SA and its Child SA come up through the real sockets and the actions land in both data
 * paths and reach the daemons' callbacks; an IKE SA rekey moves the Child SA to the new IKE
 * SA before the callback hears of it (RFC 7296 2.18) and the old one goes with nothing left
 * behind; a delete removes the Child SAs (CHILD_DOWN) and the IKE SAs on both sides;
 * actions handed over by hand: SEND from 500 and from 4500 behind the non-ESP marker (RFC
 * 3948 2.2), a SEND outside the buffer or without a path dropped, KEYLOG lines, SA_DOWN
 * without a reason ("deleted"), kinds it does not know to ops.action, the action buffer
 * emptied; ikeloop_wait's two ways out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/sock.h"
#include "daemon/espdp.h"
#include "daemon/ikeloop.h"
#include "daemon/proposals.h"
#include "daemon/test_capture.h"
#include "esp/udpencap.h"
#include "tests/unit/netns.h"
#include "tests/unit/tap.h"

static const uint8_t psk[] = "the ikeloop test's pre-shared key";

struct side {
	const char *name;
	struct logger log;
	struct ike_peer_cfg peer;
	struct ike_engine_cfg ec;
	struct ikeloop *il;
	int tun;
	/* what the callbacks saw */
	int sa_up, sa_down, child_up, child_down, other;
	struct ike_sa_info up, down;
	char reason[64];
	size_t left;
	size_t moved_before_up;          /* Child SAs already on the new SA at a rekey's SA_UP */
	int other_kind;
};

static struct side ini = { .name = "initiator", .tun = -1 };
static struct side res = { .name = "responder", .tun = -1 };

static mm_time_ns now(void)
{
	return clock_now(clock_monotonic());
}

static size_t children_of(struct side *s, uint64_t spi_i, uint64_t spi_r)
{
	struct espdp_child c;
	size_t cursor = 0, n = 0;

	while (ikeloop_dp(s->il) && espdp_next_child(ikeloop_dp(s->il), &cursor, &c))
		n += c.ike_spi_i == spi_i && c.ike_spi_r == spi_r;
	return n;
}

static size_t children(struct side *s)
{
	const struct espdp_stats *st = espdp_stats(ikeloop_dp(s->il));

	return st ? st->children : 0;
}

static void cb_sa_up(void *user, const struct ike_sa_info *sa)
{
	struct side *s = user;

	s->sa_up++;
	s->up = *sa;
	s->moved_before_up = children_of(s, sa->spi_i, sa->spi_r);
}

static void cb_sa_down(void *user, const struct ike_sa_info *sa, const char *reason,
		       size_t left)
{
	struct side *s = user;

	s->sa_down++;
	s->down = *sa;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	s->left = left;
}

static void cb_child_up(void *user, const struct ike_child_info *c)
{
	struct side *s = user;

	(void)c;
	s->child_up++;
}

static void cb_child_down(void *user, const struct ike_child_info *c)
{
	struct side *s = user;

	(void)c;
	s->child_down++;
}

static void cb_action(void *user, const struct ike_actions *a, const struct ike_action *act)
{
	struct side *s = user;

	(void)a;
	s->other++;
	s->other_kind = (int)act->kind;
}

static struct ike_identity fqdn(const char *name)
{
	struct ike_identity id;

	memset(&id, 0, sizeof(id));
	id.type = 2;                                 /* ID_FQDN (RFC 7296 3.5) */
	id.len = (uint16_t)strlen(name);
	memcpy(id.data, name, id.len);
	return id;
}

static struct ike_ts4 range(const char *from, const char *to)
{
	return (struct ike_ts4){ ip(from), ip(to), 0, 0, 65535 };
}

static void side_setup(struct side *s, bool initiator, FILE *keylog)
{
	struct ikeloop_cfg lc;
	const char *what = "";
	char err[256], tun[IFNAMSIZ];
	int idx;

	logger_init(&s->log, "test[%s]", s->name);
	s->peer.name = initiator ? "gw" : "mn";
	s->peer.local_id = fqdn(initiator ? "mn.test" : "gw.test");
	s->peer.remote_id = fqdn(initiator ? "gw.test" : "mn.test");
	if (proposals_parse("aes128gcm16-prfsha256-x25519", IKE_SUITE_IKE, &s->peer.ike, err,
			    sizeof(err)) < 0 ||
	    proposals_parse("aes128gcm16", IKE_SUITE_ESP, &s->peer.esp, err, sizeof(err)) < 0) {
		printf("Bail out! proposals: %s\n", err);
		exit(1);
	}
	s->peer.local.auth = s->peer.remote.auth = IKE_AUTHK_PSK;
	s->peer.local.psk = s->peer.remote.psk = psk;
	s->peer.local.psk_len = s->peer.remote.psk_len = sizeof(psk) - 1;
	s->peer.local_ts.n = s->peer.remote_ts.n = 1;
	s->peer.local_ts.ts[0] = initiator ? range("198.18.100.1", "198.18.100.1")
		: range("198.18.0.0", "198.18.255.255");
	s->peer.remote_ts.ts[0] = initiator ? range("198.18.0.0", "198.18.255.255")
		: range("198.18.100.0", "198.18.100.255");
	s->peer.child_lifetime_s = 3600;
	s->ec.default_role = initiator ? IKE_ROLE_INITIATOR : IKE_ROLE_RESPONDER;
	s->ec.peers = &s->peer;
	s->ec.npeers = 1;
	s->ec.keylog = keylog != NULL;
	s->tun = espdp_open_tun(initiator ? "ilt-i" : "ilt-r", 1400, ip("0.0.0.0"), NULL, 0,
				tun, &idx, &what);
	if (s->tun < 0) {
		printf("Bail out! %s: %s\n", what, strerror(-s->tun));
		exit(1);
	}
	memset(&lc, 0, sizeof(lc));
	lc.engine = &s->ec;
	lc.log = &s->log;
	lc.tun_fd = s->tun;
	lc.rx_slots = initiator ? 8 : 32;
	lc.rx_rounds = initiator ? 1 : 8;
	lc.rx_sockbuf = initiator ? 0 : SOCK_DATAPATH_BUF;
	lc.keylog = keylog;
	lc.ops.user = s;
	lc.ops.sa_up = cb_sa_up;
	lc.ops.sa_down = cb_sa_down;
	lc.ops.child_up = cb_child_up;
	lc.ops.child_down = cb_child_down;
	lc.ops.action = cb_action;
	if (ikeloop_new(&lc, &s->il) < 0) {
		printf("Bail out! ikeloop_new (%s)\n", s->name);
		exit(1);
	}
}

/* Run the main loop until cond() or 5 s. */
static bool run_until(bool (*cond)(void))
{
	mm_time_ns deadline = now() + MM_SEC(5);

	while (!cond() && now() < deadline) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(500);
	}
	return cond();
}

static bool both_children_up(void)
{
	return ini.child_up >= 1 && res.child_up >= 1;
}

static bool rekeyed(void)
{
	return ini.sa_up >= 2 && res.sa_up >= 2 && ini.sa_down >= 1 && res.sa_down >= 1;
}

static bool deleted(void)
{
	return ini.sa_down >= 2 && res.sa_down >= 2;
}

static char *slurp(const char *path)
{
	char *text = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return g_strdup("");
	return text;
}

static void test_keylog_open(const char *dir, char *keylog_path, size_t size, FILE **keylog)
{
	FILE *f = stdin;              /* must stay as it is on failure */
	struct logger lg;
	const char *text;
	int rc;

	logger_init(&lg, "test");
	capture_start();
	rc = ikeloop_keylog_open(&lg, "/etc/x.conf", "vpn", "/nonexistent/dir/keys", &f);
	text = capture_end();
	CHECK_EQ_U64(rc, (uint64_t)-ENOENT);
	CHECK(f == stdin);
	CHECK_ONE_LINE(text, "<3>test: /etc/x.conf: [vpn] keylog-file: cannot open "
		       "/nonexistent/dir/keys: No such file or directory");

	snprintf(keylog_path, size, "%s/keylog", dir);
	capture_start();
	rc = ikeloop_keylog_open(&lg, "/etc/x.conf", "gateway", keylog_path, keylog);
	text = capture_end();
	CHECK_EQ_U64(rc, 0);
	CHECK(*keylog != NULL);
	CHECK_ONE_LINE(text, "<4>test: keylog-file ");
	CHECK(strstr(text, "whoever reads this file can decrypt the IKE traffic") != NULL);
}

static void test_bad_config(void)
{
	struct ikeloop_cfg lc;
	struct ikeloop *il = (struct ikeloop *)(void *)&lc;
	struct ike_engine_cfg ec;
	struct logger lg;

	logger_init(&lg, "test");
	memset(&ec, 0, sizeof(ec));
	ec.default_role = IKE_ROLE_RESPONDER;
	memset(&lc, 0, sizeof(lc));
	lc.engine = &ec;
	lc.log = &lg;
	lc.tun_fd = 0;
	lc.rx_slots = 0;                               /* no batch */
	lc.rx_rounds = 1;
	CHECK_EQ_U64(ikeloop_new(&lc, &il), (uint64_t)-EINVAL);
	lc.rx_slots = SOCK_BATCH_MAX + 1;
	CHECK_EQ_U64(ikeloop_new(&lc, &il), (uint64_t)-EINVAL);
	lc.rx_slots = 1;
	lc.rx_rounds = 0;
	CHECK_EQ_U64(ikeloop_new(&lc, &il), (uint64_t)-EINVAL);
	lc.rx_rounds = 1;
	lc.tun_fd = -1;
	CHECK_EQ_U64(ikeloop_new(&lc, &il), (uint64_t)-EINVAL);
	CHECK(il == (struct ikeloop *)(void *)&lc);
	/* The NULL-tolerant calls. */
	CHECK(ikeloop_engine(NULL) == NULL && ikeloop_actions(NULL) == NULL &&
	      ikeloop_dp(NULL) == NULL);
	ikeloop_path_close(NULL);
	ikeloop_free(NULL);
}

static void test_paths(void)
{
	uint16_t port = 1;

	/* Not an address of ours: UDP 500 cannot be bound. */
	CHECK(ikeloop_path_open(ini.il, ip("192.0.2.1"), NULL, &port) < 0);
	CHECK_EQ_U64(port, 500);
	CHECK(ikeloop_dp(ini.il) == NULL);
	/* A device that does not exist: both ports were bound, then closed again. */
	port = 1;
	CHECK(ikeloop_path_open(ini.il, ip("127.0.0.1"), "nosuchdev0", &port) < 0);
	CHECK_EQ_U64(port, 0);
	CHECK(ikeloop_dp(ini.il) == NULL);
	/* The paths the SAs use; a second open is refused. */
	CHECK_EQ_U64(ikeloop_path_open(ini.il, ip("127.0.0.1"), "lo", NULL), 0);
	CHECK_EQ_U64(ikeloop_path_open(res.il, ip("127.0.0.2"), NULL, NULL), 0);
	CHECK(ikeloop_dp(ini.il) != NULL && ikeloop_dp(res.il) != NULL);
	port = 1;
	CHECK_EQ_U64(ikeloop_path_open(res.il, ip("127.0.0.2"), NULL, &port), (uint64_t)-EALREADY);
	CHECK_EQ_U64(port, 1);
}

static void test_sas(const char *keylog_path)
{
	struct ike_endpoint local = { ip("127.0.0.1"), 500 }, remote = { ip("127.0.0.2"), 500 };
	uint64_t spi = 0, old_i, old_r;
	struct espdp_child ci, cr;
	size_t cursor;
	const char *text;
	char *keys, hex[24];

	/* Up: initiate, then only the main loop. */
	CHECK_EQ_U64(ike_engine_initiate(ikeloop_engine(ini.il), 0, &local, &remote, now(), &spi,
					 ikeloop_actions(ini.il)), 0);
	ikeloop_apply(ini.il);
	CHECK(run_until(both_children_up));
	CHECK_EQ_U64(ini.sa_up, 1);
	CHECK_EQ_U64(res.sa_up, 1);
	CHECK_EQ_U64(ini.up.spi_i, spi);
	CHECK_EQ_U64(res.up.spi_i, spi);
	CHECK_EQ_U64(res.up.spi_r, ini.up.spi_r);
	CHECK_EQ_U64(children(&ini), 1);
	CHECK_EQ_U64(children(&res), 1);
	cursor = 0;
	CHECK(espdp_next_child(ikeloop_dp(ini.il), &cursor, &ci));
	cursor = 0;
	CHECK(espdp_next_child(ikeloop_dp(res.il), &cursor, &cr));
	CHECK_EQ_U64(ci.spi_in, cr.spi_out);
	CHECK_EQ_U64(ci.spi_out, cr.spi_in);
	CHECK_EQ_U64(cr.ike_spi_i, spi);
	/* The responder's keylog has the SA's line (Wireshark's table: SPIs in hex). */
	keys = slurp(keylog_path);
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)spi);
	CHECK(strstr(keys, hex) != NULL);
	g_free(keys);

	/* IKE SA rekey (RFC 7296 2.18): the Child SA is on the new SA when SA_UP is heard of;
	 * the old SA goes and leaves nothing behind. */
	old_i = ini.up.spi_i;
	old_r = ini.up.spi_r;
	capture_start();
	CHECK_EQ_U64(ike_engine_rekey_ike(ikeloop_engine(ini.il), spi, now(),
					  ikeloop_actions(ini.il)), 0);
	ikeloop_apply(ini.il);
	CHECK(run_until(rekeyed));
	text = capture_end();
	CHECK_EQ_U64(ini.up.replaces_spi_i, old_i);
	CHECK_EQ_U64(ini.up.replaces_spi_r, old_r);
	CHECK_EQ_U64(res.up.replaces_spi_i, old_i);
	CHECK_EQ_U64(ini.moved_before_up, 1);
	CHECK_EQ_U64(res.moved_before_up, 1);
	CHECK(strstr(text, "<6>test[initiator]: IKE SA ") != NULL &&
	      strstr(text, "(1 Child SA moved)") != NULL);
	CHECK_EQ_U64(ini.down.spi_i, old_i);
	CHECK_EQ_U64(res.down.spi_r, old_r);
	CHECK_EQ_U64(ini.left, 0);
	CHECK_EQ_U64(res.left, 0);
	CHECK_EQ_U64(children_of(&ini, ini.up.spi_i, ini.up.spi_r), 1);
	CHECK_EQ_U64(children_of(&res, res.up.spi_i, res.up.spi_r), 1);

	/* Delete: the Child SA goes first (CHILD_DOWN), then the IKE SA, on both sides. */
	capture_start();
	CHECK_EQ_U64(ike_engine_delete(ikeloop_engine(ini.il), ini.up.spi_i, now(),
				       ikeloop_actions(ini.il)), 0);
	ikeloop_apply(ini.il);
	CHECK(run_until(deleted));
	text = capture_end();
	CHECK_EQ_U64(ini.child_down, 1);
	CHECK_EQ_U64(res.child_down, 1);
	CHECK_EQ_U64(children(&ini), 0);
	CHECK_EQ_U64(children(&res), 0);
	CHECK_EQ_U64(ini.down.spi_i, ini.up.spi_i);
	CHECK(ini.reason[0] != '\0' && res.reason[0] != '\0');
	CHECK(strstr(text, "_o down") != NULL);
	CHECK_EQ_U64(ini.other + res.other, 0);
}

/* A SEND action of "hello" from local_port to 127.0.0.3:5000. */
static void add_send(struct ike_actions *a, uint16_t local_port, size_t off)
{
	struct ike_action *act = &a->a[a->n++];

	memcpy(a->buf, "hello", 5);
	a->buf_len = 5;
	memset(act, 0, sizeof(*act));
	act->kind = IKE_ACT_SEND;
	act->u.send.local.addr = ip("0.0.0.0");
	act->u.send.local.port = local_port;
	act->u.send.remote.addr = ip("127.0.0.3");
	act->u.send.remote.port = 5000;
	act->u.send.off = off;
	act->u.send.len = 5;
}

static void test_actions(const char *keylog_path)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(5000) };
	struct ike_actions *a = ikeloop_actions(res.il);
	struct sock_dgram_meta m;
	uint8_t buf[64];
	ssize_t n;
	char *keys;
	int fd;

	sa.sin_addr = ip("127.0.0.3");
	fd = sock_udp4_open(&sa, SOCK_F_PKTINFO);
	if (fd < 0) {
		printf("Bail out! test socket: %s\n", strerror(-fd));
		exit(1);
	}

	/* SEND from UDP 500: as it is, from our address. */
	add_send(a, 500, 0);
	ikeloop_apply(res.il);
	CHECK_EQ_U64(a->n, 0);
	CHECK_EQ_U64(a->buf_len, 0);
	CHECK(wait_readable(fd, 1000));
	n = sock_recv4(fd, buf, sizeof(buf), &m);
	CHECK(n == 5 && memcmp(buf, "hello", 5) == 0);
	CHECK(m.peer.sin_addr.s_addr == ip("127.0.0.2").s_addr && ntohs(m.peer.sin_port) == 500);

	/* SEND from 4500: behind the non-ESP marker, four zero octets (RFC 3948 2.2). */
	add_send(a, UDPENCAP_PORT, 0);
	ikeloop_apply(res.il);
	CHECK(wait_readable(fd, 1000));
	n = sock_recv4(fd, buf, sizeof(buf), &m);
	CHECK(n == 9 && memcmp(buf, "\0\0\0\0hello", 9) == 0);
	CHECK_EQ_U64(ntohs(m.peer.sin_port), UDPENCAP_PORT);

	/* Outside the buffer: nothing goes out. */
	add_send(a, 500, 1);
	ikeloop_apply(res.il);
	CHECK(!wait_readable(fd, 100));

	/* KEYLOG, SA_DOWN without a reason, a kind this file does not know. */
	a->a[0].kind = IKE_ACT_KEYLOG;
	snprintf(a->a[0].text, sizeof(a->a[0].text), "a keylog line");
	memset(&a->a[1], 0, sizeof(a->a[1]));
	a->a[1].kind = IKE_ACT_SA_DOWN;
	a->a[1].u.sa.spi_i = 0x1111;
	a->a[1].u.sa.spi_r = 0x2222;
	memset(&a->a[2], 0, sizeof(a->a[2]));
	a->a[2].kind = (enum ike_action_kind)42;
	a->n = 3;
	res.sa_down = 0;
	ikeloop_apply(res.il);
	keys = slurp(keylog_path);
	CHECK(strstr(keys, "\na keylog line\n") != NULL);
	g_free(keys);
	CHECK_EQ_U64(res.sa_down, 1);
	CHECK_EQ_U64(res.down.spi_i, 0x1111);
	CHECK_STR(res.reason, "deleted");
	CHECK_EQ_U64(res.left, 0);
	CHECK_EQ_U64(res.other, 1);
	CHECK_EQ_U64(res.other_kind, 42);
	CHECK_EQ_U64(a->n, 0);

	/* No path: a SEND is dropped; the data path is gone. */
	ikeloop_path_close(res.il);
	CHECK(ikeloop_dp(res.il) == NULL);
	add_send(a, 500, 0);
	ikeloop_apply(res.il);
	CHECK(!wait_readable(fd, 100));
	close(fd);
}

static bool yes(void *user)
{
	(void)user;
	return true;
}

static bool no(void *user)
{
	(void)user;
	return false;
}

static void test_wait(void)
{
	mm_time_ns t0 = now(), t1;

	ikeloop_wait(ini.il, 1000, yes);
	t1 = now();
	CHECK(t1 - t0 < MM_MSEC(500));
	ikeloop_wait(ini.il, 50, no);
	CHECK(now() - t1 >= MM_MSEC(50));
}

int main(void)
{
	char dir[] = "/tmp/mm-ikeloop-XXXXXX", keylog_path[256];
	FILE *keylog = NULL;

	enter_netns_with(true);
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	log_set_level(LOG_LEVEL_INFO);
	test_keylog_open(dir, keylog_path, sizeof(keylog_path), &keylog);
	test_bad_config();
	side_setup(&ini, true, NULL);
	side_setup(&res, false, keylog);
	test_paths();
	test_sas(keylog_path);
	test_actions(keylog_path);
	test_wait();
	ikeloop_free(ini.il);
	ikeloop_free(res.il);
	close(ini.tun);
	close(res.tun);
	unlink(keylog_path);
	rmdir(dir);
	capture_free();
	return tap_done();
}
