/* anthropic.c - the Anthropic Messages API: one forced tool call per step, its input validated as the step's output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "job.h"
#include "net.h"
#include "prompts.h"
#include "replies.h"
#include "util.h"

struct anthropic {
	struct provider base;
	struct net_endpoint ep;
};

/* Anthropic takes at most 4 cache_control breakpoints per request. */
#define MAX_BREAKPOINTS 4

static void mark_breakpoint(cJSON *block, const char *ttl)
{
	cJSON *cc = cJSON_AddObjectToObject(block, "cache_control");
	cJSON_AddStringToObject(cc, "type", "ephemeral");
	/* Five minutes is the service's default: the marker names a lifetime only for the hour. */
	if (strcmp(ttl, "5m") != 0)
		cJSON_AddStringToObject(cc, "ttl", ttl);
}

static cJSON *text_block(const char *text, size_t len)
{
	cJSON *block = cJSON_CreateObject();
	cJSON_AddStringToObject(block, "type", "text");
	char *copy = xstrndup(text, len);
	cJSON_AddStringToObject(block, "text", copy);
	free(copy);
	return block;
}

/* The ends of a quarter, a half, three quarters and all of the scenes, so that an edit in scene k finds a prefix
 * written before k by an earlier run; when the run summarised scene f anew (f > 0: an edit, not a cold run), the block
 * before f is marked instead of a mark past f, so that the next save of the same scene reads everything before it. */
size_t anthropic_cache_marks(size_t n, size_t first_fresh, size_t max, size_t *marks)
{
	size_t even[MAX_BREAKPOINTS], neven = 0;
	for (size_t m = 1; m <= max && m <= MAX_BREAKPOINTS; m++) {
		size_t block = (n * m + max - 1) / max - 1;
		if (neven == 0 || even[neven - 1] != block)
			even[neven++] = block;
	}
	if (first_fresh == 0 || first_fresh >= n) {
		memcpy(marks, even, neven * sizeof(*marks));
		return neven;
	}
	/* The even marks before it (the last even mark, n - 1, is past it), it, then the last even marks past it. */
	size_t before = first_fresh - 1, count = 0, past = 0;
	for (size_t i = 0; i < neven; i++) {
		if (even[i] < before)
			marks[count++] = even[i];
		past += even[i] > before;
	}
	marks[count++] = before;
	size_t skip = past > max - count ? past - (max - count) : 0;
	for (size_t i = 0; i < neven; i++) {
		if (even[i] <= before)
			continue;
		if (skip > 0) {
			skip--;
			continue;
		}
		marks[count++] = even[i];
	}
	return count;
}

/* The user message's content as text blocks, a block per scene as the prompt divides, with breakpoints as
 * anthropic_cache_marks places them: an edit in scene k leaves the prefixes written before k unchanged, and the service serves
 * them from its cache. NULL when the prompt is one block; *used says how many breakpoints it placed. */
static cJSON *user_blocks(const struct job *job, const char *ttl, size_t max, size_t *used)
{
	*used = 0;
	struct prompt_blocks b;
	char *text = prompt_render_blocks(job, &b);
	cJSON *content = NULL;
	/* The blocks must divide exactly the text the action key was computed from. */
	if (text && b.n > 0 && strcmp(text, job->user) == 0) {
		size_t marks[MAX_BREAKPOINTS];
		size_t nmarks = anthropic_cache_marks(b.n, job->first_fresh, max, marks), next = 0;
		content = cJSON_CreateArray();
		size_t start = 0;
		for (size_t i = 0; i <= b.n; i++) {
			size_t end = i < b.n ? b.ends[i] : strlen(text);
			cJSON *block = text_block(text + start, end - start);
			if (next < nmarks && marks[next] == i) {
				mark_breakpoint(block, ttl);
				next++;
			}
			cJSON_AddItemToArray(content, block);
			start = end;
		}
		*used = nmarks;
	}
	prompt_blocks_free(&b);
	free(text);
	return content;
}

