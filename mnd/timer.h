/* A one-shot deadline timer on the GLib main loop, in mm_time_ns (CLOCK_MONOTONIC, the
 * clock GLib's own ready times use): arm it with an absolute deadline, re-arm or disarm it
 * at will. The engines return absolute deadlines, so this fits them better than
 * g_timeout_add's relative, millisecond-rounded intervals. */
#ifndef MM_MND_TIMER_H
#define MM_MND_TIMER_H

#include <glib.h>

#include "common/clock.h"

struct mnd_timer;

typedef void (*mnd_timer_fn)(void *user);

struct mnd_timer *mnd_timer_new(mnd_timer_fn fn, void *user);
/* Fire once at deadline (never early; at once if it has passed). UINT64_MAX disarms. */
void mnd_timer_arm(struct mnd_timer *t, mm_time_ns deadline);
void mnd_timer_disarm(struct mnd_timer *t);
void mnd_timer_free(struct mnd_timer *t);

#endif
