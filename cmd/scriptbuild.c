/* scriptbuild - make for the AI analysis of a screenplay: argument parsing, wiring and the status line. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "admission.h"
#include "analysis.h"
#include "build.h"
#include "cache.h"
#include "config.h"
#include "estimate.h"
#include "fountain.h"
#include "gate.h"
#include "graph.h"
#include "html_report.h"
#include "interrupt.h"
#include "jsonfield.h"
#include "loop.h"
#include "net.h"
#include "batchmode.h"
#include "outpath.h"
#include "plan.h"
#include "pricing.h"
#include "project.h"
#include "publish.h"
#include "buildlog.h"
#include "remote.h"
#include "report.h"
#include "similar.h"
#include "slate.h"
#include "stdio_guard.h"
#include "util.h"
#include "validate.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

struct options {
	int jobs;
	int keep_going;
	bool dry_run, frozen, explain, partial, quiet, verbose, force_output, html;
	bool batch, batch_fallback_sync, cancel;   /* --batch, --batch-fallback sync, -t batches --cancel */
	const char *tool;
	const char *cache_dir;
	const char *project_path;
	const char *report_path;
	const char *output_path;
	const char *llm_spec, *embed_spec;
	const char *max_size;
	const char *remote_url;         /* --remote-cache, else $SCRIPTBUILD_REMOTE_CACHE */
	const char *remote_mode;
	const char *prompt_cache;       /* --prompt-cache, else the project file's, else 5m */
	size_t embed_batch;
	double max_cost;          /* USD; 0 = no budget */
	int retries;
	int corrections;
	bool repair;
	long timeout_ms, connect_timeout_ms;
	const char *overrides[64][2];
	size_t noverrides;
	struct {
		char provider[32];        /* "" for every provider */
		enum rl_limit limit;
		double per_minute;
	} caps[16];
	size_t ncaps;
	const char *script;             /* the tools' first argument */
	const char *const *targets;
	size_t ntargets;
	const char **inputs;            /* a build's scripts and directories (the other arguments are targets) */
	size_t ninputs;
};

/* What the status line needs between events. */
struct status {
	bool tty, verbose, quiet;
	bool line_open;
	double started, last_progress;  /* monotonic seconds */
	double progress_every;          /* seconds between progress lines on a non-terminal stderr */
	struct timespec waiting_said;  /* when -v last said which rate limit the run waits for */
	bool slate;                     /* several scripts: the line counts scripts too */
};

static double monotonic_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Seconds between progress lines: 10, or $SCRIPTBUILD_PROGRESS_SECONDS (tests use a short one). */
static double progress_interval(void)
{
	const char *v = getenv("SCRIPTBUILD_PROGRESS_SECONDS");
	char *end;
	double s = v && *v ? strtod(v, &end) : 10;
	return v && *v && (*end || s < 0) ? 10 : s;
}

/* A CI log is not a terminal and shows no status line: a line now and then tells that the run is alive. */
static void progress_line(struct status *s, const struct build_event *ev)
{
	if (s->tty || s->verbose || s->quiet || ev->total == 0)
		return;
	double now = monotonic_seconds();
	if (now - s->last_progress < s->progress_every)
		return;
	s->last_progress = now;
	fprintf(stderr, "scriptbuild: [%zu/%zu] %zu %%, %.0f s, %lu retries\n", ev->finished, ev->total,
	        ev->finished * 100 / ev->total, now - s->started, ev->retries);
}

static void usage(FILE *f)
{
	fputs("usage: scriptbuild [options] SCRIPT|DIR... [TARGET...]\n"
	      "       scriptbuild -t TOOL [ARGS]\n"
	      "\n"
	      "Analyses a Fountain screenplay: scene summaries, an outline, character sheets and embeddings, each cached\n"
	      "by content so that only the steps an edit touched run again. Writes NAME.analysis.tar.zst.\n"
	      "Several scripts, or a directory (its .fountain files), are one run: one window, one rate budget; each\n"
	      "archive is written beside its script (or mirrored under -o DIR) as soon as its steps are done.\n"
	      "\n"
	      "targets: summaries outline sheets embeddings scene:N (Nth heading) scene:1A (#1A#) sheet:NAME\n"
	      "         (default: everything)\n"
	      "\n"
	      "options:\n"
	      "  -j N                 requests in flight (default 10)\n"
	      "  -k N                 keep going until N steps fail (0: never stop; default 1)\n"
	      "  -n                   dry run: list the stale steps with estimated tokens and cost; run nothing\n"
	      "  -d explain           say why each step runs\n"
	      "  -o FILE              archive path (default NAME.analysis.tar.zst in the current directory, or in the\n"
	      "                       project file's output_dir); must end in .tar.zst and never be the script itself\n"	      "                       (several scripts: a directory, under which the scripts' paths are mirrored)\n"
	      "  --force-output       allow an -o FILE that does not end in .tar.zst\n"
	      "  -f FILE              project file (default: scriptbuild.json in the script's directory or an ancestor)\n"
	      "  --html               also write the report page NAME.analysis.html beside the archive\n"
	      "  --partial            write the archive even when some step failed (the manifest says so)\n"
	      "  --frozen             never call a provider: finish when all is cached, else list the stale steps, exit 1\n"
	      "  --cache DIR          cache directory (default $SCRIPTBUILD_CACHE, $XDG_CACHE_HOME/scriptbuild,\n"
	      "                       ~/.cache/scriptbuild)\n"
	      "  --report FILE        write the run's counts as JSON (with -n: the plan, every stale step's estimate)\n"
	      "  --max-cost USD       start no step that could take the run's cost past USD; finish what is in flight,\n"
	      "                       keep it in the cache, exit 1 (a warning at 80 %)\n"
	      "  --remote-cache URL   a shared cache after the local one (Bazel's HTTP cache: bazel-remote, nginx\n"
	      "                       WebDAV); default $SCRIPTBUILD_REMOTE_CACHE; token in $SCRIPTBUILD_REMOTE_CACHE_TOKEN\n"
	      "  --remote-cache-mode read-write|read-only   read-only never uploads (default read-write)\n"
	      "  --batch              send the anthropic steps through Message Batches (half price, minutes to hours;\n"
	      "                       resumable: a killed run's batches are collected by the next run)\n"
	      "  --batch-fallback sync|batch   send correction turns, errored and expired items synchronously\n"
	      "                       (sync) or in the next batch (batch, the default)\n"
	      "  --llm SPEC           builtin | anthropic[:MODEL] | openai[:MODEL] (default: the project file's llm; with\n"
	      "                       no project file anthropic if ANTHROPIC_API_KEY is set, else builtin)\n"
	      "  --embed SPEC         builtin[:DIMS] | openai[:MODEL] (default: the project file's embed; with no\n"
	      "                       project file openai if OPENAI_API_KEY is set, else builtin)\n"
	      "  --embed-batch N      most inputs per embedding request (default 2048; 1 = one per request)\n"
	      "  --model KIND=M       model for one step kind (summary, outline, sheet, embedding; all = the LLM kinds)\n"
	      "  --max-tokens KIND=N  --temperature KIND=T  --dims embedding=N  --prompt KIND=FILE (system prompt)\n"
	      "  --rpm [PROVIDER=]N   at most N requests a minute (per model; PROVIDER: anthropic, openai)\n"
	      "  --itpm [PROVIDER=]N  at most N input tokens a minute    --otpm [PROVIDER=]N  output tokens a minute\n"
	      "  --prompt-cache off|5m|1h   Anthropic prompt caching of each prompt's stable prefix (default 5m);\n"
	      "                       transport only: changing it re-runs nothing\n"
	      "  --retries N          retries per request (default 4)\n"
	      "  --corrections N      correction turns per step after an invalid answer (default 2)\n"
	      "  --timeout S          seconds per request (default 300)  --connect-timeout S (default 10)\n"
	      "  -q, -v               quieter, more verbose\n"
	      "  -h, -V               help, version\n"
	      "\n"
	      "tools (-t): parse SCRIPT | stats | verify [--repair] | gc --max-size SIZE | verify-archive FILE\n"
	      "            report ARCHIVE [-o FILE.html] | similar ARCHIVE SCENE [-n K] | batches [--cancel]\n"
	      "exit: 0 all steps done, 1 some step failed, 2 usage or input error\n",
	      f);
}

static int parse_count(const char *flag, const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "scriptbuild: %s %s: want a whole number from %ld to %ld\n", flag, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_seconds(const char *flag, const char *s, long *ms)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || v <= 0 || v > 86400) {
		fprintf(stderr, "scriptbuild: %s %s: want seconds, more than 0\n", flag, s);
		return -1;
	}
	*ms = (long)(v * 1000);
	return 0;
}

/* --rpm / --itpm / --otpm: "N" for every provider or "PROVIDER=N"; 0, or -1 after saying what is wrong. */
static int parse_cap(struct options *o, const char *flag, enum rl_limit limit, const char *arg)
{
	const char *eq = strchr(arg, '='), *number = eq ? eq + 1 : arg;
	char provider[32] = "";
	if (eq) {
		snprintf(provider, sizeof(provider), "%.*s", (int)(eq - arg < 31 ? eq - arg : 31), arg);
		if (strcmp(provider, "anthropic") != 0 && strcmp(provider, "openai") != 0) {
			fprintf(stderr, "scriptbuild: %s %s: the provider must be anthropic or openai (or give N alone for both)\n",
			        flag, arg);
			return -1;
		}
	}
	char *end;
	errno = 0;
	double v = strtod(number, &end);
	if (errno || end == number || *end || !(v >= 1 && v <= 1e12)) {
		fprintf(stderr, "scriptbuild: %s %s: want [PROVIDER=]N with N a number per minute, at least 1\n", flag, arg);
		return -1;
	}
	if (o->ncaps == sizeof(o->caps) / sizeof(o->caps[0])) {
		fprintf(stderr, "scriptbuild: too many --rpm/--itpm/--otpm options\n");
		return -1;
	}
	snprintf(o->caps[o->ncaps].provider, sizeof(o->caps[0].provider), "%s", provider);
	o->caps[o->ncaps].limit = limit;
	o->caps[o->ncaps].per_minute = v;
	o->ncaps++;
	return 0;
}

