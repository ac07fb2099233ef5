/* html_report.c - the report page: header, what is missing, the outline, the charts, scene cards, character sheets.
 *
 * Everything on the page comes from the archive. Text from the script or a model goes through html_text() and
 * nowhere else; numbers are printed with fixed precision, and nothing depends on the time, the locale's collation,
 * the host or a hash order, so the same archive gives the same bytes. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html_page.h"
#include "html_report.h"
#include "html_style.h"
#include "manifest.h"
#include "pca.h"
#include "similar.h"

#define SIMILAR_SHOWN 3

/* ---- facts derived once ---------------------------------------------------------------------------------------- */

static int starts_with_word(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncasecmp(s, prefix, n) == 0 && (s[n] == '.' || s[n] == ' ' || s[n] == '\0');
}

/* The INT/EXT of a heading as written (the archive of this format version carries no breakdown facts). */
static enum scene_place place_of_heading(const char *h)
{
	while (*h == ' ' || *h == '.')
		h++;
	if (starts_with_word(h, "INT./EXT") || starts_with_word(h, "INT/EXT") || starts_with_word(h, "EXT./INT") ||
	    starts_with_word(h, "EXT/INT") || starts_with_word(h, "I/E"))
		return PLACE_BOTH;
	if (starts_with_word(h, "INT"))
		return PLACE_INT;
	if (starts_with_word(h, "EXT") || starts_with_word(h, "EST"))
		return PLACE_EXT;
	return PLACE_UNKNOWN;
}

static int mentions(const char *s, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = s; *p; p++)
		if (strncasecmp(p, word, n) == 0 && (p == s || !isalpha((unsigned char)p[-1])) &&
		    !isalpha((unsigned char)p[n]))
			return 1;
	return 0;
}

/* The light a time of day ("DAY", "LATE NIGHT", "SUNSET") stands for. */
static enum scene_light light_of_time(const char *t)
{
	static const char *const night[] = {"NIGHT", "EVENING", "MIDNIGHT"};
	static const char *const twilight[] = {"DAWN", "DUSK", "SUNRISE", "SUNSET", "TWILIGHT", "MAGIC HOUR"};
	static const char *const day[] = {"DAY", "MORNING", "AFTERNOON", "NOON", "MIDDAY", "DAYTIME"};
	if (!t)
		return LIGHT_UNKNOWN;
	for (size_t i = 0; i < sizeof night / sizeof *night; i++)
		if (mentions(t, night[i]))
			return LIGHT_NIGHT;
	for (size_t i = 0; i < sizeof twilight / sizeof *twilight; i++)
		if (mentions(t, twilight[i]))
			return LIGHT_TWILIGHT;
	for (size_t i = 0; i < sizeof day / sizeof *day; i++)
		if (mentions(t, day[i]))
			return LIGHT_DAY;
	return LIGHT_UNKNOWN;
}

/* Place, light and length of every scene: the parser's breakdown facts, or the heading where a fact is absent (a
 * forced heading has no INT/EXT prefix). A CONTINUOUS or SAME scene is in the light of the scene it continues. */
static void derive_facts(struct page *p)
{
	p->lengths_known = p->a->nscenes > 0;
	for (size_t i = 0; i < p->a->nscenes; i++) {
		const struct analysis_scene *s = &p->a->scenes[i];
		const char *tod = s->time_of_day ? s->time_of_day : s->time;
		p->facts[i].place = place_of_heading(s->int_ext ? s->int_ext : s->heading ? s->heading : "");
		p->facts[i].light = light_of_time(tod);
		if (p->facts[i].light == LIGHT_UNKNOWN && i > 0 && tod &&
		    (mentions(tod, "CONTINUOUS") || mentions(tod, "SAME")))
			p->facts[i].light = p->facts[i - 1].light;
		p->facts[i].eighths = s->eighths;
		if (p->facts[i].eighths <= 0)
			p->lengths_known = false;
	}
}

struct ranked {
	int words;
	size_t row;
};

static int by_words_desc(const void *x, const void *y)
{
	const struct ranked *i = x, *j = y;
	if (i->words != j->words)
		return i->words > j->words ? -1 : 1;
	return i->row < j->row ? -1 : i->row > j->row;
}

