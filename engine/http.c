/* http.c - one JSON POST on the loop, retried the way the official SDKs retry, and told apart when it must stop. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "admission.h"
#include "gate.h"
#include "grow.h"
#include "http.h"
#include "loop.h"
#include "util.h"

/* An answer bigger than this is not an API answer: 2048 embeddings of 3072 floats fit well within it. */
#define MAX_ANSWER ((size_t)128 << 20)
/* JSON compresses maybe 10 times; an answer that grows past MAX_EXPANSION times the bytes that came over the wire
 * (beyond a first EXPANSION_FLOOR) is a decompression bomb, refused before it takes the memory it asks for. */
#define MAX_EXPANSION 100
#define EXPANSION_FLOOR ((size_t)1 << 20)

/* Why on_body stopped taking an answer. */
enum refusal { TAKEN, REFUSED_TOO_BIG, REFUSED_EXPANSION, REFUSED_BUFFERS_FULL, REFUSED_OVER_BOUND, REFUSED_NO_MEMORY };

struct http_request {
	struct loop_transfer transfer;    /* first: the loop hands it back */
	struct loop_timer timer;
	struct loop *loop;
	const struct http_client *client;
	const char *label;
	CURL *easy;
	char *body;
	struct buf answer;
	size_t taken;                     /* bytes of answer.cap counted by the gate */
	enum refusal refused;             /* why on_body stopped the current attempt */
	char request_id[128];
	double retry_after_ms;            /* the server's advice, < 0 when none */
	int should_retry;                 /* x-should-retry: -1 absent, 0 false, 1 true */
	int attempts;
	int congested;                    /* attempts answered 429/529 (not quota) */
	int64_t sent_ms;
	struct admission_waiter waiter;   /* this request in the rate limits' line; account NULL when they do not apply */
	bool admitted;                    /* the current attempt passed the rate limits */
	struct rl_headers announced;      /* the rate-limit headers of the current answer */
	char curl_error[CURL_ERROR_SIZE];
	const struct http_callbacks *cb;
	void *ctx;
};

void http_log(const struct http_client *c, const char *fmt, ...)
{
	if (!c->log)
		return;
	char line[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	http_scrub(c, line);
	c->log(c->log_ctx, line);
}

/* Length of the longest piece of key at s that a cut could have left: a prefix of the key (the text was cut after
 * it) or a suffix (the text was cut before it); 0 when shorter than KEY_PIECE_MIN. */
static size_t key_piece_at(const char *s, const char *key, size_t klen)
{
	size_t p = 0;
	while (p < klen && s[p] && s[p] == key[p])
		p++;
	if (p >= KEY_PIECE_MIN)
		return p;
	size_t avail = strnlen(s, klen);
	for (size_t n = avail < klen ? avail : klen - 1; n >= KEY_PIECE_MIN; n--)
		if (memcmp(s, key + klen - n, n) == 0)
			return n;
	return 0;
}

void http_scrub(const struct http_client *client, char *s)
{
	const char *key = client->secret;
	if (!key || !*key)
		return;
	size_t klen = strlen(key);
	/* A key too short to mark is starred in place; either way the search resumes after what it wrote. */
	size_t mlen = klen >= 5 ? 5 : klen;
	char *text = s;
	for (char *hit; (hit = strstr(s, key)); s = hit + mlen) {
		if (klen >= 5) {
			memcpy(hit, "[key]", 5);
			memmove(hit + 5, hit + klen, strlen(hit + klen) + 1);
		} else {
			memset(hit, '*', klen);
		}
	}
	/* Text cut short anywhere (a header kept to 127 bytes, an excerpt of 80) may hold the start or the end of a
	 * key: any such piece of KEY_PIECE_MIN or more characters is masked too. */
	if (klen <= KEY_PIECE_MIN)
		return;
	for (char *at = text; *at;) {
		size_t n = key_piece_at(at, key, klen);
		if (n < 5) {
			at++;
			continue;
		}
		memcpy(at, "[key]", 5);
		memmove(at + 5, at + n, strlen(at + n) + 1);
		at += 5;
	}
}

long http_backoff_ms(int n)
{
	static uint32_t state;
	if (!state)
		state = (uint32_t)loop_now_ms() | 1u;
	state ^= state << 13;
	state ^= state >> 17;
	state ^= state << 5;
	double wait = 500.0;
	for (int i = 0; i < n && wait < 8000.0; i++)
		wait *= 2;
	if (wait > 8000.0)
		wait = 8000.0;
	double jitter = 1.0 - 0.25 * (double)(state % 1000) / 1000.0;
	return (long)(wait * jitter);
}

bool http_retryable(long status, int should_retry, bool quota)
{
	if (quota)
		return false;
	switch (status) {
	case 400: case 401: case 403: case 404: case 413:
		return false;
	}
	if (should_retry >= 0)
		return should_retry == 1;
	return status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599);
}

