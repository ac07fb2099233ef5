/* digest.h - XXH3-128 digests and the canonical length-prefixed encoding used for action keys. */
#ifndef SB_DIGEST_H
#define SB_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* The builder holds its hash state by value, so starting a key allocates nothing and cannot fail. */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

struct digest {
	unsigned char bytes[16];   /* XXH3-128 in canonical (big-endian) form */
};

#define DIGEST_HEX_LEN 32

/* Digest of n bytes at data. */
void digest_bytes(const void *data, size_t n, struct digest *out);

/* Writes 32 lower-case hex digits and a NUL into hex. */
void digest_to_hex(const struct digest *d, char hex[DIGEST_HEX_LEN + 1]);

/* Parses 32 hex digits; 0 on success, -1 if hex is not exactly that. */
int digest_from_hex(const char *hex, struct digest *out);

/* 1 when equal. */
int digest_equal(const struct digest *a, const struct digest *b);

/* Streaming builder for a canonical encoding: each field is a tag byte, a 64-bit little-endian length, then its bytes,
 * so that no two different field sequences can encode the same byte string. Tags: 'b' bytes, 's' string, 'n' NULL
 * string, 'u' integer (8 bytes little-endian), 'd' digest. */
struct key_builder {
	XXH3_state_t state;
	void (*tee)(void *ctx, const void *data, size_t n);  /* also receives every encoded byte, when set */
	void *tee_ctx;
};

/* Starts a key. */
void key_begin(struct key_builder *kb);
/* Also hands every byte of the encoding from now on to tee(ctx, ...) (a second digest of the same encoding). */
void key_tee(struct key_builder *kb, void (*tee)(void *ctx, const void *data, size_t n), void *ctx);
/* Adds a byte string field. */
void key_add(struct key_builder *kb, const void *data, size_t n);
/* Adds a NUL-terminated string field (NULL encodes as a distinct absent marker). */
void key_add_str(struct key_builder *kb, const char *s);
/* Adds an unsigned integer field (its 8 little-endian bytes). */
void key_add_u64(struct key_builder *kb, uint64_t v);
/* Adds a digest field. */
void key_add_digest(struct key_builder *kb, const struct digest *d);
/* Finishes the key into out. */
void key_end(struct key_builder *kb, struct digest *out);

#endif
