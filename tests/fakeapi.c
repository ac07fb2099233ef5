/* fakeapi.c - a fake Anthropic Messages / OpenAI embeddings and chat server on loopback, for the tests and the bench.
 *
 * It speaks the services' documented wire formats, rejects what they reject (with their error JSON), answers
 * deterministically from the request body alone (so injected faults and retries never change an archive), and adds
 * per-kind latency, injected faults, a concurrency cap and counters (GET /stats). Thread-per-connection, so the
 * handlers' sleeps overlap like a real server's. README "The fake API server" documents flags and endpoints. */

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <xxhash.h>
#include <zlib.h>

#include "fakeapi_promptcache.h"
#include "fakeapi_batch.h"
#include "grow.h"

#define MAX_BODY (32u << 20)      /* Anthropic's documented request size limit */
#define MAX_BATCH_BODY (256u << 20) /* ... and a message batch's */
#define MAX_EMBED_INPUTS 2048     /* OpenAI's documented limit on an embeddings input array */
#define CREATED_AT 1700000000     /* chat "created" is fixed so that answers are byte-identical */
#define REQUESTS_PER_MINUTE 4000  /* what the rate-limit headers advertise */
#define MAX_HEADERS 16
#define MAX_RATE_BUCKETS 32     /* (API, model) pairs whose rate limits are tracked */

enum kind { K_SUMMARY, K_OUTLINE, K_SHEET, K_EMBEDDING, K_OTHER, KINDS };
static const char *const kind_name[KINDS] = {"summary", "outline", "sheet", "embedding", "other"};

enum fault { F_NONE = -1, F_429, F_529, F_500, F_RESET, F_TIMEOUT, F_MALFORMED, F_TRUNCATED, F_MAX_TOKENS, FAULTS };
static const char *const fault_name[FAULTS] = {
	"429", "529", "500", "reset", "timeout", "malformed", "truncated", "max_tokens"};

enum api { API_MESSAGES, API_EMBEDDINGS, API_CHAT, APIS };
static const char *const api_name[APIS] = {"messages", "embeddings", "chat"};

/* Everything a flag or POST /control can change; plain values only, so a copy is a snapshot. */
struct config {
	char anthropic_key[128];  /* "": any non-empty key is accepted */
	char openai_key[128];
	int latency_ms[KINDS];
	long max_concurrency;     /* 0: no cap */
	double fault_rate;
	int faults[FAULTS];       /* the fault kinds a rate or schedule picks from (at least one) */
	int nfaults;
	long fail_first;
	unsigned long long seed;
	long timeout_sleep_ms;
	int quota;
	int shuffle_embeddings;
	int echo_key;             /* summaries quote the caller's API key back (a model that repeats what it was shown) */
	long jitter_ms;           /* answers in shuffled order: each waits an extra seeded-random 0..jitter_ms */
	int vary_lengths;         /* generated strings vary in length, as real answers do */
	char should_retry[6];     /* "", "true" or "false": x-should-retry on injected errors ("" omits it) */
	int verbose;
	/* Answers as real models give them (see "imperfect answers" below); each is undone by a correction turn. */
	double quotes;            /* < 0: sheets quote nothing; else they quote the prompt's lines, this share imperfectly */
	double bad_scenes;        /* share of sheet and outline answers with scene numbers out of range */
	long bad_utf8;            /* the next N LLM answers hold a cut multi-byte character */
	long duplicate_keys;      /* the next N LLM answers repeat a key */
	int extra_fields;         /* tool inputs carry fields the schema does not have */
	char long_summary[128];   /* a summary request whose prompt holds this text is answered with an over-long summary */
	long long_summary_chars;
	long zero_embedding;      /* the next N embeddings answers hold an all-zero vector */
	long huge_embedding;      /* the next N embeddings answers hold a vector of 3e38s */
	long embed_max_input_tokens; /* an embeddings input beyond this many tokens is refused with 400; 0: no limit */
	char request_log[512];    /* every API request body is appended here, one per line */
	long rate[4];             /* per minute and per model, 0 = none: rpm (both APIs), itpm, otpm (Anthropic), tpm
				     (OpenAI: prompt plus max_tokens) */
	long burst_ms;            /* each bucket holds this much of its minute (60000: the whole limit) */
	int overdraft;            /* admit beyond a bucket and count a violation instead of answering 429 */
	int rate_headers;         /* announce the buckets in the rate-limit headers (off: enforce them unannounced) */
	struct promptcache_config prompt_cache;  /* fakeapi_promptcache.c */
	long gzip_bomb_mb;        /* answers are gzip streams that expand to this many MB (trailing blanks); 0: off */
	long padded_mb;           /* answers carry this many MB of trailing blanks, uncompressed; 0: off */
	long bloat_count;         /* only the next N answers are bloated (bloat_counted set); else every one */
	int bloat_counted;
	struct fake_batch_config batch;  /* the Message Batches modes (fakeapi_batch.c) */
};

struct stats {
	unsigned long requests[APIS], by_kind[KINDS], embedding_inputs, rejected, faults[FAULTS], quota, cap, ok;
	unsigned long rate_limited, violations;
	long in_flight, max_concurrency;
	unsigned long bodies_repeated, max_repeats;    /* API requests whose body was sent before, byte for byte */
	unsigned long corrections;                     /* requests that carried a correction turn */
	unsigned long imperfect[10];                    /* imperfections served, by enum imperfection */
};

/* One distinct request body and how often it came. */
struct body_seen {
	XXH128_hash_t digest;
	unsigned long count;
};

/* ---- rate limits: token buckets per API and model, continuously refilled (see "rate limits" below) ---- */

enum rate { R_REQUESTS, R_INPUT, R_OUTPUT, R_TOKENS, RATES };
static const char *const rate_name[RATES] = {"requests", "input_tokens", "output_tokens", "tokens"};

struct rate_bucket {
	int used;
	int api;
	char model[64];
	double level[RATES];
	double charged[RATES];    /* cost admitted since the last reset */
	int64_t at_ms;
	int64_t first_ms, last_ms;  /* the first and last admission since the last reset: how well a client paced */
};

struct server {
	pthread_mutex_t lock;     /* guards every field below */
	pthread_cond_t wake;      /* broadcast at shutdown so that sleeping handlers return at once */
	int stopping;
	struct config cfg;
	struct stats st;
	uint64_t rng;
	long scheduled;           /* fault-eligible requests seen, for fail-first */
	uint64_t sequence;        /* numbers the request-id headers */
	struct body_seen *bodies; /* every API request body seen since the last reset */
	size_t nbodies, capbodies;
	struct rate_bucket buckets[MAX_RATE_BUCKETS];
};

/* ---- small utilities ---- */

struct buf {
	char *data;
	size_t len, cap;
	int failed;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	char *p = grow(b->data, &b->cap, b->len + n + 1, 1);
	if (!p) {
		b->failed = 1;
		return;
	}
	b->data = p;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char text[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof text)
		b->failed = 1;
	else
		buf_str(b, text);
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A uniform double in [0, 1). */
static double unit_interval(uint64_t *state)
{
	return (double)(splitmix64(state) >> 11) / 9007199254740992.0;
}

static long tokens_for(size_t bytes)
{
	return (long)((bytes + 3) / 4);
}

static double elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) * 1e3 + (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

/* Sleeps ms milliseconds, or less when the server is stopping. */
static void nap(struct server *s, long ms)
{
	if (ms <= 0)
		return;
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->lock);
}

static const cJSON *field(const cJSON *object, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(object, name);
}

static int is_integer(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9007199254740992.0;
}

static int name_in(const char *name, const char *const *names)
{
	for (; *names; names++)
		if (!strcmp(name, *names))
			return 1;
	return 0;
}

/* The first top-level member of object whose name is not in known, or NULL. */
static const char *unknown_member(const cJSON *object, const char *const *known)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, object)
		if (!name_in(item->string, known))
			return item->string;
	return NULL;
}

/* Tool and schema names follow the pattern both services document: ^[a-zA-Z0-9_-]{1,64}$. */
static int valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > 64)
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* ---- errors in each API's documented shape ---- */

struct api_error {
	unsigned status;
	const char *type;
	const char *param;        /* OpenAI only */
	const char *code;         /* OpenAI error.code; Anthropic error.details.error_code */
	char message[512];
};

static int reject(struct api_error *e, unsigned status, const char *type, const char *param, const char *code,
		  const char *fmt, ...)
{
	va_list ap;
	e->status = status;
	e->type = type;
	e->param = param;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	return -1;
}

#define BAD_ANTHROPIC(e, ...) reject(e, 400, "invalid_request_error", NULL, NULL, __VA_ARGS__)
#define BAD_OPENAI(e, param, code, ...) reject(e, 400, "invalid_request_error", param, code, __VA_ARGS__)

