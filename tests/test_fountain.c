/* test_fountain.c - the parser's tricky rules, one small script each, asserting on the parsed fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "fountain.h"
#include "sbtest.h"

static struct fountain_script *parse_n(const char *text, size_t len)
{
	struct fountain_script *s = NULL;
	struct fountain_error err;
	if (fountain_parse(text, len, &s, &err) < 0)
		fail_msg("parse failed: %s", err.message);
	return s;
}

static struct fountain_script *parse(const char *text)
{
	return parse_n(text, strlen(text));
}

/* Parses text expecting failure; returns the error. */
static struct fountain_error parse_error_n(const char *text, size_t len)
{
	struct fountain_script *s = NULL;
	struct fountain_error err;
	assert_int_equal(fountain_parse(text, len, &s, &err), -1);
	assert_null(s);
	return err;
}

/* The scene at 1-based position pos in scenes[] (its index is pos, or pos - 1 after text before the first heading). */
static const struct fountain_scene *scene(const struct fountain_script *s, size_t pos)
{
	assert_true(pos >= 1 && pos <= s->nscenes);
	return &s->scenes[pos - 1];
}

/* The cue's extensions joined by "|", or "" for none (static buffer). */
static const char *extensions(const struct fountain_cue *c)
{
	static char out[256];
	out[0] = '\0';
	for (size_t i = 0; i < c->nextensions; i++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? "|" : "", c->extensions[i]);
	return out;
}

static const struct fountain_cue *cue(const struct fountain_script *s, size_t index, size_t n)
{
	const struct fountain_scene *sc = scene(s, index);
	assert_true(n < sc->ncues);
	return &sc->cues[n];
}

/* ---- scene headings ---- */

static void test_heading_prefixes(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nEXT. B - DAY\n\nEST. C - DAY\n\nINT./EXT. D - DAY\n\n"
	                                  "I/E. E - DAY\n\nI./E. F - DAY\n\nINT/EXT G\n");
	assert_int_equal(s->nscenes, 7);
	const char *expected[] = {"INT", "EXT", "EST", "INT/EXT", "I/E", "I/E", "INT/EXT"};
	for (size_t i = 0; i < 7; i++)
		assert_string_equal(scene(s, i + 1)->int_ext, expected[i]);
	assert_false(s->implicit_scene);
	fountain_free(s);
}

static void test_heading_any_case(void **state)
{
	(void)state;
	struct fountain_script *s = parse("int. kitchen - night\n\nStew.\n");
	assert_int_equal(s->nscenes, 1);
	assert_string_equal(scene(s, 1)->heading, "int. kitchen - night");
	assert_string_equal(scene(s, 1)->int_ext, "INT");
	assert_string_equal(scene(s, 1)->location, "kitchen");
	assert_string_equal(scene(s, 1)->time, "night");
	fountain_free(s);
}

static void test_heading_prefix_needs_dot_or_space(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT GARAGE\n\nINTERIOR MOTIVES\n\nESTABLISHING\n\nI. Me. Myself.\n");
	assert_int_equal(s->nscenes, 1);
	assert_string_equal(scene(s, 1)->heading, "INT GARAGE");
	assert_string_equal(scene(s, 1)->action, "INTERIOR MOTIVES\n\nESTABLISHING\n\nI. Me. Myself.");
	fountain_free(s);
}

static void test_heading_needs_blank_line_before(void **state)
{
	(void)state;
	struct fountain_script *s = parse("Some action.\nINT. HOUSE - DAY\n\nMore.\n");
	assert_true(s->implicit_scene);
	assert_int_equal(s->nscenes, 1);
	fountain_free(s);
}

static void test_heading_needs_blank_line_after(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. HOUSE - DAY\nStraight into action.\n");
	assert_true(s->implicit_scene);
	assert_string_equal(scene(s, 1)->action, "INT. HOUSE - DAY\nStraight into action.");
	fountain_free(s);
}

static void test_heading_file_edges_count_as_blank(void **state)
{
	(void)state;
	struct fountain_script *s = parse("EXT. FIELD - DAY");
	assert_int_equal(s->nscenes, 1);
	assert_false(s->implicit_scene);
	assert_string_equal(scene(s, 1)->heading, "EXT. FIELD - DAY");
	assert_int_equal(scene(s, 1)->line, 1);
	fountain_free(s);
}

static void test_forced_heading(void **state)
{
	(void)state;
	struct fountain_script *s = parse(".THE ATTIC\n\nDust.\n\n..not forced\n\n...nor this\n");
	assert_int_equal(s->nscenes, 1);
	assert_string_equal(scene(s, 1)->heading, "THE ATTIC");
	assert_null(scene(s, 1)->int_ext);
	assert_string_equal(scene(s, 1)->location, "THE ATTIC");
	assert_string_equal(scene(s, 1)->action, "Dust.\n\n..not forced\n\n...nor this");
	fountain_free(s);
}

