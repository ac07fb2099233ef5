/* load.h - imports a validated analysis into SQLite or PostgreSQL in ONE transaction. */
#ifndef SB_LOAD_H
#define SB_LOAD_H

#include <stddef.h>

#include "analysis.h"

/* Loads a into target ("PATH", "sqlite:PATH", "postgresql://..." or "postgres://...") under script_id (NULL: the
 * script name): schema created if missing, the script's rows replaced, all or nothing. 0, or -1 with err. */
int analysis_load(const char *target, const char *script_id, const struct analysis *a, char *err, size_t errlen);

/* Copies target into out (truncated to outlen) with any password in it shown as "***", for messages. */
void load_target_shown(const char *target, char *out, size_t outlen);

#endif
