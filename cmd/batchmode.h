/* batchmode.h - what scriptbuild shows of message batches: the status line of the batches being polled, the batch
 * line of the run's summary, and -t batches [--cancel]. */
#ifndef SB_BATCHMODE_H
#define SB_BATCHMODE_H

#include <stdbool.h>

#include "batch.h"
#include "build.h"

struct cache;
struct loop;
struct net_config;

/* Where the batches' progress goes: a terminal's status line, else a line when something changed. */
struct batch_view {
	bool tty, verbose, quiet;
	bool *line_open;          /* the caller's "a status line is open" flag, which this sets */
	size_t last_index, last_done;
	char last_status[16];
};

/* A batch_options.progress for a struct batch_view: "batch 2/2: 812 of 1000 done, 37 min". */
void batchmode_progress(void *ctx, const struct batch_progress *p);

/* A batch_options.warn for a struct batch_view: "scriptbuild: warning: ..." on a line of its own. */
void batchmode_warn(void *ctx, const char *message);

/* The summary's batch line: batches submitted and resumed, requests, what they cost and what batch mode saved. */
void batchmode_summary(const struct build_result *r, const struct step_config *cfg, const struct batch_totals *t);

/* -t batches: lists the batches recorded in c with age, requests and results kept; with cancel asks the API (net's
 * endpoint, on l) to cancel each and forgets it. The exit code (0 ok, 1 a cancel or the cache failed). */
int batchmode_tool(struct cache *c, struct loop *l, const struct net_config *net, bool cancel);

#endif
