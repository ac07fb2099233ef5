/* prompts.c - the versioned prompts and output schemas, rendering them from the parser's facts, and checking answers.
 *
 * Any change to a text below changes every action key of its kind: bump its prompt id with it. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fountain.h"
#include "job.h"
#include "prompts.h"
#include "quotes.h"
#include "util.h"
#include "validate.h"

/* Length limits (in characters) of the prose fields: a summary is 2-4 sentences, not a chapter; a model that runs on
 * is corrected, and an over-long text never reaches the cache or the embeddings. */
#define SUMMARY_MAX "1500"
#define PROSE_MAX "4000"
#define FIELD_MAX "600"
#define NAME_MAX_ "160"
#define LINE_MAX_ "1000"

#define SCENE_RANGE                                                                                                   \
	"{\"type\":\"array\",\"description\":\"[first, last] scene numbers as given, first <= last\","                   \
	"\"minItems\":2,\"maxItems\":2,\"items\":{\"type\":\"integer\",\"minimum\":1}}"

static const char summary_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,"
	"\"required\":[\"summary\",\"goal\",\"conflict\",\"outcome\",\"turning_point\",\"mood\",\"story_function\","
	"\"props\"],"
	"\"properties\":{"
	"\"summary\":{\"type\":\"string\",\"maxLength\":" SUMMARY_MAX ","
	"\"description\":\"2 to 4 sentences of prose: what happens in the scene\"},"
	"\"goal\":{\"type\":\"string\",\"maxLength\":" FIELD_MAX ",\"description\":\"what the scene's central character wants in it\"},"
	"\"conflict\":{\"type\":\"string\",\"maxLength\":" FIELD_MAX ",\"description\":\"what stands in the way\"},"
	"\"outcome\":{\"type\":\"string\",\"maxLength\":" FIELD_MAX ",\"description\":\"how the scene ends for that want\"},"
	"\"turning_point\":{\"type\":\"string\",\"maxLength\":" FIELD_MAX ","
	"\"description\":\"the moment the scene turns; empty if it does not\"},"
	"\"mood\":{\"type\":\"string\",\"maxLength\":" NAME_MAX_ ",\"description\":\"the mood in a few words\"},"
	"\"story_function\":{\"type\":\"string\",\"maxLength\":" FIELD_MAX ",\"description\":\"what the scene does for the story\"},"
	"\"props\":{\"type\":\"array\",\"maxItems\":40,\"items\":{\"type\":\"string\",\"maxLength\":" NAME_MAX_ "},"
	"\"description\":\"objects that matter to the action\"}}}";

static const char outline_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,"
	"\"required\":[\"logline\",\"synopsis\",\"acts\"],"
	"\"properties\":{"
	"\"logline\":{\"type\":\"string\",\"maxLength\":" FIELD_MAX ",\"description\":\"the story in one sentence\"},"
	"\"synopsis\":{\"type\":\"string\",\"maxLength\":" PROSE_MAX ",\"description\":\"the story in one or two paragraphs\"},"
	"\"acts\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":20,\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
	"\"required\":[\"title\",\"scenes\",\"sequences\"],"
	"\"properties\":{\"title\":{\"type\":\"string\",\"maxLength\":" NAME_MAX_ "},\"scenes\":" SCENE_RANGE ","
	"\"sequences\":{\"type\":\"array\",\"maxItems\":100,\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
	"\"required\":[\"title\",\"scenes\",\"beats\"],"
	"\"properties\":{\"title\":{\"type\":\"string\",\"maxLength\":" NAME_MAX_ "},\"scenes\":" SCENE_RANGE ","
	"\"beats\":{\"type\":\"array\",\"maxItems\":200,\"items\":{\"type\":\"string\",\"maxLength\":" FIELD_MAX "}}}}}}}}}}";

