#!/bin/sh
# pg.sh - a throw-away PostgreSQL server for the tests.
#   tests/pg.sh start DIR   initdb into DIR/data, listen only on a Unix socket in DIR/sock, create database sbtest,
#                           and print one line: a libpq URL for it (trust authentication, user postgres).
#   tests/pg.sh stop DIR    stop it; safe to call twice or when start failed.
# As root the server runs as the postgres system user (created if missing), since PostgreSQL refuses to run as root.
set -eu

usage() {
	echo "usage: tests/pg.sh start|stop DIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$(cd "$2" && pwd)

bin=
for v in 17 16 15 14 13; do
	if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then
		bin=/usr/lib/postgresql/$v/bin
		break
	fi
done
[ -n "$bin" ] || bin=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")

# Runs a command as the server's owner, from a directory that owner can read.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		(cd "$dir" && runuser -u postgres -- "$@")
	else
		(cd "$dir" && "$@")
	fi
}

case $cmd in
start)
	if [ ! -x "$bin/initdb" ]; then
		echo "pg.sh: PostgreSQL server binaries not found (install the postgresql package: make deps)" >&2
		exit 1
	fi
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin postgres
	fi
	mkdir -p "$dir/data" "$dir/sock"
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$dir/data" "$dir/sock"
	fi
	chmod 700 "$dir/data"
	chmod 755 "$dir/sock"
	as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C -N >"$dir/initdb.log" 2>&1 || {
		echo "pg.sh: initdb failed:" >&2
		cat "$dir/initdb.log" >&2
		exit 1
	}
	# No TCP at all; durability is irrelevant for a server that lives for one test run.
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/sock/server.log" -w -t 30 \
		-o "-c listen_addresses= -k $dir/sock -p 5432 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >/dev/null 2>&1 || {
		echo "pg.sh: the server did not start:" >&2
		cat "$dir/sock/server.log" >&2
		exit 1
	}
	"$bin/createdb" -h "$dir/sock" -p 5432 -U postgres sbtest >&2 || {
		echo "pg.sh: createdb failed" >&2
		exit 1
	}
	echo "postgresql:///sbtest?host=$dir/sock&port=5432&user=postgres"
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	;;
*)
	usage
	;;
esac
