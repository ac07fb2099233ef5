/* buildlog.h - the per-script build log: last run's inputs and keys, kept in the cache to explain staleness. */
#ifndef SB_BUILDLOG_H
#define SB_BUILDLOG_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "keys.h"

struct cache;
struct build_log;

/* The name of script_path's record: a digest of its path relative to base_dir (the project file's directory, or the
 * working directory when NULL), so that a checkout elsewhere finds the same record; a script outside base_dir is
 * named by its real path. A digest, since LMDB keys are short and paths need not be (malloc'd). */
char *build_log_name_for(const char *script_path, const char *base_dir);

/* The provider and model the recorded build used for kind (pointers into rec); 0, or -1 when rec does not say. */
int build_log_last_provider(const struct build_log *rec, enum step_kind kind, const char **provider, const char **model);

/* Loads the record stored under name; NULL when there is none or it cannot be read (explanations degrade). */
struct build_log *build_log_load(struct cache *c, const char *name);

/* Frees a record; NULL is fine. */
void build_log_free(struct build_log *rec);

/* Why st (whose key is computed and missed the cache) must run: "new scene", "scene text changed", "prompt changed",
 * "model or parameters changed", "upstream summary changed", "never built", ... (malloc'd). rec may be NULL. */
char *build_log_explain(const struct build_log *rec, const struct graph *g, const struct step *st,
                     const struct step_config *cfg);

/* 1 when rec says the archive at path was written from identity and the file there is still the one it wrote
 * (same inode, size and modification time), so a no-op run need not write it again. */
int build_log_archive_current(const struct build_log *rec, const char *path, const struct digest *identity);

/* What the complete build that wrote an archive counted, as its record keeps it. */
struct build_log_tally {
	size_t steps[STEP_KINDS];          /* wanted steps per kind, all done */
	uint64_t tokens_in, tokens_out;    /* what their results cost when they ran */
	const struct cJSON *dropped_quotes;  /* {character: quotations dropped from the sheet}, a pointer into the record */
	struct digest probe;               /* the key of one of its results (the outline's) */
};

/* 1 when rec says a complete build of exactly inputs (results_inputs), in the cache's epoch (cache_epoch), wrote or
 * confirmed the archive at path and the file there is still the one it saw (same inode, size and modification
 * time); *tally is then filled. */
int build_log_inputs_current(const struct build_log *rec, const char *path, const struct digest *inputs,
                             uint64_t epoch, struct build_log_tally *tally);

struct stat;

/* Stores this run's record under name (configs, scene text digests, keys of the steps that are done, and the
 * archive at archive_path with its identity when archive_path is not NULL, stamped with written: the file this run
 * wrote, as fstat saw it before the rename; NULL when it wrote none because the archive was up to date). inputs, when
 * not NULL, says the build was complete and from which inputs, in which epoch of the cache, with its tally. 0, or -1. */
int build_log_save(struct cache *c, const char *name, const struct graph *g, const struct step_config *cfg,
                const char *archive_path, const struct stat *written, const struct digest *identity,
                const struct digest *inputs, uint64_t epoch, char *err, size_t errlen);

#endif
