#!/bin/sh
# t_reliability.sh - scriptbuild and scriptload as a hostile user or a busy CI machine runs them: closed standard
# descriptors, stdout that cannot be written (a full disk, a closed pipe), an output path that is the script,
# files beside the archive that only look like its temporary files, and SIGINT / SIGTERM in the middle of a run.
set -u
: "${SB:?}" "${SL:?}" "${TOOLS:?}" "${FAKEAPI:?}" "${TOP:?}"
T=$(mktemp -d /tmp/t_reliability.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	[ -d "$T/full" ] && umount "$T/full" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
failed=0
check() {  # check DESCRIPTION COMMAND...
	desc=$1
	shift
	if "$@"; then
		echo "ok   $desc"
	else
		echo "FAIL $desc"
		failed=1
	fi
}
# runs CMD... with stdout in $T/out, stderr in $T/err; leaves the status in $rc
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}
says() { grep -q -- "$1" "$T/err"; }
show() { echo "  exit $rc"; sed 's/^/  /' "$T/err" | head -20; }

cd "$T" || exit 1
cp "$TOP/fixtures/demo/harbor.fountain" play.fountain
C="$T/cache"

# ---- closed standard descriptors: nothing of ours ends up in LMDB's lock file ----
"$SB" --cache "$C" play.fountain 2>&-
rc=$?
check "stderr closed: the build succeeds (exit $rc)" [ "$rc" = 0 ]
check "stderr closed: no diagnostics in lock.mdb" sh -c "! grep -aq scriptbuild '$C/lock.mdb'"
rm -f play.analysis.tar.zst
"$SB" --cache "$C" -n play.fountain >&- 2>/dev/null
rc=$?
check "stdout closed: -n succeeds (exit $rc)" [ "$rc" = 0 ]
check "stdout closed: the -n listing is not in lock.mdb" sh -c "! grep -aq 'stale steps' '$C/lock.mdb'"
"$SB" --cache "$C" play.fountain <&- >&- 2>&-
rc=$?
check "all three closed: the build succeeds (exit $rc)" [ "$rc" = 0 ]
"$TOOLS/tool_mkarchive" "$T/keeper.analysis.tar.zst" keeper || exit 1
"$SL" --db "$T/closed.db" keeper.analysis.tar.zst >&- 2>&-
rc=$?
check "scriptload with stdout and stderr closed loads (exit $rc)" [ "$rc" = 0 ]
check "scriptload with stdout closed: its output is not in the database" \
	sh -c "! grep -aq 'loaded keeper' '$T/closed.db'"

# ---- requested output that cannot be written is a failure with a message ----
for args in "-t parse play.fountain" "-t stats --cache $C" "-t verify --cache $C" "-n --cache $C play.fountain"; do
	# shellcheck disable=SC2086
	"$SB" $args >/dev/full 2>"$T/err"
	rc=$?
	check "scriptbuild $args > /dev/full: exit 1 (got $rc)" [ "$rc" = 1 ]
	check "scriptbuild $args > /dev/full: says 'No space left on device'" says "No space left on device"
done
"$SL" --check keeper.analysis.tar.zst >/dev/full 2>"$T/err"
rc=$?
check "scriptload --check > /dev/full: exit 1 (got $rc)" [ "$rc" = 1 ]
check "scriptload --check > /dev/full: says 'No space left on device'" says "No space left on device"
run "$SB" --cache "$C" --report /dev/full play.fountain
check "--report /dev/full: exit 1 (got $rc)" [ "$rc" = 1 ]
check "--report /dev/full: names the report" says "report /dev/full"
# A closed pipe: the parse of a large script is far more than a pipe holds.
"$TOOLS/tool_genscript" --scenes 1500 --characters 12 >big.fountain
{ "$SB" -t parse big.fountain 2>"$T/err"; echo $? >"$T/rc"; } | head -c 10 >/dev/null
rc=$(cat "$T/rc")
check "-t parse | head -c 10: exit 1 after the pipe closed (got $rc)" [ "$rc" = 1 ]
check "-t parse | head -c 10: says why" says "Broken pipe\|write error"

# ---- the output path ----
cp play.fountain keep.fountain
run "$SB" --cache "$C" -o play.fountain play.fountain
check "-o SCRIPT SCRIPT refused with exit 2 (got $rc)" [ "$rc" = 2 ]
check "-o SCRIPT SCRIPT: the screenplay is intact" cmp -s play.fountain keep.fountain
check "-o SCRIPT SCRIPT: says it is the script" says "is the script"
ln play.fountain hard.tar.zst
run "$SB" --cache "$C" -o hard.tar.zst play.fountain
check "-o a hard link of the script refused (got $rc)" [ "$rc" = 2 ]
check "-o a hard link: the screenplay is intact" cmp -s play.fountain keep.fountain
run "$SB" --cache "$C" -o notes.txt play.fountain
check "-o notes.txt refused: not an archive name (got $rc)" [ "$rc" = 2 ]
check "-o notes.txt: says how to force it" says "force-output"
run "$SB" --cache "$C" --force-output -o notes.txt play.fountain
check "--force-output -o notes.txt is written (got $rc)" [ "$rc" = 0 ]
"$SB" -t verify-archive notes.txt >/dev/null 2>&1
check "--force-output: notes.txt is the archive" [ $? = 0 ]

