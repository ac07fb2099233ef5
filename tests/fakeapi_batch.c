/* fakeapi_batch.c - the fake server's Message Batches API, as documented: a batch is in_progress for --batch-delay-ms
 * (its items end evenly over that time), then ended with a results_url whose JSONL lists one result per item in
 * random order; a share of items can end errored or expired; cancel ends the items not yet done as canceled. An item
 * that succeeds gets the answer POST /v1/messages gives its params, so batch and synchronous runs build the same. */

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <xxhash.h>

#include "fakeapi_batch.h"

#define MAX_REQUESTS 100000           /* the documented limits of one batch */
#define MAX_BATCHES 4096

enum outcome { O_SUCCEEDED, O_ERRORED, O_EXPIRED, O_CANCELED };
static const char *const outcome_name[] = {"succeeded", "errored", "expired", "canceled"};

struct item {
	char custom_id[65];
	enum outcome outcome;
	char *answer;                     /* the message (succeeded) or the error body (errored by the params) */
	unsigned status;
};

struct batch {
	char id[48];
	struct item *items;
	size_t n;
	int64_t created_ms, delay_ms;
	int64_t canceled_ms;              /* 0: not canceled */
	size_t done_at_cancel;
	time_t created;
	int ordered;
	uint64_t seed;
};

static struct {
	pthread_mutex_t lock;
	struct batch *batches[MAX_BATCHES];
	size_t nbatches;
	uint64_t sequence;
	unsigned long submissions, polls, results, cancels, items, rejected, outcomes[4];
} fb = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint64_t mix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double unit(uint64_t *state)
{
	return (double)(mix(state) >> 11) / 9007199254740992.0;
}

enum fake_batch_option fake_batch_option(struct fake_batch_config *cfg, const char *name, const char *value,
					 char *err, size_t errlen)
{
	char *end;
	if (!strcmp(name, "batch-delay-ms")) {
		long v = strtol(value, &end, 10);
		if (end == value || *end || v < 0 || v > 86400000L)
			goto bad;
		cfg->delay_ms = v;
	} else if (!strcmp(name, "batch-errored") || !strcmp(name, "batch-expired")) {
		double v = strtod(value, &end);
		if (end == value || *end || !(v >= 0 && v <= 1))
			goto bad;
		*(!strcmp(name, "batch-errored") ? &cfg->errored : &cfg->expired) = v;
	} else if (!strcmp(name, "batch-ordered")) {
		if (!strcmp(value, "true") || !strcmp(value, "1"))
			cfg->ordered = 1;
		else if (!strcmp(value, "false") || !strcmp(value, "0"))
			cfg->ordered = 0;
		else
			goto bad;
	} else {
		return FAKE_BATCH_NOT_MINE;
	}
	return FAKE_BATCH_SET;
bad:
	snprintf(err, errlen, "%s: bad value '%.64s' (see README \"The fake API server\")", name, value);
	return FAKE_BATCH_BAD;
}

void fake_batch_config_json(const struct fake_batch_config *cfg, cJSON *root)
{
	cJSON_AddNumberToObject(root, "batch-delay-ms", (double)cfg->delay_ms);
	cJSON_AddNumberToObject(root, "batch-errored", cfg->errored);
	cJSON_AddNumberToObject(root, "batch-expired", cfg->expired);
	cJSON_AddBoolToObject(root, "batch-ordered", cfg->ordered);
}

int fake_batch_url(const char *method, const char *url)
{
	(void)method;
	return !strncmp(url, "/v1/messages/batches", 20) && (url[20] == '\0' || url[20] == '/');
}

