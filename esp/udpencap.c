/* UDP encapsulation of ESP (RFC 3948), see udpencap.h. */
#include "esp/udpencap.h"

#include <errno.h>

#include "esp/esp.h"

enum udpencap_kind udpencap_classify(const void *payload, size_t len, struct udpencap_msg *out)
{
	struct udpencap_msg m = { .kind = UDPENCAP_INVALID };
	struct reader r;
	uint8_t first;
	uint32_t head;

	reader_init(&r, payload, len);
	if (len == 1 && reader_peek_u8(&r, &first) && first == UDPENCAP_KEEPALIVE_BYTE) {
		/* RFC 3948 2.3: one octet 0xFF. */
		m.kind = UDPENCAP_KEEPALIVE;
		m.off = 1;
	} else if (reader_be32(&r, &head)) {
		if (head == 0) {
			/* 2.2: Non-ESP Marker; the IKE message is what follows (at least one
			 * octet: the IKE layer checks its header). */
			if (reader_remaining(&r) > 0) {
				m.kind = UDPENCAP_IKE;
				m.off = UDPENCAP_MARKER_LEN;
				m.len = reader_remaining(&r);
			}
		} else if (len >= ESP_HDR_LEN) {
			/* 2.1: a non-zero SPI. */
			m.kind = UDPENCAP_ESP;
			m.off = 0;
			m.len = len;
			m.spi = head;
		}
	}
	if (out)
		*out = m;
	return m.kind;
}

int udpencap_keepalive(struct writer *w)
{
	if (!w || !writer_u8(w, UDPENCAP_KEEPALIVE_BYTE))
		return -ENOSPC;
	return 1;
}

int udpencap_marker(struct writer *w)
{
	if (!w || writer_room(w) < UDPENCAP_MARKER_LEN)
		return -ENOSPC;
	writer_be32(w, 0);
	return UDPENCAP_MARKER_LEN;
}

int udpencap_ike(struct writer *w, const void *ike, size_t len)
{
	if (!w || !ike || len == 0 || len > UINT16_MAX)
		return -EINVAL;
	if (writer_room(w) < UDPENCAP_MARKER_LEN || writer_room(w) - UDPENCAP_MARKER_LEN < len)
		return -ENOSPC;
	writer_be32(w, 0);
	writer_bytes(w, ike, len);
	return writer_ok(w) ? (int)(UDPENCAP_MARKER_LEN + len) : -ENOSPC;
}
