/* html_text.c - the report's small shared pieces: escaping, JSON member reads, lookups, scene facts' names. */
#include <ctype.h>
#include <string.h>

#include "html_page.h"

void html_text(FILE *f, const char *s)
{
	if (!s)
		return;
	/* Every byte that could end a text node or a quoted attribute is written as a reference, so no text from a
	 * script or a model can open an element, close the <style> or add an attribute. */
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		case '\t': case '\n': fputc(*c, f); break;
		default:
			if (*c < 0x20 || *c == 0x7f)
				fputc(' ', f);
			else
				fputc(*c, f);
		}
	}
}

const char *html_json_string(const cJSON *o, const char *key)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int html_blank(const char *s)
{
	if (!s)
		return 1;
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

long html_sheet_row(const struct page *p, const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < p->a->nsheets; i++)
		if (strcmp(p->a->sheets[i].character, name) == 0)
			return (long)i;
	return -1;
}

long html_scene_row(const struct page *p, long index)
{
	for (size_t i = 0; i < p->a->nscenes; i++)
		if (p->a->scenes[i].index == index)
			return (long)i;
	return -1;
}

const char *html_place_name(enum scene_place place)
{
	switch (place) {
	case PLACE_INT: return "INT";
	case PLACE_EXT: return "EXT";
	case PLACE_BOTH: return "INT/EXT";
	case PLACE_UNKNOWN: break;
	}
	return "unknown";
}

const char *html_light_name(enum scene_light l)
{
	switch (l) {
	case LIGHT_DAY: return "DAY";
	case LIGHT_NIGHT: return "NIGHT";
	case LIGHT_TWILIGHT: return "DAWN/DUSK";
	case LIGHT_UNKNOWN: break;
	}
	return "unknown";
}

void html_eighths(FILE *f, int eighths)
{
	if (eighths <= 0) {
		fputs("unknown", f);
		return;
	}
	int whole = eighths / 8, rest = eighths % 8;
	if (whole && rest)
		fprintf(f, "%d %d/8 pp.", whole, rest);
	else if (whole)
		fprintf(f, "%d %s", whole, whole == 1 ? "page" : "pages");
	else
		fprintf(f, "%d/8 p.", rest);
}
