/* builtin_provider.c - the offline analyser as a provider: each job is computed at once, in-process, and completes
 * on the next turn of the loop like any network job. */
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "builtin.h"
#include "job.h"
#include "loop.h"
#include "util.h"

static int fail(struct job *job, const char *why)
{
	snprintf(job->error, sizeof(job->error), "%s: builtin analyser: %s", job->label ? job->label : "step", why);
	return -1;
}

static int finish_json(struct job *job, cJSON *result)
{
	if (!result)
		return fail(job, "the step's inputs do not match the script (an engine bug: please report it)");
	job->output = cJSON_PrintUnformatted(result);
	cJSON_Delete(result);
	if (!job->output)
		return fail(job, "out of memory while printing the result");
	return 0;
}

static int run_embeddings(struct job *job)
{
	if (job->ntexts && !job->texts)
		return fail(job, "an embedding batch without texts (an engine bug: please report it)");
	size_t dims = job->params && job->params->dims > 0 ? (size_t)job->params->dims : BUILTIN_DEFAULT_DIMS;
	job->dims = dims;
	job->vectors = job->ntexts ? xcalloc(job->ntexts * dims, sizeof(float)) : NULL;
	for (size_t i = 0; i < job->ntexts; i++)
		builtin_embed(job->texts[i], dims, job->vectors + i * dims);
	return 0;
}

static void complete(void *job)
{
	struct job *j = job;
	j->done(j);
}

static int builtin_start(struct provider *p, struct job *job)
{
	int rc;
	switch (job->kind) {
	case STEP_SUMMARY:
		rc = finish_json(job, builtin_summary(job->script, job->scene));
		break;
	case STEP_OUTLINE:
		rc = finish_json(job, builtin_outline(job->script, job->summaries, job->nsummaries));
		break;
	case STEP_SHEET:
		rc = finish_json(job, builtin_sheet(job->script, job->character, job->summaries, job->nsummaries));
		break;
	case STEP_EMBEDDING:
		rc = run_embeddings(job);
		break;
	default:
		rc = fail(job, "unknown step kind");
		break;
	}
	if (rc != 0)
		return rc;
	job->tokens_in = job->tokens_out = 0;
	job->requests = job->retries = 0;
	job->status = JOB_OK;
	/* Completing later, never from start(), keeps the scheduler's bookkeeping identical for every provider. */
	loop_defer(p->loop, complete, job);
	return 0;
}

static void builtin_destroy(struct provider *p)
{
	free(p);
}

struct provider *builtin_provider_new(struct loop *loop)
{
	struct provider *p = xcalloc(1, sizeof(*p));
	p->name = "builtin";
	p->loop = loop;
	p->start = builtin_start;
	p->destroy = builtin_destroy;
	return p;
}
