/* results.c - finished graph -> struct results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "float32.h"
#include "fountain.h"
#include "quotes.h"
#include "pricing.h"
#include "results.h"
#include "util.h"
#include "validate.h"

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void collect_scenes(struct results *a, const struct graph *g)
{
	const struct fountain_script *s = g->script;
	a->nscenes = s->nscenes;
	a->scenes = xcalloc(s->nscenes, sizeof(*a->scenes));
	for (size_t i = 0; i < s->nscenes; i++) {
		const struct fountain_scene *sc = &s->scenes[i];
		struct results_scene *as = &a->scenes[i];
		struct digest d;
		as->index = (int)sc->index;
		as->number = dup_or_null(sc->number);
		as->heading = xstrdup(sc->heading);
		as->line = sc->line;
		as->location = xstrdup(sc->location ? sc->location : "");
		as->time = dup_or_null(sc->time);
		as->ncharacters = sc->ncharacters;
		as->characters = xcalloc(sc->ncharacters, sizeof(char *));
		for (size_t c = 0; c < sc->ncharacters; c++)
			as->characters[c] = xstrdup(sc->characters[c]);
		scene_text_digest(g, i + 1, &d);
		digest_to_hex(&d, as->text_digest);
	}
}

/* Each key line becomes {"text", "scene", "line"}: the script's verbatim words with the scene index and the file
 * line where they are spoken, evidence a reader can check. The anchors are found here, against the script being
 * archived, so a cached sheet stays valid when scenes move. A line the script no longer holds keeps null anchors. */
static void anchor_key_lines(cJSON *sheet, const struct fountain_script *s, const struct fountain_character *ch)
{
	cJSON *lines = cJSON_GetObjectItemCaseSensitive(sheet, "key_lines");
	cJSON *item = lines ? lines->child : NULL;
	while (item) {
		cJSON *next = item->next;
		if (cJSON_IsString(item)) {
			struct quote_match m;
			cJSON *anchored = cJSON_CreateObject();
			if (quote_anchor(s, ch, item->valuestring, &m) == QUOTE_FOUND) {
				cJSON_AddStringToObject(anchored, "text", m.text);
				cJSON_AddNumberToObject(anchored, "scene", (double)m.scene);
				cJSON_AddNumberToObject(anchored, "line", m.line);
				free(m.text);
			} else {
				cJSON_AddStringToObject(anchored, "text", item->valuestring);
				cJSON_AddNullToObject(anchored, "scene");
				cJSON_AddNullToObject(anchored, "line");
			}
			cJSON_ReplaceItemViaPointer(lines, item, anchored);
		}
		item = next;
	}
}

/* Each relationship names a cast member as the parser spells the name, with "in_cast"; a name that maps to nobody
 * is kept as written and marked false. */
static void map_relationships(cJSON *sheet, const struct fountain_script *s)
{
	cJSON *rel;
	cJSON_ArrayForEach(rel, cJSON_GetObjectItemCaseSensitive(sheet, "relationships")) {
		cJSON *name = cJSON_GetObjectItemCaseSensitive(rel, "character");
		if (!cJSON_IsString(name))
			continue;
		const struct fountain_character *who = quote_cast_member(s, name->valuestring);
		if (who && strcmp(who->name, name->valuestring) != 0)
			cJSON_ReplaceItemInObjectCaseSensitive(rel, "character", cJSON_CreateString(who->name));
		cJSON_DeleteItemFromObjectCaseSensitive(rel, "in_cast");
		cJSON_AddBoolToObject(rel, "in_cast", who != NULL);
	}
}

/* The analyser numbered the character's scenes 1..k; the archive speaks in scene indexes, anchored lines and cast
 * names. */
static char *sheet_with_scene_indexes(const struct step *st, const struct fountain_script *s,
                                      const struct fountain_character *ch)
{
	cJSON *sheet = cJSON_ParseWithLength(st->output, st->output_len);
	cJSON *turning = cJSON_GetObjectItemCaseSensitive(sheet, "turning_scenes");
	cJSON *item;
	cJSON_ArrayForEach(item, turning) {
		if (cJSON_IsNumber(item) && item->valuedouble >= 1 && item->valuedouble <= (double)ch->nscenes)
			cJSON_SetNumberValue(item, (double)ch->scenes[(size_t)item->valuedouble - 1]);
	}
	anchor_key_lines(sheet, s, ch);
	map_relationships(sheet, s);
	char *text = cJSON_PrintUnformatted(sheet);
	cJSON_Delete(sheet);
	return text;
}

