/* fuzz_archive.c - libFuzzer target: the archive reader and validator (analysis_read_archive) on any bytes.
 *
 * An input that starts with the zstd magic is the archive file itself. Any other input is taken as an uncompressed
 * tar: its entries are compressed again as scriptbuild writes them, with manifest.json's entry sizes and digests and
 * its own digest made true (when it is a JSON object with "entries"), so that mutations get past the digests to the
 * manifest, record and NPY checks; bytes that are not a whole tar are compressed as they are. What the reader accepts
 * must write and read back (an abort is a finding). Seeds: tests/fuzz/archive. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>

#include "analysis.h"
#include "digest.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ITEMS 16
#define MAX_ITEM_BYTES ((size_t)4 << 20)
#define ZEROS "xxh3-128:00000000000000000000000000000000"

struct item {
	char *name, *uname, *gname, *symlink, *hardlink;
	unsigned type, perm;
	int64_t uid, gid, mtime, size;
	unsigned char *data;
	size_t len;
};

static char dir[64], input_path[96], again_path[96];

static void require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_archive: invariant broken: %s\n", what);
		abort();
	}
}

static void cleanup(void)
{
	unlink(input_path);
	unlink(again_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof dir, "/tmp/fuzz_archive.XXXXXX");
	require(mkdtemp(dir) != NULL, "a temporary directory");
	snprintf(input_path, sizeof input_path, "%s/in.analysis.tar.zst", dir);
	snprintf(again_path, sizeof again_path, "%s/again.analysis.tar.zst", dir);
	atexit(cleanup);
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void items_free(struct item *items, int n)
{
	for (int i = 0; i < n; i++) {
		free(items[i].name);
		free(items[i].uname);
		free(items[i].gname);
		free(items[i].symlink);
		free(items[i].hardlink);
		free(items[i].data);
	}
}

/* Takes a whole tar apart into items; the count, or -1 when the bytes are not one (items then freed). */
static int untar(const uint8_t *data, size_t size, struct item *items)
{
	struct archive *ar = archive_read_new();
	archive_read_support_format_tar(ar);
	int n = 0, r = archive_read_open_memory(ar, data, size);
	struct archive_entry *e;
	while (r == ARCHIVE_OK && (r = archive_read_next_header(ar, &e)) == ARCHIVE_OK) {
		if (n == MAX_ITEMS || archive_entry_size(e) < 0 || (size_t)archive_entry_size(e) > MAX_ITEM_BYTES) {
			r = ARCHIVE_FATAL;
			break;
		}
		struct item *it = &items[n++];
		memset(it, 0, sizeof *it);
		it->name = dup_or_null(archive_entry_pathname(e));
		it->uname = dup_or_null(archive_entry_uname(e));
		it->gname = dup_or_null(archive_entry_gname(e));
		it->symlink = dup_or_null(archive_entry_symlink(e));
		it->hardlink = dup_or_null(archive_entry_hardlink(e));
		it->type = archive_entry_filetype(e);
		it->perm = archive_entry_perm(e);
		it->uid = archive_entry_uid(e);
		it->gid = archive_entry_gid(e);
		it->mtime = archive_entry_mtime(e);
		it->size = archive_entry_size(e);
		it->data = malloc((size_t)it->size + 1);
		la_ssize_t got = it->data ? archive_read_data(ar, it->data, (size_t)it->size) : -1;
		if (got != it->size) {
			r = ARCHIVE_FATAL;
			break;
		}
		it->data[got] = '\0';
		it->len = (size_t)got;
	}
	archive_read_free(ar);
	if (r != ARCHIVE_EOF) {
		items_free(items, n);
		return -1;
	}
	return n;
}

/* Sets o[key], whether or not the (fuzzed) manifest has it. */
static void put(cJSON *o, const char *key, cJSON *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddItemToObject(o, key, value);
}

static void set_digest(cJSON *o, const char *key, const void *data, size_t len)
{
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1], text[64];
	digest_bytes(data, len, &d);
	digest_to_hex(&d, hex);
	snprintf(text, sizeof text, "xxh3-128:%s", hex);
	put(o, key, cJSON_CreateString(text));
}

