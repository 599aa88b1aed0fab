/* The user-space ESP data path shared by vpngw and mnd. See espdp.h. */
#include "daemon/espdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/ratelimit.h"
#include "common/netlink.h"
#include "common/tun.h"
#include "esp/batch.h"
#include "esp/esp_sa.h"
#include "esp/udpencap.h"
#include "daemon/droplog.h"
#include "daemon/espsel.h"
#include "daemon/replay.h"

/* Buffers: outbound slots hold one packet read from the TUN (MTU at most 9000, see
 * conf.h) with room for ESP around it; inbound slots one UDP payload: ESP of such a packet,
 * or an IKE message (at most IKE_MSG_MAX), reassembled by the kernel if it was fragmented.
 * Anything longer is truncated by the kernel, flagged, and dropped. */
#define TX_INNER_MAX 9216
#define TX_BUFSIZE (TX_INNER_MAX + ESP_HEADROOM_MAX + ESP_TAILROOM_MAX)
#define RX_BUFSIZE 16384
/* Hard limit = soft limit of the engine's lifetime * 110 % (strongSwan's life_time default
 * is rekey_time + 10 %). */
#define HARD_PERCENT 110
/* Liveness (RFC 7296 2.4): tell the engine about incoming ESP at most this often per SA. */
#define ACTIVITY_INTERVAL MM_SEC(1)

struct dp_child {
	struct espdp_child v;       /* stats fields unused here: filled on demand */
	struct esp_sa *in, *out;
	struct sockaddr_in peer;       /* where ESP goes: the remote endpoint, port 4500 */
	int ifindex;                   /* outgoing interface (0: routing decides) */
	bool mobike;                   /* its IKE SA does MOBIKE: no implicit address update */
	struct in_addr replay_key;     /* its IKE SA's key in the replay ring (ike_keys) */
	bool soft_reported, hard_reported;
	mm_time_ns activity_told;      /* last activity callback (0: never) */
};

struct expiry {
	uint32_t spi_in;
	bool hard;
};

struct espdp {
	struct espdp_config cfg;
	struct logger log;
	struct espdp_stats st;
	GHashTable *by_spi;            /* spi_in -> struct dp_child * */
	GHashTable *hosts;             /* remote /32 selector (network order) -> GPtrArray of
					* struct dp_child *, newest last */
	GPtrArray *ranges;             /* struct dp_child * with wider remote selectors,
					* newest last */
	GPtrArray *all;                /* every struct dp_child * */
	GHashTable *mobike;            /* IKE SAs doing MOBIKE: spi_i (guint64 *, owned) */
	GHashTable *ike_keys;          /* IKE SA spi_i (guint64 *, owned) -> its replay key */
	uint32_t next_key;             /* the last replay key handed out */
	/* handover replay (replay.h); replay NULL: off */
	struct pkt_replay *replay;
	mm_time_ns replay_window, replay_rtt;
	size_t replay_max_bytes;
	unsigned *replay_idx;          /* pkt_replay_slots() entries */
	struct esp_batch tx, rx;
	struct expiry *pending;        /* expiries found during a batch, reported after it */
	size_t npending, pending_cap;
	struct ratelimit drop_rl;      /* drop lines (common/ratelimit.h) */
};

/* --- logging ------------------------------------------------------------------------- */

/* Drop lines, rate-limited (daemon/droplog.h). */
#define drop_log(dp, now, ...) droplog(&(dp)->drop_rl, &(dp)->st.log_suppressed, &(dp)->log, \
				       (now), "", __VA_ARGS__)

#define EP_STRLEN (ADDR4_STRLEN + 6)

static const char *ep_str(const struct sockaddr_in *sa, char buf[EP_STRLEN])
{
	char a[ADDR4_STRLEN];

	snprintf(buf, EP_STRLEN, "%s:%u", addr4_str(sa->sin_addr, a), ntohs(sa->sin_port));
	return buf;
}

/* --- life cycle ---------------------------------------------------------------------- */

static void child_free(struct dp_child *c)
{
	if (!c)
		return;
	esp_sa_free(c->in);
	esp_sa_free(c->out);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

static void host_list_free(gpointer p)
{
	g_ptr_array_free(p, TRUE);
}

int espdp_new(const struct espdp_config *cfg, struct espdp **out)
{
	struct espdp *dp;
	unsigned batch;
	int rc;

	if (!cfg || !out || cfg->tun_fd < 0 || cfg->udp_fd < 0 || cfg->jitter_percent > 50 ||
	    cfg->batch > ESP_BATCH_MAX)
		return -EINVAL;
	batch = cfg->batch ? cfg->batch : ESP_BATCH_MAX;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->cfg = *cfg;
	dp->cfg.batch = batch;
	logger_init(&dp->log, "%s[esp]", g_get_prgname() ? g_get_prgname() : "espdp");
	rc = esp_batch_init(&dp->tx, batch, TX_BUFSIZE);
	if (rc == 0) {
		rc = esp_batch_init(&dp->rx, batch, RX_BUFSIZE);
		if (rc < 0)
			esp_batch_free(&dp->tx);
	}
	if (rc < 0) {
		free(dp);
		return rc;
	}
	dp->by_spi = g_hash_table_new(g_direct_hash, g_direct_equal);
	dp->hosts = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, host_list_free);
	dp->ranges = g_ptr_array_new();
	dp->mobike = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	dp->ike_keys = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	dp->all = g_ptr_array_new();
	/* Each packet reports at most one expiry, and poll at most two per SA (grown there). */
	dp->pending_cap = 2 * (size_t)batch;
	dp->pending = calloc(dp->pending_cap, sizeof(*dp->pending));
	if (!dp->pending) {
		espdp_free(dp);
		return -ENOMEM;
	}
	ratelimit_init(&dp->drop_rl);
	*out = dp;
	return 0;
}

