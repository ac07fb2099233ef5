/* entries.c - the archive's JSON entries, one compact object per line.
 *
 * Step outputs arrive as JSON object texts; they are parsed and printed again with cJSON_PrintUnformatted so that
 * the entry bytes depend on the content only, never on how a provider spaced its reply. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "breakdown_entries.h"
#include "grow.h"
#include "jsonfield.h"
#include "entries.h"

static void add_digest(cJSON *o, const char *key, const char hex[33])
{
	char text[sizeof JSON_DIGEST_PREFIX + 32];
	jf_digest_text(hex, text);
	jf_add_str(o, key, text);
}

static const char *model_of(const struct analysis *a, enum analysis_kind k)
{
	return a->models[k].model ? a->models[k].model : "";
}

/* Adds "output": the parsed object, or null when the step failed (json NULL). */
static int add_output(cJSON *o, const char *json, const char *what, char *err, size_t errlen)
{
	if (!json) {
		jf_must(cJSON_AddNullToObject(o, "output"));
		return 0;
	}
	cJSON *v = cJSON_Parse(json);
	if (!cJSON_IsObject(v)) {
		cJSON_Delete(v);
		snprintf(err, errlen, "%s: output is not a JSON object", what);
		return -1;
	}
	cJSON_AddItemToObject(o, "output", v);
	return 0;
}

/* Appends o as one line and frees it; -1 only when the memory stream fails. */
static int put_record(FILE *f, cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s) {
		fputs("scriptbuild: out of memory while encoding the archive\n", stderr);
		_exit(1);
	}
	int r = fputs(s, f) < 0 || fputc('\n', f) == EOF ? -1 : 0;
	cJSON_free(s);
	return r;
}

/* Ends an encoder: closes the memory stream, which publishes *out and *len, or drops them on failure. */
static int finish(FILE *f, int failed, char **out, size_t *len, const char *entry, char *err, size_t errlen)
{
	if (fclose(f) != 0 && !failed) {
		snprintf(err, errlen, "%s: out of memory", entry);
		failed = 1;
	}
	if (failed) {
		free(*out);
		*out = NULL;
		*len = 0;
		return -1;
	}
	return 0;
}

static FILE *start(char **out, size_t *len, const char *entry, char *err, size_t errlen)
{
	*out = NULL;
	*len = 0;
	FILE *f = open_memstream(out, len);
	if (!f)
		snprintf(err, errlen, "%s: out of memory", entry);
	return f;
}

int entries_encode_scenes(const struct analysis *a, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = start(out, len, "scenes.jsonl", err, errlen);
	if (!f)
		return -1;
	int failed = 0;
	for (size_t i = 0; i < a->nscenes && !failed; i++) {
		const struct analysis_scene *s = &a->scenes[i];
		cJSON *o = jf_must(cJSON_CreateObject());
		jf_add_num(o, "index", s->index);
		jf_add_str(o, "number", s->number);
		jf_add_str(o, "heading", s->heading ? s->heading : "");
		jf_add_num(o, "line", s->line);
		jf_add_str(o, "location", s->location ? s->location : "");
		jf_add_str(o, "time", s->time);
		cJSON *chars = jf_must(cJSON_AddArrayToObject(o, "characters"));
		for (size_t c = 0; c < s->ncharacters; c++)
			cJSON_AddItemToArray(chars, jf_must(cJSON_CreateString(s->characters[c])));
		add_digest(o, "text_digest", s->text_digest);
		breakdown_encode_scene(o, s);
		if (put_record(f, o) < 0) {
			snprintf(err, errlen, "scenes.jsonl: out of memory");
			failed = 1;
		}
	}
	return finish(f, failed, out, len, "scenes.jsonl", err, errlen);
}

