/* similar.c - cosine similarity over the archive's embedding rows, exhaustive: a script has hundreds of scenes, not
 * millions, and an exact answer needs no index to build or keep. */
#include <math.h>

#include "similar.h"

static double row_norm(const float *v, size_t d)
{
	double s = 0;
	for (size_t j = 0; j < d; j++)
		s += (double)v[j] * v[j];
	return sqrt(s);
}

static int has_row(const struct analysis *a, size_t i)
{
	return !a->has_embedding || a->has_embedding[i];
}

size_t similar_scenes(const struct analysis *a, size_t row, size_t k, struct similar_hit *hits)
{
	size_t d = a->dims, found = 0;
	if (row >= a->nscenes || d == 0 || !a->embeddings || !has_row(a, row) || k == 0)
		return 0;
	const float *q = a->embeddings + row * d;
	double qn = row_norm(q, d);
	if (qn == 0)
		return 0;
	for (size_t i = 0; i < a->nscenes; i++) {
		if (i == row || !has_row(a, i))
			continue;
		const float *v = a->embeddings + i * d;
		double vn = row_norm(v, d), dot = 0;
		if (vn == 0)
			continue;
		for (size_t j = 0; j < d; j++)
			dot += (double)q[j] * v[j];
		double c = dot / (qn * vn);
		/* Insertion into the short sorted list: strictly greater wins, so equal scores keep the lower row first. */
		size_t at = found;
		while (at > 0 && c > hits[at - 1].cosine)
			at--;
		if (at >= k)
			continue;
		if (found < k)
			found++;
		for (size_t m = found - 1; m > at; m--)
			hits[m] = hits[m - 1];
		hits[at] = (struct similar_hit){ i, c };
	}
	return found;
}

int similar_row_of(const struct analysis *a, long scene_index, size_t *row)
{
	for (size_t i = 0; i < a->nscenes; i++)
		if (a->scenes[i].index == scene_index) {
			*row = i;
			return 0;
		}
	return -1;
}
