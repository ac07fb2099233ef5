/* test_cache.c - the LMDB cache: round trips, growth, damage, gc, records, counters, two processes, open errors. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "cache.h"

#define MIB ((size_t)1 << 20)

static char errbuf[512];

/* Removes a tree made by a test (files and directories only). */
static void remove_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	chmod(path, 0700);
	if ((d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char sub[4096];
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) < sizeof(sub))
				remove_tree(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static int make_tmp(void **state)
{
	char tmpl[] = "/tmp/sbcache.XXXXXX";

	if (!mkdtemp(tmpl))
		return -1;
	*state = strdup(tmpl);
	return *state ? 0 : -1;
}

static int drop_tmp(void **state)
{
	remove_tree(*state);
	free(*state);
	return 0;
}

static void path_in(char *out, size_t n, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n)
		fail_msg("path too long: %s/%s", dir, name);
}

static struct cache *open_ok(const char *dir)
{
	struct cache *c = NULL;

	errbuf[0] = '\0';
	if (cache_open(dir, &c, errbuf, sizeof(errbuf)) != 0)
		fail_msg("cache_open(%s): %s", dir, errbuf);
	return c;
}

static void key_for(const char *label, uint64_t i, struct digest *out)
{
	struct key_builder kb;

	key_begin(&kb);
	key_add_str(&kb, label);
	key_add_u64(&kb, i);
	key_end(&kb, out);
}

/* Deterministic bytes that differ for every seed. */
static void fill(unsigned char *buf, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15u + 1;

	for (size_t i = 0; i < n; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		buf[i] = (unsigned char)(x >> 56);
	}
}

static void make_item(struct cache_put *it, const char *label, uint64_t i, const void *data, size_t len)
{
	memset(it, 0, sizeof(*it));
	key_for(label, i, &it->key);
	digest_bytes(data, len, &it->meta.output);
	snprintf(it->meta.provider, sizeof(it->meta.provider), "builtin");
	snprintf(it->meta.model, sizeof(it->meta.model), "model-%s", label);
	it->data = data;
	it->len = len;
}

static void put_ok(struct cache *c, const struct cache_put *items, size_t n)
{
	if (cache_put_batch(c, items, n, errbuf, sizeof(errbuf)) != 0)
		fail_msg("cache_put_batch: %s", errbuf);
}

/* 1 on a hit whose bytes equal want, 0 on a miss; fails the test on an error or different bytes. */
static int get_is(struct cache *c, const struct digest *key, const void *want, size_t want_len)
{
	struct action_meta m;
	char *data = NULL;
	size_t len = 0;
	int rc = cache_get(c, key, &m, &data, &len, errbuf, sizeof(errbuf));

	if (rc < 0)
		fail_msg("cache_get: %s", errbuf);
	if (rc == 1) {
		assert_int_equal(len, want_len);
		assert_memory_equal(data, want, want_len);
	}
	free(data);
	return rc;
}

static void stats_ok(struct cache *c, struct cache_stats *st)
{
	if (cache_stats(c, st, errbuf, sizeof(errbuf)) != 0)
		fail_msg("cache_stats: %s", errbuf);
}

struct problems {
	int n;
	char text[8][256];
};

static void collect(void *ctx, const char *problem)
{
	struct problems *p = ctx;

	if (p->n < 8)
		snprintf(p->text[p->n], sizeof(p->text[0]), "%s", problem);
	p->n++;
}

static long verify_into(struct cache *c, struct problems *p)
{
	long n;

	memset(p, 0, sizeof(*p));
	n = cache_verify(c, collect, p, errbuf, sizeof(errbuf));
	if (n < 0)
		fail_msg("cache_verify: %s", errbuf);
	assert_int_equal(n, p->n);
	return n;
}

static void round_trip_with_metadata(void **state)
{
	static const char text[] = "{\"summary\": \"A harbor at dawn.\"}";
	struct cache *c = open_ok(*state);
	struct cache_put it;
	struct action_meta m;
	char *data = NULL;
	size_t len = 0;

	make_item(&it, "round", 1, text, strlen(text));
	it.meta.tokens_in = 1234;
	it.meta.tokens_out = ((uint64_t)1 << 40) + 56;
	it.meta.duration_ms = 789;
	put_ok(c, &it, 1);
	assert_int_equal(cache_get(c, &it.key, &m, &data, &len, errbuf, sizeof(errbuf)), 1);
	assert_int_equal(len, strlen(text));
	assert_string_equal(data, text);
	free(data);
	assert_true(digest_equal(&m.output, &it.meta.output));
	assert_string_equal(m.provider, "builtin");
	assert_string_equal(m.model, "model-round");
	assert_int_equal(m.tokens_in, 1234);
	assert_int_equal(m.tokens_out, ((uint64_t)1 << 40) + 56);
	assert_int_equal(m.duration_ms, 789);
	assert_true(m.created > 1600000000);
	assert_int_equal(m.last_used, m.created);
	/* A hit without the bytes still checks them. */
	assert_int_equal(cache_get(c, &it.key, &m, NULL, NULL, errbuf, sizeof(errbuf)), 1);
	cache_close(c);

	c = open_ok(*state);
	assert_int_equal(get_is(c, &it.key, text, strlen(text)), 1);
	cache_close(c);
}

