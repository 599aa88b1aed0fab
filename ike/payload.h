/* IKEv2 message codec, stage 2 of 3: decode and encode each payload type with exact length
 * and range checks (RFC 7296 3.3-3.16; RFC 4555 4; RFC 7383 2.5; RFC 7427 3-4).
 *
 * Decoders take a struct ike_payload_ref from stage 1 (msg.h) and fill a value struct. Variable
 * parts (key exchange data, identities, nonces, notification data, ...) are views into the
 * message buffer, not copies: they stay valid as long as that buffer does. Fixed arrays hold
 * the repeated parts (proposals, transforms, traffic selectors, configuration attributes);
 * their caps are below, and more than a cap is refused (-E2BIG), never truncated.
 *
 * Encoders append one whole payload through an ike_builder (msg.h), which chains the Next
 * Payload fields and patches the lengths. They refuse (-EINVAL) a value their decoder would
 * refuse, so whatever is sent parses back.
 *
 * Errors (negative errno; *out untouched on failure; nothing is logged):
 *	-EBADMSG  malformed payload: wrong length, value out of range, counts that do not add up
 *	          -> INVALID_SYNTAX in a request under a valid SK (RFC 7296 3.10.1), else drop
 *	-E2BIG    more entries than the caps below
 *	-ENOMSG   the payload is not of the type the decoder is for
 *	-EINVAL, -ENOSPC, -EMSGSIZE  (encoders) see msg.h
 * Values that are well formed but not understood (unknown transform types or attributes,
 * unknown notify types, unknown configuration attributes, unknown ID types) decode fine: the
 * RFC says to ignore or refuse them by policy (3.3.6, 3.10.1, 3.15.1), which is the engine's call.
 */
#ifndef MM_IKE_PAYLOAD_H
#define MM_IKE_PAYLOAD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ike/msg.h"

/* A view of octets inside a message (or, for encoding, anywhere). */
struct ike_blob {
	const uint8_t *data;
	size_t len;
};

/* Protocol IDs (3.3.1; Notify 3.10; Delete 3.11). */
enum ike_protocol {
	IKE_PROTO_IKE = 1,
	IKE_PROTO_AH = 2,
	IKE_PROTO_ESP = 3,
};

/* --- SA (3.3) -------------------------------------------------------------------------- */

#define IKE_SA_MAX_PROPOSALS  8
#define IKE_SA_MAX_TRANSFORMS 32   /* per proposal: strongSwan's default IKE proposal has ~25 */
#define IKE_SA_ATTR_KEY_LENGTH 14  /* Key Length in bits, TV format (3.3.5) */
#define IKE_SA_MAX_SPI_LEN    8

struct ike_sa_transform {
	uint8_t type;            /* 1 ENCR .. 5 ESN (3.3.2); others are kept, never understood */
	uint16_t id;
	uint16_t key_bits;       /* Key Length attribute; 0: absent */
	bool unknown_attr;       /* had an attribute we do not know: unacceptable (3.3.6) */
};

struct ike_proposal {
	uint8_t num;             /* Proposal Num */
	uint8_t protocol;        /* enum ike_protocol */
	uint8_t spi_size;        /* 0 (initial IKE SA), 8 (IKE rekey), 4 (AH, ESP) */
	uint8_t spi[IKE_SA_MAX_SPI_LEN];
	uint8_t n_transforms;
	struct ike_sa_transform t[IKE_SA_MAX_TRANSFORMS];
};

struct ike_sa_payload {
	uint8_t n_proposals;
	struct ike_proposal p[IKE_SA_MAX_PROPOSALS];
};

/* An offer (request) numbers its proposals 1, 2, ... (3.3, 3.3.1). A choice (response) has
 * exactly one proposal, numbered as the one accepted, with at most one transform of each
 * type (3.3.6). */
enum ike_sa_payload_kind {
	IKE_SA_OFFER,
	IKE_SA_CHOICE,
};

