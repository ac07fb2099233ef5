/* keys.h - what a step depends on, and the action key that names its result in the cache. */
#ifndef SB_KEYS_H
#define SB_KEYS_H

#include "digest.h"
#include "graph.h"
#include "job.h"
#include "sha256.h"

/* Bumped whenever the encoding below changes: every key changes with it. */
#define KEY_FORMAT_VERSION 2

/* Everything about a step kind that can change its output, besides its inputs. */
struct step_config {
	const char *provider;       /* "builtin", "anthropic", "openai" */
	const char *endpoint;       /* network providers: the API's scheme, host and path (no port, no credentials), so
	                               a local server's answers are never served as the real service's; NULL for builtin */
	struct gen_params params;   /* model, max_tokens, temperature, dims */
	const char *prompt_id;      /* "summary/1" */
	const char *system;         /* system prompt text (a --prompt override replaces it) */
	const char *template_text;  /* user message template */
	const char *schema_text;    /* output schema */
	bool batch;                 /* --batch: its requests go through message batches, priced at the batch rate (not
	                               in the key: a batch answers what a synchronous request answers) */
};

/* The action key of st: config plus its inputs (scene text, or the digests of its dependencies' outputs and, for a
 * sheet, the character's own dialogue), never positions, plus the rendered prompt when an LLM reads one (NULL for
 * the builtin analyser), so that whatever reaches the model is in the key. Every dependency of st must be done. */
void step_action_key(const struct graph *g, const struct step *st, const struct step_config *cfg, const char *prompt,
                     struct digest *out);

/* step_action_key, and also the SHA-256 of the same full canonical encoding: the step's name in a remote cache, so a
 * remote entry answers only a step with every input of the local key. */
void step_action_keys(const struct graph *g, const struct step *st, const struct step_config *cfg, const char *prompt,
                      struct digest *out, unsigned char remote[SHA256_BYTES]);

/* Digest of the configuration part alone; the build record compares it to explain a stale step. */
void step_config_digest(const struct step_config *cfg, int prompt_only, struct digest *out);

/* Digest of a scene's text. */
void scene_text_digest(const struct graph *g, size_t scene, struct digest *out);

/* The text an embedding step embeds: the "summary" field of its summary's output (malloc'd). */
char *embedding_input(const struct graph *g, const struct step *st);

#endif
