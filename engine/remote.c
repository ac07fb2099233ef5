/* remote.c - Bazel's HTTP cache protocol over the loop's libcurl multi: lookups pipelined (ac, then the cas blob it
 * names), uploads in the background behind them (cas before ac, so an ac entry never names an absent blob). The first
 * failure turns the remote off for the rest of the run, as ccache does: a dead server costs one timeout, not one per
 * step. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "base64.h"
#include "loop.h"
#include "remote.h"
#include "util.h"

/* An action entry is a few hundred bytes; a result blob a few hundred kilobytes at most. */
#define MAX_AC_BYTES ((size_t)64 << 10)
#define MAX_BLOB_BYTES ((size_t)64 << 20)
/* Uploads never take more than this share of the wire, so lookups on the critical path find a free slot. */
#define UPLOAD_SHARE 4

enum op_stage { GET_AC, GET_CAS, PUT_CAS, PUT_AC, DEFERRED };

struct op {
	struct loop_transfer transfer;    /* first: the loop hands it back */
	struct loop_timer timer;          /* a deferred answer (the remote is off): never called back from remote_get */
	struct remote *r;
	enum op_stage stage;
	char key_hex[SHA256_HEX_LEN + 1];
	char blob_hex[SHA256_HEX_LEN + 1];
	uint64_t blob_size;
	CURL *easy;
	struct curl_slist *headers;
	struct buf body;                  /* what the server sent */
	size_t body_cap;                  /* most bytes this stage accepts */
	bool too_big;
	char *data;                       /* upload: the blob */
	size_t len;
	char *meta;                       /* lookup: the metadata found; upload: the metadata to attach */
	char *ac_json;                    /* upload: the action entry */
	remote_got done;
	void *ctx;
	struct op *next;
	char curl_error[CURL_ERROR_SIZE];
};

struct remote {
	struct loop *loop;
	char *url;                        /* without a trailing slash; may carry credentials: never shown */
	char *display;                    /* the url without credentials */
	char *auth;                       /* "Authorization: Bearer ..." or NULL */
	char *password;                   /* for scrubbing messages */
	const char *token;
	enum remote_mode mode;
	long timeout_ms, connect_timeout_ms;
	int max_in_flight;
	int on_wire, uploads_on_wire;
	struct op *lookups, *lookups_tail;   /* waiting for a slot */
	struct op *uploads, *uploads_tail;
	size_t lookups_pending;           /* asked and not yet answered */
	size_t uploads_pending;           /* queued or on the wire */
	bool off;                         /* a transfer failed: no more traffic this run */
	bool warned;
	bool draining;                    /* remote_drain gave up: what ends now is dropped */
	void (*warn)(void *ctx, const char *message);
	void *warn_ctx;
	struct remote_counts counts;
};

static void pump(struct remote *r);

/* Replaces every occurrence of secret in s with "***" (s never grows). */
static void scrub(char *s, const char *secret)
{
	if (!secret || !*secret)
		return;
	size_t n = strlen(secret);
	for (char *hit; (hit = strstr(s, secret)); s = hit + (n >= 3 ? 3 : n)) {
		if (n >= 3) {
			memcpy(hit, "***", 3);
			memmove(hit + 3, hit + n, strlen(hit + n) + 1);
		} else {
			memset(hit, '*', n);
		}
	}
}

static void warn_once(struct remote *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn_once(struct remote *r, const char *fmt, ...)
{
	if (r->warned || !r->warn)
		return;
	r->warned = true;
	char text[640], line[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "remote cache %s: %s; the run goes on without it (further remote problems are "
	         "counted, not reported)", r->display, text);
	scrub(line, r->token);
	scrub(line, r->password);
	r->warn(r->warn_ctx, line);
}

int remote_mode_parse(const char *s, enum remote_mode *out)
{
	if (strcmp(s, "read-write") == 0)
		*out = REMOTE_READ_WRITE;
	else if (strcmp(s, "read-only") == 0)
		*out = REMOTE_READ_ONLY;
	else
		return -1;
	return 0;
}

/* Splits the credentials off url: the display form and the password, through libcurl's own URL parser. */
static int parse_url(struct remote *r, const char *url, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *display = NULL, *password = NULL;
	int rc = -1;
	if (!u)
		out_of_memory();
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		snprintf(err, errlen, "--remote-cache: not a URL (want http://HOST[:PORT][/PREFIX] or https://...)");
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		snprintf(err, errlen, "--remote-cache: scheme %.20s is not http or https", scheme);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK)
		r->password = xstrdup(password);
	curl_url_set(u, CURLUPART_USER, NULL, 0);
	curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
	curl_url_set(u, CURLUPART_QUERY, NULL, 0);
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &display, 0) != CURLUE_OK)
		out_of_memory();
	r->display = xstrdup(display);
	rc = 0;
