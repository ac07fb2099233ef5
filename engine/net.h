/* net.h - the network providers (Anthropic Messages, OpenAI chat completions and embeddings) and their defaults. */
#ifndef SB_NET_H
#define SB_NET_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "job.h"

struct cJSON;

struct gate;
struct loop;
struct provider;

/* Anthropic prompt caching (--prompt-cache): whether and for how long the stable prefix of each prompt is marked
 * with cache_control. Transport, not content: it never enters an action key. */
enum net_prompt_cache {
	NET_PROMPT_CACHE_5M,      /* the default: 5 minutes, refreshed by every read; writes cost 1.25x */
	NET_PROMPT_CACHE_OFF,     /* no cache_control markers */
	NET_PROMPT_CACHE_1H       /* one hour (batch mode); writes cost 2x */
};

/* Parses "off", "5m" or "1h"; 0, or -1 when text is none of them. */
int net_prompt_cache_parse(const char *text, enum net_prompt_cache *out);

/* "off", "5m" or "1h". */
const char *net_prompt_cache_name(enum net_prompt_cache pc);

/* The setting for a batch run given the interactive one: off stays off, else one hour, since a batch may take longer
 * than five minutes to reach the requests that read what the first ones wrote (as Anthropic recommends). */
enum net_prompt_cache net_prompt_cache_for_batch(enum net_prompt_cache chosen);

struct net_config {
	const char *base_url;     /* NULL: $ANTHROPIC_BASE_URL / $OPENAI_BASE_URL, else the public default */
	const char *api_key;      /* NULL: $ANTHROPIC_API_KEY / $OPENAI_API_KEY; never logged, never in a message */
	int retries;              /* --retries; < 0 means the default, 4 */
	long connect_timeout_ms;  /* <= 0 means the default, 10000 */
	long timeout_ms;          /* per request; <= 0 means the default, 300000 */
	int corrections;          /* --corrections: most correction turns per step; 0 means the default (2),
	                             NET_NO_CORRECTIONS none */
	void (*log)(void *ctx, const char *line);  /* -v diagnostics: method, url path, status, request-id, retry
	                                              waits; NULL = silent; never the key */
	void *log_ctx;
	struct gate *gate;        /* the scheduler's request window every request is admitted by; NULL admits all */
	struct admission *limits; /* the rate limits (admission.h) every request is admitted by; NULL: none */
	enum net_prompt_cache prompt_cache;  /* Anthropic only; the zero value is the default, 5 minutes */
};

/* The Anthropic Messages provider (summary, outline, sheet); NULL with err when no key is set or on OOM. */
struct provider *anthropic_provider_new(struct loop *l, const struct net_config *cfg, char *err, size_t errlen);

/* Anthropic prompt caching: sets marks[] to the scene blocks (0-based, increasing, of n) whose end carries a
 * cache_control breakpoint, at most max (<= 4), given the first block the run produced anew (first_fresh; 0 or >= n:
 * none, as in a cold run); returns the count. */
size_t anthropic_cache_marks(size_t n, size_t first_fresh, size_t max, size_t *marks);

/* The OpenAI-compatible chat completions provider; a key is required only for the public endpoint. */
struct provider *openai_chat_provider_new(struct loop *l, const struct net_config *cfg, char *err, size_t errlen);

/* The OpenAI embeddings provider (one request per batch job of at most 2048 texts). */
struct provider *openai_embed_provider_new(struct loop *l, const struct net_config *cfg, char *err, size_t errlen);

/* The default model of provider ("anthropic", "openai") for kind; NULL when it has none for that kind. */
const char *net_default_model(const char *provider, enum step_kind kind);

/* A max_tokens that fits kind's answer with room to spare (0 for embeddings). */
int net_default_max_tokens(enum step_kind kind);

/* Most inputs the embeddings endpoint takes in one request. */
#define NET_MAX_EMBED_INPUTS 2048

/* ---- shared by the provider implementations ---- */

/* One API endpoint: the url, the key and the headers that carry it, as an http_client. */
struct net_endpoint {
	struct http_client client;
	const char *provider;     /* "anthropic", "openai": prefixes messages */
	char *url;
	char *path;
	char *key;
	int corrections;          /* most correction turns per step */
	enum net_prompt_cache prompt_cache;
	char *base_shown;         /* scheme, host and port of the base URL (no credentials), for messages */
	const char *key_env;      /* the variables the key and the base URL came from, for messages */
	const char *base_env;
};

/* Resolves cfg against the environment variables key_env / base_env and default_base, then builds the endpoint at
 * base + path; auth_header is a printf format taking the key ("x-api-key: %s"). 0, or -1 with err naming what to do. */
int net_endpoint_init(struct net_endpoint *ep, const char *provider, const struct net_config *cfg,
                      const char *key_env, const char *base_env, const char *default_base, const char *path,
                      const char *auth_header, int key_required, const char *const *extra_headers, char *err,
                      size_t errlen);

/* Frees what net_endpoint_init allocated. */
void net_endpoint_free(struct net_endpoint *ep);

/* What a provider made of a 2xx answer. */
enum net_answer {
	NET_ANSWER_OK,
	NET_ANSWER_BAD,       /* malformed (not JSON, broken text, duplicate keys): retried like a 5xx, never cached */
	NET_ANSWER_INVALID,   /* well-formed but failing validation: answered by a correction turn, never resent as is */
	NET_ANSWER_CUT_OFF    /* stopped at max_tokens: sent once more with max_tokens doubled */
};

/* Default most correction turns per step, and the net_config value that allows none. */
#define NET_CORRECTIONS 2
#define NET_NO_CORRECTIONS (-1)

/* The conversation turns a correction adds: the assistant's answer as given, then the user's message listing what is
 * wrong (Anthropic: a tool_result with is_error for that tool_use_id). */
struct net_turn {
	struct cJSON *messages;   /* array of two messages, owned by the receiver; NULL when none was made */
};

/* Reads a 2xx answer into job (output or vectors, tokens): NET_ANSWER_OK, or another verdict with cause saying why;
 * on NET_ANSWER_INVALID fills turn (when not NULL) with the correction turn to send. */
typedef enum net_answer (*net_reader)(struct job *job, const struct http_result *r, struct net_turn *turn,
                                      char *cause, size_t len);

/* Builds the request body of job with max_tokens and the correction turns so far (an array, empty at first), as
 * malloc'd text; NULL on out of memory. */
typedef char *(*net_builder)(const struct job *job, int max_tokens, const struct cJSON *turns);

/* POSTs build's body to ep for job on l; read judges each 2xx answer: a malformed one is retried like a 5xx, an
 * invalid one continues the conversation with a correction turn (at most ep->corrections), a cut-off one is sent once
 * more with max_tokens doubled within the model's limit. job completes through job->done from inside the loop with
 * its status, error (prefixed with its label and scrubbed of the key), requests, retries and corrections set. 0, or
 * -1 with job->error set (done() never runs). */
int net_send(struct loop *l, const struct net_endpoint *ep, struct job *job, net_builder build, net_reader read);

/* The max_tokens job asks for at first: --max-tokens, else the kind's default. */
int net_max_tokens(const struct job *job);

/* The most output tokens model may be asked for (a doubled max_tokens stays within it). */
int net_model_max_tokens(const char *model);

/* The answer's body as a JSON object with clean text and unique keys, or NULL with cause saying it is malformed
 * (caller deletes it). */
struct cJSON *net_parse_answer(const struct http_result *r, char *cause, size_t len);

/* The token count `name` of an answer's usage object, or 0 when absent or not a count a server could mean. */
uint64_t net_usage(const struct cJSON *usage, const char *name);

#endif