static const char sheet_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,"
	"\"required\":[\"description\",\"want\",\"need\",\"arc\",\"turning_scenes\",\"relationships\",\"key_lines\"],"
	"\"properties\":{"
	"\"description\":{\"type\":\"string\",\"maxLength\":" SUMMARY_MAX ","
	"\"description\":\"who the character is, in two or three sentences\"},"
	"\"want\":{\"type\":\"string\",\"maxLength\":" FIELD_MAX ",\"description\":\"what the character consciously pursues\"},"
	"\"need\":{\"type\":\"string\",\"maxLength\":" FIELD_MAX ",\"description\":\"what the character actually needs\"},"
	"\"arc\":{\"type\":\"string\",\"maxLength\":" SUMMARY_MAX ",\"description\":\"how the character changes, or fails to\"},"
	"\"turning_scenes\":{\"type\":\"array\",\"maxItems\":20,\"items\":{\"type\":\"integer\",\"minimum\":1},"
	"\"description\":\"numbers of the listed scenes (1 to k as given) where the character turns\"},"
	"\"relationships\":{\"type\":\"array\",\"maxItems\":40,\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
	"\"required\":[\"character\",\"relation\"],"
	"\"properties\":{\"character\":{\"type\":\"string\",\"maxLength\":" NAME_MAX_ "},"
	"\"relation\":{\"type\":\"string\",\"maxLength\":" FIELD_MAX "}}}},"
	"\"key_lines\":{\"type\":\"array\",\"maxItems\":10,\"items\":{\"type\":\"string\",\"maxLength\":" LINE_MAX_ "},"
	"\"description\":\"the character's most telling lines, quoted exactly as given\"}}}";

static const char summary_system[] =
	"You are a script analyst. You read one scene of a screenplay and record its summary by calling the tool.\n"
	"The facts given before the scene (heading, location, time of day, length, cast with their cues and words) "
	"come from a parser and are correct: "
	"use them and never contradict them.\n"
	"Describe only what is on the page. Do not invent events, names or objects the scene does not contain. "
	"Write plain prose, no markdown. When the scene gives no honest answer for a field, leave it empty.";

static const char outline_system[] =
	"You are a story editor. You read the scene-by-scene summaries of a screenplay and record its outline by "
	"calling the tool.\n"
	"Scene numbers are the ones given; every act and sequence names the scenes it spans as [first, last], first "
	"<= last, within the numbers given. Where the author marked sections (#) or wrote synopses (=), follow them.\n"
	"Do not invent events the summaries do not contain. Write plain prose, no markdown.";

static const char sheet_system[] =
	"You are a script analyst. You read every scene a character speaks in, with the character's own lines, and "
	"record a character sheet by calling the tool.\n"
	"The scenes are numbered 1 to k in story order as given: turning_scenes uses those numbers, never any other.\n"
	"key_lines are quoted exactly as the character's lines are written below, word for word. The statistics come "
	"from a parser and are correct. Do not invent events the scenes do not contain. Write plain prose, no markdown.";

/* Only facts of the scene's own text: its number, the characters named elsewhere or its share of the page count
 * would make every summary's key depend on the other scenes. */
static const char summary_template[] =
	"Heading: {heading}\n"
	"Interior/exterior: {int_ext}\n"
	"Location: {location}\n"
	"Time of day: {time}\n"
	"Length: about {length} of a page\n"
	"Speaking characters: {characters}\n"
	"\n"
	"<scene>\n{text}\n</scene>\n"
	"\n"
	"Record the scene: \"summary\" in 2 to 4 sentences of prose; \"goal\" (what its central character wants), "
	"\"conflict\", \"outcome\", \"turning_point\", \"mood\", \"story_function\" (what the scene does for the "
	"story), and \"props\" (objects that matter to the action).";

/* Most stable first, so that a prompt cache (Anthropic's) can serve an unchanged prefix: the fixed introduction, the
 * scenes in story order (an edit in scene k leaves every scene before k byte-identical), then what any edit may
 * change (the page count) and the instruction. */
static const char outline_template[] =
	"The script in order: the author's sections (#) and synopses (=) where they stand, and every scene as "
	"\"Scene i (HEADING; length in pages): summary\".\n"
	"\n"
	"{script}\n"
	"\n"
	"Title: {title}\n"
	"Scenes: {nscenes}\n"
	"Length: {length} pages\n"
	"\n"
	"Record the outline: a one-sentence \"logline\", a \"synopsis\" of one or two paragraphs, and the \"acts\" in "
	"order, each with a \"title\", its \"scenes\" as [first, last] (numbers 1 to {nscenes}, first <= last) and its "
	"\"sequences\", each with a \"title\", \"scenes\" as [first, last] and \"beats\" (short phrases).";

/* Most stable first, as the outline's: the character, its scenes in story order (numbered without their count, which
 * an added scene would change in every entry), then the statistics an edit of a line changes, and the instruction. */
