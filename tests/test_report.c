/* test_report.c - the report's parts without a browser: PCA, cosine neighbours, escaping, and a page rendered from a
 * hand-built analysis (complete and partial). tests/t_report.sh checks the pages in Chromium. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include "html_page.h"
#include "html_report.h"
#include "pca.h"
#include "sample_analysis.h"
#include "similar.h"

/* Renders a into a malloc'd string. */
static char *render(const struct analysis *a)
{
	char *page = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&page, &len);
	assert_non_null(f);
	assert_int_equal(html_report_render(a, "0123456789abcdef0123456789abcdef", f, err, sizeof err), 0);
	assert_int_equal(fclose(f), 0);
	return page;
}

static int occurrences(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Points on a plane in 16 dimensions, spread 10 times wider along u than along w: PC1 must recover the u
 * coordinates and PC2 the w coordinates (up to the fixed sign), explaining 100/101 and 1/101 of the variance. */
static void test_pca_recovers_a_plane(void **state)
{
	(void)state;
	enum { N = 40, D = 16 };
	static float x[N * D];
	double u[D] = {0}, w[D] = {0}, a[N], b[N], xy[2 * N], explained[2];
	u[3] = 0.6, u[7] = 0.8;      /* unit, largest coordinate positive */
	w[1] = 0.8, w[12] = -0.6;    /* unit, orthogonal to u, largest coordinate positive */
	double ma = 0, mb = 0;
	for (int i = 0; i < N; i++) {
		a[i] = 10.0 * sin(i * 0.7) + (i % 3);   /* no symmetry the sign rule could trip on */
		b[i] = cos(i * 1.3) + 0.1 * (i % 5);
		ma += a[i] / N;
		mb += b[i] / N;
	}
	/* PCA finds uncorrelated axes: make the sample of b uncorrelated with a's. */
	double ab = 0, aa = 0;
	for (int i = 0; i < N; i++) {
		ab += (a[i] - ma) * (b[i] - mb);
		aa += (a[i] - ma) * (a[i] - ma);
	}
	for (int i = 0; i < N; i++)
		b[i] -= ab / aa * (a[i] - ma);
	double va = 0, vb = 0;
	for (int i = 0; i < N; i++) {
		va += (a[i] - ma) * (a[i] - ma);
		vb += (b[i] - mb) * (b[i] - mb);
		for (int d = 0; d < D; d++)
			x[i * D + d] = (float)(a[i] * u[d] + b[i] * w[d] + 0.25);
	}
	assert_int_equal(pca_project2(x, N, D, NULL, xy, explained), PCA_OK);
	for (int i = 0; i < N; i++) {
		assert_true(fabs(xy[2 * i] - (a[i] - ma)) < 1e-3);
		assert_true(fabs(xy[2 * i + 1] - (b[i] - mb)) < 1e-3);
	}
	assert_true(fabs(explained[0] - va / (va + vb)) < 1e-4);
	assert_true(fabs(explained[1] - vb / (va + vb)) < 1e-4);
	double again[2 * N], e2[2];
	pca_project2(x, N, D, NULL, again, e2);
	assert_memory_equal(xy, again, sizeof xy);
}

static void test_pca_skips_rows_and_needs_two(void **state)
{
	(void)state;
	float x[3 * 2] = {1, 0, 0, 1, 5, 5};
	bool use[3] = {true, false, true};
	double xy[6], explained[2];
	assert_int_equal(pca_project2(x, 3, 2, use, xy, explained), PCA_OK);
	assert_true(xy[2] == 0 && xy[3] == 0);                           /* the unused row sits at the origin */
	assert_true(fabs(fabs(xy[0] - xy[4]) - sqrt(16 + 25)) < 1e-9);   /* the two used rows keep their distance */
	assert_true(fabs(explained[0] - 1) < 1e-9);
	bool one[3] = {false, true, false};
	assert_int_equal(pca_project2(x, 3, 2, one, xy, explained), PCA_TOO_FEW);
}

static void test_similar_ranks_by_cosine(void **state)
{
	(void)state;
	float e[6 * 3] = {
		1, 0, 0,         /* 0: the query */
		0.5f, 0.5f, 0,   /* 1: cos 0.707 */
		0, 1, 0,         /* 2: cos 0 */
		3, 0.3f, 0,      /* 3: cos 0.995, length does not matter */
		9, 0, 0,         /* 4: cos 1, but it has no embedding (partial) */
		1, 1, 0,         /* 5: cos 0.707, ties with 1: the lower row first */
	};
	bool has[6] = {true, true, true, true, false, true};
	struct analysis a = {0};
	a.nscenes = 6;
	a.dims = 3;
	a.embeddings = e;
	a.has_embedding = has;
	struct similar_hit hits[4];
	assert_int_equal(similar_scenes(&a, 0, 4, hits), 4);
	assert_int_equal(hits[0].row, 3);
	assert_int_equal(hits[1].row, 1);
	assert_int_equal(hits[2].row, 5);
	assert_int_equal(hits[3].row, 2);
	assert_true(fabs(hits[1].cosine - sqrt(0.5)) < 1e-6 && fabs(hits[3].cosine) < 1e-9);
	assert_int_equal(similar_scenes(&a, 0, 2, hits), 2);
	assert_int_equal(hits[1].row, 1);
	assert_int_equal(similar_scenes(&a, 4, 3, hits), 0);   /* no embedding, no neighbours */
}

static void test_escaping(void **state)
{
	(void)state;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	html_text(f, "<script>\"onload='x'</style>&amp;\x01\ttab");
	fclose(f);
	assert_string_equal(out, "&lt;script&gt;&quot;onload=&#39;x&#39;&lt;/style&gt;&amp;amp; \ttab");
	free(out);
}

static void test_page_complete_and_reproducible(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	char *page = render(a), *again = render(a);
	assert_string_equal(page, again);
	assert_int_equal(occurrences(page, "class=\"card scene-card\""), 3);
	assert_int_equal(occurrences(page, "class=\"card sheet\""), 2);
	assert_non_null(strstr(page, "<svg id=\"presence-chart\""));
	assert_non_null(strstr(page, "<svg id=\"dialogue-share\""));
	assert_non_null(strstr(page, "<svg id=\"scene-map\""));
	/* A name with quotes stays text, and the relationship to MARGIT links to her sheet. */
	assert_non_null(strstr(page, "JONAS &quot;JO&quot; VEIT"));
	assert_null(strstr(page, "JONAS \"JO\""));
	assert_non_null(strstr(page, "<li><a href=\"#char-1\">MARGIT</a>: neighbour</li>"));
	assert_null(strstr(page, "is missing"));
	/* The breakdown facts: the page count is the manifest's, a scene's length its eighths, and a character only
	 * named in the action is listed apart from the speakers. */
	assert_non_null(strstr(page, "<dt>Page count</dt><dd>1 1/8 pp.</dd>"));
	assert_non_null(strstr(page, "<dt>Runtime</dt><dd>about 1 minute (a minute a page)"));
	assert_non_null(strstr(page, "line 26 &#183; 4/8 p. &#183; cast: <a href=\"#char-1\">MARGIT</a>; named: "
	                             "<span class=\"named\"><a href=\"#char-2\">JONAS &quot;JO&quot; VEIT</a></span>"));
	assert_non_null(strstr(page, "<span class=\"tag t-ext\">EXT</span><span class=\"tag t-dusk\">DAWN/DUSK</span>"));
	assert_non_null(strstr(page, "is named in scene 3"));
	free(page);
	free(again);
	analysis_free(a);
}

static void test_page_partial_says_what_is_missing(void **state)
{
	(void)state;
	struct analysis *a = sample_partial("keeper");
	char *page = render(a);
	assert_non_null(strstr(page, "Missing: summary 2, outline, sheet MARGIT, embedding 3."));
	assert_int_equal(occurrences(page, "This scene's summary is missing"), 1);
	assert_int_equal(occurrences(page, "This character's sheet is missing"), 1);
	assert_int_equal(occurrences(page, "this scene's embedding is missing"), 1);
	assert_int_equal(occurrences(page, "class=\"card scene-card\""), 3);
	free(page);
	analysis_free(a);
}

/* Key lines link to where they are spoken: by their anchor ({"text", "scene", "line"}), or by the scene whose
 * summary quotes them; a line nothing places stays unlinked. */
static void test_key_lines_link_to_their_scene(void **state)
{
	(void)state;
	struct analysis *a = sample_analysis("keeper", 0);
	free(a->sheets[0].json);
	a->sheets[0].json = sample_strdup("{\"description\": \"The keeper.\", \"key_lines\": [{\"text\": \"Keep it lit.\", "
	                                  "\"scene\": 2, \"line\": 15}, {\"text\": \"Gone.\", \"scene\": null, \"line\": null}, "
	                                  "\"The sea <takes> what it wants.\", \"Never said.\"]}");
	free(a->summaries[2]);
	a->summaries[2] = sample_strdup("{\"summary\": \"Night.\", \"key_line\": \"The sea <takes> what it wants.\", "
	                                "\"key_speaker\": \"MARGIT\"}");
	char *page = render(a);
	assert_non_null(strstr(page, "Keep it lit. <a href=\"#scene-2\">(scene 2, line 15)</a></blockquote>"));
	assert_non_null(strstr(page, "The sea &lt;takes&gt; what it wants. <a href=\"#scene-3\">(scene 3)</a></blockquote>"));
	assert_non_null(strstr(page, "<blockquote class=\"key-line\">Gone.</blockquote>"));
	assert_non_null(strstr(page, "<blockquote class=\"key-line\">Never said.</blockquote>"));
	free(page);
	analysis_free(a);
}

static void test_page_path(void **state)
{
	(void)state;
	char *p = html_report_path_for("dir/x.analysis.tar.zst");
	assert_string_equal(p, "dir/x.analysis.html");
	free(p);
	p = html_report_path_for("other.bin");
	assert_string_equal(p, "other.bin.html");
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pca_recovers_a_plane),
		cmocka_unit_test(test_pca_skips_rows_and_needs_two),
		cmocka_unit_test(test_similar_ranks_by_cosine),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_page_complete_and_reproducible),
		cmocka_unit_test(test_page_partial_says_what_is_missing),
		cmocka_unit_test(test_key_lines_link_to_their_scene),
		cmocka_unit_test(test_page_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
