/* cache.h - the LMDB content-addressed store: actions (key -> output digest + metadata) and blobs (digest -> bytes).
 * Several processes may use one cache directory at once: LMDB's lock file serialises their writers. */
#ifndef SB_CACHE_H
#define SB_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"

struct cache;

/* What an action record says about the step that produced its output. */
struct action_meta {
	struct digest output;      /* digest of the output blob */
	char provider[32];
	char model[96];
	uint64_t tokens_in;
	uint64_t tokens_out;
	uint32_t duration_ms;      /* how long the step took when it ran */
	int64_t created;           /* unix seconds */
	int64_t last_used;         /* unix seconds, updated by cache_touch */
	int kind;                  /* the step kind as the engine numbers it; ACTION_KIND_UNKNOWN in older records */
	uint16_t corrections;      /* correction turns the answer took (not part of the key) */
	uint16_t max_tokens_retries; /* requests re-sent with more max_tokens */
	uint16_t dropped_quotes;   /* quotations dropped because they match no line of the script */
};

/* The kind of an action record written before records said it. */
#define ACTION_KIND_UNKNOWN 255

/* One finished step to store: the blob and the action that points at it. */
struct cache_put {
	struct digest key;
	struct action_meta meta;   /* meta.output must equal the digest of data; created/last_used filled by the cache when 0 */
	const void *data;
	size_t len;
};

/* What a remote cache tier did, as counted by the runs that used one. */
struct cache_remote_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t uploads;
	uint64_t refused;
	uint64_t errors;
	uint64_t bytes_down;
	uint64_t bytes_up;
};

struct cache_stats {
	uint64_t actions;
	uint64_t blobs;
	uint64_t blob_bytes;       /* sum of blob sizes */
	uint64_t file_bytes;       /* size of data.mdb on disk: it shrinks only when cache_compact replaces it */
	uint64_t hits;             /* counted over all runs by cache_add_counters */
	uint64_t misses;
	uint64_t tokens_saved_in;  /* tokens of the actions served from the cache */
	uint64_t tokens_saved_out;
	uint64_t logs;             /* per-script build logs (the LMDB table is still named "records") */
	struct cache_remote_stats remote;  /* over all runs, by cache_add_remote_counters */
};

/* Opens (creating if needed, mkdir -p, mode 0700) the cache in dir; 0 on success, -1 with a message naming dir, the
 * cause and what to do when dir is not a directory, is not accessible, or holds a damaged or foreign data.mdb. */
int cache_open(const char *dir, struct cache **out, char *err, size_t errlen);

/* 1 when dir holds a cache with something in it (a non-empty data.mdb), else 0: what --frozen needs before it opens
 * (and so creates) one, since an empty cache there means the CI restore step failed. */
int cache_present(const char *dir);

/* Closes the cache; NULL is fine. */
void cache_close(struct cache *c);

/* Default directory: $SCRIPTBUILD_CACHE, else $XDG_CACHE_HOME/scriptbuild (when absolute), else
 * $HOME/.cache/scriptbuild; malloc'd, NULL if none can be formed. */
char *cache_default_dir(void);

/* Seconds of resolution of an action's last use: a hit refreshes it only when it is older (a no-op run writes nothing),
 * so gc's least-recently-used order is exact to this much. */
#define CACHE_LAST_USED_RESOLUTION 3600

/* The cache's epoch: a count of the changes that can take away results a build relied on without a build's doing
 * (gc and verify --repair evicting them, verify finding them damaged). A record made in one epoch vouches for the
 * results only in that epoch. 0 with *epoch, or -1 with err. */
int cache_epoch(struct cache *c, uint64_t *epoch, char *err, size_t errlen);

/* Starts a new epoch (one write transaction); 0, or -1 with err. */
int cache_bump_epoch(struct cache *c, char *err, size_t errlen);

/* What a lookup found. */
enum cache_lookup { CACHE_ERROR = -1, CACHE_MISS = 0, CACHE_HIT = 1 };

/* Looks up key: CACHE_HIT with *meta (when meta is not NULL) and, when data is not NULL, a malloc'd copy of the blob
 * with a NUL after its len bytes; every hit re-hashes the blob, so a missing, damaged blob or an undecodable action
 * record is a CACHE_MISS; CACHE_ERROR on an LMDB error (err says what). */
enum cache_lookup cache_get(struct cache *c, const struct digest *key, struct action_meta *meta, char **data, size_t *len,
              char *err, size_t errlen);

/* cache_get, and when stamp and checked are given, *checked tells whether the blob's exact bytes were recorded by
 * cache_mark_checked with this stamp (a caller's name for a check and its version). */
enum cache_lookup cache_get_checked(struct cache *c, const struct digest *key, const struct digest *stamp,
                                    struct action_meta *meta, char **data, size_t *len, bool *checked, char *err,
                                    size_t errlen);

/* Records in one write transaction that the blobs with digests outputs[i] passed the check named stamps[i]; 0 or -1
 * with err. */
int cache_mark_checked(struct cache *c, const struct digest *outputs, const struct digest *stamps, size_t n,
                       char *err, size_t errlen);

/* Stores n finished steps in ONE write transaction, growing the map when full; a blob is written only when absent
 * (or damaged), each action record replaces any earlier one; 0, or -1 with err (also when an item's meta.output is
 * not the digest of its data: then nothing is stored). */
int cache_put_batch(struct cache *c, const struct cache_put *items, size_t n, char *err, size_t errlen);

/* Sets last_used of n actions to now in one write transaction (LRU for gc), skipping keys no longer present;
 * 0 or -1 with err. */
int cache_touch(struct cache *c, const struct digest *keys, size_t n, char *err, size_t errlen);

