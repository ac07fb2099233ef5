/* test_http.c - the network providers against tests/fakeapi on loopback: answers, retries, refusals, quota, timeouts,
 * embeddings placed by index (base64 answers bit-identical to float ones), and keys that never show in a message or a
 * log line. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "fountain.h"
#include "gate.h"
#include "http.h"
#include "job.h"
#include "loop.h"
#include "net.h"
#include "prompts.h"
#include "replies.h"

#define KEY "sk-test-DISTINCTIVE-9c4e71b2"

/* ---- a small script of our own ---- */

static char *names[] = {"IRIS"};
static struct fountain_cue cues1[] = {{.name = "IRIS", .dialogue = "Nobody reads the tide tables any more."}};
static struct fountain_cue cues2[] = {{.name = "IRIS", .dialogue = "Then I will read them aloud."}};
static struct fountain_scene scenes[] = {
	{.index = 1, .heading = "EXT. PIER - DUSK", .location = "PIER", .time = "DUSK", .line = 1,
	 .text = "EXT. PIER - DUSK\n\nIRIS\nNobody reads the tide tables any more.", .characters = names,
	 .ncharacters = 1, .cues = cues1, .ncues = 1},
	{.index = 2, .heading = "INT. BOATHOUSE - NIGHT", .location = "BOATHOUSE", .time = "NIGHT", .line = 6,
	 .text = "INT. BOATHOUSE - NIGHT\n\nIRIS\nThen I will read them aloud.", .characters = names, .ncharacters = 1,
	 .cues = cues2, .ncues = 1},
};
static size_t iris_scenes[] = {1, 2};
static struct fountain_character characters[] = {{.name = "IRIS", .scenes = iris_scenes, .nscenes = 2, .cues = 2}};
static struct fountain_script script = {.title = "Tide Tables", .scenes = scenes, .nscenes = 2,
                                        .characters = characters, .ncharacters = 1};

/* ---- the fake server ---- */

struct server {
	pid_t pid;
	char dir[64];
	char base[96], openai_base[96];
};

/* Copies of the servers running now, so that a failed assertion (which leaves its test, and its stack, at once)
 * still stops them. */
static struct server live[4];

static void track(const struct server *s, int on)
{
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (on ? live[i].pid == 0 : live[i].pid == s->pid) {
			if (on)
				live[i] = *s;
			else
				live[i].pid = 0;
			return;
		}
}

static void start_server(struct server *s, const char *const *flags)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/test_http.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	char port_file[128];
	snprintf(port_file, sizeof(port_file), "%s/port", s->dir);
	const char *argv[32];
	int n = 0;
	const char *bin = getenv("FAKEAPI");
	argv[n++] = bin && *bin ? bin : "build/check/tests/fakeapi";
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--port-file";
	argv[n++] = port_file;
	for (; flags && *flags && n < 30; flags++)
		argv[n++] = *flags;
	argv[n] = NULL;
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		freopen("/dev/null", "w", stderr);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(port_file, "r");
		int port = 0;
		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port > 0) {
			snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", port);
			snprintf(s->openai_base, sizeof(s->openai_base), "http://127.0.0.1:%d/v1", port);
			track(s, 1);
			return;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fail_msg("fakeapi did not start (is $FAKEAPI built?)");
}

static void stop_server(struct server *s)
{
	track(s, 0);
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	char port_file[128];
	snprintf(port_file, sizeof(port_file), "%s/port", s->dir);
	unlink(port_file);
	rmdir(s->dir);
}

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
	char **text = ctx;
	size_t old = *text ? strlen(*text) : 0;
	*text = realloc(*text, old + size * n + 1);
	memcpy(*text + old, data, size * n);
	(*text)[old + size * n] = '\0';
	return size * n;
}

/* A number from the server's GET /stats at a dotted path. */
static double stat_of(const struct server *s, const char *path)
{
	char url[160], *text = NULL;
	snprintf(url, sizeof(url), "%s/stats", s->base);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &text);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	cJSON *root = cJSON_Parse(text);
	free(text);
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	const cJSON *cur = root;
	for (char *save = NULL, *part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save))
		cur = cJSON_GetObjectItemCaseSensitive(cur, part);
	double v = cJSON_IsNumber(cur) ? cur->valuedouble : -1;
	cJSON_Delete(root);
	return v;
}

/* ---- running one job ---- */

struct logbook {
	char text[16384];
};

static void log_into(void *ctx, const char *line)
{
	struct logbook *lb = ctx;
	size_t n = strlen(lb->text);
	snprintf(lb->text + n, sizeof(lb->text) - n, "%s\n", line);
}

struct run {
	struct loop *loop;
	struct gate *gate;
	struct provider *p;
	struct job job;
	struct gen_params params;
	char *user;
	int done;
	struct logbook log;
	long elapsed_ms;
};

static void on_done(struct job *job)
{
	(*(int *)job->owner)++;
}

enum which { ANTHROPIC, OPENAI_CHAT, OPENAI_EMBED };

static void run_init(struct run *r, enum which which, const char *base, int retries, long timeout_ms)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop_new();
	assert_non_null(r->loop);
	r->gate = gate_new(10);
	struct net_config cfg = {.base_url = base, .api_key = KEY, .retries = retries, .timeout_ms = timeout_ms,
	                         .connect_timeout_ms = 2000, .log = log_into, .log_ctx = &r->log, .gate = r->gate};
	char err[256] = "";
	r->p = which == ANTHROPIC ? anthropic_provider_new(r->loop, &cfg, err, sizeof(err))
	       : which == OPENAI_CHAT ? openai_chat_provider_new(r->loop, &cfg, err, sizeof(err))
	                              : openai_embed_provider_new(r->loop, &cfg, err, sizeof(err));
	assert_non_null(r->p);
	r->params.model = which == ANTHROPIC ? "claude-haiku-4-5" : which == OPENAI_CHAT ? "gpt-4o-mini"
	                                                                                 : "text-embedding-3-small";
	r->params.max_tokens = 4000;
	r->params.temperature = 0;
	r->job.params = &r->params;
	r->job.label = "summary 1 EXT. PIER - DUSK";
	r->job.script = &script;
	r->job.done = on_done;
	r->job.owner = &r->done;
}

