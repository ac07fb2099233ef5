/* html_report.h - NAME.analysis.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) that
 * shows an archive's analysis, built from the archive alone and byte-reproducible like it. */
#ifndef SB_HTML_REPORT_H
#define SB_HTML_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "analysis.h"

/* Renders a, read from an archive whose bytes have the hex XXH3-128 archive_hex, as the page into f; 0, or -1 with
 * err (out of memory, or a write error of f). */
int html_report_render(const struct analysis *a, const char *archive_hex, FILE *f, char *err, size_t errlen);

/* Reads and validates the archive at archive_path and writes its page to html_path atomically (temp file beside it,
 * rename); 0, or -1 with err naming the archive or the page and what is wrong. */
int html_report_write(const char *archive_path, const char *html_path, char *err, size_t errlen);

/* The page's default path for an archive: "DIR/NAME.analysis.tar.zst" gives "DIR/NAME.analysis.html", any other
 * name gets ".html" appended; malloc'd, NULL when out of memory. */
char *html_report_path_for(const char *archive_path);

#endif
