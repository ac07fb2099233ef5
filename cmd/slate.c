/* slate.c - a folder of scripts is one run: the scripts are found, named and given archive paths before anything
 * runs, so that two of them can never write one archive or load as one script id. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slate.h"
#include "util.h"

#define SUFFIX ".fountain"

int slate_is_target(const char *arg)
{
	static const char *const words[] = {"summaries", "outline", "sheets", "embeddings"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(arg, words[i]) == 0)
			return 1;
	return strncmp(arg, "scene:", 6) == 0 || strncmp(arg, "sheet:", 6) == 0;
}

static bool has_suffix(const char *name)
{
	size_t n = strlen(name), s = strlen(SUFFIX);
	return n > s && strcmp(name + n - s, SUFFIX) == 0;
}

static void add(struct slate *sl, size_t *cap, char *path)
{
	sl->scripts = xgrow(sl->scripts, cap, sl->n + 1, sizeof(*sl->scripts));
	memset(&sl->scripts[sl->n], 0, sizeof(sl->scripts[0]));
	sl->scripts[sl->n++].path = path;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the .fountain files under dir, sorted, depth first; 0, or -1 with err. */
static int walk(struct slate *sl, size_t *cap, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, ncap = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		names = xgrow(names, &ncap, n + 1, sizeof(*names));
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), by_name);
	int rc = 0;
	size_t dlen = strlen(dir);
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s%s%s", dir, dlen && dir[dlen - 1] == '/' ? "" : "/", names[i]);
		struct stat lst, st;
		if (rc == 0 && lstat(path, &lst) == 0 && S_ISDIR(lst.st_mode)) {
			rc = walk(sl, cap, path, err, errlen);
			free(path);
		} else if (rc == 0 && has_suffix(names[i]) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			add(sl, cap, path);
		} else {
			free(path);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

/* The directory part of a real path, with its final '/'. */
static size_t dir_len(const char *real)
{
	const char *slash = strrchr(real, '/');
	return slash ? (size_t)(slash - real) + 1 : 0;
}

/* Gives every script its path relative to the deepest directory holding them all, and its id. */
static void name_scripts(struct slate *sl)
{
	size_t common = dir_len(sl->scripts[0].real);
	for (size_t i = 1; i < sl->n; i++) {
		const char *a = sl->scripts[0].real, *b = sl->scripts[i].real;
		size_t k = 0;
		while (k < common && a[k] == b[k])
			k++;
		/* Back to the end of a whole directory name both share. */
		while (k > 0 && a[k - 1] != '/')
			k--;
		common = k;
	}
	for (size_t i = 0; i < sl->n; i++) {
		struct slate_script *s = &sl->scripts[i];
		s->relative = xstrdup(s->real + common);
		size_t n = strlen(s->relative);
		s->id = has_suffix(s->relative) ? xstrndup(s->relative, n - strlen(SUFFIX)) : xstrdup(s->relative);
	}
}

int slate_expand(const char *const *args, size_t nargs, struct slate *sl, char *err, size_t errlen)
{
	size_t cap = 0;
	memset(sl, 0, sizeof(*sl));
	sl->many = nargs > 1;
	for (size_t i = 0; i < nargs; i++) {
		struct stat st;
		if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			size_t before = sl->n;
			sl->many = true;
			if (walk(sl, &cap, args[i], err, errlen) < 0)
				return -1;
			if (sl->n == before) {
				snprintf(err, errlen, "%s: no .fountain script in this directory or below it", args[i]);
				return -1;
			}
		} else {
			add(sl, &cap, xstrdup(args[i]));
		}
	}
	for (size_t i = 0; i < sl->n; i++) {
		char *real = realpath(sl->scripts[i].path, NULL);
		if (!real) {
			snprintf(err, errlen, "%s: %s", sl->scripts[i].path, strerror(errno));
			return -1;
		}
		sl->scripts[i].real = real;
		for (size_t j = 0; j < i; j++)
			if (strcmp(sl->scripts[j].real, real) == 0) {
				snprintf(err, errlen, "%s and %s are the same script: give it once", sl->scripts[j].path,
				         sl->scripts[i].path);
				return -1;
			}
	}
	if (sl->n == 0) {
		snprintf(err, errlen, "no script given; try 'scriptbuild -h'");
		return -1;
	}
	if (!sl->many) {
		/* One script: the archive and its script name are what they always were. */
		const char *base = strrchr(sl->scripts[0].path, '/');
		base = base ? base + 1 : sl->scripts[0].path;
		sl->scripts[0].relative = xstrdup(base);
		sl->scripts[0].id = has_suffix(base) ? xstrndup(base, strlen(base) - strlen(SUFFIX)) : xstrdup(base);
		return 0;
	}
	name_scripts(sl);
	for (size_t i = 0; i < sl->n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(sl->scripts[i].id, sl->scripts[j].id) == 0) {
				snprintf(err, errlen, "%s and %s would both be script '%s' and write one archive: rename one",
				         sl->scripts[j].path, sl->scripts[i].path, sl->scripts[i].id);
				return -1;
			}
	return 0;
}

/* mkdir -p of the directories in path before its last '/'; 0, or -1 with err. */
static int make_parents(const char *path, char *err, size_t errlen)
{
	char *p = xstrdup(path);
	for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot make the directory %s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		*slash = '/';
	}
	free(p);
	return 0;
}

char *slate_archive_path(const struct slate *sl, size_t i, const char *out_dir, char *err, size_t errlen)
{
	const struct slate_script *s = &sl->scripts[i];
	if (!out_dir) {
		/* Beside the script: its directory as given, its base name without .fountain. */
		const char *base = strrchr(s->path, '/');
		size_t dir = base ? (size_t)(base - s->path) + 1 : 0;
		base = base ? base + 1 : s->path;
		size_t n = strlen(base);
		if (has_suffix(base))
			n -= strlen(SUFFIX);
		return xasprintf("%.*s%.*s.analysis.tar.zst", (int)dir, s->path, (int)n, base);
	}
	size_t olen = strlen(out_dir);
	char *path = xasprintf("%s%s%s.analysis.tar.zst", out_dir, olen && out_dir[olen - 1] == '/' ? "" : "/", s->id);
	if (make_parents(path, err, errlen) < 0) {
		free(path);
		return NULL;
	}
	return path;
}

void slate_free(struct slate *sl)
{
	for (size_t i = 0; i < sl->n; i++) {
		free(sl->scripts[i].path);
		free(sl->scripts[i].real);
		free(sl->scripts[i].relative);
		free(sl->scripts[i].id);
	}
	free(sl->scripts);
	memset(sl, 0, sizeof(*sl));
}
