/* fountain_json.c - the parse as JSON: what `scriptbuild -t parse` prints and the fixtures expect. */
#include <cjson/cJSON.h>

#include "fountain.h"

/* Every add below returns NULL on OOM; one flag collects them so the builder reads straight through. */
struct builder {
	bool ok;
};

static cJSON *check(struct builder *b, cJSON *item)
{
	b->ok &= item != NULL;
	return item;
}

static void add_string(struct builder *b, cJSON *o, const char *key, const char *value)
{
	check(b, value ? cJSON_AddStringToObject(o, key, value) : cJSON_AddNullToObject(o, key));
}

static void add_number(struct builder *b, cJSON *o, const char *key, double value)
{
	check(b, cJSON_AddNumberToObject(o, key, value));
}

static void add_bool(struct builder *b, cJSON *o, const char *key, bool value)
{
	check(b, cJSON_AddBoolToObject(o, key, value));
}

static cJSON *add_object_to(struct builder *b, cJSON *array)
{
	cJSON *o = check(b, cJSON_CreateObject());
	if (o && !cJSON_AddItemToArray(array, o)) {
		cJSON_Delete(o);
		b->ok = false;
		return NULL;
	}
	return o;
}

static void push_string(struct builder *b, cJSON *array, const char *s)
{
	cJSON *item = check(b, cJSON_CreateString(s));
	if (item && !cJSON_AddItemToArray(array, item)) {
		cJSON_Delete(item);
		b->ok = false;
	}
}

static void push_number(struct builder *b, cJSON *array, double v)
{
	cJSON *item = check(b, cJSON_CreateNumber(v));
	if (item && !cJSON_AddItemToArray(array, item)) {
		cJSON_Delete(item);
		b->ok = false;
	}
}

static void add_cue(struct builder *b, cJSON *array, const struct fountain_cue *c)
{
	cJSON *o = add_object_to(b, array);
	if (!o)
		return;
	add_string(b, o, "name", c->name);
	cJSON *ext = check(b, cJSON_AddArrayToObject(o, "extensions"));
	for (size_t i = 0; ext && i < c->nextensions; i++)
		push_string(b, ext, c->extensions[i]);
	add_number(b, o, "line", c->line);
	add_number(b, o, "words", c->words);
	add_bool(b, o, "dual", c->dual);
	add_string(b, o, "dialogue", c->dialogue);
	add_string(b, o, "parentheticals", c->parentheticals);
}

static void add_scene(struct builder *b, cJSON *array, const struct fountain_scene *s)
{
	cJSON *o = add_object_to(b, array);
	if (!o)
		return;
	add_number(b, o, "index", (double)s->index);
	add_string(b, o, "number", s->number);
	add_string(b, o, "heading", s->heading);
	add_number(b, o, "line", s->line);
	add_bool(b, o, "before_first_heading", s->implicit);
	add_string(b, o, "int_ext", s->int_ext);
	add_string(b, o, "location", s->location);
	add_string(b, o, "time", s->time);
	add_string(b, o, "time_of_day", fountain_time_name(s->time_of_day));
	add_string(b, o, "note", s->note);
	add_number(b, o, "printed_lines", s->printed_lines);
	add_number(b, o, "eighths", s->eighths);
	add_number(b, o, "action_words", s->action_words);
	add_number(b, o, "dialogue_words", s->dialogue_words);
	cJSON *names = check(b, cJSON_AddArrayToObject(o, "characters"));
	for (size_t i = 0; names && i < s->ncharacters; i++)
		push_string(b, names, s->characters[i]);
	cJSON *cast = check(b, cJSON_AddArrayToObject(o, "cast"));
	for (size_t i = 0; cast && i < s->ncast; i++) {
		cJSON *m = add_object_to(b, cast);
		if (!m)
			break;
		add_string(b, m, "character", s->cast[i].name);
		add_bool(b, m, "speaking", s->cast[i].speaking);
		add_number(b, m, "cues", s->cast[i].cues);
		add_number(b, m, "words", s->cast[i].words);
	}
	cJSON *cues = check(b, cJSON_AddArrayToObject(o, "cues"));
	for (size_t i = 0; cues && i < s->ncues; i++)
		add_cue(b, cues, &s->cues[i]);
	add_string(b, o, "action", s->action);
	add_string(b, o, "text", s->text);
}