/* Transport failures worth another attempt: the network or the server hiccuped, not our request or TLS trust. */
static bool transport_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

/* The error object of an API error body in the shapes Anthropic, OpenAI and local servers use. */
struct api_error {
	const char *type, *code, *detail, *message;
};

static void api_error_of(const cJSON *root, struct api_error *e)
{
	memset(e, 0, sizeof(*e));
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (cJSON_IsString(err)) {
		e->message = err->valuestring;
		return;
	}
	if (!cJSON_IsObject(err)) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");
		e->message = cJSON_IsString(m) ? m->valuestring : NULL;
		return;
	}
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(err, "type");
	e->type = cJSON_IsString(v) ? v->valuestring : NULL;
	v = cJSON_GetObjectItemCaseSensitive(err, "code");
	e->code = cJSON_IsString(v) ? v->valuestring : NULL;
	v = cJSON_GetObjectItemCaseSensitive(err, "message");
	e->message = cJSON_IsString(v) ? v->valuestring : NULL;
	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(err, "details"), "error_code");
	e->detail = cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool contains_nocase(const char *hay, const char *needle)
{
	if (!hay)
		return false;
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

static bool is_quota_word(const char *s)
{
	static const char *const codes[] = {"insufficient_quota", "billing_hard_limit_reached",
	                                    "enforced_spend_limit_reached", "billing_error", "spend_limit_reached"};
	if (!s)
		return false;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(s, codes[i]) == 0)
			return true;
	return false;
}

bool http_quota_exhausted(long status, const char *body, size_t len)
{
	/* 429 is the documented answer; Anthropic also says "credit balance" / spend limits with 400 and 402. */
	if (status != 429 && status != 400 && status != 402)
		return false;
	cJSON *root = cJSON_ParseWithLength(body, len);
	if (!root)
		return false;
	struct api_error e;
	api_error_of(root, &e);
	bool quota = is_quota_word(e.type) || is_quota_word(e.code) || is_quota_word(e.detail) ||
	             contains_nocase(e.message, "exceeded your current quota") ||
	             contains_nocase(e.message, "spend limit") || contains_nocase(e.message, "credit balance");
	cJSON_Delete(root);
	return quota;
}

bool http_ok(const struct http_result *r)
{
	return r->status >= 200 && r->status <= 299;
}

void http_describe(const struct http_client *client, const struct http_result *r, char *buf, size_t len)
{
	char attempts[64] = "";
	if (r->requests > 1)
		snprintf(attempts, sizeof(attempts), ", gave up after %d attempts", r->requests);
	if (r->cancelled) {
		snprintf(buf, len, "cancelled: the run stopped");
	} else if (r->status == 0) {
		snprintf(buf, len, "no answer from %s (%s)%s", client->path,
		         r->transport_error ? r->transport_error : "connection failed", attempts);
	} else {
		cJSON *root = cJSON_ParseWithLength(r->body, r->body_len);
		struct api_error e;
		api_error_of(root, &e);
		char excerpt[160] = "";
		if (!e.message) {
			/* Not an API error body (a proxy's page may echo request headers): scrub all of it, then show its
			 * start made printable, so that no piece of a key survives the cut. */
			char *body = xstrndup(r->body, r->body_len);
			http_scrub(client, body);
			size_t n = 0;
			for (size_t i = 0; body[i] && n < sizeof(excerpt) - 1; i++)
				excerpt[n++] = isprint((unsigned char)body[i]) ? body[i] : ' ';
			excerpt[n] = '\0';
			free(body);
		}
		const char *kind = e.type ? e.type : e.code;
		/* Scrubbed whole before it is cut short, so that no piece of a key survives the cut. */
		char *message = xstrdup(e.message ? e.message : (excerpt[0] ? excerpt : "(empty body)"));
		http_scrub(client, message);
		snprintf(buf, len, "HTTP %ld%s%s: %.300s%s%s%s%s", r->status, kind ? " " : "", kind ? kind : "", message,
		         r->request_id[0] ? " (request-id " : "", r->request_id, r->request_id[0] ? ")" : "", attempts);
		free(message);
		cJSON_Delete(root);
	}
	http_scrub(client, buf);
}

