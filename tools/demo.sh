#!/bin/bash
# demo.sh - what `make demo` runs: one workload, two ways, same memory.
#
# A file larger than the budget is read at random (4 KiB reads, no madvise,
# as most programs do) by `pageshim bench`: (A) through the kernel's mmap,
# (B) under `pageshim run --cache BUDGET`. Each run gets its own memory
# cgroup limited to BUDGET + RESERVE (RESERVE is for the process itself:
# binary, stacks, histograms, the shim's tables) and a cold page cache:
# `pageshim ab --runs 1` does the runs and prints the table with B/A; the
# bench's own latency and MB/s follow from the runs' JSON.
#
# Environment: DEMO_FILE_MB (256), DEMO_BUDGET_MB (64), DEMO_RESERVE_MB (32),
# DEMO_SECONDS (10), DEMO_THREADS (2); PAGESHIM_* reach the library as usual.
# Needs root (pageshim ab makes the cgroups and says so otherwise).
# Exit status: 0 when both runs finished and verified every read, else 1.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
pageshim=$root/build/pageshim
dir=$root/build/demo
file_mb=${DEMO_FILE_MB:-256}
budget_mb=${DEMO_BUDGET_MB:-64}
reserve_mb=${DEMO_RESERVE_MB:-32}
seconds=${DEMO_SECONDS:-10}
threads=${DEMO_THREADS:-2}
file=$dir/data-${file_mb}M.bin
limit=$(( (budget_mb + reserve_mb) << 20 ))

die() { echo "demo: $*" >&2; exit 1; }

check_settings() {
	local v
	for v in "$file_mb" "$budget_mb" "$reserve_mb" "$seconds" "$threads"; do
		case $v in ''|*[!0-9]*|0) die "DEMO_* settings are positive integers (got \"$v\")" ;; esac
	done
	[ -x "$pageshim" ] || die "$pageshim is missing: run make first"
	(( budget_mb < file_mb )) || echo "demo: note: the ${file_mb} MiB file fits in the ${budget_mb} MiB budget"
}

# field FILE KEY: KEY's value in the JSON object on FILE's first line, or "-".
field() {
	local v
	v=$(head -n1 "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p")
	echo "${v:--}"
}

# row LABEL A B: one line of the table, with B/A.
row() {
	awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN {
		r = (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && a > 0) ? sprintf("%.2f", b / a) : "-"
		printf "  %-22s %14s %14s %8s\n", l, a, b, r }'
}

# The read-ahead of the file's block device in KiB (the kernel's mmap
# read-around per major fault), or "?".
device_readahead_kb() {
	local dev q
	dev=$(stat -c '%Hd:%Ld' "$file")
	for q in /sys/dev/block/$dev/queue /sys/dev/block/$dev/../queue; do
		[ -r "$q/read_ahead_kb" ] && { cat "$q/read_ahead_kb"; return; }
	done
	echo "?"
}

# metric LABEL KEY: the row of KEY from both runs' JSON.
metric() {
	row "$1" "$(field "$dir/A1.out" "$2")" "$(field "$dir/B1.out" "$2")"
}

print_header() {
	echo "pageshim demo: ${file_mb} MiB file, random 4 KiB reads through mmap (no madvise)," \
	     "$threads threads, ${seconds} s"
	echo "memory limit per run: $((limit >> 20)) MiB (budget ${budget_mb} MiB +" \
	     "${reserve_mb} MiB reserve); page cache dropped before each run"
	echo "device read-ahead: $(device_readahead_kb) KiB (what the kernel reads around a mmap fault)"
}

# What pageshim ab does not know: the bench's own latency and MB/s.
print_bench_rows() {
	echo "  as the bench measured them:"
	printf "  %-22s %14s %14s %8s\n" "" "A kernel mmap" "B pageshim" "B/A"
	metric "MB/s" mb_per_s
	metric "p99 latency (us)" p99_us
	metric "p99.9 latency (us)" p999_us
	echo
}

# One line on what the numbers mean.
verdict() {
	local a b active
	a=$(field "$dir/A1.out" ops_per_s)
	b=$(field "$dir/B1.out" ops_per_s)
	active=$(field "$dir/B1.out" pageshim_active)
	if [ "$active" != 1 ]; then
		[ "$active" = - ] && active="the library was not loaded" || active="the library was inactive"
		echo "=> pageshim did not serve run B's mapping ($active); B measured the kernel" \
		     "again, so the ratio says nothing about pageshim."
		return
	fi
	awk -v a="$a" -v b="$b" -v lim="$((limit >> 20)) MiB" 'BEGIN {
		r = a > 0 ? b / a : 0
		if (r >= 1.1)      s = sprintf("pageshim served %.2fx the kernel\047s reads per second", r)
		else if (r <= 0.9) s = sprintf("pageshim was slower: %.2fx the kernel\047s reads per second", r)
		else               s = sprintf("pageshim and the kernel served about the same reads per second (%.2fx)", r)
		print "=> " s " under the same " lim " limit; every read was verified in both runs." }'
}

main() {
	check_settings
	mkdir -p "$dir" || die "cannot create $dir"
	"$pageshim" bench --file "$file" --size "${file_mb}M" --seconds 0 || die "cannot prepare $file"
	print_header
	"$pageshim" ab --runs 1 --memory "$limit" --reserve "${reserve_mb}M" --out "$dir" -- \
		"$pageshim" bench --file "$file" --pattern random --access 4096 --threads "$threads" \
		--seconds "$seconds" --io mmap --advice normal --json ||
		{ echo "=> a run failed (see above); no verdict."; exit 1; }
	print_bench_rows
	verdict
	[ -s "$dir/B1.stats.json" ] && echo "   (the library's own stats of run B: $dir/B1.stats.json)"
	return 0
}

main "$@"
