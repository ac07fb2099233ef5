/* fountain.h - Fountain 1.1 screenplay parser: text in, scenes and characters out.
 *
 * Input rules beyond fountain.io/syntax, chosen so that no input can crash the parser or make it use memory out of
 * proportion to the script:
 *   - the text must be UTF-8 (a UTF-8 BOM is skipped), with no NUL and no control character other than tab, line
 *     feed, carriage return, form feed and vertical tab; LF, CRLF and lone CR all end a line; at most
 *     FOUNTAIN_MAX_BYTES bytes; an empty file is an error;
 *   - boneyard is removed before anything else; a line left empty by removing boneyard or notes does not exist for
 *     the parser (so a boneyard line between a cue and its dialogue hides only itself), yet line numbers stay those
 *     of the original file; an unclosed boneyard is an error naming the line where it opens (silently hiding the
 *     rest of the script would be worse);
 *   - a note `[[...]]` may span lines but not a blank line (spec: a blank line inside a note is written as two
 *     spaces); a `[[` with no `]]` before the next blank line is plain text;
 *   - text before the first heading that holds action or dialogue becomes an implicit scene 1 (heading ""), so that
 *     every cue belongs to a scene; with no heading at all the whole script is one implicit scene;
 *   - the title page is the first paragraph when every line of it is `Key: value` or an indented continuation and
 *     one key is a standard one (Title, Credit, Author(s), Source, Draft date, Date, Contact, Copyright, Notes,
 *     Revision); this keeps a script opening on `FADE IN:` from losing its first paragraph;
 *   - `FADE IN:`, `FADE OUT.` and `FADE TO BLACK.` standing alone are transitions, like `... TO:` and `>`. */
#ifndef SB_FOUNTAIN_H
#define SB_FOUNTAIN_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* Largest script accepted: a feature film is about 200 KB; the cap bounds the memory a hostile file can cost. */
#define FOUNTAIN_MAX_BYTES ((size_t)8 << 20)

/* Where one spoken line of a cue starts in its dialogue text, and the file line it was written on. */
struct fountain_spoken_line {
	size_t offset;        /* byte offset in the cue's dialogue */
	int line;             /* 1-based line in the script file */
};

/* One character cue and the dialogue under it. */
struct fountain_cue {
	char *name;           /* canonical name: no @, no ^, no extensions, all white space (U+00A0 too) trimmed,
	                         inner runs of white space made one space; shared with its fountain_character */
	char *extension;      /* "V.O.", "CONT'D", "O.S., PRELAP", "V.O.)(CONT'D" ... without outer parens, or NULL */
	char *dialogue;       /* spoken lines, trimmed, joined by '\n'; parentheticals and lyrics markers excluded; "" if none */
	char *parentheticals; /* parentheticals of this cue, parens kept, joined by '\n', or NULL */
	int line;             /* 1-based line of the cue */
	struct fountain_spoken_line *lines;  /* each spoken line of dialogue in order, so a quote can be anchored to its
	                                        file line; NULL when dialogue is "" */
	size_t nlines;
	int words;            /* white-space separated words of dialogue */
	bool dual;            /* cue ended with ^ (second half of dual dialogue) */
};

/* An author's # section. */
struct fountain_section {
	int depth;            /* number of leading '#' */
	char *title;          /* trimmed text after the #s */
	int line;
	size_t next_scene;    /* 1-based index of the first scene after it; nscenes+1 when none follows */
};

/* An author's = synopsis line. */
struct fountain_synopsis {
	char *text;
	int line;
	size_t scene;         /* 1-based scene it stands in, 0 when before the first scene */
	size_t next_scene;    /* 1-based index of the first scene after it; nscenes+1 when none follows */
};

