/* project.h - the project configuration file (scriptbuild.json) checked in beside the scripts, so that what a build
 * selects is pinned in the repository rather than left to whichever environment variables happen to be set. */
#ifndef SB_PROJECT_H
#define SB_PROJECT_H

#include <stddef.h>

#include "config.h"

struct build_log;

#define PROJECT_FILE_NAME "scriptbuild.json"

/* What project_find found. */
enum project_status { PROJECT_FOUND, PROJECT_NONE, PROJECT_ERROR };

/* Longest list of per-kind settings one file may hold. */
#define PROJECT_MAX_OVERRIDES 32

struct project {
	char *path;                 /* the file read */
	char *dir;                  /* its directory: relative paths in it and the build logs' names start here */
	char *llm, *embed;          /* "anthropic[:MODEL]", ...; NULL when the file does not say (then: builtin) */
	char *overrides[PROJECT_MAX_OVERRIDES][2];  /* {"model" | "max-tokens" | "temperature" | "dims" | "prompt",
	                                               "KIND=VALUE"}: what config_override takes, paths made absolute */
	size_t noverrides;
	char *output_dir;           /* where archives go (made absolute), or NULL */
	char *prompt_cache;         /* "off", "5m" or "1h" (checked), or NULL when the file does not say */
	char *remote_cache;         /* the remote cache's URL (never with credentials), or NULL */
	char *remote_cache_mode;    /* "read-write" or "read-only", or NULL */
	int batch;                  /* "batch": true: the anthropic steps go through Message Batches, as --batch */
};

/* Reads explicit_path (-f), or else the first scriptbuild.json in script_path's directory or an ancestor.
 * PROJECT_FOUND with *out, PROJECT_NONE, or PROJECT_ERROR with err naming the file, the member and what is wrong. */
enum project_status project_find(const char *script_path, const char *explicit_path, struct project **out, char *err,
                                 size_t errlen);

/* Chooses providers and applies the file's settings to rc (flags are applied after, so they win): with a project
 * the providers never depend on which API keys are set. 0, or -1 with err naming the file. */
int project_configure(const struct project *p, struct run_config *rc, const char *llm_flag, const char *embed_flag,
                      char *err, size_t errlen);

/* Frees p; NULL is fine. */
void project_free(struct project *p);

/* Without a project file: when the last build of this script in this cache used other providers than rc selected
 * from the environment, one line saying so and how to pin the choice (malloc'd); NULL when nothing to say. */
char *project_provider_hint(const struct build_log *previous, const struct run_config *rc, int llm_chosen,
                            int embed_chosen);

#endif
