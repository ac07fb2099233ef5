/* grow.h - the one growth rule for every growable array in the code base.
 *
 * It lives in cache/, the bottom layer, because every directory may include cache/ (engine, export, cmd, tests);
 * engine's xgrow() aborts through it, cache/ and export/ report its NULL as an error. */
#ifndef SB_GROW_H
#define SB_GROW_H

#include <stddef.h>

/* p (holding *cap elements of size bytes) grown to hold at least need, by doubling from 16, with the byte count checked
 * for overflow; the new pointer, or NULL on overflow or out of memory with p and *cap untouched. */
void *grow(void *p, size_t *cap, size_t need, size_t size);

#endif