/* Frees the answer's buffer and gives its bytes back to the gate. */
static void drop_answer(struct http_request *rq)
{
	if (rq->client->gate)
		gate_buffer_give(rq->client->gate, rq->taken);
	rq->taken = 0;
	buf_free(&rq->answer);
}

/* Takes the answer's bytes as they come (decoded when the server compressed them), within three bounds: one answer
 * (MAX_ANSWER), its expansion over the wire bytes (MAX_EXPANSION), and all answers in flight (the gate's). Returns
 * 0 to stop the transfer, with rq->refused saying why. */
static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct http_request *rq = ctx;
	size_t len = size * n, need = rq->answer.len + len;
	curl_off_t wire = 0;
	if (need > MAX_ANSWER) {
		rq->refused = REFUSED_TOO_BIG;
		return 0;
	}
	if (need > EXPANSION_FLOOR && curl_easy_getinfo(rq->easy, CURLINFO_SIZE_DOWNLOAD_T, &wire) == CURLE_OK &&
	    wire >= 0 && need > (uint64_t)wire * MAX_EXPANSION) {
		rq->refused = REFUSED_EXPANSION;
		return 0;
	}
	size_t cap = rq->answer.cap;
	char *p = grow(rq->answer.data, &cap, need + 1, 1);
	if (!p) {
		rq->refused = REFUSED_NO_MEMORY;
		return 0;
	}
	rq->answer.data = p;
	if (cap > rq->answer.cap && rq->client->gate) {
		enum gate_buffer g = gate_buffer_take(rq->client->gate, rq->taken, cap - rq->answer.cap);
		if (g != GATE_BUFFER_OK) {
			rq->refused = g == GATE_BUFFER_FULL ? REFUSED_BUFFERS_FULL : REFUSED_OVER_BOUND;
			rq->answer.cap = cap;
			drop_answer(rq);
			return 0;
		}
		rq->taken += cap - rq->answer.cap;
	}
	rq->answer.cap = cap;
	buf_add(&rq->answer, data, len);
	return len;
}

/* What on_body's refusal means for the attempt: the message, and whether fewer in flight is the cure. */
static const char *refusal_reason(const struct http_request *rq, char *buf, size_t len, bool *congestion)
{
	size_t bound = rq->client->gate ? gate_buffer_limit(rq->client->gate) >> 20 : 0;
	*congestion = false;
	switch (rq->refused) {
	case REFUSED_TOO_BIG:
		snprintf(buf, len, "the answer is larger than %zu MiB, the bound on one answer", MAX_ANSWER >> 20);
		break;
	case REFUSED_EXPANSION:
		snprintf(buf, len, "the answer decompresses to more than %d times the bytes sent (beyond %zu MiB): a "
		         "decompression bomb, refused", MAX_EXPANSION, EXPANSION_FLOOR >> 20);
		break;
	case REFUSED_BUFFERS_FULL:
		*congestion = true;
		snprintf(buf, len, "the answers in flight would buffer more than %zu MiB, the bound on all answers at once "
		         "(SCRIPTBUILD_MAX_BUFFERED): retrying with fewer in flight", bound);
		break;
	case REFUSED_OVER_BOUND:
		snprintf(buf, len, "the answer alone is larger than %zu MiB, the bound on all answers at once "
		         "(SCRIPTBUILD_MAX_BUFFERED): raise it", bound);
		break;
	case REFUSED_NO_MEMORY:
		snprintf(buf, len, "out of memory for the answer");
		break;
	case TAKEN:
		return NULL;
	}
	return buf;
}

