/* keymap.h - action key -> step index, for the steps of one run that would send identical requests. */
#ifndef SB_KEYMAP_H
#define SB_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "digest.h"

struct keymap;

/* A map sized for about n keys; it grows past that as keys are added. */
struct keymap *keymap_new(size_t n);

/* Frees the map; NULL is fine. */
void keymap_free(struct keymap *m);

/* true with *value when key is in the map. */
bool keymap_get(const struct keymap *m, const struct digest *key, size_t *value);

/* Sets key's value, adding the key when absent. */
void keymap_set(struct keymap *m, const struct digest *key, size_t value);

/* Removes key when its value is value (a later holder of the key stays); true when it was removed. */
bool keymap_remove_if(struct keymap *m, const struct digest *key, size_t value);

/* Keys in the map. */
size_t keymap_count(const struct keymap *m);

#endif
