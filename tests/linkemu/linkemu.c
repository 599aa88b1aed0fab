/*
 * linkemu - userspace link emulator (delay, jitter, loss) on top of NFQUEUE.
 *
 * The test machines have no sch_netem, so the namespace tests steer forwarded packets
 * into an NFQUEUE (iptables-legacy ... -j NFQUEUE --queue-num N --queue-bypass) and this
 * program decides the fate of each one:
 *
 *   - with probability P (seeded splitmix64 PRNG) it is dropped at once (NF_DROP);
 *   - otherwise it is held and accepted (NF_ACCEPT) once CLOCK_MONOTONIC reaches
 *     arrival + D (+ uniform jitter in [-J, +J]); the release time never goes below the
 *     previous one, so packets are never reordered.
 *
 * Only packet ids are needed, so the queue runs in NFQNL_COPY_META mode (no payload is
 * copied). Held packets live in a preallocated FIFO ring; one absolute CLOCK_MONOTONIC
 * timerfd deadline (timer slack lowered to 1 ns) drives the releases, which gives
 * sub-millisecond precision. The queue is configured fail-open, so when the kernel queue
 * is full (or a packet cannot be delivered to this socket) packets pass rather than
 * being dropped silently; such delivery failures show up as "enobufs" in the stats.
 *
 *   linkemu --queue N [--delay-ms D] [--jitter-ms J] [--loss P] [--seed S]
 *           [--max-queue K] [--rt-prio R] [--watch-stdin]
 *
 * Once bound it prints "linkemu: ready queue=N delay_ms=D loss=P" on stdout. On SIGTERM
 * or SIGINT (or, with --watch-stdin, EOF/hangup on stdin, i.e. its launcher died) it
 * accepts every packet it still holds, unbinds and prints one JSON line with counters,
 * then exits 0. Bad arguments: message on stderr, exit 2. Runtime failure: exit 1.
 *
 * --rt-prio R (1..99) runs it as SCHED_FIFO (best effort; a warning if refused): on a
 * loaded machine ordinary scheduling delays releases by several ms, an RT thread that
 * only sleeps in poll() does not. --watch-stdin makes it exit like on SIGTERM when stdin
 * reaches EOF, so it never outlives a launcher that died without stopping it.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define NS_PER_MS      1000000ULL
#define NS_PER_SEC     1000000000ULL
#define RCVBUF_BYTES   (32 * 1024 * 1024)   /* socket receive buffer for bursts */
#define RECV_BUF_BYTES (64 * 1024)          /* one recvmsg() */
#define SEND_BUF_BYTES (64 * 1024)          /* batched verdicts per sendto() */
#define MAX_QUEUE_MAX  (1U << 24)
#define CONFIG_TIMEOUT_MS 5000
#define CONFIG_BUF_BYTES  512                /* one config request */

/* ------------------------------------------------------------------------------------ */

struct held_pkt {
	uint64_t release_ns;   /* CLOCK_MONOTONIC */
	uint32_t id;           /* NFQUEUE packet id */
};

struct options {
	unsigned queue;
	double delay_ms;
	double jitter_ms;
	double loss;
	uint64_t seed;
	uint32_t max_queue;
	int rt_prio;           /* SCHED_FIFO priority, 0 = normal scheduling */
	bool watch_stdin;
};

struct stats {
	uint64_t packets;      /* packet messages received from the kernel */
	uint64_t accepted;
	uint64_t dropped;      /* NF_DROP verdicts issued by the loss model */
	uint64_t enobufs;      /* receive overruns: packets passed fail-open, unemulated */
	uint64_t max_held;
	uint64_t overflow;     /* ring full: accepted immediately (should never happen) */
	uint64_t nl_errors;    /* error replies from the kernel to verdicts */
};

struct emu {
	struct options opt;
	struct mnl_socket *nl;
	int nl_fd;
	int timer_fd;
	int signal_fd;
	uint32_t portid;
	uint32_t seq;

