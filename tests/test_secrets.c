/* test_secrets.c - API keys never leave the environment (cold, failing, verbose and dry builds, both LLM providers:
 * no key in the cache, archive, report, stdout or stderr), and TLS certificate verification cannot be avoided (a
 * self-signed server on loopback fails every step with a certificate error; no option or stray variable turns it
 * off). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fakeserver.h"

#define ANTHROPIC_KEY "sk-ant-api03-SECRET-3b9d71c0a5e24f86-AA"
#define OPENAI_KEY "sk-proj-SECRET-e81f55c2d0a94b37-BB"

/* The keys and distinctive pieces of them, so that a key printed half or shortened is caught too. */
static const char *const forbidden[] = {ANTHROPIC_KEY, OPENAI_KEY, "3b9d71c0a5e2", "e81f55c2d0a9", "SECRET-"};
enum { FORBIDDEN = sizeof(forbidden) / sizeof(forbidden[0]) };

static void genscript(const char *path, const char *edit)
{
	char *argv[] = {tool("tool_genscript"), "--scenes", "8", "--characters", "3", "--seed", "5", edit ? "--edit" : NULL, (char *)edit,
	                NULL};
	assert_int_equal(run_in(NULL, path, NULL, argv), 0);
}

/* Fails naming the file and the piece of a key found in it. */
static void assert_no_key_in_file(const char *path)
{
	size_t len;
	char *data = slurp(path, &len);
	if (!data)
		return;
	for (int k = 0; k < FORBIDDEN; k++) {
		size_t n = strlen(forbidden[k]);
		for (size_t i = 0; i + n <= len; i++)
			if (memcmp(data + i, forbidden[k], n) == 0) {
				size_t from = i > 60 ? i - 60 : 0;
				fail_msg("\"%s\" leaked into %s: ...%.*s...", forbidden[k], path, (int)(len - from < 160 ? len - from
				         : 160), data + from);
			}
	}
	free(data);
}

/* Every regular file below dir, however deep (the cache's data.mdb and lock.mdb, archives, reports, outputs). */
static int assert_no_key_below(const char *dir)
{
	DIR *d = opendir(dir);
	int files = 0;
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char path[1024];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(lstat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			files += assert_no_key_below(path);
		} else if (S_ISREG(st.st_mode)) {
			assert_no_key_in_file(path);
			files++;
		}
	}
	closedir(d);
	return files;
}

struct mode {
	const char *name;
	int server;               /* which server: see test_keys_never_leak */
	const char *llm;
	const char *flags[6];
	int exit;
	const char *says;         /* with exit 1: stderr says this (default: "401") */
};

