/* test_build.c - the make-like engine as a user drives it: cold, no-op, edits, inserts, prompt and model changes,
 * early cutoff, damaged blobs, -n, --frozen, targets and -d explain, all offline (builtin). Two processes on one
 * cache are test_crash.c's. */
#define _XOPEN_SOURCE 700 /* st_mtim */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sbtest.h"

struct fixture {
	char *dir;
	char cache[512], script[512], report[512], out[512], err[512], archive[512];
};

/* Writes a generated script: tool_genscript with extra arguments. */
static void generate(struct fixture *f, const char *path, const char *extra1, const char *extra2)
{
	char *argv[16];
	int n = 0;
	argv[n++] = tool("tool_genscript");
	argv[n++] = "--scenes";
	argv[n++] = "12";
	argv[n++] = "--characters";
	argv[n++] = "5";
	argv[n++] = "--seed";
	argv[n++] = "7";
	if (extra1)
		argv[n++] = (char *)extra1;
	if (extra2)
		argv[n++] = (char *)extra2;
	argv[n] = NULL;
	assert_int_equal(run_in(f->dir, path, NULL, argv), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = make_tempdir();
	snprintf(f->cache, sizeof(f->cache), "%s/cache", f->dir);
	snprintf(f->script, sizeof(f->script), "%s/play.fountain", f->dir);
	snprintf(f->report, sizeof(f->report), "%s/report.json", f->dir);
	snprintf(f->out, sizeof(f->out), "%s/stdout", f->dir);
	snprintf(f->err, sizeof(f->err), "%s/stderr", f->dir);
	snprintf(f->archive, sizeof(f->archive), "%s/play.analysis.tar.zst", f->dir);
	generate(f, f->script, NULL, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	remove_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Runs scriptbuild in the fixture dir with the fixture's cache and report, then the given arguments. */
static int build(struct fixture *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int rc = run_scriptbuild(f->dir, f->out, f->err, f->cache, f->report, ap);
	va_end(ap);
	return rc;
}

static double count(struct fixture *f, const char *path)
{
	cJSON *r = read_json(f->report);
	assert_non_null(r);
	double v = json_number(r, path);
	cJSON_Delete(r);
	return v;
}

/* Number of characters who speak in scene (1-based), from the parse tool. */
static int speakers_of_scene(struct fixture *f, const char *script, int scene)
{
	char *argv[] = {(char *)sb(), "-t", "parse", (char *)script, NULL};
	assert_int_equal(run_in(f->dir, f->out, f->err, argv), 0);
	cJSON *j = read_json(f->out);
	assert_non_null(j);
	cJSON *sc = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "scenes"), scene - 1);
	int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sc, "characters"));
	int total = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "characters"));
	cJSON_Delete(j);
	assert_true(n >= 1 && n <= total);
	return n;
}

static int characters_of_script(struct fixture *f)
{
	char *argv[] = {(char *)sb(), "-t", "parse", f->script, NULL};
	assert_int_equal(run_in(f->dir, f->out, f->err, argv), 0);
	cJSON *j = read_json(f->out);
	int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "characters"));
	cJSON_Delete(j);
	return n;
}

/* The file at path holds exactly len bytes at data. */
static void assert_file_is(const char *path, const char *data, size_t len)
{
	size_t got;
	char *now = slurp(path, &got);
	assert_non_null(now);
	assert_int_equal(got, len);
	assert_memory_equal(now, data, len);
	free(now);
}

static void expect_runs(struct fixture *f, double summary, double outline, double sheet, double embedding)
{
	assert_int_equal((int)count(f, "steps.summary.run"), (int)summary);
	assert_int_equal((int)count(f, "steps.outline.run"), (int)outline);
	assert_int_equal((int)count(f, "steps.sheet.run"), (int)sheet);
	assert_int_equal((int)count(f, "steps.embedding.run"), (int)embedding);
	for (int i = 0; i < 4; i++) {
		static const char *const kinds[] = {"summary", "outline", "sheet", "embedding"};
		char p[64];
		snprintf(p, sizeof(p), "steps.%s.failed", kinds[i]);
		assert_int_equal((int)count(f, p), 0);
	}
}

