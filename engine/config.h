/* config.h - which provider, model, parameters and prompt each step kind uses, from flags, environment and defaults. */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H

#include <stddef.h>

#include "job.h"
#include "keys.h"

struct loop;
struct net_config;

struct run_config {
	struct step_config step[STEP_KINDS];
	char *owned[64];                /* strings the config allocated */
	size_t nowned;
};

/* Chooses providers: llm_spec "builtin" | "anthropic[:MODEL]" | "openai[:MODEL]" (NULL: anthropic when
 * ANTHROPIC_API_KEY is set, else builtin) and embed_spec "builtin[:DIMS]" | "openai[:MODEL]" (NULL: openai when
 * OPENAI_API_KEY is set, else builtin), with each kind's default model, max_tokens and prompt. 0, or -1 with err. */
int config_init(struct run_config *rc, const char *llm_spec, const char *embed_spec, char *err, size_t errlen);

/* Applies one "KIND=VALUE" override of what ("model", "max-tokens", "temperature", "prompt" (a file whose text
 * replaces the system prompt), "dims"); KIND may be "all" (for "model": the LLM kinds, never the embedding's).
 * 0, or -1 with err. */
int config_override(struct run_config *rc, const char *what, const char *arg, char *err, size_t errlen);

/* Creates the providers the config names on loop (one object per distinct provider), each network one with net's
 * retries, timeouts and log. 0, or -1 with err; created providers are in out[] (NULL where not created), freed by
 * config_destroy_providers. */
int config_create_providers(const struct run_config *rc, struct loop *loop, const struct net_config *net,
                            struct provider *out[STEP_KINDS], char *err, size_t errlen);

/* Frees the providers made by config_create_providers (each distinct one once). */
void config_destroy_providers(struct provider *p[STEP_KINDS]);

/* Frees what the config allocated. */
void config_free(struct run_config *rc);

#endif
