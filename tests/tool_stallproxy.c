/* tool_stallproxy - a TCP proxy to a PostgreSQL Unix socket that stops forwarding, in both directions, the moment the
 * client sends a given string (a COPY, say), while keeping both connections open: a stalled network or server as a
 * loader sees it.
 *
 *   tool_stallproxy SOCKET_PATH PORT_FILE TRIGGER
 *
 * Listens on 127.0.0.1 (a free port, written to PORT_FILE), one child process per connection. A connection whose
 * client sent TRIGGER forwards that last chunk and then nothing; PORT_FILE.stalled is created when that happens.
 * Runs until SIGTERM, which ends its connections too (they are children in its own process group). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

static int contains(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return 1;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void serve(int client, const char *socket_path, const char *stalled_file, const char *trigger)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path, sizeof un.sun_path, "%s", socket_path);
	int server = socket(AF_UNIX, SOCK_STREAM, 0);
	if (server < 0 || connect(server, (struct sockaddr *)&un, sizeof un) < 0)
		_exit(1);
	char buf[65536];
	for (;;) {
		struct pollfd p[2] = { { client, POLLIN, 0 }, { server, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof buf);
			if (n <= 0)
				_exit(0);
			if (write_all(i == 0 ? server : client, buf, (size_t)n) < 0)
				_exit(0);
			if (i == 0 && contains(buf, (size_t)n, trigger)) {
				FILE *f = fopen(stalled_file, "w");
				if (f)
					fclose(f);
				/* Hold both connections open and never read or write again. */
				for (;;)
					pause();
			}
		}
	}
}

static void on_term(int sig)
{
	(void)sig;
	signal(SIGTERM, SIG_DFL);
	kill(0, SIGTERM);
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fputs("usage: tool_stallproxy SOCKET_PATH PORT_FILE TRIGGER\n", stderr);
		return 2;
	}
	setpgid(0, 0);
	signal(SIGTERM, on_term);
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	int lis = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = 0 };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof in;
	if (lis < 0 || bind(lis, (struct sockaddr *)&in, sizeof in) < 0 || listen(lis, 16) < 0
	    || getsockname(lis, (struct sockaddr *)&in, &len) < 0) {
		perror("tool_stallproxy: listen");
		return 1;
	}
	char tmp[4096], stalled[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
	snprintf(stalled, sizeof stalled, "%s.stalled", argv[2]);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", (unsigned)ntohs(in.sin_port)) < 0 || fclose(f) != 0 || rename(tmp, argv[2]) < 0) {
		perror("tool_stallproxy: port file");
		return 1;
	}
	for (;;) {
		int c = accept(lis, NULL, NULL);
		if (c < 0)
			continue;
		if (fork() == 0) {
			signal(SIGTERM, SIG_DFL);
			close(lis);
			serve(c, argv[1], stalled, argv[3]);
			_exit(0);
		}
		close(c);
	}
}