int ike_sa_payload_decode(const struct ike_payload_ref *p, enum ike_sa_payload_kind kind, struct ike_sa_payload *out);
int ike_sa_payload_encode(struct ike_builder *b, const struct ike_sa_payload *sa);
/* The SPI of a proposal as an integer: ESP/AH (4 octets) and IKE (8 octets); 0 if the size
 * does not match. */
uint32_t ike_proposal_spi32(const struct ike_proposal *p);
uint64_t ike_proposal_spi64(const struct ike_proposal *p);
void ike_proposal_set_spi32(struct ike_proposal *p, uint32_t spi);
void ike_proposal_set_spi64(struct ike_proposal *p, uint64_t spi);

/* --- KE (3.4) --------------------------------------------------------------------------- */

struct ike_ke {
	uint16_t group;          /* Diffie-Hellman Group Num */
	struct ike_blob data;    /* Key Exchange Data, at least one octet */
};
int ike_ke_decode(const struct ike_payload_ref *p, struct ike_ke *out);
int ike_ke_encode(struct ike_builder *b, const struct ike_ke *ke);

/* --- IDi / IDr (3.5) -------------------------------------------------------------------- */

enum ike_id_type {
	IKE_ID_IPV4_ADDR = 1,    /* 4 octets */
	IKE_ID_FQDN = 2,         /* ASCII, no terminators */
	IKE_ID_RFC822_ADDR = 3,  /* UTF-8, no terminators */
	IKE_ID_IPV6_ADDR = 5,    /* 16 octets */
	IKE_ID_DER_ASN1_DN = 9,  /* one DER SEQUENCE */
	IKE_ID_DER_ASN1_GN = 10,
	IKE_ID_KEY_ID = 11,      /* opaque */
};

struct ike_id {
	uint8_t type;
	struct ike_blob data;    /* Identification Data, at least one octet */
};
/* The AUTH computation (2.15) signs IDx', the payload body: ike_payload_ref.body as received,
 * or for a payload being sent, what ike_build_payload_begin() reports plus 4. */
int ike_id_decode(const struct ike_payload_ref *p, struct ike_id *out);
int ike_id_encode(struct ike_builder *b, uint8_t payload_type, const struct ike_id *id);

/* --- CERT (3.6) and CERTREQ (3.7) ------------------------------------------------------- */

enum ike_cert_encoding {
	IKE_CERT_X509_SIG = 4,
	IKE_CERT_CRL = 7,
	IKE_CERT_HASH_URL_X509 = 12,     /* 20-octet SHA-1 hash | URL */
	IKE_CERT_HASH_URL_BUNDLE = 13,
};
#define IKE_CERTREQ_HASH_LEN 20      /* SHA-1 of a trust anchor's SubjectPublicKeyInfo (3.7) */

struct ike_cert {
	uint8_t encoding;
	struct ike_blob data;    /* CERT: at least one octet; CERTREQ: for X.509 encodings a
	                          * multiple of 20 octets (possibly none) */
};
int ike_cert_decode(const struct ike_payload_ref *p, struct ike_cert *out);
int ike_cert_encode(struct ike_builder *b, const struct ike_cert *cert);
int ike_certreq_decode(const struct ike_payload_ref *p, struct ike_cert *out);
int ike_certreq_encode(struct ike_builder *b, const struct ike_cert *req);

/* --- AUTH (3.8; RFC 7427 3) ------------------------------------------------------------- */

enum ike_auth_method {
	IKE_AUTH_RSA_SIG = 1,
	IKE_AUTH_SHARED_KEY_MIC = 2,
	IKE_AUTH_DSS_SIG = 3,
	IKE_AUTH_DIGITAL_SIGNATURE = 14,  /* RFC 7427 3: len | AlgorithmIdentifier | signature */
};

