/* manifest.c - manifest.json: written pretty-printed by cJSON_Print (deterministic), read back with every field
 * checked, so that a reader learns what an archive claims before it trusts any other entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "digest.h"
#include "grow.h"
#include "jsonfield.h"
#include "manifest.h"

const char *const entry_names[ENTRIES] = {
	"characters.jsonl", "embeddings.npy", "manifest.json", "outline.json", "scenes.jsonl", "sheets.jsonl",
	"summaries.jsonl",
};

#define COUNT_MAX (UINT64_C(1) << 40)
#define TOKENS_MAX (UINT64_C(1) << 53)

int manifest_has_embedding(const struct analysis *a, size_t i)
{
	return a->dims > 0 && a->embeddings && (!a->has_embedding || a->has_embedding[i]);
}

void manifest_counts_of(const struct analysis *a, struct manifest_counts *c)
{
	memset(c, 0, sizeof *c);
	c->scenes = a->nscenes;
	for (size_t i = 0; i < a->nscenes; i++) {
		c->summaries += a->summaries && a->summaries[i];
		c->embeddings += (uint64_t)manifest_has_embedding(a, i);
	}
	c->outline = a->outline != NULL;
	for (size_t i = 0; i < a->nsheets; i++)
		c->sheets += a->sheets[i].json != NULL;
}

static int push_missing(char ***list, size_t *n, size_t *cap, const char *kind, const char *target)
{
	char **grown = grow(*list, cap, *n + 1, sizeof **list);
	if (!grown)
		return -1;
	*list = grown;
	size_t len = strlen(kind) + (target ? 1 + strlen(target) : 0) + 1;
	if (!(grown[*n] = malloc(len)))
		return -1;
	snprintf(grown[*n], len, target ? "%s %s" : "%s", kind, target);
	(*n)++;
	return 0;
}

int manifest_missing_of(const struct analysis *a, char ***missing, size_t *nmissing)
{
	char num[32];
	size_t cap = 0;
	*missing = NULL;
	*nmissing = 0;
	for (size_t i = 0; i < a->nscenes; i++) {
		snprintf(num, sizeof num, "%d", a->scenes[i].index);
		if ((!a->summaries || !a->summaries[i]) && push_missing(missing, nmissing, &cap, "summary", num) < 0)
			goto oom;
	}
	if (!a->outline && push_missing(missing, nmissing, &cap, "outline", NULL) < 0)
		goto oom;
	for (size_t i = 0; i < a->nsheets; i++)
		if (!a->sheets[i].json && push_missing(missing, nmissing, &cap, "sheet", a->sheets[i].character) < 0)
			goto oom;
	for (size_t i = 0; i < a->nscenes; i++) {
		snprintf(num, sizeof num, "%d", a->scenes[i].index);
		if (!manifest_has_embedding(a, i) && push_missing(missing, nmissing, &cap, "embedding", num) < 0)
			goto oom;
	}
	return 0;
oom:
	manifest_missing_free(*missing, *nmissing);
	*missing = NULL;
	*nmissing = 0;
	return -1;
}

void manifest_missing_free(char **missing, size_t nmissing)
{
	for (size_t i = 0; i < nmissing; i++)
		free(missing[i]);
	free(missing);
}

/* cJSON reports out of memory as NULL from every constructor; one flag collects them all. */
struct builder {
	int oom;
};

static cJSON *obj(struct builder *b, cJSON *parent, const char *key)
{
	cJSON *o = parent ? cJSON_AddObjectToObject(parent, key) : cJSON_CreateObject();
	b->oom |= !o;
	return o;
}

static void str(struct builder *b, cJSON *o, const char *key, const char *s)
{
	b->oom |= !o || !(s ? cJSON_AddStringToObject(o, key, s) : cJSON_AddNullToObject(o, key));
}

static void num(struct builder *b, cJSON *o, const char *key, double v)
{
	b->oom |= !o || !cJSON_AddNumberToObject(o, key, v);
}

static void digest(struct builder *b, cJSON *o, const char *key, const char hex[33])
{
	char text[sizeof JSON_DIGEST_PREFIX + 32];
	jf_digest_text(hex, text);
	str(b, o, key, text);
}

/* Where the hex of "manifest_digest" starts in a printed manifest. A string value cannot hold this byte sequence
 * (its quotes and tab would be escaped), so the last match is the member itself. */