# ---- files beside the archive that merely look like its temporary files are the user's ----
echo "my backup" >.play.analysis.tar.zst.backup
echo "my original" >.play.analysis.tar.zst.orig01
rm -f play.analysis.tar.zst
SOURCE_DATE_EPOCH=7 "$SB" -q --cache "$C" play.fountain
check "the sweep spares .play.analysis.tar.zst.backup" [ -f .play.analysis.tar.zst.backup ]
check "the sweep spares .play.analysis.tar.zst.orig01" [ -f .play.analysis.tar.zst.orig01 ]

# ---- a file name that is not UTF-8: the archive names it in UTF-8, and the reader checks it ----
cp play.fountain "$(printf 'bad\377name.fountain')"
run "$SB" -q --cache "$C" "$(printf 'bad\377name.fountain')"
check "a script whose name is not UTF-8 builds (got $rc)" [ "$rc" = 0 ]
bad_archive=$(printf 'bad\377name.analysis.tar.zst')
check "its archive keeps the file's own name" [ -f "$bad_archive" ]
"$SL" --check "$bad_archive" >"$T/out" 2>"$T/err"
check "scriptload --check accepts it" [ $? = 0 ]
name=$(tar --zstd -xOf "$bad_archive" manifest.json | sed -n 's/.*"name":[[:space:]]*"\([^"]*\)".*/\1/p' | head -1)
check "manifest.json names it with U+FFFD for the bad byte ($name)" [ "$name" = "bad$(printf '\357\277\275')name" ]
# (test_archive forges a manifest with a raw byte in the name: the reader refuses it.)

# ---- a full cache volume: named, and the archive still written from memory ----
if [ "$(id -u)" = 0 ]; then
	mkdir "$T/full"
	mount -t tmpfs -o size=600k tmpfs "$T/full" || { echo "FAIL cannot mount a 600k tmpfs as root"; failed=1; }
	"$TOOLS/tool_genscript" --scenes 120 --characters 8 --seed 4 >full.fountain
	"$SB" -q --cache "$T/roomy" -o "$T/roomy.analysis.tar.zst" full.fountain 2>/dev/null
	run "$SB" --cache "$T/full/cache" full.fountain
	check "a full cache volume: exit 1 (got $rc)" [ "$rc" = 1 ] || show
	check "a full cache volume is named: No space left on device" says "No space left on device"
	check "it says the results were not stored" says "were not stored"
	check "the archive is written from memory, as a roomy cache writes it" cmp -s full.analysis.tar.zst \
		"$T/roomy.analysis.tar.zst"
	umount "$T/full"
else
	echo "skip a full cache volume: mounting a small tmpfs needs root"
fi

