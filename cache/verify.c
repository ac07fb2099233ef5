/* verify.c - cache_verify: re-hash every blob and check that every action decodes and points to a blob. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

static void report_problem(void (*report)(void *, const char *), void *ctx, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	report(ctx, line);
}

long cache_verify(struct cache *c, void (*report)(void *ctx, const char *problem), void *ctx, char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, v, bv;
	long problems = 0;
	char hex[DIGEST_HEX_LEN + 1], hex2[DIGEST_HEX_LEN + 1];
	int rc;

	if ((rc = store_begin_read(c, &txn)) != 0)
		return store_fail(c, "reading", rc, err, errlen);
	if ((rc = mdb_cursor_open(txn, c->blobs, &cur)) != 0)
		goto fail;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		struct digest key, actual;
		if (k.mv_size != sizeof(key.bytes)) {
			report_problem(report, ctx, "blob with a %zu-byte key: not a digest; remove the cache", k.mv_size);
			problems++;
			continue;
		}
		memcpy(key.bytes, k.mv_data, sizeof(key.bytes));
		digest_bytes(v.mv_data, v.mv_size, &actual);
		if (!digest_equal(&key, &actual)) {
			digest_to_hex(&key, hex);
			digest_to_hex(&actual, hex2);
			report_problem(report, ctx, "blob %s: damaged, its %zu bytes hash to %s; it is never served, and the "
			               "step that made it re-runs and replaces it", hex, v.mv_size, hex2);
			problems++;
		}
	}
	mdb_cursor_close(cur);
	cur = NULL;
	if (rc != MDB_NOTFOUND || (rc = mdb_cursor_open(txn, c->actions, &cur)) != 0)
		goto fail;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		struct digest key;
		struct action_meta m;
		if (k.mv_size != sizeof(key.bytes)) {
			report_problem(report, ctx, "action with a %zu-byte key: not an action key; remove the cache",
			               k.mv_size);
			problems++;
			continue;
		}
		memcpy(key.bytes, k.mv_data, sizeof(key.bytes));
		digest_to_hex(&key, hex);
		if (store_decode_action(&v, &m) != 0) {
			report_problem(report, ctx, "action %s: record of %zu bytes does not decode (version %u, this "
			               "scriptbuild writes %d); run gc to drop it", hex, v.mv_size,
			               v.mv_size ? *(unsigned char *)v.mv_data : 0u, ACTION_VERSION);
			problems++;
			continue;
		}
		bv = store_key(&m.output);
		rc = mdb_get(txn, c->blobs, &bv, &v);
		if (rc == MDB_NOTFOUND) {
			digest_to_hex(&m.output, hex2);
			report_problem(report, ctx, "action %s: its output blob %s is missing; run gc to drop the action",
			               hex, hex2);
			problems++;
		} else if (rc) {
			goto fail;
		}
	}
	if (rc != MDB_NOTFOUND)
		goto fail;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return problems;
fail:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return store_fail(c, "verifying", rc, err, errlen);
}
