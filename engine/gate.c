/* gate.c - the request window (AIMD), the requests on the wire under it, and the bytes their answers buffer. */
#include <stdlib.h>

#include "gate.h"
#include "util.h"

struct gate {
	int limit;                     /* -j */
	double window;                 /* in (1, limit]: shrinks on congestion, grows back on success */
	int on_wire;                   /* requests started and not finished */
	unsigned long congestion;      /* "slow down" answers noted */
	unsigned long congestion_seen; /* ... as of the last turn's end */
	size_t buffer_limit;           /* bytes of answers all requests may hold at once; 0: no bound */
	size_t buffered;               /* ... held now */
};

struct gate *gate_new(int limit)
{
	struct gate *g = xcalloc(1, sizeof(*g));
	g->limit = limit > 0 ? limit : 1;
	g->window = g->limit;
	g->buffer_limit = GATE_DEFAULT_BUFFER_BYTES;
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

void gate_set_buffer_limit(struct gate *g, size_t bytes)
{
	g->buffer_limit = bytes;
}

size_t gate_buffer_limit(const struct gate *g)
{
	return g->buffer_limit;
}

enum gate_buffer gate_buffer_take(struct gate *g, size_t held, size_t more)
{
	if (g->buffer_limit && (more > g->buffer_limit || g->buffered + more > g->buffer_limit))
		return held + more > g->buffer_limit ? GATE_BUFFER_TOO_BIG : GATE_BUFFER_FULL;
	g->buffered += more;
	return GATE_BUFFER_OK;
}

void gate_buffer_give(struct gate *g, size_t n)
{
	g->buffered = n < g->buffered ? g->buffered - n : 0;
}
