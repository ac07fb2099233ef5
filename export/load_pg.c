/* load_pg.c - one script's rows into PostgreSQL: the schema checked (and made, in its own transaction, when
 * missing), then BEGIN, delete, COPY FROM STDIN for every table, COMMIT. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "load_tables.h"

/* Serialises concurrent loaders around CREATE TABLE IF NOT EXISTS, which can race with itself. */
#define SCHEMA_LOCK "SELECT pg_advisory_xact_lock(7218460101)"

struct pg {
	PGconn *conn;
	const char *shown;
	char *err;
	size_t errlen;
	int vector;                  /* the embedding column is pgvector's vector, not real[] */
	long timeout_ms;             /* longest wait for the server to take or answer anything */
	int stalled;                 /* a wait timed out: the connection is useless, not even for ROLLBACK */
};

/* Notices (a primary key's implicit index and the like) are nobody's business. */
static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static int fail(struct pg *pg, const char *step)
{
	const char *why = PQerrorMessage(pg->conn);
	size_t n = strlen(why);
	while (n && why[n - 1] == '\n')
		n--;
	snprintf(pg->err, pg->errlen, "%s: %s: %.*s", pg->shown, step, (int)n, why);
	return -1;
}

/* Waits until the connection's socket can be read (or written), at most pg->timeout_ms: a server or a network
 * that stops answering ends the load with a message instead of hanging it (and every loader behind it) forever. */
static int wait_socket(struct pg *pg, const char *step, int for_write)
{
	struct pollfd p = { PQsocket(pg->conn), (short)(for_write ? POLLOUT | POLLIN : POLLIN), 0 };
	int r;
	do
		r = poll(&p, 1, (int)pg->timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		return 0;
	pg->stalled = 1;
	if (r == 0)
		snprintf(pg->err, pg->errlen, "%s: %s: the server did not answer for %ld s (a stalled connection or a "
		         "blocked server); rolled back; check the database, or raise scriptload --timeout", pg->shown, step,
		         pg->timeout_ms / 1000);
	else
		snprintf(pg->err, pg->errlen, "%s: %s: %s", pg->shown, step, strerror(errno));
	return -1;
}

/* Sends what libpq has buffered, reading whatever the server says meanwhile (it may block on its own output). */
static int flush_all(struct pg *pg, const char *step)
{
	int f;
	while ((f = PQflush(pg->conn)) == 1)
		if (wait_socket(pg, step, 1) < 0 || !PQconsumeInput(pg->conn))
			return pg->stalled ? -1 : fail(pg, step);
	return f == 0 ? 0 : fail(pg, step);
}

/* The next result of the command in progress, NULL when there is none left (or on failure: *bad set). */
static PGresult *next_result(struct pg *pg, const char *step, int *bad)
{
	while (PQisBusy(pg->conn)) {
		if (wait_socket(pg, step, 0) < 0 || !PQconsumeInput(pg->conn)) {
			if (!pg->stalled)
				fail(pg, step);
			*bad = 1;
			return NULL;
		}
	}
	return PQgetResult(pg->conn);
}

static void result_error(struct pg *pg, const char *step, const PGresult *res)
{
	const char *why = PQresultErrorMessage(res);
	size_t n = strlen(why);
	while (n && why[n - 1] == '\n')
		n--;
	if (n)
		snprintf(pg->err, pg->errlen, "%s: %s: %.*s", pg->shown, step, (int)n, why);
	else
		fail(pg, step);
}

static int run(struct pg *pg, const char *step, const char *sql, int nparams, const char *const *params,
               ExecStatusType want, PGresult **keep)
{
	if (!PQsendQueryParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0))
		return fail(pg, step);
	if (flush_all(pg, step) < 0)
		return -1;
	int bad = 0, ok = 0;
	PGresult *res;
	while ((res = next_result(pg, step, &bad))) {
		ExecStatusType st = PQresultStatus(res);
		if (!ok && !bad && st == want) {
			ok = 1;
			if (keep) {
				*keep = res;
				res = NULL;
			}
		} else if (!bad) {
			bad = 1;
			result_error(pg, step, res);
		}
		PQclear(res);
		/* COPY IN waits for our data: there is no further result until it is sent. */
		if (st == PGRES_COPY_IN)
			break;
	}
	if (bad && ok && keep) {
		PQclear(*keep);
		*keep = NULL;
	}
	return ok && !bad ? 0 : -1;
}

