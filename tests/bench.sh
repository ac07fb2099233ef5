#!/bin/sh
# `make bench`: runs tests/tool_bench against the optimised build in $1 in a scratch directory, prints the table
# and writes bench-results.json in the current directory. BENCH_SCALE multiplies the seed's request latencies
# (default 0.1; BENCH_SCALE=1 for the seed's full latencies); BENCH_ONLY=remote runs only the remote cache rows.
# Timings are reported, never a pass/fail.
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
"$BUILD/tests/tool_bench" --build "$BUILD" --work "$WORK" --scale "${BENCH_SCALE:-0.1}" --big "$BIG" \
	--json "${BENCH_JSON:-bench-results.json}" ${BENCH_ONLY:+--only "$BENCH_ONLY"}
