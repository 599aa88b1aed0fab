/* Unit tests for mip4/ident.c: NTP timestamps, HA freshness and replay checks, and the
 * 133 resynchronisation of RFC 5944 §5.7.1, with explicit clock values. */
#include <errno.h>

#include "mip4/ident.h"
#include "tests/unit/tap.h"

/* 2024-01-01T00:00:00Z */
#define T2024 MM_SEC(1704067200)

static void test_ntp_conversion(void)
{
	/* The Unix epoch is NTP second 2208988800 = 0x83aa7e80. */
	CHECK_EQ_U64(mip4_ntp_from_unix_ns(0), UINT64_C(0x83aa7e8000000000));
	/* Half a second is half of 2^32. */
	CHECK_EQ_U64(mip4_ntp_from_unix_ns(T2024 + MM_MSEC(500)), UINT64_C(0xe93c7f0080000000));
	CHECK_EQ_U64(mip4_ntp_to_unix_ns(UINT64_C(0xe93c7f0080000000)), T2024 + MM_MSEC(500));
	/* 2040-01-01 is past the 2036 era rollover: the seconds wrap and come back. */
	CHECK_EQ_U64(mip4_ntp_from_unix_ns(MM_SEC(2208988800)), UINT64_C(0x0754fd0000000000));
	CHECK_EQ_U64(mip4_ntp_to_unix_ns(UINT64_C(0x0754fd0000000000)), MM_SEC(2208988800));
	/* Before 1970 is not representable in mm_time_ns. */
	CHECK_EQ_U64(mip4_ntp_to_unix_ns(UINT64_C(0x83aa7e7f00000000)), 0);

	/* A 2^-32 s unit is finer than a nanosecond: ns -> NTP -> ns is exact. */
	int bad = 0;
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		mm_time_ns t = x % MM_SEC(4000000000ull);
		CHECK_LOOP(mip4_ntp_to_unix_ns(mip4_ntp_from_unix_ns(t)) == t, bad);
	}
	CHECK_EQ_U64(bad, 0);
	CHECK(mip4_ident_after(1, 0));
	CHECK(!mip4_ident_after(0, 0));
	CHECK(!mip4_ident_after(0, 1));
	/* Serial order across the 64-bit wrap. */
	CHECK(mip4_ident_after(2, UINT64_MAX));
	CHECK(mip4_ident_reply_matches(UINT64_C(0x1111111122222222),
				       UINT64_C(0x3333333322222222)));
	CHECK(!mip4_ident_reply_matches(UINT64_C(0x1111111122222222),
					UINT64_C(0x1111111122222223)));
}

static void test_mn_next(void)
{
	struct mip4_ident_mn mn;
	uint64_t a, b, c, d;

	mip4_ident_mn_init(&mn);
	a = mip4_ident_mn_next(&mn, T2024 + MM_MSEC(500), 0xabc);
	/* High bits from the clock, the low 12 from the random input. */
	CHECK_EQ_U64(a >> 32, 0xe93c7f00);
	CHECK_EQ_U64(a & 0xfff, 0xabc);
	CHECK_EQ_U64(a & ~UINT64_C(0xfff), UINT64_C(0xe93c7f0080000000));
	/* §5.7.1: strictly greater than every earlier one, even on the same clock reading or
	 * a clock that stepped back. */
	b = mip4_ident_mn_next(&mn, T2024 + MM_MSEC(500), 0x001);
	CHECK(mip4_ident_after(b, a));
	c = mip4_ident_mn_next(&mn, T2024 - MM_SEC(60), 0xfff);
	CHECK(mip4_ident_after(c, b));
	d = mip4_ident_mn_next(&mn, T2024 + MM_SEC(1), 0x123);
	CHECK(mip4_ident_after(d, c));
	CHECK_EQ_U64(d >> 32, 0xe93c7f01);
}

