/* fountain.c - the Fountain parser: one pass over the cleaned lines, building scenes, cues and characters. */
#include "fountain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "breakdown.h"
#include "fountain_clean.h"
#include "util.h"

/* Every string and small array of a script lives in a few large blocks: one free, no per-string overhead. Only the
 * scenes and characters arrays are malloc'd on their own, being built by realloc. */
struct block {
	struct block *next;
	size_t used, size;
	max_align_t data[];
};

struct parsed {
	struct fountain_script script;  /* first member: fountain_free gets back to the block list from it */
	struct block *blocks;
};

enum { BLOCK_SIZE = 64 * 1024 };

/* parse_clean's answer for a script without action or dialogue (-1 is out of memory). */
enum { PARSE_NO_SCENE = -2 };

struct vec {
	void *items;
	size_t n, cap;
};

struct line {
	const char *s;
	size_t n;
	int no;
};

struct parser {
	struct parsed *out;
	const char *text;
	size_t len, pos;
	int no;
	struct vec scenes;       /* struct fountain_scene: becomes the script's array */
	struct vec characters;   /* struct fountain_character: becomes the script's array */
	struct vec last_scene;   /* size_t per character: the scene where it last spoke, so a scene lists it once */
	struct vec cues;         /* struct fountain_cue of the open scene */
	struct vec names;        /* char *: characters of the open scene */
	struct vec sections, synopses, title_page;
	struct vec spoken;       /* struct fountain_spoken_line of the open cue */
	size_t *slots;           /* open-addressing table of character index + 1, 0 = empty */
	size_t nslots;
	struct buf scene_text, action, dialogue, parens, scratch;
	size_t cue_character;    /* index of the open cue's speaker */
	bool in_cue, in_paragraph, pending_blank, prev_blank, any_heading;
	size_t nheadings;        /* headings so far: the next heading's scene index is nheadings + 1 */
	int printed;             /* printed lines of the open scene so far (closed blocks) */
	int cue_block;           /* printed lines of the open cue: its name line, parentheticals and dialogue */
	int prev_cue_block;      /* printed lines of the cue before, for a dual cue printed beside it */
	bool cue_dual;           /* the open cue is the second half of dual dialogue */
};

/* n bytes aligned for any array (align is 1 for strings, which need none). */
static void *arena_alloc_aligned(struct parsed *p, size_t n, size_t align)
{
	struct block *head = p->blocks;
	if (head) {
		size_t start = (head->used + align - 1) / align * align;
		if (start <= head->size && head->size - start >= n) {
			head->used = start + n;
			return (char *)head->data + start;
		}
	}
	/* A large request gets a block of its own behind the head, so the head's free room is not wasted. */
	size_t size = n > BLOCK_SIZE / 4 ? n : BLOCK_SIZE;
	struct block *b = malloc(sizeof *b + size);
	if (!b)
		return NULL;
	b->used = n;
	b->size = size;
	if (head && size == n) {
		b->next = head->next;
		head->next = b;
	} else {
		b->next = head;
		p->blocks = b;
	}
	return b->data;
}

static void *arena_alloc(struct parsed *p, size_t n)
{
	return arena_alloc_aligned(p, n, _Alignof(max_align_t));
}

/* The arena as breakdown.c sees it. */
static void *breakdown_arena_alloc(void *ctx, size_t n)
{
	return arena_alloc(ctx, n);
}