enum {
	OPT_CACHE = 256, OPT_REPORT, OPT_LLM, OPT_EMBED, OPT_EMBED_BATCH, OPT_MODEL, OPT_MAX_TOKENS, OPT_TEMPERATURE,
	OPT_DIMS, OPT_PROMPT, OPT_RETRIES, OPT_TIMEOUT, OPT_CONNECT_TIMEOUT, OPT_FROZEN, OPT_PARTIAL, OPT_MAX_SIZE,
	OPT_FORCE_OUTPUT, OPT_CORRECTIONS, OPT_REPAIR, OPT_HTML,
	OPT_MAX_COST, OPT_RPM, OPT_ITPM, OPT_OTPM, OPT_REMOTE_CACHE, OPT_REMOTE_CACHE_MODE,
	OPT_PROMPT_CACHE, OPT_BATCH, OPT_BATCH_FALLBACK, OPT_CANCEL
};

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"cache", required_argument, NULL, OPT_CACHE},
		{"report", required_argument, NULL, OPT_REPORT},
		{"llm", required_argument, NULL, OPT_LLM},
		{"embed", required_argument, NULL, OPT_EMBED},
		{"embed-batch", required_argument, NULL, OPT_EMBED_BATCH},
		{"model", required_argument, NULL, OPT_MODEL},
		{"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
		{"temperature", required_argument, NULL, OPT_TEMPERATURE},
		{"dims", required_argument, NULL, OPT_DIMS},
		{"prompt", required_argument, NULL, OPT_PROMPT},
		{"retries", required_argument, NULL, OPT_RETRIES},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
		{"frozen", no_argument, NULL, OPT_FROZEN},
		{"partial", no_argument, NULL, OPT_PARTIAL},
		{"max-size", required_argument, NULL, OPT_MAX_SIZE},
		{"force-output", no_argument, NULL, OPT_FORCE_OUTPUT},
		{"corrections", required_argument, NULL, OPT_CORRECTIONS},
		{"repair", no_argument, NULL, OPT_REPAIR},
		{"html", no_argument, NULL, OPT_HTML},
		{"max-cost", required_argument, NULL, OPT_MAX_COST},
		{"rpm", required_argument, NULL, OPT_RPM},
		{"itpm", required_argument, NULL, OPT_ITPM},
		{"otpm", required_argument, NULL, OPT_OTPM},
		{"remote-cache", required_argument, NULL, OPT_REMOTE_CACHE},
		{"remote-cache-mode", required_argument, NULL, OPT_REMOTE_CACHE_MODE},
		{"prompt-cache", required_argument, NULL, OPT_PROMPT_CACHE},
		{"batch", no_argument, NULL, OPT_BATCH},
		{"batch-fallback", required_argument, NULL, OPT_BATCH_FALLBACK},
		{"cancel", no_argument, NULL, OPT_CANCEL},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	static const char *const override_names[] = {
		[OPT_MODEL - OPT_MODEL] = "model", [OPT_MAX_TOKENS - OPT_MODEL] = "max-tokens",
		[OPT_TEMPERATURE - OPT_MODEL] = "temperature", [OPT_DIMS - OPT_MODEL] = "dims",
		[OPT_PROMPT - OPT_MODEL] = "prompt",
	};
	long v;
	int c;
	o->jobs = 10;
	o->keep_going = 1;
	o->embed_batch = 2048;
	o->retries = 4;
	o->corrections = NET_CORRECTIONS;
	o->timeout_ms = 300000;
	o->connect_timeout_ms = 10000;
	while ((c = getopt_long(argc, argv, "j:k:nd:t:o:f:qvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (parse_count("-j", optarg, 1, 1024, &v) < 0)
				return -1;
			o->jobs = (int)v;
			break;
		case 'k':
			if (parse_count("-k", optarg, 0, INT_MAX, &v) < 0)
				return -1;
			o->keep_going = (int)v;
			break;
		case 'n':
			o->dry_run = true;
			break;
		case 'd':
			if (strcmp(optarg, "explain") != 0) {
				fprintf(stderr, "scriptbuild: -d %s: the only debug mode is 'explain'\n", optarg);
				return -1;
			}
			o->explain = true;
			break;
		case 't':
			o->tool = optarg;
			break;
		case 'o':
			o->output_path = optarg;
			break;
		case 'f':
			o->project_path = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(stdio_guard_finish("scriptbuild", EXIT_OK));
		case 'V':
			printf("scriptbuild %s\n", SCRIPTBUILD_VERSION);
			exit(stdio_guard_finish("scriptbuild", EXIT_OK));
		case OPT_CACHE:
			o->cache_dir = optarg;
			break;
		case OPT_REPORT:
			o->report_path = optarg;
			break;
		case OPT_LLM:
			o->llm_spec = optarg;
			break;
		case OPT_EMBED:
			o->embed_spec = optarg;
			break;
		case OPT_EMBED_BATCH:
			if (parse_count("--embed-batch", optarg, 1, 2048, &v) < 0)
				return -1;
			o->embed_batch = (size_t)v;
			break;
		case OPT_MODEL:
		case OPT_MAX_TOKENS:
		case OPT_TEMPERATURE:
		case OPT_DIMS:
		case OPT_PROMPT:
			if (o->noverrides == sizeof(o->overrides) / sizeof(o->overrides[0])) {
				fputs("scriptbuild: too many overrides\n", stderr);
				return -1;
			}
			o->overrides[o->noverrides][0] = override_names[c - OPT_MODEL];
			o->overrides[o->noverrides][1] = c == OPT_DIMS && !strchr(optarg, '=') ? NULL : optarg;
			if (c == OPT_DIMS && !strchr(optarg, '=')) {
				/* --dims N means the embedding's dimensions: there is no other kind it could mean. */
				static char buf[64];
				snprintf(buf, sizeof(buf), "embedding=%s", optarg);
				o->overrides[o->noverrides][1] = buf;
			}
			o->noverrides++;
			break;
		case OPT_RETRIES:
			if (parse_count("--retries", optarg, 0, 100, &v) < 0)
				return -1;
			o->retries = (int)v;
			break;
		case OPT_TIMEOUT:
			if (parse_seconds("--timeout", optarg, &o->timeout_ms) < 0)
				return -1;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (parse_seconds("--connect-timeout", optarg, &o->connect_timeout_ms) < 0)
				return -1;
			break;
		case OPT_FROZEN:
			o->frozen = true;
			break;
		case OPT_PARTIAL:
			o->partial = true;
			break;
		case OPT_MAX_SIZE:
			o->max_size = optarg;
			break;
		case OPT_FORCE_OUTPUT:
			o->force_output = true;
			break;
		case OPT_CORRECTIONS:
			if (parse_count("--corrections", optarg, 0, 10, &v) < 0)
				return -1;
			o->corrections = (int)v;
			break;
		case OPT_REPAIR:
			o->repair = true;
			break;
		case OPT_PROMPT_CACHE: {
			enum net_prompt_cache pc;
			if (net_prompt_cache_parse(optarg, &pc) < 0) {
				fprintf(stderr, "scriptbuild: --prompt-cache %s: write off, 5m or 1h\n", optarg);
				return -1;
			}
			o->prompt_cache = optarg;
			break;
		}
		case OPT_HTML:
			o->html = true;
			break;
		case OPT_MAX_COST: {
			char *end;
			o->max_cost = strtod(optarg[0] == '$' ? optarg + 1 : optarg, &end);
			if (end == optarg || *end || !(o->max_cost > 0) || o->max_cost > 1e9) {
				fprintf(stderr, "scriptbuild: --max-cost %s: want US dollars, more than 0 (e.g. 2.50)\n", optarg);
				return -1;
			}
			break;
		}
		case OPT_RPM:
		case OPT_ITPM:
		case OPT_OTPM:
			if (parse_cap(o, c == OPT_RPM ? "--rpm" : c == OPT_ITPM ? "--itpm" : "--otpm",
			              c == OPT_RPM ? RL_REQUESTS : c == OPT_ITPM ? RL_INPUT_TOKENS : RL_OUTPUT_TOKENS, optarg) < 0)
				return -1;
			break;
		case OPT_REMOTE_CACHE:
			o->remote_url = optarg;
			break;
		case OPT_REMOTE_CACHE_MODE: {
			enum remote_mode mode;
			if (remote_mode_parse(optarg, &mode) < 0) {
				fprintf(stderr, "scriptbuild: --remote-cache-mode %s: want read-write or read-only\n", optarg);
				return -1;
			}
			o->remote_mode = optarg;
			break;
		}
		case OPT_BATCH:
			o->batch = true;
			break;
		case OPT_BATCH_FALLBACK:
			if (strcmp(optarg, "sync") != 0 && strcmp(optarg, "batch") != 0) {
				fprintf(stderr, "scriptbuild: --batch-fallback %s: want sync or batch\n", optarg);
				return -1;
			}
			o->batch_fallback_sync = strcmp(optarg, "sync") == 0;
			break;
		case OPT_CANCEL:
			o->cancel = true;
			break;
		default:
			fputs("scriptbuild: try 'scriptbuild -h'\n", stderr);
			return -1;
		}
	}
	if (o->tool) {
		if (optind < argc)
			o->script = argv[optind++];
		o->targets = (const char *const *)argv + optind;
		o->ntargets = (size_t)(argc - optind);
		return 0;
	}
	/* The first argument is a script; after it, a target word or form is a target, an existing path or a
	 * .fountain name a script or directory, and anything else a target (refused with the list of targets). */
	int n = argc - optind;
	o->inputs = xcalloc(n > 0 ? (size_t)n : 1, sizeof(char *));
	const char **targets = xcalloc(n > 0 ? (size_t)n : 1, sizeof(char *));
	for (int i = optind; i < argc; i++) {
		struct stat st;
		size_t len = strlen(argv[i]);
		bool input = i == optind ||
		             (!slate_is_target(argv[i]) &&
		              (stat(argv[i], &st) == 0 || (len > 9 && strcmp(argv[i] + len - 9, ".fountain") == 0)));
		if (input)
			o->inputs[o->ninputs++] = argv[i];
		else
			targets[o->ntargets++] = argv[i];
	}
	o->targets = targets;
	o->script = o->ninputs ? o->inputs[0] : NULL;
	return 0;
}

/* ---- status line --------------------------------------------------------------------------------------------- */

static void status_clear(struct status *s)
{
	if (s->line_open) {
		fputs("\r\033[K", stderr);
		s->line_open = false;
	}
}

/* The status line's part for a slate: "12 scripts done, 3 running " ("" for one script). */
static const char *scripts_part(const struct status *s, const struct build_event *ev, char *buf, size_t len)
{
	if (!s->slate)
		return "";
	snprintf(buf, len, " %zu scripts done, %zu running", ev->scripts_done, ev->scripts_running);
	return buf;
}

/* What the user sees of an event; prefix names the step's script in a slate ("" otherwise). */
static void status_event(struct status *s, const struct build_event *ev, const char *prefix)
{
	char scripts[96];
	switch (ev->type) {
	case BUILD_STEP_STARTED:
		if (s->quiet)
			break;
		if (s->tty) {
			char retries[48] = "";
			if (ev->retries)
				snprintf(retries, sizeof(retries), " (%lu retries)", ev->retries);
			if (ev->batch > 1)
				fprintf(stderr, "\r[%zu/%zu]%s%s embedding batch of %zu\033[K", ev->finished, ev->total,
				        scripts_part(s, ev, scripts, sizeof(scripts)), retries, ev->batch);
			else
				fprintf(stderr, "\r[%zu/%zu]%s%s %s%s\033[K", ev->finished, ev->total,
				        scripts_part(s, ev, scripts, sizeof(scripts)), retries, prefix, ev->step->label);
			s->line_open = true;
		} else if (s->verbose) {
			if (ev->batch > 1)
				fprintf(stderr, "[%zu/%zu] embedding batch of %zu\n", ev->finished, ev->total, ev->batch);
			else
				fprintf(stderr, "[%zu/%zu] %s%s\n", ev->finished, ev->total, prefix, ev->step->label);
		}
		break;
	case BUILD_STEP_FAILED:
		status_clear(s);
		fprintf(stderr, "scriptbuild: FAILED: %s%s\n", prefix, ev->message ? ev->message : ev->step->label);
		break;
	case BUILD_STEP_EXPLAIN:
		status_clear(s);
		fprintf(stderr, "scriptbuild: explain: %s%s: %s\n", prefix, ev->step->label, ev->message ? ev->message : "");
		break;
	case BUILD_STEP_REPAIRED:
		status_clear(s);
		fprintf(stderr, "scriptbuild: note: %s%s\n", prefix, ev->message ? ev->message : ev->step->label);
		break;
	case BUILD_STEP_STALE:
	case BUILD_STEP_DONE:
	case BUILD_SCRIPT_DONE:
		break;
	case BUILD_WARNING:
		status_clear(s);
		fprintf(stderr, "scriptbuild: warning: %s\n", ev->message);
		break;
	case BUILD_TICK:
		break;
	case BUILD_WAITING:
		if (s->quiet || !ev->message)
			break;
		if (s->tty) {
			fprintf(stderr, "\r[%zu/%zu]%s %s\033[K", ev->finished, ev->total,
			        scripts_part(s, ev, scripts, sizeof(scripts)), ev->message);
			s->line_open = true;
		} else if (s->verbose) {
			/* A log is read later: once a second is enough to show the run pacing itself. */
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - s->waiting_said.tv_sec >= 1) {
				s->waiting_said = now;
				fprintf(stderr, "[%zu/%zu] %s\n", ev->finished, ev->total, ev->message);
			}
		}
		break;
	}
	progress_line(s, ev);
}

static void remote_warning(void *ctx, const char *message)
{
	struct status *s = ctx;
	status_clear(s);
	fprintf(stderr, "scriptbuild: warning: %s\n", message);
}

static void net_log(void *ctx, const char *line)
{
	struct status *s = ctx;
	status_clear(s);
	fprintf(stderr, "scriptbuild: %s\n", line);
}

/* ---- tools ----------------------------------------------------------------------------------------------------- */

