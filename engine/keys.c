/* keys.c - canonical encodings of step inputs. Positions and ids never enter a key, so inserting a scene leaves every
 * other step's key alone; upstream steps enter by the digest of their output, so identical output stops a rebuild. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fountain.h"
#include "keys.h"
#include "util.h"

static void add_config(struct key_builder *kb, const struct step_config *cfg)
{
	char temperature[32];
	/* Text, not a double's bytes: the same flag value must give the same key on every machine. */
	snprintf(temperature, sizeof(temperature), "%.4f", cfg->params.temperature);
	key_add_str(kb, cfg->provider);
	key_add_str(kb, cfg->endpoint);
	key_add_str(kb, cfg->params.model);
	key_add_u64(kb, (uint64_t)cfg->params.max_tokens);
	key_add_str(kb, temperature);
	key_add_u64(kb, (uint64_t)cfg->params.dims);
}

static void add_prompt(struct key_builder *kb, const struct step_config *cfg)
{
	key_add_str(kb, cfg->prompt_id);
	key_add_str(kb, cfg->system);
	key_add_str(kb, cfg->template_text);
	key_add_str(kb, cfg->schema_text);
}

void step_config_digest(const struct step_config *cfg, int prompt_only, struct digest *out)
{
	struct key_builder kb;
	key_begin(&kb);
	if (prompt_only)
		add_prompt(&kb, cfg);
	else
		add_config(&kb, cfg);
	key_end(&kb, out);
}

void scene_text_digest(const struct graph *g, size_t scene, struct digest *out)
{
	const struct fountain_scene *sc = &g->script->scenes[scene - 1];
	digest_bytes(sc->text, sc->text_len, out);
}

char *embedding_input(const struct graph *g, const struct step *st)
{
	const struct step *sum = &g->steps[st->deps[0]];
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(sum->parsed, "summary");
	if (cJSON_IsString(text) && text->valuestring[0])
		return xstrdup(text->valuestring);
	/* A summary without prose still has a heading worth placing in the vector space. */
	return xstrdup(g->script->scenes[st->scene - 1].heading);
}

static void add_character_dialogue(struct key_builder *kb, const struct fountain_script *s,
                                   const struct fountain_character *ch)
{
	key_add_str(kb, ch->name);
	for (size_t k = 0; k < ch->nscenes; k++) {
		const struct fountain_scene *sc = fountain_scene_by_index(s, ch->scenes[k]);
		key_add_u64(kb, k);
		for (size_t c = 0; c < sc->ncues; c++) {
			const struct fountain_cue *cue = &sc->cues[c];
			if (strcmp(cue->name, ch->name) != 0)
				continue;
			key_add_u64(kb, cue->nextensions);
			for (size_t e = 0; e < cue->nextensions; e++)
				key_add_str(kb, cue->extensions[e]);
			key_add_str(kb, cue->parentheticals);
			key_add_str(kb, cue->dialogue);
		}
	}
}

static void tee_sha256(void *ctx, const void *data, size_t n)
{
	sha256_add(ctx, data, n);
}

void step_action_key(const struct graph *g, const struct step *st, const struct step_config *cfg, const char *prompt,
                     struct digest *out)
{
	step_action_keys(g, st, cfg, prompt, out, NULL);
}

void step_action_keys(const struct graph *g, const struct step *st, const struct step_config *cfg, const char *prompt,
                      struct digest *out, unsigned char remote[SHA256_BYTES])
{
	const struct fountain_script *s = g->script;
	struct key_builder kb;
	struct sha256 sha;
	key_begin(&kb);
	if (remote) {
		sha256_begin(&sha);
		key_tee(&kb, tee_sha256, &sha);
	}
	key_add_u64(&kb, KEY_FORMAT_VERSION);
	key_add_str(&kb, step_kind_name(st->kind));
	add_prompt(&kb, cfg);
	add_config(&kb, cfg);
	key_add_str(&kb, prompt);
	switch (st->kind) {
	case STEP_SUMMARY: {
		const struct fountain_scene *sc = &s->scenes[st->scene - 1];
		key_add(&kb, sc->text, sc->text_len);
		break;
	}
	case STEP_OUTLINE:
		/* The outline speaks of scenes by index and reads headings and the author's structure, so all of
		 * those are its inputs; summaries enter by output digest. */
		key_add_str(&kb, s->title);
		key_add_u64(&kb, s->nscenes);
		for (size_t i = 0; i < st->ndeps; i++) {
			key_add_str(&kb, s->scenes[i].heading);
			key_add_digest(&kb, &g->steps[st->deps[i]].output_digest);
		}
		key_add_u64(&kb, s->nsections);
		for (size_t i = 0; i < s->nsections; i++) {
			key_add_u64(&kb, (uint64_t)s->sections[i].depth);
			key_add_str(&kb, s->sections[i].title);
			key_add_u64(&kb, s->sections[i].next_scene);
		}
		key_add_u64(&kb, s->nsynopses);
		for (size_t i = 0; i < s->nsynopses; i++) {
			key_add_str(&kb, s->synopses[i].text);
			key_add_u64(&kb, s->synopses[i].next_scene);
		}
		break;
	case STEP_SHEET:
		/* Its scenes are numbered 1..k for the analyser, so their global positions are not inputs. */
		for (size_t i = 0; i < st->ndeps; i++) {
			const struct step *dep = &g->steps[st->deps[i]];
			key_add_str(&kb, s->scenes[dep->scene - 1].heading);
			key_add_digest(&kb, &dep->output_digest);
		}
		add_character_dialogue(&kb, s, &s->characters[st->character]);
		break;
	case STEP_EMBEDDING: {
		char *text = embedding_input(g, st);
		key_add_str(&kb, text);
		free(text);
		break;
	}
	case STEP_KINDS:
		break;
	}
	key_end(&kb, out);
	if (remote)
		sha256_end(&sha, remote);
}
