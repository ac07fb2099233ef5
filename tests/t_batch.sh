#!/bin/sh
# Batch mode (issue 18): the anthropic steps go through the Message Batches API of the fake server. A cold S100 run
# makes exactly 2 batches (100 summaries; outline + 10 sheets), no /v1/messages call, and the archive the synchronous
# run makes; a run killed while polling leaves its batch recorded, and the next run collects it without submitting
# it again; errored and expired items are resubmitted; an invalid answer is corrected in the next wave and nothing
# invalid is cached; the report prices the batches at half and says what that saved.
set -u
: "${SB:?SB must name the scriptbuild under test}" "${TOOLS:?}" "${FAKEAPI:?}"
. "${TOP:-.}/tests/lib.sh"
test_begin t_batch
snap() {  # snap BASE: takes the fake server's /stats, which sv reads
	curl -s "$1/stats" >"$WORK/stats.json"
}
sv() {  # sv NAME: the first number named NAME in the last snapshot (the names used here are unique in /stats)
	grep -o "\"$1\":[0-9.]*" "$WORK/stats.json" | head -1 | cut -d: -f2
}
export ANTHROPIC_API_KEY=sk-ant-t-batch-0123456789 OPENAI_API_KEY=sk-t-batch-0123456789
export SCRIPTBUILD_BATCH_POLL_MS=50
"$TOOLS/tool_genscript" --scenes 100 --characters 10 --seed 18 >"$WORK/play.fountain" || exit 1

# build NAME BASE FLAGS...: builds play.fountain in its own directory (cache NAME/cache unless FLAGS name one).
build() {
	name=$1 base=$2
	shift 2
	mkdir -p "$WORK/$name"
	cp "$WORK/play.fountain" "$WORK/$name/play.fountain"
	(cd "$WORK/$name" && ANTHROPIC_BASE_URL=$base OPENAI_BASE_URL=$base/v1 \
		"$SB" --cache "$WORK/$name/cache" --report report.json "$@" play.fountain) \
		>"$WORK/$name.out" 2>"$WORK/$name.err"
}
digest() { sha256sum <"$WORK/$1/play.analysis.tar.zst" 2>/dev/null | cut -d' ' -f1; }

# ---- the synchronous reference and the cold batch run ----
start clean --batch-delay-ms 300
CLEAN=$BASE
build sync "$CLEAN" -j10 || { echo "FAIL the synchronous run"; cat "$WORK/sync.err"; exit 1; }
REF=$(digest sync)
SYNC_COST=$(tr -d ' \t\n' <"$WORK/sync/report.json" | grep -o '"cost_usd":[0-9.e-]*' | cut -d: -f2)
curl -s -X POST "$CLEAN/reset" >/dev/null
build cold "$CLEAN" --batch -j10
check "cold --batch run succeeds" [ $? -eq 0 ]
snap "$CLEAN"
check "exactly 2 batch submissions ($(sv submissions))" [ "$(sv submissions)" = 2 ]
check "111 batched requests: 100 summaries, then the outline and 10 sheets" \
	[ "$(sv items)" = 111 ]
check "no call to /v1/messages" [ "$(sv messages)" = 0 ]
check "embeddings stay synchronous (1 request)" [ "$(sv embeddings)" = 1 ]
check "the archive is byte-identical to the synchronous run's" [ "$(digest cold)" = "$REF" ]
# The embeddings stay synchronous at the standard price; the prompt cache (warm from the synchronous run) prices
# both runs' input too, so the batched requests are compared with their own standard price.
check "the report prices the batched requests at half and says what that saved ($(tr -d ' \t\n' <"$WORK/cold/report.json" | grep -o '"[a-z_]*cost_usd":[0-9.e-]*' | tr '\n' ' ')vs $SYNC_COST)" \
	python3 -c "import json,sys; r = json.load(open(sys.argv[1])); b = r['batch']; sync = float(sys.argv[2])
sys.exit(not (b['requests'] == 111 and b['saved_usd'] > 0 and abs(b['standard_cost_usd'] - 2 * b['cost_usd']) < 1e-9
              and abs(b['saved_usd'] - b['cost_usd']) < 1e-9 and b['price_factor'] == 0.5
              and 0 < r['cost_usd'] - b['cost_usd'] < 0.01 * sync and r['cost_usd'] < sync))" \
	"$WORK/cold/report.json" "$SYNC_COST"
check "the summary line says what batch mode saved" grep -q "message batches: 2 submitted.*saved ~\\$" "$WORK/cold.err"
"$SB" -t batches --cache "$WORK/cold/cache" >"$WORK/pending.out" 2>&1
check "no batch is left recorded" grep -q "no message batches pending" "$WORK/pending.out"
curl -s -X POST "$CLEAN/reset" >/dev/null
build cold "$CLEAN" --batch -j10
snap "$CLEAN"
check "warm: no submission, no call" [ "$(sv submissions),$(sv total)" = "0,0" ]

