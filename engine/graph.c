/* graph.c - steps and their explicit dependencies, as samurai's graph.c holds edges and nodes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fountain.h"
#include "graph.h"
#include "util.h"

static const char *const kind_names[STEP_KINDS] = {"summary", "outline", "sheet", "embedding"};

/* Nominal request seconds per kind (the seed's measurements); only their ratios matter for ordering. */
static const double nominal_seconds[STEP_KINDS] = {2.0, 5.0, 3.0, 0.5};

const char *step_kind_name(enum step_kind kind)
{
	return kind_names[kind];
}

int step_kind_parse(const char *name)
{
	for (int k = 0; k < STEP_KINDS; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

static size_t add_step(struct graph *g, enum step_kind kind)
{
	struct step *st = &g->steps[g->nsteps];
	memset(st, 0, sizeof(*st));
	st->kind = kind;
	st->wanted = true;
	return g->nsteps++;
}

/* Both ends' edge arrays were sized when their steps were made: no reallocation per edge on a 1000-scene outline. */
static void add_edge(struct graph *g, size_t from, size_t to)
{
	struct step *user = &g->steps[to], *dep = &g->steps[from];
	user->deps[user->ndeps++] = from;
	dep->users[dep->nusers++] = to;
}

static char *heading_label(const struct fountain_scene *sc)
{
	return sc->heading[0] ? xstrdup(sc->heading) : xstrdup("(before the first heading)");
}

struct graph *graph_new(const struct fountain_script *script)
{
	struct graph *g = xcalloc(1, sizeof(*g));
	size_t ns = script->nscenes, nc = script->ncharacters;
	g->script = script;
	g->steps = xcalloc(2 * ns + nc + 1, sizeof(struct step));
	g->summary_of_scene = xcalloc(ns, sizeof(size_t));
	g->embedding_of_scene = xcalloc(ns, sizeof(size_t));
	g->sheet_of_character = xcalloc(nc, sizeof(size_t));

	for (size_t i = 0; i < ns; i++) {
		size_t s = add_step(g, STEP_SUMMARY);
		char *h = heading_label(&script->scenes[i]);
		/* Read by the outline, its embedding, and the sheet of everyone who speaks in it. */
		g->steps[s].users = xcalloc(2 + script->scenes[i].ncharacters, sizeof(size_t));
		g->steps[s].scene = i + 1;
		g->steps[s].label = xasprintf("summary %zu %s", script->scenes[i].index, h);
		g->summary_of_scene[i] = s;
		free(h);
	}
	g->outline = add_step(g, STEP_OUTLINE);
	g->steps[g->outline].label = xstrdup("outline");
	g->steps[g->outline].deps = xcalloc(ns, sizeof(size_t));
	for (size_t i = 0; i < ns; i++)
		add_edge(g, g->summary_of_scene[i], g->outline);
	for (size_t c = 0; c < nc; c++) {
		const struct fountain_character *ch = &script->characters[c];
		size_t s = add_step(g, STEP_SHEET);
		g->steps[s].character = c;
		g->steps[s].label = xasprintf("sheet %s", ch->name);
		g->steps[s].deps = xcalloc(ch->nscenes, sizeof(size_t));
		g->sheet_of_character[c] = s;
		for (size_t k = 0; k < ch->nscenes; k++)
			add_edge(g, g->summary_of_scene[fountain_scene_by_index(script, ch->scenes[k]) - script->scenes], s);
	}
	for (size_t i = 0; i < ns; i++) {
		size_t s = add_step(g, STEP_EMBEDDING);
		char *h = heading_label(&script->scenes[i]);
		g->steps[s].scene = i + 1;
		g->steps[s].label = xasprintf("embedding %zu %s", script->scenes[i].index, h);
		g->steps[s].deps = xcalloc(1, sizeof(size_t));
		g->embedding_of_scene[i] = s;
		add_edge(g, g->summary_of_scene[i], s);
		free(h);
	}
	/* Steps were added dependencies-first, so one reverse pass settles every longest path. */
	for (size_t i = g->nsteps; i-- > 0;) {
		struct step *st = &g->steps[i];
		double below = 0;
		for (size_t u = 0; u < st->nusers; u++)
			if (g->steps[st->users[u]].priority > below)
				below = g->steps[st->users[u]].priority;
		st->priority = nominal_seconds[st->kind] + below;
		st->unfinished_deps = st->ndeps;
	}
	return g;
}

void graph_free(struct graph *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nsteps; i++) {
		struct step *st = &g->steps[i];
		free(st->deps);
		free(st->users);
		free(st->output);
		cJSON_Delete(st->parsed);
		free(st->prompt);
		free(st->label);
		free(st->why);
		free(st->error);
	}
	free(g->steps);
	free(g->summary_of_scene);
	free(g->embedding_of_scene);
	free(g->sheet_of_character);
	free(g);
}

void graph_release_outputs(struct graph *g)
{
	for (size_t i = 0; i < g->nsteps; i++) {
		struct step *st = &g->steps[i];
		free(st->output);
		st->output = NULL;
		st->output_len = 0;
		cJSON_Delete(st->parsed);
		st->parsed = NULL;
		free(st->prompt);
		st->prompt = NULL;
		free(st->why);
		st->why = NULL;
	}
}

static void want_with_deps(struct graph *g, size_t s)
{
	struct step *st = &g->steps[s];
	if (st->wanted)
		return;
	st->wanted = true;
	for (size_t d = 0; d < st->ndeps; d++)
		want_with_deps(g, st->deps[d]);
}

/* scene:N is the Nth heading (0: before the first); scene:1A, or scene:#12# for a number of digits, is the scene
 * the script numbers so. */
static const struct fountain_scene *scene_target(const struct fountain_script *s, const char *what)
{
	size_t n = strlen(what);
	if (n && strspn(what, "0123456789") == n) {
		char *end;
		errno = 0;
		unsigned long long index = strtoull(what, &end, 10);
		return errno ? NULL : fountain_scene_by_index(s, (size_t)index);
	}
	if (n >= 3 && what[0] == '#' && what[n - 1] == '#') {
		char *number = xstrndup(what + 1, n - 2);
		const struct fountain_scene *sc = fountain_scene_by_number(s, number);
		free(number);
		return sc;
	}
	return n ? fountain_scene_by_number(s, what) : NULL;
}

/* Says which scene targets the script has: the range of heading order and the first scene numbers it writes. */
static void scene_target_error(const struct fountain_script *s, const char *t, char *err, size_t errlen)
{
	struct buf numbers = {0};
	size_t shown = 0, total = 0;
	for (size_t i = 0; i < s->nscenes; i++) {
		if (!s->scenes[i].number)
			continue;
		if (shown < 12) {
			buf_printf(&numbers, "%s%s", shown ? ", " : "", s->scenes[i].number);
			shown++;
		}
		total++;
	}
	if (total > shown)
		buf_printf(&numbers, ", ... (%zu in all)", total);
	size_t first = s->scenes[0].index, last = s->scenes[s->nscenes - 1].index;
	snprintf(err, errlen, "target '%s': no such scene; scene:N counts headings, from %zu%s to %zu%s%s%s", t, first,
	         first == 0 ? " (before the first heading)" : "", last, total ? "; the script numbers scenes " : "",
	         total ? numbers.data : "", total ? " (scene:NUMBER, or scene:#NUMBER# for one of digits only)" : "");
	buf_free(&numbers);
}

static int want_target(struct graph *g, const char *t, char *err, size_t errlen)
{
	const struct fountain_script *s = g->script;
	int kind = -1;
	if (strcmp(t, "summaries") == 0)
		kind = STEP_SUMMARY;
	else if (strcmp(t, "outline") == 0)
		kind = STEP_OUTLINE;
	else if (strcmp(t, "sheets") == 0)
		kind = STEP_SHEET;
	else if (strcmp(t, "embeddings") == 0)
		kind = STEP_EMBEDDING;
	if (kind >= 0) {
		for (size_t i = 0; i < g->nsteps; i++)
			if ((int)g->steps[i].kind == kind)
				want_with_deps(g, i);
		return 0;
	}
	if (strncmp(t, "scene:", 6) == 0) {
		const struct fountain_scene *sc = scene_target(s, t + 6);
		if (!sc) {
			scene_target_error(s, t, err, errlen);
			return -1;
		}
		want_with_deps(g, g->summary_of_scene[sc - s->scenes]);
		return 0;
	}
	if (strncmp(t, "sheet:", 6) == 0) {
		const struct fountain_character *ch = fountain_find_character(s, t + 6);
		if (!ch) {
			snprintf(err, errlen, "target '%s': no character named '%s' speaks in the script", t, t + 6);
			return -1;
		}
		want_with_deps(g, g->sheet_of_character[(size_t)(ch - s->characters)]);
		return 0;
	}
	snprintf(err, errlen, "unknown target '%s' (want summaries, outline, sheets, embeddings, scene:N or sheet:NAME)", t);
	return -1;
}

int graph_select(struct graph *g, const char *const *targets, size_t n, char *err, size_t errlen)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < g->nsteps; i++)
		g->steps[i].wanted = false;
	for (size_t i = 0; i < n; i++)
		if (want_target(g, targets[i], err, errlen) < 0)
			return -1;
	return 0;
}

size_t graph_each_stale(const struct graph *g, void (*fn)(void *ctx, const struct step *st), void *ctx)
{
	size_t n = 0;
	for (size_t i = 0; i < g->nsteps; i++) {
		const struct step *st = &g->steps[i];
		if (st->wanted && st->state == STEP_STALE) {
			if (fn)
				fn(ctx, st);
			n++;
		}
	}
	return n;
}
