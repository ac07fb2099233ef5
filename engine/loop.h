/* loop.h - the single event loop: deferred completions plus every HTTP request on one libcurl multi handle. */
#ifndef SB_LOOP_H
#define SB_LOOP_H

struct job;
struct loop;

/* A new loop; NULL on failure. */
struct loop *loop_new(void);

/* Frees the loop; every job must be finished. */
void loop_free(struct loop *l);

/* Queues job->done(job) to run on the next loop_run_once (in-process providers complete this way). */
void loop_defer(struct loop *l, struct job *job);

/* Runs deferred completions, then drives network transfers for at most timeout_ms (not at all when completions ran);
 * returns the number of jobs completed. */
int loop_run_once(struct loop *l, int timeout_ms);

/* Number of jobs started but not yet completed through this loop. */
int loop_pending(const struct loop *l);

/* The CURLM* every network provider adds its easy handles to. */
void *loop_curl_multi(struct loop *l);

/* Count of "slow down" answers (429/529) seen so far; the scheduler lowers its window when it grows. */
unsigned long loop_congestion(const struct loop *l);

/* Called by network providers on a 429/529 answer. */
void loop_note_congestion(struct loop *l);

/* Called by network providers when they start / finish a job in flight on the loop. */
void loop_job_started(struct loop *l);
void loop_job_finished(struct loop *l);

#endif
