/* IKE identities in configuration text and in logs (see ident.h). */
#include "vpngw/ident.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "common/sock.h"

static int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (err && size) {
		va_start(ap, fmt);
		vsnprintf(err, size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int set_bytes(struct ike_identity *out, uint8_t type, const void *data, size_t len,
		     const char *text, char *err, size_t size)
{
	if (len == 0)
		return fail(err, size, "identity \"%s\" is empty", text);
	if (len > IKE_ID_MAX)
		return fail(err, size, "identity \"%.40s...\" is longer than %d bytes", text,
			    IKE_ID_MAX);
	memset(out, 0, sizeof(*out));
	out->type = type;
	out->len = (uint16_t)len;
	memcpy(out->data, data, len);
	return 0;
}

/* Next RDN of a DN text: up to an unescaped ',', unescaping "\," and "\\". */
static const char *next_rdn(const char *p, char *buf, size_t size, bool *too_long)
{
	size_t n = 0;

	*too_long = false;
	while (*p == ' ')
		p++;
	for (; *p && *p != ','; p++) {
		if (*p == '\\' && (p[1] == ',' || p[1] == '\\'))
			p++;
		if (n + 1 >= size) {
			*too_long = true;
			break;
		}
		buf[n++] = *p;
	}
	while (n && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return *p == ',' ? p + 1 : p;
}

static int parse_dn(const char *dn, const char *text, struct ike_identity *out, char *err,
		    size_t size)
{
	X509_NAME *name = X509_NAME_new();
	unsigned char *der = NULL;
	const char *p = dn;
	char rdn[IKE_ID_MAX];
	int len, rc;

	if (!name)
		return -ENOMEM;
	while (*p) {
		bool too_long;
		char *eq;

		p = next_rdn(p, rdn, sizeof(rdn), &too_long);
		if (too_long) {
			rc = fail(err, size, "\"%.40s...\" is not a distinguished name: too long",
				  text);
			goto out;
		}
		eq = strchr(rdn, '=');
		if (!rdn[0] || !eq || eq == rdn || !eq[1]) {
			rc = fail(err, size, "\"%s\" is not a distinguished name: \"%s\" is not "
				  "ATTRIBUTE=value", text, rdn);
			goto out;
		}
		*eq = '\0';
		/* Trim blanks around '=' ("CN = x"). */
		for (char *e = eq; e > rdn && e[-1] == ' ';)
			*--e = '\0';
		{
			const char *v = eq + 1;

			while (*v == ' ')
				v++;
			if (OBJ_txt2nid(rdn) == NID_undef) {
				rc = fail(err, size, "\"%s\" is not a distinguished name: unknown "
					  "attribute \"%s\"", text, rdn);
				goto out;
			}
			if (!X509_NAME_add_entry_by_txt(name, rdn, MBSTRING_UTF8,
							(const unsigned char *)v, -1, -1, 0)) {
				rc = fail(err, size, "\"%s\" is not a distinguished name: bad value "
					  "for %s", text, rdn);
				goto out;
			}
		}
	}
	if (X509_NAME_entry_count(name) == 0) {
		rc = fail(err, size, "\"%s\" is not a distinguished name: no RDN", text);
		goto out;
	}
	len = i2d_X509_NAME(name, &der);
	if (len <= 0) {
		rc = fail(err, size, "\"%s\": cannot encode the distinguished name", text);
		goto out;
	}
	rc = set_bytes(out, IDENT_DER_ASN1_DN, der, (size_t)len, text, err, size);
out:
	OPENSSL_free(der);
	X509_NAME_free(name);
	return rc;
}

static bool has_prefix(const char *s, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);

	if (strncasecmp(s, prefix, n) != 0)
		return false;
	*rest = s + n;
	return true;
}

int ident_parse(const char *text, struct ike_identity *out, char *err, size_t size)
{
	struct ike_identity id;
	struct in_addr a;
	const char *v;
	int rc;

	if (err && size)
		err[0] = '\0';
	if (!text || !out)
		return fail(err, size, "no identity");
	if (!text[0])
		return fail(err, size, "identity is empty");
	memset(&id, 0, sizeof(id));
	if (strcmp(text, "%any") == 0) {
		*out = id;
		return 0;
	}
	if (has_prefix(text, "fqdn:", &v)) {
		rc = set_bytes(&id, IDENT_FQDN, v, strlen(v), text, err, size);
	} else if (has_prefix(text, "email:", &v) || has_prefix(text, "rfc822:", &v) ||
		   has_prefix(text, "userfqdn:", &v)) {
		rc = set_bytes(&id, IDENT_RFC822_ADDR, v, strlen(v), text, err, size);
	} else if (has_prefix(text, "ipv4:", &v)) {
		if (addr4_parse(v, &a) < 0)
			return fail(err, size, "identity \"%s\": \"%s\" is not an IPv4 address",
				    text, v);
		rc = set_bytes(&id, IDENT_IPV4_ADDR, &a.s_addr, 4, text, err, size);
	} else if (has_prefix(text, "dn:", &v)) {
		rc = parse_dn(v, text, &id, err, size);
	} else if (text[0] == '@') {
		rc = set_bytes(&id, IDENT_FQDN, text + 1, strlen(text + 1), text, err, size);
	} else if (strchr(text, ':')) {
		/* A type prefix we do not know (IPv6 identities are not supported either). */
		return fail(err, size, "unknown identity type \"%.*s\" (fqdn, email, dn, ipv4)",
			    (int)(strchr(text, ':') - text), text);
	} else if (strchr(text, '=')) {
		rc = parse_dn(text, text, &id, err, size);
	} else if (strchr(text, '@')) {
		rc = set_bytes(&id, IDENT_RFC822_ADDR, text, strlen(text), text, err, size);
	} else if (addr4_parse(text, &a) == 0) {
		rc = set_bytes(&id, IDENT_IPV4_ADDR, &a.s_addr, 4, text, err, size);
	} else {
		rc = set_bytes(&id, IDENT_FQDN, text, strlen(text), text, err, size);
	}
	if (rc < 0)
		return rc;
	*out = id;
	return 0;
}

static const char *dn_str(const struct ike_identity *id, char *buf, size_t size)
{
	const unsigned char *p = id->data;
	X509_NAME *name = d2i_X509_NAME(NULL, &p, id->len);
	BIO *bio;
	char *text;
	long n;

	if (!name || p != id->data + id->len) {
		X509_NAME_free(name);
		snprintf(buf, size, "(bad DN, %u bytes)", id->len);
		return buf;
	}
	bio = BIO_new(BIO_s_mem());
	/* "C=CH, O=Example, CN=x": RFC 2253 escaping, in the order of the encoding. */
	if (!bio || X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~XN_FLAG_SPC_EQ) < 0 ||
	    (n = BIO_get_mem_data(bio, &text)) < 0) {
		snprintf(buf, size, "(DN, %u bytes)", id->len);
	} else {
		log_sanitize(buf, size, text, (size_t)n);
	}
	BIO_free(bio);
	X509_NAME_free(name);
	return buf;
}

const char *ident_str(const struct ike_identity *id, char *buf, size_t size)
{
	char a[ADDR4_STRLEN];
	struct in_addr in;

	if (!buf || !size)
		return buf;
	if (!id) {
		snprintf(buf, size, "(none)");
		return buf;
	}
	switch (id->type) {
	case 0:
		snprintf(buf, size, "%%any");
		break;
	case IDENT_FQDN:
	case IDENT_RFC822_ADDR:
		log_sanitize(buf, size, id->data, id->len < IKE_ID_MAX ? id->len : IKE_ID_MAX);
		break;
	case IDENT_IPV4_ADDR:
		if (id->len != 4) {
			snprintf(buf, size, "(bad IPv4 identity, %u bytes)", id->len);
			break;
		}
		memcpy(&in.s_addr, id->data, 4);
		snprintf(buf, size, "%s", addr4_str(in, a));
		break;
	case IDENT_DER_ASN1_DN:
		return dn_str(id, buf, size);
	default:
		snprintf(buf, size, "type %u (%u bytes)", id->type, id->len);
		break;
	}
	return buf;
}

bool ident_equal(const struct ike_identity *a, const struct ike_identity *b)
{
	return a->type == b->type && a->len == b->len && a->len <= IKE_ID_MAX &&
	       memcmp(a->data, b->data, a->len) == 0;
}
