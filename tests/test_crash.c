/* test_crash.c - scriptbuild killed, raced, starved of disk and given a cache it cannot open: never a lost finished
 * result, never a half-written archive, never a crash. Drives the built binaries against the fake API server. */
#define _DEFAULT_SOURCE /* setgroups: a child that becomes uid 65534 must drop root's supplementary groups */
#include <dirent.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include <cmocka.h>
#include <lmdb.h>

#include "fakeserver.h"

#define NOBODY 65534
#define KILLS 20
#define KILL_SEED 0x5eedc0ffeeull
#define LATENCIES "summary=20,outline=50,sheet=40,embedding=30"

/* How a child runs: as uid 65534 (when we are root), and/or under a file-size limit. */
struct child_opts {
	int as_nobody;
	long fsize_limit;         /* 0: none */
};

/* Starts argv in dir with stdout/stderr to files (NULL: /dev/null); returns the pid. */
static pid_t spawn(const char *dir, const char *out, const char *err, char *const argv[], const struct child_opts *co)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int e = open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (o < 0 || e < 0 || (dir && chdir(dir) != 0))
		_exit(127);
	dup2(o, 1);
	dup2(e, 2);
	if (co && co->fsize_limit > 0) {
		struct rlimit rl = {(rlim_t)co->fsize_limit, (rlim_t)co->fsize_limit};
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(126);
	}
	gid_t groups[1] = {NOBODY};
	if (co && co->as_nobody && geteuid() == 0 &&
	    (setgroups(1, groups) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0))
		_exit(126);
	execv(argv[0], argv);
	_exit(127);
}

