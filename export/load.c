/* load.c - chooses the database from the target and turns an analysis into the rows both back ends insert.
 *
 * Schema (version 1, the same names in SQLite and PostgreSQL; scriptbuild_schema(version) records it):
 *   scripts(script_id PK, title, source_digest, tool_version, imported_at)
 *   scenes(script_id, scene_index, scene_number, heading, line; PK(script_id, scene_index))
 *   scene_summaries(script_id, scene_index, summary_text, model, details; PK(script_id, scene_index))
 *   script_outlines(script_id PK, outline_text, model, details)
 *   character_sheets(script_id, character_name, sheet_text, model, details; PK(script_id, character_name))
 *   scene_embeddings(script_id, scene_index, model, dims, embedding; PK(script_id, scene_index))
 * details is the step's whole output (TEXT / jsonb); the *_text columns hold its prose: summary.summary,
 * outline.synopsis (else outline.logline), sheet.description. A step that failed (partial archive) has no row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "grow.h"
#include "jsonfield.h"
#include "load.h"
#include "load_tables.h"

static const struct load_column scripts_cols[] = {
	{ "script_id", LOAD_TEXT, true },     { "title", LOAD_TEXT, false },        { "source_digest", LOAD_TEXT, true },
	{ "tool_version", LOAD_TEXT, true }, { "imported_at", LOAD_NOW, true },
};
static const struct load_column scenes_cols[] = {
	{ "script_id", LOAD_TEXT, true }, { "scene_index", LOAD_INT, true }, { "scene_number", LOAD_TEXT, false },
	{ "heading", LOAD_TEXT, true },   { "line", LOAD_INT, true },
};
static const struct load_column summaries_cols[] = {
	{ "script_id", LOAD_TEXT, true }, { "scene_index", LOAD_INT, true }, { "summary_text", LOAD_TEXT, false },
	{ "model", LOAD_TEXT, true },     { "details", LOAD_JSON, true },
};
static const struct load_column outlines_cols[] = {
	{ "script_id", LOAD_TEXT, true }, { "outline_text", LOAD_TEXT, false }, { "model", LOAD_TEXT, true },
	{ "details", LOAD_JSON, true },
};
static const struct load_column sheets_cols[] = {
	{ "script_id", LOAD_TEXT, true }, { "character_name", LOAD_TEXT, true }, { "sheet_text", LOAD_TEXT, false },
	{ "model", LOAD_TEXT, true },     { "details", LOAD_JSON, true },
};
static const struct load_column embeddings_cols[] = {
	{ "script_id", LOAD_TEXT, true }, { "scene_index", LOAD_INT, true }, { "model", LOAD_TEXT, true },
	{ "dims", LOAD_INT, true },       { "embedding", LOAD_VECTOR, true },
};

#define COLS(c) c, sizeof c / sizeof c[0]
#define TO_SCRIPT "FOREIGN KEY (script_id) REFERENCES scripts (script_id)"
#define TO_SCENE "FOREIGN KEY (script_id, scene_index) REFERENCES scenes (script_id, scene_index)"

static const struct load_table schema[LOAD_TABLES] = {
	[LOAD_SCRIPTS] = { "scripts", COLS(scripts_cols), "script_id", NULL, NULL, 0 },
	[LOAD_SCENES] = { "scenes", COLS(scenes_cols), "script_id, scene_index", TO_SCRIPT, NULL, 0 },
	[LOAD_SUMMARIES] = { "scene_summaries", COLS(summaries_cols), "script_id, scene_index", TO_SCENE, NULL, 0 },
	[LOAD_OUTLINES] = { "script_outlines", COLS(outlines_cols), "script_id", TO_SCRIPT, NULL, 0 },
	[LOAD_SHEETS] = { "character_sheets", COLS(sheets_cols), "script_id, character_name", TO_SCRIPT, NULL, 0 },
	[LOAD_EMBEDDINGS] = { "scene_embeddings", COLS(embeddings_cols), "script_id, scene_index", TO_SCENE, NULL, 0 },
};

static char *own(struct load_set *set, char *s)
{
	if (!s)
		return NULL;
	char **grown = grow(set->owned, &set->owned_cap, set->nowned + 1, sizeof *grown);
	if (!grown) {
		free(s);
		return NULL;
	}
	set->owned = grown;
	set->owned[set->nowned++] = s;
	return s;
}

/* The first of keys that is a string member of the JSON object text json, as an owned copy; NULL when none is. */
static int prose(struct load_set *set, const char *json, const char *const *keys, const char **out)
{
	*out = NULL;
	cJSON *o = cJSON_Parse(json);
	if (!o)
		return -1;
	for (; *keys && !*out; keys++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, *keys);
		if (cJSON_IsString(v) && !(*out = own(set, strdup(v->valuestring)))) {
			cJSON_Delete(o);
			return -1;
		}
	}
	cJSON_Delete(o);
	return 0;
}

