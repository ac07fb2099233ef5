/* breakdown.c - what production people read first, computed from the parse: heading parts, page length in eighths,
 * cast per scene, per-character facts. No model is asked for any of it. */
#include "breakdown.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- printed length ---- */

int breakdown_wrapped_lines(const char *s, size_t n, int width)
{
	size_t w = width > 0 ? (size_t)width : 1;
	size_t lines = 1, col = 0, i = 0;
	while (i < n) {
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i >= n)
			break;
		size_t word = 0;
		for (; i < n && s[i] != ' ' && s[i] != '\t'; i++)
			word += ((unsigned char)s[i] & 0xC0) != 0x80;
		if (col && col + 1 + word <= w) {
			col += 1 + word;
			continue;
		}
		if (col)
			lines++;
		/* A word wider than the line is broken across lines, as a typewriter would. */
		lines += (word - 1) / w;
		col = word - (word - 1) / w * w;
	}
	return lines > INT32_MAX ? INT32_MAX : (int)lines;
}

/* ---- headings ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Length of a dash separator (space, dashes or an en/em dash, space) at s[i], or 0. */
static size_t dash_separator(const char *s, size_t n, size_t i)
{
	if (i >= n || !is_space(s[i]))
		return 0;
	size_t k = i + 1, dashes = 0;
	for (;;) {
		if (k < n && s[k] == '-') {
			k++;
			dashes++;
		} else if (k + 2 < n && (unsigned char)s[k] == 0xE2 && (unsigned char)s[k + 1] == 0x80 &&
		           ((unsigned char)s[k + 2] == 0x93 || (unsigned char)s[k + 2] == 0x94)) {
			k += 3;
			dashes++;
		} else {
			break;
		}
	}
	return dashes && k < n && is_space(s[k]) ? k + 1 - i : 0;
}

