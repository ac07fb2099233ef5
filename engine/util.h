/* util.h - allocation that cannot fail silently, the one growth rule and growable byte buffer, small string helpers.
 *
 * The out-of-memory rule, for the whole code base:
 *   - engine/ and cmd/ allocate with the x* functions below, and cJSON through util_json_hooks(), so that every
 *     failed allocation ends the process through out_of_memory(): the run cannot make progress, and half a result
 *     must never be cached or archived;
 *   - the Fountain parser (untrusted input of any size) returns an error instead, through grow() and buf_try_add();
 *   - cache/ and export/ (below engine/, with no util.h) return an error that names what failed, and never print;
 *     they grow arrays through cache/grow.h's grow(), the same rule xgrow() applies. */
#ifndef SB_UTIL_H
#define SB_UTIL_H

#include <stdarg.h>
#include <stddef.h>

#include "grow.h"

/* Says so on stderr and aborts: the engine cannot make progress, and half a result must never be cached. */
_Noreturn void out_of_memory(void);

/* malloc/calloc/realloc/strdup that abort on out of memory (the engine cannot make progress without memory). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* cache/grow.h's grow() (the one growth rule: doubling from 16, overflow-checked, NULL on failure), aborting through
 * out_of_memory instead of returning NULL; grow() itself is for the code that must report instead. */
void *xgrow(void *p, size_t *cap, size_t need, size_t size);

/* Makes cJSON allocate through xmalloc, so that building or printing JSON follows the rule above; a program calls it
 * once before any cJSON use. */
void util_json_hooks(void);

/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct buf {
	char *data;           /* always NUL-terminated when len > 0 or after any append */
	size_t len;
	size_t cap;
};

/* Appends n bytes. */
void buf_add(struct buf *b, const void *data, size_t n);
/* Appends n bytes: 0, or -1 on out of memory with b unchanged (for the parser). */
int buf_try_add(struct buf *b, const void *data, size_t n);
/* Appends a string. */
void buf_puts(struct buf *b, const char *s);
/* Appends formatted text. */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees the buffer's memory and empties it. */
void buf_free(struct buf *b);

/* Reads a file into a malloc'd NUL-terminated buffer, stopping after max + 1 bytes (so that a caller tells a file
 * beyond max, or an endless one like /dev/zero, from one that fits); 0, or -1 with errno set. */
int read_file(const char *path, size_t max, char **data, size_t *len);

#endif