static void test_cold_then_noop(void **state)
{
	struct fixture *f = *state;
	int chars = characters_of_script(f);
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	expect_runs(f, 12, 1, chars, 12);
	size_t len1;
	char *a1 = slurp(f->archive, &len1);
	assert_non_null(a1);

	struct stat before, after;
	assert_int_equal(stat(f->archive, &before), 0);
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	expect_runs(f, 0, 0, 0, 0);
	/* Like make, a no-op leaves the up-to-date archive alone. */
	assert_int_equal(stat(f->archive, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	assert_int_equal((int)count(f, "steps.summary.cached"), 12);
	assert_int_equal((int)count(f, "steps.sheet.cached"), chars);
	assert_int_equal((int)count(f, "steps.embedding.cached"), 12);
	assert_int_equal((int)count(f, "requests.llm"), 0);
	assert_file_is(f->archive, a1, len1);
	free(a1);
}

static void test_edit_one_scene(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	generate(f, f->script, "--edit", "5");
	int speakers = speakers_of_scene(f, f->script, 5);
	assert_int_equal(build(f, "-q", "-d", "explain", f->script, NULL), 0);
	expect_runs(f, 1, 1, speakers, 1);
	char *err = slurp(f->err, NULL);
	assert_non_null(strstr(err, "summary 5"));
	assert_non_null(strstr(err, "scene text changed"));
	free(err);
}

static void test_insert_scene(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	generate(f, f->script, "--insert", "6");
	int speakers = speakers_of_scene(f, f->script, 7);
	assert_int_equal(build(f, "-q", "-d", "explain", f->script, NULL), 0);
	expect_runs(f, 1, 1, speakers, 1);
	assert_int_equal((int)count(f, "steps.summary.total"), 13);
	assert_int_equal((int)count(f, "steps.summary.cached"), 12);
	char *err = slurp(f->err, NULL);
	assert_non_null(strstr(err, "summary 7"));
	assert_non_null(strstr(err, "new scene"));
	free(err);
}

static void test_prompt_model_and_dims_changes(void **state)
{
	struct fixture *f = *state;
	int chars = characters_of_script(f);
	char prompt[600];
	snprintf(prompt, sizeof(prompt), "%s/sheet-prompt.txt", f->dir);
	assert_int_equal(spit(prompt, "Describe the character as a casting director would.\n", 52), 0);
	char override[700];
	snprintf(override, sizeof(override), "sheet=%s", prompt);

	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	assert_int_equal(build(f, "-q", "-d", "explain", "--prompt", override, f->script, NULL), 0);
	expect_runs(f, 0, 0, chars, 0);
	char *err = slurp(f->err, NULL);
	assert_non_null(strstr(err, "prompt changed"));
	free(err);

	assert_int_equal(build(f, "-q", "--prompt", override, "--model", "sheet=another-model", f->script, NULL), 0);
	expect_runs(f, 0, 0, chars, 0);

	assert_int_equal(build(f, "-q", "--prompt", override, "--model", "sheet=another-model", "--embed", "builtin:64",
	                       f->script, NULL), 0);
	expect_runs(f, 0, 0, 0, 12);
}

static void test_early_cutoff(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	/* A transition at the end of scene 4 changes its text but not what any analysis of it can say. */
	char *argv[] = {(char *)sb(), "-t", "parse", f->script, NULL};
	assert_int_equal(run_in(f->dir, f->out, f->err, argv), 0);
	cJSON *j = read_json(f->out);
	cJSON *sc = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "scenes"), 4);
	int line = (int)json_number(sc, "line");
	cJSON_Delete(j);
	assert_true(line > 1);
	size_t len;
	char *text = slurp(f->script, &len);
	size_t at = 0;
	for (int l = 1; l < line; l++) {
		char *nl = memchr(text + at, '\n', len - at);
		assert_non_null(nl);
		at = (size_t)(nl - text) + 1;
	}
	static const char transition[] = "CUT TO:\n\n";
	size_t tlen = sizeof(transition) - 1;
	char *edited = malloc(len + tlen);
	memcpy(edited, text, at);
	memcpy(edited + at, transition, tlen);
	memcpy(edited + at + tlen, text + at, len - at);
	assert_int_equal(spit(f->script, edited, len + tlen), 0);
	free(text);
	free(edited);

	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	expect_runs(f, 1, 0, 0, 0);
}

