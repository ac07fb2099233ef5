/* quotes.c - snapping a model's quotation to the script's verbatim dialogue, anchoring it, and naming the cast.
 *
 * Models quote loosely: curly apostrophes, quote marks around the line, a lost final period, a doubled space, a
 * shortened line. Each is repaired exactly here, against the parser's own text, so what is stored is always the
 * script's words and never the model's. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fountain.h"
#include "quotes.h"
#include "util.h"

/* Decodes the UTF-8 character at s (n > 0 bytes left) into *cp; its length, or 1 with *cp = the byte when the bytes
 * are not UTF-8 (the parser has refused such a script, but a model's quote may hold anything). */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (len == 0 || len > n) {
		*cp = s[0];
		return 1;
	}
	uint32_t c = len == 1 ? s[0] : s[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			*cp = s[0];
			return 1;
		}
		c = c << 6 | (s[i] & 0x3F);
	}
	*cp = c;
	return len;
}

static bool is_space_char(uint32_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xA0 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F ||
	       c == 0x205F || c == 0x3000;
}

/* One word of a text: its bytes in the original, and its folded form. */
struct word {
	size_t start, end;
	char *folded;
};

struct words {
	struct word *v;
	size_t n, cap;
};

/* The folded form of s[0..n): typographic quotes, apostrophes, dashes and ellipses made ASCII, runs of dashes one
 * dash, ASCII letters lower case. */
static char *fold(const char *s, size_t n)
{
	struct buf out = {0};
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		uint32_t c;
		size_t len = utf8_char(p + i, n - i, &c);
		const char *ascii = NULL;
		if (c == 0x2018 || c == 0x2019 || c == 0x201A || c == 0x201B || c == 0x2032 || c == '`' || c == 0xB4)
			ascii = "'";
		else if (c == 0x201C || c == 0x201D || c == 0x201E || c == 0x201F || c == 0x2033 || c == 0xAB || c == 0xBB)
			ascii = "\"";
		else if ((c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == '-')
			ascii = out.len && out.data[out.len - 1] == '-' ? "" : "-";
		else if (c == 0x2026)
			ascii = "...";
		if (ascii) {
			buf_puts(&out, ascii);
		} else if (c >= 'A' && c <= 'Z') {
			char lower = (char)(c - 'A' + 'a');
			buf_add(&out, &lower, 1);
		} else {
			buf_add(&out, p + i, len);
		}
		i += len;
	}
	buf_add(&out, "", 0);
	return out.data ? out.data : xstrdup("");
}

static void split_words(const char *s, struct words *w)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;
	w->n = 0;
	while (i < n) {
		uint32_t c;
		size_t len = utf8_char(p + i, n - i, &c);
		if (is_space_char(c)) {
			i += len;
			continue;
		}
		size_t start = i;
		while (i < n && !is_space_char(c)) {
			i += len;
			if (i < n)
				len = utf8_char(p + i, n - i, &c);
		}
		w->v = xgrow(w->v, &w->cap, w->n + 1, sizeof(*w->v));
		w->v[w->n++] = (struct word){start, i, fold(s + start, i - start)};
	}
}

static void clear_words(struct words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].folded);
	w->n = 0;
}

/* Whether two folded words are the same, quote marks before the first word and quote marks and punctuation after the
 * last one aside. */
static bool same_word(const char *a, const char *b, bool first, bool last)
{
	static const char lead[] = "\"'(";
	static const char trail[] = "\"'.,;:!?-)";
	size_t an = strlen(a), bn = strlen(b);
	if (first) {
		while (an && strchr(lead, *a))
			a++, an--;
		while (bn && strchr(lead, *b))
			b++, bn--;
	}
	if (last) {
		while (an && strchr(trail, a[an - 1]))
			an--;
		while (bn && strchr(trail, b[bn - 1]))
			bn--;
	}
	return an == bn && memcmp(a, b, an) == 0;
}

/* The index of the spoken line of cue that holds byte offset at of its dialogue. */
static size_t line_of(const struct fountain_cue *cue, size_t at)
{
	size_t k = 0;
	while (k + 1 < cue->nlines && cue->lines[k + 1].offset <= at)
		k++;
	return k;
}

static int file_line(const struct fountain_cue *cue, size_t at)
{
	return cue->nlines ? cue->lines[line_of(cue, at)].line : cue->line + 1;
}

