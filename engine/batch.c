/* batch.c - Anthropic's Message Batches: waves of jobs submitted as batches, polled with backoff, collected through
 * the synchronous reader, recorded in the cache while in flight so that another run resumes them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "batch.h"
#include "cache.h"
#include "http.h"
#include "loop.h"
#include "net.h"
#include "replies.h"
#include "util.h"

#define CUSTOM_ID_LEN DIGEST_HEX_LEN
#define WAVE_SETTLE_MS 20         /* jobs started within this of each other go out in one batch */

struct bprov;
struct mbatch;

/* One request: a job's next turn, waiting in the wave or in a batch; job NULL while no step of this run wants it. */
struct item {
	struct job *job;
	char custom_id[CUSTOM_ID_LEN + 1];
	int kind;
	cJSON *turns;             /* correction turns so far */
	int max_tokens;
	int resubmits;
	struct item *next;        /* in the wave */
};

/* A result an earlier run's batch returned that no step of that run wanted: kept in its record until one does. */
struct stored {
	char custom_id[CUSTOM_ID_LEN + 1];
	int kind;
	char *message;            /* the message JSON */
	char *batch_id;
	bool claimed;
};

/* One HTTP request of the provider (submit, poll, results), with the client it needs. */
struct call {
	struct bprov *p;
	struct mbatch *b;         /* poll and results: the batch; submit: the new one's items below */
	struct http_client client;
	char *url;
	struct item **items;      /* submit: the items of the new batch */
	size_t nitems;
	enum { CALL_SUBMIT, CALL_POLL, CALL_RESULTS } what;
};

struct mbatch {
	struct bprov *p;
	char *id;
	struct item **items;
	size_t n;
	size_t attached;          /* items with a job waiting for them */
	struct loop_timer timer;  /* first: the timer hands the batch back */
	long interval_ms;
	int64_t created;          /* unix seconds */
	size_t index;             /* 1-based among the batches this run knows */
	bool resumed, busy, indexed, done;
	struct mbatch *next;
};

struct bprov {
	struct provider base;
	struct provider *sync;
	struct net_endpoint ep;   /* POST /v1/messages/batches */
	struct batch_options o;
	struct loop_timer wave_timer;
	struct item *wave;
	size_t nwave;
	struct mbatch *batches;
	size_t known;             /* batches this run knows (the status line's count) */
	struct stored *stored;
	size_t nstored, capstored;
	int outstanding;          /* calls not yet released (their requests in flight, or just ended) */
	struct batch_totals totals;
};

static void submit_wave(struct loop_timer *t);
static void cancel_all(struct bprov *p);
static void poll_now(struct loop_timer *t);
static const struct http_callbacks callbacks;

