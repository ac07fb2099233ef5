/* base64.c - strict RFC 4648 base64 decoding: libcurl and the other libraries we link keep theirs private. */
#include <stdint.h>

#include "base64.h"

size_t base64_decoded_max(size_t len)
{
	return len / 4 * 3;
}

/* The 6-bit value of one base64 character, or -1 for any other byte (whitespace, '-', '_', '=', NUL included). */
static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *text, size_t len, unsigned char *out, size_t *outlen)
{
	if (len % 4)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < len; i += 4) {
		const unsigned char *q = (const unsigned char *)text + i;
		/* Padding may only close the last quantum, and "x=y" inside one is no padding at all. */
		int pad = i + 4 < len || q[3] != '=' ? 0 : q[2] == '=' ? 2 : 1;
		int a = sextet(q[0]), b = sextet(q[1]), c = pad == 2 ? 0 : sextet(q[2]), d = pad ? 0 : sextet(q[3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return -1;
		uint32_t bits = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
		/* Bits under the padding must be zero, or two different texts would decode to the same bytes. */
		if ((pad == 1 && (bits & 0xff)) || (pad == 2 && (bits & 0xffff)))
			return -1;
		out[n++] = (unsigned char)(bits >> 16);
		if (pad < 2)
			out[n++] = (unsigned char)(bits >> 8 & 0xff);
		if (pad < 1)
			out[n++] = (unsigned char)(bits & 0xff);
	}
	*outlen = n;
	return 0;
}