/* Rewrites manifest.json so that every size and digest it states is true, as the writer would have printed it. */
static void make_manifest_true(struct item *items, int n)
{
	struct item *m = NULL;
	for (int i = 0; i < n; i++)
		if (items[i].name && strcmp(items[i].name, "manifest.json") == 0)
			m = &items[i];
	cJSON *root = m ? cJSON_ParseWithLength((const char *)m->data, m->len) : NULL;
	cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, "entries");
	if (!cJSON_IsObject(root) || !cJSON_IsObject(entries)) {
		cJSON_Delete(root);
		return;
	}
	for (int i = 0; i < n; i++) {
		cJSON *o = items[i].name ? cJSON_GetObjectItemCaseSensitive(entries, items[i].name) : NULL;
		if (&items[i] == m || !cJSON_IsObject(o))
			continue;
		put(o, "size", cJSON_CreateNumber((double)items[i].len));
		set_digest(o, "digest", items[i].data, items[i].len);
	}
	put(root, "manifest_digest", cJSON_CreateString(ZEROS));
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	size_t len = text ? strlen(text) : 0;
	unsigned char *out = text ? malloc(len + 2) : NULL;
	if (out) {
		memcpy(out, text, len);
		memcpy(out + len, "\n", 2);
		char *at = NULL;
		for (char *p = (char *)out; (p = strstr(p, "\"manifest_digest\":\t\"" ZEROS)); p++)
			at = p;
		if (at) {
			struct digest d;
			char hex[DIGEST_HEX_LEN + 1];
			digest_bytes(out, len + 1, &d);
			digest_to_hex(&d, hex);
			memcpy(at + strlen("\"manifest_digest\":\t\"xxh3-128:"), hex, DIGEST_HEX_LEN);
		}
		free(m->data);
		m->data = out;
		m->len = len + 1;
		m->size = (int64_t)m->len;
	}
	free(text);
}

static struct archive *zstd_writer(const char *path, int raw)
{
	struct archive *ar = archive_write_new();
	if (raw)
		archive_write_set_format_raw(ar);
	else
		archive_write_set_format_pax_restricted(ar);
	archive_write_add_filter_zstd(ar);
	/* The reader does not care about the level; the fastest one keeps the fuzzer fast. */
	archive_write_set_filter_option(ar, "zstd", "compression-level", "1");
	if (archive_write_open_filename(ar, path) != ARCHIVE_OK) {
		archive_write_free(ar);
		return NULL;
	}
	return ar;
}

/* Writes items (header faults and all, as far as libarchive writes them) as a .tar.zst at path. */
static void retar(const char *path, const struct item *items, int n)
{
	struct archive *ar = zstd_writer(path, 0);
	require(ar != NULL, "the temporary archive opens");
	for (int i = 0; i < n; i++) {
		const struct item *it = &items[i];
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, it->name);
		archive_entry_set_filetype(e, it->type);
		archive_entry_set_perm(e, it->perm);
		archive_entry_set_uid(e, it->uid);
		archive_entry_set_gid(e, it->gid);
		archive_entry_set_uname(e, it->uname);
		archive_entry_set_gname(e, it->gname);
		archive_entry_set_mtime(e, it->mtime, 0);
		if (it->symlink)
			archive_entry_set_symlink(e, it->symlink);
		if (it->hardlink)
			archive_entry_set_hardlink(e, it->hardlink);
		archive_entry_set_size(e, it->type == AE_IFREG ? (la_int64_t)it->len : 0);
		if (archive_write_header(ar, e) == ARCHIVE_OK && it->type == AE_IFREG)
			archive_write_data(ar, it->data, it->len);
		archive_entry_free(e);
	}
	archive_write_close(ar);
	archive_write_free(ar);
}

/* Compresses data as it is into path. */
static void compress_raw(const char *path, const uint8_t *data, size_t size)
{
	struct archive *ar = zstd_writer(path, 1);
	require(ar != NULL, "the temporary archive opens");
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "raw");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, (la_int64_t)size);
	if (archive_write_header(ar, e) == ARCHIVE_OK)
		archive_write_data(ar, data, size);
	archive_entry_free(e);
	archive_write_close(ar);
	archive_write_free(ar);
}

static void write_input(const uint8_t *data, size_t size)
{
	FILE *f = fopen(input_path, "wb");
	require(f != NULL, "the temporary file opens");
	require(fwrite(data, 1, size, f) == size && fclose(f) == 0, "the temporary file is written");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
	struct item items[MAX_ITEMS];
	int n;
	if (size >= 4 && memcmp(data, zstd_magic, 4) == 0) {
		write_input(data, size);
	} else if ((n = untar(data, size, items)) >= 0) {
		make_manifest_true(items, n);
		retar(input_path, items, n);
		items_free(items, n);
	} else {
		compress_raw(input_path, data, size);
	}
	struct analysis *a = NULL;
	char err[1024] = "";
	if (analysis_read_archive(input_path, &a, err, sizeof err) < 0) {
		require(a == NULL && err[0] != '\0', "a refusal says why and returns nothing");
		return 0;
	}
	require(a != NULL, "an accepted archive has an analysis");
	require(analysis_write_archive(again_path, a, 0, err, sizeof err) == 0, "an accepted archive writes back");
	struct analysis *b = NULL;
	require(analysis_read_archive(again_path, &b, err, sizeof err) == 0, "a written-back archive reads");
	require(b->nscenes == a->nscenes && b->nsheets == a->nsheets && b->dims == a->dims && b->nsteps == a->nsteps,
	        "a written-back archive holds the same");
	analysis_free(b);
	analysis_free(a);
	return 0;
}
