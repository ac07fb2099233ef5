/* test_prompts.c - prompt rendering carries the parser's facts (ordinals for sheets); the validator catches bad answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "fountain.h"
#include "job.h"
#include "prompts.h"

/* A three-scene script built by hand, so these tests depend on nothing but the prompts module. */
static char *mara_names[] = {"MARA", "TOMAS"};
static char *tomas_names[] = {"TOMAS"};
static struct fountain_cue cues1[] = {
	{.name = "MARA", .dialogue = "The lamp has gone out again.\nThird time this week.", .line = 5, .words = 10},
	{.name = "TOMAS", .dialogue = "Then we climb.", .line = 8, .words = 3},
};
static struct fountain_cue cues2[] = {
	{.name = "TOMAS", .dialogue = "No boats came in. Not one.", .line = 14, .words = 6},
};
static struct fountain_cue cues3[] = {
	{.name = "MARA", .dialogue = "I will keep the light myself.", .line = 24, .words = 6},
	{.name = "TOMAS", .dialogue = "Alone?", .line = 26, .words = 1},
};
static struct fountain_scene scenes[] = {
	{.index = 1, .heading = "INT. LIGHTHOUSE - NIGHT", .int_ext = "INT", .location = "LIGHTHOUSE", .time = "NIGHT",
	 .time_of_day = FOUNTAIN_TIME_NIGHT, .eighths = 2, .own_eighths = 2, .line = 3,
	 .text = "INT. LIGHTHOUSE - NIGHT\n\nWind rattles the glass.\n\nMARA\nThe lamp has gone out again.\nThird time "
	         "this week.\n\nTOMAS\nThen we climb.",
	 .characters = mara_names, .ncharacters = 2, .cues = cues1, .ncues = 2},
	{.index = 2, .heading = "EXT. HARBOR - DAY", .int_ext = "EXT", .location = "HARBOR", .time = "DAY",
	 .time_of_day = FOUNTAIN_TIME_DAY, .eighths = 1, .own_eighths = 1, .line = 12,
	 .text = "EXT. HARBOR - DAY\n\nEmpty moorings.\n\nTOMAS\nNo boats came in. Not one.",
	 .characters = tomas_names, .ncharacters = 1, .cues = cues2, .ncues = 1},
	{.index = 3, .heading = "INT. LIGHTHOUSE - DAWN", .int_ext = "INT", .location = "LIGHTHOUSE", .time = "DAWN",
	 .time_of_day = FOUNTAIN_TIME_DAWN, .eighths = 9, .own_eighths = 9, .line = 22,
	 .text = "INT. LIGHTHOUSE - DAWN\n\nMARA\nI will keep the light myself.\n\nTOMAS\nAlone?",
	 .characters = mara_names, .ncharacters = 2, .cues = cues3, .ncues = 2},
};
static size_t mara_scenes[] = {1, 3};
static size_t tomas_scenes[] = {1, 2, 3};
static struct fountain_character characters[] = {
	{.name = "MARA", .scenes = mara_scenes, .nscenes = 2, .cues = 2, .words = 16},
	{.name = "TOMAS", .scenes = tomas_scenes, .nscenes = 3, .cues = 3, .words = 10},
};
static struct fountain_section sections[] = {
	{.depth = 1, .title = "Act One", .line = 1, .next_scene = 1},
	{.depth = 1, .title = "Act Two", .line = 20, .next_scene = 3},
};
static struct fountain_synopsis synopses[] = {
	{.text = "The keepers lose their light.", .line = 2, .scene = 0, .next_scene = 1},
};
static struct fountain_script script = {
	.title = "The Quiet Lamp",
	.eighths = 12,
	.scenes = scenes, .nscenes = 3,
	.characters = characters, .ncharacters = 2,
	.sections = sections, .nsections = 2,
	.synopses = synopses, .nsynopses = 1,
};

static const struct gen_params params = {.model = "test-model", .max_tokens = 100};

static struct job job_of(enum step_kind kind)
{
	struct job j = {.kind = kind, .label = "test step", .params = &params, .script = &script};
	return j;
}

static cJSON *parse(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	return j;
}

static void assert_before(const char *text, const char *a, const char *b)
{
	const char *pa = strstr(text, a), *pb = strstr(text, b);
	assert_non_null(pa);
	assert_non_null(pb);
	assert_true(pa < pb);
}

