#!/bin/bash
# demo.sh - what `make demo` runs: one workload, two ways, same memory.
#
# A file larger than the budget is read at random (4 KiB reads, no madvise,
# as most programs do) by `pageshim bench`: (A) through the kernel's mmap,
# (B) under `pageshim run --cache BUDGET`. Each run gets its own memory
# cgroup limited to BUDGET + RESERVE (RESERVE is for the process itself:
# binary, stacks, histograms, the shim's tables) and a cold page cache.
# The two results are printed side by side with the B/A ratio.
#
# Environment: DEMO_FILE_MB (256), DEMO_BUDGET_MB (64), DEMO_RESERVE_MB (32),
# DEMO_SECONDS (10), DEMO_THREADS (2); PAGESHIM_* reach the library as usual.
# Without root or a memory cgroup the runs are unlimited (and it says so).
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
cg_kind=none            # v1, v2 or none
cg_parent=              # where the per-run cgroups are made
cg_why=                 # why there is no limit, when cg_kind=none
cg_made=                # the cgroup of the run in progress

die() { echo "demo: $*" >&2; exit 1; }

check_settings() {
	local v
	for v in "$file_mb" "$budget_mb" "$reserve_mb" "$seconds" "$threads"; do
		case $v in ''|*[!0-9]*|0) die "DEMO_* settings are positive integers (got \"$v\")" ;; esac
	done
	[ -x "$pageshim" ] || die "$pageshim is missing: run make first"
	(( budget_mb < file_mb )) || echo "demo: note: the ${file_mb} MiB file fits in the ${budget_mb} MiB budget"
}

