/* IKEv2 message codec, stage 1 of 3: the IKE header (RFC 7296 3.1) and the generic payload
 * chain (3.2), plus the message builder every encoder writes through.
 *
 * Parsing runs in three stages (docs/ARCHITECTURE.md, DESIGN.md "Parse in three stages"):
 *  1. here: header fields, then a walk over Next Payload / Critical / Payload Length through
 *     the reader. The result is a fixed-capacity list of (type, critical, body view) with no
 *     allocation. An Encrypted (SK, 46) or Encrypted Fragment (SKF, 53, RFC 7383 2.5) payload
 *     ends the walk: it must be the last payload (3.14) and is only located, never opened.
 *     The crypto layer decrypts it; ike_chain_parse() then walks the decrypted inner chain,
 *     whose first type is the SK payload's Next Payload field.
 *  2. payload.h: per-payload decode/encode with exact lengths and ranges.
 *  3. rules.h: per-exchange tables (which payloads, how many, inside SK or not).
 *
 * Messages are the UDP payload (port 500) or what follows the four zero octets of the
 * non-ESP marker (port 4500, RFC 3948 2.2): the caller strips the marker.
 *
 * Errors (negative errno; *out untouched on failure; nothing is logged; err, when not NULL,
 * says what and where, for one clear log line in the layer that decides):
 *	-EBADMSG          malformed: truncated, a length that does not add up, Length field not
 *	                  equal to the datagram length, SK/SKF not last, SK inside SK, bad SKF
 *	                  fragment numbers (RFC 7383 2.6: discard silently)
 *	-EPROTONOSUPPORT  major version is not 2 (3.1); err->notify is INVALID_MAJOR_VERSION when
 *	                  it is greater than 2 and the message is a request (2.5, 1.5)
 *	-EOPNOTSUPP       a payload type we do not know with the critical bit set (2.5, 3.2);
 *	                  err->payload_type is that type, err->notify UNSUPPORTED_CRITICAL_PAYLOAD
 *	                  when the message is a request (its one-octet data is the type)
 *	-E2BIG            more than IKE_MAX_PAYLOADS payloads in one chain
 *	-ENOSPC           (builder) the writer is too small
 *	-EMSGSIZE         (builder) a payload longer than 65535 octets
 *	-EINVAL           (builder) calls out of order or arguments the parser would refuse
 */
#ifndef MM_IKE_MSG_H
#define MM_IKE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* UDP ports (RFC 7296 2, 2.23). */
#define IKE_PORT      500
#define IKE_NATT_PORT 4500

/* 3.1, Figure 4 (ike/sk_crypt.h defines the same value under the same name). */
#ifndef IKE_HDR_LEN
#define IKE_HDR_LEN 28
#endif
#define IKE_GENERIC_HDR_LEN 4    /* 3.2, Figure 5 */
#define IKE_SKF_FRAG_LEN    4    /* Fragment Number + Total Fragments (RFC 7383 2.5) */
#define IKE_PAYLOAD_MAX_LEN 65535

/* Version octet: major 2, minor 0 (3.1). */
#define IKE_VERSION_MAJOR 2
#define IKE_VERSION       0x20

/* Upper bound on payloads in one chain (outer or inner). Real messages carry a dozen or two
 * (certificate chains: RFC 7296 3.6 asks for up to four); more is refused, not truncated. */
#define IKE_MAX_PAYLOADS 64

/* Exchange types (3.1). common/names.h: ikev2_exchange_names. */
enum ike_exchange {
	IKE_EXCH_SA_INIT = 34,
	IKE_EXCH_AUTH = 35,
	IKE_EXCH_CREATE_CHILD_SA = 36,
	IKE_EXCH_INFORMATIONAL = 37,
};

/* Header flags (3.1): Response, Version (higher major supported), Initiator. The X bits are
 * sent as zero and ignored. */
#define IKE_FLAG_R 0x20u
#define IKE_FLAG_V 0x10u
#define IKE_FLAG_I 0x08u

/* Payload types (3.2; RFC 7383 2.5 for SKF). common/names.h: ikev2_payload_names. */
enum ike_payload_type {
	IKE_PT_NONE = 0,
	IKE_PT_SA = 33,
	IKE_PT_KE = 34,
	IKE_PT_IDI = 35,
	IKE_PT_IDR = 36,
	IKE_PT_CERT = 37,
	IKE_PT_CERTREQ = 38,
	IKE_PT_AUTH = 39,
	IKE_PT_NONCE = 40,
	IKE_PT_NOTIFY = 41,
	IKE_PT_DELETE = 42,
	IKE_PT_VENDOR = 43,
	IKE_PT_TSI = 44,
	IKE_PT_TSR = 45,
	IKE_PT_SK = 46,
	IKE_PT_CP = 47,
	IKE_PT_EAP = 48,
	IKE_PT_SKF = 53,
};

/* A type this codec decodes (33-48, 53). Anything else is skipped when not critical. */
bool ike_payload_type_known(uint8_t type);