static const char sheet_template[] =
	"Character: {name}\n"
	"\n"
	"The scenes where {name} speaks, numbered in story order:\n"
	"\n"
	"{scenes}\n"
	"\n"
	"Statistics: {cues} cues, {words} words of dialogue, speaks in {count} scenes (numbered 1 to {count} above).\n"
	"\n"
	"Record the sheet: \"description\", \"want\" (the conscious goal), \"need\" (what {name} actually needs), "
	"\"arc\", \"turning_scenes\" (numbers 1 to {count} from the list above), \"relationships\" with the other "
	"characters in these scenes (\"character\" and \"relation\"), and \"key_lines\": up to five of {name}'s lines "
	"quoted exactly as written above.";

struct prompt {
	const char *id, *system, *template_text, *schema_text, *tool, *tool_description;
};

static const struct prompt prompts[STEP_KINDS] = {
	[STEP_SUMMARY] = {"summary/2", summary_system, summary_template, summary_schema, "record_scene_summary",
	                  "Records the structured summary of the scene."},
	[STEP_OUTLINE] = {"outline/3", outline_system, outline_template, outline_schema, "record_outline",
	                  "Records the outline of the whole screenplay: logline, synopsis, acts and sequences."},
	[STEP_SHEET] = {"sheet/3", sheet_system, sheet_template, sheet_schema, "record_character_sheet",
	                "Records the character sheet of one character."},
	[STEP_EMBEDDING] = {"embedding/1", "", "", "", "", ""},
};

static const struct prompt *prompt_of(enum step_kind kind)
{
	return &prompts[(unsigned)kind < STEP_KINDS ? kind : STEP_EMBEDDING];
}

const char *prompt_id(enum step_kind kind)
{
	return prompt_of(kind)->id;
}

const char *prompt_system(enum step_kind kind)
{
	return prompt_of(kind)->system;
}

const char *prompt_template(enum step_kind kind)
{
	return prompt_of(kind)->template_text;
}

const char *prompt_schema_text(enum step_kind kind)
{
	return prompt_of(kind)->schema_text;
}

const char *prompt_tool_name(enum step_kind kind)
{
	return prompt_of(kind)->tool;
}

const char *prompt_tool_description(enum step_kind kind)
{
	return prompt_of(kind)->tool_description;
}

const struct cJSON *prompt_schema(enum step_kind kind)
{
	/* Parsed once and kept for the life of the process, like the static text it comes from. */
	static cJSON *parsed[STEP_KINDS];
	const struct prompt *p = prompt_of(kind);
	if (!p->schema_text[0])
		return NULL;
	if (!parsed[kind])
		parsed[kind] = cJSON_Parse(p->schema_text);
	return parsed[kind];
}

/* ---- rendering ---- */

/* Copies tmpl into out, replacing each {name} with its value; other braces stay as written. When body_at is not NULL
 * it gets the offset in out where the (first) value of vars[nvars - 1] begins. */
static void fill_at(struct buf *out, const char *tmpl, const char *const (*vars)[2], size_t nvars, size_t *body_at)
{
	const char *p = tmpl;
	while (*p) {
		if (*p == '{') {
			size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_");
			size_t i = 0;
			if (n > 0 && p[1 + n] == '}')
				for (; i < nvars; i++)
					if (strlen(vars[i][0]) == n && strncmp(p + 1, vars[i][0], n) == 0)
						break;
			if (n > 0 && p[1 + n] == '}' && i < nvars) {
				if (body_at && i == nvars - 1) {
					*body_at = out->len;
					body_at = NULL;
				}
				buf_puts(out, vars[i][1]);
				p += n + 2;
				continue;
			}
		}
		buf_add(out, p, 1);
		p++;
	}
}

static void fill(struct buf *out, const char *tmpl, const char *const (*vars)[2], size_t nvars)
{
	fill_at(out, tmpl, vars, nvars, NULL);
}

/* Records a block's end at body offset end (within the body later placed in the template). */
static void block_end(struct prompt_blocks *blocks, size_t end)
{
	if (!blocks)
		return;
	blocks->ends = xrealloc(blocks->ends, (blocks->n + 1) * sizeof(*blocks->ends));
	blocks->ends[blocks->n++] = end;
}

/* Moves the blocks' ends from body offsets to offsets in the whole text, where the body begins at at. */
static void blocks_shift(struct prompt_blocks *blocks, size_t at)
{
	for (size_t i = 0; blocks && i < blocks->n; i++)
		blocks->ends[i] += at;
}

void prompt_blocks_free(struct prompt_blocks *blocks)
{
	free(blocks->ends);
	blocks->ends = NULL;
	blocks->n = 0;
}

