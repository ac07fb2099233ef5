# lib.sh - what the shell tests share, sourced after they check their environment:
#   . "$TOP/tests/lib.sh"; test_begin NAME
# test_begin makes $WORK (removed at exit, with every process in $PIDS killed), sets failed=0; check and start below.

# test_begin NAME: a fresh $WORK under /tmp and the exit trap that cleans it and $PIDS up ($KILL_SIGNAL, default TERM).
test_begin() {
	WORK=$(mktemp -d "/tmp/$1.XXXXXX") || exit 2
	PIDS=""
	failed=0
	trap test_cleanup EXIT
	trap 'exit 1' INT TERM
}

test_cleanup() {
	for p in $PIDS; do kill "-${KILL_SIGNAL:-TERM}" "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$WORK"
}

# check DESCRIPTION COMMAND...: runs COMMAND, prints ok/FAIL with DESCRIPTION; a failure sets failed=1.
check() {
	desc=$1
	shift
	if "$@"; then echo "ok   $desc"; else echo "FAIL $desc"; failed=1; fi
}

# start NAME FLAGS...: a fake API server on a free loopback port, its stderr in $WORK/NAME.log; sets BASE.
start() {
	name=$1
	shift
	"$FAKEAPI" --port 0 --port-file "$WORK/$name.port" "$@" 2>"$WORK/$name.log" &
	PIDS="$PIDS $!"
	i=0
	while [ ! -s "$WORK/$name.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$WORK/$name.port" ] || { echo "FAIL $name did not start"; cat "$WORK/$name.log"; exit 1; }
	BASE="http://127.0.0.1:$(cat "$WORK/$name.port")"
}
