/* build.c - the scheduler: a ready queue ordered by script, then critical path, at most a window of jobs in flight
 * on one loop, completions that release dependants, finished results written to the cache in one transaction per
 * loop turn. A slate's scripts share the queue, the window and the rate budget; a step is named by its index in the
 * slate (the script's base plus its index in the script's graph). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "admission.h"
#include "build.h"
#include "cache.h"
#include "estimate.h"
#include "float32.h"
#include "fountain.h"
#include "fountain_clean.h"
#include "gate.h"
#include "job.h"
#include "keymap.h"
#include "loop.h"
#include "pricing.h"
#include "prompts.h"
#include "buildlog.h"
#include "report.h"
#include "remote.h"
#include "util.h"
#include "validate.h"

/* Results fetched from the remote cache written per LMDB transaction at most (each commit is an fsync). */
#define FETCHED_PER_WRITE 256

/* A step waiting for the remote cache's answer. */
struct remote_lookup {
	struct runner *run;
	size_t step;
};

/* What the run keeps per step of an open script, beside the step itself. */
struct step_run {
	size_t follower_head;         /* first step following this one, NO_STEP for none */
	size_t follower_next;         /* next step following the same leader */
	int64_t await_until;          /* when it stops waiting for another process's result (loop ms) */
	bool claimed;                 /* this process claimed the step's request */
	bool unclaimed;               /* waited its time: sends its own request without a claim */
};

/* One script of the slate as the runner sees it. Its graph exists from the moment the run opens it (when the window
 * needs its steps) until it is closed (done, and its BUILD_SCRIPT_DONE said). */
struct script_run {
	struct graph *g;              /* NULL before it opens and after it closes */
	const struct build_log *previous;
	struct build_result *r;       /* its own counts */
	size_t wanted[STEP_KINDS];    /* its wanted steps per kind, known before it opens */
	size_t base;                  /* the slate index of its first step (given when it opens) */
	struct step_run *steps;       /* [g->nsteps] while open */
	unsigned char (*remote_keys)[SHA256_BYTES];  /* [g->nsteps] with a remote: each step's name there */
	struct remote_lookup *lookups;               /* [g->nsteps] with a remote: a lookup's context, per step */
	size_t finished, total;       /* its wanted steps */
	size_t summaries_open;        /* wanted summaries not finished: its embeddings wait for them to batch */
	bool opened;                  /* open was called (closed or not since) */
	bool started;                 /* a step finished or went out */
	bool done;                    /* every wanted step is final */
};

struct runner {
	const struct build_source *src;
	struct script_run *scripts;
	size_t nscripts;
	size_t next_open;             /* scripts before it were opened (in slate order) */
	size_t open_now;              /* scripts open (their graph held) */
	size_t nsteps;                /* of the scripts opened so far */
	size_t *script_of;            /* [nsteps] -> script */
	size_t capsteps;
	size_t *done_scripts;         /* scripts that became done since the last BUILD_SCRIPT_DONE events */
	size_t ndone_scripts;
	size_t scripts_done, scripts_running;
	bool embed_due;               /* some script's batched embeddings can gain no more inputs: send a batch */
	struct keymap *leaders;       /* action key -> the step whose request answers every step with that key (steps
	                               * of open scripts only: a closed script's leader is final and its result cached) */
	struct unit **pending;        /* units to send this turn, once their requests are claimed */
	size_t npending, cappending;
	size_t *awaiting;             /* steps waiting for another process's result */
	size_t nawaiting, capawaiting;
	struct digest *release;       /* claims of closed scripts' steps that did not end in a stored result */
	size_t nrelease, caprelease;
	bool claims_off;              /* claiming failed once: the run goes on without */
	int64_t polled_ms;            /* when the awaited results were last looked for */
	const struct build_options *o;
	struct build_result *r;
	size_t *heap;                 /* ready steps, highest priority first */
	size_t nheap, capheap;
	size_t *batch;                /* embedding steps waiting for a request */
	size_t nbatch, capbatch;
	struct cache_put *puts;       /* finished this loop turn, not yet written */
	size_t *put_steps;            /* the step of each put */
	size_t computed_puts;         /* of them, results computed here (the others were fetched from the remote) */
	size_t nputs, capputs;
	struct digest *hits;          /* actions served from the cache: their last_used is refreshed at the end */
	size_t nhits, caphits;
	struct digest *checked_outputs;  /* cached results result_check passed this run, recorded at the end ... */
	struct digest *checked_stamps;   /* ... under the stamp of that check, so later runs need not check them again */
	size_t nchecked, capchecked;
	int inflight;
	int queued;                   /* of inflight, jobs waiting for a message batch: the window does not count them */
	int failures;
	bool stop;
	size_t finished, total;
	int cache_failed;
	char cache_error[512];
	int64_t now;                  /* unix seconds when the run started */
	double inflight_cost;         /* estimated USD of the requests in flight (max_cost) */
	bool warned_budget;           /* the 80 % warning was given */
	enum rl_limit waiting_on;     /* the rate limit the status line last said the run waits for */
	int64_t waiting_said_ms;      /* when it said so */
};

/* One job in flight and the steps it serves (several for an embedding batch). */
struct unit {
	struct job job;
	struct runner *run;
	size_t *steps;
	size_t nsteps;
	const cJSON **summaries;
	char **texts;
	struct timespec started;
	double estimated_cost;        /* what max_cost counted for it while in flight */
	bool queued;                  /* its provider queues it for a message batch */
};

static void settle(struct runner *run, size_t s);
static void finish(struct runner *run, size_t s, enum step_state state);
static void bisect_batch(struct runner *run, struct unit *u);
static void not_cached(struct runner *run, size_t s);
static void on_remote(void *ctx, enum remote_answer answer, char *data, size_t len, const char *meta);
static void queue_put(struct runner *run, size_t s);

#define NO_STEP SIZE_MAX

static double now_seconds(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static struct script_run *script_of(const struct runner *run, size_t s)
{
	return &run->scripts[run->script_of[s]];
}

static struct graph *graph_of(const struct runner *run, size_t s)
{
	return script_of(run, s)->g;
}

static struct step *step_at(const struct runner *run, size_t s)
{
	const struct script_run *sc = script_of(run, s);
	return &sc->g->steps[s - sc->base];
}

static struct step_run *run_of(const struct runner *run, size_t s)
{
	const struct script_run *sc = script_of(run, s);
	return &sc->steps[s - sc->base];
}

static unsigned char *remote_key_of(const struct runner *run, size_t s)
{
	const struct script_run *sc = script_of(run, s);
	return sc->remote_keys[s - sc->base];
}

/* Appends s to a list of steps that grows as needed. */
static void push_step(size_t **list, size_t *n, size_t *cap, size_t s)
{
	*list = xgrow(*list, cap, *n + 1, sizeof(**list));
	(*list)[(*n)++] = s;
}

/* An event about step s (NO_STEP: none) or, for BUILD_SCRIPT_DONE, about script. */
static void emit_about(struct runner *run, enum build_event_type type, size_t s, size_t script, const char *message,
                       size_t batch)
{
	if (!run->o->report)
		return;
	struct build_event ev = {
		.type = type, .step = s == NO_STEP ? NULL : step_at(run, s), .message = message, .batch = batch,
		.finished = run->finished, .total = run->total, .retries = run->r->retries,
		.script = s == NO_STEP ? script : run->script_of[s], .scripts = run->nscripts,
		.scripts_done = run->scripts_done, .scripts_running = run->scripts_running,
	};
	run->o->report(run->o->report_ctx, &ev);
}

static void emit(struct runner *run, enum build_event_type type, size_t s, const char *message, size_t batch)
{
	emit_about(run, type, s, SIZE_MAX, message, batch);
}

/* A script's first step went out or finished: it counts as running until it is done. */
static void script_started(struct runner *run, struct script_run *sc)
{
	if (sc->started)
		return;
	sc->started = true;
	run->scripts_running++;
}

/* The earliest script first, so that scripts finish (and their archives appear) one by one while the window stays
 * full with the next ones' steps; within a script, the longest path to its end first. */
static bool heap_before(const struct runner *run, size_t a, size_t b)
{
	if (run->script_of[a] != run->script_of[b])
		return run->script_of[a] < run->script_of[b];
	const struct step *x = step_at(run, a), *y = step_at(run, b);
	if (x->priority != y->priority)
		return x->priority > y->priority;
	return a < b;
}

static void heap_push(struct runner *run, size_t s)
{
	run->heap = xgrow(run->heap, &run->capheap, run->nheap + 1, sizeof(*run->heap));
	size_t i = run->nheap++;
	run->heap[i] = s;
	while (i > 0 && heap_before(run, run->heap[i], run->heap[(i - 1) / 2])) {
		size_t p = (i - 1) / 2, t = run->heap[p];
		run->heap[p] = run->heap[i];
		run->heap[i] = t;
		i = p;
	}
}

static size_t heap_pop(struct runner *run)
{
	size_t top = run->heap[0];
	run->heap[0] = run->heap[--run->nheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < run->nheap && heap_before(run, run->heap[l], run->heap[m]))
			m = l;
		if (r < run->nheap && heap_before(run, run->heap[r], run->heap[m]))
			m = r;
		if (m == i)
			break;
		size_t t = run->heap[m];
		run->heap[m] = run->heap[i];
		run->heap[i] = t;
		i = m;
	}
	return top;
}

