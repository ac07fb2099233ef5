/* test_builtin.c - the offline analyser: honest extractive summaries, structural outlines, sheets built from the
 * character's own lines, stable embeddings, pure functions of their inputs, and a provider that completes on the loop. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "builtin.h"
#include "fountain.h"
#include "grow.h"
#include "job.h"
#include "loop.h"
#include "sbtest.h"

static const char harbor[] =
	"Title: Harbor Test\n"
	"\n"
	"EXT. HARBOR - DAWN\n"
	"\n"
	"Fog sits on the water. MARA hauls the fishing net over the gunwale, the net heavy and torn. It is quiet.\n"
	"\n"
	"TEO, a boy of ten, runs down the pier with the LANTERN. ILSE (60s) watches from the sea wall.\n"
	"\n"
	"BOOM.\n"
	"\n"
	"MARA\n"
	"The net is torn again.\n"
	"We mend the net before the tide turns, or we starve.\n"
	"\n"
	"TEO\n"
	"Yes.\n";

static struct fountain_script *parse(const char *text)
{
	struct fountain_script *s = NULL;
	struct fountain_error err;
	if (fountain_parse(text, strlen(text), &s, &err) != 0)
		fail_msg("fixture does not parse: line %d: %s", err.line, err.message);
	return s;
}

static char *print(const cJSON *o)
{
	assert_non_null(o);
	char *text = cJSON_PrintUnformatted(o);
	assert_non_null(text);
	return text;
}

static const char *str_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsString(v))
		fail_msg("field \"%s\" is not a string", key);
	return v->valuestring;
}

static const cJSON *array_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsArray(v))
		fail_msg("field \"%s\" is not an array", key);
	return v;
}

static void expect_string_array(const cJSON *o, const char *key)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, array_field(o, key))
		assert_true(cJSON_IsString(item));
}

static bool array_has(const cJSON *array, const char *want)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, array)
		if (cJSON_IsString(item) && strcmp(item->valuestring, want) == 0)
			return true;
	return false;
}

static void expect_summary_schema(const cJSON *o)
{
	static const char *const strings[] = {"summary", "goal", "conflict", "outcome", "turning_point", "mood",
	                                      "story_function"};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		str_field(o, strings[i]);
	expect_string_array(o, "props");
	assert_string_equal(str_field(o, "analyser"), BUILTIN_ANALYSER);
}

/* Sentences in the prose: 2 to 4 of them. */
static size_t sentence_count(const char *text)
{
	size_t n = 0;
	for (const char *p = text; *p; p++)
		if ((*p == '.' || *p == '!' || *p == '?' || (*p == '"' && p > text && strchr(".!?", p[-1]))) &&
		    (p[1] == ' ' || p[1] == '\0') && !(p[1] == ' ' && p[2] >= 'a' && p[2] <= 'z'))
			n++;
	return n;
}

static void summary_reports_place_time_people_and_key_line(void **state)
{
	(void)state;
	struct fountain_script *s = parse(harbor);
	cJSON *o = builtin_summary(s, 1);
	expect_summary_schema(o);
	assert_string_equal(str_field(o, "location"), "HARBOR");
	assert_string_equal(str_field(o, "time"), "DAWN");
	const char *text = str_field(o, "summary");
	assert_non_null(strstr(text, "HARBOR"));
	assert_non_null(strstr(text, "dawn"));
	assert_non_null(strstr(text, "MARA"));
	assert_non_null(strstr(text, "TEO"));
	size_t n = sentence_count(text);
	assert_true(n >= 2 && n <= 4);

	const cJSON *people = array_field(o, "characters");
	assert_true(array_has(people, "MARA"));
	assert_true(array_has(people, "TEO"));
	assert_true(array_has(people, "ILSE"));     /* introduced in capitals with an age, never speaks */
	assert_false(array_has(people, "BOOM"));    /* a sound, not a person */
	assert_false(array_has(people, "LANTERN"));
	assert_true(array_has(array_field(o, "props"), "lantern"));

	/* The key line is one verbatim line of dialogue, the one that says the most about the scene. */
	assert_string_equal(str_field(o, "key_line"), "We mend the net before the tide turns, or we starve.");
	assert_string_equal(str_field(o, "key_speaker"), "MARA");
	assert_non_null(strstr(s->scenes[0].cues[0].dialogue, str_field(o, "key_line")));

	/* The net sentence carries the scene; "It is quiet." is filler. */
	assert_non_null(strstr(text, "MARA hauls the fishing net over the gunwale, the net heavy and torn."));
	assert_null(strstr(text, "It is quiet"));
	cJSON_Delete(o);
	fountain_free(s);
}

