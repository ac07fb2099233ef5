/* breakdown_entries.c - scene breakdown fields and characters.jsonl: encode, decode, cross-check. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "breakdown_entries.h"
#include "jsonfield.h"

#define ENTRY "characters.jsonl"

static void add_indexes(cJSON *o, const char *key, const size_t *v, size_t n)
{
	cJSON *a = jf_must(cJSON_AddArrayToObject(o, key));
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, jf_must(cJSON_CreateNumber((double)v[i])));
}

void breakdown_encode_scene(cJSON *o, const struct analysis_scene *s)
{
	jf_must(cJSON_AddBoolToObject(o, "before_first_heading", s->before_first_heading));
	jf_add_str(o, "int_ext", s->int_ext);
	jf_add_str(o, "time_of_day", s->time_of_day);
	jf_add_str(o, "note", s->note);
	jf_add_num(o, "eighths", s->eighths);
	jf_add_num(o, "action_words", s->action_words);
	jf_add_num(o, "dialogue_words", s->dialogue_words);
	cJSON *cast = jf_must(cJSON_AddArrayToObject(o, "cast"));
	for (size_t i = 0; i < s->ncast; i++) {
		cJSON *m = jf_must(cJSON_CreateObject());
		cJSON_AddItemToArray(cast, m);
		jf_add_str(m, "character", s->cast[i].character);
		jf_must(cJSON_AddBoolToObject(m, "speaking", s->cast[i].speaking));
		jf_add_num(m, "cues", s->cast[i].cues);
		jf_add_num(m, "words", s->cast[i].words);
	}
}

static int oom(const char *where, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: out of memory", where);
	return -1;
}

static int get_int(const cJSON *o, const char *key, int *out, const char *where, char *err, size_t errlen)
{
	uint64_t v;
	if (jf_uint(o, key, INT_MAX, &v, where, err, errlen) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

int breakdown_decode_scene(const cJSON *o, struct analysis_scene *s, const char *where, char *err, size_t errlen)
{
	if (jf_bool(o, "before_first_heading", &s->before_first_heading, where, err, errlen) < 0
	    || jf_string(o, "int_ext", true, &s->int_ext, where, err, errlen) < 0
	    || jf_string(o, "time_of_day", true, &s->time_of_day, where, err, errlen) < 0
	    || jf_string(o, "note", true, &s->note, where, err, errlen) < 0
	    || get_int(o, "eighths", &s->eighths, where, err, errlen) < 0
	    || get_int(o, "action_words", &s->action_words, where, err, errlen) < 0
	    || get_int(o, "dialogue_words", &s->dialogue_words, where, err, errlen) < 0)
		return -1;
	const cJSON *cast = jf_container(o, "cast", true, where, err, errlen);
	if (!cast)
		return -1;
	size_t n = (size_t)cJSON_GetArraySize(cast);
	if (!(s->cast = calloc(n ? n : 1, sizeof *s->cast)))
		return oom(where, err, errlen);
	const cJSON *m;
	cJSON_ArrayForEach(m, cast) {
		char at[160];
		snprintf(at, sizeof at, "%.100s: cast[%zu]", where, s->ncast);
		struct analysis_cast *c = &s->cast[s->ncast];
		if (!cJSON_IsObject(m)) {
			snprintf(err, errlen, "%s: not an object", at);
			return -1;
		}
		s->ncast++;  /* counted first, so that breakdown_free releases a half-read member */
		if (jf_string(m, "character", false, &c->character, at, err, errlen) < 0
		    || jf_bool(m, "speaking", &c->speaking, at, err, errlen) < 0
		    || get_int(m, "cues", &c->cues, at, err, errlen) < 0 || get_int(m, "words", &c->words, at, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int entries_encode_characters(const struct analysis *a, char **out, size_t *len, char *err, size_t errlen)
{
	*out = NULL;
	*len = 0;
	FILE *f = open_memstream(out, len);
	if (!f)
		return oom(ENTRY, err, errlen);
	int failed = 0;
	for (size_t i = 0; i < a->ncharacters && !failed; i++) {
		const struct analysis_character *c = &a->characters[i];
		cJSON *o = jf_must(cJSON_CreateObject());
		jf_add_str(o, "character", c->name);
		jf_add_num(o, "cues", c->cues);
		jf_add_num(o, "words", c->words);
		jf_add_num(o, "share", c->share);
		add_indexes(o, "scenes", c->scenes, c->nscenes);
		if (c->nscenes) {
			jf_add_num(o, "first_scene", (double)c->scenes[0]);
			jf_add_num(o, "last_scene", (double)c->scenes[c->nscenes - 1]);
		} else {
			jf_add_str(o, "first_scene", NULL);
			jf_add_str(o, "last_scene", NULL);
		}
		add_indexes(o, "mentioned_in", c->mentioned, c->nmentioned);
		cJSON *together = jf_must(cJSON_AddArrayToObject(o, "copresence"));
		for (size_t k = 0; k < c->ntogether; k++) {
			cJSON *t = jf_must(cJSON_CreateObject());
			cJSON_AddItemToArray(together, t);
			jf_add_str(t, "character", c->together[k].character);
			jf_add_num(t, "scenes", (double)c->together[k].scenes);
		}
		char *line = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		if (!line || fputs(line, f) < 0 || fputc('\n', f) == EOF)
			failed = 1;
		cJSON_free(line);
	}
	if (fclose(f) != 0)
		failed = 1;
	if (failed) {
		free(*out);
		*out = NULL;
		*len = 0;
		return oom(ENTRY, err, errlen);
	}
	return 0;
}

/* A JSON array of scene indexes into a malloc'd array; each must be a whole number within the scenes. */
static int get_indexes(const cJSON *o, const char *key, const struct analysis *a, size_t **out, size_t *n,
                       const char *where, char *err, size_t errlen)
{
	const cJSON *arr = jf_container(o, key, true, where, err, errlen);
	if (!arr)
		return -1;
	size_t count = (size_t)cJSON_GetArraySize(arr);
	if (!(*out = calloc(count ? count : 1, sizeof **out)))
		return oom(where, err, errlen);
	double lo = a->nscenes ? a->scenes[0].index : 0, hi = a->nscenes ? a->scenes[a->nscenes - 1].index : -1;
	const cJSON *v;
	cJSON_ArrayForEach(v, arr) {
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)
		    || v->valuedouble != (double)(size_t)v->valuedouble || (*n && (size_t)v->valuedouble <= (*out)[*n - 1])) {
			snprintf(err, errlen, "%s: \"%s\" holds something other than ascending scene indexes %g..%g", where, key,
			         lo, hi);
			return -1;
		}
		(*out)[(*n)++] = (size_t)v->valuedouble;
	}
	return 0;
}

