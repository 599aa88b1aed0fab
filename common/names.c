/* Value-to-name tables for protocol constants (see names.h).
 *
 * Every value below was checked against the RFC text in shared/rfc/; each table names the
 * sections it comes from. Keep each table sorted by value: lookups are a binary search and
 * tests/unit/test_names.c fails on an unsorted table or a duplicate value or name.
 */
#include "common/names.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

#define TABLE(what_, entries_) {					\
	.what = (what_),						\
	.entries = (entries_),						\
	.count = sizeof(entries_) / sizeof((entries_)[0]),		\
}

/* --- lookups -------------------------------------------------------------------------- */

const char *name_lookup(const struct name_table *t, uint32_t value)
{
	size_t lo = 0, hi;

	if (!t)
		return NULL;
	hi = t->count;
	/* Invariant: the value, if present, lies in entries[lo, hi). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t v = t->entries[mid].value;

		if (v == value)
			return t->entries[mid].name;
		if (v < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *name_or_number(const struct name_table *t, uint32_t value, char *buf,
			   size_t buf_size)
{
	const char *name = name_lookup(t, value);

	if (name)
		return name;
	/* Nowhere to format into: still return something printable for the log line. */
	if (!buf || buf_size == 0)
		return "?";
	snprintf(buf, buf_size, "%s %" PRIu32, t ? t->what : "value", value);
	return buf;
}

int name_to_value(const struct name_table *t, const char *name, uint32_t *out)
{
	if (!t || !name)
		return -ENOENT;
	/* Linear: reverse lookups are for configuration and tests, not the packet path. */
	for (size_t i = 0; i < t->count; i++) {
		if (strcasecmp(t->entries[i].name, name) == 0) {
			*out = t->entries[i].value;
			return 0;
		}
	}
	return -ENOENT;
}

/* --- Mobile IPv4 ---------------------------------------------------------------------- */

/* Message types on UDP port 434.
 * RFC 5944 §1.8, §3.3, §3.4, §6.1: 1, 3.
 * RFC 3519 §3.3, §8: 4 (MIP Tunnel Data, the UDP-tunnelled data packets).
 * RFC 3543 §3.3, §3.4, §7.1: 7, 15. */
static const struct name_entry mip4_message_entries[] = {
	{ 1, "Registration Request" },
	{ 3, "Registration Reply" },
	{ 4, "MIP Tunnel Data" },
	{ 7, "Registration Revocation" },
	{ 15, "Registration Revocation Acknowledgment" },
};

/* Extension types. Two number spaces (RFC 5944 §1.8):
 *  - agent advertisement (ICMP router discovery) extensions: 0, 16, 19 (RFC 5944 §2.1.1-2.1.3,
 *    §6.2); 24 (RFC 4721 §2);
 *  - registration extensions: 0, 32, 33, 34 (RFC 5944 §3.5.2-3.5.4, §6.3); 36, 132
 *    (RFC 4721 §5, §4); 44, 144 (RFC 3519 §3.2, §3.1); 45 (RFC 4636 §3); 130 (RFC 3024 §3.3);
 *    131 (RFC 2794 §2); 137 (RFC 3543 §3.2); 139 (RFC 4433 §3.4).
 * No value collides between the two spaces. Types 0-127 are not skippable, 128-255 are
 * (RFC 5944 §1.8). RFC 3115 (vendor-specific extensions) names its types only symbolically,
 * so they are not listed. */
static const struct name_entry mip4_extension_entries[] = {
	{ 0, "One-byte Padding" },
	{ 16, "Mobility Agent Advertisement" },
	{ 19, "Prefix-Lengths" },
	{ 24, "Agent Advertisement Challenge" },
	{ 32, "Mobile-Home Authentication" },
	{ 33, "Mobile-Foreign Authentication" },
	{ 34, "Foreign-Home Authentication" },
	{ 36, "Generalized Mobile IP Authentication" },
	{ 44, "UDP Tunnel Reply" },
	{ 45, "FA Error" },
	{ 130, "Encapsulating Delivery Style" },
	{ 131, "Mobile Node NAI" },
	{ 132, "Mobile-Foreign Challenge" },
	{ 137, "Revocation Support" },
	{ 139, "Dynamic HA Address" },
	{ 144, "UDP Tunnel Request" },
};

