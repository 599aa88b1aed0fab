/* Key files (see secret.h). Every buffer that held key text or key bytes is wiped with
 * OPENSSL_cleanse before it is freed. */
#include "daemon/secret.h"
#include "daemon/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"

static void prog_logger(struct logger *lg)
{
	const char *p = g_get_prgname();

	logger_init(lg, "%s", p ? p : "secret");
}

/* A buffer that is wiped when released. */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void sbuf_release(struct sbuf *b)
{
	if (b->p) {
		OPENSSL_cleanse(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

/* Read a key file after checking what it is; text is NUL-terminated. */
static int read_secret_file(const char *path, struct sbuf *out, const struct logger *lg)
{
	struct sbuf b = { 0 };
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		LOG_ERROR(lg, "cannot open key file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		LOG_ERROR(lg, "cannot stat key file %s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		LOG_ERROR(lg, "key file %s is not a regular file", path);
		rc = -EPERM;
		goto out;
	}
	if (st.st_mode & 077) {
		LOG_ERROR(lg, "key file %s is accessible by group or others (mode %04o): "
			  "chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
		rc = -EPERM;
		goto out;
	}
	if (st.st_size > SECRET_MAX_FILE) {
		LOG_ERROR(lg, "key file %s is too large (%lld bytes; at most %d)", path,
			  (long long)st.st_size, SECRET_MAX_FILE);
		rc = -EFBIG;
		goto out;
	}
	/* The file's size now, plus room to notice that it grew while we read it. */
	b.cap = (size_t)st.st_size + 2;
	b.p = malloc(b.cap);
	if (!b.p) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, b.p + b.len, b.cap - 1 - b.len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			LOG_ERROR(lg, "cannot read key file %s: %s", path, strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		if (b.len == b.cap - 1) {
			LOG_ERROR(lg, "key file %s changed while it was read (%lld bytes at first); "
				  "write key files atomically (temporary file + rename)", path,
				  (long long)st.st_size);
			rc = -EAGAIN;
			goto out;
		}
	}
	b.p[b.len] = '\0';
	*out = b;
	b.p = NULL;
out:
	sbuf_release(&b);
	close(fd);
	return rc;
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

/* Decode s[0..n) (hex digits only, even count) into out (n / 2 bytes). */
static bool hex_decode(const char *s, size_t n, uint8_t *out)
{
	if (n == 0 || n % 2)
		return false;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Cut the text at '#' and split a line into white-space separated fields (in place). */
static size_t split_fields(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *hash = strchr(line, '#');

	if (hash)
		*hash = '\0';
	for (char *p = line; *p;) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		if (n < max)
			fields[n] = p;
		n++;
		while (*p && !is_space(*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

int secret_load_hex(const char *path, uint8_t *out, size_t cap, size_t min_len, size_t *len)
{
	struct logger lg;
	struct sbuf text = { 0 };
	char *fields[2], *line, *save = NULL;
	const char *hex = NULL;
	uint8_t *key = NULL;
	size_t nkey = 0, hexlen;
	int rc;

	if (!path || !out || !len)
		return -EINVAL;
	prog_logger(&lg);
	rc = read_secret_file(path, &text, &lg);
	if (rc < 0)
		return rc;
	for (line = strtok_r(text.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t nf = split_fields(line, fields, 2);

		if (nf == 0)
			continue;
		if (nf > 1 || hex) {
			LOG_ERROR(&lg, "key in %s is not valid hex (expected one line of hex "
				  "digits)", path);
			rc = -EINVAL;
			goto out;
		}
		hex = fields[0];
	}
	if (!hex) {
		LOG_ERROR(&lg, "%s holds no key", path);
		rc = -EINVAL;
		goto out;
	}
	hexlen = strlen(hex);
	nkey = hexlen / 2;
	key = malloc(nkey ? nkey : 1);
	if (!key) {
		rc = -ENOMEM;
		goto out;
	}
	if (!hex_decode(hex, hexlen, key)) {
		LOG_ERROR(&lg, "key in %s is not valid hex (an even number of 0-9a-f digits)",
			  path);
		rc = -EINVAL;
	} else if (nkey < min_len) {
		LOG_ERROR(&lg, "key in %s is %zu bytes; at least %zu are required", path, nkey,
			  min_len);
		rc = -EINVAL;
	} else if (nkey > cap) {
		LOG_ERROR(&lg, "key in %s is %zu bytes; at most %zu fit", path, nkey, cap);
		rc = -EINVAL;
	} else {
		memcpy(out, key, nkey);
		*len = nkey;
	}
out:
	if (key) {
		OPENSSL_cleanse(key, nkey ? nkey : 1);
		free(key);
	}
	sbuf_release(&text);
	return rc;
}

struct table_entry {
	struct in_addr home;
	uint32_t spi;
	unsigned line;
	size_t key_len;
	uint8_t key[SECRET_MAX_KEY_LEN];
};

/* One table line into *e; logs "FILE:LINE: reason" on error. */
static int parse_table_line(const char *path, unsigned lineno, char **f, size_t nf,
			    struct table_entry *e, const struct logger *lg)
{
	size_t hexlen;
	int rc;

	if (nf != 3) {
		LOG_ERROR(lg, "%s:%u: expected HOME-ADDRESS SPI HEXKEY, found %zu field%s", path,
			  lineno, nf, nf == 1 ? "" : "s");
		return -EINVAL;
	}
	if (addr4_parse(f[0], &e->home) < 0) {
		LOG_ERROR(lg, "%s:%u: \"%s\" is not an IPv4 address", path, lineno, f[0]);
		return -EINVAL;
	}
	rc = cfg_parse_u32(f[1], &e->spi);
	if (rc == -EINVAL) {
		LOG_ERROR(lg, "%s:%u: SPI \"%s\" is not a decimal number", path, lineno, f[1]);
		return -EINVAL;
	}
	if (rc == -ERANGE) {
		LOG_ERROR(lg, "%s:%u: SPI %s is out of range (256..4294967295)", path, lineno,
			  f[1]);
		return -EINVAL;
	}
	if (e->spi < 256) {   /* RFC 5944 §1.6: SPI values 0 through 255 are reserved */
		LOG_ERROR(lg, "%s:%u: SPI %u is reserved (must be >= 256)", path, lineno,
			  (unsigned)e->spi);
		return -EINVAL;
	}
	hexlen = strlen(f[2]);
	if (hexlen % 2 || hexlen / 2 > SECRET_MAX_KEY_LEN || !hex_decode(f[2], hexlen, e->key)) {
		if (hexlen % 2 == 0 && hexlen / 2 > SECRET_MAX_KEY_LEN)
			LOG_ERROR(lg, "%s:%u: key is %zu bytes; at most %d fit", path, lineno,
				  hexlen / 2, SECRET_MAX_KEY_LEN);
		else
			LOG_ERROR(lg, "%s:%u: key is not valid hex (an even number of 0-9a-f "
				  "digits)", path, lineno);
		return -EINVAL;
	}
	e->key_len = hexlen / 2;
	if (e->key_len < SECRET_MIN_KEY_LEN) {
		LOG_ERROR(lg, "%s:%u: key is %zu bytes; at least %d are required", path, lineno,
			  e->key_len, SECRET_MIN_KEY_LEN);
		return -EINVAL;
	}
	e->line = lineno;
	return 0;
}

static int cmp_entry_ptr(const void *a, const void *b)
{
	const struct table_entry *x = *(const struct table_entry *const *)a;
	const struct table_entry *y = *(const struct table_entry *const *)b;
	uint32_t hx = ntohl(x->home.s_addr), hy = ntohl(y->home.s_addr);

	if (hx != hy)
		return hx < hy ? -1 : 1;
	if (x->spi != y->spi)
		return x->spi < y->spi ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* One (home address, SPI) pair, one key (RFC 5944 3.5.1: the SPI indexes the mobility
 * security association). Sorting makes this O(n log n) -- a table of 100,000 mobile nodes
 * took 13 s with the pairwise check. The error names the first repeated line of the file and
 * the line that defined the pair first, as reading in order would. */
static int check_duplicates(const char *path, struct table_entry *tab, size_t n,
			    struct logger *lg)
{
	const struct table_entry **p, *dup = NULL, *first = NULL;
	char a[ADDR4_STRLEN];

	if (n < 2)
		return 0;
	p = calloc(n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		p[i] = &tab[i];
	qsort(p, n, sizeof(*p), cmp_entry_ptr);
	for (size_t i = 1, run = 0; i < n; i++) {
		if (p[i]->home.s_addr != p[run]->home.s_addr || p[i]->spi != p[run]->spi) {
			run = i;
			continue;
		}
		if (!dup || p[i]->line < dup->line) {
			dup = p[i];
			first = p[run];
		}
	}
	free(p);
	if (!dup)
		return 0;
	LOG_ERROR(lg, "%s:%u: %s SPI %u is already defined on line %u", path, dup->line,
		  addr4_str(dup->home, a), (unsigned)dup->spi, first->line);
	return -EINVAL;
}

int secret_load_keys_table(const char *path, secret_key_fn cb, void *user)
{
	struct logger lg;
	struct sbuf text = { 0 };
	struct table_entry *tab = NULL;
	size_t n = 0, cap = 0;
	unsigned lineno = 0;
	char *line, *next;
	int rc;

	if (!path || !cb)
		return -EINVAL;
	prog_logger(&lg);
	rc = read_secret_file(path, &text, &lg);
	if (rc < 0)
		return rc;
	for (line = text.p; line; line = next) {
		char *f[4];
		size_t nf;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		nf = split_fields(line, f, 4);
		if (nf == 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct table_entry *t = calloc(ncap, sizeof(*t));

			if (!t) {
				rc = -ENOMEM;
				goto out;
			}
			if (tab) {
				memcpy(t, tab, n * sizeof(*t));
				OPENSSL_cleanse(tab, cap * sizeof(*tab));
				free(tab);
			}
			tab = t;
			cap = ncap;
		}
		rc = parse_table_line(path, lineno, f, nf, &tab[n], &lg);
		if (rc < 0)
			goto out;
		n++;
	}
	rc = check_duplicates(path, tab, n, &lg);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		rc = cb(user, tab[i].home, tab[i].spi, tab[i].key, tab[i].key_len, tab[i].line);
		if (rc < 0)
			goto out;
	}
	rc = (int)n;
out:
	if (tab) {
		OPENSSL_cleanse(tab, cap * sizeof(*tab));
		free(tab);
	}
	sbuf_release(&text);
	return rc;
}
