/* net.c - what the network providers share: endpoint set-up from config and environment, failing and completing jobs. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "admission.h"
#include "job.h"
#include "loop.h"
#include "net.h"
#include "util.h"
#include "validate.h"

const char *net_default_model(const char *provider, enum step_kind kind)
{
	if (strcmp(provider, "anthropic") == 0) {
		/* Summaries are many and short: the fast model. The outline and sheets read the whole story. */
		switch (kind) {
		case STEP_SUMMARY: return "claude-haiku-4-5";
		case STEP_OUTLINE:
		case STEP_SHEET: return "claude-sonnet-4-5";
		default: return NULL;
		}
	}
	if (strcmp(provider, "openai") == 0)
		return kind == STEP_EMBEDDING ? "text-embedding-3-small" : "gpt-4o-mini";
	return NULL;
}

int net_prompt_cache_parse(const char *text, enum net_prompt_cache *out)
{
	static const enum net_prompt_cache all[] = {NET_PROMPT_CACHE_OFF, NET_PROMPT_CACHE_5M, NET_PROMPT_CACHE_1H};
	for (size_t i = 0; text && i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(text, net_prompt_cache_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	return -1;
}

const char *net_prompt_cache_name(enum net_prompt_cache pc)
{
	return pc == NET_PROMPT_CACHE_OFF ? "off" : pc == NET_PROMPT_CACHE_1H ? "1h" : "5m";
}

enum net_prompt_cache net_prompt_cache_for_batch(enum net_prompt_cache chosen)
{
	return chosen == NET_PROMPT_CACHE_OFF ? NET_PROMPT_CACHE_OFF : NET_PROMPT_CACHE_1H;
}

int net_default_max_tokens(enum step_kind kind)
{
	switch (kind) {
	case STEP_SUMMARY: return 1024;
	case STEP_OUTLINE: return 8192;
	case STEP_SHEET: return 2048;
	default: return 0;
	}
}

/* 1 when the base URL's last segment is the first of path (ANTHROPIC_BASE_URL=https://host/v1 + /v1/messages): the
 * SDK variable names the host, and the doubled segment would get a 404 on every request. */
static int base_repeats_path(const char *base, size_t blen, const char *path)
{
	size_t seg = strcspn(path + 1, "/") + 1;   /* "/v1" */
	return path[0] == '/' && seg > 1 && path[seg] == '/' && blen >= seg && memcmp(base + blen - seg, path, seg) == 0;
}

/* The base URL as messages may show it: scheme, host, port and path, without user:password@ (malloc'd). */
static char *shown_base(const char *base, size_t blen)
{
	const char *host = strstr(base, "://");
	host = host ? host + 3 : base;
	size_t hlen = strcspn(host, "/");
	const char *at = memchr(host, '@', hlen);
	if (!at)
		return xstrndup(base, blen);
	return xasprintf("%.*s%.*s", (int)(host - base), base, (int)(blen - (size_t)(at + 1 - base)), at + 1);
}

static const char *url_path(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	p = strchr(p, '/');
	return p ? p : "/";
}

int net_endpoint_init(struct net_endpoint *ep, const char *provider, const struct net_config *cfg,
                      const char *key_env, const char *base_env, const char *default_base, const char *path,
                      const char *auth_header, int key_required, const char *const *extra_headers, char *err,
                      size_t errlen)
{
	memset(ep, 0, sizeof(*ep));
	const char *base = cfg->base_url;
	if (!base || !*base)
		base = getenv(base_env);
	if (!base || !*base)
		base = default_base;
	if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
		snprintf(err, errlen, "%s: base URL \"%.200s\" (from %s or the option) must start with http:// or https://",
		         provider, base, base_env);
		return -1;
	}
	const char *key = cfg->api_key;
	if (!key || !*key)
		key = getenv(key_env);
	if (key && !*key)
		key = NULL;
	if (!key && (key_required || strcmp(base, default_base) == 0)) {
		snprintf(err, errlen, "%s: no API key: set %s (or choose the builtin provider)", provider, key_env);
		return -1;
	}
	size_t blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	if (base_repeats_path(base, blen, path)) {
		int seg = (int)strcspn(path + 1, "/") + 1;
		char *shown = shown_base(base, blen);
		snprintf(err, errlen, "%s: %s is \"%.200s\", which already ends in %.*s, so requests would go to %.*s%s and "
		         "fail (404): drop the trailing %.*s from %s", provider, base_env, shown, seg, path, seg, path, path,
		         seg, path, base_env);
		free(shown);
		return -1;
	}
	ep->provider = provider;
	ep->key_env = key_env;
	ep->base_env = base_env;
	ep->base_shown = shown_base(base, blen);
	ep->url = xasprintf("%.*s%s", (int)blen, base, path);
	ep->path = xstrdup(url_path(ep->url));
	ep->key = key ? xstrdup(key) : NULL;

	struct curl_slist *h = NULL, *next;
	if (ep->key) {
		char *line = xasprintf(auth_header, ep->key);
		next = curl_slist_append(h, line);
		memset(line, 0, strlen(line));
		free(line);
		if (!next)
			goto oom;
		h = next;
	}
	/* "Expect:" stops curl from pausing a large body for a 100-continue no API needs. */
	static const char *const common[] = {"content-type: application/json", "accept: application/json", "Expect:"};
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
		if (!(next = curl_slist_append(h, common[i])))
			goto oom;
		h = next;
	}
	for (size_t i = 0; extra_headers && extra_headers[i]; i++) {
		if (!(next = curl_slist_append(h, extra_headers[i])))
			goto oom;
		h = next;
	}
	ep->client.url = ep->url;
	ep->client.path = ep->path;
	ep->client.headers = h;
	ep->client.secret = ep->key;
	ep->client.retries = cfg->retries >= 0 ? cfg->retries : 4;
	ep->client.connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
	ep->client.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 300000;
	ep->prompt_cache = cfg->prompt_cache;
	ep->corrections = cfg->corrections > 0 ? cfg->corrections : cfg->corrections == 0 ? NET_CORRECTIONS : 0;
	ep->client.log = cfg->log;
	ep->client.log_ctx = cfg->log_ctx;
	ep->client.gate = cfg->gate;
	ep->client.limits = cfg->limits;
	return 0;
oom:
	curl_slist_free_all(h);
	net_endpoint_free(ep);
	snprintf(err, errlen, "%s: out of memory", provider);
	return -1;
}

