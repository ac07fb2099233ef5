/* test_admission.c - runs at the provider's rate limits without hitting them: against fake servers that enforce
 * requests, input tokens, output tokens (Anthropic) and tokens (OpenAI) per minute as token buckets and announce them
 * in the real headers, every run completes with at most 2 % of its requests answered 429 (the server's count); against
 * the same buckets in overdraft mode (admit and count instead of refusing) no request is admitted beyond a bucket;
 * two runs sharing one server's limit pace by what it says is left; --rpm alone holds a server that announces
 * nothing; the report counts the seconds waited per limit and the 429s, and -v says what the run waits for. All runs
 * go side by side, one fake server each (two share one), so the waits overlap. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fakeserver.h"

struct limit_case {
	const char *name;
	const char *const *server;    /* the fake server's flags */
	const char *llm;              /* --llm */
	const char *report_wait;      /* the report's rate_limits.waited_seconds member this limit fills */
	const char *cap;              /* a scriptbuild cap flag and value, or NULL */
	const char *cap_value;
};

struct run {
	char dir[64], script[128], cache[128], report[128], err[128];
	struct fake *fake;
	pid_t pid;
};

/* The limits are scaled so that each run waits for about a second: 60 summaries and their sheets and outline. */
static const char *const rpm[] = {"--rpm", "1200", "--burst-ms", "500", "--latency", "10", NULL};
static const char *const itpm[] = {"--itpm", "600000", "--burst-ms", "500", "--latency", "10", NULL};
static const char *const otpm[] = {"--otpm", "2400000", "--burst-ms", "250", "--latency", "10", NULL};
static const char *const tpm[] = {"--tpm", "2400000", "--rpm", "6000", "--burst-ms", "250", "--latency", "10", NULL};
static const char *const silent[] = {"--rpm", "1200", "--burst-ms", "1000", "--latency", "10", "--rate-headers",
                                     "false", NULL};

static const struct limit_case cases[] = {
	{"requests per minute", rpm, "anthropic", "requests", NULL, NULL},
	{"input tokens per minute", itpm, "anthropic", "input_tokens", NULL, NULL},
	{"output tokens per minute", otpm, "anthropic", "output_tokens", NULL, NULL},
	{"OpenAI tokens per minute", tpm, "openai", "tokens", NULL, NULL},
	/* A user leaving a sixth of the limit to other work. */
	{"--rpm below a limit the server does not announce", silent, "anthropic", "requests", "--rpm", "1000"},
};
enum { CASES = sizeof(cases) / sizeof(cases[0]) };

static pid_t spawn(const char *dir, const char *err, char *const argv[])
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	int o = open("/dev/null", O_WRONLY);
	int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (o < 0 || e < 0 || chdir(dir) != 0)
		_exit(127);
	dup2(o, 1);
	dup2(e, 2);
	execv(argv[0], argv);
	_exit(127);
}

