/* builtin_sheet.c - the offline analyser's statistical character sheet. */
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

/* Distinct content terms of a line: how much it says. */
static size_t substance(const char *line)
{
	struct terms t = {0};
	builtin_add_terms(&t, line);
	builtin_terms_sort(&t);
	builtin_terms_unique(&t);
	free(t.h);
	return t.n;
}

static void add_counted(struct buf *b, const char *what, int n, const char *one, const char *many)
{
	buf_printf(b, "%s%d %s", what, n, n == 1 ? one : many);
}

/* One sentence of facts: how much the character speaks, with whom and where; "most often" and "usually" only when a
 * partner or a place really recurs. top_partner and top_place index the largest counts (when there are any). */
static char *describe(const char *name, int cues, int words, size_t n, const struct tally *partners,
                      size_t top_partner, const struct tally *places, size_t top_place)
{
	struct buf b = {0};
	buf_puts(&b, name);
	if (cues == 1)
		buf_printf(&b, " speaks once (%d word%s)", words, words == 1 ? "" : "s");
	else
		buf_printf(&b, " speaks %d times (%d words)", cues, words);
	add_counted(&b, " in ", (int)n, "scene", "scenes");
	bool with = partners->n > 0;
	if (with && partners->count[top_partner] >= 2) {
		buf_printf(&b, ", most often alongside %s", partners->name[top_partner]);
		add_counted(&b, " (", partners->count[top_partner], "scene)", "scenes)");
	} else if (with) {
		buf_puts(&b, ", alongside ");
		builtin_add_names(&b, partners->name, partners->n);
	}
	if (places->n && places->count[top_place] >= 2) {
		buf_printf(&b, "%s usually at %s", with ? " and" : ",", places->name[top_place]);
		add_counted(&b, " (", places->count[top_place], "scene)", "scenes)");
	} else if (places->n == 1) {
		buf_printf(&b, "%s at %s", with ? " and" : ",", places->name[0]);
	} else if (places->n) {
		buf_printf(&b, "%s in %zu different places", with ? " and" : ",", places->n);
	}
	buf_puts(&b, ".");
	return b.data;
}

cJSON *builtin_sheet(const struct fountain_script *s, size_t character, const cJSON *const *summaries, size_t n)
{
	if (!s || character >= s->ncharacters || n != s->characters[character].nscenes || (n && !summaries))
		return NULL;
	const struct fountain_character *ch = &s->characters[character];
	int cues = 0, words = 0;
	int *scene_words = xcalloc(n, sizeof(int));
	struct lines said = {0};
	struct tally partners = {0}, places = {0};
	for (size_t i = 0; i < n; i++) {
		const struct fountain_scene *sc = fountain_scene_by_index(s, ch->scenes[i]);
		for (size_t c = 0; c < sc->ncues; c++) {
			if (strcmp(sc->cues[c].name, ch->name) != 0)
				continue;
			cues++;
			words += sc->cues[c].words;
			scene_words[i] += sc->cues[c].words;
			builtin_dialogue_lines(sc->cues[c].dialogue, &said);
		}
		if (sc->location && *sc->location)
			builtin_tally_add(&places, sc->location, 1);
		const cJSON *c;
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(summaries[i], "characters"))
			if (cJSON_IsString(c) && strcmp(c->valuestring, ch->name) != 0)
				builtin_tally_add(&partners, c->valuestring, 1);
	}

	/* Key lines: the ones that say the most, each text once, in script order. */
	struct ranked *rank = xcalloc(said.n, sizeof(*rank));
	for (size_t i = 0; i < said.n; i++)
		rank[i] = (struct ranked){i, (double)substance(said.v[i]), strlen(said.v[i])};
	qsort(rank, said.n, sizeof(*rank), builtin_cmp_ranked);
	size_t keys[SHEET_KEY_LINES], nkeys = 0;
	for (size_t i = 0; i < said.n && nkeys < SHEET_KEY_LINES; i++) {
		bool dup = false;
		for (size_t k = 0; k < nkeys; k++)
			dup = dup || strcmp(said.v[keys[k]], said.v[rank[i].index]) == 0;
		if (!dup)
			keys[nkeys++] = rank[i].index;
	}
	qsort(keys, nkeys, sizeof(size_t), builtin_cmp_size);

	/* Turning scenes: first appearance, the scene where it says the most, last appearance. */
	size_t turning[3], nturning = 0;
	if (n) {
		size_t most = 0;
		for (size_t i = 1; i < n; i++)
			if (scene_words[i] > scene_words[most])
				most = i;
		size_t cand[3] = {1, most + 1, n};
		for (size_t i = 0; i < 3; i++)
			if (nturning == 0 || cand[i] > turning[nturning - 1])
				turning[nturning++] = cand[i];
	}

	size_t top_partners[SHEET_PARTNERS] = {0}, top_places[SHEET_LOCATIONS] = {0};
	size_t npartners = builtin_tally_top(&partners, SHEET_PARTNERS, top_partners);
	size_t nplaces = builtin_tally_top(&places, SHEET_LOCATIONS, top_places);

	char *desc = describe(ch->name, cues, words, n, &partners, top_partners[0], &places, top_places[0]);

	cJSON *o = builtin_must(cJSON_CreateObject());
	builtin_put_str(o, "description", desc);
	builtin_put_str(o, "want", "");
	builtin_put_str(o, "need", "");
	builtin_put_str(o, "arc", "");
	cJSON *a = builtin_put_array(o, "turning_scenes");
	for (size_t i = 0; i < nturning; i++)
		cJSON_AddItemToArray(a, builtin_must(cJSON_CreateNumber((double)turning[i])));
	a = builtin_put_array(o, "relationships");
	for (size_t i = 0; i < npartners; i++) {
		cJSON *r = builtin_must(cJSON_CreateObject());
		cJSON_AddItemToArray(a, r);
		builtin_put_str(r, "character", partners.name[top_partners[i]]);
		char *rel = xasprintf("shares %d scene%s", partners.count[top_partners[i]],
		                      partners.count[top_partners[i]] == 1 ? "" : "s");
		builtin_put_str(r, "relation", rel);
		free(rel);
	}
	a = builtin_put_array(o, "key_lines");
	for (size_t i = 0; i < nkeys; i++)
		builtin_push_str(a, said.v[keys[i]]);
	builtin_put_str(o, "name", ch->name);
	builtin_put_int(o, "scene_count", (long long)n);
	builtin_put_int(o, "cues", cues);
	builtin_put_int(o, "words", words);
	a = builtin_put_array(o, "partners");
	for (size_t i = 0; i < npartners; i++) {
		cJSON *r = builtin_must(cJSON_CreateObject());
		cJSON_AddItemToArray(a, r);
		builtin_put_str(r, "character", partners.name[top_partners[i]]);
		builtin_put_int(r, "scenes", partners.count[top_partners[i]]);
	}
	a = builtin_put_array(o, "locations");
	for (size_t i = 0; i < nplaces; i++) {
		cJSON *r = builtin_must(cJSON_CreateObject());
		cJSON_AddItemToArray(a, r);
		builtin_put_str(r, "location", places.name[top_places[i]]);
		builtin_put_int(r, "scenes", places.count[top_places[i]]);
	}
	builtin_put_str(o, "analyser", BUILTIN_ANALYSER);

	free(desc);
	free(rank);
	builtin_lines_free(&said);
	builtin_tally_free(&partners);
	builtin_tally_free(&places);
	free(scene_words);
	return o;
}
