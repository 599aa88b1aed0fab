/* The AUTH payload (RFC 7296 2.15) for pre-shared keys and RFC 7427 digital signatures, and
 * the certificate checks around it.
 *
 * Both methods sign or MAC the same octets (2.15):
 *	InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI
 *	ResponderSignedOctets = RealMessage2 | NonceIData | MACedIDForR
 *	MACedIDForX = prf(SK_px, IDx')           (IDx': the ID payload body)
 * i.e. the signer's own IKE_SA_INIT message, the peer's nonce, and the MAC of the signer's ID.
 *
 *  - PSK (method 2): AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>).
 *  - Digital Signature (method 14, RFC 7427 3): AUTH data = length (1 octet) | DER
 *    AlgorithmIdentifier | signature. We sign with ecdsa-with-SHA256/384/512 for P-256/384/521
 *    keys (RFC 7427 A.3.2-A.3.4; signature = DER Ecdsa-Sig-Value) and RSASSA-PSS with
 *    SHA-256, MGF1-SHA-256, salt 32 for RSA keys (A.4.3). We verify those plus
 *    sha256/384/512WithRSAEncryption (A.1.2-A.1.4: PKCS#1 v1.5, what strongSwan signs with RSA
 *    unless told to use PSS) and RSASSA-PSS with any SHA-2 parameters; SHA-1 is refused
 *    (RFC 8247 3.2).
 * Certificates: the peer's end-entity certificate must chain to the configured trust anchors
 * (X509_verify_cert, with the peer's other CERT payloads as untrusted intermediates), and the
 * peer's ID must be in it: FQDN as a dNSName, RFC822 as an rfc822Name (or the subject's
 * emailAddress), IPv4 as an iPAddress subjectAltName, DN equal to the subject (3.5, RFC 4945
 * 3.1).
 *
 * Errors: -EACCES verification failed, -ENOTSUP algorithm or key type we do not handle,
 * -EINVAL bad arguments, -EBADMSG undecodable, -ENOSPC output too small, -EIO OpenSSL.
 */
#ifndef MM_IKE_AUTHN_H
#define MM_IKE_AUTHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ike/prf.h"
#include "ike/transform.h"

/* The three parts of the signed octets (2.15). The views stay the caller's. */
struct ike_authn_octets {
	struct ike_bytes real_message;          /* the signer's IKE_SA_INIT message */
	struct ike_bytes nonce;                 /* the other side's nonce */
	uint8_t maced_id[IKE_PRF_MAX_LEN];      /* prf(SK_p, ID') */
	size_t maced_id_len;
};

int ike_authn_octets(struct ike_authn_octets *o, const struct ike_prf_info *prf,
		     const uint8_t *sk_p, size_t sk_p_len, const uint8_t *id_body, size_t id_len,
		     const uint8_t *real_message, size_t real_len, const uint8_t *nonce,
		     size_t nonce_len);

/* PSK AUTH data (prf->len octets into out). */
int ike_authn_psk(const struct ike_prf_info *prf, const uint8_t *psk, size_t psk_len,
		  const struct ike_authn_octets *o, uint8_t *out);
/* 0 when auth (auth_len octets) is the PSK AUTH data, else -EACCES. Constant time. */
int ike_authn_psk_verify(const struct ike_prf_info *prf, const uint8_t *psk, size_t psk_len,
			 const struct ike_authn_octets *o, const uint8_t *auth, size_t auth_len);

/* RFC 7427 AUTH data with key into out (cap octets), *len set. */
#define IKE_AUTHN_SIG_MAX 1200
int ike_authn_sign(EVP_PKEY *key, const struct ike_authn_octets *o, uint8_t *out, size_t cap,
		   size_t *len);
/* Check RFC 7427 AUTH data against the public key of cert. *what (may be NULL) gets a static
 * name of the algorithm for logs. */
int ike_authn_verify(X509 *cert, const uint8_t *data, size_t len,
		     const struct ike_authn_octets *o, const char **what);

/* The peer's certificate chains to trust (X509_STORE *); untrusted may be NULL. On failure
 * why (may be NULL) gets OpenSSL's reason. */
int ike_authn_cert_verify(X509 *cert, STACK_OF(X509) *untrusted, X509_STORE *trust,
			  const char **why);
/* Does the certificate carry the identity (type, data) of 3.5? */
bool ike_authn_cert_has_id(X509 *cert, uint8_t type, const uint8_t *data, size_t len);
/* CERTREQ data (3.7): SHA-1 of the SubjectPublicKeyInfo of every certificate in trust,
 * concatenated (at most cap octets: whole hashes only). */
int ike_authn_certreq(X509_STORE *trust, uint8_t *out, size_t cap, size_t *len);
/* DER subject of cert (for an ID_DER_ASN1_DN identity). */
int ike_authn_cert_subject(X509 *cert, uint8_t *out, size_t cap, size_t *len);

#endif