static void warn(struct bprov *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct bprov *p, const char *fmt, ...)
{
	if (!p->o.warn)
		return;
	char message[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	http_scrub(&p->ep.client, message);
	p->o.warn(p->o.ctx, message);
}

static void item_free(struct item *it)
{
	if (!it)
		return;
	cJSON_Delete(it->turns);
	free(it);
}

/* Ends it's job with status and, when failed, why (prefixed with the step's label). */
static void complete(struct item *it, enum job_status status, const char *why)
{
	struct job *job = it->job;
	it->job = NULL;
	job->status = status;
	if (status != JOB_OK)
		snprintf(job->error, sizeof(job->error), "%.80s: anthropic batch: %.400s", job->label, why);
	else
		job->error[0] = '\0';
	item_free(it);
	job->done(job);
}

static void enqueue(struct bprov *p, struct item *it)
{
	it->next = p->wave;
	p->wave = it;
	p->nwave++;
	if (!p->wave_timer.armed)
		loop_timer_start(p->base.loop, &p->wave_timer, WAVE_SETTLE_MS);
}

/* An item's job goes again: into the next wave, or with --batch-fallback sync to the synchronous provider. */
static void again(struct bprov *p, struct item *it, const char *why)
{
	p->totals.resubmitted++;
	if (p->o.fallback_sync) {
		struct job *job = it->job;
		it->job = NULL;
		item_free(it);
		if (p->sync->start(p->sync, job) < 0) {
			job->status = JOB_FAILED;
			job->done(job);
		}
		return;
	}
	if (why && p->ep.client.log) {
		char line[600];
		snprintf(line, sizeof(line), "%s: %s: into the next batch", it->job->label, why);
		p->ep.client.log(p->ep.client.log_ctx, line);
	}
	enqueue(p, it);
}

/* Whether the text carries the endpoint's own key (a model echoing what it was shown). */
static bool has_key(const struct bprov *p, const char *text, size_t len)
{
	const char *key = p->ep.key;
	size_t klen = key ? strlen(key) : 0;
	if (klen < KEY_PIECE_MIN)
		return false;
	for (size_t i = 0; i + klen <= len; i++)
		if (text[i] == key[0] && memcmp(text + i, key, klen) == 0)
			return true;
	return false;
}

/* A succeeded item's message, judged by the reader a synchronous answer goes through. */
static void take_message(struct bprov *p, struct item *it, const char *message, size_t len)
{
	struct job *job = it->job;
	struct http_result r = {.status = 200, .body = message, .body_len = len, .request_id = ""};
	struct net_turn turn = {NULL};
	char cause[1024];
	uint64_t in = job->tokens_in, out = job->tokens_out, cr = job->tokens_cache_read, cw = job->tokens_cache_write;
	uint64_t cw1h = job->tokens_cache_write_1h;
	enum net_answer verdict = NET_ANSWER_BAD;
	job->requests++;
	job->batched++;
	if (has_key(p, message, len))
		snprintf(cause, sizeof(cause), "answered with the API key in its text (such an answer is never stored)");
	else
		verdict = anthropic_take_answer(job, &r, &turn, cause, sizeof(cause));
	http_scrub(&p->ep.client, cause);
	switch (verdict) {
	case NET_ANSWER_OK:
		cJSON_Delete(turn.messages);
		job->batch_tokens_in += job->tokens_in - in;
		job->batch_tokens_out += job->tokens_out - out;
		job->batch_cache_read += job->tokens_cache_read - cr;
		job->batch_cache_write += job->tokens_cache_write - cw;
		job->batch_cache_write_1h += job->tokens_cache_write_1h - cw1h;
		complete(it, JOB_OK, NULL);
		return;
	case NET_ANSWER_INVALID:
		/* The same request buys the same wrong answer: the conversation goes on with what is wrong. */
		if (turn.messages && job->corrections < p->ep.corrections) {
			cJSON *m;
			while ((m = cJSON_DetachItemFromArray(turn.messages, 0)))
				cJSON_AddItemToArray(it->turns, m);
			cJSON_Delete(turn.messages);
			job->corrections++;
			again(p, it, cause);
			return;
		}
		cJSON_Delete(turn.messages);
		break;
	case NET_ANSWER_CUT_OFF: {
		int limit = net_model_max_tokens(job->params->model);
		if (job->max_tokens_retries == 0 && it->max_tokens < limit) {
			it->max_tokens = it->max_tokens > limit / 2 ? limit : it->max_tokens * 2;
			job->max_tokens_retries++;
			again(p, it, cause);
			return;
		}
		break;
	}
	case NET_ANSWER_BAD:
		if (it->resubmits++ < p->o.max_resubmits) {
			again(p, it, cause);
			return;
		}
		break;
	}
	char why[1100];
	snprintf(why, sizeof(why), "%s%s", cause, job->corrections ? " (after correction turns)" : "");
	complete(it, JOB_FAILED, why);
}

/* Keeps a result no step wants yet, for a step that starts later in this run. */
static void add_stored(struct bprov *p, const char *custom_id, int kind, char *message, const char *batch_id)
{
	p->stored = xgrow(p->stored, &p->capstored, p->nstored + 1, sizeof(*p->stored));
	struct stored *s = &p->stored[p->nstored++];
	memset(s, 0, sizeof(*s));
	snprintf(s->custom_id, sizeof(s->custom_id), "%s", custom_id);
	s->kind = kind;
	s->message = message;
	s->batch_id = xstrdup(batch_id);
}

/* ---- records: what the cache keeps of a batch in flight, or of results no step wanted yet ---- */

static char *record_text(const struct bprov *p, const struct mbatch *b, cJSON *results)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "id", b->id);
	cJSON_AddStringToObject(root, "endpoint", p->ep.base_shown);
	cJSON_AddNumberToObject(root, "created", (double)b->created);
	if (results) {
		cJSON_AddItemToObject(root, "results", results);
	} else {
		cJSON *requests = cJSON_AddArrayToObject(root, "requests");
		for (size_t i = 0; i < b->n; i++) {
			cJSON *r = cJSON_CreateObject();
			cJSON_AddStringToObject(r, "custom_id", b->items[i]->custom_id);
			cJSON_AddNumberToObject(r, "kind", b->items[i]->kind);
			cJSON_AddItemToArray(requests, r);
		}
	}
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static void record_put(struct bprov *p, const char *id, char *text)
{
	char err[600];
	if (!text || cache_batch_put(p->o.cache, id, text, strlen(text), err, sizeof(err)) < 0)
		warn(p, "message batch %s: could not record it in the cache (%s): a run killed before it ends cannot "
		     "resume it", id, text ? err : "out of memory");
	free(text);
}

static void record_forget(struct bprov *p, const char *id)
{
	char err[600];
	if (cache_batch_forget(p->o.cache, id, err, sizeof(err)) < 0)
		warn(p, "message batch %s: could not forget its record: %s", id, err);
}

/* ---- HTTP ---- */

static struct call *call_new(struct bprov *p, int what, const char *url, bool get)
{
	struct call *c = xcalloc(1, sizeof(*c));
	c->p = p;
	c->what = what;
	c->client = p->ep.client;
	c->url = xstrdup(url);
	c->client.url = c->url;
	c->client.get = get;
	/* Polls must not wait behind the synchronous requests' window: they are cheap and not rate-limited as such. */
	c->client.gate = NULL;
	c->client.limits = NULL;
	return c;
}

