/* load_migrate.c - what each older schema version looked like, so that a database made by an older scriptload is
 * brought to the current version (ALTER TABLE ... ADD COLUMN, CREATE TABLE) instead of being refused or, worse,
 * silently loaded with rows that mean something else.
 *
 * Version 1: scripts, scenes(script_id, scene_index, scene_number, heading, line), scene_summaries, script_outlines,
 *            character_sheets, scene_embeddings. Scenes were numbered by position (text before the first heading was
 *            scene 1); rows loaded then keep that numbering and NULL breakdown columns until their script is loaded
 *            again.
 * Version 2: scenes gains the breakdown columns (after the version 1 ones, so version 1's columns are a prefix);
 *            characters and scene_characters are new. */
#include <string.h>
#include <strings.h>

#include "load_tables.h"

/* Columns each table had at version 1; 0 for a table that did not exist. */
static const size_t v1_columns[LOAD_TABLES] = {
	[LOAD_SCRIPTS] = 5, [LOAD_SCENES] = 5, [LOAD_SUMMARIES] = 5, [LOAD_OUTLINES] = 4, [LOAD_SHEETS] = 5,
	[LOAD_EMBEDDINGS] = 5, [LOAD_CHARACTERS] = 0, [LOAD_SCENE_CHARACTERS] = 0,
};

int load_table_at(const struct load_table *t, int id, long long version, struct load_table *out)
{
	*out = *t;
	if (version >= LOAD_SCHEMA_VERSION || id < 0 || id >= LOAD_TABLES)
		return 1;
	if (v1_columns[id] == 0)
		return 0;
	out->ncols = v1_columns[id];
	return 1;
}

bool load_is_unmarked_v1(const struct load_found *const found[LOAD_TABLES], const size_t nfound[LOAD_TABLES],
                         const struct load_table tables[LOAD_TABLES],
                         int (*type_ok)(enum load_type type, const char *declared))
{
	for (int t = 0; t < LOAD_TABLES; t++) {
		struct load_table old;
		if (!load_table_at(&tables[t], t, 1, &old)) {
			if (nfound[t])
				return false;
			continue;
		}
		if (nfound[t] != old.ncols)
			return false;
		for (size_t c = 0; c < old.ncols; c++)
			if (strcasecmp(found[t][c].name, old.cols[c].name) != 0 || !type_ok(old.cols[c].type, found[t][c].type))
				return false;
	}
	return true;
}