static char *arena_strndup(struct parsed *p, const char *s, size_t n)
{
	char *r = arena_alloc_aligned(p, n + 1, 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

/* Copies a vector's items into the arena: NULL for none. */
static void *arena_items(struct parsed *p, const struct vec *v, size_t size, bool *ok)
{
	if (v->n == 0)
		return NULL;
	void *r = arena_alloc(p, v->n * size);
	if (!r)
		*ok = false;
	else
		memcpy(r, v->items, v->n * size);
	return r;
}

/* Hands v's items over to the caller, trimmed to size: v is left empty. */
static void *shrink(struct vec *v, size_t size)
{
	void *items = v->items;
	if (v->n == 0) {
		free(items);
		items = NULL;
	} else {
		void *smaller = realloc(items, v->n * size);
		if (smaller)
			items = smaller;
	}
	v->items = NULL;
	v->cap = 0;
	return items;
}

static void *vec_push(struct vec *v, size_t size)
{
	void *items = grow(v->items, &v->cap, v->n + 1, size);
	if (!items)
		return NULL;
	v->items = items;
	void *item = (char *)v->items + v->n++ * size;
	memset(item, 0, size);
	return item;
}

/* Appends s[0..n) as a new line of b, after sep when b already has text. */
static int buf_line(struct buf *b, const char *sep, const char *s, size_t n)
{
	if (b->len && buf_try_add(b, sep, strlen(sep)) < 0)
		return -1;
	return buf_try_add(b, s, n);
}

/* ---- characters and white space ---- */

static size_t skip_space(const char *s, size_t n)
{
	size_t i = 0, w;
	while (i < n && (w = fountain_space(s + i, n - i)) > 0)
		i += w;
	return i;
}

/* Length of s[0..n) without its trailing white space. */
static size_t rtrim(const char *s, size_t n)
{
	for (;;) {
		if (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\f' || s[n - 1] == '\v'))
			n--;
		else if (n >= 2 && (unsigned char)s[n - 2] == 0xC2 && (unsigned char)s[n - 1] == 0xA0)
			n -= 2;
		else
			return n;
	}
}

static void trim(const char **s, size_t *n)
{
	size_t lead = skip_space(*s, *n);
	*s += lead;
	*n = rtrim(*s, *n - lead);
}

static bool is_two_spaces(const struct line *l)
{
	return l->n == 2 && l->s[0] == ' ' && l->s[1] == ' ';
}

/* A blank line ends paragraphs; a line of exactly two spaces is the spec's way of not ending one. */
static bool is_blank(const struct line *l)
{
	return !is_two_spaces(l) && fountain_all_space(l->s, l->n);
}

/* Decodes the (valid) UTF-8 code point at s[*i] and advances *i. */
static unsigned next_codepoint(const char *s, size_t n, size_t *i)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned c = u[*i];
	size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	if (*i + len > n)
		len = n - *i;
	unsigned cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
	for (size_t k = 1; k < len; k++)
		cp = cp << 6 | (u[*i + k] & 0x3F);
	*i += len;
	return cp;
}

/* 1 for an upper-case letter, -1 lower-case, 0 anything else: ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic,
 * enough to tell a cue from action in European scripts without depending on the process locale. */
static int letter_case(unsigned cp)
{
	if (cp >= 'A' && cp <= 'Z')
		return 1;
	if (cp >= 'a' && cp <= 'z')
		return -1;
	if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
		return 1;
	if (cp >= 0xDF && cp <= 0xFF && cp != 0xF7)
		return -1;
	if (cp >= 0x100 && cp <= 0x17F) {
		if (cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17F)
			return -1;
		if (cp == 0x178)
			return 1;
		if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
			return cp % 2 ? 1 : -1;
		return cp % 2 ? -1 : 1;
	}
	if (cp == 0x386 || (cp >= 0x388 && cp <= 0x3AB))
		return 1;
	if (cp >= 0x3AC && cp <= 0x3CE)
		return -1;
	if (cp >= 0x400 && cp <= 0x42F)
		return 1;
	if (cp >= 0x430 && cp <= 0x45F)
		return -1;
	return 0;
}

/* True when s has an upper-case letter and no lower-case one. */
static bool all_caps(const char *s, size_t n)
{
	bool upper = false;
	size_t i = 0;
	while (i < n) {
		int c = letter_case(next_codepoint(s, n, &i));
		if (c < 0)
			return false;
		upper |= c > 0;
	}
	return upper;
}

static bool starts_with_nocase(const char *s, size_t n, const char *word)
{
	size_t len = strlen(word);
	return n >= len && strncasecmp(s, word, len) == 0;
}

static bool ends_with(const char *s, size_t n, const char *word)
{
	size_t len = strlen(word);
	return n >= len && memcmp(s + n - len, word, len) == 0;
}

/* True when s, ignoring emphasis markers and surrounding white space, is word (any case). */
static bool plain_equals(const char *s, size_t n, const char *word)
{
	trim(&s, &n);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '*' || s[i] == '_')
			continue;
		if (!word[k] || (s[i] | 0x20) != (word[k] | 0x20))
			return false;
		k++;
	}
	return word[k] == '\0';
}

static size_t count_words(const char *s, size_t n)
{
	size_t words = 0, i = 0;
	bool in_word = false;
	while (i < n) {
		size_t w = s[i] == '\n' ? 1 : fountain_space(s + i, n - i);
		if (w) {
			in_word = false;
			i += w;
		} else {
			words += !in_word;
			in_word = true;
			i++;
		}
	}
	return words;
}

/* ---- lines ---- */

/* The next line that exists for the parser (dropped lines are skipped); false at the end. */
static bool next_line(const char *t, size_t len, size_t *pos, int *no, struct line *out)
{
	while (*pos < len) {
		size_t start = *pos, end = start;
		while (end < len && t[end] != '\n' && t[end] != FOUNTAIN_DROPPED)
			end++;
		(*no)++;
		*pos = end < len ? end + 1 : end;
		if (end < len && t[end] == FOUNTAIN_DROPPED)
			continue;
		out->s = t + start;
		out->n = end - start;
		out->no = *no;
		return true;
	}
	return false;
}

static bool peek_line(const struct parser *p, struct line *out)
{
	size_t pos = p->pos;
	int no = p->no;
	return next_line(p->text, p->len, &pos, &no, out);
}

/* ---- scene headings ---- */

struct heading {
	const char *text, *number, *rest;
	size_t ntext, nnumber, nrest;  /* rest: the heading after its prefix, what location, time and notes come from */
	char int_ext[8];      /* "" when the heading has no prefix */
};

/* Length of a heading prefix (INT, EXT, EST, INT/EXT, EXT/INT, I/E, each part with an optional '.') at s, with the
 * '.' or space that must follow it; its normalised form goes to ie. 0 when there is none. */
