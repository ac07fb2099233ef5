/* builtin_outline.c - the offline analyser's outline, from the author's sections or three acts. */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <xxhash.h>

#include "builtin_int.h"

/* What a scene is about in one sentence: the builtin summary's first event, else the first sentence of any summary. */
static char *gist(const cJSON *summary)
{
	const cJSON *events = cJSON_GetObjectItemCaseSensitive(summary, "events");
	const cJSON *first = cJSON_IsArray(events) ? cJSON_GetArrayItem(events, 0) : NULL;
	if (cJSON_IsString(first))
		return xstrdup(first->valuestring);
	struct lines sentences = {0};
	builtin_split_sentences(builtin_json_str(summary, "summary"), &sentences);
	char *g = xstrdup(sentences.n ? sentences.v[0] : "");
	builtin_lines_free(&sentences);
	return g;
}

/* A stretch of scenes [first, last] named by a section, and the sections [sec_lo, sec_hi) inside it. */
struct span {
	const char *title;
	size_t first, last;
	size_t sec_lo, sec_hi;
	int depth;
};

/* Cuts [first, last] at the shallowest sections deeper than parent_depth among sections [lo, hi); scenes before the
 * first cut make a span titled lead; cuts that hold no scene are dropped. Returns the spans written (at most
 * hi - lo + 1). */
static size_t cut_spans(const struct fountain_script *s, size_t lo, size_t hi, int parent_depth, size_t first,
                        size_t last, const char *lead, struct span *out)
{
	int depth = 0;
	for (size_t i = lo; i < hi; i++)
		if (s->sections[i].depth > parent_depth && (depth == 0 || s->sections[i].depth < depth))
			depth = s->sections[i].depth;
	if (depth == 0)
		return 0;
	size_t n = 0;
	bool led = false;
	for (size_t i = lo; i < hi; i++) {
		if (s->sections[i].depth != depth)
			continue;
		size_t next = i + 1;
		while (next < hi && s->sections[next].depth != depth)
			next++;
		size_t f = s->sections[i].next_scene < first ? first : s->sections[i].next_scene;
		size_t l = next < hi ? s->sections[next].next_scene - 1 : last;
		if (l > last)
			l = last;
		if (!led && f > first) {
			size_t lead_last = f - 1 < last ? f - 1 : last;
			out[n++] = (struct span){lead, first, lead_last, lo, i, depth};
		}
		led = true;
		if (f <= l)
			out[n++] = (struct span){s->sections[i].title, f, l, i + 1, next, depth};
	}
	return n;
}

static const char *const act_names[] = {"Act One", "Act Two", "Act Three"};

/* Three acts of about a quarter, a half and a quarter of the scenes (fewer when there are fewer scenes). */
static size_t three_acts(const struct fountain_script *s, size_t n, struct span *out)
{
	size_t q = (n + 2) / 4 ? (n + 2) / 4 : 1;
	size_t first[3] = {1, q + 1, n - q + 1}, last[3] = {q, n - q, n};
	size_t k = 0, done = 0;
	for (size_t i = 0; i < 3; i++) {
		if (first[i] > last[i] || first[i] <= done)
			continue;
		out[k] = (struct span){act_names[k], first[i], last[i], s->nsections, s->nsections, 1};
		k++;
		done = last[i];
	}
	return k;
}

static void add_beats(cJSON *beats, const struct fountain_script *s, const cJSON *const *summaries, size_t first,
                      size_t last)
{
	for (size_t i = first; i <= last; i++) {
		char *g = gist(summaries[i - 1]);
		const char *heading = i <= s->nscenes ? s->scenes[i - 1].heading : "";
		char *beat = xasprintf("%s%s%s", heading, *heading && *g ? ": " : "", g);
		builtin_push_str(beats, beat);
		free(beat);
		free(g);
	}
}

static cJSON *span_object(const struct span *sp)
{
	cJSON *o = builtin_must(cJSON_CreateObject());
	builtin_put_str(o, "title", sp->title);
	cJSON *range = builtin_put_array(o, "scenes");
	cJSON_AddItemToArray(range, builtin_must(cJSON_CreateNumber((double)sp->first)));
	cJSON_AddItemToArray(range, builtin_must(cJSON_CreateNumber((double)sp->last)));
	return o;
}