/* cache/ speaks of directories; the flag that chooses one is ours to name. */
static void print_cache_error(const char *err)
{
	fprintf(stderr, "scriptbuild: %s (--cache DIR)\n", err);
}

/* The remote cache's URL: --remote-cache, else $SCRIPTBUILD_REMOTE_CACHE, else the project file's; NULL for none. */
static const char *remote_url_of(const struct options *o, const struct project *p)
{
	const char *env = getenv("SCRIPTBUILD_REMOTE_CACHE");
	const char *url = o->remote_url ? o->remote_url : env && *env ? env : p ? p->remote_cache : NULL;
	return url && *url ? url : NULL;
}

static int open_cache(const struct options *o, const char *remote, struct cache **c)
{
	char err[1024];
	char *dir = o->cache_dir ? xstrdup(o->cache_dir) : cache_default_dir();
	if (!dir) {
		fputs("scriptbuild: no cache directory: set --cache DIR, SCRIPTBUILD_CACHE or HOME\n", stderr);
		return -1;
	}
	/* A remote cache stands in for a restored one: a fresh machine of the fleet starts with an empty local cache. */
	if (o->frozen && !o->tool && !remote && !cache_present(dir)) {
		fprintf(stderr, "scriptbuild: --frozen: the cache %s is missing or empty (was the cache restored?)\n", dir);
		free(dir);
		return -1;
	}
	int rc = cache_open(dir, c, err, sizeof(err));
	free(dir);
	if (rc < 0) {
		print_cache_error(err);
		return -1;
	}
	return 0;
}

static void print_problem(void *ctx, const char *problem)
{
	(void)ctx;
	printf("damaged: %s\n", problem);
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v = strtod(s, &end);
	uint64_t mult = 1;
	if (end == s || v < 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': mult = 1ull << 10; end++; break;
	case 'm': case 'M': mult = 1ull << 20; end++; break;
	case 'g': case 'G': mult = 1ull << 30; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -1;
	*out = (uint64_t)(v * (double)mult);
	return 0;
}

/* Reads the script at path with its digest (*data malloc'd); 0, or -1 after saying what is wrong and where. */
static int read_script(const char *path, char **data, size_t *len, char digest_hex[DIGEST_HEX_LEN + 1])
{
	/* Read no more than the parser takes: it names a file beyond its limit, and memory stays bounded. */
	if (read_file(path, FOUNTAIN_MAX_BYTES, data, len) < 0) {
		fprintf(stderr, "scriptbuild: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct digest d;
	digest_bytes(*data, *len, &d);
	digest_to_hex(&d, digest_hex);
	return 0;
}

/* Parses the len bytes of the script at path (data is freed); 0, or -1 after saying what is wrong and where. */
static int parse_script(const char *path, char *data, size_t len, bool quiet, struct fountain_script **script)
{
	struct fountain_error perr;
	int rc = fountain_parse(data, len, script, &perr);
	free(data);
	if (rc < 0) {
		if (perr.line > 0)
			fprintf(stderr, "scriptbuild: %s:%d: %s\n", path, perr.line, perr.message);
		else
			fprintf(stderr, "scriptbuild: %s: %s\n", path, perr.message);
		return -1;
	}
	if ((*script)->implicit_scene && !quiet)
		fprintf(stderr, "scriptbuild: %s: no scene heading: the whole script is scene 0 (before a first heading)\n",
		        path);
	return 0;
}

/* Reads and parses the script at path, with its digest; 0, or -1 after saying what is wrong and where. */
static int load_script(const char *path, bool quiet, struct fountain_script **script, char digest_hex[DIGEST_HEX_LEN + 1])
{
	char *data;
	size_t len;
	if (read_script(path, &data, &len, digest_hex) < 0)
		return -1;
	return parse_script(path, data, len, quiet, script);
}

static int tool_parse(const struct options *o)
{
	struct fountain_script *script;
	char hex[DIGEST_HEX_LEN + 1];
	if (!o->script) {
		fputs("scriptbuild: -t parse needs a SCRIPT\n", stderr);
		return EXIT_USAGE;
	}
	if (load_script(o->script, o->quiet, &script, hex) < 0)
		return EXIT_USAGE;
	cJSON *json = fountain_to_json(script);
	char *text = cJSON_Print(json);
	if (!text)
		out_of_memory();
	int rc = stdio_guard_puts("scriptbuild", text);
	free(text);
	cJSON_Delete(json);
	fountain_free(script);
	return rc < 0 ? EXIT_FAILED : EXIT_OK;
}

/* Re-validation of every cached result: what -t verify finds beyond damage. */
struct revalidation {
	struct digest *invalid;
	size_t ninvalid, cap;
	size_t checked;
};

static int revalidate_entry(void *ctx, const struct cache_entry *e)
{
	struct revalidation *rv = ctx;
	char why[400], hex[DIGEST_HEX_LEN + 1];
	enum step_kind kind = e->meta.kind < STEP_KINDS ? (enum step_kind)e->meta.kind : STEP_KINDS;
	rv->checked++;
	if (result_check(kind, e->meta.provider, e->data, e->len, why, sizeof(why)) == 0)
		return 0;
	digest_to_hex(&e->key, hex);
	kind = result_kind(kind, e->data, e->len);
	fprintf(stderr, "scriptbuild: invalid %s result %s (%s %s): %s\n",
	        kind < STEP_KINDS ? step_kind_name(kind) : "cached", hex, e->meta.provider,
	        e->meta.model[0] ? e->meta.model : "-", why);
	rv->invalid = xgrow(rv->invalid, &rv->cap, rv->ninvalid + 1, sizeof(*rv->invalid));
	rv->invalid[rv->ninvalid++] = e->key;
	return 0;
}

/* After a gc: returns the free pages to the disk when that more than halves data.mdb and nobody else uses it. */
static int compact_cache(struct cache *c)
{
	struct cache_compact_info info;
	char err[1024];
	switch (cache_compact(c, 0, &info, err, sizeof(err))) {
	case CACHE_COMPACTED:
		printf("compacted data.mdb: %llu -> %llu bytes\n", (unsigned long long)info.file_before,
		       (unsigned long long)info.file_after);
		return EXIT_OK;
	case CACHE_COMPACT_BUSY:
		fprintf(stderr, "scriptbuild: compaction skipped: %u other process%s use%s the cache; data.mdb stays %llu "
		        "bytes (its free pages are reused by later runs; run -t gc again when it is idle)\n", info.others,
		        info.others == 1 ? "" : "es", info.others == 1 ? "s" : "", (unsigned long long)info.file_before);
		return EXIT_OK;
	case CACHE_COMPACT_NOT_NEEDED:
		return EXIT_OK;
	default:
		fprintf(stderr, "scriptbuild: %s\n", err);
		return EXIT_FAILED;
	}
}

static int tool_cache(const struct options *o)
{
	struct cache *c;
	char err[1024];
	int rc = EXIT_OK;
	if (open_cache(o, NULL, &c) < 0)
		return EXIT_USAGE;
	if (strcmp(o->tool, "stats") == 0) {
		struct cache_stats st;
		if (cache_stats(c, &st, err, sizeof(err)) < 0) {
			fprintf(stderr, "scriptbuild: %s\n", err);
			rc = EXIT_FAILED;
		} else {
			printf("actions        %llu\nblobs          %llu\nlive bytes     %llu\nfile bytes     %llu\n"
			       "records        %llu\nhits           %llu\nmisses         %llu\n"
			       "tokens saved   %llu in, %llu out\n",
			       (unsigned long long)st.actions, (unsigned long long)st.blobs,
			       (unsigned long long)st.blob_bytes, (unsigned long long)st.file_bytes,
			       (unsigned long long)st.logs, (unsigned long long)st.hits, (unsigned long long)st.misses,
			       (unsigned long long)st.tokens_saved_in, (unsigned long long)st.tokens_saved_out);
			printf("remote hits    %llu\nremote misses  %llu\nremote uploads %llu\nremote refused %llu\n"
			       "remote errors  %llu\nremote bytes   %llu down, %llu up\n",
			       (unsigned long long)st.remote.hits, (unsigned long long)st.remote.misses,
			       (unsigned long long)st.remote.uploads, (unsigned long long)st.remote.refused,
			       (unsigned long long)st.remote.errors, (unsigned long long)st.remote.bytes_down,
			       (unsigned long long)st.remote.bytes_up);
		}
	} else if (strcmp(o->tool, "verify") == 0) {
		long problems = cache_verify(c, print_problem, NULL, err, sizeof(err));
		struct revalidation rv = {0};
		if (problems >= 0 && cache_foreach(c, revalidate_entry, &rv, err, sizeof(err)) < 0)
			problems = -1;
		if (problems < 0) {
			fprintf(stderr, "scriptbuild: %s\n", err);
			rc = EXIT_FAILED;
		} else if (rv.ninvalid > 0 && o->repair) {
			size_t removed = 0;
			if (cache_evict(c, rv.invalid, rv.ninvalid, &removed, err, sizeof(err)) < 0) {
				fprintf(stderr, "scriptbuild: %s\n", err);
				rc = EXIT_FAILED;
			} else {
				printf("repaired: evicted %zu invalid results; the next run recomputes them\n", removed);
			}
		}
		if (problems > 0) {
			fprintf(stderr, "scriptbuild: the cache has %ld damaged entries (a run treats them as misses;"
			                " `scriptbuild -t gc` or removing the cache directory clears them)\n", problems);
			rc = EXIT_FAILED;
		}
		if (problems >= 0 && rv.ninvalid > 0 && !o->repair) {
			fprintf(stderr, "scriptbuild: the cache has %zu results that are invalid under the current rules (a run "
			                "never serves them; `scriptbuild -t verify --repair` evicts them)\n", rv.ninvalid);
			rc = EXIT_FAILED;
		}
		/* The next run must take the full check, which re-runs them: an archive current by its record reads no
		 * result, so it would not notice. */
		if ((problems > 0 || rv.ninvalid > 0) && cache_bump_epoch(c, err, sizeof(err)) < 0) {
			fprintf(stderr, "scriptbuild: %s\n", err);
			rc = EXIT_FAILED;
		}
		if (problems == 0 && rv.ninvalid == 0)
			printf("ok: every blob matches its digest, every action has its blob, and every result of %zu is "
			       "valid under its kind's current schema and rules\n", rv.checked);
		free(rv.invalid);
	} else {
		uint64_t max, evicted;
		if (!o->max_size || parse_size(o->max_size, &max) < 0) {
			fputs("scriptbuild: -t gc needs --max-size SIZE (e.g. 500M, 2G)\n", stderr);
			rc = EXIT_USAGE;
		} else if (cache_gc(c, max, &evicted, err, sizeof(err)) < 0) {
			fprintf(stderr, "scriptbuild: %s\n", err);
			rc = EXIT_FAILED;
		} else {
			printf("evicted %llu actions\n", (unsigned long long)evicted);
			rc = compact_cache(c);
		}
	}
	cache_close(c);
	return rc;
}

static int tool_verify_archive(const struct options *o)
{
	struct analysis *a;
	char err[1024];
	if (!o->script) {
		fputs("scriptbuild: -t verify-archive needs an ARCHIVE\n", stderr);
		return EXIT_USAGE;
	}
	if (analysis_read_archive(o->script, &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "scriptbuild: %s: %s\n", o->script, err);
		return EXIT_FAILED;
	}
	printf("ok %s: %zu scenes, %zu sheets, %zu x %zu embeddings%s\n", o->script, a->nscenes, a->nsheets, a->nscenes,
	       a->dims, a->partial ? " (partial)" : "");
	analysis_free(a);
	return EXIT_OK;
}

/* Writes the report page of the archive at archive to html (NULL: beside the archive); 0, or -1 after saying why. */
static int write_html(const char *archive, const char *html, bool quiet)
{
	char err[1024];
	char *path = html ? xstrdup(html) : html_report_path_for(archive);
	if (!path)
		out_of_memory();
	int rc = html_report_write(archive, path, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "scriptbuild: report: %s\n", err);
	else if (!quiet)
		fprintf(stderr, "scriptbuild: wrote %s\n", path);
	free(path);
	return rc;
}

static int tool_report(const struct options *o)
{
	if (!o->script || o->ntargets) {
		fputs("scriptbuild: usage: scriptbuild -t report ARCHIVE [-o FILE.html]\n", stderr);
		return EXIT_USAGE;
	}
	return write_html(o->script, o->output_path, o->quiet) < 0 ? EXIT_FAILED : EXIT_OK;
}

/* -t similar ARCHIVE SCENE [-n K]: its own arguments, since -n means K here and a dry run elsewhere. */
static int tool_similar(int argc, char **argv)
{
	long k = 5, scene;
	const char *args[2];
	int nargs = 0, c;
	optind = 1;
	while ((c = getopt(argc, argv, "t:n:")) != -1) {
		if (c == 'n' && parse_count("-n", optarg, 1, 100000, &k) == 0)
			continue;
		if (c != 't') {
			fputs("scriptbuild: usage: scriptbuild -t similar ARCHIVE SCENE [-n K]\n", stderr);
			return EXIT_USAGE;
		}
	}
	for (; optind < argc; optind++)
		if (nargs < 2)
			args[nargs++] = argv[optind];
		else
			nargs = 3;
	if (nargs != 2) {
		fputs("scriptbuild: usage: scriptbuild -t similar ARCHIVE SCENE [-n K]\n", stderr);
		return EXIT_USAGE;
	}
	if (parse_count("SCENE", args[1], 0, INT_MAX, &scene) < 0)
		return EXIT_USAGE;
	struct analysis *a;
	char err[1024];
	if (analysis_read_archive(args[0], &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "scriptbuild: %s: %s\n", args[0], err);
		return EXIT_FAILED;
	}
	size_t row;
	int rc = EXIT_OK;
	if (similar_row_of(a, scene, &row) < 0) {
		fprintf(stderr, "scriptbuild: %s: no scene %ld (it has %zu scenes)\n", args[0], scene, a->nscenes);
		rc = EXIT_USAGE;
	} else if (a->has_embedding && !a->has_embedding[row]) {
		fprintf(stderr, "scriptbuild: %s: scene %ld has no embedding (a partial archive); rebuild it\n", args[0],
		        scene);
		rc = EXIT_FAILED;
	} else {
		struct similar_hit *hits = xcalloc((size_t)k, sizeof *hits);
		size_t n = similar_scenes(a, row, (size_t)k, hits);
		for (size_t i = 0; i < n; i++)
			printf("%d\t%.4f\t%s\n", a->scenes[hits[i].row].index, hits[i].cosine, a->scenes[hits[i].row].heading);
		free(hits);
	}
	analysis_free(a);
	return rc;
}

/* 1 when the arguments ask for -t similar. */
static int wants_similar(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if ((strcmp(argv[i], "-t") == 0 && i + 1 < argc && strcmp(argv[i + 1], "similar") == 0) ||
		    strcmp(argv[i], "-tsimilar") == 0)
			return 1;
	}
	return 0;
}

/* ---- the build ------------------------------------------------------------------------------------------------- */

/* The file's base name without .fountain, bytes as they are (for the archive's file name). */
static char *script_base_of(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 9 && strcmp(base + n - 9, ".fountain") == 0)
		n -= 9;
	return xstrndup(base, n);
}

/* The script's name as the archive records it: a file name may hold any bytes, the archive only UTF-8, so bytes
 * that are not become U+FFFD. */
static char *script_name_of(const char *path)
{
	char *raw = script_base_of(path);
	char *name = jf_utf8_repaired(raw);
	free(raw);
	if (!name)
		out_of_memory();
	return name;
}

static int64_t archive_mtime(void)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	if (!s || !*s)
		return 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	return *end || v < 0 ? 0 : (int64_t)v;
}

