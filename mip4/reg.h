/* Mobile IPv4 Registration Request / Registration Reply codec (RFC 5944 §3.3-§3.5), with the
 * extensions we understand:
 *
 *	  0  One-byte Padding                    RFC 5944 §1.8 (no Length byte)
 *	 32  Mobile-Home Authentication          RFC 5944 §3.5.2 (see auth.h)
 *	 33  Mobile-Foreign Authentication       RFC 5944 §3.5.3
 *	 34  Foreign-Home Authentication         RFC 5944 §3.5.4
 *	 44  UDP Tunnel Reply (short format)     RFC 3519 §3.2, non-skippable
 *	130  Encapsulating Delivery Style        RFC 3024 §3.3, skippable
 *	131  Mobile Node NAI                     RFC 2794 §2, skippable
 *	144  UDP Tunnel Request (short format)   RFC 3519 §3.1, skippable
 *	149  Trusted Networks Configured         RFC 5265 §3.4, skippable, short format;
 *	                                         only in replies (a request's is skipped)
 *
 * Messages are the UDP payload only (port 434); the caller owns the IP and UDP headers.
 *
 * Parsing runs in three stages:
 *  1. structure: the fixed part, then a walk over the extensions through the reader. Type 0
 *     is one byte; every other type is Type, Length (8 bits), Data. RFC 5944 §1.10 allows a
 *     16-bit Length ("long format") only for non-skippable types, so a skippable type we do
 *     not know can always be stepped over with its 8-bit Length; a non-skippable type we do
 *     not know cannot be, and the message is refused whole (§1.8).
 *  2. per extension: exact lengths and field values.
 *  3. per message: a rule table says which extensions may appear, how often, and where
 *     relative to the Mobile-Home Authentication extension (RFC 5944 §3.6.1.3, §3.8.3.3,
 *     RFC 2794 §2, RFC 3024 §3.3, RFC 3519 §4.6.1), plus the flag rules.
 *
 * Addresses are struct in_addr (network byte order, as on the wire and as inet_ntop wants).
 * Other integers are host order. Flags are kept exactly as received, reserved bits included,
 * because RFC 5944 §3.3 says "ignored on reception" for the HA but §3.7.2.1 says an FA MUST
 * reject them with code 70: the engine that knows its role decides.
 *
 * Errors (negative errno; the decoded struct is untouched on failure; nothing is logged):
 *	-EBADMSG     malformed: truncated, wrong extension length, bad value
 *	             -> reply 134 (HA) / 70 (FA), poorly formed Request
 *	-EPROTO      well formed but breaks a rule (order, duplicates, flag/extension mismatch)
 *	             -> reply 134 / 70
 *	-ENOKEY      no authorization-enabling (Mobile-Home Authentication) extension where one
 *	             is required -> silently discard (RFC 5944 §3.8.2.1 a, §3.6.2.1 b)
 *	-EOPNOTSUPP  an extension of type 0-127 that we do not recognise
 *	             -> silently discard (RFC 5944 §1.8)
 *	-ENOMSG      not this message type
 *	-EINVAL      (encoders) arguments that would produce a message the parser refuses
 *	-ENOSPC      (encoders) writer too small; nothing was written
 */
#ifndef MM_MIP4_REG_H
#define MM_MIP4_REG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "mip4/auth.h"

/* UDP port of every Mobile IP control message (RFC 5944 §1.8). */
#define MIP4_PORT 434

/* Message types (RFC 5944 §1.8, §6.1; RFC 3519 §3.3). */
#define MIP4_MSG_REG_REQUEST 1
#define MIP4_MSG_REG_REPLY   3
#define MIP4_MSG_TUNNEL_DATA 4

/* Fixed part lengths: Request 24 bytes (§3.3), Reply 20 bytes (§3.4). */
#define MIP4_REQUEST_FIXED_LEN 24
#define MIP4_REPLY_FIXED_LEN   20

