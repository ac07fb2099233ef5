/* analysis.c - names of the step kinds and the one way to free a struct analysis. */
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "breakdown_entries.h"

static const char *const kind_names[ANALYSIS_KINDS] = { "summary", "outline", "sheet", "embedding" };

const char *analysis_kind_name(enum analysis_kind k)
{
	return (unsigned)k < ANALYSIS_KINDS ? kind_names[k] : "unknown";
}

int analysis_kind_from_name(const char *name)
{
	for (int k = 0; k < ANALYSIS_KINDS; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

void analysis_free(struct analysis *a)
{
	if (!a)
		return;
	free(a->tool_version);
	free(a->script_name);
	free(a->title);
	breakdown_free(a);
	for (int k = 0; k < ANALYSIS_KINDS; k++) {
		free(a->models[k].provider);
		free(a->models[k].model);
	}
	for (size_t i = 0; i < a->nscenes && a->scenes; i++) {
		struct analysis_scene *s = &a->scenes[i];
		free(s->number);
		free(s->heading);
		free(s->location);
		free(s->time);
		for (size_t c = 0; c < s->ncharacters; c++)
			free(s->characters[c]);
		free(s->characters);
	}
	free(a->scenes);
	for (size_t i = 0; i < a->nscenes && a->summaries; i++)
		free(a->summaries[i]);
	free(a->summaries);
	free(a->outline);
	for (size_t i = 0; i < a->nsheets && a->sheets; i++) {
		free(a->sheets[i].character);
		free(a->sheets[i].json);
		free(a->sheets[i].scenes);
	}
	free(a->sheets);
	free(a->embeddings);
	free(a->has_embedding);
	for (size_t i = 0; i < a->nsteps && a->steps; i++)
		free(a->steps[i].target);
	free(a->steps);
	free(a);
}
