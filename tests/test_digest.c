/* test_digest.c - digests are stable XXH3-128 values and key encodings never collide by construction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "digest.h"

static void expect_hex(const struct digest *d, const char *want)
{
	char hex[DIGEST_HEX_LEN + 1];

	digest_to_hex(d, hex);
	assert_string_equal(hex, want);
}

/* The same value XXH3_128bits gives, in canonical byte order. */
static void expect_xxh3(const void *data, size_t n)
{
	XXH128_canonical_t canon;
	struct digest d;

	XXH128_canonicalFromHash(&canon, XXH3_128bits(data, n));
	digest_bytes(data, n, &d);
	assert_memory_equal(d.bytes, canon.digest, sizeof(d.bytes));
}

static void known_vectors(void **state)
{
	struct digest d;

	(void)state;
	expect_xxh3("", 0);
	expect_xxh3("abc", 3);
	/* Pinned so a cache written today stays readable: these must never change. */
	digest_bytes("", 0, &d);
	expect_hex(&d, "99aa06d3014798d86001c324468d497f");
	digest_bytes("abc", 3, &d);
	expect_hex(&d, "06b05ab6733a618578af5f94892f3950");
}

static void hex_round_trip(void **state)
{
	struct digest d, back;
	char hex[DIGEST_HEX_LEN + 1];

	(void)state;
	digest_bytes("round trip", 10, &d);
	digest_to_hex(&d, hex);
	assert_int_equal(strlen(hex), DIGEST_HEX_LEN);
	assert_int_equal(digest_from_hex(hex, &back), 0);
	assert_true(digest_equal(&d, &back));
	assert_int_equal(digest_from_hex("06B05AB6733A618578AF5F94892F3950", &back), 0);
	expect_hex(&back, "06b05ab6733a618578af5f94892f3950");
}

static void hex_rejects_malformed(void **state)
{
	struct digest d;

	(void)state;
	memset(d.bytes, 0x5a, sizeof(d.bytes));
	assert_int_equal(digest_from_hex("", &d), -1);
	assert_int_equal(digest_from_hex("06b05ab6733a618578af5f94892f395", &d), -1);   /* 31 digits */
	assert_int_equal(digest_from_hex("06b05ab6733a618578af5f94892f39500", &d), -1); /* 33 digits */
	assert_int_equal(digest_from_hex("06b05ab6733a618578af5f94892f395g", &d), -1);
	assert_int_equal(digest_from_hex(" 6b05ab6733a618578af5f94892f3950", &d), -1);
	/* A failed parse leaves the output alone. */
	for (size_t i = 0; i < sizeof(d.bytes); i++)
		assert_int_equal(d.bytes[i], 0x5a);
}

static void key_of_two_strings(const char *a, const char *b, struct digest *out)
{
	struct key_builder kb;

	key_begin(&kb);
	key_add_str(&kb, a);
	key_add_str(&kb, b);
	key_end(&kb, out);
}

static void key_fields_do_not_run_together(void **state)
{
	struct digest ab_c, a_bc, again;

	(void)state;
	key_of_two_strings("ab", "c", &ab_c);
	key_of_two_strings("a", "bc", &a_bc);
	key_of_two_strings("ab", "c", &again);
	assert_false(digest_equal(&ab_c, &a_bc));
	assert_true(digest_equal(&ab_c, &again));
}

static void key_null_is_not_empty(void **state)
{
	struct digest null_key, empty_key, none;
	struct key_builder kb;

	(void)state;
	key_begin(&kb);
	key_add_str(&kb, NULL);
	key_end(&kb, &null_key);
	key_begin(&kb);
	key_add_str(&kb, "");
	key_end(&kb, &empty_key);
	key_begin(&kb);
	key_end(&kb, &none);
	assert_false(digest_equal(&null_key, &empty_key));
	assert_false(digest_equal(&null_key, &none));
	assert_false(digest_equal(&empty_key, &none));
}

static void key_field_types_differ(void **state)
{
	struct digest as_str, as_bytes, one, two, dig_key, raw_key;
	struct digest inner;
	struct key_builder kb;

	(void)state;
	key_begin(&kb);
	key_add_str(&kb, "x");
	key_end(&kb, &as_str);
	key_begin(&kb);
	key_add(&kb, "x", 1);
	key_end(&kb, &as_bytes);
	assert_false(digest_equal(&as_str, &as_bytes));

	key_begin(&kb);
	key_add_u64(&kb, 1);
	key_end(&kb, &one);
	key_begin(&kb);
	key_add_u64(&kb, 2);
	key_end(&kb, &two);
	assert_false(digest_equal(&one, &two));

	digest_bytes("inner", 5, &inner);
	key_begin(&kb);
	key_add_digest(&kb, &inner);
	key_end(&kb, &dig_key);
	key_begin(&kb);
	key_add(&kb, inner.bytes, sizeof(inner.bytes));
	key_end(&kb, &raw_key);
	assert_false(digest_equal(&dig_key, &raw_key));
}

/* The encoding is pinned too: tag, 64-bit little-endian length, bytes. */
static void key_encoding_is_documented_one(void **state)
{
	static const unsigned char encoded[] = { 's', 2, 0, 0, 0, 0, 0, 0, 0, 'h', 'i',
	                                         'u', 8, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0 };
	struct digest by_builder, by_hand;
	struct key_builder kb;

	(void)state;
	key_begin(&kb);
	key_add_str(&kb, "hi");
	key_add_u64(&kb, 0x0102);
	key_end(&kb, &by_builder);
	digest_bytes(encoded, sizeof(encoded), &by_hand);
	assert_true(digest_equal(&by_builder, &by_hand));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_vectors),
		cmocka_unit_test(hex_round_trip),
		cmocka_unit_test(hex_rejects_malformed),
		cmocka_unit_test(key_fields_do_not_run_together),
		cmocka_unit_test(key_null_is_not_empty),
		cmocka_unit_test(key_field_types_differ),
		cmocka_unit_test(key_encoding_is_documented_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
