/* Unit tests for common/buf.c: every call's success and failure paths, sticky failure,
 * untouched outputs, sub-reader narrowing, and whole-message truncation, bit-flip and
 * writer-capacity loops. Inputs in the loops are copied into exactly sized heap buffers so
 * that AddressSanitizer (the sanitizer build) catches any read past the end. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "tests/unit/tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t seq[16] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
};

/* Heap copy of exactly n bytes (at least one byte allocated so malloc(0) is not special). */
static uint8_t *dup_exact(const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	if (!p)
		abort();
	if (n)
		memcpy(p, src, n);
	return p;
}

/* --- reader basics -------------------------------------------------------------------- */

static void test_reader_init(void)
{
	struct reader r;

	reader_init(&r, seq, sizeof(seq));
	CHECK(reader_ok(&r));
	CHECK_EQ_U64(reader_remaining(&r), 16);
	CHECK_EQ_U64(reader_offset(&r), 0);
	CHECK(!reader_done(&r));

	reader_init(&r, NULL, 0);
	CHECK(reader_ok(&r));
	CHECK(reader_done(&r));
	CHECK_EQ_U64(reader_remaining(&r), 0);

	/* NULL with a length is a caller bug: an empty, failed reader. */
	reader_init(&r, NULL, 5);
	CHECK(!reader_ok(&r));
	CHECK_EQ_U64(reader_remaining(&r), 0);
	CHECK_EQ_U64(r.len, 0);
	CHECK(!reader_done(&r));
	{
		uint8_t v = 0xaa;

		CHECK(!reader_u8(&r, &v));
		CHECK_EQ_U64(v, 0xaa);
	}
}

static void test_reader_ints(void)
{
	struct reader r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32, u24;
	uint64_t u64;

	reader_init(&r, seq, sizeof(seq));
	CHECK(reader_u8(&r, &u8));
	CHECK_EQ_U64(u8, 0x01);
	CHECK(reader_be16(&r, &u16));
	CHECK_EQ_U64(u16, 0x0203);
	CHECK(reader_be24(&r, &u24));
	CHECK_EQ_U64(u24, 0x040506);
	CHECK(reader_be32(&r, &u32));
	CHECK_EQ_U64(u32, 0x0708090a);
	CHECK_EQ_U64(reader_offset(&r), 10);
	CHECK(reader_skip(&r, 2));
	CHECK_EQ_U64(reader_remaining(&r), 4);
	CHECK(!reader_be64(&r, &u64));

	reader_init(&r, seq + 8, 8);
	CHECK(reader_be64(&r, &u64));
	CHECK_EQ_U64(u64, 0x090a0b0c0d0e0f10ull);
	CHECK(reader_done(&r));

	/* High bits must not be sign-extended. */
	{
		static const uint8_t ff[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe };

		reader_init(&r, ff, sizeof(ff));
		CHECK(reader_be64(&r, &u64));
		CHECK_EQ_U64(u64, 0xfffffffffffffffeull);
		reader_init(&r, ff, sizeof(ff));
		CHECK(reader_be24(&r, &u24));
		CHECK_EQ_U64(u24, 0xffffff);
		CHECK(reader_be32(&r, &u32));
		CHECK_EQ_U64(u32, 0xffffffff);
		CHECK(!reader_be16(&r, &u16));
	}
}

#define SENTINEL64 0xa5a5a5a5a5a5a5a5ull

/* Read one integer of the given width (negative: peek) into sentinel-filled outputs;
 * *touched tells whether any output changed. */
static bool read_width(struct reader *r, int width, bool *touched)
{
	uint8_t v8 = 0xa5;
	uint16_t v16 = 0xa5a5;
	uint32_t v32 = 0xa5a5a5a5;
	uint64_t v64 = SENTINEL64;
	bool ok;

	switch (width) {
	case 1: ok = reader_u8(r, &v8); break;
	case 2: ok = reader_be16(r, &v16); break;
	case 3: ok = reader_be24(r, &v32); break;
	case 4: ok = reader_be32(r, &v32); break;
	case -1: ok = reader_peek_u8(r, &v8); break;
	case -2: ok = reader_peek_be16(r, &v16); break;
	default: ok = reader_be64(r, &v64); break;
	}
	*touched = v8 != 0xa5 || v16 != 0xa5a5 || v32 != 0xa5a5a5a5 || v64 != SENTINEL64;
	return ok;
}

/* Every integer read (and peek) that does not fit fails, leaves its output alone, keeps
 * the position, and makes the failure sticky. */
