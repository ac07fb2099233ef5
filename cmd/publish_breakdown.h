/* publish_breakdown.h - the parser's breakdown facts into the archive's analysis (scenes' breakdown fields,
 * characters, page count): facts of the text, published whatever the providers did. */
#ifndef SB_PUBLISH_BREAKDOWN_H
#define SB_PUBLISH_BREAKDOWN_H

#include "analysis.h"
#include "fountain.h"

/* Fills a's scenes' breakdown fields (a's scenes must be script's, in order), a->characters and a->eighths. */
void publish_breakdown(struct analysis *a, const struct fountain_script *script);

#endif
