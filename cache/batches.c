/* batches.c - the records of message batches submitted and not yet collected: named "batch:ID" in the records table,
 * so that a run killed while a batch runs leaves behind what the next run needs to resume it instead of paying again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define BATCH_PREFIX "batch:"
#define BATCH_PREFIX_LEN 6

/* The record's LMDB key, "batch:ID" (malloc'd); NULL when id is empty or too long for a key. */
static char *record_name(struct cache *c, const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n + BATCH_PREFIX_LEN > (size_t)mdb_env_get_maxkeysize(c->env))
		return NULL;
	char *name = malloc(n + BATCH_PREFIX_LEN + 1);
	if (name)
		snprintf(name, n + BATCH_PREFIX_LEN + 1, "%s%s", BATCH_PREFIX, id);
	return name;
}

struct batch_write {
	const char *name;
	MDB_val val;
	int remove;
};

static int batch_body(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen)
{
	struct batch_write *a = arg;
	MDB_val k = {strlen(a->name), (void *)a->name};
	(void)err, (void)errlen;
	if (a->remove) {
		int rc = mdb_del(txn, c->logs, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	return mdb_put(txn, c->logs, &k, &a->val, 0);
}

static int batch_write(struct cache *c, const char *id, const void *data, size_t len, int remove, char *err,
                       size_t errlen)
{
	char *name = record_name(c, id);
	if (!name) {
		snprintf(err, errlen, "cache %s: a batch id of %zu bytes cannot be recorded", c->dir, strlen(id));
		return -1;
	}
	struct batch_write a = {name, {len, (void *)data}, remove};
	int rc = store_write(c, remove ? "forgetting a message batch" : "recording a message batch", batch_body, &a, err,
	                     errlen);
	free(name);
	return rc;
}

int cache_batch_put(struct cache *c, const char *id, const void *data, size_t len, char *err, size_t errlen)
{
	return batch_write(c, id, data, len, 0, err, errlen);
}

int cache_batch_forget(struct cache *c, const char *id, char *err, size_t errlen)
{
	return batch_write(c, id, NULL, 0, 1, err, errlen);
}

int cache_batch_each(struct cache *c, int (*fn)(void *ctx, const char *id, const char *data, size_t len), void *ctx,
                     char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k = {BATCH_PREFIX_LEN, (void *)BATCH_PREFIX}, v;
	int rc;
	if ((rc = store_begin_read(c, &txn)) != 0)
		return store_fail(c, "reading", rc, err, errlen);
	if ((rc = mdb_cursor_open(txn, c->logs, &cur)) != 0)
		goto fail;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size <= BATCH_PREFIX_LEN || memcmp(k.mv_data, BATCH_PREFIX, BATCH_PREFIX_LEN) != 0)
			break;
		/* Copies with a NUL after them: fn gets C strings, and nothing of the map outlives the transaction. */
		char *id = malloc(k.mv_size - BATCH_PREFIX_LEN + 1), *data = malloc(v.mv_size + 1);
		if (!id || !data) {
			free(id);
			free(data);
			rc = ENOMEM;
			goto fail;
		}
		memcpy(id, (char *)k.mv_data + BATCH_PREFIX_LEN, k.mv_size - BATCH_PREFIX_LEN);
		id[k.mv_size - BATCH_PREFIX_LEN] = '\0';
		memcpy(data, v.mv_data, v.mv_size);
		data[v.mv_size] = '\0';
		int stop = fn(ctx, id, data, v.mv_size);
		free(id);
		free(data);
		if (stop)
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
	return store_fail(c, "reading the message batches", rc, err, errlen);
}
