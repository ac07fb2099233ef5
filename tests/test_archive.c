/* test_archive.c - the results archive: reproducible bytes, exact round trip, and refusal of every kind of damage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>

#include "digest.h"
#include "grow.h"
#include "sample_analysis.h"
#include "tarkit.h"

#define MTIME INT64_C(1234567890)

static char tmp[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof tmp, "/tmp/test_archive.XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static char *path_in(const char *name)
{
	static char p[4][512];
	static int next;
	char *out = p[next++ % 4];
	snprintf(out, sizeof p[0], "%s/%s", tmp, name);
	return out;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	unsigned char *buf = NULL;
	size_t cap = 0;
	*len = 0;
	for (;;) {
		buf = grow(buf, &cap, *len + 4096, 1);
		assert_non_null(buf);
		size_t n = fread(buf + *len, 1, cap - *len, f);
		if (n == 0)
			break;
		*len += n;
	}
	fclose(f);
	return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_ok(const char *path, const struct analysis *a, int64_t mtime)
{
	char err[1024] = "";
	int r = analysis_write_archive(path, a, mtime, err, sizeof err);
	if (r != 0)
		fail_msg("write %s: %s", path, err);
}

static struct analysis *read_ok(const char *path)
{
	char err[1024] = "";
	struct analysis *a = NULL;
	if (analysis_read_archive(path, &a, err, sizeof err) != 0)
		fail_msg("read %s: %s", path, err);
	return a;
}

/* Reads path expecting a refusal whose message contains want; returns nothing, fails the test otherwise. */
static void read_fails(const char *path, const char *want)
{
	char err[1024] = "";
	struct analysis *a = NULL;
	if (analysis_read_archive(path, &a, err, sizeof err) == 0) {
		analysis_free(a);
		fail_msg("%s was accepted, want an error containing \"%s\"", path, want);
	}
	assert_null(a);
	assert_true(err[0] != '\0');
	if (want && !strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void json_equal(const char *x, const char *y)
{
	if (!x || !y) {
		assert_true(!x && !y);
		return;
	}
	cJSON *a = cJSON_Parse(x), *b = cJSON_Parse(y);
	assert_non_null(a);
	assert_non_null(b);
	if (!cJSON_Compare(a, b, 1))
		fail_msg("JSON differs: %s vs %s", x, y);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void str_equal(const char *x, const char *y)
{
	if (!x || !y)
		assert_true(!x && !y);
	else
		assert_string_equal(x, y);
}

/* Every field of the original x equals the read-back y (outputs compared as JSON, embeddings only where present). */
static void analysis_equal(const struct analysis *x, const struct analysis *y)
{
	str_equal(x->tool_version, y->tool_version);
	str_equal(x->script_name, y->script_name);
	str_equal(x->title, y->title);
	assert_string_equal(x->script_digest, y->script_digest);
	assert_int_equal(x->partial, y->partial);
	for (int k = 0; k < ANALYSIS_KINDS; k++) {
		str_equal(x->models[k].provider, y->models[k].provider);
		str_equal(x->models[k].model, y->models[k].model);
	}
	assert_int_equal(x->nscenes, y->nscenes);
	for (size_t i = 0; i < x->nscenes; i++) {
		const struct analysis_scene *s = &x->scenes[i], *t = &y->scenes[i];
		assert_int_equal(s->index, t->index);
		str_equal(s->number, t->number);
		str_equal(s->heading, t->heading);
		assert_int_equal(s->line, t->line);
		str_equal(s->location, t->location);
		str_equal(s->time, t->time);
		assert_int_equal(s->ncharacters, t->ncharacters);
		for (size_t c = 0; c < s->ncharacters; c++)
			assert_string_equal(s->characters[c], t->characters[c]);
		assert_string_equal(s->text_digest, t->text_digest);
		assert_int_equal(s->before_first_heading, t->before_first_heading);
		str_equal(s->int_ext, t->int_ext);
		str_equal(s->time_of_day, t->time_of_day);
		str_equal(s->note, t->note);
		assert_int_equal(s->eighths, t->eighths);
		assert_int_equal(s->action_words, t->action_words);
		assert_int_equal(s->dialogue_words, t->dialogue_words);
		assert_int_equal(s->ncast, t->ncast);
		for (size_t c = 0; c < s->ncast; c++) {
			assert_string_equal(s->cast[c].character, t->cast[c].character);
			assert_int_equal(s->cast[c].speaking, t->cast[c].speaking);
			assert_int_equal(s->cast[c].cues, t->cast[c].cues);
			assert_int_equal(s->cast[c].words, t->cast[c].words);
		}
		json_equal(x->summaries[i], y->summaries[i]);
		assert_int_equal(x->has_embedding[i], y->has_embedding[i]);
		if (x->has_embedding[i])
			assert_memory_equal(x->embeddings + i * x->dims, y->embeddings + i * y->dims, x->dims * sizeof(float));
	}
	json_equal(x->outline, y->outline);
	assert_int_equal(x->eighths, y->eighths);
	assert_int_equal(x->ncharacters, y->ncharacters);
	for (size_t i = 0; i < x->ncharacters; i++) {
		const struct analysis_character *c = &x->characters[i], *d = &y->characters[i];
		assert_string_equal(c->name, d->name);
		assert_int_equal(c->cues, d->cues);
		assert_int_equal(c->words, d->words);
		assert_true(c->share == d->share);
		assert_int_equal(c->nscenes, d->nscenes);
		assert_memory_equal(c->scenes, d->scenes, c->nscenes * sizeof(size_t));
		assert_int_equal(c->nmentioned, d->nmentioned);
		assert_memory_equal(c->mentioned, d->mentioned, c->nmentioned * sizeof(size_t));
		assert_int_equal(c->ntogether, d->ntogether);
		for (size_t k = 0; k < c->ntogether; k++) {
			assert_string_equal(c->together[k].character, d->together[k].character);
			assert_int_equal(c->together[k].scenes, d->together[k].scenes);
		}
	}
	assert_int_equal(x->nsheets, y->nsheets);
	for (size_t i = 0; i < x->nsheets; i++) {
		const struct analysis_sheet *s = &x->sheets[i], *t = &y->sheets[i];
		assert_string_equal(s->character, t->character);
		json_equal(s->json, t->json);
		assert_int_equal(s->nscenes, t->nscenes);
		for (size_t j = 0; j < s->nscenes; j++)
			assert_int_equal(s->scenes[j], t->scenes[j]);
		assert_int_equal(s->cues, t->cues);
		assert_int_equal(s->words, t->words);
	}
	assert_int_equal(x->dims, y->dims);
	assert_int_equal(x->nsteps, y->nsteps);
	for (size_t i = 0; i < x->nsteps; i++) {
		assert_int_equal(x->steps[i].kind, y->steps[i].kind);
		str_equal(x->steps[i].target, y->steps[i].target);
		assert_string_equal(x->steps[i].key, y->steps[i].key);
		assert_string_equal(x->steps[i].output, y->steps[i].output);
		assert_int_equal(x->steps[i].tokens_in, y->steps[i].tokens_in);
		assert_int_equal(x->steps[i].tokens_out, y->steps[i].tokens_out);
	}
	assert_int_equal(x->tokens_in, y->tokens_in);
	assert_int_equal(x->tokens_out, y->tokens_out);
}

static void test_same_input_same_bytes(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	char cwd[1024];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(mkdir(path_in("one"), 0755), 0);
	assert_int_equal(mkdir(path_in("two"), 0755), 0);
	write_ok(path_in("one/keeper.analysis.tar.zst"), a, MTIME);
	/* A relative path from another working directory, and a later wall-clock time. */
	assert_int_equal(chdir(path_in("two")), 0);
	sleep(1);
	write_ok("keeper.analysis.tar.zst", a, MTIME);
	assert_int_equal(chdir(cwd), 0);
	size_t n1, n2, n3;
	unsigned char *b1 = slurp(path_in("one/keeper.analysis.tar.zst"), &n1);
	unsigned char *b2 = slurp(path_in("two/keeper.analysis.tar.zst"), &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(b1, b2, n1);

	/* Outputs that differ only in JSON spacing give the same archive: the bytes depend on content only. */
	for (size_t i = 0; i < a->nscenes; i++) {
		cJSON *j = cJSON_Parse(a->summaries[i]);
		free(a->summaries[i]);
		a->summaries[i] = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
	}
	write_ok(path_in("compact.tar.zst"), a, MTIME);
	unsigned char *b3 = slurp(path_in("compact.tar.zst"), &n3);
	assert_int_equal(n1, n3);
	assert_memory_equal(b1, b3, n1);
	free(b3);

	/* And a different mtime is visible in the bytes, so the test above could have failed. */
	write_ok(path_in("later.tar.zst"), a, MTIME + 1);
	b3 = slurp(path_in("later.tar.zst"), &n3);
	assert_true(n1 != n3 || memcmp(b1, b3, n1) != 0);
	free(b1);
	free(b2);
	free(b3);
	analysis_free(a);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	struct analysis *b = read_ok(path_in("k.tar.zst"));
	analysis_equal(a, b);
	assert_false(b->partial);
	analysis_free(b);
	analysis_free(a);

	a = sample_partial("keeper");
	write_ok(path_in("p.tar.zst"), a, MTIME);
	b = read_ok(path_in("p.tar.zst"));
	analysis_equal(a, b);
	assert_true(b->partial);
	assert_null(b->summaries[1]);
	assert_null(b->outline);
	assert_null(b->sheets[0].json);
	assert_false(b->has_embedding[2]);
	for (size_t d = 0; d < b->dims; d++)
		assert_true(b->embeddings[2 * b->dims + d] == 0.0f);
	analysis_free(b);
	analysis_free(a);
}

/* A reader of our own for .npy: magic, version, header, 64-byte alignment, then the floats. */
static void check_npy(const char *path, const struct analysis *a)
{
	size_t len;
	unsigned char *b = slurp(path, &len);
	assert_true(len > 10);
	assert_memory_equal(b, "\x93NUMPY\x01\x00", 8);
	size_t hlen = b[8] | (size_t)b[9] << 8;
	assert_int_equal((10 + hlen) % 64, 0);
	assert_int_equal(b[10 + hlen - 1], '\n');
	char header[512];
	assert_true(hlen < sizeof header);
	memcpy(header, b + 10, hlen);
	header[hlen] = '\0';
	char want[128];
	snprintf(want, sizeof want, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", a->nscenes, a->dims);
	assert_memory_equal(header, want, strlen(want));
	assert_int_equal(len, 10 + hlen + a->nscenes * a->dims * 4);
	for (size_t i = 0; i < a->nscenes * a->dims; i++) {
		const unsigned char *p = b + 10 + hlen + 4 * i;
		uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		float f;
		memcpy(&f, &u, 4);
		assert_true(f == a->embeddings[i]);
	}
	free(b);
}

static void test_plain_tar_extracts(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	assert_int_equal(mkdir(path_in("x"), 0755), 0);
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "tar --zstd -xf '%s' -C '%s'", path_in("k.tar.zst"), path_in("x"));
	assert_int_equal(system(cmd), 0);
	DIR *d = opendir(path_in("x"));
	assert_non_null(d);
	int files = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		files += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 7);
	static const char *const names[] = { "characters.jsonl", "embeddings.npy", "manifest.json", "outline.json",
		                             "scenes.jsonl", "sheets.jsonl", "summaries.jsonl" };
	for (int i = 0; i < 7; i++) {
		char p[600];
		struct stat st;
		snprintf(p, sizeof p, "%s/%s", path_in("x"), names[i]);
		assert_int_equal(stat(p, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_mtime, MTIME);
	}
	check_npy(path_in("x/embeddings.npy"), a);
	size_t len;
	char *summaries = (char *)slurp(path_in("x/summaries.jsonl"), &len);
	assert_true(len > 0 && summaries[len - 1] == '\n');
	int lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += summaries[i] == '\n';
	assert_int_equal(lines, 3);
	free(summaries);
	analysis_free(a);
}

static void test_entry_headers(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	struct archive *ar = archive_read_new();
	archive_read_support_filter_all(ar);
	archive_read_support_format_all(ar);
	assert_int_equal(archive_read_open_filename(ar, path_in("k.tar.zst"), 10240), ARCHIVE_OK);
	struct archive_entry *e;
	char last[64] = "";
	int n = 0;
	while (archive_read_next_header(ar, &e) == ARCHIVE_OK) {
		n++;
		assert_true(strcmp(last, archive_entry_pathname(e)) < 0);
		snprintf(last, sizeof last, "%s", archive_entry_pathname(e));
		assert_int_equal(archive_entry_filetype(e), AE_IFREG);
		assert_int_equal(archive_entry_perm(e), 0644);
		assert_int_equal(archive_entry_uid(e), 0);
		assert_int_equal(archive_entry_gid(e), 0);
		assert_true(!archive_entry_uname(e) || !*archive_entry_uname(e));
		assert_true(!archive_entry_gname(e) || !*archive_entry_gname(e));
		assert_int_equal(archive_entry_mtime(e), MTIME);
		assert_false(archive_entry_atime_is_set(e));
		assert_false(archive_entry_ctime_is_set(e));
	}
	assert_int_equal(archive_filter_code(ar, 0), ARCHIVE_FILTER_ZSTD);
	assert_int_equal(n, 7);
	archive_read_free(ar);
	analysis_free(a);
}

static void test_truncated(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	size_t len;
	unsigned char *b = slurp(path_in("k.tar.zst"), &len);
	/* Every 32 bytes (the archive is about 1 KB), and every one of the last 48 where the frame ends. */
	for (size_t cut = 0; cut < len; cut += cut + 48 >= len ? 1 : 32) {
		spit(path_in("cut.tar.zst"), b, cut);
		read_fails(path_in("cut.tar.zst"), NULL);
	}
	free(b);
	analysis_free(a);
}

/* A flipped bit anywhere in the file is refused, or else (zstd framing and tar padding carry no content) it
 * decodes to exactly the original. */
static void test_flipped_file_bytes(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	size_t len;
	unsigned char *b = slurp(path_in("k.tar.zst"), &len);
	int refused = 0;
	for (size_t i = 0; i < len; i += 5) {
		b[i] ^= (unsigned char)(1u << (i % 8));
		spit(path_in("flip.tar.zst"), b, len);
		b[i] ^= (unsigned char)(1u << (i % 8));
		char err[1024];
		struct analysis *r = NULL;
		if (analysis_read_archive(path_in("flip.tar.zst"), &r, err, sizeof err) == 0) {
			analysis_equal(a, r);
			analysis_free(r);
		} else {
			refused++;
		}
	}
	assert_true(refused > (int)len / 5 * 9 / 10);
	free(b);
	analysis_free(a);
}

static void test_flipped_entry_bytes(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	static const char *const names[] = { "embeddings.npy", "manifest.json", "outline.json", "scenes.jsonl",
		                             "sheets.jsonl", "summaries.jsonl" };
	for (int i = 0; i < 6; i++) {
		struct pack p;
		tar_unpack(path_in("k.tar.zst"), &p);
		/* The repacked but untouched archive is accepted: the refusal below is about the flipped byte. */
		tar_repack(&p, path_in("same.tar.zst"), MTIME);
		analysis_free(read_ok(path_in("same.tar.zst")));
		struct item *it = tar_item_named(&p, names[i]);
		for (size_t at = 0; at < it->len; at += it->len / 7 + 1) {
			it->data[at] ^= 0x04;
			tar_repack(&p, path_in("flip.tar.zst"), MTIME);
			it->data[at] ^= 0x04;
			read_fails(path_in("flip.tar.zst"), names[i]);
		}
		tar_pack_free(&p);
	}
	analysis_free(a);
}

static void lie_about_summaries(cJSON *root)
{
	cJSON *counts = cJSON_GetObjectItemCaseSensitive(root, "counts");
	cJSON_ReplaceItemInObjectCaseSensitive(counts, "summaries", cJSON_CreateNumber(2));
}

static void lie_about_dims(cJSON *root)
{
	cJSON *emb = cJSON_GetObjectItemCaseSensitive(root, "embedding");
	cJSON_ReplaceItemInObjectCaseSensitive(emb, "dims", cJSON_CreateNumber(16));
}

static void future_version(cJSON *root)
{
	cJSON_ReplaceItemInObjectCaseSensitive(root, "format_version", cJSON_CreateNumber(3));
}

/* An archive of format 1 numbered scenes by position: read as version 2 its indexes would mean other scenes. */
static void old_version(cJSON *root)
{
	cJSON_ReplaceItemInObjectCaseSensitive(root, "format_version", cJSON_CreateNumber(1));
}

/* A page count that the scenes' eighths do not sum to. */
static void lie_about_pages(cJSON *root)
{
	cJSON *script = cJSON_GetObjectItemCaseSensitive(root, "script");
	cJSON_ReplaceItemInObjectCaseSensitive(script, "eighths", cJSON_CreateNumber(10));
	cJSON_ReplaceItemInObjectCaseSensitive(script, "pages", cJSON_CreateNumber(1.25));
	cJSON_ReplaceItemInObjectCaseSensitive(script, "runtime_minutes", cJSON_CreateNumber(1.25));
}

/* pages that is not eighths / 8. */
static void lie_about_runtime(cJSON *root)
{
	cJSON *script = cJSON_GetObjectItemCaseSensitive(root, "script");
	cJSON_ReplaceItemInObjectCaseSensitive(script, "runtime_minutes", cJSON_CreateNumber(2));
}

/* Replaces the first occurrence of from with to in entry name of p (same length or not). */
static void replace_in_entry(struct pack *p, const char *name, const char *from, const char *to)
{
	struct item *it = tar_item_named(p, name);
	size_t nf = strlen(from), nt = strlen(to), off = 0;
	while (off + nf <= it->len && memcmp(it->data + off, from, nf) != 0)
		off++;
	if (off + nf > it->len)
		fail_msg("%s does not hold %s", name, from);
	unsigned char *data = malloc(it->len - nf + nt + 1);
	assert_non_null(data);
	memcpy(data, it->data, off);
	memcpy(data + off, to, nt);
	memcpy(data + off + nt, it->data + off + nf, it->len - off - nf);
	it->len = it->len - nf + nt;
	data[it->len] = '\0';
	free(it->data);
	it->data = data;
}

/* The breakdown's facts are checked against each other, not only hashed: a forger who fixes the digests still fails. */
static void test_breakdown_checked(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	struct analysis *b = read_ok(path_in("k.tar.zst"));
	assert_int_equal(b->eighths, 9);
	assert_int_equal(b->scenes[2].ncast, 2);
	assert_false(b->scenes[2].cast[1].speaking);
	assert_int_equal(b->characters[1].mentioned[0], 3);
	analysis_free(b);
	static const struct {
		void (*manifest)(cJSON *root);
		const char *entry, *from, *to, *want;
	} cases[] = {
		{ old_version, NULL, NULL, NULL, "format_version 1 is not supported" },
		{ lie_about_pages, NULL, NULL, NULL, "eighths sum to 9 but the manifest's page count is 10" },
		{ lie_about_runtime, NULL, NULL, NULL, "script.runtime_minutes" },
		{ NULL, "scenes.jsonl", "\"eighths\":3", "\"eighths\":0", "every scene takes at least 1/8 page" },
		{ NULL, "scenes.jsonl", "\"before_first_heading\":false", "\"before_first_heading\":true",
		  "index 1 before the first heading" },
		{ NULL, "scenes.jsonl", "\"character\":\"MARGIT\",\"speaking\":true", "\"character\":\"MARTA\",\"speaking\":true",
		  "speaker \"MARGIT\" is not in the scene's cast" },
		{ NULL, "characters.jsonl", "\"mentioned_in\":[3]", "\"mentioned_in\":[]", "not listed in that scene" },
		{ NULL, "characters.jsonl", "\"first_scene\":1", "\"first_scene\":2", "first_scene and last_scene" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct pack p;
		tar_unpack(path_in("k.tar.zst"), &p);
		if (cases[i].entry)
			replace_in_entry(&p, cases[i].entry, cases[i].from, cases[i].to);
		tar_forge_manifest(&p, cases[i].manifest);
		tar_repack(&p, path_in("forged.tar.zst"), MTIME);
		read_fails(path_in("forged.tar.zst"), cases[i].want);
		tar_pack_free(&p);
	}
	analysis_free(a);
}

/* A script with text before its first heading: scene 0 round-trips, and summaries and sheets speak of scene 0. */
static void test_scene_zero_round_trips(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	for (size_t i = 0; i < a->nscenes; i++)
		a->scenes[i].index = (int)i;
	a->scenes[0].before_first_heading = true;
	for (size_t i = 0; i < a->nsheets; i++)
		for (size_t k = 0; k < a->sheets[i].nscenes; k++)
			a->sheets[i].scenes[k]--;
	for (size_t i = 0; i < a->ncharacters; i++) {
		for (size_t k = 0; k < a->characters[i].nscenes; k++)
			a->characters[i].scenes[k]--;
		for (size_t k = 0; k < a->characters[i].nmentioned; k++)
			a->characters[i].mentioned[k]--;
	}
	write_ok(path_in("z.tar.zst"), a, MTIME);
	struct analysis *b = read_ok(path_in("z.tar.zst"));
	analysis_equal(a, b);
	assert_int_equal(b->scenes[0].index, 0);
	assert_true(b->scenes[0].before_first_heading);
	analysis_free(b);
	analysis_free(a);
}

/* Writers in a test run; `make soak` raises it (SB_SOAK_WRITES) for the long version. */
static long concurrent_writes(void)
{
	const char *v = getenv("SB_SOAK_WRITES");
	return v && atol(v) > 0 ? atol(v) : 60;
}

/* Three processes write one archive path over and over (alternating mtimes, so every write differs), each sweeping
 * stale temporary files first as every writer does: no write may fail (another's sweep once removed a temporary
 * file between its creation and its lock: 8 of 900 builds failed), and no temporary file is left. */
static void test_concurrent_writers_of_one_path(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	long writes = concurrent_writes();
	char *path = strdup(path_in("shared.analysis.tar.zst"));
	pid_t kids[3];
	for (int k = 0; k < 3; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k] == 0) {
			int failures = 0;
			for (long i = 0; i < writes; i++) {
				char err[1024];
				if (analysis_write_archive(path, a, MTIME + (i + k) % 2, err, sizeof err) < 0) {
					fprintf(stderr, "writer %d, write %ld: %s\n", k, i, err);
					failures++;
				}
			}
			_exit(failures ? 1 : 0);
		}
	}
	int failed = 0;
	for (int k = 0; k < 3; k++) {
		int status;
		assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
		failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	if (failed)
		fail_msg("%d of 3 writers had a failed write (see above)", failed);
	analysis_free(read_ok(path));
	DIR *d = opendir(tmp);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		if (strstr(e->d_name, "scriptbuild-tmp"))
			fail_msg("a temporary file was left behind: %s", e->d_name);
	closedir(d);
	free(path);
	analysis_free(a);
}

/* The forged count of the slowest case. The check runs in a child with a CPU-seconds limit far above what
 * n log n needs and far below what the old n-squared check took (44.6 s without sanitizers): a quadratic check
 * comes back as a test killed by SIGXCPU, not as a slow pass. */
#define MANY_SHEETS 160000
#define SHEETS_CPU_SECONDS 20

static void count_many_sheets(cJSON *root)
{
	cJSON *counts = cJSON_GetObjectItemCaseSensitive(root, "counts");
	cJSON_ReplaceItemInObjectCaseSensitive(counts, "sheets", cJSON_CreateNumber(MANY_SHEETS + 1));
}

/* 160,001 sheets whose last repeats the first character: caught, named by both lines, within the CPU limit. */
static void test_many_sheets_duplicate_found(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	struct pack p;
	tar_unpack(path_in("k.tar.zst"), &p);
	struct item *sheets = tar_item_named(&p, "sheets.jsonl");
	const char *line = (const char *)sheets->data;
	size_t len = strcspn(line, "\n");
	const char *name = strstr(line, "\"character\":\"");
	assert_non_null(name);
	name += strlen("\"character\":\"");
	size_t head = (size_t)(name - line), old = strcspn(name, "\"");
	size_t cap = (size_t)(MANY_SHEETS + 1) * (len + 16) + 1, n = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	for (int i = 0; i <= MANY_SHEETS; i++)
		n += (size_t)snprintf(text + n, cap - n, "%.*sC%06d%.*s\n", (int)head, line, i == MANY_SHEETS ? 0 : i,
		                      (int)(len - head - old), name + old);
	free(sheets->data);
	sheets->data = (unsigned char *)text;
	sheets->len = n;
	tar_forge_manifest(&p, count_many_sheets);
	tar_repack(&p, path_in("many.tar.zst"), MTIME);
	tar_pack_free(&p);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct rlimit cpu = { SHEETS_CPU_SECONDS, SHEETS_CPU_SECONDS };
		setrlimit(RLIMIT_CPU, &cpu);
		char err[1024] = "";
		struct analysis *got = NULL;
		int r = analysis_read_archive(path_in("many.tar.zst"), &got, err, sizeof err);
		_exit(r < 0 && strstr(err, "sheets.jsonl line 160001: character \"C000000\" already has a sheet on line 1")
		      ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	if (WIFSIGNALED(status))
		fail_msg("reading 160,001 sheets was killed by signal %d (SIGXCPU: more than %d CPU seconds)",
		         WTERMSIG(status), SHEETS_CPU_SECONDS);
	if (WEXITSTATUS(status) != 0)
		fail_msg("the duplicate sheet was not reported as expected");
	analysis_free(a);
}

/* An outline entry of 100 MB of zeros compresses to a few kilobytes: refused from its declared size, before any of
 * it is read into memory. */
static void test_zstd_bomb_refused_before_reading(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	struct pack p;
	tar_unpack(path_in("k.tar.zst"), &p);
	struct item *outline = tar_item_named(&p, "outline.json");
	free(outline->data);
	outline->len = (size_t)100 << 20;
	outline->data = calloc(outline->len + 1, 1);
	assert_non_null(outline->data);
	tar_repack(&p, path_in("bomb.tar.zst"), MTIME);
	struct stat st;
	assert_int_equal(stat(path_in("bomb.tar.zst"), &st), 0);
	assert_true(st.st_size < 200000);
	read_fails(path_in("bomb.tar.zst"), "outline.json: declares 104857600 bytes, more than");
	tar_pack_free(&p);
	analysis_free(a);
}

static void name_not_utf8(cJSON *root)
{
	cJSON *script = cJSON_GetObjectItemCaseSensitive(root, "script");
	cJSON_ReplaceItemInObjectCaseSensitive(script, "name", cJSON_CreateString("bad\xffname"));
}

/* A name that is not UTF-8 is refused by the writer and, forged into a manifest, by the reader. */
static void test_names_are_utf8(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	struct pack p;
	tar_unpack(path_in("k.tar.zst"), &p);
	tar_forge_manifest(&p, name_not_utf8);
	tar_repack(&p, path_in("name.tar.zst"), MTIME);
	read_fails(path_in("name.tar.zst"), "\"name\" is not valid UTF-8");
	tar_pack_free(&p);
	free(a->script_name);
	a->script_name = strdup("bad\xffname");
	char err[1024];
	assert_int_equal(analysis_write_archive(path_in("w.tar.zst"), a, MTIME, err, sizeof err), -1);
	assert_non_null(strstr(err, "not valid UTF-8"));
	analysis_free(a);
}

static void set_number(cJSON *root, const char *object, const char *key, double v)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(root, object);
	assert_non_null(cJSON_GetObjectItemCaseSensitive(o, key));
	cJSON_ReplaceItemInObjectCaseSensitive(o, key, cJSON_CreateNumber(v));
}

static void fewer_scenes(cJSON *root)
{
	set_number(root, "counts", "scenes", 2);
}

static void no_sheets(cJSON *root)
{
	set_number(root, "counts", "sheets", 0);
}

static void fewer_rows(cJSON *root)
{
	set_number(root, "embedding", "rows", 2);
}

static void wrong_outline_digest(cJSON *root)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "entries"), "outline.json");
	tar_set_digest(o, "digest", "something else", 14);
}

static void wrong_scenes_size(cJSON *root)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "entries"), "scenes.jsonl");
	cJSON_ReplaceItemInObjectCaseSensitive(o, "size", cJSON_CreateNumber(cJSON_GetObjectItemCaseSensitive(o, "size")
	                                                                             ->valuedouble + 1));
}

