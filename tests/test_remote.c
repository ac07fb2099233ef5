/* test_remote.c - the remote cache against a real nginx with WebDAV PUT: machine A pays for every answer once and
 * uploads it; machine B (other cache, no keys, --frozen) builds the byte-identical archive with 0 API requests and
 * only remote hits; -n says what the remote will answer; a server killed mid-run costs one warning, never the build;
 * tampered blobs and invalid results are refused and recomputed; read-only mode never PUTs; credentials reach the
 * server and nothing else. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fakeserver.h"
#include "nginx.h"

#define TOKEN "rc-token-7f3a91d2c4e8b605-SECRET"
#define PASSWORD "pw-0c5e2b7a99d14f38-SECRET"

static const char *const secrets[] = {TOKEN, PASSWORD, "7f3a91d2c4e8b605", "0c5e2b7a99d14f38"};
enum { SECRETS = sizeof(secrets) / sizeof(secrets[0]) };

/* One machine: its own directory, cache, report and outputs. */
struct machine {
	char dir[600], cache[700], report[700], out[700], err[700], archive[700];
};

static void machine_init(struct machine *m, const char *top, const char *name)
{
	snprintf(m->dir, sizeof(m->dir), "%s/%s", top, name);
	assert_int_equal(mkdir(m->dir, 0700), 0);
	snprintf(m->cache, sizeof(m->cache), "%s/cache", m->dir);
	snprintf(m->report, sizeof(m->report), "%s/report.json", m->dir);
	snprintf(m->out, sizeof(m->out), "%s/stdout", m->dir);
	snprintf(m->err, sizeof(m->err), "%s/stderr", m->dir);
	snprintf(m->archive, sizeof(m->archive), "%s/play.analysis.tar.zst", m->dir);
}

static int build(struct machine *m, ...)
{
	va_list ap;
	va_start(ap, m);
	int rc = run_scriptbuild(m->dir, m->out, m->err, m->cache, m->report, ap);
	va_end(ap);
	return rc;
}

static double count(const struct machine *m, const char *path)
{
	cJSON *r = read_json(m->report);
	assert_non_null(r);
	double v = json_number(r, path);
	cJSON_Delete(r);
	return v;
}

static double total_steps(const struct machine *m, const char *field)
{
	static const char *const kinds[] = {"summary", "outline", "sheet", "embedding"};
	double sum = 0;
	for (int k = 0; k < 4; k++) {
		char path[64];
		snprintf(path, sizeof(path), "steps.%s.%s", kinds[k], field);
		sum += count(m, path);
	}
	return sum;
}

static void genscript(const char *path, int scenes)
{
	char n[16];
	snprintf(n, sizeof(n), "%d", scenes);
	char *argv[] = {tool("tool_genscript"), "--scenes", n, "--characters", "4", "--seed", "11", NULL};
	assert_int_equal(run_in(NULL, path, NULL, argv), 0);
}

static void start_nginx(struct nginx *n, const char *dir)
{
	if (nginx_start(n, dir) != 0) {
		char log[600];
		snprintf(log, sizeof(log), "%s/error.log", dir);
		char *text = slurp(log, NULL);
		fail_msg("nginx did not start (make deps installs it): %s", text ? text : "no error log");
	}
	keep_pid(n->pid);
}

