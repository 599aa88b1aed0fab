/* Home agent registration benchmark (in-process, no I/O).
 *
 * (a) registrations per second of ha_engine_request() on one core (sched_setaffinity),
 *     over N (default 100,000) valid, authenticated (HMAC-MD5 MN-HA) Registration Requests
 *     from N distinct home addresses in 198.18.0.0/15, pre-encoded, each with a fresh
 *     Identification; timed with CLOCK_MONOTONIC, repeated 3 times (each round with new
 *     Identifications, so every round is a renewal that passes the replay check; round 1
 *     creates the bindings), median reported.
 * (b) resident memory (VmRSS, VmHWM from /proc/self/status) of an engine holding M
 *     (default 1,000,000) bindings from M distinct home addresses in 10.0.0.0/11 (in-process
 *     only: no packet is sent anywhere). Requests are encoded one at a time into one buffer,
 *     so the memory measured is the engine's.
 *
 * Keys: each mobile node's 16-byte secret is derived from its home address by the key
 * lookup callback (no table), SPI 0x1000 for all.
 * Usage: ha_regbench [-n N] [-m M] [-c CPU] [-r ROUNDS]
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "mip4/auth.h"
#include "mip4/ha_engine.h"
#include "mip4/ident.h"
#include "mip4/reg.h"

#define SPI 0x1000u
#define REQ_CAP 64  /* fixed 24 + MN-HA 6+16 = 46 bytes */

static void secret_for(struct in_addr hoa, uint8_t s[16])
{
	uint32_t h = ntohl(hoa.s_addr);
	for (int i = 0; i < 16; i++)
		s[i] = (uint8_t)((h >> ((i % 4) * 8)) ^ (0x5a + i * 17));
}

