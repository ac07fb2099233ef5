/* test_pricing.c - the price table, dated model names, the environment override and the token estimate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net.h"
#include "pricing.h"

static void test_table_and_snapshots(void **state)
{
	(void)state;
	double in, out;
	unsetenv("SCRIPTBUILD_PRICES");
	assert_int_equal(pricing_lookup("gpt-4o-mini", &in, &out), 0);
	assert_true(in == 0.15 && out == 0.60);
	/* A dated snapshot is priced as its alias, and the longest alias wins. */
	assert_int_equal(pricing_lookup("gpt-4o-mini-2024-07-18", &in, &out), 0);
	assert_true(in == 0.15);
	assert_int_equal(pricing_lookup("gpt-4o-2024-08-06", &in, &out), 0);
	assert_true(in == 2.50);
	assert_int_equal(pricing_lookup("claude-sonnet-4-5-20250929", &in, &out), 0);
	assert_true(in == 3.00 && out == 15.00);
	assert_int_equal(pricing_lookup("claude-3-5-haiku-latest", &in, &out), 0);
	assert_true(in == 0.80);
	/* Not a snapshot: a different model that merely shares a prefix. */
	assert_int_equal(pricing_lookup("gpt-4.1-nano", &in, &out), -1);
	assert_int_equal(pricing_lookup("llama3:8b", &in, &out), -1);
	assert_int_equal(pricing_lookup(NULL, &in, &out), -1);
	/* Every default model has a price. */
	for (int k = 0; k < STEP_KINDS; k++) {
		const char *a = net_default_model("anthropic", (enum step_kind)k), *o = net_default_model("openai", (enum step_kind)k);
		assert_true(!a || pricing_lookup(a, &in, &out) == 0);
		assert_int_equal(pricing_lookup(o, &in, &out), 0);
	}
	assert_true(pricing_cost("claude-haiku-4-5", 1000000, 200000) == 1.00 + 1.00);
	assert_true(pricing_cost("unknown-model", 1, 1) < 0);
}

static void test_environment_override(void **state)
{
	(void)state;
	double in, out;
	char err[256];
	setenv("SCRIPTBUILD_PRICES", "llama3:8b=0/0,gpt-4o-mini=1.5/2.25", 1);
	assert_int_equal(pricing_check_env(err, sizeof(err)), 0);
	assert_int_equal(pricing_lookup("gpt-4o-mini", &in, &out), 0);
	assert_true(in == 1.5 && out == 2.25);
	assert_int_equal(pricing_lookup("llama3:8b", &in, &out), 0);
	assert_true(in == 0 && out == 0);
	setenv("SCRIPTBUILD_PRICES", "gpt-4o-mini=1.5,x=1/2", 1);
	assert_int_equal(pricing_check_env(err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad entry \"gpt-4o-mini=1.5\""));
	/* The bad entry is skipped: the table still answers. */
	assert_int_equal(pricing_lookup("gpt-4o-mini", &in, &out), 0);
	assert_true(in == 0.15);
	unsetenv("SCRIPTBUILD_PRICES");
	assert_int_equal(pricing_check_env(err, sizeof(err)), 0);
}

static void test_estimate(void **state)
{
	(void)state;
	assert_int_equal(estimate_tokens(0), 0);
	assert_int_equal(estimate_tokens(1), 1);
	assert_int_equal(estimate_tokens(4000), 1000);
	assert_int_equal(estimate_tokens(4001), 1001);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_and_snapshots),
		cmocka_unit_test(test_environment_override),
		cmocka_unit_test(test_estimate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
