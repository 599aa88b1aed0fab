/* Batches of ESP packets over one buffer arena and a struct sock_batch (see batch.h). */
#include "esp/batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define ARENA_ALIGN 64   /* cache lines: buffers do not share one */

int esp_batch_init(struct esp_batch *b, unsigned n, size_t bufsize)
{
	size_t size;
	uint8_t *bufs;
	int rc;

	if (!b || n == 0 || n > ESP_BATCH_MAX)
		return -EINVAL;
	if (bufsize < ESP_HEADROOM_MAX + ESP_TAILROOM_MAX + 1 ||
	    bufsize > 0xffff + ESP_HEADROOM_MAX + ESP_TAILROOM_MAX)
		return -EINVAL;
	/* Round each buffer up to whole cache lines so every slot starts aligned. */
	bufsize = (bufsize + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
	size = (size_t)n * bufsize;
	bufs = aligned_alloc(ARENA_ALIGN, size);
	if (!bufs)
		return -ENOMEM;
	memset(bufs, 0, size);
	memset(b, 0, sizeof(*b));
	rc = sock_batch_init(&b->sock, bufs, n, bufsize);
	if (rc < 0) {
		free(bufs);
		return rc;
	}
	b->n = n;
	b->bufsize = bufsize;
	b->bufs = bufs;
	/* sock_batch_init has carved the arena: slot i's buffer is sock.slot[i].data. */
	for (unsigned i = 0; i < n; i++)
		b->pkt[i] = (struct esp_pkt){ .buf = b->sock.slot[i].data, .cap = bufsize };
	return 0;
}

void esp_batch_free(struct esp_batch *b)
{
	if (!b || !b->bufs)
		return;
	/* Plaintext of packets passed through here. */
	OPENSSL_cleanse(b->bufs, (size_t)b->n * b->bufsize);
	free(b->bufs);
	b->bufs = NULL;
	b->n = 0;
}

size_t esp_batch_inner_room(const struct esp_batch *b)
{
	return b->bufsize - ESP_HEADROOM_MAX - ESP_TAILROOM_MAX;
}

int esp_batch_inner(struct esp_batch *b, unsigned i, uint8_t **data, size_t *room)
{
	struct esp_pkt p;

	if (!b || i >= b->n || !data || !room)
		return -EINVAL;
	p = b->pkt[i];
	p.off = ESP_HEADROOM_MAX;
	p.len = esp_batch_inner_room(b);
	if (esp_pkt_data(&p, data) < 0)
		return -EINVAL;
	*room = p.len;
	return 0;
}

int esp_batch_set_inner(struct esp_batch *b, unsigned i, size_t len)
{
	if (!b || i >= b->n || len > esp_batch_inner_room(b))
		return -EINVAL;
	b->pkt[i].off = ESP_HEADROOM_MAX;
	b->pkt[i].len = len;
	return 0;
}

int esp_batch_encap(struct esp_batch *b, unsigned count, struct esp_sa *sa,
		    const struct sockaddr_in *peer, mm_time_ns now)
{
	unsigned out = 0;

	if (!b || !sa || !peer || count > b->n)
		return -EINVAL;
	b->event = ESP_EV_NONE;
	for (unsigned i = 0; i < count; i++) {
		struct sock_batch_slot *s;
		uint8_t *data;
		int rc = esp_encap(sa, &b->pkt[i], ESP_NH_IPV4, now);

		if (rc >= 0 && esp_pkt_data(&b->pkt[i], &data) < 0)
			rc = -EINVAL;
		b->rc[i] = rc;
		if (rc < 0)
			continue;
		if (rc > b->event)
			b->event = rc;
		/* Send slots are filled in order, skipping failures; a send slot may point into
		 * any buffer (sock.h), and the next receive re-points them. */
		s = &b->sock.slot[out++];
		s->data = data;
		s->len = b->pkt[i].len;
		memset(&s->meta, 0, sizeof(s->meta));
		s->meta.peer = *peer;
	}
	b->sock.count = out;
	return (int)out;
}

int esp_batch_decap(struct esp_batch *b, esp_batch_lookup_fn lookup, void *ctx,
		    mm_time_ns now)
{
	int delivered = 0;

	if (!b || !lookup || b->sock.count > b->n)
		return -EINVAL;
	b->event = ESP_EV_NONE;
	for (unsigned i = 0; i < b->sock.count; i++) {
		const struct sock_batch_slot *s = &b->sock.slot[i];
		struct esp_pkt *p = &b->pkt[i];
		struct udpencap_msg m;
		struct esp_sa *sa;
		int rc;

		/* sock_recv4_batch receives slot i into buffer i. */
		p->off = 0;
		p->len = s->len <= p->cap ? s->len : 0;
		b->kind[i] = UDPENCAP_INVALID;
		if (s->data != p->buf) {
			b->rc[i] = -EINVAL;     /* not what sock_recv4_batch left here */
			continue;
		}
		if (s->truncated || s->len > p->cap) {
			b->rc[i] = -EBADMSG;    /* its tail is gone: never parse it (sock.h) */
			continue;
		}
		b->kind[i] = (uint8_t)udpencap_classify(s->data, s->len, &m);
		switch (m.kind) {
		case UDPENCAP_ESP:
			sa = lookup(ctx, m.spi);
			rc = sa ? esp_decap(sa, p, now) : -ENOENT;
			if (rc >= 0) {
				delivered++;
				if (rc > b->event)
					b->event = rc;
			}
			break;
		case UDPENCAP_IKE:
			p->off = m.off;
			p->len = m.len;
			rc = 0;
			break;
		case UDPENCAP_KEEPALIVE:
			p->len = 0;
			rc = 0;
			break;
		default:
			rc = -EBADMSG;
			break;
		}
		b->rc[i] = rc;
	}
	return delivered;
}
