/* html_file.c - from an archive on disk to its report page on disk, written atomically. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "html_report.h"

/* An archive's size is bounded by its reader's entry limits; this only stops an absurd file from being slurped. */
#define ARCHIVE_MAX_BYTES (INT64_C(1) << 31)

/* The hex XXH3-128 of the file at path's bytes (the archive is small: embeddings and JSON lines); 0, or -1 with err. */
static int digest_file(const char *path, char hex[33], char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *data = NULL, chunk[1 << 16];
	size_t len = 0, n;
	int bad = 0;
	while (!bad && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		char *grown = len + n <= ARCHIVE_MAX_BYTES ? realloc(data, len + n) : NULL;
		if (!grown) {
			bad = 1;
			break;
		}
		data = grown;
		memcpy(data + len, chunk, n);
		len += n;
	}
	bad |= ferror(f);
	fclose(f);
	if (bad) {
		free(data);
		snprintf(err, errlen, "%s: cannot read it whole", path);
		return -1;
	}
	struct digest d;
	digest_bytes(data ? data : "", len, &d);
	digest_to_hex(&d, hex);
	free(data);
	return 0;
}

char *html_report_path_for(const char *archive_path)
{
	static const char suffix[] = ".tar.zst";
	size_t n = strlen(archive_path), s = sizeof suffix - 1;
	size_t keep = n > s && strcmp(archive_path + n - s, suffix) == 0 ? n - s : n;
	char *out = malloc(keep + sizeof ".html");
	if (!out)
		return NULL;
	memcpy(out, archive_path, keep);
	memcpy(out + keep, ".html", sizeof ".html");
	return out;
}

/* Writes len bytes to path through a temporary file beside it, so a reader sees the old page or the new one. */
static int write_atomically(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 16);
	if (!tmp) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	const char *slash = strrchr(path, '/');
	size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
	snprintf(tmp, n + 16, "%.*s.%s.XXXXXX", (int)dir, path, path + dir);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create a file beside it: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	int saved = errno;
	int ok = done == len && fchmod(fd, 0644) == 0 && fsync(fd) == 0;
	saved = ok ? 0 : errno ? errno : saved;
	if (close(fd) != 0 && ok) {
		ok = 0;
		saved = errno;
	}
	if (ok && rename(tmp, path) != 0) {
		ok = 0;
		saved = errno;
	}
	if (!ok) {
		unlink(tmp);
		snprintf(err, errlen, "%s: cannot write it: %s", path, strerror(saved ? saved : EIO));
	}
	free(tmp);
	return ok ? 0 : -1;
}

int html_report_write(const char *archive_path, const char *html_path, char *err, size_t errlen)
{
	char hex[33], why[1024];
	struct analysis *a = NULL;
	if (analysis_read_archive(archive_path, &a, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s: %s", archive_path, why);
		return -1;
	}
	if (digest_file(archive_path, hex, err, errlen) < 0) {
		analysis_free(a);
		return -1;
	}
	char *page = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&page, &len);
	int rc = -1;
	if (!f) {
		snprintf(err, errlen, "%s: out of memory", html_path);
	} else {
		rc = html_report_render(a, hex, f, why, sizeof why);
		if (fclose(f) != 0 && rc == 0) {
			rc = -1;
			snprintf(why, sizeof why, "out of memory");
		}
		if (rc < 0)
			snprintf(err, errlen, "%s: %s", html_path, why);
		else
			rc = write_atomically(html_path, page, len, err, errlen);
	}
	free(page);
	analysis_free(a);
	return rc;
}