struct ike_auth {
	uint8_t method;
	struct ike_blob data;    /* Authentication Data, at least one octet */
};
int ike_auth_decode(const struct ike_payload_ref *p, struct ike_auth *out);
int ike_auth_encode(struct ike_builder *b, const struct ike_auth *auth);
/* RFC 7427 3: split Digital Signature data into the DER AlgorithmIdentifier and the
 * signature value (-EBADMSG if the length octet does not fit or either part is empty). */
int ike_auth_sig_split(const struct ike_auth *auth, struct ike_blob *alg_id,
		       struct ike_blob *signature);

/* --- Nonce (3.9), Vendor ID (3.12) ------------------------------------------------------ */

#define IKE_NONCE_MIN 16
#define IKE_NONCE_MAX 256
int ike_nonce_decode(const struct ike_payload_ref *p, struct ike_blob *out);
int ike_nonce_encode(struct ike_builder *b, const void *nonce, size_t len);
int ike_vendor_decode(const struct ike_payload_ref *p, struct ike_blob *out);
int ike_vendor_encode(struct ike_builder *b, const void *vid, size_t len);
/* Our Vendor ID (3.12: any unique string), in IKE_SA_INIT both ways: a peer that sends it
 * knows our private notifies (IKE_N_MM_ESP_RECEIVED). */
#define IKE_MM_VENDOR_ID "mip4-mobike 1"
#define IKE_MM_VENDOR_ID_LEN (sizeof(IKE_MM_VENDOR_ID) - 1)

/* --- Notify (3.10; RFC 4555 4; RFC 5685; RFC 7383 2.3; RFC 7427 4) ---------------------- */

/* The types this project sends or reads; common/names.h has the full list. */
enum ike_notify_type {
	IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD = 1,
	IKE_N_INVALID_IKE_SPI = 4,
	IKE_N_INVALID_MAJOR_VERSION = 5,
	IKE_N_INVALID_SYNTAX = 7,
	IKE_N_INVALID_MESSAGE_ID = 9,
	IKE_N_INVALID_SPI = 11,
	IKE_N_NO_PROPOSAL_CHOSEN = 14,
	IKE_N_INVALID_KE_PAYLOAD = 17,
	IKE_N_AUTHENTICATION_FAILED = 24,
	IKE_N_SINGLE_PAIR_REQUIRED = 34,
	IKE_N_NO_ADDITIONAL_SAS = 35,
	IKE_N_INTERNAL_ADDRESS_FAILURE = 36,
	IKE_N_FAILED_CP_REQUIRED = 37,
	IKE_N_TS_UNACCEPTABLE = 38,
	IKE_N_INVALID_SELECTORS = 39,
	IKE_N_UNACCEPTABLE_ADDRESSES = 40,         /* RFC 4555 4.1.1 */
	IKE_N_UNEXPECTED_NAT_DETECTED = 41,        /* RFC 4555 4.1.2 */
	IKE_N_TEMPORARY_FAILURE = 43,
	IKE_N_CHILD_SA_NOT_FOUND = 44,
	IKE_N_INITIAL_CONTACT = 16384,
	IKE_N_SET_WINDOW_SIZE = 16385,
	IKE_N_ADDITIONAL_TS_POSSIBLE = 16386,
	IKE_N_IPCOMP_SUPPORTED = 16387,
	IKE_N_NAT_DETECTION_SOURCE_IP = 16388,
	IKE_N_NAT_DETECTION_DESTINATION_IP = 16389,
	IKE_N_COOKIE = 16390,
	IKE_N_USE_TRANSPORT_MODE = 16391,
	IKE_N_HTTP_CERT_LOOKUP_SUPPORTED = 16392,
	IKE_N_REKEY_SA = 16393,
	IKE_N_ESP_TFC_PADDING_NOT_SUPPORTED = 16394,
	IKE_N_NON_FIRST_FRAGMENTS_ALSO = 16395,
	IKE_N_MOBIKE_SUPPORTED = 16396,            /* RFC 4555 4.2.1 */
	IKE_N_ADDITIONAL_IP4_ADDRESS = 16397,      /* RFC 4555 4.2.2 */
	IKE_N_ADDITIONAL_IP6_ADDRESS = 16398,
	IKE_N_NO_ADDITIONAL_ADDRESSES = 16399,     /* RFC 4555 4.2.3 */
	IKE_N_UPDATE_SA_ADDRESSES = 16400,         /* RFC 4555 4.2.4 */
	IKE_N_COOKIE2 = 16401,                     /* RFC 4555 4.2.5 */
	IKE_N_NO_NATS_ALLOWED = 16402,             /* RFC 4555 4.2.6 */
	IKE_N_REDIRECT_SUPPORTED = 16406,          /* RFC 5685 */
	IKE_N_REDIRECT = 16407,
	IKE_N_REDIRECTED_FROM = 16408,
	IKE_N_IKEV2_FRAGMENTATION_SUPPORTED = 16430, /* RFC 7383 2.3 */
	IKE_N_SIGNATURE_HASH_ALGORITHMS = 16431,   /* RFC 7427 4 */
	/* Private use (RFC 7296 3.10.1: status types 40960-65535; a peer that does not know
	 * one ignores it): mip4-mobike's own, sent only to a peer that showed our Vendor ID. */
	IKE_N_MM_ESP_RECEIVED = 49920,             /* ike_notify_esp_received() */
};

