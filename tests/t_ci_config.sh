#!/bin/sh
# Issue 13, parts 2-4, as a CI user meets them: the project file pins providers; --frozen needs a restored cache and
# writes a partial archive when asked; --model all=M leaves the embedding model alone; the build record survives a
# checkout in another directory; the plan (-n --report), the estimates learned from the cache and --max-cost; the
# messages for a base URL ending in /v1, a refused key, an unreachable endpoint, removed and reordered scenes; the
# progress line on a non-terminal stderr; a man page that documents every option.
set -u
: "${SB:?SB must name the scriptbuild under test}" "${TOOLS:?}" "${FAKEAPI:?}" "${TOP:=$(pwd)}"
. "${TOP:-.}/tests/lib.sh"
test_begin t_ci_config
has() { grep -q -- "$1" "$2"; }
lacks() { ! grep -q -- "$1" "$2"; }
count() { grep -c -- "$1" "$2"; }
stat_of() {  # stat_of BASE NAME: a number from the fake server's /stats
	curl -s -m 10 "$1/stats" | tr -d ' \n\t' | grep -o "\"$2\":[0-9][0-9]*" | head -n1 | cut -d: -f2
}
num() { tr -d ' \n\t' <"$1" | grep -o "\"$2\":[0-9.e+-][0-9.e+-]*" | head -n1 | cut -d: -f2; }
unset ANTHROPIC_API_KEY OPENAI_API_KEY ANTHROPIC_BASE_URL OPENAI_BASE_URL SCRIPTBUILD_CACHE

start main --latency summary=1,outline=1,sheet=1,embedding=1
MAIN=$BASE
export ANTHROPIC_BASE_URL=$MAIN OPENAI_BASE_URL=$MAIN/v1
mkdir -p "$WORK/repo/scripts" "$WORK/other"
"$TOOLS/tool_genscript" --scenes 12 --characters 4 --seed 5 >"$WORK/repo/scripts/play.fountain"

# ---- part 2: the project file -------------------------------------------------------------------------------------
cd "$WORK/repo/scripts" || exit 1
ANTHROPIC_API_KEY=k OPENAI_API_KEY=k "$SB" --cache "$WORK/c-env" -o env.tar.zst play.fountain 2>"$WORK/env1.err"
check "without a project file and with keys, the run uses anthropic" has "summary anthropic" "$WORK/env1.err"
"$SB" --cache "$WORK/c-env" -n play.fountain >/dev/null 2>"$WORK/env2.err"
check "without keys the run says the cache holds anthropic results and how to pin it" \
	has "the cache holds anthropic claude-haiku-4-5 results from the last build; this run selected builtin because ANTHROPIC_API_KEY is not set: pass --llm anthropic or add scriptbuild.json" "$WORK/env2.err"

cat >"$WORK/repo/scriptbuild.json" <<'JSON'
{
  "llm": "anthropic",
  "embed": "openai",
  "models": {"outline": "claude-haiku-4-5"},
  "max_tokens": {"summary": 900},
  "output_dir": "analysis"
}
JSON
before=$(stat_of "$MAIN" total)
"$SB" --cache "$WORK/c1" play.fountain 2>"$WORK/nokey.err"
rc=$?
check "a project file's provider without its key: exit 2 ($rc)" [ "$rc" = 2 ]
check "... naming the variable and the project file" has "set ANTHROPIC_API_KEY" "$WORK/nokey.err"
check "... and the project file" has "scriptbuild.json selects this provider" "$WORK/nokey.err"
check "... having sent nothing" [ "$(stat_of "$MAIN" total)" = "$before" ]

ANTHROPIC_API_KEY=k OPENAI_API_KEY=k "$SB" --cache "$WORK/c1" --report "$WORK/r1.json" play.fountain 2>"$WORK/p1.err"
check "with keys the project's providers and models run" has "outline anthropic claude-haiku-4-5" "$WORK/p1.err"
check "the archive goes to the project's output_dir" [ -s "$WORK/repo/analysis/play.analysis.tar.zst" ]
ANTHROPIC_API_KEY=k "$SB" --cache "$WORK/c1" -n play.fountain >"$WORK/p2.out" 2>"$WORK/p2.err"
check "with a project file, a missing OPENAI_API_KEY does not switch the embedding to builtin" \
	has "embedding openai" "$WORK/p2.err"