static char *error_json(enum api api, const struct api_error *e, const char *request_id)
{
	cJSON *root = cJSON_CreateObject();
	if (api == API_MESSAGES) {
		cJSON_AddStringToObject(root, "type", "error");
		cJSON *error = cJSON_AddObjectToObject(root, "error");
		cJSON_AddStringToObject(error, "type", e->type);
		cJSON_AddStringToObject(error, "message", e->message);
		if (e->code)
			cJSON_AddStringToObject(cJSON_AddObjectToObject(error, "details"), "error_code", e->code);
		cJSON_AddStringToObject(root, "request_id", request_id);
	} else {
		cJSON *error = cJSON_AddObjectToObject(root, "error");
		cJSON_AddStringToObject(error, "message", e->message);
		cJSON_AddStringToObject(error, "type", e->type);
		cJSON_AddItemToObject(error, "param", e->param ? cJSON_CreateString(e->param) : cJSON_CreateNull());
		cJSON_AddItemToObject(error, "code", e->code ? cJSON_CreateString(e->code) : cJSON_CreateNull());
	}
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* ---- request validation: Anthropic Messages ---- */

static const char *const messages_members[] = {
	"model", "messages", "max_tokens", "system", "temperature", "tools", "tool_choice", "metadata",
	"stop_sequences", "stream", "top_k", "top_p", "thinking", "service_tier", NULL};

static const char *const content_block_types[] = {
	"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking", NULL};

static int check_blocks(const cJSON *blocks, const char *where, int text_only, struct api_error *e)
{
	int i = 0;
	const cJSON *block;
	cJSON_ArrayForEach(block, blocks) {
		const char *type = cJSON_GetStringValue(field(block, "type"));
		if (!cJSON_IsObject(block))
			return BAD_ANTHROPIC(e, "%s.%d: Input should be a valid dictionary", where, i);
		if (!type)
			return BAD_ANTHROPIC(e, "%s.%d.type: Field required", where, i);
		if (text_only && strcmp(type, "text"))
			return BAD_ANTHROPIC(e, "%s.%d.type: Input should be 'text'", where, i);
		if (!name_in(type, content_block_types))
			return BAD_ANTHROPIC(e, "%s.%d: Input tag '%.64s' found using 'type' does not match any of the "
					     "expected tags: 'text', 'image', 'document', 'tool_use', 'tool_result'", where, i, type);
		if (!strcmp(type, "text")) {
			const cJSON *text = field(block, "text");
			if (!text)
				return BAD_ANTHROPIC(e, "%s.%d.text: Field required", where, i);
			if (!cJSON_IsString(text))
				return BAD_ANTHROPIC(e, "%s.%d.text: Input should be a valid string", where, i);
			if (!*text->valuestring)
				return BAD_ANTHROPIC(e, "%s: text content blocks must be non-empty", where);
		}
		i++;
	}
	return 0;
}

/* As the Messages API demands: every tool_result answers a tool_use of the assistant turn just before it, and every
 * tool_use of an assistant turn is answered in the next user turn. */
static int check_tool_results(const cJSON *prev, const cJSON *message, int i, struct api_error *e)
{
	const cJSON *content = field(message, "content"), *block, *used;
	int j = 0;
	cJSON_ArrayForEach(block, (cJSON_IsArray(content) ? content : NULL)) {
		const char *type = cJSON_GetStringValue(field(block, "type"));
		if (!type || strcmp(type, "tool_result")) {
			j++;
			continue;
		}
		const char *id = cJSON_GetStringValue(field(block, "tool_use_id"));
		if (!id)
			return BAD_ANTHROPIC(e, "messages.%d.content.%d.tool_use_id: Field required", i, j);
		int found = 0;
		const cJSON *pc = field(prev, "content");
		cJSON_ArrayForEach(used, (cJSON_IsArray(pc) ? pc : NULL)) {
			const char *utype = cJSON_GetStringValue(field(used, "type"));
			const char *uid = cJSON_GetStringValue(field(used, "id"));
			found |= utype && !strcmp(utype, "tool_use") && uid && !strcmp(uid, id);
		}
		if (!found)
			return BAD_ANTHROPIC(e, "messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: "
					     "%.64s. Each `tool_result` block must have a corresponding `tool_use` block in the "
					     "previous message.", i, j, id);
		j++;
	}
	const cJSON *pc = field(prev, "content");
	cJSON_ArrayForEach(used, (prev && cJSON_IsArray(pc) ? pc : NULL)) {
		const char *utype = cJSON_GetStringValue(field(used, "type"));
		const char *uid = cJSON_GetStringValue(field(used, "id"));
		if (!utype || strcmp(utype, "tool_use") || !uid)
			continue;
		int answered = 0;
		cJSON_ArrayForEach(block, (cJSON_IsArray(content) ? content : NULL)) {
			const char *id = cJSON_GetStringValue(field(block, "tool_use_id"));
			answered |= id && !strcmp(id, uid);
		}
		if (!answered)
			return BAD_ANTHROPIC(e, "messages.%d: `tool_use` ids were found without `tool_result` blocks immediately "
					     "after: %.64s. Each `tool_use` block must have a corresponding `tool_result` block in "
					     "the next message.", i - 1, uid);
	}
	return 0;
}

static int check_conversation(const cJSON *messages, struct api_error *e)
{
	if (!messages)
		return BAD_ANTHROPIC(e, "messages: Field required");
	if (!cJSON_IsArray(messages))
		return BAD_ANTHROPIC(e, "messages: Input should be a valid list");
	if (cJSON_GetArraySize(messages) == 0)
		return BAD_ANTHROPIC(e, "messages: at least one message is required");
	const char *previous = NULL;
	int i = 0;
	const cJSON *message;
	cJSON_ArrayForEach(message, messages) {
		if (!cJSON_IsObject(message))
			return BAD_ANTHROPIC(e, "messages.%d: Input should be a valid dictionary", i);
		const cJSON *role = field(message, "role"), *content = field(message, "content");
		if (!role)
			return BAD_ANTHROPIC(e, "messages.%d.role: Field required", i);
		if (!cJSON_IsString(role) || (strcmp(role->valuestring, "user") && strcmp(role->valuestring, "assistant")))
			return BAD_ANTHROPIC(e, "messages.%d.role: Input should be 'user' or 'assistant'", i);
		if (!previous && strcmp(role->valuestring, "user"))
			return BAD_ANTHROPIC(e, "messages: first message must use the \"user\" role");
		if (previous && !strcmp(previous, role->valuestring))
			return BAD_ANTHROPIC(e, "messages: roles must alternate between \"user\" and \"assistant\", but found "
					     "multiple \"%s\" roles in a row", previous);
		previous = role->valuestring;
		if (!content)
			return BAD_ANTHROPIC(e, "messages.%d.content: Field required", i);
		if (cJSON_IsString(content) ? !*content->valuestring
					    : cJSON_IsArray(content) && cJSON_GetArraySize(content) == 0)
			return BAD_ANTHROPIC(e, "messages.%d: all messages must have non-empty content except for the "
					     "optional final assistant message", i);
		if (!cJSON_IsString(content) && !cJSON_IsArray(content))
			return BAD_ANTHROPIC(e, "messages.%d.content: Input should be a valid string or a list of content "
					     "blocks", i);
		char where[48];
		snprintf(where, sizeof where, "messages.%d.content", i);
		if (cJSON_IsArray(content) && check_blocks(content, where, 0, e))
			return -1;
		if (!strcmp(role->valuestring, "user") &&
		    check_tool_results(i ? cJSON_GetArrayItem(messages, i - 1) : NULL, message, i, e))
			return -1;
		i++;
	}
	return 0;
}

static int check_tools(const cJSON *tools, const cJSON *choice, struct api_error *e)
{
	if (tools && !cJSON_IsArray(tools))
		return BAD_ANTHROPIC(e, "tools: Input should be a valid list");
	int i = 0;
	const cJSON *tool;
	cJSON_ArrayForEach(tool, tools) {
		if (!cJSON_IsObject(tool))
			return BAD_ANTHROPIC(e, "tools.%d: Input should be a valid dictionary", i);
		const cJSON *name = field(tool, "name"), *schema = field(tool, "input_schema");
		const cJSON *description = field(tool, "description");
		if (!name)
			return BAD_ANTHROPIC(e, "tools.%d.name: Field required", i);
		if (!cJSON_IsString(name) || !valid_name(name->valuestring))
			return BAD_ANTHROPIC(e, "tools.%d.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'", i);
		if (description && !cJSON_IsString(description))
			return BAD_ANTHROPIC(e, "tools.%d.description: Input should be a valid string", i);
		if (!schema)
			return BAD_ANTHROPIC(e, "tools.%d.input_schema: Field required", i);
		if (!cJSON_IsObject(schema))
			return BAD_ANTHROPIC(e, "tools.%d.input_schema: Input should be a valid dictionary", i);
		const char *type = cJSON_GetStringValue(field(schema, "type"));
		if (!type)
			return BAD_ANTHROPIC(e, "tools.%d.input_schema.type: Field required", i);
		if (strcmp(type, "object"))
			return BAD_ANTHROPIC(e, "tools.%d.input_schema.type: Input should be 'object'", i);
		const cJSON *other;
		cJSON_ArrayForEach(other, tools) {
			if (other == tool)
				break;
			if (!strcmp(cJSON_GetStringValue(field(other, "name")), name->valuestring))
				return BAD_ANTHROPIC(e, "tools: Tool names must be unique.");
		}
		i++;
	}
	if (!choice)
		return 0;
	const char *type = cJSON_GetStringValue(field(choice, "type"));
	if (!cJSON_IsObject(choice))
		return BAD_ANTHROPIC(e, "tool_choice: Input should be a valid dictionary");
	if (!type)
		return BAD_ANTHROPIC(e, "tool_choice.type: Field required");
	if (!name_in(type, (const char *const[]){"auto", "any", "tool", "none", NULL}))
		return BAD_ANTHROPIC(e, "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'");
	if ((!strcmp(type, "any") || !strcmp(type, "tool")) && cJSON_GetArraySize(tools) == 0)
		return BAD_ANTHROPIC(e, "tool_choice: tool_choice.type '%s' requires at least one tool in tools", type);
	if (strcmp(type, "tool"))
		return 0;
	const char *name = cJSON_GetStringValue(field(choice, "name"));
	if (!name)
		return BAD_ANTHROPIC(e, "tool_choice.tool.name: Field required");
	cJSON_ArrayForEach(tool, tools)
		if (!strcmp(cJSON_GetStringValue(field(tool, "name")), name))
			return 0;
	return BAD_ANTHROPIC(e, "tool_choice: Tool '%.64s' not found in tools", name);
}

static int check_messages_request(const cJSON *req, struct api_error *e)
{
	if (!cJSON_IsObject(req))
		return BAD_ANTHROPIC(e, "The request body is not a valid JSON object.");
	const char *extra = unknown_member(req, messages_members);
	if (extra)
		return BAD_ANTHROPIC(e, "%.64s: Extra inputs are not permitted", extra);
	const cJSON *model = field(req, "model"), *max_tokens = field(req, "max_tokens");
	if (!model)
		return BAD_ANTHROPIC(e, "model: Field required");
	if (!cJSON_IsString(model) || !*model->valuestring)
		return BAD_ANTHROPIC(e, "model: Input should be a valid string");
	if (!max_tokens)
		return BAD_ANTHROPIC(e, "max_tokens: Field required");
	if (!is_integer(max_tokens))
		return BAD_ANTHROPIC(e, "max_tokens: Input should be a valid integer");
	if (max_tokens->valuedouble < 1)
		return BAD_ANTHROPIC(e, "max_tokens: Input should be greater than or equal to 1");
	if (check_conversation(field(req, "messages"), e))
		return -1;
	const cJSON *system = field(req, "system"), *temperature = field(req, "temperature");
	if (system && !cJSON_IsString(system) && !cJSON_IsArray(system))
		return BAD_ANTHROPIC(e, "system: Input should be a valid string or a list of text blocks");
	if (cJSON_IsArray(system) && check_blocks(system, "system", 1, e))
		return -1;
	if (temperature && !cJSON_IsNumber(temperature))
		return BAD_ANTHROPIC(e, "temperature: Input should be a valid number");
	if (temperature && temperature->valuedouble < 0)
		return BAD_ANTHROPIC(e, "temperature: Input should be greater than or equal to 0");
	if (temperature && temperature->valuedouble > 1)
		return BAD_ANTHROPIC(e, "temperature: Input should be less than or equal to 1");
	if (cJSON_IsTrue(field(req, "stream")))
		return BAD_ANTHROPIC(e, "stream: the fake API server does not stream; omit \"stream\" or send false");
	char cache_msg[200];
	if (promptcache_check(req, cache_msg, sizeof cache_msg))
		return BAD_ANTHROPIC(e, "%s", cache_msg);
	return check_tools(field(req, "tools"), field(req, "tool_choice"), e);
}

/* ---- request validation: OpenAI chat completions and embeddings ---- */

static const char *const chat_members[] = {
	"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stop",
	"response_format", "seed", "tools", "tool_choice", "parallel_tool_calls", "user", "stream", "stream_options",
	"presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "metadata", "store",
	"reasoning_effort", "service_tier", NULL};

static const char *const embedding_members[] = {"model", "input", "dimensions", "encoding_format", "user", NULL};

static int check_model(const cJSON *req, struct api_error *e)
{
	if (!cJSON_IsObject(req))
		return BAD_OPENAI(e, NULL, NULL, "We could not parse the JSON body of your request. The OpenAI API "
				  "expects a JSON object as the body.");
	const cJSON *model = field(req, "model");
	if (!cJSON_IsString(model) || !*model->valuestring)
		return BAD_OPENAI(e, NULL, NULL, "you must provide a model parameter");
	return 0;
}

static int check_positive(const cJSON *v, const char *name, struct api_error *e)
{
	if (!v)
		return 0;
	if (!is_integer(v))
		return BAD_OPENAI(e, name, "invalid_type", "Invalid type for '%s': expected an integer, but got %s instead.",
				  name, cJSON_IsNumber(v) ? "a decimal" : "another type");
	if (v->valuedouble < 1)
		return BAD_OPENAI(e, name, "integer_below_min_value", "Invalid '%s': integer below minimum value. Expected "
				  "a value >= 1, but got %.0f instead.", name, v->valuedouble);
	return 0;
}

/* Structured outputs in strict mode demand, of every object schema, additionalProperties false and every
 * property required; the real service rejects the request otherwise. */
static int check_strict_schema(const cJSON *schema, const char *name, char *context, size_t size, struct api_error *e)
{
	if (!cJSON_IsObject(schema))
		return 0;
	size_t mark = strlen(context);
	const cJSON *properties = field(schema, "properties");
	const char *type = cJSON_GetStringValue(field(schema, "type"));
	if ((type && !strcmp(type, "object")) || properties) {
		const char *ctx = mark ? context : "";
		if (!cJSON_IsFalse(field(schema, "additionalProperties")))
			return BAD_OPENAI(e, "response_format", NULL, "Invalid schema for response_format '%s': In context=(%s), "
					  "'additionalProperties' is required to be supplied and to be false.", name, ctx);
		const cJSON *required = field(schema, "required"), *property;
		cJSON_ArrayForEach(property, properties) {
			int found = 0;
			const cJSON *r;
			cJSON_ArrayForEach(r, required)
				found |= cJSON_IsString(r) && !strcmp(r->valuestring, property->string);
			if (!found)
				return BAD_OPENAI(e, "response_format", NULL, "Invalid schema for response_format '%s': In "
						  "context=(%s), 'required' is required to be supplied and to be an array "
						  "including every key in properties. Missing '%.64s'.", name, ctx, property->string);
		}
		cJSON_ArrayForEach(property, properties) {
			snprintf(context + mark, size - mark, "%s'properties', '%.64s'", mark ? ", " : "", property->string);
			if (check_strict_schema(property, name, context, size, e))
				return -1;
		}
	}
	const cJSON *items = field(schema, "items"), *item;
	snprintf(context + mark, size - mark, "%s'items'", mark ? ", " : "");
	if (check_strict_schema(items, name, context, size, e))
		return -1;
	cJSON_ArrayForEach(item, field(schema, "anyOf")) {
		snprintf(context + mark, size - mark, "%s'anyOf'", mark ? ", " : "");
		if (check_strict_schema(item, name, context, size, e))
			return -1;
	}
	cJSON_ArrayForEach(item, field(schema, "$defs")) {
		snprintf(context + mark, size - mark, "%s'$defs', '%.64s'", mark ? ", " : "", item->string);
		if (check_strict_schema(item, name, context, size, e))
			return -1;
	}
	context[mark] = '\0';
	return 0;
}

static int check_response_format(const cJSON *format, struct api_error *e)
{
	if (!format)
		return 0;
	const char *type = cJSON_GetStringValue(field(format, "type"));
	if (!type)
		return BAD_OPENAI(e, "response_format.type", "missing_required_parameter",
				  "Missing required parameter: 'response_format.type'.");
	if (!name_in(type, (const char *const[]){"text", "json_object", "json_schema", NULL}))
		return BAD_OPENAI(e, "response_format.type", "invalid_value", "Invalid value: '%.64s'. Supported values "
				  "are: 'text', 'json_object', and 'json_schema'.", type);
	if (strcmp(type, "json_schema"))
		return 0;
	const cJSON *json_schema = field(format, "json_schema");
	if (!cJSON_IsObject(json_schema))
		return BAD_OPENAI(e, "response_format.json_schema", "missing_required_parameter",
				  "Missing required parameter: 'response_format.json_schema'.");
	const char *name = cJSON_GetStringValue(field(json_schema, "name"));
	const cJSON *schema = field(json_schema, "schema");
	if (!name)
		return BAD_OPENAI(e, "response_format.json_schema.name", "missing_required_parameter",
				  "Missing required parameter: 'response_format.json_schema.name'.");
	if (!valid_name(name))
		return BAD_OPENAI(e, "response_format.json_schema.name", "invalid_value", "Invalid "
				  "'response_format.json_schema.name': string does not match pattern. Expected a string "
				  "that matches the pattern '^[a-zA-Z0-9_-]+$'.");
	if (schema && !cJSON_IsObject(schema))
		return BAD_OPENAI(e, "response_format.json_schema.schema", "invalid_type", "Invalid type for "
				  "'response_format.json_schema.schema': expected an object, but got another type instead.");
	if (!cJSON_IsTrue(field(json_schema, "strict")) || !schema)
		return 0;
	const char *root_type = cJSON_GetStringValue(field(schema, "type"));
	if (!root_type || strcmp(root_type, "object"))
		return BAD_OPENAI(e, "response_format", NULL, "Invalid schema for response_format '%s': schema must be a "
				  "JSON Schema of 'type: \"object\"', got 'type: \"%.32s\"'.", name, root_type ? root_type : "None");
	char context[512] = "";
	return check_strict_schema(schema, name, context, sizeof context, e);
}

static int check_chat_request(const cJSON *req, struct api_error *e)
{
	if (check_model(req, e))
		return -1;
	const char *extra = unknown_member(req, chat_members);
	if (extra)
		return BAD_OPENAI(e, NULL, NULL, "Unrecognized request argument supplied: %.64s", extra);
	const cJSON *messages = field(req, "messages"), *message;
	if (!messages)
		return BAD_OPENAI(e, "messages", "missing_required_parameter", "Missing required parameter: 'messages'.");
	if (!cJSON_IsArray(messages))
		return BAD_OPENAI(e, "messages", "invalid_type", "Invalid type for 'messages': expected an array of "
				  "objects, but got another type instead.");
	if (cJSON_GetArraySize(messages) == 0)
		return BAD_OPENAI(e, "messages", "empty_array", "Invalid 'messages': empty array. Expected an array with "
				  "minimum length 1, but got an empty array instead.");
	int i = 0;
	cJSON_ArrayForEach(message, messages) {
		char param[48];
		snprintf(param, sizeof param, "messages[%d]", i);
		if (!cJSON_IsObject(message))
			return BAD_OPENAI(e, NULL, "invalid_type", "Invalid type for '%s': expected an object, but got "
					  "another type instead.", param);
		const char *role = cJSON_GetStringValue(field(message, "role"));
		const cJSON *content = field(message, "content");
		if (!role)
			return BAD_OPENAI(e, NULL, "missing_required_parameter", "Missing required parameter: '%s.role'.",
					  param);
		if (!name_in(role, (const char *const[]){"system", "developer", "user", "assistant", "tool", "function", NULL}))
			return BAD_OPENAI(e, NULL, "invalid_value", "Invalid value: '%.32s'. Supported values are: 'system', "
					  "'assistant', 'user', 'function', 'tool', and 'developer'.", role);
		if (!content && strcmp(role, "assistant"))
			return BAD_OPENAI(e, NULL, "missing_required_parameter", "Missing required parameter: '%s.content'.",
					  param);
		if (content && !cJSON_IsString(content) && !cJSON_IsArray(content) && !cJSON_IsNull(content))
			return BAD_OPENAI(e, NULL, "invalid_type", "Invalid type for '%s.content': expected one of a string "
					  "or array of objects, but got another type instead.", param);
		i++;
	}
	if (check_positive(field(req, "max_tokens"), "max_tokens", e) ||
	    check_positive(field(req, "max_completion_tokens"), "max_completion_tokens", e))
		return -1;
	const cJSON *temperature = field(req, "temperature");
	if (temperature && !cJSON_IsNumber(temperature))
		return BAD_OPENAI(e, "temperature", "invalid_type", "Invalid type for 'temperature': expected a decimal, "
				  "but got another type instead.");
	if (temperature && temperature->valuedouble > 2)
		return BAD_OPENAI(e, "temperature", "decimal_above_max_value", "Invalid 'temperature': decimal above "
				  "maximum value. Expected a value <= 2, but got %g instead.", temperature->valuedouble);
	if (temperature && temperature->valuedouble < 0)
		return BAD_OPENAI(e, "temperature", "decimal_below_min_value", "Invalid 'temperature': decimal below "
				  "minimum value. Expected a value >= 0, but got %g instead.", temperature->valuedouble);
	if (cJSON_IsTrue(field(req, "stream")))
		return BAD_OPENAI(e, "stream", NULL, "The fake API server does not stream; omit 'stream' or send false.");
	return check_response_format(field(req, "response_format"), e);
}

/* The default and largest vector width of an embedding model. */
static long model_dimensions(const char *model)
{
	return strstr(model, "3-large") ? 3072 : 1536;
}

static int check_embeddings_request(const cJSON *req, struct api_error *e)
{
	if (check_model(req, e))
		return -1;
	const char *extra = unknown_member(req, embedding_members);
	if (extra)
		return BAD_OPENAI(e, NULL, NULL, "Unrecognized request argument supplied: %.64s", extra);
	const cJSON *input = field(req, "input"), *item;
	if (!input)
		return BAD_OPENAI(e, "input", "missing_required_parameter", "Missing required parameter: 'input'.");
	int valid = cJSON_IsString(input) ? *input->valuestring != '\0'
					  : cJSON_IsArray(input) && cJSON_GetArraySize(input) >= 1 &&
					    cJSON_GetArraySize(input) <= MAX_EMBED_INPUTS;
	const cJSON *list = cJSON_IsArray(input) ? input : NULL;
	cJSON_ArrayForEach(item, list)
		valid &= cJSON_IsString(item) && *item->valuestring != '\0';
	if (!valid)
		return BAD_OPENAI(e, NULL, NULL, "'$.input' is invalid. Please check the API reference: "
				  "https://platform.openai.com/docs/api-reference.");
	const char *model = cJSON_GetStringValue(field(req, "model"));
	const cJSON *dimensions = field(req, "dimensions");
	if (dimensions && strstr(model, "ada-002"))
		return BAD_OPENAI(e, NULL, NULL, "This model does not support specifying dimensions.");
	if (check_positive(dimensions, "dimensions", e))
		return -1;
	if (dimensions && dimensions->valuedouble > (double)model_dimensions(model))
		return BAD_OPENAI(e, "dimensions", "integer_above_max_value", "Invalid 'dimensions': integer above maximum "
				  "value. Expected a value <= %ld, but got %.0f instead.", model_dimensions(model),
				  dimensions->valuedouble);
	const cJSON *format = field(req, "encoding_format");
	if (!format || (cJSON_IsString(format) && (!strcmp(format->valuestring, "float") ||
						   !strcmp(format->valuestring, "base64"))))
		return 0;
	return BAD_OPENAI(e, "encoding_format", "invalid_value", "Invalid value: '%.32s'. Supported values are: 'float' "
			  "and 'base64'.", cJSON_IsString(format) ? format->valuestring : "?");
}

/* ---- deterministic answers generated from the request's JSON schema ---- */

struct faker {
	uint64_t seed;            /* a hash of the whole request body */
	const char *kind;
	int vary;                 /* --vary-lengths */
};

static cJSON *fake_value(const struct faker *f, const cJSON *schema, const char *path, int depth);

static const char *schema_type(const cJSON *schema)
{
	const cJSON *type = field(schema, "type"), *types = cJSON_IsArray(type) ? type : NULL, *item;
	if (cJSON_IsString(type))
		return type->valuestring;
	cJSON_ArrayForEach(item, types)
		if (cJSON_IsString(item) && strcmp(item->valuestring, "null"))
			return item->valuestring;
	if (field(schema, "properties"))
		return "object";
	if (field(schema, "items"))
		return "array";
	return "";
}

/* --vary-lengths: real answers differ in length from one input to the next (so do their token counts); without it
 * every fake string of a field has the same length, which hides any figure that depends on how inputs were grouped. */
static void vary_length(const struct faker *f, uint32_t h, struct buf *b)
{
	for (uint32_t extra = f->vary ? (h >> 8) % 7 : 0; extra > 0; extra--)
		buf_str(b, " Another invented clause.");
}

static cJSON *fake_string(const struct faker *f, const cJSON *schema, const char *path)
{
	uint32_t h = (uint32_t)XXH3_64bits_withSeed(path, strlen(path), f->seed);
	struct buf b = {0};
	buf_printf(&b, "Fake %s %08x for %.60s.", f->kind, (unsigned)h, *path ? path : "the answer");
	buf_str(&b, " Invented by the fake API server.");
	vary_length(f, h, &b);
	const cJSON *min = field(schema, "minLength"), *max = field(schema, "maxLength");
	size_t least = cJSON_IsNumber(min) && min->valuedouble > 0 ? (size_t)fmin(min->valuedouble, 1e5) : 0;
	while (!b.failed && b.len < least)
		buf_str(&b, " More invented text.");
	if (!b.failed && cJSON_IsNumber(max) && max->valuedouble >= 0 && (double)b.len > max->valuedouble)
		b.data[(size_t)max->valuedouble] = '\0';
	cJSON *value = b.failed ? NULL : cJSON_CreateString(b.data);
	free(b.data);
	return value;
}

static cJSON *fake_number(const cJSON *schema, int integer)
{
	const cJSON *min = field(schema, "minimum"), *xmin = field(schema, "exclusiveMinimum");
	const cJSON *max = field(schema, "maximum");
	double value = 1;
	if (cJSON_IsNumber(min))
		value = integer ? ceil(min->valuedouble) : min->valuedouble;
	else if (cJSON_IsNumber(xmin))
		value = floor(xmin->valuedouble) + 1;
	if (cJSON_IsNumber(max) && value > max->valuedouble)
		value = integer ? floor(max->valuedouble) : max->valuedouble;
	return cJSON_CreateNumber(value);
}

/* Exactly minItems items (none without minItems): e.g. key_lines stays empty, hence trivially valid. */
static cJSON *fake_array(const struct faker *f, const cJSON *schema, const char *path, int depth)
{
	const cJSON *min = field(schema, "minItems"), *items = field(schema, "items");
	int n = cJSON_IsNumber(min) && min->valuedouble > 0 ? (int)fmin(min->valuedouble, 1000) : 0;
	cJSON *array = cJSON_CreateArray();
	for (int i = 0; array && i < n; i++) {
		char child[256];
		snprintf(child, sizeof child, "%.200s[%d]", path, i);
		cJSON *item = items ? fake_value(f, items, child, depth + 1) : fake_string(f, NULL, child);
		if (!item || !cJSON_AddItemToArray(array, item)) {
			cJSON_Delete(item);
			cJSON_Delete(array);
			return NULL;
		}
	}
	return array;
}

static cJSON *fake_object(const struct faker *f, const cJSON *schema, const char *path, int depth)
{
	cJSON *object = cJSON_CreateObject();
	const cJSON *property, *required;
	cJSON_ArrayForEach(property, field(schema, "properties")) {
		char child[256];
		snprintf(child, sizeof child, "%s%.100s%.100s", *path ? path : "", *path ? "." : "", property->string);
		cJSON *value = fake_value(f, property, child, depth + 1);
		if (!value || !cJSON_AddItemToObject(object, property->string, value)) {
			cJSON_Delete(value);
			cJSON_Delete(object);
			return NULL;
		}
	}
	cJSON_ArrayForEach(required, field(schema, "required")) {
		if (!cJSON_IsString(required) || field(object, required->valuestring))
			continue;
		cJSON *value = fake_string(f, NULL, required->valuestring);
		if (!value || !cJSON_AddItemToObject(object, required->valuestring, value)) {
			cJSON_Delete(value);
			cJSON_Delete(object);
			return NULL;
		}
	}
	return object;
}

static cJSON *fake_value(const struct faker *f, const cJSON *schema, const char *path, int depth)
{
	if (!cJSON_IsObject(schema) || depth > 32)
		return cJSON_CreateNull();
	const cJSON *constant = field(schema, "const"), *choices = field(schema, "enum");
	const cJSON *any = field(schema, "anyOf") ? field(schema, "anyOf") : field(schema, "oneOf");
	if (constant)
		return cJSON_Duplicate(constant, 1);
	if (cJSON_GetArraySize(choices) > 0)
		return cJSON_Duplicate(cJSON_GetArrayItem(choices, 0), 1);
	if (cJSON_GetArraySize(any) > 0)
		return fake_value(f, cJSON_GetArrayItem(any, 0), path, depth + 1);
	const char *type = schema_type(schema);
	if (!strcmp(type, "object"))
		return fake_object(f, schema, path, depth);
	if (!strcmp(type, "array"))
		return fake_array(f, schema, path, depth);
	if (!strcmp(type, "string"))
		return fake_string(f, schema, path);
	if (!strcmp(type, "integer") || !strcmp(type, "number"))
		return fake_number(schema, !strcmp(type, "integer"));
	if (!strcmp(type, "boolean"))
		return cJSON_CreateFalse();
	return cJSON_CreateNull();
}

/* A cut-off answer keeps only the first half of the object's members, as a model stopped mid-object would. */
static void cut_object(cJSON *object)
{
	int keep = cJSON_GetArraySize(object) / 2;
	while (cJSON_GetArraySize(object) > keep)
		cJSON_DeleteItemFromArray(object, cJSON_GetArraySize(object) - 1);
}

static enum kind kind_of_name(const char *name)
{
	if (!name)
		return K_OTHER;
	if (strstr(name, "summary"))
		return K_SUMMARY;
	if (strstr(name, "outline"))
		return K_OUTLINE;
	if (strstr(name, "sheet"))
		return K_SHEET;
	return K_OTHER;
}

/* The tool an Anthropic request forces: tool_choice {"type":"tool"}, or the first tool under {"type":"any"}. */
static const cJSON *forced_tool(const cJSON *req)
{
	const cJSON *choice = field(req, "tool_choice"), *tools = field(req, "tools"), *tool;
	const char *type = cJSON_GetStringValue(field(choice, "type"));
	if (type && !strcmp(type, "any"))
		return cJSON_GetArrayItem(tools, 0);
	if (!type || strcmp(type, "tool"))
		return NULL;
	cJSON_ArrayForEach(tool, tools) {
		const char *name = cJSON_GetStringValue(field(tool, "name"));
		if (name && !strcmp(name, cJSON_GetStringValue(field(choice, "name"))))
			return tool;
	}
	return NULL;
}

static enum kind request_kind(enum api api, const cJSON *req)
{
	if (api == API_EMBEDDINGS)
		return K_EMBEDDING;
	if (api == API_MESSAGES)
		return kind_of_name(cJSON_GetStringValue(field(forced_tool(req), "name")));
	return kind_of_name(cJSON_GetStringValue(field(field(field(req, "response_format"), "json_schema"), "name")));
}

static void body_id(char *out, size_t size, const char *prefix, const char *salt, const char *body, size_t len)
{
	XXH128_hash_t h = XXH3_128bits_withSeed(body, len, XXH3_64bits(salt, strlen(salt)));
	snprintf(out, size, "%s%016llx%08llx", prefix, (unsigned long long)h.high64,
		 (unsigned long long)(h.low64 >> 32));
}

struct quirks;
static void imperfect_input(const struct config *cfg, enum kind kind, const cJSON *req, cJSON *input, uint64_t seed,
			    struct quirks *q);

/* The seed of an answer: the request without its output budget, since a model at temperature 0 writes the same
 * words whatever max_tokens allows (a retry with more room must get the same answer, only whole). */
static uint64_t answer_seed(const cJSON *req, const char *body, size_t len, size_t *prompt_len)
{
	cJSON *copy = cJSON_Duplicate(req, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "max_tokens");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "max_completion_tokens");
	char *text = copy ? cJSON_PrintUnformatted(copy) : NULL;
	cJSON_Delete(copy);
	uint64_t seed = text ? XXH3_64bits(text, strlen(text)) : XXH3_64bits(body, len);
	/* Input tokens count the prompt, not the budget. */
	*prompt_len = text ? strlen(text) : len;
	free(text);
	return seed;
}

