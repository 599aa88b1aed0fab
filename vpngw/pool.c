/* The TIA pool (see pool.h). */
#include "vpngw/pool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

struct pool {
	uint32_t net;            /* host order */
	uint32_t n;              /* addresses in the CIDR (index 0 = network) */
	uint32_t reserved;       /* index of the gateway's address, 0 = none */
	size_t usable, in_use;
	uint32_t *holders;       /* per index */
	GBytes **owner;          /* per index: the identity it is (or was last) leased to;
				  * the key stored in ids, borrowed */
	bool *queued;            /* per index: in the released queue */
	uint32_t next_fresh;     /* indices below were handed out at least once (or skipped) */
	uint32_t *queue;         /* released indices, oldest first (ring of n) */
	uint32_t q_head, q_len;
	GHashTable *ids;         /* GBytes(identity) -> index (as pointer) */
};

static bool usable_index(const struct pool *p, uint32_t i)
{
	return i > 0 && i < p->n - 1 && i != p->reserved;
}

int pool_new(struct in_addr net, unsigned plen, struct in_addr reserved, struct pool **out)
{
	struct pool *p;
	uint32_t r;

	if (!out || plen < POOL_MIN_PLEN || plen > POOL_MAX_PLEN)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->n = UINT32_C(1) << (32 - plen);
	p->net = ntohl(net.s_addr) & ~(p->n - 1);
	r = ntohl(reserved.s_addr);
	if (reserved.s_addr && r - p->net < p->n)
		p->reserved = r - p->net;
	p->usable = p->n - 2 - (p->reserved > 0 && p->reserved < p->n - 1 ? 1 : 0);
	p->holders = calloc(p->n, sizeof(*p->holders));
	p->owner = calloc(p->n, sizeof(*p->owner));
	p->queued = calloc(p->n, sizeof(*p->queued));
	p->queue = calloc(p->n, sizeof(*p->queue));
	p->ids = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
				       (GDestroyNotify)g_bytes_unref, NULL);
	if (!p->holders || !p->owner || !p->queued || !p->queue) {
		pool_free(p);
		return -ENOMEM;
	}
	p->next_fresh = 1;
	*out = p;
	return 0;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	if (p->ids)
		g_hash_table_destroy(p->ids);
	free(p->holders);
	free(p->owner);
	free(p->queued);
	free(p->queue);
	free(p);
}

static struct in_addr addr_of(const struct pool *p, uint32_t i)
{
	struct in_addr a = { .s_addr = htonl(p->net + i) };

	return a;
}

static bool index_of(const struct pool *p, struct in_addr a, uint32_t *i)
{
	uint32_t off = ntohl(a.s_addr) - p->net;

	if (off >= p->n || !usable_index(p, off))
		return false;
	*i = off;
	return true;
}

/* A free index nobody asked for yet, else the one released longest ago. */
static bool take_free(struct pool *p, uint32_t *out)
{
	while (p->next_fresh < p->n - 1) {
		uint32_t i = p->next_fresh++;

		if (usable_index(p, i) && p->holders[i] == 0 && !p->owner[i]) {
			*out = i;
			return true;
		}
	}
	while (p->q_len) {
		uint32_t i = p->queue[p->q_head];

		p->q_head = (p->q_head + 1) % p->n;
		p->q_len--;
		p->queued[i] = false;
		if (p->holders[i] == 0) {
			*out = i;
			return true;
		}
	}
	return false;
}

int pool_acquire(struct pool *p, const struct ike_identity *id, struct in_addr *addr)
{
	uint8_t key[1 + IKE_ID_MAX];
	GBytes *k;
	gpointer val;
	uint32_t i;

	if (!p || !id || !addr || id->len > IKE_ID_MAX)
		return -EINVAL;
	key[0] = id->type;
	memcpy(key + 1, id->data, id->len);
	k = g_bytes_new(key, 1 + (size_t)id->len);
	/* The identity's current or remembered address, unless someone else has it now. */
	if (g_hash_table_lookup_extended(p->ids, k, NULL, &val)) {
		i = GPOINTER_TO_UINT(val);
		g_bytes_unref(k);
		if (p->holders[i] == 0)
			p->in_use++;
		p->holders[i]++;
		*addr = addr_of(p, i);
		return 0;
	}
	if (!take_free(p, &i)) {
		g_bytes_unref(k);
		return -ENOSPC;
	}
	/* The address's previous identity forgets it. */
	if (p->owner[i])
		g_hash_table_remove(p->ids, p->owner[i]);
	g_hash_table_insert(p->ids, k, GUINT_TO_POINTER(i));
	p->owner[i] = k;
	p->holders[i] = 1;
	p->in_use++;
	*addr = addr_of(p, i);
	return 0;
}

int pool_release(struct pool *p, struct in_addr addr)
{
	uint32_t i;

	if (!p || !index_of(p, addr, &i) || p->holders[i] == 0)
		return -ENOENT;
	if (--p->holders[i] > 0)
		return 0;
	p->in_use--;
	if (!p->queued[i]) {
		p->queue[(p->q_head + p->q_len) % p->n] = i;
		p->q_len++;
		p->queued[i] = true;
	}
	return 0;
}

unsigned pool_holders(const struct pool *p, struct in_addr addr)
{
	uint32_t i;

	if (!p || !index_of(p, addr, &i))
		return 0;
	return p->holders[i];
}

size_t pool_size(const struct pool *p)
{
	return p ? p->usable : 0;
}

size_t pool_in_use(const struct pool *p)
{
	return p ? p->in_use : 0;
}
