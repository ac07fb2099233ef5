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

static void test_stamp_is_the_file_this_run_wrote(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_buildlog_stamp.XXXXXX", cache_dir[600], archive[600], err[512];
	assert_non_null(mkdtemp(dir));
	snprintf(cache_dir, sizeof cache_dir, "%s/cache", dir);
	snprintf(archive, sizeof archive, "%s/s.analysis.tar.zst", dir);
	struct fountain_script *script;
	struct fountain_error perr;
	assert_int_equal(fountain_parse(script_text, strlen(script_text), &script, &perr), 0);
	struct graph *g = graph_new(script);
	struct run_config rc;
	assert_int_equal(config_init(&rc, "builtin", "builtin", err, sizeof err), 0);
	struct cache *c;
	assert_int_equal(cache_open(cache_dir, &c, err, sizeof err), 0);
	struct digest identity;
	memset(&identity, 0x5a, sizeof identity);

	/* This run wrote its archive; before it saved its build log, another run renamed its own over it. */
	put_file(archive, "ours");
	struct stat ours;
	assert_int_equal(stat(archive, &ours), 0);
	put_file(archive, "theirs, a different archive");
	assert_int_equal(build_log_save(c, "s", g, rc.step, archive, &ours, &identity, NULL, 0, err, sizeof err), 0);
	struct build_log *rec = build_log_load(c, "s");
	assert_non_null(rec);
	assert_int_equal(build_log_archive_current(rec, archive, &identity), 0);
	build_log_free(rec);

	/* And the control: with no other writer, the same build log says up to date. */
	struct stat now;
	assert_int_equal(stat(archive, &now), 0);
	assert_int_equal(build_log_save(c, "s", g, rc.step, archive, &now, &identity, NULL, 0, err, sizeof err), 0);
	rec = build_log_load(c, "s");
	assert_int_equal(build_log_archive_current(rec, archive, &identity), 1);
	build_log_free(rec);

	cache_close(c);
	config_free(&rc);
	graph_free(g);
	fountain_free(script);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* The record of a complete build vouches for the archive only for the inputs it was built from and the file it saw;
 * a run that writes no archive (targets) keeps it. */
static void test_inputs_current(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_buildlog_inputs.XXXXXX", cache_dir[600], archive[600], err[512];
	assert_non_null(mkdtemp(dir));
	snprintf(cache_dir, sizeof cache_dir, "%s/cache", dir);
	snprintf(archive, sizeof archive, "%s/s.analysis.tar.zst", dir);
	struct fountain_script *script;
	struct fountain_error perr;
	assert_int_equal(fountain_parse(script_text, strlen(script_text), &script, &perr), 0);
	struct graph *g = graph_new(script);
	for (size_t i = 0; i < g->nsteps; i++) {
		g->steps[i].state = STEP_DONE;
		g->steps[i].meta.tokens_in = 10;
		memset(&g->steps[i].key, (int)i + 1, sizeof g->steps[i].key);
	}
	struct run_config rc;
	assert_int_equal(config_init(&rc, "builtin", "builtin", err, sizeof err), 0);
	struct cache *c;
	assert_int_equal(cache_open(cache_dir, &c, err, sizeof err), 0);
	struct digest identity, inputs, other;
	memset(&identity, 0x5a, sizeof identity);
	memset(&inputs, 0x17, sizeof inputs);
	memset(&other, 0x18, sizeof other);
	struct build_log_tally tally;

	put_file(archive, "ours");
	struct stat ours;
	assert_int_equal(stat(archive, &ours), 0);
	/* Not a complete build: no inputs recorded, never current by the record. */
	assert_int_equal(build_log_save(c, "s", g, rc.step, archive, &ours, &identity, NULL, 0, err, sizeof err), 0);
	struct build_log *rec = build_log_load(c, "s");
	assert_int_equal(build_log_inputs_current(rec, archive, &inputs, 7, &tally), 0);
	build_log_free(rec);

	assert_int_equal(build_log_save(c, "s", g, rc.step, archive, &ours, &identity, &inputs, 7, err, sizeof err), 0);
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
	assert_int_equal(build_log_save(c, "s", g, rc.step, NULL, NULL, &identity, NULL, 0, err, sizeof err), 0);
	rec = build_log_load(c, "s");
	assert_int_equal(build_log_inputs_current(rec, archive, &inputs, 7, &tally), 1);
	build_log_free(rec);

	/* Another file at the path (another writer, or the user's) is not the one the record saw. */
	put_file(archive, "theirs");
	rec = build_log_load(c, "s");
	assert_int_equal(build_log_inputs_current(rec, archive, &inputs, 7, &tally), 0);
	build_log_free(rec);

	cache_close(c);
	config_free(&rc);
	graph_free(g);
	fountain_free(script);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamp_is_the_file_this_run_wrote),
		cmocka_unit_test(test_inputs_current),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
