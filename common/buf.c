/* Bounds-checked reader and writer (see buf.h for the rules).
 *
 * Every length check is written as "n > len - pos" (or "n > len - offset" after checking
 * offset <= len), never "pos + n > len": the latter wraps around for huge n and would let a
 * length taken from the wire walk off the end of the buffer.
 *
 * An empty region is never represented by a NULL pointer: NULL + 0 and memcpy(NULL, .., 0)
 * are undefined behaviour in C, so empty readers and writers point at a static dummy byte
 * and every pointer computation below is on a real object.
 */
#include "common/buf.h"

#include <string.h>

/* Backing for empty readers (never written) and empty writers (never written either: a
 * writer with cap 0 cannot claim a single byte). */
static const uint8_t empty_reader_region[1];
static uint8_t empty_writer_region[1];

/* --- reader --------------------------------------------------------------------------- */

static void reader_set_failed_empty(struct reader *r)
{
	r->data = empty_reader_region;
	r->len = 0;
	r->pos = 0;
	r->failed = true;
}

void reader_init(struct reader *r, const void *data, size_t len)
{
	if (!data) {
		/* NULL with a non-zero length is a caller bug: refuse to read from it. */
		reader_set_failed_empty(r);
		r->failed = len > 0;
		return;
	}
	r->data = data;
	r->len = len;
	r->pos = 0;
	r->failed = false;
}

/* Check that n more bytes are available; fail the reader if not. Consumes nothing. */
static bool reader_has(struct reader *r, size_t n)
{
	if (r->failed)
		return false;
	if (n > r->len - r->pos) {
		r->failed = true;
		return false;
	}
	return true;
}

/* Consume n bytes and return where they start, or NULL (reader failed). */
static const uint8_t *reader_take(struct reader *r, size_t n)
{
	const uint8_t *p;

	if (!reader_has(r, n))
		return NULL;
	p = r->data + r->pos;
	r->pos += n;
	return p;
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

bool reader_u8(struct reader *r, uint8_t *out)
{
	const uint8_t *p = reader_take(r, 1);

	if (!p)
		return false;
	*out = p[0];
	return true;
}

bool reader_be16(struct reader *r, uint16_t *out)
{
	const uint8_t *p = reader_take(r, 2);

	if (!p)
		return false;
	*out = (uint16_t)load_be(p, 2);
	return true;
}

bool reader_be24(struct reader *r, uint32_t *out)
{
	const uint8_t *p = reader_take(r, 3);

	if (!p)
		return false;
	*out = (uint32_t)load_be(p, 3);
	return true;
}

bool reader_be32(struct reader *r, uint32_t *out)
{
	const uint8_t *p = reader_take(r, 4);

	if (!p)
		return false;
	*out = (uint32_t)load_be(p, 4);
	return true;
}

bool reader_be64(struct reader *r, uint64_t *out)
{
	const uint8_t *p = reader_take(r, 8);

	if (!p)
		return false;
	*out = load_be(p, 8);
	return true;
}

bool reader_peek_u8(struct reader *r, uint8_t *out)
{
	if (!reader_has(r, 1))
		return false;
	*out = r->data[r->pos];
	return true;
}

bool reader_peek_be16(struct reader *r, uint16_t *out)
{
	if (!reader_has(r, 2))
		return false;
	*out = (uint16_t)load_be(r->data + r->pos, 2);
	return true;
}

bool reader_copy(struct reader *r, void *dst, size_t n)
{
	const uint8_t *p;

	if (!dst && n > 0)
		return reader_fail(r);
	p = reader_take(r, n);
	if (!p)
		return false;
	if (n > 0)
		memcpy(dst, p, n);
	return true;
}

bool reader_view(struct reader *r, size_t n, const uint8_t **out)
{
	const uint8_t *p = reader_take(r, n);

	if (!p)
		return false;
	*out = p;
	return true;
}

bool reader_view_rest(struct reader *r, const uint8_t **out, size_t *n)
{
	size_t rest;

	if (r->failed)
		return false;
	rest = r->len - r->pos;
	*out = reader_take(r, rest);
	*n = rest;
	return true;
}

bool reader_skip(struct reader *r, size_t n)
{
	return reader_take(r, n) != NULL;
}

bool reader_sub(struct reader *r, size_t n, struct reader *sub)
{
	const uint8_t *p = reader_take(r, n);

	/* Build the result before storing it: sub may alias r. */
	if (!p) {
		reader_set_failed_empty(sub);
		return false;
	}
	sub->data = p;
	sub->len = n;
	sub->pos = 0;
	sub->failed = false;
	return true;
}

bool reader_sub_rest(struct reader *r, struct reader *sub)
{
	if (r->failed) {
		reader_set_failed_empty(sub);
		return false;
	}
	return reader_sub(r, r->len - r->pos, sub);
}

bool reader_expect_end(struct reader *r)
{
	if (r->failed)
		return false;
	if (r->pos != r->len)
		return reader_fail(r);
	return true;
}

bool reader_fail(struct reader *r)
{
	r->failed = true;
	return false;
}

/* --- writer --------------------------------------------------------------------------- */

void writer_init(struct writer *w, void *data, size_t cap)
{
	if (!data) {
		/* As for readers: NULL is only a valid buffer when it is empty. */
		w->data = empty_writer_region;
		w->cap = 0;
		w->len = 0;
		w->failed = cap > 0;
		return;
	}
	w->data = data;
	w->cap = cap;
	w->len = 0;
	w->failed = false;
}

void writer_init_filled(struct writer *w, void *data, size_t cap, size_t len)
{
	writer_init(w, data, cap);
	if (len > w->cap) {
		w->failed = true;
		return;
	}
	w->len = len;
}

static bool writer_fail(struct writer *w)
{
	w->failed = true;
	return false;
}

/* Claim the next n bytes of the buffer and return where they start, or NULL (failed). */
static uint8_t *writer_claim(struct writer *w, size_t n)
{
	uint8_t *p;

	if (w->failed)
		return NULL;
	if (n > w->cap - w->len) {
		writer_fail(w);
		return NULL;
	}
	p = w->data + w->len;
	w->len += n;
	return p;
}

static void store_be(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = n; i > 0; i--) {
		p[i - 1] = (uint8_t)v;
		v >>= 8;
	}
}

