/* jsonfield.h - typed reads of cJSON object members for the archive reader, with errors naming where and which key. */
#ifndef SB_JSONFIELD_H
#define SB_JSONFIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Prefix of every digest inside the archive. */
#define JSON_DIGEST_PREFIX "xxh3-128:"

/* Member key of o as a malloc'd string (*out NULL for a JSON null when nullable); 0, or -1 with err "WHERE: ...". */
int jf_string(const cJSON *o, const char *key, bool nullable, char **out, const char *where, char *err, size_t errlen);

/* Member key of o as an integer in 0..max; 0, or -1 with err "WHERE: ...". */
int jf_uint(const cJSON *o, const char *key, uint64_t max, uint64_t *out, const char *where, char *err, size_t errlen);

/* Member key of o as a bool; 0, or -1 with err "WHERE: ...". */
int jf_bool(const cJSON *o, const char *key, bool *out, const char *where, char *err, size_t errlen);

/* Member key of o as "xxh3-128:" and 32 lower-case hex digits; the hex copied into hex; 0, or -1 with err. */
int jf_digest(const cJSON *o, const char *key, char hex[33], const char *where, char *err, size_t errlen);

/* Member key of o, which must be a JSON object (or an array when want_array); NULL with err otherwise. */
const cJSON *jf_container(const cJSON *o, const char *key, bool want_array, const char *where, char *err, size_t errlen);

/* item, or the end of the process with "out of memory" when it is NULL: building a record fails only for lack of
 * memory, which nothing in the archive writer can repair. */
cJSON *jf_must(cJSON *item);

/* Adds key: s to o (null when s is NULL); out of memory ends the process as jf_must. */
void jf_add_str(cJSON *o, const char *key, const char *s);

/* Adds key: v to o; out of memory ends the process as jf_must. */
void jf_add_num(cJSON *o, const char *key, double v);

/* Writes "xxh3-128:HEX" for a hex digest into out. */
void jf_digest_text(const char hex[33], char out[sizeof JSON_DIGEST_PREFIX + 32]);

/* 1 when s is well-formed UTF-8. */
int jf_utf8_valid(const char *s);

/* A malloc'd copy of s with each byte that is not part of well-formed UTF-8 replaced by U+FFFD; NULL when out of
 * memory. For names that come from the file system, which may hold any bytes. */
char *jf_utf8_repaired(const char *s);

/* 1 when s is exactly 32 lower-case hex digits. */
int jf_is_hex32(const char *s);

#endif
