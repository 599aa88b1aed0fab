/* Unit tests for policy/agent.c: foreign agent tracking and the solicitation schedule of
 * the mobile node (RFC 5944 2.4, 2.4.2.1, 2.4.2.2, 2.4.4; RFC 1256 4.2). The expected values
 * are worked out by hand from those sections; every advertisement is a struct as
 * mip4_adv_parse() would return it. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "policy/agent.h"
#include "tests/unit/tap.h"

#define T0 MM_SEC(5000)

static struct in_addr ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a;
}

#define FA1 "198.18.21.1"
#define FA2 "198.18.22.1"
#define FA3 "198.18.23.1"

/* An advertisement of a foreign agent at `addr` offering `coa`, lifetime `life` s. */
static struct mip4_agent_adv adv_of(const char *addr, const char *coa, uint16_t seq,
				    uint16_t life)
{
	struct mip4_agent_adv a;

	memset(&a, 0, sizeof(a));
	a.code = MIP4_ADV_CODE_ROUTER;
	a.lifetime = life;
	a.num_addrs = 1;
	a.routers[0].addr = ip(addr);
	a.seq = seq;
	a.reg_lifetime = 600;
	a.flags = MIP4_ADV_F | MIP4_ADV_T;
	a.num_coa = 1;
	a.coa[0] = ip(coa);
	return a;
}

static struct mip4_agent_adv with_prefix(struct mip4_agent_adv a, uint8_t plen)
{
	a.has_prefix_lengths = true;
	a.prefix_len[0] = plen;
	return a;
}

static void test_names(void)
{
	CHECK_STR(agent_event_name(AGENT_EV_NONE), "none");
	CHECK_STR(agent_event_name(AGENT_EV_NEW), "new");
	CHECK_STR(agent_event_name(AGENT_EV_SAME), "same");
	CHECK_STR(agent_event_name(AGENT_EV_REBOOTED), "rebooted");
	CHECK_STR(agent_event_name(AGENT_EV_LOST), "lost");
	CHECK_STR(agent_event_name(AGENT_EV_COUNT), "?");
	CHECK_STR(agent_event_name((enum agent_event)-1), "?");
}

/* RFC 5944 2.4: at most three solicitations, at least 1 s apart, randomised; RFC 5266 3.2:
 * the first at once. Link down: none. */
static void test_solicitations(void)
{
	struct policy_agent_tracker t;
	mm_time_ns now = T0;

	policy_agent_init(&t, NULL);
	CHECK(!policy_agent_solicit_due(&t, now, 0));        /* link down */
	CHECK_EQ_U64(policy_agent_deadline(&t), POLICY_AGENT_NEVER);
	policy_agent_link_up(&t, now);
	CHECK_EQ_U64(policy_agent_deadline(&t), now);
	CHECK(policy_agent_solicit_due(&t, now, 150000000));  /* +150 ms jitter next */
	CHECK(!policy_agent_solicit_due(&t, now, 0));         /* not twice at once */
	CHECK_EQ_U64(policy_agent_deadline(&t), now + MM_MSEC(1150));
	CHECK(!policy_agent_solicit_due(&t, now + MM_MSEC(1149), 0));
	now += MM_MSEC(1150);
	CHECK(policy_agent_solicit_due(&t, now, 0xffffffffu));
	/* 0xffffffff % 200 ms = 94967295 ns: never more than the 200 ms of jitter. */
	CHECK_EQ_U64(policy_agent_deadline(&t), now + MM_SEC(1) + 94967295u);
	now = policy_agent_deadline(&t);
	CHECK(policy_agent_solicit_due(&t, now, 0));
	/* Three: done, whatever the time. */
	CHECK_EQ_U64(policy_agent_deadline(&t), POLICY_AGENT_NEVER);
	CHECK(!policy_agent_solicit_due(&t, now + MM_SEC(3600), 0));
	CHECK_EQ_U64(t.stats.solicitations, 3);
	/* A new attachment: a new round. */
	policy_agent_link_up(&t, now + MM_SEC(10));
	CHECK(policy_agent_solicit_due(&t, now + MM_SEC(10), 0));
	CHECK(policy_agent_link_down(&t, NULL) == AGENT_EV_NONE);
	CHECK(!policy_agent_solicit_due(&t, now + MM_SEC(20), 0));
	CHECK_EQ_U64(policy_agent_deadline(&t), POLICY_AGENT_NEVER);
}

