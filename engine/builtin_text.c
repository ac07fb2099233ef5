/* builtin_text.c - the offline analyser's text toolkit: words and stop lists, term bags, tallies, sentences, tokens,
 * capitalised names, JSON helpers, and the feature-hashing embedding. */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <xxhash.h>

#include "builtin_int.h"

struct mood_word {
	const char *word;
	const char *mood;
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

/* Sorted for bsearch (byte order, as strcmp compares). */
static const char *const stop_words[] = {
	"a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
	"anything", "are", "aren't", "around", "as", "at", "away", "back", "be", "because", "been", "before",
	"being", "below", "between", "both", "but", "by", "can", "can't", "could", "did", "didn't", "do",
	"does", "doesn't", "doing", "don't", "down", "during", "each", "even", "ever", "few", "for", "from",
	"further", "get", "gets", "got", "had", "has", "hasn't", "have", "haven't", "having", "he", "her",
	"here", "here's", "hers", "herself", "hey", "him", "himself", "his", "how", "i", "i'll", "i'm",
	"if", "in", "into", "is", "isn't", "it", "it's", "its", "itself", "just", "let's", "like",
	"many", "me", "more", "most", "much", "my", "myself", "no", "nor", "not", "nothing", "now",
	"of", "off", "oh", "ok", "okay", "on", "once", "one", "only", "onto", "or", "other",
	"our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "something",
	"still", "such", "than", "that", "that's", "the", "their", "theirs", "them", "themselves", "then", "there",
	"there's", "these", "they", "they're", "thing", "things", "this", "those", "through", "to", "too", "under",
	"until", "up", "upon", "very", "was", "wasn't", "we", "we'll", "we're", "well", "were", "weren't",
	"what", "what's", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "won't",
	"would", "yeah", "yes", "you", "you'll", "you're", "your", "yours", "yourself", "yourselves",
};

/* Words after which an ALL-CAPS word is an object ("the LANTERN"), not a person. */
static const char *const determiners[] = {
	"a", "an", "another", "each", "every", "her", "his", "its", "my", "our", "some", "that", "the", "their",
	"these", "this", "those", "three", "two", "your",
};

/* Words after which an ALL-CAPS word is a person ("hands it to TEO"). */
static const char *const name_leads[] = {
	"and", "at", "behind", "beside", "by", "from", "like", "nor", "or", "than", "to", "toward", "towards", "with",
};

/* Screenplay vocabulary written in capitals that names nobody and nothing; a run holding one of these is skipped. */
static const char *const screen_words[] = {
	"angle", "back", "close", "cont'd", "continuous", "crane", "cut", "dissolve", "end", "establishing", "ext",
	"fade", "flashback", "fx", "hold", "insert", "int", "intercut", "later", "montage", "move", "ok", "pan", "pov",
	"reverse", "rush", "sfx", "shot", "shots", "super", "tilt", "title", "track", "vfx", "wide", "zoom",
};

/* Function words that mark a capitalised run as shouting ("THE DOOR SLAMS"), not a name. */
static const char *const shout_words[] = {
	"a", "an", "and", "in", "is", "it", "no", "not", "of", "on", "or", "the", "to", "we", "you",
};

/* Capitalised objects that are really sounds ("a LOUD CRASH"): not props; "-ing" words ("the SPLASHING") neither. */
static const char *const sound_words[] = {
	"applause", "bang", "beep", "blast", "boom", "buzz", "chime", "clang", "clatter", "click", "clink", "cough",
	"crack", "crash", "creak", "drum", "explosion", "flash", "gasp", "groan", "gunshot", "gunshots", "hiss", "honk",
	"honking", "knock", "laugh", "laughter", "music", "noise", "pop", "ring", "roar", "rumble", "scream", "screech",
	"shout", "sigh", "siren", "slam", "snap", "sound", "splash", "squeal", "thud", "thump", "thunder", "titter",
	"whirr", "whisper", "whistle", "whoosh", "yell",
};

/* Capitalised nouns after "a"/"the" that introduce people ("a NURSE", "an OLD WOMAN"), not objects. */
static const char *const person_nouns[] = {
	"agent", "agents", "attendant", "audience", "baby", "band", "bartender", "boss", "boy", "boys", "brother",
	"brothers", "captain", "cashier", "cast", "child", "children", "citizens", "clerk", "clown", "congregation",
	"cop", "cops", "couple", "crew", "crowd", "dancer", "dancers", "daughter", "doctor", "doctors", "driver",
	"emcee", "family", "farmer", "farmers", "father", "figure", "figures", "fisherman", "fishermen", "friend",
	"friends", "gentleman", "giant", "girl", "girls", "group", "guard", "guards", "guest", "guests", "husband",
	"janitor", "judge", "kid", "kids", "ladies", "lady", "leader", "maid", "man", "mayor", "men", "mob", "mother",
	"neighbor", "neighbors", "nurse", "nurses", "officer", "officers", "old-timer", "passenger", "passengers",
	"people", "pilot", "player", "players", "priest", "principal", "professor", "receptionist", "reporter",
	"reporters", "sailor", "sailors", "scout", "secretary", "silhouette", "singer", "sister", "sisters", "soldier",
	"soldiers", "son", "stewardess", "stranger", "student", "students", "teacher", "team", "teller", "townsfolk",
	"ventriloquist", "villagers", "waiter", "waitress", "well-wisher", "wife", "witch", "woman", "women", "worker",
	"workers",
};

/* Lower-case words that, right after a capitalised run opening a sentence, show it is someone acting ("MARA and",
 * "TEO who"); any word ending in "s" ("MARA hauls", "TEO is") counts too. */
static const char *const actor_follows[] = {"and", "can", "had", "just", "never", "then", "who", "will", "would"};

/* A small fixed lexicon: a mood is named only when its cues clearly outnumber the others'. */
static const struct mood_word mood_lexicon[] = {
	{"afraid", "tense"}, {"alarm", "tense"}, {"angry", "angry"}, {"argue", "angry"}, {"argues", "angry"},
	{"blood", "tense"}, {"buried", "somber"}, {"bury", "somber"}, {"calm", "calm"}, {"celebrate", "joyful"},
	{"cries", "somber"}, {"cry", "somber"}, {"curse", "angry"}, {"curses", "angry"}, {"dance", "joyful"},
	{"dances", "joyful"}, {"danger", "tense"}, {"dead", "somber"}, {"death", "somber"}, {"embrace", "tender"},
	{"embraces", "tender"}, {"fear", "tense"}, {"fury", "angry"}, {"gentle", "tender"}, {"gently", "tender"},
	{"grief", "somber"}, {"grin", "joyful"}, {"grins", "joyful"}, {"gun", "tense"}, {"hate", "angry"},
	{"hide", "tense"}, {"hides", "tense"}, {"hug", "tender"}, {"hugs", "tender"}, {"kiss", "tender"},
	{"kisses", "tender"}, {"knife", "tense"}, {"laugh", "joyful"}, {"laughs", "joyful"}, {"loss", "somber"},
	{"love", "tender"}, {"mourn", "somber"}, {"peaceful", "calm"}, {"quiet", "calm"}, {"quietly", "calm"},
	{"rage", "angry"}, {"run", "tense"}, {"runs", "tense"}, {"scream", "tense"}, {"screams", "tense"},
	{"shout", "angry"}, {"shouts", "angry"}, {"silence", "calm"}, {"slams", "angry"}, {"smile", "joyful"},
	{"smiles", "joyful"}, {"sob", "somber"}, {"sobs", "somber"}, {"storm", "tense"},
	{"tears", "somber"}, {"threat", "tense"}, {"trembles", "tense"}, {"weep", "somber"}, {"weeps", "somber"},
	{"yell", "angry"}, {"yells", "angry"},
};

static const char *const moods[] = {"angry", "calm", "joyful", "somber", "tender", "tense"};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool in_list(const char *word, const char *const *list, size_t n)
{
	return bsearch(&word, list, n, sizeof(*list), cmp_str) != NULL;
}

#define IN_LIST(word, list) in_list((word), (list), sizeof(list) / sizeof((list)[0]))

static bool is_word_byte(unsigned char c)
{
	return isalnum(c) || c >= 0x80;
}

static bool is_curly_apostrophe(const char *p, const char *end)
{
	return end - p >= 3 && (unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 && (unsigned char)p[2] == 0x99;
}

/* Copies the next word at or after *p into buf lower-cased (letters, digits, UTF-8, inner apostrophes with ’ read as
 * '); returns its length, 0 at the end. Words longer than MAX_WORD-1 bytes are cut. */
static size_t next_word(const char **p, const char *end, char buf[MAX_WORD])
{
	const char *s = *p;
	while (s < end && (!is_word_byte((unsigned char)*s) || is_curly_apostrophe(s, end)))
		s++;
	size_t n = 0;
	while (s < end) {
		size_t skip = 0;
		char c;
		if (is_curly_apostrophe(s, end)) {
			c = '\'';
			skip = 3;
		} else if (*s == '\'') {
			c = '\'';
			skip = 1;
		} else if (is_word_byte((unsigned char)*s)) {
			c = (char)tolower((unsigned char)*s);
			skip = 1;
		} else {
			break;
		}
		if (c == '\'' && (s + skip >= end || !is_word_byte((unsigned char)s[skip])))
			break;
		if (n < MAX_WORD - 1)
			buf[n++] = c;
		s += skip;
	}
	buf[n] = '\0';
	*p = s;
	return n;
}

/* A word that carries meaning: not a stop word, not a bare number; "teo's" counts as "teo". */
static bool content_term(char *word, size_t *len)
{
	if (*len >= 3 && strcmp(word + *len - 2, "'s") == 0)
		word[*len -= 2] = '\0';
	if (*len < 2 || IN_LIST(word, stop_words))
		return false;
	for (size_t i = 0; i < *len; i++)
		if (!isdigit((unsigned char)word[i]))
			return true;
	return false;
}

static void terms_add(struct terms *t, uint64_t h)
{
	t->h = xgrow(t->h, &t->cap, t->n + 1, sizeof(*t->h));
	t->h[t->n++] = h;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

void builtin_terms_sort(struct terms *t)
{
	if (t->n)
		qsort(t->h, t->n, sizeof(*t->h), cmp_u64);
}

/* Drops repeats of a sorted bag. */
void builtin_terms_unique(struct terms *t)
{
	size_t w = 0;
	for (size_t i = 0; i < t->n; i++)
		if (w == 0 || t->h[w - 1] != t->h[i])
			t->h[w++] = t->h[i];
	t->n = w;
}

/* Occurrences of h in a sorted bag. */
static size_t terms_count(const struct terms *t, uint64_t h)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->h[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t n = 0;
	while (lo + n < t->n && t->h[lo + n] == h)
		n++;
	return n;
}

/* Adds the content terms of text to t; returns the number of words (of any kind) seen. */
size_t builtin_add_terms(struct terms *t, const char *text)
{
	const char *p = text, *end = text + strlen(text);
	char w[MAX_WORD];
	size_t len, words = 0;
	while ((len = next_word(&p, end, w)) > 0) {
		words++;
		if (content_term(w, &len))
			terms_add(t, XXH3_64bits(w, len));
	}
	return words;
}

static size_t tally_find(const struct tally *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->name[i], name) == 0)
			return i;
	return t->n;
}

void builtin_tally_add(struct tally *t, const char *name, int inc)
{
	size_t i = tally_find(t, name);
	if (i < t->n) {
		t->count[i] += inc;
		return;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap;
		t->name = xgrow(t->name, &cap, t->n + 1, sizeof(*t->name));
		t->count = xgrow(t->count, &t->cap, t->n + 1, sizeof(*t->count));
	}
	t->name[t->n] = xstrdup(name);
	t->count[t->n++] = inc;
}

void builtin_tally_free(struct tally *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->name[i]);
	free(t->name);
	free(t->count);
}