static bool writer_put_be(struct writer *w, uint64_t v, size_t n)
{
	uint8_t *p = writer_claim(w, n);

	if (!p)
		return false;
	store_be(p, v, n);
	return true;
}

bool writer_u8(struct writer *w, uint8_t v)
{
	return writer_put_be(w, v, 1);
}

bool writer_be16(struct writer *w, uint16_t v)
{
	return writer_put_be(w, v, 2);
}

bool writer_be24(struct writer *w, uint32_t v)
{
	/* Silently dropping the top byte would put a wrong length on the wire. */
	if (v > 0xFFFFFFu)
		return writer_fail(w);
	return writer_put_be(w, v, 3);
}

bool writer_be32(struct writer *w, uint32_t v)
{
	return writer_put_be(w, v, 4);
}

bool writer_be64(struct writer *w, uint64_t v)
{
	return writer_put_be(w, v, 8);
}

bool writer_bytes(struct writer *w, const void *src, size_t n)
{
	uint8_t *p;

	if (!src && n > 0)
		return writer_fail(w);
	p = writer_claim(w, n);
	if (!p)
		return false;
	if (n > 0)
		memcpy(p, src, n);
	return true;
}

bool writer_zeros(struct writer *w, size_t n)
{
	uint8_t *p = writer_claim(w, n);

	if (!p)
		return false;
	memset(p, 0, n);
	return true;
}

bool writer_reserve(struct writer *w, size_t n, size_t *offset)
{
	size_t start = w->len;

	if (!writer_zeros(w, n))
		return false;
	*offset = start;
	return true;
}

/* Locate n already written bytes at offset, or fail the writer. Checked against len, not
 * cap: patching bytes that were never written would leave holes in the message. */
static uint8_t *writer_written(struct writer *w, size_t offset, size_t n)
{
	if (w->failed)
		return NULL;
	if (offset > w->len || n > w->len - offset) {
		writer_fail(w);
		return NULL;
	}
	return w->data + offset;
}

static bool writer_patch_be(struct writer *w, size_t offset, uint64_t v, size_t n)
{
	uint8_t *p = writer_written(w, offset, n);

	if (!p)
		return false;
	store_be(p, v, n);
	return true;
}

bool writer_patch_u8(struct writer *w, size_t offset, uint8_t v)
{
	return writer_patch_be(w, offset, v, 1);
}

bool writer_patch_be16(struct writer *w, size_t offset, uint16_t v)
{
	return writer_patch_be(w, offset, v, 2);
}

bool writer_patch_be32(struct writer *w, size_t offset, uint32_t v)
{
	return writer_patch_be(w, offset, v, 4);
}

bool writer_patch_bytes(struct writer *w, size_t offset, const void *src, size_t n)
{
	uint8_t *p;

	if (!src && n > 0)
		return writer_fail(w);
	p = writer_written(w, offset, n);
	if (!p)
		return false;
	if (n > 0)
		memcpy(p, src, n);
	return true;
}

bool writer_view(struct writer *w, size_t offset, size_t n, uint8_t **out)
{
	uint8_t *p = writer_written(w, offset, n);

	if (!p)
		return false;
	*out = p;
	return true;
}

void writer_as_reader(const struct writer *w, struct reader *r)
{
	/* A failed writer holds a truncated encoding; reading it back as if it were whole would
	 * hide the failure, so the reader starts out failed too. */
	if (w->failed) {
		reader_set_failed_empty(r);
		return;
	}
	reader_init(r, w->data, w->len);
}
