/* report.c - costs, estimates and the report JSON. */
#include <string.h>

#include <cjson/cJSON.h>

#include "fountain.h"
#include "pricing.h"
#include "remote.h"
#include "report.h"

double report_price(const struct step_config *cfg, uint64_t tin, uint64_t tout)
{
	double in, out;
	if (strcmp(cfg->provider, "builtin") == 0 || pricing_lookup(cfg->params.model, &in, &out) < 0)
		return 0;
	return ((double)tin * in + (double)tout * out) / 1e6;
}

double report_price_usage(const struct step_config *cfg, const struct token_usage *u)
{
	double cost;
	if (strcmp(cfg->provider, "builtin") == 0 || (cost = pricing_cost_usage(cfg->params.model, u)) < 0)
		return 0;
	return cost;
}

static struct token_usage kind_usage(const struct build_kind_counts *c)
{
	return (struct token_usage){c->tokens_in, c->tokens_out, c->tokens_cache_read, c->tokens_cache_write,
	                            c->tokens_cache_write_1h};
}

/* The part of c's usage that message batches answered. */
static struct token_usage batch_usage(const struct build_kind_counts *c)
{
	return (struct token_usage){c->batch_tokens_in, c->batch_tokens_out, c->batch_cache_read, c->batch_cache_write,
	                            c->batch_cache_write_1h};
}

double report_cost(const struct build_result *r, const struct step_config *cfg)
{
	double cost = 0;
	for (int k = 0; k < STEP_KINDS; k++) {
		struct token_usage u = kind_usage(&r->kinds[k]), b = batch_usage(&r->kinds[k]);
		/* The batch discount applies on top of the prompt cache's multipliers. */
		cost += report_price_usage(&cfg[k], &u) - (1 - PRICING_BATCH_FACTOR) * report_price_usage(&cfg[k], &b);
	}
	return cost;
}

void report_cache_tokens(const struct build_result *r, uint64_t *read, uint64_t *write)
{
	*read = *write = 0;
	for (int k = 0; k < STEP_KINDS; k++) {
		*read += r->kinds[k].tokens_cache_read;
		*write += r->kinds[k].tokens_cache_write;
	}
}

double report_batch_saving(const struct build_result *r, const struct step_config *cfg)
{
	double saved = 0;
	for (int k = 0; k < STEP_KINDS; k++) {
		struct token_usage b = batch_usage(&r->kinds[k]);
		saved += (1 - PRICING_BATCH_FACTOR) * report_price_usage(&cfg[k], &b);
	}
	return saved;
}