# ---- SIGINT / SIGTERM in the middle of a run ----
"$FAKEAPI" --port 0 --port-file "$T/port" --latency summary=400,outline=400,sheet=400 2>"$T/fake.log" &
PIDS="$PIDS $!"
i=0
while [ ! -s "$T/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
PORT=$(cat "$T/port")
export ANTHROPIC_API_KEY=sk-ant-t-reliability OPENAI_API_KEY=sk-openai-t-reliability
export ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT" OPENAI_BASE_URL="http://127.0.0.1:$PORT/v1"
"$TOOLS/tool_genscript" --scenes 40 --characters 4 --seed 3 >sig.fountain
ok_requests() { curl -s -m 5 "http://127.0.0.1:$PORT/stats" | sed -n 's/.*"ok":\([0-9]*\).*/\1/p'; }
# interrupt SIGNAL: starts a cold run on its own cache, waits until the server has answered some requests, sends
# the signal; leaves the exit status in $rc, stderr in $T/err.
interrupt() {
	rm -rf "$T/sigcache" "$T/report.json" "$T/sig.analysis.tar.zst"
	curl -s -m 5 -X POST "http://127.0.0.1:$PORT/reset" >/dev/null
	"$SB" -j2 --cache "$T/sigcache" --report "$T/report.json" sig.fountain >"$T/out" 2>"$T/err" &
	pid=$!
	i=0
	while [ "$(ok_requests)" -lt 3 ] 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
	kill -"$1" "$pid"
	wait "$pid"
	rc=$?
}
for sig in INT TERM; do
	want=130
	[ $sig = TERM ] && want=143
	interrupt $sig
	check "SIG$sig: exit $want (got $rc)" [ "$rc" = $want ] || show
	check "SIG$sig: says it was interrupted" says "interrupted by SIG$sig"
	check "SIG$sig: the summary line is written" says "steps: .* run, .* cached"
	check "SIG$sig: the report says interrupted" grep -q '"interrupted":[[:space:]]*true' "$T/report.json"
	check "SIG$sig: no archive and no temporary file" sh -c "! ls -A '$T' | grep -q '^\.\?sig\.analysis'"
	# Every finished result was stored: a rerun serves at least as many from the cache as the server answered.
	answered=$(ok_requests)
	"$SB" -j4 --cache "$T/sigcache" --report "$T/report2.json" sig.fountain >/dev/null 2>&1
	cached=$(sed -n 's/.*"cached":[[:space:]]*\([0-9]*\).*/\1/p' "$T/report2.json" | paste -sd+ | bc)
	check "SIG$sig: the rerun finds the $answered finished results in the cache (cached $cached)" \
		[ "${cached:-0}" -ge 3 ]
done

# On a terminal the status line is ended cleanly: the interruption's messages start on a cleared line ("\r\033[K"
# after the last "[N/M] step" text, never glued to it), the output ends with a newline, the exit is 130.
rm -rf "$T/sigcache"
curl -s -m 5 -X POST "http://127.0.0.1:$PORT/reset" >/dev/null
# SIGINT once the first status line is drawn (a fixed count such as "[3/" can be skipped when two steps finish in one
# turn, and then never comes).
"$TOOLS/tool_pty" "$T/tty.out" "$(printf '\r[')" "$SB" -j2 --cache "$T/sigcache" sig.fountain
rc=$?
check "on a terminal: SIGINT exits 130 (got $rc)" [ "$rc" = 130 ]
tr '\r\033' '~`' <"$T/tty.out" >"$T/tty.txt"
check "on a terminal: a status line was drawn" grep -q '~\[[0-9]*/[0-9]*\] ' "$T/tty.txt"
check "on a terminal: the summary says interrupted" grep -q 'scriptbuild: interrupted by SIGINT' "$T/tty.txt"
check "on a terminal: every message starts a clean line" \
	sh -c "! grep 'scriptbuild: ' '$T/tty.txt' | grep -v '^scriptbuild: ' | grep -v '~\`\[Kscriptbuild: [^~]*~\?\$' | grep -q ."
check "on a terminal: the output ends with a newline" [ "$(tail -c 1 "$T/tty.out" | od -An -c | tr -d ' ')" = '\n' ]

# ---- out of file descriptors: named, and the window lowered until every step is done ----
rm -rf "$T/fdcache"
(ulimit -n 14; "$SB" -j64 -v --cache "$T/fdcache" sig.fountain -o "$T/fd.analysis.tar.zst" >"$T/out" 2>"$T/err")
check "ulimit -n 14 with -j64: EMFILE is named" says "out of file descriptors (EMFILE)"
check "ulimit -n 14 with -j64: every step still done (0 failed)" says "steps: [0-9]* run, 0 cached, 0 failed, 0 skipped"

# A second SIGINT ends the run at once, even while it waits (here on a cache another process holds for writing).
"$SB" -q --cache "$T/lockcache" play.fountain -o "$T/lock.tar.zst" >/dev/null 2>&1
"$TOOLS/tool_holdlock" "$T/lockcache" >"$T/held" 2>&1 &
holder=$!
PIDS="$PIDS $holder"
i=0
while ! grep -q held "$T/held" && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
rm -f "$T/lock.tar.zst"
SOURCE_DATE_EPOCH=99 "$SB" --cache "$T/lockcache" --llm builtin --embed builtin play.fountain -o "$T/lock.tar.zst" \
	>"$T/out" 2>"$T/err" &
pid=$!
# A background job of a non-interactive shell starts with SIGINT ignored: wait until scriptbuild has its handler.
i=0
while [ $i -lt 400 ]; do
	caught=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null)
	[ -n "$caught" ] && [ $((0x$caught & 2)) != 0 ] && break
	sleep 0.05
	i=$((i + 1))
done
sleep 0.3
kill -INT "$pid"
sleep 0.5
kill -0 "$pid" 2>/dev/null
check "a first SIGINT while the cache is busy does not end the run at once" [ $? = 0 ]
kill -INT "$pid"
wait "$pid"
rc=$?
check "a second SIGINT ends it at once (exit $rc)" [ "$rc" = 130 ]
check "the second SIGINT writes no summary" sh -c "! grep -q 'steps:' '$T/err'"
kill "$holder" 2>/dev/null

[ $failed = 0 ] && echo "all ok"
exit $failed
