#!/bin/sh
# t_report.sh - the HTML report, checked in a real browser: headless Chromium loads the pages from disk and dumps
# their DOM; tool_domcheck counts what the DOM holds. Three browser launches (the demo script, hostile text, Big
# Fish), started as soon as each page exists and run alongside the checks that need no browser.
set -u
T=$(mktemp -d /tmp/t_report.XXXXXX)
# A failed check stops the browsers still running (timeout passes the signal on) before their folder goes.
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}
DC="$TOOLS/tool_domcheck"
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || fail "chromium is not installed: run 'make deps' (the Debian package chromium)"
export SCRIPTBUILD_CACHE="$T/cache"

# browse NAME PAGE [--text S]...: loads PAGE from disk, dumps its DOM into $T/NAME.dom and tool_domcheck's counts
# into $T/NAME.check; fails when the console logged anything (errors, blocked loads) or the DOM is empty.
browse() {
	name=$1 page=$2
	shift 2
	timeout 180 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
		--disable-background-networking --disable-sync --host-resolver-rules='MAP * ~NOTFOUND' \
		--user-data-dir="$T/profile-$name" --enable-logging=stderr --v=0 --dump-dom "file://$page" \
		>"$T/$name.dom" 2>"$T/$name.console" || { tail -20 "$T/$name.console"; fail "chromium on $page"; }
	if grep ':CONSOLE' "$T/$name.console"; then
		fail "$name: the page logged to the console"
	fi
	grep -q '</html>' "$T/$name.dom" || fail "$name: no DOM dumped"
	"$DC" "$T/$name.dom" "$@" >"$T/$name.check" || fail "tool_domcheck $name"
}

# has NAME LINE: tool_domcheck reported exactly LINE for page NAME.
has() {
	grep -qxF "$2" "$T/$1.check" || { grep -v '^class\|^element' "$T/$1.check"; fail "$1: want '$2'"; }
}

# check_page NAME ARCHIVE: one card per scene and one sheet per character of the archive, the three charts and the
# strip, every in-page link leading somewhere, nothing fetched, no script, no handler attribute.
check_page() {
	"$SB" -t verify-archive "$2" >"$T/verify" || fail "verify-archive $2"
	scenes=$(sed -n 's/^ok .*: \([0-9]*\) scenes, \([0-9]*\) sheets,.*/\1/p' "$T/verify")
	sheets=$(sed -n 's/^ok .*: \([0-9]*\) scenes, \([0-9]*\) sheets,.*/\2/p' "$T/verify")
	[ -n "$scenes" ] && [ "$scenes" -gt 0 ] || fail "no scene count for $2"
	has "$1" "class scene-card $scenes"
	has "$1" "class sheet $sheets"
	for chart in scene-strip presence-chart dialogue-share scene-map; do
		has "$1" "svg $chart"
	done
	has "$1" "dangling-links 0"
	has "$1" "external 0"
	has "$1" "handler-attributes 0"
	! grep -q '^element script ' "$T/$1.check" || fail "$1: a <script> element"
	echo "ok $1: $scenes scene cards, $sheets sheets, 4 charts, $(sed -n 's/^links //p' "$T/$1.check") links"
}

# --- the demo script: --html beside the archive, equal to -t report, byte-identical across runs and directories ---
mkdir -p "$T/a" "$T/b"
(cd "$T/a" && "$SB" -q --html "$TOP/fixtures/demo/harbor.fountain") || fail "build --html harbor"
[ -f "$T/a/harbor.analysis.html" ] || fail "--html wrote no harbor.analysis.html beside the archive"
(cd "$T/b" && TZ=Asia/Tokyo LC_ALL=C.UTF-8 "$SB" -q --cache "$T/cache-b" --html "$TOP/fixtures/demo/harbor.fountain") ||
	fail "second build --html harbor"
cmp "$T/a/harbor.analysis.html" "$T/b/harbor.analysis.html" || fail "two builds gave different reports"
"$SB" -q -t report "$T/a/harbor.analysis.tar.zst" -o "$T/again.html" || fail "-t report harbor"
cmp "$T/a/harbor.analysis.html" "$T/again.html" || fail "-t report differs from --html"
sleep 1
"$SB" -q -t report "$T/b/harbor.analysis.tar.zst" -o "$T/later.html" || fail "-t report harbor, later"
cmp "$T/again.html" "$T/later.html" || fail "the report changed with time or directory"
! grep -q 'url(\|@import\|src=' "$T/again.html" || fail "the page refers to something outside itself"
browse harbor "$T/a/harbor.analysis.html" --text "My father says a harbor is a promise." &
harbor_browser=$!

# --- hostile text: shown as text, no element injected (checked below) -----------------------------------------------
"$SB" -q -o "$T/hostile.analysis.tar.zst" --html "$TOP/fixtures/report/hostile.fountain" || fail "build hostile"
browse hostile "$T/hostile.analysis.html" --text "<script>document.title='PWNED'</script>" \
	--text "</style><img src=x onerror=\"document.title='PWNED'\">" --text 'She said "onload=alert(1)" and meant it.' \
	--text "<svg onload=alert(3)></svg> is just text here." --text "INT. <B>MARKUP</B> ROOM - NIGHT" &
