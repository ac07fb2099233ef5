/* fakeapi_promptcache.h - the fake Messages API's prompt cache, as Anthropic documents it: cache_control breakpoints
 * (at most 4, "ephemeral", ttl "5m" or "1h"), an entry written only at a breakpoint whose prefix reaches the model's
 * minimum length, a read found at a breakpoint or at an earlier block boundary within the look-back (20 blocks), the
 * lifetime refreshed by every read, and the usage fields that say what was read and written. */
#ifndef FAKEAPI_PROMPTCACHE_H
#define FAKEAPI_PROMPTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The settings (part of the server's config, changed by flags and POST /control). */
struct promptcache_config {
	int enabled;              /* 0: breakpoints are accepted but nothing is cached and no cache fields reported */
	long lifetime_5m_ms;      /* how long a "5m" entry lives after its last use (tests set it short) */
	long lifetime_1h_ms;
	long lookback;            /* block boundaries checked before each breakpoint */
};

/* The defaults: enabled, 5 minutes, 1 hour, 20 blocks. */
void promptcache_defaults(struct promptcache_config *c);

/* Applies option name=value when it is one of this module's ("prompt-cache", "prompt-cache-5m-ms",
 * "prompt-cache-1h-ms", "prompt-cache-lookback"): 0 or -1 with err; PROMPTCACHE_NOT_MINE for any other name. */
#define PROMPTCACHE_NOT_MINE 1
int promptcache_option(struct promptcache_config *c, const char *name, const char *value, char *err, size_t errlen);

/* Checks req's cache_control markers as the API does; 0, or -1 with msg holding the API's message. */
int promptcache_check(const cJSON *req, char *msg, size_t msglen);

/* req without its transport: no cache_control, system and user text blocks joined into strings (caller deletes it).
 * A model reads the same prompt either way, so answers are seeded from this. */
cJSON *promptcache_plain(const cJSON *req);

/* How a request's input tokens split. */
struct promptcache_usage {
	long input, cache_read, cache_write, cache_write_1h;
};

/* Splits total input tokens of req (at now_ms) into uncached, read and written, reading and (unless peek) writing
 * the cache; peek only says what would be read (an input-token limit does not count cached reads). */
void promptcache_account(const struct promptcache_config *c, const cJSON *req, long total, int64_t now_ms, int peek,
                         struct promptcache_usage *u);

/* Replaces answer's usage (a Messages answer, malloc'd) with u's fields; returns the new text (answer freed). */
char *promptcache_usage_into(char *answer, const struct promptcache_usage *u);

/* Adds "prompt_cache" {reads, writes, read_tokens, write_tokens, entries} to a /stats object. */
void promptcache_stats(cJSON *root);

/* Zeroes the counters (POST /reset); the entries stay, as a service's cache does not forget on a client's reset. */
void promptcache_reset_counters(void);

#endif
