/* ratelimit.c - token buckets seeded from the providers' rate-limit headers, and the parsers of those headers. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ratelimit.h"

/* Usage teaches the estimate quickly, but before the first answer a prompt must not be under-charged: JSON and
 * schemas run at 3-4 bytes a token, so a third of the bytes errs on the safe side. */
#define BYTES_PER_TOKEN_GUESS 3.0
/* What the learned estimate adds on top, so that a request a little bigger than usual still fits. */
#define ESTIMATE_MARGIN 1.05
/* What a process sharing a limit with others takes of its measured share. */
#define SHARING_SLACK 0.92
/* How far past "full" a request larger than the bucket waits, as a share of the bucket. */
#define OVERSIZE_MARGIN 0.03

const char *rl_limit_name(enum rl_limit l)
{
	static const char *const names[RL_LIMITS] = {"requests", "input tokens", "output tokens", "tokens"};
	return l >= 0 && l < RL_LIMITS ? names[l] : "nothing";
}

const char *rl_limit_key(enum rl_limit l)
{
	static const char *const keys[RL_LIMITS] = {"requests", "input_tokens", "output_tokens", "tokens"};
	return l >= 0 && l < RL_LIMITS ? keys[l] : "none";
}

void rl_headers_clear(struct rl_headers *h)
{
	memset(h, 0, sizeof(*h));
}