	/* FIFO ring of held packets, capacity opt.max_queue */
	struct held_pkt *ring;
	uint32_t ring_cap;
	uint32_t ring_head;
	uint32_t ring_len;
	uint64_t last_release_ns;
	uint64_t armed_ns;     /* deadline currently programmed in timer_fd, 0 = disarmed */

	uint64_t delay_ns;
	uint64_t jitter_ns;
	uint64_t rng;

	/* pending verdict messages, flushed with one sendto() */
	char *sendbuf;
	size_t send_len;

	void *recvbuf;        /* malloc()ed, so suitably aligned for nlmsghdr */

	/* config request awaiting its ack */
	uint32_t wait_seq;
	bool wait_done;
	int wait_err;

	struct stats st;
};

/* ------------------------------------------------------------------------------------ */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("linkemu: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("linkemu: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nusage: linkemu --queue N [--delay-ms D] [--jitter-ms J] [--loss P] "
	      "[--seed S] [--max-queue K] [--rt-prio R] [--watch-stdin]\n", stderr);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* round to nearest without libm (the meson target links no -lm) */
static int64_t round_i64(double x)
{
	return (int64_t)(x >= 0.0 ? x + 0.5 : x - 0.5);
}

/* splitmix64: tiny, seedable, good enough statistical quality for a loss model */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform double in [0, 1) */
static double rng_unit(uint64_t *state)
{
	return (double)(rng_next(state) >> 11) * 0x1.0p-53;
}

/* ------------------------------------------------------------------------------------ */
/* argument parsing */

static double parse_double(const char *name, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
		usage_error("invalid value for %s: '%s' (expected a number)", name, s);
	if (v < lo || v > hi)
		usage_error("value for %s out of range: '%s' (allowed %g..%g)", name, s, lo, hi);
	return v;
}

static uint64_t parse_u64(const char *name, const char *s, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long v;

	if (*s == '-' || *s == '+' || *s == '\0')
		usage_error("invalid value for %s: '%s' (expected an unsigned integer)", name, s);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0')
		usage_error("invalid value for %s: '%s' (expected an unsigned integer)", name, s);
	if (v < lo || v > hi)
		usage_error("value for %s out of range: '%s' (allowed %" PRIu64 "..%" PRIu64 ")",
			    name, s, lo, hi);
	return v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_QUEUE = 256, OPT_DELAY, OPT_JITTER, OPT_LOSS, OPT_SEED, OPT_MAXQ,
	       OPT_RTPRIO, OPT_WATCH, OPT_HELP };
	static const struct option longopts[] = {
		{ "queue",       required_argument, NULL, OPT_QUEUE },
		{ "delay-ms",    required_argument, NULL, OPT_DELAY },
		{ "jitter-ms",   required_argument, NULL, OPT_JITTER },
		{ "loss",        required_argument, NULL, OPT_LOSS },
		{ "seed",        required_argument, NULL, OPT_SEED },
		{ "max-queue",   required_argument, NULL, OPT_MAXQ },
		{ "rt-prio",     required_argument, NULL, OPT_RTPRIO },
		{ "watch-stdin", no_argument,       NULL, OPT_WATCH },
		{ "help",        no_argument,       NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	bool have_queue = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->max_queue = 65536;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_QUEUE:
			o->queue = (unsigned)parse_u64("--queue", optarg, 0, 65535);
			have_queue = true;
			break;
		case OPT_DELAY:
			o->delay_ms = parse_double("--delay-ms", optarg, 0.0, 3600000.0);
			break;
		case OPT_JITTER:
			o->jitter_ms = parse_double("--jitter-ms", optarg, 0.0, 3600000.0);
			break;
		case OPT_LOSS:
			o->loss = parse_double("--loss", optarg, 0.0, 1.0);
			break;
		case OPT_SEED:
			o->seed = parse_u64("--seed", optarg, 0, UINT64_MAX);
			break;
		case OPT_MAXQ:
			o->max_queue = (uint32_t)parse_u64("--max-queue", optarg, 1, MAX_QUEUE_MAX);
			break;
		case OPT_RTPRIO:
			o->rt_prio = (int)parse_u64("--rt-prio", optarg, 0, 99);
			break;
		case OPT_WATCH:
			o->watch_stdin = true;
			break;
		case OPT_HELP:
			printf("usage: linkemu --queue N [--delay-ms D] [--jitter-ms J] [--loss P] "
			       "[--seed S] [--max-queue K] [--rt-prio R] [--watch-stdin]\n");
			exit(0);
		case ':':
			usage_error("option %s needs a value", argv[optind - 1]);
		default:
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!have_queue)
		usage_error("--queue N is required");
	if (o->jitter_ms > o->delay_ms)
		usage_error("--jitter-ms (%g) must not exceed --delay-ms (%g)",
			    o->jitter_ms, o->delay_ms);
}

