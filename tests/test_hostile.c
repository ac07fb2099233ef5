/* test_hostile.c - hostile input, as a user or a server could send it:
 *   - scripts that are not text, too big, endless, huge or unclosed: scriptbuild and `-t parse` refuse them with the
 *     file, the line and what is wrong (exit 2) or parse them correctly (exit 0); never a signal, memory bounded;
 *   - malformed API answers: the readers of engine/replies.h refuse them, never crash, never accept half an answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <sys/resource.h>

#include <archive.h>
#include <archive_entry.h>

#include "builtin.h"
#include "digest.h"
#include "fountain.h"
#include "prompts.h"
#include "replies.h"
#include "sbtest.h"
#include "tarkit.h"

/* Every child runs under these: a runaway is killed, not waited for. (A sanitized build of 10,000 scenes peaks near
 * 1 GiB, most of it the sanitizer's quarantine.) */
#define MEMORY_LIMIT_MB 2048
#define CPU_LIMIT_SECONDS 120
/* What refusing a hostile file may cost over a trivial run: its buffers are capped (8 MiB for a script), not its
 * input; reading all of a 50 MB script costs more than this. */
#define REFUSAL_EXTRA_KB (40L << 10)

static const char *sl(void)
{
	return env_or("SL", "build/check/scriptload");
}

/* A path by value, so that no call can overwrite one still in use. */
struct path {
	char s[1024];
};

static struct path path_in(const char *dir, const char *name)
{
	struct path p;
	snprintf(p.s, sizeof p.s, "%s/%s", dir, name);
	return p;
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int file_has(const char *path, const char *needle)
{
	char *text = slurp(path, NULL);
	int found = text && strstr(text, needle) != NULL;
	free(text);
	return found;
}

/* xorshift64: the same hostile bytes on every run. */
static uint64_t next_random(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* ---- running a binary with bounded memory and time ---- */

struct outcome {
	int status;       /* exit status, or 128 + signal */
	long maxrss_kb;   /* the run's peak resident memory */
};

/* 1 when the binaries start under an address-space limit; a sanitized build reserves terabytes and cannot, and is
 * bounded instead through ASAN_OPTIONS=hard_rss_limit_mb (set in main). */
static int address_limit_works = -1;

static void set_limit(int resource, rlim_t value)
{
	struct rlimit rl = { value, value };
	if (setrlimit(resource, &rl) != 0)
		_exit(126);
}

static int probe_address_limit(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		set_limit(RLIMIT_AS, (rlim_t)MEMORY_LIMIT_MB << 20);
		char *argv[] = { (char *)sb(), "-V", NULL };
		_exit(run_in(NULL, NULL, NULL, argv) == 0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 1;
}

/* Runs argv like run_in, in a process of its own so that RUSAGE_CHILDREN measures this run alone. */
static struct outcome run_bounded(const char *dir, const char *out, const char *err, char *const argv[])
{
	if (address_limit_works < 0)
		address_limit_works = probe_address_limit();
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		set_limit(RLIMIT_CPU, CPU_LIMIT_SECONDS);
		if (address_limit_works)
			set_limit(RLIMIT_AS, (rlim_t)MEMORY_LIMIT_MB << 20);
		struct outcome o = { run_in(dir, out, err, argv), 0 };
		struct rusage ru;
		getrusage(RUSAGE_CHILDREN, &ru);
		o.maxrss_kb = ru.ru_maxrss;
		_exit(write(fds[1], &o, sizeof o) == (ssize_t)sizeof o ? 0 : 1);
	}
	close(fds[1]);
	struct outcome o = { -1, 0 };
	assert_int_equal(read(fds[0], &o, sizeof o), (ssize_t)sizeof o);
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return o;
}

/* The peak memory of a trivial run of the same binary: what a refusal is measured against. */
static long baseline_kb(const char *dir, const char *binary)
{
	static long sb_kb, sl_kb;
	long *kb = strcmp(binary, sb()) == 0 ? &sb_kb : &sl_kb;
	if (*kb == 0) {
		char *argv[] = { (char *)binary, "-h", NULL };
		struct outcome o = run_bounded(dir, NULL, NULL, argv);
		assert_int_equal(o.status, 0);
		*kb = o.maxrss_kb;
	}
	return *kb;
}

/* ---- scripts ---- */

static void write_or_fail(const char *path, const char *data, size_t len)
{
	assert_int_equal(spit(path, data, len), 0);
}

static void make_empty(const char *path)
{
	write_or_fail(path, "", 0);
}

/* An ELF header, then seeded random bytes: what `scriptbuild ./a.out` would read. */
static void make_elf(const char *path)
{
	size_t len = 16384;
	char *b = malloc(len);
	assert_non_null(b);
	uint64_t state = 0x5eed0e1f;
	for (size_t i = 0; i < len; i++)
		b[i] = (char)next_random(&state);
	memcpy(b, "\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\003\000>\000", 20);
	write_or_fail(path, b, len);
	free(b);
}

static void make_random(const char *path)
{
	size_t len = 65536;
	char *b = malloc(len);
	assert_non_null(b);
	uint64_t state = 0xfeedface;
	for (size_t i = 0; i < len; i++)
		b[i] = (char)next_random(&state);
	write_or_fail(path, b, len);
	free(b);
}

static void make_bad_utf8(const char *path)
{
	static const char text[] = "INT. FERRY DECK - DAY\n\nA gull lands on the rail.\nCaf\xc3 au lait spills.\n";
	write_or_fail(path, text, sizeof text - 1);
}

/* An overlong encoding of '/': the classic way to sneak a byte past a check. */
static void make_overlong_utf8(const char *path)
{
	static const char text[] = "INT. FERRY DECK - DAY\n\nA \xc0\xaf gull.\n";
	write_or_fail(path, text, sizeof text - 1);
}

static void make_utf16(const char *path, int big_endian)
{
	static const char text[] = "INT. FERRY DECK - DAY\n\nA gull lands.\n";
	char b[2 + 2 * sizeof text];
	b[0] = big_endian ? '\xfe' : '\xff';
	b[1] = big_endian ? '\xff' : '\xfe';
	for (size_t i = 0; i < sizeof text - 1; i++) {
		b[2 + 2 * i + big_endian] = text[i];
		b[2 + 2 * i + !big_endian] = '\0';
	}
	write_or_fail(path, b, 2 + 2 * (sizeof text - 1));
}

static void make_utf16le(const char *path)
{
	make_utf16(path, 0);
}

static void make_utf16be(const char *path)
{
	make_utf16(path, 1);
}

static void make_nul(const char *path)
{
	static const char text[] = "INT. FERRY DECK - DAY\n\nA gull\0lands.\n";
	write_or_fail(path, text, sizeof text - 1);
}

/* 50 MB of valid Fountain: refused for its size, without reading it all. */
static void make_50mb(const char *path)
{
	static const char scene[] = "INT. ENGINE ROOM - NIGHT\n\nPistons. MARA wipes her hands.\n\nMARA\nShe holds.\n\n";
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (size_t written = 0; written < (size_t)50 << 20; written += sizeof scene - 1)
		assert_int_equal(fwrite(scene, 1, sizeof scene - 1, f), sizeof scene - 1);
	assert_int_equal(fclose(f), 0);
}

/* A heading, then one action line of 1 MB (200,000 five-byte words). */
static void make_long_line(const char *path)
{
	static const char head[] = "INT. FERRY DECK - DAY\n\n";
	size_t words = 200000, len = sizeof head - 1 + 5 * words + 1;
	char *b = malloc(len);
	assert_non_null(b);
	memcpy(b, head, sizeof head - 1);
	for (size_t i = 0; i < words; i++)
		memcpy(b + sizeof head - 1 + 5 * i, "wave ", 5);
	b[len - 2] = '.';
	b[len - 1] = '\n';
	write_or_fail(path, b, len);
	free(b);
}

/* 1 MB with no line end at all and no heading: one implicit scene of one line. */
static void make_one_line_file(const char *path)
{
	size_t len = (size_t)1 << 20;
	char *b = malloc(len);
	assert_non_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = i % 6 == 5 ? ' ' : "swell"[i % 6];
	write_or_fail(path, b, len);
	free(b);
}

static void make_10000_scenes(const char *path)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (int i = 1; i <= 10000; i++)
		fprintf(f, "INT. CABIN %d - NIGHT\n\nThe lamp swings.\n\n%s\nCabin %d, all clear.\n\n", i,
		        i % 2 ? "MARA" : "TOBIAS", i);
	assert_int_equal(fclose(f), 0);
}

static void make_open_boneyard(const char *path)
{
	static const char text[] = "INT. FERRY DECK - DAY\n\nA gull lands. /* cut this\n\nMARA\nShoo.\n";
	write_or_fail(path, text, sizeof text - 1);
}

static void make_open_note(const char *path)
{
	static const char text[] = "INT. FERRY DECK - DAY\n\nA gull lands. [[ check the bird\n\nMARA\nShoo.\n";
	write_or_fail(path, text, sizeof text - 1);
}

static void make_open_note_at_end(const char *path)
{
	static const char text[] = "INT. FERRY DECK - DAY\n\nMARA\nShoo. [[ still going\nand going";
	write_or_fail(path, text, sizeof text - 1);
}

static const cJSON *field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		fail_msg("the parse has no \"%s\"", key);
	return v;
}

