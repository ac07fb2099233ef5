/* gc.c - cache_gc: evict least recently used actions until the blobs they use fit a size, then drop unused blobs.
 * LMDB files never shrink: deleted pages go to LMDB's free list and are reused by later writes, so data.mdb keeps
 * its size until cache_compact replaces it with a compacted copy. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Deletes the "checked" records of a blob gc drops (their keys start with its digest): 0 or an LMDB error. */
static int drop_checked(struct cache *c, MDB_txn *txn, const struct digest *blob)
{
	MDB_cursor *cur;
	MDB_val k = store_key(blob), v;
	int rc = mdb_cursor_open(txn, c->checked, &cur);

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < sizeof(blob->bytes) || memcmp(k.mv_data, blob->bytes, sizeof(blob->bytes)) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
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
		if (a->blobs[i].users)
			continue;
		if ((rc = mdb_del(txn, c->blobs, &k, NULL)) != 0 || (rc = drop_checked(c, txn, &a->blobs[i].key)) != 0)
			return rc;
	}
	return a->evicted ? store_bump_epoch(c, txn) : 0;
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

/* Pages on LMDB's free list (table 0, as mdb_stat -f counts them): each value is a page list whose first word is its
 * length. */
static int free_pages(MDB_txn *txn, uint64_t *n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*n = 0;
	if ((rc = mdb_cursor_open(txn, 0, &cur)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		size_t first;
		if (v.mv_size < sizeof(first))
			continue;
		memcpy(&first, v.mv_data, sizeof(first));
		*n += first;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Bytes of data.mdb that a compacted copy would not need: free-list pages and the file beyond its last page. */
static int reclaimable(struct cache *c, uint64_t file_bytes, uint64_t *bytes)
{
	MDB_txn *txn;
	MDB_envinfo info;
	MDB_stat ms;
	uint64_t nfree;
	int rc;

	if ((rc = store_begin_read(c, &txn)) != 0)
		return rc;
	if ((rc = mdb_env_info(c->env, &info)) == 0 && (rc = mdb_env_stat(c->env, &ms)) == 0 &&
	    (rc = free_pages(txn, &nfree)) == 0) {
		uint64_t used = ((uint64_t)info.me_last_pgno + 1 - nfree) * ms.ms_psize;
		*bytes = file_bytes > used ? file_bytes - used : 0;
	}
	mdb_txn_abort(txn);
	return rc;
}

struct reader_pids {
	pid_t pids[64];
	unsigned n;
};

/* mdb_reader_list's lines are "pid thread txnid" under a header line: other processes with a reader slot. */
static int on_reader_line(const char *line, void *ctx)
{
	struct reader_pids *r = ctx;
	char *end;
	long pid = strtol(line, &end, 10);

	if (end == line || pid <= 0 || (pid_t)pid == getpid())
		return 0;
	for (unsigned i = 0; i < r->n; i++)
		if (r->pids[i] == (pid_t)pid)
			return 0;
	if (r->n < sizeof(r->pids) / sizeof(r->pids[0]))
		r->pids[r->n++] = (pid_t)pid;
	return 0;
}

static uint64_t file_size(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Writes the compacted copy into a temp file in the cache directory and renames it over data.mdb; 0, or -1 with
 * err and the temp file gone. */
static int swap_in_copy(struct cache *c, uint64_t *after, char *err, size_t errlen)
{
	size_t dlen = strlen(c->dir);
	char *tmp = malloc(dlen + 64), *data = malloc(dlen + 16);
	const char *what = "out of memory";
	int fd = -1, rc = 0;

	if (!tmp || !data)
		goto fail;
	snprintf(tmp, dlen + 64, "%s/.data.mdb.scriptbuild-compact-XXXXXX", c->dir);
	snprintf(data, dlen + 16, "%s/data.mdb", c->dir);
	what = "cannot create the compacted copy";
	if ((fd = mkstemp(tmp)) < 0)
		goto fail;
	what = "cannot write the compacted copy";
	if ((rc = mdb_env_copyfd2(c->env, fd, MDB_CP_COMPACT)) != 0) {
		errno = rc;
		goto fail;
	}
	if (fsync(fd) != 0)
		goto fail;
	*after = file_size(fd);
	what = "cannot rename the compacted copy over data.mdb";
	if (rename(tmp, data) != 0)
		goto fail;
	close(fd);
	/* The rename itself must survive a crash, or a crash could bring the old file back after gc said it was gone. */
	if ((fd = open(c->dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(fd);
		close(fd);
	}
	free(tmp);
	free(data);
	return 0;
fail:
	snprintf(err, errlen, "cache %s: compaction: %s: %s; data.mdb is unchanged", c->dir, what,
	         errno == ENOSPC ? "No space left on device (the copy needs room beside data.mdb)" : strerror(errno));
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	free(data);
	return -1;
}

int cache_compact(struct cache *c, int force, struct cache_compact_info *info, char *err, size_t errlen)
{
	mdb_filehandle_t fd;
	uint64_t spare = 0;
	int rc;

	memset(info, 0, sizeof(*info));
	if ((rc = mdb_env_get_fd(c->env, &fd)) != 0 || (info->file_before = file_size(fd),
	                                                   rc = reclaimable(c, info->file_before, &spare)) != 0)
		return store_fail(c, "measuring free pages", rc, err, errlen);
	info->file_after = info->file_before;
	if (!force && spare * 2 <= info->file_before)
		return CACHE_COMPACT_NOT_NEEDED;
	if (store_use_exclusive(c) != 0) {
		struct reader_pids r = { .n = 0 };
		if (errno == EBADF) {
			snprintf(err, errlen, "cache %s: compaction: %s is not writable; fix its permissions", c->dir,
			         STORE_USE_LOCK);
			return -1;
		}
		mdb_reader_list(c->env, on_reader_line, &r);
		info->others = r.n ? r.n : 1;
		return CACHE_COMPACT_BUSY;
	}
	if (swap_in_copy(c, &info->file_after, err, errlen) != 0) {
		store_use_shared(c);
		return -1;
	}
	/* Nobody else maps the file (they would hold use.lock): this process drops the old inode's map and opens the
	 * new file, and LMDB, finding itself the only user, starts its lock file afresh. */
	mdb_env_close(c->env);
	c->env = NULL;
	rc = store_open_env(c, err, errlen);
	store_use_shared(c);
	return rc == 0 ? CACHE_COMPACTED : -1;
}