static void summary_is_honest_about_what_it_cannot_say(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. CELLAR - NIGHT\n\nA candle gutters. Dust everywhere.\n");
	cJSON *o = builtin_summary(s, 1);
	expect_summary_schema(o);
	assert_string_equal(str_field(o, "goal"), "");
	assert_string_equal(str_field(o, "conflict"), "");
	assert_string_equal(str_field(o, "key_line"), "");
	assert_int_equal(cJSON_GetArraySize(array_field(o, "characters")), 0);
	assert_non_null(strstr(str_field(o, "summary"), "no one speaks"));
	assert_non_null(strstr(str_field(o, "summary"), "A candle gutters."));
	cJSON_Delete(o);
	assert_null(builtin_summary(s, 0));
	assert_null(builtin_summary(s, 2));
	fountain_free(s);
}

static void summary_mood_comes_from_lexicon_cues(void **state)
{
	(void)state;
	struct fountain_script *s = parse("EXT. ALLEY - NIGHT\n\nRUTH runs. Blood on the cobbles. Someone screams.\n\n"
	                                  "RUTH\nThe knife. He had a knife.\n\n"
	                                  "INT. KITCHEN - DAY\n\nBread on the table.\n\nRUTH\nPass the salt.\n");
	cJSON *tense = builtin_summary(s, 1), *plain = builtin_summary(s, 2);
	assert_string_equal(str_field(tense, "mood"), "tense");
	assert_string_equal(str_field(plain, "mood"), "");
	cJSON_Delete(tense);
	cJSON_Delete(plain);
	fountain_free(s);
}

static const char scene_x[] =
	"INT. LIGHTHOUSE - NIGHT\n"
	"\n"
	"Mr. Voss climbs the spiral stairs. TEO follows with the OIL CAN, counting steps.\n"
	"\n"
	"TEO\n"
	"Ninety-one. The keeper said ninety.\n"
	"\n"
	"VOSS\n"
	"The keeper lied about more than stairs.\n";

/* A summary depends on its scene's text only: not on its position, its neighbours or the title. */
static void summary_is_pure(void **state)
{
	(void)state;
	char a[2048], b[2048];
	snprintf(a, sizeof(a), "Title: One\n\n%s", scene_x);
	snprintf(b, sizeof(b),
	         "Title: Two\n\nEXT. FIELD - DAY\n\nWind.\n\nANNA\nHello.\n\nINT. BARN - DAY\n\nHay.\n\nBEN\nHi.\n\n%s"
	         "\nEXT. ROAD - DAY\n\nDust.\n",
	         scene_x);
	struct fountain_script *sa = parse(a), *sb = parse(b);
	assert_int_equal(sb->nscenes, 4);
	cJSON *oa = builtin_summary(sa, 1), *ob = builtin_summary(sb, 3);
	char *ta = print(oa), *tb = print(ob);
	assert_string_equal(ta, tb);
	/* "Mr." does not end a sentence. */
	assert_non_null(strstr(ta, "Mr. Voss climbs the spiral stairs."));
	free(ta);
	free(tb);
	cJSON_Delete(oa);
	cJSON_Delete(ob);
	fountain_free(sa);
	fountain_free(sb);
}

static cJSON **all_summaries(const struct fountain_script *s)
{
	cJSON **out = calloc(s->nscenes ? s->nscenes : 1, sizeof(*out));
	assert_non_null(out);
	for (size_t i = 0; i < s->nscenes; i++) {
		out[i] = builtin_summary(s, i + 1);
		assert_non_null(out[i]);
	}
	return out;
}

static void free_summaries(cJSON **sums, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(sums[i]);
	free(sums);
}

static void expect_range(const cJSON *o, size_t first, size_t last)
{
	const cJSON *r = array_field(o, "scenes");
	assert_int_equal(cJSON_GetArraySize(r), 2);
	assert_true(cJSON_IsNumber(cJSON_GetArrayItem(r, 0)) && cJSON_IsNumber(cJSON_GetArrayItem(r, 1)));
	assert_int_equal(cJSON_GetArrayItem(r, 0)->valueint, first);
	assert_int_equal(cJSON_GetArrayItem(r, 1)->valueint, last);
}

