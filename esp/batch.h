/* Batches of ESP packets for the user-space data path: N packet buffers with room for
 * the ESP header in front and the trailer behind, allocated once, plus the mmsghdr/iovec
 * arrays of a struct sock_batch (common/sock.h), so a daemon moves a whole batch with one
 * recvmmsg/sendmmsg and nothing is allocated per packet.
 *
 * This file does no I/O: the daemon makes the system calls (sock_recv4_batch,
 * sock_send4_batch on b->sock; read/write on its TUN) and calls these functions between
 * them.
 *
 * Outbound (TUN -> UDP 4500):
 *	for i in 0..k: esp_batch_inner(b, i, &p, &room); n = read(tun, p, room);
 *	               esp_batch_set_inner(b, i, n);
 *	esp_batch_encap(b, k, sa, &peer, now);        -> b->sock holds the ESP packets
 *	sock_send4_batch(fd, &b->sock, first) until all are sent
 * Inbound (UDP 4500 -> TUN):
 *	sock_recv4_batch(fd, &b->sock);
 *	esp_batch_decap(b, lookup, ctx, now);
 *	for i in 0..b->sock.count: kind[i] ESP and rc[i] >= 0 -> write esp_pkt_data(&pkt[i]);
 *	               kind[i] IKE -> pkt[i] is the IKE message (marker removed)
 * The results stay per slot (rc[], kind[]) so the daemon counts drops by reason
 * (esp_drop_reason) and can see who sent what (b->sock.slot[i].meta).
 */
#ifndef MM_ESP_BATCH_H
#define MM_ESP_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/sock.h"
#include "esp/esp.h"
#include "esp/esp_sa.h"
#include "esp/udpencap.h"

#define ESP_BATCH_MAX SOCK_BATCH_MAX

struct esp_batch {
	unsigned n;                          /* slots */
	size_t bufsize;                      /* bytes per slot buffer */
	uint8_t *bufs;                       /* n * bufsize, allocated by esp_batch_init */
	struct esp_pkt pkt[ESP_BATCH_MAX];   /* per slot: the packet in its buffer */
	int rc[ESP_BATCH_MAX];               /* per slot: result of the last encap/decap */
	uint8_t kind[ESP_BATCH_MAX];         /* per slot (decap): enum udpencap_kind */
	int event;                           /* highest enum esp_event of the last call */
	struct sock_batch sock;              /* recvmmsg/sendmmsg arrays over bufs */
};

/* SA lookup for the inbound side: the SA for this SPI, or NULL (dropped as unknown SPI). */
typedef struct esp_sa *(*esp_batch_lookup_fn)(void *ctx, uint32_t spi);

/* n slots (1..ESP_BATCH_MAX) of bufsize bytes each; bufsize must hold at least the ESP
 * headroom and tailroom plus one byte, and at most 65535 + those. Returns 0, -EINVAL or
 * -ENOMEM. */
int esp_batch_init(struct esp_batch *b, unsigned n, size_t bufsize);
void esp_batch_free(struct esp_batch *b);

/* Largest inner packet a slot takes. */
size_t esp_batch_inner_room(const struct esp_batch *b);
/* Where slot i's inner packet goes (after ESP_HEADROOM_MAX bytes) and how much fits. */
int esp_batch_inner(struct esp_batch *b, unsigned i, uint8_t **data, size_t *room);
/* Slot i holds an inner packet of len bytes (from esp_batch_inner). -EINVAL if too long. */
int esp_batch_set_inner(struct esp_batch *b, unsigned i, size_t len);

/* Encapsulate slots 0..count with sa, in order (sequence numbers follow slot order). The
 * packets that succeeded are put into b->sock, in order, addressed to peer (source and
 * interface left to the kernel), and b->sock.count is their number, which is returned. Per
 * slot results in rc[]; b->event is the highest event. */
int esp_batch_encap(struct esp_batch *b, unsigned count, struct esp_sa *sa,
		    const struct sockaddr_in *peer, mm_time_ns now);

/* Classify and decapsulate what sock_recv4_batch() left in b->sock (slots 0..count):
 * truncated datagrams are malformed; ESP goes to lookup(spi)'s SA; IKE payloads lose their
 * marker (pkt[i] is the IKE message); keepalives are marked and ignored. Returns the number
 * of inner packets ready to deliver. */
int esp_batch_decap(struct esp_batch *b, esp_batch_lookup_fn lookup, void *ctx,
		    mm_time_ns now);

#endif
