/* Fuzz target for the reader and writer (common/buf.h).
 *
 * Input layout:
 *   byte 0    capacity of the re-encoding writer (0..255, so it often overflows)
 *   byte 1    offset of a final writer_view/patch probe
 *   rest      a TLV list: type u8, length be16, value
 * A TLV whose type has the top bit set is a container: its value is another TLV list,
 * nested up to MAX_DEPTH. Any other value is a small program of reader operations (every
 * integer width, peeks, copies, views, skips, nested sub-readers, expect_end) whose
 * operands are read from the value itself.
 *
 * Everything that is read is written back through a writer, so when the whole input parses
 * and the writer did not overflow, the writer must hold exactly the input. Along the way
 * the reader and writer invariants are checked; a violation is __builtin_trap().
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"

#define MAX_DEPTH 8
#define OUT_CAP 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* Region invariants that must hold after every call, failed or not. */
static void check_reader(const struct reader *r)
{
	ASSERT(r->pos <= r->len);
	ASSERT(reader_remaining(r) <= r->len);
	ASSERT(r->failed ? reader_remaining(r) == 0 : reader_remaining(r) == r->len - r->pos);
	ASSERT(!reader_done(r) || reader_remaining(r) == 0);
}

static void check_writer(const struct writer *w, size_t cap)
{
	ASSERT(w->cap == cap);
	ASSERT(w->len <= w->cap);
	ASSERT(writer_room(w) == (w->failed ? 0 : w->cap - w->len));
}

/* A successful call moves pos by exactly n; a failed one does not move it and leaves the
 * reader failed for good. */
static void check_step(const struct reader *r, size_t before, size_t n, bool ok)
{
	check_reader(r);
	if (ok) {
		ASSERT(reader_ok(r));
		ASSERT(r->pos == before + n);
	} else {
		ASSERT(!reader_ok(r));
		ASSERT(r->pos == before);
	}
}

/* True if [p, p+n) lies inside the region of r. */
static bool inside(const struct reader *r, const uint8_t *p, size_t n)
{
	uintptr_t lo = (uintptr_t)r->data, hi = lo + r->len, a = (uintptr_t)p;

	return a >= lo && a <= hi && n <= hi - a;
}

static bool run_program(struct reader *r, struct writer *w, unsigned int depth);

static bool op_ints(struct reader *r, struct writer *w, uint8_t op)
{
	size_t before = r->pos;
	uint8_t u8 = 0x5a;
	uint16_t u16 = 0x5a5a;
	uint32_t u32 = 0x5a5a5a5a;
	uint64_t u64 = 0x5a5a5a5a5a5a5a5aull;
	bool ok;

	switch (op) {
	case 0:
		ok = reader_u8(r, &u8);
		check_step(r, before, 1, ok);
		ASSERT(ok || u8 == 0x5a);
		return ok && writer_u8(w, u8);
	case 1:
		ok = reader_be16(r, &u16);
		check_step(r, before, 2, ok);
		ASSERT(ok || u16 == 0x5a5a);
		return ok && writer_be16(w, u16);
	case 2:
		ok = reader_be24(r, &u32);
		check_step(r, before, 3, ok);
		ASSERT(ok ? u32 <= 0xffffff : u32 == 0x5a5a5a5a);
		return ok && writer_be24(w, u32);
	case 3:
		ok = reader_be32(r, &u32);
		check_step(r, before, 4, ok);
		ASSERT(ok || u32 == 0x5a5a5a5a);
		return ok && writer_be32(w, u32);
	default:
		ok = reader_be64(r, &u64);
		check_step(r, before, 8, ok);
		ASSERT(ok || u64 == 0x5a5a5a5a5a5a5a5aull);
		return ok && writer_be64(w, u64);
	}
}

/* A peek must agree with the read that follows it. */
static bool op_peek(struct reader *r, struct writer *w, bool wide)
{
	size_t before = r->pos;
	uint8_t p8 = 0, v8 = 0;
	uint16_t p16 = 0, v16 = 0;

	if (!wide) {
		if (!reader_peek_u8(r, &p8)) {
			check_step(r, before, 0, false);
			return false;
		}
		check_step(r, before, 0, true);
		ASSERT(reader_u8(r, &v8) && v8 == p8);
		return writer_u8(w, v8);
	}
	if (!reader_peek_be16(r, &p16)) {
		check_step(r, before, 0, false);
		return false;
	}
	check_step(r, before, 0, true);
	ASSERT(reader_be16(r, &v16) && v16 == p16);
	return writer_be16(w, v16);
}