static const cJSON *scene_of(const cJSON *parse, int i)
{
	return cJSON_GetArrayItem(field(parse, "scenes"), i);
}

static void check_long_line(const cJSON *parse)
{
	assert_int_equal(cJSON_GetArraySize(field(parse, "scenes")), 1);
	const cJSON *action = field(scene_of(parse, 0), "action");
	assert_true(cJSON_IsString(action));
	assert_int_equal(strlen(action->valuestring), 5 * 200000);
	assert_int_equal(strncmp(action->valuestring, "wave wave ", 10), 0);
	assert_int_equal(field(parse, "lines")->valueint, 3);
}

static void check_one_line_file(const cJSON *parse)
{
	assert_true(cJSON_IsTrue(field(parse, "implicit_scene")));
	assert_int_equal(field(parse, "lines")->valueint, 1);
	assert_int_equal(cJSON_GetArraySize(field(parse, "scenes")), 1);
	assert_int_equal(strlen(field(scene_of(parse, 0), "action")->valuestring), (size_t)1 << 20);
}

static void check_10000_scenes(const cJSON *parse)
{
	assert_int_equal(cJSON_GetArraySize(field(parse, "scenes")), 10000);
	const cJSON *last = scene_of(parse, 9999);
	assert_int_equal(field(last, "index")->valueint, 10000);
	assert_string_equal(field(last, "heading")->valuestring, "INT. CABIN 10000 - NIGHT");
	assert_int_equal(field(last, "line")->valueint, 9999 * 7 + 1);
	const cJSON *tobias = cJSON_GetArrayItem(field(parse, "characters"), 1);
	assert_string_equal(field(tobias, "name")->valuestring, "TOBIAS");
	assert_int_equal(cJSON_GetArraySize(field(tobias, "scenes")), 5000);
}

/* The unclosed note is plain text, per the rule in fountain.h; the cue after the blank line is still a cue. */
static void check_open_note(const cJSON *parse)
{
	const cJSON *scene = scene_of(parse, 0);
	assert_string_equal(field(scene, "action")->valuestring, "A gull lands. [[ check the bird");
	assert_string_equal(field(cJSON_GetArrayItem(field(scene, "cues"), 0), "dialogue")->valuestring, "Shoo.");
}

static void check_open_note_at_end(const cJSON *parse)
{
	const cJSON *cue = cJSON_GetArrayItem(field(scene_of(parse, 0), "cues"), 0);
	assert_string_equal(field(cue, "dialogue")->valuestring, "Shoo. [[ still going\nand going");
}