/* p->by_words: sheet rows by dialogue words, most first, ties in archive order; 0, or -1 when out of memory. */
static int rank_by_words(struct page *p)
{
	size_t n = p->a->nsheets;
	struct ranked *r = calloc(n ? n : 1, sizeof *r);
	if (!r)
		return -1;
	for (size_t i = 0; i < n; i++)
		r[i] = (struct ranked){p->a->sheets[i].words, i};
	qsort(r, n, sizeof *r, by_words_desc);
	for (size_t i = 0; i < n; i++)
		p->by_words[i] = r[i].row;
	free(r);
	return 0;
}

/* Parses every step output once; a text the reader accepted always parses, so NULL here means missing. */
static int page_open(struct page *p, const struct analysis *a, const char *archive_hex, FILE *f)
{
	memset(p, 0, sizeof *p);
	p->f = f;
	p->a = a;
	p->archive_hex = archive_hex;
	size_t ns = a->nscenes ? a->nscenes : 1, nc = a->nsheets ? a->nsheets : 1;
	p->summary = calloc(ns, sizeof *p->summary);
	p->sheet = calloc(nc, sizeof *p->sheet);
	p->facts = calloc(ns, sizeof *p->facts);
	p->by_words = calloc(nc, sizeof *p->by_words);
	p->map_xy = calloc(ns * 2, sizeof *p->map_xy);
	if (!p->summary || !p->sheet || !p->facts || !p->by_words || !p->map_xy)
		return -1;
	for (size_t i = 0; i < a->nscenes; i++)
		if (a->summaries && a->summaries[i] && !(p->summary[i] = cJSON_Parse(a->summaries[i])))
			return -1;
	if (a->outline && !(p->outline = cJSON_Parse(a->outline)))
		return -1;
	for (size_t i = 0; i < a->nsheets; i++)
		if (a->sheets[i].json && !(p->sheet[i] = cJSON_Parse(a->sheets[i].json)))
			return -1;
	if (rank_by_words(p) < 0)
		return -1;
	derive_facts(p);
	enum pca_status ps = a->embeddings && a->dims
	                         ? pca_project2(a->embeddings, a->nscenes, a->dims, a->has_embedding, p->map_xy,
	                                        p->map_explained)
	                         : PCA_TOO_FEW;
	if (ps == PCA_NO_MEMORY)
		return -1;
	if (ps != PCA_OK) {
		free(p->map_xy);
		p->map_xy = NULL;
	}
	return 0;
}

static void page_close(struct page *p)
{
	for (size_t i = 0; p->summary && i < p->a->nscenes; i++)
		cJSON_Delete(p->summary[i]);
	for (size_t i = 0; p->sheet && i < p->a->nsheets; i++)
		cJSON_Delete(p->sheet[i]);
	cJSON_Delete(p->outline);
	free(p->summary);
	free(p->sheet);
	free(p->facts);
	free(p->by_words);
	free(p->map_xy);
}

/* ---- small writers ---------------------------------------------------------------------------------------------- */

static void scene_link(struct page *p, size_t row)
{
	fprintf(p->f, "<a href=\"#scene-%d\">%d</a>", p->a->scenes[row].index, p->a->scenes[row].index);
}

static void heading_text(struct page *p, size_t row)
{
	const char *h = p->a->scenes[row].heading;
	if (html_blank(h))
		fputs("<span class=\"none\">(before the first heading)</span>", p->f);
	else
		html_text(p->f, h);
}

static void character_link(struct page *p, const char *name)
{
	long row = html_sheet_row(p, name);
	if (row >= 0)
		fprintf(p->f, "<a href=\"#char-%ld\">", row + 1);
	html_text(p->f, name);
	if (row >= 0)
		fputs("</a>", p->f);
}