static void call_free(struct call *c)
{
	free(c->items);
	free(c->url);
	free(c);
}

static int send_call(struct call *c, const char *label, char *body)
{
	char err[300];
	c->p->outstanding++;
	if (http_post(c->p->base.loop, &c->client, label, body, NULL, &callbacks, c, err, sizeof(err)) < 0) {
		c->p->outstanding--;
		return -1;
	}
	return 0;
}

static enum http_verdict accept_json(void *ctx, const struct http_result *r, char *why, size_t whylen)
{
	struct call *c = ctx;
	if (c->what == CALL_RESULTS)
		return HTTP_ACCEPTED;
	cJSON *root = cJSON_ParseWithLength(r->body, r->body_len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
	bool ok = cJSON_IsString(id) && id->valuestring[0];
	cJSON_Delete(root);
	if (ok)
		return HTTP_ACCEPTED;
	snprintf(why, whylen, "not a message batch object");
	return HTTP_RETRY;
}

static void fail_items(struct bprov *p, struct item **items, size_t n, const struct http_result *r, const char *what)
{
	char why[500];
	http_describe(&p->ep.client, r, why, sizeof(why));
	for (size_t i = 0; i < n; i++) {
		struct item *it = items[i];
		if (!it->job) {
			item_free(it);
			continue;
		}
		char message[700];
		snprintf(message, sizeof(message), "%s: %s", what, why);
		if (r->fatal)
			it->job->status = JOB_FATAL;
		enum job_status st = r->fatal ? JOB_FATAL : JOB_FAILED;
		complete(it, st, message);
	}
}

static void arm_poll(struct mbatch *b, long ms)
{
	loop_timer_start(b->p->base.loop, &b->timer, ms);
}

static void report(struct bprov *p, struct mbatch *b, const char *status, size_t done, size_t total)
{
	if (!b->indexed) {
		b->indexed = true;
		b->index = ++p->known;
	}
	if (!p->o.progress)
		return;
	struct batch_progress pr = {b->id, b->index, p->known, done, total, difftime(time(NULL), (time_t)b->created),
	                            status};
	p->o.progress(p->o.ctx, &pr);
}

static struct mbatch *batch_new(struct bprov *p, const char *id, struct item **items, size_t n, int64_t created)
{
	struct mbatch *b = xcalloc(1, sizeof(*b));
	b->p = p;
	b->id = xstrdup(id);
	b->items = items;
	b->n = n;
	b->created = created;
	b->timer.fire = poll_now;
	b->interval_ms = p->o.poll_min_ms;
	b->next = p->batches;
	p->batches = b;
	for (size_t i = 0; i < n; i++)
		b->attached += items[i]->job != NULL;
	return b;
}

static void on_submitted(struct call *c, const struct http_result *r)
{
	struct bprov *p = c->p;
	if (!http_ok(r)) {
		fail_items(p, c->items, c->nitems, r, "submitting the batch failed");
		return;
	}
	cJSON *root = cJSON_ParseWithLength(r->body, r->body_len);
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "id"));
	struct mbatch *b = batch_new(p, id, c->items, c->nitems, (int64_t)time(NULL));
	c->items = NULL;
	cJSON_Delete(root);
	p->totals.submitted++;
	p->totals.items += b->n;
	/* Recorded before the first poll: from here on a killed run leaves the next one a batch to resume. */
	record_put(p, b->id, record_text(p, b, NULL));
	report(p, b, "submitted", 0, b->n);
	arm_poll(b, b->interval_ms);
}

/* Why a batch's item failed, from its error object ({"type":"error","error":{"type","message"}}). */
static void item_error(const cJSON *error, char *why, size_t len, bool *final)
{
	const cJSON *inner = cJSON_GetObjectItemCaseSensitive(error, "error");
	if (!cJSON_IsObject(inner))
		inner = error;
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inner, "type"));
	const char *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inner, "message"));
	/* A request the API refuses is refused again: only a server-side error is worth another batch. */
	*final = type && strcmp(type, "invalid_request_error") == 0;
	snprintf(why, len, "errored: %s: %.300s", type ? type : "error", message ? message : "(no message)");
}

