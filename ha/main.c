/* ha: the Mobile IPv4 home agent daemon (RFC 5944 §3.8, §4.6; RFC 3024; RFC 3519).
 *
 * A thin adapter around mip4/ha_engine: it owns the sockets, the TUN device, the kernel
 * state on the home link and the state file, and runs everything on one GLib main loop:
 *
 *	UDP address:434  Registration Requests, a batch at a time (group commit): each one
 *	                 -> engine -> events applied on the home link (attract.h) -> its
 *	                 journal records queued and its reply held; then the batch's records
 *	                 written with one write, and synced by persist.h's sync thread while
 *	                 the next batch is processed; when the sync completes, the replies it
 *	                 covers are sent (sendmmsg), each followed by the handover replay of
 *	                 its binding if it moved;
 *	                 MIP Tunnel Data (type 4) -> data path (reverse tunnel, keepalives)
 *	raw IPPROTO_IPIP reverse-tunnelled IP-in-IP -> data path
 *	TUN              packets for bound home addresses -> data path -> tunnel
 *	timer            binding expiry (engine) -> events applied -> journal (synced within
 *	                 a second: an expiry is no acknowledgement, and one lost in a crash
 *	                 happens again at load, from the recorded expiry time)
 *	control socket   hactl list / stats / visitors
 *	SIGTERM/SIGINT   save, remove proxy ARP entries and routes, exit 0; SIGHUP: reload keys
 *
 * With [foreign-agent] (alone or with [home-agent]) ha/fa.c adds the foreign agent's sockets
 * and timers to the same loop; a foreign agent alone opens none of the above but the
 * control socket.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/netlink.h"
#include "common/sock.h"
#include "common/tun.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/json.h"
#include "ha/attract.h"
#include "ha/conf.h"
#include "ha/ctl.h"
#include "ha/datapath.h"
#include "ha/fa.h"
#include "ha/keys.h"
#include "ha/persist.h"
#include "ha/sysctl.h"
#include "mip4/ha_engine.h"
#include "mip4/reg.h"
#include "mip4/tunnel.h"

#define UDP_BATCH SOCK_BATCH_MAX
#define UDP_BUFSIZE (MIP4_IPV4_MAX + 1)
/* Receive calls per batch: up to UDP_ROUNDS * UDP_BATCH requests share one write (and
 * with the others written while a sync runs, one fdatasync); then the loop lets the TUN,
 * the timers and the sync's completion have their turn. */
#define UDP_ROUNDS 16
/* Replies held until their records are on disk (a power of two). When it is full, the
 * loop waits for the running sync before it reads more requests. */
#define REPLIES_MAX 8192
/* UDP 434's socket buffers: the requests that arrive while the loop is busy (a compaction
 * of 10^5 bindings takes some tens of ms: at 10^5 requests/s and about 1 KiB of kernel
 * memory per datagram, 16 MiB is about 150 ms), and a burst of replies. */
#define UDP_SOCKBUF (16 << 20)
/* Longest the expiry timer sleeps (it is re-armed after every change anyway). */
#define EXPIRY_MAX_MS (3600 * 1000)
/* Records queued outside a batch of requests (expiry) reach the disk within this. */
#define FLUSH_MS 1000
/* How long a full socket buffer may hold the replies of a batch back. */
#define SEND_WAIT_MS 100

/* A reply waiting for its batch's journal records to be on disk. */
struct pending_reply {
	uint64_t pos;                /* ha_persist_write() position of its batch */
	struct sockaddr_in to;
	struct in_addr from;
	int ifindex;
	int code;
	struct in_addr replay;       /* a moved binding: its handover replay follows the reply */
	size_t len;
	uint8_t data[HA_REPLY_MAX];
};

