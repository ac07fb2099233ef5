/* fakeapi_batch.h - the Message Batches endpoints of the fake API server (fakeapi_batch.c): POST /v1/messages/batches,
 * GET /v1/messages/batches/{id}, GET its results_url (JSONL, in random order) and POST .../cancel, answered from the
 * hooks fakeapi.c gives so that an item gets the very answer POST /v1/messages would give its params. */
#ifndef FAKEAPI_BATCH_H
#define FAKEAPI_BATCH_H

#include <stddef.h>

struct cJSON;

/* The batch modes: part of fakeapi's config, so a flag or POST /control sets them like any other. */
struct fake_batch_config {
	long delay_ms;            /* --batch-delay-ms: how long a batch is in_progress (items end evenly over it) */
	double errored;           /* --batch-errored: share of items that end "errored" (an api_error) */
	double expired;           /* --batch-expired: share of items that end "expired" */
	int ordered;              /* --batch-ordered: results in request order (default: shuffled, as documented) */
};

/* What set_option hears back from fake_batch_option. */
enum fake_batch_option { FAKE_BATCH_SET = 0, FAKE_BATCH_BAD = -1, FAKE_BATCH_NOT_MINE = 1 };

/* Sets the batch option name (without --) to value: FAKE_BATCH_SET, FAKE_BATCH_BAD with err, or FAKE_BATCH_NOT_MINE. */
enum fake_batch_option fake_batch_option(struct fake_batch_config *cfg, const char *name, const char *value,
					 char *err, size_t errlen);

/* Adds the batch options to a config JSON object (POST /control's answer). */
void fake_batch_config_json(const struct fake_batch_config *cfg, struct cJSON *root);

/* Answers one item's params exactly as POST /v1/messages answers that body: *status 200 and the message JSON, or an
 * error status and the API's error JSON; malloc'd (NULL: out of memory). */
typedef char *fake_batch_answer(void *ctx, const char *params, size_t len, unsigned *status);

/* Whether method + url is one of the batch endpoints (so the body limit is the batch API's 256 MB). */
int fake_batch_url(const char *method, const char *url);

/* Serves a batch endpoint: sets *status and *reply (malloc'd JSON, or JSONL for results). key_expected: "" accepts
 * any key; host: the request's Host header, for results_url. seed: the server's seed. */
void fake_batch_serve(const struct fake_batch_config *cfg, const char *method, const char *url, const char *api_key,
		      const char *version, const char *key_expected, const char *host, unsigned long long seed,
		      const char *body, size_t len, fake_batch_answer *answer, void *ctx, unsigned *status,
		      char **reply);

/* Adds "batches": {submissions, polls, results_fetched, cancels, items, succeeded, errored, expired, canceled,
 * rejected} to a /stats object. */
void fake_batch_stats(struct cJSON *root);

/* Zeroes the counters (POST /reset); batches themselves live on. */
void fake_batch_reset(void);

#endif
