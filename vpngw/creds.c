/* Credentials from files (see creds.h). */
#include "vpngw/creds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "vpngw/ident.h"

#define PSK_FILE_MAX 4096     /* a one-line secret file is never larger */

static int fail(char *err, size_t size, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t size, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && size) {
		va_start(ap, fmt);
		vsnprintf(err, size, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Open a file that holds a secret, refusing anything group or others may access. */
static int open_secret(const char *path, char *err, size_t size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int rc;

	if (fd < 0) {
		rc = -errno;
		return fail(err, size, rc, "cannot open %s: %s", path, strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return fail(err, size, rc, "cannot stat %s: %s", path, strerror(-rc));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, size, -EPERM, "%s is not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return fail(err, size, -EPERM, "%s is accessible by group or others (mode %04o): "
			    "chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
	}
	return fd;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void creds_free_psk(uint8_t *psk, size_t len)
{
	if (!psk)
		return;
	OPENSSL_cleanse(psk, len);
	free(psk);
}

int creds_load_psk(const char *path, uint8_t **out, size_t *len, char *err, size_t size)
{
	char text[PSK_FILE_MAX + 2];
	uint8_t *key = NULL;
	size_t n = 0, klen = 0, kcap = 0;
	char *s, *e;
	int fd, rc = 0;

	if (!path || !out || !len)
		return fail(err, size, -EINVAL, "no file");
	fd = open_secret(path, err, size);
	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t r = read(fd, text + n, sizeof(text) - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = fail(err, size, -errno, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == sizeof(text) - 1) {
			rc = fail(err, size, -EFBIG, "%s is too large for a secret (more than %d "
				  "bytes)", path, PSK_FILE_MAX);
			goto out;
		}
	}
	text[n] = '\0';
	if (strlen(text) != n) {
		rc = fail(err, size, -EINVAL, "%s holds a NUL byte: write text or 0x-hex", path);
		goto out;
	}
	s = text;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	if (!*s) {
		rc = fail(err, size, -EINVAL, "%s holds no secret", path);
		goto out;
	}
	if (strchr(s, '\n') || strchr(s, '\r')) {
		rc = fail(err, size, -EINVAL, "%s has more than one line (one secret: text, or "
			  "0x and hex digits)", path);
		goto out;
	}
	kcap = strlen(s) + 1;
	key = malloc(kcap);
	if (!key) {
		rc = -ENOMEM;
		goto out;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		const char *h = s + 2;
		size_t hl = strlen(h);

		if (hl == 0 || hl % 2) {
			rc = fail(err, size, -EINVAL, "the secret in %s is not valid hex (%s "
				  "digits)", path, hl ? "odd number of" : "no");
			goto out;
		}
		for (size_t i = 0; i < hl; i += 2) {
			int hi = hexval(h[i]), lo = hexval(h[i + 1]);

			if (hi < 0 || lo < 0) {
				rc = fail(err, size, -EINVAL, "the secret in %s is not valid hex",
					  path);
				goto out;
			}
			key[klen++] = (uint8_t)(hi << 4 | lo);
		}
	} else {
		klen = strlen(s);
		memcpy(key, s, klen);
	}
	if (klen < CREDS_PSK_MIN) {
		rc = fail(err, size, -EINVAL, "the secret in %s is %zu bytes; at least %d are "
			  "required", path, klen, CREDS_PSK_MIN);
		goto out;
	}
	if (klen > CREDS_PSK_MAX) {
		rc = fail(err, size, -EINVAL, "the secret in %s is %zu bytes; at most %d are "
			  "allowed", path, klen, CREDS_PSK_MAX);
		goto out;
	}
	*out = key;
	*len = klen;
	key = NULL;
out:
	creds_free_psk(key, kcap);
	OPENSSL_cleanse(text, sizeof(text));
	close(fd);
	return rc;
}

int creds_load_cert(const char *path, X509 **out, char *err, size_t size)
{
	FILE *f;
	X509 *x;

	if (!path || !out)
		return fail(err, size, -EINVAL, "no file");
	f = fopen(path, "re");
	if (!f)
		return fail(err, size, -errno, "cannot open %s: %s", path, strerror(errno));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (!x)
		return fail(err, size, -EINVAL, "%s holds no PEM certificate", path);
	*out = x;
	return 0;
}

int creds_load_key(const char *path, EVP_PKEY **out, char *err, size_t size)
{
	EVP_PKEY *k;
	FILE *f;
	int fd;

	if (!path || !out)
		return fail(err, size, -EINVAL, "no file");
	fd = open_secret(path, err, size);
	if (fd < 0)
		return fd;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return fail(err, size, -ENOMEM, "cannot read %s", path);
	}
	/* An empty passphrase callback result: encrypted keys fail instead of prompting. */
	k = PEM_read_PrivateKey(f, NULL, NULL, (void *)"");
	fclose(f);
	ERR_clear_error();
	if (!k)
		return fail(err, size, -EINVAL, "%s holds no unencrypted PEM private key", path);
	*out = k;
	return 0;
}

int creds_load_ca(char *const *paths, size_t n, X509_STORE **out, char *err, size_t size)
{
	X509_STORE *st;

	if (!paths || !n || !out)
		return fail(err, size, -EINVAL, "no file");
	st = X509_STORE_new();
	if (!st)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		STACK_OF(X509_INFO) *infos;
		int certs = 0;
		FILE *f = fopen(paths[i], "re");

		if (!f) {
			int e = errno;

			X509_STORE_free(st);
			return fail(err, size, -e, "cannot open %s: %s", paths[i], strerror(e));
		}
		infos = PEM_X509_INFO_read(f, NULL, NULL, NULL);
		fclose(f);
		for (int k = 0; infos && k < sk_X509_INFO_num(infos); k++) {
			X509_INFO *xi = sk_X509_INFO_value(infos, k);

			if (xi->x509 && X509_STORE_add_cert(st, xi->x509))
				certs++;
		}
		sk_X509_INFO_pop_free(infos, X509_INFO_free);
		ERR_clear_error();
		if (!certs) {
			X509_STORE_free(st);
			return fail(err, size, -EINVAL, "%s holds no PEM certificate", paths[i]);
		}
	}
	*out = st;
	return 0;
}

int creds_subject_id(X509 *cert, struct ike_identity *out)
{
	unsigned char *der = NULL;
	int len;

	if (!cert || !out)
		return -EINVAL;
	len = i2d_X509_NAME(X509_get_subject_name(cert), &der);
	if (len <= 0 || len > IKE_ID_MAX) {
		OPENSSL_free(der);
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	out->type = IDENT_DER_ASN1_DN;
	out->len = (uint16_t)len;
	memcpy(out->data, der, (size_t)len);
	OPENSSL_free(der);
	return 0;
}

bool creds_cert_matches_id(X509 *cert, const struct ike_identity *id)
{
	char name[IKE_ID_MAX + 1];
	const unsigned char *p;
	X509_NAME *dn;
	bool ok;

	if (!cert || !id || id->len > IKE_ID_MAX)
		return false;
	switch (id->type) {
	case IDENT_FQDN:
	case IDENT_RFC822_ADDR:
		memcpy(name, id->data, id->len);
		name[id->len] = '\0';
		if (strlen(name) != id->len)
			return false;
		/* X509_CHECK_FLAG_NO_WILDCARDS: an ID names one host, not a pattern. */
		if (id->type == IDENT_FQDN)
			return X509_check_host(cert, name, id->len,
					       X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
					       X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
		return X509_check_email(cert, name, id->len,
					X509_CHECK_FLAG_NEVER_CHECK_SUBJECT) == 1;
	case IDENT_IPV4_ADDR:
		return id->len == 4 && X509_check_ip(cert, id->data, 4, 0) == 1;
	case IDENT_DER_ASN1_DN:
		p = id->data;
		dn = d2i_X509_NAME(NULL, &p, id->len);
		ok = dn && X509_NAME_cmp(dn, X509_get_subject_name(cert)) == 0;
		X509_NAME_free(dn);
		ERR_clear_error();
		return ok;
	default:
		return false;
	}
}
