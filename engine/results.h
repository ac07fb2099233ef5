/* results.h - what a finished graph produced, as a plain struct the front end hands on (it knows no archive). */
#ifndef SB_RESULTS_H
#define SB_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "keys.h"

struct results_scene {
	int index;    /* heading order: N for the Nth heading, 0 for the text before the first */
	char *number; /* NULL when none */
	char *heading;
	int line;
	char *location; /* may be "" */
	char *time;     /* NULL when none */
	char **characters;
	size_t ncharacters;
	char text_digest[DIGEST_HEX_LEN + 1];
};

/* One done step: what it was, its action key and output digest, and what it cost. */
struct results_step {
	enum step_kind kind;
	char *target; /* scene index for summary/embedding ("12"), character name for sheet, "" else */
	char key[DIGEST_HEX_LEN + 1];
	char output[DIGEST_HEX_LEN + 1];
	uint64_t tokens_in;
	uint64_t tokens_out;
	uint64_t corrections;    /* correction turns the answer took (not part of the key) */
	uint64_t dropped_quotes; /* sheet quotations that matched no line of the script */
};

struct results_sheet {
	char *character;
	char *json;     /* NULL when the sheet failed */
	size_t *scenes; /* parser statistics: scenes spoken in, cues, words */
	size_t nscenes;
	int cues;
	int words;
};

struct results {
	char *title;  /* NULL when none */
	bool partial; /* some wanted step is not done */
	struct results_scene *scenes;
	size_t nscenes;
	char **summaries; /* nscenes JSON texts, NULL where not done */
	char *outline;    /* NULL when not done */
	struct results_sheet *sheets;
	size_t nsheets;
	float *embeddings;   /* nscenes x dims, row-major */
	bool *has_embedding; /* nscenes flags */
	size_t dims;
	struct results_step *steps;
	size_t nsteps;
	uint64_t tokens_in;
	uint64_t tokens_out;
};

/* Collects every done step of g into new results (free with results_free); partial when a step of the graph is not
 * done. Sheets' scene ordinals become global scene indexes here, at the last moment, so the cached sheet stays valid
 * wherever its scenes move. */
struct results *results_collect(const struct graph *g, const struct step_config *cfg);

/* Frees results from results_collect; NULL is fine. Members set to NULL by a caller that took them are skipped. */
void results_free(struct results *r);

/* A digest of everything the published results depend on (tool version, the publisher's format version, names,
 * script digest, providers, every step's state, key, output and tokens, mtime): equal identities give equal
 * publications. */
void results_identity(const struct graph *g, const struct step_config *cfg, uint64_t format_version,
                      const char *script_name, const char *script_digest_hex, int64_t mtime, struct digest *out);

/* A digest of everything a complete build's results are a function of, known before the script is parsed: the tool
 * and its key, rules and format versions, the name, the script's digest, mtime and every kind's configuration
 * (prompts, parameters, provider, model). Equal inputs give equal keys, hence the results the cache holds for them. */
void results_inputs(const struct step_config *cfg, uint64_t format_version, const char *script_name,
                    const char *script_digest_hex, int64_t mtime, struct digest *out);

#endif