static void test_scene_number(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. BAKERY - NIGHT #1A#\n\nFlour.\n");
	assert_string_equal(scene(s, 1)->number, "1A");
	assert_string_equal(scene(s, 1)->heading, "INT. BAKERY - NIGHT");
	assert_string_equal(scene(s, 1)->time, "NIGHT");
	assert_string_equal(scene(s, 1)->text, "INT. BAKERY - NIGHT\n\nFlour.");
	fountain_free(s);
}

static void test_scene_number_last_pair_counts(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. VAN - NIGHT #3# #3B#\n\nGo.\n");
	assert_string_equal(scene(s, 1)->number, "3B");
	assert_string_equal(scene(s, 1)->heading, "INT. VAN - NIGHT");
	fountain_free(s);
}

static void test_scene_number_with_space_is_text(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. HALL - DAY #not one#\n\nGo.\n");
	assert_null(scene(s, 1)->number);
	assert_string_equal(scene(s, 1)->heading, "INT. HALL - DAY #not one#");
	fountain_free(s);
}

static void test_location_and_time_split_at_last_dash(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. HOUSE - KITCHEN - NIGHT\n\nA.\n\nINT HOUSE DAY\n\nB.\n\nEXT - PIER - DAWN\n");
	assert_string_equal(scene(s, 1)->location, "HOUSE - KITCHEN");
	assert_string_equal(scene(s, 1)->time, "NIGHT");
	/* No separator, but a last word that is a time: split there (it was "HOUSE DAY" and no time before). */
	assert_string_equal(scene(s, 2)->location, "HOUSE");
	assert_string_equal(scene(s, 2)->time, "DAY");
	assert_string_equal(scene(s, 3)->location, "PIER");
	assert_string_equal(scene(s, 3)->time, "DAWN");
	fountain_free(s);
}

/* ---- cues and dialogue ---- */

static void test_cue_extensions(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. BOOTH - NIGHT\n\nODETTE (cont'd)\nOne.\n\nODETTE (V.O.)(CONT'D)\nTwo.\n\n"
	                                  "CALLER (O.S., PRELAP)\nThree.\n\nCALLER(O.S.)\nFour.\n");
	assert_string_equal(cue(s, 1, 0)->name, "ODETTE");
	assert_string_equal(extensions(cue(s, 1, 0)), "cont'd");
	assert_string_equal(extensions(cue(s, 1, 1)), "V.O.|CONT'D");
	assert_string_equal(cue(s, 1, 2)->name, "CALLER");
	assert_string_equal(extensions(cue(s, 1, 2)), "O.S.|PRELAP");
	assert_string_equal(cue(s, 1, 3)->name, "CALLER");
	assert_string_equal(extensions(cue(s, 1, 3)), "O.S.");
	assert_int_equal(s->ncharacters, 2);
	fountain_free(s);
}

static void test_cue_without_extension_has_null(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nBOB\nHi.\n");
	assert_null(cue(s, 1, 0)->extensions);
	assert_int_equal(cue(s, 1, 0)->nextensions, 0);
	assert_null(cue(s, 1, 0)->parentheticals);
	assert_int_equal(cue(s, 1, 0)->line, 3);
	fountain_free(s);
}

static void test_forced_cue_keeps_case(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\n@McCLANE\nYippee.\n\n@the umpire (quietly)\nLet.\n");
	assert_string_equal(cue(s, 1, 0)->name, "McCLANE");
	assert_string_equal(cue(s, 1, 1)->name, "the umpire");
	assert_string_equal(extensions(cue(s, 1, 1)), "quietly");
	fountain_free(s);
}

static void test_lower_case_name_is_not_a_cue(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nMcCLANE\nYippee.\n");
	assert_int_equal(scene(s, 1)->ncues, 0);
	assert_string_equal(scene(s, 1)->action, "McCLANE\nYippee.");
	fountain_free(s);
}

static void test_dual_dialogue(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nBRICK\nScrew it.\n\nSTEEL ^\nScrew it.\n\n@McBain (V.O.) ^\nHa.\n");
	assert_false(cue(s, 1, 0)->dual);
	assert_true(cue(s, 1, 1)->dual);
	assert_string_equal(cue(s, 1, 1)->name, "STEEL");
	assert_true(cue(s, 1, 2)->dual);
	assert_string_equal(cue(s, 1, 2)->name, "McBain");
	assert_string_equal(extensions(cue(s, 1, 2)), "V.O.");
	fountain_free(s);
}

static void test_indented_cue(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\n\t\tJACK\n\t(in Vietnamese)\n\tDid you know?\n");
	assert_string_equal(cue(s, 1, 0)->name, "JACK");
	assert_string_equal(cue(s, 1, 0)->parentheticals, "(in Vietnamese)");
	assert_string_equal(cue(s, 1, 0)->dialogue, "Did you know?");
	fountain_free(s);
}