static const char *pg_type(enum load_type t, int vector, size_t dims, char *buf, size_t buflen)
{
	switch (t) {
	case LOAD_INT:
		return "integer";
	case LOAD_JSON:
		return "jsonb";
	case LOAD_VECTOR:
		if (!vector)
			return "real[]";
		if (!dims)
			return "vector";
		snprintf(buf, buflen, "vector(%zu)", dims);
		return buf;
	case LOAD_NOW:
		return "timestamptz NOT NULL DEFAULT now()";
	case LOAD_REAL:
		return "double precision";
	case LOAD_TEXT:
		break;
	}
	return "text";
}

static int create_table(struct pg *pg, const struct load_table *t, int vector, size_t dims)
{
	char *sql, vtype[32];
	size_t len;
	FILE *f = open_memstream(&sql, &len);
	if (!f) {
		snprintf(pg->err, pg->errlen, "%s: %s: out of memory", pg->shown, t->name);
		return -1;
	}
	fprintf(f, "CREATE TABLE %s (", t->name);
	for (size_t c = 0; c < t->ncols; c++)
		fprintf(f, "%s%s %s%s", c ? ", " : "", t->cols[c].name,
		        pg_type(t->cols[c].type, vector, dims, vtype, sizeof vtype),
		        t->cols[c].required && t->cols[c].type != LOAD_NOW ? " NOT NULL" : "");
	if (t->key)
		fprintf(f, ", PRIMARY KEY (%s)", t->key);
	if (t->refs)
		fprintf(f, ", %s", t->refs);
	fputc(')', f);
	if (fclose(f) != 0) {
		free(sql);
		snprintf(pg->err, pg->errlen, "%s: %s: out of memory", pg->shown, t->name);
		return -1;
	}
	int r = run(pg, t->name, sql, 0, NULL, PGRES_COMMAND_OK, NULL);
	free(sql);
	return r;
}

/* The columns of table name (as the search path resolves it) and their types; *n is 0 when there is no table. */
static int table_columns(struct pg *pg, const char *name, struct load_found *found, size_t max, size_t *n)
{
	const char *param[] = { name };
	PGresult *res;
	*n = 0;
	if (run(pg, name,
	        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
	        "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
	        1, param, PGRES_TUPLES_OK, &res) < 0)
		return -1;
	int rows = PQntuples(res);
	if ((size_t)rows > max) {
		snprintf(pg->err, pg->errlen, "%s: table %s has %d columns: it is not the table scriptbuild creates; load "
		         "into another database (or schema), or drop the table", pg->shown, name, rows);
		PQclear(res);
		return -1;
	}
	for (int r = 0; r < rows; r++) {
		snprintf(found[r].name, sizeof found[r].name, "%s", PQgetvalue(res, r, 0));
		snprintf(found[r].type, sizeof found[r].type, "%s", PQgetvalue(res, r, 1));
	}
	*n = (size_t)rows;
	PQclear(res);
	return 0;
}

static int pg_type_ok(enum load_type type, const char *declared)
{
	switch (type) {
	case LOAD_INT:
		return strcmp(declared, "integer") == 0;
	case LOAD_JSON:
		return strcmp(declared, "jsonb") == 0;
	case LOAD_VECTOR:
		return strcmp(declared, "real[]") == 0 || strncmp(declared, "vector", 6) == 0;
	case LOAD_NOW:
		return strcmp(declared, "timestamp with time zone") == 0;
	case LOAD_REAL:
		return strcmp(declared, "double precision") == 0;
	case LOAD_TEXT:
		break;
	}
	return strcmp(declared, "text") == 0;
}