/* Flips one byte inside every copy of summary blobs in the cache's data file (LMDB's copy-on-write leaves old page
 * versions behind, so the live copy is not necessarily the first). */
static void damage_blobs(struct fixture *f)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/data.mdb", f->cache);
	size_t len;
	char *data = slurp(path, &len);
	assert_non_null(data);
	/* Only summary blobs carry a goal; the build record also says "summary" but is not a blob. */
	const char *needle = "\",\"goal\":\"";
	int hits = 0;
	for (size_t i = 0; i + strlen(needle) < len; i++)
		if (memcmp(data + i, needle, strlen(needle)) == 0) {
			data[i + 3] ^= 0x20;
			hits++;
		}
	assert_true(hits > 0);
	assert_int_equal(spit(path, data, len), 0);
	free(data);
}

static void test_damaged_blob_is_detected_and_never_served(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	size_t len1;
	char *a1 = slurp(f->archive, &len1);
	damage_blobs(f);

	char *verify[] = {(char *)sb(), "-t", "verify", "--cache", f->cache, NULL};
	assert_int_equal(run_in(f->dir, f->out, f->err, verify), 1);
	char *out = slurp(f->out, NULL);
	assert_non_null(strstr(out, "damaged"));
	free(out);

	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	assert_true(count(f, "steps.summary.run") + count(f, "steps.outline.run") + count(f, "steps.sheet.run") >= 1);
	assert_file_is(f->archive, a1, len1);
	free(a1);
	/* The rerun stored a good copy over the damaged one. */
	assert_int_equal(run_in(f->dir, f->out, f->err, verify), 0);
}

static void test_dry_run_writes_nothing(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	generate(f, f->script, "--edit", "2");
	unlink(f->archive);
	assert_int_equal(build(f, "-n", "-d", "explain", f->script, NULL), 0);
	char *out = slurp(f->out, NULL);
	assert_non_null(strstr(out, "summary 2"));
	assert_non_null(strstr(out, "scene text changed"));
	assert_non_null(strstr(out, "stale steps"));
	free(out);
	assert_int_equal(access(f->archive, F_OK), -1);
	/* Nothing was stored: the real run still has the work to do. */
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	assert_int_equal((int)count(f, "steps.summary.run"), 1);
}

static void test_frozen(void **state)
{
	struct fixture *f = *state;
	/* A cache that was never restored is the CI's mistake, not a build to start from nothing. */
	assert_int_equal(build(f, "-q", "--frozen", f->script, NULL), 2);
	char *err = slurp(f->err, NULL);
	assert_non_null(strstr(err, "(was the cache restored?)"));
	free(err);
	/* A cache holding only scene 1's summary: the rest is stale, listed, and no archive is written. */
	assert_int_equal(build(f, "-q", f->script, "scene:1", NULL), 0);
	assert_int_equal(build(f, "-q", "--frozen", f->script, NULL), 1);
	char *out = slurp(f->out, NULL);
	assert_non_null(strstr(out, "stale: summary 2"));
	assert_null(strstr(out, "stale: summary 1 "));
	free(out);
	assert_int_equal(access(f->archive, F_OK), -1);
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	size_t len1;
	char *a1 = slurp(f->archive, &len1);
	unlink(f->archive);
	assert_int_equal(build(f, "-q", "--frozen", f->script, NULL), 0);
	assert_file_is(f->archive, a1, len1);
	free(a1);
}

static void test_targets(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(build(f, "-q", f->script, "scene:3", NULL), 0);
	assert_int_equal((int)count(f, "steps.summary.total"), 1);
	expect_runs(f, 1, 0, 0, 0);
	assert_int_equal((int)count(f, "steps.outline.total"), 0);
	assert_int_equal(access(f->archive, F_OK), -1);

	assert_int_equal(build(f, "-q", f->script, "outline", NULL), 0);
	expect_runs(f, 11, 1, 0, 0);
	assert_int_equal(build(f, "-q", f->script, "nonsense", NULL), 2);
	assert_int_equal(build(f, "-q", f->script, "scene:99", NULL), 2);
}

