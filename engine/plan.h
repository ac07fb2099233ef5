/* plan.h - the dry run's plan (-n): every stale step with its reason and estimate, and totals per kind, as JSON for
 * people (cmd/ prints it) and for CI (-n --report FILE writes it). */
#ifndef SB_PLAN_H
#define SB_PLAN_H

#include "graph.h"
#include "keys.h"

struct cJSON;
struct estimator;

#define PLAN_FORMAT_VERSION 1

/* The plan of g after a dry run: {"format": "scriptbuild-plan", "format_version", "stale", "may_be_saved" (steps
 * stale only because an upstream step is: early cutoff may spare them), "steps": [{"kind", "target", "label",
 * "reason", "upstream_stale", "tokens_in", "tokens_out", "cost", "cost_low", "cost_high", "basis"}], "kinds": {KIND:
 * {"steps", "provider", "model", "tokens_in", "tokens_out", "cost", "cost_low", "cost_high", "basis",
 * "price_known"}}, "cost", "cost_low", "cost_high", "price_unknown": [MODEL]}; a cost is null when its model has no
 * known price. */
struct cJSON *plan_json(const struct graph *g, const struct step_config *cfg, const struct estimator *e);

/* The models among g's wanted, not yet done steps whose price is unknown, comma-separated (malloc'd), or NULL. */
char *plan_unpriced_models(const struct graph *g, const struct step_config *cfg);

#endif
