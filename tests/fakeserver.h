/* fakeserver.h - starts tests/fakeapi on a free loopback port for a test and reads its /stats. */
#ifndef SB_FAKESERVER_H
#define SB_FAKESERVER_H

#include <curl/curl.h>
#include <signal.h>
#include <time.h>

#include "sbtest.h"

struct fake {
	pid_t pid;
	int port;
	char base[128];       /* http://127.0.0.1:PORT */
	char openai_base[160];/* http://127.0.0.1:PORT/v1 */
};

/* Starts $FAKEAPI with the given extra flags (NULL-terminated) writing its port into dir; 0 or -1. */
static inline int fake_start(struct fake *f, const char *dir, const char *const *flags)
{
	char port_file[512];
	snprintf(port_file, sizeof(port_file), "%s/fakeapi.port", dir);
	unlink(port_file);
	const char *argv[40];
	int n = 0;
	argv[n++] = env_or("FAKEAPI", "build/check/tests/fakeapi");
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--port-file";
	argv[n++] = port_file;
	for (; flags && *flags && n < 38; flags++)
		argv[n++] = *flags;
	argv[n] = NULL;
	f->pid = fork();
	if (f->pid < 0)
		return -1;
	if (f->pid == 0) {
		char log[600];
		snprintf(log, sizeof(log), "%s/fakeapi.log", dir);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		char *text = slurp(port_file, NULL);
		if (text && atoi(text) > 0) {
			f->port = atoi(text);
			free(text);
			snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->port);
			snprintf(f->openai_base, sizeof(f->openai_base), "http://127.0.0.1:%d/v1", f->port);
			return 0;
		}
		free(text);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	return -1;
}

/* Stops the server (SIGTERM, so it can free everything). */
static inline void fake_stop(struct fake *f)
{
	if (f->pid <= 0)
		return;
	kill(f->pid, SIGTERM);
	waitpid(f->pid, NULL, 0);
	f->pid = 0;
}

static inline size_t collect_body(char *data, size_t size, size_t n, void *ctx)
{
	struct { char *p; size_t len; } *b = ctx;
	char *grown = realloc(b->p, b->len + size * n + 1);
	if (!grown)
		return 0;
	b->p = grown;
	memcpy(b->p + b->len, data, size * n);
	b->len += size * n;
	b->p[b->len] = '\0';
	return size * n;
}

/* Sends method path with an optional JSON body; returns the parsed JSON answer (NULL on failure). */
static inline cJSON *fake_call(struct fake *f, const char *method, const char *path, const char *body)
{
	char url[256];
	snprintf(url, sizeof(url), "%s%s", f->base, path);
	struct { char *p; size_t len; } b = {NULL, 0};
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "content-type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	cJSON *j = rc == CURLE_OK && b.p ? cJSON_Parse(b.p) : NULL;
	free(b.p);
	return j;
}

/* What the running test started: a failing test longjmps out of its body, so its teardown (clean_up) stops and
 * removes these. */
#define MAX_LEFT 64
static struct {
	pid_t pids[MAX_LEFT];
	int npids;
	char *dirs[MAX_LEFT];
	int ndirs;
} started;

/* A fresh temporary directory, removed after the test (malloc'd path owned by the registry). */
static inline char *new_dir(void)
{
	assert_true(started.ndirs < MAX_LEFT);
	char *dir = make_tempdir();
	started.dirs[started.ndirs++] = dir;
	return dir;
}

/* A process to stop (SIGTERM) after the test. */
static inline void keep_pid(pid_t pid)
{
	assert_true(started.npids < MAX_LEFT);
	started.pids[started.npids++] = pid;
}

/* Starts the fake API server with flags, stopped after the test. */
static inline void new_server(struct fake *f, const char *dir, const char *const *flags)
{
	assert_int_equal(fake_start(f, dir, flags), 0);
	keep_pid(f->pid);
}

/* A cmocka teardown: stops what the test started and removes its directories. */
static inline int clean_up(void **state)
{
	(void)state;
	for (int i = 0; i < started.npids; i++) {
		kill(started.pids[i], SIGTERM);
		waitpid(started.pids[i], NULL, 0);
	}
	for (int i = 0; i < started.ndirs; i++) {
		char cmd[600];
		/* A test may have left a directory read-only for the user it ran as. */
		snprintf(cmd, sizeof(cmd), "chmod -R u+rwX '%s' 2>/dev/null", started.dirs[i]);
		if (system(cmd) != 0)
			fprintf(stderr, "could not make %s writable\n", started.dirs[i]);
		remove_tree(started.dirs[i]);
		free(started.dirs[i]);
	}
	started.npids = started.ndirs = 0;
	return 0;
}

#endif
