/* test_ratelimit.c - the rate-limit headers of both providers (good, missing, garbage, a reset in the past, a limit
 * that changes mid-run) and the token buckets built from them, on a clock the test drives. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit.h"

#define NOW_UNIX_MS 1796000000000LL   /* 2026-11-30T00:53:20Z */

static void put(struct rl_headers *h, const char *name, const char *value)
{
	assert_true(rl_headers_read(h, name, strlen(name), value, NOW_UNIX_MS));
}

static void test_durations(void **state)
{
	(void)state;
	int64_t ms;
	assert_int_equal(rl_parse_duration("6m0s", &ms), 0);
	assert_int_equal(ms, 360000);
	assert_int_equal(rl_parse_duration("20ms", &ms), 0);
	assert_int_equal(ms, 20);
	assert_int_equal(rl_parse_duration("1.5s", &ms), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(rl_parse_duration("1h2m3.25s", &ms), 0);
	assert_int_equal(ms, 3723250);
	assert_int_equal(rl_parse_duration("0s", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(rl_parse_duration("17.406s", &ms), 0);
	assert_int_equal(ms, 17406);
	assert_int_equal(rl_parse_duration("2", &ms), 0);    /* a bare number means seconds, as in retry-after */
	assert_int_equal(ms, 2000);
	static const char *const bad[] = {"", "s", "ms", "-1s", "1x", "1s2", "1 s", "abc", "1e999s", "nan", "1m-2s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rl_parse_duration(bad[i], &ms), -1);
}

static void test_rfc3339(void **state)
{
	(void)state;
	int64_t ms;
	assert_int_equal(rl_parse_rfc3339("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(rl_parse_rfc3339("2026-11-30T00:53:20Z", &ms), 0);
	assert_true(ms == NOW_UNIX_MS);
	assert_int_equal(rl_parse_rfc3339("2026-11-30T00:53:21.250Z", &ms), 0);
	assert_true(ms == NOW_UNIX_MS + 1250);
	assert_int_equal(rl_parse_rfc3339("2026-11-30T01:53:20+01:00", &ms), 0);
	assert_true(ms == NOW_UNIX_MS);
	assert_int_equal(rl_parse_rfc3339("2024-02-29t12:00:00z", &ms), 0);
	static const char *const bad[] = {"", "2026-11-30", "2026-11-30T00:53:20", "2026-13-01T00:00:00Z",
	                                  "2026-11-31T00:00:00Z", "2026-11-30T24:00:00Z", "2026-11-30T00:53:20.Z",
	                                  "2026-11-30T00:53:20Zjunk", "Mon, 30 Nov 2026 00:53:20 GMT", "tomorrow"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rl_parse_rfc3339(bad[i], &ms), -1);
}

static void test_anthropic_headers(void **state)
{
	(void)state;
	struct rl_headers h;
	rl_headers_clear(&h);
	put(&h, "anthropic-ratelimit-requests-limit", "300");
	put(&h, "anthropic-ratelimit-requests-remaining", "299");
	put(&h, "anthropic-ratelimit-requests-reset", "2026-11-30T00:53:20.200Z");
	put(&h, "Anthropic-RateLimit-Input-Tokens-Limit", "120000");   /* header names are case-insensitive */
	put(&h, "anthropic-ratelimit-input-tokens-remaining", "118000");
	put(&h, "anthropic-ratelimit-input-tokens-reset", "2026-11-30T00:53:21Z");
	put(&h, "anthropic-ratelimit-output-tokens-limit", "40000");
	put(&h, "anthropic-ratelimit-output-tokens-remaining", "39000");
	put(&h, "anthropic-ratelimit-output-tokens-reset", "2026-11-30T00:53:22Z");
	assert_true(h.at[RL_REQUESTS].has_limit && h.at[RL_REQUESTS].limit == 300);
	assert_true(h.at[RL_REQUESTS].remaining == 299);
	assert_int_equal(h.at[RL_REQUESTS].reset_ms, 200);
	assert_true(h.at[RL_INPUT_TOKENS].limit == 120000 && h.at[RL_INPUT_TOKENS].remaining == 118000);
	assert_int_equal(h.at[RL_INPUT_TOKENS].reset_ms, 1000);
	assert_true(h.at[RL_OUTPUT_TOKENS].limit == 40000 && h.at[RL_OUTPUT_TOKENS].reset_ms == 2000);
	assert_false(h.at[RL_TOKENS].has_limit);
	/* Not rate-limit headers: left to others. */
	assert_false(rl_headers_read(&h, "request-id", 10, "req_1", NOW_UNIX_MS));
	assert_false(rl_headers_read(&h, "retry-after", 11, "1", NOW_UNIX_MS));
	assert_false(rl_headers_read(&h, "anthropic-ratelimit-requests-limitx", 35, "1", NOW_UNIX_MS));
}

static void test_openai_headers(void **state)
{
	(void)state;
	struct rl_headers h;
	rl_headers_clear(&h);
	put(&h, "x-ratelimit-limit-requests", "5000");
	put(&h, "x-ratelimit-remaining-requests", "4999");
	put(&h, "x-ratelimit-reset-requests", "12ms");
	put(&h, "x-ratelimit-limit-tokens", "4000000");
	put(&h, "x-ratelimit-remaining-tokens", "3999000");
	put(&h, "x-ratelimit-reset-tokens", "6m0s");
	assert_true(h.at[RL_REQUESTS].limit == 5000 && h.at[RL_REQUESTS].remaining == 4999);
	assert_int_equal(h.at[RL_REQUESTS].reset_ms, 12);
	assert_true(h.at[RL_TOKENS].limit == 4000000 && h.at[RL_TOKENS].remaining == 3999000);
	assert_int_equal(h.at[RL_TOKENS].reset_ms, 360000);
	assert_false(h.at[RL_INPUT_TOKENS].has_limit || h.at[RL_OUTPUT_TOKENS].has_limit);
}

static void test_garbage_is_ignored(void **state)
{
	(void)state;
	struct rl_headers h;
	rl_headers_clear(&h);
	static const char *const bad_numbers[] = {"", "abc", "-5", "12x", "1e999", "nan", " 5", "0x"};
	for (size_t i = 0; i < sizeof(bad_numbers) / sizeof(bad_numbers[0]); i++) {
		put(&h, "anthropic-ratelimit-requests-limit", bad_numbers[i]);
		put(&h, "x-ratelimit-remaining-tokens", bad_numbers[i]);
	}
	put(&h, "anthropic-ratelimit-requests-limit", "0");   /* a limit of nothing is no limit a header can mean */
	put(&h, "anthropic-ratelimit-requests-reset", "soon");
	put(&h, "x-ratelimit-reset-tokens", "6 minutes");
	assert_false(h.at[RL_REQUESTS].has_limit || h.at[RL_REQUESTS].has_reset);
	assert_false(h.at[RL_TOKENS].has_remaining || h.at[RL_TOKENS].has_reset);

	/* Garbage leaves the bucket unknown: nothing to wait for, the window alone applies. */
	struct rl_account a;
	rl_account_init(&a, "anthropic m");
	rl_observe(&a, &h, NULL, false, 0);
	struct rl_cost c;
	rl_cost_of(&a, 3000, 1024, &c);
	enum rl_limit which;
	assert_int_equal(rl_wait_ms(&a, &c, 0, &which), 0);
	assert_int_equal(which, RL_NONE);
}

static void test_missing_headers(void **state)
{
	(void)state;
	struct rl_headers h;
	struct rl_account a;
	struct rl_cost one = {.n = {[RL_REQUESTS] = 1}};
	enum rl_limit which;
	rl_account_init(&a, "anthropic m");
	/* A limit without what is left says nothing to pace by. */
	rl_headers_clear(&h);
	put(&h, "anthropic-ratelimit-requests-limit", "60");
	rl_observe(&a, &h, NULL, false, 0);
	assert_false(a.server[RL_REQUESTS].known);
	/* Without a reset the bucket is taken to hold a minute's worth. */
	put(&h, "anthropic-ratelimit-requests-remaining", "0");
	rl_observe(&a, &h, NULL, false, 0);
	assert_true(a.server[RL_REQUESTS].known);
	assert_true(a.server[RL_REQUESTS].capacity == 60);
	assert_int_equal(rl_wait_ms(&a, &one, 0, &which), 1000);   /* 60 a minute: one a second */
	assert_int_equal(which, RL_REQUESTS);
	assert_int_equal(rl_wait_ms(&a, &one, 400, &which), 600);
	assert_int_equal(rl_wait_ms(&a, &one, 1000, &which), 0);
}

static void test_reset_gives_the_burst(void **state)
{
	(void)state;
	struct rl_headers h;
	struct rl_account a;
	struct rl_cost one = {.n = {[RL_REQUESTS] = 1}};
	enum rl_limit which;
	struct rl_ticket t;
	rl_account_init(&a, "anthropic m");
	/* 300 a minute (5 a second), 4 left and full again in 1.2 s: the bucket holds 4 + 6 = 10 (a 2 s burst). */
	rl_headers_clear(&h);
	put(&h, "anthropic-ratelimit-requests-limit", "300");
	put(&h, "anthropic-ratelimit-requests-remaining", "4");
	put(&h, "anthropic-ratelimit-requests-reset", "2026-11-30T00:53:21.200Z");
	rl_observe(&a, &h, NULL, false, 1000);
	assert_true(a.server[RL_REQUESTS].capacity > 9.99 && a.server[RL_REQUESTS].capacity < 10.01);
	struct rl_ticket four[4];
	for (int i = 0; i < 4; i++) {
		assert_int_equal(rl_wait_ms(&a, &one, 1000, &which), 0);
		rl_admit(&a, &one, 1000, &four[i]);
	}
	assert_int_equal(rl_wait_ms(&a, &one, 1000, &which), 200);
	struct rl_headers none;
	rl_headers_clear(&none);
	for (int i = 0; i < 4; i++)
		rl_observe(&a, &none, &four[i], false, 1010);
	/* Refill never overflows the bucket: after a long pause, 10 at once and no more. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(rl_wait_ms(&a, &one, 60000, &which), 0);
		rl_admit(&a, &one, 60000, &t);
	}
	assert_int_equal(rl_wait_ms(&a, &one, 60000, &which), 200);
}

/* A request admitted into a full bucket may reach the server late (a loaded machine, a slow connection): the server's
 * bucket stays full meanwhile and gains nothing, so this view must not count that refill either until the answer
 * says the request was charged. (Counting it let three requests admitted 100 ms apart land together at a full
 * bucket and overdraw it by 2288 output tokens.) */
static void test_full_bucket_gains_nothing_while_requests_are_on_the_way(void **state)
{
	(void)state;
	struct rl_headers h, none;
	struct rl_account a;
	struct rl_cost c = {.n = {[RL_OUTPUT_TOKENS] = 2000}};
	struct rl_ticket t1, t2;
	enum rl_limit which;
	rl_account_init(&a, "anthropic m");
	rl_headers_clear(&h);
	rl_headers_clear(&none);
	put(&h, "anthropic-ratelimit-output-tokens-limit", "600000");   /* 10 a millisecond */
	put(&h, "anthropic-ratelimit-output-tokens-remaining", "10000");
	put(&h, "anthropic-ratelimit-output-tokens-reset", "2026-11-30T00:53:20Z");   /* full now: it holds 10000 */
	rl_observe(&a, &h, NULL, false, 0);
	rl_admit(&a, &c, 0, &t1);                                         /* 8000 left, 2000 on the way */
	/* 300 ms later, nothing answered: at most 10000 - 2000 can be left, however long the wait. */
	assert_int_equal(rl_wait_ms(&a, &c, 300, &which), 0);
	assert_true(a.server[RL_OUTPUT_TOKENS].level <= 8000.01);
	rl_admit(&a, &c, 300, &t2);
	c.n[RL_OUTPUT_TOKENS] = 7000;                                     /* 6000 left, 4000 on the way */
	assert_true(rl_wait_ms(&a, &c, 1000, &which) > 0);
	assert_int_equal(which, RL_OUTPUT_TOKENS);
	/* Once both are answered (charged: 6000 is what the server has left if they arrived just now), the bucket
	 * refills past that again: 7000 fits 100 ms later. */
	rl_observe(&a, &none, &t1, false, 1000);
	rl_observe(&a, &none, &t2, false, 1000);
	assert_int_equal(rl_wait_ms(&a, &c, 1000, &which), 100);
	assert_int_equal(rl_wait_ms(&a, &c, 1100, &which), 0);
}

/* A second model of a provider starts blind; its blind start spends no more than the provider's known bucket. */
static void test_blind_start_stays_within_a_known_bucket(void **state)
{
	(void)state;
	struct rl_headers h;
	struct rl_account known, fresh;
	struct rl_cost small = {.n = {[RL_REQUESTS] = 1, [RL_OUTPUT_TOKENS] = 2048}};
	struct rl_cost big = {.n = {[RL_REQUESTS] = 1, [RL_OUTPUT_TOKENS] = 8192}};
	struct rl_ticket t;
	enum rl_limit which;
	rl_account_init(&known, "anthropic haiku");
	rl_headers_clear(&h);
	put(&h, "anthropic-ratelimit-output-tokens-limit", "600000");
	put(&h, "anthropic-ratelimit-output-tokens-remaining", "10000");
	put(&h, "anthropic-ratelimit-output-tokens-reset", "2026-11-30T00:53:20Z");
	rl_observe(&known, &h, NULL, false, 0);
	rl_account_init(&fresh, "anthropic sonnet");
	rl_account_guess_from(&fresh, &known);
	assert_int_equal(rl_wait_ms(&fresh, &small, 0, &which), 0);
	rl_admit(&fresh, &small, 0, &t);
	assert_int_equal(rl_wait_ms(&fresh, &small, 0, &which), 0);
	rl_admit(&fresh, &small, 0, &t);
	/* 2048 + 2048 + 8192 would be more than 10000: the outline waits for the first answer. */
	assert_true(rl_wait_ms(&fresh, &big, 0, &which) > 0);
	assert_int_equal(which, RL_OUTPUT_TOKENS);
	/* Without a guess, the blind start is four requests, whatever they cost. */
	rl_account_init(&fresh, "anthropic sonnet");
	rl_admit(&fresh, &small, 0, &t);
	rl_admit(&fresh, &small, 0, &t);
	assert_int_equal(rl_wait_ms(&fresh, &big, 0, &which), 0);
}

static void test_reset_in_the_past(void **state)
{
	(void)state;
	struct rl_headers h;
	struct rl_account a;
	struct rl_cost one = {.n = {[RL_REQUESTS] = 1}};
	enum rl_limit which;
	rl_account_init(&a, "openai m");
	rl_headers_clear(&h);
	put(&h, "anthropic-ratelimit-requests-limit", "600");
	put(&h, "anthropic-ratelimit-requests-remaining", "0");
	put(&h, "anthropic-ratelimit-requests-reset", "2026-11-30T00:50:00Z");   /* minutes ago: a skewed clock */
	assert_true(h.at[RL_REQUESTS].reset_ms < 0);
	rl_observe(&a, &h, NULL, false, 0);
	/* Neither a negative bucket nor a stall: paced at the announced rate, 10 a second. */
	assert_true(a.server[RL_REQUESTS].known && a.server[RL_REQUESTS].capacity >= 0);
	int64_t wait = rl_wait_ms(&a, &one, 0, &which);
	assert_true(wait >= 0 && wait <= 100);
	assert_int_equal(rl_wait_ms(&a, &one, 100, &which), 0);
}

static void test_limit_changes_mid_run(void **state)
{
	(void)state;
	struct rl_headers h;
	struct rl_account a;
	struct rl_cost one = {.n = {[RL_REQUESTS] = 1}};
	enum rl_limit which;
	rl_account_init(&a, "openai m");
	rl_headers_clear(&h);
	put(&h, "x-ratelimit-limit-requests", "6000");
	put(&h, "x-ratelimit-remaining-requests", "0");
	put(&h, "x-ratelimit-reset-requests", "10ms");
	rl_observe(&a, &h, NULL, false, 0);
	assert_int_equal(rl_wait_ms(&a, &one, 0, &which), 10);
	/* The organisation's tier went down: the next answer says 60 a minute, and pacing follows at once. */
	rl_headers_clear(&h);
	put(&h, "x-ratelimit-limit-requests", "60");
	put(&h, "x-ratelimit-remaining-requests", "0");
	put(&h, "x-ratelimit-reset-requests", "1s");
	rl_observe(&a, &h, NULL, false, 0);
	assert_true(a.server[RL_REQUESTS].per_minute == 60);
	assert_int_equal(rl_wait_ms(&a, &one, 0, &which), 1000);
	/* A remaining above the limit is not believed beyond the limit. */
	rl_headers_clear(&h);
	put(&h, "x-ratelimit-limit-requests", "60");
	put(&h, "x-ratelimit-remaining-requests", "5000");
	rl_observe(&a, &h, NULL, false, 0);
	assert_true(a.server[RL_REQUESTS].level <= 60 && a.server[RL_REQUESTS].capacity <= 60);
}

static void test_remaining_counts_other_processes(void **state)
{
	(void)state;
	struct rl_headers h;
	struct rl_account a;
	struct rl_cost one = {.n = {[RL_REQUESTS] = 1}};
	struct rl_ticket t1, t2, t3, t4;
	enum rl_limit which;
	rl_account_init(&a, "anthropic m");
	rl_headers_clear(&h);
	put(&h, "anthropic-ratelimit-requests-limit", "60");
	put(&h, "anthropic-ratelimit-requests-remaining", "10");
	rl_observe(&a, &h, NULL, false, 0);
	rl_admit(&a, &one, 0, &t1);
	rl_admit(&a, &one, 0, &t2);
	rl_admit(&a, &one, 0, &t3);
	assert_true(a.server[RL_REQUESTS].level == 7);
	/* t1's answer says 3 are left where this process counted 7: someone else spent. t2 and t3 are unanswered and
	 * may not be counted there yet, so only 1 is surely left. */
	put(&h, "anthropic-ratelimit-requests-remaining", "3");
	rl_observe(&a, &h, &t1, false, 0);
	assert_true(a.server[RL_REQUESTS].level == 1);
	/* Between 2 and 4 (t3 counted or not, and the server rounds down) the answer agrees with this process's own,
	 * finer count, which stands. */
	a.server[RL_REQUESTS].level = 2.5;
	rl_observe(&a, &h, &t2, false, 0);
	assert_true(a.server[RL_REQUESTS].level == 2.5);
	/* t4's answer is the newest; t3's, coming after it, is old news and changes nothing. */
	rl_admit(&a, &one, 0, &t4);
	put(&h, "anthropic-ratelimit-requests-remaining", "0");
	rl_observe(&a, &h, &t4, false, 0);
	assert_true(a.server[RL_REQUESTS].level == -1);
	put(&h, "anthropic-ratelimit-requests-remaining", "50");
	rl_observe(&a, &h, &t3, false, 0);
	assert_true(a.server[RL_REQUESTS].level == -1);
	assert_int_equal(rl_wait_ms(&a, &one, 0, &which), 2000);
	/* A refusal is news whenever it comes, and its request was never charged. */
	rl_admit(&a, &one, 2000, &t1);
	put(&h, "anthropic-ratelimit-requests-remaining", "0");
	rl_observe(&a, &h, &t1, true, 2000);
	assert_true(a.server[RL_REQUESTS].level == 0);
	assert_true(a.server[RL_REQUESTS].others_per_ms > 0);
}

static void test_tokens_and_reconcile(void **state)
{
	(void)state;
	struct rl_headers h;
	struct rl_account a;
	struct rl_cost c;
	struct rl_ticket t;
	enum rl_limit which;
	rl_account_init(&a, "anthropic m");
	/* Before any usage, a third of the bytes: 3000 bytes are 1000 tokens; max_tokens is charged whole. */
	rl_cost_of(&a, 3000, 1024, &c);
	assert_true(c.n[RL_REQUESTS] == 1 && c.n[RL_INPUT_TOKENS] == 1000 && c.n[RL_OUTPUT_TOKENS] == 1024);
	assert_true(c.n[RL_TOKENS] == 2024);
	rl_headers_clear(&h);
	put(&h, "anthropic-ratelimit-input-tokens-limit", "60000");   /* 1000 a second */
	put(&h, "anthropic-ratelimit-input-tokens-remaining", "1500");
	put(&h, "anthropic-ratelimit-output-tokens-limit", "60000");
	put(&h, "anthropic-ratelimit-output-tokens-remaining", "60000");
	rl_observe(&a, &h, NULL, false, 0);
	assert_int_equal(rl_wait_ms(&a, &c, 0, &which), 0);
	rl_admit(&a, &c, 0, &t);
	assert_int_equal(rl_wait_ms(&a, &c, 0, &which), 500);
	assert_int_equal(which, RL_INPUT_TOKENS);
	/* The usage said 750: the 250 over-charged come back, and the estimate learns the ratio (plus a margin). */
	rl_reconcile(&a, &t, 750);
	assert_true(a.server[RL_INPUT_TOKENS].level == 750);
	rl_cost_of(&a, 3000, 1024, &c);
	assert_true(c.n[RL_INPUT_TOKENS] >= 750 && c.n[RL_INPUT_TOKENS] <= 800);
	assert_true(rl_wait_ms(&a, &c, 0, &which) <= 50);   /* the output bucket is far from binding */
	/* Output binds when max_tokens is large. */
	rl_cost_of(&a, 30, 100000, &c);
	assert_true(rl_wait_ms(&a, &c, 0, &which) > 0);
	assert_int_equal(which, RL_OUTPUT_TOKENS);
}

/* The answer to a request says what is left with that request charged at the server's own count: its usage must
 * not give the client's overestimate back a second time. (Crediting it there admitted 1-4 of ~68 requests beyond
 * the input-token buckets: every answer raised the view of the bucket by the estimate's error.) */
static void test_usage_does_not_credit_twice(void **state)
{
	(void)state;
	struct rl_headers h;
	struct rl_account a;
	struct rl_cost c;
	struct rl_ticket t;
	enum rl_limit which;
	rl_account_init(&a, "anthropic m");
	rl_headers_clear(&h);
	put(&h, "anthropic-ratelimit-input-tokens-limit", "60000");   /* 1000 a second */
	put(&h, "anthropic-ratelimit-input-tokens-remaining", "2000");
	rl_observe(&a, &h, NULL, false, 0);
	rl_cost_of(&a, 3000, 0, &c);                                   /* estimated 1000 */
	rl_admit(&a, &c, 0, &t);
	/* Answered at once: the server charged its 700, so 1300 are left; the bucket is taken from that figure. */
	rl_headers_clear(&h);
	put(&h, "anthropic-ratelimit-input-tokens-limit", "60000");
	put(&h, "anthropic-ratelimit-input-tokens-remaining", "1300");
	rl_observe(&a, &h, &t, false, 0);
	rl_reconcile(&a, &t, 700);
	assert_true(a.server[RL_INPUT_TOKENS].level == 1300);
	/* So a request of 1400 waits 100 ms (it would have gone at once on a view of 1600). */
	c.n[RL_INPUT_TOKENS] = 1400;
	assert_int_equal(rl_wait_ms(&a, &c, 0, &which), 100);
	assert_int_equal(which, RL_INPUT_TOKENS);
}

static void test_oversized_request_waits_for_a_full_bucket(void **state)
{
	(void)state;
	struct rl_headers h;
	struct rl_account a;
	struct rl_cost big = {.n = {[RL_OUTPUT_TOKENS] = 5000}};
	struct rl_ticket t;
	enum rl_limit which;
	rl_account_init(&a, "anthropic m");
	rl_headers_clear(&h);
	put(&h, "anthropic-ratelimit-output-tokens-limit", "60000");
	put(&h, "anthropic-ratelimit-output-tokens-remaining", "1000");
	put(&h, "anthropic-ratelimit-output-tokens-reset", "2026-11-30T00:53:21Z");   /* holds 2000 */
	rl_observe(&a, &h, NULL, false, 0);
	/* Full at 1 s, and 3 % of the bucket more, since its size is only estimated. */
	assert_int_equal(rl_wait_ms(&a, &big, 0, &which), 1060);
	assert_int_equal(rl_wait_ms(&a, &big, 1030, &which), 30);
	assert_int_equal(rl_wait_ms(&a, &big, 1060, &which), 0);
	rl_admit(&a, &big, 1060, &t);
	assert_int_equal(rl_wait_ms(&a, &big, 1060, &which), 5060);
}

static void test_user_caps(void **state)
{
	(void)state;
	struct rl_account a;
	struct rl_cost c;
	struct rl_ticket t;
	enum rl_limit which;
	rl_account_init(&a, "anthropic m");
	rl_account_set_cap(&a, RL_REQUESTS, 120, 0);          /* 2 a second, holding 2 */
	rl_account_set_cap(&a, RL_INPUT_TOKENS, 60000, 0);    /* 1000 a second */
	rl_cost_of(&a, 1500, 0, &c);                          /* 500 input tokens */
	rl_admit(&a, &c, 0, &t);
	rl_admit(&a, &c, 0, &t);
	assert_int_equal(rl_wait_ms(&a, &c, 0, &which), 500);
	assert_int_equal(which, RL_REQUESTS);
	rl_account_set_cap(&a, RL_REQUESTS, 0, 0);            /* removed */
	assert_int_equal(rl_wait_ms(&a, &c, 250, &which), 250);
	assert_int_equal(which, RL_INPUT_TOKENS);
	assert_int_equal(rl_wait_ms(&a, &c, 500, &which), 0);
	assert_string_equal(rl_limit_name(RL_INPUT_TOKENS), "input tokens");
	assert_string_equal(rl_limit_key(RL_OUTPUT_TOKENS), "output_tokens");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_anthropic_headers),
		cmocka_unit_test(test_openai_headers),
		cmocka_unit_test(test_garbage_is_ignored),
		cmocka_unit_test(test_missing_headers),
		cmocka_unit_test(test_reset_gives_the_burst),
		cmocka_unit_test(test_reset_in_the_past),
		cmocka_unit_test(test_blind_start_stays_within_a_known_bucket),
		cmocka_unit_test(test_full_bucket_gains_nothing_while_requests_are_on_the_way),
		cmocka_unit_test(test_limit_changes_mid_run),
		cmocka_unit_test(test_remaining_counts_other_processes),
		cmocka_unit_test(test_tokens_and_reconcile),
		cmocka_unit_test(test_usage_does_not_credit_twice),
		cmocka_unit_test(test_oversized_request_waits_for_a_full_bucket),
		cmocka_unit_test(test_user_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
