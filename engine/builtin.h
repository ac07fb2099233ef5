/* builtin.h - the deterministic offline analyser: the default provider when no API key is set.
 *
 * Every function is a pure function of exactly the inputs its action key covers, so a cached result never goes
 * stale and a cold run equals an incremental one byte for byte:
 *   summary  - the scene (its text and the parser's facts about it), nothing else of the script;
 *   outline  - every summary in order, scene headings, the title, and the author's sections and synopses;
 *   sheet    - the character's name, its own cues, and the headings and summaries of its scenes in order
 *              (scene references in the sheet are ordinals 1..k into that list, never global indexes);
 *   embed    - the text and the dimension count. */
#ifndef SB_BUILTIN_H
#define SB_BUILTIN_H

#include <stddef.h>

struct cJSON;
struct fountain_script;
struct loop;
struct provider;

#define BUILTIN_ANALYSER "scriptbuild-builtin/1"
#define BUILTIN_DEFAULT_DIMS 256

/* Summary object of scene (1-based) of s, or NULL when there is no such scene; caller deletes it. */
struct cJSON *builtin_summary(const struct fountain_script *s, size_t scene);

/* Outline object over summaries[0..n) (one per scene, in order) of s; caller deletes it. */
struct cJSON *builtin_outline(const struct fountain_script *s, const struct cJSON *const *summaries, size_t n);

/* Sheet object of s->characters[character] over the summaries of its scenes in order (n must be its scene count),
 * or NULL when the arguments do not match the script; caller deletes it. */
struct cJSON *builtin_sheet(const struct fountain_script *s, size_t character, const struct cJSON *const *summaries,
                            size_t n);

/* Feature-hashing embedding of text into dims floats at out: word unigrams and bigrams, sublinear TF, L2-normalised
 * (all zeros only for a text without words). */
void builtin_embed(const char *text, size_t dims, float *out);

/* The builtin provider on loop: runs each job in-process and completes it through loop_defer. */
struct provider *builtin_provider_new(struct loop *loop);

#endif
