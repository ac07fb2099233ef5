/* test_corpus.c - the real screenplays in ../shared/corpus (third-party, never copied here) parse, and every parse
 * keeps the invariants the rest of the tool relies on. Passes with "skipped" when the folder is absent. */
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

static char corpus[4096];

struct text {
	char *data;
	size_t len;
};

static struct text read_all(const char *path)
{
	struct text t = {0};
	t.data = slurp(path, &t.len);
	assert_non_null(t.data);
	assert_true(t.len > 0);
	return t;
}

/* Copy of t with every line end (CRLF, CR, LF) written as eol; a final line end only when final is set. */
static struct text with_line_ends(struct text t, const char *eol, int final)
{
	size_t el = strlen(eol);
	struct text out = {malloc(t.len * 2 + 2), 0};
	assert_non_null(out.data);
	for (size_t i = 0; i < t.len; i++) {
		if (t.data[i] == '\r' || t.data[i] == '\n') {
			if (t.data[i] == '\r' && i + 1 < t.len && t.data[i + 1] == '\n')
				i++;
			if (i + 1 == t.len && !final)
				break;
			memcpy(out.data + out.len, eol, el);
			out.len += el;
		} else {
			out.data[out.len++] = t.data[i];
		}
	}
	if (final && out.len && out.data[out.len - 1] != '\n' && out.data[out.len - 1] != '\r') {
		memcpy(out.data + out.len, eol, el);
		out.len += el;
	}
	return out;
}

static struct fountain_script *parse_or_fail(const char *name, struct text t)
{
	struct fountain_script *s;
	struct fountain_error err;
	if (fountain_parse(t.data, t.len, &s, &err) < 0)
		fail_msg("%s: %s", name, err.message);
	return s;
}