out:
	curl_free(scheme);
	curl_free(display);
	curl_free(password);
	curl_url_cleanup(u);
	return rc;
}

struct remote *remote_new(struct loop *l, const struct remote_config *cfg, char *err, size_t errlen)
{
	struct remote *r = xcalloc(1, sizeof(*r));
	r->loop = l;
	if (parse_url(r, cfg->url, err, errlen) < 0) {
		remote_free(r);
		return NULL;
	}
	size_t n = strlen(cfg->url);
	while (n > 0 && cfg->url[n - 1] == '/')
		n--;
	r->url = xstrndup(cfg->url, n);
	size_t d = strlen(r->display);
	while (d > 0 && r->display[d - 1] == '/')
		r->display[--d] = '\0';
	const char *token = cfg->token ? cfg->token : getenv("SCRIPTBUILD_REMOTE_CACHE_TOKEN");
	if (token && *token) {
		if (strpbrk(token, "\r\n")) {
			snprintf(err, errlen, "SCRIPTBUILD_REMOTE_CACHE_TOKEN holds a line break: set it to the token alone");
			remote_free(r);
			return NULL;
		}
		r->auth = xasprintf("Authorization: Bearer %s", token);
		r->token = r->auth + strlen("Authorization: Bearer ");
	}
	r->mode = cfg->mode;
	r->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
	r->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 2000;
	r->max_in_flight = cfg->max_in_flight > 0 ? cfg->max_in_flight : 16;
	r->warn = cfg->warn;
	r->warn_ctx = cfg->warn_ctx;
	return r;
}

static void op_free(struct op *op)
{
	if (op->easy)
		curl_easy_cleanup(op->easy);
	curl_slist_free_all(op->headers);
	buf_free(&op->body);
	free(op->data);
	free(op->meta);
	free(op->ac_json);
	free(op);
}

void remote_free(struct remote *r)
{
	if (!r)
		return;
	for (struct op *op = r->lookups, *next; op; op = next) {
		next = op->next;
		op_free(op);
	}
	for (struct op *op = r->uploads, *next; op; op = next) {
		next = op->next;
		op_free(op);
	}
	if (r->password)
		memset(r->password, 0, strlen(r->password));
	if (r->auth)
		memset(r->auth, 0, strlen(r->auth));
	free(r->password);
	free(r->auth);
	free(r->url);
	free(r->display);
	free(r);
}

const char *remote_display_url(const struct remote *r)
{
	return r->display;
}

const struct remote_counts *remote_counts(const struct remote *r)
{
	return &r->counts;
}

size_t remote_lookups_pending(const struct remote *r)
{
	return r->lookups_pending;
}

void remote_reject(struct remote *r, const char *why)
{
	if (r->counts.hits > 0)
		r->counts.hits--;
	r->counts.refused++;
	warn_once(r, "refused an invalid result: %s", why);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct op *op = arg;
	size_t bytes = size * n;
	if (op->body.len + bytes > op->body_cap) {
		op->too_big = true;
		return 0;
	}
	buf_add(&op->body, data, bytes);
	return bytes;
}

static void on_transfer(struct loop_transfer *t, int curl_result);

