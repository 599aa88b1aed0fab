/* The home agent's state file: the binding cache with every mobile node's replay state
 * (mip4/bcache.h format), written atomically (daemon/atomic_file.h) after every change and
 * before the reply that announces it is sent, and read back at start-up.
 *
 * A missing file is a first start. A file that does not load (corrupt, truncated, another
 * version) gives one clear error line, is renamed aside to "<state-file>.corrupt-<unix
 * time>" for inspection, and the home agent starts with an empty cache: mobile nodes
 * re-register (a replayed request could then be accepted once per node, within the 7 s
 * Identification window of RFC 5944 §5.7.1; that is the price of a destroyed file).
 */
#ifndef MM_HA_PERSIST_H
#define MM_HA_PERSIST_H

#include <stddef.h>

#include "common/log.h"
#include "mip4/ha_engine.h"

/* Load path into ha. Returns the number of active bindings restored (>= 0), or -errno for
 * errors that are not about the file's contents (the caller exits). *expired (may be
 * NULL) receives how many bindings ran out while we were down. */
int ha_persist_load(const char *path, struct ha_engine *ha, const struct logger *lg,
		    size_t *expired);

/* Write ha's state to path atomically. Logs a failure (once per failure streak) and
 * returns -errno. */
int ha_persist_save(const char *path, const struct ha_engine *ha, const struct logger *lg);

#endif
