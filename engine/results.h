/* results.h - turns a finished graph into the analysis the archive carries. */
#ifndef SB_RESULTS_H
#define SB_RESULTS_H

#include "analysis.h"
#include "graph.h"
#include "keys.h"

/* Collects every done step of g into a new analysis (free with analysis_free); partial when a wanted step of the
 * full graph is not done. Sheets' scene ordinals become global scene indexes here, at the last moment, so the
 * cached sheet stays valid wherever its scenes move. */
struct analysis *results_collect(const struct graph *g, const struct step_config *cfg, const char *script_name,
                                 const char *script_digest_hex);

/* A digest of everything results_collect and the archive writer read (tool version, names, script digest, providers,
 * every step's state, key, output and tokens, mtime): equal identities give byte-identical archives. */
void results_identity(const struct graph *g, const struct step_config *cfg, const char *script_name,
                      const char *script_digest_hex, int64_t mtime, struct digest *out);

struct record;

enum archive_outcome { ARCHIVE_WRITTEN, ARCHIVE_WRITTEN_PARTIAL, ARCHIVE_UP_TO_DATE, ARCHIVE_FAILED };

/* Writes g's results to path unless previous says the file there already holds exactly them (then only the stale
 * temporary files a killed writer left are removed, as make leaves an up-to-date target alone); *identity is set
 * either way for the next build record. ARCHIVE_FAILED with err naming the path and cause. */
enum archive_outcome results_write_archive(const struct graph *g, const struct step_config *cfg,
                                           const char *script_name, const char *script_digest_hex, int64_t mtime,
                                           const char *path, const struct record *previous, struct digest *identity,
                                           char *err, size_t errlen);

#endif