static size_t heading_prefix(const char *s, size_t n, char ie[8])
{
	static const char *const first[] = {"INT", "EXT", "EST", "I", "E"};
	static const char *const second[] = {"EXT", "INT", NULL, "E", "I"};
	for (size_t k = 0; k < sizeof first / sizeof *first; k++) {
		if (!starts_with_nocase(s, n, first[k]))
			continue;
		size_t i = strlen(first[k]);
		bool dot = i < n && s[i] == '.';
		i += dot;
		const char *other = NULL;
		if (i < n && s[i] == '/' && second[k] && starts_with_nocase(s + i + 1, n - i - 1, second[k])) {
			other = second[k];
			i += 1 + strlen(other);
			dot = i < n && s[i] == '.';
			i += dot;
		} else if (strlen(first[k]) == 1) {
			continue;  /* a lone I or E is a word, not a prefix */
		}
		if (!dot && !(i < n && (s[i] == ' ' || s[i] == '\t')))
			continue;
		snprintf(ie, 8, "%s%s%s", first[k], other ? "/" : "", other ? other : "");
		return i;
	}
	return 0;
}

static bool number_char(char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '-' || c == '.';
}

/* Strips the #...# scene numbers ending the heading h->text; the last one is the scene's number. */
static void strip_numbers(struct heading *h)
{
	for (;;) {
		size_t n = h->ntext;
		if (n < 3 || h->text[n - 1] != '#')
			return;
		size_t k = n - 1;
		while (k > 0 && number_char(h->text[k - 1]))
			k--;
		if (k == 0 || k == n - 1 || h->text[k - 1] != '#')
			return;
		if (!h->number) {
			h->number = h->text + k;
			h->nnumber = n - 1 - k;
		}
		h->ntext = rtrim(h->text, k - 1);
	}
}

/* The heading after its prefix (and a dash glued to the prefix), which breakdown_split_heading cuts up. */
static void heading_rest(struct heading *h, size_t prefix)
{
	const char *r = h->text + prefix;
	size_t n = h->ntext - prefix;
	trim(&r, &n);
	if (prefix && n && r[0] == '-') {
		r++;
		n--;
		trim(&r, &n);
	}
	h->rest = r;
	h->nrest = n;
}

/* Recognises a heading in the left-trimmed line t (blank lines around it already checked). */
static bool parse_heading(const char *t, size_t n, struct heading *h)
{
	memset(h, 0, sizeof *h);
	n = rtrim(t, n);
	bool forced = n >= 2 && t[0] == '.' && t[1] != '.' && !fountain_space(t + 1, n - 1);
	if (forced) {
		t++;
		n--;
	}
	size_t prefix = heading_prefix(t, n, h->int_ext);
	if (!forced && !prefix)
		return false;
	h->text = t;
	h->ntext = n;
	strip_numbers(h);
	if (h->ntext == 0)
		return false;
	heading_rest(h, prefix);
	return true;
}

/* ---- the scene being built ---- */

static struct fountain_scene *current_scene(struct parser *p)
{
	return p->scenes.n ? (struct fountain_scene *)p->scenes.items + p->scenes.n - 1 : NULL;
}

static char *buf_to_arena(struct parser *p, const struct buf *b)
{
	return arena_strndup(p->out, b->len ? b->data : "", b->len);
}

static int close_cue(struct parser *p)
{
	if (!p->in_cue)
		return 0;
	p->in_cue = false;
	struct fountain_cue *cue = (struct fountain_cue *)p->cues.items + p->cues.n - 1;
	cue->dialogue = buf_to_arena(p, &p->dialogue);
	if (!cue->dialogue)
		return -1;
	if (p->parens.len && !(cue->parentheticals = buf_to_arena(p, &p->parens)))
		return -1;
	bool ok = true;
	cue->lines = arena_items(p->out, &p->spoken, sizeof *cue->lines, &ok);
	cue->nlines = p->spoken.n;
	p->spoken.n = 0;
	if (!ok)
		return -1;
	size_t words = count_words(p->dialogue.data, p->dialogue.len);
	cue->words = words > INT32_MAX ? INT32_MAX : (int)words;
	((struct fountain_character *)p->characters.items)[p->cue_character].words += cue->words;
	p->dialogue.len = p->parens.len = 0;
	/* Dual dialogue prints beside the cue before it: only what it adds below that one takes room. */
	if (p->cue_dual && p->prev_cue_block)
		p->printed += p->cue_block > p->prev_cue_block ? p->cue_block - p->prev_cue_block : 0;
	else
		p->printed += 1 + p->cue_block;
	p->prev_cue_block = p->cue_block;
	return 0;
}

/* Ends the open scene: its text, action, cues and speakers move into the arena. */
static int close_scene(struct parser *p)
{
	struct fountain_scene *s = current_scene(p);
	if (!s)
		return 0;
	if (close_cue(p) < 0)
		return -1;
	p->in_paragraph = false;
	bool ok = true;
	s->text = buf_to_arena(p, &p->scene_text);
	s->text_len = p->scene_text.len;
	s->action = buf_to_arena(p, &p->action);
	s->cues = arena_items(p->out, &p->cues, sizeof *s->cues, &ok);
	s->ncues = p->cues.n;
	s->characters = arena_items(p->out, &p->names, sizeof *s->characters, &ok);
	s->ncharacters = p->names.n;
	s->printed_lines = p->printed;
	p->scene_text.len = p->action.len = p->cues.n = p->names.n = 0;
	p->pending_blank = false;
	p->printed = p->prev_cue_block = 0;
	return ok && s->text && s->action ? 0 : -1;
}