/* The first agent becomes current (NEW) and stops the solicitations (2.4: only in the
 * absence of advertisements); its later advertisements are SAME; sequence numbers (2.4.4). */
static void test_first_agent_and_seq(void)
{
	struct policy_agent_tracker t;
	struct policy_agent cur;
	struct mip4_agent_adv a = adv_of(FA1, "198.18.21.2", 0, 10);
	mm_time_ns now = T0;

	policy_agent_init(&t, NULL);
	policy_agent_link_up(&t, now);
	CHECK(policy_agent_solicit_due(&t, now, 0));
	now += MM_MSEC(300);
	memset(&cur, 0, sizeof(cur));
	CHECK(policy_agent_heard(&t, ip(FA1), &a, now, &cur) == AGENT_EV_NEW);
	/* 3.6.1.1: register with the advertisement's source; 2.4: the first care-of address. */
	CHECK_EQ_U64(cur.addr.s_addr, ip(FA1).s_addr);
	CHECK_EQ_U64(cur.coa[0].s_addr, ip("198.18.21.2").s_addr);
	CHECK_EQ_U64(cur.num_coa, 1);
	CHECK_EQ_U64(cur.reg_lifetime, 600);
	CHECK_EQ_U64(cur.flags, MIP4_ADV_F | MIP4_ADV_T);
	CHECK_EQ_U64(cur.expires_at, now + MM_SEC(10));
	CHECK(policy_agent_current(&t) != NULL);
	CHECK(!policy_agent_solicit_due(&t, now + MM_SEC(5), 0));
	CHECK_EQ_U64(policy_agent_deadline(&t), now + MM_SEC(10));

	/* Next advertisements: seq 1, 2 ... SAME, the lifetime refreshed. */
	now += MM_SEC(1);
	a.seq = 1;
	CHECK(policy_agent_heard(&t, ip(FA1), &a, now, &cur) == AGENT_EV_SAME);
	CHECK_EQ_U64(cur.seq, 1);
	CHECK_EQ_U64(policy_agent_deadline(&t), now + MM_SEC(10));
	/* Rollover (2.3.2: 0xffff is followed by 256): no re-registration (2.4.4). */
	a.seq = 0xffff;
	CHECK(policy_agent_heard(&t, ip(FA1), &a, now, &cur) == AGENT_EV_SAME);
	a.seq = 256;
	CHECK(policy_agent_heard(&t, ip(FA1), &a, now, &cur) == AGENT_EV_SAME);
	/* Lower and below 256: the agent rebooted (2.4.4 "SHOULD register again"). */
	a.seq = 0;
	CHECK(policy_agent_heard(&t, ip(FA1), &a, now, &cur) == AGENT_EV_REBOOTED);
	CHECK_EQ_U64(cur.seq, 0);
	a.seq = 1;
	CHECK(policy_agent_heard(&t, ip(FA1), &a, now, &cur) == AGENT_EV_SAME);
	/* 300 -> 255: lower and below 256 */
	a.seq = 300;
	CHECK(policy_agent_heard(&t, ip(FA1), &a, now, &cur) == AGENT_EV_SAME);
	a.seq = 255;
	CHECK(policy_agent_heard(&t, ip(FA1), &a, now, &cur) == AGENT_EV_REBOOTED);
	/* Equal is not lower. */
	CHECK(policy_agent_heard(&t, ip(FA1), &a, now, &cur) == AGENT_EV_SAME);
	CHECK_EQ_U64(t.stats.reboots, 2);
	CHECK_EQ_U64(t.stats.moves, 1);
	/* A busy advertisement of the current agent still refreshes it. */
	a.flags |= MIP4_ADV_B;
	a.seq = 256;
	CHECK(policy_agent_heard(&t, ip(FA1), &a, now, &cur) == AGENT_EV_SAME);
	CHECK(cur.flags & MIP4_ADV_B);
	/* A new care-of address from the same agent: register anew. */
	a.flags &= (uint16_t)~MIP4_ADV_B;
	a.coa[0] = ip("198.18.21.3");
	CHECK(policy_agent_heard(&t, ip(FA1), &a, now, &cur) == AGENT_EV_NEW);
	CHECK_EQ_U64(cur.coa[0].s_addr, ip("198.18.21.3").s_addr);
}

