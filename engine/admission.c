/* admission.c - one line of waiting requests per provider and model, released by a loop timer when they fit. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "loop.h"
#include "util.h"

#define MAX_CAPS 16

/* An account with its line of waiters; the rl_account is first so that one converts to the other. */
struct line {
	struct rl_account account;
	char provider[32];
	struct admission_waiter *head, *tail;
	enum rl_limit blocked_on;     /* what the head waits for now */
	int64_t blocked_since;
	struct line *next;
};

struct admission {
	struct loop *loop;
	struct loop_timer timer;      /* releases the lines; its owner is found from it */
	struct line *lines;
	struct {
		char provider[32];        /* "" for every provider */
		enum rl_limit limit;
		double per_minute;
	} caps[MAX_CAPS];
	int ncaps;
	double waited_ms[RL_LIMITS];
	unsigned long throttled;
};

static void pump(struct loop_timer *t);

struct admission *admission_new(struct loop *l)
{
	struct admission *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->loop = l;
	g->timer.fire = pump;
	return g;
}

void admission_free(struct admission *g)
{
	if (!g)
		return;
	loop_timer_stop(g->loop, &g->timer);
	for (struct line *ln = g->lines, *next; ln; ln = next) {
		next = ln->next;
		free(ln);
	}
	free(g);
}

static void apply_cap(struct line *ln, const char *provider, enum rl_limit l, double per_minute)
{
	if (!*provider || strcmp(provider, ln->provider) == 0)
		rl_account_set_cap(&ln->account, l, per_minute, loop_now_ms());
}

void admission_set_cap(struct admission *g, const char *provider, enum rl_limit l, double per_minute)
{
	if (l < 0 || l >= RL_LIMITS)
		return;
	/* A later cap for the same provider and limit replaces the earlier one. */
	int i = 0;
	while (i < g->ncaps && !(g->caps[i].limit == l && strcmp(g->caps[i].provider, provider ? provider : "") == 0))
		i++;
	if (i == MAX_CAPS)
		return;
	if (i == g->ncaps)
		g->ncaps++;
	snprintf(g->caps[i].provider, sizeof(g->caps[i].provider), "%s", provider ? provider : "");
	g->caps[i].limit = l;
	g->caps[i].per_minute = per_minute;
	for (struct line *ln = g->lines; ln; ln = ln->next)
		apply_cap(ln, g->caps[i].provider, l, per_minute);
}

struct rl_account *admission_account(struct admission *g, const char *provider, const char *model)
{
	char name[96];
	snprintf(name, sizeof(name), "%s %s", provider, model ? model : "");
	for (struct line *ln = g->lines; ln; ln = ln->next)
		if (strcmp(ln->account.name, name) == 0)
			return &ln->account;
	struct line *ln = xcalloc(1, sizeof(*ln));
	rl_account_init(&ln->account, name);
	snprintf(ln->provider, sizeof(ln->provider), "%s", provider);
	ln->blocked_on = RL_NONE;
	/* Caps apply in the order given, so that a provider's own cap overrides one for every provider. */
	for (int i = 0; i < g->ncaps; i++)
		if (!*g->caps[i].provider)
			apply_cap(ln, "", g->caps[i].limit, g->caps[i].per_minute);
	for (int i = 0; i < g->ncaps; i++)
		if (*g->caps[i].provider)
			apply_cap(ln, g->caps[i].provider, g->caps[i].limit, g->caps[i].per_minute);
	/* A new model of a known provider starts blind: its first requests stay within what the provider's other
	 * models' buckets hold. */
	for (struct line *other = g->lines; other; other = other->next)
		if (strcmp(other->provider, ln->provider) == 0)
			rl_account_guess_from(&ln->account, &other->account);
	ln->next = g->lines;
	g->lines = ln;
	return &ln->account;
}

static struct line *line_of(struct rl_account *a)
{
	return (struct line *)(void *)a;
}

/* Closes the current wait of ln (if any) into the totals and starts one on which (unless RL_NONE). */
static void note_blocked(struct admission *g, struct line *ln, enum rl_limit which, int64_t now)
{
	if (ln->blocked_on == which)
		return;
	if (ln->blocked_on != RL_NONE)
		g->waited_ms[ln->blocked_on] += (double)(now - ln->blocked_since);
	ln->blocked_on = which;
	ln->blocked_since = now;
}