/* Registration Request flags, the byte after Type (RFC 5944 §3.3, RFC 3024 §3.2). */
#define MIP4_REQ_S 0x80u /* simultaneous bindings */
#define MIP4_REQ_B 0x40u /* broadcast datagrams */
#define MIP4_REQ_D 0x20u /* decapsulation by the mobile node (co-located care-of address) */
#define MIP4_REQ_M 0x10u /* minimal encapsulation */
#define MIP4_REQ_G 0x08u /* GRE encapsulation */
#define MIP4_REQ_r 0x04u /* reserved, sent as zero */
#define MIP4_REQ_T 0x02u /* reverse tunnelling requested (RFC 3024 §3.2) */
#define MIP4_REQ_x 0x01u /* reserved, sent as zero */
#define MIP4_REQ_RESERVED (MIP4_REQ_r | MIP4_REQ_x)

/* Lifetime values (RFC 5944 §3.3, §3.4). */
#define MIP4_LIFETIME_DEREGISTER 0
#define MIP4_LIFETIME_INFINITE   0xffffu

/* Extension types (RFC 5944 §1.8, §6.3; RFC 3519 §8; RFC 3024 §7; RFC 2794 §6; RFC 5265
 * §3.4). The authentication ones are in auth.h. Types 128-255 are skippable (RFC 5944
 * §1.8). */
#define MIP4_EXT_PAD            0
#define MIP4_EXT_UDP_TUN_REPLY  44
#define MIP4_EXT_EDS            130
#define MIP4_EXT_NAI            131
#define MIP4_EXT_UDP_TUN_REQ    144
#define MIP4_EXT_TNC            149
#define MIP4_EXT_SKIPPABLE_MIN  128

/* Reply codes (RFC 5944 §3.4, §6.4; RFC 3024 §3.4; RFC 2794 §5; RFC 3519 §3.5, §8).
 * common/names.h has the matching names (mip4_reply_code_names). */
enum mip4_reply_code {
	/* Success, 0-8 */
	MIP4_CODE_ACCEPTED = 0,
	MIP4_CODE_ACCEPTED_NO_SIMULTANEOUS = 1,
	/* Denied by the foreign agent, 64-127 */
	MIP4_CODE_FA_UNSPECIFIED = 64,
	MIP4_CODE_FA_ADMIN_PROHIBITED = 65,
	MIP4_CODE_FA_INSUFFICIENT_RESOURCES = 66,
	MIP4_CODE_FA_MN_AUTH_FAILED = 67,
	MIP4_CODE_FA_HA_AUTH_FAILED = 68,
	MIP4_CODE_FA_LIFETIME_TOO_LONG = 69,
	MIP4_CODE_FA_POORLY_FORMED_REQUEST = 70,
	MIP4_CODE_FA_POORLY_FORMED_REPLY = 71,
	MIP4_CODE_FA_ENCAP_UNAVAILABLE = 72,
	MIP4_CODE_FA_RESERVED_UNAVAILABLE = 73,
	MIP4_CODE_FA_REVERSE_TUNNEL_UNAVAILABLE = 74,  /* RFC 3024 §3.4 */
	MIP4_CODE_FA_REVERSE_TUNNEL_MANDATORY = 75,    /* RFC 3024 §3.4 */
	MIP4_CODE_FA_MN_TOO_DISTANT = 76,              /* RFC 3024 §3.4 */
	MIP4_CODE_FA_INVALID_COA = 77,
	MIP4_CODE_FA_REGISTRATION_TIMEOUT = 78,
	MIP4_CODE_FA_DELIVERY_STYLE_UNSUPPORTED = 79,  /* RFC 3024 §3.4 */
	MIP4_CODE_FA_HOME_NET_UNREACHABLE = 80,
	MIP4_CODE_FA_HA_HOST_UNREACHABLE = 81,
	MIP4_CODE_FA_HA_PORT_UNREACHABLE = 82,
	MIP4_CODE_FA_HA_UNREACHABLE = 88,
	MIP4_CODE_FA_NONZERO_HOMEADDR_REQD = 96,       /* RFC 2794 §5 */
	MIP4_CODE_FA_MISSING_NAI = 97,                 /* RFC 2794 §5 */
	MIP4_CODE_FA_MISSING_HOME_AGENT = 98,          /* RFC 2794 §5 */
	MIP4_CODE_FA_MISSING_HOMEADDR = 99,            /* RFC 2794 §5 */
	/* Denied by the home agent, 128-192 */
	MIP4_CODE_HA_UNSPECIFIED = 128,
	MIP4_CODE_HA_ADMIN_PROHIBITED = 129,
	MIP4_CODE_HA_INSUFFICIENT_RESOURCES = 130,
	MIP4_CODE_HA_MN_AUTH_FAILED = 131,
	MIP4_CODE_HA_FA_AUTH_FAILED = 132,
	MIP4_CODE_HA_IDENT_MISMATCH = 133,
	MIP4_CODE_HA_POORLY_FORMED_REQUEST = 134,
	MIP4_CODE_HA_TOO_MANY_BINDINGS = 135,
	MIP4_CODE_HA_UNKNOWN_HA_ADDRESS = 136,
	MIP4_CODE_HA_REVERSE_TUNNEL_UNAVAILABLE = 137,  /* RFC 3024 §3.4 */
	MIP4_CODE_HA_REVERSE_TUNNEL_MANDATORY = 138,    /* RFC 3024 §3.4 */
	MIP4_CODE_HA_ENCAP_UNAVAILABLE = 139,           /* RFC 3024 §3.4 */
	MIP4_CODE_HA_UDP_ENCAP_UNAVAILABLE = 142,       /* RFC 3519 §3.5, §8 */
	/* RFC 5944 §3.4 lists 194 with the FA codes; §6.4 puts 193-200 in the gateway FA range. */
	MIP4_CODE_FA_INVALID_HA_ADDRESS = 194,
};

