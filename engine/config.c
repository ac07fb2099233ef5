/* config.c - resolving providers, models, parameters and prompts per step kind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "config.h"
#include "graph.h"
#include "net.h"
#include "prompts.h"
#include "util.h"

/* A system prompt far beyond any model's context is a wrong file (or /dev/zero): refuse it before reading it all. */
#define PROMPT_MAX_BYTES ((size_t)1 << 20)

static const char *own(struct run_config *rc, char *s)
{
	if (rc->nowned < sizeof(rc->owned) / sizeof(rc->owned[0]))
		rc->owned[rc->nowned++] = s;
	return s;
}

static int set_llm(struct run_config *rc, const char *spec, char *err, size_t errlen)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	const char *provider;
	if (n == 7 && strncmp(spec, "builtin", n) == 0)
		provider = "builtin";
	else if (n == 9 && strncmp(spec, "anthropic", n) == 0)
		provider = "anthropic";
	else if (n == 6 && strncmp(spec, "openai", n) == 0)
		provider = "openai";
	else {
		snprintf(err, errlen, "--llm %s: unknown provider (want builtin, anthropic[:MODEL] or openai[:MODEL])", spec);
		return -1;
	}
	for (int k = STEP_SUMMARY; k <= STEP_SHEET; k++) {
		struct step_config *c = &rc->step[k];
		c->provider = provider;
		if (strcmp(provider, "builtin") == 0) {
			c->params.model = BUILTIN_ANALYSER;
			c->params.max_tokens = 0;
		} else {
			c->params.model = colon && colon[1] ? own(rc, xstrdup(colon + 1))
			                                    : net_default_model(provider, (enum step_kind)k);
			c->params.max_tokens = net_default_max_tokens((enum step_kind)k);
		}
		c->params.temperature = 0;
	}
	return 0;
}

static int set_embed(struct run_config *rc, const char *spec, char *err, size_t errlen)
{
	struct step_config *c = &rc->step[STEP_EMBEDDING];
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	if (n == 7 && strncmp(spec, "builtin", n) == 0) {
		c->provider = "builtin";
		c->params.model = BUILTIN_ANALYSER;
		c->params.dims = BUILTIN_DEFAULT_DIMS;
		if (colon) {
			char *end;
			long dims = strtol(colon + 1, &end, 10);
			if (*end || dims < 1 || dims > 65536) {
				snprintf(err, errlen, "--embed %s: dimensions must be a number from 1 to 65536", spec);
				return -1;
			}
			c->params.dims = (int)dims;
		}
	} else if (n == 6 && strncmp(spec, "openai", n) == 0) {
		c->provider = "openai";
		c->params.model = colon && colon[1] ? own(rc, xstrdup(colon + 1)) : net_default_model("openai", STEP_EMBEDDING);
		c->params.dims = 0;
	} else {
		snprintf(err, errlen, "--embed %s: unknown provider (want builtin[:DIMS] or openai[:MODEL])", spec);
		return -1;
	}
	return 0;
}

/* The endpoint as the cache tells services apart: scheme, host and path of base_url (or the public default), lower
 * case, without credentials, port or trailing slash. The port is left out on purpose: a local server restarted on
 * another port still gives the same answers, and keys must not churn with it. */
