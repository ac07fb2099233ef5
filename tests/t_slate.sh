#!/bin/sh
# A slate in one run (issue 16): several scripts and directories are one graph with one window; each archive is
# written beside its script (or mirrored under -o DIR) with an id unique in the slate, as its script finishes;
# collisions are refused before anything runs; a failed script fails the run but not the others' archives;
# identical requests (two drafts with the same scenes) are sent once.
set -u
: "${SB:?SB must name the scriptbuild under test}" "${SL:?}" "${TOOLS:?}" "${FAKEAPI:?}"
. "${TOP:-.}/tests/lib.sh"
test_begin t_slate
num() { tr -d ' \n\t' | grep -o "\"$1\":[0-9][0-9]*" | head -n1 | cut -d: -f2; }
G="$TOOLS/tool_genscript"
mkdir -p "$WORK/s/draft1" "$WORK/s/draft2" "$WORK/s/other"
"$G" --scenes 8 --characters 3 --seed 1 >"$WORK/s/draft1/play.fountain" || exit 1
cp "$WORK/s/draft1/play.fountain" "$WORK/s/draft2/play.fountain"
"$G" --scenes 6 --characters 3 --seed 2 >"$WORK/s/other/a.fountain" || exit 1
"$G" --scenes 5 --characters 2 --seed 3 >"$WORK/s/other/b.fountain" || exit 1
echo "not a script" >"$WORK/s/other/notes.txt"
cd "$WORK" || exit 1

# --- the builtin analyser: ids, paths, the report ---
"$SB" -q --cache c1 --report slate.json s >out.txt 2>err
check "a directory builds (exit 0)" [ $? -eq 0 ]
for f in s/draft1/play s/draft2/play s/other/a s/other/b; do
	check "$f.analysis.tar.zst written beside its script" [ -s "$f.analysis.tar.zst" ]
done
check "no archive in the working directory" [ ! -e play.analysis.tar.zst ]
check "the report has a section per script" [ "$(grep -c '"id":' slate.json)" = 4 ]
check "the report's totals count every script's summaries" [ "$(num total <slate.json)" = 27 ]
"$SL" -q --db ids.db s/draft1/play.analysis.tar.zst s/draft2/play.analysis.tar.zst >/dev/null 2>&1
check "the two drafts load as two scripts, ids from their paths" \
	[ "$(sqlite3 ids.db 'SELECT group_concat(script_id, ",") FROM (SELECT script_id FROM scripts ORDER BY 1)')" = "draft1/play,draft2/play" ]

