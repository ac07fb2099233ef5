/* sha256.h - SHA-256 from OpenSSL's libcrypto, for the remote cache's names (Bazel's layout is SHA-256 addressed). */
#ifndef SB_SHA256_H
#define SB_SHA256_H

#include <stddef.h>

#define SHA256_BYTES 32
#define SHA256_HEX_LEN 64

/* A streaming SHA-256; holds an EVP_MD_CTX. */
struct sha256 {
	void *ctx;
};

/* Starts a digest; aborts on out of memory (libcrypto cannot fail otherwise for SHA-256). */
void sha256_begin(struct sha256 *s);
/* Adds n bytes. */
void sha256_add(struct sha256 *s, const void *data, size_t n);
/* Finishes into out and frees the state. */
void sha256_end(struct sha256 *s, unsigned char out[SHA256_BYTES]);

/* The digest of n bytes at data, as 64 lower-case hex digits and a NUL. */
void sha256_hex(const void *data, size_t n, char hex[SHA256_HEX_LEN + 1]);

/* Writes 64 lower-case hex digits of a digest and a NUL. */
void sha256_to_hex(const unsigned char d[SHA256_BYTES], char hex[SHA256_HEX_LEN + 1]);

#endif
