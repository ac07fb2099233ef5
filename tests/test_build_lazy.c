/* test_build_lazy.c - a slate's scripts are opened only when the request window needs their steps and closed once
 * done, so the graphs held grow with the work in flight, not with the slate; identical work across scripts is still
 * done once, a stop counts the scripts never opened as skipped, a script that cannot be opened fails alone. Runs the
 * engine itself (builtin provider) with a counter of the graphs alive; the leaders' map is checked on its own. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "build.h"
#include "cache.h"
#include "config.h"
#include "fountain.h"
#include "gate.h"
#include "graph.h"
#include "keymap.h"
#include "loop.h"
#include "net.h"
#include "sbtest.h"

/* A script of `scenes` scenes whose text is its id's: scripts of one id are identical. */
static char *script_text(int id, int scenes)
{
	size_t cap = 256 * (size_t)scenes + 1, len = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	for (int s = 0; s < scenes; s++)
		len += (size_t)snprintf(text + len, cap - len,
		                        "INT. ROOM %d OF HOUSE %d - NIGHT\n\nMara waits by window %d of house %d.\n\n"
		                        "MARA\nHouse %d, room %d: nobody comes.\n\nTEO\nThen we go, %d.\n\n",
		                        s, id, s, id, id, s, s + id);
	return text;
}

/* The slate as the engine's source sees it: each script parsed and its graph made when opened, freed when closed. */
struct slate_fixture {
	size_t n;
	char **texts;
	struct fountain_script **parsed;
	struct build_script *scripts;
	size_t (*wanted)[STEP_KINDS];
	size_t fail_at;          /* the script whose open fails (SIZE_MAX: none) */
	int open_now, max_open, opens, closes;
	int done_said;           /* BUILD_SCRIPT_DONE events */
	int done_while_closed;   /* of them, said of a script whose graph was already gone */
	int failed_open_said;    /* BUILD_STEP_FAILED without a step, naming the script that could not open */
	size_t stop_after_done;  /* interrupt the run once this many scripts were said done (0: never) */
	volatile sig_atomic_t interrupted;
	size_t open_order_bad;   /* opens out of slate order */
	size_t next_expected;
};

static int open_script(void *ctx, size_t i, char *err, size_t errlen)
{
	struct slate_fixture *f = ctx;
	if (i != f->next_expected)
		f->open_order_bad++;
	f->next_expected = i + 1;
	if (i == f->fail_at) {
		snprintf(err, errlen, "script %zu changed since the plan", i);
		return -1;
	}
	struct fountain_error ferr;
	assert_int_equal(fountain_parse(f->texts[i], strlen(f->texts[i]), &f->parsed[i], &ferr), 0);
	f->scripts[i].g = graph_new(f->parsed[i]);
	char gerr[256];
	assert_int_equal(graph_select(f->scripts[i].g, NULL, 0, gerr, sizeof(gerr)), 0);
	f->opens++;
	if (++f->open_now > f->max_open)
		f->max_open = f->open_now;
	return 0;
}

static void close_script(void *ctx, size_t i)
{
	struct slate_fixture *f = ctx;
	assert_non_null(f->scripts[i].g);
	graph_free(f->scripts[i].g);
	fountain_free(f->parsed[i]);
	f->scripts[i].g = NULL;
	f->parsed[i] = NULL;
	f->open_now--;
	f->closes++;
}

static void on_event(void *ctx, const struct build_event *ev)
{
	struct slate_fixture *f = ctx;
	if (ev->type == BUILD_SCRIPT_DONE) {
		f->done_said++;
		if (ev->script != f->fail_at && !f->scripts[ev->script].g)
			f->done_while_closed++;
		if (f->stop_after_done && (size_t)f->done_said >= f->stop_after_done)
			f->interrupted = 1;
	}
	if (ev->type == BUILD_STEP_FAILED && !ev->step && ev->script == f->fail_at && ev->message &&
	    strstr(ev->message, "changed since the plan"))
		f->failed_open_said++;
}

/* n scripts; ids[i] gives script i's text (equal ids: identical scripts). The wanted counts come from a pre-pass that
 * parses, selects and frees, as scriptbuild's does. */
