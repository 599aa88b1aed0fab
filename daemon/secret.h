/* Key files. Secrets never appear in logs; every temporary copy is wiped (OPENSSL_cleanse).
 *
 * A key file must be a regular file that neither group nor others may read, write or
 * execute (mode 0600 or 0400); otherwise it is refused with "FILE is accessible by group or
 * others: chmod 600 FILE". Errors are logged once (common/log.h, program name as prefix) and
 * returned as a negative errno; output parameters are untouched on failure.
 */
#ifndef MM_DAEMON_SECRET_H
#define MM_DAEMON_SECRET_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define SECRET_MIN_KEY_LEN 16     /* RFC 5944 §5.1: keys of at least 128 bits */
#define SECRET_MAX_KEY_LEN 64     /* the longest key of a keys table (mip4/auth.h MIP4_KEY_MAX) */
#define SECRET_MAX_FILE (64 * 1024 * 1024) /* larger files are refused: a home agent's keys
                                             * table for 10^6 mobile nodes is ~56 MB */

/* A file holding one key as hex on one line ("00112233...", case-insensitive; white space
 * around it, blank lines and '#' comments are ignored). Errors:
 *	-ENOENT/-EACCES/...  "cannot open FILE: ..."
 *	-EPERM   not a regular file, or group/world accessible ("chmod 600 FILE")
 *	-EINVAL  "key in FILE is not valid hex", "FILE holds no key", "key in FILE is 8 bytes;
 *	         at least 16 are required", "key in FILE is 100 bytes; at most 64 fit"
 * On success out[0..*len) holds the key. */
int secret_load_hex(const char *path, uint8_t *out, size_t cap, size_t min_len, size_t *len);

/* Called once per line of a keys table, in file order. key is wiped after the call returns:
 * copy it. A negative return stops loading and is returned by secret_load_keys_table (the
 * callback logs its own reason). */
typedef int (*secret_key_fn)(void *user, struct in_addr home, uint32_t spi, const uint8_t *key,
			     size_t key_len, unsigned line);

/* The home agent's keys table: lines "HOME-ADDRESS SPI HEXKEY", '#' comments, blank lines.
 * SPI decimal 256..4294967295 (0-255 are reserved, RFC 5944 §1.6), keys SECRET_MIN_KEY_LEN..
 * SECRET_MAX_KEY_LEN bytes; '#' starts a comment anywhere on a line. The
 * same (HOME-ADDRESS, SPI) twice is an error (a home address may have several SPIs, for key
 * roll-over). Errors name the line: "ha.keys:3: SPI 12 is reserved (must be >= 256)",
 * -EINVAL; file permission errors as secret_load_hex. The file is parsed completely before
 * the first callback, so a bad line means no callback at all. Returns the number of keys. */
int secret_load_keys_table(const char *path, secret_key_fn cb, void *user);

#endif