static void test_bad_input_exit_2(void **state)
{
	struct fixture *f = *state;
	char bad[600];
	snprintf(bad, sizeof(bad), "%s/bad.fountain", f->dir);
	assert_int_equal(spit(bad, "INT. ROOM - DAY\n\nBob \xff\xfe waits.\n", 29), 0);
	assert_int_equal(build(f, "-q", bad, NULL), 2);
	char *err = slurp(f->err, NULL);
	assert_non_null(strstr(err, "bad.fountain"));
	assert_non_null(strstr(err, "UTF-8"));
	free(err);
	assert_int_equal(build(f, "-q", "/nonexistent/x.fountain", NULL), 2);
	assert_int_equal(build(f, "-q", "-j", "0", f->script, NULL), 2);
}

static void test_archive_reproducible_across_dirs_caches_and_time(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	size_t len1;
	char *a1 = slurp(f->archive, &len1);
	assert_non_null(a1);

	/* Another directory, another (cold) cache, a relative script path, a second later. */
	char other[600], cache2[700], copy[700], archive2[700];
	snprintf(other, sizeof(other), "%s/elsewhere", f->dir);
	snprintf(cache2, sizeof(cache2), "%s/cache2", other);
	snprintf(copy, sizeof(copy), "%s/play.fountain", other);
	snprintf(archive2, sizeof(archive2), "%s/play.analysis.tar.zst", other);
	assert_int_equal(mkdir(other, 0755), 0);
	size_t slen;
	char *script = slurp(f->script, &slen);
	assert_int_equal(spit(copy, script, slen), 0);
	free(script);
	sleep(1);
	char *argv[] = {(char *)sb(), "-q", "--cache", cache2, "play.fountain", NULL};
	assert_int_equal(run_in(other, NULL, NULL, argv), 0);
	assert_file_is(archive2, a1, len1);
	free(a1);
}

/* The number printed after label in -t stats output. */
static long stats_value(const char *text, const char *label)
{
	const char *p = strstr(text, label);
	return p ? strtol(p + strlen(label), NULL, 10) : -1;
}

static void test_stats_and_gc_tools(void **state)
{
	struct fixture *f = *state;
	int chars = characters_of_script(f);
	long steps = 12 + 1 + chars + 12;
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	char *stats[] = {(char *)sb(), "-t", "stats", "--cache", f->cache, NULL};
	assert_int_equal(run_in(f->dir, f->out, f->err, stats), 0);
	char *out = slurp(f->out, NULL);
	assert_int_equal(stats_value(out, "actions"), steps);
	assert_int_equal(stats_value(out, "hits"), steps);
	assert_int_equal(stats_value(out, "misses"), steps);
	free(out);

	char *gc[] = {(char *)sb(), "-t", "gc", "--max-size", "0", "--cache", f->cache, NULL};
	assert_int_equal(run_in(f->dir, f->out, f->err, gc), 0);
	assert_int_equal(run_in(f->dir, f->out, f->err, stats), 0);
	out = slurp(f->out, NULL);
	assert_int_equal(stats_value(out, "actions"), 0);
	assert_int_equal(stats_value(out, "blobs"), 0);
	free(out);
	assert_int_equal(build(f, "-q", f->script, NULL), 0);
	expect_runs(f, 12, 1, chars, 12);
	char *bad_gc[] = {(char *)sb(), "-t", "gc", "--max-size", "lots", "--cache", f->cache, NULL};
	assert_int_equal(run_in(f->dir, f->out, f->err, bad_gc), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cold_then_noop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_one_scene, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_scene, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompt_model_and_dims_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_early_cutoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_blob_is_detected_and_never_served, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frozen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_exit_2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_and_gc_tools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_archive_reproducible_across_dirs_caches_and_time, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
