/* remote.h - the remote cache tier: a client of Bazel's HTTP cache layout (GET/PUT {URL}/ac/{K}, {URL}/cas/{H},
 * SHA-256 names), as bazel-remote or nginx with WebDAV PUT serve it, on the engine's one event loop. It never fails a
 * build: every problem is a miss, counted, and reported through warn() once per run. */
#ifndef SB_REMOTE_H
#define SB_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

struct loop;
struct remote;

enum remote_mode { REMOTE_READ_WRITE, REMOTE_READ_ONLY };

struct remote_config {
	const char *url;             /* http(s)://[user:password@]host[:port][/prefix]; the credentials are never shown */
	const char *token;           /* sent as "Authorization: Bearer TOKEN"; NULL: $SCRIPTBUILD_REMOTE_CACHE_TOKEN; never
	                                shown */
	enum remote_mode mode;       /* read-only: no PUT at all */
	long timeout_ms;             /* per transfer; <= 0: 5000 */
	long connect_timeout_ms;     /* <= 0: 2000 */
	int max_in_flight;           /* transfers on the wire at once; <= 0: 16 */
	void (*warn)(void *ctx, const char *message);   /* the run's one warning about the remote; NULL = silent */
	void *warn_ctx;
};

/* What the remote did in this run. */
struct remote_counts {
	uint64_t hits;               /* results fetched, their blob's SHA-256 checked and accepted by the caller */
	uint64_t misses;             /* no entry, or not asked because the server failed earlier in the run */
	uint64_t uploads;            /* results stored (blob and action entry both accepted by the server) */
	uint64_t refused;            /* entries refused: malformed, a blob that is not what its name says, or a result
	                                the caller found invalid */
	uint64_t errors;             /* transfers that failed: connection, timeout, 4xx, 5xx */
	uint64_t dropped;            /* uploads abandoned: still pending at exit, or after the server failed */
	uint64_t bytes_down;         /* response bodies received */
	uint64_t bytes_up;           /* request bodies sent */
};

/* How a lookup ended. */
enum remote_answer {
	REMOTE_HIT,                  /* data holds the blob, its SHA-256 checked against its name */
	REMOTE_MISS,                 /* no such entry (or the remote is off for the rest of the run) */
	REMOTE_REFUSED,              /* the server's entry is malformed or its blob is not what it names: a miss */
	REMOTE_ERROR                 /* the transfer failed: a miss */
};

/* Receives a lookup's answer from inside loop_run_once (never from remote_get); on REMOTE_HIT data is a malloc'd copy
 * of the blob with a NUL after its len bytes, owned by the callee; meta is the small metadata document the writer
 * attached (NUL-terminated, "" when none), valid during the call. */
typedef void (*remote_got)(void *ctx, enum remote_answer answer, char *data, size_t len, const char *meta);

/* A client for cfg on l; NULL with err when the URL is not http(s) or cannot be parsed (err never holds the
 * credentials). */
struct remote *remote_new(struct loop *l, const struct remote_config *cfg, char *err, size_t errlen);

/* Frees the client; every transfer must have ended (remote_drain). NULL is fine. */
void remote_free(struct remote *r);

/* The URL without credentials, for messages. */
const char *remote_display_url(const struct remote *r);

/* Looks up the action named key (the SHA-256 of the step's full key encoding): GET /ac/K, then GET /cas/H of the
 * result it names, queued behind at most max_in_flight transfers; done runs once, later, from the loop. */
void remote_get(struct remote *r, const unsigned char key[SHA256_BYTES], remote_got done, void *ctx);

/* Stores data (copied) under key with meta (a small JSON document, copied; may be NULL): PUT /cas/H, then, once the
 * server took it, PUT /ac/K. Lookups go first; nothing happens in read-only mode. */
void remote_put(struct remote *r, const unsigned char key[SHA256_BYTES], const void *data, size_t len,
                const char *meta);

/* Lookups not yet answered. */
size_t remote_lookups_pending(const struct remote *r);

/* The caller found a fetched result invalid (why names the step and the problem): counted as refused, not a hit. */
void remote_reject(struct remote *r, const char *why);

/* Runs the loop until every upload ended or max_ms passed, then abandons the rest (loop_abort: call it last);
 * returns how many uploads were dropped then. */
uint64_t remote_drain(struct remote *r, long max_ms);

/* The run's counts so far. */
const struct remote_counts *remote_counts(const struct remote *r);

/* Parses "read-write" / "read-only"; 0, or -1 when it is neither. */
int remote_mode_parse(const char *s, enum remote_mode *out);

#endif