void espdp_free(struct espdp *dp)
{
	if (!dp)
		return;
	for (guint i = 0; dp->all && i < dp->all->len; i++)
		child_free(g_ptr_array_index(dp->all, i));
	if (dp->all)
		g_ptr_array_free(dp->all, TRUE);
	if (dp->ranges)
		g_ptr_array_free(dp->ranges, TRUE);
	if (dp->hosts)
		g_hash_table_destroy(dp->hosts);
	if (dp->by_spi)
		g_hash_table_destroy(dp->by_spi);
	if (dp->mobike)
		g_hash_table_destroy(dp->mobike);
	if (dp->ike_keys)
		g_hash_table_destroy(dp->ike_keys);
	pkt_replay_free(dp->replay);
	free(dp->replay_idx);
	esp_batch_free(&dp->tx);
	esp_batch_free(&dp->rx);
	free(dp->pending);
	free(dp);
}

const struct espdp_stats *espdp_stats(const struct espdp *dp)
{
	return dp ? &dp->st : NULL;
}

/* --- Child SAs ----------------------------------------------------------------------- */

static bool ts_list_ok(const struct ike_ts4_list *l)
{
	if (l->n == 0 || l->n > IKE_CFG_MAX_TS)
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (ntohl(l->ts[i].start.s_addr) > ntohl(l->ts[i].end.s_addr) ||
		    l->ts[i].start_port > l->ts[i].end_port)
			return false;
	return true;
}

static bool is_host(const struct ike_ts4 *t)
{
	return t->start.s_addr == t->end.s_addr && t->start.s_addr != 0;
}

