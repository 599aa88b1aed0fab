/* Interface view and location decision (see location.h). No I/O. */
#include "mnd/location.h"

#include <errno.h>
#include <string.h>

const char *mnd_where_name(enum mnd_where w)
{
	switch (w) {
	case MND_DETACHED: return "detached";
	case MND_AWAY: return "away";
	case MND_HOME: return "home";
	}
	return "?";
}

int mnd_ifaces_init(struct mnd_ifaces *t, const char *list)
{
	struct mnd_ifaces n;
	const char *p = list;

	if (!t || !list)
		return -EINVAL;
	memset(&n, 0, sizeof(n));
	for (;;) {
		const char *start, *end, *comma;
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		comma = strchr(p, ',');
		end = comma ? comma : p + strlen(p);
		p = comma ? comma + 1 : end;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		len = (size_t)(end - start);
		if (len == 0 || len >= IFNAMSIZ || n.count >= MND_IFACES_MAX ||
		    memchr(start, '/', len))
			return -EINVAL;
		for (unsigned i = 0; i < n.count; i++)
			if (strlen(n.iface[i].name) == len && !memcmp(n.iface[i].name, start, len))
				return -EINVAL;
		memcpy(n.iface[n.count].name, start, len);
		n.count++;
		if (!comma)
			break;
	}
	*t = n;
	return 0;
}

static struct mnd_iface *by_index(struct mnd_ifaces *t, int ifindex)
{
	for (unsigned i = 0; i < t->count; i++)
		if (t->iface[i].ifindex == ifindex && ifindex > 0)
			return &t->iface[i];
	return NULL;
}

static struct mnd_iface *by_name(struct mnd_ifaces *t, const char *name)
{
	for (unsigned i = 0; i < t->count; i++)
		if (strncmp(t->iface[i].name, name, IFNAMSIZ) == 0)
			return &t->iface[i];
	return NULL;
}

static void forget(struct mnd_iface *f)
{
	f->ifindex = 0;
	f->up = f->running = false;
	f->naddrs = 0;
}

static bool link_event(struct mnd_ifaces *t, const struct nl_event *ev)
{
	struct mnd_iface *f = by_index(t, ev->ifindex);
	struct mnd_iface *named = by_name(t, ev->ifname);
	bool changed = false;

	if (ev->kind == NL_EVENT_LINK_DEL) {
		if (!f)
			return false;
		forget(f);
		return true;
	}
	/* Renamed away from a configured name: forget it. */
	if (f && f != named) {
		forget(f);
		changed = true;
	}
	if (!named)
		return changed;
	if (named->ifindex != ev->ifindex) {
		forget(named);
		named->ifindex = ev->ifindex;
		changed = true;
	}
	if (named->up != ev->up || named->running != ev->running) {
		named->up = ev->up;
		named->running = ev->running;
		changed = true;
	}
	return changed;
}

static bool addr_event(struct mnd_ifaces *t, const struct nl_event *ev)
{
	struct mnd_iface *f = by_index(t, ev->ifindex);
	unsigned i;

	if (!f)
		return false;
	for (i = 0; i < f->naddrs; i++)
		if (f->addrs[i].s_addr == ev->addr.s_addr)
			break;
	if (ev->kind == NL_EVENT_ADDR_NEW) {
		if (i < f->naddrs) {
			if (f->plens[i] == ev->plen)
				return false;
			f->plens[i] = ev->plen;
			return true;
		}
		if (f->naddrs >= MND_ADDRS_MAX)
			return false;
		f->addrs[f->naddrs] = ev->addr;
		f->plens[f->naddrs] = ev->plen;
		f->naddrs++;
		return true;
	}
	if (i == f->naddrs)
		return false;
	memmove(&f->addrs[i], &f->addrs[i + 1], (f->naddrs - i - 1) * sizeof(f->addrs[0]));
	memmove(&f->plens[i], &f->plens[i + 1], (f->naddrs - i - 1) * sizeof(f->plens[0]));
	f->naddrs--;
	return true;
}

/* A route change through one of our interfaces: decide again. */
static bool route_event(struct mnd_ifaces *t, const struct nl_event *ev)
{
	return by_index(t, ev->ifindex) != NULL;
}

bool mnd_ifaces_apply(struct mnd_ifaces *t, const struct nl_event *ev)
{
	switch (ev->kind) {
	case NL_EVENT_LINK_NEW:
	case NL_EVENT_LINK_DEL:
		return link_event(t, ev);
	case NL_EVENT_ADDR_NEW:
	case NL_EVENT_ADDR_DEL:
		return addr_event(t, ev);
	case NL_EVENT_RESYNC:
		for (unsigned i = 0; i < t->count; i++)
			forget(&t->iface[i]);
		return true;
	case NL_EVENT_ROUTE_NEW:
	case NL_EVENT_ROUTE_DEL:
		return route_event(t, ev);
	}
	return false;
}

static void fill(struct mnd_location *out, enum mnd_where w, const struct mnd_iface *f,
		 unsigned i)
{
	memset(out, 0, sizeof(*out));
	out->where = w;
	out->addr = f->addrs[i];
	out->plen = f->plens[i];
	out->ifindex = f->ifindex;
	memcpy(out->ifname, f->name, sizeof(out->ifname));
}

void mnd_location_choose(const struct mnd_ifaces *t, struct in_addr home_addr,
			 mnd_reach_fn reach, void *user, struct mnd_location *out)
{
	for (unsigned n = 0; n < t->count; n++) {
		const struct mnd_iface *f = &t->iface[n];

		if (!f->ifindex || !f->up || !f->running)
			continue;
		for (unsigned i = 0; i < f->naddrs; i++)
			if (f->addrs[i].s_addr == home_addr.s_addr) {
				fill(out, MND_HOME, f, i);
				return;
			}
	}
	for (unsigned n = 0; n < t->count; n++) {
		const struct mnd_iface *f = &t->iface[n];

		if (!f->ifindex || !f->up || !f->running || !f->naddrs ||
		    reach(f->ifindex, user) != 1)
			continue;
		for (unsigned i = 0; i < f->naddrs; i++)
			if (f->addrs[i].s_addr != home_addr.s_addr) {
				fill(out, MND_AWAY, f, i);
				return;
			}
	}
	memset(out, 0, sizeof(*out));
	out->where = MND_DETACHED;
}

bool mnd_location_equal(const struct mnd_location *a, const struct mnd_location *b)
{
	return a->where == b->where && a->addr.s_addr == b->addr.s_addr &&
	       a->ifindex == b->ifindex && strcmp(a->ifname, b->ifname) == 0;
}