static void test_summary_render_has_scene_facts_only(void **state)
{
	(void)state;
	struct job j = job_of(STEP_SUMMARY);
	j.scene = 2;
	char *text = prompt_render(&j);
	assert_non_null(text);
	assert_non_null(strstr(text, "Heading: EXT. HARBOR - DAY"));
	assert_non_null(strstr(text, "Interior/exterior: EXT"));
	assert_non_null(strstr(text, "Location: HARBOR"));
	assert_non_null(strstr(text, "Time of day: DAY (DAY)"));
	assert_non_null(strstr(text, "Length: about 1/8 of a page"));
	assert_non_null(strstr(text, "Speaking characters: TOMAS (1 cue, 6 words)"));
	assert_non_null(strstr(text, "Empty moorings."));
	/* Nothing from elsewhere in the script, not even its position: the summary's key covers only its scene. */
	assert_null(strstr(text, "MARA"));
	assert_null(strstr(text, "Quiet Lamp"));
	assert_null(strstr(text, "Scene 2"));
	assert_null(strstr(text, "{"));
	free(text);
}

static void test_outline_render_places_sections_and_synopses(void **state)
{
	(void)state;
	cJSON *s1 = parse("{\"summary\":\"The lamp fails.\"}");
	cJSON *s2 = parse("{\"summary\":\"The harbor is empty.\"}");
	cJSON *s3 = parse("{\"summary\":\"Mara takes the watch.\"}");
	const cJSON *sums[] = {s1, s2, s3};
	struct job j = job_of(STEP_OUTLINE);
	j.summaries = sums;
	j.nsummaries = 3;
	char *text = prompt_render(&j);
	assert_non_null(text);
	assert_non_null(strstr(text, "Title: The Quiet Lamp"));
	assert_non_null(strstr(text, "Scenes: 3"));
	assert_non_null(strstr(text, "Length: 1 4/8 pages"));
	assert_non_null(strstr(text, "Scene 1 (INT. LIGHTHOUSE - NIGHT; 2/8): The lamp fails."));
	assert_non_null(strstr(text, "Scene 2 (EXT. HARBOR - DAY; 1/8): The harbor is empty."));
	assert_non_null(strstr(text, "Scene 3 (INT. LIGHTHOUSE - DAWN; 1 1/8): Mara takes the watch."));
	assert_before(text, "# Act One", "= The keepers lose their light.");
	assert_before(text, "= The keepers lose their light.", "Scene 1 (");
	assert_before(text, "Scene 2 (", "# Act Two");
	assert_before(text, "# Act Two", "Scene 3 (");
	assert_non_null(strstr(text, "numbers 1 to 3"));
	free(text);
	cJSON_Delete(s1);
	cJSON_Delete(s2);
	cJSON_Delete(s3);
}

static void test_sheet_render_uses_ordinals(void **state)
{
	(void)state;
	cJSON *s1 = parse("{\"summary\":\"The lamp fails.\"}");
	cJSON *s3 = parse("{\"summary\":\"Mara takes the watch.\"}");
	const cJSON *sums[] = {s1, s3};
	struct job j = job_of(STEP_SHEET);
	j.character = 0;
	j.summaries = sums;
	j.nsummaries = 2;
	char *text = prompt_render(&j);
	assert_non_null(text);
	assert_non_null(strstr(text, "Character: MARA"));
	assert_non_null(strstr(text, "2 cues, 16 words of dialogue, speaks in 2 scenes"));
	assert_non_null(strstr(text, "Scene 1: INT. LIGHTHOUSE - NIGHT (about 2/8 of a page; speaking: MARA (1 cue, "
	                             "10 words), TOMAS (1 cue, 3 words))\nSummary: The lamp fails."));
	/* Global scene 3 is her second scene: it must read as 2, never as 3. */
	assert_non_null(strstr(text, "Scene 2: INT. LIGHTHOUSE - DAWN (about 1 1/8 of a page; speaking: MARA (1 cue, "
	                             "6 words), TOMAS (1 cue, 1 word))\nSummary: Mara takes the watch."));
	assert_null(strstr(text, "Scene 3"));
	assert_non_null(strstr(text, "- The lamp has gone out again.\n  Third time this week.\n"));
	assert_non_null(strstr(text, "- I will keep the light myself.\n"));
	/* Only her own lines. */
	assert_null(strstr(text, "Then we climb."));
	assert_null(strstr(text, "Alone?"));
	free(text);
	cJSON_Delete(s1);
	cJSON_Delete(s3);
}

/* Whether needle occurs in the first len bytes of text. */
static bool within(const char *text, size_t len, const char *needle)
{
	char *head = strndup(text, len);
	bool found = strstr(head, needle) != NULL;
	free(head);
	return found;
}

