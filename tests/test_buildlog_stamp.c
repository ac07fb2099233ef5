/* test_buildlog_stamp.c - the build log's archive stamp: it describes the file this run wrote (fstat before the rename),
 * so that when another run replaced the archive in between, the next run does not call the other's file up to
 * date. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "config.h"
#include "fountain.h"
#include "graph.h"
#include "keys.h"
#include "buildlog.h"

static const char script_text[] = "Title: Stamp\n\nINT. ROOM - DAY\n\nANNA\nHello.\n";

static void put_file(const char *path, const char *text)
{
	char tmp[600];
	snprintf(tmp, sizeof tmp, "%s.new", path);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	/* A new inode at the path, as a writer's rename into place makes. */
	assert_int_equal(rename(tmp, path), 0);
}

/* A temporary directory with a cache, the archive's path in it, a parsed script, its graph and the builtin config. */
struct fixture {
	char dir[64], archive[600];
	struct fountain_script *script;
	struct graph *g;
	struct run_config rc;
	struct cache *c;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char cache_dir[600], err[512];
	struct fountain_error perr;
	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/test_buildlog_stamp.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(cache_dir, sizeof cache_dir, "%s/cache", f->dir);
	snprintf(f->archive, sizeof f->archive, "%s/s.analysis.tar.zst", f->dir);
	assert_int_equal(fountain_parse(script_text, strlen(script_text), &f->script, &perr), 0);
	f->g = graph_new(f->script);
	assert_int_equal(config_init(&f->rc, "builtin", "builtin", err, sizeof err), 0);
	assert_int_equal(cache_open(cache_dir, &f->c, err, sizeof err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[700];
	cache_close(f->c);
	config_free(&f->rc);
	graph_free(f->g);
	fountain_free(f->script);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_stamp_is_the_file_this_run_wrote(void **state)
{
	struct fixture *f = *state;
	struct cache *c = f->c;
	struct graph *g = f->g;
	const char *archive = f->archive;
	char err[512];
	struct digest identity;
	memset(&identity, 0x5a, sizeof identity);

	/* This run wrote its archive; before it saved its build log, another run renamed its own over it. */
	put_file(archive, "ours");
	struct stat ours;
	assert_int_equal(stat(archive, &ours), 0);
	put_file(archive, "theirs, a different archive");
	assert_int_equal(build_log_save(c, "s", g, f->rc.step, archive, &ours, &identity, NULL, 0, err, sizeof err), 0);
	struct build_log *rec = build_log_load(c, "s");
	assert_non_null(rec);
	assert_int_equal(build_log_archive_current(rec, archive, &identity), 0);
	build_log_free(rec);

	/* And the control: with no other writer, the same build log says up to date. */
	struct stat now;
	assert_int_equal(stat(archive, &now), 0);
	assert_int_equal(build_log_save(c, "s", g, f->rc.step, archive, &now, &identity, NULL, 0, err, sizeof err), 0);
	rec = build_log_load(c, "s");
	assert_int_equal(build_log_archive_current(rec, archive, &identity), 1);
	build_log_free(rec);
}

/* The record of a complete build vouches for the archive only for the inputs it was built from and the file it saw;
 * a run that writes no archive (targets) keeps it. */
static void test_inputs_current(void **state)
{
	struct fixture *f = *state;
	struct cache *c = f->c;
	struct graph *g = f->g;
	const char *archive = f->archive;
	char err[512];
	for (size_t i = 0; i < g->nsteps; i++) {
		g->steps[i].state = STEP_DONE;
		g->steps[i].meta.tokens_in = 10;
		memset(&g->steps[i].key, (int)i + 1, sizeof g->steps[i].key);
	}
	struct digest identity, inputs, other;
	memset(&identity, 0x5a, sizeof identity);
	memset(&inputs, 0x17, sizeof inputs);
	memset(&other, 0x18, sizeof other);
	struct build_log_tally tally;

	put_file(archive, "ours");
	struct stat ours;
	assert_int_equal(stat(archive, &ours), 0);
	/* Not a complete build: no inputs recorded, never current by the record. */
	assert_int_equal(build_log_save(c, "s", g, f->rc.step, archive, &ours, &identity, NULL, 0, err, sizeof err), 0);
	struct build_log *rec = build_log_load(c, "s");
	assert_int_equal(build_log_inputs_current(rec, archive, &inputs, 7, &tally), 0);
	build_log_free(rec);

	assert_int_equal(build_log_save(c, "s", g, f->rc.step, archive, &ours, &identity, &inputs, 7, err, sizeof err), 0);
	rec = build_log_load(c, "s");
	assert_int_equal(build_log_inputs_current(rec, archive, &inputs, 7, &tally), 1);
	size_t steps = 0;
	for (int k = 0; k < STEP_KINDS; k++)
		steps += tally.steps[k];
	assert_int_equal(steps, g->nsteps);
	assert_int_equal(tally.tokens_in, 10 * g->nsteps);
	assert_memory_equal(&tally.probe, &g->steps[g->outline].key, sizeof tally.probe);
	assert_int_equal(build_log_inputs_current(rec, archive, &other, 7, &tally), 0);
	/* gc or verify changed the cache since: the record no longer vouches for its results. */
	assert_int_equal(build_log_inputs_current(rec, archive, &inputs, 8, &tally), 0);
	build_log_free(rec);

	/* A run with targets writes no archive and keeps the record of the last one. */
	assert_int_equal(build_log_save(c, "s", g, f->rc.step, NULL, NULL, &identity, NULL, 0, err, sizeof err), 0);
	rec = build_log_load(c, "s");
	assert_int_equal(build_log_inputs_current(rec, archive, &inputs, 7, &tally), 1);
	build_log_free(rec);

	/* Another file at the path (another writer, or the user's) is not the one the record saw. */
	put_file(archive, "theirs");
	rec = build_log_load(c, "s");
	assert_int_equal(build_log_inputs_current(rec, archive, &inputs, 7, &tally), 0);
	build_log_free(rec);

}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stamp_is_the_file_this_run_wrote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inputs_current, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