/* Code classes (RFC 5944 §6.4). */
static inline bool mip4_code_is_success(uint8_t code) { return code <= 8; }
/* A reply the home agent generated (success or an HA denial): it must carry Mobile-Home
 * Authentication (RFC 5944 §3.4, §3.6.2.1 b). */
static inline bool mip4_code_is_from_ha(uint8_t code)
{
	return code <= 8 || (code >= 128 && code <= 192);
}

/* Where a non-authentication extension sat relative to Mobile-Home Authentication: before it
 * means the mobile node (or HA) put it there and the authenticator covers it; after it means
 * a foreign agent appended it (RFC 5944 §3.6.1.3, §3.7.2.2, §3.8.3.3) and only an FA
 * authenticator can vouch for it. In a message without Mobile-Home Authentication (an FA's
 * own denial) every extension counts as "after": nothing from the HA covers it. */
enum mip4_ext_where {
	MIP4_EXT_BEFORE_MN_HA = 0,
	MIP4_EXT_AFTER_MN_HA = 1,
};

/* Mobile Node NAI (RFC 2794 §2). The text is NUL-terminated; NUL bytes on the wire and an
 * empty NAI are refused (-EBADMSG). It is text from the network: log it sanitised. */
#define MIP4_NAI_MAX 255
struct mip4_nai {
	bool present;
	enum mip4_ext_where where;
	uint8_t len;
	char text[MIP4_NAI_MAX + 1];
};

/* UDP Tunnel Request (RFC 3519 §3.1): Type 144, Length 6, Sub-Type 0, Reserved 1,
 * F|R|Reserved 2, Encapsulation, Reserved 3 (16 bits). */
#define MIP4_UDPT_REQ_F 0x80u /* force UDP tunnelling (§3.1.1) */
#define MIP4_UDPT_REQ_R 0x40u /* registration through FA required, co-located CoA (§3.1.2) */
#define MIP4_UDPT_ENCAP_DEFAULT 0  /* follow the M and G bits (§3.1.4) */
#define MIP4_UDPT_ENCAP_IPIP    4  /* RFC 2003 */
#define MIP4_UDPT_ENCAP_GRE     47 /* RFC 2784 */
#define MIP4_UDPT_ENCAP_MINIMAL 55 /* RFC 2004 */
#define MIP4_UDPT_LEN 6
struct mip4_udp_tunnel_req {
	bool present;
	enum mip4_ext_where where;
	uint8_t flags;  /* MIP4_UDPT_REQ_F | MIP4_UDPT_REQ_R; the reserved bits are dropped */
	uint8_t encap;  /* MIP4_UDPT_ENCAP_* (IP protocol number) */
};

