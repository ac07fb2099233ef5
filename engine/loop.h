/* loop.h - the single event loop: deferred completions, timers, and every HTTP request on one libcurl multi handle. */
#ifndef SB_LOOP_H
#define SB_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct job;
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

/* Frees the loop; every job must be finished. */
void loop_free(struct loop *l);

/* Queues job->done(job) to run on the next loop_run_once (in-process providers complete this way). */
void loop_defer(struct loop *l, struct job *job);

/* Runs deferred completions and due timers, then drives network transfers, waiting at most timeout_ms (never past
 * the next timer, not at all when anything completed); returns the number of jobs completed. */
int loop_run_once(struct loop *l, int timeout_ms);

/* Number of jobs started but not yet completed through this loop. */
int loop_pending(const struct loop *l);

/* The CURLM* of the loop (HTTP/2 multiplexing on). */
void *loop_curl_multi(struct loop *l);

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

/* Count of "slow down" answers (429/529) seen so far; the scheduler lowers its window when it grows. */
unsigned long loop_congestion(const struct loop *l);

/* Sets how many transfers may be on the wire at once (0: no limit); the scheduler lowers it when the server says
 * "slow down", so that retries obey it as well as new requests. */
void loop_set_send_limit(struct loop *l, int limit);

/* Whether one more transfer may go on the wire now. */
bool loop_may_send(const struct loop *l);

/* Called by network providers on a 429/529 answer. */
void loop_note_congestion(struct loop *l);

/* Called by network providers when they start a job in flight / just before they call its done(); the finished ones
 * count as completions of the loop_run_once they happen in. */
void loop_job_started(struct loop *l);
void loop_job_finished(struct loop *l);

#endif