static void miss_for_unknown_key(void **state)
{
	struct cache *c = open_ok(*state);
	struct digest key;
	struct action_meta m;
	char *data = (char *)"untouched";

	key_for("never stored", 0, &key);
	assert_int_equal(cache_get(c, &key, &m, &data, NULL, errbuf, sizeof(errbuf)), 0);
	assert_null(data);
	cache_close(c);
}

static void many_items_in_one_batch(void **state)
{
	enum { N = 1000 };
	struct cache *c = open_ok(*state);
	struct cache_put *items = calloc(N, sizeof(*items));
	char (*texts)[32] = calloc(N, sizeof(*texts));
	struct cache_stats st;

	assert_non_null(items);
	assert_non_null(texts);
	for (int i = 0; i < N; i++) {
		/* Every fourth output repeats another's bytes: content addressing stores it once. */
		snprintf(texts[i], sizeof(texts[i]), "output %d", i % 4 == 3 ? i - 1 : i);
		make_item(&items[i], "batch", (uint64_t)i, texts[i], strlen(texts[i]));
	}
	put_ok(c, items, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(get_is(c, &items[i].key, texts[i], strlen(texts[i])), 1);
	stats_ok(c, &st);
	assert_int_equal(st.actions, N);
	assert_int_equal(st.blobs, N - N / 4);
	assert_true(st.file_bytes > 0);
	free(items);
	free(texts);
	cache_close(c);
}

static void digest_mismatch_is_refused(void **state)
{
	struct cache *c = open_ok(*state);
	struct cache_put items[2];
	struct cache_stats st;

	make_item(&items[0], "fine", 0, "good", 4);
	make_item(&items[1], "wrong", 0, "bytes", 5);
	digest_bytes("other bytes", 11, &items[1].meta.output);
	assert_int_equal(cache_put_batch(c, items, 2, errbuf, sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "does not match"));
	stats_ok(c, &st);
	assert_int_equal(st.actions, 0);
	cache_close(c);
}

/* 100 blobs of 1 MiB against a 64 MiB initial map: the first batch alone overflows it and is retried whole. */
static void grows_past_initial_map(void **state)
{
	enum { N = 100, FIRST = 70, LATER = 10 };
	struct cache *c = open_ok(*state);
	unsigned char *bufs = malloc(N * MIB);
	struct cache_put *items = calloc(N, sizeof(*items));
	struct cache_stats st;

	assert_non_null(bufs);
	assert_non_null(items);
	for (int i = 0; i < N; i++) {
		fill(bufs + i * MIB, MIB, (uint64_t)i);
		make_item(&items[i], "big", (uint64_t)i, bufs + i * MIB, MIB);
	}
	put_ok(c, items, FIRST);
	for (int i = FIRST; i < N; i += LATER)
		put_ok(c, items + i, LATER);
	for (int i = 0; i < N; i++)
		assert_int_equal(get_is(c, &items[i].key, bufs + i * MIB, MIB), 1);
	stats_ok(c, &st);
	assert_int_equal(st.blobs, N);
	assert_int_equal(st.blob_bytes, N * MIB);
	assert_true(st.file_bytes > 64 * MIB);
	cache_close(c);

	c = open_ok(*state);
	assert_int_equal(get_is(c, &items[N - 1].key, bufs + (N - 1) * MIB, MIB), 1);
	assert_int_equal(get_is(c, &items[0].key, bufs, MIB), 1);
	cache_close(c);
	free(items);
	free(bufs);
}

/* This process's file-backed resident KiB (RssFile of /proc/self/status): the pages of data.mdb it has mapped. */
static long rss_file_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		fail_msg("/proc/self/status: %s", strerror(errno));
	while (kib < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssFile: %ld kB", &kib) != 1)
			kib = -1;
	fclose(f);
	if (kib < 0)
		fail_msg("/proc/self/status has no RssFile line");
	return kib;
}

/* The most data.mdb added to this process's RSS (KiB) while n small blobs with random keys go into a fresh cache at
 * dir, per_txn to a commit, with SCRIPTBUILD_CACHE_RESIDENT=bound; every 97th is read back intact. */
static long resident_growth_writing(const char *dir, const char *bound, size_t n, size_t per_txn, size_t each)
{
	unsigned char *bufs = malloc(per_txn * each);
	struct cache_put *items = calloc(per_txn, sizeof(*items));
	struct cache *c;
	long peak = 0;

	assert_non_null(bufs);
	assert_non_null(items);
	setenv("SCRIPTBUILD_CACHE_RESIDENT", bound, 1);
	c = open_ok(dir);
	long base = rss_file_kib();
	for (size_t i = 0; i < n; i += per_txn) {
		for (size_t j = 0; j < per_txn; j++) {
			fill(bufs + j * each, each, i + j);
			make_item(&items[j], "resident", i + j, bufs + j * each, each);
		}
		put_ok(c, items, per_txn);
		long grown = rss_file_kib() - base;
		if (grown > peak)
			peak = grown;
		/* Pages dropped under earlier transactions read back as they were written. */
		struct digest key;
		size_t k = i / 97 * 97;
		key_for("resident", k, &key);
		fill(bufs, each, k);
		assert_int_equal(get_is(c, &key, bufs, each), 1);
	}
	cache_close(c);
	unsetenv("SCRIPTBUILD_CACHE_RESIDENT");
	free(items);
	free(bufs);
	return peak;
}

static void resident_pages_stay_bounded(void **state)
{
	/* ~20 MB of 1 KiB blobs, which live in the leaves: every insert copies a random leaf out of the map. */
	enum { N = 16000, PER_TXN = 200, EACH = 1024, BOUND_MIB = 4, SLACK_MIB = 4 };
	char on[4096], off[4096];

	path_in(on, sizeof(on), *state, "bounded");
	path_in(off, sizeof(off), *state, "unbounded");
	long bounded = resident_growth_writing(on, "4", N, PER_TXN, EACH);
	long unbounded = resident_growth_writing(off, "off", N, PER_TXN, EACH);
	print_message("data.mdb resident while writing: %ld KiB with a 4 MiB bound, %ld KiB without\n", bounded,
	              unbounded);
	assert_true(bounded <= (BOUND_MIB + SLACK_MIB) << 10);
	/* The measure can fail: without the bound most of the file gets mapped. */
	assert_true(unbounded >= 3 * ((BOUND_MIB + SLACK_MIB) << 10) / 2);
}

static void resident_bound_must_be_a_number(void **state)
{
	struct cache *c = NULL;

	setenv("SCRIPTBUILD_CACHE_RESIDENT", "lots", 1);
	assert_int_equal(cache_open(*state, &c, errbuf, sizeof(errbuf)), -1);
	assert_null(c);
	assert_non_null(strstr(errbuf, "SCRIPTBUILD_CACHE_RESIDENT=lots"));
	assert_non_null(strstr(errbuf, "'off'"));
	setenv("SCRIPTBUILD_CACHE_RESIDENT", "0", 1);
	c = open_ok(*state);
	cache_close(c);
	unsetenv("SCRIPTBUILD_CACHE_RESIDENT");
}

/* Flips one byte in every copy of marker found in path; returns how many copies. */
static int flip_in_file(const char *path, const char *marker)
{
	FILE *f = fopen(path, "r+b");
	size_t mlen = strlen(marker), size;
	unsigned char *buf;
	int found = 0;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = (size_t)ftell(f);
	rewind(f);
	buf = malloc(size);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, size, f), size);
	for (size_t i = 0; i + mlen <= size; i++) {
		if (memcmp(buf + i, marker, mlen) == 0) {
			buf[i + mlen / 2] ^= 0x20;
			found++;
		}
	}
	rewind(f);
	assert_int_equal(fwrite(buf, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
	free(buf);
	return found;
}

static void damaged_blob_is_a_miss_and_named(void **state)
{
	static const char marker[] = "PAYLOAD-OF-THE-LIGHTHOUSE-KEEPER-SCENE-0042";
	char payload[3000], path[4096], hex[DIGEST_HEX_LEN + 1];
	struct cache *c = open_ok(*state);
	struct cache_put items[2];
	struct problems p;

	memset(payload, '.', sizeof(payload));
	memcpy(payload + 100, marker, strlen(marker));
	make_item(&items[0], "damaged", 0, payload, sizeof(payload));
	make_item(&items[1], "intact", 0, "an intact output", 16);
	put_ok(c, items, 2);
	assert_int_equal(verify_into(c, &p), 0);
	cache_close(c);

	path_in(path, sizeof(path), *state, "data.mdb");
	assert_true(flip_in_file(path, marker) >= 1);

	c = open_ok(*state);
	assert_int_equal(get_is(c, &items[0].key, payload, sizeof(payload)), 0);
	assert_int_equal(get_is(c, &items[1].key, "an intact output", 16), 1);
	assert_int_equal(verify_into(c, &p), 1);
	digest_to_hex(&items[0].meta.output, hex);
	assert_non_null(strstr(p.text[0], hex));
	assert_non_null(strstr(p.text[0], "damaged"));

	/* The step re-runs and stores the same output again: that repairs the blob. */
	put_ok(c, items, 1);
	assert_int_equal(get_is(c, &items[0].key, payload, sizeof(payload)), 1);
	assert_int_equal(verify_into(c, &p), 0);
	cache_close(c);
}

/* A result recorded as checked is so only under the stamp it was recorded with, for the very bytes it had: another
 * stamp, or the same key now holding other bytes, or damaged bytes, are not checked. */
static void checked_records_name_bytes_and_stamp(void **state)
{
	static const char marker[] = "CHECKED-PAYLOAD-OF-SCENE-0007";
	char payload[2000], path[4096], *data = NULL;
	size_t len = 0;
	bool checked = true;
	struct cache *c = open_ok(*state);
	struct cache_put it, other;
	struct digest stamp, stamp2;

	memset(payload, '.', sizeof(payload));
	memcpy(payload + 50, marker, strlen(marker));
	make_item(&it, "checked", 0, payload, sizeof(payload));
	put_ok(c, &it, 1);
	key_for("stamp", 1, &stamp);
	key_for("stamp", 2, &stamp2);
	assert_int_equal(cache_get_checked(c, &it.key, &stamp, NULL, &data, &len, &checked, errbuf, sizeof(errbuf)),
	                 CACHE_HIT);
	assert_false(checked);
	free(data);
	assert_int_equal(cache_mark_checked(c, &it.meta.output, &stamp, 1, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(cache_get_checked(c, &it.key, &stamp, NULL, &data, &len, &checked, errbuf, sizeof(errbuf)),
	                 CACHE_HIT);
	assert_true(checked);
	assert_memory_equal(data, payload, sizeof(payload));
	free(data);
	assert_int_equal(cache_get_checked(c, &it.key, &stamp2, NULL, &data, &len, &checked, errbuf, sizeof(errbuf)),
	                 CACHE_HIT);
	assert_false(checked);
	free(data);

	/* The key now stores other bytes: the record speaks about the old bytes only. */
	make_item(&other, "checked", 0, "other bytes", 11);
	put_ok(c, &other, 1);
	assert_int_equal(cache_get_checked(c, &it.key, &stamp, NULL, &data, &len, &checked, errbuf, sizeof(errbuf)),
	                 CACHE_HIT);
	assert_false(checked);
	free(data);
	put_ok(c, &it, 1);
	assert_int_equal(cache_get_checked(c, &it.key, &stamp, NULL, &data, &len, &checked, errbuf, sizeof(errbuf)),
	                 CACHE_HIT);
	assert_true(checked);
	free(data);

	/* gc dropping the blob drops its records: stored again, the bytes are not checked until marked again. */
	uint64_t evicted = 0;
	assert_int_equal(cache_gc(c, 0, &evicted, errbuf, sizeof(errbuf)), 0);
	assert_true(evicted >= 1);
	put_ok(c, &it, 1);
	assert_int_equal(cache_get_checked(c, &it.key, &stamp, NULL, &data, &len, &checked, errbuf, sizeof(errbuf)),
	                 CACHE_HIT);
	assert_false(checked);
	free(data);
	cache_close(c);

	/* Damaged bytes are a miss, never served as checked. */
	path_in(path, sizeof(path), *state, "data.mdb");
	assert_true(flip_in_file(path, marker) >= 1);
	c = open_ok(*state);
	assert_int_equal(cache_get_checked(c, &it.key, &stamp, NULL, &data, &len, &checked, errbuf, sizeof(errbuf)),
	                 CACHE_MISS);
	assert_false(checked);
	assert_null(data);
	cache_close(c);
}

/* Opens the cache's environment with LMDB directly, as a damaging tool would. */
static void raw_edit(const char *dir, const char *table, const struct digest *key, const void *val, size_t len)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { sizeof(key->bytes), (void *)key->bytes }, v = { len, (void *)val };

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, table, 0, &dbi), 0);
	if (val)
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	else
		assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void verify_names_missing_blob_and_bad_record(void **state)
{
	struct cache *c = open_ok(*state);
	struct cache_put items[3];
	struct problems p;
	struct action_meta m;
	char key_hex[DIGEST_HEX_LEN + 1], blob_hex[DIGEST_HEX_LEN + 1], bad_hex[DIGEST_HEX_LEN + 1];
	uint64_t evicted = 99;
	int missing_seen = 0, bad_seen = 0;

	make_item(&items[0], "orphan", 0, "blob to lose", 12);
	make_item(&items[1], "garbled", 0, "fine blob", 9);
	make_item(&items[2], "keeper", 0, "kept blob", 9);
	put_ok(c, items, 3);
	cache_close(c);

	raw_edit(*state, "blobs", &items[0].meta.output, NULL, 0);
	raw_edit(*state, "actions", &items[1].key, "\x07garbage", 8);

	c = open_ok(*state);
	assert_int_equal(cache_get(c, &items[0].key, &m, NULL, NULL, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(cache_get(c, &items[1].key, &m, NULL, NULL, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(verify_into(c, &p), 2);
	digest_to_hex(&items[0].key, key_hex);
	digest_to_hex(&items[0].meta.output, blob_hex);
	digest_to_hex(&items[1].key, bad_hex);
	for (int i = 0; i < 2; i++) {
		if (strstr(p.text[i], key_hex) && strstr(p.text[i], blob_hex) && strstr(p.text[i], "missing"))
			missing_seen = 1;
		if (strstr(p.text[i], bad_hex) && strstr(p.text[i], "does not decode"))
			bad_seen = 1;
	}
	assert_true(missing_seen);
	assert_true(bad_seen);

	/* gc drops actions that can never be served, whatever the size limit. */
	assert_int_equal(cache_gc(c, UINT64_MAX, &evicted, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(evicted, 2);
	assert_int_equal(verify_into(c, &p), 0);
	assert_int_equal(get_is(c, &items[2].key, "kept blob", 9), 1);
	cache_close(c);
}

static void gc_evicts_least_recently_used(void **state)
{
	enum { N = 6, SIZE = 1000 };
	struct cache *c = open_ok(*state);
	static unsigned char bufs[N][SIZE];
	struct cache_put items[N];
	struct digest touched[2];
	struct cache_stats st;
	uint64_t evicted = 0;
	char *rec;
	size_t rec_len;

	for (int i = 0; i < N; i++) {
		fill(bufs[i], SIZE, 500 + (uint64_t)i);
		make_item(&items[i], "lru", (uint64_t)i, bufs[i], SIZE);
		items[i].meta.created = 100 + i;
		items[i].meta.last_used = 100 + i;
	}
	put_ok(c, items, N);
	assert_int_equal(cache_log_put(c, "script", "kept", 4, errbuf, sizeof(errbuf)), 0);
	/* Items 0 and 1 are the oldest but were just used. */
	touched[0] = items[0].key;
	touched[1] = items[1].key;
	assert_int_equal(cache_touch(c, touched, 2, errbuf, sizeof(errbuf)), 0);

	/* An eviction starts a new epoch (a build record from before no longer vouches); a gc that evicts nothing not. */
	uint64_t epoch0, epoch;
	assert_int_equal(cache_epoch(c, &epoch0, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(cache_gc(c, UINT64_MAX, &evicted, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(evicted, 0);
	assert_int_equal(cache_epoch(c, &epoch, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(epoch, epoch0);
	assert_int_equal(cache_gc(c, 3 * SIZE, &evicted, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(evicted, 3);
	assert_int_equal(cache_epoch(c, &epoch, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(epoch, epoch0 + 1);
	for (int i = 0; i < N; i++)
		assert_int_equal(get_is(c, &items[i].key, bufs[i], SIZE), i <= 1 || i == 5);
	stats_ok(c, &st);
	assert_int_equal(st.actions, 3);
	assert_int_equal(st.blobs, 3);
	assert_int_equal(st.blob_bytes, 3 * SIZE);

	assert_int_equal(cache_gc(c, 0, &evicted, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(evicted, 3);
	stats_ok(c, &st);
	assert_int_equal(st.actions, 0);
	assert_int_equal(st.blobs, 0);
	assert_int_equal(st.blob_bytes, 0);
	/* LMDB files never shrink. */
	assert_true(st.file_bytes > 0);
	assert_int_equal(cache_log_get(c, "script", &rec, &rec_len, errbuf, sizeof(errbuf)), 1);
	assert_memory_equal(rec, "kept", 4);
	free(rec);
	cache_close(c);
}

/* Bytes count once per blob, however many actions share it; a blob goes when its last action goes. */
static void gc_counts_shared_blobs_once(void **state)
{
	static unsigned char x[1000], y[1000];
	struct cache *c = open_ok(*state);
	struct cache_put items[3];
	struct cache_stats st;
	uint64_t evicted = 0;

	fill(x, sizeof(x), 1);
	fill(y, sizeof(y), 2);
	make_item(&items[0], "shared", 0, x, sizeof(x));
	make_item(&items[1], "shared", 1, y, sizeof(y));
	make_item(&items[2], "shared", 2, x, sizeof(x));
	for (int i = 0; i < 3; i++)
		items[i].meta.created = items[i].meta.last_used = 10 * (i + 1);
	put_ok(c, items, 3);

	assert_int_equal(cache_gc(c, 1000, &evicted, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(evicted, 2);
	assert_int_equal(get_is(c, &items[0].key, x, sizeof(x)), 0);
	assert_int_equal(get_is(c, &items[1].key, y, sizeof(y)), 0);
	assert_int_equal(get_is(c, &items[2].key, x, sizeof(x)), 1);
	stats_ok(c, &st);
	assert_int_equal(st.blobs, 1);
	assert_int_equal(st.blob_bytes, 1000);
	cache_close(c);
}

/* After a gc that leaves most of data.mdb free, compaction returns the space, but only while no other process has
 * the cache open (one that maps the old file would write into an unlinked inode); what remains is intact. */
static void gc_compaction_returns_space_when_alone(void **state)
{
	enum { N = 200, KEEP = 10, SIZE = 8000 };
	static unsigned char bufs[N][SIZE];
	struct cache_put items[N];
	struct cache_compact_info info;
	struct cache_stats st;
	uint64_t evicted = 0;
	int to_child[2], from_child[2];
	char byte;
	struct cache *c = open_ok(*state);

	for (int i = 0; i < N; i++) {
		fill(bufs[i], SIZE, 7000 + (uint64_t)i);
		make_item(&items[i], "compact", (uint64_t)i, bufs[i], SIZE);
		items[i].meta.created = items[i].meta.last_used = 1000 + i;
	}
	put_ok(c, items, N);
	assert_int_equal(cache_gc(c, KEEP * SIZE, &evicted, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(evicted, N - KEEP);
	stats_ok(c, &st);
	uint64_t full = st.file_bytes;
	assert_true(full > (uint64_t)N * SIZE);

	/* Another process holding the cache open blocks the swap; the file stays as it is. */
	assert_int_equal(pipe(to_child), 0);
	assert_int_equal(pipe(from_child), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cache *other = NULL;
		if (cache_open(*state, &other, errbuf, sizeof(errbuf)) != 0)
			_exit(3);
		if (write(from_child[1], "r", 1) != 1 || read(to_child[0], &byte, 1) != 1)
			_exit(4);
		cache_close(other);
		_exit(0);
	}
	assert_int_equal(read(from_child[0], &byte, 1), 1);
	assert_int_equal(cache_compact(c, 0, &info, errbuf, sizeof(errbuf)), CACHE_COMPACT_BUSY);
	assert_int_equal(info.others, 1);
	stats_ok(c, &st);
	assert_int_equal(st.file_bytes, full);
	assert_int_equal(write(to_child[1], "x", 1), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(to_child[0]), close(to_child[1]), close(from_child[0]), close(from_child[1]);

	/* Alone now: the file shrinks to well under half, and every remaining entry is served and verifies. */
	assert_int_equal(cache_compact(c, 0, &info, errbuf, sizeof(errbuf)), CACHE_COMPACTED);
	assert_int_equal(info.file_before, full);
	assert_true(info.file_after * 2 < full);
	stats_ok(c, &st);
	assert_int_equal(st.file_bytes, info.file_after);
	assert_int_equal(st.actions, KEEP);
	assert_int_equal(st.blob_bytes, (uint64_t)KEEP * SIZE);
	for (int i = 0; i < N; i++)
		assert_int_equal(get_is(c, &items[i].key, bufs[i], SIZE), i >= N - KEEP);
	assert_int_equal(cache_verify(c, NULL, NULL, errbuf, sizeof(errbuf)), 0);
	/* The new file takes writes, and nothing is left to compact. */
	put_ok(c, items, 1);
	assert_int_equal(get_is(c, &items[0].key, bufs[0], SIZE), 1);
	assert_int_equal(cache_compact(c, 0, &info, errbuf, sizeof(errbuf)), CACHE_COMPACT_NOT_NEEDED);
	cache_close(c);
	/* A later open sees the compacted file; no temp file is left beside it. */
	c = open_ok(*state);
	assert_int_equal(get_is(c, &items[N - 1].key, bufs[N - 1], SIZE), 1);
	assert_int_equal(cache_verify(c, NULL, NULL, errbuf, sizeof(errbuf)), 0);
	cache_close(c);
	DIR *d = opendir(*state);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		assert_null(strstr(e->d_name, "compact"));
	closedir(d);
}

static void build_logs_put_get_replace(void **state)
{
	struct cache *c = open_ok(*state);
	struct cache_stats st;
	char *data = NULL, long_name[600];
	size_t len = 0;

	assert_int_equal(cache_log_get(c, "harbor.fountain", &data, &len, errbuf, sizeof(errbuf)), 0);
	assert_null(data);
	assert_int_equal(cache_log_put(c, "harbor.fountain", "first", 5, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(cache_log_put(c, "other.fountain", "", 0, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(cache_log_put(c, "harbor.fountain", "second run", 10, errbuf, sizeof(errbuf)), 0);
	cache_close(c);

	c = open_ok(*state);
	assert_int_equal(cache_log_get(c, "harbor.fountain", &data, &len, errbuf, sizeof(errbuf)), 1);
	assert_int_equal(len, 10);
	assert_string_equal(data, "second run");
	free(data);
	assert_int_equal(cache_log_get(c, "other.fountain", &data, &len, errbuf, sizeof(errbuf)), 1);
	assert_int_equal(len, 0);
	free(data);
	stats_ok(c, &st);
	assert_int_equal(st.logs, 2);

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(cache_log_put(c, long_name, "x", 1, errbuf, sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "build record name"));
	assert_int_equal(cache_log_put(c, "", "x", 1, errbuf, sizeof(errbuf)), -1);
	cache_close(c);
}

static void counters_accumulate_across_opens(void **state)
{
	struct cache *c = open_ok(*state);
	struct cache_stats st;

	assert_int_equal(cache_add_counters(c, 1, 2, 3, 4, errbuf, sizeof(errbuf)), 0);
	cache_close(c);
	c = open_ok(*state);
	assert_int_equal(cache_add_counters(c, 10, 20, 30, 40, errbuf, sizeof(errbuf)), 0);
	cache_close(c);
	c = open_ok(*state);
	stats_ok(c, &st);
	assert_int_equal(st.hits, 11);
	assert_int_equal(st.misses, 22);
	assert_int_equal(st.tokens_saved_in, 33);
	assert_int_equal(st.tokens_saved_out, 44);
	cache_close(c);
}

enum { PER_CHILD = 40, CHILD_BATCH = 8 };

/* One writer process: count MiB in batches, started when start_fd reads end of file. */
static int child_writes(const char *dir, int who, int start_fd, int count)
{
	struct cache *c = NULL;
	unsigned char *bufs = malloc(CHILD_BATCH * MIB);
	struct cache_put items[CHILD_BATCH];
	char err[512];
	char go;
	int rc = 0;

	/* Both children start together, once the parent closes the pipe. */
	if (read(start_fd, &go, 1) < 0 || !bufs || cache_open(dir, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "child %d: cannot start: %s\n", who, bufs ? err : "out of memory");
		free(bufs);
		return 1;
	}
	for (int i = 0; i < count && rc == 0; i += CHILD_BATCH) {
		for (int j = 0; j < CHILD_BATCH; j++) {
			uint64_t id = (uint64_t)who * 1000 + (uint64_t)(i + j);
			fill(bufs + j * MIB, MIB, id);
			make_item(&items[j], "proc", id, bufs + j * MIB, MIB);
		}
		if ((rc = cache_put_batch(c, items, CHILD_BATCH, err, sizeof(err))) != 0)
			fprintf(stderr, "child %d: %s\n", who, err);
	}
	cache_close(c);
	free(bufs);
	return rc ? 1 : 0;
}

/* Two writers of 40 MiB each outgrow the initial map together, while a third process holds the cache open. */
static void two_processes_write_at_once(void **state)
{
	int fds[2];
	pid_t pids[2];
	unsigned char *buf = malloc(MIB);
	struct cache *c;
	struct cache_stats st;

	assert_non_null(buf);
	assert_int_equal(pipe(fds), 0);
	for (int who = 0; who < 2; who++) {
		pids[who] = fork();
		assert_true(pids[who] >= 0);
		if (pids[who] == 0) {
			close(fds[1]);
			/* _exit: the leak check at exit would also blame the child for what an earlier failed test left. */
			_exit(child_writes(*state, who + 1, fds[0], PER_CHILD));
		}
	}
	close(fds[0]);
	/* Opened before the children write, this process's map is outgrown: its first read must adopt the new size. */
	c = open_ok(*state);
	close(fds[1]);
	for (int who = 0; who < 2; who++) {
		int status;
		assert_int_equal(waitpid(pids[who], &status, 0), pids[who]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}

	for (int who = 1; who <= 2; who++) {
		for (int i = 0; i < PER_CHILD; i++) {
			struct digest key;
			uint64_t id = (uint64_t)who * 1000 + (uint64_t)i;
			fill(buf, MIB, id);
			key_for("proc", id, &key);
			assert_int_equal(get_is(c, &key, buf, MIB), 1);
		}
	}
	stats_ok(c, &st);
	assert_int_equal(st.actions, 2 * PER_CHILD);
	cache_close(c);
	free(buf);
}

/* Another process grows the file past this process's map: LMDB says MDB_MAP_RESIZED to this process's next write
 * transaction and the cache adopts the size. */
static void adopts_map_grown_by_another_process(void **state)
{
	enum { COUNT = 72 };
	int fds[2], status;
	pid_t pid;
	unsigned char *buf = malloc(MIB);
	struct cache *c;
	struct cache_put item;
	struct digest key;

	assert_non_null(buf);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[1]);
		_exit(child_writes(*state, 3, fds[0], COUNT));
	}
	close(fds[0]);
	c = open_ok(*state);
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	make_item(&item, "after growth", 0, "small", 5);
	put_ok(c, &item, 1);
	for (int i = 0; i < COUNT; i++) {
		uint64_t id = 3000 + (uint64_t)i;
		fill(buf, MIB, id);
		key_for("proc", id, &key);
		assert_int_equal(get_is(c, &key, buf, MIB), 1);
	}
	assert_int_equal(get_is(c, &item.key, "small", 5), 1);
	cache_close(c);
	free(buf);
}

static void expect_open_fails(const char *dir, const char *cause)
{
	struct cache *c = (struct cache *)&c;

	errbuf[0] = '\0';
	assert_int_equal(cache_open(dir, &c, errbuf, sizeof(errbuf)), -1);
	assert_null(c);
	/* cache/ names directories, never the command line's flags: the caller adds those. */
	if (!strstr(errbuf, dir) || !strstr(errbuf, cause) || !strstr(errbuf, "cache directory") ||
	    strstr(errbuf, "--cache"))
		fail_msg("message for %s lacks the path, \"%s\" or advice, or names a flag: %s", dir, cause, errbuf);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void open_errors_name_the_path(void **state)
{
	char file[4096], under_file[4096], garbage_dir[4096], garbage[4096], locked[4096];
	unsigned char noise[16384];

	path_in(file, sizeof(file), *state, "plain-file");
	write_file(file, "not a cache\n", 12);
	expect_open_fails(file, "not a directory");

	path_in(under_file, sizeof(under_file), file, "cache");
	expect_open_fails(under_file, "Not a directory");

	path_in(garbage_dir, sizeof(garbage_dir), *state, "garbage");
	assert_int_equal(mkdir(garbage_dir, 0700), 0);
	path_in(garbage, sizeof(garbage), garbage_dir, "data.mdb");
	fill(noise, sizeof(noise), 77);
	write_file(garbage, noise, sizeof(noise));
	expect_open_fails(garbage_dir, "data.mdb");

	/* Root ignores permissions, so only an ordinary user can see this failure. */
	if (geteuid() != 0) {
		path_in(locked, sizeof(locked), *state, "locked");
		assert_int_equal(mkdir(locked, 0700), 0);
		assert_int_equal(chmod(locked, 0), 0);
		expect_open_fails(locked, "ermission denied");
		chmod(locked, 0700);
	}
}

static void foreign_lmdb_is_refused(void **state)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 5, (void *)"hello" }, v = { 5, (void *)"world" };

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, *state, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	expect_open_fails(*state, "another program");
}

static void creates_missing_parents_private(void **state)
{
	char dir[4096];
	struct stat st;
	struct cache *c;

	path_in(dir, sizeof(dir), *state, "a/b/cache");
	c = open_ok(dir);
	cache_close(c);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
}

static void default_dir_follows_environment(void **state)
{
	char *d;

	(void)state;
	setenv("SCRIPTBUILD_CACHE", "/tmp/explicit", 1);
	setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
	setenv("HOME", "/tmp/home", 1);
	assert_string_equal(d = cache_default_dir(), "/tmp/explicit");
	free(d);
	unsetenv("SCRIPTBUILD_CACHE");
	assert_string_equal(d = cache_default_dir(), "/tmp/xdg/scriptbuild");
	free(d);
	unsetenv("XDG_CACHE_HOME");
	assert_string_equal(d = cache_default_dir(), "/tmp/home/.cache/scriptbuild");
	free(d);
	unsetenv("HOME");
	assert_null(cache_default_dir());
}

#define WITH_DIR(t) cmocka_unit_test_setup_teardown(t, make_tmp, drop_tmp)

int main(void)
{
	const struct CMUnitTest tests[] = {
		WITH_DIR(round_trip_with_metadata),
		WITH_DIR(miss_for_unknown_key),
		WITH_DIR(many_items_in_one_batch),
		WITH_DIR(digest_mismatch_is_refused),
		WITH_DIR(grows_past_initial_map),
		WITH_DIR(resident_pages_stay_bounded),
		WITH_DIR(resident_bound_must_be_a_number),
		WITH_DIR(damaged_blob_is_a_miss_and_named),
		WITH_DIR(checked_records_name_bytes_and_stamp),
		WITH_DIR(verify_names_missing_blob_and_bad_record),
		WITH_DIR(gc_evicts_least_recently_used),
		WITH_DIR(gc_counts_shared_blobs_once),
		WITH_DIR(gc_compaction_returns_space_when_alone),
		WITH_DIR(build_logs_put_get_replace),
		WITH_DIR(counters_accumulate_across_opens),
		WITH_DIR(two_processes_write_at_once),
		WITH_DIR(adopts_map_grown_by_another_process),
		WITH_DIR(open_errors_name_the_path),
		WITH_DIR(foreign_lmdb_is_refused),
		WITH_DIR(creates_missing_parents_private),
		cmocka_unit_test(default_dir_follows_environment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