static void test_nbsp_trimmed_from_cue(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nTOMAS\xC2\xA0\nHi.\n\n\xC2\xA0TOMAS (CONT'D)\xC2\xA0\nAgain.\n\n"
	                                  "MARY\xC2\xA0 JANE\nHello.\n");
	assert_string_equal(cue(s, 1, 0)->name, "TOMAS");
	assert_string_equal(cue(s, 1, 1)->name, "TOMAS");
	assert_string_equal(cue(s, 1, 2)->name, "MARY JANE");
	assert_int_equal(s->ncharacters, 2);
	fountain_free(s);
}

static void test_non_ascii_cues(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\n\xC3\x89LODIE\nBonjour.\n\n\xC5\x81UKASZ\nCze\xC5\x9B\xC4\x87.\n\n"
	                                  "\xD0\x9E\xD0\x9B\xD0\xAC\xD0\x93\xD0\x90\n\xD0\x94\xD0\xB0.\n\n"
	                                  "\xC3\x89lodie\nnot a cue.\n\n\xC5\xA1IMON\nnor this.\n");
	assert_int_equal(scene(s, 1)->ncues, 3);
	assert_string_equal(cue(s, 1, 0)->name, "\xC3\x89LODIE");
	assert_string_equal(cue(s, 1, 1)->name, "\xC5\x81UKASZ");
	assert_string_equal(cue(s, 1, 2)->name, "\xD0\x9E\xD0\x9B\xD0\xAC\xD0\x93\xD0\x90");
	fountain_free(s);
}

static void test_cue_needs_a_letter(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\n23 (O.S.)\nNumbers only.\n");
	assert_int_equal(scene(s, 1)->ncues, 0);
	fountain_free(s);
}

static void test_cue_needs_blank_line_before(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nThe door opens.\nBOB\nHello.\n");
	assert_int_equal(scene(s, 1)->ncues, 0);
	fountain_free(s);
}

static void test_cue_needs_text_after(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nBOB\n\nHello.\n\nSUE\n  \nHi.\n");
	assert_int_equal(scene(s, 1)->ncues, 0);
	assert_int_equal(s->ncharacters, 0);
	fountain_free(s);
}

static void test_sloppy_heading_or_transition_is_not_a_cue(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nINT. B - DAY\nShe enters.\n\nCUT TO:\nHe leaves.\n");
	assert_int_equal(scene(s, 1)->ncues, 0);
	assert_int_equal(s->nscenes, 1);
	fountain_free(s);
}

static void test_parentheticals_are_not_dialogue(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nADAM\n(nervous)\nScreenwriting is hard.\n(beat)\nVery.\n");
	const struct fountain_cue *c = cue(s, 1, 0);
	assert_string_equal(c->dialogue, "Screenwriting is hard.\nVery.");
	assert_string_equal(c->parentheticals, "(nervous)\n(beat)");
	assert_int_equal(c->words, 4);
	fountain_free(s);
}

static void test_two_spaces_continue_dialogue(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nDEALER\nTen.\n  \nFour.\n\nA card falls.\n");
	assert_string_equal(cue(s, 1, 0)->dialogue, "Ten.\nFour.");
	assert_string_equal(scene(s, 1)->action, "A card falls.");
	fountain_free(s);
}

static void test_other_white_space_line_ends_dialogue(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nDEALER\nTen.\n   \nFour.\n");
	assert_string_equal(cue(s, 1, 0)->dialogue, "Ten.");
	assert_string_equal(scene(s, 1)->action, "Four.");
	fountain_free(s);
}

static void test_lyrics_in_dialogue_lose_marker(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nSINGER\n~Round and round\n~we go\n");
	assert_string_equal(cue(s, 1, 0)->dialogue, "Round and round\nwe go");
	assert_int_equal(cue(s, 1, 0)->words, 5);
	fountain_free(s);
}

static void test_characters_and_counts(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nBOB\nOne two.\n\nSUE\nThree.\n\nBOB (V.O.)\nFour five six.\n\n"
	                                  "EXT. B - DAY\n\nSUE\nSeven.\n\nINT. C - DAY\n\nBOB\nEight.\n");
	assert_int_equal(s->ncharacters, 2);
	assert_string_equal(s->characters[0].name, "BOB");
	assert_int_equal(s->characters[0].cues, 3);
	assert_int_equal(s->characters[0].words, 6);
	assert_int_equal(s->characters[0].nscenes, 2);
	assert_int_equal(s->characters[0].scenes[0], 1);
	assert_int_equal(s->characters[0].scenes[1], 3);
	assert_int_equal(scene(s, 1)->ncharacters, 2);
	assert_string_equal(scene(s, 1)->characters[0], "BOB");
	assert_string_equal(scene(s, 1)->characters[1], "SUE");
	assert_int_equal(s->characters[1].nscenes, 2);
	fountain_free(s);
}