void net_endpoint_free(struct net_endpoint *ep)
{
	curl_slist_free_all(ep->client.headers);
	ep->client.headers = NULL;
	free(ep->url);
	free(ep->path);
	free(ep->base_shown);
	ep->base_shown = NULL;
	if (ep->key) {
		memset(ep->key, 0, strlen(ep->key));
		free(ep->key);
	}
	ep->url = ep->path = ep->key = NULL;
}

/* Whether curl's words say the host could not be reached at all (not TLS, not a timeout mid-answer). */
static int unreachable(const char *why)
{
	return why && (strstr(why, "connect") || strstr(why, "resolve") || strstr(why, "Connection refused"));
}

static void fail_http(const struct net_endpoint *ep, struct job *job, const struct http_result *r)
{
	char why[400];
	http_describe(&ep->client, r, why, sizeof(why));
	char hint[300] = "";
	if (r->status == 401)
		snprintf(hint, sizeof(hint), "; the key in %s was refused by %s: check it (stopping the run)", ep->key_env,
		         ep->url);
	else if (r->status == 403)
		snprintf(hint, sizeof(hint), "; the key in %s may not use %s or this model: check its permissions (stopping "
		         "the run)", ep->key_env, ep->url);
	else if (r->status == 0 && !r->cancelled && unreachable(r->transport_error))
		snprintf(hint, sizeof(hint), "; is %s reachable? it comes from %s%s", ep->base_shown, ep->base_env,
		         getenv(ep->base_env) && *getenv(ep->base_env) ? "" : " (unset: the public default)");
	else if (r->fatal)
		snprintf(hint, sizeof(hint), "; the account's quota or spend limit is exhausted: stopping the run");
	else if (r->status == 400 || r->status == 404 || r->status == 413)
		snprintf(hint, sizeof(hint), "; the request was refused: check the model name and --max-tokens");
	snprintf(job->error, sizeof(job->error), "%s: %s: %s%s", job->label, ep->provider, why, hint);
	job->http_status = r->status;
	http_scrub(&ep->client, job->error);
	job->status = r->fatal ? JOB_FATAL : JOB_FAILED;
}

int net_max_tokens(const struct job *job)
{
	return job->params->max_tokens > 0 ? job->params->max_tokens : net_default_max_tokens(job->kind);
}

int net_model_max_tokens(const char *model)
{
	/* The documented output ceilings; an unknown model gets a bound a local server will accept or clamp. */
	static const struct {
		const char *prefix;
		int limit;
	} limits[] = {
		{"claude-opus-4-1", 32000}, {"claude-opus-4-0", 32000}, {"claude-opus-4", 32000},
		{"claude-sonnet-4", 64000}, {"claude-haiku-4", 64000}, {"claude-3-7-sonnet", 64000},
		{"claude-3-5-haiku", 8192}, {"claude-3-5-sonnet", 8192}, {"claude-3-haiku", 4096},
		{"gpt-4o", 16384}, {"gpt-4.1", 32768}, {"gpt-5", 128000},
	};
	for (size_t i = 0; model && i < sizeof(limits) / sizeof(limits[0]); i++)
		if (strncmp(model, limits[i].prefix, strlen(limits[i].prefix)) == 0)
			return limits[i].limit;
	return 32768;
}