/* ------------------------------------------------------------------------------------ */
/* verdicts */

static void flush_verdicts(struct emu *e)
{
	if (e->send_len == 0)
		return;
	for (;;) {
		ssize_t n = mnl_socket_sendto(e->nl, e->sendbuf, e->send_len);

		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == ENOBUFS || errno == EAGAIN) {
			/* transient memory pressure: back off a little and retry */
			struct timespec ts = { 0, 100000 };

			nanosleep(&ts, NULL);
			continue;
		}
		die("sending verdicts: %s", strerror(errno));
	}
	e->send_len = 0;
}

static void add_verdict(struct emu *e, uint32_t id, int verdict)
{
	struct nlmsghdr *nlh;

	/* a verdict message is well under 64 bytes */
	if (e->send_len + 64 > SEND_BUF_BYTES)
		flush_verdicts(e);
	nlh = nfq_nlmsg_put(e->sendbuf + e->send_len, NFQNL_MSG_VERDICT, e->opt.queue);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	e->send_len += MNL_ALIGN(nlh->nlmsg_len);

	if (verdict == NF_ACCEPT)
		e->st.accepted++;
	else
		e->st.dropped++;
}

/* ------------------------------------------------------------------------------------ */
/* hold ring and timer */

static void arm_timer(struct emu *e)
{
	uint64_t want = e->ring_len ? e->ring[e->ring_head].release_ns : 0;
	struct itimerspec its;

	if (want == e->armed_ns)
		return;
	memset(&its, 0, sizeof(its));
	if (want != 0) {
		its.it_value.tv_sec = (time_t)(want / NS_PER_SEC);
		its.it_value.tv_nsec = (long)(want % NS_PER_SEC);
	}
	if (timerfd_settime(e->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		die("timerfd_settime: %s", strerror(errno));
	e->armed_ns = want;
}

/* accept every held packet whose release time has come (all of them if force) */
static void release_due(struct emu *e, bool force)
{
	uint64_t now = now_ns();

	while (e->ring_len > 0) {
		struct held_pkt *p = &e->ring[e->ring_head];

		if (!force && p->release_ns > now)
			break;
		add_verdict(e, p->id, NF_ACCEPT);
		e->ring_head = (e->ring_head + 1) % e->ring_cap;
		e->ring_len--;
	}
}

static void handle_packet(struct emu *e, uint32_t id, uint64_t arrival_ns)
{
	uint64_t release;

	e->st.packets++;

	if (e->opt.loss > 0.0 && rng_unit(&e->rng) < e->opt.loss) {
		add_verdict(e, id, NF_DROP);
		return;
	}

	release = arrival_ns + e->delay_ns;
	if (e->jitter_ns > 0) {
		/* uniform in [-J, +J]; J <= D is enforced, so this cannot underflow */
		double j = (2.0 * rng_unit(&e->rng) - 1.0) * (double)e->jitter_ns;

		release = (uint64_t)((int64_t)release + (int64_t)round_i64(j));
	}
	if (release < e->last_release_ns)
		release = e->last_release_ns;           /* never reorder */
	e->last_release_ns = release;

	if (e->ring_len == 0 && release <= arrival_ns) {
		add_verdict(e, id, NF_ACCEPT);          /* no delay to apply */
		return;
	}
	if (e->ring_len == e->ring_cap) {
		/* cannot happen while the kernel queue maxlen equals the ring size;
		 * fail open in FIFO order rather than lose the packet */
		e->st.overflow++;
		release_due(e, true);
		add_verdict(e, id, NF_ACCEPT);
		return;
	}
	e->ring[(e->ring_head + e->ring_len) % e->ring_cap] =
		(struct held_pkt){ .release_ns = release, .id = id };
	e->ring_len++;
	if (e->ring_len > e->st.max_held)
		e->st.max_held = e->ring_len;
}

/* ------------------------------------------------------------------------------------ */
/* netlink receive path */

static void handle_nlmsg(struct emu *e, const struct nlmsghdr *nlh, uint64_t arrival_ns)
{
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
			return;
		if (e->wait_seq != 0 && nlh->nlmsg_seq == e->wait_seq) {
			e->wait_err = -err->error;
			e->wait_done = true;
		} else if (err->error != 0) {
			/* e.g. ENOENT for a verdict whose packet the kernel already let go */
			e->st.nl_errors++;
		}
		return;
	}
	if (nlh->nlmsg_type == NLMSG_NOOP || nlh->nlmsg_type == NLMSG_DONE)
		return;
	if (nlh->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) {
		struct nlattr *attr[NFQA_MAX + 1];
		const struct nfqnl_msg_packet_hdr *ph;

		memset(attr, 0, sizeof(attr));
		if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL ||
		    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(*ph)) {
			e->st.nl_errors++;
			return;
		}
		ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
		handle_packet(e, ntohl(ph->packet_id), arrival_ns);
	}
}