/* 2.4.2.1: another agent heard while the current one is valid is only recorded; when the
 * current one's lifetime runs out, the most recently heard valid one takes over at once;
 * with none left, LOST and a new round of solicitations. */
static void test_lifetime_moves(void)
{
	struct policy_agent_tracker t;
	struct policy_agent cur;
	struct mip4_agent_adv a1 = adv_of(FA1, FA1, 10, 3);
	struct mip4_agent_adv a2 = adv_of(FA2, FA2, 10, 9);
	struct mip4_agent_adv a3 = adv_of(FA3, FA3, 10, 9);
	mm_time_ns now = T0;

	policy_agent_init(&t, NULL);
	policy_agent_link_up(&t, now);
	CHECK(policy_agent_heard(&t, ip(FA1), &a1, now, &cur) == AGENT_EV_NEW);
	memset(&cur, 0x77, sizeof(cur));
	struct policy_agent keep = cur;
	CHECK(policy_agent_heard(&t, ip(FA2), &a2, now + MM_SEC(1), &cur) == AGENT_EV_NONE);
	CHECK(policy_agent_heard(&t, ip(FA3), &a3, now + MM_SEC(2), &cur) == AGENT_EV_NONE);
	CHECK_MEM(&keep, &cur, sizeof(cur));                   /* untouched on NONE */
	CHECK_EQ_U64(policy_agent_current(&t)->addr.s_addr, ip(FA1).s_addr);
	/* The deadline is FA1's expiry, 3 s after it was heard. */
	CHECK_EQ_U64(policy_agent_deadline(&t), now + MM_SEC(3));
	CHECK(policy_agent_tick(&t, now + MM_SEC(3) - 1, &cur) == AGENT_EV_NONE);
	/* Expired: FA3, heard last, takes over. */
	CHECK(policy_agent_tick(&t, now + MM_SEC(3), &cur) == AGENT_EV_NEW);
	CHECK_EQ_U64(cur.addr.s_addr, ip(FA3).s_addr);
	CHECK(!policy_agent_solicit_due(&t, now + MM_SEC(3), 0));
	/* FA3 expires at +11 s; FA2 at +10 s is gone by then too: LOST. */
	CHECK_EQ_U64(policy_agent_deadline(&t), now + MM_SEC(11));
	CHECK(policy_agent_tick(&t, now + MM_SEC(11), &cur) == AGENT_EV_LOST);
	CHECK_EQ_U64(cur.addr.s_addr, ip(FA3).s_addr);          /* the agent that was lost */
	CHECK(policy_agent_current(&t) == NULL);
	CHECK_EQ_U64(t.count, 0);
	/* 2.4.2.1 "SHOULD attempt to discover a new agent": solicit again (an agent was found
	 * since the last round). */
	CHECK_EQ_U64(policy_agent_deadline(&t), now + MM_SEC(11));
	CHECK(policy_agent_solicit_due(&t, now + MM_SEC(11), 0));
	CHECK(policy_agent_solicit_due(&t, now + MM_SEC(12), 0));
	CHECK(policy_agent_solicit_due(&t, now + MM_SEC(13), 0));
	CHECK(!policy_agent_solicit_due(&t, now + MM_SEC(14), 0));
	CHECK_EQ_U64(t.stats.lost, 1);
	CHECK_EQ_U64(t.stats.moves, 2);

	/* An agent heard after the last round, and lost again: another round. But a LOST with
	 * no agent heard since the round began gives no further solicitations. */
	now += MM_SEC(20);
	a1.seq = 11;
	CHECK(policy_agent_heard(&t, ip(FA1), &a1, now, &cur) == AGENT_EV_NEW);
	CHECK(policy_agent_tick(&t, now + MM_SEC(3), &cur) == AGENT_EV_LOST);
	CHECK(policy_agent_solicit_due(&t, now + MM_SEC(3), 0));
	CHECK_EQ_U64(t.stats.solicitations, 4);
	CHECK(policy_agent_tick(&t, now + MM_SEC(100), &cur) == AGENT_EV_NONE);
	CHECK_EQ_U64(policy_agent_deadline(&t), now + MM_SEC(4));

	/* A late tick: an advertisement of another agent after the current one expired takes
	 * over at once. */
	policy_agent_link_up(&t, now);
	CHECK(policy_agent_heard(&t, ip(FA1), &a1, now, &cur) == AGENT_EV_NEW);
	CHECK(policy_agent_heard(&t, ip(FA2), &a2, now + MM_SEC(5), &cur) == AGENT_EV_NEW);
	CHECK_EQ_U64(cur.addr.s_addr, ip(FA2).s_addr);
	CHECK_EQ_U64(t.count, 1);
}