/* Indexes of the at most max highest counts, ties to the earlier entry; returns how many were written to order. */
size_t builtin_tally_top(const struct tally *t, size_t max, size_t *order)
{
	size_t n = 0;
	bool *taken = xcalloc(t->n, sizeof(bool));
	while (n < max) {
		size_t best = t->n;
		for (size_t i = 0; i < t->n; i++)
			if (!taken[i] && (best == t->n || t->count[i] > t->count[best]))
				best = i;
		if (best == t->n)
			break;
		taken[best] = true;
		order[n++] = best;
	}
	free(taken);
	return n;
}

/* Whole-word, case-insensitive occurrence of name in text. */
static bool mentions(const char *text, const char *name)
{
	size_t n = strlen(name);
	if (!n)
		return false;
	for (const char *p = text; *p; p++) {
		if (p > text && is_word_byte((unsigned char)p[-1]))
			continue;
		if (strncasecmp(p, name, n) == 0 && !is_word_byte((unsigned char)p[n]))
			return true;
	}
	return false;
}

static void lines_push(struct lines *l, char *owned)
{
	l->v = xgrow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = owned;
}

void builtin_lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static bool ends_sentence(char c)
{
	return c == '.' || c == '!' || c == '?';
}

static bool is_emphasis(char c)
{
	return c == '*' || c == '_';
}

