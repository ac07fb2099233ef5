/* batchmode.c - the message batches as scriptbuild shows them: status line, summary line, -t batches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batchmode.h"
#include "cache.h"
#include "net.h"
#include "pricing.h"
#include "report.h"
#include "util.h"

/* "45 s", "37 min", "2 h 05 min". */
static void age_text(double seconds, char *out, size_t len)
{
	long s = seconds > 0 ? (long)seconds : 0;
	if (s < 60)
		snprintf(out, len, "%ld s", s);
	else if (s < 3600)
		snprintf(out, len, "%ld min", s / 60);
	else
		snprintf(out, len, "%ld h %02ld min", s / 3600, s / 60 % 60);
}

void batchmode_progress(void *ctx, const struct batch_progress *p)
{
	struct batch_view *v = ctx;
	if (v->quiet)
		return;
	char age[32];
	age_text(p->age_s, age, sizeof(age));
	if (v->tty) {
		fprintf(stderr, "\rbatch %zu/%zu: %zu of %zu done, %s\033[K", p->index, p->count, p->done, p->total, age);
		if (v->line_open)
			*v->line_open = true;
		return;
	}
	/* A log is read later: a line when a batch starts, moves on or ends, not one per poll. */
	if (!v->verbose && v->last_index == p->index && v->last_done == p->done && !strcmp(v->last_status, p->status))
		return;
	v->last_index = p->index;
	v->last_done = p->done;
	snprintf(v->last_status, sizeof(v->last_status), "%s", p->status);
	fprintf(stderr, "scriptbuild: batch %zu/%zu: %zu of %zu done, %s (%s %s)\n", p->index, p->count, p->done,
	        p->total, age, p->id, p->status);
}

void batchmode_warn(void *ctx, const char *message)
{
	struct batch_view *v = ctx;
	if (v->line_open && *v->line_open) {
		fputs("\r\033[K", stderr);
		*v->line_open = false;
	}
	fprintf(stderr, "scriptbuild: warning: %s\n", message);
}

void batchmode_summary(const struct build_result *r, const struct step_config *cfg, const struct batch_totals *t)
{
	if (!t->submitted && !t->resumed && !r->batch_requests)
		return;
	if (t->running)
		fprintf(stderr, "scriptbuild: %lu message batch%s left running: the next run collects %s instead of paying "
		        "again (scriptbuild -t batches lists them)\n", t->running, t->running == 1 ? "" : "es",
		        t->running == 1 ? "it" : "them");
	double saved = report_batch_saving(r, cfg);
	fprintf(stderr, "scriptbuild: message batches: %lu submitted, %lu resumed, %lu requests (%lu sent again), "
	        "%lu polls; batch price ~$%.4f, saved ~$%.4f against the standard price\n", t->submitted, t->resumed,
	        r->batch_requests, t->resubmitted, t->polls, saved * PRICING_BATCH_FACTOR / (1 - PRICING_BATCH_FACTOR),
	        saved);
}

struct listing {
	size_t n;
	char **ids;
	size_t cap;
};

static void list_one(void *ctx, const struct batch_record *r)
{
	struct listing *l = ctx;
	char age[32];
	age_text(difftime(time(NULL), (time_t)r->created), age, sizeof(age));
	printf("%s  %s old  %zu requests (%zu summary, %zu outline, %zu sheet)%s  %s\n", r->id, age, r->requests,
	       r->by_kind[STEP_SUMMARY], r->by_kind[STEP_OUTLINE], r->by_kind[STEP_SHEET],
	       r->results ? "  ended: results kept for a later run" : "", r->endpoint);
	l->ids = xgrow(l->ids, &l->cap, l->n + 1, sizeof(*l->ids));
	l->ids[l->n++] = xstrdup(r->id);
}

int batchmode_tool(struct cache *c, struct loop *l, const struct net_config *net, bool cancel)
{
	struct listing list = {0};
	char err[1024];
	int rc = 0;
	if (batch_each_record(c, list_one, &list, err, sizeof(err)) < 0) {
		fprintf(stderr, "scriptbuild: %s\n", err);
		return 1;
	}
	if (list.n == 0)
		printf("no message batches pending\n");
	for (size_t i = 0; cancel && i < list.n; i++) {
		if (batch_cancel(c, l, net, list.ids[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "scriptbuild: %s\n", err);
			rc = 1;
		} else {
			printf("cancelled %s\n", list.ids[i]);
		}
	}
	for (size_t i = 0; i < list.n; i++)
		free(list.ids[i]);
	free(list.ids);
	return rc;
}
