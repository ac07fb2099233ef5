/* test_base64.c - the strict RFC 4648 decoder: the RFC's vectors, every alphabet character, float32 bytes, and the
 * texts it must refuse (foreign characters, bad lengths, misplaced padding, non-zero bits under the padding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"

/* Decodes text into a buffer of exactly base64_decoded_max bytes (so that AddressSanitizer sees any overrun); the
 * decoder's result, with the bytes in out and their count in *n. */
static int decode(const char *text, size_t len, unsigned char *out, size_t *n)
{
	unsigned char *tight = malloc(base64_decoded_max(len) + 1);
	assert_non_null(tight);
	*n = 12345;
	int rc = base64_decode(text, len, tight, n);
	if (rc == 0) {
		assert_true(*n <= base64_decoded_max(len));
		memcpy(out, tight, *n);
	}
	free(tight);
	return rc;
}

static void assert_decodes_to(const char *text, const void *bytes, size_t nbytes)
{
	unsigned char out[512];
	size_t n;
	assert_int_equal(decode(text, strlen(text), out, &n), 0);
	assert_int_equal(n, nbytes);
	if (nbytes)
		assert_memory_equal(out, bytes, nbytes);
}

static void assert_refused(const char *text, size_t len)
{
	unsigned char out[512];
	size_t n;
	if (decode(text, len, out, &n) != -1)
		fail_msg("\"%.*s\" (%zu bytes) was accepted as base64", (int)len, text, len);
}

static void test_rfc4648_vectors(void **state)
{
	(void)state;
	/* RFC 4648 section 10. */
	assert_decodes_to("", "", 0);
	assert_decodes_to("Zg==", "f", 1);
	assert_decodes_to("Zm8=", "fo", 2);
	assert_decodes_to("Zm9v", "foo", 3);
	assert_decodes_to("Zm9vYg==", "foob", 4);
	assert_decodes_to("Zm9vYmE=", "fooba", 5);
	assert_decodes_to("Zm9vYmFy", "foobar", 6);
}

static void test_every_alphabet_character(void **state)
{
	(void)state;
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	assert_decodes_to("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZH"
	                  "SElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6P"
	                  "kJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX"
	                  "2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==",
	                  all, sizeof(all));
	assert_decodes_to("////", "\xff\xff\xff", 3);
	assert_decodes_to("+/+/", "\xfb\xff\xbf", 3);
	assert_decodes_to("AAAA", "\0\0\0", 3);
}

static void test_float32_little_endian(void **state)
{
	(void)state;
	/* 1.0f and -2.5f as an embeddings answer carries them: little-endian IEEE 754 binary32. */
	assert_decodes_to("AACAPwAAIMA=", "\x00\x00\x80\x3f\x00\x00\x20\xc0", 8);
}

static void test_foreign_characters_refused(void **state)
{
	(void)state;
	assert_refused("Zm9v!A==", 8);
	assert_refused("Zm-v", 4);          /* the URL-safe alphabet is another encoding */
	assert_refused("Zm_v", 4);
	assert_refused("Zm 9", 4);
	assert_refused("Zm9v\nYmF", 8);
	assert_refused("Zm9vYmF\n", 8);
	assert_refused("Zm\0v", 4);         /* a NUL inside the given length */
	assert_refused("Zm9\xc3", 4);
	assert_refused("Zm9\x80", 4);
}

static void test_lengths_refused(void **state)
{
	(void)state;
	assert_refused("Zg", 2);            /* unpadded */
	assert_refused("Zm8", 3);
	assert_refused("Zg=", 3);
	assert_refused("Zm9vY", 5);
	assert_refused("Zg===", 5);
	assert_refused("Z", 1);
}

static void test_padding_errors_refused(void **state)
{
	(void)state;
	assert_refused("====", 4);
	assert_refused("Z===", 4);          /* at most two padding characters */
	assert_refused("Zm=v", 4);          /* a character after padding */
	assert_refused("=Zm9", 4);
	assert_refused("Zg==Zm9v", 8);      /* padding before the last quantum */
	assert_refused("Zm8=Zm9v", 8);
	assert_refused("Zh==", 4);          /* "Zh==" would also be "f": non-zero bits under the padding */
	assert_refused("Zm9=", 4);
	assert_refused("Zm8=", 3);          /* the length given, not the NUL, ends the text */
}

static void test_decoded_max(void **state)
{
	(void)state;
	assert_int_equal(base64_decoded_max(0), 0);
	assert_int_equal(base64_decoded_max(4), 3);
	assert_int_equal(base64_decoded_max(8192), 6144);   /* a 1536-dimension float32 embedding */
	assert_int_equal(base64_decoded_max(7), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_every_alphabet_character),
		cmocka_unit_test(test_float32_little_endian),
		cmocka_unit_test(test_foreign_characters_refused),
		cmocka_unit_test(test_lengths_refused),
		cmocka_unit_test(test_padding_errors_refused),
		cmocka_unit_test(test_decoded_max),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