/* One script of the run: what it holds from its text to its archive. */
struct script_job {
	const struct slate_script *in;
	char *text;                   /* the bytes read, until parsed (never, for a script whose archive is current) */
	size_t text_len;
	struct fountain_script *script;
	char script_hex[DIGEST_HEX_LEN + 1];
	bool current;                 /* its build log proves its archive current for these inputs: not parsed, not built */
	struct build_log_tally tally; /* what that build counted (when current) */
	char *log_name;
	struct build_log *previous;   /* the last build log of this script */
	char *archive_path;           /* the archive written or up to date, NULL when none */
	struct digest identity;
	bool up_to_date;              /* the archive at archive_path was already this build's: not written now */
	bool published;               /* its archive was decided on (written, up to date, or failed) */
	bool publish_failed;
	struct stat written;          /* the file this run wrote, as fstat saw it before its rename */
	bool have_written;
	bool opened;                  /* a slate script the engine opened (slate_open called), whatever came of it */
	bool log_saved;               /* its build log is saved (a finished script's, as soon as its archive is written) */
	bool complete_build;          /* its archive holds every step of the script, built or found up to date now */
	size_t wanted[STEP_KINDS];    /* a slate's: its wanted steps per kind, from the pre-pass */
	cJSON *dropped_quotes;        /* a slate script's "dropped_quotes" section of --report, counted when it closed */
	char *said;                   /* a closed slate script's -n plan or --frozen stale lines, printed in slate order */
	size_t nstale;                /* --frozen: of them, the stale steps */
	cJSON *plan_doc;              /* -n --report: a closed slate script's plan */
};

/* Everything one build holds, from the scripts to the summary line; each phase below fills its part. */
struct session {
	const struct options *o;
	struct timespec started;
	struct slate slate;              /* the scripts; slate.many: more than the one script of a plain run */
	struct script_job *jobs;         /* [slate.n] */
	struct build_script *scripts;    /* [slate.n]: each graph (NULL when current), previous log and result */
	struct build_script *building;   /* [nbuilding]: the scripts the engine runs, a copy of their scripts[] entries */
	size_t *building_job;            /* [nbuilding]: their index in jobs and scripts */
	size_t nbuilding;
	uint64_t epoch;                  /* the cache's (cache_epoch): a build record vouches only within its own */
	size_t ncurrent;                 /* scripts whose archives are current */
	size_t current_steps;            /* their wanted steps: the status line counts them done */
	struct run_config rc;
	struct cache *cache;
	struct project *project;         /* scriptbuild.json, or NULL */
	struct estimator *estimator;     /* the cache's history of token usage */
	struct loop *loop;
	struct gate *gate;
	struct admission *limits;     /* the providers' rate limits, with the user's caps */
	struct remote *remote;           /* the remote cache tier, NULL when none */
	long remote_drain_ms;            /* how long uploads still pending at exit may take */
	struct provider *providers[STEP_KINDS];
	struct status status;
	struct batch_view batch_view;    /* --batch: where the batches' progress goes */
	struct build_result result;      /* the slate's totals */
	enum build_outcome outcome;
	bool all_done;                /* every wanted step is done (even when the cache could not store them) */
	bool targets_said;            /* "targets given: no archive written" was said */
	char err[1024];
};

struct stale_lines {
	FILE *out;
	const char *prefix;
};

static void print_stale_step(void *ctx, const struct step *st)
{
	const struct stale_lines *l = ctx;
	fprintf(l->out, "%s%s%s%s\n", l->prefix, st->label, st->why ? ": " : "", st->why ? st->why : "");
}

/* The steps that would have to run, one a line to out after prefix (-n: "", --frozen: "stale: "); how many. */
static size_t print_stale(FILE *out, const struct graph *g, const char *prefix)
{
	struct stale_lines l = {out, prefix};
	return graph_each_stale(g, print_stale_step, &l);
}

static double json_num(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *json_str(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(v) ? v->valuestring : "";
}

struct remote_lines {
	FILE *out;
	size_t n;
};

/* -n: a stale step the remote cache will answer, one a line; counts them. */
static void print_remote_step(void *ctx, const struct step *st)
{
	struct remote_lines *l = ctx;
	if (!st->remote)
		return;
	fprintf(l->out, "%s: %s\n", st->label, st->why ? st->why : "the remote cache has it");
	l->n++;
}

/* -n: the stale steps, and what they would cost before anything is spent (the plan's JSON, for people), to out. */
static void print_dry_run(FILE *out, const cJSON *plan, const struct graph *g)
{
	const cJSON *st, *kind;
	cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(plan, "steps")) {
		const char *why = json_str(st, "reason");
		fprintf(out, "%s%s%s\n", json_str(st, "label"), *why ? ": " : "", why);
	}
	/* The plan leaves out what the remote cache will answer: it costs nothing, but the user should see it. */
	struct remote_lines lines = {out, 0};
	graph_each_stale(g, print_remote_step, &lines);
	size_t remote = lines.n;
	char more[96] = "";
	if (remote)
		snprintf(more, sizeof(more), " (and %zu more the remote cache will answer)", remote);
	double stale = json_num(plan, "stale"), saved = json_num(plan, "may_be_saved");
	if (saved > 0)
		fprintf(out, "up to %.0f stale steps%s (%.0f of them run only if an upstream result changes: early cutoff may "
		       "save some)\n", stale, more, saved);
	else
		fprintf(out, "%.0f stale steps%s\n", stale, more);
	cJSON_ArrayForEach(kind, cJSON_GetObjectItemCaseSensitive(plan, "kinds")) {
		fprintf(out, "  %-9s %5.0f steps  ~%.0f tokens in, ~%.0f out  ", kind->string, json_num(kind, "steps"),
		       json_num(kind, "tokens_in"), json_num(kind, "tokens_out"));
		if (json_num(kind, "cache_read") > 0 || json_num(kind, "cache_write") > 0)
			fprintf(out, "(of the input ~%.0f read from the prompt cache, ~%.0f written)  ", json_num(kind, "cache_read"),
			       json_num(kind, "cache_write"));
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(kind, "price_known")))
			fprintf(out, "~$%.4f ($%.4f-$%.4f)", json_num(kind, "cost"), json_num(kind, "cost_low"),
			       json_num(kind, "cost_high"));
		else
			fprintf(out, "price unknown for %s (set SCRIPTBUILD_PRICES)", json_str(kind, "model"));
		fprintf(out, " (%s %s; %s)\n", json_str(kind, "provider"), json_str(kind, "model"), json_str(kind, "basis"));
	}
	if (json_num(plan, "cost") >= 0)
		fprintf(out, "estimated cost: $%.4f (range $%.4f-$%.4f)\n", json_num(plan, "cost"), json_num(plan, "cost_low"),
		       json_num(plan, "cost_high"));
	else
		fprintf(out, "estimated cost: unknown (a model has no known price: set SCRIPTBUILD_PRICES=MODEL=IN/OUT, USD per "
		       "million tokens)\n");
}

static int write_json(const char *path, cJSON *root)
{
	char *text = cJSON_Print(root);
	FILE *f = fopen(path, "w");
	int bad = !f || !text || fprintf(f, "%s\n", text) < 0;
	int saved = errno;
	if (f && fclose(f) != 0 && !bad) {
		bad = 1;
		saved = errno;
	}
	if (bad)
		fprintf(stderr, "scriptbuild: --report %s: %s\n", path, text ? strerror(saved) : "out of memory");
	free(text);
	return bad ? -1 : 0;
}

/* The --report of one script's run. */
static cJSON *report_root(const struct build_result *r, const struct graph *g, const struct run_config *rc,
                          double seconds, const char *archive, const struct remote *remote)
{
	cJSON *root = report_json(r, rc->step, seconds, archive);
	report_add_repairs(root, r, g);
	if (remote)
		report_add_remote(root, remote_counts(remote));
	return root;
}

