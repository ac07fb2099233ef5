/* fakeapi_promptcache.c - the fake Messages API's prompt cache (see fakeapi_promptcache.h).
 *
 * A prefix is named by a hash chained over what the service renders in order: the model, the tools and tool_choice,
 * the system blocks, then each message's content blocks. A block boundary is a place a prefix may end; a breakpoint
 * is a boundary whose block carries cache_control. As documented, a cache entry is written only at a breakpoint (never
 * at the boundaries before it), and a read at a breakpoint looks for an entry at it or at up to `lookback` earlier
 * boundaries, so an edit in block k still reads an entry written at a boundary before k when one is near enough. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "fakeapi_promptcache.h"

#define MAX_BREAKPOINTS 4

/* An entry of the cache: a prefix's name and when it expires. */
struct entry {
	XXH128_hash_t name;
	int64_t expires_ms;
};

static struct {
	pthread_mutex_t lock;
	struct entry *entries;
	size_t n, cap;
	unsigned long reads, writes;
	unsigned long long read_tokens, write_tokens;
} cache = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0, 0, 0, 0};

/* A place a prefix may end. */
struct boundary {
	XXH128_hash_t name;
	size_t bytes;             /* the prefix's rendered bytes */
	int breakpoint;           /* its block carries cache_control */
	int hour;                 /* that cache_control's ttl is "1h" */
};

struct boundaries {
	struct boundary *at;
	size_t n, cap;
};

static long tokens_for(size_t bytes)
{
	return (long)((bytes + 3) / 4);
}

void promptcache_defaults(struct promptcache_config *c)
{
	c->enabled = 1;
	c->lifetime_5m_ms = 5 * 60 * 1000L;
	c->lifetime_1h_ms = 60 * 60 * 1000L;
	c->lookback = 20;
}

int promptcache_option(struct promptcache_config *c, const char *name, const char *value, char *err, size_t errlen)
{
	if (strcmp(name, "prompt-cache") == 0) {
		if (strcmp(value, "true") && strcmp(value, "false"))
			goto bad;
		c->enabled = strcmp(value, "true") == 0;
		return 0;
	}
	long *to = !strcmp(name, "prompt-cache-5m-ms") ? &c->lifetime_5m_ms
	           : !strcmp(name, "prompt-cache-1h-ms") ? &c->lifetime_1h_ms
	           : !strcmp(name, "prompt-cache-lookback") ? &c->lookback : NULL;
	if (!to)
		return PROMPTCACHE_NOT_MINE;
	char *end;
	errno = 0;
	long n = strtol(value, &end, 10);
	if (errno || end == value || *end || n < 0 || n > 100000000L)
		goto bad;
	*to = n;
	return 0;
bad:
	snprintf(err, errlen, "%s: bad value '%.64s' (see README \"The fake API server\")", name, value);
	return -1;
}

/* The minimum cacheable prefix of model, in tokens, as documented per model family. */
static long minimum_tokens(const char *model)
{
	if (!model)
		return 1024;
	if (strstr(model, "haiku-4") || strstr(model, "opus-4-5") || strstr(model, "opus-4-6"))
		return 4096;
	if (strstr(model, "3-5-haiku") || strstr(model, "3-haiku") || strstr(model, "sonnet-4-6"))
		return 2048;
	return 1024;
}

/* Checks one block's cache_control; counts breakpoints and remembers whether a 5m one came before. */
static int check_marker(const cJSON *block, const char *where, int *count, int *seen_5m, char *msg, size_t msglen)
{
	const cJSON *cc = cJSON_GetObjectItemCaseSensitive(block, "cache_control");
	if (!cc || cJSON_IsNull(cc))
		return 0;
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cc, "type"));
	const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(cc, "ttl");
	if (!cJSON_IsObject(cc) || !type || strcmp(type, "ephemeral")) {
		snprintf(msg, msglen, "%s.cache_control.type: Input should be 'ephemeral'", where);
		return -1;
	}
	if (ttl && (!cJSON_IsString(ttl) || (strcmp(ttl->valuestring, "5m") && strcmp(ttl->valuestring, "1h")))) {
		snprintf(msg, msglen, "%s.cache_control.ttl: Input should be '5m' or '1h'", where);
		return -1;
	}
	for (const cJSON *m = cc->child; m; m = m->next)
		if (strcmp(m->string, "type") && strcmp(m->string, "ttl")) {
			snprintf(msg, msglen, "%s.cache_control.%.32s: Extra inputs are not permitted", where, m->string);
			return -1;
		}
	int hour = ttl && strcmp(ttl->valuestring, "1h") == 0;
	/* The service processes longer lifetimes first: a 1h breakpoint may not follow a 5m one. */
	if (hour && *seen_5m) {
		snprintf(msg, msglen, "%s: a ttl='1h' cache_control block must not come after a ttl='5m' cache_control "
		         "block", where);
		return -1;
	}
	*seen_5m |= !hour;
	(*count)++;
	return 0;
}

