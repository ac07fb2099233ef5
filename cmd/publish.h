/* publish.h - the front end's last step: a finished graph's results become the archive, unless it is up to date. */
#ifndef SB_PUBLISH_H
#define SB_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "analysis.h"
#include "graph.h"
#include "keys.h"
#include "results.h"

struct build_log;

enum publish_outcome { PUBLISH_WRITTEN, PUBLISH_WRITTEN_PARTIAL, PUBLISH_UP_TO_DATE, PUBLISH_FAILED };

/* The archive's kind for a step kind: an explicit table, so the two enums may differ in order or size. */
enum analysis_kind publish_kind(enum step_kind kind);

/* Turns results into the archive's struct analysis (free with analysis_free), taking the results' members (r is left
 * to be freed with results_free) and adding the names, digest and models the engine does not know. */
struct analysis *publish_analysis(struct results *r, const struct step_config *cfg, const char *script_name,
                                  const char *script_digest_hex);

/* Writes g's results to path unless previous says the file there already holds exactly them (then only the stale
 * temporary files a killed writer left are removed, as make leaves an up-to-date target alone); *identity is set
 * either way for the next build log. PUBLISH_FAILED with err naming the path and cause. */
enum publish_outcome publish_archive(const struct graph *g, const struct step_config *cfg, const char *script_name,
                                     const char *script_digest_hex, int64_t mtime, const char *path,
                                     const struct build_log *previous, struct digest *identity, char *err, size_t errlen);

#endif