struct script_case {
	const char *name;                    /* file name in the temp dir, or an absolute path used as it is */
	void (*make)(const char *path);      /* NULL for an absolute path */
	int line;                            /* refusal: the line the message names (0: the whole file) */
	const char *what;                    /* refusal: words the message must hold; NULL for a parse */
	void (*check)(const cJSON *parse);   /* parse: assertions on the -t parse JSON */
	int scenes;                          /* parse: scenes in the archive */
};

static const struct script_case script_cases[] = {
	{ "empty.fountain", make_empty, 0, "the script is empty", NULL, 0 },
	{ "elf.fountain", make_elf, 1, "this is not a text file", NULL, 0 },
	{ "random.fountain", make_random, 1, "at byte ", NULL, 0 },
	{ "bad_utf8.fountain", make_bad_utf8, 4, "invalid UTF-8", NULL, 0 },
	{ "overlong_utf8.fountain", make_overlong_utf8, 3, "invalid UTF-8", NULL, 0 },
	{ "utf16le.fountain", make_utf16le, 0, "UTF-16 is not supported", NULL, 0 },
	{ "utf16be.fountain", make_utf16be, 0, "UTF-16 is not supported", NULL, 0 },
	{ "nul.fountain", make_nul, 3, "NUL byte", NULL, 0 },
	{ "huge.fountain", make_50mb, 0, "larger than the 8 MiB limit", NULL, 0 },
	{ "/dev/zero", NULL, 0, "larger than the 8 MiB limit", NULL, 0 },
	{ "open_boneyard.fountain", make_open_boneyard, 3, "unclosed boneyard", NULL, 0 },
	{ "long_line.fountain", make_long_line, 0, NULL, check_long_line, 1 },
	{ "one_line.fountain", make_one_line_file, 0, NULL, check_one_line_file, 1 },
	{ "scenes.fountain", make_10000_scenes, 0, NULL, check_10000_scenes, 10000 },
	{ "open_note.fountain", make_open_note, 0, NULL, check_open_note, 1 },
	{ "open_note_at_end.fountain", make_open_note_at_end, 0, NULL, check_open_note_at_end, 1 },
};

/* The refusal names the file, the line when there is one, and what is wrong; for a build, as "FILE:LINE: ". */
static void check_refusal(const struct script_case *c, const char *err_path, int build)
{
	char want[256];
	snprintf(want, sizeof want, "scriptbuild: %s", c->name);
	if (!file_has(err_path, want) || !file_has(err_path, c->what))
		fail_msg("%s: want \"%s\" and \"%s\" in: %s", c->name, want, c->what, slurp(err_path, NULL));
	if (c->line) {
		snprintf(want, sizeof want, "line %d", c->line);
		if (!file_has(err_path, want))
			fail_msg("%s: the message does not name line %d", c->name, c->line);
		snprintf(want, sizeof want, "scriptbuild: %s:%d: ", c->name, c->line);
		if (build && !file_has(err_path, want))
			fail_msg("%s: the build message does not start \"%s\"", c->name, want);
	}
}

static void run_script_case(const char *dir, const struct script_case *c)
{
	struct path file = path_in(dir, c->name);
	const char *path = c->make ? file.s : c->name;
	if (c->make)
		c->make(path);
	struct path out_path = path_in(dir, "stdout"), err_path = path_in(dir, "stderr");
	struct path cache_path = path_in(dir, "cache");
	char *out = out_path.s, *err = err_path.s, *cache = cache_path.s;

	char *parse_argv[] = { (char *)sb(), "-t", "parse", (char *)c->name, NULL };
	struct outcome o = run_bounded(dir, out, err, parse_argv);
	if (o.status != (c->what ? 2 : 0))
		fail_msg("-t parse %s: exit %d, want %d: %s", c->name, o.status, c->what ? 2 : 0, slurp(err, NULL));
	if (c->what) {
		check_refusal(c, err, 0);
		if (o.maxrss_kb > baseline_kb(dir, sb()) + REFUSAL_EXTRA_KB)
			fail_msg("-t parse %s: %ld KB to refuse it", c->name, o.maxrss_kb);
	} else {
		cJSON *parse = read_json(out);
		assert_non_null(parse);
		c->check(parse);
		cJSON_Delete(parse);
	}

	char *build_argv[] = { (char *)sb(), "-q", "--cache", cache, "--llm", "builtin", "--embed", "builtin:8",
		               "-o", "out.analysis.tar.zst", (char *)c->name, NULL };
	o = run_bounded(dir, out, err, build_argv);
	if (o.status != (c->what ? 2 : 0))
		fail_msg("scriptbuild %s: exit %d, want %d: %s", c->name, o.status, c->what ? 2 : 0, slurp(err, NULL));
	if (c->what) {
		check_refusal(c, err, 1);
		assert_false(exists(path_in(dir, "out.analysis.tar.zst").s));
		if (o.maxrss_kb > baseline_kb(dir, sb()) + REFUSAL_EXTRA_KB)
			fail_msg("scriptbuild %s: %ld KB to refuse it", c->name, o.maxrss_kb);
	} else {
		char *check_argv[] = { (char *)sl(), "--check", "out.analysis.tar.zst", NULL };
		assert_int_equal(run_in(dir, out, err, check_argv), 0);
		char want[128];
		snprintf(want, sizeof want, "ok out.analysis.tar.zst: %d scenes, %d summaries", c->scenes, c->scenes);
		if (!file_has(out, want))
			fail_msg("%s: scriptload --check says %s, want %s", c->name, slurp(out, NULL), want);
		unlink(path_in(dir, "out.analysis.tar.zst").s);
	}
	if (o.maxrss_kb > (long)MEMORY_LIMIT_MB << 10)
		fail_msg("scriptbuild %s: %ld KB", c->name, o.maxrss_kb);
	if (c->make)
		unlink(path);
}

