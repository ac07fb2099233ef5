/* cache.c - the LMDB environment (opening it, growing its map) and reading and writing its four tables. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Small on purpose: a cache only takes the space it needs, and growth (doubling) is exercised early. */
#define INITIAL_MAP_BYTES ((size_t)64 << 20)
/* One slot per process using the cache at once (no threads); LMDB's default of 126 is tight for many CI jobs. */
#define MAX_READERS 512
#define MAX_DBS 8

/* A plain key in LMDB's main table marks the environment as ours, so another program's data.mdb is refused. */
#define FORMAT_KEY "scriptbuild-cache-format"
#define FORMAT_VERSION "1"

/* Action record, version 2, little-endian:
 * version(1) output(16) tokens_in(8) tokens_out(8) duration_ms(4) created(8) last_used(8)
 * provider_len(1) provider model_len(1) model kind(1) corrections(2) max_tokens_retries(2) dropped_quotes(2).
 * Version 1 ends after model: it is still read (kind unknown), so an old cache is re-validated, not thrown away. */
#define ACTION_FIXED (1 + 16 + 8 + 8 + 4 + 8 + 8 + 1 + 1)
#define ACTION_TAIL (1 + 2 + 2 + 2)
#define ACTION_MAX (ACTION_FIXED + ACTION_TAIL + sizeof(((struct action_meta *)0)->provider) + \
                    sizeof(((struct action_meta *)0)->model))

static const char *const counter_names[] = { "hits", "misses", "tokens_saved_in", "tokens_saved_out" };
enum { COUNTERS = sizeof(counter_names) / sizeof(counter_names[0]) };
static const char *const remote_counter_names[] = { "remote_hits", "remote_misses", "remote_uploads",
                                                    "remote_refused", "remote_errors", "remote_bytes_down",
                                                    "remote_bytes_up" };
enum { REMOTE_COUNTERS = sizeof(remote_counter_names) / sizeof(remote_counter_names[0]) };

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *advice(int rc)
{
	switch (rc) {
	case ENOSPC:
		return "free disk space or choose another cache directory";
	case EACCES:
	case EPERM:
	case EROFS:
		return "fix its permissions or choose another cache directory";
	case MDB_READERS_FULL:
		return "too many processes share this cache; wait for some to finish";
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INCOMPATIBLE:
		return "remove it or choose another cache directory";
	default:
		return "check the cache directory or choose another cache directory";
	}
}

/* LMDB reports a short write as EIO ("which error code?" says its source): on a full volume that is what a write
 * of the cache gets, so a full volume is told apart by its free space and named as such. */
static int volume_full(const char *dir)
{
	struct statvfs vfs;
	return statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < ((uint64_t)1 << 20);
}