static void prepare_llm(struct run *r, enum step_kind kind, const cJSON *const *summaries, size_t n)
{
	r->job.kind = kind;
	r->job.scene = 1;
	r->job.character = 0;
	r->job.summaries = summaries;
	r->job.nsummaries = n;
	r->job.system = prompt_system(kind);
	r->job.tool_name = prompt_tool_name(kind);
	r->job.tool_description = prompt_tool_description(kind);
	r->job.schema = prompt_schema(kind);
	r->user = prompt_render(&r->job);
	r->job.user = r->user;
}

/* Starts the job and drives the loop until it completes (or 20 s pass). */
static void run_job(struct run *r)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(r->p->start(r->p, &r->job), 0);
	assert_int_equal(r->done, 0);
	assert_int_equal(loop_pending(r->loop), 1);
	for (int i = 0; i < 400 && loop_pending(r->loop) > 0; i++)
		loop_run_once(r->loop, 50);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_int_equal(r->done, 1);
	assert_int_equal(loop_pending(r->loop), 0);
	assert_null(strstr(r->job.error, KEY));
	assert_null(strstr(r->log.text, KEY));
}

static void run_free(struct run *r)
{
	r->p->destroy(r->p);
	loop_free(r->loop);
	gate_free(r->gate);
	free(r->user);
	free(r->job.output);
	free(r->job.vectors);
}

static int stop_leftover_servers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (live[i].pid) {
			struct server copy = live[i];
			stop_server(&copy);
		}
	return 0;
}

/* ---- tests against the fake server ---- */

static void assert_summary_output(const struct run *r)
{
	assert_int_equal(r->job.status, JOB_OK);
	assert_non_null(r->job.output);
	cJSON *out = cJSON_Parse(r->job.output);
	assert_true(cJSON_IsObject(out));
	assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(out, "summary")));
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(out, "props")));
	cJSON_Delete(out);
	assert_true(r->job.tokens_in > 0);
	assert_true(r->job.tokens_out > 0);
	assert_int_equal(r->job.requests, 1);
	assert_int_equal(r->job.retries, 0);
}

static void assert_summary_output_after_retry(const struct run *r)
{
	assert_int_equal(r->job.status, JOB_OK);
	assert_int_equal(r->job.requests, 2);
	assert_int_equal(r->job.retries, 1);
	cJSON *out = cJSON_Parse(r->job.output);
	assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(out, "summary")));
	cJSON_Delete(out);
}

