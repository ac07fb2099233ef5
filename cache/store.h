/* store.h - internals shared by cache.c, verify.c and gc.c; nothing outside cache/ includes it. */
#ifndef SB_STORE_H
#define SB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "cache.h"

struct cache {
	MDB_env *env;
	MDB_dbi actions;   /* 16-byte action key -> action record */
	MDB_dbi blobs;     /* 16-byte digest -> output bytes, immutable */
	MDB_dbi logs;      /* build log name -> bytes (table "records") */
	MDB_dbi counters;  /* counter name -> 8-byte little-endian total */
	MDB_dbi claims;    /* 16-byte action key -> the process sending its request (claims.c) */
	MDB_dbi checked;   /* 16-byte output digest + 16-byte check stamp -> 1 byte: those bytes passed that check */
	char *dir;
	int use_fd;        /* DIR/use.lock, locked shared while env is open (see store_use_exclusive) */
	uint64_t resident_bound;   /* bytes of the map this process may keep mapped (resident.c); 0: no bound */
	uint64_t resident_base;    /* the process's file-backed resident bytes after the last drop */
};

/* The file every process holding the cache open locks shared (POSIX record lock), so compaction knows it is alone. */
#define STORE_USE_LOCK "use.lock"

/* The version byte that starts every action record this code writes. */
#define ACTION_VERSION 2

/* A transaction body's own failure, with its message already in err (never an LMDB or errno code). */
#define STORE_BODY_FAILED (-1)

/* Work done inside one write transaction: 0, STORE_BODY_FAILED, or an LMDB error code. */
typedef int store_body(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen);

/* Runs body in one write transaction, growing the map and running body again from the start when the map is full
 * (so body keeps every effect inside txn); 0, or -1 with err naming what failed. */
int store_write(struct cache *c, const char *what, store_body *body, void *arg, char *err, size_t errlen);

/* Counts one more change of the cache's epoch inside txn (see cache_epoch); 0 or an LMDB error code. */
int store_bump_epoch(struct cache *c, MDB_txn *txn);

/* Begins a read transaction, first adopting a map another process has grown; 0 or an LMDB error code. */
int store_begin_read(struct cache *c, MDB_txn **txn);

/* Opens c->env on c->dir (a fresh map of data.mdb) and its tables; 0, or -1 with err (c->env may be set: close it). */
int store_open_env(struct cache *c, char *err, size_t errlen);

/* Turns this process's shared use lock exclusive without waiting: 0 when no other process has the cache open,
 * -1 (errno EAGAIN/EACCES) when some does; the shared lock is kept either way. */
int store_use_exclusive(struct cache *c);

/* Turns the use lock back to shared (after store_use_exclusive). */
void store_use_shared(struct cache *c);

/* Sets the bound on the map's resident pages from SCRIPTBUILD_CACHE_RESIDENT (MiB; "off" or 0: none; 256 when unset);
 * 0, or -1 with err naming the variable when its value is not one. */
int store_resident_init(struct cache *c, char *err, size_t errlen);

/* After a commit (no transaction of this process open): measures the process's file-backed RSS and, past the bound,
 * drops this process's mappings of data.mdb's pages (they stay in the page cache). */
void store_resident_bound(struct cache *c);

/* Writes "cache DIR: what: LMDB's reason; what to do" into err; returns -1. */
int store_fail(const struct cache *c, const char *what, int rc, char *err, size_t errlen);

/* 0 and *m filled when v is a well-formed action record of version ACTION_VERSION (or 1, whose kind is unknown and
 * counts are 0); -1 otherwise. */
int store_decode_action(const MDB_val *v, struct action_meta *m);

/* The LMDB key of a digest. */
static inline MDB_val store_key(const struct digest *d)
{
	MDB_val v = { sizeof(d->bytes), (void *)d->bytes };
	return v;
}

#endif
