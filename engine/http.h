/* http.h - one JSON POST on the loop: timeouts, retries with backoff that honours the server, error classification. */
#ifndef SB_HTTP_H
#define SB_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "ratelimit.h"

struct admission;
struct curl_slist;
struct gate;
struct loop;

/* What every request of one endpoint shares; the provider owns it and keeps it alive while requests run. */
struct http_client {
	const char *url;                  /* the endpoint */
	const char *path;                 /* what log lines show of the url (never a host with credentials) */
	struct curl_slist *headers;       /* request headers, the auth header included */
	const char *secret;               /* the API key, scrubbed from every message and log line; may be NULL */
	int retries;                      /* retries after the first attempt */
	long connect_timeout_ms;
	long timeout_ms;                  /* per attempt */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
	struct gate *gate;                /* admits every attempt and hears of "slow down" answers; NULL admits all */
	struct admission *limits;         /* the rate limits every attempt is admitted by (admission.h); NULL: none */
	bool get;                         /* a GET with no body (polling a message batch) instead of a JSON POST */
};

/* What each attempt of a request must be admitted for under client->limits; account NULL: they do not apply. */
struct http_budget {
	struct rl_account *account;
	struct rl_cost cost;
};

/* How a request ended. */
struct http_result {
	long status;                      /* the last answer's HTTP status; 0 when none came complete */
	const char *body;                 /* the last answer's body, NUL-terminated, "" when none */
	size_t body_len;
	const char *request_id;           /* request-id / x-request-id of the last answer, "" when absent */
	const char *transport_error;      /* why no answer came (curl's words), NULL when one did */
	int requests;                     /* attempts sent */
	int retries;
	const struct rl_ticket *admitted; /* the last attempt's admission by the gate, NULL when none */
	bool cancelled;                   /* loop_abort stopped it */
	bool fatal;                       /* the run cannot go on: quota or spend limit exhausted, key refused */
};

/* What the owner of a request made of a 2xx answer. */
enum http_verdict { HTTP_ACCEPTED, HTTP_RETRY, HTTP_REJECTED };

/* What a request reports to its owner; ctx is the one given to http_post. */
struct http_callbacks {
	/* Takes a 2xx answer: HTTP_ACCEPTED when it is usable, else why filled (malformed, cut off, invalid...) and
	 * HTTP_RETRY to retry it like a 5xx while retries remain, or HTTP_REJECTED when another attempt would not help. */
	enum http_verdict (*accept)(void *ctx, const struct http_result *result, char *why, size_t whylen);
	/* Runs exactly once with the accepted answer or the last failure; result is valid only during the call. */
	void (*done)(void *ctx, const struct http_result *result);
};

/* Sends body (taken over, freed by http; NULL for a GET client) as a POST of client on l (a GET when client->get), each attempt once client->gate admits budget
 * (NULL: at once); the callbacks run from inside loop_run_once, never from here. 0, or -1 with err set (no callback
 * ever runs). label names the step in log lines. */
int http_post(struct loop *l, const struct http_client *client, const char *label, char *body,
              const struct http_budget *budget, const struct http_callbacks *cb, void *ctx, char *err, size_t errlen);

/* Whether the result is a 2xx answer. */
bool http_ok(const struct http_result *r);

/* Writes why a non-2xx result failed: status, the server's error type and message, request-id, attempts; scrubbed. */
void http_describe(const struct http_client *client, const struct http_result *r, char *buf, size_t len);

/* The shortest piece of a key that is masked, or looked for in an answer: shorter runs match ordinary text by chance
 * (a local server's placeholder key such as "k" is no secret). */
#define KEY_PIECE_MIN 8

/* Replaces every occurrence of client->secret in s with "[key]", and every piece of it of 8 or more characters that
 * a cut may have left (a prefix or a suffix of the key, anywhere in s) too (s only shrinks). */
void http_scrub(const struct http_client *client, char *s);

/* Formats a line, scrubs it of the client's key and hands it to the client's log callback; nothing without one. */
void http_log(const struct http_client *client, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Milliseconds to wait before retry number n (0-based) without server advice: 0.5 s x 2^n capped at 8 s, minus up
 * to 25 % jitter. */
long http_backoff_ms(int n);

/* Whether an HTTP answer with status and the server's x-should-retry (-1 absent, 0 false, 1 true) is worth retrying,
 * given whether its body says the quota is exhausted. */
bool http_retryable(long status, int should_retry, bool quota);

/* Whether an error answer says the quota, credit or spend limit is exhausted (no retry can help). */
bool http_quota_exhausted(long status, const char *body, size_t len);

#endif
