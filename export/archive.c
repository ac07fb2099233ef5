/* archive.c - NAME.analysis.tar.zst: written atomically and byte-reproducibly, read back only after every check.
 *
 * Format (version 2). A tar archive in pax-restricted form (plain ustar headers: libarchive adds a pax extended
 * header only for what ustar cannot say, which these entries never need), compressed with zstd at level 3 (higher
 * levels zero a large workspace on every write and gain almost nothing on float32 embeddings).
 * Exactly seven entries, in this (sorted byte) order, each a regular file with mode 0644, uid and gid 0, no user or
 * group name, mtime the given time (SOURCE_DATE_EPOCH or 0 for scriptbuild), no atime or ctime:
 *
 *   characters.jsonl per character, in order of first cue: {"character", "cues", "words", "share", "scenes",
 *                    "first_scene", "last_scene", "mentioned_in", "copresence": [{"character", "scenes"}]}.
 *   embeddings.npy   NumPy .npy v1.0, dtype '<f4', C order, shape (scenes, dims), as numpy.save writes it; one row
 *                    per scene in scene order; a scene without an embedding (partial archive) is a row of zeros.
 *   manifest.json    pretty-printed object: format "scriptbuild-analysis", format_version 2, tool_version, partial,
 *                    script {name, title, digest, eighths, pages, runtime_minutes}, counts {scenes, summaries, outline (0/1), sheets, embeddings},
 *                    models {summary, outline, sheet, embedding: {provider, model}}, embedding {dims, dtype "<f4",
 *                    rows}, steps [{kind, target, key, output, tokens_in, tokens_out}], tokens {input, output},
 *                    missing ["summary 3", "outline", "sheet NAME", "embedding 3"] (present only when partial),
 *                    entries {NAME: {size, digest}} for the six other entries, and last manifest_digest: the
 *                    digest of this file as it reads with these 32 hex digits written as zeros, so that no byte of
 *                    any entry goes unchecked.
 *   outline.json     {"model", "output": outline object or null}, one line.
 *   scenes.jsonl     per scene, in order: {"index", "number", "heading", "line", "location", "time",
 *                    "characters": [...], "text_digest", "before_first_heading", "int_ext", "time_of_day", "note",
 *                    "eighths", "action_words", "dialogue_words", "cast": [{"character", "speaking", "cues",
 *                    "words"}]}; index is heading order, 0 for the text before the first heading.
 *   sheets.jsonl     per character: {"character", "model", "stats": {"scenes": [...], "cues", "words"},
 *                    "output": sheet object or null}.
 *   summaries.jsonl  per scene, in order: {"scene": index, "model", "output": summary object or null}.
 *
 * The .jsonl entries hold one compact JSON object per line, each line ending in "\n". Every digest is
 * "xxh3-128:" and 32 lower-case hex digits of XXH3-128 in canonical (big-endian) byte order. Counts count completed
 * outputs; a partial archive lists the rest in "missing". Every byte is a function of the analysis and the mtime
 * only, so the same build gives the same sha256 on any machine with the same zstd, from any directory, at any time. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "analysis.h"
#include "breakdown_entries.h"
#include "digest.h"
#include "jsonfield.h"
#include "manifest.h"
#include "npy.h"
#include "entries.h"

#define ZSTD_LEVEL "3"
#define ENTRY_MAX_BYTES (INT64_C(1) << 28) /* 256 MiB: 10,000 scenes x 3072 dims is 123 MB */
/* All entries together, and what they may expand to from the compressed file: every archive the writer makes fits
 * (JSON text compresses about 5:1, float32 hardly at all), and a small forged file cannot make the reader allocate
 * much before it is refused. */
#define ARCHIVE_MAX_BYTES (INT64_C(1) << 29)
#define EXPANSION_FREE_BYTES (INT64_C(1) << 26)
#define EXPANSION_MAX_RATIO 64

struct blob {
	char *data;
	size_t len;
};

static void blobs_free(struct blob b[ENTRIES])
{
	for (int i = 0; i < ENTRIES; i++) {
		free(b[i].data);
		b[i].data = NULL;
	}
}

static void hex_digest(const void *data, size_t len, char hex[33])
{
	struct digest d;
	digest_bytes(data, len, &d);
	digest_to_hex(&d, hex);
}