/* Every act and sequence well-formed, in range, and together covering 1..n in order with one beat per scene. */
static void expect_outline_schema(const cJSON *o, size_t n)
{
	str_field(o, "logline");
	str_field(o, "synopsis");
	assert_string_equal(str_field(o, "analyser"), BUILTIN_ANALYSER);
	size_t next = 1;
	const cJSON *act;
	cJSON_ArrayForEach(act, array_field(o, "acts")) {
		str_field(act, "title");
		const cJSON *r = array_field(act, "scenes");
		int first = cJSON_GetArrayItem(r, 0)->valueint, last = cJSON_GetArrayItem(r, 1)->valueint;
		assert_int_equal(first, next);
		assert_true(first <= last && (size_t)last <= n);
		int seq_next = first;
		const cJSON *seq;
		cJSON_ArrayForEach(seq, array_field(act, "sequences")) {
			str_field(seq, "title");
			const cJSON *sr = array_field(seq, "scenes");
			int sf = cJSON_GetArrayItem(sr, 0)->valueint, sl = cJSON_GetArrayItem(sr, 1)->valueint;
			assert_int_equal(sf, seq_next);
			assert_true(sf <= sl && sl <= last);
			expect_string_array(seq, "beats");
			assert_int_equal(cJSON_GetArraySize(array_field(seq, "beats")), sl - sf + 1);
			seq_next = sl + 1;
		}
		assert_int_equal(seq_next, last + 1);
		next = (size_t)last + 1;
	}
	assert_int_equal(next, n + 1);
}

static const char sectioned[] =
	"Title: Sections\n"
	"\n"
	"# Act One\n"
	"\n"
	"= Mara finds the ledger and hides it.\n"
	"\n"
	"INT. OFFICE - DAY\n\nMARA opens the LEDGER.\n\nMARA\nThese numbers are wrong.\n\n"
	"## Arrival\n\n"
	"EXT. PIER - DAY\n\nA ferry docks.\n\nTEO\nShe's here.\n\n"
	"# Act Two\n\n"
	"INT. TAVERN - NIGHT\n\nRain on the windows.\n\nMARA\nWho keeps the books?\n\n"
	"## The Storm\n\n"
	"EXT. SEA WALL - NIGHT\n\nWaves break over the wall.\n\nTEO\nGet back!\n\n"
	"EXT. BOATYARD - NIGHT\n\nA hull splits.\n\nMARA\nThe ledger!\n\n"
	"# Act Three\n\n"
	"EXT. HARBOR - DAWN\n\nCalm water.\n\nMARA\nIt's over.\n";

static void outline_uses_sections_as_acts(void **state)
{
	(void)state;
	struct fountain_script *s = parse(sectioned);
	assert_int_equal(s->nscenes, 6);
	cJSON **sums = all_summaries(s);
	cJSON *o = builtin_outline(s, (const cJSON *const *)sums, s->nscenes);
	expect_outline_schema(o, 6);
	const cJSON *acts = array_field(o, "acts");
	assert_int_equal(cJSON_GetArraySize(acts), 3);
	assert_string_equal(str_field(cJSON_GetArrayItem(acts, 0), "title"), "Act One");
	assert_string_equal(str_field(cJSON_GetArrayItem(acts, 1), "title"), "Act Two");
	assert_string_equal(str_field(cJSON_GetArrayItem(acts, 2), "title"), "Act Three");
	expect_range(cJSON_GetArrayItem(acts, 0), 1, 2);
	expect_range(cJSON_GetArrayItem(acts, 1), 3, 5);
	expect_range(cJSON_GetArrayItem(acts, 2), 6, 6);

	const cJSON *seqs = array_field(cJSON_GetArrayItem(acts, 1), "sequences");
	assert_int_equal(cJSON_GetArraySize(seqs), 2);
	expect_range(cJSON_GetArrayItem(seqs, 0), 3, 3);
	assert_string_equal(str_field(cJSON_GetArrayItem(seqs, 1), "title"), "The Storm");
	expect_range(cJSON_GetArrayItem(seqs, 1), 4, 5);
	const cJSON *beats = array_field(cJSON_GetArrayItem(seqs, 1), "beats");
	assert_string_equal(cJSON_GetArrayItem(beats, 0)->valuestring, "EXT. SEA WALL - NIGHT: Waves break over the wall.");

	assert_non_null(strstr(str_field(o, "synopsis"), "Mara finds the ledger and hides it."));
	assert_non_null(strstr(str_field(o, "logline"), "Sections"));
	assert_non_null(strstr(str_field(o, "logline"), "MARA"));
	cJSON_Delete(o);
	free_summaries(sums, s->nscenes);
	fountain_free(s);
}

