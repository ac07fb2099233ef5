/* pca.h - the first two principal components of a matrix's rows, for a 2-D map of scene embeddings. */
#ifndef SB_PCA_H
#define SB_PCA_H

#include <stdbool.h>
#include <stddef.h>

enum pca_status { PCA_OK, PCA_TOO_FEW, PCA_NO_MEMORY };

/* Projects the rows of x (rows x dims, row-major) whose use[i] is true (use NULL: every row) onto their first two
 * principal components, into xy[2i], xy[2i+1] (rows not used get 0, 0) and the share of the variance each explains
 * into explained[0..1]; deterministic to the bit for the same input. PCA_TOO_FEW when fewer than 2 rows are used. */
enum pca_status pca_project2(const float *x, size_t rows, size_t dims, const bool *use, double *xy,
                             double explained[2]);

#endif
