#!/bin/sh
# Tests the fake API server itself with curl on loopback: wire formats, rejections, deterministic answers,
# injected faults, the concurrency cap, /stats, /control, /reset, and a clean (leak-free) exit on SIGTERM.
set -u
: "${FAKEAPI:?FAKEAPI must name the built fake API server}"
WORK=$(mktemp -d /tmp/t_fakeapi.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
failed=0

check() {  # check DESCRIPTION COMMAND...: runs COMMAND, reports, remembers a failure
	desc=$1
	shift
	if "$@"; then
		echo "ok   $desc"
	else
		echo "FAIL $desc"
		failed=1
	fi
}

# start NAME ARGS...: starts a server on a free port; sets PID and BASE. Its stderr goes to $WORK/NAME.log.
start() {
	name=$1
	shift
	"$FAKEAPI" --port 0 --port-file "$WORK/$name.port" "$@" 2>"$WORK/$name.log" &
	PID=$!
	PIDS="$PIDS $PID"
	i=0
	while [ ! -s "$WORK/$name.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$WORK/$name.port" ] || { echo "FAIL $name did not start:"; cat "$WORK/$name.log"; exit 1; }
	BASE="http://127.0.0.1:$(cat "$WORK/$name.port")"
}

# stop PID: SIGTERM, then the exit status (LeakSanitizer makes a leak a non-zero exit).
stop() {
	kill -TERM "$1"
	wait "$1"
}

AKEY=sk-ant-fake-t-fakeapi-7c1e
OKEY=sk-fake-t-fakeapi-41d9
anthropic() {  # anthropic BODY-FILE OUT-FILE [CURL-ARGS...]: POST /v1/messages, prints the status code
	data=$1 out=$2
	shift 2
	curl -s -m 10 -o "$out" -w '%{http_code}' -H 'anthropic-version: 2023-06-01' \
		-H 'content-type: application/json' "$@" --data-binary @"$data" "$BASE/v1/messages"
}
openai() {  # openai PATH BODY-FILE OUT-FILE: POST with the OpenAI key, prints the status code
	curl -s -m 10 -o "$3" -w '%{http_code}' -H "Authorization: Bearer $OKEY" -H 'content-type: application/json' \
		--data-binary @"$2" "$BASE$1"
}
has() { grep -q -- "$1" "$2"; }
stat_is() { curl -s -m 10 "$BASE/stats" | grep -q "\"$1\":$2[,}]"; }

cat >"$WORK/summary.json" <<'EOF'
{"model":"claude-test","max_tokens":1024,"temperature":0,"system":"You record scenes.",
 "messages":[{"role":"user","content":"INT. GREENHOUSE - DAWN. Ada waters the orchids."}],
 "tools":[{"name":"record_scene_summary","description":"Record one scene's summary.",
  "input_schema":{"type":"object","required":["summary","goal","mood","props","scenes"],
   "properties":{"summary":{"type":"string","minLength":30},"goal":{"type":"string"},
    "mood":{"type":"string","enum":["calm","tense"]},"props":{"type":"array","items":{"type":"string"}},
    "scenes":{"type":"array","minItems":2,"maxItems":2,"items":{"type":"integer","minimum":1}}}}}],
 "tool_choice":{"type":"tool","name":"record_scene_summary"}}
EOF
sed 's/"max_tokens":1024,//' "$WORK/summary.json" >"$WORK/no_max_tokens.json"
printf '{"model":"claude-test","max_tokens":64,"messages":[]}' >"$WORK/no_messages.json"
printf '{"model":"text-embedding-3-small","input":["a greenhouse","a pier","a lighthouse"],"dimensions":8}' \
	>"$WORK/embed3.json"
awk 'BEGIN { printf "{\"model\":\"text-embedding-3-small\",\"input\":[";
	for (i = 0; i < 2049; i++) printf "%s\"line %d\"", (i ? "," : ""), i; printf "]}" }' >"$WORK/embed2049.json"
cat >"$WORK/chat.json" <<'EOF'
{"model":"local-model","max_tokens":2048,"messages":[{"role":"system","content":"Outline it."},
 {"role":"user","content":"Scenes 1-3."}],
 "response_format":{"type":"json_schema","json_schema":{"name":"record_outline","strict":true,
  "schema":{"type":"object","additionalProperties":false,"required":["logline","acts"],
   "properties":{"logline":{"type":"string"},
    "acts":{"type":"array","minItems":1,"items":{"type":"object","additionalProperties":false,
     "required":["title","scenes"],"properties":{"title":{"type":"string"},
      "scenes":{"type":"array","minItems":2,"items":{"type":"integer","minimum":1}}}}}}}}}}
