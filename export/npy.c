/* npy.c - the NumPy .npy v1.0 format, written as numpy.save writes a '<f4' matrix and read back strictly.
 *
 * Layout: "\x93NUMPY", version bytes 1 0, a little-endian uint16 header length, then the header: a Python dict
 * literal "{'descr': '<f4', 'fortran_order': False, 'shape': (R, D), }", 21 - len(str(R)) spare spaces (numpy
 * leaves room to grow the first axis in place), more spaces so that the data starts on a 64-byte boundary, and "\n".
 * Then R x D float32 values, little-endian, row-major. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_PREFIX_LEN 10          /* magic, two version bytes, uint16 header length */
#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21

static void put_f32le(unsigned char *p, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	p[0] = (unsigned char)u;
	p[1] = (unsigned char)(u >> 8);
	p[2] = (unsigned char)(u >> 16);
	p[3] = (unsigned char)(u >> 24);
}

static float get_f32le(const unsigned char *p)
{
	uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

int npy_encode(const float *data, size_t rows, size_t dims, unsigned char **out, size_t *outlen)
{
	char dict[160];
	int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, dims);
	char rowsdigits[32];
	int rd = snprintf(rowsdigits, sizeof rowsdigits, "%zu", rows);
	size_t hlen = (size_t)n + (size_t)(NPY_GROWTH_DIGITS - rd) + 1;
	size_t pad = NPY_ALIGN - (NPY_PREFIX_LEN + hlen) % NPY_ALIGN;
	size_t header = hlen + pad;
	if (dims && rows > SIZE_MAX / 4 / dims)
		return -1;
	size_t nbytes = rows * dims * 4;
	if (nbytes > SIZE_MAX - NPY_PREFIX_LEN - header)
		return -1;
	unsigned char *buf = malloc(NPY_PREFIX_LEN + header + nbytes);
	if (!buf)
		return -1;
	memcpy(buf, NPY_MAGIC, NPY_MAGIC_LEN);
	buf[6] = 1;
	buf[7] = 0;
	buf[8] = (unsigned char)(header & 0xff);
	buf[9] = (unsigned char)(header >> 8);
	memcpy(buf + NPY_PREFIX_LEN, dict, (size_t)n);
	memset(buf + NPY_PREFIX_LEN + n, ' ', header - (size_t)n - 1);
	buf[NPY_PREFIX_LEN + header - 1] = '\n';
	unsigned char *p = buf + NPY_PREFIX_LEN + header;
	for (size_t i = 0; i < rows * dims; i++)
		put_f32le(p + 4 * i, data[i]);
	*out = buf;
	*outlen = NPY_PREFIX_LEN + header + nbytes;
	return 0;
}

static const char *skip_spaces(const char *p, const char *end)
{
	while (p < end && *p == ' ')
		p++;
	return p;
}

/* Parses a decimal count with no sign or leading zeros, capped well below any size that could be allocated. */
static const char *parse_count(const char *p, const char *end, size_t *out)
{
	uint64_t v = 0;
	const char *start = p;
	while (p < end && *p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > (UINT64_C(1) << 40))
			return NULL;
		p++;
	}
	if (p == start || (p - start > 1 && *start == '0'))
		return NULL;
	*out = (size_t)v;
	return p;
}

static const char *expect(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0 ? p + n : NULL;
}

/* The header dict: keys in any order, each exactly once, only the three numpy writes for a plain array. */
static int parse_header(const char *p, const char *end, size_t *rows, size_t *dims, char *err, size_t errlen)
{
	int seen_descr = 0, seen_order = 0, seen_shape = 0;
	p = skip_spaces(p, end);
	if (!(p = expect(p, end, "{")))
		goto bad;
	for (;;) {
		p = skip_spaces(p, end);
		if (p < end && *p == '}')
			break;
		const char *value;
		if ((value = expect(p, end, "'descr':"))) {
			p = skip_spaces(value, end);
			if (seen_descr++ || !(p = expect(p, end, "'<f4'"))) {
				snprintf(err, errlen, "embeddings.npy: dtype is not '<f4' (little-endian float32)");
				return -1;
			}
		} else if ((value = expect(p, end, "'fortran_order':"))) {
			p = skip_spaces(value, end);
			if (seen_order++ || !(p = expect(p, end, "False"))) {
				snprintf(err, errlen, "embeddings.npy: fortran_order is not False");
				return -1;
			}
		} else if ((value = expect(p, end, "'shape':"))) {
			p = skip_spaces(value, end);
			if (seen_shape++ || !(p = expect(p, end, "(")) || !(p = parse_count(p, end, rows))
			    || !(p = expect(p, end, ",")) || !(p = parse_count(skip_spaces(p, end), end, dims))) {
				snprintf(err, errlen, "embeddings.npy: shape is not (rows, dims) with two counts below 2^40");
				return -1;
			}
			p = skip_spaces(p, end);
			if (p < end && *p == ',')
				p = skip_spaces(p + 1, end);
			if (!(p = expect(p, end, ")")))
				goto bad;
		} else {
			goto bad;
		}
		p = skip_spaces(p, end);
		if (p < end && *p == ',')
			p++;
		else if (!(p < end && *p == '}'))
			goto bad;
	}
	p = skip_spaces(p + 1, end);
	if (p != end || !seen_descr || !seen_order || !seen_shape)
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "embeddings.npy: malformed header (want {'descr': '<f4', 'fortran_order': False, "
	                      "'shape': (rows, dims)})");
	return -1;
}

int npy_decode(const unsigned char *buf, size_t len, size_t *rows, size_t *dims, float **data, char *err, size_t errlen)
{
	*data = NULL;
	if (len < NPY_PREFIX_LEN || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
		snprintf(err, errlen, "embeddings.npy: not an .npy file (bad magic)");
		return -1;
	}
	if (buf[6] != 1 || buf[7] != 0) {
		snprintf(err, errlen, "embeddings.npy: .npy version %u.%u, want 1.0", buf[6], buf[7]);
		return -1;
	}
	size_t header = (size_t)buf[8] | (size_t)buf[9] << 8;
	if (header > len - NPY_PREFIX_LEN || header == 0 || buf[NPY_PREFIX_LEN + header - 1] != '\n') {
		snprintf(err, errlen, "embeddings.npy: header length %zu does not fit the %zu-byte file or lacks its newline",
		         header, len);
		return -1;
	}
	const char *h = (const char *)buf + NPY_PREFIX_LEN;
	if (parse_header(h, h + header - 1, rows, dims, err, errlen) < 0)
		return -1;
	/* Both counts are below 2^40 but their product may not be: check before multiplying. */
	size_t have = len - NPY_PREFIX_LEN - header;
	if ((*dims && *rows > have / 4 / *dims) || *rows * *dims * 4 != have) {
		snprintf(err, errlen, "embeddings.npy: shape (%zu, %zu) does not match its %zu data bytes", *rows, *dims, have);
		return -1;
	}
	if (have == 0)
		return 0;
	float *f = malloc(have);
	if (!f) {
		snprintf(err, errlen, "embeddings.npy: out of memory for %zu bytes", have);
		return -1;
	}
	const unsigned char *p = buf + NPY_PREFIX_LEN + header;
	for (size_t i = 0; i < *rows * *dims; i++)
		f[i] = get_f32le(p + 4 * i);
	*data = f;
	return 0;
}
