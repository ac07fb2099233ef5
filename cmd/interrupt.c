/* interrupt.c - the signal handlers do only async-signal-safe things: set a flag, unlink a file, re-raise. */
#include <signal.h>
#include <string.h>

#include "analysis.h"
#include "interrupt.h"

volatile sig_atomic_t interrupt_signal;

static void on_signal(int sig)
{
	if (!interrupt_signal) {
		interrupt_signal = sig;
		return;
	}
	/* Asked twice: the user wants out now. Whatever the archive writer has half done goes too. */
	analysis_abandon_temp();
	signal(sig, SIG_DFL);
	raise(sig);
}

void interrupt_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking wait returns EINTR and the loop looks at the flag sooner. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int interrupt_exit_code(int rc)
{
	return interrupt_signal ? 128 + interrupt_signal : rc;
}