static void test_hostile_scripts(void **state)
{
	(void)state;
	char *dir = make_tempdir();
	for (size_t i = 0; i < sizeof script_cases / sizeof script_cases[0]; i++)
		run_script_case(dir, &script_cases[i]);
	remove_tree(dir);
	free(dir);
}

/* ---- API answers ---- */

/* Two scenes, two speakers, so that outline ranges, turning scenes and key lines are all checked. */
static const char reply_script[] =
	"INT. SIGNAL BOX - NIGHT\n\n"
	"Rain on the glass. ODILE pulls a lever that will not move.\n\n"
	"ODILE\nThe nine-forty never runs late.\n\n"
	"BRAM\n(from the stairs)\nIt did once.\n\n"
	"EXT. PLATFORM - CONTINUOUS\n\n"
	"Bram holds up a stopped pocket watch.\n\n"
	"BRAM\nNineteen years ago tonight.\n";

enum reader { ANTHROPIC, OPENAI_CHAT, OPENAI_EMBED };

struct replies {
	struct fountain_script *script;
	cJSON *summaries[2];
	cJSON *outputs[3];     /* valid summary, outline, sheet objects (the builtin's, cut to the schema) */
	struct gen_params params;
	struct job job;
};

static const char *const embed_texts[3] = { "one", "two", "three" };

/* Drops what the schema does not allow: the builtin's objects carry statistics an LLM is not asked for. */
static void fit_to_schema(const cJSON *schema, cJSON *v)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
	if (cJSON_IsObject(v) && props) {
		for (cJSON *c = v->child, *next; c; c = next) {
			next = c->next;
			const cJSON *sub = cJSON_GetObjectItemCaseSensitive(props, c->string);
			if (sub)
				fit_to_schema(sub, c);
			else
				cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
		}
	} else if (cJSON_IsArray(v) && items) {
		cJSON *c;
		cJSON_ArrayForEach(c, v)
			fit_to_schema(items, c);
	}
}

static int replies_setup(void **state)
{
	struct replies *r = calloc(1, sizeof *r);
	assert_non_null(r);
	struct fountain_error err;
	assert_int_equal(fountain_parse(reply_script, sizeof reply_script - 1, &r->script, &err), 0);
	r->summaries[0] = builtin_summary(r->script, 1);
	r->summaries[1] = builtin_summary(r->script, 2);
	const struct fountain_character *odile = &r->script->characters[0];
	assert_string_equal(odile->name, "ODILE");
	assert_int_equal(odile->nscenes, 1);
	r->outputs[STEP_SUMMARY] = cJSON_Duplicate(r->summaries[0], 1);
	r->outputs[STEP_OUTLINE] = builtin_outline(r->script, (const cJSON *const *)r->summaries, 2);
	r->outputs[STEP_SHEET] = builtin_sheet(r->script, 0, (const cJSON *const *)r->summaries, 1);
	for (int k = 0; k < 3; k++) {
		assert_non_null(r->outputs[k]);
		fit_to_schema(prompt_schema((enum step_kind)k), r->outputs[k]);
	}
	r->params.model = "hostile-model";
	*state = r;
	return 0;
}

static int replies_teardown(void **state)
{
	struct replies *r = *state;
	for (int k = 0; k < 3; k++)
		cJSON_Delete(r->outputs[k]);
	cJSON_Delete(r->summaries[0]);
	cJSON_Delete(r->summaries[1]);
	fountain_free(r->script);
	free(r);
	return 0;
}

static struct job *job_for(struct replies *r, enum step_kind kind, int dims)
{
	struct job *job = &r->job;
	memset(job, 0, sizeof *job);
	r->params.dims = dims;
	job->kind = kind;
	job->label = "hostile";
	job->params = &r->params;
	job->script = r->script;
	job->scene = 1;
	job->character = 0;
	job->summaries = (const cJSON *const *)r->summaries;
	job->nsummaries = kind == STEP_SHEET ? 1 : 2;
	job->tool_name = prompt_tool_name(kind);
	job->schema = prompt_schema(kind);
	if (kind == STEP_EMBEDDING) {
		job->texts = embed_texts;
		job->ntexts = 3;
	}
	return job;
}

/* Feeds body to reader for job; checks that an answer is kept exactly when accepted and a refusal says why. */
static enum net_answer feed(enum reader reader, struct job *job, const char *body, size_t len)
{
	char *copy = malloc(len + 1);
	assert_non_null(copy);
	memcpy(copy, body, len);
	copy[len] = '\0';
	struct http_result res = { .status = 200, .body = copy, .body_len = len, .request_id = "" };
	char cause[400] = "";
	enum net_answer v = reader == ANTHROPIC     ? anthropic_take_answer(job, &res, NULL, cause, sizeof cause)
	                    : reader == OPENAI_CHAT ? openai_take_chat_answer(job, &res, NULL, cause, sizeof cause)
	                                            : openai_take_embeddings(job, &res, NULL, cause, sizeof cause);
	int kept = reader == OPENAI_EMBED ? job->vectors != NULL : job->output != NULL;
	if (kept != (v == NET_ANSWER_OK))
		fail_msg("verdict %d but an answer %s kept for: %.200s", v, kept ? "was" : "was not", copy);
	if (v != NET_ANSWER_OK && !cause[0])
		fail_msg("refused without a cause: %.200s", copy);
	free(copy);
	return v;
}

static void job_clear(struct job *job)
{
	free(job->output);
	free(job->vectors);
	job->output = NULL;
	job->vectors = NULL;
	job->tokens_in = job->tokens_out = 0;
}

static cJSON *anthropic_reply(const char *tool, const cJSON *output)
{
	cJSON *r = cJSON_Parse("{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
	                       "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_01\"}],\"stop_reason\":\"tool_use\","
	                       "\"usage\":{\"input_tokens\":812,\"output_tokens\":233,\"cache_read_input_tokens\":8}}");
	cJSON *block = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "content"), 0);
	cJSON_AddStringToObject(block, "name", tool);
	cJSON_AddItemToObject(block, "input", cJSON_Duplicate(output, 1));
	return r;
}

