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
 *   - scenes are numbered as screenwriting programs number them: scene N is the Nth heading; text before the first
 *     heading that holds action or dialogue becomes scene 0 (heading "", `implicit`: before the first heading), so
 *     that every cue belongs to a scene; with no heading at all the whole script is scene 0; a script with no action
 *     and no dialogue at all (a title page only) is an error;
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
	char **extensions;    /* as written, one per parenthesised or comma-separated part: "EDWARD (V.O.)(CONT'D)" and
	                         "EDWARD (V.O., CONT'D)" both give "V.O.", "CONT'D"; NULL when none */
	size_t nextensions;
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
	size_t next_scene;    /* 1-based position in scenes[] of the first scene after it; nscenes+1 when none follows */
};

/* An author's = synopsis line. */
struct fountain_synopsis {
	char *text;
	int line;
	size_t scene;         /* 1-based position in scenes[] of the scene it stands in, 0 when before every scene */
	size_t next_scene;    /* 1-based position in scenes[] of the first scene after it; nscenes+1 when none follows */
};

/* One member of a scene's cast: a speaker (first-cue order) or a character named in capitals in the action who does
 * not speak in the scene (after the speakers, in order of first mention). */
struct fountain_cast {
	const char *name;     /* the character's own name string */
	bool speaking;
	int cues;             /* cues and dialogue words in this scene; 0 for a mention */
	int words;
};

/* Time of day normalised from what the heading says. */
enum fountain_time {
	FOUNTAIN_TIME_NONE, FOUNTAIN_TIME_DAY, FOUNTAIN_TIME_NIGHT, FOUNTAIN_TIME_DAWN, FOUNTAIN_TIME_DUSK,
	FOUNTAIN_TIME_MORNING, FOUNTAIN_TIME_AFTERNOON, FOUNTAIN_TIME_EVENING, FOUNTAIN_TIME_CONTINUOUS,
	FOUNTAIN_TIME_LATER, FOUNTAIN_TIME_SAME, FOUNTAIN_TIME_OTHER
};

/* "DAY", "NIGHT", ... "OTHER"; NULL for FOUNTAIN_TIME_NONE. */
const char *fountain_time_name(enum fountain_time t);

struct fountain_scene {
	size_t index;         /* the scene's number in heading order: N for the Nth heading, 0 before the first heading */
	char *heading;        /* as written, forced '.' and scene number removed, trimmed; "" for an implicit scene */
	char *number;         /* scene number from #...# (last pair), or NULL */
	char *int_ext;        /* the prefix without dots, upper case: "INT", "EXT", "EST", "INT/EXT", "EXT/INT", "I/E";
	                         NULL when the heading has none (a forced one) */
	char *location;       /* heading minus prefix, time and parenthesised notes; "" when none */
	char *time;           /* the time of day as written (after the last " - ", " -- " or ", "), or NULL */
	enum fountain_time time_of_day;  /* time normalised; NONE when the heading gives no time */
	char *note;           /* parenthesised parts of the heading ("1985", "FLASHBACK") without parens, "; "-joined, or NULL */
	int line;             /* 1-based line of the heading (implicit scene: line of its first action or cue) */
	bool implicit;        /* scene 0: the text before the first heading, or the whole script if it has none */
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
	/* Breakdown facts (engine/breakdown.c). */
	struct fountain_cast *cast; /* speakers in first-cue order, then characters mentioned in capitals in the action */
	size_t ncast;
	int printed_lines;    /* lines the scene takes on the printed page (README: "Page length") */
	int eighths;          /* page length in eighths of a page, >= 1; the scenes' eighths sum to script->eighths */
	int own_eighths;      /* the scene's length on its own, max(1, round(8 * printed_lines / 55)): a function of its
	                         text alone, which the summary prompt can say without other scenes entering its key */
	int action_words, dialogue_words;
};

/* How many scenes a character shares with another (both speaking or mentioned there). */
struct fountain_copresence {
	const char *name;
	size_t scenes;
};

struct fountain_character {
	char *name;
	size_t *scenes;       /* scene indexes where the character speaks, ascending, unique */
	size_t nscenes;
	int cues;
	int words;
	double share;         /* words / all dialogue words of the script to 4 decimals, 0 when nobody speaks */
	size_t *mentioned;    /* scene indexes where it is named in capitals in the action without speaking, ascending */
	size_t nmentioned;
	struct fountain_copresence *together;  /* others sharing a scene with it: most scenes first, then by name */
	size_t ntogether;
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
	int eighths;          /* the script's page count in eighths of a page (runtime: one minute a page) */
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

/* The scene with index (heading order, 0 before the first heading); NULL when there is none. */
const struct fountain_scene *fountain_scene_by_index(const struct fountain_script *script, size_t index);

/* The scene whose #...# number is number; NULL when none has it. */
const struct fountain_scene *fountain_scene_by_number(const struct fountain_script *script, const char *number);

/* Finds a character by canonical name; NULL when it never speaks. */
const struct fountain_character *fountain_find_character(const struct fountain_script *script, const char *name);

#endif
