#!/bin/sh
# t_memory.sh - memory under answers far larger than their content (the fake server's --gzip-bomb-mb and
# --padded-mb): a gzip answer that expands a thousandfold is refused once it passes 100 times its wire bytes, so a
# run at -j8 stays small (the old code buffered each bomb whole: ~450 MB peak for 8 x 32 MB, under ASan); the bytes
# all answers in flight buffer are bounded (SCRIPTBUILD_MAX_BUFFERED, set low here), past which a request is retried
# with fewer in flight; an answer larger than that bound alone fails with a message naming it.
set -u
: "${SB:?}" "${TOOLS:?}" "${FAKEAPI:?}"
T=$(mktemp -d /tmp/t_memory.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
failed=0
check() {
	desc=$1
	shift
	if "$@"; then
		echo "ok   $desc"
	else
		echo "FAIL $desc"
		failed=1
	fi
}
says() { grep -q -- "$1" "$T/err"; }
show() { echo "  exit $rc"; grep -v 'POST .* HTTP 200' "$T/err" | sed 's/^/  /' | head -20; }

cd "$T" || exit 1
"$FAKEAPI" --port 0 --port-file "$T/port" 2>"$T/fake.log" &
PIDS="$PIDS $!"
i=0
while [ ! -s "$T/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
PORT=$(cat "$T/port")
export ANTHROPIC_API_KEY=sk-ant-t-memory-0123456789 OPENAI_API_KEY=sk-openai-t-memory-0123456789
export ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT" OPENAI_BASE_URL="http://127.0.0.1:$PORT/v1"
control() { curl -s -m 5 -X POST "http://127.0.0.1:$PORT/control" -d "$1" >/dev/null; }
"$TOOLS/tool_genscript" --scenes 8 --characters 3 --seed 5 >s.fountain
# build NAME [ENV=VALUE...]: a cold -j8 -v run under tool_peakrss; exit status in $rc, stderr in $T/err, KiB in $kib
build() {
	name=$1
	shift
	rm -rf "$T/c_$name"
	env "$@" "$TOOLS/tool_peakrss" "$T/rss" "$SB" -v -j8 --cache "$T/c_$name" s.fountain -o "$name.tar.zst" \
		>"$T/out" 2>"$T/err"
	rc=$?
	kib=$(cat "$T/rss")
}

# ---- gzip bombs: 8 answers that expand to 32 MB each, at -j8 ----
control '{"gzip-bomb-mb": 32, "padded-mb": 0, "bloat-count": 8}'
build bomb
check "gzip bombs: the run still succeeds (exit $rc)" [ "$rc" = 0 ] || show
check "gzip bombs: refused, naming the expansion bound" says "decompresses to more than 100 times the bytes sent"
check "gzip bombs: peak RSS $kib KiB stays under 200 MiB (the old code took ~450 MiB)" [ "$kib" -lt 204800 ]
check "gzip bombs: the archive verifies" "$SB" -q -t verify-archive bomb.tar.zst
check "gzip bombs: the cache verifies (no bomb stored)" "$SB" -q -t verify --cache "$T/c_bomb"

# ---- the bound on all answers in flight: 3 MB answers at -j8 under an 8 MiB bound ----
control '{"gzip-bomb-mb": 0, "padded-mb": 3, "bloat-count": 12}'
build padded SCRIPTBUILD_MAX_BUFFERED=8M
check "8 MiB bound: the run still succeeds (exit $rc)" [ "$rc" = 0 ] || show
check "8 MiB bound: named, and the request retried with fewer in flight" \
	says "buffer more than 8 MiB, the bound on all answers at once (SCRIPTBUILD_MAX_BUFFERED): retrying with fewer"
check "8 MiB bound: the archive verifies" "$SB" -q -t verify-archive padded.tar.zst

# ---- one answer larger than the bound: a clear failure, not a loop ----
control '{"gzip-bomb-mb": 0, "padded-mb": 3, "bloat-count": 1}'
build alone SCRIPTBUILD_MAX_BUFFERED=1M
check "1 MiB bound, a 3 MB answer: exit 1 (got $rc)" [ "$rc" = 1 ] || show
check "1 MiB bound: the answer alone is named as larger than the bound" \
	says "the answer alone is larger than 1 MiB, the bound on all answers at once (SCRIPTBUILD_MAX_BUFFERED)"

build badenv SCRIPTBUILD_MAX_BUFFERED=lots
check "SCRIPTBUILD_MAX_BUFFERED=lots: exit 2 naming it (got $rc)" sh -c "[ $rc = 2 ] && grep -q 'SCRIPTBUILD_MAX_BUFFERED=lots: not a size' '$T/err'"

[ $failed = 0 ] && echo "all ok"
exit $failed
