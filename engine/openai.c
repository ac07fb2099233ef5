/* openai.c - OpenAI-compatible chat completions (strict JSON-schema answers) and embeddings (array input, base64
 * float32 answers placed by index). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base64.h"
#include "float32.h"
#include "job.h"
#include "net.h"
#include "prompts.h"
#include "replies.h"
#include "util.h"
#include "validate.h"

struct openai {
	struct provider base;
	struct net_endpoint ep;
};

static char *chat_body(const struct job *job, int max_tokens, const cJSON *turns)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "model", job->params->model);
	cJSON *messages = cJSON_AddArrayToObject(root, "messages");
	cJSON *sys = cJSON_CreateObject();
	cJSON_AddStringToObject(sys, "role", "system");
	cJSON_AddStringToObject(sys, "content", job->system);
	cJSON_AddItemToArray(messages, sys);
	cJSON *user = cJSON_CreateObject();
	cJSON_AddStringToObject(user, "role", "user");
	cJSON_AddStringToObject(user, "content", job->user);
	cJSON_AddItemToArray(messages, user);
	const cJSON *turn;
	cJSON_ArrayForEach(turn, turns)
		cJSON_AddItemToArray(messages, cJSON_Duplicate(turn, 1));
	/* max_tokens rather than max_completion_tokens: llama.cpp, Ollama and vLLM all read it. */
	cJSON_AddNumberToObject(root, "max_tokens", max_tokens);
	cJSON_AddNumberToObject(root, "temperature", job->params->temperature);
	cJSON *format = cJSON_AddObjectToObject(root, "response_format");
	cJSON_AddStringToObject(format, "type", "json_schema");
	cJSON *js = cJSON_AddObjectToObject(format, "json_schema");
	cJSON_AddStringToObject(js, "name", job->tool_name);
	if (job->tool_description)
		cJSON_AddStringToObject(js, "description", job->tool_description);
	cJSON_AddBoolToObject(js, "strict", 1);
	cJSON_AddItemToObject(js, "schema", cJSON_Duplicate(job->schema, 1));
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* The correction turn for an invalid answer: the assistant's message as given, then a user message saying what is
 * wrong. */
static cJSON *correction_turn(const char *content, const char *name, const char *problems)
{
	cJSON *turn = cJSON_CreateArray();
	cJSON *assistant = cJSON_CreateObject();
	cJSON_AddStringToObject(assistant, "role", "assistant");
	cJSON_AddStringToObject(assistant, "content", content);
	cJSON_AddItemToArray(turn, assistant);
	cJSON *user = cJSON_CreateObject();
	cJSON_AddStringToObject(user, "role", "user");
	char *text = xasprintf("The %s answer is invalid: %s. Answer again with the whole corrected JSON object.", name,
	                       problems);
	cJSON_AddStringToObject(user, "content", text);
	free(text);
	cJSON_AddItemToArray(turn, user);
	return turn;
}

enum net_answer openai_take_chat_answer(struct job *job, const struct http_result *r, struct net_turn *turn,
                                        char *cause, size_t len)
{
	cJSON *root = net_parse_answer(r, cause, len);
	if (!root)
		return NET_ANSWER_BAD;
	const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
	const cJSON *finish = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
	const char *finish_reason = cJSON_IsString(finish) ? finish->valuestring : "";
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(choice, "message");
	const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(message, "refusal");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
	cJSON *output = NULL;
	char why[900];
	struct prompt_repairs repairs;
	enum net_answer verdict = NET_ANSWER_BAD;
	if (!choice) {
		snprintf(cause, len, "answered with no choices");
	} else if (strcmp(finish_reason, "length") == 0) {
		snprintf(cause, len, "answer was cut off at max_tokens (asked %d): raise --max-tokens", net_max_tokens(job));
		verdict = NET_ANSWER_CUT_OFF;
	} else if (cJSON_IsString(refusal) || strcmp(finish_reason, "content_filter") == 0) {
		snprintf(cause, len, "model refused to answer: \"%.120s\"",
		         cJSON_IsString(refusal) ? refusal->valuestring : finish_reason);
	} else if (!cJSON_IsString(content) || !content->valuestring[strspn(content->valuestring, " \t\r\n")]) {
		snprintf(cause, len, "answered with empty content");
	} else if (!cJSON_IsObject(output = cJSON_Parse(content->valuestring))) {
		snprintf(cause, len, "answered content that is not a JSON object: \"%.80s\"", content->valuestring);
	} else if (answer_check_tree(output, why, sizeof(why)) < 0) {
		snprintf(cause, len, "answered malformed JSON content: %s", why);
	} else if (prompt_repair(job, output, &repairs, why, sizeof(why)) < 0) {
		snprintf(cause, len, "answered an invalid %s: %s", job->tool_name, why);
		verdict = NET_ANSWER_INVALID;
		if (turn)
			turn->messages = correction_turn(content->valuestring, job->tool_name, why);
	} else if (!(job->output = cJSON_PrintUnformatted(output))) {
		snprintf(cause, len, "answer could not be stored (out of memory)");
	} else {
		job->dropped_quotes = repairs.dropped_quotes;
		/* Only the answer kept is counted: the step's usage must not depend on the faults met on the way. */
		job->tokens_in += net_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), "prompt_tokens");
		job->tokens_out += net_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), "completion_tokens");
		verdict = NET_ANSWER_OK;
	}
	cJSON_Delete(output);
	cJSON_Delete(root);
	return verdict;
}