struct ha_daemon {
	struct ha_conf conf;
	struct logger log;
	struct ha_keys *keys;
	struct ha_engine *engine;
	struct ha_attract *attract;
	struct ha_datapath *dp;
	struct fa *fa;                   /* [foreign-agent], or NULL */
	struct control_server *ctl;
	struct ha_ctl_ctx ctl_ctx;
	struct fa_ctl_ctx fa_ctl;
	int udp_fd, raw_fd, tun_fd;
	int home_ifindex, tun_ifindex;
	guint src_udp, src_raw, src_tun, src_sync, expiry_timer, flush_timer;
	struct ha_persist *persist;
	struct ha_actions actions;
	uint8_t *udp_bufs;
	struct sock_batch udp_rx;
	struct sock_batch udp_tx;
	struct pending_reply *replies;   /* ring of REPLIES_MAX */
	uint64_t rep_head, rep_tail;     /* held: [head, tail); [batch, tail): this batch's */
	uint64_t rep_batch;
	bool expiry_dirty;               /* bindings changed: re-arm the expiry timer */
};

/* The engine's key lookup goes through the daemon, so SIGHUP can swap the table. */
static int key_lookup(void *ctx, struct in_addr hoa, uint32_t spi, struct mip4_key *out)
{
	struct ha_daemon *d = ctx;

	return ha_keys_lookup(d->keys, hoa, spi, out);
}

static void schedule_expiry(struct ha_daemon *d);

/* Carry out what the engine decided, in the order RFC 5944 §3.8.2.2 / §4.6 need: the home
 * link first (proxy ARP, routes, gratuitous ARP), then the journal records are queued; the
 * reply is held until they are on disk (end_batch, on_sync). The packets a moved binding
 * missed are sent again (daemon/replay.h) right after its reply: a burst of them in front
 * of the reply would delay it by their length on the access link, and the mobile node
 * delivers what arrives at a new address only once the reply is in (mnd holds it while the
 * trust race runs). */
static void apply(struct ha_daemon *d, const struct ha_actions *a)
{
	for (unsigned i = 0; i < a->nevents; i++) {
		const struct ha_event *ev = &a->events[i];

		switch (ev->kind) {
		case HA_EV_ADDED:
			ha_attract_add(d->attract, ev->binding.home_addr, true);
			break;
		case HA_EV_UPDATED:
			/* Same home address: proxy entry and route stay; make sure they exist. */
			ha_attract_add(d->attract, ev->binding.home_addr, false);
			break;
		case HA_EV_REMOVED:
			ha_attract_del(d->attract, ev->binding.home_addr);
			break;
		}
	}
	if (a->state_changed)
		ha_persist_note(d->persist, d->engine, a);
	if (a->nevents)
		d->expiry_dirty = true;
}

/* The home address whose binding a request moved (its handover replay is due), or 0. */
static struct in_addr moved_binding(const struct ha_actions *a)
{
	struct in_addr none = { 0 };

	for (unsigned i = 0; i < a->nevents; i++) {
		const struct ha_event *ev = &a->events[i];

		if (ev->kind == HA_EV_UPDATED && ev->moved)
			return ev->binding.home_addr;
	}
	return none;
}

/* Hold the reply until the batch's journal records are on disk; its replay goes with it. */
static void queue_reply(struct ha_daemon *d, const struct ha_actions *a)
{
	struct in_addr moved = moved_binding(a);
	struct pending_reply *r;

	if (!a->send || d->rep_tail - d->rep_head >= REPLIES_MAX ||
	    a->reply_len > sizeof(r->data)) {
		/* No reply to wait for: the replay goes at once. */
		if (moved.s_addr)
			ha_datapath_replay(d->dp, moved);
		return;
	}
	r = &d->replies[d->rep_tail++ % REPLIES_MAX];
	r->pos = UINT64_MAX;    /* set at the end of the batch */
	r->to = a->reply_to;
	r->from = a->reply_from;
	/* §3.8.3.1: a deregistration from the home address is answered on the home link,
	 * bypassing the binding's route into the tunnel. */
	r->ifindex = a->reply_on_home_link ? d->home_ifindex : 0;
	r->code = a->code;
	r->replay = moved;
	r->len = a->reply_len;
	memcpy(r->data, a->reply, a->reply_len);
}

static void reply_failed(struct ha_daemon *d, const struct pending_reply *r, int err)
{
	char to[ADDR4_STRLEN];

	LOG_WARNING(&d->log, "cannot send the Registration Reply (code %d) to %s:%u: %s",
		    r->code, addr4_str(r->to.sin_addr, to), ntohs(r->to.sin_port), strerror(err));
}