check "... and nothing is stale" has "^0 stale steps" "$WORK/p2.out"

# --frozen needs the cache it was promised.
"$SB" --frozen --cache "$WORK/never-restored" play.fountain 2>"$WORK/fz.err"
rc=$?
check "--frozen with a missing cache: exit 2 ($rc)" [ "$rc" = 2 ]
check "... naming it and asking whether it was restored" has "never-restored is missing or empty (was the cache restored?)" "$WORK/fz.err"
check "... without creating it" [ ! -e "$WORK/never-restored" ]
mkdir "$WORK/empty-cache"
"$SB" --frozen --cache "$WORK/empty-cache" play.fountain 2>/dev/null
check "--frozen with an empty cache directory: exit 2" [ $? = 2 ]

# --frozen with no keys after a keyed build: same archive, nothing sent.
before=$(stat_of "$MAIN" total)
cp "$WORK/repo/analysis/play.analysis.tar.zst" "$WORK/keyed.tar.zst"
"$SB" --frozen --cache "$WORK/c1" -o "$WORK/frozen.tar.zst" play.fountain 2>"$WORK/fz2.err"
check "--frozen with no keys: exit 0" [ $? = 0 ]
check "... the keyed build's archive, byte for byte" cmp -s "$WORK/keyed.tar.zst" "$WORK/frozen.tar.zst"
check "... having sent nothing" [ "$(stat_of "$MAIN" total)" = "$before" ]

# --frozen --partial: what is cached goes into a partial archive.
"$TOOLS/tool_genscript" --scenes 12 --characters 4 --seed 5 --edit 3 >"$WORK/repo/scripts/play.fountain"
"$SB" --frozen --partial --cache "$WORK/c1" -o "$WORK/partial.tar.zst" play.fountain >"$WORK/fp.out" 2>"$WORK/fp.err"
rc=$?
check "--frozen --partial with stale steps: exit 1 ($rc)" [ "$rc" = 1 ]
check "... writes the partial archive" [ -s "$WORK/partial.tar.zst" ]
"$SB" -t verify-archive "$WORK/partial.tar.zst" >"$WORK/fp.verify" 2>&1
check "... which verifies and says partial" has "(partial)" "$WORK/fp.verify"

# The build record is found from another checkout: "scene text changed", not "never built".
mkdir -p "$WORK/other/scripts"
cp "$WORK/repo/scriptbuild.json" "$WORK/other/"
cp "$WORK/repo/scripts/play.fountain" "$WORK/other/scripts/"
(cd "$WORK/other/scripts" && "$SB" --frozen --cache "$WORK/c1" -d explain play.fountain >"$WORK/other.out" 2>&1)
check "another checkout's explain names the edited scene" has "summary 3 .*: scene text changed" "$WORK/other.out"
check "... not 'never built'" lacks "never built" "$WORK/other.out"

# --model all=M renames the LLM kinds' models, not the embedding's.
ANTHROPIC_API_KEY=k OPENAI_API_KEY=k "$SB" --cache "$WORK/c1" -n --model all=claude-sonnet-4-5 play.fountain 2>"$WORK/all.err" >/dev/null
check "--model all=M: summaries use M" has "summary anthropic claude-sonnet-4-5" "$WORK/all.err"
check "... the embedding model is untouched" has "embedding openai text-embedding-3-small" "$WORK/all.err"

# ---- part 3: the plan, the estimates, the budget --------------------------------------------------------------------
cd "$WORK/other/scripts" || exit 1
export ANTHROPIC_API_KEY=k OPENAI_API_KEY=k
"$TOOLS/tool_genscript" --scenes 12 --characters 4 --seed 9 >play.fountain
"$SB" --cache "$WORK/c3" -n --report "$WORK/plan0.json" play.fountain >"$WORK/plan0.out" 2>/dev/null
check "-n --report writes the plan" has '"format":[^"]*"scriptbuild-plan"' "$WORK/plan0.json"
check "... 29 stale steps (12 summaries, outline, 4 sheets, 12 embeddings)" [ "$(num "$WORK/plan0.json" stale)" = 29 ]
check "... each with a reason and an estimate" [ "$(grep -c '"reason"' "$WORK/plan0.json")" = 29 ]
check "... a cold cache estimates by the max_tokens rule" has "max_tokens rule (no history)" "$WORK/plan0.out"
check "... and says up to N when early cutoff may save some" has "^up to 29 stale steps" "$WORK/plan0.out"