static int has_name(char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/* The breakdown's promises: every scene at least 1/8 and the eighths summing to the page count; every speaker of a
 * scene in its cast with that scene's cues and words; a mention never of someone speaking there, and listed in the
 * character's mentioned scenes. */
static void check_breakdown(const char *name, const struct fountain_script *s)
{
	long eighths = 0;
	for (size_t i = 0; i < s->nscenes; i++) {
		const struct fountain_scene *sc = &s->scenes[i];
		if (sc->eighths < 1)
			fail_msg("%s: scene %zu has %d eighths", name, sc->index, sc->eighths);
		eighths += sc->eighths;
		for (size_t c = 0; c < sc->ncharacters; c++) {
			int cues = 0, words = 0;
			for (size_t q = 0; q < sc->ncues; q++)
				if (strcmp(sc->cues[q].name, sc->characters[c]) == 0) {
					cues++;
					words += sc->cues[q].words;
				}
			assert_true(c < sc->ncast);
			if (!sc->cast[c].speaking || strcmp(sc->cast[c].name, sc->characters[c]) != 0 || sc->cast[c].cues != cues
			    || sc->cast[c].words != words)
				fail_msg("%s: scene %zu: speaker %s is not in its cast with %d cues and %d words", name, sc->index,
				         sc->characters[c], cues, words);
		}
		for (size_t m = sc->ncharacters; m < sc->ncast; m++) {
			assert_false(sc->cast[m].speaking);
			if (has_name(sc->characters, sc->ncharacters, sc->cast[m].name))
				fail_msg("%s: scene %zu: %s is both speaking and mentioned", name, sc->index, sc->cast[m].name);
			const struct fountain_character *ch = fountain_find_character(s, sc->cast[m].name);
			assert_non_null(ch);
			int listed = 0;
			for (size_t k = 0; k < ch->nmentioned; k++)
				listed |= ch->mentioned[k] == sc->index;
			if (!listed)
				fail_msg("%s: %s is mentioned in scene %zu, which its list lacks", name, ch->name, sc->index);
		}
	}
	if (eighths != s->eighths)
		fail_msg("%s: the scenes' eighths sum to %ld, the page count is %d eighths", name, eighths, s->eighths);
	printf("ok %s: %d eighths (%d %d/8 pages, about %d minutes)\n", name, s->eighths, s->eighths / 8, s->eighths % 8,
	       (s->eighths + 4) / 8);
}

static void check_invariants(const char *name, const struct fountain_script *s)
{
	assert_true(s->nscenes >= 1);
	assert_true(s->implicit_scene == (s->nscenes == 1 && s->scenes[0].implicit));
	int line = 0;
	long cues = 0, words = 0;
	for (size_t i = 0; i < s->nscenes; i++) {
		const struct fountain_scene *sc = &s->scenes[i];
		/* Scene N is the Nth heading; the text before the first one, if any, is scene 0. */
		assert_int_equal(sc->index, i + !s->scenes[0].implicit);
		if (!sc->implicit && sc->heading[0] == '\0')
			fail_msg("%s: scene %zu (line %d) has an empty heading", name, sc->index, sc->line);
		if (sc->implicit && i != 0)
			fail_msg("%s: implicit scene %zu is not the first", name, sc->index);
		if (sc->line <= line)
			fail_msg("%s: scene %zu starts at line %d, not after line %d", name, sc->index, sc->line, line);
		line = sc->line;
		assert_true(sc->line <= s->nlines);
		assert_int_equal(strlen(sc->text), sc->text_len);
		if (!sc->implicit)
			assert_int_equal(strncmp(sc->text, sc->heading, strlen(sc->heading)), 0);
		/* The scene's speakers are exactly its cues' names, in first-cue order. */
		size_t k = 0;
		for (size_t c = 0; c < sc->ncues; c++) {
			assert_true(sc->cues[c].line >= sc->line + !sc->implicit);
			if (!has_name(sc->characters, k, sc->cues[c].name)) {
				assert_true(k < sc->ncharacters);
				assert_string_equal(sc->characters[k], sc->cues[c].name);
				k++;
			}
			cues++;
			words += sc->cues[c].words;
		}
		assert_int_equal(k, sc->ncharacters);
		for (size_t c = 0; c < sc->ncharacters; c++) {
			const struct fountain_character *ch = fountain_find_character(s, sc->characters[c]);
			assert_non_null(ch);
			int found = 0;
			for (size_t j = 0; j < ch->nscenes; j++)
				found |= ch->scenes[j] == sc->index;
			if (!found)
				fail_msg("%s: %s speaks in scene %zu but its scene list lacks it", name, ch->name, sc->index);
		}
	}
	long char_cues = 0, char_words = 0;
	for (size_t i = 0; i < s->ncharacters; i++) {
		const struct fountain_character *ch = &s->characters[i];
		assert_ptr_equal(fountain_find_character(s, ch->name), ch);
		long own_cues = 0, own_words = 0;
		for (size_t j = 0; j < ch->nscenes; j++) {
			assert_true(ch->scenes[j] >= s->scenes[0].index && ch->scenes[j] <= s->scenes[s->nscenes - 1].index);
			if (j)
				assert_true(ch->scenes[j] > ch->scenes[j - 1]);
			const struct fountain_scene *sc = fountain_scene_by_index(s, ch->scenes[j]);
			assert_non_null(sc);
			if (!has_name(sc->characters, sc->ncharacters, ch->name))
				fail_msg("%s: %s lists scene %zu, which does not list it", name, ch->name, sc->index);
			for (size_t c = 0; c < sc->ncues; c++)
				if (strcmp(sc->cues[c].name, ch->name) == 0) {
					own_cues++;
					own_words += sc->cues[c].words;
				}
		}
		assert_int_equal(own_cues, ch->cues);
		assert_int_equal(own_words, ch->words);
		char_cues += ch->cues;
		char_words += ch->words;
	}
	assert_int_equal(char_cues, cues);
	assert_int_equal(char_words, words);
	for (size_t i = 0; i < s->nsections; i++)
		assert_true(s->sections[i].next_scene >= 1 && s->sections[i].next_scene <= s->nscenes + 1);
	check_breakdown(name, s);
}

static void assert_same_json(const char *name, const char *what, const struct fountain_script *a,
                             const struct fountain_script *b)
{
	cJSON *ja = fountain_to_json(a), *jb = fountain_to_json(b);
	assert_non_null(ja);
	assert_non_null(jb);
	if (!cJSON_Compare(ja, jb, 1))
		fail_msg("%s: the %s copy parses differently", name, what);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
}

static void check_file(const char *name, const char *path)
{
	struct text original = read_all(path);
	struct fountain_script *s = parse_or_fail(name, original);
	check_invariants(name, s);

	struct text lf = with_line_ends(original, "\n", 1);
	struct text crlf = with_line_ends(original, "\r\n", 1);
	struct text bare = with_line_ends(original, "\n", 0);
	struct text bom = {malloc(lf.len + 3), lf.len + 3};
	assert_non_null(bom.data);
	memcpy(bom.data, "\xEF\xBB\xBF", 3);
	memcpy(bom.data + 3, lf.data, lf.len);
	struct fountain_script *slf = parse_or_fail(name, lf), *scrlf = parse_or_fail(name, crlf);
	struct fountain_script *sbare = parse_or_fail(name, bare), *sbom = parse_or_fail(name, bom);
	assert_same_json(name, "LF", s, slf);
	assert_same_json(name, "CRLF", slf, scrlf);
	assert_same_json(name, "no-final-newline", slf, sbare);
	assert_same_json(name, "BOM", slf, sbom);
	printf("ok %s: %zu scenes, %zu characters%s\n", name, s->nscenes, s->ncharacters,
	       s->implicit_scene ? " (no heading: all of it is scene 0)" : "");
	fountain_free(s);
	fountain_free(slf);
	fountain_free(scrlf);
	fountain_free(sbare);
	fountain_free(sbom);
	free(original.data);
	free(lf.data);
	free(crlf.data);
	free(bare.data);
	free(bom.data);
}

static void test_corpus(void **state)
{
	(void)state;
	DIR *d = opendir(corpus);
	if (!d) {
		printf("skipped: no corpus at %s\n", corpus);
		return;
	}
	int checked = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n <= 9 || strcmp(e->d_name + n - 9, ".fountain") != 0)
			continue;
		char path[4400];
		snprintf(path, sizeof path, "%s/%s", corpus, e->d_name);
		check_file(e->d_name, path);
		checked++;
	}
	closedir(d);
	printf("%d corpus scripts checked\n", checked);
	assert_true(checked > 0);
}

int main(void)
{
	const char *top = getenv("TOP");
	/* ../shared/corpus from a checkout next to shared/, ../../shared/corpus from a worktree one level deeper. */
	snprintf(corpus, sizeof corpus, "%s/../shared/corpus", top && *top ? top : ".");
	DIR *probe = opendir(corpus);
	if (probe)
		closedir(probe);
	else
		snprintf(corpus, sizeof corpus, "%s/../../shared/corpus", top && *top ? top : ".");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
