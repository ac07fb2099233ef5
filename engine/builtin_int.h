/* builtin_int.h - what the offline analyser's files share: the text toolkit (words, term bags, tallies, sentences,
 * tokens, capitalised names, JSON helpers) that builtin_summary.c, builtin_outline.c and builtin_sheet.c build on.
 * Private to engine/builtin*.c, as SQLite's sqliteInt.h is to its files. */
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
#define IN_LIST(word, list) in_list((word), (list), sizeof(list) / sizeof((list)[0]))

struct mood_word {
	const char *word;
	const char *mood;
};

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

/* One word-like token of action text, for telling capitalised people from capitalised objects. */
struct token {
	const char *start;
	size_t len;            /* without trailing '.', '-', apostrophes */
	bool caps;             /* two or more capitals and no lower-case letter */
	bool boundary;         /* starts a paragraph, sentence or clause */
	bool closes;           /* a sentence ends right after it */
	bool joined;           /* exactly one space separates it from the next token */
	char next;             /* first non-blank character after it, '\0' at the end */
};

struct time_phrase {
	const char *time;
	const char *phrase;
};

struct ranked {
	size_t index;
	double score;
	size_t len;
};

int cmp_str(const void *a, const void *b);

bool in_list(const char *word, const char *const *list, size_t n);

bool is_word_byte(unsigned char c);

bool is_curly_apostrophe(const char *p, const char *end);

/* Copies the next word at or after *p into buf lower-cased (letters, digits, UTF-8, inner apostrophes with ’ read as
 * '); returns its length, 0 at the end. Words longer than MAX_WORD-1 bytes are cut. */
size_t next_word(const char **p, const char *end, char buf[MAX_WORD]);

/* A word that carries meaning: not a stop word, not a bare number; "teo's" counts as "teo". */
bool content_term(char *word, size_t *len);

void terms_add(struct terms *t, uint64_t h);

int cmp_u64(const void *a, const void *b);

void terms_sort(struct terms *t);

/* Drops repeats of a sorted bag. */
void terms_unique(struct terms *t);

/* Occurrences of h in a sorted bag. */
size_t terms_count(const struct terms *t, uint64_t h);

/* Adds the content terms of text to t; returns the number of words (of any kind) seen. */
size_t add_terms(struct terms *t, const char *text);

size_t tally_find(const struct tally *t, const char *name);

void tally_add(struct tally *t, const char *name, int inc);

void tally_free(struct tally *t);

/* Indexes of the at most max highest counts, ties to the earlier entry; returns how many were written to order. */
size_t tally_top(const struct tally *t, size_t max, size_t *order);

/* Whole-word, case-insensitive occurrence of name in text. */
bool mentions(const char *text, const char *name);

void lines_push(struct lines *l, char *owned);

void lines_free(struct lines *l);

bool ends_sentence(char c);

bool is_emphasis(char c);

bool is_closer(char c);

/* True when the '.' at text[dot] closes an abbreviation or an initial ("Mr.", "J.") rather than a sentence. */
bool abbreviation_dot(const char *text, size_t dot);

void flush_sentence(struct buf *b, struct lines *out);

/* Splits action text into sentences: blank lines and sentence-final punctuation end one; line breaks inside a
 * paragraph become spaces; emphasis markers go, as the sentences are read as prose. */
void split_sentences(const char *text, struct lines *out);

/* Sum over the distinct content terms of text of their frequency in the scene (tf); *nterms gets their number and
 * *nwords the number of words of any kind. */
double term_weight(const char *text, const struct terms *tf, size_t *nterms, size_t *nwords);

/* Salience of an action sentence: its term weight damped by the number of terms so length alone does not win; a
 * bonus for naming someone present and for opening the scene, a penalty for fragments. */
double salience(const char *sentence, const struct terms *tf, const struct tally *present, bool first);

bool is_token_byte(unsigned char c);

size_t tokenize(const char *text, struct token **out);

void lower_word(const struct token *t, char w[MAX_WORD]);

/* True when run names someone already present, in full or by a longer form ("ELLIS VANCE" for VANCE). */
bool known_person(const struct tally *people, const char *run);

/* People and objects written in capitals in action text. A capitalised run is a person when it opens a sentence or
 * clause and is followed by "(" (an age), "," or a verb-like word, or when it follows a word like "to" or "and"; it
 * is an object when it follows "the", "a", "his" and the like, unless it names a kind of person ("a NURSE").
 * Anything else (sound effects, camera directions, shouting, "BOOM.") is left out rather than guessed. */
void capitalised_names(const char *action, const char *heading, struct tally *people, struct tally *props);

/* Aborts like util.c's allocators: a half-built result must never be cached as if complete. */
cJSON *must(cJSON *item);

void put_str(cJSON *o, const char *key, const char *value);

void put_int(cJSON *o, const char *key, long long value);

void push_str(cJSON *array, const char *value);

cJSON *put_array(cJSON *o, const char *key);

const char *json_str(const cJSON *o, const char *key);

/* "A", "A and B", "A, B and C", "A, B, C and 2 others". */
void add_names(struct buf *b, char *const *names, size_t n);

/* Writes time as prose ("at night", "at night (1973)") into out; false when the time is not a plain time of day. */
bool time_phrase(const char *time, struct buf *out);

/* "At THE HARBOR at dawn, MARA and TEO are present." and its variants for a missing place, time or cast. */
void add_opening(struct buf *b, const struct fountain_scene *sc, const struct tally *people);

void add_sentence(struct buf *b, const char *sentence);

/* The key line as prose: white space runs made single, and a long line cut after its last whole sentence that fits
 * (else at a word, with "..."). */
void add_quote(struct buf *b, const char *speaker, const char *line);

int cmp_mood(const void *key, const void *elem);

/* The mood whose lexicon cues clearly dominate text, or "". */
const char *mood_of(const char *const *texts, size_t ntexts);

/* Splits dialogue into its non-empty lines, trimmed (each one still occurs verbatim in the dialogue). */
void dialogue_lines(const char *dialogue, struct lines *out);

/* Higher score first, then longer, then earlier. */
int cmp_ranked(const void *a, const void *b);

int cmp_size(const void *a, const void *b);

#endif