static void test_find_character(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nZED\nA.\n\nAMY\nB.\n\nMAX\nC.\n");
	assert_string_equal(fountain_find_character(s, "MAX")->name, "MAX");
	assert_string_equal(fountain_find_character(s, "AMY")->name, "AMY");
	assert_string_equal(fountain_find_character(s, "ZED")->name, "ZED");
	assert_null(fountain_find_character(s, "BOB"));
	size_t *index = s->by_name;
	s->by_name = NULL;  /* a script built by hand has no index: the search must still work */
	assert_ptr_equal(fountain_find_character(s, "MAX"), &s->characters[2]);
	assert_null(fountain_find_character(s, "BOB"));
	s->by_name = index;
	fountain_free(s);
}

/* ---- boneyard and notes ---- */

static void test_boneyard_hides_heading_and_cue(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nShown.\n\n/*\nINT. HIDDEN - DAY\n\nGHOST\nBoo.\n*/\n\n"
	                                  "EXT. B - DAY\n\nAlso shown.\n");
	assert_int_equal(s->nscenes, 2);
	assert_string_equal(scene(s, 2)->heading, "EXT. B - DAY");
	assert_int_equal(scene(s, 2)->line, 12);
	assert_int_equal(s->ncharacters, 0);
	assert_string_equal(scene(s, 1)->text, "INT. A - DAY\n\nShown.");
	fountain_free(s);
}

static void test_boneyard_line_between_cue_and_dialogue(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nNADIA\n/* (whispering) */\nIt's moving /* fast */ west.\n");
	assert_int_equal(cue(s, 1, 0)->line, 3);
	assert_string_equal(cue(s, 1, 0)->dialogue, "It's moving  west.");
	fountain_free(s);
}

static void test_unclosed_boneyard_names_its_line(void **state)
{
	(void)state;
	const char *text = "INT. A - DAY\n\nSomething /* never closed\n\nEXT. B\n";
	struct fountain_error err = parse_error_n(text, strlen(text));
	assert_int_equal(err.line, 3);
	assert_int_equal(err.offset, 24);
	assert_non_null(strstr(err.message, "line 3"));
	assert_non_null(strstr(err.message, "boneyard"));
}

static void test_note_spanning_lines_is_removed(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nHum. [[louder?]]\n\n[[a note\nover two lines]]\n\nFELIX\n"
	                                  "[[tired]]\nSpin.\n");
	assert_string_equal(scene(s, 1)->action, "Hum.");
	assert_string_equal(cue(s, 1, 0)->dialogue, "Spin.");
	assert_int_equal(cue(s, 1, 0)->line, 8);
	assert_null(strstr(scene(s, 1)->text, "[["));
	fountain_free(s);
}

static void test_note_does_not_cross_blank_line(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nOpen [[ here\n\nstill text ]] there.\n");
	assert_string_equal(scene(s, 1)->action, "Open [[ here\n\nstill text ]] there.");
	fountain_free(s);
}

static void test_note_with_two_space_line(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nBefore.[[one\n  \ntwo]]\n\nAfter.\n");
	assert_string_equal(scene(s, 1)->action, "Before.\n\nAfter.");
	fountain_free(s);
}

/* ---- structure and other elements ---- */

static void test_sections(void **state)
{
	(void)state;
	struct fountain_script *s = parse("# ACT ONE\n\n## Arrival\n\nINT. A - DAY\n\nGo.\n\n# ACT TWO\n\nINT. B - DAY\n\n"
	                                  "Go.\n\n### Coda\n");
	assert_int_equal(s->nsections, 4);
	assert_int_equal(s->sections[0].depth, 1);
	assert_string_equal(s->sections[0].title, "ACT ONE");
	assert_int_equal(s->sections[0].next_scene, 1);
	assert_int_equal(s->sections[1].depth, 2);
	assert_int_equal(s->sections[1].line, 3);
	assert_int_equal(s->sections[2].next_scene, 2);
	assert_int_equal(s->sections[3].depth, 3);
	assert_int_equal(s->sections[3].next_scene, 3);
	assert_string_equal(scene(s, 1)->text, "INT. A - DAY\n\nGo.");
	fountain_free(s);
}

static void test_synopses(void **state)
{
	(void)state;
	struct fountain_script *s = parse("= Before anything.\n\nINT. A - DAY\n\n= In scene one.\n\nGo.\n");
	assert_int_equal(s->nsynopses, 2);
	assert_string_equal(s->synopses[0].text, "Before anything.");
	assert_int_equal(s->synopses[0].scene, 0);
	assert_int_equal(s->synopses[0].next_scene, 1);
	assert_int_equal(s->synopses[1].scene, 1);
	assert_int_equal(s->synopses[1].next_scene, 2);
	assert_int_equal(s->synopses[1].line, 5);
	assert_string_equal(scene(s, 1)->text, "INT. A - DAY\n\nGo.");
	fountain_free(s);
}

static void test_page_break(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nOne.\n\n===\n\nTwo.\n");
	assert_string_equal(scene(s, 1)->action, "One.\n\nTwo.");
	assert_string_equal(scene(s, 1)->text, "INT. A - DAY\n\nOne.\n\nTwo.");
	assert_int_equal(s->nsynopses, 0);
	fountain_free(s);
}