/* Registration Reply codes. 0-63 success, 64-127 denied by the FA, 128-192 denied by the HA
 * (RFC 5944 §6.4). Names are the RFC's own where it has one (lower-cased), otherwise its
 * description made into a unique identifier (FA and HA reuse descriptions).
 * RFC 5944 §3.4: 0, 1, 64-73, 77, 78, 80-82, 88, 128-136, 194 (194 sits in the FA list of
 *   §3.4 although §6.4 puts 193-200 in the gateway FA range).
 * RFC 3024 §3.4, §7: 74-76, 79, 137-139.
 * RFC 4433 §7: 90, 143.
 * RFC 2794 §5: 96-99.
 * RFC 4721 §10: 104-106, 108, 109, 144.
 * RFC 3519 §3.5, §8: 142. */
static const struct name_entry mip4_reply_code_entries[] = {
	{ 0, "accepted" },
	{ 1, "accepted_no_simultaneous_bindings" },
	{ 64, "fa_reason_unspecified" },
	{ 65, "fa_administratively_prohibited" },
	{ 66, "fa_insufficient_resources" },
	{ 67, "fa_mobile_node_failed_authentication" },
	{ 68, "fa_home_agent_failed_authentication" },
	{ 69, "fa_lifetime_too_long" },
	{ 70, "fa_poorly_formed_request" },
	{ 71, "fa_poorly_formed_reply" },
	{ 72, "fa_encapsulation_unavailable" },
	{ 73, "fa_reserved_and_unavailable" },
	{ 74, "fa_reverse_tunnel_unavailable" },
	{ 75, "fa_reverse_tunnel_mandatory" },
	{ 76, "fa_mobile_node_too_distant" },
	{ 77, "fa_invalid_care_of_address" },
	{ 78, "fa_registration_timeout" },
	{ 79, "fa_delivery_style_not_supported" },
	{ 80, "fa_home_network_unreachable" },
	{ 81, "fa_home_agent_host_unreachable" },
	{ 82, "fa_home_agent_port_unreachable" },
	{ 88, "fa_home_agent_unreachable" },
	{ 90, "nonzero_ha_reqd" },
	{ 96, "nonzero_homeaddr_reqd" },
	{ 97, "missing_nai" },
	{ 98, "missing_home_agent" },
	{ 99, "missing_homeaddr" },
	{ 104, "unknown_challenge" },
	{ 105, "missing_challenge" },
	{ 106, "stale_challenge" },
	{ 108, "fa_bad_aaa_auth" },
	{ 109, "ha_wrong_challenge" },
	{ 128, "ha_reason_unspecified" },
	{ 129, "ha_administratively_prohibited" },
	{ 130, "ha_insufficient_resources" },
	{ 131, "ha_mobile_node_failed_authentication" },
	{ 132, "ha_foreign_agent_failed_authentication" },
	{ 133, "ha_identification_mismatch" },
	{ 134, "ha_poorly_formed_request" },
	{ 135, "ha_too_many_bindings" },
	{ 136, "ha_unknown_home_agent_address" },
	{ 137, "ha_reverse_tunnel_unavailable" },
	{ 138, "ha_reverse_tunnel_mandatory" },
	{ 139, "ha_encapsulation_unavailable" },
	{ 142, "error_ha_udp_encap_unavail" },
	{ 143, "redirect_ha_req" },
	{ 144, "ha_bad_aaa_auth" },
	{ 194, "invalid_home_agent_address" },
};

const struct name_table mip4_message_names = TABLE("mip4 message", mip4_message_entries);
const struct name_table mip4_extension_names = TABLE("mip4 extension", mip4_extension_entries);
const struct name_table mip4_reply_code_names = TABLE("reply code", mip4_reply_code_entries);

/* --- IKEv2 ---------------------------------------------------------------------------- */

/* Exchange types: RFC 7296 §3.1. */
static const struct name_entry ikev2_exchange_entries[] = {
	{ 34, "IKE_SA_INIT" },
	{ 35, "IKE_AUTH" },
	{ 36, "CREATE_CHILD_SA" },
	{ 37, "INFORMATIONAL" },
};

/* Payload types, by the RFCs' notation: RFC 7296 §3.2 (0, 33-48; "Nonce" because the
 * notation there is "Ni, Nr"), RFC 7383 §6 (53), RFC 8019 §11 (54). */
static const struct name_entry ikev2_payload_entries[] = {
	{ 0, "NONE" },
	{ 33, "SA" },
	{ 34, "KE" },
	{ 35, "IDi" },
	{ 36, "IDr" },
	{ 37, "CERT" },
	{ 38, "CERTREQ" },
	{ 39, "AUTH" },
	{ 40, "Nonce" },
	{ 41, "N" },
	{ 42, "D" },
	{ 43, "V" },
	{ 44, "TSi" },
	{ 45, "TSr" },
	{ 46, "SK" },
	{ 47, "CP" },
	{ 48, "EAP" },
	{ 53, "SKF" },
	{ 54, "PS" },
};

