/* validate.c - clean text, unique keys, schema fields and limits, sane vectors: the rules an answer must meet before
 * it is cached, and that `-t verify` applies again to what is cached. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "float32.h"
#include "prompts.h"
#include "validate.h"

/* The length of the valid UTF-8 character at s (n bytes left), 0 when it is not one (cut, overlong, a surrogate,
 * beyond U+10FFFF). */
static size_t utf8_valid_char(const unsigned char *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	size_t len = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (len == 0 || len > n)
		return 0;
	unsigned long c = s[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	static const unsigned long least[] = {0, 0, 0x80, 0x800, 0x10000};
	if (c < least[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	return len;
}

int answer_check_bytes(const char *data, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0;
	while (i < len) {
		if (p[i] == 0) {
			snprintf(err, errlen, "a NUL byte at byte %zu", i);
			return -1;
		}
		if (p[i] == '\\' && i + 5 < len && p[i + 1] == 'u' && memcmp(data + i + 2, "0000", 4) == 0) {
			snprintf(err, errlen, "an escaped NUL (\\u0000) at byte %zu", i);
			return -1;
		}
		if (p[i] == '\\') {
			i += 2;  /* an escaped backslash must not start another escape */
			continue;
		}
		size_t n = utf8_valid_char(p + i, len - i);
		if (n == 0) {
			snprintf(err, errlen, "invalid UTF-8 (a cut or malformed multi-byte character) at byte %zu", i);
			return -1;
		}
		i += n;
	}
	return 0;
}

static int check_string(const char *s, const char *path, char *err, size_t errlen)
{
	size_t len = strlen(s);
	if (answer_check_bytes(s, len, err, errlen) < 0) {
		char why[200];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s holds %s", path[0] ? path : "the answer", why);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) {
			snprintf(err, errlen, "%s holds the control character 0x%02x at byte %zu (only newline and tab are "
			         "allowed)", path[0] ? path : "the answer", c, i);
			return -1;
		}
	}
	return 0;
}

static int check_tree(const cJSON *v, char *path, size_t pathlen, char *err, size_t errlen)
{
	size_t base = strlen(path);
	if (cJSON_IsString(v))
		return check_string(v->valuestring, path, err, errlen);
	if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
		return 0;
	int i = 0;
	const cJSON *child;
	cJSON_ArrayForEach(child, v) {
		if (cJSON_IsObject(v)) {
			for (const cJSON *other = v->child; other != child; other = other->next)
				if (strcmp(other->string, child->string) == 0) {
					snprintf(err, errlen, "%s has the key \"%.60s\" twice", base ? path : "the answer",
					         child->string);
					return -1;
				}
			if (check_string(child->string, path, err, errlen) < 0)
				return -1;
			snprintf(path + base, pathlen - base, "%s%.60s", base ? "." : "", child->string);
		} else {
			snprintf(path + base, pathlen - base, "[%d]", i);
		}
		int rc = check_tree(child, path, pathlen, err, errlen);
		path[base] = '\0';
		if (rc < 0)
			return -1;
		i++;
	}
	return 0;
}

int answer_check_tree(const cJSON *v, char *err, size_t errlen)
{
	char path[256] = "";
	return check_tree(v, path, sizeof(path), err, errlen);
}

size_t answer_strip_unknown(const cJSON *schema, cJSON *v)
{
	size_t removed = 0;
	if (cJSON_IsObject(v)) {
		const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
		if (!cJSON_IsObject(props))
			return 0;
		cJSON *child = v->child;
		while (child) {
			cJSON *next = child->next;
			const cJSON *sub = cJSON_GetObjectItemCaseSensitive(props, child->string);
			if (!sub) {
				cJSON_Delete(cJSON_DetachItemViaPointer(v, child));
				removed++;
			} else {
				removed += answer_strip_unknown(sub, child);
			}
			child = next;
		}
	} else if (cJSON_IsArray(v)) {
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
		cJSON *child;
		if (cJSON_IsObject(items))
			cJSON_ArrayForEach(child, v)
				removed += answer_strip_unknown(items, child);
	}
	return removed;
}

int embedding_check(const float *v, size_t dims, size_t want, char *err, size_t errlen)
{
	if (dims == 0 || (want && dims != want)) {
		snprintf(err, errlen, "has %zu dimensions, not %zu", dims, want);
		return -1;
	}
	double norm = 0;
	for (size_t i = 0; i < dims; i++) {
		if (!isfinite(v[i])) {
			snprintf(err, errlen, "holds a value that is not finite at dimension %zu", i);
			return -1;
		}
		norm += (double)v[i] * (double)v[i];
	}
	norm = sqrt(norm);
	if (!(norm >= EMBEDDING_MIN_NORM && norm <= EMBEDDING_MAX_NORM)) {
		snprintf(err, errlen, "has norm %g, outside the sane range %g..%g (an all-zero or overflowing vector)", norm,
		         EMBEDDING_MIN_NORM, EMBEDDING_MAX_NORM);
		return -1;
	}
	return 0;
}

static bool blank(const cJSON *s)
{
	return !cJSON_IsString(s) || s->valuestring[strspn(s->valuestring, " \t\n")] == '\0';
}

/* The rules beyond the schema that need no script: what prompt_validate checked when the answer came. */
static int check_rules(enum step_kind kind, const cJSON *o, char *err, size_t errlen)
{
	const cJSON *item;
	int i = 0;
	switch (kind) {
	case STEP_SUMMARY:
		if (blank(cJSON_GetObjectItemCaseSensitive(o, "summary"))) {
			snprintf(err, errlen, "summary is empty");
			return -1;
		}
		return 0;
	case STEP_OUTLINE:
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, "acts")) {
			const cJSON *r = cJSON_GetObjectItemCaseSensitive(item, "scenes");
			if (cJSON_GetArrayItem(r, 0)->valuedouble > cJSON_GetArrayItem(r, 1)->valuedouble) {
				snprintf(err, errlen, "acts[%d].scenes runs backwards", i);
				return -1;
			}
			i++;
		}
		return 0;
	case STEP_SHEET:
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o, "key_lines")) {
			if (blank(item)) {
				snprintf(err, errlen, "key_lines[%d] is empty", i);
				return -1;
			}
			i++;
		}
		return 0;
	default:
		return 0;
	}
}

