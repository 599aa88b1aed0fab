/* ESP SA: keys, pre-initialised cipher contexts, sequence state, lifetimes (esp_sa.h). */
#include "esp/esp_sa.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "esp/esp_sa_priv.h"

int esp_keymat_len(uint16_t encr, uint16_t key_bits, uint16_t integ)
{
	switch (encr) {
	case ESP_ENCR_AES_GCM_16:
		if (integ != ESP_INTEG_NONE || (key_bits != 128 && key_bits != 256))
			return -EOPNOTSUPP;
		return key_bits / 8 + ESP_SALT_LEN;        /* RFC 4106 section 8.1 */
	case ESP_ENCR_CHACHA20_POLY1305:
		if (integ != ESP_INTEG_NONE || key_bits != 256)
			return -EOPNOTSUPP;
		return 32 + ESP_SALT_LEN;                   /* RFC 7634 section 2 */
	case ESP_ENCR_AES_CBC:
		if (integ != ESP_INTEG_HMAC_SHA2_256_128 || (key_bits != 128 && key_bits != 256))
			return -EOPNOTSUPP;
		return key_bits / 8 + ESP_HMAC_SHA256_KEY_LEN; /* RFC 3602 + RFC 4868 2.1.1 */
	}
	return -EOPNOTSUPP;
}

static const char *cipher_name(uint16_t encr, uint16_t key_bits)
{
	switch (encr) {
	case ESP_ENCR_AES_GCM_16:
		return key_bits == 128 ? "AES-128-GCM" : "AES-256-GCM";
	case ESP_ENCR_CHACHA20_POLY1305:
		return "ChaCha20-Poly1305";
	case ESP_ENCR_AES_CBC:
		return key_bits == 128 ? "AES-128-CBC" : "AES-256-CBC";
	}
	return NULL;
}

/* Key the cipher context once. Per packet esp.c only passes a new IV (EVP_CipherInit_ex
 * with NULL cipher and key keeps the key schedule). */
static int cipher_setup(struct esp_sa *sa, const uint8_t *key)
{
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, cipher_name(sa->encr, sa->key_bits), NULL);
	int enc = sa->dir == ESP_DIR_OUT;
	int ok;

	if (!c)
		return -EIO;
	sa->cipher = EVP_CIPHER_CTX_new();
	ok = sa->cipher && EVP_CipherInit_ex(sa->cipher, c, NULL, NULL, NULL, enc) == 1;
	/* The nonce is salt || IV, 12 octets, the AEAD default; set it explicitly anyway. */
	if (ok && sa->aead)
		ok = EVP_CIPHER_CTX_ctrl(sa->cipher, EVP_CTRL_AEAD_SET_IVLEN,
					 ESP_SALT_LEN + ESP_AEAD_IV_LEN, NULL) == 1;
	if (ok)
		ok = EVP_CipherInit_ex(sa->cipher, NULL, NULL, key, NULL, enc) == 1;
	/* ESP padding is ours (RFC 4303 2.4), never PKCS#7. */
	if (ok && !sa->aead)
		ok = EVP_CIPHER_CTX_set_padding(sa->cipher, 0) == 1;
	EVP_CIPHER_free(c);
	return ok ? 0 : -EIO;
}

static int mac_setup(struct esp_sa *sa, const uint8_t *key)
{
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[2];
	int ok;

	if (!m)
		return -EIO;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	sa->mac = EVP_MAC_CTX_new(m);
	ok = sa->mac && EVP_MAC_init(sa->mac, key, ESP_HMAC_SHA256_KEY_LEN, params) == 1;
	EVP_MAC_free(m);
	return ok ? 0 : -EIO;
}

int esp_sa_new(const struct esp_sa_config *cfg, mm_time_ns now, struct esp_sa **out)
{
	struct esp_sa *sa;
	int klen, rc;

	if (!cfg || !out || cfg->spi == 0 || (!cfg->keymat && cfg->keymat_len))
		return -EINVAL;
	if (cfg->dir != ESP_DIR_OUT && cfg->dir != ESP_DIR_IN)
		return -EINVAL;
	klen = esp_keymat_len(cfg->encr, cfg->key_bits, cfg->integ);
	if (klen < 0)
		return klen;
	if (cfg->keymat_len != (size_t)klen)
		return -EINVAL;
	sa = calloc(1, sizeof(*sa));
	if (!sa)
		return -ENOMEM;
	sa->spi = cfg->spi;
	sa->dir = (uint8_t)cfg->dir;
	sa->state = ESP_SA_ACTIVE;
	sa->encr = cfg->encr;
	sa->key_bits = cfg->key_bits;
	sa->integ = cfg->integ;
	sa->esn = cfg->esn;
	sa->aead = cfg->encr != ESP_ENCR_AES_CBC;
	sa->iv_len = sa->aead ? ESP_AEAD_IV_LEN : ESP_CBC_IV_LEN;
	sa->block = sa->aead ? 4 : 16;
	sa->iv_mask = cfg->iv_mask;
	sa->seq_max = cfg->esn ? UINT64_MAX : UINT32_MAX;
	sa->life = cfg->life;
	sa->added = now;

	if (sa->dir == ESP_DIR_IN) {
		rc = replay_init(&sa->replay, cfg->replay_window, cfg->esn);
		if (rc < 0)
			goto fail;
	}
	if (sa->aead) {
		/* KEYMAT = key || salt (RFC 4106 8.1, RFC 7634 2). */
		size_t keylen = (size_t)klen - ESP_SALT_LEN;

		memcpy(sa->salt, cfg->keymat + keylen, ESP_SALT_LEN);
		rc = cipher_setup(sa, cfg->keymat);
	} else {
		/* KEYMAT = encryption key || integrity key (RFC 7296 2.17). */
		rc = cipher_setup(sa, cfg->keymat);
		if (rc == 0)
			rc = mac_setup(sa, cfg->keymat + cfg->key_bits / 8);
	}
	if (rc < 0)
		goto fail;
	*out = sa;
	return 0;
fail:
	esp_sa_free(sa);
	return rc;
}

