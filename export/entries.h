/* entries.h - the JSON entries of the archive: scenes.jsonl, summaries.jsonl, outline.json, sheets.jsonl. */
#ifndef SB_ENTRIES_H
#define SB_ENTRIES_H

#include <stddef.h>

#include "analysis.h"

/* Each encoder writes its entry's bytes into *out (malloc'd, *len bytes): one compact JSON object per line, step
 * outputs re-emitted compactly so the bytes depend only on content; 0, or -1 with err naming the bad record. */
int entries_encode_scenes(const struct analysis *a, char **out, size_t *len, char *err, size_t errlen);
int entries_encode_summaries(const struct analysis *a, char **out, size_t *len, char *err, size_t errlen);
int entries_encode_outline(const struct analysis *a, char **out, size_t *len, char *err, size_t errlen);
int entries_encode_sheets(const struct analysis *a, char **out, size_t *len, char *err, size_t errlen);

/* Each decoder parses its entry (NUL-terminated at text[len]) into a, checking every field; the model of each record
 * must equal a->models[its kind] (already read from the manifest). 0, or -1 with err "ENTRY line N: what". */
int entries_decode_scenes(const char *text, size_t len, struct analysis *a, char *err, size_t errlen);
/* Needs a->nscenes from entries_decode_scenes: one line per scene, in order. */
int entries_decode_summaries(const char *text, size_t len, struct analysis *a, char *err, size_t errlen);
int entries_decode_outline(const char *text, size_t len, struct analysis *a, char *err, size_t errlen);
int entries_decode_sheets(const char *text, size_t len, struct analysis *a, char *err, size_t errlen);

#endif
