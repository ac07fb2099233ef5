/* keymap.c - open addressing over action keys: the keys are digests already, so their bytes are the hash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keymap.h"
#include "util.h"

struct keymap_slot {
	struct digest key;
	size_t value;
	bool used;
};

struct keymap {
	struct keymap_slot *slots;
	size_t mask;
};

struct keymap *keymap_new(size_t n)
{
	struct keymap *m = xcalloc(1, sizeof(*m));
	size_t cap = 16;
	/* At most half full, so a probe ends soon. */
	while (cap < 2 * n)
		cap *= 2;
	m->slots = xcalloc(cap, sizeof(*m->slots));
	m->mask = cap - 1;
	return m;
}

void keymap_free(struct keymap *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m);
}

static size_t slot_of(const struct keymap *m, const struct digest *key)
{
	uint64_t h;
	memcpy(&h, key->bytes, sizeof(h));
	size_t i = (size_t)h & m->mask;
	while (m->slots[i].used && memcmp(m->slots[i].key.bytes, key->bytes, sizeof(key->bytes)) != 0)
		i = (i + 1) & m->mask;
	return i;
}

bool keymap_get(const struct keymap *m, const struct digest *key, size_t *value)
{
	const struct keymap_slot *s = &m->slots[slot_of(m, key)];
	if (!s->used)
		return false;
	*value = s->value;
	return true;
}

void keymap_set(struct keymap *m, const struct digest *key, size_t value)
{
	struct keymap_slot *s = &m->slots[slot_of(m, key)];
	s->key = *key;
	s->value = value;
	s->used = true;
}
