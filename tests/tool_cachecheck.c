/* tool_cachecheck - opens a scriptbuild cache READ-ONLY with liblmdb directly and checks that nothing in it is poisoned:
 *
 *   tool_cachecheck [--forbid S]... CACHE_DIR
 *
 * Every blob must hash to its key and be either a JSON object that a step kind's schema and checks accept or an
 * L2-normalised float32 vector; every action record must decode and point at a blob; no key or value of any table may
 * contain a --forbid string. Prints one line per problem naming the table and the hex key; exit 0 clean, 1 problems,
 * 2 usage or the cache cannot be opened. It reads the layout itself (cache/cache.c) rather than through cache/, so that
 * a bug there cannot hide a bad entry from it. */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <lmdb.h>
#include <xxhash.h>

#include "job.h"
#include "prompts.h"
#include "validate.h"

/* Action record, version 1 (cache/cache.c): version(1) output(16) tokens_in(8) tokens_out(8) duration_ms(4)
 * created(8) last_used(8) provider_len(1) provider model_len(1) model. */
#define ACTION_VERSION 2
#define ACTION_TAIL 7     /* version 2: kind, corrections, max_tokens retries, dropped quotes */
#define ACTION_FIXED (1 + 16 + 8 + 8 + 4 + 8 + 8 + 1 + 1)
#define PROVIDER_LEN_AT (1 + 16 + 8 + 8 + 4 + 8 + 8)
#define DIGEST_BYTES 16
#define NORM_TOLERANCE 1e-3
#define MAX_FORBID 16

static const char *const tables[] = {"actions", "blobs", "records", "counters"};
enum { ACTIONS, BLOBS, RECORDS, COUNTERS, TABLES };

struct check {
	MDB_txn *txn;
	MDB_dbi dbi[TABLES];
	const char *forbid[MAX_FORBID];
	int nforbid;
	long problems, json_blobs, vector_blobs, actions;
};

static void hex_of(const MDB_val *key, char *out, size_t outlen)
{
	const unsigned char *p = key->mv_data;
	size_t n = key->mv_size, o = 0;
	for (size_t i = 0; i < n && o + 3 <= outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%02x", p[i]);
	out[o < outlen ? o : outlen - 1] = '\0';
}

static void problem(struct check *c, const char *table, const MDB_val *key, const char *fmt, const char *what)
{
	char hex[160];
	hex_of(key, hex, sizeof(hex));
	printf("%s %s: ", table, hex);
	printf(fmt, what);
	putchar('\n');
	c->problems++;
}

static bool contains(const MDB_val *v, const char *needle)
{
	size_t n = strlen(needle);
	const char *p = v->mv_data;
	for (size_t i = 0; n && i + n <= v->mv_size; i++)
		if (memcmp(p + i, needle, n) == 0)
			return true;
	return false;
}

static bool blank(const cJSON *s)
{
	const char *p = cJSON_GetStringValue(s);
	if (!p)
		return true;
	while (isspace((unsigned char)*p))
		p++;
	return *p == '\0';
}

/* prompt_validate's checks that need no script: the schema, a non-empty summary, ordered scene ranges, non-empty
 * key lines. */
static bool valid_as(enum step_kind kind, const cJSON *obj)
{
	char err[256];
	const cJSON *item, *seq;
	if (prompt_schema_check(prompt_schema(kind), obj, err, sizeof(err)) < 0)
		return false;
	switch (kind) {
	case STEP_SUMMARY:
		return !blank(cJSON_GetObjectItemCaseSensitive(obj, "summary"));
	case STEP_OUTLINE:
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(obj, "acts")) {
			const cJSON *r = cJSON_GetObjectItemCaseSensitive(item, "scenes");
			if (cJSON_GetArrayItem(r, 0)->valuedouble > cJSON_GetArrayItem(r, 1)->valuedouble)
				return false;
			cJSON_ArrayForEach(seq, cJSON_GetObjectItemCaseSensitive(item, "sequences")) {
				r = cJSON_GetObjectItemCaseSensitive(seq, "scenes");
				if (cJSON_GetArrayItem(r, 0)->valuedouble > cJSON_GetArrayItem(r, 1)->valuedouble)
					return false;
			}
		}
		return true;
	case STEP_SHEET:
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(obj, "key_lines"))
			if (blank(item))
				return false;
		return true;
	default:
		return false;
	}
}

/* NULL when v is a non-empty run of finite little-endian float32 values with an L2 norm of 1, else why not. */
static const char *vector_problem(const MDB_val *v)
{
	const unsigned char *p = v->mv_data;
	double norm = 0;
	if (v->mv_size == 0 || v->mv_size % 4)
		return "is neither a JSON object nor a float32 vector (its length is not a multiple of 4)";
	for (size_t i = 0; i < v->mv_size; i += 4) {
		uint32_t bits = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24;
		float f;
		memcpy(&f, &bits, sizeof(f));
		if (!isfinite(f))
			return "is a float32 vector with a value that is not finite";
		norm += (double)f * f;
	}
	if (fabs(sqrt(norm) - 1.0) > NORM_TOLERANCE)
		return "is a float32 vector whose L2 norm is not 1";
	return NULL;
}