static void test_manifest_lies(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	struct pack p;

	tar_unpack(path_in("k.tar.zst"), &p);
	tar_forge_manifest(&p, NULL);
	tar_repack(&p, path_in("forged.tar.zst"), MTIME);
	analysis_free(read_ok(path_in("forged.tar.zst")));
	tar_pack_free(&p);

	tar_unpack(path_in("k.tar.zst"), &p);
	tar_forge_manifest(&p, lie_about_summaries);
	tar_repack(&p, path_in("lie.tar.zst"), MTIME);
	read_fails(path_in("lie.tar.zst"), "counts.summaries is 2 but summaries.jsonl holds 3");
	tar_pack_free(&p);

	tar_unpack(path_in("k.tar.zst"), &p);
	tar_forge_manifest(&p, lie_about_dims);
	tar_repack(&p, path_in("dims.tar.zst"), MTIME);
	read_fails(path_in("dims.tar.zst"), "embeddings.npy: shape (3, 8)");
	tar_pack_free(&p);

	static const struct {
		void (*edit)(cJSON *root);
		const char *want;
	} lies[] = {
		{ fewer_scenes, "counts.scenes is 2 but scenes.jsonl holds 3" },
		{ no_sheets, "counts.sheets is 0" },
		{ fewer_rows, "embeddings.npy: shape (3, 8), but the manifest says (2, 8)" },
		{ wrong_outline_digest, "outline.json: digest mismatch" },
		{ wrong_scenes_size, "scenes.jsonl: size mismatch" },
	};
	for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
		tar_unpack(path_in("k.tar.zst"), &p);
		tar_forge_manifest(&p, lies[i].edit);
		tar_repack(&p, path_in("lie.tar.zst"), MTIME);
		read_fails(path_in("lie.tar.zst"), lies[i].want);
		tar_pack_free(&p);
	}

	/* A manifest whose own digest lies. */
	tar_unpack(path_in("k.tar.zst"), &p);
	tar_forge_manifest(&p, NULL);
	struct item *m = tar_item_named(&p, "manifest.json");
	char *hex = strstr((char *)m->data, "\"manifest_digest\":\t\"xxh3-128:");
	assert_non_null(hex);
	hex += strlen("\"manifest_digest\":\t\"xxh3-128:");
	*hex = *hex == '0' ? '1' : '0';
	tar_repack(&p, path_in("lie.tar.zst"), MTIME);
	read_fails(path_in("lie.tar.zst"), "manifest.json: digest mismatch");
	tar_pack_free(&p);

	tar_unpack(path_in("k.tar.zst"), &p);
	tar_forge_manifest(&p, future_version);
	tar_repack(&p, path_in("v3.tar.zst"), MTIME);
	read_fails(path_in("v3.tar.zst"), "format_version 3");
	tar_pack_free(&p);

	/* A fourth scene line that the manifest does not count. */
	tar_unpack(path_in("k.tar.zst"), &p);
	struct item *sc = tar_item_named(&p, "summaries.jsonl");
	size_t extra = strlen("{\"scene\":4,\"model\":\"builtin-summary-1\",\"output\":null}\n");
	sc->data = realloc(sc->data, sc->len + extra + 1);
	memcpy(sc->data + sc->len, "{\"scene\":4,\"model\":\"builtin-summary-1\",\"output\":null}\n", extra + 1);
	sc->len += extra;
	tar_forge_manifest(&p, NULL);
	tar_repack(&p, path_in("extra.tar.zst"), MTIME);
	read_fails(path_in("extra.tar.zst"), "summaries.jsonl line 4");
	tar_pack_free(&p);
	analysis_free(a);
}

