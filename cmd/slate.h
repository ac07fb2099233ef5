/* slate.h - the scripts one run analyses: files and directories on the command line, each script's id and archive
 * path, and the collisions refused before anything runs. */
#ifndef SB_SLATE_H
#define SB_SLATE_H

#include <stdbool.h>
#include <stddef.h>

struct slate_script {
	char *path;        /* as given, or the directory given joined with the path below it */
	char *real;        /* realpath */
	char *relative;    /* path relative to the slate's common ancestor (a single file: its base name) */
	char *id;          /* relative without ".fountain": the archive's script name, unique in the slate */
};

struct slate {
	struct slate_script *scripts;
	size_t n;
	bool many;         /* a slate (several scripts or a directory), not the one script of a plain run */
};

/* 1 when arg names a target (summaries, outline, sheets, embeddings, scene:..., sheet:...), else 0. */
int slate_is_target(const char *arg);

/* Expands args into scripts: a file is one script, a directory the .fountain files under it (recursive, sorted by
 * byte, hidden entries and symbolic links to directories skipped). 0, or -1 with err naming the input and what is
 * wrong: a missing input, a directory with no script, the same file given twice, two scripts with one id. */
int slate_expand(const char *const *args, size_t nargs, struct slate *sl, char *err, size_t errlen);

/* The archive path of script i: with out_dir, out_dir/RELATIVE-DIR/ID-BASE.analysis.tar.zst (parent directories
 * made); without, beside the script. NULL with err when a directory cannot be made (malloc'd). */
char *slate_archive_path(const struct slate *sl, size_t i, const char *out_dir, char *err, size_t errlen);

/* Frees what sl holds. */
void slate_free(struct slate *sl);

#endif
