/* IKE identities (RFC 7296 3.5) as written in vpngw.conf and as shown in logs and gwctl.
 *
 * Configuration text, with an optional type prefix (strongSwan's spellings):
 *	fqdn:vpngw.test  or  @vpngw.test          ID_FQDN (2)
 *	email:mn@test  rfc822:mn@test  or  mn@test ID_RFC822_ADDR (3)
 *	ipv4:198.19.0.2  or  198.19.0.2            ID_IPV4_ADDR (1), 4 octets
 *	dn:C=CH, O=Example, CN=vpngw.test  or any text with '=' in it
 *	                                           ID_DER_ASN1_DN (9): the DER Name, RDNs in
 *	                                           the order written (the order a certificate's
 *	                                           subject prints in), ',' separates RDNs, "\,"
 *	                                           is a literal comma
 *	%any                                       type 0: any identity the credentials prove
 * Without a prefix: '@' inside -> email, a dotted quad -> IPv4, '=' -> DN, else FQDN.
 */
#ifndef MM_VPNGW_IDENT_H
#define MM_VPNGW_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#include "ike/engine.h"

/* RFC 7296 3.5 ID Type values. */
#define IDENT_IPV4_ADDR 1
#define IDENT_FQDN 2
#define IDENT_RFC822_ADDR 3
#define IDENT_DER_ASN1_DN 9

/* Parse text into *out. -EINVAL with a message in err (e.g. "unknown identity type
 * \"foo\" (fqdn, email, dn, ipv4)", "\"dn:CN\" is not a distinguished name: \"CN\" has
 * no '='"); *out untouched on failure. */
int ident_parse(const char *text, struct ike_identity *out, char *err, size_t err_size);

/* Printable form for logs and gwctl: FQDN and email as they are, IPv4 dotted, DN as
 * "C=CH, O=Example, CN=x", type 0 as "%any", other types as "type N (LEN bytes)". Bytes
 * from the network are escaped (log_sanitize). Returns buf. */
const char *ident_str(const struct ike_identity *id, char *buf, size_t size);

/* Same type and same bytes. */
bool ident_equal(const struct ike_identity *a, const struct ike_identity *b);

#endif