/* Advertisements that never make an agent current: no F (a home agent only), B (busy),
 * lifetime 0; a current agent saying lifetime 0 or dropping F is gone. */
static void test_ignored(void)
{
	struct policy_agent_tracker t;
	struct policy_agent cur;
	struct mip4_agent_adv ha = adv_of(FA1, FA1, 1, 10);
	struct mip4_agent_adv busy = adv_of(FA2, FA2, 1, 10);
	struct mip4_agent_adv zero = adv_of(FA3, FA3, 1, 0);
	struct mip4_agent_adv ok = adv_of(FA3, FA3, 2, 10);
	mm_time_ns now = T0;

	ha.flags = MIP4_ADV_H;
	ha.num_coa = 0;
	busy.flags |= MIP4_ADV_B;
	policy_agent_init(&t, NULL);
	policy_agent_link_up(&t, now);
	CHECK(policy_agent_heard(&t, ip(FA1), &ha, now, &cur) == AGENT_EV_NONE);
	CHECK(policy_agent_heard(&t, ip(FA2), &busy, now, &cur) == AGENT_EV_NONE);
	CHECK(policy_agent_heard(&t, ip(FA3), &zero, now, &cur) == AGENT_EV_NONE);
	CHECK(policy_agent_current(&t) == NULL);
	CHECK_EQ_U64(t.stats.ignored_not_fa, 1);
	CHECK_EQ_U64(t.stats.ignored_busy, 1);
	/* Still soliciting: none of those is an agent to register with. */
	CHECK(policy_agent_solicit_due(&t, now, 0));
	/* A usable one. The busy one is not picked when it expires. */
	CHECK(policy_agent_heard(&t, ip(FA3), &ok, now, &cur) == AGENT_EV_NEW);
	CHECK(policy_agent_tick(&t, now + MM_SEC(10), &cur) == AGENT_EV_LOST);
	/* The busy agent turns available: it is taken. */
	busy.flags &= (uint16_t)~MIP4_ADV_B;
	CHECK(policy_agent_heard(&t, ip(FA2), &busy, now + MM_SEC(11), &cur) == AGENT_EV_NEW);
	CHECK_EQ_U64(cur.addr.s_addr, ip(FA2).s_addr);
	/* RFC 1256 3: lifetime 0 from the current agent: it is going away. FA3 (valid until
	 * +21 s) takes over. */
	ok.seq = 3;
	CHECK(policy_agent_heard(&t, ip(FA3), &ok, now + MM_SEC(11), &cur) == AGENT_EV_NONE);
	busy.lifetime = 0;
	CHECK(policy_agent_heard(&t, ip(FA2), &busy, now + MM_SEC(12), &cur) == AGENT_EV_NEW);
	CHECK_EQ_U64(cur.addr.s_addr, ip(FA3).s_addr);
	/* The current agent stops offering foreign agent service: LOST. */
	ok.flags = MIP4_ADV_H;
	ok.num_coa = 0;
	CHECK(policy_agent_heard(&t, ip(FA3), &ok, now + MM_SEC(13), &cur) == AGENT_EV_LOST);
	CHECK(policy_agent_current(&t) == NULL);
}

