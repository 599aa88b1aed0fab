/* Unit tests for vpngw/pool.{h,c}: the TIA pool. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sock.h"
#include "vpngw/pool.h"
#include "tests/unit/tap.h"

static struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };

	if (addr4_parse(s, &a) != 0) {
		printf("Bail out! bad test address %s\n", s);
		exit(1);
	}
	return a;
}

static struct ike_identity id_email(const char *s)
{
	struct ike_identity id;

	memset(&id, 0, sizeof(id));
	id.type = 3;    /* ID_RFC822_ADDR, RFC 7296 3.5 */
	id.len = (uint16_t)strlen(s);
	memcpy(id.data, s, id.len);
	return id;
}

static bool is(struct in_addr a, const char *want)
{
	char buf[ADDR4_STRLEN];

	if (a.s_addr == ip(want).s_addr)
		return true;
	printf("# got %s, expected %s\n", addr4_str(a, buf), want);
	return false;
}

static void test_basic(void)
{
	struct ike_identity a = id_email("a@test"), b = id_email("b@test"), c = id_email("c@test");
	struct pool *p = NULL;
	struct in_addr x, y, z, before;

	/* A /29: .0 network, .7 broadcast, .6 the gateway: .1 .. .5 to hand out. */
	CHECK(pool_new(ip("198.18.100.0"), 29, ip("198.18.100.6"), &p) == 0);
	CHECK_EQ_U64(pool_size(p), 5);
	CHECK_EQ_U64(pool_in_use(p), 0);
	CHECK(pool_acquire(p, &a, &x) == 0 && is(x, "198.18.100.1"));
	CHECK(pool_acquire(p, &b, &y) == 0 && is(y, "198.18.100.2"));
	CHECK_EQ_U64(pool_in_use(p), 2);
	/* The same identity again while it holds the lease: the same address, two holders. */
	CHECK(pool_acquire(p, &a, &z) == 0 && is(z, "198.18.100.1"));
	CHECK_EQ_U64(pool_holders(p, x), 2);
	CHECK_EQ_U64(pool_in_use(p), 2);
	CHECK(pool_release(p, x) == 0);
	CHECK_EQ_U64(pool_holders(p, x), 1);
	CHECK_EQ_U64(pool_in_use(p), 2);
	CHECK(pool_release(p, x) == 0);
	CHECK_EQ_U64(pool_holders(p, x), 0);
	CHECK_EQ_U64(pool_in_use(p), 1);
	CHECK(pool_release(p, x) == -ENOENT);
	/* Back soon: the old address, as nobody took it. */
	CHECK(pool_acquire(p, &a, &z) == 0 && is(z, "198.18.100.1"));
	/* A new identity gets a never-used address, not a remembered one. */
	CHECK(pool_release(p, z) == 0);
	CHECK(pool_acquire(p, &c, &z) == 0 && is(z, "198.18.100.3"));
	/* Release of addresses not leased or not in the pool. */
	CHECK(pool_release(p, ip("198.18.100.4")) == -ENOENT);
	CHECK(pool_release(p, ip("198.18.100.0")) == -ENOENT);
	CHECK(pool_release(p, ip("198.18.100.6")) == -ENOENT);
	CHECK(pool_release(p, ip("198.18.100.7")) == -ENOENT);
	CHECK(pool_release(p, ip("198.18.101.1")) == -ENOENT);
	CHECK(pool_release(p, ip("198.18.99.255")) == -ENOENT);
	CHECK_EQ_U64(pool_holders(p, ip("198.18.101.1")), 0);
	/* Bad arguments leave the output alone. */
	before = ip("1.2.3.4");
	z = before;
	CHECK(pool_acquire(p, NULL, &z) == -EINVAL && z.s_addr == before.s_addr);
	CHECK(pool_acquire(NULL, &a, &z) == -EINVAL && z.s_addr == before.s_addr);
	CHECK(pool_acquire(p, &a, NULL) == -EINVAL);
	pool_free(p);
	pool_free(NULL);
}

