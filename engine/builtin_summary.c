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
		builtin_tally_add(&people, sc->characters[i], 1);
	builtin_capitalised_names(sc->action ? sc->action : "", sc->heading, &people, &props);

	struct terms tf = {0};
	builtin_add_terms(&tf, sc->action ? sc->action : "");
	for (size_t i = 0; i < sc->ncues; i++)
		builtin_add_terms(&tf, sc->cues[i].dialogue ? sc->cues[i].dialogue : "");
	builtin_terms_sort(&tf);

	/* The key line: the single line of dialogue that says the most about the scene (undamped, so the fuller line
	 * wins), verbatim. */
	char *key_line = NULL;
	const char *key_speaker = "";
	struct ranked best = {0, -1, 0};
	for (size_t i = 0; i < sc->ncues; i++) {
		struct lines said = {0};
		builtin_dialogue_lines(sc->cues[i].dialogue, &said);
		for (size_t k = 0; k < said.n; k++) {
			size_t nterms, nwords;
			struct ranked r = {0, builtin_term_weight(said.v[k], &tf, &nterms, &nwords), strlen(said.v[k])};
			if (builtin_cmp_ranked(&r, &best) < 0) {
				best = r;
				free(key_line);
				key_line = xstrdup(said.v[k]);
				key_speaker = sc->cues[i].name;
			}
		}
		builtin_lines_free(&said);
	}

	struct lines sentences = {0};
	builtin_split_sentences(sc->action ? sc->action : "", &sentences);
	struct ranked *rank = xcalloc(sentences.n, sizeof(*rank));
	for (size_t i = 0; i < sentences.n; i++)
		rank[i] = (struct ranked){i, builtin_salience(sentences.v[i], &tf, &people, i == 0), 0};
	qsort(rank, sentences.n, sizeof(*rank), builtin_cmp_ranked);
	size_t nevents = key_line ? SALIENT_SENTENCES : SALIENT_SENTENCES + 1;
	if (nevents > sentences.n)
		nevents = sentences.n;
	size_t *events = xcalloc(nevents, sizeof(size_t));
	for (size_t i = 0; i < nevents; i++)
		events[i] = rank[i].index;
	qsort(events, nevents, sizeof(size_t), builtin_cmp_size);

	struct buf text = {0};
	builtin_add_opening(&text, sc, &people);
	for (size_t i = 0; i < nevents; i++)
		builtin_add_sentence(&text, sentences.v[events[i]]);
	if (key_line)
		builtin_add_quote(&text, key_speaker, key_line);
	else if (!nevents)
		builtin_add_sentence(&text, sc->ncues ? "The dialogue is empty." : "The scene has no action or dialogue.");

	const char **texts = xcalloc(sc->ncues + 1, sizeof(char *));
	texts[0] = sc->action ? sc->action : "";
	for (size_t i = 0; i < sc->ncues; i++)
		texts[i + 1] = sc->cues[i].dialogue ? sc->cues[i].dialogue : "";

	cJSON *o = builtin_must(cJSON_CreateObject());
	builtin_put_str(o, "summary", text.data);
	builtin_put_str(o, "goal", "");
	builtin_put_str(o, "conflict", "");
	builtin_put_str(o, "outcome", "");
	builtin_put_str(o, "turning_point", "");
	builtin_put_str(o, "mood", builtin_mood_of(texts, sc->ncues + 1));
	builtin_put_str(o, "story_function", "");
	cJSON *a = builtin_put_array(o, "props");
	for (size_t i = 0; i < props.n && i < SUMMARY_PROPS; i++)
		builtin_push_str(a, props.name[i]);
	builtin_put_str(o, "heading", sc->heading);
	builtin_put_str(o, "location", sc->location);
	builtin_put_str(o, "time", sc->time);
	builtin_put_str(o, "time_of_day", fountain_time_name(sc->time_of_day));
	a = builtin_put_array(o, "characters");
	for (size_t i = 0; i < people.n; i++)
		builtin_push_str(a, people.name[i]);
	a = builtin_put_array(o, "events");
	for (size_t i = 0; i < nevents; i++)
		builtin_push_str(a, sentences.v[events[i]]);
	builtin_put_str(o, "key_line", key_line);
	builtin_put_str(o, "key_speaker", key_speaker);
	builtin_put_str(o, "analyser", BUILTIN_ANALYSER);

	free(texts);
	buf_free(&text);
	free(events);
	free(rank);
	builtin_lines_free(&sentences);
	free(key_line);
	free(tf.h);
	builtin_tally_free(&people);
	builtin_tally_free(&props);
	return o;
}
