/* net.h - the network providers (Anthropic Messages, OpenAI chat completions and embeddings) and their defaults. */
#ifndef SB_NET_H
#define SB_NET_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "job.h"

struct cJSON;

struct loop;
struct provider;

struct net_config {
	const char *base_url;     /* NULL: $ANTHROPIC_BASE_URL / $OPENAI_BASE_URL, else the public default */
	const char *api_key;      /* NULL: $ANTHROPIC_API_KEY / $OPENAI_API_KEY; never logged, never in a message */
	int retries;              /* --retries; < 0 means the default, 4 */
	long connect_timeout_ms;  /* <= 0 means the default, 10000 */
	long timeout_ms;          /* per request; <= 0 means the default, 300000 */
	void (*log)(void *ctx, const char *line);  /* -v diagnostics: method, url path, status, request-id, retry
	                                              waits; NULL = silent; never the key */
	void *log_ctx;
};

/* The Anthropic Messages provider (summary, outline, sheet); NULL with err when no key is set or on OOM. */
struct provider *anthropic_provider_new(struct loop *l, const struct net_config *cfg, char *err, size_t errlen);

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
};

/* Resolves cfg against the environment variables key_env / base_env and default_base, then builds the endpoint at
 * base + path; auth_header is a printf format taking the key ("x-api-key: %s"). 0, or -1 with err naming what to do. */
int net_endpoint_init(struct net_endpoint *ep, const char *provider, const struct net_config *cfg,
                      const char *key_env, const char *base_env, const char *default_base, const char *path,
                      const char *auth_header, int key_required, const char *const *extra_headers, char *err,
                      size_t errlen);

/* Frees what net_endpoint_init allocated. */
void net_endpoint_free(struct net_endpoint *ep);

/* Fails job from an HTTP result that is not a usable answer: JOB_FATAL when the run must stop, else JOB_FAILED. */
void net_fail_http(const struct net_endpoint *ep, struct job *job, const struct http_result *r);

/* What a provider made of a 2xx answer. */
enum net_answer { NET_ANSWER_OK, NET_ANSWER_BAD, NET_ANSWER_CUT_OFF };

/* A cut-off answer is tried again at most this often: a retry may stop sooner, but a prompt that always overruns
 * max_tokens must not spend the whole retry budget. */
#define NET_CUT_OFF_RETRIES 2

/* http's accept() for a provider that judged a 2xx answer: JOB_OK for NET_ANSWER_OK (0), else fails job with
 * "<label>: <provider> <cause> (HTTP status, request-id ...)", writes "<provider> <cause>" to why and returns -1
 * (try again) or -2 (final: the cut_offs-th cut-off beyond NET_CUT_OFF_RETRIES). */
int net_verdict(const struct net_endpoint *ep, struct job *job, const struct http_result *r, enum net_answer verdict,
                const char *cause, int *cut_offs, char *why, size_t whylen);

/* Counts r's requests into job and completes it: loop_job_finished, then job->done. */
void net_complete(struct loop *l, struct job *job, const struct http_result *r);

/* The token count `name` of an answer's usage object, or 0 when absent or not a count a server could mean. */
uint64_t net_usage(const struct cJSON *usage, const char *name);

#endif
