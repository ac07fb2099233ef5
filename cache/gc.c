/* gc.c - cache_gc: evict least recently used actions until the blobs they use fit a size, then drop unused blobs.
 * LMDB files never shrink: deleted pages go to LMDB's free list and are reused by later writes, so data.mdb keeps
 * its size (cache_stats reports blob_bytes apart from file_bytes for this reason). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "store.h"

struct gc_blob {
	struct digest key;
	uint64_t size;
	uint64_t users;    /* actions that still point at it */
};

struct gc_action {
	struct digest key;
	struct gc_blob *blob;
	int64_t last_used;
	int64_t created;
};

static int compare_blob_key(const void *key, const void *elem)
{
	return memcmp(key, ((const struct gc_blob *)elem)->key.bytes, 16);
}

/* Least recently used first; among equals the oldest, then by key so the order never depends on the platform. */
static int compare_lru(const void *pa, const void *pb)
{
	const struct gc_action *a = pa, *b = pb;

	if (a->last_used != b->last_used)
		return a->last_used < b->last_used ? -1 : 1;
	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	return memcmp(a->key.bytes, b->key.bytes, 16);
}

/* Appends one zeroed element to *arr, growing it by the one growth rule; NULL when out of memory. */
static void *push(void **arr, size_t *n, size_t *cap, size_t elem)
{
	void *p = grow(*arr, cap, *n + 1, elem);
	if (!p)
		return NULL;
	*arr = p;
	return memset((char *)p + (*n)++ * elem, 0, elem);
}

struct gc_args {
	uint64_t max_bytes;
	uint64_t evicted;
	struct gc_blob *blobs;
	struct gc_action *actions;
};

/* Drops every action that can never be served (no 16-byte key, an undecodable record, no blob) and lists the rest
 * with their blobs; a blob's users count is filled. */
static int gc_scan(struct cache *c, MDB_txn *txn, struct gc_args *a, size_t *nblobs, size_t *nactions)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t cap = 0;
	int rc;

	if ((rc = mdb_cursor_open(txn, c->blobs, &cur)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		struct gc_blob *b;
		if (k.mv_size != 16) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			continue;
		}
		if (!(b = push((void **)&a->blobs, nblobs, &cap, sizeof(*b)))) {
			rc = ENOMEM;
			break;
		}
		memcpy(b->key.bytes, k.mv_data, 16);
		b->size = v.mv_size;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = mdb_cursor_open(txn, c->actions, &cur)) != 0)
		return rc;
	cap = 0;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		struct action_meta m;
		struct gc_blob *b = NULL;
		struct gc_action *act;
		if (k.mv_size == 16 && store_decode_action(&v, &m) == 0)
			b = bsearch(m.output.bytes, a->blobs, *nblobs, sizeof(*a->blobs), compare_blob_key);
		if (!b) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			a->evicted++;
			continue;
		}
		if (!(act = push((void **)&a->actions, nactions, &cap, sizeof(*act)))) {
			rc = ENOMEM;
			break;
		}
		memcpy(act->key.bytes, k.mv_data, 16);
		act->blob = b;
		act->last_used = m.last_used;
		act->created = m.created;
		b->users++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int gc_body(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen)
{
	struct gc_args *a = arg;
	size_t nblobs = 0, nactions = 0;
	uint64_t live_bytes = 0;
	int rc;

	(void)err, (void)errlen;
	/* A retry after growing the map starts again from the unchanged tables. */
	free(a->blobs), a->blobs = NULL;
	free(a->actions), a->actions = NULL;
	a->evicted = 0;
	if ((rc = gc_scan(c, txn, a, &nblobs, &nactions)) != 0)
		return rc;
	for (size_t i = 0; i < nblobs; i++)
		if (a->blobs[i].users)
			live_bytes += a->blobs[i].size;
	if (nactions)
		qsort(a->actions, nactions, sizeof(*a->actions), compare_lru);
	for (size_t i = 0; i < nactions && live_bytes > a->max_bytes; i++) {
		MDB_val k = store_key(&a->actions[i].key);
		if ((rc = mdb_del(txn, c->actions, &k, NULL)) != 0)
			return rc;
		a->evicted++;
		if (--a->actions[i].blob->users == 0)
			live_bytes -= a->actions[i].blob->size;
	}
	for (size_t i = 0; i < nblobs; i++) {
		MDB_val k = store_key(&a->blobs[i].key);
		if (!a->blobs[i].users && (rc = mdb_del(txn, c->blobs, &k, NULL)) != 0)
			return rc;
	}
	return 0;
}

int cache_gc(struct cache *c, uint64_t max_bytes, uint64_t *evicted, char *err, size_t errlen)
{
	struct gc_args a = { max_bytes, 0, NULL, NULL };
	int rc = store_write(c, "collecting garbage", gc_body, &a, err, errlen);

	free(a.blobs);
	free(a.actions);
	*evicted = rc == 0 ? a.evicted : 0;
	return rc;
}