/* Blocks end after each scene, most stable first: a changed summary of scene 2 leaves block 1 byte-identical, and the
 * script-wide facts an edit changes (the page count, the statistics) come after every scene. */
static void test_blocks_keep_the_prefix_before_an_edit(void **state)
{
	(void)state;
	cJSON *s1 = parse("{\"summary\":\"The lamp fails.\"}");
	cJSON *s2 = parse("{\"summary\":\"The harbor is empty.\"}");
	cJSON *s2b = parse("{\"summary\":\"The harbor fills with boats.\"}");
	cJSON *s3 = parse("{\"summary\":\"Mara takes the watch.\"}");
	const cJSON *before[] = {s1, s2, s3}, *after[] = {s1, s2b, s3};
	struct job j = job_of(STEP_OUTLINE);
	j.nsummaries = 3;
	struct prompt_blocks a, b;
	j.summaries = before;
	char *ta = prompt_render_blocks(&j, &a);
	j.summaries = after;
	char *tb = prompt_render_blocks(&j, &b);
	char *plain = prompt_render(&j);
	assert_string_equal(tb, plain);
	assert_int_equal(a.n, 3);
	assert_int_equal(b.n, 3);
	assert_int_equal(a.ends[0], b.ends[0]);
	assert_memory_equal(ta, tb, a.ends[0]);
	assert_true(memcmp(ta, tb, a.ends[1]) != 0);
	assert_non_null(strstr(ta + a.ends[0], "Scene 2 ("));
	assert_null(strstr(ta + a.ends[2], "Scene 3 ("));
	assert_non_null(strstr(ta + a.ends[2], "Length: 1 4/8 pages"));
	assert_false(within(ta, a.ends[2], "Length:"));
	prompt_blocks_free(&a);
	prompt_blocks_free(&b);
	free(ta);
	free(tb);
	free(plain);

	j = job_of(STEP_SHEET);
	j.character = 0;
	const cJSON *sums[] = {s1, s3};
	j.summaries = sums;
	j.nsummaries = 2;
	char *ts = prompt_render_blocks(&j, &a);
	assert_int_equal(a.n, 2);
	assert_memory_equal(ts, "Character: MARA", 15);
	assert_non_null(strstr(ts + a.ends[0], "Scene 2: "));
	assert_false(within(ts, a.ends[1], "Statistics"));
	prompt_blocks_free(&a);
	free(ts);

	j = job_of(STEP_SUMMARY);
	j.scene = 2;
	char *tsum = prompt_render_blocks(&j, &a);
	assert_non_null(tsum);
	assert_int_equal(a.n, 0);
	assert_null(a.ends);
	free(tsum);
	cJSON_Delete(s1);
	cJSON_Delete(s2);
	cJSON_Delete(s2b);
	cJSON_Delete(s3);
}

static void test_schemas_list_required_fields(void **state)
{
	(void)state;
	static const char *const want[][8] = {
		[STEP_SUMMARY] = {"summary", "goal", "conflict", "outcome", "turning_point", "mood", "story_function",
		                  "props"},
		[STEP_OUTLINE] = {"logline", "synopsis", "acts"},
		[STEP_SHEET] = {"description", "want", "need", "arc", "turning_scenes", "relationships", "key_lines"},
	};
	static const char *const tools[] = {"record_scene_summary", "record_outline", "record_character_sheet"};
	for (int k = STEP_SUMMARY; k <= STEP_SHEET; k++) {
		cJSON *parsed = cJSON_Parse(prompt_schema_text((enum step_kind)k));
		assert_non_null(parsed);
		assert_true(cJSON_Compare(parsed, prompt_schema((enum step_kind)k), 1));
		const cJSON *req = cJSON_GetObjectItemCaseSensitive(parsed, "required");
		for (int i = 0; i < 8 && want[k][i]; i++) {
			int found = 0;
			const cJSON *r;
			cJSON_ArrayForEach(r, req)
				found |= strcmp(r->valuestring, want[k][i]) == 0;
			assert_true(found);
			assert_non_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(parsed, "properties"),
			                                                 want[k][i]));
		}
		assert_string_equal(prompt_tool_name((enum step_kind)k), tools[k]);
		assert_true(strlen(prompt_system((enum step_kind)k)) > 50);
		assert_non_null(strchr(prompt_id((enum step_kind)k), '/'));
		cJSON_Delete(parsed);
	}
	assert_null(prompt_schema(STEP_EMBEDDING));
	struct job j = job_of(STEP_EMBEDDING);
	assert_null(prompt_render(&j));
}

