/* stdio_guard.h - the standard descriptors made safe at start, and requested output checked at the end. */
#ifndef SB_STDIO_GUARD_H
#define SB_STDIO_GUARD_H

/* Opens /dev/null on each of fds 0-2 that is closed, so that no file opened later (LMDB's lock file, a database)
 * becomes stdout or stderr and receives diagnostics. Call first in main, before anything opens a file. */
void stdio_guard_fds(void);

/* Writes text and a newline to stdout; 0, or -1 after saying (prefixed with prog) why the write failed, with the
 * error the write itself got (a later flush would no longer know it). */
int stdio_guard_puts(const char *prog, const char *text);

/* Flushes and closes stdout; when any write of it failed (a full disk, /dev/full, a closed pipe) says so on stderr,
 * prefixed with prog, and returns 1 if rc was 0; otherwise returns rc. Call on every exit path that printed. */
int stdio_guard_finish(const char *prog, int rc);

#endif