static char *self_digest_at(char *text, const char hex[33])
{
	char needle[80];
	snprintf(needle, sizeof needle, "\"manifest_digest\":\t\"" JSON_DIGEST_PREFIX "%s\"", hex);
	char *found = NULL;
	for (char *p = text; (p = strstr(p, needle)); p++)
		found = p;
	return found ? found + strlen(needle) - 33 : NULL;
}

char *manifest_write(const struct analysis *a, const struct manifest_entry entries[ENTRIES])
{
	struct builder b = { 0 };
	struct manifest_counts c;
	manifest_counts_of(a, &c);
	cJSON *root = obj(&b, NULL, NULL);
	str(&b, root, "format", ANALYSIS_FORMAT);
	num(&b, root, "format_version", ANALYSIS_FORMAT_VERSION);
	str(&b, root, "tool_version", a->tool_version ? a->tool_version : "");
	b.oom |= !root || !cJSON_AddBoolToObject(root, "partial", a->partial);

	cJSON *script = obj(&b, root, "script");
	str(&b, script, "name", a->script_name ? a->script_name : "");
	str(&b, script, "title", a->title);
	digest(&b, script, "digest", a->script_digest);
	/* Page count and runtime (a minute a page) are the parser's, the sum of the scenes' eighths. */
	num(&b, script, "eighths", a->eighths);
	num(&b, script, "pages", a->eighths / 8.0);
	num(&b, script, "runtime_minutes", a->eighths / 8.0);

	cJSON *counts = obj(&b, root, "counts");
	num(&b, counts, "scenes", (double)c.scenes);
	num(&b, counts, "summaries", (double)c.summaries);
	num(&b, counts, "outline", (double)c.outline);
	num(&b, counts, "sheets", (double)c.sheets);
	num(&b, counts, "embeddings", (double)c.embeddings);

	cJSON *models = obj(&b, root, "models");
	for (int k = 0; k < ANALYSIS_KINDS; k++) {
		cJSON *m = obj(&b, models, analysis_kind_name((enum analysis_kind)k));
		str(&b, m, "provider", a->models[k].provider ? a->models[k].provider : "");
		str(&b, m, "model", a->models[k].model ? a->models[k].model : "");
	}

	cJSON *emb = obj(&b, root, "embedding");
	num(&b, emb, "dims", (double)a->dims);
	str(&b, emb, "dtype", "<f4");
	num(&b, emb, "rows", (double)a->nscenes);

	cJSON *steps = root ? cJSON_AddArrayToObject(root, "steps") : NULL;
	b.oom |= !steps;
	for (size_t i = 0; i < a->nsteps && steps; i++) {
		const struct analysis_step *s = &a->steps[i];
		cJSON *o = obj(&b, NULL, NULL);
		str(&b, o, "kind", analysis_kind_name(s->kind));
		str(&b, o, "target", s->target ? s->target : "");
		digest(&b, o, "key", s->key);
		digest(&b, o, "output", s->output);
		num(&b, o, "tokens_in", (double)s->tokens_in);
		num(&b, o, "tokens_out", (double)s->tokens_out);
		if (s->kind != ANALYSIS_EMBEDDING)
			num(&b, o, "corrections", (double)s->corrections);
		if (s->kind == ANALYSIS_SHEET)
			num(&b, o, "dropped_quotes", (double)s->dropped_quotes);
		if (o)
			cJSON_AddItemToArray(steps, o);
	}

	/* What the answers took, per kind: repairs are part of the evidence, never part of a key. */
	uint64_t turns[ANALYSIS_KINDS] = {0}, dropped = 0;
	for (size_t i = 0; i < a->nsteps; i++) {
		turns[a->steps[i].kind] += a->steps[i].corrections;
		dropped += a->steps[i].dropped_quotes;
	}
	cJSON *corr = obj(&b, root, "corrections");
	for (int k = 0; k < ANALYSIS_EMBEDDING; k++)
		num(&b, corr, analysis_kind_name((enum analysis_kind)k), (double)turns[k]);
	num(&b, root, "dropped_quotes", (double)dropped);

	cJSON *tokens = obj(&b, root, "tokens");
	num(&b, tokens, "input", (double)a->tokens_in);
	num(&b, tokens, "output", (double)a->tokens_out);

	if (a->partial) {
		char **missing;
		size_t nmissing;
		cJSON *list = root ? cJSON_AddArrayToObject(root, "missing") : NULL;
		if (!list || manifest_missing_of(a, &missing, &nmissing) < 0) {
			b.oom = 1;
		} else {
			for (size_t i = 0; i < nmissing; i++) {
				cJSON *s = cJSON_CreateString(missing[i]);
				b.oom |= !s;
				if (s)
					cJSON_AddItemToArray(list, s);
			}
			manifest_missing_free(missing, nmissing);
		}
	}

	cJSON *ents = obj(&b, root, "entries");
	for (int e = 0; e < ENTRIES; e++) {
		if (e == ENTRY_MANIFEST)
			continue;
		cJSON *o = obj(&b, ents, entry_names[e]);
		num(&b, o, "size", (double)entries[e].size);
		digest(&b, o, "digest", entries[e].digest);
	}

	char zeros[33];
	memset(zeros, '0', 32);
	zeros[32] = '\0';
	digest(&b, root, "manifest_digest", zeros);
	char *text = b.oom ? NULL : cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return NULL;
	/* A trailing newline, as text files have. */
	size_t n = strlen(text);
	char *out = malloc(n + 2);
	if (out) {
		memcpy(out, text, n);
		memcpy(out + n, "\n", 2);
		char *hex = self_digest_at(out, zeros);
		struct digest d;
		digest_bytes(out, n + 1, &d);
		digest_to_hex(&d, zeros);
		memcpy(hex, zeros, 32);
	}
	cJSON_free(text);
	return out;
}