/* Error types are 0-16383, status types 16384-65535 (3.10.1). */
static inline bool ike_notify_is_error(uint16_t type) { return type < 16384; }

#define IKE_NAT_DETECTION_LEN 20     /* SHA-1 (2.23) */
#define IKE_COOKIE_MIN 1             /* 2.6 */
#define IKE_COOKIE_MAX 64
#define IKE_COOKIE2_MIN 8            /* RFC 4555 4.2.5 */
#define IKE_COOKIE2_MAX 64
#define IKE_HASH_ALGS_MAX 32

/* RFC 7427 7: hash algorithm identifiers in SIGNATURE_HASH_ALGORITHMS. */
enum ike_hash_alg {
	IKE_HASH_SHA1 = 1,
	IKE_HASH_SHA2_256 = 2,
	IKE_HASH_SHA2_384 = 3,
	IKE_HASH_SHA2_512 = 4,
};

struct ike_notify {
	uint8_t protocol;        /* 0 when there is no SPI (3.10: ignored then) */
	uint8_t spi_size;        /* 0, 4 (AH/ESP) or 8 (IKE) */
	uint8_t spi[IKE_SA_MAX_SPI_LEN];
	uint16_t type;
	struct ike_blob data;
};
/* Decodes the generic fields and checks the data of the types whose format is fixed by the
 * RFCs (lengths of NAT_DETECTION_*, COOKIE, COOKIE2, ADDITIONAL_IP*_ADDRESS, NO_NATS_ALLOWED,
 * SET_WINDOW_SIZE, INVALID_KE_PAYLOAD, SIGNATURE_HASH_ALGORITHMS; empty data of
 * UPDATE_SA_ADDRESSES and the other flag-like types; the SPI of REKEY_SA). */
int ike_notify_decode(const struct ike_payload_ref *p, struct ike_notify *out);
int ike_notify_encode(struct ike_builder *b, const struct ike_notify *n);
/* A notify about the IKE SA (no SPI) with the given data. */
int ike_notify_add(struct ike_builder *b, uint16_t type, const void *data, size_t len);

/* Typed views of the data of decoded notifies; -ENOMSG for another type, -EBADMSG if the data
 * does not fit (only possible for a struct not produced by ike_notify_decode()). */