/* Notify message types. Errors are 0-16383, status types 16384-65535.
 * RFC 7296 §3.10.1: 1-44 (except 40, 41) and 16384-16395.
 * RFC 4555 §4.1, §4.2, §6 (MOBIKE): 40, 41, 16396-16402.
 * RFC 5685 §9, §12: 16406-16408. RFC 6311 §6, §12: 16420-16423. RFC 7383 §2.3, §6: 16430.
 * RFC 7427 §4, §7: 16431. RFC 8019 §8.1, §11: 16434. */
static const struct name_entry ikev2_notify_entries[] = {
	{ 1, "UNSUPPORTED_CRITICAL_PAYLOAD" },
	{ 4, "INVALID_IKE_SPI" },
	{ 5, "INVALID_MAJOR_VERSION" },
	{ 7, "INVALID_SYNTAX" },
	{ 9, "INVALID_MESSAGE_ID" },
	{ 11, "INVALID_SPI" },
	{ 14, "NO_PROPOSAL_CHOSEN" },
	{ 17, "INVALID_KE_PAYLOAD" },
	{ 24, "AUTHENTICATION_FAILED" },
	{ 34, "SINGLE_PAIR_REQUIRED" },
	{ 35, "NO_ADDITIONAL_SAS" },
	{ 36, "INTERNAL_ADDRESS_FAILURE" },
	{ 37, "FAILED_CP_REQUIRED" },
	{ 38, "TS_UNACCEPTABLE" },
	{ 39, "INVALID_SELECTORS" },
	{ 40, "UNACCEPTABLE_ADDRESSES" },
	{ 41, "UNEXPECTED_NAT_DETECTED" },
	{ 43, "TEMPORARY_FAILURE" },
	{ 44, "CHILD_SA_NOT_FOUND" },
	{ 16384, "INITIAL_CONTACT" },
	{ 16385, "SET_WINDOW_SIZE" },
	{ 16386, "ADDITIONAL_TS_POSSIBLE" },
	{ 16387, "IPCOMP_SUPPORTED" },
	{ 16388, "NAT_DETECTION_SOURCE_IP" },
	{ 16389, "NAT_DETECTION_DESTINATION_IP" },
	{ 16390, "COOKIE" },
	{ 16391, "USE_TRANSPORT_MODE" },
	{ 16392, "HTTP_CERT_LOOKUP_SUPPORTED" },
	{ 16393, "REKEY_SA" },
	{ 16394, "ESP_TFC_PADDING_NOT_SUPPORTED" },
	{ 16395, "NON_FIRST_FRAGMENTS_ALSO" },
	{ 16396, "MOBIKE_SUPPORTED" },
	{ 16397, "ADDITIONAL_IP4_ADDRESS" },
	{ 16398, "ADDITIONAL_IP6_ADDRESS" },
	{ 16399, "NO_ADDITIONAL_ADDRESSES" },
	{ 16400, "UPDATE_SA_ADDRESSES" },
	{ 16401, "COOKIE2" },
	{ 16402, "NO_NATS_ALLOWED" },
	{ 16406, "REDIRECT_SUPPORTED" },
	{ 16407, "REDIRECT" },
	{ 16408, "REDIRECTED_FROM" },
	{ 16420, "IKEV2_MESSAGE_ID_SYNC_SUPPORTED" },
	{ 16421, "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED" },
	{ 16422, "IKEV2_MESSAGE_ID_SYNC" },
	{ 16423, "IPSEC_REPLAY_COUNTER_SYNC" },
	{ 16430, "IKEV2_FRAGMENTATION_SUPPORTED" },
	{ 16431, "SIGNATURE_HASH_ALGORITHMS" },
	{ 16434, "PUZZLE" },
	{ 49920, "MM_ESP_RECEIVED" },       /* private use: mip4-mobike (ike/payload.h) */
};

/* Transform types: RFC 7296 §3.3.2 (abbreviations from its table). */
static const struct name_entry ikev2_transform_type_entries[] = {
	{ 1, "ENCR" },
	{ 2, "PRF" },
	{ 3, "INTEG" },
	{ 4, "D-H" },
	{ 5, "ESN" },
};

const struct name_table ikev2_exchange_names = TABLE("exchange", ikev2_exchange_entries);
const struct name_table ikev2_payload_names = TABLE("payload", ikev2_payload_entries);
const struct name_table ikev2_notify_names = TABLE("notify", ikev2_notify_entries);
const struct name_table ikev2_transform_type_names =
	TABLE("transform type", ikev2_transform_type_entries);

