/* keymap.h - action key -> step index, for the steps of one run that would send identical requests. */
#ifndef SB_KEYMAP_H
#define SB_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "digest.h"

struct keymap;

/* A map sized for at most n keys (it never grows past that: one entry per step of the run). */
struct keymap *keymap_new(size_t n);

/* Frees the map; NULL is fine. */
void keymap_free(struct keymap *m);

/* true with *value when key is in the map. */
bool keymap_get(const struct keymap *m, const struct digest *key, size_t *value);

/* Sets key's value, adding the key when absent (at most n keys in all). */
void keymap_set(struct keymap *m, const struct digest *key, size_t value);

#endif