/* Send the held replies whose records are on disk (in order), UDP_BATCH per sendmmsg. */
static void release_replies(struct ha_daemon *d)
{
	uint64_t upto = ha_persist_released(d->persist);

	while (d->rep_head < d->rep_batch && d->replies[d->rep_head % REPLIES_MAX].pos <= upto) {
		unsigned k = 0, first = 0;

		while (k < UDP_BATCH && d->rep_head + k < d->rep_batch &&
		       d->replies[(d->rep_head + k) % REPLIES_MAX].pos <= upto) {
			const struct pending_reply *r = &d->replies[(d->rep_head + k) % REPLIES_MAX];
			struct sock_batch_slot *sl = &d->udp_tx.slot[k];

			sl->data = (uint8_t *)r->data;
			sl->len = r->len;
			memset(&sl->meta, 0, sizeof(sl->meta));
			sl->meta.peer = r->to;
			sl->meta.local = r->from;
			sl->meta.ifindex = r->ifindex;
			k++;
		}
		d->udp_tx.count = k;
		while (first < k) {
			int n = sock_send4_batch(d->udp_fd, &d->udp_tx, first);

			if (n > 0) {
				first += (unsigned)n;
			} else if (n == -EAGAIN) {
				struct pollfd pfd = { .fd = d->udp_fd, .events = POLLOUT };

				if (poll(&pfd, 1, SEND_WAIT_MS) <= 0) {
					LOG_WARNING(&d->log, "UDP send buffer full: %u Registration "
						    "Replies not sent", k - first);
					break;
				}
			} else {
				/* That reply alone failed (e.g. no route): skip it. */
				reply_failed(d, &d->replies[(d->rep_head + first) % REPLIES_MAX], -n);
				first++;
			}
		}
		for (unsigned i = 0; i < k; i++) {
			const struct pending_reply *r = &d->replies[(d->rep_head + i) % REPLIES_MAX];

			if (r->replay.s_addr)
				ha_datapath_replay(d->dp, r->replay);
		}
		d->rep_head += k;
	}
}

/* After a write or a sync: compact when due (it waits for a running sync, and releases
 * everything), else start the sync of what was written; then send what is released. A
 * sync starts as soon as the disk is idle: holding records back for bigger groups saves
 * CPU time (each fdatasync costs this core some) but was measured to cost more in reply
 * latency, and so in rate, on this disk. */
static void persist_step(struct ha_daemon *d)
{
	if (ha_persist_compaction_due(d->persist))
		ha_persist_compact(d->persist, d->engine);
	else
		ha_persist_sync_start(d->persist);
	release_replies(d);
}

static void handle_request(struct ha_daemon *d, const uint8_t *msg, size_t len,
			   const struct sock_dgram_meta *meta)
{
	struct ha_rx_meta m;

	memset(&m, 0, sizeof(m));
	m.src = meta->peer;
	m.dst = meta->dst.s_addr ? meta->dst : d->conf.address;
	if (ha_engine_request(d->engine, msg, len, &m, &d->actions) < 0)
		return;    /* silently discarded; the engine logged and counted it */
	apply(d, &d->actions);
	queue_reply(d, &d->actions);
}

/* The end of a batch: its journal records written (one write), its replies marked with
 * that position; a sync (persist_step) makes them durable and releases them. A failure
 * to write was logged by persist.c; the replies still go out, as they always did:
 * refusing service would not make the state durable either. */
static void seal_batch(struct ha_daemon *d)
{
	uint64_t pos = ha_persist_write(d->persist, d->engine);

	for (; d->rep_batch < d->rep_tail; d->rep_batch++)
		d->replies[d->rep_batch % REPLIES_MAX].pos = pos;
}

static void end_batch(struct ha_daemon *d)
{
	if (d->expiry_dirty) {
		d->expiry_dirty = false;
		schedule_expiry(d);
	}
	if (d->flush_timer && !ha_persist_pending(d->persist)) {
		g_source_remove(d->flush_timer);
		d->flush_timer = 0;
	}
}

