/* User-space ESP throughput on one core (in-process, no I/O): esp_encap() and esp_decap()
 * from esp/esp.h, per algorithm, for inner packets of 64, 512 and 1400 octets.
 *
 * encap: one buffer, the same inner packet encapsulated again and again (the sequence
 *        counter advances, so every packet gets its own nonce as in real use).
 * decap: packets are produced in rounds of ROUND by an outbound SA (not timed) and then the
 *        whole round is decapsulated by the inbound SA (timed), in order, so every packet
 *        passes the replay window and the ICV check as in real use.
 * Both run until -t seconds of timed work; ESN on, lifetimes off, 4096-packet window.
 * Reported: inner Mbit/s (10^6 bits of inner packets per second) and packets/s. Timing is
 * around whole batches of ROUND packets, by default with CLOCK_THREAD_CPUTIME_ID: the CPU
 * time this thread got, so the figures stay meaningful on a machine shared with other work
 * (a wall clock counts the time the scheduler gave to others). -w times with
 * CLOCK_MONOTONIC instead, for an idle machine. The process can be pinned to one CPU (-c).
 *
 * Usage: esp_bench [-t SECONDS_PER_CASE] [-c CPU] [-a ALGO] [-w]
 *	ALGO: gcm128 gcm256 chacha cbc128 cbc256 (default: all)
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "esp/esp.h"
#include "esp/esp_sa.h"

#define ROUND 4096
#define SLOT 2048
#define HEAD ESP_HEADROOM_MAX

struct algo {
	const char *name;
	uint16_t encr, bits, integ;
};

static const struct algo algos[] = {
	{ "gcm128", ESP_ENCR_AES_GCM_16, 128, ESP_INTEG_NONE },
	{ "gcm256", ESP_ENCR_AES_GCM_16, 256, ESP_INTEG_NONE },
	{ "chacha", ESP_ENCR_CHACHA20_POLY1305, 256, ESP_INTEG_NONE },
	{ "cbc128", ESP_ENCR_AES_CBC, 128, ESP_INTEG_HMAC_SHA2_256_128 },
	{ "cbc256", ESP_ENCR_AES_CBC, 256, ESP_INTEG_HMAC_SHA2_256_128 },
};

static const size_t sizes[] = { 64, 512, 1400 };

static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(bench_clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct esp_sa *mk(const struct algo *a, enum esp_dir dir)
{
	uint8_t km[64];
	struct esp_sa_config c = {
		.spi = 0x12345678, .dir = dir, .encr = a->encr, .key_bits = a->bits,
		.integ = a->integ, .esn = true, .keymat = km,
	};
	struct esp_sa *sa = NULL;
	int klen = esp_keymat_len(a->encr, a->bits, a->integ);
	int rc;

	for (size_t i = 0; i < sizeof(km); i++)
		km[i] = (uint8_t)(i * 29 + 3);
	c.keymat_len = (size_t)klen;
	rc = esp_sa_new(&c, 0, &sa);
	if (rc < 0) {
		fprintf(stderr, "esp_sa_new %s: %s\n", a->name, strerror(-rc));
		exit(1);
	}
	return sa;
}

static void fill_inner(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + 1);
	p[0] = 0x45;
}

static double bench_encap(const struct algo *a, size_t len, double secs, double *pps)
{
	struct esp_sa *out = mk(a, ESP_DIR_OUT);
	uint8_t *buf = aligned_alloc(64, SLOT);
	uint64_t n = 0;
	double t0, t;

	fill_inner(&buf[HEAD], len);
	t0 = now_s();
	do {
		for (int i = 0; i < ROUND; i++) {
			struct esp_pkt p = { .buf = buf, .cap = SLOT, .off = HEAD, .len = len };

			if (esp_encap(out, &p, ESP_NH_IPV4, 0) < 0) {
				fprintf(stderr, "encap failed\n");
				exit(1);
			}
		}
		n += ROUND;
		t = now_s() - t0;
	} while (t < secs);
	esp_sa_free(out);
	free(buf);
	*pps = (double)n / t;
	return *pps * (double)len * 8 / 1e6;
}

static double bench_decap(const struct algo *a, size_t len, double secs, double *pps)
{
	struct esp_sa *out = mk(a, ESP_DIR_OUT), *in = mk(a, ESP_DIR_IN);
	uint8_t *bufs = aligned_alloc(64, (size_t)ROUND * SLOT);
	struct esp_pkt *pk = calloc(ROUND, sizeof(*pk));
	uint64_t n = 0;
	double timed = 0;

	while (timed < secs) {
		double t0;

		for (int i = 0; i < ROUND; i++) {
			pk[i] = (struct esp_pkt){ .buf = &bufs[(size_t)i * SLOT], .cap = SLOT,
						  .off = HEAD, .len = len };
			fill_inner(&pk[i].buf[HEAD], len);
			if (esp_encap(out, &pk[i], ESP_NH_IPV4, 0) < 0) {
				fprintf(stderr, "encap failed\n");
				exit(1);
			}
		}
		t0 = now_s();
		for (int i = 0; i < ROUND; i++) {
			if (esp_decap(in, &pk[i], 0) < 0 || pk[i].len != len) {
				fprintf(stderr, "decap failed\n");
				exit(1);
			}
		}
		timed += now_s() - t0;
		n += ROUND;
	}
	esp_sa_free(out);
	esp_sa_free(in);
	free(bufs);
	free(pk);
	*pps = (double)n / timed;
	return *pps * (double)len * 8 / 1e6;
}

int main(int argc, char **argv)
{
	double secs = 5;
	const char *only = NULL;
	int cpu = -1, opt;

	while ((opt = getopt(argc, argv, "t:c:a:w")) != -1) {
		switch (opt) {
		case 't':
			secs = atof(optarg);
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		case 'a':
			only = optarg;
			break;
		case 'w':
			bench_clock = CLOCK_MONOTONIC;
			break;
		default:
			fprintf(stderr, "usage: %s [-t SECONDS] [-c CPU] [-a ALGO] [-w]\n", argv[0]);
			return 2;
		}
	}
	if (secs <= 0) {
		fprintf(stderr, "-t must be positive\n");
		return 2;
	}
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			perror("sched_setaffinity");
			return 1;
		}
	}
	printf("# esp_bench: %.1f s of %s time per case, one core%s, ESN on\n", secs,
	       bench_clock == CLOCK_MONOTONIC ? "wall-clock" : "thread CPU",
	       cpu >= 0 ? " (pinned)" : "");
	printf("%-8s %6s  %12s %12s  %12s %12s\n", "algo", "inner", "encap Mbit/s", "encap pkt/s",
	       "decap Mbit/s", "decap pkt/s");
	for (size_t ai = 0; ai < sizeof(algos) / sizeof(algos[0]); ai++) {
		if (only && strcmp(only, algos[ai].name) != 0)
			continue;
		for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
			double epps, dpps;
			double em = bench_encap(&algos[ai], sizes[si], secs, &epps);
			double dm = bench_decap(&algos[ai], sizes[si], secs, &dpps);

			printf("%-8s %6zu  %12.0f %12.0f  %12.0f %12.0f\n", algos[ai].name,
			       sizes[si], em, epps, dm, dpps);
			fflush(stdout);
		}
	}
	return 0;
}
