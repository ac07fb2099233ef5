/* load.c - chooses the database from the target and turns an analysis into the rows both back ends insert.
 *
 * Schema (version 2, the same names in SQLite and PostgreSQL; scriptbuild_schema(version) records it):
 *   scripts(script_id PK, title, source_digest, tool_version, imported_at)
 *   scenes(script_id, scene_index, scene_number, heading, line, before_first_heading, int_ext, location,
 *          time_of_day, time_text, heading_note, eighths, action_words, dialogue_words; PK(script_id, scene_index))
 *   characters(script_id, character, cues, words, share, scenes, first_scene, last_scene, mentioned_scenes, details;
 *              PK(script_id, character))
 *   scene_characters(script_id, scene_index, character, speaking, cues, words; PK(script_id, scene_index, character))
 *   scene_summaries(script_id, scene_index, summary_text, model, details; PK(script_id, scene_index))
 *   script_outlines(script_id PK, outline_text, model, details)
 *   character_sheets(script_id, character_name, sheet_text, model, details; PK(script_id, character_name))
 *   scene_embeddings(script_id, scene_index, model, dims, embedding; PK(script_id, scene_index))
 * details is the step's whole output (TEXT / jsonb); the *_text columns hold its prose: summary.summary,
 * outline.synopsis (else outline.logline), sheet.description. A step that failed (partial archive) has no row.
 * scene_index is heading order (0: the text before the first heading); characters.details is the character's line
 * of characters.jsonl (scene lists, co-presence). */
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
	/* Version 2 (load_migrate.c adds them to a version 1 table, hence nullable). */
	{ "before_first_heading", LOAD_INT, false }, { "int_ext", LOAD_TEXT, false }, { "location", LOAD_TEXT, false },
	{ "time_of_day", LOAD_TEXT, false },         { "time_text", LOAD_TEXT, false }, { "heading_note", LOAD_TEXT, false },
	{ "eighths", LOAD_INT, false },              { "action_words", LOAD_INT, false },
	{ "dialogue_words", LOAD_INT, false },
};
static const struct load_column characters_cols[] = {
	{ "script_id", LOAD_TEXT, true },    { "character", LOAD_TEXT, true },     { "cues", LOAD_INT, true },
	{ "words", LOAD_INT, true },         { "share", LOAD_REAL, true },         { "scenes", LOAD_INT, true },
	{ "first_scene", LOAD_INT, false },  { "last_scene", LOAD_INT, false },    { "mentioned_scenes", LOAD_INT, true },
	{ "details", LOAD_JSON, true },
};
static const struct load_column scene_characters_cols[] = {
	{ "script_id", LOAD_TEXT, true }, { "scene_index", LOAD_INT, true }, { "character", LOAD_TEXT, true },
	{ "speaking", LOAD_INT, true },   { "cues", LOAD_INT, true },        { "words", LOAD_INT, true },
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
#define TO_CHARACTER "FOREIGN KEY (script_id, character) REFERENCES characters (script_id, character)"

static const struct load_table schema[LOAD_TABLES] = {
	[LOAD_SCRIPTS] = { "scripts", COLS(scripts_cols), "script_id", NULL, NULL, 0 },
	[LOAD_SCENES] = { "scenes", COLS(scenes_cols), "script_id, scene_index", TO_SCRIPT, NULL, 0 },
	[LOAD_SUMMARIES] = { "scene_summaries", COLS(summaries_cols), "script_id, scene_index", TO_SCENE, NULL, 0 },
	[LOAD_OUTLINES] = { "script_outlines", COLS(outlines_cols), "script_id", TO_SCRIPT, NULL, 0 },
	[LOAD_SHEETS] = { "character_sheets", COLS(sheets_cols), "script_id, character_name", TO_SCRIPT, NULL, 0 },
	[LOAD_EMBEDDINGS] = { "scene_embeddings", COLS(embeddings_cols), "script_id, scene_index", TO_SCENE, NULL, 0 },
	[LOAD_CHARACTERS] = { "characters", COLS(characters_cols), "script_id, character", TO_SCRIPT, NULL, 0 },
	[LOAD_SCENE_CHARACTERS] = { "scene_characters", COLS(scene_characters_cols), "script_id, scene_index, character",
	                            TO_SCENE ", " TO_CHARACTER, NULL, 0 },
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

/* characters.jsonl's object of c, as the details column holds it (owned by set). */
static const char *character_details(struct load_set *set, const struct analysis_character *c)
{
	cJSON *o = cJSON_CreateObject(), *scenes = NULL, *mentioned = NULL, *together = NULL;
	bool ok = o && (scenes = cJSON_AddArrayToObject(o, "scenes")) && (mentioned = cJSON_AddArrayToObject(o, "mentioned_in"))
	          && (together = cJSON_AddArrayToObject(o, "copresence"));
	for (size_t i = 0; ok && i < c->nscenes; i++)
		ok = cJSON_AddItemToArray(scenes, cJSON_CreateNumber((double)c->scenes[i]));
	for (size_t i = 0; ok && i < c->nmentioned; i++)
		ok = cJSON_AddItemToArray(mentioned, cJSON_CreateNumber((double)c->mentioned[i]));
	for (size_t i = 0; ok && i < c->ntogether; i++) {
		cJSON *t = cJSON_CreateObject();
		ok = t && cJSON_AddItemToArray(together, t) && cJSON_AddStringToObject(t, "character", c->together[i].character)
		     && cJSON_AddNumberToObject(t, "scenes", (double)c->together[i].scenes);
	}
	char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	return own(set, text);
}

/* The characters and scene_characters rows: the parser's facts, whatever the providers did. */
static int build_breakdown(const struct analysis *a, struct load_set *set)
{
	size_t ncast = 0;
	for (size_t i = 0; i < a->nscenes; i++)
		ncast += a->scenes[i].ncast;
	if (alloc_rows(set, LOAD_CHARACTERS, a->ncharacters) < 0 || alloc_rows(set, LOAD_SCENE_CHARACTERS, ncast) < 0)
		return -1;
	for (size_t i = 0; i < a->ncharacters; i++) {
		const struct analysis_character *c = &a->characters[i];
		struct load_value *v = row(&set->tables[LOAD_CHARACTERS]);
		v[0].text = set->script_id;
		v[1].text = c->name;
		v[2].num = c->cues;
		v[3].num = c->words;
		v[4].real = c->share;
		v[5].num = (int64_t)c->nscenes;
		v[6].null = v[7].null = c->nscenes == 0;
		v[6].num = c->nscenes ? (int64_t)c->scenes[0] : 0;
		v[7].num = c->nscenes ? (int64_t)c->scenes[c->nscenes - 1] : 0;
		v[8].num = (int64_t)c->nmentioned;
		if (!(v[9].text = character_details(set, c)))
			return -1;
	}
	for (size_t i = 0; i < a->nscenes; i++)
		for (size_t k = 0; k < a->scenes[i].ncast; k++) {
			const struct analysis_cast *m = &a->scenes[i].cast[k];
			struct load_value *v = row(&set->tables[LOAD_SCENE_CHARACTERS]);
			v[0].text = set->script_id;
			v[1].num = a->scenes[i].index;
			v[2].text = m->character;
			v[3].num = m->speaking;
			v[4].num = m->cues;
			v[5].num = m->words;
		}
	return 0;
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
	    || alloc_rows(set, LOAD_SHEETS, a->nsheets) < 0 || alloc_rows(set, LOAD_EMBEDDINGS, a->nscenes) < 0
	    || build_breakdown(a, set) < 0)
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
		v[5].num = s->before_first_heading;
		v[6].text = s->int_ext;
		v[7].text = s->location;
		v[8].text = s->time_of_day;
		v[9].text = s->time;
		v[10].text = s->note;
		v[11].num = s->eighths;
		v[12].num = s->action_words;
		v[13].num = s->dialogue_words;
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
	return analysis_load_many(target, &script_id, &a, 1, lim, NULL, err, errlen);
}

int analysis_load_many(const char *target, const char *const *ids, const struct analysis *const *a, size_t n,
                       const struct load_limits *lim, size_t *bad, char *err, size_t errlen)
{
	static const struct load_limits defaults = LOAD_LIMITS_DEFAULT;
	if (!lim)
		lim = &defaults;
	if (bad)
		*bad = n;
	if (n == 0)
		return 0;
	struct load_set *sets = calloc(n, sizeof *sets);
	char shown[512];
	char why[1024];
	load_target_shown(target, shown, sizeof shown);
	if (!sets) {
		snprintf(err, errlen, "%s: out of memory", shown);
		return -1;
	}
	size_t built = 0;
	int r = 0;
	for (; built < n; built++) {
		if (load_set_build(a[built], ids ? ids[built] : NULL, &sets[built], why, sizeof why) < 0) {
			snprintf(err, errlen, "%s: %s", shown, why);
			if (bad)
				*bad = built;
			r = -1;
			break;
		}
		/* One transaction replaces each script's rows: two archives of one script id would silently keep one. */
		for (size_t j = 0; j < built; j++)
			if (strcmp(sets[j].script_id, sets[built].script_id) == 0) {
				snprintf(err, errlen, "%s: archives %zu and %zu are both script '%s': load them separately, or "
				         "rename one's script", shown, j + 1, built + 1, sets[built].script_id);
				if (bad)
					*bad = built;
				r = -1;
				break;
			}
		if (r < 0) {
			built++;
			break;
		}
	}
	if (r == 0) {
		if (starts_with(target, "postgresql://") || starts_with(target, "postgres://"))
			r = load_pg(target, shown, sets, n, lim, err, errlen);
		else
			r = load_sqlite(starts_with(target, "sqlite:") ? target + strlen("sqlite:") : target, sets, n, err,
			                errlen);
	}
	for (size_t i = 0; i < built; i++)
		load_set_free(&sets[i]);
	free(sets);
	return r;
}