/* Lines of path containing needle. */
static int lines_with(const char *path, const char *needle)
{
	char *text = slurp(path, NULL);
	int n = 0;
	for (char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(text);
	return n;
}

static void assert_same_file(const char *a, const char *b)
{
	size_t la, lb;
	char *x = slurp(a, &la), *y = slurp(b, &lb);
	assert_non_null(x);
	assert_non_null(y);
	assert_int_equal(la, lb);
	assert_memory_equal(x, y, la);
	free(x);
	free(y);
}

/* -t verify and tool_cachecheck both find the cache holding only valid entries. */
static void assert_cache_clean(const struct machine *m)
{
	char *verify[] = {(char *)sb(), "--cache", (char *)m->cache, "-t", "verify", NULL};
	assert_int_equal(run_in(m->dir, m->out, m->err, verify), 0);
	char *check[] = {tool("tool_cachecheck"), (char *)m->cache, NULL};
	assert_int_equal(run_in(m->dir, m->out, m->err, check), 0);
}

static double fake_requests(struct fake *f)
{
	cJSON *s = fake_call(f, "GET", "/stats", NULL);
	assert_non_null(s);
	double n = json_number(s, "requests.total");
	cJSON_Delete(s);
	return n;
}

static void use_fake_api(struct fake *f, int keys)
{
	setenv("ANTHROPIC_BASE_URL", f->base, 1);
	setenv("OPENAI_BASE_URL", f->openai_base, 1);
	if (keys) {
		setenv("ANTHROPIC_API_KEY", "sk-ant-remote-test", 1);
		setenv("OPENAI_API_KEY", "sk-openai-remote-test", 1);
	} else {
		unsetenv("ANTHROPIC_API_KEY");
		unsetenv("OPENAI_API_KEY");
	}
}

/* The builtin analyser on every machine: no key, no API server. */
static void use_builtin(void)
{
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("ANTHROPIC_BASE_URL");
	unsetenv("OPENAI_BASE_URL");
}

static void test_machine_b_builds_from_the_remote_alone(void **state)
{
	(void)state;
	char *top = new_dir(), *ngdir = new_dir();
	struct fake api;
	struct nginx ng;
	struct machine a, b, c;
	new_server(&api, top, NULL);
	start_nginx(&ng, ngdir);
	machine_init(&a, top, "a");
	machine_init(&b, top, "b");
	machine_init(&c, top, "c");
	char script[700];
	snprintf(script, sizeof(script), "%s/play.fountain", top);
	genscript(script, 12);

	use_fake_api(&api, 1);
	assert_int_equal(build(&a, "--llm", "anthropic", "--embed", "openai", "--remote-cache", ng.url, script, NULL), 0);
	double steps = total_steps(&a, "total");
	assert_true(steps > 12);
	assert_int_equal((int)total_steps(&a, "run"), (int)steps);
	assert_true(fake_requests(&api) > 0);
	assert_int_equal((int)count(&a, "remote.misses"), (int)steps);
	assert_int_equal((int)count(&a, "remote.uploads"), (int)steps);
	assert_int_equal((int)count(&a, "remote.errors"), 0);
	assert_true(count(&a, "remote.bytes_up") > 1000);
	/* Blob first, then the entry naming it: one of each per step, and every entry names a stored blob. */
	assert_int_equal(nginx_requests(&ng, "PUT", "/cas/"), (int)steps);
	assert_int_equal(nginx_requests(&ng, "PUT", "/ac/"), (int)steps);
	assert_int_equal(nginx_requests(&ng, "PUT", " 201 "), 2 * (int)steps);
	/* Every blob is named by its real SHA-256, as another implementation (here the openssl tool) computes it. */
	char check[4600];
	snprintf(check, sizeof(check), "cd '%s/cas' && n=0 && for f in *; do [ \"$(openssl dgst -sha256 -r \"$f\" | "
	         "cut -c1-64)\" = \"$f\" ] || exit 1; n=$((n+1)); done && [ $n -eq %d ]", ng.store, (int)steps);
	assert_int_equal(system(check), 0);

	/* -n on a machine with an empty cache: every step is stale here, and the remote will answer each of them. */
	cJSON_Delete(fake_call(&api, "POST", "/reset", "{}"));
	use_fake_api(&api, 0);
	assert_int_equal(build(&c, "-n", "--llm", "anthropic", "--embed", "openai", "--remote-cache", ng.url, script,
	                       NULL), 0);
	assert_int_equal(lines_with(c.out, "the remote cache has it"), (int)steps);
	char line[96];
	snprintf(line, sizeof(line), "\n0 stale steps (and %d more the remote cache will answer)\n", (int)steps);
	assert_int_equal(lines_with(c.out, line), 1);
	char stats_out[800];
	snprintf(stats_out, sizeof(stats_out), "%s/stats", c.dir);
	char *stats[] = {(char *)sb(), "--cache", c.cache, "-t", "stats", NULL};
	assert_int_equal(run_in(c.dir, stats_out, NULL, stats), 0);
	assert_int_equal(lines_with(stats_out, "actions        0\n"), 1);

	/* Machine B: no keys, --frozen, another cache: everything comes from the remote, nothing from the API. */
	int puts_before = nginx_requests(&ng, "PUT", NULL);
	assert_int_equal(build(&b, "--frozen", "--llm", "anthropic", "--embed", "openai", "--remote-cache", ng.url,
	                       script, NULL), 0);
	assert_int_equal((int)fake_requests(&api), 0);
	assert_int_equal((int)total_steps(&b, "cached"), (int)steps);
	assert_int_equal((int)total_steps(&b, "remote"), (int)steps);
	assert_int_equal((int)count(&b, "remote.hits"), (int)steps);
	assert_int_equal((int)count(&b, "remote.misses"), 0);
	assert_int_equal((int)count(&b, "remote.uploads"), 0);
	assert_int_equal(nginx_requests(&ng, "PUT", NULL), puts_before);
	assert_same_file(a.archive, b.archive);
	assert_cache_clean(&b);

	/* The hits entered B's local cache: the next run asks the remote nothing. */
	int gets_before = nginx_requests(&ng, "GET", NULL);
	assert_int_equal(build(&b, "--frozen", "--llm", "anthropic", "--embed", "openai", "--remote-cache", ng.url,
	                       script, NULL), 0);
	assert_int_equal((int)count(&b, "remote.hits"), 0);
	assert_int_equal(nginx_requests(&ng, "GET", NULL), gets_before);
	assert_same_file(a.archive, b.archive);
	char *bstats[] = {(char *)sb(), "--cache", b.cache, "-t", "stats", NULL};
	assert_int_equal(run_in(b.dir, stats_out, NULL, bstats), 0);
	char want[64];
	snprintf(want, sizeof(want), "remote hits    %d\n", (int)steps);
	assert_int_equal(lines_with(stats_out, want), 1);
}

static void test_server_killed_mid_run(void **state)
{
	(void)state;
	char *top = new_dir(), *ngdir = new_dir();
	struct fake api;
	struct nginx ng;
	struct machine a, ref;
	const char *flags[] = {"--latency", "summary=120,outline=120,sheet=120,embedding=60", NULL};
	new_server(&api, top, flags);
	start_nginx(&ng, ngdir);
	machine_init(&a, top, "a");
	machine_init(&ref, top, "ref");
	char script[700];
	snprintf(script, sizeof(script), "%s/play.fountain", top);
	genscript(script, 12);
	use_fake_api(&api, 1);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = {(char *)sb(), "--cache", a.cache, "--report", a.report, "-j2", "--llm", "anthropic",
		                "--embed", "openai", "--remote-cache", ng.url, script, NULL};
		int out = open(a.out, O_WRONLY | O_CREAT | O_TRUNC, 0644), err = open(a.err, O_WRONLY | O_CREAT | O_TRUNC,
		                                                                         0644);
		if (chdir(a.dir) != 0 || out < 0 || err < 0)
			_exit(127);
		dup2(out, 1);
		dup2(err, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	/* The first upload landed: the run is under way, most steps still ahead. */
	for (int i = 0; i < 1000 && nginx_requests(&ng, "PUT", "/ac/") == 0; i++) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_true(nginx_requests(&ng, "PUT", "/ac/") > 0);
	nginx_kill(&ng);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	double steps = total_steps(&a, "total");
	assert_int_equal((int)total_steps(&a, "run"), (int)steps);
	assert_true(nginx_requests(&ng, "PUT", "/ac/") < (int)steps);
	assert_true(count(&a, "remote.errors") >= 1);
	assert_int_equal(lines_with(a.err, "warning:"), 1);
	assert_int_equal(lines_with(a.err, "warning: remote cache"), 1);
	/* The archive is what a run without any remote writes. */
	assert_int_equal(build(&ref, "--llm", "anthropic", "--embed", "openai", script, NULL), 0);
	assert_same_file(a.archive, ref.archive);
	assert_cache_clean(&a);
}

/* The action entry and blob of the first summary nginx stores (a blob with "mood" and "goal" in it). */
static void find_summary_entry(const struct nginx *ng, char *ac_path, size_t aclen)
{
	char dir[4300];
	snprintf(dir, sizeof(dir), "%s/ac", ng->store);
	DIR *d = opendir(dir);
	assert_non_null(d);
	ac_path[0] = '\0';
	for (struct dirent *e; !ac_path[0] && (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		char path[4600], blob[4600];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		cJSON *ac = read_json(path);
		const cJSON *files = cJSON_GetObjectItemCaseSensitive(ac, "outputFiles");
		const cJSON *digest = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(files, 0), "digest");
		const cJSON *hash = cJSON_GetObjectItemCaseSensitive(digest, "hash");
		assert_true(cJSON_IsString(hash));
		snprintf(blob, sizeof(blob), "%s/cas/%s", ng->store, hash->valuestring);
		char *text = slurp(blob, NULL);
		if (text && strstr(text, "\"mood\"") && strstr(text, "\"goal\""))
			snprintf(ac_path, aclen, "%s", path);
		free(text);
		cJSON_Delete(ac);
	}
	closedir(d);
	assert_true(ac_path[0] != '\0');
}

static char *blob_path_of(const struct nginx *ng, const char *ac_path)
{
	cJSON *ac = read_json(ac_path);
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(ac, "outputFiles");
	const cJSON *digest = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(files, 0), "digest");
	char *path = malloc(4400);
	snprintf(path, 4400, "%s/cas/%s", ng->store,
	         cJSON_GetObjectItemCaseSensitive(digest, "hash")->valuestring);
	cJSON_Delete(ac);
	return path;
}

static void test_tampered_and_invalid_entries_are_refused(void **state)
{
	(void)state;
	use_builtin();
	char *top = new_dir(), *ngdir = new_dir();
	struct nginx ng;
	struct machine a, b, c;
	start_nginx(&ng, ngdir);
	machine_init(&a, top, "a");
	machine_init(&b, top, "b");
	machine_init(&c, top, "c");
	char script[700];
	snprintf(script, sizeof(script), "%s/play.fountain", top);
	genscript(script, 8);
	assert_int_equal(build(&a, "--remote-cache", ng.url, script, NULL), 0);
	double steps = total_steps(&a, "total");

	/* A blob changed on the server's disk, same length: its SHA-256 is no longer its name. */
	char ac_path[4600];
	find_summary_entry(&ng, ac_path, sizeof(ac_path));
	char *blob = blob_path_of(&ng, ac_path);
	size_t len;
	char *data = slurp(blob, &len);
	assert_non_null(data);
	char *mood = strstr(data, "\"mood\"");
	assert_non_null(mood);
	mood[1] = 'M';
	assert_int_equal(spit(blob, data, len), 0);
	free(data);
	assert_int_equal(build(&b, "--remote-cache", ng.url, script, NULL), 0);
	assert_int_equal((int)count(&b, "remote.refused"), 1);
	assert_int_equal((int)count(&b, "remote.hits"), (int)steps - 1);
	assert_int_equal((int)total_steps(&b, "run"), 1);
	assert_int_equal(lines_with(b.err, "warning: remote cache"), 1);
	assert_same_file(a.archive, b.archive);
	assert_cache_clean(&b);

	/* An entry naming a blob whose hash is right but whose content is no valid summary: refused by validation. */
	const char *bad = "{\"summary\":\"\",\"goal\":1}";
	char hex[65];
	{
		/* The name nginx must give it: sha256 of the bytes, computed by the openssl tool, not by the product. */
		char cmd[2000], out[800];
		snprintf(out, sizeof(out), "%s/bad.json", top);
		assert_int_equal(spit(out, bad, strlen(bad)), 0);
		snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -r '%s' > '%s.hash'", out, out);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "%s.hash", out);
		char *h = slurp(cmd, NULL);
		assert_non_null(h);
		memcpy(hex, h, 64);
		hex[64] = '\0';
		free(h);
	}
	char bad_blob[4400], ac_text[600];
	snprintf(bad_blob, sizeof(bad_blob), "%s/cas/%s", ng.store, hex);
	assert_int_equal(spit(bad_blob, bad, strlen(bad)), 0);
	snprintf(ac_text, sizeof(ac_text), "{\"outputFiles\":[{\"path\":\"result.json\",\"digest\":{\"hash\":\"%s\","
	         "\"sizeBytes\":\"%zu\"}}],\"exitCode\":0}", hex, strlen(bad));
	assert_int_equal(spit(ac_path, ac_text, strlen(ac_text)), 0);
	assert_int_equal(build(&c, "--remote-cache", ng.url, script, NULL), 0);
	assert_int_equal((int)count(&c, "remote.refused"), 1);
	assert_int_equal((int)total_steps(&c, "run"), 1);
	assert_int_equal(lines_with(c.err, "warning: remote cache"), 1);
	assert_same_file(a.archive, c.archive);
	assert_cache_clean(&c);
	free(blob);
}

static void test_read_only_never_puts(void **state)
{
	(void)state;
	use_builtin();
	char *top = new_dir(), *ngdir = new_dir();
	struct nginx ng;
	struct machine a;
	start_nginx(&ng, ngdir);
	machine_init(&a, top, "a");
	char script[700];
	snprintf(script, sizeof(script), "%s/play.fountain", top);
	genscript(script, 6);
	assert_int_equal(build(&a, "--remote-cache", ng.url, "--remote-cache-mode", "read-only", script, NULL), 0);
	double steps = total_steps(&a, "total");
	assert_int_equal((int)count(&a, "remote.misses"), (int)steps);
	assert_int_equal(nginx_requests(&ng, "GET", "/ac/"), (int)steps);
	assert_int_equal(nginx_requests(&ng, "PUT", NULL), 0);
	assert_int_equal((int)count(&a, "remote.uploads"), 0);
	assert_int_equal(build(&a, "--remote-cache", ng.url, "--remote-cache-mode", "read-write-ish", script, NULL), 2);
}

/* Fails naming the file where a secret shows up. */
static void assert_no_secret_below(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char path[1024];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(lstat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			assert_no_secret_below(path);
			continue;
		}
		size_t len;
		char *data = slurp(path, &len);
		for (int k = 0; data && k < SECRETS; k++)
			for (size_t i = 0; i + strlen(secrets[k]) <= len; i++)
				if (memcmp(data + i, secrets[k], strlen(secrets[k])) == 0)
					fail_msg("\"%s\" leaked into %s", secrets[k], path);
		free(data);
	}
	closedir(d);
}