static void test_reader_int_failures(void)
{
	static const int widths[] = { 1, 2, 3, 4, 8, -1, -2 };
	int failures = 0;

	for (size_t i = 0; i < ARRAY_SIZE(widths); i++) {
		int w = widths[i];
		size_t need = (size_t)(w < 0 ? -w : w);
		uint8_t *buf = dup_exact(seq, need - 1);
		struct reader r;
		bool touched;

		reader_init(&r, buf, need - 1);
		CHECK_LOOP(!read_width(&r, w, &touched), failures);
		CHECK_LOOP(!touched, failures);
		CHECK_LOOP(!reader_ok(&r), failures);
		CHECK_LOOP(reader_offset(&r) == 0, failures);
		CHECK_LOOP(reader_remaining(&r) == 0, failures);
		/* Sticky: a read that would fit on a healthy reader fails now. */
		if (need > 1)
			CHECK_LOOP(!read_width(&r, 1, &touched) && !touched, failures);
		CHECK_LOOP(!reader_expect_end(&r), failures);
		free(buf);
	}
	CHECK_EQ_U64(failures, 0);
}

static void test_reader_peek(void)
{
	struct reader r;
	uint8_t u8;
	uint16_t u16;

	reader_init(&r, seq, 3);
	CHECK(reader_peek_u8(&r, &u8));
	CHECK_EQ_U64(u8, 0x01);
	CHECK(reader_peek_be16(&r, &u16));
	CHECK_EQ_U64(u16, 0x0102);
	CHECK_EQ_U64(reader_offset(&r), 0);
	CHECK(reader_skip(&r, 2));
	CHECK(reader_peek_u8(&r, &u8));
	CHECK_EQ_U64(u8, 0x03);
	u16 = 0x1234;
	CHECK(!reader_peek_be16(&r, &u16));
	CHECK_EQ_U64(u16, 0x1234);
	CHECK(!reader_ok(&r));
	u8 = 0x77;
	CHECK(!reader_peek_u8(&r, &u8));
	CHECK_EQ_U64(u8, 0x77);
}

static void test_reader_copy(void)
{
	struct reader r;
	uint8_t dst[8];

	reader_init(&r, seq, 6);
	memset(dst, 0xee, sizeof(dst));
	CHECK(reader_copy(&r, dst, 4));
	CHECK_MEM(dst, seq, 4);
	CHECK_EQ_U64(dst[4], 0xee);
	CHECK(reader_copy(&r, dst, 0));
	CHECK(reader_copy(&r, NULL, 0));
	memset(dst, 0xee, sizeof(dst));
	CHECK(!reader_copy(&r, dst, 3));
	CHECK_EQ_U64(dst[0], 0xee);
	CHECK_EQ_U64(dst[2], 0xee);
	CHECK(!reader_ok(&r));
	CHECK(!reader_copy(&r, dst, 0));

	/* A NULL destination for real bytes fails instead of crashing. */
	reader_init(&r, seq, 6);
	CHECK(!reader_copy(&r, NULL, 1));
	CHECK(!reader_ok(&r));
}

static void test_reader_view(void)
{
	static const uint8_t *const untouched = seq + 15;
	struct reader r;
	const uint8_t *p = untouched;
	size_t n = 999;

	reader_init(&r, seq, 8);
	CHECK(reader_skip(&r, 1));
	CHECK(reader_view(&r, 3, &p));
	CHECK(p == seq + 1);
	CHECK_EQ_U64(reader_offset(&r), 4);
	CHECK(reader_view(&r, 0, &p));
	CHECK(p == seq + 4);

	p = untouched;
	CHECK(!reader_view(&r, SIZE_MAX, &p));
	CHECK(p == untouched);
	CHECK(!reader_ok(&r));

	reader_init(&r, seq, 8);
	CHECK(reader_skip(&r, 5));
	CHECK(!reader_view(&r, 4, &p));
	CHECK(p == untouched);

	reader_init(&r, seq, 8);
	CHECK(reader_skip(&r, 5));
	CHECK(reader_view_rest(&r, &p, &n));
	CHECK(p == seq + 5);
	CHECK_EQ_U64(n, 3);
	CHECK(reader_done(&r));
	CHECK(reader_view_rest(&r, &p, &n));
	CHECK_EQ_U64(n, 0);
	CHECK(reader_done(&r));

	reader_fail(&r);
	p = untouched;
	n = 999;
	CHECK(!reader_view_rest(&r, &p, &n));
	CHECK(p == untouched);
	CHECK_EQ_U64(n, 999);
}