static char *messages_answer(const cJSON *req, const char *body, size_t len, int cut_short, const struct config *cfg,
			     struct quirks *q)
{
	const cJSON *tool = forced_tool(req);
	const char *tool_name = cJSON_GetStringValue(field(tool, "name"));
	size_t prompt_len;
	struct faker f = {answer_seed(req, body, len, &prompt_len), kind_name[kind_of_name(tool_name)], cfg->vary_lengths};
	long max_tokens = (long)field(req, "max_tokens")->valuedouble, out_tokens;
	char id[64];
	cJSON *root = cJSON_CreateObject(), *block = cJSON_CreateObject();
	body_id(id, sizeof id, "msg_", "message", body, len);
	cJSON_AddStringToObject(root, "id", id);
	cJSON_AddStringToObject(root, "type", "message");
	cJSON_AddStringToObject(root, "role", "assistant");
	cJSON_AddStringToObject(root, "model", cJSON_GetStringValue(field(req, "model")));
	cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "content"), block);
	if (tool) {
		cJSON *input = fake_value(&f, field(tool, "input_schema"), "", 0);
		imperfect_input(cfg, kind_of_name(tool_name), req, input, f.seed, q);
		char *text = cJSON_PrintUnformatted(input);
		out_tokens = tokens_for(text ? strlen(text) : 0);
		free(text);
		cut_short |= out_tokens > max_tokens;
		if (cut_short)
			cut_object(input);
		body_id(id, sizeof id, "toolu_", "tool", body, len);
		cJSON_AddStringToObject(block, "type", "tool_use");
		cJSON_AddStringToObject(block, "id", id);
		cJSON_AddStringToObject(block, "name", tool_name);
		cJSON_AddItemToObject(block, "input", input);
		cJSON_AddStringToObject(root, "stop_reason", cut_short ? "max_tokens" : "tool_use");
	} else {
		char text[128];
		snprintf(text, sizeof text, "Fake answer %08x from the fake API server.", (unsigned)(uint32_t)f.seed);
		out_tokens = tokens_for(strlen(text));
		cut_short |= out_tokens > max_tokens;
		if (cut_short)
			text[strlen(text) / 2] = '\0';
		cJSON_AddStringToObject(block, "type", "text");
		cJSON_AddStringToObject(block, "text", text);
		cJSON_AddStringToObject(root, "stop_reason", cut_short ? "max_tokens" : "end_turn");
	}
	cJSON_AddNullToObject(root, "stop_sequence");
	cJSON *usage = cJSON_AddObjectToObject(root, "usage");
	cJSON_AddNumberToObject(usage, "input_tokens", (double)tokens_for(prompt_len));
	cJSON_AddNumberToObject(usage, "output_tokens", (double)(cut_short ? max_tokens : out_tokens));
	char *answer = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return answer;
}

static char *chat_answer(const cJSON *req, const char *body, size_t len, int cut_short, const struct config *cfg,
			 struct quirks *q)
{
	const cJSON *format = field(req, "response_format"), *json_schema = field(format, "json_schema");
	const char *format_type = cJSON_GetStringValue(field(format, "type"));
	const char *schema_name = cJSON_GetStringValue(field(json_schema, "name"));
	size_t prompt_len;
	struct faker f = {answer_seed(req, body, len, &prompt_len), kind_name[kind_of_name(schema_name)], cfg->vary_lengths};
	const cJSON *limit = field(req, "max_completion_tokens") ? field(req, "max_completion_tokens")
								  : field(req, "max_tokens");
	long max_tokens = limit ? (long)limit->valuedouble : 0;
	char *content;
	if (format_type && !strcmp(format_type, "json_schema")) {
		const cJSON *schema = field(json_schema, "schema");
		cJSON *value = schema ? fake_value(&f, schema, "", 0) : cJSON_CreateObject();
		imperfect_input(cfg, kind_of_name(schema_name), req, value, f.seed, q);
		content = cJSON_PrintUnformatted(value);
		cJSON_Delete(value);
	} else if (format_type && !strcmp(format_type, "json_object")) {
		content = strdup("{}");
	} else {
		char text[128];
		snprintf(text, sizeof text, "Fake answer %08x from the fake API server.", (unsigned)(uint32_t)f.seed);
		content = strdup(text);
	}
	if (!content)
		return NULL;
	long out_tokens = tokens_for(strlen(content));
	cut_short |= max_tokens && out_tokens > max_tokens;
	if (cut_short) {
		content[strlen(content) / 2] = '\0';
		out_tokens = max_tokens ? max_tokens : tokens_for(strlen(content));
	}
	char id[64];
	body_id(id, sizeof id, "chatcmpl-", "chat", body, len);
	cJSON *root = cJSON_CreateObject(), *choice = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "id", id);
	cJSON_AddStringToObject(root, "object", "chat.completion");
	cJSON_AddNumberToObject(root, "created", CREATED_AT);
	cJSON_AddStringToObject(root, "model", cJSON_GetStringValue(field(req, "model")));
	cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "choices"), choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	cJSON *message = cJSON_AddObjectToObject(choice, "message");
	cJSON_AddStringToObject(message, "role", "assistant");
	cJSON_AddStringToObject(message, "content", content);
	cJSON_AddNullToObject(message, "refusal");
	cJSON_AddNullToObject(choice, "logprobs");
	cJSON_AddStringToObject(choice, "finish_reason", cut_short ? "length" : "stop");
	cJSON *usage = cJSON_AddObjectToObject(root, "usage");
	cJSON_AddNumberToObject(usage, "prompt_tokens", (double)tokens_for(prompt_len));
	cJSON_AddNumberToObject(usage, "completion_tokens", (double)out_tokens);
	cJSON_AddNumberToObject(usage, "total_tokens", (double)(tokens_for(prompt_len) + out_tokens));
	free(content);
	char *answer = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return answer;
}

