#!/bin/sh
# t_scriptload.sh - scriptload end to end: --check, SQLite, PostgreSQL, refusals that leave the database untouched.
set -u
T=$(mktemp -d /tmp/t_scriptload.XXXXXX)
SCHEMA="t_scriptload_$$"
cleanup() {
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

MK="$TOOLS/tool_mkarchive"
"$MK" "$T/keeper.analysis.tar.zst" keeper || fail "tool_mkarchive keeper"
"$MK" "$T/harbour.analysis.tar.zst" harbour || fail "tool_mkarchive harbour"
"$MK" "$T/edited.analysis.tar.zst" keeper edited || fail "tool_mkarchive edited"
"$MK" "$T/partial.analysis.tar.zst" keeper partial || fail "tool_mkarchive partial"
head -c 600 "$T/keeper.analysis.tar.zst" >"$T/truncated.analysis.tar.zst"
cp "$T/keeper.analysis.tar.zst" "$T/flipped.analysis.tar.zst"
printf 'X' | dd of="$T/flipped.analysis.tar.zst" bs=1 seek=300 conv=notrunc 2>/dev/null
echo "not an archive" >"$T/text.analysis.tar.zst"

# --check: validates, prints a line per archive, touches no database.
cd "$T" || fail "cd $T"
expect 0 "$SL" --check keeper.analysis.tar.zst partial.analysis.tar.zst
grep -qx "ok keeper.analysis.tar.zst: 3 scenes, 3 summaries, outline, 2 sheets, 3 embeddings (8 dims)" "$T/out" ||
	fail "--check output: $(cat "$T/out")"
grep -qx "ok partial.analysis.tar.zst: 3 scenes, 2 summaries, no outline, 1 sheets, 2 embeddings (8 dims), partial" \
	"$T/out" || fail "--check partial output: $(cat "$T/out")"
[ ! -e analysis.db ] || fail "--check created a database"
expect 2 "$SL" --check keeper.analysis.tar.zst truncated.analysis.tar.zst
grep -q "^scriptload: truncated.analysis.tar.zst: " "$T/err" || fail "no message naming the truncated file: $(cat "$T/err")"
expect 2 "$SL" --check flipped.analysis.tar.zst
expect 2 "$SL" --check text.analysis.tar.zst

# Usage errors.
expect 2 "$SL"
expect 2 "$SL" --bogus keeper.analysis.tar.zst
expect 2 "$SL" --script-id x keeper.analysis.tar.zst harbour.analysis.tar.zst
expect 2 "$SL" --check --db x.db keeper.analysis.tar.zst
expect 0 "$SL" -V
grep -q "^scriptload [0-9]" "$T/out" || fail "-V: $(cat "$T/out")"
expect 0 "$SL" -h
grep -q "usage: scriptload" "$T/out" || fail "-h: $(cat "$T/out")"

# SQLite, default target ./analysis.db.
expect 0 "$SL" keeper.analysis.tar.zst harbour.analysis.tar.zst
grep -q "^loaded keeper.analysis.tar.zst as keeper into ./analysis.db: 3 scenes" "$T/out" || fail "load output: $(cat "$T/out")"
q() { sqlite3 -batch "$T/analysis.db" "$1"; }
[ "$(q "SELECT count(*) FROM scenes")" = 6 ] || fail "sqlite scenes count"
[ "$(q "SELECT count(*) FROM scene_embeddings WHERE script_id = 'harbour'")" = 3 ] || fail "sqlite embeddings count"
[ "$(q "SELECT length(embedding) FROM scene_embeddings WHERE script_id = 'keeper' AND scene_index = 1")" = 32 ] ||
	fail "sqlite embedding blob size"
[ "$(q "SELECT outline_text FROM script_outlines WHERE script_id = 'keeper'")" = \
	"Margit keeps the lamp burning through one long night." ] || fail "sqlite outline_text"
[ "$(q "SELECT json_extract(details, '\$.mood') FROM scene_summaries WHERE script_id = 'keeper' AND scene_index = 2")" = tense ] ||
	fail "sqlite details JSON"

# Refusals leave the file byte-for-byte as it was; an edited script replaces only its own rows.
cp analysis.db before.db
expect 2 "$SL" --db analysis.db edited.analysis.tar.zst truncated.analysis.tar.zst
grep -q "nothing loaded" "$T/err" || fail "no 'nothing loaded': $(cat "$T/err")"
cmp -s before.db analysis.db || fail "an invalid archive changed the SQLite database"
expect 2 "$SL" --db sqlite:analysis.db flipped.analysis.tar.zst
cmp -s before.db analysis.db || fail "a flipped archive changed the SQLite database"
expect 2 "$SL" --db fresh.db truncated.analysis.tar.zst
[ ! -e fresh.db ] && [ ! -e fresh.db-journal ] || fail "a refused archive created a database"
harbour_before=$(q "SELECT * FROM scenes WHERE script_id = 'harbour'")
expect 0 "$SL" --db sqlite:analysis.db edited.analysis.tar.zst
[ "$(q "SELECT title FROM scripts WHERE script_id = 'keeper'")" = "The Keeper (revised)" ] || fail "edited title"
[ "$(q "SELECT * FROM scenes WHERE script_id = 'harbour'")" = "$harbour_before" ] || fail "harbour rows changed"
expect 0 "$SL" -q --db analysis.db --script-id draft keeper.analysis.tar.zst
[ ! -s "$T/out" ] || fail "-q printed: $(cat "$T/out")"
[ "$(q "SELECT count(*) FROM scripts")" = 3 ] || fail "--script-id did not add a third script"

# A database that cannot take the load: exit 1, rolled back.
q "UPDATE scriptbuild_schema SET version = 9"
cp analysis.db before.db
expect 1 "$SL" --db analysis.db harbour.analysis.tar.zst
grep -q "schema version 9" "$T/err" || fail "schema version message: $(cat "$T/err")"
cmp -s before.db analysis.db || fail "a failed load changed the SQLite database"

# A slate loads in one transaction (issue 16): a directory stands for the archives under it, and when the database
# refuses the second archive's rows, the first archive's rows are not loaded either.
mkdir -p slate/sub
cp keeper.analysis.tar.zst slate/
cp harbour.analysis.tar.zst slate/sub/
echo "not an archive, not named like one" >slate/notes.txt
expect 0 "$SL" --db slate.db slate
[ "$(sqlite3 -batch slate.db "SELECT group_concat(script_id, ',') FROM (SELECT script_id FROM scripts ORDER BY 1)")" = \
	"harbour,keeper" ] || fail "a directory did not load both its archives"
sqlite3 -batch slate.db "CREATE TRIGGER no_harbour BEFORE INSERT ON scripts WHEN NEW.script_id = 'harbour'
	BEGIN SELECT RAISE(ABORT, 'harbour refused by a trigger'); END;"
cp slate.db before.db
expect 1 "$SL" --db slate.db edited.analysis.tar.zst harbour.analysis.tar.zst
grep -q "harbour refused by a trigger" "$T/err" || fail "the trigger's refusal is not reported: $(cat "$T/err")"
grep -q "nothing of the 2 archives was loaded" "$T/err" || fail "no 'nothing of the 2 archives': $(cat "$T/err")"
cmp -s before.db slate.db || fail "the first archive of a refused slate was loaded (not one transaction)"
expect 1 "$SL" --db slate.db keeper.analysis.tar.zst edited.analysis.tar.zst
grep -q "both script 'keeper'" "$T/err" || fail "two archives of one script: $(cat "$T/err")"
mkdir -p none
expect 2 "$SL" --db slate.db none
grep -q "no NAME.analysis.tar.zst" "$T/err" || fail "an empty directory: $(cat "$T/err")"

# PostgreSQL is required, not optional.
[ -n "${PGTEST_URL:-}" ] || fail "PGTEST_URL is empty: tests/run.sh could not start PostgreSQL"
psql "$PGTEST_URL" -qAt -c "CREATE SCHEMA $SCHEMA" >/dev/null || fail "cannot create schema $SCHEMA"
case $PGTEST_URL in *\?*) URL="$PGTEST_URL&options=-csearch_path%3D$SCHEMA" ;; *) URL="$PGTEST_URL?options=-csearch_path%3D$SCHEMA" ;; esac
p() { psql "$URL" -qAt -c "$1"; }
expect 0 "$SL" --db "$URL" keeper.analysis.tar.zst harbour.analysis.tar.zst
[ "$(p "SELECT count(*) FROM scene_summaries")" = 6 ] || fail "pg summaries count"
[ "$(p "SELECT count(*) FROM character_sheets WHERE script_id = 'keeper'")" = 2 ] || fail "pg sheets count"
[ "$(p "SELECT details->>'mood' FROM scene_summaries WHERE script_id = 'keeper' AND scene_index = 1")" = tense ] ||
	fail "pg details jsonb"