/* Collects an ended batch's JSONL: every item's result, a missing one counted as expired. */
static void on_results(struct call *c, const struct http_result *r)
{
	struct bprov *p = c->p;
	struct mbatch *b = c->b;
	b->busy = false;
	if (!http_ok(r)) {
		if (loop_aborted(p->base.loop)) {
			cancel_all(p);
			return;
		}
		char why[400];
		http_describe(&p->ep.client, r, why, sizeof(why));
		warn(p, "message batch %s: fetching its results failed (%s): trying again", b->id, why);
		arm_poll(b, b->interval_ms);
		return;
	}
	bool *seen = xcalloc(b->n ? b->n : 1, sizeof(bool));
	cJSON *unclaimed = cJSON_CreateArray();
	const char *line = r->body, *end = r->body + r->body_len;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		cJSON *root = cJSON_ParseWithLength(line, n);
		line += n + 1;
		const char *cid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "custom_id"));
		const cJSON *result = cJSON_GetObjectItemCaseSensitive(root, "result");
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(result, "type"));
		size_t i = 0;
		while (cid && i < b->n && (seen[i] || strcmp(b->items[i]->custom_id, cid) != 0))
			i++;
		if (!cid || !type || i == b->n) {
			cJSON_Delete(root);
			continue;
		}
		seen[i] = true;
		struct item *it = b->items[i];
		b->items[i] = NULL;
		if (!it->job) {
			/* Paid for, wanted by no step of this run: kept for the run that wants it. */
			if (strcmp(type, "succeeded") == 0) {
				cJSON *keep = cJSON_CreateObject();
				cJSON_AddStringToObject(keep, "custom_id", it->custom_id);
				cJSON_AddNumberToObject(keep, "kind", it->kind);
				cJSON *message = cJSON_DetachItemFromObjectCaseSensitive((cJSON *)result, "message");
				char *text = cJSON_PrintUnformatted(message);
				if (text)
					add_stored(p, it->custom_id, it->kind, text, b->id);
				cJSON_AddItemToObject(keep, "message", message);
				cJSON_AddItemToArray(unclaimed, keep);
			}
			item_free(it);
		} else if (strcmp(type, "succeeded") == 0) {
			char *message = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(result, "message"));
			if (message)
				take_message(p, it, message, strlen(message));
			else
				complete(it, JOB_FAILED, "out of memory reading its result");
			free(message);
		} else {
			char why[400];
			bool final = false;
			if (strcmp(type, "errored") == 0)
				item_error(cJSON_GetObjectItemCaseSensitive(result, "error"), why, sizeof(why), &final);
			else
				snprintf(why, sizeof(why), "%.20s", type);
			if (!final && it->resubmits++ < p->o.max_resubmits)
				again(p, it, why);
			else
				complete(it, JOB_FAILED, why);
		}
		cJSON_Delete(root);
	}
	for (size_t i = 0; i < b->n; i++) {
		struct item *it = b->items[i];
		b->items[i] = NULL;
		if (!it)
			continue;
		if (!it->job)
			item_free(it);
		else if (it->resubmits++ < p->o.max_resubmits)
			again(p, it, "no result came for it");
		else
			complete(it, JOB_FAILED, "no result came for it");
	}
	free(seen);
	if (cJSON_GetArraySize(unclaimed) > 0)
		record_put(p, b->id, record_text(p, b, unclaimed));
	else {
		cJSON_Delete(unclaimed);
		record_forget(p, b->id);
	}
	b->done = true;
	b->attached = 0;
}

/* Sends one GET about batch b (url is freed); while it is out the batch is busy, and when it cannot be sent the batch
 * is asked again in retry_ms. */
static void ask_about(struct bprov *p, struct mbatch *b, int what, char *url, const char *label, long retry_ms)
{
	struct call *c = call_new(p, what, url, true);
	free(url);
	c->b = b;
	b->busy = true;
	if (send_call(c, label, NULL) < 0) {
		b->busy = false;
		call_free(c);
		if (!loop_aborted(p->base.loop))
			arm_poll(b, retry_ms);
	}
}

static void fetch_results(struct bprov *p, struct mbatch *b, const char *results_url)
{
	/* The key goes only where the batch came from: a results_url elsewhere is asked at our own endpoint's path. */
	char *url;
	size_t blen = strlen(p->ep.base_shown);
	if (results_url && strncmp(results_url, p->ep.url, blen) == 0 && strncmp(p->ep.url, p->ep.base_shown, blen) == 0)
		url = xstrdup(results_url);
	else
		url = xasprintf("%s/%s/results", p->ep.url, b->id);
	ask_about(p, b, CALL_RESULTS, url, "message batch results", b->interval_ms);
}

static void on_polled(struct call *c, const struct http_result *r)
{
	struct bprov *p = c->p;
	struct mbatch *b = c->b;
	b->busy = false;
	p->totals.polls++;
	if (!http_ok(r)) {
		if (r->cancelled || loop_aborted(p->base.loop)) {
			cancel_all(p);
			return;
		}
		if (r->status == 404) {
			/* Gone (expired from the API's 29 days, or another account): what it held must be asked again. */
			warn(p, "message batch %s is gone (HTTP 404): its %zu requests go into a new batch", b->id, b->n);
			for (size_t i = 0; i < b->n; i++) {
				struct item *it = b->items[i];
				b->items[i] = NULL;
				if (it && it->job)
					enqueue(p, it);
				else
					item_free(it);
			}
			record_forget(p, b->id);
			b->done = true;
			b->attached = 0;
			return;
		}
		if (r->fatal) {
			fail_items(p, b->items, b->n, r, "polling the batch failed");
			memset(b->items, 0, b->n * sizeof(*b->items));
			b->done = true;
			b->attached = 0;
			return;
		}
		char why[400];
		http_describe(&p->ep.client, r, why, sizeof(why));
		warn(p, "message batch %s: polling failed (%s): trying again", b->id, why);
		arm_poll(b, p->o.poll_max_ms);
		return;
	}
	cJSON *root = cJSON_ParseWithLength(r->body, r->body_len);
	const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "processing_status"));
	const cJSON *counts = cJSON_GetObjectItemCaseSensitive(root, "request_counts");
	double processing = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(counts, "processing"));
	size_t left = processing >= 0 && processing <= (double)b->n ? (size_t)processing : b->n;
	report(p, b, status ? status : "in_progress", b->n - left, b->n);
	if (status && strcmp(status, "ended") == 0) {
		fetch_results(p, b, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "results_url")));
	} else if (b->attached > 0) {
		/* Most batches take minutes to an hour: ask less often the longer it runs. */
		b->interval_ms = b->interval_ms * 3 / 2;
		if (b->interval_ms > p->o.poll_max_ms)
			b->interval_ms = p->o.poll_max_ms;
		arm_poll(b, b->interval_ms);
	}
	cJSON_Delete(root);
}

