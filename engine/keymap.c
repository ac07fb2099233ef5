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
	size_t count;
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

/* Doubles the table, so it stays at most half full. */
static void keymap_grow(struct keymap *m)
{
	struct keymap_slot *old = m->slots;
	size_t cap = m->mask + 1;
	m->slots = xcalloc(2 * cap, sizeof(*m->slots));
	m->mask = 2 * cap - 1;
	for (size_t i = 0; i < cap; i++)
		if (old[i].used)
			m->slots[slot_of(m, &old[i].key)] = old[i];
	free(old);
}

void keymap_set(struct keymap *m, const struct digest *key, size_t value)
{
	struct keymap_slot *s = &m->slots[slot_of(m, key)];
	if (!s->used) {
		if (2 * (m->count + 1) > m->mask + 1) {
			keymap_grow(m);
			s = &m->slots[slot_of(m, key)];
		}
		m->count++;
	}
	s->key = *key;
	s->value = value;
	s->used = true;
}

bool keymap_remove_if(struct keymap *m, const struct digest *key, size_t value)
{
	size_t i = slot_of(m, key);
	if (!m->slots[i].used || m->slots[i].value != value)
		return false;
	m->slots[i].used = false;
	m->count--;
	/* Linear probing: move back every key of the run after the hole that the hole would hide from its lookup. */
	for (size_t j = (i + 1) & m->mask; m->slots[j].used; j = (j + 1) & m->mask) {
		uint64_t h;
		memcpy(&h, m->slots[j].key.bytes, sizeof(h));
		size_t home = (size_t)h & m->mask;
		/* j's key stays when its home lies cyclically in (i, j]. */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		m->slots[i] = m->slots[j];
		m->slots[j].used = false;
		i = j;
	}
	return true;
}

size_t keymap_count(const struct keymap *m)
{
	return m->count;
}
