/* html_charts.c - the report's inline SVG charts: the scene strip, scene x character presence, dialogue share and
 * the 2-D map of scene embeddings. Coordinates are printed with one decimal so the bytes are stable. */
#include <math.h>
#include <string.h>

#include "html_page.h"

#define STRIP_WIDTH 1090.0
#define LABEL_MAX_BYTES 30 /* longer names are cut (the tooltip has them whole) */
#define MAP_WIDTH 760.0
#define MAP_HEIGHT 480.0
#define MAP_MARGIN 28.0

static const char *place_colour(enum scene_place p)
{
	static const char *const c[] = {"#b8bec9", "#d9893d", "#3d86c6", "#8e6bb8"};
	return c[p];
}

static const char *light_colour(enum scene_light l)
{
	static const char *const c[] = {"#b8bec9", "#f2c94c", "#2e3a6e", "#e07a5f"};
	return c[l];
}

/* A tooltip: "12 INT. KITCHEN - NIGHT". */
static void scene_title(struct page *p, size_t row)
{
	fprintf(p->f, "<title>%d ", p->a->scenes[row].index);
	html_text(p->f, p->a->scenes[row].heading);
	fputs("</title>", p->f);
}

static void legend(struct page *p, bool light)
{
	fputs("<div class=\"legend\">", p->f);
	for (int i = 1; i <= 3; i++)
		fprintf(p->f, "<span class=\"sw\" style=\"background:%s\"></span>%s", place_colour((enum scene_place)i),
		        html_place_name((enum scene_place)i));
	if (light)
		for (int i = 1; i <= 3; i++)
			fprintf(p->f, "<span class=\"sw\" style=\"background:%s\"></span>%s",
			        light_colour((enum scene_light)i), html_light_name((enum scene_light)i));
	fprintf(p->f, "<span class=\"sw\" style=\"background:%s\"></span>unknown</div>\n", place_colour(PLACE_UNKNOWN));
}

/* The width the name labels need: about 7 px a capital at 11 px, from 90 to 220. */
static int label_width(const struct analysis *a)
{
	size_t longest = 0;
	for (size_t i = 0; i < a->nsheets; i++) {
		size_t n = strlen(a->sheets[i].character);
		longest = n > longest ? n : longest;
	}
	longest = longest > LABEL_MAX_BYTES ? LABEL_MAX_BYTES + 1 : longest;
	int w = 16 + 7 * (int)longest;
	return w < 90 ? 90 : w > 230 ? 230 : w;
}

/* A name as a label: cut after LABEL_MAX_BYTES on a character boundary, with an ellipsis. */
static void label_text(FILE *f, const char *name)
{
	size_t n = strlen(name);
	if (n <= LABEL_MAX_BYTES) {
		html_text(f, name);
		return;
	}
	n = LABEL_MAX_BYTES;
	while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
		n--;
	char cut[LABEL_MAX_BYTES + 1];
	memcpy(cut, name, n);
	cut[n] = '\0';
	html_text(f, cut);
	fputs("&#8230;", f);
}

void html_chart_strip(struct page *p)
{
	const struct analysis *a = p->a;
	FILE *f = p->f;
	double total = 0;
	for (size_t i = 0; i < a->nscenes; i++)
		total += p->lengths_known ? p->facts[i].eighths : 1;
	fprintf(f, "<figure><figcaption>Scene strip: one bar per scene in story order, %s; top INT/EXT, bottom "
	           "DAY/NIGHT</figcaption>\n",
	        p->lengths_known ? "width by page length" : "equal widths (the archive carries no page lengths)");
	fputs("<svg id=\"scene-strip\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"1090\" height=\"74\" "
	      "viewBox=\"0 0 1090 74\" role=\"img\" aria-label=\"scene strip\">\n", f);
	double x = 0;
	for (size_t i = 0; i < a->nscenes && total > 0; i++) {
		double w = STRIP_WIDTH * (p->lengths_known ? p->facts[i].eighths : 1) / total;
		fprintf(f, "<a href=\"#scene-%d\"><rect x=\"%.1f\" y=\"0\" width=\"%.1f\" height=\"30\" fill=\"%s\" "
		           "stroke=\"#fff\" stroke-width=\"0.5\">",
		        a->scenes[i].index, x, w, place_colour(p->facts[i].place));
		scene_title(p, i);
		fprintf(f, "</rect><rect x=\"%.1f\" y=\"32\" width=\"%.1f\" height=\"14\" fill=\"%s\" stroke=\"#fff\" "
		           "stroke-width=\"0.5\">",
		        x, w, light_colour(p->facts[i].light));
		scene_title(p, i);
		fputs("</rect></a>\n", f);
		x += w;
	}
	/* Act boundaries from the outline, so the strip reads as the story's shape. */
	const cJSON *act;
	double xs = 0;
	size_t next = 0;
	cJSON_ArrayForEach(act, cJSON_GetObjectItemCaseSensitive(p->outline, "acts")) {
		const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(act, "scenes"), 0);
		long row = cJSON_IsNumber(first) ? html_scene_row(p, (long)first->valuedouble) : -1;
		if (row < 0 || total <= 0)
			continue;
		for (; next < (size_t)row; next++)
			xs += STRIP_WIDTH * (p->lengths_known ? p->facts[next].eighths : 1) / total;
		fprintf(f, "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"62\" stroke=\"#1d2330\" stroke-width=\"1.5\"/>"
		           "<text x=\"%.1f\" y=\"71\" font-size=\"11\" fill=\"#1d2330\">",
		        xs + 0.75, xs + 0.75, xs + 4);
		html_text(f, html_json_string(act, "title"));
		fputs("</text>\n", f);
	}
	fputs("</svg>\n", f);
	legend(p, true);
	fputs("</figure>\n", f);
}