/* Links scenes first..last of an outline range that the archive has. */
static void scene_range(struct page *p, const cJSON *range)
{
	const cJSON *first = cJSON_GetArrayItem(range, 0), *last = cJSON_GetArrayItem(range, 1);
	if (!cJSON_IsNumber(first) || !cJSON_IsNumber(last))
		return;
	long a = (long)first->valuedouble, b = (long)last->valuedouble;
	fputs("<span class=\"range\">scenes ", p->f);
	long ra = html_scene_row(p, a), rb = html_scene_row(p, b);
	if (ra >= 0)
		scene_link(p, (size_t)ra);
	else
		fprintf(p->f, "%ld", a);
	if (b != a) {
		fputs("&#8211;", p->f);
		if (rb >= 0)
			scene_link(p, (size_t)rb);
		else
			fprintf(p->f, "%ld", b);
	}
	fputs("</span>", p->f);
}

static void place_tags(struct page *p, size_t row)
{
	static const char *const place_class[] = {"t-unk", "t-int", "t-ext", "t-both"};
	static const char *const light_class[] = {"t-unk", "t-day", "t-night", "t-dusk"};
	const struct scene_facts *sf = &p->facts[row];
	fprintf(p->f, "<span class=\"tag %s\">%s</span><span class=\"tag %s\">%s</span>", place_class[sf->place],
	        html_place_name(sf->place), light_class[sf->light], html_light_name(sf->light));
}

static void missing(struct page *p, const char *what)
{
	fprintf(p->f, "<p class=\"missing\">%s is missing from this archive (its step failed; rebuild to fill it in).</p>\n",
	        what);
}

/* ---- sections --------------------------------------------------------------------------------------------------- */

static void write_head(struct page *p)
{
	const struct analysis *a = p->a;
	const char *title = a->title && *a->title ? a->title : a->script_name;
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"scriptbuild ", p->f);
	html_text(p->f, a->tool_version);
	fputs("\">\n<link rel=\"icon\" href=\"data:,\">\n<title>", p->f);
	html_text(p->f, title);
	fputs(" &#8212; script analysis</title>\n<style>\n" HTML_STYLE "</style>\n</head>\n<body>\n", p->f);
	fputs("<header class=\"top\"><div class=\"in\">\n<h1 id=\"title\">", p->f);
	html_text(p->f, title);
	fputs("</h1>\n<div class=\"sub\">Analysis of ", p->f);
	html_text(p->f, a->script_name);
	fputs(".fountain</div>\n", p->f);
	const char *logline = html_json_string(p->outline, "logline");
	if (!html_blank(logline)) {
		fputs("<p class=\"logline\" id=\"logline\">", p->f);
		html_text(p->f, logline);
		fputs("</p>\n", p->f);
	}
	fputs("</div></header>\n<nav class=\"toc\"><a href=\"#overview\">Overview</a><a href=\"#outline\">Outline</a>"
	      "<a href=\"#shape\">Shape</a><a href=\"#scenes\">Scenes</a><a href=\"#characters\">Characters</a></nav>\n"
	      "<main>\n", p->f);
}

static void fact(struct page *p, const char *label)
{
	fprintf(p->f, "<div><dt>%s</dt><dd>", label);
}

