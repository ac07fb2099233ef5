/* load_sqlite.c - one script's rows into SQLite: BEGIN IMMEDIATE, create, delete, prepared inserts, COMMIT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "load_tables.h"

/* Another loader holding the write lock gets this long to finish before we give up. */
#define BUSY_TIMEOUT_MS 10000

static const char *sql_type(enum load_type t)
{
	switch (t) {
	case LOAD_INT:
		return "INTEGER";
	case LOAD_VECTOR:
		return "BLOB";
	case LOAD_NOW:
		return "TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
	case LOAD_REAL:
		return "REAL";
	case LOAD_TEXT:
	case LOAD_JSON:
		break;
	}
	return "TEXT";
}

static int fail(sqlite3 *db, const char *path, const char *step, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s: %s", path, step, db ? sqlite3_errmsg(db) : "out of memory");
	return -1;
}

static int exec(sqlite3 *db, const char *sql, const char *path, const char *step, char *err, size_t errlen)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(db, path, step, err, errlen);
}

/* The columns of table name as PRAGMA table_info reports them; *n is 0 when there is no such table. */
static int table_columns(sqlite3 *db, const char *name, struct load_found *found, size_t max, size_t *n,
                         const char *path, char *err, size_t errlen)
{
	char sql[128];
	sqlite3_stmt *st;
	snprintf(sql, sizeof sql, "PRAGMA main.table_info(\"%s\")", name);
	*n = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(db, path, name, err, errlen);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *col = (const char *)sqlite3_column_text(st, 1), *type = (const char *)sqlite3_column_text(st, 2);
		if (*n == max) {
			snprintf(err, errlen, "%s: table %s has more than %zu columns: it is not the table scriptbuild creates; "
			         "load into another database, or drop the table", path, name, max);
			sqlite3_finalize(st);
			return -1;
		}
		snprintf(found[*n].name, sizeof found[*n].name, "%s", col ? col : "");
		snprintf(found[*n].type, sizeof found[*n].type, "%s", type && *type ? type : "(none)");
		(*n)++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail(db, path, name, err, errlen);
}

static int sqlite_type_ok(enum load_type type, const char *declared)
{
	const char *want = type == LOAD_NOW ? "TEXT" : sql_type(type);
	return strcasecmp(declared, want) == 0;
}

/* 1 when table t exists with exactly our columns, 0 when it does not exist, -1 (err) when it is not ours. */
static int check_table(sqlite3 *db, const struct load_table *t, const char *path, char *err, size_t errlen)
{
	struct load_found found[32];
	size_t n;
	if (table_columns(db, t->name, found, 32, &n, path, err, errlen) < 0)
		return -1;
	if (n == 0)
		return 0;
	return load_check_columns(t, found, n, sqlite_type_ok, path, err, errlen) < 0 ? -1 : 1;
}

/* The marker's version into *version; LOAD_VERSION_CURRENT, LOAD_VERSION_OLDER, or -1 with err. */
static int read_version(sqlite3 *db, long long *version_out, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT max(version) FROM " LOAD_MARKER_TABLE, -1, &st, NULL) != SQLITE_OK
	    || sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return fail(db, path, LOAD_MARKER_TABLE, err, errlen);
	}
	int empty = sqlite3_column_type(st, 0) == SQLITE_NULL;
	sqlite3_int64 version = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (empty) {
		snprintf(err, errlen, "%s: %s: the table is empty, so the schema version is unknown; load into another "
		         "database, or insert the version (%d) if this database was made by scriptload", path,
		         LOAD_MARKER_TABLE, LOAD_SCHEMA_VERSION);
		return -1;
	}
	*version_out = version;
	return load_check_version(version, path, err, errlen);
}

/* Runs a statement built in a memory stream; fails on a stream error too. */
static int exec_stream(sqlite3 *db, FILE *f, char **sql, const char *path, const char *step, char *err, size_t errlen)
{
	if (fclose(f) != 0) {
		free(*sql);
		snprintf(err, errlen, "%s: %s: out of memory", path, step);
		return -1;
	}
	int r = exec(db, *sql, path, step, err, errlen);
	free(*sql);
	return r;
}