static char *error_body(const char *type, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *error_body(const char *type, const char *fmt, ...)
{
	char message[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	cJSON *root = cJSON_CreateObject(), *e;
	cJSON_AddStringToObject(root, "type", "error");
	e = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(e, "type", type);
	cJSON_AddStringToObject(e, "message", message);
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static int valid_custom_id(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static void rfc3339(char *out, size_t size, time_t t)
{
	struct tm tm;
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

/* Items done by now: they end evenly over the delay; a canceled batch stops where it was. Under fb.lock. */
static size_t done_items(const struct batch *b, int64_t now)
{
	if (b->canceled_ms)
		return b->done_at_cancel;
	if (b->delay_ms <= 0 || now - b->created_ms >= b->delay_ms)
		return b->n;
	return (size_t)((double)b->n * (double)(now - b->created_ms) / (double)b->delay_ms);
}

static int ended(const struct batch *b, int64_t now)
{
	return b->canceled_ms ? 1 : done_items(b, now) == b->n;
}

static enum outcome outcome_of(const struct batch *b, size_t i, size_t done)
{
	return i < done ? b->items[i].outcome : O_CANCELED;
}

/* The batch object as GET /v1/messages/batches/{id} shows it. Under fb.lock. */
static char *batch_json(const struct batch *b, const char *host)
{
	int64_t now = now_ms();
	size_t done = done_items(b, now);
	int end = ended(b, now);
	unsigned long counts[4] = {0};
	for (size_t i = 0; i < done; i++)
		counts[b->items[i].outcome]++;
	if (end)
		counts[O_CANCELED] += b->n - done;
	char at[32];
	cJSON *root = cJSON_CreateObject(), *rc;
	cJSON_AddStringToObject(root, "id", b->id);
	cJSON_AddStringToObject(root, "type", "message_batch");
	cJSON_AddStringToObject(root, "processing_status", end ? "ended" : b->canceled_ms ? "canceling" : "in_progress");
	rc = cJSON_AddObjectToObject(root, "request_counts");
	cJSON_AddNumberToObject(rc, "processing", (double)(end ? 0 : b->n - done));
	for (int o = 0; o < 4; o++)
		cJSON_AddNumberToObject(rc, outcome_name[o], (double)counts[o]);
	rfc3339(at, sizeof at, b->created);
	cJSON_AddStringToObject(root, "created_at", at);
	rfc3339(at, sizeof at, b->created + 86400);
	cJSON_AddStringToObject(root, "expires_at", at);
	if (end) {
		rfc3339(at, sizeof at, b->created + (time_t)((now - b->created_ms) / 1000));
		cJSON_AddStringToObject(root, "ended_at", at);
		char url[512];
		snprintf(url, sizeof url, "http://%s/v1/messages/batches/%s/results", host ? host : "127.0.0.1", b->id);
		cJSON_AddStringToObject(root, "results_url", url);
	} else {
		cJSON_AddNullToObject(root, "ended_at");
		cJSON_AddNullToObject(root, "results_url");
	}
	cJSON_AddNullToObject(root, "archived_at");
	if (b->canceled_ms) {
		rfc3339(at, sizeof at, b->created + (time_t)((b->canceled_ms - b->created_ms) / 1000));
		cJSON_AddStringToObject(root, "cancel_initiated_at", at);
	} else {
		cJSON_AddNullToObject(root, "cancel_initiated_at");
	}
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; b && i < b->n; i++)
		free(b->items[i].answer);
	if (b)
		free(b->items);
	free(b);
}

/* POST /v1/messages/batches: checks the whole body as the API does, then decides each item's fate and answer. */
static void create(const struct fake_batch_config *cfg, unsigned long long seed, const char *body, size_t len,
		   fake_batch_answer *answer, void *ctx, unsigned *status, char **reply, const char *host)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *requests = cJSON_GetObjectItemCaseSensitive(root, "requests"), *rq;
	int n = cJSON_GetArraySize(requests);
	*status = 400;
	if (!cJSON_IsObject(root)) {
		*reply = error_body("invalid_request_error", "the body must be a JSON object");
		goto out;
	}
	if (!cJSON_IsArray(requests) || n < 1 || n > MAX_REQUESTS) {
		*reply = error_body("invalid_request_error", "requests: must be an array of 1 to %d requests", MAX_REQUESTS);
		goto out;
	}
	int index = 0;
	cJSON_ArrayForEach(rq, requests) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(rq, "custom_id");
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(rq, "params");
		if (!cJSON_IsString(id) || !valid_custom_id(id->valuestring)) {
			*reply = error_body("invalid_request_error", "requests.%d.custom_id: must match "
					    "^[a-zA-Z0-9_-]{1,64}$", index);
			goto out;
		}
		if (!cJSON_IsObject(params)) {
			*reply = error_body("invalid_request_error", "requests.%d.params: Field required", index);
			goto out;
		}
		for (const cJSON *o = requests->child; o != rq; o = o->next)
			if (!strcmp(cJSON_GetObjectItemCaseSensitive(o, "custom_id")->valuestring, id->valuestring)) {
				*reply = error_body("invalid_request_error", "requests.%d.custom_id: '%s' is used more "
						    "than once in this batch", index, id->valuestring);
				goto out;
			}
		index++;
	}
	struct batch *b = calloc(1, sizeof *b);
	if (!b || !(b->items = calloc((size_t)n, sizeof *b->items))) {
		free(b);
		*status = 500;
		*reply = error_body("api_error", "fake API server: out of memory");
		goto out;
	}
	pthread_mutex_lock(&fb.lock);
	uint64_t sequence = ++fb.sequence;
	pthread_mutex_unlock(&fb.lock);
	b->n = (size_t)n;
	b->seed = seed ^ (sequence * 0x2545f4914f6cdd1dULL);
	uint64_t state = b->seed;
	snprintf(b->id, sizeof b->id, "msgbatch_%016llx%08llx", (unsigned long long)XXH3_64bits_withSeed(&sequence,
		 sizeof sequence, seed), (unsigned long long)(XXH3_64bits(body, len) >> 32));
	size_t i = 0;
	cJSON_ArrayForEach(rq, requests) {
		struct item *it = &b->items[i++];
		snprintf(it->custom_id, sizeof it->custom_id, "%s",
			 cJSON_GetObjectItemCaseSensitive(rq, "custom_id")->valuestring);
		double roll = unit(&state);
		if (roll < cfg->expired) {
			it->outcome = O_EXPIRED;
			continue;
		}
		if (roll < cfg->expired + cfg->errored) {
			it->outcome = O_ERRORED;
			it->status = 500;
			it->answer = error_body("api_error", "Internal server error");
			continue;
		}
		/* The params exactly as a synchronous request would send them: the same text, the same answer. */
		char *params = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(rq, "params"));
		it->answer = params ? answer(ctx, params, strlen(params), &it->status) : NULL;
		free(params);
		it->outcome = it->answer && it->status == 200 ? O_SUCCEEDED : O_ERRORED;
	}
	b->created_ms = now_ms();
	b->created = time(NULL);
	b->delay_ms = cfg->delay_ms;
	b->ordered = cfg->ordered;
	pthread_mutex_lock(&fb.lock);
	if (fb.nbatches == MAX_BATCHES) {
		pthread_mutex_unlock(&fb.lock);
		batch_free(b);
		*status = 429;
		*reply = error_body("rate_limit_error", "fake API server: too many batches");
		goto out;
	}
	fb.batches[fb.nbatches++] = b;
	fb.submissions++;
	fb.items += b->n;
	*status = 200;
	*reply = batch_json(b, host);
	pthread_mutex_unlock(&fb.lock);
out:
	if (*status == 400) {
		pthread_mutex_lock(&fb.lock);
		fb.rejected++;
		pthread_mutex_unlock(&fb.lock);
	}
	cJSON_Delete(root);
}

/* The results of an ended batch as JSONL, shuffled unless --batch-ordered. Under fb.lock. */
static char *results_jsonl(struct batch *b)
{
	size_t done = done_items(b, now_ms());
	size_t *order = malloc((b->n ? b->n : 1) * sizeof *order);
	if (!order)
		return NULL;
	for (size_t i = 0; i < b->n; i++)
		order[i] = i;
	uint64_t state = b->seed ^ 0x0bad5eedULL;
	for (size_t i = b->n; !b->ordered && i > 1; i--) {
		size_t j = (size_t)(mix(&state) % i), t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	size_t cap = 4096, len = 0;
	char *out = malloc(cap);
	for (size_t k = 0; out && k < b->n; k++) {
		const struct item *it = &b->items[order[k]];
		enum outcome o = outcome_of(b, order[k], done);
		cJSON *line = cJSON_CreateObject(), *result;
		cJSON_AddStringToObject(line, "custom_id", it->custom_id);
		result = cJSON_AddObjectToObject(line, "result");
		cJSON_AddStringToObject(result, "type", outcome_name[o]);
		if (o == O_SUCCEEDED)
			cJSON_AddItemToObject(result, "message", cJSON_Parse(it->answer));
		else if (o == O_ERRORED)
			cJSON_AddItemToObject(result, "error", cJSON_Parse(it->answer));
		char *text = cJSON_PrintUnformatted(line);
		cJSON_Delete(line);
		size_t n = text ? strlen(text) : 0;
		if (len + n + 2 > cap) {
			while (len + n + 2 > cap)
				cap *= 2;
			char *grown = realloc(out, cap);
			if (!grown) {
				free(out);
				out = NULL;
			}
			out = grown;
		}
		if (out && text) {
			memcpy(out + len, text, n);
			len += n;
			out[len++] = '\n';
			out[len] = '\0';
		}
		free(text);
	}
	if (out && !b->n)
		out[0] = '\0';
	free(order);
	return out;
}

static struct batch *find(const char *id, size_t idlen)
{
	for (size_t i = 0; i < fb.nbatches; i++)
		if (strlen(fb.batches[i]->id) == idlen && !strncmp(fb.batches[i]->id, id, idlen))
			return fb.batches[i];
	return NULL;
}

void fake_batch_serve(const struct fake_batch_config *cfg, const char *method, const char *url, const char *api_key,
		      const char *version, const char *key_expected, const char *host, unsigned long long seed,
		      const char *body, size_t len, fake_batch_answer *answer, void *ctx, unsigned *status,
		      char **reply)
{
	int post = !strcmp(method, "POST"), get = !strcmp(method, "GET");
	if (!api_key || !*api_key || (*key_expected && strcmp(api_key, key_expected))) {
		*status = 401;
		*reply = error_body("authentication_error", api_key && *api_key ? "invalid x-api-key"
										: "x-api-key header is required");
		return;
	}
	if (!version || strcmp(version, "2023-06-01")) {
		*status = 400;
		*reply = error_body("invalid_request_error", "anthropic-version: header is required (2023-06-01)");
		return;
	}
	const char *rest = url + 20;   /* after /v1/messages/batches */
	if (!*rest && post) {
		create(cfg, seed, body, len, answer, ctx, status, reply, host);
		return;
	}
	if (*rest != '/' || !rest[1]) {
		*status = 404;
		*reply = error_body("not_found_error", "%s %s: no such endpoint", method, url);
		return;
	}
	const char *id = rest + 1;
	size_t idlen = strcspn(id, "/");
	const char *tail = id + idlen;
	pthread_mutex_lock(&fb.lock);
	struct batch *b = find(id, idlen);
	if (!b) {
		pthread_mutex_unlock(&fb.lock);
		*status = 404;
		*reply = error_body("not_found_error", "no message batch %.*s", (int)(idlen < 80 ? idlen : 80), id);
		return;
	}
	int64_t now = now_ms();
	*status = 200;
	if (get && !*tail) {
		fb.polls++;
		*reply = batch_json(b, host);
	} else if (get && !strcmp(tail, "/results")) {
		if (!ended(b, now)) {
			*status = 400;
			*reply = error_body("invalid_request_error", "batch %s is still in progress: no results yet", b->id);
		} else {
			fb.results++;
			size_t done = done_items(b, now);
			for (size_t i = 0; i < b->n; i++)
				fb.outcomes[outcome_of(b, i, done)]++;
			*reply = results_jsonl(b);
		}
	} else if (post && !strcmp(tail, "/cancel")) {
		fb.cancels++;
		if (!ended(b, now)) {
			b->done_at_cancel = done_items(b, now);
			b->canceled_ms = now;
		}
		*reply = batch_json(b, host);
	} else {
		*status = 404;
		*reply = error_body("not_found_error", "%s %s: no such endpoint", method, url);
	}
	pthread_mutex_unlock(&fb.lock);
	if (!*reply) {
		*status = 500;
		*reply = error_body("api_error", "fake API server: out of memory");
	}
}

void fake_batch_stats(cJSON *root)
{
	pthread_mutex_lock(&fb.lock);
	cJSON *o = cJSON_AddObjectToObject(root, "batches");
	cJSON_AddNumberToObject(o, "submissions", (double)fb.submissions);
	cJSON_AddNumberToObject(o, "polls", (double)fb.polls);
	cJSON_AddNumberToObject(o, "results_fetched", (double)fb.results);
	cJSON_AddNumberToObject(o, "cancels", (double)fb.cancels);
	cJSON_AddNumberToObject(o, "items", (double)fb.items);
	cJSON_AddNumberToObject(o, "rejected", (double)fb.rejected);
	for (int k = 0; k < 4; k++)
		cJSON_AddNumberToObject(o, outcome_name[k], (double)fb.outcomes[k]);
	pthread_mutex_unlock(&fb.lock);
}

void fake_batch_reset(void)
{
	pthread_mutex_lock(&fb.lock);
	fb.submissions = fb.polls = fb.results = fb.cancels = fb.items = fb.rejected = 0;
	memset(fb.outcomes, 0, sizeof fb.outcomes);
	pthread_mutex_unlock(&fb.lock);
}
