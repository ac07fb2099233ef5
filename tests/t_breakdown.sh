#!/bin/sh
# t_breakdown.sh - the breakdown end to end: a title page alone sends no request, scene targets by heading order
# and by the script's own numbers, and the facts in the archive and in SQLite and PostgreSQL with any provider.
set -u
T=$(mktemp -d /tmp/t_breakdown.XXXXXX)
SCHEMA="t_breakdown_$$"
PID=""
cleanup() {
	[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	[ -n "${PGTEST_URL:-}" ] && psql "$PGTEST_URL" -qAt -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}
# expect CODE CMD...: runs CMD with output in $T/out and $T/err and checks its exit status.
expect() {
	want=$1
	shift
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	[ "$got" = "$want" ] || {
		cat "$T/out" "$T/err"
		fail "exit $got, want $want: $*"
	}
}

"$FAKEAPI" --port 0 --port-file "$T/port" 2>"$T/fake.log" &
PID=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$T/port" ] || fail "fakeapi did not start: $(cat "$T/fake.log")"
BASE="http://127.0.0.1:$(cat "$T/port")"
export ANTHROPIC_API_KEY=sk-ant-fake-t-breakdown OPENAI_API_KEY=sk-fake-t-breakdown
export ANTHROPIC_BASE_URL="$BASE" OPENAI_BASE_URL="$BASE/v1" SCRIPTBUILD_CACHE="$T/cache"
cd "$T" || fail "cd $T"

# A title page and nothing else: an error naming the file, exit 2, and not one request.
printf 'Title: Nothing Yet\nAuthor: Someone\n\n/* a note to self */\n' >"$T/empty.fountain"
expect 2 "$SB" empty.fountain
grep -q "empty.fountain: the script has no scene" "$T/err" || fail "no message naming the file: $(cat "$T/err")"
curl -s -m 10 "$BASE/stats" | grep -q '"total":0[,}]' || fail "requests were sent: $(curl -s "$BASE/stats")"
[ ! -e empty.analysis.tar.zst ] || fail "an archive was written for a script with no scene"

# Targets: scene:N is the Nth heading, scene:0 the text before the first one, scene:1A the script's own number.
S="$TOP/fixtures/parse/breakdown_headings.fountain"
cp "$S" shapes.fountain
expect 0 "$SB" -q -n -d explain shapes.fountain scene:1A
grep -q "summary 2 EXT. FARM (1955) - NIGHT" "$T/out" "$T/err" || fail "scene:1A is not the farm: $(cat "$T/out" "$T/err")"
expect 0 "$SB" -q -n -d explain shapes.fountain scene:2
grep -q "summary 2 EXT. FARM (1955) - NIGHT" "$T/out" "$T/err" || fail "scene:2 is not the second heading: $(cat "$T/out" "$T/err")"
expect 0 "$SB" -q -n -d explain shapes.fountain scene:0
grep -q "summary 0 (before the first heading)" "$T/out" "$T/err" || fail "scene:0: $(cat "$T/out" "$T/err")"
expect 2 "$SB" -q shapes.fountain scene:11
grep -q "from 0 (before the first heading) to 10; the script numbers scenes 1, 1A, 2" "$T/err" ||
	fail "scene:11 refusal does not list the scenes: $(cat "$T/err")"
expect 2 "$SB" -q shapes.fountain scene:3B
grep -q "target 'scene:3B': no such scene" "$T/err" || fail "scene:3B: $(cat "$T/err")"
curl -s -m 10 "$BASE/stats" | grep -q '"total":0[,}]' || fail "a dry run or a refused target sent requests"

# A real run with the LLM provider: the facts come from the parser whatever the model says.
expect 0 "$SB" -q shapes.fountain
expect 0 "$SL" --db "$T/a.db" shapes.analysis.tar.zst
q() { sqlite3 -separator ' ' "$T/a.db" "$1"; }
[ "$(q "SELECT group_concat(scene_index, ' ') FROM (SELECT scene_index FROM scene_characters WHERE character = 'JENNY' ORDER BY scene_index)")" = "1 2 10" ] ||
	fail "JENNY's scenes: $(q "SELECT * FROM scene_characters")"
[ "$(q "SELECT speaking FROM scene_characters WHERE character = 'JENNY' AND scene_index = 2")" = "0" ] ||
	fail "JENNY is only named in scene 2"
[ "$(q "SELECT int_ext, location, time_of_day, heading_note FROM scenes WHERE scene_number = '1A'")" = "EXT FARM NIGHT 1955" ] ||
	fail "scene 1A's heading parts: $(q "SELECT * FROM scenes WHERE scene_number = '1A'")"
[ "$(q "SELECT location, time_text, time_of_day FROM scenes WHERE scene_index = 1")" = "SAN FRANCISCO APARTMENT DAY DAY" ] ||
	fail "the comma heading: $(q "SELECT * FROM scenes WHERE scene_index = 1")"
[ "$(q "SELECT before_first_heading, heading FROM scenes WHERE scene_index = 0")" = "1 " ] ||
	fail "scene 0: $(q "SELECT * FROM scenes WHERE scene_index = 0")"
[ "$(q "SELECT sum(eighths) FROM scenes")" = "11" ] || fail "eighths: $(q "SELECT scene_index, eighths FROM scenes")"
[ "$(q "SELECT first_scene, last_scene, mentioned_scenes FROM characters WHERE character = 'EDWARD'")" = "0 4 1" ] ||
	fail "EDWARD: $(q "SELECT * FROM characters")"
# The outline's ranges and the sheets' turning scenes speak in the same scene indexes as everything else.
tar --zstd -xOf shapes.analysis.tar.zst manifest.json >"$T/manifest.json" || fail "no manifest"
grep -q '"eighths":	11' "$T/manifest.json" || grep -q '"eighths": 11' "$T/manifest.json" || fail "manifest eighths: $(cat "$T/manifest.json")"
grep -q '"runtime_minutes":	1.375' "$T/manifest.json" || grep -q '"runtime_minutes": 1.375' "$T/manifest.json" ||
	fail "manifest runtime"
tar --zstd -xOf shapes.analysis.tar.zst characters.jsonl >"$T/characters.jsonl" || fail "no characters.jsonl"
grep -q '^{"character":"JENNY","cues":2,"words":4,"share":0.2857,"scenes":\[1,10\],"first_scene":1,"last_scene":10,"mentioned_in":\[2\],"copresence":\[{"character":"EDWARD","scenes":2}\]}$' \
	"$T/characters.jsonl" || fail "characters.jsonl: $(cat "$T/characters.jsonl")"
tar --zstd -xOf shapes.analysis.tar.zst outline.json >"$T/outline.json" || fail "no outline"
python3 - "$T/outline.json" <<'EOF' || fail "outline ranges are not scene indexes 0..10: $(cat "$T/outline.json")"
import json, sys
o = json.load(open(sys.argv[1]))["output"]
r = [x for a in o["acts"] for x in a["scenes"] + [y for s in a["sequences"] for y in s["scenes"]]]
sys.exit(0 if r and all(0 <= x <= 10 for x in r) and 0 in r else 1)
EOF

# PostgreSQL (COPY): the same question, the same answer.
if [ -n "${PGTEST_URL:-}" ]; then
	psql "$PGTEST_URL" -qAt -c "CREATE SCHEMA $SCHEMA" >/dev/null || fail "create schema"
	case "$PGTEST_URL" in *\?*) URL="$PGTEST_URL&options=-csearch_path%3D$SCHEMA" ;; *) URL="$PGTEST_URL?options=-csearch_path%3D$SCHEMA" ;; esac
	expect 0 "$SL" --db "$URL" shapes.analysis.tar.zst
	got=$(psql "$URL" -qAt -c "SELECT string_agg(scene_index::text, ' ' ORDER BY scene_index) FROM scene_characters WHERE character = 'JENNY'")
	[ "$got" = "1 2 10" ] || fail "PostgreSQL: JENNY's scenes: $got"
	got=$(psql "$URL" -qAt -c "SELECT sum(eighths) || ' ' || count(*) FILTER (WHERE time_of_day = 'DUSK') FROM scenes")
	[ "$got" = "11 2" ] || fail "PostgreSQL: eighths and DUSK scenes: $got"
else
	fail "PGTEST_URL is empty: PostgreSQL is required (tests/run.sh starts one)"
fi
echo "ok"