int promptcache_check(const cJSON *req, char *msg, size_t msglen)
{
	int count = 0, seen_5m = 0, i = 0;
	char where[64];
	const cJSON *block, *message;
	cJSON_ArrayForEach(block, cJSON_GetObjectItemCaseSensitive(req, "tools")) {
		snprintf(where, sizeof where, "tools.%d", i++);
		if (check_marker(block, where, &count, &seen_5m, msg, msglen))
			return -1;
	}
	const cJSON *system = cJSON_GetObjectItemCaseSensitive(req, "system");
	i = 0;
	cJSON_ArrayForEach(block, (cJSON_IsArray(system) ? system : NULL)) {
		snprintf(where, sizeof where, "system.%d", i++);
		if (check_marker(block, where, &count, &seen_5m, msg, msglen))
			return -1;
	}
	int m = 0;
	cJSON_ArrayForEach(message, cJSON_GetObjectItemCaseSensitive(req, "messages")) {
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
		i = 0;
		cJSON_ArrayForEach(block, (cJSON_IsArray(content) ? content : NULL)) {
			snprintf(where, sizeof where, "messages.%d.content.%d", m, i++);
			if (check_marker(block, where, &count, &seen_5m, msg, msglen))
				return -1;
		}
		m++;
	}
	if (count > MAX_BREAKPOINTS) {
		snprintf(msg, msglen, "A maximum of %d blocks with cache_control may be provided. Found %d.",
		         MAX_BREAKPOINTS, count);
		return -1;
	}
	return 0;
}

/* An array of text blocks as one string, or NULL when it holds anything but text. */
static char *joined_text(const cJSON *blocks)
{
	size_t len = 0;
	const cJSON *b;
	cJSON_ArrayForEach(b, blocks) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "type"));
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "text"));
		if (!type || strcmp(type, "text") || !text)
			return NULL;
		len += strlen(text);
	}
	char *out = malloc(len + 1), *o = out;
	if (!out)
		return NULL;
	cJSON_ArrayForEach(b, blocks) {
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "text"));
		size_t n = strlen(text);
		memcpy(o, text, n);
		o += n;
	}
	*o = '\0';
	return out;
}

/* Deletes every cache_control under item. */
static void strip_markers(cJSON *item)
{
	for (cJSON *c = item ? item->child : NULL; c; c = c->next)
		strip_markers(c);
	if (cJSON_IsObject(item))
		cJSON_DeleteItemFromObjectCaseSensitive(item, "cache_control");
}

/* Replaces parent's member name (an array of text blocks) by their text as one string. */
static void join_member(cJSON *parent, const char *name)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, name);
	char *text = cJSON_IsArray(v) ? joined_text(v) : NULL;
	if (text)
		cJSON_ReplaceItemInObjectCaseSensitive(parent, name, cJSON_CreateString(text));
	free(text);
}

cJSON *promptcache_plain(const cJSON *req)
{
	cJSON *copy = cJSON_Duplicate(req, 1);
	if (!copy)
		return NULL;
	strip_markers(copy);
	join_member(copy, "system");
	cJSON *message;
	cJSON_ArrayForEach(message, cJSON_GetObjectItemCaseSensitive(copy, "messages")) {
		const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(message, "role"));
		if (role && strcmp(role, "user") == 0)
			join_member(message, "content");
	}
	return copy;
}

static void add_boundary(struct boundaries *bs, XXH3_state_t *st, size_t bytes, const cJSON *block)
{
	if (bs->n == bs->cap) {
		size_t cap = bs->cap ? 2 * bs->cap : 32;
		struct boundary *at = realloc(bs->at, cap * sizeof(*at));
		if (!at)
			return;
		bs->at = at;
		bs->cap = cap;
	}
	const cJSON *cc = block ? cJSON_GetObjectItemCaseSensitive(block, "cache_control") : NULL;
	const char *ttl = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cc, "ttl"));
	bs->at[bs->n++] = (struct boundary){XXH3_128bits_digest(st), bytes, cJSON_IsObject(cc),
	                                    ttl && strcmp(ttl, "1h") == 0};
}

