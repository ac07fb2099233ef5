/* float32.h - vectors as little-endian float32 bytes (the cache's and the APIs' form), whatever the host's order. */
#ifndef SB_FLOAT32_H
#define SB_FLOAT32_H

#include <stddef.h>

/* Writes n floats as 4n little-endian bytes at out. */
void float32_encode(const float *v, size_t n, unsigned char *out);

/* Reads 4n little-endian bytes at in as n floats. */
void float32_decode(const unsigned char *in, size_t n, float *out);

#endif
