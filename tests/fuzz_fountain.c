/* fuzz_fountain.c - libFuzzer target: the Fountain parser on any bytes, then its JSON, with the invariants the rest of
 * the engine relies on checked (an abort is a finding). Seeds: tests/fuzz/fountain and fixtures/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fountain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_fountain: invariant broken: %s\n", what);
		abort();
	}
}

static void check_scene(const struct fountain_script *s, size_t i)
{
	const struct fountain_scene *sc = &s->scenes[i];
	require(sc->index == i + 1, "scene index is its 1-based position");
	require(sc->heading && sc->text && sc->action && sc->location, "scene strings are set");
	require(strlen(sc->text) == sc->text_len, "text_len is the length of text");
	require(sc->line >= 1 && sc->line <= s->nlines, "scene line within the file");
	require(i == 0 || sc->line > s->scenes[i - 1].line, "scenes in file order");
	for (size_t c = 0; c < sc->ncues; c++) {
		const struct fountain_cue *cue = &sc->cues[c];
		require(cue->line >= sc->line && cue->line <= s->nlines, "cue line within its scene");
		require(cue->name && cue->dialogue && cue->words >= 0, "cue fields are set");
		const struct fountain_character *ch = fountain_find_character(s, cue->name);
		require(ch != NULL, "every cue's name is a character");
		int speaks_here = 0;
		for (size_t k = 0; k < ch->nscenes; k++)
			speaks_here |= ch->scenes[k] == sc->index;
		require(speaks_here, "the character lists the scene of its cue");
	}
}

static void check_characters(const struct fountain_script *s)
{
	for (size_t i = 0; i < s->ncharacters; i++) {
		const struct fountain_character *ch = &s->characters[i];
		require(fountain_find_character(s, ch->name) == ch, "a character is found by its name");
		require(ch->nscenes >= 1 && ch->cues >= 1, "a character speaks somewhere");
		for (size_t k = 0; k < ch->nscenes; k++)
			require(ch->scenes[k] >= 1 && ch->scenes[k] <= s->nscenes && (k == 0 || ch->scenes[k] > ch->scenes[k - 1]),
			        "a character's scenes are ascending scene indexes");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fountain_script *s = NULL;
	struct fountain_error err;
	if (fountain_parse((const char *)data, size, &s, &err) < 0) {
		require(s == NULL, "no script on error");
		require(err.message[0] != '\0' && memchr(err.message, '\0', sizeof err.message), "an error has a message");
		require(err.offset <= size, "error offset within the input");
		return 0;
	}
	require(s != NULL && s->nlines >= 1, "a parse has lines");
	for (size_t i = 0; i < s->nscenes; i++)
		check_scene(s, i);
	check_characters(s);
	for (size_t i = 0; i < s->nsections; i++)
		require(s->sections[i].next_scene >= 1 && s->sections[i].next_scene <= s->nscenes + 1, "section next_scene");
	for (size_t i = 0; i < s->nsynopses; i++)
		require(s->synopses[i].scene <= s->nscenes && s->synopses[i].next_scene <= s->nscenes + 1, "synopsis scenes");
	cJSON *json = fountain_to_json(s);
	require(json != NULL, "the parse converts to JSON");
	char *text = cJSON_PrintUnformatted(json);
	require(text != NULL, "the JSON prints");
	free(text);
	cJSON_Delete(json);
	fountain_free(s);
	return 0;
}
