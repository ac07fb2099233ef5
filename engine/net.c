/* net.c - what the network providers share: endpoint set-up from config and environment, failing and completing jobs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "job.h"
#include "loop.h"
#include "net.h"
#include "util.h"

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

int net_default_max_tokens(enum step_kind kind)
{
	switch (kind) {
	case STEP_SUMMARY: return 1024;
	case STEP_OUTLINE: return 8192;
	case STEP_SHEET: return 2048;
	default: return 0;
	}
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
	ep->provider = provider;
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
	ep->client.log = cfg->log;
	ep->client.log_ctx = cfg->log_ctx;
	ep->client.gate = cfg->gate;
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
	if (ep->key) {
		memset(ep->key, 0, strlen(ep->key));
		free(ep->key);
	}
	ep->url = ep->path = ep->key = NULL;
}

static void fail_http(const struct net_endpoint *ep, struct job *job, const struct http_result *r)
{
	char why[400];
	http_describe(&ep->client, r, why, sizeof(why));
	const char *hint = "";
	if (r->status == 401)
		hint = "; check the API key";
	else if (r->fatal)
		hint = "; the account's quota or spend limit is exhausted: stopping the run";
	else if (r->status == 400 || r->status == 404 || r->status == 413)
		hint = "; the request was refused: check the model name and --max-tokens";
	snprintf(job->error, sizeof(job->error), "%s: %s: %s%s", job->label, ep->provider, why, hint);
	http_scrub(&ep->client, job->error);
	job->status = r->fatal ? JOB_FATAL : JOB_FAILED;
}

static enum http_verdict verdict_of(const struct net_endpoint *ep, struct job *job, const struct http_result *r,
                                     enum net_answer verdict, const char *cause, int *cut_offs, char *why,
                                     size_t whylen)
{
	if (verdict == NET_ANSWER_OK) {
		job->status = JOB_OK;
		job->error[0] = '\0';
		return HTTP_ACCEPTED;
	}
	if (r->request_id[0])
		snprintf(job->error, sizeof(job->error), "%s: %s %s (HTTP %ld, request-id %s)", job->label, ep->provider,
		         cause, r->status, r->request_id);
	else
		snprintf(job->error, sizeof(job->error), "%s: %s %s (HTTP %ld)", job->label, ep->provider, cause, r->status);
	http_scrub(&ep->client, job->error);
	job->status = JOB_FAILED;
	snprintf(why, whylen, "%s %s", ep->provider, cause);
	http_scrub(&ep->client, why);
	if (verdict == NET_ANSWER_CUT_OFF && ++*cut_offs > NET_CUT_OFF_RETRIES)
		return HTTP_REJECTED;
	return HTTP_RETRY;
}

static void complete(struct job *job, const struct http_result *r)
{
	job->requests += r->requests;
	job->retries += r->retries;
	job->done(job);
}

/* One request in flight for a job. */
struct call {
	const struct net_endpoint *ep;
	struct job *job;
	net_reader read;
	int cut_offs;
};

/* Whether the answer carries the endpoint's own key (a model echoing what a prompt or a proxy showed it). */
static bool answer_has_key(const struct net_endpoint *ep, const struct http_result *r)
{
	const char *key = ep->key;
	size_t klen = key ? strlen(key) : 0;
	if (!klen || !r->body)
		return false;
	for (size_t i = 0; i + klen <= r->body_len; i++)
		if (r->body[i] == key[0] && memcmp(r->body + i, key, klen) == 0)
			return true;
	return false;
}

static enum http_verdict accept_answer(void *ctx, const struct http_result *r, char *why, size_t whylen)
{
	struct call *c = ctx;
	char cause[400];
	/* A key must never reach the cache or the archive: an answer holding one is malformed, whatever else it is. */
	enum net_answer verdict = NET_ANSWER_BAD;
	if (answer_has_key(c->ep, r))
		snprintf(cause, sizeof(cause), "answered with the API key in its text (such an answer is never stored)");
	else
		verdict = c->read(c->job, r, cause, sizeof(cause));
	return verdict_of(c->ep, c->job, r, verdict, cause, &c->cut_offs, why, whylen);
}

static void on_done(void *ctx, const struct http_result *r)
{
	struct call *c = ctx;
	struct job *job = c->job;
	/* An accepted or finally rejected answer already set the job; anything else failed on the wire. */
	if (!http_ok(r))
		fail_http(c->ep, job, r);
	free(c);
	complete(job, r);
}

static const struct http_callbacks callbacks = {accept_answer, on_done};

int net_send(struct loop *l, const struct net_endpoint *ep, struct job *job, char *body, net_reader read)
{
	if (!body) {
		snprintf(job->error, sizeof(job->error), "%s: %s: out of memory building the request", job->label,
		         ep->provider);
		return -1;
	}
	struct call *c = xcalloc(1, sizeof(*c));
	c->ep = ep;
	c->job = job;
	c->read = read;
	char err[256];
	if (http_post(l, &ep->client, job->label, body, &callbacks, c, err, sizeof(err)) < 0) {
		free(c);
		snprintf(job->error, sizeof(job->error), "%s: %s: %s", job->label, ep->provider, err);
		return -1;
	}
	return 0;
}

cJSON *net_parse_answer(const struct http_result *r, char *cause, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(r->body, r->body_len);
	if (cJSON_IsObject(root))
		return root;
	snprintf(cause, len, "answered with malformed JSON");
	cJSON_Delete(root);
	return NULL;
}

uint64_t net_usage(const cJSON *usage, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, name);
	/* A count beyond 2^53 is no count a server meant; converting one past 2^64 would be undefined. */
	if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > 9007199254740992.0)
		return 0;
	return (uint64_t)v->valuedouble;
}