static void test_centered_and_forced_action(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\n> THE END <\n\n!BOB\nwalks in.\n");
	assert_string_equal(scene(s, 1)->action, "THE END\n\nBOB\nwalks in.");
	assert_int_equal(scene(s, 1)->ncues, 0);
	fountain_free(s);
}

static void test_transitions_are_not_action(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\n\nGo.\n\nSMASH CUT TO:\n\n> FADE TO BLACK.\n\nFADE OUT.\n");
	assert_string_equal(scene(s, 1)->action, "Go.");
	assert_string_equal(scene(s, 1)->text, "INT. A - DAY\n\nGo.\n\nSMASH CUT TO:\n\n> FADE TO BLACK.\n\nFADE OUT.");
	fountain_free(s);
}

static void test_title_page(void **state)
{
	(void)state;
	struct fountain_script *s = parse("Title:\n\t_**THE LONG**_\n    **TIDE**\nAuthor: Ines\nContact:\n\t12 Quay\n"
	                                  "\tHarbourtown\n\nINT. A - DAY\n\nGo.\n");
	assert_int_equal(s->ntitle_page, 3);
	assert_string_equal(s->title_page[0].key, "Title");
	assert_string_equal(s->title_page[0].value, "_**THE LONG**_\n**TIDE**");
	assert_string_equal(s->title, "THE LONG TIDE");
	assert_string_equal(s->title_page[2].value, "12 Quay\nHarbourtown");
	assert_int_equal(scene(s, 1)->line, 9);
	fountain_free(s);
}

static void test_fade_in_is_not_a_title_page(void **state)
{
	(void)state;
	struct fountain_script *s = parse("FADE IN:\n\nEXT. MEADOW - DAY\n\nWind.\n");
	assert_int_equal(s->ntitle_page, 0);
	assert_null(s->title);
	assert_int_equal(s->nscenes, 1);
	assert_string_equal(scene(s, 1)->heading, "EXT. MEADOW - DAY");
	fountain_free(s);
}

/* ---- input forms ---- */

static void test_crlf_equals_lf(void **state)
{
	(void)state;
	struct fountain_script *a = parse("INT. A - DAY\n\nBOB\nHi.\n\nEXT. B - DAY\n\nGone.\n");
	struct fountain_script *b = parse("INT. A - DAY\r\n\r\nBOB\r\nHi.\r\n\r\nEXT. B - DAY\r\n\r\nGone.\r\n");
	cJSON *ja = fountain_to_json(a), *jb = fountain_to_json(b);
	assert_true(cJSON_Compare(ja, jb, 1));
	assert_int_equal(scene(b, 2)->line, 6);
	assert_null(strchr(scene(b, 1)->text, '\r'));
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	fountain_free(a);
	fountain_free(b);
}

static void test_mixed_line_ends_and_lone_cr(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - DAY\r\n\nToast.\r\rMILO\nWho?\r\n\r\nEXT. B - DAY\r\rSmoke.");
	assert_int_equal(s->nlines, 10);
	assert_int_equal(cue(s, 1, 0)->line, 5);
	assert_int_equal(scene(s, 2)->line, 8);
	assert_string_equal(scene(s, 2)->action, "Smoke.");
	fountain_free(s);
}

static void test_bom_is_skipped(void **state)
{
	(void)state;
	struct fountain_script *s = parse("\xEF\xBB\xBFTitle: Ferry\n\nINT. DECK - NIGHT\n\nSpray.\n");
	assert_string_equal(s->title, "Ferry");
	assert_string_equal(s->title_page[0].key, "Title");
	assert_int_equal(scene(s, 1)->line, 3);
	fountain_free(s);
}

static void test_no_final_newline(void **state)
{
	(void)state;
	struct fountain_script *a = parse("INT. A - DAY\n\nBOB\nHi.");
	struct fountain_script *b = parse("INT. A - DAY\n\nBOB\nHi.\n");
	assert_string_equal(cue(a, 1, 0)->dialogue, "Hi.");
	assert_int_equal(a->nlines, 4);
	assert_int_equal(b->nlines, 4);
	assert_string_equal(scene(a, 1)->text, scene(b, 1)->text);
	fountain_free(a);
	fountain_free(b);
}

static void test_no_heading_is_one_implicit_scene(void **state)
{
	(void)state;
	struct fountain_script *s = parse("The stage is bare.\n\nSPEAKER\nNo heading here.\n");
	assert_true(s->implicit_scene);
	assert_int_equal(s->nscenes, 1);
	assert_true(scene(s, 1)->implicit);
	assert_int_equal(scene(s, 1)->index, 0);  /* all of it comes before a first heading: scene 0 */
	assert_string_equal(scene(s, 1)->heading, "");
	assert_int_equal(scene(s, 1)->line, 1);
	assert_string_equal(cue(s, 1, 0)->name, "SPEAKER");
	fountain_free(s);
}

