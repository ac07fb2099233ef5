/* tool_bench_slate.c - the slate rows of `make bench` (BENCH_ONLY=slate): many scripts in one run against many runs.
 *
 *   tool_bench_slate --build DIR --work DIR [--scale F] [--quick]
 *
 * 1. 20 generated scripts x 50 scenes, 6 characters, against the fake server capped at 20 concurrent requests with
 *    the seed's latencies x scale: `scriptbuild -j20 DIR` vs twenty `scriptbuild -j10` at once vs the twenty one
 *    after another (-j20 each); wall time against the bound (the requests' latencies summed / 20 slots) and the
 *    429s the cap answered.
 * 2. A no-op over 100 scripts x 100 scenes in one process (builtin), against the 100 processes a script each.
 * 3. Peak RSS of a cold slate of 1000 scripts x 50 scenes (builtin).
 * --quick divides the script counts by 10 (for trying the tool). Prints a table; exits 1 only when a run failed. */
#define _DEFAULT_SOURCE /* wait4() is BSD/Linux, not POSIX: the only way to get one child's own rusage */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "benchkit.h"

enum kind { SUMMARY, OUTLINE, SHEET, EMBEDDING, KINDS };
static const char *const kind_name[KINDS] = {"summary", "outline", "sheet", "embedding"};
static const double seed_latency_ms[KINDS] = {2000, 5000, 3000, 500};

static const char *build, *work;
static char sb[4096], fakeapi[4096], genscript[4096], base_url[64];
static pid_t server = -1;
static bool failed;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void on_stop(int sig)
{
	if (server > 0)
		kill(server, SIGTERM);
	_exit(128 + sig);
}

/* Starts argv (stdout to out, NULL: /dev/null; stderr appended to err) in the work directory, environment extra. */
static pid_t spawn(char *const argv[], const char *out, const char *err)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int e = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (o < 0 || e < 0 || chdir(work) || dup2(o, 1) < 0 || dup2(e, 2) < 0)
		_exit(126);
	execv(argv[0], argv);
	_exit(127);
}

/* Waits for pid; its exit status (-1 when it did not exit), peak RSS in MB into *rss_mb when not NULL. */
static int reap(pid_t pid, double *rss_mb)
{
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return -1;
	if (rss_mb)
		*rss_mb = (double)ru.ru_maxrss / 1024.0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run(char *const argv[], const char *out, const char *err, double *rss_mb)
{
	pid_t pid = spawn(argv, out, err);
	return pid < 0 ? -1 : reap(pid, rss_mb);
}

/* The largest RssAnon and RssFile (MB) of /proc/PID/status seen so far; false when it cannot be read (not Linux). */
static bool sample_rss(pid_t pid, double *anon_mb, double *file_mb)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	long kb;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "RssAnon: %ld", &kb) == 1 && kb / 1024.0 > *anon_mb)
			*anon_mb = kb / 1024.0;
		if (sscanf(line, "RssFile: %ld", &kb) == 1 && kb / 1024.0 > *file_mb)
			*file_mb = kb / 1024.0;
	}
	fclose(f);
	return true;
}

/* run, and the peaks of its anonymous and file-backed memory sampled every 20 ms (-1 when not known): what grows with
 * the slate is anonymous; the file-backed part is the cache's map pages the run touched. */
