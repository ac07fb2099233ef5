/* grow.c - the one growth rule: doubling from 16, overflow-checked, never aborting (the caller decides). */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	size_t n = *cap ? *cap : 16;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return NULL;
		n *= 2;
	}
	if (size && n > SIZE_MAX / size)
		return NULL;
	void *q = realloc(p, n * size > 0 ? n * size : 1);
	if (!q)
		return NULL;
	*cap = n;
	return q;
}