static void test_ha_check(void)
{
	struct mip4_ident_ha ha;
	uint64_t reply = 0, id;
	mm_time_ns now = T2024 + MM_MSEC(250);

	CHECK_EQ_U64(MIP4_IDENT_WINDOW_DEFAULT, MM_SEC(7));
	mip4_ident_ha_init(&ha);
	id = mip4_ntp_from_unix_ns(now - MM_SEC(2)) | 0x5;
	CHECK(mip4_ident_ha_check(&ha, id, now, MIP4_IDENT_WINDOW_DEFAULT, &reply) == 0);
	CHECK_EQ_U64(reply, id);  /* valid: copied whole */
	mip4_ident_ha_accept(&ha, id);

	/* Replays: the same, and an earlier but still fresh one. */
	CHECK(mip4_ident_ha_check(&ha, id, now, MIP4_IDENT_WINDOW_DEFAULT, &reply) == -EALREADY);
	CHECK_EQ_U64(reply >> 32, mip4_ntp_from_unix_ns(now) >> 32);
	CHECK_EQ_U64((uint32_t)reply, (uint32_t)id);
	CHECK(mip4_ident_ha_check(&ha, id - 1, now, MIP4_IDENT_WINDOW_DEFAULT, &reply) ==
	      -EALREADY);
	CHECK(mip4_ident_ha_check(&ha, id + 1, now, MIP4_IDENT_WINDOW_DEFAULT, &reply) == 0);

	/* Window edges: exactly 7 s either way passes, a bit more does not. */
	mip4_ident_ha_init(&ha);
	id = mip4_ntp_from_unix_ns(now + MM_SEC(7));
	CHECK(mip4_ident_ha_check(&ha, id, now, MIP4_IDENT_WINDOW_DEFAULT, &reply) == 0);
	id = mip4_ntp_from_unix_ns(now - MM_SEC(7));
	CHECK(mip4_ident_ha_check(&ha, id, now, MIP4_IDENT_WINDOW_DEFAULT, &reply) == 0);
	id = mip4_ntp_from_unix_ns(now + MM_SEC(7) + MM_MSEC(1));
	CHECK(mip4_ident_ha_check(&ha, id, now, MIP4_IDENT_WINDOW_DEFAULT, &reply) == -ERANGE);
	/* §5.7.1: HA's seconds high, MN's low 32 bits. */
	CHECK_EQ_U64(reply, (mip4_ntp_from_unix_ns(now) & ~UINT64_C(0xffffffff)) |
			    (id & 0xffffffff));
	id = mip4_ntp_from_unix_ns(now - MM_SEC(8));
	CHECK(mip4_ident_ha_check(&ha, id, now, MIP4_IDENT_WINDOW_DEFAULT, &reply) == -ERANGE);
	/* A configured window. */
	CHECK(mip4_ident_ha_check(&ha, id, now, MM_SEC(10), &reply) == 0);
	/* Garbage (a nonce-style or zero Identification) is far outside any window. */
	CHECK(mip4_ident_ha_check(&ha, 0, now, MIP4_IDENT_WINDOW_DEFAULT, &reply) == -ERANGE);
	CHECK(mip4_ident_ha_check(&ha, 0, now, UINT64_MAX, &reply) == 0);
	uint64_t keep = 77;
	CHECK(mip4_ident_ha_check(NULL, 0, now, 0, &keep) == -EINVAL);
	CHECK_EQ_U64(keep, 77);
}

/* The full exchange: the MN's clock is 100 s slow, the HA rejects with 133, the MN resyncs
 * and its next request is accepted. */
static void test_resync_slow_clock(void)
{
	struct mip4_ident_mn mn;
	struct mip4_ident_ha ha;
	mm_time_ns ha_now = T2024 + MM_MSEC(900);
	mm_time_ns mn_now = ha_now - MM_SEC(100);
	uint64_t sent, reply = 0, next;

	mip4_ident_mn_init(&mn);
	mip4_ident_ha_init(&ha);
	sent = mip4_ident_mn_next(&mn, mn_now, 0x777);
	CHECK(mip4_ident_ha_check(&ha, sent, ha_now, MIP4_IDENT_WINDOW_DEFAULT, &reply) ==
	      -ERANGE);
	CHECK(mip4_ident_reply_matches(sent, reply));

	/* A reply whose low bits are not ours changes nothing (§3.6.2.1). */
	struct mip4_ident_mn before = mn;
	CHECK(mip4_ident_mn_resync(&mn, sent, reply ^ 1, mn_now + MM_MSEC(40)) == -EPROTO);
	CHECK_MEM(&mn, &before, sizeof(mn));

	CHECK(mip4_ident_mn_resync(&mn, sent, reply, mn_now + MM_MSEC(40)) == 0);
	/* HA's second + 0.5 s, minus our clock at reception. */
	CHECK_EQ_U64(mn.offset_ns, MM_SEC(100) - MM_MSEC(900) + MM_MSEC(500) - MM_MSEC(40));

	/* One second later on both clocks. */
	next = mip4_ident_mn_next(&mn, mn_now + MM_SEC(1), 0x1);
	CHECK(mip4_ident_ha_check(&ha, next, ha_now + MM_SEC(1), MIP4_IDENT_WINDOW_DEFAULT,
				  &reply) == 0);
	CHECK_EQ_U64(reply, next);
	mip4_ident_ha_accept(&ha, next);
	mip4_ident_mn_accepted(&mn, next);
	/* And the one after that, too. */
	uint64_t third = mip4_ident_mn_next(&mn, mn_now + MM_SEC(2), 0x2);
	CHECK(mip4_ident_ha_check(&ha, third, ha_now + MM_SEC(2), MIP4_IDENT_WINDOW_DEFAULT,
				  &reply) == 0);
}