static void outline_falls_back_to_three_acts(void **state)
{
	(void)state;
	char text[4096] = "";
	for (int i = 1; i <= 8; i++) {
		char scene[256];
		snprintf(scene, sizeof(scene), "INT. ROOM %d - DAY\n\nSomeone waits in room %d.\n\nANNA\nLine %d.\n\n", i, i, i);
		strcat(text, scene);
	}
	struct fountain_script *s = parse(text);
	cJSON **sums = all_summaries(s);
	cJSON *o = builtin_outline(s, (const cJSON *const *)sums, s->nscenes);
	expect_outline_schema(o, 8);
	const cJSON *acts = array_field(o, "acts");
	assert_int_equal(cJSON_GetArraySize(acts), 3);
	expect_range(cJSON_GetArrayItem(acts, 0), 1, 2);
	expect_range(cJSON_GetArrayItem(acts, 1), 3, 6);
	expect_range(cJSON_GetArrayItem(acts, 2), 7, 8);
	assert_string_equal(str_field(cJSON_GetArrayItem(acts, 2), "title"), "Act Three");
	cJSON_Delete(o);

	/* Tiny scripts still get valid ranges. */
	for (size_t n = 1; n <= 3; n++) {
		o = builtin_outline(s, (const cJSON *const *)sums, n);
		expect_outline_schema(o, n);
		cJSON_Delete(o);
	}
	free_summaries(sums, s->nscenes);
	fountain_free(s);
}

static const char ensemble[] =
	"INT. OFFICE - DAY\n\nMARA counts coins.\n\nMARA\nTwelve short. Again.\n\nTEO\nI didn't take them.\n\n"
	"EXT. PIER - NIGHT\n\nFog.\n\nILSE\nYou're out late.\n\n"
	"INT. OFFICE - NIGHT\n\nThe lamp burns low.\n\nMARA\nSomebody in this harbor keeps a second ledger, and I will find it "
	"before the council meets.\nSit down.\n\nTEO\nFine.\n\n"
	"EXT. HARBOR - DAWN\n\nBoats go out.\n\nMARA\nGo.\n";

static void expect_sheet_schema(const cJSON *o, size_t k)
{
	static const char *const strings[] = {"description", "want", "need", "arc"};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		str_field(o, strings[i]);
	const cJSON *t;
	int prev = 0;
	cJSON_ArrayForEach(t, array_field(o, "turning_scenes")) {
		assert_true(cJSON_IsNumber(t));
		assert_true(t->valueint > prev && (size_t)t->valueint <= k);
		prev = t->valueint;
	}
	const cJSON *r;
	cJSON_ArrayForEach(r, array_field(o, "relationships")) {
		str_field(r, "character");
		str_field(r, "relation");
	}
	expect_string_array(o, "key_lines");
	assert_string_equal(str_field(o, "analyser"), BUILTIN_ANALYSER);
}

static cJSON *sheet_of(const struct fountain_script *s, cJSON **sums, const char *name)
{
	const struct fountain_character *ch = fountain_find_character(s, name);
	assert_non_null(ch);
	const cJSON **own = calloc(ch->nscenes, sizeof(*own));
	assert_non_null(own);
	for (size_t i = 0; i < ch->nscenes; i++)
		own[i] = sums[fountain_scene_by_index(s, ch->scenes[i]) - s->scenes]; /* indexes are heading numbers */
	cJSON *o = builtin_sheet(s, (size_t)(ch - s->characters), own, ch->nscenes);
	free(own);
	return o;
}

/* A key line must be a verbatim piece of one of the character's own cues. */
static bool spoken_by(const struct fountain_script *s, const char *name, const char *line)
{
	for (size_t i = 0; i < s->nscenes; i++)
		for (size_t c = 0; c < s->scenes[i].ncues; c++)
			if (strcmp(s->scenes[i].cues[c].name, name) == 0 && strstr(s->scenes[i].cues[c].dialogue, line))
				return true;
	return false;
}