static char *endpoint_identity(const char *env, const char *fallback)
{
	const char *url = getenv(env);
	if (!url || !*url)
		url = fallback;
	const char *scheme_end = strstr(url, "://");
	const char *host = scheme_end ? scheme_end + 3 : url;
	const char *path = host + strcspn(host, "/");
	const char *at = memchr(host, '@', (size_t)(path - host));
	if (at)
		host = at + 1;
	size_t host_len = (size_t)(path - host);
	const char *colon = memchr(host, ':', host_len);
	if (colon && host[0] != '[')
		host_len = (size_t)(colon - host);
	size_t path_len = strlen(path);
	while (path_len > 0 && path[path_len - 1] == '/')
		path_len--;
	int scheme_len = scheme_end ? (int)(scheme_end - url) : 5;
	char *id = xasprintf("%.*s://%.*s%.*s", scheme_len, scheme_end ? url : "https", (int)host_len, host,
	                     (int)path_len, path);
	/* Scheme and host are case-insensitive; the path is not. */
	for (char *p = id; p < id + scheme_len + 3 + host_len; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return id;
}

int config_init(struct run_config *rc, const char *llm_spec, const char *embed_spec, char *err, size_t errlen)
{
	memset(rc, 0, sizeof(*rc));
	const char *akey = getenv("ANTHROPIC_API_KEY"), *okey = getenv("OPENAI_API_KEY");
	if (!llm_spec)
		llm_spec = akey && *akey ? "anthropic" : "builtin";
	if (!embed_spec)
		embed_spec = okey && *okey ? "openai" : "builtin";
	if (set_llm(rc, llm_spec, err, errlen) < 0 || set_embed(rc, embed_spec, err, errlen) < 0)
		return -1;
	for (int k = 0; k < STEP_KINDS; k++) {
		struct step_config *c = &rc->step[k];
		if (strcmp(c->provider, "anthropic") == 0)
			c->endpoint = own(rc, endpoint_identity("ANTHROPIC_BASE_URL", "https://api.anthropic.com"));
		else if (strcmp(c->provider, "openai") == 0)
			c->endpoint = own(rc, endpoint_identity("OPENAI_BASE_URL", "https://api.openai.com/v1"));
		c->prompt_id = prompt_id((enum step_kind)k);
		c->system = prompt_system((enum step_kind)k);
		c->template_text = prompt_template((enum step_kind)k);
		c->schema_text = prompt_schema_text((enum step_kind)k);
	}
	return 0;
}

static int apply(struct run_config *rc, struct step_config *c, const char *what, const char *value, char *err,
                 size_t errlen)
{
	char *end;
	if (strcmp(what, "model") == 0) {
		c->params.model = own(rc, xstrdup(value));
	} else if (strcmp(what, "max-tokens") == 0) {
		long v = strtol(value, &end, 10);
		if (*end || v < 1 || v > 1000000) {
			snprintf(err, errlen, "--max-tokens: '%s' is not a number from 1 to 1000000", value);
			return -1;
		}
		c->params.max_tokens = (int)v;
	} else if (strcmp(what, "temperature") == 0) {
		double v = strtod(value, &end);
		if (*end || v < 0 || v > 2) {
			snprintf(err, errlen, "--temperature: '%s' is not a number from 0 to 2", value);
			return -1;
		}
		c->params.temperature = v;
	} else if (strcmp(what, "dims") == 0) {
		long v = strtol(value, &end, 10);
		if (*end || v < 1 || v > 65536) {
			snprintf(err, errlen, "--dims: '%s' is not a number from 1 to 65536", value);
			return -1;
		}
		c->params.dims = (int)v;
	} else if (strcmp(what, "prompt") == 0) {
		char *text;
		size_t len;
		if (read_file(value, PROMPT_MAX_BYTES, &text, &len) < 0) {
			snprintf(err, errlen, "--prompt: cannot read %s: %s", value, strerror(errno));
			return -1;
		}
		if (len > PROMPT_MAX_BYTES) {
			free(text);
			snprintf(err, errlen, "--prompt: %s is larger than 1 MiB: give a system prompt file", value);
			return -1;
		}
		c->system = own(rc, text);
	} else {
		snprintf(err, errlen, "unknown override '%s'", what);
		return -1;
	}
	return 0;
}

int config_override(struct run_config *rc, const char *what, const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1]) {
		snprintf(err, errlen, "--%s %s: want KIND=VALUE (KIND: summary, outline, sheet, embedding or all)", what, arg);
		return -1;
	}
	char kind[32];
	snprintf(kind, sizeof(kind), "%.*s", (int)(eq - arg), arg);
	if (strcmp(kind, "all") == 0) {
		/* A model name is an LLM's or an embedding model's, never both: "all" means the LLM kinds for it. */
		int last = strcmp(what, "model") == 0 ? STEP_SHEET : STEP_KINDS - 1;
		for (int k = 0; k <= last; k++)
			if (apply(rc, &rc->step[k], what, eq + 1, err, errlen) < 0)
				return -1;
		return 0;
	}
	int k = step_kind_parse(kind);
	if (k < 0) {
		snprintf(err, errlen, "--%s %s: unknown step kind '%s' (summary, outline, sheet, embedding or all)", what,
		         arg, kind);
		return -1;
	}
	return apply(rc, &rc->step[k], what, eq + 1, err, errlen);
}

int config_create_providers(const struct run_config *rc, struct loop *loop, const struct net_config *net,
                            struct provider *out[STEP_KINDS], char *err, size_t errlen)
{
	struct provider *builtin = NULL, *llm = NULL, *embed = NULL;
	for (int k = 0; k < STEP_KINDS; k++)
		out[k] = NULL;
	for (int k = 0; k < STEP_KINDS; k++) {
		const char *name = rc->step[k].provider;
		if (strcmp(name, "builtin") == 0) {
			if (!builtin)
				builtin = builtin_provider_new(loop);
			out[k] = builtin;
		} else if (k == STEP_EMBEDDING) {
			embed = openai_embed_provider_new(loop, net, err, errlen);
			if (!embed)
				goto fail;
			out[k] = embed;
		} else {
			if (!llm) {
				if (strcmp(name, "anthropic") == 0)
					llm = anthropic_provider_new(loop, net, err, errlen);
				else
					llm = openai_chat_provider_new(loop, net, err, errlen);
				if (!llm)
					goto fail;
			}
			out[k] = llm;
		}
	}
	return 0;
fail:
	config_destroy_providers(out);
	return -1;
}

void config_destroy_providers(struct provider *p[STEP_KINDS])
{
	for (int k = 0; k < STEP_KINDS; k++) {
		if (!p[k])
			continue;
		struct provider *victim = p[k];
		for (int j = k; j < STEP_KINDS; j++)
			if (p[j] == victim)
				p[j] = NULL;
		victim->destroy(victim);
	}
}

void config_free(struct run_config *rc)
{
	for (size_t i = 0; i < rc->nowned; i++)
		free(rc->owned[i]);
	rc->nowned = 0;
}
