/* gate.h - the request window: admission for every request the providers send. It holds -j, widens by one request
 * per window of successes and halves once per loop turn that saw "slow down" answers (AIMD, as TCP does), so that new
 * requests and retries alike obey a server that said "too many". The scheduler owns and resizes it; the HTTP client
 * asks it before each send. Further admission rules (rate-limit budgets) belong in gate_admit. */
#ifndef SB_GATE_H
#define SB_GATE_H

#include <stdint.h>

struct gate;

/* A gate admitting at most limit requests at once (limit < 1 counts as 1). */
struct gate *gate_new(int limit);

/* Frees the gate; NULL is fine. */
void gate_free(struct gate *g);

enum gate_answer {
	GATE_OPEN, /* the request may start now */
	GATE_WAIT  /* not now: ask again after *wait_ms (0: when some request finishes) */
};

/* May one more request start at now_ms? */
enum gate_answer gate_admit(const struct gate *g, int64_t now_ms, long *wait_ms);

/* A request went on the wire / came off it (answered, failed or cancelled). */
void gate_request_started(struct gate *g);
void gate_request_finished(struct gate *g);

/* A server answered "slow down" (429/529, not an exhausted quota). */
void gate_note_congestion(struct gate *g);

/* A job succeeded: the window grows by 1/window, back towards the limit. */
void gate_note_success(struct gate *g);

/* Ends a loop turn: halves the window (never below 1) once when congestion was noted since the last turn. */
void gate_end_turn(struct gate *g);

/* How many jobs the scheduler may have in flight now. */
int gate_window(const struct gate *g);

/* "Slow down" answers noted so far. */
unsigned long gate_congestion(const struct gate *g);

/* The bound on the bytes of answers buffered by all requests in flight at once (0: none); gate_new sets
 * GATE_DEFAULT_BUFFER_BYTES. */
#define GATE_DEFAULT_BUFFER_BYTES ((size_t)512 << 20)
void gate_set_buffer_limit(struct gate *g, size_t bytes);
size_t gate_buffer_limit(const struct gate *g);

enum gate_buffer {
	GATE_BUFFER_OK,     /* taken */
	GATE_BUFFER_FULL,   /* other requests hold the rest: this one should wait for fewer in flight */
	GATE_BUFFER_TOO_BIG /* this request's answer alone would pass the bound */
};

/* A request holding held bytes wants more: GATE_BUFFER_OK (counted) or why not (nothing counted). */
enum gate_buffer gate_buffer_take(struct gate *g, size_t held, size_t more);

/* A request gives back n bytes it took. */
void gate_buffer_give(struct gate *g, size_t n);

#endif