static struct fountain_scene *open_scene(struct parser *p, int line, size_t index)
{
	if (close_scene(p) < 0)
		return NULL;
	struct fountain_scene *s = vec_push(&p->scenes, sizeof *s);
	if (!s)
		return NULL;
	s->index = index;
	s->line = line;
	return s;
}

/* Opens scene 0, the action or dialogue before the first heading. */
static int open_implicit_scene(struct parser *p, int line)
{
	struct fountain_scene *s = open_scene(p, line, 0);
	if (!s)
		return -1;
	s->implicit = true;
	s->heading = arena_strndup(p->out, "", 0);
	s->location = s->heading;
	return s->heading ? 0 : -1;
}

/* Adds a line to the open scene's text (nothing before the first scene). */
static int text_line(struct parser *p, const char *s, size_t n)
{
	if (!current_scene(p))
		return 0;
	if (n != 2 || s[0] != ' ' || s[1] != ' ')
		n = rtrim(s, n);
	const char *sep = p->pending_blank ? "\n\n" : "\n";
	p->pending_blank = false;
	return buf_line(&p->scene_text, sep, s, n);
}

static void text_blank(struct parser *p)
{
	p->pending_blank = p->scene_text.len > 0;
}

static char *arena_trimmed(struct parsed *out, const char *s, size_t n)
{
	trim(&s, &n);
	return arena_strndup(out, s, n);
}

static int scene_heading(struct parser *p, const struct line *l, const struct heading *h)
{
	struct fountain_scene *s = open_scene(p, l->no, ++p->nheadings);
	if (!s)
		return -1;
	p->any_heading = true;
	p->printed = 1 + breakdown_wrapped_lines(h->text, h->ntext, PRINT_WIDTH_HEADING);
	struct parsed *o = p->out;
	s->heading = arena_strndup(o, h->text, h->ntext);
	if (!s->heading)
		return -1;
	if (h->number && !(s->number = arena_strndup(o, h->number, h->nnumber)))
		return -1;
	if (h->int_ext[0] && !(s->int_ext = arena_strndup(o, h->int_ext, strlen(h->int_ext))))
		return -1;
	/* The parts are cut from a copy: notes taken out of the middle leave the location without them. */
	char *work = arena_alloc_aligned(o, 2 * h->nrest + 2, 1);
	if (!work)
		return -1;
	struct heading_parts parts;
	breakdown_split_heading(h->rest, h->nrest, h->int_ext[0] != '\0', work, work + h->nrest + 1, &parts);
	s->location = arena_strndup(o, parts.location, parts.nlocation);
	if (!s->location)
		return -1;
	if (parts.ntime && !(s->time = arena_strndup(o, parts.time, parts.ntime)))
		return -1;
	s->time_of_day = breakdown_time_of_day(parts.time, parts.ntime);
	if (parts.nnote && !(s->note = arena_strndup(o, parts.note, parts.nnote)))
		return -1;
	return buf_try_add(&p->scene_text, h->text, h->ntext);
}

/* ---- characters ---- */

static int grow_slots(struct parser *p)
{
	size_t n = p->nslots ? p->nslots * 2 : 64;
	size_t *slots = calloc(n, sizeof *slots);
	if (!slots)
		return -1;
	const struct fountain_character *c = p->characters.items;
	for (size_t i = 0; i < p->characters.n; i++) {
		size_t k = XXH3_64bits(c[i].name, strlen(c[i].name)) & (n - 1);
		while (slots[k])
			k = (k + 1) & (n - 1);
		slots[k] = i + 1;
	}
	free(p->slots);
	p->slots = slots;
	p->nslots = n;
	return 0;
}

/* Index of the character named name[0..n), added on its first cue; -1 on OOM. */
static long character_index(struct parser *p, const char *name, size_t n)
{
	if ((p->characters.n + 1) * 2 > p->nslots && grow_slots(p) < 0)
		return -1;
	size_t k = XXH3_64bits(name, n) & (p->nslots - 1);
	const struct fountain_character *c = p->characters.items;
	for (; p->slots[k]; k = (k + 1) & (p->nslots - 1)) {
		const char *other = c[p->slots[k] - 1].name;
		if (strncmp(other, name, n) == 0 && other[n] == '\0')
			return (long)(p->slots[k] - 1);
	}
	struct fountain_character *nc = vec_push(&p->characters, sizeof *nc);
	if (!nc || !vec_push(&p->last_scene, sizeof(size_t)) || !(nc->name = arena_strndup(p->out, name, n)))
		return -1;
	p->slots[k] = p->characters.n;
	return (long)(p->characters.n - 1);
}

/* The canonical form of a cue's name into p->scratch: trimmed, inner white space runs made one space. */
static int canonical_name(struct parser *p, const char *s, size_t n)
{
	trim(&s, &n);
	p->scratch.len = 0;
	size_t i = 0;
	while (i < n) {
		size_t w = fountain_space(s + i, n - i);
		if (w) {
			i += skip_space(s + i, n - i);
			if (buf_try_add(&p->scratch, " ", 1) < 0)
				return -1;
		} else if (buf_try_add(&p->scratch, s + i++, 1) < 0) {
			return -1;
		}
	}
	return 0;
}

