/* similar.h - the scenes nearest a scene by the cosine of their embeddings. */
#ifndef SB_SIMILAR_H
#define SB_SIMILAR_H

#include <stddef.h>

#include "analysis.h"

struct similar_hit {
	size_t row; /* 0-based row of a->scenes */
	double cosine;
};

/* The up to k rows most similar to row (0-based), best first, ties by lower row, into hits; rows without an
 * embedding (and row itself) never appear, and none when row has no embedding. Returns how many were written. */
size_t similar_scenes(const struct analysis *a, size_t row, size_t k, struct similar_hit *hits);

/* The 0-based row of the scene whose index is scene_index; 0 and *row, or -1 when the archive has no such scene. */
int similar_row_of(const struct analysis *a, long scene_index, size_t *row);

#endif
