/* claims.c - "this process is sending the request for this key": claims in the cache, so that processes sharing a
 * cache do not pay twice for one request. A claim holds the owner's pid and host and a lease; a claim whose owner
 * is dead (same host, no such process) or whose lease ran out counts for nothing, so a crash never blocks anyone
 * longer than a lease. */
#include "store.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Claim record: pid(8) expires_ms(8) host(the rest, at most HOST_MAX). */
#define HOST_MAX 255
#define CLAIM_FIXED 16

struct owner {
	int64_t pid;
	int64_t expires_ms;
	char host[HOST_MAX + 1];
};

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void put_i64(unsigned char *p, int64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)((uint64_t)v >> (8 * i));
}

static int64_t get_i64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return (int64_t)v;
}

static void this_process(struct owner *me)
{
	memset(me, 0, sizeof(*me));
	me->pid = (int64_t)getpid();
	if (gethostname(me->host, HOST_MAX) != 0)
		strcpy(me->host, "?");
	me->host[HOST_MAX] = '\0';
}

static int decode(const MDB_val *v, struct owner *o)
{
	if (v->mv_size < CLAIM_FIXED || v->mv_size > CLAIM_FIXED + HOST_MAX)
		return -1;
	const unsigned char *p = v->mv_data;
	o->pid = get_i64(p);
	o->expires_ms = get_i64(p + 8);
	memcpy(o->host, p + CLAIM_FIXED, v->mv_size - CLAIM_FIXED);
	o->host[v->mv_size - CLAIM_FIXED] = '\0';
	return 0;
}

/* Whether the claim in v binds a process other than me now: well formed, not expired, not mine, and its owner alive
 * as far as this host can tell (another host's owner is trusted until its lease ends). */
static int binds_others(const MDB_val *v, const struct owner *me, int64_t now)
{
	struct owner o;
	if (decode(v, &o) < 0 || o.expires_ms <= now)
		return 0;
	if (strcmp(o.host, me->host) != 0)
		return 1;
	if (o.pid == me->pid)
		return 0;
	return o.pid > 0 && o.pid <= INT32_MAX && (kill((pid_t)o.pid, 0) == 0 || errno == EPERM);
}

struct claim_args {
	const struct digest *keys;
	size_t n;
	int64_t lease_ms;
	unsigned char *held;
	struct owner me;
};

static int claim_body(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen)
{
	struct claim_args *a = arg;
	int64_t now = now_ms();
	unsigned char rec[CLAIM_FIXED + HOST_MAX];
	size_t hlen = strlen(a->me.host);
	put_i64(rec, a->me.pid);
	put_i64(rec + 8, now + a->lease_ms);
	memcpy(rec + CLAIM_FIXED, a->me.host, hlen);
	(void)err, (void)errlen;
	for (size_t i = 0; i < a->n; i++) {
		MDB_val key = store_key(&a->keys[i]), val;
		int rc = mdb_get(txn, c->claims, &key, &val);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return rc;
		a->held[i] = rc == 0 && binds_others(&val, &a->me, now);
		if (a->held[i])
			continue;
		/* Stored since the caller looked: it is to be read, not asked for again. */
		MDB_val stored;
		if ((rc = mdb_get(txn, c->actions, &key, &stored)) == 0) {
			a->held[i] = 1;
			continue;
		}
		if (rc != MDB_NOTFOUND)
			return rc;
		val.mv_size = CLAIM_FIXED + hlen;
		val.mv_data = rec;
		if ((rc = mdb_put(txn, c->claims, &key, &val, 0)) != 0)
			return rc;
	}
	return 0;
}

int cache_claim(struct cache *c, const struct digest *keys, size_t n, int64_t lease_ms, unsigned char *held,
                char *err, size_t errlen)
{
	struct claim_args a = { keys, n, lease_ms, held, { 0, 0, "" } };
	if (!n)
		return 0;
	this_process(&a.me);
	return store_write(c, "claiming requests", claim_body, &a, err, errlen);
}

enum cache_claim cache_claim_held(struct cache *c, const struct digest *key, char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_val k = store_key(key), v;
	struct owner me;
	int rc = store_begin_read(c, &txn);
	if (rc) {
		store_fail(c, "reading claims", rc, err, errlen);
		return CLAIM_ERROR;
	}
	this_process(&me);
	rc = mdb_get(txn, c->claims, &k, &v);
	enum cache_claim held = rc == 0 && binds_others(&v, &me, now_ms()) ? CLAIM_HELD : CLAIM_FREE;
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		store_fail(c, "reading claims", rc, err, errlen);
		return CLAIM_ERROR;
	}
	return held;
}

struct release_args {
	const struct digest *keys;
	size_t n;
	struct owner me;
};

static int release_body(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen)
{
	const struct release_args *a = arg;
	(void)err, (void)errlen;
	for (size_t i = 0; i < a->n; i++) {
		MDB_val key = store_key(&a->keys[i]), val;
		struct owner o;
		int rc = mdb_get(txn, c->claims, &key, &val);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return rc;
		/* Only our own: another process may have taken over an expired claim of ours. */
		if (decode(&val, &o) == 0 && (o.pid != a->me.pid || strcmp(o.host, a->me.host) != 0))
			continue;
		if ((rc = mdb_del(txn, c->claims, &key, NULL)) != 0)
			return rc;
	}
	return 0;
}

int cache_release(struct cache *c, const struct digest *keys, size_t n, char *err, size_t errlen)
{
	struct release_args a = { keys, n, { 0, 0, "" } };
	if (!n)
		return 0;
	this_process(&a.me);
	return store_write(c, "releasing claims", release_body, &a, err, errlen);
}
