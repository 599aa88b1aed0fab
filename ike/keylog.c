/* Wireshark ikev2_decryption_table lines. See keylog.h. */
#include "ike/keylog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

const char *ike_keylog_encr_name(const struct ike_algs *algs)
{
	unsigned bits = (unsigned)algs->encr_key_len * 8;

	switch (algs->encr->id) {
	case IKE_ENCR_AES_CBC:
		return bits == 128 ? "AES-CBC-128 [RFC3602]" : "AES-CBC-256 [RFC3602]";
	case IKE_ENCR_AES_GCM_16:
		return bits == 128 ? "AES-GCM-128 with 16 octet ICV [RFC5282]"
				   : "AES-GCM-256 with 16 octet ICV [RFC5282]";
	case IKE_ENCR_CHACHA20_POLY1305:
		return "CHACHA20-POLY1305 [RFC7634]";
	}
	return "unknown";
}

const char *ike_keylog_integ_name(const struct ike_algs *algs)
{
	if (!algs->integ)
		return "NONE [RFC4306]";
	switch (algs->integ->id) {
	case IKE_INTEG_HMAC_SHA2_256_128:
		return "HMAC_SHA2_256_128 [RFC4868]";
	case IKE_INTEG_HMAC_SHA2_384_192:
		return "HMAC_SHA2_384_192 [RFC4868]";
	case IKE_INTEG_HMAC_SHA2_512_256:
		return "HMAC_SHA2_512_256 [RFC4868]";
	}
	return "unknown";
}

/* Append n octets as hex at *pos; false when it does not fit. */
static bool hex(char *out, size_t size, size_t *pos, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	if (size - *pos <= 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		out[(*pos)++] = digits[p[i] >> 4];
		out[(*pos)++] = digits[p[i] & 15];
	}
	out[*pos] = '\0';
	return true;
}

static bool text(char *out, size_t size, size_t *pos, const char *s)
{
	int n = snprintf(out + *pos, size - *pos, "%s", s);

	if (n < 0 || (size_t)n >= size - *pos)
		return false;
	*pos += (size_t)n;
	return true;
}

int ike_keylog_line(uint64_t spi_i, uint64_t spi_r, const struct ike_algs *algs,
		    const struct ike_sa_keys *k, char *out, size_t size)
{
	size_t pos = 0;
	uint8_t si[8], sr[8];
	bool ok;

	if (!algs || !algs->encr || !k || !out || size == 0)
		return -EINVAL;
	for (int i = 0; i < 8; i++) {
		si[i] = (uint8_t)(spi_i >> (56 - 8 * i));
		sr[i] = (uint8_t)(spi_r >> (56 - 8 * i));
	}
	out[0] = '\0';
	ok = hex(out, size, &pos, si, 8) && text(out, size, &pos, ",") &&
	     hex(out, size, &pos, sr, 8) && text(out, size, &pos, ",") &&
	     hex(out, size, &pos, k->sk_ei, k->sk_e_len) && text(out, size, &pos, ",") &&
	     hex(out, size, &pos, k->sk_er, k->sk_e_len) && text(out, size, &pos, ",\"") &&
	     text(out, size, &pos, ike_keylog_encr_name(algs)) && text(out, size, &pos, "\",") &&
	     hex(out, size, &pos, k->sk_ai, k->sk_a_len) && text(out, size, &pos, ",") &&
	     hex(out, size, &pos, k->sk_ar, k->sk_a_len) && text(out, size, &pos, ",\"") &&
	     text(out, size, &pos, ike_keylog_integ_name(algs)) && text(out, size, &pos, "\"");
	if (!ok) {
		out[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}
