/* ESP encapsulation and decapsulation in place (see esp.h for layouts and the error list).
 *
 * Every packet byte is reached through common/buf.h: the caller's buffer is wrapped in a
 * writer whose first off+len bytes count as written, and the regions the cipher works on
 * come from writer_view(). Per packet the only OpenSSL work is: new nonce/IV into the
 * already keyed context, AAD, one in-place pass over the payload, tag.
 */
#include "esp/esp.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/buf.h"
#include "esp/esp_sa_priv.h"

/* A writer over the packet's buffer with buf[0, off+len) already "written", so the header
 * before the data and the data itself can be viewed and patched in place, and the trailer
 * appended after it. */
static bool pkt_writer(const struct esp_pkt *pkt, struct writer *w)
{
	if (!pkt->buf || pkt->off > pkt->cap || pkt->len > pkt->cap - pkt->off)
		return false;
	writer_init_filled(w, pkt->buf, pkt->cap, pkt->off + pkt->len);
	return true;
}

int esp_pkt_data(const struct esp_pkt *pkt, uint8_t **data)
{
	struct writer w;

	if (!pkt || !data || !pkt_writer(pkt, &w) || !writer_view(&w, pkt->off, pkt->len, data))
		return -EINVAL;
	return 0;
}

int esp_peek_spi(const void *pkt, size_t len, uint32_t *spi)
{
	struct reader r;
	uint32_t v, seq;

	reader_init(&r, pkt, len);
	if (!reader_be32(&r, &v) || !reader_be32(&r, &seq))
		return -EBADMSG;
	*spi = v;
	return 0;
}

/* AAD (RFC 4106 section 5, RFC 7634 section 2.1): SPI | Seq, or SPI | Seq-high | Seq-low. */
static size_t build_aad(const struct esp_sa *sa, uint64_t seq, uint8_t aad[12])
{
	struct writer a;

	writer_init(&a, aad, 12);
	writer_be32(&a, sa->spi);
	if (sa->esn)
		writer_be32(&a, (uint32_t)(seq >> 32));
	writer_be32(&a, (uint32_t)seq);
	return writer_len(&a);
}

/* Nonce = salt | 8-octet IV (RFC 4106 section 4, RFC 7634 section 2). */
static void build_nonce(const struct esp_sa *sa, const uint8_t iv[ESP_AEAD_IV_LEN],
			uint8_t nonce[ESP_SALT_LEN + ESP_AEAD_IV_LEN])
{
	struct writer n;

	writer_init(&n, nonce, ESP_SALT_LEN + ESP_AEAD_IV_LEN);
	writer_bytes(&n, sa->salt, ESP_SALT_LEN);
	writer_bytes(&n, iv, ESP_AEAD_IV_LEN);
}

/* --- AEAD ------------------------------------------------------------------------------ */

