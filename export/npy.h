/* npy.h - the NumPy .npy v1.0 format for one row-major, little-endian float32 matrix. */
#ifndef SB_NPY_H
#define SB_NPY_H

#include <stddef.h>

/* Encodes rows x dims floats as .npy bytes exactly as numpy.save writes them, into *out (malloc'd, *outlen bytes);
 * 0, or -1 when out of memory or the size overflows. */
int npy_encode(const float *data, size_t rows, size_t dims, unsigned char **out, size_t *outlen);

/* Parses .npy bytes strictly (magic, v1.0, '<f4', C order, 2-D shape, data size exactly rows x dims x 4); 0 with
 * *rows, *dims and *data (malloc'd, NULL when empty), or -1 with err saying what is wrong. */
int npy_decode(const unsigned char *buf, size_t len, size_t *rows, size_t *dims, float **data, char *err, size_t errlen);

#endif
