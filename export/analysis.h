/* analysis.h - the results of one build as the archive carries them; export/ writes, reads and verifies them. */
#ifndef SB_ANALYSIS_H
#define SB_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ANALYSIS_FORMAT "scriptbuild-analysis"
#define ANALYSIS_FORMAT_VERSION 2  /* 2: scene numbering by heading, breakdown facts, characters.jsonl */

enum analysis_kind { ANALYSIS_SUMMARY, ANALYSIS_OUTLINE, ANALYSIS_SHEET, ANALYSIS_EMBEDDING, ANALYSIS_KINDS };

/* "summary", "outline", "sheet", "embedding" ("unknown" for anything else). */
const char *analysis_kind_name(enum analysis_kind k);

/* The kind named name, or -1 when it is none of them. */
int analysis_kind_from_name(const char *name);

struct analysis_model {
	char *provider;              /* "builtin", "anthropic", "openai" */
	char *model;
};

/* One member of a scene's cast: a speaker, or a character named in capitals in the action (speaking false). */
struct analysis_cast {
	char *character;
	bool speaking;
	int cues;
	int words;
};

struct analysis_scene {
	int index;                   /* heading order: N for the Nth heading, 0 for the text before the first heading */
	char *number;                /* NULL when none */
	char *heading;
	int line;
	char *location;              /* may be "" */
	char *time;                  /* time of day as written, NULL when none */
	char **characters;           /* speakers in first-cue order */
	size_t ncharacters;
	char text_digest[33];        /* hex XXH3-128 of the scene text */
	/* Breakdown facts (export/breakdown_entries.c). */
	bool before_first_heading;
	char *int_ext;               /* "INT", "EXT", "INT/EXT", "EST", ...; NULL when the heading has no prefix */
	char *time_of_day;           /* "DAY", "NIGHT", ... "OTHER"; NULL when the heading gives no time */
	char *note;                  /* parenthesised parts of the heading, NULL when none */
	int eighths;                 /* page length in eighths, >= 1 */
	int action_words;
	int dialogue_words;
	struct analysis_cast *cast;
	size_t ncast;
};

/* How many scenes a character shares with another. */
struct analysis_together {
	char *character;
	size_t scenes;
};

/* The parser's facts about one character (characters.jsonl). */
struct analysis_character {
	char *name;
	int cues;
	int words;
	double share;                /* of all dialogue words, 4 decimals */
	size_t *scenes;              /* scene indexes spoken in, ascending; first and last are the ends */
	size_t nscenes;
	size_t *mentioned;           /* scene indexes where named in capitals in the action without speaking */
	size_t nmentioned;
	struct analysis_together *together;
	size_t ntogether;
};

/* One step's record in the manifest. */
struct analysis_step {
	enum analysis_kind kind;
	char *target;                /* scene index for summary/embedding ("12"), character name for sheet, "" for outline */
	char key[33];                /* hex action key */
	char output[33];             /* hex digest of the cached output */
	uint64_t tokens_in;
	uint64_t tokens_out;
	uint64_t corrections;        /* correction turns the answer took (LLM steps) */
	uint64_t dropped_quotes;     /* sheet quotations that matched no line of the script, dropped */
};

struct analysis_sheet {
	char *character;
	char *json;                  /* the sheet's JSON object text, or NULL when it failed (partial) */
	size_t *scenes;              /* parser statistics: scenes spoken in, cues, words */
	size_t nscenes;
	int cues;
	int words;
};

struct analysis {
	char *tool_version;
	char *script_name;           /* file name without .fountain: the default script_id */
	char *title;                 /* NULL when none */
	char script_digest[33];      /* hex XXH3-128 of the script file's bytes */
	bool partial;                /* some step failed and --partial asked for an archive anyway */
	struct analysis_model models[ANALYSIS_KINDS];
	struct analysis_scene *scenes;
	size_t nscenes;
	int eighths;                 /* page count in eighths (the scenes' sum); runtime is a minute a page */
	struct analysis_character *characters;
	size_t ncharacters;
	char **summaries;            /* nscenes JSON object texts, NULL where failed (partial) */
	char *outline;               /* JSON object text, NULL when failed */
	struct analysis_sheet *sheets;
	size_t nsheets;
	float *embeddings;           /* nscenes x dims, row-major */
	bool *has_embedding;         /* nscenes flags (NULL: every row has one); false rows are archived as zeros */
	size_t dims;
	struct analysis_step *steps;
	size_t nsteps;
	uint64_t tokens_in;
	uint64_t tokens_out;
};

/* Writes the archive at path atomically (temp file in the same directory, fsync, rename), byte-reproducibly with
 * mtime as every entry's time; 0, or -1 with err naming the path and cause (no temp file left, any old archive
 * untouched). The caller must ignore SIGXFSZ so that a file size limit is an error here, not a killed process. */
int analysis_write_archive(const char *path, const struct analysis *a, int64_t mtime, char *err, size_t errlen);

/* Removes temporary files of the archive at path that a killed writer left behind: only names this program makes
 * (".NAME.scriptbuild-tmp-XXXXXX"), only files it wrote, never a live writer's (it holds a lock from creation on). */
void analysis_remove_stale_temps(const char *path);

/* Removes the temporary file this process is writing, if any. Async-signal-safe: for a signal handler that ends the
 * process while an archive is being written. */
void analysis_abandon_temp(void);

struct stat;

/* What fstat said of the last archive this process wrote, taken from its own descriptor just before the rename (so
 * never another process's file that replaced it since); 0, or -1 when this process wrote none. */
int analysis_last_written(struct stat *st);

/* Reads and fully validates an archive (entry names and types, manifest, digests, counts, NPY header and shape); 0 and
 * *out (has_embedding always set, outputs as compact JSON), or -1 with err "ENTRY: what is wrong". */
int analysis_read_archive(const char *path, struct analysis **out, char *err, size_t errlen);

/* Frees an analysis built by analysis_read_archive or by hand with malloc'd members; NULL is fine. */
void analysis_free(struct analysis *a);

#endif
