/* gate.c - the request window (AIMD) and the requests on the wire under it. */
#include <stdlib.h>

#include "gate.h"
#include "util.h"

struct gate {
	int limit;                     /* -j */
	double window;                 /* in (1, limit]: shrinks on congestion, grows back on success */
	int on_wire;                   /* requests started and not finished */
	unsigned long congestion;      /* "slow down" answers noted */
	unsigned long congestion_seen; /* ... as of the last turn's end */
};

struct gate *gate_new(int limit)
{
	struct gate *g = xcalloc(1, sizeof(*g));
	g->limit = limit > 0 ? limit : 1;
	g->window = g->limit;
	return g;
}

void gate_free(struct gate *g)
{
	free(g);
}

enum gate_answer gate_admit(const struct gate *g, int64_t now_ms, long *wait_ms)
{
	(void)now_ms;
	*wait_ms = 0;
	return g->on_wire < (int)g->window ? GATE_OPEN : GATE_WAIT;
}

void gate_request_started(struct gate *g)
{
	g->on_wire++;
}

void gate_request_finished(struct gate *g)
{
	g->on_wire--;
}

void gate_note_congestion(struct gate *g)
{
	g->congestion++;
}

void gate_note_success(struct gate *g)
{
	if (g->window < g->limit)
		g->window += 1.0 / g->window;
}

void gate_end_turn(struct gate *g)
{
	/* Many 429s in one turn are one signal: the server saw the same burst. */
	if (g->congestion == g->congestion_seen)
		return;
	g->congestion_seen = g->congestion;
	g->window /= 2;
	if (g->window < 1)
		g->window = 1;
}

int gate_window(const struct gate *g)
{
	return (int)g->window;
}

unsigned long gate_congestion(const struct gate *g)
{
	return g->congestion;
}