/* Counts a step that reached state in the totals and in its script's counts. */
static void count_final(struct build_result *r, const struct step *st, enum step_state state)
{
	struct build_kind_counts *k = &r->kinds[st->kind];
	switch (state) {
	case STEP_DONE:
		if (st->cached)
			k->cached++;
		else
			k->run++;
		if (st->shared)
			k->shared++;
		break;
	case STEP_FAILED:
		k->failed++;
		break;
	case STEP_SKIPPED:
		k->skipped++;
		break;
	case STEP_STALE:
		k->stale++;
		break;
	default:
		break;
	}
}

static void give_followers(struct runner *run, size_t leader);
static int accept_output(struct step *st, char *output, size_t len);
static void drop_output(struct step *st);
static void fail_step(struct runner *run, size_t s, const char *why);

/* A step reached a final state: count it, let the steps waiting on its request and its dependants move on. */
static void finish(struct runner *run, size_t s, enum step_state state)
{
	struct step *st = step_at(run, s);
	struct script_run *sc = script_of(run, s);
	st->state = state;
	run->finished++;
	sc->finished++;
	script_started(run, sc);
	if (st->kind == STEP_SUMMARY && --sc->summaries_open == 0)
		run->embed_due = true;
	count_final(run->r, st, state);
	if (sc->r != run->r)
		count_final(sc->r, st, state);
	if (sc->finished == sc->total && !sc->done) {
		sc->done = true;
		run->scripts_done++;
		run->scripts_running--;
		run->done_scripts[run->ndone_scripts++] = run->script_of[s];
	}
	switch (state) {
	case STEP_DONE:
		emit(run, BUILD_STEP_DONE, s, NULL, 1);
		break;
	case STEP_FAILED:
		emit(run, BUILD_STEP_FAILED, s, st->error, 1);
		break;
	case STEP_STALE:
		emit(run, BUILD_STEP_STALE, s, st->why, 1);
		break;
	default:
		break;
	}
	give_followers(run, s);
	for (size_t u = 0; u < st->nusers; u++) {
		struct step *user = &sc->g->steps[st->users[u]];
		if (user->wanted && --user->unfinished_deps == 0)
			settle(run, sc->base + st->users[u]);
	}
}

/* Takes ownership of output as st's result. Returns -1 when a summary is not a JSON object. */
static int accept_output(struct step *st, char *output, size_t len)
{
	st->output = output;
	st->output_len = len;
	if (st->kind == STEP_SUMMARY) {
		st->parsed = cJSON_ParseWithLength(output, len);
		if (!cJSON_IsObject(st->parsed))
			return -1;
	}
	digest_bytes(output, len, &st->output_digest);
	return 0;
}

static void drop_output(struct step *st)
{
	free(st->output);
	st->output = NULL;
	st->output_len = 0;
	cJSON_Delete(st->parsed);
	st->parsed = NULL;
}

/* Within a run, a step whose action key another step already asked for waits for that request instead of sending its
 * own: two scripts (or two scenes) with the same text and configuration are one request. true when s is taken care
 * of (it follows the other step, or took its finished result); false when s is now the one that asks. */
static bool follow_identical(struct runner *run, size_t s)
{
	struct step *st = step_at(run, s);
	size_t leader;
	if (run->o->dry_run || run->o->frozen)
		return false;
	if (keymap_get(run->leaders, &st->key, &leader) && leader != s) {
		const struct step *ls = step_at(run, leader);
		if (ls->state == STEP_READY || ls->state == STEP_BATCHED || ls->state == STEP_RUNNING ||
		    ls->state == STEP_AWAITING) {
			st->state = STEP_FOLLOWING;
			run_of(run, s)->follower_next = run_of(run, leader)->follower_head;
			run_of(run, leader)->follower_head = s;
			return true;
		}
		if (ls->state == STEP_DONE && ls->output) {
			run_of(run, leader)->follower_head = s;
			run_of(run, s)->follower_next = NO_STEP;
			give_followers(run, leader);
			return true;
		}
	}
	/* None asked, or the one that did failed: this step asks. */
	keymap_set(run->leaders, &st->key, s);
	return false;
}

/* The leader reached a final state: the steps following it share it. */
static void give_followers(struct runner *run, size_t leader)
{
	const struct step *ls = step_at(run, leader);
	size_t f = run_of(run, leader)->follower_head;
	run_of(run, leader)->follower_head = NO_STEP;
	while (f != NO_STEP) {
		size_t next = run_of(run, f)->follower_next;
		struct step *st = step_at(run, f);
		if (ls->state == STEP_DONE) {
			char *copy = xmalloc(ls->output_len + 1);
			memcpy(copy, ls->output, ls->output_len);
			copy[ls->output_len] = '\0';
			if (accept_output(st, copy, ls->output_len) < 0) {
				drop_output(st);
				finish(run, f, STEP_SKIPPED);
			} else {
				st->meta = ls->meta;
				st->cached = st->shared = true;
				finish(run, f, STEP_DONE);
			}
		} else if (ls->state == STEP_FAILED) {
			char why[700];
			snprintf(why, sizeof(why), "%s: its request is %s's, which failed", st->label, ls->label);
			fail_step(run, f, why);
		} else {
			finish(run, f, STEP_SKIPPED);
		}
		f = next;
	}
}

static void fail_step(struct runner *run, size_t s, const char *why)
{
	struct step *st = step_at(run, s);
	free(st->error);
	st->error = xstrdup(why);
	run->failures++;
	if (run->o->keep_going > 0 && run->failures >= run->o->keep_going)
		run->stop = true;
	finish(run, s, STEP_FAILED);
}

static void explain(struct runner *run, size_t s)
{
	struct step *st = step_at(run, s);
	free(st->why);
	st->why = build_log_explain(script_of(run, s)->previous, graph_of(run, s), st, &run->o->config[st->kind]);
}

/* The job fields a step's analysis reads; summaries points at storage for its dependencies' outputs. */
static void fill_inputs(const struct runner *run, size_t s, struct job *job, const cJSON **summaries)
{
	const struct step *st = step_at(run, s);
	const struct graph *g = graph_of(run, s);
	job->kind = st->kind;
	job->label = st->label;
	job->params = &run->o->config[st->kind].params;
	job->script = g->script;
	job->scene = st->scene;
	job->character = st->character;
	for (size_t d = 0; d < st->ndeps; d++)
		summaries[d] = g->steps[st->deps[d]].parsed;
	job->summaries = st->ndeps ? summaries : NULL;
	job->nsummaries = st->ndeps;
}

static char *render_prompt(const struct runner *run, size_t s)
{
	const struct step *st = step_at(run, s);
	struct job job = {0};
	const cJSON **summaries = xcalloc(st->ndeps ? st->ndeps : 1, sizeof(*summaries));
	fill_inputs(run, s, &job, summaries);
	char *text = prompt_render(&job);
	free(summaries);
	if (!text)
		out_of_memory();
	return text;
}

/* s was served from a cache: what its result cost is saved, in the totals and its script's counts. */
static void count_saved(struct runner *run, size_t s)
{
	const struct step *st = step_at(run, s);
	struct build_result *sr = script_of(run, s)->r;
	run->r->tokens_saved_in += st->meta.tokens_in;
	run->r->tokens_saved_out += st->meta.tokens_out;
	if (sr != run->r) {
		sr->tokens_saved_in += st->meta.tokens_in;
		sr->tokens_saved_out += st->meta.tokens_out;
	}
}