int store_fail(const struct cache *c, const char *what, int rc, char *err, size_t errlen)
{
	if (rc == EIO && volume_full(c->dir))
		rc = ENOSPC;
	set_err(err, errlen, "cache %s: %s: %s; %s", c->dir, what, mdb_strerror(rc), advice(rc));
	return -1;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Writes the record into buf (ACTION_MAX bytes) and returns its length. */
static size_t encode_action(const struct action_meta *m, unsigned char *buf)
{
	size_t provider_len = strnlen(m->provider, sizeof(m->provider) - 1);
	size_t model_len = strnlen(m->model, sizeof(m->model) - 1);
	unsigned char *p = buf;

	*p++ = ACTION_VERSION;
	memcpy(p, m->output.bytes, 16), p += 16;
	put_le(p, m->tokens_in, 8), p += 8;
	put_le(p, m->tokens_out, 8), p += 8;
	put_le(p, m->duration_ms, 4), p += 4;
	put_le(p, (uint64_t)m->created, 8), p += 8;
	put_le(p, (uint64_t)m->last_used, 8), p += 8;
	*p++ = (unsigned char)provider_len;
	memcpy(p, m->provider, provider_len), p += provider_len;
	*p++ = (unsigned char)model_len;
	memcpy(p, m->model, model_len), p += model_len;
	*p++ = (unsigned char)(m->kind >= 0 && m->kind < ACTION_KIND_UNKNOWN ? m->kind : ACTION_KIND_UNKNOWN);
	put_le(p, m->corrections, 2), p += 2;
	put_le(p, m->max_tokens_retries, 2), p += 2;
	put_le(p, m->dropped_quotes, 2), p += 2;
	return (size_t)(p - buf);
}

int store_decode_action(const MDB_val *v, struct action_meta *m)
{
	const unsigned char *p = v->mv_data, *end = p + v->mv_size;
	size_t provider_len, model_len;

	if (v->mv_size < ACTION_FIXED || (p[0] != ACTION_VERSION && p[0] != 1))
		return -1;
	size_t tail = p[0] == 1 ? 0 : ACTION_TAIL;
	memset(m, 0, sizeof(*m));
	m->kind = ACTION_KIND_UNKNOWN;
	p++;
	memcpy(m->output.bytes, p, 16), p += 16;
	m->tokens_in = get_le(p, 8), p += 8;
	m->tokens_out = get_le(p, 8), p += 8;
	m->duration_ms = (uint32_t)get_le(p, 4), p += 4;
	m->created = (int64_t)get_le(p, 8), p += 8;
	m->last_used = (int64_t)get_le(p, 8), p += 8;
	provider_len = *p++;
	if (provider_len >= sizeof(m->provider) || (size_t)(end - p) < provider_len + 1)
		return -1;
	memcpy(m->provider, p, provider_len), p += provider_len;
	model_len = *p++;
	if (model_len >= sizeof(m->model) || (size_t)(end - p) != model_len + tail)
		return -1;
	memcpy(m->model, p, model_len), p += model_len;
	if (tail) {
		m->kind = *p++;
		m->corrections = (uint16_t)get_le(p, 2), p += 2;
		m->max_tokens_retries = (uint16_t)get_le(p, 2), p += 2;
		m->dropped_quotes = (uint16_t)get_le(p, 2);
	}
	return 0;
}

static int grow_map(struct cache *c)
{
	MDB_envinfo info;
	int rc = mdb_env_info(c->env, &info);

	if (rc)
		return rc;
	if (info.me_mapsize > SIZE_MAX / 2)
		return MDB_MAP_FULL;
	return mdb_env_set_mapsize(c->env, info.me_mapsize * 2);
}

int store_begin_read(struct cache *c, MDB_txn **txn)
{
	for (;;) {
		int rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, txn);
		/* Another process grew the file past our map: adopt its size. */
		if (rc != MDB_MAP_RESIZED)
			return rc;
		rc = mdb_env_set_mapsize(c->env, 0);
		if (rc)
			return rc;
	}
}

/* On MDB_MAP_FULL LMDB leaves the transaction unusable: it is aborted whole, the map doubled, the body re-run. */
int store_write(struct cache *c, const char *what, store_body *body, void *arg, char *err, size_t errlen)
{
	for (;;) {
		MDB_txn *txn;
		int rc = mdb_txn_begin(c->env, NULL, 0, &txn);

		if (rc == MDB_MAP_RESIZED) {
			rc = mdb_env_set_mapsize(c->env, 0);
			if (rc == 0)
				continue;
		}
		if (rc)
			return store_fail(c, what, rc, err, errlen);
		rc = body(c, txn, arg, err, errlen);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc == MDB_MAP_FULL) {
			rc = grow_map(c);
			if (rc == 0)
				continue;
		}
		if (rc == STORE_BODY_FAILED)
			return -1;
		if (rc)
			return store_fail(c, what, rc, err, errlen);
		/* A commit costs an fsync, so looking at the resident size after each is free by comparison. */
		store_resident_bound(c);
		return 0;
	}
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (s) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