static char *request_body(const struct job *job, int max_tokens, const cJSON *turns)
{
	const char *ttl = job->prompt_cache_ttl;
	size_t marks = 0;
	cJSON *blocks = ttl ? user_blocks(job, ttl, MAX_BREAKPOINTS, &marks) : NULL;
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "model", job->params->model);
	cJSON_AddNumberToObject(root, "max_tokens", max_tokens);
	cJSON_AddNumberToObject(root, "temperature", job->params->temperature);
	if (ttl && marks < MAX_BREAKPOINTS) {
		/* The tools and the system prompt are the same for every step of a kind: the most stable prefix. */
		cJSON *system = cJSON_AddArrayToObject(root, "system");
		cJSON *block = text_block(job->system, strlen(job->system));
		mark_breakpoint(block, ttl);
		cJSON_AddItemToArray(system, block);
	} else {
		cJSON_AddStringToObject(root, "system", job->system);
	}
	cJSON *msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "role", "user");
	if (blocks)
		cJSON_AddItemToObject(msg, "content", blocks);
	else
		cJSON_AddStringToObject(msg, "content", job->user);
	cJSON *messages = cJSON_AddArrayToObject(root, "messages");
	cJSON_AddItemToArray(messages, msg);
	const cJSON *turn;
	cJSON_ArrayForEach(turn, turns)
		cJSON_AddItemToArray(messages, cJSON_Duplicate(turn, 1));
	cJSON *tool = cJSON_CreateObject();
	cJSON_AddStringToObject(tool, "name", job->tool_name);
	cJSON_AddStringToObject(tool, "description", job->tool_description ? job->tool_description : "");
	cJSON_AddItemToObject(tool, "input_schema", cJSON_Duplicate(job->schema, 1));
	cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "tools"), tool);
	/* A forced tool is Anthropic's structured output: the answer is the tool's input, shaped by input_schema. */
	cJSON *choice = cJSON_AddObjectToObject(root, "tool_choice");
	cJSON_AddStringToObject(choice, "type", "tool");
	cJSON_AddStringToObject(choice, "name", job->tool_name);
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* The correction turn for an invalid tool call: the assistant's content as given, then a tool_result for its
 * tool_use_id with is_error and what is wrong, as the Messages API expects a failed tool call to be answered. */
static cJSON *correction_turn(const cJSON *content, const char *tool_use_id, const char *tool, const char *problems)
{
	cJSON *turn = cJSON_CreateArray();
	cJSON *assistant = cJSON_CreateObject();
	cJSON_AddStringToObject(assistant, "role", "assistant");
	cJSON_AddItemToObject(assistant, "content", cJSON_Duplicate(content, 1));
	cJSON_AddItemToArray(turn, assistant);
	cJSON *user = cJSON_CreateObject();
	cJSON_AddStringToObject(user, "role", "user");
	cJSON *result = cJSON_CreateObject();
	cJSON_AddStringToObject(result, "type", "tool_result");
	cJSON_AddStringToObject(result, "tool_use_id", tool_use_id);
	cJSON_AddBoolToObject(result, "is_error", 1);
	char *text = xasprintf("The %s call is invalid: %s. Call %s again with the whole corrected answer.", tool,
	                       problems, tool);
	cJSON_AddStringToObject(result, "content", text);
	free(text);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(user, "content"), result);
	cJSON_AddItemToArray(turn, user);
	return turn;
}

