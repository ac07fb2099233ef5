#!/bin/sh
# An archive is current, like a make target, when its build record says a complete build of the very same inputs
# (script bytes, configuration, name, mtime, tool) wrote the file that is still at its path: then the script is not
# even parsed. Anything else that could change the archive takes the full check: an edited script, another
# configuration, a touched or removed archive, another SOURCE_DATE_EPOCH, targets, results gone from the cache.
set -u
: "${SB:?SB must name the scriptbuild under test}" "${TOOLS:?}"
. "${TOP:-.}/tests/lib.sh"
test_begin t_current
num() { tr -d ' \n\t' | grep -o "\"$1\":[0-9][0-9]*" | head -n1 | cut -d: -f2; }
fast() { grep -c "not parsed" "$1"; }
stamp() { stat -c '%i:%Y.%y:%s' "$@"; }
G="$TOOLS/tool_genscript"
mkdir -p "$WORK/s"
"$G" --scenes 8 --characters 3 --seed 11 >"$WORK/s/a.fountain" || exit 1
"$G" --scenes 6 --characters 3 --seed 12 >"$WORK/s/b.fountain" || exit 1
"$G" --scenes 5 --characters 2 --seed 13 >"$WORK/s/c.fountain" || exit 1
cd "$WORK" || exit 1

"$SB" --cache c --report cold.json s >/dev/null 2>err
check "the cold slate builds (exit 0): $(head -c 300 err)" [ $? -eq 0 ]
steps=$(sed -n 's/.* \([0-9][0-9]*\) steps: .*/\1/p' err)
before=$(stamp s/*.analysis.tar.zst)
"$SB" -v --cache c --report fast.json s >/dev/null 2>err
check "a no-op (exit 0): $(head -c 300 err)" [ $? -eq 0 ]
check "every archive is current by its build record, no script parsed ($(fast err) of 3)" [ "$(fast err)" = 3 ]
check "... no archive written again" [ "$(stamp s/*.analysis.tar.zst)" = "$before" ]
check "... the summary line counts every step of the cold run ($steps), all cached" \
	grep -q "3 scripts (3 complete, 0 not), $steps steps: 0 run, $steps cached" err
check "... and so does the report" [ "$(num total <fast.json)" = "$(num total <cold.json)" ] && \
	[ "$(num cached <fast.json)" = "$(num total <fast.json)" ]

# A touched archive takes the full check, which finds the same results and writes the same bytes again.
touch -d '2001-01-01' s/b.analysis.tar.zst
cp s/b.analysis.tar.zst b.before
"$SB" -v --cache c --report slow.json s >/dev/null 2>err
check "a touched archive is checked in full (2 of 3 current)" [ "$(fast err)" = 2 ] && grep -q "wrote s/b.analysis" err
check "... and written with the same bytes" cmp -s b.before s/b.analysis.tar.zst
# The per-script sections of a full check and of a record agree (the clock and the archive path aside).
section() { tr -d '\n\t ' <"$1" | sed 's/"seconds":[0-9.e+-]*//g'; }
check "the report of a current script equals that of a full check" [ "$(section slow.json)" = "$(section fast.json)" ]

# An edited script is parsed and built; the others stay current.
printf '\nINT. NEW ROOM - DAY\n\nSomething new happens.\n' >>s/c.fountain
"$SB" -v --cache c s >/dev/null 2>err
check "an edited script is built, the others current (2 of 3)" [ "$(fast err)" = 2 ] && grep -q "wrote s/c.analysis" err
"$SB" -v --cache c s >/dev/null 2>err
check "... and current the run after" [ "$(fast err)" = 3 ]

# Another configuration, another mtime, targets: the full check.
"$SB" -v --cache c --temperature summary=0.5 s >/dev/null 2>err
check "another configuration takes the full check (0 current)" [ "$(fast err)" = 0 ] && grep -q "wrote s/a.analysis" err
"$SB" -v --cache c s >/dev/null 2>err
"$SB" -v --cache c s >/dev/null 2>err
check "back to the first configuration: current again" [ "$(fast err)" = 3 ]
SOURCE_DATE_EPOCH=1000000 "$SB" -v --cache c s >/dev/null 2>err
check "another SOURCE_DATE_EPOCH takes the full check" [ "$(fast err)" = 0 ]
"$SB" -v --cache c s >/dev/null 2>err
"$SB" -v --cache c s summaries >/dev/null 2>err
check "targets take the full check" [ $? -eq 0 ] && [ "$(fast err)" = 0 ]
rm s/a.analysis.tar.zst
"$SB" -v --cache c s >/dev/null 2>err
check "a removed archive is written again (2 of 3 current)" [ "$(fast err)" = 2 ] && [ -s s/a.analysis.tar.zst ]

# Results gone from the cache: the record alone does not make the archive current (the full check runs them).
"$SB" -q --cache c -t gc --max-size 1 >/dev/null 2>err
"$SB" -v --cache c --report gone.json s >/dev/null 2>err
check "after gc evicted the results nothing is current, they run again" [ "$(fast err)" = 0 ] && \
	[ "$(num run <gone.json)" -gt 0 ]

# One script alone, and -o FILE.
"$SB" -q --cache c -o one.tar.zst s/a.fountain >/dev/null 2>err
"$SB" -v --cache c -o one.tar.zst s/a.fountain >/dev/null 2>err
check "one script with -o FILE is current the second time" [ "$(fast err)" = 1 ]
"$SB" -v --cache c -o two.tar.zst s/a.fountain >/dev/null 2>err
check "... not at another -o path" [ "$(fast err)" = 0 ] && [ -s two.tar.zst ]
exit $failed
