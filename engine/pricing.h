/* pricing.h - what a model's tokens cost, and a token estimate for -n before anything is spent. */
#ifndef SB_PRICING_H
#define SB_PRICING_H

#include <stddef.h>
#include <stdint.h>

/* USD per million input and output tokens of model: $SCRIPTBUILD_PRICES ("model=in/out,...") first, then the
 * built-in table (a dated name such as "claude-haiku-4-5-20251001" matches its alias). 0, or -1 when unknown. */
int pricing_lookup(const char *model, double *in, double *out);

/* What a message batch's tokens cost, as a share of the standard price (Anthropic's Message Batches: 50 %). */
#define PRICING_BATCH_FACTOR 0.5

/* USD that tokens_in and tokens_out of model cost; < 0 when the model's price is unknown. */
double pricing_cost(const char *model, uint64_t tokens_in, uint64_t tokens_out);

/* Prompt caching's multipliers of the input price: a read, a write with the 5-minute and with the 1-hour lifetime. */
#define PRICE_CACHE_READ 0.1
#define PRICE_CACHE_WRITE_5M 1.25
#define PRICE_CACHE_WRITE_1H 2.0

/* A request's tokens by how they are billed: in counts every input token, the cache's reads and writes included. */
struct token_usage {
	uint64_t in, out;
	uint64_t cache_read, cache_write, cache_write_1h;   /* of in; cache_write_1h of cache_write */
};

/* The input tokens of u priced at in_price per token, each part at its multiplier. */
double pricing_input_cost(const struct token_usage *u, double in_price);

/* USD that u costs with model; < 0 when the model's price is unknown. */
double pricing_cost_usage(const char *model, const struct token_usage *u);

/* 0 when $SCRIPTBUILD_PRICES is unset or well formed, else -1 with err naming the bad entry and the format. */
int pricing_check_env(char *err, size_t errlen);

/* Rough token count of bytes of English text (about 4 bytes a token), never 0 for non-empty text. */
uint64_t estimate_tokens(size_t bytes);

/* The input tokens the archive and the cache attribute to one embedding: a rule on its own text alone, since a batch
 * request reports only its total and any split of it would depend on how the inputs happened to be batched. */
uint64_t embedding_tokens_attributed(const char *text);

#endif