struct cue_line {
	const char *name, *ext;
	size_t nname, next;
	bool dual;
};

/* Recognises a cue in the left-trimmed line t (blank line before and text after already checked). */
static bool parse_cue(const char *t, size_t n, struct cue_line *c)
{
	char ie[8];
	memset(c, 0, sizeof *c);
	n = rtrim(t, n);
	bool forced = n && t[0] == '@';
	if (forced) {
		t++;
		n--;
	}
	if (n && t[n - 1] == '^') {
		c->dual = true;
		n = rtrim(t, n - 1);
	}
	const char *paren = memchr(t, '(', n);
	c->name = t;
	c->nname = paren ? (size_t)(paren - t) : n;
	trim(&c->name, &c->nname);
	if (paren) {
		c->ext = paren + 1;
		c->next = n - (size_t)(paren - t) - 1;
		if (c->next && c->ext[c->next - 1] == ')')
			c->next--;
		trim(&c->ext, &c->next);
	}
	if (c->nname == 0)
		return false;
	if (forced)
		return true;
	/* A sloppy heading or transition glued to the next line is action, not a speaker. */
	return all_caps(c->name, c->nname) && c->name[c->nname - 1] != ':' && !heading_prefix(t, n, ie);
}

/* Splits "V.O.)(CONT'D" or "O.S., PRELAP" (the text after the cue's first paren) into its parts. */
static int cue_extensions(struct parser *p, struct fountain_cue *q, const char *s, size_t n)
{
	size_t count = 0;
	char **list = NULL;
	for (int pass = 0; pass < 2; pass++) {
		size_t k = 0, i = 0;
		while (i < n) {
			size_t start = i;
			while (i < n && s[i] != '(' && s[i] != ')' && s[i] != ',')
				i++;
			const char *part = s + start;
			size_t len = i - start;
			trim(&part, &len);
			if (len) {
				if (pass && !(list[k] = arena_strndup(p->out, part, len)))
					return -1;
				k++;
			}
			i++;
		}
		if (!pass) {
			if (!(count = k))
				return 0;
			if (!(list = arena_alloc(p->out, count * sizeof *list)))
				return -1;
		}
	}
	q->extensions = list;
	q->nextensions = count;
	return 0;
}

static int cue(struct parser *p, const struct line *l, const struct cue_line *c)
{
	if (!current_scene(p) && open_implicit_scene(p, l->no) < 0)
		return -1;
	if (canonical_name(p, c->name, c->nname) < 0)
		return -1;
	long idx = character_index(p, p->scratch.data, p->scratch.len);
	if (idx < 0)
		return -1;
	struct fountain_character *who = (struct fountain_character *)p->characters.items + idx;
	size_t *last_scene = (size_t *)p->last_scene.items + idx;
	struct fountain_cue *q = vec_push(&p->cues, sizeof *q);
	if (!q)
		return -1;
	q->name = who->name;
	q->line = l->no;
	q->dual = c->dual;
	if (c->next && cue_extensions(p, q, c->ext, c->next) < 0)
		return -1;
	p->cue_block = breakdown_wrapped_lines(l->s + skip_space(l->s, l->n), rtrim(l->s, l->n) - skip_space(l->s, l->n),
	                                       PRINT_WIDTH_CUE);
	p->cue_dual = c->dual;
	who->cues++;
	if (*last_scene != p->scenes.n) {
		*last_scene = p->scenes.n;
		who->nscenes++;
		char **name = vec_push(&p->names, sizeof *name);
		if (!name)
			return -1;
		*name = who->name;
	}
	p->cue_character = (size_t)idx;
	p->in_cue = true;
	p->in_paragraph = false;
	return text_line(p, l->s, l->n);
}

static int dialogue_line(struct parser *p, const struct line *l)
{
	const char *t = l->s;
	size_t n = l->n;
	trim(&t, &n);
	int rc;
	if (n >= 2 && t[0] == '(' && t[n - 1] == ')') {
		p->cue_block += breakdown_wrapped_lines(t, n, PRINT_WIDTH_PARENTHETICAL);
		rc = buf_line(&p->parens, "\n", t, n);
	} else {
		p->cue_block += breakdown_wrapped_lines(t, n, PRINT_WIDTH_DIALOGUE);
		if (n && t[0] == '~') {
			t++;
			n--;
			trim(&t, &n);
		}
		struct fountain_spoken_line *sl = vec_push(&p->spoken, sizeof *sl);
		if (!sl)
			return -1;
		sl->offset = p->dialogue.len ? p->dialogue.len + 1 : 0;
		sl->line = l->no;
		rc = buf_line(&p->dialogue, "\n", t, n);
	}
	return rc < 0 ? -1 : text_line(p, l->s, l->n);
}

/* ---- action, transitions, structure ---- */

