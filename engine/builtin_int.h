/* builtin_int.h - what the offline analyser's files share: the text toolkit (words, term bags, tallies, sentences,
 * tokens, capitalised names, JSON helpers) that builtin_summary.c, builtin_outline.c and builtin_sheet.c build on.
 * Private to engine/builtin*.c, as SQLite's sqliteInt.h is to its files. Its functions carry the builtin_ prefix, as
 * they are external symbols of the library; what only builtin_text.c uses is static there. */
#ifndef SB_BUILTIN_INT_H
#define SB_BUILTIN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "builtin.h"
#include "fountain.h"
#include "util.h"

#define MAX_WORD 64
#define SALIENT_SENTENCES 2
#define KEY_LINE_PROSE_MAX 160
#define SHEET_KEY_LINES 3
#define SHEET_PARTNERS 5
#define SHEET_LOCATIONS 3
#define SUMMARY_PROPS 8

/* A bag of term hashes, sorted once filled, for counting. */
struct terms {
	uint64_t *h;
	size_t n, cap;
};

/* A growable list of owned strings with a count each, kept in order of first addition. */
struct tally {
	char **name;
	int *count;
	size_t n, cap;
};

/* A string list. */
struct lines {
	char **v;
	size_t n, cap;
};

struct ranked {
	size_t index;
	double score;
	size_t len;
};

void builtin_terms_sort(struct terms *t);

/* Drops repeats of a sorted bag. */
void builtin_terms_unique(struct terms *t);

/* Adds the content terms of text to t; returns the number of words (of any kind) seen. */
size_t builtin_add_terms(struct terms *t, const char *text);

void builtin_tally_add(struct tally *t, const char *name, int inc);

void builtin_tally_free(struct tally *t);

/* Indexes of the at most max highest counts, ties to the earlier entry; returns how many were written to order. */
size_t builtin_tally_top(const struct tally *t, size_t max, size_t *order);

void builtin_lines_free(struct lines *l);

/* Splits action text into sentences: blank lines and sentence-final punctuation end one; line breaks inside a
 * paragraph become spaces; emphasis markers go, as the sentences are read as prose. */
void builtin_split_sentences(const char *text, struct lines *out);

/* Sum over the distinct content terms of text of their frequency in the scene (tf); *nterms gets their number and
 * *nwords the number of words of any kind. */
double builtin_term_weight(const char *text, const struct terms *tf, size_t *nterms, size_t *nwords);

/* Salience of an action sentence: its term weight damped by the number of terms so length alone does not win; a
 * bonus for naming someone present and for opening the scene, a penalty for fragments. */
double builtin_salience(const char *sentence, const struct terms *tf, const struct tally *present, bool first);

/* People and objects written in capitals in action text. A capitalised run is a person when it opens a sentence or
 * clause and is followed by "(" (an age), "," or a verb-like word, or when it follows a word like "to" or "and"; it
 * is an object when it follows "the", "a", "his" and the like, unless it names a kind of person ("a NURSE").
 * Anything else (sound effects, camera directions, shouting, "BOOM.") is left out rather than guessed. */
void builtin_capitalised_names(const char *action, const char *heading, struct tally *people, struct tally *props);

/* Aborts like util.c's allocators: a half-built result must never be cached as if complete. */
cJSON *builtin_must(cJSON *item);

void builtin_put_str(cJSON *o, const char *key, const char *value);

void builtin_put_int(cJSON *o, const char *key, long long value);

void builtin_push_str(cJSON *array, const char *value);

cJSON *builtin_put_array(cJSON *o, const char *key);

const char *builtin_json_str(const cJSON *o, const char *key);

/* "A", "A and B", "A, B and C", "A, B, C and 2 others". */
void builtin_add_names(struct buf *b, char *const *names, size_t n);

/* "At THE HARBOR at dawn, MARA and TEO are present." and its variants for a missing place, time or cast. */
void builtin_add_opening(struct buf *b, const struct fountain_scene *sc, const struct tally *people);

void builtin_add_sentence(struct buf *b, const char *sentence);

/* The key line as prose: white space runs made single, and a long line cut after its last whole sentence that fits
 * (else at a word, with "..."). */
void builtin_add_quote(struct buf *b, const char *speaker, const char *line);

/* The mood whose lexicon cues clearly dominate text, or "". */
const char *builtin_mood_of(const char *const *texts, size_t ntexts);

/* Splits dialogue into its non-empty lines, trimmed (each one still occurs verbatim in the dialogue). */
void builtin_dialogue_lines(const char *dialogue, struct lines *out);

/* Higher score first, then longer, then earlier. */
int builtin_cmp_ranked(const void *a, const void *b);

int builtin_cmp_size(const void *a, const void *b);

#endif
