/* load_tables.h - the database schema and one script's rows as plain data, shared by the SQLite and PostgreSQL
 * back ends so that both create the same tables and insert the same values. */
#ifndef SB_LOAD_TABLES_H
#define SB_LOAD_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis.h"
#include "load.h"

/* The schema this loader creates and writes. An older version is migrated (load_migrate.c: 1 -> 2 adds the breakdown
 * columns of scenes and the characters and scene_characters tables); a newer one is refused. */
#define LOAD_SCHEMA_VERSION 2

/* The table whose presence marks a database as scriptbuild's and whose version column says which schema it has. */
#define LOAD_MARKER_TABLE "scriptbuild_schema"

enum load_type {
	LOAD_TEXT,
	LOAD_INT,
	LOAD_JSON,                   /* TEXT in SQLite, jsonb in PostgreSQL */
	LOAD_VECTOR,                 /* float32 BLOB in SQLite, real[] or pgvector's vector in PostgreSQL */
	LOAD_NOW,                    /* filled by the database's clock: never among the inserted columns */
	LOAD_REAL,                   /* REAL in SQLite, double precision in PostgreSQL */
};

struct load_column {
	const char *name;
	enum load_type type;
	bool required;               /* NOT NULL */
};

/* One cell: text for TEXT/JSON (NULL is SQL NULL), num for INT, real for REAL, vec (dims floats) for VECTOR; null
 * makes an INT or REAL cell SQL NULL. */
struct load_value {
	const char *text;
	int64_t num;
	const float *vec;
	double real;
	bool null;
};

struct load_table {
	const char *name;
	const struct load_column *cols;
	size_t ncols;
	const char *key;             /* primary key columns, "script_id, scene_index" */
	const char *refs;            /* foreign key clause, NULL for none */
	struct load_value *cells;    /* nrows x ncols, row-major; LOAD_NOW cells unused */
	size_t nrows;
};

/* Tables in insert order (parents first); deletes run in the reverse order. */
enum {
	LOAD_SCRIPTS, LOAD_SCENES, LOAD_SUMMARIES, LOAD_OUTLINES, LOAD_SHEETS, LOAD_EMBEDDINGS, LOAD_CHARACTERS,
	LOAD_SCENE_CHARACTERS, LOAD_TABLES
};

struct load_set {
	const char *script_id;
	size_t dims;
	struct load_table tables[LOAD_TABLES];
	char **owned;                /* strings made for cells (digest text, prose pulled out of outputs) */
	size_t nowned, owned_cap;
};

/* A column as the database reports it: name and declared type (as the back end spells it). */
struct load_found {
	char name[64];
	char type[64];
};

/* The marker table's own description, checked like the others. */
extern const struct load_table load_marker_table;

/* 0 when found (nfound columns of t's table in the database) has exactly t's columns, each with a type type_ok
 * accepts; else -1 with err naming the table and the column. shown names the database in messages. */
int load_check_columns(const struct load_table *t, const struct load_found *found, size_t nfound,
                       int (*type_ok)(enum load_type type, const char *declared), const char *shown, char *err,
                       size_t errlen);

/* Writes the refusal for a table of ours found in a database without the marker. */
void load_foreign_table(const char *table, const char *shown, char *err, size_t errlen);

enum load_version { LOAD_VERSION_CURRENT = 0, LOAD_VERSION_OLDER = 1 };

/* LOAD_VERSION_CURRENT when version is the one this loader writes, LOAD_VERSION_OLDER when it is an older one
 * load_table_at can migrate from, else -1 with err saying both versions. */
int load_check_version(long long version, const char *shown, char *err, size_t errlen);

/* Table t (the current schema's table number id) as it was at schema version: 1 and *out (its columns then, a prefix
 * of today's), or 0 when the table did not exist then. */
int load_table_at(const struct load_table *t, int id, long long version, struct load_table *out);

/* True when the unmarked database's tables (found[t], nfound[t] columns of each current table, 0 when absent) are
 * exactly those of schema version 1, as a scriptload older than the marker made them: such a database is ours. */
bool load_is_unmarked_v1(const struct load_found *const found[LOAD_TABLES], const size_t nfound[LOAD_TABLES],
                         const struct load_table tables[LOAD_TABLES],
                         int (*type_ok)(enum load_type type, const char *declared));

/* Builds the rows for a under script_id (NULL: a's script name); cells point into a, which must outlive the set.
 * 0, or -1 with err. */
int load_set_build(const struct analysis *a, const char *script_id, struct load_set *set, char *err, size_t errlen);

/* Frees what load_set_build allocated. */
void load_set_free(struct load_set *set);

/* Loads the n sets (n >= 1, distinct script ids) into the SQLite database at path in one transaction; 0, or -1 with
 * err (rolled back). */
int load_sqlite(const char *path, const struct load_set *sets, size_t n, char *err, size_t errlen);

/* Loads the n sets (n >= 1, distinct script ids) into the PostgreSQL database of the libpq URL conninfo in one
 * transaction within lim's bounds; shown is the URL with any password masked, for messages; 0, or -1 with err
 * (rolled back). */
int load_pg(const char *conninfo, const char *shown, const struct load_set *sets, size_t n,
            const struct load_limits *lim, char *err, size_t errlen);

#endif