/* Protocol IDs: RFC 7296 §3.3.1. */
static const struct name_entry ikev2_protocol_entries[] = {
	{ 1, "IKE" },
	{ 2, "AH" },
	{ 3, "ESP" },
};

/* Identification types: RFC 7296 §3.5. */
static const struct name_entry ikev2_id_type_entries[] = {
	{ 1, "ID_IPV4_ADDR" },
	{ 2, "ID_FQDN" },
	{ 3, "ID_RFC822_ADDR" },
	{ 5, "ID_IPV6_ADDR" },
	{ 9, "ID_DER_ASN1_DN" },
	{ 10, "ID_DER_ASN1_GN" },
	{ 11, "ID_KEY_ID" },
};

/* Certificate encodings: RFC 7296 §3.6. */
static const struct name_entry ikev2_cert_encoding_entries[] = {
	{ 1, "PKCS #7 wrapped X.509 certificate" },
	{ 2, "PGP Certificate" },
	{ 3, "DNS Signed Key" },
	{ 4, "X.509 Certificate - Signature" },
	{ 6, "Kerberos Token" },
	{ 7, "Certificate Revocation List (CRL)" },
	{ 8, "Authority Revocation List (ARL)" },
	{ 9, "SPKI Certificate" },
	{ 10, "X.509 Certificate - Attribute" },
	{ 11, "Deprecated (was Raw RSA Key)" },
	{ 12, "Hash and URL of X.509 certificate" },
	{ 13, "Hash and URL of X.509 bundle" },
};

/* Authentication methods: RFC 7296 §3.8 (1-3), RFC 7427 §3, §7 (14). */
static const struct name_entry ikev2_auth_method_entries[] = {
	{ 1, "RSA Digital Signature" },
	{ 2, "Shared Key Message Integrity Code" },
	{ 3, "DSS Digital Signature" },
	{ 14, "Digital Signature" },
};

/* Traffic selector types: RFC 7296 §3.13.1. */
static const struct name_entry ikev2_ts_type_entries[] = {
	{ 7, "TS_IPV4_ADDR_RANGE" },
	{ 8, "TS_IPV6_ADDR_RANGE" },
};

/* CFG types: RFC 7296 §3.15. */
static const struct name_entry ikev2_cfg_type_entries[] = {
	{ 1, "CFG_REQUEST" },
	{ 2, "CFG_REPLY" },
	{ 3, "CFG_SET" },
	{ 4, "CFG_ACK" },
};

/* Configuration attribute types: RFC 7296 §3.15.1 (5, 9 and 11 were removed by RFC 5996). */
static const struct name_entry ikev2_cp_attr_entries[] = {
	{ 1, "INTERNAL_IP4_ADDRESS" },
	{ 2, "INTERNAL_IP4_NETMASK" },
	{ 3, "INTERNAL_IP4_DNS" },
	{ 4, "INTERNAL_IP4_NBNS" },
	{ 6, "INTERNAL_IP4_DHCP" },
	{ 7, "APPLICATION_VERSION" },
	{ 8, "INTERNAL_IP6_ADDRESS" },
	{ 10, "INTERNAL_IP6_DNS" },
	{ 12, "INTERNAL_IP6_DHCP" },
	{ 13, "INTERNAL_IP4_SUBNET" },
	{ 14, "SUPPORTED_ATTRIBUTES" },
	{ 15, "INTERNAL_IP6_SUBNET" },
};

/* Hash algorithms: RFC 7427 §7. */
static const struct name_entry ikev2_hash_algorithm_entries[] = {
	{ 1, "SHA1" },
	{ 2, "SHA2-256" },
	{ 3, "SHA2-384" },
	{ 4, "SHA2-512" },
};

const struct name_table ikev2_protocol_names = TABLE("protocol", ikev2_protocol_entries);
const struct name_table ikev2_id_type_names = TABLE("ID type", ikev2_id_type_entries);
const struct name_table ikev2_cert_encoding_names =
	TABLE("cert encoding", ikev2_cert_encoding_entries);
const struct name_table ikev2_auth_method_names =
	TABLE("auth method", ikev2_auth_method_entries);
const struct name_table ikev2_ts_type_names = TABLE("TS type", ikev2_ts_type_entries);
const struct name_table ikev2_cfg_type_names = TABLE("CFG type", ikev2_cfg_type_entries);
const struct name_table ikev2_cp_attr_names = TABLE("CP attribute", ikev2_cp_attr_entries);
const struct name_table ikev2_hash_algorithm_names =
	TABLE("hash algorithm", ikev2_hash_algorithm_entries);
