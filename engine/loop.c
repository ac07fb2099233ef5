/* loop.c - one thread, one loop: in-process completions, retry timers and libcurl multi transfers share it. */
#include <curl/curl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop.h"
#include "util.h"

struct deferred {
	void (*fn)(void *arg);
	void *arg;
};

struct loop {
	CURLM *multi;
	struct deferred *deferred;
	size_t ndeferred, capdeferred;
	unsigned long transfers_ended;/* so far: a turn that ended one does not wait */
	struct loop_transfer *transfers;
	int on_wire;                  /* transfers added and not yet finished */
	struct loop_timer *timers;
	bool aborted;
};

struct loop *loop_new(void)
{
	return calloc(1, sizeof(struct loop));
}

/* libcurl (and the TLS library under it) starts on the first transfer, so a run served from the cache never pays
 * for it. */
static int ensure_multi(struct loop *l)
{
	if (l->multi)
		return 0;
	/* curl_global_init counts its callers; loop_free balances it. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	l->multi = curl_multi_init();
	if (!l->multi) {
		curl_global_cleanup();
		return -1;
	}
	curl_multi_setopt(l->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	return 0;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	if (l->multi) {
		curl_multi_cleanup(l->multi);
		curl_global_cleanup();
	}
	free(l->deferred);
	free(l);
}

void loop_defer(struct loop *l, void (*fn)(void *arg), void *arg)
{
	l->deferred = xgrow(l->deferred, &l->capdeferred, l->ndeferred + 1, sizeof(*l->deferred));
	l->deferred[l->ndeferred++] = (struct deferred){fn, arg};
}

int64_t loop_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void transfer_unlink(struct loop *l, struct loop_transfer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		l->transfers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

static void transfer_end(struct loop *l, struct loop_transfer *t, CURLcode result)
{
	curl_multi_remove_handle(l->multi, t->easy);
	transfer_unlink(l, t);
	l->on_wire--;
	l->transfers_ended++;
	t->finished(t, (int)result);
}

int loop_add_transfer(struct loop *l, void *easy, struct loop_transfer *t)
{
	t->easy = easy;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)t);
	if (ensure_multi(l) < 0 || curl_multi_add_handle(l->multi, easy) != CURLM_OK)
		return -1;
	l->on_wire++;
	t->prev = NULL;
	t->next = l->transfers;
	if (l->transfers)
		l->transfers->prev = t;
	l->transfers = t;
	return 0;
}

void loop_timer_start(struct loop *l, struct loop_timer *t, long delay_ms)
{
	loop_timer_stop(l, t);
	t->due_ms = loop_now_ms() + (delay_ms > 0 ? delay_ms : 0);
	t->armed = true;
	t->next = l->timers;
	l->timers = t;
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	if (!t->armed)
		return;
	for (struct loop_timer **p = &l->timers; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	t->armed = false;
	t->next = NULL;
}

/* Fires the timers due by now (all of them after loop_abort), one at a time: a fire may arm or stop others. */
static void fire_timers(struct loop *l)
{
	int64_t now = loop_now_ms();
	for (;;) {
		struct loop_timer *due = NULL;
		for (struct loop_timer *t = l->timers; t; t = t->next)
			if (l->aborted || t->due_ms <= now) {
				due = t;
				break;
			}
		if (!due)
			return;
		loop_timer_stop(l, due);
		due->fire(due);
	}
}

/* Milliseconds until the next timer is due, capped at limit. */
static int wait_limit(const struct loop *l, int limit)
{
	int64_t now = loop_now_ms();
	for (const struct loop_timer *t = l->timers; t; t = t->next) {
		int64_t left = t->due_ms - now;
		if (left < limit)
			limit = left > 0 ? (int)left : 0;
	}
	return limit;
}

static void drive(struct loop *l)
{
	int running = 0;
	if (!l->multi)
		return;
	curl_multi_perform(l->multi, &running);
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(l->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg is invalid once its handle leaves the multi: read everything first. */
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result;
		char *owner = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &owner);
		transfer_end(l, (struct loop_transfer *)(void *)owner, result);
	}
}

static void abort_transfers(struct loop *l)
{
	while (l->transfers)
		transfer_end(l, l->transfers, CURLE_ABORTED_BY_CALLBACK);
}

void loop_run_once(struct loop *l, int timeout_ms)
{
	unsigned long ended_before = l->transfers_ended;
	/* Callbacks may defer new ones; only those queued before this call run now, so a long chain of in-process
	 * steps cannot starve the network transfers. */
	size_t n = l->ndeferred;
	if (n) {
		struct deferred *batch = xmalloc(n * sizeof(*batch));
		memcpy(batch, l->deferred, n * sizeof(*batch));
		memmove(l->deferred, l->deferred + n, (l->ndeferred - n) * sizeof(*batch));
		l->ndeferred -= n;
		for (size_t i = 0; i < n; i++)
			batch[i].fn(batch[i].arg);
		free(batch);
	}
	if (l->aborted)
		abort_transfers(l);
	fire_timers(l);
	drive(l);
	if (n == 0 && l->transfers_ended == ended_before && timeout_ms > 0 && (l->transfers || l->timers)) {
		/* curl_multi_poll also wakes for curl's own timeouts; the timers are ours to respect. */
		if (l->multi)
			curl_multi_poll(l->multi, NULL, 0, wait_limit(l, timeout_ms), NULL);
		else
			poll(NULL, 0, wait_limit(l, timeout_ms));
		fire_timers(l);
		drive(l);
	}
}

int loop_pending(const struct loop *l)
{
	int timers = 0;
	for (const struct loop_timer *t = l->timers; t; t = t->next)
		timers++;
	return (int)l->ndeferred + l->on_wire + timers;
}

void loop_abort(struct loop *l)
{
	l->aborted = true;
}

bool loop_aborted(const struct loop *l)
{
	return l->aborted;
}