void esp_sa_free(struct esp_sa *sa)
{
	if (!sa)
		return;
	EVP_CIPHER_CTX_free(sa->cipher);   /* cleanses the key schedule */
	EVP_MAC_CTX_free(sa->mac);         /* cleanses the HMAC pads */
	replay_free(&sa->replay);
	OPENSSL_cleanse(sa, sizeof(*sa));  /* salt, sequence state */
	free(sa);
}

uint32_t esp_sa_spi(const struct esp_sa *sa)
{
	return sa->spi;
}

enum esp_dir esp_sa_dir(const struct esp_sa *sa)
{
	return (enum esp_dir)sa->dir;
}

enum esp_sa_state esp_sa_state(const struct esp_sa *sa)
{
	return (enum esp_sa_state)sa->state;
}

const char *esp_sa_state_name(enum esp_sa_state state)
{
	switch (state) {
	case ESP_SA_ACTIVE:
		return "active";
	case ESP_SA_SOFT_EXPIRED:
		return "soft-expired";
	case ESP_SA_HARD_EXPIRED:
		return "hard-expired";
	}
	return "?";
}

/* The state only moves forward: active -> soft -> hard. */
static void raise_state(struct esp_sa *sa, enum esp_sa_state to)
{
	if (to > sa->state)
		sa->state = (uint8_t)to;
}

/* The event for a state not reported yet (each once; a hard expiry makes soft moot). */
static int report(struct esp_sa *sa)
{
	if (sa->state == ESP_SA_HARD_EXPIRED && !sa->hard_reported) {
		sa->hard_reported = true;
		sa->soft_reported = true;
		return ESP_EV_HARD;
	}
	if (sa->state == ESP_SA_SOFT_EXPIRED && !sa->soft_reported) {
		sa->soft_reported = true;
		return ESP_EV_SOFT;
	}
	return ESP_EV_NONE;
}

static bool reached(uint64_t value, uint64_t limit)
{
	return limit != 0 && value >= limit;
}

static enum esp_sa_state time_state(const struct esp_sa *sa, mm_time_ns now)
{
	mm_time_ns age = now > sa->added ? now - sa->added : 0;

	if (reached(age, sa->life.hard_ns))
		return ESP_SA_HARD_EXPIRED;
	if (reached(age, sa->life.soft_ns))
		return ESP_SA_SOFT_EXPIRED;
	return ESP_SA_ACTIVE;
}

int esp_sa_poll(struct esp_sa *sa, mm_time_ns now)
{
	if (!sa)
		return -EINVAL;
	raise_state(sa, time_state(sa, now));
	return report(sa);
}

/* The gate reports nothing: a packet it lets through may still be dropped (replay, bad
 * ICV), and an event returned with an error would be lost. Events go out with the next
 * accepted packet (esp_sa_account) or the next poll. */
int esp_sa_gate(struct esp_sa *sa, mm_time_ns now)
{
	raise_state(sa, time_state(sa, now));
	return sa->state == ESP_SA_HARD_EXPIRED ? -EKEYEXPIRED : 0;
}

int esp_sa_account(struct esp_sa *sa, size_t inner_bytes)
{
	sa->packets++;
	sa->bytes += inner_bytes;
	if (reached(sa->packets, sa->life.hard_packets) || reached(sa->bytes, sa->life.hard_bytes))
		raise_state(sa, ESP_SA_HARD_EXPIRED);
	else if (reached(sa->packets, sa->life.soft_packets) ||
		 reached(sa->bytes, sa->life.soft_bytes) ||
		 (sa->dir == ESP_DIR_OUT && sa->seq_max - sa->seq < ESP_SEQ_SOFT_MARGIN))
		raise_state(sa, ESP_SA_SOFT_EXPIRED);
	return report(sa);
}

void esp_sa_get_stats(const struct esp_sa *sa, struct esp_sa_stats *out)
{
	out->packets = sa->packets;
	out->bytes = sa->bytes;
	out->seq = sa->dir == ESP_DIR_OUT ? sa->seq : replay_top(&sa->replay);
	out->added = sa->added;
}

uint64_t esp_sa_seq(const struct esp_sa *sa)
{
	return sa->dir == ESP_DIR_OUT ? sa->seq : replay_top(&sa->replay);
}

size_t esp_sa_headroom(const struct esp_sa *sa)
{
	return 8 + sa->iv_len;
}

size_t esp_sa_tailroom(const struct esp_sa *sa)
{
	return (size_t)(sa->block - 1) + 2 + ESP_ICV_LEN;
}

size_t esp_sa_encap_len(const struct esp_sa *sa, size_t inner_len)
{
	size_t plain;
	size_t padded;

	if (inner_len > ESP_INNER_LEN_LIMIT)
		return SIZE_MAX;   /* no ESP packet that large exists; keep the sum from wrapping */
	plain = inner_len + 2;   /* + pad length + next header */
	padded = (plain + sa->block - 1) / sa->block * sa->block;

	return 8 + sa->iv_len + padded + ESP_ICV_LEN;
}

int esp_sa_resume_seq(struct esp_sa *sa, uint64_t seq)
{
	if (!sa)
		return -EINVAL;
	if (sa->dir == ESP_DIR_IN)
		return replay_resume(&sa->replay, seq);
	if (seq < sa->seq || seq > sa->seq_max)
		return -EINVAL;
	sa->seq = seq;
	return 0;
}