static void write_overview(struct page *p)
{
	const struct analysis *a = p->a;
	FILE *f = p->f;
	fputs("<section id=\"overview\">\n<h2>Overview</h2>\n<div class=\"panel\">\n", f);
	if (!p->outline)
		missing(p, "The outline (logline, synopsis, acts)");
	fputs("<dl class=\"facts\">\n", f);
	fact(p, "Scenes");
	fprintf(f, "%zu</dd></div>\n", a->nscenes);
	fact(p, "Characters");
	fprintf(f, "%zu</dd></div>\n", a->nsheets);
	int eighths = a->eighths;
	fact(p, "Page count");
	if (p->lengths_known && eighths > 0) {
		html_eighths(f, eighths);
		fputs("</dd></div>\n", f);
	}
	else
		fputs("<span class=\"none\">unknown (the archive carries no page lengths)</span></dd></div>\n", f);
	fact(p, "Runtime");
	if (p->lengths_known && eighths > 0)
		fprintf(f, "about %d minute%s (a minute a page)</dd></div>\n", (eighths + 4) / 8,
		        (eighths + 4) / 8 == 1 ? "" : "s");
	else
		fputs("<span class=\"none\">unknown</span></dd></div>\n", f);
	for (int k = 0; k < ANALYSIS_KINDS; k++) {
		fprintf(f, "<div><dt>%s model</dt><dd>", analysis_kind_name((enum analysis_kind)k));
		html_text(f, a->models[k].provider);
		fputs(" &#183; ", f);
		html_text(f, a->models[k].model);
		if (k == ANALYSIS_EMBEDDING)
			fprintf(f, " (%zu dims)", a->dims);
		fputs("</dd></div>\n", f);
	}
	fact(p, "Tokens");
	fprintf(f, "%llu in, %llu out</dd></div>\n", (unsigned long long)a->tokens_in, (unsigned long long)a->tokens_out);
	fact(p, "Tool");
	fputs("scriptbuild ", f);
	html_text(f, a->tool_version);
	fputs("</dd></div>\n", f);
	fputs("<div class=\"wide\"><dt>Script digest</dt><dd>", f);
	fprintf(f, "<span class=\"digest\">xxh3-128:%s</span></dd></div>\n", a->script_digest);
	fputs("<div class=\"wide\"><dt>Archive digest</dt><dd>", f);
	fprintf(f, "<span class=\"digest\" id=\"archive-digest\">xxh3-128:");
	html_text(f, p->archive_hex);
	fputs("</span></dd></div>\n</dl>\n", f);
	const char *synopsis = html_json_string(p->outline, "synopsis");
	if (!html_blank(synopsis)) {
		fputs("<p class=\"synopsis\" id=\"synopsis\">", f);
		html_text(f, synopsis);
		fputs("</p>\n", f);
	}
	fputs("</div>\n", f);
	if (a->partial) {
		char **miss = NULL;
		size_t nmiss = 0;
		fputs("<div class=\"missing\" id=\"missing\"><strong>Partial archive.</strong> Missing: ", f);
		if (manifest_missing_of(a, &miss, &nmiss) == 0)
			for (size_t i = 0; i < nmiss; i++) {
				fputs(i ? ", " : "", f);
				html_text(f, miss[i]);
			}
		manifest_missing_free(miss, nmiss);
		fputs(".</div>\n", f);
	}
	fputs("</section>\n", f);
}

/* Beats are text; when a sequence has one beat per scene of its range, each beat links to its scene. */
static void write_beats(struct page *p, const cJSON *seq)
{
	const cJSON *beats = cJSON_GetObjectItemCaseSensitive(seq, "beats");
	const cJSON *range = cJSON_GetObjectItemCaseSensitive(seq, "scenes");
	const cJSON *first = cJSON_GetArrayItem(range, 0), *last = cJSON_GetArrayItem(range, 1);
	int nbeats = cJSON_GetArraySize(beats);
	long from = cJSON_IsNumber(first) ? (long)first->valuedouble : 0;
	bool one_per_scene = cJSON_IsNumber(first) && cJSON_IsNumber(last) &&
	                     (long)last->valuedouble - from + 1 == nbeats;
	if (!cJSON_IsArray(beats) || nbeats == 0)
		return;
	fputs("<ol class=\"beats\">\n", p->f);
	int b = 0;
	const cJSON *beat;
	cJSON_ArrayForEach(beat, beats) {
		long row = one_per_scene ? html_scene_row(p, from + b) : -1;
		fputs("<li>", p->f);
		if (row >= 0)
			fprintf(p->f, "<a href=\"#scene-%d\">", p->a->scenes[row].index);
		html_text(p->f, cJSON_IsString(beat) ? beat->valuestring : "");
		fputs(row >= 0 ? "</a></li>\n" : "</li>\n", p->f);
		b++;
	}
	fputs("</ol>\n", p->f);
}

