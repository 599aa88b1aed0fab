/* One ESP security association, one direction (RFC 4303, RFC 4301 section 4.4.2).
 *
 * An SA holds what the per-packet code needs and nothing the caller knows better (tunnel
 * endpoints, UDP ports, traffic selectors live with the caller):
 *  - SPI, algorithm, keys: the cipher context is created and keyed once, here; per packet
 *    only the nonce/IV changes (esp.c). AEAD salt: the last 4 octets of the SA's KEYMAT
 *    piece (RFC 4106 section 8.1, RFC 7634 section 2).
 *  - outbound: the 64-bit sequence counter, which never wraps (RFC 4303 section 3.3.3);
 *    inbound: the anti-replay window (replay.h), with or without ESN.
 *  - lifetimes (RFC 4301 section 4.4.2.1): soft and hard limits by bytes, packets and
 *    seconds since the SA was added, on the caller's clock (`now`, mm_time_ns). The soft
 *    limit is the rekey trigger: it is reported exactly once (ESP_EV_SOFT), by whichever of
 *    esp_sa_poll()/esp_encap()/esp_decap() notices it first. The hard limit is a state: the
 *    SA refuses every packet from then on (-EKEYEXPIRED); its crossing is reported once too
 *    (ESP_EV_HARD). An outbound SA also soft-expires when fewer than ESP_SEQ_SOFT_MARGIN
 *    sequence numbers are left, so IKE rekeys before the counter runs out.
 * Keys are wiped when the SA is freed (EVP contexts cleanse themselves; the SA struct is
 * cleansed as a whole).
 *
 * Algorithms: the values are the IANA IKEv2 transform IDs, so the IKE layer maps them 1:1.
 *	ESP_ENCR_AES_GCM_16 (20) key_bits 128|256, ESP_INTEG_NONE        RFC 4106
 *	ESP_ENCR_CHACHA20_POLY1305 (28) key_bits 256, ESP_INTEG_NONE     RFC 7634
 *	ESP_ENCR_AES_CBC (12) key_bits 128|256, ESP_INTEG_HMAC_SHA2_256_128 (12)
 *	                                                   RFC 3602, RFC 4868 (strongSwan interop)
 * KEYMAT piece for one SA (RFC 7296 section 2.17: encryption key first, then integrity key):
 *	AEAD: key || salt(4)          AES-CBC: key || HMAC key (32 octets, RFC 4868 2.1.1)
 *
 * Errors (negative errno): -EINVAL bad configuration, -EOPNOTSUPP algorithm combination
 * not supported, -ENOMEM, -EIO (OpenSSL refused the key).
 */
#ifndef MM_ESP_ESP_SA_H
#define MM_ESP_ESP_SA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"

/* IKEv2 Transform Type 1 (encryption) IDs: RFC 7296 section 3.3.2, RFC 4106 section 10,
 * RFC 7634 section 4. */
enum esp_encr {
	ESP_ENCR_AES_CBC = 12,
	ESP_ENCR_AES_GCM_16 = 20,
	ESP_ENCR_CHACHA20_POLY1305 = 28,
};

/* IKEv2 Transform Type 3 (integrity) IDs: RFC 7296 section 3.3.2, RFC 4868 section 7.
 * AEAD transforms take none (RFC 4106 section 8.3, RFC 7634 section 2). */
enum esp_integ {
	ESP_INTEG_NONE = 0,
	ESP_INTEG_HMAC_SHA2_256_128 = 12,
};

enum esp_dir {
	ESP_DIR_OUT = 0,     /* encapsulate: sequence counter */
	ESP_DIR_IN = 1,      /* decapsulate: replay window */
};

enum esp_sa_state {
	ESP_SA_ACTIVE = 0,
	ESP_SA_SOFT_EXPIRED,  /* still usable: rekey now */
	ESP_SA_HARD_EXPIRED,  /* refuses every packet */
};

/* Non-negative results of esp_sa_poll(), esp_encap() and esp_decap(): what happened to the
 * SA's lifetime during the call. Each is reported exactly once per SA. */
enum esp_event {
	ESP_EV_NONE = 0,
	ESP_EV_SOFT = 1,      /* the soft limit was reached: start rekeying */
	ESP_EV_HARD = 2,      /* the hard limit was reached: this SA is finished */
};

