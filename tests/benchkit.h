/* benchkit.h - what the bench tools (tool_bench, tool_bench_slate) share: one call to the fake API server. */
#ifndef SB_BENCHKIT_H
#define SB_BENCHKIT_H

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

struct bench_reply {
	char *data;
	size_t len;
};

static inline size_t bench_collect(char *ptr, size_t size, size_t n, void *userdata)
{
	struct bench_reply *buf = userdata;
	char *grown = realloc(buf->data, buf->len + size * n + 1);
	if (!grown)
		return 0;
	memcpy(grown + buf->len, ptr, size * n);
	buf->data = grown;
	buf->len += size * n;
	buf->data[buf->len] = '\0';
	return size * n;
}

/* GET (body NULL) or POST url; the parsed JSON of a 200 reply, or NULL with *rc and *code saying why. */
static inline cJSON *bench_call(const char *url, const char *body, CURLcode *rc, long *code)
{
	struct bench_reply buf = {0};
	*rc = CURLE_FAILED_INIT;
	*code = 0;
	CURL *curl = curl_easy_init();
	if (!curl)
		return NULL;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, bench_collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	if (body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	*rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, code);
	curl_easy_cleanup(curl);
	cJSON *json = *rc == CURLE_OK && *code == 200 && buf.data ? cJSON_Parse(buf.data) : NULL;
	free(buf.data);
	return json;
}

#endif