static cJSON *openai_reply(const cJSON *output)
{
	cJSON *r = cJSON_Parse("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{"
	                       "\"index\":0,\"message\":{\"role\":\"assistant\",\"refusal\":null},"
	                       "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":700,\"completion_tokens\":210}}");
	char *content = cJSON_PrintUnformatted(output);
	cJSON *message = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "choices"),
	                                                                     0), "message");
	cJSON_AddStringToObject(message, "content", content);
	free(content);
	return r;
}

/* Three vectors of width 4 arriving out of order: row i is (i, i+1, i+2, i+3) / 10. */
static const char embeddings_reply[] =
	"{\"object\":\"list\",\"data\":["
	"{\"object\":\"embedding\",\"index\":2,\"embedding\":[0.2,0.3,0.4,0.5]},"
	"{\"object\":\"embedding\",\"index\":0,\"embedding\":[0,0.1,0.2,0.3]},"
	"{\"object\":\"embedding\",\"index\":1,\"embedding\":[0.1,0.2,0.3,0.4]}],"
	"\"model\":\"m\",\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}";

/* The same three vectors as base64 little-endian float32, in order. */
static const char embeddings_base64_reply[] =
	"{\"object\":\"list\",\"data\":["
	"{\"object\":\"embedding\",\"index\":0,\"embedding\":\"AAAAAM3MzD3NzEw+mpmZPg==\"},"
	"{\"object\":\"embedding\",\"index\":1,\"embedding\":\"zczMPc3MTD6amZk+zczMPg==\"},"
	"{\"object\":\"embedding\",\"index\":2,\"embedding\":\"zcxMPpqZmT7NzMw+AAAAPw==\"}],"
	"\"model\":\"m\",\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}";

static char *print(const cJSON *j)
{
	char *text = cJSON_PrintUnformatted(j);
	assert_non_null(text);
	return text;
}

static void test_valid_replies(void **state)
{
	struct replies *r = *state;
	for (int k = 0; k < 3; k++) {
		struct job *job = job_for(r, (enum step_kind)k, 0);
		cJSON *reply = anthropic_reply(job->tool_name, r->outputs[k]);
		char *body = print(reply);
		assert_int_equal(feed(ANTHROPIC, job, body, strlen(body)), NET_ANSWER_OK);
		cJSON *got = cJSON_Parse(job->output);
		assert_true(cJSON_Compare(got, r->outputs[k], 1));
		cJSON_Delete(got);
		assert_int_equal(job->tokens_in, 820);
		assert_int_equal(job->tokens_out, 233);
		job_clear(job);
		free(body);
		cJSON_Delete(reply);

		reply = openai_reply(r->outputs[k]);
		body = print(reply);
		assert_int_equal(feed(OPENAI_CHAT, job, body, strlen(body)), NET_ANSWER_OK);
		got = cJSON_Parse(job->output);
		assert_true(cJSON_Compare(got, r->outputs[k], 1));
		cJSON_Delete(got);
		assert_int_equal(job->tokens_in, 700);
		assert_int_equal(job->tokens_out, 210);
		job_clear(job);
		free(body);
		cJSON_Delete(reply);
	}
	const char *const embeddings[2] = { embeddings_reply, embeddings_base64_reply };
	for (int e = 0; e < 2; e++) {
		struct job *job = job_for(r, STEP_EMBEDDING, 4);
		assert_int_equal(feed(OPENAI_EMBED, job, embeddings[e], strlen(embeddings[e])), NET_ANSWER_OK);
		assert_int_equal(job->dims, 4);
		for (int i = 0; i < 3; i++)
			for (int d = 0; d < 4; d++)
				assert_true(fabsf(job->vectors[i * 4 + d] - (float)(i + d) / 10) < 1e-6f);
		job_clear(job);
	}
}

/* Every valid reply's text, with its reader and step. */
struct body {
	enum reader reader;
	enum step_kind kind;
	char *text;
};

static int all_bodies(struct replies *r, struct body out[8])
{
	int n = 0;
	for (int k = 0; k < 3; k++) {
		cJSON *a = anthropic_reply(prompt_tool_name((enum step_kind)k), r->outputs[k]);
		cJSON *o = openai_reply(r->outputs[k]);
		out[n++] = (struct body){ ANTHROPIC, (enum step_kind)k, print(a) };
		out[n++] = (struct body){ OPENAI_CHAT, (enum step_kind)k, print(o) };
		cJSON_Delete(a);
		cJSON_Delete(o);
	}
	out[n++] = (struct body){ OPENAI_EMBED, STEP_EMBEDDING, strdup(embeddings_reply) };
	out[n++] = (struct body){ OPENAI_EMBED, STEP_EMBEDDING, strdup(embeddings_base64_reply) };
	return n;
}

static void test_truncated_replies(void **state)
{
	struct replies *r = *state;
	struct body bodies[8];
	int n = all_bodies(r, bodies);
	for (int b = 0; b < n; b++) {
		size_t len = strlen(bodies[b].text);
		for (size_t cut = 0; cut < len; cut++) {
			struct job *job = job_for(r, bodies[b].kind, 0);
			if (feed(bodies[b].reader, job, bodies[b].text, cut) == NET_ANSWER_OK)
				fail_msg("accepted a reply cut at byte %zu of %zu: %.*s", cut, len, (int)cut, bodies[b].text);
			job_clear(job);
		}
		free(bodies[b].text);
	}
}

/* The idx-th node of root in depth-first order, counting root as 0; NULL past the last. */
static cJSON *nth_node(cJSON *root, int *idx)
{
	if ((*idx)-- == 0)
		return root;
	for (cJSON *c = root->child; c; c = c->next) {
		cJSON *found = nth_node(c, idx);
		if (found)
			return found;
	}
	return NULL;
}