/* Adds s[0..n) to the scene's action: a new paragraph unless one is open. */
static int action_line(struct parser *p, const struct line *l, const char *s, size_t n)
{
	if (!current_scene(p) && open_implicit_scene(p, l->no) < 0)
		return -1;
	n = rtrim(s, n);
	p->printed += !p->in_paragraph + breakdown_wrapped_lines(s, n, PRINT_WIDTH_ACTION);
	int rc = p->in_paragraph ? buf_try_add(&p->action, "\n", 1) : buf_line(&p->action, "\n\n", "", 0);
	p->in_paragraph = true;
	if (rc < 0 || buf_try_add(&p->action, s, n) < 0)
		return -1;
	return text_line(p, l->s, l->n);
}

static bool is_transition(const char *t, size_t n)
{
	n = rtrim(t, n);
	if (ends_with(t, n, "TO:") && all_caps(t, n))
		return true;
	return plain_equals(t, n, "FADE IN:") || plain_equals(t, n, "FADE OUT.") || plain_equals(t, n, "FADE TO BLACK.");
}

static bool is_page_break(const char *t, size_t n)
{
	size_t k = 0;
	while (k < n && t[k] == '=')
		k++;
	return k >= 3 && fountain_all_space(t + k, n - k);
}

static int section(struct parser *p, const struct line *l, const char *t, size_t n)
{
	struct fountain_section *s = vec_push(&p->sections, sizeof *s);
	if (!s)
		return -1;
	size_t depth = 0;
	while (depth < n && t[depth] == '#')
		depth++;
	s->depth = depth > INT32_MAX ? INT32_MAX : (int)depth;
	s->line = l->no;
	s->next_scene = p->scenes.n + 1;  /* the next scene opened gets this index, or none follows: nscenes + 1 */
	return (s->title = arena_trimmed(p->out, t + depth, n - depth)) ? 0 : -1;
}

static int synopsis(struct parser *p, const struct line *l, const char *t, size_t n)
{
	struct fountain_synopsis *s = vec_push(&p->synopses, sizeof *s);
	if (!s)
		return -1;
	s->line = l->no;
	s->scene = p->scenes.n;
	s->next_scene = p->scenes.n + 1;
	return (s->text = arena_trimmed(p->out, t + 1, n - 1)) ? 0 : -1;
}

/* One line outside dialogue. */
static int body_line(struct parser *p, const struct line *l)
{
	if (is_blank(l) || is_two_spaces(l)) {  /* two spaces matter only inside dialogue */
		p->in_paragraph = false;
		p->prev_blank = true;
		text_blank(p);
		return 0;
	}
	bool after_blank = p->prev_blank;
	p->prev_blank = false;
	size_t lead = skip_space(l->s, l->n);
	const char *t = l->s + lead;
	size_t n = rtrim(t, l->n - lead);

	if (t[0] == '#' || t[0] == '=') {
		/* Structure is the author's, not the screenplay's: out of the text, and a paragraph boundary. */
		p->in_paragraph = false;
		p->prev_blank = true;
		text_blank(p);
		if (is_page_break(t, n))
			return 0;
		return t[0] == '#' ? section(p, l, t, n) : synopsis(p, l, t, n);
	}
	if (t[0] == '!')
		return action_line(p, l, t + 1, n - 1);
	if (t[0] == '~') {
		const char *s = t + 1;
		size_t k = n - 1;
		trim(&s, &k);
		return action_line(p, l, s, k);
	}
	if (t[0] == '>') {
		if (n >= 2 && t[n - 1] == '<') {
			const char *s = t + 1;
			size_t k = n - 2;
			trim(&s, &k);
			return action_line(p, l, s, k);
		}
		p->in_paragraph = false;
		if (current_scene(p))
			p->printed += 1 + breakdown_wrapped_lines(t + 1, n - 1, PRINT_WIDTH_TRANSITION);
		return text_line(p, l->s, l->n);
	}

	struct line next;
	bool has_next = peek_line(p, &next);
	bool before_blank = !has_next || is_blank(&next);
	if (after_blank && before_blank) {
		struct heading h;
		if (parse_heading(t, n, &h))
			return scene_heading(p, l, &h);
		if (is_transition(t, n)) {
			p->in_paragraph = false;
			if (current_scene(p))
				p->printed += 1 + breakdown_wrapped_lines(t, n, PRINT_WIDTH_TRANSITION);
			return text_line(p, l->s, l->n);
		}
	}
	struct cue_line c;
	if (after_blank && has_next && !fountain_all_space(next.s, next.n) && parse_cue(t, n, &c))
		return cue(p, l, &c);
	return action_line(p, l, l->s, l->n);
}

static int parse_line(struct parser *p, const struct line *l)
{
	if (!p->in_cue)
		return body_line(p, l);
	if (is_two_spaces(l)) {  /* dialogue goes on across it, as a printed empty line */
		p->cue_block++;
		return text_line(p, l->s, l->n);
	}
	if (!is_blank(l))
		return dialogue_line(p, l);
	p->prev_blank = true;
	text_blank(p);
	return close_cue(p);
}

/* ---- title page ---- */

