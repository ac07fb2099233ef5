/* breakdown.h - the production breakdown of a parsed script: the parts of a heading, printed length in eighths of a
 * page, the cast of each scene and the facts of each character. Internal to fountain*.c.
 *
 * The print profile is afterwriting's "usletter" (Courier 12 on US Letter): 55 lines a page, headings, action and
 * transitions 61 characters wide, cues 33, parentheticals 26, dialogue 36. README "Page length" states the rule. */
#ifndef SB_BREAKDOWN_H
#define SB_BREAKDOWN_H

#include <stdbool.h>
#include <stddef.h>

#include "fountain.h"

#define PRINT_LINES_PER_PAGE 55
#define PRINT_WIDTH_HEADING 61
#define PRINT_WIDTH_ACTION 61
#define PRINT_WIDTH_TRANSITION 61
#define PRINT_WIDTH_CUE 33
#define PRINT_WIDTH_PARENTHETICAL 26
#define PRINT_WIDTH_DIALOGUE 36

/* A crowd scene (more cast than this) says nothing about who shares scenes with whom, and would cost the square of
 * its cast: co-presence counts only scenes up to this size. */
#define BREAKDOWN_CROWD 100

/* Most co-presence entries kept per character (the ones sharing the most scenes). */
#define BREAKDOWN_TOGETHER_MAX 50

/* The parts of a heading after its INT/EXT prefix, pointing into the caller's buffers. */
struct heading_parts {
	const char *location, *time, *note;
	size_t nlocation, ntime, nnote;
};

/* Lines s[0..n) takes when word-wrapped at width characters (UTF-8 code points): at least 1. */
int breakdown_wrapped_lines(const char *s, size_t n, int width);

/* Cuts rest ("SAN FRANCISCO APARTMENT, DAY", "FARM (1955) - NIGHT") into location, time as written (after the last
 * " - ", " -- " or ", "; after a comma, or in a heading without an INT/EXT prefix, only when it names a known time)
 * and the parenthesised notes ("1955"); work and notes each hold n + 1 bytes, and out points into them. */
void breakdown_split_heading(const char *rest, size_t n, bool prefixed, char *work, char *notes,
                             struct heading_parts *out);

/* The time of day time[0..n) names; FOUNTAIN_TIME_NONE when n is 0, FOUNTAIN_TIME_OTHER when it names none known. */
enum fountain_time breakdown_time_of_day(const char *time, size_t n);

/* Where breakdown_script puts what it makes: memory that lives as long as the script. */
struct breakdown_arena {
	void *ctx;
	void *(*alloc)(void *ctx, size_t n);  /* aligned for any type; NULL when out of memory */
};

/* Fills the breakdown facts of every scene (cast, eighths, word counts) and character (share, mentions,
 * co-presence) and script->eighths, from the parse (printed_lines already set); 0, or -1 when out of memory. */
int breakdown_script(struct fountain_script *script, const struct breakdown_arena *arena);

#endif