[ "$(p "SELECT array_length(embedding, 1) FROM scene_embeddings WHERE script_id = 'harbour' AND scene_index = 3")" = 8 ] ||
	fail "pg embedding length"
dump() { for t in scripts scenes scene_summaries script_outlines character_sheets scene_embeddings characters scene_characters; do p "SELECT * FROM $t ORDER BY 1, 2"; done; }
dump >"$T/pg_before"
expect 2 "$SL" --db "$URL" edited.analysis.tar.zst flipped.analysis.tar.zst
dump >"$T/pg_after"
cmp -s "$T/pg_before" "$T/pg_after" || fail "an invalid archive changed the PostgreSQL database"
VERSION=$(p "SELECT version FROM scriptbuild_schema")
p "UPDATE scriptbuild_schema SET version = 9"
expect 1 "$SL" --db "$URL" edited.analysis.tar.zst
dump >"$T/pg_after"
cmp -s "$T/pg_before" "$T/pg_after" || fail "a failed load changed the PostgreSQL database"
p "UPDATE scriptbuild_schema SET version = $VERSION"
# One transaction for a slate: a row the server refuses in the second archive keeps the first out too.
p "CREATE FUNCTION no_harbour() RETURNS trigger AS \$\$ BEGIN IF NEW.script_id = 'harbour' THEN
	RAISE EXCEPTION 'harbour refused by a trigger'; END IF; RETURN NEW; END \$\$ LANGUAGE plpgsql;
	CREATE TRIGGER no_harbour BEFORE INSERT ON scripts FOR EACH ROW EXECUTE FUNCTION no_harbour()" ||
	fail "cannot create the trigger"
expect 1 "$SL" --db "$URL" edited.analysis.tar.zst harbour.analysis.tar.zst
grep -q "harbour refused by a trigger" "$T/err" || fail "pg: the trigger's refusal is not reported: $(cat "$T/err")"
dump >"$T/pg_after"
cmp -s "$T/pg_before" "$T/pg_after" || fail "pg: the first archive of a refused slate was loaded (not one transaction)"
p "DROP TRIGGER no_harbour ON scripts; DROP FUNCTION no_harbour()"
expect 0 "$SL" --db "$URL" slate
[ "$(p "SELECT count(*) FROM scripts WHERE script_id IN ('keeper', 'harbour')")" = 2 ] || fail "pg: a directory"
expect 0 "$SL" --db "$URL" edited.analysis.tar.zst
[ "$(p "SELECT title FROM scripts WHERE script_id = 'keeper'")" = "The Keeper (revised)" ] || fail "pg edited title"
[ "$(p "SELECT count(*) FROM scenes WHERE script_id = 'harbour'")" = 3 ] || fail "pg harbour rows"
echo "ok"
