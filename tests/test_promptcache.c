/* test_promptcache.c - Anthropic prompt caching: the fake server's cache as documented (usage fields, breakpoints,
 * minimum lengths, look-back, lifetime), and scriptbuild's edit loop against it: an edit re-reads the unchanged prefix
 * from the service's cache, the report and the summary line say what was read and written, the cost uses the
 * multipliers, and --prompt-cache is transport: changing it re-runs nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "fakeserver.h"
#include "net.h"

#define ANTHROPIC_KEY "sk-ant-TESTKEY-promptcache-5a1d"
#define OPENAI_KEY "sk-openai-TESTKEY-promptcache-9c3e"

/* ---- the fake server's cache, spoken to directly ---- */

/* POSTs body to /v1/messages as the SDKs do; the parsed answer, its status in *status. */
static cJSON *messages(struct fake *f, const char *body, long *status)
{
	char url[256];
	snprintf(url, sizeof(url), "%s/v1/messages", f->base);
	struct { char *p; size_t len; } b = {NULL, 0};
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "content-type: application/json");
	h = curl_slist_append(h, "anthropic-version: 2023-06-01");
	h = curl_slist_append(h, "x-api-key: " ANTHROPIC_KEY);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	cJSON *j = b.p ? cJSON_Parse(b.p) : NULL;
	free(b.p);
	assert_non_null(j);
	return j;
}

/* A request of nblocks user text blocks of bytes each (block i's text says i and version), with cache_control on the
 * blocks listed in marks (-1 ends the list) with ttl (NULL: the default). */
static char *request(const char *model, int nblocks, size_t bytes, const int *marks, const char *ttl, int changed,
                     const char *version)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "model", model);
	cJSON_AddNumberToObject(root, "max_tokens", 100);
	cJSON *msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "role", "user");
	cJSON *content = cJSON_AddArrayToObject(msg, "content");
	char *text = malloc(bytes + 1);
	for (int i = 0; i < nblocks; i++) {
		memset(text, 'a' + i % 26, bytes);
		int n = snprintf(text, bytes, "block %d %s ", i, i == changed ? version : "v1");
		text[n] = ' ';
		text[bytes] = '\0';
		cJSON *block = cJSON_CreateObject();
		cJSON_AddStringToObject(block, "type", "text");
		cJSON_AddStringToObject(block, "text", text);
		for (const int *m = marks; *m >= 0; m++)
			if (*m == i) {
				cJSON *cc = cJSON_AddObjectToObject(block, "cache_control");
				cJSON_AddStringToObject(cc, "type", "ephemeral");
				if (ttl)
					cJSON_AddStringToObject(cc, "ttl", ttl);
			}
		cJSON_AddItemToArray(content, block);
	}
	free(text);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "messages"), msg);
	char *body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return body;
}

struct usage {
	double input, read, write, write_1h, total;
};

static struct usage send_usage(struct fake *f, const char *body)
{
	long status = 0;
	cJSON *a = messages(f, body, &status);
	assert_int_equal(status, 200);
	struct usage u = {json_number(a, "usage.input_tokens"), json_number(a, "usage.cache_read_input_tokens"),
	                  json_number(a, "usage.cache_creation_input_tokens"),
	                  json_number(a, "usage.cache_creation.ephemeral_1h_input_tokens"), 0};
	u.total = u.input + u.read + u.write;
	cJSON_Delete(a);
	return u;
}