/* The sync thread finished: release what it covered, and sync what came meanwhile. */
static gboolean on_sync(gint fd, GIOCondition cond, gpointer user)
{
	struct ha_daemon *d = user;

	(void)fd;
	(void)cond;
	ha_persist_sync_collect(d->persist);
	persist_step(d);
	return G_SOURCE_CONTINUE;
}

static gboolean on_udp(gint fd, GIOCondition cond, gpointer user)
{
	struct ha_daemon *d = user;

	(void)fd;
	(void)cond;
	/* A few batches per wake-up, so that the TUN and the timers get their turn. */
	for (int round = 0; round < UDP_ROUNDS; round++) {
		int n;

		/* Room to hold another batch of replies; else wait for the disk here. */
		if (REPLIES_MAX - (d->rep_tail - d->rep_head) < UDP_BATCH) {
			seal_batch(d);
			ha_persist_commit(d->persist, d->engine);
			release_replies(d);
			if (REPLIES_MAX - (d->rep_tail - d->rep_head) < UDP_BATCH)
				break;
		}
		n = sock_recv4_batch(d->udp_fd, &d->udp_rx);

		if (n < 0) {
			if (n != -EAGAIN && n != -EINTR)
				LOG_ERROR(&d->log, "receiving on UDP port 434: %s", strerror(-n));
			break;
		}
		for (int i = 0; i < n; i++) {
			const struct sock_batch_slot *s = &d->udp_rx.slot[i];
			uint8_t type;
			struct reader r;

			if (s->truncated)
				continue;
			reader_init(&r, s->data, s->len);
			if (reader_peek_u8(&r, &type) && type == MIP4_MSG_TUNNEL_DATA)
				ha_datapath_udp_data(d->dp, s->data, s->len, &s->meta.peer);
			else
				handle_request(d, s->data, s->len, &s->meta);
		}
		/* Write this part of the batch now, and if the disk is idle (no sync running,
		 * or the running one just finished), sync it and send what the last sync
		 * covered: the disk and this loop work at the same time, and replies do not
		 * wait for the whole batch. */
		seal_batch(d);
		ha_persist_sync_collect(d->persist);
		persist_step(d);
		if ((unsigned)n < d->udp_rx.nslots)
			break;
	}
	end_batch(d);
	return G_SOURCE_CONTINUE;
}

static gboolean on_raw(gint fd, GIOCondition cond, gpointer user)
{
	struct ha_daemon *d = user;

	(void)fd;
	(void)cond;
	ha_datapath_raw_readable(d->dp);
	return G_SOURCE_CONTINUE;
}

static gboolean on_tun(gint fd, GIOCondition cond, gpointer user)
{
	struct ha_daemon *d = user;

	(void)fd;
	(void)cond;
	ha_datapath_tun_readable(d->dp);
	return G_SOURCE_CONTINUE;
}

/* A keepalive bound a half-bound UDP binding: apply and journal like a registration (it
 * comes in on UDP 434, so the batch it is part of commits it). */
static void on_dp_changed(void *user, struct ha_actions *a)
{
	apply(user, a);
}

static gboolean on_flush(gpointer user)
{
	struct ha_daemon *d = user;

	d->flush_timer = 0;
	ha_persist_write(d->persist, d->engine);
	persist_step(d);
	return G_SOURCE_REMOVE;
}

static gboolean on_expiry(gpointer user)
{
	struct ha_daemon *d = user;
	int n;

	d->expiry_timer = 0;
	do {
		n = ha_engine_expire(d->engine, clock_now(clock_monotonic()), &d->actions);
		if (n > 0)
			apply(d, &d->actions);
	} while (n == HA_EVENTS_MAX);
	d->expiry_dirty = false;
	schedule_expiry(d);
	/* No reply waits for these records: let the next batch of requests, or the flush
	 * timer, sync them, rather than one fdatasync per expiry tick. */
	if (ha_persist_pending(d->persist) && !d->flush_timer)
		d->flush_timer = g_timeout_add(FLUSH_MS, on_flush, d);
	return G_SOURCE_REMOVE;
}

