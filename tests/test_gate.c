/* test_gate.c - the request window: admission, halving once per congested turn, additive growth back to -j. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gate.h"

/* Starts requests until the gate refuses one; returns how many it admitted. */
static int fill(struct gate *g)
{
	long wait = -1;
	int n = 0;
	while (gate_admit(g, 0, &wait) == GATE_OPEN) {
		gate_request_started(g);
		n++;
	}
	assert_int_equal(wait, 0);
	return n;
}

static void drain(struct gate *g, int n)
{
	while (n-- > 0)
		gate_request_finished(g);
}

static void test_admits_up_to_the_limit(void **state)
{
	(void)state;
	struct gate *g = gate_new(10);
	assert_int_equal(gate_window(g), 10);
	assert_int_equal(fill(g), 10);
	long wait;
	gate_request_finished(g);
	assert_int_equal(gate_admit(g, 0, &wait), GATE_OPEN);
	drain(g, 9);
	gate_free(g);

	g = gate_new(0);
	assert_int_equal(gate_window(g), 1);
	assert_int_equal(fill(g), 1);
	drain(g, 1);
	gate_free(g);
}

static void test_halves_once_per_congested_turn(void **state)
{
	(void)state;
	struct gate *g = gate_new(16);
	/* A burst of 429s in one turn is one signal. */
	gate_note_congestion(g);
	gate_note_congestion(g);
	gate_note_congestion(g);
	assert_int_equal(gate_window(g), 16);
	gate_end_turn(g);
	assert_int_equal(gate_congestion(g), 3);
	assert_int_equal(gate_window(g), 8);
	/* A quiet turn changes nothing. */
	gate_end_turn(g);
	assert_int_equal(gate_window(g), 8);
	assert_int_equal(fill(g), 8);
	drain(g, 8);
	/* Never below one request. */
	for (int i = 0; i < 10; i++) {
		gate_note_congestion(g);
		gate_end_turn(g);
	}
	assert_int_equal(gate_window(g), 1);
	assert_int_equal(fill(g), 1);
	drain(g, 1);
	gate_free(g);
}

static void test_grows_back_one_per_window(void **state)
{
	(void)state;
	struct gate *g = gate_new(6);
	gate_note_congestion(g);
	gate_end_turn(g);
	assert_int_equal(gate_window(g), 3);
	/* Additive increase: each success adds 1/window, so about a window's worth of successes adds one request. */
	for (int i = 0; i < 3; i++)
		gate_note_success(g);
	assert_int_equal(gate_window(g), 3);
	gate_note_success(g);
	assert_int_equal(gate_window(g), 4);
	for (int i = 0; i < 100; i++)
		gate_note_success(g);
	/* ... and never past -j. */
	assert_int_equal(gate_window(g), 6);
	assert_int_equal(fill(g), 6);
	drain(g, 6);
	gate_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admits_up_to_the_limit),
		cmocka_unit_test(test_halves_once_per_congested_turn),
		cmocka_unit_test(test_grows_back_one_per_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
