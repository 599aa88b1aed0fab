/* Registration load generator for the `ha` daemon (bench/ha_udpbench.py drives it).
 *
 * N mobile nodes, the first N lines of a keys file in ha's format ("HOME-ADDRESS SPI HEXKEY",
 * daemon/secret.h), each register once per round: a valid Registration Request (RFC 5944
 * §3.3) from this socket, care-of address = the local address (-b, co-located: D and T
 * set), authenticated with the mobile node's own key (MN-HA, HMAC-MD5, §3.5.2), with a
 * timestamp Identification taken from the clock when it is sent (§5.7, §5.7.1: greater
 * than the one before). At most W requests are outstanding; requests go out with
 * sendmmsg and replies come in with recvmmsg (common/sock.h), one thread, pinned to a CPU
 * with -c.
 *
 * A reply counts when it parses (mip4/reg.h), names a mobile node with a request
 * outstanding, carries an MN-HA extension that verifies with that node's key
 * (mip4/auth.h) and the Identification's low 32 bits of that request (§3.6.2.1); code 0
 * or 1 is accepted, anything else a reject (counted by code). A request with no reply
 * within -t ms is a timeout (no retransmission: the node is done for the round).
 *
 * Per round: rate = accepted / (last reply - first send), CLOCK_MONOTONIC; latency
 * (send -> reply) percentiles over the answered requests; this thread's CPU time and the
 * time it waited for a CPU (/proc/thread-self/schedstat: other processes on its CPU make
 * the numbers noise), and the CPU time the whole machine was busy (/proc/stat: anything
 * beyond ha's and this program's is someone else's). -j prints one JSON object per round instead of a line of text.
 *
 * Usage: ha_loadgen -k KEYS -s HA-ADDR -b LOCAL-ADDR [-n N] [-w W] [-r ROUNDS] [-c CPU]
 *                   [-l LIFETIME] [-t TIMEOUT-MS] [-j]
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/sock.h"
#include "mip4/auth.h"
#include "mip4/ident.h"
#include "mip4/reg.h"

#define REQ_CAP 128                /* fixed part 24 + MN-HA 6 + 16 = 46 bytes */
#define RX_CAP 2048
#define SOCKBUF (8 << 20)

enum mn_state { MN_IDLE = 0, MN_OUT, MN_DONE };

struct mn {
	struct in_addr hoa;
	struct mip4_key key;
	uint64_t last_ident;         /* the last Identification sent */
	mm_time_ns sent_at;
	uint8_t state;
};

struct lg {
	struct mn *mn;
	size_t n, cap;
	uint32_t *index;             /* open addressing: mn index + 1, 0 = empty */
	unsigned index_bits;
	int fd;
	struct sockaddr_in ha;
	struct in_addr local;
	uint16_t lifetime;
	struct sock_batch tx, rx;
	uint8_t *txbuf, *rxbuf;
};

struct round_result {
	size_t sent, accepted, rejected, timeouts, bad_auth, unexpected, malformed;
	uint64_t rejects[256];
	double seconds;
	double cpu_s, runq_s;        /* this thread's CPU time, and time it waited for a CPU */
	double machine_s;            /* CPU time all CPUs were busy (anyone's, /proc/stat) */
	double *lat_ms;              /* answered requests */
	size_t nlat;
};

static mm_time_ns mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (mm_time_ns)ts.tv_sec * 1000000000u + (mm_time_ns)ts.tv_nsec;
}

/* This thread's CPU time and run-queue wait (ns), from /proc/thread-self/schedstat: a
 * wait shows other processes competing for the CPU, i.e. a noisy measurement. */
static void schedstat(uint64_t *cpu, uint64_t *wait)
{
	FILE *f = fopen("/proc/thread-self/schedstat", "r");
	unsigned long long c = 0, w = 0;

	if (f) {
		if (fscanf(f, "%llu %llu", &c, &w) != 2)
			c = w = 0;
		fclose(f);
	}
	*cpu = c;
	*wait = w;
}