/* The peak resident size, in KB, of a child that reads path (or nothing, for NULL) and exits 0 when the read ends as
 * refuse says; the test fails when the child does not. */
static long read_peak_kb(const char *path, int refuse)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		int ok = 1;
		if (path) {
			char err[1024];
			struct analysis *a = NULL;
			ok = (analysis_read_archive(path, &a, err, sizeof err) != 0) == refuse;
			analysis_free(a);
		}
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		long kb = ru.ru_maxrss;
		_exit(write(fds[1], &kb, sizeof kb) == (ssize_t)sizeof kb && ok ? 0 : 1);
	}
	close(fds[1]);
	long kb = -1;
	ssize_t got = read(fds[0], &kb, sizeof kb);
	close(fds[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != (ssize_t)sizeof kb)
		fail_msg("reading %s: status 0x%x, want a clean %s", path ? path : "nothing", status,
		         refuse ? "refusal" : "read");
	return kb;
}

static void huge_manifest_shape(cJSON *root)
{
	set_number(root, "embedding", "rows", 1099511627776.0);
	set_number(root, "embedding", "dims", 1099511627776.0);
}

/* Shapes that would need petabytes are refused from the header and the manifest alone: at most 40 MiB more than
 * reading nothing, whatever the data that follows. */
static void test_huge_npy_shapes(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	static const struct {
		const char *dict;
		size_t keep;
		void (*edit)(cJSON *root);
	} cases[] = {
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4611686018427387904), }", SIZE_MAX, NULL },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 1), }", 0, NULL },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0, NULL },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 8), }", SIZE_MAX, NULL },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", SIZE_MAX,
		  huge_manifest_shape },
	};
	long base = read_peak_kb(NULL, 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pack p;
		tar_unpack(path_in("k.tar.zst"), &p);
		tar_with_npy_header(&p, cases[i].dict, cases[i].keep);
		tar_forge_manifest(&p, cases[i].edit);
		tar_repack(&p, path_in("npy.tar.zst"), MTIME);
		tar_pack_free(&p);
		read_fails(path_in("npy.tar.zst"), "embedding");
		long kb = read_peak_kb(path_in("npy.tar.zst"), 1);
		if (kb > base + (40L << 10))
			fail_msg("shape %s: %ld KB to refuse it, %ld KB to read nothing", cases[i].dict, kb, base);
	}
	analysis_free(a);
}

