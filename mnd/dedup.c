/* Duplicate filter after a move. See dedup.h. */
#include "mnd/dedup.h"

#include <string.h>

void mnd_dedup_init(struct mnd_dedup *d)
{
	memset(d, 0, sizeof(*d));
}

/* A 64-bit multiply-xorshift mix over 8-byte words: not cryptographic (an attacker who can
 * inject packets into our tunnel can drop them anyway), just fast and well spread. */
uint64_t mnd_dedup_digest(const uint8_t *pkt, size_t len)
{
	const uint64_t k = 0x9e3779b97f4a7c15ull;
	uint64_t h = 0x243f6a8885a308d3ull ^ (uint64_t)len;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, pkt + i, 8);
		h ^= w;
		h *= k;
		h ^= h >> 29;
	}
	if (i < len) {
		uint64_t w = 0;

		memcpy(&w, pkt + i, len - i);
		h ^= w;
		h *= k;
		h ^= h >> 29;
	}
	h ^= h >> 32;
	h *= k;
	return h ^ (h >> 31);
}

bool mnd_dedup_seen(struct mnd_dedup *d, const uint8_t *pkt, size_t len, bool check)
{
	uint64_t h = mnd_dedup_digest(pkt, len);

	if (check) {
		for (unsigned i = 0; i < d->used; i++)
			if (d->digest[i] == h)
				return true;
	}
	d->digest[d->next] = h;
	d->next = (d->next + 1) % DEDUP_RING;
	if (d->used < DEDUP_RING)
		d->used++;
	return false;
}