/* Operand: a length for the following copy/view/sub, echoed to the writer. */
static bool read_len8(struct reader *r, struct writer *w, size_t *n)
{
	uint8_t v;

	if (!reader_u8(r, &v))
		return false;
	*n = v;
	return writer_u8(w, v);
}

static bool op_copy(struct reader *r, struct writer *w)
{
	uint8_t buf[32], guard[32];
	size_t n, before;
	bool ok;

	if (!read_len8(r, w, &n))
		return false;
	n %= sizeof(buf) + 1;
	memset(buf, 0xc3, sizeof(buf));
	memset(guard, 0xc3, sizeof(guard));
	before = r->pos;
	ok = reader_copy(r, buf, n);
	check_step(r, before, n, ok);
	if (!ok) {
		ASSERT(memcmp(buf, guard, sizeof(buf)) == 0);
		return false;
	}
	ASSERT(memcmp(buf, r->data + before, n) == 0);
	return writer_bytes(w, buf, n);
}

static bool op_view(struct reader *r, struct writer *w)
{
	const uint8_t *p = NULL;
	size_t n, before;
	bool ok;

	if (!read_len8(r, w, &n))
		return false;
	before = r->pos;
	ok = reader_view(r, n, &p);
	check_step(r, before, n, ok);
	if (!ok) {
		ASSERT(p == NULL);
		return false;
	}
	ASSERT(inside(r, p, n) && p == r->data + before);
	return writer_bytes(w, p, n);
}

/* Skip a be16 count of bytes. To keep the re-encoding faithful, the skipped bytes are
 * fetched through a copy of the reader taken before the skip, and written as zeros that
 * are then patched: this drives writer_zeros and writer_patch_bytes too. */
static bool op_skip(struct reader *r, struct writer *w)
{
	struct reader shadow;
	const uint8_t *p = NULL;
	uint16_t n;
	size_t off, before;
	bool ok;

	if (!reader_be16(r, &n) || !writer_be16(w, n))
		return false;
	shadow = *r;
	before = r->pos;
	ok = reader_skip(r, n);
	check_step(r, before, n, ok);
	ASSERT(reader_view(&shadow, n, &p) == ok);
	if (!ok)
		return false;
	off = writer_len(w);
	if (!writer_zeros(w, n))
		return false;
	ASSERT(writer_patch_bytes(w, off, p, n));
	return true;
}

/* A nested sub-reader running its own program: it can never see past its n bytes, and
 * whatever happens inside it, the parent stays healthy. */
static bool op_sub(struct reader *r, struct writer *w, unsigned int depth)
{
	struct reader sub;
	size_t n, before, parent_left;
	bool ok;

	if (!read_len8(r, w, &n))
		return false;
	before = r->pos;
	parent_left = reader_remaining(r);
	ok = reader_sub(r, n, &sub);
	check_step(r, before, n, ok);
	check_reader(&sub);
	if (!ok) {
		ASSERT(!reader_ok(&sub) && sub.len == 0);
		return false;
	}
	ASSERT(reader_remaining(&sub) == n && n <= parent_left);
	ASSERT(inside(r, sub.data, sub.len));
	ok = run_program(&sub, w, depth + 1);
	ASSERT(reader_ok(r));
	ASSERT(sub.pos <= n);
	return ok;
}

static bool op_expect_end(struct reader *r)
{
	bool at_end = reader_ok(r) && r->pos == r->len;
	bool ok = reader_expect_end(r);

	ASSERT(ok == at_end);
	ASSERT(ok == reader_done(r));
	check_reader(r);
	return ok;
}