static void sheet_is_built_from_own_lines_and_ordinals(void **state)
{
	(void)state;
	struct fountain_script *s = parse(ensemble);
	cJSON **sums = all_summaries(s);
	cJSON *o = sheet_of(s, sums, "MARA");
	expect_sheet_schema(o, 3);
	const struct fountain_character *mara = fountain_find_character(s, "MARA");
	assert_int_equal(cJSON_GetObjectItem(o, "scene_count")->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(o, "cues")->valueint, mara->cues);
	assert_int_equal(cJSON_GetObjectItem(o, "words")->valueint, mara->words);

	const cJSON *line;
	int nlines = 0;
	cJSON_ArrayForEach(line, array_field(o, "key_lines")) {
		assert_true(spoken_by(s, "MARA", line->valuestring));
		nlines++;
	}
	assert_true(nlines >= 1 && nlines <= 3);
	assert_true(array_has(array_field(o, "key_lines"), "Somebody in this harbor keeps a second ledger, and I will "
	                                                   "find it before the council meets."));

	/* Ordinals into MARA's own scenes (global scenes 1, 3, 4): first, most words (the second), last. */
	const cJSON *t = array_field(o, "turning_scenes");
	assert_int_equal(cJSON_GetArraySize(t), 3);
	assert_int_equal(cJSON_GetArrayItem(t, 0)->valueint, 1);
	assert_int_equal(cJSON_GetArrayItem(t, 1)->valueint, 2);
	assert_int_equal(cJSON_GetArrayItem(t, 2)->valueint, 3);

	const cJSON *rel = cJSON_GetArrayItem(array_field(o, "relationships"), 0);
	assert_string_equal(str_field(rel, "character"), "TEO");
	assert_string_equal(str_field(rel, "relation"), "shares 2 scenes");
	assert_non_null(strstr(str_field(o, "description"), "MARA"));
	assert_non_null(strstr(str_field(o, "description"), "TEO"));
	assert_string_equal(str_field(o, "want"), "");
	cJSON_Delete(o);

	o = sheet_of(s, sums, "ILSE");
	expect_sheet_schema(o, 1);
	assert_int_equal(cJSON_GetArraySize(array_field(o, "relationships")), 0);
	assert_true(array_has(array_field(o, "key_lines"), "You're out late."));
	cJSON_Delete(o);
	free_summaries(sums, s->nscenes);
	fountain_free(s);
}

/* Inserting a scene elsewhere changes neither the sheet's ordinals nor its bytes. */
static void sheet_ignores_global_positions(void **state)
{
	(void)state;
	char more[4096];
	snprintf(more, sizeof(more), "EXT. FIELD - DAY\n\nCrows.\n\nBEN\nNobody comes here.\n\n%s", ensemble);
	struct fountain_script *a = parse(ensemble), *b = parse(more);
	cJSON **sa = all_summaries(a), **sb = all_summaries(b);
	cJSON *oa = sheet_of(a, sa, "TEO"), *ob = sheet_of(b, sb, "TEO");
	char *ta = print(oa), *tb = print(ob);
	assert_string_equal(ta, tb);
	free(ta);
	free(tb);
	cJSON_Delete(oa);
	cJSON_Delete(ob);
	const struct fountain_character *teo = fountain_find_character(a, "TEO");
	assert_null(builtin_sheet(a, (size_t)(teo - a->characters), (const cJSON *const *)sa, 1));
	free_summaries(sa, a->nscenes);
	free_summaries(sb, b->nscenes);
	fountain_free(a);
	fountain_free(b);
}

static double dot(const float *a, const float *b, size_t n)
{
	double d = 0;
	for (size_t i = 0; i < n; i++)
		d += (double)a[i] * b[i];
	return d;
}

