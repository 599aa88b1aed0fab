/* The one bounds-checked reader and writer for every byte that crosses the wire.
 *
 * Rules (docs/ARCHITECTURE.md, "Parsing"):
 *  - No pointer arithmetic on packets outside this file. Parsers take fields out of a
 *    struct reader; encoders put them into a struct writer.
 *  - A length read from the wire can only narrow: reader_sub() carves a sub-reader out of
 *    the bytes that remain, never more.
 *  - Running past the end is an error value, never undefined behaviour: the call returns
 *    false, leaves its output parameter untouched, and the reader (or writer) becomes
 *    "failed" (sticky): every later call on it also fails. A parser may therefore read a
 *    run of fields and check reader_ok() once, or check each call.
 *  - All multi-byte integers are network byte order (big-endian) unless the name says le.
 */
#ifndef MM_COMMON_BUF_H
#define MM_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reader {
	const uint8_t *data; /* first byte of the region this reader may see */
	size_t len;          /* size of that region */
	size_t pos;          /* bytes consumed so far; pos <= len always */
	bool failed;         /* sticky: set by the first out-of-bounds or invalid request */
};

struct writer {
	uint8_t *data;       /* caller-owned output buffer */
	size_t cap;          /* its capacity */
	size_t len;          /* bytes written so far; len <= cap always */
	bool failed;         /* sticky: set by the first write that did not fit */
};

/* --- reader --------------------------------------------------------------------------- */

/* A reader over [data, data+len). data may be NULL only when len is 0; NULL with len > 0
 * gives an empty, failed reader. */
void reader_init(struct reader *r, const void *data, size_t len);

static inline bool reader_ok(const struct reader *r) { return !r->failed; }
static inline size_t reader_remaining(const struct reader *r)
{
	return r->failed ? 0 : r->len - r->pos;
}
static inline size_t reader_offset(const struct reader *r) { return r->pos; }
/* True when the reader has not failed and every byte was consumed. */
static inline bool reader_done(const struct reader *r) { return !r->failed && r->pos == r->len; }

bool reader_u8(struct reader *r, uint8_t *out);
bool reader_be16(struct reader *r, uint16_t *out);
bool reader_be24(struct reader *r, uint32_t *out);
bool reader_be32(struct reader *r, uint32_t *out);
bool reader_be64(struct reader *r, uint64_t *out);

/* Peek at the next byte(s) without consuming them; a short read fails the reader too. */
bool reader_peek_u8(struct reader *r, uint8_t *out);
bool reader_peek_be16(struct reader *r, uint16_t *out);

/* Copy n bytes out (dst may be NULL only when n is 0). */
bool reader_copy(struct reader *r, void *dst, size_t n);
/* Borrow n bytes in place (for hashing, MAC input, decryption input): *out points into the
 * reader's region and stays valid as long as the underlying buffer does. */
bool reader_view(struct reader *r, size_t n, const uint8_t **out);
/* Borrow everything that remains (possibly zero bytes). Never fails on a healthy reader. */
bool reader_view_rest(struct reader *r, const uint8_t **out, size_t *n);
bool reader_skip(struct reader *r, size_t n);

/* Carve the next n bytes out as an independent sub-reader and advance past them. This is the
 * only way a length taken from the wire may be used. On failure *sub becomes an empty, failed
 * reader, so code that forgets to check still cannot read. */
bool reader_sub(struct reader *r, size_t n, struct reader *sub);
/* Sub-reader over everything that remains; the parent is then fully consumed. */
bool reader_sub_rest(struct reader *r, struct reader *sub);

/* Fail the reader unless every byte has been consumed (for exact-length structures). */
bool reader_expect_end(struct reader *r);
/* Mark the reader failed (a parser found a bad value). Always returns false. */
bool reader_fail(struct reader *r);

/* --- writer --------------------------------------------------------------------------- */

/* data may be NULL only when cap is 0; NULL with cap > 0 gives a failed writer. */
void writer_init(struct writer *w, void *data, size_t cap);
/* A writer over a buffer whose first len bytes are already written (a packet being
 * encapsulated in place: its bytes can be viewed and patched, and a trailer appended).
 * len > cap gives a failed writer. */
void writer_init_filled(struct writer *w, void *data, size_t cap, size_t len);

static inline bool writer_ok(const struct writer *w) { return !w->failed; }
static inline size_t writer_len(const struct writer *w) { return w->len; }
static inline size_t writer_room(const struct writer *w) { return w->failed ? 0 : w->cap - w->len; }

bool writer_u8(struct writer *w, uint8_t v);
bool writer_be16(struct writer *w, uint16_t v);
bool writer_be24(struct writer *w, uint32_t v);   /* v must fit in 24 bits, else the writer fails */
bool writer_be32(struct writer *w, uint32_t v);
bool writer_be64(struct writer *w, uint64_t v);
bool writer_bytes(struct writer *w, const void *src, size_t n);
bool writer_zeros(struct writer *w, size_t n);

/* Reserve n bytes to fill in later (length fields, checksums, ICVs): *offset receives their
 * position; the bytes are zeroed. */
bool writer_reserve(struct writer *w, size_t n, size_t *offset);
/* Overwrite previously written bytes at offset (must lie entirely inside [0, len)). */
bool writer_patch_u8(struct writer *w, size_t offset, uint8_t v);
bool writer_patch_be16(struct writer *w, size_t offset, uint16_t v);
bool writer_patch_be32(struct writer *w, size_t offset, uint32_t v);
bool writer_patch_bytes(struct writer *w, size_t offset, const void *src, size_t n);
/* Mutable view of already written bytes [offset, offset+n) (to compute a MAC in place). */
bool writer_view(struct writer *w, size_t offset, size_t n, uint8_t **out);

/* Read-only reader over what has been written so far. A failed writer holds a truncated
 * encoding, so it gives an empty, failed reader. */
void writer_as_reader(const struct writer *w, struct reader *r);

#endif
