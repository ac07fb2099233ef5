/* nginx.h - a real nginx with WebDAV PUT as a Bazel HTTP remote cache for tests and the benchmark: its own prefix,
 * configuration, store and temporary directories under one directory, a free loopback port, not a daemon, an access
 * log that records the method, path, status and the credentials that reached it. */
#ifndef SB_NGINX_H
#define SB_NGINX_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include "sbtest.h"

struct nginx {
	pid_t pid;
	int port;
	char dir[4096];
	char url[128];            /* http://127.0.0.1:PORT */
	char store[4200];         /* the server's root: store/ac/K and store/cas/H are the entries */
	char access_log[4200];    /* one line a request: METHOD URI STATUS "Authorization" "remote user" */
	char socket[4200];        /* it also listens on this Unix socket (for a proxy in front of it) */
};

/* The nginx binary: $NGINX, else the Debian package's. */
static inline const char *nginx_binary(void)
{
	const char *env = getenv("NGINX");
	if (env && *env)
		return env;
	return access("/usr/sbin/nginx", X_OK) == 0 ? "/usr/sbin/nginx" : "nginx";
}

/* A loopback port nobody listens on right now. */
static inline int nginx_free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(s, (struct sockaddr *)&a, &len) < 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	close(s);
	return ntohs(a.sin_port);
}

static inline int nginx_answers(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

/* Starts nginx serving dir/store on a free port; 0, or -1 (its error log is dir/error.log). */
static inline int nginx_start(struct nginx *n, const char *dir)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->dir, sizeof(n->dir), "%s", dir);
	snprintf(n->store, sizeof(n->store), "%s/store", dir);
	snprintf(n->access_log, sizeof(n->access_log), "%s/access.log", dir);
	snprintf(n->socket, sizeof(n->socket), "%s/nginx.sock", dir);
	char path[4300], tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
	mkdir(n->store, 0700);
	mkdir(tmp, 0700);
	for (int attempt = 0; attempt < 5; attempt++) {
		n->port = nginx_free_port();
		if (n->port <= 0)
			return -1;
		snprintf(path, sizeof(path), "%s/nginx.conf", dir);
		FILE *f = fopen(path, "w");
		if (!f)
			return -1;
		/* Not a daemon, one process: the test's pid is the server, and SIGKILL stops it dead. */
		fprintf(f,
		        "daemon off;\nmaster_process off;\nworker_processes 1;\n%s"
		        "pid %s/nginx.pid;\nerror_log %s/error.log;\nevents { worker_connections 256; }\n"
		        "http {\n"
		        "  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n  fastcgi_temp_path %s/fastcgi;\n"
		        "  uwsgi_temp_path %s/uwsgi;\n  scgi_temp_path %s/scgi;\n"
		        "  log_format sb '$request_method $uri $status \"$http_authorization\" \"$remote_user\"';\n"
		        "  access_log %s sb;\n"
		        "  server {\n"
		        "    listen 127.0.0.1:%d;\n    listen unix:%s;\n    root %s;\n    client_max_body_size 64m;\n"
		        "    location / { dav_methods PUT; create_full_put_path on; dav_access user:rw; }\n"
		        "  }\n}\n",
		        geteuid() == 0 ? "user root;\n" : "", dir, dir, tmp, tmp, tmp, tmp, tmp, n->access_log, n->port,
		        n->socket, n->store);
		fclose(f);
		unlink(n->socket);
		n->pid = fork();
		if (n->pid < 0)
			return -1;
		if (n->pid == 0) {
			char out[4300];
			snprintf(out, sizeof(out), "%s/nginx.out", dir);
			int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
			execl(nginx_binary(), "nginx", "-p", dir, "-c", path, (char *)NULL);
			_exit(127);
		}
		for (int i = 0; i < 300; i++) {
			if (nginx_answers(n->port)) {
				snprintf(n->url, sizeof(n->url), "http://127.0.0.1:%d", n->port);
				return 0;
			}
			if (waitpid(n->pid, NULL, WNOHANG) == n->pid)
				break; /* it exited: most likely the port was taken in between; try another */
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		kill(n->pid, SIGKILL);
		waitpid(n->pid, NULL, 0);
	}
	n->pid = 0;
	return -1;
}

/* Stops the server at once (a crash, as far as clients can tell). */
static inline void nginx_kill(struct nginx *n)
{
	if (n->pid <= 0)
		return;
	kill(n->pid, SIGKILL);
	waitpid(n->pid, NULL, 0);
	n->pid = 0;
}

/* Lines of the access log that start with method ("GET", "PUT") and contain needle (NULL: any). */
static inline int nginx_requests(const struct nginx *n, const char *method, const char *needle)
{
	char *log = slurp(n->access_log, NULL);
	int count = 0;
	size_t mlen = strlen(method);
	for (char *line = log, *end; line && *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		char saved = *end;
		*end = '\0';
		if (strncmp(line, method, mlen) == 0 && line[mlen] == ' ' && (!needle || strstr(line, needle)))
			count++;
		*end = saved;
		if (!saved)
			break;
	}
	free(log);
	return count;
}

#endif
