/* tarkit.h - unpacking, editing and repacking results archives, for tests that build archives the writer never would. */
#ifndef SB_TARKIT_H
#define SB_TARKIT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>

#include "digest.h"

struct item {
	char name[128];
	unsigned char *data;     /* NUL-terminated copy of the entry */
	size_t len;
	unsigned type;           /* AE_IFREG, AE_IFDIR, AE_IFLNK */
};

struct pack {
	struct item items[12];
	int n;
};

/* The entries of the archive at path, in order (the test fails when libarchive cannot read it whole). */
static inline void tar_unpack(const char *path, struct pack *p)
{
	memset(p, 0, sizeof *p);
	struct archive *ar = archive_read_new();
	archive_read_support_filter_zstd(ar);
	archive_read_support_format_tar(ar);
	assert_int_equal(archive_read_open_filename(ar, path, 10240), ARCHIVE_OK);
	struct archive_entry *e;
	while (archive_read_next_header(ar, &e) == ARCHIVE_OK) {
		assert_true(p->n < 11);
		struct item *it = &p->items[p->n++];
		snprintf(it->name, sizeof it->name, "%s", archive_entry_pathname(e));
		it->len = (size_t)archive_entry_size(e);
		it->data = malloc(it->len + 1);
		assert_non_null(it->data);
		assert_int_equal(archive_read_data(ar, it->data, it->len), (la_ssize_t)it->len);
		it->data[it->len] = '\0';
		it->type = AE_IFREG;
	}
	archive_read_free(ar);
}

static inline void tar_pack_free(struct pack *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->items[i].data);
}

static inline struct item *tar_item_named(struct pack *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->items[i].name, name) == 0)
			return &p->items[i];
	fail_msg("no entry %s", name);
	return NULL;
}

/* Writes p as a zstd tar at path, entries stamped with mtime; a link points at /etc/passwd. */
static inline void tar_repack(const struct pack *p, const char *path, int64_t mtime)
{
	struct archive *ar = archive_write_new();
	archive_write_set_format_pax_restricted(ar);
	archive_write_add_filter_zstd(ar);
	assert_int_equal(archive_write_open_filename(ar, path), ARCHIVE_OK);
	for (int i = 0; i < p->n; i++) {
		const struct item *it = &p->items[i];
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, it->name);
		archive_entry_set_filetype(e, it->type);
		archive_entry_set_perm(e, it->type == AE_IFDIR ? 0755 : 0644);
		archive_entry_set_mtime(e, (time_t)mtime, 0);
		if (it->type == AE_IFLNK)
			archive_entry_set_symlink(e, "/etc/passwd");
		archive_entry_set_size(e, it->type == AE_IFREG ? (la_int64_t)it->len : 0);
		assert_int_equal(archive_write_header(ar, e), ARCHIVE_OK);
		if (it->type == AE_IFREG)
			assert_int_equal(archive_write_data(ar, it->data, it->len), (la_ssize_t)it->len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(ar), ARCHIVE_OK);
	archive_write_free(ar);
}

static inline void tar_set_digest(cJSON *o, const char *key, const void *data, size_t len)
{
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1], text[64];
	digest_bytes(data, len, &d);
	digest_to_hex(&d, hex);
	snprintf(text, sizeof text, "xxh3-128:%s", hex);
	cJSON_ReplaceItemInObjectCaseSensitive(o, key, cJSON_CreateString(text));
}

/* Rewrites manifest.json with every entry's size and digest true, then edit(root) (the lie; NULL: none), then its own
 * digest as the writer computes it: so that the lie alone is what a reader can catch. */
static inline void tar_forge_manifest(struct pack *p, void (*edit)(cJSON *root))
{
	struct item *m = tar_item_named(p, "manifest.json");
	cJSON *root = cJSON_Parse((char *)m->data);
	assert_non_null(root);
	cJSON *entries = cJSON_GetObjectItemCaseSensitive(root, "entries");
	for (int i = 0; i < p->n; i++) {
		cJSON *o = cJSON_GetObjectItemCaseSensitive(entries, p->items[i].name);
		if (!o)
			continue;
		cJSON_ReplaceItemInObjectCaseSensitive(o, "size", cJSON_CreateNumber((double)p->items[i].len));
		tar_set_digest(o, "digest", p->items[i].data, p->items[i].len);
	}
	if (edit)
		edit(root);
	static const char zeros[] = "xxh3-128:00000000000000000000000000000000";
	cJSON_ReplaceItemInObjectCaseSensitive(root, "manifest_digest", cJSON_CreateString(zeros));
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	size_t n = strlen(text);
	free(m->data);
	m->data = malloc(n + 2);
	assert_non_null(m->data);
	memcpy(m->data, text, n);
	memcpy(m->data + n, "\n", 2);
	m->len = n + 1;
	free(text);
	struct digest d;
	char hex[DIGEST_HEX_LEN + 1];
	digest_bytes(m->data, m->len, &d);
	digest_to_hex(&d, hex);
	char *at = strstr((char *)m->data, zeros);
	assert_non_null(at);
	memcpy(at + 9, hex, DIGEST_HEX_LEN);
}

/* Replaces embeddings.npy's header dictionary, keeping keep_data bytes of the original data (the manifest is left
 * as it was: forge it after). */
static inline void tar_with_npy_header(struct pack *p, const char *dict, size_t keep_data)
{
	struct item *it = tar_item_named(p, "embeddings.npy");
	size_t hlen = 128 - 10, old_header = 10 + (size_t)(it->data[8] | it->data[9] << 8);
	size_t data = it->len - old_header < keep_data ? it->len - old_header : keep_data;
	unsigned char *b = malloc(10 + hlen + data);
	assert_non_null(b);
	memcpy(b, "\x93NUMPY\x01\x00", 8);
	b[8] = (unsigned char)hlen;
	b[9] = 0;
	memset(b + 10, ' ', hlen);
	memcpy(b + 10, dict, strlen(dict));
	b[10 + hlen - 1] = '\n';
	memcpy(b + 10 + hlen, it->data + old_header, data);
	free(it->data);
	it->data = b;
	it->len = 10 + hlen + data;
}

#endif