/* mkdir -p, with 0700 for each directory it creates: a cache holds a user's scripts and analyses. */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
	char *path = strdup(dir);
	struct stat st;

	if (!path || !*path) {
		set_err(err, errlen, !path ? "cache %s: out of memory" : "cache directory name is empty%s", dir);
		free(path);
		return -1;
	}
	for (char *p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			set_err(err, errlen, "cache %s: cannot create directory %s: %s; choose another cache directory", dir, path,
			        strerror(errno));
			free(path);
			return -1;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(path);
	if (stat(dir, &st) != 0) {
		set_err(err, errlen, "cache %s: %s; choose another cache directory", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		set_err(err, errlen, "cache %s: exists and is not a directory; remove it or choose another cache directory", dir);
		return -1;
	}
	return 0;
}

static int open_tables(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen)
{
	MDB_dbi main_dbi;
	MDB_val key = { strlen(FORMAT_KEY), FORMAT_KEY }, val;
	MDB_stat st;
	int rc;

	(void)arg;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) != 0)
		return rc;
	rc = mdb_get(txn, main_dbi, &key, &val);
	if (rc == 0 && (val.mv_size != strlen(FORMAT_VERSION) || memcmp(val.mv_data, FORMAT_VERSION, val.mv_size))) {
		set_err(err, errlen, "cache %s: data.mdb has a cache format this scriptbuild does not read (it reads "
		        "format %s); remove it or choose another cache directory", c->dir, FORMAT_VERSION);
		return STORE_BODY_FAILED;
	}
	if (rc == MDB_NOTFOUND) {
		if ((rc = mdb_stat(txn, main_dbi, &st)) != 0)
			return rc;
		if (st.ms_entries) {
			set_err(err, errlen, "cache %s: data.mdb is another program's LMDB database, not a scriptbuild "
			        "cache; remove it or choose another cache directory", c->dir);
			return STORE_BODY_FAILED;
		}
		val.mv_size = strlen(FORMAT_VERSION);
		val.mv_data = FORMAT_VERSION;
		rc = mdb_put(txn, main_dbi, &key, &val, 0);
	}
	if (rc)
		return rc;
	if ((rc = mdb_dbi_open(txn, "actions", MDB_CREATE, &c->actions)) != 0 ||
	    (rc = mdb_dbi_open(txn, "blobs", MDB_CREATE, &c->blobs)) != 0 ||
	    (rc = mdb_dbi_open(txn, "records", MDB_CREATE, &c->logs)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, "counters", MDB_CREATE, &c->counters)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, "claims", MDB_CREATE, &c->claims)) != 0)
		return rc;
	return mdb_dbi_open(txn, "checked", MDB_CREATE, &c->checked);
}

/* Sets the lock on use.lock: F_RDLCK (waits while a compaction holds it), F_WRLCK (never waits) or F_UNLCK;
 * 0 or -1 with errno. */
static int use_lock(struct cache *c, short type)
{
	struct flock lk = { .l_type = type, .l_whence = SEEK_SET };
	int rc;

	while ((rc = fcntl(c->use_fd, type == F_RDLCK ? F_SETLKW : F_SETLK, &lk)) != 0 && errno == EINTR)
		;
	return rc;
}

/* Opens DIR/use.lock and takes it shared: every process holds it while it has data.mdb mapped, so that compaction
 * (which replaces data.mdb) can tell when nobody else does. */
static int open_use_lock(struct cache *c, char *err, size_t errlen)
{
	char *path = join(c->dir, "/" STORE_USE_LOCK);

	c->use_fd = path ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
	/* A shared lock needs only read access (compaction, which needs more, then counts as impossible). */
	if (c->use_fd < 0 && path && errno == EACCES)
		c->use_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->use_fd < 0 || use_lock(c, F_RDLCK) != 0) {
		set_err(err, errlen, "cache %s: cannot lock %s: %s; fix its permissions or choose another cache directory",
		        c->dir, STORE_USE_LOCK, path ? strerror(errno) : "out of memory");
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

int store_use_exclusive(struct cache *c)
{
	return use_lock(c, F_WRLCK);
}

void store_use_shared(struct cache *c)
{
	use_lock(c, F_RDLCK);
}

int store_open_env(struct cache *c, char *err, size_t errlen)
{
	const char *dir = c->dir;
	MDB_envinfo info;
	MDB_stat ms;
	mdb_filehandle_t fd;
	struct stat fst;
	int rc;

	if ((rc = mdb_env_create(&c->env)) != 0) {
		c->env = NULL;
		return store_fail(c, "cannot create the LMDB environment", rc, err, errlen);
	}
	mdb_env_set_maxdbs(c->env, MAX_DBS);
	mdb_env_set_maxreaders(c->env, MAX_READERS);
	/* No map size before opening, so an existing cache keeps the size it has grown to. */
	if ((rc = mdb_env_open(c->env, dir, 0, 0600)) != 0) {
		return store_fail(c, rc == MDB_INVALID ? "data.mdb is damaged or not an LMDB file" :
		                  rc == MDB_VERSION_MISMATCH ? "data.mdb was written by an incompatible LMDB version" :
		                  "cannot open", rc, err, errlen);
	}
	/* Frees the reader slots of processes that died while reading. */
	mdb_reader_check(c->env, NULL);
	if ((rc = mdb_env_info(c->env, &info)) != 0 ||
	    (info.me_mapsize < INITIAL_MAP_BYTES && (rc = mdb_env_set_mapsize(c->env, INITIAL_MAP_BYTES)) != 0)) {
		return store_fail(c, "cannot map data.mdb", rc, err, errlen);
	}
	/* A data.mdb cut short would fault (SIGBUS) on the first read of a page past its end: refuse it here. */
	if (mdb_env_get_fd(c->env, &fd) == 0 && mdb_env_stat(c->env, &ms) == 0 && fstat(fd, &fst) == 0 &&
	    (uint64_t)fst.st_size < ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize) {
		set_err(err, errlen, "cache %s: data.mdb is truncated (%lld bytes, but its pages end at byte %llu); remove "
		        "it or choose another cache directory", dir, (long long)fst.st_size,
		        (unsigned long long)((uint64_t)info.me_last_pgno + 1) * ms.ms_psize);
		return -1;
	}
	return store_write(c, "opening its tables", open_tables, NULL, err, errlen);
}

int cache_open(const char *dir, struct cache **out, char *err, size_t errlen)
{
	struct cache *c;

	*out = NULL;
	if (make_dirs(dir, err, errlen))
		return -1;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->dir = strdup(dir))) {
		free(c);
		set_err(err, errlen, "cache %s: out of memory", dir);
		return -1;
	}
	c->use_fd = -1;
	/* The shared lock comes before the map: a compaction in progress is waited for, and its file is the one mapped. */
	if (open_use_lock(c, err, errlen) || store_open_env(c, err, errlen) || store_resident_init(c, err, errlen)) {
		cache_close(c);
		return -1;
	}
	*out = c;
	return 0;
}