enum presence { ABSENT, NAMED, SPEAKS };

/* Whether name speaks in scene sc, is only named in its action, or neither. */
static enum presence presence_in(const struct analysis_scene *sc, const char *name)
{
	for (size_t k = 0; k < sc->ncharacters; k++)
		if (strcmp(sc->characters[k], name) == 0)
			return SPEAKS;
	for (size_t k = 0; k < sc->ncast; k++)
		if (!sc->cast[k].speaking && strcmp(sc->cast[k].character, name) == 0)
			return NAMED;
	return ABSENT;
}

/* Scenes are columns, characters (most dialogue first) rows; a cell marks that the character speaks there (filled)
 * or is named in its action (outlined). */
void html_chart_presence(struct page *p)
{
	const struct analysis *a = p->a;
	FILE *f = p->f;
	size_t ns = a->nscenes, nc = a->nsheets;
	int label_w = label_width(a);
	double cw = ns ? 900.0 / (double)ns : 20;
	cw = cw > 40 ? 40 : cw < 3 ? 3 : cw;
	int rh = 16, top = 22;
	double width = label_w + cw * (double)ns + 10;
	int height = top + rh * (int)nc + 6;
	size_t every = ns <= 30 ? 1 : ns <= 100 ? 5 : 10;
	fputs("<figure><figcaption>Who is where: scenes across, characters down (most dialogue first); filled: speaks, "
	      "outlined: named in the action</figcaption>\n", f);
	fprintf(f, "<svg id=\"presence-chart\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
	           "height=\"%d\" viewBox=\"0 0 %.0f %d\" role=\"img\" aria-label=\"scene by character presence\" "
	           "font-size=\"11\">\n",
	        width, height, width, height);
	for (size_t s = 0; s < ns; s++)
		if (s % every == 0 || (s + 1 == ns && s % every > every / 2))
			fprintf(f, "<text x=\"%.1f\" y=\"14\" fill=\"#667085\" text-anchor=\"middle\">%d</text>\n",
			        label_w + cw * ((double)s + 0.5), a->scenes[s].index);
	for (size_t r = 0; r < nc; r++) {
		size_t c = p->by_words[r];
		const struct analysis_sheet *sh = &a->sheets[c];
		int y = top + rh * (int)r;
		if (r % 2 == 0)
			fprintf(f, "<rect x=\"0\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#f2f4f7\"/>\n", y, width, rh);
		fprintf(f, "<a href=\"#char-%zu\"><text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#2f5d8a\">", c + 1,
		        label_w - 8, y + 12);
		label_text(f, sh->character);
		fputs("<title>", f);
		html_text(f, sh->character);
		fputs("</title></text></a>\n", f);
		for (size_t s = 0; s < ns; s++) {
			const struct analysis_scene *sc = &a->scenes[s];
			enum presence here = presence_in(sc, sh->character);
			if (here == ABSENT)
				continue;
			/* Speaking fills the cell; being named in the action only outlines it. */
			fprintf(f, "<a href=\"#scene-%d\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" rx=\"1.5\" "
			           "fill=\"%s\" stroke=\"%s\"><title>",
			        sc->index, label_w + cw * (double)s + 1, y + 2.5, cw - 2 > 1 ? cw - 2 : 1, rh - 5,
			        here == SPEAKS ? place_colour(p->facts[s].place) : "none", place_colour(p->facts[s].place));
			html_text(f, sh->character);
			fprintf(f, here == SPEAKS ? " speaks in scene %d: " : " is named in scene %d: ", sc->index);
			html_text(f, sc->heading);
			fputs("</title></rect></a>\n", f);
		}
	}
	fputs("</svg>\n", f);
	legend(p, false);
	fputs("</figure>\n", f);
}

