/* project.c - finding and reading scriptbuild.json. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "graph.h"
#include "net.h"
#include "project.h"
#include "remote.h"
#include "buildlog.h"
#include "util.h"

/* A configuration file is small: a bigger one is the wrong file. */
#define PROJECT_MAX_BYTES ((size_t)1 << 20)

static const char *const known_members[] = {"llm", "embed", "models", "max_tokens", "temperature", "dims", "prompts",
                                            "output_dir", "prompt_cache", "remote_cache", "remote_cache_mode", "batch",
                                            "comment", NULL};

static int is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The nearest PROJECT_FILE_NAME from the script's directory upwards (malloc'd), or NULL. */
static char *search_upwards(const char *script_path)
{
	char *real = realpath(script_path, NULL);
	if (!real)
		return NULL;
	char *slash = strrchr(real, '/');
	while (slash) {
		*slash = '\0';
		char *candidate = xasprintf("%s/%s", real, PROJECT_FILE_NAME);
		if (is_file(candidate)) {
			free(real);
			return candidate;
		}
		free(candidate);
		slash = strrchr(real, '/');
	}
	free(real);
	return NULL;
}

/* dir/value unless value is absolute (malloc'd). */
static char *resolve(const char *dir, const char *value)
{
	return value[0] == '/' ? xstrdup(value) : xasprintf("%s/%s", dir, value);
}

static int add_override(struct project *p, const char *what, const char *kind, const char *value, char *err,
                        size_t errlen)
{
	if (p->noverrides == PROJECT_MAX_OVERRIDES) {
		snprintf(err, errlen, "%s: more than %d per-kind settings", p->path, PROJECT_MAX_OVERRIDES);
		return -1;
	}
	p->overrides[p->noverrides][0] = xstrdup(what);
	p->overrides[p->noverrides][1] = xasprintf("%s=%s", kind, value);
	p->noverrides++;
	return 0;
}

/* A member {"KIND": value, ...} whose values are strings (want_string) or numbers; each becomes one override. */
static int read_per_kind(struct project *p, const cJSON *root, const char *member, const char *what, int want_string,
                         char *err, size_t errlen)
{
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, member), *item;
	if (!obj)
		return 0;
	if (!cJSON_IsObject(obj)) {
		snprintf(err, errlen, "%s: \"%s\" must be an object of step kinds (summary, outline, sheet, embedding, all)",
		         p->path, member);
		return -1;
	}
	cJSON_ArrayForEach(item, obj) {
		if (strcmp(item->string, "all") != 0 && step_kind_parse(item->string) < 0) {
			snprintf(err, errlen, "%s: \"%s\": unknown step kind \"%.40s\" (summary, outline, sheet, embedding, all)",
			         p->path, member, item->string);
			return -1;
		}
		char value[64];
		const char *text = value;
		char *owned = NULL;
		if (want_string && cJSON_IsString(item) && item->valuestring[0]) {
			text = strcmp(what, "prompt") == 0 ? (owned = resolve(p->dir, item->valuestring)) : item->valuestring;
		} else if (!want_string && cJSON_IsNumber(item)) {
			snprintf(value, sizeof(value), "%.17g", item->valuedouble);
		} else {
			snprintf(err, errlen, "%s: \"%s\".\"%.40s\" must be a %s", p->path, member, item->string,
			         want_string ? "non-empty string" : "number");
			return -1;
		}
		int rc = add_override(p, what, item->string, text, err, errlen);
		free(owned);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int read_string(const struct project *p, const cJSON *root, const char *member, char **out, char *err,
                       size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, member);
	if (!v)
		return 0;
	if (!cJSON_IsString(v) || !v->valuestring[0]) {
		snprintf(err, errlen, "%s: \"%s\" must be a non-empty string", p->path, member);
		return -1;
	}
	*out = xstrdup(v->valuestring);
	return 0;
}

/* The file is checked in and shared: it names the remote cache but never holds its credentials, which stay in
 * SCRIPTBUILD_REMOTE_CACHE_TOKEN (or a user:password URL given by flag or environment, outside the repository). */