#define WHERE "manifest.json"

static int read_steps(const cJSON *root, struct analysis *a, char *err, size_t errlen)
{
	const cJSON *steps = jf_container(root, "steps", true, WHERE, err, errlen);
	if (!steps)
		return -1;
	size_t n = (size_t)cJSON_GetArraySize(steps);
	a->steps = calloc(n ? n : 1, sizeof *a->steps);
	if (!a->steps) {
		snprintf(err, errlen, WHERE ": out of memory");
		return -1;
	}
	const cJSON *s;
	cJSON_ArrayForEach(s, steps) {
		char where[64];
		snprintf(where, sizeof where, WHERE ": steps[%zu]", a->nsteps);
		struct analysis_step *st = &a->steps[a->nsteps++];
		char *kind;
		if (!cJSON_IsObject(s)) {
			snprintf(err, errlen, "%s: not an object", where);
			return -1;
		}
		if (jf_string(s, "kind", false, &kind, where, err, errlen) < 0)
			return -1;
		int k = analysis_kind_from_name(kind);
		if (k < 0)
			snprintf(err, errlen, "%s: unknown kind \"%.40s\"", where, kind);
		free(kind);
		if (k < 0)
			return -1;
		st->kind = (enum analysis_kind)k;
		if (jf_string(s, "target", false, &st->target, where, err, errlen) < 0
		    || jf_digest(s, "key", st->key, where, err, errlen) < 0
		    || jf_digest(s, "output", st->output, where, err, errlen) < 0
		    || jf_uint(s, "tokens_in", TOKENS_MAX, &st->tokens_in, where, err, errlen) < 0
		    || jf_uint(s, "tokens_out", TOKENS_MAX, &st->tokens_out, where, err, errlen) < 0)
			return -1;
		/* Archives written before answers were repaired have no counts: they took none. */
		if ((cJSON_GetObjectItemCaseSensitive(s, "corrections") &&
		     jf_uint(s, "corrections", COUNT_MAX, &st->corrections, where, err, errlen) < 0) ||

		    (cJSON_GetObjectItemCaseSensitive(s, "dropped_quotes") &&
		     jf_uint(s, "dropped_quotes", COUNT_MAX, &st->dropped_quotes, where, err, errlen) < 0))
			return -1;
	}
	return 0;
}

