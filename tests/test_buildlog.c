/* test_buildlog.c - the build log compares this run with the last one: each reason a step is stale, named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "buildlog.h"
#include "cache.h"
#include "config.h"
#include "fountain.h"
#include "graph.h"
#include "sbtest.h"

static const char before[] =
	"INT. KITCHEN - NIGHT\n\nMara scrubs a pan.\n\nMARA\nWhere were you?\n\n"
	"EXT. PIER - DUSK\n\nTeo waits by the water.\n\nTEO\nShe will come.\n";

/* A scene inserted first, the kitchen untouched, the pier's text edited. */
static const char after[] =
	"EXT. HARBOR - DAWN\n\nGulls over the grey water.\n\nOLD SAILOR\nStorm's coming.\n\n"
	"INT. KITCHEN - NIGHT\n\nMara scrubs a pan.\n\nMARA\nWhere were you?\n\n"
	"EXT. PIER - DUSK\n\nTeo waits by the water, shivering.\n\nTEO\nShe will come.\n";

static struct fountain_script *parse(const char *text)
{
	struct fountain_script *s = NULL;
	struct fountain_error err;
	assert_int_equal(fountain_parse(text, strlen(text), &s, &err), 0);
	return s;
}

static void expect_reason(const struct build_log *log, const struct graph *g, size_t scene,
                          const struct step_config *cfg, const char *want)
{
	char *why = build_log_explain(log, g, &g->steps[g->summary_of_scene[scene - 1]], cfg);
	if (!strstr(why, want))
		fail_msg("summary %zu: \"%s\", want \"%s\"", scene, why, want);
	free(why);
}

static void test_explains_each_difference(void **state)
{
	(void)state;
	char *dir = make_tempdir();
	char err[1024];
	struct cache *c;
	assert_int_equal(cache_open(dir, &c, err, sizeof(err)), 0);
	struct run_config rc;
	assert_int_equal(config_init(&rc, "builtin", "builtin", err, sizeof(err)), 0);
	struct fountain_script *s1 = parse(before), *s2 = parse(after);
	struct graph *g1 = graph_new(s1), *g2 = graph_new(s2);

	/* No earlier run: every step is "never built". */
	expect_reason(NULL, g2, 1, &rc.step[STEP_SUMMARY], "never built");

	assert_int_equal(build_log_save(c, "script", g1, rc.step, NULL, NULL, NULL, NULL, 0, err, sizeof(err)), 0);
	struct build_log *log = build_log_load(c, "script");
	assert_non_null(log);
	assert_null(build_log_load(c, "another script"));
	expect_reason(log, g2, 1, &rc.step[STEP_SUMMARY], "new scene");
	expect_reason(log, g2, 2, &rc.step[STEP_SUMMARY], "not in the cache");
	expect_reason(log, g2, 3, &rc.step[STEP_SUMMARY], "scene text changed");

	/* A changed parameter outranks what the scene says. */
	struct run_config rc2;
	assert_int_equal(config_init(&rc2, "builtin", "builtin", err, sizeof(err)), 0);
	assert_int_equal(config_override(&rc2, "max-tokens", "summary=123", err, sizeof(err)), 0);
	expect_reason(log, g2, 2, &rc2.step[STEP_SUMMARY], "model or parameters changed");

	build_log_free(log);
	graph_free(g1);
	graph_free(g2);
	fountain_free(s1);
	fountain_free(s2);
	config_free(&rc);
	config_free(&rc2);
	cache_close(c);
	remove_tree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_explains_each_difference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
