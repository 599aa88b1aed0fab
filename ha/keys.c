/* The home agent's keys, loaded through daemon/secret.h. See keys.h. */
#include "ha/keys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "daemon/secret.h"

struct ha_key_entry {
	uint32_t hoa;                /* host order, for sorting */
	struct mip4_key key;
};

struct ha_keys {
	size_t n, cap;
	struct ha_key_entry *e;
};

static void entries_free(struct ha_key_entry *e, size_t cap)
{
	if (!e)
		return;
	OPENSSL_cleanse(e, cap * sizeof(*e));
	free(e);
}

void ha_keys_free(struct ha_keys *k)
{
	if (!k)
		return;
	entries_free(k->e, k->cap);
	free(k);
}

size_t ha_keys_count(const struct ha_keys *k) { return k ? k->n : 0; }

static int cmp_entry(const void *a, const void *b)
{
	const struct ha_key_entry *x = a, *y = b;

	if (x->hoa != y->hoa)
		return x->hoa < y->hoa ? -1 : 1;
	if (x->key.spi != y->key.spi)
		return x->key.spi < y->key.spi ? -1 : 1;
	return 0;
}

int ha_keys_lookup(void *ctx, struct in_addr hoa, uint32_t spi, struct mip4_key *out)
{
	const struct ha_keys *k = ctx;
	struct ha_key_entry probe;
	const struct ha_key_entry *hit;

	if (!k || !out)
		return -EINVAL;
	memset(&probe, 0, sizeof(probe));
	probe.hoa = ntohl(hoa.s_addr);
	probe.key.spi = spi;
	hit = k->n ? bsearch(&probe, k->e, k->n, sizeof(*k->e), cmp_entry) : NULL;
	if (!hit)
		return -ENOENT;
	*out = hit->key;
	return 0;
}

static int add_key(void *user, struct in_addr home, uint32_t spi, const uint8_t *key,
		   size_t key_len, unsigned line)
{
	struct ha_keys *k = user;

	(void)line;
	if (k->n == k->cap) {
		/* Grow by copying, so that no copy of a key is left behind by realloc. */
		size_t ncap = k->cap ? k->cap * 2 : 16;
		struct ha_key_entry *e = calloc(ncap, sizeof(*e));

		if (!e)
			return -ENOMEM;
		if (k->n)
			memcpy(e, k->e, k->n * sizeof(*e));
		entries_free(k->e, k->cap);
		k->e = e;
		k->cap = ncap;
	}
	k->e[k->n].hoa = ntohl(home.s_addr);
	if (mip4_key_set(&k->e[k->n].key, spi, key, key_len) < 0)
		return -EINVAL;
	k->n++;
	return 0;
}

int ha_keys_load(const char *path, struct ha_keys **out)
{
	struct ha_keys *k;
	int rc;

	if (!path || !out)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	rc = secret_load_keys_table(path, add_key, k);
	if (rc < 0) {
		ha_keys_free(k);
		return rc;
	}
	if (k->n)
		qsort(k->e, k->n, sizeof(*k->e), cmp_entry);
	*out = k;
	return 0;
}
