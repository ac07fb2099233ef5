/* plan.c - the -n plan as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "estimate.h"
#include "fountain.h"
#include "plan.h"
#include "pricing.h"
#include "util.h"

static char *target_of(const struct graph *g, const struct step *st)
{
	switch (st->kind) {
	case STEP_SUMMARY:
	case STEP_EMBEDDING:
		return xasprintf("scene:%zu", st->scene);
	case STEP_SHEET:
		return xasprintf("sheet:%s", g->script->characters[st->character].name);
	default:
		return xstrdup("outline");
	}
}

static bool upstream_stale(const struct graph *g, const struct step *st)
{
	for (size_t d = 0; d < st->ndeps; d++)
		if (g->steps[st->deps[d]].state == STEP_STALE)
			return true;
	return false;
}

static void add_cost(cJSON *obj, const char *name, double cost, bool known)
{
	if (known)
		cJSON_AddNumberToObject(obj, name, cost);
	else
		cJSON_AddNullToObject(obj, name);
}

static bool priced(const struct step_config *cfg)
{
	double in, out;
	return strcmp(cfg->provider, "builtin") == 0 || pricing_lookup(cfg->params.model, &in, &out) == 0;
}

cJSON *plan_json(const struct graph *g, const struct step_config *cfg, const struct estimator *e)
{
	struct {
		size_t steps;
		uint64_t in, out, cache_read, cache_write;
		double cost, low, high;
		uint64_t history;
		bool learned;
	} kinds[STEP_KINDS] = {{0}};
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "format", "scriptbuild-plan");
	cJSON_AddNumberToObject(root, "format_version", PLAN_FORMAT_VERSION);
	cJSON *steps = cJSON_CreateArray();
	size_t stale = 0, may_be_saved = 0;
	char basis[64];
	for (size_t i = 0; i < g->nsteps; i++) {
		const struct step *st = &g->steps[i];
		if (!st->wanted || st->state != STEP_STALE || st->remote)
			continue; /* a step the remote cache will answer costs nothing */
		const struct step_config *c = &cfg[st->kind];
		struct step_estimate est;
		estimate_step(e, g, st, c, &est);
		bool upstream = upstream_stale(g, st);
		stale++;
		may_be_saved += upstream;
		cJSON *item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "kind", step_kind_name(st->kind));
		char *target = target_of(g, st);
		cJSON_AddStringToObject(item, "target", target);
		free(target);
		cJSON_AddStringToObject(item, "label", st->label);
		cJSON_AddStringToObject(item, "reason", st->why ? st->why : "");
		cJSON_AddBoolToObject(item, "upstream_stale", upstream);
		cJSON_AddNumberToObject(item, "tokens_in", (double)est.tokens_in);
		cJSON_AddNumberToObject(item, "tokens_out", (double)est.tokens_out);
		cJSON_AddNumberToObject(item, "cache_read", (double)est.cache_read);
		cJSON_AddNumberToObject(item, "cache_write", (double)est.cache_write);
		add_cost(item, "cost", est.cost, est.price_known);
		add_cost(item, "cost_low", est.cost_low, est.price_known);
		add_cost(item, "cost_high", est.cost_high, est.price_known);
		cJSON_AddStringToObject(item, "basis", estimate_basis(&est, basis, sizeof(basis)));
		cJSON_AddItemToArray(steps, item);
		kinds[st->kind].steps++;
		kinds[st->kind].in += est.tokens_in;
		kinds[st->kind].out += est.tokens_out;
		kinds[st->kind].cache_read += est.cache_read;
		kinds[st->kind].cache_write += est.cache_write;
		kinds[st->kind].cost += est.cost;
		kinds[st->kind].low += est.cost_low;
		kinds[st->kind].high += est.cost_high;
		kinds[st->kind].learned = est.learned;
		kinds[st->kind].history = est.history;
	}
	cJSON_AddNumberToObject(root, "stale", (double)stale);
	cJSON_AddNumberToObject(root, "may_be_saved", (double)may_be_saved);
	cJSON_AddItemToObject(root, "steps", steps);
	cJSON *per_kind = cJSON_AddObjectToObject(root, "kinds");
	cJSON *unknown = cJSON_CreateArray();
	double cost = 0, low = 0, high = 0;
	bool all_known = true;
	for (int k = 0; k < STEP_KINDS; k++) {
		if (!kinds[k].steps)
			continue;
		bool known = priced(&cfg[k]);
		cJSON *kc = cJSON_AddObjectToObject(per_kind, step_kind_name((enum step_kind)k));
		cJSON_AddNumberToObject(kc, "steps", (double)kinds[k].steps);
		cJSON_AddStringToObject(kc, "provider", cfg[k].provider);
		cJSON_AddStringToObject(kc, "model", cfg[k].params.model ? cfg[k].params.model : "");
		cJSON_AddNumberToObject(kc, "tokens_in", (double)kinds[k].in);
		cJSON_AddNumberToObject(kc, "tokens_out", (double)kinds[k].out);
		cJSON_AddNumberToObject(kc, "cache_read", (double)kinds[k].cache_read);
		cJSON_AddNumberToObject(kc, "cache_write", (double)kinds[k].cache_write);
		add_cost(kc, "cost", kinds[k].cost, known);
		add_cost(kc, "cost_low", kinds[k].low, known);
		add_cost(kc, "cost_high", kinds[k].high, known);
		struct step_estimate shown = {.learned = kinds[k].learned, .history = kinds[k].history};
		cJSON_AddStringToObject(kc, "basis", strcmp(cfg[k].provider, "builtin") == 0 ? "builtin (free)"
		                                     : estimate_basis(&shown, basis, sizeof(basis)));
		cJSON_AddBoolToObject(kc, "price_known", known);
		if (cfg[k].batch)
			cJSON_AddBoolToObject(kc, "batch", true);   /* priced at the message batch rate */
		if (!known)
			cJSON_AddItemToArray(unknown, cJSON_CreateString(cfg[k].params.model));
		all_known &= known;
		cost += kinds[k].cost;
		low += kinds[k].low;
		high += kinds[k].high;
	}
	add_cost(root, "cost", cost, all_known);
	add_cost(root, "cost_low", low, all_known);
	add_cost(root, "cost_high", high, all_known);
	cJSON_AddItemToObject(root, "price_unknown", unknown);
	return root;
}

char *plan_unpriced_models(const struct graph *g, const struct step_config *cfg)
{
	bool wanted[STEP_KINDS] = {false};
	for (size_t i = 0; i < g->nsteps; i++)
		if (g->steps[i].wanted)
			wanted[g->steps[i].kind] = true;
	struct buf b = {0};
	for (int k = 0; k < STEP_KINDS; k++) {
		if (!wanted[k] || priced(&cfg[k]))
			continue;
		if (b.len && strstr(b.data, cfg[k].params.model))
			continue;
		buf_printf(&b, "%s%s", b.len ? ", " : "", cfg[k].params.model);
	}
	return b.len ? b.data : NULL;
}
