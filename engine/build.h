/* build.h - runs the wanted steps of a graph on one event loop: cache first, then providers, -j N in flight. */
#ifndef SB_BUILD_H
#define SB_BUILD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "keys.h"
#include "ratelimit.h"

struct admission;
struct cache;
struct estimator;
struct gate;
struct loop;
struct provider;
struct build_log;
struct remote;

enum build_event_type {
	BUILD_STEP_STARTED,   /* a step (or an embedding batch, step = its first) went to a provider */
	BUILD_STEP_DONE,      /* a step finished: step->cached says whether from the cache */
	BUILD_STEP_FAILED,    /* message says why */
	BUILD_STEP_STALE,     /* -n / --frozen: the step would run; step->why says why when known */
	BUILD_STEP_EXPLAIN,   /* -d explain: the step runs because step->why */
	BUILD_STEP_REPAIRED,  /* message: how a step's input was adapted to the provider (an embedding input cut to its
	                         per-input limit, a refused batch split): the user should know */
	BUILD_WARNING,        /* message: something the user should know (a cache write failed, ...) */
	BUILD_TICK,           /* at least every 100 ms while requests are in flight (step is NULL): for progress lines */
	BUILD_WAITING,        /* message: "waiting 1.2 s for input tokens" while a rate limit holds requests back;
	                         NULL when the wait is over */
	BUILD_SCRIPT_DONE     /* every wanted step of script `script` is final (its archive may be written now); said
	                         between loop turns, never from inside a completion */
};

struct build_event {
	enum build_event_type type;
	const struct step *step;
	const char *message;
	size_t batch;         /* steps in the batch the event speaks of (1 for a single step) */
	size_t finished;      /* wanted steps finished so far (done, failed, skipped, stale) */
	size_t total;         /* wanted steps */
	unsigned long retries;  /* requests retried so far */
	size_t script;        /* the slate's script the event speaks of (the step's); SIZE_MAX when none */
	size_t scripts;       /* scripts in the slate */
	size_t scripts_done;  /* scripts whose wanted steps are all final */
	size_t scripts_running;  /* scripts with a step finished or in flight, not yet done */
};

struct build_options {
	struct gate *gate;              /* the request window (-j): the scheduler sizes it, the HTTP client obeys it */
	int keep_going;                 /* stop starting steps after this many failures; 0 = never stop */
	bool dry_run;                   /* -n: look up, never run, never write */
	bool frozen;                    /* --frozen: never call a provider */
	bool explain;                   /* fill step->why for every step that runs */
	size_t embed_batch;             /* most inputs per embedding request */
	size_t embed_batch_tokens;      /* most estimated tokens per embedding request */
	const struct step_config *config;          /* [STEP_KINDS] */
	struct provider *const *provider;          /* [STEP_KINDS] */
	struct loop *loop;
	struct admission *limits;       /* the rate limits the providers' requests pass; NULL: none */
	struct cache *cache;
	struct remote *remote;          /* the remote tier after the local cache; NULL: none */
	const struct build_log *previous;  /* build_run: the last run's build log, for explanations; may be NULL */
	struct estimator *estimator;    /* learns from every answer, and prices steps for max_cost; may be NULL */
	double max_cost;                /* USD; > 0: start no step that could take spent + in flight past it */
	long claim_ms;                  /* > 0: claim each request in the cache before sending it, for this long, so that
	                                 * processes sharing the cache pay for it once; a step whose request another live
	                                 * process claimed waits for its result, at most this long, then sends its own */
	void (*report)(void *ctx, const struct build_event *ev);
	void *report_ctx;
	const volatile sig_atomic_t *interrupted;  /* non-zero (a signal handler sets it): start nothing more, cancel the
	                                             * transfers, keep every finished result; may be NULL */
};

struct build_kind_counts {
	size_t total;     /* wanted steps of the kind */
	size_t cached;
	size_t remote;    /* of the cached ones, fetched from the remote cache */
	size_t shared;    /* of the cached ones, taken from an identical step of this run (one request for both) */
	size_t run;       /* ran and succeeded */
	size_t failed;
	size_t skipped;   /* not run: a dependency failed or the run stopped */
	size_t stale;     /* -n / --frozen */
	uint64_t tokens_in;   /* spent by this kind's requests in this run */
	uint64_t tokens_out;
	uint64_t tokens_cache_read;      /* of tokens_in: read from the provider's prompt cache */
	uint64_t tokens_cache_write;     /* of tokens_in: written to it */
	uint64_t tokens_cache_write_1h;  /* of tokens_cache_write: with the one-hour lifetime */
	uint64_t batch_tokens_in;  /* of tokens_in / tokens_out, those of message batches (billed at the batch price) */
	uint64_t batch_tokens_out;
	uint64_t batch_cache_read, batch_cache_write, batch_cache_write_1h;  /* of the tokens_cache_* above, likewise */
	unsigned long corrections;        /* correction turns sent this run */
	unsigned long max_tokens_retries; /* re-sends with a doubled max_tokens this run */
	unsigned long dropped_quotes;     /* quotations dropped from answers received this run */
};

