/* batch.h - Anthropic's Message Batches as a provider: the LLM jobs started in one loop turn go out as one batch (a
 * wave, split at the API's limits), polled with backoff; each result passes the reader a synchronous answer passes
 * (correction turns, errored and expired items go into the next wave), and every batch in flight is recorded in the
 * cache, so a run that is killed leaves the next run something to resume instead of something to pay for again. */
#ifndef SB_BATCH_H
#define SB_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "job.h"

struct cache;
struct loop;
struct net_config;
struct provider;

/* The documented limits of one batch. */
#define BATCH_MAX_REQUESTS 100000
#define BATCH_MAX_BYTES ((size_t)256 << 20)

/* What the status line shows of a batch: "batch 2/2: 812 of 1000 done, 37 min". */
struct batch_progress {
	const char *id;
	size_t index, count;      /* the batch is index of count this run knows (1-based) */
	size_t done, total;       /* its requests that ended so far, of total */
	double age_s;             /* since it was created */
	const char *status;       /* "submitted", "resumed", "in_progress", "canceling", "ended" */
};

struct batch_options {
	struct cache *cache;      /* where batches in flight are recorded (required) */
	bool fallback_sync;       /* --batch-fallback sync: correction turns, errored and expired items go synchronously */
	long poll_min_ms;         /* first and shortest wait between polls; <= 0: $SCRIPTBUILD_BATCH_POLL_MS, else 2000 */
	long poll_max_ms;         /* longest wait; <= 0: 60000 */
	size_t max_requests;      /* most requests per batch; 0: BATCH_MAX_REQUESTS */
	size_t max_bytes;         /* most body bytes per batch; 0: BATCH_MAX_BYTES */
	int max_resubmits;        /* times an item that errored, expired or answered unusably is sent again; 0: 3 */
	void (*progress)(void *ctx, const struct batch_progress *p);  /* after every poll; may be NULL */
	void (*warn)(void *ctx, const char *message);                 /* what the user should know; may be NULL */
	void *ctx;
};

/* What the batches of a run did. */
struct batch_totals {
	unsigned long submitted;  /* batches this run created */
	unsigned long resumed;    /* batches earlier runs created that this run collected from */
	unsigned long items;      /* requests sent in them */
	unsigned long resubmitted;  /* items sent again (errored, expired, correction turns, cut off) */
	unsigned long polls;
	unsigned long stored;     /* results of earlier runs' batches taken from their records */
	unsigned long running;    /* batches still running (recorded: the next run resumes them) */
};

/* Replaces the provider of every kind that uses "anthropic" in p with one batch provider, which takes over the
 * synchronous provider (for --batch-fallback sync) and destroys it with itself. The number of kinds now batched
 * (0: nothing uses anthropic, p unchanged), or -1 with err. */
int batch_wrap_providers(struct provider *p[STEP_KINDS], const struct run_config *rc, struct loop *l,
                         const struct net_config *net, const struct batch_options *o, char *err, size_t errlen);

/* Marks the LLM kinds of rc that use "anthropic" as batched (priced at the batch rate: -n --batch shows the plan with
 * batch prices); the number marked. */
int batch_mark_config(struct run_config *rc);

/* The totals of the batch provider among p (zeros when there is none). */
void batch_totals(struct provider *const p[STEP_KINDS], struct batch_totals *t);

/* One recorded batch, as -t batches lists it. */
struct batch_record {
	const char *id;
	const char *endpoint;     /* the API's base URL it was submitted to */
	int64_t created;          /* unix seconds */
	size_t requests;          /* requests still wanted from it (unclaimed results included) */
	size_t by_kind[STEP_KINDS];
	size_t results;           /* results already fetched and kept for a later run (the batch ended) */
};

/* Calls fn for every batch recorded in c; 0, or -1 with err. */
int batch_each_record(struct cache *c, void (*fn)(void *ctx, const struct batch_record *r), void *ctx, char *err,
                      size_t errlen);

/* Asks the API at net's endpoint to cancel batch id, waiting on l for the answer; on success forgets its record.
 * 0, or -1 with err. */
int batch_cancel(struct cache *c, struct loop *l, const struct net_config *net, const char *id, char *err,
                 size_t errlen);

#endif