static void test_reader_skip(void)
{
	struct reader r;

	reader_init(&r, seq, 8);
	CHECK(reader_skip(&r, 0));
	CHECK(reader_skip(&r, 8));
	CHECK(reader_done(&r));
	CHECK(!reader_skip(&r, 1));
	CHECK(!reader_ok(&r));
	CHECK_EQ_U64(reader_offset(&r), 8);

	/* pos + n would wrap around: must still fail. */
	reader_init(&r, seq, 8);
	CHECK(reader_skip(&r, 3));
	CHECK(!reader_skip(&r, SIZE_MAX - 1));
	CHECK_EQ_U64(reader_offset(&r), 3);
	CHECK(!reader_skip(&r, 0));
}

static void test_reader_end_and_fail(void)
{
	struct reader r;

	reader_init(&r, seq, 2);
	CHECK(reader_skip(&r, 1));
	CHECK(!reader_expect_end(&r));
	CHECK(!reader_ok(&r));

	reader_init(&r, seq, 2);
	CHECK(reader_skip(&r, 2));
	CHECK(reader_expect_end(&r));
	CHECK(reader_ok(&r));

	reader_init(&r, seq, 2);
	CHECK(!reader_fail(&r));
	CHECK(!reader_ok(&r));
	CHECK(!reader_done(&r));
	CHECK_EQ_U64(reader_remaining(&r), 0);
	CHECK(!reader_skip(&r, 0));
	CHECK(!reader_expect_end(&r));
}

/* --- sub-readers ---------------------------------------------------------------------- */

static void test_sub_basic(void)
{
	struct reader r, sub;
	uint32_t u32 = 0x5a5a5a5a;
	uint16_t u16;
	uint8_t u8;

	reader_init(&r, seq, 10);
	CHECK(reader_skip(&r, 2));
	CHECK(reader_sub(&r, 3, &sub));
	CHECK_EQ_U64(reader_offset(&r), 5);
	CHECK_EQ_U64(reader_remaining(&sub), 3);
	CHECK(sub.data == seq + 2);
	/* The sub-reader sees exactly its three bytes, though the parent has more. */
	CHECK(!reader_be32(&sub, &u32));
	CHECK_EQ_U64(u32, 0x5a5a5a5a);
	CHECK(!reader_ok(&sub));
	/* Its failure does not touch the parent. */
	CHECK(reader_ok(&r));
	CHECK(reader_u8(&r, &u8));
	CHECK_EQ_U64(u8, 0x06);

	reader_init(&r, seq, 10);
	CHECK(reader_sub(&r, 3, &sub));
	CHECK(reader_be16(&sub, &u16));
	CHECK_EQ_U64(u16, 0x0102);
	CHECK(reader_u8(&sub, &u8));
	CHECK_EQ_U64(u8, 0x03);
	CHECK(reader_done(&sub));
	CHECK(!reader_u8(&sub, &u8));

	/* Zero-length sub-reader. */
	reader_init(&r, seq, 10);
	CHECK(reader_sub(&r, 0, &sub));
	CHECK(reader_done(&sub));
	CHECK_EQ_U64(reader_offset(&r), 0);
}

static void test_sub_failure(void)
{
	struct reader r, sub;
	uint8_t u8 = 0x42;

	reader_init(&r, seq, 10);
	CHECK(reader_skip(&r, 4));
	sub.data = seq;
	sub.len = 10;
	sub.pos = 0;
	sub.failed = false;
	CHECK(!reader_sub(&r, 7, &sub));
	CHECK(!reader_ok(&r));
	/* Even a caller that ignores the result cannot read through the sub-reader. */
	CHECK(!reader_ok(&sub));
	CHECK_EQ_U64(sub.len, 0);
	CHECK_EQ_U64(reader_remaining(&sub), 0);
	CHECK(!reader_u8(&sub, &u8));
	CHECK_EQ_U64(u8, 0x42);

	reader_init(&r, seq, 10);
	CHECK(reader_skip(&r, 1));
	CHECK(!reader_sub(&r, SIZE_MAX, &sub));
	CHECK(!reader_ok(&sub));
	CHECK_EQ_U64(reader_offset(&r), 1);

	/* A failed parent yields failed sub-readers, even of length 0. */
	CHECK(!reader_sub(&r, 0, &sub));
	CHECK(!reader_ok(&sub));
	CHECK(!reader_sub_rest(&r, &sub));
	CHECK(!reader_ok(&sub));
}