static bool standard_key(const char *k, size_t n)
{
	static const char *const keys[] = {"title",   "credit",    "author",  "authors", "source",  "draft date",
	                                   "date",    "contact",   "copyright", "notes", "revision"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		if (strlen(keys[i]) == n && strncasecmp(k, keys[i], n) == 0)
			return true;
	return false;
}

/* Length of the key of a `Key: value` line (not indented, key not empty), or 0. */
static size_t key_length(const struct line *l)
{
	if (l->n == 0 || fountain_space(l->s, l->n))
		return 0;
	const char *colon = memchr(l->s, ':', l->n);
	return colon ? rtrim(l->s, (size_t)(colon - l->s)) : 0;
}

static bool title_page_ahead(const struct parser *p)
{
	size_t pos = p->pos;
	int no = p->no;
	struct line l;
	bool standard = false, first = true;
	while (next_line(p->text, p->len, &pos, &no, &l) && !is_blank(&l)) {
		size_t k = key_length(&l);
		if (k)
			standard |= standard_key(l.s, k);
		else if (first || !fountain_space(l.s, l.n))
			return false;
		first = false;
	}
	return standard;
}

static int finish_field(struct parser *p, struct fountain_title_field *f)
{
	if (f && !(f->value = buf_to_arena(p, &p->scratch)))
		return -1;
	p->scratch.len = 0;
	return 0;
}

static int title_page(struct parser *p)
{
	if (!title_page_ahead(p))
		return 0;
	struct fountain_title_field *f = NULL;
	struct line l;
	while (peek_line(p, &l) && !is_blank(&l)) {
		next_line(p->text, p->len, &p->pos, &p->no, &l);
		size_t k = key_length(&l);
		const char *v = l.s;
		size_t n = l.n;
		if (k) {
			if (finish_field(p, f) < 0 || !(f = vec_push(&p->title_page, sizeof *f)))
				return -1;
			if (!(f->key = arena_strndup(p->out, l.s, k)))
				return -1;
			v = (const char *)memchr(l.s, ':', l.n) + 1;
			n = l.n - (size_t)(v - l.s);
		}
		trim(&v, &n);
		if (n && buf_line(&p->scratch, "\n", v, n) < 0)
			return -1;
	}
	return finish_field(p, f);
}

/* The Title field without emphasis markers (backslash escapes kept as their character), lines joined by spaces. */
static char *plain_title(struct parser *p)
{
	const struct fountain_title_field *f = p->title_page.items;
	for (size_t i = 0; i < p->title_page.n; i++) {
		if (strcasecmp(f[i].key, "title") != 0)
			continue;
		p->scratch.len = 0;
		for (const char *s = f[i].value; *s; s++) {
			if (*s == '*' || *s == '_')
				continue;
			if (*s == '\\' && (s[1] == '*' || s[1] == '_' || s[1] == '\\'))
				s++;
			if (buf_try_add(&p->scratch, *s == '\n' ? " " : s, 1) < 0)
				return NULL;
		}
		const char *t = p->scratch.data;
		size_t n = p->scratch.len;
		if (n == 0)  /* an empty Title may have left scratch without a buffer, and NULL + 0 is undefined */
			return NULL;
		trim(&t, &n);
		return n ? arena_strndup(p->out, t, n) : NULL;
	}
	return NULL;
}

/* ---- the whole script ---- */

/* Sorting needs the names; qsort has no context argument, so indexes are sorted through a pair array. */
struct name_index {
	const char *name;
	size_t index;
};

static int compare_names(const void *a, const void *b)
{
	return strcmp(((const struct name_index *)a)->name, ((const struct name_index *)b)->name);
}

/* Moves the vectors into the script, fills each character's scene list and the by-name index. */
static int finish(struct parser *p)
{
	struct fountain_script *s = &p->out->script;
	struct parsed *o = p->out;
	bool ok = true;
	s->title = plain_title(p);
	s->title_page = arena_items(o, &p->title_page, sizeof *s->title_page, &ok);
	s->ntitle_page = p->title_page.n;
	s->sections = arena_items(o, &p->sections, sizeof *s->sections, &ok);
	s->nsections = p->sections.n;
	s->synopses = arena_items(o, &p->synopses, sizeof *s->synopses, &ok);
	s->nsynopses = p->synopses.n;
	s->implicit_scene = !p->any_heading;
	if (!ok)
		return -1;

	size_t nc = p->characters.n;
	struct fountain_character *cs = p->characters.items;
	struct name_index *order = nc ? malloc(nc * sizeof *order) : NULL;
	s->by_name = nc ? arena_alloc(o, nc * sizeof *s->by_name) : NULL;
	if (nc && (!order || !s->by_name)) {
		free(order);
		return -1;
	}
	for (size_t i = 0; i < nc; i++) {
		cs[i].scenes = arena_alloc(o, cs[i].nscenes * sizeof *cs[i].scenes);
		cs[i].nscenes = 0;
		order[i] = (struct name_index){cs[i].name, i};
		ok &= cs[i].scenes != NULL;
	}
	const struct fountain_scene *scenes = p->scenes.items;
	for (size_t i = 0; ok && i < p->scenes.n; i++) {
		for (size_t k = 0; k < scenes[i].ncharacters; k++) {
			long idx = character_index(p, scenes[i].characters[k], strlen(scenes[i].characters[k]));
			cs[idx].scenes[cs[idx].nscenes++] = scenes[i].index;
		}
	}
	if (nc)
		qsort(order, nc, sizeof *order, compare_names);
	for (size_t i = 0; i < nc; i++)
		s->by_name[i] = order[i].index;
	free(order);
	if (!ok)
		return -1;
	/* The two big arrays become the script's own (fountain_free frees them), sparing a copy of each. */
	s->scenes = shrink(&p->scenes, sizeof *s->scenes);
	s->nscenes = p->scenes.n;
	s->characters = shrink(&p->characters, sizeof *s->characters);
	s->ncharacters = nc;
	struct breakdown_arena arena = {o, breakdown_arena_alloc};
	return breakdown_script(s, &arena);
}

static void parser_free(struct parser *p)
{
	free(p->scenes.items);
	free(p->characters.items);
	free(p->last_scene.items);
	free(p->cues.items);
	free(p->spoken.items);
	free(p->names.items);
	free(p->sections.items);
	free(p->synopses.items);
	free(p->title_page.items);
	free(p->slots);
	free(p->scene_text.data);
	free(p->action.data);
	free(p->dialogue.data);
	free(p->parens.data);
	free(p->scratch.data);
}

static int parse_clean(struct parser *p)
{
	if (title_page(p) < 0)
		return -1;
	p->prev_blank = true;
	struct line l;
	while (next_line(p->text, p->len, &p->pos, &p->no, &l)) {
		if (parse_line(p, &l) < 0)
			return -1;
	}
	if (close_scene(p) < 0)
		return -1;
	if (!p->scenes.n)
		return PARSE_NO_SCENE;
	return finish(p);
}

static void set_error(struct fountain_error *err, size_t offset, int line, const char *message)
{
	err->offset = offset;
	err->line = line;
	snprintf(err->message, sizeof err->message, "%s", message);
}

int fountain_parse(const char *data, size_t len, struct fountain_script **out, struct fountain_error *err)
{
	*out = NULL;
	memset(err, 0, sizeof *err);
	const unsigned char *u = (const unsigned char *)data;
	if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
		set_error(err, 0, 1, "UTF-16 is not supported: convert the script to UTF-8");
		return -1;
	}
	if (len > FOUNTAIN_MAX_BYTES) {
		snprintf(err->message, sizeof err->message,
		         "the script is larger than the %zu MiB limit: is this really a screenplay?", FOUNTAIN_MAX_BYTES >> 20);
		return -1;
	}
	size_t base = len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF ? 3 : 0;
	if (len == base) {
		set_error(err, 0, 0, "the script is empty: write at least one line of Fountain");
		return -1;
	}
	int nlines;
	if (fountain_check_text(data + base, len - base, base, &nlines, err) < 0)
		return -1;

	struct parser p = {0};
	char *clean = malloc(len - base + 1);
	p.out = calloc(1, sizeof *p.out);
	if (!clean || !p.out) {
		free(clean);
		free(p.out);
		set_error(err, 0, 0, "out of memory");
		return -1;
	}
	p.text = clean;
	int rc = fountain_clean(data + base, len - base, base, clean, &p.len, err);
	if (rc == 0) {
		rc = parse_clean(&p);
		if (rc == PARSE_NO_SCENE)
			set_error(err, 0, 0, "the script has no scene: no action and no dialogue, only a title page, notes or "
			                     "sections; write a scene heading (INT. PLACE - DAY) and what happens in it");
		else if (rc < 0)
			set_error(err, 0, 0, "out of memory");
	}
	parser_free(&p);
	free(clean);
	if (rc < 0) {
		fountain_free(&p.out->script);
		return -1;
	}
	p.out->script.nlines = nlines;
	*out = &p.out->script;
	return 0;
}