/* The summary line; scripts is what a slate says of its scripts first ("" for one script). */
static void print_summary(const struct build_result *r, const struct run_config *rc, double seconds,
                          const char *scripts)
{
	size_t run = 0, cached = 0, failed = 0, skipped = 0, total = 0;
	double cost = report_cost(r, rc->step);
	for (int k = 0; k < STEP_KINDS; k++) {
		run += r->kinds[k].run;
		cached += r->kinds[k].cached;
		failed += r->kinds[k].failed;
		skipped += r->kinds[k].skipped;
		total += r->kinds[k].total;
	}
	char limits[256] = "";
	size_t n = 0;
	if (r->throttled)
		n += (size_t)snprintf(limits + n, sizeof(limits) - n, "; %lu answered 429", r->throttled);
	for (int l = 0; l < RL_LIMITS && n < sizeof(limits); l++)
		if (r->rate_waited_s[l] >= 0.05)
			n += (size_t)snprintf(limits + n, sizeof(limits) - n, "; waited %.1f s for %s", r->rate_waited_s[l],
			                      rl_limit_name((enum rl_limit)l));
	uint64_t cache_read, cache_write;
	report_cache_tokens(r, &cache_read, &cache_write);
	char prompt_cache[96] = "";
	if (cache_read || cache_write)
		snprintf(prompt_cache, sizeof(prompt_cache), "; prompt cache: %llu read, %llu written",
		         (unsigned long long)cache_read, (unsigned long long)cache_write);
	fprintf(stderr,
	        "scriptbuild: %s%zu steps: %zu run, %zu cached, %zu failed, %zu skipped; requests: %lu llm, %lu embedding, "
	        "%lu retries%s; tokens: %llu in, %llu out%s; ~$%.4f; %.2f s\n",
	        scripts, total, run, cached, failed, skipped, r->llm_requests, r->embedding_requests, r->retries, limits,
	        (unsigned long long)r->tokens_in, (unsigned long long)r->tokens_out, prompt_cache, cost, seconds);
}

static void print_remote_summary(const struct remote *remote)
{
	const struct remote_counts *c = remote_counts(remote);
	fprintf(stderr, "scriptbuild: remote cache: %llu hits, %llu misses, %llu uploads, %llu refused, %llu errors, "
	        "%llu dropped; %llu bytes down, %llu up\n", (unsigned long long)c->hits, (unsigned long long)c->misses,
	        (unsigned long long)c->uploads, (unsigned long long)c->refused, (unsigned long long)c->errors,
	        (unsigned long long)c->dropped, (unsigned long long)c->bytes_down, (unsigned long long)c->bytes_up);
}

/* The time pending uploads get at exit: $SCRIPTBUILD_REMOTE_DRAIN_SECONDS (0-3600), else 10 s; 0, or -1 with err. */
static int remote_drain_ms(long *ms, char *err, size_t errlen)
{
	const char *env = getenv("SCRIPTBUILD_REMOTE_DRAIN_SECONDS");
	*ms = 10000;
	if (!env || !*env)
		return 0;
	char *end;
	double seconds = strtod(env, &end);
	if (end == env || *end || !(seconds >= 0 && seconds <= 3600)) {
		snprintf(err, errlen, "SCRIPTBUILD_REMOTE_DRAIN_SECONDS=%.40s: want seconds from 0 to 3600 (the time uploads "
		         "still pending at exit may take)", env);
		return -1;
	}
	*ms = (long)(seconds * 1000);
	return 0;
}

/* Gives the uploads still on the wire a bounded time, then records what the remote did in the cache's totals. */
static void finish_remote(struct remote *remote, long drain_ms, struct cache *cache, bool dry_run, bool quiet)
{
	uint64_t dropped = remote_drain(remote, drain_ms);
	if (dropped && !quiet)
		fprintf(stderr, "scriptbuild: remote cache %s: %llu uploads still pending after %g s were dropped\n",
		        remote_display_url(remote), (unsigned long long)dropped, (double)drain_ms / 1000);
	const struct remote_counts *c = remote_counts(remote);
	struct cache_remote_stats add = {c->hits, c->misses, c->uploads, c->refused, c->errors, c->bytes_down,
	                                 c->bytes_up};
	char err[512];
	if (!dry_run && cache_add_remote_counters(cache, &add, err, sizeof(err)) < 0)
		fprintf(stderr, "scriptbuild: warning: %s\n", err);
}

static void describe_providers(const struct run_config *rc)
{
	fprintf(stderr, "scriptbuild: summary %s %s, outline %s %s, sheet %s %s, embedding %s %s",
	        rc->step[STEP_SUMMARY].provider, rc->step[STEP_SUMMARY].params.model, rc->step[STEP_OUTLINE].provider,
	        rc->step[STEP_OUTLINE].params.model, rc->step[STEP_SHEET].provider, rc->step[STEP_SHEET].params.model,
	        rc->step[STEP_EMBEDDING].provider, rc->step[STEP_EMBEDDING].params.model);
	if (rc->step[STEP_EMBEDDING].params.dims > 0)
		fprintf(stderr, " (%d dims)", rc->step[STEP_EMBEDDING].params.dims);
	fputc('\n', stderr);
}

/* --batch: the anthropic steps are priced at the batch rate and, when providers run, go through message batches. */
static int batch_mode(struct session *s, const struct net_config *net)
{
	const struct options *o = s->o;
	if (batch_mark_config(&s->rc) == 0) {
		if (!o->quiet)
			fprintf(stderr, "scriptbuild: note: --batch applies to the anthropic provider only: nothing is batched\n");
		return 0;
	}
	if (o->dry_run || o->frozen)
		return 0;   /* no provider runs, so none submits */
	s->batch_view = (struct batch_view){.tty = s->status.tty, .verbose = o->verbose, .quiet = o->quiet,
	                                    .line_open = &s->status.line_open};
	struct batch_options bopt = {.cache = s->cache, .fallback_sync = o->batch_fallback_sync,
	                             .progress = batchmode_progress, .warn = batchmode_warn, .ctx = &s->batch_view};
	return batch_wrap_providers(s->providers, &s->rc, s->loop, net, &bopt, s->err, sizeof(s->err)) < 0 ? -1 : 0;
}

/* "ID: " before what is said about a slate's script; "" for the one script of a plain run. */
static const char *script_prefix(const struct session *s, size_t i, char *buf, size_t len)
{
	if (!s->slate.many)
		return "";
	snprintf(buf, len, "%s: ", s->jobs[i].in->path);
	return buf;
}

/* The slate's scripts (read in plan), with their ids and archive paths settled here, before anything runs. */
static int load(struct session *s)
{
	const struct options *o = s->o;
	if (o->ninputs == 0) {
		fputs("scriptbuild: no script given; try 'scriptbuild -h'\n", stderr);
		return EXIT_USAGE;
	}
	if (slate_expand(o->inputs, o->ninputs, &s->slate, s->err, sizeof(s->err)) < 0)
		return EXIT_USAGE;
	size_t n = s->slate.n;
	if (s->slate.many && o->output_path) {
		struct stat st;
		size_t len = strlen(o->output_path);
		if ((len > 8 && strcmp(o->output_path + len - 8, ".tar.zst") == 0) ||
		    (stat(o->output_path, &st) == 0 && !S_ISDIR(st.st_mode))) {
			snprintf(s->err, sizeof(s->err), "-o %s: with several scripts -o names a directory, and each archive's "
			         "path under it mirrors its script's path", o->output_path);
			return EXIT_USAGE;
		}
	}
	if (!s->slate.many && o->output_path &&
	    outpath_check(o->output_path, s->slate.scripts[0].path, o->force_output, s->err, sizeof(s->err)) < 0)
		return EXIT_USAGE;
	s->jobs = xcalloc(n, sizeof(*s->jobs));
	s->scripts = xcalloc(n, sizeof(*s->scripts));
	for (size_t i = 0; i < n; i++)
		s->jobs[i].in = &s->slate.scripts[i];
	return EXIT_OK;
}

/* The project file of the slate: one for every script (a slate runs under one configuration). */
static int find_project(struct session *s)
{
	const struct options *o = s->o;
	for (size_t i = 0; i < s->slate.n; i++) {
		struct project *p = NULL;
		if (project_find(s->jobs[i].in->path, o->project_path, &p, s->err, sizeof(s->err)) == PROJECT_ERROR)
			return -1;
		if (i == 0) {
			s->project = p;
			continue;
		}
		bool same = (!p && !s->project) || (p && s->project && strcmp(p->path, s->project->path) == 0);
		if (!same)
			snprintf(s->err, sizeof(s->err), "%s uses %s but %s uses %s: a slate runs under one project file; give "
			         "it with -f FILE", s->jobs[0].in->path, s->project ? s->project->path : "no project file",
			         s->jobs[i].in->path, p ? p->path : "no project file");
		project_free(p);
		if (!same)
			return -1;
	}
	return 0;
}

static char *archive_path_for(struct session *s, size_t i);

/* The name script i's archive records: its id in a slate, its file's base name for one script (malloc'd). */
static char *archive_name(const struct session *s, size_t i)
{
	if (!s->slate.many)
		return script_name_of(s->jobs[i].in->path);
	char *name = jf_utf8_repaired(s->jobs[i].in->id);
	if (!name)
		out_of_memory();
	return name;
}

/* The inputs digest of script i's complete build, as its build log records it. */
static void script_inputs(const struct session *s, size_t i, struct digest *inputs)
{
	char *name = archive_name(s, i);
	results_inputs(s->rc.step, ANALYSIS_FORMAT_VERSION, name, s->jobs[i].script_hex, archive_mtime(), inputs);
	free(name);
}

/* Whether script i's archive is current, decided like make decides a target without parsing a line: its build log
 * says a complete build of these very inputs (tool, script bytes, configuration, name, mtime) wrote or confirmed the
 * file that is at the archive's path now, and the cache confirmed that build's results within the resolution of
 * their last use (else the full check runs and refreshes it, so gc still sees them used). When it is, the script is
 * neither parsed nor built, and its counts are the log's. */
static bool archive_current(struct session *s, size_t i)
{
	const struct options *o = s->o;
	struct script_job *j = &s->jobs[i];
	/* Targets ask for some steps and -n for a plan per step: only the graph knows those. */
	if (o->ntargets > 0 || o->dry_run || !j->previous)
		return false;
	char *path = archive_path_for(s, i);
	if (!path)
		return false;
	struct digest inputs;
	struct action_meta meta;
	char err[512];
	script_inputs(s, i, &inputs);
	if (!build_log_inputs_current(j->previous, path, &inputs, s->epoch, &j->tally) ||
	    cache_get(s->cache, &j->tally.probe, &meta, NULL, NULL, err, sizeof(err)) != CACHE_HIT ||
	    meta.last_used < (int64_t)time(NULL) - CACHE_LAST_USED_RESOLUTION) {
		free(path);
		return false;
	}
	j->current = j->published = j->up_to_date = j->log_saved = true;
	j->archive_path = path;
	free(j->text);
	j->text = NULL;
	struct build_result *r = &s->scripts[i].result;
	for (int k = 0; k < STEP_KINDS; k++) {
		r->kinds[k].total = r->kinds[k].cached = j->tally.steps[k];
		s->current_steps += j->tally.steps[k];
	}
	r->tokens_saved_in = j->tally.tokens_in;
	r->tokens_saved_out = j->tally.tokens_out;
	s->ncurrent++;
	return true;
}

/* --max-cost: every model g's steps use has a price, or the budget cannot be kept; -1 after setting s->err. */
static int check_priced(struct session *s, const struct graph *g)
{
	if (s->o->max_cost <= 0 || s->o->dry_run)
		return 0;
	char *unpriced = plan_unpriced_models(g, s->rc.step);
	if (!unpriced)
		return 0;
	snprintf(s->err, sizeof(s->err), "--max-cost: price unknown for %s, so the budget cannot be kept: "
	         "set SCRIPTBUILD_PRICES=MODEL=IN/OUT (USD per million tokens)", unpriced);
	free(unpriced);
	return -1;
}

/* ---- a slate's scripts, held only while the run works on them ----------------------------------------------------
 * A slate's peak memory must not grow with its scripts: the pre-pass reads, parses and selects each script it must
 * build (so a broken one or a bad target is refused before anything runs), keeps its digest and wanted counts, and
 * frees it; the engine opens a script when its window has room (slate_open: read again, the digest checked, parsed,
 * selected) and closes it once it is done and its archive decided on (slate_close). */

static void publish_script(struct session *s, size_t i, bool script_over, bool partial);
static void save_log(struct session *s, size_t i);

/* Slate script i's bytes (read in plan) parsed and selected, its wanted steps counted, then freed; -1 after saying
 * why (s->err or stderr). Their digest is what the archive records, and what slate_open checks. */