static void test_bad_npy(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	static const struct {
		const char *dict, *want;
	} cases[] = {
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 8), }", NULL },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 99999999999999), }", "shape" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", "shape" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (549755813888, 549755813888), }", "data bytes" },
		{ "{'descr': '>f4', 'fortran_order': False, 'shape': (3, 8), }", "dtype" },
		{ "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }", "dtype" },
		{ "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 8), }", "fortran_order" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (24,), }", "shape" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 8), 'x': 1}", "malformed" },
		{ "{'descr': '<f4', 'shape': (3, 8), }", "malformed" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pack p;
		tar_unpack(path_in("k.tar.zst"), &p);
		tar_with_npy_header(&p, cases[i].dict, 96);
		tar_forge_manifest(&p, NULL);
		tar_repack(&p, path_in("npy.tar.zst"), MTIME);
		if (cases[i].want) {
			read_fails(path_in("npy.tar.zst"), "embeddings.npy");
			read_fails(path_in("npy.tar.zst"), cases[i].want);
		} else {
			analysis_free(read_ok(path_in("npy.tar.zst")));
		}
		tar_pack_free(&p);
	}
	analysis_free(a);
}

static void test_bad_entries(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	static const struct {
		const char *rename_from, *rename_to;
		unsigned type;
		int duplicate, drop;
		const char *want;
	} cases[] = {
		{ "outline.json", "../x", AE_IFREG, 0, 0, "../x: unexpected entry" },
		{ "outline.json", "/etc/x", AE_IFREG, 0, 0, "/etc/x: unexpected entry" },
		{ "outline.json", "notes.txt", AE_IFREG, 0, 0, "notes.txt: unexpected entry" },
		{ "outline.json", "./outline.json", AE_IFREG, 0, 0, "./outline.json: unexpected entry" },
		{ "outline.json", "outline.json/../../x", AE_IFREG, 0, 0, "outline.json/../../x: unexpected entry" },
		{ "outline.json", "outline.json", AE_IFDIR, 0, 0, "outline.json/: unexpected entry" },
		{ "outline.json", "outline.json", AE_IFLNK, 0, 0, "outline.json: not a regular file" },
		{ "summaries.jsonl", "summaries.jsonl", AE_IFREG, 1, 0, "summaries.jsonl: appears twice" },
		{ "sheets.jsonl", "sheets.jsonl", AE_IFREG, 0, 1, "sheets.jsonl: missing from the archive" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pack p;
		tar_unpack(path_in("k.tar.zst"), &p);
		struct item *it = tar_item_named(&p, cases[i].rename_from);
		if (!it)
			abort();
		snprintf(it->name, sizeof it->name, "%s", cases[i].rename_to);
		it->type = cases[i].type;
		if (cases[i].duplicate) {
			p.items[p.n] = *it;
			p.items[p.n].data = malloc(it->len + 1);
			memcpy(p.items[p.n].data, it->data, it->len + 1);
			p.n++;
		}
		if (cases[i].drop)
			it->name[0] = '\0';
		struct pack q = p;
		if (cases[i].drop) {
			q.n = 0;
			for (int j = 0; j < p.n; j++)
				if (p.items[j].name[0])
					q.items[q.n++] = p.items[j];
		}
		tar_repack(&q, path_in("bad.tar.zst"), MTIME);
		read_fails(path_in("bad.tar.zst"), cases[i].want);
		tar_pack_free(&p);
	}

	/* The six right entries and one more in front: refused, and nothing is written where its name points. */
	struct pack p;
	tar_unpack(path_in("k.tar.zst"), &p);
	memmove(&p.items[1], &p.items[0], (size_t)p.n * sizeof p.items[0]);
	p.n++;
	snprintf(p.items[0].name, sizeof p.items[0].name, "../x");
	p.items[0].data = (unsigned char *)strdup("planted\n");
	p.items[0].type = AE_IFREG;
	p.items[0].len = 8;
	tar_repack(&p, path_in("planted.tar.zst"), MTIME);
	tar_pack_free(&p);
	char cwd[1024];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(mkdir(path_in("run"), 0755), 0);
	assert_int_equal(chdir(path_in("run")), 0);
	read_fails(path_in("planted.tar.zst"), "../x: unexpected entry");
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(access(path_in("x"), F_OK), -1);
	analysis_free(a);
}

static void no_temp_files(void)
{
	DIR *d = opendir(tmp);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, ".k.tar.zst.", 11) == 0)
			fail_msg("temporary file %s left behind", e->d_name);
	closedir(d);
}