summaries_before=$(curl -s "$MAIN/stats" | tr -d ' \n\t' | grep -o '"by_kind":{"summary":[0-9]*' | grep -o '[0-9]*$')
"$SB" --cache "$WORK/c3" --max-cost 0.004 --report "$WORK/b1.json" play.fountain >/dev/null 2>"$WORK/b1.err"
rc=$?
check "--max-cost stops the run: exit 1 ($rc)" [ "$rc" = 1 ]
check "... naming spent and remaining" has "stopped: --max-cost \$0.0040: spent \$0.00[0-9]*, \$0.00[0-9]* remaining" "$WORK/b1.err"
cost1=$(num "$WORK/b1.json" cost_usd)
check "... having spent no more than the budget ($cost1)" awk "BEGIN { exit !($cost1 <= 0.004 && $cost1 > 0) }"
# With the history the first run left, the estimates are close, so the run gets near its budget: a warning at 80 %.
"$SB" --cache "$WORK/c3" --max-cost 0.008 play.fountain >/dev/null 2>"$WORK/b1b.err"
check "a run with learned estimates warns at 80 % of its budget" has "warning: spent \$0.00[0-9]* of --max-cost \$0.0080 ([89][0-9] %)" "$WORK/b1b.err"
"$SB" --cache "$WORK/c3" --max-cost 5 --report "$WORK/b2.json" play.fountain >/dev/null 2>"$WORK/b2.err"
check "a larger budget continues: exit 0" [ $? = 0 ]
summaries_after=$(curl -s "$MAIN/stats" | tr -d ' \n\t' | grep -o '"by_kind":{"summary":[0-9]*' | grep -o '[0-9]*$')
check "... from the cache: over the three runs each summary was asked once ($((summaries_after - summaries_before)))" \
	[ "$((summaries_after - summaries_before))" = 12 ]

"$TOOLS/tool_genscript" --scenes 12 --characters 4 --seed 9 --edit 6 >play.fountain
"$SB" --cache "$WORK/c3" -n --report "$WORK/plan1.json" play.fountain >"$WORK/plan1.out" 2>/dev/null
"$SB" --cache "$WORK/c3" --report "$WORK/run1.json" play.fountain >/dev/null 2>&1
est=$(tr -d ' \n\t' <"$WORK/plan1.json" | grep -o '"cost":[0-9.e+-]*,"cost_low"' | tail -n1 | sed 's/"cost":\([^,]*\),.*/\1/')
act=$(num "$WORK/run1.json" cost_usd)
check "after a run the estimate learns from the cache's history" has "history (" "$WORK/plan1.out"
check "... and the edit's estimate (\$$est) is within 20 % of its cost (\$$act)" \
	awk "BEGIN { d = $est - $act; if (d < 0) d = -d; exit !(d <= 0.2 * $act) }"

"$SB" --cache "$WORK/c3" --max-cost 1 --model summary=mystery-model play.fountain 2>"$WORK/unk.err" >/dev/null
check "--max-cost refuses a model with no known price: exit 2" [ $? = 2 ]
check "... naming it and SCRIPTBUILD_PRICES" has "price unknown for mystery-model.*SCRIPTBUILD_PRICES" "$WORK/unk.err"
"$SB" --cache "$WORK/c3" -n --model summary=mystery-model play.fountain >"$WORK/unk.out" 2>/dev/null
check "-n says the price is unknown instead of \$0" has "price unknown for mystery-model (set SCRIPTBUILD_PRICES)" "$WORK/unk.out"

# ---- part 4: messages -------------------------------------------------------------------------------------------------
before=$(stat_of "$MAIN" total)
ANTHROPIC_BASE_URL=$MAIN/v1 "$SB" --cache "$WORK/c4" play.fountain 2>"$WORK/v1.err"
check "ANTHROPIC_BASE_URL ending in /v1: exit 2" [ $? = 2 ]
check "... saying to drop the /v1" has "drop the trailing /v1 from ANTHROPIC_BASE_URL" "$WORK/v1.err"
check "... having sent nothing" [ "$(stat_of "$MAIN" total)" = "$before" ]