/* Random 0..max (the soft lifetime's jitter): RAND_bytes, as the engine uses. */
static uint64_t jitter(uint64_t max)
{
	uint64_t r = 0;

	if (max == 0 || RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return 0;
	return r % (max + 1);
}

static int make_sa(const struct ike_child_info *ci, bool inbound, const struct esp_lifetime *life,
		   uint32_t window, mm_time_ns now, struct esp_sa **out)
{
	uint8_t keymat[2 * IKE_KEY_MAX];
	struct esp_sa_config sc;
	uint16_t bits = ci->suite.encr_key_bits ? ci->suite.encr_key_bits : 256;
	int want, rc;

	want = esp_keymat_len(ci->suite.encr, bits, ci->suite.integ);
	if (want < 0)
		return want;
	if (ci->key_len > IKE_KEY_MAX || ci->integ_len > IKE_KEY_MAX ||
	    ci->key_len + ci->integ_len != (size_t)want)
		return -EINVAL;
	/* RFC 7296 2.17: encryption key, then integrity key (esp_sa.h's KEYMAT piece). */
	memcpy(keymat, inbound ? ci->key_in : ci->key_out, ci->key_len);
	memcpy(keymat + ci->key_len, inbound ? ci->integ_in : ci->integ_out, ci->integ_len);
	memset(&sc, 0, sizeof(sc));
	sc.spi = inbound ? ci->spi_in : ci->spi_out;
	sc.dir = inbound ? ESP_DIR_IN : ESP_DIR_OUT;
	sc.encr = ci->suite.encr;
	sc.key_bits = bits;
	sc.integ = ci->suite.integ;
	sc.esn = ci->suite.esn == IKE_ESN_YES;
	sc.replay_window = window;
	sc.life = *life;
	sc.keymat = keymat;
	sc.keymat_len = (size_t)want;
	rc = esp_sa_new(&sc, now, out);
	OPENSSL_cleanse(keymat, sizeof(keymat));
	return rc;
}

static void index_child(struct espdp *dp, struct dp_child *c)
{
	bool ranged = false;

	for (size_t i = 0; i < c->v.ts_remote.n; i++) {
		const struct ike_ts4 *t = &c->v.ts_remote.ts[i];
		gpointer key = GUINT_TO_POINTER(t->start.s_addr);
		GPtrArray *l;

		if (!is_host(t)) {
			ranged = true;
			continue;
		}
		l = g_hash_table_lookup(dp->hosts, key);
		if (!l) {
			l = g_ptr_array_new();
			g_hash_table_insert(dp->hosts, key, l);
		}
		if (!g_ptr_array_find(l, c, NULL))
			g_ptr_array_add(l, c);
	}
	if (ranged)
		g_ptr_array_add(dp->ranges, c);
}

static void unindex_child(struct espdp *dp, struct dp_child *c)
{
	for (size_t i = 0; i < c->v.ts_remote.n; i++) {
		const struct ike_ts4 *t = &c->v.ts_remote.ts[i];
		gpointer key = GUINT_TO_POINTER(t->start.s_addr);
		GPtrArray *l;

		if (!is_host(t))
			continue;
		l = g_hash_table_lookup(dp->hosts, key);
		if (!l)
			continue;
		g_ptr_array_remove(l, c);
		if (l->len == 0)
			g_hash_table_remove(dp->hosts, key);
	}
	g_ptr_array_remove(dp->ranges, c);
}

/* The replay key of IKE SA spi_i: one number per IKE SA, shared by its Child SAs (also
 * those of a Child SA rekey) and kept across an IKE SA rekey (espdp_child_reparent), so a
 * move selects exactly this peer's packets. Numbers are not reused before 2^32 IKE SAs. */
static struct in_addr ike_key(struct espdp *dp, uint64_t spi_i, bool make)
{
	gpointer v = g_hash_table_lookup(dp->ike_keys, &spi_i);
	struct in_addr key = { .s_addr = GPOINTER_TO_UINT(v) };
	guint64 *k;

	if (v || !make)
		return key;
	if (++dp->next_key == 0)
		dp->next_key = 1;
	key.s_addr = dp->next_key;
	k = g_new(guint64, 1);
	*k = spi_i;
	g_hash_table_insert(dp->ike_keys, k, GUINT_TO_POINTER(key.s_addr));
	return key;
}

int espdp_child_add(struct espdp *dp, const struct ike_child_info *ci, mm_time_ns now)
{
	struct esp_lifetime life;
	struct dp_child *c;
	char a[ADDR4_STRLEN];
	int rc;

	if (!dp || !ci || ci->spi_in == 0 || ci->spi_out == 0 || !ts_list_ok(&ci->ts_local) ||
	    !ts_list_ok(&ci->ts_remote) || ci->remote.addr.s_addr == 0)
		return -EINVAL;
	if (g_hash_table_contains(dp->by_spi, GUINT_TO_POINTER(ci->spi_in)))
		return -EEXIST;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(&life, 0, sizeof(life));
	if (ci->lifetime_s) {
		mm_time_ns l = MM_SEC(ci->lifetime_s);

		life.soft_ns = l - jitter(l / 100 * dp->cfg.jitter_percent);
		life.hard_ns = l / 100 * HARD_PERCENT;
		c->v.soft_at = now + life.soft_ns;
		c->v.hard_at = now + life.hard_ns;
	}
	rc = make_sa(ci, true, &life, dp->cfg.replay_window, now, &c->in);
	if (rc == 0)
		rc = make_sa(ci, false, &life, 0, now, &c->out);
	if (rc < 0) {
		child_free(c);
		return rc;
	}
	c->v.ike_spi_i = ci->ike_spi_i;
	c->v.ike_spi_r = ci->ike_spi_r;
	c->v.spi_in = ci->spi_in;
	c->v.spi_out = ci->spi_out;
	c->v.suite = ci->suite;
	c->v.ts_local = ci->ts_local;
	c->v.ts_remote = ci->ts_remote;
	c->v.local = ci->local;
	c->v.remote = ci->remote;
	c->v.udp_encap = ci->udp_encap;
	c->v.lifetime_s = ci->lifetime_s;
	c->v.added = now;
	/* Child SAs of a MOBIKE IKE SA (created after its SA_UP, or rekeyed) are MOBIKE too. */
	c->mobike = g_hash_table_contains(dp->mobike, &c->v.ike_spi_i);
	c->replay_key = ike_key(dp, c->v.ike_spi_i, true);
	c->peer.sin_family = AF_INET;
	c->peer.sin_addr = ci->remote.addr;
	/* ESP goes in UDP whatever was negotiated (espdp.h); to the peer's NAT mapping when
	 * it floated to 4500, else to its port 4500. */
	c->peer.sin_port = htons(ci->udp_encap && ci->remote.port ? ci->remote.port
				 : UDPENCAP_PORT);
	if (!ci->udp_encap)
		LOG_INFO(&dp->log, "Child SA %08x_i %08x_o with %s: no NAT, but ESP goes in UDP to "
			 "port %u all the same (user-space ESP, as strongSwan's libipsec does)",
			 ci->spi_in, ci->spi_out, addr4_str(ci->remote.addr, a), UDPENCAP_PORT);
	g_hash_table_insert(dp->by_spi, GUINT_TO_POINTER(c->v.spi_in), c);
	g_ptr_array_add(dp->all, c);
	index_child(dp, c);
	dp->st.children = dp->all->len;
	return 0;
}

static void remove_child(struct espdp *dp, struct dp_child *c)
{
	unindex_child(dp, c);
	g_hash_table_remove(dp->by_spi, GUINT_TO_POINTER(c->v.spi_in));
	g_ptr_array_remove_fast(dp->all, c);
	dp->st.children = dp->all->len;
	/* An expiry of this SA still queued is no longer anyone's business. */
	for (size_t i = 0; i < dp->npending; i++)
		if (dp->pending[i].spi_in == c->v.spi_in)
			dp->pending[i].spi_in = 0;
	child_free(c);
}

int espdp_child_del(struct espdp *dp, uint32_t spi_in)
{
	struct dp_child *c;

	if (!dp)
		return -EINVAL;
	c = g_hash_table_lookup(dp->by_spi, GUINT_TO_POINTER(spi_in));
	if (!c)
		return -ENOENT;
	remove_child(dp, c);
	return 0;
}

size_t espdp_child_del_ike(struct espdp *dp, uint64_t spi_i, uint64_t spi_r)
{
	size_t n = 0;

	if (!dp)
		return 0;
	g_hash_table_remove(dp->mobike, &spi_i);
	g_hash_table_remove(dp->ike_keys, &spi_i);
	for (guint i = 0; i < dp->all->len;) {
		struct dp_child *c = g_ptr_array_index(dp->all, i);

		if (c->v.ike_spi_i == spi_i && c->v.ike_spi_r == spi_r) {
			remove_child(dp, c);    /* moves the last element to i */
			n++;
		} else {
			i++;
		}
	}
	return n;
}

size_t espdp_child_reparent(struct espdp *dp, uint64_t old_i, uint64_t old_r,
			    uint64_t new_i, uint64_t new_r)
{
	size_t n = 0;

	/* MOBIKE stays with the SA across an IKE SA rekey (RFC 4555 3.1: the rekeyed SA keeps
	 * what IKE_AUTH negotiated). */
	if (dp && g_hash_table_remove(dp->mobike, &old_i))
		espdp_ike_set_mobike(dp, new_i, new_r);
	/* The replay key too: the packets recorded before the rekey are this peer's. */
	if (dp) {
		struct in_addr key = ike_key(dp, old_i, false);

		if (key.s_addr) {
			guint64 *k = g_new(guint64, 1);

			*k = new_i;
			g_hash_table_remove(dp->ike_keys, &old_i);
			g_hash_table_replace(dp->ike_keys, k, GUINT_TO_POINTER(key.s_addr));
		}
	}
	for (guint i = 0; dp && i < dp->all->len; i++) {
		struct dp_child *c = g_ptr_array_index(dp->all, i);

		if (c->v.ike_spi_i == old_i && c->v.ike_spi_r == old_r) {
			c->v.ike_spi_i = new_i;
			c->v.ike_spi_r = new_r;
			n++;
		}
	}
	return n;
}

size_t espdp_ike_set_mobike(struct espdp *dp, uint64_t spi_i, uint64_t spi_r)
{
	size_t n = 0;

	if (!dp)
		return 0;
	if (!g_hash_table_contains(dp->mobike, &spi_i)) {
		guint64 *k = g_new(guint64, 1);

		*k = spi_i;
		g_hash_table_add(dp->mobike, k);
	}
	for (guint i = 0; i < dp->all->len; i++) {
		struct dp_child *c = g_ptr_array_index(dp->all, i);

		if (c->v.ike_spi_i == spi_i && c->v.ike_spi_r == spi_r) {
			c->mobike = true;
			n++;
		}
	}
	return n;
}

static void move_child(struct dp_child *c, const struct ike_endpoint *local,
		       const struct ike_endpoint *remote, bool udp_encap, int ifindex)
{
	c->v.local = *local;
	c->v.remote = *remote;
	c->v.udp_encap = udp_encap;
	c->ifindex = ifindex;
	c->peer.sin_addr = remote->addr;
	c->peer.sin_port = htons(udp_encap && remote->port ? remote->port : UDPENCAP_PORT);
}

size_t espdp_ike_move(struct espdp *dp, uint64_t spi_i, uint64_t spi_r,
		      const struct ike_endpoint *local, const struct ike_endpoint *remote,
		      bool udp_encap, int ifindex)
{
	size_t n = 0;

	if (!dp || !local || !remote || !remote->addr.s_addr || ifindex < 0)
		return 0;
	/* RFC 4555 3.5: the IKE SA and all its Child SAs move together; the engine lists
	 * them, but an SA installed since (or left behind by a lost action) must not stay on
	 * the old path, so every Child SA of the IKE SA goes. */
	for (guint i = 0; i < dp->all->len; i++) {
		struct dp_child *c = g_ptr_array_index(dp->all, i);

		if (c->v.ike_spi_i != spi_i || c->v.ike_spi_r != spi_r)
			continue;
		move_child(c, local, remote, udp_encap, ifindex);
		n++;
	}
	dp->st.moves++;
	return n;
}

int espdp_child_set_ifindex(struct espdp *dp, uint32_t spi_in, int ifindex)
{
	struct dp_child *c;

	if (!dp || ifindex < 0)
		return -EINVAL;
	c = g_hash_table_lookup(dp->by_spi, GUINT_TO_POINTER(spi_in));
	if (!c)
		return -ENOENT;
	c->ifindex = ifindex;
	return 0;
}

static void view(const struct dp_child *c, struct espdp_child *out)
{
	*out = c->v;
	out->mobike = c->mobike;
	out->ifindex = c->ifindex;
	out->remote.addr = c->peer.sin_addr;
	out->remote.port = ntohs(c->peer.sin_port);
	esp_sa_get_stats(c->in, &out->in);
	esp_sa_get_stats(c->out, &out->out);
	out->state_in = esp_sa_state(c->in);
	out->state_out = esp_sa_state(c->out);
}

bool espdp_next_child(const struct espdp *dp, size_t *cursor, struct espdp_child *out)
{
	if (!dp || !cursor || !out || *cursor >= dp->all->len)
		return false;
	view(g_ptr_array_index(dp->all, (guint)*cursor), out);
	(*cursor)++;
	return true;
}

int espdp_child_get(const struct espdp *dp, uint32_t spi_in, struct espdp_child *out)
{
	const struct dp_child *c;

	if (!dp || !out)
		return -EINVAL;
	c = g_hash_table_lookup(dp->by_spi, GUINT_TO_POINTER(spi_in));
	if (!c)
		return -ENOENT;
	view(c, out);
	return 0;
}

/* --- lifetimes ----------------------------------------------------------------------- */

static void note_event(struct espdp *dp, struct dp_child *c, int ev)
{
	bool hard = ev == ESP_EV_HARD;

	if (ev <= ESP_EV_NONE || (hard ? c->hard_reported : c->soft_reported))
		return;
	if (hard)
		c->hard_reported = true;
	else
		c->soft_reported = true;
	if (dp->npending == dp->pending_cap) {
		size_t cap = dp->pending_cap * 2;
		struct expiry *p = realloc(dp->pending, cap * sizeof(*p));

		if (!p)
			return;    /* poll() sees the state again next time: hard stays hard */
		dp->pending = p;
		dp->pending_cap = cap;
	}
	dp->pending[dp->npending++] = (struct expiry){ .spi_in = c->v.spi_in, .hard = hard };
}

/* Report after the batch: the callback may add or remove SAs. */
static void flush_events(struct espdp *dp)
{
	for (size_t i = 0; i < dp->npending; i++) {
		struct expiry e = dp->pending[i];

		if (e.spi_in && dp->cfg.expired)
			dp->cfg.expired(dp->cfg.user, e.spi_in, e.hard);
	}
	dp->npending = 0;
}

void espdp_poll(struct espdp *dp, mm_time_ns now)
{
	if (!dp)
		return;
	for (guint i = 0; i < dp->all->len; i++) {
		struct dp_child *c = g_ptr_array_index(dp->all, i);

		note_event(dp, c, esp_sa_poll(c->in, now));
		note_event(dp, c, esp_sa_poll(c->out, now));
	}
	flush_events(dp);
}

/* --- outbound ------------------------------------------------------------------------ */

static struct dp_child *lookup_out(struct espdp *dp, const struct sel_pkt *p)
{
	GPtrArray *l = g_hash_table_lookup(dp->hosts, GUINT_TO_POINTER(p->dst.s_addr));

	/* The newest SA for the address: after a rekey the new one carries the traffic while
	 * the old one lingers for packets in flight (RFC 7296 2.8). */
	if (l && l->len)
		return g_ptr_array_index(l, l->len - 1);
	for (guint i = dp->ranges->len; i-- > 0;) {
		struct dp_child *c = g_ptr_array_index(dp->ranges, i);

		if (sel_match(&c->v.ts_remote, p->dst, p, p->dport))
			return c;
	}
	return NULL;
}

static void send_batch(struct espdp *dp, struct sock_batch *b, mm_time_ns now)
{
	unsigned first = 0;

	while (first < b->count) {
		int n = sock_send4_batch(dp->cfg.udp_fd, b, first);
		char ep[EP_STRLEN];

		if (n > 0) {
			first += (unsigned)n;
			continue;
		}
		if (n == -EAGAIN || n == -ENOBUFS) {
			/* Socket buffer full: drop the rest rather than block the loop. */
			dp->st.out_send_errors += b->count - first;
			dp->st.out_packets -= b->count - first;
			break;
		}
		dp->st.out_send_errors++;
		dp->st.out_packets--;
		drop_log(dp, now, "cannot send ESP to %s: %s",
			 ep_str(&b->slot[first].meta.peer, ep), strerror(-n));
		first++;
	}
	b->count = 0;
}

/* Encapsulate the inner packet of len bytes in tx slot i for Child SA c and queue it as
 * sendmmsg slot (*k)++. False when esp/ refused it (counted, logged). */
static bool out_queue(struct espdp *dp, struct dp_child *c, unsigned i, size_t len,
		      unsigned *k, mm_time_ns now)
{
	struct esp_batch *b = &dp->tx;
	struct sock_batch_slot *s;
	uint8_t *data;
	int rc;

	if (esp_batch_set_inner(b, i, len) < 0)
		return false;
	rc = esp_encap(c->out, &b->pkt[i], ESP_NH_IPV4, now);
	if (rc < 0) {
		enum esp_drop why = esp_drop_reason(rc);

		dp->st.out_esp_errors++;
		c->v.out_drops[why]++;
		if (why != ESP_DROP_EXPIRED)
			drop_log(dp, now, "cannot encapsulate for Child SA 0x%08x: %s",
				 c->v.spi_out, esp_drop_name(why));
		else
			note_event(dp, c, ESP_EV_HARD);
		return false;
	}
	note_event(dp, c, rc);
	if (esp_pkt_data(&b->pkt[i], &data) < 0)
		return false;
	s = &b->sock.slot[(*k)++];
	s->data = data;
	s->len = b->pkt[i].len;
	memset(&s->meta, 0, sizeof(s->meta));
	s->meta.peer = c->peer;
	/* The SA's own outer address (MOBIKE moves it, RFC 4555 3.5) and its interface, so a
	 * path opened on 0.0.0.0 (mnd) never sends into a tunnel whatever the routes say. */
	s->meta.local = c->v.local.addr.s_addr ? c->v.local.addr : dp->cfg.listen;
	s->meta.ifindex = c->ifindex;
	dp->st.out_packets++;
	dp->st.out_bytes += (uint64_t)len;
	return true;
}

void espdp_tun_readable(struct espdp *dp, mm_time_ns now, unsigned rounds)
{
	struct esp_batch *b;

	if (!dp)
		return;
	b = &dp->tx;
	for (unsigned round = 0; round < rounds; round++) {
		unsigned i, k = 0;
		bool drained = false;

		for (i = 0; i < b->n; i++) {
			struct dp_child *c;
			struct sel_pkt p;
			uint8_t *data;
			size_t room;
			ssize_t n;

			if (esp_batch_inner(b, i, &data, &room) < 0)
				break;
			n = read(dp->cfg.tun_fd, data, room);
			if (n < 0) {
				if (errno != EAGAIN && errno != EINTR)
					LOG_ERROR(&dp->log, "reading the tunnel device: %s",
						  strerror(errno));
				drained = true;
				break;
			}
			if ((size_t)n >= room || sel_parse(data, (size_t)n, &p) < 0) {
				dp->st.out_bad++;
				continue;
			}
			c = lookup_out(dp, &p);
			if (!c) {
				/* Routed into the TUN (the pool), but no peer has that address:
				 * nothing to say, the address is simply unused. */
				dp->st.out_no_sa++;
				continue;
			}
			if (!sel_outbound_ok(&c->v.ts_local, &c->v.ts_remote, &p)) {
				char sa[ADDR4_STRLEN], da[ADDR4_STRLEN];

				dp->st.out_ts_mismatch++;
				c->v.out_ts_mismatch++;
				drop_log(dp, now, "outbound %s -> %s (protocol %u) is outside the "
					 "selectors of Child SA 0x%08x: dropped",
					 addr4_str(p.src, sa), addr4_str(p.dst, da), p.proto,
					 c->v.spi_out);
				continue;
			}
			/* Kept before encapsulation, which encrypts in place: the ring holds
			 * the inner packet only. */
			if (dp->replay)
				pkt_replay_record_seq(dp->replay, c->replay_key, data, (size_t)n,
						      now, c->v.spi_out, esp_sa_seq(c->out) + 1);
			out_queue(dp, c, i, (size_t)n, &k, now);
		}
		if (dp->replay)
			dp->st.replay_too_big = pkt_replay_too_big(dp->replay);
		b->sock.count = k;
		if (k)
			send_batch(dp, &b->sock, now);
		flush_events(dp);
		if (drained || i < b->n)
			break;
	}
}

/* --- handover replay (replay.h) ------------------------------------------------------- */

int espdp_set_replay(struct espdp *dp, mm_time_ns window, mm_time_ns rtt, size_t max_bytes,
		     size_t max_packet)
{
	struct pkt_replay *rp = NULL;
	unsigned *idx;
	int rc;

	if (!dp || (window && (max_packet == 0 || max_packet > PKT_REPLAY_SLOT_DATA_MAX)))
		return -EINVAL;
	dp->replay_window = window;
	dp->replay_rtt = rtt;
	dp->replay_max_bytes = max_bytes;
	if (window && dp->replay && pkt_replay_slot_data(dp->replay) == max_packet)
		return 0;
	pkt_replay_free(dp->replay);
	dp->replay = NULL;
	free(dp->replay_idx);
	dp->replay_idx = NULL;
	if (!window)
		return 0;
	rc = pkt_replay_new(PKT_REPLAY_SLOTS_DEFAULT, max_packet, &rp);
	if (rc < 0)
		return rc;
	idx = calloc(PKT_REPLAY_SLOTS_DEFAULT, sizeof(*idx));
	if (!idx) {
		pkt_replay_free(rp);
		return -ENOMEM;
	}
	dp->replay = rp;
	dp->replay_idx = idx;
	return 0;
}

/* Selected packet idx into tx slot i and queued for the moved IKE SA; false when it is no
 * longer one of that SA's (its SA went, or the address moved to another peer). */
static bool replay_one(struct espdp *dp, unsigned idx, unsigned i, uint64_t spi_i,
		       uint64_t spi_r, unsigned *k, mm_time_ns now)
{
	const uint8_t *pkt;
	struct dp_child *c;
	struct sel_pkt p;
	uint8_t *data;
	size_t len, room;

	pkt = pkt_replay_packet(dp->replay, idx, &len);
	if (!pkt || esp_batch_inner(&dp->tx, i, &data, &room) < 0 || len >= room)
		return false;
	memcpy(data, pkt, len);
	if (sel_parse(data, len, &p) < 0)
		return false;
	/* Looked up again: the newest Child SA now (a rekey since is fine), and it must still
	 * be the moved IKE SA's and allow the packet. */
	c = lookup_out(dp, &p);
	if (!c || c->v.ike_spi_i != spi_i || c->v.ike_spi_r != spi_r ||
	    !sel_outbound_ok(&c->v.ts_local, &c->v.ts_remote, &p))
		return false;
	return out_queue(dp, c, i, len, k, now);
}

size_t espdp_ike_received(const struct espdp *dp, uint64_t spi_i,
			  struct ike_esp_received *out, size_t max)
{
	size_t n = 0;

	if (!dp || !out)
		return 0;
	for (unsigned i = 0; i < dp->all->len && n < max; i++) {
		const struct dp_child *c = g_ptr_array_index(dp->all, i);

		if (c->v.ike_spi_i != spi_i)
			continue;
		out[n].spi = c->v.spi_in;
		out[n++].seq = esp_sa_seq(c->in);
	}
	return n;
}

size_t espdp_ike_replay(struct espdp *dp, uint64_t spi_i, uint64_t spi_r, mm_time_ns now,
			mm_time_ns rtt, const struct ike_esp_received *received, size_t nreceived)
{
	struct pkt_replay_mark marks[IKE_MOVE_MAX_CHILDREN];
	size_t nmarks = 0;
	struct esp_batch *b;
	struct in_addr key;
	mm_time_ns since = 0;
	uint64_t sent0, bytes0, sent, bytes;
	unsigned n = 0, done = 0;

	if (!dp || !dp->replay)
		return 0;
	b = &dp->tx;
	sent0 = dp->st.out_packets;
	bytes0 = dp->st.out_bytes;
	key = ike_key(dp, spi_i, false);
	/* The peer said how far it received on its Child SAs (MM_ESP_RECEIVED): their flows are
	 * in the ring under our outbound SPI, numbered with the ESP sequence numbers. */
	for (size_t i = 0; received && i < nreceived && nmarks < IKE_MOVE_MAX_CHILDREN; i++)
		marks[nmarks++] = (struct pkt_replay_mark){ received[i].spi, received[i].seq };
	if (key.s_addr) {
		since = pkt_replay_start(dp->replay, key, now, dp->replay_window,
					 pkt_replay_rtt(rtt, dp->replay_rtt));
		n = pkt_replay_select_marked(dp->replay, key, since,
					     now > dp->replay_window ? now - dp->replay_window : 0,
					     nmarks ? marks : NULL, nmarks, dp->replay_max_bytes,
					     dp->replay_idx, pkt_replay_slots(dp->replay));
	}
	/* tx is free here: this runs from the engine's actions, never in the middle of an
	 * espdp_tun_readable batch; expiries stay queued (flush_events would call the engine
	 * back from inside its own actions). The bytes count what was handed to the socket
	 * (a refused datagram's bytes stay counted, as in out_bytes). */
	while (done < n) {
		unsigned k = 0;

		for (unsigned i = 0; i < b->n && done < n; i++, done++)
			if (!replay_one(dp, dp->replay_idx[done], i, spi_i, spi_r, &k, now))
				dp->st.replay_skipped++;
		b->sock.count = k;
		if (k)
			send_batch(dp, &b->sock, now);
	}
	/* send_batch takes back what the socket refused. */
	sent = dp->st.out_packets - sent0;
	bytes = dp->st.out_bytes - bytes0;
	dp->st.replays++;
	dp->st.replayed_packets += sent;
	dp->st.replayed_bytes += bytes;
	LOG_INFO(&dp->log, "MOBIKE: replayed %llu packets (%llu bytes, %s%llu ms before the "
		 "move) of IKE SA %016llx_i %016llx_r to the new address",
		 (unsigned long long)sent, (unsigned long long)bytes,
		 nmarks ? "after what the peer said it received; others since " : "since ",
		 (unsigned long long)(key.s_addr && now > since ? (now - since) / MM_MSEC(1) : 0),
		 (unsigned long long)spi_i, (unsigned long long)spi_r);
	return (size_t)sent;
}

/* --- inbound ------------------------------------------------------------------------- */

static void deliver(struct espdp *dp, struct dp_child *c, struct esp_pkt *pkt,
		    const struct sockaddr_in *from, mm_time_ns now)
{
	struct sel_pkt p;
	uint8_t *inner;
	char sa[ADDR4_STRLEN], da[ADDR4_STRLEN], ep[EP_STRLEN], old[EP_STRLEN];

	if (esp_pkt_data(pkt, &inner) < 0 || sel_parse(inner, pkt->len, &p) < 0) {
		dp->st.in_bad_inner++;
		drop_log(dp, now, "Child SA 0x%08x from %s: the decapsulated packet is not "
			 "IPv4: dropped", c->v.spi_in, ep_str(from, ep));
		return;
	}
	/* RFC 4301 5.2: the packet must be one the SA's selectors allow. */
	if (!sel_inbound_ok(&c->v.ts_local, &c->v.ts_remote, &p)) {
		dp->st.in_ts_mismatch++;
		c->v.in_ts_mismatch++;
		drop_log(dp, now, "Child SA 0x%08x from %s: inner %s -> %s (protocol %u) is "
			 "outside its traffic selectors: dropped", c->v.spi_in, ep_str(from, ep),
			 addr4_str(p.src, sa), addr4_str(p.dst, da), p.proto);
		return;
	}
	/* Authentic ESP from another address or port. Without MOBIKE: the peer's NAT mapping
	 * changed; follow it, as the kernel's ESP in UDP does (RFC 3948 and RFC 7296 2.23 leave
	 * the data path's port to the mapping). With MOBIKE the addresses change only by an
	 * UPDATE_SA_ADDRESSES exchange (RFC 4555 3.8: no implicit updates, which would let an
	 * attacker who replays or redirects ESP move the SA; RFC 4621 5.2.6): the packet is
	 * delivered (it is authentic, and the peer may be testing paths or moving, 3.5, 3.10),
	 * but neither moves the SA nor counts as liveness of the current path (3.12). */
	if (from->sin_addr.s_addr != c->peer.sin_addr.s_addr || from->sin_port != c->peer.sin_port) {
		if (c->mobike) {
			dp->st.other_source++;
			drop_log(dp, now, "Child SA 0x%08x (MOBIKE): ESP from %s, not the current "
				 "peer address %s: delivered, addresses unchanged", c->v.spi_in,
				 ep_str(from, ep), ep_str(&c->peer, old));
			goto write;
		}
		dp->st.peer_moved++;
		LOG_NOTICE(&dp->log, "Child SA 0x%08x: peer moved from %s to %s", c->v.spi_in,
			   ep_str(&c->peer, old), ep_str(from, ep));
		c->peer.sin_addr = from->sin_addr;
		c->peer.sin_port = from->sin_port;
	}
	/* Through the current path: the peer had what we sent a round trip ago (replay.h). */
	if (dp->replay)
		pkt_replay_note_reverse(dp->replay, c->replay_key, now);
	/* The peer is alive whatever the TUN does with the packet. */
	if (dp->cfg.activity && (!c->activity_told || now >= c->activity_told + ACTIVITY_INTERVAL)) {
		c->activity_told = now ? now : 1;
		dp->cfg.activity(dp->cfg.user, c->v.spi_in, now);
	}
write:
	if (write(dp->cfg.tun_fd, inner, pkt->len) != (ssize_t)pkt->len) {
		dp->st.in_write_errors++;
		return;
	}
	dp->st.in_packets++;
	dp->st.in_bytes += pkt->len;
}

static void inbound_esp(struct espdp *dp, unsigned i, const struct udpencap_msg *m,
			mm_time_ns now)
{
	const struct sock_batch_slot *s = &dp->rx.sock.slot[i];
	struct esp_pkt *pkt = &dp->rx.pkt[i];
	struct dp_child *c = g_hash_table_lookup(dp->by_spi, GUINT_TO_POINTER(m->spi));
	char ep[EP_STRLEN];
	enum esp_drop why;
	int rc;

	if (!c) {
		dp->st.in_unknown_spi++;
		dp->st.in_esp_drops[ESP_DROP_UNKNOWN_SPI]++;
		drop_log(dp, now, "ESP from %s with unknown SPI 0x%08x: dropped",
			 ep_str(&s->meta.peer, ep), m->spi);
		return;
	}
	pkt->off = 0;
	pkt->len = s->len;
	rc = esp_decap(c->in, pkt, now);
	if (rc >= 0) {
		note_event(dp, c, rc);
		deliver(dp, c, pkt, &s->meta.peer, now);
		return;
	}
	why = esp_drop_reason(rc);
	dp->st.in_esp_drops[why]++;
	c->v.in_drops[why]++;
	if (why == ESP_DROP_EXPIRED)
		note_event(dp, c, ESP_EV_HARD);
	else if (why != ESP_DROP_DUMMY)   /* RFC 4303 2.6: dummies go without a word */
		drop_log(dp, now, "ESP from %s for Child SA 0x%08x: %s: dropped",
			 ep_str(&s->meta.peer, ep), c->v.spi_in, esp_drop_name(why));
}

void espdp_udp_readable(struct espdp *dp, mm_time_ns now, unsigned rounds)
{
	struct esp_batch *b;

	if (!dp)
		return;
	b = &dp->rx;
	for (unsigned round = 0; round < rounds; round++) {
		int n = sock_recv4_batch(dp->cfg.udp_fd, &b->sock);

		if (n < 0) {
			if (n != -EAGAIN && n != -EINTR)
				LOG_ERROR(&dp->log, "receiving on UDP port %u: %s", UDPENCAP_PORT,
					  strerror(-n));
			break;
		}
		for (unsigned i = 0; i < (unsigned)n; i++) {
			const struct sock_batch_slot *s = &b->sock.slot[i];
			struct udpencap_msg m;
			const uint8_t *msg;
			struct reader r;

			if (s->truncated) {
				dp->st.in_invalid++;
				continue;
			}
			switch (udpencap_classify(s->data, s->len, &m)) {
			case UDPENCAP_ESP:
				inbound_esp(dp, i, &m, now);
				break;
			case UDPENCAP_IKE:
				reader_init(&r, s->data, s->len);
				if (!reader_skip(&r, m.off) || !reader_view(&r, m.len, &msg)) {
					dp->st.in_invalid++;
					break;
				}
				dp->st.ike_messages++;
				/* Expiries found so far first: they concern SAs the engine may
				 * be about to change. */
				flush_events(dp);
				if (dp->cfg.ike_input)
					dp->cfg.ike_input(dp->cfg.user, msg, m.len, &s->meta);
				break;
			case UDPENCAP_KEEPALIVE:
				dp->st.keepalives++;
				break;
			default:
				dp->st.in_invalid++;
				break;
			}
		}
		flush_events(dp);
		if ((unsigned)n < b->sock.nslots)
			break;
	}
}

/* --- IKE and keepalives out on 4500 ---------------------------------------------------- */

int espdp_send_ike_via(struct espdp *dp, const uint8_t *msg, size_t len,
		       const struct sockaddr_in *to, struct in_addr from, int ifindex)
{
	uint8_t buf[UDPENCAP_MARKER_LEN + IKE_MSG_MAX];
	struct writer w;
	ssize_t n;
	int rc;

	if (!dp || !msg || !to || len > IKE_MSG_MAX || ifindex < 0)
		return -EINVAL;
	writer_init(&w, buf, sizeof(buf));
	rc = udpencap_ike(&w, msg, len);
	if (rc < 0)
		return rc;
	if (from.s_addr == INADDR_ANY)
		from = dp->cfg.listen;
	n = sock_send4(dp->cfg.udp_fd, buf, writer_len(&w), to,
		       from.s_addr ? &from : NULL, ifindex);
	return n < 0 ? (int)n : 0;
}

int espdp_send_ike(struct espdp *dp, const uint8_t *msg, size_t len,
		   const struct sockaddr_in *to, struct in_addr from)
{
	return espdp_send_ike_via(dp, msg, len, to, from, 0);
}

int espdp_send_keepalive_via(struct espdp *dp, const struct sockaddr_in *to,
			     struct in_addr from, int ifindex)
{
	uint8_t buf[1];
	struct writer w;
	ssize_t n;

	if (!dp || !to || ifindex < 0)
		return -EINVAL;
	writer_init(&w, buf, sizeof(buf));
	if (udpencap_keepalive(&w) < 0)
		return -ENOSPC;
	if (from.s_addr == INADDR_ANY)
		from = dp->cfg.listen;
	n = sock_send4(dp->cfg.udp_fd, buf, writer_len(&w), to,
		       from.s_addr ? &from : NULL, ifindex);
	return n < 0 ? (int)n : 0;
}

int espdp_send_keepalive(struct espdp *dp, const struct sockaddr_in *to)
{
	struct in_addr any = { 0 };

	return espdp_send_keepalive_via(dp, to, any, 0);
}

/* --- set-up -------------------------------------------------------------------------- */

/* IPv4 only: no router solicitations or MLD reports from the kernel into the TUN. */
static void disable_ipv6(const char *ifname)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1", 1) != 1) {
		/* IPv6 may be off altogether: nothing to do. */
	}
	close(fd);
}