/* Every dependency of s is final: look its result up, or queue it to run. */
static void settle(struct runner *run, size_t s)
{
	struct step *st = step_at(run, s);
	struct graph *g = graph_of(run, s);
	const struct build_options *o = run->o;
	for (size_t d = 0; d < st->ndeps; d++) {
		const struct step *dep = &g->steps[st->deps[d]];
		if (dep->state == STEP_FAILED || dep->state == STEP_SKIPPED) {
			finish(run, s, STEP_SKIPPED);
			return;
		}
		if (dep->state == STEP_STALE && !dep->remote) {
			/* Its key cannot be known yet, but the reason can, and it must be the one a real run gives. */
			explain(run, s);
			finish(run, s, STEP_STALE);
			return;
		}
	}
	if (run->cache_failed) {
		finish(run, s, STEP_SKIPPED);
		return;
	}
	if (st->kind != STEP_EMBEDDING && strcmp(o->config[st->kind].provider, "builtin") != 0)
		st->prompt = render_prompt(run, s);
	step_action_keys(g, st, &o->config[st->kind], st->prompt, &st->key, o->remote ? remote_key_of(run, s) : NULL);

	char *data = NULL;
	size_t len = 0;
	char err[512];
	/* The stamp depends on the record's provider, known after the lookup: look up under the step's own provider (a
	 * cached record's provider is the configured one unless the configuration changed) and check the record's. */
	struct digest stamp;
	bool checked = false;
	result_check_stamp(st->kind, o->config[st->kind].provider, &stamp);
	enum cache_lookup found = cache_get_checked(o->cache, &st->key, &stamp, &st->meta, &data, &len, &checked, err,
	                                            sizeof(err));
	if (found == CACHE_ERROR) {
		run->cache_failed = 1;
		run->stop = true;
		snprintf(run->cache_error, sizeof(run->cache_error), "%s", err);
		finish(run, s, STEP_SKIPPED);
		return;
	}
	if (found == CACHE_HIT && strcmp(st->meta.provider, o->config[st->kind].provider) != 0) {
		struct digest own;
		result_check_stamp(st->kind, st->meta.provider, &own);
		if (!digest_equal(&own, &stamp))
			checked = false;
		stamp = own;
	}
	char invalid[300];
	if (found == CACHE_HIT && !checked &&
	    result_check(st->kind, st->meta.provider, data, len, invalid, sizeof(invalid)) < 0) {
		/* Cached by an earlier version under rules it no longer meets: never served, run again and replaced. */
		free(data);
		data = NULL;
		found = CACHE_MISS;
		if (o->explain) {
			free(st->why);
			st->why = xasprintf("its cached result is invalid now (%s)", invalid);
		}
	}
	if (found == CACHE_HIT && !checked) {
		size_t cap = run->capchecked;
		run->checked_outputs = xgrow(run->checked_outputs, &run->capchecked, run->nchecked + 1,
		                             sizeof(*run->checked_outputs));
		run->checked_stamps = xgrow(run->checked_stamps, &cap, run->nchecked + 1, sizeof(*run->checked_stamps));
		run->checked_outputs[run->nchecked] = st->meta.output;
		run->checked_stamps[run->nchecked++] = stamp;
	}
	if (found == CACHE_HIT) {
		if (accept_output(st, data, len) == 0) {
			st->cached = true;
			count_saved(run, s);
			/* LRU at the resolution of an hour is enough for gc, and spares a no-op run a write. */
			if (st->meta.last_used < run->now - CACHE_LAST_USED_RESOLUTION) {
				run->hits = xgrow(run->hits, &run->caphits, run->nhits + 1, sizeof(*run->hits));
				run->hits[run->nhits++] = st->key;
			}
			finish(run, s, STEP_DONE);
			return;
		}
		/* A cached summary that is not JSON is damage we refuse to build on: run it again. */
		drop_output(st);
	}
	if (follow_identical(run, s))
		return;
	if (o->remote) {
		/* The answer comes back through the loop; the step waits for it like a request in flight. */
		struct remote_lookup *lk = &script_of(run, s)->lookups[s - script_of(run, s)->base];
		st->state = STEP_RUNNING;
		lk->run = run;
		lk->step = s;
		remote_get(o->remote, remote_key_of(run, s), on_remote, lk);
		return;
	}
	not_cached(run, s);
}

/* Neither cache has s: explain it, list it as stale, or queue it to run. */
static void not_cached(struct runner *run, size_t s)
{
	struct step *st = step_at(run, s);
	const struct build_options *o = run->o;
	if (o->explain || o->dry_run || o->frozen)
		explain(run, s);
	if (o->dry_run || o->frozen) {
		finish(run, s, STEP_STALE);
		return;
	}
	if (o->explain)
		emit(run, BUILD_STEP_EXPLAIN, s, st->why, 1);
	if (st->kind == STEP_EMBEDDING) {
		st->state = STEP_BATCHED;
		push_step(&run->batch, &run->nbatch, &run->capbatch, s);
	} else {
		st->state = STEP_READY;
		heap_push(run, s);
	}
}

/* A result from the remote passes what a fresh answer passes before it may enter the local cache: UTF-8 JSON that the
 * kind's schema and the script's facts accept, or a vector of the configured width with finite, non-zero values. */
static int check_fetched(const struct runner *run, size_t s, const char *data, size_t len, char *why, size_t whylen)
{
	const struct step *st = step_at(run, s);
	/* The rules a stored result must meet (issue 11), then the script's own facts below. */
	if (result_check(st->kind, run->o->config[st->kind].provider, data, len, why, whylen) < 0)
		return -1;
	if (st->kind == STEP_EMBEDDING) {
		int dims = run->o->config[STEP_EMBEDDING].params.dims;
		if (len == 0 || len % 4 != 0 || (dims > 0 && len != (size_t)dims * 4)) {
			snprintf(why, whylen, "a vector of %zu bytes, not %d float32s", len, dims);
			return -1;
		}
		size_t n = len / 4;
		float *v = xmalloc(n * sizeof(float));
		float32_decode((const unsigned char *)data, n, v);
		double norm = 0;
		for (size_t i = 0; i < n; i++)
			norm += (double)v[i] * (double)v[i];
		free(v);
		if (!isfinite(norm) || norm <= 0) {
			snprintf(why, whylen, "a vector that is not finite or is all zeros");
			return -1;
		}
		return 0;
	}
	int nlines;
	struct fountain_error ferr;
	if (memchr(data, '\0', len) || fountain_check_text(data, len, 0, &nlines, &ferr) < 0) {
		snprintf(why, whylen, "not UTF-8 text");
		return -1;
	}
	cJSON *out = cJSON_ParseWithLength(data, len);
	if (!cJSON_IsObject(out)) {
		cJSON_Delete(out);
		snprintf(why, whylen, "not a JSON object");
		return -1;
	}
	struct job job = {0};
	const cJSON **summaries = xcalloc(st->ndeps ? st->ndeps : 1, sizeof(*summaries));
	fill_inputs(run, s, &job, summaries);
	int rc = prompt_validate(&job, out, why, whylen);
	free(summaries);
	cJSON_Delete(out);
	return rc;
}

/* The usage the writer recorded (tokens, duration), so the archive says what the result cost wherever it came from;
 * provider and model are in the key, so they come from the configuration. */
static void remote_meta(const struct runner *run, struct step *st, const char *meta)
{
	const struct step_config *cfg = &run->o->config[st->kind];
	cJSON *m = cJSON_Parse(meta);
	const cJSON *tin = cJSON_GetObjectItemCaseSensitive(m, "tokens_in");
	const cJSON *tout = cJSON_GetObjectItemCaseSensitive(m, "tokens_out");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(m, "duration_ms");
	const cJSON *corrections = cJSON_GetObjectItemCaseSensitive(m, "corrections");
	const cJSON *retries = cJSON_GetObjectItemCaseSensitive(m, "max_tokens_retries");
	const cJSON *dropped = cJSON_GetObjectItemCaseSensitive(m, "dropped_quotes");
	memset(&st->meta, 0, sizeof(st->meta));
	st->meta.kind = (int)st->kind;
	/* What repairing the answer took reaches the archive, so it travels with the result. */
	if (cJSON_IsNumber(corrections) && corrections->valuedouble >= 0 && corrections->valuedouble < 65536)
		st->meta.corrections = (uint16_t)corrections->valuedouble;
	if (cJSON_IsNumber(retries) && retries->valuedouble >= 0 && retries->valuedouble < 65536)
		st->meta.max_tokens_retries = (uint16_t)retries->valuedouble;
	if (cJSON_IsNumber(dropped) && dropped->valuedouble >= 0 && dropped->valuedouble < 65536)
		st->meta.dropped_quotes = (uint16_t)dropped->valuedouble;
	st->meta.output = st->output_digest;
	snprintf(st->meta.provider, sizeof(st->meta.provider), "%s", cfg->provider);
	snprintf(st->meta.model, sizeof(st->meta.model), "%s", cfg->params.model ? cfg->params.model : "");
	/* A count no request could have spent is noise from the server, not usage. */
	if (cJSON_IsNumber(tin) && tin->valuedouble >= 0 && tin->valuedouble < 1e12)
		st->meta.tokens_in = (uint64_t)tin->valuedouble;
	if (cJSON_IsNumber(tout) && tout->valuedouble >= 0 && tout->valuedouble < 1e12)
		st->meta.tokens_out = (uint64_t)tout->valuedouble;
	if (cJSON_IsNumber(ms) && ms->valuedouble >= 0 && ms->valuedouble < 4e9)
		st->meta.duration_ms = (uint32_t)ms->valuedouble;
	cJSON_Delete(m);
}