static void fixture_init(struct slate_fixture *f, size_t n, const int *ids, int scenes)
{
	memset(f, 0, sizeof(*f));
	f->n = n;
	f->fail_at = SIZE_MAX;
	f->texts = calloc(n, sizeof(*f->texts));
	f->parsed = calloc(n, sizeof(*f->parsed));
	f->scripts = calloc(n, sizeof(*f->scripts));
	f->wanted = calloc(n, sizeof(*f->wanted));
	for (size_t i = 0; i < n; i++) {
		f->texts[i] = script_text(ids ? ids[i] : (int)i, scenes);
		struct fountain_script *s;
		struct fountain_error ferr;
		assert_int_equal(fountain_parse(f->texts[i], strlen(f->texts[i]), &s, &ferr), 0);
		struct graph *g = graph_new(s);
		char gerr[256];
		assert_int_equal(graph_select(g, NULL, 0, gerr, sizeof(gerr)), 0);
		build_count_wanted(g, f->wanted[i]);
		graph_free(g);
		fountain_free(s);
	}
}

static void fixture_free(struct slate_fixture *f)
{
	for (size_t i = 0; i < f->n; i++) {
		/* Scripts still open when a run stopped are the caller's. */
		if (f->scripts[i].g)
			close_script(f, i);
		free(f->texts[i]);
	}
	free(f->texts);
	free(f->parsed);
	free(f->scripts);
	free(f->wanted);
}

struct engine {
	char *dir;
	struct cache *cache;
	struct run_config rc;
	struct loop *loop;
	struct provider *providers[STEP_KINDS];
};

static void engine_open(struct engine *e)
{
	char err[512];
	memset(e, 0, sizeof(*e));
	e->dir = make_tempdir();
	assert_int_equal(cache_open(e->dir, &e->cache, err, sizeof(err)), 0);
	assert_int_equal(config_init(&e->rc, "builtin", "builtin", err, sizeof(err)), 0);
	e->loop = loop_new();
	assert_non_null(e->loop);
	struct net_config net = {0};
	assert_int_equal(config_create_providers(&e->rc, e->loop, &net, e->providers, err, sizeof(err)), 0);
}

static void engine_close(struct engine *e)
{
	config_destroy_providers(e->providers);
	loop_free(e->loop);
	config_free(&e->rc);
	cache_close(e->cache);
	remove_tree(e->dir);
	free(e->dir);
}

/* Runs the slate with a window of `window`; total gets the slate's sums. */
static enum build_outcome run_slate(struct engine *e, struct slate_fixture *f, int window, struct build_result *total)
{
	struct gate *gate = gate_new(window);
	assert_non_null(gate);
	struct build_options o = {
		.gate = gate, .embed_batch = 64, .embed_batch_tokens = 300000, .config = e->rc.step,
		.provider = e->providers, .loop = e->loop, .cache = e->cache, .report = on_event, .report_ctx = f,
		.interrupted = &f->interrupted,
	};
	struct build_source src = {.scripts = f->scripts, .n = f->n, .wanted = (const size_t (*)[STEP_KINDS])f->wanted,
	                           .open = open_script, .close = close_script, .ctx = f};
	char err[512] = "";
	enum build_outcome outcome = build_run_source(&src, &o, total, err, sizeof(err));
	gate_free(gate);
	return outcome;
}

static size_t wanted_total(const struct slate_fixture *f)
{
	size_t n = 0;
	for (size_t i = 0; i < f->n; i++)
		for (int k = 0; k < STEP_KINDS; k++)
			n += f->wanted[i][k];
	return n;
}

static size_t count_of(const struct build_result *r, size_t (*field)(const struct build_kind_counts *))
{
	size_t n = 0;
	for (int k = 0; k < STEP_KINDS; k++)
		n += field(&r->kinds[k]);
	return n;
}

static size_t done_of(const struct build_kind_counts *k) { return k->cached + k->run; }
static size_t cached_of(const struct build_kind_counts *k) { return k->cached; }
static size_t run_of(const struct build_kind_counts *k) { return k->run; }
static size_t skipped_of(const struct build_kind_counts *k) { return k->skipped; }
static size_t failed_of(const struct build_kind_counts *k) { return k->failed; }
static size_t total_of(const struct build_kind_counts *k) { return k->total; }

