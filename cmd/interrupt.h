/* interrupt.h - SIGINT and SIGTERM: the first winds the run down, a second SIGINT ends it at once (as make does). */
#ifndef SB_INTERRUPT_H
#define SB_INTERRUPT_H

#include <signal.h>

/* The signal that asked the run to stop; 0 while none has. The engine polls it (build_options.interrupted). */
extern volatile sig_atomic_t interrupt_signal;

/* Installs the handlers. A first SIGINT or SIGTERM only sets interrupt_signal; a second SIGINT (or a SIGTERM after
 * a SIGINT) removes the archive temporary file being written and ends the process by the signal itself. */
void interrupt_install(void);

/* 128 + the signal number when a signal stopped the run (130 for SIGINT, 143 for SIGTERM), else rc. */
int interrupt_exit_code(int rc);

#endif
