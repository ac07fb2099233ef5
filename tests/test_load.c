/* test_load.c - analysis_load against a real SQLite file and a real PostgreSQL server ($PGTEST_URL): counts, exact
 * round trip, idempotence, replacement of one script only, and all-or-nothing on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "load.h"
#include "sample_analysis.h"

static const char *const tables[] = { "scripts", "scenes", "scene_summaries", "script_outlines", "character_sheets",
	                              "scene_embeddings", "characters", "scene_characters" };
static const char *const order_by[] = { "script_id", "script_id, scene_index", "script_id, scene_index", "script_id",
	                                "script_id, character_name", "script_id, scene_index", "script_id, character",
	                                "script_id, scene_index, character" };
enum { NTABLES = sizeof tables / sizeof *tables };

/* One database under test and a connection of the test's own to inspect it. */
struct db {
	int pg;
	char target[2048];
	char dir[256];               /* SQLite: the temp dir */
	char schema[64];             /* PostgreSQL: a schema of this test run, on the search path of both connections */
	sqlite3 *lite;
	PGconn *conn;
};

static struct db lite_db = { .pg = 0 }, pg_db = { .pg = 1 };

static void pg_exec(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
}

static int open_db(void **state)
{
	struct db *d = *state;
	if (!d->pg) {
		snprintf(d->dir, sizeof d->dir, "/tmp/test_load.XXXXXX");
		if (!mkdtemp(d->dir))
			return -1;
		snprintf(d->target, sizeof d->target, "sqlite:%s/analysis.db", d->dir);
		return sqlite3_open(d->target + 7, &d->lite) == SQLITE_OK ? 0 : -1;
	}
	const char *url = getenv("PGTEST_URL");
	if (!url || !*url) {
		fprintf(stderr, "PGTEST_URL is empty: PostgreSQL is required for these tests (tests/run.sh starts one)\n");
		return -1;
	}
	snprintf(d->schema, sizeof d->schema, "test_load_%ld", (long)getpid());
	snprintf(d->target, sizeof d->target, "%s%coptions=-csearch_path%%3D%s", url, strchr(url, '?') ? '&' : '?',
	         d->schema);
	PGconn *admin = PQconnectdb(url);
	if (PQstatus(admin) != CONNECTION_OK) {
		fprintf(stderr, "cannot connect to %s: %s", url, PQerrorMessage(admin));
		PQfinish(admin);
		return -1;
	}
	char sql[400];
	snprintf(sql, sizeof sql, "SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s",
	         d->schema, d->schema);
	PGresult *res = PQexec(admin, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	PQfinish(admin);
	d->conn = PQconnectdb(d->target);
	return ok && PQstatus(d->conn) == CONNECTION_OK ? 0 : -1;
}

static int close_db(void **state)
{
	struct db *d = *state;
	if (!d->pg) {
		sqlite3_close(d->lite);
		d->lite = NULL;
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->dir);
		return system(cmd) == 0 ? 0 : -1;
	}
	if (d->conn && PQstatus(d->conn) == CONNECTION_OK) {
		char sql[400];
		snprintf(sql, sizeof sql, "SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE", d->schema);
		PQclear(PQexec(d->conn, sql));
	}
	PQfinish(d->conn);
	d->conn = NULL;
	return 0;
}

/* Appends every row of the query to out, one line per row, fields separated by " | ", NULL as \N; BLOBs in hex. */
static void dump_query(struct db *d, const char *sql, FILE *out)
{
	if (d->pg) {
		PGresult *res = PQexec(d->conn, sql);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", sql, PQresultErrorMessage(res));
		for (int r = 0; r < PQntuples(res); r++) {
			for (int c = 0; c < PQnfields(res); c++)
				fprintf(out, "%s%s", c ? " | " : "", PQgetisnull(res, r, c) ? "\\N" : PQgetvalue(res, r, c));
			fputc('\n', out);
		}
		PQclear(res);
		return;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(d->lite, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(d->lite));
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(st); c++) {
			fputs(c ? " | " : "", out);
			if (sqlite3_column_type(st, c) == SQLITE_NULL) {
				fputs("\\N", out);
			} else if (sqlite3_column_type(st, c) == SQLITE_BLOB) {
				const unsigned char *b = sqlite3_column_blob(st, c);
				for (int i = 0; i < sqlite3_column_bytes(st, c); i++)
					fprintf(out, "%02x", b[i]);
			} else {
				fputs((const char *)sqlite3_column_text(st, c), out);
			}
		}
		fputc('\n', out);
	}
	sqlite3_finalize(st);
}