void html_chart_share(struct page *p)
{
	const struct analysis *a = p->a;
	FILE *f = p->f;
	long total = 0;
	int most = 0, label_w = label_width(a);
	size_t shown = 0;
	for (size_t i = 0; i < a->nsheets; i++) {
		total += a->sheets[i].words;
		most = a->sheets[i].words > most ? a->sheets[i].words : most;
		shown += a->sheets[i].words > 0;
	}
	int rh = 18, height = rh * (int)shown + 8;
	fputs("<figure><figcaption>Dialogue share: each character's spoken words as a part of all dialogue</figcaption>\n",
	      f);
	fprintf(f, "<svg id=\"dialogue-share\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" "
	           "height=\"%d\" viewBox=\"0 0 900 %d\" role=\"img\" aria-label=\"dialogue share\" font-size=\"11\">\n",
	        height, height);
	for (size_t r = 0, y = 4; r < a->nsheets; r++) {
		size_t c = p->by_words[r];
		const struct analysis_sheet *sh = &a->sheets[c];
		if (sh->words <= 0 || total <= 0)
			continue;
		double w = (double)(900 - 120 - label_w) * sh->words / (double)most;
		double share = 100.0 * sh->words / (double)total;
		fprintf(f, "<a href=\"#char-%zu\"><text x=\"%d\" y=\"%zu\" text-anchor=\"end\" fill=\"#2f5d8a\">", c + 1,
		        label_w - 8, y + 12);
		label_text(f, sh->character);
		fprintf(f, "</text><rect x=\"%d\" y=\"%zu\" width=\"%.1f\" height=\"%d\" rx=\"2\" fill=\"#2f5d8a\"><title>",
		        label_w, y + 2, w < 1 ? 1 : w, rh - 5);
		html_text(f, sh->character);
		fprintf(f, ": %d words, %.1f%%</title></rect></a><text x=\"%.1f\" y=\"%zu\" fill=\"#1d2330\">%.1f%% "
		           "&#183; %d words</text>\n",
		        sh->words, share, label_w + (w < 1 ? 1 : w) + 6, y + 12, share, sh->words);
		y += (size_t)rh;
	}
	if (!shown)
		fputs("<text x=\"10\" y=\"14\" fill=\"#667085\">Nobody speaks.</text>\n", f);
	fputs("</svg>\n</figure>\n", f);
}

void html_chart_map(struct page *p)
{
	const struct analysis *a = p->a;
	FILE *f = p->f;
	fputs("<figure><figcaption>Scene map: the first two principal components of the scene embeddings; scenes close "
	      "together were summarised alike</figcaption>\n", f);
	fprintf(f, "<svg id=\"scene-map\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
	           "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"scene map\" font-size=\"10\">\n"
	           "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#fbfcfd\" stroke=\"#e4e7ec\"/>\n",
	        MAP_WIDTH, MAP_HEIGHT, MAP_WIDTH, MAP_HEIGHT, MAP_WIDTH, MAP_HEIGHT);
	if (!p->map_xy) {
		fputs("<text x=\"20\" y=\"30\" fill=\"#9a3412\">No map: fewer than two scenes have an embedding in this "
		      "archive.</text>\n</svg>\n</figure>\n", f);
		return;
	}
	double minx = INFINITY, maxx = -INFINITY, miny = INFINITY, maxy = -INFINITY;
	for (size_t i = 0; i < a->nscenes; i++) {
		if (a->has_embedding && !a->has_embedding[i])
			continue;
		double x = p->map_xy[2 * i], y = p->map_xy[2 * i + 1];
		minx = x < minx ? x : minx;
		maxx = x > maxx ? x : maxx;
		miny = y < miny ? y : miny;
		maxy = y > maxy ? y : maxy;
	}
	double sx = maxx > minx ? (MAP_WIDTH - 2 * MAP_MARGIN) / (maxx - minx) : 0;
	double sy = maxy > miny ? (MAP_HEIGHT - 2 * MAP_MARGIN) / (maxy - miny) : 0;
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\" fill=\"#667085\">PC1 &#8594; %.1f%% of variance"
	           "</text>\n<text x=\"8\" y=\"14\" fill=\"#667085\">PC2 &#8593; %.1f%%</text>\n",
	        MAP_WIDTH - 8, MAP_HEIGHT - 8, 100 * p->map_explained[0], 100 * p->map_explained[1]);
	for (size_t i = 0; i < a->nscenes; i++) {
		if (a->has_embedding && !a->has_embedding[i])
			continue;
		double x = sx ? MAP_MARGIN + (p->map_xy[2 * i] - minx) * sx : MAP_WIDTH / 2;
		double y = sy ? MAP_HEIGHT - MAP_MARGIN - (p->map_xy[2 * i + 1] - miny) * sy : MAP_HEIGHT / 2;
		/* Round once so the circle and its label agree and -0.0 never prints. */
		x = round(x * 10) / 10 + 0.0;
		y = round(y * 10) / 10 + 0.0;
		fprintf(f, "<a href=\"#scene-%d\"><circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" fill-opacity=\"0.85\" "
		           "stroke=\"#fff\">",
		        a->scenes[i].index, x, y, place_colour(p->facts[i].place));
		scene_title(p, i);
		fprintf(f, "</circle><text x=\"%.1f\" y=\"%.1f\" fill=\"#1d2330\">%d</text></a>\n", x + 6, y - 4,
		        a->scenes[i].index);
	}
	fputs("</svg>\n", f);
	legend(p, false);
	fputs("</figure>\n", f);
}