/* The kind a stored JSON result has, told by the field only that kind has. */
static enum step_kind kind_of(const cJSON *o)
{
	if (cJSON_GetObjectItemCaseSensitive(o, "props"))
		return STEP_SUMMARY;
	if (cJSON_GetObjectItemCaseSensitive(o, "acts"))
		return STEP_OUTLINE;
	if (cJSON_GetObjectItemCaseSensitive(o, "key_lines"))
		return STEP_SHEET;
	return STEP_KINDS;
}

enum step_kind result_kind(enum step_kind kind, const void *data, size_t len)
{
	if (kind != STEP_KINDS)
		return kind;
	cJSON *o = len && ((const char *)data)[0] == '{' ? cJSON_ParseWithLength(data, len) : NULL;
	kind = o ? kind_of(o) : len % 4 == 0 ? STEP_EMBEDDING : STEP_KINDS;
	cJSON_Delete(o);
	return kind;
}

void result_check_stamp(enum step_kind kind, const char *provider, struct digest *out)
{
	struct key_builder kb;
	key_begin(&kb);
	key_add_str(&kb, "result_check");
	key_add_u64(&kb, RESULT_RULES_VERSION);
	key_add_str(&kb, SCRIPTBUILD_VERSION);
	key_add_u64(&kb, (uint64_t)kind);
	key_add_u64(&kb, provider && strcmp(provider, "builtin") == 0);
	/* A result of unknown kind is checked against whichever schema its bytes match: all of them count. */
	for (int k = 0; k < STEP_KINDS; k++)
		if (kind == STEP_KINDS || k == (int)kind)
			key_add_str(&kb, prompt_schema_text((enum step_kind)k));
	key_end(&kb, out);
}

int result_check(enum step_kind kind, const char *provider, const void *data, size_t len, char *err, size_t errlen)
{
	cJSON *o = NULL;
	if (kind != STEP_EMBEDDING && len && ((const char *)data)[0] == '{')
		o = cJSON_ParseWithLength(data, len);
	if (kind == STEP_EMBEDDING || (kind == STEP_KINDS && !o)) {
		cJSON_Delete(o);
		if (len == 0 || len % 4) {
			snprintf(err, errlen, "embedding of %zu bytes is not whole float32s", len);
			return -1;
		}
		float *v = malloc(len);
		if (!v) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		float32_decode(data, len / 4, v);
		char why[200];
		int rc = embedding_check(v, len / 4, 0, why, sizeof(why));
		free(v);
		if (rc < 0)
			snprintf(err, errlen, "embedding %s", why);
		return rc;
	}
	int rc = -1;
	char why[300];
	if (!cJSON_IsObject(o)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	if (kind == STEP_KINDS && (kind = kind_of(o)) == STEP_KINDS) {
		snprintf(err, errlen, "a JSON object of no known step kind");
		goto out;
	}
	if (answer_check_bytes(data, len, why, sizeof(why)) < 0 || answer_check_tree(o, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	const cJSON *schema = prompt_schema(kind);
	if (prompt_schema_check(schema, o, why, sizeof(why)) < 0 || check_rules(kind, o, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	/* The builtin analyser adds documented facts of its own; a model's answer holds the schema's fields only. */
	if (!provider || strcmp(provider, "builtin") != 0) {
		cJSON *copy = cJSON_Duplicate(o, 1);
		size_t extra = answer_strip_unknown(schema, copy);
		cJSON_Delete(copy);
		if (extra) {
			snprintf(err, errlen, "holds %zu field%s its schema does not have (a model's extra output)", extra,
			         extra == 1 ? "" : "s");
			goto out;
		}
	}
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}