/* UDP Tunnel Reply (RFC 3519 §3.2): Type 44, Length 6, Sub-Type 0, Reply Code,
 * F|Reserved (16 bits), Keepalive Interval. */
#define MIP4_UDPT_REPLY_F 0x8000u
#define MIP4_UDPT_CODE_ACCEPT   0  /* will do tunnelling; 0-63 assent (§3.2.1) */
#define MIP4_UDPT_CODE_DECLINED 64 /* declined, reason unspecified; 64-255 decline */
struct mip4_udp_tunnel_reply {
	bool present;
	uint8_t code;
	bool forced;         /* F: tunnelling forced by the request's F flag */
	uint16_t keepalive;  /* seconds; 0 = use the configured default (§3.2) */
};

/* Trusted Networks Configured (RFC 5265 §3.4): Type 149, Length 2, Sub-Type 0, Reserved
 * (sent as 0, ignored on receipt). The internal home agent puts it in every reply to a
 * request from a source inside its trusted networks (§4.3); a mobile node may leave IPsec
 * off only when an authenticated reply of that home agent carries it (§3.2.3, §4.1).
 * Only a TNC before Mobile-Home Authentication is covered by the authenticator (RFC 5944
 * §3.5.1 "all prior Extensions"; §3.8.3.3 b: the HA's extensions for the MN precede it);
 * one after it could have been appended by anybody on the path and proves nothing:
 * mip4_reply_tnc_protected() is the test to use.
 * Parsing: Length 0 (no Sub-Type, RFC 5944 §1.11) -> -EBADMSG; a Sub-Type other than 0 is
 * a member of the type we do not know, whose length we cannot judge: skipped and counted
 * in `skipped`, like any unknown skippable extension (RFC 5944 §1.8; RFC 5265 §7 lets
 * IANA assign more Sub-Types); Sub-Type 0 with a Length other than 2 -> -EBADMSG (as for
 * the UDP Tunnel Request, RFC 3519 §3.1); two of them -> -EPROTO. */
#define MIP4_TNC_LEN 2
#define MIP4_TNC_SUBTYPE 0
struct mip4_tnc {
	bool present;
	enum mip4_ext_where where;
};

struct mip4_reg_request {
	uint8_t flags;              /* MIP4_REQ_*, as received (reserved bits included) */
	uint16_t lifetime;          /* seconds; 0 deregister, 0xffff infinite */
	struct in_addr home_addr;
	struct in_addr home_agent;
	struct in_addr coa;
	uint64_t ident;             /* Identification (RFC 5944 §5.7; see ident.h) */

	struct mip4_nai nai;
	struct mip4_udp_tunnel_req udp_req;
	/* RFC 3519 §3.1.3: a UDP Tunnel Request with nonzero Reserved 3 (or an unknown
	 * Sub-Type) is "not understood and silently skipped"; §4.6.1 says the HA SHOULD then
	 * answer 134. The parser skips it (udp_req stays absent) and sets this flag. */
	bool udp_req_not_understood;
	bool eds;                   /* Encapsulating Delivery Style (RFC 3024 §3.3) present */

	struct mip4_auth_ext mn_ha; /* always present in a parsed request */
	struct mip4_auth_ext mn_fa;
	struct mip4_auth_ext fa_ha;

	unsigned skipped;           /* unknown skippable extensions ignored (§1.8) */
};

struct mip4_reg_reply {
	uint8_t code;               /* enum mip4_reply_code */
	uint16_t lifetime;
	struct in_addr home_addr;
	struct in_addr home_agent;
	uint64_t ident;

