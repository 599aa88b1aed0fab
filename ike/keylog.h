/* Key log lines for Wireshark's IKEv2 decryption table (the "ikev2_decryption_table" UAT of
 * the isakmp dissector; a debugging aid, off by default):
 *
 *	SPIi,SPIr,SK_ei,SK_er,"encryption algorithm",SK_ai,SK_ar,"integrity algorithm"
 *
 * SPIs and keys in lower-case hex without separators, SK_e with the AEAD salt appended (as
 * 2.14 derives it), SK_a empty for AEADs. The algorithm names are the strings of the
 * dissector's value tables (Wireshark 4.0 packet-isakmp.c vs_ikev2_encr_algs /
 * vs_ikev2_auth_algs), e.g. "AES-GCM-128 with 16 octet ICV [RFC5282]", "AES-CBC-256
 * [RFC3602]", "HMAC_SHA2_256_128 [RFC4868]", "NONE [RFC4306]". Wireshark 4.0 cannot
 * decrypt ChaCha20-Poly1305 IKE SAs; their line names the cipher "CHACHA20-POLY1305
 * [RFC7634]", which that version refuses to load.
 */
#ifndef MM_IKE_KEYLOG_H
#define MM_IKE_KEYLOG_H

#include <stddef.h>
#include <stdint.h>

#include "ike/keys.h"
#include "ike/transform.h"

/* Longest line: 2 x 16 + 2 x 72 + 2 x 128 hex digits, names and separators. */
#define IKE_KEYLOG_LINE_MAX 600

const char *ike_keylog_encr_name(const struct ike_algs *algs);
const char *ike_keylog_integ_name(const struct ike_algs *algs);

/* The line (NUL-terminated) into out. Returns 0, -ENOSPC (out too small), -EINVAL. */
int ike_keylog_line(uint64_t spi_i, uint64_t spi_r, const struct ike_algs *algs,
		    const struct ike_sa_keys *keys, char *out, size_t size);

#endif
