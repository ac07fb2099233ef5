/* quotes.h - snapping a model's quotation to the script's verbatim dialogue, anchoring it, and naming the cast. */
#ifndef SB_QUOTES_H
#define SB_QUOTES_H

#include <stddef.h>

struct fountain_character;
struct fountain_script;

/* Shortest run of words of a spoken line that counts as a quote of it when it is not the whole line. */
#define QUOTE_MIN_WORDS 4

/* Where a quote was found. */
struct quote_match {
	char *text;       /* the script's verbatim words (malloc'd): a whole spoken line, a whole speech, or a span */
	size_t scene;     /* scene index in the script (heading order, 0 before the first heading) */
	size_t ordinal;   /* 1-based position of that scene among the character's scenes */
	int line;         /* 1-based line of the script file where the quoted words start */
};

enum quote_outcome { QUOTE_FOUND, QUOTE_NOT_FOUND };

/* Finds quote among ch's own dialogue, in story order: it matches a spoken line or a whole speech after
 * normalisation (Unicode quotes, apostrophes, dashes and ellipses folded, white space collapsed, surrounding quote
 * marks removed, case and final punctuation ignored), or a contiguous run of at least QUOTE_MIN_WORDS of its words.
 * QUOTE_FOUND with *m filled (free m->text), or QUOTE_NOT_FOUND. */
enum quote_outcome quote_find(const struct fountain_script *s, const struct fountain_character *ch, const char *quote,
                              struct quote_match *m);

/* Anchors text that is already verbatim (an exact substring of one of ch's speeches, else a quote quote_find
 * accepts): QUOTE_FOUND with *m filled (free m->text), or QUOTE_NOT_FOUND when the script no longer holds it. */
enum quote_outcome quote_anchor(const struct fountain_script *s, const struct fountain_character *ch, const char *text,
                                struct quote_match *m);

/* The cast member a name written by a model means: the character whose name equals it ignoring case and spacing,
 * else the only character whose first name or surname it is (or whose name is the first name or surname of it);
 * NULL when no character, or more than one, fits. */
const struct fountain_character *quote_cast_member(const struct fountain_script *s, const char *name);

#endif