static void test_exhaustion(void)
{
	struct pool *p = NULL;
	struct in_addr got[6], z, keep;
	char name[32];
	struct ike_identity id;
	bool distinct = true, skipped = true;

	CHECK(pool_new(ip("198.18.100.0"), 29, ip("198.18.100.6"), &p) == 0);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "mn%d@test", i);
		id = id_email(name);
		CHECK(pool_acquire(p, &id, &got[i]) == 0);
		for (int k = 0; k < i; k++)
			distinct &= got[k].s_addr != got[i].s_addr;
		skipped &= got[i].s_addr != ip("198.18.100.0").s_addr &&
			   got[i].s_addr != ip("198.18.100.6").s_addr &&
			   got[i].s_addr != ip("198.18.100.7").s_addr;
	}
	CHECK(distinct);
	CHECK(skipped);
	CHECK_EQ_U64(pool_in_use(p), 5);
	/* Full: a sixth identity is refused and its output left alone. */
	id = id_email("late@test");
	keep = ip("9.9.9.9");
	z = keep;
	CHECK(pool_acquire(p, &id, &z) == -ENOSPC && z.s_addr == keep.s_addr);
	/* An existing holder still gets its address back when full. */
	id = id_email("mn2@test");
	CHECK(pool_acquire(p, &id, &z) == 0 && z.s_addr == got[2].s_addr);
	CHECK(pool_release(p, z) == 0);
	/* Free one: the newcomer gets exactly that one, and mn1 forgets it. */
	CHECK(pool_release(p, got[1]) == 0);
	id = id_email("late@test");
	CHECK(pool_acquire(p, &id, &z) == 0 && z.s_addr == got[1].s_addr);
	id = id_email("mn1@test");
	CHECK(pool_acquire(p, &id, &z) == -ENOSPC);
	/* Oldest released first: free mn3's then mn0's; a newcomer takes mn3's. */
	CHECK(pool_release(p, got[3]) == 0);
	CHECK(pool_release(p, got[0]) == 0);
	id = id_email("new@test");
	CHECK(pool_acquire(p, &id, &z) == 0 && z.s_addr == got[3].s_addr);
	/* mn0 comes back: its old address is still free. */
	id = id_email("mn0@test");
	CHECK(pool_acquire(p, &id, &z) == 0 && z.s_addr == got[0].s_addr);
	pool_free(p);
}

static void test_reacquired_while_queued(void)
{
	struct ike_identity a = id_email("a@test"), b = id_email("b@test"), c = id_email("c@test");
	struct pool *p = NULL;
	struct in_addr x, y, z;

	/* /30: .1 and .2 usable, no reserved address. */
	CHECK(pool_new(ip("198.18.7.0"), 30, ip("0.0.0.0"), &p) == 0);
	CHECK_EQ_U64(pool_size(p), 2);
	CHECK(pool_acquire(p, &a, &x) == 0 && is(x, "198.18.7.1"));
	CHECK(pool_acquire(p, &b, &y) == 0 && is(y, "198.18.7.2"));
	/* a's address is released (queued), then a comes back and holds it again. */
	CHECK(pool_release(p, x) == 0);
	CHECK(pool_acquire(p, &a, &z) == 0 && is(z, "198.18.7.1"));
	/* The stale queue entry must not hand a's address to c. */
	CHECK(pool_acquire(p, &c, &z) == -ENOSPC);
	CHECK(pool_release(p, y) == 0);
	CHECK(pool_acquire(p, &c, &z) == 0 && is(z, "198.18.7.2"));
	/* a releases again (its earlier queue entry was consumed): freed again properly. */
	CHECK(pool_release(p, x) == 0);
	CHECK(pool_acquire(p, &b, &z) == 0 && is(z, "198.18.7.1"));
	pool_free(p);
}

static void test_new_args(void)
{
	struct pool *p = NULL;
	struct in_addr x;
	struct ike_identity a = id_email("a@test");

	CHECK(pool_new(ip("198.18.0.0"), 15, ip("0.0.0.0"), &p) == -EINVAL && !p);
	CHECK(pool_new(ip("198.18.0.0"), 31, ip("0.0.0.0"), &p) == -EINVAL && !p);
	CHECK(pool_new(ip("198.18.0.0"), 24, ip("0.0.0.0"), NULL) == -EINVAL);
	/* Host bits of the network are ignored; a reserved address outside the pool reserves
	 * nothing. */
	CHECK(pool_new(ip("198.18.100.77"), 24, ip("198.19.0.2"), &p) == 0);
	CHECK_EQ_U64(pool_size(p), 254);
	CHECK(pool_acquire(p, &a, &x) == 0 && is(x, "198.18.100.1"));
	pool_free(p);
	/* The reserved address at the start of the pool is skipped. */
	CHECK(pool_new(ip("198.18.100.0"), 24, ip("198.18.100.1"), &p) == 0);
	CHECK_EQ_U64(pool_size(p), 253);
	CHECK(pool_acquire(p, &a, &x) == 0 && is(x, "198.18.100.2"));
	pool_free(p);
	/* A /16 with every address handed out once: the largest pool. */
	CHECK(pool_new(ip("198.18.0.0"), 16, ip("198.18.255.254"), &p) == 0);
	CHECK_EQ_U64(pool_size(p), 65533);
	{
		unsigned fails = 0;
		struct ike_identity id;
		char name[32];

		for (unsigned i = 0; i < 65533; i++) {
			snprintf(name, sizeof(name), "u%u@test", i);
			id = id_email(name);
			CHECK_LOOP(pool_acquire(p, &id, &x) == 0 &&
				   x.s_addr != ip("198.18.255.254").s_addr, fails);
		}
		CHECK_EQ_U64(fails, 0);
		CHECK_EQ_U64(pool_in_use(p), 65533);
		id = id_email("one-too-many@test");
		CHECK(pool_acquire(p, &id, &x) == -ENOSPC);
	}
	pool_free(p);
}

int main(void)
{
	test_basic();
	test_exhaustion();
	test_reacquired_while_queued();
	test_new_args();
	return tap_done();
}