	struct mip4_nai nai;
	struct mip4_udp_tunnel_reply udp_reply;
	struct mip4_tnc tnc;        /* RFC 5265 §3.4 */

	struct mip4_auth_ext mn_ha; /* present whenever mip4_code_is_from_ha(code) */
	struct mip4_auth_ext mn_fa;
	struct mip4_auth_ext fa_ha;

	unsigned skipped;
};

/* True when the reply carries a Trusted Networks Configured extension that its Mobile-Home
 * Authentication covers (RFC 5265 §3.4, §4.1; RFC 5944 §3.5.1). Whether that authenticator
 * verifies, and whether the reply is fresh, is for the caller to check (auth.h, ident.h). */
static inline bool mip4_reply_tnc_protected(const struct mip4_reg_reply *rep)
{
	return rep->tnc.present && rep->tnc.where == MIP4_EXT_BEFORE_MN_HA && rep->mn_ha.present;
}

/* The message type of a port-434 datagram (its first byte), or -EBADMSG if empty. */
int mip4_msg_type(const void *msg, size_t len);

/* Parse a Registration Request / Reply (the whole UDP payload). On success *out describes
 * it, including where each authentication extension sits (verify with auth.h against the
 * same buffer). */
int mip4_request_parse(const void *msg, size_t len, struct mip4_reg_request *out);
int mip4_reply_parse(const void *msg, size_t len, struct mip4_reg_reply *out);

/* Encode a Registration Request into w, in the order RFC 5944 §3.6.1.3 requires:
 *	fixed part, NAI, UDP Tunnel Request (both before MN-HA, covered by it),
 *	Mobile-Home Authentication computed with mn_ha (required),
 *	Encapsulating Delivery Style (RFC 3024 §3.3: after MN-HA, before MN-FA),
 *	Mobile-Foreign Authentication with mn_fa (optional, NULL = none).
 * req->nai / req->udp_req / req->eds select the optional extensions (their .where is
 * ignored); the auth fields, skipped and udp_req_not_understood are ignored.
 * Returns the number of bytes written. */
int mip4_request_encode(struct writer *w, const struct mip4_reg_request *req,
			const struct mip4_key *mn_ha, const struct mip4_key *mn_fa);

/* Encode a Registration Reply (RFC 5944 §3.8.3.3): fixed part, NAI, UDP Tunnel Reply,
 * Trusted Networks Configured (rep->tnc.present; its .where is ignored: it always goes
 * before MN-HA, so the authenticator covers it, and needs mn_ha), Mobile-Home
 * Authentication with mn_ha (required when mip4_code_is_from_ha(code), optional for a
 * foreign agent's own denial), then Mobile-Foreign Authentication with mn_fa (optional).
 * Returns the number of bytes written. */
int mip4_reply_encode(struct writer *w, const struct mip4_reg_reply *rep,
		      const struct mip4_key *mn_ha, const struct mip4_key *mn_fa);

/* Bytes mip4_request_encode / mip4_reply_encode would write (for sizing buffers), or
 * -EINVAL for the same argument errors. */
int mip4_request_encoded_len(const struct mip4_reg_request *req, const struct mip4_key *mn_ha,
			     const struct mip4_key *mn_fa);
int mip4_reply_encoded_len(const struct mip4_reg_reply *rep, const struct mip4_key *mn_ha,
			   const struct mip4_key *mn_fa);

/* MIP Tunnel Data message header (RFC 3519 §3.3): Type 4, Next Header, Reserved (16 bits,
 * ignored on reception), followed by the tunnelled packet. */
#define MIP4_TUNNEL_HDR_LEN 4
/* Read the header off r (leaving r at the tunnelled packet); *next_header gets the IP
 * protocol of what follows. -ENOMSG if the type is not 4, -EBADMSG if truncated. */
int mip4_tunnel_hdr_parse(struct reader *r, uint8_t *next_header);
int mip4_tunnel_hdr_encode(struct writer *w, uint8_t next_header);

#endif