static int inside(const cJSON *node, const cJSON *subtree)
{
	if (node == subtree)
		return 1;
	for (const cJSON *c = subtree ? subtree->child : NULL; c; c = c->next)
		if (inside(node, c))
			return 1;
	return 0;
}

static int type_of(const cJSON *v)
{
	return cJSON_IsBool(v) ? cJSON_True : v->type & 0xff;
}

static cJSON *parent_of(cJSON *root, const cJSON *node)
{
	for (cJSON *c = root->child; c; c = c->next) {
		if (c == node)
			return root;
		cJSON *p = parent_of(c, node);
		if (p)
			return p;
	}
	return NULL;
}

/* Puts with where node is (under node's key, in an object), deleting node. */
static void put_in_place(cJSON *root, cJSON *node, cJSON *with)
{
	cJSON *parent = parent_of(root, node);
	assert_non_null(parent);
	if (node->string)
		assert_true(cJSON_ReplaceItemInObjectCaseSensitive(parent, node->string, with));
	else
		assert_true(cJSON_ReplaceItemViaPointer(parent, node, with));
}

/* Whether a change at node must make the reply unusable: it is the answer or inside it (for embeddings, the data
 * array, one of its items, or an item's index or vector). */
static int in_answer(cJSON *root, const cJSON *node, enum reader reader)
{
	if (reader == ANTHROPIC)
		return inside(node, cJSON_GetObjectItemCaseSensitive(
			                    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "content"), 0), "input"));
	if (reader == OPENAI_CHAT)
		return inside(node, cJSON_GetObjectItemCaseSensitive(
			                    cJSON_GetObjectItemCaseSensitive(
			                            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0),
			                            "message"),
			                    "content"));
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data"), *item;
	if (node == data)
		return 1;
	cJSON_ArrayForEach(item, data)
		if (node == item || inside(node, cJSON_GetObjectItemCaseSensitive(item, "index")) ||
		    inside(node, cJSON_GetObjectItemCaseSensitive(item, "embedding")))
			return 1;
	return 0;
}

/* Every node of every reply replaced in turn by a value of every other JSON type: never a crash; a change inside
 * the answer itself (the tool input, the message content, the embeddings) is always refused. */
static void test_wrong_types(void **state)
{
	struct replies *r = *state;
	static const char *const values[] = { "null", "true", "0", "\"x\"", "[]", "{}" };
	struct body bodies[8];
	int n = all_bodies(r, bodies), tried = 0;
	for (int b = 0; b < n; b++) {
		for (int at = 1;; at++) {
			cJSON *root = cJSON_Parse(bodies[b].text);
			int idx = at;
			cJSON *node = nth_node(root, &idx);
			if (!node) {
				cJSON_Delete(root);
				break;
			}
			cJSON_Delete(root);
			for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
				root = cJSON_Parse(bodies[b].text);
				idx = at;
				node = nth_node(root, &idx);
				cJSON *with = cJSON_Parse(values[v]);
				if (type_of(with) == type_of(node)) {
					cJSON_Delete(with);
					cJSON_Delete(root);
					continue;
				}
				int must_refuse = in_answer(root, node, bodies[b].reader);
				put_in_place(root, node, with);
				char *text = print(root);
				struct job *job = job_for(r, bodies[b].kind, 0);
				if (feed(bodies[b].reader, job, text, strlen(text)) == NET_ANSWER_OK && must_refuse)
					fail_msg("accepted an answer with a wrong type: %s", text);
				job_clear(job);
				free(text);
				cJSON_Delete(root);
				tried++;
			}
		}
		free(bodies[b].text);
	}
	assert_true(tried > 300);
}

/* The same inside the JSON an OpenAI chat answer carries as a string: every change there is refused. */
static void test_wrong_types_in_content(void **state)
{
	struct replies *r = *state;
	static const char *const values[] = { "null", "true", "0", "\"x\"", "[]", "{}" };
	for (int k = 0; k < 3; k++) {
		for (int at = 0;; at++) {
			cJSON *probe = cJSON_Duplicate(r->outputs[k], 1);
			int idx = at;
			int more = nth_node(probe, &idx) != NULL;
			cJSON_Delete(probe);
			if (!more)
				break;
			for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
				cJSON *out = cJSON_Duplicate(r->outputs[k], 1);
				idx = at;
				cJSON *node = nth_node(out, &idx);
				cJSON *with = cJSON_Parse(values[v]);
				if (type_of(with) == type_of(node)) {
					cJSON_Delete(with);
					cJSON_Delete(out);
					continue;
				}
				if (node == out) {
					cJSON_Delete(out);
					out = with;
				} else {
					put_in_place(out, node, with);
				}
				cJSON *reply = openai_reply(out);
				char *text = print(reply);
				struct job *job = job_for(r, (enum step_kind)k, 0);
				if (feed(OPENAI_CHAT, job, text, strlen(text)) == NET_ANSWER_OK)
					fail_msg("accepted content with a wrong type: %s", text);
				job_clear(job);
				free(text);
				cJSON_Delete(reply);
				cJSON_Delete(out);
			}
		}
	}
}

struct raw_case {
	enum reader reader;
	enum step_kind kind;
	int dims;
	const char *body;
	enum net_answer want;
};

static void run_raw_cases(struct replies *r, const struct raw_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct job *job = job_for(r, cases[i].kind, cases[i].dims);
		enum net_answer v = feed(cases[i].reader, job, cases[i].body, strlen(cases[i].body));
		if (v != cases[i].want)
			fail_msg("case %zu: verdict %d, want %d: %s", i, v, cases[i].want, cases[i].body);
		job_clear(job);
	}
}

#define VEC3(a, b, c)                                                                                                 \
	"{\"data\":[{\"index\":0,\"embedding\":" a "},{\"index\":1,\"embedding\":" b "},{\"index\":2,\"embedding\":" c \
	"}]}"