static void write_outline(struct page *p)
{
	FILE *f = p->f;
	fputs("<section id=\"outline\">\n<h2>Outline</h2>\n<div class=\"panel\">\n", f);
	const cJSON *acts = cJSON_GetObjectItemCaseSensitive(p->outline, "acts");
	if (!p->outline)
		missing(p, "The outline");
	else if (cJSON_GetArraySize(acts) == 0)
		fputs("<p class=\"none\">The outline has no acts.</p>\n", f);
	const cJSON *act;
	cJSON_ArrayForEach(act, acts) {
		/* <details> folds a long act away without a line of script. */
		fputs("<details class=\"act\" open><summary><h3>", f);
		html_text(f, html_json_string(act, "title"));
		scene_range(p, cJSON_GetObjectItemCaseSensitive(act, "scenes"));
		fputs("</h3></summary>\n", f);
		const cJSON *seq, *seqs = cJSON_GetObjectItemCaseSensitive(act, "sequences");
		cJSON_ArrayForEach(seq, seqs) {
			const char *st = html_json_string(seq, "title"), *at = html_json_string(act, "title");
			/* A sequence that only repeats its act (one per act, same title) adds a heading and nothing else. */
			bool echo = cJSON_GetArraySize(seqs) == 1 && st && at && strcmp(st, at) == 0;
			fputs("<div class=\"seq\">", f);
			if (!echo) {
				fputs("<h4>", f);
				html_text(f, st);
				scene_range(p, cJSON_GetObjectItemCaseSensitive(seq, "scenes"));
				fputs("</h4>\n", f);
			}
			write_beats(p, seq);
			fputs("</div>\n", f);
		}
		fputs("</details>\n", f);
	}
	fputs("</div>\n</section>\n", f);
}

static void write_shape(struct page *p)
{
	fputs("<section id=\"shape\">\n<h2>Shape</h2>\n<div class=\"panel\">\n", p->f);
	html_chart_strip(p);
	html_chart_presence(p);
	html_chart_share(p);
	html_chart_map(p);
	fputs("</div>\n</section>\n", p->f);
}

static void field(struct page *p, const cJSON *o, const char *key, const char *label)
{
	const char *v = html_json_string(o, key);
	fprintf(p->f, "<dt>%s</dt><dd>", label);
	if (html_blank(v))
		fputs("<span class=\"none\">&#8212;</span>", p->f);
	else
		html_text(p->f, v);
	fputs("</dd>\n", p->f);
}

/* Who speaks, linked to their sheets, then who is only named in the action. */
static void write_cast(struct page *p, const struct analysis_scene *s)
{
	size_t spoken = 0, named = 0;
	const char **names = (const char **)s->characters;
	size_t nnames = s->ncharacters;
	for (size_t c = 0; c < s->ncast; c++)
		if (s->cast[c].speaking) {
			fputs(spoken++ ? ", " : "", p->f);
			character_link(p, s->cast[c].character);
		}
	/* An archive without a cast list still has its speakers. */
	for (size_t c = 0; !s->ncast && c < nnames; c++) {
		fputs(spoken++ ? ", " : "", p->f);
		character_link(p, names[c]);
	}
	if (!spoken)
		fputs("<span class=\"none\">nobody speaks</span>", p->f);
	for (size_t c = 0; c < s->ncast; c++)
		if (!s->cast[c].speaking) {
			fputs(named++ ? ", " : "; named: <span class=\"named\">", p->f);
			character_link(p, s->cast[c].character);
		}
	if (named)
		fputs("</span>", p->f);
}

