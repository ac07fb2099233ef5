/* stdio_guard.c - fds 0-2 always open, and stdout's write errors never silent. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stdio_guard.h"

void stdio_guard_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* open() returns the lowest free descriptor, which is this one. */
		int got = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (got >= 0 && got != fd)
			close(got);
	}
}

/* Set once a write failure was reported, so that stdio_guard_finish does not say it twice. */
static int reported;

int stdio_guard_puts(const char *prog, const char *text)
{
	if (fputs(text, stdout) != EOF && putchar('\n') != EOF && fflush(stdout) == 0)
		return 0;
	fprintf(stderr, "%s: cannot write the output to standard output: %s\n", prog, strerror(errno));
	reported = 1;
	return -1;
}

int stdio_guard_finish(const char *prog, int rc)
{
	/* errno is only meaningful if the failing write is the one fflush or fclose does now; an earlier one left
	 * the error flag set, and then only "write error" can be said. */
	errno = 0;
	int failed = ferror(stdout);
	int why = 0;
	if (fflush(stdout) != 0) {
		failed = 1;
		why = errno;
	}
	if (fclose(stdout) != 0 && !failed) {
		failed = 1;
		why = errno;
	}
	if (!failed)
		return rc;
	if (reported)
		return rc ? rc : 1;
	fprintf(stderr, "%s: cannot write the output to standard output: %s\n", prog,
	        why ? strerror(why) : "write error");
	return rc ? rc : 1;
}
