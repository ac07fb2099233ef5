/* load_schema.c - decides whether a database's tables are scriptbuild's and match the schema this loader writes.
 *
 * scriptbuild_schema(version) marks a database (or PostgreSQL schema) as ours: its tables are only ever written after
 * the marker is found at LOAD_SCHEMA_VERSION and every table has exactly the columns and types we create. A table of
 * ours in a database without the marker belongs to someone else and is never written. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "load_tables.h"

static const struct load_column marker_cols[] = { { "version", LOAD_INT, true } };

const struct load_table load_marker_table = { LOAD_MARKER_TABLE, marker_cols, 1, NULL, NULL, NULL, 0 };

static const struct load_found *find(const struct load_found *found, size_t nfound, const char *name)
{
	for (size_t i = 0; i < nfound; i++)
		if (strcasecmp(found[i].name, name) == 0)
			return &found[i];
	return NULL;
}

int load_check_columns(const struct load_table *t, const struct load_found *found, size_t nfound,
                       int (*type_ok)(enum load_type type, const char *declared), const char *shown, char *err,
                       size_t errlen)
{
	for (size_t c = 0; c < t->ncols; c++) {
		const struct load_found *f = find(found, nfound, t->cols[c].name);
		if (!f) {
			snprintf(err, errlen, "%s: table %s has no column %s: it is not the table scriptbuild creates; load into "
			         "another database (or schema), or drop the table", shown, t->name, t->cols[c].name);
			return -1;
		}
		if (!type_ok(t->cols[c].type, f->type)) {
			snprintf(err, errlen, "%s: table %s, column %s has type %s, not the type scriptbuild creates; load into "
			         "another database (or schema), or drop the table", shown, t->name, f->name, f->type);
			return -1;
		}
	}
	for (size_t i = 0; i < nfound; i++) {
		size_t c = 0;
		while (c < t->ncols && strcasecmp(t->cols[c].name, found[i].name) != 0)
			c++;
		if (c == t->ncols) {
			snprintf(err, errlen, "%s: table %s has a column %s that scriptbuild does not create: the table is not "
			         "scriptbuild's; load into another database (or schema), or drop the table", shown, t->name,
			         found[i].name);
			return -1;
		}
	}
	return 0;
}

void load_foreign_table(const char *table, const char *shown, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: table %s exists but the database has no %s table, so the table is not "
	         "scriptbuild's and will not be written; load into another database (or schema), or drop the table",
	         shown, table, LOAD_MARKER_TABLE);
}

int load_check_version(long long version, const char *shown, char *err, size_t errlen)
{
	if (version == LOAD_SCHEMA_VERSION)
		return LOAD_VERSION_CURRENT;
	if (version >= 1 && version < LOAD_SCHEMA_VERSION)
		return LOAD_VERSION_OLDER;
	snprintf(err, errlen, "%s: %s: the database has schema version %lld, this scriptload writes version %d; use a "
	         "matching scriptload or a new database", shown, LOAD_MARKER_TABLE, version, LOAD_SCHEMA_VERSION);
	return -1;
}