static void on_remote(void *ctx, enum remote_answer answer, char *data, size_t len, const char *meta)
{
	struct remote_lookup *lk = ctx;
	struct runner *run = lk->run;
	size_t s = lk->step;
	struct step *st = step_at(run, s);
	char why[512];
	if (answer != REMOTE_HIT) {
		not_cached(run, s);
		return;
	}
	int bad = check_fetched(run, s, data, len, why, sizeof(why));
	if (bad)
		free(data);
	else if (accept_output(st, data, len) < 0) {
		snprintf(why, sizeof(why), "not a JSON object");
		bad = -1;
	}
	if (bad) {
		char message[700];
		snprintf(message, sizeof(message), "%s: %s", st->label, why);
		remote_reject(run->o->remote, message);
		drop_output(st);
		not_cached(run, s);
		return;
	}
	remote_meta(run, st, meta);
	st->remote = true;
	run->r->kinds[st->kind].remote++;
	if (script_of(run, s)->r != run->r)
		script_of(run, s)->r->kinds[st->kind].remote++;
	if (run->o->dry_run) {
		/* Its output lets -n look its dependants up too; nothing is stored. */
		free(st->why);
		st->why = xstrdup("the remote cache has it");
		finish(run, s, STEP_STALE);
		return;
	}
	st->cached = true;
	count_saved(run, s);
	queue_put(run, s);
	finish(run, s, STEP_DONE);
}

static void queue_put(struct runner *run, size_t s)
{
	struct step *st = step_at(run, s);
	size_t cap = run->capputs;
	run->puts = xgrow(run->puts, &run->capputs, run->nputs + 1, sizeof(*run->puts));
	run->put_steps = xgrow(run->put_steps, &cap, run->nputs + 1, sizeof(*run->put_steps));
	run->put_steps[run->nputs] = s;
	struct cache_put *p = &run->puts[run->nputs++];
	memset(p, 0, sizeof(*p));
	p->key = st->key;
	p->meta = st->meta;
	p->data = st->output;
	p->len = st->output_len;
}

static void flush_puts(struct runner *run)
{
	if (run->cache_failed)
		run->nputs = run->computed_puts = 0;
	if (run->nputs == 0)
		return;
	char err[512];
	if (cache_put_batch(run->o->cache, run->puts, run->nputs, err, sizeof(err)) < 0) {
		run->cache_failed = 1;
		run->stop = true;
		snprintf(run->cache_error, sizeof(run->cache_error), "%s", err);
		run->nputs = run->computed_puts = 0;
		return;
	}
	run->computed_puts = 0;
	/* Shared only once stored here: uploads ride the loop in the background, behind every lookup. */
	for (size_t i = 0; run->o->remote && i < run->nputs; i++) {
		const struct step *st = step_at(run, run->put_steps[i]);
		if (st->remote || st->shared)
			continue;
		char meta[256];
		snprintf(meta, sizeof(meta), "{\"tokens_in\":%llu,\"tokens_out\":%llu,\"duration_ms\":%lu,"
		         "\"corrections\":%u,\"max_tokens_retries\":%u,\"dropped_quotes\":%u}",
		         (unsigned long long)st->meta.tokens_in, (unsigned long long)st->meta.tokens_out,
		         (unsigned long)st->meta.duration_ms, (unsigned)st->meta.corrections,
		         (unsigned)st->meta.max_tokens_retries, (unsigned)st->meta.dropped_quotes);
		remote_put(run->o->remote, remote_key_of(run, run->put_steps[i]), st->output, st->output_len, meta);
	}
	run->nputs = 0;
}

static void fill_meta(struct runner *run, struct step *st, const struct unit *u, uint64_t tin, uint64_t tout)
{
	const struct step_config *cfg = &run->o->config[st->kind];
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	memset(&st->meta, 0, sizeof(st->meta));
	st->meta.output = st->output_digest;
	snprintf(st->meta.provider, sizeof(st->meta.provider), "%s", cfg->provider);
	snprintf(st->meta.model, sizeof(st->meta.model), "%s", cfg->params.model ? cfg->params.model : "");
	st->meta.tokens_in = tin;
	st->meta.tokens_out = tout;
	st->meta.duration_ms = (uint32_t)((now_seconds(&end) - now_seconds(&u->started)) * 1000.0);
	st->meta.kind = (int)st->kind;
	st->meta.corrections = (uint16_t)u->job.corrections;
	st->meta.max_tokens_retries = (uint16_t)u->job.max_tokens_retries;
	st->meta.dropped_quotes = (uint16_t)u->job.dropped_quotes;
}

static void unit_free(struct unit *u)
{
	if (u->texts)
		for (size_t i = 0; i < u->job.ntexts; i++)
			free(u->texts[i]);
	free(u->texts);
	free(u->summaries);
	free(u->steps);
	free(u->job.output);
	free(u->job.vectors);
	free(u);
}

/* What a finished request spent, in the totals and in the counts of the script its first step belongs to. */
static void count_request(struct build_result *r, const struct job *job)
{
	if (job->kind == STEP_EMBEDDING)
		r->embedding_requests += (unsigned long)job->requests;
	else
		r->llm_requests += (unsigned long)job->requests;
	r->retries += (unsigned long)job->retries;
	r->tokens_in += job->tokens_in;
	r->tokens_out += job->tokens_out;
	r->kinds[job->kind].tokens_in += job->tokens_in;
	r->kinds[job->kind].tokens_out += job->tokens_out;
	r->kinds[job->kind].tokens_cache_read += job->tokens_cache_read;
	r->kinds[job->kind].tokens_cache_write += job->tokens_cache_write;
	r->kinds[job->kind].tokens_cache_write_1h += job->tokens_cache_write_1h;
	r->kinds[job->kind].batch_tokens_in += job->batch_tokens_in;
	r->kinds[job->kind].batch_tokens_out += job->batch_tokens_out;
	r->kinds[job->kind].batch_cache_read += job->batch_cache_read;
	r->kinds[job->kind].batch_cache_write += job->batch_cache_write;
	r->kinds[job->kind].batch_cache_write_1h += job->batch_cache_write_1h;
	r->batch_requests += (unsigned long)job->batched;
	r->kinds[job->kind].corrections += (unsigned long)job->corrections;
	r->kinds[job->kind].max_tokens_retries += (unsigned long)job->max_tokens_retries;
	r->kinds[job->kind].dropped_quotes += (unsigned long)job->dropped_quotes;
}

/* Teaches the estimator what u's request used, script by script (an embedding batch may serve several), the usage
 * shared out by the number of steps. */
static void learn(struct runner *run, const struct unit *u)
{
	const struct job *job = &u->job;
	size_t *local = xmalloc(u->nsteps * sizeof(size_t));
	for (size_t i = 0; i < u->nsteps;) {
		size_t script = run->script_of[u->steps[i]], n = 0;
		const struct script_run *sc = &run->scripts[script];
		for (size_t j = i; j < u->nsteps; j++)
			if (run->script_of[u->steps[j]] == script)
				local[n++] = u->steps[j] - sc->base;
		if (n == u->nsteps) {
			estimate_learn(run->o->estimator, sc->g, local, n, &run->o->config[job->kind], job->tokens_in,
			               job->tokens_out);
			break;
		}
		/* Several scripts: learn each one's share once, when its first step comes up. */
		bool first = true;
		for (size_t j = 0; j < i; j++)
			if (run->script_of[u->steps[j]] == script)
				first = false;
		if (first)
			estimate_learn(run->o->estimator, sc->g, local, n, &run->o->config[job->kind],
			               job->tokens_in * n / u->nsteps, job->tokens_out * n / u->nsteps);
		i++;
	}
	free(local);
}