/* Starts every waiter that fits, in line order, then sleeps until the first that does not will fit. */
static void pump(struct loop_timer *t)
{
	struct admission *g = (struct admission *)(void *)((char *)t - offsetof(struct admission, timer));
	bool aborted = loop_aborted(g->loop);
	for (struct line *ln = g->lines; ln; ln = ln->next) {
		while (ln->head) {
			struct admission_waiter *w = ln->head;
			int64_t now = loop_now_ms();
			enum rl_limit which;
			if (!aborted && rl_wait_ms(&ln->account, &w->cost, now, &which) > 0) {
				note_blocked(g, ln, which, now);
				break;
			}
			ln->head = w->next;
			if (!ln->head)
				ln->tail = NULL;
			w->next = NULL;
			note_blocked(g, ln, RL_NONE, now);
			rl_admit(&ln->account, &w->cost, now, &w->ticket);
			/* May ask again (a new request of this line): it joins the back, and the loop above sees it. */
			w->admitted(w);
		}
	}
	int64_t next = -1;
	for (struct line *ln = g->lines; ln; ln = ln->next)
		if (ln->head) {
			enum rl_limit which;
			int64_t wait = rl_wait_ms(&ln->account, &ln->head->cost, loop_now_ms(), &which);
			if (next < 0 || wait < next)
				next = wait;
		}
	if (next >= 0)
		loop_timer_start(g->loop, &g->timer, (long)(next > 0 ? next : 0));
}

bool admission_ask(struct admission *g, struct admission_waiter *w, bool retry)
{
	struct line *ln = line_of(w->account);
	int64_t now = loop_now_ms();
	enum rl_limit which;
	w->next = NULL;
	if (!ln->head && rl_wait_ms(&ln->account, &w->cost, now, &which) == 0) {
		rl_admit(&ln->account, &w->cost, now, &w->ticket);
		return true;
	}
	if (retry || !ln->head) {
		w->next = ln->head;
		ln->head = w;
		if (!ln->tail)
			ln->tail = w;
	} else {
		ln->tail->next = w;
		ln->tail = w;
	}
	/* The line is looked at from the loop, never from inside a caller that may be finishing another request. */
	if (!g->timer.armed)
		loop_timer_start(g->loop, &g->timer, 0);
	return false;
}

void admission_observe(struct admission *g, const struct rl_ticket *t, const struct rl_headers *h, bool refused)
{
	if (!t->account)
		return;
	rl_observe(t->account, h, t, refused, loop_now_ms());
	/* The server may have said there is more (or less) room than assumed: look at the line again now. */
	if (line_of(t->account)->head)
		loop_timer_start(g->loop, &g->timer, 0);
}

void admission_unanswered(struct admission *g, const struct rl_ticket *t)
{
	if (!t->account)
		return;
	rl_unanswered(t->account, t);
	if (line_of(t->account)->head)
		loop_timer_start(g->loop, &g->timer, 0);
}

void admission_reconcile(struct admission *g, const struct rl_ticket *t, double input_tokens)
{
	(void)g;
	if (t->account)
		rl_reconcile(t->account, t, input_tokens);
}

void admission_note_throttled(struct admission *g)
{
	g->throttled++;
}

enum rl_limit admission_waiting(struct admission *g, int64_t *ms)
{
	enum rl_limit longest = RL_NONE;
	*ms = 0;
	int64_t now = loop_now_ms();
	for (struct line *ln = g->lines; ln; ln = ln->next) {
		if (!ln->head || ln->blocked_on == RL_NONE)
			continue;
		enum rl_limit which;
		int64_t wait = rl_wait_ms(&ln->account, &ln->head->cost, now, &which);
		if (which != RL_NONE && wait > *ms) {
			*ms = wait;
			longest = which;
		}
	}
	return longest;
}

void admission_totals(const struct admission *g, double waited_s[RL_LIMITS], unsigned long *throttled)
{
	int64_t now = loop_now_ms();
	for (int l = 0; l < RL_LIMITS; l++)
		waited_s[l] = g->waited_ms[l] / 1000.0;
	for (const struct line *ln = g->lines; ln; ln = ln->next)
		if (ln->blocked_on != RL_NONE)
			waited_s[ln->blocked_on] += (double)(now - ln->blocked_since) / 1000.0;
	*throttled = g->throttled;
}