/* Decodes a base64 embedding (little-endian float32s) into *bytes, grown as needed; its number of floats, or -1 when
 * the text is not strict base64 or not whole float32s. */
static long decode_base64_embedding(const char *text, unsigned char **bytes, size_t *cap)
{
	size_t chars = strlen(text), n;
	if (base64_decoded_max(chars) > *cap) {
		*cap = base64_decoded_max(chars);
		*bytes = xrealloc(*bytes, *cap);
	}
	if (base64_decode(text, chars, *bytes, &n) < 0 || n % 4)
		return -1;
	return (long)(n / 4);
}

/* Fills row with width floats from the decoded bytes, or from an array of numbers; 0, or -1 at a value that is no
 * finite float (it would become an infinity or a NaN in the cache and the archive). */
static int fill_row(float *row, size_t width, const unsigned char *bytes, const cJSON *numbers)
{
	if (bytes) {
		float32_decode(bytes, width, row);
		for (size_t d = 0; d < width; d++)
			if (!isfinite(row[d]))
				return -1;
		return 0;
	}
	size_t d = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, numbers) {
		if (!cJSON_IsNumber(x) || x->valuedouble > FLT_MAX || x->valuedouble < -FLT_MAX)
			return -1;
		row[d++] = (float)x->valuedouble;
	}
	return 0;
}

/* Places every vector by its index, never by arrival order. An embedding is the base64 string asked for, or the array
 * of numbers an OpenAI-compatible server that ignores encoding_format sends: both are read. */
enum net_answer openai_take_embeddings(struct job *job, const struct http_result *r, struct net_turn *turn,
                                       char *cause, size_t len)
{
	(void)turn;  /* an embedding has nothing to correct: a broken one is malformed */
	cJSON *root = net_parse_answer(r, cause, len);
	if (!root)
		return NET_ANSWER_BAD;
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
	int count = cJSON_IsArray(data) ? cJSON_GetArraySize(data) : -1;
	size_t width = 0, want = job->params->dims > 0 ? (size_t)job->params->dims : 0, cap = 0;
	float *vectors = NULL;
	unsigned char *bytes = NULL;
	bool *seen = xcalloc(job->ntexts, sizeof(bool));
	const cJSON *item;
	enum net_answer verdict = NET_ANSWER_BAD;
	if (count < 0 || (size_t)count != job->ntexts) {
		snprintf(cause, len, "returned %d embeddings for %zu inputs", count, job->ntexts);
		goto out;
	}
	cJSON_ArrayForEach(item, data) {
		const cJSON *index = cJSON_GetObjectItemCaseSensitive(item, "index");
		const cJSON *vec = cJSON_GetObjectItemCaseSensitive(item, "embedding");
		if (!cJSON_IsNumber(index) || index->valuedouble < 0 || index->valuedouble >= (double)job->ntexts ||
		    index->valuedouble != (double)(size_t)index->valuedouble || seen[(size_t)index->valuedouble]) {
			snprintf(cause, len, "returned an embedding with a missing, repeated or out-of-range index");
			goto out;
		}
		size_t i = (size_t)index->valuedouble;
		long n = cJSON_IsArray(vec) ? cJSON_GetArraySize(vec) : 0;
		if (cJSON_IsString(vec) && (n = decode_base64_embedding(vec->valuestring, &bytes, &cap)) < 0) {
			snprintf(cause, len, "returned an embedding for input %zu that is not base64 of whole float32s", i);
			goto out;
		}
		if (n <= 0 || (width && (size_t)n != width) || (want && (size_t)n != want)) {
			snprintf(cause, len, "returned an embedding of %ld dimensions for input %zu (expected %zu)", n, i,
			         want ? want : width);
			goto out;
		}
		if (!vectors) {
			width = (size_t)n;
			vectors = xcalloc(job->ntexts * width, sizeof(float));
		}
		seen[i] = true;
		if (fill_row(vectors + i * width, width, cJSON_IsString(vec) ? bytes : NULL, vec) < 0) {
			snprintf(cause, len, "returned a non-number or a value beyond float range in the embedding of input %zu",
			         i);
			goto out;
		}
		char why[200];
		if (embedding_check(vectors + i * width, width, 0, why, sizeof(why)) < 0) {
			snprintf(cause, len, "returned a malformed embedding for input %zu: it %s", i, why);
			goto out;
		}
	}
	job->vectors = vectors;
	job->dims = width;
	job->tokens_in += net_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), "prompt_tokens");
	vectors = NULL;
	verdict = NET_ANSWER_OK;
