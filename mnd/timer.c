/* Deadline timer as a GSource with a ready time (see timer.h). */
#include "mnd/timer.h"

#include <stdint.h>

struct timer_source {
	GSource base;
	mnd_timer_fn fn;
	void *user;
};

struct mnd_timer {
	struct timer_source *src;
};

static gboolean timer_dispatch(GSource *s, GSourceFunc cb, gpointer data)
{
	struct timer_source *ts = (struct timer_source *)(void *)s;

	(void)cb;
	(void)data;
	/* One-shot: disarm first, so the callback may re-arm. */
	g_source_set_ready_time(s, -1);
	ts->fn(ts->user);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_funcs = {
	.dispatch = timer_dispatch,
};

struct mnd_timer *mnd_timer_new(mnd_timer_fn fn, void *user)
{
	struct mnd_timer *t = g_new0(struct mnd_timer, 1);

	t->src = (struct timer_source *)(void *)g_source_new(&timer_funcs,
							     sizeof(struct timer_source));
	t->src->fn = fn;
	t->src->user = user;
	g_source_set_ready_time(&t->src->base, -1);
	g_source_attach(&t->src->base, NULL);
	return t;
}

void mnd_timer_arm(struct mnd_timer *t, mm_time_ns deadline)
{
	gint64 us;

	if (deadline == UINT64_MAX) {
		mnd_timer_disarm(t);
		return;
	}
	/* Round up: GLib's clock is in microseconds and the engine must not be woken early. */
	us = (gint64)((deadline + 999) / 1000);
	g_source_set_ready_time(&t->src->base, us);
}

void mnd_timer_disarm(struct mnd_timer *t)
{
	g_source_set_ready_time(&t->src->base, -1);
}

void mnd_timer_free(struct mnd_timer *t)
{
	if (!t)
		return;
	g_source_destroy(&t->src->base);
	g_source_unref(&t->src->base);
	g_free(t);
}