static void test_fake_cache_as_documented(void **state)
{
	(void)state;
	struct fake f;
	char *dir = new_dir();
	const char *flags[] = {"--anthropic-key", ANTHROPIC_KEY, "--prompt-cache-5m-ms", "2000", NULL};
	new_server(&f, dir, flags);
	/* 30 blocks of 500 bytes (125 tokens each); breakpoints after blocks 9 and 29. */
	const int marks[] = {9, 29, -1};
	char *cold = request("claude-sonnet-4-5", 30, 500, marks, NULL, -1, "v1");
	struct usage u = send_usage(&f, cold);
	assert_true(u.total > 3750);
	assert_int_equal((long)u.read, 0);
	/* Written up to the last breakpoint: 30 blocks' text, 3750 tokens (the JSON around them is not a prefix). */
	assert_int_equal((long)u.write, 3750);
	assert_int_equal((long)u.input, (long)(u.total - 3750));
	/* The same prefix again: read, at a tenth of the price, nothing written. */
	struct usage again = send_usage(&f, cold);
	assert_int_equal((long)again.read, 3750);
	assert_int_equal((long)again.write, 0);
	assert_int_equal((long)again.total, (long)u.total);
	/* Block 20 edited: the entry at the breakpoint after block 9 is read, the rest written anew. */
	char *edited = request("claude-sonnet-4-5", 30, 500, marks, NULL, 20, "v2");
	struct usage e = send_usage(&f, edited);
	assert_int_equal((long)e.read, 1250);
	assert_int_equal((long)e.write, 2500);
	/* The look-back: a breakpoint only at block 29 finds the entry written at block 9, 20 boundaries before it (the
	 * limit); with 31 blocks and the breakpoint at block 30, block 9 is out of reach. */
	const int last_only[] = {29, -1};
	char *far = request("claude-sonnet-4-5", 30, 500, last_only, NULL, 25, "v3");
	struct usage lf = send_usage(&f, far);
	assert_int_equal((long)lf.read, 1250);   /* block 9's entry, exactly 20 boundaries before block 29 */
	char *too_far = request("claude-sonnet-4-5", 31, 500, (const int[]){30, -1}, NULL, 25, "v4");
	struct usage tf = send_usage(&f, too_far);
	assert_int_equal((long)tf.read, 0);      /* 21 back: out of the look-back */
	assert_int_equal((long)tf.write, 3875);
	/* Haiku 4.5 caches nothing shorter than 4,096 tokens; Sonnet from 1,024 (block 9's prefix, 1,250, is enough). */
	char *haiku = request("claude-haiku-4-5", 30, 500, marks, NULL, -1, "v1");
	struct usage h = send_usage(&f, haiku);
	assert_int_equal((long)h.write, 0);
	assert_int_equal((long)h.read, 0);
	char *short_prompt = request("claude-sonnet-4-5", 5, 500, (const int[]){4, -1}, NULL, -1, "v1");
	struct usage s = send_usage(&f, short_prompt);
	assert_int_equal((long)s.write, 0);
	/* One hour: the split says so. */
	char *hour = request("claude-sonnet-4-5", 12, 500, (const int[]){11, -1}, "1h", 3, "hour");
	struct usage hr = send_usage(&f, hour);
	assert_int_equal((long)hr.write, 1500);
	assert_int_equal((long)hr.write_1h, 1500);
	/* The lifetime (2 s here): after it, the prefix is written again. */
	struct timespec nap = {2, 300000000};
	nanosleep(&nap, NULL);
	struct usage later = send_usage(&f, cold);
	assert_int_equal((long)later.read, 0);
	assert_int_equal((long)later.write, 3750);
	/* At most four breakpoints, as the API says. */
	char *five = request("claude-sonnet-4-5", 30, 500, (const int[]){1, 2, 3, 4, 5, -1}, NULL, -1, "v1");
	long status = 0;
	cJSON *refused = messages(&f, five, &status);
	assert_int_equal(status, 400);
	char *said = cJSON_PrintUnformatted(refused);
	assert_non_null(strstr(said, "A maximum of 4 blocks with cache_control"));
	free(said);
	cJSON_Delete(refused);
	cJSON *stats = fake_call(&f, "GET", "/stats", NULL);
	assert_true(json_number(stats, "prompt_cache.read_tokens") >= 6250);
	cJSON_Delete(stats);
	free(cold);
	free(edited);
	free(far);
	free(too_far);
	free(haiku);
	free(short_prompt);
	free(hour);
	free(five);
}

/* Where the breakpoints go: a quarter, a half, three quarters and all of the scene blocks; in an edit run the block
 * before the first new scene, keeping the even marks before it and the last ones after it. */