/* The call's client must outlive the request, which still reads it after done() returns: freed a turn later. */
static void release_call(void *arg)
{
	struct call *c = arg;
	c->p->outstanding--;
	call_free(c);
}

static void on_call_done(void *ctx, const struct http_result *r)
{
	struct call *c = ctx;
	switch (c->what) {
	case CALL_SUBMIT: on_submitted(c, r); break;
	case CALL_POLL: on_polled(c, r); break;
	case CALL_RESULTS: on_results(c, r); break;
	}
	loop_defer(c->p->base.loop, release_call, c);
}

static const struct http_callbacks callbacks = {accept_json, on_call_done};

/* ---- waves and polls ---- */

/* Ends every job still waiting here: the run stopped (the batches live on, recorded, for the next run). */
static void cancel_all(struct bprov *p)
{
	while (p->wave) {
		struct item *it = p->wave;
		p->wave = it->next;
		complete(it, JOB_FAILED, "cancelled: the run stopped");
	}
	p->nwave = 0;
	for (struct mbatch *b = p->batches; b; b = b->next)
		for (size_t i = 0; i < b->n; i++)
			if (b->items[i] && b->items[i]->job) {
				/* The request stays in the batch for whoever resumes it. */
				struct job *job = b->items[i]->job;
				b->items[i]->job = NULL;
				cJSON_Delete(b->items[i]->turns);
				b->items[i]->turns = NULL;
				job->status = JOB_FAILED;
				snprintf(job->error, sizeof(job->error), "%.80s: cancelled: the run stopped", job->label);
				b->attached--;
				job->done(job);
			}
}

static void poll_now(struct loop_timer *t)
{
	struct mbatch *b = (struct mbatch *)(void *)((char *)t - offsetof(struct mbatch, timer));
	struct bprov *p = b->p;
	if (loop_aborted(p->base.loop)) {
		cancel_all(p);
		return;
	}
	if (b->busy || b->done)
		return;
	ask_about(p, b, CALL_POLL, xasprintf("%s/%s", p->ep.url, b->id), "message batch", p->o.poll_max_ms);
}

/* One batch's body from items [0, n): {"requests": [{"custom_id", "params"}]} with each params as the synchronous
 * request's body; NULL on out of memory. */
static char *batch_body(struct item **items, size_t n, char **params)
{
	struct buf b = {0};
	buf_add(&b, "{\"requests\":[", 13);
	for (size_t i = 0; i < n; i++) {
		char head[128];
		int len = snprintf(head, sizeof(head), "%s{\"custom_id\":\"%s\",\"params\":", i ? "," : "",
		                   items[i]->custom_id);
		buf_add(&b, head, (size_t)len);
		buf_add(&b, params[i], strlen(params[i]));
		buf_add(&b, "}", 1);
	}
	buf_add(&b, "]}", 2);
	return b.data;
}

static void submit(struct bprov *p, struct item **items, size_t n, char **params)
{
	char *body = batch_body(items, n, params);
	struct call *c = call_new(p, CALL_SUBMIT, p->ep.url, false);
	c->items = xmalloc(n * sizeof(*items));
	memcpy(c->items, items, n * sizeof(*items));
	c->nitems = n;
	if (!body || send_call(c, "message batch", body) < 0) {
		struct http_result r = {.status = 0, .body = "", .request_id = "",
		                        .transport_error = body ? "the request could not start" : "out of memory",
		                        .cancelled = loop_aborted(p->base.loop)};
		fail_items(p, c->items, c->nitems, &r, "submitting the batch failed");
		call_free(c);
	}
}

