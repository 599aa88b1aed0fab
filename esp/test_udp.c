/* Unit tests for esp/udpencap.c (RFC 3948 sections 2.1-2.3: what arrives on UDP 4500) and
 * esp/batch.c (a batch of ESP packets through a real UDP socket pair on loopback with
 * sendmmsg/recvmmsg, then decapsulated, in order and intact; keepalive, IKE and garbage
 * datagrams in the same receive batch are sorted out). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/sock.h"
#include "esp/batch.h"
#include "esp/esp.h"
#include "esp/udpencap.h"
#include "tests/unit/tap.h"

static void test_classify(void)
{
	static const uint8_t keepalive[1] = { 0xff };
	static const uint8_t not_keepalive[1] = { 0xfe };
	static const uint8_t two_ff[2] = { 0xff, 0xff };
	static const uint8_t marker_only[4] = { 0, 0, 0, 0 };
	static const uint8_t ike[4 + 28] = { 0, 0, 0, 0, 0x11, 0x22 };   /* marker + IKE header */
	static const uint8_t esp[8] = { 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 1 };
	static const uint8_t esp_ff[8] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1 };
	static const uint8_t short_esp[7] = { 0x01, 0x02, 0x03, 0x04, 0, 0, 0 };
	struct udpencap_msg m;

	CHECK_EQ_U64(udpencap_classify(keepalive, 1, &m), UDPENCAP_KEEPALIVE);
	CHECK_EQ_U64(m.kind, UDPENCAP_KEEPALIVE);
	CHECK_EQ_U64(m.len, 0);
	CHECK_EQ_U64(udpencap_classify(not_keepalive, 1, &m), UDPENCAP_INVALID);
	CHECK_EQ_U64(udpencap_classify(two_ff, 2, &m), UDPENCAP_INVALID);
	CHECK_EQ_U64(udpencap_classify(NULL, 0, &m), UDPENCAP_INVALID);
	CHECK_EQ_U64(udpencap_classify(keepalive, 0, &m), UDPENCAP_INVALID);
	CHECK_EQ_U64(udpencap_classify(NULL, 5, &m), UDPENCAP_INVALID);
	CHECK_EQ_U64(udpencap_classify(marker_only, 4, &m), UDPENCAP_INVALID);
	CHECK_EQ_U64(udpencap_classify(ike, sizeof(ike), &m), UDPENCAP_IKE);
	CHECK_EQ_U64(m.off, 4);
	CHECK_EQ_U64(m.len, 28);
	CHECK_EQ_U64(udpencap_classify(ike, 5, &m), UDPENCAP_IKE);
	CHECK_EQ_U64(m.len, 1);
	CHECK_EQ_U64(udpencap_classify(esp, sizeof(esp), &m), UDPENCAP_ESP);
	CHECK_EQ_U64(m.off, 0);
	CHECK_EQ_U64(m.len, 8);
	CHECK_EQ_U64(m.spi, 0x01020304);
	/* A payload starting with 0xff is ESP once it is longer than one octet. */
	CHECK_EQ_U64(udpencap_classify(esp_ff, sizeof(esp_ff), &m), UDPENCAP_ESP);
	CHECK_EQ_U64(m.spi, 0xffffffffu);
	CHECK_EQ_U64(udpencap_classify(short_esp, sizeof(short_esp), &m), UDPENCAP_INVALID);
	CHECK_EQ_U64(udpencap_classify(esp, 3, NULL), UDPENCAP_INVALID);
	CHECK_EQ_U64(UDPENCAP_PORT, 4500);
}

