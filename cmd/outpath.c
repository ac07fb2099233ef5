/* outpath.c - the archive replaces whatever is at its path, so the path is checked before anything runs. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "outpath.h"

#define ARCHIVE_SUFFIX ".tar.zst"

int outpath_check(const char *out, const char *script, bool forced, char *err, size_t errlen)
{
	struct stat so, ss;
	if (stat(out, &so) == 0 && stat(script, &ss) == 0 && so.st_dev == ss.st_dev && so.st_ino == ss.st_ino) {
		snprintf(err, errlen, "-o %s: that is the script %s itself; writing the archive there would replace the "
		         "screenplay: name another file", out, script);
		return -1;
	}
	size_t n = strlen(out), s = strlen(ARCHIVE_SUFFIX);
	if (!forced && (n <= s || strcmp(out + n - s, ARCHIVE_SUFFIX) != 0)) {
		snprintf(err, errlen, "-o %s: not an archive name (want NAME" ARCHIVE_SUFFIX "); the file would be "
		         "replaced: use such a name, or --force-output to write there anyway", out);
		return -1;
	}
	return 0;
}