/* read what the socket has (bounded, so that the timer is not starved) */
static void drain_socket(struct emu *e)
{
	for (int budget = 0; budget < 4096; budget++) {
		ssize_t n = mnl_socket_recvfrom(e->nl, e->recvbuf, RECV_BUF_BYTES);
		uint64_t arrival;
		const struct nlmsghdr *nlh;
		int len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == ENOBUFS) {
				/* the kernel could not queue a packet message to us; with
				 * fail-open the packet went through unemulated */
				e->st.enobufs++;
				continue;
			}
			die("receiving from netlink: %s", strerror(errno));
		}
		arrival = now_ns();
		len = (int)n;
		for (nlh = e->recvbuf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			handle_nlmsg(e, nlh, arrival);
		/* release packets that came due meanwhile, so a long burst cannot hold
		 * back the head of the ring */
		if ((budget & 63) == 63) {
			release_due(e, false);
			flush_verdicts(e);
		}
	}
}

/* ------------------------------------------------------------------------------------ */
/* queue configuration */

static const char *config_error_hint(int err)
{
	switch (err) {
	case EBUSY:
	case EPERM:
		/* the kernel answers EPERM when another socket owns the queue */
		return " (is the queue already bound by another process? binding also "
		       "needs CAP_NET_ADMIN)";
	case ENOTSUP:
		return " (kernel lacks this nfnetlink_queue feature)";
	default:
		return "";
	}
}

/* send one config request with NLM_F_ACK and wait for its ack; packets arriving
 * meanwhile are handled normally */