static void test_write_errors(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	char err[1024];

	/* A directory that cannot exist: a path under a regular file. */
	spit(path_in("plain"), "x", 1);
	assert_int_equal(analysis_write_archive(path_in("plain/k.tar.zst"), a, MTIME, err, sizeof err), -1);
	assert_non_null(strstr(err, "plain/k.tar.zst"));

	/* An output that is not a JSON object is named, and nothing is written. */
	free(a->summaries[1]);
	a->summaries[1] = sample_strdup("[1, 2]");
	assert_int_equal(analysis_write_archive(path_in("k.tar.zst"), a, MTIME, err, sizeof err), -1);
	assert_non_null(strstr(err, "summary of scene 2"));
	assert_int_equal(access(path_in("k.tar.zst"), F_OK), -1);
	no_temp_files();
	analysis_free(a);

	/* A file size limit hit mid-write: an error, no temporary file, and the old archive untouched. */
	a = sample_analysis("keeper", 0);
	write_ok(path_in("k.tar.zst"), a, MTIME);
	size_t len, len2;
	unsigned char *before = slurp(path_in("k.tar.zst"), &len);
	struct rlimit old, small;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 512;
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	int r = analysis_write_archive(path_in("k.tar.zst"), a, MTIME + 5, err, sizeof err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_equal(r, -1);
	assert_non_null(strstr(err, "k.tar.zst"));
	unsigned char *after = slurp(path_in("k.tar.zst"), &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(before, after, len);
	no_temp_files();
	free(before);
	free(after);
	analysis_free(a);
}

/* A killed writer's temporary file goes; a live writer's (it holds a lock on it) and other files stay, and so do a
 * user's files that merely look like temporary names (".s.analysis.tar.zst.backup", ".orig01"). */
static void test_stale_temps_removed_live_ones_kept(void **state)
{
	(void)state;
	const char *stale = path_in(".s.analysis.tar.zst.scriptbuild-tmp-AbC123");
	char *stale_path = strdup(stale);
	char *live_path = strdup(path_in(".s.analysis.tar.zst.scriptbuild-tmp-LiVe42"));
	char *other_path = strdup(path_in(".s.analysis.tar.zst.notatemp"));
	char *user_paths[3] = { strdup(path_in(".s.analysis.tar.zst.backup")), strdup(path_in(".s.analysis.tar.zst.orig01")),
		                strdup(path_in(".s.analysis.tar.zst.scriptbuild-tmp-MyNote")) };
	for (const char *p = stale_path; p; p = p == stale_path ? live_path : p == live_path ? other_path : NULL) {
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		fclose(f);
	}
	/* The last one has our name but a user's text in it: not ours, so it stays. */
	for (int i = 0; i < 3; i++) {
		FILE *f = fopen(user_paths[i], "w");
		assert_non_null(f);
		fputs("my notes\n", f);
		fclose(f);
	}
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t writer = fork();
	if (writer == 0) {
		int fd = open(live_path, O_RDWR);
		struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		if (fd < 0 || fcntl(fd, F_SETLK, &lk) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	analysis_remove_stale_temps(path_in("s.analysis.tar.zst"));
	assert_int_equal(access(stale_path, F_OK), -1);
	assert_int_equal(access(live_path, F_OK), 0);
	assert_int_equal(access(other_path, F_OK), 0);
	for (int i = 0; i < 3; i++) {
		if (access(user_paths[i], F_OK) != 0)
			fail_msg("the sweep removed the user's file %s", user_paths[i]);
	}
	kill(writer, SIGKILL);
	waitpid(writer, NULL, 0);
	/* Its writer is gone now: the next sweep takes it. */
	analysis_remove_stale_temps(path_in("s.analysis.tar.zst"));
	assert_int_equal(access(live_path, F_OK), -1);
	close(ready[0]);
	close(ready[1]);
	unlink(other_path);
	for (int i = 0; i < 3; i++) {
		unlink(user_paths[i]);
		free(user_paths[i]);
	}
	free(stale_path);
	free(live_path);
	free(other_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same_input_same_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_tar_extracts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_file_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_entry_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifest_lies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_npy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_npy_shapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_breakdown_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scene_zero_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_temps_removed_live_ones_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers_of_one_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_are_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_sheets_duplicate_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zstd_bomb_refused_before_reading, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