static void schedule_expiry(struct ha_daemon *d)
{
	mm_time_ns next = ha_engine_next_expiry(d->engine), now = clock_now(clock_monotonic());
	guint ms;

	if (d->expiry_timer) {
		g_source_remove(d->expiry_timer);
		d->expiry_timer = 0;
	}
	if (next == BCACHE_NEVER)
		return;
	ms = next <= now ? 0 : (next - now + MM_MSEC(1) - 1) / MM_MSEC(1) > EXPIRY_MAX_MS
		? EXPIRY_MAX_MS : (guint)((next - now + MM_MSEC(1) - 1) / MM_MSEC(1));
	d->expiry_timer = g_timeout_add(ms, on_expiry, d);
}

static void on_reload(void *user)
{
	struct ha_daemon *d = user;
	struct ha_keys *k = NULL;

	if (!d->conf.has_ha) {
		LOG_NOTICE(&d->log, "SIGHUP: nothing to reload (no [home-agent])");
		return;
	}
	if (ha_keys_load(d->conf.keys_file, &k) < 0) {
		LOG_ERROR(&d->log, "SIGHUP: keys-file %s not reloaded; keeping the %zu keys in use",
			  d->conf.keys_file, ha_keys_count(d->keys));
		return;
	}
	ha_keys_free(d->keys);
	d->keys = k;
	LOG_NOTICE(&d->log, "SIGHUP: reloaded %zu keys from %s", ha_keys_count(k),
		   d->conf.keys_file);
}

/* net.ipv4.ip_forward and the home link's proxy_delay (sysctl.h). */
static int kernel_settings(struct ha_daemon *d)
{
	char old[32], path[128];
	int rc;

	rc = ha_sysctl_set("net/ipv4/ip_forward", "1", old, sizeof(old));
	if (rc < 0) {
		LOG_ERROR(&d->log, "cannot set net.ipv4.ip_forward=1: %s (reverse tunnelling and "
			  "proxy ARP need forwarding)", strerror(-rc));
		return rc;
	}
	LOG_NOTICE(&d->log, "net.ipv4.ip_forward = 1 (was %s)", old[0] ? old : "?");
	snprintf(path, sizeof(path), "net/ipv4/neigh/%s/proxy_delay", d->conf.home_if);
	rc = ha_sysctl_set(path, "0", old, sizeof(old));
	if (rc < 0)
		LOG_WARNING(&d->log, "cannot set net.ipv4.neigh.%s.proxy_delay=0: %s (proxy ARP "
			    "answers will be delayed)", d->conf.home_if, strerror(-rc));
	else
		LOG_INFO(&d->log, "net.ipv4.neigh.%s.proxy_delay = 0 (was %s)", d->conf.home_if,
			 old[0] ? old : "?");
	/* A mobile node back home deregisters from its home address on the home link while
	 * the route to that address still points into the tunnel (§4.6 order): strict reverse
	 * path filtering would drop that request. Loose mode on the home link keeps the
	 * spoofing check against addresses that are not routed at all. */
	snprintf(path, sizeof(path), "net/ipv4/conf/%s/rp_filter", d->conf.home_if);
	if (ha_sysctl_set(path, "2", old, sizeof(old)) == 0 && strcmp(old, "2") != 0)
		LOG_INFO(&d->log, "net.ipv4.conf.%s.rp_filter = 2 (was %s)", d->conf.home_if, old);
	if (ha_sysctl_get("net/ipv4/conf/all/rp_filter", old, sizeof(old)) == 0 &&
	    strcmp(old, "1") == 0)
		LOG_WARNING(&d->log, "net.ipv4.conf.all.rp_filter = 1 (strict) overrides %s's "
			    "loose mode: deregistrations sent from the home link may be dropped",
			    d->conf.home_if);
	return 0;
}