/* Puts op's current stage on the wire: 0, or -1 when libcurl refuses it. */
static int send_stage(struct op *op)
{
	struct remote *r = op->r;
	CURL *e = op->easy ? op->easy : curl_easy_init();
	if (!e)
		return -1;
	if (op->easy)
		curl_easy_reset(e);
	op->easy = e;
	curl_slist_free_all(op->headers);
	op->headers = NULL;
	buf_free(&op->body);
	op->too_big = false;
	op->curl_error[0] = '\0';
	bool ac = op->stage == GET_AC || op->stage == PUT_AC;
	char *url = xasprintf("%s/%s/%s", r->url, ac ? "ac" : "cas", ac ? op->key_hex : op->blob_hex);
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->curl_error);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "scriptbuild/" SCRIPTBUILD_VERSION);
	if (r->auth)
		op->headers = curl_slist_append(op->headers, r->auth);
	switch (op->stage) {
	case GET_AC:
		/* bazel-remote answers protobuf unless JSON is asked for. */
		op->headers = curl_slist_append(op->headers, "Accept: application/json");
		op->body_cap = MAX_AC_BYTES;
		break;
	case GET_CAS:
		op->body_cap = MAX_BLOB_BYTES;
		break;
	case PUT_CAS:
	case PUT_AC: {
		const char *body = op->stage == PUT_CAS ? op->data : op->ac_json;
		size_t len = op->stage == PUT_CAS ? op->len : strlen(op->ac_json);
		op->headers = curl_slist_append(op->headers, op->stage == PUT_CAS ? "Content-Type: application/octet-stream"
		                                                                  : "Content-Type: application/json");
		/* A PUT's answer is a status line; 100-continue would only add a round trip. */
		op->headers = curl_slist_append(op->headers, "Expect:");
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		op->body_cap = MAX_AC_BYTES;
		break;
	}
	case DEFERRED:
		break;
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, op->headers);
	op->transfer.finished = on_transfer;
	if (loop_add_transfer(r->loop, e, &op->transfer) < 0)
		return -1;
	r->on_wire++;
	if (op->stage == PUT_CAS || op->stage == PUT_AC)
		r->uploads_on_wire++;
	return 0;
}

/* The server failed us once: say so, and send nothing more this run. */
static void fail_remote(struct remote *r, const char *why)
{
	r->counts.errors++;
	warn_once(r, "%s", why);
	r->off = true;
}

static void answer(struct op *op, enum remote_answer a, char *data, size_t len)
{
	struct remote *r = op->r;
	switch (a) {
	case REMOTE_HIT: r->counts.hits++; break;
	case REMOTE_MISS: r->counts.misses++; break;
	case REMOTE_REFUSED: r->counts.refused++; break;
	case REMOTE_ERROR: break;
	}
	r->lookups_pending--;
	op->done(op->ctx, a, data, len, op->meta ? op->meta : "");
	op_free(op);
}

static void on_deferred(struct loop_timer *t)
{
	struct op *op = (struct op *)(void *)((char *)t - offsetof(struct op, timer));
	answer(op, REMOTE_MISS, NULL, 0);
}

/* Reads the action entry: the result blob's name and size, and the metadata the writer attached. */
static int read_action(struct op *op, char *why, size_t whylen)
{
	cJSON *root = cJSON_ParseWithLength(op->body.data ? op->body.data : "", op->body.len);
	int rc = -1;
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "outputFiles"), *f, *found = NULL;
	cJSON_ArrayForEach(f, files) {
		const cJSON *path = cJSON_GetObjectItemCaseSensitive(f, "path");
		if (cJSON_IsString(path) && strcmp(path->valuestring, "result.json") == 0)
			found = f;
	}
	const cJSON *digest = cJSON_GetObjectItemCaseSensitive(found, "digest");
	const cJSON *hash = cJSON_GetObjectItemCaseSensitive(digest, "hash");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(digest, "sizeBytes");
	double bytes = cJSON_IsString(size) ? strtod(size->valuestring, NULL) : cJSON_IsNumber(size) ? size->valuedouble
	                                                                                             : -1;
	if (!cJSON_IsObject(root) || !found) {
		snprintf(why, whylen, "/ac/%s is not an ActionResult naming result.json", op->key_hex);
		goto out;
	}
	if (!cJSON_IsString(hash) || strlen(hash->valuestring) != SHA256_HEX_LEN ||
	    strspn(hash->valuestring, "0123456789abcdef") != SHA256_HEX_LEN || bytes < 0 ||
	    bytes > (double)MAX_BLOB_BYTES || bytes != (double)(uint64_t)bytes) {
		snprintf(why, whylen, "/ac/%s names no valid blob digest", op->key_hex);
		goto out;
	}
	memcpy(op->blob_hex, hash->valuestring, SHA256_HEX_LEN + 1);
	op->blob_size = (uint64_t)bytes;
	/* The metadata rides in stdoutRaw (proto3 JSON: base64 bytes), which every server keeps with the entry. */
	const cJSON *raw = cJSON_GetObjectItemCaseSensitive(root, "stdoutRaw");
	if (cJSON_IsString(raw)) {
		size_t n = strlen(raw->valuestring), out;
		unsigned char *meta = xmalloc(base64_decoded_max(n) + 1);
		if (base64_decode(raw->valuestring, n, meta, &out) == 0 && out < 4096) {
			meta[out] = '\0';
			op->meta = (char *)meta;
		} else {
			free(meta);
		}
	}
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

