/* tool_pty - runs a command on a pseudo-terminal (so that it draws its status line), sends it SIGINT once its
 * output holds a given text, and keeps every byte it wrote:
 *
 *   tool_pty OUTFILE TEXT COMMAND [ARG...]
 *
 * OUTFILE gets the raw terminal output (after the line discipline: "\n" arrives as "\r\n"). The exit status is the
 * command's, or 128 + the signal that ended it; 2 when the terminal cannot be set up or TEXT never came (20 s). */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *output;
static size_t output_len, output_cap;

static void keep(const char *data, size_t n)
{
	if (output_len + n + 1 > output_cap) {
		output_cap = (output_len + n + 1) * 2;
		if (!(output = realloc(output, output_cap))) {
			fputs("tool_pty: out of memory\n", stderr);
			exit(2);
		}
	}
	memcpy(output + output_len, data, n);
	output_len += n;
	output[output_len] = '\0';
}

/* strstr over bytes that may hold NULs (they do not, but a terminal stream is no string). */
static int holds(const char *text)
{
	size_t n = strlen(text);
	for (size_t i = 0; i + n <= output_len; i++)
		if (memcmp(output + i, text, n) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fputs("usage: tool_pty OUTFILE TEXT COMMAND [ARG...]\n", stderr);
		return 2;
	}
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || !ptsname(master)) {
		perror("tool_pty: posix_openpt");
		return 2;
	}
	char *slave_name = strdup(ptsname(master));
	pid_t pid = fork();
	if (pid < 0) {
		perror("tool_pty: fork");
		return 2;
	}
	if (pid == 0) {
		setsid();
		int slave = open(slave_name, O_RDWR);
		if (slave < 0)
			_exit(126);
		dup2(slave, 0), dup2(slave, 1), dup2(slave, 2);
		if (slave > 2)
			close(slave);
		close(master);
		/* A background job of a shell starts with SIGINT ignored, and exec keeps that. */
		signal(SIGINT, SIG_DFL);
		execvp(argv[3], argv + 3);
		_exit(127);
	}
	free(slave_name);
	time_t deadline = time(NULL) + 20;
	int sent = 0;
	for (;;) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		int ready = poll(&p, 1, 100);
		if (ready < 0 && errno != EINTR)
			break;
		if (ready > 0) {
			char chunk[4096];
			ssize_t n = read(master, chunk, sizeof(chunk));
			/* EIO: every holder of the slave side closed it (the command is gone). */
			if (n <= 0)
				break;
			keep(chunk, (size_t)n);
		}
		if (!sent && holds(argv[2])) {
			kill(pid, SIGINT);
			sent = 1;
		}
		if (!sent && time(NULL) > deadline) {
			kill(pid, SIGKILL);
			break;
		}
	}
	int status = 0;
	waitpid(pid, &status, 0);
	FILE *f = fopen(argv[1], "wb");
	if (!f || (output_len && fwrite(output, 1, output_len, f) != output_len) || fclose(f) != 0) {
		perror(argv[1]);
		return 2;
	}
	if (!sent) {
		fprintf(stderr, "tool_pty: \"%s\" never came; the output ends:\n%s\n", argv[2],
		        output_len > 600 ? output + output_len - 600 : output ? output : "");
		return 2;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