static bool is_closer(char c)
{
	return c == '"' || c == '\'' || c == ')' || c == ']' || is_emphasis(c) || ends_sentence(c);
}

static const char *const abbreviations[] = {"dr", "jr", "mr", "mrs", "ms", "mt", "prof", "sr", "st", "vs"};

/* True when the '.' at text[dot] closes an abbreviation or an initial ("Mr.", "J.") rather than a sentence. */
static bool abbreviation_dot(const char *text, size_t dot)
{
	size_t start = dot;
	while (start > 0 && isalpha((unsigned char)text[start - 1]))
		start--;
	size_t n = dot - start;
	if (n == 1 && isupper((unsigned char)text[start]))
		return true;
	char w[8];
	if (n == 0 || n >= sizeof(w))
		return false;
	for (size_t k = 0; k < n; k++)
		w[k] = (char)tolower((unsigned char)text[start + k]);
	w[n] = '\0';
	return IN_LIST(w, abbreviations);
}

static void flush_sentence(struct buf *b, struct lines *out)
{
	size_t len = b->len;
	while (len > 0 && b->data[len - 1] == ' ')
		len--;
	if (len > 0)
		lines_push(out, xstrndup(b->data, len));
	b->len = 0;
}

/* Splits action text into sentences: blank lines and sentence-final punctuation end one; line breaks inside a
 * paragraph become spaces; emphasis markers go, as the sentences are read as prose. */
