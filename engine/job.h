/* job.h - one unit of provider work (an analysis step, or a batch of embeddings) and the provider interface. */
#ifndef SB_JOB_H
#define SB_JOB_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct digest;
struct fountain_script;
struct loop;

enum step_kind { STEP_SUMMARY, STEP_OUTLINE, STEP_SHEET, STEP_EMBEDDING, STEP_KINDS };

enum job_status {
	JOB_OK,
	JOB_FAILED,   /* this step failed: reported, never cached, dependants skipped */
	JOB_FATAL     /* the whole run must stop now (quota exhausted, bad key) */
};

/* Generation parameters; all of them are part of the action key. */
struct gen_params {
	const char *model;
	int max_tokens;
	double temperature;
	int dims;                 /* embeddings only; 0 = the model's default */
};

struct job {
	enum step_kind kind;
	const char *label;        /* "summary 12 INT. KITCHEN - NIGHT": names the step in messages */
	const struct gen_params *params;

	/* What the builtin analyser reads (never positions it must not depend on: see builtin.h). */
	const struct fountain_script *script;
	size_t scene;             /* summary: 1-based position in script->scenes (not the scene index) */
	size_t character;         /* sheet: index into script->characters */
	const struct cJSON *const *summaries;  /* outline: every scene's summary in order; sheet: its scenes' in order */
	size_t nsummaries;

	/* What an LLM provider sends: a forced tool / JSON-schema answer. */
	const char *system;
	const char *user;
	const char *tool_name;
	const char *tool_description;
	const struct cJSON *schema;

	const struct digest *key; /* the step's action key: a message batch names its request by it; NULL: none */

	/* Embedding batch. */
	const char *const *texts;
	size_t ntexts;

	/* Filled by the provider before done() runs. */
	char *output;             /* malloc'd JSON object text of the result (summary, outline, sheet) */
	float *vectors;           /* malloc'd ntexts x dims floats, row i for texts[i] (embedding) */
	size_t dims;              /* width of vectors */
	uint64_t tokens_in;       /* every input token, the prompt cache's reads and writes included */
	uint64_t tokens_out;
	uint64_t tokens_cache_read;      /* of tokens_in: read from the provider's prompt cache (billed at 0.1x) */
	uint64_t tokens_cache_write;     /* of tokens_in: written to it (1.25x for 5 minutes, 2x for an hour) */
	uint64_t tokens_cache_write_1h;  /* of tokens_cache_write: with the one-hour lifetime */
	int requests;             /* HTTP requests sent, retries included */
	int retries;
	int corrections;          /* correction turns sent after answers that failed validation */
	int max_tokens_retries;   /* requests re-sent with a doubled max_tokens after a cut-off answer */
	int dropped_quotes;       /* sheet key lines that matched no line of the character, dropped */
	long http_status;         /* the last HTTP status when the job failed on the wire (400: the input was refused) */
	int batched;              /* requests of it sent in message batches (at the batch price) */
	uint64_t batch_tokens_in; /* of tokens_in / tokens_out, those billed at the batch price */
	uint64_t batch_tokens_out;
	uint64_t batch_cache_read, batch_cache_write, batch_cache_write_1h;  /* of tokens_cache_*, likewise */
	enum job_status status;
	char error[512];          /* why it failed, naming the step; never contains a key */

	/* Transport, never content (so never in a key). */
	const char *prompt_cache_ttl;    /* set by the provider: Anthropic "5m" or "1h" marks the stable prefix with
	                                    cache_control; NULL: none */
	size_t first_fresh;       /* set by the scheduler for an outline or sheet: the first of summaries[] produced by
	                             this run rather than served from the cache (nsummaries: none, 0: a cold prompt) */

	void (*done)(struct job *job);   /* called once, from inside loop_run_once, never from start() */
	void *owner;
};

/* A provider runs jobs asynchronously on the shared loop. */
struct provider {
	const char *name;         /* "builtin", "anthropic", "openai" */
	struct loop *loop;
	/* Begins job; its done() fires later from loop_run_once. Returns 0, or -1 after setting job->error (no done()). */
	int (*start)(struct provider *p, struct job *job);
	/* Frees the provider. */
	void (*destroy)(struct provider *p);
	size_t max_input_tokens;  /* embeddings: most (estimated) tokens one input may have; 0 = no limit */
	int queues;               /* jobs wait for a message batch: the request window (-j) does not apply to them */
	void *impl;
};

#endif
