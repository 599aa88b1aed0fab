/* ESP packet processing, tunnel mode, in place (RFC 4303 sections 2, 3.3, 3.4).
 *
 * esp_encap() turns the inner IPv4 packet at buf[off, off+len) into the ESP packet
 * (SPI to ICV) at buf[off', off'+len'), off' = off - esp_sa_headroom(): the packet as it
 * goes into a UDP payload (RFC 3948) or an IP payload (protocol 50). The caller leaves
 * esp_sa_headroom() bytes before the inner packet and up to esp_sa_tailroom() after it.
 * esp_decap() does the reverse and leaves off/len on the inner packet. Nothing is allocated
 * and every byte is touched once by the cipher.
 *
 *	AEAD (AES-GCM-16 RFC 4106, ChaCha20-Poly1305 RFC 7634):
 *	  SPI | Seq | IV(8) | ciphertext(payload | padding | pad length | next header) | ICV(16)
 *	  nonce = salt(4) | IV; IV = 64-bit sequence number (XOR the SA's iv_mask)
 *	  AAD = SPI | Seq, or SPI | Seq-high | Seq-low with ESN (RFC 4106 section 5,
 *	        RFC 7634 section 2.1)
 *	AES-CBC + HMAC-SHA2-256-128 (RFC 3602, RFC 4868):
 *	  SPI | Seq | IV(16) | ciphertext | ICV(16)
 *	  ICV = first 16 octets of HMAC over SPI | Seq | IV | ciphertext (| Seq-high with ESN,
 *	        the implicit trailer of RFC 4303 section 2.2.1)
 *	Padding: 1, 2, 3, ... (RFC 4303 2.4) up to a multiple of 4 (AEAD) or 16 (CBC) for
 *	payload + pad length + next header.
 *
 * Decapsulation order (RFC 4303 section 3.4): SPI and Sequence Number through the reader,
 * anti-replay check (3.4.3, before any cryptography), ICV verification, decryption, the
 * replay window update (only now that the sequence number is authentic), padding check
 * (the receiver SHOULD inspect it, 2.4: we require 1, 2, 3, ...), next header: 4 (IPv4) is
 * delivered; 59 is a dummy packet (2.6), to be discarded without prejudice (-ENOMSG: a
 * drop reason of its own, not an error; dummies do not count towards lifetimes); anything
 * else is refused. Then lifetime accounting.
 *
 * Return values: >= 0 success, the value is an enum esp_event (esp_sa.h) to act on (rekey
 * on ESP_EV_SOFT); < 0 a negative errno, one per reason, and esp_drop_reason() turns it into
 * an enum esp_drop for counters and logs:
 *	-EBADMSG          ESP_DROP_MALFORMED     too short, ciphertext not a whole number of
 *	                                         blocks, larger than an IPv4 datagram
 *	-ENOENT           ESP_DROP_UNKNOWN_SPI   SPI is not this SA's (the caller's lookup uses
 *	                                         the same reason)
 *	-EALREADY         ESP_DROP_REPLAY        duplicate inside the window
 *	-ESTALE           ESP_DROP_REPLAY_OLD    left of the window
 *	-EKEYREJECTED     ESP_DROP_AUTH          ICV did not verify
 *	-EILSEQ           ESP_DROP_BAD_PADDING   pad length too large or padding not 1, 2, 3..
 *	-EPROTONOSUPPORT  ESP_DROP_BAD_NEXT_HEADER  next header not 4 (or 59)
 *	-ENOMSG           ESP_DROP_DUMMY         next header 59: discard silently (2.6)
 *	-EKEYEXPIRED      ESP_DROP_EXPIRED       the SA reached its hard lifetime
 *	-EOVERFLOW        ESP_DROP_SEQ_EXHAUSTED encap: the sequence number would cycle (3.3.3)
 *	-ENOSPC           ESP_DROP_NO_ROOM       encap: not enough headroom or tailroom
 *	-EMSGSIZE         ESP_DROP_TOO_BIG       encap: the ESP packet would exceed
 *	                                         ESP_PACKET_MAX
 *	-EINVAL           ESP_DROP_INVALID       bad arguments (NULL, wrong SA direction, next
 *	                                         header other than 4/59 for encap)
 *	-EIO              ESP_DROP_CRYPTO        OpenSSL failed (never expected)
 * On failure pkt->off/len are untouched but the buffer contents are not: decapsulation
 * decrypts in place before it can see a bad pad, so the bytes may be plaintext or garbage.
 */
#ifndef MM_ESP_ESP_H
#define MM_ESP_ESP_H

#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"
#include "esp/esp_sa.h"

#define ESP_HDR_LEN 8           /* SPI + Sequence Number */
#define ESP_NH_IPV4 4           /* next header: IPv4 (tunnel mode) */
#define ESP_NH_NONE 59          /* next header: dummy packet (RFC 4303 2.6) */
/* The largest ESP packet that fits in an IPv4 datagram inside UDP (65535 - 20 - 8). */
#define ESP_PACKET_MAX 65507u
/* Upper bounds of esp_sa_headroom()/esp_sa_tailroom() over all algorithms, for buffer
 * layouts fixed before the SA exists: 8 + 16 (CBC IV); 15 + 2 + 16. */
#define ESP_HEADROOM_MAX 24u
#define ESP_TAILROOM_MAX 33u

/* A packet inside a caller-owned buffer: data at buf[off, off+len), cap bytes in all. */
struct esp_pkt {
	uint8_t *buf;
	size_t cap;
	size_t off;
	size_t len;
};

/* Mutable pointer to the packet's data (the iovec for sendmmsg / write), through the
 * bounds-checked writer. Returns 0, or -EINVAL if off/len do not fit in cap. */
int esp_pkt_data(const struct esp_pkt *pkt, uint8_t **data);

/* Encapsulate the inner packet (next_header ESP_NH_IPV4, or ESP_NH_NONE for a dummy
 * packet of any content) with the next sequence number. */
int esp_encap(struct esp_sa *sa, struct esp_pkt *pkt, uint8_t next_header, mm_time_ns now);

/* Decapsulate one ESP packet (SPI first) received for this inbound SA. */
int esp_decap(struct esp_sa *sa, struct esp_pkt *pkt, mm_time_ns now);

/* The SPI of an ESP packet, for the caller's SA lookup: 0, or -EBADMSG if the packet is
 * shorter than an ESP header. */
int esp_peek_spi(const void *pkt, size_t len, uint32_t *spi);

enum esp_drop {
	ESP_DROP_NONE = 0,
	ESP_DROP_MALFORMED,
	ESP_DROP_UNKNOWN_SPI,
	ESP_DROP_REPLAY,
	ESP_DROP_REPLAY_OLD,
	ESP_DROP_AUTH,
	ESP_DROP_BAD_PADDING,
	ESP_DROP_BAD_NEXT_HEADER,
	ESP_DROP_DUMMY,
	ESP_DROP_EXPIRED,
	ESP_DROP_SEQ_EXHAUSTED,
	ESP_DROP_NO_ROOM,
	ESP_DROP_TOO_BIG,
	ESP_DROP_INVALID,
	ESP_DROP_CRYPTO,
	ESP_DROP_COUNT
};

/* The reason for a return value of esp_encap()/esp_decap() (ESP_DROP_NONE for >= 0; an
 * errno not in the table above maps to ESP_DROP_INVALID). */
enum esp_drop esp_drop_reason(int rc);
/* "replay", "auth-failed", ... (stable words for logs and counters). */
const char *esp_drop_name(enum esp_drop reason);

#endif
