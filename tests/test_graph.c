/* test_graph.c - target selection wants exactly a target and what it reads; action keys do not move when a scene is
 * inserted before others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "fountain.h"
#include "graph.h"
#include "keys.h"

static const char three_scenes[] =
	"INT. KITCHEN - NIGHT\n\nMara scrubs a pan.\n\nMARA\nWhere were you?\n\n"
	"EXT. PIER - DUSK\n\nTeo waits by the water.\n\nTEO\nShe will come.\n\n"
	"INT. BOAT - NIGHT\n\nBoth of them, soaked.\n\nMARA\nYou waited.\n\nTEO\nI said I would.\n";

static const char inserted_first[] =
	"EXT. HARBOR - DAWN\n\nGulls over the grey water.\n\nOLD SAILOR\nStorm's coming.\n\n"
	"INT. KITCHEN - NIGHT\n\nMara scrubs a pan.\n\nMARA\nWhere were you?\n\n"
	"EXT. PIER - DUSK\n\nTeo waits by the water.\n\nTEO\nShe will come.\n\n"
	"INT. BOAT - NIGHT\n\nBoth of them, soaked.\n\nMARA\nYou waited.\n\nTEO\nI said I would.\n";

static struct fountain_script *parse(const char *text)
{
	struct fountain_script *s = NULL;
	struct fountain_error err;
	assert_int_equal(fountain_parse(text, strlen(text), &s, &err), 0);
	return s;
}

/* Wanted steps of each kind, in enum order. */
static void count_wanted(const struct graph *g, size_t counts[STEP_KINDS])
{
	memset(counts, 0, STEP_KINDS * sizeof(counts[0]));
	for (size_t i = 0; i < g->nsteps; i++)
		if (g->steps[i].wanted)
			counts[g->steps[i].kind]++;
}

static void expect_selection(const struct fountain_script *s, const char *target, size_t summaries, size_t outline,
                             size_t sheets, size_t embeddings)
{
	struct graph *g = graph_new(s);
	char err[256] = "";
	const char *targets[] = {target};
	assert_int_equal(graph_select(g, targets, target ? 1 : 0, err, sizeof(err)), 0);
	size_t c[STEP_KINDS];
	count_wanted(g, c);
	if (c[STEP_SUMMARY] != summaries || c[STEP_OUTLINE] != outline || c[STEP_SHEET] != sheets ||
	    c[STEP_EMBEDDING] != embeddings)
		fail_msg("target %s wants %zu summaries, %zu outline, %zu sheets, %zu embeddings (expected %zu %zu %zu %zu)",
		         target ? target : "(none)", c[STEP_SUMMARY], c[STEP_OUTLINE], c[STEP_SHEET], c[STEP_EMBEDDING],
		         summaries, outline, sheets, embeddings);
	graph_free(g);
}

static void test_selection_wants_target_and_its_inputs(void **state)
{
	(void)state;
	struct fountain_script *s = parse(three_scenes);
	assert_int_equal(s->nscenes, 3);
	assert_int_equal(s->ncharacters, 2);
	expect_selection(s, NULL, 3, 1, 2, 3);
	expect_selection(s, "summaries", 3, 0, 0, 0);
	expect_selection(s, "outline", 3, 1, 0, 0);
	expect_selection(s, "sheets", 3, 0, 2, 0);
	expect_selection(s, "embeddings", 3, 0, 0, 3);
	expect_selection(s, "scene:2", 1, 0, 0, 0);
	/* A sheet reads the summaries of its character's scenes only: Teo speaks in scenes 2 and 3. */
	expect_selection(s, "sheet:TEO", 2, 0, 1, 0);

	struct graph *g = graph_new(s);
	assert_int_equal(g->steps[g->summary_of_scene[1]].wanted, 1);
	const char *scene2[] = {"scene:2"};
	char err[256] = "";
	assert_int_equal(graph_select(g, scene2, 1, err, sizeof(err)), 0);
	assert_true(g->steps[g->summary_of_scene[1]].wanted);
	assert_false(g->steps[g->summary_of_scene[0]].wanted);
	const char *bad[] = {"scene:9"};
	assert_int_equal(graph_select(g, bad, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "scene:9"));
	const char *nobody[] = {"sheet:NOBODY"};
	assert_int_equal(graph_select(g, nobody, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NOBODY"));
	const char *unknown[] = {"everything"};
	assert_int_equal(graph_select(g, unknown, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "everything"));
	graph_free(g);
	fountain_free(s);
}

static void summary_key(const struct graph *g, const struct run_config *rc, size_t scene, struct digest *out)
{
	const struct step *st = &g->steps[g->summary_of_scene[scene - 1]];
	step_action_key(g, st, &rc->step[STEP_SUMMARY], NULL, out);
}

static void test_keys_survive_an_inserted_scene(void **state)
{
	(void)state;
	struct run_config rc;
	char err[256];
	assert_int_equal(config_init(&rc, "builtin", "builtin", err, sizeof(err)), 0);
	struct fountain_script *before = parse(three_scenes), *after = parse(inserted_first);
	struct graph *g1 = graph_new(before), *g2 = graph_new(after);
	struct digest a, b;
	/* Every old scene moved one place down; its key names its content, not its position. */
	for (size_t i = 1; i <= 3; i++) {
		summary_key(g1, &rc, i, &a);
		summary_key(g2, &rc, i + 1, &b);
		assert_true(digest_equal(&a, &b));
	}
	/* The new scene's key is new, and different scenes have different keys. */
	summary_key(g2, &rc, 1, &b);
	for (size_t i = 1; i <= 3; i++) {
		summary_key(g1, &rc, i, &a);
		assert_false(digest_equal(&a, &b));
	}
	summary_key(g1, &rc, 1, &a);
	summary_key(g1, &rc, 2, &b);
	assert_false(digest_equal(&a, &b));
	graph_free(g1);
	graph_free(g2);
	fountain_free(before);
	fountain_free(after);
	config_free(&rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selection_wants_target_and_its_inputs),
		cmocka_unit_test(test_keys_survive_an_inserted_scene),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