/* 2.4.2.2, only when configured and only when both carry Prefix-Lengths. */
static void test_prefix_moves(void)
{
	struct policy_agent_config cfg = { .prefix_moves = true };
	struct policy_agent_tracker t;
	struct policy_agent cur;
	struct mip4_agent_adv a1 = with_prefix(adv_of("198.18.21.1", "198.18.21.1", 1, 30), 24);
	struct mip4_agent_adv same = with_prefix(adv_of("198.18.21.7", "198.18.21.7", 1, 30), 24);
	struct mip4_agent_adv other = with_prefix(adv_of("198.18.22.1", "198.18.22.1", 1, 30), 24);
	struct mip4_agent_adv bare = adv_of("198.18.23.1", "198.18.23.1", 1, 30);
	mm_time_ns now = T0;

	policy_agent_init(&t, &cfg);
	policy_agent_link_up(&t, now);
	CHECK(policy_agent_heard(&t, ip("198.18.21.1"), &a1, now, &cur) == AGENT_EV_NEW);
	CHECK_EQ_U64(cur.num_prefixes, 1);
	CHECK_EQ_U64(cur.prefixes[0].net.s_addr, ip("198.18.21.0").s_addr);
	CHECK_EQ_U64(cur.prefixes[0].plen, 24);
	/* Same /24: same subnet, no move. No extension: the method is not used. */
	CHECK(policy_agent_heard(&t, ip("198.18.21.7"), &same, now, &cur) == AGENT_EV_NONE);
	CHECK(policy_agent_heard(&t, ip("198.18.23.1"), &bare, now, &cur) == AGENT_EV_NONE);
	/* Another prefix: moved. */
	CHECK(policy_agent_heard(&t, ip("198.18.22.1"), &other, now, &cur) == AGENT_EV_NEW);
	CHECK_EQ_U64(cur.addr.s_addr, ip("198.18.22.1").s_addr);

	/* Off (the default): only lifetimes move us. */
	policy_agent_init(&t, NULL);
	policy_agent_link_up(&t, now);
	CHECK(policy_agent_heard(&t, ip("198.18.21.1"), &a1, now, &cur) == AGENT_EV_NEW);
	CHECK(policy_agent_heard(&t, ip("198.18.22.1"), &other, now, &cur) == AGENT_EV_NONE);
}

/* Link down reports the current agent as lost; a full table replaces the oldest other. */
static void test_link_down_and_table(void)
{
	struct policy_agent_tracker t;
	struct policy_agent cur;
	mm_time_ns now = T0;
	char addr[32];

	policy_agent_init(&t, NULL);
	policy_agent_link_up(&t, now);
	for (int i = 0; i < POLICY_AGENT_MAX + 3; i++) {
		snprintf(addr, sizeof(addr), "198.18.30.%d", i + 1);
		struct mip4_agent_adv a = adv_of(addr, addr, 1, 60);

		policy_agent_heard(&t, ip(addr), &a, now + MM_MSEC(i), &cur);
	}
	CHECK_EQ_U64(t.count, POLICY_AGENT_MAX);
	CHECK_EQ_U64(policy_agent_current(&t)->addr.s_addr, ip("198.18.30.1").s_addr);
	/* The oldest others (.2, .3, .4) made room for the newest. */
	CHECK(t.agents[1].addr.s_addr != ip("198.18.30.2").s_addr);
	int found_newest = 0, found_old = 0;
	for (unsigned i = 0; i < t.count; i++) {
		found_newest += t.agents[i].addr.s_addr == ip("198.18.30.11").s_addr;
		found_old += t.agents[i].addr.s_addr == ip("198.18.30.2").s_addr;
	}
	CHECK_EQ_U64(found_newest, 1);
	CHECK_EQ_U64(found_old, 0);

	memset(&cur, 0, sizeof(cur));
	CHECK(policy_agent_link_down(&t, &cur) == AGENT_EV_LOST);
	CHECK_EQ_U64(cur.addr.s_addr, ip("198.18.30.1").s_addr);
	CHECK(policy_agent_current(&t) == NULL);
	CHECK_EQ_U64(t.count, 0);
	CHECK(policy_agent_link_down(&t, &cur) == AGENT_EV_NONE);
	CHECK(policy_agent_tick(&t, now + MM_SEC(100), &cur) == AGENT_EV_NONE);
}

