/* sample_analysis.h - a small hand-built analysis (3 scenes, 2 sheets, 8-dim embeddings) shared by the export tests. */
#ifndef SB_SAMPLE_ANALYSIS_H
#define SB_SAMPLE_ANALYSIS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"

static inline char *sample_strdup(const char *s)
{
	char *p = s ? strdup(s) : NULL;
	if (s && !p)
		abort();
	return p;
}

static inline void *sample_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		abort();
	return p;
}

static inline void sample_hex(char hex[33], unsigned seed)
{
	for (int i = 0; i < 32; i++)
		hex[i] = "0123456789abcdef"[(seed * 7u + (unsigned)i * 13u) % 16u];
	hex[32] = '\0';
}

/* A complete analysis of script name; edit != 0 changes every text and number so a reload must replace them all. */
static inline struct analysis *sample_analysis(const char *name, int edit)
{
	static const char *const headings[] = { "INT. LIGHTHOUSE - NIGHT", "EXT. PIER - DAWN", "INT. BOAT CABIN - DAY" };
	static const char *const locations[] = { "LIGHTHOUSE", "PIER", "BOAT CABIN" };
	static const char *const times[] = { "NIGHT", "DAWN", NULL };
	struct analysis *a = sample_calloc(1, sizeof *a);
	char buf[512];
	a->tool_version = sample_strdup("0.1.0-test");
	a->script_name = sample_strdup(name);
	a->title = sample_strdup(edit ? "The Keeper (revised)" : "The Keeper");
	sample_hex(a->script_digest, (unsigned)edit + 1);
	for (int k = 0; k < ANALYSIS_KINDS; k++) {
		a->models[k].provider = sample_strdup("builtin");
		snprintf(buf, sizeof buf, "builtin-%s-1", analysis_kind_name((enum analysis_kind)k));
		a->models[k].model = sample_strdup(buf);
	}
	a->nscenes = 3;
	a->scenes = sample_calloc(3, sizeof *a->scenes);
	a->summaries = sample_calloc(3, sizeof *a->summaries);
	for (int i = 0; i < 3; i++) {
		struct analysis_scene *s = &a->scenes[i];
		s->index = i + 1;
		snprintf(buf, sizeof buf, "%d%s", i + 1, edit ? "A" : "");
		s->number = i == 1 ? NULL : sample_strdup(buf);
		s->heading = sample_strdup(headings[i]);
		s->line = 4 + 11 * i + edit;
		s->location = sample_strdup(locations[i]);
		s->time = sample_strdup(times[i]);
		s->ncharacters = i == 2 ? 1 : 2;
		s->characters = sample_calloc(2, sizeof *s->characters);
		s->characters[0] = sample_strdup("MARGIT");
		if (s->ncharacters == 2)
			s->characters[1] = sample_strdup("JONAS \"JO\" VEIT");
		sample_hex(s->text_digest, (unsigned)(i * 5 + edit));
		/* The breakdown: scene 3 names JONAS in its action without his speaking there. */
		static const char *const ie[] = { "INT", "EXT", "INT" };
		static const char *const tod[] = { "NIGHT", "DAWN", NULL };
		s->int_ext = sample_strdup(ie[i]);
		s->time_of_day = sample_strdup(tod[i]);
		s->note = i == 1 ? sample_strdup("1985") : NULL;
		s->eighths = i == 2 ? 4 + edit : 3 - i;
		a->eighths += s->eighths;
		s->action_words = 40 + i;
		s->dialogue_words = 30 + i + edit;
		s->ncast = 2;
		s->cast = sample_calloc(2, sizeof *s->cast);
		s->cast[0] = (struct analysis_cast){ sample_strdup("MARGIT"), true, 2 + i, 30 + i };
		s->cast[1] = (struct analysis_cast){ sample_strdup("JONAS \"JO\" VEIT"), i < 2, i < 2 ? 1 : 0, i < 2 ? 11 : 0 };
		snprintf(buf, sizeof buf,
		         "{\"summary\": \"Scene %d%s: Margit\\ttends the lamp;\\nJonas waits \\\\ watches.\", \"goal\": "
		         "\"keep the light\", \"props\": [\"lamp\", \"oil can\"], \"mood\": \"tense\"}",
		         i + 1, edit ? " (rewritten)" : "");
		a->summaries[i] = sample_strdup(buf);
	}
	snprintf(buf, sizeof buf, "{\"logline\": \"A keeper guards a light%s.\", \"synopsis\": \"Margit keeps the lamp "
	         "burning through one long night.\", \"acts\": [{\"title\": \"One\", \"scenes\": [1, 3]}]}",
	         edit ? " again" : "");
	a->outline = sample_strdup(buf);
	a->nsheets = 2;
	a->sheets = sample_calloc(2, sizeof *a->sheets);
	a->sheets[0].character = sample_strdup("MARGIT");
	a->sheets[0].json = sample_strdup(edit ? "{\"description\": \"The keeper, older now.\", \"want\": \"rest\"}"
	                                       : "{\"description\": \"The keeper.\", \"want\": \"rest\"}");
	a->sheets[0].nscenes = 3;
	a->sheets[0].scenes = sample_calloc(3, sizeof(size_t));
	for (size_t i = 0; i < 3; i++)
		a->sheets[0].scenes[i] = i + 1;
	a->sheets[0].cues = 7 + edit;
	a->sheets[0].words = 120;
	a->sheets[1].character = sample_strdup("JONAS \"JO\" VEIT");
	a->sheets[1].json = sample_strdup("{\"description\": \"A fisherman with a debt.\", \"relationships\": "
	                                  "[{\"character\": \"MARGIT\", \"relation\": \"neighbour\"}]}");
	a->sheets[1].nscenes = 2;
	a->sheets[1].scenes = sample_calloc(2, sizeof(size_t));
	a->sheets[1].scenes[0] = 1;
	a->sheets[1].scenes[1] = 2;
	a->sheets[1].cues = 4;
	a->sheets[1].words = 51;
	a->ncharacters = 2;
	a->characters = sample_calloc(2, sizeof *a->characters);
	struct analysis_character *c = &a->characters[0];
	c->name = sample_strdup("MARGIT");
	c->cues = 7 + edit;
	c->words = 120;
	c->share = 0.7018;
	c->nscenes = 3;
	c->scenes = sample_calloc(3, sizeof(size_t));
	for (size_t i = 0; i < 3; i++)
		c->scenes[i] = i + 1;
	c->ntogether = 1;
	c->together = sample_calloc(1, sizeof *c->together);
	c->together[0] = (struct analysis_together){ sample_strdup("JONAS \"JO\" VEIT"), 3 };
	c = &a->characters[1];
	c->name = sample_strdup("JONAS \"JO\" VEIT");
	c->cues = 4;
	c->words = 51;
	c->share = 0.2982;
	c->nscenes = 2;
	c->scenes = sample_calloc(2, sizeof(size_t));
	c->scenes[0] = 1;
	c->scenes[1] = 2;
	c->nmentioned = 1;
	c->mentioned = sample_calloc(1, sizeof(size_t));
	c->mentioned[0] = 3;
	c->ntogether = 1;
	c->together = sample_calloc(1, sizeof *c->together);
	c->together[0] = (struct analysis_together){ sample_strdup("MARGIT"), 3 };
	a->dims = 8;
	a->embeddings = sample_calloc(3 * 8, sizeof(float));
	a->has_embedding = sample_calloc(3, sizeof(bool));
	for (int i = 0; i < 3; i++) {
		a->has_embedding[i] = true;
		for (int d = 0; d < 8; d++)
			a->embeddings[i * 8 + d] = (float)((i + 1) * (d - 3)) / 7.0f + (float)edit * 0.001f;
	}
	a->nsteps = 3;
	a->steps = sample_calloc(3, sizeof *a->steps);
	a->steps[0].kind = ANALYSIS_SUMMARY;
	a->steps[0].target = sample_strdup("1");
	a->steps[1].kind = ANALYSIS_OUTLINE;
	a->steps[1].target = sample_strdup("");
	a->steps[2].kind = ANALYSIS_SHEET;
	a->steps[2].target = sample_strdup("MARGIT");
	for (unsigned i = 0; i < 3; i++) {
		sample_hex(a->steps[i].key, 40 + i);
		sample_hex(a->steps[i].output, 50 + i);
		a->steps[i].tokens_in = 1000 + i;
		a->steps[i].tokens_out = 200 + i;
	}
	a->tokens_in = 3003;
	a->tokens_out = 603;
	return a;
}

/* The same analysis with scene 2's summary, the outline, MARGIT's sheet and scene 3's embedding failed. */
static inline struct analysis *sample_partial(const char *name)
{
	struct analysis *a = sample_analysis(name, 0);
	a->partial = true;
	free(a->summaries[1]);
	a->summaries[1] = NULL;
	free(a->outline);
	a->outline = NULL;
	free(a->sheets[0].json);
	a->sheets[0].json = NULL;
	a->has_embedding[2] = false;
	return a;
}

#endif