static void embedding_is_normalised_stable_and_meaningful(void **state)
{
	(void)state;
	enum { D = 256 };
	float a[D + 4], b[D], c[D], z[D];
	const float guard = 12345.0f;
	for (size_t i = D; i < D + 4; i++)
		a[i] = guard;
	builtin_embed("The fishing boats leave the harbor at dawn through the fog.", D, a);
	for (size_t i = D; i < D + 4; i++)
		assert_true(a[i] == guard);
	assert_true(fabs(dot(a, a, D) - 1.0) < 1e-5);
	builtin_embed("The fishing boats leave the harbor at dawn through the fog.", D, b);
	assert_memory_equal(a, b, sizeof(b));

	builtin_embed("At dawn the fishing boats leave the foggy harbor.", D, b);
	builtin_embed("A lawyer reads the contract aloud in a courtroom in winter.", D, c);
	assert_true(dot(a, b, D) > dot(a, c, D) + 0.2);

	builtin_embed("", D, z);
	for (size_t i = 0; i < D; i++)
		assert_true(z[i] == 0.0f);
	builtin_embed("it", D, z);
	assert_true(fabs(dot(z, z, D) - 1.0) < 1e-5);

	/* Bigrams keep some word order: the same words in another order are a different text. */
	builtin_embed("dog bites man", D, b);
	builtin_embed("man bites dog", D, c);
	assert_true(dot(b, c, D) < 0.999);

	float small[7];
	builtin_embed("three small words", 7, small);
	assert_true(fabs(dot(small, small, 7) - 1.0) < 1e-5);
}

static int completions;

static void count_done(struct job *job)
{
	(void)job;
	completions++;
}

static void provider_completes_only_through_the_loop(void **state)
{
	(void)state;
	struct fountain_script *s = parse(harbor);
	struct loop *loop = loop_new();
	assert_non_null(loop);
	struct provider *p = builtin_provider_new(loop);
	assert_string_equal(p->name, "builtin");

	struct job sum = {.kind = STEP_SUMMARY, .label = "summary 1", .script = s, .scene = 1, .done = count_done};
	const char *texts[] = {"harbor at dawn", "a courtroom"};
	struct gen_params params = {.dims = 32};
	struct job emb = {.kind = STEP_EMBEDDING, .label = "embedding", .params = &params, .texts = texts, .ntexts = 2,
	                  .done = count_done};
	struct job emb_default = {.kind = STEP_EMBEDDING, .label = "embedding", .texts = texts, .ntexts = 1,
	                          .done = count_done};
	completions = 0;
	assert_int_equal(p->start(p, &sum), 0);
	assert_int_equal(p->start(p, &emb), 0);
	assert_int_equal(p->start(p, &emb_default), 0);
	assert_int_equal(completions, 0);
	assert_int_equal(loop_pending(loop), 3);
	loop_run_once(loop, 0);
	assert_int_equal(completions, 3);
	assert_int_equal(loop_pending(loop), 0);

	assert_int_equal(sum.status, JOB_OK);
	cJSON *direct = builtin_summary(s, 1);
	char *want = print(direct);
	assert_string_equal(sum.output, want);
	assert_int_equal(sum.tokens_in + sum.tokens_out, 0);
	free(want);
	cJSON_Delete(direct);

	assert_int_equal(emb.dims, 32);
	float v[32];
	builtin_embed(texts[1], 32, v);
	assert_memory_equal(emb.vectors + 32, v, sizeof(v));
	assert_int_equal(emb_default.dims, BUILTIN_DEFAULT_DIMS);

	/* A job the script cannot answer fails at once, with a message, and never completes. */
	struct job bad = {.kind = STEP_SUMMARY, .label = "summary 9", .script = s, .scene = 9, .done = count_done};
	assert_int_equal(p->start(p, &bad), -1);
	assert_non_null(strstr(bad.error, "summary 9"));
	assert_int_equal(loop_pending(loop), 0);
	loop_run_once(loop, 0);
	assert_int_equal(completions, 3);

	free(sum.output);
	free(emb.vectors);
	free(emb_default.vectors);
	p->destroy(p);
	loop_free(loop);
	fountain_free(s);
}

/* Real screenplays from the shared corpus (when present): every step succeeds and validates. */
static void corpus_scripts_analyse_cleanly(void **state)
{
	(void)state;
	const char *top = getenv("TOP");
	static const char *const names[] = {"Big-Fish.fountain", "brick_and_steel.fountain",
	                                    "The-Last-Birthday-Card.fountain"};
	int analysed = 0;
	for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/../shared/corpus/%s", top ? top : ".", names[f]);
		struct fountain_script *s = NULL;
		struct fountain_error err;
		if (load_fountain(path, &s, &err) != 0)
			continue;
		analysed++;
		cJSON **sums = all_summaries(s);
		for (size_t i = 0; i < s->nscenes; i++) {
			expect_summary_schema(sums[i]);
			const char *key = str_field(sums[i], "key_line");
			if (*key)
				assert_true(spoken_by(s, str_field(sums[i], "key_speaker"), key));
		}
		cJSON *o = builtin_outline(s, (const cJSON *const *)sums, s->nscenes);
		expect_outline_schema(o, s->nscenes);
		cJSON_Delete(o);
		for (size_t c = 0; c < s->ncharacters; c++) {
			cJSON *sh = sheet_of(s, sums, s->characters[c].name);
			expect_sheet_schema(sh, s->characters[c].nscenes);
			const cJSON *line;
			cJSON_ArrayForEach(line, array_field(sh, "key_lines"))
				assert_true(spoken_by(s, s->characters[c].name, line->valuestring));
			cJSON_Delete(sh);
		}
		free_summaries(sums, s->nscenes);
		fountain_free(s);
	}
	if (!analysed)
		skip();
}