static void test_marks(void **state)
{
	(void)state;
	size_t m[4];
	assert_int_equal(anthropic_cache_marks(100, 0, 4, m), 4);
	assert_int_equal(m[0], 24);
	assert_int_equal(m[1], 49);
	assert_int_equal(m[2], 74);
	assert_int_equal(m[3], 99);
	assert_int_equal(anthropic_cache_marks(100, 49, 4, m), 4);
	assert_int_equal(m[0], 24);
	assert_int_equal(m[1], 48);
	assert_int_equal(m[2], 74);
	assert_int_equal(m[3], 99);
	assert_int_equal(anthropic_cache_marks(100, 10, 4, m), 4);
	assert_int_equal(m[0], 9);
	assert_int_equal(m[1], 49);
	assert_int_equal(m[3], 99);
	assert_int_equal(anthropic_cache_marks(100, 90, 4, m), 4);
	assert_int_equal(m[2], 74);
	assert_int_equal(m[3], 89);
	assert_int_equal(anthropic_cache_marks(2, 0, 4, m), 2);
	assert_int_equal(m[0], 0);
	assert_int_equal(m[1], 1);
	assert_int_equal(anthropic_cache_marks(2, 1, 4, m), 2);
	assert_int_equal(anthropic_cache_marks(1, 0, 4, m), 1);
	assert_int_equal(m[0], 0);
}

/* ---- scriptbuild's edit loop ---- */

struct run {
	char *dir;
	char cache[512], script[512], report[512], out[512], err[512], log[512];
};

static void generate_round(struct run *r, const char *edit, const char *round)
{
	char gen[512];
	snprintf(gen, sizeof(gen), "%s/tool_genscript", env_or("TOOLS", "build/check/tests"));
	char *argv[] = {gen, "--scenes", "40", "--characters", "6", "--seed", "3", edit ? "--edit" : NULL,
	                (char *)edit, "--edit-round", (char *)round, NULL};
	assert_int_equal(run_in(r->dir, r->script, NULL, argv), 0);
}

static void generate(struct run *r, const char *edit)
{
	generate_round(r, edit, "0");
}

static void run_new(struct run *r, struct fake *f, const char *const *extra)
{
	memset(r, 0, sizeof(*r));
	r->dir = new_dir();
	snprintf(r->cache, sizeof(r->cache), "%s/cache", r->dir);
	snprintf(r->script, sizeof(r->script), "%s/play.fountain", r->dir);
	snprintf(r->report, sizeof(r->report), "%s/report.json", r->dir);
	snprintf(r->out, sizeof(r->out), "%s/stdout", r->dir);
	snprintf(r->err, sizeof(r->err), "%s/stderr", r->dir);
	snprintf(r->log, sizeof(r->log), "%s/requests.log", r->dir);
	const char *flags[16] = {"--anthropic-key", ANTHROPIC_KEY, "--request-log", r->log};
	int n = 4;
	for (; extra && *extra && n < 15; extra++)
		flags[n++] = *extra;
	flags[n] = NULL;
	new_server(f, r->dir, flags);
	setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY, 1);
	setenv("OPENAI_API_KEY", OPENAI_KEY, 1);
	setenv("ANTHROPIC_BASE_URL", f->base, 1);
	setenv("OPENAI_BASE_URL", f->openai_base, 1);
	generate(r, NULL);
}

static cJSON *build(struct run *r, ...)
{
	va_list ap;
	va_start(ap, r);
	int rc = run_scriptbuild(r->dir, r->out, r->err, r->cache, r->report, ap);
	va_end(ap);
	if (rc != 0) {
		char *err = slurp(r->err, NULL);
		fail_msg("scriptbuild exited %d: %s", rc, err ? err : "");
	}
	cJSON *report = read_json(r->report);
	assert_non_null(report);
	return report;
}

static double stat_of(struct fake *f, const char *path)
{
	cJSON *s = fake_call(f, "GET", "/stats", NULL);
	assert_non_null(s);
	double v = json_number(s, path);
	cJSON_Delete(s);
	return v;
}

static double full_price(const cJSON *report)
{
	return json_number(report, "tokens.input") - json_number(report, "tokens.cache_read") -
	       json_number(report, "tokens.cache_write");
}

/* Cold, then scene 30 edited: the outline and the affected sheets read their prefix before scene 30 from the
 * service's cache; what the report says was read and written is what the server billed. */