static int slate_prepass(struct session *s, size_t i)
{
	struct script_job *j = &s->jobs[i];
	char err[600], prefix[300];
	int parsed = parse_script(j->in->path, j->text, j->text_len, s->o->quiet, &j->script);
	j->text = NULL;
	if (parsed < 0)
		return -1;
	struct graph *g = graph_new(j->script);
	int rc = graph_select(g, s->o->targets, s->o->ntargets, err, sizeof(err));
	if (rc < 0)
		snprintf(s->err, sizeof(s->err), "%s%s", script_prefix(s, i, prefix, sizeof(prefix)), err);
	else
		rc = check_priced(s, g);
	build_count_wanted(g, j->wanted);
	graph_free(g);
	fountain_free(j->script);
	j->script = NULL;
	return rc;
}

/* The engine reaches the k-th script it builds: its text read again, which must be the text the pre-pass read (the
 * archive records that digest), parsed and selected. */
static int slate_open(void *ctx, size_t k, char *err, size_t errlen)
{
	struct session *s = ctx;
	size_t i = s->building_job[k];
	struct script_job *j = &s->jobs[i];
	char hex[DIGEST_HEX_LEN + 1], why[600];
	char *data;
	size_t len;
	struct fountain_error perr;
	j->opened = true;
	if (read_file(j->in->path, FOUNTAIN_MAX_BYTES, &data, &len) < 0) {
		snprintf(err, errlen, "%s: %s (it was read when the run started): not built; run again", j->in->path,
		         strerror(errno));
		return -1;
	}
	struct digest d;
	digest_bytes(data, len, &d);
	digest_to_hex(&d, hex);
	if (strcmp(hex, j->script_hex) != 0) {
		free(data);
		snprintf(err, errlen, "%s changed while the run was going: not built (its archive must record the text it "
		         "was built from); run again", j->in->path);
		return -1;
	}
	int rc = fountain_parse(data, len, &j->script, &perr);
	free(data);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", j->in->path, perr.message);
		return -1;
	}
	struct graph *g = graph_new(j->script);
	if (graph_select(g, s->o->targets, s->o->ntargets, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", j->in->path, why);
		graph_free(g);
		fountain_free(j->script);
		j->script = NULL;
		return -1;
	}
	s->scripts[i].g = s->building[k].g = g;
	return 0;
}

/* -n and --frozen: what the end of the run prints of slate script i (its plan, or its stale steps), kept as text. */
static void slate_keep_said(struct session *s, size_t i)
{
	struct script_job *j = &s->jobs[i];
	size_t len;
	FILE *out = open_memstream(&j->said, &len);
	if (!out)
		out_of_memory();
	if (s->o->dry_run) {
		j->plan_doc = plan_json(s->scripts[i].g, s->rc.step, s->estimator);
		fprintf(out, "%s:\n", j->in->path);
		print_dry_run(out, j->plan_doc, s->scripts[i].g);
		if (!s->o->report_path) {
			cJSON_Delete(j->plan_doc);
			j->plan_doc = NULL;
		}
	} else {
		char prefix[600];
		snprintf(prefix, sizeof(prefix), "stale: %s: ", j->in->path);
		j->nstale = print_stale(out, s->scripts[i].g, prefix);
	}
	if (fclose(out) != 0)
		out_of_memory();
}

/* The engine is through with the k-th script it builds (done, its archive decided on when complete): an incomplete
 * one gets its --partial archive, its build log is saved, what --report needs of its graph is kept, and its text,
 * graph and last build log go (-n and --frozen keep what they print of it, for slate order after the run). */
static void slate_close(void *ctx, size_t k)
{
	struct session *s = ctx;
	size_t i = s->building_job[k];
	struct script_job *j = &s->jobs[i];
	s->scripts[i].result = s->building[k].result;
	if (s->o->dry_run || s->o->frozen)
		slate_keep_said(s, i);
	/* Interrupted: no archive is written, as at the end of the run. */
	if (!interrupt_signal && !s->result.interrupted)
		publish_script(s, i, true, s->o->partial);
	if (!s->o->dry_run)
		save_log(s, i);   /* -n records nothing */
	if (s->o->report_path && !s->o->dry_run) {
		cJSON *repairs = cJSON_CreateObject();
		report_add_repairs(repairs, &s->scripts[i].result, s->scripts[i].g);
		j->dropped_quotes = cJSON_DetachItemFromObjectCaseSensitive(repairs, "dropped_quotes");
		cJSON_Delete(repairs);
	}
	graph_free(s->scripts[i].g);
	s->scripts[i].g = s->building[k].g = NULL;
	fountain_free(j->script);
	j->script = NULL;
	build_log_free(j->previous);
	j->previous = NULL;
	s->scripts[i].previous = s->building[k].previous = NULL;
}

/* Runs the slate's scripts to build, each opened and closed by the engine as its window needs them. */
static enum build_outcome run_slate(struct session *s, const struct build_options *bo)
{
	size_t (*wanted)[STEP_KINDS] = xcalloc(s->nbuilding ? s->nbuilding : 1, sizeof(*wanted));
	for (size_t k = 0; k < s->nbuilding; k++)
		memcpy(wanted[k], s->jobs[s->building_job[k]].wanted, sizeof(wanted[k]));
	struct build_source src = {.scripts = s->building, .n = s->nbuilding,
	                           .wanted = (const size_t (*)[STEP_KINDS])wanted, .open = slate_open,
	                           .close = slate_close, .ctx = s};
	enum build_outcome outcome = build_run_source(&src, bo, &s->result, s->err, sizeof(s->err));
	free(wanted);
	return outcome;
}

/* Configuration, the graphs of wanted steps, the cache and last build logs, the loop, the gate and the providers. */
static int plan(struct session *s)
{
	const struct options *o = s->o;
	if (find_project(s) < 0)
		return EXIT_USAGE;
	if ((s->project ? project_configure(s->project, &s->rc, o->llm_spec, o->embed_spec, s->err, sizeof(s->err))
	                : config_init(&s->rc, o->llm_spec, o->embed_spec, s->err, sizeof(s->err))) < 0 ||
	    pricing_check_env(s->err, sizeof(s->err)) < 0)
		return EXIT_USAGE;
	for (size_t i = 0; i < o->noverrides; i++)
		if (config_override(&s->rc, o->overrides[i][0], o->overrides[i][1], s->err, sizeof(s->err)) < 0)
			return EXIT_USAGE;
	if (open_cache(o, remote_url_of(o, s->project), &s->cache) < 0) {
		s->err[0] = '\0';  /* already said */
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < s->slate.n; i++) {
		s->jobs[i].log_name = build_log_name_for(s->jobs[i].in->path, s->project ? s->project->dir : NULL);
		s->jobs[i].previous = build_log_load(s->cache, s->jobs[i].log_name);
		s->scripts[i].previous = s->jobs[i].previous;
	}
	if (cache_epoch(s->cache, &s->epoch, s->err, sizeof(s->err)) < 0)
		return EXIT_USAGE;
	/* One script at a time, read once: its digest decides whether it is current, and its bytes are what the pre-pass
	 * (or a single script's run) parses; memory does not grow with the slate. */
	for (size_t i = 0; i < s->slate.n; i++) {
		struct script_job *j = &s->jobs[i];
		if (read_script(j->in->path, &j->text, &j->text_len, j->script_hex) < 0)
			return EXIT_USAGE;
		if (archive_current(s, i))
			continue;
		if (s->slate.many) {
			if (slate_prepass(s, i) < 0)
				return EXIT_USAGE;
			continue;
		}
		char err[600], prefix[300];
		if (parse_script(j->in->path, j->text, j->text_len, o->quiet, &j->script) < 0) {
			j->text = NULL;
			return EXIT_USAGE;
		}
		j->text = NULL;
		s->scripts[i].g = graph_new(j->script);
		if (graph_select(s->scripts[i].g, o->targets, o->ntargets, err, sizeof(err)) < 0) {
			snprintf(s->err, sizeof(s->err), "%s%s", script_prefix(s, i, prefix, sizeof(prefix)), err);
			return EXIT_USAGE;
		}
	}
	for (size_t i = 0; !s->slate.many && i < s->slate.n; i++)
		if (!s->jobs[i].current && check_priced(s, s->scripts[i].g) < 0)
			return EXIT_USAGE;
	s->estimator = estimate_load(s->cache);
	char *hint = s->project || o->quiet ? NULL
	                                    : project_provider_hint(s->jobs[0].previous, &s->rc, !!o->llm_spec,
	                                                            !!o->embed_spec);
	if (hint)
		fprintf(stderr, "scriptbuild: note: %s\n", hint);
	free(hint);
	s->loop = loop_new();
	if (!s->loop) {
		snprintf(s->err, sizeof(s->err), "cannot start the event loop");
		return EXIT_USAGE;
	}
	s->gate = gate_new(o->jobs);
	s->limits = admission_new(s->loop);
	if (!s->gate || !s->limits) {
		snprintf(s->err, sizeof(s->err), "out of memory");
		return EXIT_USAGE;
	}
	const char *buffered = getenv("SCRIPTBUILD_MAX_BUFFERED");
	uint64_t bound;
	if (buffered && *buffered) {
		if (parse_size(buffered, &bound) < 0 || bound > SIZE_MAX) {
			snprintf(s->err, sizeof(s->err), "SCRIPTBUILD_MAX_BUFFERED=%s: not a size (e.g. 256M, 1G)", buffered);
			return EXIT_USAGE;
		}
		gate_set_buffer_limit(s->gate, (size_t)bound);
	}
	for (size_t i = 0; i < o->ncaps; i++)
		admission_set_cap(s->limits, o->caps[i].provider[0] ? o->caps[i].provider : NULL, o->caps[i].limit,
		                  o->caps[i].per_minute);
	s->status = (struct status){isatty(STDERR_FILENO) && !o->quiet, o->verbose, o->quiet, false, monotonic_seconds(), 0,
	                            progress_interval(), {0, 0}, s->slate.many};
	s->status.last_progress = s->status.started;
	/* Keys and base URLs come from each provider's own SDK variables, read where the endpoint is made. */
	struct net_config net = {.retries = o->retries, .connect_timeout_ms = o->connect_timeout_ms,
	                         .timeout_ms = o->timeout_ms,
	                         .corrections = o->corrections ? o->corrections : NET_NO_CORRECTIONS,
	                         .log = o->verbose ? net_log : NULL, .log_ctx = &s->status, .gate = s->gate,
	                         .limits = s->limits};
	/* Checked where read: the flag, else the project file, else the default (five minutes). */
	const char *prompt_cache = o->prompt_cache ? o->prompt_cache : s->project ? s->project->prompt_cache : NULL;
	if (prompt_cache)
		net_prompt_cache_parse(prompt_cache, &net.prompt_cache);
	/* -n and --max-cost price the cache's share of the input as this run will send it. */
	estimate_set_prompt_cache(s->estimator, net.prompt_cache != NET_PROMPT_CACHE_OFF,
	                          net.prompt_cache == NET_PROMPT_CACHE_1H);
	if (!o->dry_run && !o->frozen &&
	    config_create_providers(&s->rc, s->loop, &net, s->providers, s->err, sizeof(s->err)) < 0) {
		if (s->project) {
			size_t n = strlen(s->err);
			snprintf(s->err + n, sizeof(s->err) - n, "; %s selects this provider", s->project->path);
		}
		return EXIT_USAGE;
	}
	if ((o->batch || (s->project && s->project->batch)) && batch_mode(s, &net) < 0)
		return EXIT_USAGE;
	const char *remote_url = remote_url_of(o, s->project);
	if (remote_url) {
		if (remote_drain_ms(&s->remote_drain_ms, s->err, sizeof(s->err)) < 0)
			return EXIT_USAGE;
		struct remote_config rcfg = {.url = remote_url, .warn = remote_warning, .warn_ctx = &s->status};
		const char *mode = o->remote_mode ? o->remote_mode : s->project ? s->project->remote_cache_mode : NULL;
		if (mode)
			remote_mode_parse(mode, &rcfg.mode);
		s->remote = remote_new(s->loop, &rcfg, s->err, sizeof(s->err));
		if (!s->remote)
			return EXIT_USAGE;
	}
	if (!o->quiet)
		describe_providers(&s->rc);
	return EXIT_OK;
}