EOF

# --- one server, plain: formats, rejections, determinism, stats ---
start main --anthropic-key "$AKEY" --openai-key "$OKEY"
MAIN=$PID

code=$(anthropic "$WORK/summary.json" "$WORK/a1" -H "x-api-key: $AKEY")
check "forced tool: 200" [ "$code" = 200 ]
check "forced tool: one tool_use block, stop_reason tool_use" \
	grep -q '"content":\[{"type":"tool_use","id":"toolu_[0-9a-f]*","name":"record_scene_summary","input":{.*"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":[1-9][0-9]*,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":[1-9][0-9]*}}$' "$WORK/a1"
check "forced tool: message envelope" grep -q '^{"id":"msg_[0-9a-f]*","type":"message","role":"assistant","model":"claude-test",' "$WORK/a1"
for p in summary goal mood props scenes; do
	check "forced tool: input has required property $p" grep -q "\"input\":{.*\"$p\":" "$WORK/a1"
done
check "forced tool: enum takes its first value, minItems honoured" grep -q '"mood":"calm","props":\[\],"scenes":\[1,1\]' "$WORK/a1"
code=$(anthropic "$WORK/summary.json" "$WORK/a2" -H "x-api-key: $AKEY")
check "forced tool: same request, same bytes" cmp -s "$WORK/a1" "$WORK/a2"

code=$(anthropic "$WORK/summary.json" "$WORK/e1")
check "missing x-api-key: 401 authentication_error" [ "$code" = 401 ]
check "missing x-api-key: Anthropic error JSON" grep -q '^{"type":"error","error":{"type":"authentication_error","message":' "$WORK/e1"
code=$(anthropic "$WORK/summary.json" "$WORK/e2" -H "x-api-key: wrong-key")
check "wrong x-api-key: 401" [ "$code" = 401 ]
code=$(anthropic "$WORK/no_max_tokens.json" "$WORK/e3" -H "x-api-key: $AKEY")
check "missing max_tokens: 400" [ "$code" = 400 ]
check "missing max_tokens: names the field" grep -q '"type":"invalid_request_error","message":"max_tokens: Field required"' "$WORK/e3"
code=$(anthropic "$WORK/no_messages.json" "$WORK/e4" -H "x-api-key: $AKEY")
check "empty messages: 400" [ "$code" = 400 ]
code=$(curl -s -m 10 -o "$WORK/e5" -w '%{http_code}' -H "x-api-key: $AKEY" -H 'content-type: application/json' \
	--data-binary @"$WORK/summary.json" "$BASE/v1/messages")
check "missing anthropic-version: 400" [ "$code" = 400 ]

code=$(openai /v1/embeddings "$WORK/embed3.json" "$WORK/m1")
check "embeddings: 200" [ "$code" = 200 ]
check "embeddings: indexes 0, 1, 2 in order" [ "$(grep -o '"index":[0-9]*' "$WORK/m1" | tr '\n' ' ')" = '"index":0 "index":1 "index":2 ' ]
check "embeddings: 3 vectors of the requested 8 dimensions" \
	[ "$(grep -o '"embedding":\[[^]]*\]' "$WORK/m1" | awk -F, '{ print NF }' | tr '\n' ' ')" = '8 8 8 ' ]
check "embeddings: list envelope and usage" grep -q '^{"object":"list","data":\[{"object":"embedding","index":0,.*\],"model":"text-embedding-3-small","usage":{"prompt_tokens":[0-9]*,"total_tokens":[0-9]*}}$' "$WORK/m1"
code=$(openai /v1/embeddings "$WORK/embed2049.json" "$WORK/m2")
check "embeddings: 2049 inputs -> 400" [ "$code" = 400 ]
check "embeddings: OpenAI error JSON" grep -q '^{"error":{"message":"'"'"'\$.input'"'"' is invalid.*"type":"invalid_request_error","param":null,"code":null}}$' "$WORK/m2"
code=$(curl -s -m 10 -o "$WORK/m3" -w '%{http_code}' --data-binary @"$WORK/embed3.json" "$BASE/v1/embeddings")
check "embeddings: no key -> 401 invalid_api_key" sh -c "[ $code = 401 ] && grep -q '\"code\":\"invalid_api_key\"' '$WORK/m3'"