static const char *summary_text(const struct job *job, size_t i)
{
	const cJSON *s = i < job->nsummaries ? cJSON_GetObjectItemCaseSensitive(job->summaries[i], "summary") : NULL;
	return cJSON_IsString(s) && s->valuestring[0] ? s->valuestring : "(no summary)";
}

static const char *heading_of(const struct fountain_scene *sc)
{
	return sc->heading && sc->heading[0] ? sc->heading : "(no heading)";
}

/* A length in eighths as a screenwriter writes it: "3/8", "1", "2 5/8". */
static void format_eighths(int eighths, char *out, size_t len)
{
	if (eighths % 8 == 0)
		snprintf(out, len, "%d", eighths / 8);
	else if (eighths < 8)
		snprintf(out, len, "%d/8", eighths);
	else
		snprintf(out, len, "%d %d/8", eighths / 8, eighths % 8);
}

/* "ANNA (2 cues, 31 words), BEN (1 cue, 4 words)": the scene's speakers in first-cue order, counted from its cues. */
static void speakers(struct buf *b, const struct fountain_scene *sc)
{
	for (size_t i = 0; i < sc->ncharacters; i++) {
		int cues = 0, words = 0;
		for (size_t c = 0; c < sc->ncues; c++)
			if (strcmp(sc->cues[c].name, sc->characters[i]) == 0) {
				cues++;
				words += sc->cues[c].words;
			}
		buf_printf(b, "%s%s (%d cue%s, %d word%s)", b->len ? ", " : "", sc->characters[i], cues, cues == 1 ? "" : "s",
		           words, words == 1 ? "" : "s");
	}
}

static char *render_summary(const struct job *job)
{
	const struct fountain_scene *sc = &job->script->scenes[job->scene - 1];
	struct buf who = {0}, time = {0}, out = {0};
	speakers(&who, sc);
	if (sc->time && sc->time[0])
		buf_printf(&time, "%s (%s)", sc->time, fountain_time_name(sc->time_of_day));
	char length[32];
	format_eighths(sc->own_eighths, length, sizeof length);
	const char *const vars[][2] = {
		{"heading", heading_of(sc)},
		{"int_ext", sc->int_ext ? sc->int_ext : "(not given)"},
		{"location", sc->location && sc->location[0] ? sc->location : "(not given)"},
		{"time", time.len ? time.data : "(not given)"},
		{"length", length},
		{"characters", who.len ? who.data : "(nobody speaks)"},
		{"text", sc->text ? sc->text : ""},
	};
	fill(&out, summary_template, vars, sizeof(vars) / sizeof(vars[0]));
	buf_free(&who);
	buf_free(&time);
	return out.data;
}

/* The outline's view of the script: sections, synopses and scenes in the order they stand, by line. */
static char *render_outline(const struct job *job, struct prompt_blocks *blocks)
{
	const struct fountain_script *s = job->script;
	struct buf body = {0}, out = {0};
	size_t sc = 0, se = 0, sy = 0;
	while (sc < s->nscenes || se < s->nsections || sy < s->nsynopses) {
		int lsc = sc < s->nscenes ? s->scenes[sc].line : -1;
		int lse = se < s->nsections ? s->sections[se].line : -1;
		int lsy = sy < s->nsynopses ? s->synopses[sy].line : -1;
		if (body.len)
			buf_puts(&body, "\n");
		if (lse >= 0 && (lsc < 0 || lse <= lsc) && (lsy < 0 || lse <= lsy)) {
			for (int d = 0; d < s->sections[se].depth; d++)
				buf_puts(&body, "#");
			buf_printf(&body, " %s", s->sections[se].title);
			se++;
		} else if (lsy >= 0 && (lsc < 0 || lsy <= lsc)) {
			buf_printf(&body, "= %s", s->synopses[sy].text);
			sy++;
		} else {
			char length[32];
			format_eighths(s->scenes[sc].eighths, length, sizeof length);
			/* Numbered 1..n like a sheet's scenes 1..k: one schema for every script, mapped back to scene
			 * indexes (0 before the first heading) in the archive. */
			buf_printf(&body, "Scene %zu (%s; %s): %s", sc + 1, heading_of(&s->scenes[sc]), length,
			           summary_text(job, sc));
			block_end(blocks, body.len);
			sc++;
		}
	}
	char nscenes[32], length[32];
	snprintf(nscenes, sizeof(nscenes), "%zu", s->nscenes);
	format_eighths(s->eighths, length, sizeof length);
	const char *const vars[][2] = {
		{"title", s->title && s->title[0] ? s->title : "(untitled)"},
		{"nscenes", nscenes}, {"length", length},
		{"script", body.len ? body.data : "(no scenes)"},
	};
	size_t at = 0;
	fill_at(&out, outline_template, vars, sizeof(vars) / sizeof(vars[0]), &at);
	blocks_shift(blocks, at);
	buf_free(&body);
	return out.data;
}

