/* sbtest.h - helpers for tests that drive the built scriptbuild/scriptload binaries like a user would. */
#ifndef SB_SBTEST_H
#define SB_SBTEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fountain.h"
#include "util.h"

/* Path of a binary from the environment (SB, SL, TOOLS...), or a default under build/check. */
static inline const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

/* The scriptbuild binary under test. */
static inline const char *sb(void)
{
	return env_or("SB", "build/check/scriptbuild");
}

/* Path of a test tool (tests/tool_*.c); the four most recent results stay valid. */
static inline char *tool(const char *name)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];
	snprintf(p, sizeof(path[0]), "%s/%s", env_or("TOOLS", "build/check/tests"), name);
	return p;
}

/* A fresh temporary directory (malloc'd path). */
static inline char *make_tempdir(void)
{
	char *dir = strdup("/tmp/sbtest.XXXXXX");
	if (!dir || !mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	return dir;
}

/* Removes a directory tree. */
static inline void remove_tree(const char *dir)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* Runs argv (NULL-terminated) in dir with stdout to out_path and stderr to err_path (either may be NULL = /dev/null);
 * returns the exit status, or 128+signal. */
static inline int run_in(const char *dir, const char *out_path, const char *err_path, char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (dir && chdir(dir) != 0)
			_exit(127);
		int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (out < 0 || err < 0)
			_exit(127);
		dup2(out, 1);
		dup2(err, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs scriptbuild in dir with --cache cache --report report and the NULL-terminated arguments in ap, stdout and
 * stderr to out and err; the report is removed first so that a run that writes none cannot pass for one that did. */
static inline int run_scriptbuild(const char *dir, const char *out, const char *err, const char *cache,
                                  const char *report, va_list ap)
{
	char *argv[40];
	int n = 0;
	argv[n++] = (char *)sb();
	argv[n++] = "--cache";
	argv[n++] = (char *)cache;
	argv[n++] = "--report";
	argv[n++] = (char *)report;
	for (char *a; (a = va_arg(ap, char *)) != NULL && n < 39;)
		argv[n++] = a;
	argv[n] = NULL;
	unlink(report);
	return run_in(dir, out, err, argv);
}

/* Reads a whole file (malloc'd, NUL-terminated); NULL when it cannot. */
static inline char *slurp(const char *path, size_t *len)
{
	if (len)
		*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 0, n = 0, got;
	char *buf = NULL;
	do {
		char *grown = grow(buf, &cap, n + 4096, 1);
		if (!grown) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = grown;
		n += got = fread(buf + n, 1, cap - n - 1, f);
	} while (got > 0);
	fclose(f);
	if (buf)
		buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Writes len bytes to path; 0 or -1. */
static inline int spit(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(data, 1, len, f);
	return fclose(f) == 0 && w == len ? 0 : -1;
}

/* Parses a JSON file; NULL when missing or invalid. */
static inline cJSON *read_json(const char *path)
{
	char *text = slurp(path, NULL);
	cJSON *j = text ? cJSON_Parse(text) : NULL;
	free(text);
	return j;
}

/* Number at a dotted path like "steps.summary.run"; -1 when absent. */
static inline double json_number(const cJSON *root, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	const cJSON *cur = root;
	for (char *save = NULL, *part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save))
		cur = cJSON_GetObjectItemCaseSensitive(cur, part);
	return cJSON_IsNumber(cur) ? cur->valuedouble : -1;
}

/* The shared loader for tests that need a parsed script from a file, as scriptbuild reads one: read_file within the
 * parser's limit, then fountain_parse. 0, or -1 with err->message naming the path. */
static inline int load_fountain(const char *path, struct fountain_script **out, struct fountain_error *err)
{
	char *data;
	size_t len;
	*out = NULL;
	memset(err, 0, sizeof(*err));
	if (read_file(path, FOUNTAIN_MAX_BYTES, &data, &len) < 0) {
		snprintf(err->message, sizeof(err->message), "%.200s: %s", path, strerror(errno));
		return -1;
	}
	int rc = fountain_parse(data, len, out, err);
	free(data);
	return rc;
}

#endif