static int open_tunnel_device(struct ha_daemon *d)
{
	char name[IFNAMSIZ], path[128];
	int rc;

	d->tun_fd = tun_open(d->conf.tunnel_device, name, 0);
	if (d->tun_fd < 0) {
		LOG_ERROR(&d->log, "%s: [home-agent] tunnel-device: cannot create TUN device %s: "
			  "%s", d->conf.path, d->conf.tunnel_device, strerror(-d->tun_fd));
		return d->tun_fd;
	}
	/* IPv4 only: no router solicitations or MLD reports from the kernel into our TUN. */
	snprintf(path, sizeof(path), "net/ipv6/conf/%s/disable_ipv6", name);
	ha_sysctl_set(path, "1", NULL, 0);
	if ((rc = tun_set_mtu(name, HA_TUN_MTU)) < 0 || (rc = tun_set_up(name)) < 0 ||
	    (rc = nl_link_index(name)) < 0) {
		LOG_ERROR(&d->log, "tunnel device %s: %s", name, strerror(-rc));
		return rc;
	}
	d->tun_ifindex = rc;
	LOG_INFO(&d->log, "tunnel device %s (index %d), MTU %d", name, d->tun_ifindex, HA_TUN_MTU);
	return 0;
}

static int open_sockets(struct ha_daemon *d)
{
	struct sockaddr_in sa;
	char a[ADDR4_STRLEN];

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr = d->conf.address;
	sa.sin_port = htons(MIP4_PORT);
	d->udp_fd = sock_udp4_open(&sa, SOCK_F_REUSEADDR | SOCK_F_PKTINFO);
	if (d->udp_fd < 0) {
		LOG_ERROR(&d->log, "%s: [home-agent] address: cannot bind %s:%d: %s (is the "
			  "address configured on %s?)", d->conf.path, addr4_str(d->conf.address, a),
			  MIP4_PORT, strerror(-d->udp_fd), d->conf.home_if);
		return d->udp_fd;
	}
	d->raw_fd = sock_raw4_open(MIP4_IPIP_PROTO, SOCK_F_HDRINCL);
	if (d->raw_fd < 0) {
		LOG_ERROR(&d->log, "cannot open a raw IP-in-IP socket: %s", strerror(-d->raw_fd));
		return d->raw_fd;
	}
	d->udp_bufs = g_malloc((size_t)UDP_BATCH * UDP_BUFSIZE);
	sock_batch_init(&d->udp_rx, d->udp_bufs, UDP_BATCH, UDP_BUFSIZE);
	/* The send batch's slots point at the pending replies; its bufs are never used. */
	sock_batch_init(&d->udp_tx, d->udp_bufs, UDP_BATCH, UDP_BUFSIZE);
	d->replies = g_new(struct pending_reply, REPLIES_MAX);
	d->rep_head = d->rep_tail = d->rep_batch = 0;
	return 0;
}

/* hactl: ctl.h's answers, with the persistence counters added to "stats". */
static char *ctl_handle(const char *request, void *user)
{
	struct ha_daemon *d = user;
	const struct ha_persist_stats *ps = ha_persist_stats(d->persist);
	char *doc = ha_ctl_handle_both(request, &d->ctl_ctx, d->fa ? &d->fa_ctl : NULL), *extra,
		*out, *end;
	struct json j;

	if (!doc || !ps || strcmp(request, "stats") != 0 || !(end = strrchr(doc, '}')) ||
	    end == doc)
		return doc;
	json_init(&j);
	json_begin_object(&j);
	json_kv_uint(&j, "syncs", ps->syncs);
	json_kv_uint(&j, "records", ps->records);
	json_kv_uint(&j, "record_bytes", ps->record_bytes);
	json_kv_uint(&j, "journal_bytes", ps->journal_bytes);
	json_kv_uint(&j, "compactions", ps->compactions);
	json_kv_uint(&j, "compaction_last_us", ps->compaction_last_us);
	json_kv_uint(&j, "compaction_max_us", ps->compaction_max_us);
	json_kv_uint(&j, "snapshot_bytes", ps->snapshot_bytes);
	json_kv_uint(&j, "errors", ps->errors);
	json_end_object(&j);
	extra = json_finish(&j);
	if (!extra)
		return doc;
	*end = '\0';
	out = g_strdup_printf("%s%s\"persist\":%s}", doc, end[-1] == '{' ? "" : ",", extra);
	g_free(extra);
	g_free(doc);
	return out;
}

/* Reinstall the home-link state of every restored binding (§4.6: proxy ARP, routes, and
 * the gratuitous ARPs again, since the neighbours' caches may have moved on). */