static void add_character(struct builder *b, cJSON *array, const struct fountain_character *c)
{
	cJSON *o = add_object_to(b, array);
	if (!o)
		return;
	add_string(b, o, "name", c->name);
	cJSON *scenes = check(b, cJSON_AddArrayToObject(o, "scenes"));
	for (size_t i = 0; scenes && i < c->nscenes; i++)
		push_number(b, scenes, (double)c->scenes[i]);
	add_number(b, o, "cues", c->cues);
	add_number(b, o, "words", c->words);
	add_number(b, o, "share", c->share);
	if (c->nscenes) {
		add_number(b, o, "first_scene", (double)c->scenes[0]);
		add_number(b, o, "last_scene", (double)c->scenes[c->nscenes - 1]);
	} else {
		check(b, cJSON_AddNullToObject(o, "first_scene"));
		check(b, cJSON_AddNullToObject(o, "last_scene"));
	}
	cJSON *mentioned = check(b, cJSON_AddArrayToObject(o, "mentioned_in"));
	for (size_t i = 0; mentioned && i < c->nmentioned; i++)
		push_number(b, mentioned, (double)c->mentioned[i]);
	cJSON *together = check(b, cJSON_AddArrayToObject(o, "copresence"));
	for (size_t i = 0; together && i < c->ntogether; i++) {
		cJSON *m = add_object_to(b, together);
		if (!m)
			break;
		add_string(b, m, "character", c->together[i].name);
		add_number(b, m, "scenes", (double)c->together[i].scenes);
	}
}

/* A scene index for a 1-based position in scenes[] (sections and synopses keep positions); one past the last scene's
 * index for nscenes + 1. */
static double index_of_position(const struct fountain_script *s, size_t position)
{
	return (double)(s->scenes[0].index + position - 1);
}

cJSON *fountain_to_json(const struct fountain_script *script)
{
	struct builder b = {true};
	cJSON *root = check(&b, cJSON_CreateObject());
	if (!root)
		return NULL;
	add_string(&b, root, "title", script->title);
	cJSON *fields = check(&b, cJSON_AddArrayToObject(root, "title_page"));
	for (size_t i = 0; fields && i < script->ntitle_page; i++) {
		cJSON *o = add_object_to(&b, fields);
		if (!o)
			break;
		add_string(&b, o, "key", script->title_page[i].key);
		add_string(&b, o, "value", script->title_page[i].value);
	}
	add_bool(&b, root, "implicit_scene", script->implicit_scene);
	add_number(&b, root, "lines", script->nlines);
	add_number(&b, root, "eighths", script->eighths);
	add_number(&b, root, "pages", script->eighths / 8.0);
	cJSON *scenes = check(&b, cJSON_AddArrayToObject(root, "scenes"));
	for (size_t i = 0; scenes && i < script->nscenes; i++)
		add_scene(&b, scenes, &script->scenes[i]);
	cJSON *characters = check(&b, cJSON_AddArrayToObject(root, "characters"));
	for (size_t i = 0; characters && i < script->ncharacters; i++)
		add_character(&b, characters, &script->characters[i]);
	cJSON *sections = check(&b, cJSON_AddArrayToObject(root, "sections"));
	for (size_t i = 0; sections && i < script->nsections; i++) {
		const struct fountain_section *s = &script->sections[i];
		cJSON *o = add_object_to(&b, sections);
		if (!o)
			break;
		add_number(&b, o, "depth", s->depth);
		add_string(&b, o, "title", s->title);
		add_number(&b, o, "line", s->line);
		add_number(&b, o, "next_scene", index_of_position(script, s->next_scene));
	}
	cJSON *synopses = check(&b, cJSON_AddArrayToObject(root, "synopses"));
	for (size_t i = 0; synopses && i < script->nsynopses; i++) {
		const struct fountain_synopsis *s = &script->synopses[i];
		cJSON *o = add_object_to(&b, synopses);
		if (!o)
			break;
		add_string(&b, o, "text", s->text);
		add_number(&b, o, "line", s->line);
		if (s->scene)
			add_number(&b, o, "scene", index_of_position(script, s->scene));
		else
			check(&b, cJSON_AddNullToObject(o, "scene"));
		add_number(&b, o, "next_scene", index_of_position(script, s->next_scene));
	}
	if (!b.ok) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}
