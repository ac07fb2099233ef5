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
	/* Scene N is the Nth heading; text before the first heading is scene 0, and only the first scene can be it. */
	require(sc->index == i + !s->scenes[0].implicit, "scene index is heading order (0 before the first heading)");
	require(!sc->implicit || i == 0, "only the first scene comes before a heading");
	require(sc->eighths >= 1 && sc->own_eighths >= 1 && sc->printed_lines >= 0, "every scene takes at least 1/8");
	for (size_t k = 0; k < sc->ncharacters; k++)
		require(k < sc->ncast && sc->cast[k].speaking && strcmp(sc->cast[k].name, sc->characters[k]) == 0,
		        "every speaker is in the cast, in first-cue order");
	for (size_t k = sc->ncharacters; k < sc->ncast; k++)
		require(!sc->cast[k].speaking, "after the speakers, only mentions");
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
			require(fountain_scene_by_index(s, ch->scenes[k]) != NULL && (k == 0 || ch->scenes[k] > ch->scenes[k - 1]),
			        "a character's scenes are ascending scene indexes");
		require(ch->share >= 0 && ch->share <= 1, "a share is a fraction");
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
	require(s != NULL && s->nlines >= 1 && s->nscenes >= 1, "a parse has lines and a scene");
	long eighths = 0;
	for (size_t i = 0; i < s->nscenes; i++)
		eighths += s->scenes[i].eighths;
	require(eighths == s->eighths, "the scenes' eighths sum to the page count");
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