void builtin_split_sentences(const char *text, struct lines *out)
{
	struct buf b = {0};
	size_t n = strlen(text);
	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		if (is_emphasis(c))
			continue;
		if (isspace((unsigned char)c)) {
			size_t j = i;
			int newlines = 0;
			while (j < n && isspace((unsigned char)text[j]))
				newlines += text[j++] == '\n';
			if (newlines >= 2)
				flush_sentence(&b, out);
			else if (b.len > 0)
				buf_add(&b, " ", 1);
			i = j - 1;
			continue;
		}
		buf_add(&b, &c, 1);
		if (!ends_sentence(c))
			continue;
		size_t dot = i, j = i + 1;
		for (; j < n && is_closer(text[j]); j++)
			if (!is_emphasis(text[j]))
				buf_add(&b, &text[j], 1);
		i = j - 1;
		if (j < n && !isspace((unsigned char)text[j]))
			continue;       /* "3.5", "e.g.x": not an end */
		size_t k = j;
		while (k < n && isspace((unsigned char)text[k]))
			k++;
		if (k < n && islower((unsigned char)text[k]))
			continue;       /* "... and then": the sentence goes on */
		if (c == '.' && j == dot + 1 && abbreviation_dot(text, dot))
			continue;
		flush_sentence(&b, out);
	}
	flush_sentence(&b, out);
	buf_free(&b);
}

