/* estimate.c - token and cost estimates for stale steps, and the per-kind, per-model history they learn from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cache.h"
#include "estimate.h"
#include "fountain.h"
#include "net.h"
#include "pricing.h"
#include "util.h"

/* The cache record the history lives in; bump the suffix when the meaning of its fields changes. */
#define HISTORY_RECORD "history:estimates/1"

struct estimator {
	cJSON *root;     /* {"KIND MODEL": {"steps", "rule_in", "in", "out", "min_out", "max_out", "cold_in",
	                    "cold_write", "rerun_in", "rerun_predicted", "rerun_read", "rerun_write"}} */
	bool changed;
	bool no_prompt_cache, prompt_cache_hour;
};

struct estimator *estimate_load(struct cache *c)
{
	struct estimator *e = xcalloc(1, sizeof(*e));
	char *data = NULL, err[256];
	size_t len = 0;
	if (c && cache_log_get(c, HISTORY_RECORD, &data, &len, err, sizeof(err)) == 1)
		e->root = cJSON_ParseWithLength(data, len);
	free(data);
	if (!cJSON_IsObject(e->root)) {
		cJSON_Delete(e->root);
		e->root = cJSON_CreateObject();
	}
	return e;
}

void estimate_free(struct estimator *e)
{
	if (!e)
		return;
	cJSON_Delete(e->root);
	free(e);
}

/* Bytes a step would send: its prompt texts plus its input, before its inputs exist (the same rule whether or not
 * the step's dependencies are done, so that -n and the run's budget agree, and so that history corrects its bias). */
static size_t rule_bytes(const struct graph *g, const struct step *st, const struct step_config *cfg)
{
	const struct fountain_script *s = g->script;
	size_t bytes = strlen(cfg->system) + strlen(cfg->template_text);
	switch (st->kind) {
	case STEP_SUMMARY:
		return bytes + s->scenes[st->scene - 1].text_len;
	case STEP_EMBEDDING:
		/* A summary is roughly a third of its scene. */
		return s->scenes[st->scene - 1].text_len / 3;
	case STEP_OUTLINE:
		return bytes + s->nscenes * 400;
	default:
		return bytes + s->characters[st->character].nscenes * 400 + (size_t)s->characters[st->character].words * 6;
	}
}

static double number(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsNumber(v) && v->valuedouble >= 0 ? v->valuedouble : 0;
}

static cJSON *entry(const struct estimator *e, enum step_kind kind, const struct step_config *cfg)
{
	char name[160];
	snprintf(name, sizeof(name), "%s %s", step_kind_name(kind), cfg->params.model ? cfg->params.model : "");
	return cJSON_GetObjectItemCaseSensitive(e->root, name);
}

static double price(const struct step_config *cfg, const struct step_estimate *est, uint64_t out, bool *known)
{
	*known = true;
	if (strcmp(cfg->provider, "builtin") == 0)
		return 0;
	struct token_usage u = {est->tokens_in, out, est->cache_read, est->cache_write, 0};
	if (u.cache_write && est->cache_write_hour)
		u.cache_write_1h = u.cache_write;
	double c = pricing_cost_usage(cfg->params.model, &u);
	if (c < 0) {
		*known = false;
		return 0;
	}
	return cfg->batch ? c * PRICING_BATCH_FACTOR : c;
}

/* The first of st's dependencies not served from the cache (ndeps: none): where the new text of an edit begins. */
static size_t first_fresh(const struct graph *g, const struct step *st)
{
	for (size_t d = 0; d < st->ndeps; d++)
		if (!g->steps[st->deps[d]].cached)
			return d;
	return st->ndeps;
}

/* The share of a prompt of nblocks scene blocks that the breakpoints before first_fresh make readable from the
 * service's cache: up to the last even mark before it, as a cold run wrote them. */
static double predicted_read_share(size_t nblocks, size_t fresh)
{
	size_t marks[4], n = anthropic_cache_marks(nblocks, 0, 4, marks), readable = 0;
	for (size_t i = 0; i < n; i++)
		if (marks[i] < fresh)
			readable = marks[i] + 1;
	return nblocks ? (double)readable / (double)nblocks : 0;
}

/* out's expected reads and writes from the prompt cache, by the history h: a cold prompt (or one whose new text
 * cannot be placed) writes the share cold prompts wrote; a re-run reads the prefix its breakpoints before the first new
 * scene make readable, corrected by how much of that re-runs really read, and writes the rest at the cold share. */
static void estimate_prompt_cache(const cJSON *h, const struct graph *g, const struct step *st,
                                  struct step_estimate *out)
{
	double cold_in = number(h, "cold_in"), write_share = cold_in > 0 ? number(h, "cold_write") / cold_in : 0;
	size_t fresh = first_fresh(g, st);
	double read = 0;
	if (fresh > 0 && fresh < st->ndeps) {
		double predicted = number(h, "rerun_predicted");
		double seen = predicted > 0 ? number(h, "rerun_read") / predicted : 1;
		read = (double)out->tokens_in * predicted_read_share(st->ndeps, fresh) * seen;
	}
	if (read > (double)out->tokens_in)
		read = (double)out->tokens_in;
	out->cache_read = (uint64_t)(read + 0.5);
	out->cache_write = (uint64_t)(((double)out->tokens_in - read) * write_share + 0.5);
	if (out->cache_read + out->cache_write > out->tokens_in)
		out->cache_write = out->tokens_in - out->cache_read;
}