static int check_remote(const struct project *p, char *err, size_t errlen)
{
	enum remote_mode mode;
	if (p->remote_cache_mode && remote_mode_parse(p->remote_cache_mode, &mode) < 0) {
		snprintf(err, errlen, "%s: \"remote_cache_mode\" must be \"read-write\" or \"read-only\", not \"%.40s\"",
		         p->path, p->remote_cache_mode);
		return -1;
	}
	if (!p->remote_cache)
		return 0;
	const char *u = p->remote_cache, *scheme_end = strstr(u, "://");
	if (!scheme_end || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)) {
		snprintf(err, errlen, "%s: \"remote_cache\" must be an http:// or https:// URL", p->path);
		return -1;
	}
	const char *authority = scheme_end + 3;
	size_t n = strcspn(authority, "/?#");
	if (memchr(authority, '@', n)) {
		/* Not repeated: what precedes the @ is a secret. */
		snprintf(err, errlen, "%s: \"remote_cache\" holds credentials (user:password@): a checked-in file must not; "
		         "remove them and put a token in SCRIPTBUILD_REMOTE_CACHE_TOKEN (or pass the URL with credentials in "
		         "--remote-cache or SCRIPTBUILD_REMOTE_CACHE)", p->path);
		return -1;
	}
	return 0;
}

static int parse(struct project *p, const char *text, size_t len, char *err, size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	int rc = -1;
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s: not a JSON object (see `man scriptbuild`, PROJECT FILE)", p->path);
		goto out;
	}
	const cJSON *item;
	cJSON_ArrayForEach(item, root) {
		int known = 0;
		for (const char *const *k = known_members; *k; k++)
			known |= strcmp(item->string, *k) == 0;
		if (!known) {
			snprintf(err, errlen, "%s: unknown member \"%.60s\" (known: llm, embed, models, max_tokens, temperature, "
			         "dims, prompts, output_dir, prompt_cache, remote_cache, remote_cache_mode, batch)", p->path,
			         item->string);
			goto out;
		}
	}
	char *output_dir = NULL;
	if (read_string(p, root, "llm", &p->llm, err, errlen) < 0 || read_string(p, root, "embed", &p->embed, err, errlen) < 0 ||
	    read_string(p, root, "output_dir", &output_dir, err, errlen) < 0 ||
	    read_string(p, root, "prompt_cache", &p->prompt_cache, err, errlen) < 0 ||
	    read_per_kind(p, root, "models", "model", 1, err, errlen) < 0 ||
	    read_per_kind(p, root, "max_tokens", "max-tokens", 0, err, errlen) < 0 ||
	    read_per_kind(p, root, "temperature", "temperature", 0, err, errlen) < 0 ||
	    read_per_kind(p, root, "prompts", "prompt", 1, err, errlen) < 0)
		goto out;
	enum net_prompt_cache pc;
	if (p->prompt_cache && net_prompt_cache_parse(p->prompt_cache, &pc) < 0) {
		snprintf(err, errlen, "%s: \"prompt_cache\" is \"%.40s\": write \"off\", \"5m\" or \"1h\"", p->path,
		         p->prompt_cache);
		free(output_dir);
		goto out;
	}
	if (read_string(p, root, "remote_cache", &p->remote_cache, err, errlen) < 0 ||
	    read_string(p, root, "remote_cache_mode", &p->remote_cache_mode, err, errlen) < 0 ||
	    check_remote(p, err, errlen) < 0) {
		free(output_dir);
		goto out;
	}
	if (output_dir) {
		p->output_dir = resolve(p->dir, output_dir);
		free(output_dir);
	}
	const cJSON *batch = cJSON_GetObjectItemCaseSensitive(root, "batch");
	if (batch && !cJSON_IsBool(batch)) {
		snprintf(err, errlen, "%s: \"batch\" must be true or false (Message Batches for the anthropic steps)", p->path);
		goto out;
	}
	p->batch = cJSON_IsTrue(batch);
	const cJSON *dims = cJSON_GetObjectItemCaseSensitive(root, "dims");
	if (dims) {
		char value[32];
		if (!cJSON_IsNumber(dims)) {
			snprintf(err, errlen, "%s: \"dims\" must be a number (the embedding's width)", p->path);
			goto out;
		}
		snprintf(value, sizeof(value), "%.17g", dims->valuedouble);
		if (add_override(p, "dims", "embedding", value, err, errlen) < 0)
			goto out;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

enum project_status project_find(const char *script_path, const char *explicit_path, struct project **out, char *err,
                                 size_t errlen)
{
	*out = NULL;
	char *path = explicit_path ? xstrdup(explicit_path) : script_path ? search_upwards(script_path) : NULL;
	if (!path)
		return PROJECT_NONE;
	char *text;
	size_t len;
	if (read_file(path, PROJECT_MAX_BYTES, &text, &len) < 0) {
		snprintf(err, errlen, "%s: cannot read the project file: %s", path, strerror(errno));
		free(path);
		return PROJECT_ERROR;
	}
	struct project *p = xcalloc(1, sizeof(*p));
	p->path = path;
	char *real = realpath(path, NULL);
	if (real) {
		char *slash = strrchr(real, '/');
		slash[slash == real] = '\0';
		p->dir = real;
	} else {
		p->dir = xstrdup(".");
	}
	int rc = len > PROJECT_MAX_BYTES ? (snprintf(err, errlen, "%s: larger than 1 MiB: not a project file", path), -1)
	                                 : parse(p, text, len, err, errlen);
	free(text);
	if (rc < 0) {
		project_free(p);
		return PROJECT_ERROR;
	}
	*out = p;
	return PROJECT_FOUND;
}

int project_configure(const struct project *p, struct run_config *rc, const char *llm_flag, const char *embed_flag,
                      char *err, size_t errlen)
{
	const char *llm = llm_flag ? llm_flag : p->llm ? p->llm : "builtin";
	const char *embed = embed_flag ? embed_flag : p->embed ? p->embed : "builtin";
	if (config_init(rc, llm, embed, err, errlen) < 0) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (in %s)", p->path);
		return -1;
	}
	for (size_t i = 0; i < p->noverrides; i++)
		if (config_override(rc, p->overrides[i][0], p->overrides[i][1], err, errlen) < 0) {
			size_t n = strlen(err);
			snprintf(err + n, errlen - n, " (in %s)", p->path);
			return -1;
		}
	return 0;
}

