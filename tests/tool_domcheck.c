/* tool_domcheck - reads a DOM as `chromium --dump-dom` serialises it and prints what the report tests count:
 *
 *   tool_domcheck FILE [--text STRING]...
 *
 * One line each: "element NAME N" for every element name seen, "class NAME N" for every class token, "svg ID" for
 * every <svg> with an id, "handler-attributes N" (attributes named on*), "external N" (src/href/xlink:href values
 * that are neither "#..." nor "data:..."), "title TEXT" (the first <title>: the page's), and "text N STRING" for each --text: how often STRING occurs
 * in the page's decoded text (outside tags), "links N" (href="#...") and "dangling-links N" (those whose id is on no
 * element, the first five also as "dangling #ID"). The serialiser writes '<' in text as "&lt;" and quotes every attribute
 * value with '"' written as "&quot;" inside it, so a plain scan finds every element, and only elements. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct counter {
	char name[64];
	long n;
};

static struct counter elements[256], classes[512];
static size_t nelements, nclasses;
static long handlers, external;
/* Every id="..." and every href="#..." seen, to find links that lead nowhere. */
static char **ids, **fragments;
static size_t nids, nfragments;

static void remember(char ***list, size_t *n, const char *s, size_t len)
{
	char **grown = realloc(*list, (*n + 1) * sizeof **list);
	char *copy = malloc(len + 1);
	if (!grown || !copy)
		abort();
	memcpy(copy, s, len);
	copy[len] = '\0';
	grown[(*n)++] = copy;
	*list = grown;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void count(struct counter *c, size_t *n, size_t max, const char *name, size_t len)
{
	if (len >= sizeof c->name)
		len = sizeof c->name - 1;
	for (size_t i = 0; i < *n; i++)
		if (strlen(c[i].name) == len && strncmp(c[i].name, name, len) == 0) {
			c[i].n++;
			return;
		}
	if (*n == max)
		return;
	memcpy(c[*n].name, name, len);
	c[*n].name[len] = '\0';
	c[(*n)++].n = 1;
}

/* Appends the decoded text of s[0..n) (the few references the serialiser writes) to out. */
static size_t decode(const char *s, size_t n, char *out)
{
	static const char *const refs[][2] = { { "&lt;", "<" },    { "&gt;", ">" },  { "&amp;", "&" },
		                               { "&quot;", "\"" }, { "&#39;", "'" }, { "&nbsp;", " " } };
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t r = 0;
		for (; r < sizeof refs / sizeof *refs; r++)
			if (strncmp(s + i, refs[r][0], strlen(refs[r][0])) == 0 && i + strlen(refs[r][0]) <= n)
				break;
		if (r < sizeof refs / sizeof *refs) {
			out[o++] = refs[r][1][0];
			i += strlen(refs[r][0]);
		} else {
			out[o++] = s[i++];
		}
	}
	return o;
}