/* Hashes text (or, for a block that is not text, its JSON without markers) into the chain; its rendered bytes. */
static size_t feed(XXH3_state_t *st, const cJSON *block)
{
	const char *text = cJSON_IsString(block) ? block->valuestring
	                   : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(block, "text"));
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(block, "type"));
	if (text && (cJSON_IsString(block) || (type && strcmp(type, "text") == 0))) {
		size_t n = strlen(text);
		XXH3_128bits_update(st, text, n);
		return n;
	}
	cJSON *copy = cJSON_Duplicate(block, 1);
	strip_markers(copy);
	char *json = copy ? cJSON_PrintUnformatted(copy) : NULL;
	size_t n = json ? strlen(json) : 0;
	if (json)
		XXH3_128bits_update(st, json, n);
	free(json);
	cJSON_Delete(copy);
	return n;
}

/* Every block boundary of req in the service's order: tools, system, messages. */
static void boundaries_of(const cJSON *req, struct boundaries *bs)
{
	XXH3_state_t *st = XXH3_createState();
	if (!st)
		return;
	XXH3_128bits_reset(st);
	const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "model"));
	/* Entries are per model: another model's cache is not this one's. */
	XXH3_128bits_update(st, model ? model : "", model ? strlen(model) + 1 : 1);
	size_t bytes = 0;
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools"), *block, *message;
	cJSON_ArrayForEach(block, tools)
		bytes += feed(st, block);
	/* tool_choice is part of what the tools render to: changing it changes every prefix after the tools. */
	const cJSON *choice = cJSON_GetObjectItemCaseSensitive(req, "tool_choice");
	if (choice)
		bytes += feed(st, choice);
	if (cJSON_GetArraySize(tools) > 0)
		add_boundary(bs, st, bytes, cJSON_GetArrayItem(tools, cJSON_GetArraySize(tools) - 1));
	const cJSON *system = cJSON_GetObjectItemCaseSensitive(req, "system");
	if (cJSON_IsString(system)) {
		bytes += feed(st, system);
		add_boundary(bs, st, bytes, NULL);
	}
	cJSON_ArrayForEach(block, (cJSON_IsArray(system) ? system : NULL)) {
		bytes += feed(st, block);
		add_boundary(bs, st, bytes, block);
	}
	cJSON_ArrayForEach(message, cJSON_GetObjectItemCaseSensitive(req, "messages")) {
		const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(message, "role"));
		XXH3_128bits_update(st, role ? role : "", role ? strlen(role) + 1 : 1);
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(message, "content");
		if (cJSON_IsString(content)) {
			bytes += feed(st, content);
			add_boundary(bs, st, bytes, NULL);
		}
		cJSON_ArrayForEach(block, (cJSON_IsArray(content) ? content : NULL)) {
			bytes += feed(st, block);
			add_boundary(bs, st, bytes, block);
		}
	}
	XXH3_freeState(st);
}

/* The live entry named name (expired ones are dropped on the way), or NULL; cache.lock held. */
static struct entry *find(XXH128_hash_t name, int64_t now_ms)
{
	for (size_t i = 0; i < cache.n;) {
		if (cache.entries[i].expires_ms <= now_ms) {
			cache.entries[i] = cache.entries[--cache.n];
			continue;
		}
		if (XXH128_isEqual(cache.entries[i].name, name))
			return &cache.entries[i];
		i++;
	}
	return NULL;
}

/* Writes (or refreshes) the entry name to expire at expires_ms; cache.lock held. */
static void store(XXH128_hash_t name, int64_t now_ms, int64_t expires_ms)
{
	struct entry *e = find(name, now_ms);
	if (e) {
		if (e->expires_ms < expires_ms)
			e->expires_ms = expires_ms;
		return;
	}
	if (cache.n == cache.cap) {
		size_t cap = cache.cap ? 2 * cache.cap : 64;
		struct entry *at = realloc(cache.entries, cap * sizeof(*at));
		if (!at)
			return;
		cache.entries = at;
		cache.cap = cap;
	}
	cache.entries[cache.n++] = (struct entry){name, expires_ms};
}