void project_free(struct project *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->noverrides; i++) {
		free(p->overrides[i][0]);
		free(p->overrides[i][1]);
	}
	free(p->path);
	free(p->dir);
	free(p->llm);
	free(p->embed);
	free(p->output_dir);
	free(p->prompt_cache);
	free(p->remote_cache);
	free(p->remote_cache_mode);
	free(p);
}

char *project_provider_hint(const struct build_log *previous, const struct run_config *rc, int llm_chosen,
                            int embed_chosen)
{
	static const struct {
		enum step_kind kind;
		const char *flag, *var;
	} kinds[] = {{STEP_SUMMARY, "--llm", "ANTHROPIC_API_KEY"}, {STEP_EMBEDDING, "--embed", "OPENAI_API_KEY"}};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (kinds[i].kind == STEP_SUMMARY ? llm_chosen : embed_chosen)
			continue;
		const char *provider, *model;
		if (build_log_last_provider(previous, kinds[i].kind, &provider, &model) < 0)
			continue;
		const char *now = rc->step[kinds[i].kind].provider;
		if (strcmp(provider, now) == 0)
			continue;
		const char *key = getenv(kinds[i].var);
		int key_set = key && *key;
		return xasprintf("the cache holds %s %s results from the last build; this run selected %s because %s is %s: "
		                 "pass %s %s or add %s", provider, model, now, kinds[i].var, key_set ? "set" : "not set",
		                 kinds[i].flag, provider, PROJECT_FILE_NAME);
	}
	return NULL;
}