static int run_sampled(char *const argv[], const char *err, double *rss_mb, double *anon_mb, double *file_mb)
{
	pid_t pid = spawn(argv, NULL, err);
	if (pid < 0)
		return -1;
	*anon_mb = *file_mb = 0;
	bool known = true;
	for (;;) {
		int status;
		struct rusage ru;
		pid_t got = wait4(pid, &status, WNOHANG, &ru);
		if (got == pid) {
			*rss_mb = (double)ru.ru_maxrss / 1024.0;
			if (!known)
				*anon_mb = *file_mb = -1;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		if (got < 0 && errno != EINTR)
			return -1;
		known = sample_rss(pid, anon_mb, file_mb) && known;
		struct timespec pause = {0, 20 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
}

/* GET (body NULL) or POST one fake-server endpoint; the parsed JSON reply, or NULL. */
static cJSON *server_call(const char *path, const char *body)
{
	char url[256];
	CURLcode rc;
	long code;
	snprintf(url, sizeof url, "%s%s", base_url, path);
	return bench_call(url, body, &rc, &code);
}

static double stat_at(const cJSON *root, const char *a, const char *b)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, a);
	if (b)
		n = cJSON_GetObjectItemCaseSensitive(n, b);
	return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

static bool start_server(double scale)
{
	char port_file[4096], log[4096], latency[128];
	snprintf(port_file, sizeof port_file, "%s/slate-fakeapi.port", work);
	snprintf(log, sizeof log, "%s/slate-fakeapi.log", work);
	snprintf(latency, sizeof latency, "summary=%.0f,outline=%.0f,sheet=%.0f,embedding=%.0f",
	         seed_latency_ms[SUMMARY] * scale, seed_latency_ms[OUTLINE] * scale, seed_latency_ms[SHEET] * scale,
	         seed_latency_ms[EMBEDDING] * scale);
	remove(port_file);
	char *argv[] = {fakeapi, "--port", "0", "--port-file", port_file, "--max-concurrency", "20", "--latency",
	                latency, NULL};
	server = spawn(argv, NULL, log);
	for (int tries = 0; tries < 200; tries++) {
		FILE *f = fopen(port_file, "r");
		unsigned port = 0;
		if (f) {
			int got = fscanf(f, "%u", &port);
			fclose(f);
			if (got == 1 && port) {
				snprintf(base_url, sizeof base_url, "http://127.0.0.1:%u", port);
				setenv("ANTHROPIC_BASE_URL", base_url, 1);
				char openai[96];
				snprintf(openai, sizeof openai, "%s/v1", base_url);
				setenv("OPENAI_BASE_URL", openai, 1);
				return true;
			}
		}
		nanosleep(&(struct timespec){.tv_nsec = 25000000}, NULL);
	}
	fprintf(stderr, "tool_bench_slate: the fake server did not start (see %s)\n", log);
	return false;
}

/* Writes n scripts of scenes scenes and characters characters under work/dir, seeds from first_seed. */
static bool generate(const char *dir, int n, const char *scenes, const char *characters, int first_seed)
{
	char path[4096], log[4096], seed[32];
	snprintf(path, sizeof path, "%s/%s", work, dir);
	mkdir(path, 0777);
	snprintf(log, sizeof log, "%s/gen.log", work);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s/s%04d.fountain", work, dir, i);
		snprintf(seed, sizeof seed, "%d", first_seed + i);
		char *argv[] = {genscript, "--scenes", (char *)scenes, "--characters", (char *)characters, "--seed", seed,
		                NULL};
		if (run(argv, path, log, NULL) != 0) {
			fprintf(stderr, "tool_bench_slate: tool_genscript failed (see %s)\n", log);
			return false;
		}
	}
	return true;
}

/* The requests' latencies summed, as the server saw them, over the 20 slots; the 429s it answered for the cap. */
static void server_figures(double scale, double *bound, long *cap429, long *requests)
{
	cJSON *st = server_call("/stats", NULL);
	double work_ms = 0;
	for (int k = 0; k < KINDS; k++)
		work_ms += stat_at(st, "by_kind", kind_name[k]) * seed_latency_ms[k] * scale;
	*bound = work_ms / 1000.0 / 20.0;
	*cap429 = (long)stat_at(st, "faults", "cap");
	*requests = (long)stat_at(st, "requests", "total");
	cJSON_Delete(st);
}

static void row(const char *name, double wall, double bound, long cap429, long requests, bool ok)
{
	printf("| %-44s | %8.1f s | %7.1f s | %6.0f %% | %5ld | %6ld |%s\n", name, wall, bound,
	       bound > 0 ? 100.0 * (wall - bound) / bound : 0, cap429, requests, ok ? "" : " FAILED");
	fflush(stdout);
	failed |= !ok;
}

static void slate_rows(double scale, int nscripts)
{
	char dir[4096], log[4096], cache[4096], ncap[16];
	snprintf(dir, sizeof dir, "%s/slate20", work);
	snprintf(log, sizeof log, "%s/slate.log", work);
	if (!generate("slate20", nscripts, "50", "6", 100) || !start_server(scale)) {
		failed = true;
		return;
	}
	snprintf(ncap, sizeof ncap, "%d", nscripts);
	printf("\n%d scripts x 50 scenes, 6 characters; fake server --max-concurrency 20, latencies x %.2f\n\n", nscripts,
	       scale);
	printf("| %-44s | %10s | %9s | %8s | %5s | %6s |\n", "run", "wall", "bound", "over", "429s", "reqs");
	printf("|----------------------------------------------|------------|-----------|----------|-------|--------|\n");
	double bound, t;
	long cap429, requests;

	/* One process, the whole folder. */
	snprintf(cache, sizeof cache, "%s/cache-slate-one", work);
	server_call("/reset", "{}");
	char *one[] = {sb, "-q", "-j20", "--cache", cache, "-o", "out-one", dir, NULL};
	t = now();
	int rc = run(one, NULL, log, NULL);
	t = now() - t;
	server_figures(scale, &bound, &cap429, &requests);
	row("scriptbuild -j20 DIR (one process)", t, bound, cap429, requests, rc == 0);

	/* Twenty processes at once, one shared cache, as `xargs -P20 scriptbuild -j10` runs them. */
	snprintf(cache, sizeof cache, "%s/cache-slate-many", work);
	server_call("/reset", "{}");
	pid_t *pids = calloc((size_t)nscripts, sizeof *pids);
	t = now();
	for (int i = 0; i < nscripts; i++) {
		char script[8192], out[4096];
		snprintf(script, sizeof script, "%s/s%04d.fountain", dir, i);
		snprintf(out, sizeof out, "%s/out-many-%04d.analysis.tar.zst", work, i);
		char *argv[] = {sb, "-q", "-j10", "--cache", cache, "-o", out, script, NULL};
		pids[i] = spawn(argv, NULL, log);
	}
	bool ok = true;
	for (int i = 0; i < nscripts; i++)
		ok &= reap(pids[i], NULL) == 0;
	t = now() - t;
	server_figures(scale, &bound, &cap429, &requests);
	row("20 x scriptbuild -j10 SCRIPT at once", t, bound, cap429, requests, ok);

	/* One after another. */
	snprintf(cache, sizeof cache, "%s/cache-slate-seq", work);
	server_call("/reset", "{}");
	ok = true;
	t = now();
	for (int i = 0; i < nscripts; i++) {
		char script[8192], out[4096];
		snprintf(script, sizeof script, "%s/s%04d.fountain", dir, i);
		snprintf(out, sizeof out, "%s/out-seq-%04d.analysis.tar.zst", work, i);
		char *argv[] = {sb, "-q", "-j20", "--cache", cache, "-o", out, script, NULL};
		ok &= run(argv, NULL, log, NULL) == 0;
	}
	t = now() - t;
	server_figures(scale, &bound, &cap429, &requests);
	row("20 x scriptbuild -j20 SCRIPT in sequence", t, bound, cap429, requests, ok);
	free(pids);
	kill(server, SIGTERM);
	reap(server, NULL);
	server = -1;
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
}

static void noop_rows(int nscripts)
{
	char dir[4096], log[4096], cache[4096];
	snprintf(dir, sizeof dir, "%s/noop100", work);
	snprintf(log, sizeof log, "%s/noop.log", work);
	snprintf(cache, sizeof cache, "%s/cache-noop", work);
	if (!generate("noop100", nscripts, "100", "8", 300)) {
		failed = true;
		return;
	}
	char *cold[] = {sb, "-q", "--cache", cache, dir, NULL};
	if (run(cold, NULL, log, NULL) != 0) {
		fprintf(stderr, "tool_bench_slate: the cold slate failed (see %s)\n", log);
		failed = true;
		return;
	}
	double best = 1e9, rss = 0, anon = -1, file = -1;
	for (int i = 0; i < 3; i++) {
		double t = now();
		int rc = run_sampled(cold, log, &rss, &anon, &file);
		t = now() - t;
		failed |= rc != 0;
		if (t < best)
			best = t;
	}
	/* The same no-op as one process a script (their archives are up to date too). */
	double t = now();
	for (int i = 0; i < nscripts; i++) {
		char script[8192];
		snprintf(script, sizeof script, "%s/s%04d.fountain", dir, i);
		char *argv[] = {sb, "-q", "--cache", cache, script, NULL};
		failed |= run(argv, NULL, log, NULL) != 0;
	}
	t = now() - t;
	printf("\nno-op, %d scripts x 100 scenes (builtin): one process %.3f s (best of 3; goal <= 0.5 s%s), peak RSS "
	       "%.0f MB (sampled: anonymous at most %.0f MB, file-backed at most %.0f MB); %d processes one a script "
	       "%.3f s\n", nscripts, best, best <= 0.5 ? ": PASS" : ": MISS", rss, anon, file, nscripts, t);
}

static void rss_row(int nscripts)
{
	char dir[4096], log[4096], cache[4096];
	snprintf(dir, sizeof dir, "%s/rss1000", work);
	snprintf(log, sizeof log, "%s/rss.log", work);
	snprintf(cache, sizeof cache, "%s/cache-rss", work);
	if (!generate("rss1000", nscripts, "50", "6", 5000)) {
		failed = true;
		return;
	}
	char *argv[] = {sb, "-q", "--cache", cache, "-o", "out-rss", dir, NULL};
	double rss = 0, anon = -1, file = -1, t = now();
	int rc = run_sampled(argv, log, &rss, &anon, &file);
	t = now() - t;
	failed |= rc != 0;
	printf("\ncold slate, %d scripts x 50 scenes (builtin): %.1f s, peak RSS %.0f MB (goal < 256 MB%s)%s; sampled "
	       "every 20 ms: anonymous at most %.0f MB, file-backed (the cache's map) at most %.0f MB\n", nscripts, t, rss,
	       rss < 256 ? ": PASS" : ": MISS", rc == 0 ? "" : " FAILED", anon, file);
}

int main(int argc, char **argv)
{
	double scale = 0.1;
	bool quick = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--build") && i + 1 < argc)
			build = argv[++i];
		else if (!strcmp(argv[i], "--work") && i + 1 < argc)
			work = argv[++i];
		else if (!strcmp(argv[i], "--scale") && i + 1 < argc)
			scale = atof(argv[++i]);
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else {
			fprintf(stderr, "usage: tool_bench_slate --build DIR --work DIR [--scale F] [--quick]\n");
			return 2;
		}
	}
	if (!build || !work || !(scale > 0)) {
		fprintf(stderr, "usage: tool_bench_slate --build DIR --work DIR [--scale F] [--quick]\n");
		return 2;
	}
	/* The runs start in the work directory: the build's paths must not be relative. */
	char *real = realpath(build, NULL);
	if (!real) {
		fprintf(stderr, "tool_bench_slate: --build %s: %s\n", build, strerror(errno));
		return 2;
	}
	build = real;
	snprintf(sb, sizeof sb, "%s/scriptbuild", build);
	snprintf(fakeapi, sizeof fakeapi, "%s/tests/fakeapi", build);
	snprintf(genscript, sizeof genscript, "%s/tests/tool_genscript", build);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setenv("ANTHROPIC_API_KEY", "sk-ant-bench-slate", 1);
	setenv("OPENAI_API_KEY", "sk-bench-slate", 1);
	slate_rows(scale, quick ? 2 : 20);
	noop_rows(quick ? 10 : 100);
	rss_row(quick ? 100 : 1000);
	curl_global_cleanup();
	free(real);
	return failed ? 1 : 0;
}