/* The IKE header (3.1), integers in host order. */
struct ike_header {
	uint64_t spi_i;
	uint64_t spi_r;
	uint8_t next_payload;
	uint8_t version;      /* major in the high nibble; the minor nibble is ignored (3.1) */
	uint8_t exchange;
	uint8_t flags;        /* as received, X bits included */
	uint32_t msg_id;
	uint32_t length;
};

static inline bool ike_hdr_is_response(const struct ike_header *h)
{
	return (h->flags & IKE_FLAG_R) != 0;
}

static inline bool ike_hdr_from_initiator(const struct ike_header *h)
{
	return (h->flags & IKE_FLAG_I) != 0;
}

/* One payload of a chain: where its generic header starts and a view of its body (what follows
 * the 4-octet generic header). The view points into the caller's buffer. */
struct ike_payload_ref {
	uint8_t type;
	bool critical;
	size_t offset;           /* of the generic header, in the buffer given to the parser */
	const uint8_t *body;
	size_t body_len;
};

/* A reader over a payload's body, for the stage 2 decoders. */
static inline void ike_payload_reader(const struct ike_payload_ref *p, struct reader *r)
{
	reader_init(r, p->body, p->body_len);
}

/* The known payloads of one chain, in order. Unknown non-critical payloads are skipped (2.5)
 * and only counted. */
struct ike_chain {
	size_t count;
	size_t skipped;
	struct ike_payload_ref p[IKE_MAX_PAYLOADS];
};

/* Where an SK or SKF payload sits in the message (3.14; RFC 7383 2.5). Everything from
 * data_off to the end of the message is IV | ciphertext | ICV; the crypto layer, which knows
 * the IV and ICV lengths, splits it (ike_msg_sk_split()). */
struct ike_msg_sk {
	bool present;
	uint8_t type;            /* IKE_PT_SK or IKE_PT_SKF */
	uint8_t inner_first;     /* Next Payload: type of the first inner payload (0 in SKF #2..) */
	bool critical;
	uint16_t frag_num;       /* SKF only: 1..frag_total */
	uint16_t frag_total;
	size_t hdr_off;          /* generic header of the SK/SKF payload */
	size_t data_off;         /* first octet of the IV */
	size_t data_len;         /* IV + ciphertext + ICV */
};

struct ike_msg {
	struct ike_header hdr;
	struct ike_chain chain;  /* payloads before SK/SKF (all of them when there is none) */
	struct ike_msg_sk sk;
};

/* What went wrong, for the log line and the answer. */
struct ike_parse_error {
	const char *what;        /* static text, e.g. "payload length shorter than its header" */
	size_t offset;           /* where in the buffer */
	uint8_t payload_type;    /* the payload concerned, 0 if none */
	uint16_t notify;         /* notify to answer with (requests only), 0: drop silently */
};

/* Stage 1 over a whole message of len octets. */
int ike_msg_parse(const uint8_t *data, size_t len, struct ike_msg *out,
		  struct ike_parse_error *err);

/* Header only (for SPI lookup before anything else); checks the version and that Length
 * equals len, but not the payloads. */
int ike_hdr_parse(const uint8_t *data, size_t len, struct ike_header *out,
		  struct ike_parse_error *err);

/* Walk a decrypted inner chain (the content of SK, padding and Pad Length removed): data is
 * exactly the inner payloads, first_type is the SK payload's Next Payload. base_off is added
 * to every reported offset (the position of data inside the message, for logs). SK and SKF
 * are refused inside (3.14). is_request selects whether err->notify is filled. */
int ike_chain_parse(const uint8_t *data, size_t len, uint8_t first_type, size_t base_off,
		    bool is_request, struct ike_chain *out, struct ike_parse_error *err);

/* Regions of an SK/SKF payload once the suite is known: iv_len octets of IV, then the
 * ciphertext, then icv_len octets of ICV (3.14; RFC 5282 3; RFC 7634 3). Fails with -EBADMSG
 * when the payload is too short to hold IV + ICV + the Pad Length octet. */
struct ike_sk_regions {
	size_t iv_off;
	size_t ct_off;
	size_t ct_len;
	size_t icv_off;
};
int ike_msg_sk_split(const struct ike_msg_sk *sk, size_t iv_len, size_t icv_len,
		     struct ike_sk_regions *out);

/* --- builder --------------------------------------------------------------------------- */

