#!/bin/sh
# `make bench`: runs tests/tool_bench against the optimised build in $1 in a scratch directory, prints the table
# and writes bench-results.json in the current directory. BENCH_SCALE multiplies the seed's request latencies
# (default 0.1; BENCH_SCALE=1 for the seed's full latencies); BENCH_ONLY=rate runs only the rows at a provider's
# rate limit, BENCH_ONLY=remote only the remote cache rows, BENCH_ONLY=promptcache only the prompt caching rows,
# BENCH_ONLY=slate only the slate rows. Timings are reported, never a pass/fail.
set -u
BUILD=${1:?usage: tests/bench.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIG="$TOP/../shared/corpus/Big-Fish.fountain"
[ -r "$BIG" ] || BIG=""

# Only the loopback fake server may answer: no real key or cache leaks into the runs.
unset ANTHROPIC_API_KEY OPENAI_API_KEY ANTHROPIC_BASE_URL OPENAI_BASE_URL SCRIPTBUILD_CACHE

WORK=$(mktemp -d /tmp/scriptbuild-bench.XXXXXX) || exit 2
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' INT TERM
if [ "${BENCH_ONLY:-}" != slate ]; then
"$BUILD/tests/tool_bench" --build "$BUILD" --work "$WORK" --scale "${BENCH_SCALE:-0.1}" --big "$BIG" \
	--json "${BENCH_JSON:-bench-results.json}" --only "${BENCH_ONLY:-}"
fi
# A slate (issue 16): many scripts in one run against a process each, the no-op and the memory of a large slate.
if [ -z "${BENCH_ONLY:-}" ] || [ "${BENCH_ONLY:-}" = slate ]; then
	mkdir -p "$WORK/slate" && "$BUILD/tests/tool_bench_slate" --build "$BUILD" --work "$WORK/slate" \
		--scale "${BENCH_SCALE:-0.1}"
fi

# The report page of the builtin Big Fish archive (the demo script when the corpus is absent): -t report, best of 5.
if [ -z "${BENCH_ONLY:-}" ]; then
REPORT_SRC=${BIG:-$TOP/fixtures/demo/harbor.fountain}
mkdir -p "$WORK/report" && (cd "$WORK/report" && "$BUILD/scriptbuild" -q --cache "$WORK/report/cache" "$REPORT_SRC") &&
	best="" && for i in 1 2 3 4 5; do
		t0=$(date +%s%N)
		"$BUILD/scriptbuild" -q -t report "$WORK/report/$(basename "$REPORT_SRC" .fountain).analysis.tar.zst" \
			-o "$WORK/report/page.html" || break
		t=$((($(date +%s%N) - t0) / 1000000))
		if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
	done && echo "report page ($(basename "$REPORT_SRC")): best of 5 ${best} ms, $(wc -c <"$WORK/report/page.html") bytes"
fi