/* Random advertisements from a few sources at random times: the invariants hold (the
 * current agent is one we may register with and was heard within its lifetime, the table
 * never overflows, events are in range). */
static void test_random(void)
{
	static const char *const srcs[] = { "198.18.40.1", "198.18.40.2", "198.18.40.3",
					     "198.18.40.4" };
	struct policy_agent_tracker t;
	struct policy_agent cur;
	uint64_t x = 0x2545f4914f6cdd1dull;
	mm_time_ns now = T0;
	unsigned bad = 0, events[AGENT_EV_COUNT] = { 0 };

	policy_agent_init(&t, &(struct policy_agent_config){ .prefix_moves = true });
	policy_agent_link_up(&t, now);
	for (int i = 0; i < 200000; i++) {
		enum agent_event ev;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		now += x % MM_MSEC(700);
		if (x % 5 == 0) {
			ev = policy_agent_tick(&t, now, &cur);
		} else {
			const char *s = srcs[(x >> 8) % 4];
			struct mip4_agent_adv a = adv_of(s, s, (uint16_t)(x >> 16),
							 (uint16_t)((x >> 32) % 6));

			a.flags = (uint16_t)(x >> 40) & MIP4_ADV_KNOWN;
			a.num_coa = a.flags & MIP4_ADV_F ? 1 : 0;
			if (x & (1u << 20))
				a = with_prefix(a, (uint8_t)((x >> 48) % 33));
			ev = policy_agent_heard(&t, ip(s), &a, now, &cur);
		}
		CHECK_LOOP((unsigned)ev < AGENT_EV_COUNT, bad);
		if ((unsigned)ev < AGENT_EV_COUNT)
			events[ev]++;
		CHECK_LOOP(t.count <= POLICY_AGENT_MAX, bad);
		const struct policy_agent *c = policy_agent_current(&t);
		if (c) {
			CHECK_LOOP((c->flags & MIP4_ADV_F) && c->num_coa >= 1, bad);
			CHECK_LOOP(c->heard_at <= now, bad);
		}
		if (ev == AGENT_EV_NEW) {
			CHECK_LOOP(c && c->expires_at > now && !(cur.flags & MIP4_ADV_B) &&
				   cur.addr.s_addr == c->addr.s_addr, bad);
		}
		if (ev == AGENT_EV_LOST)
			CHECK_LOOP(c == NULL, bad);
	}
	CHECK_EQ_U64(bad, 0);
	/* Every event happened at least once (the walk is long enough to reach them all). */
	CHECK(events[AGENT_EV_NEW] > 0 && events[AGENT_EV_SAME] > 0 &&
	      events[AGENT_EV_REBOOTED] > 0 && events[AGENT_EV_LOST] > 0);
}

int main(void)
{
	test_names();
	test_solicitations();
	test_first_agent_and_seq();
	test_lifetime_moves();
	test_ignored();
	test_prefix_moves();
	test_link_down_and_table();
	test_random();
	return tap_done();
}
