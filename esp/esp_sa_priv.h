/* Inside of struct esp_sa, shared by esp_sa.c and esp.c only (not a public header). */
#ifndef MM_ESP_ESP_SA_PRIV_H
#define MM_ESP_ESP_SA_PRIV_H

#include <openssl/evp.h>

#include "esp/esp_sa.h"
#include "esp/replay.h"

#define ESP_SALT_LEN 4
#define ESP_AEAD_IV_LEN 8     /* RFC 4106 section 3.1, RFC 7634 section 2 */
#define ESP_CBC_IV_LEN 16     /* RFC 3602 section 3 */
#define ESP_ICV_LEN 16        /* GCM-16, Poly1305, HMAC-SHA2-256-128 */
#define ESP_HMAC_SHA256_KEY_LEN 32
#define ESP_HMAC_SHA256_LEN 32
#define ESP_INNER_LEN_LIMIT 0x10000u /* beyond any IPv4 packet: callers get SIZE_MAX */

struct esp_sa {
	uint32_t spi;
	uint8_t dir;              /* enum esp_dir */
	uint8_t state;            /* enum esp_sa_state */
	bool aead;                /* GCM or ChaCha20-Poly1305; else AES-CBC + HMAC */
	bool esn;
	bool soft_reported, hard_reported;
	uint8_t iv_len;
	uint8_t block;            /* plaintext alignment: 4 (AEAD), 16 (CBC) */
	uint16_t encr, key_bits, integ;
	uint8_t salt[ESP_SALT_LEN];
	uint64_t iv_mask;
	uint64_t seq;             /* outbound: last sequence number sent (0: none yet) */
	uint64_t seq_max;         /* outbound: last sequence number allowed (3.3.3) */
	struct replay replay;     /* inbound */
	EVP_CIPHER_CTX *cipher;   /* keyed once; encrypt (out) or decrypt (in) */
	EVP_MAC_CTX *mac;         /* AES-CBC only: HMAC-SHA-256, keyed once */
	struct esp_lifetime life;
	mm_time_ns added;
	uint64_t packets, bytes;
};

/* Per-packet lifetime gate and accounting, used by esp.c. */

/* Before a packet: -EKEYEXPIRED if the SA is (or at `now` becomes) hard-expired; else the
 * event to report (ESP_EV_SOFT once when the soft time limit is passed, else NONE). */
int esp_sa_gate(struct esp_sa *sa, mm_time_ns now);
/* After a packet was accepted: count it; returns the event to report (combined with the
 * gate's). */
int esp_sa_account(struct esp_sa *sa, size_t inner_bytes);

#endif