/* CPU time (s) the whole machine spent not idle, from /proc/stat's first line. */
static double machine_busy(void)
{
	unsigned long long v[10] = { 0 }, total = 0;
	FILE *f = fopen("/proc/stat", "r");
	int n = 0;

	if (f) {
		n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
		fclose(f);
	}
	if (n < 5)
		return 0;
	/* user nice system idle iowait irq softirq steal (guest times are in user) */
	for (int i = 0; i < 8; i++)
		total += v[i];
	return (double)(total - v[3] - v[4]) / (double)sysconf(_SC_CLK_TCK);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "ha_loadgen: %s: %s\n", what, strerror(err));
	exit(1);
}

/* --- mobile nodes ---------------------------------------------------------------------- */

static uint32_t slot_of(uint32_t h, unsigned bits)
{
	return (uint32_t)(h * UINT32_C(0x9E3779B1)) >> (32 - bits);
}

static void index_build(struct lg *g)
{
	uint32_t mask;

	g->index_bits = 4;
	while (((size_t)1 << g->index_bits) < g->n * 2)
		g->index_bits++;
	g->index = calloc((size_t)1 << g->index_bits, sizeof(*g->index));
	if (!g->index)
		die("index", ENOMEM);
	mask = (UINT32_C(1) << g->index_bits) - 1;
	for (size_t i = 0; i < g->n; i++) {
		uint32_t s = slot_of(ntohl(g->mn[i].hoa.s_addr), g->index_bits);

		while (g->index[s])
			s = (s + 1) & mask;
		g->index[s] = (uint32_t)i + 1;
	}
}

static struct mn *find(const struct lg *g, struct in_addr hoa)
{
	uint32_t mask = (UINT32_C(1) << g->index_bits) - 1;
	uint32_t s = slot_of(ntohl(hoa.s_addr), g->index_bits);

	for (; g->index[s]; s = (s + 1) & mask)
		if (g->mn[g->index[s] - 1].hoa.s_addr == hoa.s_addr)
			return &g->mn[g->index[s] - 1];
	return NULL;
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The first max lines of "HOME-ADDRESS SPI HEXKEY" (blank lines and # comments skipped). */
static void load_keys(struct lg *g, const char *path, size_t max)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned lineno = 0;

	if (!f)
		die(path, errno);
	while (g->n < max && fgets(line, sizeof(line), f)) {
		char addr[64], hex[256];
		uint8_t secret[MIP4_KEY_MAX];
		unsigned long spi;
		size_t klen;
		struct mn *m;
		char *p = line;

		lineno++;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		if (sscanf(p, "%63s %lu %255s", addr, &spi, hex) != 3 || strlen(hex) % 2 ||
		    strlen(hex) / 2 > sizeof(secret)) {
			fprintf(stderr, "ha_loadgen: %s:%u: expected HOME-ADDRESS SPI HEXKEY\n",
				path, lineno);
			exit(1);
		}
		klen = strlen(hex) / 2;
		for (size_t i = 0; i < klen; i++) {
			int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				fprintf(stderr, "ha_loadgen: %s:%u: bad hex key\n", path, lineno);
				exit(1);
			}
			secret[i] = (uint8_t)(hi << 4 | lo);
		}
		if (g->n == g->cap) {
			g->cap = g->cap ? g->cap * 2 : 1024;
			g->mn = realloc(g->mn, g->cap * sizeof(*g->mn));
			if (!g->mn)
				die("keys", ENOMEM);
		}
		m = &g->mn[g->n];
		memset(m, 0, sizeof(*m));
		if (addr4_parse(addr, &m->hoa) < 0 || spi > UINT32_MAX ||
		    mip4_key_set(&m->key, (uint32_t)spi, secret, klen) < 0) {
			fprintf(stderr, "ha_loadgen: %s:%u: bad address, SPI or key\n", path,
				lineno);
			exit(1);
		}
		g->n++;
	}
	fclose(f);
	if (g->n == 0) {
		fprintf(stderr, "ha_loadgen: %s: no keys\n", path);
		exit(1);
	}
}

