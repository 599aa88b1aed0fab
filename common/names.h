/* Value-to-name tables for protocol constants, so that logs print names, never bare numbers.
 *
 * Every table is sorted by value with no duplicates (tests/unit/test_names.c checks this),
 * so lookups are a binary search. Each table cites the RFC sections its values come from;
 * values are taken from the RFC texts in shared/rfc/, not from the live IANA registries, so
 * a newer value simply prints as "<what> <n>".
 */
#ifndef MM_COMMON_NAMES_H
#define MM_COMMON_NAMES_H

#include <stddef.h>
#include <stdint.h>

struct name_entry {
	uint32_t value;
	const char *name;
};

struct name_table {
	const char *what;               /* what a value is, for unknown values: "notify" */
	const struct name_entry *entries;
	size_t count;
};

/* The name of value, or NULL if the table does not know it. */
const char *name_lookup(const struct name_table *t, uint32_t value);

/* The name of value, or "<what> <value>" (e.g. "notify 40961") formatted into buf, which
 * is then returned (truncated to fit; "?" if buf_size is 0). Meant for a log argument:
 *	char tmp[NAME_BUF_SIZE];
 *	LOG_INFO(lg, "got %s", name_or_number(&ikev2_notify_names, type, tmp, sizeof(tmp)));
 */
const char *name_or_number(const struct name_table *t, uint32_t value, char *buf,
			   size_t buf_size);

/* Big enough for any "<what> <value>" of the tables below. */
#define NAME_BUF_SIZE 48

/* Reverse lookup, case-insensitive (for configuration files and tests).
 * Returns 0 and sets *out, or -ENOENT. */
int name_to_value(const struct name_table *t, const char *name, uint32_t *out);

/* Mobile IPv4 (UDP port 434) message types. */
extern const struct name_table mip4_message_names;
/* Mobile IPv4 extension types: registration extensions and agent advertisement (ICMP router
 * discovery) extensions. These are two number spaces, merged here because no value is used
 * in both with different meanings (0, one-byte padding, is the same in both). */
extern const struct name_table mip4_extension_names;
/* Code field of the Mobile IPv4 Registration Reply. */
extern const struct name_table mip4_reply_code_names;

/* IKEv2 header exchange types. */
extern const struct name_table ikev2_exchange_names;
/* IKEv2 payload types (Next Payload field). */
extern const struct name_table ikev2_payload_names;
/* IKEv2 Notify message types, errors and status, including MOBIKE. */
extern const struct name_table ikev2_notify_names;
/* IKEv2 transform types (not the transform IDs within a type). */
extern const struct name_table ikev2_transform_type_names;
/* IKEv2 Protocol IDs of proposals, Notify and Delete payloads. */
extern const struct name_table ikev2_protocol_names;
/* IKEv2 identification types (IDi/IDr payloads). */
extern const struct name_table ikev2_id_type_names;
/* IKEv2 certificate encodings (CERT and CERTREQ payloads). */
extern const struct name_table ikev2_cert_encoding_names;
/* IKEv2 authentication methods (AUTH payload). */
extern const struct name_table ikev2_auth_method_names;
/* IKEv2 traffic selector types (TSi/TSr payloads). */
extern const struct name_table ikev2_ts_type_names;
/* IKEv2 configuration payload types (CFG Type of the CP payload). */
extern const struct name_table ikev2_cfg_type_names;
/* IKEv2 configuration attribute types (CP payload). */
extern const struct name_table ikev2_cp_attr_names;
/* IKEv2 hash algorithms (SIGNATURE_HASH_ALGORITHMS notify). */
extern const struct name_table ikev2_hash_algorithm_names;

#endif