void fountain_free(struct fountain_script *script)
{
	if (!script)
		return;
	struct parsed *p = (struct parsed *)script;
	free(script->scenes);
	free(script->characters);
	while (p->blocks) {
		struct block *next = p->blocks->next;
		free(p->blocks);
		p->blocks = next;
	}
	free(p);
}

const struct fountain_character *fountain_find_character(const struct fountain_script *script, const char *name)
{
	if (!script->by_name) {
		for (size_t i = 0; i < script->ncharacters; i++)
			if (strcmp(script->characters[i].name, name) == 0)
				return &script->characters[i];
		return NULL;
	}
	size_t lo = 0, hi = script->ncharacters;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct fountain_character *c = &script->characters[script->by_name[mid]];
		int cmp = strcmp(c->name, name);
		if (cmp == 0)
			return c;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct fountain_scene *fountain_scene_by_index(const struct fountain_script *script, size_t index)
{
	if (!script->nscenes)
		return NULL;
	size_t first = script->scenes[0].index;  /* 0 when there is text before the first heading, else 1 */
	if (index < first || index - first >= script->nscenes)
		return NULL;
	return &script->scenes[index - first];
}

const struct fountain_scene *fountain_scene_by_number(const struct fountain_script *script, const char *number)
{
	for (size_t i = 0; i < script->nscenes; i++)
		if (script->scenes[i].number && strcmp(script->scenes[i].number, number) == 0)
			return &script->scenes[i];
	return NULL;
}