/* Window 1: a cold run holds one or two scripts at once, a no-op one; every script opened is closed, in order. */
static void test_window_of_one_holds_one_script(void **state)
{
	(void)state;
	struct engine e;
	engine_open(&e);
	struct slate_fixture f;
	fixture_init(&f, 12, NULL, 4);
	struct build_result r;
	assert_int_equal(run_slate(&e, &f, 1, &r), BUILD_COMPLETE);
	assert_int_equal(count_of(&r, done_of), wanted_total(&f));
	assert_int_equal(count_of(&r, total_of), wanted_total(&f));
	assert_int_equal(f.opens, 12);
	assert_int_equal(f.closes, 12);
	assert_int_equal(f.open_now, 0);
	assert_true(f.max_open <= 2);
	assert_int_equal(f.done_said, 12);
	assert_int_equal(f.done_while_closed, 0);
	assert_int_equal(f.open_order_bad, 0);
	for (size_t i = 0; i < f.n; i++)
		assert_int_equal(count_of(&f.scripts[i].result, run_of), count_of(&f.scripts[i].result, total_of));
	fixture_free(&f);

	/* The same slate again: all from the cache, each script done as it opens, closed before the next opens. */
	fixture_init(&f, 12, NULL, 4);
	assert_int_equal(run_slate(&e, &f, 1, &r), BUILD_COMPLETE);
	assert_int_equal(count_of(&r, cached_of), wanted_total(&f));
	assert_int_equal(f.max_open, 1);
	assert_int_equal(f.closes, 12);
	fixture_free(&f);

	/* A wide window on a no-op still holds one script at a time: nothing is in flight to wait for. */
	fixture_init(&f, 12, NULL, 4);
	assert_int_equal(run_slate(&e, &f, 32, &r), BUILD_COMPLETE);
	assert_int_equal(count_of(&r, cached_of), wanted_total(&f));
	assert_int_equal(f.max_open, 1);
	fixture_free(&f);
	engine_close(&e);
}

/* A cold run with a window of N opens a script only while the window has room: far fewer than the slate at once. */
static void test_cold_run_holds_about_the_window(void **state)
{
	(void)state;
	struct engine e;
	engine_open(&e);
	struct slate_fixture f;
	fixture_init(&f, 40, NULL, 3);
	struct build_result r;
	assert_int_equal(run_slate(&e, &f, 4, &r), BUILD_COMPLETE);
	assert_int_equal(count_of(&r, run_of), wanted_total(&f));
	assert_int_equal(f.opens, 40);
	assert_int_equal(f.closes, 40);
	/* Each open script holds at least one step ready or in flight, and opening stops once they fill the window. */
	assert_true(f.max_open >= 2);
	assert_true(f.max_open <= 4 + 2);
	assert_int_equal(f.done_while_closed, 0);
	fixture_free(&f);
	engine_close(&e);
}

/* Identical scripts are one request per step: open together (a wide window) the second follows the first's steps;
 * opened after the first closed, it finds their results in the cache. Either way nothing runs twice. */
static void test_identical_steps_across_scripts_run_once(void **state)
{
	(void)state;
	const int ids[] = {7, 7, 8, 7};
	int windows[] = {64, 1};
	for (size_t w = 0; w < 2; w++) {
		struct engine e;
		engine_open(&e);
		struct slate_fixture f;
		fixture_init(&f, 4, ids, 5);
		struct build_result r;
		assert_int_equal(run_slate(&e, &f, windows[w], &r), BUILD_COMPLETE);
		/* Scripts 0, 1 and 3 are one script: only scripts 0 and 2 run anything. */
		size_t distinct = 0;
		for (int k = 0; k < STEP_KINDS; k++)
			distinct += f.wanted[0][k] + f.wanted[2][k];
		assert_int_equal(count_of(&r, run_of), distinct);
		assert_int_equal(count_of(&r, done_of), wanted_total(&f));
		/* Which of the identical steps asks is the one that settles first: between them, they run one script. */
		size_t same = 0;
		for (int k = 0; k < STEP_KINDS; k++)
			same += f.wanted[0][k];
		assert_int_equal(count_of(&f.scripts[0].result, run_of) + count_of(&f.scripts[1].result, run_of) +
		                 count_of(&f.scripts[3].result, run_of), same);
		if (windows[w] > 1)
			assert_true(r.kinds[STEP_SUMMARY].shared >= 5);
		assert_int_equal(f.closes, 4);
		fixture_free(&f);
		engine_close(&e);
	}
}

/* An interruption after the first script is done: the scripts never opened count every wanted step as skipped, the
 * totals add up, and the scripts still open are left to the caller. */
