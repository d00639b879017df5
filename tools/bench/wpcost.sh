#!/bin/bash
# wpcost.sh - what `make wp-cost` runs: a page's first write through a
# shared file mapping under the kernel and under pageshim, and the two ways
# userfaultfd can track it (build/wpcost: synchronous write-protect faults,
# pageshim's, against UFFD_FEATURE_WP_ASYNC with PAGEMAP_SCAN), in rounds
# one after another; prints the median nanoseconds per page of each measure.
#
# Environment: WPCOST_PAGES (16384, 64 MiB), WPCOST_ROUNDS (5). About
# 30 seconds with the defaults.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
pages=${WPCOST_PAGES:-16384}
rounds=${WPCOST_ROUNDS:-5}
work=$root/build/wpcost.d

die() { echo "wp-cost: $*" >&2; exit 1; }
for v in "$pages" "$rounds"; do
	case $v in ''|*[!0-9]*|0) die "WPCOST_* settings are positive integers (got \"$v\")" ;; esac
done
[ -x "$root/build/wpcost" ] && [ -x "$root/build/pageshim" ] || die "run make first"
mkdir -p "$work" || die "cannot create $work"
out=$work/rounds.txt
: >"$out"
export WPCOST_DIR=$work
for ((r = 1; r <= rounds; r++)); do
	"$root/build/wpcost" file "$pages" | sed 's/^file:/kernel:/' >>"$out" || die "the kernel's run failed"
	"$root/build/pageshim" run --cache $((pages * 8))K --min-size 0 -- \
		"$root/build/wpcost" file "$pages" | sed 's/^file:/pageshim:/' >>"$out" ||
		die "the run under pageshim failed"
	"$root/build/wpcost" uffd "$pages" >>"$out"
	rc=$?
	[ $rc = 77 ] && { grep -m1 SKIP "$out"; break; }
	[ $rc = 0 ] || die "the userfaultfd run failed (exit $rc)"
done
echo "ns per page, median of $rounds rounds, $pages pages ($(uname -r)):"
grep -v SKIP "$out" | python3 -c '
import sys, statistics
rows = {}
for line in sys.stdin:
    name, ns = line.rsplit(None, 1)
    rows.setdefault(name, []).append(float(ns))
for name, v in rows.items():
    print("  %-28s %10.0f" % (name, statistics.median(v)))
'