enum net_answer anthropic_take_answer(struct job *job, const struct http_result *r, struct net_turn *turn, char *cause,
                                      size_t len)
{
	cJSON *root = net_parse_answer(r, cause, len);
	if (!root)
		return NET_ANSWER_BAD;
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
	/* Cached prompt tokens are input tokens too, billed at other rates. */
	uint64_t tokens_in = net_usage(usage, "input_tokens") + net_usage(usage, "cache_creation_input_tokens") +
	                     net_usage(usage, "cache_read_input_tokens");
	uint64_t tokens_out = net_usage(usage, "output_tokens");
	uint64_t cache_read = net_usage(usage, "cache_read_input_tokens");
	uint64_t cache_write = net_usage(usage, "cache_creation_input_tokens");
	/* The split by lifetime, when the service gives it: an hour's writes cost more. */
	uint64_t cache_write_1h = net_usage(cJSON_GetObjectItemCaseSensitive(usage, "cache_creation"),
	                                    "ephemeral_1h_input_tokens");
	if (cache_write_1h > cache_write)
		cache_write_1h = cache_write;
	else if (!cJSON_GetObjectItemCaseSensitive(usage, "cache_creation") && job->prompt_cache_ttl &&
	         strcmp(job->prompt_cache_ttl, "1h") == 0)
		cache_write_1h = cache_write;

	const cJSON *stop = cJSON_GetObjectItemCaseSensitive(root, "stop_reason");
	const char *stop_reason = cJSON_IsString(stop) ? stop->valuestring : "";
	const cJSON *input = NULL, *block, *tool_use_id = NULL;
	size_t text_len = 0;
	const char *text = NULL;
	cJSON_ArrayForEach(block, cJSON_GetObjectItemCaseSensitive(root, "content")) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
		if (!cJSON_IsString(type))
			continue;
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(block, "name");
		if (strcmp(type->valuestring, "tool_use") == 0 && cJSON_IsString(name) &&
		    strcmp(name->valuestring, job->tool_name) == 0 && !input) {
			input = cJSON_GetObjectItemCaseSensitive(block, "input");
			tool_use_id = cJSON_GetObjectItemCaseSensitive(block, "id");
		} else if (strcmp(type->valuestring, "text") == 0) {
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(block, "text");
			if (cJSON_IsString(t) && t->valuestring[strspn(t->valuestring, " \t\r\n")]) {
				text = text ? text : t->valuestring;
				text_len += strlen(t->valuestring);
			}
		}
	}
	char why[900];
	struct prompt_repairs repairs;
	cJSON *answer = NULL;
	enum net_answer verdict = NET_ANSWER_BAD;
	if (strcmp(stop_reason, "max_tokens") == 0) {
		snprintf(cause, len, "answer was cut off at max_tokens (asked %d): raise --max-tokens",
		         net_max_tokens(job));
		verdict = NET_ANSWER_CUT_OFF;
	} else if (strcmp(stop_reason, "refusal") == 0) {
		snprintf(cause, len, "model refused to answer");
	} else if (!input && text_len > 0) {
		snprintf(cause, len, "answered with text instead of calling the tool %s: \"%.80s\"", job->tool_name, text);
	} else if (!input) {
		snprintf(cause, len, "answered with no content (stop_reason \"%.40s\")", stop_reason);
	} else if (!cJSON_IsObject(input)) {
		snprintf(cause, len, "called %s with an input that is not a JSON object", job->tool_name);
	} else if (prompt_repair(job, (answer = cJSON_Duplicate(input, 1)), &repairs, why, sizeof(why)) < 0) {
		snprintf(cause, len, "answered an invalid %s: %s", job->tool_name, why);
		verdict = NET_ANSWER_INVALID;
		if (turn && cJSON_IsString(tool_use_id))
			turn->messages = correction_turn(cJSON_GetObjectItemCaseSensitive(root, "content"),
			                                 tool_use_id->valuestring, job->tool_name, why);
	} else if (!(job->output = cJSON_PrintUnformatted(answer))) {
		snprintf(cause, len, "answer could not be stored (out of memory)");
	} else {
		job->dropped_quotes = repairs.dropped_quotes;
		/* Only the answer kept is counted: the step's usage must not depend on the faults met on the way. */
		job->tokens_in += tokens_in;
		job->tokens_out += tokens_out;
		job->tokens_cache_read += cache_read;
		job->tokens_cache_write += cache_write;
		job->tokens_cache_write_1h += cache_write_1h;
		verdict = NET_ANSWER_OK;
	}
	cJSON_Delete(answer);
	cJSON_Delete(root);
	return verdict;
}

static int anthropic_start(struct provider *p, struct job *job)
{
	struct anthropic *a = p->impl;
	job->status = JOB_FAILED;
	job->error[0] = '\0';
	if (job->kind == STEP_EMBEDDING) {
		snprintf(job->error, sizeof(job->error),
		         "%s: anthropic has no embeddings API: use --embed openai or --embed builtin", job->label);
		return -1;
	}
	if (!job->params || !job->params->model || !job->system || !job->user || !job->tool_name || !job->schema) {
		snprintf(job->error, sizeof(job->error), "%s: anthropic: the step has no model, prompt or schema",
		         job->label);
		return -1;
	}
	job->prompt_cache_ttl = a->ep.prompt_cache == NET_PROMPT_CACHE_OFF ? NULL
	                        : net_prompt_cache_name(a->ep.prompt_cache);
	return net_send(p->loop, &a->ep, job, request_body, anthropic_take_answer);
}

static void anthropic_destroy(struct provider *p)
{
	struct anthropic *a = p->impl;
	net_endpoint_free(&a->ep);
	free(a);
}

struct provider *anthropic_provider_new(struct loop *l, const struct net_config *cfg, char *err, size_t errlen)
{
	static const char *const headers[] = {"anthropic-version: 2023-06-01", NULL};
	struct anthropic *a = xcalloc(1, sizeof(*a));
	if (net_endpoint_init(&a->ep, "anthropic", cfg, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
	                      "https://api.anthropic.com", "/v1/messages", "x-api-key: %s", 1, headers, err,
	                      errlen) < 0) {
		free(a);
		return NULL;
	}
	a->base.name = "anthropic";
	a->base.loop = l;
	a->base.start = anthropic_start;
	a->base.destroy = anthropic_destroy;
	a->base.impl = a;
	return &a->base;
}

char *anthropic_request_params(const struct job *job, int max_tokens, const cJSON *turns)
{
	return request_body(job, max_tokens, turns);
}
