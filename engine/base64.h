/* base64.h - strict RFC 4648 base64 decoding (standard alphabet, padded), for embeddings sent as base64 float32. */
#ifndef SB_BASE64_H
#define SB_BASE64_H

#include <stddef.h>

/* The most bytes len characters of base64 decode to: an out buffer this large fits any valid text. */
size_t base64_decoded_max(size_t len);

/* Decodes text[0..len) into out (base64_decoded_max(len) bytes) and sets *outlen; 0, or -1 (out then undefined) when
 * text is not canonical base64: a character outside A-Z a-z 0-9 + /, a length not a multiple of 4, '=' anywhere but
 * the last one or two places, or non-zero bits under the padding. */
int base64_decode(const char *text, size_t len, unsigned char *out, size_t *outlen);

#endif
