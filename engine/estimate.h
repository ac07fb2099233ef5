/* estimate.h - what stale steps will cost before anything is spent, learned from the results this cache already
 * holds: the mean tokens per kind and model of earlier requests, falling back to a rule on the input's size. */
#ifndef SB_ESTIMATE_H
#define SB_ESTIMATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "keys.h"

struct cache;
struct estimator;

/* One step's estimate. */
struct step_estimate {
	uint64_t tokens_in, tokens_out;          /* the expected figures */
	uint64_t cache_read, cache_write;        /* of tokens_in: expected from the provider's prompt cache, by its
	                                            history's shares */
	uint64_t tokens_out_low, tokens_out_high; /* the range of the answer's length */
	double cost, cost_low, cost_high;        /* USD; 0 for builtin */
	bool price_known;                        /* false: cfg's model has no price (cost fields are 0) */
	bool learned;                            /* from the cache's history (else the max_tokens rule) */
	bool cache_write_hour;                   /* the writes are priced at the one-hour lifetime's 2x */
	uint64_t history;                        /* earlier results the basis averages */
};

/* The history kept in cache c (an empty one when it holds none or cannot be read). Never NULL. */
struct estimator *estimate_load(struct cache *c);

/* Frees e; NULL is fine. */
void estimate_free(struct estimator *e);

/* Estimates st under cfg (its kind's config) from the history, else from the rule: input by size, output half of
 * max_tokens within [max_tokens / 10, max_tokens]. */
void estimate_step(const struct estimator *e, const struct graph *g, const struct step *st,
                   const struct step_config *cfg, struct step_estimate *out);

/* Adds one finished request to the history: the steps it served (indexes into g) and the usage it reported. */
void estimate_learn(struct estimator *e, const struct graph *g, const size_t *steps, size_t n,
                    const struct step_config *cfg, uint64_t tokens_in, uint64_t tokens_out);

/* Adds what the prompt cache did for the request estimate_learn just took (tokens_in in all, cache_read and
 * cache_write of them; its prompt's scene blocks nblocks, the first one new in this run first_fresh, 0 for a cold
 * prompt), so that estimates price those shares at their multipliers: cold prompts by the share written, re-runs by
 * how much of the prefix the breakpoints before the first new block predicted was really read. */
void estimate_learn_cache(struct estimator *e, enum step_kind kind, const struct step_config *cfg, uint64_t tokens_in,
                          uint64_t cache_read, uint64_t cache_write, size_t first_fresh, size_t nblocks);

/* Whether the run the estimates are for uses the provider's prompt cache, and with the one-hour lifetime (writes cost
 * 2x instead of 1.25x); by default it does, for five minutes. Off: every input token at full price. */
void estimate_set_prompt_cache(struct estimator *e, bool enabled, bool hour);

/* Stores the history in c when it learned something; 0, or -1 with err. */
int estimate_save(struct estimator *e, struct cache *c, char *err, size_t errlen);

/* "history (N results)" or "max_tokens rule (no history)" for est (static text or buf). */
const char *estimate_basis(const struct step_estimate *est, char *buf, size_t len);

#endif
