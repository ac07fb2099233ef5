/* load.h - imports a validated analysis into SQLite or PostgreSQL in ONE transaction. */
#ifndef SB_LOAD_H
#define SB_LOAD_H

#include <stddef.h>

#include "analysis.h"

/* How long a load may wait on a PostgreSQL server (SQLite has its own fixed busy timeout). */
struct load_limits {
	long connect_timeout_ms;     /* connecting */
	long timeout_ms;             /* one statement, and any wait for the server to take or answer anything */
	long lock_timeout_ms;        /* waiting for a lock another session holds */
};

/* The defaults: 10 s to connect, 300 s per statement, 60 s for a lock. */
#define LOAD_LIMITS_DEFAULT { 10000, 300000, 60000 }

/* analysis_load within lim's bounds (NULL: LOAD_LIMITS_DEFAULT). */
int analysis_load_bounded(const char *target, const char *script_id, const struct analysis *a,
                          const struct load_limits *lim, char *err, size_t errlen);

/* Loads a into target ("PATH", "sqlite:PATH", "postgresql://..." or "postgres://...") under script_id (NULL: the
 * script name): schema created if missing, the script's rows replaced, all or nothing. 0, or -1 with err. */
int analysis_load(const char *target, const char *script_id, const struct analysis *a, char *err, size_t errlen);

/* Loads the n analyses into target in ONE transaction: all or none. ids[i] (ids may be NULL, an entry NULL) names
 * a's script instead of its script name; two analyses of one script id are refused. 0, or -1 with err and, when
 * bad is not NULL and one analysis is to blame (a duplicate id, rows that cannot be built), *bad its index (else n). */
int analysis_load_many(const char *target, const char *const *ids, const struct analysis *const *a, size_t n,
                       const struct load_limits *lim, size_t *bad, char *err, size_t errlen);

/* Copies target into out (truncated to outlen) with any password in it shown as "***", for messages. */
void load_target_shown(const char *target, char *out, size_t outlen);

#endif
