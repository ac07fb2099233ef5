/* scriptload - imports scriptbuild results archives into SQLite or PostgreSQL: argument parsing and wiring only. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis.h"
#include "load.h"
#include "stdio_guard.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

#define DEFAULT_TARGET "./analysis.db"

struct options {
	struct load_limits limits;
	const char *target;
	const char *script_id;
	bool check, quiet;
	char **archives;             /* as given: archives and directories */
	int narchives;
};

/* The archives to load: each file given, and the NAME.analysis.tar.zst files under each directory given. */
struct archive_list {
	char **paths;
	size_t n, cap;
};

static void usage(FILE *f)
{
	fputs("usage: scriptload [--db TARGET] [--script-id ID] [-q] ARCHIVE|DIR...\n"
	      "       scriptload --check [-q] ARCHIVE|DIR...\n"
	      "Validates every NAME.analysis.tar.zst (a directory: every one under it), then loads them all into the\n"
	      "database in ONE transaction: all or none.\n"
	      "\n"
	      "  --db TARGET      PATH or sqlite:PATH (default " DEFAULT_TARGET "),\n"
	      "                   or postgresql://... / postgres://... (a libpq URL)\n"
	      "  --script-id ID   load under ID instead of the script name (one archive only)\n"
	      "  --check          validate the archives only; touch no database\n"
	      "  --timeout S      PostgreSQL: longest statement, and longest wait for the server (default 300)\n"
	      "  --lock-timeout S PostgreSQL: longest wait for a lock another session holds (default 60)\n"
	      "  --connect-timeout S  PostgreSQL: longest wait to connect (default 10)\n"
	      "  -q               print errors only\n"
	      "  -h, --help       this help\n"
	      "  -V, --version    print the version\n"
	      "\n"
	      "exit: 0 all loaded, 1 a load failed (rolled back), 2 usage error or an invalid archive (nothing loaded)\n",
	      f);
}