static void test_edit_reads_the_prefix(void **state)
{
	(void)state;
	struct fake f, g;
	struct run r, off;
	run_new(&r, &f, NULL);
	cJSON *cold = build(&r, "--llm", "anthropic", "--embed", "openai", "play.fountain", NULL);
	double cold_in = json_number(cold, "tokens.input");
	assert_true(json_number(cold, "tokens.cache_write") > 0);
	assert_int_equal((long)json_number(cold, "tokens.cache_read"), 0);
	assert_int_equal((long)json_number(cold, "tokens.cache_write"), (long)stat_of(&f, "prompt_cache.write_tokens"));
	char *err = slurp(r.err, NULL);
	assert_non_null(strstr(err, "; prompt cache: 0 read, "));
	free(err);
	/* Every request carries at most four markers, each on a text block or the system prompt. */
	char *log = slurp(r.log, NULL);
	assert_non_null(log);
	for (char *line = log, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		int marks = 0;
		for (char *p = line; (p = strstr(p, "\"cache_control\":{\"type\":\"ephemeral\"}")); p++)
			marks++;
		assert_true(marks <= 4);
		if (strstr(line, "record_outline"))
			assert_int_equal(marks, 4);
	}
	free(log);

	cJSON_Delete(fake_call(&f, "POST", "/reset", "{}"));
	generate(&r, "30");
	/* -n prices the prefix the breakpoints before scene 30 make readable, unless the cache is off. */
	cJSON *plan = build(&r, "-n", "--llm", "anthropic", "--embed", "openai", "play.fountain", NULL);
	assert_true(json_number(plan, "kinds.outline.cache_read") > 0);
	assert_true(json_number(plan, "kinds.outline.cache_write") > 0);
	cJSON_Delete(plan);
	plan = build(&r, "-n", "--prompt-cache", "off", "--llm", "anthropic", "--embed", "openai", "play.fountain", NULL);
	assert_int_equal((long)json_number(plan, "kinds.outline.cache_read"), 0);
	assert_int_equal((long)json_number(plan, "kinds.sheet.cache_write"), 0);
	cJSON_Delete(plan);
	cJSON *edit = build(&r, "--llm", "anthropic", "--embed", "openai", "play.fountain", NULL);
	assert_int_equal((long)json_number(edit, "steps.outline.run"), 1);
	double read = json_number(edit, "tokens.cache_read");
	assert_true(read > 0);
	assert_int_equal((long)read, (long)stat_of(&f, "prompt_cache.read_tokens"));
	assert_int_equal((long)json_number(edit, "tokens.cache_write"), (long)stat_of(&f, "prompt_cache.write_tokens"));
	err = slurp(r.err, NULL);
	assert_non_null(strstr(err, "; prompt cache: "));
	free(err);
	/* The writer saves scene 30 again: the edit run marked the prefix just before it, so the outline and the sheets
	 * read everything before scene 30 now, more than the first edit could. */
	cJSON_Delete(fake_call(&f, "POST", "/reset", "{}"));
	generate_round(&r, "30", "1");
	cJSON *again = build(&r, "--llm", "anthropic", "--embed", "openai", "play.fountain", NULL);
	assert_int_equal((long)json_number(again, "steps.outline.run"), 1);
	assert_true(json_number(again, "tokens.cache_read") > read);
	assert_true(full_price(again) <= full_price(edit));
	cJSON_Delete(again);

	/* The same cold run and edit with caching off, against a server of its own: the same tokens in all, no cache
	 * fields, every token at full price, and a dearer edit. */
	run_new(&off, &g, NULL);
	cJSON *cold_off = build(&off, "--prompt-cache", "off", "--llm", "anthropic", "--embed", "openai", "play.fountain",
	                        NULL);
	assert_int_equal((long)json_number(cold_off, "tokens.input"), (long)cold_in);
	assert_int_equal((long)json_number(cold_off, "tokens.cache_write"), 0);
	generate(&off, "30");
	cJSON *edit_off = build(&off, "--prompt-cache", "off", "--llm", "anthropic", "--embed", "openai", "play.fountain",
	                        NULL);
	assert_int_equal((long)json_number(edit_off, "tokens.input"), (long)json_number(edit, "tokens.input"));
	assert_int_equal((long)full_price(edit_off), (long)json_number(edit_off, "tokens.input"));
	assert_true(full_price(edit) < full_price(edit_off));
	assert_true(json_number(edit, "cost_usd") < json_number(edit_off, "cost_usd"));
	/* The cold run's writes cost a quarter more than plain input, on Sonnet's $3 per million (the outline and the
	 * sheets are the only prompts long enough to be cached, and they all run on Sonnet). */
	double extra = json_number(cold, "cost_usd") - json_number(cold_off, "cost_usd");
	double want = json_number(cold, "tokens.cache_write") * 3.0 / 1e6 * 0.25;
	assert_true(extra > want * 0.999 && extra < want * 1.001);
	cJSON_Delete(cold);
	cJSON_Delete(edit);
	cJSON_Delete(cold_off);
	cJSON_Delete(edit_off);
}