static void on_done(struct job *job)
{
	struct unit *u = job->owner;
	struct runner *run = u->run;
	run->inflight--;
	run->queued -= u->queued;
	run->inflight_cost -= u->estimated_cost;
	count_request(run->r, job);
	struct script_run *first = script_of(run, u->steps[0]);
	if (first->r != run->r)
		count_request(first->r, job);
	if (run->o->max_cost > 0) {
		run->r->spent = report_cost(run->r, run->o->config);
		if (!run->warned_budget && run->r->spent >= 0.8 * run->o->max_cost) {
			char warning[200];
			run->warned_budget = true;
			snprintf(warning, sizeof(warning), "spent $%.4f of --max-cost $%.4f (%.0f %%)", run->r->spent,
			         run->o->max_cost, 100 * run->r->spent / run->o->max_cost);
			emit(run, BUILD_WARNING, NO_STEP, warning, 0);
		}
	}
	if (job->status == JOB_OK) {
		learn(run, u);
		estimate_learn_cache(run->o->estimator, job->kind, &run->o->config[job->kind], job->tokens_in,
		                     job->tokens_cache_read, job->tokens_cache_write, job->first_fresh, job->nsummaries);
	}

	if (job->status == JOB_OK && job->kind == STEP_EMBEDDING &&
	    (!job->vectors || job->dims == 0 || (run->o->config[STEP_EMBEDDING].params.dims > 0 &&
	                                          job->dims != (size_t)run->o->config[STEP_EMBEDDING].params.dims))) {
		job->status = JOB_FAILED;
		snprintf(job->error, sizeof(job->error), "%s: the provider returned vectors of the wrong width", job->label);
	}
	if (job->status != JOB_OK && (run->r->interrupted || run->r->fatal[0])) {
		/* Cancelled by the interruption, not failed: the step simply did not run. Likewise when the run already
		 * stopped for a cause named once (a refused key, an exhausted quota): the requests it cancelled, or that
		 * met the same cause, did not fail on their own, and one message is enough. */
		for (size_t i = 0; i < u->nsteps; i++)
			finish(run, u->steps[i], STEP_SKIPPED);
		unit_free(u);
		return;
	}
	if (job->status == JOB_FAILED && job->kind == STEP_EMBEDDING && job->http_status == 400 && u->nsteps > 1) {
		/* One input the API refuses must not sink the others: halve the batch until it stands alone. */
		run->r->bisections++;
		bisect_batch(run, u);
		return;
	}
	if (job->status != JOB_OK) {
		if (job->status == JOB_FATAL) {
			/* Quota or a bad key: every other request would fail the same way, so end them now. */
			loop_abort(run->o->loop);
			run->stop = true;
			run->r->stopped = true;
			snprintf(run->r->fatal, sizeof(run->r->fatal), "%s", job->error);
		}
		for (size_t i = 0; i < u->nsteps; i++) {
			struct step *st = step_at(run, u->steps[i]);
			char why[600];
			if (job->error[0] && strncmp(job->error, st->label, strlen(st->label)) == 0)
				snprintf(why, sizeof(why), "%s", job->error);
			else
				snprintf(why, sizeof(why), "%s: %s", st->label, job->error[0] ? job->error : "the provider failed");
			fail_step(run, u->steps[i], why);
		}
		unit_free(u);
		return;
	}
	gate_note_success(run->o->gate);
	for (size_t i = 0; i < u->nsteps; i++) {
		struct step *st = step_at(run, u->steps[i]);
		/* A batch's usage cannot be known per input, and sharing it out by position would make each step's
		 * figure depend on which summaries finished first: an embedding is attributed by its own text alone.
		 * The run's real totals are in the result (run->r) above. */
		uint64_t tin = job->kind == STEP_EMBEDDING ? embedding_tokens_attributed(u->texts[i]) : job->tokens_in;
		uint64_t tout = job->kind == STEP_EMBEDDING ? 0 : job->tokens_out;
		int bad;
		if (job->kind == STEP_EMBEDDING) {
			unsigned char *bytes = xmalloc(job->dims * 4);
			float32_encode(job->vectors + i * job->dims, job->dims, bytes);
			bad = accept_output(st, (char *)bytes, job->dims * 4);
		} else {
			bad = accept_output(st, job->output, strlen(job->output));
			job->output = NULL;
		}
		if (bad) {
			char why[600];
			snprintf(why, sizeof(why), "%s: the output is not a JSON object", st->label);
			fail_step(run, u->steps[i], why);
			continue;
		}
		fill_meta(run, st, u, tin, tout);
		queue_put(run, u->steps[i]);
		run->computed_puts++;
		finish(run, u->steps[i], STEP_DONE);
	}
	unit_free(u);
}

static struct unit *unit_new(struct runner *run, enum step_kind kind, size_t first);
static void launch(struct runner *run, struct unit *u);

/* The steps of u[from, from+n) as a batch of their own, texts taken over. */
static struct unit *sub_batch(struct runner *run, struct unit *u, size_t from, size_t n)
{
	struct unit *half = unit_new(run, STEP_EMBEDDING, u->steps[from]);
	half->steps = xmalloc(n * sizeof(size_t));
	half->texts = xmalloc(n * sizeof(char *));
	memcpy(half->steps, u->steps + from, n * sizeof(size_t));
	memcpy(half->texts, u->texts + from, n * sizeof(char *));
	for (size_t i = from; i < from + n; i++)
		u->texts[i] = NULL;
	half->nsteps = n;
	half->job.texts = (const char *const *)half->texts;
	half->job.ntexts = n;
	half->job.label = n == 1 ? step_at(run, half->steps[0])->label : "embedding batch";
	return half;
}

static void bisect_batch(struct runner *run, struct unit *u)
{
	size_t first = u->nsteps / 2;
	struct unit *a = sub_batch(run, u, 0, first), *b = sub_batch(run, u, first, u->nsteps - first);
	char why[200];
	snprintf(why, sizeof(why), "an embedding batch of %zu inputs was refused (HTTP 400): retrying it as %zu + %zu to "
	         "find the input the API refuses", u->nsteps, a->nsteps, b->nsteps);
	emit(run, BUILD_STEP_REPAIRED, u->steps[0], why, u->nsteps);
	unit_free(u);
	launch(run, a);
	launch(run, b);
}

/* A unit for steps of kind, the first of them being step first. */
static struct unit *unit_new(struct runner *run, enum step_kind kind, size_t first)
{
	struct unit *u = xcalloc(1, sizeof(*u));
	u->run = run;
	u->job.kind = kind;
	u->job.params = &run->o->config[kind].params;
	u->job.script = graph_of(run, first)->script;
	u->job.done = on_done;
	u->job.owner = u;
	clock_gettime(CLOCK_MONOTONIC, &u->started);
	return u;
}

/* The estimated USD of steps (n of them): what max_cost weighs before starting them. */
static double estimated_cost(const struct runner *run, const size_t *steps, size_t n)
{
	double cost = 0;
	for (size_t i = 0; i < n; i++) {
		const struct step *st = step_at(run, steps[i]);
		struct step_estimate e;
		estimate_step(run->o->estimator, graph_of(run, steps[i]), st, &run->o->config[st->kind], &e);
		cost += e.cost;
	}
	return cost;
}

/* max_cost: whether steps may start now. When they may not, the run stops starting steps; what is in flight
 * finishes and is stored, so a re-run with a larger budget continues from the cache. */
static bool within_budget(struct runner *run, const size_t *steps, size_t n)
{
	if (run->o->max_cost <= 0)
		return true;
	double next = estimated_cost(run, steps, n);
	run->r->spent = report_cost(run->r, run->o->config);
	if (run->r->spent + run->inflight_cost + next <= run->o->max_cost)
		return true;
	run->stop = true;
	run->r->stopped = true;
	run->r->over_budget = true;
	run->r->next_cost = next;
	return false;
}

/* Counts u in flight (its window slot and its estimated cost) before it is sent. */
static void reserve(struct runner *run, struct unit *u)
{
	run->inflight++;
	u->queued = run->o->provider[u->job.kind]->queues;
	run->queued += u->queued;
	if (run->o->max_cost > 0) {
		u->estimated_cost = estimated_cost(run, u->steps, u->nsteps);
		run->inflight_cost += u->estimated_cost;
	}
}

/* Sends a reserved unit. */
static void send_unit(struct runner *run, struct unit *u)
{
	struct provider *p = run->o->provider[u->job.kind];
	for (size_t i = 0; i < u->nsteps; i++)
		script_started(run, script_of(run, u->steps[i]));
	emit(run, BUILD_STEP_STARTED, u->steps[0], NULL, u->nsteps);
	for (size_t i = 0; i < u->nsteps; i++)
		step_at(run, u->steps[i])->state = STEP_RUNNING;
	if (p->start(p, &u->job) < 0) {
		/* No done() will come: complete it here as a failure. */
		u->job.status = JOB_FAILED;
		on_done(&u->job);
	}
}

static void launch(struct runner *run, struct unit *u)
{
	reserve(run, u);
	send_unit(run, u);
}

/* Whether the steps of kind go to a provider whose requests are worth claiming (the builtin one costs nothing). */
static bool claims_kind(const struct runner *run, enum step_kind kind)
{
	return run->o->claim_ms > 0 && !run->claims_off && !run->o->dry_run && !run->o->frozen &&
	       strcmp(run->o->config[kind].provider, "builtin") != 0;
}

