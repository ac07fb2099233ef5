/* replies.h - the providers' readers of a 2xx answer body: exposed so that hostile-input tests and fuzz targets can
 * feed them any bytes without a server. */
#ifndef SB_REPLIES_H
#define SB_REPLIES_H

#include <stddef.h>

#include "http.h"
#include "job.h"
#include "net.h"

/* Takes an Anthropic Messages answer r->body as job's output (the forced tool's input, validated) and adds its
 * usage to job; NET_ANSWER_OK, else the verdict and cause saying why not (NET_ANSWER_INVALID: turn, when not NULL,
 * gets the correction turn to send). */
enum net_answer anthropic_take_answer(struct job *job, const struct http_result *r, struct net_turn *turn, char *cause,
                                      size_t len);

/* The body of job's Anthropic Messages request with max_tokens and the correction turns so far (an array): a message
 * batch sends it as an item's params, so that the answer is the one a synchronous request gets (malloc'd; NULL on
 * out of memory). */
char *anthropic_request_params(const struct job *job, int max_tokens, const struct cJSON *turns);

/* The same for an OpenAI-compatible chat completions answer (the JSON object in choices[0].message.content). */
enum net_answer openai_take_chat_answer(struct job *job, const struct http_result *r, struct net_turn *turn,
                                        char *cause, size_t len);

/* Takes an OpenAI embeddings answer as job->vectors (job->ntexts rows placed by index) and job->dims; NET_ANSWER_OK,
 * else NET_ANSWER_BAD and cause saying why (count, index or width wrong, not base64 of whole float32s,
 * a non-number or non-finite value). */
enum net_answer openai_take_embeddings(struct job *job, const struct http_result *r, struct net_turn *turn,
                                       char *cause, size_t len);

#endif
