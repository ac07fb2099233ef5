/* breakdown_entries.h - the parser's breakdown facts in the archive: the extra fields of scenes.jsonl and the
 * characters.jsonl entry, written, read back and checked against each other. */
#ifndef SB_BREAKDOWN_ENTRIES_H
#define SB_BREAKDOWN_ENTRIES_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "analysis.h"

/* Adds s's breakdown fields to its scenes.jsonl object o: before_first_heading, int_ext, time_of_day, note, eighths,
 * action_words, dialogue_words, cast [{character, speaking, cues, words}]. Aborts when out of memory. */
void breakdown_encode_scene(cJSON *o, const struct analysis_scene *s);

/* Reads those fields of o into s; 0, or -1 with err "WHERE: what". */
int breakdown_decode_scene(const cJSON *o, struct analysis_scene *s, const char *where, char *err, size_t errlen);

/* characters.jsonl: per character {character, cues, words, share, scenes, first_scene, last_scene, mentioned_in,
 * copresence [{character, scenes}]}; 0, or -1 with err. */
int entries_encode_characters(const struct analysis *a, char **out, size_t *len, char *err, size_t errlen);

/* Parses characters.jsonl (NUL-terminated at text[len]) into a; needs a's scenes; 0, or -1 with err. */
int entries_decode_characters(const char *text, size_t len, struct analysis *a, char *err, size_t errlen);

/* Checks the facts against each other: scene indexes run from 0 or 1 in order with index 0 exactly the scene before
 * the first heading, eighths >= 1 summing to a->eighths, every speaker in its scene's cast, every cast member and
 * every scene of a character known; 0, or -1 with err naming the entry. */
int breakdown_check(const struct analysis *a, char *err, size_t errlen);

/* Frees the breakdown members of a (scene casts and notes, characters); analysis_free calls it. */
void breakdown_free(struct analysis *a);

#endif