/* The character's lines of one cue, one "- " item, continuation lines indented. */
static void put_lines(struct buf *b, const char *dialogue)
{
	buf_puts(b, "- ");
	for (const char *p = dialogue; *p; p++) {
		buf_add(b, p, 1);
		if (*p == '\n' && p[1])
			buf_puts(b, "  ");
	}
	buf_puts(b, "\n");
}

static char *render_sheet(const struct job *job, struct prompt_blocks *blocks)
{
	const struct fountain_script *s = job->script;
	const struct fountain_character *ch = &s->characters[job->character];
	struct buf scenes = {0}, out = {0};
	for (size_t k = 0; k < ch->nscenes; k++) {
		const struct fountain_scene *sc = fountain_scene_by_index(s, ch->scenes[k]);
		char length[32];
		format_eighths(sc->own_eighths, length, sizeof length);
		struct buf who = {0};
		speakers(&who, sc);
		buf_printf(&scenes, "%sScene %zu: %s (about %s of a page; speaking: %s)\nSummary: %s\n"
		           "%s's lines in it, exactly as written:\n", k ? "\n" : "", k + 1, heading_of(sc), length,
		           who.len ? who.data : "nobody", summary_text(job, k), ch->name);
		buf_free(&who);
		for (size_t c = 0; c < sc->ncues; c++)
			if (strcmp(sc->cues[c].name, ch->name) == 0 && sc->cues[c].dialogue)
				put_lines(&scenes, sc->cues[c].dialogue);
		/* The block ends before the newline that separates it from the next, which starts with it. */
		if (scenes.len && scenes.data[scenes.len - 1] == '\n')
			block_end(blocks, scenes.len - 1);
	}
	char cues[32], words[32], count[32];
	snprintf(cues, sizeof(cues), "%d", ch->cues);
	snprintf(words, sizeof(words), "%d", ch->words);
	snprintf(count, sizeof(count), "%zu", ch->nscenes);
	const char *const vars[][2] = {
		{"name", ch->name}, {"cues", cues}, {"words", words}, {"count", count},
		{"scenes", scenes.len ? scenes.data : "(none)"},
	};
	size_t at = 0;
	fill_at(&out, sheet_template, vars, sizeof(vars) / sizeof(vars[0]), &at);
	blocks_shift(blocks, at);
	buf_free(&scenes);
	return out.data;
}

char *prompt_render_blocks(const struct job *job, struct prompt_blocks *blocks)
{
	if (blocks)
		*blocks = (struct prompt_blocks){NULL, 0};
	if (!job->script)
		return NULL;
	char *text = NULL;
	switch (job->kind) {
	case STEP_SUMMARY:
		text = job->scene >= 1 && job->scene <= job->script->nscenes ? render_summary(job) : NULL;
		break;
	case STEP_OUTLINE:
		text = render_outline(job, blocks);
		break;
	case STEP_SHEET:
		text = job->character < job->script->ncharacters ? render_sheet(job, blocks) : NULL;
		break;
	default:
		break;
	}
	/* A block that would end at the text's end (or hold nothing) is no boundary. */
	while (blocks && blocks->n && (!text || blocks->ends[blocks->n - 1] >= strlen(text)))
		blocks->n--;
	if (blocks && !blocks->n)
		prompt_blocks_free(blocks);
	return text;
}

char *prompt_render(const struct job *job)
{
	return prompt_render_blocks(job, NULL);
}

/* ---- validation ---- */

static bool type_matches(const char *type, const cJSON *v)
{
	if (strcmp(type, "object") == 0)
		return cJSON_IsObject(v);
	if (strcmp(type, "array") == 0)
		return cJSON_IsArray(v);
	if (strcmp(type, "string") == 0)
		return cJSON_IsString(v);
	if (strcmp(type, "number") == 0)
		return cJSON_IsNumber(v);
	if (strcmp(type, "integer") == 0)
		return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
	if (strcmp(type, "boolean") == 0)
		return cJSON_IsBool(v);
	if (strcmp(type, "null") == 0)
		return cJSON_IsNull(v);
	return false;
}