void cache_close(struct cache *c)
{
	if (!c)
		return;
	if (c->env)
		mdb_env_close(c->env);
	/* Closing the descriptor drops the lock, after the map is gone. */
	if (c->use_fd >= 0)
		close(c->use_fd);
	free(c->dir);
	free(c);
}

int cache_present(const char *dir)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

char *cache_default_dir(void)
{
	const char *v;

	if ((v = getenv("SCRIPTBUILD_CACHE")) && *v)
		return strdup(v);
	/* The XDG spec says to ignore a relative XDG_CACHE_HOME. */
	if ((v = getenv("XDG_CACHE_HOME")) && *v == '/')
		return join(v, "/scriptbuild");
	if ((v = getenv("HOME")) && *v)
		return join(v, "/.cache/scriptbuild");
	return NULL;
}

/* Reads the blob for m into a malloc'd copy when data is not NULL; 1 when present and intact, 0 when missing or
 * damaged, -1 out of memory. */
static int read_blob(struct cache *c, MDB_txn *txn, const struct action_meta *m, char **data, size_t *len)
{
	MDB_val key = store_key(&m->output), val;
	struct digest actual;

	if (mdb_get(txn, c->blobs, &key, &val) != 0)
		return 0;
	digest_bytes(val.mv_data, val.mv_size, &actual);
	if (!digest_equal(&actual, &m->output))
		return 0;
	if (data) {
		/* One spare NUL so callers may treat a text blob as a string. */
		*data = malloc(val.mv_size + 1);
		if (!*data)
			return -1;
		if (val.mv_size)
			memcpy(*data, val.mv_data, val.mv_size);
		(*data)[val.mv_size] = '\0';
	}
	if (len)
		*len = val.mv_size;
	return 1;
}

/* The key of a "checked" record: the output's digest, then the stamp of the check it passed. */
static void checked_key(const struct digest *output, const struct digest *stamp, unsigned char key[32])
{
	memcpy(key, output->bytes, 16);
	memcpy(key + 16, stamp->bytes, 16);
}