/* 1 when table t exists with exactly our columns, 0 when it does not exist, -1 (err) when it is not ours. */
static int check_table(struct pg *pg, const struct load_table *t)
{
	struct load_found found[32];
	size_t n;
	if (table_columns(pg, t->name, found, 32, &n) < 0)
		return -1;
	if (n == 0)
		return 0;
	if (load_check_columns(t, found, n, pg_type_ok, pg->shown, pg->err, pg->errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(found[i].name, "embedding") == 0)
			pg->vector = strncmp(found[i].type, "vector", 6) == 0;
	return 1;
}

/* The marker's version into *version_out; LOAD_VERSION_CURRENT, LOAD_VERSION_OLDER, or -1 with err. */
static int read_version(struct pg *pg, long long *version_out)
{
	PGresult *res;
	if (run(pg, LOAD_MARKER_TABLE, "SELECT max(version) FROM " LOAD_MARKER_TABLE, 0, NULL, PGRES_TUPLES_OK, &res) < 0)
		return -1;
	int empty = PQgetisnull(res, 0, 0);
	long long version = empty ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (empty) {
		snprintf(pg->err, pg->errlen, "%s: %s: the table is empty, so the schema version is unknown; load into "
		         "another database (or schema), or insert the version (%d) if this database was made by scriptload",
		         pg->shown, LOAD_MARKER_TABLE, LOAD_SCHEMA_VERSION);
		return -1;
	}
	*version_out = version;
	return load_check_version(version, pg->shown, pg->err, pg->errlen);
}

enum { SCHEMA_READY = 0, SCHEMA_NEEDS_DDL = 1 };

/* Migration: the columns of t from column `from` on, which an older version's table lacks (only ever called inside
 * the schema transaction: a current table has none to add). */
static int add_columns(struct pg *pg, const struct load_table *t, size_t from)
{
	char vtype[32];
	for (size_t c = from; c < t->ncols; c++) {
		char sql[256];
		snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", t->name, t->cols[c].name,
		         pg_type(t->cols[c].type, pg->vector, 0, vtype, sizeof vtype));
		if (run(pg, t->name, sql, 0, NULL, PGRES_COMMAND_OK, NULL) < 0)
			return -1;
	}
	return 0;
}

/* Checks that every table is ours and current. With create, makes what is missing (the caller holds the schema
 * lock in a transaction); without, answers SCHEMA_NEEDS_DDL instead, so a present, current schema needs no DDL and
 * a role with only DML rights can load. -1 with err when a table is not ours. */
static int prepare_schema(struct pg *pg, const struct load_set *set, int create)
{
	int marked = check_table(pg, &load_marker_table);
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
			if (table_columns(pg, set->tables[t].name, found[t], 32, &n[t]) < 0)
				return -1;
			columns[t] = found[t];
			if (n[t] > 0 && any < 0)
				any = t;
		}
		if (any >= 0 && !load_is_unmarked_v1(columns, n, set->tables, pg_type_ok)) {
			load_foreign_table(set->tables[any].name, pg->shown, pg->err, pg->errlen);
			return -1;
		}
		if (!create)
			return SCHEMA_NEEDS_DDL;
		version = any >= 0 ? 1 : LOAD_SCHEMA_VERSION;
		char insert[128];
		snprintf(insert, sizeof insert, "INSERT INTO %s (version) VALUES (%lld)", LOAD_MARKER_TABLE, version);
		if (create_table(pg, &load_marker_table, 0, 0) < 0
		    || run(pg, LOAD_MARKER_TABLE, insert, 0, NULL, PGRES_COMMAND_OK, NULL) < 0)
			return -1;
	} else {
		int v = read_version(pg, &version);
		if (v < 0)
			return -1;
		if (v == LOAD_VERSION_OLDER && !create)
			return SCHEMA_NEEDS_DDL;
	}
	int have_vector = -1;
	for (int t = 0; t < LOAD_TABLES; t++) {
		struct load_table then;
		bool existed = load_table_at(&set->tables[t], t, version, &then);
		int r = check_table(pg, existed ? &then : &set->tables[t]);
		if (r < 0)
			return -1;
		if (r > 0) {
			if (add_columns(pg, &set->tables[t], then.ncols) < 0)
				return -1;
			continue;
		}
		if (!create)
			return SCHEMA_NEEDS_DDL;
		if (have_vector < 0) {
			/* New tables use pgvector's type when the extension is there; existing ones keep theirs. */
			PGresult *res;
			if (run(pg, "pg_extension", "SELECT 1 FROM pg_extension WHERE extname = 'vector'", 0, NULL,
			        PGRES_TUPLES_OK, &res) < 0)
				return -1;
			have_vector = PQntuples(res) > 0;
			PQclear(res);
		}
		if (create_table(pg, &set->tables[t], have_vector, set->dims) < 0 || check_table(pg, &set->tables[t]) < 0)
			return -1;
	}
	if (version != LOAD_SCHEMA_VERSION) {
		char update[128];
		snprintf(update, sizeof update, "UPDATE %s SET version = %d", LOAD_MARKER_TABLE, LOAD_SCHEMA_VERSION);
		return run(pg, LOAD_MARKER_TABLE, update, 0, NULL, PGRES_COMMAND_OK, NULL) < 0 ? -1 : SCHEMA_READY;
	}
	return SCHEMA_READY;
}

