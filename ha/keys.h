/* The home agent's Mobility Security Associations (RFC 5944 §1.6, §3.8.1: "MUST be configured
 * with the Mobility Security Association of each authorized mobile node"), read from the
 * keys-file by daemon/secret.h (lines "HOME-ADDRESS SPI HEXKEY", mode 0600; errors name the
 * file and line), and looked up by (home address, SPI) for the engine.
 *
 * Key material lives in one sorted array that is wiped (OPENSSL_cleanse) when freed.
 */
#ifndef MM_HA_KEYS_H
#define MM_HA_KEYS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "mip4/auth.h"

struct ha_keys;

/* Load path. Returns 0 and *out, or -errno after one error line (logged by daemon/secret). */
int ha_keys_load(const char *path, struct ha_keys **out);
void ha_keys_free(struct ha_keys *k);
size_t ha_keys_count(const struct ha_keys *k);

/* ha_key_lookup_fn for the engine: ctx is a struct ha_keys *. */
int ha_keys_lookup(void *ctx, struct in_addr hoa, uint32_t spi, struct mip4_key *out);

#endif
