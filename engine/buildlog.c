/* buildlog.c - a JSON build log per script in the cache's table of logs, like ninja's log, read only to explain. */
#define _XOPEN_SOURCE 700 /* realpath, st_mtim */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cache.h"
#include "fountain.h"
#include "buildlog.h"
#include "util.h"

#define RECORD_VERSION 1

struct build_log {
	cJSON *root;
};

char *build_log_name_for(const char *script_path, const char *base_dir)
{
	char *real = realpath(script_path, NULL);
	char *base = realpath(base_dir ? base_dir : ".", NULL);
	const char *path = real ? real : script_path;
	size_t blen = base ? strlen(base) : 0;
	if (real && base && strncmp(real, base, blen) == 0 && (real[blen] == '/' || blen == 1))
		path = real + blen + (blen > 1);
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1];
	digest_bytes(path, strlen(path), &d);
	digest_to_hex(&d, hex);
	free(real);
	free(base);
	return xasprintf("script:%s", hex);
}

struct build_log *build_log_load(struct cache *c, const char *name)
{
	char *data = NULL;
	size_t len = 0;
	char err[256];
	if (cache_log_get(c, name, &data, &len, err, sizeof(err)) != 1)
		return NULL;
	cJSON *root = cJSON_ParseWithLength(data, len);
	free(data);
	cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (!cJSON_IsNumber(version) || version->valueint != RECORD_VERSION) {
		cJSON_Delete(root);
		return NULL;
	}
	struct build_log *rec = xcalloc(1, sizeof(*rec));
	rec->root = root;
	return rec;
}

void build_log_free(struct build_log *rec)
{
	if (!rec)
		return;
	cJSON_Delete(rec->root);
	free(rec);
}

static const char *hex_of(const struct digest *d, char hex[DIGEST_HEX_LEN + 1])
{
	digest_to_hex(d, hex);
	return hex;
}