# Pick the cgroup version and the parent of the per-run cgroups: our own
# cgroup, so the runs stay inside whatever already limits this shell.
find_cgroups() {
	local v1=/sys/fs/cgroup/memory
	if [ "$(id -u)" != 0 ]; then
		cg_why="not root"
	elif [ -e $v1/memory.limit_in_bytes ]; then
		cg_kind=v1
		cg_parent=$v1$(awk -F: '$2 == "memory" { print $3 }' /proc/$$/cgroup)
	elif [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		cg_parent=/sys/fs/cgroup$(awk -F: '$1 == "0" { print $3 }' /proc/$$/cgroup)
		# v2 gives children a memory controller only when the parent enables it.
		if grep -qw memory "$cg_parent/cgroup.subtree_control" 2>/dev/null ||
		   echo +memory 2>/dev/null >"$cg_parent/cgroup.subtree_control"; then
			cg_kind=v2
		else
			cg_why="cgroup v2: cannot enable the memory controller under $cg_parent"
		fi
	else
		cg_why="no memory cgroup at /sys/fs/cgroup"
	fi
}

# Make the cgroup for run $1 with the limit (swap cannot extend it);
# sets cg_made.
cg_create() {
	[ $cg_kind = none ] && return 0
	cg_made=$cg_parent/pageshim-demo-$$-$1
	mkdir "$cg_made" || die "cannot create $cg_made"
	if [ $cg_kind = v1 ]; then
		echo $limit >"$cg_made/memory.limit_in_bytes" || die "cannot limit $cg_made"
		[ -e "$cg_made/memory.memsw.limit_in_bytes" ] &&
			echo $limit >"$cg_made/memory.memsw.limit_in_bytes"
	else
		echo $limit >"$cg_made/memory.max" || die "cannot limit $cg_made"
		[ -e "$cg_made/memory.swap.max" ] && echo 0 >"$cg_made/memory.swap.max"
	fi
	return 0
}

# The cgroup's peak usage in MiB (page cache included), or "-".
cg_peak_mib() {
	local f=$cg_made/memory.max_usage_in_bytes
	[ $cg_kind = v2 ] && f=$cg_made/memory.peak
	[ -n "$cg_made" ] && [ -r "$f" ] && echo $(( $(cat "$f") >> 20 )) || echo -
}

cg_remove() {
	[ -n "$cg_made" ] || return 0
	local _
	for _ in 1 2 3 4 5; do            # the last task may still be exiting
		rmdir "$cg_made" 2>/dev/null && break
		sleep 0.2
	done
	[ -d "$cg_made" ] && echo "demo: could not remove $cg_made" >&2
	cg_made=
}

drop_caches() {
	[ "$(id -u)" = 0 ] || return 0
	sync
	echo 3 2>/dev/null >/proc/sys/vm/drop_caches || echo "demo: could not drop the page cache" >&2
}

# run NAME CMD...: run CMD cold, in its cgroup; its JSON in $dir/NAME.json,
# its cgroup peak in $dir/NAME.cgpeak. Returns CMD's status.
run() {
	local name=$1 rc
	shift
	drop_caches
	cg_create "$name"
	echo "demo: run $name: $*"
	(
		if [ -n "$cg_made" ]; then
			echo $BASHPID >"$cg_made/cgroup.procs" || exit 1
		fi
		exec "$@"
	) >"$dir/$name.json" 2>"$dir/$name.err"
	rc=$?
	cg_peak_mib >"$dir/$name.cgpeak"
	cg_remove
	sed 's/^/    /' "$dir/$name.err" >&2
	(( rc == 137 )) && echo "demo: run $name was killed (SIGKILL: out of memory in its cgroup?)" >&2
	(( rc == 0 )) || echo "demo: run $name failed with status $rc" >&2
	return $rc
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
	row "$1" "$(field "$dir/A.json" "$2")" "$(field "$dir/B.json" "$2")"
}

print_table() {
	echo
	echo "pageshim demo: ${file_mb} MiB file, random 4 KiB reads through mmap (no madvise)," \
	     "$threads threads, ${seconds} s"
	if [ $cg_kind = none ]; then
		echo "memory limit: none ($cg_why); the kernel may cache the whole file"
	else
		echo "memory limit per run: $((limit >> 20)) MiB (budget ${budget_mb} MiB +" \
		     "${reserve_mb} MiB reserve), cgroup $cg_kind; page cache dropped before each run"
	fi
	echo "device read-ahead: $(device_readahead_kb) KiB (what the kernel reads around a mmap fault)"
	echo
	printf "  %-22s %14s %14s %8s\n" "" "A kernel mmap" "B pageshim" "B/A"
	metric "ops/s" ops_per_s
	metric "MB/s" mb_per_s
	metric "p99 latency (us)" p99_us
	metric "peak RSS (MiB)" peak_rss_mib
	metric "major faults" major_faults
	metric "minor faults" minor_faults
	row "cgroup peak (MiB)" "$(cat "$dir/A.cgpeak")" "$(cat "$dir/B.cgpeak")"
	echo
}

# One line on what the numbers mean.
verdict() {
	local a b active
	a=$(field "$dir/A.json" ops_per_s)
	b=$(field "$dir/B.json" ops_per_s)
	active=$(field "$dir/B.json" pageshim_active)
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
	find_cgroups
	trap cg_remove EXIT
	mkdir -p "$dir" || die "cannot create $dir"
	"$pageshim" bench --file "$file" --size "${file_mb}M" --seconds 0 || die "cannot prepare $file"
	local bench=(bench --file "$file" --pattern random --access 4096 --threads "$threads"
		     --seconds "$seconds" --io mmap --advice normal --json)
	local failed=0
	run A "$pageshim" "${bench[@]}" || failed=1
	run B "$pageshim" run --cache "${budget_mb}M" --stats "$dir/B-stats.json" -- \
		"$pageshim" "${bench[@]}" || failed=1
	print_table
	if (( failed )); then
		echo "=> a run failed (see above); no verdict."
		exit 1
	fi
	verdict
	[ -s "$dir/B-stats.json" ] && echo "   (the library's own stats of run B: $dir/B-stats.json)"
	return 0
}

main "$@"