static void trim_value(const char *v, size_t n, char *out, size_t outlen)
{
	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

static int64_t unix_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Seconds or an HTTP date, as ms from now; < 0 when unreadable. */
static double retry_after_value(const char *v)
{
	char *end;
	double secs = strtod(v, &end);
	if (end != v && *end == '\0')
		return secs * 1000.0;
	time_t when = curl_getdate(v, NULL);
	if (when < 0)
		return -1;
	return difftime(when, time(NULL)) * 1000.0;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	struct http_request *rq = ctx;
	size_t len = size * n;
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new status line: whatever came before belonged to an interim answer. */
		rq->request_id[0] = '\0';
		rq->retry_after_ms = -1;
		rq->should_retry = -1;
		rl_headers_clear(&rq->announced);
		return len;
	}
	const char *colon = memchr(data, ':', len);
	if (!colon)
		return len;
	size_t name = (size_t)(colon - data);
	const char *v = colon + 1;
	size_t vlen = len - name - 1;
	char value[128];
	trim_value(v, vlen, value, sizeof(value));
	if (rl_headers_read(&rq->announced, data, name, value, unix_now_ms()))
		return len;
	if ((name == 10 && strncasecmp(data, "request-id", 10) == 0) ||
	    (name == 12 && strncasecmp(data, "x-request-id", 12) == 0)) {
		snprintf(rq->request_id, sizeof(rq->request_id), "%s", value);
	} else if (name == 14 && strncasecmp(data, "retry-after-ms", 14) == 0) {
		char *end;
		double ms = strtod(value, &end);
		if (end != value && *end == '\0')
			rq->retry_after_ms = ms;
	} else if (name == 11 && strncasecmp(data, "retry-after", 11) == 0) {
		/* retry-after-ms is the more precise of the two when both come. */
		if (rq->retry_after_ms < 0)
			rq->retry_after_ms = retry_after_value(value);
	} else if (name == 14 && strncasecmp(data, "x-should-retry", 14) == 0) {
		if (strcasecmp(value, "true") == 0)
			rq->should_retry = 1;
		else if (strcasecmp(value, "false") == 0)
			rq->should_retry = 0;
	}
	return len;
}

static int send_attempt(struct http_request *rq)
{
	/* A waiting retry holds no memory: the bound counts only answers on their way. */
	drop_answer(rq);
	rq->refused = TAKEN;
	rq->request_id[0] = '\0';
	rq->retry_after_ms = -1;
	rq->should_retry = -1;
	rl_headers_clear(&rq->announced);
	rq->curl_error[0] = '\0';
	rq->attempts++;
	rq->sent_ms = loop_now_ms();
	if (loop_add_transfer(rq->loop, rq->easy, &rq->transfer) < 0)
		return -1;
	if (rq->client->gate)
		gate_request_started(rq->client->gate);
	return 0;
}

/* Whether the gate lets an attempt go now; when not, the timer asks again later. */
static bool admitted(struct http_request *rq)
{
	long wait;
	if (!rq->client->gate || gate_admit(rq->client->gate, loop_now_ms(), &wait) == GATE_OPEN)
		return true;
	/* "When a slot frees" is polled with jitter, so the waiting requests do not all wake in step. */
	loop_timer_start(rq->loop, &rq->timer, wait > 0 ? wait : 20 + rand() % 30);
	return false;
}

static struct http_result result_of(const struct http_request *rq, long status, const char *transport_error)
{
	struct http_result r = {
		.status = status,
		.body = rq->answer.data ? rq->answer.data : "",
		.body_len = rq->answer.len,
		.request_id = rq->request_id,
		.transport_error = transport_error,
		.requests = rq->attempts,
		.retries = rq->attempts > 0 ? rq->attempts - 1 : 0,
		.admitted = rq->admitted ? &rq->waiter.ticket : NULL,
	};
	return r;
}

static void finish(struct http_request *rq, struct http_result *r)
{
	rq->cb->done(rq->ctx, r);
	curl_easy_cleanup(rq->easy);
	drop_answer(rq);
	free(rq->body);
	free(rq);
}

static void finish_cancelled(struct http_request *rq)
{
	struct http_result r = result_of(rq, 0, NULL);
	r.cancelled = true;
	finish(rq, &r);
}

static void send_admitted(struct http_request *rq)
{
	if (send_attempt(rq) < 0) {
		struct http_result r = result_of(rq, 0, "the transfer could not be added to the event loop");
		finish(rq, &r);
	}
}

/* The rate limits let a waiting attempt through, from inside the loop. */
static void on_admitted(struct admission_waiter *w)
{
	struct http_request *rq = (struct http_request *)(void *)((char *)w - offsetof(struct http_request, waiter));
	rq->admitted = true;
	if (loop_aborted(rq->loop)) {
		finish_cancelled(rq);
		return;
	}
	send_admitted(rq);
}