/* Reserves u and sends it at the end of the turn, once its requests are claimed. */
static void stage(struct runner *run, struct unit *u)
{
	reserve(run, u);
	if (!claims_kind(run, u->job.kind)) {
		send_unit(run, u);
		return;
	}
	run->pending = xgrow(run->pending, &run->cappending, run->npending + 1, sizeof(*run->pending));
	run->pending[run->npending++] = u;
}

/* s waits for the result another process is getting. */
static void await_result(struct runner *run, size_t s)
{
	step_at(run, s)->state = STEP_AWAITING;
	run_of(run, s)->await_until = loop_now_ms() + run->o->claim_ms;
	push_step(&run->awaiting, &run->nawaiting, &run->capawaiting, s);
}

/* Claims the staged units' requests in one transaction and sends them; a step another process claimed waits. */
static void claim_and_send(struct runner *run)
{
	size_t n = 0;
	for (size_t i = 0; i < run->npending; i++)
		for (size_t j = 0; j < run->pending[i]->nsteps; j++)
			n += !run_of(run, run->pending[i]->steps[j])->unclaimed;
	struct digest *keys = xcalloc(n ? n : 1, sizeof(*keys));
	unsigned char *held = xcalloc(n ? n : 1, 1);
	n = 0;
	for (size_t i = 0; i < run->npending; i++)
		for (size_t j = 0; j < run->pending[i]->nsteps; j++)
			if (!run_of(run, run->pending[i]->steps[j])->unclaimed)
				keys[n++] = step_at(run, run->pending[i]->steps[j])->key;
	char err[512];
	if (n && cache_claim(run->o->cache, keys, n, run->o->claim_ms, held, err, sizeof(err)) < 0) {
		/* Claims only spare money; a cache that cannot take them must not stop the run. */
		run->claims_off = true;
		memset(held, 0, n);
	}
	n = 0;
	for (size_t i = 0; i < run->npending; i++) {
		struct unit *u = run->pending[i];
		size_t kept = 0;
		for (size_t j = 0; j < u->nsteps; j++) {
			size_t s = u->steps[j];
			bool wait = false;
			if (!run_of(run, s)->unclaimed) {
				wait = held[n++];
				run_of(run, s)->claimed = !wait && !run->claims_off;
			}
			if (wait) {
				await_result(run, s);
				if (u->texts) {
					free(u->texts[j]);
					u->texts[j] = NULL;
				}
				continue;
			}
			if (u->texts)
				u->texts[kept] = u->texts[j];
			u->steps[kept++] = s;
		}
		if (kept == u->nsteps) {
			send_unit(run, u);
			continue;
		}
		run->inflight--;
		run->inflight_cost -= u->estimated_cost;
		if (kept == 0) {
			unit_free(u);
			continue;
		}
		u->nsteps = kept;
		if (u->texts) {
			u->job.ntexts = kept;
			u->job.label = kept == 1 ? step_at(run, u->steps[0])->label : "embedding batch";
		}
		reserve(run, u);
		send_unit(run, u);
	}
	run->npending = 0;
	free(keys);
	free(held);
}

/* Looks for the results other processes were getting, a few times a second: a step whose result is stored is done;
 * one whose claim lapsed (the owner died, or its request failed) or that waited its time goes to run itself. */
static void poll_awaited(struct runner *run)
{
	int64_t now = loop_now_ms();
	if (run->nawaiting == 0 || now - run->polled_ms < 50)
		return;
	run->polled_ms = now;
	size_t kept = 0;
	for (size_t i = 0; i < run->nawaiting; i++) {
		size_t s = run->awaiting[i];
		struct step *st = step_at(run, s);
		char *data = NULL, err[512], why[300];
		size_t len = 0;
		if (run->stop) {
			finish(run, s, STEP_SKIPPED);
			continue;
		}
		enum cache_lookup found = cache_get(run->o->cache, &st->key, &st->meta, &data, &len, err, sizeof(err));
		if (found == CACHE_HIT && result_check(st->kind, st->meta.provider, data, len, why, sizeof(why)) == 0 &&
		    accept_output(st, data, len) == 0) {
			st->cached = true;
			finish(run, s, STEP_DONE);
			continue;
		}
		if (found == CACHE_HIT)
			drop_output(st);
		if (found != CACHE_ERROR && now < run_of(run, s)->await_until &&
		    cache_claim_held(run->o->cache, &st->key, err, sizeof(err)) == CLAIM_HELD) {
			run->awaiting[kept++] = s;
			continue;
		}
		/* Its own turn: claimed anew when the claim lapsed, sent unclaimed when it waited its time. */
		run_of(run, s)->unclaimed = now >= run_of(run, s)->await_until;
		if (st->kind == STEP_EMBEDDING) {
			st->state = STEP_BATCHED;
			push_step(&run->batch, &run->nbatch, &run->capbatch, s);
			if (script_of(run, s)->summaries_open == 0)
				run->embed_due = true;
		} else {
			st->state = STEP_READY;
			heap_push(run, s);
		}
	}
	run->nawaiting = kept;
}

/* Keeps the keys of sc's steps this process claimed whose request did not end in a stored result, to release. */
static void collect_claims(struct runner *run, const struct script_run *sc)
{
	for (size_t j = 0; j < sc->g->nsteps; j++) {
		if (!sc->steps[j].claimed || sc->g->steps[j].state == STEP_DONE)
			continue;
		run->release = xgrow(run->release, &run->caprelease, run->nrelease + 1, sizeof(*run->release));
		run->release[run->nrelease++] = sc->g->steps[j].key;
	}
}

/* Drops this process's claims on the requests that did not end in a stored result, so nobody waits on them. */
static void release_claims(struct runner *run)
{
	for (size_t i = 0; i < run->nscripts; i++)
		if (run->scripts[i].g)
			collect_claims(run, &run->scripts[i]);
	char err[512];
	if (run->nrelease && !run->claims_off)
		cache_release(run->o->cache, run->release, run->nrelease, err, sizeof(err));
}

static void stage(struct runner *run, struct unit *u);

static void start_step(struct runner *run, size_t s)
{
	struct step *st = step_at(run, s);
	const struct step_config *cfg = &run->o->config[st->kind];
	struct unit *u = unit_new(run, st->kind, s);
	u->steps = xmalloc(sizeof(size_t));
	u->steps[0] = s;
	u->nsteps = 1;
	u->summaries = xcalloc(st->ndeps ? st->ndeps : 1, sizeof(*u->summaries));
	fill_inputs(run, s, &u->job, u->summaries);
	/* Transport only: a prompt cache breakpoint just before the first scene this run summarised anew lets the next
	 * save of the same scene read everything before it. */
	u->job.first_fresh = st->ndeps;
	for (size_t d = 0; d < st->ndeps && u->job.first_fresh == st->ndeps; d++)
		if (!graph_of(run, s)->steps[st->deps[d]].cached)
			u->job.first_fresh = d;
	u->job.key = &st->key;
	if (st->prompt) {
		u->job.system = cfg->system;
		u->job.tool_name = prompt_tool_name(st->kind);
		u->job.tool_description = prompt_tool_description(st->kind);
		u->job.schema = prompt_schema(st->kind);
		u->job.user = st->prompt;
	}
	stage(run, u);
}

/* Cuts text to about limit tokens at a character boundary, and says so: the provider refuses a longer input, and one
 * such input would fail its whole batch. */
static void truncate_input(struct runner *run, size_t s, char *text, size_t tokens, size_t limit)
{
	size_t keep = limit * 4 > 3 ? limit * 4 - 3 : 0;
	while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
		keep--;
	text[keep] = '\0';
	run->r->truncated_inputs++;
	char why[200];
	snprintf(why, sizeof(why), "%s: its input of ~%zu tokens exceeds the provider's per-input limit of %zu: "
	         "embedding its first %zu tokens", step_at(run, s)->label, tokens, limit, limit);
	emit(run, BUILD_STEP_REPAIRED, s, why, 1);
}

/* Whether some script's waiting embeddings can gain no more inputs from its summaries. */
static bool embeddings_due(const struct runner *run)
{
	for (size_t i = 0; i < run->nbatch; i++)
		if (script_of(run, run->batch[i])->summaries_open == 0)
			return true;
	return false;
}

/* Whether a script whose embeddings are due comes before the script of the best ready step. */
static bool batch_before_heap(const struct runner *run)
{
	size_t top = run->script_of[run->heap[0]];
	for (size_t i = 0; i < run->nbatch; i++) {
		size_t script = run->script_of[run->batch[i]];
		if (script < top && run->scripts[script].summaries_open == 0)
			return true;
	}
	return false;
}