static int lookup(void *ctx, struct in_addr hoa, uint32_t spi, struct mip4_key *out)
{
	uint8_t s[16];
	(void)ctx;
	if (spi != SPI)
		return -ENOENT;
	secret_for(hoa, s);
	return mip4_key_set(out, spi, s, sizeof(s));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long status_kb(const char *field)
{
	char line[256];
	long v = -1;
	size_t fl = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, fl) && line[fl] == ':') {
			v = strtol(line + fl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static size_t encode(uint8_t *buf, struct in_addr hoa, struct in_addr ha, struct in_addr coa,
		     uint64_t ident)
{
	struct mip4_reg_request r;
	struct mip4_key k;
	struct writer w;
	uint8_t s[16];
	int n;

	memset(&r, 0, sizeof(r));
	r.flags = MIP4_REQ_T;
	r.lifetime = 600;
	r.home_addr = hoa;
	r.home_agent = ha;
	r.coa = coa;
	r.ident = ident;
	secret_for(hoa, s);
	if (mip4_key_set(&k, SPI, s, sizeof(s)) < 0)
		abort();
	writer_init(&w, buf, REQ_CAP);
	n = mip4_request_encode(&w, &r, &k, NULL);
	mip4_key_wipe(&k);
	if (n < 0) {
		fprintf(stderr, "encode: %s\n", strerror(-n));
		exit(1);
	}
	return (size_t)n;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct fx {
	struct fake_clock mono, wall;
	struct ha_engine_config cfg;
	struct ha_engine *ha;
};

static void fx_new(struct fx *f, const char *ha, const char *net, unsigned plen, size_t maxb)
{
	memset(f, 0, sizeof(*f));
	fake_clock_init(&f->mono, MM_SEC(1000));
	/* A fixed wall clock: pre-encoded Identifications stay inside the 7 s window however
	 * long the encoding takes; what is measured is the engine's work. */
	fake_clock_init(&f->wall, clock_realtime_ns());
	inet_pton(AF_INET, ha, &f->cfg.address);
	inet_pton(AF_INET, net, &f->cfg.home_net);
	f->cfg.home_plen = plen;
	f->cfg.max_lifetime = 600;
	f->cfg.udp = HA_UDP_ALLOW;
	f->cfg.key_lookup = lookup;
	f->cfg.clock = &f->mono.base;
	f->cfg.wall = &f->wall.base;
	f->cfg.max_bindings = maxb;
	int rc = ha_engine_new(&f->cfg, &f->ha);
	if (rc < 0) {
		fprintf(stderr, "ha_engine_new: %s\n", strerror(-rc));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	size_t n = 100000, m = 1000000;
	int cpu = 1, rounds = 3, opt;

	while ((opt = getopt(argc, argv, "n:m:c:r:")) != -1) {
		switch (opt) {
		case 'n': n = strtoul(optarg, NULL, 0); break;
		case 'm': m = strtoul(optarg, NULL, 0); break;
		case 'c': cpu = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n N] [-m M] [-c CPU] [-r ROUNDS]\n", argv[0]);
			return 2;
		}
	}
	if (rounds < 1 || rounds > 99 || n < 1 || n > 131000)
		return 2;

	/* The engine logs one line per registration at info level; log only warnings so the
	 * benchmark measures the engine, not the terminal. */
	log_set_level(LOG_LEVEL_WARNING);

	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		perror("sched_setaffinity");
		return 1;
	}

	/* ---- (a) throughput ---- */
	struct fx f;
	struct in_addr base, ha, coa;
	fx_new(&f, "198.18.0.1", "198.18.0.0", 15, 0);
	inet_pton(AF_INET, "198.18.0.0", &base);
	ha = f.cfg.address;
	inet_pton(AF_INET, "192.0.2.10", &coa);  /* care-of address: never contacted */

	uint8_t *reqs = malloc(n * REQ_CAP);
	size_t *lens = malloc(n * sizeof(*lens));
	struct ha_actions *act = malloc(sizeof(*act));
	struct ha_rx_meta meta;
	double rate[100];
	memset(&meta, 0, sizeof(meta));
	meta.src.sin_family = AF_INET;
	meta.src.sin_port = htons(434);
	meta.src.sin_addr = coa;
	meta.dst = ha;
	uint64_t ident0 = mip4_ntp_from_unix_ns(f.wall.now_ns);

	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < n; i++) {
			struct in_addr hoa = { htonl(ntohl(base.s_addr) + 2 + (uint32_t)i) };
			/* fresh, increasing per MN, within the window: + (r+1) * 2^-20 s */
			lens[i] = encode(reqs + i * REQ_CAP, hoa, ha, coa,
					 ident0 + ((uint64_t)(r + 1) << 12));
		}
		size_t ok = 0;
		double t0 = now_s();
		for (size_t i = 0; i < n; i++) {
			int rc = ha_engine_request(f.ha, reqs + i * REQ_CAP, lens[i], &meta, act);
			if (rc == 0 && act->send && (act->code == 0 || act->code == 1))
				ok++;
		}
		double dt = now_s() - t0;
		if (ok != n) {
			fprintf(stderr, "round %d: only %zu of %zu accepted\n", r + 1, ok, n);
			return 1;
		}
		rate[r] = (double)n / dt;
		printf("round %d: %zu registrations accepted in %.3f s = %.0f registrations/s%s\n",
		       r + 1, n, dt, rate[r], r == 0 ? " (new bindings)" : " (renewals)");
	}
	qsort(rate, (size_t)rounds, sizeof(rate[0]), cmp_d);
	printf("RESULT regs_per_s_median %.0f (n=%zu, cpu=%d, rounds=%d)\n", rate[rounds / 2], n,
	       cpu, rounds);
	ha_engine_free(f.ha);
	free(reqs);
	free(lens);

	/* ---- (b) memory ---- */
	if (m) {
		long rss0 = status_kb("VmRSS");
		uint8_t buf[REQ_CAP];
		struct in_addr base2;
		fx_new(&f, "10.0.0.1", "10.0.0.0", 11, m);  /* 2M addresses: room for 1M MNs */
		inet_pton(AF_INET, "10.0.0.0", &base2);
		ident0 = mip4_ntp_from_unix_ns(f.wall.now_ns);
		meta.dst = f.cfg.address;
		size_t ok = 0;
		for (size_t i = 0; i < m; i++) {
			struct in_addr hoa = { htonl(ntohl(base2.s_addr) + 2 + (uint32_t)i) };
			size_t len = encode(buf, hoa, f.cfg.address, coa, ident0 + 4096);
			if (ha_engine_request(f.ha, buf, len, &meta, act) == 0 && act->code <= 1)
				ok++;
		}
		size_t bound = 0;
		for (size_t i = 0; i < m; i++) {
			struct in_addr hoa = { htonl(ntohl(base2.s_addr) + 2 + (uint32_t)i) };
			bound += ha_engine_lookup(f.ha, hoa) != NULL;
		}
		long rss1 = status_kb("VmRSS"), hwm = status_kb("VmHWM");
		printf("memory: %zu registrations accepted, %zu bindings active\n", ok, bound);
		printf("memory: VmRSS before engine %.1f MB, with %zu bindings %.1f MB (engine %.1f MB), VmHWM %.1f MB\n",
		       rss0 / 1024.0, bound, rss1 / 1024.0, (rss1 - rss0) / 1024.0, hwm / 1024.0);
		printf("RESULT rss_mb_%zu_bindings %.1f (process VmRSS; engine delta %.1f; VmHWM %.1f)\n",
		       bound, rss1 / 1024.0, (rss1 - rss0) / 1024.0, hwm / 1024.0);
		ha_engine_free(f.ha);
	}
	free(act);
	return 0;
}