static int config_request(struct emu *e, struct nlmsghdr *nlh, const char *what)
{
	uint64_t deadline = now_ns() + CONFIG_TIMEOUT_MS * NS_PER_MS;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++e->seq;
	e->wait_seq = nlh->nlmsg_seq;
	e->wait_done = false;
	e->wait_err = 0;

	if (mnl_socket_sendto(e->nl, nlh, nlh->nlmsg_len) < 0)
		die("%s: sending request: %s", what, strerror(errno));

	while (!e->wait_done) {
		struct pollfd pfd = { .fd = e->nl_fd, .events = POLLIN };
		uint64_t now = now_ns();
		int r;

		if (now >= deadline)
			die("%s: no answer from the kernel", what);
		r = poll(&pfd, 1, (int)((deadline - now) / NS_PER_MS) + 1);
		if (r < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (r > 0)
			drain_socket(e);
	}
	e->wait_seq = 0;
	return e->wait_err;
}

static void configure_queue(struct emu *e)
{
	char buf[CONFIG_BUF_BYTES];
	struct nlmsghdr *nlh;
	int err;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, e->opt.queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	err = config_request(e, nlh, "bind");
	if (err != 0)
		die("cannot bind NFQUEUE %u: %s%s", e->opt.queue, strerror(err),
		    config_error_hint(err));

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, e->opt.queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_META, 0);
	err = config_request(e, nlh, "copy mode");
	if (err != 0)
		die("cannot set copy mode META on queue %u: %s", e->opt.queue, strerror(err));

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, e->opt.queue);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, e->opt.max_queue);
	err = config_request(e, nlh, "queue maxlen");
	if (err != 0)
		die("cannot set maxlen %u on queue %u: %s", e->opt.max_queue, e->opt.queue,
		    strerror(err));

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, e->opt.queue);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_FAIL_OPEN));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	err = config_request(e, nlh, "fail-open flag");
	if (err != 0)
		die("cannot set fail-open on queue %u: %s%s", e->opt.queue, strerror(err),
		    config_error_hint(err));
}

static void unbind_queue(struct emu *e)
{
	char buf[CONFIG_BUF_BYTES];
	struct nlmsghdr *nlh;
	int err;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, e->opt.queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
	err = config_request(e, nlh, "unbind");
	if (err != 0)
		fprintf(stderr, "linkemu: unbind queue %u: %s\n", e->opt.queue, strerror(err));
}