static void write_scene_card(struct page *p, size_t row)
{
	FILE *f = p->f;
	const struct analysis_scene *s = &p->a->scenes[row];
	const cJSON *sum = p->summary[row];
	fprintf(f, "<article class=\"card scene-card\" id=\"scene-%d\">\n<header><span class=\"num\">%d</span><h3>",
	        s->index, s->index);
	heading_text(p, row);
	fputs("</h3></header>\n<p class=\"meta\">", f);
	place_tags(p, row);
	if (s->number) {
		fputs(" #", f);
		html_text(f, s->number);
	}
	fprintf(f, " line %d &#183; ", s->line);
	if (p->facts[row].eighths > 0)
		html_eighths(f, p->facts[row].eighths);
	else
		fputs("length unknown", f);
	if (s->note) {
		fputs(" &#183; ", f);
		html_text(f, s->note);
	}
	fputs(" &#183; cast: ", f);
	write_cast(p, s);
	fputs("</p>\n", f);
	if (!sum) {
		missing(p, "This scene's summary");
	} else {
		fputs("<p>", f);
		html_text(f, html_json_string(sum, "summary"));
		fputs("</p>\n<dl>\n", f);
		field(p, sum, "goal", "Goal");
		field(p, sum, "conflict", "Conflict");
		field(p, sum, "outcome", "Outcome");
		field(p, sum, "turning_point", "Turning point");
		field(p, sum, "mood", "Mood");
		field(p, sum, "story_function", "Function");
		fputs("<dt>Props</dt><dd>", f);
		const cJSON *props = cJSON_GetObjectItemCaseSensitive(sum, "props"), *prop;
		int n = 0;
		cJSON_ArrayForEach(prop, props) {
			if (!cJSON_IsString(prop))
				continue;
			fputs(n++ ? ", " : "", f);
			html_text(f, prop->valuestring);
		}
		fputs(n ? "</dd>\n</dl>\n" : "<span class=\"none\">&#8212;</span></dd>\n</dl>\n", f);
	}
	struct similar_hit hits[SIMILAR_SHOWN];
	size_t nhits = similar_scenes(p->a, row, SIMILAR_SHOWN, hits);
	fputs("<p class=\"similar\">Most similar: ", f);
	for (size_t h = 0; h < nhits; h++) {
		fputs(h ? "; " : "", f);
		fprintf(f, "<a href=\"#scene-%d\">%d ", p->a->scenes[hits[h].row].index, p->a->scenes[hits[h].row].index);
		heading_text(p, hits[h].row);
		fprintf(f, "</a> (%.2f)", hits[h].cosine);
	}
	if (!nhits)
		fputs(p->a->has_embedding && !p->a->has_embedding[row] ? "<span class=\"missing\">this scene's embedding is "
		                                                         "missing</span>"
		                                                       : "<span class=\"none\">none</span>",
		      f);
	fputs("</p>\n</article>\n", f);
}

static void write_scenes(struct page *p)
{
	fprintf(p->f, "<section id=\"scenes\">\n<h2>Scenes (%zu)</h2>\n<div class=\"cards\">\n", p->a->nscenes);
	for (size_t i = 0; i < p->a->nscenes; i++)
		write_scene_card(p, i);
	fputs("</div>\n</section>\n", p->f);
}

/* The scene a key line is spoken in: its anchor when the archive gives one (an item {"text", "scene", "line"}, *line
 * set too), else the scene of the character whose summary quotes it as its key line; -1 when neither says. */
static long key_line_scene(struct page *p, size_t sheet_row, const cJSON *item, const char **text, int *line)
{
	*text = cJSON_IsString(item) ? item->valuestring : html_json_string(item, "text");
	*line = 0;
	const cJSON *scene = cJSON_GetObjectItemCaseSensitive(item, "scene");
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(item, "line");
	if (cJSON_IsNumber(scene)) {
		*line = cJSON_IsNumber(at) ? (int)at->valuedouble : 0;
		return html_scene_row(p, (long)scene->valuedouble);
	}
	if (!*text)
		return -1;
	const struct analysis_sheet *sh = &p->a->sheets[sheet_row];
	for (size_t k = 0; k < sh->nscenes; k++) {
		long row = html_scene_row(p, (long)sh->scenes[k]);
		if (row < 0 || !p->summary[row])
			continue;
		const char *kl = html_json_string(p->summary[row], "key_line");
		const char *ks = html_json_string(p->summary[row], "key_speaker");
		if (kl && strcmp(kl, *text) == 0 && (!ks || strcmp(ks, sh->character) == 0))
			return row;
	}
	return -1;
}

