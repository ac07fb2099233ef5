/* resident.c - keeps the pages of data.mdb that a writing process has mapped (its file-backed RSS) under a bound.
 *
 * LMDB reads through a read-only MAP_SHARED map of data.mdb (no MDB_WRITEMAP: writes go through pwrite). Keys are
 * digests, so over a long cold run every insert touches a random leaf, and every page of the database ends up
 * mapped into the process: a 187 MB cache adds ~190 MB to a slate's RSS. Dropping those page-table entries loses
 * nothing (the pages stay in the page cache; a mapping of a file always shows its current bytes), but every later
 * touch of a dropped page is a minor fault, and the kernel maps ~64 KiB around each one (fault-around). So the bound
 * is applied after commits only, where the writes that made the run's map grow are and a look costs nothing next to
 * the fsync: a read-only run (a no-op, verify, stats) reads each blob once at a random place, and bounding it would
 * turn each of those reads into a fault (measured on a 187 MB cache: a 1000-script no-op 3x slower, -t verify 7x). */
#define _DEFAULT_SOURCE /* madvise() and MADV_DONTNEED are Linux/BSD, not POSIX */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

/* What a process keeps of the map unless SCRIPTBUILD_CACHE_RESIDENT says otherwise. Below the cache's size the bound
 * costs about one minor fault per random touch (on the 187 MB cache of a cold 1000 x 50 slate, on this VM: 64 MiB
 * +125k faults, +40-60 % CPU; 128 MiB +29k faults, +16-23 % CPU), so the default only caps caches past that one. */
#define DEFAULT_RESIDENT_MIB 256

/* The process's resident file-backed and shared-memory bytes (field 3 of /proc/self/statm: RssFile + RssShmem, the
 * map's pages are among them whether data.mdb is on a disk or a tmpfs); 0 when /proc cannot tell. */
static uint64_t resident_shared(void)
{
	char buf[256];
	unsigned long long pages = 0;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%*s %*s %llu", &pages) != 1)
		return 0;
	return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Where this process maps data.mdb: the /proc/self/maps line of its inode (mdb_env_info's me_mapaddr is only the
 * address a MDB_FIXEDMAP file asks for, NULL otherwise, and LMDB tells no other way); NULL when none is found. */
static char *map_start(struct cache *c, uint64_t *len)
{
	mdb_filehandle_t fd;
	struct stat st;
	char line[4352];
	char *start = NULL;
	FILE *maps;

	if (mdb_env_get_fd(c->env, &fd) != 0 || fstat(fd, &st) != 0 || !(maps = fopen("/proc/self/maps", "re")))
		return NULL;
	while (!start && fgets(line, sizeof line, maps)) {
		unsigned long long lo, hi, ino;
		int path = 0;
		size_t n = strlen(line);
		if (sscanf(line, "%llx-%llx %*s %*s %*s %llu %n", &lo, &hi, &ino, &path) == 3 && path &&
		    ino == (unsigned long long)st.st_ino && n >= 10 && !strcmp(line + n - 10, "/data.mdb\n")) {
			start = (char *)(uintptr_t)lo;
			*len = hi - lo;
		}
	}
	fclose(maps);
	return start;
}

/* Drops this process's page-table entries for the used part of the map.
 * posix_madvise(POSIX_MADV_DONTNEED) will not do: glibc makes it a no-op on Linux (the kernel's MADV_DONTNEED
 * discards, which POSIX's advice must not), so it is madvise() itself. */
static void drop_mapped_pages(struct cache *c)
{
#ifdef MADV_DONTNEED
	MDB_envinfo info;
	MDB_stat st;
	uint64_t len = 0;
	char *start;

	if (!c->env || mdb_env_info(c->env, &info) != 0 || mdb_env_stat(c->env, &st) != 0 || !(start = map_start(c, &len)))
		return;
	/* Pages past the last one in use were never touched. */
	uint64_t used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	if (used < len)
		len = (used + (uint64_t)sysconf(_SC_PAGESIZE) - 1) / (uint64_t)sysconf(_SC_PAGESIZE) *
		      (uint64_t)sysconf(_SC_PAGESIZE);
	/* Failing only means the pages stay: nothing to report. */
	madvise(start, (size_t)len, MADV_DONTNEED);
#else
	(void)c;
#endif
}

int store_resident_init(struct cache *c, char *err, size_t errlen)
{
	const char *v = getenv("SCRIPTBUILD_CACHE_RESIDENT");
	unsigned long long mib = DEFAULT_RESIDENT_MIB;

	if (v && *v) {
		char *end;
		if (!strcmp(v, "off"))
			mib = 0;
		else if (v[0] < '0' || v[0] > '9' || (mib = strtoull(v, &end, 10), *end) || mib > ((uint64_t)1 << 40)) {
			snprintf(err, errlen, "SCRIPTBUILD_CACHE_RESIDENT=%s: not a number of MiB or 'off'; set it to the "
			         "MiB of the cache this process may keep mapped (default %d) or unset it", v,
			         DEFAULT_RESIDENT_MIB);
			return -1;
		}
	}
	c->resident_bound = (uint64_t)mib << 20;
	c->resident_base = c->resident_bound ? resident_shared() : 0;
	return 0;
}

void store_resident_bound(struct cache *c)
{
	if (!c->resident_bound)
		return;
	uint64_t shared = resident_shared();
	/* Without /proc nothing can be measured, nor the map found: left as it is. */
	if (!shared || shared < c->resident_base + c->resident_bound)
		return;
	drop_mapped_pages(c);
	/* What stays (program text, libraries) is the base the map's growth is measured from. */
	c->resident_base = resident_shared();
}