/* One step's conversation with the API: every request of it, first, corrected or with more max_tokens. */
struct call {
	struct loop *loop;
	const struct net_endpoint *ep;
	struct job *job;
	net_builder build;
	net_reader read;
	cJSON *turns;             /* correction turns sent so far */
	cJSON *pending;           /* the correction turn the last answer calls for */
	int max_tokens;
	bool cut_off;             /* the last answer stopped at max_tokens */
	uint64_t tokens_in_before;    /* the job's input tokens before this request: its answer adds its usage */
	uint64_t cache_read_before;   /* the same for the prompt cache's reads, which no input-token limit counts */
};

/* Whether the answer carries the endpoint's own key (a model echoing what a prompt or a proxy showed it). */
static bool answer_has_key(const struct net_endpoint *ep, const struct http_result *r)
{
	const char *key = ep->key;
	size_t klen = key ? strlen(key) : 0;
	if (klen < KEY_PIECE_MIN || !r->body)
		return false;
	for (size_t i = 0; i + klen <= r->body_len; i++)
		if (r->body[i] == key[0] && memcmp(r->body + i, key, klen) == 0)
			return true;
	return false;
}

static void set_answer_error(struct call *c, const struct http_result *r, const char *cause)
{
	struct job *job = c->job;
	char after[96] = "";
	if (job->corrections)
		snprintf(after, sizeof(after), ", after %d correction turn%s", job->corrections,
		         job->corrections == 1 ? "" : "s");
	else if (job->max_tokens_retries)
		snprintf(after, sizeof(after), ", after one more try with max_tokens %d", c->max_tokens);
	if (r->request_id[0])
		snprintf(job->error, sizeof(job->error), "%.60s: %s %.360s (HTTP %ld, request-id %.40s%s)", job->label,
		         c->ep->provider, cause, r->status, r->request_id, after);
	else
		snprintf(job->error, sizeof(job->error), "%.60s: %s %.400s (HTTP %ld%s)", job->label, c->ep->provider, cause,
		         r->status, after);
	http_scrub(&c->ep->client, job->error);
	job->status = JOB_FAILED;
}

static enum http_verdict accept_answer(void *ctx, const struct http_result *r, char *why, size_t whylen)
{
	struct call *c = ctx;
	char cause[1024];
	struct net_turn turn = {NULL};
	cJSON_Delete(c->pending);
	c->pending = NULL;
	c->cut_off = false;
	/* A key must never reach the cache or the archive: an answer holding one is malformed, whatever else it is. */
	enum net_answer verdict = NET_ANSWER_BAD;
	if (answer_has_key(c->ep, r))
		snprintf(cause, sizeof(cause), "answered with the API key in its text (such an answer is never stored)");
	else
		verdict = c->read(c->job, r, &turn, cause, sizeof(cause));
	if (verdict == NET_ANSWER_OK) {
		cJSON_Delete(turn.messages);
		c->job->status = JOB_OK;
		c->job->error[0] = '\0';
		return HTTP_ACCEPTED;
	}
	set_answer_error(c, r, cause);
	snprintf(why, whylen, "%s %s", c->ep->provider, cause);
	http_scrub(&c->ep->client, why);
	if (verdict == NET_ANSWER_INVALID) {
		/* The same request at temperature 0 buys the same wrong answer: continue the conversation instead. */
		c->pending = turn.messages;
		return HTTP_REJECTED;
	}
	cJSON_Delete(turn.messages);
	if (verdict == NET_ANSWER_CUT_OFF) {
		c->cut_off = true;
		return HTTP_REJECTED;
	}
	return HTTP_RETRY;
}

static const struct http_callbacks callbacks;

