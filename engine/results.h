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

#endif
