#!/bin/sh
# Issue 13, part 5: the CI examples pass as written. For examples/ci/github-actions.yml and gitlab-ci.yml, runs the
# build step's shell commands as job 1 (with keys, against the fake API server), copies its cache directory as an
# artifact cache would, then runs the frozen step's commands as job 2 in another checkout with no keys: the archive
# must be byte-identical and job 2 must send nothing. A budget too small for the run fails job 1.
set -u
: "${SB:?SB must name the scriptbuild under test}" "${TOOLS:?}" "${FAKEAPI:?}" "${TOP:=$(pwd)}"
. "$TOP/tests/lib.sh"
test_begin t_ci
"$FAKEAPI" --port 0 --port-file "$WORK/port" --vary-lengths --latency summary=1,outline=1,sheet=1,embedding=1 \
	2>"$WORK/fakeapi.log" &
PIDS="$PIDS $!"
i=0
while [ ! -s "$WORK/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
BASE="http://127.0.0.1:$(cat "$WORK/port")"
requests() { curl -s -m 10 "$BASE/stats" | tr -d ' \n\t' | grep -o '"total":[0-9]*' | head -n1 | cut -d: -f2; }

# `scriptbuild` on PATH is the build under test, as `make install` would put it there.
mkdir -p "$WORK/bin"
ln -s "$SB" "$WORK/bin/scriptbuild"
unset ANTHROPIC_API_KEY OPENAI_API_KEY ANTHROPIC_BASE_URL OPENAI_BASE_URL SCRIPTBUILD_CACHE

# block FILE MARKER: the shell text of the first literal block (`run: |` or `- |`) after the line holding MARKER.
block() {
	awk -v marker="$2" '
		!found && index($0, marker) { found = 1; next }
		found && !inblock && /(run:|-) \|[ ]*$/ { match($0, /^ */); indent = RLENGTH; inblock = 1; next }
		inblock {
			if ($0 ~ /^ *$/) { print ""; next }
			match($0, /^ */)
			if (RLENGTH <= indent) exit
			if (!cut) cut = RLENGTH
			print substr($0, cut + 1)
		}' "$1"
}

# checkout DIR: a fresh checkout of a repository holding the example project file and two scripts.
checkout() {
	mkdir -p "$1/scripts"
	cp "$TOP/examples/ci/scriptbuild.json" "$1/"
	"$TOOLS/tool_genscript" --scenes 14 --characters 4 --seed 21 >"$1/scripts/play.fountain"
	"$TOOLS/tool_genscript" --scenes 6 --characters 3 --seed 22 --title "Second" >"$1/scripts/short.fountain"
}

for ci in "github-actions.yml|name: Build with secrets|name: Build frozen (pull request from a fork)" \
          "gitlab-ci.yml|analyse:main:|analyse:frozen:"; do
	file=${ci%%|*} rest=${ci#*|}
	build_marker=${rest%%|*} frozen_marker=${rest#*|}
	yml="$TOP/examples/ci/$file"
	block "$yml" "$build_marker" >"$WORK/$file.job1.sh"
	block "$yml" "$frozen_marker" >"$WORK/$file.job2.sh"
	check "$file: the build step has commands" grep -q 'scriptbuild --max-cost' "$WORK/$file.job1.sh"
	check "$file: the frozen step has commands" grep -q 'scriptbuild --frozen' "$WORK/$file.job2.sh"
	MAX=$(grep -o 'MAX_COST_USD: "[0-9.]*"' "$yml" | head -n1 | grep -o '[0-9.]*')

	# Job 1: the main branch, with secrets.
	checkout "$WORK/$file/main"
	(cd "$WORK/$file/main" && PATH="$WORK/bin:$PATH" SCRIPTBUILD_CACHE="$WORK/$file/main/.scriptbuild-cache" \
		SOURCE_DATE_EPOCH=0 MAX_COST_USD=$MAX ANTHROPIC_API_KEY=sk-ant-t-ci OPENAI_API_KEY=sk-t-ci \
		ANTHROPIC_BASE_URL=$BASE OPENAI_BASE_URL=$BASE/v1 sh "$WORK/$file.job1.sh") >"$WORK/$file.job1.out" 2>&1
	check "$file: job 1 passes" [ $? = 0 ]
	check "$file: job 1 wrote the plans and the archives" \
		[ -s "$WORK/$file/main/plan-play.json" ] && [ -s "$WORK/$file/main/analysis/play.analysis.tar.zst" ] &&
		[ -s "$WORK/$file/main/analysis/short.analysis.tar.zst" ]

	# The cache travels as an artifact cache would carry it: copied to another path.
	checkout "$WORK/$file/fork"
	cp -R "$WORK/$file/main/.scriptbuild-cache" "$WORK/$file/restored-cache"
	# The endpoints are configuration, not secrets: in real CI both jobs use the public default; here both use the
	# fake server's (the endpoint is part of every action key). Only the keys are withheld.
	before=$(requests)
	(cd "$WORK/$file/fork" && PATH="$WORK/bin:$PATH" SCRIPTBUILD_CACHE="$WORK/$file/restored-cache" \
		ANTHROPIC_BASE_URL=$BASE OPENAI_BASE_URL=$BASE/v1 \
		SOURCE_DATE_EPOCH=0 sh "$WORK/$file.job2.sh") >"$WORK/$file.job2.out" 2>&1
	check "$file: job 2 (frozen, no keys, another directory) passes" [ $? = 0 ]
	for s in play short; do
		check "$file: job 2's $s archive is byte-identical to job 1's" \
			cmp -s "$WORK/$file/main/analysis/$s.analysis.tar.zst" "$WORK/$file/fork/analysis/$s.analysis.tar.zst"
	done
	check "$file: job 2 sent no request" [ "$(requests)" = "$before" ]

	# An edit in the fork's pull request: the frozen job fails, naming the stale steps, and writes nothing new.
	"$TOOLS/tool_genscript" --scenes 14 --characters 4 --seed 21 --edit 2 >"$WORK/$file/fork/scripts/play.fountain"
	(cd "$WORK/$file/fork" && PATH="$WORK/bin:$PATH" SCRIPTBUILD_CACHE="$WORK/$file/restored-cache" \
		ANTHROPIC_BASE_URL=$BASE OPENAI_BASE_URL=$BASE/v1 sh "$WORK/$file.job2.sh") >"$WORK/$file.job2b.out" 2>&1
	check "$file: job 2 with an edited script fails" [ $? != 0 ]
	check "$file: ... listing the stale steps" grep -q 'stale: summary 2 .*scene text changed' "$WORK/$file.job2b.out"

	# A budget too small fails job 1.
	checkout "$WORK/$file/poor"
	(cd "$WORK/$file/poor" && PATH="$WORK/bin:$PATH" SCRIPTBUILD_CACHE="$WORK/$file/poor/.scriptbuild-cache" \
		MAX_COST_USD=0.002 ANTHROPIC_API_KEY=sk-ant-t-ci OPENAI_API_KEY=sk-t-ci \
		ANTHROPIC_BASE_URL=$BASE OPENAI_BASE_URL=$BASE/v1 sh "$WORK/$file.job1.sh") >"$WORK/$file.poor.out" 2>&1
	check "$file: job 1 over its --max-cost fails" [ $? != 0 ]
	check "$file: ... saying so" grep -q 'stopped: --max-cost' "$WORK/$file.poor.out"
done
[ $failed = 0 ] || for f in "$WORK"/*.out; do echo "== $f"; cat "$f"; done
exit $failed