/* Every row of every table (and the schema version); imported_at only when with_time. */
static char *dump(struct db *d, int with_time, const char *only_script)
{
	char *text;
	size_t len;
	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	dump_query(d, "SELECT version FROM scriptbuild_schema", out);
	for (int t = 0; t < NTABLES; t++) {
		char sql[300];
		char where[100] = "";
		if (only_script)
			snprintf(where, sizeof where, " WHERE script_id = '%s'", only_script);
		if (t == 0 && !with_time)
			snprintf(sql, sizeof sql, "SELECT script_id, title, source_digest, tool_version FROM scripts%s ORDER BY %s",
			         where, order_by[t]);
		else
			snprintf(sql, sizeof sql, "SELECT * FROM %s%s ORDER BY %s", tables[t], where, order_by[t]);
		fprintf(out, "-- %s\n", tables[t]);
		dump_query(d, sql, out);
	}
	fclose(out);
	return text;
}

/* The first field of the first row, malloc'd; NULL for no row or SQL NULL. */
static char *query1(struct db *d, const char *sql)
{
	char *text;
	size_t len;
	FILE *out = open_memstream(&text, &len);
	dump_query(d, sql, out);
	fclose(out);
	if (!len || strncmp(text, "\\N\n", 3) == 0 || strncmp(text, "\\N | ", 5) == 0) {
		free(text);
		return NULL;
	}
	char *bar = strstr(text, " | ");
	if (bar)
		*bar = '\0';
	char *nl = strrchr(text, '\n');
	if (nl && !bar)
		*nl = '\0';
	return text;
}

static long count(struct db *d, const char *table, const char *script)
{
	char sql[200];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE script_id = '%s'", table, script);
	char *n = query1(d, sql);
	assert_non_null(n);
	long v = strtol(n, NULL, 10);
	free(n);
	return v;
}

static void load_ok(struct db *d, const char *script_id, const struct analysis *a)
{
	char err[2048] = "";
	if (analysis_load(d->target, script_id, a, err, sizeof err) != 0)
		fail_msg("load into %s: %s", d->target, err);
}

static void expect_counts(struct db *d, const char *id, long scenes, long summaries, long outline, long sheets,
                          long embeddings)
{
	assert_int_equal(count(d, "scripts", id), 1);
	assert_int_equal(count(d, "scenes", id), scenes);
	assert_int_equal(count(d, "scene_summaries", id), summaries);
	assert_int_equal(count(d, "script_outlines", id), outline);
	assert_int_equal(count(d, "character_sheets", id), sheets);
	assert_int_equal(count(d, "scene_embeddings", id), embeddings);
}

