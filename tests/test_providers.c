/* test_providers.c - scriptbuild against the fake Anthropic/OpenAI server on loopback, through the SDK environment
 * variables: request counts for the seed scenario, faults, a concurrency cap and quota exhaustion (keys never leaking
 * is test_secrets.c's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fakeserver.h"

#define ANTHROPIC_KEY "sk-ant-TESTKEY-7f3a9c51e2"
#define OPENAI_KEY "sk-openai-TESTKEY-91bd04aa"

struct fixture {
	char *dir;
	struct fake fake;
	char cache[512], script[512], report[512], out[512], err[512], archive[512];
};

static void genscript(const char *dir, const char *path, const char *scenes, const char *chars, const char *edit)
{
	char tool[512];
	snprintf(tool, sizeof(tool), "%s/tool_genscript", env_or("TOOLS", "build/check/tests"));
	char *argv[] = {tool, "--scenes", (char *)scenes, "--characters", (char *)chars, "--seed", "11",
	                edit ? "--edit" : NULL, (char *)edit, NULL};
	assert_int_equal(run_in(dir, path, NULL, argv), 0);
}

static struct fixture *fixture_new(const char *const *server_flags)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = make_tempdir();
	snprintf(f->cache, sizeof(f->cache), "%s/cache", f->dir);
	snprintf(f->script, sizeof(f->script), "%s/seed.fountain", f->dir);
	snprintf(f->report, sizeof(f->report), "%s/report.json", f->dir);
	snprintf(f->out, sizeof(f->out), "%s/stdout", f->dir);
	snprintf(f->err, sizeof(f->err), "%s/stderr", f->dir);
	snprintf(f->archive, sizeof(f->archive), "%s/seed.analysis.tar.zst", f->dir);
	genscript(f->dir, f->script, "100", "10", NULL);
	assert_int_equal(fake_start(&f->fake, f->dir, server_flags), 0);
	setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY, 1);
	setenv("OPENAI_API_KEY", OPENAI_KEY, 1);
	setenv("ANTHROPIC_BASE_URL", f->fake.base, 1);
	setenv("OPENAI_BASE_URL", f->fake.openai_base, 1);
	return f;
}

static void fixture_free(struct fixture *f)
{
	fake_stop(&f->fake);
	remove_tree(f->dir);
	free(f->dir);
	free(f);
}

static int build(struct fixture *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int rc = run_scriptbuild(f->dir, f->out, f->err, f->cache, f->report, ap);
	va_end(ap);
	return rc;
}

static double stat_of(struct fixture *f, const char *path)
{
	cJSON *s = fake_call(&f->fake, "GET", "/stats", NULL);
	assert_non_null(s);
	double v = json_number(s, path);
	cJSON_Delete(s);
	return v;
}

static void reset_stats(struct fixture *f)
{
	cJSON_Delete(fake_call(&f->fake, "POST", "/reset", "{}"));
	assert_int_equal((int)stat_of(f, "requests.total"), 0);
}

static int speakers_of_scene(struct fixture *f, int scene)
{
	char *argv[] = {(char *)sb(), "-t", "parse", f->script, NULL};
	assert_int_equal(run_in(f->dir, f->out, f->err, argv), 0);
	cJSON *j = read_json(f->out);
	cJSON *sc = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "scenes"), scene - 1);
	int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sc, "characters"));
	cJSON_Delete(j);
	return n;
}

static void test_seed_scenario_request_counts(void **state)
{
	(void)state;
	const char *flags[] = {"--latency", "summary=100,outline=40,sheet=30,embedding=5", NULL};
	struct fixture *f = fixture_new(flags);
	assert_int_equal(build(f, "-q", "-j", "10", f->script, NULL), 0);
	assert_int_equal((int)stat_of(f, "by_kind.summary"), 100);
	assert_int_equal((int)stat_of(f, "by_kind.outline"), 1);
	assert_int_equal((int)stat_of(f, "by_kind.sheet"), 10);
	assert_int_equal((int)stat_of(f, "requests.embeddings"), 1);
	assert_int_equal((int)stat_of(f, "embedding_inputs"), 100);
	assert_int_equal((int)stat_of(f, "max_concurrency"), 10);
	assert_int_equal((int)stat_of(f, "rejected"), 0);
	assert_int_equal(access(f->archive, F_OK), 0);

	reset_stats(f);
	assert_int_equal(build(f, "-q", "-j", "10", f->script, NULL), 0);
	assert_int_equal((int)stat_of(f, "requests.total"), 0);

	genscript(f->dir, f->script, "100", "10", "37");
	int speakers = speakers_of_scene(f, 37);
	reset_stats(f);
	assert_int_equal(build(f, "-q", "-j", "10", f->script, NULL), 0);
	assert_int_equal((int)stat_of(f, "by_kind.summary"), 1);
	assert_int_equal((int)stat_of(f, "by_kind.outline"), 1);
	assert_int_equal((int)stat_of(f, "by_kind.sheet"), speakers);
	assert_int_equal((int)stat_of(f, "requests.embeddings"), 1);
	assert_int_equal((int)stat_of(f, "embedding_inputs"), 1);
	fixture_free(f);
}

static void test_another_endpoint_is_another_cache_entry(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(NULL);
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	/* The same server under another host name stands for another service: nothing of the first may be served. */
	char other[200];
	snprintf(other, sizeof(other), "http://localhost:%d", f->fake.port);
	setenv("ANTHROPIC_BASE_URL", other, 1);
	reset_stats(f);
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	assert_int_equal((int)stat_of(f, "by_kind.summary"), 100);
	assert_int_equal((int)stat_of(f, "requests.embeddings"), 0);
	/* A port alone does not change the service: a restarted local server keeps its cache. */
	snprintf(other, sizeof(other), "http://127.0.0.1:%d/", f->fake.port);
	setenv("ANTHROPIC_BASE_URL", other, 1);
	reset_stats(f);
	assert_int_equal(build(f, "-q", "-n", f->script, NULL), 0);
	char *out = slurp(f->out, NULL);
	assert_non_null(strstr(out, "0 stale steps"));
	free(out);
	fixture_free(f);
}