int entries_encode_summaries(const struct analysis *a, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = start(out, len, "summaries.jsonl", err, errlen);
	if (!f)
		return -1;
	int failed = 0;
	for (size_t i = 0; i < a->nscenes && !failed; i++) {
		char what[64];
		snprintf(what, sizeof what, "summary of scene %d", a->scenes[i].index);
		cJSON *o = jf_must(cJSON_CreateObject());
		jf_add_num(o, "scene", a->scenes[i].index);
		jf_add_str(o, "model", model_of(a, ANALYSIS_SUMMARY));
		if (add_output(o, a->summaries ? a->summaries[i] : NULL, what, err, errlen) < 0) {
			cJSON_Delete(o);
			failed = 1;
		} else if (put_record(f, o) < 0) {
			snprintf(err, errlen, "summaries.jsonl: out of memory");
			failed = 1;
		}
	}
	return finish(f, failed, out, len, "summaries.jsonl", err, errlen);
}

int entries_encode_outline(const struct analysis *a, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = start(out, len, "outline.json", err, errlen);
	if (!f)
		return -1;
	int failed = 0;
	cJSON *o = jf_must(cJSON_CreateObject());
	jf_add_str(o, "model", model_of(a, ANALYSIS_OUTLINE));
	if (add_output(o, a->outline, "outline", err, errlen) < 0) {
		cJSON_Delete(o);
		failed = 1;
	} else if (put_record(f, o) < 0) {
		snprintf(err, errlen, "outline.json: out of memory");
		failed = 1;
	}
	return finish(f, failed, out, len, "outline.json", err, errlen);
}

int entries_encode_sheets(const struct analysis *a, char **out, size_t *len, char *err, size_t errlen)
{
	FILE *f = start(out, len, "sheets.jsonl", err, errlen);
	if (!f)
		return -1;
	int failed = 0;
	for (size_t i = 0; i < a->nsheets && !failed; i++) {
		const struct analysis_sheet *sh = &a->sheets[i];
		char what[160];
		snprintf(what, sizeof what, "sheet of %.120s", sh->character ? sh->character : "(no name)");
		if (!sh->character || !*sh->character) {
			snprintf(err, errlen, "sheets.jsonl: sheet %zu has no character name", i + 1);
			failed = 1;
			break;
		}
		cJSON *o = jf_must(cJSON_CreateObject());
		jf_add_str(o, "character", sh->character);
		jf_add_str(o, "model", model_of(a, ANALYSIS_SHEET));
		cJSON *stats = jf_must(cJSON_AddObjectToObject(o, "stats"));
		cJSON *scenes = jf_must(cJSON_AddArrayToObject(stats, "scenes"));
		for (size_t s = 0; s < sh->nscenes; s++)
			cJSON_AddItemToArray(scenes, jf_must(cJSON_CreateNumber((double)sh->scenes[s])));
		jf_add_num(stats, "cues", sh->cues);
		jf_add_num(stats, "words", sh->words);
		if (add_output(o, sh->json, what, err, errlen) < 0) {
			cJSON_Delete(o);
			failed = 1;
		} else if (put_record(f, o) < 0) {
			snprintf(err, errlen, "sheets.jsonl: out of memory");
			failed = 1;
		}
	}
	return finish(f, failed, out, len, "sheets.jsonl", err, errlen);
}

/* Walks an entry line by line; every line must be one JSON object and end with a newline. */
struct lines {
	const char *p, *end;
	const char *entry;
	size_t no;
	char where[64];
};

static void lines_init(struct lines *l, const char *entry, const char *text, size_t len)
{
	l->p = text;
	l->end = text + len;
	l->entry = entry;
	l->no = 0;
}

