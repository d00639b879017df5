#!/usr/bin/env bash
# ab.sh - `pageshim ab` end to end, and `pageshim bench`'s zipf and
# scan+hot patterns.
#
# bench: zipf:0.99 and scan+hot run under the kernel and under pageshim
# (a cache smaller than the file, so pages are evicted and read again),
# verify every read, report their fields (hot readers' and scanner's
# ops/s, the per-second series, also as CSV, the hot hit ratio); a
# corrupted word is caught by the scanner and by O_DIRECT reads 8 in flight
# (--depth); --depth without pread-direct is refused. (--read-ratio:
# bench_write.sh.)
# ab (root only, else that part is skipped): 2 runs per side on a small
# file; medians, B's fault latency, the JSON; refusals for a missing
# command, a failing one (its stderr shown) and a non-root caller.
. "$(dirname "$0")/common.bash"
need_lib
P=$B/pageshim
[ -x "$P" ] || fail "$P not built"
f=$DIR/data.bin
"$P" bench --file "$f" --size 64M --seconds 0 2>/dev/null || fail "cannot create $f"

# ---- bench: zipf and scan+hot, kernel and pageshim ----
for mode in kern shim; do
	$mode env PAGESHIM_CACHE_SIZE=16M "$P" bench --file "$f" --pattern zipf:0.99 --threads 2 \
		--seconds 2 --json --series "$DIR/zipf-$mode.csv" >"$DIR/zipf-$mode.json" 2>"$DIR/zipf-$mode.err" ||
		fail "zipf under $mode: $(cat "$DIR/zipf-$mode.err")"
	[ "$(json_get "$DIR/zipf-$mode.json" 'j["pattern"]')" = zipf:0.99 ] || fail "zipf: pattern not reported"
	[ "$(json_get "$DIR/zipf-$mode.json" 'j["ops"] > 0 and len(j["series_ops"]) == 2')" = True ] ||
		fail "zipf under $mode: no ops or not 2 seconds of series"
	[ "$(head -n1 "$DIR/zipf-$mode.csv")" = second,ops ] && [ "$(grep -c '' "$DIR/zipf-$mode.csv")" = 3 ] ||
		fail "zipf under $mode: --series CSV is not \"second,ops\" + 2 rows: $(cat "$DIR/zipf-$mode.csv")"
	$mode env PAGESHIM_CACHE_SIZE=16M "$P" bench --file "$f" --pattern scan+hot --hot 4M --threads 3 \
		--seconds 2 --json >"$DIR/sh-$mode.json" 2>"$DIR/sh-$mode.err" ||
		fail "scan+hot under $mode: $(cat "$DIR/sh-$mode.err")"
	[ "$(json_get "$DIR/sh-$mode.json" 'j["hot_ops_per_s"] > 0 and j["scan_ops_per_s"] > 0 and j["hot_bytes"] == 4 << 20')" = True ] ||
		fail "scan+hot under $mode: hot readers' and scanner's ops/s not both reported: $(cat "$DIR/sh-$mode.json")"
	# the hot set (4M) fits the 16M cache: most hot reads come from memory
	[ "$(json_get "$DIR/sh-$mode.json" '0.5 < j["hot_hit_ratio"] <= 1 and j["hot_p999_us"] >= j["hot_p99_us"]')" = True ] ||
		fail "scan+hot under $mode: expected a hot hit ratio over 0.5 and p99.9 >= p99: $(cat "$DIR/sh-$mode.json")"
	note "$mode: zipf $(json_get "$DIR/zipf-$mode.json" 'j["ops_per_s"]') ops/s; scan+hot hot" \
	     "$(json_get "$DIR/sh-$mode.json" 'j["hot_ops_per_s"]'), scanner $(json_get "$DIR/sh-$mode.json" 'j["scan_ops_per_s"]') ops/s"
done
[ "$(json_get "$DIR/zipf-shim.json" 'j["pageshim_evicted_pages"] > 0')" = True ] ||
	fail "zipf under pageshim: expected evictions with a 16M cache over a 64M file"

# a wrong word near the end: the scanner reaches it
cp "$f" "$DIR/bad.bin"
printf 'XXXXXXXX' | dd of="$DIR/bad.bin" bs=1 seek=$(( (64 << 20) - 4096 )) conv=notrunc status=none
"$P" bench --file "$DIR/bad.bin" --pattern scan+hot --threads 2 --seconds 5 >/dev/null 2>"$DIR/bad.err"
rc=$?
[ $rc = 1 ] && grep -q "verification failed.*offset $(( (64 << 20) - 4096 ))" "$DIR/bad.err" ||
	fail "a corrupted word: expected exit 1 and its offset, got $rc: $(cat "$DIR/bad.err")"