static const char good_summary[] =
	"{\"summary\":\"Mara finds the lamp dark. Tomas says they climb.\",\"goal\":\"relight the lamp\","
	"\"conflict\":\"the lamp keeps failing\",\"outcome\":\"they climb\",\"turning_point\":\"\",\"mood\":\"tense\","
	"\"story_function\":\"setup\",\"props\":[\"lamp\"],\"extra\":1}";

static int validate(enum step_kind kind, const char *text, char *err, size_t errlen)
{
	struct job j = job_of(kind);
	j.character = 0;
	cJSON *out = parse(text);
	err[0] = '\0';
	int rc = prompt_validate(&j, out, err, errlen);
	cJSON_Delete(out);
	return rc;
}

static void test_validate_summary(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(validate(STEP_SUMMARY, good_summary, err, sizeof(err)), 0);
	assert_int_equal(validate(STEP_SUMMARY, "{\"summary\":\"x\",\"goal\":\"\",\"conflict\":\"\",\"outcome\":\"\","
	                                        "\"turning_point\":\"\",\"story_function\":\"\",\"props\":[]}",
	                          err, sizeof(err)), -1);
	assert_non_null(strstr(err, "\"mood\""));
	assert_int_equal(validate(STEP_SUMMARY, "{\"summary\":\"x\",\"goal\":\"\",\"conflict\":\"\",\"outcome\":\"\","
	                                        "\"turning_point\":\"\",\"mood\":\"\",\"story_function\":\"\","
	                                        "\"props\":\"lamp\"}",
	                          err, sizeof(err)), -1);
	assert_non_null(strstr(err, "props is not an array"));
	assert_int_equal(validate(STEP_SUMMARY, "{\"summary\":\"x\",\"goal\":\"\",\"conflict\":\"\",\"outcome\":\"\","
	                                        "\"turning_point\":\"\",\"mood\":\"\",\"story_function\":\"\","
	                                        "\"props\":[\"lamp\", 3]}",
	                          err, sizeof(err)), -1);
	assert_non_null(strstr(err, "props[1] is not a string"));
	assert_int_equal(validate(STEP_SUMMARY, "{\"summary\":\"  \",\"goal\":\"\",\"conflict\":\"\",\"outcome\":\"\","
	                                        "\"turning_point\":\"\",\"mood\":\"\",\"story_function\":\"\","
	                                        "\"props\":[]}",
	                          err, sizeof(err)), -1);
	assert_non_null(strstr(err, "summary is empty"));
	assert_int_equal(validate(STEP_SUMMARY, "[1]", err, sizeof(err)), -1);
}