start locked --anthropic-key the-right-key --latency summary=50
ANTHROPIC_BASE_URL=$BASE ANTHROPIC_API_KEY=a-wrong-key "$SB" -j8 -k 0 --embed builtin --cache "$WORK/c5" play.fountain 2>"$WORK/401.err"
check "a refused key: exit 1" [ $? = 1 ]
check "... one FAILED line ($(count FAILED "$WORK/401.err"))" [ "$(count FAILED "$WORK/401.err")" = 1 ]
check "... naming the variable and the endpoint" has "ANTHROPIC_API_KEY was refused by $BASE/v1/messages" "$WORK/401.err"
check "... and one summary" has "1 failed, 28 skipped" "$WORK/401.err"
check "... never the key" lacks "a-wrong-key" "$WORK/401.err"

ANTHROPIC_BASE_URL=http://127.0.0.1:1 "$SB" --retries 0 --embed builtin --cache "$WORK/c6" play.fountain 2>"$WORK/down.err"
check "an unreachable endpoint: exit 1" [ $? = 1 ]
check "... naming the base URL and its variable" has "is http://127.0.0.1:1 reachable? it comes from ANTHROPIC_BASE_URL" "$WORK/down.err"

# Removed and reordered scenes, with -n and the run agreeing.
unset ANTHROPIC_API_KEY OPENAI_API_KEY
mkdir "$WORK/plain" && cd "$WORK/plain" || exit 1
printf 'INT. ONE - DAY\n\nAnna waits.\n\nANNA\nHello.\n\nINT. TWO - DAY\n\nBen runs.\n\nBEN\nHi.\n\nINT. THREE - DAY\n\nAnna sits.\n\nANNA\nBye.\n' >three.fountain
"$SB" -q --cache "$WORK/c7" three.fountain
printf 'INT. ONE - DAY\n\nAnna waits.\n\nANNA\nHello.\n\nINT. THREE - DAY\n\nAnna sits.\n\nANNA\nBye.\n' >three.fountain
"$SB" -n -d explain --cache "$WORK/c7" three.fountain >"$WORK/rm-n.out" 2>&1
"$SB" -d explain --cache "$WORK/c7" three.fountain >"$WORK/rm-run.out" 2>&1
check "-n names the removed scene" has "outline: scene removed (INT. TWO - DAY)" "$WORK/rm-n.out"
check "... and the run gives the same reason" has "explain: outline: scene removed (INT. TWO - DAY)" "$WORK/rm-run.out"
printf 'INT. THREE - DAY\n\nAnna sits.\n\nANNA\nBye.\n\nINT. ONE - DAY\n\nAnna waits.\n\nANNA\nHello.\n' >three.fountain
"$SB" -n -d explain --cache "$WORK/c7" three.fountain >"$WORK/ro-n.out" 2>&1
"$SB" -d explain --cache "$WORK/c7" three.fountain >"$WORK/ro-run.out" 2>&1
check "-n names reordered scenes" has "outline: scene order changed" "$WORK/ro-n.out"
check "... and the run gives the same reason" has "explain: outline: scene order changed" "$WORK/ro-run.out"

# The progress line, when stderr is a file and -v is not given.
cd "$WORK/other/scripts" || exit 1
SCRIPTBUILD_PROGRESS_SECONDS=0 ANTHROPIC_API_KEY=k OPENAI_API_KEY=k "$SB" --cache "$WORK/c8" play.fountain 2>"$WORK/progress.err"
check "a non-terminal stderr gets progress lines" has '^scriptbuild: \[[0-9]*/29\] [0-9]* %, [0-9]* s, [0-9]* retries$' "$WORK/progress.err"
ANTHROPIC_API_KEY=k OPENAI_API_KEY=k "$SB" --cache "$WORK/c9" play.fountain 2>"$WORK/quiet.err"
check "... at most every 10 s by default (none in a short run)" lacks ' retries$' "$WORK/quiet.err"

# The man page documents every option that -h lists.
missing=""
for opt in $("$SB" -h | sed -n '/^options:/,$p' | grep -o -- '\(^\| \)--*[a-zA-Z][-a-zA-Z]*' | tr -d ' ' | sort -u); do
	grep -q -- "$(printf '%s' "$opt" | sed 's/-/\\\\-/g')" "$TOP/cmd/scriptbuild.1" || missing="$missing $opt"
done
check "man scriptbuild documents every option (missing:$missing)" [ -z "$missing" ]
check "make install installs both man pages" grep -q 'install -m 644 cmd/scriptbuild.1 cmd/scriptload.1' "$TOP/Makefile"

exit $failed