static void test_credentials_reach_the_server_and_nothing_else(void **state)
{
	(void)state;
	use_builtin();
	char *top = new_dir(), *ngdir = new_dir();
	struct nginx ng;
	struct machine a, b, dead;
	start_nginx(&ng, ngdir);
	machine_init(&a, top, "a");
	machine_init(&b, top, "b");
	machine_init(&dead, top, "dead");
	char script[700];
	snprintf(script, sizeof(script), "%s/play.fountain", top);
	genscript(script, 6);

	setenv("SCRIPTBUILD_REMOTE_CACHE_TOKEN", TOKEN, 1);
	setenv("SCRIPTBUILD_REMOTE_CACHE", ng.url, 1);
	assert_int_equal(build(&a, "-v", script, NULL), 0);
	unsetenv("SCRIPTBUILD_REMOTE_CACHE_TOKEN");
	unsetenv("SCRIPTBUILD_REMOTE_CACHE");
	int requests = nginx_requests(&ng, "GET", NULL) + nginx_requests(&ng, "PUT", NULL);
	assert_true(requests > 0);
	assert_int_equal(nginx_requests(&ng, "GET", "\"Bearer " TOKEN "\"") + nginx_requests(&ng, "PUT", "\"Bearer " TOKEN
	                 "\""), requests);

	/* user:password in the URL: basic auth reaches the server; a dead server's warning names it without them. */
	char url[300];
	snprintf(url, sizeof(url), "http://builder:%s@127.0.0.1:%d/", PASSWORD, ng.port);
	assert_int_equal(build(&b, "-v", "--remote-cache", url, script, NULL), 0);
	assert_true(nginx_requests(&ng, "GET", "\"builder\"") > 0);
	assert_int_equal((int)count(&b, "remote.hits"), (int)total_steps(&b, "total"));
	nginx_kill(&ng);
	assert_int_equal(build(&dead, "-v", "--remote-cache", url, script, NULL), 0);
	assert_int_equal(lines_with(dead.err, "warning: remote cache http://127.0.0.1:"), 1);
	assert_true(count(&dead, "remote.errors") >= 1);
	assert_no_secret_below(top);
}