/* Sends the waiting embeddings, as few requests as the limits allow. */
static void start_embedding_batch(struct runner *run)
{
	struct unit *u = unit_new(run, STEP_EMBEDDING, run->batch[0]);
	size_t limit = run->o->embed_batch ? run->o->embed_batch : 1, tokens = 0, n = 0;
	u->steps = xcalloc(run->nbatch, sizeof(size_t));
	u->texts = xcalloc(run->nbatch, sizeof(char *));
	while (n < run->nbatch && n < limit) {
		size_t s = run->batch[n];
		char *text = embedding_input(graph_of(run, s), step_at(run, s));
		size_t t = (size_t)estimate_tokens(strlen(text));
		size_t limit_tokens = run->o->provider[STEP_EMBEDDING]->max_input_tokens;
		if (limit_tokens && t > limit_tokens) {
			truncate_input(run, s, text, t, limit_tokens);
			t = limit_tokens;
		}
		if (n > 0 && tokens + t > run->o->embed_batch_tokens) {
			free(text);
			break;
		}
		tokens += t;
		u->texts[n] = text;
		u->steps[n] = s;
		n++;
	}
	u->nsteps = n;
	u->job.texts = (const char *const *)u->texts;
	u->job.ntexts = n;
	u->job.label = n == 1 ? step_at(run, u->steps[0])->label : "embedding batch";
	memmove(run->batch, run->batch + n, (run->nbatch - n) * sizeof(size_t));
	run->nbatch -= n;
	run->embed_due = embeddings_due(run);
	stage(run, u);
}

/* How many waiting embeddings the next batch takes at most (the token limit may cut it shorter). */
static size_t next_batch(const struct runner *run)
{
	size_t limit = run->o->embed_batch ? run->o->embed_batch : 1;
	return run->nbatch < limit ? run->nbatch : limit;
}

static bool batch_is_full(const struct runner *run)
{
	return run->nbatch >= (run->o->embed_batch ? run->o->embed_batch : 1);
}

/* Tells the status line which rate limit holds requests back and for how long, a few times a second at most. */
static void report_waiting(struct runner *run)
{
	if (!run->o->limits)
		return;
	int64_t ms, now = loop_now_ms();
	enum rl_limit which = admission_waiting(run->o->limits, &ms);
	if (which == run->waiting_on && (which == RL_NONE || now - run->waiting_said_ms < 200))
		return;
	run->waiting_on = which;
	run->waiting_said_ms = now;
	char message[96];
	if (which != RL_NONE)
		snprintf(message, sizeof(message), "waiting %.1f s for %s", (double)ms / 1000.0, rl_limit_name(which));
	emit(run, BUILD_WAITING, NO_STEP, which != RL_NONE ? message : NULL, 0);
}

/* Whether the next ready step goes to a provider that queues it for a message batch: a wave takes every step that
 * is ready, whatever the request window holds. */
static bool heap_top_queues(const struct runner *run)
{
	const struct provider *p = run->nheap > 0 && run->o->provider
	                           ? run->o->provider[step_at(run, run->heap[0])->kind] : NULL;
	return p && p->queues;
}

/* A script is closed once it is done and said to be: what the run keeps of it goes, and the source frees its graph.
 * Its steps leave the map of leaders (a later identical step finds their results in the cache). */
static void close_script(struct runner *run, size_t i)
{
	struct script_run *sc = &run->scripts[i];
	if (!sc->g || !sc->done)
		return;
	if (run->o->claim_ms > 0)
		collect_claims(run, sc);
	for (size_t j = 0; j < sc->g->nsteps; j++)
		keymap_remove_if(run->leaders, &sc->g->steps[j].key, sc->base + j);
	free(sc->steps);
	free(sc->remote_keys);
	free(sc->lookups);
	sc->steps = NULL;
	sc->remote_keys = NULL;
	sc->lookups = NULL;
	sc->g = NULL;
	run->open_now--;
	if (run->src->close)
		run->src->close(run->src->ctx, i);
}

/* The scripts that became done since the last call, in the order they did; then they are closed. */
static void report_done_scripts(struct runner *run)
{
	if (run->ndone_scripts == 0)
		return;
	/* The puts point at outputs the caller frees once it has the script's archive. */
	flush_puts(run);
	for (size_t i = 0; i < run->ndone_scripts; i++)
		emit_about(run, BUILD_SCRIPT_DONE, NO_STEP, run->done_scripts[i], NULL, 0);
	for (size_t i = 0; i < run->ndone_scripts; i++)
		close_script(run, run->done_scripts[i]);
	run->ndone_scripts = 0;
}

void build_count_wanted(const struct graph *g, size_t wanted[STEP_KINDS])
{
	for (int k = 0; k < STEP_KINDS; k++)
		wanted[k] = 0;
	for (size_t j = 0; j < g->nsteps; j++)
		if (g->steps[j].wanted)
			wanted[g->steps[j].kind]++;
}

static void script_done(struct runner *run, size_t i)
{
	struct script_run *sc = &run->scripts[i];
	sc->done = true;
	run->scripts_done++;
	run->done_scripts[run->ndone_scripts++] = i;
}

/* Script i could not be opened: each of its wanted steps counts as failed, and the run says why once. */
static void open_failed(struct runner *run, size_t i, const char *why)
{
	struct script_run *sc = &run->scripts[i];
	for (int k = 0; k < STEP_KINDS; k++) {
		run->r->kinds[k].failed += sc->wanted[k];
		if (sc->r != run->r)
			sc->r->kinds[k].failed += sc->wanted[k];
	}
	run->finished += sc->total - sc->finished;
	sc->finished = sc->total;
	run->failures++;
	if (run->o->keep_going > 0 && run->failures >= run->o->keep_going)
		run->stop = true;
	emit_about(run, BUILD_STEP_FAILED, NO_STEP, i, why, 0);
	script_done(run, i);
}

/* Opens the next script of the slate: its graph from the source, its steps numbered after those opened before, its
 * steps without dependencies looked up (and queued when not cached). */
static void open_script(struct runner *run)
{
	size_t i = run->next_open++;
	struct script_run *sc = &run->scripts[i];
	struct build_script *bs = &run->src->scripts[i];
	char err[1024];
	sc->opened = true;
	if (run->src->open && run->src->open(run->src->ctx, i, err, sizeof(err)) < 0) {
		open_failed(run, i, err);
		return;
	}
	size_t wanted[STEP_KINDS];
	build_count_wanted(bs->g, wanted);
	if (memcmp(wanted, sc->wanted, sizeof(wanted)) != 0) {
		/* The counts the run started with would be wrong: the script is not built from other steps than planned. */
		if (run->src->close)
			run->src->close(run->src->ctx, i);
		open_failed(run, i, "its steps are not those the run planned (the script changed): run again");
		return;
	}
	struct graph *g = bs->g;
	sc->g = g;
	sc->previous = bs->previous;
	sc->base = run->nsteps;
	run->nsteps += g->nsteps;
	run->script_of = xgrow(run->script_of, &run->capsteps, run->nsteps ? run->nsteps : 1, sizeof(*run->script_of));
	size_t ns = g->nsteps ? g->nsteps : 1;
	sc->steps = xcalloc(ns, sizeof(*sc->steps));
	if (run->o->remote) {
		sc->remote_keys = xcalloc(ns, sizeof(*sc->remote_keys));
		sc->lookups = xcalloc(ns, sizeof(*sc->lookups));
	}
	run->open_now++;
	for (size_t j = 0; j < g->nsteps; j++) {
		run->script_of[sc->base + j] = i;
		sc->steps[j].follower_head = sc->steps[j].follower_next = NO_STEP;
		g->steps[j].unfinished_deps = g->steps[j].ndeps;
	}
	/* A script with nothing wanted is done before it starts. */
	if (sc->total == 0) {
		script_done(run, i);
		return;
	}
	for (size_t j = 0; j < g->nsteps; j++)
		if (g->steps[j].wanted && g->steps[j].ndeps == 0)
			settle(run, sc->base + j);
}

/* Whether the window has room for another script's steps: what is ready, in flight (not queued for a message batch),
 * looked up in the remote cache or awaited from another process fills less than the window. A script is opened
 * only then, so the graphs held grow with the work in flight, not with the slate. */
static bool wants_script(const struct runner *run)
{
	if (run->stop || run->next_open >= run->nscripts)
		return false;
	size_t busy = (size_t)(run->inflight - run->queued) + run->nheap + run->nawaiting +
	              (run->o->remote ? remote_lookups_pending(run->o->remote) : 0);
	return busy < (size_t)gate_window(run->o->gate);
}