int ike_notify_nat_detection(const struct ike_notify *n, uint8_t hash[IKE_NAT_DETECTION_LEN]);
int ike_notify_cookie(const struct ike_notify *n, struct ike_blob *cookie); /* COOKIE, COOKIE2 */
int ike_notify_additional_ip4(const struct ike_notify *n, struct in_addr *addr);
int ike_notify_additional_ip6(const struct ike_notify *n, struct in6_addr *addr);
int ike_notify_invalid_ke(const struct ike_notify *n, uint16_t *group);
int ike_notify_rekey_sa(const struct ike_notify *n, uint8_t *protocol, uint32_t *spi);
int ike_notify_hash_algs(const struct ike_notify *n, uint16_t *algs, size_t max, size_t *count);

struct ike_no_nats {             /* RFC 4555 4.2.6 */
	int family;              /* AF_INET or AF_INET6 */
	uint8_t src[16], dst[16];
	uint16_t src_port, dst_port;
};
int ike_notify_no_nats(const struct ike_notify *n, struct ike_no_nats *out);

/* Encoders for the same. */
int ike_notify_add_u16(struct ike_builder *b, uint16_t type, uint16_t value); /* INVALID_KE */
int ike_notify_add_ip4(struct ike_builder *b, uint16_t type, struct in_addr addr);
int ike_notify_add_rekey_sa(struct ike_builder *b, uint8_t protocol, uint32_t spi);
int ike_notify_add_hash_algs(struct ike_builder *b, const uint16_t *algs, size_t count);
/* MM_ESP_RECEIVED (private, in UPDATE_SA_ADDRESSES): "on the Child SA whose inbound SPI is
 * spi I received ESP sequence numbers up to seq" (protocol ESP, SPI size 4, 8 bytes of
 * data: seq, big-endian). The peer then sends again, after the move, only what it sent
 * after seq (daemon/replay.h). */
int ike_notify_esp_received(const struct ike_notify *n, uint32_t *spi, uint64_t *seq);
int ike_notify_add_esp_received(struct ike_builder *b, uint32_t spi, uint64_t seq);

/* --- Delete (3.11) ---------------------------------------------------------------------- */

struct ike_delete {
	uint8_t protocol;        /* IKE: no SPIs; AH/ESP: 4-octet SPIs */
	uint8_t spi_size;
	uint16_t n_spis;
	struct ike_blob spis;    /* n_spis * spi_size octets */
};
int ike_delete_decode(const struct ike_payload_ref *p, struct ike_delete *out);
int ike_delete_encode(struct ike_builder *b, const struct ike_delete *d);
/* ESP/AH: the i-th SPI. */
int ike_delete_spi(const struct ike_delete *d, size_t i, uint32_t *spi);
/* Delete for n ESP or AH SPIs (host order), or for the IKE SA (protocol IKE, n = 0). */
int ike_delete_add(struct ike_builder *b, uint8_t protocol, const uint32_t *spis, size_t n);

/* --- TSi / TSr (3.13) ------------------------------------------------------------------- */

enum ike_ts_type {
	IKE_TS_IPV4_ADDR_RANGE = 7,
	IKE_TS_IPV6_ADDR_RANGE = 8,
};
#define IKE_TS_MAX 16

struct ike_ts {
	uint8_t type;
	uint8_t ip_proto;        /* 0: any */
	uint16_t start_port;     /* 0..65535 is any; 65535..0 is OPAQUE (3.13.1) */
	uint16_t end_port;
	uint8_t start[16];       /* network order; IPv4 uses the first 4 octets */
	uint8_t end[16];
};

struct ike_ts_list {
	uint8_t n;
	uint8_t n_unknown;       /* selectors of types we do not know, skipped */
	struct ike_ts ts[IKE_TS_MAX];
};
int ike_ts_decode(const struct ike_payload_ref *p, struct ike_ts_list *out);
int ike_ts_encode(struct ike_builder *b, uint8_t payload_type, const struct ike_ts_list *l);
/* Fill an IPv4 range selector. */
void ike_ts_set_ipv4(struct ike_ts *ts, uint8_t ip_proto, uint16_t start_port,
		     uint16_t end_port, struct in_addr start, struct in_addr end);