/* The project file names the remote cache (and its mode) for every machine of the repository; the flag beats the
 * environment, which beats the file; the file never holds credentials. */
static void test_project_file_names_the_remote(void **state)
{
	(void)state;
	use_builtin();
	char *top = new_dir(), *ngdir = new_dir();
	struct nginx ng;
	struct machine a, b, c, d;
	start_nginx(&ng, ngdir);
	machine_init(&a, top, "a");
	machine_init(&b, top, "b");
	machine_init(&c, top, "c");
	machine_init(&d, top, "d");
	char script[700], project[700], text[1200];
	snprintf(script, sizeof(script), "%s/play.fountain", top);
	snprintf(project, sizeof(project), "%s/scriptbuild.json", top);
	genscript(script, 6);

	/* URL and mode from the file: lookups, no PUT. */
	snprintf(text, sizeof(text), "{\"remote_cache\": \"%s\", \"remote_cache_mode\": \"read-only\"}", ng.url);
	assert_int_equal(spit(project, text, strlen(text)), 0);
	assert_int_equal(build(&a, script, NULL), 0);
	double steps = total_steps(&a, "total");
	assert_int_equal((int)count(&a, "remote.misses"), (int)steps);
	assert_int_equal(nginx_requests(&ng, "GET", "/ac/"), (int)steps);
	assert_int_equal(nginx_requests(&ng, "PUT", NULL), 0);
	/* The flag's mode beats the file's. */
	assert_int_equal(build(&b, "--remote-cache-mode", "read-write", script, NULL), 0);
	assert_int_equal((int)count(&b, "remote.uploads"), (int)steps);
	assert_int_equal(nginx_requests(&ng, "PUT", "/ac/"), (int)steps);
	/* The environment beats the file: a dead server there, one warning, no hit from the live one in the file. */
	setenv("SCRIPTBUILD_REMOTE_CACHE", "http://127.0.0.1:1/", 1);
	assert_int_equal(build(&c, script, NULL), 0);
	assert_int_equal((int)count(&c, "remote.hits"), 0);
	assert_true(count(&c, "remote.errors") >= 1);
	assert_int_equal(lines_with(c.err, "warning: remote cache http://127.0.0.1:1"), 1);
	/* The flag beats the environment. */
	assert_int_equal(build(&d, "--remote-cache", ng.url, script, NULL), 0);
	unsetenv("SCRIPTBUILD_REMOTE_CACHE");
	assert_int_equal((int)count(&d, "remote.hits"), (int)steps);
	assert_same_file(b.archive, d.archive);

	/* A file holding user:password is refused before anything runs, naming the file but not the password. */
	int gets = nginx_requests(&ng, "GET", NULL);
	snprintf(text, sizeof(text), "{\"remote_cache\": \"http://builder:%s@127.0.0.1:%d/\"}", PASSWORD, ng.port);
	assert_int_equal(spit(project, text, strlen(text)), 0);
	assert_int_equal(build(&d, script, NULL), 2);
	assert_int_equal(lines_with(d.err, "scriptbuild.json: \"remote_cache\" holds credentials"), 1);
	assert_int_equal(lines_with(d.err, "SCRIPTBUILD_REMOTE_CACHE_TOKEN"), 1);
	assert_int_equal(lines_with(d.err, PASSWORD), 0);
	assert_int_equal(nginx_requests(&ng, "GET", NULL), gets);
	/* So is a mode that is neither. */
	snprintf(text, sizeof(text), "{\"remote_cache\": \"%s\", \"remote_cache_mode\": \"write-only\"}", ng.url);
	assert_int_equal(spit(project, text, strlen(text)), 0);
	assert_int_equal(build(&d, script, NULL), 2);
	assert_int_equal(lines_with(d.err, "\"remote_cache_mode\" must be"), 1);
}

