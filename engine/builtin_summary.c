/* builtin_summary.c - the offline analyser's extractive scene summary. */
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

cJSON *builtin_summary(const struct fountain_script *s, size_t scene)
{
	if (!s || scene == 0 || scene > s->nscenes)
		return NULL;
	const struct fountain_scene *sc = &s->scenes[scene - 1];
	struct tally people = {0}, props = {0};
	for (size_t i = 0; i < sc->ncharacters; i++)
		tally_add(&people, sc->characters[i], 1);
	capitalised_names(sc->action ? sc->action : "", sc->heading, &people, &props);

	struct terms tf = {0};
	add_terms(&tf, sc->action ? sc->action : "");
	for (size_t i = 0; i < sc->ncues; i++)
		add_terms(&tf, sc->cues[i].dialogue ? sc->cues[i].dialogue : "");
	terms_sort(&tf);

	/* The key line: the single line of dialogue that says the most about the scene (undamped, so the fuller line
	 * wins), verbatim. */
	char *key_line = NULL;
	const char *key_speaker = "";
	struct ranked best = {0, -1, 0};
	for (size_t i = 0; i < sc->ncues; i++) {
		struct lines said = {0};
		dialogue_lines(sc->cues[i].dialogue, &said);
		for (size_t k = 0; k < said.n; k++) {
			size_t nterms, nwords;
			struct ranked r = {0, term_weight(said.v[k], &tf, &nterms, &nwords), strlen(said.v[k])};
			if (cmp_ranked(&r, &best) < 0) {
				best = r;
				free(key_line);
				key_line = xstrdup(said.v[k]);
				key_speaker = sc->cues[i].name;
			}
		}
		lines_free(&said);
	}

	struct lines sentences = {0};
	split_sentences(sc->action ? sc->action : "", &sentences);
	struct ranked *rank = xcalloc(sentences.n, sizeof(*rank));
	for (size_t i = 0; i < sentences.n; i++)
		rank[i] = (struct ranked){i, salience(sentences.v[i], &tf, &people, i == 0), 0};
	qsort(rank, sentences.n, sizeof(*rank), cmp_ranked);
	size_t nevents = key_line ? SALIENT_SENTENCES : SALIENT_SENTENCES + 1;
	if (nevents > sentences.n)
		nevents = sentences.n;
	size_t *events = xcalloc(nevents, sizeof(size_t));
	for (size_t i = 0; i < nevents; i++)
		events[i] = rank[i].index;
	qsort(events, nevents, sizeof(size_t), cmp_size);

	struct buf text = {0};
	add_opening(&text, sc, &people);
	for (size_t i = 0; i < nevents; i++)
		add_sentence(&text, sentences.v[events[i]]);
	if (key_line)
		add_quote(&text, key_speaker, key_line);
	else if (!nevents)
		add_sentence(&text, sc->ncues ? "The dialogue is empty." : "The scene has no action or dialogue.");

	const char **texts = xcalloc(sc->ncues + 1, sizeof(char *));
	texts[0] = sc->action ? sc->action : "";
	for (size_t i = 0; i < sc->ncues; i++)
		texts[i + 1] = sc->cues[i].dialogue ? sc->cues[i].dialogue : "";

	cJSON *o = must(cJSON_CreateObject());
	put_str(o, "summary", text.data);
	put_str(o, "goal", "");
	put_str(o, "conflict", "");
	put_str(o, "outcome", "");
	put_str(o, "turning_point", "");
	put_str(o, "mood", mood_of(texts, sc->ncues + 1));
	put_str(o, "story_function", "");
	cJSON *a = put_array(o, "props");
	for (size_t i = 0; i < props.n && i < SUMMARY_PROPS; i++)
		push_str(a, props.name[i]);
	put_str(o, "heading", sc->heading);
	put_str(o, "location", sc->location);
	put_str(o, "time", sc->time);
	put_str(o, "time_of_day", fountain_time_name(sc->time_of_day));
	a = put_array(o, "characters");
	for (size_t i = 0; i < people.n; i++)
		push_str(a, people.name[i]);
	a = put_array(o, "events");
	for (size_t i = 0; i < nevents; i++)
		push_str(a, sentences.v[events[i]]);
	put_str(o, "key_line", key_line);
	put_str(o, "key_speaker", key_speaker);
	put_str(o, "analyser", BUILTIN_ANALYSER);

	free(texts);
	buf_free(&text);
	free(events);
	free(rank);
	lines_free(&sentences);
	free(key_line);
	free(tf.h);
	tally_free(&people);
	tally_free(&props);
	return o;
}
