/* entries.c - walking every served action with its blob (for re-validation) and evicting chosen actions. */
#include <stdlib.h>
#include <string.h>

#include "store.h"

int cache_foreach(struct cache *c, int (*fn)(void *ctx, const struct cache_entry *e), void *ctx, char *err,
                  size_t errlen)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, v, bk, bv;
	int rc;
	if ((rc = store_begin_read(c, &txn)) != 0)
		return store_fail(c, "reading", rc, err, errlen);
	if ((rc = mdb_cursor_open(txn, c->actions, &cur)) != 0)
		goto fail;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		struct cache_entry e;
		if (k.mv_size != sizeof(e.key.bytes) || store_decode_action(&v, &e.meta) != 0)
			continue;  /* cache_verify names these */
		memcpy(e.key.bytes, k.mv_data, sizeof(e.key.bytes));
		bk = store_key(&e.meta.output);
		if ((rc = mdb_get(txn, c->blobs, &bk, &bv)) == MDB_NOTFOUND)
			continue;
		if (rc)
			goto fail;
		e.data = bv.mv_data;
		e.len = bv.mv_size;
		if (fn(ctx, &e) != 0)
			break;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
fail:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return store_fail(c, "reading", rc, err, errlen);
}

struct evict_args {
	const struct digest *keys;
	size_t n;
	size_t removed;
};

/* Whether some action still points at blob. */
static int blob_in_use(struct cache *c, MDB_txn *txn, const struct digest *blob, int *used)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, c->actions, &cur);
	*used = 0;
	if (rc)
		return rc;
	while (!*used && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		struct action_meta m;
		*used = store_decode_action(&v, &m) == 0 && memcmp(m.output.bytes, blob->bytes, sizeof(blob->bytes)) == 0;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

static int evict_body(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen)
{
	struct evict_args *a = arg;
	(void)err;
	(void)errlen;
	a->removed = 0;
	for (size_t i = 0; i < a->n; i++) {
		MDB_val k = store_key(&a->keys[i]), v;
		struct action_meta m;
		int rc = mdb_get(txn, c->actions, &k, &v), used;
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return rc;
		int decoded = store_decode_action(&v, &m) == 0;
		if ((rc = mdb_del(txn, c->actions, &k, NULL)) != 0)
			return rc;
		a->removed++;
		if (!decoded)
			continue;
		if ((rc = blob_in_use(c, txn, &m.output, &used)) != 0)
			return rc;
		MDB_val bk = store_key(&m.output);
		if (!used && (rc = mdb_del(txn, c->blobs, &bk, NULL)) != 0 && rc != MDB_NOTFOUND)
			return rc;
	}
	return a->removed ? store_bump_epoch(c, txn) : 0;
}

int cache_evict(struct cache *c, const struct digest *keys, size_t n, size_t *removed, char *err, size_t errlen)
{
	struct evict_args a = {keys, n, 0};
	int rc = store_write(c, "evicting results", evict_body, &a, err, errlen);
	if (removed)
		*removed = a.removed;
	return rc;
}