static int read_missing(const cJSON *root, const struct analysis *a, struct manifest *m, char *err, size_t errlen)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "missing");
	if (!a->partial) {
		if (list) {
			snprintf(err, errlen, WHERE ": \"missing\" is present but \"partial\" is false");
			return -1;
		}
		return 0;
	}
	if (!(list = jf_container(root, "missing", true, WHERE, err, errlen)))
		return -1;
	size_t n = (size_t)cJSON_GetArraySize(list);
	m->missing = calloc(n ? n : 1, sizeof *m->missing);
	if (!m->missing) {
		snprintf(err, errlen, WHERE ": out of memory");
		return -1;
	}
	const cJSON *s;
	cJSON_ArrayForEach(s, list) {
		if (!cJSON_IsString(s)) {
			snprintf(err, errlen, WHERE ": \"missing\" holds something other than a string");
			return -1;
		}
		if (!(m->missing[m->nmissing] = strdup(s->valuestring))) {
			snprintf(err, errlen, WHERE ": out of memory");
			return -1;
		}
		m->nmissing++;
	}
	return 0;
}

static int read_entries(const cJSON *root, struct manifest *m, char *err, size_t errlen)
{
	const cJSON *ents = jf_container(root, "entries", false, WHERE, err, errlen);
	if (!ents)
		return -1;
	const cJSON *e;
	cJSON_ArrayForEach(e, ents) {
		int id = -1;
		for (int i = 0; i < ENTRIES; i++)
			if (i != ENTRY_MANIFEST && strcmp(e->string, entry_names[i]) == 0)
				id = i;
		if (id < 0) {
			snprintf(err, errlen, WHERE ": entries lists \"%.60s\", which is not an entry of this format", e->string);
			return -1;
		}
	}
	for (int i = 0; i < ENTRIES; i++) {
		if (i == ENTRY_MANIFEST)
			continue;
		char where[64];
		snprintf(where, sizeof where, WHERE ": entries.%s", entry_names[i]);
		const cJSON *o = jf_container(ents, entry_names[i], false, WHERE ": entries", err, errlen);
		if (!o || jf_uint(o, "size", COUNT_MAX, &m->entries[i].size, where, err, errlen) < 0
		    || jf_digest(o, "digest", m->entries[i].digest, where, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* script.eighths, and pages and runtime_minutes that must say the same in pages. */
static int read_length(const cJSON *script, struct analysis *a, char *err, size_t errlen)
{
	uint64_t eighths;
	if (jf_uint(script, "eighths", INT32_MAX, &eighths, WHERE ": script", err, errlen) < 0)
		return -1;
	a->eighths = (int)eighths;
	static const char *const same[] = {"pages", "runtime_minutes"};
	for (size_t i = 0; i < 2; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(script, same[i]);
		if (!cJSON_IsNumber(v) || v->valuedouble != (double)eighths / 8.0) {
			snprintf(err, errlen, WHERE ": script.%s is missing or not eighths / 8 (%g)", same[i],
			         (double)eighths / 8.0);
			return -1;
		}
	}
	return 0;
}

static int read_fields(const cJSON *root, struct analysis *a, struct manifest *m, char *err, size_t errlen)
{
	char *format;
	uint64_t version, dims;
	if (jf_string(root, "format", false, &format, WHERE, err, errlen) < 0)
		return -1;
	int ours = strcmp(format, ANALYSIS_FORMAT) == 0;
	if (!ours)
		snprintf(err, errlen, WHERE ": format is \"%.60s\", not \"" ANALYSIS_FORMAT "\" (not a scriptbuild archive)",
		         format);
	free(format);
	if (!ours || jf_uint(root, "format_version", COUNT_MAX, &version, WHERE, err, errlen) < 0)
		return -1;
	if (version != ANALYSIS_FORMAT_VERSION) {
		snprintf(err, errlen, WHERE ": format_version %llu is not supported (this program reads version %d); use "
		         "the scriptload that matches the scriptbuild that wrote it", (unsigned long long)version,
		         ANALYSIS_FORMAT_VERSION);
		return -1;
	}
	const cJSON *script, *counts, *models, *emb, *tokens;
	if (jf_string(root, "tool_version", false, &a->tool_version, WHERE, err, errlen) < 0
	    || jf_bool(root, "partial", &a->partial, WHERE, err, errlen) < 0
	    || !(script = jf_container(root, "script", false, WHERE, err, errlen))
	    || jf_string(script, "name", false, &a->script_name, WHERE ": script", err, errlen) < 0
	    || jf_string(script, "title", true, &a->title, WHERE ": script", err, errlen) < 0
	    || jf_digest(script, "digest", a->script_digest, WHERE ": script", err, errlen) < 0
	    || read_length(script, a, err, errlen) < 0
	    || !(counts = jf_container(root, "counts", false, WHERE, err, errlen))
	    || jf_uint(counts, "scenes", COUNT_MAX, &m->counts.scenes, WHERE ": counts", err, errlen) < 0
	    || jf_uint(counts, "summaries", COUNT_MAX, &m->counts.summaries, WHERE ": counts", err, errlen) < 0
	    || jf_uint(counts, "outline", 1, &m->counts.outline, WHERE ": counts", err, errlen) < 0
	    || jf_uint(counts, "sheets", COUNT_MAX, &m->counts.sheets, WHERE ": counts", err, errlen) < 0
	    || jf_uint(counts, "embeddings", COUNT_MAX, &m->counts.embeddings, WHERE ": counts", err, errlen) < 0
	    || !(models = jf_container(root, "models", false, WHERE, err, errlen))
	    || !(emb = jf_container(root, "embedding", false, WHERE, err, errlen))
	    || jf_uint(emb, "dims", COUNT_MAX, &dims, WHERE ": embedding", err, errlen) < 0
	    || jf_uint(emb, "rows", COUNT_MAX, &m->embedding_rows, WHERE ": embedding", err, errlen) < 0
	    || !(tokens = jf_container(root, "tokens", false, WHERE, err, errlen))
	    || jf_uint(tokens, "input", TOKENS_MAX, &a->tokens_in, WHERE ": tokens", err, errlen) < 0
	    || jf_uint(tokens, "output", TOKENS_MAX, &a->tokens_out, WHERE ": tokens", err, errlen) < 0)
		return -1;
	if (!*a->script_name) {
		snprintf(err, errlen, WHERE ": script.name is empty");
		return -1;
	}
	m->embedding_dims = dims;
	a->dims = (size_t)dims;
	const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(emb, "dtype");
	if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "<f4") != 0) {
		snprintf(err, errlen, WHERE ": embedding.dtype is not \"<f4\"");
		return -1;
	}
	for (int k = 0; k < ANALYSIS_KINDS; k++) {
		char where[64];
		snprintf(where, sizeof where, WHERE ": models.%s", analysis_kind_name((enum analysis_kind)k));
		const cJSON *mo = jf_container(models, analysis_kind_name((enum analysis_kind)k), false, WHERE ": models",
		                               err, errlen);
		if (!mo || jf_string(mo, "provider", false, &a->models[k].provider, where, err, errlen) < 0
		    || jf_string(mo, "model", false, &a->models[k].model, where, err, errlen) < 0)
			return -1;
	}
	return read_steps(root, a, err, errlen) < 0 || read_missing(root, a, m, err, errlen) < 0
	       || read_entries(root, m, err, errlen) < 0 ? -1 : 0;
}

static int check_self_digest(const char *text, size_t len, const char said[33], char *err, size_t errlen)
{
	char *copy = strndup(text, len);
	if (!copy) {
		snprintf(err, errlen, WHERE ": out of memory");
		return -1;
	}
	char *hex = self_digest_at(copy, said);
	if (!hex) {
		free(copy);
		snprintf(err, errlen, WHERE ": \"manifest_digest\" is not laid out as scriptbuild writes it");
		return -1;
	}
	memset(hex, '0', 32);
	struct digest d;
	char found[33];
	digest_bytes(copy, len, &d);
	digest_to_hex(&d, found);
	free(copy);
	if (strcmp(found, said) == 0)
		return 0;
	snprintf(err, errlen, WHERE ": digest mismatch (manifest_digest says " JSON_DIGEST_PREFIX "%s, content is "
	         JSON_DIGEST_PREFIX "%s)", said, found);
	return -1;
}

int manifest_read(const char *text, size_t len, struct analysis *a, struct manifest *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (root && end)
		while (end < text + len && (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r'))
			end++;
	if (!cJSON_IsObject(root) || end != text + len) {
		cJSON_Delete(root);
		snprintf(err, errlen, WHERE ": not a JSON object");
		return -1;
	}
	char said[33];
	int r = jf_digest(root, "manifest_digest", said, WHERE, err, errlen);
	if (r == 0)
		r = check_self_digest(text, len, said, err, errlen);
	if (r == 0)
		r = read_fields(root, a, m, err, errlen);
	cJSON_Delete(root);
	return r;
}

void manifest_clear(struct manifest *m)
{
	manifest_missing_free(m->missing, m->nmissing);
	m->missing = NULL;
	m->nmissing = 0;
}