static void test_missing_and_miscounted(void **state)
{
	struct replies *r = *state;
	static const struct raw_case cases[] = {
		{ ANTHROPIC, STEP_SUMMARY, 0, "{}", NET_ANSWER_BAD },
		{ ANTHROPIC, STEP_SUMMARY, 0, "{\"content\":[],\"stop_reason\":\"end_turn\"}", NET_ANSWER_BAD },
		{ ANTHROPIC, STEP_SUMMARY, 0, "{\"content\":[{\"type\":\"tool_use\",\"name\":\"record_scene_summary\"}]}",
		  NET_ANSWER_BAD },
		{ ANTHROPIC, STEP_SUMMARY, 0, "{\"content\":[{\"type\":\"text\",\"text\":\"Sure! Here it is.\"}]}",
		  NET_ANSWER_BAD },
		{ ANTHROPIC, STEP_SUMMARY, 0, "{\"content\":[{\"type\":\"tool_use\",\"name\":\"other_tool\",\"input\":{}}]}",
		  NET_ANSWER_BAD },
		{ ANTHROPIC, STEP_SUMMARY, 0, "{\"content\":{\"type\":\"tool_use\"},\"stop_reason\":\"max_tokens\"}",
		  NET_ANSWER_CUT_OFF },
		{ ANTHROPIC, STEP_SUMMARY, 0, "[]", NET_ANSWER_BAD },
		{ ANTHROPIC, STEP_SUMMARY, 0, "", NET_ANSWER_BAD },
		{ OPENAI_CHAT, STEP_SUMMARY, 0, "{\"choices\":[]}", NET_ANSWER_BAD },
		{ OPENAI_CHAT, STEP_SUMMARY, 0, "{\"choices\":[{\"message\":{}}]}", NET_ANSWER_BAD },
		{ OPENAI_CHAT, STEP_SUMMARY, 0, "{\"choices\":[{\"message\":{\"content\":\"  \"}}]}", NET_ANSWER_BAD },
		{ OPENAI_CHAT, STEP_SUMMARY, 0, "{\"choices\":[{\"message\":{\"content\":\"[1,2]\"}}]}", NET_ANSWER_BAD },
		{ OPENAI_CHAT, STEP_SUMMARY, 0, "{\"choices\":[{\"message\":{\"content\":\"{\\\"summary\\\":\"}}]}",
		  NET_ANSWER_BAD },
		{ OPENAI_CHAT, STEP_SUMMARY, 0, "{\"choices\":{\"0\":{}}}", NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, "{}", NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, "{\"data\":{}}", NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, "{\"data\":[]}", NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("[1]", "[1]", "[1]"), NET_ANSWER_OK },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0,
		  "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1,\"embedding\":[1]}]}", NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0,
		  "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1,\"embedding\":[1]},{\"index\":2,\"embedding\":[1]},"
		  "{\"index\":3,\"embedding\":[1]}]}",
		  NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0,
		  "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,\"embedding\":[1]},{\"index\":2,\"embedding\":[1]}]}",
		  NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0,
		  "{\"data\":[{\"embedding\":[1]},{\"index\":1,\"embedding\":[1]},{\"index\":2,\"embedding\":[1]}]}",
		  NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("[1,2]", "[1,2]", "[1,2,3]"), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("[]", "[]", "[]"), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("[1]", "[1]", "[\"1\"]"), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 8, VEC3("[1]", "[1]", "[1]"), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 1, VEC3("[1]", "[1]", "[1]"), NET_ANSWER_OK },
		/* Base64 float32, what scriptbuild asks for: 1.0, 2.0, [1.0, 2.0]. */
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("\"AACAPw==\"", "\"AAAAQA==\"", "[1]"), NET_ANSWER_OK },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("\"AACAPw==\"", "\"AACAPwAAAEA=\"", "\"AACAPw==\""),
		  NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("\"AACAPw==\"", "\"AAAA\"", "\"AACAPw==\""), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("\"AACAPw==\"", "\"AACAPw=\"", "\"AACAPw==\""), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("\"AACAPw==\"", "\"AACA Pw==\"", "\"AACAPw==\""), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("\"AACAPw==\"", "\"AACAPw==AACA\"", "\"AACAPw==\""),
		  NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("\"AACAPw==\"", "\"\"", "\"AACAPw==\""), NET_ANSWER_BAD },
	};
	run_raw_cases(r, cases, sizeof cases / sizeof cases[0]);
}