static int create_table(sqlite3 *db, const struct load_table *t, const char *path, char *err, size_t errlen)
{
	char *sql;
	size_t len;
	FILE *f = open_memstream(&sql, &len);
	if (!f)
		return fail(NULL, path, t->name, err, errlen);
	fprintf(f, "CREATE TABLE %s (", t->name);
	for (size_t c = 0; c < t->ncols; c++)
		fprintf(f, "%s%s %s%s", c ? ", " : "", t->cols[c].name, sql_type(t->cols[c].type),
		        t->cols[c].required && t->cols[c].type != LOAD_NOW ? " NOT NULL" : "");
	if (t->key)
		fprintf(f, ", PRIMARY KEY (%s)", t->key);
	if (t->refs)
		fprintf(f, ", %s", t->refs);
	fputc(')', f);
	return exec_stream(db, f, &sql, path, t->name, err, errlen);
}

static int delete_rows(sqlite3 *db, const struct load_table *t, const char *script_id, const char *path, char *err,
                       size_t errlen)
{
	char sql[128];
	sqlite3_stmt *st;
	snprintf(sql, sizeof sql, "DELETE FROM %s WHERE script_id = ?1", t->name);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK
	    || sqlite3_bind_text(st, 1, script_id, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		return fail(db, path, t->name, err, errlen);
	}
	sqlite3_finalize(st);
	return 0;
}

static int bind_cell(sqlite3_stmt *st, int slot, enum load_type type, const struct load_value *v, size_t dims,
                     unsigned char *blob)
{
	switch (type) {
	case LOAD_INT:
		return v->null ? sqlite3_bind_null(st, slot) : sqlite3_bind_int64(st, slot, v->num);
	case LOAD_REAL:
		return v->null ? sqlite3_bind_null(st, slot) : sqlite3_bind_double(st, slot, v->real);
	case LOAD_VECTOR:
		/* float32 little-endian whatever the host's byte order, as embeddings.npy stores them. */
		for (size_t d = 0; d < dims; d++) {
			uint32_t u;
			memcpy(&u, &v->vec[d], 4);
			for (int b = 0; b < 4; b++)
				blob[4 * d + (size_t)b] = (unsigned char)(u >> (8 * b));
		}
		return sqlite3_bind_blob64(st, slot, blob, dims * 4, SQLITE_TRANSIENT);
	case LOAD_TEXT:
	case LOAD_JSON:
		return v->text ? sqlite3_bind_text(st, slot, v->text, -1, SQLITE_STATIC) : sqlite3_bind_null(st, slot);
	case LOAD_NOW:
		break;
	}
	return SQLITE_OK;
}