/* Scans one tag's attributes, from just after its name to its '>'; returns the position after the '>'. */
static size_t scan_attributes(const char *s, size_t i, size_t n, int is_svg, char *svg_id, size_t svg_id_len)
{
	while (i < n && s[i] != '>') {
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		if (s[i] == '/' || s[i] == '>') {
			i += s[i] == '/';
			continue;
		}
		size_t a = i;
		while (i < n && !isspace((unsigned char)s[i]) && s[i] != '=' && s[i] != '>')
			i++;
		size_t alen = i - a, v = i, vlen = 0;
		if (i < n && s[i] == '=') {
			i++;
			if (s[i] == '"') {
				v = ++i;
				while (i < n && s[i] != '"')
					i++;
				vlen = i - v;
				i++;
			} else {
				v = i;
				while (i < n && !isspace((unsigned char)s[i]) && s[i] != '>')
					i++;
				vlen = i - v;
			}
		}
		if (alen > 2 && strncasecmp(s + a, "on", 2) == 0)
			handlers++;
		if ((alen == 3 && strncasecmp(s + a, "src", 3) == 0) ||
		    (alen == 4 && strncasecmp(s + a, "href", 4) == 0) ||
		    (alen == 10 && strncasecmp(s + a, "xlink:href", 10) == 0))
			if (!(vlen > 0 && s[v] == '#') && !(vlen >= 5 && strncmp(s + v, "data:", 5) == 0))
				external++;
		if (alen == 2 && strncmp(s + a, "id", 2) == 0)
			remember(&ids, &nids, s + v, vlen);
		if (alen == 4 && strncmp(s + a, "href", 4) == 0 && vlen > 1 && s[v] == '#')
			remember(&fragments, &nfragments, s + v + 1, vlen - 1);
		if (alen == 5 && strncmp(s + a, "class", 5) == 0)
			for (size_t k = v; k < v + vlen;) {
				while (k < v + vlen && s[k] == ' ')
					k++;
				size_t c = k;
				while (k < v + vlen && s[k] != ' ')
					k++;
				if (k > c)
					count(classes, &nclasses, 512, s + c, k - c);
			}
		if (is_svg && alen == 2 && strncmp(s + a, "id", 2) == 0 && vlen < svg_id_len) {
			memcpy(svg_id, s + v, vlen);
			svg_id[vlen] = '\0';
		}
	}
	return i + 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: tool_domcheck FILE [--text STRING]...\n", stderr);
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 2;
	}
	static char s[1 << 25], text[1 << 25], title[4096];
	size_t n = fread(s, 1, sizeof s - 1, f), t = 0;
	fclose(f);
	s[n] = '\0';
	int in_title = 0;
	title[0] = '\0';
	for (size_t i = 0; i < n;) {
		if (s[i] != '<') {
			size_t j = i;
			while (j < n && s[j] != '<')
				j++;
			size_t from = t;
			t += decode(s + i, j - i, text + t);
			if (in_title && !title[0] && t - from < sizeof title) {
				memcpy(title, text + from, t - from);
				title[t - from] = '\0';
			}
			i = j;
			continue;
		}
		if (strncmp(s + i, "<!--", 4) == 0) {
			char *end = strstr(s + i + 4, "-->");
			i = end ? (size_t)(end - s) + 3 : n;
			continue;
		}
		int closing = s[i + 1] == '/';
		size_t a = i + 1 + (size_t)closing, b = a;
		while (b < n && (isalnum((unsigned char)s[b]) || s[b] == '-' || s[b] == '!'))
			b++;
		char svg_id[128] = "";
		int is_svg = !closing && b - a == 3 && strncmp(s + a, "svg", 3) == 0;
		if (!closing && b > a)
			count(elements, &nelements, 256, s + a, b - a);
		if (b - a == 5 && strncmp(s + a, "title", 5) == 0)
			in_title = !closing;
		i = scan_attributes(s, b, n, is_svg, svg_id, sizeof svg_id);
		if (is_svg && svg_id[0])
			printf("svg %s\n", svg_id);
		/* Raw text elements: their content is not markup. */
		if (!closing && ((b - a == 5 && strncmp(s + a, "style", 5) == 0) ||
		                 (b - a == 6 && strncmp(s + a, "script", 6) == 0))) {
			char end[16];
			snprintf(end, sizeof end, "</%.*s", (int)(b - a), s + a);
			char *e = strstr(s + i, end);
			i = e ? (size_t)(e - s) : n;
		}
	}
	text[t] = '\0';
	for (size_t k = 0; k < nelements; k++)
		printf("element %s %ld\n", elements[k].name, elements[k].n);
	for (size_t k = 0; k < nclasses; k++)
		printf("class %s %ld\n", classes[k].name, classes[k].n);
	qsort(ids, nids, sizeof *ids, cmp_str);
	long dangling = 0;
	for (size_t k = 0; k < nfragments; k++)
		if (!bsearch(&fragments[k], ids, nids, sizeof *ids, cmp_str) && dangling++ < 5)
			printf("dangling #%s\n", fragments[k]);
	printf("links %zu\ndangling-links %ld\n", nfragments, dangling);
	printf("handler-attributes %ld\nexternal %ld\ntitle %s\n", handlers, external, title);
	for (int k = 2; k + 1 < argc; k += 2) {
		if (strcmp(argv[k], "--text") != 0)
			continue;
		long hits = 0;
		for (const char *p = text; (p = strstr(p, argv[k + 1])); p++)
			hits++;
		printf("text %ld %s\n", hits, argv[k + 1]);
	}
	return 0;
}