static void test_huge_numbers(void **state)
{
	struct replies *r = *state;
	static const struct raw_case cases[] = {
		/* Finite floats, but no embedding: a norm of 3.4e38, or of 0 (1e-300 is 0 as a float32). */
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("[3.4e38]", "[1]", "[1]"), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("[1]", "[-3.4e38]", "[1]"), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("[1]", "[1]", "[1e-300]"), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("[0.6]", "[-1]", "[1]"), NET_ANSWER_OK },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("[1]", "[1e39]", "[1]"), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("[1]", "[1]", "[-1e308]"), NET_ANSWER_BAD },
		/* Base64 of an infinity and of a NaN. */
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("\"AACAPw==\"", "\"AACAfw==\"", "\"AACAPw==\""), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0, VEC3("\"AACAPw==\"", "\"AACAPw==\"", "\"AADAfw==\""), NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0,
		  "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1e300,\"embedding\":[1]},{\"index\":2,\"embedding\":[1]}]}",
		  NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0,
		  "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":-1,\"embedding\":[1]},{\"index\":2,\"embedding\":[1]}]}",
		  NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0,
		  "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1.5,\"embedding\":[1]},{\"index\":2,\"embedding\":[1]}]}",
		  NET_ANSWER_BAD },
		{ OPENAI_EMBED, STEP_EMBEDDING, 0,
		  "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":18446744073709551616,\"embedding\":[1]},"
		  "{\"index\":2,\"embedding\":[1]}]}",
		  NET_ANSWER_BAD },
	};
	run_raw_cases(r, cases, sizeof cases / sizeof cases[0]);

	/* Token counts no server meant are not counted (nor converted, which would be undefined past 2^64). */
	static const char *const usages[] = { "1e300", "-1e300", "18446744073709551616", "1e16", "\"12\"", "null" };
	for (size_t i = 0; i < sizeof usages / sizeof usages[0]; i++) {
		struct job *job = job_for(r, STEP_SUMMARY, 0);
		cJSON *reply = anthropic_reply(job->tool_name, r->outputs[STEP_SUMMARY]);
		cJSON *usage = cJSON_GetObjectItemCaseSensitive(reply, "usage");
		cJSON_ReplaceItemInObjectCaseSensitive(usage, "input_tokens", cJSON_Parse(usages[i]));
		cJSON_ReplaceItemInObjectCaseSensitive(usage, "output_tokens", cJSON_Parse(usages[i]));
		char *body = print(reply);
		assert_int_equal(feed(ANTHROPIC, job, body, strlen(body)), NET_ANSWER_OK);
		assert_int_equal(job->tokens_in, 8);
		assert_int_equal(job->tokens_out, 0);
		job_clear(job);
		free(body);
		cJSON_Delete(reply);

		reply = openai_reply(r->outputs[STEP_SUMMARY]);
		usage = cJSON_GetObjectItemCaseSensitive(reply, "usage");
		cJSON_ReplaceItemInObjectCaseSensitive(usage, "prompt_tokens", cJSON_Parse(usages[i]));
		body = print(reply);
		assert_int_equal(feed(OPENAI_CHAT, job, body, strlen(body)), NET_ANSWER_OK);
		assert_int_equal(job->tokens_in, 0);
		job_clear(job);
		free(body);
		cJSON_Delete(reply);
	}

	/* Scene numbers far out of range inside otherwise valid answers: invalid, so answered by a correction turn. */
	struct job *job = job_for(r, STEP_OUTLINE, 0);
	cJSON *outline = cJSON_Duplicate(r->outputs[STEP_OUTLINE], 1);
	cJSON *range = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(outline, "acts"),
	                                                                   0), "scenes");
	cJSON_ReplaceItemInArray(range, 1, cJSON_CreateNumber(1e300));
	cJSON *reply = anthropic_reply(job->tool_name, outline);
	char *body = print(reply);
	assert_int_equal(feed(ANTHROPIC, job, body, strlen(body)), NET_ANSWER_INVALID);
	free(body);
	cJSON_Delete(reply);
	cJSON_Delete(outline);

	job = job_for(r, STEP_SHEET, 0);
	cJSON *sheet = cJSON_Duplicate(r->outputs[STEP_SHEET], 1);
	cJSON_ReplaceItemInObjectCaseSensitive(sheet, "turning_scenes", cJSON_Parse("[1e300]"));
	reply = anthropic_reply(job->tool_name, sheet);
	body = print(reply);
	assert_int_equal(feed(ANTHROPIC, job, body, strlen(body)), NET_ANSWER_INVALID);
	free(body);
	cJSON_Delete(reply);
	cJSON_Delete(sheet);
}

/* n opening brackets, a value, n closing ones. */
static char *nested(size_t n, const char *prefix, const char *suffix)
{
	size_t plen = strlen(prefix), slen = strlen(suffix);
	char *s = malloc(plen + 2 * n + 2 + slen);
	assert_non_null(s);
	memcpy(s, prefix, plen);
	memset(s + plen, '[', n);
	s[plen + n] = '1';
	memset(s + plen + n + 1, ']', n);
	memcpy(s + plen + 2 * n + 1, suffix, slen + 1);
	return s;
}

static void test_deep_nesting(void **state)
{
	struct replies *r = *state;
	static const size_t depths[] = { 500, 100000 };
	for (size_t i = 0; i < 2; i++) {
		char *bodies[4] = {
			nested(depths[i], "", ""),
			nested(depths[i], "{\"content\":[{\"type\":\"tool_use\",\"name\":\"record_scene_summary\",\"input\":"
			                  "{\"summary\":", "}}]}"),
			nested(depths[i], "{\"choices\":[{\"message\":{\"content\":\"", "\"}}]}"),
			nested(depths[i], "{\"data\":[{\"index\":0,\"embedding\":", "}]}"),
		};
		static const enum reader readers[4] = { ANTHROPIC, ANTHROPIC, OPENAI_CHAT, OPENAI_EMBED };
		for (int b = 0; b < 4; b++) {
			struct job *job = job_for(r, readers[b] == OPENAI_EMBED ? STEP_EMBEDDING : STEP_SUMMARY, 0);
			assert_int_not_equal(feed(readers[b], job, bodies[b], strlen(bodies[b])), NET_ANSWER_OK);
			job_clear(job);
			free(bodies[b]);
		}
	}
}

int main(void)
{
	/* A sanitized child cannot run under RLIMIT_AS; its sanitizer enforces the same bound instead. */
	char asan[1024];
	const char *given = getenv("ASAN_OPTIONS");
	snprintf(asan, sizeof asan, "%s%shard_rss_limit_mb=%d", given ? given : "", given && *given ? ":" : "",
	         MEMORY_LIMIT_MB);
	setenv("ASAN_OPTIONS", asan, 1);
	/* No test may reach a provider: the builds here are offline. */
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("OPENAI_API_KEY");

	const struct CMUnitTest scripts[] = {
		cmocka_unit_test(test_hostile_scripts),
	};
	const struct CMUnitTest replies[] = {
		cmocka_unit_test(test_valid_replies),
		cmocka_unit_test(test_truncated_replies),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_wrong_types_in_content),
		cmocka_unit_test(test_missing_and_miscounted),
		cmocka_unit_test(test_huge_numbers),
		cmocka_unit_test(test_deep_nesting),
	};
	int failed = cmocka_run_group_tests_name("replies", replies, replies_setup, replies_teardown);
	failed += cmocka_run_group_tests_name("scripts", scripts, NULL, NULL);
	return failed ? 1 : 0;
}