/* Whether the rate limits let the attempt go now; when not, on_admitted sends it later. */
static bool ask_limits(struct http_request *rq, bool retry)
{
	rq->admitted = false;
	if (!rq->client->limits || !rq->waiter.account)
		return true;
	if (!admission_ask(rq->client->limits, &rq->waiter, retry))
		return false;
	rq->admitted = true;
	return true;
}

static void retry_now(struct loop_timer *t)
{
	struct http_request *rq = (struct http_request *)(void *)((char *)t - offsetof(struct http_request, timer));
	if (loop_aborted(rq->loop)) {
		finish_cancelled(rq);
		return;
	}
	/* A retry waits for a free slot under the lowered window like a new request would: resending into a server
	 * that just said "too many" would only earn another 429. */
	if (!admitted(rq))
		return;
	if (ask_limits(rq, true))
		send_admitted(rq);
}

/* curl says only "Couldn't connect" when socket() failed for want of a descriptor: ask the system the same question
 * (the other transfers still hold theirs). EMFILE or ENFILE when out of descriptors, else 0. */
static long descriptors_exhausted(void)
{
	int probe = dup(STDERR_FILENO);
	if (probe >= 0) {
		close(probe);
		return 0;
	}
	return errno == EMFILE || errno == ENFILE ? errno : 0;
}

static void on_finished(struct loop_transfer *t, int curl_result)
{
	struct http_request *rq = (struct http_request *)(void *)t;
	const struct http_client *c = rq->client;
	CURLcode rc = (CURLcode)curl_result;
	long elapsed = (long)(loop_now_ms() - rq->sent_ms);
	if (c->gate)
		gate_request_finished(c->gate);
	if (rc == CURLE_ABORTED_BY_CALLBACK && loop_aborted(rq->loop)) {
		finish_cancelled(rq);
		return;
	}
	long status = 0;
	bool retry;
	char what[CURL_ERROR_SIZE + 96], detail[320] = "", refusal[CURL_ERROR_SIZE];
	struct http_result r;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &status);
		/* Every answer, a refusal too, says what is left: the next admissions pace by it. */
		if (rq->admitted)
			admission_observe(c->limits, &rq->waiter.ticket, &rq->announced,
			                  status == 429 && !http_quota_exhausted(status, rq->answer.data ? rq->answer.data : "",
			                                                         rq->answer.len));
		r = result_of(rq, status, NULL);
		if (http_ok(&r)) {
			char why[300] = "";
			enum http_verdict verdict = rq->cb->accept(rq->ctx, &r, why, sizeof(why));
			if (verdict == HTTP_ACCEPTED) {
				http_log(c, "%s: %s %s -> HTTP %ld in %ld ms%s%s", rq->label, c->get ? "GET" : "POST", c->path, status, elapsed,
				         rq->request_id[0] ? ", request-id " : "", rq->request_id);
				finish(rq, &r);
				return;
			}
			/* Malformed, cut off or invalid: another attempt may well be fine, and nothing was kept. */
			retry = verdict == HTTP_RETRY;
			snprintf(what, sizeof(what), "HTTP %ld", status);
			snprintf(detail, sizeof(detail), ": unusable answer: %s", why);
		} else {
			bool quota = http_quota_exhausted(status, r.body, r.body_len);
			if ((status == 429 || status == 529) && !quota) {
				if (c->gate)
					gate_note_congestion(c->gate);
				rq->congested++;
			}
			if (status == 429 && !quota && c->limits)
				admission_note_throttled(c->limits);
			r.fatal = quota || status == 401 || status == 403;
			retry = http_retryable(status, rq->should_retry, quota);
			snprintf(what, sizeof(what), "HTTP %ld", status);
		}
	} else {
		if (rq->admitted)
			admission_unanswered(c->limits, &rq->waiter.ticket);
		const char *why = rq->curl_error[0] ? rq->curl_error : curl_easy_strerror(rc);
		bool congestion = false;
		long os_errno = 0;
		curl_easy_getinfo(rq->easy, CURLINFO_OS_ERRNO, &os_errno);
		retry = transport_retryable(rc);
		if (rc == CURLE_WRITE_ERROR && refusal_reason(rq, refusal, sizeof(refusal), &congestion)) {
			why = refusal;
			/* A bomb may be one bad answer among good ones: another attempt is allowed, like a cut-off one. */
			retry = rq->refused == REFUSED_EXPANSION || congestion;
			if (congestion) {
				if (c->gate)
					gate_note_congestion(c->gate);
				rq->congested++;
			}
		}
		if (rc == CURLE_COULDNT_CONNECT && !os_errno)
			os_errno = descriptors_exhausted();
		if (os_errno == EMFILE || os_errno == ENFILE) {
			/* Not the server's fault: this process is out of descriptors. Fewer in flight is the cure, so it
			 * counts as congestion (the window shrinks) and draws on the patient "slow down" budget. */
			why = os_errno == EMFILE ? "out of file descriptors (EMFILE): raise ulimit -n or lower -j"
			                         : "the system is out of file descriptors (ENFILE): lower -j";
			if (c->gate)
				gate_note_congestion(c->gate);
			rq->congested++;
			retry = true;
		}
		r = result_of(rq, 0, why);
		snprintf(what, sizeof(what), "no answer (%s)", why);
	}
	/* "Slow down" answers are obeyed patiently: they draw on a budget of their own, four times --retries, so a
	 * server that admits fewer requests than -j still gets the whole job done while real failures stay bounded. */
	int failures = rq->attempts - rq->congested;
	bool exhausted = failures > c->retries || rq->congested > 4 * c->retries;
	if (!retry || exhausted || loop_aborted(rq->loop)) {
		http_log(c, "%s: %s %s -> %s in %ld ms%s%s%s%s", rq->label, c->get ? "GET" : "POST", c->path, what, elapsed,
		         rq->request_id[0] ? ", request-id " : "", rq->request_id, detail, retry ? "; out of retries" : "");
		finish(rq, &r);
		return;
	}
	/* The server's advice wins when it is sane; a minute or more means "not now", so back off ourselves. */
	long wait = rq->retry_after_ms >= 0 && rq->retry_after_ms <= 60000 ? (long)rq->retry_after_ms
	                                                                    : http_backoff_ms(rq->attempts - 1);
	http_log(c, "%s: %s %s -> %s in %ld ms%s%s%s; retry %d/%d in %ld ms", rq->label, c->get ? "GET" : "POST", c->path, what, elapsed,
	         rq->request_id[0] ? ", request-id " : "", rq->request_id, detail, rq->attempts, c->retries, wait);
	loop_timer_start(rq->loop, &rq->timer, wait);
}