static void test_text_before_first_heading_is_a_scene(void **state)
{
	(void)state;
	struct fountain_script *s = parse("FADE IN:\n\nA match strikes.\n\nNARRATOR (V.O.)\nFire.\n\nEXT. MILL - NIGHT\n\n"
	                                  "Flames.\n");
	assert_false(s->implicit_scene);
	assert_int_equal(s->nscenes, 2);
	assert_true(scene(s, 1)->implicit);
	assert_int_equal(scene(s, 1)->index, 0);
	assert_int_equal(scene(s, 1)->line, 3);
	assert_string_equal(scene(s, 1)->text, "A match strikes.\n\nNARRATOR (V.O.)\nFire.");
	assert_false(scene(s, 2)->implicit);
	assert_int_equal(scene(s, 2)->index, 1);  /* the first heading is scene 1, as screenwriting programs count */
	fountain_free(s);
}

/* Nothing to analyse is an error, not an empty scene that would cost a request. */
static void test_title_page_only_is_an_error(void **state)
{
	(void)state;
	static const char *const texts[] = {
		"Title: Nothing Yet\nAuthor: Someone\n",
		"Title: Nothing Yet\n\n# ACT ONE\n\n= Someday.\n\n[[a note]]\n\n/* cut */\n",
		"\n\n   \n",
	};
	for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
		struct fountain_error err = parse_error_n(texts[i], strlen(texts[i]));
		assert_non_null(strstr(err.message, "the script has no scene"));
	}
}

/* Scene N is the Nth heading with or without text before it; #1A# numbers find their scene. */
static void test_numbering_and_lookup(void **state)
{
	(void)state;
	struct fountain_script *a = parse("INT. A - DAY #1#\n\nGo.\n\nINT. B - DAY #1A#\n\nGo.\n\nINT. C - DAY\n\nGo.\n");
	struct fountain_script *b = parse("Cold open.\n\nINT. A - DAY #1#\n\nGo.\n\nINT. B - DAY #1A#\n\nGo.\n\n"
	                                  "INT. C - DAY\n\nGo.\n");
	assert_int_equal(a->nscenes, 3);
	assert_int_equal(b->nscenes, 4);
	for (size_t n = 1; n <= 3; n++) {
		assert_int_equal(fountain_scene_by_index(a, n)->index, n);
		assert_string_equal(fountain_scene_by_index(a, n)->heading, fountain_scene_by_index(b, n)->heading);
	}
	assert_null(fountain_scene_by_index(a, 0));
	assert_null(fountain_scene_by_index(a, 4));
	assert_true(fountain_scene_by_index(b, 0)->implicit);
	assert_null(fountain_scene_by_index(b, 4));
	assert_string_equal(fountain_scene_by_number(b, "1A")->heading, "INT. B - DAY");
	assert_int_equal(fountain_scene_by_number(b, "1A")->index, 2);
	assert_null(fountain_scene_by_number(b, "2"));
	fountain_free(a);
	fountain_free(b);
}

/* The eighths rule on scenes of known printed length (fixtures/parse/breakdown_eighths.fountain counts them by
 * hand): a heading and a line of action is 4 lines, 1/8 by the minimum; 28 lines is 4/8; 55 lines is a page. */
static void test_eighths_by_hand(void **state)
{
	(void)state;
	struct fountain_script *s = parse("INT. A - NIGHT\n\nDark.\n");
	assert_int_equal(scene(s, 1)->printed_lines, 4);
	assert_int_equal(scene(s, 1)->eighths, 1);
	assert_int_equal(s->eighths, 1);
	fountain_free(s);
	/* Dual dialogue prints beside the cue before it: 2 + (1+1+2) + max(0, 3 - 3) = 6 lines. */
	s = parse("INT. A - DAY\n\nBRICK\nOne.\nTwo.\n\nSTEEL ^\nThree.\nFour.\n");
	assert_int_equal(scene(s, 1)->printed_lines, 6);
	fountain_free(s);
	/* A 61-character line is one printed line, 62 characters with a space wrap to two. */
	char line61[62], text[200];
	memset(line61, 'x', 61);
	line61[61] = '\0';
	snprintf(text, sizeof text, "INT. A - DAY\n\n%s\n", line61);
	s = parse(text);
	assert_int_equal(scene(s, 1)->printed_lines, 4);
	fountain_free(s);
	snprintf(text, sizeof text, "INT. A - DAY\n\nx %s\n", line61);
	s = parse(text);
	assert_int_equal(scene(s, 1)->printed_lines, 5);
	fountain_free(s);
	/* Many tiny scenes: at least 1/8 each, and still summing to the page count. */
	char many[4000] = "";
	for (int i = 0; i < 40; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "INT. ROOM %d - DAY\n\nGo.\n\n", i);
	s = parse(many);
	int sum = 0;
	for (size_t i = 0; i < s->nscenes; i++) {
		assert_true(s->scenes[i].eighths >= 1);
		sum += s->scenes[i].eighths;
	}
	assert_int_equal(sum, s->eighths);
	assert_int_equal(s->eighths, 40);
	fountain_free(s);
}

