/* pricing.c - a small price table per model, overridable from the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pricing.h"

struct price {
	const char *model;
	double in, out;       /* USD per million tokens */
};

/* List prices (standard tier, no caching or batch discounts) of the defaults and a few common models. */
static const struct price table[] = {
	{"builtin", 0, 0},
	{"claude-haiku-4-5", 1.00, 5.00},
	{"claude-sonnet-4-5", 3.00, 15.00},
	{"claude-sonnet-4", 3.00, 15.00},
	{"claude-opus-4-1", 15.00, 75.00},
	{"claude-3-5-haiku", 0.80, 4.00},
	{"claude-3-7-sonnet", 3.00, 15.00},
	{"gpt-4o-mini", 0.15, 0.60},
	{"gpt-4o", 2.50, 10.00},
	{"gpt-4.1-mini", 0.40, 1.60},
	{"gpt-4.1", 2.00, 8.00},
	{"text-embedding-3-small", 0.02, 0},
	{"text-embedding-3-large", 0.13, 0},
	{"text-embedding-ada-002", 0.10, 0},
};

/* Parses one "model=in/out" entry of len bytes; 0 with its parts, or -1. */
static int parse_entry(const char *e, size_t len, size_t *namelen, double *in, double *out)
{
	char text[256];
	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, e, len);
	text[len] = '\0';
	char *eq = strchr(text, '=');
	if (!eq || eq == text)
		return -1;
	char *end;
	*in = strtod(eq + 1, &end);
	if (end == eq + 1 || *end != '/' || *in < 0)
		return -1;
	char *o = end + 1;
	*out = strtod(o, &end);
	if (end == o || *end != '\0' || *out < 0)
		return -1;
	*namelen = (size_t)(eq - text);
	return 0;
}

static int from_env(const char *model, double *in, double *out)
{
	const char *env = getenv("SCRIPTBUILD_PRICES");
	if (!env)
		return -1;
	size_t mlen = strlen(model);
	for (const char *p = env; *p;) {
		size_t len = strcspn(p, ",");
		size_t namelen;
		double i, o;
		if (parse_entry(p, len, &namelen, &i, &o) == 0 && namelen == mlen && strncmp(p, model, mlen) == 0) {
			*in = i;
			*out = o;
			return 0;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return -1;
}

/* Whether rest is a dated snapshot's suffix: "-20251001", "-2024-08-06", "-latest". */
static int is_snapshot_suffix(const char *rest)
{
	if (rest[0] != '-')
		return 0;
	if (strcmp(rest, "-latest") == 0)
		return 1;
	return strlen(rest) >= 9 && strspn(rest, "-0123456789") == strlen(rest);
}

int pricing_lookup(const char *model, double *in, double *out)
{
	if (!model)
		return -1;
	if (from_env(model, in, out) == 0)
		return 0;
	const struct price *best = NULL;
	size_t n = sizeof(table) / sizeof(table[0]);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(table[i].model);
		if (strncmp(model, table[i].model, len) != 0)
			continue;
		/* "gpt-4o-2024-08-06" is gpt-4o, but "gpt-4o-mini" is not; the longest alias wins. */
		if ((model[len] == '\0' || is_snapshot_suffix(model + len)) && (!best || len > strlen(best->model)))
			best = &table[i];
	}
	if (!best)
		return -1;
	*in = best->in;
	*out = best->out;
	return 0;
}

double pricing_cost(const char *model, uint64_t tokens_in, uint64_t tokens_out)
{
	double in, out;
	if (pricing_lookup(model, &in, &out) < 0)
		return -1;
	return ((double)tokens_in * in + (double)tokens_out * out) / 1e6;
}

double pricing_input_cost(const struct token_usage *u, double in_price)
{
	uint64_t cached = u->cache_read + u->cache_write;
	uint64_t plain = u->in > cached ? u->in - cached : 0;
	uint64_t write_1h = u->cache_write_1h < u->cache_write ? u->cache_write_1h : u->cache_write;
	double weighted = (double)plain + PRICE_CACHE_READ * (double)u->cache_read +
	                  PRICE_CACHE_WRITE_5M * (double)(u->cache_write - write_1h) + PRICE_CACHE_WRITE_1H * (double)write_1h;
	return weighted * in_price;
}

double pricing_cost_usage(const char *model, const struct token_usage *u)
{
	double in, out;
	if (pricing_lookup(model, &in, &out) < 0)
		return -1;
	return (pricing_input_cost(u, in) + (double)u->out * out) / 1e6;
}

int pricing_check_env(char *err, size_t errlen)
{
	const char *env = getenv("SCRIPTBUILD_PRICES");
	if (!env)
		return 0;
	for (const char *p = env; *p;) {
		size_t len = strcspn(p, ",");
		size_t namelen;
		double i, o;
		if (parse_entry(p, len, &namelen, &i, &o) < 0) {
			snprintf(err, errlen,
			         "SCRIPTBUILD_PRICES: bad entry \"%.*s\": write model=IN/OUT in USD per million tokens, "
			         "entries separated by commas", (int)(len > 100 ? 100 : len), p);
			return -1;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

uint64_t estimate_tokens(size_t bytes)
{
	return ((uint64_t)bytes + 3) / 4;
}

uint64_t embedding_tokens_attributed(const char *text)
{
	return estimate_tokens(strlen(text));
}