static void reinstall(struct ha_daemon *d)
{
	const struct mip4_binding *b;
	size_t cursor = 0;

	while (bcache_next(ha_engine_bcache(d->engine), &cursor, &b))
		ha_attract_add(d->attract, b->home_addr, true);
}

/* RFC 5265 §4.3: say which sources an internal home agent serves. */
static void log_trusted(const struct ha_daemon *d)
{
	char list[HA_TRUSTED_MAX * (ADDR4_STRLEN + 5)] = "", a[ADDR4_STRLEN];
	size_t len = 0;

	for (unsigned i = 0; i < d->conf.ntrusted && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s/%u", i ? ", " : "",
					addr4_str(d->conf.trusted[i].net, a),
					d->conf.trusted[i].plen);
	LOG_NOTICE(&d->log, "internal home agent (RFC 5265): requests only from %s; replies "
		   "carry the Trusted Networks Configured extension", list);
}

static int start_ha(struct ha_daemon *d)
{
	struct ha_engine_config ec;
	char a[ADDR4_STRLEN], n[ADDR4_STRLEN];
	int rc;

	if ((rc = ha_keys_load(d->conf.keys_file, &d->keys)) < 0)
		return rc;
	d->home_ifindex = nl_link_index(d->conf.home_if);
	if (d->home_ifindex < 0) {
		LOG_ERROR(&d->log, "%s: [home-agent] home-interface: %s: %s", d->conf.path,
			  d->conf.home_if, strerror(-d->home_ifindex));
		return d->home_ifindex;
	}
	if ((rc = kernel_settings(d)) < 0 || (rc = open_tunnel_device(d)) < 0)
		return rc;

	memset(&ec, 0, sizeof(ec));
	ec.address = d->conf.address;
	ec.home_net = d->conf.home_net;
	ec.home_plen = d->conf.home_plen;
	ec.max_lifetime = (uint16_t)d->conf.max_lifetime;
	ec.udp = d->conf.udp;
	ec.keepalive_interval = (uint16_t)d->conf.keepalive_interval;
	ec.ntrusted = d->conf.ntrusted;
	memcpy(ec.trusted, d->conf.trusted, sizeof(ec.trusted));
	ec.key_lookup = key_lookup;
	ec.key_ctx = d;
	ec.clock = clock_monotonic();
	if ((rc = ha_engine_new(&ec, &d->engine)) < 0) {
		LOG_ERROR(&d->log, "cannot start the registration engine: %s", strerror(-rc));
		return rc;
	}
	if ((rc = ha_attract_new(d->conf.home_if, d->tun_ifindex, &d->attract)) < 0)
		return rc;
	/* The snapshot and its journal; then a fresh snapshot (persist.h). */
	if ((rc = ha_persist_open(d->conf.state_file, d->engine, &d->log, &d->persist,
				  NULL)) < 0)
		return rc;
	reinstall(d);
	ha_attract_sweep(d->attract, d->conf.home_net, d->conf.home_plen);

	if ((rc = open_sockets(d)) < 0)
		return rc;
	if ((rc = ha_datapath_new(d->engine, d->tun_fd, d->raw_fd, d->udp_fd, d->conf.address,
				  on_dp_changed, d, &d->dp)) < 0)
		return rc;
	/* After the data path's own setting (4 MiB): the registrations need more. */
	if ((rc = sock_set_buffers(d->udp_fd, UDP_SOCKBUF, UDP_SOCKBUF)) < 0)
		LOG_WARNING(&d->log, "cannot enlarge UDP port 434's socket buffers: %s",
			    strerror(-rc));
	ha_datapath_set_replay(d->dp, MM_MSEC((mm_time_ns)d->conf.replay_ms),
			       MM_MSEC((mm_time_ns)d->conf.replay_rtt_ms), d->conf.replay_bytes);
	d->ctl_ctx.engine = d->engine;
	d->ctl_ctx.dp = d->dp;
	d->src_udp = g_unix_fd_add(d->udp_fd, G_IO_IN, on_udp, d);
	d->src_sync = g_unix_fd_add(ha_persist_event_fd(d->persist), G_IO_IN, on_sync, d);
	d->src_raw = g_unix_fd_add(d->raw_fd, G_IO_IN, on_raw, d);
	d->src_tun = g_unix_fd_add(d->tun_fd, G_IO_IN, on_tun, d);
	schedule_expiry(d);
	LOG_NOTICE(&d->log, "home agent %s on %s, home network %s/%u, %zu keys, %zu binding(s), "
		   "UDP tunnelling %s, max lifetime %u s", addr4_str(d->conf.address, a),
		   d->conf.home_if, addr4_str(d->conf.home_net, n), d->conf.home_plen,
		   ha_keys_count(d->keys), bcache_count(ha_engine_bcache(d->engine)),
		   d->conf.udp == HA_UDP_ALLOW ? "allowed" : "denied", d->conf.max_lifetime);
	if (d->conf.ntrusted)
		log_trusted(d);
	return 0;
}