static void test_only_transition_before_heading_makes_no_scene(void **state)
{
	(void)state;
	struct fountain_script *s = parse("# ONE\n\nFADE IN:\n\nINT. A - DAY\n\nGo.\n");
	assert_int_equal(s->nscenes, 1);
	assert_false(scene(s, 1)->implicit);
	fountain_free(s);
}

static void test_scene_text_depends_only_on_the_scene(void **state)
{
	(void)state;
	struct fountain_script *a = parse("# ACT\n\nINT. A - DAY #4#\n\nText  \n\n\n\nBOB\nHi.\n\n= later\n\n"
	                                  "INT. B - DAY\n");
	struct fountain_script *b = parse("Title: Other\n\nEXT. Z - DAY\n\nZ.\n\nINT. A - DAY #12#\n\nText\n\nBOB\nHi.\n\n"
	                                  "===\n\n");
	assert_string_equal(scene(a, 1)->text, "INT. A - DAY\n\nText\n\nBOB\nHi.");
	assert_string_equal(scene(b, 2)->text, scene(a, 1)->text);
	assert_int_equal(scene(b, 2)->text_len, scene(a, 1)->text_len);
	fountain_free(a);
	fountain_free(b);
}

static void test_long_line(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	char *text = malloc(n + 32);
	assert_non_null(text);
	memcpy(text, "INT. A - DAY\n\n", 14);
	memset(text + 14, 'a', n);
	memcpy(text + 14 + n, "\n", 2);
	struct fountain_script *s = parse(text);
	assert_int_equal(strlen(scene(s, 1)->action), n);
	fountain_free(s);
	free(text);
}

/* ---- errors ---- */

static void test_empty_file_is_an_error(void **state)
{
	(void)state;
	struct fountain_error err = parse_error_n("", 0);
	assert_non_null(strstr(err.message, "empty"));
	err = parse_error_n("\xEF\xBB\xBF", 3);
	assert_non_null(strstr(err.message, "empty"));
}

static void test_utf16_is_refused(void **state)
{
	(void)state;
	struct fountain_error err = parse_error_n("\xFF\xFEI\0N\0T\0", 8);
	assert_non_null(strstr(err.message, "UTF-16"));
	err = parse_error_n("\xFE\xFF\0I\0N", 6);
	assert_non_null(strstr(err.message, "convert"));
}

static void test_invalid_utf8_names_byte_and_line(void **state)
{
	(void)state;
	struct fountain_error err = parse_error_n("INT. A\n\nCaf\xE9 au lait.\n", 22);
	assert_int_equal(err.offset, 11);
	assert_int_equal(err.line, 3);
	assert_string_equal(err.message, "invalid UTF-8 at byte 11 (line 3): save the script as UTF-8");
	err = parse_error_n("ok\r\n\xC0\xAF", 6);  /* overlong '/' */
	assert_int_equal(err.offset, 4);
	assert_int_equal(err.line, 2);
	err = parse_error_n("\xED\xA0\x80", 3);  /* a UTF-16 surrogate */
	assert_int_equal(err.offset, 0);
	err = parse_error_n("ab\xE2\x82", 4);  /* truncated at the end */
	assert_int_equal(err.offset, 2);
}

static void test_nul_and_control_bytes_are_refused(void **state)
{
	(void)state;
	struct fountain_error err = parse_error_n("INT. A\n\x00rest", 12);
	assert_int_equal(err.offset, 7);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "NUL"));
	err = parse_error_n("\xEF\xBB\xBFok\x1B[0m", 9);
	assert_int_equal(err.offset, 5);
	assert_non_null(strstr(err.message, "0x1B"));
}

static void test_too_large_is_refused(void **state)
{
	(void)state;
	size_t n = FOUNTAIN_MAX_BYTES + 1;
	char *text = malloc(n);
	assert_non_null(text);
	memset(text, 'a', n);
	struct fountain_error err = parse_error_n(text, n);
	assert_non_null(strstr(err.message, "limit"));
	free(text);
}

/* The script file's errors as scriptbuild reports them: exit 2 and a message naming the path (and the line). */
static void expect_parse_refused(const char *path, const char *want)
{
	char err_path[] = "/tmp/test_fountain_err_XXXXXX";
	int fd = mkstemp(err_path);
	assert_true(fd >= 0);
	close(fd);
	char *argv[] = {(char *)sb(), "-t", "parse", (char *)path, NULL};
	int rc = run_in(NULL, NULL, err_path, argv);
	char *text = slurp(err_path, NULL);
	if (rc != 2 || !text || !strstr(text, path) || !strstr(text, want))
		fail_msg("-t parse %s: exit %d, want 2 and \"%s\":\n%s", path, rc, want, text ? text : "");
	free(text);
	unlink(err_path);
}

