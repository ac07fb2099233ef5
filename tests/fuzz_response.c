/* fuzz_response.c - libFuzzer target: the providers' answer readers (engine/replies.h) on any body.
 *
 * The first byte picks the reader and the step: 'S', 'O', 'H' Anthropic summary, outline, sheet; 's', 'o', 'h' the
 * same through OpenAI chat; 'e' OpenAI embeddings of 3 inputs at any width, 'E' at 8 dimensions. Any other first byte
 * is not an input. The rest is the answer body. A reader may refuse anything; what it accepts must be whole and valid
 * (an abort is a finding). Seeds: tests/fuzz/response. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "builtin.h"
#include "fountain.h"
#include "prompts.h"
#include "replies.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two scenes, two speakers: enough for outline ranges, turning scenes and key lines to be checked. */
static const char script_text[] =
	"INT. SIGNAL BOX - NIGHT\n\n"
	"Rain on the glass. ODILE pulls a lever that will not move.\n\n"
	"ODILE\nThe nine-forty never runs late.\n\n"
	"BRAM\n(from the stairs)\nIt did once.\n\n"
	"EXT. PLATFORM - CONTINUOUS\n\n"
	"Bram holds up a stopped pocket watch.\n\n"
	"BRAM\nNineteen years ago tonight.\n";

static struct fountain_script *script;
static cJSON *summaries[2];
static const struct gen_params params = {.model = "fuzz-model"};
static const struct gen_params params8 = {.model = "fuzz-model", .dims = 8};
static const char *const texts[3] = {"one", "two", "three"};

static void require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_response: invariant broken: %s\n", what);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct fountain_error err;
	require(fountain_parse(script_text, sizeof script_text - 1, &script, &err) == 0 && script->nscenes == 2,
	        "the built-in script parses");
	for (size_t i = 0; i < 2; i++)
		summaries[i] = builtin_summary(script, i + 1);
	return 0;
}

static void job_for(struct job *job, enum step_kind kind)
{
	memset(job, 0, sizeof *job);
	job->kind = kind;
	job->label = "fuzz";
	job->params = &params;
	job->script = script;
	job->scene = 1;
	job->character = 0;
	job->summaries = (const cJSON *const *)summaries;
	job->nsummaries = kind == STEP_SHEET ? script->characters[0].nscenes : 2;
	job->tool_name = prompt_tool_name(kind);
	job->schema = prompt_schema(kind);
}

static void check_output(const struct job *job, enum net_answer verdict)
{
	require((verdict == NET_ANSWER_OK) == (job->output != NULL), "an output exactly when accepted");
	if (!job->output)
		return;
	cJSON *out = cJSON_Parse(job->output);
	char why[300];
	require(cJSON_IsObject(out) && prompt_validate(job, out, why, sizeof why) == 0, "an accepted output is valid");
	cJSON_Delete(out);
}

static void check_vectors(const struct job *job, enum net_answer verdict)
{
	require((verdict == NET_ANSWER_OK) == (job->vectors != NULL), "vectors exactly when accepted");
	if (!job->vectors)
		return;
	require(job->dims > 0 && (job->params->dims == 0 || job->dims == (size_t)job->params->dims), "vector width");
	for (size_t i = 0; i < job->ntexts * job->dims; i++)
		require(isfinite(job->vectors[i]), "accepted vectors are finite");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char modes[] = "SOHsohEe";
	if (size == 0 || !memchr(modes, data[0], sizeof modes - 1))
		return 0;
	char *body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	struct http_result r = {.status = 200, .body = body, .body_len = size - 1, .request_id = ""};
	char cause[400];
	memset(cause, 'x', sizeof cause);
	struct job job;
	enum net_answer verdict;
	char mode = (char)data[0];
	if (mode == 'e' || mode == 'E') {
		job_for(&job, STEP_EMBEDDING);
		job.params = mode == 'E' ? &params8 : &params;
		job.texts = texts;
		job.ntexts = 3;
		verdict = openai_take_embeddings(&job, &r, NULL, cause, sizeof cause);
		check_vectors(&job, verdict);
	} else {
		enum step_kind kind = strchr("Ss", mode) ? STEP_SUMMARY : strchr("Oo", mode) ? STEP_OUTLINE : STEP_SHEET;
		job_for(&job, kind);
		verdict = mode >= 'a' ? openai_take_chat_answer(&job, &r, NULL, cause, sizeof cause)
		                      : anthropic_take_answer(&job, &r, NULL, cause, sizeof cause);
		check_output(&job, verdict);
	}
	require(verdict == NET_ANSWER_OK || (memchr(cause, '\0', sizeof cause) && cause[0] != '\0'), "a refusal says why");
	free(job.output);
	free(job.vectors);
	free(body);
	return 0;
}