/* The jobs queued since the last wave go out: as one batch, or several when the limits cut it. */
static void submit_wave(struct loop_timer *t)
{
	struct bprov *p = (struct bprov *)(void *)((char *)t - offsetof(struct bprov, wave_timer));
	if (loop_aborted(p->base.loop)) {
		cancel_all(p);
		return;
	}
	size_t n = p->nwave;
	if (n == 0)
		return;
	struct item **items = xmalloc(n * sizeof(*items));
	char **params = xcalloc(n, sizeof(*params));
	/* The wave is a stack: reversed, the batch lists requests in the order the steps started. */
	size_t i = n;
	for (struct item *it = p->wave; it; it = it->next)
		items[--i] = it;
	p->wave = NULL;
	p->nwave = 0;
	size_t from = 0, bytes = 64;
	for (i = 0; i < n; i++) {
		struct item *it = items[i];
		params[i] = anthropic_request_params(it->job, it->max_tokens, it->turns);
		if (!params[i]) {
			complete(it, JOB_FAILED, "out of memory building the request");
			items[i] = NULL;
			continue;
		}
		size_t size = strlen(params[i]) + 96;
		if (i > from && (i - from >= p->o.max_requests || bytes + size > p->o.max_bytes)) {
			submit(p, items + from, i - from, params + from);
			from = i;
			bytes = 64;
		}
		bytes += size;
	}
	/* Items that failed above left holes: close them up per chunk before submitting the rest. */
	size_t k = from;
	for (i = from; i < n; i++)
		if (items[i]) {
			items[k] = items[i];
			params[k++] = params[i];
		}
	if (k > from)
		submit(p, items + from, k - from, params + from);
	for (i = 0; i < k; i++)
		free(params[i]);
	free(params);
	free(items);
}

/* ---- the provider ---- */

static struct stored *find_stored(struct bprov *p, const char *custom_id)
{
	for (size_t i = 0; i < p->nstored; i++)
		if (!p->stored[i].claimed && strcmp(p->stored[i].custom_id, custom_id) == 0)
			return &p->stored[i];
	return NULL;
}

/* A stored result taken by a step: judged as if it had just come, from inside the loop. */
struct claim {
	struct bprov *p;
	struct item *it;
	struct stored *s;
};

static void take_stored(void *arg)
{
	struct claim *cl = arg;
	cl->p->totals.stored++;
	take_message(cl->p, cl->it, cl->s->message, strlen(cl->s->message));
	free(cl);
}

static int batch_start(struct provider *base, struct job *job)
{
	struct bprov *p = base->impl;
	if (!job->key || job->kind == STEP_EMBEDDING)
		return p->sync->start(p->sync, job);
	job->status = JOB_FAILED;
	job->error[0] = '\0';
	if (!job->params || !job->params->model || !job->system || !job->user || !job->tool_name || !job->schema) {
		snprintf(job->error, sizeof(job->error), "%s: anthropic: the step has no model, prompt or schema",
		         job->label);
		return -1;
	}
	/* A batch may wait longer than five minutes between its requests: the hour-long cache lifetime. */
	enum net_prompt_cache pc = net_prompt_cache_for_batch(p->ep.prompt_cache);
	job->prompt_cache_ttl = pc == NET_PROMPT_CACHE_OFF ? NULL : net_prompt_cache_name(pc);
	struct item *it = xcalloc(1, sizeof(*it));
	it->job = job;
	it->kind = (int)job->kind;
	it->turns = cJSON_CreateArray();
	it->max_tokens = net_max_tokens(job);
	digest_to_hex(job->key, it->custom_id);
	struct stored *s = find_stored(p, it->custom_id);
	if (s) {
		struct claim *cl = xcalloc(1, sizeof(*cl));
		*cl = (struct claim){p, it, s};
		s->claimed = true;
		loop_defer(base->loop, take_stored, cl);
		return 0;
	}
	/* Already asked by a batch an earlier run left running: wait for that one, pay nothing twice. */
	for (struct mbatch *b = p->batches; b; b = b->next) {
		if (b->done)
			continue;
		for (size_t i = 0; i < b->n; i++) {
			struct item *waiting = b->items[i];
			if (waiting && !waiting->job && strcmp(waiting->custom_id, it->custom_id) == 0) {
				waiting->job = job;
				cJSON_Delete(waiting->turns);
				waiting->turns = it->turns;
				waiting->max_tokens = it->max_tokens;
				it->turns = NULL;
				item_free(it);
				if (b->attached++ == 0 && !b->busy)
					arm_poll(b, 0);
				return 0;
			}
		}
	}
	enqueue(p, it);
	return 0;
}

/* Takes the records of earlier runs' batches at this endpoint: those in flight to poll, results kept to hand out. */
static int load_record(void *ctx, const char *id, const char *data, size_t len)
{
	struct bprov *p = ctx;
	cJSON *root = cJSON_ParseWithLength(data, len);
	const char *endpoint = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "endpoint"));
	double created = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(root, "created"));
	const cJSON *results = cJSON_GetObjectItemCaseSensitive(root, "results");
	const cJSON *requests = cJSON_GetObjectItemCaseSensitive(root, "requests"), *e;
	if (!endpoint || strcmp(endpoint, p->ep.base_shown) != 0) {
		cJSON_Delete(root);
		return 0;
	}
	if (cJSON_IsArray(results)) {
		cJSON_ArrayForEach(e, results) {
			const char *cid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "custom_id"));
			char *message = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(e, "message"));
			if (!cid || strlen(cid) != CUSTOM_ID_LEN || !message) {
				free(message);
				continue;
			}
			add_stored(p, cid, (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "kind")), message, id);
		}
	} else if (cJSON_IsArray(requests)) {
		size_t n = (size_t)cJSON_GetArraySize(requests), k = 0;
		struct item **items = xcalloc(n ? n : 1, sizeof(*items));
		cJSON_ArrayForEach(e, requests) {
			const char *cid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "custom_id"));
			if (!cid || strlen(cid) != CUSTOM_ID_LEN)
				continue;
			struct item *it = xcalloc(1, sizeof(*it));
			memcpy(it->custom_id, cid, CUSTOM_ID_LEN + 1);
			it->kind = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "kind"));
			items[k++] = it;
		}
		struct mbatch *b = batch_new(p, id, items, k, created > 0 ? (int64_t)created : (int64_t)time(NULL));
		b->resumed = true;
		p->totals.resumed++;
		/* Seen once whatever this run wants of it: an ended batch's results are stored now (they are paid for). */
		arm_poll(b, 0);
	}
	cJSON_Delete(root);
	return 0;
}