static void test_parse_file_errors_name_the_path(void **state)
{
	(void)state;
	expect_parse_refused("/nonexistent/dir/script.fountain", "No such file");
	expect_parse_refused("/", "directory");

	char path[] = "/tmp/test_fountain_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "INT. A\n\n\xFF", 9), 9);
	close(fd);
	expect_parse_refused(path, "invalid UTF-8 at byte 8");
	unlink(path);
}

static void test_json_uses_null_for_absent_values(void **state)
{
	(void)state;
	struct fountain_script *s = parse("= Up front.\n\nINT HALL\n\nBOB\nHi.\n");
	cJSON *j = fountain_to_json(s);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "title")));
	cJSON *sc = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "scenes"), 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(sc, "number")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(sc, "time")));
	assert_string_equal(cJSON_GetObjectItem(sc, "int_ext")->valuestring, "INT");
	cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(sc, "cues"), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(c, "extensions")), 0);
	assert_int_equal(cJSON_GetObjectItem(c, "words")->valueint, 1);
	cJSON *syn = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "synopses"), 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(syn, "scene")));
	assert_int_equal(cJSON_GetObjectItem(syn, "next_scene")->valueint, 1);
	cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "characters"), 0);
	assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(ch, "scenes"), 0)->valueint, 1);
	cJSON_Delete(j);
	fountain_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heading_prefixes),
		cmocka_unit_test(test_heading_any_case),
		cmocka_unit_test(test_heading_prefix_needs_dot_or_space),
		cmocka_unit_test(test_heading_needs_blank_line_before),
		cmocka_unit_test(test_heading_needs_blank_line_after),
		cmocka_unit_test(test_heading_file_edges_count_as_blank),
		cmocka_unit_test(test_forced_heading),
		cmocka_unit_test(test_scene_number),
		cmocka_unit_test(test_scene_number_last_pair_counts),
		cmocka_unit_test(test_scene_number_with_space_is_text),
		cmocka_unit_test(test_location_and_time_split_at_last_dash),
		cmocka_unit_test(test_cue_extensions),
		cmocka_unit_test(test_cue_without_extension_has_null),
		cmocka_unit_test(test_forced_cue_keeps_case),
		cmocka_unit_test(test_lower_case_name_is_not_a_cue),
		cmocka_unit_test(test_dual_dialogue),
		cmocka_unit_test(test_indented_cue),
		cmocka_unit_test(test_nbsp_trimmed_from_cue),
		cmocka_unit_test(test_non_ascii_cues),
		cmocka_unit_test(test_cue_needs_a_letter),
		cmocka_unit_test(test_cue_needs_blank_line_before),
		cmocka_unit_test(test_cue_needs_text_after),
		cmocka_unit_test(test_sloppy_heading_or_transition_is_not_a_cue),
		cmocka_unit_test(test_parentheticals_are_not_dialogue),
		cmocka_unit_test(test_two_spaces_continue_dialogue),
		cmocka_unit_test(test_other_white_space_line_ends_dialogue),
		cmocka_unit_test(test_lyrics_in_dialogue_lose_marker),
		cmocka_unit_test(test_characters_and_counts),
		cmocka_unit_test(test_find_character),
		cmocka_unit_test(test_boneyard_hides_heading_and_cue),
		cmocka_unit_test(test_boneyard_line_between_cue_and_dialogue),
		cmocka_unit_test(test_unclosed_boneyard_names_its_line),
		cmocka_unit_test(test_note_spanning_lines_is_removed),
		cmocka_unit_test(test_note_does_not_cross_blank_line),
		cmocka_unit_test(test_note_with_two_space_line),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_synopses),
		cmocka_unit_test(test_page_break),
		cmocka_unit_test(test_centered_and_forced_action),
		cmocka_unit_test(test_transitions_are_not_action),
		cmocka_unit_test(test_title_page),
		cmocka_unit_test(test_fade_in_is_not_a_title_page),
		cmocka_unit_test(test_crlf_equals_lf),
		cmocka_unit_test(test_mixed_line_ends_and_lone_cr),
		cmocka_unit_test(test_bom_is_skipped),
		cmocka_unit_test(test_no_final_newline),
		cmocka_unit_test(test_no_heading_is_one_implicit_scene),
		cmocka_unit_test(test_title_page_only_is_an_error),
		cmocka_unit_test(test_numbering_and_lookup),
		cmocka_unit_test(test_eighths_by_hand),
		cmocka_unit_test(test_text_before_first_heading_is_a_scene),
		cmocka_unit_test(test_only_transition_before_heading_makes_no_scene),
		cmocka_unit_test(test_scene_text_depends_only_on_the_scene),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_empty_file_is_an_error),
		cmocka_unit_test(test_utf16_is_refused),
		cmocka_unit_test(test_invalid_utf8_names_byte_and_line),
		cmocka_unit_test(test_nul_and_control_bytes_are_refused),
		cmocka_unit_test(test_too_large_is_refused),
		cmocka_unit_test(test_parse_file_errors_name_the_path),
		cmocka_unit_test(test_json_uses_null_for_absent_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