/* Whether words [i, i+m) of a speech are exactly one whole spoken line of it. */
static bool whole_line(const struct fountain_cue *cue, const struct words *sw, size_t i, size_t m)
{
	size_t k = line_of(cue, sw->v[i].start);
	if (line_of(cue, sw->v[i + m - 1].start) != k)
		return false;
	bool starts = i == 0 || line_of(cue, sw->v[i - 1].start) != k;
	bool ends = i + m == sw->n || line_of(cue, sw->v[i + m].start) != k;
	return starts && ends;
}

static void fill_match(struct quote_match *m, const struct fountain_script *s, const struct fountain_character *ch,
                       size_t k, const struct fountain_cue *cue, size_t start, size_t end)
{
	m->text = xstrndup(cue->dialogue + start, end - start);
	m->scene = fountain_scene_by_index(s, ch->scenes[k])->index;
	m->ordinal = k + 1;
	m->line = file_line(cue, start);
}

enum quote_outcome quote_find(const struct fountain_script *s, const struct fountain_character *ch, const char *quote,
                              struct quote_match *m)
{
	struct words qw = {0}, sw = {0};
	enum quote_outcome found = QUOTE_NOT_FOUND;
	split_words(quote, &qw);
	for (size_t k = 0; k < ch->nscenes && qw.n && found == QUOTE_NOT_FOUND; k++) {
		const struct fountain_scene *sc = fountain_scene_by_index(s, ch->scenes[k]);
		for (size_t c = 0; c < sc->ncues && found == QUOTE_NOT_FOUND; c++) {
			const struct fountain_cue *cue = &sc->cues[c];
			if (strcmp(cue->name, ch->name) != 0 || !cue->dialogue)
				continue;
			clear_words(&sw);
			split_words(cue->dialogue, &sw);
			for (size_t i = 0; i + qw.n <= sw.n && found == QUOTE_NOT_FOUND; i++) {
				size_t j = 0;
				while (j < qw.n && same_word(qw.v[j].folded, sw.v[i + j].folded, j == 0, j == qw.n - 1))
					j++;
				if (j < qw.n)
					continue;
				/* Few words match by accident; they count only as a whole line or a whole speech. */
				if (qw.n >= QUOTE_MIN_WORDS || qw.n == sw.n || whole_line(cue, &sw, i, qw.n)) {
					fill_match(m, s, ch, k, cue, sw.v[i].start, sw.v[i + qw.n - 1].end);
					found = QUOTE_FOUND;
				}
			}
		}
	}
	clear_words(&qw);
	clear_words(&sw);
	free(qw.v);
	free(sw.v);
	return found;
}

enum quote_outcome quote_anchor(const struct fountain_script *s, const struct fountain_character *ch, const char *text,
                                struct quote_match *m)
{
	if (!text[0])
		return QUOTE_NOT_FOUND;
	for (size_t k = 0; k < ch->nscenes; k++) {
		const struct fountain_scene *sc = fountain_scene_by_index(s, ch->scenes[k]);
		for (size_t c = 0; c < sc->ncues; c++) {
			const struct fountain_cue *cue = &sc->cues[c];
			const char *at;
			if (strcmp(cue->name, ch->name) != 0 || !cue->dialogue || !(at = strstr(cue->dialogue, text)))
				continue;
			size_t start = (size_t)(at - cue->dialogue);
			fill_match(m, s, ch, k, cue, start, start + strlen(text));
			return QUOTE_FOUND;
		}
	}
	return quote_find(s, ch, text, m);
}

/* Whether a and b are the same words, ignoring case and spacing. */
static bool same_name(const struct words *a, const struct words *b)
{
	if (a->n != b->n || a->n == 0)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].folded, b->v[i].folded) != 0)
			return false;
	return true;
}

/* Whether the one-word name a is the first or last word of b. */
static bool part_of(const struct words *a, const struct words *b)
{
	return a->n == 1 && b->n > 1 &&
	       (strcmp(a->v[0].folded, b->v[0].folded) == 0 || strcmp(a->v[0].folded, b->v[b->n - 1].folded) == 0);
}

const struct fountain_character *quote_cast_member(const struct fountain_script *s, const char *name)
{
	struct words want = {0}, have = {0};
	const struct fountain_character *exact = NULL, *partial = NULL;
	size_t partials = 0;
	split_words(name, &want);
	for (size_t i = 0; i < s->ncharacters && !exact; i++) {
		clear_words(&have);
		split_words(s->characters[i].name, &have);
		if (same_name(&want, &have))
			exact = &s->characters[i];
		else if (part_of(&want, &have) || part_of(&have, &want)) {
			partial = &s->characters[i];
			partials++;
		}
	}
	clear_words(&want);
	clear_words(&have);
	free(want.v);
	free(have.v);
	return exact ? exact : partials == 1 ? partial : NULL;
}
