/* SPI hash map. See spimap.h. */
#include "ike/spimap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64 finaliser. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

void ike_spimap_init(struct ike_spimap *m)
{
	memset(m, 0, sizeof(*m));
}

void ike_spimap_free(struct ike_spimap *m)
{
	free(m->slot);
	memset(m, 0, sizeof(*m));
}

static struct ike_spimap_slot *find(const struct ike_spimap *m, uint64_t key)
{
	if (!m->cap || !key)
		return NULL;
	for (size_t i = mix(key) & (m->cap - 1), n = 0; n < m->cap; n++, i = (i + 1) & (m->cap - 1)) {
		struct ike_spimap_slot *s = &m->slot[i];

		if (s->key == key)
			return s;
		if (s->key == 0 && s->val == NULL)
			return NULL;
	}
	return NULL;
}

void *ike_spimap_get(const struct ike_spimap *m, uint64_t key)
{
	struct ike_spimap_slot *s = find(m, key);

	return s ? s->val : NULL;
}

static void insert(struct ike_spimap *m, uint64_t key, void *val)
{
	size_t i = mix(key) & (m->cap - 1);

	while (m->slot[i].key != 0 || m->slot[i].val != NULL) {
		if (m->slot[i].key == 0 && m->slot[i].val == (void *)m) {
			m->dead--;
			break;
		}
		i = (i + 1) & (m->cap - 1);
	}
	m->slot[i].key = key;
	m->slot[i].val = val;
	m->used++;
}

static int grow(struct ike_spimap *m)
{
	struct ike_spimap old = *m;
	size_t cap = m->cap ? m->cap : 64;

	/* Double only when live entries need it; otherwise just sweep the tombstones. */
	if (m->used + 1 > cap / 4)
		cap *= 2;
	m->slot = calloc(cap, sizeof(*m->slot));
	if (!m->slot) {
		*m = old;
		return -ENOMEM;
	}
	m->cap = cap;
	m->used = 0;
	m->dead = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slot[i].key)
			insert(m, old.slot[i].key, old.slot[i].val);
	free(old.slot);
	return 0;
}

int ike_spimap_put(struct ike_spimap *m, uint64_t key, void *val)
{
	if (!key)
		return -EINVAL;
	if (find(m, key))
		return -EEXIST;
	if ((m->used + m->dead + 1) * 2 > m->cap) {
		int err = grow(m);

		if (err < 0)
			return err;
	}
	insert(m, key, val);
	return 0;
}

void ike_spimap_del(struct ike_spimap *m, uint64_t key, const void *val)
{
	struct ike_spimap_slot *s = find(m, key);

	if (!s || (val && s->val != val))
		return;
	s->key = 0;
	s->val = (void *)m;
	m->used--;
	m->dead++;
}
