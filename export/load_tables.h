/* load_tables.h - the database schema and one script's rows as plain data, shared by the SQLite and PostgreSQL
 * back ends so that both create the same tables and insert the same values. */
#ifndef SB_LOAD_TABLES_H
#define SB_LOAD_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis.h"

#define LOAD_SCHEMA_VERSION 1

enum load_type {
	LOAD_TEXT,
	LOAD_INT,
	LOAD_JSON,                   /* TEXT in SQLite, jsonb in PostgreSQL */
	LOAD_VECTOR,                 /* float32 BLOB in SQLite, real[] or pgvector's vector in PostgreSQL */
	LOAD_NOW,                    /* filled by the database's clock: never among the inserted columns */
};

struct load_column {
	const char *name;
	enum load_type type;
	bool required;               /* NOT NULL */
};

/* One cell: text for TEXT/JSON (NULL is SQL NULL), num for INT, vec (dims floats) for VECTOR. */
struct load_value {
	const char *text;
	int64_t num;
	const float *vec;
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
enum { LOAD_SCRIPTS, LOAD_SCENES, LOAD_SUMMARIES, LOAD_OUTLINES, LOAD_SHEETS, LOAD_EMBEDDINGS, LOAD_TABLES };

struct load_set {
	const char *script_id;
	size_t dims;
	struct load_table tables[LOAD_TABLES];
	char **owned;                /* strings made for cells (digest text, prose pulled out of outputs) */
	size_t nowned, owned_cap;
};

/* Builds the rows for a under script_id (NULL: a's script name); cells point into a, which must outlive the set.
 * 0, or -1 with err. */
int load_set_build(const struct analysis *a, const char *script_id, struct load_set *set, char *err, size_t errlen);

/* Frees what load_set_build allocated. */
void load_set_free(struct load_set *set);

/* Loads set into the SQLite database at path in one transaction; 0, or -1 with err (rolled back). */
int load_sqlite(const char *path, const struct load_set *set, char *err, size_t errlen);

/* Loads set into the PostgreSQL database of the libpq URL conninfo in one transaction; shown is the URL with any
 * password masked, for messages; 0, or -1 with err (rolled back). */
int load_pg(const char *conninfo, const char *shown, const struct load_set *set, char *err, size_t errlen);

#endif
