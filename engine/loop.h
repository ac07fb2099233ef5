/* loop.h - the single event loop: deferred callbacks, timers, and every HTTP transfer on one libcurl multi handle.
 * It knows callbacks and their void *, nothing of jobs or how many may run. */
#ifndef SB_LOOP_H
#define SB_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

/* A network transfer on the loop. The loop sets the easy handle's CURLOPT_PRIVATE to it and, when the transfer ends,
 * removes the handle from the multi and calls finished() with its CURLcode. */
struct loop_transfer {
	void (*finished)(struct loop_transfer *t, int curl_result);
	void *easy;                        /* the CURL* while added; owned by the caller */
	struct loop_transfer *prev, *next; /* the loop's list of transfers in flight */
};

/* A one-shot timer: the caller sets fire; the other fields belong to the loop. */
struct loop_timer {
	void (*fire)(struct loop_timer *t);
	int64_t due_ms;
	bool armed;
	struct loop_timer *next;
};

/* A new loop; NULL on failure. */
struct loop *loop_new(void);

/* Frees the loop; nothing may be pending. */
void loop_free(struct loop *l);

/* Queues fn(arg) to run on the next loop_run_once (in-process providers complete this way). */
void loop_defer(struct loop *l, void (*fn)(void *arg), void *arg);

/* Runs the deferred callbacks queued before the call and the due timers, then drives network transfers, waiting at
 * most timeout_ms (never past the next timer, not at all when anything ran). */
void loop_run_once(struct loop *l, int timeout_ms);

/* Deferred callbacks, transfers and armed timers not yet run or finished: 0 when the loop has nothing left to do. */
int loop_pending(const struct loop *l);

/* Adds the easy handle (a CURL*) to the multi with t as its owner; 0, or -1 when the multi refuses it. */
int loop_add_transfer(struct loop *l, void *easy, struct loop_transfer *t);

/* Arms t to fire once, from inside loop_run_once, delay_ms from now (re-arms it when already armed). */
void loop_timer_start(struct loop *l, struct loop_timer *t, long delay_ms);

/* Disarms t; harmless when it is not armed. */
void loop_timer_stop(struct loop *l, struct loop_timer *t);

/* Milliseconds on a monotonic clock. */
int64_t loop_now_ms(void);

/* Stops the run: on the next loop_run_once every transfer in flight ends with CURLE_ABORTED_BY_CALLBACK and every
 * timer fires at once; network providers then fail their jobs instead of retrying. */
void loop_abort(struct loop *l);

/* Whether loop_abort was called. */
bool loop_aborted(const struct loop *l);

#endif