/* The exit status of pid, or 128 + the signal that ended it. */
static int reap(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run(const char *dir, const char *out, const char *err, char *const argv[], const struct child_opts *co)
{
	return reap(spawn(dir, out, err, argv, co));
}

/* Writes the generated test script (tool_genscript) to path. */
static void genscript(const char *path, const char *scenes, const char *edit)
{
	char *argv[] = {tool("tool_genscript"), "--scenes", (char *)scenes, "--characters", "8", "--seed", "4",
	                edit ? "--edit" : NULL, (char *)edit, NULL};
	assert_int_equal(run(NULL, path, NULL, argv, NULL), 0);
}

static int file_has(const char *path, const char *needle)
{
	char *text = slurp(path, NULL);
	int found = text && strstr(text, needle);
	if (!found)
		fprintf(stderr, "%s does not say \"%s\"; it says:\n%s\n", path, needle, text ? text : "(nothing)");
	free(text);
	return found;
}

static void assert_same_file(const char *path, const char *want, size_t want_len)
{
	size_t len;
	char *got = slurp(path, &len);
	if (!got)
		fail_msg("%s is missing", path);
	if (len != want_len || memcmp(got, want, len) != 0)
		fail_msg("%s (%zu bytes) differs from the expected archive (%zu bytes)", path, len, want_len);
	free(got);
}

/* -t verify and tool_cachecheck both find the cache clean. */
static void assert_cache_clean(const char *dir, const char *cache, const struct child_opts *co)
{
	char out[600];
	snprintf(out, sizeof(out), "%s/check.out", dir);
	char *verify[] = {(char *)sb(), "-t", "verify", "--cache", (char *)cache, NULL};
	if (run(dir, out, out, verify, co) != 0) {
		char *text = slurp(out, NULL);
		fail_msg("scriptbuild -t verify --cache %s failed:\n%s", cache, text ? text : "");
	}
	char *check[] = {tool("tool_cachecheck"), (char *)cache, NULL};
	if (run(dir, out, out, check, NULL) != 0) {
		char *text = slurp(out, NULL);
		fail_msg("tool_cachecheck %s failed:\n%s", cache, text ? text : "");
	}
}

static void use_fake(const struct fake *f)
{
	setenv("ANTHROPIC_API_KEY", "sk-ant-crash-test", 1);
	setenv("OPENAI_API_KEY", "sk-openai-crash-test", 1);
	setenv("ANTHROPIC_BASE_URL", f->base, 1);
	setenv("OPENAI_BASE_URL", f->openai_base, 1);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void sleep_seconds(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* xorshift64*: the kill moments come from a fixed seed, so a failure can be replayed. */
static double next_uniform(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return (double)((*state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

/* Counts the entries of dir other than name itself that are its temporary files (".NAME.scriptbuild-tmp-XXXXXX"); fails on anything
 * else, which would be a partial archive under another name. */
static int temp_files_beside(const char *dir, const char *name)
{
	char prefix[300];
	snprintf(prefix, sizeof(prefix), ".%s.scriptbuild-tmp-", name);
	DIR *d = opendir(dir);
	assert_non_null(d);
	int temps = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, name))
			continue;
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strlen(e->d_name) == strlen(prefix) + 6) {
			temps++;
			continue;
		}
		closedir(d);
		fail_msg("%s holds an unexpected file %s", dir, e->d_name);
	}
	closedir(d);
	return temps;
}

/* kill -9 at KILLS seeded moments of cold runs (a new temperature each time, so every LLM step is stale and the
 * archive changes) on one shared cache: after each kill the archive is absent, the old one or the new one; the cache
 * verifies; a rerun completes and writes exactly what a never-killed run (on its own cache, run alongside) writes. */
static void test_kill9_at_random_moments(void **state)
{
	(void)state;
	char *dir = new_dir();
	char script[600], cache[600], refcache[600], work[600], archive[700], ref[600], err[600], referr[600];
	snprintf(script, sizeof(script), "%s/s.fountain", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(refcache, sizeof(refcache), "%s/refcache", dir);
	snprintf(work, sizeof(work), "%s/work", dir);
	snprintf(archive, sizeof(archive), "%s/s.analysis.tar.zst", work);
	snprintf(ref, sizeof(ref), "%s/ref.tar.zst", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	snprintf(referr, sizeof(referr), "%s/ref.stderr", dir);
	assert_int_equal(mkdir(work, 0755), 0);
	genscript(script, "60", NULL);
	struct fake f;
	const char *flags[] = {"--latency", LATENCIES, NULL};
	new_server(&f, dir, flags);
	use_fake(&f);

	uint64_t rng = KILL_SEED;
	char *old = NULL;
	size_t old_len = 0;
	double duration = 0;
	int killed = 0, left = 0, temps = 0;
	for (int i = 0; i < KILLS; i++) {
		char temperature[32];
		snprintf(temperature, sizeof(temperature), "all=%.2f", i * 0.05);
		char *clean[] = {(char *)sb(), "-q", "-j", "8", "--cache", refcache, "--temperature", temperature,
		                 "-o", ref, script, NULL};
		char *build[] = {(char *)sb(), "-q", "-j", "8", "--cache", cache, "--temperature", temperature,
		                 "-o", archive, script, NULL};
		pid_t clean_pid = -1;
		if (i == 0) {
			/* Alone, so that its length spreads the kill moments over a whole run. */
			struct timespec t0;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			assert_int_equal(run(dir, NULL, referr, clean, NULL), 0);
			duration = seconds_since(&t0);
		} else {
			clean_pid = spawn(dir, NULL, referr, clean, NULL);
		}
		double moment = next_uniform(&rng) * duration * 1.1;
		pid_t pid = spawn(dir, NULL, err, build, NULL);
		sleep_seconds(moment);
		kill(pid, SIGKILL);
		int status = reap(pid);
		killed += status == 128 + SIGKILL;
		if (status != 128 + SIGKILL && status != 0)
			fail_msg("kill %d: the run ended with %d before the kill", i, status);
		if (clean_pid > 0)
			assert_int_equal(reap(clean_pid), 0);
		size_t ref_len;
		char *want = slurp(ref, &ref_len);
		assert_non_null(want);

		size_t len;
		char *now = slurp(archive, &len);
		if (!now)
			assert_null(old);
		else if (!(old && len == old_len && !memcmp(now, old, len)) && !(len == ref_len && !memcmp(now, want, len)))
			fail_msg("kill %d at %.3f s: %s is neither the old archive nor the new one", i, moment, archive);
		free(now);
		int now_temps = temp_files_beside(work, "s.analysis.tar.zst");
		left += now_temps > temps;
		temps = now_temps;
		assert_cache_clean(dir, cache, NULL);

		if (run(dir, NULL, err, build, NULL) != 0) {
			char *text = slurp(err, NULL);
			fail_msg("kill %d: the rerun failed:\n%s", i, text ? text : "");
		}
		assert_same_file(archive, want, ref_len);
		/* The rerun removed whatever temporary file the killed writer left. */
		assert_int_equal(temp_files_beside(work, "s.analysis.tar.zst"), 0);
		free(old);
		old = want;
		old_len = ref_len;
	}
	assert_cache_clean(dir, cache, NULL);
	printf("%d of %d runs were killed mid-way; %d kills left a temporary .s.analysis.tar.zst.scriptbuild-tmp-XXXXXX behind, which "
	       "the next run removed (%d there now)\n", killed, KILLS, left, temps);
	assert_true(killed >= KILLS / 2);
	free(old);
}

static double stat_of(struct fake *f, const char *path)
{
	cJSON *s = fake_call(f, "GET", "/stats", NULL);
	assert_non_null(s);
	double v = json_number(s, path);
	cJSON_Delete(s);
	return v;
}

static const char *const kinds[] = {"summary", "outline", "sheet", "embedding"};

/* Two processes on one script and one cache at once, first cold to two paths, then after an edit to the same path:
 * both succeed, both archives equal a lone run's, no request kind is sent more than twice as often as alone, and
 * the cache kept both processes' results (a rerun sends no request). */
static void test_two_processes_share_a_cache(void **state)
{
	(void)state;
	char *dir = new_dir();
	char script[600], cache[600], refcache[600], ref[600], a[600], b[600], both[600], ea[600], eb[600];
	snprintf(script, sizeof(script), "%s/s.fountain", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(refcache, sizeof(refcache), "%s/refcache", dir);
	snprintf(ref, sizeof(ref), "%s/ref.tar.zst", dir);
	snprintf(a, sizeof(a), "%s/a.tar.zst", dir);
	snprintf(b, sizeof(b), "%s/b.tar.zst", dir);
	snprintf(both, sizeof(both), "%s/s.analysis.tar.zst", dir);
	snprintf(ea, sizeof(ea), "%s/a.err", dir);
	snprintf(eb, sizeof(eb), "%s/b.err", dir);
	genscript(script, "60", NULL);
	struct fake f;
	const char *flags[] = {"--latency", LATENCIES, NULL};
	new_server(&f, dir, flags);
	use_fake(&f);

	for (int round = 0; round < 2; round++) {
		if (round == 1)
			genscript(script, "60", "7");
		char *alone[] = {(char *)sb(), "-q", "-j", "8", "--cache", refcache, "-o", ref, script, NULL};
		cJSON_Delete(fake_call(&f, "POST", "/reset", "{}"));
		assert_int_equal(run(dir, NULL, ea, alone, NULL), 0);
		double clean[4];
		for (int k = 0; k < 4; k++) {
			char path[64];
			snprintf(path, sizeof(path), "by_kind.%s", kinds[k]);
			clean[k] = stat_of(&f, path);
		}
		size_t ref_len;
		char *want = slurp(ref, &ref_len);
		assert_non_null(want);

		/* Round 0 writes two paths; round 1 makes both rename onto the same one. */
		char *first[] = {(char *)sb(), "-q", "-j", "8", "--cache", cache, "-o", round ? both : a, script, NULL};
		char *second[] = {(char *)sb(), "-q", "-j", "8", "--cache", cache, "-o", round ? both : b, script, NULL};
		cJSON_Delete(fake_call(&f, "POST", "/reset", "{}"));
		pid_t pa = spawn(dir, NULL, ea, first, NULL), pb = spawn(dir, NULL, eb, second, NULL);
		int ra = reap(pa), rb = reap(pb);
		if (ra != 0 || rb != 0) {
			char *ta = slurp(ea, NULL), *tb = slurp(eb, NULL);
			fail_msg("round %d: exits %d and %d:\n%s\n%s", round, ra, rb, ta ? ta : "", tb ? tb : "");
		}
		assert_same_file(round ? both : a, want, ref_len);
		if (!round)
			assert_same_file(b, want, ref_len);
		for (int k = 0; k < 4; k++) {
			char path[64];
			snprintf(path, sizeof(path), "by_kind.%s", kinds[k]);
			double seen = stat_of(&f, path);
			if (seen > 2 * clean[k])
				fail_msg("round %d: %g %s requests for two processes, more than twice a lone run's %g", round, seen,
				         kinds[k], clean[k]);
		}
		assert_cache_clean(dir, cache, NULL);
		cJSON_Delete(fake_call(&f, "POST", "/reset", "{}"));
		assert_int_equal(run(dir, NULL, ea, first, NULL), 0);
		if (stat_of(&f, "requests.total") != 0)
			fail_msg("round %d: a rerun on the shared cache sent %g requests", round, stat_of(&f, "requests.total"));
		assert_same_file(round ? both : a, want, ref_len);
		free(want);
	}
}

/* Whether uid 65534 can run the binaries from where they are (a build under /root cannot be). */
static int nobody_can_run(void)
{
	if (geteuid() != 0)
		return 1;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		gid_t groups[1] = {NOBODY};
		if (setgroups(1, groups) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
			_exit(1);
		_exit(access(sb(), X_OK) == 0 && access(tool("tool_genscript"), X_OK) == 0 ? 0 : 1);
	}
	return reap(pid) == 0;
}

/* Gives path to uid 65534 when we are root (as root, permissions would not apply to our own children). */
static void hand_to_nobody(const char *path, int yes)
{
	if (geteuid() == 0)
		assert_int_equal(chown(path, yes ? NOBODY : 0, yes ? NOBODY : 0), 0);
	else
		assert_int_equal(chmod(path, yes ? 0755 : 0555), 0);
}

/* An archive directory the user cannot write: exit 1 naming the path, old archive untouched, no temporary file,
 * and the cache intact and holding the run's results (a rerun once the directory is writable runs nothing). */
static void test_archive_directory_not_writable(void **state)
{
	(void)state;
	if (!nobody_can_run()) {
		printf("note: uid %d cannot run %s from here; the unwritable-directory case was not run\n", NOBODY, sb());
		return;
	}
	char *dir = new_dir();
	char script[600], cache[600], out[600], archive[700], err[600], report[600];
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(script, sizeof(script), "%s/s.fountain", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(archive, sizeof(archive), "%s/s.analysis.tar.zst", out);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	snprintf(report, sizeof(report), "%s/report.json", dir);
	genscript(script, "20", NULL);
	assert_int_equal(mkdir(cache, 0700), 0);
	assert_int_equal(mkdir(out, 0755), 0);
	hand_to_nobody(cache, 1);
	hand_to_nobody(out, 1);
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");

	struct child_opts nobody = {1, 0};
	char *build[] = {(char *)sb(), "-q", "--llm", "builtin", "--embed", "builtin", "--cache", cache,
	                 "-o", archive, script, NULL};
	assert_int_equal(run(out, NULL, err, build, &nobody), 0);
	size_t old_len;
	char *old = slurp(archive, &old_len);
	assert_non_null(old);

	genscript(script, "20", "3");
	hand_to_nobody(out, 0);
	assert_int_equal(run(dir, NULL, err, build, &nobody), 1);
	assert_true(file_has(err, archive));
	assert_true(file_has(err, "Permission denied"));
	assert_same_file(archive, old, old_len);
	assert_int_equal(temp_files_beside(out, "s.analysis.tar.zst"), 0);
	assert_cache_clean(dir, cache, &nobody);

	/* The failed run's results were kept: with the directory writable again nothing needs to run. */
	hand_to_nobody(out, 1);
	char *again[] = {(char *)sb(), "-q", "--llm", "builtin", "--embed", "builtin", "--cache", cache,
	                 "--report", report, "-o", archive, script, NULL};
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(run(dir, NULL, err, again, &nobody), 0);
	cJSON *r = read_json(report);
	assert_non_null(r);
	for (int k = 0; k < 4; k++) {
		char path[64];
		snprintf(path, sizeof(path), "steps.%s.run", kinds[k]);
		assert_int_equal((int)json_number(r, path), 0);
	}
	cJSON_Delete(r);
	free(old);
}

/* A script whose title is long random words: the archive (which carries the title) is then several times the size
 * of the cache (which keeps only digests of it), so a file-size limit can sit between the two. */
static void write_long_title_script(const char *path, const char *edit)
{
	char body[600];
	snprintf(body, sizeof(body), "%s.body", path);
	genscript(body, "10", edit);
	char *text = slurp(body, NULL);
	assert_non_null(text);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("Title:", f);
	uint64_t rng = 7;
	for (int w = 0; w < 100000; w++) {
		fputc(' ', f);
		for (int c = 0; c < 8; c++)
			fputc('a' + (int)(next_uniform(&rng) * 26), f);
	}
	fputs(strchr(text, '\n'), f);
	assert_int_equal(fclose(f), 0);
	free(text);
	unlink(body);
}

static long file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (long)st.st_size;
}

/* RLIMIT_FSIZE below the archive's size (and above the cache's): exit 1 naming the archive, the old one untouched, no
 * temporary file left, the cache intact. */
static void test_archive_file_size_limit(void **state)
{
	(void)state;
	char *dir = new_dir();
	char script[600], cache[600], out[600], archive[700], err[600], mdb[700];
	snprintf(script, sizeof(script), "%s/s.fountain", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(archive, sizeof(archive), "%s/s.analysis.tar.zst", out);
	assert_int_equal(mkdir(out, 0755), 0);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	snprintf(mdb, sizeof(mdb), "%s/data.mdb", cache);
	struct fake f;
	new_server(&f, dir, NULL);
	use_fake(&f);
	write_long_title_script(script, NULL);
	char *build[] = {(char *)sb(), "-q", "--cache", cache, "-o", archive, script, NULL};
	assert_int_equal(run(dir, NULL, err, build, NULL), 0);
	size_t old_len;
	char *old = slurp(archive, &old_len);
	assert_non_null(old);
	long cache_bytes = file_size(mdb);
	if (cache_bytes * 2 > (long)old_len)
		fail_msg("the test's premise broke: the archive (%zu bytes) should be well above the cache (%ld bytes)",
		         old_len, cache_bytes);

	write_long_title_script(script, "4");
	struct child_opts limited = {0, (cache_bytes + (long)old_len) / 2};
	assert_int_equal(run(dir, NULL, err, build, &limited), 1);
	assert_true(file_has(err, archive));
	assert_true(file_has(err, "too large"));
	assert_same_file(archive, old, old_len);
	assert_int_equal(temp_files_beside(out, "s.analysis.tar.zst"), 0);
	assert_cache_clean(dir, cache, NULL);
	free(old);
}

/* Runs a build on cache and expects exit 2 (never a signal, never a sanitizer report) with a message that names the
 * cache and says what to do. */
static void assert_cache_refused(const char *dir, const char *cache, const char *what, const struct child_opts *co)
{
	char script[600], err[600];
	snprintf(script, sizeof(script), "%s/s.fountain", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	char *build[] = {(char *)sb(), "-q", "--llm", "builtin", "--embed", "builtin", "--cache", (char *)cache,
	                 "-o", "out.tar.zst", script, NULL};
	int rc = run(dir, NULL, err, build, co);
	char *text = slurp(err, NULL);
	if (rc != 2 || !text || !strstr(text, cache) || !strstr(text, "choose another cache directory (--cache DIR)") ||
	    strstr(text, "Sanitizer"))
		fail_msg("%s: exit %d (want 2, a message naming %s and what to do):\n%s", what, rc, cache,
		         text ? text : "");
	free(text);
	char *verify[] = {(char *)sb(), "-t", "verify", "--cache", (char *)cache, NULL};
	rc = run(dir, NULL, err, verify, co);
	text = slurp(err, NULL);
	if (rc != 2 || !text || !strstr(text, cache) || strstr(text, "Sanitizer"))
		fail_msg("%s: -t verify: exit %d (want 2 naming %s):\n%s", what, rc, cache, text ? text : "");
	free(text);
}

/* Copies a good cache to a fresh directory and damages its data.mdb with how(). */
static void damaged_copy(const char *good, const char *to, const char *shell)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r '%s' '%s' && cd '%s' && %s", to, good, to, to, shell);
	assert_int_equal(system(cmd), 0);
}

/* A foreign LMDB environment: valid, but another program's. */
static void foreign_lmdb(const char *to)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {3, "key"}, v = {5, "value"};
	assert_int_equal(mkdir(to, 0700), 0);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, to, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_cache_cannot_be_opened(void **state)
{
	(void)state;
	char *dir = new_dir();
	char script[600], good[600], bad[600];
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(script, sizeof(script), "%s/s.fountain", dir);
	snprintf(good, sizeof(good), "%s/good", dir);
	snprintf(bad, sizeof(bad), "%s/bad", dir);
	genscript(script, "20", NULL);
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
	char *build[] = {(char *)sb(), "-q", "--llm", "builtin", "--embed", "builtin", "--cache", good,
	                 "-o", "out.tar.zst", script, NULL};
	assert_int_equal(run(dir, NULL, NULL, build, NULL), 0);

	assert_int_equal(spit(bad, "not a directory\n", 16), 0);
	assert_cache_refused(dir, bad, "a regular file", NULL);
	char below[700];
	snprintf(below, sizeof(below), "%s/sub", bad);
	assert_cache_refused(dir, below, "below a regular file", NULL);
	unlink(bad);

	static const struct {
		const char *what, *shell;
	} damage[] = {
		{"text, not LMDB", "yes 'not an LMDB file' | head -c 100000 > data.mdb"},
		{"zeroed meta pages", "dd if=/dev/zero of=data.mdb bs=4096 count=2 conv=notrunc 2>/dev/null"},
		{"cut to half", "truncate -s $(( $(stat -c %s data.mdb) / 2 )) data.mdb"},
		{"cut inside the meta pages", "truncate -s 5000 data.mdb"},
		{"one byte short", "truncate -s $(( $(stat -c %s data.mdb) - 1 )) data.mdb"},
		{"a directory named data.mdb", "rm data.mdb && mkdir data.mdb"},
		{"zeros over every data page", "dd if=/dev/zero of=data.mdb bs=4096 seek=2 "
		                                      "count=$(( $(stat -c %s data.mdb) / 4096 - 2 )) conv=notrunc 2>/dev/null"},
	};
	for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		damaged_copy(good, bad, damage[i].shell);
		assert_cache_refused(dir, bad, damage[i].what, NULL);
	}
	remove_tree(bad);
	foreign_lmdb(bad);
	assert_cache_refused(dir, bad, "another program's LMDB file", NULL);
	remove_tree(bad);

	if (nobody_can_run()) {
		/* A directory the user may not enter: root's 0700 one for uid 65534, or mode 0 for ourselves. */
		struct child_opts nobody = {1, 0};
		damaged_copy(good, bad, "true");
		if (geteuid() != 0)
			assert_int_equal(chmod(bad, 0), 0);
		assert_cache_refused(dir, bad, "permission denied", &nobody);
		/* Then only data.mdb unreadable: the lock file is open to all, so it is data.mdb that is refused. */
		char path[700], lock[700];
		snprintf(path, sizeof(path), "%s/data.mdb", bad);
		snprintf(lock, sizeof(lock), "%s/lock.mdb", bad);
		assert_int_equal(chmod(bad, 0755), 0);
		assert_int_equal(chmod(lock, 0666), 0);
		snprintf(lock, sizeof(lock), "%s/use.lock", bad);
		assert_int_equal(chmod(lock, 0666), 0);
		assert_int_equal(chmod(path, geteuid() == 0 ? 0600 : 0), 0);
		assert_cache_refused(dir, bad, "data.mdb not readable", &nobody);
	} else {
		printf("note: uid %d cannot run %s from here; the permission cases were not run\n", NOBODY, sb());
	}
	/* The good cache was never touched by all this. */
	assert_cache_clean(dir, good, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill9_at_random_moments, clean_up),
		cmocka_unit_test_teardown(test_two_processes_share_a_cache, clean_up),
		cmocka_unit_test_teardown(test_archive_directory_not_writable, clean_up),
		cmocka_unit_test_teardown(test_archive_file_size_limit, clean_up),
		cmocka_unit_test_teardown(test_cache_cannot_be_opened, clean_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
