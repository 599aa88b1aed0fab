/* A small hash map from a nonzero 64-bit key (an SPI, or a value derived from one) to a
 * pointer, for the engine's SA lookups (RFC 7296 2.1: by SPI; 2.6: by SPIi and source).
 * Open addressing with linear probing; grows at half load. Keys are spread with a 64-bit mix
 * first, so SPIs an attacker picks do not pile up in one run unless they collide fully.
 */
#ifndef MM_IKE_SPIMAP_H
#define MM_IKE_SPIMAP_H

#include <stddef.h>
#include <stdint.h>

struct ike_spimap_slot {
	uint64_t key;            /* 0: empty or deleted */
	void *val;               /* deleted: key 0, val = the map itself (a tombstone) */
};

struct ike_spimap {
	struct ike_spimap_slot *slot;
	size_t cap;              /* power of two, 0 before the first insert */
	size_t used;             /* live entries */
	size_t dead;             /* tombstones */
};

void ike_spimap_init(struct ike_spimap *m);
void ike_spimap_free(struct ike_spimap *m);
void *ike_spimap_get(const struct ike_spimap *m, uint64_t key);
/* 0, -EEXIST (key present: nothing changed), -ENOMEM, -EINVAL (key 0). */
int ike_spimap_put(struct ike_spimap *m, uint64_t key, void *val);
/* Remove key if it maps to val (NULL: whatever it maps to). */
void ike_spimap_del(struct ike_spimap *m, uint64_t key, const void *val);

#endif
