/* loop.c - one thread, one loop: in-process completions and libcurl multi transfers share it. */
#include <curl/curl.h>
#include <stdlib.h>

#include "job.h"
#include "loop.h"

struct loop {
	CURLM *multi;
	struct job **deferred;
	size_t ndeferred, capdeferred;
	int pending;
	unsigned long congestion;
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	/* curl_global_init is idempotent after the first call; providers need it before any easy handle. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	l->multi = curl_multi_init();
	if (!l->multi) {
		free(l);
		return NULL;
	}
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	curl_multi_cleanup(l->multi);
	free(l->deferred);
	free(l);
}

void loop_defer(struct loop *l, struct job *job)
{
	if (l->ndeferred == l->capdeferred) {
		size_t cap = l->capdeferred ? l->capdeferred * 2 : 64;
		struct job **p = realloc(l->deferred, cap * sizeof(*p));
		if (!p)
			abort();
		l->deferred = p;
		l->capdeferred = cap;
	}
	l->deferred[l->ndeferred++] = job;
	l->pending++;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	int completed = 0;
	/* Completions may defer new jobs; only the ones queued before this call run now, so a long chain of in-process
	 * steps cannot starve the network transfers. */
	size_t n = l->ndeferred;
	if (n) {
		struct job **batch = malloc(n * sizeof(*batch));
		if (!batch)
			abort();
		for (size_t i = 0; i < n; i++)
			batch[i] = l->deferred[i];
		for (size_t i = n; i < l->ndeferred; i++)
			l->deferred[i - n] = l->deferred[i];
		l->ndeferred -= n;
		for (size_t i = 0; i < n; i++) {
			l->pending--;
			batch[i]->done(batch[i]);
			completed++;
		}
		free(batch);
		timeout_ms = 0;
	}
	int running = 0;
	curl_multi_perform(l->multi, &running);
	if (running > 0 && timeout_ms > 0) {
		curl_multi_poll(l->multi, NULL, 0, timeout_ms, NULL);
		curl_multi_perform(l->multi, &running);
	}
	/* Network providers drain curl_multi_info_read through their own hook registered in l->... (see http.c). */
	return completed;
}

int loop_pending(const struct loop *l)
{
	return l->pending;
}

void *loop_curl_multi(struct loop *l)
{
	return l->multi;
}

unsigned long loop_congestion(const struct loop *l)
{
	return l->congestion;
}

void loop_note_congestion(struct loop *l)
{
	l->congestion++;
}

void loop_job_started(struct loop *l)
{
	l->pending++;
}

void loop_job_finished(struct loop *l)
{
	l->pending--;
}
