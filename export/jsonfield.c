/* jsonfield.c - typed member reads for the archive reader (every rejection says where, which key and why), and the
 * writer's member adds, which end the process when memory runs out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonfield.h"

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, at most U+10FFFF), or 0. */
static size_t utf8_sequence(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) || (s[0] == 0xF0 && s[1] < 0x90)
	    || (s[0] == 0xF4 && s[1] > 0x8F))
		return 0;
	return n;
}

int jf_utf8_valid(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_sequence(p);
		if (!n)
			return 0;
		p += n;
	}
	return 1;
}

char *jf_utf8_repaired(const char *s)
{
	/* Each bad byte becomes U+FFFD (three bytes), so the result is at most three times as long. */
	size_t len = strlen(s);
	char *out = malloc(3 * len + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = utf8_sequence(p);
		if (n) {
			memcpy(o, p, n);
			o += n;
			p += n;
		} else {
			memcpy(o, "\xEF\xBF\xBD", 3);
			o += 3;
			p++;
		}
	}
	*o = '\0';
	return out;
}

int jf_string(const cJSON *o, const char *key, bool nullable, char **out, const char *where, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	*out = NULL;
	if (nullable && cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v)) {
		snprintf(err, errlen, "%s: \"%s\" is missing or not a string%s", where, key, nullable ? " or null" : "");
		return -1;
	}
	/* Every text in an archive is UTF-8 (JSON's own encoding); bytes that are not would reach databases raw. */
	if (!jf_utf8_valid(v->valuestring)) {
		snprintf(err, errlen, "%s: \"%s\" is not valid UTF-8", where, key);
		return -1;
	}
	*out = strdup(v->valuestring);
	if (!*out) {
		snprintf(err, errlen, "%s: out of memory", where);
		return -1;
	}
	return 0;
}

int jf_uint(const cJSON *o, const char *key, uint64_t max, uint64_t *out, const char *where, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	/* Doubles hold integers exactly only up to 2^53; anything past that cannot have been written by us. */
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 9007199254740992.0
	    || v->valuedouble != (double)(uint64_t)v->valuedouble || (uint64_t)v->valuedouble > max) {
		snprintf(err, errlen, "%s: \"%s\" is missing or not an integer in 0..%llu", where, key,
		         (unsigned long long)max);
		return -1;
	}
	*out = (uint64_t)v->valuedouble;
	return 0;
}

int jf_bool(const cJSON *o, const char *key, bool *out, const char *where, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsBool(v)) {
		snprintf(err, errlen, "%s: \"%s\" is missing or not true/false", where, key);
		return -1;
	}
	*out = cJSON_IsTrue(v);
	return 0;
}

int jf_is_hex32(const char *s)
{
	for (int i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[32] == '\0';
}

int jf_digest(const cJSON *o, const char *key, char hex[33], const char *where, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	size_t plen = strlen(JSON_DIGEST_PREFIX);
	if (!cJSON_IsString(v) || strncmp(v->valuestring, JSON_DIGEST_PREFIX, plen) != 0
	    || !jf_is_hex32(v->valuestring + plen)) {
		snprintf(err, errlen, "%s: \"%s\" is missing or not \"%s\" and 32 lower-case hex digits", where, key,
		         JSON_DIGEST_PREFIX);
		return -1;
	}
	memcpy(hex, v->valuestring + plen, 33);
	return 0;
}

const cJSON *jf_container(const cJSON *o, const char *key, bool want_array, const char *where, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (want_array ? !cJSON_IsArray(v) : !cJSON_IsObject(v)) {
		snprintf(err, errlen, "%s: \"%s\" is missing or not an %s", where, key, want_array ? "array" : "object");
		return NULL;
	}
	return v;
}

void jf_digest_text(const char hex[33], char out[sizeof JSON_DIGEST_PREFIX + 32])
{
	snprintf(out, sizeof JSON_DIGEST_PREFIX + 32, "%s%s", JSON_DIGEST_PREFIX, hex);
}

cJSON *jf_must(cJSON *item)
{
	if (!item) {
		fputs("scriptbuild: out of memory while encoding the archive\n", stderr);
		_exit(1);
	}
	return item;
}

void jf_add_str(cJSON *o, const char *key, const char *s)
{
	jf_must(s ? cJSON_AddStringToObject(o, key, s) : cJSON_AddNullToObject(o, key));
}

void jf_add_num(cJSON *o, const char *key, double v)
{
	jf_must(cJSON_AddNumberToObject(o, key, v));
}