static void start_lookup_blob(struct op *op)
{
	op->stage = GET_CAS;
	if (send_stage(op) < 0) {
		fail_remote(op->r, "libcurl refused a transfer");
		answer(op, REMOTE_ERROR, NULL, 0);
	}
}

static void lookup_finished(struct op *op, int curl_result, long status)
{
	struct remote *r = op->r;
	char why[512];
	if (curl_result == CURLE_ABORTED_BY_CALLBACK || (curl_result != CURLE_OK && !op->too_big)) {
		if (curl_result != CURLE_ABORTED_BY_CALLBACK) {
			snprintf(why, sizeof(why), "GET /%s: %s", op->stage == GET_AC ? "ac" : "cas",
			         op->curl_error[0] ? op->curl_error : curl_easy_strerror((CURLcode)curl_result));
			fail_remote(r, why);
		}
		answer(op, REMOTE_ERROR, NULL, 0);
		return;
	}
	if (op->too_big) {
		warn_once(r, "GET /%s/%s: the answer is larger than any result", op->stage == GET_AC ? "ac" : "cas",
		          op->stage == GET_AC ? op->key_hex : op->blob_hex);
		answer(op, REMOTE_REFUSED, NULL, 0);
		return;
	}
	if (status == 404) {
		/* An entry naming a blob the server no longer has is a miss, like no entry at all. */
		answer(op, REMOTE_MISS, NULL, 0);
		return;
	}
	if (status < 200 || status > 299) {
		snprintf(why, sizeof(why), "GET /%s answered HTTP %ld", op->stage == GET_AC ? "ac" : "cas", status);
		fail_remote(r, why);
		answer(op, REMOTE_ERROR, NULL, 0);
		return;
	}
	if (op->stage == GET_AC) {
		if (read_action(op, why, sizeof(why)) < 0) {
			warn_once(r, "refused %s", why);
			answer(op, REMOTE_REFUSED, NULL, 0);
			return;
		}
		start_lookup_blob(op);
		return;
	}
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex(op->body.data ? op->body.data : "", op->body.len, hex);
	if (op->body.len != op->blob_size || strcmp(hex, op->blob_hex) != 0) {
		warn_once(r, "refused /cas/%s: its %zu bytes hash to %s", op->blob_hex, op->body.len, hex);
		answer(op, REMOTE_REFUSED, NULL, 0);
		return;
	}
	char *data = xmalloc(op->body.len + 1);
	if (op->body.len)
		memcpy(data, op->body.data, op->body.len);
	data[op->body.len] = '\0';
	answer(op, REMOTE_HIT, data, op->body.len);
}

static void upload_finished(struct op *op, int curl_result, long status)
{
	struct remote *r = op->r;
	char why[512];
	if (curl_result == CURLE_ABORTED_BY_CALLBACK || r->draining) {
		r->counts.dropped++;
	} else if (curl_result != CURLE_OK) {
		snprintf(why, sizeof(why), "PUT /%s: %s", op->stage == PUT_AC ? "ac" : "cas",
		         op->curl_error[0] ? op->curl_error : curl_easy_strerror((CURLcode)curl_result));
		fail_remote(r, why);
	} else if (status < 200 || status > 299) {
		snprintf(why, sizeof(why), "PUT /%s answered HTTP %ld", op->stage == PUT_AC ? "ac" : "cas", status);
		fail_remote(r, why);
	} else if (op->stage == PUT_CAS) {
		/* The blob is there: only now may an action entry name it. */
		op->stage = PUT_AC;
		if (!r->off && send_stage(op) == 0)
			return;
		r->counts.dropped++;
	} else {
		r->counts.uploads++;
	}
	r->uploads_pending--;
	op_free(op);
}

