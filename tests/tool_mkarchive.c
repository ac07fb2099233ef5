/* tool_mkarchive - writes the tests' sample analysis as an archive: tool_mkarchive OUT NAME [edited|partial]. */
#include "sample_analysis.h"

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fputs("usage: tool_mkarchive OUT NAME [edited|partial]\n", stderr);
		return 2;
	}
	const char *variant = argc == 4 ? argv[3] : "";
	struct analysis *a = strcmp(variant, "partial") == 0 ? sample_partial(argv[2])
	                                                      : sample_analysis(argv[2], strcmp(variant, "edited") == 0);
	char err[1024];
	int r = analysis_write_archive(argv[1], a, 0, err, sizeof err);
	if (r < 0)
		fprintf(stderr, "tool_mkarchive: %s\n", err);
	analysis_free(a);
	return r < 0 ? 1 : 0;
}
