/* ratelimit.h - a provider's rate limits as continuously refilled token buckets: read from the answers' headers
 * (Anthropic and OpenAI formats), charged before a request starts, reconciled with its usage after. Pure arithmetic
 * on a clock the caller passes in: no I/O, no loop. */
#ifndef SB_RATELIMIT_H
#define SB_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The limits a provider announces. Anthropic: requests, input tokens, output tokens (charged up front from
 * max_tokens); OpenAI: requests and tokens (prompt plus max_tokens together). */
enum rl_limit { RL_NONE = -1, RL_REQUESTS, RL_INPUT_TOKENS, RL_OUTPUT_TOKENS, RL_TOKENS, RL_LIMITS };

/* "requests", "input tokens", "output tokens", "tokens": for the status line. */
const char *rl_limit_name(enum rl_limit l);

/* "requests", "input_tokens", "output_tokens", "tokens": for the --report JSON. */
const char *rl_limit_key(enum rl_limit l);

/* What one answer said about one limit. */
struct rl_announced {
	bool has_limit, has_remaining, has_reset;
	double limit;             /* per minute */
	double remaining;         /* left now */
	int64_t reset_ms;         /* until the bucket is full again, from when the answer was read; may be <= 0 */
};

/* Everything rate-related one answer said. */
struct rl_headers {
	struct rl_announced at[RL_LIMITS];
};

/* Forgets every header read (a new answer begins). */
void rl_headers_clear(struct rl_headers *h);

/* Reads one header line's name (namelen bytes) and trimmed value into h when it is one of the rate-limit headers of
 * either provider; an unreadable value is ignored, as if the header were absent. now_unix_ms is the wall clock, for
 * Anthropic's absolute reset times. Returns whether the name was a rate-limit header. */
bool rl_headers_read(struct rl_headers *h, const char *name, size_t namelen, const char *value, int64_t now_unix_ms);

/* Parses an OpenAI reset duration ("6m0s", "20ms", "1.5s", "1h2m", "0s") into *ms; 0, or -1 when it is none. */
int rl_parse_duration(const char *s, int64_t *ms);

/* Parses an RFC 3339 date-time ("2026-11-29T07:34:42Z", fractions and offsets allowed) into unix ms; 0, or -1. */
int rl_parse_rfc3339(const char *s, int64_t *unix_ms);

/* What a request costs in each limit (0 where it does not count). */
struct rl_cost {
	double n[RL_LIMITS];
	double input_guess;       /* the unlearned input estimate, what usage corrects the estimate against */
};

/* One limit as a token bucket: capacity tokens, refilled at per_minute / 60000 a millisecond. */
struct rl_bucket {
	bool known;               /* false: nothing announced or capped, nothing to wait for */
	double per_minute;
	double capacity;
	double level;             /* may go below 0: a cost larger than the bucket is admitted when it is full */
	int64_t at_ms;            /* when level was right */
	double overflow;          /* what flowed in after the bucket was full, since it last was not: a cost larger
	                             than the bucket waits a little past "full", as its size is only estimated */
	uint64_t seeded_by;       /* the admission whose answer's `remaining` the level was last taken from: that
	                             answer counted it at the server's figure, so its usage must not correct it again */
	/* Others sharing the limit (another process, another machine) show only in what the server says is left:
	 * their rate is measured over windows of answers and left to them, so that each process refills its view of
	 * the bucket at what is left of the rate rather than all of it. */
	double others_per_ms;
	int64_t window_start;     /* 0: no window open */
	double window_remaining;  /* what the server said was left when the window opened */
	double window_admitted;   /* what this process had admitted by then */
};

/* The limits of one provider and model, as this process sees them. */
struct rl_account {
	char name[96];                        /* "anthropic claude-haiku-4-5" */
	struct rl_bucket server[RL_LIMITS];   /* what the provider announced */
	struct rl_bucket cap[RL_LIMITS];      /* what the user allows (--rpm, --itpm, --otpm) */
	double admitted[RL_LIMITS];           /* cost admitted so far (less what was refused), to measure others */
	double unanswered[RL_LIMITS];         /* cost admitted whose answer has not come: an answer may not count it */
	uint64_t admissions;                  /* numbers the admissions */
	uint64_t newest_seen;                 /* the newest admission whose answer was adopted */
	uint64_t answers;                     /* answers (or failures) seen: none yet means nothing is known */
	double blind_budget[RL_LIMITS];       /* before the first answer: what the blind start may spend per limit, the
	                                         size of another model's bucket of the same provider (0: unknown) */
	double input_ratio;                   /* actual input tokens per guessed one, learned from usage */
	bool input_learned;                   /* false until the first usage came back */
};

/* Proof of one admission: what it cost and what had been admitted by then. */
struct rl_ticket {
	struct rl_account *account;
	struct rl_cost cost;
	double admitted_after[RL_LIMITS];
	uint64_t number;          /* 0: never admitted */
};

/* An account with no limits known. */
void rl_account_init(struct rl_account *a, const char *name);

/* Before a's first answer, assumes its buckets are no larger than those other has learned (another model of the same
 * provider: limits differ by model class, but a new model's are unknown and the other's are the best guess). */
void rl_account_guess_from(struct rl_account *a, const struct rl_account *other);

/* Caps limit l at per_minute (<= 0 removes the cap); the cap's bucket holds one second of it and starts full. */
void rl_account_set_cap(struct rl_account *a, enum rl_limit l, double per_minute, int64_t now_ms);

/* The cost of a request of body_bytes asking for up to max_output tokens: one request, the input estimated from the
 * body (a third of its bytes until usage teaches better), max_output, and both together for OpenAI's tokens. */
void rl_cost_of(const struct rl_account *a, size_t body_bytes, double max_output, struct rl_cost *c);

/* Before the first answer of a model nothing is known of its limits: this many requests go out, no more. */
#define RL_BLIND_START 4

/* Milliseconds until cost fits every known bucket (0: it fits now), with *which the limit that waits longest; before
 * the first answer, RL_BLIND_START requests fit (and, where a blind budget is set, no more than it after the first)
 * and the next wait until an answer comes. */
int64_t rl_wait_ms(struct rl_account *a, const struct rl_cost *cost, int64_t now_ms, enum rl_limit *which);

/* Charges cost to every bucket (it fits, or the caller decided to go anyway) and fills the ticket. */
void rl_admit(struct rl_account *a, const struct rl_cost *cost, int64_t now_ms, struct rl_ticket *t);

/* Adopts what an answer to t's request announced: limits, the refill rate, the bucket's size and what the server
 * says is left; what this process tracked stands while it agrees with that (remaining + 1, as servers round down,
 * down to remaining less what this process admitted after t, which the answer may not have counted). Answers older
 * than one already adopted are ignored. refused: the answer was a 429 although this process thought the request
 * fit, so someone else spends from the buckets it found short: those take the server's word at its lowest, and
 * leave others at least half of their rate until measuring says otherwise. */
void rl_observe(struct rl_account *a, const struct rl_headers *h, const struct rl_ticket *t, bool refused,
                int64_t now_ms);

/* Notes that t's attempt ended without an answer (a transport error): it ends the blind start like an answer. */
void rl_unanswered(struct rl_account *a, const struct rl_ticket *t);

/* Corrects t's input charge by the usage its answer reported, and learns the estimate's ratio from it. A bucket whose
 * level was just taken from the `remaining` of t's own answer already holds the server's charge for t: it is left
 * as it is (crediting the overestimate there again admitted requests early). */
void rl_reconcile(struct rl_account *a, const struct rl_ticket *t, double actual_input);

#endif