static int parse_seconds(const char *flag, const char *s, long *ms)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v >= 0.001 && v <= 86400)) {
		fprintf(stderr, "scriptload: %s %s: want seconds, from 0.001 to 86400\n", flag, s);
		return -1;
	}
	*ms = (long)(v * 1000);
	return 0;
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{ "db", required_argument, NULL, 'd' },    { "script-id", required_argument, NULL, 's' },
		{ "check", no_argument, NULL, 'c' },       { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },     { "timeout", required_argument, NULL, 't' },
		{ "lock-timeout", required_argument, NULL, 'l' }, { "connect-timeout", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	bool target_given = false;
	int c;
	o->target = DEFAULT_TARGET;
	o->limits = (struct load_limits)LOAD_LIMITS_DEFAULT;
	while ((c = getopt_long(argc, argv, "qhV", longs, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->target = optarg;
			target_given = true;
			break;
		case 's':
			o->script_id = optarg;
			break;
		case 'c':
			o->check = true;
			break;
		case 't':
		case 'l':
		case 'C':
			if (parse_seconds(c == 't' ? "--timeout" : c == 'l' ? "--lock-timeout" : "--connect-timeout", optarg,
			                  c == 't' ? &o->limits.timeout_ms : c == 'l' ? &o->limits.lock_timeout_ms
			                                                       : &o->limits.connect_timeout_ms) < 0)
				return -1;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(stdio_guard_finish("scriptload", EXIT_OK));
		case 'V':
			printf("scriptload %s\n", SCRIPTBUILD_VERSION);
			exit(stdio_guard_finish("scriptload", EXIT_OK));
		default:
			usage(stderr);
			return -1;
		}
	}
	o->archives = argv + optind;
	o->narchives = argc - optind;
	if (o->narchives == 0) {
		fputs("scriptload: no archive given: name one or more NAME.analysis.tar.zst files\n", stderr);
		return -1;
	}
	if (o->script_id && o->narchives > 1) {
		fputs("scriptload: --script-id names one script: give exactly one archive with it\n", stderr);
		return -1;
	}
	struct stat st;
	if (o->script_id && stat(o->archives[0], &st) == 0 && S_ISDIR(st.st_mode)) {
		fputs("scriptload: --script-id names one script: give one archive with it, not a directory\n", stderr);
		return -1;
	}
	if (o->script_id && !*o->script_id) {
		fputs("scriptload: --script-id: the id is empty\n", stderr);
		return -1;
	}
	if (o->check && (target_given || o->script_id)) {
		fputs("scriptload: --check touches no database: drop --db and --script-id\n", stderr);
		return -1;
	}
	if (!*o->target) {
		fputs("scriptload: --db: the target is empty\n", stderr);
		return -1;
	}
	return 0;
}

/* "3 scenes, 3 summaries, outline, 2 sheets, 3 embeddings (1536 dims)" */
static void describe(const struct analysis *a, char *out, size_t outlen)
{
	size_t summaries = 0, sheets = 0, embeddings = 0;
	for (size_t i = 0; i < a->nscenes; i++) {
		summaries += a->summaries[i] != NULL;
		embeddings += a->has_embedding[i];
	}
	for (size_t i = 0; i < a->nsheets; i++)
		sheets += a->sheets[i].json != NULL;
	snprintf(out, outlen, "%zu scenes, %zu summaries, %s, %zu sheets, %zu embeddings (%zu dims)%s", a->nscenes,
	         summaries, a->outline ? "outline" : "no outline", sheets, embeddings, a->dims,
	         a->partial ? ", partial" : "");
}

static int load_all(int argc, char **argv);

int main(int argc, char **argv)
{
	/* Before anything opens a file: a closed stdout must not become the database. */
	stdio_guard_fds();
	return stdio_guard_finish("scriptload", load_all(argc, argv));
}

static bool is_archive_name(const char *name)
{
	static const char suffix[] = ".analysis.tar.zst";
	size_t n = strlen(name), k = sizeof suffix - 1;
	return n > k && strcmp(name + n - k, suffix) == 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends path (taken); 0, or -1 out of memory. */
static int list_add(struct archive_list *l, char *path)
{
	if (!path)
		return -1;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **grown = realloc(l->paths, cap * sizeof *grown);
		if (!grown) {
			free(path);
			return -1;
		}
		l->paths = grown;
		l->cap = cap;
	}
	l->paths[l->n++] = path;
	return 0;
}

static char *joined(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (p)
		snprintf(p, a + b + 2, "%s%s%s", dir, a && dir[a - 1] == '/' ? "" : "/", name);
	return p;
}

/* Adds the archives under dir, sorted, depth first (hidden entries and links to directories skipped); 0, or -1
 * after saying why. */
static int walk(struct archive_list *l, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "scriptload: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	struct archive_list names = { 0 };
	int r = 0;
	for (struct dirent *e; r == 0 && (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.')
			r = list_add(&names, strdup(e->d_name));
	closedir(d);
	if (names.n > 1)
		qsort(names.paths, names.n, sizeof *names.paths, by_name);
	for (size_t i = 0; i < names.n; i++) {
		char *path = r == 0 ? joined(dir, names.paths[i]) : NULL;
		struct stat lst, st;
		if (r == 0 && !path)
			r = -1;
		else if (r == 0 && lstat(path, &lst) == 0 && S_ISDIR(lst.st_mode))
			r = walk(l, path) < 0 ? -2 : 0;
		else if (r == 0 && is_archive_name(names.paths[i]) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			r = list_add(l, path);
			path = NULL;
		}
		free(path);
		free(names.paths[i]);
	}
	free(names.paths);
	if (r == -1)
		fputs("scriptload: out of memory\n", stderr);
	return r < 0 ? -1 : 0;
}

/* The archives the arguments name; 0, or -1 after saying why. */
static int expand(const struct options *o, struct archive_list *l)
{
	for (int i = 0; i < o->narchives; i++) {
		struct stat st;
		if (stat(o->archives[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			size_t before = l->n;
			if (walk(l, o->archives[i]) < 0)
				return -1;
			if (l->n == before) {
				fprintf(stderr, "scriptload: %s: no NAME.analysis.tar.zst in this directory or below it\n",
				        o->archives[i]);
				return -1;
			}
		} else if (list_add(l, strdup(o->archives[i])) < 0) {
			fputs("scriptload: out of memory\n", stderr);
			return -1;
		}
	}
	return 0;
}

static void list_free(struct archive_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
}

static int load_all(int argc, char **argv)
{
	struct options o = { 0 };
	struct archive_list l = { 0 };
	if (parse(argc, argv, &o) < 0)
		return EXIT_USAGE;
	if (expand(&o, &l) < 0) {
		list_free(&l);
		return EXIT_USAGE;
	}
	struct analysis **all = calloc(l.n, sizeof *all);
	if (!all) {
		fputs("scriptload: out of memory\n", stderr);
		list_free(&l);
		return EXIT_FAILED;
	}
	char err[2048], what[256];
	size_t invalid = 0;
	int failed = 0;
	/* Every archive is checked before any database is opened: one bad archive loads nothing. */
	for (size_t i = 0; i < l.n; i++) {
		if (analysis_read_archive(l.paths[i], &all[i], err, sizeof err) < 0) {
			fprintf(stderr, "scriptload: %s: %s\n", l.paths[i], err);
			invalid++;
		} else if (o.check && !o.quiet) {
			describe(all[i], what, sizeof what);
			printf("ok %s: %s\n", l.paths[i], what);
		}
	}
	if (invalid && !o.check)
		fprintf(stderr, "scriptload: %zu of %zu archives invalid: nothing loaded\n", invalid, l.n);
	if (!invalid && !o.check) {
		/* One transaction for the lot: a slate is in the database whole, or not at all. */
		const char *ids[] = { o.script_id };
		size_t bad;
		if (analysis_load_many(o.target, o.script_id ? ids : NULL, (const struct analysis *const *)all, l.n,
		                       &o.limits, &bad, err, sizeof err) < 0) {
			if (bad < l.n || l.n == 1)
				fprintf(stderr, "scriptload: %s: %s\n", l.paths[bad < l.n ? bad : 0], err);
			else
				fprintf(stderr, "scriptload: %s\n", err);
			if (l.n > 1)
				fprintf(stderr, "scriptload: nothing of the %zu archives was loaded (one transaction)\n", l.n);
			failed = 1;
		} else if (!o.quiet) {
			char shown[512];
			load_target_shown(o.target, shown, sizeof shown);
			for (size_t i = 0; i < l.n; i++) {
				describe(all[i], what, sizeof what);
				printf("loaded %s as %s into %s: %s\n", l.paths[i], o.script_id ? o.script_id : all[i]->script_name,
				       shown, what);
			}
		}
	}
	for (size_t i = 0; i < l.n; i++)
		analysis_free(all[i]);
	free(all);
	list_free(&l);
	return invalid ? EXIT_USAGE : failed ? EXIT_FAILED : EXIT_OK;
}