/* One prepared INSERT per table, reset and rebound for every row. */
static int insert_rows(sqlite3 *db, const struct load_table *t, size_t dims, const char *path, char *err, size_t errlen)
{
	char *sql;
	size_t len;
	FILE *f = open_memstream(&sql, &len);
	if (!f)
		return fail(NULL, path, t->name, err, errlen);
	int nslots = 0;
	fprintf(f, "INSERT INTO %s (", t->name);
	for (size_t c = 0; c < t->ncols; c++)
		if (t->cols[c].type != LOAD_NOW)
			fprintf(f, "%s%s", nslots++ ? ", " : "", t->cols[c].name);
	fputs(") VALUES (", f);
	for (int i = 0; i < nslots; i++)
		fprintf(f, "%s?", i ? ", " : "");
	fputs(")", f);
	if (fclose(f) != 0) {
		free(sql);
		return fail(NULL, path, t->name, err, errlen);
	}
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK)
		return fail(db, path, t->name, err, errlen);
	unsigned char *blob = malloc(dims ? dims * 4 : 1);
	int r = blob ? 0 : fail(NULL, path, t->name, err, errlen);
	for (size_t i = 0; i < t->nrows && r == 0; i++) {
		const struct load_value *row = &t->cells[i * t->ncols];
		int slot = 0;
		rc = SQLITE_OK;
		for (size_t c = 0; c < t->ncols && rc == SQLITE_OK; c++)
			if (t->cols[c].type != LOAD_NOW)
				rc = bind_cell(st, ++slot, t->cols[c].type, &row[c], dims, blob);
		if (rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
			r = fail(db, path, t->name, err, errlen);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	free(blob);
	sqlite3_finalize(st);
	return r;
}

/* Migration: the columns of t from column `from` on, which an older version's table lacks. */
static int add_columns(sqlite3 *db, const struct load_table *t, size_t from, const char *path, char *err,
                       size_t errlen)
{
	for (size_t c = from; c < t->ncols; c++) {
		char sql[256];
		snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", t->name, t->cols[c].name,
		         sql_type(t->cols[c].type));
		if (exec(db, sql, path, t->name, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Makes sure every table is ours and current; DDL runs only for what is missing, so a database whose schema is
 * present and current is loaded with DML alone. */
static int prepare_schema(sqlite3 *db, const struct load_set *set, const char *path, char *err, size_t errlen)
{
	int marked = check_table(db, &load_marker_table, path, err, errlen);
	if (marked < 0)
		return -1;
	long long version = LOAD_SCHEMA_VERSION;
	if (!marked) {
		/* Without the marker, a table of ours by name is someone else's, whatever its columns, unless the tables
		 * are exactly those of schema version 1 as a scriptload older than the marker made them. */
		struct load_found found[LOAD_TABLES][32];
		const struct load_found *columns[LOAD_TABLES];
		size_t n[LOAD_TABLES];
		int any = -1;
		for (int t = 0; t < LOAD_TABLES; t++) {
			if (table_columns(db, set->tables[t].name, found[t], 32, &n[t], path, err, errlen) < 0)
				return -1;
			columns[t] = found[t];
			if (n[t] > 0 && any < 0)
				any = t;
		}
		if (any >= 0 && !load_is_unmarked_v1(columns, n, set->tables, sqlite_type_ok)) {
			load_foreign_table(set->tables[any].name, path, err, errlen);
			return -1;
		}
		version = any >= 0 ? 1 : LOAD_SCHEMA_VERSION;
		char insert[128];
		snprintf(insert, sizeof insert, "INSERT INTO %s (version) VALUES (%lld)", LOAD_MARKER_TABLE, version);
		if (create_table(db, &load_marker_table, path, err, errlen) < 0
		    || exec(db, insert, path, LOAD_MARKER_TABLE, err, errlen) < 0)
			return -1;
	} else if (read_version(db, &version, path, err, errlen) < 0) {
		return -1;
	}
	for (int t = 0; t < LOAD_TABLES; t++) {
		struct load_table then;
		bool existed = load_table_at(&set->tables[t], t, version, &then);
		int r = check_table(db, existed ? &then : &set->tables[t], path, err, errlen);
		if (r < 0 || (r == 0 && create_table(db, &set->tables[t], path, err, errlen) < 0))
			return -1;
		if (r > 0 && add_columns(db, &set->tables[t], then.ncols, path, err, errlen) < 0)
			return -1;
	}
	if (version != LOAD_SCHEMA_VERSION) {
		char update[128];
		snprintf(update, sizeof update, "UPDATE %s SET version = %d", LOAD_MARKER_TABLE, LOAD_SCHEMA_VERSION);
		return exec(db, update, path, LOAD_MARKER_TABLE, err, errlen);
	}
	return 0;
}

static int load_all(sqlite3 *db, const struct load_set *sets, size_t n, const char *path, char *err, size_t errlen)
{
	if (prepare_schema(db, &sets[0], path, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct load_set *set = &sets[i];
		for (int t = LOAD_TABLES - 1; t >= 0; t--)
			if (delete_rows(db, &set->tables[t], set->script_id, path, err, errlen) < 0)
				return -1;
		for (int t = 0; t < LOAD_TABLES; t++)
			if (insert_rows(db, &set->tables[t], set->dims, path, err, errlen) < 0)
				return -1;
	}
	return exec(db, "COMMIT", path, "commit", err, errlen);
}

int load_sqlite(const char *path, const struct load_set *sets, size_t n, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		fail(db, path, "cannot open the database", err, errlen);
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	/* foreign_keys is a no-op inside a transaction, so it goes first. */
	int r = exec(db, "PRAGMA foreign_keys = ON", path, "foreign_keys", err, errlen);
	if (r == 0)
		r = exec(db, "BEGIN IMMEDIATE", path, "begin", err, errlen);
	if (r == 0 && (r = load_all(db, sets, n, path, err, errlen)) < 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	if (sqlite3_close(db) != SQLITE_OK && r == 0)
		r = fail(db, path, "close", err, errlen);
	return r;
}