/* The MN's clock is fast: its first request is accepted 5 s ahead, then the clock jumps
 * 20 s further. After the 133 the MN follows the HA's clock, but must stay above what the
 * HA already accepted. */
static void test_resync_keeps_floor(void)
{
	struct mip4_ident_mn mn;
	struct mip4_ident_ha ha;
	mm_time_ns ha_now = T2024;
	uint64_t first, sent, reply = 0, next;

	mip4_ident_mn_init(&mn);
	mip4_ident_ha_init(&ha);
	first = mip4_ident_mn_next(&mn, ha_now + MM_SEC(5), 0);
	CHECK(mip4_ident_ha_check(&ha, first, ha_now, MIP4_IDENT_WINDOW_DEFAULT, &reply) == 0);
	mip4_ident_ha_accept(&ha, first);
	mip4_ident_mn_accepted(&mn, first);

	sent = mip4_ident_mn_next(&mn, ha_now + MM_SEC(1) + MM_SEC(25), 0);
	CHECK(mip4_ident_ha_check(&ha, sent, ha_now + MM_SEC(1), MIP4_IDENT_WINDOW_DEFAULT,
				  &reply) == -ERANGE);
	CHECK(mip4_ident_mn_resync(&mn, sent, reply, ha_now + MM_SEC(1) + MM_SEC(25)) == 0);
	/* Our clock now reads about HA time, i.e. below `first`: the floor lifts it. */
	next = mip4_ident_mn_next(&mn, ha_now + MM_SEC(2) + MM_SEC(25), 0);
	CHECK(mip4_ident_after(next, first));
	CHECK(mip4_ident_ha_check(&ha, next, ha_now + MM_SEC(2), MIP4_IDENT_WINDOW_DEFAULT,
				  &reply) == 0);
}

/* A replayed request (an attacker resends the last accepted one) gets 133. */
static void test_replay_scenario(void)
{
	struct mip4_ident_mn mn;
	struct mip4_ident_ha ha;
	uint64_t id1, id2, reply = 0;

	mip4_ident_mn_init(&mn);
	mip4_ident_ha_init(&ha);
	id1 = mip4_ident_mn_next(&mn, T2024, 0x10);
	CHECK(mip4_ident_ha_check(&ha, id1, T2024, MIP4_IDENT_WINDOW_DEFAULT, &reply) == 0);
	mip4_ident_ha_accept(&ha, id1);
	id2 = mip4_ident_mn_next(&mn, T2024 + MM_SEC(2), 0x20);
	CHECK(mip4_ident_ha_check(&ha, id2, T2024 + MM_SEC(2), MIP4_IDENT_WINDOW_DEFAULT,
				  &reply) == 0);
	mip4_ident_ha_accept(&ha, id2);
	/* id1 is still within the window at +3 s, but older than id2. */
	CHECK(mip4_ident_ha_check(&ha, id1, T2024 + MM_SEC(3), MIP4_IDENT_WINDOW_DEFAULT,
				  &reply) == -EALREADY);
	CHECK(mip4_ident_ha_check(&ha, id2, T2024 + MM_SEC(3), MIP4_IDENT_WINDOW_DEFAULT,
				  &reply) == -EALREADY);
}

/* Freshness and order across the NTP era rollover (2036-02-07T06:28:16Z). */
static void test_era_rollover(void)
{
	struct mip4_ident_ha ha;
	mm_time_ns roll = MM_SEC(UINT64_C(4294967296) - UINT64_C(2208988800));
	uint64_t before, after, reply = 0;

	mip4_ident_ha_init(&ha);
	before = mip4_ntp_from_unix_ns(roll - MM_SEC(1));
	after = mip4_ntp_from_unix_ns(roll + MM_SEC(1));
	CHECK_EQ_U64(before >> 32, 0xffffffff);
	CHECK_EQ_U64(after >> 32, 1);
	CHECK(mip4_ident_after(after, before));
	CHECK(mip4_ident_ha_check(&ha, before, roll, MIP4_IDENT_WINDOW_DEFAULT, &reply) == 0);
	mip4_ident_ha_accept(&ha, before);
	CHECK(mip4_ident_ha_check(&ha, after, roll, MIP4_IDENT_WINDOW_DEFAULT, &reply) == 0);
	CHECK_EQ_U64(mip4_ntp_to_unix_ns(after), roll + MM_SEC(1));
}

int main(void)
{
	test_ntp_conversion();
	test_mn_next();
	test_ha_check();
	test_resync_slow_clock();
	test_resync_keeps_floor();
	test_replay_scenario();
	test_era_rollover();
	return tap_done();
}
