/* pca.c - two principal components by power iteration with deflation.
 *
 * The covariance matrix is never formed: each iteration computes C v as Xc^T (Xc v), O(rows x dims), so 10,000
 * scenes of 3072 dimensions need no 75 MB matrix. Everything is in double, in a fixed order, from a fixed start
 * vector, so the same archive gives the same map on every machine (C11 mode keeps the compiler from fusing
 * multiply-adds). The sign of each component is fixed (its largest coordinate positive) so a small edit to the
 * script does not mirror the whole map. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pca.h"

#define PCA_MAX_ITERATIONS 300
#define PCA_TOLERANCE 1e-12

/* w = Xc^T (Xc v): the centred covariance (unscaled) applied to v; t is rows of scratch. */
static void covariance_times(const double *xc, size_t n, size_t d, const double *v, double *t, double *w)
{
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (size_t j = 0; j < d; j++)
			s += xc[i * d + j] * v[j];
		t[i] = s;
	}
	memset(w, 0, d * sizeof *w);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < d; j++)
			w[j] += xc[i * d + j] * t[i];
}

static double norm(const double *v, size_t d)
{
	double s = 0;
	for (size_t j = 0; j < d; j++)
		s += v[j] * v[j];
	return sqrt(s);
}

/* Removes from v its part along the unit vector u. */
static void orthogonalise(double *v, const double *u, size_t d)
{
	double dot = 0;
	for (size_t j = 0; j < d; j++)
		dot += v[j] * u[j];
	for (size_t j = 0; j < d; j++)
		v[j] -= dot * u[j];
}

/* The leading unit eigenvector of the covariance orthogonal to prev (NULL: none) into v; returns its eigenvalue. */
static double leading_component(const double *xc, size_t n, size_t d, const double *prev, double *v, double *t,
                                double *w)
{
	for (size_t j = 0; j < d; j++)
		v[j] = 1.0 + (double)(j % 7) * 0.1 +
		       (double)j * 1e-3; /* fixed, and unlikely to be orthogonal to anything */
	if (prev)
		orthogonalise(v, prev, d);
	double len = norm(v, d), lambda = 0;
	if (len == 0)
		return 0;
	for (size_t j = 0; j < d; j++)
		v[j] /= len;
	for (int it = 0; it < PCA_MAX_ITERATIONS; it++) {
		covariance_times(xc, n, d, v, t, w);
		if (prev)
			orthogonalise(w, prev, d);
		double wl = norm(w, d);
		if (wl == 0)
			return 0;
		double change = 0;
		for (size_t j = 0; j < d; j++) {
			double nv = w[j] / wl;
			change += (nv - v[j]) * (nv - v[j]);
			v[j] = nv;
		}
		lambda = wl;
		if (change < PCA_TOLERANCE)
			break;
	}
	size_t big = 0;
	for (size_t j = 1; j < d; j++)
		if (fabs(v[j]) > fabs(v[big]))
			big = j;
	if (v[big] < 0)
		for (size_t j = 0; j < d; j++)
			v[j] = -v[j];
	return lambda;
}

enum pca_status pca_project2(const float *x, size_t rows, size_t dims, const bool *use, double *xy, double explained[2])
{
	size_t n = 0;
	memset(xy, 0, rows * 2 * sizeof *xy);
	explained[0] = explained[1] = 0;
	for (size_t i = 0; i < rows; i++)
		n += !use || use[i];
	if (n < 2 || dims == 0)
		return PCA_TOO_FEW;
	double *xc = malloc(n * dims * sizeof *xc), *mean = calloc(dims, sizeof *mean);
	double *v1 = malloc(dims * sizeof *v1), *v2 = malloc(dims * sizeof *v2), *w = malloc(dims * sizeof *w);
	double *t = malloc(n * sizeof *t);
	enum pca_status rc = PCA_NO_MEMORY;
	if (!xc || !mean || !v1 || !v2 || !w || !t)
		goto done;
	for (size_t i = 0, r = 0; i < rows; i++) {
		if (use && !use[i])
			continue;
		for (size_t j = 0; j < dims; j++) {
			xc[r * dims + j] = x[i * dims + j];
			mean[j] += x[i * dims + j];
		}
		r++;
	}
	double total = 0;
	for (size_t j = 0; j < dims; j++)
		mean[j] /= (double)n;
	for (size_t r = 0; r < n; r++)
		for (size_t j = 0; j < dims; j++) {
			xc[r * dims + j] -= mean[j];
			total += xc[r * dims + j] * xc[r * dims + j];
		}
	double l1 = leading_component(xc, n, dims, NULL, v1, t, w);
	double l2 = leading_component(xc, n, dims, v1, v2, t, w);
	if (total > 0) {
		explained[0] = l1 / total;
		explained[1] = l2 / total;
	}
	for (size_t i = 0, r = 0; i < rows; i++) {
		if (use && !use[i])
			continue;
		double a = 0, b = 0;
		for (size_t j = 0; j < dims; j++) {
			a += xc[r * dims + j] * v1[j];
			b += xc[r * dims + j] * v2[j];
		}
		xy[2 * i] = a;
		xy[2 * i + 1] = b;
		r++;
	}
	rc = PCA_OK;
done:
	free(xc);
	free(mean);
	free(v1);
	free(v2);
	free(w);
	free(t);
	return rc;
}