/* The next record, NULL at the end (*failed 0) or on error (*failed 1, err set). */
static cJSON *next_record(struct lines *l, int *failed, char *err, size_t errlen)
{
	*failed = 0;
	if (l->p == l->end)
		return NULL;
	l->no++;
	snprintf(l->where, sizeof l->where, "%s line %zu", l->entry, l->no);
	const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	if (!nl) {
		snprintf(err, errlen, "%s: no newline at the end (truncated?)", l->where);
		*failed = 1;
		return NULL;
	}
	const char *stop = NULL;
	cJSON *o = cJSON_ParseWithLengthOpts(l->p, (size_t)(nl - l->p), &stop, 0);
	if (!cJSON_IsObject(o) || stop != nl) {
		cJSON_Delete(o);
		snprintf(err, errlen, "%s: not one JSON object", l->where);
		*failed = 1;
		return NULL;
	}
	l->p = nl + 1;
	return o;
}

static int check_model(const cJSON *o, const struct analysis *a, enum analysis_kind k, const char *where, char *err,
                       size_t errlen)
{
	char *model;
	if (jf_string(o, "model", false, &model, where, err, errlen) < 0)
		return -1;
	int same = strcmp(model, model_of(a, k)) == 0;
	if (!same)
		snprintf(err, errlen, "%s: model \"%.100s\" differs from the manifest's %s model \"%.100s\"", where, model,
		         analysis_kind_name(k), model_of(a, k));
	free(model);
	return same ? 0 : -1;
}

/* Takes "output" as compact JSON object text, or NULL for null. */
static int take_output(const cJSON *o, char **out, const char *where, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "output");
	*out = NULL;
	if (cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsObject(v)) {
		snprintf(err, errlen, "%s: \"output\" is missing or neither a JSON object nor null", where);
		return -1;
	}
	*out = cJSON_PrintUnformatted(v);
	if (!*out) {
		snprintf(err, errlen, "%s: out of memory", where);
		return -1;
	}
	return 0;
}

/* Grows *arr (of *cap elements of size elem) so that index n fits, and zeroes element n; -1 when out of memory. */
static int make_room(void *arr, size_t *cap, size_t n, size_t elem)
{
	void *p = grow(*(void **)arr, cap, n + 1, elem);
	if (!p)
		return -1;
	memset((char *)p + n * elem, 0, elem);
	*(void **)arr = p;
	return 0;
}

/* expect_index is SIZE_MAX for the first scene, which is 0 (before the first heading) or 1. */
static int decode_scene(const cJSON *o, struct analysis_scene *s, size_t expect_index, const char *where, char *err,
                        size_t errlen)
{
	uint64_t index, line;
	if (jf_uint(o, "index", INT_MAX, &index, where, err, errlen) < 0)
		return -1;
	if (expect_index == SIZE_MAX ? index > 1 : index != expect_index) {
		snprintf(err, errlen, "%s: scene index %llu, want %s%zu (indexes run from 0 or 1 in order)", where,
		         (unsigned long long)index, expect_index == SIZE_MAX ? "0 or " : "",
		         expect_index == SIZE_MAX ? (size_t)1 : expect_index);
		return -1;
	}
	s->index = (int)index;
	if (jf_string(o, "number", true, &s->number, where, err, errlen) < 0
	    || jf_string(o, "heading", false, &s->heading, where, err, errlen) < 0
	    || jf_uint(o, "line", INT_MAX, &line, where, err, errlen) < 0
	    || jf_string(o, "location", false, &s->location, where, err, errlen) < 0
	    || jf_string(o, "time", true, &s->time, where, err, errlen) < 0
	    || jf_digest(o, "text_digest", s->text_digest, where, err, errlen) < 0
	    || breakdown_decode_scene(o, s, where, err, errlen) < 0)
		return -1;
	s->line = (int)line;
	const cJSON *chars = jf_container(o, "characters", true, where, err, errlen);
	if (!chars)
		return -1;
	size_t n = (size_t)cJSON_GetArraySize(chars);
	s->characters = calloc(n ? n : 1, sizeof *s->characters);
	if (!s->characters) {
		snprintf(err, errlen, "%s: out of memory", where);
		return -1;
	}
	const cJSON *c;
	cJSON_ArrayForEach(c, chars) {
		if (!cJSON_IsString(c)) {
			snprintf(err, errlen, "%s: \"characters\" holds something other than a string", where);
			return -1;
		}
		if (!(s->characters[s->ncharacters] = strdup(c->valuestring))) {
			snprintf(err, errlen, "%s: out of memory", where);
			return -1;
		}
		s->ncharacters++;
	}
	return 0;
}