/* Header and trailer are in place; encrypt [start + 16, + plen) and write the ICV after. */
static int aead_seal(struct esp_sa *sa, struct writer *w, size_t start, uint64_t seq,
		     size_t plen)
{
	uint8_t nonce[ESP_SALT_LEN + ESP_AEAD_IV_LEN], aad[12], tail[16];
	uint8_t *iv, *ct, *icv;
	uint64_t ivv = seq ^ sa->iv_mask;
	size_t aad_len = build_aad(sa, seq, aad);
	int outl, tl;

	/* RFC 4106 3.1: the IV must be distinct per packet; the sequence number is. */
	writer_patch_be32(w, start + ESP_HDR_LEN, (uint32_t)(ivv >> 32));
	writer_patch_be32(w, start + ESP_HDR_LEN + 4, (uint32_t)ivv);
	if (!writer_view(w, start + ESP_HDR_LEN, ESP_AEAD_IV_LEN, &iv) ||
	    !writer_view(w, start + ESP_HDR_LEN + ESP_AEAD_IV_LEN, plen, &ct) ||
	    !writer_view(w, start + ESP_HDR_LEN + ESP_AEAD_IV_LEN + plen, ESP_ICV_LEN, &icv))
		return -EIO;
	build_nonce(sa, iv, nonce);
	if (EVP_EncryptInit_ex(sa->cipher, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(sa->cipher, NULL, &outl, aad, (int)aad_len) != 1 ||
	    EVP_EncryptUpdate(sa->cipher, ct, &outl, ct, (int)plen) != 1 ||
	    (size_t)outl != plen ||
	    EVP_EncryptFinal_ex(sa->cipher, tail, &tl) != 1 || tl != 0 ||
	    EVP_CIPHER_CTX_ctrl(sa->cipher, EVP_CTRL_AEAD_GET_TAG, ESP_ICV_LEN, icv) != 1)
		return -EIO;
	return 0;
}

static int aead_open(struct esp_sa *sa, struct writer *w, size_t start, uint64_t seq,
		     size_t plen)
{
	uint8_t nonce[ESP_SALT_LEN + ESP_AEAD_IV_LEN], aad[12], tail[16];
	uint8_t *iv, *ct, *icv;
	size_t aad_len = build_aad(sa, seq, aad);
	int outl, tl;

	if (!writer_view(w, start + ESP_HDR_LEN, ESP_AEAD_IV_LEN, &iv) ||
	    !writer_view(w, start + ESP_HDR_LEN + ESP_AEAD_IV_LEN, plen, &ct) ||
	    !writer_view(w, start + ESP_HDR_LEN + ESP_AEAD_IV_LEN + plen, ESP_ICV_LEN, &icv))
		return -EIO;
	build_nonce(sa, iv, nonce);
	if (EVP_DecryptInit_ex(sa->cipher, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(sa->cipher, NULL, &outl, aad, (int)aad_len) != 1 ||
	    EVP_DecryptUpdate(sa->cipher, ct, &outl, ct, (int)plen) != 1 ||
	    (size_t)outl != plen ||
	    EVP_CIPHER_CTX_ctrl(sa->cipher, EVP_CTRL_AEAD_SET_TAG, ESP_ICV_LEN, icv) != 1)
		return -EIO;
	/* The tag is checked here; nothing decrypted is used unless it matches. */
	if (EVP_DecryptFinal_ex(sa->cipher, tail, &tl) != 1 || tl != 0)
		return -EKEYREJECTED;
	return 0;
}

/* --- AES-CBC + HMAC-SHA2-256-128 ---------------------------------------------------- */

/* ICV (RFC 4868 2.1, RFC 4303 2.2.1 and 3.3.2): HMAC-SHA-256 over SPI | Seq | IV |
 * ciphertext, then the implicit Seq-high with ESN; the first 16 octets. */
static int cbc_icv(struct esp_sa *sa, struct writer *w, size_t start, uint64_t seq,
		   size_t plen, uint8_t out[ESP_ICV_LEN])
{
	uint8_t full[ESP_HMAC_SHA256_LEN], seqh[4], *covered;
	size_t covered_len = ESP_HDR_LEN + ESP_CBC_IV_LEN + plen, outl;
	struct writer hw;
	int ok;

	if (!writer_view(w, start, covered_len, &covered))
		return -EIO;
	ok = EVP_MAC_init(sa->mac, NULL, 0, NULL) == 1 &&  /* NULL key: same key, fresh state */
	     EVP_MAC_update(sa->mac, covered, covered_len) == 1;
	if (ok && sa->esn) {
		writer_init(&hw, seqh, sizeof(seqh));
		writer_be32(&hw, (uint32_t)(seq >> 32));
		ok = EVP_MAC_update(sa->mac, seqh, sizeof(seqh)) == 1;
	}
	ok = ok && EVP_MAC_final(sa->mac, full, &outl, sizeof(full)) == 1 &&
	     outl == ESP_HMAC_SHA256_LEN;
	if (ok)
		memcpy(out, full, ESP_ICV_LEN);
	OPENSSL_cleanse(full, sizeof(full));
	return ok ? 0 : -EIO;
}

/* The IV must be unpredictable (RFC 3602 section 2.4). It is E_K(nonce block), the
 * construction of NIST SP 800-38A appendix C, with the nonce block = 64-bit sequence
 * number | SPI | 0, unique per SA. Done in the same single CBC pass: the nonce block sits
 * in the IV slot just before the plaintext, and CBC with a zero IV over nonce | plaintext
 * produces E_K(nonce) in the IV slot followed by exactly CBC_IV(plaintext). */
static int cbc_seal(struct esp_sa *sa, struct writer *w, size_t start, uint64_t seq,
		    size_t plen)
{
	static const uint8_t zero_iv[ESP_CBC_IV_LEN];
	size_t ivo = start + ESP_HDR_LEN;
	uint8_t icv[ESP_ICV_LEN], *blk;
	int outl, rc;

	writer_patch_be32(w, ivo, (uint32_t)(seq >> 32));
	writer_patch_be32(w, ivo + 4, (uint32_t)seq);
	writer_patch_be32(w, ivo + 8, sa->spi);
	writer_patch_be32(w, ivo + 12, 0);
	if (!writer_view(w, ivo, ESP_CBC_IV_LEN + plen, &blk))
		return -EIO;
	if (EVP_EncryptInit_ex(sa->cipher, NULL, NULL, NULL, zero_iv) != 1 ||
	    EVP_EncryptUpdate(sa->cipher, blk, &outl, blk, (int)(ESP_CBC_IV_LEN + plen)) != 1 ||
	    (size_t)outl != ESP_CBC_IV_LEN + plen)
		return -EIO;
	rc = cbc_icv(sa, w, start, seq, plen, icv);
	if (rc < 0)
		return rc;
	return writer_patch_bytes(w, ivo + ESP_CBC_IV_LEN + plen, icv, ESP_ICV_LEN) ? 0 : -EIO;
}

/* Encrypt-then-MAC: the ICV is checked before a single byte is decrypted. */
static int cbc_open(struct esp_sa *sa, struct writer *w, size_t start, uint64_t seq,
		    size_t plen)
{
	size_t ivo = start + ESP_HDR_LEN;
	uint8_t icv[ESP_ICV_LEN], *iv, *ct, *rx_icv;
	int outl, rc;

	if (!writer_view(w, ivo, ESP_CBC_IV_LEN, &iv) ||
	    !writer_view(w, ivo + ESP_CBC_IV_LEN, plen, &ct) ||
	    !writer_view(w, ivo + ESP_CBC_IV_LEN + plen, ESP_ICV_LEN, &rx_icv))
		return -EIO;
	rc = cbc_icv(sa, w, start, seq, plen, icv);
	if (rc < 0)
		return rc;
	if (CRYPTO_memcmp(icv, rx_icv, ESP_ICV_LEN) != 0)
		return -EKEYREJECTED;
	if (EVP_DecryptInit_ex(sa->cipher, NULL, NULL, NULL, iv) != 1 ||
	    EVP_DecryptUpdate(sa->cipher, ct, &outl, ct, (int)plen) != 1 ||
	    (size_t)outl != plen)
		return -EIO;
	return 0;
}

/* --- encapsulation --------------------------------------------------------------------- */

int esp_encap(struct esp_sa *sa, struct esp_pkt *pkt, uint8_t next_header, mm_time_ns now)
{
	size_t hdr, plain, padded, pad, start, esp_len;
	struct writer w;
	uint64_t seq;
	int rc;

	if (!sa || !pkt || sa->dir != ESP_DIR_OUT || !pkt_writer(pkt, &w))
		return -EINVAL;
	if (next_header != ESP_NH_IPV4 && next_header != ESP_NH_NONE)
		return -EINVAL;
	if (next_header == ESP_NH_IPV4 && pkt->len == 0)
		return -EINVAL;     /* an empty IPv4 packet is a caller bug; dummies may be empty */
	if (pkt->len > ESP_PACKET_MAX)
		return -EMSGSIZE;
	hdr = ESP_HDR_LEN + sa->iv_len;
	plain = pkt->len + 2;
	padded = (plain + sa->block - 1) / sa->block * sa->block;
	pad = padded - plain;
	esp_len = hdr + padded + ESP_ICV_LEN;
	if (esp_len > ESP_PACKET_MAX)
		return -EMSGSIZE;
	if (pkt->off < hdr || pkt->cap - pkt->off - pkt->len < pad + 2 + ESP_ICV_LEN)
		return -ENOSPC;
	/* RFC 4303 3.3.3: never send a packet that would make the counter cycle. */
	if (sa->seq >= sa->seq_max)
		return -EOVERFLOW;
	rc = esp_sa_gate(sa, now);
	if (rc < 0)
		return rc;
	/* Consumed before the cipher runs: whatever happens next, a number (an IV) is never
	 * used twice. */
	seq = ++sa->seq;
	start = pkt->off - hdr;

	writer_patch_be32(&w, start, sa->spi);
	writer_patch_be32(&w, start + 4, (uint32_t)seq);
	/* Trailer after the payload (RFC 4303 2.4-2.6): padding 1, 2, 3, ..., pad length, next
	 * header, room for the ICV. */
	for (size_t i = 1; i <= pad; i++)
		writer_u8(&w, (uint8_t)i);
	writer_u8(&w, (uint8_t)pad);
	writer_u8(&w, next_header);
	writer_zeros(&w, ESP_ICV_LEN);
	if (!writer_ok(&w))
		return -EIO;
	rc = sa->aead ? aead_seal(sa, &w, start, seq, padded)
		      : cbc_seal(sa, &w, start, seq, padded);
	if (rc < 0)
		return rc;
	rc = esp_sa_account(sa, pkt->len);
	pkt->off = start;
	pkt->len = esp_len;
	return rc;
}

/* --- decapsulation --------------------------------------------------------------------- */

/* Padding (RFC 4303 2.4): Pad Length must fit, and the pad bytes must read 1, 2, 3, ... */
static int check_trailer(struct writer *w, size_t ct_off, size_t plen, size_t *inner_len,
			 uint8_t *nh)
{
	struct reader t;
	uint8_t *ct, padlen, next, b;

	if (!writer_view(w, ct_off, plen, &ct))
		return -EIO;
	reader_init(&t, ct, plen);
	if (!reader_skip(&t, plen - 2) || !reader_u8(&t, &padlen) || !reader_u8(&t, &next))
		return -EBADMSG;
	if ((size_t)padlen > plen - 2)
		return -EILSEQ;
	reader_init(&t, ct, plen);
	reader_skip(&t, plen - 2 - padlen);
	for (unsigned i = 1; i <= padlen; i++) {
		if (!reader_u8(&t, &b) || b != i)
			return -EILSEQ;
	}
	*inner_len = plen - 2 - padlen;
	*nh = next;
	return 0;
}

int esp_decap(struct esp_sa *sa, struct esp_pkt *pkt, mm_time_ns now)
{
	size_t hdr, plen, min_plain, inner_len;
	struct writer w;
	struct reader r;
	uint32_t spi, seql;
	uint64_t seq;
	uint8_t *esp, nh;
	int rc;

	if (!sa || !pkt || sa->dir != ESP_DIR_IN || !pkt_writer(pkt, &w))
		return -EINVAL;
	hdr = ESP_HDR_LEN + sa->iv_len;
	/* At least a pad length and next header; a whole cipher block for CBC. */
	min_plain = sa->aead ? 2 : ESP_CBC_IV_LEN;
	if (pkt->len > 0xffff || pkt->len < hdr + min_plain + ESP_ICV_LEN)
		return -EBADMSG;
	plen = pkt->len - hdr - ESP_ICV_LEN;
	if (plen % sa->block != 0 && !sa->aead)
		return -EBADMSG;
	rc = esp_sa_gate(sa, now);
	if (rc < 0)
		return rc;

	if (!writer_view(&w, pkt->off, pkt->len, &esp))
		return -EIO;
	reader_init(&r, esp, pkt->len);
	reader_be32(&r, &spi);
	if (!reader_be32(&r, &seql))
		return -EBADMSG;
	if (spi != sa->spi)
		return -ENOENT;
	/* RFC 4303 3.4.3: the replay check comes first, before any cryptography. */
	rc = replay_check(&sa->replay, seql, &seq);
	if (rc < 0)
		return rc;
	rc = sa->aead ? aead_open(sa, &w, pkt->off, seq, plen)
		      : cbc_open(sa, &w, pkt->off, seq, plen);
	if (rc < 0)
		return rc;
	/* Authentic: only now may the window move (3.4.3). */
	rc = replay_update(&sa->replay, seq);
	if (rc < 0)
		return rc;
	rc = check_trailer(&w, pkt->off + hdr, plen, &inner_len, &nh);
	if (rc < 0)
		return rc;
	if (nh == ESP_NH_NONE)
		return -ENOMSG;      /* dummy packet: discard without prejudice (2.6) */
	if (nh != ESP_NH_IPV4)
		return -EPROTONOSUPPORT;
	rc = esp_sa_account(sa, inner_len);
	pkt->off += hdr;
	pkt->len = inner_len;
	return rc;
}

/* --- drop reasons ---------------------------------------------------------------------- */

enum esp_drop esp_drop_reason(int rc)
{
	if (rc >= 0)
		return ESP_DROP_NONE;
	switch (-rc) {
	case EBADMSG:
		return ESP_DROP_MALFORMED;
	case ENOENT:
		return ESP_DROP_UNKNOWN_SPI;
	case EALREADY:
		return ESP_DROP_REPLAY;
	case ESTALE:
		return ESP_DROP_REPLAY_OLD;
	case EKEYREJECTED:
		return ESP_DROP_AUTH;
	case EILSEQ:
		return ESP_DROP_BAD_PADDING;
	case EPROTONOSUPPORT:
		return ESP_DROP_BAD_NEXT_HEADER;
	case ENOMSG:
		return ESP_DROP_DUMMY;
	case EKEYEXPIRED:
		return ESP_DROP_EXPIRED;
	case EOVERFLOW:
		return ESP_DROP_SEQ_EXHAUSTED;
	case ENOSPC:
		return ESP_DROP_NO_ROOM;
	case EMSGSIZE:
		return ESP_DROP_TOO_BIG;
	case EIO:
		return ESP_DROP_CRYPTO;
	}
	return ESP_DROP_INVALID;
}

const char *esp_drop_name(enum esp_drop reason)
{
	static const char *const names[ESP_DROP_COUNT] = {
		[ESP_DROP_NONE] = "none",
		[ESP_DROP_MALFORMED] = "malformed",
		[ESP_DROP_UNKNOWN_SPI] = "unknown-spi",
		[ESP_DROP_REPLAY] = "replay",
		[ESP_DROP_REPLAY_OLD] = "replay-old",
		[ESP_DROP_AUTH] = "auth-failed",
		[ESP_DROP_BAD_PADDING] = "bad-padding",
		[ESP_DROP_BAD_NEXT_HEADER] = "bad-next-header",
		[ESP_DROP_DUMMY] = "dummy",
		[ESP_DROP_EXPIRED] = "expired",
		[ESP_DROP_SEQ_EXHAUSTED] = "seq-exhausted",
		[ESP_DROP_NO_ROOM] = "no-room",
		[ESP_DROP_TOO_BIG] = "too-big",
		[ESP_DROP_INVALID] = "invalid",
		[ESP_DROP_CRYPTO] = "crypto-error",
	};

	if ((unsigned)reason >= ESP_DROP_COUNT)
		return "?";
	return names[reason];
}