enum cache_lookup cache_get_checked(struct cache *c, const struct digest *key, const struct digest *stamp,
                                    struct action_meta *meta, char **data, size_t *len, bool *checked, char *err,
                                    size_t errlen)
{
	MDB_txn *txn;
	MDB_val k = store_key(key), v;
	struct action_meta m;
	int rc, found;

	if (data)
		*data = NULL;
	if (checked)
		*checked = false;
	if ((rc = store_begin_read(c, &txn)) != 0) {
		store_fail(c, "reading", rc, err, errlen);
		return CACHE_ERROR;
	}
	rc = mdb_get(txn, c->actions, &k, &v);
	if (rc == MDB_NOTFOUND || (rc == 0 && store_decode_action(&v, &m) != 0)) {
		mdb_txn_abort(txn);
		return CACHE_MISS;
	}
	if (rc) {
		mdb_txn_abort(txn);
		store_fail(c, "reading an action", rc, err, errlen);
		return CACHE_ERROR;
	}
	found = read_blob(c, txn, &m, data, len);
	if (found > 0 && stamp && checked) {
		/* read_blob just re-hashed the bytes: a record for their digest speaks about exactly these bytes. */
		unsigned char ck[32];
		MDB_val ckv = { sizeof ck, ck }, ignored;
		checked_key(&m.output, stamp, ck);
		*checked = mdb_get(txn, c->checked, &ckv, &ignored) == 0;
	}
	mdb_txn_abort(txn);
	if (found < 0) {
		set_err(err, errlen, "cache %s: out of memory reading a blob", c->dir);
		return CACHE_ERROR;
	}
	if (!found)
		return CACHE_MISS;
	if (meta)
		*meta = m;
	return CACHE_HIT;
}

enum cache_lookup cache_get(struct cache *c, const struct digest *key, struct action_meta *meta, char **data,
                            size_t *len, char *err, size_t errlen)
{
	return cache_get_checked(c, key, NULL, meta, data, len, NULL, err, errlen);
}

struct checked_args {
	const struct digest *outputs, *stamps;
	size_t n;
};

static int checked_body(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen)
{
	const struct checked_args *a = arg;

	(void)err, (void)errlen;
	for (size_t i = 0; i < a->n; i++) {
		unsigned char ck[32];
		MDB_val k = { sizeof ck, ck }, v = { 1, ck };
		checked_key(&a->outputs[i], &a->stamps[i], ck);
		int rc = mdb_put(txn, c->checked, &k, &v, 0);
		if (rc)
			return rc;
	}
	return 0;
}

int cache_mark_checked(struct cache *c, const struct digest *outputs, const struct digest *stamps, size_t n,
                       char *err, size_t errlen)
{
	struct checked_args a = { outputs, stamps, n };

	if (!n)
		return 0;
	return store_write(c, "recording checked results", checked_body, &a, err, errlen);
}

struct put_args {
	const struct cache_put *items;
	size_t n;
	int64_t now;
};

static int put_body(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen)
{
	const struct put_args *a = arg;

	(void)err, (void)errlen;
	for (size_t i = 0; i < a->n; i++) {
		const struct cache_put *it = &a->items[i];
		struct action_meta m = it->meta;
		unsigned char rec[ACTION_MAX];
		MDB_val bkey = store_key(&m.output), bval = { it->len, (void *)it->data };
		MDB_val akey = store_key(&it->key), aval;
		int rc = mdb_put(txn, c->blobs, &bkey, &bval, MDB_NOOVERWRITE);

		/* Content addressing: equal bytes are stored once. Bytes that differ under the same digest can only be
		 * damage (the new ones were just hashed), so they are replaced: a re-run repairs what verify reports. */
		if (rc == MDB_KEYEXIST) {
			rc = 0;
			if (bval.mv_size != it->len || (it->len && memcmp(bval.mv_data, it->data, it->len))) {
				bval.mv_size = it->len;
				bval.mv_data = (void *)it->data;
				rc = mdb_put(txn, c->blobs, &bkey, &bval, 0);
			}
		}
		if (rc)
			return rc;
		if (!m.created)
			m.created = a->now;
		if (!m.last_used)
			m.last_used = a->now;
		aval.mv_data = rec;
		aval.mv_size = encode_action(&m, rec);
		if ((rc = mdb_put(txn, c->actions, &akey, &aval, 0)) != 0)
			return rc;
		/* The result is here: whoever waits on a claim of its request takes it from now on. */
		if ((rc = mdb_del(txn, c->claims, &akey, NULL)) != 0 && rc != MDB_NOTFOUND)
			return rc;
	}
	return 0;
}

int cache_put_batch(struct cache *c, const struct cache_put *items, size_t n, char *err, size_t errlen)
{
	struct put_args a = { items, n, (int64_t)time(NULL) };

	for (size_t i = 0; i < n; i++) {
		struct digest actual;
		digest_bytes(items[i].data, items[i].len, &actual);
		if (!digest_equal(&actual, &items[i].meta.output)) {
			char hex[DIGEST_HEX_LEN + 1];
			digest_to_hex(&items[i].key, hex);
			set_err(err, errlen, "cache %s: action %s: output digest does not match its %zu bytes; nothing of "
			        "this batch was stored", c->dir, hex, items[i].len);
			return -1;
		}
	}
	if (!n)
		return 0;
	return store_write(c, "storing results", put_body, &a, err, errlen);
}

