/* fountain_clean.c - input checks, line ends, boneyard and notes: everything that must happen before parsing. */
#include "fountain_clean.h"

#include <stdio.h>
#include <string.h>

#include "fountain.h"

size_t fountain_space(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (s[0] == ' ' || s[0] == '\t' || s[0] == '\f' || s[0] == '\v')
		return 1;
	if (n >= 2 && (unsigned char)s[0] == 0xC2 && (unsigned char)s[1] == 0xA0)
		return 2;
	return 0;
}

bool fountain_all_space(const char *s, size_t n)
{
	size_t i = 0, w;
	while (i < n && (w = fountain_space(s + i, n - i)) > 0)
		i += w;
	return i == n;
}

static void fail_at(struct fountain_error *err, size_t offset, int line, const char *what, const char *todo)
{
	err->offset = offset;
	err->line = line;
	snprintf(err->message, sizeof err->message, "%s at byte %zu (line %d): %s", what, offset, line, todo);
}

/* Length of the valid UTF-8 sequence of two bytes or more at s[0..n), or 0 (overlong forms, surrogates and code
 * points past U+10FFFF are invalid too). */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

int fountain_check_text(const char *data, size_t len, size_t base, int *nlines, struct fountain_error *err)
{
	const unsigned char *s = (const unsigned char *)data;
	int line = 1;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c >= 0x80) {
			size_t n = utf8_sequence(s + i, len - i);
			if (n == 0) {
				fail_at(err, base + i, line, "invalid UTF-8", "save the script as UTF-8");
				return -1;
			}
			i += n;
			continue;
		}
		if (c == '\n' || (c == '\r' && (i + 1 == len || s[i + 1] != '\n'))) {
			line++;
		} else if (c == 0) {
			fail_at(err, base + i, line, "NUL byte", "this is not a text file; give a Fountain script in UTF-8");
			return -1;
		} else if (c < 0x20 && c != '\t' && c != '\f' && c != '\v' && c != '\r') {
			char what[40];
			snprintf(what, sizeof what, "control character 0x%02X", c);
			fail_at(err, base + i, line, what, "this is not a text file; remove it or give a Fountain script");
			return -1;
		}
		i++;
	}
	/* A final line end closes the last line rather than opening an empty one. */
	*nlines = len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r') ? line - 1 : line;
	return 0;
}

/* Boneyard pass: data -> out with '\n' line ends. */
static int remove_boneyard(const char *in, size_t len, size_t base, char *out, size_t *outlen,
                           struct fountain_error *err)
{
	size_t i = 0, w = 0, open_offset = 0;
	int line = 1, open_line = 0;
	bool inside = false;
	while (i < len) {
		size_t line_start = w;
		bool touched = inside;
		while (i < len && in[i] != '\n' && in[i] != '\r') {
			if (inside) {
				if (in[i] == '*' && i + 1 < len && in[i + 1] == '/') {
					inside = false;
					i += 2;
				} else {
					i++;
				}
			} else if (in[i] == '/' && i + 1 < len && in[i + 1] == '*') {
				inside = touched = true;
				open_offset = base + i;
				open_line = line;
				i += 2;
			} else {
				out[w++] = in[i++];
			}
		}
		bool ended = i < len;
		if (ended)
			i += in[i] == '\r' && i + 1 < len && in[i + 1] == '\n' ? 2 : 1;
		/* The line consumed at least one byte here, so the marker never outgrows the input. */
		if (touched && fountain_all_space(out + line_start, w - line_start)) {
			w = line_start;
			out[w++] = FOUNTAIN_DROPPED;
		} else if (ended) {
			out[w++] = '\n';
		}
		line++;
	}
	if (inside) {
		err->offset = open_offset;
		err->line = open_line;
		snprintf(err->message, sizeof err->message,
		         "unclosed boneyard: the '/*' at line %d has no closing '*/'; close it or remove it", open_line);
		return -1;
	}
	*outlen = w;
	return 0;
}

/* True when the note whose text starts at b[i] closes before a blank line; else *stop is where the search ended
 * (the blank line or the end), and no '[[' before it can close either. */
static bool note_closes(const char *b, size_t i, size_t n, size_t *stop)
{
	while (i < n) {
		if (b[i] == ']' && i + 1 < n && b[i + 1] == ']')
			return true;
		if (b[i] != '\n' && b[i] != FOUNTAIN_DROPPED) {
			i++;
			continue;
		}
		size_t start = ++i, end = start;
		while (end < n && b[end] != '\n' && b[end] != FOUNTAIN_DROPPED)
			end++;
		bool dropped = end < n && b[end] == FOUNTAIN_DROPPED;
		bool two_spaces = end - start == 2 && b[start] == ' ' && b[start + 1] == ' ';
		if (start < n && !dropped && !two_spaces && fountain_all_space(b + start, end - start)) {
			*stop = start;
			return false;
		}
	}
	*stop = n;
	return false;
}

/* Notes pass, in place: output never runs ahead of input. */
static size_t remove_notes(char *b, size_t n)
{
	size_t r = 0, w = 0, line_start = 0, plain_until = 0;
	bool inside = false, touched = false;
	while (r < n) {
		char c = b[r];
		if (c == '\n' || c == FOUNTAIN_DROPPED) {
			if (c == '\n' && touched && fountain_all_space(b + line_start, w - line_start)) {
				w = line_start;
				c = FOUNTAIN_DROPPED;
			}
			b[w++] = c;
			r++;
			line_start = w;
			touched = inside;
			continue;
		}
		if (inside) {
			if (c == ']' && r + 1 < n && b[r + 1] == ']') {
				inside = false;
				r += 2;
			} else {
				r++;
			}
			continue;
		}
		if (c == '[' && r + 1 < n && b[r + 1] == '[' && r >= plain_until) {
			if (note_closes(b, r + 2, n, &plain_until)) {
				inside = touched = true;
				r += 2;
				continue;
			}
		}
		b[w++] = b[r++];
	}
	if (touched && fountain_all_space(b + line_start, w - line_start)) {
		w = line_start;
		b[w++] = FOUNTAIN_DROPPED;
	}
	return w;
}

int fountain_clean(const char *data, size_t len, size_t base, char *out, size_t *outlen, struct fountain_error *err)
{
	size_t n;
	if (remove_boneyard(data, len, base, out, &n, err) < 0)
		return -1;
	*outlen = remove_notes(out, n);
	return 0;
}
