/* prompts.h - versioned prompt templates and output schemas per step kind; their text is part of every action key. */
#ifndef SB_PROMPTS_H
#define SB_PROMPTS_H

#include <stddef.h>

#include "job.h"

struct cJSON;

/* "summary/1", "outline/1", ...: bumps whenever the template or schema text changes. */
const char *prompt_id(enum step_kind kind);

/* The system prompt of kind (static text; "" for embeddings, which have no prompt). */
const char *prompt_system(enum step_kind kind);

/* The user-message template of kind (static text with placeholders). */
const char *prompt_template(enum step_kind kind);

/* The JSON schema of kind's output object, as canonical static text ("" for embeddings). */
const char *prompt_schema_text(enum step_kind kind);

/* The forced tool's name and description for kind. */
const char *prompt_tool_name(enum step_kind kind);
const char *prompt_tool_description(enum step_kind kind);

/* Parsed schema of kind, owned by the module (parsed once); NULL for embeddings. */
const struct cJSON *prompt_schema(enum step_kind kind);

/* Renders the user message for job from the parser's facts and upstream outputs (malloc'd; NULL for embeddings).
 * Summaries see only their scene; sheets see their scenes numbered 1..k in order, never by global index. */
char *prompt_render(const struct job *job);

/* Where a rendered prompt divides into content blocks, ordered from the most stable text to the least: ends[i] is the
 * byte offset where block i ends and block i + 1 begins (the last block runs to the text's end and is not listed).
 * The outline and the sheets end a block after each scene, so an edit in one scene leaves every block before it
 * byte-identical (a prompt cache's prefix); a summary is one block (n = 0). */
struct prompt_blocks {
	size_t *ends;             /* malloc'd, increasing, each < the text's length */
	size_t n;
};

/* prompt_render, and where its text divides into blocks (blocks may be NULL; free with prompt_blocks_free). */
char *prompt_render_blocks(const struct job *job, struct prompt_blocks *blocks);

/* Frees blocks' offsets and empties it. */
void prompt_blocks_free(struct prompt_blocks *blocks);

/* Checks an LLM's output object against kind's schema and the job's facts (types, required fields, scene indexes in
 * range, key lines that occur in the character's dialogue); 0, or -1 with err saying what is wrong. */
int prompt_validate(const struct job *job, const struct cJSON *output, char *err, size_t errlen);

/* What prompt_repair changed in an answer. */
struct prompt_repairs {
	int stripped_fields;   /* members the schema does not have, removed */
	int snapped_quotes;    /* key lines replaced by the script's verbatim words */
	int dropped_quotes;    /* key lines that match no line of the character, removed */
};

/* Repairs what can be repaired exactly in output (removes fields the schema does not have; snaps each sheet key line
 * to the script's verbatim words, dropping those that match nothing) and validates the rest as prompt_validate does;
 * 0, or -1 with err holding every validation message (what, where, what is allowed) for a correction turn. */
int prompt_repair(const struct job *job, struct cJSON *output, struct prompt_repairs *r, char *err, size_t errlen);

/* Checks value against schema, in the JSON-Schema subset the prompts use (type, properties, required, items,
 * minItems, maxItems, minimum, maximum, maxLength, enum); 0, or -1 with err naming the path and the problem. */
int prompt_schema_check(const struct cJSON *schema, const struct cJSON *value, char *err, size_t errlen);

#endif
