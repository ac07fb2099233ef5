/* record.h - the per-script build record: last run's inputs and keys, kept in the cache to explain staleness. */
#ifndef SB_RECORD_H
#define SB_RECORD_H

#include <stddef.h>

#include "graph.h"
#include "keys.h"

struct cache;
struct record;

/* The name of script_path's record: a digest of its real path, since LMDB keys are short and paths need not be
 * (malloc'd). */
char *record_name_for(const char *script_path);

/* Loads the record stored under name; NULL when there is none or it cannot be read (explanations degrade). */
struct record *record_load(struct cache *c, const char *name);

/* Frees a record; NULL is fine. */
void record_free(struct record *rec);

/* Why st (whose key is computed and missed the cache) must run: "new scene", "scene text changed", "prompt changed",
 * "model or parameters changed", "upstream summary changed", "never built", ... (malloc'd). rec may be NULL. */
char *record_explain(const struct record *rec, const struct graph *g, const struct step *st,
                     const struct step_config *cfg);

/* 1 when rec says the archive at path was written from identity and the file there is still the one it wrote
 * (same inode, size and modification time), so a no-op run need not write it again. */
int record_archive_current(const struct record *rec, const char *path, const struct digest *identity);

/* Stores this run's record under name (configs, scene text digests, keys of the steps that are done, and the
 * archive at archive_path with its identity when archive_path is not NULL). 0, or -1. */
int record_save(struct cache *c, const char *name, const struct graph *g, const struct step_config *cfg,
                const char *archive_path, const struct digest *identity, char *err, size_t errlen);

#endif