/* Adds a run's counters to the persistent totals shown by cache_stats; 0 or -1 with err. */
int cache_add_counters(struct cache *c, uint64_t hits, uint64_t misses, uint64_t tokens_saved_in,
                       uint64_t tokens_saved_out, char *err, size_t errlen);

/* Adds a run's remote cache counters to the persistent totals shown by cache_stats; 0 or -1 with err. */
int cache_add_remote_counters(struct cache *c, const struct cache_remote_stats *add, char *err, size_t errlen);

/* Reads the build record stored under name (malloc'd bytes with a NUL after them): 1 found, 0 none, -1 error. */
int cache_log_get(struct cache *c, const char *name, char **data, size_t *len, char *err, size_t errlen);

/* Replaces the build record stored under name (1 to 511 bytes: an LMDB key); 0 or -1 with err. */
int cache_log_put(struct cache *c, const char *name, const void *data, size_t len, char *err, size_t errlen);

/* What a claim on a request's key says to this process. */
enum cache_claim { CLAIM_ERROR = -1, CLAIM_FREE = 0, CLAIM_HELD = 1 };

/* In ONE write transaction, claims for this process (pid, host name) each of the n keys that no live claim of another
 * process holds, until now + lease_ms; held[i] = 1 where another process's claim holds keys[i] or its result is
 * stored already (then it is left alone: read it), else 0. A claim is live while its lease runs and, on this host, while its owner's pid exists. Storing a
 * key's result (cache_put_batch) removes its claim. 0, or -1 with err. */
int cache_claim(struct cache *c, const struct digest *keys, size_t n, int64_t lease_ms, unsigned char *held,
                char *err, size_t errlen);

/* CLAIM_HELD when a live claim of another process holds key, CLAIM_FREE when none does, CLAIM_ERROR with err. */
enum cache_claim cache_claim_held(struct cache *c, const struct digest *key, char *err, size_t errlen);

/* Removes this process's claims on the n keys (not another's that replaced an expired one), one write transaction;
 * 0, or -1 with err. */
int cache_release(struct cache *c, const struct digest *keys, size_t n, char *err, size_t errlen);
/* Records the message batch id (submitted, not yet collected) with data describing it, replacing any record of it;
 * 0 or -1 with err. */
int cache_batch_put(struct cache *c, const char *id, const void *data, size_t len, char *err, size_t errlen);

/* Calls fn for every recorded message batch in id order, with copies valid during the call (data NUL-terminated),
 * inside one read transaction (fn must not use the cache); fn returns 0 to go on. 0, or -1 with err. */
int cache_batch_each(struct cache *c, int (*fn)(void *ctx, const char *id, const char *data, size_t len), void *ctx,
                     char *err, size_t errlen);

/* Removes the record of message batch id (its results are collected, or it was cancelled); absent is fine. 0, or -1
 * with err. */
int cache_batch_forget(struct cache *c, const char *id, char *err, size_t errlen);

/* Fills *st; 0 or -1 with err. */
int cache_stats(struct cache *c, struct cache_stats *st, char *err, size_t errlen);

/* What cache_foreach shows of one action: its key, its record and its blob (valid during the call only). */
struct cache_entry {
	struct digest key;
	struct action_meta meta;
	const void *data;
	size_t len;
};

/* Calls fn for every action whose record decodes and whose blob is present, in key order, inside one read
 * transaction (fn must not use the cache); fn returns 0 to go on. 0, or -1 with err on an LMDB error. */
int cache_foreach(struct cache *c, int (*fn)(void *ctx, const struct cache_entry *e), void *ctx, char *err,
                  size_t errlen);

/* Removes the n actions in one write transaction (their blobs go when no other action uses them), so the steps run
 * again; *removed (may be NULL) counts those that existed. 0, or -1 with err. */
int cache_evict(struct cache *c, const struct digest *keys, size_t n, size_t *removed, char *err, size_t errlen);

/* Re-hashes every blob and checks every action record decodes and points to a present blob; calls report once per
 * problem with a line naming the hex key and what is wrong. Returns the number of problems, or -1 on an LMDB error. */
long cache_verify(struct cache *c, void (*report)(void *ctx, const char *problem), void *ctx, char *err, size_t errlen);

/* In one write transaction: drops actions that cannot be served (undecodable, blob missing), evicts least recently
 * used actions (by last_used, then created) until the blobs still used total <= max_bytes, then deletes blobs no
 * action uses; build logs are kept. Sets *evicted to the number of actions removed. 0 or -1 with err. */
int cache_gc(struct cache *c, uint64_t max_bytes, uint64_t *evicted, char *err, size_t errlen);

/* What cache_compact did. */
enum cache_compaction {
	CACHE_COMPACT_NOT_NEEDED = 0, /* less than half of data.mdb is free pages: nothing worth returning */
	CACHE_COMPACTED = 1,          /* data.mdb was replaced by a compacted copy */
	CACHE_COMPACT_BUSY = 2        /* other processes have the cache open: left as it is */
};

/* Sizes around a compaction; others counts the processes that kept it from happening (at least 1 when busy). */
struct cache_compact_info {
	uint64_t file_before, file_after;
	unsigned others;
};

/* When more than half of data.mdb is free pages (after a gc), replaces it by a compacted copy (LMDB's copy with
 * MDB_CP_COMPACT into a temp file in the cache directory, fsync, rename) and maps the new file, but only when no
 * other process has the cache open (every process holds use.lock shared; this needs it exclusive, without waiting),
 * since a process still mapping the old file would go on writing into the unlinked inode. force compacts whenever
 * it can. An enum cache_compaction, or -1 with err (data.mdb unchanged). */
int cache_compact(struct cache *c, int force, struct cache_compact_info *info, char *err, size_t errlen);

#endif