struct touch_args {
	const struct digest *keys;
	size_t n;
	int64_t now;
};

static int touch_body(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen)
{
	const struct touch_args *a = arg;

	(void)err, (void)errlen;
	for (size_t i = 0; i < a->n; i++) {
		MDB_val k = store_key(&a->keys[i]), v;
		struct action_meta m;
		unsigned char rec[ACTION_MAX];
		int rc = mdb_get(txn, c->actions, &k, &v);

		/* Gone (another process ran gc) or unreadable: nothing to keep alive. */
		if (rc == MDB_NOTFOUND || (rc == 0 && store_decode_action(&v, &m) != 0))
			continue;
		if (rc)
			return rc;
		m.last_used = a->now;
		v.mv_data = rec;
		v.mv_size = encode_action(&m, rec);
		if ((rc = mdb_put(txn, c->actions, &k, &v, 0)) != 0)
			return rc;
	}
	return 0;
}

int cache_touch(struct cache *c, const struct digest *keys, size_t n, char *err, size_t errlen)
{
	struct touch_args a = { keys, n, (int64_t)time(NULL) };

	if (!n)
		return 0;
	return store_write(c, "marking results used", touch_body, &a, err, errlen);
}

static MDB_val name_val(const char *name)
{
	MDB_val v = { strlen(name), (void *)name };
	return v;
}

