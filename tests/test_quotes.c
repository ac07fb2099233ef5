/* test_quotes.c - a model's loose quotations snapped to the script's verbatim lines with their anchors, names mapped
 * to the cast, answers repaired or refused with every message a correction turn needs, stored results re-validated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "float32.h"
#include "fountain.h"
#include "job.h"
#include "prompts.h"
#include "quotes.h"
#include "validate.h"

/* Line numbers matter: MARA's lines are on lines 4, 5, 8 (after a parenthetical on 7) and 12. */
static const char script_text[] =
	"INT. LIGHTHOUSE - NIGHT\n"                                   /* 1 */
	"\n"                                                          /* 2 */
	"MARA\n"                                                      /* 3 */
	"The lamp's gone out again.\n"                                /* 4 */
	"We climb before the tide turns, or we don't climb at all.\n" /* 5 */
	"\n"                                                          /* 6 */
	"TOMAS QUILL\n"                                               /* 7 */
	"Then we climb.\n"                                            /* 8 */
	"\n"                                                          /* 9 */
	"EXT. PIER - DAWN\n"                                          /* 10 */
	"\n"                                                          /* 11 */
	"MARA\n"                                                      /* 12 */
	"(quietly)\n"                                                 /* 13 */
	"Go home, Tomas.\n"                                           /* 14 */
	"\n"                                                          /* 15 */
	"TOMAS QUILL\n"                                               /* 16 */
	"No.\n"                                                       /* 17 */
	"\n"                                                          /* 18 */
	"MARTA\n"                                                     /* 19 */
	"He stays.\n";                                                /* 20 */

static struct fountain_script *parse(void)
{
	struct fountain_script *s;
	struct fountain_error e;
	assert_int_equal(fountain_parse(script_text, strlen(script_text), &s, &e), 0);
	return s;
}

static void expect_match(const struct fountain_script *s, const char *name, const char *quote, const char *text,
                         size_t scene, int line)
{
	struct quote_match m;
	const struct fountain_character *ch = fountain_find_character(s, name);
	assert_non_null(ch);
	if (quote_find(s, ch, quote, &m) != QUOTE_FOUND)
		fail_msg("\"%s\" was not found", quote);
	assert_string_equal(m.text, text);
	assert_int_equal(m.scene, scene);
	assert_int_equal(m.line, line);
	free(m.text);
}

static void expect_no_match(const struct fountain_script *s, const char *name, const char *quote)
{
	struct quote_match m;
	if (quote_find(s, fountain_find_character(s, name), quote, &m) == QUOTE_FOUND) {
		free(m.text);
		fail_msg("\"%s\" matched", quote);
	}
}

/* Each of the four ways models misquote, and their mixtures, snap to the script's own words at their line. */
static void test_four_imperfections_snap_to_the_verbatim_line(void **state)
{
	(void)state;
	struct fountain_script *s = parse();
	const char *want = "The lamp's gone out again.";
	expect_match(s, "MARA", "\xe2\x80\x9cThe lamp's gone out again.\xe2\x80\x9d", want, 1, 4);  /* quote marks */
	expect_match(s, "MARA", "\"The lamp's gone out again.\"", want, 1, 4);
	expect_match(s, "MARA", "The lamp\xe2\x80\x99s gone out again.", want, 1, 4);            /* curly apostrophe */
	expect_match(s, "MARA", "The lamp's gone out again", want, 1, 4);                          /* lost period */
	expect_match(s, "MARA", "The lamp's  gone out again.", want, 1, 4);                        /* doubled space */
	expect_match(s, "MARA", "  \xe2\x80\x9cthe LAMP\xe2\x80\x99s gone  out again\xe2\x80\x9d ", want, 1, 4);
	/* A whole speech across its lines, and a line after a parenthetical, keep their own file lines. */
	expect_match(s, "MARA", "The lamp's gone out again. We climb before the tide turns, or we don't climb at all",
	             "The lamp's gone out again.\nWe climb before the tide turns, or we don't climb at all.", 1, 4);
	expect_match(s, "MARA", "Go home, Tomas", "Go home, Tomas.", 2, 14);
	fountain_free(s);
}

/* Models shorten: a run of at least four words of a line is its exact span; fewer words only as a whole line. */
static void test_shortened_quotes(void **state)
{
	(void)state;
	struct fountain_script *s = parse();
	expect_match(s, "MARA", "before the tide turns", "before the tide turns,", 1, 5);
	expect_match(s, "MARA", "\xe2\x80\x9cwe climb before the tide turns\xe2\x80\xa6\xe2\x80\x9d",
	             "We climb before the tide turns,", 1, 5);
	expect_no_match(s, "MARA", "the tide turns");        /* three words of a longer line */
	expect_no_match(s, "MARA", "Then we climb.");        /* TOMAS says it, not MARA */
	expect_no_match(s, "MARA", "The lamp is out again.");
	expect_no_match(s, "MARA", "");
	expect_match(s, "TOMAS QUILL", "no", "No.", 2, 17);  /* one word, but the whole line */
	fountain_free(s);
}