/* --- one round ------------------------------------------------------------------------- */

/* Encode mobile node m's request into slot i of the send batch, Identification from now. */
static void encode(struct lg *g, struct mn *m, unsigned i)
{
	struct mip4_reg_request r;
	struct sock_batch_slot *s = &g->tx.slot[i];
	struct writer w;
	uint64_t ident = mip4_ntp_from_unix_ns(clock_realtime_ns());
	int n;

	/* §5.7.1: every new Identification greater than the one before (serial-number
	 * order: 0 is "none yet", not a time). */
	if (m->last_ident && !mip4_ident_after(ident, m->last_ident))
		ident = m->last_ident + 1;
	memset(&r, 0, sizeof(r));
	r.flags = MIP4_REQ_D | MIP4_REQ_T;
	r.lifetime = g->lifetime;
	r.home_addr = m->hoa;
	r.home_agent = g->ha.sin_addr;
	r.coa = g->local;
	r.ident = ident;
	s->data = g->txbuf + (size_t)i * REQ_CAP;
	writer_init(&w, s->data, REQ_CAP);
	n = mip4_request_encode(&w, &r, &m->key, NULL);
	if (n < 0)
		die("encoding a request", -n);
	s->len = (size_t)n;
	memset(&s->meta, 0, sizeof(s->meta));
	s->meta.peer = g->ha;
	m->last_ident = ident;
}

/* Send requests until the window is full or everyone has sent; returns how many. */
static size_t send_some(struct lg *g, size_t *next, size_t *outstanding, size_t window)
{
	size_t total = 0;

	while (*next < g->n && *outstanding < window) {
		unsigned k = 0, first = 0;
		size_t room = window - *outstanding, left = g->n - *next;
		unsigned want = (unsigned)(room < left ? room : left);

		if (want > g->tx.nslots)
			want = g->tx.nslots;
		for (; k < want; k++)
			encode(g, &g->mn[*next + k], k);
		g->tx.count = k;
		while (first < k) {
			int n = sock_send4_batch(g->fd, &g->tx, first);
			mm_time_ns t = mono();

			if (n == -EAGAIN) {
				struct pollfd p = { .fd = g->fd, .events = POLLOUT };

				poll(&p, 1, 10);
				continue;
			}
			if (n < 0)
				die("sendmmsg", -n);
			for (unsigned i = first; i < first + (unsigned)n; i++) {
				struct mn *m = &g->mn[*next + i];

				m->sent_at = t;
				m->state = MN_OUT;
			}
			first += (unsigned)n;
		}
		*next += k;
		*outstanding += k;
		total += k;
	}
	return total;
}

static void on_reply(struct lg *g, const uint8_t *data, size_t len, mm_time_ns now,
		     struct round_result *res, size_t *outstanding, mm_time_ns *last)
{
	struct mip4_reg_reply rep;
	struct mn *m;

	if (mip4_reply_parse(data, len, &rep) < 0) {
		res->malformed++;
		return;
	}
	m = find(g, rep.home_addr);
	if (!m || m->state != MN_OUT || !mip4_ident_reply_matches(m->last_ident, rep.ident)) {
		res->unexpected++;     /* late (after a timeout), duplicated, or not ours */
		return;
	}
	if (!rep.mn_ha.present || mip4_auth_verify_key(data, len, &rep.mn_ha, &m->key) < 0) {
		res->bad_auth++;
		return;
	}
	m->state = MN_DONE;
	(*outstanding)--;
	res->lat_ms[res->nlat++] = (double)(now - m->sent_at) / 1e6;
	*last = now;
	if (mip4_code_is_success(rep.code)) {
		res->accepted++;
	} else {
		res->rejected++;
		res->rejects[rep.code]++;
	}
}

