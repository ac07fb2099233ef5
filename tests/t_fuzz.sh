#!/bin/sh
# t_fuzz.sh - the short fuzz run of `make check`: builds the libFuzzer targets next to the checked build, replays
# every saved regression input, runs each target over its seed corpus and then fuzzes it for a few seconds
# (FUZZ_CHECK_SECONDS, default 5) into a throw-away corpus. Fails on any finding, and with a clear message when clang
# or libFuzzer is missing (`make deps` installs them).
set -u
T=$(mktemp -d /tmp/t_fuzz.XXXXXX)
trap 'rm -rf "$T"' EXIT
FUZZ_BUILD="$TOOLS/../fuzz" FUZZ_CORPUS="$T" sh tests/fuzz.sh "${FUZZ_CHECK_SECONDS:-5}" >"$T/out" 2>&1
rc=$?
cat "$T/out"
case $rc in
0) ;;
2) echo "FAIL: the fuzz targets could not be built or run (see above)"; exit 1 ;;
*) echo "FAIL: a fuzz target found a crash, leak or undefined behaviour (see above)"; exit 1 ;;
esac

# Every target really ran: its seeds and regressions at least, and some fuzzing on top.
for src in tests/fuzz_*.c; do
	name=$(basename "$src" .c)
	runs=$(sed -n "s/^$name: \([0-9]*\) inputs.*/\1/p" "$T/out")
	seeds=$(ls "tests/fuzz/${name#fuzz_}" | wc -l)
	if [ -z "$runs" ] || [ "$runs" -le "$seeds" ]; then
		echo "FAIL: $name ran ${runs:-no} inputs for $seeds seeds"
		exit 1
	fi
done