/* Appends bytes as padded RFC 4648 base64, the standard alphabet. */
static void buf_base64(struct buf *b, const unsigned char *bytes, size_t n)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t bits = (uint32_t)bytes[i] << 16 | (i + 1 < n ? (uint32_t)bytes[i + 1] << 8 : 0) |
				(i + 2 < n ? (uint32_t)bytes[i + 2] : 0);
		char quantum[4] = {alphabet[bits >> 18], alphabet[bits >> 12 & 63],
				   i + 1 < n ? alphabet[bits >> 6 & 63] : '=', i + 2 < n ? alphabet[bits & 63] : '='};
		buf_add(b, quantum, sizeof quantum);
	}
}

/* An L2-normalised float32 vector seeded by the text alone, so a text gets the same vector in any batch: a JSON
 * array of numbers with enough digits (%.9g) to parse back to the same float32, or the base64 of those float32s
 * little-endian (as OpenAI sends for encoding_format "base64"), so both decode to bit-identical vectors. */
static void add_vector(struct buf *b, const char *text, long dims, int base64, int bad)
{
	double *v = malloc((size_t)dims * sizeof *v), norm = 0;
	unsigned char *le = malloc((size_t)dims * 4);
	uint64_t state = XXH3_64bits(text, strlen(text));
	if (!v || !le) {
		b->failed = 1;
		free(v);
		free(le);
		return;
	}
	for (long i = 0; i < dims; i++) {
		v[i] = unit_interval(&state) * 2 - 1;
		norm += v[i] * v[i];
	}
	norm = norm > 0 ? sqrt(norm) : 1;
	buf_str(b, base64 ? "\"" : "[");
	for (long i = 0; i < dims; i++) {
		/* bad: 1 an all-zero vector, 2 one of 3e38s: finite floats, but no embedding. */
		float f = bad == 1 ? 0.0f : bad == 2 ? 3e38f : (float)(v[i] / norm);
		uint32_t bits;
		memcpy(&bits, &f, sizeof bits);
		for (int k = 0; k < 4; k++)
			le[4 * i + k] = (unsigned char)(bits >> 8 * k);
		if (!base64)
			buf_printf(b, i ? ",%.9g" : "%.9g", (double)f);
	}
	if (base64)
		buf_base64(b, le, (size_t)dims * 4);
	buf_str(b, base64 ? "\"" : "]");
	free(v);
	free(le);
}

/* Written by hand rather than through a cJSON tree: 2048 x 1536 numbers would be millions of nodes. */
static char *embeddings_answer(const cJSON *req, int cut_short, int shuffle, int bad_vector)
{
	const cJSON *input = field(req, "input"), *dimensions = field(req, "dimensions");
	const char *model = cJSON_GetStringValue(field(req, "model"));
	long dims = dimensions ? (long)dimensions->valuedouble : model_dimensions(model);
	const char *format = cJSON_GetStringValue(field(req, "encoding_format"));
	int base64 = format && !strcmp(format, "base64");
	int n = cJSON_IsString(input) ? 1 : cJSON_GetArraySize(input), count = cut_short ? n - 1 : n;
	long tokens = 0;
	struct buf b = {0};
	buf_str(&b, "{\"object\":\"list\",\"data\":[");
	for (int k = 0; k < count; k++) {
		int i = shuffle ? count - 1 - k : k;
		const char *text = cJSON_IsString(input) ? input->valuestring : cJSON_GetArrayItem(input, i)->valuestring;
		buf_printf(&b, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", k ? "," : "", i);
		add_vector(&b, text, dims, base64, i == 0 ? bad_vector : 0);
		buf_str(&b, "}");
	}
	for (int i = 0; i < n; i++)
		tokens += tokens_for(strlen(cJSON_IsString(input) ? input->valuestring
								   : cJSON_GetArrayItem(input, i)->valuestring));
	cJSON *name = cJSON_CreateString(model);
	char *quoted = cJSON_PrintUnformatted(name);
	cJSON_Delete(name);
	buf_str(&b, "],\"model\":");
	if (quoted)
		buf_str(&b, quoted);
	buf_printf(&b, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}", tokens, tokens);
	if (!quoted || b.failed) {
		free(quoted);
		free(b.data);
		return NULL;
	}
	free(quoted);
	return b.data;
}

/* ---- imperfect answers: what real models send, each a mode, each undone by a correction turn ---- */

enum imperfection {
	IMP_QUOTE_MARKS, IMP_CURLY_APOSTROPHE, IMP_LOST_PERIOD, IMP_DOUBLE_SPACE, IMP_BAD_SCENES, IMP_LONG_SUMMARY,
	IMP_EXTRA_FIELDS, IMP_BAD_UTF8, IMP_DUPLICATE_KEY, IMP_BAD_EMBEDDING, IMPERFECTIONS
};
static const char *const imperfection_name[IMPERFECTIONS] = {
	"quote_marks", "curly_apostrophe", "lost_period", "double_space", "bad_scenes", "long_summary",
	"extra_fields", "bad_utf8", "duplicate_key", "bad_embedding"};

/* What one request's answer gets wrong, decided when it arrives. */
struct quirks {
	int corrected;            /* the request carries a correction turn: answer it right */
	int bad_utf8, duplicate_key;
	int bad_vector;           /* 1: an all-zero vector, 2: a vector of 3e38s */
	unsigned long served[IMPERFECTIONS];
};

/* Whether the request continues a conversation after a refused answer: for Anthropic a tool_result with is_error in
 * the last user turn, for chat an assistant turn followed by the user's correction. */
static int is_correction(enum api api, const cJSON *req)
{
	const cJSON *messages = field(req, "messages"), *block, *message;
	if (api == API_CHAT) {
		cJSON_ArrayForEach(message, messages)
			if (cJSON_IsString(field(message, "role")) && !strcmp(field(message, "role")->valuestring, "assistant"))
				return 1;
		return 0;
	}
	const cJSON *last = cJSON_GetArrayItem(messages, cJSON_GetArraySize(messages) - 1);
	cJSON_ArrayForEach(block, field(last, "content")) {
		const char *type = cJSON_GetStringValue(field(block, "type"));
		if (type && !strcmp(type, "tool_result") && cJSON_IsTrue(field(block, "is_error")))
			return 1;
	}
	return 0;
}

/* The first user message's text: the step's prompt. */
static const char *prompt_of(const cJSON *req)
{
	const cJSON *message;
	cJSON_ArrayForEach(message, field(req, "messages")) {
		const char *role = cJSON_GetStringValue(field(message, "role"));
		if (role && !strcmp(role, "user"))
			return cJSON_GetStringValue(field(message, "content"));
	}
	return NULL;
}

static char *replace_first(const char *s, const char *what, const char *with)
{
	const char *at = strstr(s, what);
	struct buf b = {0};
	if (!at)
		return strdup(s);
	buf_add(&b, s, (size_t)(at - s));
	buf_str(&b, with);
	buf_str(&b, at + strlen(what));
	return b.failed ? NULL : b.data;
}

static char *replace_all(const char *s, const char *what, const char *with)
{
	struct buf b = {0};
	const char *at;
	while ((at = strstr(s, what))) {
		buf_add(&b, s, (size_t)(at - s));
		buf_str(&b, with);
		s = at + strlen(what);
	}
	buf_str(&b, s);
	return b.failed ? NULL : b.data;
}

/* line quoted as a model might: wrapped in curly quotes, with a curly apostrophe, without its final period, or with a
 * doubled space (kind picks; one that does not apply to the line falls to the next). */
static char *misquote(const char *line, int kind, enum imperfection *done)
{
	size_t n = strlen(line);
	for (int k = 0; k < 4; k++, kind = (kind + 1) % 4) {
		*done = (enum imperfection)kind;
		if (kind == IMP_CURLY_APOSTROPHE && strchr(line, '\''))
			return replace_all(line, "'", "\xe2\x80\x99");
		if (kind == IMP_LOST_PERIOD && n > 1 && strchr(".!?", line[n - 1]))
			return strndup(line, n - 1);
		if (kind == IMP_DOUBLE_SPACE && strchr(line, ' '))
			return replace_first(line, " ", "  ");
		if (kind == IMP_QUOTE_MARKS) {
			struct buf b = {0};
			buf_printf(&b, "\xe2\x80\x9c%s\xe2\x80\x9d", line);
			return b.failed ? NULL : b.data;
		}
	}
	return strdup(line);
}

/* A sheet's key lines taken from the prompt ("- LINE" under "lines in it, exactly as written"), up to five distinct
 * ones, a share of them misquoted. */
static void quote_lines(cJSON *input, const char *prompt, double rate, uint64_t seed, int corrected, struct quirks *q)
{
	cJSON *lines = cJSON_CreateArray();
	int count = 0;
	for (const char *p = prompt; p && count < 5 && (p = strstr(p, "\n- ")); ) {
		p += 3;
		size_t n = strcspn(p, "\n");
		char *line = strndup(p, n);
		int repeat = 0;
		const cJSON *have;
		cJSON_ArrayForEach(have, lines)
			repeat |= !strcmp(have->valuestring, line);
		if (!line || repeat || !n) {
			free(line);
			continue;
		}
		uint64_t state = seed + (uint64_t)count;
		char *quoted = line;
		if (!corrected && unit_interval(&state) < rate) {
			enum imperfection done;
			quoted = misquote(line, (int)(splitmix64(&state) % 4), &done);
			q->served[done]++;
			free(line);
		}
		if (quoted)
			cJSON_AddItemToArray(lines, cJSON_CreateString(quoted));
		free(quoted);
		count++;
	}
	cJSON_ReplaceItemInObjectCaseSensitive(input, "key_lines", lines);
	/* Names as a model writes them: the character in title case (the cast spells it in capitals) and someone the
	 * script never names. */
	const char *who = prompt ? strstr(prompt, "Character: ") : NULL;
	cJSON *rels = cJSON_CreateArray();
	if (who) {
		who += strlen("Character: ");
		size_t n = strcspn(who, "\n");
		char *name = strndup(who, n);
		for (size_t i = 1; name && i < n; i++)
			if (name[i - 1] != ' ' && name[i] >= 'A' && name[i] <= 'Z')
				name[i] = (char)(name[i] - 'A' + 'a');
		cJSON *rel = cJSON_CreateObject();
		cJSON_AddStringToObject(rel, "character", name ? name : "");
		cJSON_AddStringToObject(rel, "relation", "the person these lines belong to");
		cJSON_AddItemToArray(rels, rel);
		free(name);
	}
	cJSON *stranger = cJSON_CreateObject();
	cJSON_AddStringToObject(stranger, "character", "The Harbourmaster");
	cJSON_AddStringToObject(stranger, "relation", "a stranger the model made up");
	cJSON_AddItemToArray(rels, stranger);
	cJSON_ReplaceItemInObjectCaseSensitive(input, "relationships", rels);
}

/* Makes an answer generated from the schema as imperfect as the configuration asks; a corrected request gets the
 * structural imperfections (scene numbers, lengths) right, as a model does once told what is wrong. */
static void imperfect_input(const struct config *cfg, enum kind kind, const cJSON *req, cJSON *input, uint64_t seed,
			    struct quirks *q)
{
	if (!cJSON_IsObject(input))
		return;
	uint64_t state = seed ^ 0x5eedULL;
	if (kind == K_SHEET && cfg->quotes >= 0)
		quote_lines(input, prompt_of(req), cfg->quotes, seed, q->corrected, q);
	if (!q->corrected && cfg->bad_scenes > 0 && unit_interval(&state) < cfg->bad_scenes) {
		if (kind == K_SHEET) {
			cJSON_ReplaceItemInObjectCaseSensitive(input, "turning_scenes", cJSON_CreateIntArray((int[]){9999}, 1));
			q->served[IMP_BAD_SCENES]++;
		} else if (kind == K_OUTLINE) {
			cJSON *act = cJSON_GetArrayItem(field(input, "acts"), 0);
			if (act) {
				cJSON_ReplaceItemInObjectCaseSensitive(act, "scenes", cJSON_CreateIntArray((int[]){1, 9999}, 2));
				q->served[IMP_BAD_SCENES]++;
			}
		}
	}
	const char *prompt = prompt_of(req);
	if (!q->corrected && kind == K_SUMMARY && cfg->long_summary[0] && prompt && strstr(prompt, cfg->long_summary)) {
		struct buf b = {0};
		while (!b.failed && b.len < (size_t)cfg->long_summary_chars)
			buf_str(&b, "The scene goes on, and on, and on, well past what anyone asked for. ");
		if (!b.failed) {
			cJSON_ReplaceItemInObjectCaseSensitive(input, "summary", cJSON_CreateString(b.data));
			q->served[IMP_LONG_SUMMARY]++;
		}
		free(b.data);
	}
	if (cfg->extra_fields) {
		cJSON_AddStringToObject(input, "analyser", "fake-model/1");
		cJSON_AddNumberToObject(input, "confidence", 0.87);
		cJSON *act = cJSON_GetArrayItem(field(input, "acts"), 0);
		if (act)
			cJSON_AddStringToObject(act, "notes", "an extra field");
		q->served[IMP_EXTRA_FIELDS]++;
	}
}

/* Inserts with into text at the first occurrence of after's end; NULL when after is absent. */
static char *insert_after(const char *text, const char *after, const char *with)
{
	const char *at = strstr(text, after);
	if (!at)
		return NULL;
	at += strlen(after);
	struct buf b = {0};
	buf_add(&b, text, (size_t)(at - text));
	buf_str(&b, with);
	buf_str(&b, at);
	return b.failed ? NULL : b.data;
}

/* The answer text with its byte-level damage: a cut multi-byte character inside a string, or the tool input's first
 * key given twice (as JSON text: a cJSON tree cannot hold either). */
static char *spoil_text(char *answer, enum api api, const struct quirks *q)
{
	char *out = answer;
	if (out && q->bad_utf8) {
		/* The first two bytes of a three-byte character, then the string goes on: a cut character. */
		char *spoiled = strstr(out, ":\"Fake ") ? insert_after(out, ":\"Fake", "\xe2\x80")
							   : insert_after(out, ":\"", "\xe2\x80");
		if (spoiled) {
			free(out);
			out = spoiled;
		}
	}
	if (out && q->duplicate_key) {
		const char *open = api == API_MESSAGES ? "\"input\":{\"" : "\"content\":\"{\\\"";
		const char *quote = api == API_MESSAGES ? "\"" : "\\\"";
		const char *at = strstr(out, open);
		if (at) {
			at += strlen(open);
			size_t n = strstr(at, quote) ? (size_t)(strstr(at, quote) - at) : 0;
			struct buf dup = {0};
			/* "KEY":"duplicate", before the real "KEY": the same key twice in one object. */
			buf_add(&dup, at, n);
			buf_printf(&dup, "%s:%sduplicate%s,%s", quote, quote, quote, quote);
			char *spoiled = dup.failed ? NULL : insert_after(out, open, dup.data);
			free(dup.data);
			if (spoiled) {
				free(out);
				out = spoiled;
			}
		}
	}
	return out;
}

/* Decides, under the lock, which countdown modes this request's answer gets. */
static void pick_quirks(struct server *s, enum api api, const cJSON *req, struct quirks *q)
{
	memset(q, 0, sizeof *q);
	q->corrected = api != API_EMBEDDINGS && is_correction(api, req);
	pthread_mutex_lock(&s->lock);
	if (q->corrected)
		s->st.corrections++;
	if (api == API_EMBEDDINGS) {
		if (s->cfg.zero_embedding > 0) {
			s->cfg.zero_embedding--;
			q->bad_vector = 1;
		} else if (s->cfg.huge_embedding > 0) {
			s->cfg.huge_embedding--;
			q->bad_vector = 2;
		}
		s->st.imperfect[IMP_BAD_EMBEDDING] += q->bad_vector != 0;
	} else if (s->cfg.bad_utf8 > 0) {
		s->cfg.bad_utf8--;
		q->bad_utf8 = 1;
		s->st.imperfect[IMP_BAD_UTF8]++;
	} else if (s->cfg.duplicate_keys > 0) {
		s->cfg.duplicate_keys--;
		q->duplicate_key = 1;
		s->st.imperfect[IMP_DUPLICATE_KEY]++;
	}
	pthread_mutex_unlock(&s->lock);
}

static void count_served(struct server *s, const struct quirks *q)
{
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < IMPERFECTIONS; i++)
		s->st.imperfect[i] += q->served[i];
	pthread_mutex_unlock(&s->lock);
}

