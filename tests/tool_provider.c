/* tool_provider.c - runs one job of one kind against a network provider configured from the SDK environment
 * variables, and prints what came back: for integration checks by hand and for tests.
 *
 *   tool_provider [-v] [-r RETRIES] [-t TIMEOUT_MS] [-m MODEL] [-M MAX_TOKENS] [-d DIMS] PROVIDER KIND ARGS...
 *     PROVIDER  anthropic | openai | openai-embed
 *     KIND      summary SCRIPT SCENE | outline SCRIPT | sheet SCRIPT CHARACTER | embedding TEXT...
 *
 * Upstream summaries of an outline or sheet come from the builtin analyser. Prints "status", "requests",
 * "retries", "tokens_in", "tokens_out", then "error ..." or "output <json>" / "dims N" and "vector I <first values>";
 * -v prints the provider's log lines on stderr. Exit 0 ok, 1 failed, 3 fatal, 2 usage or input error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "builtin.h"
#include "fountain.h"
#include "job.h"
#include "loop.h"
#include "net.h"
#include "prompts.h"
#include "sbtest.h"

static void usage(void)
{
	fprintf(stderr, "usage: tool_provider [-v] [-r RETRIES] [-t TIMEOUT_MS] [-m MODEL] [-M MAX_TOKENS] [-d DIMS] "
	                "PROVIDER KIND ARGS...\n"
	                "  PROVIDER: anthropic | openai | openai-embed\n"
	                "  KIND: summary SCRIPT SCENE | outline SCRIPT | sheet SCRIPT CHARACTER | embedding TEXT...\n");
	exit(2);
}

static void log_line(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

static void on_done(struct job *job)
{
	*(int *)job->owner = 1;
}

static int kind_of(const char *name, enum step_kind *kind)
{
	static const char *const names[] = {"summary", "outline", "sheet", "embedding"};
	for (int k = 0; k < STEP_KINDS; k++)
		if (strcmp(name, names[k]) == 0) {
			*kind = (enum step_kind)k;
			return 0;
		}
	return -1;
}

int main(int argc, char **argv)
{
	struct net_config cfg = {.retries = -1};
	struct gen_params params = {0};
	int opt;
	while ((opt = getopt(argc, argv, "vr:t:m:M:d:")) != -1) {
		switch (opt) {
		case 'v': cfg.log = log_line; break;
		case 'r': cfg.retries = atoi(optarg); break;
		case 't': cfg.timeout_ms = atol(optarg); break;
		case 'm': params.model = optarg; break;
		case 'M': params.max_tokens = atoi(optarg); break;
		case 'd': params.dims = atoi(optarg); break;
		default: usage();
		}
	}
	if (argc - optind < 3)
		usage();
	const char *provider = argv[optind];
	enum step_kind kind;
	if (kind_of(argv[optind + 1], &kind) < 0)
		usage();
	char **args = argv + optind + 2;
	int nargs = argc - optind - 2;

	struct loop *l = loop_new();
	char err[512];
	struct provider *p = strcmp(provider, "anthropic") == 0 ? anthropic_provider_new(l, &cfg, err, sizeof(err))
	                     : strcmp(provider, "openai") == 0   ? openai_chat_provider_new(l, &cfg, err, sizeof(err))
	                     : strcmp(provider, "openai-embed") == 0
	                             ? openai_embed_provider_new(l, &cfg, err, sizeof(err))
	                             : (snprintf(err, sizeof(err), "unknown provider %s", provider), NULL);
	if (!p) {
		fprintf(stderr, "tool_provider: %s\n", err);
		loop_free(l);
		return 2;
	}
	if (!params.model)
		params.model = net_default_model(strcmp(provider, "anthropic") == 0 ? "anthropic" : "openai", kind);

	struct job job = {.kind = kind, .label = argv[optind + 1], .params = &params};
	struct fountain_script *script = NULL;
	cJSON **sums = NULL;
	size_t nsums = 0;
	char *user = NULL;
	int done = 0, status = 2;
	if (kind == STEP_EMBEDDING) {
		job.texts = (const char *const *)args;
		job.ntexts = (size_t)nargs;
	} else {
		struct fountain_error ferr;
		if (load_fountain(args[0], &script, &ferr) < 0) {
			fprintf(stderr, "tool_provider: %s\n", ferr.message);
			goto out;
		}
		job.script = script;
		if (kind == STEP_SUMMARY) {
			job.scene = nargs > 1 ? (size_t)atol(args[1]) : 0;
			if (job.scene < 1 || job.scene > script->nscenes) {
				fprintf(stderr, "tool_provider: %s has scenes 1..%zu\n", args[0], script->nscenes);
				goto out;
			}
		} else {
			const struct fountain_character *ch = NULL;
			if (kind == STEP_SHEET && (nargs < 2 || !(ch = fountain_find_character(script, args[1])))) {
				fprintf(stderr, "tool_provider: name a character who speaks in %s\n", args[0]);
				goto out;
			}
			nsums = ch ? ch->nscenes : script->nscenes;
			sums = calloc(nsums ? nsums : 1, sizeof(*sums));
			for (size_t i = 0; i < nsums; i++)
				sums[i] = builtin_summary(script, ch ? ch->scenes[i] : i + 1);
			job.character = ch ? (size_t)(ch - script->characters) : 0;
			job.summaries = (const cJSON *const *)sums;
			job.nsummaries = nsums;
		}
		job.system = prompt_system(kind);
		job.tool_name = prompt_tool_name(kind);
		job.tool_description = prompt_tool_description(kind);
		job.schema = prompt_schema(kind);
		job.user = user = prompt_render(&job);
	}
	job.done = on_done;
	job.owner = &done;
	if (p->start(p, &job) < 0) {
		printf("status start-failed\nerror %s\n", job.error);
		status = 1;
		goto out;
	}
	while (loop_pending(l) > 0)
		loop_run_once(l, 1000);
	printf("status %s\nrequests %d\nretries %d\ntokens_in %llu\ntokens_out %llu\n",
	       job.status == JOB_OK ? "ok" : job.status == JOB_FATAL ? "fatal" : "failed", job.requests, job.retries,
	       (unsigned long long)job.tokens_in, (unsigned long long)job.tokens_out);
	if (job.status != JOB_OK) {
		printf("error %s\n", job.error);
	} else if (kind == STEP_EMBEDDING) {
		printf("dims %zu\n", job.dims);
		for (size_t i = 0; i < job.ntexts; i++)
			printf("vector %zu %.6f %.6f %.6f\n", i, job.vectors[i * job.dims],
			       job.dims > 1 ? job.vectors[i * job.dims + 1] : 0.0, job.dims > 2 ? job.vectors[i * job.dims + 2] : 0.0);
	} else {
		printf("output %s\n", job.output);
	}
	status = job.status == JOB_OK ? 0 : job.status == JOB_FATAL ? 3 : 1;
out:
	for (size_t i = 0; i < nsums; i++)
		cJSON_Delete(sums[i]);
	free(sums);
	free(user);
	free(job.output);
	free(job.vectors);
	fountain_free(script);
	p->destroy(p);
	loop_free(l);
	return status;
}