static void test_build(void)
{
	uint8_t out[64], ike[40];
	struct writer w;

	writer_init(&w, out, 1);
	CHECK_EQ_U64(udpencap_keepalive(&w), 1);
	CHECK_EQ_U64(writer_len(&w), 1);
	CHECK_EQ_U64(out[0], 0xff);
	CHECK_EQ_U64(udpencap_keepalive(&w), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(udpencap_classify(out, 1, NULL), UDPENCAP_KEEPALIVE);

	memset(ike, 0x2b, sizeof(ike));
	memset(out, 0xee, sizeof(out));
	writer_init(&w, out, sizeof(out));
	CHECK_EQ_U64(udpencap_ike(&w, ike, sizeof(ike)), 44);
	CHECK_MEM(out, "\0\0\0\0", 4);
	CHECK_MEM(&out[4], ike, sizeof(ike));
	CHECK_EQ_U64(udpencap_classify(out, 44, NULL), UDPENCAP_IKE);
	/* Does not fit: nothing written. */
	writer_init(&w, out, 43);
	CHECK_EQ_U64(udpencap_ike(&w, ike, sizeof(ike)), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(writer_len(&w), 0);
	writer_init(&w, out, 3);
	CHECK_EQ_U64(udpencap_ike(&w, ike, sizeof(ike)), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(udpencap_marker(&w), (uint64_t)-ENOSPC);
	CHECK_EQ_U64(udpencap_ike(&w, ike, 0), (uint64_t)-EINVAL);
	CHECK_EQ_U64(udpencap_ike(&w, NULL, 4), (uint64_t)-EINVAL);
	writer_init(&w, out, 4);
	CHECK_EQ_U64(udpencap_marker(&w), 4);
	CHECK_EQ_U64(writer_len(&w), 4);
}

/* --- batches over loopback ------------------------------------------------------------------ */

#define SPI_A 0x0a0a0a0au
#define SPI_B 0x0b0b0b0bu

struct sa_table {
	struct esp_sa *a, *b;
};

static struct esp_sa *lookup(void *ctx, uint32_t spi)
{
	struct sa_table *t = ctx;

	if (spi == SPI_A)
		return t->a;
	if (spi == SPI_B)
		return t->b;
	return NULL;
}

static struct esp_sa *sa_for(uint32_t spi, enum esp_dir dir)
{
	uint8_t km[36];
	struct esp_sa_config c = {
		.spi = spi, .dir = dir, .encr = ESP_ENCR_AES_GCM_16, .key_bits = 256,
		.integ = ESP_INTEG_NONE, .esn = true, .keymat = km, .keymat_len = sizeof(km),
	};
	struct esp_sa *sa = NULL;

	for (size_t i = 0; i < sizeof(km); i++)
		km[i] = (uint8_t)(spi + i);
	return esp_sa_new(&c, 0, &sa) == 0 ? sa : NULL;
}

/* One recvmmsg once something is pending. Loopback queues a datagram on the receiving
 * socket during sendmsg itself, so everything sent before is there for this one call. */
static int recv_batch(int fd, struct esp_batch *b)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, 2000) != 1)
		return -ETIMEDOUT;
	return sock_recv4_batch(fd, &b->sock);
}