/* Rejects what the writer could only turn into an archive the reader refuses. */
static int check_writable(const struct analysis *a, char *err, size_t errlen)
{
	if (!a->script_name || !*a->script_name) {
		snprintf(err, errlen, "the analysis has no script name");
		return -1;
	}
	if (!jf_utf8_valid(a->script_name) || (a->title && !jf_utf8_valid(a->title))) {
		snprintf(err, errlen, "the script name or title is not valid UTF-8");
		return -1;
	}
	if (!jf_is_hex32(a->script_digest)) {
		snprintf(err, errlen, "the script digest is not 32 hex digits");
		return -1;
	}
	if (breakdown_check(a, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < a->nscenes; i++) {
		if (!jf_is_hex32(a->scenes[i].text_digest)) {
			snprintf(err, errlen, "scene %zu: text digest is not 32 hex digits", i + 1);
			return -1;
		}
	}
	for (size_t i = 0; i < a->nsteps; i++)
		if ((unsigned)a->steps[i].kind >= ANALYSIS_KINDS || !jf_is_hex32(a->steps[i].key)
		    || !jf_is_hex32(a->steps[i].output)) {
			snprintf(err, errlen, "step %zu: bad kind or a key/output that is not 32 hex digits", i + 1);
			return -1;
		}
	if (a->dims && a->nscenes && !a->embeddings) {
		snprintf(err, errlen, "the analysis has %zu embedding dimensions but no embedding matrix", a->dims);
		return -1;
	}
	return 0;
}

/* The embedding matrix with rows that have no embedding forced to zero, so they never leak stale values. */
static int encode_embeddings(const struct analysis *a, struct blob *b)
{
	size_t n = a->nscenes * a->dims;
	if (a->dims && a->nscenes > SIZE_MAX / sizeof(float) / a->dims)
		return -1;
	float *m = calloc(n ? n : 1, sizeof *m);
	if (!m)
		return -1;
	for (size_t i = 0; i < a->nscenes; i++)
		if (manifest_has_embedding(a, i))
			memcpy(m + i * a->dims, a->embeddings + i * a->dims, a->dims * sizeof *m);
	unsigned char *out;
	int r = npy_encode(m, a->nscenes, a->dims, &out, &b->len);
	free(m);
	b->data = r < 0 ? NULL : (char *)out;
	return r;
}

static int encode_all(const struct analysis *a, struct blob b[ENTRIES], char *err, size_t errlen)
{
	if (entries_encode_scenes(a, &b[ENTRY_SCENES].data, &b[ENTRY_SCENES].len, err, errlen) < 0
	    || entries_encode_characters(a, &b[ENTRY_CHARACTERS].data, &b[ENTRY_CHARACTERS].len, err, errlen) < 0
	    || entries_encode_summaries(a, &b[ENTRY_SUMMARIES].data, &b[ENTRY_SUMMARIES].len, err, errlen) < 0
	    || entries_encode_outline(a, &b[ENTRY_OUTLINE].data, &b[ENTRY_OUTLINE].len, err, errlen) < 0
	    || entries_encode_sheets(a, &b[ENTRY_SHEETS].data, &b[ENTRY_SHEETS].len, err, errlen) < 0)
		return -1;
	if (encode_embeddings(a, &b[ENTRY_EMBEDDINGS]) < 0) {
		snprintf(err, errlen, "embeddings.npy: out of memory");
		return -1;
	}
	struct manifest_entry ents[ENTRIES];
	memset(ents, 0, sizeof ents);
	for (int i = 0; i < ENTRIES; i++) {
		if (i == ENTRY_MANIFEST)
			continue;
		ents[i].size = b[i].len;
		hex_digest(b[i].data, b[i].len, ents[i].digest);
	}
	if (!(b[ENTRY_MANIFEST].data = manifest_write(a, ents))) {
		snprintf(err, errlen, "manifest.json: out of memory");
		return -1;
	}
	b[ENTRY_MANIFEST].len = strlen(b[ENTRY_MANIFEST].data);
	return 0;
}

static int tar_failed(struct archive *ar, const char *what, char *err, size_t errlen)
{
	const char *why = archive_error_string(ar);
	int e = archive_errno(ar);
	/* libarchive says only "Write error" when write(2) fails: the errno (file too large, disk full) is the news. */
	if (why && e > 0)
		snprintf(err, errlen, "%s: %s: %s", what, why, strerror(e));
	else
		snprintf(err, errlen, "%s: %s", what, why ? why : e ? strerror(e) : "unknown libarchive error");
	return -1;
}

static int write_tar(int fd, const struct blob b[ENTRIES], int64_t mtime, char *err, size_t errlen)
{
	struct archive *ar = archive_write_new();
	if (!ar) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int r = 0;
	if (archive_write_set_format_pax_restricted(ar) != ARCHIVE_OK || archive_write_add_filter_zstd(ar) != ARCHIVE_OK
	    || archive_write_set_filter_option(ar, "zstd", "compression-level", ZSTD_LEVEL) != ARCHIVE_OK
	    || archive_write_open_fd(ar, fd) != ARCHIVE_OK)
		r = tar_failed(ar, "cannot start the archive", err, errlen);
	for (int i = 0; i < ENTRIES && r == 0; i++) {
		struct archive_entry *e = archive_entry_new();
		if (!e) {
			snprintf(err, errlen, "%s: out of memory", entry_names[i]);
			r = -1;
			break;
		}
		archive_entry_set_pathname(e, entry_names[i]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		archive_entry_set_mtime(e, (time_t)mtime, 0);
		archive_entry_set_size(e, (la_int64_t)b[i].len);
		if (archive_write_header(ar, e) != ARCHIVE_OK
		    || archive_write_data(ar, b[i].data, b[i].len) != (la_ssize_t)b[i].len)
			r = tar_failed(ar, entry_names[i], err, errlen);
		archive_entry_free(e);
	}
	/* Closing flushes the compressor: a full disk often shows up only here. */
	if (archive_write_close(ar) != ARCHIVE_OK && r == 0)
		r = tar_failed(ar, "cannot finish the archive", err, errlen);
	archive_write_free(ar);
	return r;
}

/* What fstat said of the last archive this process wrote, just before it was renamed into place. */
static struct stat last_written;

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	/* Some file systems cannot sync a directory at all; the rename is then as durable as they allow. */
	int r = fsync(fd) < 0 && errno != EINVAL ? -1 : 0;
	close(fd);
	return r;
}

/* A temporary archive is ".BASE" TEMP_MARK and six mkstemp characters: a name no user picks, so that the sweep
 * below never considers a user's ".BASE.backup" or ".BASE.orig01". */
#define TEMP_MARK ".scriptbuild-tmp-"
#define TEMP_TRIES 32

/* The temporary file this process is writing, for analysis_abandon_temp in a signal handler: plain storage and a
 * flag, set in that order, because a handler may read them at any moment. */
static char temp_in_progress[4096];
static volatile sig_atomic_t temp_valid;

void analysis_abandon_temp(void)
{
	if (temp_valid)
		unlink(temp_in_progress);
}

static void temp_track(const char *tmp)
{
	temp_valid = 0;
	if (!tmp || strlen(tmp) >= sizeof temp_in_progress)
		return;
	memcpy(temp_in_progress, tmp, strlen(tmp) + 1);
	temp_valid = 1;
}

/* Whether name is one of path's temporary files: "." BASE TEMP_MARK and six characters of mkstemp's alphabet. */
static int is_temp_of(const char *name, const char *base)
{
	size_t n = strlen(base), m = strlen(TEMP_MARK);
	if (name[0] != '.' || strncmp(name + 1, base, n) != 0 || strncmp(name + 1 + n, TEMP_MARK, m) != 0)
		return 0;
	const char *x = name + 1 + n + m;
	if (strlen(x) != 6)
		return 0;
	for (; *x; x++)
		if (!isalnum((unsigned char)*x))
			return 0;
	return 1;
}

/* Whether the open file is one this program wrote: a regular file of ours, empty (killed before the first byte) or
 * starting with zstd's frame magic, as everything the writer puts there does. */
static int looks_like_ours(int fd)
{
	static const unsigned char zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	struct stat st;
	unsigned char head[4];
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
		return 0;
	if (st.st_size == 0)
		return 1;
	return pread(fd, head, 4, 0) == 4 && memcmp(head, zstd_magic, 4) == 0;
}

void analysis_remove_stale_temps(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char *dir = slash ? strndup(path, slash > path ? (size_t)(slash - path) : 1) : strdup(".");
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!is_temp_of(e->d_name, base))
			continue;
		char *tmp = malloc(strlen(dir) + strlen(e->d_name) + 2);
		if (!tmp)
			break;
		sprintf(tmp, "%s/%s", dir, e->d_name);
		/* Its writer holds a lock on it from the moment it exists under this name (see create_temp): a lock we
		 * can take means the writer died (kill -9, a crash) and the file is ours to remove; another run's file in
		 * progress stays. */
		int fd = open(tmp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
		struct flock lk = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
		if (fd >= 0 && looks_like_ours(fd) && fcntl(fd, F_SETLK, &lk) == 0) {
			/* Unlink only if the name still is this file (a writer may have renamed it into place meanwhile). */
			struct stat a, b;
			if (fstat(fd, &a) == 0 && lstat(tmp, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
				unlink(tmp);
		}
		if (fd >= 0)
			close(fd);
		free(tmp);
	}
	if (d)
		closedir(d);
	free(dir);
}

/* Creates and locks a temporary file for path in tmp (a template the caller sized). Between mkstemp and the lock
 * another process's sweep may lock and remove the new file; the lock is then taken on an unlinked file, or not at
 * all, so both are checked and a fresh name is tried. fd, or -1 with errno. */
static int create_temp(char *tmp, size_t prefix)
{
	for (int attempt = 0; attempt < TEMP_TRIES; attempt++) {
		memcpy(tmp + prefix, "XXXXXX", 7);
		int fd = mkstemp(tmp);
		if (fd < 0)
			return -1;
		struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		struct stat a, b;
		if (fcntl(fd, F_SETLK, &lk) == 0 && fstat(fd, &a) == 0 && a.st_nlink > 0 && lstat(tmp, &b) == 0
		    && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			temp_track(tmp);
			return fd;
		}
		close(fd);
	}
	errno = EAGAIN;
	return -1;
}

static int write_atomically(const char *path, const struct blob b[ENTRIES], int64_t mtime, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dirlen = slash ? (size_t)(slash - path) : 0;
	if (!*base) {
		snprintf(err, errlen, "%s: not a file name", path);
		return -1;
	}
	char *dir = slash ? strndup(path, dirlen ? dirlen : 1) : strdup(".");
	/* dir may be NULL (out of memory): measured only once it is known (found by tests/t_failalloc.sh). */
	size_t tlen = (dir ? strlen(dir) : 0) + strlen(base) + strlen(TEMP_MARK) + 10;
	char *tmp = dir ? malloc(tlen) : NULL;
	if (!dir || !tmp) {
		free(dir);
		free(tmp);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	snprintf(tmp, tlen, "%s/.%s%sXXXXXX", dir, base, TEMP_MARK);
	int r = -1;
	char why[512];
	analysis_remove_stale_temps(path);
	int fd = create_temp(tmp, strlen(tmp) - 6);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create a temporary file in %s: %s", path, dir, strerror(errno));
		goto out;
	}
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) < 0) {
		snprintf(err, errlen, "%s: cannot set the mode of %s: %s", path, tmp, strerror(errno));
	} else if (write_tar(fd, b, mtime, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s: cannot write the archive: %s", path, why);
	} else if (fsync(fd) < 0) {
		snprintf(err, errlen, "%s: cannot sync %s: %s", path, tmp, strerror(errno));
	} else if (fstat(fd, &last_written) < 0) {
		snprintf(err, errlen, "%s: cannot stat %s: %s", path, tmp, strerror(errno));
	} else {
		r = 0;
	}
	/* Renamed while still locked: a sweep never sees the name unlocked while it is a temporary file. */
	if (r == 0 && rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
		r = -1;
	}
	if (r < 0)
		unlink(tmp);
	temp_valid = 0;
	if (close(fd) < 0 && r == 0) {
		snprintf(err, errlen, "%s: cannot close %s: %s", path, tmp, strerror(errno));
		r = -1;
	}
	if (r == 0 && sync_dir(dir) < 0) {
		snprintf(err, errlen, "%s: written, but cannot sync its directory %s: %s", path, dir, strerror(errno));
		r = -1;
	}
out:
	free(dir);
	free(tmp);
	return r;
}

int analysis_last_written(struct stat *st)
{
	if (!last_written.st_ino)
		return -1;
	*st = last_written;
	return 0;
}

int analysis_write_archive(const char *path, const struct analysis *a, int64_t mtime, char *err, size_t errlen)
{
	struct blob b[ENTRIES];
	char why[512];
	memset(b, 0, sizeof b);
	if (check_writable(a, why, sizeof why) < 0 || encode_all(a, b, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		blobs_free(b);
		return -1;
	}
	int r = write_atomically(path, b, mtime, err, errlen);
	blobs_free(b);
	return r;
}

static int entry_id_of(const char *name)
{
	for (int i = 0; i < ENTRIES; i++)
		if (strcmp(name, entry_names[i]) == 0)
			return i;
	return -1;
}

/* Reads one entry's data into b (NUL-terminated for the JSON parsers); -1 with err naming it when it is short. */
static int read_data(struct archive *ar, const char *name, int64_t size, struct blob *b, char *err, size_t errlen)
{
	if (!(b->data = malloc((size_t)size + 1))) {
		snprintf(err, errlen, "%s: out of memory for %lld bytes", name, (long long)size);
		return -1;
	}
	size_t got = 0;
	while (got < (size_t)size) {
		la_ssize_t n = archive_read_data(ar, b->data + got, (size_t)size - got);
		if (n < 0)
			return tar_failed(ar, name, err, errlen);
		if (n == 0) {
			snprintf(err, errlen, "%s: truncated (%zu of %lld bytes)", name, got, (long long)size);
			return -1;
		}
		got += (size_t)n;
	}
	b->data[size] = '\0';
	b->len = got;
	return 0;
}

/* Takes the archive apart, refusing anything but the six expected regular files, each once and of sane size, and
 * all of them together no more than budget bytes: sizes are checked before anything is allocated for them. */
static int read_entries(struct archive *ar, int64_t budget, struct blob b[ENTRIES], char *err, size_t errlen)
{
	const char *last = NULL;
	int64_t total = 0;
	for (;;) {
		struct archive_entry *e;
		char where[64];
		int r = archive_read_next_header(ar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (last)
			snprintf(where, sizeof where, "after %s", last);
		else
			snprintf(where, sizeof where, "first entry");
		if (r != ARCHIVE_OK)
			return tar_failed(ar, where, err, errlen);
		if (archive_filter_code(ar, 0) != ARCHIVE_FILTER_ZSTD) {
			snprintf(err, errlen, "%s: not zstd-compressed", where);
			return -1;
		}
		const char *name = archive_entry_pathname(e);
		int id = name ? entry_id_of(name) : -1;
		if (id < 0) {
			snprintf(err, errlen, "%.200s: unexpected entry (an archive holds only characters.jsonl, embeddings.npy, "
			         "manifest.json, outline.json, scenes.jsonl, sheets.jsonl and summaries.jsonl)",
			         name ? name : "(unnamed)");
			return -1;
		}
		if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) || archive_entry_symlink(e)) {
			snprintf(err, errlen, "%s: not a regular file", name);
			return -1;
		}
		if (b[id].data) {
			snprintf(err, errlen, "%s: appears twice", name);
			return -1;
		}
		if (last && id < entry_id_of(last)) {
			snprintf(err, errlen, "%s: out of order (entries are sorted by name)", name);
			return -1;
		}
		const char *uname = archive_entry_uname(e), *gname = archive_entry_gname(e);
		if (archive_entry_perm(e) != 0644 || archive_entry_uid(e) != 0 || archive_entry_gid(e) != 0
		    || (uname && *uname) || (gname && *gname)) {
			snprintf(err, errlen, "%s: header is not mode 0644, uid/gid 0, no user or group name", name);
			return -1;
		}
		int64_t size = archive_entry_size(e);
		if (!archive_entry_size_is_set(e) || size < 0 || size > ENTRY_MAX_BYTES) {
			snprintf(err, errlen, "%s: size %lld is beyond the %lld-byte limit", name, (long long)size,
			         (long long)ENTRY_MAX_BYTES);
			return -1;
		}
		if (size > budget - total) {
			snprintf(err, errlen, "%s: declares %lld bytes, more than the %lld bytes this archive may expand to "
			         "(its compressed size times %d, plus %lld MiB, and never more than %lld MiB in all): a "
			         "decompression bomb or a damaged file", name, (long long)size, (long long)budget,
			         EXPANSION_MAX_RATIO, (long long)(EXPANSION_FREE_BYTES >> 20),
			         (long long)(ARCHIVE_MAX_BYTES >> 20));
			return -1;
		}
		total += size;
		if (read_data(ar, entry_names[id], size, &b[id], err, errlen) < 0)
			return -1;
		last = entry_names[id];
	}
	for (int i = 0; i < ENTRIES; i++)
		if (!b[i].data) {
			snprintf(err, errlen, "%s: missing from the archive", entry_names[i]);
			return -1;
		}
	return 0;
}

static int check_entries(const struct blob b[ENTRIES], const struct manifest *m, char *err, size_t errlen)
{
	for (int i = 0; i < ENTRIES; i++) {
		if (i == ENTRY_MANIFEST)
			continue;
		char hex[33];
		if (m->entries[i].size != b[i].len) {
			snprintf(err, errlen, "%s: size mismatch (manifest says %llu bytes, content is %zu)", entry_names[i],
			         (unsigned long long)m->entries[i].size, b[i].len);
			return -1;
		}
		hex_digest(b[i].data, b[i].len, hex);
		if (strcmp(hex, m->entries[i].digest) != 0) {
			snprintf(err, errlen, "%s: digest mismatch (manifest says " JSON_DIGEST_PREFIX "%s, content is "
			         JSON_DIGEST_PREFIX "%s)", entry_names[i], m->entries[i].digest, hex);
			return -1;
		}
	}
	return 0;
}

static int count_mismatch(const char *field, uint64_t said, uint64_t found, const char *entry, char *err, size_t errlen)
{
	if (said == found)
		return 0;
	snprintf(err, errlen, "manifest.json: counts.%s is %llu but %s holds %llu", field, (unsigned long long)said, entry,
	         (unsigned long long)found);
	return -1;
}

static int cmp_int(const void *x, const void *y)
{
	int a = *(const int *)x, b = *(const int *)y;
	return (a > b) - (a < b);
}

/* Rows the manifest lists as missing have no embedding; every other row has one. The missing list is sorted once
 * and searched per row, so a forged archive with many scenes and entries costs n log n, not n squared. */
static int mark_embeddings(struct analysis *a, const struct manifest *m, char *err, size_t errlen)
{
	a->has_embedding = calloc(a->nscenes ? a->nscenes : 1, sizeof *a->has_embedding);
	int *missing = calloc(m->nmissing ? m->nmissing : 1, sizeof *missing);
	if (!a->has_embedding || !missing) {
		free(missing);
		snprintf(err, errlen, "embeddings.npy: out of memory");
		return -1;
	}
	size_t n = 0;
	for (size_t j = 0; j < m->nmissing; j++) {
		int index;
		char tail;
		if (sscanf(m->missing[j], "embedding %d%c", &index, &tail) == 1)
			missing[n++] = index;
	}
	qsort(missing, n, sizeof *missing, cmp_int);
	int r = 0;
	for (size_t i = 0; i < a->nscenes && r == 0; i++) {
		int index = a->scenes[i].index;
		a->has_embedding[i] = a->dims > 0 && !bsearch(&index, missing, n, sizeof *missing, cmp_int);
		for (size_t d = 0; d < a->dims && !a->has_embedding[i]; d++)
			if (a->embeddings[i * a->dims + d] != 0.0f) {
				snprintf(err, errlen, "embeddings.npy: row %zu is listed as missing but is not zero", i + 1);
				r = -1;
				break;
			}
	}
	free(missing);
	return r;
}

static int check_missing(const struct analysis *a, const struct manifest *m, char *err, size_t errlen)
{
	char **lacks;
	size_t nlacks;
	if (manifest_missing_of(a, &lacks, &nlacks) < 0) {
		snprintf(err, errlen, "manifest.json: out of memory");
		return -1;
	}
	int r = 0;
	if (!a->partial && nlacks) {
		snprintf(err, errlen, "manifest.json: the archive lacks %.100s but \"partial\" is false", lacks[0]);
		r = -1;
	}
	for (size_t i = 0; r == 0 && i < nlacks && i < m->nmissing; i++)
		if (strcmp(lacks[i], m->missing[i]) != 0) {
			snprintf(err, errlen, "manifest.json: missing[%zu] is \"%.100s\" but the entries lack \"%.100s\"", i,
			         m->missing[i], lacks[i]);
			r = -1;
		}
	if (r == 0 && nlacks != m->nmissing) {
		snprintf(err, errlen, "manifest.json: \"missing\" lists %zu steps but the entries lack %zu", m->nmissing, nlacks);
		r = -1;
	}
	manifest_missing_free(lacks, nlacks);
	return r;
}

/* Everything after the tar layer: the manifest first, then each entry against it, then the entries against each other. */
static int decode_all(const struct blob b[ENTRIES], struct analysis *a, struct manifest *m, char *err, size_t errlen)
{
	size_t rows, dims;
	if (manifest_read(b[ENTRY_MANIFEST].data, b[ENTRY_MANIFEST].len, a, m, err, errlen) < 0
	    || check_entries(b, m, err, errlen) < 0
	    || entries_decode_scenes(b[ENTRY_SCENES].data, b[ENTRY_SCENES].len, a, err, errlen) < 0
	    || entries_decode_summaries(b[ENTRY_SUMMARIES].data, b[ENTRY_SUMMARIES].len, a, err, errlen) < 0
	    || entries_decode_outline(b[ENTRY_OUTLINE].data, b[ENTRY_OUTLINE].len, a, err, errlen) < 0
	    || entries_decode_sheets(b[ENTRY_SHEETS].data, b[ENTRY_SHEETS].len, a, err, errlen) < 0
	    || entries_decode_characters(b[ENTRY_CHARACTERS].data, b[ENTRY_CHARACTERS].len, a, err, errlen) < 0
	    || breakdown_check(a, err, errlen) < 0
	    || npy_decode((const unsigned char *)b[ENTRY_EMBEDDINGS].data, b[ENTRY_EMBEDDINGS].len, &rows, &dims,
	                  &a->embeddings, err, errlen) < 0)
		return -1;
	if (rows != m->embedding_rows || dims != m->embedding_dims || rows != a->nscenes) {
		snprintf(err, errlen, "embeddings.npy: shape (%zu, %zu), but the manifest says (%llu, %llu) and there are %zu "
		         "scenes", rows, dims, (unsigned long long)m->embedding_rows, (unsigned long long)m->embedding_dims,
		         a->nscenes);
		return -1;
	}
	if (mark_embeddings(a, m, err, errlen) < 0)
		return -1;
	struct manifest_counts found;
	manifest_counts_of(a, &found);
	if (count_mismatch("scenes", m->counts.scenes, found.scenes, "scenes.jsonl", err, errlen) < 0
	    || count_mismatch("summaries", m->counts.summaries, found.summaries, "summaries.jsonl", err, errlen) < 0
	    || count_mismatch("outline", m->counts.outline, found.outline, "outline.json", err, errlen) < 0
	    || count_mismatch("sheets", m->counts.sheets, found.sheets, "sheets.jsonl", err, errlen) < 0
	    || count_mismatch("embeddings", m->counts.embeddings, found.embeddings, "embeddings.npy", err, errlen) < 0)
		return -1;
	return check_missing(a, m, err, errlen);
}

/* How many bytes the entries of the open archive fd may hold in all. */
static int64_t expansion_budget(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < 0)
		return EXPANSION_FREE_BYTES;
	int64_t compressed = (int64_t)st.st_size;
	if (compressed > (ARCHIVE_MAX_BYTES - EXPANSION_FREE_BYTES) / EXPANSION_MAX_RATIO)
		return ARCHIVE_MAX_BYTES;
	return EXPANSION_FREE_BYTES + compressed * EXPANSION_MAX_RATIO;
}

int analysis_read_archive(const char *path, struct analysis **out, char *err, size_t errlen)
{
	struct blob b[ENTRIES];
	struct manifest m;
	struct analysis *a = NULL;
	int r = -1;
	memset(b, 0, sizeof b);
	memset(&m, 0, sizeof m);
	*out = NULL;
	struct archive *ar = archive_read_new();
	if (!ar) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
	else if (archive_read_support_filter_zstd(ar) != ARCHIVE_OK || archive_read_support_format_tar(ar) != ARCHIVE_OK
	         || archive_read_open_fd(ar, fd, 65536) != ARCHIVE_OK)
		tar_failed(ar, "not a readable .tar.zst", err, errlen);
	else if (read_entries(ar, expansion_budget(fd), b, err, errlen) == 0) {
		if (!(a = calloc(1, sizeof *a)))
			snprintf(err, errlen, "out of memory");
		else
			r = decode_all(b, a, &m, err, errlen);
	}
	archive_read_free(ar);
	if (fd >= 0)
		close(fd);
	blobs_free(b);
	manifest_clear(&m);
	if (r < 0) {
		analysis_free(a);
		return -1;
	}
	*out = a;
	return 0;
}