static void test_anthropic_summary(void **state)
{
	(void)state;
	struct server s;
	start_server(&s, NULL);
	struct run r;
	run_init(&r, ANTHROPIC, s.base, 4, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_summary_output(&r);
	assert_int_equal((int)stat_of(&s, "by_kind.summary"), 1);
	assert_int_equal((int)stat_of(&s, "rejected"), 0);
	assert_non_null(strstr(r.log.text, "POST /v1/messages -> HTTP 200"));
	assert_non_null(strstr(r.log.text, "request-id req_"));
	run_free(&r);
	stop_server(&s);
}

static void test_openai_chat_summary_outline_sheet(void **state)
{
	(void)state;
	struct server s;
	start_server(&s, NULL);
	struct run r;
	run_init(&r, OPENAI_CHAT, s.openai_base, 4, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_summary_output(&r);
	assert_non_null(strstr(r.log.text, "POST /v1/chat/completions -> HTTP 200"));

	cJSON *s1 = cJSON_Parse(r.job.output), *s2 = cJSON_Parse(r.job.output);
	const cJSON *sums[] = {s1, s2};
	enum step_kind kinds[] = {STEP_OUTLINE, STEP_SHEET};
	for (int k = 0; k < 2; k++) {
		free(r.user);
		free(r.job.output);
		r.job.output = NULL;
		r.done = 0;
		r.job.requests = r.job.retries = 0;
		prepare_llm(&r, kinds[k], sums, 2);
		run_job(&r);
		assert_int_equal(r.job.status, JOB_OK);
		assert_non_null(r.job.output);
	}
	assert_int_equal((int)stat_of(&s, "by_kind.outline"), 1);
	assert_int_equal((int)stat_of(&s, "by_kind.sheet"), 1);
	assert_int_equal((int)stat_of(&s, "rejected"), 0);
	cJSON_Delete(s1);
	cJSON_Delete(s2);
	run_free(&r);
	stop_server(&s);
}

static void embed(struct run *r, const char *const *texts, size_t n, int dims)
{
	r->job.kind = STEP_EMBEDDING;
	r->job.label = "embedding batch";
	r->job.texts = texts;
	r->job.ntexts = n;
	r->params.dims = dims;
	r->done = 0;
	free(r->job.vectors);
	r->job.vectors = NULL;
	run_job(r);
}

static void test_embeddings_placed_by_index(void **state)
{
	(void)state;
	struct server s;
	const char *flags[] = {"--shuffle-embeddings", NULL};
	start_server(&s, flags);
	struct run r;
	run_init(&r, OPENAI_EMBED, s.openai_base, 4, 5000);
	const char *texts[] = {"The pier at dusk.", "A boathouse at night.", "Tide tables read aloud."};
	embed(&r, texts, 3, 64);
	assert_int_equal(r.job.status, JOB_OK);
	assert_int_equal(r.job.dims, 64);
	float batch[3][64];
	memcpy(batch, r.job.vectors, sizeof(batch));
	assert_true(r.job.tokens_in > 0);
	/* The server answers in reverse order; each row must still be its own text's vector. */
	for (int i = 0; i < 3; i++) {
		embed(&r, &texts[i], 1, 64);
		assert_int_equal(r.job.status, JOB_OK);
		assert_memory_equal(batch[i], r.job.vectors, sizeof(batch[i]));
	}
	assert_int_equal((int)stat_of(&s, "embedding_inputs"), 6);
	assert_int_equal((int)stat_of(&s, "requests.embeddings"), 4);
	run_free(&r);
	stop_server(&s);
}

static void test_embeddings_wrong_count_fails(void **state)
{
	(void)state;
	struct server s;
	/* The fake's max_tokens fault on embeddings drops the last vector. */
	const char *flags[] = {"--faults", "max_tokens", "--fail-first", "1", NULL};
	start_server(&s, flags);
	struct run r;
	run_init(&r, OPENAI_EMBED, s.openai_base, 0, 5000);
	const char *texts[] = {"one", "two"};
	embed(&r, texts, 2, 0);
	assert_int_equal(r.job.status, JOB_FAILED);
	assert_null(r.job.vectors);
	assert_non_null(strstr(r.job.error, "embedding batch: openai returned 1 embeddings for 2 inputs"));
	run_free(&r);
	stop_server(&s);
}

/* POSTs body to the fake's /v1/embeddings with plain libcurl, not through a provider; the 200 answer's text. */
static char *post_embeddings(const struct server *s, const char *body)
{
	char url[160], auth[128], *text = NULL;
	snprintf(url, sizeof(url), "%s/embeddings", s->openai_base);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", KEY);
	struct curl_slist *headers = curl_slist_append(curl_slist_append(NULL, auth), "Content-Type: application/json");
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &text);
	long code = 0;
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	assert_int_equal(rc, CURLE_OK);
	assert_int_equal(code, 200);
	assert_non_null(text);
	return text;
}

/* Reads an embeddings answer body for ntexts inputs (dims wanted, 0: any) as the provider does; the verdict, with
 * the vectors (the caller's) in *vectors and their width in *width, or why not in cause. */
static enum net_answer read_embeddings(const char *body, size_t ntexts, int dims, float **vectors, size_t *width,
                                       char *cause, size_t len)
{
	struct gen_params params = {.model = "text-embedding-3-small", .dims = dims};
	struct job job = {.kind = STEP_EMBEDDING, .label = "embedding batch", .params = &params, .ntexts = ntexts};
	struct http_result result = {.status = 200, .body = body, .body_len = strlen(body), .request_id = ""};
	cause[0] = '\0';
	enum net_answer verdict = openai_take_embeddings(&job, &result, NULL, cause, len);
	*vectors = job.vectors;
	*width = job.dims;
	return verdict;
}

static float *take_embeddings(const char *body, size_t ntexts, size_t dims)
{
	float *vectors;
	size_t width;
	char cause[400];
	if (read_embeddings(body, ntexts, 0, &vectors, &width, cause, sizeof(cause)) != NET_ANSWER_OK)
		fail_msg("the embeddings answer was refused: %s", cause);
	assert_int_equal(width, dims);
	return vectors;
}

static void test_embeddings_base64_equal_float_answer(void **state)
{
	(void)state;
	struct server s;
	start_server(&s, NULL);
	struct run r;
	run_init(&r, OPENAI_EMBED, s.openai_base, 0, 5000);
	const char *texts[] = {"The pier at dusk.", "A boathouse at night.", "Tide tables read aloud."};
	embed(&r, texts, 3, 0);
	assert_int_equal(r.job.status, JOB_OK);
	assert_int_equal(r.job.dims, 1536);

	/* What the server says as JSON numbers, parsed here on their own and narrowed to float32. */
	const char *request = "{\"model\":\"text-embedding-3-small\",\"input\":[\"The pier at dusk.\","
	                      "\"A boathouse at night.\",\"Tide tables read aloud.\"],\"encoding_format\":\"%s\"}";
	char body[256];
	snprintf(body, sizeof(body), request, "float");
	char *float_answer = post_embeddings(&s, body);
	cJSON *root = cJSON_Parse(float_answer);
	const cJSON *item;
	static float expected[3 * 1536];
	size_t rows = 0;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "data")) {
		int index = cJSON_GetObjectItemCaseSensitive(item, "index")->valueint;
		const cJSON *vec = cJSON_GetObjectItemCaseSensitive(item, "embedding"), *x;
		assert_true(index >= 0 && index < 3);
		assert_int_equal(cJSON_GetArraySize(vec), 1536);
		size_t d = 0;
		cJSON_ArrayForEach(x, vec)
			expected[(size_t)index * 1536 + d++] = (float)x->valuedouble;
		rows++;
	}
	cJSON_Delete(root);
	assert_int_equal(rows, 3);
	/* The provider asked for base64 and must hold the very same float32 bits. */
	assert_memory_equal(r.job.vectors, expected, sizeof(expected));

	/* Both encodings of one answer, read by the provider's reader, agree bit for bit. */
	snprintf(body, sizeof(body), request, "base64");
	char *base64_answer = post_embeddings(&s, body);
	assert_non_null(strstr(base64_answer, "\"index\":0,\"embedding\":\""));
	assert_true(strlen(base64_answer) < strlen(float_answer) / 2);
	float *from_base64 = take_embeddings(base64_answer, 3, 1536), *from_float = take_embeddings(float_answer, 3, 1536);
	assert_memory_equal(from_base64, expected, sizeof(expected));
	assert_memory_equal(from_float, expected, sizeof(expected));
	free(from_base64);
	free(from_float);
	free(base64_answer);
	free(float_answer);
	assert_int_equal((int)stat_of(&s, "rejected"), 0);
	run_free(&r);
	stop_server(&s);

	/* One answer may mix both forms; a string that is not base64 of whole finite float32s, or of the wrong width,
	 * is refused. "AACAPw==" is 1.0f, "AADAfw==" a NaN. */
	float *vectors;
	size_t width;
	char cause[400];
	assert_int_equal(read_embeddings("{\"data\":[{\"index\":1,\"embedding\":\"AACAPw==\"},"
	                                 "{\"index\":0,\"embedding\":[2.5]}]}", 2, 0, &vectors, &width, cause,
	                                 sizeof(cause)), NET_ANSWER_OK);
	assert_int_equal(width, 1);
	assert_true(vectors[0] == 2.5f && vectors[1] == 1.0f);
	free(vectors);
	static const struct {
		const char *embedding;
		int dims;
		const char *cause;
	} bad[] = {
		{"\"AACAP\"", 0, "for input 0 that is not base64 of whole float32s"},
		{"\"AACA Pw=\"", 0, "for input 0 that is not base64 of whole float32s"},
		{"\"AACAPwAA\"", 0, "for input 0 that is not base64 of whole float32s"},
		{"\"\"", 0, "an embedding of 0 dimensions for input 0"},
		{"\"AADAfw==\"", 0, "beyond float range in the embedding of input 0"},
		{"\"AACAPw==\"", 2, "an embedding of 1 dimensions for input 0 (expected 2)"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"data\":[{\"index\":0,\"embedding\":%s}]}", bad[i].embedding);
		assert_int_equal(read_embeddings(body, 1, bad[i].dims, &vectors, &width, cause, sizeof(cause)),
		                 NET_ANSWER_BAD);
		assert_null(vectors);
		if (!strstr(cause, bad[i].cause))
			fail_msg("%s: cause \"%s\" does not say \"%s\"", body, cause, bad[i].cause);
	}
	assert_int_equal(read_embeddings("{\"data\":[{\"index\":0,\"embedding\":\"AACAPw==\"},"
	                                 "{\"index\":1,\"embedding\":[1,2]}]}", 2, 0, &vectors, &width, cause,
	                                 sizeof(cause)), NET_ANSWER_BAD);
	assert_non_null(strstr(cause, "an embedding of 2 dimensions for input 1 (expected 1)"));
}

