/* report.h - a run's numbers for people and programs: costs and the --report JSON (the -n estimate is estimate.c). cmd/ prints them. */
#ifndef SB_REPORT_H
#define SB_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "build.h"
#include "keys.h"
#include "pricing.h"

struct cJSON;
struct remote_counts;

/* USD that tin/tout tokens cost at cfg's model price; 0 for the builtin analyser and unknown models. */
double report_price(const struct step_config *cfg, uint64_t tin, uint64_t tout);

/* USD that u costs at cfg's model price, the prompt cache's reads and writes at their multipliers; 0 for the builtin
 * analyser and unknown models. */
double report_price_usage(const struct step_config *cfg, const struct token_usage *u);

/* The run's input tokens read from and written to the providers' prompt caches, all kinds together. */
void report_cache_tokens(const struct build_result *r, uint64_t *read, uint64_t *write);

/* USD the run's tokens cost, kind by kind, the prompt cache's reads and writes at their multipliers, message
 * batches' at the batch price. */
double report_cost(const struct build_result *r, const struct step_config *cfg);

/* USD that message batches saved this run: what their tokens would have cost at the standard price, less the batch
 * price paid. */
double report_batch_saving(const struct build_result *r, const struct step_config *cfg);

/* The --report object: steps per kind, requests, tokens, cost, seconds and the archive written (may be NULL). */
struct cJSON *report_json(const struct build_result *r, const struct step_config *cfg, double seconds,
                          const char *archive);

/* Adds to a --report object what repairing the answers took: "corrections" per LLM kind {turns, max_tokens_retries}
 * this run, "dropped_quotes" {total, by_sheet {NAME: n}} of the sheets g holds, "embedding_inputs" {truncated,
 * bisections} this run. */
void report_add_repairs(struct cJSON *root, const struct build_result *r, const struct graph *g);

/* Adds the remote cache's counts to a --report object as "remote": hits, misses, uploads, refused, errors,
 * dropped, bytes_down, bytes_up. */
void report_add_remote(struct cJSON *report, const struct remote_counts *c);

#endif
