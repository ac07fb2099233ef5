/* scriptload - imports scriptbuild results archives into SQLite or PostgreSQL: argument parsing and wiring only. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	char **archives;
	int narchives;
};

static void usage(FILE *f)
{
	fputs("usage: scriptload [--db TARGET] [--script-id ID] [-q] ARCHIVE...\n"
	      "       scriptload --check [-q] ARCHIVE...\n"
	      "Validates every NAME.analysis.tar.zst, then loads each into the database in one transaction.\n"
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

static int load_all(int argc, char **argv)
{
	struct options o = { 0 };
	if (parse(argc, argv, &o) < 0)
		return EXIT_USAGE;
	struct analysis **all = calloc((size_t)o.narchives, sizeof *all);
	if (!all) {
		fputs("scriptload: out of memory\n", stderr);
		return EXIT_FAILED;
	}
	char err[2048], what[256];
	int invalid = 0, failed = 0;
	/* Every archive is checked before any database is opened: one bad archive loads nothing. */
	for (int i = 0; i < o.narchives; i++) {
		if (analysis_read_archive(o.archives[i], &all[i], err, sizeof err) < 0) {
			fprintf(stderr, "scriptload: %s: %s\n", o.archives[i], err);
			invalid++;
		} else if (o.check && !o.quiet) {
			describe(all[i], what, sizeof what);
			printf("ok %s: %s\n", o.archives[i], what);
		}
	}
	if (invalid && !o.check)
		fprintf(stderr, "scriptload: %d of %d archives invalid: nothing loaded\n", invalid, o.narchives);
	for (int i = 0; i < o.narchives && !invalid && !o.check; i++) {
		if (analysis_load_bounded(o.target, o.script_id, all[i], &o.limits, err, sizeof err) < 0) {
			fprintf(stderr, "scriptload: %s: %s\n", o.archives[i], err);
			failed++;
		} else if (!o.quiet) {
			char shown[512];
			load_target_shown(o.target, shown, sizeof shown);
			describe(all[i], what, sizeof what);
			printf("loaded %s as %s into %s: %s\n", o.archives[i], o.script_id ? o.script_id : all[i]->script_name,
			       shown, what);
		}
	}
	for (int i = 0; i < o.narchives; i++)
		analysis_free(all[i]);
	free(all);
	return invalid ? EXIT_USAGE : failed ? EXIT_FAILED : EXIT_OK;
}
