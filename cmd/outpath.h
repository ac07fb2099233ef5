/* outpath.h - refuses an archive path that would destroy the input or is not an archive's name. */
#ifndef SB_OUTPATH_H
#define SB_OUTPATH_H

#include <stdbool.h>
#include <stddef.h>

/* 0 when the archive may be written to out: it is not the script (same file, by device and inode, through any link)
 * and, unless forced, its name ends in .tar.zst. -1 with err saying why and what to do. */
int outpath_check(const char *out, const char *script, bool forced, char *err, size_t errlen);

#endif