"$P" bench --file "$DIR/bad.bin" --io pread-direct --pattern seq --access 1M --depth 8 --seconds 5 \
	>/dev/null 2>"$DIR/bad8.err"
rc=$?
[ $rc = 1 ] && grep -q "verification failed.*offset $(( (64 << 20) - 4096 ))" "$DIR/bad8.err" ||
	fail "a corrupted word, 8 reads in flight: expected exit 1 and its offset, got $rc: $(cat "$DIR/bad8.err")"
"$P" bench --file "$f" --io pread-direct --pattern seq --access 1M --depth 8 --seconds 1 --json \
	>"$DIR/d8.json" 2>"$DIR/d8.err" || fail "--depth 8: $(cat "$DIR/d8.err")"
[ "$(json_get "$DIR/d8.json" 'j["depth"] == 8 and j["ops"] > 0')" = True ] ||
	fail "--depth 8: expected depth 8 and some ops reported: $(cat "$DIR/d8.json")"
"$P" bench --file "$f" --io mmap --depth 8 >/dev/null 2>"$DIR/dm.err"
rc=$?
[ $rc = 2 ] && grep -q "depth 8 needs --io pread-direct" "$DIR/dm.err" ||
	fail "--depth 8 with mmap: expected exit 2 and a reason, got $rc: $(cat "$DIR/dm.err")"
note "bench: a corrupted word found with 1 and 8 reads in flight; --depth with mmap refused"

# ---- ab ----
[ "$(id -u)" = 0 ] || skip "pageshim ab needs root (bench checks passed)"
bench=("$P" bench --file "$f" --threads 2 --seconds 2 --json)
"$P" ab --memory 48M --reserve 24M --runs 2 --out "$DIR/ab" -- "${bench[@]}" >"$DIR/ab.txt" 2>"$DIR/ab.err" ||
	fail "ab: exit $?: $(tail -n 20 "$DIR/ab.err")"
cat "$DIR/ab.txt"
for row in "wall time" "ops/s" "peak RSS" "major faults" "TLB shootdown IPIs" "pageshim fault p99"; do
	grep -q "^  $row" "$DIR/ab.txt" || fail "ab: no row \"$row\""
done
[ "$(grep -c 'run [AB][12] ' "$DIR/ab.err")" = 4 ] || fail "ab: expected 4 runs: $(cat "$DIR/ab.err")"
[ -s "$DIR/ab/B2.stats.json" ] && [ -s "$DIR/ab/A1.out" ] || fail "ab --out: run files missing"
expect_stats "$DIR/ab/B1.stats.json" "ab run B1"
"$P" ab --memory 48M --reserve 24M --runs 1 --no-drop --json -- "${bench[@]}" >"$DIR/ab.json" 2>/dev/null ||
	fail "ab --json failed"
[ "$(json_get "$DIR/ab.json" 'j["A"]["ops_per_s"] > 0 and j["B"]["fault_p99_us"] is not None and j["A"]["fault_p99_us"] is None and len(j["B_runs"]) == 1 and j["ratio"]["ops_per_s"] > 0')" = True ] ||
	fail "ab --json: unexpected content: $(cat "$DIR/ab.json")"

# refusals
"$P" ab --runs 1 -- no-such-command-here >/dev/null 2>"$DIR/nf.err"
rc=$?
[ $rc = 127 ] && grep -q "no-such-command-here: command not found" "$DIR/nf.err" ||
	fail "ab, CMD not found: expected 127 and a message, got $rc: $(cat "$DIR/nf.err")"
"$P" ab --memory 48M --runs 2 --no-drop -- sh -c 'echo boom-on-stderr >&2; exit 3' >/dev/null 2>"$DIR/fail.err"
rc=$?
[ $rc = 3 ] && grep -q "failed under kernel mmap" "$DIR/fail.err" && grep -q boom-on-stderr "$DIR/fail.err" ||
	fail "ab, failing CMD: expected 3 and its stderr, got $rc: $(cat "$DIR/fail.err")"
if command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$P" ab -- true >/dev/null 2>"$DIR/nr.err"
	rc=$?
	[ $rc = 2 ] && grep -q "needs root" "$DIR/nr.err" ||
		fail "ab as non-root: expected 2 and \"needs root\", got $rc: $(cat "$DIR/nr.err")"
fi
note "ab: 2 runs per side, JSON, and the refusals (not found, failing CMD, not root)"