/* The schema is created in a transaction of its own under an advisory lock (CREATE TABLE races with itself), so
 * concurrent loaders wait for each other only while a schema is being made, never during another's COPY. */
static int ensure_schema(struct pg *pg, const struct load_set *set)
{
	int r = prepare_schema(pg, set, 0);
	if (r != SCHEMA_NEEDS_DDL)
		return r;
	if (run(pg, "begin", "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL) < 0
	    || run(pg, "schema lock", SCHEMA_LOCK, 0, NULL, PGRES_TUPLES_OK, NULL) < 0
	    || prepare_schema(pg, set, 1) < 0)
		return -1;
	return run(pg, "commit", "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL);
}

/* COPY's text format: backslash, tab, newline and carriage return escaped; everything else as is. */
static void put_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\':
			fputs("\\\\", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static void put_cell(FILE *f, enum load_type type, const struct load_value *v, size_t dims, int vector)
{
	switch (type) {
	case LOAD_INT:
		if (v->null)
			fputs("\\N", f);
		else
			fprintf(f, "%lld", (long long)v->num);
		break;
	case LOAD_REAL:
		/* %.17g reads back as the same double. */
		if (v->null)
			fputs("\\N", f);
		else
			fprintf(f, "%.17g", v->real);
		break;
	case LOAD_VECTOR:
		/* %.9g is enough digits for every float32 to read back as the same float32. */
		fputc(vector ? '[' : '{', f);
		for (size_t d = 0; d < dims; d++)
			fprintf(f, "%s%.9g", d ? "," : "", (double)v->vec[d]);
		fputc(vector ? ']' : '}', f);
		break;
	case LOAD_TEXT:
	case LOAD_JSON:
		if (v->text)
			put_text(f, v->text);
		else
			fputs("\\N", f);
		break;
	case LOAD_NOW:
		break;
	}
}

/* The COPY statement and all of a table's rows, built in memory. */
static int build_copy(const struct load_table *t, size_t dims, int vector, char **sql, char **data, size_t *datalen)
{
	size_t sqllen;
	FILE *q = open_memstream(sql, &sqllen);
	FILE *f = q ? open_memstream(data, datalen) : NULL;
	if (!f) {
		if (q) {
			fclose(q);
			free(*sql);
		}
		return -1;
	}
	int n = 0;
	fprintf(q, "COPY %s (", t->name);
	for (size_t c = 0; c < t->ncols; c++)
		if (t->cols[c].type != LOAD_NOW)
			fprintf(q, "%s%s", n++ ? ", " : "", t->cols[c].name);
	fputs(") FROM STDIN", q);
	for (size_t i = 0; i < t->nrows; i++) {
		const struct load_value *row = &t->cells[i * t->ncols];
		n = 0;
		for (size_t c = 0; c < t->ncols; c++)
			if (t->cols[c].type != LOAD_NOW) {
				if (n++)
					fputc('\t', f);
				put_cell(f, t->cols[c].type, &row[c], dims, vector);
			}
		fputc('\n', f);
	}
	int bad_q = fclose(q) != 0, bad_f = fclose(f) != 0;
	if (bad_q || bad_f) {
		free(*sql);
		free(*data);
		return -1;
	}
	return 0;
}

static int copy_rows(struct pg *pg, const struct load_table *t, size_t dims)
{
	char *sql, *data;
	size_t len;
	if (build_copy(t, dims, pg->vector, &sql, &data, &len) < 0) {
		snprintf(pg->err, pg->errlen, "%s: %s: out of memory", pg->shown, t->name);
		return -1;
	}
	int r = run(pg, t->name, sql, 0, NULL, PGRES_COPY_IN, NULL);
	if (r == 0) {
		/* libpq takes at most INT_MAX bytes per call. */
		for (size_t at = 0; at < len && r == 0;) {
			size_t n = len - at < (size_t)1 << 20 ? len - at : (size_t)1 << 20;
			int put = PQputCopyData(pg->conn, data + at, (int)n);
			if (put == 1)
				at += n;
			else if (put < 0)
				r = fail(pg, t->name);
			/* The connection is non-blocking: a full buffer waits, within the timeout, for the server. */
			else if (wait_socket(pg, t->name, 1) < 0 || !PQconsumeInput(pg->conn))
				r = pg->stalled ? -1 : fail(pg, t->name);
		}
		if (!pg->stalled) {
			int end;
			while ((end = PQputCopyEnd(pg->conn, r == 0 ? NULL : "scriptload gave up")) == 0)
				if (wait_socket(pg, t->name, 1) < 0)
					break;
			if (end < 0 && r == 0)
				r = fail(pg, t->name);
		}
		if (!pg->stalled && flush_all(pg, t->name) < 0)
			r = -1;
		PGresult *res;
		int bad = pg->stalled;
		while (!bad && (res = next_result(pg, t->name, &bad))) {
			if (PQresultStatus(res) != PGRES_COMMAND_OK && r == 0) {
				result_error(pg, t->name, res);
				r = -1;
			}
			PQclear(res);
		}
		if (bad)
			r = -1;
	}
	free(sql);
	free(data);
	return r;
}

static int load_all(struct pg *pg, const struct load_set *sets, size_t n)
{
	if (ensure_schema(pg, &sets[0]) < 0 || run(pg, "begin", "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct load_set *set = &sets[i];
		const char *id[] = { set->script_id };
		for (int t = LOAD_TABLES - 1; t >= 0; t--) {
			char sql[128];
			snprintf(sql, sizeof sql, "DELETE FROM %s WHERE script_id = $1", set->tables[t].name);
			if (run(pg, set->tables[t].name, sql, 1, id, PGRES_COMMAND_OK, NULL) < 0)
				return -1;
		}
		for (int t = 0; t < LOAD_TABLES; t++)
			if (copy_rows(pg, &set->tables[t], set->dims) < 0)
				return -1;
	}
	return run(pg, "commit", "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL);
}

/* Connects with TCP keepalives and a connect timeout unless the URL says otherwise (its values come later, so they
 * win), then bounds every statement, every lock wait and every idle moment of the transaction on the server too:
 * a loader that lost its client must not hold locks the next one waits on. */
static PGconn *connect_bounded(const char *conninfo, const struct load_limits *lim)
{
	char connect_s[24];
	snprintf(connect_s, sizeof connect_s, "%ld", lim->connect_timeout_ms > 999 ? lim->connect_timeout_ms / 1000 : 1);
	const char *keys[] = { "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
		               "keepalives_count", "dbname", NULL };
	const char *values[] = { connect_s, "1", "30", "10", "3", conninfo, NULL };
	return PQconnectdbParams(keys, values, 1);
}

static int set_timeouts(struct pg *pg, const struct load_limits *lim)
{
	char sql[200];
	snprintf(sql, sizeof sql,
	         "SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false), "
	         "set_config('idle_in_transaction_session_timeout', $1, false)");
	char statement[24], lock[24];
	snprintf(statement, sizeof statement, "%ld", lim->timeout_ms);
	snprintf(lock, sizeof lock, "%ld", lim->lock_timeout_ms);
	const char *params[] = { statement, lock };
	return run(pg, "timeouts", sql, 2, params, PGRES_TUPLES_OK, NULL);
}

int load_pg(const char *conninfo, const char *shown, const struct load_set *sets, size_t n,
            const struct load_limits *lim, char *err, size_t errlen)
{
	struct pg pg = { connect_bounded(conninfo, lim), shown, err, errlen, 0, lim->timeout_ms, 0 };
	if (!pg.conn) {
		snprintf(err, errlen, "%s: cannot connect: out of memory", shown);
		return -1;
	}
	int r;
	if (PQstatus(pg.conn) != CONNECTION_OK) {
		r = fail(&pg, "cannot connect");
	} else {
		PQsetNoticeProcessor(pg.conn, quiet, NULL);
		r = PQsetClientEncoding(pg.conn, "UTF8") == 0 ? 0 : fail(&pg, "client encoding");
		if (r == 0 && PQsetnonblocking(pg.conn, 1) != 0)
			r = fail(&pg, "non-blocking mode");
		if (r == 0)
			r = set_timeouts(&pg, lim);
		if (r == 0 && (r = load_all(&pg, sets, n)) < 0 && !pg.stalled) {
			/* Best effort: closing the connection rolls back too. */
			char keep[1024];
			snprintf(keep, sizeof keep, "%s", err);
			run(&pg, "rollback", "ROLLBACK", 0, NULL, PGRES_COMMAND_OK, NULL);
			snprintf(err, errlen, "%s", keep);
		}
	}
	PQfinish(pg.conn);
	return r;
}