/* Every wanted step of the result is done. */
static bool result_complete(const struct build_result *r)
{
	for (int k = 0; k < STEP_KINDS; k++)
		if (r->kinds[k].cached + r->kinds[k].run != r->kinds[k].total)
			return false;
	return true;
}

/* -n: the stale steps and what they would cost, per script of a slate (the --report a list of the plans). */
static int dry_run_report(struct session *s)
{
	const struct options *o = s->o;
	int written = 0;
	if (!s->slate.many) {
		cJSON *plan_doc = plan_json(s->scripts[0].g, s->rc.step, s->estimator);
		print_dry_run(stdout, plan_doc, s->scripts[0].g);
		written = o->report_path ? write_json(o->report_path, plan_doc) : 0;
		cJSON_Delete(plan_doc);
		return written;
	}
	cJSON *root = cJSON_CreateObject();
	cJSON *list = cJSON_AddArrayToObject(root, "scripts");
	for (size_t i = 0; i < s->slate.n; i++) {
		cJSON *plan_doc;
		if (s->jobs[i].said) {
			/* Closed during the run: its plan was kept. */
			fputs(s->jobs[i].said, stdout);
			plan_doc = s->jobs[i].plan_doc;
			s->jobs[i].plan_doc = NULL;
		} else if (s->scripts[i].g) {
			plan_doc = plan_json(s->scripts[i].g, s->rc.step, s->estimator);
			printf("%s:\n", s->jobs[i].in->path);
			print_dry_run(stdout, plan_doc, s->scripts[i].g);
		} else {
			continue;   /* never reached: the run stopped first */
		}
		if (!plan_doc)
			continue;
		cJSON *item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "script", s->jobs[i].in->path);
		cJSON_AddStringToObject(item, "id", s->jobs[i].in->id);
		cJSON_AddItemToObject(item, "plan", plan_doc);
		cJSON_AddItemToArray(list, item);
	}
	written = o->report_path ? write_json(o->report_path, root) : 0;
	cJSON_Delete(root);
	return written;
}

/* --frozen: the stale steps, one a line ("stale: LABEL", a slate's with its script). */
static size_t print_all_stale(const struct session *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->slate.n; i++) {
		char prefix[600];
		snprintf(prefix, sizeof(prefix), "stale: %s", s->slate.many ? s->jobs[i].in->path : "");
		if (s->slate.many)
			snprintf(prefix + strlen(prefix), sizeof(prefix) - strlen(prefix), ": ");
		if (s->jobs[i].said) {
			fputs(s->jobs[i].said, stdout);   /* closed during the run */
			n += s->jobs[i].nstale;
		} else if (s->scripts[i].g) {   /* neither current nor never reached */
			n += print_stale(stdout, s->scripts[i].g, prefix);
		}
	}
	return n;
}

static void on_build_event(void *ctx, const struct build_event *ev);

/* Says that j's archive is up to date (and how, with -v, when its record alone proved it). */
static void say_up_to_date(const struct session *s, const struct script_job *j)
{
	if (s->o->verbose && j->current)
		fprintf(stderr, "scriptbuild: %s is up to date (its build record has these inputs: not parsed)\n",
		        j->archive_path);
	else if (!s->o->quiet)
		fprintf(stderr, "scriptbuild: %s is up to date\n", j->archive_path);
}

/* The scripts whose archives are current, as a full check that finds them up to date says them. */
static void say_current(struct session *s)
{
	for (size_t i = 0; i < s->slate.n; i++) {
		struct script_job *j = &s->jobs[i];
		if (!j->current)
			continue;
		analysis_remove_stale_temps(j->archive_path);
		say_up_to_date(s, j);
		if (s->o->html && write_html(j->archive_path, NULL, s->o->quiet) < 0)
			j->publish_failed = true;
	}
}

/* The current scripts' steps join the run's totals as served from the cache, and the cache's hit counters. */
static void add_current(struct session *s)
{
	if (s->ncurrent == 0)
		return;
	struct build_result *r = &s->result;
	uint64_t in = 0, out = 0;
	for (size_t i = 0; i < s->slate.n; i++) {
		if (!s->jobs[i].current)
			continue;
		const struct build_result *c = &s->scripts[i].result;
		for (int k = 0; k < STEP_KINDS; k++) {
			r->kinds[k].total += c->kinds[k].total;
			r->kinds[k].cached += c->kinds[k].cached;
		}
		in += c->tokens_saved_in;
		out += c->tokens_saved_out;
	}
	r->tokens_saved_in += in;
	r->tokens_saved_out += out;
	char err[512];
	/* Only statistics (-t stats): a cache that cannot count them loses nothing else. */
	if (s->outcome != BUILD_CACHE_FAILED && !s->o->dry_run &&
	    cache_add_counters(s->cache, s->current_steps, 0, in, out, err, sizeof(err)) < 0)
		fprintf(stderr, "scriptbuild: warning: could not count the cache's hits: %s\n", err);
}

/* Runs the wanted steps; -n and --frozen say what would have to run. */
static int run(struct session *s)
{
	const struct options *o = s->o;
	struct build_options bo = {
		.gate = s->gate, .keep_going = o->keep_going, .dry_run = o->dry_run, .frozen = o->frozen,
		.explain = o->explain, .embed_batch = o->embed_batch, .embed_batch_tokens = 300000,
		.config = s->rc.step, .provider = s->providers, .loop = s->loop, .limits = s->limits, .cache = s->cache,
		.remote = s->remote, .estimator = s->estimator, .max_cost = o->max_cost, .claim_ms = o->timeout_ms,
		.report = on_build_event, .report_ctx = s, .interrupted = &interrupt_signal,
	};
	say_current(s);
	s->building = xcalloc(s->slate.n, sizeof(*s->building));
	s->building_job = xcalloc(s->slate.n, sizeof(*s->building_job));
	for (size_t i = 0; i < s->slate.n; i++)
		if (!s->jobs[i].current) {
			s->building[s->nbuilding] = s->scripts[i];
			s->building_job[s->nbuilding++] = i;
		}
	s->outcome = s->slate.many ? run_slate(s, &bo)
	                           : build_run_slate(s->building, s->nbuilding, &bo, &s->result, s->err, sizeof(s->err));
	for (size_t k = 0; k < s->nbuilding; k++)
		s->scripts[s->building_job[k]].result = s->building[k].result;
	add_current(s);
	status_clear(&s->status);
	/* Every wanted step done, whether or not the cache could store the results: the archive needs only memory. */
	s->all_done = result_complete(&s->result);
	if (s->outcome == BUILD_CACHE_FAILED) {
		print_cache_error(s->err);
		fprintf(stderr, "scriptbuild: this run's new results were not stored in the cache (they will run again next "
		        "time)%s\n", s->all_done && !o->dry_run ? "; the archive is written from memory"
		                                          : "; no archive written: not every step finished");
	}
	if (o->dry_run) {
		int written = dry_run_report(s);
		if (s->remote)
			finish_remote(s->remote, s->remote_drain_ms, s->cache, true, o->quiet);
		return written < 0 ? EXIT_FAILED : EXIT_OK;
	}
	if (s->result.over_budget)
		fprintf(stderr, "scriptbuild: stopped: --max-cost $%.4f: spent $%.4f, $%.4f remaining, and the next step "
		        "would cost ~$%.4f; what finished is cached: re-run with a larger --max-cost to continue\n",
		        o->max_cost, s->result.spent, o->max_cost - s->result.spent, s->result.next_cost);
	if (s->outcome != BUILD_CACHE_FAILED && estimate_save(s->estimator, s->cache, s->err, sizeof(s->err)) < 0)
		fprintf(stderr, "scriptbuild: warning: could not save the estimates' history: %s\n", s->err);
	if (o->frozen && s->outcome == BUILD_INCOMPLETE)
		fprintf(stderr, "scriptbuild: --frozen: %zu steps are not in the cache\n", print_all_stale(s));
	if (s->result.interrupted)
		fprintf(stderr, "scriptbuild: interrupted by %s: finished results are cached; no archive written%s\n",
		        interrupt_signal == SIGTERM ? "SIGTERM" : "SIGINT",
		        s->slate.many ? " but those of the scripts that finished" : "");
	return s->outcome == BUILD_COMPLETE ? EXIT_OK : EXIT_FAILED;
}

/* Where script i's archive goes: -o FILE, the project's output_dir or the working directory for one script; for a
 * slate, its path mirrored under -o DIR or output_dir, else beside the script. NULL after saying why. */
static char *archive_path_for(struct session *s, size_t i)
{
	const struct options *o = s->o;
	const char *out_dir = s->project ? s->project->output_dir : NULL;
	if (s->slate.many) {
		char *path = slate_archive_path(&s->slate, i, o->output_path ? o->output_path : out_dir, s->err,
		                                sizeof(s->err));
		if (!path)
			fprintf(stderr, "scriptbuild: %s\n", s->err);
		return path;
	}
	if (o->output_path)
		return xstrdup(o->output_path);
	char *base = script_base_of(s->jobs[i].in->path), *path;
	if (out_dir && (mkdir(out_dir, 0777) == 0 || errno == EEXIST))
		path = xasprintf("%s/%s.analysis.tar.zst", out_dir, base);
	else
		path = xasprintf("%s.analysis.tar.zst", base);
	free(base);
	return path;
}

/* Saves script i's build log for the next run's explanations, once. */
static void save_log(struct session *s, size_t i)
{
	struct script_job *j = &s->jobs[i];
	char err[1024];
	if (j->log_saved || !s->scripts[i].g)
		return;   /* saved, or a slate's script the run never opened: nothing new to record */
	j->log_saved = true;
	/* Stamped with the file this run wrote (fstat before its rename), never whatever is at the path by now. */
	const struct stat *wrote = j->archive_path && !j->up_to_date && j->have_written ? &j->written : NULL;
	/* A frozen run that found stale steps built nothing: the log must keep explaining them as the last build. */
	bool stale = s->o->frozen && !result_complete(&s->scripts[i].result);
	struct digest inputs;
	if (j->complete_build)
		script_inputs(s, i, &inputs);
	if (s->outcome != BUILD_CACHE_FAILED && !stale &&
	    build_log_save(s->cache, j->log_name, s->scripts[i].g, s->rc.step, j->archive_path, wrote, &j->identity,
	                   j->complete_build ? &inputs : NULL, s->epoch, err, sizeof(err)) < 0)
		fprintf(stderr, "scriptbuild: warning: could not save the build record: %s\n", err);
}

/* Writes script i's archive unless it is up to date: when every wanted step of it is done, or, once nothing more of
 * it can finish (script_over: the run is over, or the engine closed the script) and partial allows, when some failed.
 * A script whose graph is gone (closed, or never opened) was decided on already or has nothing to write. */
static void publish_script(struct session *s, size_t i, bool script_over, bool partial)
{
	const struct options *o = s->o;
	struct script_job *j = &s->jobs[i];
	const struct build_result *r = &s->scripts[i].result;
	if (j->published || o->dry_run || !s->scripts[i].g)
		return;
	bool complete = result_complete(r);
	if (!complete && !(script_over && partial))
		return;
	j->published = true;
	if (o->ntargets > 0 && !o->output_path && !o->partial) {
		if (!o->quiet && !s->targets_said)
			fprintf(stderr, "scriptbuild: targets given: no archive written%s (use -o %s for a partial one)\n",
			        o->html ? " and no report page" : "", s->slate.many ? "DIR" : "FILE");
		s->targets_said = true;
		return;
	}
	status_clear(&s->status);
	j->archive_path = archive_path_for(s, i);
	if (!j->archive_path) {
		j->publish_failed = true;
		return;
	}
	char *name = archive_name(s, i);
	enum publish_outcome outcome = publish_archive(s->scripts[i].g, s->rc.step, name, j->script_hex,
	                                               archive_mtime(), j->archive_path, j->previous, &j->identity,
	                                               s->err, sizeof(s->err));
	free(name);
	switch (outcome) {
	case PUBLISH_FAILED:
		fprintf(stderr, "scriptbuild: %s\n", s->err);
		free(j->archive_path);
		j->archive_path = NULL;
		j->publish_failed = true;
		return;
	case PUBLISH_UP_TO_DATE:
		j->up_to_date = true;
		j->complete_build = complete && o->ntargets == 0;
		say_up_to_date(s, j);
		break;
	case PUBLISH_WRITTEN:
		j->have_written = analysis_last_written(&j->written) == 0;
		j->complete_build = complete && o->ntargets == 0;
		if (!o->quiet)
			fprintf(stderr, "scriptbuild: wrote %s\n", j->archive_path);
		break;
	case PUBLISH_WRITTEN_PARTIAL:
		j->have_written = analysis_last_written(&j->written) == 0;
		if (!o->quiet)
			fprintf(stderr, "scriptbuild: wrote %s (partial: the manifest lists what is missing)\n",
			        j->archive_path);
		break;
	}
	if (o->html && write_html(j->archive_path, NULL, o->quiet) < 0)
		j->publish_failed = true;
	if (!script_over && s->slate.many) {
		/* A finished script of a slate is done with: its log now, and its outputs leave memory. */
		save_log(s, i);
		graph_release_outputs(s->scripts[i].g);
	}
}