/* --- CP (3.15) -------------------------------------------------------------------------- */

enum ike_cfg_type {
	IKE_CFG_REQUEST = 1,
	IKE_CFG_REPLY = 2,
	IKE_CFG_SET = 3,
	IKE_CFG_ACK = 4,
};

enum ike_cp_attr_type {
	IKE_CP_INTERNAL_IP4_ADDRESS = 1,
	IKE_CP_INTERNAL_IP4_NETMASK = 2,
	IKE_CP_INTERNAL_IP4_DNS = 3,
	IKE_CP_INTERNAL_IP4_NBNS = 4,
	IKE_CP_INTERNAL_IP4_DHCP = 6,
	IKE_CP_APPLICATION_VERSION = 7,
	IKE_CP_INTERNAL_IP6_ADDRESS = 8,
	IKE_CP_INTERNAL_IP6_DNS = 10,
	IKE_CP_INTERNAL_IP6_DHCP = 12,
	IKE_CP_INTERNAL_IP4_SUBNET = 13,
	IKE_CP_SUPPORTED_ATTRIBUTES = 14,
	IKE_CP_INTERNAL_IP6_SUBNET = 15,
};
#define IKE_CP_MAX_ATTRS 32

struct ike_cp_attr {
	uint16_t type;           /* the R bit is dropped (3.15.1: ignored on receipt) */
	struct ike_blob value;
};

struct ike_cp {
	uint8_t cfg_type;
	uint8_t n_attrs;
	struct ike_cp_attr a[IKE_CP_MAX_ATTRS];
};
/* Attribute lengths by type and CFG type (3.15.1): addresses are empty or full length in a
 * request, full length in a reply or set, empty in an ack; INTERNAL_IP4_NETMASK and
 * SUPPORTED_ATTRIBUTES are empty in a request. Unknown types are kept and not checked. */
int ike_cp_decode(const struct ike_payload_ref *p, struct ike_cp *out);
int ike_cp_encode(struct ike_builder *b, const struct ike_cp *cp);
/* Values of 4-octet IPv4 attributes, and of INTERNAL_IP4_SUBNET (address, netmask). */
int ike_cp_attr_ip4(const struct ike_cp_attr *a, struct in_addr *addr);
int ike_cp_attr_ip4_subnet(const struct ike_cp_attr *a, struct in_addr *addr,
			   struct in_addr *mask);

/* --- EAP (3.16) ------------------------------------------------------------------------- */

struct ike_eap {
	uint8_t code;            /* 1 Request, 2 Response, 3 Success, 4 Failure */
	uint8_t identifier;
	struct ike_blob msg;     /* the whole EAP message, opaque to IKE */
};
int ike_eap_decode(const struct ike_payload_ref *p, struct ike_eap *out);
int ike_eap_encode(struct ike_builder *b, const struct ike_eap *eap);

/* --- any payload ------------------------------------------------------------------------ */

/* One decoded payload of any known type (SK and SKF excepted: stage 1 locates those). */
struct ike_payload_value {
	uint8_t type;
	union {
		struct ike_sa_payload sa;
		struct ike_ke ke;
		struct ike_id id;            /* IDi, IDr */
		struct ike_cert cert;        /* CERT, CERTREQ */
		struct ike_auth auth;
		struct ike_blob blob;        /* Nonce, Vendor ID */
		struct ike_notify notify;
		struct ike_delete del;
		struct ike_ts_list ts;       /* TSi, TSr */
		struct ike_cp cp;
		struct ike_eap eap;
	} u;
};
/* Decode by type; SA payloads as an offer in requests and as a choice in responses. */
int ike_payload_decode(const struct ike_payload_ref *p, bool response,
		       struct ike_payload_value *out);
int ike_payload_encode(struct ike_builder *b, const struct ike_payload_value *v);
/* Same type and same decoded values (views compared by content). */
bool ike_payload_equal(const struct ike_payload_value *a, const struct ike_payload_value *b);

#endif