static void test_stop_counts_unopened_scripts_as_skipped(void **state)
{
	(void)state;
	struct engine e;
	engine_open(&e);
	struct slate_fixture f;
	fixture_init(&f, 10, NULL, 3);
	f.stop_after_done = 1;
	struct build_result r;
	assert_int_equal(run_slate(&e, &f, 2, &r), BUILD_INCOMPLETE);
	assert_true(r.interrupted);
	assert_true(f.opens < 10);
	assert_int_equal(count_of(&r, total_of), wanted_total(&f));
	assert_int_equal(count_of(&r, done_of) + count_of(&r, skipped_of), wanted_total(&f));
	size_t never_opened = 0;
	for (size_t i = (size_t)f.opens; i < f.n; i++) {
		const struct build_result *sr = &f.scripts[i].result;
		size_t wanted = 0;
		for (int k = 0; k < STEP_KINDS; k++) {
			assert_int_equal(sr->kinds[k].skipped, f.wanted[i][k]);
			assert_int_equal(sr->kinds[k].total, f.wanted[i][k]);
			wanted += f.wanted[i][k];
		}
		never_opened += wanted;
	}
	assert_true(never_opened > 0);
	assert_true(count_of(&r, skipped_of) >= never_opened);
	fixture_free(&f);
	engine_close(&e);
}

/* A script that cannot be opened (it changed since the plan) fails alone, said once; the others are built. */
static void test_script_failing_to_open_fails_alone(void **state)
{
	(void)state;
	struct engine e;
	engine_open(&e);
	struct slate_fixture f;
	fixture_init(&f, 5, NULL, 3);
	f.fail_at = 2;
	struct build_result r;
	assert_int_equal(run_slate(&e, &f, 2, &r), BUILD_INCOMPLETE);
	assert_int_equal(f.failed_open_said, 1);
	assert_int_equal(f.opens, 4);
	assert_int_equal(f.closes, 4);
	size_t wanted2 = 0;
	for (int k = 0; k < STEP_KINDS; k++) {
		assert_int_equal(f.scripts[2].result.kinds[k].failed, f.wanted[2][k]);
		wanted2 += f.wanted[2][k];
	}
	assert_int_equal(count_of(&r, failed_of), wanted2);
	assert_int_equal(count_of(&r, done_of), wanted_total(&f) - wanted2);
	for (size_t i = 0; i < f.n; i++)
		if (i != 2)
			assert_int_equal(count_of(&f.scripts[i].result, done_of), count_of(&f.scripts[i].result, total_of));
	assert_int_equal(f.done_said, 5);
	fixture_free(&f);
	engine_close(&e);
}

/* The map of leaders grows past its first size and forgets a key only for the step that holds it, every other key
 * still found after removals in the middle of probe runs. */
static void test_keymap_grows_and_removes(void **state)
{
	(void)state;
	struct keymap *m = keymap_new(4);
	enum { N = 3000 };
	struct digest *keys = calloc(N, sizeof(*keys));
	for (size_t i = 0; i < N; i++) {
		/* Few distinct low bytes: long probe runs that removals cut through. */
		uint64_t low = (uint64_t)(i % 7);
		memcpy(keys[i].bytes, &low, sizeof(low));
		uint64_t high = (uint64_t)i * 2654435761u;
		memcpy(keys[i].bytes + 8, &high, sizeof(high));
		keymap_set(m, &keys[i], i);
	}
	assert_int_equal(keymap_count(m), N);
	assert_false(keymap_remove_if(m, &keys[5], 6));   /* held by another step: stays */
	for (size_t i = 0; i < N; i += 3)
		assert_true(keymap_remove_if(m, &keys[i], i));
	assert_int_equal(keymap_count(m), N - N / 3);
	for (size_t i = 0; i < N; i++) {
		size_t v = SIZE_MAX;
		bool found = keymap_get(m, &keys[i], &v);
		if (i % 3 == 0) {
			assert_false(found);
		} else {
			assert_true(found);
			assert_int_equal(v, i);
		}
	}
	free(keys);
	keymap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_of_one_holds_one_script),
		cmocka_unit_test(test_cold_run_holds_about_the_window),
		cmocka_unit_test(test_identical_steps_across_scripts_run_once),
		cmocka_unit_test(test_stop_counts_unopened_scripts_as_skipped),
		cmocka_unit_test(test_script_failing_to_open_fails_alone),
		cmocka_unit_test(test_keymap_grows_and_removes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
