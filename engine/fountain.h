/* fountain.h - Fountain 1.1 screenplay parser: text in, scenes and characters out. */
#ifndef SB_FOUNTAIN_H
#define SB_FOUNTAIN_H

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

/* One character cue and the dialogue under it. */
struct fountain_cue {
	char *name;           /* canonical name: no @, no ^, no extensions, all white space (U+00A0 too) trimmed */
	char *extension;      /* "V.O.", "CONT'D", "O.S., PRELAP", "V.O.)(CONT'D" ... without outer parens, or NULL */
	char *dialogue;       /* spoken lines joined by '\n'; parentheticals and lyrics markers excluded */
	char *parentheticals; /* parentheticals of this cue joined by '\n', or NULL */
	int line;             /* 1-based line of the cue */
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
	char *int_ext;        /* "INT", "EXT", "INT/EXT", "EST" as written in the prefix (normalised upper case), or NULL */
	char *location;       /* heading minus prefix and minus a trailing " - TIME" part; "" when none */
	char *time;           /* the part after the last " - " of the heading, or NULL */
	int line;             /* 1-based line of the heading (implicit scene: line of the first element) */
	bool implicit;        /* no heading: the whole script as one scene */
	char *text;           /* the scene's full text, heading line included, boneyard removed, LF line ends,
	                         from its heading up to the next heading, trailing blank lines dropped */
	size_t text_len;
	char *action;         /* the action paragraphs only (incl. forced !, centered), joined with "\n\n", or "" */
	char **characters;    /* names who speak here, first-cue order, unique */
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
	char *title;          /* the Title field with emphasis markers removed, or NULL */
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
	bool implicit_scene;  /* the script had no heading: one implicit scene */
	int nlines;
};

/* Why a parse failed: message names what is wrong; offset and line say where (line 1-based, 0 if unknown). */
struct fountain_error {
	size_t offset;
	int line;
	char message[256];
};

/* Parses len bytes of UTF-8 (BOM, LF/CRLF/mixed, no final newline allowed); 0 and *out on success, -1 and *err on bad input. */
int fountain_parse(const char *data, size_t len, struct fountain_script **out, struct fountain_error *err);

/* Reads and parses the file at path; -1 with err->message naming the path on I/O or input error. */
int fountain_parse_file(const char *path, struct fountain_script **out, struct fountain_error *err);

/* Frees a script from fountain_parse; NULL is fine. */
void fountain_free(struct fountain_script *script);

/* Returns the parse as the JSON of `scriptbuild -t parse` (caller deletes it). */
struct cJSON *fountain_to_json(const struct fountain_script *script);

/* Finds a character by canonical name; NULL when it never speaks. */
const struct fountain_character *fountain_find_character(const struct fountain_script *script, const char *name);

#endif
