/* graph.h - the step graph of one script: summaries, outline, sheets, embeddings and their explicit dependencies. */
#ifndef SB_GRAPH_H
#define SB_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "cache.h"
#include "job.h"

struct cJSON;
struct fountain_script;

enum step_state {
	STEP_WAITING,   /* some dependency is not done */
	STEP_READY,     /* dependencies done, in the ready queue */
	STEP_BATCHED,   /* an embedding waiting for its batch to be sent */
	STEP_RUNNING,
	STEP_DONE,      /* output known: from the cache or from a run */
	STEP_FAILED,
	STEP_SKIPPED,   /* a dependency failed, or the run stopped first */
	STEP_STALE,     /* -n / --frozen: would have to run */
	STEP_FOLLOWING, /* waits for an identical step of this run (same action key) to finish, and takes its result */
	STEP_AWAITING   /* another process claimed its request: waits for the result to appear in the cache */
};

struct step {
	enum step_kind kind;
	size_t scene;             /* summary, embedding: 1-based position in script->scenes (not the scene index) */
	size_t character;         /* sheet: index into script->characters */
	size_t *deps;             /* steps this one reads, in the order it reads them */
	size_t ndeps;
	size_t *users;            /* steps that read this one */
	size_t nusers;
	size_t unfinished_deps;
	double priority;          /* nominal seconds on the longest path from this step to the end */
	bool wanted;              /* needed by a requested target */
	enum step_state state;
	bool cached;              /* output served from the cache */
	bool remote;              /* output fetched from the remote cache (with -n: the remote would answer it) */
	bool shared;              /* output taken from an identical step of this run */
	struct digest key;
	char *output;             /* JSON object text, or float32 little-endian bytes for an embedding */
	size_t output_len;
	struct digest output_digest;
	struct action_meta meta;  /* of the action that produced output */
	struct cJSON *parsed;     /* summary: output parsed once for the steps that read it */
	char *prompt;             /* LLM steps: the rendered user message, part of the key and what is sent */
	char *label;              /* "summary 12 INT. KITCHEN - NIGHT" */
	char *why;                /* why it is stale (-d explain, -n), or NULL */
	char *error;              /* why it failed, or NULL */
};

struct graph {
	const struct fountain_script *script;
	struct step *steps;
	size_t nsteps;
	size_t *summary_of_scene;   /* [scene-1] -> step */
	size_t *embedding_of_scene; /* [scene-1] -> step */
	size_t *sheet_of_character; /* [character] -> step */
	size_t outline;
};

/* Builds every step of script with dependencies and critical-path priorities; all steps wanted. */
struct graph *graph_new(const struct fountain_script *script);

/* Frees the graph and everything its steps own. */
void graph_free(struct graph *g);

/* Frees what a finished script's steps hold only for their dependants and its archive (outputs, parsed summaries,
 * prompts, explanations), keeping states, keys, digests and metadata: a long slate keeps in memory only the scripts
 * still running. */
void graph_release_outputs(struct graph *g);

/* Limits the wanted steps to targets ("summaries", "outline", "sheets", "embeddings", "scene:N" (the Nth heading),
 * "scene:1A" (the scene numbered so), "sheet:NAME") and
 * what they need; n == 0 keeps everything. 0, or -1 with err naming the bad target. */
int graph_select(struct graph *g, const char *const *targets, size_t n, char *err, size_t errlen);

/* Calls fn(ctx, st) for every wanted step a dry run or --frozen found stale, in graph order; returns how many. */
size_t graph_each_stale(const struct graph *g, void (*fn)(void *ctx, const struct step *st), void *ctx);

/* "summary", "outline", "sheet", "embedding". */
const char *step_kind_name(enum step_kind kind);

/* Parses a kind name; -1 when unknown. */
int step_kind_parse(const char *name);

#endif