static void test_anchor_of_verbatim_text(void **state)
{
	(void)state;
	struct fountain_script *s = parse();
	struct quote_match m;
	const struct fountain_character *mara = fountain_find_character(s, "MARA");
	assert_int_equal(quote_anchor(s, mara, "or we don't climb", &m), QUOTE_FOUND);
	assert_int_equal(m.scene, 1);
	assert_int_equal(m.line, 5);
	assert_int_equal(m.ordinal, 1);
	free(m.text);
	assert_int_equal(quote_anchor(s, mara, "Go home, Tomas.", &m), QUOTE_FOUND);
	assert_int_equal(m.scene, 2);
	assert_int_equal(m.ordinal, 2);
	assert_int_equal(m.line, 14);
	free(m.text);
	assert_int_equal(quote_anchor(s, mara, "He stays.", &m), QUOTE_NOT_FOUND);
	fountain_free(s);
}

static void test_names_map_to_the_cast(void **state)
{
	(void)state;
	struct fountain_script *s = parse();
	assert_string_equal(quote_cast_member(s, "mara")->name, "MARA");
	assert_string_equal(quote_cast_member(s, "Tomas Quill")->name, "TOMAS QUILL");
	assert_string_equal(quote_cast_member(s, "Tomas")->name, "TOMAS QUILL");     /* first name */
	assert_string_equal(quote_cast_member(s, "Quill")->name, "TOMAS QUILL");     /* surname */
	assert_string_equal(quote_cast_member(s, "Marta Vance")->name, "MARTA");     /* the cast name is a part of it */
	assert_null(quote_cast_member(s, "The Harbourmaster"));
	assert_null(quote_cast_member(s, "Mar"));
	fountain_free(s);
}

static struct job sheet_job(const struct fountain_script *s, const char *name)
{
	struct job j = {0};
	j.kind = STEP_SHEET;
	j.script = s;
	j.character = (size_t)(fountain_find_character(s, name) - s->characters);
	return j;
}

/* What prompt_repair stores: the verbatim words, the schema's fields only; what cannot match is dropped, counted. */
static void test_repair_sheet(void **state)
{
	(void)state;
	struct fountain_script *s = parse();
	struct job j = sheet_job(s, "MARA");
	cJSON *out = cJSON_Parse("{\"description\":\"d\",\"want\":\"w\",\"need\":\"n\",\"arc\":\"a\",\"turning_scenes\":[2],"
	                         "\"relationships\":[{\"character\":\"Tomas\",\"relation\":\"brother\",\"mood\":\"x\"}],"
	                         "\"key_lines\":[\"\xe2\x80\x9cGo home, Tomas\xe2\x80\x9d\",\"I never said this.\","
	                         "\"The lamp\xe2\x80\x99s gone out again\",\"go home, tomas.\"],"
	                         "\"analyser\":\"fake-model/1\"}");
	struct prompt_repairs r;
	char err[512];
	assert_int_equal(prompt_repair(&j, out, &r, err, sizeof(err)), 0);
	assert_int_equal(r.dropped_quotes, 1);
	assert_int_equal(r.snapped_quotes, 2);
	assert_int_equal(r.stripped_fields, 2);
	char *text = cJSON_PrintUnformatted(out);
	assert_string_equal(text, "{\"description\":\"d\",\"want\":\"w\",\"need\":\"n\",\"arc\":\"a\",\"turning_scenes\":[2],"
	                          "\"relationships\":[{\"character\":\"Tomas\",\"relation\":\"brother\"}],"
	                          "\"key_lines\":[\"Go home, Tomas.\",\"The lamp's gone out again.\"]}");
	assert_int_equal(result_check(STEP_SHEET, "anthropic", text, strlen(text), err, sizeof(err)), 0);
	free(text);
	cJSON_Delete(out);

	/* Nothing valid left, and a scene out of range: refused with every message, for one correction turn. */
	out = cJSON_Parse("{\"description\":\"d\",\"want\":\"w\",\"need\":\"n\",\"arc\":\"a\",\"turning_scenes\":[7],"
	                  "\"relationships\":[],\"key_lines\":[\"I never said this.\"]}");
	assert_int_equal(prompt_repair(&j, out, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "turning_scenes[0] = 7, but MARA speaks in only 2 scenes (numbered 1..2)"));
	assert_non_null(strstr(err, "none of the 1 quotes is a line MARA speaks"));
	cJSON_Delete(out);
	fountain_free(s);
}

