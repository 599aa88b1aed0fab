/* Credentials from files for vpngw's peers: pre-shared keys, PEM certificates, private keys
 * and trust anchors, loaded with OpenSSL into the objects struct ike_credentials borrows
 * (X509 *, EVP_PKEY *, X509_STORE *).
 *
 * Secret files (psk-file, key) must be regular files that neither group nor others may
 * access (mode 0600 or 0400), as daemon/secret.h demands of every key file. Every function
 * returns 0 or a negative errno with ONE message in err (no file name of the config in it:
 * the caller prefixes "FILE: [group] key: "); outputs are untouched on failure. Buffers that
 * held secret text are wiped (OPENSSL_cleanse).
 */
#ifndef MM_VPNGW_CREDS_H
#define MM_VPNGW_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ike/engine.h"

/* RFC 7296 2.15: the secret should be as strong as the keys it derives; the engine demands
 * at least 16 octets (ike/engine.h). */
#define CREDS_PSK_MIN 16
#define CREDS_PSK_MAX 256

/* A PSK file: one line (a final newline is allowed), blanks around it ignored. "0x" followed
 * by hex digits is the secret in hex; anything else is the secret as text (its bytes).
 * *out is malloc'd: wipe with OPENSSL_cleanse before free (creds_free_psk). */
int creds_load_psk(const char *path, uint8_t **out, size_t *len, char *err, size_t err_size);
void creds_free_psk(uint8_t *psk, size_t len);

/* The first certificate of a PEM file. */
int creds_load_cert(const char *path, X509 **out, char *err, size_t err_size);
/* A PEM private key (unencrypted), in a file of mode 0600/0400. */
int creds_load_key(const char *path, EVP_PKEY **out, char *err, size_t err_size);
/* Trust anchors: every certificate of every PEM file listed. */
int creds_load_ca(char *const *paths, size_t n, X509_STORE **out, char *err, size_t err_size);

/* The certificate's subject as an ID_DER_ASN1_DN identity (the default local-id). */
int creds_subject_id(X509 *cert, struct ike_identity *out);
/* Does the certificate vouch for id (RFC 4945 3.1: subjectAltName dNSName / rfc822Name /
 * iPAddress for FQDN / RFC822 / IPv4 IDs, the subject for DN IDs)? */
bool creds_cert_matches_id(X509 *cert, const struct ike_identity *id);

#endif