/* Counts the body by digest: a client that resends a byte-identical request shows up in /stats. */
static void note_body(struct server *s, const char *body, size_t len)
{
	XXH128_hash_t d = XXH3_128bits(body, len);
	pthread_mutex_lock(&s->lock);
	size_t i = 0;
	while (i < s->nbodies && !XXH128_isEqual(s->bodies[i].digest, d))
		i++;
	if (i < s->nbodies) {
		s->bodies[i].count++;
		s->st.bodies_repeated++;
		if (s->bodies[i].count - 1 > s->st.max_repeats)
			s->st.max_repeats = s->bodies[i].count - 1;
	} else {
		struct body_seen *grown = grow(s->bodies, &s->capbodies, s->nbodies + 1, sizeof *grown);
		if (grown)
			s->bodies = grown;
		if (s->nbodies < s->capbodies)
			s->bodies[s->nbodies++] = (struct body_seen){d, 1};
	}
	if (s->cfg.request_log[0]) {
		FILE *f = fopen(s->cfg.request_log, "a");
		if (f) {
			fwrite(body, 1, len, f);
			fputc('\n', f);
			fclose(f);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/* OpenAI's answer to an input beyond the model's context: the whole request is refused. */
static int check_input_tokens(const cJSON *req, long limit, struct api_error *e)
{
	const cJSON *input = field(req, "input"), *item;
	if (limit <= 0)
		return 0;
	cJSON_ArrayForEach(item, (cJSON_IsString(input) ? NULL : input)) {
		long tokens = tokens_for(strlen(item->valuestring));
		if (tokens > limit)
			return BAD_OPENAI(e, NULL, NULL, "This model's maximum context length is %ld tokens, however you "
					  "requested %ld tokens (%ld in your prompt; 0 for the completion). Please reduce your "
					  "prompt; or completion length.", limit, tokens, tokens);
	}
	if (cJSON_IsString(input) && tokens_for(strlen(input->valuestring)) > limit)
		return BAD_OPENAI(e, NULL, NULL, "This model's maximum context length is %ld tokens, however you requested "
				  "%ld tokens. Please reduce your prompt; or completion length.", limit,
				  tokens_for(strlen(input->valuestring)));
	return 0;
}

/* ---- options: the same names on the command line and in POST /control ---- */

static int parse_long(const char *text, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_bool(const char *text, int *out)
{
	if (name_in(text, (const char *const[]){"1", "true", "yes", "on", NULL}))
		*out = 1;
	else if (name_in(text, (const char *const[]){"0", "false", "no", "off", NULL}))
		*out = 0;
	else
		return -1;
	return 0;
}

/* "summary=200,outline=500,...", or one number for every kind. */
static int parse_latency(struct config *cfg, const char *text, char *err, size_t errlen)
{
	long ms;
	if (!parse_long(text, 0, 3600000, &ms)) {
		for (int k = 0; k < KINDS; k++)
			cfg->latency_ms[k] = (int)ms;
		return 0;
	}
	const char *p = text;
	while (*p) {
		size_t n = strcspn(p, ","), eq = strcspn(p, "=");
		char value[32];
		int k = 0;
		while (k < KINDS && !(eq < n && strlen(kind_name[k]) == eq && !strncmp(p, kind_name[k], eq)))
			k++;
		snprintf(value, sizeof value, "%.*s", eq < n ? (int)(n - eq - 1) : 0, eq < n ? p + eq + 1 : "");
		if (k == KINDS || n - eq > sizeof value || parse_long(value, 0, 3600000, &ms)) {
			snprintf(err, errlen, "latency '%.80s' is not KIND=MS[,KIND=MS...] with KIND one of summary, outline, "
				 "sheet, embedding, other (or one number of milliseconds for every kind)", text);
			return -1;
		}
		cfg->latency_ms[k] = (int)ms;
		p += n + (p[n] == ',');
	}
	return 0;
}

/* "429,529,..." or "" / "all" for every fault kind. */
static int parse_faults(struct config *cfg, const char *text, char *err, size_t errlen)
{
	int faults[FAULTS], n = 0;
	if (!*text || !strcmp(text, "all")) {
		for (int k = 0; k < FAULTS; k++)
			cfg->faults[k] = k;
		cfg->nfaults = FAULTS;
		return 0;
	}
	for (const char *p = text; *p; ) {
		size_t len = strcspn(p, ",");
		int k = 0;
		while (k < FAULTS && !(strlen(fault_name[k]) == len && !strncmp(p, fault_name[k], len)))
			k++;
		if (k == FAULTS || n == FAULTS) {
			snprintf(err, errlen, "faults '%.80s': each must be one of 429, 529, 500, reset, timeout, malformed, "
				 "truncated, max_tokens (comma-separated, each once)", text);
			return -1;
		}
		faults[n++] = k;
		p += len + (p[len] == ',');
	}
	memcpy(cfg->faults, faults, sizeof faults);
	cfg->nfaults = n;
	return 0;
}

/* ---- bloated answers: --gzip-bomb-mb, --padded-mb, --bloat-count ---- */

static void set_bloat_option(struct config *cfg, const char *name, long n)
{
	if (!strcmp(name, "bloat-count")) {
		cfg->bloat_count = n;
		cfg->bloat_counted = 1;
	} else {
		*(!strcmp(name, "gzip-bomb-mb") ? &cfg->gzip_bomb_mb : &cfg->padded_mb) = n;
	}
}

static int set_option(struct config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
	long n;
	int flag;
	char *end;
	int mine = promptcache_option(&cfg->prompt_cache, name, value, err, errlen);
	if (mine != PROMPTCACHE_NOT_MINE)
		return mine;
	if (!strcmp(name, "latency"))
		return parse_latency(cfg, value, err, errlen);
	if (!strcmp(name, "faults"))
		return parse_faults(cfg, value, err, errlen);
	if (!strcmp(name, "fault-rate")) {
		double rate = strtod(value, &end);
		if (end == value || *end || !(rate >= 0 && rate <= 1))
			goto bad;
		cfg->fault_rate = rate;
	} else if (!strcmp(name, "jitter")) {
		if (parse_long(value, 0, 600000, &n))
			goto bad;
		cfg->jitter_ms = n;
	} else if (!strcmp(name, "rpm") || !strcmp(name, "itpm") || !strcmp(name, "otpm") || !strcmp(name, "tpm")) {
		if (parse_long(value, 0, 1000000000000L, &n))
			goto bad;
		cfg->rate[!strcmp(name, "rpm") ? R_REQUESTS : !strcmp(name, "itpm") ? R_INPUT
			  : !strcmp(name, "otpm") ? R_OUTPUT : R_TOKENS] = n;
	} else if (!strcmp(name, "burst-ms")) {
		if (parse_long(value, 1, 3600000, &n))
			goto bad;
		cfg->burst_ms = n;
	} else if (!strcmp(name, "overdraft") || !strcmp(name, "rate-headers")) {
		if (parse_bool(value, &flag))
			goto bad;
		*(!strcmp(name, "overdraft") ? &cfg->overdraft : &cfg->rate_headers) = flag;
	} else if (!strcmp(name, "fail-first") || !strcmp(name, "max-concurrency") || !strcmp(name, "timeout-sleep-ms")) {
		if (parse_long(value, 0, 100000000, &n))
			goto bad;
		*(!strcmp(name, "fail-first") ? &cfg->fail_first
		  : !strcmp(name, "max-concurrency") ? &cfg->max_concurrency : &cfg->timeout_sleep_ms) = n;
	} else if (!strcmp(name, "quotes") || !strcmp(name, "bad-scenes")) {
		double rate = strtod(value, &end);
		if (end == value || *end || !(rate >= (!strcmp(name, "quotes") ? -1 : 0) && rate <= 1))
			goto bad;
		*(!strcmp(name, "quotes") ? &cfg->quotes : &cfg->bad_scenes) = rate;
	} else if (!strcmp(name, "bad-utf8") || !strcmp(name, "duplicate-keys") || !strcmp(name, "zero-embedding") ||
		   !strcmp(name, "huge-embedding") || !strcmp(name, "embed-max-input-tokens") ||
		   !strcmp(name, "long-summary-chars")) {
		if (parse_long(value, 0, 100000000, &n))
			goto bad;
		*(!strcmp(name, "bad-utf8") ? &cfg->bad_utf8 : !strcmp(name, "duplicate-keys") ? &cfg->duplicate_keys
		  : !strcmp(name, "zero-embedding") ? &cfg->zero_embedding : !strcmp(name, "huge-embedding")
		  ? &cfg->huge_embedding : !strcmp(name, "embed-max-input-tokens") ? &cfg->embed_max_input_tokens
		  : &cfg->long_summary_chars) = n;
	} else if (!strcmp(name, "extra-fields")) {
		if (parse_bool(value, &flag))
			goto bad;
		cfg->extra_fields = flag;
	} else if (!strcmp(name, "long-summary") || !strcmp(name, "request-log")) {
		char *to = !strcmp(name, "long-summary") ? cfg->long_summary : cfg->request_log;
		size_t cap = !strcmp(name, "long-summary") ? sizeof cfg->long_summary : sizeof cfg->request_log;
		if (strlen(value) >= cap)
			goto bad;
		strcpy(to, value);
	} else if (!strcmp(name, "seed")) {
		errno = 0;
		unsigned long long seed = strtoull(value, &end, 10);
		if (errno || end == value || *end)
			goto bad;
		cfg->seed = seed;
	} else if (!strcmp(name, "vary-lengths")) {
		if (parse_bool(value, &cfg->vary_lengths))
			goto bad;
	} else if (!strcmp(name, "quota") || !strcmp(name, "shuffle-embeddings") || !strcmp(name, "verbose")
		   || !strcmp(name, "echo-key")) {
		if (parse_bool(value, &flag))
			goto bad;
		*(!strcmp(name, "quota") ? &cfg->quota : !strcmp(name, "verbose") ? &cfg->verbose
		  : !strcmp(name, "echo-key") ? &cfg->echo_key : &cfg->shuffle_embeddings) = flag;
	} else if (!strcmp(name, "should-retry")) {
		if (!name_in(value, (const char *const[]){"", "true", "false", NULL}))
			goto bad;
		snprintf(cfg->should_retry, sizeof cfg->should_retry, "%s", value);
	} else if (!strcmp(name, "anthropic-key") || !strcmp(name, "openai-key")) {
		char *key = !strcmp(name, "anthropic-key") ? cfg->anthropic_key : cfg->openai_key;
		if (strlen(value) >= sizeof cfg->anthropic_key) {
			snprintf(err, errlen, "%s: a key may have at most %zu bytes", name, sizeof cfg->anthropic_key - 1);
			return -1;
		}
		strcpy(key, value);
	} else if (!strcmp(name, "gzip-bomb-mb") || !strcmp(name, "padded-mb") || !strcmp(name, "bloat-count")) {
		if (parse_long(value, 0, 100000, &n))
			goto bad;
		set_bloat_option(cfg, name, n);
	} else {
		enum fake_batch_option batch = fake_batch_option(&cfg->batch, name, value, err, errlen);
		if (batch != FAKE_BATCH_NOT_MINE)
			return batch == FAKE_BATCH_SET ? 0 : -1;
		snprintf(err, errlen, "unknown option '%.64s' (see README \"The fake API server\")", name);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s: bad value '%.64s' (see README \"The fake API server\")", name, value);
	return -1;
}

static cJSON *config_json(const struct config *cfg)
{
	cJSON *root = cJSON_CreateObject(), *latency = cJSON_AddObjectToObject(root, "latency");
	for (int k = 0; k < KINDS; k++)
		cJSON_AddNumberToObject(latency, kind_name[k], cfg->latency_ms[k]);
	cJSON_AddNumberToObject(root, "max-concurrency", (double)cfg->max_concurrency);
	cJSON_AddNumberToObject(root, "fault-rate", cfg->fault_rate);
	cJSON *faults = cJSON_AddArrayToObject(root, "faults");
	for (int k = 0; k < cfg->nfaults; k++)
		cJSON_AddItemToArray(faults, cJSON_CreateString(fault_name[cfg->faults[k]]));
	cJSON_AddNumberToObject(root, "fail-first", (double)cfg->fail_first);
	cJSON_AddNumberToObject(root, "seed", (double)cfg->seed);
	cJSON_AddNumberToObject(root, "timeout-sleep-ms", (double)cfg->timeout_sleep_ms);
	cJSON_AddBoolToObject(root, "quota", cfg->quota);
	cJSON_AddBoolToObject(root, "shuffle-embeddings", cfg->shuffle_embeddings);
	cJSON_AddBoolToObject(root, "echo-key", cfg->echo_key);
	cJSON_AddNumberToObject(root, "jitter", (double)cfg->jitter_ms);
	cJSON_AddBoolToObject(root, "vary-lengths", cfg->vary_lengths);
	cJSON_AddStringToObject(root, "should-retry", cfg->should_retry);
	cJSON_AddBoolToObject(root, "verbose", cfg->verbose);
	cJSON_AddNumberToObject(root, "quotes", cfg->quotes);
	cJSON_AddNumberToObject(root, "bad-scenes", cfg->bad_scenes);
	cJSON_AddNumberToObject(root, "bad-utf8", (double)cfg->bad_utf8);
	cJSON_AddNumberToObject(root, "duplicate-keys", (double)cfg->duplicate_keys);
	cJSON_AddBoolToObject(root, "extra-fields", cfg->extra_fields);
	cJSON_AddStringToObject(root, "long-summary", cfg->long_summary);
	cJSON_AddNumberToObject(root, "long-summary-chars", (double)cfg->long_summary_chars);
	cJSON_AddNumberToObject(root, "zero-embedding", (double)cfg->zero_embedding);
	cJSON_AddNumberToObject(root, "huge-embedding", (double)cfg->huge_embedding);
	cJSON_AddNumberToObject(root, "embed-max-input-tokens", (double)cfg->embed_max_input_tokens);
	cJSON_AddNumberToObject(root, "rpm", (double)cfg->rate[R_REQUESTS]);
	cJSON_AddNumberToObject(root, "itpm", (double)cfg->rate[R_INPUT]);
	cJSON_AddNumberToObject(root, "otpm", (double)cfg->rate[R_OUTPUT]);
	cJSON_AddNumberToObject(root, "tpm", (double)cfg->rate[R_TOKENS]);
	cJSON_AddNumberToObject(root, "burst-ms", (double)cfg->burst_ms);
	cJSON_AddBoolToObject(root, "overdraft", cfg->overdraft);
	cJSON_AddBoolToObject(root, "rate-headers", cfg->rate_headers);
	fake_batch_config_json(&cfg->batch, root);
	return root;
}

/* ---- replies ---- */

struct reply {
	unsigned status;
	char *body;               /* malloc'd */
	size_t body_len;          /* 0: strlen(body) (a gzip body holds NULs) */
	enum { SEND_ALL, SEND_HALF, SEND_NOTHING } how;
	int nheaders;
	struct {
		char name[64];      /* anthropic-ratelimit-output-tokens-remaining is 43 */
		char value[80];
	} header[MAX_HEADERS];
};

static void add_header(struct reply *r, const char *name, const char *fmt, ...)
{
	if (r->nheaders == MAX_HEADERS)
		return;
	va_list ap;
	snprintf(r->header[r->nheaders].name, sizeof r->header[0].name, "%s", name);
	va_start(ap, fmt);
	vsnprintf(r->header[r->nheaders].value, sizeof r->header[0].value, fmt, ap);
	va_end(ap);
	r->nheaders++;
}

static void set_body(struct reply *r, unsigned status, char *body)
{
	free(r->body);
	r->body_len = 0;
	r->status = body ? status : 500;
	r->body = body ? body : strdup("{\"error\":{\"message\":\"fake API server: out of memory\",\"type\":\"api_error\"}}");
}

/* The rate-limit and request-id headers each API documents. */
static void api_headers(struct reply *r, enum api api, const char *request_id, int limited)
{
	if (api == API_MESSAGES) {
		char reset[32];
		time_t at = time(NULL) + 1;
		struct tm tm;
		strftime(reset, sizeof reset, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&at, &tm));
		add_header(r, "request-id", "%s", request_id);
		add_header(r, "anthropic-ratelimit-requests-limit", "%d", REQUESTS_PER_MINUTE);
		add_header(r, "anthropic-ratelimit-requests-remaining", "%d", limited ? 0 : REQUESTS_PER_MINUTE - 1);
		add_header(r, "anthropic-ratelimit-requests-reset", "%s", reset);
	} else {
		add_header(r, "x-request-id", "%s", request_id);
		add_header(r, "x-ratelimit-limit-requests", "%d", REQUESTS_PER_MINUTE);
		add_header(r, "x-ratelimit-remaining-requests", "%d", limited ? 0 : REQUESTS_PER_MINUTE - 1);
		add_header(r, "x-ratelimit-reset-requests", "%s", limited ? "1s" : "15ms");
	}
}

/* An injected 429 / 529 / 500, or the concurrency cap's 429, in the API's own terms. */
static void injected_error(struct reply *r, enum api api, enum fault fault, const struct config *cfg,
			   const char *request_id, int cap)
{
	struct api_error e = {0};
	int anthropic = api == API_MESSAGES;
	if (fault == F_429 && cap)
		reject(&e, 429, anthropic ? "rate_limit_error" : "requests", NULL, anthropic ? NULL : "rate_limit_exceeded",
		       "Too many concurrent requests: this server accepts %ld at a time. Retry after the time in the "
		       "retry-after header.", cfg->max_concurrency);
	else if (fault == F_429)
		reject(&e, 429, anthropic ? "rate_limit_error" : "requests", NULL, anthropic ? NULL : "rate_limit_exceeded",
		       "This request would exceed your rate limit of %d requests per minute. Retry after the time in the "
		       "retry-after header.", REQUESTS_PER_MINUTE);
	else if (fault == F_529 && anthropic)
		reject(&e, 529, "overloaded_error", NULL, NULL, "Overloaded");
	else if (fault == F_529)   /* OpenAI signals overload with 503 */
		reject(&e, 503, "server_error", NULL, NULL, "The server is overloaded; please try again later.");
	else
		reject(&e, 500, anthropic ? "api_error" : "server_error", NULL, NULL,
		       "The server had an error while processing your request.");
	set_body(r, e.status, error_json(api, &e, request_id));
	api_headers(r, api, request_id, fault == F_429);
	if (fault == F_429) {
		add_header(r, "retry-after", "1");
		add_header(r, "retry-after-ms", "%d", cap ? 50 : 20);
	}
	if (*cfg->should_retry)
		add_header(r, "x-should-retry", "%s", cfg->should_retry);
}

static void quota_error(struct reply *r, enum api api, const char *request_id)
{
	struct api_error e = {0};
	if (api == API_MESSAGES)
		reject(&e, 429, "rate_limit_error", NULL, "enforced_spend_limit_reached", "Your organization has reached its "
		       "monthly spend limit. API access resumes at the start of next month or when the limit is raised "
		       "in the Console.");
	else
		reject(&e, 429, "insufficient_quota", NULL, "insufficient_quota", "You exceeded your current quota, please "
		       "check your plan and billing details.");
	set_body(r, 429, error_json(api, &e, request_id));
	api_headers(r, api, request_id, 1);
}

/* ---- rate limits ----
 *
 * Each (API, model) has a token bucket per limit, as the providers enforce them: --rpm counts requests (both APIs),
 * --itpm the prompt's input tokens and --otpm max_tokens charged up front (Anthropic), --tpm the prompt plus max_tokens
 * (OpenAI). A bucket holds --burst-ms of its minute and refills continuously. A request that does not fit gets the
 * API's own 429 with retry-after; with --overdraft it is admitted anyway and counted as a violation. Every answer then
 * carries the real headers: anthropic-ratelimit-{requests,input-tokens,output-tokens}-{limit,remaining,reset} (reset
 * an RFC 3339 time) or x-ratelimit-{limit,remaining,reset}-{requests,tokens} (reset a duration such as 6m0s, 20ms). */

static int64_t clock_ms(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A Messages answer with its usage split as the prompt cache would bill it (cache reads and writes of the request's
 * cached prefix), when the prompt cache mode is on; the answer as it is otherwise. */
static char *with_cache_usage(const struct config *cfg, const cJSON *req, char *answer)
{
	if (!answer || !cfg->prompt_cache.enabled)
		return answer;
	cJSON *parsed = cJSON_Parse(answer);
	const cJSON *in = field(field(parsed, "usage"), "input_tokens");
	struct promptcache_usage pu;
	promptcache_account(&cfg->prompt_cache, req, cJSON_IsNumber(in) ? (long)in->valuedouble : 0,
			    clock_ms(CLOCK_MONOTONIC), 0, &pu);
	cJSON_Delete(parsed);
	return promptcache_usage_into(answer, &pu);
}

static int rate_applies(enum api api, enum rate r)
{
	if (r == R_REQUESTS)
		return 1;
	return api == API_MESSAGES ? r == R_INPUT || r == R_OUTPUT : r == R_TOKENS;
}

static int rate_configured(const struct config *cfg, enum api api)
{
	for (int r = 0; r < RATES; r++)
		if (cfg->rate[r] > 0 && rate_applies(api, (enum rate)r))
			return 1;
	return 0;
}

static double rate_capacity(const struct config *cfg, enum rate r)
{
	double c = (double)cfg->rate[r] * (double)cfg->burst_ms / 60000.0;
	return c < 1 ? 1 : c;
}

/* The buckets of (api, model) refilled to now, made full on first use; NULL when the table is full. Lock held. */
static struct rate_bucket *rate_bucket(struct server *s, const struct config *cfg, enum api api, const char *model,
				       int64_t now)
{
	struct rate_bucket *b = NULL, *free_slot = NULL;
	for (int i = 0; i < MAX_RATE_BUCKETS && !b; i++) {
		struct rate_bucket *x = &s->buckets[i];
		if (x->used && x->api == (int)api && !strcmp(x->model, model))
			b = x;
		else if (!x->used && !free_slot)
			free_slot = x;
	}
	if (!b) {
		if (!(b = free_slot))
			return NULL;
		memset(b, 0, sizeof *b);
		b->used = 1;
		b->api = (int)api;
		snprintf(b->model, sizeof b->model, "%s", model);
		for (int r = 0; r < RATES; r++)
			b->level[r] = rate_capacity(cfg, (enum rate)r);
		b->at_ms = now;
	}
	for (int r = 0; r < RATES; r++) {
		double cap = rate_capacity(cfg, (enum rate)r);
		double level = b->level[r] + (double)cfg->rate[r] / 60000.0 * (double)(now - b->at_ms);
		b->level[r] = level < cap ? level : cap;
	}
	b->at_ms = now;
	return b;
}

/* A request's input tokens, counted as its usage will report them (the providers charge the input-token limits what
 * usage says: the prompt, not the output budget; for embeddings, the inputs alone). */
static double rate_input_tokens(enum api api, const cJSON *req, size_t len)
{
	const cJSON *input = field(req, "input");
	if (api == API_EMBEDDINGS && (cJSON_IsString(input) || cJSON_IsArray(input))) {
		long tokens = 0;
		if (cJSON_IsString(input))
			return (double)tokens_for(strlen(input->valuestring));
		for (const cJSON *item = input->child; item; item = item->next)
			tokens += cJSON_IsString(item) ? tokens_for(strlen(item->valuestring)) : 0;
		return (double)tokens;
	}
	/* The prompt the answer's usage counts: a Messages request without its cache markers (the answer is made from
	 * promptcache_plain), without the output budget. */
	cJSON *copy = api == API_MESSAGES ? promptcache_plain(req) : NULL;
	if (!copy)
		copy = cJSON_Duplicate(req, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "max_tokens");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "max_completion_tokens");
	char *text = copy ? cJSON_PrintUnformatted(copy) : NULL;
	size_t prompt_len = text ? strlen(text) : len;   /* as answer_seed measures it for usage */
	cJSON_Delete(copy);
	free(text);
	return (double)tokens_for(prompt_len);
}

/* What a request costs in each limit: one request; its input tokens as its usage will say; max_tokens up front. */
static void rate_cost(enum api api, const cJSON *req, size_t len, double cost[RATES])
{
	const cJSON *max = field(req, "max_completion_tokens") ? field(req, "max_completion_tokens")
							       : field(req, "max_tokens");
	double input = rate_input_tokens(api, req, len), output = cJSON_IsNumber(max) ? max->valuedouble : 0;
	memset(cost, 0, RATES * sizeof *cost);
	cost[R_REQUESTS] = 1;
	if (api == API_MESSAGES) {
		cost[R_INPUT] = input;
		cost[R_OUTPUT] = output;
	} else {
		cost[R_TOKENS] = input + output;
	}
}

/* Charges cost to the buckets of (api, model): 1 when admitted; 0 with *short_of the limit that lacks room and
 * *wait_ms until it has it (nothing charged). A cost larger than a bucket fits a full one. */
static int rate_admit(struct server *s, const struct config *cfg, enum api api, const char *model,
		      const double cost[RATES], enum rate *short_of, long *wait_ms)
{
	int64_t now = clock_ms(CLOCK_MONOTONIC);
	double wait = 0;
	*short_of = RATES;
	pthread_mutex_lock(&s->lock);
	struct rate_bucket *b = rate_bucket(s, cfg, api, model, now);
	for (int r = 0; b && r < RATES; r++) {
		if (cfg->rate[r] <= 0 || !rate_applies(api, (enum rate)r) || cost[r] <= 0)
			continue;
		double cap = rate_capacity(cfg, (enum rate)r), need = cost[r] < cap ? cost[r] : cap;
		if (b->level[r] < need) {
			double w = ceil((need - b->level[r]) / ((double)cfg->rate[r] / 60000.0));
			if (w > wait) {
				wait = w;
				*short_of = (enum rate)r;
			}
		}
	}
	int admit = *short_of == RATES || cfg->overdraft;
	if (*short_of != RATES) {
		if (cfg->overdraft)
			s->st.violations++;
		else
			s->st.rate_limited++;
	}
	if (b && admit) {
		if (!b->first_ms)
			b->first_ms = now;
		b->last_ms = now;
	}
	for (int r = 0; b && admit && r < RATES; r++)
		if (cfg->rate[r] > 0 && rate_applies(api, (enum rate)r)) {
			b->level[r] -= cost[r];
			b->charged[r] += cost[r];
		}
	pthread_mutex_unlock(&s->lock);
	*wait_ms = (long)wait;
	return admit;
}

/* A reset duration as OpenAI writes one: "20ms", "1.5s", "6m0s". */
static void format_duration(char *out, size_t size, int64_t ms)
{
	if (ms < 1000)
		snprintf(out, size, "%lldms", (long long)ms);
	else if (ms < 60000)
		snprintf(out, size, "%gs", (double)ms / 1000.0);
	else
		snprintf(out, size, "%lldm%gs", (long long)(ms / 60000), (double)(ms % 60000) / 1000.0);
}

/* Replaces a reply's rate-limit headers with the buckets' state for (api, model) in the API's names and formats
 * (with --rate-headers false, removes them: a proxy or a local server that enforces limits without saying so). */
static void rate_headers(struct server *s, const struct config *cfg, struct reply *rp, enum api api, const char *model)
{
	static const char *const anthropic[RATES] = {"requests", "input-tokens", "output-tokens", NULL};
	int keep = 0;
	for (int i = 0; i < rp->nheaders; i++)
		if (strncmp(rp->header[i].name, "anthropic-ratelimit-", 20) && strncmp(rp->header[i].name, "x-ratelimit-", 12))
			rp->header[keep++] = rp->header[i];
	rp->nheaders = keep;
	if (!cfg->rate_headers)
		return;
	int64_t now = clock_ms(CLOCK_MONOTONIC), wall = clock_ms(CLOCK_REALTIME);
	double level[RATES];
	pthread_mutex_lock(&s->lock);
	struct rate_bucket *b = rate_bucket(s, cfg, api, model, now);
	if (b)
		memcpy(level, b->level, sizeof level);
	pthread_mutex_unlock(&s->lock);
	for (int r = 0; b && r < RATES; r++) {
		if (cfg->rate[r] <= 0 || !rate_applies(api, (enum rate)r))
			continue;
		double cap = rate_capacity(cfg, (enum rate)r), left = level[r] > 0 ? floor(level[r]) : 0;
		int64_t reset = (int64_t)ceil((cap - level[r]) / ((double)cfg->rate[r] / 60000.0));
		char name[64], when[48];
		if (reset < 0)
			reset = 0;
		if (api == API_MESSAGES) {
			time_t secs = (time_t)((wall + reset) / 1000);
			struct tm tm;
			char stamp[32];
			strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", gmtime_r(&secs, &tm));
			snprintf(when, sizeof when, "%s.%03dZ", stamp, (int)((wall + reset) % 1000));
			snprintf(name, sizeof name, "anthropic-ratelimit-%s-limit", anthropic[r]);
			add_header(rp, name, "%ld", cfg->rate[r]);
			snprintf(name, sizeof name, "anthropic-ratelimit-%s-remaining", anthropic[r]);
			add_header(rp, name, "%.0f", left);
			snprintf(name, sizeof name, "anthropic-ratelimit-%s-reset", anthropic[r]);
			add_header(rp, name, "%s", when);
		} else {
			const char *what = r == R_REQUESTS ? "requests" : "tokens";
			format_duration(when, sizeof when, reset);
			snprintf(name, sizeof name, "x-ratelimit-limit-%s", what);
			add_header(rp, name, "%ld", cfg->rate[r]);
			snprintf(name, sizeof name, "x-ratelimit-remaining-%s", what);
			add_header(rp, name, "%.0f", left);
			snprintf(name, sizeof name, "x-ratelimit-reset-%s", what);
			add_header(rp, name, "%s", when);
		}
	}
}

/* The 429 a rate limit answers with, in the API's words, with the wait in retry-after (and retry-after-ms). */
static void rate_refusal(struct reply *rp, enum api api, const struct config *cfg, const char *request_id,
			 const char *model, enum rate short_of, long wait_ms)
{
	static const char *const words[RATES] = {"requests", "input tokens", "output tokens", "tokens"};
	struct api_error e = {0};
	if (api == API_MESSAGES)
		reject(&e, 429, "rate_limit_error", NULL, NULL, "This request would exceed your organization's rate limit of "
		       "%ld %s per minute (model %.64s). Retry after the time in the retry-after header.",
		       cfg->rate[short_of], words[short_of], model);
	else
		reject(&e, 429, short_of == R_REQUESTS ? "requests" : "tokens", NULL, "rate_limit_exceeded",
		       "Rate limit reached for %.64s on %s per min: Limit %ld. Please try again in %ldms.", model,
		       words[short_of], cfg->rate[short_of], wait_ms);
	set_body(rp, 429, error_json(api, &e, request_id));
	add_header(rp, api == API_MESSAGES ? "request-id" : "x-request-id", "%s", request_id);
	add_header(rp, "retry-after", "%ld", (wait_ms + 999) / 1000);
	add_header(rp, "retry-after-ms", "%ld", wait_ms);
}

/* The buckets for /stats: what each charged since the last reset, so that a bench can compute its bound. */
static void rate_stats(struct server *s, cJSON *root, const struct stats *st)
{
	cJSON *limits = cJSON_AddObjectToObject(root, "rate_limits"), *list = cJSON_CreateArray();
	cJSON_AddNumberToObject(limits, "limited", (double)st->rate_limited);
	cJSON_AddNumberToObject(limits, "violations", (double)st->violations);
	cJSON_AddItemToObject(limits, "buckets", list);
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < MAX_RATE_BUCKETS; i++) {
		const struct rate_bucket *b = &s->buckets[i];
		for (int r = 0; b->used && r < RATES; r++) {
			if (s->cfg.rate[r] <= 0 || !rate_applies((enum api)b->api, (enum rate)r))
				continue;
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "api", api_name[b->api]);
			cJSON_AddStringToObject(o, "model", b->model);
			cJSON_AddStringToObject(o, "limit", rate_name[r]);
			cJSON_AddNumberToObject(o, "per_minute", (double)s->cfg.rate[r]);
			cJSON_AddNumberToObject(o, "capacity", rate_capacity(&s->cfg, (enum rate)r));
			cJSON_AddNumberToObject(o, "charged", b->charged[r]);
			cJSON_AddNumberToObject(o, "span_s", (double)(b->last_ms - b->first_ms) / 1000.0);
			cJSON_AddItemToArray(list, o);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- the API endpoints ---- */

static int authenticate(enum api api, struct MHD_Connection *c, const struct config *cfg, struct api_error *e)
{
	if (api == API_MESSAGES) {
		const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-api-key");
		const char *version = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "anthropic-version");
		const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "content-type");
		if (!key || !*key)
			return reject(e, 401, "authentication_error", NULL, NULL, "x-api-key header is required");
		if (*cfg->anthropic_key && strcmp(key, cfg->anthropic_key))
			return reject(e, 401, "authentication_error", NULL, NULL, "invalid x-api-key");
		if (!version)
			return BAD_ANTHROPIC(e, "anthropic-version: header is required");
		if (strcmp(version, "2023-06-01"))
			return BAD_ANTHROPIC(e, "anthropic-version: '%.32s' is not a valid version; send 2023-06-01", version);
		if (!type || strncasecmp(type, "application/json", 16) || (type[16] && type[16] != ';' && type[16] != ' '))
			return BAD_ANTHROPIC(e, "content-type: must be application/json");
		return 0;
	}
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "authorization");
	if (!auth || strncasecmp(auth, "Bearer ", 7) || !auth[7])
		return reject(e, 401, "invalid_request_error", NULL, "invalid_api_key", "You didn't provide an API key. "
			      "Send it in an Authorization header using Bearer auth (Authorization: Bearer YOUR_KEY).");
	if (*cfg->openai_key && strcmp(auth + 7, cfg->openai_key))
		return reject(e, 401, "invalid_request_error", NULL, "invalid_api_key", "Incorrect API key provided. You can "
			      "find your API key at https://platform.openai.com/account/api-keys.");
	return 0;
}

/* --jitter: an extra wait drawn from the seeded generator, so that answers come back in another order than the
 * requests went out (as a real service's do), yet the same seed replays the same waits in the same order. */
static long jitter_of(struct server *s, const struct config *cfg)
{
	if (cfg->jitter_ms <= 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	long ms = (long)(splitmix64(&s->rng) % (uint64_t)(cfg->jitter_ms + 1));
	pthread_mutex_unlock(&s->lock);
	return ms;
}

/* Takes a slot under the concurrency cap; 0 when the cap is full. */
static int admit(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	int ok = !s->cfg.max_concurrency || s->st.in_flight < s->cfg.max_concurrency;
	if (ok && ++s->st.in_flight > s->st.max_concurrency)
		s->st.max_concurrency = s->st.in_flight;
	if (!ok)
		s->st.cap++;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static void release(struct server *s, int ok)
{
	pthread_mutex_lock(&s->lock);
	s->st.in_flight--;
	s->st.ok += (unsigned long)ok;
	pthread_mutex_unlock(&s->lock);
}

/* The first fail-first requests get the listed faults in turn; after that each gets one with probability rate. */
static enum fault pick_fault(struct server *s)
{
	enum fault fault = F_NONE;
	pthread_mutex_lock(&s->lock);
	const struct config *cfg = &s->cfg;
	if (s->scheduled < cfg->fail_first)
		fault = (enum fault)cfg->faults[s->scheduled % cfg->nfaults];
	else if (cfg->fault_rate > 0 && unit_interval(&s->rng) < cfg->fault_rate)
		fault = (enum fault)cfg->faults[splitmix64(&s->rng) % (uint64_t)cfg->nfaults];
	s->scheduled++;
	if (fault != F_NONE)
		s->st.faults[fault]++;
	pthread_mutex_unlock(&s->lock);
	return fault;
}

/* --echo-key: the caller's key (x-api-key, or Authorization's bearer token) put at the start of the answer's summary
 * text, where a model that was shown the key in a prompt might repeat it. Works on the tool input of a Messages
 * answer and on the JSON string of a chat answer alike: both hold `summary` then `":"` (escaped or not). */
static char *with_key_echoed(char *answer, struct MHD_Connection *c, enum api api)
{
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, api == API_MESSAGES ? "x-api-key"
											       : "Authorization");
	if (!answer || !key)
		return answer;
	if (api != API_MESSAGES && !strncmp(key, "Bearer ", 7))
		key += 7;
	char *at = strstr(answer, "\"summary\":\"");
	size_t skip = 11;
	if (!at) {
		at = strstr(answer, "summary\\\":\\\"");
		skip = 12;
	}
	if (!at)
		return answer;
	size_t head = (size_t)(at - answer) + skip, klen = strlen(key), len = strlen(answer);
	char *out = malloc(len + klen + 2);
	if (!out)
		return answer;
	memcpy(out, answer, head);
	memcpy(out + head, key, klen);
	out[head + klen] = ' ';
	memcpy(out + head + klen + 1, answer + head, len - head + 1);
	free(answer);
	return out;
}

/* Whether this answer is one to bloat (--bloat-count: only the next N). */
static int take_bloat(struct server *s)
{
	int yes;
	pthread_mutex_lock(&s->lock);
	yes = !s->cfg.bloat_counted || s->cfg.bloat_count > 0;
	if (yes && s->cfg.bloat_counted)
		s->cfg.bloat_count--;
	pthread_mutex_unlock(&s->lock);
	return yes;
}

/* Deflates the answer and pad MB of blanks after it (valid JSON still) into one gzip stream: a few KB per MB, as a
 * decompression bomb is. NULL when out of memory. */
static char *gzip_padded(const char *answer, size_t pad, size_t *out_len)
{
	static char blanks[65536];
	unsigned char chunk[65536];
	struct buf out = {0};
	z_stream z;
	memset(&z, 0, sizeof z);
	memset(blanks, ' ', sizeof blanks);
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	z.next_in = (unsigned char *)answer;
	z.avail_in = (unsigned)strlen(answer);
	for (int rc = Z_OK; rc != Z_STREAM_END;) {
		if (!z.avail_in && pad) {
			size_t n = pad < sizeof blanks ? pad : sizeof blanks;
			z.next_in = (unsigned char *)blanks;
			z.avail_in = (unsigned)n;
			pad -= n;
		}
		z.next_out = chunk;
		z.avail_out = sizeof chunk;
		rc = deflate(&z, z.avail_in || pad ? Z_NO_FLUSH : Z_FINISH);
		if (rc == Z_STREAM_ERROR)
			break;
		buf_add(&out, (const char *)chunk, sizeof chunk - z.avail_out);
	}
	deflateEnd(&z);
	if (out.failed) {
		free(out.data);
		return NULL;
	}
	*out_len = out.len;
	return out.data;
}

/* --gzip-bomb-mb / --padded-mb: a 200 answer made huge by trailing blanks, gzip-encoded (the client asked for it
 * with Accept-Encoding) or not. */
static void bloat_answer(struct server *s, const struct config *cfg, struct MHD_Connection *c, struct reply *r)
{
	if ((!cfg->gzip_bomb_mb && !cfg->padded_mb) || r->status != 200 || !r->body || !take_bloat(s))
		return;
	if (cfg->gzip_bomb_mb) {
		const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
		size_t n;
		char *gz = accept && strstr(accept, "gzip") ? gzip_padded(r->body, (size_t)cfg->gzip_bomb_mb << 20, &n)
		                                            : NULL;
		if (gz) {
			free(r->body);
			r->body = gz;
			r->body_len = n;
			add_header(r, "Content-Encoding", "gzip");
		}
		return;
	}
	size_t len = strlen(r->body), pad = (size_t)cfg->padded_mb << 20;
	char *p = realloc(r->body, len + pad + 1);
	if (!p)
		return;
	memset(p + len, ' ', pad);
	p[len + pad] = '\0';
	r->body = p;
}

static void handle_api(struct server *s, enum api api, struct MHD_Connection *c, const char *body, size_t len,
		       int too_large, struct reply *r, enum kind *kind)
{
	cJSON *req = too_large ? NULL : cJSON_ParseWithLength(body, len);
	struct config cfg;
	char request_id[48];
	const char *model = NULL;   /* set once the request is valid: rate limits apply from there on */
	pthread_mutex_lock(&s->lock);
	cfg = s->cfg;
	uint64_t sequence = ++s->sequence;
	*kind = request_kind(api, req);
	s->st.requests[api]++;
	s->st.by_kind[*kind]++;
	pthread_mutex_unlock(&s->lock);
	note_body(s, body, len);
	snprintf(request_id, sizeof request_id, "req_%016llx%08llx",
		 (unsigned long long)XXH3_64bits_withSeed(&sequence, sizeof sequence, cfg.seed),
		 (unsigned long long)(XXH3_64bits(body, len) >> 32));

	struct api_error e = {0};
	int bad = authenticate(api, c, &cfg, &e);
	if (!bad && too_large)
		bad = reject(&e, 413, api == API_MESSAGES ? "request_too_large" : "invalid_request_error", NULL, NULL,
			     "Request exceeds the maximum allowed number of bytes (%u).", MAX_BODY);
	if (!bad)
		bad = api == API_MESSAGES ? check_messages_request(req, &e)
		      : api == API_CHAT ? check_chat_request(req, &e) : check_embeddings_request(req, &e);
	if (!bad && api == API_EMBEDDINGS)
		bad = check_input_tokens(req, cfg.embed_max_input_tokens, &e);
	if (bad) {
		set_body(r, e.status, error_json(api, &e, request_id));
		api_headers(r, api, request_id, 0);
		pthread_mutex_lock(&s->lock);
		s->st.rejected++;
		pthread_mutex_unlock(&s->lock);
		goto done;
	}
	if (api == API_EMBEDDINGS) {
		const cJSON *input = field(req, "input");
		pthread_mutex_lock(&s->lock);
		s->st.embedding_inputs += cJSON_IsString(input) ? 1 : (unsigned long)cJSON_GetArraySize(input);
		pthread_mutex_unlock(&s->lock);
	}
	if (cfg.quota) {
		pthread_mutex_lock(&s->lock);
		s->st.quota++;
		pthread_mutex_unlock(&s->lock);
		quota_error(r, api, request_id);
		goto done;
	}
	model = cJSON_GetStringValue(field(req, "model"));
	if (model && rate_configured(&cfg, api)) {
		double cost[RATES];
		enum rate short_of;
		long wait_ms;
		rate_cost(api, req, len, cost);
		if (api == API_MESSAGES) {
			/* Reads from the prompt cache do not count against the input-tokens limit. */
			struct promptcache_usage pu;
			promptcache_account(&cfg.prompt_cache, req, (long)cost[R_INPUT], clock_ms(CLOCK_MONOTONIC), 1, &pu);
			cost[R_INPUT] -= (double)pu.cache_read;
		}
		if (!rate_admit(s, &cfg, api, model, cost, &short_of, &wait_ms)) {
			rate_refusal(r, api, &cfg, request_id, model, short_of, wait_ms);
			goto done;
		}
	}
	if (!admit(s)) {
		injected_error(r, api, F_429, &cfg, request_id, 1);
		goto done;
	}
	enum fault fault = pick_fault(s);
	if (fault == F_429 || fault == F_529 || fault == F_500) {
		injected_error(r, api, fault, &cfg, request_id, 0);
		release(s, 0);
		goto done;
	}
	if (fault == F_RESET) {
		r->how = SEND_NOTHING;
		release(s, 0);
		goto done;
	}
	nap(s, fault == F_TIMEOUT ? cfg.timeout_sleep_ms : cfg.latency_ms[*kind] + jitter_of(s, &cfg));
	if (fault == F_MALFORMED) {
		set_body(r, 200, strdup("<html><body><h1>502 Bad Gateway</h1></body></html>"));
	} else {
		int cut = fault == F_MAX_TOKENS;
		struct quirks q;
		pick_quirks(s, api, req, &q);
		/* The markers are transport: a model reads the same prompt with or without them. */
		cJSON *plain = api == API_MESSAGES ? promptcache_plain(req) : NULL;
		/* Ids (the tool_use id a correction turn quotes back) too: the same conversation, the same answer. */
		char *plain_text = plain ? cJSON_PrintUnformatted(plain) : NULL;
		char *answer = api == API_MESSAGES ? messages_answer(plain ? plain : req, plain_text ? plain_text : body,
								     plain_text ? strlen(plain_text) : len, cut, &cfg, &q)
			       : api == API_CHAT ? chat_answer(req, body, len, cut, &cfg, &q)
			       : embeddings_answer(req, cut, cfg.shuffle_embeddings, q.bad_vector);
		if (api == API_MESSAGES)
			answer = with_cache_usage(&cfg, req, answer);
		cJSON_Delete(plain);
		free(plain_text);
		count_served(s, &q);
		answer = spoil_text(answer, api, &q);
		if (cfg.echo_key && api != API_EMBEDDINGS)
			answer = with_key_echoed(answer, c, api);
		set_body(r, 200, answer);
		if (fault == F_TRUNCATED)
			r->how = SEND_HALF;
		else
			bloat_answer(s, &cfg, c, r);
	}
	api_headers(r, api, request_id, 0);
	release(s, fault == F_NONE && r->status == 200);
done:
	/* Said as the answer leaves: what is left then, this request and every one admitted meanwhile counted. */
	if (model && rate_configured(&cfg, api))
		rate_headers(s, &cfg, r, api, model);
	cJSON_Delete(req);
}

/* ---- the Message Batches API (fakeapi_batch.c) on the hooks it needs from here ---- */

/* One batch item: answered as POST /v1/messages answers the same body, without latency or injected faults (the batch
 * has its own modes); its imperfections and correction turns count as they do there. */
static char *batch_item_answer(void *ctx, const char *params, size_t len, unsigned *status)
{
	struct server *s = ctx;
	cJSON *req = cJSON_ParseWithLength(params, len);
	struct config cfg;
	pthread_mutex_lock(&s->lock);
	cfg = s->cfg;
	s->st.by_kind[request_kind(API_MESSAGES, req)]++;
	pthread_mutex_unlock(&s->lock);
	note_body(s, params, len);
	struct api_error e = {0};
	char *answer;
	if (check_messages_request(req, &e)) {
		*status = e.status;
		answer = error_json(API_MESSAGES, &e, "req_batch_item");
	} else {
		struct quirks q;
		pick_quirks(s, API_MESSAGES, req, &q);
		/* As POST /v1/messages answers (handle_api): the cache markers are transport (a batch asks for the hour where
		 * a synchronous run asks for 5 minutes), and the prompt cache serves a batch too. */
		cJSON *plain = promptcache_plain(req);
		char *plain_text = plain ? cJSON_PrintUnformatted(plain) : NULL;
		answer = messages_answer(plain ? plain : req, plain_text ? plain_text : params,
					 plain_text ? strlen(plain_text) : len, 0, &cfg, &q);
		free(plain_text);
		answer = with_cache_usage(&cfg, req, answer);
		cJSON_Delete(plain);
		count_served(s, &q);
		answer = spoil_text(answer, API_MESSAGES, &q);
		*status = 200;
	}
	cJSON_Delete(req);
	return answer;
}

static void handle_batch(struct server *s, struct MHD_Connection *c, const char *method, const char *url,
			 const char *body, size_t len, int too_large, struct reply *r)
{
	struct config cfg;
	pthread_mutex_lock(&s->lock);
	cfg = s->cfg;
	pthread_mutex_unlock(&s->lock);
	if (too_large) {
		set_body(r, 413, strdup("{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\",\"message\":"
					"\"a message batch may have at most 256 MB\"}}"));
		return;
	}
	unsigned status = 500;
	char *reply = NULL;
	fake_batch_serve(&cfg.batch, method, url, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-api-key"),
			 MHD_lookup_connection_value(c, MHD_HEADER_KIND, "anthropic-version"), cfg.anthropic_key,
			 MHD_lookup_connection_value(c, MHD_HEADER_KIND, "host"), cfg.seed, body, len,
			 batch_item_answer, s, &status, &reply);
	set_body(r, status, reply);
}

/* ---- the service endpoints ---- */

static char *stats_json(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	struct stats st = s->st;
	size_t distinct = s->nbodies;
	pthread_mutex_unlock(&s->lock);
	cJSON *root = cJSON_CreateObject(), *requests = cJSON_AddObjectToObject(root, "requests");
	unsigned long total = 0;
	for (int a = 0; a < APIS; a++) {
		cJSON_AddNumberToObject(requests, api_name[a], (double)st.requests[a]);
		total += st.requests[a];
	}
	cJSON_AddNumberToObject(requests, "total", (double)total);
	cJSON *by_kind = cJSON_AddObjectToObject(root, "by_kind");
	for (int k = 0; k < KINDS; k++)
		cJSON_AddNumberToObject(by_kind, kind_name[k], (double)st.by_kind[k]);
	cJSON_AddNumberToObject(root, "embedding_inputs", (double)st.embedding_inputs);
	cJSON_AddNumberToObject(root, "max_concurrency", (double)st.max_concurrency);
	cJSON_AddNumberToObject(root, "in_flight", (double)st.in_flight);
	cJSON_AddNumberToObject(root, "rejected", (double)st.rejected);
	cJSON *faults = cJSON_AddObjectToObject(root, "faults");
	for (int k = 0; k < FAULTS; k++)
		cJSON_AddNumberToObject(faults, fault_name[k], (double)st.faults[k]);
	cJSON_AddNumberToObject(faults, "quota", (double)st.quota);
	cJSON_AddNumberToObject(faults, "cap", (double)st.cap);
	cJSON *bodies = cJSON_AddObjectToObject(root, "bodies");
	cJSON_AddNumberToObject(bodies, "distinct", (double)distinct);
	cJSON_AddNumberToObject(bodies, "repeated", (double)st.bodies_repeated);
	cJSON_AddNumberToObject(bodies, "max_repeats", (double)st.max_repeats);
	cJSON_AddNumberToObject(root, "corrections", (double)st.corrections);
	cJSON *imperfect = cJSON_AddObjectToObject(root, "imperfections");
	for (int k = 0; k < IMPERFECTIONS; k++)
		cJSON_AddNumberToObject(imperfect, imperfection_name[k], (double)st.imperfect[k]);
	cJSON_AddNumberToObject(root, "ok", (double)st.ok);
	rate_stats(s, root, &st);
	promptcache_stats(root);
	fake_batch_stats(root);
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* Zeroes the counters; requests in flight stay counted so that in_flight never goes negative. */
static void reset_stats(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	long in_flight = s->st.in_flight;
	memset(&s->st, 0, sizeof s->st);
	s->st.in_flight = in_flight;
	s->nbodies = 0;
	memset(s->buckets, 0, sizeof s->buckets);   /* full again: a new run starts with the whole burst */
	pthread_mutex_unlock(&s->lock);
	fake_batch_reset();
}

static char *service_error(const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "error"), "message", message);
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* Applies every member of a JSON object as an option, all or nothing. */
static void handle_control(struct server *s, const char *body, size_t len, struct reply *r)
{
	cJSON *req = cJSON_ParseWithLength(body, len), *item;
	char err[256] = "", value[256];
	if (!cJSON_IsObject(req)) {
		cJSON_Delete(req);
		set_body(r, 400, service_error("POST /control: the body must be a JSON object of options, e.g. "
					       "{\"fault-rate\":0}"));
		return;
	}
	pthread_mutex_lock(&s->lock);
	struct config cfg = s->cfg;
	cJSON_ArrayForEach(item, req) {
		if (cJSON_IsString(item))
			snprintf(value, sizeof value, "%s", item->valuestring);
		else if (cJSON_IsBool(item))
			snprintf(value, sizeof value, "%s", cJSON_IsTrue(item) ? "true" : "false");
		else if (is_integer(item))
			snprintf(value, sizeof value, "%.0f", item->valuedouble);
		else if (cJSON_IsNumber(item))
			snprintf(value, sizeof value, "%.17g", item->valuedouble);
		else if (cJSON_IsArray(item)) {
			const cJSON *name;
			value[0] = '\0';
			cJSON_ArrayForEach(name, item)
				snprintf(value + strlen(value), sizeof value - strlen(value), "%s%s", value[0] ? "," : "",
					 cJSON_IsString(name) ? name->valuestring : "?");
		} else
			snprintf(value, sizeof value, "?");
		if (!strcmp(item->string, "port") || !strcmp(item->string, "port-file"))
			snprintf(err, sizeof err, "%s cannot change at run time", item->string);
		else
			set_option(&cfg, item->string, value, err, sizeof err);
		if (*err)
			break;
	}
	if (!*err) {
		s->cfg = cfg;
		if (field(req, "fail-first"))
			s->scheduled = 0;
		if (field(req, "seed"))
			s->rng = cfg.seed;
		if (field(req, "rpm") || field(req, "itpm") || field(req, "otpm") || field(req, "tpm") || field(req, "burst-ms"))
			memset(s->buckets, 0, sizeof s->buckets);
	}
	pthread_mutex_unlock(&s->lock);
	cJSON_Delete(req);
	if (*err) {
		set_body(r, 400, service_error("POST /control: %s; nothing was changed", err));
		return;
	}
	cJSON *shown = config_json(&cfg);
	set_body(r, 200, cJSON_PrintUnformatted(shown));
	cJSON_Delete(shown);
}

/* ---- libmicrohttpd glue ---- */

struct request {
	struct buf body;
	int too_large;
};

struct half {
	char *body;
	size_t limit;
};

/* Serves the first half of the body, then fails the response, so that the client sees a short read. */
static ssize_t read_half(void *cls, uint64_t pos, char *out, size_t max)
{
	struct half *h = cls;
	if (pos >= h->limit)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = h->limit - (size_t)pos < max ? h->limit - (size_t)pos : max;
	memcpy(out, h->body + pos, n);
	return (ssize_t)n;
}

static void free_half(void *cls)
{
	struct half *h = cls;
	free(h->body);
	free(h);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct reply *r)
{
	struct MHD_Response *response = NULL;
	size_t len = r->body_len ? r->body_len : r->body ? strlen(r->body) : 0;
	if (r->how == SEND_NOTHING) {
		free(r->body);
		return MHD_NO;
	}
	if (r->how == SEND_HALF) {
		struct half *h = malloc(sizeof *h);
		if (h) {
			h->body = r->body;
			h->limit = len / 2;
			response = MHD_create_response_from_callback(len, 4096, read_half, h, free_half);
			if (!response)
				free(h);
		}
	} else {
		response = MHD_create_response_from_buffer(len, r->body, MHD_RESPMEM_MUST_FREE);
	}
	if (!response) {
		free(r->body);
		return MHD_NO;
	}
	MHD_add_response_header(response, "content-type", "application/json");
	for (int i = 0; i < r->nheaders; i++)
		MHD_add_response_header(response, r->header[i].name, r->header[i].value);
	enum MHD_Result queued = MHD_queue_response(c, r->status, response);
	MHD_destroy_response(response);
	return queued;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **request_cls)
{
	struct server *s = cls;
	struct request *rq = *request_cls;
	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof *rq);
		*request_cls = rq;
		return rq ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		if (rq->body.len + *upload_size > (fake_batch_url(method, url) ? MAX_BATCH_BODY : MAX_BODY))
			rq->too_large = 1;
		else
			buf_add(&rq->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->body.failed)
		return MHD_NO;

	struct timespec start;
	struct reply r = {.status = 200, .how = SEND_ALL};
	enum kind kind = K_OTHER;
	int post = !strcmp(method, "POST"), api = -1;
	const char *body = rq->body.data ? rq->body.data : "";
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (post && !strcmp(url, "/v1/messages"))
		api = API_MESSAGES;
	else if (post && !strcmp(url, "/v1/embeddings"))
		api = API_EMBEDDINGS;
	else if (post && !strcmp(url, "/v1/chat/completions"))
		api = API_CHAT;

	if (api >= 0)
		handle_api(s, (enum api)api, c, body, rq->body.len, rq->too_large, &r, &kind);
	else if (fake_batch_url(method, url))
		handle_batch(s, c, method, url, body, rq->body.len, rq->too_large, &r);
	else if (!strcmp(method, "GET") && !strcmp(url, "/stats"))
		set_body(&r, 200, stats_json(s));
	else if (post && !strcmp(url, "/reset")) {
		reset_stats(s);
		promptcache_reset_counters();
		set_body(&r, 200, stats_json(s));
	} else if (post && !strcmp(url, "/control"))
		handle_control(s, body, rq->body.len, &r);
	else
		set_body(&r, 404, service_error("no such endpoint: %.16s %.200s (the fake API server serves POST "
						"/v1/messages, /v1/embeddings, /v1/chat/completions, /v1/messages/batches, "
						"/reset, /control and GET /stats)", method, url));

	pthread_mutex_lock(&s->lock);
	int verbose = s->cfg.verbose;
	pthread_mutex_unlock(&s->lock);
	if (verbose) {
		char status[16];
		snprintf(status, sizeof status, "%u", r.status);
		fprintf(stderr, "fakeapi: %s %s %s %s %.0fms\n", method, url, api >= 0 ? kind_name[kind] : "-",
			r.how == SEND_NOTHING ? "reset" : r.how == SEND_HALF ? "truncated" : status, elapsed_ms(&start));
	}
	return send_reply(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **request_cls, enum MHD_RequestTerminationCode why)
{
	struct request *rq = *request_cls;
	(void)cls;
	(void)c;
	(void)why;
	if (rq) {
		free(rq->body.data);
		free(rq);
		*request_cls = NULL;
	}
}

/* ---- main ---- */

static const struct {
	const char *name;
	int is_flag;              /* takes no value on the command line */
} options[] = {
	{"anthropic-key", 0}, {"openai-key", 0}, {"latency", 0}, {"max-concurrency", 0}, {"fault-rate", 0},
	{"faults", 0}, {"fail-first", 0}, {"seed", 0}, {"timeout-sleep-ms", 0}, {"should-retry", 0}, {"jitter", 0},
	{"vary-lengths", 1},
	{"quota", 1}, {"shuffle-embeddings", 1}, {"verbose", 1}, {"echo-key", 1},
	{"quotes", 0}, {"bad-scenes", 0}, {"bad-utf8", 0}, {"duplicate-keys", 0}, {"extra-fields", 1},
	{"long-summary", 0}, {"long-summary-chars", 0}, {"zero-embedding", 0}, {"huge-embedding", 0},
	{"embed-max-input-tokens", 0}, {"request-log", 0},
	{"rpm", 0}, {"itpm", 0}, {"otpm", 0}, {"tpm", 0}, {"burst-ms", 0}, {"overdraft", 1}, {"rate-headers", 0},
	{"prompt-cache", 0}, {"prompt-cache-5m-ms", 0}, {"prompt-cache-1h-ms", 0}, {"prompt-cache-lookback", 0},
	{"gzip-bomb-mb", 0}, {"padded-mb", 0}, {"bloat-count", 0},
	{"batch-delay-ms", 0}, {"batch-errored", 0}, {"batch-expired", 0}, {"batch-ordered", 1},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: fakeapi [--port N] [--port-file FILE] [--anthropic-key K] [--openai-key K]\n"
		     "               [--latency KIND=MS,...] [--max-concurrency N] [--fault-rate P] [--faults LIST]\n"
		     "               [--fail-first N] [--seed S] [--timeout-sleep-ms MS] [--should-retry true|false]\n"
		     "               [--quota] [--shuffle-embeddings] [--jitter MS] [--vary-lengths] [--echo-key] [-v]\n"
		     "               [--quotes RATE] [--bad-scenes RATE] [--bad-utf8 N] [--duplicate-keys N] [--extra-fields]\n"
		     "               [--long-summary TEXT] [--long-summary-chars N] [--zero-embedding N]\n"
		     "               [--huge-embedding N] [--embed-max-input-tokens N] [--request-log FILE]\n"
		     "               [--rpm N] [--itpm N] [--otpm N] [--tpm N]\n"
		     "               [--burst-ms MS] [--overdraft] [--rate-headers true|false] [-v]\n"
		     "               [--prompt-cache true|false] [--prompt-cache-5m-ms MS] [--prompt-cache-1h-ms MS]\n"
		     "               [--prompt-cache-lookback N]\n"
		     "               [--gzip-bomb-mb N] [--padded-mb N] [--bloat-count N]\n"
		     "               [--batch-delay-ms MS] [--batch-errored P] [--batch-expired P] [--batch-ordered]\n"
		     "Serves POST /v1/messages, /v1/embeddings, /v1/chat/completions, /reset, /control and GET /stats\n"
		     "on 127.0.0.1 until SIGTERM or SIGINT. See README \"The fake API server\".\n");
}

static int write_port_file(const char *path, unsigned port)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	int bad = fprintf(f, "%u\n", port) < 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path)) {
		remove(tmp);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct server s;
	long port = 0;
	const char *port_file = NULL;
	char err[256];
	s.cfg.seed = 1;
	s.cfg.batch.delay_ms = 1000;
	s.cfg.timeout_sleep_ms = 3000;
	s.cfg.quotes = -1;
	s.cfg.long_summary_chars = 6000;
	s.cfg.burst_ms = 60000;
	s.cfg.rate_headers = 1;
	promptcache_defaults(&s.cfg.prompt_cache);
	parse_faults(&s.cfg, "all", err, sizeof err);

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL;
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(arg, "-v"))
			arg = "--verbose";
		if (strncmp(arg, "--", 2)) {
			fprintf(stderr, "fakeapi: unexpected argument '%s'\n", arg);
			usage(stderr);
			return 2;
		}
		char name[64];
		size_t n = strcspn(arg + 2, "=");
		snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), arg + 2);
		if (arg[2 + n] == '=')
			value = arg + 3 + n;
		int is_flag = 0, known = !strcmp(name, "port") || !strcmp(name, "port-file");
		for (size_t k = 0; k < sizeof options / sizeof *options; k++)
			if (!strcmp(name, options[k].name)) {
				known = 1;
				is_flag = options[k].is_flag;
			}
		if (!known) {
			fprintf(stderr, "fakeapi: unknown option '%s'\n", arg);
			usage(stderr);
			return 2;
		}
		if (!value)
			value = is_flag ? "true" : i + 1 < argc ? argv[++i] : NULL;
		if (!value) {
			fprintf(stderr, "fakeapi: option --%s needs a value\n", name);
			return 2;
		}
		if (!strcmp(name, "port")) {
			if (parse_long(value, 0, 65535, &port)) {
				fprintf(stderr, "fakeapi: --port '%s' is not a port number 0..65535 (0 picks a free one)\n", value);
				return 2;
			}
		} else if (!strcmp(name, "port-file")) {
			port_file = value;
		} else if (set_option(&s.cfg, name, value, err, sizeof err)) {
			fprintf(stderr, "fakeapi: --%s\n", err);
			return 2;
		}
	}
	s.rng = s.cfg.seed;

	/* Every thread inherits this mask, so SIGTERM / SIGINT reach only the sigwait below. */
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	struct sigaction ignore = {.sa_handler = SIG_IGN};
	sigaction(SIGPIPE, &ignore, NULL);

	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s.wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&s.lock, NULL);

	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	if (s.cfg.verbose)
		flags |= MHD_USE_ERROR_LOG;
	struct MHD_Daemon *httpd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, &s,
						     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
						     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
						     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
						     MHD_OPTION_END);
	int status = 0;
	if (!httpd) {
		fprintf(stderr, "fakeapi: cannot listen on 127.0.0.1:%ld (port in use?); try --port 0\n", port);
		status = 1;
		goto out;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(httpd, MHD_DAEMON_INFO_BIND_PORT);
	unsigned bound = info ? info->port : 0;
	if (port_file && write_port_file(port_file, bound)) {
		fprintf(stderr, "fakeapi: cannot write the port to '%s': %s\n", port_file, strerror(errno));
		status = 1;
	} else {
		fprintf(stderr, "fakeapi: listening on http://127.0.0.1:%u\n", bound);
		int sig;
		sigwait(&stop_signals, &sig);
	}
	pthread_mutex_lock(&s.lock);
	s.stopping = 1;
	pthread_cond_broadcast(&s.wake);
	pthread_mutex_unlock(&s.lock);
	MHD_stop_daemon(httpd);
out:
	pthread_mutex_destroy(&s.lock);
	pthread_cond_destroy(&s.wake);
	return status;
}
