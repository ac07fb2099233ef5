#!/bin/sh
# fuzz.sh [SECONDS] - builds the libFuzzer targets tests/fuzz_*.c with clang (ASan + UBSan, leaks included) and, for
# each: replays every saved regression input in tests/fuzz/regressions/NAME/, then fuzzes for SECONDS (default 60)
# from the seeds in tests/fuzz/NAME/ (fountain: fixtures/ too). `make fuzz FUZZ_SECONDS=N` runs it.
#
#   FUZZ_BUILD   where the clang objects and targets go (default build/fuzz)
#   FUZZ_CORPUS  where each target keeps the inputs it found, one directory per target (default $FUZZ_BUILD/corpus)
#
# A finding is saved as $FUZZ_BUILD/crashes/NAME-crash-... (or leak-, timeout-, oom-): fix it, then keep that file
# as tests/fuzz/regressions/NAME/<what it was> so that every `make check` replays it. Exit 0 clean, 1 a finding,
# 2 clang or libFuzzer missing.
set -u
SECONDS_EACH=${1:-60}
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 2
FB=${FUZZ_BUILD:-build/fuzz}
CORPUS=${FUZZ_CORPUS:-$FB/corpus}
PKGS="libcurl libcjson lmdb libxxhash libarchive sqlite3 libpq"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
mkdir -p "$FB/crashes" "$FB/logs" || exit 2

case $SECONDS_EACH in
'' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$SECONDS_EACH'" >&2; exit 2 ;;
esac

# libFuzzer ships with clang's runtime (Debian: libclang-rt-14-dev), not with clang itself: try linking one.
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
	'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$FB/probe.c"
if ! command -v clang >/dev/null 2>&1 || ! clang -fsanitize=fuzzer -o "$FB/probe" "$FB/probe.c" >"$FB/logs/probe.log" 2>&1; then
	echo "fuzz.sh: clang with libFuzzer is missing ($(command -v clang || echo 'no clang')):" \
		"run 'make deps' (Debian packages clang and libclang-rt-14-dev)" >&2
	cat "$FB/logs/probe.log" >&2 2>/dev/null
	exit 2
fi

# The library through the project's own Makefile (its dependency tracking), into $FB, instrumented for coverage.
if ! make -s -j2 BUILD="$FB" CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $SAN" "$FB/libscriptbuild.a" \
	>"$FB/logs/build.log" 2>&1; then
	cat "$FB/logs/build.log" >&2
	echo "fuzz.sh: building the library with clang failed" >&2
	exit 2
fi
CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow -Wmissing-prototypes -Werror -O1 -g $SAN
	-Iengine -Icache -Iexport $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lm"

found=0
for src in tests/fuzz_*.c; do
	name=$(basename "$src" .c)
	target=${name#fuzz_}
	bin="$FB/$name"
	if [ ! -x "$bin" ] || [ -n "$(find "$src" "$FB/libscriptbuild.a" -newer "$bin")" ]; then
		# shellcheck disable=SC2086
		if ! clang $CFLAGS -fsanitize=fuzzer -o "$bin" "$src" "$FB/libscriptbuild.a" $LIBS >"$FB/logs/$name.build.log" 2>&1; then
			cat "$FB/logs/$name.build.log" >&2
			echo "fuzz.sh: building $name failed" >&2
			exit 2
		fi
	fi
	seeds="tests/fuzz/$target"
	if [ -z "$(ls "$seeds" 2>/dev/null)" ]; then
		echo "fuzz.sh: $name has no seeds in $seeds" >&2
		exit 2
	fi
	mkdir -p "$CORPUS/$target"
	[ "$target" = fountain ] && cp fixtures/*/*.fountain "$CORPUS/$target/"

	regressions=$(find "tests/fuzz/regressions/$target" -type f 2>/dev/null | sort)
	if [ -n "$regressions" ]; then
		# shellcheck disable=SC2086
		if ! "$bin" -timeout=10 $regressions >"$FB/logs/$name.regressions.log" 2>&1; then
			tail -n 40 "$FB/logs/$name.regressions.log" >&2
			echo "fuzz.sh: $name fails on a saved regression input (log: $FB/logs/$name.regressions.log)" >&2
			found=1
			continue
		fi
	fi

	log="$FB/logs/$name.log"
	"$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$FB/crashes/$target-" "$CORPUS/$target" "$seeds" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -ne 0 ]; then
		tail -n 40 "$log" >&2
		echo "fuzz.sh: $name found a problem (log: $log); the input is in $FB/crashes/ - fix it and keep the input" \
			"as tests/fuzz/regressions/$target/NAME" >&2
		found=1
	else
		echo "$name: ${runs:-?} inputs in ${SECONDS_EACH} s, corpus $(ls "$CORPUS/$target" | wc -l) files," \
			"$(echo "$regressions" | grep -c .) regressions replayed"
	fi
done
exit "$found"