# ---- -n --batch and --frozen ----
build plan "$CLEAN" -n --batch
mv "$WORK/plan/report.json" "$WORK/plan/batch.json"
build plan "$CLEAN" -n
check "-n --batch marks the LLM kinds batched and prices them at half" python3 -c "import json,sys
b, s = (json.load(open(f))['kinds'] for f in sys.argv[1:])
sys.exit(not all(b[k].get('batch') is True and s[k]['cost'] > 0 and abs(b[k]['cost'] - s[k]['cost'] / 2) < 1e-9
                 for k in ('summary', 'outline', 'sheet')) or 'batch' in b['embedding'])" \
	"$WORK/plan/batch.json" "$WORK/plan/report.json"
curl -s -X POST "$CLEAN/reset" >/dev/null
mkdir -p "$WORK/frozen/cache" && cp -r "$WORK/sync/cache/." "$WORK/frozen/cache/"
build frozen "$CLEAN" --frozen --batch --model summary=claude-haiku-4-5-20251001
check "--frozen --batch with stale steps exits 1" [ $? -eq 1 ]
snap "$CLEAN"
check "... and never submits" [ "$(sv submissions),$(sv total)" = "0,0" ]

# ---- killed while polling: the next run resumes instead of submitting again ----
start slow --batch-delay-ms 2500
SLOW=$BASE
mkdir -p "$WORK/kill"
cp "$WORK/play.fountain" "$WORK/kill/play.fountain"
(cd "$WORK/kill" && ANTHROPIC_BASE_URL=$SLOW OPENAI_BASE_URL=$SLOW/v1 exec "$SB" --batch --cache "$WORK/kill/cache" \
	play.fountain >"$WORK/kill1.out" 2>"$WORK/kill1.err") &