static void test_sub_nested(void)
{
	struct reader r, s1, s2, s3;
	uint16_t u16;
	uint8_t u8;

	reader_init(&r, seq, 16);
	CHECK(reader_skip(&r, 1));
	CHECK(reader_sub(&r, 8, &s1));          /* seq[1..9) */
	CHECK(reader_skip(&s1, 1));
	CHECK(reader_sub(&s1, 4, &s2));         /* seq[2..6) */
	CHECK(reader_sub(&s2, 2, &s3));         /* seq[2..4) */
	CHECK(s3.data == seq + 2);
	CHECK(reader_be16(&s3, &u16));
	CHECK_EQ_U64(u16, 0x0304);
	CHECK(!reader_u8(&s3, &u8));
	/* A sub-reader cannot be widened past its parent: s2 has only 2 bytes left. */
	CHECK(!reader_sub(&s2, 3, &s3));
	CHECK(!reader_ok(&s3));
	CHECK(!reader_ok(&s2));
	/* s1 still has its own remaining 3 bytes and no more. */
	CHECK(reader_ok(&s1));
	CHECK_EQ_U64(reader_remaining(&s1), 3);
	CHECK(reader_sub_rest(&s1, &s2));
	CHECK_EQ_U64(reader_remaining(&s2), 3);
	CHECK(s2.data == seq + 6);
	CHECK(reader_done(&s1));
	CHECK(!reader_skip(&s2, 4));
	CHECK_EQ_U64(reader_offset(&r), 9);
	CHECK(reader_u8(&r, &u8));
	CHECK_EQ_U64(u8, 0x0a);
}

static void test_sub_alias(void)
{
	struct reader r;
	uint8_t u8;

	/* Narrowing a reader in place (sub == parent) is allowed. */
	reader_init(&r, seq, 10);
	CHECK(reader_skip(&r, 2));
	CHECK(reader_sub(&r, 2, &r));
	CHECK(r.data == seq + 2);
	CHECK_EQ_U64(reader_remaining(&r), 2);
	CHECK(reader_u8(&r, &u8));
	CHECK_EQ_U64(u8, 0x03);

	reader_init(&r, seq, 4);
	CHECK(reader_skip(&r, 1));
	CHECK(reader_sub_rest(&r, &r));
	CHECK(r.data == seq + 1);
	CHECK_EQ_U64(reader_remaining(&r), 3);
}

/* --- writer basics -------------------------------------------------------------------- */

static void test_writer_ints(void)
{
	static const uint8_t expect[] = {
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
		0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
		0xaa, 0xbb, 0x00, 0x00,
	};
	uint8_t buf[32];
	struct writer w;

	memset(buf, 0xee, sizeof(buf));
	writer_init(&w, buf, sizeof(buf));
	CHECK(writer_ok(&w));
	CHECK_EQ_U64(writer_room(&w), 32);
	CHECK(writer_u8(&w, 0x01));
	CHECK(writer_be16(&w, 0x0203));
	CHECK(writer_be24(&w, 0x040506));
	CHECK(writer_be32(&w, 0x0708090a));
	CHECK(writer_be64(&w, 0x0b0c0d0e0f101112ull));
	CHECK(writer_bytes(&w, "\xaa\xbb", 2));
	CHECK(writer_zeros(&w, 2));
	CHECK(writer_bytes(&w, NULL, 0));
	CHECK(writer_zeros(&w, 0));
	CHECK_EQ_U64(writer_len(&w), sizeof(expect));
	CHECK_MEM(buf, expect, sizeof(expect));
	CHECK_EQ_U64(buf[sizeof(expect)], 0xee);
	CHECK_EQ_U64(writer_room(&w), 32 - sizeof(expect));
}

static void test_writer_be24_range(void)
{
	uint8_t buf[8];
	struct writer w;

	writer_init(&w, buf, sizeof(buf));
	CHECK(writer_be24(&w, 0xffffff));
	CHECK(writer_be24(&w, 0));
	CHECK_MEM(buf, "\xff\xff\xff\x00\x00\x00", 6);
	CHECK(!writer_be24(&w, 0x1000000));
	CHECK(!writer_ok(&w));
	CHECK_EQ_U64(writer_len(&w), 6);
	CHECK(!writer_u8(&w, 1));

	writer_init(&w, buf, sizeof(buf));
	CHECK(!writer_be24(&w, 0xffffffff));
	CHECK_EQ_U64(writer_len(&w), 0);
}

/* Each write that does not fit fails, writes nothing, and is sticky. */
/* writer_init_filled: bytes already in the buffer can be viewed and patched, new ones go
 * after them; len > cap fails. */