/* The outline numbered the scenes 1..n as it was given them; the archive speaks in scene indexes (0 is the text
 * before the first heading). */
static void map_range(cJSON *range, const struct fountain_script *s)
{
	cJSON *item;
	cJSON_ArrayForEach(item, range) {
		if (cJSON_IsNumber(item) && item->valuedouble >= 1 && item->valuedouble <= (double)s->nscenes)
			cJSON_SetNumberValue(item, (double)s->scenes[(size_t)item->valuedouble - 1].index);
	}
}

static char *outline_with_scene_indexes(const struct step *st, const struct fountain_script *s)
{
	cJSON *outline = cJSON_ParseWithLength(st->output, st->output_len);
	cJSON *act;
	cJSON_ArrayForEach(act, cJSON_GetObjectItemCaseSensitive(outline, "acts")) {
		map_range(cJSON_GetObjectItemCaseSensitive(act, "scenes"), s);
		cJSON *seq;
		cJSON_ArrayForEach(seq, cJSON_GetObjectItemCaseSensitive(act, "sequences"))
			map_range(cJSON_GetObjectItemCaseSensitive(seq, "scenes"), s);
	}
	char *text = cJSON_PrintUnformatted(outline);
	cJSON_Delete(outline);
	return text;
}

static void add_done_step(struct results *a, const struct graph *g, const struct step *st)
{
	struct results_step *rec = &a->steps[a->nsteps++];
	rec->kind = st->kind;
	switch (st->kind) {
	case STEP_SUMMARY:
	case STEP_EMBEDDING:
		rec->target = xasprintf("%zu", g->script->scenes[st->scene - 1].index);
		break;
	case STEP_SHEET:
		rec->target = xstrdup(g->script->characters[st->character].name);
		break;
	default:
		rec->target = xstrdup("");
		break;
	}
	digest_to_hex(&st->key, rec->key);
	digest_to_hex(&st->output_digest, rec->output);
	rec->tokens_in = st->meta.tokens_in;
	rec->tokens_out = st->meta.tokens_out;
	rec->corrections = st->meta.corrections;
	rec->dropped_quotes = st->meta.dropped_quotes;
	if (st->kind == STEP_EMBEDDING) {
		/* Recomputed, not read from the cache: a cache filled by an older version holds a batch-position split. */
		char *text = embedding_input(g, st);
		rec->tokens_in = embedding_tokens_attributed(text);
		rec->tokens_out = 0;
		free(text);
	}
	a->tokens_in += rec->tokens_in;
	a->tokens_out += rec->tokens_out;
}

struct results *results_collect(const struct graph *g, const struct step_config *cfg)
{
	const struct fountain_script *s = g->script;
	struct results *a = xcalloc(1, sizeof(*a));
	a->title = dup_or_null(s->title);
	collect_scenes(a, g);
	a->steps = xcalloc(g->nsteps, sizeof(*a->steps));
	for (size_t i = 0; i < g->nsteps; i++) {
		const struct step *st = &g->steps[i];
		if (st->state == STEP_DONE)
			add_done_step(a, g, st);
		else
			a->partial = true;
	}

	a->summaries = xcalloc(s->nscenes, sizeof(char *));
	for (size_t i = 0; i < s->nscenes; i++) {
		const struct step *st = &g->steps[g->summary_of_scene[i]];
		if (st->state == STEP_DONE)
			a->summaries[i] = xstrndup(st->output, st->output_len);
	}
	const struct step *outline = &g->steps[g->outline];
	if (outline->state == STEP_DONE)
		a->outline = outline_with_scene_indexes(outline, s);

	a->nsheets = s->ncharacters;
	a->sheets = xcalloc(s->ncharacters, sizeof(*a->sheets));
	for (size_t c = 0; c < s->ncharacters; c++) {
		const struct fountain_character *ch = &s->characters[c];
		const struct step *st = &g->steps[g->sheet_of_character[c]];
		struct results_sheet *sh = &a->sheets[c];
		sh->character = xstrdup(ch->name);
		sh->nscenes = ch->nscenes;
		sh->scenes = xcalloc(ch->nscenes, sizeof(size_t));
		memcpy(sh->scenes, ch->scenes, ch->nscenes * sizeof(size_t));
		sh->cues = ch->cues;
		sh->words = ch->words;
		if (st->state == STEP_DONE)
			sh->json = sheet_with_scene_indexes(st, s, ch);
	}