static void write_sheet(struct page *p, size_t row, long total_words)
{
	FILE *f = p->f;
	const struct analysis_sheet *sh = &p->a->sheets[row];
	const cJSON *o = p->sheet[row];
	fprintf(f, "<article class=\"card sheet\" id=\"char-%zu\">\n<h3>", row + 1);
	html_text(f, sh->character);
	fprintf(f, "</h3>\n<p class=\"meta\">%zu scenes &#183; %d cues &#183; %d words", sh->nscenes, sh->cues, sh->words);
	if (total_words > 0)
		fprintf(f, " (%.1f%% of the dialogue)", 100.0 * sh->words / (double)total_words);
	fputs("</p>\n", f);
	if (!o) {
		missing(p, "This character's sheet");
	} else {
		fputs("<p>", f);
		html_text(f, html_json_string(o, "description"));
		fputs("</p>\n<dl>\n", f);
		field(p, o, "want", "Want");
		field(p, o, "need", "Need");
		field(p, o, "arc", "Arc");
		fputs("<dt>Turning scenes</dt><dd>", f);
		const cJSON *it;
		int n = 0;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "turning_scenes")) {
			long sr = cJSON_IsNumber(it) ? html_scene_row(p, (long)it->valuedouble) : -1;
			if (sr < 0)
				continue;
			fputs(n++ ? ", " : "", f);
			scene_link(p, (size_t)sr);
		}
		fputs(n ? "</dd>\n</dl>\n" : "<span class=\"none\">&#8212;</span></dd>\n</dl>\n", f);
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "key_lines")) {
			const char *text;
			int line;
			long sr = key_line_scene(p, row, it, &text, &line);
			if (!text)
				continue;
			fputs("<blockquote class=\"key-line\">", f);
			html_text(f, text);
			if (sr >= 0) {
				fprintf(f, " <a href=\"#scene-%d\">(scene %d", p->a->scenes[sr].index, p->a->scenes[sr].index);
				if (line > 0)
					fprintf(f, ", line %d", line);
				fputs(")</a>", f);
			}
			fputs("</blockquote>\n", f);
		}
		const cJSON *rels = cJSON_GetObjectItemCaseSensitive(o, "relationships");
		if (cJSON_GetArraySize(rels) > 0) {
			fputs("<ul class=\"rel\">\n", f);
			cJSON_ArrayForEach(it, rels) {
				fputs("<li>", f);
				character_link(p, html_json_string(it, "character"));
				fputs(": ", f);
				html_text(f, html_json_string(it, "relation"));
				fputs("</li>\n", f);
			}
			fputs("</ul>\n", f);
		}
	}
	fputs("<p class=\"similar\">Speaks in scenes: ", f);
	for (size_t k = 0; k < sh->nscenes; k++) {
		long sr = html_scene_row(p, (long)sh->scenes[k]);
		fputs(k ? ", " : "", f);
		if (sr >= 0)
			scene_link(p, (size_t)sr);
		else
			fprintf(f, "%zu", sh->scenes[k]);
	}
	fputs("</p>\n</article>\n", f);
}

static void write_sheets(struct page *p)
{
	long total = 0;
	for (size_t i = 0; i < p->a->nsheets; i++)
		total += p->a->sheets[i].words;
	fprintf(p->f, "<section id=\"characters\" class=\"sheets\">\n<h2>Characters (%zu)</h2>\n<div class=\"cards\">\n",
	        p->a->nsheets);
	for (size_t i = 0; i < p->a->nsheets; i++)
		write_sheet(p, p->by_words[i], total);
	fputs("</div>\n</section>\n", p->f);
}

int html_report_render(const struct analysis *a, const char *archive_hex, FILE *f, char *err, size_t errlen)
{
	struct page p;
	if (page_open(&p, a, archive_hex, f) < 0) {
		page_close(&p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	write_head(&p);
	write_overview(&p);
	write_outline(&p);
	write_shape(&p);
	write_scenes(&p);
	write_sheets(&p);
	fputs("</main>\n<footer>Made by scriptbuild ", f);
	html_text(f, a->tool_version);
	fputs(" from ", f);
	html_text(f, a->script_name);
	fprintf(f, ".analysis.tar.zst (xxh3-128:");
	html_text(f, archive_hex);
	fputs(").</footer>\n</body>\n</html>\n", f);
	page_close(&p);
	if (ferror(f)) {
		snprintf(err, errlen, "cannot write the page");
		return -1;
	}
	return 0;
}