int entries_decode_scenes(const char *text, size_t len, struct analysis *a, char *err, size_t errlen)
{
	struct lines l;
	size_t cap = 0;
	int failed;
	cJSON *o;
	lines_init(&l, "scenes.jsonl", text, len);
	while ((o = next_record(&l, &failed, err, errlen))) {
		if (make_room(&a->scenes, &cap, a->nscenes, sizeof *a->scenes) < 0) {
			snprintf(err, errlen, "%s: out of memory", l.where);
			failed = 1;
		} else {
			/* Counted before decoding so that analysis_free releases a half-decoded scene. */
			a->nscenes++;
			size_t expect = a->nscenes == 1 ? SIZE_MAX : (size_t)a->scenes[0].index + a->nscenes - 1;
			failed = decode_scene(o, &a->scenes[a->nscenes - 1], expect, l.where, err, errlen) < 0;
		}
		cJSON_Delete(o);
		if (failed)
			return -1;
	}
	return failed ? -1 : 0;
}

int entries_decode_summaries(const char *text, size_t len, struct analysis *a, char *err, size_t errlen)
{
	struct lines l;
	int failed;
	cJSON *o;
	lines_init(&l, "summaries.jsonl", text, len);
	a->summaries = calloc(a->nscenes ? a->nscenes : 1, sizeof *a->summaries);
	if (!a->summaries) {
		snprintf(err, errlen, "summaries.jsonl: out of memory");
		return -1;
	}
	while ((o = next_record(&l, &failed, err, errlen))) {
		uint64_t scene;
		if (l.no > a->nscenes) {
			snprintf(err, errlen, "%s: more summaries than the %zu scenes in scenes.jsonl", l.where, a->nscenes);
			failed = 1;
		} else if (jf_uint(o, "scene", INT_MAX, &scene, l.where, err, errlen) < 0) {
			failed = 1;
		} else if (scene != (uint64_t)a->scenes[l.no - 1].index) {
			snprintf(err, errlen, "%s: scene %llu, want %d (one summary per scene, in order)", l.where,
			         (unsigned long long)scene, a->scenes[l.no - 1].index);
			failed = 1;
		} else {
			failed = check_model(o, a, ANALYSIS_SUMMARY, l.where, err, errlen) < 0
			         || take_output(o, &a->summaries[l.no - 1], l.where, err, errlen) < 0;
		}
		cJSON_Delete(o);
		if (failed)
			return -1;
	}
	if (failed)
		return -1;
	if (l.no != a->nscenes) {
		snprintf(err, errlen, "summaries.jsonl: %zu lines, want one per scene (%zu)", l.no, a->nscenes);
		return -1;
	}
	return 0;
}

int entries_decode_outline(const char *text, size_t len, struct analysis *a, char *err, size_t errlen)
{
	struct lines l;
	int failed;
	lines_init(&l, "outline.json", text, len);
	cJSON *o = next_record(&l, &failed, err, errlen);
	if (!o) {
		if (!failed)
			snprintf(err, errlen, "outline.json: empty");
		return -1;
	}
	failed = check_model(o, a, ANALYSIS_OUTLINE, "outline.json", err, errlen) < 0
	         || take_output(o, &a->outline, "outline.json", err, errlen) < 0;
	cJSON_Delete(o);
	if (!failed && l.p != l.end) {
		snprintf(err, errlen, "outline.json: extra bytes after the object");
		failed = 1;
	}
	return failed ? -1 : 0;
}