/* Runs one build in a fresh directory of its own (cold cache), then searches everything it wrote. */
static void run_mode(const char *top, const struct mode *m, const struct fake *servers, const char *script)
{
	char dir[600], cache[700], report[700], out[700], err[700], archive[700];
	snprintf(dir, sizeof(dir), "%s/%s", top, m->name);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(report, sizeof(report), "%s/report.json", dir);
	snprintf(out, sizeof(out), "%s/stdout", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	snprintf(archive, sizeof(archive), "%s/s.analysis.tar.zst", dir);
	setenv("ANTHROPIC_BASE_URL", servers[m->server].base, 1);
	setenv("OPENAI_BASE_URL", servers[m->server].openai_base, 1);
	char *argv[24];
	int n = 0;
	argv[n++] = (char *)sb();
	argv[n++] = "--cache";
	argv[n++] = cache;
	argv[n++] = "--report";
	argv[n++] = report;
	argv[n++] = "-o";
	argv[n++] = archive;
	argv[n++] = "--llm";
	argv[n++] = (char *)m->llm;
	argv[n++] = "--embed";
	argv[n++] = "openai";
	for (int i = 0; m->flags[i]; i++)
		argv[n++] = (char *)m->flags[i];
	argv[n++] = (char *)script;
	argv[n] = NULL;
	int rc = run_in(dir, out, err, argv);
	if (rc != m->exit) {
		char *text = slurp(err, NULL);
		fail_msg("%s: exit %d, want %d:\n%s", m->name, rc, m->exit, text ? text : "");
	}
	if (m->exit == 1) {
		char *text = slurp(err, NULL);
		if (!strstr(text, m->says ? m->says : "401"))
			fail_msg("%s: stderr does not say %s:\n%s", m->name, m->says ? m->says : "401", text);
		free(text);
	}
	assert_true(assert_no_key_below(dir) >= 3);
	if (access(cache, F_OK) == 0) {
		char check[600];
		snprintf(check, sizeof(check), "%s/tool_cachecheck", env_or("TOOLS", "build/check/tests"));
		char *cargv[2 * FORBIDDEN + 3];
		int c = 0;
		cargv[c++] = check;
		for (int k = 0; k < FORBIDDEN; k++) {
			cargv[c++] = "--forbid";
			cargv[c++] = (char *)forbidden[k];
		}
		cargv[c++] = cache;
		cargv[c] = NULL;
		if (run_in(dir, out, out, cargv) != 0) {
			char *text = slurp(out, NULL);
			fail_msg("%s: tool_cachecheck:\n%s", m->name, text ? text : "");
		}
	}
}

static void test_keys_never_leak(void **state)
{
	(void)state;
	char *top = new_dir(), script[600];
	snprintf(script, sizeof(script), "%s/s.fountain", top);
	genscript(script, NULL);
	setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY, 1);
	setenv("OPENAI_API_KEY", OPENAI_KEY, 1);
	/* 0 takes exactly our keys (so each key must go to its own API), 1 rejects both, 2 rejects only the OpenAI
	 * key, 3 takes them but answers badly a third of the time (retry lines under -v). */
	const char *const right[] = {"--anthropic-key", ANTHROPIC_KEY, "--openai-key", OPENAI_KEY, NULL};
	const char *const wrong[] = {"--anthropic-key", "another-anthropic-key", "--openai-key", "another-openai-key",
	                             NULL};
	const char *const wrong_openai[] = {"--anthropic-key", ANTHROPIC_KEY, "--openai-key", "another-openai-key", NULL};
	const char *const faulty[] = {"--anthropic-key", ANTHROPIC_KEY, "--openai-key", OPENAI_KEY, "--fault-rate", "0.3",
	                              "--faults", "429,500,reset,malformed,truncated", "--seed", "9", NULL};
	/* 4 takes our keys and quotes them back inside every summary it writes. */
	const char *const echo[] = {"--anthropic-key", ANTHROPIC_KEY, "--openai-key", OPENAI_KEY, "--echo-key", NULL};
	struct fake servers[5];
	const char *const *flags[5] = {right, wrong, wrong_openai, faulty, echo};
	for (int i = 0; i < 5; i++) {
		char sub[256];
		snprintf(sub, sizeof(sub), "%s/server%d", top, i);
		assert_int_equal(mkdir(sub, 0700), 0);
		new_server(&servers[i], sub, flags[i]);
	}
	static const struct mode modes[] = {
		{"cold", 0, "anthropic", {"-q", NULL}, 0, NULL},
		{"cold-verbose", 0, "anthropic", {"-v", NULL}, 0, NULL},
		{"dry", 0, "anthropic", {"-n", NULL}, 0, NULL},
		{"dry-verbose-explain", 0, "anthropic", {"-n", "-v", "-d", "explain", NULL}, 0, NULL},
		{"failing", 1, "anthropic", {"-k", "0", NULL}, 1, NULL},
		{"failing-verbose", 1, "anthropic", {"-v", "-k", "0", "-d", "explain", NULL}, 1, NULL},
		{"failing-openai-verbose", 2, "anthropic", {"-v", "-k", "0", NULL}, 1, NULL},
		{"faulty-verbose", 3, "anthropic", {"-v", "--retries", "12", "-j", "10", NULL}, 0, NULL},
		{"chat-cold-verbose", 0, "openai:gpt-4o-mini", {"-v", NULL}, 0, NULL},
		{"chat-dry-verbose", 0, "openai:gpt-4o-mini", {"-n", "-v", NULL}, 0, NULL},
		{"chat-failing-verbose", 1, "openai:gpt-4o-mini", {"-v", "-k", "0", NULL}, 1, NULL},
		{"chat-faulty-verbose", 3, "openai:gpt-4o-mini", {"-v", "--retries", "12", NULL}, 0, NULL},
		{"echoed-key", 4, "anthropic", {"-v", "-k", "0", "--partial", NULL}, 1, "API key in its text"},
		{"chat-echoed-key", 4, "openai:gpt-4o-mini", {"-k", "0", "--retries", "1", "--partial", NULL}, 1,
		 "API key in its text"},
	};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		run_mode(top, &modes[i], servers, script);
	/* And everything else the servers' directories and the script's directory hold after all of it. */
	assert_no_key_below(top);
}

/* Writes a self-signed certificate for 127.0.0.1 into dir and serves it with openssl s_server on a free loopback
 * port; returns the port, or 0 when the openssl command is not installed. */