void promptcache_account(const struct promptcache_config *c, const cJSON *req, long total, int64_t now_ms, int peek,
                         struct promptcache_usage *u)
{
	*u = (struct promptcache_usage){total, 0, 0, 0};
	if (!c->enabled)
		return;
	struct boundaries bs = {NULL, 0, 0};
	boundaries_of(req, &bs);
	const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "model"));
	long minimum = minimum_tokens(model);
	pthread_mutex_lock(&cache.lock);
	/* The longest prefix found: at a breakpoint, or at a boundary within the look-back before one. */
	long hit = -1;
	for (size_t i = 0; i < bs.n; i++) {
		if (!bs.at[i].breakpoint)
			continue;
		for (size_t j = i + 1; j-- > 0 && i - j <= (size_t)c->lookback;) {
			if ((long)j <= hit)
				break;
			if (find(bs.at[j].name, now_ms)) {
				hit = (long)j;
				break;
			}
		}
	}
	size_t read_bytes = 0;
	if (hit >= 0) {
		struct boundary *b = &bs.at[hit];
		read_bytes = b->bytes;
		u->cache_read = tokens_for(read_bytes);
		/* A read refreshes the entry's lifetime at no cost. */
		if (!peek)
			store(b->name, now_ms, now_ms + (b->hour ? c->lifetime_1h_ms : c->lifetime_5m_ms));
	}
	/* Written: every breakpoint past what was read whose prefix is long enough; each stretch at its own lifetime. */
	size_t written_to = read_bytes;
	for (size_t i = 0; i < bs.n; i++) {
		struct boundary *b = &bs.at[i];
		if (!b->breakpoint || b->bytes <= written_to || tokens_for(b->bytes) < minimum)
			continue;
		long stretch = tokens_for(b->bytes) - tokens_for(written_to);
		u->cache_write += stretch;
		if (b->hour)
			u->cache_write_1h += stretch;
		written_to = b->bytes;
		if (!peek)
			store(b->name, now_ms, now_ms + (b->hour ? c->lifetime_1h_ms : c->lifetime_5m_ms));
	}
	if (u->cache_read + u->cache_write > total) {
		/* Never more than the request holds (the JSON around the texts makes the total larger, not smaller). */
		u->cache_write = total > u->cache_read ? total - u->cache_read : 0;
		if (u->cache_write_1h > u->cache_write)
			u->cache_write_1h = u->cache_write;
		if (u->cache_read > total)
			u->cache_read = total;
	}
	u->input = total - u->cache_read - u->cache_write;
	if (!peek) {
		cache.reads += u->cache_read > 0;
		cache.writes += u->cache_write > 0;
		cache.read_tokens += (unsigned long long)u->cache_read;
		cache.write_tokens += (unsigned long long)u->cache_write;
	}
	pthread_mutex_unlock(&cache.lock);
	free(bs.at);
}

char *promptcache_usage_into(char *answer, const struct promptcache_usage *u)
{
	cJSON *root = cJSON_Parse(answer);
	cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
	if (!cJSON_IsObject(usage)) {
		cJSON_Delete(root);
		return answer;
	}
	cJSON *out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "input_tokens", (double)u->input);
	cJSON_AddNumberToObject(out, "cache_creation_input_tokens", (double)u->cache_write);
	cJSON_AddNumberToObject(out, "cache_read_input_tokens", (double)u->cache_read);
	cJSON *split = cJSON_AddObjectToObject(out, "cache_creation");
	cJSON_AddNumberToObject(split, "ephemeral_5m_input_tokens", (double)(u->cache_write - u->cache_write_1h));
	cJSON_AddNumberToObject(split, "ephemeral_1h_input_tokens", (double)u->cache_write_1h);
	cJSON_AddItemToObject(out, "output_tokens",
	                      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(usage, "output_tokens"), 1));
	cJSON_ReplaceItemInObjectCaseSensitive(root, "usage", out);
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!text)
		return answer;
	free(answer);
	return text;
}

void promptcache_stats(cJSON *root)
{
	pthread_mutex_lock(&cache.lock);
	cJSON *pc = cJSON_AddObjectToObject(root, "prompt_cache");
	cJSON_AddNumberToObject(pc, "reads", (double)cache.reads);
	cJSON_AddNumberToObject(pc, "writes", (double)cache.writes);
	cJSON_AddNumberToObject(pc, "read_tokens", (double)cache.read_tokens);
	cJSON_AddNumberToObject(pc, "write_tokens", (double)cache.write_tokens);
	cJSON_AddNumberToObject(pc, "entries", (double)cache.n);
	pthread_mutex_unlock(&cache.lock);
}

void promptcache_reset_counters(void)
{
	pthread_mutex_lock(&cache.lock);
	cache.reads = cache.writes = 0;
	cache.read_tokens = cache.write_tokens = 0;
	pthread_mutex_unlock(&cache.lock);
}