static void test_writer_filled(void)
{
	uint8_t buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct writer w;
	uint8_t *v = NULL;

	writer_init_filled(&w, buf, sizeof(buf), 5);
	CHECK(writer_ok(&w));
	CHECK_EQ_U64(writer_len(&w), 5);
	CHECK_EQ_U64(writer_room(&w), 3);
	CHECK(writer_view(&w, 3, 2, &v) && v == buf + 3);
	CHECK(writer_patch_u8(&w, 0, 9) && buf[0] == 9);
	CHECK(writer_be16(&w, 0xaabb) && buf[5] == 0xaa && buf[6] == 0xbb);
	CHECK(!writer_be16(&w, 1) && !writer_ok(&w));
	writer_init_filled(&w, buf, sizeof(buf), 9);
	CHECK(!writer_ok(&w));
	CHECK_EQ_U64(writer_room(&w), 0);
	writer_init_filled(&w, buf, sizeof(buf), 8);
	CHECK(writer_ok(&w) && writer_room(&w) == 0);
}

static void test_writer_failures(void)
{
	uint8_t buf[12];
	struct writer w;
	size_t off = 77;

	for (int kind = 0; kind < 8; kind++) {
		bool ok;

		memset(buf, 0xee, sizeof(buf));
		writer_init(&w, buf, 9);
		CHECK(writer_bytes(&w, seq, 8));     /* one byte of room left */
		switch (kind) {
		case 0: ok = writer_be16(&w, 0x1111); break;
		case 1: ok = writer_be24(&w, 0x111111); break;
		case 2: ok = writer_be32(&w, 0x11111111); break;
		case 3: ok = writer_be64(&w, 0x1111111111111111ull); break;
		case 4: ok = writer_bytes(&w, seq, 2); break;
		case 5: ok = writer_zeros(&w, 2); break;
		case 6: ok = writer_reserve(&w, 2, &off); break;
		default: ok = writer_zeros(&w, SIZE_MAX); break;
		}
		CHECK(!ok);
		CHECK(!writer_ok(&w));
		CHECK_EQ_U64(writer_len(&w), 8);
		CHECK_EQ_U64(writer_room(&w), 0);
		CHECK_EQ_U64(buf[8], 0xee);
		CHECK_EQ_U64(off, 77);
		/* Sticky: one byte would fit, but the writer has failed. */
		CHECK(!writer_u8(&w, 0x22));
		CHECK(!writer_bytes(&w, NULL, 0));
		CHECK_EQ_U64(buf[8], 0xee);
	}

	/* A single byte into a full writer. */
	memset(buf, 0xee, sizeof(buf));
	writer_init(&w, buf, 0);
	CHECK(!writer_u8(&w, 0x33));
	CHECK(!writer_ok(&w));
	CHECK_EQ_U64(buf[0], 0xee);

	writer_init(&w, buf, sizeof(buf));
	CHECK(!writer_bytes(&w, NULL, 1));
	CHECK(!writer_ok(&w));
}

static void test_writer_init_null(void)
{
	struct writer w;
	struct reader r;
	size_t off = 5;

	writer_init(&w, NULL, 0);
	CHECK(writer_ok(&w));
	CHECK_EQ_U64(writer_room(&w), 0);
	CHECK(writer_bytes(&w, NULL, 0));
	CHECK(writer_reserve(&w, 0, &off));
	CHECK_EQ_U64(off, 0);
	writer_as_reader(&w, &r);
	CHECK(reader_done(&r));
	CHECK(!writer_u8(&w, 1));

	writer_init(&w, NULL, 16);
	CHECK(!writer_ok(&w));
	CHECK_EQ_U64(writer_room(&w), 0);
	CHECK(!writer_bytes(&w, NULL, 0));
}

static void test_writer_reserve_patch(void)
{
	uint8_t buf[16];
	struct writer w;
	size_t off = 99, off2 = 99;
	uint8_t *view = NULL;

	memset(buf, 0xee, sizeof(buf));
	writer_init(&w, buf, sizeof(buf));
	CHECK(writer_u8(&w, 0x01));
	CHECK(writer_reserve(&w, 4, &off));
	CHECK_EQ_U64(off, 1);
	CHECK_MEM(buf + 1, "\0\0\0\0", 4);
	CHECK(writer_u8(&w, 0x02));
	CHECK(writer_patch_be32(&w, off, 0xdeadbeef));
	CHECK(writer_patch_be16(&w, off, 0x1234));
	CHECK(writer_patch_u8(&w, 0, 0x09));
	CHECK(writer_patch_bytes(&w, 4, "\x77", 1));
	CHECK_MEM(buf, "\x09\x12\x34\xbe\x77\x02", 6);
	CHECK(writer_patch_bytes(&w, 6, NULL, 0));   /* empty range at the end is fine */
	CHECK(writer_view(&w, 2, 3, &view));
	CHECK(view == buf + 2);
	CHECK(writer_view(&w, 6, 0, &view));
	CHECK(writer_ok(&w));
	CHECK(writer_reserve(&w, 0, &off2));
	CHECK_EQ_U64(off2, 6);
}

