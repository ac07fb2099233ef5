#!/bin/sh
# Processes sharing a cache never pay twice for one request (issue 16): four builds of one script on one cache at
# once send each distinct request once (before: each paid for ~95 % of them); a claim whose owner was killed -9 is
# ignored by the next run, which finishes and serves the dead run's finished results from the cache.
set -u
: "${SB:?SB must name the scriptbuild under test}" "${TOOLS:?}" "${FAKEAPI:?}"
KILL_SIGNAL=9
. "${TOP:-.}/tests/lib.sh"
test_begin t_claims
num() { tr -d ' \n\t' | grep -o "\"$1\":[0-9][0-9]*" | head -n1 | cut -d: -f2; }
export ANTHROPIC_API_KEY=sk-ant-t-claims OPENAI_API_KEY=sk-t-claims

"$TOOLS/tool_genscript" --scenes 24 --characters 4 --seed 16 >"$WORK/play.fountain" || exit 1
start api --latency summary=40,outline=40,sheet=40,embedding=40
export ANTHROPIC_BASE_URL=$BASE OPENAI_BASE_URL=$BASE/v1

# Four processes, one script, one cache, started together.
for i in 1 2 3 4; do
	mkdir -p "$WORK/p$i"
	(cd "$WORK/p$i" && "$SB" -q -j4 --cache "$WORK/cache" ../play.fountain -o play.analysis.tar.zst) \
		>"$WORK/p$i.out" 2>"$WORK/p$i.err" &
	eval "P$i=\$!"
done
for i in 1 2 3 4; do
	eval "wait \$P$i"
	rc=$?
	check "process $i finished (exit $rc)" [ $rc -eq 0 ]
	[ $rc -eq 0 ] || cat "$WORK/p$i.err"
done
stats=$(curl -s -m 10 "$BASE/stats")
total=$(echo "$stats" | num total)
check "each distinct request was sent once: $total requests, $(echo "$stats" | num repeated) repeated bodies" \
	[ "$(echo "$stats" | num repeated)" = 0 ]
check "24 summaries were asked for in all ($(echo "$stats" | num summary))" [ "$(echo "$stats" | num summary)" = 24 ]
d1=$(sha256sum <"$WORK/p1/play.analysis.tar.zst")
for i in 2 3 4; do
	check "process $i wrote process 1's archive" [ "$(sha256sum <"$WORK/p$i/play.analysis.tar.zst")" = "$d1" ]
done

# A run killed -9 while its requests are in flight leaves claims that bind nobody.
start slow --latency summary=30000,outline=30000,sheet=30000,embedding=30000
export ANTHROPIC_BASE_URL=$BASE OPENAI_BASE_URL=$BASE/v1
"$TOOLS/tool_genscript" --scenes 6 --characters 2 --seed 17 >"$WORK/dead.fountain" || exit 1
"$SB" -q -j6 --cache "$WORK/cache2" "$WORK/dead.fountain" -o "$WORK/dead1.analysis.tar.zst" >/dev/null 2>&1 &
VICTIM=$!
PIDS="$PIDS $VICTIM"
i=0
while [ "$(curl -s -m 10 "$BASE/stats" | num in_flight)" -lt 2 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
claimed=$(curl -s -m 10 "$BASE/stats" | num in_flight)
check "the first run has summaries in flight ($claimed), so claimed" [ "$claimed" -ge 2 ]
kill -9 $VICTIM
wait $VICTIM 2>/dev/null
start quick --latency summary=5,outline=5,sheet=5,embedding=5
export ANTHROPIC_BASE_URL=$BASE OPENAI_BASE_URL=$BASE/v1
timeout 120 "$SB" -q -j6 --cache "$WORK/cache2" "$WORK/dead.fountain" -o "$WORK/dead2.analysis.tar.zst" \
	>"$WORK/dead.out" 2>"$WORK/dead.err"
rc=$?
check "the next run ignores the dead run's claims and finishes (exit $rc)" [ $rc -eq 0 ]
check "... sending the summaries the dead run had claimed too" \
	[ "$(curl -s -m 10 "$BASE/stats" | num summary)" = 6 ]

exit $failed