/* The title on one line, or NULL. */
static char *one_line_title(const struct fountain_script *s)
{
	if (!s->title || !*s->title)
		return NULL;
	char *t = xstrdup(s->title);
	for (char *c = t; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return t;
}

static void add_logline(struct buf *b, const struct fountain_script *s, const cJSON *const *summaries, size_t n)
{
	char *title = one_line_title(s);
	struct tally cast = {0};
	for (size_t i = 0; i < n; i++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(summaries[i], "characters"))
			if (cJSON_IsString(c))
				builtin_tally_add(&cast, c->valuestring, 1);
	}
	size_t top[2];
	size_t ntop = builtin_tally_top(&cast, 2, top);
	if (ntop == 2 && top[0] > top[1]) {
		size_t t = top[0];
		top[0] = top[1];
		top[1] = t;
	}
	buf_puts(b, title ? title : "The script");
	if (ntop) {
		char *names[2] = {cast.name[top[0]], ntop > 1 ? cast.name[top[1]] : NULL};
		buf_puts(b, " follows ");
		builtin_add_names(b, names, ntop);
		buf_printf(b, " across %zu scene%s", n, n == 1 ? "" : "s");
	} else {
		buf_printf(b, " runs %zu scene%s", n, n == 1 ? "" : "s");
	}
	const char *from = n && n <= s->nscenes ? s->scenes[0].location : "";
	const char *to = n && n <= s->nscenes ? s->scenes[n - 1].location : "";
	if (*from && *to && strcmp(from, to) != 0)
		buf_printf(b, ", from %s to %s", from, to);
	else if (*from && n > 1)
		buf_printf(b, ", beginning and ending at %s", from);
	else if (*from)
		buf_printf(b, " at %s", from);
	buf_puts(b, ".");
	builtin_tally_free(&cast);
	free(title);
}

static void add_synopsis(struct buf *b, const struct fountain_script *s, const cJSON *const *summaries, size_t n)
{
	for (size_t i = 0; i < s->nsynopses; i++)
		builtin_add_sentence(b, s->synopses[i].text);
	if (!n) {
		builtin_add_sentence(b, "The script has no scenes.");
		return;
	}
	char *open = gist(summaries[0]);
	if (*open) {
		char *t = xasprintf("It opens: %s", open);
		builtin_add_sentence(b, t);
		free(t);
	}
	free(open);
	if (n > 1) {
		char *close = gist(summaries[n - 1]);
		if (*close) {
			char *t = xasprintf("It ends: %s", close);
			builtin_add_sentence(b, t);
			free(t);
		}
		free(close);
	}
}

cJSON *builtin_outline(const struct fountain_script *s, const cJSON *const *summaries, size_t n)
{
	if (!s || (n && !summaries))
		return NULL;
	struct span *acts = xcalloc(s->nsections + 3, sizeof(*acts));
	size_t nacts = cut_spans(s, 0, s->nsections, 0, 1, n, "Opening", acts);
	if (!nacts)
		nacts = three_acts(s, n, acts);

	struct buf logline = {0}, synopsis = {0};
	add_logline(&logline, s, summaries, n);
	add_synopsis(&synopsis, s, summaries, n);

	cJSON *o = builtin_must(cJSON_CreateObject());
	builtin_put_str(o, "logline", logline.data);
	builtin_put_str(o, "synopsis", synopsis.data);
	cJSON *jacts = builtin_put_array(o, "acts");
	struct span *seqs = xcalloc(s->nsections + 1, sizeof(*seqs));
	for (size_t a = 0; a < nacts; a++) {
		cJSON *act = span_object(&acts[a]);
		cJSON_AddItemToArray(jacts, act);
		cJSON *jseqs = builtin_put_array(act, "sequences");
		size_t nseqs = cut_spans(s, acts[a].sec_lo, acts[a].sec_hi, acts[a].depth, acts[a].first, acts[a].last,
		                         acts[a].title, seqs);
		if (!nseqs)
			seqs[nseqs++] = acts[a];
		for (size_t q = 0; q < nseqs; q++) {
			cJSON *seq = span_object(&seqs[q]);
			cJSON_AddItemToArray(jseqs, seq);
			add_beats(builtin_put_array(seq, "beats"), s, summaries, seqs[q].first, seqs[q].last);
		}
	}
	builtin_put_int(o, "scene_count", (long long)n);
	builtin_put_str(o, "analyser", BUILTIN_ANALYSER);
	free(seqs);
	free(acts);
	buf_free(&logline);
	buf_free(&synopsis);
	return o;
}