int espdp_open_tun(const char *name, unsigned mtu, struct in_addr addr,
		   const struct in_addr *route_net, unsigned route_plen,
		   char out_name[IFNAMSIZ], int *ifindex, const char **what)
{
	char ifname[IFNAMSIZ];
	const char *step;
	int fd, idx = 0, rc;

	if (!ifindex || !what || mtu > 65535)
		return -EINVAL;
	fd = tun_open(name, ifname, 0);
	if (fd < 0) {
		*what = "cannot create the TUN device";
		return fd;
	}
	disable_ipv6(ifname);
	step = "cannot set the MTU";
	rc = tun_set_mtu(ifname, (int)mtu);
	if (rc == 0) {
		step = "cannot bring it up";
		rc = tun_set_up(ifname);
	}
	if (rc == 0) {
		step = "cannot find its index";
		rc = idx = nl_link_index(ifname);
	}
	if (rc >= 0 && addr.s_addr) {
		step = "cannot add the tunnel address";
		rc = nl_addr4_add(idx, addr, 32);
		if (rc == -EEXIST)
			rc = 0;
	}
	if (rc >= 0 && route_net) {
		struct in_addr any = { 0 };

		step = "cannot route the pool into it";
		rc = nl_route4_add(prefix4_network(*route_net, route_plen), route_plen, any, idx,
				   0, 0);
		if (rc == -EEXIST)
			rc = 0;
	}
	if (rc < 0) {
		close(fd);
		*what = step;
		return rc;
	}
	*ifindex = idx;
	if (out_name)
		memcpy(out_name, ifname, IFNAMSIZ);
	return fd;
}

int espdp_open_udp(struct in_addr listen, uint16_t port)
{
	struct sockaddr_in sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr = listen;
	sa.sin_port = htons(port);
	fd = sock_udp4_open(&sa, SOCK_F_REUSEADDR | SOCK_F_PKTINFO);
	if (fd < 0)
		return fd;
	/* Bursts (a batch from the TUN, a peer's burst) must not overflow the defaults. */
	sock_set_buffers(fd, SOCK_DATAPATH_BUF, SOCK_DATAPATH_BUF);
	return fd;
}