static void json_same(const char *x, const char *y)
{
	cJSON *a = cJSON_Parse(x), *b = cJSON_Parse(y);
	assert_non_null(a);
	assert_non_null(b);
	if (!cJSON_Compare(a, b, 1))
		fail_msg("JSON differs:\n%s\n%s", x, y);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void expect_embedding(struct db *d, const char *id, int scene, const float *want, size_t dims)
{
	char sql[200];
	snprintf(sql, sizeof sql, "SELECT embedding, dims FROM scene_embeddings WHERE script_id = '%s' AND scene_index = %d",
	         id, scene);
	if (!d->pg) {
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(d->lite, sql, -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_bytes(st, 0), (int)(dims * 4));
		assert_int_equal(sqlite3_column_int(st, 1), (int)dims);
		const unsigned char *b = sqlite3_column_blob(st, 0);
		for (size_t i = 0; i < dims; i++) {
			uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16
			             | (uint32_t)b[4 * i + 3] << 24;
			float f;
			memcpy(&f, &u, 4);
			assert_true(f == want[i]);
		}
		sqlite3_finalize(st);
		return;
	}
	char *text = query1(d, sql);
	assert_non_null(text);
	assert_int_equal(text[0], '{');
	char *p = text + 1;
	for (size_t i = 0; i < dims; i++) {
		char *end;
		float f = strtof(p, &end);
		if (f != want[i])
			fail_msg("embedding %d[%zu]: %.9g in the database, %.9g loaded (%s)", scene, i, (double)f,
			         (double)want[i], text);
		p = end + 1;
	}
	assert_string_equal(p - 1, "}");
	free(text);
}

static void test_counts_and_round_trip(void **state)
{
	struct db *d = *state;
	struct analysis *a = sample_analysis("keeper", 0);
	load_ok(d, NULL, a);
	expect_counts(d, "keeper", 3, 3, 1, 2, 3);
	char *s = query1(d, "SELECT summary_text FROM scene_summaries WHERE scene_index = 1");
	assert_string_equal(s, "Scene 1: Margit\ttends the lamp;\nJonas waits \\ watches.");
	free(s);
	s = query1(d, "SELECT details FROM scene_summaries WHERE scene_index = 2");
	json_same(s, a->summaries[1]);
	free(s);
	s = query1(d, "SELECT outline_text FROM script_outlines");
	assert_string_equal(s, "Margit keeps the lamp burning through one long night.");
	free(s);
	s = query1(d, "SELECT sheet_text FROM character_sheets WHERE character_name = 'JONAS \"JO\" VEIT'");
	assert_string_equal(s, "A fisherman with a debt.");
	free(s);
	s = query1(d, "SELECT model FROM character_sheets WHERE character_name = 'MARGIT'");
	assert_string_equal(s, "builtin-sheet-1");
	free(s);
	s = query1(d, "SELECT scene_number FROM scenes WHERE scene_index = 2");
	assert_null(s);
	s = query1(d, "SELECT heading FROM scenes WHERE scene_index = 3");
	assert_string_equal(s, "INT. BOAT CABIN - DAY");
	free(s);
	s = query1(d, "SELECT source_digest FROM scripts");
	char want[64];
	snprintf(want, sizeof want, "xxh3-128:%s", a->script_digest);
	assert_string_equal(s, want);
	free(s);
	s = query1(d, "SELECT imported_at FROM scripts");
	assert_non_null(s);
	free(s);
	for (int i = 0; i < 3; i++)
		expect_embedding(d, "keeper", i + 1, a->embeddings + i * 8, 8);
	analysis_free(a);
}

static void test_idempotent(void **state)
{
	struct db *d = *state;
	struct analysis *a = sample_analysis("keeper", 0);
	load_ok(d, NULL, a);
	char *before = dump(d, 0, NULL);
	load_ok(d, NULL, a);
	char *after = dump(d, 0, NULL);
	assert_string_equal(before, after);
	expect_counts(d, "keeper", 3, 3, 1, 2, 3);
	free(before);
	free(after);
	analysis_free(a);
}

static void test_replaces_only_its_script(void **state)
{
	struct db *d = *state;
	struct analysis *keeper = sample_analysis("keeper", 0);
	struct analysis *other = sample_analysis("harbour", 0);
	struct analysis *edited = sample_analysis("keeper", 1);
	load_ok(d, NULL, keeper);
	load_ok(d, NULL, other);
	char *other_before = dump(d, 1, "harbour");
	char *keeper_before = dump(d, 0, "keeper");
	load_ok(d, NULL, edited);
	char *other_after = dump(d, 1, "harbour");
	char *keeper_after = dump(d, 0, "keeper");
	assert_string_equal(other_before, other_after);
	assert_string_not_equal(keeper_before, keeper_after);
	char *s = query1(d, "SELECT summary_text FROM scene_summaries WHERE script_id = 'keeper' AND scene_index = 3");
	assert_string_equal(s, "Scene 3 (rewritten): Margit\ttends the lamp;\nJonas waits \\ watches.");
	free(s);
	s = query1(d, "SELECT title FROM scripts WHERE script_id = 'keeper'");
	assert_string_equal(s, "The Keeper (revised)");
	free(s);
	expect_embedding(d, "keeper", 2, edited->embeddings + 8, 8);
	expect_embedding(d, "harbour", 2, other->embeddings + 8, 8);

	/* An explicit script id is a third, separate script. */
	load_ok(d, "keeper-draft", keeper);
	expect_counts(d, "keeper-draft", 3, 3, 1, 2, 3);
	char *other_last = dump(d, 1, "harbour");
	assert_string_equal(other_before, other_last);
	free(other_before);
	free(other_after);
	free(other_last);
	free(keeper_before);
	free(keeper_after);
	analysis_free(keeper);
	analysis_free(other);
	analysis_free(edited);
}

static void test_failure_rolls_back(void **state)
{
	struct db *d = *state;
	struct analysis *keeper = sample_analysis("keeper", 0);
	struct analysis *other = sample_analysis("harbour", 0);
	load_ok(d, NULL, keeper);
	load_ok(d, NULL, other);
	char *before = dump(d, 1, NULL);

	/* The sheets go in after the scripts, scenes, summaries and outline rows: all of those must vanish. */
	struct analysis *bad = sample_analysis("keeper", 1);
	free(bad->sheets[1].character);
	bad->sheets[1].character = NULL;
	char err[2048] = "";
	assert_int_equal(analysis_load(d->target, NULL, bad, err, sizeof err), -1);
	if (!strstr(err, "character_sheets"))
		fail_msg("error does not name the table: %s", err);
	char *after = dump(d, 1, NULL);
	assert_string_equal(before, after);
	free(after);

	/* The same for a primary key violated by a duplicate sheet. */
	free(bad->sheets[1].character);
	bad->sheets[1].character = sample_strdup("MARGIT");
	assert_int_equal(analysis_load(d->target, NULL, bad, err, sizeof err), -1);
	if (!strstr(err, "character_sheets"))
		fail_msg("error does not name the table: %s", err);
	after = dump(d, 1, NULL);
	assert_string_equal(before, after);
	free(after);
	free(before);
	analysis_free(bad);
	analysis_free(keeper);
	analysis_free(other);
}

static void test_partial(void **state)
{
	struct db *d = *state;
	struct analysis *a = sample_partial("keeper");
	load_ok(d, NULL, a);
	expect_counts(d, "keeper", 3, 2, 0, 1, 2);
	char *s = query1(d, "SELECT count(*) FROM scene_summaries WHERE scene_index = 2");
	assert_string_equal(s, "0");
	free(s);
	analysis_free(a);
}

static void test_newer_schema_refused(void **state)
{
	struct db *d = *state;
	struct analysis *a = sample_analysis("keeper", 0);
	load_ok(d, NULL, a);
	if (d->pg)
		pg_exec(d->conn, "UPDATE scriptbuild_schema SET version = 3");
	else
		assert_int_equal(sqlite3_exec(d->lite, "UPDATE scriptbuild_schema SET version = 3", NULL, NULL, NULL), 0);
	char *before = dump(d, 1, NULL);
	char err[2048] = "";
	assert_int_equal(analysis_load(d->target, NULL, a, err, sizeof err), -1);
	if (!strstr(err, "schema version 3"))
		fail_msg("unexpected error: %s", err);
	char *after = dump(d, 1, NULL);
	assert_string_equal(before, after);
	free(before);
	free(after);
	analysis_free(a);
}

/* Runs sql on the test's own connection to the database under test. */
static void db_exec(struct db *d, const char *sql)
{
	if (d->pg)
		pg_exec(d->conn, sql);
	else if (sqlite3_exec(d->lite, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(d->lite));
}

/* A load that must be refused with a message containing both needles, leaving every row as it was. */
static void load_refused(struct db *d, const struct analysis *a, const char *needle1, const char *needle2,
                         const char *probe)
{
	char *before = query1(d, probe);
	char err[2048] = "";
	assert_int_equal(analysis_load(d->target, NULL, a, err, sizeof err), -1);
	if (!strstr(err, needle1) || !strstr(err, needle2))
		fail_msg("the refusal does not name %s and %s: %s", needle1, needle2, err);
	char *after = query1(d, probe);
	assert_non_null(before);
	assert_non_null(after);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* Another application's scenes table, with the same script id: not ours (no marker), so never written. */
static void test_foreign_table_refused(void **state)
{
	struct db *d = *state;
	struct analysis *a = sample_analysis("keeper", 0);
	db_exec(d, "CREATE TABLE scenes (script_id TEXT, scene_index INTEGER, scene_number TEXT, heading TEXT, "
	           "line INTEGER, owner TEXT)");
	db_exec(d, "INSERT INTO scenes VALUES ('keeper', 1, NULL, 'THEIRS', 1, 'another app')");
	load_refused(d, a, "scenes", "scriptbuild_schema", "SELECT count(*) || ' ' || max(owner) FROM scenes");
	char *n = query1(d, "SELECT count(*) FROM scenes WHERE owner = 'another app'");
	assert_string_equal(n, "1");
	free(n);
	analysis_free(a);
}

/* Our marker, but a table someone changed: an added column or a different type is named and nothing is written. */
static void test_changed_columns_refused(void **state)
{
	struct db *d = *state;
	struct analysis *a = sample_analysis("keeper", 0);
	load_ok(d, NULL, a);
	db_exec(d, "ALTER TABLE scenes ADD COLUMN owner TEXT");
	load_refused(d, a, "table scenes", "column owner", "SELECT count(*) FROM scenes");
	db_exec(d, "ALTER TABLE scenes DROP COLUMN owner");
	load_ok(d, NULL, a);

	db_exec(d, "DROP TABLE scene_embeddings");
	db_exec(d, d->pg ? "CREATE TABLE scene_embeddings (script_id text NOT NULL, scene_index integer NOT NULL, "
	                   "model text NOT NULL, dims integer NOT NULL, embedding bytea NOT NULL)"
	                 : "CREATE TABLE scene_embeddings (script_id TEXT NOT NULL, scene_index INTEGER NOT NULL, "
	                   "model TEXT NOT NULL, dims INTEGER NOT NULL, embedding TEXT NOT NULL)");
	load_refused(d, a, "table scene_embeddings", "column embedding", "SELECT count(*) FROM scenes");
	char *n = query1(d, "SELECT count(*) FROM scene_embeddings");
	assert_string_equal(n, "0");
	free(n);
	analysis_free(a);
}

/* A present, current schema is loaded with DML alone: a role that may not create anything can load. */
static void test_dml_only_role(void **state)
{
	struct db *d = *state;
	struct analysis *a = sample_analysis("keeper", 0);
	load_ok(d, NULL, a);
	if (!d->pg) {
		/* SQLite has no roles; a read-only schema of our own making must still need no DDL: no change to it. */
		char *before = query1(d, "SELECT group_concat(sql, ';') FROM sqlite_master");
		load_ok(d, NULL, a);
		char *after = query1(d, "SELECT group_concat(sql, ';') FROM sqlite_master");
		assert_string_equal(before, after);
		free(before);
		free(after);
		analysis_free(a);
		return;
	}
	char role[80], sql[1000];
	snprintf(role, sizeof role, "%s_dml", d->schema);
	snprintf(sql, sizeof sql,
	         "SET client_min_messages = warning; DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN; "
	         "REVOKE CREATE ON SCHEMA %s FROM PUBLIC; GRANT USAGE ON SCHEMA %s TO %s; "
	         "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %s TO %s",
	         role, role, d->schema, d->schema, role, d->schema, role);
	pg_exec(d->conn, sql);
	char target[2300];
	const char *user = strstr(d->target, "user=postgres");
	assert_non_null(user);
	snprintf(target, sizeof target, "%.*suser=%s%s", (int)(user - d->target), d->target, role,
	         user + strlen("user=postgres"));
	struct analysis *edited = sample_analysis("keeper", 1);
	char err[2048] = "";
	int r = analysis_load(target, NULL, edited, err, sizeof err);
	snprintf(sql, sizeof sql, "REASSIGN OWNED BY %s TO postgres; DROP OWNED BY %s; DROP ROLE %s", role, role, role);
	if (r != 0)
		fail_msg("a DML-only role could not load: %s", err);
	char *s = query1(d, "SELECT title FROM scripts WHERE script_id = 'keeper'");
	assert_string_equal(s, "The Keeper (revised)");
	free(s);
	pg_exec(d->conn, sql);
	analysis_free(a);
	analysis_free(edited);
}

/* The breakdown is in the database whatever the provider: who is in which scene, the stripboard columns, the
 * per-character facts. */
static void test_breakdown_rows(void **state)
{
	struct db *d = *state;
	struct analysis *a = sample_analysis("keeper", 0);
	load_ok(d, NULL, a);
	static const struct {
		const char *sql, *want;
	} q[] = {
		{ "SELECT string_agg(CAST(scene_index AS text) || ':' || CAST(speaking AS text), ',') FROM (SELECT "
		  "scene_index, speaking FROM scene_characters WHERE character = 'JONAS \"JO\" VEIT' ORDER BY scene_index) x",
		  "1:1,2:1,3:0" },
		{ "SELECT count(*) FROM scene_characters WHERE character = 'MARGIT' AND speaking = 1", "3" },
		{ "SELECT sum(cues) || ' ' || sum(words) FROM scene_characters WHERE character = 'MARGIT'", "9 93" },
		{ "SELECT int_ext || ' ' || location || ' ' || time_of_day || ' ' || time_text || ' ' || heading_note || ' ' || "
		  "CAST(eighths AS text) FROM scenes WHERE scene_index = 2", "EXT PIER DAWN DAWN 1985 2" },
		{ "SELECT sum(eighths) FROM scenes WHERE script_id = 'keeper'", "9" },
		{ "SELECT count(*) FROM scenes WHERE time_of_day IS NULL AND scene_index = 3", "1" },
		{ "SELECT CAST(before_first_heading AS text) || ' ' || CAST(action_words AS text) || ' ' || "
		  "CAST(dialogue_words AS text) FROM scenes WHERE scene_index = 1", "0 40 30" },
		{ "SELECT cues || ' ' || words || ' ' || scenes || ' ' || first_scene || ' ' || last_scene || ' ' || "
		  "mentioned_scenes FROM characters WHERE character = 'JONAS \"JO\" VEIT'", "4 51 2 1 2 1" },
		{ "SELECT CAST(share * 10000 AS integer) FROM characters WHERE character = 'MARGIT'", "7018" },
	};
	for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
		char sql[600];
		snprintf(sql, sizeof sql, "%s", q[i].sql);
		if (!d->pg) {
			/* SQLite says group_concat for string_agg. */
			char *at = strstr(sql, "string_agg(");
			if (at) {
				char rest[600];
				snprintf(rest, sizeof rest, "%s", at + strlen("string_agg("));
				snprintf(at, sizeof sql - (size_t)(at - sql), "group_concat(%s", rest);
			}
		}
		char *got = query1(d, sql);
		if (!got || strcmp(got, q[i].want) != 0)
			fail_msg("%s: got %s, want %s", sql, got ? got : "NULL", q[i].want);
		free(got);
	}
	char *details = query1(d, "SELECT details FROM characters WHERE character = 'JONAS \"JO\" VEIT'");
	assert_non_null(details);
	json_same(details, "{\"scenes\":[1,2],\"mentioned_in\":[3],\"copresence\":[{\"character\":\"MARGIT\","
	                   "\"scenes\":3}]}");
	free(details);
	analysis_free(a);
}

/* Version 1's tables exactly as scriptload 1 made them, with a row of another script. */
static void make_v1(struct db *d, int marked)
{
	const char *text = d->pg ? "text" : "TEXT", *integer = d->pg ? "integer" : "INTEGER";
	const char *json = d->pg ? "jsonb" : "TEXT", *vec = d->pg ? "real[]" : "BLOB";
	const char *now = d->pg ? "timestamptz NOT NULL DEFAULT now()"
	                        : "TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
	char sql[4000];
	snprintf(sql, sizeof sql,
	         "CREATE TABLE scripts (script_id %s NOT NULL, title %s, source_digest %s NOT NULL, tool_version %s NOT NULL, "
	         "imported_at %s, PRIMARY KEY (script_id));"
	         "CREATE TABLE scenes (script_id %s NOT NULL, scene_index %s NOT NULL, scene_number %s, heading %s NOT NULL, "
	         "line %s NOT NULL, PRIMARY KEY (script_id, scene_index));"
	         "CREATE TABLE scene_summaries (script_id %s NOT NULL, scene_index %s NOT NULL, summary_text %s, model %s NOT "
	         "NULL, details %s NOT NULL, PRIMARY KEY (script_id, scene_index));"
	         "CREATE TABLE script_outlines (script_id %s NOT NULL, outline_text %s, model %s NOT NULL, details %s NOT NULL, "
	         "PRIMARY KEY (script_id));"
	         "CREATE TABLE character_sheets (script_id %s NOT NULL, character_name %s NOT NULL, sheet_text %s, model %s "
	         "NOT NULL, details %s NOT NULL, PRIMARY KEY (script_id, character_name));"
	         "CREATE TABLE scene_embeddings (script_id %s NOT NULL, scene_index %s NOT NULL, model %s NOT NULL, dims %s "
	         "NOT NULL, embedding %s NOT NULL, PRIMARY KEY (script_id, scene_index));"
	         "INSERT INTO scripts (script_id, title, source_digest, tool_version) VALUES ('old', 'Old', 'x', '0.0.9');"
	         "INSERT INTO scenes VALUES ('old', 1, NULL, 'INT. OLD - DAY', 3);",
	         text, text, text, text, now, text, integer, text, text, integer, text, integer, text, text, json, text,
	         text, text, json, text, text, text, text, json, text, integer, text, integer, vec);
	db_exec(d, sql);
	if (marked)
		db_exec(d, "CREATE TABLE scriptbuild_schema (version INTEGER NOT NULL); INSERT INTO scriptbuild_schema "
		           "VALUES (1)");
}

/* A database of schema version 1 (marked, or from before the marker) is migrated, never refused or silently used:
 * new columns and tables appear, the version says 2, the old script's rows stay, the new script has its breakdown. */
static void migrate_from_v1(struct db *d, int marked)
{
	make_v1(d, marked);
	struct analysis *a = sample_analysis("keeper", 0);
	load_ok(d, NULL, a);
	char *v = query1(d, "SELECT max(version) FROM scriptbuild_schema");
	assert_string_equal(v, "2");
	free(v);
	char *old = query1(d, "SELECT heading || ' ' || coalesce(CAST(eighths AS text), 'null') FROM scenes WHERE "
	                      "script_id = 'old'");
	assert_string_equal(old, "INT. OLD - DAY null");
	free(old);
	char *jonas = query1(d, "SELECT count(*) FROM scene_characters WHERE character = 'JONAS \"JO\" VEIT'");
	assert_string_equal(jonas, "3");
	free(jonas);
	/* A second load finds the current schema and needs no DDL. */
	load_ok(d, NULL, a);
	expect_counts(d, "keeper", 3, 3, 1, 2, 3);
	analysis_free(a);
}

static void test_migrates_marked_v1(void **state)
{
	migrate_from_v1(*state, 1);
}

static void test_migrates_unmarked_v1(void **state)
{
	migrate_from_v1(*state, 0);
}

static void test_unreachable_target(void **state)
{
	struct db *d = *state;
	struct analysis *a = sample_analysis("keeper", 0);
	char err[2048] = "";
	char target[2200];
	if (d->pg)
		snprintf(target, sizeof target, "postgresql://scriptload:s3cret@127.0.0.1:1/none?connect_timeout=2");
	else
		snprintf(target, sizeof target, "%s/no/such/dir/x.db", d->dir);
	assert_int_equal(analysis_load(target, NULL, a, err, sizeof err), -1);
	assert_true(strlen(err) > 0);
	if (strstr(err, "s3cret"))
		fail_msg("the password leaked into the message: %s", err);
	analysis_free(a);
}

static void test_password_masked(void **state)
{
	(void)state;
	char out[256];
	load_target_shown("postgresql://ann:pa:ss@db.example/x?sslmode=require&password=two&user=ann", out, sizeof out);
	assert_string_equal(out, "postgresql://ann:***@db.example/x?sslmode=require&password=***&user=ann");
	load_target_shown("postgres://db.example/x", out, sizeof out);
	assert_string_equal(out, "postgres://db.example/x");
	load_target_shown("sqlite:/tmp/a:b@c.db", out, sizeof out);
	assert_string_equal(out, "sqlite:/tmp/a:b@c.db");
}

#define BOTH(fn)                                                                                                     \
	{ "sqlite: " #fn, fn, open_db, close_db, &lite_db }, { "postgresql: " #fn, fn, open_db, close_db, &pg_db }

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_counts_and_round_trip),
		BOTH(test_idempotent),
		BOTH(test_replaces_only_its_script),
		BOTH(test_failure_rolls_back),
		BOTH(test_partial),
		BOTH(test_newer_schema_refused),
		BOTH(test_foreign_table_refused),
		BOTH(test_changed_columns_refused),
		BOTH(test_dml_only_role),
		BOTH(test_breakdown_rows),
		BOTH(test_migrates_marked_v1),
		BOTH(test_migrates_unmarked_v1),
		BOTH(test_unreachable_target),
		cmocka_unit_test(test_password_masked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