out:
	free(vectors);
	free(bytes);
	free(seen);
	cJSON_Delete(root);
	return verdict;
}

static int chat_start(struct provider *p, struct job *job)
{
	job->status = JOB_FAILED;
	job->error[0] = '\0';
	if (job->kind == STEP_EMBEDDING) {
		snprintf(job->error, sizeof(job->error), "%s: openai chat does not embed: use the openai embeddings provider",
		         job->label);
		return -1;
	}
	if (!job->params || !job->params->model || !job->system || !job->user || !job->tool_name || !job->schema) {
		snprintf(job->error, sizeof(job->error), "%s: openai: the step has no model, prompt or schema", job->label);
		return -1;
	}
	struct openai *o = p->impl;
	return net_send(p->loop, &o->ep, job, chat_body, openai_take_chat_answer);
}

static char *embed_body(const struct job *job, int max_tokens, const cJSON *turns)
{
	(void)max_tokens;
	(void)turns;
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "model", job->params->model);
	cJSON *input = cJSON_AddArrayToObject(root, "input");
	for (size_t i = 0; i < job->ntexts; i++)
		cJSON_AddItemToArray(input, cJSON_CreateString(job->texts[i]));
	/* base64 float32 rather than JSON numbers: a 1000 x 1536 answer is then 1000 strings to parse, not 1.5 million
	 * cJSON nodes (71 % of a 1000-scene run's CPU, 165 MB of peak memory). */
	cJSON_AddStringToObject(root, "encoding_format", "base64");
	if (job->params->dims > 0)
		cJSON_AddNumberToObject(root, "dimensions", job->params->dims);
	char *body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return body;
}

static int embed_start(struct provider *p, struct job *job)
{
	job->status = JOB_FAILED;
	job->error[0] = '\0';
	if (job->kind != STEP_EMBEDDING || !job->params || !job->params->model) {
		snprintf(job->error, sizeof(job->error), "%s: openai embeddings only embed texts with a model", job->label);
		return -1;
	}
	if (job->ntexts == 0 || job->ntexts > NET_MAX_EMBED_INPUTS) {
		snprintf(job->error, sizeof(job->error), "%s: openai embeddings take 1 to %d inputs per request, not %zu",
		         job->label, NET_MAX_EMBED_INPUTS, job->ntexts);
		return -1;
	}
	for (size_t i = 0; i < job->ntexts; i++) {
		/* The API refuses an empty string; say which input it was rather than fail the whole batch remotely. */
		if (!job->texts[i] || !job->texts[i][0]) {
			snprintf(job->error, sizeof(job->error), "%s: input %zu to embed is empty", job->label, i + 1);
			return -1;
		}
	}
	struct openai *o = p->impl;
	return net_send(p->loop, &o->ep, job, embed_body, openai_take_embeddings);
}

static void openai_destroy(struct provider *p)
{
	struct openai *o = p->impl;
	net_endpoint_free(&o->ep);
	free(o);
}

static struct provider *openai_new(struct loop *l, const struct net_config *cfg, const char *path,
                                   int (*start)(struct provider *, struct job *), char *err, size_t errlen)
{
	struct openai *o = xcalloc(1, sizeof(*o));
	/* A local server (llama.cpp, Ollama, vLLM) needs no key; the public endpoint does. */
	if (net_endpoint_init(&o->ep, "openai", cfg, "OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1",
	                      path, "Authorization: Bearer %s", 0, NULL, err, errlen) < 0) {
		free(o);
		return NULL;
	}
	o->base.name = "openai";
	o->base.loop = l;
	o->base.start = start;
	o->base.destroy = openai_destroy;
	o->base.impl = o;
	/* OpenAI's embedding models take at most 8192 tokens per input; keep a margin for the estimate's error. */
	o->base.max_input_tokens = start == embed_start ? 8000 : 0;
	return &o->base;
}

struct provider *openai_chat_provider_new(struct loop *l, const struct net_config *cfg, char *err, size_t errlen)
{
	return openai_new(l, cfg, "/chat/completions", chat_start, err, errlen);
}

struct provider *openai_embed_provider_new(struct loop *l, const struct net_config *cfg, char *err, size_t errlen)
{
	return openai_new(l, cfg, "/embeddings", embed_start, err, errlen);
}