code=$(openai /v1/chat/completions "$WORK/chat.json" "$WORK/c1")
check "chat: 200" [ "$code" = 200 ]
check "chat: completion envelope" grep -q '^{"id":"chatcmpl-[0-9a-f]*","object":"chat.completion","created":1700000000,"model":"local-model","choices":\[{"index":0,"message":{"role":"assistant","content":"{.*}","refusal":null},"logprobs":null,"finish_reason":"stop"}\],"usage":{"prompt_tokens":[0-9]*,"completion_tokens":[0-9]*,"total_tokens":[0-9]*}}$' "$WORK/c1"
check "chat: content satisfies the schema" grep -q '"content":"{\\"logline\\":\\"Fake outline [0-9a-f]* for logline\.[^"]*\\",\\"acts\\":\[{\\"title\\":\\"[^"]*\\",\\"scenes\\":\[1,1\]}\]}"' "$WORK/c1"
sed 's/"items":{"type":"object","additionalProperties":false,/"items":{"type":"object",/' "$WORK/chat.json" >"$WORK/chat_loose.json"
code=$(openai /v1/chat/completions "$WORK/chat_loose.json" "$WORK/c2")
check "chat: strict schema without additionalProperties -> 400" sh -c "[ $code = 400 ] && grep -q 'additionalProperties' '$WORK/c2'"

check "stats: requests per endpoint" stat_is messages 7
check "stats: embeddings and chat" sh -c "curl -s '$BASE/stats' | grep -q '\"embeddings\":3,\"chat\":2,\"total\":12}'"
check "stats: by kind" sh -c "curl -s '$BASE/stats' | grep -q '\"by_kind\":{\"summary\":6,\"outline\":2,\"sheet\":0,\"embedding\":3,\"other\":1}'"
check "stats: embedding inputs of the accepted request" stat_is embedding_inputs 3
check "stats: rejected" stat_is rejected 8
check "stats: ok" stat_is ok 4

# encoding_format "base64": little-endian float32s that decode to the float answer's values (m1, same inputs).
sed 's/}$/,"encoding_format":"base64"}/' "$WORK/embed3.json" >"$WORK/embed3_base64.json"
code=$(openai /v1/embeddings "$WORK/embed3_base64.json" "$WORK/m4")
check "embeddings base64: 200" [ "$code" = 200 ]
grep -o '"embedding":"[^"]*"' "$WORK/m4" | cut -d '"' -f 4 >"$WORK/m4.strings"
check "embeddings base64: 3 strings of 8 float32s (32 bytes, 44 characters)" \
	[ "$(awk '{ print length($0) }' "$WORK/m4.strings" | tr '\n' ' ')" = '44 44 44 ' ]
while read -r text; do printf '%s' "$text" | base64 -d; done <"$WORK/m4.strings" | od -An -v -tf4 |
	tr -s ' ' '\n' | sed '/^$/d' >"$WORK/m4.values"
grep -o '"embedding":\[[^]]*\]' "$WORK/m1" | sed 's/.*\[//; s/\]$//' | tr ',' '\n' >"$WORK/m1.values"
# od prints the shortest decimal of each float32 and the float answer 9 digits: equal within float32 precision.
check "embeddings base64: decodes to the float answer's 24 values" awk '
	NR == FNR { want[NR] = $1; n = NR; next }
	{ d = want[FNR] - $1; if (d < 0) d = -d; if (d > 1e-7) bad = 1; m = FNR }
	END { exit !(n == 24 && m == 24 && !bad) }' "$WORK/m1.values" "$WORK/m4.values"
sed 's/}$/,"encoding_format":"hex"}/' "$WORK/embed3.json" >"$WORK/embed3_hex.json"
code=$(openai /v1/embeddings "$WORK/embed3_hex.json" "$WORK/m5")
check "embeddings: encoding_format hex -> 400 invalid_value" sh -c "[ $code = 400 ] && grep -q '\"code\":\"invalid_value\"' '$WORK/m5'"