hostile_browser=$!

# --- -t similar: K lines, best first, never the scene itself; refusals ------------------------------------------------
"$SB" -t similar "$T/a/harbor.analysis.tar.zst" 4 -n 3 >"$T/similar" || fail "-t similar"
[ "$(wc -l <"$T/similar")" -eq 3 ] || fail "-t similar -n 3 printed $(wc -l <"$T/similar") lines"
! cut -f1 "$T/similar" | grep -qx 4 || fail "-t similar lists the scene itself"
sort -t"$(printf '\t')" -k2,2gr "$T/similar" | cmp -s - "$T/similar" || fail "-t similar is not best first"
first=$(head -1 "$T/similar" | cut -f1)
grep -A200 'id="scene-4"' "$T/a/harbor.analysis.html" | grep -m1 'Most similar' | grep -q "href=\"#scene-$first\"" ||
	fail "the card of scene 4 does not lead with scene $first"
"$SB" -t similar "$T/a/harbor.analysis.tar.zst" 99 >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -q 'no scene 99' "$T/err" || fail "-t similar on a missing scene"

# --- a partial archive shows what is missing -------------------------------------------------------------------------
"$TOOLS/tool_mkarchive" "$T/partial.analysis.tar.zst" keeper partial || fail "tool_mkarchive partial"
"$SB" -q -t report "$T/partial.analysis.tar.zst" || fail "-t report on a partial archive"
"$DC" "$T/partial.analysis.html" --text "This scene's summary is missing" --text "This character's sheet is missing" \
	--text "The outline is missing" --text "this scene's embedding is missing" \
	--text "Missing: summary 2, outline, sheet MARGIT, embedding 3." >"$T/partial.check"
for want in "text 1 This scene's summary is missing" "text 1 This character's sheet is missing" \
	"text 1 The outline is missing" "text 1 this scene's embedding is missing" \
	"text 1 Missing: summary 2, outline, sheet MARGIT, embedding 3." "class scene-card 3" "class sheet 2"; do
	has partial "$want"
done
"$SB" -t similar "$T/partial.analysis.tar.zst" 3 >/dev/null 2>&1
[ $? -eq 1 ] || fail "-t similar on a scene without an embedding should exit 1"
"$SB" -t report "$T/nothing.analysis.tar.zst" 2>"$T/err"
[ $? -eq 1 ] && grep -q 'nothing.analysis.tar.zst' "$T/err" || fail "-t report on a missing archive"

# --- Big Fish (builtin provider) -----------------------------------------------------------------------------------
# The corpus sits beside the checkout (../shared), or beside the worktrees' folder when this is a git worktree.
BIGFISH="$TOP/../shared/corpus/Big-Fish.fountain"
[ -f "$BIGFISH" ] || BIGFISH="$TOP/../../shared/corpus/Big-Fish.fountain"
if [ -f "$BIGFISH" ]; then
	(cd "$T" && "$SB" -q "$BIGFISH") || fail "build Big Fish"
	t0=$(date +%s%N)
	"$SB" -q -t report "$T/Big-Fish.analysis.tar.zst" || fail "-t report Big Fish"
	t1=$(date +%s%N)
	echo "Big Fish report: $(((t1 - t0) / 1000000)) ms (this build: $(basename "$(dirname "$SB")"))"
	browse bigfish "$T/Big-Fish.analysis.html" &
	bigfish_browser=$!
else
	echo "note: $BIGFISH is absent: the Big Fish part is skipped"
fi

# --- what the browsers saw ---------------------------------------------------------------------------------------
wait "$harbor_browser" || fail "the browser on the demo page"
check_page harbor "$T/a/harbor.analysis.tar.zst"
grep -q '^text [1-9][0-9]* My father says a harbor is a promise.' "$T/harbor.check" || fail "harbor: a key line is not shown"
wait "$hostile_browser" || fail "the browser on the hostile page"
check_page hostile "$T/hostile.analysis.tar.zst"
for tag in img b i iframe textarea; do
	! grep -q "^element $tag " "$T/hostile.check" || fail "hostile: a <$tag> element was injected"
done
has hostile "title <script>document.title='PWNED'</script> Night — script analysis"
has hostile "svg scene-map"
has hostile "element svg 4"
for s in "<script>document.title='PWNED'</script>" "</style><img src=x onerror=\"document.title='PWNED'\">" \
	'She said "onload=alert(1)" and meant it.' "<svg onload=alert(3)></svg> is just text here." \
	"INT. <B>MARKUP</B> ROOM - NIGHT"; do
	grep -F -- " $s" "$T/hostile.check" | grep -q '^text [1-9]' ||
		fail "hostile: the page does not show '$s' as text"
done

if [ -n "${bigfish_browser:-}" ]; then
	wait "$bigfish_browser" || fail "the browser on the Big Fish page"
	check_page bigfish "$T/Big-Fish.analysis.tar.zst"
fi
echo "t_report: ok"