static int start(void *user)
{
	struct ha_daemon *d = user;
	GError *err = NULL;
	int rc;

	if (d->conf.has_ha && (rc = start_ha(d)) < 0)
		return rc;
	if (d->conf.has_fa) {
		/* RFC 5944 §2.3: H only where this is also a home agent on that link. */
		bool here = d->conf.has_ha && strcmp(d->conf.home_if, d->conf.fa.interface) == 0;

		if ((rc = fa_start(&d->conf, here, &d->fa)) < 0)
			return rc;
		d->fa_ctl.engine = fa_get_engine(d->fa);
		d->fa_ctl.dp = fa_get_datapath(d->fa);
		d->fa_ctl.adv = fa_get_adv_stats(d->fa);
	}
	d->ctl = control_server_start(d->conf.control_socket, ctl_handle, d, &err);
	if (!d->ctl) {
		LOG_ERROR(&d->log, "%s: [%s] control-socket: %s", d->conf.path,
			  d->conf.has_ha ? HA_CONF_GROUP : FA_CONF_GROUP,
			  err ? err->message : "cannot listen");
		g_clear_error(&err);
		return -EADDRINUSE;
	}
	return 0;
}

static void stop(void *user)
{
	struct ha_daemon *d = user;

	if (d->src_udp)
		g_source_remove(d->src_udp);
	if (d->src_raw)
		g_source_remove(d->src_raw);
	if (d->src_tun)
		g_source_remove(d->src_tun);
	if (d->src_sync)
		g_source_remove(d->src_sync);
	if (d->expiry_timer)
		g_source_remove(d->expiry_timer);
	if (d->flush_timer)
		g_source_remove(d->flush_timer);
	control_server_stop(d->ctl);
	d->ctl = NULL;
	fa_stop(d->fa);
	d->fa = NULL;
	/* Clean stop: everything into a fresh snapshot, the journal restarted; then the
	 * replies still held can go. */
	if (d->persist && d->attract)
		ha_persist_compact(d->persist, d->engine);
	if (d->replies && d->udp_fd >= 0)
		release_replies(d);
	ha_persist_close(d->persist, NULL);
	d->persist = NULL;
	/* The bindings stay in the state file; the kernel state goes with us, so that no
	 * proxy ARP entry keeps attracting traffic nobody tunnels. */
	ha_attract_free(d->attract);
	ha_datapath_free(d->dp);
	ha_engine_free(d->engine);
	ha_keys_free(d->keys);
	if (d->udp_fd >= 0)
		close(d->udp_fd);
	if (d->raw_fd >= 0)
		close(d->raw_fd);
	if (d->tun_fd >= 0)
		close(d->tun_fd);
	g_free(d->udp_bufs);
	g_free(d->replies);
	ha_conf_clear(&d->conf);
}

static int load(void *user, const char *config_path)
{
	struct ha_daemon *d = user;

	return ha_conf_load(config_path, &d->conf);
}

int main(int argc, char **argv)
{
	static struct ha_daemon d;   /* large (actions, batches): not on the stack */
	static const struct daemon_life life = {
		.prog = "ha",
		.default_config = "/etc/mip4-mobike/ha.conf",
		.load = load,
		.start = start,
		.stop = stop,
		.reload = on_reload,
	};

	d.udp_fd = d.raw_fd = d.tun_fd = -1;
	logger_init(&d.log, "ha");
	return daemon_main(argc, argv, &life, &d, &d.log);
}