/* Sum over the distinct content terms of text of their frequency in the scene (tf); *nterms gets their number and
 * *nwords the number of words of any kind. */
double builtin_term_weight(const char *text, const struct terms *tf, size_t *nterms, size_t *nwords)
{
	struct terms own = {0};
	*nwords = builtin_add_terms(&own, text);
	builtin_terms_sort(&own);
	builtin_terms_unique(&own);
	double sum = 0;
	for (size_t i = 0; i < own.n; i++)
		sum += (double)terms_count(tf, own.h[i]);
	*nterms = own.n;
	free(own.h);
	return sum;
}

/* Salience of an action sentence: its term weight damped by the number of terms so length alone does not win; a
 * bonus for naming someone present and for opening the scene, a penalty for fragments. */
double builtin_salience(const char *sentence, const struct terms *tf, const struct tally *present, bool first)
{
	size_t nterms, words;
	double sum = builtin_term_weight(sentence, tf, &nterms, &words);
	double score = nterms ? sum / sqrt((double)nterms + 1.0) : 0;
	if (words < 4)
		score *= 0.5;
	for (size_t i = 0; i < present->n; i++)
		if (mentions(sentence, present->name[i])) {
			score *= 1.5;
			break;
		}
	if (first)
		score *= 1.25;
	return score;
}

static bool is_token_byte(unsigned char c)
{
	return is_word_byte(c) || c == '\'' || c == '.' || c == '-' || c == '&';
}

static size_t tokenize(const char *text, struct token **out)
{
	size_t n = 0, cap = 0;
	struct token *t = NULL;
	const char *p = text;
	bool boundary = true;
	while (*p) {
		while (*p && !is_token_byte((unsigned char)*p)) {
			if (*p == ',' || *p == ';' || *p == ':' || ends_sentence(*p) || (p[0] == '\n' && p[1] == '\n'))
				boundary = true;
			p++;
		}
		if (!*p)
			break;
		t = xgrow(t, &cap, n + 1, sizeof(*t));
		struct token *k = &t[n++];
		k->start = p;
		while (*p && is_token_byte((unsigned char)*p))
			p++;
		size_t len = (size_t)(p - k->start);
		bool dot = false;
		while (len > 0 && strchr(".-'", k->start[len - 1])) {
			dot = dot || k->start[len - 1] == '.';
			len--;
		}
		k->len = len;
		size_t upper = 0;
		bool lower = false;
		for (size_t i = 0; i < len; i++) {
			upper += isupper((unsigned char)k->start[i]) != 0;
			lower = lower || islower((unsigned char)k->start[i]);
		}
		k->caps = upper >= 2 && !lower;
		k->boundary = boundary;
		const char *q = p;
		while (*q == ' ' || *q == '\t')
			q++;
		k->next = *q;
		k->closes = (dot && !abbreviation_dot(k->start, len)) || ends_sentence(*q) || (q[0] == '\n' && q[1] == '\n') ||
		            !*q;
		k->joined = !dot && p[0] == ' ' && is_token_byte((unsigned char)p[1]);
		boundary = k->closes;
	}
	*out = t;
	return n;
}

static void lower_word(const struct token *t, char w[MAX_WORD])
{
	size_t n = 0;
	for (size_t i = 0; i < t->len && n < MAX_WORD - 1; i++)
		w[n++] = (char)tolower((unsigned char)t->start[i]);
	w[n] = '\0';
}

/* True when run names someone already present, in full or by a longer form ("ELLIS VANCE" for VANCE). */
static bool known_person(const struct tally *people, const char *run)
{
	for (size_t i = 0; i < people->n; i++)
		if (mentions(run, people->name[i]))
			return true;
	return false;
}