static struct load_value *row(struct load_table *t)
{
	return &t->cells[t->nrows++ * t->ncols];
}

static int alloc_rows(struct load_set *set, int table, size_t nrows)
{
	struct load_table *t = &set->tables[table];
	*t = schema[table];
	t->cells = calloc(nrows ? nrows * t->ncols : 1, sizeof *t->cells);
	return t->cells ? 0 : -1;
}

static int build(const struct analysis *a, struct load_set *set, char *err, size_t errlen)
{
	static const char *const summary_keys[] = { "summary", NULL };
	static const char *const outline_keys[] = { "synopsis", "logline", NULL };
	static const char *const sheet_keys[] = { "description", NULL };
	const char *id = set->script_id;
	const char *text;
	char digest[sizeof JSON_DIGEST_PREFIX + 32];
	jf_digest_text(a->script_digest, digest);
	const char *source = own(set, strdup(digest));
	if (!source || alloc_rows(set, LOAD_SCRIPTS, 1) < 0 || alloc_rows(set, LOAD_SCENES, a->nscenes) < 0
	    || alloc_rows(set, LOAD_SUMMARIES, a->nscenes) < 0 || alloc_rows(set, LOAD_OUTLINES, 1) < 0
	    || alloc_rows(set, LOAD_SHEETS, a->nsheets) < 0 || alloc_rows(set, LOAD_EMBEDDINGS, a->nscenes) < 0)
		goto oom;

	struct load_value *v = row(&set->tables[LOAD_SCRIPTS]);
	v[0].text = id;
	v[1].text = a->title;
	v[2].text = source;
	v[3].text = a->tool_version ? a->tool_version : "";

	for (size_t i = 0; i < a->nscenes; i++) {
		const struct analysis_scene *s = &a->scenes[i];
		v = row(&set->tables[LOAD_SCENES]);
		v[0].text = id;
		v[1].num = s->index;
		v[2].text = s->number;
		v[3].text = s->heading;
		v[4].num = s->line;
		if (a->summaries && a->summaries[i]) {
			if (prose(set, a->summaries[i], summary_keys, &text) < 0)
				goto bad_json;
			v = row(&set->tables[LOAD_SUMMARIES]);
			v[0].text = id;
			v[1].num = s->index;
			v[2].text = text;
			v[3].text = a->models[ANALYSIS_SUMMARY].model;
			v[4].text = a->summaries[i];
		}
		if (a->dims > 0 && a->embeddings && (!a->has_embedding || a->has_embedding[i])) {
			v = row(&set->tables[LOAD_EMBEDDINGS]);
			v[0].text = id;
			v[1].num = s->index;
			v[2].text = a->models[ANALYSIS_EMBEDDING].model;
			v[3].num = (int64_t)a->dims;
			v[4].vec = a->embeddings + i * a->dims;
		}
	}
	if (a->outline) {
		if (prose(set, a->outline, outline_keys, &text) < 0)
			goto bad_json;
		v = row(&set->tables[LOAD_OUTLINES]);
		v[0].text = id;
		v[1].text = text;
		v[2].text = a->models[ANALYSIS_OUTLINE].model;
		v[3].text = a->outline;
	}
	for (size_t i = 0; i < a->nsheets; i++) {
		const struct analysis_sheet *sh = &a->sheets[i];
		if (!sh->json)
			continue;
		if (prose(set, sh->json, sheet_keys, &text) < 0)
			goto bad_json;
		v = row(&set->tables[LOAD_SHEETS]);
		v[0].text = id;
		v[1].text = sh->character;
		v[2].text = text;
		v[3].text = a->models[ANALYSIS_SHEET].model;
		v[4].text = sh->json;
	}
	return 0;
bad_json:
	snprintf(err, errlen, "a step output is not valid JSON (or memory ran out)");
	return -1;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int load_set_build(const struct analysis *a, const char *script_id, struct load_set *set, char *err, size_t errlen)
{
	memset(set, 0, sizeof *set);
	set->script_id = script_id ? script_id : a->script_name;
	set->dims = a->dims;
	if (!set->script_id || !*set->script_id) {
		snprintf(err, errlen, "no script id: the analysis has no script name and none was given");
		return -1;
	}
	if (build(a, set, err, errlen) < 0) {
		load_set_free(set);
		return -1;
	}
	return 0;
}

void load_set_free(struct load_set *set)
{
	for (int t = 0; t < LOAD_TABLES; t++)
		free(set->tables[t].cells);
	for (size_t i = 0; i < set->nowned; i++)
		free(set->owned[i]);
	free(set->owned);
	memset(set, 0, sizeof *set);
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void append(char *out, size_t outlen, size_t *n, const char *s)
{
	for (; *s && *n + 1 < outlen; s++)
		out[(*n)++] = *s;
}

void load_target_shown(const char *target, char *out, size_t outlen)
{
	/* A URL carries a password in two places: user:SECRET@host, and ?password=SECRET. */
	const char *colon = NULL, *at = NULL;
	const char *auth = strstr(target, "://");
	if (auth) {
		auth += 3;
		size_t span = strcspn(auth, "/?");
		for (const char *q = auth; q < auth + span; q++)
			if (*q == '@')
				at = q;
		if (at)
			colon = memchr(auth, ':', (size_t)(at - auth));
	}
	size_t n = 0;
	for (const char *p = target; *p && n + 1 < outlen;) {
		if (p == colon) {
			append(out, outlen, &n, ":***");
			p = at;
		} else if (p > target && (p[-1] == '?' || p[-1] == '&') && starts_with(p, "password=")) {
			append(out, outlen, &n, "password=***");
			p += strlen("password=");
			p += strcspn(p, "&");
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
}

int analysis_load(const char *target, const char *script_id, const struct analysis *a, char *err, size_t errlen)
{
	return analysis_load_bounded(target, script_id, a, NULL, err, errlen);
}

int analysis_load_bounded(const char *target, const char *script_id, const struct analysis *a,
                          const struct load_limits *lim, char *err, size_t errlen)
{
	static const struct load_limits defaults = LOAD_LIMITS_DEFAULT;
	if (!lim)
		lim = &defaults;
	struct load_set set;
	char shown[512];
	char why[1024];
	load_target_shown(target, shown, sizeof shown);
	if (load_set_build(a, script_id, &set, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s: %s", shown, why);
		return -1;
	}
	int r;
	if (starts_with(target, "postgresql://") || starts_with(target, "postgres://"))
		r = load_pg(target, shown, &set, lim, err, errlen);
	else
		r = load_sqlite(starts_with(target, "sqlite:") ? target + strlen("sqlite:") : target, &set, err, errlen);
	load_set_free(&set);
	return r;
}
