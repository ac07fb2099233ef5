/* sha256.c - a thin wrapper over libcrypto's EVP digests: no hand-written hashing. */
#include <openssl/evp.h>

#include "sha256.h"
#include "util.h"

void sha256_begin(struct sha256 *s)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		out_of_memory();
	s->ctx = ctx;
}

void sha256_add(struct sha256 *s, const void *data, size_t n)
{
	if (n)
		EVP_DigestUpdate(s->ctx, data, n);
}

void sha256_end(struct sha256 *s, unsigned char out[SHA256_BYTES])
{
	unsigned int len = SHA256_BYTES;
	EVP_DigestFinal_ex(s->ctx, out, &len);
	EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
}

void sha256_to_hex(const unsigned char d[SHA256_BYTES], char hex[SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < SHA256_BYTES; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[SHA256_HEX_LEN] = '\0';
}

void sha256_hex(const void *data, size_t n, char hex[SHA256_HEX_LEN + 1])
{
	struct sha256 s;
	unsigned char d[SHA256_BYTES];
	sha256_begin(&s);
	sha256_add(&s, data, n);
	sha256_end(&s, d);
	sha256_to_hex(d, hex);
}