static void test_529_then_success(void **state)
{
	(void)state;
	struct server s;
	const char *flags[] = {"--faults", "529", "--fail-first", "1", NULL};
	start_server(&s, flags);
	struct run r;
	run_init(&r, ANTHROPIC, s.base, 4, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_int_equal(r.job.status, JOB_OK);
	assert_int_equal(r.job.requests, 2);
	assert_int_equal(r.job.retries, 1);
	assert_int_equal(gate_congestion(r.gate), 1);
	assert_non_null(strstr(r.log.text, "HTTP 529"));
	assert_non_null(strstr(r.log.text, "retry 1/4 in "));
	assert_int_equal((int)stat_of(&s, "requests.messages"), 2);
	run_free(&r);
	stop_server(&s);
}

static void test_400_not_retried(void **state)
{
	(void)state;
	struct server s;
	start_server(&s, NULL);
	struct run r;
	run_init(&r, ANTHROPIC, s.base, 4, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	r.params.temperature = 1.5;   /* Anthropic takes 0..1 */
	run_job(&r);
	assert_int_equal(r.job.status, JOB_FAILED);
	assert_int_equal(r.job.requests, 1);
	assert_int_equal(r.job.retries, 0);
	assert_non_null(strstr(r.job.error, "summary 1 EXT. PIER - DUSK: anthropic: HTTP 400 invalid_request_error: "
	                                    "temperature"));
	assert_non_null(strstr(r.job.error, "(request-id req_"));
	assert_int_equal((int)stat_of(&s, "rejected"), 1);
	run_free(&r);
	stop_server(&s);
}

static void test_quota_is_fatal_at_once(void **state)
{
	(void)state;
	struct server s;
	const char *flags[] = {"--quota", NULL};
	start_server(&s, flags);
	for (int which = ANTHROPIC; which <= OPENAI_CHAT; which++) {
		struct run r;
		run_init(&r, (enum which)which, which == ANTHROPIC ? s.base : s.openai_base, 4, 5000);
		prepare_llm(&r, STEP_SUMMARY, NULL, 0);
		run_job(&r);
		assert_int_equal(r.job.status, JOB_FATAL);
		assert_int_equal(r.job.requests, 1);
		assert_true(r.elapsed_ms < 1000);
		assert_non_null(strstr(r.job.error, "HTTP 429"));
		assert_non_null(strstr(r.job.error, "quota or spend limit is exhausted"));
		assert_int_equal(gate_congestion(r.gate), 0);
		run_free(&r);
	}
	assert_int_equal((int)stat_of(&s, "requests.total"), 2);
	stop_server(&s);
}

static void test_max_tokens_and_malformed(void **state)
{
	(void)state;
	/* A cut-off answer is not retried as is: with no retries at all it is still asked once more, with twice the
	 * max_tokens. */
	struct server cut;
	const char *cut_flags[] = {"--faults", "max_tokens", "--fail-first", "1", NULL};
	start_server(&cut, cut_flags);
	struct run rc;
	run_init(&rc, ANTHROPIC, cut.base, 0, 5000);
	prepare_llm(&rc, STEP_SUMMARY, NULL, 0);
	run_job(&rc);
	assert_int_equal(rc.job.status, JOB_OK);
	assert_int_equal(rc.job.requests, 2);
	assert_int_equal(rc.job.retries, 0);
	assert_int_equal(rc.job.max_tokens_retries, 1);
	run_free(&rc);
	stop_server(&cut);
	static const char *const faults[] = {"malformed"};
	static const char *const says[] = {"anthropic answered with malformed JSON (HTTP 200, request-id req_"};
	for (int f = 0; f < 1; f++) {
		struct server s;
		const char *flags[] = {"--faults", faults[f], "--fail-first", "1", NULL};
		start_server(&s, flags);
		struct run r;
		run_init(&r, ANTHROPIC, s.base, 0, 5000);
		prepare_llm(&r, STEP_SUMMARY, NULL, 0);
		run_job(&r);
		assert_int_equal(r.job.status, JOB_FAILED);
		assert_null(r.job.output);
		assert_non_null(strstr(r.job.error, says[f]));
		assert_int_equal(r.job.requests, 1);
		run_free(&r);
		stop_server(&s);
		/* With one retry the one bad answer is passed over, and nothing of it is kept. */
		start_server(&s, flags);
		run_init(&r, ANTHROPIC, s.base, 1, 5000);
		prepare_llm(&r, STEP_SUMMARY, NULL, 0);
		run_job(&r);
		assert_summary_output_after_retry(&r);
		run_free(&r);
		stop_server(&s);
	}
}

static void test_max_tokens_retried_within_budget(void **state)
{
	(void)state;
	struct server s;
	const char *flags[] = {"--faults", "max_tokens", "--fail-first", "1", NULL};
	start_server(&s, flags);
	struct run r;
	run_init(&r, OPENAI_CHAT, s.openai_base, 2, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_int_equal(r.job.status, JOB_OK);
	assert_int_equal(r.job.requests, 2);
	assert_int_equal(r.job.max_tokens_retries, 1);
	assert_non_null(strstr(r.log.text, "unusable answer: openai answer was cut off at max_tokens"));
	/* The second request is not the first resent: it asks for twice the tokens, and says so. */
	assert_non_null(strstr(r.log.text, "asking once more with max_tokens 8000"));
	run_free(&r);
	stop_server(&s);
	/* An answer cut off every time is tried once more with doubled max_tokens, not with the whole budget. */
	const char *always[] = {"--faults", "max_tokens", "--fail-first", "100", NULL};
	start_server(&s, always);
	run_init(&r, OPENAI_CHAT, s.openai_base, 8, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_int_equal(r.job.status, JOB_FAILED);
	assert_int_equal(r.job.requests, 2);
	assert_non_null(strstr(r.job.error, "cut off at max_tokens (asked 4000)"));
	assert_non_null(strstr(r.job.error, "after one more try with max_tokens 8000"));
	run_free(&r);
	stop_server(&s);
}

static void test_retry_after_ms_honoured(void **state)
{
	(void)state;
	struct server s;
	/* The fake's 429 says retry-after: 1 and retry-after-ms: 20; the finer one wins over both and our backoff. */
	const char *flags[] = {"--faults", "429", "--fail-first", "1", NULL};
	start_server(&s, flags);
	struct run r;
	run_init(&r, ANTHROPIC, s.base, 4, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_int_equal(r.job.status, JOB_OK);
	assert_int_equal(r.job.retries, 1);
	assert_non_null(strstr(r.log.text, "HTTP 429"));
	assert_non_null(strstr(r.log.text, "retry 1/4 in 20 ms"));
	assert_int_equal(gate_congestion(r.gate), 1);
	run_free(&r);
	stop_server(&s);
}

static void test_should_retry_false_is_obeyed(void **state)
{
	(void)state;
	struct server s;
	const char *flags[] = {"--faults", "500", "--fail-first", "1", "--should-retry", "false", NULL};
	start_server(&s, flags);
	struct run r;
	run_init(&r, OPENAI_CHAT, s.openai_base, 4, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_int_equal(r.job.status, JOB_FAILED);
	assert_int_equal(r.job.requests, 1);
	assert_non_null(strstr(r.job.error, "HTTP 500 server_error"));
	run_free(&r);
	stop_server(&s);
}

static void test_timeout_then_retry(void **state)
{
	(void)state;
	struct server s;
	const char *flags[] = {"--faults", "timeout", "--fail-first", "1", "--timeout-sleep-ms", "2000", NULL};
	start_server(&s, flags);
	struct run r;
	run_init(&r, ANTHROPIC, s.base, 0, 500);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_int_equal(r.job.status, JOB_FAILED);
	assert_non_null(strstr(r.job.error, "no answer from /v1/messages"));
	assert_true(r.elapsed_ms < 1500);
	run_free(&r);
	run_init(&r, ANTHROPIC, s.base, 1, 500);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_int_equal(r.job.status, JOB_OK);
	run_free(&r);
	stop_server(&s);
}

static void test_truncated_body_and_reset_are_retried(void **state)
{
	(void)state;
	struct server s;
	const char *flags[] = {"--faults", "truncated,reset", "--fail-first", "2", NULL};
	start_server(&s, flags);
	struct run r;
	run_init(&r, ANTHROPIC, s.base, 4, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_int_equal(r.job.status, JOB_OK);
	assert_int_equal(r.job.retries, 2);
	assert_non_null(strstr(r.log.text, "no answer ("));
	run_free(&r);
	stop_server(&s);
}

static void test_wrong_key_is_fatal_and_never_shown(void **state)
{
	(void)state;
	struct server s;
	const char *flags[] = {"--anthropic-key", "the-right-key", "--openai-key", "the-right-key", NULL};
	start_server(&s, flags);
	for (int which = ANTHROPIC; which <= OPENAI_CHAT; which++) {
		struct run r;
		run_init(&r, (enum which)which, which == ANTHROPIC ? s.base : s.openai_base, 4, 5000);
		prepare_llm(&r, STEP_SUMMARY, NULL, 0);
		run_job(&r);
		assert_int_equal(r.job.status, JOB_FATAL);
		assert_int_equal(r.job.requests, 1);
		assert_non_null(strstr(r.job.error, "HTTP 401"));
		/* The variable that held the key and the endpoint that refused it. */
		assert_non_null(strstr(r.job.error, which == ANTHROPIC ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY"));
		assert_non_null(strstr(r.job.error, which == ANTHROPIC ? "/v1/messages" : "/v1/chat/completions"));
		assert_non_null(strstr(r.log.text, "HTTP 401"));
		run_free(&r);
	}
	stop_server(&s);
}

static void test_abort_cancels_in_flight(void **state)
{
	(void)state;
	struct server s;
	const char *flags[] = {"--latency", "3000", NULL};
	start_server(&s, flags);
	struct run r;
	run_init(&r, ANTHROPIC, s.base, 4, 10000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	assert_int_equal(r.p->start(r.p, &r.job), 0);
	loop_run_once(r.loop, 100);
	assert_int_equal(r.done, 0);
	loop_abort(r.loop);
	loop_run_once(r.loop, 100);
	assert_int_equal(r.done, 1);
	assert_int_equal(r.job.status, JOB_FAILED);
	assert_non_null(strstr(r.job.error, "cancelled"));
	/* Nothing new starts once the run stopped. */
	r.done = 0;
	assert_int_equal(r.p->start(r.p, &r.job), -1);
	assert_int_equal(loop_pending(r.loop), 0);
	run_free(&r);
	stop_server(&s);
}

/* ---- a scripted loopback server for faults the fake does not make ---- */

static const char answer_ok[] =
	"{\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"record_scene_summary\",\"input\":{"
	"\"summary\":\"Iris speaks.\",\"goal\":\"\",\"conflict\":\"\",\"outcome\":\"\",\"turning_point\":\"\","
	"\"mood\":\"\",\"story_function\":\"\",\"props\":[]}}],\"stop_reason\":\"tool_use\","
	"\"usage\":{\"input_tokens\":10,\"output_tokens\":5}}";

/* Answers one connection per entry of heads, in order: each head (status line and headers, no blank line) then,
 * for the last one, answer_ok, else an empty JSON object. */
static pid_t scripted_server(const char *const *heads, int n, char *base, size_t baselen)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 8), 0);
	socklen_t len = sizeof(addr);
	getsockname(fd, (struct sockaddr *)&addr, &len);
	snprintf(base, baselen, "http://127.0.0.1:%d", ntohs(addr.sin_port));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		close(fd);
		return pid;
	}
	for (int i = 0; i < n; i++) {
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			_exit(1);
		/* Read the head, then the body its content-length announces. */
		char req[65536];
		size_t got = 0;
		char *end = NULL;
		while (!end && got < sizeof(req) - 1) {
			ssize_t k = read(c, req + got, sizeof(req) - 1 - got);
			if (k <= 0)
				break;
			got += (size_t)k;
			req[got] = '\0';
			end = strstr(req, "\r\n\r\n");
		}
		const char *cl = strstr(req, "ontent-Length: ");
		size_t want = end ? (size_t)(end + 4 - req) + (cl ? (size_t)atol(cl + 15) : 0) : 0;
		while (got < want && got < sizeof(req) - 1) {
			ssize_t k = read(c, req + got, sizeof(req) - 1 - got);
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		const char *body = i == n - 1 ? answer_ok : "{}";
		char out[4096];
		int m = snprintf(out, sizeof(out), "%s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n"
		                                   "connection: close\r\n\r\n%s", heads[i], strlen(body), body);
		if (write(c, out, (size_t)m) != m)
			_exit(1);
		close(c);
	}
	_exit(0);
}

static long retry_wait_logged(const struct run *r)
{
	const char *p = strstr(r->log.text, "retry 1/4 in ");
	assert_non_null(p);
	return atol(p + strlen("retry 1/4 in "));
}

static void test_retry_after_forms(void **state)
{
	(void)state;
	char date[64], head[128], base[64];
	time_t soon = time(NULL) + 2;
	struct tm tm;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&soon, &tm));
	snprintf(head, sizeof(head), "HTTP/1.1 503 Service Unavailable\r\nretry-after: %s", date);
	const char *const by_date[] = {head, "HTTP/1.1 200 OK"};
	const char *const too_long[] = {"HTTP/1.1 503 Service Unavailable\r\nretry-after: 3600", "HTTP/1.1 200 OK"};
	const char *const told_to[] = {"HTTP/1.1 422 Unprocessable Entity\r\nx-should-retry: true", "HTTP/1.1 200 OK"};
	const char *const told_not[] = {"HTTP/1.1 503 Service Unavailable\r\nx-should-retry: false"};
	struct run r;

	pid_t pid = scripted_server(by_date, 2, base, sizeof(base));
	run_init(&r, ANTHROPIC, base, 4, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_int_equal(r.job.status, JOB_OK);
	/* An HTTP date two seconds ahead, in whole seconds: one or two seconds, never our own 0.5 s backoff. */
	long wait = retry_wait_logged(&r);
	assert_true(wait >= 1000 && wait <= 2000);
	assert_true(r.elapsed_ms >= wait);
	run_free(&r);
	waitpid(pid, NULL, 0);

	pid = scripted_server(too_long, 2, base, sizeof(base));
	run_init(&r, ANTHROPIC, base, 4, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_int_equal(r.job.status, JOB_OK);
	/* An hour is not advice to follow: our own first backoff instead. */
	wait = retry_wait_logged(&r);
	assert_true(wait >= 375 && wait <= 500);
	run_free(&r);
	waitpid(pid, NULL, 0);

	pid = scripted_server(told_to, 2, base, sizeof(base));
	run_init(&r, ANTHROPIC, base, 4, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_int_equal(r.job.status, JOB_OK);
	assert_int_equal(r.job.retries, 1);
	assert_int_equal(r.job.tokens_out, 5);
	run_free(&r);
	waitpid(pid, NULL, 0);

	pid = scripted_server(told_not, 1, base, sizeof(base));
	run_init(&r, ANTHROPIC, base, 4, 5000);
	prepare_llm(&r, STEP_SUMMARY, NULL, 0);
	run_job(&r);
	assert_int_equal(r.job.status, JOB_FAILED);
	assert_int_equal(r.job.requests, 1);
	assert_non_null(strstr(r.job.error, "anthropic: HTTP 503: {\"content\""));
	run_free(&r);
	waitpid(pid, NULL, 0);
}

/* ---- no server needed ---- */

static void test_connection_refused_names_the_endpoint(void **state)
{
	(void)state;
	/* A port that was just free: bound, then closed, so nothing listens on it. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	socklen_t len = sizeof(addr);
	getsockname(fd, (struct sockaddr *)&addr, &len);
	close(fd);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/v1", ntohs(addr.sin_port));
	struct run r;
	run_init(&r, OPENAI_EMBED, base, 0, 2000);
	const char *texts[] = {"x"};
	embed(&r, texts, 1, 0);
	assert_int_equal(r.job.status, JOB_FAILED);
	assert_non_null(strstr(r.job.error, "embedding batch: openai: no answer from /v1/embeddings"));
	run_free(&r);
}

static void test_constructors_need_a_key(void **state)
{
	(void)state;
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("OPENAI_BASE_URL");
	struct loop *l = loop_new();
	struct net_config cfg = {.retries = -1};
	char err[256];
	assert_null(anthropic_provider_new(l, &cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "ANTHROPIC_API_KEY"));
	assert_null(openai_embed_provider_new(l, &cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "OPENAI_API_KEY"));
	/* A local OpenAI-compatible server needs none. */
	cfg.base_url = "http://127.0.0.1:8080/v1";
	struct provider *p = openai_chat_provider_new(l, &cfg, err, sizeof(err));
	assert_non_null(p);
	p->destroy(p);
	cfg.base_url = "ftp://example";
	assert_null(openai_chat_provider_new(l, &cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "must start with http:// or https://"));
	loop_free(l);
	assert_string_equal(net_default_model("anthropic", STEP_SUMMARY), "claude-haiku-4-5");
	assert_string_equal(net_default_model("openai", STEP_EMBEDDING), "text-embedding-3-small");
	assert_string_equal(net_default_model("openai", STEP_OUTLINE), "gpt-4o-mini");
	assert_null(net_default_model("anthropic", STEP_EMBEDDING));
	assert_true(net_default_max_tokens(STEP_OUTLINE) > net_default_max_tokens(STEP_SUMMARY));
}

static void test_retry_rules(void **state)
{
	(void)state;
	static const long retried[] = {408, 409, 429, 500, 502, 503, 529};
	static const long never[] = {400, 401, 403, 404, 413, 422};
	for (size_t i = 0; i < sizeof(retried) / sizeof(retried[0]); i++) {
		assert_true(http_retryable(retried[i], -1, false));
		assert_false(http_retryable(retried[i], 0, false));
		assert_false(http_retryable(retried[i], -1, true));
	}
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		assert_false(http_retryable(never[i], -1, false));
	assert_false(http_retryable(400, 1, false));
	assert_true(http_retryable(422, 1, false));
	for (int n = 0; n < 10; n++) {
		long cap = n >= 4 ? 8000 : 500L << n;
		long w = http_backoff_ms(n);
		assert_true(w <= cap && w >= cap * 3 / 4);
	}
}

static void test_quota_bodies(void **state)
{
	(void)state;
	const char *openai = "{\"error\":{\"message\":\"You exceeded your current quota, please check your plan.\","
	                     "\"type\":\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"}}";
	const char *billing = "{\"error\":{\"message\":\"x\",\"type\":\"requests\",\"code\":\"billing_hard_limit_reached\"}}";
	const char *spend = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"m\","
	                    "\"details\":{\"error_code\":\"enforced_spend_limit_reached\"}}}";
	const char *credit = "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Your "
	                     "credit balance is too low to access the Anthropic API.\"}}";
	const char *rate = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Number of "
	                   "requests has exceeded your per-minute rate limit\"}}";
	assert_true(http_quota_exhausted(429, openai, strlen(openai)));
	assert_true(http_quota_exhausted(429, billing, strlen(billing)));
	assert_true(http_quota_exhausted(429, spend, strlen(spend)));
	assert_true(http_quota_exhausted(400, credit, strlen(credit)));
	assert_false(http_quota_exhausted(429, rate, strlen(rate)));
	assert_false(http_quota_exhausted(500, openai, strlen(openai)));
	assert_false(http_quota_exhausted(429, "<html>", 6));
}

static void test_scrub(void **state)
{
	(void)state;
	struct http_client c = {.secret = KEY};
	char text[200];
	snprintf(text, sizeof(text), "Incorrect API key provided: %s. Again: %s!", KEY, KEY);
	http_scrub(&c, text);
	assert_string_equal(text, "Incorrect API key provided: [key]. Again: [key]!");
	struct http_result r = {.status = 401, .request_id = "req_1", .requests = 1};
	char body[200];
	snprintf(body, sizeof(body), "{\"error\":{\"type\":\"authentication_error\",\"message\":\"bad key %s\"}}", KEY);
	r.body = body;
	r.body_len = strlen(body);
	char out[300];
	http_describe(&c, &r, out, sizeof(out));
	assert_string_equal(out, "HTTP 401 authentication_error: bad key [key] (request-id req_1)");
}

/* A proxy's error page that echoes the request headers, with the key straddling where the excerpt is cut. */
static void test_describe_never_leaks_a_cut_key(void **state)
{
	(void)state;
	const char *key = "sk-test-SECRETKEY0123456789abcdefghijklmnop";
	struct http_client client = {.url = "http://127.0.0.1:1/v1/messages", .path = "/v1/messages", .secret = key};
	for (size_t at = 100; at < 170; at++) {
		char body[512];
		memset(body, 'x', at);
		snprintf(body + at, sizeof(body) - at, "%s and more", key);
		struct http_result r = {.status = 400, .body = body, .body_len = strlen(body), .request_id = ""};
		char buf[512];
		http_describe(&client, &r, buf, sizeof(buf));
		if (strstr(buf, "sk-test-SECR"))
			fail_msg("a piece of the key leaked with the key at byte %zu: %s", at, buf);
	}
	char tail[64] = "HTTP 400: sk-test-SECRETKEY0123";
	http_scrub(&client, tail);
	assert_null(strstr(tail, "SECRETKEY"));

	/* A request-id header of 107 characters followed by the key, kept to 127 bytes: the key is cut mid-way and the
	 * message goes on after it. */
	struct http_result r = {.status = 500, .body = "{}", .body_len = 2};
	char id[128];
	memset(id, 'r', 107);
	memcpy(id + 107, key, 20);
	id[127] = '\0';
	r.request_id = id;
	r.requests = 3;
	char buf[512];
	http_describe(&client, &r, buf, sizeof(buf));
	if (strstr(buf, "sk-test-SECR") || !strstr(buf, "gave up after 3 attempts"))
		fail_msg("a cut request-id leaked a piece of the key: %s", buf);
	/* An excerpt cut at 80 characters, in the middle of a sentence, and one that starts mid-key. */
	char excerpt[200];
	snprintf(excerpt, sizeof(excerpt), "answered text: \"%.80s\" (HTTP 200)", "The key is sk-test-SECRETKEY0123456789abcdefghijklmnop, do not share");
	http_scrub(&client, excerpt);
	if (strstr(excerpt, "SECRETKEY"))
		fail_msg("an excerpt leaked a piece of the key: %s", excerpt);
	char starts[100] = "...0123456789abcdefghijklmnop and the rest";
	http_scrub(&client, starts);
	if (strstr(starts, "89abcdefghij"))
		fail_msg("the end of a key leaked: %s", starts);
	/* Eight characters of the key's start are masked wherever they are (a cut cannot be told from a coincidence);
	 * seven stay. */
	char innocent[64] = "sk-test-other and sk-test";
	http_scrub(&client, innocent);
	assert_string_equal(innocent, "[key]other and sk-test");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_retry_rules, stop_leftover_servers),
		cmocka_unit_test_teardown(test_quota_bodies, stop_leftover_servers),
		cmocka_unit_test_teardown(test_scrub, stop_leftover_servers),
		cmocka_unit_test(test_describe_never_leaks_a_cut_key),
		cmocka_unit_test_teardown(test_constructors_need_a_key, stop_leftover_servers),
		cmocka_unit_test_teardown(test_connection_refused_names_the_endpoint, stop_leftover_servers),
		cmocka_unit_test_teardown(test_anthropic_summary, stop_leftover_servers),
		cmocka_unit_test_teardown(test_openai_chat_summary_outline_sheet, stop_leftover_servers),
		cmocka_unit_test_teardown(test_embeddings_placed_by_index, stop_leftover_servers),
		cmocka_unit_test_teardown(test_embeddings_wrong_count_fails, stop_leftover_servers),
		cmocka_unit_test_teardown(test_embeddings_base64_equal_float_answer, stop_leftover_servers),
		cmocka_unit_test_teardown(test_529_then_success, stop_leftover_servers),
		cmocka_unit_test_teardown(test_400_not_retried, stop_leftover_servers),
		cmocka_unit_test_teardown(test_quota_is_fatal_at_once, stop_leftover_servers),
		cmocka_unit_test_teardown(test_max_tokens_and_malformed, stop_leftover_servers),
		cmocka_unit_test_teardown(test_max_tokens_retried_within_budget, stop_leftover_servers),
		cmocka_unit_test_teardown(test_retry_after_ms_honoured, stop_leftover_servers),
		cmocka_unit_test_teardown(test_should_retry_false_is_obeyed, stop_leftover_servers),
		cmocka_unit_test_teardown(test_timeout_then_retry, stop_leftover_servers),
		cmocka_unit_test_teardown(test_truncated_body_and_reset_are_retried, stop_leftover_servers),
		cmocka_unit_test_teardown(test_wrong_key_is_fatal_and_never_shown, stop_leftover_servers),
		cmocka_unit_test_teardown(test_abort_cancels_in_flight, stop_leftover_servers),
		cmocka_unit_test_teardown(test_retry_after_forms, stop_leftover_servers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
