/* UDP encapsulation of ESP (RFC 3948): what arrives on UDP port 4500, and what we send.
 *
 * One socket on 4500 carries three kinds of payload (RFC 3948 section 2):
 *	ESP packet        the first 4 octets are the SPI, never zero (2.1)
 *	IKE message       behind a Non-ESP Marker of 4 zero octets (2.2)
 *	NAT-keepalive     exactly one octet, 0xFF (2.3); the receiver ignores it
 * Anything else (an empty payload, 1-3 octets that are not a keepalive, a marker with no
 * message behind it) is invalid and dropped. Only the UDP payload is handled here: the UDP
 * checksum is the socket's business (SHOULD be sent as zero, 2.1/2.3; receivers must not
 * depend on it).
 */
#ifndef MM_ESP_UDPENCAP_H
#define MM_ESP_UDPENCAP_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define UDPENCAP_PORT 4500          /* RFC 3948 section 2, RFC 7296 section 2.23 */
#define UDPENCAP_MARKER_LEN 4       /* Non-ESP Marker */
#define UDPENCAP_KEEPALIVE_BYTE 0xffu

enum udpencap_kind {
	UDPENCAP_INVALID = 0,
	UDPENCAP_ESP,
	UDPENCAP_IKE,
	UDPENCAP_KEEPALIVE,
};

/* Where the message inside a UDP payload starts and how long it is: the ESP packet is the
 * whole payload (off 0); the IKE message follows the marker (off 4); a keepalive has none
 * (off 1, len 0). */
struct udpencap_msg {
	enum udpencap_kind kind;
	size_t off;
	size_t len;
	uint32_t spi;       /* ESP only */
};

/* Classify a UDP payload received on port 4500. Returns the kind (also in *out). An ESP
 * packet must hold at least SPI and Sequence Number (8 octets) to be called ESP; shorter
 * non-zero payloads are invalid. */
enum udpencap_kind udpencap_classify(const void *payload, size_t len, struct udpencap_msg *out);

/* Write a NAT-keepalive payload (one octet 0xFF). Returns 1 or -ENOSPC. */
int udpencap_keepalive(struct writer *w);

/* Write the Non-ESP Marker followed by the IKE message (for IKE on port 4500). Returns the
 * bytes written, -EINVAL (NULL, empty, or longer than 65535 octets) or -ENOSPC (nothing
 * is written then). */
int udpencap_ike(struct writer *w, const void *ike, size_t len);

/* Write only the marker, for callers that send the IKE message from its own buffer (a
 * second iovec). Returns 4 or -ENOSPC. */
int udpencap_marker(struct writer *w);

#endif