static void open_socket(struct emu *e)
{
	int one = 1;
	int rcvbuf = RCVBUF_BYTES;
	int flags;

	e->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (e->nl == NULL)
		die("opening netlink socket: %s", strerror(errno));
	if (mnl_socket_bind(e->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		die("binding netlink socket: %s", strerror(errno));
	e->portid = mnl_socket_get_portid(e->nl);
	e->nl_fd = mnl_socket_get_fd(e->nl);

	if (setsockopt(e->nl_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0 &&
	    setsockopt(e->nl_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0)
		fprintf(stderr, "linkemu: warning: cannot raise receive buffer: %s\n",
			strerror(errno));
	/* we want ENOBUFS reported (and counted), so NETLINK_NO_ENOBUFS stays off; ask
	 * the kernel for extended acks so that config errors are explicit */
	(void)mnl_socket_setsockopt(e->nl, NETLINK_EXT_ACK, &one, sizeof(one));

	flags = fcntl(e->nl_fd, F_GETFL);
	if (flags < 0 || fcntl(e->nl_fd, F_SETFL, flags | O_NONBLOCK) != 0)
		die("fcntl O_NONBLOCK: %s", strerror(errno));
}

/* ------------------------------------------------------------------------------------ */

static void print_stats(const struct emu *e)
{
	printf("{\"queue\":%u,\"packets\":%" PRIu64 ",\"accepted\":%" PRIu64
	       ",\"dropped\":%" PRIu64 ",\"enobufs\":%" PRIu64 ",\"max_held\":%" PRIu64 "}\n",
	       e->opt.queue, e->st.packets, e->st.accepted, e->st.dropped, e->st.enobufs,
	       e->st.max_held);
	fflush(stdout);
	if (e->st.overflow != 0)
		fprintf(stderr, "linkemu: warning: %" PRIu64
			" packets accepted early because the hold ring was full\n", e->st.overflow);
	if (e->st.nl_errors != 0)
		fprintf(stderr, "linkemu: note: %" PRIu64 " netlink error replies\n",
			e->st.nl_errors);
}

int main(int argc, char **argv)
{
	struct emu e;
	sigset_t mask;
	bool stopping = false;

	memset(&e, 0, sizeof(e));
	parse_args(argc, argv, &e.opt);

	e.delay_ns = (uint64_t)round_i64(e.opt.delay_ms * (double)NS_PER_MS);
	e.jitter_ns = (uint64_t)round_i64(e.opt.jitter_ms * (double)NS_PER_MS);
	e.rng = e.opt.seed;
	e.ring_cap = e.opt.max_queue;
	e.ring = calloc(e.ring_cap, sizeof(*e.ring));
	e.sendbuf = malloc(SEND_BUF_BYTES);
	e.recvbuf = malloc(RECV_BUF_BYTES);
	if (e.ring == NULL || e.sendbuf == NULL || e.recvbuf == NULL)
		die("out of memory");

	/* timers fire as close to the deadline as the kernel can manage */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	if (e.opt.rt_prio > 0) {
		struct sched_param sp = { .sched_priority = e.opt.rt_prio };

		if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
			fprintf(stderr, "linkemu: warning: SCHED_FIFO %d refused (%s), delays may "
				"be late on a busy machine\n", e.opt.rt_prio, strerror(errno));
	}

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
		die("sigprocmask: %s", strerror(errno));
	e.signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (e.signal_fd < 0)
		die("signalfd: %s", strerror(errno));
	e.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (e.timer_fd < 0)
		die("timerfd_create: %s", strerror(errno));

	open_socket(&e);
	configure_queue(&e);
	release_due(&e, false);
	flush_verdicts(&e);
	arm_timer(&e);

	printf("linkemu: ready queue=%u delay_ms=%g loss=%g\n", e.opt.queue, e.opt.delay_ms,
	       e.opt.loss);
	if (fflush(stdout) != 0)
		die("writing to stdout: %s", strerror(errno));

	while (!stopping) {
		struct pollfd pfd[4] = {
			{ .fd = e.nl_fd, .events = POLLIN },
			{ .fd = e.timer_fd, .events = POLLIN },
			{ .fd = e.signal_fd, .events = POLLIN },
			{ .fd = e.opt.watch_stdin ? STDIN_FILENO : -1, .events = POLLIN },
		};
		int r = poll(pfd, 4, -1);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t ticks;

			if (read(e.timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				die("reading timerfd: %s", strerror(errno));
			e.armed_ns = 0;        /* one-shot: it has fired */
		}
		release_due(&e, false);
		if (pfd[0].revents & (POLLIN | POLLERR))
			drain_socket(&e);
		release_due(&e, false);
		flush_verdicts(&e);
		arm_timer(&e);

		if (pfd[2].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(e.signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				stopping = true;
		}
		if (pfd[3].revents & (POLLIN | POLLHUP | POLLERR)) {
			char junk[256];
			ssize_t n = read(STDIN_FILENO, junk, sizeof(junk));

			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				stopping = true;       /* launcher went away */
		}
	}

	/* shut down: take what is still in the socket, let everything go, unbind */
	drain_socket(&e);
	release_due(&e, true);
	flush_verdicts(&e);
	unbind_queue(&e);
	/* verdicts and packets that raced with the unbind */
	release_due(&e, true);
	flush_verdicts(&e);

	print_stats(&e);
	mnl_socket_close(e.nl);
	close(e.timer_fd);
	close(e.signal_fd);
	free(e.ring);
	free(e.sendbuf);
	free(e.recvbuf);
	return 0;
}