# /control turns faults on at run time; reset and truncated show up as transport errors.
curl -s -m 10 -o /dev/null -d '{"faults":["reset","truncated"],"fail-first":2}' "$BASE/control"
anthropic "$WORK/summary.json" /dev/null -H "x-api-key: $AKEY" >/dev/null
check "reset fault: connection closed without a response (curl 52)" [ $? = 52 ]
anthropic "$WORK/summary.json" /dev/null -H "x-api-key: $AKEY" >/dev/null
check "truncated fault: short body (curl 18)" [ $? = 18 ]
check "stats: faults counted" sh -c "curl -s '$BASE/stats' | grep -q '\"reset\":1,\"timeout\":0,\"malformed\":0,\"truncated\":1,'"

curl -s -m 10 -o /dev/null -d '{"quota":true}' "$BASE/control"
code=$(anthropic "$WORK/summary.json" "$WORK/q1" -H "x-api-key: $AKEY")
check "quota: Anthropic 429 with the spend-limit error code" sh -c "[ $code = 429 ] && grep -q '\"details\":{\"error_code\":\"enforced_spend_limit_reached\"}' '$WORK/q1'"
code=$(openai /v1/embeddings "$WORK/embed3.json" "$WORK/q2")
check "quota: OpenAI 429 insufficient_quota" sh -c "[ $code = 429 ] && grep -q '\"type\":\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"' '$WORK/q2'"
code=$(curl -s -m 10 -o "$WORK/q3" -w '%{http_code}' -d '{"quota":"maybe"}' "$BASE/control")
check "control: a bad value is refused" [ "$code" = 400 ]

# The concurrency cap: 6 slow requests at once against a cap of 2.
curl -s -m 10 -o /dev/null -d '{"quota":false,"max-concurrency":2,"latency":"summary=1000"}' "$BASE/control"
curl -s -m 10 -o /dev/null -X POST "$BASE/reset"
check "reset: stats zeroed" stat_is total 0
pids=""
for i in 1 2 3 4 5 6; do
	anthropic "$WORK/summary.json" "$WORK/cap$i" -H "x-api-key: $AKEY" -D "$WORK/cap$i.headers" >"$WORK/cap$i.code" &
	pids="$pids $!"
done
wait $pids
n200=$(cat "$WORK"/cap?.code | grep -o 200 | wc -l)
n429=$(cat "$WORK"/cap?.code | grep -o 429 | wc -l)
check "cap: 2 requests admitted, the other 4 get 429 ($n200 x 200, $n429 x 429)" test "$n200" -eq 2 -a "$n429" -eq 4
check "cap: 429s counted as faults.cap" stat_is cap "$n429"
check "cap: max concurrency seen is the cap" stat_is max_concurrency 2
check "cap: 429 says rate_limit_error with retry-after and retry-after-ms" \
	sh -c "grep -l '^HTTP/1.1 429' '$WORK'/cap?.headers | head -n 1 | xargs cat | tr -d '\r' |
		grep -c -e '^retry-after: 1\$' -e '^retry-after-ms: 50\$' | grep -qx 2"

check "SIGTERM: clean exit, no leaks" stop "$MAIN"

# --- a second server configured by flags: the fail-first schedule, verbose log without keys ---
start flags -v --fail-first 1 --faults 529 --anthropic-key "$AKEY"
FLAGS=$PID
code=$(anthropic "$WORK/summary.json" "$WORK/f1" -H "x-api-key: $AKEY")
check "fail-first 1, faults 529: first request 529 overloaded_error" sh -c "[ $code = 529 ] && grep -q '\"type\":\"overloaded_error\"' '$WORK/f1'"
code=$(anthropic "$WORK/summary.json" "$WORK/f2" -H "x-api-key: $AKEY")
check "fail-first 1, faults 529: second request 200" [ "$code" = 200 ]
check "answers depend on the request only: same bytes as the other server's" cmp -s "$WORK/a1" "$WORK/f2"
check "stats: one 529 and one ok" sh -c "curl -s '$BASE/stats' | grep -q '\"529\":1,.*\"ok\":1[,}]'"
check "SIGTERM: clean exit, no leaks" stop "$FLAGS"
check "-v logs requests" grep -q '^fakeapi: POST /v1/messages summary 529 ' "$WORK/flags.log"
check "-v never logs a key" sh -c "! grep -q -e '$AKEY' -e '$OKEY' '$WORK/flags.log' '$WORK/main.log'"

exit $failed