/* Sends the call's next request; 0, or -1 with job->error set. */
static int post(struct call *c)
{
	struct job *job = c->job;
	char *body = c->build(job, c->max_tokens, c->turns);
	if (!body) {
		snprintf(job->error, sizeof(job->error), "%s: %s: out of memory building the request", job->label,
		         c->ep->provider);
		return -1;
	}
	c->tokens_in_before = job->tokens_in;
	c->cache_read_before = job->tokens_cache_read;
	/* The rate limits charge a request its prompt's estimated input tokens and its whole max_tokens up front, as the
	 * providers do; usage corrects the input charge when the answer comes. */
	struct http_budget budget = {0};
	if (c->ep->client.limits && job->params) {
		budget.account = admission_account(c->ep->client.limits, c->ep->provider, job->params->model);
		rl_cost_of(budget.account, strlen(body), (double)c->max_tokens, &budget.cost);
	}
	char err[256];
	if (http_post(c->loop, &c->ep->client, job->label, body, &budget, &callbacks, c, err, sizeof(err)) < 0) {
		snprintf(job->error, sizeof(job->error), "%s: %s: %s", job->label, c->ep->provider, err);
		return -1;
	}
	return 0;
}

/* After an answer that was refused: the next request of the conversation, when one may help. */
static bool continue_call(struct call *c)
{
	struct job *job = c->job;
	if (c->pending && job->corrections < c->ep->corrections) {
		cJSON *m;
		while ((m = cJSON_DetachItemFromArray(c->pending, 0)))
			cJSON_AddItemToArray(c->turns, m);
		cJSON_Delete(c->pending);
		c->pending = NULL;
		job->corrections++;
		http_log(&c->ep->client, "%s: answer failed validation: correction turn %d of %d", job->label, job->corrections,
		         c->ep->corrections);
		return post(c) == 0;
	}
	int limit = net_model_max_tokens(job->params->model);
	if (c->cut_off && job->max_tokens_retries == 0 && c->max_tokens < limit) {
		int more = c->max_tokens > limit / 2 ? limit : c->max_tokens * 2;
		http_log(&c->ep->client, "%s: answer cut off at max_tokens %d: asking once more with max_tokens %d", job->label,
		         c->max_tokens, more);
		c->max_tokens = more;
		job->max_tokens_retries++;
		c->cut_off = false;
		return post(c) == 0;
	}
	return false;
}

static void on_done(void *ctx, const struct http_result *r)
{
	struct call *c = ctx;
	struct job *job = c->job;
	job->requests += r->requests;
	job->retries += r->retries;
	/* An accepted or finally rejected answer already set the job; anything else failed on the wire. */
	if (!http_ok(r)) {
		fail_http(c->ep, job, r);
	} else if (job->status != JOB_OK && !r->cancelled && continue_call(c)) {
		return;
	} else if (job->status == JOB_OK && r->admitted && job->tokens_in > c->tokens_in_before) {
		/* Reads from the prompt cache do not count against the input-tokens-per-minute limit. */
		uint64_t read = job->tokens_cache_read - c->cache_read_before, in = job->tokens_in - c->tokens_in_before;
		admission_reconcile(c->ep->client.limits, r->admitted, (double)(in > read ? in - read : 0));
	}
	cJSON_Delete(c->turns);
	cJSON_Delete(c->pending);
	free(c);
	job->done(job);
}

static const struct http_callbacks callbacks = {accept_answer, on_done};

int net_send(struct loop *l, const struct net_endpoint *ep, struct job *job, net_builder build, net_reader read)
{
	struct call *c = xcalloc(1, sizeof(*c));
	c->loop = l;
	c->ep = ep;
	c->job = job;
	c->build = build;
	c->read = read;
	c->turns = cJSON_CreateArray();
	c->max_tokens = job->kind == STEP_EMBEDDING ? 0 : net_max_tokens(job);
	if (!c->turns || post(c) < 0) {
		cJSON_Delete(c->turns);
		free(c);
		if (!job->error[0])
			snprintf(job->error, sizeof(job->error), "%s: %s: out of memory", job->label, ep->provider);
		return -1;
	}
	return 0;
}

cJSON *net_parse_answer(const struct http_result *r, char *cause, size_t len)
{
	char why[300];
	if (answer_check_bytes(r->body, r->body_len, why, sizeof(why)) < 0) {
		snprintf(cause, len, "answered malformed text: %s", why);
		return NULL;
	}
	cJSON *root = cJSON_ParseWithLength(r->body, r->body_len);
	if (!cJSON_IsObject(root)) {
		snprintf(cause, len, "answered with malformed JSON");
		cJSON_Delete(root);
		return NULL;
	}
	/* cJSON keeps the first of two equal keys silently: which one the model meant is unknowable. */
	if (answer_check_tree(root, why, sizeof(why)) < 0) {
		snprintf(cause, len, "answered malformed JSON: %s", why);
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

uint64_t net_usage(const cJSON *usage, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, name);
	/* A count beyond 2^53 is no count a server meant; converting one past 2^64 would be undefined. */
	if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > 9007199254740992.0)
		return 0;
	return (uint64_t)v->valuedouble;
}