static void test_batch_loopback(void)
{
	struct sockaddr_in lo = {
		.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct sockaddr_in addr_rx;
	struct sa_table rx_sas;
	struct esp_sa *tx_a = sa_for(SPI_A, ESP_DIR_OUT);
	struct esp_batch *tx = calloc(1, sizeof(*tx)), *rx = calloc(1, sizeof(*rx));
	uint8_t inner[40][1400];
	size_t lens[40];
	int fd_tx, fd_rx, n, sent = 0, bad = 0, got;
	unsigned count = 40;

	rx_sas.a = sa_for(SPI_A, ESP_DIR_IN);
	rx_sas.b = sa_for(SPI_B, ESP_DIR_IN);
	CHECK(tx_a && rx_sas.a && rx_sas.b && tx && rx);
	CHECK_EQ_U64(esp_batch_init(tx, 0, 2048), (uint64_t)-EINVAL);
	CHECK_EQ_U64(esp_batch_init(tx, ESP_BATCH_MAX + 1, 2048), (uint64_t)-EINVAL);
	CHECK_EQ_U64(esp_batch_init(tx, 8, ESP_HEADROOM_MAX + ESP_TAILROOM_MAX), (uint64_t)-EINVAL);
	CHECK_EQ_U64(esp_batch_init(tx, 48, 2000), 0);
	CHECK_EQ_U64(esp_batch_init(rx, 48, 2000), 0);
	CHECK_EQ_U64(tx->bufsize, 2048);   /* rounded up to cache lines */
	CHECK_EQ_U64(esp_batch_inner_room(tx), 2048 - ESP_HEADROOM_MAX - ESP_TAILROOM_MAX);

	fd_tx = sock_udp4_open(&lo, 0);
	fd_rx = sock_udp4_open(&lo, 0);
	CHECK(fd_tx >= 0 && fd_rx >= 0);
	CHECK_EQ_U64(sock_local4(fd_rx, &addr_rx), 0);

	/* 40 inner packets of different sizes, read "from the TUN" straight into the slots. */
	for (unsigned i = 0; i < count; i++) {
		uint8_t *slot;
		size_t room;

		lens[i] = 20 + (i * 97) % 1381;
		for (size_t k = 0; k < lens[i]; k++)
			inner[i][k] = (uint8_t)(i * 31 + k);
		CHECK_LOOP(esp_batch_inner(tx, i, &slot, &room) == 0 && room >= lens[i], bad);
		memcpy(slot, inner[i], lens[i]);
		CHECK_LOOP(esp_batch_set_inner(tx, i, lens[i]) == 0, bad);
	}
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(esp_batch_set_inner(tx, 0, esp_batch_inner_room(tx) + 1), (uint64_t)-EINVAL);
	CHECK_EQ_U64(esp_batch_inner(tx, 48, NULL, NULL), (uint64_t)-EINVAL);

	n = esp_batch_encap(tx, count, tx_a, &addr_rx, 0);
	CHECK_EQ_U64(n, count);
	CHECK_EQ_U64(tx->sock.count, count);
	CHECK_EQ_U64(tx->event, ESP_EV_NONE);
	while (sent < n) {
		int k = sock_send4_batch(fd_tx, &tx->sock, (unsigned)sent);

		if (k <= 0)
			break;
		sent += k;
	}
	CHECK_EQ_U64(sent, count);

	got = 0;
	bad = 0;
	while (got < (int)count) {
		int k = recv_batch(fd_rx, rx);

		if (k <= 0)
			break;
		n = esp_batch_decap(rx, lookup, &rx_sas, 0);
		CHECK_LOOP(n == k, bad);
		for (int i = 0; i < k; i++) {
			uint8_t *data;

			CHECK_LOOP(rx->kind[i] == UDPENCAP_ESP && rx->rc[i] == 0, bad);
			CHECK_LOOP(esp_pkt_data(&rx->pkt[i], &data) == 0 &&
				   rx->pkt[i].len == lens[got + i] &&
				   memcmp(data, inner[got + i], lens[got + i]) == 0, bad);
			CHECK_LOOP(rx->sock.slot[i].meta.peer.sin_addr.s_addr ==
				   lo.sin_addr.s_addr, bad);
		}
		got += k;
	}
	CHECK_EQ_U64(got, count);
	CHECK_EQ_U64(bad, 0);

	/* A mixed receive batch: keepalive, IKE behind the marker, ESP for an unknown SPI,
	 * garbage, a replayed ESP packet (slot 0 of the send batch again), a fresh one. */
	{
		static const uint8_t ka[1] = { 0xff }, junk[3] = { 1, 2, 3 };
		uint8_t ikemsg[4 + 30] = { 0 }, unknown[60];
		const uint8_t *replay = tx->sock.slot[0].data;
		size_t replay_len = tx->sock.slot[0].len;
		uint8_t replay_copy[2048];

		memcpy(replay_copy, replay, replay_len);
		memset(&ikemsg[4], 0x21, 30);
		memset(unknown, 0x77, sizeof(unknown));
		sock_send4(fd_tx, ka, sizeof(ka), &addr_rx, NULL, 0);
		sock_send4(fd_tx, ikemsg, sizeof(ikemsg), &addr_rx, NULL, 0);
		sock_send4(fd_tx, unknown, sizeof(unknown), &addr_rx, NULL, 0);
		sock_send4(fd_tx, junk, sizeof(junk), &addr_rx, NULL, 0);
		sock_send4(fd_tx, replay_copy, replay_len, &addr_rx, NULL, 0);
		/* one fresh packet */
		esp_batch_set_inner(tx, 0, lens[1]);
		{
			uint8_t *slot;
			size_t room;

			esp_batch_inner(tx, 0, &slot, &room);
			memcpy(slot, inner[1], lens[1]);
		}
		CHECK_EQ_U64(esp_batch_encap(tx, 1, tx_a, &addr_rx, 0), 1);
		CHECK_EQ_U64(sock_send4_batch(fd_tx, &tx->sock, 0), 1);

		CHECK_EQ_U64(recv_batch(fd_rx, rx), 6);
		CHECK_EQ_U64(rx->sock.count, 6);
		CHECK_EQ_U64(esp_batch_decap(rx, lookup, &rx_sas, 0), 1);
		CHECK_EQ_U64(rx->kind[0], UDPENCAP_KEEPALIVE);
		CHECK_EQ_U64(rx->rc[0], 0);
		CHECK_EQ_U64(rx->kind[1], UDPENCAP_IKE);
		CHECK_EQ_U64(rx->rc[1], 0);
		CHECK_EQ_U64(rx->pkt[1].off, 4);
		CHECK_EQ_U64(rx->pkt[1].len, 30);
		CHECK_EQ_U64(rx->kind[2], UDPENCAP_ESP);
		CHECK_EQ_U64(rx->rc[2], (uint64_t)-ENOENT);
		CHECK_EQ_U64(esp_drop_reason(rx->rc[2]), ESP_DROP_UNKNOWN_SPI);
		CHECK_EQ_U64(rx->kind[3], UDPENCAP_INVALID);
		CHECK_EQ_U64(rx->rc[3], (uint64_t)-EBADMSG);
		CHECK_EQ_U64(rx->kind[4], UDPENCAP_ESP);
		CHECK_EQ_U64(rx->rc[4], (uint64_t)-EALREADY);
		CHECK_EQ_U64(rx->kind[5], UDPENCAP_ESP);
		CHECK_EQ_U64(rx->rc[5], 0);
		CHECK_EQ_U64(rx->pkt[5].len, lens[1]);
	}

	close(fd_tx);
	close(fd_rx);
	esp_batch_free(tx);
	esp_batch_free(rx);
	esp_batch_free(rx);   /* twice is harmless */
	free(tx);
	free(rx);
	esp_sa_free(tx_a);
	esp_sa_free(rx_sas.a);
	esp_sa_free(rx_sas.b);
}

int main(void)
{
	test_classify();
	test_build();
	test_batch_loopback();
	return tap_done();
}