/* People and objects written in capitals in action text. A capitalised run is a person when it opens a sentence or
 * clause and is followed by "(" (an age), "," or a verb-like word, or when it follows a word like "to" or "and"; it
 * is an object when it follows "the", "a", "his" and the like, unless it names a kind of person ("a NURSE").
 * Anything else (sound effects, camera directions, shouting, "BOOM.") is left out rather than guessed. */
void builtin_capitalised_names(const char *action, const char *heading, struct tally *people, struct tally *props)
{
	struct token *t;
	size_t n = tokenize(action, &t);
	for (size_t i = 0; i < n; i++) {
		if (!t[i].caps)
			continue;
		size_t j = i;
		while (t[j].joined && j + 1 < n && t[j + 1].caps)
			j++;
		size_t len = (size_t)(t[j].start + t[j].len - t[i].start);
		if (len >= 2 && strncmp(t[i].start + len - 2, "'S", 2) == 0)
			len -= 2;
		else if (len >= 4 && strncmp(t[i].start + len - 4, "\xE2\x80\x99S", 4) == 0)
			len -= 4;
		char *run = xstrndup(t[i].start, len);
		bool skip = (t[i].boundary && t[j].closes) || t[j].next == '!' || t[j].next == ':' ||
		            (t[j].joined && j + 1 < n && isdigit((unsigned char)t[j + 1].start[0])) ||
		            (heading && mentions(heading, run));
		bool sound = false, person = false;
		const char *r = run;
		char w[MAX_WORD];
		size_t wl = 0;
		while (!skip && (wl = next_word(&r, run + len, w)) > 0) {
			skip = wl == 1 || IN_LIST(w, shout_words) || IN_LIST(w, screen_words) || isdigit((unsigned char)w[0]);
			sound = sound || IN_LIST(w, sound_words);
			person = IN_LIST(w, person_nouns);    /* the last word decides */
			sound = sound || (wl > 4 && strcmp(w + wl - 3, "ing") == 0);
		}
		char prev[MAX_WORD] = "", next[MAX_WORD] = "";
		if (i > 0)
			lower_word(&t[i - 1], prev);
		if (j + 1 < n && t[j].next == t[j + 1].start[0])
			lower_word(&t[j + 1], next);
		size_t nl = strlen(next);
		bool acts = t[j].next == '(' || t[j].next == ',' || IN_LIST(next, actor_follows) ||
		            (nl > 1 && next[nl - 1] == 's' && islower((unsigned char)t[j + 1].start[0]));
		if (!skip && !sound && !t[i].boundary && IN_LIST(prev, determiners)) {
			if (person) {
				builtin_tally_add(people, run, 1);
			} else {
				for (char *c = run; *c; c++)
					*c = (char)tolower((unsigned char)*c);
				builtin_tally_add(props, run, 1);
			}
		} else if (!skip && !sound && ((t[i].boundary && acts) || IN_LIST(prev, name_leads)) &&
		           !known_person(people, run)) {
			builtin_tally_add(people, run, 1);
		}
		free(run);
		i = j;
	}
	free(t);
}

/* Aborts like util.c's allocators: a half-built result must never be cached as if complete. */
cJSON *builtin_must(cJSON *item)
{
	if (!item)
		out_of_memory();
	return item;
}

void builtin_put_str(cJSON *o, const char *key, const char *value)
{
	builtin_must(cJSON_AddStringToObject(o, key, value ? value : ""));
}

void builtin_put_int(cJSON *o, const char *key, long long value)
{
	builtin_must(cJSON_AddNumberToObject(o, key, (double)value));
}

void builtin_push_str(cJSON *array, const char *value)
{
	cJSON_AddItemToArray(array, builtin_must(cJSON_CreateString(value ? value : "")));
}

cJSON *builtin_put_array(cJSON *o, const char *key)
{
	return builtin_must(cJSON_AddArrayToObject(o, key));
}