static int decode_character(const cJSON *o, const struct analysis *a, struct analysis_character *c, const char *where,
                            char *err, size_t errlen)
{
	if (jf_string(o, "character", false, &c->name, where, err, errlen) < 0
	    || get_int(o, "cues", &c->cues, where, err, errlen) < 0 || get_int(o, "words", &c->words, where, err, errlen) < 0
	    || get_indexes(o, "scenes", a, &c->scenes, &c->nscenes, where, err, errlen) < 0
	    || get_indexes(o, "mentioned_in", a, &c->mentioned, &c->nmentioned, where, err, errlen) < 0)
		return -1;
	const cJSON *share = cJSON_GetObjectItemCaseSensitive(o, "share");
	if (!cJSON_IsNumber(share) || !(share->valuedouble >= 0 && share->valuedouble <= 1)) {
		snprintf(err, errlen, "%s: \"share\" is missing or not a number from 0 to 1", where);
		return -1;
	}
	c->share = share->valuedouble;
	const cJSON *first = cJSON_GetObjectItemCaseSensitive(o, "first_scene");
	const cJSON *last = cJSON_GetObjectItemCaseSensitive(o, "last_scene");
	bool ends_ok = c->nscenes ? cJSON_IsNumber(first) && cJSON_IsNumber(last) &&
	                                first->valuedouble == (double)c->scenes[0] &&
	                                last->valuedouble == (double)c->scenes[c->nscenes - 1]
	                          : cJSON_IsNull(first) && cJSON_IsNull(last);
	if (!ends_ok) {
		snprintf(err, errlen, "%s: first_scene and last_scene are not the ends of \"scenes\"", where);
		return -1;
	}
	const cJSON *together = jf_container(o, "copresence", true, where, err, errlen);
	if (!together)
		return -1;
	size_t n = (size_t)cJSON_GetArraySize(together);
	if (!(c->together = calloc(n ? n : 1, sizeof *c->together)))
		return oom(where, err, errlen);
	const cJSON *t;
	cJSON_ArrayForEach(t, together) {
		uint64_t scenes;
		struct analysis_together *p = &c->together[c->ntogether];
		if (!cJSON_IsObject(t)) {
			snprintf(err, errlen, "%s: copresence holds something other than an object", where);
			return -1;
		}
		c->ntogether++;
		if (jf_string(t, "character", false, &p->character, where, err, errlen) < 0
		    || jf_uint(t, "scenes", a->nscenes, &scenes, where, err, errlen) < 0)
			return -1;
		p->scenes = (size_t)scenes;
	}
	return 0;
}