static void test_embed_batch_one_is_the_old_pipeline(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(NULL);
	assert_int_equal(build(f, "-q", "-j", "1", "--embed-batch", "1", f->script, NULL), 0);
	assert_int_equal((int)stat_of(f, "requests.embeddings"), 100);
	assert_int_equal((int)stat_of(f, "max_concurrency"), 1);
	fixture_free(f);
}

static char *archive_of_clean_run(const char *const *flags, size_t *len)
{
	struct fixture *f = fixture_new(flags);
	assert_int_equal(build(f, "-q", "-j", "10", f->script, NULL), 0);
	char *a = slurp(f->archive, len);
	assert_non_null(a);
	fixture_free(f);
	return a;
}

static void test_mixed_faults_give_the_same_archive(void **state)
{
	(void)state;
	size_t clean_len, len;
	char *clean = archive_of_clean_run(NULL, &clean_len);
	/* Transient faults only: a step cut off at max_tokens twice fails by design (test_faults covers that case). */
	const char *flags[] = {"--fault-rate", "0.2", "--faults", "429,529,500,reset,timeout,malformed,truncated",
	                       "--seed", "5", "--timeout-sleep-ms", "1500", NULL};
	struct fixture *f = fixture_new(flags);
	assert_int_equal(build(f, "-q", "-j", "10", "--retries", "12", "--timeout", "0.5", f->script, NULL), 0);
	assert_true(stat_of(f, "requests.total") > 112);
	char *faulty = slurp(f->archive, &len);
	assert_non_null(faulty);
	assert_int_equal(len, clean_len);
	assert_memory_equal(faulty, clean, len);

	/* Nothing a fault produced was stored: the whole cache verifies and a re-run needs no request. */
	char *verify[] = {(char *)sb(), "-t", "verify", "--cache", f->cache, NULL};
	assert_int_equal(run_in(f->dir, f->out, f->err, verify), 0);
	cJSON_Delete(fake_call(&f->fake, "POST", "/control", "{\"fault-rate\": 0}"));
	reset_stats(f);
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	assert_int_equal((int)stat_of(f, "requests.total"), 0);
	free(clean);
	free(faulty);
	fixture_free(f);
}

static void test_retries_exhausted_then_recovery_runs_only_failed(void **state)
{
	(void)state;
	const char *flags[] = {"--fault-rate", "0.3", "--faults", "500", "--seed", "3", NULL};
	struct fixture *f = fixture_new(flags);
	assert_int_equal(build(f, "-q", "-k", "0", "-j", "10", "--retries", "0", f->script, NULL), 1);
	char *err = slurp(f->err, NULL);
	assert_non_null(strstr(err, "FAILED"));
	free(err);
	cJSON *r = read_json(f->report);
	int failed_summaries = (int)json_number(r, "steps.summary.failed");
	int run_summaries = (int)json_number(r, "steps.summary.run");
	cJSON_Delete(r);
	assert_true(failed_summaries > 0);
	assert_int_equal(access(f->archive, F_OK), -1);

	cJSON_Delete(fake_call(&f->fake, "POST", "/control", "{\"fault-rate\": 0}"));
	reset_stats(f);
	assert_int_equal(build(f, "-q", "-j", "10", f->script, NULL), 0);
	assert_int_equal((int)stat_of(f, "by_kind.summary"), 100 - run_summaries);
	assert_int_equal(access(f->archive, F_OK), 0);
	fixture_free(f);
}

static void test_concurrency_cap(void **state)
{
	(void)state;
	const char *flags[] = {"--max-concurrency", "2", "--latency", "summary=60,outline=60,sheet=60,embedding=5", NULL};
	struct fixture *f = fixture_new(flags);
	assert_int_equal(build(f, "-q", "-j", "16", f->script, NULL), 0);
	cJSON *r = read_json(f->report);
	assert_int_equal((int)json_number(r, "steps.summary.failed"), 0);
	assert_int_equal((int)json_number(r, "steps.summary.run"), 100);
	cJSON_Delete(r);
	assert_true(stat_of(f, "faults.cap") > 0);
	fixture_free(f);
}

static void test_quota_stops_the_run(void **state)
{
	(void)state;
	const char *flags[] = {"--quota", NULL};
	struct fixture *f = fixture_new(flags);
	assert_int_equal(build(f, "-q", "-k", "0", "-j", "10", f->script, NULL), 1);
	char *err = slurp(f->err, NULL);
	assert_non_null(strstr(err, "quota"));
	free(err);
	/* No retries, no hammering: at most the first window of requests went out. */
	assert_true(stat_of(f, "requests.total") <= 11);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_scenario_request_counts),
		cmocka_unit_test(test_embed_batch_one_is_the_old_pipeline),
		cmocka_unit_test(test_another_endpoint_is_another_cache_entry),
		cmocka_unit_test(test_mixed_faults_give_the_same_archive),
		cmocka_unit_test(test_retries_exhausted_then_recovery_runs_only_failed),
		cmocka_unit_test(test_concurrency_cap),
		cmocka_unit_test(test_quota_stops_the_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