struct build_result {
	struct build_kind_counts kinds[STEP_KINDS];
	unsigned long llm_requests;
	unsigned long batch_requests;   /* of llm_requests, those sent in message batches */
	unsigned long embedding_requests;
	unsigned long retries;
	unsigned long bisections;       /* embedding batches refused with 400 and split to find the bad input */
	unsigned long truncated_inputs; /* embedding inputs cut to the provider's per-input token limit */
	uint64_t tokens_in;             /* spent by this run */
	uint64_t tokens_out;
	uint64_t tokens_saved_in;       /* of the results served from the cache */
	uint64_t tokens_saved_out;
	double rate_waited_s[RL_LIMITS];   /* seconds requests waited for each rate limit (per model, summed) */
	unsigned long throttled;        /* 429 answers received */
	bool stopped;                   /* a fatal provider error, -k, max_cost or an interruption stopped the run early */
	bool interrupted;               /* build_options.interrupted stopped it; cancelled steps count as skipped */
	bool over_budget;               /* max_cost stopped the run: the next step would have passed it */
	double spent;                   /* USD the run's requests cost (max_cost runs) */
	double next_cost;               /* the estimate of what max_cost refused to start */
	char fatal[512];                /* the fatal error, when one stopped the run */
};

enum build_outcome {
	BUILD_CACHE_FAILED = -1,  /* err says how; nothing half-written is ever stored */
	BUILD_COMPLETE = 0,       /* every wanted step is done */
	BUILD_INCOMPLETE = 1      /* some wanted step failed, was skipped or is stale */
};

/* Runs g's wanted steps. */
enum build_outcome build_run(struct graph *g, const struct build_options *o, struct build_result *r, char *err,
                             size_t errlen);

/* One script of a slate. */
struct build_script {
	struct graph *g;
	const struct build_log *previous;  /* its last build log, for explanations; may be NULL */
	struct build_result result;        /* filled by build_run_slate: its steps and tokens; the requests of an
	                                      embedding batch that served several scripts count for its first input's */
};

/* Where a slate's scripts come from: the run opens them one by one in slate order, only when the request window
 * has room for more steps, and closes each once it is done and its BUILD_SCRIPT_DONE was said, so the graphs held at
 * once grow with the work in flight, not with the slate. */
struct build_source {
	struct build_script *scripts;        /* [n]: results filled by the run; g and previous set by open */
	size_t n;
	const size_t (*wanted)[STEP_KINDS];  /* [n]: each script's wanted steps per kind, known before any opens (the
	                                        totals of the status line and the counts of scripts never reached) */
	/* Sets scripts[i].g (steps selected: its wanted counts must be wanted[i]) and .previous; < 0 after writing why
	 * to err (naming the script): its wanted steps count as failed and it is never closed. NULL: g is given. */
	int (*open)(void *ctx, size_t i, char *err, size_t errlen);
	/* Script i was opened, is done and was said to be: its graph may go. Also called right after open when the
	 * graph's wanted counts are not wanted[i] (the script then counts as failed). Scripts still open when the run
	 * ends (stopped or interrupted) are not closed: the caller has them. NULL: nothing to do. */
	void (*close)(void *ctx, size_t i);
	void *ctx;
};

/* Runs the wanted steps of a slate's scripts as one graph: one window, one rate budget, -k counted over all; among
 * ready steps those of the earliest unfinished script first, so scripts finish one by one; identical requests sent
 * once. total gets the slate's sums (o->previous is not used); a stop counts the steps of scripts never opened as
 * skipped. */
enum build_outcome build_run_source(const struct build_source *src, const struct build_options *o,
                                    struct build_result *total, char *err, size_t errlen);

/* build_run_source over n scripts whose graphs are all given (they stay the caller's). */
enum build_outcome build_run_slate(struct build_script *scripts, size_t n, const struct build_options *o,
                                   struct build_result *total, char *err, size_t errlen);

/* g's wanted steps per kind. */
void build_count_wanted(const struct graph *g, size_t wanted[STEP_KINDS]);

#endif
