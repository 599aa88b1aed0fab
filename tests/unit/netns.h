/* Helpers shared by the unit tests that need networking: they run in a private, empty network
 * namespace (unshare(CLONE_NEWNET)) that vanishes when the process exits, so they never touch
 * the host's configuration. */
#ifndef MM_TESTS_NETNS_H
#define MM_TESTS_NETNS_H

#include "common/netlink.h"
#include "common/sock.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A test address that must parse (a typo in a test is a bail-out, not a failed check). */
static inline struct in_addr ip(const char *s)
{
	struct in_addr a = { 0 };

	if (addr4_parse(s, &a) != 0) {
		printf("Bail out! bad test address %s\n", s);
		exit(1);
	}
	return a;
}

/* Enter a private network namespace; with lo_up, bring its loopback up. Without root the
 * whole test program is skipped (TAP "1..0 # SKIP"), which the test runner reports as a skip,
 * never as a pass. */
static inline void enter_netns_with(bool lo_up)
{
	if (unshare(CLONE_NEWNET) < 0) {
		if (errno == EPERM) {
			printf("1..0 # SKIP needs root for a private network namespace\n");
			exit(0);
		}
		printf("Bail out! unshare(CLONE_NEWNET): %s\n", strerror(errno));
		exit(1);
	}
	if (!lo_up)
		return;
	int lo = nl_link_index("lo");
	if (lo <= 0 || nl_link_set_up(lo, true) != 0) {
		printf("Bail out! cannot bring lo up\n");
		exit(1);
	}
}

static inline bool wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

#endif