static void test_validate_outline(void **state)
{
	(void)state;
	char err[256];
	const char *good = "{\"logline\":\"l\",\"synopsis\":\"s\",\"acts\":[{\"title\":\"One\",\"scenes\":[1,2],"
	                   "\"sequences\":[{\"title\":\"a\",\"scenes\":[1,1],\"beats\":[\"b\"]}]},"
	                   "{\"title\":\"Two\",\"scenes\":[3,3],\"sequences\":[]}]}";
	assert_int_equal(validate(STEP_OUTLINE, good, err, sizeof(err)), 0);
	assert_int_equal(validate(STEP_OUTLINE, "{\"logline\":\"l\",\"synopsis\":\"s\",\"acts\":[{\"title\":\"One\","
	                                        "\"scenes\":[1,4],\"sequences\":[]}]}",
	                          err, sizeof(err)), -1);
	assert_non_null(strstr(err, "acts[0].scenes = [1, 4]"));
	assert_non_null(strstr(err, "numbered 1 to 3"));
	assert_int_equal(validate(STEP_OUTLINE, "{\"logline\":\"l\",\"synopsis\":\"s\",\"acts\":[{\"title\":\"One\","
	                                        "\"scenes\":[2,1],\"sequences\":[]}]}",
	                          err, sizeof(err)), -1);
	assert_int_equal(validate(STEP_OUTLINE, "{\"logline\":\"l\",\"synopsis\":\"s\",\"acts\":[{\"title\":\"One\","
	                                        "\"scenes\":[1,3],\"sequences\":[{\"title\":\"a\",\"scenes\":[0,1],"
	                                        "\"beats\":[]}]}]}",
	                          err, sizeof(err)), -1);
	assert_non_null(strstr(err, "acts[0].sequences[0].scenes[0]"));
	assert_int_equal(validate(STEP_OUTLINE, "{\"logline\":\"l\",\"synopsis\":\"s\",\"acts\":[{\"title\":\"One\","
	                                        "\"scenes\":[1,2.5],\"sequences\":[]}]}",
	                          err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an integer"));
	assert_int_equal(validate(STEP_OUTLINE, "{\"logline\":\"l\",\"synopsis\":\"s\",\"acts\":[{\"title\":\"One\","
	                                        "\"scenes\":[1,2,3],\"sequences\":[]}]}",
	                          err, sizeof(err)), -1);
	assert_int_equal(validate(STEP_OUTLINE, "{\"logline\":\"l\",\"synopsis\":\"s\",\"acts\":[]}", err, sizeof(err)),
	                 -1);
}

static void test_validate_sheet(void **state)
{
	(void)state;
	char err[256];
	const char *good = "{\"description\":\"d\",\"want\":\"w\",\"need\":\"n\",\"arc\":\"a\",\"turning_scenes\":[2],"
	                   "\"relationships\":[{\"character\":\"TOMAS\",\"relation\":\"brother\"}],"
	                   "\"key_lines\":[\"The lamp has gone out again.  Third time\",\"I will keep the light myself.\"]}";
	assert_int_equal(validate(STEP_SHEET, good, err, sizeof(err)), 0);
	/* Her second scene is global scene 3, but she has only two: 3 is out of range. */
	assert_int_equal(validate(STEP_SHEET, "{\"description\":\"d\",\"want\":\"w\",\"need\":\"n\",\"arc\":\"a\","
	                                      "\"turning_scenes\":[3],\"relationships\":[],\"key_lines\":[]}",
	                          err, sizeof(err)), -1);
	assert_non_null(strstr(err, "turning_scenes[0] = 3"));
	assert_int_equal(validate(STEP_SHEET, "{\"description\":\"d\",\"want\":\"w\",\"need\":\"n\",\"arc\":\"a\","
	                                      "\"turning_scenes\":[1],\"relationships\":[],"
	                                      "\"key_lines\":[\"Then we climb.\"]}",
	                          err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key_lines[0] \"Then we climb.\" is not a line MARA speaks"));
	assert_int_equal(validate(STEP_SHEET, "{\"description\":\"d\",\"want\":\"w\",\"need\":\"n\",\"arc\":\"a\","
	                                      "\"turning_scenes\":[1],\"relationships\":[],"
	                                      "\"key_lines\":[\"I will keep the lamp myself.\"]}",
	                          err, sizeof(err)), -1);
	assert_int_equal(validate(STEP_SHEET, "{\"description\":\"d\",\"want\":\"w\",\"need\":\"n\",\"arc\":\"a\","
	                                      "\"turning_scenes\":[1],\"relationships\":[{\"character\":\"TOMAS\"}],"
	                                      "\"key_lines\":[]}",
	                          err, sizeof(err)), -1);
	assert_non_null(strstr(err, "relationships[0] lacks the required field \"relation\""));
}

static void test_schema_check_subset(void **state)
{
	(void)state;
	char err[256];
	cJSON *schema = parse("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"number\",\"minimum\":0,"
	                      "\"maximum\":1},\"e\":{\"enum\":[\"a\",\"b\"]},\"f\":{\"type\":\"boolean\"}}}");
	cJSON *ok = parse("{\"n\":0.5,\"e\":\"b\",\"f\":true}");
	cJSON *high = parse("{\"n\":1.5}");
	cJSON *bad_enum = parse("{\"e\":\"c\"}");
	cJSON *bad_bool = parse("{\"f\":1}");
	assert_int_equal(prompt_schema_check(schema, ok, err, sizeof(err)), 0);
	assert_int_equal(prompt_schema_check(schema, high, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "n = 1.5 is out of range"));
	assert_int_equal(prompt_schema_check(schema, bad_enum, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "e is not one of the allowed values"));
	assert_int_equal(prompt_schema_check(schema, bad_bool, err, sizeof(err)), -1);
	cJSON_Delete(schema);
	cJSON_Delete(ok);
	cJSON_Delete(high);
	cJSON_Delete(bad_enum);
	cJSON_Delete(bad_bool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summary_render_has_scene_facts_only),
		cmocka_unit_test(test_outline_render_places_sections_and_synopses),
		cmocka_unit_test(test_sheet_render_uses_ordinals),
		cmocka_unit_test(test_blocks_keep_the_prefix_before_an_edit),
		cmocka_unit_test(test_schemas_list_required_fields),
		cmocka_unit_test(test_validate_summary),
		cmocka_unit_test(test_validate_outline),
		cmocka_unit_test(test_validate_sheet),
		cmocka_unit_test(test_schema_check_subset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