int http_post(struct loop *l, const struct http_client *client, const char *label, char *body,
              const struct http_budget *budget, const struct http_callbacks *cb, void *ctx, char *err, size_t errlen)
{
	if (loop_aborted(l)) {
		free(body);
		snprintf(err, errlen, "cancelled: the run stopped");
		return -1;
	}
	struct http_request *rq = xcalloc(1, sizeof(*rq));
	rq->transfer.finished = on_finished;
	rq->timer.fire = retry_now;
	rq->loop = l;
	rq->client = client;
	rq->label = label;
	rq->body = body;
	rq->cb = cb;
	rq->ctx = ctx;
	if (budget && budget->account) {
		rq->waiter.account = budget->account;
		rq->waiter.cost = budget->cost;
		rq->waiter.admitted = on_admitted;
	}
	rq->easy = curl_easy_init();
	if (!rq->easy) {
		free(body);
		free(rq);
		snprintf(err, errlen, "could not create an HTTP request (out of memory?)");
		return -1;
	}
	CURL *e = rq->easy;
	curl_easy_setopt(e, CURLOPT_URL, client->url);
	if (client->get) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, client->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "scriptbuild/" SCRIPTBUILD_VERSION);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/* Over TLS wait for a connection that may multiplex rather than open a new one per request. */
	if (strncasecmp(client->url, "https:", 6) == 0)
		curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, client->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, client->timeout_ms);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, rq);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, rq);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, rq->curl_error);
	/* The first attempt asks the gate like every retry; a refused one waits on the timer, as a retry would. Then
	 * the rate limits: a request they hold waits in their line and starts from the loop. */
	if (!admitted(rq) || !ask_limits(rq, false))
		return 0;
	if (send_attempt(rq) < 0) {
		curl_easy_cleanup(e);
		free(body);
		free(rq);
		snprintf(err, errlen, "could not add the HTTP request to the event loop");
		return -1;
	}
	return 0;
}