/* Rewrites the records whose kept results some step took: what is left stays, an empty record goes. */
static void save_claims(struct bprov *p)
{
	for (size_t i = 0; i < p->nstored; i++) {
		struct stored *s = &p->stored[i];
		if (!s->claimed || !s->batch_id)
			continue;
		cJSON *left = cJSON_CreateArray();
		char *id = s->batch_id;
		for (size_t j = i; j < p->nstored; j++) {
			struct stored *t = &p->stored[j];
			if (!t->batch_id || strcmp(t->batch_id, id) != 0)
				continue;
			if (!t->claimed) {
				cJSON *keep = cJSON_CreateObject();
				cJSON_AddStringToObject(keep, "custom_id", t->custom_id);
				cJSON_AddNumberToObject(keep, "kind", t->kind);
				cJSON_AddItemToObject(keep, "message", cJSON_Parse(t->message));
				cJSON_AddItemToArray(left, keep);
			}
			if (t != s) {
				free(t->batch_id);
				t->batch_id = NULL;
			}
		}
		if (cJSON_GetArraySize(left) == 0) {
			cJSON_Delete(left);
			record_forget(p, id);
		} else {
			struct mbatch b = {.id = id, .created = (int64_t)time(NULL)};
			record_put(p, id, record_text(p, &b, left));
		}
		free(s->batch_id);
		s->batch_id = NULL;
	}
}

static void batch_destroy(struct provider *base)
{
	struct bprov *p = base->impl;
	loop_timer_stop(base->loop, &p->wave_timer);
	/* Requests still on the wire (a poll of a batch no step waits for) end first: they hold the endpoint. */
	int64_t until = loop_now_ms() + 10000;
	while (p->outstanding > 0 && loop_now_ms() < until)
		loop_run_once(base->loop, 100);
	if (p->outstanding > 0)
		loop_abort(base->loop);
	while (p->outstanding > 0)
		loop_run_once(base->loop, 100);
	save_claims(p);
	while (p->wave) {
		struct item *it = p->wave;
		p->wave = it->next;
		item_free(it);
	}
	for (struct mbatch *b = p->batches, *next; b; b = next) {
		next = b->next;
		loop_timer_stop(base->loop, &b->timer);
		for (size_t i = 0; i < b->n; i++)
			item_free(b->items[i]);
		free(b->items);
		free(b->id);
		free(b);
	}
	for (size_t i = 0; i < p->nstored; i++) {
		free(p->stored[i].message);
		free(p->stored[i].batch_id);
	}
	free(p->stored);
	p->sync->destroy(p->sync);
	net_endpoint_free(&p->ep);
	free(p);
}

static long poll_floor(void)
{
	const char *v = getenv("SCRIPTBUILD_BATCH_POLL_MS");
	char *end;
	long ms = v && *v ? strtol(v, &end, 10) : 0;
	return v && *v && !*end && ms >= 10 && ms <= 3600000 ? ms : 2000;
}

int batch_wrap_providers(struct provider *p[STEP_KINDS], const struct run_config *rc, struct loop *l,
                         const struct net_config *net, const struct batch_options *o, char *err, size_t errlen)
{
	struct provider *sync = NULL;
	int kinds = 0;
	for (int k = 0; k < STEP_KINDS; k++)
		if (k != STEP_EMBEDDING && p[k] && strcmp(rc->step[k].provider, "anthropic") == 0) {
			sync = p[k];
			kinds++;
		}
	if (!sync)
		return 0;
	static const char *const headers[] = {"anthropic-version: 2023-06-01", NULL};
	struct bprov *b = xcalloc(1, sizeof(*b));
	if (net_endpoint_init(&b->ep, "anthropic", net, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
	                      "https://api.anthropic.com", "/v1/messages/batches", "x-api-key: %s", 1, headers, err,
	                      errlen) < 0) {
		free(b);
		return -1;
	}
	b->o = *o;
	if (b->o.poll_min_ms <= 0)
		b->o.poll_min_ms = poll_floor();
	if (b->o.poll_max_ms <= 0)
		b->o.poll_max_ms = 60000;
	if (b->o.poll_max_ms < b->o.poll_min_ms)
		b->o.poll_max_ms = b->o.poll_min_ms;
	if (!b->o.max_requests || b->o.max_requests > BATCH_MAX_REQUESTS)
		b->o.max_requests = BATCH_MAX_REQUESTS;
	if (!b->o.max_bytes || b->o.max_bytes > BATCH_MAX_BYTES)
		b->o.max_bytes = BATCH_MAX_BYTES;
	if (b->o.max_resubmits <= 0)
		b->o.max_resubmits = 3;
	b->sync = sync;
	b->base.name = "anthropic";
	b->base.loop = l;
	b->base.start = batch_start;
	b->base.destroy = batch_destroy;
	b->base.queues = 1;
	b->base.impl = b;
	b->wave_timer.fire = submit_wave;
	for (int k = 0; k < STEP_KINDS; k++)
		if (p[k] == sync)
			p[k] = &b->base;
	if (cache_batch_each(o->cache, load_record, b, err, errlen) < 0)
		warn(b, "the cache's message batch records could not be read (%s): none is resumed", err);
	return kinds;
}