/* A count: a finite number >= 0 written whole. */
static int parse_count(const char *s, double *out)
{
	char *end;
	if (!*s || isspace((unsigned char)*s))
		return -1;
	double v = strtod(s, &end);
	if (end == s || *end || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

int rl_parse_duration(const char *s, int64_t *ms)
{
	double total = 0;
	const char *p = s;
	if (!*p)
		return -1;
	while (*p) {
		char *end;
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		double v = strtod(p, &end);
		if (end == p || !isfinite(v) || v < 0)
			return -1;
		p = end;
		double unit;
		if (strncmp(p, "ms", 2) == 0)
			unit = 1, p += 2;
		else if (strncmp(p, "us", 2) == 0)
			unit = 1e-3, p += 2;
		else if (strncmp(p, "\xc2\xb5s", 3) == 0)   /* Go writes microseconds with a micro sign */
			unit = 1e-3, p += 3;
		else if (strncmp(p, "ns", 2) == 0)
			unit = 1e-6, p += 2;
		else if (*p == 'h')
			unit = 3600e3, p++;
		else if (*p == 'm')
			unit = 60e3, p++;
		else if (*p == 's')
			unit = 1e3, p++;
		else if (!*p && p == end && total == 0 && end != s)
			unit = 1e3;                             /* a bare number: seconds, as retry-after means it */
		else
			return -1;
		total += v * unit;
	}
	if (total > 86400e3 * 366)
		return -1;
	*ms = (int64_t)ceil(total);
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at *p. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int rl_parse_rfc3339(const char *s, int64_t *unix_ms)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s;
	int y, mo, d, h, mi, sec;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -1;
	double frac = 0;
	if (*p == '.') {
		double scale = 0.1;
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	int offset_min = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
		offset_min = sign * (oh * 60 + om);
	} else {
		return -1;
	}
	if (*p)
		return -1;
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - (int64_t)offset_min * 60;
	*unix_ms = secs * 1000 + (int64_t)(frac * 1000);
	return 0;
}

enum field { F_LIMIT, F_REMAINING, F_RESET };

/* Which limit and field a header names, in either provider's spelling; -1 when none. */
static int classify(const char *name, size_t n, enum rl_limit *limit, enum field *field, bool *absolute_reset)
{
	static const struct {
		const char *name;
		enum rl_limit limit;
		enum field field;
	} names[] = {
		{"anthropic-ratelimit-requests-limit", RL_REQUESTS, F_LIMIT},
		{"anthropic-ratelimit-requests-remaining", RL_REQUESTS, F_REMAINING},
		{"anthropic-ratelimit-requests-reset", RL_REQUESTS, F_RESET},
		{"anthropic-ratelimit-input-tokens-limit", RL_INPUT_TOKENS, F_LIMIT},
		{"anthropic-ratelimit-input-tokens-remaining", RL_INPUT_TOKENS, F_REMAINING},
		{"anthropic-ratelimit-input-tokens-reset", RL_INPUT_TOKENS, F_RESET},
		{"anthropic-ratelimit-output-tokens-limit", RL_OUTPUT_TOKENS, F_LIMIT},
		{"anthropic-ratelimit-output-tokens-remaining", RL_OUTPUT_TOKENS, F_REMAINING},
		{"anthropic-ratelimit-output-tokens-reset", RL_OUTPUT_TOKENS, F_RESET},
		{"x-ratelimit-limit-requests", RL_REQUESTS, F_LIMIT},
		{"x-ratelimit-remaining-requests", RL_REQUESTS, F_REMAINING},
		{"x-ratelimit-reset-requests", RL_REQUESTS, F_RESET},
		{"x-ratelimit-limit-tokens", RL_TOKENS, F_LIMIT},
		{"x-ratelimit-remaining-tokens", RL_TOKENS, F_REMAINING},
		{"x-ratelimit-reset-tokens", RL_TOKENS, F_RESET},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n && strncasecmp(name, names[i].name, n) == 0) {
			*limit = names[i].limit;
			*field = names[i].field;
			*absolute_reset = name[0] == 'a' || name[0] == 'A';
			return 0;
		}
	return -1;
}

bool rl_headers_read(struct rl_headers *h, const char *name, size_t namelen, const char *value, int64_t now_unix_ms)
{
	enum rl_limit limit;
	enum field field;
	bool absolute;
	if (classify(name, namelen, &limit, &field, &absolute) < 0)
		return false;
	struct rl_announced *a = &h->at[limit];
	double v;
	int64_t when;
	switch (field) {
	case F_LIMIT:
		/* A limit of 0 would stop the run for good: that is a quota answer's job, not a header's. */
		if (parse_count(value, &v) == 0 && v >= 1) {
			a->limit = v;
			a->has_limit = true;
		}
		break;
	case F_REMAINING:
		if (parse_count(value, &v) == 0) {
			a->remaining = v;
			a->has_remaining = true;
		}
		break;
	case F_RESET:
		if (absolute ? rl_parse_rfc3339(value, &when) == 0 : rl_parse_duration(value, &when) == 0) {
			a->reset_ms = absolute ? when - now_unix_ms : when;
			a->has_reset = true;
		}
		break;
	}
	return true;
}

void rl_account_init(struct rl_account *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->input_ratio = 1.0;
}

/* What flows into this process's view of the bucket: the limit's rate less what others are measured to spend. */
static double rate_per_ms(const struct rl_bucket *b)
{
	/* Sharing, each keeps a little of its share back, or the bucket stays empty and every jitter is a 429. */
	double rate = b->per_minute / 60000.0;
	return b->others_per_ms > 0 ? (rate - b->others_per_ms) * SHARING_SLACK : rate;
}

/* Measures over a window of answers what others spent: what was left, plus what flowed in, less what this process
 * spent, less what is left now (rounding and our own uncounted requests only make it smaller). A full bucket says
 * nobody presses on the limit. The window is twice the time the bucket takes to fill (a second at least), so that
 * one answer's noise is small against it. */
static void measure_others(struct rl_bucket *b, double admitted, double remaining, int64_t now_ms)
{
	double full_rate = b->per_minute / 60000.0;
	double window = 2 * b->capacity / full_rate;
	window = window < 1000 ? 1000 : window > 10000 ? 10000 : window;
	if (b->window_start && now_ms - b->window_start >= (int64_t)window) {
		double span = (double)(now_ms - b->window_start);
		double spent = b->window_remaining + full_rate * span - (admitted - b->window_admitted) - remaining - 2;
		double sample = remaining >= b->capacity - 1 || spent < 0 ? 0 : spent / span;
		/* A few percent is the noise of estimates and timing, not someone else. */
		if (sample < 0.05 * full_rate)
			sample = 0;
		if (sample > 0.9 * full_rate)
			sample = 0.9 * full_rate;
		b->others_per_ms = 0.5 * b->others_per_ms + 0.5 * sample;
		if (b->others_per_ms < 0.02 * full_rate)
			b->others_per_ms = 0;
		b->window_start = 0;
	}
	if (!b->window_start) {
		b->window_start = now_ms;
		b->window_remaining = remaining;
		b->window_admitted = admitted;
	}
}

/* Refills b to now. pending is what this process admitted that has not been answered yet: the server may not have
 * charged it, and while its bucket is full it gains nothing, so this view of the bucket never refills above the
 * capacity less what is pending (a request sent into a full bucket and delayed on the way would otherwise find the
 * refill of its delay counted twice: once here, and never at the server). */
static void refill(struct rl_bucket *b, double pending, int64_t now_ms)
{
	if (!b->known || now_ms <= b->at_ms)
		return;
	double top = b->capacity - (pending > 0 ? pending : 0);
	double level = b->level + rate_per_ms(b) * (double)(now_ms - b->at_ms);
	if (level > top && b->level <= top)
		b->overflow += level - (b->level > top ? b->level : top);
	else if (level < top)
		b->overflow = 0;
	b->level = level < top ? level : (b->level > top ? b->level : top);
	b->at_ms = now_ms;
}

void rl_account_guess_from(struct rl_account *a, const struct rl_account *other)
{
	for (int l = 0; l < RL_LIMITS; l++)
		if (other->server[l].known && other->server[l].capacity > 0 &&
		    (a->blind_budget[l] <= 0 || other->server[l].capacity < a->blind_budget[l]))
			a->blind_budget[l] = other->server[l].capacity;
}

void rl_account_set_cap(struct rl_account *a, enum rl_limit l, double per_minute, int64_t now_ms)
{
	struct rl_bucket *b = &a->cap[l];
	memset(b, 0, sizeof(*b));
	if (per_minute <= 0)
		return;
	b->known = true;
	b->per_minute = per_minute;
	b->capacity = per_minute / 60.0;
	b->level = b->capacity;
	b->at_ms = now_ms;
}

void rl_cost_of(const struct rl_account *a, size_t body_bytes, double max_output, struct rl_cost *c)
{
	memset(c, 0, sizeof(*c));
	c->input_guess = ceil((double)body_bytes / BYTES_PER_TOKEN_GUESS);
	double input = a->input_learned ? ceil(c->input_guess * a->input_ratio * ESTIMATE_MARGIN) : c->input_guess;
	c->n[RL_REQUESTS] = 1;
	c->n[RL_INPUT_TOKENS] = input;
	c->n[RL_OUTPUT_TOKENS] = max_output > 0 ? max_output : 0;
	c->n[RL_TOKENS] = input + c->n[RL_OUTPUT_TOKENS];
}

/* Milliseconds until b holds cost; a cost larger than the bucket waits for a full bucket and then overdraws it. */
static int64_t bucket_wait(struct rl_bucket *b, double pending, double cost, int64_t now_ms)
{
	if (!b->known || cost <= 0)
		return 0;
	refill(b, pending, now_ms);
	double rate = rate_per_ms(b);
	/* The bucket's size is estimated low by up to a few percent: a request larger than it waits that much past
	 * the moment it is full, so that the server's bucket, whatever its exact size, is full too. */
	double margin = cost > b->capacity ? OVERSIZE_MARGIN * b->capacity : 0;
	double need = cost > b->capacity ? b->capacity : cost;
	if (b->level >= need && b->overflow >= margin)
		return 0;
	if (rate <= 0)
		return INT64_MAX / 4;
	/* Below what it needs (the bucket, or the part of it not held back for requests on the way), it waits for that
	 * and the margin; at a full bucket, for the rest of the margin. Never 0: it does not fit now. */
	double wait = ceil((b->level < need ? need - b->level + margin : margin - b->overflow) / rate);
	return wait > 86400e3 ? (int64_t)86400e3 : wait < 1 ? 1 : (int64_t)wait;
}

int64_t rl_wait_ms(struct rl_account *a, const struct rl_cost *cost, int64_t now_ms, enum rl_limit *which)
{
	int64_t longest = 0;
	*which = RL_NONE;
	/* Many processes starting at once would each spend a whole bucket they know nothing of: a few go first, and
	 * their answers tell the rest. The next answer wakes the line; the wait is only a fallback. */
	if (a->answers == 0 && a->admissions >= RL_BLIND_START) {
		*which = RL_REQUESTS;
		return 50;
	}
	/* The first request goes whatever it costs; the rest of the blind start within what another model's bucket
	 * holds (three requests of 2048, 2048 and 8192 output tokens would overdraw a 10000 bucket before a word of it
	 * came back). */
	for (int l = 0; a->answers == 0 && a->admissions > 0 && l < RL_LIMITS; l++)
		if (a->blind_budget[l] > 0 && a->admitted[l] + cost->n[l] > a->blind_budget[l]) {
			*which = (enum rl_limit)l;
			return 50;
		}
	for (int l = 0; l < RL_LIMITS; l++) {
		int64_t w = bucket_wait(&a->server[l], a->unanswered[l], cost->n[l], now_ms);
		int64_t c = bucket_wait(&a->cap[l], 0, cost->n[l], now_ms);
		if (c > w)
			w = c;
		if (w > longest) {
			longest = w;
			*which = (enum rl_limit)l;
		}
	}
	return longest;
}

void rl_admit(struct rl_account *a, const struct rl_cost *cost, int64_t now_ms, struct rl_ticket *t)
{
	for (int l = 0; l < RL_LIMITS; l++) {
		struct rl_bucket *both[2] = {&a->server[l], &a->cap[l]};
		for (int i = 0; i < 2; i++)
			if (both[i]->known) {
				refill(both[i], i == 0 ? a->unanswered[l] : 0, now_ms);
				both[i]->level -= cost->n[l];
				both[i]->overflow = 0;
			}
		a->admitted[l] += cost->n[l];
		a->unanswered[l] += cost->n[l];
		t->admitted_after[l] = a->admitted[l];
	}
	t->account = a;
	t->cost = *cost;
	t->number = ++a->admissions;
}

void rl_observe(struct rl_account *a, const struct rl_headers *h, const struct rl_ticket *t, bool refused,
                int64_t now_ms)
{
	a->answers++;
	if (t)
		for (int l = 0; l < RL_LIMITS; l++)
			a->unanswered[l] -= t->cost.n[l];
	/* An answer overtaken by a newer one knows less than what was adopted already; a refusal is news whenever. */
	if (t && !refused) {
		if (t->number < a->newest_seen)
			return;
		a->newest_seen = t->number;
	}
	for (int l = 0; l < RL_LIMITS; l++) {
		const struct rl_announced *an = &h->at[l];
		struct rl_bucket *b = &a->server[l];
		if (!an->has_limit || !an->has_remaining)
			continue;
		double limit = an->limit, rate = limit / 60000.0;
		double remaining = an->remaining < limit ? an->remaining : limit;
		/* The bucket is full at the reset time: what is left plus what flows in until then is its size. A reset
		 * in the past (or a clock ahead of the server's) means full now; none keeps what was learned before. */
		double capacity;
		if (an->has_reset)
			capacity = remaining + rate * (double)(an->reset_ms > 0 ? an->reset_ms : 0);
		else if (b->known && b->per_minute == limit)
			capacity = b->capacity;
		else
			capacity = limit;
		/* Every estimate errs low (the server rounds remaining down, the reset ages in transit): the largest
		 * one of the same limit is the best. */
		if (b->known && b->per_minute == limit && b->capacity > capacity)
			capacity = b->capacity;
		if (capacity > limit)
			capacity = limit;
		if (capacity < remaining)
			capacity = remaining;
		/* What this process admitted after t may or may not be counted in that answer, and the server rounds down:
		 * so the bucket holds between remaining - later and remaining + 1. Within that, what this process
		 * tracked itself is the finer figure. Above it, someone else spent; below it, the server gave back;
		 * learning the bucket: in each case assume the worst the answer allows. */
		/* A refused request was never charged: it counts neither as ours nor as admitted after another. */
		if (refused && t)
			a->admitted[l] -= t->cost.n[l];
		/* Every other request still unanswered may have reached the server after this answer was written (over
		 * several connections, even one admitted before t). */
		double later = t && a->unanswered[l] > 0 ? a->unanswered[l] : 0;
		double low = remaining - later, high = remaining + 1;
		bool same = b->known && b->per_minute == limit;
		refill(b, a->unanswered[l], now_ms);
		/* With others pressing on the limit, what is left now is theirs as much as ours: take more than this
		 * process's own share only when the bucket is clearly refilling, which means nobody presses any more. */
		double cost = t ? t->cost.n[l] : 1;
		if (same && b->others_per_ms > 0 && remaining >= 2 * cost && remaining >= capacity * 0.7) {
			b->others_per_ms = 0;
			b->window_start = 0;
		}
		if (!same || refused || (b->level < low && b->others_per_ms == 0) || b->level > high) {
			b->level = low;
			b->seeded_by = t ? t->number : 0;
		}
		if (!same) {
			b->others_per_ms = 0;
			b->window_start = 0;
		}
		if (b->level < capacity)
			b->overflow = 0;
		b->known = true;
		b->per_minute = limit;
		b->capacity = capacity;
		b->at_ms = now_ms;
		measure_others(b, a->admitted[l], remaining, now_ms);
		if (refused && t && t->cost.n[l] > remaining) {
			double half = limit / 60000.0 / 2;
			if (b->others_per_ms < half)
				b->others_per_ms = half;
			/* A fresh window measures from here: what came before the refusal must not dilute it. */
			b->window_start = 0;
		}
	}
}

void rl_unanswered(struct rl_account *a, const struct rl_ticket *t)
{
	a->answers++;
	for (int l = 0; l < RL_LIMITS; l++)
		a->unanswered[l] -= t->cost.n[l];
}

void rl_reconcile(struct rl_account *a, const struct rl_ticket *t, double actual_input)
{
	double charged = t->cost.n[RL_INPUT_TOKENS];
	if (actual_input <= 0 || charged <= 0)
		return;
	double delta = actual_input - charged;
	static const enum rl_limit input_counts[] = {RL_INPUT_TOKENS, RL_TOKENS};
	for (size_t i = 0; i < 2; i++) {
		enum rl_limit l = input_counts[i];
		if (t->cost.n[l] <= 0)
			continue;
		if (a->server[l].known && a->server[l].seeded_by != t->number)
			a->server[l].level -= delta;
		if (a->cap[l].known)
			a->cap[l].level -= delta;
		a->admitted[l] += delta;
	}
	/* The ratio of the unscaled guess to the truth: the estimate's error, smoothed over the last few answers. */
	double guess = t->cost.input_guess > 0 ? t->cost.input_guess : charged;
	double sample = actual_input / guess;
	a->input_ratio = a->input_learned ? 0.7 * a->input_ratio + 0.3 * sample : sample;
	a->input_learned = true;
}
