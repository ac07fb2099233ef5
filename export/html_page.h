/* html_page.h - what the report's sections share (private to html_*.c): the parsed outputs, the scene facts, and
 * writing escaped text. */
#ifndef SB_HTML_PAGE_H
#define SB_HTML_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "analysis.h"

/* Where a scene happens and in what light, from the breakdown facts when the archive has them, else its heading. */
enum scene_place { PLACE_UNKNOWN, PLACE_INT, PLACE_EXT, PLACE_BOTH };
enum scene_light { LIGHT_UNKNOWN, LIGHT_DAY, LIGHT_NIGHT, LIGHT_TWILIGHT };

struct scene_facts {
	enum scene_place place;
	enum scene_light light;
	int eighths;                 /* page length in eighths of a page; 0 when the archive does not say */
};

struct page {
	FILE *f;
	const struct analysis *a;
	const char *archive_hex;
	cJSON **summary;             /* per scene row; NULL where the summary is missing */
	cJSON *outline;              /* NULL when missing */
	cJSON **sheet;               /* per sheet; NULL where missing */
	struct scene_facts *facts;   /* per scene row */
	bool lengths_known;          /* every scene has eighths */
	size_t *by_words;            /* sheet rows ordered by dialogue words, most first (then archive order) */
	double *map_xy;              /* 2 per scene row: the PCA map; NULL when it could not be drawn */
	double map_explained[2];
};

/* Writes s with &, <, >, " and ' escaped and C0 controls but tab and newline made spaces: safe in text and in a
 * quoted attribute. NULL writes nothing. */
void html_text(FILE *f, const char *s);

/* The string member key of o, or NULL when o is NULL or the member is absent or not a string. */
const char *html_json_string(const cJSON *o, const char *key);

/* 1 when s is NULL or holds only white space. */
int html_blank(const char *s);

/* The sheet row of the character named name, or -1 when the archive has no sheet for it. */
long html_sheet_row(const struct page *p, const char *name);

/* The scene row whose scene index is index, or -1. */
long html_scene_row(const struct page *p, long index);

/* "INT", "EXT", "INT/EXT" or "unknown"; "DAY", "NIGHT", "DAWN/DUSK" or "unknown". */
const char *html_place_name(enum scene_place p);
const char *html_light_name(enum scene_light l);

/* Writes a length in eighths of a page as a page count ("1 3/8 pp."), or "unknown" for 0. */
void html_eighths(FILE *f, int eighths);

/* The charts, each one <figure> holding one inline <svg>. */
void html_chart_strip(struct page *p);
void html_chart_presence(struct page *p);
void html_chart_share(struct page *p);
void html_chart_map(struct page *p);

#endif
