#!/bin/sh
# t_failalloc.sh - out of memory anywhere in a cold run: with tests/failalloc.so preloaded, allocation number N of a
# cold offline build (the builtin provider on the demo fixture) fails, for a sample of N across the whole run. Each
# run must end in exit 0 with an archive that verifies, or exit 1 or 2 with a message on stderr; never a signal
# (SIGSEGV, SIGABRT) or a hang; and the cache it leaves must pass -t verify, and a normal run on it must write the
# same archive as a cold run (nothing poisoned).
#
#   FAILALLOC_SAMPLES=S   how many N to try, spread evenly over the run's allocations (default 12, make check);
#                         0 tries every N (make soak: thousands of runs)
set -u
: "${TOP:?}"
# The shim needs a build without sanitizers (they replace malloc themselves): build/plain, brought up to date here.
PLAIN="$TOP/build/plain"
if ! make -s -j"$(nproc 2>/dev/null || echo 2)" -C "$TOP" BUILD=build/plain "build/plain/scriptbuild" "build/plain/tests/failalloc.so" >/dev/null; then
	echo "FAIL cannot build $PLAIN"
	exit 1
fi
SB="$PLAIN/scriptbuild"
SHIM="$PLAIN/tests/failalloc.so"
T=$(mktemp -d /tmp/t_failalloc.XXXXXX)
trap 'rm -rf "$T"' EXIT
failed=0
cd "$T" || exit 1
cp "$TOP/fixtures/demo/harbor.fountain" play.fountain
unset ANTHROPIC_API_KEY OPENAI_API_KEY
export SOURCE_DATE_EPOCH=1700000000

"$SB" -q --cache "$T/ref" play.fountain -o ref.tar.zst || { echo "FAIL the reference build"; exit 1; }
FAILALLOC_COUNT="$T/count" LD_PRELOAD="$SHIM" "$SB" -q --cache "$T/counted" play.fountain -o counted.tar.zst
total=$(cat "$T/count" 2>/dev/null || echo 0)
if [ "${total:-0}" -lt 100 ]; then
	echo "FAIL the shim counted $total allocations in a cold run (is $SHIM preloaded?)"
	exit 1
fi
samples=${FAILALLOC_SAMPLES:-12}
[ "$samples" -gt 0 ] || samples=$total
echo "a cold run makes $total allocations; failing one of $samples of them in turn"

tried=0 clean_fail=0 succeeded=0
k=0
while [ $k -lt "$samples" ]; do
	n=$((1 + k * total / samples))
	k=$((k + 1))
	rm -rf "$T/c" out.tar.zst
	FAILALLOC_NTH=$n LD_PRELOAD="$SHIM" timeout 120 "$SB" -q --cache "$T/c" play.fountain -o out.tar.zst \
		>"$T/out" 2>"$T/err"
	rc=$?
	tried=$((tried + 1))
	bad=""
	case $rc in
	0)
		if "$SB" -q -t verify-archive out.tar.zst >/dev/null 2>&1; then
			succeeded=$((succeeded + 1))
		else
			bad="exit 0 but the archive does not verify"
		fi
		;;
	1 | 2)
		if [ -s "$T/err" ]; then clean_fail=$((clean_fail + 1)); else bad="exit $rc without a message"; fi
		;;
	124) bad="hung (killed after 120 s)" ;;
	*) bad="exit $rc (a signal or a crash)" ;;
	esac
	# Whatever happened, the cache must be sound and must give the cold run's archive.
	if [ -z "$bad" ] && [ -d "$T/c" ]; then
		if ! "$SB" -q -t verify --cache "$T/c" >"$T/vout" 2>&1; then
			bad="the cache it left fails -t verify: $(head -3 "$T/vout")"
		elif ! "$SB" -q --cache "$T/c" play.fountain -o again.tar.zst >"$T/vout" 2>&1; then
			bad="a normal run on the cache it left failed: $(head -3 "$T/vout")"
		elif ! cmp -s again.tar.zst ref.tar.zst; then
			bad="a normal run on the cache it left wrote another archive than a cold run"
		fi
	fi
	if [ -n "$bad" ]; then
		failed=1
		echo "FAIL allocation $n of $total: $bad"
		sed 's/^/    /' "$T/err" | head -30
	fi
done
echo "$tried runs with one allocation failing: $succeeded succeeded anyway, $clean_fail ended with a message, $((tried - succeeded - clean_fail)) did not"
[ $failed = 0 ] && echo "all ok"
exit $failed