cJSON *report_json(const struct build_result *r, const struct step_config *cfg, double seconds, const char *archive)
{
	cJSON *root = cJSON_CreateObject();
	/* A reader of an interrupted run's report must not take its counts for a finished run's. */
	cJSON_AddBoolToObject(root, "interrupted", r->interrupted);
	cJSON *steps = cJSON_AddObjectToObject(root, "steps");
	for (int k = 0; k < STEP_KINDS; k++) {
		const struct build_kind_counts *c = &r->kinds[k];
		cJSON *kc = cJSON_AddObjectToObject(steps, step_kind_name((enum step_kind)k));
		cJSON_AddNumberToObject(kc, "total", (double)c->total);
		cJSON_AddNumberToObject(kc, "cached", (double)c->cached);
		cJSON_AddNumberToObject(kc, "remote", (double)c->remote);
		cJSON_AddNumberToObject(kc, "shared", (double)c->shared);
		cJSON_AddNumberToObject(kc, "run", (double)c->run);
		cJSON_AddNumberToObject(kc, "failed", (double)c->failed);
		cJSON_AddNumberToObject(kc, "skipped", (double)c->skipped);
		cJSON_AddNumberToObject(kc, "stale", (double)c->stale);
	}
	cJSON *req = cJSON_AddObjectToObject(root, "requests");
	cJSON_AddNumberToObject(req, "llm", (double)r->llm_requests);
	cJSON_AddNumberToObject(req, "embedding", (double)r->embedding_requests);
	cJSON_AddNumberToObject(req, "retries", (double)r->retries);
	cJSON *tok = cJSON_AddObjectToObject(root, "tokens");
	cJSON_AddNumberToObject(tok, "input", (double)r->tokens_in);
	cJSON_AddNumberToObject(tok, "output", (double)r->tokens_out);
	cJSON_AddNumberToObject(tok, "saved_input", (double)r->tokens_saved_in);
	cJSON_AddNumberToObject(tok, "saved_output", (double)r->tokens_saved_out);
	/* Of the input: what the provider's prompt cache served (billed at 0.1x) and stored (1.25x, or 2x for 1h). */
	uint64_t read, write;
	report_cache_tokens(r, &read, &write);
	cJSON_AddNumberToObject(tok, "cache_read", (double)read);
	cJSON_AddNumberToObject(tok, "cache_write", (double)write);
	cJSON *limits = cJSON_AddObjectToObject(root, "rate_limits");
	cJSON *waited = cJSON_AddObjectToObject(limits, "waited_seconds");
	for (int l = 0; l < RL_LIMITS; l++)
		cJSON_AddNumberToObject(waited, rl_limit_key((enum rl_limit)l), r->rate_waited_s[l]);
	cJSON_AddNumberToObject(limits, "answered_429", (double)r->throttled);
	cJSON_AddNumberToObject(root, "cost_usd", report_cost(r, cfg));
	if (r->batch_requests > 0) {
		/* What the batched requests cost, what they would have cost synchronously, and the difference. */
		cJSON *batch = cJSON_AddObjectToObject(root, "batch");
		double saved = report_batch_saving(r, cfg);
		double at_batch = saved * PRICING_BATCH_FACTOR / (1 - PRICING_BATCH_FACTOR);
		cJSON_AddNumberToObject(batch, "requests", (double)r->batch_requests);
		cJSON_AddNumberToObject(batch, "price_factor", PRICING_BATCH_FACTOR);
		cJSON_AddNumberToObject(batch, "cost_usd", at_batch);
		cJSON_AddNumberToObject(batch, "standard_cost_usd", at_batch + saved);
		cJSON_AddNumberToObject(batch, "saved_usd", saved);
	}
	cJSON_AddNumberToObject(root, "seconds", seconds);
	if (archive)
		cJSON_AddStringToObject(root, "archive", archive);
	else
		cJSON_AddNullToObject(root, "archive");
	return root;
}

void report_add_repairs(cJSON *root, const struct build_result *r, const struct graph *g)
{
	cJSON *corr = cJSON_AddObjectToObject(root, "corrections");
	for (int k = 0; k < STEP_EMBEDDING; k++) {
		cJSON *kc = cJSON_AddObjectToObject(corr, step_kind_name((enum step_kind)k));
		cJSON_AddNumberToObject(kc, "turns", (double)r->kinds[k].corrections);
		cJSON_AddNumberToObject(kc, "max_tokens_retries", (double)r->kinds[k].max_tokens_retries);
	}
	/* Per sheet, of the result the archive holds (cached or run now): the evidence of what the model got wrong. */
	cJSON *dq = cJSON_AddObjectToObject(root, "dropped_quotes");
	cJSON *by_sheet = cJSON_CreateObject();
	unsigned long total = 0;
	for (size_t c = 0; g && c < g->script->ncharacters; c++) {
		const struct step *st = &g->steps[g->sheet_of_character[c]];
		if (st->state != STEP_DONE)
			continue;
		cJSON_AddNumberToObject(by_sheet, g->script->characters[c].name, st->meta.dropped_quotes);
		total += st->meta.dropped_quotes;
	}
	cJSON_AddNumberToObject(dq, "total", (double)total);
	cJSON_AddItemToObject(dq, "by_sheet", by_sheet);
	cJSON *emb = cJSON_AddObjectToObject(root, "embedding_inputs");
	cJSON_AddNumberToObject(emb, "truncated", (double)r->truncated_inputs);
	cJSON_AddNumberToObject(emb, "bisections", (double)r->bisections);
}

void report_add_remote(cJSON *report, const struct remote_counts *c)
{
	cJSON *rem = cJSON_AddObjectToObject(report, "remote");
	cJSON_AddNumberToObject(rem, "hits", (double)c->hits);
	cJSON_AddNumberToObject(rem, "misses", (double)c->misses);
	cJSON_AddNumberToObject(rem, "uploads", (double)c->uploads);
	cJSON_AddNumberToObject(rem, "refused", (double)c->refused);
	cJSON_AddNumberToObject(rem, "errors", (double)c->errors);
	cJSON_AddNumberToObject(rem, "dropped", (double)c->dropped);
	cJSON_AddNumberToObject(rem, "bytes_down", (double)c->bytes_down);
	cJSON_AddNumberToObject(rem, "bytes_up", (double)c->bytes_up);
}