static int check(const cJSON *schema, const cJSON *v, char *path, size_t pathlen, char *err, size_t errlen)
{
	const char *where = path[0] ? path : "the answer";
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
	if (cJSON_IsString(type) && !type_matches(type->valuestring, v)) {
		snprintf(err, errlen, "%s is not %s %s", where, strchr("aeiou", type->valuestring[0]) ? "an" : "a",
		         type->valuestring);
		return -1;
	}
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
	if (cJSON_IsArray(en)) {
		const cJSON *e;
		bool found = false;
		cJSON_ArrayForEach(e, en)
			found = found || cJSON_Compare(e, v, 1);
		if (!found) {
			snprintf(err, errlen, "%s is not one of the allowed values", where);
			return -1;
		}
	}
	if (cJSON_IsNumber(v)) {
		const cJSON *min = cJSON_GetObjectItemCaseSensitive(schema, "minimum");
		const cJSON *max = cJSON_GetObjectItemCaseSensitive(schema, "maximum");
		if ((cJSON_IsNumber(min) && v->valuedouble < min->valuedouble) ||
		    (cJSON_IsNumber(max) && v->valuedouble > max->valuedouble)) {
			snprintf(err, errlen, "%s = %g is out of range", where, v->valuedouble);
			return -1;
		}
	}
	const cJSON *maxlen = cJSON_GetObjectItemCaseSensitive(schema, "maxLength");
	if (cJSON_IsString(v) && cJSON_IsNumber(maxlen)) {
		size_t chars = 0;
		for (const unsigned char *c = (const unsigned char *)v->valuestring; *c; c++)
			chars += (*c & 0xC0) != 0x80;
		if ((double)chars > maxlen->valuedouble) {
			snprintf(err, errlen, "%s has %zu characters, more than the %g allowed: shorten it", where, chars,
			         maxlen->valuedouble);
			return -1;
		}
	}
	size_t base = strlen(path);
	if (cJSON_IsObject(v)) {
		const cJSON *req;
		cJSON_ArrayForEach(req, cJSON_GetObjectItemCaseSensitive(schema, "required"))
			if (cJSON_IsString(req) && !cJSON_GetObjectItemCaseSensitive(v, req->valuestring)) {
				snprintf(err, errlen, "%s lacks the required field \"%s\"", where, req->valuestring);
				return -1;
			}
		const cJSON *prop;
		cJSON_ArrayForEach(prop, cJSON_GetObjectItemCaseSensitive(schema, "properties")) {
			const cJSON *field = cJSON_GetObjectItemCaseSensitive(v, prop->string);
			if (!field)
				continue;
			snprintf(path + base, pathlen - base, "%s%s", base ? "." : "", prop->string);
			int rc = check(prop, field, path, pathlen, err, errlen);
			path[base] = '\0';
			if (rc < 0)
				return -1;
		}
	}
	if (cJSON_IsArray(v)) {
		int n = cJSON_GetArraySize(v);
		const cJSON *min = cJSON_GetObjectItemCaseSensitive(schema, "minItems");
		const cJSON *max = cJSON_GetObjectItemCaseSensitive(schema, "maxItems");
		if ((cJSON_IsNumber(min) && n < min->valuedouble) || (cJSON_IsNumber(max) && n > max->valuedouble)) {
			snprintf(err, errlen, "%s has %d items, which is %s", where, n,
			         cJSON_IsNumber(min) && n < min->valuedouble ? "too few" : "too many");
			return -1;
		}
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
		if (cJSON_IsObject(items)) {
			int i = 0;
			const cJSON *item;
			cJSON_ArrayForEach(item, v) {
				snprintf(path + base, pathlen - base, "[%d]", i++);
				int rc = check(items, item, path, pathlen, err, errlen);
				path[base] = '\0';
				if (rc < 0)
					return -1;
			}
		}
	}
	return 0;
}

int prompt_schema_check(const cJSON *schema, const cJSON *value, char *err, size_t errlen)
{
	char path[256] = "";
	return check(schema, value, path, sizeof(path), err, errlen);
}

static bool blank(const char *s)
{
	return s[strspn(s, " \t\r\n")] == '\0';
}

/* Validation messages gathered for one answer: a correction turn tells the model everything wrong at once. */
struct problems {
	char *err;
	size_t errlen;
	int n;
};