static void run_round(struct lg *g, size_t window, mm_time_ns timeout, struct round_result *res)
{
	size_t next = 0, head = 0, outstanding = 0;
	mm_time_ns t0 = mono(), last = t0;
	uint64_t c0, w0, c1, w1;
	double m0 = machine_busy();

	schedstat(&c0, &w0);
	for (size_t i = 0; i < g->n; i++)
		g->mn[i].state = MN_IDLE;
	while (next < g->n || outstanding > 0) {
		struct pollfd p = { .fd = g->fd, .events = POLLIN };
		mm_time_ns now;
		int n;

		res->sent += send_some(g, &next, &outstanding, window);
		/* Nothing to send until replies come: wait for them. */
		if (poll(&p, 1, 5) < 0 && errno != EINTR)
			die("poll", errno);
		while ((n = sock_recv4_batch(g->fd, &g->rx)) > 0) {
			now = mono();
			for (int i = 0; i < n; i++)
				if (!g->rx.slot[i].truncated)
					on_reply(g, g->rx.slot[i].data, g->rx.slot[i].len, now, res,
						 &outstanding, &last);
			if ((unsigned)n < g->rx.nslots)
				break;
		}
		if (n < 0 && n != -EAGAIN && n != -EINTR)
			die("recvmmsg", -n);
		/* Requests go out in index order: the oldest outstanding is at head. */
		now = mono();
		while (head < next) {
			struct mn *m = &g->mn[head];

			if (m->state == MN_OUT) {
				if (now - m->sent_at < timeout)
					break;
				m->state = MN_DONE;
				outstanding--;
				res->timeouts++;
			}
			head++;
		}
	}
	res->seconds = (double)(last - t0) / 1e9;
	schedstat(&c1, &w1);
	res->cpu_s = (double)(c1 - c0) / 1e9;
	res->runq_s = (double)(w1 - w0) / 1e9;
	res->machine_s = machine_busy() - m0;
}