void estimate_step(const struct estimator *e, const struct graph *g, const struct step *st,
                   const struct step_config *cfg, struct step_estimate *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t rule_in = estimate_tokens(rule_bytes(g, st, cfg));
	uint64_t max_out = st->kind == STEP_EMBEDDING ? 0 : (uint64_t)cfg->params.max_tokens;
	const cJSON *h = e ? entry(e, st->kind, cfg) : NULL;
	double steps = number(h, "steps"), seen_rule = number(h, "rule_in");
	if (strcmp(cfg->provider, "builtin") == 0) {
		out->tokens_in = out->tokens_out = 0;
	} else if (steps >= 1 && seen_rule > 0) {
		out->learned = true;
		out->history = (uint64_t)steps;
		out->tokens_in = (uint64_t)((double)rule_in * number(h, "in") / seen_rule + 0.5);
		out->tokens_out = (uint64_t)(number(h, "out") / steps + 0.5);
		out->tokens_out_low = (uint64_t)number(h, "min_out");
		out->tokens_out_high = (uint64_t)number(h, "max_out");
		if (!e->no_prompt_cache)
			estimate_prompt_cache(h, g, st, out);
		out->cache_write_hour = e->prompt_cache_hour;
	} else {
		out->tokens_in = rule_in;
		out->tokens_out = max_out / 2;
		out->tokens_out_low = max_out / 10;
		out->tokens_out_high = max_out;
	}
	out->cost = price(cfg, out, out->tokens_out, &out->price_known);
	out->cost_low = price(cfg, out, out->tokens_out_low, &out->price_known);
	out->cost_high = price(cfg, out, out->tokens_out_high, &out->price_known);
}

void estimate_learn(struct estimator *e, const struct graph *g, const size_t *steps, size_t n,
                    const struct step_config *cfg, uint64_t tokens_in, uint64_t tokens_out)
{
	if (!e || n == 0 || strcmp(cfg->provider, "builtin") == 0 || tokens_in == 0)
		return;
	const struct step *first = &g->steps[steps[0]];
	uint64_t rule_in = 0;
	for (size_t i = 0; i < n; i++)
		rule_in += estimate_tokens(rule_bytes(g, &g->steps[steps[i]], cfg));
	cJSON *h = entry(e, first->kind, cfg);
	if (!h) {
		char name[160];
		snprintf(name, sizeof(name), "%s %s", step_kind_name(first->kind), cfg->params.model ? cfg->params.model : "");
		h = cJSON_AddObjectToObject(e->root, name);
	}
	double per_step_out = (double)tokens_out / (double)n;
	bool fresh = number(h, "steps") < 1;
	double fields[][2] = {
		{number(h, "steps") + (double)n, 0}, {number(h, "rule_in") + (double)rule_in, 0},
		{number(h, "in") + (double)tokens_in, 0}, {number(h, "out") + (double)tokens_out, 0},
		{fresh || per_step_out < number(h, "min_out") ? per_step_out : number(h, "min_out"), 0},
		{fresh || per_step_out > number(h, "max_out") ? per_step_out : number(h, "max_out"), 0},
	};
	static const char *const names[] = {"steps", "rule_in", "in", "out", "min_out", "max_out"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cJSON *v = cJSON_GetObjectItemCaseSensitive(h, names[i]);
		if (v)
			cJSON_SetNumberValue(v, fields[i][0]);
		else
			cJSON_AddNumberToObject(h, names[i], fields[i][0]);
	}
	e->changed = true;
}

void estimate_learn_cache(struct estimator *e, enum step_kind kind, const struct step_config *cfg, uint64_t tokens_in,
                          uint64_t cache_read, uint64_t cache_write, size_t first_fresh_block, size_t nblocks)
{
	if (!e || strcmp(cfg->provider, "builtin") == 0 || tokens_in == 0)
		return;
	cJSON *h = entry(e, kind, cfg);
	if (!h)
		return;
	bool rerun = first_fresh_block > 0 && first_fresh_block < nblocks;
	double predicted = rerun ? (double)tokens_in * predicted_read_share(nblocks, first_fresh_block) : 0;
	const char *names[] = {"cold_in", "cold_write", "rerun_in", "rerun_predicted", "rerun_read", "rerun_write"};
	double add[] = {rerun ? 0 : (double)tokens_in, rerun ? 0 : (double)cache_write, rerun ? (double)tokens_in : 0,
	                predicted, rerun ? (double)cache_read : 0, rerun ? (double)cache_write : 0};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cJSON *v = cJSON_GetObjectItemCaseSensitive(h, names[i]);
		if (v)
			cJSON_SetNumberValue(v, v->valuedouble + add[i]);
		else
			cJSON_AddNumberToObject(h, names[i], add[i]);
	}
	e->changed = true;
}

void estimate_set_prompt_cache(struct estimator *e, bool enabled, bool hour)
{
	e->no_prompt_cache = !enabled;
	e->prompt_cache_hour = hour;
}

int estimate_save(struct estimator *e, struct cache *c, char *err, size_t errlen)
{
	if (!e || !e->changed)
		return 0;
	char *text = cJSON_PrintUnformatted(e->root);
	int rc = cache_log_put(c, HISTORY_RECORD, text, strlen(text), err, errlen);
	free(text);
	if (rc == 0)
		e->changed = false;
	return rc;
}

const char *estimate_basis(const struct step_estimate *est, char *buf, size_t len)
{
	if (!est->learned)
		return "max_tokens rule (no history)";
	snprintf(buf, len, "history (%llu results)", (unsigned long long)est->history);
	return buf;
}