const char *builtin_json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* "A", "A and B", "A, B and C", "A, B, C and 2 others". */
void builtin_add_names(struct buf *b, char *const *names, size_t n)
{
	size_t shown = n > 4 ? 3 : n;
	for (size_t i = 0; i < shown; i++) {
		if (i > 0)
			buf_puts(b, i + 1 == n ? " and " : ", ");
		buf_puts(b, names[i]);
	}
	if (shown < n)
		buf_printf(b, " and %zu others", n - shown);
}

static const struct time_phrase time_phrases[] = {
	{"AFTERNOON", "in the afternoon"}, {"DAWN", "at dawn"}, {"DAY", "by day"}, {"DUSK", "at dusk"},
	{"EVENING", "in the evening"}, {"MIDNIGHT", "at midnight"}, {"MORNING", "in the morning"},
	{"NIGHT", "at night"}, {"NOON", "at noon"}, {"SUNRISE", "at sunrise"}, {"SUNSET", "at sunset"},
};

/* Writes time as prose ("at night", "at night (1973)") into out; false when the time is not a plain time of day. */
static bool time_phrase(const char *time, struct buf *out)
{
	if (!time)
		return false;
	size_t word = strcspn(time, " ([");
	const char *rest = time + word;
	while (*rest == ' ')
		rest++;
	if (*rest && *rest != '(' && *rest != '[')
		return false;
	for (size_t i = 0; i < sizeof(time_phrases) / sizeof(time_phrases[0]); i++) {
		if (strlen(time_phrases[i].time) == word && strncasecmp(time, time_phrases[i].time, word) == 0) {
			buf_puts(out, time_phrases[i].phrase);
			if (*rest)
				buf_printf(out, " %s", rest);
			return true;
		}
	}
	return false;
}

/* "At THE HARBOR at dawn, MARA and TEO are present." and its variants for a missing place, time or cast. */
void builtin_add_opening(struct buf *b, const struct fountain_scene *sc, const struct tally *people)
{
	const char *place = sc->location && *sc->location ? sc->location : NULL;
	struct buf when = {0}, where = {0};
	bool known = time_phrase(sc->time, &when);
	if (place) {
		buf_printf(&where, "at %s", place);
		if (known)
			buf_printf(&where, " %s", when.data);
		else if (sc->time && *sc->time)
			buf_printf(&where, " (%s)", sc->time);
	} else if (known) {
		buf_puts(&where, when.data);
	}
	if (people->n) {
		if (where.len) {
			where.data[0] = (char)toupper((unsigned char)where.data[0]);
			buf_printf(b, "%s, ", where.data);
		}
		builtin_add_names(b, people->name, people->n);
		buf_puts(b, people->n == 1 ? " is present." : " are present.");
	} else if (where.len) {
		buf_printf(b, "The scene is set %s; no one speaks.", where.data);
	} else {
		buf_puts(b, "No one speaks in this scene.");
	}
	buf_free(&when);
	buf_free(&where);
}

void builtin_add_sentence(struct buf *b, const char *sentence)
{
	if (b->len)
		buf_puts(b, " ");
	buf_puts(b, sentence);
	size_t n = strlen(sentence);
	if (n && !is_closer(sentence[n - 1]))
		buf_puts(b, ".");
}

/* The key line as prose: white space runs made single, and a long line cut after its last whole sentence that fits
 * (else at a word, with "..."). */
void builtin_add_quote(struct buf *b, const char *speaker, const char *line)
{
	struct buf q = {0};
	for (const char *p = line; *p; p++)
		if (!isspace((unsigned char)*p) || (q.len && !isspace((unsigned char)p[1]) && p[1]))
			buf_add(&q, isspace((unsigned char)*p) ? " " : p, 1);
	size_t n = q.len;
	const char *ellipsis = "";
	if (n > KEY_LINE_PROSE_MAX) {
		size_t cut = 0, word = 0;
		for (size_t i = 1; i < KEY_LINE_PROSE_MAX; i++) {
			if (q.data[i] != ' ')
				continue;
			word = i;
			if (ends_sentence(q.data[i - 1]))
				cut = i;
		}
		n = cut ? cut : word ? word : KEY_LINE_PROSE_MAX;
		ellipsis = cut ? "" : "...";
	}
	buf_printf(b, "%s%s says, \"%.*s%s\"", b->len ? " " : "", speaker, (int)n, q.len ? q.data : "", ellipsis);
	buf_free(&q);
}

