/* test_fixtures.c - every fixtures/<dir>/X.fountain with an X.json beside it parses to exactly that JSON. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "fountain.h"
#include "sbtest.h"

static char fixtures[4096];

/* 1 when the fixture matches, else prints both parses and returns 0. */
static int check_one(const char *fountain_path, const char *json_path)
{
	char *expected_text = slurp(json_path, NULL);
	assert_non_null(expected_text);
	cJSON *expected = cJSON_Parse(expected_text);
	free(expected_text);
	if (!expected) {
		fprintf(stderr, "%s: not valid JSON\n", json_path);
		return 0;
	}
	struct fountain_script *script;
	struct fountain_error err;
	if (load_fountain(fountain_path, &script, &err) < 0) {
		fprintf(stderr, "%s: parse failed: %s\n", fountain_path, err.message);
		cJSON_Delete(expected);
		return 0;
	}
	cJSON *got = fountain_to_json(script);
	assert_non_null(got);
	int same = cJSON_Compare(expected, got, 1);
	if (!same) {
		char *a = cJSON_Print(expected), *b = cJSON_Print(got);
		fprintf(stderr, "MISMATCH %s\n--- expected (%s)\n%s\n--- got\n%s\n", fountain_path, json_path, a, b);
		free(a);
		free(b);
	}
	cJSON_Delete(got);
	cJSON_Delete(expected);
	fountain_free(script);
	return same;
}

/* Checks every fixture in fixtures/sub; returns how many were checked, counting failures in *failed. */
static int check_dir(const char *sub, int *failed)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/%s", fixtures, sub);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int checked = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n <= 9 || strcmp(e->d_name + n - 9, ".fountain") != 0)
			continue;
		char fountain_path[4600], json_path[4600];
		snprintf(fountain_path, sizeof fountain_path, "%s/%s", dir, e->d_name);
		snprintf(json_path, sizeof json_path, "%s/%.*s.json", dir, (int)(n - 9), e->d_name);
		FILE *probe = fopen(json_path, "rb");
		if (!probe)
			continue;
		fclose(probe);
		checked++;
		if (!check_one(fountain_path, json_path))
			(*failed)++;
		else
			printf("ok %s\n", fountain_path);
	}
	closedir(d);
	return checked;
}

static void test_every_fixture(void **state)
{
	(void)state;
	int failed = 0;
	int parse = check_dir("parse", &failed);
	int demo = check_dir("demo", &failed);
	printf("%d parse fixtures, %d demo fixtures, %d failed\n", parse, demo, failed);
	if (parse == 0)
		fprintf(stderr, "no fixtures under %s: run from the repository top or set TOP\n", fixtures);
	assert_true(parse >= 15);
	assert_true(demo >= 1);
	assert_int_equal(failed, 0);
}

/* The comparison itself must be able to fail: a changed fact is caught. */
static void test_mismatch_is_detected(void **state)
{
	(void)state;
	char path[4200];
	snprintf(path, sizeof path, "%s/demo/harbor.fountain", fixtures);
	struct fountain_script *script;
	struct fountain_error err;
	assert_int_equal(load_fountain(path, &script, &err), 0);
	cJSON *a = fountain_to_json(script);
	cJSON *b = cJSON_Duplicate(a, 1);
	assert_true(cJSON_Compare(a, b, 1));
	cJSON *scene = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "scenes"), 0);
	cJSON_ReplaceItemInObject(scene, "line", cJSON_CreateNumber(cJSON_GetObjectItem(scene, "line")->valuedouble + 1));
	assert_false(cJSON_Compare(a, b, 1));
	cJSON_Delete(a);
	cJSON_Delete(b);
	fountain_free(script);
}

int main(void)
{
	const char *top = getenv("TOP");
	snprintf(fixtures, sizeof fixtures, "%s/fixtures", top && *top ? top : ".");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_fixture),
		cmocka_unit_test(test_mismatch_is_detected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