/* Patches and views must lie inside [0, len): cap does not count, and offset + n must not
 * wrap around. Every failure is sticky and changes nothing. */
static void test_writer_patch_bounds(void)
{
	static const uint8_t four[4] = { 1, 2, 3, 4 };
	static uint8_t marker[1];
	uint8_t buf[16];
	struct writer w;
	int failures = 0;

	for (int kind = 0; kind < 10; kind++) {
		uint8_t *view = marker;
		bool ok;

		memset(buf, 0xee, sizeof(buf));
		writer_init(&w, buf, sizeof(buf));
		writer_bytes(&w, seq, 4);              /* len 4, cap 16 */
		switch (kind) {
		case 0: ok = writer_patch_u8(&w, 4, 0); break;
		case 1: ok = writer_patch_be16(&w, 3, 0); break;
		case 2: ok = writer_patch_be32(&w, 1, 0); break;
		case 3: ok = writer_patch_bytes(&w, 2, four, 3); break;
		case 4: ok = writer_patch_bytes(&w, SIZE_MAX, four, 1); break;
		case 5: ok = writer_patch_bytes(&w, 1, four, SIZE_MAX); break;
		case 6: ok = writer_patch_be32(&w, SIZE_MAX - 1, 0); break;
		case 7: ok = writer_view(&w, 2, 3, &view); break;
		case 8: ok = writer_view(&w, 5, 0, &view); break;
		default: ok = writer_patch_bytes(&w, 0, NULL, 1); break;
		}
		CHECK_LOOP(!ok, failures);
		CHECK_LOOP(!writer_ok(&w), failures);
		CHECK_LOOP(view == marker, failures);
		CHECK_LOOP(memcmp(buf, seq, 4) == 0 && buf[4] == 0xee, failures);
		CHECK_LOOP(!writer_patch_u8(&w, 0, 9) && buf[0] == seq[0], failures);
		CHECK_LOOP(!writer_view(&w, 0, 1, &view) && view == marker, failures);
	}
	CHECK_EQ_U64(failures, 0);
}

static void test_writer_as_reader(void)
{
	uint8_t buf[16];
	struct writer w;
	struct reader r;
	uint32_t u32;
	uint64_t u64;
	uint16_t u16;

	writer_init(&w, buf, sizeof(buf));
	writer_be32(&w, 0xcafebabe);
	writer_be64(&w, 0x0123456789abcdefull);
	writer_be16(&w, 0xffff);
	writer_as_reader(&w, &r);
	CHECK_EQ_U64(reader_remaining(&r), 14);
	CHECK(reader_be32(&r, &u32));
	CHECK_EQ_U64(u32, 0xcafebabe);
	CHECK(reader_be64(&r, &u64));
	CHECK_EQ_U64(u64, 0x0123456789abcdefull);
	CHECK(reader_be16(&r, &u16));
	CHECK_EQ_U64(u16, 0xffff);
	CHECK(reader_done(&r));

	/* A failed writer's bytes are incomplete: its reader starts out failed. */
	CHECK(!writer_be24(&w, 0x1000000));
	writer_as_reader(&w, &r);
	CHECK(!reader_ok(&r));
	CHECK_EQ_U64(reader_remaining(&r), 0);
}

/* --- a structured message: encoder, parser, loops ------------------------------------- */

/* Test message: magic be32, body length be16, body. The body is a list of TLVs
 * (type u8, length be16, value) and containers nest:
 *   1 container (value is a TLV list)   2 be32 (length 4)   3 be64 (length 8)
 *   4 opaque bytes                      5 be24 + be16 (length 5)
 * The parser re-encodes what it accepts, so a successful parse must reproduce its input
 * byte for byte. */
#define MSG_MAGIC 0x4d4d5431u   /* "MMT1" */
#define MSG_MAX_DEPTH 4

enum { T_CONT = 1, T_U32 = 2, T_U64 = 3, T_BYTES = 4, T_PAIR = 5 };

/* Open a TLV: write its type and reserve the length, to be patched by tlv_close(). */
static size_t tlv_open(struct writer *w, uint8_t type)
{
	size_t off = 0;

	writer_u8(w, type);
	writer_reserve(w, 2, &off);
	return off;
}

static void tlv_close(struct writer *w, size_t len_off)
{
	size_t len = writer_len(w) - len_off - 2;

	if (len > 0xffff)
		writer_patch_be16(w, SIZE_MAX, 0);     /* forces failure */
	else
		writer_patch_be16(w, len_off, (uint16_t)len);
}

