/* manifest.h - manifest.json: what the archive holds, how much of it, and the size and digest of every other entry. */
#ifndef SB_MANIFEST_H
#define SB_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "analysis.h"

/* The archive's entries in sorted byte order, which is also the order they are written in. */
enum entry_id {
	ENTRY_CHARACTERS, ENTRY_EMBEDDINGS, ENTRY_MANIFEST, ENTRY_OUTLINE, ENTRY_SCENES, ENTRY_SHEETS, ENTRY_SUMMARIES,
	ENTRIES
};

/* "embeddings.npy", "manifest.json", ...; indexed by enum entry_id. */
extern const char *const entry_names[ENTRIES];

/* Completed outputs: a failed step (partial archive) counts nothing. */
struct manifest_counts {
	uint64_t scenes, summaries, outline, sheets, embeddings;
};

struct manifest_entry {
	uint64_t size;
	char digest[33];             /* hex XXH3-128 of the entry's bytes */
};

/* What the manifest declares beyond the struct analysis fields it carries. */
struct manifest {
	struct manifest_counts counts;
	uint64_t embedding_rows;
	uint64_t embedding_dims;
	struct manifest_entry entries[ENTRIES];   /* every entry but ENTRY_MANIFEST */
	char **missing;                           /* "summary 3", "outline", "sheet NAME", "embedding 3" */
	size_t nmissing;
};

/* 1 when scene row i of a carries an embedding. */
int manifest_has_embedding(const struct analysis *a, size_t i);

/* The counts of a's completed outputs. */
void manifest_counts_of(const struct analysis *a, struct manifest_counts *c);

/* The steps a lacks, in entry order, as malloc'd strings in *missing; 0, or -1 when out of memory. */
int manifest_missing_of(const struct analysis *a, char ***missing, size_t *nmissing);

/* Frees a list from manifest_missing_of. */
void manifest_missing_free(char **missing, size_t nmissing);

/* The pretty-printed manifest text (malloc'd) for a whose other entries are described by entries; NULL when out of
 * memory. */
char *manifest_write(const struct analysis *a, const struct manifest_entry entries[ENTRIES]);

/* Parses and checks manifest text (NUL-terminated at text[len]) into a's header fields (tool version, script, partial,
 * models, steps, tokens, dims) and m; 0, or -1 with err "manifest.json: what". */
int manifest_read(const char *text, size_t len, struct analysis *a, struct manifest *m, char *err, size_t errlen);

/* Frees what manifest_read allocated in m. */
void manifest_clear(struct manifest *m);

#endif