static int reap(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *text_of(const char *path)
{
	char *text = slurp(path, NULL);
	return text ? text : strdup("(nothing)");
}

static double stat_of(struct fake *f, const char *path)
{
	cJSON *s = fake_call(f, "GET", "/stats", NULL);
	assert_non_null(s);
	double v = json_number(s, path);
	cJSON_Delete(s);
	return v;
}

static void run_prepare(struct run *r, struct fake *f)
{
	snprintf(r->dir, sizeof(r->dir), "%s", new_dir());
	snprintf(r->script, sizeof(r->script), "%s/s.fountain", r->dir);
	snprintf(r->cache, sizeof(r->cache), "%s/cache", r->dir);
	snprintf(r->report, sizeof(r->report), "%s/report.json", r->dir);
	snprintf(r->err, sizeof(r->err), "%s/stderr", r->dir);
	r->fake = f;
	char *gen[] = {tool("tool_genscript"), "--scenes", "60", "--characters", "6", "--seed", "14", NULL};
	assert_int_equal(run_in(NULL, r->script, NULL, gen), 0);
}

/* Starts scriptbuild -v -j8 on r's script against r's server with --llm llm and an optional cap. */
static void run_start(struct run *r, const char *llm, const char *cap, const char *cap_value)
{
	char *argv[24] = {(char *)sb(), "-v", "-j", "8", "--cache", r->cache, "--report", r->report, "--llm", (char *)llm,
	                  "--embed", "openai"};
	int n = 12;
	if (cap) {
		argv[n++] = (char *)cap;
		argv[n++] = (char *)cap_value;
	}
	argv[n++] = r->script;
	argv[n] = NULL;
	setenv("ANTHROPIC_API_KEY", "sk-ant-admission", 1);
	setenv("OPENAI_API_KEY", "sk-openai-admission", 1);
	setenv("ANTHROPIC_BASE_URL", r->fake->base, 1);
	setenv("OPENAI_BASE_URL", r->fake->openai_base, 1);
	r->pid = spawn(r->dir, r->err, argv);
}

static void start_server(struct fake *f, const char *const *flags, bool overdraft)
{
	const char *all[24];
	int n = 0;
	for (; *flags && n < 20; flags++)
		all[n++] = *flags;
	if (overdraft)
		all[n++] = "--overdraft";
	all[n] = NULL;
	new_server(f, new_dir(), all);
}

/* The run finished every step; the server refused at most max_share of the requests it saw. */
static void check_run(struct run *r, const char *what, double max_share)
{
	int rc = reap(r->pid);
	if (rc != 0)
		fail_msg("%s: exit %d:\n%s", what, rc, text_of(r->err));
	cJSON *report = read_json(r->report);
	assert_non_null(report);
	double failed = 0;
	static const char *const kinds[] = {"summary", "outline", "sheet", "embedding"};
	for (int k = 0; k < 4; k++) {
		char path[64];
		snprintf(path, sizeof(path), "steps.%s.failed", kinds[k]);
		failed += json_number(report, path);
	}
	cJSON_Delete(report);
	assert_true(failed == 0);
	double total = stat_of(r->fake, "requests.total"), limited = stat_of(r->fake, "rate_limits.limited");
	printf("%s: %g requests, %g answered 429, %g violations\n", what, total, limited,
	       stat_of(r->fake, "rate_limits.violations"));
	/* The server's count, not the client's: 2 % of a ~70-request run is one 429 at most. */
	if (limited > max_share * total)
		fail_msg("%s: %g of %g requests were answered 429 (at most %.0f %% allowed):\n%s", what, limited, total,
		         max_share * 100, text_of(r->err));
}

static void test_each_limit(void **state)
{
	(void)state;
	struct fake enforcing[CASES], counting[CASES];
	struct run strict[CASES], lenient[CASES];
	for (int i = 0; i < CASES; i++) {
		start_server(&enforcing[i], cases[i].server, false);
		start_server(&counting[i], cases[i].server, true);
		run_prepare(&strict[i], &enforcing[i]);
		run_prepare(&lenient[i], &counting[i]);
		run_start(&strict[i], cases[i].llm, cases[i].cap, cases[i].cap_value);
		run_start(&lenient[i], cases[i].llm, cases[i].cap, cases[i].cap_value);
	}
	for (int i = 0; i < CASES; i++) {
		char what[160];
		snprintf(what, sizeof(what), "%s, enforced", cases[i].name);
		check_run(&strict[i], what, 0.02);
		/* The report counts what the server refused and how long the run waited for this limit. */
		cJSON *report = read_json(strict[i].report);
		assert_non_null(report);
		char path[96];
		snprintf(path, sizeof(path), "rate_limits.waited_seconds.%s", cases[i].report_wait);
		double waited = json_number(report, path);
		double answered = json_number(report, "rate_limits.answered_429");
		cJSON_Delete(report);
		if (!(waited > 0.1))
			fail_msg("%s: the report says the run waited %g s for %s", what, waited, cases[i].report_wait);
		assert_true(answered == stat_of(&enforcing[i], "rate_limits.limited"));

		snprintf(what, sizeof(what), "%s, overdraft counted", cases[i].name);
		check_run(&lenient[i], what, 0);
		double violations = stat_of(&counting[i], "rate_limits.violations");
		if (violations != 0)
			fail_msg("%s: %g requests were admitted beyond the bucket:\n%s", what, violations,
			         text_of(lenient[i].err));
	}
	/* -v says what the run waits for, naming the limit. */
	char *err = text_of(strict[1].err);
	if (!strstr(err, " for input tokens"))
		fail_msg("-v never said the run waits for input tokens:\n%s", err);
	free(err);
}

/* Two runs on two caches against one server's limit: each sees the other's spending in `remaining`. */
static void test_two_runs_share_a_limit(void **state)
{
	(void)state;
	struct fake f;
	struct run a, b;
	start_server(&f, rpm, false);
	run_prepare(&a, &f);
	run_prepare(&b, &f);
	run_start(&a, "anthropic", NULL, NULL);
	run_start(&b, "anthropic", NULL, NULL);
	int rc_a = reap(a.pid), rc_b = reap(b.pid);
	if (rc_a != 0 || rc_b != 0)
		fail_msg("two runs at once: exit %d and %d:\n%s\n%s", rc_a, rc_b, text_of(a.err), text_of(b.err));
	double total = stat_of(&f, "requests.total"), limited = stat_of(&f, "rate_limits.limited");
	printf("two runs sharing 1200 requests per minute: %g requests, %g answered 429\n", total, limited);
	/* Pacing by `remaining` alone, each run refilling its view at the whole rate, had a third refused; measured
	 * shares bring it to a few percent (the bench's two-run row holds the 5 % target; a sanitized build on a loaded
	 * machine jitters more, so this smoke check allows 10 %). */
	if (limited > 0.10 * total)
		fail_msg("two runs at once: %g of %g requests answered 429 (at most 10 %% allowed)", limited, total);
}

/* A cap that is not a number per minute, or names no provider, is refused before anything runs. */
static void test_bad_caps(void **state)
{
	(void)state;
	char *dir = new_dir();
	char err[160];
	snprintf(err, sizeof(err), "%s/stderr", dir);
	static const char *const bad[][2] = {{"--rpm", "fast"}, {"--itpm", "0"}, {"--otpm", "google=5"},
	                                     {"--rpm", "-3"}, {"--itpm", "anthropic="}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = {(char *)sb(), (char *)bad[i][0], (char *)bad[i][1], "nonexistent.fountain", NULL};
		assert_int_equal(run_in(dir, NULL, err, argv), 2);
		char *text = text_of(err);
		if (!strstr(text, bad[i][0]) || !strstr(text, bad[i][1]))
			fail_msg("%s %s: the message does not name the option and its value: %s", bad[i][0], bad[i][1], text);
		free(text);
	}
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_each_limit, clean_up),
		cmocka_unit_test_teardown(test_two_runs_share_a_limit, clean_up),
		cmocka_unit_test_teardown(test_bad_caps, clean_up),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return failed;
}