static void problem(struct problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct problems *p, const char *fmt, ...)
{
	size_t used = strlen(p->err);
	if (p->n == 0)
		used = 0;
	if (used + 4 >= p->errlen) {
		p->n++;
		return;
	}
	if (p->n)
		used += (size_t)snprintf(p->err + used, p->errlen - used, "; ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err + used, p->errlen - used, fmt, ap);
	va_end(ap);
	p->n++;
}

static double range_at(const cJSON *range, int i)
{
	return cJSON_GetArrayItem(range, i)->valuedouble;
}

/* Checks a [first, last] scene range against 1..n and against the range before it (the schema already made it two
 * integers >= 1). */
static void check_range(struct problems *p, const char *name, const cJSON *range, size_t n, const cJSON *prev,
                        const char *prev_name, const cJSON *outer)
{
	double first = range_at(range, 0), last = range_at(range, 1);
	if (first > last)
		problem(p, "%s = [%g, %g] runs backwards: write [first, last] with first <= last", name, first, last);
	else if (last > (double)n)
		problem(p, "%s = [%g, %g] is out of range: the scenes are numbered 1 to %zu", name, first, last, n);
	else if (prev && first <= range_at(prev, 1))
		problem(p, "%s = [%g, %g] overlaps %s = [%g, %g]: each must start after the one before ends", name, first,
		        last, prev_name, range_at(prev, 0), range_at(prev, 1));
	else if (outer && (first < range_at(outer, 0) || last > range_at(outer, 1)))
		problem(p, "%s = [%g, %g] lies outside its act's scenes [%g, %g]", name, first, last, range_at(outer, 0),
		        range_at(outer, 1));
}

static void check_outline(const struct job *job, const cJSON *out, struct problems *p)
{
	size_t n = job->script ? job->script->nscenes : job->nsummaries;
	int i = 0;
	const cJSON *act, *prev_act = NULL;
	char name[64], prev_name[64] = "";
	cJSON_ArrayForEach(act, cJSON_GetObjectItemCaseSensitive(out, "acts")) {
		const cJSON *scenes = cJSON_GetObjectItemCaseSensitive(act, "scenes");
		snprintf(name, sizeof(name), "acts[%d].scenes", i);
		check_range(p, name, scenes, n, prev_act, prev_name, NULL);
		snprintf(prev_name, sizeof(prev_name), "%s", name);
		prev_act = scenes;
		int j = 0;
		const cJSON *seq, *prev_seq = NULL;
		char seq_prev[64] = "";
		cJSON_ArrayForEach(seq, cJSON_GetObjectItemCaseSensitive(act, "sequences")) {
			const cJSON *r = cJSON_GetObjectItemCaseSensitive(seq, "scenes");
			snprintf(name, sizeof(name), "acts[%d].sequences[%d].scenes", i, j++);
			check_range(p, name, r, n, prev_seq, seq_prev, range_at(scenes, 0) <= range_at(scenes, 1) ? scenes : NULL);
			snprintf(seq_prev, sizeof(seq_prev), "%s", name);
			prev_seq = r;
		}
		i++;
	}
}

/* s with every run of white space made one space, trimmed (malloc'd). */
static char *squeeze(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;
	bool space = false;
	for (; *s; s++) {
		if (isspace((unsigned char)*s)) {
			space = o != out;
			continue;
		}
		if (space)
			*o++ = ' ';
		space = false;
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

/* Whether line occurs in one of ch's cues in its scenes, white space aside. */
static bool spoken(const struct fountain_script *s, const struct fountain_character *ch, const char *line)
{
	char *want = squeeze(line);
	bool found = false;
	for (size_t k = 0; k < ch->nscenes && !found; k++) {
		const struct fountain_scene *sc = fountain_scene_by_index(s, ch->scenes[k]);
		for (size_t c = 0; c < sc->ncues && !found; c++) {
			if (strcmp(sc->cues[c].name, ch->name) != 0 || !sc->cues[c].dialogue)
				continue;
			char *said = squeeze(sc->cues[c].dialogue);
			found = strstr(said, want) != NULL;
			free(said);
		}
	}
	free(want);
	return found;
}

static const struct fountain_character *sheet_character(const struct job *job, struct problems *p)
{
	if (!job->script || job->character >= job->script->ncharacters) {
		problem(p, "the step names no character of the script");
		return NULL;
	}
	return &job->script->characters[job->character];
}

static void check_turning_scenes(const struct fountain_character *ch, const cJSON *out, struct problems *p)
{
	int i = 0;
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(out, "turning_scenes")) {
		if (t->valuedouble > (double)ch->nscenes)
			problem(p, "turning_scenes[%d] = %g, but %s speaks in only %zu scenes (numbered 1..%zu)", i,
			        t->valuedouble, ch->name, ch->nscenes, ch->nscenes);
		i++;
	}
}

static void check_sheet(const struct job *job, const cJSON *out, struct problems *p)
{
	const struct fountain_character *ch = sheet_character(job, p);
	if (!ch)
		return;
	check_turning_scenes(ch, out, p);
	int i = 0;
	const cJSON *line;
	cJSON_ArrayForEach(line, cJSON_GetObjectItemCaseSensitive(out, "key_lines")) {
		if (blank(line->valuestring) || !spoken(job->script, ch, line->valuestring))
			problem(p, "key_lines[%d] \"%.80s\" is not a line %s speaks", i, line->valuestring, ch->name);
		i++;
	}
}

static int check_kind(const struct job *job, const cJSON *output, struct problems *p)
{
	const cJSON *schema = prompt_schema(job->kind);
	if (!schema) {
		problem(p, "%s outputs are not JSON objects", prompt_id(job->kind));
		return -1;
	}
	if (prompt_schema_check(schema, output, p->err, p->errlen) < 0)
		return -1;
	switch (job->kind) {
	case STEP_SUMMARY:
		if (blank(cJSON_GetObjectItemCaseSensitive(output, "summary")->valuestring))
			problem(p, "summary is empty: write 2 to 4 sentences");
		break;
	case STEP_OUTLINE:
		check_outline(job, output, p);
		break;
	case STEP_SHEET:
		check_sheet(job, output, p);
		break;
	default:
		break;
	}
	return p->n ? -1 : 0;
}

int prompt_validate(const struct job *job, const cJSON *output, char *err, size_t errlen)
{
	struct problems p = {err, errlen, 0};
	err[0] = '\0';
	return check_kind(job, output, &p);
}

/* Replaces every key line with the script's verbatim words, dropping (and counting) those that match no line of the
 * character and repeats; fails only when the model quoted and nothing it quoted is the character's. */
static void snap_key_lines(const struct job *job, const struct fountain_character *ch, cJSON *out,
                           struct prompt_repairs *r, struct problems *p)
{
	cJSON *lines = cJSON_GetObjectItemCaseSensitive(out, "key_lines");
	int given = cJSON_GetArraySize(lines), kept = 0;
	cJSON *line = lines ? lines->child : NULL;
	while (line) {
		cJSON *next = line->next;
		struct quote_match m;
		if (quote_find(job->script, ch, line->valuestring, &m) == QUOTE_FOUND) {
			bool repeat = false;
			for (cJSON *before = lines->child; before != line; before = before->next)
				repeat = repeat || strcmp(before->valuestring, m.text) == 0;
			if (repeat) {
				cJSON_Delete(cJSON_DetachItemViaPointer(lines, line));
			} else {
				if (strcmp(m.text, line->valuestring) != 0)
					r->snapped_quotes++;
				cJSON_ReplaceItemViaPointer(lines, line, cJSON_CreateString(m.text));
				kept++;
			}
			free(m.text);
		} else {
			cJSON_Delete(cJSON_DetachItemViaPointer(lines, line));
			r->dropped_quotes++;
		}
		line = next;
	}
	if (given > 0 && kept == 0)
		problem(p, "key_lines: none of the %d quotes is a line %s speaks; quote %s's lines word for word as given",
		        given, ch->name, ch->name);
}

int prompt_repair(const struct job *job, cJSON *output, struct prompt_repairs *r, char *err, size_t errlen)
{
	struct problems p = {err, errlen, 0};
	err[0] = '\0';
	memset(r, 0, sizeof(*r));
	const cJSON *schema = prompt_schema(job->kind);
	if (!schema || !cJSON_IsObject(output)) {
		problem(&p, "the answer is not a JSON object");
		return -1;
	}
	r->stripped_fields = (int)answer_strip_unknown(schema, output);
	if (prompt_schema_check(schema, output, err, errlen) < 0)
		return -1;
	if (job->kind == STEP_SHEET) {
		const struct fountain_character *ch = sheet_character(job, &p);
		if (!ch)
			return -1;
		check_turning_scenes(ch, output, &p);
		snap_key_lines(job, ch, output, r, &p);
		return p.n ? -1 : 0;
	}
	return check_kind(job, output, &p);
}