static int start_tls_server(const char *dir)
{
	if (system("command -v openssl >/dev/null 2>&1") != 0)
		return 0;
	char cmd[2048], log[700];
	snprintf(cmd, sizeof(cmd), "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "-keyout key.pem -out cert.pem -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
	         ">openssl.log 2>&1", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(log, sizeof(log), "%s/s_server.log", dir);
	char *argv[] = {"openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", "cert.pem", "-key", "key.pem", "-www",
	                NULL};
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || chdir(dir) != 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	keep_pid(pid);
	/* It prints "ACCEPT 127.0.0.1:PORT" once it listens. */
	for (int i = 0; i < 500; i++) {
		char *text = slurp(log, NULL);
		const char *at = text ? strstr(text, "ACCEPT 127.0.0.1:") : NULL;
		int port = at ? atoi(at + strlen("ACCEPT 127.0.0.1:")) : 0;
		free(text);
		if (port > 0)
			return port;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fail_msg("openssl s_server did not start (see %s)", log);
	return 0;
}

/* Lines of text that contain every one of the NULL-terminated needles. */
static int lines_with(const char *text, ...)
{
	int n = 0;
	for (const char *line = text; *line;) {
		size_t len = strcspn(line, "\n");
		int all = 1;
		va_list ap;
		va_start(ap, text);
		for (const char *needle; all && (needle = va_arg(ap, const char *)) != NULL;) {
			size_t k = strlen(needle), i = 0;
			while (i + k <= len && memcmp(line + i, needle, k) != 0)
				i++;
			all = i + k <= len;
		}
		va_end(ap);
		n += all;
		line += len + (line[len] == '\n');
	}
	return n;
}

/* Every provider against a self-signed server: each step that reaches it fails with a certificate error (so
 * verification is on), also with the variables other tools read to skip verification set. */
static void test_tls_verification_stays_on(void **state)
{
	(void)state;
	char *dir = new_dir(), script[600], err[600], url[64], openai_url[64];
	int port = start_tls_server(dir);
	if (!port) {
		printf("note: no openssl command: the TLS verification test was skipped\n");
		return;
	}
	snprintf(script, sizeof(script), "%s/s.fountain", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	snprintf(openai_url, sizeof(openai_url), "https://127.0.0.1:%d/v1", port);
	genscript(script, NULL);
	setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY, 1);
	setenv("OPENAI_API_KEY", OPENAI_KEY, 1);
	setenv("ANTHROPIC_BASE_URL", url, 1);
	setenv("OPENAI_BASE_URL", openai_url, 1);
	static const char *const skip_vars[] = {"CURL_INSECURE", "CURL_SSL_NO_VERIFY", "SSL_NO_VERIFY",
	                                        "GIT_SSL_NO_VERIFY", "NODE_TLS_REJECT_UNAUTHORIZED", "PYTHONHTTPSVERIFY",
	                                        "SCRIPTBUILD_INSECURE", "SCRIPTBUILD_NO_VERIFY"};
	static const struct {
		const char *llm, *embed;
		int failing;          /* steps that reach the server and must fail with a certificate error */
	} runs[] = {
		{"anthropic", "builtin", 8},
		{"openai:gpt-4o-mini", "builtin", 8},
		{"builtin", "openai", 8},
	};
	for (int with_vars = 0; with_vars < 2; with_vars++) {
		for (size_t v = 0; v < sizeof(skip_vars) / sizeof(skip_vars[0]); v++) {
			if (with_vars)
				setenv(skip_vars[v], strcmp(skip_vars[v], "PYTHONHTTPSVERIFY") &&
				       strcmp(skip_vars[v], "NODE_TLS_REJECT_UNAUTHORIZED") ? "1" : "0", 1);
			else
				unsetenv(skip_vars[v]);
		}
		for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
			char cache[700];
			snprintf(cache, sizeof(cache), "%s/cache%d%zu", dir, with_vars, r);
			char *argv[] = {(char *)sb(), "-q", "-k", "0", "--cache", cache, "--llm", (char *)runs[r].llm, "--embed",
			                (char *)runs[r].embed, "-o", "out.tar.zst", script, NULL};
			int rc = run_in(dir, NULL, err, argv);
			char *text = slurp(err, NULL);
			assert_non_null(text);
			if (rc != 1 || lines_with(text, "FAILED: ", (char *)NULL) != runs[r].failing ||
			    lines_with(text, "FAILED: ", "certificate", (char *)NULL) != runs[r].failing)
				fail_msg("--llm %s --embed %s against a self-signed server: exit %d, want 1 and %d certificate "
				         "failures:\n%s", runs[r].llm, runs[r].embed, rc, runs[r].failing, text);
			free(text);
			assert_no_key_in_file(err);
		}
	}
	for (size_t v = 0; v < sizeof(skip_vars) / sizeof(skip_vars[0]); v++)
		unsetenv(skip_vars[v]);
	char archive[700];
	snprintf(archive, sizeof(archive), "%s/out.tar.zst", dir);
	assert_int_equal(access(archive, F_OK), -1);

	/* Nothing in the help offers to turn verification off. */
	char out[600];
	snprintf(out, sizeof(out), "%s/help", dir);
	char *help[] = {(char *)sb(), "-h", NULL};
	assert_int_equal(run_in(dir, out, NULL, help), 0);
	char *text = slurp(out, NULL);
	assert_non_null(text);
	for (char *p = text; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	static const char *const offers[] = {"insecure", "no-verify", "noverify", "skip-verify", "verify-peer", "ssl",
	                                     "tls", "cert", "cainfo", "capath"};
	for (size_t i = 0; i < sizeof(offers) / sizeof(offers[0]); i++)
		if (strstr(text, offers[i]))
			fail_msg("scriptbuild -h mentions \"%s\":\n%s", offers[i], text);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_keys_never_leak, clean_up),
		cmocka_unit_test_teardown(test_tls_verification_stays_on, clean_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