static void encode_leaves(struct writer *w, uint32_t salt)
{
	size_t off;

	off = tlv_open(w, T_U32);
	writer_be32(w, 0x11223344u ^ salt);
	tlv_close(w, off);
	off = tlv_open(w, T_U64);
	writer_be64(w, 0x1122334455667788ull + salt);
	tlv_close(w, off);
	off = tlv_open(w, T_PAIR);
	writer_be24(w, (0xabcdefu + salt) & 0xffffff);
	writer_be16(w, (uint16_t)(0x1234 + salt));
	tlv_close(w, off);
	off = tlv_open(w, T_BYTES);
	writer_bytes(w, "hello", 5);
	tlv_close(w, off);
}

static bool encode_message(struct writer *w)
{
	size_t body = 0, c1, c2, c3;

	writer_be32(w, MSG_MAGIC);
	writer_reserve(w, 2, &body);
	encode_leaves(w, 0);
	c1 = tlv_open(w, T_CONT);
	encode_leaves(w, 1);
	c2 = tlv_open(w, T_CONT);
	c3 = tlv_open(w, T_CONT);               /* empty container */
	tlv_close(w, c3);
	encode_leaves(w, 2);
	tlv_close(w, c2);
	tlv_close(w, c1);
	c1 = tlv_open(w, T_BYTES);              /* empty value */
	tlv_close(w, c1);
	writer_patch_be16(w, body, (uint16_t)(writer_len(w) - body - 2));
	return writer_ok(w);
}

struct parse_stats {
	unsigned int tlvs;
	unsigned int max_depth;
};

static bool parse_tlvs(struct reader *r, struct writer *out, unsigned int depth,
		       struct parse_stats *st);

static bool parse_value(uint8_t type, struct reader *v, struct writer *out,
			unsigned int depth, struct parse_stats *st)
{
	uint32_t u32;
	uint64_t u64;
	uint16_t u16;
	const uint8_t *p;
	size_t n;

	switch (type) {
	case T_CONT:
		return parse_tlvs(v, out, depth + 1, st);
	case T_U32:
		return reader_be32(v, &u32) && reader_expect_end(v) && writer_be32(out, u32);
	case T_U64:
		return reader_be64(v, &u64) && reader_expect_end(v) && writer_be64(out, u64);
	case T_PAIR:
		return reader_be24(v, &u32) && reader_be16(v, &u16) && reader_expect_end(v) &&
		       writer_be24(out, u32) && writer_be16(out, u16);
	case T_BYTES:
		return reader_view_rest(v, &p, &n) && writer_bytes(out, p, n);
	default:
		return false;
	}
}

static bool parse_tlvs(struct reader *r, struct writer *out, unsigned int depth,
		       struct parse_stats *st)
{
	if (depth > MSG_MAX_DEPTH)
		return reader_fail(r);
	if (depth > st->max_depth)
		st->max_depth = depth;
	while (reader_ok(r) && !reader_done(r)) {
		uint8_t type;
		uint16_t len;
		struct reader v;
		size_t off;

		if (!reader_u8(r, &type) || !reader_be16(r, &len) || !reader_sub(r, len, &v))
			return false;
		off = tlv_open(out, type);
		if (!parse_value(type, &v, out, depth, st))
			return reader_fail(r);
		tlv_close(out, off);
		st->tlvs++;
	}
	return reader_ok(r);
}

/* Parse data[0, n) exactly; on success the re-encoding is left in out. */
static bool parse_message(const uint8_t *data, size_t n, struct writer *out,
			  struct parse_stats *st)
{
	struct reader r, body;
	uint32_t magic;
	uint16_t body_len;
	size_t off = 0;

	memset(st, 0, sizeof(*st));
	reader_init(&r, data, n);
	if (!reader_be32(&r, &magic) || magic != MSG_MAGIC)
		return false;
	if (!reader_be16(&r, &body_len) || !reader_sub(&r, body_len, &body))
		return false;
	if (!reader_expect_end(&r))
		return false;
	writer_be32(out, magic);
	writer_reserve(out, 2, &off);
	if (!parse_tlvs(&body, out, 0, st))
		return false;
	writer_patch_be16(out, off, (uint16_t)(writer_len(out) - off - 2));
	return writer_ok(out);
}

static size_t build_message(uint8_t *buf, size_t cap)
{
	struct writer w;

	writer_init(&w, buf, cap);
	if (!encode_message(&w))
		abort();
	return writer_len(&w);
}