static const char *get_string(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static int same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Finds a previous scene whose field equals value. */
static int previous_scene_has(const cJSON *root, const char *field, const char *value)
{
	const cJSON *scene;
	cJSON_ArrayForEach(scene, cJSON_GetObjectItemCaseSensitive(root, "scenes"))
		if (same(get_string(scene, field), value))
			return 1;
	return 0;
}

/* How the scene list changed since the record, as the outline sees it: a removed scene, scenes in another order, a new
 * or edited scene (upstream summaries changed), or NULL when the scenes are the same (malloc'd). */
static char *scene_list_change(const cJSON *root, const struct graph *g)
{
	const cJSON *prev = cJSON_GetObjectItemCaseSensitive(root, "scenes"), *scene;
	size_t n = g->script->nscenes, nprev = (size_t)cJSON_GetArraySize(prev);
	char (*cur)[DIGEST_HEX_LEN + 1] = xcalloc(n ? n : 1, sizeof(*cur));
	bool *used = xcalloc(n ? n : 1, sizeof(*used));
	struct digest d;
	for (size_t i = 0; i < n; i++) {
		scene_text_digest(g, i + 1, &d);
		digest_to_hex(&d, cur[i]);
	}
	char *why = NULL;
	const char *removed = NULL;
	size_t matched = 0, at = 0;
	bool in_order = true;
	/* Match each earlier scene to an unused current one with the same text; order kept iff the matches ascend. */
	cJSON_ArrayForEach(scene, prev) {
		const char *text = get_string(scene, "text");
		size_t j = 0;
		while (j < n && (used[j] || !same(cur[j], text)))
			j++;
		if (j == n) {
			/* Gone, unless it was edited in place: a current unmatched scene with its heading. */
			const char *heading = get_string(scene, "heading");
			bool edited = false;
			for (size_t k = 0; k < n && !edited; k++)
				edited = !used[k] && same(g->script->scenes[k].heading, heading) && !previous_scene_has(root, "text", cur[k]);
			if (!edited && !removed)
				removed = heading ? heading : "";
			continue;
		}
		used[j] = true;
		matched++;
		if (j < at)
			in_order = false;
		at = j;
	}
	/* An edit that also changed a heading looks like a removal plus a new scene: only fewer scenes is a removal. */
	if (removed && nprev > n)
		why = xasprintf("scene removed (%s)", removed);
	else if (matched != n || matched != nprev)
		why = xstrdup("upstream summary changed (a new or edited scene)");
	else if (!in_order)
		why = xstrdup("scene order changed");
	free(cur);
	free(used);
	return why;
}

char *build_log_explain(const struct build_log *rec, const struct graph *g, const struct step *st,
                     const struct step_config *cfg)
{
	if (!rec)
		return xstrdup("never built (no earlier run of this script in this cache)");
	const char *kind = step_kind_name(st->kind);
	const cJSON *old_cfg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec->root, "config"), kind);
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1], key[DIGEST_HEX_LEN + 1];
	step_config_digest(cfg, 1, &d);
	if (old_cfg && !same(get_string(old_cfg, "prompt"), hex_of(&d, hex)))
		return xstrdup("prompt changed");
	step_config_digest(cfg, 0, &d);
	if (old_cfg && !same(get_string(old_cfg, "params"), hex_of(&d, hex)))
		return xstrdup("model or parameters changed");
	hex_of(&st->key, key);

	switch (st->kind) {
	case STEP_SUMMARY: {
		const struct fountain_scene *sc = &g->script->scenes[st->scene - 1];
		scene_text_digest(g, st->scene, &d);
		if (previous_scene_has(rec->root, "text", hex_of(&d, hex)))
			return xstrdup("not in the cache (evicted, or it failed last time)");
		if (previous_scene_has(rec->root, "heading", sc->heading))
			return xstrdup("scene text changed");
		return xstrdup("new scene");
	}
	case STEP_OUTLINE: {
		if (same(get_string(rec->root, "outline"), key))
			return xstrdup("not in the cache (evicted, or it failed last time)");
		char *change = scene_list_change(rec->root, g);
		return change ? change : xstrdup("upstream summary changed (or a heading or the author's sections)");
	}
	case STEP_SHEET: {
		const char *name = g->script->characters[st->character].name;
		const cJSON *sheets = cJSON_GetObjectItemCaseSensitive(rec->root, "sheets");
		const cJSON *old = cJSON_GetObjectItemCaseSensitive(sheets, name);
		if (!old)
			return xstrdup("new character");
		if (same(cJSON_IsString(old) ? old->valuestring : NULL, key))
			return xstrdup("not in the cache (evicted, or it failed last time)");
		return xstrdup("upstream summary changed (or the character's dialogue)");
	}
	case STEP_EMBEDDING:
		if (previous_scene_has(rec->root, "embedding", key))
			return xstrdup("not in the cache (evicted, or it failed last time)");
		return xstrdup("upstream summary changed");
	case STEP_KINDS:
		break;
	}
	return xstrdup("never built");
}

int build_log_last_provider(const struct build_log *rec, enum step_kind kind, const char **provider, const char **model)
{
	if (!rec)
		return -1;
	const cJSON *kc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec->root, "config"),
	                                                   step_kind_name(kind));
	*provider = get_string(kc, "provider");
	*model = get_string(kc, "model");
	return *provider && *model ? 0 : -1;
}

static void add_key_if_done(cJSON *obj, const char *name, const struct step *st)
{
	char hex[DIGEST_HEX_LEN + 1];
	if (st->state == STEP_DONE)
		cJSON_AddStringToObject(obj, name, hex_of(&st->key, hex));
}