struct fountain_scene {
	size_t index;         /* 1-based */
	char *heading;        /* as written, forced '.' and scene number removed, trimmed; "" for an implicit scene */
	char *number;         /* scene number from #...# (last pair), or NULL */
	char *int_ext;        /* the prefix without dots, upper case: "INT", "EXT", "EST", "INT/EXT", "EXT/INT", "I/E";
	                         NULL when the heading has none (a forced one) */
	char *location;       /* heading minus prefix and minus a trailing " - TIME" part; "" when none */
	char *time;           /* the part after the last " - " of the heading, or NULL */
	int line;             /* 1-based line of the heading (implicit scene: line of its first action or cue) */
	bool implicit;        /* no heading: the text before the first heading, or the whole script if it has none */
	char *text;           /* what a summary reads, a function of the scene's own lines only: the heading as in
	                         `heading` (so renumbering changes nothing), then every line up to the next heading with
	                         boneyard, notes, sections, synopses and page breaks removed, trailing white space cut
	                         (except a two-space line), runs of blank lines made one empty line, LF line ends, no
	                         trailing newline; an implicit scene starts at its first action or cue */
	size_t text_len;
	char *action;         /* the action paragraphs only (incl. forced !, centered, lyrics outside dialogue) with
	                         their markers removed, lines right-trimmed and joined by '\n', paragraphs by "\n\n"; "" */
	char **characters;    /* names who speak here, first-cue order, unique (the characters' own name strings) */
	size_t ncharacters;
	struct fountain_cue *cues;
	size_t ncues;
};

struct fountain_character {
	char *name;
	size_t *scenes;       /* 1-based scene indexes where the character speaks, ascending, unique */
	size_t nscenes;
	int cues;
	int words;
};

struct fountain_title_field {
	char *key;            /* as written, e.g. "Title", "Draft date" */
	char *value;          /* continuation lines joined by '\n', trimmed */
};

struct fountain_script {
	char *title;          /* the Title field with emphasis markers removed, lines joined by spaces, or NULL */
	struct fountain_title_field *title_page;
	size_t ntitle_page;
	struct fountain_scene *scenes;
	size_t nscenes;
	struct fountain_character *characters;  /* in order of first cue */
	size_t ncharacters;
	struct fountain_section *sections;
	size_t nsections;
	struct fountain_synopsis *synopses;
	size_t nsynopses;
	bool implicit_scene;  /* the script had no heading: one implicit scene (the caller says so, engine/ never prints) */
	int nlines;           /* lines in the file; a final line end does not start another */
	size_t *by_name;      /* indexes into characters sorted by name (strcmp), for fountain_find_character; a script
	                         built by hand may leave it NULL (the search is then linear) */
};

/* Why a parse failed: message names what is wrong, where, and what to do; offset is the 0-based byte offset in the
 * file (BOM included) and line the 1-based line, both 0 when the error has no place (empty file, out of memory). */
struct fountain_error {
	size_t offset;
	int line;
	char message[256];
};

/* Parses len bytes of UTF-8 (BOM, LF/CRLF/mixed, no final newline allowed); 0 and *out on success, -1 and *err on bad input. */
int fountain_parse(const char *data, size_t len, struct fountain_script **out, struct fountain_error *err);

/* Frees a script from fountain_parse (never one built by hand); NULL is fine. */
void fountain_free(struct fountain_script *script);

/* Returns the parse as the JSON of `scriptbuild -t parse` (caller deletes it), NULL on OOM. Every field above appears,
 * null when absent (a synopsis' scene 0 too): {"title", "title_page": [{"key","value"}], "implicit_scene", "lines",
 * "scenes": [{"index","number","heading","line","implicit","int_ext","location","time","characters",
 * "cues": [{"name","extension","line","words","dual","dialogue","parentheticals"}],"action","text"}],
 * "characters": [{"name","scenes","cues","words"}], "sections": [{"depth","title","line","next_scene"}],
 * "synopses": [{"text","line","scene","next_scene"}]}. */
struct cJSON *fountain_to_json(const struct fountain_script *script);

/* Finds a character by canonical name; NULL when it never speaks. */
const struct fountain_character *fountain_find_character(const struct fountain_script *script, const char *name);

#endif