static void trim_span(const char **s, size_t *n)
{
	while (*n && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

void breakdown_split_heading(const char *rest, size_t n, bool prefixed, char *work, char *notes,
                             struct heading_parts *out)
{
	memset(out, 0, sizeof *out);
	/* Parenthesised parts ("(1985)", "(FLASHBACK)") are notes, not location or time; runs of white space become
	 * one space. An unclosed parenthesis is plain text. */
	size_t w = 0, nn = 0;
	for (size_t i = 0; i < n; i++) {
		if (rest[i] == '(') {
			const char *close = memchr(rest + i, ')', n - i);
			if (close) {
				const char *t = rest + i + 1;
				size_t k = (size_t)(close - t);
				trim_span(&t, &k);
				if (k) {
					if (nn) {
						memcpy(notes + nn, "; ", 2);
						nn += 2;
					}
					memcpy(notes + nn, t, k);
					nn += k;
				}
				i = (size_t)(close - rest);
				if (w && !is_space(work[w - 1]))
					work[w++] = ' ';
				continue;
			}
		}
		if (is_space(rest[i]) && (w == 0 || is_space(work[w - 1])))
			continue;
		work[w++] = is_space(rest[i]) ? ' ' : rest[i];
	}
	while (w && is_space(work[w - 1]))
		w--;
	work[w] = '\0';
	notes[nn] = '\0';
	out->note = notes;
	out->nnote = nn;
	out->location = work;
	out->nlocation = w;

	/* The time follows the last dash separator; after a later comma only when that names a known time
	 * ("SAN FRANCISCO APARTMENT, DAY"), since a comma also separates a place from its town. */
	size_t dash_at = 0, dash_len = 0, comma_at = 0;
	for (size_t i = 0; i < w; i++) {
		size_t len = dash_separator(work, w, i);
		if (len) {
			dash_at = i;
			dash_len = len;
			i += len - 1;
		} else if (work[i] == ',' && i + 1 < w && work[i + 1] == ' ') {
			comma_at = i;
		}
	}
	if (comma_at > dash_at) {
		const char *t = work + comma_at + 2;
		size_t k = w - comma_at - 2;
		trim_span(&t, &k);
		if (k && breakdown_time_of_day(t, k) != FOUNTAIN_TIME_OTHER) {
			out->time = t;
			out->ntime = k;
			out->nlocation = comma_at;
			return;
		}
	}
	if (!dash_len) {
		/* "INT HOUSE DAY": no separator, but a last word that is a known time is one. */
		size_t last = w;
		while (last && work[last - 1] != ' ')
			last--;
		if (last && breakdown_time_of_day(work + last, w - last) != FOUNTAIN_TIME_OTHER) {
			out->time = work + last;
			out->ntime = w - last;
			out->nlocation = last - 1;
		}
	} else {
		/* ".FLASHBACK - THE OLD SCHOOL" is a place and a place, not a place and a time. */
		const char *t = work + dash_at + dash_len;
		size_t k = w - dash_at - dash_len;
		trim_span(&t, &k);
		if (prefixed || breakdown_time_of_day(t, k) != FOUNTAIN_TIME_OTHER) {
			out->time = k ? t : NULL;
			out->ntime = k;
			out->nlocation = dash_at;
		}
	}
	const char *loc = out->location;
	trim_span(&loc, &out->nlocation);
	out->location = loc;
}

static const struct {
	const char *word;
	enum fountain_time time;
} time_words[] = {
	/* In priority order: "LATER THAT NIGHT" is NIGHT, "EARLY MORNING" MORNING. */
	{"DAWN", FOUNTAIN_TIME_DAWN},           {"SUNRISE", FOUNTAIN_TIME_DAWN},     {"DAYBREAK", FOUNTAIN_TIME_DAWN},
	{"DUSK", FOUNTAIN_TIME_DUSK},           {"SUNSET", FOUNTAIN_TIME_DUSK},      {"TWILIGHT", FOUNTAIN_TIME_DUSK},
	{"MAGIC", FOUNTAIN_TIME_DUSK},  /* magic hour */
	{"MORNING", FOUNTAIN_TIME_MORNING},     {"AFTERNOON", FOUNTAIN_TIME_AFTERNOON},
	{"NOON", FOUNTAIN_TIME_AFTERNOON},      {"MIDDAY", FOUNTAIN_TIME_AFTERNOON}, {"EVENING", FOUNTAIN_TIME_EVENING},
	{"NIGHT", FOUNTAIN_TIME_NIGHT},         {"NIGHTTIME", FOUNTAIN_TIME_NIGHT},  {"MIDNIGHT", FOUNTAIN_TIME_NIGHT},
	{"DAY", FOUNTAIN_TIME_DAY},             {"DAYTIME", FOUNTAIN_TIME_DAY},      {"CONTINUOUS", FOUNTAIN_TIME_CONTINUOUS},
	{"CONT'D", FOUNTAIN_TIME_CONTINUOUS},   {"CONT", FOUNTAIN_TIME_CONTINUOUS},  {"CONTINUED", FOUNTAIN_TIME_CONTINUOUS},
	{"SAME", FOUNTAIN_TIME_SAME},
	{"LATER", FOUNTAIN_TIME_LATER},
};

enum fountain_time breakdown_time_of_day(const char *time, size_t n)
{
	if (!time || n == 0)
		return FOUNTAIN_TIME_NONE;
	size_t best = sizeof time_words / sizeof *time_words;
	size_t i = 0;
	while (i < n) {
		while (i < n && !((time[i] | 0x20) >= 'a' && (time[i] | 0x20) <= 'z'))
			i++;
		size_t start = i;
		while (i < n && (((time[i] | 0x20) >= 'a' && (time[i] | 0x20) <= 'z') || time[i] == '\''))
			i++;
		for (size_t k = 0; k < best; k++) {
			if (strlen(time_words[k].word) == i - start && strncasecmp(time + start, time_words[k].word, i - start) == 0) {
				best = k;
				break;
			}
		}
	}
	return best < sizeof time_words / sizeof *time_words ? time_words[best].time : FOUNTAIN_TIME_OTHER;
}

const char *fountain_time_name(enum fountain_time t)
{
	static const char *const names[] = {
		[FOUNTAIN_TIME_DAY] = "DAY",         [FOUNTAIN_TIME_NIGHT] = "NIGHT",
		[FOUNTAIN_TIME_DAWN] = "DAWN",       [FOUNTAIN_TIME_DUSK] = "DUSK",
		[FOUNTAIN_TIME_MORNING] = "MORNING", [FOUNTAIN_TIME_AFTERNOON] = "AFTERNOON",
		[FOUNTAIN_TIME_EVENING] = "EVENING", [FOUNTAIN_TIME_CONTINUOUS] = "CONTINUOUS",
		[FOUNTAIN_TIME_LATER] = "LATER",     [FOUNTAIN_TIME_SAME] = "SAME",
		[FOUNTAIN_TIME_OTHER] = "OTHER",
	};
	return (unsigned)t < sizeof names / sizeof *names ? names[t] : NULL;
}

/* ---- eighths ---- */

struct share {
	size_t scene;
	int64_t remainder;    /* 8 * lines - 55 * eighths: how far the scene's eighths fall short of its exact length */
};

static int more_short(const void *a, const void *b)
{
	const struct share *x = a, *y = b;
	if (x->remainder != y->remainder)
		return x->remainder > y->remainder ? -1 : 1;
	return (x->scene > y->scene) - (x->scene < y->scene);
}

/* Each scene gets floor(8 * lines / 55) eighths but at least one; the script gets round(8 * all lines / 55) but at
 * least one per scene; the difference goes, an eighth at a time, to the scenes that fell shortest (largest
 * remainder), or is taken from the scenes that got the most beyond their length, so the scenes sum to the script. */
static int eighths(struct fountain_script *s)
{
	int64_t lines = 0, sum = 0;
	for (size_t i = 0; i < s->nscenes; i++)
		lines += s->scenes[i].printed_lines;
	int64_t total = (lines * 8 + PRINT_LINES_PER_PAGE / 2) / PRINT_LINES_PER_PAGE;
	if (total < (int64_t)s->nscenes)
		total = (int64_t)s->nscenes;
	struct share *order = malloc((s->nscenes ? s->nscenes : 1) * sizeof *order);
	if (!order)
		return -1;
	for (size_t i = 0; i < s->nscenes; i++) {
		int64_t e = (int64_t)s->scenes[i].printed_lines * 8 / PRINT_LINES_PER_PAGE;
		s->scenes[i].eighths = e < 1 ? 1 : (int)e;
		sum += s->scenes[i].eighths;
		int64_t own = ((int64_t)s->scenes[i].printed_lines * 8 + PRINT_LINES_PER_PAGE / 2) / PRINT_LINES_PER_PAGE;
		s->scenes[i].own_eighths = own < 1 ? 1 : own > INT32_MAX ? INT32_MAX : (int)own;
	}
	while (sum != total) {
		for (size_t i = 0; i < s->nscenes; i++)
			order[i] = (struct share){i, (int64_t)s->scenes[i].printed_lines * 8 -
			                                 (int64_t)s->scenes[i].eighths * PRINT_LINES_PER_PAGE};
		qsort(order, s->nscenes, sizeof *order, more_short);
		if (sum < total) {
			for (size_t k = 0; k < s->nscenes && sum < total; k++, sum++)
				s->scenes[order[k].scene].eighths++;
		} else {
			for (size_t k = s->nscenes; k-- > 0 && sum > total;) {
				struct fountain_scene *sc = &s->scenes[order[k].scene];
				if (sc->eighths > 1) {
					sc->eighths--;
					sum--;
				}
			}
		}
	}
	free(order);
	s->eighths = total > INT32_MAX ? INT32_MAX : (int)total;
	return 0;
}

/* ---- cast ---- */

static size_t count_words(const char *s)
{
	size_t words = 0;
	bool in_word = false;
	for (; *s; s++) {
		bool space = *s == ' ' || *s == '\t' || *s == '\n' || *s == '\f' || *s == '\v';
		words += !space && !in_word;
		in_word = !space;
	}
	return words;
}

/* Strips what may stick to a name in prose: punctuation around it, a possessive 's. */
static void strip_name(char *t, size_t *n)
{
	static const char trailing[] = ",.!?;:)\"'";
	while (*n && strchr(trailing, t[*n - 1]))
		(*n)--;
	if (*n > 2 && (t[*n - 1] == 'S' || t[*n - 1] == 's') && t[*n - 2] == '\'')
		*n -= 2;
	else if (*n > 4 && (t[*n - 1] == 'S' || t[*n - 1] == 's') && memcmp(t + *n - 4, "\xE2\x80\x99", 3) == 0)
		*n -= 4;
	t[*n] = '\0';
}

/* The character named by the words starting at action[i] (longest of up to four words first), written in the
 * capitals of its cue; *next is where the words after it start. */
static const struct fountain_character *name_at(const struct fountain_script *s, const char *a, size_t i,
                                                const bool *starts, char *scratch, size_t *next)
{
	size_t ends[4], nw = 0, k = i;
	while (nw < 4 && a[k] && a[k] != '\n') {
		if (a[k] == '(' || a[k] == '"')
			break;
		while (a[k] && !is_space(a[k]) && a[k] != '\n')
			k++;
		ends[nw++] = k;
		while (is_space(a[k]))
			k++;
	}
	/* Most words of prose start with a byte no name starts with: no lookup can find them. */
	for (size_t w = starts[(unsigned char)a[i]] ? nw : 0; w-- > 0;) {
		size_t n = 0;
		for (size_t j = i; j < ends[w]; j++)
			scratch[n++] = is_space(a[j]) ? ' ' : a[j];
		for (int strip = 0; strip < 2; strip++) {
			size_t m = n;
			if (strip)
				strip_name(scratch, &m);
			else
				scratch[m] = '\0';
			const struct fountain_character *c = m ? fountain_find_character(s, scratch) : NULL;
			if (c) {
				*next = ends[w];
				return c;
			}
		}
	}
	*next = nw ? ends[0] : k + 1;
	return NULL;
}

struct scene_tally {
	size_t *last_seen;    /* per character: 1 + position of the scene where it was last put in a cast */
	bool starts[256];     /* the first bytes of the characters' names */
	struct fountain_cast *cast;
	size_t ncast, cap;
};

static int cast_push(struct scene_tally *t, const struct fountain_cast *c)
{
	if (t->ncast == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		struct fountain_cast *grown = realloc(t->cast, cap * sizeof *grown);
		if (!grown)
			return -1;
		t->cast = grown;
		t->cap = cap;
	}
	t->cast[t->ncast++] = *c;
	return 0;
}

/* The scene's cast into t->cast: speakers with their counts, then characters named in capitals in the action. */
static int scene_cast(const struct fountain_script *s, size_t pos, struct scene_tally *t, char *scratch)
{
	const struct fountain_scene *sc = &s->scenes[pos];
	t->ncast = 0;
	for (size_t k = 0; k < sc->ncharacters; k++) {
		const struct fountain_character *c = fountain_find_character(s, sc->characters[k]);
		struct fountain_cast m = {c->name, true, 0, 0};
		for (size_t q = 0; q < sc->ncues; q++) {
			if (sc->cues[q].name == c->name) {
				m.cues++;
				m.words += sc->cues[q].words;
			}
		}
		t->last_seen[c - s->characters] = pos + 1;
		if (cast_push(t, &m) < 0)
			return -1;
	}
	const char *a = sc->action;
	size_t i = 0;
	while (a[i]) {
		if (is_space(a[i]) || a[i] == '\n') {
			i++;
			continue;
		}
		size_t next;
		const struct fountain_character *c = name_at(s, a, i, t->starts, scratch, &next);
		if (c && t->last_seen[c - s->characters] != pos + 1) {
			t->last_seen[c - s->characters] = pos + 1;
			struct fountain_cast m = {c->name, false, 0, 0};
			if (cast_push(t, &m) < 0)
				return -1;
		}
		i = next > i ? next : i + 1;
		while (a[i] && !is_space(a[i]) && a[i] != '\n')
			i++;
	}
	return 0;
}

/* ---- characters ---- */

struct pair {
	size_t other;
	size_t scenes;
};

static const struct fountain_script *sort_script;  /* qsort has no context: the comparison needs the names */

static int more_together(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	if (x->scenes != y->scenes)
		return x->scenes > y->scenes ? -1 : 1;
	return strcmp(sort_script->characters[x->other].name, sort_script->characters[y->other].name);
}

static size_t character_at(const struct fountain_script *s, const char *name)
{
	return (size_t)(fountain_find_character(s, name) - s->characters);
}

/* Each character's co-presence: the other characters in the casts of its scenes (crowd scenes aside). Costs the sum
 * of the squares of the casts, which BREAKDOWN_CROWD bounds. */
static int copresence(struct fountain_script *s, const struct breakdown_arena *arena)
{
	size_t nc = s->ncharacters, total = 0;
	size_t *start = calloc(nc + 1, sizeof *start);
	size_t *count = calloc(nc ? nc : 1, sizeof *count);
	size_t *touched = malloc((nc ? nc : 1) * sizeof *touched);
	struct pair *pairs = malloc((nc ? nc : 1) * sizeof *pairs);
	int rc = start && count && touched && pairs ? 0 : -1;
	/* The scenes (positions) where each character is in a cast, as one array cut by start[]. */
	for (size_t i = 0; rc == 0 && i < s->nscenes; i++)
		if (s->scenes[i].ncast <= BREAKDOWN_CROWD)
			for (size_t k = 0; k < s->scenes[i].ncast; k++, total++)
				start[character_at(s, s->scenes[i].cast[k].name) + 1]++;
	for (size_t c = 0; rc == 0 && c < nc; c++)
		start[c + 1] += start[c];
	size_t *where = malloc((total ? total : 1) * sizeof *where);
	size_t *fill = calloc(nc ? nc : 1, sizeof *fill);
	if (!where || !fill)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < s->nscenes; i++)
		if (s->scenes[i].ncast <= BREAKDOWN_CROWD)
			for (size_t k = 0; k < s->scenes[i].ncast; k++) {
				size_t c = character_at(s, s->scenes[i].cast[k].name);
				where[start[c] + fill[c]++] = i;
			}
	for (size_t c = 0; rc == 0 && c < nc; c++) {
		struct fountain_character *ch = &s->characters[c];
		size_t ntouched = 0;
		for (size_t w = start[c]; w < start[c + 1]; w++) {
			const struct fountain_scene *sc = &s->scenes[where[w]];
			for (size_t k = 0; k < sc->ncast; k++) {
				size_t oi = character_at(s, sc->cast[k].name);
				if (oi != c && count[oi]++ == 0)
					touched[ntouched++] = oi;
			}
		}
		for (size_t k = 0; k < ntouched; k++) {
			pairs[k] = (struct pair){touched[k], count[touched[k]]};
			count[touched[k]] = 0;
		}
		sort_script = s;
		qsort(pairs, ntouched, sizeof *pairs, more_together);
		ch->ntogether = ntouched < BREAKDOWN_TOGETHER_MAX ? ntouched : BREAKDOWN_TOGETHER_MAX;
		ch->together = ch->ntogether ? arena->alloc(arena->ctx, ch->ntogether * sizeof *ch->together) : NULL;
		if (ch->ntogether && !ch->together)
			rc = -1;
		for (size_t k = 0; rc == 0 && k < ch->ntogether; k++)
			ch->together[k] = (struct fountain_copresence){s->characters[pairs[k].other].name, pairs[k].scenes};
	}
	free(start);
	free(count);
	free(touched);
	free(pairs);
	free(where);
	free(fill);
	return rc;
}

int breakdown_script(struct fountain_script *s, const struct breakdown_arena *arena)
{
	size_t nc = s->ncharacters, longest = 0;
	for (size_t i = 0; i < s->nscenes; i++) {
		size_t n = strlen(s->scenes[i].action);
		longest = n > longest ? n : longest;
	}
	struct scene_tally t = {calloc(nc ? nc : 1, sizeof(size_t)), {false}, NULL, 0, 0};
	for (size_t c = 0; c < nc; c++)
		t.starts[(unsigned char)s->characters[c].name[0]] = true;
	char *scratch = malloc(longest + 1);
	size_t *mentions = calloc(nc ? nc : 1, sizeof *mentions);
	int rc = t.last_seen && scratch && mentions ? 0 : -1;
	int64_t all_words = 0;
	for (size_t i = 0; rc == 0 && i < s->nscenes; i++) {
		struct fountain_scene *sc = &s->scenes[i];
		size_t aw = count_words(sc->action);
		sc->action_words = aw > INT32_MAX ? INT32_MAX : (int)aw;
		int64_t dw = 0;
		for (size_t q = 0; q < sc->ncues; q++)
			dw += sc->cues[q].words;
		sc->dialogue_words = dw > INT32_MAX ? INT32_MAX : (int)dw;
		all_words += dw;
		if (scene_cast(s, i, &t, scratch) < 0) {
			rc = -1;
			break;
		}
		sc->ncast = t.ncast;
		sc->cast = t.ncast ? arena->alloc(arena->ctx, t.ncast * sizeof *sc->cast) : NULL;
		if (t.ncast && !sc->cast)
			rc = -1;
		else if (t.ncast)
			memcpy(sc->cast, t.cast, t.ncast * sizeof *sc->cast);
		for (size_t k = sc->ncharacters; rc == 0 && k < sc->ncast; k++)
			mentions[character_at(s, sc->cast[k].name)]++;
	}
	for (size_t c = 0; rc == 0 && c < nc; c++) {
		struct fountain_character *ch = &s->characters[c];
		/* Four decimals: a share, not a float's last bits, so every output prints the same number. */
		ch->share = all_words ? (double)(((int64_t)ch->words * 10000 + all_words / 2) / all_words) / 10000 : 0;
		ch->mentioned = mentions[c] ? arena->alloc(arena->ctx, mentions[c] * sizeof *ch->mentioned) : NULL;
		if (mentions[c] && !ch->mentioned)
			rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < s->nscenes; i++) {
		const struct fountain_scene *sc = &s->scenes[i];
		for (size_t k = sc->ncharacters; k < sc->ncast; k++) {
			struct fountain_character *ch = (struct fountain_character *)fountain_find_character(s, sc->cast[k].name);
			ch->mentioned[ch->nmentioned++] = sc->index;
		}
	}
	free(t.last_seen);
	free(t.cast);
	free(scratch);
	free(mentions);
	if (rc == 0)
		rc = eighths(s);
	return rc == 0 ? copresence(s, arena) : -1;
}