/* The file's identity as the file system sees it: "inode:size:mtime-ns". */
static char *stat_stamp(const struct stat *st)
{
	return xasprintf("%llu:%lld:%lld.%09ld", (unsigned long long)st->st_ino, (long long)st->st_size,
	                 (long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec);
}

/* stat_stamp of the file at path, or NULL when it is not there. */
static char *file_stamp(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return NULL;
	return stat_stamp(&st);
}

int build_log_archive_current(const struct build_log *rec, const char *path, const struct digest *identity)
{
	char hex[DIGEST_HEX_LEN + 1];
	if (!rec)
		return 0;
	const cJSON *archive = cJSON_GetObjectItemCaseSensitive(rec->root, "archive");
	char *real = realpath(path, NULL);
	char *stamp = real ? file_stamp(real) : NULL;
	int current = real && stamp && same(get_string(archive, "path"), real) &&
	              same(get_string(archive, "stamp"), stamp) &&
	              same(get_string(archive, "identity"), hex_of(identity, hex));
	free(real);
	free(stamp);
	return current;
}

/* What a complete build's archive record says of the build, for a later run whose inputs it proves unchanged: the
 * steps per kind, the tokens the cached results cost, each sheet's dropped quotations and one result's key. */
static void add_tally(cJSON *archive, const struct graph *g, const struct digest *inputs, uint64_t epoch)
{
	char hex[DIGEST_HEX_LEN + 1];
	double steps[STEP_KINDS] = {0}, saved[2] = {0, 0};
	const struct step *probe = NULL;
	for (size_t i = 0; i < g->nsteps; i++) {
		const struct step *st = &g->steps[i];
		if (!st->wanted || st->state != STEP_DONE)
			continue;
		steps[st->kind]++;
		saved[0] += (double)st->meta.tokens_in;
		saved[1] += (double)st->meta.tokens_out;
		if (!probe || st->kind == STEP_OUTLINE)
			probe = st;
	}
	cJSON_AddStringToObject(archive, "inputs", hex_of(inputs, hex));
	cJSON_AddNumberToObject(archive, "epoch", (double)epoch);
	cJSON_AddItemToObject(archive, "steps", cJSON_CreateDoubleArray(steps, STEP_KINDS));
	cJSON_AddItemToObject(archive, "saved", cJSON_CreateDoubleArray(saved, 2));
	cJSON *quotes = cJSON_AddObjectToObject(archive, "dropped_quotes");
	for (size_t ch = 0; ch < g->script->ncharacters; ch++) {
		const struct step *st = &g->steps[g->sheet_of_character[ch]];
		if (st->state == STEP_DONE)
			cJSON_AddNumberToObject(quotes, g->script->characters[ch].name, st->meta.dropped_quotes);
	}
	if (probe)
		cJSON_AddStringToObject(archive, "probe", hex_of(&probe->key, hex));
}

static int hex_digest(const char *hex, struct digest *out)
{
	return hex && digest_from_hex(hex, out) == 0 ? 0 : -1;
}

int build_log_inputs_current(const struct build_log *rec, const char *path, const struct digest *inputs,
                             uint64_t epoch, struct build_log_tally *tally)
{
	char hex[DIGEST_HEX_LEN + 1];
	if (!rec)
		return 0;
	const cJSON *archive = cJSON_GetObjectItemCaseSensitive(rec->root, "archive");
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(archive, "steps");
	const cJSON *saved = cJSON_GetObjectItemCaseSensitive(archive, "saved");
	const cJSON *quotes = cJSON_GetObjectItemCaseSensitive(archive, "dropped_quotes");
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(archive, "epoch");
	if (!cJSON_IsNumber(at) || at->valuedouble != (double)epoch)
		return 0;
	if (!same(get_string(archive, "inputs"), hex_of(inputs, hex)) || cJSON_GetArraySize(steps) != STEP_KINDS ||
	    cJSON_GetArraySize(saved) != 2 || !cJSON_IsObject(quotes) ||
	    hex_digest(get_string(archive, "probe"), &tally->probe) < 0)
		return 0;
	for (int k = 0; k < STEP_KINDS; k++) {
		const cJSON *n = cJSON_GetArrayItem(steps, k);
		if (!cJSON_IsNumber(n) || n->valuedouble < 0)
			return 0;
		tally->steps[k] = (size_t)n->valuedouble;
	}
	const cJSON *in = cJSON_GetArrayItem(saved, 0), *out = cJSON_GetArrayItem(saved, 1);
	if (!cJSON_IsNumber(in) || !cJSON_IsNumber(out))
		return 0;
	tally->tokens_in = (uint64_t)in->valuedouble;
	tally->tokens_out = (uint64_t)out->valuedouble;
	tally->dropped_quotes = quotes;
	char *real = realpath(path, NULL);
	char *stamp = real ? file_stamp(real) : NULL;
	int current = real && stamp && same(get_string(archive, "path"), real) && same(get_string(archive, "stamp"), stamp);
	free(real);
	free(stamp);
	return current;
}

int build_log_save(struct cache *c, const char *name, const struct graph *g, const struct step_config *cfg,
                const char *archive_path, const struct stat *written, const struct digest *identity,
                const struct digest *inputs, uint64_t epoch, char *err, size_t errlen)
{
	char hex[DIGEST_HEX_LEN + 1];
	struct digest d;
	cJSON *root = cJSON_CreateObject();
	cJSON_AddNumberToObject(root, "version", RECORD_VERSION);
	cJSON *config = cJSON_AddObjectToObject(root, "config");
	for (int k = 0; k < STEP_KINDS; k++) {
		cJSON *kc = cJSON_AddObjectToObject(config, step_kind_name((enum step_kind)k));
		step_config_digest(&cfg[k], 1, &d);
		cJSON_AddStringToObject(kc, "prompt", hex_of(&d, hex));
		step_config_digest(&cfg[k], 0, &d);
		cJSON_AddStringToObject(kc, "params", hex_of(&d, hex));
		/* Read back only to say which providers the cache's results came from. */
		cJSON_AddStringToObject(kc, "provider", cfg[k].provider);
		cJSON_AddStringToObject(kc, "model", cfg[k].params.model ? cfg[k].params.model : "");
	}
	cJSON *scenes = cJSON_AddArrayToObject(root, "scenes");
	for (size_t i = 0; i < g->script->nscenes; i++) {
		cJSON *sc = cJSON_CreateObject();
		cJSON_AddStringToObject(sc, "heading", g->script->scenes[i].heading);
		scene_text_digest(g, i + 1, &d);
		cJSON_AddStringToObject(sc, "text", hex_of(&d, hex));
		add_key_if_done(sc, "summary", &g->steps[g->summary_of_scene[i]]);
		add_key_if_done(sc, "embedding", &g->steps[g->embedding_of_scene[i]]);
		cJSON_AddItemToArray(scenes, sc);
	}
	add_key_if_done(root, "outline", &g->steps[g->outline]);
	cJSON *sheets = cJSON_AddObjectToObject(root, "sheets");
	for (size_t ch = 0; ch < g->script->ncharacters; ch++)
		add_key_if_done(sheets, g->script->characters[ch].name, &g->steps[g->sheet_of_character[ch]]);
	/* The stamp of the file this process wrote, taken from its descriptor before the rename: by now another run may
	 * have put its own archive at the path, and that one must not be recorded as this run's. */
	char *old = NULL;
	size_t old_len = 0;
	int found = cache_log_get(c, name, &old, &old_len, err, errlen);
	char *real = archive_path ? realpath(archive_path, NULL) : NULL;
	char *stamp = real ? written ? stat_stamp(written) : file_stamp(real) : NULL;
	if (!archive_path && found == 1) {
		/* A run that wrote no archive (targets given) leaves the last one's record: it speaks of the file at its
		 * path and of its inputs, which a later run checks before trusting it. */
		cJSON *prev = cJSON_ParseWithLength(old, old_len);
		cJSON *archive = cJSON_DetachItemFromObjectCaseSensitive(prev, "archive");
		if (archive)
			cJSON_AddItemToObject(root, "archive", archive);
		cJSON_Delete(prev);
	} else if (real && stamp) {
		cJSON *archive = cJSON_AddObjectToObject(root, "archive");
		cJSON_AddStringToObject(archive, "path", real);
		cJSON_AddStringToObject(archive, "stamp", stamp);
		cJSON_AddStringToObject(archive, "identity", hex_of(identity, hex));
		if (inputs)
			add_tally(archive, g, inputs, epoch);
	}
	free(real);
	free(stamp);
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!text) {
		free(old);
		snprintf(err, errlen, "out of memory writing the build record");
		return -1;
	}
	/* A no-op run leaves the record as it was: reading it costs less than a write transaction's sync. */
	int rc = 0;
	if (found != 1 || old_len != strlen(text) || memcmp(old, text, old_len) != 0)
		rc = cache_log_put(c, name, text, strlen(text), err, errlen);
	free(old);
	free(text);
	return rc;
}