	for (size_t i = 0; i < s->nscenes && a->dims == 0; i++) {
		const struct step *st = &g->steps[g->embedding_of_scene[i]];
		if (st->state == STEP_DONE)
			a->dims = st->output_len / 4;
	}
	if (a->dims == 0 && cfg[STEP_EMBEDDING].params.dims > 0)
		a->dims = (size_t)cfg[STEP_EMBEDDING].params.dims;
	a->embeddings = xcalloc(s->nscenes * (a->dims ? a->dims : 1), sizeof(float));
	a->has_embedding = xcalloc(s->nscenes ? s->nscenes : 1, sizeof(bool));
	for (size_t i = 0; i < s->nscenes; i++) {
		const struct step *st = &g->steps[g->embedding_of_scene[i]];
		if (st->state == STEP_DONE && st->output_len == a->dims * 4) {
			float32_decode((const unsigned char *)st->output, a->dims, a->embeddings + i * a->dims);
			a->has_embedding[i] = true;
		} else if (st->state == STEP_DONE) {
			/* One matrix has one width: a row of another width (a model changed under the same name) is left
			 * out, and the archive says it is incomplete rather than pretend. */
			a->partial = true;
		}
	}
	return a;
}

void results_free(struct results *r)
{
	if (!r)
		return;
	free(r->title);
	for (size_t i = 0; i < r->nscenes && r->scenes; i++) {
		struct results_scene *sc = &r->scenes[i];
		free(sc->number);
		free(sc->heading);
		free(sc->location);
		free(sc->time);
		for (size_t c = 0; c < sc->ncharacters && sc->characters; c++)
			free(sc->characters[c]);
		free(sc->characters);
	}
	free(r->scenes);
	for (size_t i = 0; i < r->nscenes && r->summaries; i++)
		free(r->summaries[i]);
	free(r->summaries);
	free(r->outline);
	for (size_t i = 0; i < r->nsheets && r->sheets; i++) {
		free(r->sheets[i].character);
		free(r->sheets[i].json);
		free(r->sheets[i].scenes);
	}
	free(r->sheets);
	free(r->embeddings);
	free(r->has_embedding);
	for (size_t i = 0; i < r->nsteps && r->steps; i++)
		free(r->steps[i].target);
	free(r->steps);
	free(r);
}

void results_identity(const struct graph *g, const struct step_config *cfg, uint64_t format_version,
                      const char *script_name, const char *script_digest_hex, int64_t mtime, struct digest *out)
{
	struct key_builder kb;
	key_begin(&kb);
	key_add_str(&kb, SCRIPTBUILD_VERSION);
	key_add_u64(&kb, format_version);
	key_add_str(&kb, script_name);
	key_add_str(&kb, script_digest_hex);
	key_add_u64(&kb, (uint64_t)mtime);
	for (int k = 0; k < STEP_KINDS; k++) {
		key_add_str(&kb, cfg[k].provider);
		key_add_str(&kb, cfg[k].params.model);
		key_add_u64(&kb, (uint64_t)cfg[k].params.dims);
	}
	for (size_t i = 0; i < g->nsteps; i++) {
		const struct step *st = &g->steps[i];
		key_add_u64(&kb, st->state == STEP_DONE);
		if (st->state != STEP_DONE)
			continue;
		key_add_digest(&kb, &st->key);
		key_add_digest(&kb, &st->output_digest);
		key_add_u64(&kb, st->meta.tokens_in);
		key_add_u64(&kb, st->meta.tokens_out);
		key_add_u64(&kb, (uint64_t)st->meta.corrections << 16 | st->meta.dropped_quotes);
	}
	key_end(&kb, out);
}

void results_inputs(const struct step_config *cfg, uint64_t format_version, const char *script_name,
                    const char *script_digest_hex, int64_t mtime, struct digest *out)
{
	struct key_builder kb;
	key_begin(&kb);
	key_add_str(&kb, SCRIPTBUILD_VERSION);
	key_add_u64(&kb, KEY_FORMAT_VERSION);
	key_add_u64(&kb, RESULT_RULES_VERSION);
	key_add_u64(&kb, format_version);
	key_add_str(&kb, script_name);
	key_add_str(&kb, script_digest_hex);
	key_add_u64(&kb, (uint64_t)mtime);
	for (int k = 0; k < STEP_KINDS; k++) {
		struct digest d;
		step_config_digest(&cfg[k], 1, &d);
		key_add_digest(&kb, &d);
		step_config_digest(&cfg[k], 0, &d);
		key_add_digest(&kb, &d);
	}
	key_end(&kb, out);
}
