/* admission.h - the rate-limit gate: a request starts only when it fits its provider and model's buckets
 * (ratelimit.h); the ones that do not wait in line, in the order they asked, and start from the loop when they fit. */
#ifndef SB_ADMISSION_H
#define SB_ADMISSION_H

#include <stdbool.h>
#include <stdint.h>

#include "ratelimit.h"

struct admission;
struct loop;

/* One request asking to start; the caller owns it and keeps it alive until admitted() ran. */
struct admission_waiter {
	struct rl_account *account;
	struct rl_cost cost;
	struct rl_ticket ticket;                      /* filled on admission */
	void (*admitted)(struct admission_waiter *w); /* runs from inside loop_run_once (every waiter at once after
	                                                 loop_abort: check loop_aborted) */
	struct admission_waiter *next;                /* the gate's */
};

/* A gate on l with no limits known; NULL on out of memory. */
struct admission *admission_new(struct loop *l);

/* Frees the gate; no waiter may be in line. */
void admission_free(struct admission *g);

/* Caps limit l of provider ("anthropic", "openai"; NULL: every provider) at per_minute, for each of its models. */
void admission_set_cap(struct admission *g, const char *provider, enum rl_limit l, double per_minute);

/* The buckets of provider's model, made on first use; lives as long as the gate. */
struct rl_account *admission_account(struct admission *g, const char *provider, const char *model);

/* Asks to start w->cost on w->account: true when it fits now and nobody waits before it (w->ticket is filled and
 * admitted() will not run); else false and w waits, at the front of the line when retry (a retry was admitted once
 * already, so it goes before requests that never were). */
bool admission_ask(struct admission *g, struct admission_waiter *w, bool retry);

/* Adopts the rate-limit headers of the answer to ticket t's request; refused: it was a 429 (rl_observe). */
void admission_observe(struct admission *g, const struct rl_ticket *t, const struct rl_headers *h, bool refused);

/* Notes that ticket t's attempt ended with no answer at all (a transport error). */
void admission_unanswered(struct admission *g, const struct rl_ticket *t);

/* Corrects t's input charge by the input tokens its answer's usage reported. */
void admission_reconcile(struct admission *g, const struct rl_ticket *t, double input_tokens);

/* Counts a 429 ("slow down") answer. */
void admission_note_throttled(struct admission *g);

/* The limit the run waits on now, with *ms until its first waiter fits; RL_NONE when nothing waits. */
enum rl_limit admission_waiting(struct admission *g, int64_t *ms);

/* Seconds spent waiting per limit (time some request of some model waited for it, per model) and 429s counted. */
void admission_totals(const struct admission *g, double waited_s[RL_LIMITS], unsigned long *throttled);

#endif