static void test_repair_outline_ranges_and_lengths(void **state)
{
	(void)state;
	struct fountain_script *s = parse();
	struct job j = {.kind = STEP_OUTLINE, .script = s};
	struct prompt_repairs r;
	char err[1024];
	cJSON *out = cJSON_Parse("{\"logline\":\"l\",\"synopsis\":\"s\",\"acts\":[{\"title\":\"One\",\"scenes\":[1,2],"
	                         "\"sequences\":[]},{\"title\":\"Two\",\"scenes\":[2,9],\"sequences\":[]}]}");
	assert_int_equal(prompt_repair(&j, out, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "acts[1].scenes = [2, 9] is out of range: the scenes are numbered 1 to 2"));
	cJSON_Delete(out);
	out = cJSON_Parse("{\"logline\":\"l\",\"synopsis\":\"s\",\"acts\":[{\"title\":\"One\",\"scenes\":[1,2],"
	                  "\"sequences\":[]},{\"title\":\"Two\",\"scenes\":[2,2],\"sequences\":[]}]}");
	assert_int_equal(prompt_repair(&j, out, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "acts[1].scenes = [2, 2] overlaps acts[0].scenes = [1, 2]"));
	cJSON_Delete(out);
	/* An over-long summary is a validation failure (a correction turn), never a stored result. */
	struct job sj = {.kind = STEP_SUMMARY, .script = s, .scene = 1};
	char *longtext = malloc(3001);
	memset(longtext, 'a', 3000);
	longtext[3000] = '\0';
	out = cJSON_Parse("{\"summary\":\"x\",\"goal\":\"\",\"conflict\":\"\",\"outcome\":\"\",\"turning_point\":\"\","
	                  "\"mood\":\"\",\"story_function\":\"\",\"props\":[]}");
	cJSON_ReplaceItemInObjectCaseSensitive(out, "summary", cJSON_CreateString(longtext));
	assert_int_equal(prompt_repair(&sj, out, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "summary has 3000 characters, more than the 1500 allowed"));
	cJSON_Delete(out);
	free(longtext);
	fountain_free(s);
}

/* Broken text and duplicate keys are malformed; the stored form is re-validated as -t verify does. */
static void test_text_and_stored_results(void **state)
{
	(void)state;
	char err[300];
	assert_int_equal(answer_check_bytes("{\"a\":\"caf\xc3\xa9\"}", 12, err, sizeof(err)), 0);
	assert_int_equal(answer_check_bytes("{\"a\":\"caf\xe2\x80\"}", 12, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid UTF-8"));
	assert_int_equal(answer_check_bytes("{\"a\":\"x\\u0000y\"}", 16, err, sizeof(err)), -1);
	assert_int_equal(answer_check_bytes("{\"a\":\"x\\\\u0000y\"}", 17, err, sizeof(err)), 0);
	cJSON *dup = cJSON_Parse("{\"a\":{\"b\":1,\"b\":2}}");
	assert_int_equal(answer_check_tree(dup, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a has the key \"b\" twice"));
	cJSON_Delete(dup);
	cJSON *ctl = cJSON_Parse("{\"a\":\"bell\\u0007\"}");
	assert_int_equal(answer_check_tree(ctl, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "control character 0x07"));
	cJSON_Delete(ctl);

	const char *summary = "{\"summary\":\"s\",\"goal\":\"\",\"conflict\":\"\",\"outcome\":\"\",\"turning_point\":\"\","
	                      "\"mood\":\"\",\"story_function\":\"\",\"props\":[],\"analyser\":\"x\"}";
	assert_int_equal(result_check(STEP_SUMMARY, "anthropic", summary, strlen(summary), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "1 field its schema does not have"));
	/* The builtin analyser's documented extra facts are its own. */
	assert_int_equal(result_check(STEP_SUMMARY, "builtin", summary, strlen(summary), err, sizeof(err)), 0);
	assert_int_equal(result_check(STEP_KINDS, "anthropic", summary, strlen(summary), err, sizeof(err)), -1);

	float v[4] = {0.5f, 0.5f, 0.5f, 0.5f};
	unsigned char bytes[16];
	float32_encode(v, 4, bytes);
	assert_int_equal(result_check(STEP_EMBEDDING, "openai", bytes, 16, err, sizeof(err)), 0);
	float zero[4] = {0}, huge[4] = {3e38f, 3e38f, 0, 0};
	float32_encode(zero, 4, bytes);
	assert_int_equal(result_check(STEP_EMBEDDING, "openai", bytes, 16, err, sizeof(err)), -1);
	float32_encode(huge, 4, bytes);
	assert_int_equal(result_check(STEP_EMBEDDING, "openai", bytes, 16, err, sizeof(err)), -1);
	assert_int_equal(embedding_check(v, 4, 8, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_four_imperfections_snap_to_the_verbatim_line),
		cmocka_unit_test(test_shortened_quotes),
		cmocka_unit_test(test_anchor_of_verbatim_text),
		cmocka_unit_test(test_names_map_to_the_cast),
		cmocka_unit_test(test_repair_sheet),
		cmocka_unit_test(test_repair_outline_ranges_and_lengths),
		cmocka_unit_test(test_text_and_stored_results),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
