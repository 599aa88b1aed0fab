/* Stateless IKE_SA_INIT cookies (RFC 7296 2.6). See cookie.h. */
#include "ike/cookie.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

bool ike_cookie_due(const struct ike_cookie_state *s, mm_time_ns now)
{
	return !s->ready || now - s->rotated_at >= IKE_COOKIE_ROTATE || now < s->rotated_at;
}

void ike_cookie_rotate(struct ike_cookie_state *s, const uint8_t secret[IKE_COOKIE_SECRET],
		       mm_time_ns now)
{
	if (s->ready) {
		memcpy(s->prev, s->secret, sizeof(s->prev));
		s->prev_version = s->version;
		s->have_prev = true;
		s->version++;
	}
	memcpy(s->secret, secret, sizeof(s->secret));
	s->ready = true;
	s->rotated_at = now;
}

static int compute(uint8_t version, const uint8_t *secret, const uint8_t *ni, size_t ni_len,
		   struct in_addr ip, uint64_t spi_i, uint8_t out[IKE_COOKIE_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t spi[8];
	unsigned int len = 0;
	int ok;

	if (!md)
		return -EIO;
	for (int i = 0; i < 8; i++)
		spi[i] = (uint8_t)(spi_i >> (56 - 8 * i));
	out[0] = version;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(md, ni, ni_len) &&
	     EVP_DigestUpdate(md, &ip.s_addr, 4) &&
	     EVP_DigestUpdate(md, spi, sizeof(spi)) &&
	     EVP_DigestUpdate(md, secret, IKE_COOKIE_SECRET) &&
	     EVP_DigestFinal_ex(md, out + 1, &len) && len == IKE_COOKIE_LEN - 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -EIO;
}

int ike_cookie_make(const struct ike_cookie_state *s, const uint8_t *ni, size_t ni_len,
		    struct in_addr ip, uint64_t spi_i, uint8_t out[IKE_COOKIE_LEN])
{
	if (!s->ready)
		return -EINVAL;
	return compute(s->version, s->secret, ni, ni_len, ip, spi_i, out);
}

bool ike_cookie_check(const struct ike_cookie_state *s, const uint8_t *cookie, size_t len,
		      const uint8_t *ni, size_t ni_len, struct in_addr ip, uint64_t spi_i)
{
	uint8_t want[IKE_COOKIE_LEN];
	const uint8_t *secret;

	if (!s->ready || len != IKE_COOKIE_LEN)
		return false;
	/* The version octet says which secret made it. */
	if (cookie[0] == s->version)
		secret = s->secret;
	else if (s->have_prev && cookie[0] == s->prev_version)
		secret = s->prev;
	else
		return false;
	if (compute(cookie[0], secret, ni, ni_len, ip, spi_i, want) < 0)
		return false;
	return CRYPTO_memcmp(want, cookie, IKE_COOKIE_LEN) == 0;
}

void ike_cookie_clear(struct ike_cookie_state *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}