static bool run_op(struct reader *r, struct writer *w, uint8_t op, unsigned int depth)
{
	switch (op % 12) {
	case 0: case 1: case 2: case 3: case 4:
		return op_ints(r, w, op % 12);
	case 5:
		return op_peek(r, w, false);
	case 6:
		return op_peek(r, w, true);
	case 7:
		return op_copy(r, w);
	case 8:
		return op_view(r, w);
	case 9:
		return op_skip(r, w);
	case 10:
		if (depth >= MAX_DEPTH)
			return false;
		return op_sub(r, w, depth);
	default:
		return op_expect_end(r);
	}
}

/* Execute the operations in r until it is used up or something fails. */
static bool run_program(struct reader *r, struct writer *w, unsigned int depth)
{
	while (!reader_done(r)) {
		uint8_t op;

		if (!reader_u8(r, &op) || !writer_u8(w, op))
			return false;
		if (!run_op(r, w, op, depth))
			return false;
		check_reader(r);
	}
	return reader_ok(r);
}

static bool parse_list(struct reader *r, struct writer *w, unsigned int depth);

/* One TLV; its length field is reserved in the writer and patched afterwards. */
static bool parse_tlv(struct reader *r, struct writer *w, unsigned int depth)
{
	struct reader value;
	uint8_t type;
	uint16_t len;
	size_t len_off = 0, start, parent_left;
	bool ok;

	if (!reader_u8(r, &type) || !reader_be16(r, &len))
		return false;
	parent_left = reader_remaining(r);
	if (!reader_sub(r, len, &value)) {
		ASSERT(len > parent_left && !reader_ok(&value) && reader_remaining(&value) == 0);
		return false;
	}
	ASSERT(reader_remaining(&value) == len && len <= parent_left);
	writer_u8(w, type);
	writer_reserve(w, 2, &len_off);
	start = writer_len(w);
	if ((type & 0x80) && depth < MAX_DEPTH)
		ok = parse_list(&value, w, depth + 1);
	else
		ok = run_program(&value, w, depth);
	/* The value's fate never leaks into its parent. */
	ASSERT(reader_ok(r));
	check_reader(&value);
	if (ok && writer_ok(w)) {
		ASSERT(writer_len(w) - start == len);
		ASSERT(writer_patch_be16(w, len_off, len));
	}
	return ok;
}

static bool parse_list(struct reader *r, struct writer *w, unsigned int depth)
{
	bool all_ok = true;

	/* Keep going after a bad TLV: later ones still exercise the reader. */
	while (reader_ok(r) && !reader_done(r))
		all_ok &= parse_tlv(r, w, depth);
	check_reader(r);
	return all_ok && reader_ok(r);
}

/* Probe writer_view/patch at an input-chosen offset: in bounds exactly when the four
 * bytes lie inside what was written, and a patch with the same bytes changes nothing. */
static void probe_patch(struct writer *w, size_t off)
{
	size_t len = writer_len(w);
	bool in_bounds = writer_ok(w) && off <= len && 4 <= len - off;
	uint8_t *p = NULL;
	uint32_t v;

	ASSERT(writer_view(w, off, 4, &p) == in_bounds);
	if (!in_bounds) {
		ASSERT(p == NULL && !writer_ok(w) && writer_len(w) == len);
		return;
	}
	v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	ASSERT(writer_patch_be32(w, off, v));
	ASSERT(writer_len(w) == len && writer_ok(w));
	ASSERT(!writer_patch_u8(w, len, 0) && !writer_ok(w));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[OUT_CAP];
	struct reader r, back;
	struct writer w;
	uint8_t cap = 0, probe = 0;
	bool ok;

	reader_init(&r, data, size);
	if (!reader_u8(&r, &cap) || !reader_u8(&r, &probe))
		return 0;
	writer_init(&w, out, cap);
	ok = parse_list(&r, &w, 0);
	check_writer(&w, cap);

	writer_as_reader(&w, &back);
	check_reader(&back);
	ASSERT(reader_ok(&back) == writer_ok(&w));
	if (ok && writer_ok(&w)) {
		/* A complete parse re-encodes to exactly the input. */
		ASSERT(reader_remaining(&back) == size - 2);
		ASSERT(memcmp(out, data + 2, size - 2) == 0);
	}
	probe_patch(&w, probe);
	check_writer(&w, cap);
	return 0;
}