/* 0 with *value (0 when absent or malformed), or an LMDB error. */
static int read_counter(struct cache *c, MDB_txn *txn, const char *name, uint64_t *value)
{
	MDB_val k = name_val(name), v;
	int rc = mdb_get(txn, c->counters, &k, &v);

	*value = rc == 0 && v.mv_size == 8 ? get_le(v.mv_data, 8) : 0;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

#define EPOCH_COUNTER "epoch"

int store_bump_epoch(struct cache *c, MDB_txn *txn)
{
	uint64_t epoch;
	unsigned char le[8];
	MDB_val k = name_val(EPOCH_COUNTER), v = { sizeof le, le };
	int rc = read_counter(c, txn, EPOCH_COUNTER, &epoch);

	if (rc)
		return rc;
	put_le(le, epoch + 1, 8);
	return mdb_put(txn, c->counters, &k, &v, 0);
}

static int bump_body(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen)
{
	(void)arg, (void)err, (void)errlen;
	return store_bump_epoch(c, txn);
}

int cache_bump_epoch(struct cache *c, char *err, size_t errlen)
{
	return store_write(c, "starting a new epoch", bump_body, NULL, err, errlen);
}

int cache_epoch(struct cache *c, uint64_t *epoch, char *err, size_t errlen)
{
	MDB_txn *txn;
	int rc = store_begin_read(c, &txn);

	if (rc == 0) {
		rc = read_counter(c, txn, EPOCH_COUNTER, epoch);
		mdb_txn_abort(txn);
	}
	if (rc) {
		store_fail(c, "reading the epoch", rc, err, errlen);
		return -1;
	}
	return 0;
}

struct counter_add {
	const char *const *names;
	const uint64_t *add;
	int n;
};

static int counters_body(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen)
{
	const struct counter_add *a = arg;
	const uint64_t *add = a->add;

	(void)err, (void)errlen;
	for (int i = 0; i < a->n; i++) {
		MDB_val k = name_val(a->names[i]), v;
		unsigned char le[8];
		uint64_t total;
		int rc = read_counter(c, txn, a->names[i], &total);

		if (rc)
			return rc;
		put_le(le, total + add[i], 8);
		v.mv_size = sizeof(le);
		v.mv_data = le;
		if ((rc = mdb_put(txn, c->counters, &k, &v, 0)) != 0)
			return rc;
	}
	return 0;
}

int cache_add_counters(struct cache *c, uint64_t hits, uint64_t misses, uint64_t tokens_saved_in,
                       uint64_t tokens_saved_out, char *err, size_t errlen)
{
	uint64_t add[COUNTERS] = { hits, misses, tokens_saved_in, tokens_saved_out };
	struct counter_add a = { counter_names, add, COUNTERS };

	return store_write(c, "updating counters", counters_body, &a, err, errlen);
}

int cache_add_remote_counters(struct cache *c, const struct cache_remote_stats *add, char *err, size_t errlen)
{
	uint64_t values[REMOTE_COUNTERS] = { add->hits, add->misses, add->uploads, add->refused, add->errors,
	                                     add->bytes_down, add->bytes_up };
	struct counter_add a = { remote_counter_names, values, REMOTE_COUNTERS };

	return store_write(c, "updating counters", counters_body, &a, err, errlen);
}

int cache_log_get(struct cache *c, const char *name, char **data, size_t *len, char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_val k = name_val(name), v;
	int rc;

	*data = NULL;
	*len = 0;
	if ((rc = store_begin_read(c, &txn)) != 0)
		return store_fail(c, "reading", rc, err, errlen);
	rc = mdb_get(txn, c->logs, &k, &v);
	if (rc == MDB_NOTFOUND || rc == MDB_BAD_VALSIZE) {
		mdb_txn_abort(txn);
		return 0;
	}
	if (rc) {
		mdb_txn_abort(txn);
		return store_fail(c, "reading a build record", rc, err, errlen);
	}
	*data = malloc(v.mv_size + 1);
	if (*data) {
		if (v.mv_size)
			memcpy(*data, v.mv_data, v.mv_size);
		(*data)[v.mv_size] = '\0';
		*len = v.mv_size;
	}
	mdb_txn_abort(txn);
	if (!*data) {
		set_err(err, errlen, "cache %s: out of memory reading build record %s", c->dir, name);
		return -1;
	}
	return 1;
}

struct record_args {
	const char *name;
	MDB_val val;
};

static int record_body(struct cache *c, MDB_txn *txn, void *arg, char *err, size_t errlen)
{
	struct record_args *a = arg;
	MDB_val k = name_val(a->name);

	(void)err, (void)errlen;
	return mdb_put(txn, c->logs, &k, &a->val, 0);
}

int cache_log_put(struct cache *c, const char *name, const void *data, size_t len, char *err, size_t errlen)
{
	struct record_args a = { name, { len, (void *)data } };
	size_t name_len = strlen(name);

	if (name_len == 0 || name_len > (size_t)mdb_env_get_maxkeysize(c->env)) {
		set_err(err, errlen, "cache %s: build record name of %zu bytes is not 1 to %d bytes long", c->dir,
		        name_len, mdb_env_get_maxkeysize(c->env));
		return -1;
	}
	return store_write(c, "storing a build record", record_body, &a, err, errlen);
}

int cache_stats(struct cache *c, struct cache_stats *st, char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_stat ms;
	struct stat fst;
	char *path;
	uint64_t *totals[COUNTERS] = { &st->hits, &st->misses, &st->tokens_saved_in, &st->tokens_saved_out };
	uint64_t *remote[REMOTE_COUNTERS] = { &st->remote.hits, &st->remote.misses, &st->remote.uploads,
	                                      &st->remote.refused, &st->remote.errors, &st->remote.bytes_down,
	                                      &st->remote.bytes_up };
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = store_begin_read(c, &txn)) != 0)
		return store_fail(c, "reading", rc, err, errlen);
	if ((rc = mdb_stat(txn, c->actions, &ms)) != 0)
		goto fail;
	st->actions = ms.ms_entries;
	if ((rc = mdb_stat(txn, c->logs, &ms)) != 0)
		goto fail;
	st->logs = ms.ms_entries;
	for (int i = 0; i < COUNTERS; i++)
		if ((rc = read_counter(c, txn, counter_names[i], totals[i])) != 0)
			goto fail;
	for (int i = 0; i < REMOTE_COUNTERS; i++)
		if ((rc = read_counter(c, txn, remote_counter_names[i], remote[i])) != 0)
			goto fail;
	if ((rc = mdb_cursor_open(txn, c->blobs, &cur)) != 0)
		goto fail;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		st->blobs++;
		st->blob_bytes += v.mv_size;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		goto fail;
	mdb_txn_abort(txn);
	/* LMDB files never shrink, so this can be far above blob_bytes after gc: freed pages are reused by later writes. */
	path = join(c->dir, "/data.mdb");
	if (path && stat(path, &fst) == 0)
		st->file_bytes = (uint64_t)fst.st_size;
	free(path);
	return 0;
fail:
	mdb_txn_abort(txn);
	return store_fail(c, "reading statistics", rc, err, errlen);
}