int entries_decode_characters(const char *text, size_t len, struct analysis *a, char *err, size_t errlen)
{
	size_t cap = 0, no = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		char where[64];
		snprintf(where, sizeof where, ENTRY " line %zu", ++no);
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			snprintf(err, errlen, "%s: no newline at the end (truncated?)", where);
			return -1;
		}
		const char *stop = NULL;
		cJSON *o = cJSON_ParseWithLengthOpts(p, (size_t)(nl - p), &stop, 0);
		if (!cJSON_IsObject(o) || stop != nl) {
			cJSON_Delete(o);
			snprintf(err, errlen, "%s: not one JSON object", where);
			return -1;
		}
		p = nl + 1;
		if (a->ncharacters == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct analysis_character *grown = realloc(a->characters, ncap * sizeof *grown);
			if (!grown) {
				cJSON_Delete(o);
				return oom(where, err, errlen);
			}
			memset(grown + cap, 0, (ncap - cap) * sizeof *grown);
			a->characters = grown;
			cap = ncap;
		}
		a->ncharacters++;
		int r = decode_character(o, a, &a->characters[a->ncharacters - 1], where, err, errlen);
		cJSON_Delete(o);
		if (r < 0)
			return -1;
	}
	return 0;
}

static const struct analysis_character *character_named(const struct analysis *a, const char *name)
{
	for (size_t i = 0; i < a->ncharacters; i++)
		if (strcmp(a->characters[i].name, name) == 0)
			return &a->characters[i];
	return NULL;
}

static bool has_index(const size_t *v, size_t n, size_t index)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == index)
			return true;
	return false;
}

int breakdown_check(const struct analysis *a, char *err, size_t errlen)
{
	long long sum = 0;
	for (size_t i = 0; i < a->nscenes; i++) {
		const struct analysis_scene *s = &a->scenes[i];
		int want = a->scenes[0].index + (int)i;
		if ((i == 0 && s->index != 0 && s->index != 1) || s->index != want || s->before_first_heading != (s->index == 0)) {
			snprintf(err, errlen, "scenes.jsonl line %zu: index %d%s: scenes run 0 (before the first heading) or 1 "
			         "upwards, in order", i + 1, s->index, s->before_first_heading ? " before the first heading" : "");
			return -1;
		}
		if (s->eighths < 1) {
			snprintf(err, errlen, "scenes.jsonl line %zu: eighths %d; every scene takes at least 1/8 page", i + 1,
			         s->eighths);
			return -1;
		}
		sum += s->eighths;
		for (size_t k = 0; k < s->ncharacters; k++) {
			bool found = false;
			for (size_t m = 0; m < s->ncast && !found; m++)
				found = s->cast[m].speaking && strcmp(s->cast[m].character, s->characters[k]) == 0;
			if (!found) {
				snprintf(err, errlen, "scenes.jsonl line %zu: speaker \"%.80s\" is not in the scene's cast", i + 1,
				         s->characters[k]);
				return -1;
			}
		}
		for (size_t m = 0; m < s->ncast; m++) {
			const struct analysis_character *c = character_named(a, s->cast[m].character);
			const size_t *list = c ? (s->cast[m].speaking ? c->scenes : c->mentioned) : NULL;
			size_t n = c ? (s->cast[m].speaking ? c->nscenes : c->nmentioned) : 0;
			if (!c || !has_index(list, n, (size_t)s->index)) {
				snprintf(err, errlen, ENTRY ": \"%.80s\" of the cast of scene %d is %s", s->cast[m].character,
				         s->index, c ? "not listed in that scene" : "not a character");
				return -1;
			}
		}
	}
	if (sum != a->eighths) {
		snprintf(err, errlen, "scenes.jsonl: the scenes' eighths sum to %lld but the manifest's page count is %d "
		         "eighths", sum, a->eighths);
		return -1;
	}
	for (size_t i = 0; i < a->ncharacters; i++)
		for (size_t k = 0; k < a->characters[i].ntogether; k++)
			if (!character_named(a, a->characters[i].together[k].character)) {
				snprintf(err, errlen, ENTRY " line %zu: copresence names \"%.80s\", who is not a character", i + 1,
				         a->characters[i].together[k].character);
				return -1;
			}
	return 0;
}

void breakdown_free(struct analysis *a)
{
	for (size_t i = 0; i < a->nscenes && a->scenes; i++) {
		struct analysis_scene *s = &a->scenes[i];
		free(s->int_ext);
		free(s->time_of_day);
		free(s->note);
		for (size_t k = 0; k < s->ncast; k++)
			free(s->cast[k].character);
		free(s->cast);
	}
	for (size_t i = 0; i < a->ncharacters && a->characters; i++) {
		struct analysis_character *c = &a->characters[i];
		free(c->name);
		free(c->scenes);
		free(c->mentioned);
		for (size_t k = 0; k < c->ntogether; k++)
			free(c->together[k].character);
		free(c->together);
	}
	free(a->characters);
}
