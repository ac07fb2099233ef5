#!/bin/sh
# Runs every unit test binary and every shell test against the build in $1; prints "N passed, N failed".
# Starts a throw-away PostgreSQL server for the tests that need one and always stops it.
set -u
BUILD=$(cd "${1:-build/check}" && pwd)
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2

export SB="$BUILD/scriptbuild" SL="$BUILD/scriptload" TOOLS="$BUILD/tests" FAKEAPI="$BUILD/tests/fakeapi" TOP
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# No test may reach a real API: keys come only from the tests themselves.
unset ANTHROPIC_API_KEY OPENAI_API_KEY ANTHROPIC_BASE_URL OPENAI_BASE_URL SCRIPTBUILD_CACHE

PGDIR=$(mktemp -d /tmp/sbpg.XXXXXX)
chmod 755 "$PGDIR"
if PGTEST_URL=$(tests/pg.sh start "$PGDIR" 2>"$PGDIR/start.log"); then
	export PGTEST_URL
else
	echo "warning: could not start PostgreSQL (see $PGDIR/start.log); PostgreSQL tests will fail" >&2
	cat "$PGDIR/start.log" >&2
	export PGTEST_URL=""
fi
trap 'tests/pg.sh stop "$PGDIR" >/dev/null 2>&1; rm -rf "$PGDIR"' EXIT INT TERM

pass=0 fail=0 failed=""
run_one() {
	name=$1; shift
	log="$BUILD/tests/$name.log"
	mkdir -p "$(dirname "$log")"
	if timeout 600 "$@" >"$log" 2>&1; then
		pass=$((pass + 1)); echo "PASS $name"
	else
		fail=$((fail + 1)); failed="$failed $name"; echo "FAIL $name (log: $log)"; tail -n 40 "$log" | sed 's/^/    /'
	fi
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.log|*.d|*.o) continue ;; esac
	run_one "$(basename "$t")" "$t"
done
for t in tests/t_*.sh; do
	[ -f "$t" ] || continue
	run_one "$(basename "$t" .sh)" sh "$t"
done

echo
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