static int cmp_mood(const void *key, const void *elem)
{
	return strcmp((const char *)key, ((const struct mood_word *)elem)->word);
}

/* The mood whose lexicon cues clearly dominate text, or "". */
const char *builtin_mood_of(const char *const *texts, size_t ntexts)
{
	int count[sizeof(moods) / sizeof(moods[0])] = {0};
	char w[MAX_WORD];
	for (size_t t = 0; t < ntexts; t++) {
		const char *p = texts[t], *end = p + strlen(p);
		while (next_word(&p, end, w) > 0) {
			const struct mood_word *m = bsearch(w, mood_lexicon, sizeof(mood_lexicon) / sizeof(mood_lexicon[0]),
			                                    sizeof(mood_lexicon[0]), cmp_mood);
			for (size_t i = 0; m && i < sizeof(moods) / sizeof(moods[0]); i++)
				count[i] += strcmp(moods[i], m->mood) == 0;
		}
	}
	size_t best = 0;
	bool tie = false;
	for (size_t i = 1; i < sizeof(moods) / sizeof(moods[0]); i++) {
		if (count[i] > count[best]) {
			best = i;
			tie = false;
		} else if (count[i] == count[best]) {
			tie = true;
		}
	}
	return count[best] >= 2 && !tie ? moods[best] : "";
}

/* Splits dialogue into its non-empty lines, trimmed (each one still occurs verbatim in the dialogue). */
void builtin_dialogue_lines(const char *dialogue, struct lines *out)
{
	const char *p = dialogue;
	while (p && *p) {
		const char *e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		const char *a = p, *z = e;
		while (a < z && isspace((unsigned char)*a))
			a++;
		while (z > a && isspace((unsigned char)z[-1]))
			z--;
		if (z > a)
			lines_push(out, xstrndup(a, (size_t)(z - a)));
		p = *e ? e + 1 : e;
	}
}

/* Higher score first, then longer, then earlier. */
int builtin_cmp_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

int builtin_cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

/* Adds a term's hash, or a bigram's (the second word's hash seeded by the first's, so "a b" differs from "b a"). */
void builtin_embed(const char *text, size_t dims, float *out)
{
	if (!dims)
		return;
	struct terms t = {0};
	const char *p = text ? text : "", *end = p + strlen(p);
	char w[MAX_WORD];
	size_t len;
	uint64_t prev = 0;
	bool have_prev = false;
	while ((len = next_word(&p, end, w)) > 0) {
		uint64_t h = XXH3_64bits(w, len);
		terms_add(&t, h);
		if (have_prev)
			terms_add(&t, XXH3_64bits_withSeed(w, len, prev));
		prev = h;
		have_prev = true;
	}
	builtin_terms_sort(&t);
	double *acc = xcalloc(dims, sizeof(double));
	/* Summing in hash order makes the result independent of word order within equal counts. */
	for (size_t i = 0; i < t.n;) {
		size_t run = 1;
		while (i + run < t.n && t.h[i + run] == t.h[i])
			run++;
		double weight = 1.0 + log((double)run);
		acc[t.h[i] % dims] += (t.h[i] >> 63) ? -weight : weight;
		i += run;
	}
	double norm = 0;
	for (size_t i = 0; i < dims; i++)
		norm += acc[i] * acc[i];
	double scale = norm > 0 ? 1.0 / sqrt(norm) : 0;
	for (size_t i = 0; i < dims; i++)
		out[i] = (float)(acc[i] * scale);
	free(acc);
	free(t.h);
}
