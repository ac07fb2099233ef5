/* publish_breakdown.c - fountain_script breakdown -> struct analysis. */
#include <string.h>

#include "publish_breakdown.h"
#include "util.h"

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static size_t *copy_indexes(const size_t *v, size_t n)
{
	size_t *out = xcalloc(n ? n : 1, sizeof(size_t));
	if (n)
		memcpy(out, v, n * sizeof(size_t));
	return out;
}

static void scene_facts(struct analysis_scene *as, const struct fountain_scene *sc)
{
	as->before_first_heading = sc->implicit;
	as->int_ext = dup_or_null(sc->int_ext);
	as->time_of_day = dup_or_null(fountain_time_name(sc->time_of_day));
	as->note = dup_or_null(sc->note);
	as->eighths = sc->eighths;
	as->action_words = sc->action_words;
	as->dialogue_words = sc->dialogue_words;
	as->ncast = sc->ncast;
	as->cast = xcalloc(sc->ncast ? sc->ncast : 1, sizeof(*as->cast));
	for (size_t c = 0; c < sc->ncast; c++)
		as->cast[c] = (struct analysis_cast){xstrdup(sc->cast[c].name), sc->cast[c].speaking, sc->cast[c].cues,
		                                     sc->cast[c].words};
}

static void character_facts(struct analysis_character *c, const struct fountain_character *ch)
{
	c->name = xstrdup(ch->name);
	c->cues = ch->cues;
	c->words = ch->words;
	c->share = ch->share;
	c->scenes = copy_indexes(ch->scenes, ch->nscenes);
	c->nscenes = ch->nscenes;
	c->mentioned = copy_indexes(ch->mentioned, ch->nmentioned);
	c->nmentioned = ch->nmentioned;
	c->ntogether = ch->ntogether;
	c->together = xcalloc(ch->ntogether ? ch->ntogether : 1, sizeof(*c->together));
	for (size_t k = 0; k < ch->ntogether; k++)
		c->together[k] = (struct analysis_together){xstrdup(ch->together[k].name), ch->together[k].scenes};
}

void publish_breakdown(struct analysis *a, const struct fountain_script *script)
{
	for (size_t i = 0; i < a->nscenes && i < script->nscenes; i++)
		scene_facts(&a->scenes[i], &script->scenes[i]);
	a->eighths = script->eighths;
	a->ncharacters = script->ncharacters;
	a->characters = xcalloc(script->ncharacters ? script->ncharacters : 1, sizeof(*a->characters));
	for (size_t i = 0; i < script->ncharacters; i++)
		character_facts(&a->characters[i], &script->characters[i]);
}