/* Says (and closes) the scripts done so far, then opens the next one when the window has room; true when it did. */
static bool open_next(struct runner *run)
{
	report_done_scripts(run);
	if (!wants_script(run))
		return false;
	open_script(run);
	return true;
}

/* Counts what is in the slate's scripts, before any opens. */
static void runner_init(struct runner *run, const struct build_source *src, const struct build_options *o,
                        struct build_result *r)
{
	size_t n = src->n;
	run->src = src;
	run->o = o;
	run->r = r;
	run->nscripts = n;
	run->scripts = xcalloc(n ? n : 1, sizeof(*run->scripts));
	run->done_scripts = xmalloc((n ? n : 1) * sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		struct script_run *sc = &run->scripts[i];
		sc->r = &src->scripts[i].result;
		if (sc->r != r)
			memset(sc->r, 0, sizeof(*sc->r));
		memcpy(sc->wanted, src->wanted[i], sizeof(sc->wanted));
		for (int k = 0; k < STEP_KINDS; k++) {
			sc->total += sc->wanted[k];
			r->kinds[k].total += sc->wanted[k];
			if (sc->r != r)
				sc->r->kinds[k].total += sc->wanted[k];
		}
		sc->summaries_open = sc->wanted[STEP_SUMMARY];
		run->total += sc->total;
	}
	run->leaders = keymap_new(256);
	run->now = (int64_t)time(NULL);
	run->waiting_on = RL_NONE;
}

static void runner_free(struct runner *run)
{
	for (size_t i = 0; i < run->nscripts; i++) {
		free(run->scripts[i].steps);
		free(run->scripts[i].remote_keys);
		free(run->scripts[i].lookups);
	}
	free(run->scripts);
	free(run->script_of);
	free(run->done_scripts);
	keymap_free(run->leaders);
	free(run->pending);
	free(run->awaiting);
	free(run->release);
	free(run->heap);
	free(run->batch);
	free(run->puts);
	free(run->put_steps);
	free(run->hits);
	free(run->checked_outputs);
	free(run->checked_stamps);
}

/* Whatever the run stopped before reaching was not built: the steps of open scripts not final, and every wanted step
 * of the scripts never opened. */
static void skip_unreached(struct runner *run)
{
	for (size_t i = 0; i < run->nscripts; i++) {
		struct script_run *sc = &run->scripts[i];
		if (!sc->opened) {
			for (int k = 0; k < STEP_KINDS; k++) {
				run->r->kinds[k].skipped += sc->wanted[k];
				if (sc->r != run->r)
					sc->r->kinds[k].skipped += sc->wanted[k];
			}
			continue;
		}
		for (size_t j = 0; sc->g && j < sc->g->nsteps; j++) {
			struct step *st = &sc->g->steps[j];
			if (st->wanted && (st->state == STEP_WAITING || st->state == STEP_READY || st->state == STEP_BATCHED ||
			                   st->state == STEP_FOLLOWING || st->state == STEP_AWAITING)) {
				st->state = STEP_SKIPPED;
				run->r->kinds[st->kind].skipped++;
				if (sc->r != run->r)
					sc->r->kinds[st->kind].skipped++;
			}
		}
	}
}

enum build_outcome build_run_source(const struct build_source *src, const struct build_options *o,
                                    struct build_result *r, char *err, size_t errlen)
{
	struct runner run = {0};
	size_t n = src->n;
	memset(r, 0, sizeof(*r));
	runner_init(&run, src, o, r);

	for (;;) {
		if (o->interrupted && *o->interrupted && !r->interrupted) {
			r->interrupted = r->stopped = run.stop = true;
			loop_abort(o->loop);
		}
		do {
			while (!run.stop) {
				/* Jobs queued for a message batch hold no request slot. */
				bool window = run.inflight - run.queued < gate_window(o->gate);
				/* Embeddings go out in as few requests as possible: once no summary can add to a script's share
				 * of the batch, or it is full; before the ready steps of later scripts, which would otherwise
				 * hold a finished script's archive back until the end of the slate. */
				bool batch = window && run.nbatch > 0 && (run.embed_due || batch_is_full(&run));
				if (batch && (run.nheap == 0 || batch_before_heap(&run))) {
					if (!within_budget(&run, run.batch, next_batch(&run)))
						break;
					start_embedding_batch(&run);
				} else if (run.nheap > 0 && (window || heap_top_queues(&run))) {
					if (!within_budget(&run, run.heap, 1))
						break;
					start_step(&run, heap_pop(&run));
				} else {
					break;
				}
			}
		} while (open_next(&run));
		claim_and_send(&run);
		size_t asking = o->remote ? remote_lookups_pending(o->remote) : 0;
		if (run.inflight == 0 && asking == 0 && (run.nawaiting == 0 || run.stop)) {
			if (!run.stop && run.nbatch > 0 && run.nheap == 0 && within_budget(&run, run.batch, next_batch(&run))) {
				start_embedding_batch(&run);
				claim_and_send(&run);
				continue;
			}
			if (run.nheap == 0 || run.stop)
				break;
		}
		loop_run_once(o->loop, 100);
		emit(&run, BUILD_TICK, NO_STEP, NULL, 0);
		/* What was paid for is stored at once; fetched results, cheap to fetch again, share fewer transactions. */
		if (run.computed_puts > 0 || run.nputs >= FETCHED_PER_WRITE)
			flush_puts(&run);
		gate_end_turn(o->gate);
		poll_awaited(&run);
		report_waiting(&run);
		report_done_scripts(&run);
	}
	flush_puts(&run);
	if (o->claim_ms > 0 && !run.cache_failed)
		release_claims(&run);
	report_done_scripts(&run);
	if (o->limits)
		admission_totals(o->limits, r->rate_waited_s, &r->throttled);

	skip_unreached(&run);
	if (run.failures > 0 && o->keep_going > 0 && run.failures >= o->keep_going)
		r->stopped = true;

	char cerr[512];
	if (!run.cache_failed && !o->dry_run && run.nhits > 0 &&
	    cache_touch(o->cache, run.hits, run.nhits, cerr, sizeof(cerr)) < 0) {
		run.cache_failed = 1;
		snprintf(run.cache_error, sizeof(run.cache_error), "%s", cerr);
	}
	/* Only an optimisation: a cache that cannot take the records is checked again next time. */
	if (!run.cache_failed && !o->dry_run)
		(void)cache_mark_checked(o->cache, run.checked_outputs, run.checked_stamps, run.nchecked, cerr,
		                         sizeof(cerr));
	size_t misses = 0, hits = 0;
	for (int k = 0; k < STEP_KINDS; k++)
		hits += r->kinds[k].cached;
	for (int k = 0; k < STEP_KINDS; k++)
		misses += r->kinds[k].run + r->kinds[k].failed + r->kinds[k].stale;
	if (!run.cache_failed && !o->dry_run &&
	    cache_add_counters(o->cache, hits, misses, r->tokens_saved_in, r->tokens_saved_out, cerr,
	                       sizeof(cerr)) < 0) {
		run.cache_failed = 1;
		snprintf(run.cache_error, sizeof(run.cache_error), "%s", cerr);
	}
	for (size_t i = 0; i < n; i++)
		if (run.scripts[i].r != r) {
			run.scripts[i].r->stopped = r->stopped;
			run.scripts[i].r->interrupted = r->interrupted;
		}
	runner_free(&run);
	if (run.cache_failed) {
		snprintf(err, errlen, "%s", run.cache_error);
		return BUILD_CACHE_FAILED;
	}
	for (int k = 0; k < STEP_KINDS; k++) {
		const struct build_kind_counts *c = &r->kinds[k];
		if (c->cached + c->run != c->total)
			return BUILD_INCOMPLETE;
	}
	return BUILD_COMPLETE;
}

enum build_outcome build_run_slate(struct build_script *scripts, size_t n, const struct build_options *o,
                                   struct build_result *r, char *err, size_t errlen)
{
	/* The graphs are given: opening one takes it as it is, closing one leaves it to the caller. */
	size_t (*wanted)[STEP_KINDS] = xcalloc(n ? n : 1, sizeof(*wanted));
	for (size_t i = 0; i < n; i++)
		build_count_wanted(scripts[i].g, wanted[i]);
	struct build_source src = {.scripts = scripts, .n = n, .wanted = (const size_t (*)[STEP_KINDS])wanted};
	enum build_outcome outcome = build_run_source(&src, o, r, err, errlen);
	free(wanted);
	return outcome;
}

enum build_outcome build_run(struct graph *g, const struct build_options *o, struct build_result *r, char *err,
                             size_t errlen)
{
	struct build_script one = {.g = g, .previous = o->previous};
	return build_run_slate(&one, 1, o, r, err, errlen);
}