static void test_message_roundtrip(void)
{
	uint8_t msg[256], again[256];
	size_t n = build_message(msg, sizeof(msg));
	struct parse_stats st;
	struct writer out;

	writer_init(&out, again, sizeof(again));
	CHECK(parse_message(msg, n, &out, &st));
	CHECK_EQ_U64(writer_len(&out), n);
	CHECK_MEM(again, msg, n);
	CHECK_EQ_U64(st.tlvs, 4 + 1 + 4 + 1 + 1 + 4 + 1);
	CHECK_EQ_U64(st.max_depth, 3);
	printf("# test message is %zu bytes\n", n);
}

/* Every strict prefix of the message must be rejected, with no read past its end. */
static void test_truncation_loop(void)
{
	uint8_t msg[256], out_buf[256];
	size_t n = build_message(msg, sizeof(msg));
	int failures = 0;

	for (size_t len = 0; len < n; len++) {
		uint8_t *copy = dup_exact(msg, len);
		struct parse_stats st;
		struct writer out;

		writer_init(&out, out_buf, sizeof(out_buf));
		CHECK_LOOP(!parse_message(copy, len, &out, &st), failures);
		free(copy);
	}
	CHECK_EQ_U64(failures, 0);

	/* And one trailing byte too many is rejected by expect_end. */
	{
		uint8_t *copy = dup_exact(msg, n + 1);
		struct parse_stats st;
		struct writer out;

		writer_init(&out, out_buf, sizeof(out_buf));
		CHECK(!parse_message(copy, n + 1, &out, &st));
		free(copy);
	}
}

/* Flip every bit once: the parse either fails or reproduces the mutated input exactly. */
static void test_bitflip_loop(void)
{
	uint8_t msg[256], out_buf[256];
	size_t n = build_message(msg, sizeof(msg));
	unsigned int accepted = 0, rejected = 0;
	int failures = 0;

	for (size_t bit = 0; bit < n * 8; bit++) {
		uint8_t *copy = dup_exact(msg, n);
		struct parse_stats st;
		struct writer out;

		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		writer_init(&out, out_buf, sizeof(out_buf));
		if (parse_message(copy, n, &out, &st)) {
			accepted++;
			CHECK_LOOP(writer_len(&out) == n, failures);
			CHECK_LOOP(memcmp(out_buf, copy, n) == 0, failures);
			CHECK_LOOP(st.max_depth <= MSG_MAX_DEPTH, failures);
		} else {
			rejected++;
		}
		free(copy);
	}
	CHECK_EQ_U64(failures, 0);
	CHECK_EQ_U64(accepted + rejected, n * 8);
	/* Value bits flip harmlessly, header bits do not: both outcomes must occur. */
	CHECK(accepted > 0);
	CHECK(rejected > 0);
	printf("# bit flips: %u accepted, %u rejected\n", accepted, rejected);
}

/* Encode into every capacity from 0 to the full size: only the full size succeeds, no byte
 * past the capacity is touched, and what was written is a prefix of the real encoding. */
static void test_writer_capacity_loop(void)
{
	uint8_t msg[256];
	size_t n = build_message(msg, sizeof(msg));
	int failures = 0;

	for (size_t cap = 0; cap <= n; cap++) {
		uint8_t *buf = malloc(cap + 8);
		struct writer w;
		bool ok;

		if (!buf)
			abort();
		memset(buf, 0xee, cap + 8);
		writer_init(&w, buf, cap);
		ok = encode_message(&w);
		CHECK_LOOP(ok == (cap == n), failures);
		CHECK_LOOP(writer_len(&w) <= cap, failures);
		CHECK_LOOP(ok || writer_room(&w) == 0, failures);
		for (size_t i = cap; i < cap + 8; i++)
			CHECK_LOOP(buf[i] == 0xee, failures);
		/* Length fields are patched later, so compare only the never-patched magic. */
		CHECK_LOOP(memcmp(buf, msg, writer_len(&w) < 4 ? writer_len(&w) : 4) == 0,
			   failures);
		if (ok)
			CHECK_LOOP(memcmp(buf, msg, n) == 0, failures);
		free(buf);
	}
	CHECK_EQ_U64(failures, 0);
}

int main(void)
{
	test_reader_init();
	test_reader_ints();
	test_reader_int_failures();
	test_reader_peek();
	test_reader_copy();
	test_reader_view();
	test_reader_skip();
	test_reader_end_and_fail();
	test_sub_basic();
	test_sub_failure();
	test_sub_nested();
	test_sub_alias();
	test_writer_ints();
	test_writer_be24_range();
	test_writer_failures();
	test_writer_filled();
	test_writer_init_null();
	test_writer_reserve_patch();
	test_writer_patch_bounds();
	test_writer_as_reader();
	test_message_roundtrip();
	test_truncation_loop();
	test_bitflip_loop();
	test_writer_capacity_loop();
	return tap_done();
}