# Files given one by one, as a shell glob gives them; -o DIR mirrors the paths under the common ancestor.
"$SB" -q --cache c1 -o out s/other/*.fountain s/draft1/play.fountain >out.txt 2>err
check "several files build (exit 0): $(head -c 300 err)" [ $? -eq 0 ]
check "-o DIR mirrors the paths (out/other/a, out/draft1/play)" \
	[ -s out/other/a.analysis.tar.zst ] && [ -s out/other/b.analysis.tar.zst ] && [ -s out/draft1/play.analysis.tar.zst ]
check "a slate's archive holds what the script alone gives (same scenes)" \
	[ "$(zstd -dc out/other/a.analysis.tar.zst | tar -tf - | sort | md5sum)" = \
	  "$(zstd -dc s/other/a.analysis.tar.zst | tar -tf - | sort | md5sum)" ]

# Targets after the scripts; an unknown one is refused as before.
"$SB" -q --cache c1 s/other/a.fountain s/other/b.fountain summaries >out.txt 2>err
check "a target after several scripts is a target (exit 0)" [ $? -eq 0 ]
"$SB" -q --cache c1 s/other/a.fountain bogus >out.txt 2>err
check "an unknown target is refused (exit 2)" [ $? -eq 2 ] && grep -q "unknown target 'bogus'" err

# Collisions, refused before anything runs.
mkdir -p clash
cp s/other/a.fountain clash/x.fountain
cp s/other/b.fountain clash/x
"$SB" -q --cache c2 clash/x.fountain clash/x >out.txt 2>err
check "two scripts with one id are refused (exit 2) naming both" [ $? -eq 2 ] && grep -q "clash/x.fountain and clash/x" err
check "... before anything ran" [ ! -e clash/x.analysis.tar.zst ] && [ ! -e c2 ]
"$SB" -q --cache c2 s/other/a.fountain ./s/other/a.fountain >out.txt 2>err
check "one script given twice is refused (exit 2)" [ $? -eq 2 ] && grep -q "same script" err
"$SB" -q --cache c2 -o x.analysis.tar.zst s/other >out.txt 2>err
check "-o FILE with a slate is refused (exit 2)" [ $? -eq 2 ] && grep -q "names a directory" err
mkdir -p empty
"$SB" -q --cache c2 empty >out.txt 2>err
check "a directory without a script is refused (exit 2)" [ $? -eq 2 ] && grep -q "no .fountain script" err

# -n and --frozen on a slate: each script's plan (its stale steps) under its path, in slate order, though the run lets
# each script go as soon as it is through with it.
mkdir -p c7
"$SB" -q --cache c7 s/draft1/play.fountain >/dev/null 2>&1
"$SB" -n --cache c7 s/other >n.txt 2>err
check "-n on a slate prints each plan under its path, in slate order" \
	[ "$(grep '^s/.*:$' n.txt | paste -sd,)" = "s/other/a.fountain:,s/other/b.fountain:" ]
check "-n gives every script's stale steps" [ "$(grep -c ' stale steps' n.txt)" = 2 ]
"$SB" --frozen --cache c7 s/other >fz.txt 2>err
check "--frozen on a slate lists each stale step under its script" \
	[ "$(grep -c '^stale: s/other/a.fountain: ' fz.txt)" -gt 0 ] && [ "$(grep -c '^stale: s/other/b.fountain: ' fz.txt)" -gt 0 ]
check "... as many as it says ($(wc -l <fz.txt))" grep -q "^scriptbuild: --frozen: $(wc -l <fz.txt) steps are not in the cache" err
check "... in slate order" [ "$(cut -d: -f2 fz.txt | uniq | paste -sd,)" = " s/other/a.fountain, s/other/b.fountain" ]

# --- against the fake API: one request per distinct step, a failed script ---
start api --latency summary=30,outline=30,sheet=30,embedding=30
export ANTHROPIC_API_KEY=sk-ant-t-slate OPENAI_API_KEY=sk-t-slate ANTHROPIC_BASE_URL=$BASE OPENAI_BASE_URL=$BASE/v1
"$SB" -q -j4 --cache c3 --report dup.json s/draft1 s/draft2 >out.txt 2>err
check "two identical drafts build (exit 0)" [ $? -eq 0 ]
stats=$(curl -s -m 10 "$BASE/stats")
check "each distinct request was sent once (repeated bodies: $(echo "$stats" | num repeated))" \
	[ "$(echo "$stats" | num repeated)" = 0 ]
check "8 summaries asked for 16 steps ($(echo "$stats" | num summary))" [ "$(echo "$stats" | num summary)" = 8 ]
# The second draft opens once the window has room: its summaries follow the first's requests in flight (shared) or
# find their results already stored; none is run again.
check "the report counts 8 summaries run and 8 taken from them (cached $(num cached <dup.json), shared $(num shared <dup.json))" \
	[ "$(num run <dup.json)" = 8 ] && [ "$(num cached <dup.json)" = 8 ]
check "both drafts' archives hold the same results" \
	[ "$(zstd -dc s/draft1/play.analysis.tar.zst | tar -xOf - summaries.jsonl 2>/dev/null | md5sum)" = \
	  "$(zstd -dc s/draft2/play.analysis.tar.zst | tar -xOf - summaries.jsonl 2>/dev/null | md5sum)" ]

# Archives appear one by one: the first is there while later scripts still have requests to make.
curl -s -m 10 -X POST "$BASE/reset" >/dev/null
rm -f s/other/a.analysis.tar.zst
"$SB" -q -j2 --cache c4 s/other s/draft1 >out.txt 2>err &
BUILD=$!
i=0
while [ ! -e s/other/a.analysis.tar.zst ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
early=$(curl -s -m 10 "$BASE/stats" | num total)
wait $BUILD
check "the slate with a fresh cache builds (exit 0)" [ $? -eq 0 ]
final=$(curl -s -m 10 "$BASE/stats" | num total)
check "the first archive was written after $early of $final requests" [ "$early" -lt "$final" ]

# A script edited after the run read it, before the run reached it: it is not built from other text than its archive
# would record. It fails, named, with what to do; the others are written; run again, it builds.
curl -s -m 10 -X POST "$BASE/reset" >/dev/null
mkdir -p e
"$G" --scenes 8 --characters 3 --seed 11 >e/a.fountain
"$G" --scenes 3 --characters 2 --seed 12 >e/z.fountain
"$SB" -j1 --cache c6 --report edit.json e >out.txt 2>err &
BUILD=$!
i=0
while [ "$(curl -s -m 10 "$BASE/stats" | num total)" = 0 ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
"$G" --scenes 3 --characters 2 --seed 13 >e/z.fountain
wait $BUILD
rc=$?
check "a script edited during the run fails the slate (exit $rc, want 1)" [ $rc -eq 1 ]
check "the failure names it and says to run again: $(grep FAILED err | head -c 300)" \
	grep -q "^scriptbuild: FAILED: e/z.fountain changed while the run was going: not built.*run again" err
check "the summary names it as failed" grep -q "^scriptbuild: FAILED e/z.fountain" err
check "its archive is not written" [ ! -e e/z.analysis.tar.zst ]
check "the other script's archive is written" [ -s e/a.analysis.tar.zst ]
check "the report has it incomplete, the other complete" \
	[ "$(tr -d ' \n\t' <edit.json | grep -o '"complete":[a-z]*' | sort | uniq -c | tr -d ' ' | paste -sd,)" = '1"complete":false,1"complete":true' ]
"$SB" -q -j4 --cache c6 e >out.txt 2>err
check "run again, it builds (exit $?)" [ -s e/z.analysis.tar.zst ]
"$SB" -q --cache c6 -o z1.analysis.tar.zst e/z.fountain >/dev/null 2>&1
script_digest() { zstd -dc "$1" | tar -xOf - manifest.json | tr -d ' \n\t' | grep -o '"script":{[^}]*' | grep -o '"digest":"[^"]*"'; }
check "from the text it has now (the digest a build of it alone records)" \
	[ -n "$(script_digest z1.analysis.tar.zst)" ] && [ "$(script_digest e/z.analysis.tar.zst)" = "$(script_digest z1.analysis.tar.zst)" ]

# A script whose summaries always fail: the others are written, the run exits 1 and names it.
start fail --long-summary KETTLEDRUM --long-summary-chars 9000
export ANTHROPIC_BASE_URL=$BASE OPENAI_BASE_URL=$BASE/v1
mkdir -p f
"$G" --scenes 4 --characters 2 --seed 5 >f/good.fountain
"$G" --scenes 4 --characters 2 --seed 6 | sed 's/^\([A-Z][a-z].*\)$/\1 KETTLEDRUM./' >f/bad.fountain
grep -q KETTLEDRUM f/bad.fountain || echo "FAIL the bad script has no marker" 
"$SB" -k 0 --corrections 0 --cache c5 --report fail.json f >out.txt 2>err
rc=$?
check "a failed script fails the slate (exit $rc, want 1)" [ $rc -eq 1 ]
check "the good script's archive is written" [ -s f/good.analysis.tar.zst ]
check "the failed script's is not" [ ! -e f/bad.analysis.tar.zst ]
check "one line names the failed script" [ "$(grep -c '^scriptbuild: FAILED f/bad.fountain' err)" = 1 ]
check "the summary line counts the scripts" grep -q "^scriptbuild: 2 scripts (1 complete, 1 not)" err
# --partial after a stop: a script the run never reached (the failure stopped it before its turn) still gets its
# partial archive, as one reached and stopped does, not the archive of its last build left at its path.
"$G" --scenes 3 --characters 2 --seed 7 >f/later.fountain
"$SB" -j1 -k 1 --partial --corrections 0 --cache c5 f >out.txt 2>err
check "the failure stops the slate before f/later.fountain is reached" grep -q "^scriptbuild: incomplete f/later.fountain: 0 of .* skipped" err
partial_of() { zstd -dc "$1" 2>/dev/null | tar -xOf - manifest.json 2>/dev/null | tr -d ' \n\t' | grep -o '"partial":[a-z]*'; }
check "... the unreached script's partial archive is written ($(partial_of f/later.analysis.tar.zst))" \
	[ "$(partial_of f/later.analysis.tar.zst)" = '"partial":true' ]
check "... and the failed one's ($(partial_of f/bad.analysis.tar.zst))" [ "$(partial_of f/bad.analysis.tar.zst)" = '"partial":true' ]

exit $failed