/* Output of tool_genscript with args (malloc'd), or NULL when the tool is not built (TOOLS unset). */
static char *genscript(const char *args)
{
	const char *tools = getenv("TOOLS");
	if (!tools || !*tools)
		return NULL;
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "'%s/tool_genscript' %s", tools, args);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t n = 0, cap = 0, got;
	char *text = NULL;
	do {
		text = grow(text, &cap, n + (1 << 16), 1);
		assert_non_null(text);
		n += got = fread(text + n, 1, cap - n - 1, f);
	} while (got > 0);
	text[n] = '\0';
	assert_int_equal(pclose(f), 0);
	return text;
}

static bool same_scene(const struct fountain_scene *a, const struct fountain_scene *b)
{
	return a->text_len == b->text_len && memcmp(a->text, b->text, a->text_len) == 0;
}

/* The generator's promises the engine tests rely on: same bytes for the same arguments, every character speaks,
 * --edit K changes scene K only (and so only its summary), --insert K adds one scene and moves no other text. */
static void generated_scripts_edit_and_insert_one_scene(void **state)
{
	(void)state;
	char *base = genscript("--scenes 30 --characters 8 --seed 7");
	if (!base)
		skip();
	char *again = genscript("--scenes 30 --characters 8 --seed 7");
	char *edited = genscript("--scenes 30 --characters 8 --seed 7 --edit 12");
	char *inserted = genscript("--scenes 30 --characters 8 --seed 7 --insert 20");
	assert_string_equal(base, again);
	struct fountain_script *b = parse(base), *e = parse(edited), *in = parse(inserted);
	assert_int_equal(b->nscenes, 30);
	assert_int_equal(b->ncharacters, 8);
	assert_int_equal(e->nscenes, 30);
	for (size_t i = 0; i < 30; i++) {
		assert_true(same_scene(&b->scenes[i], &e->scenes[i]) == (i != 11));
		cJSON *sb = builtin_summary(b, i + 1), *se = builtin_summary(e, i + 1);
		char *tb = print(sb), *te = print(se);
		assert_true((strcmp(tb, te) == 0) == (i != 11));
		free(tb);
		free(te);
		cJSON_Delete(sb);
		cJSON_Delete(se);
	}
	assert_int_equal(in->nscenes, 31);
	for (size_t i = 0; i < 30; i++)
		assert_true(same_scene(&b->scenes[i], &in->scenes[i < 20 ? i : i + 1]));
	const struct fountain_scene *fresh = &in->scenes[20];
	assert_true(fresh->ncharacters >= 1);
	for (size_t c = 0; c < fresh->ncharacters; c++)
		assert_non_null(fountain_find_character(b, fresh->characters[c]));
	fountain_free(b);
	fountain_free(e);
	fountain_free(in);
	free(base);
	free(again);
	free(edited);
	free(inserted);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(summary_reports_place_time_people_and_key_line),
		cmocka_unit_test(summary_is_honest_about_what_it_cannot_say),
		cmocka_unit_test(summary_mood_comes_from_lexicon_cues),
		cmocka_unit_test(summary_is_pure),
		cmocka_unit_test(outline_uses_sections_as_acts),
		cmocka_unit_test(outline_falls_back_to_three_acts),
		cmocka_unit_test(sheet_is_built_from_own_lines_and_ordinals),
		cmocka_unit_test(sheet_ignores_global_positions),
		cmocka_unit_test(embedding_is_normalised_stable_and_meaningful),
		cmocka_unit_test(provider_completes_only_through_the_loop),
		cmocka_unit_test(corpus_scripts_analyse_cleanly),
		cmocka_unit_test(generated_scripts_edit_and_insert_one_scene),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