/* --- output ---------------------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void report(int round, const struct round_result *r, bool json, size_t window)
{
	double rate = r->seconds > 0 ? (double)r->accepted / r->seconds : 0;
	double p50 = pct(r->lat_ms, r->nlat, 50), p90 = pct(r->lat_ms, r->nlat, 90),
	       p99 = pct(r->lat_ms, r->nlat, 99), mx = r->nlat ? r->lat_ms[r->nlat - 1] : 0;
	bool first = true;

	if (json) {
		printf("{\"round\":%d,\"window\":%zu,\"sent\":%zu,\"accepted\":%zu,"
		       "\"rejected\":%zu,\"timeouts\":%zu,\"bad_auth\":%zu,\"unexpected\":%zu,"
		       "\"malformed\":%zu,\"seconds\":%.6f,\"rate\":%.1f,\"cpu_s\":%.3f,"
		       "\"runq_wait_s\":%.3f,\"machine_busy_s\":%.3f,\"latency_ms\":"
		       "{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"rejects\":{",
		       round, window, r->sent, r->accepted, r->rejected, r->timeouts, r->bad_auth,
		       r->unexpected, r->malformed, r->seconds, rate, r->cpu_s, r->runq_s,
		       r->machine_s, p50, p90, p99, mx);
		for (int c = 0; c < 256; c++) {
			if (!r->rejects[c])
				continue;
			printf("%s\"%d\":%" PRIu64, first ? "" : ",", c, r->rejects[c]);
			first = false;
		}
		printf("}}\n");
	} else {
		printf("round %d: %zu sent, %zu accepted, %zu rejected, %zu timeouts, %zu bad "
		       "authenticators, %zu unexpected in %.3f s = %.0f registrations/s; latency "
		       "ms p50 %.2f p90 %.2f p99 %.2f max %.2f; CPU %.2f s, waited %.2f s for a CPU; "
		       "all CPUs busy %.2f s", round, r->sent, r->accepted, r->rejected,
		       r->timeouts, r->bad_auth, r->unexpected, r->seconds, rate, p50, p90, p99, mx,
		       r->cpu_s, r->runq_s, r->machine_s);
		for (int c = 0; c < 256; c++) {
			if (!r->rejects[c])
				continue;
			printf("%s%d: %" PRIu64, first ? "; rejects " : ", ", c, r->rejects[c]);
			first = false;
		}
		printf("\n");
	}
	fflush(stdout);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s -k KEYS -s HA-ADDR -b LOCAL-ADDR [-n N] [-w WINDOW] "
		"[-r ROUNDS] [-c CPU] [-l LIFETIME] [-t TIMEOUT-MS] [-j]\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *keys = NULL, *ha = NULL, *local = NULL;
	size_t n = SIZE_MAX, window = 1024;
	unsigned long lifetime = 600, timeout_ms = 2000;
	int rounds = 1, cpu = -1, opt;
	bool json = false;
	struct sockaddr_in sa;
	struct lg g;

	while ((opt = getopt(argc, argv, "k:s:b:n:w:r:c:l:t:j")) != -1) {
		switch (opt) {
		case 'k': keys = optarg; break;
		case 's': ha = optarg; break;
		case 'b': local = optarg; break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'w': window = strtoul(optarg, NULL, 10); break;
		case 'r': rounds = atoi(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 'l': lifetime = strtoul(optarg, NULL, 10); break;
		case 't': timeout_ms = strtoul(optarg, NULL, 10); break;
		case 'j': json = true; break;
		default: usage(argv[0]);
		}
	}
	if (!keys || !ha || !local || n == 0 || window == 0 || rounds < 1 || lifetime == 0 ||
	    lifetime > 0xffff || timeout_ms == 0)
		usage(argv[0]);
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			die("sched_setaffinity", errno);
	}
	memset(&g, 0, sizeof(g));
	g.lifetime = (uint16_t)lifetime;
	memset(&g.ha, 0, sizeof(g.ha));
	g.ha.sin_family = AF_INET;
	g.ha.sin_port = htons(MIP4_PORT);
	if (addr4_parse(ha, &g.ha.sin_addr) < 0 || addr4_parse(local, &g.local) < 0)
		usage(argv[0]);
	load_keys(&g, keys, n);
	index_build(&g);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr = g.local;
	g.fd = sock_udp4_open(&sa, 0);
	if (g.fd < 0)
		die("socket", -g.fd);
	sock_set_buffers(g.fd, SOCKBUF, SOCKBUF);
	g.txbuf = malloc((size_t)SOCK_BATCH_MAX * REQ_CAP);
	g.rxbuf = malloc((size_t)SOCK_BATCH_MAX * RX_CAP);
	if (!g.txbuf || !g.rxbuf)
		die("buffers", ENOMEM);
	sock_batch_init(&g.tx, g.txbuf, SOCK_BATCH_MAX, REQ_CAP);
	sock_batch_init(&g.rx, g.rxbuf, SOCK_BATCH_MAX, RX_CAP);
	if (!json)
		printf("%zu mobile nodes, window %zu, %d round(s), HA %s, from %s\n", g.n, window,
		       rounds, ha, local);
	for (int r = 1; r <= rounds; r++) {
		struct round_result res;

		memset(&res, 0, sizeof(res));
		res.lat_ms = malloc(g.n * sizeof(*res.lat_ms));
		if (!res.lat_ms)
			die("latencies", ENOMEM);
		run_round(&g, window, MM_MSEC((mm_time_ns)timeout_ms), &res);
		qsort(res.lat_ms, res.nlat, sizeof(*res.lat_ms), cmp_d);
		report(r, &res, json, window);
		free(res.lat_ms);
	}
	for (size_t i = 0; i < g.n; i++)
		mip4_key_wipe(&g.mn[i].key);
	free(g.mn);
	free(g.index);
	free(g.txbuf);
	free(g.rxbuf);
	close(g.fd);
	return 0;
}
