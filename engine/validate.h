/* validate.h - what makes an answer, or a stored result, valid now: clean text, unique keys, the schema's fields and
 * limits only, sane vectors. Shared by the providers (before anything is cached) and `-t verify` (after). */
#ifndef SB_VALIDATE_H
#define SB_VALIDATE_H

#include <stddef.h>

#include "digest.h"
#include "job.h"

struct cJSON;

/* Smallest and largest L2 norm an embedding may have: providers send unit vectors; zero or 3e38-valued ones are
 * broken answers, not embeddings. */
#define EMBEDDING_MIN_NORM 1e-3
#define EMBEDDING_MAX_NORM 1e3

/* Checks raw answer bytes: valid UTF-8 (no cut multi-byte character), no NUL byte and no \u0000 escape; 0, or -1
 * with err saying what and at which byte. */
int answer_check_bytes(const char *data, size_t len, char *err, size_t errlen);

/* Checks a parsed answer: every key and string valid UTF-8 without a control character other than newline and tab,
 * and no object with the same key twice; 0, or -1 with err naming the path. */
int answer_check_tree(const struct cJSON *v, char *err, size_t errlen);

/* Removes, recursively, every object member schema does not declare (additionalProperties false); the count removed. */
size_t answer_strip_unknown(const struct cJSON *schema, struct cJSON *v);

/* Checks one embedding of dims floats: every value finite, norm within [EMBEDDING_MIN_NORM, EMBEDDING_MAX_NORM];
 * want > 0 also demands dims == want. 0, or -1 with err. */
int embedding_check(const float *v, size_t dims, size_t want, char *err, size_t errlen);

/* Whether a stored result of kind, written by provider ("builtin" results carry the analyser's documented extra
 * facts), is valid under the current schema and rules: 0, or -1 with err saying what is wrong. kind may be
 * STEP_KINDS when the record does not say; it is then told from the bytes. */
int result_check(enum step_kind kind, const char *provider, const void *data, size_t len, char *err, size_t errlen);

/* What result_check's verdict depends on besides the bytes: bump when its rules change (the schemas' text is part of
 * the stamp by itself). */
#define RESULT_RULES_VERSION 1

/* The stamp naming result_check(kind, provider, ...) as this version runs it (its rules version, the kind's schema
 * text, whether provider is "builtin"): a result recorded as having passed under this stamp passes it again. */
void result_check_stamp(enum step_kind kind, const char *provider, struct digest *out);

/* kind, or when it is STEP_KINDS (a record that does not say) the kind the stored bytes are; STEP_KINDS when none. */
enum step_kind result_kind(enum step_kind kind, const void *data, size_t len);

#endif
