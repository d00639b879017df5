#!/usr/bin/env bash
# wpcost.sh - build/wpcost (make wp-cost) measures what README says of
# write tracking; this checks what it measures. Through a shared mapping
# under pageshim, each page's first write and its first write after msync
# mark it written once (pages_dirtied twice the pages, all written back),
# and the second write does not; under the kernel the same run completes.
# With UFFD_FEATURE_WP_ASYNC (Linux 6.7), PAGEMAP_SCAN finds exactly the
# pages written since the last scan (wpcost checks it and exits 1 if not).
. "$(dirname "$0")/common.bash"
need_lib
W=$B/wpcost
[ -x "$W" ] || fail "$W not built"
pages=256
export WPCOST_DIR=$DIR
kern "$W" file $pages >"$DIR/kern.out" 2>&1 || fail "wpcost file under the kernel: $(cat "$DIR/kern.out")"
run_side pageshim shim "$DIR/shim.out" "$W" file $pages ||
	fail "wpcost file under pageshim: $(cat "$DIR/shim.out" "$DIR/shim.err")"
set -- "$DIR"/shim.stats.*.json
s=$1
expect_stats "$s" "wpcost file"
dirtied=$(json_num "$s" pages_dirtied) || exit 1
back=$(json_num "$s" pages_written_back) || exit 1
[ "$dirtied" = $((2 * pages)) ] && [ "$back" = "$dirtied" ] ||
	fail "expected $((2 * pages)) pages dirtied (first write, write after msync) and as many written back, got $dirtied and $back"
grep -q '^file: first write ' "$DIR/shim.out" || fail "no first-write line: $(cat "$DIR/shim.out")"
"$W" uffd $pages >"$DIR/uffd.out" 2>&1
rc=$?
[ $rc = 77 ] && skip "$(grep -m1 SKIP "$DIR/uffd.out" | sed 's/^SKIP: *//') (the file mapping checks passed)"
[ $rc = 0 ] || fail "wpcost uffd (exit $rc): $(cat "$DIR/uffd.out")"
note "pages_dirtied $dirtied of $pages pages written twice around an msync; PAGEMAP_SCAN found exactly the written pages"