static void check_blob(struct check *c, const MDB_val *k, const MDB_val *v)
{
	XXH128_canonical_t canon;
	XXH128_canonicalFromHash(&canon, XXH3_128bits(v->mv_data, v->mv_size));
	if (k->mv_size != DIGEST_BYTES || memcmp(canon.digest, k->mv_data, DIGEST_BYTES) != 0)
		problem(c, "blobs", k, "%s", "its bytes do not hash to its key");
	/* A vector's first byte may well be '{': a blob is JSON only when it parses as a JSON object. */
	cJSON *obj = cJSON_ParseWithLength(v->mv_data, v->mv_size);
	if (cJSON_IsObject(obj)) {
		bool ok = valid_as(STEP_SUMMARY, obj) || valid_as(STEP_OUTLINE, obj) || valid_as(STEP_SHEET, obj);
		char why[300];
		cJSON_Delete(obj);
		/* Clean text, unique keys, length limits (the provider is unknown here: extra fields are judged by
		 * scriptbuild -t verify, which reads the action). */
		if (ok && result_check(STEP_KINDS, "builtin", v->mv_data, v->mv_size, why, sizeof(why)) < 0) {
			problem(c, "blobs", k, "is invalid now: %s", why);
			return;
		}
		if (ok)
			c->json_blobs++;
		else
			problem(c, "blobs", k, "%s", "is a JSON object that no step kind accepts (an error or partial output)");
		return;
	}
	cJSON_Delete(obj);
	const char *why = vector_problem(v);
	if (why && v->mv_size && *(const char *)v->mv_data == '{')
		problem(c, "blobs", k, "%s", "is neither a JSON object (it does not parse) nor a float32 vector");
	else if (why)
		problem(c, "blobs", k, "%s", why);
	else
		c->vector_blobs++;
}

static void check_action(struct check *c, const MDB_val *k, const MDB_val *v)
{
	const unsigned char *p = v->mv_data;
	c->actions++;
	if (k->mv_size != DIGEST_BYTES)
		problem(c, "actions", k, "%s", "its key is not a 16-byte digest");
	if (v->mv_size < ACTION_FIXED || (p[0] != ACTION_VERSION && p[0] != 1)) {
		problem(c, "actions", k, "%s", "its record is not a version 1 or 2 action record");
		return;
	}
	size_t tail = p[0] == 1 ? 0 : ACTION_TAIL;
	size_t provider_len = p[PROVIDER_LEN_AT];
	size_t at = PROVIDER_LEN_AT + 1 + provider_len;
	if (at >= v->mv_size || at + 1 + p[at] + tail != v->mv_size) {
		problem(c, "actions", k, "%s", "its record's provider and model lengths do not add up");
		return;
	}
	MDB_val blob_key = {DIGEST_BYTES, (void *)(p + 1)}, blob;
	if (mdb_get(c->txn, c->dbi[BLOBS], &blob_key, &blob) != 0)
		problem(c, "actions", k, "%s", "points at a blob that is not in the cache");
}

/* Walks one table: the per-table checks, then the forbidden strings in every key and value. */
static int walk(struct check *c, int table)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(c->txn, c->dbi[table], &cur);
	if (rc)
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		if (table == BLOBS)
			check_blob(c, &k, &v);
		else if (table == ACTIONS)
			check_action(c, &k, &v);
		for (int f = 0; f < c->nforbid; f++)
			if (contains(&k, c->forbid[f]) || contains(&v, c->forbid[f]))
				problem(c, tables[table], &k, "contains the forbidden string \"%s\"", c->forbid[f]);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int usage(void)
{
	fputs("usage: tool_cachecheck [--forbid S]... CACHE_DIR\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct check c = {0};
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--forbid") == 0 && i + 1 < argc && c.nforbid < MAX_FORBID)
			c.forbid[c.nforbid++] = argv[++i];
		else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else
			return usage();
	}
	if (!dir)
		return usage();

	MDB_env *env;
	int rc = mdb_env_create(&env);
	if (rc == 0) {
		mdb_env_set_maxdbs(env, TABLES + 1);
		rc = mdb_env_open(env, dir, MDB_RDONLY, 0);
	}
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &c.txn);
	if (rc) {
		fprintf(stderr, "tool_cachecheck: %s: cannot open the cache read-only: %s\n", dir, mdb_strerror(rc));
		mdb_env_close(env);
		return 2;
	}
	for (int t = 0; t < TABLES && rc == 0; t++)
		if ((rc = mdb_dbi_open(c.txn, tables[t], 0, &c.dbi[t])) != 0)
			fprintf(stderr, "tool_cachecheck: %s: table %s: %s\n", dir, tables[t], mdb_strerror(rc));
	for (int t = 0; t < TABLES && rc == 0; t++)
		if ((rc = walk(&c, t)) != 0)
			fprintf(stderr, "tool_cachecheck: %s: reading table %s: %s\n", dir, tables[t], mdb_strerror(rc));
	mdb_txn_abort(c.txn);
	mdb_env_close(env);
	if (rc)
		return 2;
	if (c.problems) {
		fprintf(stderr, "tool_cachecheck: %s: %ld problems\n", dir, c.problems);
		return 1;
	}
	printf("ok: %ld actions, %ld JSON blobs, %ld vector blobs\n", c.actions, c.json_blobs, c.vector_blobs);
	return 0;
}
