#!/bin/sh
# t_pgstall.sh - scriptload against a PostgreSQL connection that stalls in the middle of a COPY (tool_stallproxy): the
# stalled load ends with a message within its --timeout instead of hanging, and a load of another script into the
# same database meanwhile neither waits on it nor fails (the schema lock is held only while a schema is created).
set -u
: "${SL:?}" "${TOOLS:?}" "${PGTEST_URL:?PostgreSQL is required (tests/run.sh starts one)}"
T=$(mktemp -d /tmp/t_pgstall.XXXXXX)
SCHEMA="t_pgstall_$$"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	psql "$PGTEST_URL" -qAt -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1
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

host=$(printf '%s\n' "$PGTEST_URL" | sed -n 's/.*[?&]host=\([^&]*\).*/\1/p')
port=$(printf '%s\n' "$PGTEST_URL" | sed -n 's/.*[?&]port=\([^&]*\).*/\1/p')
SOCK="$host/.s.PGSQL.${port:-5432}"
[ -S "$SOCK" ] || { echo "FAIL no PostgreSQL socket at $SOCK"; exit 1; }
psql "$PGTEST_URL" -qAt -c "CREATE SCHEMA $SCHEMA" >/dev/null || exit 1
DIRECT="$PGTEST_URL&options=-csearch_path%3D$SCHEMA"

"$TOOLS/tool_mkarchive" "$T/keeper.analysis.tar.zst" keeper || exit 1
"$TOOLS/tool_mkarchive" "$T/harbour.analysis.tar.zst" harbour || exit 1
"$TOOLS/tool_mkarchive" "$T/edited.analysis.tar.zst" keeper edited || exit 1
"$SL" -q --db "$DIRECT" "$T/keeper.analysis.tar.zst"
check "a first load makes the schema" [ $? = 0 ]

"$TOOLS/tool_stallproxy" "$SOCK" "$T/port" "COPY " 2>"$T/proxy.log" &
PIDS="$PIDS $!"
i=0
while [ ! -s "$T/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
PROXIED="postgresql://postgres@127.0.0.1:$(cat "$T/port")/sbtest?options=-csearch_path%3D$SCHEMA"

# The stalled load: the proxy swallows everything from its first COPY on.
timeout 120 "$SL" --timeout 3 --db "$PROXIED" "$T/edited.analysis.tar.zst" >"$T/stalled.out" 2>"$T/stalled.err" &
stalled=$!
i=0
while [ ! -e "$T/port.stalled" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
check "the proxy stalled the first load's COPY" [ -e "$T/port.stalled" ]

# Meanwhile another script loads directly, and is not held up by the stalled one.
timeout 60 "$SL" --db "$DIRECT" "$T/harbour.analysis.tar.zst" >"$T/other.out" 2>"$T/other.err"
rc=$?
check "another script loads while the first is stalled (exit $rc; 124 = it waited on the stalled load)" [ $rc = 0 ]
[ $rc = 0 ] || cat "$T/other.err"

wait "$stalled"
rc=$?
check "the stalled load ends by its --timeout with exit 1 (got $rc; 124 = it hung)" [ $rc = 1 ]
check "the stalled load says the server did not answer" grep -q "did not answer for 3 s" "$T/stalled.err"
[ $rc = 1 ] || cat "$T/stalled.err"

# Nothing of the stalled load is visible: keeper still has its first title.
title=$(psql "$DIRECT" -qAt -c "SELECT title FROM scripts WHERE script_id = 'keeper'")
check "the stalled load changed nothing (title '$title')" [ "$title" = "The Keeper" ]
count=$(psql "$DIRECT" -qAt -c "SELECT count(*) FROM scenes WHERE script_id = 'harbour'")
check "the other load's rows are there ($count scenes)" [ "$count" = 3 ]

[ $failed = 0 ] && echo "all ok"
exit $failed