/* The archives the run allows that were not written as their scripts finished. */
static int publish(struct session *s, int exit_code)
{
	if (s->result.interrupted)
		return exit_code;
	bool partial = s->o->partial && !s->result.interrupted && s->outcome == BUILD_INCOMPLETE;
	/* A stop leaves later scripts of a slate unopened: --partial writes theirs too (in slate order), as for a script
	 * reached and stopped, rather than leave the archive of an older build at their paths. One open at a time. */
	for (size_t i = 0, k = 0; i < s->slate.n; i++) {
		while (k < s->nbuilding && s->building_job[k] < i)
			k++;
		struct script_job *j = &s->jobs[i];
		if (partial && s->slate.many && k < s->nbuilding && s->building_job[k] == i && !j->opened && !j->published) {
			char err[1024];
			if (slate_open(s, k, err, sizeof(err)) < 0) {
				fprintf(stderr, "scriptbuild: %s\n", err);
				j->publish_failed = true;
			} else {
				slate_close(s, k);
			}
		}
		publish_script(s, i, true, partial);
		if (j->publish_failed)
			exit_code = EXIT_FAILED;
	}
	return exit_code;
}

/* The engine's events: the status line, and a slate's archives as their scripts finish. */
static void on_build_event(void *ctx, const struct build_event *ev)
{
	struct session *s = ctx;
	/* The engine counts the scripts it builds; the user counts the slate, whose current scripts are done. */
	size_t job = ev->script < s->nbuilding ? s->building_job[ev->script] : SIZE_MAX;
	if (ev->type == BUILD_SCRIPT_DONE) {
		if (job == SIZE_MAX)
			return;
		s->scripts[job].result = s->building[ev->script].result;
		if (!s->result.interrupted && !interrupt_signal)
			publish_script(s, job, false, false);
		return;
	}
	struct build_event seen = *ev;
	seen.finished += s->current_steps;
	seen.total += s->current_steps;
	seen.scripts += s->ncurrent;
	seen.scripts_done += s->ncurrent;
	seen.script = job;
	char prefix[600] = "";
	if (s->slate.many && ev->step && job != SIZE_MAX)
		snprintf(prefix, sizeof(prefix), "%s: ", s->jobs[job].in->id);
	status_event(&s->status, &seen, prefix);
}

/* A current script has no graph: the quotations its sheets dropped are its build log's. */
static void report_current_quotes(cJSON *item, const struct script_job *j)
{
	if (!j->current)
		return;
	cJSON *dq = cJSON_GetObjectItemCaseSensitive(item, "dropped_quotes");
	double total = 0;
	const cJSON *q;
	cJSON_ArrayForEach(q, j->tally.dropped_quotes)
		total += cJSON_IsNumber(q) ? q->valuedouble : 0;
	cJSON_ReplaceItemInObjectCaseSensitive(dq, "total", cJSON_CreateNumber(total));
	cJSON_ReplaceItemInObjectCaseSensitive(dq, "by_sheet", cJSON_Duplicate(j->tally.dropped_quotes, 1));
}

/* The --report of a slate: the totals as for one script, and "scripts": a section per script. */
static cJSON *slate_report(struct session *s, double seconds)
{
	cJSON *root = report_json(&s->result, s->rc.step, seconds, NULL);
	report_add_repairs(root, &s->result, NULL);
	cJSON_AddNumberToObject(root, "script_count", (double)s->slate.n);
	cJSON *list = cJSON_AddArrayToObject(root, "scripts");
	for (size_t i = 0; i < s->slate.n; i++) {
		const struct build_result *r = &s->scripts[i].result;
		cJSON *item = report_json(r, s->rc.step, seconds, s->jobs[i].archive_path);
		report_add_repairs(item, r, s->scripts[i].g);
		report_current_quotes(item, &s->jobs[i]);
		if (s->jobs[i].dropped_quotes) {
			/* Counted from its sheets when it closed. */
			cJSON_ReplaceItemInObjectCaseSensitive(item, "dropped_quotes", s->jobs[i].dropped_quotes);
			s->jobs[i].dropped_quotes = NULL;
		}
		/* The slate's clock and rate limits are shared: they are in the totals only. */
		cJSON_DeleteItemFromObjectCaseSensitive(item, "seconds");
		cJSON_DeleteItemFromObjectCaseSensitive(item, "rate_limits");
		cJSON_DeleteItemFromObjectCaseSensitive(item, "interrupted");
		cJSON_AddStringToObject(item, "script", s->jobs[i].in->path);
		cJSON_AddStringToObject(item, "id", s->jobs[i].in->id);
		cJSON_AddBoolToObject(item, "complete", result_complete(r));
		cJSON_AddItemToArray(list, item);
	}
	return root;
}

/* Saves each build's log for the next run's explanations, then the --report file and the summary line(s); the exit
 * code, which a report that cannot be written or an interruption changes. */
static int report(struct session *s, int exit_code)
{
	const struct options *o = s->o;
	for (size_t i = 0; i < s->slate.n; i++)
		save_log(s, i);
	/* The archives are written: only now do the uploads still in flight get their bounded time. */
	if (s->remote)
		finish_remote(s->remote, s->remote_drain_ms, s->cache, false, o->quiet);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double seconds = (double)(now.tv_sec - s->started.tv_sec) + (double)(now.tv_nsec - s->started.tv_nsec) / 1e9;
	if (o->report_path) {
		cJSON *root = s->slate.many ? slate_report(s, seconds)
		                            : report_root(&s->result, s->scripts[0].g, &s->rc, seconds,
		                                          s->jobs[0].archive_path, s->remote);
		if (!s->slate.many)
			report_current_quotes(root, &s->jobs[0]);
		if (s->slate.many && s->remote)
			report_add_remote(root, remote_counts(s->remote));
		if (write_json(o->report_path, root) < 0)
			exit_code = EXIT_FAILED;
		cJSON_Delete(root);
	}
	if (!o->quiet || exit_code != EXIT_OK || s->result.interrupted) {
		char scripts[128] = "";
		size_t incomplete = 0;
		for (size_t i = 0; i < s->slate.n; i++)
			incomplete += !result_complete(&s->scripts[i].result);
		if (s->slate.many)
			snprintf(scripts, sizeof(scripts), "%zu scripts (%zu complete, %zu not), ", s->slate.n,
			         s->slate.n - incomplete, incomplete);
		print_summary(&s->result, &s->rc, seconds, scripts);
		for (size_t i = 0; s->slate.many && i < s->slate.n; i++) {
			const struct build_result *r = &s->scripts[i].result;
			size_t failed = 0, skipped = 0, stale = 0, total = 0;
			for (int k = 0; k < STEP_KINDS; k++) {
				failed += r->kinds[k].failed;
				skipped += r->kinds[k].skipped;
				stale += r->kinds[k].stale;
				total += r->kinds[k].total;
			}
			if (failed + skipped + stale > 0)
				fprintf(stderr, "scriptbuild: %s %s: %zu of %zu steps failed, %zu skipped%s%s\n",
				        failed ? "FAILED" : "incomplete", s->jobs[i].in->path, failed, total, skipped,
				        stale ? ", stale " : "", stale ? "(--frozen)" : "");
		}
		struct batch_totals bt;
		batch_totals(s->providers, &bt);
		batchmode_summary(&s->result, s->rc.step, &bt);
		if (s->remote)
			print_remote_summary(s->remote);
	}
	return s->result.interrupted ? interrupt_exit_code(exit_code) : exit_code;
}

static void session_free(struct session *s)
{
	config_destroy_providers(s->providers);
	admission_free(s->limits);
	remote_free(s->remote);
	loop_free(s->loop);
	gate_free(s->gate);
	estimate_free(s->estimator);
	project_free(s->project);
	for (size_t i = 0; s->jobs && i < s->slate.n; i++) {
		build_log_free(s->jobs[i].previous);
		cJSON_Delete(s->jobs[i].dropped_quotes);
		cJSON_Delete(s->jobs[i].plan_doc);
		free(s->jobs[i].said);
		free(s->jobs[i].text);
		graph_free(s->scripts[i].g);
		fountain_free(s->jobs[i].script);
		free(s->jobs[i].log_name);
		free(s->jobs[i].archive_path);
	}
	free(s->jobs);
	free(s->scripts);
	free(s->building);
	free(s->building_job);
	cache_close(s->cache);
	config_free(&s->rc);
	slate_free(&s->slate);
}

/* load -> plan -> run -> publish -> report. */
static int build(const struct options *o)
{
	struct session s = {.o = o};
	clock_gettime(CLOCK_MONOTONIC, &s.started);
	int exit_code = load(&s);
	if (exit_code == EXIT_OK)
		exit_code = plan(&s);
	if (exit_code != EXIT_OK) {
		if (s.err[0])
			fprintf(stderr, "scriptbuild: %s\n", s.err);
		session_free(&s);
		return exit_code;
	}
	exit_code = run(&s);
	if (!o->dry_run) {
		exit_code = publish(&s, exit_code);
		exit_code = report(&s, exit_code);
	}
	session_free(&s);
	return exit_code;
}

/* -t batches [--cancel]: the message batches recorded in the cache; cancelling them asks the API. */
static int tool_batches(const struct options *o)
{
	struct cache *c;
	if (open_cache(o, NULL, &c) < 0)
		return EXIT_USAGE;
	struct loop *l = o->cancel ? loop_new() : NULL;
	struct net_config net = {.retries = o->retries, .connect_timeout_ms = o->connect_timeout_ms,
	                         .timeout_ms = o->timeout_ms};
	int rc = o->cancel && !l ? EXIT_FAILED : batchmode_tool(c, l, &net, o->cancel) ? EXIT_FAILED : EXIT_OK;
	if (l)
		loop_free(l);
	cache_close(c);
	return rc;
}

static int run_tool(const struct options *o)
{
	if (strcmp(o->tool, "parse") == 0)
		return tool_parse(o);
	if (strcmp(o->tool, "stats") == 0 || strcmp(o->tool, "verify") == 0 || strcmp(o->tool, "gc") == 0)
		return tool_cache(o);
	if (strcmp(o->tool, "verify-archive") == 0)
		return tool_verify_archive(o);
	if (strcmp(o->tool, "report") == 0)
		return tool_report(o);
	if (strcmp(o->tool, "batches") == 0)
		return tool_batches(o);
	fprintf(stderr, "scriptbuild: unknown tool '%s' (parse, stats, verify, gc, verify-archive, report, similar, batches)\n",
	        o->tool);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	/* Before anything opens a file: a closed stderr must not become LMDB's lock file. */
	stdio_guard_fds();
	util_json_hooks();
	/* A file-size limit must surface as a write error we can report, not kill us half-way; a closed pipe is a
	 * write error on stdout that stdio_guard_finish reports. */
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (wants_similar(argc, argv))
		return stdio_guard_finish("scriptbuild", tool_similar(argc, argv));
	if (parse_args(argc, argv, &o) < 0)
		return stdio_guard_finish("scriptbuild", EXIT_USAGE);
	if (o.tool)
		return stdio_guard_finish("scriptbuild", run_tool(&o));
	interrupt_install();
	int rc = build(&o);
	free(o.inputs);
	free((void *)o.targets);
	return stdio_guard_finish("scriptbuild", rc);
}
