/* publish.c - results -> struct analysis -> archive, and the up-to-date decision; the only place both meet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "publish.h"
#include "publish_breakdown.h"
#include "buildlog.h"
#include "util.h"

static const enum analysis_kind kind_of_step[STEP_KINDS] = {
	[STEP_SUMMARY] = ANALYSIS_SUMMARY,
	[STEP_OUTLINE] = ANALYSIS_OUTLINE,
	[STEP_SHEET] = ANALYSIS_SHEET,
	[STEP_EMBEDDING] = ANALYSIS_EMBEDDING,
};

/* Every archive kind is some step kind's, and the models table is indexed by archive kind. */
_Static_assert((int)STEP_KINDS == (int)ANALYSIS_KINDS, "each step kind has exactly one archive kind");

enum analysis_kind publish_kind(enum step_kind kind)
{
	return kind_of_step[kind];
}

static char *take(char **p)
{
	char *s = *p;
	*p = NULL;
	return s;
}

static void take_scenes(struct analysis *a, struct results *r)
{
	a->nscenes = r->nscenes;
	a->scenes = xcalloc(r->nscenes ? r->nscenes : 1, sizeof(*a->scenes));
	for (size_t i = 0; i < r->nscenes; i++) {
		struct results_scene *from = &r->scenes[i];
		struct analysis_scene *to = &a->scenes[i];
		to->index = from->index;
		to->number = take(&from->number);
		to->heading = take(&from->heading);
		to->line = from->line;
		to->location = take(&from->location);
		to->time = take(&from->time);
		to->characters = from->characters;
		to->ncharacters = from->ncharacters;
		from->characters = NULL;
		memcpy(to->text_digest, from->text_digest, sizeof(to->text_digest));
	}
}

static void take_sheets(struct analysis *a, struct results *r)
{
	a->nsheets = r->nsheets;
	a->sheets = xcalloc(r->nsheets ? r->nsheets : 1, sizeof(*a->sheets));
	for (size_t i = 0; i < r->nsheets; i++) {
		struct results_sheet *from = &r->sheets[i];
		struct analysis_sheet *to = &a->sheets[i];
		to->character = take(&from->character);
		to->json = take(&from->json);
		to->scenes = from->scenes;
		from->scenes = NULL;
		to->nscenes = from->nscenes;
		to->cues = from->cues;
		to->words = from->words;
	}
}

static void take_steps(struct analysis *a, struct results *r)
{
	a->nsteps = r->nsteps;
	a->steps = xcalloc(r->nsteps ? r->nsteps : 1, sizeof(*a->steps));
	for (size_t i = 0; i < r->nsteps; i++) {
		struct results_step *from = &r->steps[i];
		struct analysis_step *to = &a->steps[i];
		to->kind = publish_kind(from->kind);
		to->target = take(&from->target);
		memcpy(to->key, from->key, sizeof(to->key));
		memcpy(to->output, from->output, sizeof(to->output));
		to->tokens_in = from->tokens_in;
		to->tokens_out = from->tokens_out;
		to->corrections = from->corrections;
		to->dropped_quotes = from->dropped_quotes;
	}
}

struct analysis *publish_analysis(struct results *r, const struct step_config *cfg, const char *script_name,
                                  const char *script_digest_hex)
{
	struct analysis *a = xcalloc(1, sizeof(*a));
	a->tool_version = xstrdup(SCRIPTBUILD_VERSION);
	a->script_name = xstrdup(script_name);
	a->title = take(&r->title);
	snprintf(a->script_digest, sizeof(a->script_digest), "%s", script_digest_hex);
	for (int k = 0; k < STEP_KINDS; k++) {
		struct analysis_model *m = &a->models[publish_kind((enum step_kind)k)];
		m->provider = xstrdup(cfg[k].provider);
		m->model = xstrdup(cfg[k].params.model ? cfg[k].params.model : "");
	}
	a->partial = r->partial;
	take_scenes(a, r);
	a->summaries = r->summaries;
	r->summaries = NULL;
	a->outline = take(&r->outline);
	take_sheets(a, r);
	a->embeddings = r->embeddings;
	a->has_embedding = r->has_embedding;
	r->embeddings = NULL;
	r->has_embedding = NULL;
	a->dims = r->dims;
	take_steps(a, r);
	a->tokens_in = r->tokens_in;
	a->tokens_out = r->tokens_out;
	return a;
}

enum publish_outcome publish_archive(const struct graph *g, const struct step_config *cfg, const char *script_name,
                                     const char *script_digest_hex, int64_t mtime, const char *path,
                                     const struct build_log *previous, struct digest *identity, char *err, size_t errlen)
{
	results_identity(g, cfg, ANALYSIS_FORMAT_VERSION, script_name, script_digest_hex, mtime, identity);
	if (build_log_archive_current(previous, path, identity)) {
		analysis_remove_stale_temps(path);
		return PUBLISH_UP_TO_DATE;
	}
	struct results *r = results_collect(g, cfg);
	struct analysis *a = publish_analysis(r, cfg, script_name, script_digest_hex);
	results_free(r);
	publish_breakdown(a, g->script);
	enum publish_outcome outcome = a->partial ? PUBLISH_WRITTEN_PARTIAL : PUBLISH_WRITTEN;
	if (analysis_write_archive(path, a, mtime, err, errlen) < 0)
		outcome = PUBLISH_FAILED;
	analysis_free(a);
	return outcome;
}
