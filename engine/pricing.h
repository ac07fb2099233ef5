/* pricing.h - what a model's tokens cost, and a token estimate for -n before anything is spent. */
#ifndef SB_PRICING_H
#define SB_PRICING_H

#include <stddef.h>
#include <stdint.h>

/* USD per million input and output tokens of model: $SCRIPTBUILD_PRICES ("model=in/out,...") first, then the
 * built-in table (a dated name such as "claude-haiku-4-5-20251001" matches its alias). 0, or -1 when unknown. */
int pricing_lookup(const char *model, double *in, double *out);

/* USD that tokens_in and tokens_out of model cost; < 0 when the model's price is unknown. */
double pricing_cost(const char *model, uint64_t tokens_in, uint64_t tokens_out);

/* 0 when $SCRIPTBUILD_PRICES is unset or well formed, else -1 with err naming the bad entry and the format. */
int pricing_check_env(char *err, size_t errlen);

/* Rough token count of bytes of English text (about 4 bytes a token), never 0 for non-empty text. */
uint64_t estimate_tokens(size_t bytes);

/* The input tokens the archive and the cache attribute to one embedding: a rule on its own text alone, since a batch
 * request reports only its total and any split of it would depend on how the inputs happened to be batched. */
uint64_t embedding_tokens_attributed(const char *text);

#endif