RUN=$!
i=0
while snap "$SLOW" && [ "$(sv polls)" -lt 1 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 $RUN 2>/dev/null
wait $RUN 2>/dev/null
snap "$SLOW"
check "the killed run had submitted 1 batch and polled it" [ "$(sv submissions)" = 1 ]
"$SB" -t batches --cache "$WORK/kill/cache" >"$WORK/pending.out" 2>&1
check "-t batches lists the pending batch with its 100 summaries" grep -q "^msgbatch_.* old  100 requests (100 summary" \
	"$WORK/pending.out"
build kill "$SLOW" --batch
check "the next run completes" [ $? -eq 0 ]
check "it submitted only the second wave (2 submissions in all, 111 items)" \
	sh -c 'curl -s "$1/stats" | grep -q "\"submissions\":2,.*\"items\":111,"' - "$SLOW"
check "it wrote the synchronous run's archive" [ "$(digest kill)" = "$REF" ]
check "its report says 1 batch resumed" grep -q "1 submitted, 1 resumed" "$WORK/kill.err"
"$SB" -t batches --cache "$WORK/kill/cache" >"$WORK/pending.out" 2>&1
check "nothing is left pending" grep -q "no message batches pending" "$WORK/pending.out"

# ---- -t batches --cancel ----
curl -s -X POST "$SLOW/reset" >/dev/null
mkdir -p "$WORK/cancel"
cp "$WORK/play.fountain" "$WORK/cancel/play.fountain"
(cd "$WORK/cancel" && ANTHROPIC_BASE_URL=$SLOW OPENAI_BASE_URL=$SLOW/v1 exec "$SB" --batch --cache "$WORK/cancel/cache" \
	play.fountain >/dev/null 2>"$WORK/term.err") &
RUN=$!
i=0
while snap "$SLOW" && [ "$(sv polls)" -lt 1 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM $RUN 2>/dev/null
wait $RUN
check "SIGTERM while polling: exit 143" [ $? -eq 143 ]
check "... saying the batch is left running for the next run" grep -q "1 message batch left running: the next run" \
	"$WORK/term.err"
ANTHROPIC_BASE_URL=$SLOW "$SB" -t batches --cancel --cache "$WORK/cancel/cache" >"$WORK/cancel.out" 2>&1
snap "$SLOW"
check "-t batches --cancel cancels the pending batch" [ "$(sv cancels)" = 1 ]
check "... and says so" grep -q "^cancelled msgbatch_" "$WORK/cancel.out"
"$SB" -t batches --cache "$WORK/cancel/cache" >"$WORK/pending.out" 2>&1
check "... and forgets it" grep -q "no message batches pending" "$WORK/pending.out"

# ---- 10 % expired and 5 % errored: resubmitted, the run completes ----
start lossy --batch-delay-ms 100 --batch-expired 0.10 --batch-errored 0.05 --seed 5
LOSSY=$BASE
build lossy "$LOSSY" --batch
check "with 10 % expired and 5 % errored the run completes" [ $? -eq 0 ]
snap "$LOSSY"
check "items expired ($(sv expired)) and errored ($(sv errored))" [ "$(sv expired)" -gt 0 ] && [ "$(sv errored)" -gt 0 ]
check "they went into more batches ($(sv submissions))" [ "$(sv submissions)" -gt 2 ]
check "... still without /v1/messages" [ "$(sv messages)" = 0 ]
check "... and with the synchronous run's archive" [ "$(digest lossy)" = "$REF" ]
curl -s -X POST "$LOSSY/reset" >/dev/null
build fallback "$LOSSY" --batch --batch-fallback sync
check "--batch-fallback sync completes" [ $? -eq 0 ]
snap "$LOSSY"
check "... sending each lost item to /v1/messages ($(sv messages))" \
	[ "$(sv messages)" -gt 0 ] && [ "$(sv messages)" = $(($(sv expired) + $(sv errored))) ]
check "... with the synchronous run's archive" [ "$(digest fallback)" = "$REF" ]

# ---- invalid answers: corrected in the next wave, nothing invalid cached ----
start invalid --batch-delay-ms 100 --bad-scenes 0.5 --seed 9
INVALID=$BASE
build invalid_sync "$INVALID" -j10
INVALID_REF=$(digest invalid_sync)
curl -s -X POST "$INVALID/reset" >/dev/null
build invalid "$INVALID" --batch
check "with invalid answers the --batch run completes" [ $? -eq 0 ]
snap "$INVALID"
check "correction turns were sent ($(sv corrections)) in a third wave, none to /v1/messages" \
	[ "$(sv corrections)" -gt 0 ] && [ "$(sv submissions)" -ge 3 ] && [ "$(sv messages)" = 0 ]
check "... giving the synchronous run's archive" [ "$(digest invalid)" = "$INVALID_REF" ]
"$SB" -t verify --cache "$WORK/invalid/cache" >"$WORK/verify.out" 2>&1
check "-t verify finds nothing invalid in the cache" [ $? -eq 0 ]
check "the report counts the correction turns" python3 -c "import json,sys; c = json.load(open(sys.argv[1]))['corrections']
sys.exit(not c['outline']['turns'] + c['sheet']['turns'] > 0)" "$WORK/invalid/report.json"

# ---- the fake server refuses what the Batches API refuses ----
post_batch() {  # post_batch BASE BODY: prints the HTTP status
	curl -s -o "$WORK/post.out" -w '%{http_code}' -H "x-api-key: $ANTHROPIC_API_KEY" \
		-H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' -d "$2" "$1/v1/messages/batches"
}
P='{"model":"claude-haiku-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}'
check "a custom_id outside ^[a-zA-Z0-9_-]{1,64}$ is refused (400)" \
	[ "$(post_batch "$CLEAN" "{\"requests\":[{\"custom_id\":\"a.b\",\"params\":$P}]}")" = 400 ]
check "a custom_id used twice is refused (400)" \
	[ "$(post_batch "$CLEAN" "{\"requests\":[{\"custom_id\":\"a\",\"params\":$P},{\"custom_id\":\"a\",\"params\":$P}]}")" = 400 ]
check "an empty batch is refused (400)" [ "$(post_batch "$CLEAN" '{"requests":[]}')" = 400 ]
post_batch "$SLOW" "{\"requests\":[{\"custom_id\":\"a\",\"params\":$P}]}" >/dev/null
ID=$(grep -o '"id":"msgbatch_[0-9a-f]*"' "$WORK/post.out" | cut -d'"' -f4)
check "results before the batch ended are refused (400)" [ "$(curl -s -o /dev/null -w '%{http_code}' \
	-H "x-api-key: $ANTHROPIC_API_KEY" -H 'anthropic-version: 2023-06-01' "$SLOW/v1/messages/batches/$ID/results")" = 400 ]

# ---- "batch": true in the project file ----
curl -s -X POST "$CLEAN/reset" >/dev/null
mkdir -p "$WORK/project"
printf '{"llm": "anthropic", "embed": "openai", "batch": true}\n' >"$WORK/project/scriptbuild.json"
build project "$CLEAN"
check "\"batch\": true in scriptbuild.json batches like --batch" \
	sh -c 'curl -s "$1/stats" >"$2" && grep -q "\"messages\":0," "$2" && grep -q "\"submissions\":2," "$2"' - "$CLEAN" "$WORK/s.json"
check "... with the same archive" [ "$(digest project)" = "$REF" ]

[ $failed -eq 0 ] || { for f in "$WORK"/*.err; do echo "== $f"; tail -5 "$f"; done; }
exit $failed
