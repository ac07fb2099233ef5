/* digest.c - XXH3-128 digests, their hex form, and the canonical key encoding. */
#include "digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

/* Field tags: a field's type is part of its encoding, so the string "x" and the bytes "x" give different keys. */
enum {
	TAG_BYTES = 'b',
	TAG_STR = 's',
	TAG_NULL = 'n',
	TAG_U64 = 'u',
	TAG_DIGEST = 'd',
};

void digest_bytes(const void *data, size_t n, struct digest *out)
{
	XXH128_canonical_t canon;

	XXH128_canonicalFromHash(&canon, XXH3_128bits(data, n));
	memcpy(out->bytes, canon.digest, sizeof(out->bytes));
}

void digest_to_hex(const struct digest *d, char hex[DIGEST_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < sizeof(d->bytes); i++) {
		hex[2 * i] = digits[d->bytes[i] >> 4];
		hex[2 * i + 1] = digits[d->bytes[i] & 15];
	}
	hex[DIGEST_HEX_LEN] = '\0';
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int digest_from_hex(const char *hex, struct digest *out)
{
	struct digest d;

	for (size_t i = 0; i < sizeof(d.bytes); i++) {
		int hi = hex_value(hex[2 * i]);
		int lo = hi < 0 ? -1 : hex_value(hex[2 * i + 1]);
		if (lo < 0)
			return -1;
		d.bytes[i] = (unsigned char)(hi << 4 | lo);
	}
	if (hex[DIGEST_HEX_LEN] != '\0')
		return -1;
	*out = d;
	return 0;
}

int digest_equal(const struct digest *a, const struct digest *b)
{
	return memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

void key_begin(struct key_builder *kb)
{
	XXH3_INITSTATE(&kb->state);
	XXH3_128bits_reset(&kb->state);
	kb->tee = NULL;
	kb->tee_ctx = NULL;
}

void key_tee(struct key_builder *kb, void (*tee)(void *ctx, const void *data, size_t n), void *ctx)
{
	kb->tee = tee;
	kb->tee_ctx = ctx;
}

/* The header makes the encoding prefix-free: the length says where each field ends, the tag what it is. */
static void add_field(struct key_builder *kb, unsigned char tag, const void *data, size_t n)
{
	unsigned char head[9];
	uint64_t len = n;

	head[0] = tag;
	for (int i = 0; i < 8; i++)
		head[1 + i] = (unsigned char)(len >> (8 * i));
	XXH3_128bits_update(&kb->state, head, sizeof(head));
	if (n)
		XXH3_128bits_update(&kb->state, data, n);
	if (kb->tee) {
		kb->tee(kb->tee_ctx, head, sizeof(head));
		if (n)
			kb->tee(kb->tee_ctx, data, n);
	}
}

void key_add(struct key_builder *kb, const void *data, size_t n)
{
	add_field(kb, TAG_BYTES, data, n);
}

void key_add_str(struct key_builder *kb, const char *s)
{
	if (s)
		add_field(kb, TAG_STR, s, strlen(s));
	else
		add_field(kb, TAG_NULL, NULL, 0);
}

void key_add_u64(struct key_builder *kb, uint64_t v)
{
	unsigned char le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	add_field(kb, TAG_U64, le, sizeof(le));
}

void key_add_digest(struct key_builder *kb, const struct digest *d)
{
	add_field(kb, TAG_DIGEST, d->bytes, sizeof(d->bytes));
}

void key_end(struct key_builder *kb, struct digest *out)
{
	XXH128_canonical_t canon;

	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(&kb->state));
	memcpy(out->bytes, canon.digest, sizeof(out->bytes));
}