/* Uploads that cannot finish get a bounded time at exit, then are dropped with a count: the build's own results (the
 * local cache, the archive) are complete regardless. The server stalls every PUT (a proxy that stops forwarding once
 * it sees one), and the drain time is shortened to 1 s through SCRIPTBUILD_REMOTE_DRAIN_SECONDS. */
static void test_stalled_uploads_are_dropped_at_exit(void **state)
{
	(void)state;
	use_builtin();
	char *top = new_dir(), *ngdir = new_dir(), *pxdir = new_dir();
	struct nginx ng;
	struct machine a, ref;
	start_nginx(&ng, ngdir);
	machine_init(&a, top, "a");
	machine_init(&ref, top, "ref");
	char script[700], port_file[700], url[64];
	snprintf(script, sizeof(script), "%s/play.fountain", top);
	snprintf(port_file, sizeof(port_file), "%s/port", pxdir);
	genscript(script, 6);
	pid_t proxy = fork();
	assert_true(proxy >= 0);
	if (proxy == 0) {
		execl(tool("tool_stallproxy"), "tool_stallproxy", ng.socket, port_file, "PUT ", (char *)NULL);
		_exit(127);
	}
	keep_pid(proxy);
	char *port = NULL;
	for (int i = 0; i < 500 && !(port = slurp(port_file, NULL)); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_non_null(port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", atoi(port));
	free(port);

	setenv("SCRIPTBUILD_REMOTE_DRAIN_SECONDS", "1", 1);
	assert_int_equal(build(&a, "--remote-cache", url, script, NULL), 0);
	double steps = total_steps(&a, "total");
	/* Every lookup went through (misses), no upload finished, and all of them were dropped and counted. */
	assert_int_equal((int)count(&a, "remote.misses"), (int)steps);
	assert_int_equal((int)count(&a, "remote.uploads"), 0);
	assert_int_equal((int)count(&a, "remote.dropped"), (int)steps);
	char line[160];
	snprintf(line, sizeof(line), ": %d uploads still pending after 1 s were dropped\n", (int)steps);
	assert_int_equal(lines_with(a.err, line), 1);
	assert_true(nginx_requests(&ng, "GET", "/ac/") == (int)steps);
	/* The build's own results are whole: the archive a run without a remote writes, a clean cache that answers
	 * the next run alone. */
	assert_int_equal(build(&ref, script, NULL), 0);
	assert_same_file(a.archive, ref.archive);
	assert_cache_clean(&a);
	unsetenv("SCRIPTBUILD_REMOTE_DRAIN_SECONDS");
	assert_int_equal(build(&a, script, NULL), 0);
	assert_int_equal((int)total_steps(&a, "cached"), (int)steps);
	/* A drain time that is no number of seconds is refused before anything runs. */
	setenv("SCRIPTBUILD_REMOTE_DRAIN_SECONDS", "soon", 1);
	assert_int_equal(build(&a, "--remote-cache", url, script, NULL), 2);
	unsetenv("SCRIPTBUILD_REMOTE_DRAIN_SECONDS");
	assert_int_equal(lines_with(a.err, "SCRIPTBUILD_REMOTE_DRAIN_SECONDS=soon"), 1);
}

int main(void)
{
	unsetenv("SCRIPTBUILD_REMOTE_CACHE");
	unsetenv("SCRIPTBUILD_REMOTE_CACHE_TOKEN");
	unsetenv("SCRIPTBUILD_REMOTE_DRAIN_SECONDS");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_machine_b_builds_from_the_remote_alone, clean_up),
		cmocka_unit_test_teardown(test_server_killed_mid_run, clean_up),
		cmocka_unit_test_teardown(test_tampered_and_invalid_entries_are_refused, clean_up),
		cmocka_unit_test_teardown(test_read_only_never_puts, clean_up),
		cmocka_unit_test_teardown(test_credentials_reach_the_server_and_nothing_else, clean_up),
		cmocka_unit_test_teardown(test_project_file_names_the_remote, clean_up),
		cmocka_unit_test_teardown(test_stalled_uploads_are_dropped_at_exit, clean_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