int batch_mark_config(struct run_config *rc)
{
	int n = 0;
	for (int k = 0; k < STEP_KINDS; k++)
		if (k != STEP_EMBEDDING && strcmp(rc->step[k].provider, "anthropic") == 0) {
			rc->step[k].batch = true;
			n++;
		}
	return n;
}

void batch_totals(struct provider *const p[STEP_KINDS], struct batch_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (int k = 0; k < STEP_KINDS; k++)
		if (p[k] && p[k]->destroy == batch_destroy) {
			const struct bprov *b = p[k]->impl;
			*t = b->totals;
			for (const struct mbatch *m = b->batches; m; m = m->next)
				t->running += !m->done;
			return;
		}
}

/* ---- -t batches ---- */

struct each_args {
	void (*fn)(void *ctx, const struct batch_record *r);
	void *ctx;
};

static int list_record(void *ctx, const char *id, const char *data, size_t len)
{
	struct each_args *a = ctx;
	cJSON *root = cJSON_ParseWithLength(data, len), *e;
	struct batch_record r = {.id = id};
	r.endpoint = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "endpoint"));
	if (!r.endpoint)
		r.endpoint = "?";
	double created = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(root, "created"));
	r.created = created > 0 ? (int64_t)created : 0;
	const cJSON *results = cJSON_GetObjectItemCaseSensitive(root, "results");
	const cJSON *list = cJSON_IsArray(results) ? results : cJSON_GetObjectItemCaseSensitive(root, "requests");
	cJSON_ArrayForEach(e, list) {
		double kind = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "kind"));
		r.requests++;
		if (kind >= 0 && kind < STEP_KINDS)
			r.by_kind[(int)kind]++;
	}
	if (cJSON_IsArray(results))
		r.results = r.requests;
	a->fn(a->ctx, &r);
	cJSON_Delete(root);
	return 0;
}

int batch_each_record(struct cache *c, void (*fn)(void *ctx, const struct batch_record *r), void *ctx, char *err,
                      size_t errlen)
{
	struct each_args a = {fn, ctx};
	return cache_batch_each(c, list_record, &a, err, errlen);
}

struct cancel_call {
	bool finished;
	long status;
	char why[400];
	const struct http_client *client;
};

static enum http_verdict accept_any(void *ctx, const struct http_result *r, char *why, size_t whylen)
{
	(void)ctx, (void)r, (void)why, (void)whylen;
	return HTTP_ACCEPTED;
}

static void on_cancelled(void *ctx, const struct http_result *r)
{
	struct cancel_call *cc = ctx;
	cc->finished = true;
	cc->status = r->status;
	if (!http_ok(r))
		http_describe(cc->client, r, cc->why, sizeof(cc->why));
}

int batch_cancel(struct cache *c, struct loop *l, const struct net_config *net, const char *id, char *err,
                 size_t errlen)
{
	static const char *const headers[] = {"anthropic-version: 2023-06-01", NULL};
	static const struct http_callbacks cb = {accept_any, on_cancelled};
	struct net_endpoint ep;
	char *path = xasprintf("/v1/messages/batches/%s/cancel", id);
	int rc = net_endpoint_init(&ep, "anthropic", net, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
	                           "https://api.anthropic.com", path, "x-api-key: %s", 1, headers, err, errlen);
	free(path);
	if (rc < 0)
		return -1;
	struct cancel_call cc = {.client = &ep.client};
	char herr[300];
	if (http_post(l, &ep.client, "cancel message batch", xstrdup(""), NULL, &cb, &cc, herr, sizeof(herr)) < 0) {
		snprintf(err, errlen, "message batch %s: %s", id, herr);
		net_endpoint_free(&ep);
		return -1;
	}
	while (!cc.finished)
		loop_run_once(l, 100);
	/* 404: the API no longer has it; either way there is nothing left to wait for. */
	if (cc.status < 200 || (cc.status > 299 && cc.status != 404)) {
		snprintf(err, errlen, "message batch %s: cancel failed: %s", id, cc.why);
		net_endpoint_free(&ep);
		return -1;
	}
	net_endpoint_free(&ep);
	return cache_batch_forget(c, id, err, errlen);
}