static void on_transfer(struct loop_transfer *t, int curl_result)
{
	struct op *op = (struct op *)(void *)t;
	struct remote *r = op->r;
	long status = 0;
	curl_off_t down = 0, up = 0;
	curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(op->easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
	curl_easy_getinfo(op->easy, CURLINFO_SIZE_UPLOAD_T, &up);
	r->counts.bytes_down += (uint64_t)down;
	r->counts.bytes_up += (uint64_t)up;
	r->on_wire--;
	if (op->stage == PUT_CAS || op->stage == PUT_AC) {
		r->uploads_on_wire--;
		upload_finished(op, curl_result, status);
	} else {
		lookup_finished(op, curl_result, status);
	}
	pump(r);
}

/* Starts what waits, lookups first, within the wire's bound; answers everything at once when the remote is off. */
static void pump(struct remote *r)
{
	while (r->lookups && (r->off || r->on_wire < r->max_in_flight)) {
		struct op *op = r->lookups;
		r->lookups = op->next;
		if (!r->lookups)
			r->lookups_tail = NULL;
		op->next = NULL;
		if (r->off || send_stage(op) < 0) {
			op->stage = DEFERRED;
			op->timer.fire = on_deferred;
			loop_timer_start(r->loop, &op->timer, 0);
		}
	}
	int upload_slots = r->max_in_flight / UPLOAD_SHARE > 0 ? r->max_in_flight / UPLOAD_SHARE : 1;
	while (r->uploads && (r->off || (r->on_wire < r->max_in_flight && r->uploads_on_wire < upload_slots))) {
		struct op *op = r->uploads;
		r->uploads = op->next;
		if (!r->uploads)
			r->uploads_tail = NULL;
		op->next = NULL;
		if (r->off || send_stage(op) < 0) {
			r->counts.dropped++;
			r->uploads_pending--;
			op_free(op);
		}
	}
}

void remote_get(struct remote *r, const unsigned char key[SHA256_BYTES], remote_got done, void *ctx)
{
	struct op *op = xcalloc(1, sizeof(*op));
	op->r = r;
	op->stage = GET_AC;
	sha256_to_hex(key, op->key_hex);
	op->done = done;
	op->ctx = ctx;
	r->lookups_pending++;
	if (r->lookups_tail)
		r->lookups_tail->next = op;
	else
		r->lookups = op;
	r->lookups_tail = op;
	pump(r);
}

/* proto3 JSON writes bytes fields as standard base64. */
static char *base64_encode(const char *text)
{
	size_t n = strlen(text);
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)text, (int)n);
	return out;
}

void remote_put(struct remote *r, const unsigned char key[SHA256_BYTES], const void *data, size_t len,
                const char *meta)
{
	if (r->mode == REMOTE_READ_ONLY)
		return;
	if (r->off) {
		r->counts.dropped++;
		return;
	}
	struct op *op = xcalloc(1, sizeof(*op));
	op->r = r;
	op->stage = PUT_CAS;
	sha256_to_hex(key, op->key_hex);
	sha256_hex(data, len, op->blob_hex);
	op->data = xmalloc(len ? len : 1);
	if (len)
		memcpy(op->data, data, len);
	op->len = len;
	char *raw = base64_encode(meta ? meta : "");
	/* An ActionResult in proto3 JSON, as bazel-remote's validation accepts it: int64 sizes are strings. */
	op->ac_json = xasprintf("{\"outputFiles\":[{\"path\":\"result.json\",\"digest\":{\"hash\":\"%s\","
	                        "\"sizeBytes\":\"%zu\"}}],\"stdoutRaw\":\"%s\",\"exitCode\":0}",
	                        op->blob_hex, len, raw);
	free(raw);
	r->uploads_pending++;
	if (r->uploads_tail)
		r->uploads_tail->next = op;
	else
		r->uploads = op;
	r->uploads_tail = op;
	pump(r);
}

uint64_t remote_drain(struct remote *r, long max_ms)
{
	int64_t deadline = loop_now_ms() + max_ms;
	while (r->uploads_pending > 0 && loop_now_ms() < deadline) {
		int64_t left = deadline - loop_now_ms();
		loop_run_once(r->loop, left < 100 ? (int)left : 100);
	}
	uint64_t before = r->counts.dropped;
	if (r->uploads_pending > 0) {
		r->draining = true;
		/* What is still queued never went out; what is on the wire ends now. */
		while (r->uploads) {
			struct op *op = r->uploads;
			r->uploads = op->next;
			r->counts.dropped++;
			r->uploads_pending--;
			op_free(op);
		}
		r->uploads_tail = NULL;
		loop_abort(r->loop);
		while (r->uploads_pending > 0)
			loop_run_once(r->loop, 0);
	}
	return r->counts.dropped - before;
}