/* Lifetime limits; 0 means no limit. Bytes are inner (payload) bytes: the IPv4 packets
 * that went in or came out, which is what both ends count the same way. Times run from the
 * `now` passed to esp_sa_new(). */
struct esp_lifetime {
	uint64_t soft_bytes, hard_bytes;
	uint64_t soft_packets, hard_packets;
	mm_time_ns soft_ns, hard_ns;
};

/* Outbound SAs soft-expire when fewer sequence numbers than this remain. */
#define ESP_SEQ_SOFT_MARGIN (UINT64_C(1) << 24)

struct esp_sa_config {
	uint32_t spi;              /* non-zero; RFC 4303 2.1 reserves 1-255 but we accept them */
	enum esp_dir dir;
	uint16_t encr;             /* enum esp_encr */
	uint16_t key_bits;         /* 128 or 256 (ChaCha20: 256) */
	uint16_t integ;            /* enum esp_integ */
	bool esn;                  /* extended sequence numbers (RFC 4303 2.2.1) */
	uint32_t replay_window;    /* inbound: window in packets; 0 = REPLAY_WINDOW_DEFAULT */
	/* Outbound AEAD: IV = 64-bit sequence number XOR iv_mask (RFC 4106 section 3.1 only
	 * asks that the IV be distinct per packet; a per-SA mask hides the counter, as Linux's
	 * seqiv does). 0, the usual choice, sends the counter itself. Unused for AES-CBC,
	 * whose IV must be unpredictable (RFC 3602 2.4; see esp.c). */
	uint64_t iv_mask;
	struct esp_lifetime life;
	const uint8_t *keymat;     /* copied into the cipher contexts; the caller wipes its copy */
	size_t keymat_len;         /* must equal esp_keymat_len() */
};

struct esp_sa;

/* Length of the KEYMAT piece the algorithm takes, or a negative errno (-EOPNOTSUPP for an
 * unsupported combination). */
int esp_keymat_len(uint16_t encr, uint16_t key_bits, uint16_t integ);

/* Create an SA at time `now`. On failure *out is untouched. */
int esp_sa_new(const struct esp_sa_config *cfg, mm_time_ns now, struct esp_sa **out);
/* Wipe and free (NULL is fine). */
void esp_sa_free(struct esp_sa *sa);

uint32_t esp_sa_spi(const struct esp_sa *sa);
enum esp_dir esp_sa_dir(const struct esp_sa *sa);
enum esp_sa_state esp_sa_state(const struct esp_sa *sa);
const char *esp_sa_state_name(enum esp_sa_state state);

/* Apply the time limits at `now` (byte and packet limits are applied per packet). Returns
 * ESP_EV_SOFT or ESP_EV_HARD the first time the respective limit is seen, else
 * ESP_EV_NONE. */
int esp_sa_poll(struct esp_sa *sa, mm_time_ns now);

struct esp_sa_stats {
	uint64_t packets;          /* packets encapsulated / delivered (not dummies) */
	uint64_t bytes;            /* their inner bytes */
	uint64_t seq;              /* outbound: last sequence number used; inbound: replay top */
	mm_time_ns added;
};
void esp_sa_get_stats(const struct esp_sa *sa, struct esp_sa_stats *out);
/* The seq of esp_sa_stats alone: outbound the last sequence number used (the next packet
 * gets this + 1), inbound the highest authenticated one (0: none yet). */
uint64_t esp_sa_seq(const struct esp_sa *sa);

/* Buffer space the caller leaves around the inner packet for esp_encap(): headroom for the
 * ESP header and IV; tailroom for padding, pad length, next header and ICV (at most). */
size_t esp_sa_headroom(const struct esp_sa *sa);
size_t esp_sa_tailroom(const struct esp_sa *sa);
/* Length of the ESP packet (ESP header to ICV) for an inner packet of inner_len bytes
 * (SIZE_MAX for inner_len beyond any IPv4 packet). */
size_t esp_sa_encap_len(const struct esp_sa *sa, size_t inner_len);

/* Continue from sequence state kept elsewhere (state handed over from another process;
 * tests that cannot send 2^32 packets). Outbound: seq is the last number sent; inbound: the
 * highest authenticated number, with everything at or below it counted as seen. Moves
 * forward only (-EINVAL otherwise, or above 2^32 - 1 without ESN). */
int esp_sa_resume_seq(struct esp_sa *sa, uint64_t seq);

#endif