static int decode_sheet(const cJSON *o, const struct analysis *a, struct analysis_sheet *sh, const char *where,
                        char *err, size_t errlen)
{
	uint64_t cues, words;
	if (jf_string(o, "character", false, &sh->character, where, err, errlen) < 0
	    || check_model(o, a, ANALYSIS_SHEET, where, err, errlen) < 0)
		return -1;
	if (!*sh->character) {
		snprintf(err, errlen, "%s: empty character name", where);
		return -1;
	}
	const cJSON *stats = jf_container(o, "stats", false, where, err, errlen);
	const cJSON *scenes = stats ? jf_container(stats, "scenes", true, where, err, errlen) : NULL;
	if (!scenes || jf_uint(stats, "cues", INT_MAX, &cues, where, err, errlen) < 0
	    || jf_uint(stats, "words", INT_MAX, &words, where, err, errlen) < 0)
		return -1;
	sh->cues = (int)cues;
	sh->words = (int)words;
	size_t n = (size_t)cJSON_GetArraySize(scenes);
	sh->scenes = calloc(n ? n : 1, sizeof *sh->scenes);
	if (!sh->scenes) {
		snprintf(err, errlen, "%s: out of memory", where);
		return -1;
	}
	const cJSON *v;
	double lo = a->nscenes ? a->scenes[0].index : 1, hi = a->nscenes ? a->scenes[a->nscenes - 1].index : 0;
	cJSON_ArrayForEach(v, scenes) {
		if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo) || v->valuedouble > hi
		    || v->valuedouble != (double)(size_t)v->valuedouble) {
			snprintf(err, errlen, "%s: stats.scenes holds something other than a scene index %g..%g", where, lo, hi);
			return -1;
		}
		sh->scenes[sh->nscenes++] = (size_t)v->valuedouble;
	}
	return take_output(o, &sh->json, where, err, errlen);
}

struct named_line {
	const char *name;
	size_t line;
};

static int cmp_named_line(const void *x, const void *y)
{
	const struct named_line *a = x, *b = y;
	int c = strcmp(a->name, b->name);
	return c ? c : (a->line > b->line) - (a->line < b->line);
}

/* Each character has at most one sheet: sorted by name (then line), a duplicate is next to its first sheet. */
static int check_unique_characters(const struct analysis *a, char *err, size_t errlen)
{
	struct named_line *v = calloc(a->nsheets ? a->nsheets : 1, sizeof *v);
	if (!v) {
		snprintf(err, errlen, "sheets.jsonl: out of memory");
		return -1;
	}
	for (size_t i = 0; i < a->nsheets; i++)
		v[i] = (struct named_line){ a->sheets[i].character, i + 1 };
	qsort(v, a->nsheets, sizeof *v, cmp_named_line);
	int r = 0;
	for (size_t i = 1; i < a->nsheets && r == 0; i++)
		if (strcmp(v[i].name, v[i - 1].name) == 0) {
			snprintf(err, errlen, "sheets.jsonl line %zu: character \"%.100s\" already has a sheet on line %zu",
			         v[i].line, v[i].name, v[i - 1].line);
			r = -1;
		}
	free(v);
	return r;
}

int entries_decode_sheets(const char *text, size_t len, struct analysis *a, char *err, size_t errlen)
{
	struct lines l;
	size_t cap = 0;
	int failed;
	cJSON *o;
	lines_init(&l, "sheets.jsonl", text, len);
	while ((o = next_record(&l, &failed, err, errlen))) {
		if (make_room(&a->sheets, &cap, a->nsheets, sizeof *a->sheets) < 0) {
			snprintf(err, errlen, "%s: out of memory", l.where);
			failed = 1;
		} else {
			a->nsheets++;
			failed = decode_sheet(o, a, &a->sheets[a->nsheets - 1], l.where, err, errlen) < 0;
		}
		cJSON_Delete(o);
		if (failed)
			return -1;
	}
	if (failed)
		return -1;
	return check_unique_characters(a, err, errlen);
}