/* Builds a message (or a bare payload chain) into a writer. Every payload encoder in
 * payload.h appends through ike_build_payload_begin()/end(), which chain the Next Payload
 * fields; the IKE header Length and each Payload Length are patched in place.
 *
 * Message with an Encrypted payload, protected by ike/sk_crypt.h (which reserves the IV,
 * pads, patches both lengths and encrypts):
 *	ike_build_start(&b, &w, &hdr);
 *	(payloads that go in the clear, if any)
 *	ike_build_sk_begin(&b, IKE_PT_SK, 0, 0, 0);        SK header only
 *	ike_sk_protect_begin(ctx, &w, b.start, b.sk_off, IKE_SK_ENCRYPTED, &f);
 *	(inner payloads: their chain starts at the SK payload's Next Payload field)
 *	ike_build_sk_close(&b);
 *	ike_sk_protect_end(ctx, &w, &f);
 * Or with the builder doing the layout (tests, fuzzing, another crypto layer):
 *	ike_build_sk_begin(&b, IKE_PT_SK, 0, 0, iv_len);   reserves the IV
 *	(inner payloads)
 *	ike_build_sk_end(&b, block_len, icv_len, &layout); padding, Pad Length, room for the ICV;
 *	                                                   patches the SK and message lengths
 *	then write the IV, encrypt [plain_off, icv_off) in place and write the ICV: all lengths
 *	it authenticates are already final.
 * Message without SK: ike_build_start(), payloads, ike_build_finish().
 *
 * Errors are sticky: after the first failure every call returns the same error. */
struct ike_builder {
	struct writer *w;
	size_t start;            /* offset of the IKE header (or of the chain) in the writer */
	bool has_header;
	size_t np_off;           /* the Next Payload octet the next payload's type goes into */
	size_t open_off;         /* generic header of the payload being written; SIZE_MAX: none */
	int state;               /* internal: clear / in SK / SK holds raw octets / done */
	size_t sk_off;
	size_t sk_iv_off;
	size_t sk_plain_off;
	uint8_t first;           /* bare chain: type of its first payload */
	int err;
};

/* Where the SK payload's parts are in the writer, for the crypto layer. */
struct ike_build_sk_layout {
	size_t msg_off;          /* start of the IKE header */
	size_t sk_off;           /* SK/SKF generic header */
	size_t iv_off;
	size_t iv_len;
	size_t plain_off;        /* first octet of the inner payloads */
	size_t plain_len;        /* inner payloads only */
	size_t pad_len;          /* Padding octets (zeros) after them; then the Pad Length octet */
	size_t icv_off;          /* ciphertext is [plain_off, icv_off) */
	size_t icv_len;
	size_t msg_len;          /* IKE header Length = total octets */
};

/* Start a message: writes the header with Next Payload 0 and Length 0 (patched later).
 * hdr->next_payload and hdr->length are ignored; hdr->version 0 means IKE_VERSION (2.0). */
int ike_build_start(struct ike_builder *b, struct writer *w, const struct ike_header *hdr);
/* Start a bare payload chain (no IKE header): the inner payloads of an SK built separately,
 * or ID payload bodies for the AUTH octets. The first payload's type is reported by
 * ike_build_chain_first(). */
int ike_build_start_chain(struct ike_builder *b, struct writer *w);
uint8_t ike_build_chain_first(const struct ike_builder *b);

/* Open a payload of the given type: chains it, writes its generic header (critical bit
 * clear, 3.2: "MUST be set to zero for payload types defined in this document") and returns
 * its offset in *hdr_off. The body is then written through b->w. */
int ike_build_payload_begin(struct ike_builder *b, uint8_t type, size_t *hdr_off);
/* Close it: patches its Payload Length (-EMSGSIZE above 65535). */
int ike_build_payload_end(struct ike_builder *b, size_t hdr_off);
/* A whole payload whose body is given (Vendor ID, Nonce, opaque ones). */
int ike_build_raw(struct ike_builder *b, uint8_t type, const void *body, size_t len);

/* Open the Encrypted payload (type IKE_PT_SK) or an Encrypted Fragment (IKE_PT_SKF with
 * frag_num/frag_total, RFC 7383 2.5) and reserve iv_len zero octets for the IV. */
int ike_build_sk_begin(struct ike_builder *b, uint8_t type, uint16_t frag_num,
		       uint16_t frag_total, size_t iv_len);
/* Put raw plaintext into an open SKF (a chunk of the original SK content, RFC 7383 2.5):
 * next_payload is the Next Payload to declare (the first inner type in fragment 1, else 0). */
int ike_build_sk_raw(struct ike_builder *b, uint8_t next_payload, const void *data,
		     size_t len);
/* Close the SK payload: appends the minimum zero Padding so that inner payloads + Padding +
 * Pad Length is a multiple of block_len (1 for none; 3.14), the Pad Length octet and icv_len
 * zero octets for the ICV; patches the SK Payload Length and the header Length. */
int ike_build_sk_end(struct ike_builder *b, size_t block_len, size_t icv_len,
		     struct ike_build_sk_layout *out);
/* Close the SK payload without writing anything after the inner payloads; the SK Payload
 * Length and the header Length are set to what has been written (the crypto layer appends
 * its trailer and sets them again, ike_sk_protect_end()). */
int ike_build_sk_close(struct ike_builder *b);
/* Finish a message without SK (patches Length) or a bare chain. *len (may be NULL) receives
 * the octets written since ike_build_start*(). Calling it after ike_build_sk_end() only
 * or ike_build_sk_close() only reports the length. */
int ike_build_finish(struct ike_builder *b, size_t *len);

#endif
