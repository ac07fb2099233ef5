/* fountain_clean.h - the parser's first pass: checks that the input is text, unifies line ends, removes boneyard
 * and notes. Internal to fountain*.c. */
#ifndef SB_FOUNTAIN_CLEAN_H
#define SB_FOUNTAIN_CLEAN_H

#include <stdbool.h>
#include <stddef.h>

struct fountain_error;

/* Ends a line that boneyard or notes left empty: the line keeps its number but the parser skips it. Such a line
 * has no other byte. Valid input never holds this byte, since control characters are refused. */
#define FOUNTAIN_DROPPED '\001'

/* Length of the white space character at s[0..n) (space, tab, form feed, vertical tab: 1; U+00A0: 2), or 0. */
size_t fountain_space(const char *s, size_t n);

/* True when s[0..n) is only white space (U+00A0 included), and so also when n is 0. */
bool fountain_all_space(const char *s, size_t n);

/* Checks that data (file offset base, BOM already skipped) is UTF-8 text the parser accepts and counts its lines;
 * 0, or -1 and *err naming the byte and line. */
int fountain_check_text(const char *data, size_t len, size_t base, int *nlines, struct fountain_error *err);

/* Writes checked data to out (room for len bytes): line ends made '\n', boneyard and notes removed, emptied lines
 * ended by FOUNTAIN_DROPPED; 0 and *outlen, or -1 and *err on an unclosed boneyard. */
int fountain_clean(const char *data, size_t len, size_t base, char *out, size_t *outlen, struct fountain_error *err);

#endif
