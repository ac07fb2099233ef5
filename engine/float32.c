/* float32.c - little-endian float32 encoding. */
#include <stdint.h>
#include <string.h>

#include "float32.h"

void float32_encode(const float *v, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t bits;
		memcpy(&bits, &v[i], 4);
		out[4 * i] = (unsigned char)bits;
		out[4 * i + 1] = (unsigned char)(bits >> 8);
		out[4 * i + 2] = (unsigned char)(bits >> 16);
		out[4 * i + 3] = (unsigned char)(bits >> 24);
	}
}

void float32_decode(const unsigned char *in, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++) {
		const unsigned char *b = in + 4 * i;
		uint32_t bits = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
		memcpy(&out[i], &bits, 4);
	}
}
