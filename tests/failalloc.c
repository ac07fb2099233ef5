/* failalloc.so - an LD_PRELOAD shim that makes one allocation fail, to test every out-of-memory path of a program:
 *
 *   FAILALLOC_NTH=N       malloc, calloc or realloc number N (1-based, counted over the whole process) returns NULL
 *                         with errno ENOMEM; every other one succeeds. Unset or 0: none fails (counting only).
 *   FAILALLOC_COUNT=FILE  at exit, the number of allocations made is written to FILE (to size a sweep).
 *
 * Built without sanitizers; under ASan it also works (ASAN_OPTIONS=verify_asan_link_order=0): it forwards to the
 * next malloc in line, which is ASan's, though the allocations ASan makes inside the functions it intercepts
 * (strdup...) are not counted. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static unsigned long nth, counted;
static int resolving;

/* dlsym may allocate before the real functions are known: it gets memory from here, never freed. */
static _Alignas(max_align_t) char boot[16384];
static size_t boot_used;

static void *boot_alloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (boot_used + n > sizeof(boot))
		return NULL;
	void *p = boot + boot_used;
	boot_used += n;
	return p;
}

static int in_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

static void resolve(void)
{
	resolving = 1;
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	const char *v = getenv("FAILALLOC_NTH");
	nth = v ? strtoul(v, NULL, 10) : 0;
	resolving = 0;
}

/* Whether this allocation is the one to fail. */
static int failing(void)
{
	unsigned long n = __atomic_add_fetch(&counted, 1, __ATOMIC_RELAXED);
	if (n != nth || !nth)
		return 0;
	errno = ENOMEM;
	return 1;
}

void *malloc(size_t n)
{
	if (!real_malloc) {
		if (resolving)
			return boot_alloc(n);
		resolve();
	}
	return failing() ? NULL : real_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	if (!real_calloc) {
		if (resolving)
			return boot_alloc(n * size); /* boot is zeroed static memory */
		resolve();
	}
	return failing() ? NULL : real_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	if (!real_realloc) {
		if (resolving)
			return NULL;
		resolve();
	}
	if (in_boot(p)) {
		void *q = malloc(n);
		if (q)
			memcpy(q, p, n < sizeof(boot) - (size_t)((char *)p - boot) ? n : sizeof(boot) - (size_t)((char *)p - boot));
		return q;
	}
	return failing() ? NULL : real_realloc(p, n);
}

void free(void *p)
{
	if (!p || in_boot(p))
		return;
	if (!real_free)
		resolve();
	real_free(p);
}

__attribute__((destructor)) static void report_count(void)
{
	const char *path = getenv("FAILALLOC_COUNT");
	if (!path)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;
	char line[32];
	int len = snprintf(line, sizeof(line), "%lu\n", counted);
	if (len > 0 && write(fd, line, (size_t)len) < 0)
		len = 0;
	close(fd);
}