/* The setting is transport: after a run with one setting, a run with another sends nothing. An hour's writes cost
 * double, and the markers say "1h". */
static void test_setting_reruns_nothing(void **state)
{
	(void)state;
	struct fake f;
	struct run r;
	run_new(&r, &f, NULL);
	cJSON *cold = build(&r, "--prompt-cache", "1h", "--llm", "anthropic", "--embed", "openai", "play.fountain", NULL);
	double writes = json_number(cold, "tokens.cache_write");
	assert_true(writes > 0);
	char *log = slurp(r.log, NULL);
	assert_non_null(strstr(log, "\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"}"));
	free(log);
	double requests = stat_of(&f, "requests.total");
	assert_true(requests > 0);
	const char *settings[] = {"off", "5m", "1h"};
	for (int i = 0; i < 3; i++) {
		cJSON *again = build(&r, "--prompt-cache", settings[i], "--llm", "anthropic", "--embed", "openai",
		                     "play.fountain", NULL);
		assert_int_equal((long)json_number(again, "requests.llm"), 0);
		assert_int_equal((long)stat_of(&f, "requests.total"), (long)requests);
		cJSON_Delete(again);
	}
	/* In the project file too, checked. */
	char path[600];
	snprintf(path, sizeof(path), "%s/scriptbuild.json", r.dir);
	const char *bad = "{\"llm\": \"anthropic\", \"embed\": \"openai\", \"prompt_cache\": \"10m\"}";
	assert_int_equal(spit(path, bad, strlen(bad)), 0);
	char *argv[] = {(char *)sb(), "--cache", r.cache, "play.fountain", NULL};
	assert_int_equal(run_in(r.dir, r.out, r.err, argv), 2);
	char *err = slurp(r.err, NULL);
	assert_non_null(strstr(err, "\"prompt_cache\" is \"10m\": write \"off\", \"5m\" or \"1h\""));
	free(err);
	const char *good = "{\"llm\": \"anthropic\", \"embed\": \"openai\", \"prompt_cache\": \"off\"}";
	assert_int_equal(spit(path, good, strlen(good)), 0);
	assert_int_equal(run_in(r.dir, r.out, r.err, argv), 0);
	assert_int_equal((long)stat_of(&f, "requests.total"), (long)requests);
	cJSON_Delete(cold);
}

/* An input-tokens-per-minute limit does not count what the prompt cache served: the server charges the edit's
 * buckets for what it did not read, and scriptbuild's admission reconciles the same way. */
static void test_reads_do_not_count_against_itpm(void **state)
{
	(void)state;
	struct fake f;
	struct run r;
	const char *flags[] = {"--itpm", "100000000", NULL};
	run_new(&r, &f, flags);
	cJSON *cold = build(&r, "--llm", "anthropic", "--embed", "openai", "play.fountain", NULL);
	cJSON_Delete(fake_call(&f, "POST", "/reset", "{}"));
	generate(&r, "30");
	cJSON *edit = build(&r, "--llm", "anthropic", "--embed", "openai", "play.fountain", NULL);
	double read = json_number(edit, "tokens.cache_read");
	assert_true(read > 0);
	cJSON *stats = fake_call(&f, "GET", "/stats", NULL);
	double charged = 0;
	const cJSON *b;
	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(stats, "rate_limits"),
	                                                       "buckets")) {
		const char *limit = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "limit"));
		if (limit && strcmp(limit, "input_tokens") == 0)
			charged += json_number(b, "charged");
	}
	cJSON_Delete(stats);
	/* The bodies' JSON makes the charge a little larger than usage's count, never by the cached part. */
	double uncached = json_number(edit, "tokens.input") - read;
	assert_true(charged > 0);
	assert_true(charged < uncached * 1.25);
	assert_true(charged < json_number(edit, "tokens.input"));
	cJSON_Delete(cold);
	cJSON_Delete(edit);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fake_cache_as_documented, clean_up),
		cmocka_unit_test(test_marks),
		cmocka_unit_test_teardown(test_edit_reads_the_prefix, clean_up),
		cmocka_unit_test_teardown(test_setting_reruns_nothing, clean_up),
		cmocka_unit_test_teardown(test_reads_do_not_count_against_itpm, clean_up),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
